//! Black-box tests of the HTTP API: each test starts the real server on a free port with its
//! own database (SQLite and PostgreSQL alike) and talks to it over HTTP, as a client would.
//! The auth and users tests also run with Keycloak as the identity provider.

#[macro_use]
mod helpers;

mod auth;
mod cluster;
mod errors;
mod images;
mod keycloak;
mod operations;
mod orders;
mod process;
mod products;
mod races;
mod shutdown;
mod users;
