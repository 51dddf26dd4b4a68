//! The outbox: events written in the transaction of their change, and the admin's event log.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Event, EventId, EventType, KeyPart, Page, PageRequest, RepositoryError};
use uuid::Uuid;

use super::{Database, corrupt, fetch_newest_by_id, read_rows};
use application::ports::EventReadModel;

/// Writes an event whatever else happens in its transaction.
pub(crate) const INSERT_EVENT: &str =
    "INSERT INTO events (id, type, data, created_at) VALUES ($1, $2, $3, $4)";

/// Writes an event only when the product's stock, as this transaction left it, fell from above
/// the threshold to it or below by the units taken ($5 product, $6 threshold, $7 taken).
pub(crate) const INSERT_EVENT_IF_STOCK_FELL: &str = "INSERT INTO events (id, type, data, created_at) SELECT $1, $2, $3, $4 \
     WHERE EXISTS (SELECT 1 FROM product_variants WHERE id = $5 AND stock <= $6 AND stock + $7 > $6)";

/// PostgreSQL's form of [`QUEUE_FAN_OUT_SQLITE`], for a statement apart from the event's (the
/// event's own statement queues it: [`WRITE_AND_FAN_OUT_POSTGRES`]).
const QUEUE_FAN_OUT_POSTGRES: &str = "INSERT INTO webhook_fanout (event_id, event_type, created_at) \
     SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM webhook_endpoints w \
     WHERE w.enabled AND (w.events LIKE '%,*,%' OR w.events LIKE '%,' || $2 || ',%'))";

/// Queues event `$1` (of type `$2`, at `$3`) for the fan-out ([`FAN_OUT_QUEUED_SQLITE`],
/// [`FAN_OUT_QUEUED_POSTGRES`]) when some enabled endpoint hears it: one small row in every
/// order's transaction instead of a delivery row and its five indexes (see the migrations
/// `sqlite/0010` and `postgres/0011`).
const QUEUE_FAN_OUT_SQLITE: &str = "INSERT INTO webhook_fanout (event_id, event_type, created_at) \
     SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM webhook_endpoints w \
     WHERE w.enabled AND (w.events LIKE '%,*,%' OR w.events LIKE '%,' || $2 || ',%'))";

/// Makes the deliveries of every queued event, then empties the queue; run on SQLite's one
/// writer, inside a transaction, so each queued event fans out exactly once. Every change to an
/// endpoint runs it first, in the change's own transaction (see [`fan_out_queued`]), so the
/// endpoints as they stand here are the endpoints as they stood when each queued event
/// committed: an event goes to exactly the endpoints an inline fan-out would have chosen.
pub(crate) const FAN_OUT_QUEUED_SQLITE: &str = "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, \
     status, attempts, next_attempt_at, created_at, updated_at) \
     SELECT randomblob(16), w.id, f.event_id, f.event_type, 'pending', 0, f.created_at, f.created_at, f.created_at \
     FROM webhook_fanout f JOIN webhook_endpoints w ON w.enabled \
     AND (w.events LIKE '%,*,%' OR w.events LIKE '%,' || f.event_type || ',%'); \
     DELETE FROM webhook_fanout";

/// PostgreSQL's fan-out of the queued events: takes what no other runner holds (`SKIP
/// LOCKED`), makes the deliveries and deletes the queued rows in one statement, so each queued
/// event fans out exactly once however many runners pass at once. Its `DELETE` takes the
/// queue's `ROW EXCLUSIVE` lock, so it waits while a change to an endpoint holds the lock of
/// [`FAN_OUT_QUEUED_BEFORE_A_CHANGE_POSTGRES`].
macro_rules! fan_out_queued_postgres {
    () => {
        "WITH f AS ( \
         DELETE FROM webhook_fanout WHERE event_id IN (SELECT event_id FROM webhook_fanout FOR UPDATE SKIP LOCKED) \
         RETURNING event_id, event_type, created_at) \
         INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, status, attempts, \
         next_attempt_at, created_at, updated_at) \
         SELECT gen_random_uuid(), w.id, f.event_id, f.event_type, 'pending', 0, f.created_at, f.created_at, f.created_at \
         FROM f JOIN webhook_endpoints w ON w.enabled \
         AND (w.events LIKE '%,*,%' OR w.events LIKE '%,' || f.event_type || ',%')"
    };
}

/// The fan-out of the queued events as the job runner and the deliveries list run it on
/// PostgreSQL, on its own (see [`fan_out_queued_postgres`]).
pub(crate) const FAN_OUT_QUEUED_POSTGRES: &str = fan_out_queued_postgres!();

/// What a change to an endpoint runs first on PostgreSQL, in its own transaction: a lock on
/// the queue that waits for every transaction that is writing events (each holds the queue's
/// `ROW EXCLUSIVE` from its first event on, see [`WRITE_AND_FAN_OUT_POSTGRES`]) and keeps new
/// ones out until the change commits, then the fan-out of everything queued. So no event
/// commits between that fan-out and the change: each queued event fans out to the endpoints as
/// they stood at its commit, as on SQLite. Orders wait for an endpoint change (a short
/// transaction), never for each other.
const FAN_OUT_QUEUED_BEFORE_A_CHANGE_POSTGRES: &str = concat!(
    "LOCK TABLE webhook_fanout IN SHARE ROW EXCLUSIVE MODE; ",
    fan_out_queued_postgres!()
);

/// PostgreSQL's form: the event and, when some enabled endpoint hears it, its row in the
/// fan-out queue, in one statement (one round trip), the event written unless `$5` names a
/// product whose stock did not fall across `$6` by `$7` (as [`INSERT_EVENT_IF_STOCK_FELL`]);
/// answers how many events were written (0 or 1). The queue is its target whether or not a
/// row goes in, so the statement takes its lock (see
/// [`FAN_OUT_QUEUED_BEFORE_A_CHANGE_POSTGRES`]) before it reads the endpoints.
const WRITE_AND_FAN_OUT_POSTGRES: &str = "WITH e AS ( \
     INSERT INTO events (id, type, data, created_at) SELECT $1, $2, $3, $4 \
     WHERE $5::uuid IS NULL OR EXISTS (SELECT 1 FROM product_variants WHERE id = $5 AND stock <= $6 AND stock + $7 > $6) \
     RETURNING id), \
     q AS (INSERT INTO webhook_fanout (event_id, event_type, created_at) \
     SELECT e.id, $2, $4 FROM e WHERE EXISTS (SELECT 1 FROM webhook_endpoints w \
     WHERE w.enabled AND (w.events LIKE '%,*,%' OR w.events LIKE '%,' || $2 || ',%'))) \
     SELECT COUNT(*) FROM e";

/// How a backend writes an event and its deliveries.
pub(crate) trait OutboxSql {
    /// The one statement that writes both, where the backend has one.
    fn write_and_fan_out() -> Option<&'static str>;
    /// Otherwise the fan-out, run after the event was written.
    fn fan_out() -> &'static str;
    /// The statements that make the deliveries of queued events, where the backend queues.
    fn fan_out_queued() -> Option<&'static str>;
}

impl OutboxSql for sqlx::Sqlite {
    fn write_and_fan_out() -> Option<&'static str> {
        None
    }
    fn fan_out() -> &'static str {
        QUEUE_FAN_OUT_SQLITE
    }
    fn fan_out_queued() -> Option<&'static str> {
        Some(FAN_OUT_QUEUED_SQLITE)
    }
}

impl OutboxSql for sqlx::Postgres {
    fn write_and_fan_out() -> Option<&'static str> {
        Some(WRITE_AND_FAN_OUT_POSTGRES)
    }
    fn fan_out() -> &'static str {
        QUEUE_FAN_OUT_POSTGRES
    }
    fn fan_out_queued() -> Option<&'static str> {
        Some(FAN_OUT_QUEUED_BEFORE_A_CHANGE_POSTGRES)
    }
}

/// The fan-out of queued events on the transaction's backend, if it queues.
pub(crate) fn fan_out_queued_sql<DB: sqlx::Database + OutboxSql>(
    _: &sqlx::Transaction<'_, DB>,
) -> Option<&'static str> {
    DB::fan_out_queued()
}

/// Makes the deliveries of the queued events on the write transaction `$tx`, where the backend
/// queues them (SQLite); evaluates to `Result<(), RepositoryError>`. Run first by every change
/// to an endpoint, by the runner's claim and by the list of deliveries. A macro so that one
/// body serves both backends inside `on_db!`.
macro_rules! fan_out_queued {
    ($tx:expr) => {{
        match $crate::db::events::fan_out_queued_sql(&$tx) {
            Some(sql) => sqlx::raw_sql(sql)
                .execute(&mut *$tx)
                .await
                .map(|_| ())
                .map_err($crate::db::map_err),
            None => Ok(()),
        }
    }};
}
pub(crate) use fan_out_queued;

/// The statements of the transaction's backend.
pub(crate) fn outbox_sql<DB: sqlx::Database + OutboxSql>(
    _: &sqlx::Transaction<'_, DB>,
) -> (Option<&'static str>, &'static str) {
    (DB::write_and_fan_out(), DB::fan_out())
}

/// Writes `$events` (a slice of [`domain::PendingEvent`]) and their deliveries on the
/// transaction `$tx`, each event as its condition says; evaluates to
/// `Result<Vec<EventType>, RepositoryError>`, the types of the events written (for the metrics,
/// once the transaction commits). A macro so that one body serves both backends inside
/// `on_db!`.
macro_rules! write_events {
    ($tx:expr, $events:expr) => {{
        let (one_statement, fan_out) = $crate::db::events::outbox_sql(&$tx);
        let mut result: Result<Vec<domain::EventType>, domain::RepositoryError> = Ok(Vec::new());
        for pending in $events {
            let e = &pending.event;
            let (product, threshold, taken) = match pending.condition {
                domain::EventCondition::Always => (None, 0, 0),
                domain::EventCondition::StockFell {
                    product,
                    taken,
                    threshold,
                } => (
                    Some(product.as_uuid()),
                    i64::from(threshold),
                    i64::from(taken),
                ),
            };
            let written = if let Some(sql) = one_statement {
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                    .bind(e.id.as_uuid())
                    .bind(e.event_type.as_str())
                    .bind(e.data.as_str())
                    .bind(e.created_at)
                    .bind(product)
                    .bind(threshold)
                    .bind(taken)
                    .fetch_one(&mut *$tx)
                    .await
                    .map(|n| n > 0)
            } else {
                let q = match product {
                    None => sqlx::query($crate::db::events::INSERT_EVENT)
                        .bind(e.id.as_uuid())
                        .bind(e.event_type.as_str())
                        .bind(e.data.as_str())
                        .bind(e.created_at),
                    Some(product) => sqlx::query($crate::db::events::INSERT_EVENT_IF_STOCK_FELL)
                        .bind(e.id.as_uuid())
                        .bind(e.event_type.as_str())
                        .bind(e.data.as_str())
                        .bind(e.created_at)
                        .bind(product)
                        .bind(threshold)
                        .bind(taken),
                };
                match q.execute(&mut *$tx).await {
                    Ok(r) if r.rows_affected() == 0 => Ok(false),
                    Ok(_) => sqlx::query(sqlx::AssertSqlSafe(fan_out))
                        .bind(e.id.as_uuid())
                        .bind(e.event_type.as_str())
                        .bind(e.created_at)
                        .execute(&mut *$tx)
                        .await
                        .map(|_| true),
                    Err(err) => Err(err),
                }
            };
            match written {
                Ok(false) => {}
                Ok(true) => {
                    if let Ok(types) = &mut result {
                        types.push(e.event_type);
                    }
                }
                Err(err) => {
                    result = Err($crate::db::map_err(err));
                    break;
                }
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
        let rows = fetch_newest_by_id::<EventRow>(
            &self.db,
            "id, type, data, created_at",
            "events",
            filters,
            page,
            |r| r.id,
        )
        .await?;
        read_rows(rows)
    }
}
