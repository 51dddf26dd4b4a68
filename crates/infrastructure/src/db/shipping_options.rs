//! Shipping options in SQL, for both backends (migration 0009).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    CountryCode, Currency, Money, Page, PageRequest, RepositoryError, ShippingOption,
    ShippingOptionId, ShippingOptionName, ShippingOptionRecord, ShippingOptionRepository,
    ShippingPrice,
};
use uuid::Uuid;

use super::{Database, corrupt, fetch_by_id, fetch_newest_by_id, map_err, on_db, read_rows};

macro_rules! option_columns {
    () => {
        "id, name, countries, price_minor, currency, free_over_minor, active, created_at, updated_at"
    };
}

const OPTION_BY_ID: &str = concat!(
    "SELECT ",
    option_columns!(),
    " FROM shipping_options WHERE id = $1"
);

/// The countries as stored: `,DE,AT,`, so one LIKE finds the options of a country.
fn countries_to_text(countries: &[CountryCode]) -> String {
    let codes: Vec<&str> = countries.iter().map(CountryCode::as_str).collect();
    format!(",{},", codes.join(","))
}

fn countries_from_text(text: &str) -> Result<Vec<CountryCode>, RepositoryError> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|c| CountryCode::parse(c).map_err(|e| corrupt("shipping countries", e)))
        .collect()
}

#[derive(sqlx::FromRow)]
pub(crate) struct OptionRow {
    id: Uuid,
    name: String,
    countries: String,
    price_minor: i64,
    currency: String,
    free_over_minor: Option<i64>,
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<OptionRow> for ShippingOptionRecord {
    type Error = RepositoryError;

    fn try_from(r: OptionRow) -> Result<Self, Self::Error> {
        let currency = Currency::parse(&r.currency).map_err(|e| corrupt("currency", e))?;
        let money = |minor| Money::from_minor(minor, currency).map_err(|e| corrupt("amount", e));
        let price = ShippingPrice::new(
            money(r.price_minor)?,
            r.free_over_minor.map(money).transpose()?,
        )
        .map_err(|e| corrupt("shipping price", e))?;
        let option = ShippingOption::new(
            ShippingOptionName::parse(&r.name).map_err(|e| corrupt("shipping name", e))?,
            countries_from_text(&r.countries)?,
            price,
            r.active,
        )
        .map_err(|e| corrupt("shipping option", e))?;
        Ok(ShippingOptionRecord {
            id: ShippingOptionId::from_uuid(r.id),
            option,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Shipping options in SQL.
pub struct SqlShippingOptions {
    db: Database,
}

impl SqlShippingOptions {
    /// Shipping options in `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl ShippingOptionRepository for SqlShippingOptions {
    #[tracing::instrument(name = "db.shipping_options.insert", skip_all)]
    async fn insert(&self, r: &ShippingOptionRecord) -> Result<(), RepositoryError> {
        let o = &r.option;
        on_db!(&self.db, write, pool => {
            sqlx::query(concat!("INSERT INTO shipping_options (", option_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
                .bind(r.id.as_uuid())
                .bind(o.name().as_str())
                .bind(countries_to_text(o.countries()))
                .bind(o.price().price().minor())
                .bind(o.price().price().currency().code())
                .bind(o.price().free_over().map(|m| m.minor()))
                .bind(o.active())
                .bind(r.created_at)
                .bind(r.updated_at)
                .execute(pool)
                .await
                .map(|_| ())
        })
        .map_err(map_err)
    }

    #[tracing::instrument(name = "db.shipping_options.get", skip_all)]
    async fn get(
        &self,
        id: ShippingOptionId,
    ) -> Result<Option<ShippingOptionRecord>, RepositoryError> {
        fetch_by_id::<OptionRow, _>(&self.db, OPTION_BY_ID, id.as_uuid()).await
    }

    #[tracing::instrument(name = "db.shipping_options.list", skip_all)]
    async fn list(&self, page: PageRequest) -> Result<Page<ShippingOptionRecord>, RepositoryError> {
        // Newest first by id (UUID v7), the primary key: a cursor page is a range of it.
        let rows = fetch_newest_by_id::<OptionRow>(
            &self.db,
            option_columns!(),
            "shipping_options",
            Vec::new(),
            page,
            |r| r.id,
        )
        .await?;
        read_rows(rows)
    }

    #[tracing::instrument(name = "db.shipping_options.update", skip_all)]
    async fn update(&self, r: &ShippingOptionRecord) -> Result<bool, RepositoryError> {
        let o = &r.option;
        on_db!(&self.db, write, pool => {
            sqlx::query("UPDATE shipping_options SET name = $2, countries = $3, price_minor = $4, currency = $5, free_over_minor = $6, active = $7, updated_at = $8 WHERE id = $1")
                .bind(r.id.as_uuid())
                .bind(o.name().as_str())
                .bind(countries_to_text(o.countries()))
                .bind(o.price().price().minor())
                .bind(o.price().price().currency().code())
                .bind(o.price().free_over().map(|m| m.minor()))
                .bind(o.active())
                .bind(r.updated_at)
                .execute(pool)
                .await
                .map(|r| r.rows_affected() == 1)
        })
        .map_err(map_err)
    }

    #[tracing::instrument(name = "db.shipping_options.delete", skip_all)]
    async fn delete(&self, id: ShippingOptionId) -> Result<bool, RepositoryError> {
        on_db!(&self.db, write, pool => {
            sqlx::query("DELETE FROM shipping_options WHERE id = $1")
                .bind(id.as_uuid())
                .execute(pool)
                .await
                .map(|r| r.rows_affected() == 1)
        })
        .map_err(map_err)
    }
}
