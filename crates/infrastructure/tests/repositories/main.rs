//! Repository conformance: the same tests drive each SQL adapter directly, once on SQLite and
//! once on PostgreSQL (`SHOP_TEST_POSTGRES_URL`; each test creates its own database). Without
//! that URL the PostgreSQL half is skipped with a note, and fails under `CI=true`.

#[macro_use]
mod support;

mod admin_sessions;
mod carts;
mod categories;
mod checkout;
mod idempotency;
mod images;
mod jobs;
mod orders;
mod products;
mod read_models;
mod upgrade;
mod users;
mod variants;
