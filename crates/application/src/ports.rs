//! What the use cases need from the outside world, as traits the adapters implement.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use domain::{
    Category, CategoryId, DeliveryId, Email, Event, EventType, FieldError, Image, Order,
    OrderStatus, Page, PageRequest, Password, PersonName, Product, ProductId, ProductStatus,
    RepositoryError, Roles, Slug, StoredFile, User, UserId, Username, WebhookEndpointId,
    webhook::{Delivery, DeliveryStatus, WebhookEndpoint, WebhookSecret},
};

/// The time, so tests can pin it.
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        // Microsecond precision: what both databases store, so a value read back equals the one written.
        let now = Utc::now();
        DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
    }
}

/// How a path names a product or category: by id, or by slug (slugs are never shaped like a
/// UUID, so the two cannot be confused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<I> {
    /// By id.
    Id(I),
    /// By slug.
    Slug(Slug),
}

impl<I: PartialEq> Lookup<I> {
    /// Whether it names the item with `id` and `slug`.
    pub fn names(&self, id: &I, slug: &Slug) -> bool {
        match self {
            Self::Id(i) => i == id,
            Self::Slug(s) => s == slug,
        }
    }
}

/// A category as a product names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryRef {
    /// Its id.
    pub id: CategoryId,
    /// Its name.
    pub name: String,
    /// Its slug.
    pub slug: Slug,
}

/// A product as the catalog shows it: with its images, in upload order, and its categories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductView {
    /// The product.
    pub product: Product,
    /// Its images, oldest first.
    pub images: Vec<Image>,
    /// Its categories, by position then name.
    pub categories: Vec<CategoryRef>,
}

impl ProductView {
    /// `product` with those of `images` that are its own (in their order), and no categories.
    pub fn with_images_of(product: Product, images: &[Image]) -> Self {
        let images = images
            .iter()
            .filter(|i| i.product_id == product.id)
            .cloned()
            .collect();
        Self {
            product,
            images,
            categories: Vec::new(),
        }
    }
}

/// The order of a product list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProductSort {
    /// Newest first (the default).
    #[default]
    Newest,
    /// Oldest first.
    Oldest,
    /// Cheapest first (then newest).
    PriceAsc,
    /// Dearest first (then newest).
    PriceDesc,
    /// By name, A to Z, case-insensitively (then newest).
    NameAsc,
    /// Best matches of the search first (the default with a search): the name that is the
    /// search, then names that start with it, then names that hold it, then products whose
    /// description alone matches; newest first within each. Without a search, newest first.
    Relevance,
}

impl ProductSort {
    /// Every order, by its name on the wire.
    pub const ALL: [(&'static str, ProductSort); 6] = [
        ("newest", ProductSort::Newest),
        ("oldest", ProductSort::Oldest),
        ("price_asc", ProductSort::PriceAsc),
        ("price_desc", ProductSort::PriceDesc),
        ("name_asc", ProductSort::NameAsc),
        ("relevance", ProductSort::Relevance),
    ];

    /// The order named exactly `s`.
    ///
    /// # Errors
    /// A [`FieldError`] on `sort` for any other text (an empty one too).
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, sort)| *sort)
            .ok_or_else(|| {
                FieldError::new(
                    "sort",
                    "must be one of newest, oldest, price_asc, price_desc, name_asc, relevance",
                )
            })
    }
}

/// A price range of a list, in one currency, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceRange {
    /// The currency every product shown is priced in.
    pub currency: domain::Currency,
    /// Lowest price shown, inclusive.
    pub min_minor: Option<i64>,
    /// Highest price shown, inclusive.
    pub max_minor: Option<i64>,
}

/// Which products a list shows, and in which order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductFilter {
    /// The text as the client typed it: a blank one lists everything; otherwise it matches
    /// name and description, case-insensitively, anywhere in the text.
    pub search: Option<String>,
    /// Only products of this status; `None`: every status (admins only; the use case decides).
    pub status: Option<ProductStatus>,
    /// Only products in one of these categories (a category and those below it, as the use
    /// case resolved them).
    pub categories: Option<Vec<CategoryId>>,
    /// Only products priced within this range.
    pub price: Option<PriceRange>,
    /// `Some(true)`: only products in stock; `Some(false)`: only those out of stock.
    pub in_stock: Option<bool>,
    /// The order; `None`: newest first, or by relevance with a search.
    pub sort: Option<ProductSort>,
}

/// Reads of the catalog, shaped for the list and detail pages (the query side): whole
/// [`ProductView`]s, each built by the adapter in a fixed number of round trips.
#[async_trait]
pub trait ProductReadModel: Send + Sync {
    /// One product of any status with its images in upload order and its categories; `None`
    /// when it does not exist or was deleted.
    async fn get(&self, key: &Lookup<ProductId>) -> Result<Option<ProductView>, RepositoryError>;

    /// Newest first, each product with its images in upload order and its categories: the
    /// page in one round trip, the images and categories of all of it in one more each, never
    /// one per product.
    async fn list(
        &self,
        page: PageRequest,
        filter: &ProductFilter,
    ) -> Result<Page<ProductView>, RepositoryError>;
}

/// A category with the count kept beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryView {
    /// The category.
    pub category: Category,
    /// The active products in it and below it.
    pub product_count: u64,
}

/// Reads of the categories (a small tree, read whole), with their kept counts.
#[async_trait]
pub trait CategoryReadModel: Send + Sync {
    /// All of them, by position then name.
    async fn list(&self) -> Result<Vec<CategoryView>, RepositoryError>;

    /// One of them.
    async fn get(&self, key: &Lookup<CategoryId>) -> Result<Option<CategoryView>, RepositoryError>;
}

/// Which orders a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Only this account's orders.
    pub user_id: Option<UserId>,
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
}

/// Reads of orders for the list pages: each page loads its lines in one more query, never
/// one per order.
#[async_trait]
pub trait OrderReadModel: Send + Sync {
    /// Newest first.
    async fn list(
        &self,
        filter: OrderFilter,
        page: PageRequest,
    ) -> Result<Page<Order>, RepositoryError>;
}

/// Reads of the accounts, for the admin's list.
#[async_trait]
pub trait UserReadModel: Send + Sync {
    /// Newest first.
    async fn list(&self, page: PageRequest) -> Result<Page<User>, RepositoryError>;
}

/// Reads of the event log (the outbox), for the admin.
#[async_trait]
pub trait EventReadModel: Send + Sync {
    /// Newest first; only events of `event_type` when given.
    async fn list(
        &self,
        event_type: Option<EventType>,
        page: PageRequest,
    ) -> Result<Page<Event>, RepositoryError>;
}

/// The resources as the API shows them, as JSON text: what an event's `data` holds. The
/// interface layer implements it with its own response types, so an event and a response of
/// the same resource at the same moment say the same.
pub trait ResourceJson: Send + Sync {
    /// An order.
    fn order(&self, order: &Order) -> String;
    /// A product with its images.
    fn product(&self, product: &ProductView) -> String;
    /// An account.
    fn user(&self, user: &User) -> String;
}

/// Webhook endpoints and their deliveries, as stored.
#[async_trait]
pub trait WebhookRepository: Send + Sync {
    /// Stores a new endpoint.
    async fn insert(&self, endpoint: &WebhookEndpoint) -> Result<(), RepositoryError>;

    /// The endpoint, if it exists.
    async fn get(&self, id: WebhookEndpointId) -> Result<Option<WebhookEndpoint>, RepositoryError>;

    /// Newest first.
    async fn list(&self, page: PageRequest) -> Result<Page<WebhookEndpoint>, RepositoryError>;

    /// Saves every field of `endpoint`; `false` when it no longer exists.
    async fn update(&self, endpoint: &WebhookEndpoint) -> Result<bool, RepositoryError>;

    /// Removes the endpoint and its deliveries; `false` when it did not exist.
    async fn delete(&self, id: WebhookEndpointId) -> Result<bool, RepositoryError>;

    /// The endpoint's deliveries, newest first, only those in `status` when given.
    async fn deliveries(
        &self,
        endpoint: WebhookEndpointId,
        status: Option<DeliveryStatus>,
        page: PageRequest,
    ) -> Result<Page<Delivery>, RepositoryError>;

    /// Makes the endpoint's delivery due now again (pending, whatever it was), keeping its
    /// attempts; `false` when the endpoint has no such delivery.
    async fn retry(
        &self,
        endpoint: WebhookEndpointId,
        delivery: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;
}

/// Names to addresses, for the webhook address rules.
#[async_trait]
pub trait HostResolver: Send + Sync {
    /// The addresses `host` resolves to now.
    ///
    /// # Errors
    /// A message saying why it did not resolve.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<std::net::IpAddr>, String>;
}

/// Makes the signing secrets of webhook endpoints.
pub trait SecretMaker: Send + Sync {
    /// A new random secret, `whsec_` and the base64 of its key.
    ///
    /// # Errors
    /// When the system's randomness is not available.
    fn new_secret(&self) -> Result<WebhookSecret, Box<dyn std::error::Error + Send + Sync>>;
}

/// Whether the database answers.
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// `Ok` when the dependency answers now.
    async fn check(&self) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// An account as the identity provider holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityAccount {
    /// The provider's subject id; becomes the shop's user id.
    pub id: UserId,
    /// E-mail address.
    pub email: Email,
    /// Sign-in name.
    pub username: Username,
    /// Given name, as the provider holds it.
    pub first_name: Option<PersonName>,
    /// Family name, as the provider holds it.
    pub last_name: Option<PersonName>,
    /// Realm roles this shop knows.
    pub roles: Roles,
}

/// A registration as the identity provider receives it.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// E-mail address.
    pub email: Email,
    /// Sign-in name.
    pub username: Username,
    /// Password as typed.
    pub password: Password,
    /// Given name.
    pub first_name: Option<PersonName>,
    /// Family name.
    pub last_name: Option<PersonName>,
}

/// Tokens handed to a client after sign-in or refresh.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// Signed JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque or signed token for `/auth/refresh`; spent on use.
    pub refresh_token: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// Seconds the refresh token lives.
    pub refresh_expires_in: u64,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .finish()
    }
}

/// A successful sign-in: the tokens and the account they were issued for.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The tokens.
    pub tokens: TokenPair,
    /// Whom they speak for.
    pub account: IdentityAccount,
}

/// Why the identity provider refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The e-mail or username is taken; names which.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// Unknown account or wrong password; deliberately not saying which.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A refresh token that is unknown, spent, revoked or expired.
    #[error("invalid token")]
    InvalidToken,
    /// The provider's own rules refused the input (its password policy, say).
    #[error("rejected by the identity provider")]
    Rejected(Vec<FieldError>),
    /// The provider cannot be reached.
    #[error("identity provider unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The provider's own storage failed.
    #[error(transparent)]
    Storage(#[from] RepositoryError),
    /// Anything else.
    #[error("identity provider failure")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Sign-up, sign-in and token lifecycle: the built-in provider or Keycloak.
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// Creates an account with the `user` role.
    ///
    /// # Errors
    /// `Conflict` when the e-mail or username is taken.
    async fn register(&self, account: &NewAccount) -> Result<IdentityAccount, IdentityError>;

    /// Removes an account again (undoes a registration the shop could not finish).
    async fn delete(&self, id: UserId) -> Result<(), IdentityError>;

    /// Signs in by username or e-mail.
    ///
    /// # Errors
    /// `InvalidCredentials`, the same whether or not the account exists.
    async fn login(
        &self,
        username_or_email: &str,
        password: &Password,
    ) -> Result<SignedIn, IdentityError>;

    /// Spends a refresh token for a new pair (rotation).
    ///
    /// # Errors
    /// `InvalidToken` when it is unknown, spent, revoked or expired.
    async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, IdentityError>;

    /// Ends the session the refresh token belongs to; unknown tokens are not an error.
    async fn logout(&self, refresh_token: &str) -> Result<(), IdentityError>;

    /// Creates the account or resets its password, and grants it the `admin` role.
    async fn ensure_admin(
        &self,
        email: &Email,
        username: &Username,
        password: &Password,
    ) -> Result<IdentityAccount, IdentityError>;

    /// The provider's public signing keys as a JWKS JSON document.
    async fn jwks(&self) -> Result<String, IdentityError>;

    /// `Ok` when the provider answers now.
    async fn check(&self) -> Result<(), IdentityError>;
}

/// The bytes of a file in the chunks they arrived in: joining them would copy the whole file
/// once more, and the stores take chunks as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileBody {
    chunks: Vec<Bytes>,
    len: u64,
}

impl FileBody {
    /// Appends a chunk.
    pub fn push(&mut self, chunk: Bytes) {
        self.len += chunk.len() as u64;
        if !chunk.is_empty() {
            self.chunks.push(chunk);
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunks, in order.
    pub fn into_chunks(self) -> Vec<Bytes> {
        self.chunks
    }
}

impl From<Vec<u8>> for FileBody {
    fn from(bytes: Vec<u8>) -> Self {
        let mut body = Self::default();
        body.push(Bytes::from(bytes));
        body
    }
}

/// Why the file store failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No file there (removed meanwhile).
    #[error("file not found")]
    NotFound,
    /// The store cannot be reached or refused the work (down, full, misconfigured); nothing was
    /// stored.
    #[error("file store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Where the bytes of product images are kept: a local folder, or Google Drive.
#[async_trait]
pub trait FileStore: Send + Sync {
    /// Stores `body` under `key` (a key the shop made, never a client's file name) whole or not
    /// at all, and answers where it lives.
    ///
    /// # Errors
    /// `Unavailable`, with nothing stored under `key`.
    async fn put(&self, key: &str, body: FileBody) -> Result<StoredFile, StorageError>;

    /// The bytes of `file`.
    ///
    /// # Errors
    /// `NotFound` when it is not there, `Unavailable` when the store does not answer.
    async fn get(&self, file: &StoredFile) -> Result<FileBody, StorageError>;

    /// Removes `file`; a file that is already gone is not an error.
    ///
    /// # Errors
    /// `Unavailable` when the store does not answer.
    async fn delete(&self, file: &StoredFile) -> Result<(), StorageError>;

    /// `Ok` when the store answers now.
    ///
    /// # Errors
    /// `Unavailable` otherwise.
    async fn check(&self) -> Result<(), StorageError>;
}

/// Why an upload's body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The body is not what the endpoint expects; the message says what, for the client.
    #[error("{0}")]
    Malformed(String),
    /// The body is not of the media type the endpoint takes; the message names it.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The field the file should come in is not there.
    #[error("the field `{0}` is missing")]
    MissingField(&'static str),
    /// The request as a whole is larger than accepted.
    #[error("the request body is too large")]
    TooLarge,
}

/// An upload's bytes as the client sends them, chunk by chunk, so that a use case can stop
/// reading at its size limit instead of holding the whole body first.
#[async_trait]
pub trait ByteSource: Send {
    /// The next chunk, or `None` after the last.
    ///
    /// # Errors
    /// When the body cannot be read as the endpoint expects.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, SourceError>;
}

/// Business facts worth counting, told by the use cases that decide them (for metrics).
/// Each call is one event; implementations must be cheap and never fail.
pub trait Metrics: Send + Sync {
    /// An order was placed now (never for an idempotent replay of an earlier one).
    fn order_placed(&self);
    /// An order's status changed to cancelled now (by either endpoint).
    fn order_cancelled(&self);
    /// A sign-in was refused for wrong credentials.
    fn login_failed(&self);
}

/// Counts the events the outbox wrote, told by the repositories once their transaction
/// committed (an event of a change that rolled back is never counted).
pub trait EventsWritten: Send + Sync {
    /// These events were written, in one transaction that committed.
    fn written(&self, types: &[EventType]);
}

/// Counts nothing: for tools and tests that do not care.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMetrics;

impl EventsWritten for NoMetrics {
    fn written(&self, _: &[EventType]) {}
}

impl Metrics for NoMetrics {
    fn order_placed(&self) {}
    fn order_cancelled(&self) {}
    fn login_failed(&self) {}
}

/// How many connections of one database pool are in use and idle, read on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Which pool: `main` (PostgreSQL), `read` or `write` (SQLite).
    pub pool: &'static str,
    /// Connections lent out now.
    pub in_use: u64,
    /// Open connections waiting in the pool.
    pub idle: u64,
    /// Most connections the pool opens.
    pub max: u64,
}

/// How a read replica stands, for `/health/ready` and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplicaStatus {
    /// `up` (serving reads), `lagging` or `down` (its reads go to the primary).
    pub state: &'static str,
    /// How far it was behind the primary at its last check.
    pub lag_seconds: f64,
}

/// The database's connection pools, for the metrics endpoint.
pub trait PoolStats: Send + Sync {
    /// The usage of each pool now.
    fn pools(&self) -> Vec<PoolUsage>;

    /// The read replica's state, when one is configured.
    fn replica(&self) -> Option<ReplicaStatus>;
}

/// A signed-in session of the dashboard, as kept server-side (its id is known only by its hash).
#[derive(Clone, PartialEq, Eq)]
pub struct AdminSession {
    /// The admin it belongs to.
    pub user_id: UserId,
    /// The token every form of the session carries.
    pub csrf_token: String,
    /// The identity provider's refresh token, revoked when the session ends.
    pub refresh_token: Option<String>,
    /// When it stops opening the dashboard.
    pub expires_at: DateTime<Utc>,
    /// When it began.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for AdminSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSession")
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The dashboard's sessions, shared by every instance: keyed by the SHA-256 (hex) of the id in
/// the cookie, never the id itself.
#[async_trait]
pub trait AdminSessions: Send + Sync {
    /// Stores a new session.
    async fn insert(&self, id_hash: &str, session: &AdminSession) -> Result<(), RepositoryError>;
    /// The session, unless missing or expired at `now`.
    async fn find(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AdminSession>, RepositoryError>;
    /// Removes the session and answers what it was, if it existed.
    async fn delete(&self, id_hash: &str) -> Result<Option<AdminSession>, RepositoryError>;
    /// Removes every session expired at `now`; answers how many.
    async fn delete_expired(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError>;
}
