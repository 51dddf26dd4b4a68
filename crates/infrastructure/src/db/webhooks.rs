//! Webhook endpoints and their deliveries in SQL, for both backends.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::webhook::{Delivery, DeliveryStatus, Subscriptions, WebhookEndpoint, WebhookSecret};
use domain::{
    DeliveryId, EventId, EventType, KeyPart, Page, PageRequest, RepositoryError, SortKeys,
    WebhookEndpointId,
};
use uuid::Uuid;

use super::events::{FAN_OUT_QUEUED_POSTGRES, fan_out_queued};
use super::{
    Database, corrupt, fetch_by_id, fetch_list, fetch_newest_by_id, map_err, on_db, read_rows,
};
use application::ports::WebhookRepository;

macro_rules! endpoint_columns {
    () => {
        "id, url, events, description, enabled, secret, created_at, updated_at"
    };
}

/// One by id.
const ENDPOINT_BY_ID: &str = concat!(
    "SELECT ",
    endpoint_columns!(),
    " FROM webhook_endpoints WHERE id = $1"
);
macro_rules! delivery_columns {
    () => {
        "id, endpoint_id, event_id, event_type, status, attempts, last_status_code, last_error, \
         next_attempt_at, created_at, updated_at"
    };
}

/// The subscriptions as stored: `,a,b,` (or `,*,`), so one LIKE finds a type.
pub(crate) fn subscriptions_to_text(s: &Subscriptions) -> String {
    format!(",{},", s.names().join(","))
}

fn subscriptions_from_text(text: &str) -> Result<Subscriptions, RepositoryError> {
    let names: Vec<String> = text
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    Subscriptions::parse(&names).map_err(|_| corrupt("webhook subscriptions", text))
}

#[derive(sqlx::FromRow)]
pub(crate) struct EndpointRow {
    id: Uuid,
    url: String,
    events: String,
    description: Option<String>,
    enabled: bool,
    secret: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<EndpointRow> for WebhookEndpoint {
    type Error = RepositoryError;

    fn try_from(r: EndpointRow) -> Result<Self, Self::Error> {
        Ok(WebhookEndpoint {
            id: WebhookEndpointId::from_uuid(r.id),
            url: r.url,
            events: subscriptions_from_text(&r.events)?,
            description: r.description,
            enabled: r.enabled,
            secret: WebhookSecret::new(r.secret),
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    id: Uuid,
    endpoint_id: Uuid,
    event_id: Uuid,
    event_type: String,
    status: String,
    attempts: i64,
    last_status_code: Option<i64>,
    last_error: Option<String>,
    next_attempt_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = RepositoryError;

    fn try_from(r: DeliveryRow) -> Result<Self, Self::Error> {
        Ok(Delivery {
            id: DeliveryId::from_uuid(r.id),
            endpoint_id: WebhookEndpointId::from_uuid(r.endpoint_id),
            event_id: EventId::from_uuid(r.event_id),
            event_type: EventType::parse_as("event_type", &r.event_type)
                .map_err(|e| corrupt("delivery event type", e.message))?,
            status: DeliveryStatus::parse_as("status", &r.status)
                .map_err(|e| corrupt("delivery status", e.message))?,
            attempts: u32::try_from(r.attempts).map_err(|e| corrupt("attempts", e))?,
            last_status_code: r
                .last_status_code
                .map(u16::try_from)
                .transpose()
                .map_err(|e| corrupt("status code", e))?,
            last_error: r.last_error,
            next_attempt_at: r.next_attempt_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Webhook endpoints and deliveries in SQL.
pub struct SqlWebhooks {
    db: Database,
}

impl SqlWebhooks {
    /// Endpoints in `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl WebhookRepository for SqlWebhooks {
    #[tracing::instrument(name = "db.webhooks.insert", skip_all)]
    async fn insert(&self, e: &WebhookEndpoint) -> Result<(), RepositoryError> {
        // Every change to an endpoint first fans out the events queued before it.
        on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            fan_out_queued!(tx)?;
            sqlx::query(concat!("INSERT INTO webhook_endpoints (", endpoint_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
                .bind(e.id.as_uuid())
                .bind(e.url.as_str())
                .bind(subscriptions_to_text(&e.events))
                .bind(e.description.as_deref())
                .bind(e.enabled)
                .bind(e.secret.expose())
                .bind(e.created_at)
                .bind(e.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)
        })
    }

    #[tracing::instrument(name = "db.webhooks.get", skip_all)]
    async fn get(&self, id: WebhookEndpointId) -> Result<Option<WebhookEndpoint>, RepositoryError> {
        fetch_by_id::<EndpointRow, _>(&self.db, ENDPOINT_BY_ID, id.as_uuid()).await
    }

    #[tracing::instrument(name = "db.webhooks.list", skip_all)]
    async fn list(&self, page: PageRequest) -> Result<Page<WebhookEndpoint>, RepositoryError> {
        // Newest first by id (UUID v7), the primary key: a cursor page is a range of it.
        let rows = fetch_newest_by_id::<EndpointRow>(
            &self.db,
            endpoint_columns!(),
            "webhook_endpoints",
            Vec::new(),
            page,
            |r| r.id,
        )
        .await?;
        read_rows(rows)
    }

    #[tracing::instrument(name = "db.webhooks.update", skip_all)]
    async fn update(&self, e: &WebhookEndpoint) -> Result<bool, RepositoryError> {
        on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            fan_out_queued!(tx)?;
            let changed = sqlx::query("UPDATE webhook_endpoints SET url = $2, events = $3, description = $4, enabled = $5, secret = $6, updated_at = $7 WHERE id = $1")
                .bind(e.id.as_uuid())
                .bind(e.url.as_str())
                .bind(subscriptions_to_text(&e.events))
                .bind(e.description.as_deref())
                .bind(e.enabled)
                .bind(e.secret.expose())
                .bind(e.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected()
                == 1;
            tx.commit().await.map_err(map_err)?;
            Ok(changed)
        })
    }

    #[tracing::instrument(name = "db.webhooks.delete", skip_all)]
    async fn delete(&self, id: WebhookEndpointId) -> Result<bool, RepositoryError> {
        on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            fan_out_queued!(tx)?;
            sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
                .bind(id.as_uuid())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let gone = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
                .bind(id.as_uuid())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected()
                == 1;
            tx.commit().await.map_err(map_err)?;
            Ok(gone)
        })
    }

    #[tracing::instrument(name = "db.webhooks.deliveries", skip_all)]
    async fn deliveries(
        &self,
        endpoint: WebhookEndpointId,
        status: Option<DeliveryStatus>,
        page: PageRequest,
    ) -> Result<Page<Delivery>, RepositoryError> {
        // The events queued since the last fan-out get their deliveries first, so that the
        // list shows every committed event even when no runner has passed since.
        match &self.db {
            Database::Sqlite { write, .. } => {
                let mut tx = write.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
                fan_out_queued!(tx)?;
                tx.commit().await.map_err(map_err)?;
            }
            Database::Postgres(pool) => {
                sqlx::query(FAN_OUT_QUEUED_POSTGRES)
                    .execute(pool)
                    .await
                    .map_err(map_err)?;
            }
        }
        // Newest first; `webhook_deliveries_of_endpoint (endpoint_id, created_at, id)` answers
        // both the page and a cursor's range. The cursor carries `created_at` to the
        // nanosecond, so it compares equal to the stored value on both backends.
        let mut filters = vec![("endpoint_id = $?", KeyPart::Id(endpoint.as_uuid()))];
        if let Some(status) = status {
            filters.push(("status = $?", KeyPart::Text(status.as_str().to_owned())));
        }
        let rows = fetch_list::<DeliveryRow>(
            &self.db,
            delivery_columns!(),
            "webhook_deliveries",
            filters,
            &[("created_at", true), ("id", true)],
            "du",
            page,
            |r| SortKeys::new(vec![KeyPart::Time(r.created_at), KeyPart::Id(r.id)]),
        )
        .await?;
        read_rows(rows)
    }

    #[tracing::instrument(name = "db.webhooks.retry", skip_all)]
    async fn retry(
        &self,
        endpoint: WebhookEndpointId,
        delivery: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        on_db!(&self.db, write, pool => {
            sqlx::query("UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3, updated_at = $3 WHERE id = $1 AND endpoint_id = $2")
                .bind(delivery.as_uuid())
                .bind(endpoint.as_uuid())
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected() == 1)
        })
        .map_err(map_err)
    }
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: Uuid,
    endpoint_id: Uuid,
    event_id: Uuid,
    attempts: i64,
}

#[derive(sqlx::FromRow)]
struct ClaimedEventRow {
    id: Uuid,
    #[sqlx(rename = "type")]
    event_type: String,
    data: String,
    created_at: DateTime<Utc>,
}

/// Claims due deliveries of enabled endpoints: on PostgreSQL with `FOR UPDATE SKIP LOCKED`,
/// so any number of runners take disjoint batches; on SQLite the one writer makes the
/// statement atomic. `$4` is the claim's token.
const CLAIM_POSTGRES: &str = "UPDATE webhook_deliveries d SET claimed_until = $2, claim_token = $4 FROM ( \
     SELECT x.id FROM webhook_deliveries x JOIN webhook_endpoints w ON w.id = x.endpoint_id \
     WHERE x.status = 'pending' AND x.next_attempt_at <= $1 AND w.enabled \
     AND (x.claimed_until IS NULL OR x.claimed_until < $1) \
     ORDER BY x.next_attempt_at LIMIT $3 FOR UPDATE OF x SKIP LOCKED) due \
     WHERE d.id = due.id RETURNING d.id, d.endpoint_id, d.event_id, d.attempts";
const CLAIM_SQLITE: &str = "UPDATE webhook_deliveries SET claimed_until = $2, claim_token = $4 WHERE id IN ( \
     SELECT x.id FROM webhook_deliveries x JOIN webhook_endpoints w ON w.id = x.endpoint_id \
     WHERE x.status = 'pending' AND x.next_attempt_at <= $1 AND w.enabled \
     AND (x.claimed_until IS NULL OR x.claimed_until < $1) \
     ORDER BY x.next_attempt_at LIMIT $3) RETURNING id, endpoint_id, event_id, attempts";

/// Records `n` outcomes in one statement: `$1` is the time, then six values an outcome (the
/// delivery, its status, status code, error, next attempt and the claim it was sent under). A
/// delivery is updated only while its claim still holds it; the statement answers the ids it
/// updated.
fn record_all_sql(backend: super::Backend, n: usize) -> String {
    let pg = backend == super::Backend::Postgres;
    let casts = if pg {
        [
            "::uuid",
            "::text",
            "::bigint",
            "::text",
            "::timestamptz",
            "::uuid",
        ]
    } else {
        [""; 6]
    };
    let rows: Vec<String> = (0..n)
        .map(|i| {
            let values: Vec<String> = casts
                .iter()
                .enumerate()
                .map(|(j, cast)| format!("${}{cast}", 2 + i * 6 + j))
                .collect();
            format!("({})", values.join(", "))
        })
        .collect();
    let rows = rows.join(", ");
    if pg {
        format!(
            "UPDATE webhook_deliveries d SET status = v.status, attempts = d.attempts + 1, \
             last_status_code = v.code, last_error = v.error, next_attempt_at = v.next, \
             claimed_until = NULL, claim_token = NULL, updated_at = $1 \
             FROM (VALUES {rows}) AS v (id, status, code, error, next, claim) \
             WHERE d.id = v.id AND d.claim_token = v.claim RETURNING d.id"
        )
    } else {
        // SQLite names a VALUES table's columns column1, column2, ...
        format!(
            "UPDATE webhook_deliveries SET status = v.column2, attempts = attempts + 1, \
             last_status_code = v.column3, last_error = v.column4, next_attempt_at = v.column5, \
             claimed_until = NULL, claim_token = NULL, updated_at = $1 \
             FROM (VALUES {rows}) AS v \
             WHERE webhook_deliveries.id = v.column1 AND webhook_deliveries.claim_token = v.column6 \
             RETURNING id"
        )
    }
}

#[async_trait]
impl application::delivery::DeliveryQueue for SqlWebhooks {
    #[tracing::instrument(name = "db.deliveries.claim", skip_all)]
    async fn claim(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
        claim: Uuid,
    ) -> Result<Vec<application::delivery::ClaimedDelivery>, RepositoryError> {
        // The claim statement `$sql` of either backend, with its values bound.
        macro_rules! claim_query {
            ($sql:expr) => {
                sqlx::query_as($sql)
                    .bind(now)
                    .bind(until)
                    .bind(i64::from(limit))
                    .bind(claim)
            };
        }
        let claims: Vec<ClaimRow> = match &self.db {
            // The queued events fan out first, in the claim's transaction on the one writer.
            Database::Sqlite { write, .. } => {
                let mut tx = write.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
                fan_out_queued!(tx)?;
                let claims = claim_query!(CLAIM_SQLITE)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                claims
            }
            // The queued events fan out first, in a statement of their own: any number of
            // runners may do so at once (each takes what the others do not hold).
            Database::Postgres(pool) => {
                sqlx::query(FAN_OUT_QUEUED_POSTGRES)
                    .execute(pool)
                    .await
                    .map_err(map_err)?;
                claim_query!(CLAIM_POSTGRES)
                    .fetch_all(pool)
                    .await
                    .map_err(map_err)?
            }
        };
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        // The endpoints and events of the batch, in one query each, on a reader: the claim has
        // committed, and SQLite's one writer is left to the writes.
        let mut endpoint_ids: Vec<Uuid> = claims.iter().map(|c| c.endpoint_id).collect();
        endpoint_ids.sort_unstable();
        endpoint_ids.dedup();
        let event_ids: Vec<Uuid> = claims.iter().map(|c| c.event_id).collect();
        let endpoints_sql = format!(
            concat!(
                "SELECT ",
                endpoint_columns!(),
                " FROM webhook_endpoints WHERE id IN ({})"
            ),
            super::placeholders(endpoint_ids.len())
        );
        let events_sql = format!(
            "SELECT id, type, data, created_at FROM events WHERE id IN ({})",
            super::placeholders(event_ids.len())
        );
        let (endpoints, events): (Vec<EndpointRow>, Vec<ClaimedEventRow>) = on_db!(&self.db, read, pool => {
            let mut e = sqlx::query_as(sqlx::AssertSqlSafe(endpoints_sql.clone()));
            for id in &endpoint_ids {
                e = e.bind(*id);
            }
            let endpoints = e.fetch_all(pool).await.map_err(map_err)?;
            let mut v = sqlx::query_as(sqlx::AssertSqlSafe(events_sql.clone()));
            for id in &event_ids {
                v = v.bind(*id);
            }
            let events = v.fetch_all(pool).await.map_err(map_err)?;
            (endpoints, events)
        });
        let endpoints: std::collections::HashMap<Uuid, WebhookEndpoint> = endpoints
            .into_iter()
            .map(|r| WebhookEndpoint::try_from(r).map(|e| (e.id.as_uuid(), e)))
            .collect::<Result<_, _>>()?;
        let events: std::collections::HashMap<Uuid, ClaimedEventRow> =
            events.into_iter().map(|e| (e.id, e)).collect();
        let mut out = Vec::with_capacity(claims.len());
        for c in claims {
            let (Some(endpoint), Some(event)) =
                (endpoints.get(&c.endpoint_id), events.get(&c.event_id))
            else {
                continue;
            };
            out.push(application::delivery::ClaimedDelivery {
                id: DeliveryId::from_uuid(c.id),
                endpoint_id: endpoint.id,
                url: endpoint.url.clone(),
                secret: endpoint.secret.clone(),
                event: domain::Event {
                    id: EventId::from_uuid(event.id),
                    event_type: EventType::parse_as("type", &event.event_type)
                        .map_err(|e| corrupt("event type", e.message))?,
                    data: event.data.clone(),
                    created_at: event.created_at,
                },
                attempts: u32::try_from(c.attempts).map_err(|e| corrupt("attempts", e))?,
                claim,
            });
        }
        Ok(out)
    }

    #[tracing::instrument(name = "db.deliveries.record_all", skip_all, fields(count = outcomes.len()))]
    async fn record_all(
        &self,
        outcomes: &[(
            &application::delivery::ClaimedDelivery,
            application::delivery::AttemptOutcome,
        )],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, RepositoryError> {
        if outcomes.is_empty() {
            return Ok(Vec::new());
        }
        let sql = record_all_sql(self.db.backend(), outcomes.len());
        // Binds `$1` (now) and each outcome's six values, in the order of `record_all_sql`.
        macro_rules! bound {
            () => {{
                let mut q =
                    sqlx::query_scalar::<_, Uuid>(sqlx::AssertSqlSafe(sql.clone())).bind(now);
                for (d, o) in outcomes {
                    q = q
                        .bind(d.id.as_uuid())
                        .bind(o.status.as_str())
                        .bind(o.status_code.map(i64::from))
                        .bind(o.error.as_deref())
                        .bind(o.next_attempt_at)
                        .bind(d.claim);
                }
                q
            }};
        }
        // Endpoints that answered 410 are turned off with their delivery's outcome, in one
        // transaction; otherwise the outcomes are one statement.
        let any_gone = outcomes.iter().any(|(_, o)| o.disable_endpoint);
        let recorded: Vec<Uuid> = on_db!(&self.db, write, pool, begin => {
            if !any_gone {
                bound!().fetch_all(pool).await.map_err(map_err)?
            } else {
                let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
                // A change to an endpoint: the events queued before it fan out first.
                fan_out_queued!(tx)?;
                let recorded = bound!().fetch_all(&mut *tx).await.map_err(map_err)?;
                let held: Vec<Uuid> = outcomes
                    .iter()
                    .filter(|(d, o)| o.disable_endpoint && recorded.contains(&d.id.as_uuid()))
                    .map(|(d, _)| d.endpoint_id.as_uuid())
                    .collect();
                if !held.is_empty() {
                    let sql = format!(
                        "UPDATE webhook_endpoints SET enabled = FALSE, updated_at = $1 WHERE id IN ({})",
                        super::placeholders_from(2, held.len())
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
                    for id in &held {
                        q = q.bind(*id);
                    }
                    q.execute(&mut *tx).await.map_err(map_err)?;
                }
                tx.commit().await.map_err(map_err)?;
                recorded
            }
        });
        Ok(outcomes
            .iter()
            .map(|(d, _)| recorded.contains(&d.id.as_uuid()))
            .collect())
    }

    #[tracing::instrument(name = "db.deliveries.release", skip_all)]
    async fn release(&self, claim: Uuid, deliveries: &[DeliveryId]) -> Result<(), RepositoryError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE webhook_deliveries SET claimed_until = NULL, claim_token = NULL \
             WHERE claim_token = $1 AND id IN ({})",
            super::placeholders_from(2, deliveries.len())
        );
        on_db!(&self.db, write, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(claim);
            for id in deliveries {
                q = q.bind(id.as_uuid());
            }
            q.execute(pool).await.map(|_| ())
        })
        .map_err(map_err)
    }

    #[tracing::instrument(name = "db.deliveries.oldest_pending", skip_all)]
    async fn oldest_pending(&self) -> Result<Option<DateTime<Utc>>, RepositoryError> {
        // An event queued for the fan-out is owed too: its deliveries are not made yet.
        on_db!(&self.db, read, pool => {
            sqlx::query_scalar(
                "SELECT MIN(t) FROM (SELECT MIN(created_at) AS t FROM webhook_deliveries \
                 WHERE status = 'pending' UNION ALL SELECT MIN(created_at) FROM webhook_fanout) o",
            )
            .fetch_one(pool)
            .await
        })
        .map_err(map_err)
    }
}
