//! Small in-memory fakes of the ports, for use-case tests.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use domain::webhook::{Delivery, DeliveryStatus, WebhookEndpoint, WebhookSecret};
use domain::{
    Category, CategoryChanges, CategoryId, CategoryRepository, Currency, Email, Image, ImageId,
    ImageRepository, ImageType, Money, Page, PageRequest, Password, PendingEvent, Product,
    ProductChanges, ProductId, ProductName, ProductRepository, ProductStatus, RepositoryError,
    Role, Roles, Sku, Slug, Stock, StoredFile, User, UserId, UserRepository, Username,
};
use domain::{DeliveryId, VariantId, WebhookEndpointId};

use crate::Actor;
use crate::events::Events;
use crate::ports::{
    ByteSource, CategoryReadModel, CategoryView, Clock, FileBody, FileStore, HostResolver,
    IdentityAccount, IdentityError, IdentityProvider, Lookup, NewAccount, ProductFilter,
    ProductReadModel, ProductView, ResourceJson, SecretMaker, SignedIn, SourceError, StorageError,
    TokenPair, UserReadModel, WebhookRepository,
};

/// Resources as short, telling text: `order <id> <status>`, `product <sku> stock <n> images
/// <n>`, `user <username>`.
pub struct TextJson;

impl ResourceJson for TextJson {
    fn order(&self, order: &domain::Order) -> String {
        format!("order {} {}", order.id(), order.status())
    }
    fn product(&self, p: &ProductView) -> String {
        format!(
            "product {} stock {} images {}",
            p.product.sku().as_str(),
            p.product.stock(),
            p.images.len()
        )
    }
    fn user(&self, user: &User) -> String {
        format!("user {}", user.username.as_str())
    }
}

/// Events made as [`TextJson`] shows the resources, low at 5.
pub fn events() -> Arc<Events> {
    Arc::new(Events {
        json: Arc::new(TextJson),
        low_stock_threshold: 5,
    })
}

#[derive(Default)]
pub struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }
}

pub fn actor(roles: &[Role]) -> Actor {
    Actor {
        user_id: UserId::new(),
        roles: Roles::new(roles.iter().copied()),
    }
}

pub fn sample_user(name: &str) -> User {
    let now = FixedClock.now();
    User {
        id: UserId::new(),
        email: Email::parse(&format!("{name}@example.com")).unwrap(),
        username: Username::parse(name).unwrap(),
        first_name: None,
        last_name: None,
        roles: Roles::from([Role::User]),
        created_at: now,
        updated_at: now,
    }
}

/// Those of `slugs` that are `base` or `base-…`, as the SQL adapters' `LIKE` finds them.
fn slugs_like<'a>(slugs: impl Iterator<Item = &'a Slug>, base: &Slug) -> HashSet<String> {
    let prefix = format!("{}-", base.as_str());
    slugs
        .map(|s| s.as_str().to_owned())
        .filter(|s| s == base.as_str() || s.starts_with(&prefix))
        .collect()
}

/// Products and their image rows, as one store so that deleting a product takes its images.
#[derive(Default)]
pub struct MemoryProducts {
    pub items: Mutex<Vec<Product>>,
    pub images: Mutex<Vec<Image>>,
    /// The categories each product was stored in.
    pub categories: Mutex<HashMap<ProductId, Vec<CategoryId>>>,
    pub events: Mutex<Vec<PendingEvent>>,
    fail_image_inserts: AtomicBool,
}

impl MemoryProducts {
    pub fn add_sample(&self, sku: &str) -> ProductId {
        let now = FixedClock.now();
        let product = Product {
            id: ProductId::new(),
            name: ProductName::parse(sku).unwrap(),
            slug: Slug::from_name(sku, "product"),
            status: ProductStatus::Active,
            description: None,
            variants: domain::VariantSet::single(
                domain::VariantId::new(),
                Sku::parse(sku).unwrap(),
                Money::parse("1.00", Currency::parse("EUR").unwrap()).unwrap(),
                Stock::new(1).unwrap(),
            ),
            created_at: now,
            updated_at: now,
        };
        let id = product.id;
        self.items.lock().unwrap().push(product);
        id
    }

    pub fn add_image(&self, product_id: ProductId) -> Image {
        let id = ImageId::new();
        let image = Image {
            id,
            product_id,
            content_type: ImageType::Png,
            size: 5,
            sha256: "0".repeat(64),
            file: StoredFile {
                key: format!("images/{id}"),
                file_id: None,
            },
            created_at: FixedClock.now(),
        };
        self.images.lock().unwrap().push(image.clone());
        image
    }

    pub fn fail_image_inserts(&self) {
        self.fail_image_inserts.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl ProductReadModel for MemoryProducts {
    async fn get(&self, key: &Lookup<ProductId>) -> Result<Option<ProductView>, RepositoryError> {
        let product = self
            .items
            .lock()
            .unwrap()
            .iter()
            .find(|p| key.names(&p.id, &p.slug))
            .cloned();
        let images = self.images.lock().unwrap();
        Ok(product.map(|product| ProductView::with_images_of(product, &images)))
    }

    async fn list(
        &self,
        page: PageRequest,
        _: &ProductFilter,
    ) -> Result<Page<ProductView>, RepositoryError> {
        let images = self.images.lock().unwrap().clone();
        let items: Vec<ProductView> = self
            .items
            .lock()
            .unwrap()
            .iter()
            .map(|product| ProductView::with_images_of(product.clone(), &images))
            .collect();
        Ok(Page {
            total: items.len() as u64,
            total_is_estimate: false,
            items,
            request: page,
            next: None,
        })
    }
}

#[async_trait]
impl ImageRepository for MemoryProducts {
    async fn insert(&self, image: &Image) -> Result<bool, RepositoryError> {
        if self.fail_image_inserts.load(Ordering::SeqCst) {
            return Err(RepositoryError::Unavailable("down".into()));
        }
        if !self
            .items
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.id == image.product_id)
        {
            return Ok(false);
        }
        self.images.lock().unwrap().push(image.clone());
        Ok(true)
    }

    async fn get(&self, id: ImageId) -> Result<Option<Image>, RepositoryError> {
        Ok(self
            .images
            .lock()
            .unwrap()
            .iter()
            .find(|i| i.id == id)
            .cloned())
    }

    async fn of_products(&self, products: &[ProductId]) -> Result<Vec<Image>, RepositoryError> {
        Ok(self
            .images
            .lock()
            .unwrap()
            .iter()
            .filter(|i| products.contains(&i.product_id))
            .cloned()
            .collect())
    }

    async fn delete(
        &self,
        product: ProductId,
        id: ImageId,
    ) -> Result<Option<Image>, RepositoryError> {
        let mut images = self.images.lock().unwrap();
        let found = images
            .iter()
            .position(|i| i.id == id && i.product_id == product);
        Ok(found.map(|at| images.remove(at)))
    }
}

/// A file store in memory that can be switched off.
#[derive(Default)]
pub struct MemoryStore {
    files: Mutex<HashMap<String, Vec<u8>>>,
    down: AtomicBool,
    deletes: AtomicUsize,
}

impl MemoryStore {
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn insert(&self, key: &str, bytes: &[u8]) {
        self.files
            .lock()
            .unwrap()
            .insert(key.to_owned(), bytes.to_vec());
    }

    pub fn bytes(&self, key: &str) -> Option<Vec<u8>> {
        self.files.lock().unwrap().get(key).cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.files.lock().unwrap().is_empty()
    }

    pub fn deletes(&self) -> usize {
        self.deletes.load(Ordering::SeqCst)
    }

    fn up(&self) -> Result<(), StorageError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StorageError::Unavailable("down".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl FileStore for MemoryStore {
    async fn put(&self, key: &str, body: FileBody) -> Result<StoredFile, StorageError> {
        self.up()?;
        let bytes: Vec<u8> = body.into_chunks().concat();
        self.insert(key, &bytes);
        Ok(StoredFile {
            key: key.to_owned(),
            file_id: None,
        })
    }

    async fn get(&self, file: &StoredFile) -> Result<FileBody, StorageError> {
        self.up()?;
        self.bytes(&file.key)
            .map(FileBody::from)
            .ok_or(StorageError::NotFound)
    }

    async fn delete(&self, file: &StoredFile) -> Result<(), StorageError> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.up()?;
        self.files.lock().unwrap().remove(&file.key);
        Ok(())
    }

    async fn check(&self) -> Result<(), StorageError> {
        self.up()
    }
}

/// An upload body in given chunks; counts what was read, and may delete a product when read
/// to its end (a delete that races the upload).
pub struct Chunks {
    chunks: VecDeque<Bytes>,
    pub read: usize,
    delete_at_end: Option<(Arc<MemoryProducts>, ProductId)>,
}

impl Chunks {
    pub fn of(chunks: &[&[u8]]) -> Self {
        Self {
            chunks: chunks.iter().map(|c| Bytes::copy_from_slice(c)).collect(),
            read: 0,
            delete_at_end: None,
        }
    }

    pub fn then_delete(mut self, catalog: Arc<MemoryProducts>, product: ProductId) -> Self {
        self.delete_at_end = Some((catalog, product));
        self
    }
}

#[async_trait]
impl ByteSource for Chunks {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, SourceError> {
        match self.chunks.pop_front() {
            Some(chunk) => {
                self.read += 1;
                Ok(Some(chunk))
            }
            None => {
                if let Some((catalog, product)) = self.delete_at_end.take() {
                    catalog.items.lock().unwrap().retain(|p| p.id != product);
                }
                Ok(None)
            }
        }
    }
}

#[async_trait]
impl ProductRepository for MemoryProducts {
    async fn insert_in_with_events(
        &self,
        product: &Product,
        category_ids: &[CategoryId],
        events: &[PendingEvent],
    ) -> Result<(), RepositoryError> {
        let mut items = self.items.lock().unwrap();
        if items.iter().any(|p| p.sku() == product.sku()) {
            return Err(RepositoryError::Conflict("sku"));
        }
        if items.iter().any(|p| p.slug == product.slug) {
            return Err(RepositoryError::Conflict("slug"));
        }
        items.push(product.clone());
        self.categories
            .lock()
            .unwrap()
            .insert(product.id, category_ids.to_vec());
        self.events.lock().unwrap().extend_from_slice(events);
        Ok(())
    }

    async fn slugs_like(&self, base: &Slug) -> Result<HashSet<String>, RepositoryError> {
        let items = self.items.lock().unwrap();
        Ok(slugs_like(items.iter().map(|p| &p.slug), base))
    }

    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<Product>, RepositoryError> {
        Ok(self
            .items
            .lock()
            .unwrap()
            .iter()
            .filter(|p| ids.contains(&p.id))
            .cloned()
            .collect())
    }

    async fn of_variants(&self, ids: &[VariantId]) -> Result<Vec<Product>, RepositoryError> {
        Ok(self
            .items
            .lock()
            .unwrap()
            .iter()
            .filter(|p| ids.iter().any(|id| p.variants.get(*id).is_some()))
            .cloned()
            .collect())
    }

    async fn get(&self, id: ProductId) -> Result<Option<Product>, RepositoryError> {
        Ok(self
            .items
            .lock()
            .unwrap()
            .iter()
            .find(|p| p.id == id)
            .cloned())
    }

    async fn update_with_events(
        &self,
        id: ProductId,
        changes: &ProductChanges,
        now: DateTime<Utc>,
        events: &(dyn for<'p> Fn(&'p Product) -> Vec<PendingEvent> + Send + Sync),
    ) -> Result<Option<Product>, RepositoryError> {
        let mut items = self.items.lock().unwrap();
        let updated = items.iter_mut().find(|p| p.id == id).map(|p| {
            // The use case refused changes that do not apply.
            let _ = p.apply(changes.clone(), now);
            p.clone()
        });
        if let Some(p) = &updated {
            self.events.lock().unwrap().extend(events(p));
        }
        Ok(updated)
    }

    async fn change_variants_with_events(
        &self,
        id: ProductId,
        now: DateTime<Utc>,
        change: &(
             dyn for<'s> Fn(&'s mut domain::VariantSet) -> Result<(), domain::VariantError>
                 + Send
                 + Sync
         ),
        events: &(dyn for<'p> Fn(&'p Product) -> Vec<PendingEvent> + Send + Sync),
    ) -> Result<Option<Result<Product, domain::VariantError>>, RepositoryError> {
        let mut items = self.items.lock().unwrap();
        let Some(i) = items.iter().position(|p| p.id == id) else {
            return Ok(None);
        };
        let mut set = items[i].variants.clone();
        if let Err(e) = change(&mut set) {
            return Ok(Some(Err(e)));
        }
        // SKUs are unique across the variants of every product, as the SQL index keeps them.
        let mut skus: Vec<&domain::Sku> = items
            .iter()
            .filter(|p| p.id != id)
            .flat_map(|p| p.variants.variants())
            .chain(set.variants())
            .map(|v| &v.sku)
            .collect();
        let all = skus.len();
        skus.sort_by_key(|s| s.as_str());
        skus.dedup();
        let taken = skus.len() != all;
        if taken {
            return Err(RepositoryError::Conflict("sku"));
        }
        let p = &mut items[i];
        p.variants = set;
        p.updated_at = now;
        self.events.lock().unwrap().extend(events(p));
        Ok(Some(Ok(p.clone())))
    }

    async fn delete_with_events(
        &self,
        id: ProductId,
        _: DateTime<Utc>,
        events: &[PendingEvent],
    ) -> Result<Option<Vec<Image>>, RepositoryError> {
        let mut items = self.items.lock().unwrap();
        let before = items.len();
        items.retain(|p| p.id != id);
        if items.len() == before {
            return Ok(None);
        }
        let mut images = self.images.lock().unwrap();
        let (removed, kept) = images.drain(..).partition(|i| i.product_id == id);
        *images = kept;
        self.events.lock().unwrap().extend_from_slice(events);
        Ok(Some(removed))
    }
}

/// Categories, with the rules the SQL adapter keeps (the cycle check, no removal of a parent).
#[derive(Default)]
pub struct MemoryCategories {
    pub items: Mutex<Vec<Category>>,
}

impl MemoryCategories {
    pub fn add(&self, name: &str, parent: Option<CategoryId>) -> Category {
        let now = FixedClock.now();
        let category = Category {
            id: CategoryId::new(),
            name: domain::CategoryName::parse(name).unwrap(),
            slug: Slug::from_name(name, "category"),
            parent_id: parent,
            description: None,
            position: domain::Position::default(),
            created_at: now,
            updated_at: now,
        };
        self.items.lock().unwrap().push(category.clone());
        category
    }
}

#[async_trait]
impl CategoryRepository for MemoryCategories {
    async fn all(&self) -> Result<Vec<Category>, RepositoryError> {
        Ok(self.items.lock().unwrap().clone())
    }

    async fn slugs_like(&self, base: &Slug) -> Result<HashSet<String>, RepositoryError> {
        let items = self.items.lock().unwrap();
        Ok(slugs_like(items.iter().map(|c| &c.slug), base))
    }

    async fn insert(&self, category: &Category) -> Result<(), RepositoryError> {
        let mut items = self.items.lock().unwrap();
        if items.iter().any(|c| c.slug == category.slug) {
            return Err(RepositoryError::Conflict("slug"));
        }
        domain::category::check_parent(
            category.id,
            category.parent_id,
            &domain::category::links_of(&items),
        )
        .map_err(RepositoryError::Invalid)?;
        items.push(category.clone());
        Ok(())
    }

    async fn update(
        &self,
        id: CategoryId,
        changes: &CategoryChanges,
        now: DateTime<Utc>,
    ) -> Result<Option<Category>, RepositoryError> {
        let mut items = self.items.lock().unwrap();
        if let Some(parent) = changes.parent_id {
            domain::category::check_parent(id, parent, &domain::category::links_of(&items))
                .map_err(RepositoryError::Invalid)?;
        }
        Ok(items.iter_mut().find(|c| c.id == id).map(|c| {
            c.apply(changes.clone(), now);
            c.clone()
        }))
    }

    async fn delete(&self, id: CategoryId) -> Result<bool, RepositoryError> {
        let mut items = self.items.lock().unwrap();
        if items.iter().any(|c| c.parent_id == Some(id)) {
            return Err(RepositoryError::InUse("has children".into()));
        }
        let before = items.len();
        items.retain(|c| c.id != id);
        Ok(items.len() < before)
    }
}

#[async_trait]
impl CategoryReadModel for MemoryCategories {
    async fn list(&self) -> Result<Vec<CategoryView>, RepositoryError> {
        Ok(self
            .items
            .lock()
            .unwrap()
            .iter()
            .map(|c| CategoryView {
                category: c.clone(),
                product_count: 0,
            })
            .collect())
    }

    async fn get(&self, key: &Lookup<CategoryId>) -> Result<Option<CategoryView>, RepositoryError> {
        Ok(self
            .items
            .lock()
            .unwrap()
            .iter()
            .find(|c| key.names(&c.id, &c.slug))
            .map(|c| CategoryView {
                category: c.clone(),
                product_count: 0,
            }))
    }
}

#[derive(Default)]
pub struct MemoryUsers {
    pub items: Mutex<Vec<User>>,
    pub fail_inserts: bool,
    pub events: Mutex<Vec<PendingEvent>>,
}

#[async_trait]
impl UserRepository for MemoryUsers {
    async fn insert_with_events(
        &self,
        user: &User,
        events: &[PendingEvent],
    ) -> Result<(), RepositoryError> {
        if self.fail_inserts {
            return Err(RepositoryError::Unavailable("down".into()));
        }
        self.items.lock().unwrap().push(user.clone());
        self.events.lock().unwrap().extend_from_slice(events);
        Ok(())
    }

    async fn upsert_identity(&self, user: &User) -> Result<User, RepositoryError> {
        let mut items = self.items.lock().unwrap();
        match items.iter_mut().find(|u| u.id == user.id) {
            Some(u) => {
                u.email = user.email.clone();
                u.roles = user.roles.clone();
                Ok(u.clone())
            }
            None => {
                items.push(user.clone());
                Ok(user.clone())
            }
        }
    }

    async fn get(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        Ok(self
            .items
            .lock()
            .unwrap()
            .iter()
            .find(|u| u.id == id)
            .cloned())
    }

    async fn update_profile(&self, user: &User) -> Result<bool, RepositoryError> {
        let mut items = self.items.lock().unwrap();
        match items.iter_mut().find(|u| u.id == user.id) {
            Some(u) => {
                *u = user.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[async_trait]
impl UserReadModel for MemoryUsers {
    async fn list(&self, page: PageRequest) -> Result<Page<User>, RepositoryError> {
        let items = self.items.lock().unwrap().clone();
        Ok(Page {
            total: items.len() as u64,
            total_is_estimate: false,
            items,
            request: page,
            next: None,
        })
    }
}

#[derive(Default)]
pub struct MemoryIdentity {
    pub accounts: Mutex<Vec<IdentityAccount>>,
}

#[async_trait]
impl IdentityProvider for MemoryIdentity {
    async fn register(&self, account: &NewAccount) -> Result<IdentityAccount, IdentityError> {
        let a = IdentityAccount {
            id: UserId::new(),
            email: account.email.clone(),
            username: account.username.clone(),
            first_name: account.first_name.clone(),
            last_name: account.last_name.clone(),
            roles: Roles::from([Role::User]),
        };
        self.accounts.lock().unwrap().push(a.clone());
        Ok(a)
    }

    async fn delete(&self, id: UserId) -> Result<(), IdentityError> {
        self.accounts.lock().unwrap().retain(|a| a.id != id);
        Ok(())
    }

    async fn login(&self, _: &str, _: &Password) -> Result<SignedIn, IdentityError> {
        Err(IdentityError::InvalidCredentials)
    }

    async fn refresh(&self, _: &str) -> Result<TokenPair, IdentityError> {
        Err(IdentityError::InvalidToken)
    }

    async fn logout(&self, _: &str) -> Result<(), IdentityError> {
        Ok(())
    }

    async fn ensure_admin(
        &self,
        _: &Email,
        _: &Username,
        _: &Password,
    ) -> Result<IdentityAccount, IdentityError> {
        Err(IdentityError::InvalidCredentials)
    }

    async fn jwks(&self) -> Result<String, IdentityError> {
        Ok(r#"{"keys":[]}"#.into())
    }

    async fn check(&self) -> Result<(), IdentityError> {
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryOrders {
    pub orders: Mutex<Vec<domain::Order>>,
    pub events: Mutex<Vec<PendingEvent>>,
}

#[async_trait]
impl domain::OrderRepository for MemoryOrders {
    async fn place_with_events(
        &self,
        order: &domain::Order,
        _: Option<&domain::IdempotencyRecord>,
        events: &[PendingEvent],
    ) -> Result<(), domain::PlaceOrderError> {
        self.orders.lock().unwrap().push(order.clone());
        self.events.lock().unwrap().extend_from_slice(events);
        Ok(())
    }

    async fn get(&self, id: domain::OrderId) -> Result<Option<domain::Order>, RepositoryError> {
        Ok(self
            .orders
            .lock()
            .unwrap()
            .iter()
            .find(|o| o.id() == id)
            .cloned())
    }

    async fn change_status_with_events(
        &self,
        id: domain::OrderId,
        from: domain::OrderStatus,
        to: domain::OrderStatus,
        now: DateTime<Utc>,
        events: &[PendingEvent],
    ) -> Result<bool, RepositoryError> {
        let mut orders = self.orders.lock().unwrap();
        match orders
            .iter_mut()
            .find(|o| o.id() == id && o.status() == from)
        {
            Some(o) => {
                // Stored as the SQL adapters store it: the status column and the time.
                let details = domain::OrderDetails {
                    payment_status: o.payment_status().after_status_change(to),
                    ..o.details().clone()
                };
                *o = domain::Order::restore(
                    o.id(),
                    o.user_id(),
                    to,
                    o.lines().to_vec(),
                    o.total(),
                    o.shipping_address().cloned(),
                    o.created_at(),
                    now,
                )
                .with_details(details);
                self.events.lock().unwrap().extend_from_slice(events);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn find_key(
        &self,
        _: UserId,
        _: &str,
        _: DateTime<Utc>,
    ) -> Result<Option<domain::IdempotencyRecord>, RepositoryError> {
        Ok(None)
    }
}

/// Counts the business events it is told, as (placed, cancelled, failed logins).
#[derive(Default)]
pub struct CountingMetrics(Mutex<(u32, u32, u32)>);

impl CountingMetrics {
    pub fn counts(&self) -> (u32, u32, u32) {
        *self.0.lock().unwrap()
    }
}

impl crate::ports::Metrics for CountingMetrics {
    fn order_placed(&self) {
        self.0.lock().unwrap().0 += 1;
    }
    fn order_cancelled(&self) {
        self.0.lock().unwrap().1 += 1;
    }
    fn login_failed(&self) {
        self.0.lock().unwrap().2 += 1;
    }
}

/// Webhook endpoints and their deliveries in memory, listed newest first (the last stored
/// first, as every fake's clock reads the same time), and can be told to answer an update as
/// if the endpoint had been removed meanwhile.
#[derive(Default)]
pub struct MemoryWebhooks {
    pub endpoints: Mutex<Vec<WebhookEndpoint>>,
    pub deliveries: Mutex<Vec<Delivery>>,
    lose_updates: AtomicBool,
}

impl MemoryWebhooks {
    /// Every later `update` finds no endpoint, as after a concurrent delete.
    pub fn lose_updates(&self) {
        self.lose_updates.store(true, Ordering::SeqCst);
    }

    pub fn stored(&self, id: WebhookEndpointId) -> Option<WebhookEndpoint> {
        self.endpoints
            .lock()
            .unwrap()
            .iter()
            .find(|e| e.id == id)
            .cloned()
    }

    pub fn delivery(&self, id: DeliveryId) -> Option<Delivery> {
        self.deliveries
            .lock()
            .unwrap()
            .iter()
            .find(|d| d.id == id)
            .cloned()
    }
}

fn page_of<T: Clone>(newest_last: &[T], page: PageRequest) -> Page<T> {
    let items = newest_last
        .iter()
        .rev()
        .skip(usize::try_from(page.offset()).unwrap())
        .take(page.per_page() as usize)
        .cloned()
        .collect();
    Page {
        items,
        request: page,
        total: newest_last.len() as u64,
        next: None,
        total_is_estimate: false,
    }
}

#[async_trait]
impl WebhookRepository for MemoryWebhooks {
    async fn insert(&self, endpoint: &WebhookEndpoint) -> Result<(), RepositoryError> {
        self.endpoints.lock().unwrap().push(endpoint.clone());
        Ok(())
    }

    async fn get(&self, id: WebhookEndpointId) -> Result<Option<WebhookEndpoint>, RepositoryError> {
        Ok(self.stored(id))
    }

    async fn list(&self, page: PageRequest) -> Result<Page<WebhookEndpoint>, RepositoryError> {
        Ok(page_of(&self.endpoints.lock().unwrap(), page))
    }

    async fn update(&self, endpoint: &WebhookEndpoint) -> Result<bool, RepositoryError> {
        if self.lose_updates.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let mut endpoints = self.endpoints.lock().unwrap();
        match endpoints.iter_mut().find(|e| e.id == endpoint.id) {
            Some(stored) => {
                *stored = endpoint.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete(&self, id: WebhookEndpointId) -> Result<bool, RepositoryError> {
        let mut endpoints = self.endpoints.lock().unwrap();
        let before = endpoints.len();
        endpoints.retain(|e| e.id != id);
        self.deliveries
            .lock()
            .unwrap()
            .retain(|d| d.endpoint_id != id);
        Ok(endpoints.len() < before)
    }

    async fn deliveries(
        &self,
        endpoint: WebhookEndpointId,
        status: Option<DeliveryStatus>,
        page: PageRequest,
    ) -> Result<Page<Delivery>, RepositoryError> {
        let matching: Vec<Delivery> = self
            .deliveries
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.endpoint_id == endpoint && status.is_none_or(|s| d.status == s))
            .cloned()
            .collect();
        Ok(page_of(&matching, page))
    }

    async fn retry(
        &self,
        endpoint: WebhookEndpointId,
        delivery: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let mut deliveries = self.deliveries.lock().unwrap();
        match deliveries
            .iter_mut()
            .find(|d| d.id == delivery && d.endpoint_id == endpoint)
        {
            Some(d) => {
                d.status = DeliveryStatus::Pending;
                d.next_attempt_at = Some(now);
                d.updated_at = now;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Resolves the names it was given (to addresses, or to a failure) and no other, noting each
/// lookup with its port.
#[derive(Default)]
pub struct NameTable {
    answers: HashMap<String, Result<Vec<IpAddr>, String>>,
    pub lookups: Mutex<Vec<(String, u16)>>,
}

impl NameTable {
    /// `name` resolves to `addresses` (none: an empty answer).
    pub fn with(mut self, name: &str, addresses: &[&str]) -> Self {
        let addresses = addresses.iter().map(|a| a.parse().unwrap()).collect();
        self.answers.insert(name.to_owned(), Ok(addresses));
        self
    }

    pub fn lookups(&self) -> Vec<(String, u16)> {
        self.lookups.lock().unwrap().clone()
    }
}

#[async_trait]
impl HostResolver for NameTable {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
        self.lookups.lock().unwrap().push((host.to_owned(), port));
        self.answers
            .get(host)
            .cloned()
            .unwrap_or_else(|| Err(format!("{host}: no such host")))
    }
}

/// Secrets `whsec_test1`, `whsec_test2`, ... in turn; or none, as when the system's randomness
/// is not available.
#[derive(Default)]
pub struct CountingSecrets {
    made: AtomicUsize,
    broken: bool,
}

impl CountingSecrets {
    pub fn broken() -> Self {
        Self {
            broken: true,
            ..Self::default()
        }
    }

    pub fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }
}

impl SecretMaker for CountingSecrets {
    fn new_secret(&self) -> Result<WebhookSecret, Box<dyn std::error::Error + Send + Sync>> {
        if self.broken {
            return Err("no randomness".into());
        }
        let n = self.made.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(WebhookSecret::new(format!("whsec_test{n}")))
    }
}

/// Refunds through the `manual` provider, with no intents recorded.
pub fn manual_refunds() -> Arc<crate::payments::Refunds> {
    Arc::new(crate::payments::Refunds {
        payments: Arc::new(MemoryPayments::default()),
        provider: Arc::new(crate::payments::ManualPayments),
    })
}

/// Payment intents and handled events in memory; marks orders paid in `orders` (when given)
/// as the SQL adapters do, by compare-and-set.
#[derive(Default)]
pub struct MemoryPayments {
    pub orders: Option<Arc<MemoryOrders>>,
    pub intents: Mutex<HashMap<domain::OrderId, String>>,
    pub handled: Mutex<Vec<(domain::PaymentReceived, domain::PaymentOutcome)>>,
}

#[async_trait]
impl domain::PaymentRepository for MemoryPayments {
    async fn intent(&self, order: domain::OrderId) -> Result<Option<String>, RepositoryError> {
        Ok(self.intents.lock().unwrap().get(&order).cloned())
    }

    async fn save_intent(
        &self,
        order: domain::OrderId,
        intent: &str,
        _: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        self.intents
            .lock()
            .unwrap()
            .insert(order, intent.to_owned());
        Ok(())
    }

    async fn unpaid_before(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<domain::OrderId>, RepositoryError> {
        let orders = self.orders.as_ref().expect("MemoryPayments without orders");
        Ok(orders
            .orders
            .lock()
            .unwrap()
            .iter()
            .filter(|o| o.awaits_payment() && o.created_at() < cutoff)
            .take(limit as usize)
            .map(|o| o.id())
            .collect())
    }

    async fn record(
        &self,
        event: &domain::PaymentReceived,
        outcome: domain::PaymentOutcome,
        now: DateTime<Utc>,
        events: &[PendingEvent],
    ) -> Result<domain::Recorded, RepositoryError> {
        let mut handled = self.handled.lock().unwrap();
        if handled.iter().any(|(e, _)| e.event_id == event.event_id) {
            return Ok(domain::Recorded::Duplicate);
        }
        let mut outcome = outcome;
        if outcome == domain::PaymentOutcome::Paid {
            let orders = self.orders.as_ref().expect("MemoryPayments without orders");
            let mut all = orders.orders.lock().unwrap();
            match all
                .iter_mut()
                .find(|o| o.id() == event.order_id && o.awaits_payment())
            {
                Some(o) => {
                    o.change_status(domain::OrderStatus::Paid, now)
                        .expect("pending becomes paid");
                    self.intents
                        .lock()
                        .unwrap()
                        .insert(event.order_id, event.intent_id.clone());
                    orders.events.lock().unwrap().extend_from_slice(events);
                }
                None => outcome = domain::PaymentOutcome::NotPending,
            }
        }
        handled.push((event.clone(), outcome));
        Ok(domain::Recorded::As(outcome))
    }
}

/// A provider that answers the same intent for the same key (as Stripe does), counts what
/// it is asked, and fails refunds when told to.
#[derive(Default)]
pub struct FakeProvider {
    pub intents: Mutex<HashMap<String, crate::payments::PaymentIntent>>,
    pub created: Mutex<Vec<crate::payments::IntentRequest>>,
    pub refunds: Mutex<Vec<(Option<String>, domain::Money, String)>>,
    pub refund_error: Mutex<Option<crate::payments::PaymentError>>,
}

#[async_trait]
impl crate::payments::PaymentProvider for FakeProvider {
    fn name(&self) -> &'static str {
        "fake"
    }

    async fn create_intent(
        &self,
        request: &crate::payments::IntentRequest,
    ) -> Result<crate::payments::PaymentIntent, crate::payments::PaymentError> {
        self.created.lock().unwrap().push(request.clone());
        let mut intents = self.intents.lock().unwrap();
        let n = intents.len();
        Ok(intents
            .entry(request.idempotency_key.clone())
            .or_insert_with(|| crate::payments::PaymentIntent {
                id: format!("pi_{n}"),
                client_secret: Some(format!("pi_{n}_secret")),
            })
            .clone())
    }

    async fn retrieve_intent(
        &self,
        id: &str,
    ) -> Result<crate::payments::PaymentIntent, crate::payments::PaymentError> {
        self.intents
            .lock()
            .unwrap()
            .values()
            .find(|i| i.id == id)
            .cloned()
            .ok_or_else(|| crate::payments::PaymentError::Invalid(format!("no intent {id}")))
    }

    async fn refund(
        &self,
        intent: Option<&str>,
        amount: domain::Money,
        key: &str,
    ) -> Result<(), crate::payments::PaymentError> {
        if let Some(e) = self.refund_error.lock().unwrap().clone() {
            return Err(e);
        }
        self.refunds
            .lock()
            .unwrap()
            .push((intent.map(str::to_owned), amount, key.to_owned()));
        Ok(())
    }
}
