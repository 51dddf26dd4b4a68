//! Payments: an order's payment status and its rules, what a provider's event says, and the
//! store of payment intents and of the provider events already handled.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::FieldError;
use crate::event::PendingEvent;
use crate::ids::OrderId;
use crate::money::Money;
use crate::order::{Order, OrderStatus};
use crate::repository::RepositoryError;

/// Where an order's money is: `unpaid` → `paid` → `refunded`, and no other way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    /// Nothing received yet.
    Unpaid,
    /// The order's amount was received.
    Paid,
    /// The amount went back to the customer.
    Refunded,
}

impl PaymentStatus {
    /// Every payment status.
    pub const ALL: [PaymentStatus; 3] = [Self::Unpaid, Self::Paid, Self::Refunded];

    /// Parses a payment status name.
    ///
    /// # Errors
    /// A `FieldError` on `payment_status` for a name that is not one.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                FieldError::new("payment_status", "must be one of: unpaid, paid, refunded")
            })
    }

    /// The name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Unpaid => "unpaid",
            Self::Paid => "paid",
            Self::Refunded => "refunded",
        }
    }

    /// The allowed edges: unpaid→paid and paid→refunded.
    pub fn can_become(self, next: PaymentStatus) -> bool {
        matches!(
            (self, next),
            (Self::Unpaid, Self::Paid) | (Self::Paid, Self::Refunded)
        )
    }

    /// The payment status an order has after its status becomes `to`: `paid` with the order
    /// (an admin recording a payment, or the provider's), `refunded` when a paid order is
    /// cancelled (its refund is made before the cancel is written); otherwise unchanged.
    /// The SQL adapters write the same rule in their status update.
    pub fn after_status_change(self, to: OrderStatus) -> PaymentStatus {
        match (self, to) {
            (Self::Unpaid, OrderStatus::Paid) => Self::Paid,
            (Self::Paid, OrderStatus::Cancelled) => Self::Refunded,
            (s, _) => s,
        }
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider's word that money arrived for an order (Stripe's `payment_intent.succeeded`),
/// as read from a verified webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentReceived {
    /// The provider's event id: each is acted on once.
    pub event_id: String,
    /// The payment intent that succeeded.
    pub intent_id: String,
    /// The order its metadata names.
    pub order_id: OrderId,
    /// The amount received, in minor units.
    pub amount_minor: i64,
    /// The currency received, as the provider writes it (Stripe: lowercase ISO 4217).
    pub currency: String,
}

impl PaymentReceived {
    /// Whether it pays exactly `order`'s total (amount and currency, case aside).
    pub fn pays(&self, order: &Order) -> bool {
        let total: Money = order.total();
        self.amount_minor == total.minor()
            && self.currency.eq_ignore_ascii_case(total.currency().code())
    }
}

/// What became of a provider event, as it is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// It paid the order.
    Paid,
    /// Its amount or currency was not the order's: recorded, the order left unpaid.
    Mismatch,
    /// The order was no longer pending and unpaid (cancelled, or paid already).
    NotPending,
}

impl PaymentOutcome {
    /// The name stored.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::Mismatch => "mismatch",
            Self::NotPending => "not_pending",
        }
    }
}

/// How [`PaymentRepository::record`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The event id was seen before: nothing was done.
    Duplicate,
    /// Recorded with this outcome.
    As(PaymentOutcome),
}

/// Payment intents per order and the provider events handled, each write atomic.
#[async_trait]
pub trait PaymentRepository: Send + Sync {
    /// The payment intent last recorded for `order`.
    async fn intent(&self, order: OrderId) -> Result<Option<String>, RepositoryError>;

    /// Records `intent` as `order`'s payment intent (the provider answers the same intent for
    /// the same idempotency key, so writing it again changes nothing).
    async fn save_intent(
        &self,
        order: OrderId,
        intent: &str,
        now: DateTime<Utc>,
    ) -> Result<(), RepositoryError>;

    /// Up to `limit` orders still `pending` and `unpaid` that were placed before `cutoff`,
    /// oldest first: the payment timeout's candidates.
    async fn unpaid_before(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OrderId>, RepositoryError>;

    /// In one transaction: records `event` by its id (`Duplicate`, with nothing else done,
    /// when the id was seen before) with `outcome`; when `outcome` is `Paid`, the order
    /// goes from `pending` and `unpaid` to `paid` and `paid` by compare-and-set, its payment
    /// intent becomes the event's (the one a refund goes to), and `events` are written; a lost compare-and-set records `NotPending` instead and writes no event.
    async fn record(
        &self,
        event: &PaymentReceived,
        outcome: PaymentOutcome,
        now: DateTime<Utc>,
        events: &[PendingEvent],
    ) -> Result<Recorded, RepositoryError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_status_moves_only_from_unpaid_to_paid_to_refunded() {
        use PaymentStatus::*;
        for from in PaymentStatus::ALL {
            for to in PaymentStatus::ALL {
                let allowed = matches!((from, to), (Unpaid, Paid) | (Paid, Refunded));
                assert_eq!(from.can_become(to), allowed, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn payment_status_names_parse_back_and_others_are_refused_on_the_field() {
        for p in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(p.as_str()), Ok(p));
        }
        let e = PaymentStatus::parse("PAID").unwrap_err();
        assert_eq!(e.field, "payment_status");
    }

    #[test]
    fn an_order_becoming_paid_is_paid_and_a_paid_one_cancelled_is_refunded() {
        use PaymentStatus::{Refunded, Unpaid};
        assert_eq!(
            Unpaid.after_status_change(OrderStatus::Paid),
            PaymentStatus::Paid
        );
        assert_eq!(
            PaymentStatus::Paid.after_status_change(OrderStatus::Cancelled),
            Refunded
        );
        assert_eq!(Unpaid.after_status_change(OrderStatus::Cancelled), Unpaid);
        assert_eq!(
            PaymentStatus::Paid.after_status_change(OrderStatus::Shipped),
            PaymentStatus::Paid
        );
        assert_eq!(
            Refunded.after_status_change(OrderStatus::Cancelled),
            Refunded
        );
    }

    /// An order of two at 2.50 EUR: 5.00 in all.
    fn order_of_five_euros() -> Order {
        use crate::{
            Currency, OrderId, Product, ProductId, ProductName, ProductStatus, Quantity, Sku, Slug,
            Stock, UserId, VariantId, VariantSet,
        };
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let variant = VariantId::new();
        let product = Product {
            id: ProductId::new(),
            name: ProductName::parse("A").unwrap(),
            slug: Slug::parse("a").unwrap(),
            status: ProductStatus::Active,
            description: None,
            variants: VariantSet::single(
                variant,
                Sku::parse("A-1").unwrap(),
                Money::parse("2.50", Currency::parse("EUR").unwrap()).unwrap(),
                Stock::new(5).unwrap(),
            ),
            created_at: now,
            updated_at: now,
        };
        Order::place(
            OrderId::new(),
            UserId::new(),
            vec![(product, variant, Quantity::new(2).unwrap())],
            None,
            now,
        )
        .unwrap()
    }

    #[test]
    fn a_payment_pays_an_order_only_with_its_total_in_its_currency_in_any_case() {
        let order = order_of_five_euros();
        let received = |amount_minor: i64, currency: &str| PaymentReceived {
            event_id: "evt_1".into(),
            intent_id: "pi_1".into(),
            order_id: order.id(),
            amount_minor,
            currency: currency.into(),
        };
        assert!(received(500, "eur").pays(&order));
        assert!(received(500, "EUR").pays(&order));
        assert!(!received(499, "eur").pays(&order), "a cent short");
        assert!(!received(501, "eur").pays(&order), "a cent over");
        assert!(!received(500, "usd").pays(&order), "another currency");
        assert!(!received(499, "usd").pays(&order), "neither");
    }

    #[test]
    fn outcomes_and_statuses_are_stored_and_shown_by_their_names() {
        assert_eq!(PaymentOutcome::Paid.as_str(), "paid");
        assert_eq!(PaymentOutcome::Mismatch.as_str(), "mismatch");
        assert_eq!(PaymentOutcome::NotPending.as_str(), "not_pending");
        for p in PaymentStatus::ALL {
            assert_eq!(p.to_string(), p.as_str());
        }
        assert_eq!(PaymentStatus::Refunded.to_string(), "refunded");
    }
}
