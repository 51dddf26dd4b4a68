//! Checkout: what prices a cart. Admins keep the promotions (discount codes) it applies, the
//! shipping options it offers and the tax rates it charges; carts and checkout itself build
//! on them.

mod carts;
mod promotions;
mod shipping_options;
pub(crate) mod tax_rates;

pub use carts::{
    AppliedDiscount, AppliedShipping, CartCaller, CartLineView, CartView, Carts, CheckedOut,
    CheckoutCatalog, CreateCartCommand, DEFAULT_CURRENCY, ExpireCarts, OfferedShipping, TokenMaker,
    UpdateCartCommand,
};
pub use promotions::{CreatePromotionCommand, Promotions, UpdatePromotionCommand};
pub use shipping_options::{
    CreateShippingOptionCommand, ShippingOptions, UpdateShippingOptionCommand,
};
pub use tax_rates::{CreateTaxRateCommand, TaxRates, UpdateTaxRateCommand};

use chrono::{DateTime, SubsecRound, Utc};
use domain::{FieldError, Validator};

/// An RFC 3339 timestamp, in UTC, to the microsecond both databases keep (so the moment
/// answered is the moment stored).
fn parse_time(v: &mut Validator, field: &str, raw: &str) -> Option<DateTime<Utc>> {
    match DateTime::parse_from_rfc3339(raw) {
        Ok(t) => Some(t.with_timezone(&Utc).trunc_subsecs(6)),
        Err(_) => {
            v.push(FieldError::new(
                field,
                "must be an RFC 3339 timestamp, such as 2026-06-01T00:00:00Z",
            ));
            None
        }
    }
}
