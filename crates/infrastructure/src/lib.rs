//! Adapters of `shop`: one SQL implementation of every repository and read model for SQLite
//! and PostgreSQL (with the catalog's search text and its rules), their migrations, the
//! identity providers (the built-in one and Keycloak), and the file stores (a local folder
//! or Google Drive).
#![forbid(unsafe_code)]

pub mod db;
pub mod identity;
pub mod payments;
pub mod rate_limits;
pub mod secret;
pub mod storage;
pub mod tokens;
pub mod webhooks;

pub use db::{Database, DatabaseUrl};
pub use secret::Secret;
pub use storage::{GdriveConfig, OpendalStore};
