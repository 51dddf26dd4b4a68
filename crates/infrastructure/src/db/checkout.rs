//! What pricing a cart looks up, in SQL for both backends: a promotion by its code in any
//! case, the active shipping options of a country, the tax rates of a country, and a
//! customer's uses of a code.

use application::checkout::CheckoutCatalog;
use async_trait::async_trait;
use domain::{
    CountryCode, PromotionCode, PromotionRecord, RepositoryError, ShippingOptionRecord,
    TaxRateRecord, UserId,
};

use super::promotions::PromotionRow;
use super::shipping_options::OptionRow;
use super::tax_rates::RateRow;
use super::{Database, map_err, on_db};

/// The lookups of checkout pricing in SQL.
pub struct SqlCheckoutCatalog {
    db: Database,
}

impl SqlCheckoutCatalog {
    /// Lookups in `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl CheckoutCatalog for SqlCheckoutCatalog {
    #[tracing::instrument(name = "db.checkout.promotion_by_code", skip_all)]
    async fn promotion_by_code(
        &self,
        code: &PromotionCode,
    ) -> Result<Option<PromotionRecord>, RepositoryError> {
        // `upper(code)` is what the unique index of 0009 holds, so this is one index probe.
        let row: Option<PromotionRow> = on_db!(&self.db, read, pool => {
            sqlx::query_as(
                "SELECT id, code, kind, percent, amount_minor, currency, min_subtotal_minor, \
                 min_subtotal_currency, starts_at, ends_at, usage_limit, per_customer_limit, \
                 active, times_used, created_at, updated_at FROM promotions WHERE upper(code) = $1",
            )
            .bind(code.key())
            .fetch_optional(pool)
            .await
        })
        .map_err(map_err)?;
        row.map(PromotionRecord::try_from).transpose()
    }

    #[tracing::instrument(name = "db.checkout.shipping_options_for", skip_all)]
    async fn shipping_options_for(
        &self,
        country: CountryCode,
    ) -> Result<Vec<ShippingOptionRecord>, RepositoryError> {
        let rows: Vec<OptionRow> = on_db!(&self.db, read, pool => {
            sqlx::query_as(
                "SELECT id, name, countries, price_minor, currency, free_over_minor, active, \
                 created_at, updated_at FROM shipping_options \
                 WHERE active AND countries LIKE $1 ORDER BY id",
            )
            .bind(format!("%,{},%", country.as_str()))
            .fetch_all(pool)
            .await
        })
        .map_err(map_err)?;
        rows.into_iter().map(TryFrom::try_from).collect()
    }

    #[tracing::instrument(name = "db.checkout.tax_rates_of", skip_all)]
    async fn tax_rates_of(
        &self,
        country: CountryCode,
    ) -> Result<Vec<TaxRateRecord>, RepositoryError> {
        let rows: Vec<RateRow> = on_db!(&self.db, read, pool => {
            sqlx::query_as(
                "SELECT id, country, state, rate, name, created_at, updated_at FROM tax_rates \
                 WHERE country = $1 ORDER BY id",
            )
            .bind(country.as_str())
            .fetch_all(pool)
            .await
        })
        .map_err(map_err)?;
        rows.into_iter().map(TryFrom::try_from).collect()
    }

    #[tracing::instrument(name = "db.checkout.customer_uses", skip_all)]
    async fn customer_uses(
        &self,
        user: UserId,
        code: &PromotionCode,
    ) -> Result<u32, RepositoryError> {
        let n: i64 = on_db!(&self.db, read, pool => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM orders WHERE user_id = $1 AND upper(discount_code) = $2 \
                 AND status <> 'cancelled'",
            )
            .bind(user.as_uuid())
            .bind(code.key())
            .fetch_one(pool)
            .await
        })
        .map_err(map_err)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}
