//! Handlers, one module per resource. Each extracts, builds a command, calls one use case and
//! maps the result; authorization lives in the use cases.

pub mod auth;
pub mod carts;
pub mod categories;
mod crud;
pub mod events;
pub mod health;
pub mod images;
pub mod orders;
pub mod payments;
pub mod products;
pub mod promotions;
pub mod shipping_options;
pub mod tax_rates;
pub mod users;
pub mod variants;
pub mod webhooks;

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

/// A 201 whose `Location` names the resource it made.
pub(crate) fn created<T: serde::Serialize>(location: String, body: T) -> impl IntoResponse {
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
}
