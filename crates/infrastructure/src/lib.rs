//! Adapters of `shop`: one SQL implementation of every repository for SQLite and PostgreSQL,
//! their migrations, and the built-in identity provider.
#![forbid(unsafe_code)]

pub mod db;
pub mod identity;

pub use db::{Database, DatabaseUrl};
