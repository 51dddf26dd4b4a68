//! Use-case tests that pin exact values and boundaries, beside the tests in each module.
//! Every use case is built by one helper below, so a change to how use cases are wired is
//! made here once.

mod admin_pricing;
mod carts;
mod categories;
mod delivery;
mod errors;
mod events;
mod images;
mod jobs;
mod orders;
mod payments;
mod ports;
mod products;
mod promotions;
mod users;
mod variants;
mod webhooks;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    Currency, IdempotencyRecord, ImageRepository, Money, Order, OrderId, OrderRepository,
    OrderStatus, PlaceOrderError, Product, ProductId, ProductName, ProductRepository,
    RepositoryError, Sku, Stock, UserId, UserRepository,
};

use crate::AppError;
use crate::accounts::{
    CreateAdmin, GetUser, ListUsers, Login, Logout, RefreshTokens, RegisterUser, UpdateProfile,
};
use crate::catalog::{
    CreateProduct, DeleteImage, DeleteProduct, GetImageFile, GetProduct, ListProducts,
    UpdateProduct, UploadImage,
};
use crate::ordering::{CancelOrder, ChangeOrderStatus, GetOrder, ListOrders, PlaceOrder};
use crate::ports::{
    Clock, FileStore, IdentityProvider, Metrics, NoMetrics, OrderReadModel, ProductReadModel,
    UserReadModel,
};
use crate::testing::{FixedClock, MemoryOrders, MemoryProducts, events, manual_refunds};

// --- building the use cases -------------------------------------------------------------

/// The field errors of a `Validation` error; panics on anything else.
fn validation<T: std::fmt::Debug>(result: Result<T, AppError>) -> Vec<domain::FieldError> {
    match result {
        Err(AppError::Validation(errors)) => errors,
        other => panic!("expected validation errors, got {other:?}"),
    }
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(FixedClock)
}

fn no_metrics() -> Arc<dyn Metrics> {
    Arc::new(NoMetrics)
}

fn now() -> DateTime<Utc> {
    FixedClock.now()
}

fn place_order(
    orders: Arc<dyn OrderRepository>,
    products: Arc<dyn ProductRepository>,
) -> PlaceOrder {
    PlaceOrder {
        orders,
        products,
        images: Arc::new(MemoryProducts::default()),
        clock: clock(),
        metrics: no_metrics(),
        events: events(),
    }
}

fn get_order(orders: Arc<dyn OrderRepository>) -> GetOrder {
    GetOrder { orders }
}

fn list_orders(reads: Arc<dyn OrderReadModel>) -> ListOrders {
    ListOrders { reads }
}

fn cancel_order(orders: Arc<dyn OrderRepository>) -> CancelOrder {
    CancelOrder {
        orders,
        clock: clock(),
        metrics: no_metrics(),
        events: events(),
        refunds: manual_refunds(),
    }
}

fn change_order_status(orders: Arc<dyn OrderRepository>) -> ChangeOrderStatus {
    ChangeOrderStatus {
        orders,
        clock: clock(),
        metrics: no_metrics(),
        events: events(),
        refunds: manual_refunds(),
    }
}

fn register_user(
    identity: Arc<dyn IdentityProvider>,
    users: Arc<dyn UserRepository>,
) -> RegisterUser {
    RegisterUser {
        identity,
        users,
        clock: clock(),
        events: events(),
    }
}

fn login(identity: Arc<dyn IdentityProvider>, users: Arc<dyn UserRepository>) -> Login {
    Login {
        identity,
        users,
        clock: clock(),
        metrics: no_metrics(),
    }
}

fn refresh_tokens(identity: Arc<dyn IdentityProvider>) -> RefreshTokens {
    RefreshTokens { identity }
}

fn logout(identity: Arc<dyn IdentityProvider>) -> Logout {
    Logout { identity }
}

fn get_user(users: Arc<dyn UserRepository>) -> GetUser {
    GetUser { users }
}

fn update_profile(users: Arc<dyn UserRepository>) -> UpdateProfile {
    UpdateProfile {
        users,
        clock: clock(),
    }
}

fn list_users(directory: Arc<dyn UserReadModel>) -> ListUsers {
    ListUsers { directory }
}

fn create_admin(
    identity: Arc<dyn IdentityProvider>,
    users: Arc<dyn UserRepository>,
) -> CreateAdmin {
    CreateAdmin {
        identity,
        users,
        clock: clock(),
    }
}

fn create_product(products: Arc<dyn ProductRepository>) -> CreateProduct {
    CreateProduct {
        products,
        categories: Arc::new(crate::testing::MemoryCategories::default()),
        clock: clock(),
        events: events(),
    }
}

fn update_product(
    products: Arc<dyn ProductRepository>,
    catalog: Arc<dyn ProductReadModel>,
) -> UpdateProduct {
    UpdateProduct {
        products,
        categories: Arc::new(crate::testing::MemoryCategories::default()),
        catalog,
        clock: clock(),
        events: events(),
    }
}

fn delete_product(
    products: Arc<dyn ProductRepository>,
    catalog: Arc<dyn ProductReadModel>,
    store: Arc<dyn FileStore>,
) -> DeleteProduct {
    DeleteProduct {
        products,
        catalog,
        store,
        clock: clock(),
        events: events(),
    }
}

fn get_product(catalog: Arc<dyn ProductReadModel>) -> GetProduct {
    GetProduct { catalog }
}

fn list_products(catalog: Arc<dyn ProductReadModel>) -> ListProducts {
    ListProducts {
        catalog,
        categories: Arc::new(crate::testing::MemoryCategories::default()),
    }
}

fn upload_image(
    products: Arc<dyn ProductRepository>,
    images: Arc<dyn ImageRepository>,
    store: Arc<dyn FileStore>,
    max_bytes: u64,
) -> UploadImage {
    UploadImage {
        products,
        images,
        store,
        clock: clock(),
        max_bytes,
    }
}

fn delete_image(images: Arc<dyn ImageRepository>, store: Arc<dyn FileStore>) -> DeleteImage {
    DeleteImage { images, store }
}

fn get_image_file(images: Arc<dyn ImageRepository>, store: Arc<dyn FileStore>) -> GetImageFile {
    GetImageFile { images, store }
}

/// Gives a built use case the metrics port a test watches.
trait WithMetrics {
    fn with_metrics(self, metrics: Arc<dyn Metrics>) -> Self;
}

macro_rules! with_metrics {
    ($($use_case:ty),*) => {$(
        impl WithMetrics for $use_case {
            fn with_metrics(mut self, metrics: Arc<dyn Metrics>) -> Self {
                self.metrics = metrics;
                self
            }
        }
    )*};
}

with_metrics!(PlaceOrder, CancelOrder, ChangeOrderStatus, Login);

/// Asserts that `who` is refused each of the five operations of an admin-only use case
/// (create, list, get, update and delete of the stored `id`) with `AppError::Forbidden`.
macro_rules! assert_admin_only {
    ($use_case:expr, $who:expr, create: $create:expr, id: $id:expr, update: $update:expr $(,)?) => {{
        let (use_case, who, id) = (&$use_case, $who, $id);
        let forbidden = |r: Result<(), AppError>| matches!(r, Err(AppError::Forbidden));
        assert!(forbidden(use_case.create(who, $create).await.map(drop)));
        let page = domain::PageRequest::default();
        assert!(forbidden(use_case.list(who, page).await.map(drop)));
        assert!(forbidden(use_case.get(who, id).await.map(drop)));
        assert!(forbidden(use_case.update(who, id, $update).await.map(drop)));
        assert!(forbidden(use_case.delete(who, id).await.map(drop)));
    }};
}
pub(crate) use assert_admin_only;

// --- values -----------------------------------------------------------------------------

/// A product priced in euros, holding `stock` units.
fn product(sku: &str, price: &str, stock: i64) -> Product {
    let id = ProductId::new();
    Product {
        id,
        name: ProductName::parse(sku).unwrap(),
        slug: domain::Slug::from_name(sku, "product"),
        status: domain::ProductStatus::Active,
        description: None,
        variants: domain::VariantSet::single(
            domain::VariantId::from_uuid(id.as_uuid()),
            Sku::parse(sku).unwrap(),
            Money::parse(price, Currency::parse("EUR").unwrap()).unwrap(),
            Stock::new(stock).unwrap(),
        ),
        created_at: now(),
        updated_at: now(),
    }
}

/// The one variant of a product made by [`product`], which has the product's id.
fn variant_of(id: ProductId) -> domain::VariantId {
    domain::VariantId::from_uuid(id.as_uuid())
}

fn fields(errors: &[domain::FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.field.as_str()).collect()
}

// --- fakes ------------------------------------------------------------------------------

/// Orders in memory that also keep idempotency keys (expiring at their time), and can be told
/// how the next placement ends.
#[derive(Default)]
struct KeyedOrders {
    orders: MemoryOrders,
    keys: Mutex<Vec<IdempotencyRecord>>,
    next_place: Mutex<Option<NextPlace>>,
    /// Status changes refused as if another request changed the order first.
    lose_status_races: bool,
    status_attempts: AtomicUsize,
}

/// How the next `place` ends.
enum NextPlace {
    /// With this error.
    Fail(PlaceOrderError),
    /// A twin request with the same key committed first: its order and key are stored (the
    /// key with `hash`, or with the caller's hash when `None`), and this one answers `KeyTaken`.
    TwinWon {
        twin: Box<Order>,
        hash: Option<String>,
    },
    /// Another request holds the key, but it is gone by the time it is looked up.
    KeyVanished,
}

impl KeyedOrders {
    fn will(&self, next: NextPlace) {
        *self.next_place.lock().unwrap() = Some(next);
    }

    fn stored(&self) -> Vec<Order> {
        self.orders.orders.lock().unwrap().clone()
    }

    fn keys(&self) -> Vec<IdempotencyRecord> {
        self.keys.lock().unwrap().clone()
    }
}

#[async_trait]
impl OrderRepository for KeyedOrders {
    async fn place_with_events(
        &self,
        order: &Order,
        key: Option<&IdempotencyRecord>,
        events: &[domain::PendingEvent],
    ) -> Result<(), PlaceOrderError> {
        let next = self.next_place.lock().unwrap().take();
        match next {
            Some(NextPlace::Fail(e)) => return Err(e),
            Some(NextPlace::KeyVanished) => return Err(PlaceOrderError::KeyTaken),
            Some(NextPlace::TwinWon { twin, hash }) => {
                let mut record = key.expect("a key").clone();
                record.order_id = twin.id();
                if let Some(h) = hash {
                    record.request_hash = h;
                }
                self.keys.lock().unwrap().push(record);
                self.orders.orders.lock().unwrap().push(*twin);
                return Err(PlaceOrderError::KeyTaken);
            }
            None => {}
        }
        if let Some(k) = key {
            self.keys.lock().unwrap().push(k.clone());
        }
        self.orders.place_with_events(order, key, events).await
    }

    async fn get(&self, id: OrderId) -> Result<Option<Order>, RepositoryError> {
        self.orders.get(id).await
    }

    async fn change_status_with_events(
        &self,
        id: OrderId,
        from: OrderStatus,
        to: OrderStatus,
        now: DateTime<Utc>,
        events: &[domain::PendingEvent],
    ) -> Result<bool, RepositoryError> {
        self.status_attempts.fetch_add(1, Ordering::SeqCst);
        if self.lose_status_races {
            return Ok(false);
        }
        self.orders
            .change_status_with_events(id, from, to, now, events)
            .await
    }

    async fn find_key(
        &self,
        user: UserId,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>, RepositoryError> {
        Ok(self
            .keys
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.user_id == user && r.key == key && r.expires_at > now)
            .cloned())
    }
}
