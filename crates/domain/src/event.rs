//! Domain events: what the shop tells the outside world happened. Each is written to the outbox
//! in the same transaction as the change it tells of, so a change that commits always has its
//! event and one that rolls back never does.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::error::FieldError;
use crate::ids::{EventId, VariantId};

/// The kinds of event, as their wire names say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// An order was placed.
    OrderPlaced,
    /// An order was paid.
    OrderPaid,
    /// An order's status changed (every change, cancellation included).
    OrderStatusChanged,
    /// An order was cancelled.
    OrderCancelled,
    /// An order was refunded.
    OrderRefunded,
    /// A product was added to the catalog.
    ProductCreated,
    /// A product was changed.
    ProductUpdated,
    /// A product was removed from the catalog.
    ProductDeleted,
    /// A product's (variant's) stock fell to the low-stock threshold or below.
    VariantLowStock,
    /// An account was registered.
    UserRegistered,
}

impl EventType {
    /// Every type, in the order the contract lists them.
    pub const ALL: [EventType; 10] = [
        EventType::OrderPlaced,
        EventType::OrderPaid,
        EventType::OrderStatusChanged,
        EventType::OrderCancelled,
        EventType::OrderRefunded,
        EventType::ProductCreated,
        EventType::ProductUpdated,
        EventType::ProductDeleted,
        EventType::VariantLowStock,
        EventType::UserRegistered,
    ];

    /// The wire name, such as `order.placed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::OrderPlaced => "order.placed",
            EventType::OrderPaid => "order.paid",
            EventType::OrderStatusChanged => "order.status_changed",
            EventType::OrderCancelled => "order.cancelled",
            EventType::OrderRefunded => "order.refunded",
            EventType::ProductCreated => "product.created",
            EventType::ProductUpdated => "product.updated",
            EventType::ProductDeleted => "product.deleted",
            EventType::VariantLowStock => "variant.low_stock",
            EventType::UserRegistered => "user.registered",
        }
    }

    /// The type of a wire name, exactly as written (no trimming, no case folding).
    ///
    /// # Errors
    /// A [`FieldError`] on `field` naming the accepted values.
    pub fn parse_as(field: &str, raw: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == raw)
            .ok_or_else(|| FieldError::new(field, "is not a known event type"))
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event as the outbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its id (time-ordered).
    pub id: EventId,
    /// What happened.
    pub event_type: EventType,
    /// The resource as the API shows it at the moment of the event, as JSON text.
    pub data: String,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

/// When an event is written along with its change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventCondition {
    /// Always.
    Always,
    /// Only when taking `taken` units of the variant `product`, inside the same transaction,
    /// moved its stock from above `threshold` to `threshold` or below (see
    /// [`stock_fell_to_low`]).
    StockFell {
        /// The variant whose stock is judged (the field keeps its name from when stock lived
        /// on products; the SQL that reads it is in `db/events.rs`).
        product: VariantId,
        /// Units taken by this change.
        taken: u32,
        /// The low-stock threshold.
        threshold: u32,
    },
}

/// An event to write with a change, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    /// The event.
    pub event: Event,
    /// When it is written.
    pub condition: EventCondition,
}

impl PendingEvent {
    /// An event written whenever its change commits.
    pub fn always(event: Event) -> Self {
        Self {
            event,
            condition: EventCondition::Always,
        }
    }
}

/// Whether stock that went from `before` to `after` fell to `threshold` or below just now: it
/// was above and is no longer. A product already low does not tell again on each sale.
pub const fn stock_fell_to_low(before: u32, after: u32, threshold: u32) -> bool {
    before > threshold && after <= threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_its_wire_name_and_parses_back() {
        let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(
            names,
            [
                "order.placed",
                "order.paid",
                "order.status_changed",
                "order.cancelled",
                "order.refunded",
                "product.created",
                "product.updated",
                "product.deleted",
                "variant.low_stock",
                "user.registered",
            ]
        );
        for t in EventType::ALL {
            assert_eq!(EventType::parse_as("type", t.as_str()), Ok(t));
            assert_eq!(t.to_string(), t.as_str());
        }
    }

    #[test]
    fn unknown_blank_or_differently_written_types_are_refused_on_their_field() {
        for raw in [
            "",
            "order",
            "Order.Placed",
            " order.placed",
            "order.placed ",
            "*",
        ] {
            let e = EventType::parse_as("type", raw).unwrap_err();
            assert_eq!(e.field, "type", "{raw:?}");
            assert_eq!(e.message, "is not a known event type");
        }
    }

    #[test]
    fn low_stock_tells_only_when_the_threshold_is_crossed() {
        assert!(stock_fell_to_low(6, 5, 5));
        assert!(stock_fell_to_low(6, 0, 5));
        assert!(stock_fell_to_low(100, 4, 5));
        assert!(!stock_fell_to_low(7, 6, 5));
        assert!(!stock_fell_to_low(5, 4, 5));
        assert!(!stock_fell_to_low(5, 5, 5));
        assert!(stock_fell_to_low(1, 0, 0));
        assert!(!stock_fell_to_low(0, 0, 0));
    }

    #[test]
    fn an_event_always_written_says_so() {
        let event = Event {
            id: EventId::new(),
            event_type: EventType::OrderPlaced,
            data: "{}".into(),
            created_at: DateTime::UNIX_EPOCH,
        };
        let pending = PendingEvent::always(event.clone());
        assert_eq!(pending.event, event);
        assert_eq!(pending.condition, EventCondition::Always);
    }
}
