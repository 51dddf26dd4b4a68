use async_trait::async_trait;
use chrono::{DateTime, Utc};

use std::collections::HashSet;

use crate::cart::{Cart, LiveVariant};
use crate::category::{Category, CategoryChanges};
use crate::error::FieldError;
use crate::event::PendingEvent;
use crate::ids::{
    CartId, CategoryId, ImageId, OrderId, ProductId, PromotionId, ShippingOptionId, TaxRateId,
    UserId, VariantId,
};
use crate::image::Image;
use crate::order::{Order, OrderStatus};
use crate::page::{Page, PageRequest};
use crate::product::{Product, ProductChanges};
use crate::promotion::PromotionRecord;
use crate::shipping::ShippingOptionRecord;
use crate::slug::Slug;
use crate::tax::TaxRateRecord;
use crate::user::User;
use crate::variant::{VariantError, VariantSet};

/// Why a repository could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// A unique rule was broken; names the field (`sku`, `slug`, `email`, `username`).
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// A rule that needs the stored state, checked inside the write's transaction, refused
    /// an input (a category that does not exist, a parent that would make a cycle).
    #[error("invalid input: {0}")]
    Invalid(FieldError),
    /// The change contradicts the stored state (a category that still has children).
    #[error("{0}")]
    InUse(String),
    /// The store could not be reached or answered too late; worth a retry.
    #[error("storage unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything else: a bug or corrupt data.
    #[error("storage failure")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Carts: each saved whole (its row and its lines) by a compare-and-set of its version, so
/// two changes made at once never silently lose one of them.
#[async_trait]
pub trait CartRepository: Send + Sync {
    /// Stores a new cart with its lines.
    async fn insert(&self, cart: &Cart) -> Result<(), RepositoryError>;

    /// The cart with its lines, in the order they were added.
    async fn get(&self, id: CartId) -> Result<Option<Cart>, RepositoryError>;

    /// The cart, and the variant of each of its lines as it is today (price, stock, whether it
    /// is for sale), the lines and their variants read in one statement. A line whose variant
    /// no longer exists has no entry.
    async fn get_live(
        &self,
        id: CartId,
    ) -> Result<Option<(Cart, Vec<LiveVariant>)>, RepositoryError>;

    /// Saves every field of `cart` and makes its lines exactly `cart`'s, in one transaction,
    /// only while the stored version is still `cart`'s (it becomes one more). `false`, with
    /// nothing written, when another change was saved since `cart` was read, or it is gone.
    async fn save(&self, cart: &Cart) -> Result<bool, RepositoryError>;

    /// Deletes the open carts (with their lines) whose `expires_at` has passed at `now`, at
    /// most `limit` of them; answers how many. Completed carts are kept.
    async fn delete_expired(&self, now: DateTime<Utc>, limit: u32) -> Result<u64, RepositoryError>;

    /// Checks a cart out, in one transaction: records the idempotency key, completes the cart
    /// (only while it is open and still at the version read), counts the promotion's use by a
    /// conditional update (and checks the customer's uses under its lock), takes every line's
    /// stock by a conditional update that cannot go below zero, writes the order and its
    /// lines, and the events. Nothing is written when any of it fails.
    ///
    /// # Errors
    /// `KeyTaken`, `CartChanged`, `PromotionUsedUp`, `InsufficientStock`, with nothing written.
    async fn check_out(&self, write: &CheckoutWrite<'_>) -> Result<(), CheckoutError>;
}

/// A promotion's use, as checkout counts it.
#[derive(Debug, Clone)]
pub struct PromotionClaim {
    /// The promotion.
    pub id: PromotionId,
    /// Its code (compared without case to the orders' codes).
    pub code: String,
    /// The customer and how many uses they may have, when the promotion limits it.
    pub per_customer: Option<(UserId, u32)>,
}

/// Everything one checkout writes.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutWrite<'a> {
    /// The cart as read (its version must still be the stored one).
    pub cart: &'a Cart,
    /// The order it becomes.
    pub order: &'a Order,
    /// The promotion whose use it counts.
    pub promotion: Option<&'a PromotionClaim>,
    /// The idempotency key to remember with the order.
    pub key: Option<&'a IdempotencyRecord>,
    /// Events to write with it.
    pub events: &'a [PendingEvent],
}

/// Why a checkout wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// A variant has fewer units than the line asks for, or is gone.
    #[error("insufficient stock for variant {0}")]
    InsufficientStock(VariantId),
    /// The cart changed, was completed or went since it was read.
    #[error("the cart changed meanwhile")]
    CartChanged,
    /// The promotion's last use (or the customer's) went to another checkout.
    #[error("the promotion is used up")]
    PromotionUsedUp,
    /// Another request with the same idempotency key checked out first.
    #[error("idempotency key already used")]
    KeyTaken,
    /// The store failed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Products: the write side of the catalog.
#[async_trait]
pub trait ProductRepository: Send + Sync {
    /// Stores a new product, in no category.
    ///
    /// # Errors
    /// `Conflict("sku")`/`Conflict("slug")` when taken.
    async fn insert(&self, product: &Product) -> Result<(), RepositoryError> {
        self.insert_in_with_events(product, &[], &[]).await
    }

    /// The product, or `None` when it does not exist or was deleted.
    async fn get(&self, id: ProductId) -> Result<Option<Product>, RepositoryError>;

    /// The products of `ids` that exist and are not deleted, in one round trip, in any order.
    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<Product>, RepositoryError>;

    /// The products that have a live variant among `ids` and are not deleted, in any order
    /// (each once).
    async fn of_variants(&self, ids: &[VariantId]) -> Result<Vec<Product>, RepositoryError>;

    /// The slugs of live products that are `base` or `base-...` (to pick a free one from).
    async fn slugs_like(&self, base: &Slug) -> Result<HashSet<String>, RepositoryError>;

    /// Stores a new product in the categories `category_ids`, and counts it in them (and
    /// their ancestors) when it is active, in one transaction.
    ///
    /// # Errors
    /// `Conflict("sku")`/`Conflict("slug")` when taken, `Invalid` on `category_ids` when one
    /// does not exist.
    async fn insert_in(
        &self,
        product: &Product,
        category_ids: &[CategoryId],
    ) -> Result<(), RepositoryError> {
        self.insert_in_with_events(product, category_ids, &[]).await
    }

    /// [`insert_in`](Self::insert_in), and in the same transaction writes `events` to the
    /// outbox; nothing is written when any of it fails.
    async fn insert_in_with_events(
        &self,
        product: &Product,
        category_ids: &[CategoryId],
        events: &[PendingEvent],
    ) -> Result<(), RepositoryError>;

    /// Writes only the changed fields (so a concurrent stock change is never overwritten with
    /// a stale value) and stamps `updated_at`; `None` when the product does not exist.
    ///
    /// # Errors
    /// `Conflict("sku")` when the new SKU is taken.
    async fn update(
        &self,
        id: ProductId,
        changes: &ProductChanges,
        now: DateTime<Utc>,
    ) -> Result<Option<Product>, RepositoryError> {
        self.update_with_events(id, changes, now, &|_| Vec::new())
            .await
    }

    /// [`update`](Self::update), and in the same transaction writes the events `events` makes
    /// of the product as stored after the change (nothing when the product does not exist).
    ///
    /// With `changes.variants`, the product's variants become that set, written as
    /// [`change_variants_with_events`](Self::change_variants_with_events) writes them.
    ///
    /// # Errors
    /// `Conflict("sku")` when the new SKU is taken, `Invalid` on `variants` when the set keeps
    /// a variant deleted since it was read; nothing is written then.
    async fn update_with_events(
        &self,
        id: ProductId,
        changes: &ProductChanges,
        now: DateTime<Utc>,
        events: &(dyn for<'p> Fn(&'p Product) -> Vec<PendingEvent> + Send + Sync),
    ) -> Result<Option<Product>, RepositoryError>;

    /// Changes the variants of product `id` with `change`, applied inside the write's
    /// transaction to the variants as stored once the product's row is locked (the lock
    /// orders take first, so stock they take meanwhile is never written over). Then, in the
    /// same transaction: the variants that differ are written (those removed soft-deleted,
    /// freeing their SKUs), the product's summary (`sku`, price, stock) and `updated_at`
    /// (`now`), and the events `events` makes of the product as stored after the change.
    ///
    /// `None` when the product does not exist; `Some(Err(_))`, with nothing written, when
    /// `change` refused.
    ///
    /// # Errors
    /// `Conflict("sku")` when a SKU is taken by another variant, with nothing written.
    async fn change_variants_with_events(
        &self,
        id: ProductId,
        now: DateTime<Utc>,
        change: &(dyn for<'s> Fn(&'s mut VariantSet) -> Result<(), VariantError> + Send + Sync),
        events: &(dyn for<'p> Fn(&'p Product) -> Vec<PendingEvent> + Send + Sync),
    ) -> Result<Option<Result<Product, VariantError>>, RepositoryError>;

    /// Removes a product from the catalog and the rows of its images, in one transaction;
    /// answers the images removed (whose files the caller removes next), or `None` when the
    /// product did not exist.
    async fn delete(
        &self,
        id: ProductId,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Image>>, RepositoryError> {
        self.delete_with_events(id, now, &[]).await
    }

    /// [`delete`](Self::delete), and in the same transaction writes `events` (only when the
    /// product existed).
    async fn delete_with_events(
        &self,
        id: ProductId,
        now: DateTime<Utc>,
        events: &[PendingEvent],
    ) -> Result<Option<Vec<Image>>, RepositoryError>;
}

/// Categories: one tree, small enough to read whole. Every write that changes the tree
/// takes the catalog's tree lock, so two moves cannot together make a cycle.
#[async_trait]
pub trait CategoryRepository: Send + Sync {
    /// Every category (the tree is small: it is read whole).
    async fn all(&self) -> Result<Vec<Category>, RepositoryError>;

    /// The slugs that are `base` or `base-...`.
    async fn slugs_like(&self, base: &Slug) -> Result<HashSet<String>, RepositoryError>;

    /// Stores a new category under its parent, checked in the same transaction.
    ///
    /// # Errors
    /// `Conflict("slug")`; `Invalid` on `parent_id` when the parent does not exist.
    async fn insert(&self, category: &Category) -> Result<(), RepositoryError>;

    /// Applies `changes`; a new parent is checked against the tree ([`crate::category::check_parent`])
    /// under the tree lock, and the kept product counts of the old and new ancestors are
    /// computed again. `None` when it does not exist.
    ///
    /// # Errors
    /// `Conflict("slug")`; `Invalid` on `parent_id` for a cycle or an unknown parent.
    async fn update(
        &self,
        id: CategoryId,
        changes: &CategoryChanges,
        now: DateTime<Utc>,
    ) -> Result<Option<Category>, RepositoryError>;

    /// Removes a category without children and takes it off its products; `false` when it
    /// does not exist.
    ///
    /// # Errors
    /// `InUse` while it has child categories.
    async fn delete(&self, id: CategoryId) -> Result<bool, RepositoryError>;
}

/// Promotions (admin), their codes unique whatever their case.
#[async_trait]
pub trait PromotionRepository: Send + Sync {
    /// Stores a new promotion.
    ///
    /// # Errors
    /// `Conflict("code")` when another promotion has the code in any case.
    async fn insert(&self, promotion: &PromotionRecord) -> Result<(), RepositoryError>;

    /// The promotion, if it exists.
    async fn get(&self, id: PromotionId) -> Result<Option<PromotionRecord>, RepositoryError>;

    /// Newest first.
    async fn list(&self, page: PageRequest) -> Result<Page<PromotionRecord>, RepositoryError>;

    /// Saves its rules and `updated_at`, never `times_used` (only checkout counts uses, and a
    /// use counted meanwhile must not be lost); the answer holds the stored `times_used`.
    /// `None` when it no longer exists.
    ///
    /// # Errors
    /// `Conflict("code")` when another promotion has the code in any case.
    async fn update(
        &self,
        promotion: &PromotionRecord,
    ) -> Result<Option<PromotionRecord>, RepositoryError>;

    /// Removes the promotion; `false` when it did not exist.
    async fn delete(&self, id: PromotionId) -> Result<bool, RepositoryError>;
}

/// Shipping options (admin). Names need not be unique.
#[async_trait]
pub trait ShippingOptionRepository: Send + Sync {
    /// Stores a new option.
    async fn insert(&self, option: &ShippingOptionRecord) -> Result<(), RepositoryError>;

    /// The option, if it exists.
    async fn get(
        &self,
        id: ShippingOptionId,
    ) -> Result<Option<ShippingOptionRecord>, RepositoryError>;

    /// Newest first.
    async fn list(&self, page: PageRequest) -> Result<Page<ShippingOptionRecord>, RepositoryError>;

    /// Saves every field; `false` when it no longer exists.
    async fn update(&self, option: &ShippingOptionRecord) -> Result<bool, RepositoryError>;

    /// Removes the option; `false` when it did not exist.
    async fn delete(&self, id: ShippingOptionId) -> Result<bool, RepositoryError>;
}

/// Tax rates (admin): at most one per country and state, states compared case-insensitively
/// ([`crate::TaxRate::key`]), a country's rate without a state counting as one.
#[async_trait]
pub trait TaxRateRepository: Send + Sync {
    /// Stores a new rate.
    ///
    /// # Errors
    /// `Conflict("state")` when another rate has its country and state.
    async fn insert(&self, rate: &TaxRateRecord) -> Result<(), RepositoryError>;

    /// The rate, if it exists.
    async fn get(&self, id: TaxRateId) -> Result<Option<TaxRateRecord>, RepositoryError>;

    /// Newest first.
    async fn list(&self, page: PageRequest) -> Result<Page<TaxRateRecord>, RepositoryError>;

    /// Saves every field; `false` when it no longer exists.
    ///
    /// # Errors
    /// `Conflict("state")` when another rate has its country and state.
    async fn update(&self, rate: &TaxRateRecord) -> Result<bool, RepositoryError>;

    /// Removes the rate; `false` when it did not exist.
    async fn delete(&self, id: TaxRateId) -> Result<bool, RepositoryError>;
}

/// The rows of product images. A row names a file that is already in the file store.
#[async_trait]
pub trait ImageRepository: Send + Sync {
    /// Stores the row of an image whose file is stored, only while its product exists; the
    /// check and the write are atomic against a concurrent delete of the product. `false` when
    /// the product does not exist (or no longer does), with nothing written.
    async fn insert(&self, image: &Image) -> Result<bool, RepositoryError>;

    /// The image, if its row exists.
    async fn get(&self, id: ImageId) -> Result<Option<Image>, RepositoryError>;

    /// The images of `products`, in one round trip, each product's in upload order.
    async fn of_products(&self, products: &[ProductId]) -> Result<Vec<Image>, RepositoryError>;

    /// Removes the row of image `id` of `product`, answering it; `None` when that product has
    /// no such image.
    async fn delete(
        &self,
        product: ProductId,
        id: ImageId,
    ) -> Result<Option<Image>, RepositoryError>;
}

/// Accounts as the shop keeps them.
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores a new account.
    ///
    /// # Errors
    /// `Conflict("email")` or `Conflict("username")` when taken.
    async fn insert(&self, user: &User) -> Result<(), RepositoryError> {
        self.insert_with_events(user, &[]).await
    }

    /// Stores a new account and writes `events`, in one transaction.
    ///
    /// # Errors
    /// `Conflict("email")` or `Conflict("username")` when taken, with nothing written.
    async fn insert_with_events(
        &self,
        user: &User,
        events: &[PendingEvent],
    ) -> Result<(), RepositoryError>;

    /// Creates the account or refreshes the identity provider's fields (email, username,
    /// roles) of an existing one, keeping its profile fields; returns the stored account.
    async fn upsert_identity(&self, user: &User) -> Result<User, RepositoryError>;

    /// The account, if any.
    async fn get(&self, id: UserId) -> Result<Option<User>, RepositoryError>;

    /// Saves the profile fields (first and last name) and `updated_at`; `false` when gone.
    async fn update_profile(&self, user: &User) -> Result<bool, RepositoryError>;
}

/// An `Idempotency-Key` as remembered with the order it placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Whose key (keys are per user).
    pub user_id: UserId,
    /// The key as the client sent it.
    pub key: String,
    /// Fingerprint of the request body it came with.
    pub request_hash: String,
    /// The order it placed.
    pub order_id: OrderId,
    /// Until when a repeat is answered with the same order.
    pub expires_at: DateTime<Utc>,
}

/// Why an order could not be placed.
#[derive(Debug, thiserror::Error)]
pub enum PlaceOrderError {
    /// A variant has fewer units than the line asks for.
    #[error("insufficient stock for variant {0}")]
    InsufficientStock(VariantId),
    /// A product was deleted meanwhile.
    #[error("product {0} does not exist")]
    UnknownProduct(ProductId),
    /// Another request with the same idempotency key placed its order first.
    #[error("idempotency key already used")]
    KeyTaken,
    /// The store failed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Orders: the aggregate's writes, each atomic.
#[async_trait]
pub trait OrderRepository: Send + Sync {
    /// In one transaction: takes each line's stock by a conditional update that cannot go
    /// below zero, writes the order and its lines, and records the idempotency key.
    ///
    /// # Errors
    /// `InsufficientStock`, `UnknownProduct` or `KeyTaken`, with nothing written.
    async fn place(
        &self,
        order: &Order,
        key: Option<&IdempotencyRecord>,
    ) -> Result<(), PlaceOrderError> {
        self.place_with_events(order, key, &[]).await
    }

    /// [`place`](Self::place), and in the same transaction writes `events` (each as its
    /// condition says, judged on the stock this order leaves).
    ///
    /// # Errors
    /// As `place`, with nothing written.
    async fn place_with_events(
        &self,
        order: &Order,
        key: Option<&IdempotencyRecord>,
        events: &[PendingEvent],
    ) -> Result<(), PlaceOrderError>;

    /// The order with its lines.
    async fn get(&self, id: OrderId) -> Result<Option<Order>, RepositoryError>;

    /// Compare-and-set of the status: changes it only while it is still `from`, and when it
    /// becomes `cancelled` puts the lines' stock back in the same transaction (so it happens
    /// once however many cancels race). `false` when the status was no longer `from`.
    async fn change_status(
        &self,
        id: OrderId,
        from: OrderStatus,
        to: OrderStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        self.change_status_with_events(id, from, to, now, &[]).await
    }

    /// [`change_status`](Self::change_status), and writes `events` in the same transaction
    /// when the compare-and-set wins (never when it loses).
    async fn change_status_with_events(
        &self,
        id: OrderId,
        from: OrderStatus,
        to: OrderStatus,
        now: DateTime<Utc>,
        events: &[PendingEvent],
    ) -> Result<bool, RepositoryError>;

    /// The live record of `key` for `user_id`, if any; removes expired records now and then.
    async fn find_key(
        &self,
        user_id: UserId,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>, RepositoryError>;
}
