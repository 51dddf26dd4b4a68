//! Domain events: how the use cases make them (the resource's JSON at the moment of the change)
//! and the admin's event log.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::{
    Event, EventCondition, EventId, EventType, ImageRepository, Order, OrderStatus, Page,
    PageRequest, PendingEvent, Product, ProductId, Quantity, Stock, User, VariantId,
};

use crate::ports::{EventReadModel, ProductView, ResourceJson};
use crate::{Actor, AppError};

/// Stock at or below which a product is low (`LOW_STOCK_THRESHOLD`), by default.
pub const DEFAULT_LOW_STOCK_THRESHOLD: u32 = 5;

/// Makes the events a change writes with itself.
pub struct Events {
    /// How the resources look in the API.
    pub json: Arc<dyn ResourceJson>,
    /// Stock at or below which a product is low.
    pub low_stock_threshold: u32,
}

impl Events {
    fn event(&self, event_type: EventType, data: String, at: DateTime<Utc>) -> Event {
        Event {
            id: EventId::new(),
            event_type,
            data,
            created_at: at,
        }
    }

    /// `order.placed`, with the order as placed.
    pub fn order_placed(&self, order: &Order) -> PendingEvent {
        PendingEvent::always(self.event(
            EventType::OrderPlaced,
            self.json.order(order),
            order.created_at(),
        ))
    }

    /// `order.placed`, and a `variant.low_stock` for each variant the order may leave low
    /// (written only when it does), `taken` naming each line's product as last read, its
    /// variant and quantity: the images of those products are read in one query. Orders
    /// placed directly and from a cart raise the same events.
    ///
    /// # Errors
    /// `Unavailable` when the images cannot be read.
    pub async fn of_placed(
        &self,
        images: &dyn ImageRepository,
        order: &Order,
        taken: &[(Product, VariantId, Quantity)],
    ) -> Result<Vec<PendingEvent>, AppError> {
        let stock_of = |p: &Product, v: VariantId| p.variants.get(v).map_or(0, |x| x.stock.get());
        let mut events = vec![self.order_placed(order)];
        let low: Vec<&(Product, VariantId, Quantity)> = taken
            .iter()
            .filter(|(p, v, q)| self.may_fall_low(stock_of(p, *v), q.get()))
            .collect();
        if low.is_empty() {
            return Ok(events);
        }
        let ids: Vec<ProductId> = low.iter().map(|(p, _, _)| p.id).collect();
        let images = images.of_products(&ids).await?;
        for (product, variant, qty) in low {
            let left = Stock::new(i64::from(
                stock_of(product, *variant).saturating_sub(qty.get()),
            ))
            .map_err(|e| AppError::Validation(vec![e]))?;
            // Categories are not read here: a low-stock event names the product's stock, not
            // its categories (the product's own events carry them).
            let view = ProductView::with_images_of(product.clone(), &images);
            events.push(self.stock_taken(
                &with_stock(&view, *variant, left),
                *variant,
                qty.get(),
                order.created_at(),
            ));
        }
        Ok(events)
    }

    /// Whether taking `taken` units from `stock_seen` (the stock as last read) would leave the
    /// product low: then its `variant.low_stock` is made, to be written only when the stock the
    /// transaction really leaves crossed the threshold.
    pub fn may_fall_low(&self, stock_seen: u32, taken: u32) -> bool {
        stock_seen.saturating_sub(taken) <= self.low_stock_threshold
    }

    /// `variant.low_stock` for an order that takes `taken` units of the variant `variant` of
    /// `product` (as it looks after the order), written only when the order's own transaction
    /// moves the variant's stock across the threshold.
    pub fn stock_taken(
        &self,
        product: &ProductView,
        variant: domain::VariantId,
        taken: u32,
        at: DateTime<Utc>,
    ) -> PendingEvent {
        PendingEvent {
            event: self.event(EventType::VariantLowStock, self.json.product(product), at),
            condition: EventCondition::StockFell {
                product: variant,
                taken,
                threshold: self.low_stock_threshold,
            },
        }
    }

    /// `order.status_changed` for every change, and as well `order.paid` when the order became
    /// paid or `order.cancelled` when it was cancelled (so a receiver that cares only for
    /// payments or cancellations subscribes to those alone), and `order.refunded` when a paid
    /// order was cancelled (and so refunded); `order` is the order after the change.
    pub fn order_status_changed(&self, order: &Order) -> Vec<PendingEvent> {
        let data = self.json.order(order);
        let at = order.updated_at();
        let mut events = vec![PendingEvent::always(self.event(
            EventType::OrderStatusChanged,
            data.clone(),
            at,
        ))];
        let also = match order.status() {
            OrderStatus::Paid => Some(EventType::OrderPaid),
            OrderStatus::Cancelled => Some(EventType::OrderCancelled),
            _ => None,
        };
        if let Some(event_type) = also {
            events.push(PendingEvent::always(self.event(
                event_type,
                data.clone(),
                at,
            )));
        }
        if order.payment_status() == domain::PaymentStatus::Refunded
            && order.status() == OrderStatus::Cancelled
        {
            events.push(PendingEvent::always(self.event(
                EventType::OrderRefunded,
                data,
                at,
            )));
        }
        events
    }

    /// `product.created`.
    pub fn product_created(&self, product: &ProductView) -> PendingEvent {
        PendingEvent::always(self.event(
            EventType::ProductCreated,
            self.json.product(product),
            product.product.created_at,
        ))
    }

    /// `product.updated` with the product as stored after the change, and `variant.low_stock`
    /// as well when the change set its stock to the threshold or below.
    pub fn product_updated(&self, product: &ProductView, stock_set: bool) -> Vec<PendingEvent> {
        let data = self.json.product(product);
        let at = product.product.updated_at;
        let mut events = Vec::with_capacity(2);
        if stock_set && product.product.stock() <= u64::from(self.low_stock_threshold) {
            events.push(PendingEvent::always(self.event(
                EventType::VariantLowStock,
                data.clone(),
                at,
            )));
        }
        events.insert(
            0,
            PendingEvent::always(self.event(EventType::ProductUpdated, data, at)),
        );
        events
    }

    /// `product.updated` with the product as stored after a change of its variant `variant`,
    /// and `variant.low_stock` as well when the change set that variant's stock to the
    /// threshold or below (the variant's own stock, as an order's low stock is judged).
    pub fn variant_updated(
        &self,
        product: &ProductView,
        variant: domain::VariantId,
        stock_set: bool,
    ) -> Vec<PendingEvent> {
        let data = self.json.product(product);
        let at = product.product.updated_at;
        let mut events = vec![PendingEvent::always(self.event(
            EventType::ProductUpdated,
            data.clone(),
            at,
        ))];
        let low = product
            .product
            .variants
            .get(variant)
            .is_some_and(|v| v.stock.get() <= self.low_stock_threshold);
        if stock_set && low {
            events.push(PendingEvent::always(self.event(
                EventType::VariantLowStock,
                data,
                at,
            )));
        }
        events
    }

    /// `product.deleted`, with the product as it was just before.
    pub fn product_deleted(&self, product: &ProductView, at: DateTime<Utc>) -> PendingEvent {
        PendingEvent::always(self.event(EventType::ProductDeleted, self.json.product(product), at))
    }

    /// `user.registered`.
    pub fn user_registered(&self, user: &User) -> PendingEvent {
        PendingEvent::always(self.event(
            EventType::UserRegistered,
            self.json.user(user),
            user.created_at,
        ))
    }
}

/// The product `product` as it looks with `stock` units of its variant `variant`.
pub fn with_stock(
    product: &ProductView,
    variant: domain::VariantId,
    stock: domain::Stock,
) -> ProductView {
    let mut product = product.clone();
    product.product.variants.set_stock(variant, stock);
    product
}

/// The event log (admins only).
pub struct ListEvents {
    /// Event reads.
    pub reads: Arc<dyn EventReadModel>,
}

impl ListEvents {
    /// One page, newest first.
    ///
    /// # Errors
    /// `Forbidden` for non-admins, `Unavailable` when the database does not answer.
    #[tracing::instrument(name = "list_events", skip_all)]
    pub async fn execute(
        &self,
        actor: &Actor,
        event_type: Option<EventType>,
        page: PageRequest,
    ) -> Result<Page<Event>, AppError> {
        actor.require_admin()?;
        Ok(self.reads.list(event_type, page).await?)
    }
}
