//! Use cases of `shop`: commands that change state, queries that read it, and the ports
//! (identity provider, clock, read models) the adapters implement.
//! Authorization is decided here, in each use case, not in the HTTP layer.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod actor;
pub mod catalog;
pub mod error;
pub mod ordering;
pub mod ports;

pub use actor::Actor;
pub use error::AppError;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
