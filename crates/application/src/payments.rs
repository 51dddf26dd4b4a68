//! Payments: the provider port ([`PaymentProvider`]) and its embedded `manual` adapter,
//! starting a payment for an order, the provider's word that money arrived, and refunds when
//! a paid order is cancelled.
//!
//! No call to the provider happens inside a database transaction: the order is read, the
//! provider called, and the outcome written after, each write atomic on its own. The
//! idempotency keys sent make the provider's side safe to repeat.

use std::sync::Arc;

use async_trait::async_trait;
use domain::{
    Money, Order, OrderId, OrderRepository, OrderStatus, PaymentOutcome, PaymentReceived,
    PaymentRepository, PaymentStatus, Recorded,
};

use crate::events::Events;
use crate::ports::Clock;
use crate::{Actor, AppError};

/// What a payment intent is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentRequest {
    /// The order it pays (the provider keeps it in the intent's metadata).
    pub order_id: OrderId,
    /// The order's total.
    pub amount: Money,
    /// The same key for the same order: the provider answers the intent it made first.
    pub idempotency_key: String,
}

/// A payment intent as the provider made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    /// The provider's id for it.
    pub id: String,
    /// What a storefront completes the payment with (none for `manual`).
    pub client_secret: Option<String>,
}

/// Why the provider did not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// It could not be reached, timed out or failed on its side (5xx): try again later.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// It refused (a card error, a refund it will not make); the reason may be shown.
    #[error("{0}")]
    Refused(String),
    /// It found the request invalid; the reason may be shown.
    #[error("{0}")]
    Invalid(String),
}

impl From<PaymentError> for AppError {
    fn from(e: PaymentError) -> Self {
        match e {
            e @ PaymentError::Unavailable(_) => AppError::Unavailable {
                dependency: "payment provider",
                source: Box::new(e),
            },
            PaymentError::Refused(reason) => AppError::Conflict {
                field: Some("payment"),
                message: format!("the payment provider refused: {reason}"),
            },
            PaymentError::Invalid(reason) => {
                AppError::invalid("payment", format!("the payment provider refused: {reason}"))
            }
        }
    }
}

/// The payment provider: makes payment intents and refunds, each call carrying an idempotency
/// key so that a repeated call does the thing once.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Its name as `PAYMENT_PROVIDER` spells it (`manual`, `stripe`).
    fn name(&self) -> &'static str;

    /// Creates the payment intent of `request`, or answers the one its key made before.
    ///
    /// # Errors
    /// As [`PaymentError`] says.
    async fn create_intent(&self, request: &IntentRequest) -> Result<PaymentIntent, PaymentError>;

    /// The payment intent `id` as it is now (with its client secret).
    ///
    /// # Errors
    /// As [`PaymentError`] says.
    async fn retrieve_intent(&self, id: &str) -> Result<PaymentIntent, PaymentError>;

    /// Refunds `amount` of the payment intent `intent` (none: the order was paid outside the
    /// provider, recorded by an admin, and nothing goes back through it).
    ///
    /// # Errors
    /// As [`PaymentError`] says.
    async fn refund(
        &self,
        intent: Option<&str>,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<(), PaymentError>;
}

/// `PAYMENT_PROVIDER=manual`, the default: an admin records payments with
/// `PUT /orders/{id}/status {"status": "paid"}`, and gives money back outside the shop.
pub struct ManualPayments;

#[async_trait]
impl PaymentProvider for ManualPayments {
    fn name(&self) -> &'static str {
        "manual"
    }

    async fn create_intent(&self, request: &IntentRequest) -> Result<PaymentIntent, PaymentError> {
        Ok(PaymentIntent {
            id: format!("manual_{}", request.order_id),
            client_secret: None,
        })
    }

    async fn retrieve_intent(&self, id: &str) -> Result<PaymentIntent, PaymentError> {
        Ok(PaymentIntent {
            id: id.to_owned(),
            client_secret: None,
        })
    }

    async fn refund(&self, _: Option<&str>, _: Money, _: &str) -> Result<(), PaymentError> {
        Ok(())
    }
}

/// The idempotency key of an order's payment intent: one per order, so a repeated start
/// answers the same intent.
pub fn intent_key(order: OrderId) -> String {
    format!("shop-order-{order}-payment")
}

/// The idempotency key of an order's refund: one per order, so a retried cancel refunds once.
pub fn refund_key(order: OrderId) -> String {
    format!("shop-order-{order}-refund")
}

/// The idempotency key of the refund of money that arrived for an order already cancelled
/// unpaid: one per intent, so the provider's retried event refunds that payment once.
pub fn late_refund_key(intent_id: &str) -> String {
    format!("shop-intent-{intent_id}-refund")
}

/// Refunds through the provider: what cancelling a paid order does first.
pub struct Refunds {
    /// Payment intents and handled events.
    pub payments: Arc<dyn PaymentRepository>,
    /// The provider.
    pub provider: Arc<dyn PaymentProvider>,
}

impl Refunds {
    /// Refunds `order`'s total when it is paid (with the order's refund key); an unpaid order
    /// needs nothing.
    ///
    /// # Errors
    /// `Unavailable` (503) when the provider fails, `Conflict` (409) or `Validation` (422) with
    /// its reason when it refuses; nothing was changed then.
    pub async fn refund_if_paid(&self, order: &Order) -> Result<(), AppError> {
        if order.payment_status() != PaymentStatus::Paid {
            return Ok(());
        }
        let intent = self.payments.intent(order.id()).await?;
        self.provider
            .refund(intent.as_deref(), order.total(), &refund_key(order.id()))
            .await?;
        Ok(())
    }
}

/// A payment started: what a storefront needs to complete it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentStarted {
    /// `manual` or `stripe`.
    pub provider: &'static str,
    /// The provider's payment intent.
    pub intent: PaymentIntent,
    /// The amount to pay, the order's total.
    pub amount: Money,
}

/// Starts paying an order (its owner, an admin, or anyone with the guest order's token).
pub struct StartPayment {
    /// Order reads.
    pub orders: Arc<dyn OrderRepository>,
    /// Where the intent is recorded.
    pub payments: Arc<dyn PaymentRepository>,
    /// The provider.
    pub provider: Arc<dyn PaymentProvider>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

impl StartPayment {
    /// The payment intent for the order's total; the same intent every time for one order.
    ///
    /// # Errors
    /// `NotFound` when missing or neither the caller's nor opened by `token`; `Conflict` when
    /// it is paid, cancelled or past paying; the provider's errors as [`PaymentError`] maps them.
    #[tracing::instrument(name = "start_payment", skip_all, fields(order_id = %id))]
    pub async fn execute(
        &self,
        actor: Option<&Actor>,
        token: Option<&str>,
        id: OrderId,
    ) -> Result<PaymentStarted, AppError> {
        let order = self.orders.get(id).await?.ok_or(AppError::NotFound)?;
        let by_token =
            token.is_some_and(|t| order.details().guest_token.is_some_and(|h| h.matches(t)));
        if !by_token && !actor.is_some_and(|a| a.may_act_for(order.user_id())) {
            return Err(AppError::NotFound);
        }
        if !order.awaits_payment() {
            return Err(AppError::Conflict {
                field: Some("status"),
                message: format!(
                    "the order is {} and {}: only a pending, unpaid order takes a payment",
                    order.status(),
                    order.payment_status()
                ),
            });
        }
        // The intent recorded for the order is answered again; the first is made with the
        // order's key, so two starts racing before either recorded it get one intent too.
        let intent = match self.payments.intent(id).await? {
            Some(existing) => self.provider.retrieve_intent(&existing).await?,
            None => {
                let intent = self
                    .provider
                    .create_intent(&IntentRequest {
                        order_id: id,
                        amount: order.total(),
                        idempotency_key: intent_key(id),
                    })
                    .await?;
                self.payments
                    .save_intent(id, &intent.id, self.clock.now())
                    .await?;
                intent
            }
        };
        Ok(PaymentStarted {
            provider: self.provider.name(),
            intent,
            amount: order.total(),
        })
    }
}

/// What became of a provider's payment event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentHandled {
    /// The event names no order of this shop: ignored.
    UnknownOrder,
    /// As recorded (`Duplicate` for an event id seen before).
    Recorded(Recorded),
    /// The order had been cancelled: the payment was refunded (with the intent's refund key,
    /// so once however often the event comes).
    Refunded,
}

/// The provider's word that money arrived (a verified `payment_intent.succeeded`).
pub struct ReceivePayment {
    /// Order reads.
    pub orders: Arc<dyn OrderRepository>,
    /// Where events are recorded and the order marked paid.
    pub payments: Arc<dyn PaymentRepository>,
    /// The provider, for refunds of payments that arrive too late.
    pub provider: Arc<dyn PaymentProvider>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The events the payment writes.
    pub events: Arc<Events>,
}

impl ReceivePayment {
    /// Marks the order paid when the event pays its amount in its currency and the order
    /// awaits payment; once per event id. A mismatch is recorded and leaves it unpaid. A
    /// payment for an order cancelled meanwhile is refunded.
    ///
    /// # Errors
    /// `Unavailable` when the database or (for a refund) the provider does not answer: the
    /// provider sends the event again.
    #[tracing::instrument(name = "receive_payment", skip_all, fields(order_id = %event.order_id))]
    pub async fn execute(&self, event: &PaymentReceived) -> Result<PaymentHandled, AppError> {
        let Some(order) = self.orders.get(event.order_id).await? else {
            tracing::warn!(event_id = %event.event_id, "a payment for an unknown order");
            return Ok(PaymentHandled::UnknownOrder);
        };
        let now = self.clock.now();
        let outcome = if !event.pays(&order) {
            tracing::warn!(
                event_id = %event.event_id,
                amount = event.amount_minor,
                currency = %event.currency,
                "a payment that does not match the order's total"
            );
            PaymentOutcome::Mismatch
        } else if order.awaits_payment() {
            PaymentOutcome::Paid
        } else {
            PaymentOutcome::NotPending
        };
        let events = if outcome == PaymentOutcome::Paid {
            let mut paid = order.clone();
            paid.change_status(OrderStatus::Paid, now)?;
            self.events.order_status_changed(&paid)
        } else {
            Vec::new()
        };
        let recorded = self.payments.record(event, outcome, now, &events).await?;
        if recorded == Recorded::As(PaymentOutcome::Paid) || outcome == PaymentOutcome::Mismatch {
            return Ok(PaymentHandled::Recorded(recorded));
        }
        // Not paid by this event: when the order is cancelled (before, or by a race the
        // compare-and-set lost), the money goes back. A duplicate comes here too, so a refund
        // that failed the first time is tried again on the provider's retry; its key keeps it one.
        let now_order = self.orders.get(event.order_id).await?;
        // A paid order cancelled was refunded by its cancel (`refunded`): nothing more goes back.
        if now_order.is_some_and(|o| {
            o.status() == OrderStatus::Cancelled && o.payment_status() == PaymentStatus::Unpaid
        }) {
            self.provider
                .refund(
                    Some(&event.intent_id),
                    order.total(),
                    &late_refund_key(&event.intent_id),
                )
                .await?;
            return Ok(PaymentHandled::Refunded);
        }
        Ok(PaymentHandled::Recorded(recorded))
    }
}

/// A provider's webhook event, once its signature was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderEvent {
    /// Money arrived for an order.
    PaymentSucceeded(PaymentReceived),
    /// Anything else (another type, or no order of this shop named): answered 200, ignored.
    Ignored(String),
}

/// Why a webhook request was refused (400, and nothing changes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WebhookRejected(pub String);

/// The provider's webhook scheme: checks a request's signature and reads its event.
pub trait PaymentWebhooks: Send + Sync {
    /// The event of `body`, when `signature` (the provider's header) signs it and is recent
    /// at `now`.
    ///
    /// # Errors
    /// [`WebhookRejected`] for a missing, wrong or stale signature, or a body that is no event.
    fn verify(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<ProviderEvent, WebhookRejected>;
}

/// A provider's webhook request: verified, then acted on.
pub struct HandlePaymentWebhook {
    /// The provider's scheme; none when the provider has no webhooks (`manual`).
    pub webhooks: Option<Arc<dyn PaymentWebhooks>>,
    /// What a payment does.
    pub receive: ReceivePayment,
}

impl HandlePaymentWebhook {
    /// Verifies and handles one webhook request.
    ///
    /// # Errors
    /// `NotFound` without a webhook scheme; `BadRequest` (400, nothing changed) for a refused
    /// signature or body; as [`ReceivePayment::execute`] otherwise.
    #[tracing::instrument(name = "payment_webhook", skip_all)]
    pub async fn execute(
        &self,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<Option<PaymentHandled>, AppError> {
        let webhooks = self.webhooks.as_ref().ok_or(AppError::NotFound)?;
        match webhooks.verify(signature, body, self.receive.clock.now()) {
            Err(e) => {
                tracing::warn!(reason = %e, "a payment webhook refused");
                Err(AppError::BadRequest(e.0))
            }
            Ok(ProviderEvent::Ignored(what)) => {
                tracing::debug!(event = %what, "a payment webhook ignored");
                Ok(None)
            }
            Ok(ProviderEvent::PaymentSucceeded(event)) => {
                self.receive.execute(&event).await.map(Some)
            }
        }
    }
}

/// The payment timeout (`ORDER_PAYMENT_TIMEOUT_MINUTES`): pending orders still unpaid that
/// long after they were placed are cancelled and their stock returned, each by the same
/// compare-and-set a cancel makes, so a payment racing it either wins (the order is paid and
/// stays) or loses (it is refunded when its webhook comes: see [`ReceivePayment`]).
pub struct ExpireUnpaidOrders {
    /// Order writes.
    pub orders: Arc<dyn OrderRepository>,
    /// The candidates.
    pub payments: Arc<dyn PaymentRepository>,
    /// The events each cancel writes.
    pub events: Arc<Events>,
    /// How long an order may wait for its payment.
    pub timeout: chrono::TimeDelta,
    /// Most orders looked at in one pass.
    pub batch: u32,
}

#[async_trait]
impl crate::jobs::PeriodicWork for ExpireUnpaidOrders {
    #[tracing::instrument(name = "expire_unpaid_orders", skip_all)]
    async fn run(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, domain::RepositoryError> {
        let ids = self
            .payments
            .unpaid_before(now - self.timeout, self.batch.max(1))
            .await?;
        let mut cancelled = 0;
        for id in ids {
            let Some(order) = self.orders.get(id).await? else {
                continue;
            };
            if !order.awaits_payment() {
                continue;
            }
            let mut next = order.clone();
            if next.change_status(OrderStatus::Cancelled, now).is_err() {
                continue;
            }
            // A lost compare-and-set means the order changed meanwhile (paid, or cancelled by
            // someone else): it is left as it now is.
            if self
                .orders
                .change_status_with_events(
                    id,
                    OrderStatus::Pending,
                    OrderStatus::Cancelled,
                    now,
                    &self.events.order_status_changed(&next),
                )
                .await?
            {
                cancelled += 1;
            }
        }
        Ok(cancelled)
    }
}
