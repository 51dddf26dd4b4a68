//! Use cases of `shop`: commands that change state, queries that read it, and the ports
//! (identity provider, clock, read models) the adapters implement.
//! Authorization is decided here, in each use case, not in the HTTP layer.
#![forbid(unsafe_code)]

pub mod actor;
pub mod error;
pub mod images;
pub mod orders;
pub mod ports;
pub mod products;
pub mod users;

pub use actor::Actor;
pub use error::AppError;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
