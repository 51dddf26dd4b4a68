//! Payment providers: Stripe over its HTTPS API (the `manual` provider lives in `application`).

mod stripe;

pub use stripe::{DEFAULT_API_BASE, StripeConfig, StripePayments, StripeWebhooks};
