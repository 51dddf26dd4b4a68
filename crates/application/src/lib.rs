//! Use cases of `shop`, one type per business operation, grouped by area: [`catalog`]
//! (products and their images), [`ordering`] (placing, reading, cancelling orders and their
//! status) and [`accounts`] (sign-up, sign-in, tokens, profiles, the admin's account tools).
//! [`ports`] holds what they need from the outside world (identity provider, file store,
//! clock, metrics, and the read models, such as the catalog's `ProductView`), as traits the
//! adapters implement.
//!
//! A use case is a struct whose `pub` fields are its ports (`Arc<dyn Trait>`): the
//! composition root (the `shop` crate's `Application::build`) builds each by struct literal.
//! Authorization is decided here, in each use case ([`Actor`]), not in the HTTP layer.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod actor;
pub mod catalog;
pub mod checkout;
pub mod delivery;
pub mod error;
pub mod events;
pub mod jobs;
pub mod ordering;
pub mod payments;
pub mod ports;
pub mod webhooks;

pub use actor::Actor;
pub use error::AppError;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
