//! The `shop` service as a library: configuration, and [`Application`], the composition
//! root: [`Application::build`] builds the adapters (database, identity provider, file
//! store), every use case on them, and the HTTP router they are handed to; `main` and the
//! tests start it the same way. The command-line tools (`migrate`, `create-admin`,
//! `seed-demo`) build the adapters they need the same way.
#![forbid(unsafe_code)]

pub mod config;
pub mod telemetry;

mod demo;
mod jobs;
mod products_csv;
mod serve;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use application::accounts::{
    CreateAdmin, GetUser, ListUsers, Login, Logout, RefreshTokens, RegisterUser, UpdateProfile,
};
use application::catalog::{
    AddVariant, CreateCategory, CreateProduct, DeleteCategory, DeleteImage, DeleteProduct,
    DeleteVariant, GetCategory, GetImageFile, GetProduct, ListCategories, ListProducts,
    UpdateCategory, UpdateProduct, UpdateVariant, UploadImage, VariantDeps,
};
use application::checkout::{Carts, ExpireCarts, Promotions, ShippingOptions, TaxRates};
use application::delivery::{DeliverWebhooks, DeliveryQueue, DeliverySettings};
use application::events::{Events, ListEvents};
use application::jobs::{JobSchedule, PeriodicJob, PeriodicWork, RunPeriodicJobs};
use application::ordering::{CancelOrder, ChangeOrderStatus, GetOrder, ListOrders, PlaceOrder};
use application::payments::{
    ExpireUnpaidOrders, HandlePaymentWebhook, ManualPayments, PaymentProvider, PaymentWebhooks,
    ReceivePayment, Refunds, StartPayment,
};
use application::ports::{
    Clock, FileStore, HealthCheck, IdentityProvider, PoolStats, PoolUsage, ReplicaStatus,
    SystemClock,
};
use application::webhooks::WebhookEndpoints;
use infrastructure::db::catalog_listener::{CatalogSignal, listen_for_catalog_writes};
use infrastructure::db::replica::{self, ReadReplica};
use infrastructure::db::{
    SqlAdminSessions, SqlCarts, SqlCategories, SqlCheckoutCatalog, SqlEvents, SqlImages,
    SqlJobSchedule, SqlOrders, SqlPayments, SqlProducts, SqlPromotions, SqlShippingOptions,
    SqlSweep, SqlTaxRates, SqlUsers, SqlWebhooks,
};
use infrastructure::identity::{
    KeycloakIdentityProvider, LocalIdentityConfig, LocalIdentityProvider,
};
use infrastructure::payments::{StripePayments, StripeWebhooks};
use infrastructure::tokens::RandomTokens;
use infrastructure::webhooks::{HttpSender, RandomSecrets, SystemResolver};
use infrastructure::{Database, GdriveConfig, OpendalStore};
use tokio::net::TcpListener;

pub use config::{AuthProvider, ConfigError, LogFormat, PaymentSettings, Settings, StorageBackend};

/// Adapters built from the settings, ready to hand to the use cases.
struct Adapters {
    db: Database,
    /// The standby serving visitors' catalog reads (`DATABASE_READ_URL`).
    replica: Option<ReadReplica>,
    products: Arc<SqlProducts>,
    categories: Arc<SqlCategories>,
    images: Arc<SqlImages>,
    files: Arc<dyn FileStore>,
    orders: Arc<SqlOrders>,
    users: Arc<SqlUsers>,
    webhooks: Arc<SqlWebhooks>,
    payments: Arc<SqlPayments>,
    payment_provider: Arc<dyn PaymentProvider>,
    payment_webhooks: Option<Arc<dyn PaymentWebhooks>>,
    identity: Arc<dyn IdentityProvider>,
    clock: Arc<dyn Clock>,
    /// This instance's metrics: the repositories count the events they write in them.
    metrics: Arc<api::metrics::ShopMetrics>,
}

/// `Ok` when the database answers.
struct DatabaseHealth(Database);

/// The database's pools, and its read replica, as `/metrics` reports them.
struct DatabasePools(Database, Option<ReadReplica>);

impl PoolStats for DatabasePools {
    fn pools(&self) -> Vec<PoolUsage> {
        let mut pools = self.0.pool_usage();
        pools.extend(self.1.as_ref().map(ReadReplica::pool_usage));
        pools
    }

    fn replica(&self) -> Option<ReplicaStatus> {
        self.1.as_ref().map(|r| ReplicaStatus {
            state: r.state().as_str(),
            lag_seconds: r.lag().as_secs_f64(),
        })
    }
}

#[async_trait::async_trait]
impl HealthCheck for DatabaseHealth {
    async fn check(&self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.ping().await.map_err(Into::into)
    }
}

impl Adapters {
    /// Connects to the database, applies pending migrations, and builds the adapters.
    async fn build(settings: &Settings) -> anyhow::Result<Self> {
        install_tls_provider();
        let db = Database::connect(
            &settings.database_url,
            settings.database_max_connections,
            settings.database_acquire_timeout,
        )
        .await
        .with_context(|| format!("cannot open the database at {}", settings.database_url))?;
        db.migrate()
            .await
            .context("cannot apply database migrations")?;
        let replica = settings
            .database_read_url
            .as_ref()
            .map(|url| {
                ReadReplica::new(
                    url,
                    settings.database_max_connections,
                    settings.database_read_max_lag,
                )
                .with_context(|| format!("cannot use the read replica at {url}"))
            })
            .transpose()?;
        let identity = identity_provider(settings, &db).await?;
        let (payment_provider, payment_webhooks): (
            Arc<dyn PaymentProvider>,
            Option<Arc<dyn PaymentWebhooks>>,
        ) = match &settings.payments {
            PaymentSettings::Manual => (Arc::new(ManualPayments), None),
            PaymentSettings::Stripe(stripe) => (
                Arc::new(StripePayments::new(stripe).context("cannot build the Stripe client")?),
                Some(Arc::new(StripeWebhooks::new(stripe))),
            ),
        };
        let metrics = Arc::new(api::metrics::ShopMetrics::new(
            Arc::new(DatabasePools(db.clone(), replica.clone())),
            settings.metrics_token.as_ref().map(|t| t.expose()),
        ));
        Ok(Self {
            products: Arc::new(
                SqlProducts::new(db.clone())
                    .with_replica(replica.clone())
                    .counting_events(metrics.clone()),
            ),
            categories: Arc::new(SqlCategories::new(db.clone()).with_replica(replica.clone())),
            replica,
            images: Arc::new(SqlImages::new(db.clone())),
            files: file_store(settings)?,
            orders: Arc::new(SqlOrders::new(db.clone()).counting_events(metrics.clone())),
            users: Arc::new(SqlUsers::new(db.clone()).counting_events(metrics.clone())),
            webhooks: Arc::new(SqlWebhooks::new(db.clone())),
            payments: Arc::new(SqlPayments::new(db.clone()).counting_events(metrics.clone())),
            payment_provider,
            payment_webhooks,
            identity,
            clock: Arc::new(SystemClock),
            metrics,
            db,
        })
    }
}

/// How long a dashboard session lasts after sign-in.
const DASHBOARD_SESSION: chrono::Duration = chrono::Duration::hours(8);

impl Adapters {
    /// The dashboard's use cases and its session store, on these adapters.
    fn dashboard(
        &self,
        settings: &Settings,
        metrics: Arc<api::metrics::ShopMetrics>,
    ) -> dashboard::Dashboard {
        let events = events(settings);
        dashboard::Dashboard {
            login: Login {
                identity: self.identity.clone(),
                users: self.users.clone(),
                clock: self.clock.clone(),
                metrics: metrics.clone(),
            },
            logout: Logout {
                identity: self.identity.clone(),
            },
            list_products: ListProducts {
                catalog: self.products.clone(),
                categories: self.categories.clone(),
            },
            list_orders: ListOrders {
                reads: self.orders.clone(),
            },
            get_order: GetOrder {
                orders: self.orders.clone(),
            },
            change_order_status: ChangeOrderStatus {
                orders: self.orders.clone(),
                clock: self.clock.clone(),
                metrics: metrics.clone(),
                events: events.clone(),
                refunds: self.refunds(),
            },
            cancel_order: CancelOrder {
                orders: self.orders.clone(),
                clock: self.clock.clone(),
                metrics,
                events,
                refunds: self.refunds(),
            },
            sessions: Arc::new(SqlAdminSessions::new(self.db.clone())),
            clock: self.clock.clone(),
            session_ttl: DASHBOARD_SESSION,
        }
    }

    /// Refunds through the configured payment provider.
    fn refunds(&self) -> Arc<Refunds> {
        Arc::new(Refunds {
            payments: self.payments.clone(),
            provider: self.payment_provider.clone(),
        })
    }

    /// Every use case the API serves, on these adapters; the ones that count business events
    /// count them in `metrics`.
    fn services(
        &self,
        settings: &Settings,
        metrics: Arc<api::metrics::ShopMetrics>,
    ) -> api::Services {
        let (products, images, orders, users) =
            (&self.products, &self.images, &self.orders, &self.users);
        let categories = &self.categories;
        let (identity, files, clock) = (&self.identity, &self.files, &self.clock);
        let events = events(settings);
        let refunds = self.refunds();
        let variant_deps = || VariantDeps {
            products: products.clone(),
            catalog: products.clone(),
            clock: clock.clone(),
            events: events.clone(),
        };
        api::Services {
            register: RegisterUser {
                identity: identity.clone(),
                users: users.clone(),
                clock: clock.clone(),
                events: events.clone(),
            },
            login: Login {
                identity: identity.clone(),
                users: users.clone(),
                clock: clock.clone(),
                metrics: metrics.clone(),
            },
            refresh: RefreshTokens {
                identity: identity.clone(),
            },
            logout: Logout {
                identity: identity.clone(),
            },
            get_user: GetUser {
                users: users.clone(),
            },
            update_profile: UpdateProfile {
                users: users.clone(),
                clock: clock.clone(),
            },
            list_users: ListUsers {
                directory: users.clone(),
            },
            create_product: CreateProduct {
                products: products.clone(),
                categories: categories.clone(),
                clock: clock.clone(),
                events: events.clone(),
            },
            update_product: UpdateProduct {
                products: products.clone(),
                categories: categories.clone(),
                catalog: products.clone(),
                clock: clock.clone(),
                events: events.clone(),
            },
            add_variant: AddVariant {
                deps: variant_deps(),
            },
            update_variant: UpdateVariant {
                deps: variant_deps(),
            },
            delete_variant: DeleteVariant {
                deps: variant_deps(),
            },
            delete_product: DeleteProduct {
                products: products.clone(),
                catalog: products.clone(),
                store: files.clone(),
                clock: clock.clone(),
                events: events.clone(),
            },
            get_product: GetProduct {
                catalog: products.clone(),
            },
            list_products: ListProducts {
                catalog: products.clone(),
                categories: categories.clone(),
            },
            list_categories: ListCategories {
                reads: categories.clone(),
            },
            get_category: GetCategory {
                reads: categories.clone(),
            },
            create_category: CreateCategory {
                categories: categories.clone(),
                clock: clock.clone(),
            },
            update_category: UpdateCategory {
                categories: categories.clone(),
                reads: categories.clone(),
                clock: clock.clone(),
            },
            delete_category: DeleteCategory {
                categories: categories.clone(),
            },
            upload_image: UploadImage {
                products: products.clone(),
                images: images.clone(),
                store: files.clone(),
                clock: clock.clone(),
                max_bytes: settings.max_upload_bytes,
            },
            delete_image: DeleteImage {
                images: images.clone(),
                store: files.clone(),
            },
            get_image_file: GetImageFile {
                images: images.clone(),
                store: files.clone(),
            },
            place_order: PlaceOrder {
                orders: orders.clone(),
                products: products.clone(),
                images: images.clone(),
                clock: clock.clone(),
                metrics: metrics.clone(),
                events: events.clone(),
            },
            get_order: GetOrder {
                orders: orders.clone(),
            },
            list_orders: ListOrders {
                reads: orders.clone(),
            },
            cancel_order: CancelOrder {
                orders: orders.clone(),
                clock: clock.clone(),
                metrics: metrics.clone(),
                events: events.clone(),
                refunds: refunds.clone(),
            },
            change_order_status: ChangeOrderStatus {
                orders: orders.clone(),
                clock: clock.clone(),
                metrics: metrics.clone(),
                events: events.clone(),
                refunds: refunds.clone(),
            },
            start_payment: StartPayment {
                orders: orders.clone(),
                payments: self.payments.clone(),
                provider: self.payment_provider.clone(),
                clock: clock.clone(),
            },
            payment_webhook: HandlePaymentWebhook {
                webhooks: self.payment_webhooks.clone(),
                receive: ReceivePayment {
                    orders: orders.clone(),
                    payments: self.payments.clone(),
                    provider: self.payment_provider.clone(),
                    clock: clock.clone(),
                    events: events.clone(),
                },
            },
            list_events: ListEvents {
                reads: Arc::new(SqlEvents::new(self.db.clone())),
            },
            webhook_endpoints: WebhookEndpoints {
                webhooks: self.webhooks.clone(),
                resolver: Arc::new(SystemResolver),
                secrets: Arc::new(RandomSecrets),
                clock: clock.clone(),
                policy: settings.webhook_urls,
            },
            promotions: Promotions {
                promotions: Arc::new(SqlPromotions::new(self.db.clone())),
                clock: clock.clone(),
            },
            carts: Carts {
                carts: Arc::new(SqlCarts::new(self.db.clone()).counting_events(metrics.clone())),
                products: products.clone(),
                catalog: Arc::new(SqlCheckoutCatalog::new(self.db.clone())),
                tokens: Arc::new(RandomTokens),
                clock: clock.clone(),
                ttl: chrono::TimeDelta::days(i64::from(settings.cart_ttl_days)),
                orders: orders.clone(),
                users: users.clone(),
                events: events.clone(),
                images: images.clone(),
            },
            shipping_options: ShippingOptions {
                options: Arc::new(SqlShippingOptions::new(self.db.clone())),
                clock: clock.clone(),
            },
            tax_rates: TaxRates {
                rates: Arc::new(SqlTaxRates::new(self.db.clone())),
                clock: clock.clone(),
            },
            identity: identity.clone(),
            database: Arc::new(DatabaseHealth(self.db.clone())),
            files: files.clone(),
            metrics,
        }
    }
}

impl Adapters {
    /// The background jobs on these adapters.
    fn jobs(&self, settings: &Settings) -> jobs::Jobs {
        // The runner runs on a thread of its own (`jobs::start`); its database calls run here.
        let sweep = |name, work: Arc<dyn PeriodicWork>| PeriodicJob {
            name,
            every: settings.jobs_sweep_interval,
            work: jobs::OnRuntime::here(work),
        };
        jobs::Jobs {
            periodic: RunPeriodicJobs {
                schedule: jobs::OnRuntime::<dyn JobSchedule>::here(Arc::new(SqlJobSchedule::new(
                    self.db.clone(),
                ))),
                clock: self.clock.clone(),
                timer: Arc::new(|d| Box::pin(tokio::time::sleep(d))),
                jobs: [
                    sweep(
                        "sweep_idempotency_keys",
                        Arc::new(SqlSweep::idempotency_keys(self.db.clone())),
                    ),
                    sweep(
                        "sweep_refresh_tokens",
                        Arc::new(SqlSweep::refresh_tokens(self.db.clone())),
                    ),
                    sweep(
                        "expire_carts",
                        Arc::new(ExpireCarts {
                            carts: Arc::new(SqlCarts::new(self.db.clone())),
                            batch: 500,
                        }),
                    ),
                ]
                .into_iter()
                .chain(
                    (settings.order_payment_timeout_minutes > 0).then(|| PeriodicJob {
                        name: "expire_unpaid_orders",
                        // Looked at every minute at most, so an order is cancelled soon after its time.
                        every: settings.jobs_sweep_interval.min(Duration::from_secs(60)),
                        work: jobs::OnRuntime::here(Arc::new(ExpireUnpaidOrders {
                            orders: self.orders.clone(),
                            payments: self.payments.clone(),
                            events: events(settings),
                            timeout: chrono::TimeDelta::minutes(i64::from(
                                settings.order_payment_timeout_minutes,
                            )),
                            batch: 200,
                        })
                            as Arc<dyn PeriodicWork>),
                    }),
                )
                .collect(),
                lease: PERIODIC_JOB_LEASE,
            },
            deliver: DeliverWebhooks {
                queue: jobs::OnRuntime::<dyn DeliveryQueue>::here(self.webhooks.clone()),
                sender: Arc::new(HttpSender::default()),
                resolver: Arc::new(SystemResolver),
                clock: self.clock.clone(),
                jitter: Arc::new(jitter),
                metrics: self.metrics.clone(),
                timer: Arc::new(|d| Box::pin(tokio::time::sleep(d))),
                settings: DeliverySettings {
                    retry_delays: settings.webhook_retry_delays.clone(),
                    timeout: settings.webhook_timeout,
                    lease: settings.webhook_lease.max(settings.webhook_timeout * 2),
                    batch_size: settings.webhook_batch_size,
                    record_window: settings.webhook_record_window,
                    policy: settings.webhook_urls,
                },
            },
            poll_interval: settings.jobs_poll_interval,
            yield_to: None,
        }
    }
}

/// How long a runner holds a periodic job: a sweep that takes longer is cut off and runs again
/// at its next turn.
const PERIODIC_JOB_LEASE: Duration = Duration::from_secs(300);

/// A number in `0.0..1.0` for the retries' jitter: the sub-second nanoseconds of now, which
/// spread runners and deliveries apart as well as any random source would here.
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1_000_000) / 1_000_000.0
}

/// How events are made: the resources as the API answers them, and the low-stock threshold.
fn events(settings: &Settings) -> Arc<Events> {
    Arc::new(Events {
        json: Arc::new(api::dto::ApiResources),
        low_stock_threshold: settings.low_stock_threshold,
    })
}

/// The file store the settings name: a folder under `DATA_DIR`, or Google Drive.
fn file_store(settings: &Settings) -> anyhow::Result<Arc<dyn FileStore>> {
    Ok(match &settings.storage {
        StorageBackend::Local => {
            let root = settings.data_dir.join("files");
            Arc::new(OpendalStore::local(&root).context("cannot open the file store (DATA_DIR)")?)
        }
        StorageBackend::Gdrive(g) => Arc::new(
            OpendalStore::gdrive(GdriveConfig {
                client_id: g.client_id.clone(),
                client_secret: g.client_secret.clone(),
                refresh_token: g.refresh_token.clone(),
                root: g.root.clone(),
                api_base: None,
            })
            .context("cannot set up the Google Drive file store (STORAGE_BACKEND=gdrive)")?,
        ),
    })
}

/// The identity provider the settings name.
async fn identity_provider(
    settings: &Settings,
    db: &Database,
) -> anyhow::Result<Arc<dyn IdentityProvider>> {
    match &settings.auth_provider {
        AuthProvider::Keycloak(keycloak) => {
            let provider = KeycloakIdentityProvider::new(keycloak.clone())
                .context("cannot set up the Keycloak identity provider")?;
            Ok(Arc::new(provider))
        }
        AuthProvider::Local => {
            let provider = LocalIdentityProvider::new(
                db.clone(),
                LocalIdentityConfig {
                    data_dir: settings.data_dir.clone(),
                    signing_key_file: settings.signing_key_file.clone(),
                    issuer: settings.auth_issuer.clone(),
                    audience: settings.auth_audience.clone(),
                    access_token_ttl: settings.access_token_ttl,
                    refresh_token_ttl: settings.refresh_token_ttl,
                },
            )
            .await
            .context("cannot start the built-in identity provider")?;
            Ok(Arc::new(provider))
        }
    }
}

/// The HTTP service, bound to its port and ready to run.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    db: Database,
    /// Set once the stop signal came: `/health/ready` then answers 503.
    stopping: Arc<AtomicBool>,
    /// How long to keep serving after the stop signal (`SHUTDOWN_DRAIN_SECONDS`).
    drain: Duration,
    /// How long requests in flight may take to finish once the listener is closed.
    finish_within: Duration,
    /// Time to read a request head, and connections served at once.
    limits: serve::ConnectionLimits,
    /// The background jobs, unless `SHOP_JOBS=false`.
    jobs: Option<jobs::Jobs>,
    /// How far below the requests the job runner's thread runs (`JOBS_NICE`).
    jobs_nice: jobs::Nice,
    /// The catalog's answers kept in memory, told of catalog writes made elsewhere.
    catalog_cache: Option<Arc<api::catalog_cache::CatalogCache>>,
    /// The standby serving visitors' catalog reads, watched while the service runs.
    replica: Option<ReadReplica>,
}

impl Application {
    /// The composition root: connects, migrates, builds the adapters and every use case on
    /// them, hands those to the API's router, and binds the listener (port 0 picks a free one).
    ///
    /// # Errors
    /// When the database, the identity provider or the port cannot be had.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let a = Adapters::build(&settings).await?;
        let metrics = a.metrics.clone();
        let load = Arc::new(jobs::RequestLoad::default());
        let jobs = settings.jobs_enabled.then(|| jobs::Jobs {
            yield_to: (settings.jobs_yield_requests > 0)
                .then(|| (load.clone(), settings.jobs_yield_requests)),
            ..a.jobs(&settings)
        });
        let shared_rate_limits = match &settings.rate_limit_redis_url {
            Some(url) => Some(Arc::new(SharedRedisLimits(
                infrastructure::rate_limits::RedisLimits::new(url.expose())
                    .map_err(|e| anyhow::anyhow!("RATE_LIMIT_REDIS_URL: {e}"))?,
            )) as Arc<dyn api::rate_limits::SharedLimits>),
            None => None,
        };
        let catalog_cache = (settings.catalog_cache_max_bytes > 0).then(|| {
            Arc::new(api::catalog_cache::CatalogCache::new(
                settings.catalog_cache_max_bytes,
                settings.catalog_cache_max_stale,
                a.metrics.catalog_cache_counters(),
            ))
        });
        if let Some(cache) = &catalog_cache
            && matches!(a.db, Database::Postgres(_))
        {
            // Nothing is served from memory until writes elsewhere can be heard.
            cache.set_listening(false);
        }
        let dashboard = dashboard::router(a.dashboard(&settings, metrics.clone()));
        let router = api::router(
            a.services(&settings, metrics),
            api::ApiConfig {
                issuer: settings.auth_issuer.clone(),
                audience: settings.auth_audience.clone(),
                jwks_refresh: api::KeyRefresh {
                    floor: settings.jwks_refetch_floor,
                    max_age: settings.jwks_max_age,
                },
                request_timeout: settings.request_timeout,
                rate_limits: settings
                    .rate_limit_enabled
                    .then(|| settings.rate_limits.clone()),
                shared_rate_limits,
                cors: settings.cors.clone(),
                catalog_cache: catalog_cache.clone(),
                dashboard: Some(dashboard),
            },
        );
        let stopping = Arc::new(AtomicBool::new(false));
        let router = router
            .layer(axum::middleware::from_fn_with_state(
                stopping.clone(),
                unready_when_stopping,
            ))
            .layer(axum::middleware::from_fn_with_state(load, count_in_flight));
        // Visitors' reads may come from the standby; a signed-in caller's never do, so an
        // admin reads back at once what they have just written.
        let router = match &a.replica {
            Some(_) => router.layer(axum::middleware::from_fn(visitors_read_from_replica)),
            None => router,
        };
        let addr = SocketAddr::new(settings.host, settings.port);
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (HOST/PORT)"))?;
        Ok(Self {
            listener,
            router,
            db: a.db,
            stopping,
            drain: settings.shutdown_drain,
            // Every handler is cut off at the request timeout; the margin lets the 503 go out.
            finish_within: settings.request_timeout + Duration::from_secs(5),
            limits: serve::ConnectionLimits::within_open_file_limit(
                settings.header_read_timeout,
                settings.max_connections,
                settings.database_max_connections,
            ),
            jobs,
            jobs_nice: settings.jobs_nice,
            catalog_cache,
            replica: a.replica,
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until SIGTERM or Ctrl-C, then finishes the requests in flight.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal` completes; then `/health/ready` answers 503 while requests are
    /// still served for `SHUTDOWN_DRAIN_SECONDS`, the listener closes (new connections are
    /// refused), and the requests in flight finish, within the request timeout.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.listener.local_addr()?;
        tracing::info!(%addr, "listening");
        let (jobs_stop, jobs_stopped) = tokio::sync::watch::channel(false);
        let jobs = self
            .jobs
            .map(|j| jobs::start(j, jobs_stopped, self.jobs_nice))
            .transpose()
            .context("cannot start the job runner")?;
        let replica_watch = self.replica.clone().map(|replica| {
            let db = self.db.clone();
            tokio::spawn(async move { replica.watch(&db).await })
        });
        let catalog_listener = self.catalog_cache.clone().map(|cache| {
            let db = self.db.clone();
            let replica = self.replica.clone();
            tokio::spawn(async move {
                let on = Arc::new(move |signal| match signal {
                    CatalogSignal::Listening => cache.set_listening(true),
                    CatalogSignal::Changed => {
                        // The standby first: the cache refills from what has replayed the write.
                        if let Some(replica) = &replica {
                            replica.catalog_changed();
                        }
                        cache.changed();
                    }
                    CatalogSignal::Lost => cache.set_listening(false),
                });
                listen_for_catalog_writes(&db, on).await;
            })
        });
        let (stopping, drain) = (self.stopping.clone(), self.drain);
        let (close_tx, close_rx) = tokio::sync::watch::channel(false);
        let (port_closed_tx, port_closed_rx) = tokio::sync::oneshot::channel::<()>();
        let listener = ClosingListener {
            inner: Some(self.listener),
            close: close_rx,
            closed: Some(port_closed_tx),
            backoff: Duration::ZERO,
        };
        let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
        let stop = async move {
            signal.await;
            stopping.store(true, Ordering::SeqCst);
            // The jobs stop taking work now; a batch in flight releases its claims.
            let _ = jobs_stop.send(true);
            if !drain.is_zero() {
                tracing::info!(
                    seconds = drain.as_secs(),
                    "stopping: /health/ready answers 503; still serving while the load balancer lets go"
                );
                tokio::time::sleep(drain).await;
            }
            tracing::info!("stopping: no new connections; finishing requests in flight");
            let _ = close_tx.send(true);
            let _ = tokio::time::timeout(Duration::from_secs(1), port_closed_rx).await;
            // Connections accepted a moment ago may hold a request not yet read; hyper's
            // graceful shutdown closes such a connection as idle, which resets it under the
            // client's request. A short pause lets their first request be read, and finished.
            tokio::time::sleep(SETTLE).await;
            let _ = closed_tx.send(());
        };
        let serve = serve::serve(listener, self.router, self.limits, stop);
        // A connection that never finishes its request (a client that stalls while sending
        // it) must not hold the process forever: after the listener closes, the requests in
        // flight get as long as the request timeout allows.
        let finish_within = self.finish_within;
        let deadline = async move {
            if closed_rx.await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(finish_within).await;
        };
        tokio::select! {
            () = serve => {},
            () = deadline => tracing::warn!(
                seconds = finish_within.as_secs(),
                "stopping: connections still open after the request timeout; closing them"
            ),
        }
        if let Some(jobs) = jobs
            && tokio::time::timeout(Duration::from_secs(5), jobs)
                .await
                .is_err()
        {
            tracing::warn!("stopping: the job runner did not stop in time");
        }
        if let Some(listener) = catalog_listener {
            listener.abort();
        }
        if let Some(watch) = replica_watch {
            watch.abort();
        }
        if tokio::time::timeout(Duration::from_secs(5), self.db.close())
            .await
            .is_err()
        {
            tracing::warn!("stopping: database connections still busy; leaving them");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// How long connections accepted just before the port closed get to send their request. A
/// client (a balancer) writes it at once; the margin is for a busy machine, where 250 ms was
/// seen to be too short for the request to be read (the balancer then answered 502).
const SETTLE: Duration = Duration::from_secs(1);

/// The TCP listener, closed on request: it first accepts what the kernel has already queued
/// (those clients have sent their request, and closing would reset them), then closes the
/// socket, so that later connections are refused and a load balancer tries another instance.
struct ClosingListener {
    inner: Option<TcpListener>,
    close: tokio::sync::watch::Receiver<bool>,
    closed: Option<tokio::sync::oneshot::Sender<()>>,
    /// The wait after the last failed accept; zero while accepting works.
    backoff: Duration,
}

/// The shortest and the longest wait after an accept fails.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

impl axum::serve::Listener for ClosingListener {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Some(listener) = self.inner.as_ref() else {
                return std::future::pending().await;
            };
            if *self.close.borrow() {
                let queued = std::future::poll_fn(|cx| {
                    std::task::Poll::Ready(match listener.poll_accept(cx) {
                        std::task::Poll::Ready(r) => Some(r),
                        std::task::Poll::Pending => None,
                    })
                })
                .await;
                match queued {
                    Some(Ok(conn)) => return conn,
                    Some(Err(e)) => tracing::debug!(error = %e, "accept failed while closing"),
                    None => {
                        self.inner = None;
                        if let Some(tx) = self.closed.take() {
                            let _ = tx.send(());
                        }
                    }
                }
                continue;
            }
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(conn) => {
                        if !self.backoff.is_zero() {
                            tracing::info!("accepting connections again");
                            self.backoff = Duration::ZERO;
                        }
                        return conn;
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: wait, longer each time (up to
                        // a second), and say so once, not on every try.
                        if self.backoff.is_zero() {
                            tracing::warn!(error = %e, "cannot accept a connection; retrying with backoff");
                        }
                        self.backoff = (self.backoff * 2).clamp(ACCEPT_BACKOFF_MIN, ACCEPT_BACKOFF_MAX);
                        tokio::time::sleep(self.backoff).await;
                    }
                },
                changed = self.close.changed() => {
                    if changed.is_err() {
                        return std::future::pending().await;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match &self.inner {
            Some(l) => l.local_addr(),
            None => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }
}

/// Answers `/health/ready` with 503 once the service is stopping, so that load balancers and
/// Kubernetes take the instance out of rotation while it still serves what reaches it.
async fn unready_when_stopping(
    axum::extract::State(stopping): axum::extract::State<Arc<AtomicBool>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if req.uri().path() == "/health/ready" && stopping.load(Ordering::SeqCst) {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            r#"{"status":"stopping","checks":{}}"#,
        )
            .into_response();
    }
    next.run(req).await
}

/// The rate limits' shared buckets in Redis (`RATE_LIMIT_REDIS_URL`).
struct SharedRedisLimits(infrastructure::rate_limits::RedisLimits);

#[async_trait::async_trait]
impl api::rate_limits::SharedLimits for SharedRedisLimits {
    async fn check(
        &self,
        key: &str,
        rate: api::rate_limits::Rate,
    ) -> Result<Result<(), u64>, api::rate_limits::SharedUnavailable> {
        self.0
            .take(key, rate.period(), rate.burst.get())
            .await
            .map_err(api::rate_limits::SharedUnavailable)
    }
}

/// Runs a read without a bearer token (`GET` or `HEAD`, outside the dashboard) as one whose
/// catalog reads may come from the read replica.
async fn visitors_read_from_replica(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let reads = matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    // The dashboard's pages are an admin's, signed in by cookie: the primary's.
    if reads
        && !req.uri().path().starts_with("/admin")
        && !req
            .headers()
            .contains_key(axum::http::header::AUTHORIZATION)
    {
        replica::reads_may_lag(next.run(req)).await
    } else {
        next.run(req).await
    }
}

/// Counts the request as in flight until its answer is sent (the job runner yields to many).
async fn count_in_flight(
    axum::extract::State(load): axum::extract::State<Arc<jobs::RequestLoad>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let _counted = load.enter();
    next.run(req).await
}

/// Picks ring as the TLS crypto provider of every HTTPS client (identity provider, file
/// store) once per process; a second call is a no-op.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}

/// Applies pending migrations and exits (`shop migrate`).
///
/// # Errors
/// When the database cannot be opened or a migration fails.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let db = Database::connect(&settings.database_url, 1, settings.database_acquire_timeout)
        .await
        .with_context(|| format!("cannot open the database at {}", settings.database_url))?;
    db.migrate()
        .await
        .context("cannot apply database migrations")?;
    db.close().await;
    Ok(())
}

/// Runs only the background jobs (`shop worker`) until SIGTERM or Ctrl-C; any number of
/// workers and servers may run them against one PostgreSQL. It listens on `HOST`:`PORT` for
/// `/health/live`, `/health/ready` (the database answers) and `/metrics` (the job runner's).
///
/// # Errors
/// When the database or the port cannot be had.
pub async fn run_worker(settings: &Settings) -> anyhow::Result<()> {
    let a = Adapters::build(settings).await?;
    let addr = SocketAddr::new(settings.host, settings.port);
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (HOST/PORT)"))?;
    tracing::info!(addr = %listener.local_addr()?, "worker listening");
    let router =
        api::metrics::worker_router(a.metrics.clone(), Arc::new(DatabaseHealth(a.db.clone())));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let runner = jobs::start(a.jobs(settings), stop_rx.clone(), settings.jobs_nice)
        .context("cannot start the job runner")?;
    let mut http_stop = stop_rx;
    let http = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|stop| *stop).await;
            })
            .await
    });
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(15), runner).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), http).await;
    a.db.close().await;
    Ok(())
}

/// Creates the admin account, or makes an existing one admin with this password
/// (`shop create-admin`); safe to run again. With Keycloak the account is created or updated
/// in the realm (its password reset, the realm role `admin` granted), then copied to the
/// database.
///
/// # Errors
/// When the input is invalid, or the database or the identity provider is unavailable.
pub async fn create_admin(
    settings: &Settings,
    email: &str,
    password: &str,
    username: Option<&str>,
) -> anyhow::Result<domain::User> {
    let a = Adapters::build(settings).await?;
    let user = CreateAdmin {
        identity: a.identity.clone(),
        users: a.users.clone(),
        clock: a.clock.clone(),
    }
    .execute(email, password, username)
    .await
    .map_err(describe)?;
    a.db.close().await;
    Ok(user)
}

/// Fills the catalog with demo products, skipping SKUs already present (`shop seed-demo`).
///
/// # Errors
/// When the database is unavailable.
pub async fn seed_demo(settings: &Settings) -> anyhow::Result<usize> {
    let a = Adapters::build(settings).await?;
    let n = demo::seed(
        a.products.clone(),
        a.categories.clone(),
        a.clock.clone(),
        events(settings),
    )
    .await
    .map_err(describe)?;
    a.db.close().await;
    Ok(n)
}

pub use products_csv::{ImportSummary, export_products, import_products};

/// An application error as a message for the command line.
fn describe(e: application::AppError) -> anyhow::Error {
    match e {
        application::AppError::Validation(errors) => anyhow::anyhow!(
            "{}",
            errors
                .iter()
                .map(|e| format!("--{}: {}", e.field.replace('_', "-"), e.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::Error::new(other),
    }
}
