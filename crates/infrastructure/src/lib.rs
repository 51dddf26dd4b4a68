//! Adapters of `shop`: one SQL implementation of every repository for SQLite and PostgreSQL,
//! their migrations, the built-in identity provider, and the file stores (a local folder or
//! Google Drive).
#![forbid(unsafe_code)]

pub mod db;
pub mod identity;
pub mod secret;
pub mod storage;

pub use db::{Database, DatabaseUrl};
pub use secret::Secret;
pub use storage::{GdriveConfig, OpendalStore};
