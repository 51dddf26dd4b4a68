//! Black-box tests of the HTTP API: each test starts the real server on a free port with its
//! own database (SQLite and PostgreSQL alike) and talks to it over HTTP, as a client would.
//! The auth and users tests also run with Keycloak as the identity provider.

#[macro_use]
mod helpers;

mod admin_crud;
mod auth;
mod carts;
mod catalog;
mod catalog_cache;
mod catalog_totals;
mod checkout;
mod cluster;
mod connections;
mod cursors;
mod dashboard;
mod errors;
mod events;
mod headers;
mod images;
mod inputs;
mod jobs;
mod keycloak;
mod limits;
mod matrix;
mod metrics;
mod operations;
mod orders;
mod outage;
mod payments;
mod process;
mod products;
mod products_csv;
mod promotions;
mod races;
mod replica;
mod shipping_options;
mod shutdown;
mod tax_rates;
mod tokens;
mod users;
mod webhooks;
