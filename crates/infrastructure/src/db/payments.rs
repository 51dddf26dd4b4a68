//! Payments in SQL: each order's payment intent, and the provider events handled (once each).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    OrderId, PaymentOutcome, PaymentReceived, PaymentRepository, PendingEvent, Recorded,
    RepositoryError,
};

use super::events::write_events;
use super::{Database, map_err, on_db};

/// [`PaymentRepository`] over SQLite or PostgreSQL.
pub struct SqlPayments {
    db: Database,
    /// Told of the events each committed transaction wrote.
    events_written: super::EventCounter,
}

super::counting_events!(SqlPayments);

impl SqlPayments {
    /// Payments in `db`.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            events_written: super::EventCounter::default(),
        }
    }
}

#[async_trait]
impl PaymentRepository for SqlPayments {
    #[tracing::instrument(name = "payments.intent", skip_all, fields(order_id = %order))]
    async fn intent(&self, order: OrderId) -> Result<Option<String>, RepositoryError> {
        on_db!(&self.db, read, pool => {
            let row: Option<(Option<String>,)> =
                sqlx::query_as("SELECT payment_intent_id FROM orders WHERE id = $1")
                    .bind(order.as_uuid())
                    .fetch_optional(pool)
                    .await
                    .map_err(map_err)?;
            Ok(row.and_then(|(intent,)| intent))
        })
    }

    #[tracing::instrument(name = "payments.save_intent", skip_all, fields(order_id = %order))]
    async fn save_intent(
        &self,
        order: OrderId,
        intent: &str,
        _now: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        // The order's `updated_at` stays: starting a payment changes nothing a client sees.
        on_db!(&self.db, write, pool => {
            sqlx::query("UPDATE orders SET payment_intent_id = $2 WHERE id = $1")
                .bind(order.as_uuid())
                .bind(intent)
                .execute(pool)
                .await
                .map_err(map_err)?;
            Ok(())
        })
    }

    #[tracing::instrument(name = "payments.unpaid_before", skip_all)]
    async fn unpaid_before(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OrderId>, RepositoryError> {
        on_db!(&self.db, read, pool => {
            let rows: Vec<(uuid::Uuid,)> = sqlx::query_as(
                "SELECT id FROM orders WHERE status = 'pending' AND payment_status = 'unpaid' \
                 AND created_at < $1 ORDER BY created_at, id LIMIT $2",
            )
            .bind(cutoff)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(map_err)?;
            Ok(rows.into_iter().map(|(id,)| OrderId::from_uuid(id)).collect())
        })
    }

    #[tracing::instrument(name = "payments.record", skip_all, fields(order_id = %event.order_id))]
    async fn record(
        &self,
        event: &PaymentReceived,
        outcome: PaymentOutcome,
        now: DateTime<Utc>,
        events: &[PendingEvent],
    ) -> Result<Recorded, RepositoryError> {
        on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            // The primary key decides between two deliveries of one event, however they race.
            let inserted = sqlx::query(
                "INSERT INTO payment_events (id, order_id, intent_id, amount_minor, currency, \
                 outcome, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(event.event_id.as_str())
            .bind(event.order_id.as_uuid())
            .bind(event.intent_id.as_str())
            .bind(event.amount_minor)
            .bind(event.currency.as_str())
            .bind(outcome.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
            if inserted == 0 {
                return Ok(Recorded::Duplicate);
            }
            let mut written = Vec::new();
            let mut outcome = outcome;
            if outcome == PaymentOutcome::Paid {
                // Compare-and-set against a cancel (by a customer, an admin or the timeout):
                // exactly one of them changes the order.
                let paid = sqlx::query(
                    "UPDATE orders SET status = 'paid', payment_status = 'paid', updated_at = $2, \
                     payment_intent_id = $3 \
                     WHERE id = $1 AND status = 'pending' AND payment_status = 'unpaid'",
                )
                .bind(event.order_id.as_uuid())
                .bind(now)
                .bind(event.intent_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
                if paid == 0 {
                    outcome = PaymentOutcome::NotPending;
                    sqlx::query("UPDATE payment_events SET outcome = $2 WHERE id = $1")
                        .bind(event.event_id.as_str())
                        .bind(outcome.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                } else {
                    written = write_events!(tx, events)?;
                }
            }
            tx.commit().await.map_err(map_err)?;
            self.events_written.0.written(&written);
            Ok(Recorded::As(outcome))
        })
    }
}
