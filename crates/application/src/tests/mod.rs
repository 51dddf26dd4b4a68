//! Use-case tests that pin exact values and boundaries, beside the tests in each module.
//! Every use case is built by one helper below, so a change to how use cases are wired is
//! made here once.

mod errors;
mod images;
mod orders;
mod ports;
mod products;
mod users;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    Currency, IdempotencyRecord, ImageRepository, Money, Order, OrderId, OrderRepository,
    OrderStatus, PlaceOrderError, Product, ProductId, ProductName, ProductRepository,
    RepositoryError, Sku, Stock, UserId, UserRepository,
};

use crate::images::{DeleteImage, GetImageFile, UploadImage};
use crate::orders::{CancelOrder, ChangeOrderStatus, GetOrder, ListOrders, PlaceOrder};
use crate::ports::{
    Clock, FileStore, IdentityProvider, OrderReadModel, ProductReadModel, UserReadModel,
};
use crate::products::{CreateProduct, DeleteProduct, GetProduct, ListProducts, UpdateProduct};
use crate::testing::{FixedClock, MemoryOrders};
use crate::users::{
    CreateAdmin, GetUser, ListUsers, Login, Logout, RefreshTokens, RegisterUser, UpdateProfile,
};

// --- building the use cases -------------------------------------------------------------

fn clock() -> Arc<dyn Clock> {
    Arc::new(FixedClock)
}

fn now() -> DateTime<Utc> {
    FixedClock.now()
}

fn place_order(
    orders: Arc<dyn OrderRepository>,
    products: Arc<dyn ProductRepository>,
) -> PlaceOrder {
    PlaceOrder::new(orders, products, clock())
}

fn get_order(orders: Arc<dyn OrderRepository>) -> GetOrder {
    GetOrder::new(orders)
}

fn list_orders(reads: Arc<dyn OrderReadModel>) -> ListOrders {
    ListOrders::new(reads)
}

fn cancel_order(orders: Arc<dyn OrderRepository>) -> CancelOrder {
    CancelOrder::new(orders, clock())
}

fn change_order_status(orders: Arc<dyn OrderRepository>) -> ChangeOrderStatus {
    ChangeOrderStatus::new(orders, clock())
}

fn register_user(
    identity: Arc<dyn IdentityProvider>,
    users: Arc<dyn UserRepository>,
) -> RegisterUser {
    RegisterUser::new(identity, users, clock())
}

fn login(identity: Arc<dyn IdentityProvider>, users: Arc<dyn UserRepository>) -> Login {
    Login::new(identity, users, clock())
}

fn refresh_tokens(identity: Arc<dyn IdentityProvider>) -> RefreshTokens {
    RefreshTokens::new(identity)
}

fn logout(identity: Arc<dyn IdentityProvider>) -> Logout {
    Logout::new(identity)
}

fn get_user(users: Arc<dyn UserRepository>) -> GetUser {
    GetUser::new(users)
}

fn update_profile(users: Arc<dyn UserRepository>) -> UpdateProfile {
    UpdateProfile::new(users, clock())
}

fn list_users(directory: Arc<dyn UserReadModel>) -> ListUsers {
    ListUsers::new(directory)
}

fn create_admin(
    identity: Arc<dyn IdentityProvider>,
    users: Arc<dyn UserRepository>,
) -> CreateAdmin {
    CreateAdmin::new(identity, users, clock())
}

fn create_product(products: Arc<dyn ProductRepository>) -> CreateProduct {
    CreateProduct::new(products, clock())
}

fn update_product(
    products: Arc<dyn ProductRepository>,
    images: Arc<dyn ImageRepository>,
) -> UpdateProduct {
    UpdateProduct::new(products, images, clock())
}

fn delete_product(
    products: Arc<dyn ProductRepository>,
    images: Arc<dyn ImageRepository>,
    store: Arc<dyn FileStore>,
) -> DeleteProduct {
    DeleteProduct::new(products, images, store, clock())
}

fn get_product(catalog: Arc<dyn ProductReadModel>) -> GetProduct {
    GetProduct::new(catalog)
}

fn list_products(
    catalog: Arc<dyn ProductReadModel>,
    images: Arc<dyn ImageRepository>,
) -> ListProducts {
    ListProducts::new(catalog, images)
}

fn upload_image(
    products: Arc<dyn ProductRepository>,
    images: Arc<dyn ImageRepository>,
    store: Arc<dyn FileStore>,
    max_bytes: u64,
) -> UploadImage {
    UploadImage::new(products, images, store, clock(), max_bytes)
}

fn delete_image(images: Arc<dyn ImageRepository>, store: Arc<dyn FileStore>) -> DeleteImage {
    DeleteImage::new(images, store)
}

fn get_image_file(images: Arc<dyn ImageRepository>, store: Arc<dyn FileStore>) -> GetImageFile {
    GetImageFile::new(images, store)
}

// --- values -----------------------------------------------------------------------------

/// A product priced in euros, holding `stock` units.
fn product(sku: &str, price: &str, stock: i64) -> Product {
    Product {
        id: ProductId::new(),
        sku: Sku::parse(sku).unwrap(),
        name: ProductName::parse(sku).unwrap(),
        description: None,
        price: Money::parse(price, Currency::parse("EUR").unwrap()).unwrap(),
        stock: Stock::new(stock).unwrap(),
        created_at: now(),
        updated_at: now(),
    }
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
    async fn place(
        &self,
        order: &Order,
        key: Option<&IdempotencyRecord>,
    ) -> Result<(), PlaceOrderError> {
        let next = self.next_place.lock().unwrap().take();
        match next {
            Some(NextPlace::Fail(e)) => return Err(e),
            Some(NextPlace::KeyVanished) => return Err(PlaceOrderError::KeyTaken),
            Some(NextPlace::TwinWon { twin, hash }) => {
                let mut record = key.expect("a key").clone();
                record.order_id = twin.id;
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
        self.orders.place(order, key).await
    }

    async fn get(&self, id: OrderId) -> Result<Option<Order>, RepositoryError> {
        self.orders.get(id).await
    }

    async fn change_status(
        &self,
        id: OrderId,
        from: OrderStatus,
        to: OrderStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        self.status_attempts.fetch_add(1, Ordering::SeqCst);
        if self.lose_status_races {
            return Ok(false);
        }
        self.orders.change_status(id, from, to, now).await
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
