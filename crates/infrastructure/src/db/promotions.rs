//! Promotions in SQL, for both backends: a code unique by its upper case (migration 0009).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    Currency, Discount, Money, Page, PageRequest, Percent, Promotion, PromotionCode, PromotionId,
    PromotionRecord, PromotionRepository, PromotionRules, RepositoryError,
};
use uuid::Uuid;

use super::{Database, corrupt, fetch_by_id, fetch_newest_by_id, map_err, on_db, read_rows};

macro_rules! promotion_columns {
    () => {
        "id, code, kind, percent, amount_minor, currency, min_subtotal_minor, \
         min_subtotal_currency, starts_at, ends_at, usage_limit, per_customer_limit, active, \
         times_used, created_at, updated_at"
    };
}

/// Binds a promotion's fields from `code` to `active`, `$2` to `$13` of both the INSERT and
/// the UPDATE.
macro_rules! bind_fields {
    ($query:expr, $stored:expr, $promotion:expr) => {
        $query
            .bind($stored.code)
            .bind($stored.kind)
            .bind($stored.percent)
            .bind($stored.amount_minor)
            .bind($stored.currency)
            .bind($stored.min_subtotal_minor)
            .bind($stored.min_subtotal_currency)
            .bind($promotion.starts_at())
            .bind($promotion.ends_at())
            .bind($stored.usage_limit)
            .bind($stored.per_customer_limit)
            .bind($promotion.active())
    };
}

const PROMOTION_BY_ID: &str = concat!(
    "SELECT ",
    promotion_columns!(),
    " FROM promotions WHERE id = $1"
);

#[derive(sqlx::FromRow)]
pub(crate) struct PromotionRow {
    id: Uuid,
    code: String,
    kind: String,
    percent: Option<i64>,
    amount_minor: Option<i64>,
    currency: Option<String>,
    min_subtotal_minor: Option<i64>,
    min_subtotal_currency: Option<String>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    usage_limit: Option<i64>,
    per_customer_limit: Option<i64>,
    active: bool,
    times_used: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn money(minor: i64, currency: &str) -> Result<Money, RepositoryError> {
    let currency = Currency::parse(currency).map_err(|e| corrupt("currency", e))?;
    Money::from_minor(minor, currency).map_err(|e| corrupt("amount", e))
}

fn count(what: &str, n: Option<i64>) -> Result<Option<u32>, RepositoryError> {
    n.map(u32::try_from)
        .transpose()
        .map_err(|e| corrupt(what, e))
}

impl TryFrom<PromotionRow> for PromotionRecord {
    type Error = RepositoryError;

    fn try_from(r: PromotionRow) -> Result<Self, Self::Error> {
        let discount = match (r.kind.as_str(), r.percent, r.amount_minor, &r.currency) {
            ("percentage", Some(p), None, None) => Discount::Percentage(
                u32::try_from(p)
                    .ok()
                    .and_then(Percent::from_scaled)
                    .ok_or_else(|| corrupt("promotion percent", p))?,
            ),
            ("fixed", None, Some(minor), Some(c)) => Discount::Fixed(money(minor, c)?),
            _ => return Err(corrupt("promotion kind", &r.kind)),
        };
        let min_subtotal = match (r.min_subtotal_minor, &r.min_subtotal_currency) {
            (Some(minor), Some(c)) => Some(money(minor, c)?),
            (None, None) => None,
            _ => return Err(corrupt("promotion minimum", r.id)),
        };
        let rules = PromotionRules {
            code: PromotionCode::parse(&r.code).map_err(|e| corrupt("promotion code", e))?,
            discount,
            min_subtotal,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            usage_limit: count("usage_limit", r.usage_limit)?,
            per_customer_limit: count("per_customer_limit", r.per_customer_limit)?,
            active: r.active,
        };
        let times_used = u32::try_from(r.times_used).map_err(|e| corrupt("times_used", e))?;
        Ok(PromotionRecord {
            id: PromotionId::from_uuid(r.id),
            promotion: Promotion::new(rules, times_used).map_err(|e| corrupt("promotion", e))?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// The columns a promotion's rules are stored in, as bound values.
struct Stored<'a> {
    code: &'a str,
    kind: &'static str,
    percent: Option<i64>,
    amount_minor: Option<i64>,
    currency: Option<&'static str>,
    min_subtotal_minor: Option<i64>,
    min_subtotal_currency: Option<&'static str>,
    usage_limit: Option<i64>,
    per_customer_limit: Option<i64>,
}

impl<'a> Stored<'a> {
    fn of(p: &'a Promotion) -> Self {
        let (percent, amount_minor, currency) = match p.discount() {
            Discount::Percentage(pct) => (Some(i64::from(pct.scaled())), None, None),
            Discount::Fixed(m) => (None, Some(m.minor()), Some(m.currency().code())),
        };
        Self {
            code: p.code().as_str(),
            kind: p.discount().kind(),
            percent,
            amount_minor,
            currency,
            min_subtotal_minor: p.min_subtotal().map(|m| m.minor()),
            min_subtotal_currency: p.min_subtotal().map(|m| m.currency().code()),
            usage_limit: p.usage_limit().map(i64::from),
            per_customer_limit: p.per_customer_limit().map(i64::from),
        }
    }
}

/// The only unique rule of the table is the code's.
fn code_conflict(e: sqlx::Error) -> RepositoryError {
    match map_err(e) {
        RepositoryError::Conflict(_) => RepositoryError::Conflict("code"),
        other => other,
    }
}

/// Promotions in SQL.
pub struct SqlPromotions {
    db: Database,
}

impl SqlPromotions {
    /// Promotions in `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl PromotionRepository for SqlPromotions {
    #[tracing::instrument(name = "db.promotions.insert", skip_all)]
    async fn insert(&self, r: &PromotionRecord) -> Result<(), RepositoryError> {
        let p = &r.promotion;
        let s = Stored::of(p);
        on_db!(&self.db, write, pool => {
            let query = sqlx::query(concat!("INSERT INTO promotions (", promotion_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"))
                .bind(r.id.as_uuid());
            bind_fields!(query, s, p)
                .bind(i64::from(p.times_used()))
                .bind(r.created_at)
                .bind(r.updated_at)
                .execute(pool)
                .await
                .map(|_| ())
        })
        .map_err(code_conflict)
    }

    #[tracing::instrument(name = "db.promotions.get", skip_all)]
    async fn get(&self, id: PromotionId) -> Result<Option<PromotionRecord>, RepositoryError> {
        fetch_by_id::<PromotionRow, _>(&self.db, PROMOTION_BY_ID, id.as_uuid()).await
    }

    #[tracing::instrument(name = "db.promotions.list", skip_all)]
    async fn list(&self, page: PageRequest) -> Result<Page<PromotionRecord>, RepositoryError> {
        // Newest first by id (UUID v7), the primary key: a cursor page is a range of it.
        let rows = fetch_newest_by_id::<PromotionRow>(
            &self.db,
            promotion_columns!(),
            "promotions",
            Vec::new(),
            page,
            |r| r.id,
        )
        .await?;
        read_rows(rows)
    }

    #[tracing::instrument(name = "db.promotions.update", skip_all)]
    async fn update(
        &self,
        r: &PromotionRecord,
    ) -> Result<Option<PromotionRecord>, RepositoryError> {
        let p = &r.promotion;
        let s = Stored::of(p);
        // RETURNING reads `times_used` as the same statement left it: a use counted by a
        // checkout meanwhile is kept and shown.
        let row: Option<PromotionRow> = on_db!(&self.db, write, pool => {
            let query = sqlx::query_as(concat!(
                "UPDATE promotions SET code = $2, kind = $3, percent = $4, amount_minor = $5, \
                 currency = $6, min_subtotal_minor = $7, min_subtotal_currency = $8, \
                 starts_at = $9, ends_at = $10, usage_limit = $11, per_customer_limit = $12, \
                 active = $13, updated_at = $14 WHERE id = $1 RETURNING ",
                promotion_columns!()
            ))
            .bind(r.id.as_uuid());
            bind_fields!(query, s, p)
            .bind(r.updated_at)
            .fetch_optional(pool)
            .await
        })
        .map_err(code_conflict)?;
        row.map(PromotionRecord::try_from).transpose()
    }

    #[tracing::instrument(name = "db.promotions.delete", skip_all)]
    async fn delete(&self, id: PromotionId) -> Result<bool, RepositoryError> {
        on_db!(&self.db, write, pool => {
            sqlx::query("DELETE FROM promotions WHERE id = $1")
                .bind(id.as_uuid())
                .execute(pool)
                .await
                .map(|r| r.rows_affected() == 1)
        })
        .map_err(map_err)
    }
}
