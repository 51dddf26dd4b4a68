//! Handlers, one module per resource. Each extracts, builds a command, calls one use case and
//! maps the result; authorization lives in the use cases.

pub mod auth;
pub mod categories;
pub mod events;
pub mod health;
pub mod images;
pub mod orders;
pub mod products;
pub mod users;
pub mod webhooks;
