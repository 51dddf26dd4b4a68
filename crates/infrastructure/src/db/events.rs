//! The outbox: events written in the transaction of their change, and the admin's event log.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Event, EventId, EventType, KeyPart, Page, PageRequest, RepositoryError, SortKeys};
use uuid::Uuid;

use super::{Database, corrupt, fetch_list, read_rows};
use application::ports::EventReadModel;

/// Writes an event whatever else happens in its transaction.
pub(crate) const INSERT_EVENT: &str =
    "INSERT INTO events (id, type, data, created_at) VALUES ($1, $2, $3, $4)";

/// Writes an event only when the product's stock, as this transaction left it, fell from above
/// the threshold to it or below by the units taken ($5 product, $6 threshold, $7 taken).
pub(crate) const INSERT_EVENT_IF_STOCK_FELL: &str = "INSERT INTO events (id, type, data, created_at) SELECT $1, $2, $3, $4 \
     WHERE EXISTS (SELECT 1 FROM products WHERE id = $5 AND stock <= $6 AND stock + $7 > $6)";

/// Makes a pending delivery of event `$1` (of type `$2`, at `$3`) for every enabled endpoint
/// that hears it, only when the event was written; `{id}` is the backend's random UUID.
const FAN_OUT: &str = "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, status, attempts, \
     next_attempt_at, created_at, updated_at) \
     SELECT {id}, w.id, $1, $2, 'pending', 0, $3, $3, $3 FROM webhook_endpoints w \
     WHERE w.enabled AND (w.events LIKE '%,*,%' OR w.events LIKE '%,' || $2 || ',%') \
     AND EXISTS (SELECT 1 FROM events WHERE id = $1)";

/// The fan-out statement of a backend.
pub(crate) trait FanOutSql {
    /// The statement.
    fn fan_out_sql() -> &'static str;
}

impl FanOutSql for sqlx::Sqlite {
    fn fan_out_sql() -> &'static str {
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        SQL.get_or_init(|| FAN_OUT.replace("{id}", "randomblob(16)"))
    }
}

impl FanOutSql for sqlx::Postgres {
    fn fan_out_sql() -> &'static str {
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        SQL.get_or_init(|| FAN_OUT.replace("{id}", "gen_random_uuid()"))
    }
}

/// The fan-out statement of the transaction's backend.
pub(crate) fn fan_out_sql<DB: sqlx::Database + FanOutSql>(
    _: &sqlx::Transaction<'_, DB>,
) -> &'static str {
    DB::fan_out_sql()
}

/// Writes `$events` (a slice of [`domain::PendingEvent`]) on the transaction `$tx`, each as its
/// condition says; evaluates to `Result<(), RepositoryError>`. A macro so that one body serves
/// both backends inside `on_db!`.
macro_rules! write_events {
    ($tx:expr, $events:expr) => {{
        let mut result: Result<(), domain::RepositoryError> = Ok(());
        for pending in $events {
            let e = &pending.event;
            let q = match pending.condition {
                domain::EventCondition::Always => sqlx::query($crate::db::events::INSERT_EVENT)
                    .bind(e.id.as_uuid())
                    .bind(e.event_type.as_str())
                    .bind(e.data.as_str())
                    .bind(e.created_at),
                domain::EventCondition::StockFell {
                    product,
                    taken,
                    threshold,
                } => sqlx::query($crate::db::events::INSERT_EVENT_IF_STOCK_FELL)
                    .bind(e.id.as_uuid())
                    .bind(e.event_type.as_str())
                    .bind(e.data.as_str())
                    .bind(e.created_at)
                    .bind(product.as_uuid())
                    .bind(i64::from(threshold))
                    .bind(i64::from(taken)),
            };
            if let Err(err) = q.execute(&mut *$tx).await {
                result = Err($crate::db::map_err(err));
                break;
            }
            let fan_out = sqlx::query(sqlx::AssertSqlSafe($crate::db::events::fan_out_sql(&$tx)))
                .bind(e.id.as_uuid())
                .bind(e.event_type.as_str())
                .bind(e.created_at);
            if let Err(err) = fan_out.execute(&mut *$tx).await {
                result = Err($crate::db::map_err(err));
                break;
            }
        }
        result
    }};
}
pub(crate) use write_events;

#[derive(sqlx::FromRow)]
struct EventRow {
    id: Uuid,
    #[sqlx(rename = "type")]
    event_type: String,
    data: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<EventRow> for Event {
    type Error = RepositoryError;

    fn try_from(r: EventRow) -> Result<Self, Self::Error> {
        Ok(Event {
            id: EventId::from_uuid(r.id),
            event_type: EventType::parse_as("type", &r.event_type)
                .map_err(|e| corrupt("event type", e.message))?,
            data: r.data,
            created_at: r.created_at,
        })
    }
}

/// The event log in SQL, for both backends.
pub struct SqlEvents {
    db: Database,
}

impl SqlEvents {
    /// Events in `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl EventReadModel for SqlEvents {
    #[tracing::instrument(name = "db.events.list", skip_all)]
    async fn list(
        &self,
        event_type: Option<EventType>,
        page: PageRequest,
    ) -> Result<Page<Event>, RepositoryError> {
        // Newest first by id (UUID v7); `events_type_newest (type, id)` answers a filtered
        // page, the primary key an unfiltered one, and each a cursor's range.
        let filters = event_type
            .map(|t| ("type = $?", KeyPart::Text(t.as_str().to_owned())))
            .into_iter()
            .collect();
        let rows = fetch_list::<EventRow>(
            &self.db,
            "id, type, data, created_at",
            "events",
            filters,
            &[("id", true)],
            "u",
            page,
            |r| SortKeys::new(vec![KeyPart::Id(r.id)]),
        )
        .await?;
        read_rows(rows)
    }
}
