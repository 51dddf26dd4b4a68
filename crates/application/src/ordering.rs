//! Order use cases: placing (with idempotency keys), reading, listing, cancelling and the
//! admin's status changes. A user sees and cancels only their own orders; anyone else's answer
//! `NotFound`, exactly like a missing one.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::TimeDelta;
use domain::{
    Address, AddressInput, FieldError, IdempotencyRecord, ImageRepository, Order, OrderId,
    OrderRepository, OrderStatus, Page, PageRequest, PlaceOrderError, Product, ProductId,
    ProductRepository, Quantity, UserId, Validator, VariantId, order::merge_lines,
};
use sha2::{Digest, Sha256};

use crate::events::Events;
use crate::payments::Refunds;
use crate::ports::{Clock, Metrics, OrderFilter, OrderReadModel};
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

/// What one line of an order names: a variant, or a product of one variant (which stands for
/// that variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderItem {
    /// A product, which must have exactly one variant.
    Product(ProductId),
    /// One variant of a product.
    Variant(VariantId),
}

impl std::fmt::Display for OrderItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // As before variants, so a key reused for the same body still matches.
            OrderItem::Product(id) => write!(f, "{id}"),
            OrderItem::Variant(id) => write!(f, "variant {id}"),
        }
    }
}

/// An order as the client sent it.
#[derive(Debug, Clone)]
pub struct PlaceOrderCommand {
    /// `(product or variant, quantity)` per line, as sent.
    pub items: Vec<(OrderItem, i64)>,
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
    /// The products the `lines` name, each line resolved to one variant, with the lines of
    /// one variant merged.
    ///
    /// # Errors
    /// `Validation` on `items[i].product_id` / `items[i].variant_id` for what does not exist
    /// or is not for sale, on `items[i].variant_id` for a product of several variants named
    /// by `product_id`, on `items[i].quantity` when merged lines exceed 1000.
    async fn resolve(
        &self,
        lines: Vec<(OrderItem, Quantity)>,
    ) -> Result<Vec<(Product, VariantId, Quantity)>, AppError> {
        let product_ids: Vec<ProductId> = lines
            .iter()
            .filter_map(|(item, _)| match item {
                OrderItem::Product(id) => Some(*id),
                OrderItem::Variant(_) => None,
            })
            .collect();
        let variant_ids: Vec<VariantId> = lines
            .iter()
            .filter_map(|(item, _)| match item {
                OrderItem::Variant(id) => Some(*id),
                OrderItem::Product(_) => None,
            })
            .collect();
        let mut found: HashMap<ProductId, Product> = HashMap::new();
        if !product_ids.is_empty() {
            found.extend(
                self.products
                    .get_many(&product_ids)
                    .await?
                    .into_iter()
                    .map(|p| (p.id, p)),
            );
        }
        let mut owner: HashMap<VariantId, ProductId> = HashMap::new();
        if !variant_ids.is_empty() {
            for p in self.products.of_variants(&variant_ids).await? {
                for x in p.variants.variants() {
                    owner.insert(x.id, p.id);
                }
                found.insert(p.id, p);
            }
        }
        let mut v = Validator::new();
        let mut resolved: Vec<(VariantId, i64)> = Vec::with_capacity(lines.len());
        for (i, (item, qty)) in lines.into_iter().enumerate() {
            let (field, product) = match item {
                OrderItem::Product(id) => (
                    format!("items[{i}].product_id"),
                    found
                        .get(&id)
                        .ok_or_else(|| format!("product {id} does not exist")),
                ),
                OrderItem::Variant(id) => (
                    format!("items[{i}].variant_id"),
                    owner
                        .get(&id)
                        .and_then(|p| found.get(p))
                        .ok_or_else(|| format!("variant {id} does not exist")),
                ),
            };
            match product {
                Err(message) => v.push(FieldError::new(field, message)),
                Ok(p) if !p.status.is_public() => v.push(FieldError::new(
                    field,
                    format!(
                        "product {} is not for sale (it is {})",
                        p.id,
                        p.status.as_str()
                    ),
                )),
                Ok(p) => match item {
                    OrderItem::Variant(id) => resolved.push((id, i64::from(qty.get()))),
                    OrderItem::Product(_) if p.variants.variants().len() == 1 => {
                        resolved.push((p.variants.first().id, i64::from(qty.get())));
                    }
                    OrderItem::Product(id) => v.push(FieldError::new(
                        format!("items[{i}].variant_id"),
                        format!(
                            "product {id} has {} variants: name the one to buy by variant_id",
                            p.variants.variants().len()
                        ),
                    )),
                },
            }
        }
        v.finish()?;
        let merged = merge_lines(&resolved)?;
        let mut priced = Vec::with_capacity(merged.len());
        for (variant, qty) in merged {
            let product = owner
                .get(&variant)
                .and_then(|p| found.get(p))
                .or_else(|| found.values().find(|p| p.variants.get(variant).is_some()))
                .ok_or_else(|| {
                    AppError::invalid("items", format!("variant {variant} does not exist"))
                })?;
            priced.push((product.clone(), variant, qty));
        }
        Ok(priced)
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
    /// `Conflict` (insufficient stock, naming the variant; a key reused with another body).
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

        let priced = self.resolve(lines).await?;
        let now = self.clock.now();
        let order = Order::place(OrderId::new(), actor.user_id, priced.clone(), address, now)?;
        let events = self
            .events
            .of_placed(self.images.as_ref(), &order, &priced)
            .await?;
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
                message: format!("insufficient stock for variant {id}"),
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

    /// A guest's order, with its `X-Order-Token`; or, signed in, as [`execute`](Self::execute).
    /// A wrong or missing token answers as for a missing order.
    ///
    /// # Errors
    /// `NotFound` when missing, or neither the caller's nor opened by the token.
    #[tracing::instrument(name = "get_order_with_token", skip_all, fields(order_id = %id))]
    pub async fn execute_with_token(
        &self,
        actor: Option<&Actor>,
        token: &str,
        id: OrderId,
    ) -> Result<Order, AppError> {
        let order = self.orders.get(id).await?.ok_or(AppError::NotFound)?;
        let by_token = order
            .details()
            .guest_token
            .is_some_and(|h| h.matches(token));
        if by_token || actor.is_some_and(|a| a.may_act_for(order.user_id())) {
            Ok(order)
        } else {
            Err(AppError::NotFound)
        }
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
#[allow(clippy::too_many_arguments)]
async fn transition(
    orders: &dyn OrderRepository,
    clock: &dyn Clock,
    metrics: &dyn Metrics,
    events: &Events,
    refunds: &Refunds,
    actor: &Actor,
    id: OrderId,
    next: OrderStatus,
) -> Result<Order, AppError> {
    // A lost compare-and-set means another request changed the status first: look again.
    for _ in 0..3 {
        let mut order = own_order(orders, actor, id).await?;
        let from = order.status();
        let before = order.clone();
        order.change_status(next, clock.now())?;
        if next == OrderStatus::Cancelled {
            // A paid order's money goes back first, outside any transaction; a provider that
            // fails or refuses leaves the order as it was. The refund's key keeps a retry one.
            refunds.refund_if_paid(&before).await?;
        }
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
    /// Refunds of a paid order, made before it is cancelled.
    pub refunds: Arc<Refunds>,
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
            &self.refunds,
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
    /// Refunds of a paid order, made before it is cancelled.
    pub refunds: Arc<Refunds>,
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
            &self.refunds,
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

    /// The idempotency fingerprint writes each item this way: a product line exactly as before
    /// variants (so a key reused with the same body still matches), a variant line marked.
    #[test]
    fn an_order_item_is_written_as_before_variants_for_a_product_and_marked_for_a_variant() {
        let product = ProductId::new();
        let variant = VariantId::from_uuid(product.as_uuid());
        assert_eq!(OrderItem::Product(product).to_string(), product.to_string());
        assert_eq!(
            OrderItem::Variant(variant).to_string(),
            format!("variant {variant}")
        );
        assert_eq!(
            product.to_string(),
            product.as_uuid().to_string(),
            "a product line is its bare id"
        );
    }

    fn sample_order(owner: UserId) -> Order {
        let now = FixedClock.now();
        let variant = domain::VariantId::new();
        let product = Product {
            id: ProductId::new(),
            name: ProductName::parse("A").unwrap(),
            slug: domain::Slug::parse("a").unwrap(),
            status: domain::ProductStatus::Active,
            description: None,
            variants: domain::VariantSet::single(
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
            owner,
            vec![(product, variant, Quantity::new(2).unwrap())],
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
            refunds: manual_refunds(),
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
            items: vec![(OrderItem::Product(product), 1)],
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
            refunds: manual_refunds(),
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
            refunds: manual_refunds(),
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
            refunds: manual_refunds(),
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
                    refunds: manual_refunds(),
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
