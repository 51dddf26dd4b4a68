//! Order use cases: placing (with idempotency keys), reading, listing, cancelling and the
//! admin's status changes. A user sees and cancels only their own orders; anyone else's answer
//! `NotFound`, exactly like a missing one.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::TimeDelta;
use domain::{
    Address, AddressInput, FieldError, IdempotencyRecord, ImageRepository, Order, OrderId,
    OrderRepository, OrderStatus, Page, PageRequest, PendingEvent, PlaceOrderError, ProductId,
    ProductRepository, Stock, UserId, Validator, order::merge_lines,
};
use sha2::{Digest, Sha256};

use crate::events::{Events, with_stock};
use crate::ports::{Clock, Metrics, OrderFilter, OrderReadModel, ProductView};
use crate::{Actor, AppError};

/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_WINDOW: TimeDelta = TimeDelta::hours(24);
/// Longest `Idempotency-Key` accepted.
pub const MAX_KEY_CHARS: usize = 255;

/// An `Idempotency-Key` as a client may send it: 1 to [`MAX_KEY_CHARS`] characters once
/// surrounding blanks are dropped. Keys are per user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The key of `raw`, trimmed.
    ///
    /// # Errors
    /// A [`FieldError`] on `Idempotency-Key` when it is blank or too long.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let key = raw.trim();
        if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
            return Err(FieldError::new(
                "Idempotency-Key",
                "must be 1 to 255 characters",
            ));
        }
        Ok(Self(key.to_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An order as the client sent it.
#[derive(Debug, Clone)]
pub struct PlaceOrderCommand {
    /// `(product_id, quantity)` per line, as sent.
    pub items: Vec<(ProductId, i64)>,
    /// Where it goes.
    pub shipping_address: Option<AddressInput>,
    /// The `Idempotency-Key` header, when sent.
    pub idempotency_key: Option<IdempotencyKey>,
}

impl PlaceOrderCommand {
    /// A fingerprint of the body, so a key reused with another body is told apart.
    fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for (p, q) in &self.items {
            h.update(format!("{p}:{q};"));
        }
        if let Some(a) = &self.shipping_address {
            for part in [
                Some(a.line1.as_str()),
                a.line2.as_deref(),
                Some(a.city.as_str()),
                Some(a.postal_code.as_str()),
                Some(a.country.as_str()),
                a.state.as_deref(),
            ] {
                match part {
                    Some(s) => h.update(format!("{}:{s}", s.len())),
                    None => h.update("-"),
                }
            }
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What placing answered: a new order, or the order a repeated key placed before.
#[derive(Debug, Clone)]
pub enum Placed {
    /// Placed now.
    New(Order),
    /// Placed by an earlier request with the same key and body.
    Replayed(Order),
}

impl Placed {
    /// The order either way.
    pub fn into_order(self) -> Order {
        match self {
            Placed::New(o) | Placed::Replayed(o) => o,
        }
    }
}

/// Places an order for the signed-in user: prices copied, stock taken, all or nothing.
pub struct PlaceOrder {
    /// Order writes.
    pub orders: Arc<dyn OrderRepository>,
    /// Product writes.
    pub products: Arc<dyn ProductRepository>,
    /// Product image rows (for the low-stock events' products).
    pub images: Arc<dyn ImageRepository>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Where the business events it decides are counted.
    pub metrics: Arc<dyn Metrics>,
    /// The events it writes with the order.
    pub events: Arc<Events>,
}

impl PlaceOrder {
    /// `order.placed`, and a `variant.low_stock` for each product the order may leave low
    /// (written only when it does): the images of those products are read in one query.
    async fn events_of(
        &self,
        order: &Order,
        priced: &[(domain::Product, domain::Quantity)],
    ) -> Result<Vec<PendingEvent>, AppError> {
        let mut events = vec![self.events.order_placed(order)];
        let low: Vec<&(domain::Product, domain::Quantity)> = priced
            .iter()
            .filter(|(p, q)| self.events.may_fall_low(p.stock.get(), q.get()))
            .collect();
        if low.is_empty() {
            return Ok(events);
        }
        let ids: Vec<ProductId> = low.iter().map(|(p, _)| p.id).collect();
        let images = self.images.of_products(&ids).await?;
        for (product, qty) in low {
            let left = Stock::new(i64::from(product.stock.get().saturating_sub(qty.get())))
                .map_err(|e| AppError::Validation(vec![e]))?;
            // Categories are not read here: a low-stock event names the product's stock, not
            // its categories (the product's own events carry them).
            let view = ProductView::with_images_of(product.clone(), &images);
            events.push(self.events.stock_taken(
                &with_stock(&view, left),
                qty.get(),
                order.created_at(),
            ));
        }
        Ok(events)
    }

    async fn replay(
        &self,
        user: UserId,
        key: &str,
        hash: &str,
    ) -> Result<Option<Placed>, AppError> {
        let Some(record) = self.orders.find_key(user, key, self.clock.now()).await? else {
            return Ok(None);
        };
        if record.request_hash != hash {
            return Err(AppError::Conflict {
                field: Some("Idempotency-Key"),
                message: "this Idempotency-Key was used with a different request body".into(),
            });
        }
        let order = self
            .orders
            .get(record.order_id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(Some(Placed::Replayed(order)))
    }

    /// Validates, prices, and places the order; a repeated key with the same body answers the
    /// first order again, also when the two requests race.
    ///
    /// # Errors
    /// `Validation` (bad lines, unknown products, mixed currencies, bad address),
    /// `Conflict` (insufficient stock, naming the product; a key reused with another body).
    #[tracing::instrument(name = "place_order", skip_all, fields(user_id = %actor.user_id))]
    pub async fn execute(&self, actor: &Actor, cmd: PlaceOrderCommand) -> Result<Placed, AppError> {
        let mut v = Validator::new();
        let key = cmd.idempotency_key.as_ref().map(IdempotencyKey::as_str);
        let address: Option<Option<Address>> = match &cmd.shipping_address {
            None => Some(None),
            Some(a) => Address::parse(&mut v, "shipping_address", a).map(Some),
        };
        let lines = match merge_lines(&cmd.items) {
            Ok(lines) => Some(lines),
            Err(domain::DomainError::Validation(errors)) => {
                errors.into_iter().for_each(|e| v.push(e));
                None
            }
            Err(e) => return Err(e.into()),
        };
        v.finish()?;
        let (Some(lines), Some(address)) = (lines, address) else {
            return Err(AppError::invalid("items", "invalid order"));
        };
        let hash = cmd.fingerprint();
        if let Some(key) = key
            && let Some(placed) = self.replay(actor.user_id, key, &hash).await?
        {
            return Ok(placed);
        }

        let ids: Vec<ProductId> = lines.iter().map(|(p, _)| *p).collect();
        let found: HashMap<ProductId, domain::Product> = self
            .products
            .get_many(&ids)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let mut priced = Vec::with_capacity(lines.len());
        let mut v = Validator::new();
        for (i, (id, qty)) in lines.into_iter().enumerate() {
            match found.get(&id) {
                Some(p) if !p.status.is_public() => v.push(FieldError::new(
                    format!("items[{i}].product_id"),
                    format!("product {id} is not for sale (it is {})", p.status.as_str()),
                )),
                Some(p) => priced.push((p.clone(), qty)),
                None => v.push(FieldError::new(
                    format!("items[{i}].product_id"),
                    format!("product {id} does not exist"),
                )),
            }
        }
        v.finish()?;
        let now = self.clock.now();
        let order = Order::place(OrderId::new(), actor.user_id, priced.clone(), address, now)?;
        let events = self.events_of(&order, &priced).await?;
        let record = key.map(|k| IdempotencyRecord {
            user_id: actor.user_id,
            key: k.to_owned(),
            request_hash: hash.clone(),
            order_id: order.id(),
            expires_at: now + IDEMPOTENCY_WINDOW,
        });
        match self
            .orders
            .place_with_events(&order, record.as_ref(), &events)
            .await
        {
            Ok(()) => {
                self.metrics.order_placed();
                Ok(Placed::New(order))
            }
            Err(PlaceOrderError::InsufficientStock(id)) => Err(AppError::Conflict {
                field: Some("items"),
                message: format!("insufficient stock for product {id}"),
            }),
            Err(PlaceOrderError::UnknownProduct(id)) => Err(AppError::invalid(
                "items",
                format!("product {id} does not exist"),
            )),
            Err(PlaceOrderError::KeyTaken) => {
                // The racing request with this key committed first: answer its order.
                let key = key.unwrap_or_default();
                self.replay(actor.user_id, key, &hash)
                    .await?
                    .ok_or(AppError::Conflict {
                        field: Some("Idempotency-Key"),
                        message: "this Idempotency-Key is in use by another request".into(),
                    })
            }
            Err(PlaceOrderError::Repository(e)) => Err(e.into()),
        }
    }
}

/// The order `id` when `actor` may see it (its owner, or an admin); anyone else's answers
/// `NotFound`, exactly like a missing one.
async fn own_order(
    orders: &dyn OrderRepository,
    actor: &Actor,
    id: OrderId,
) -> Result<Order, AppError> {
    let order = orders.get(id).await?.ok_or(AppError::NotFound)?;
    if !actor.may_act_for(order.user_id()) {
        return Err(AppError::NotFound);
    }
    Ok(order)
}

/// Reads one order: the owner's or, for an admin, any.
pub struct GetOrder {
    /// Order writes.
    pub orders: Arc<dyn OrderRepository>,
}

impl GetOrder {
    /// The order.
    ///
    /// # Errors
    /// `NotFound` when missing or someone else's.
    #[tracing::instrument(name = "get_order", skip_all, fields(order_id = %id))]
    pub async fn execute(&self, actor: &Actor, id: OrderId) -> Result<Order, AppError> {
        own_order(&*self.orders, actor, id).await
    }
}

/// Lists orders: a user's own, or (admin) all with optional filters.
pub struct ListOrders {
    /// Order reads.
    pub reads: Arc<dyn OrderReadModel>,
}

impl ListOrders {
    /// One page, newest first. For non-admins the `user_id` filter is always their own.
    ///
    /// # Errors
    /// `Unavailable` when the database does not answer.
    #[tracing::instrument(name = "list_orders", skip_all)]
    pub async fn execute(
        &self,
        actor: &Actor,
        mut filter: OrderFilter,
        page: PageRequest,
    ) -> Result<Page<Order>, AppError> {
        if !actor.is_admin() {
            filter.user_id = Some(actor.user_id);
        }
        Ok(self.reads.list(filter, page).await?)
    }
}

/// Moves an order along its status machine; the admin's tool, and cancellation's engine.
async fn transition(
    orders: &dyn OrderRepository,
    clock: &dyn Clock,
    metrics: &dyn Metrics,
    events: &Events,
    actor: &Actor,
    id: OrderId,
    next: OrderStatus,
) -> Result<Order, AppError> {
    // A lost compare-and-set means another request changed the status first: look again.
    for _ in 0..3 {
        let mut order = own_order(orders, actor, id).await?;
        let from = order.status();
        order.change_status(next, clock.now())?;
        if orders
            .change_status_with_events(
                id,
                from,
                next,
                order.updated_at(),
                &events.order_status_changed(&order),
            )
            .await?
        {
            // Only the request whose compare-and-set won changed the status: count it once.
            if next == OrderStatus::Cancelled {
                metrics.order_cancelled();
            }
            return Ok(order);
        }
    }
    Err(AppError::Conflict {
        field: Some("status"),
        message: "the order changed meanwhile; try again".into(),
    })
}

/// Cancels an order (its owner or an admin); its stock goes back exactly once.
pub struct CancelOrder {
    /// Order writes.
    pub orders: Arc<dyn OrderRepository>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Where the business events it decides are counted.
    pub metrics: Arc<dyn Metrics>,
    /// The events it writes with the change.
    pub events: Arc<Events>,
}

impl CancelOrder {
    /// Cancels a pending or paid order.
    ///
    /// # Errors
    /// `NotFound` (missing or someone else's), `Conflict` when it is past cancelling.
    #[tracing::instrument(name = "cancel_order", skip_all, fields(order_id = %id))]
    pub async fn execute(&self, actor: &Actor, id: OrderId) -> Result<Order, AppError> {
        transition(
            &*self.orders,
            &*self.clock,
            &*self.metrics,
            &self.events,
            actor,
            id,
            OrderStatus::Cancelled,
        )
        .await
    }
}

/// Changes an order's status (admins only), along the allowed edges.
pub struct ChangeOrderStatus {
    /// Order writes.
    pub orders: Arc<dyn OrderRepository>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Where the business events it decides are counted.
    pub metrics: Arc<dyn Metrics>,
    /// The events it writes with the change.
    pub events: Arc<Events>,
}

impl ChangeOrderStatus {
    /// Applies the change.
    ///
    /// # Errors
    /// `Forbidden` for non-admins, `Validation` for an unknown status, `NotFound`,
    /// `Conflict` for a change the status machine does not allow.
    #[tracing::instrument(name = "change_order_status", skip_all, fields(order_id = %id))]
    pub async fn execute(
        &self,
        actor: &Actor,
        id: OrderId,
        status: &str,
    ) -> Result<Order, AppError> {
        actor.require_admin()?;
        let next = OrderStatus::parse(status).map_err(|e| AppError::Validation(vec![e]))?;
        transition(
            &*self.orders,
            &*self.clock,
            &*self.metrics,
            &self.events,
            actor,
            id,
            next,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::NoMetrics;
    use crate::testing::*;
    use domain::{Currency, Money, Product, ProductName, Quantity, Role, Sku, Stock};

    fn sample_order(owner: UserId) -> Order {
        let now = FixedClock.now();
        let product = Product {
            id: ProductId::new(),
            sku: Sku::parse("A-1").unwrap(),
            name: ProductName::parse("A").unwrap(),
            slug: domain::Slug::parse("a").unwrap(),
            status: domain::ProductStatus::Active,
            description: None,
            price: Money::parse("2.50", Currency::parse("EUR").unwrap()).unwrap(),
            stock: Stock::new(5).unwrap(),
            created_at: now,
            updated_at: now,
        };
        Order::place(
            OrderId::new(),
            owner,
            vec![(product, Quantity::new(2).unwrap())],
            None,
            now,
        )
        .unwrap()
    }

    fn setup() -> (Arc<MemoryOrders>, Actor, Actor, Actor, OrderId) {
        let orders = Arc::new(MemoryOrders::default());
        let owner = actor(&[Role::User]);
        let order = sample_order(owner.user_id);
        let id = order.id();
        orders.orders.lock().unwrap().push(order);
        (
            orders,
            owner,
            actor(&[Role::User]),
            actor(&[Role::User, Role::Admin]),
            id,
        )
    }

    #[tokio::test]
    async fn other_peoples_orders_are_not_found() {
        let (orders, owner, stranger, admin, id) = setup();
        let get = GetOrder {
            orders: orders.clone(),
        };
        assert!(get.execute(&owner, id).await.is_ok());
        assert!(get.execute(&admin, id).await.is_ok());
        assert!(matches!(
            get.execute(&stranger, id).await,
            Err(AppError::NotFound)
        ));
        let cancel = CancelOrder {
            orders: orders.clone(),
            clock: Arc::new(FixedClock),
            metrics: Arc::new(NoMetrics),
            events: events(),
        };
        assert!(matches!(
            cancel.execute(&stranger, id).await,
            Err(AppError::NotFound)
        ));
        assert_eq!(
            cancel.execute(&owner, id).await.unwrap().status(),
            OrderStatus::Cancelled
        );
    }

    #[tokio::test]
    async fn placing_and_cancelling_are_counted_once_each() {
        let metrics = Arc::new(CountingMetrics::default());
        let (orders, owner, _, admin, id) = setup();
        let products = Arc::new(MemoryProducts::default());
        let product = products.add_sample("M-1");
        let place = PlaceOrder {
            orders: orders.clone(),
            products: products.clone(),
            images: products,
            clock: Arc::new(FixedClock),
            metrics: metrics.clone(),
            events: events(),
        };
        let cmd = PlaceOrderCommand {
            items: vec![(product, 1)],
            shipping_address: None,
            idempotency_key: None,
        };
        let placed = place.execute(&owner, cmd.clone()).await.unwrap();
        assert!(matches!(placed, Placed::New(_)));
        assert_eq!(metrics.counts(), (1, 0, 0));

        let cancel = CancelOrder {
            orders: orders.clone(),
            clock: Arc::new(FixedClock),
            metrics: metrics.clone(),
            events: events(),
        };
        cancel.execute(&owner, id).await.unwrap();
        // Cancelling again is refused and changes nothing: not counted.
        assert!(cancel.execute(&owner, id).await.is_err());
        assert_eq!(metrics.counts(), (1, 1, 0));

        let change = ChangeOrderStatus {
            orders: orders.clone(),
            clock: Arc::new(FixedClock),
            metrics: metrics.clone(),
            events: events(),
        };
        let other = placed.into_order().id();
        change.execute(&admin, other, "paid").await.unwrap();
        assert_eq!(metrics.counts(), (1, 1, 0));
        change.execute(&admin, other, "cancelled").await.unwrap();
        assert_eq!(metrics.counts(), (1, 2, 0));
    }

    #[tokio::test]
    async fn only_admins_change_status() {
        let (orders, owner, _, admin, id) = setup();
        let change = ChangeOrderStatus {
            orders: orders.clone(),
            clock: Arc::new(FixedClock),
            metrics: Arc::new(NoMetrics),
            events: events(),
        };
        assert!(matches!(
            change.execute(&owner, id, "paid").await,
            Err(AppError::Forbidden)
        ));
        assert!(matches!(
            change.execute(&admin, id, "bogus").await,
            Err(AppError::Validation(_))
        ));
        assert_eq!(
            change.execute(&admin, id, "paid").await.unwrap().status(),
            OrderStatus::Paid
        );
    }

    #[tokio::test]
    async fn every_status_edge_is_allowed_or_refused_as_the_machine_says() {
        use OrderStatus::*;
        // How to reach each status from pending along allowed edges.
        let path = |s: OrderStatus| -> Vec<&'static str> {
            match s {
                Pending => vec![],
                Paid => vec!["paid"],
                Shipped => vec!["paid", "shipped"],
                Delivered => vec!["paid", "shipped", "delivered"],
                Cancelled => vec!["cancelled"],
            }
        };
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                let (orders, _, _, admin, id) = setup();
                let change = ChangeOrderStatus {
                    orders: orders.clone(),
                    clock: Arc::new(FixedClock),
                    metrics: Arc::new(NoMetrics),
                    events: events(),
                };
                for step in path(from) {
                    change.execute(&admin, id, step).await.unwrap();
                }
                let result = change.execute(&admin, id, to.as_str()).await;
                if from.can_become(to) {
                    assert_eq!(result.unwrap().status(), to, "{from} -> {to}");
                } else {
                    assert!(
                        matches!(result, Err(AppError::Conflict { .. })),
                        "{from} -> {to} was not refused"
                    );
                    assert_eq!(
                        GetOrder { orders }
                            .execute(&admin, id)
                            .await
                            .unwrap()
                            .status(),
                        from
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn users_list_only_their_own_orders() {
        struct Spy(std::sync::Mutex<Option<OrderFilter>>);
        #[async_trait::async_trait]
        impl OrderReadModel for Spy {
            async fn list(
                &self,
                filter: OrderFilter,
                page: PageRequest,
            ) -> Result<Page<Order>, domain::RepositoryError> {
                *self.0.lock().unwrap() = Some(filter);
                Ok(Page::empty(page))
            }
        }
        let spy = Arc::new(Spy(std::sync::Mutex::new(None)));
        let list = ListOrders { reads: spy.clone() };
        let user = actor(&[Role::User]);
        let someone = UserId::new();
        list.execute(
            &user,
            OrderFilter {
                user_id: Some(someone),
                status: None,
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
        assert_eq!(spy.0.lock().unwrap().unwrap().user_id, Some(user.user_id));
        list.execute(
            &actor(&[Role::Admin]),
            OrderFilter {
                user_id: Some(someone),
                status: None,
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
        assert_eq!(spy.0.lock().unwrap().unwrap().user_id, Some(someone));
    }
}
