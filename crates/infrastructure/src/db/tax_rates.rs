//! Tax rates in SQL, for both backends: one per country and state (migration 0009).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    CountryCode, Page, PageRequest, Percent, RepositoryError, TaxRate, TaxRateId, TaxRateRecord,
    TaxRateRepository,
};
use uuid::Uuid;

use super::{Database, corrupt, fetch_by_id, fetch_newest_by_id, map_err, on_db, read_rows};

macro_rules! rate_columns {
    () => {
        "id, country, state, rate, name, created_at, updated_at"
    };
}

const RATE_BY_ID: &str = concat!("SELECT ", rate_columns!(), " FROM tax_rates WHERE id = $1");

#[derive(sqlx::FromRow)]
pub(crate) struct RateRow {
    id: Uuid,
    country: String,
    state: Option<String>,
    rate: i64,
    name: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<RateRow> for TaxRateRecord {
    type Error = RepositoryError;

    fn try_from(r: RateRow) -> Result<Self, Self::Error> {
        let country = CountryCode::parse(&r.country).map_err(|e| corrupt("tax country", e))?;
        let percent = u32::try_from(r.rate)
            .ok()
            .and_then(Percent::from_scaled)
            .ok_or_else(|| corrupt("tax rate", r.rate))?;
        let rate = TaxRate::new(country, r.state.as_deref(), percent, &r.name)
            .map_err(|e| corrupt("tax rate", e))?;
        Ok(TaxRateRecord {
            id: TaxRateId::from_uuid(r.id),
            rate,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// The only unique rule of the table is (country, state).
fn place_conflict(e: sqlx::Error) -> RepositoryError {
    match map_err(e) {
        RepositoryError::Conflict(_) => RepositoryError::Conflict("state"),
        other => other,
    }
}

/// Tax rates in SQL.
pub struct SqlTaxRates {
    db: Database,
}

impl SqlTaxRates {
    /// Tax rates in `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl TaxRateRepository for SqlTaxRates {
    #[tracing::instrument(name = "db.tax_rates.insert", skip_all)]
    async fn insert(&self, r: &TaxRateRecord) -> Result<(), RepositoryError> {
        let t = &r.rate;
        let (_, state_key) = t.key();
        on_db!(&self.db, write, pool => {
            sqlx::query("INSERT INTO tax_rates (id, country, state, state_key, rate, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(r.id.as_uuid())
                .bind(t.country().as_str())
                .bind(t.state())
                .bind(state_key.as_deref())
                .bind(i64::from(t.rate().scaled()))
                .bind(t.name())
                .bind(r.created_at)
                .bind(r.updated_at)
                .execute(pool)
                .await
                .map(|_| ())
        })
        .map_err(place_conflict)
    }

    #[tracing::instrument(name = "db.tax_rates.get", skip_all)]
    async fn get(&self, id: TaxRateId) -> Result<Option<TaxRateRecord>, RepositoryError> {
        fetch_by_id::<RateRow, _>(&self.db, RATE_BY_ID, id.as_uuid()).await
    }

    #[tracing::instrument(name = "db.tax_rates.list", skip_all)]
    async fn list(&self, page: PageRequest) -> Result<Page<TaxRateRecord>, RepositoryError> {
        // Newest first by id (UUID v7), the primary key: a cursor page is a range of it.
        let rows = fetch_newest_by_id::<RateRow>(
            &self.db,
            rate_columns!(),
            "tax_rates",
            Vec::new(),
            page,
            |r| r.id,
        )
        .await?;
        read_rows(rows)
    }

    #[tracing::instrument(name = "db.tax_rates.update", skip_all)]
    async fn update(&self, r: &TaxRateRecord) -> Result<bool, RepositoryError> {
        let t = &r.rate;
        let (_, state_key) = t.key();
        on_db!(&self.db, write, pool => {
            sqlx::query("UPDATE tax_rates SET country = $2, state = $3, state_key = $4, rate = $5, name = $6, updated_at = $7 WHERE id = $1")
                .bind(r.id.as_uuid())
                .bind(t.country().as_str())
                .bind(t.state())
                .bind(state_key.as_deref())
                .bind(i64::from(t.rate().scaled()))
                .bind(t.name())
                .bind(r.updated_at)
                .execute(pool)
                .await
                .map(|r| r.rows_affected() == 1)
        })
        .map_err(place_conflict)
    }

    #[tracing::instrument(name = "db.tax_rates.delete", skip_all)]
    async fn delete(&self, id: TaxRateId) -> Result<bool, RepositoryError> {
        on_db!(&self.db, write, pool => {
            sqlx::query("DELETE FROM tax_rates WHERE id = $1")
                .bind(id.as_uuid())
                .execute(pool)
                .await
                .map(|r| r.rows_affected() == 1)
        })
        .map_err(map_err)
    }
}
