//! The HTTP interface of `shop`: routes, DTOs, bearer-token verification, problem+json
//! errors and the OpenAPI document. Handlers are thin: extract, call one use case, map.
#![forbid(unsafe_code)]

pub mod auth;
pub mod dto;
pub mod error;
pub mod extract;
pub mod headers;
pub mod limits;
pub mod metrics;
mod openapi;
pub mod routes;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use application::images::{DeleteImage, GetImageFile, UploadImage};
use application::orders::{CancelOrder, ChangeOrderStatus, GetOrder, ListOrders, PlaceOrder};
use application::ports::{
    Clock, FileStore, HealthCheck, IdentityProvider, OrderReadModel, PoolStats, ProductReadModel,
    UserReadModel,
};
use application::products::{
    CreateProduct, DeleteProduct, GetProduct, ListProducts, UpdateProduct,
};
use application::users::{
    GetUser, ListUsers, Login, Logout, RefreshTokens, RegisterUser, UpdateProfile,
};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use axum::routing::{get, post};
use domain::{ImageRepository, OrderRepository, ProductRepository, UserRepository};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use auth::{JwtVerifier, KeyRefresh};
pub use error::ApiError;
pub use openapi::openapi;

/// Largest JSON body of the product and order routes (413 above). The largest a product can
/// be is a 10,000-character description: 120 kB even with every character written as a JSON
/// `\uXXXX` surrogate pair. An order of 100 lines is about 7 kB, its address at most 15 kB.
pub const MAX_JSON_BODY: usize = 256 * 1024;
/// Largest JSON body of the auth and users routes (413 above): passwords of at most 1,024
/// characters, names of 100, tokens of a few kB.
pub const SMALL_JSON_BODY: usize = 16 * 1024;

/// The adapters the API's use cases run on, handed over by the composition root.
pub struct Ports {
    /// Product writes.
    pub products: Arc<dyn ProductRepository>,
    /// Catalog reads.
    pub product_reads: Arc<dyn ProductReadModel>,
    /// Product image rows.
    pub images: Arc<dyn ImageRepository>,
    /// Where image files are kept.
    pub files: Arc<dyn FileStore>,
    /// Order writes.
    pub orders: Arc<dyn OrderRepository>,
    /// Order reads.
    pub order_reads: Arc<dyn OrderReadModel>,
    /// Account writes.
    pub users: Arc<dyn UserRepository>,
    /// Account reads.
    pub user_reads: Arc<dyn UserReadModel>,
    /// The identity provider (sign-in, tokens, JWKS).
    pub identity: Arc<dyn IdentityProvider>,
    /// Whether the database answers.
    pub database: Arc<dyn HealthCheck>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The database's connection pools, read by `/metrics`.
    pub pools: Arc<dyn PoolStats>,
}

/// Settings of the HTTP layer.
pub struct ApiConfig {
    /// Accepted `iss` of access tokens.
    pub issuer: String,
    /// Required `aud` of access tokens.
    pub audience: String,
    /// How often the identity provider's signing keys may and must be refetched.
    pub jwks_refresh: KeyRefresh,
    /// Longest a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// Largest image upload, in bytes (413 above).
    pub max_upload_bytes: u64,
    /// Rate limits; `None` turns them off (no layer at all).
    pub rate_limits: Option<limits::RateLimits>,
    /// Which browser origins may call the API.
    pub cors: headers::Cors,
    /// When set, `/metrics` needs `Authorization: Bearer` with this token.
    pub metrics_token: Option<String>,
}

/// What every handler can reach: the use cases and the token verifier.
pub struct Services {
    pub(crate) verifier: JwtVerifier,
    pub(crate) identity: Arc<dyn IdentityProvider>,
    pub(crate) database: Arc<dyn HealthCheck>,
    pub(crate) files: Arc<dyn FileStore>,
    pub(crate) register: RegisterUser,
    pub(crate) login: Login,
    pub(crate) refresh: RefreshTokens,
    pub(crate) logout: Logout,
    pub(crate) get_user: GetUser,
    pub(crate) update_profile: UpdateProfile,
    pub(crate) list_users: ListUsers,
    pub(crate) create_product: CreateProduct,
    pub(crate) update_product: UpdateProduct,
    pub(crate) delete_product: DeleteProduct,
    pub(crate) get_product: GetProduct,
    pub(crate) list_products: ListProducts,
    pub(crate) upload_image: UploadImage,
    pub(crate) delete_image: DeleteImage,
    pub(crate) get_image_file: GetImageFile,
    pub(crate) place_order: PlaceOrder,
    pub(crate) get_order: GetOrder,
    pub(crate) list_orders: ListOrders,
    pub(crate) cancel_order: CancelOrder,
    pub(crate) change_order_status: ChangeOrderStatus,
    pub(crate) metrics: Arc<metrics::ShopMetrics>,
}

/// Shared state of the router (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

impl AppState {
    /// Builds every use case from the ports.
    pub fn new(p: Ports, config: &ApiConfig) -> Self {
        let metrics = Arc::new(metrics::ShopMetrics::new(
            p.pools,
            config.metrics_token.as_deref(),
        ));
        Self(Arc::new(Services {
            verifier: JwtVerifier::new(
                config.issuer.clone(),
                config.audience.clone(),
                p.identity.clone(),
                config.jwks_refresh,
            ),
            register: RegisterUser::new(p.identity.clone(), p.users.clone(), p.clock.clone()),
            login: Login::new(p.identity.clone(), p.users.clone(), p.clock.clone())
                .with_metrics(metrics.clone()),
            refresh: RefreshTokens::new(p.identity.clone()),
            logout: Logout::new(p.identity.clone()),
            get_user: GetUser::new(p.users.clone()),
            update_profile: UpdateProfile::new(p.users.clone(), p.clock.clone()),
            list_users: ListUsers::new(p.user_reads),
            create_product: CreateProduct::new(p.products.clone(), p.clock.clone()),
            update_product: UpdateProduct::new(
                p.products.clone(),
                p.images.clone(),
                p.clock.clone(),
            ),
            delete_product: DeleteProduct::new(
                p.products.clone(),
                p.images.clone(),
                p.files.clone(),
                p.clock.clone(),
            ),
            upload_image: UploadImage::new(
                p.products.clone(),
                p.images.clone(),
                p.files.clone(),
                p.clock.clone(),
                config.max_upload_bytes,
            ),
            delete_image: DeleteImage::new(p.images.clone(), p.files.clone()),
            get_image_file: GetImageFile::new(p.images.clone(), p.files.clone()),
            place_order: PlaceOrder::new(p.orders.clone(), p.products.clone(), p.clock.clone())
                .with_metrics(metrics.clone()),
            get_order: GetOrder::new(p.orders.clone()),
            list_orders: ListOrders::new(p.order_reads),
            cancel_order: CancelOrder::new(p.orders.clone(), p.clock.clone())
                .with_metrics(metrics.clone()),
            change_order_status: ChangeOrderStatus::new(p.orders, p.clock.clone())
                .with_metrics(metrics.clone()),
            get_product: GetProduct::new(p.product_reads.clone()),
            list_products: ListProducts::new(p.product_reads),
            files: p.files,
            identity: p.identity,
            database: p.database,
            metrics,
        }))
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP service: API routes, health, JWKS, OpenAPI and docs, with request ids,
/// tracing, timeouts, body and rate limits, security headers, CORS and problem+json for every
/// error.
pub fn router(ports: Ports, config: ApiConfig) -> Router {
    use routes::{auth, health, images, orders, products, users};

    let state = AppState::new(ports, &config);
    let small = DefaultBodyLimit::max(SMALL_JSON_BODY);
    let metrics_layer = metrics::MetricsLayer::new(state.metrics.clone());
    let api = Router::new()
        .route("/auth/register", post(auth::register).layer(small))
        .route("/auth/login", post(auth::login).layer(small))
        .route("/auth/refresh", post(auth::refresh).layer(small))
        .route("/auth/logout", post(auth::logout).layer(small))
        .route("/products", get(products::list).post(products::create))
        .route(
            "/products/{id}",
            get(products::get)
                .put(products::update)
                .delete(products::delete),
        )
        // Uploads are streamed and capped by the use case's own limit, not the JSON one.
        .route(
            "/products/{id}/images",
            post(images::upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/products/{id}/images/{image_id}",
            axum::routing::delete(images::delete),
        )
        .route("/files/{image_id}", get(images::file))
        .route("/orders", get(orders::list).post(orders::place))
        .route("/orders/{id}", get(orders::get))
        .route(
            "/orders/{id}/status",
            axum::routing::put(orders::change_status),
        )
        .route("/orders/{id}/cancel", post(orders::cancel))
        .route("/users", get(users::list))
        .route(
            "/users/me",
            get(users::me).put(users::update_me).layer(small),
        )
        .route("/users/{id}", get(users::get));
    let api = limits::apply(api, config.rate_limits.as_ref()).layer(
        axum::middleware::from_fn_with_state(state.clone(), crate::auth::authenticate),
    );

    let app = Router::new()
        .nest("/api/v1", api)
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(metrics::scrape))
        .route("/.well-known/jwks.json", get(auth::jwks))
        .merge(headers::docs(openapi::docs_router()))
        .fallback(|| async { ApiError::not_found() })
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            config.request_timeout,
        ))
        // Outside the timeout, so that its bare 503 becomes a problem too.
        .layer(axum::middleware::map_response(
            error::problem_for_bare_errors,
        ));
    headers::apply(app, &config.cors)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let request_id = req
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id)
        })
        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        // Outermost, so it sees the final status of every answer (timeouts included).
        .layer(metrics_layer)
}
