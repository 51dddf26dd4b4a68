//! The HTTP interface of `shop`: [`router`] serves the [`Services`] the composition root
//! built. One authentication layer ([`auth`]) verifies a request's bearer token once; the
//! rate limits ([`rate_limits`]), security headers and CORS ([`response_headers`]), metrics
//! and request ids wrap every route. [`extractors`] turn requests into typed values (JSON
//! bodies, ids, list queries, the `Idempotency-Key`, multipart uploads) with problem+json
//! rejections ([`error`]); [`dto`] holds the bodies on the wire; the OpenAPI document is
//! generated from the handlers. Handlers are thin: extract, call one use case, map.
#![forbid(unsafe_code)]

pub mod auth;
pub mod catalog_cache;
pub mod dto;
pub mod error;
pub mod extractors;
pub mod metrics;
mod openapi;
pub mod rate_limits;
pub mod response_headers;
pub mod routes;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use application::accounts::{
    GetUser, ListUsers, Login, Logout, RefreshTokens, RegisterUser, UpdateProfile,
};
use application::catalog::{
    AddVariant, CreateCategory, CreateProduct, DeleteCategory, DeleteImage, DeleteProduct,
    DeleteVariant, GetCategory, GetImageFile, GetProduct, ListCategories, ListProducts,
    UpdateCategory, UpdateProduct, UpdateVariant, UploadImage,
};
use application::checkout::{Carts, Promotions, ShippingOptions, TaxRates};
use application::events::ListEvents;
use application::ordering::{CancelOrder, ChangeOrderStatus, GetOrder, ListOrders, PlaceOrder};
use application::payments::{HandlePaymentWebhook, StartPayment};
use application::ports::{FileStore, HealthCheck, IdentityProvider};
use application::webhooks::WebhookEndpoints;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use axum::routing::{get, post};
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
    /// Rate limits; `None` turns them off (no layer at all).
    pub rate_limits: Option<rate_limits::RateLimits>,
    /// Where the rate limits are counted across instances (Redis), when configured.
    pub shared_rate_limits: Option<Arc<dyn rate_limits::SharedLimits>>,
    /// Which browser origins may call the API.
    pub cors: response_headers::Cors,
    /// The catalog's answers kept in memory; `None` reads every one from the database.
    pub catalog_cache: Option<Arc<catalog_cache::CatalogCache>>,
    /// Pages served under `/admin` (the dashboard), with the API's request ids, timeouts,
    /// security headers and sign-in rate limit; `None` serves none.
    pub dashboard: Option<Router>,
}

/// What the handlers call, built by the composition root: one value per use case, and the
/// few adapters the HTTP layer asks directly (readiness, the identity provider's keys, the
/// file store's health) with the metrics the use cases also count into.
pub struct Services {
    /// `POST /auth/register`.
    pub register: RegisterUser,
    /// `POST /auth/login`.
    pub login: Login,
    /// `POST /auth/refresh`.
    pub refresh: RefreshTokens,
    /// `POST /auth/logout`.
    pub logout: Logout,
    /// `GET /users/me`, `GET /users/{id}`.
    pub get_user: GetUser,
    /// `PUT /users/me`.
    pub update_profile: UpdateProfile,
    /// `GET /users`.
    pub list_users: ListUsers,
    /// `POST /products`.
    pub create_product: CreateProduct,
    /// `PUT /products/{id}`.
    pub update_product: UpdateProduct,
    /// `POST /products/{id}/variants`.
    pub add_variant: AddVariant,
    /// `PUT /products/{id}/variants/{variant_id}`.
    pub update_variant: UpdateVariant,
    /// `DELETE /products/{id}/variants/{variant_id}`.
    pub delete_variant: DeleteVariant,
    /// `DELETE /products/{id}`.
    pub delete_product: DeleteProduct,
    /// `GET /products/{id}`.
    pub get_product: GetProduct,
    /// `GET /products`.
    pub list_products: ListProducts,
    /// `GET /categories`.
    pub list_categories: ListCategories,
    /// `GET /categories/{id or slug}`.
    pub get_category: GetCategory,
    /// `POST /categories`.
    pub create_category: CreateCategory,
    /// `PUT /categories/{id}`.
    pub update_category: UpdateCategory,
    /// `DELETE /categories/{id}`.
    pub delete_category: DeleteCategory,
    /// `POST /products/{id}/images`.
    pub upload_image: UploadImage,
    /// `DELETE /products/{id}/images/{image_id}`.
    pub delete_image: DeleteImage,
    /// `GET /files/{image_id}`.
    pub get_image_file: GetImageFile,
    /// `POST /orders`.
    pub place_order: PlaceOrder,
    /// `GET /orders/{id}`.
    pub get_order: GetOrder,
    /// `GET /orders`.
    pub list_orders: ListOrders,
    /// `POST /orders/{id}/cancel`.
    pub cancel_order: CancelOrder,
    /// `PUT /orders/{id}/status`.
    pub change_order_status: ChangeOrderStatus,
    /// `POST /orders/{id}/payment`.
    pub start_payment: StartPayment,
    /// `POST /payments/stripe/webhook`.
    pub payment_webhook: HandlePaymentWebhook,
    pub list_events: ListEvents,
    pub webhook_endpoints: WebhookEndpoints,
    /// `/promotions` and `/promotions/{id}`.
    pub promotions: Promotions,
    /// `/carts` and everything under it.
    pub carts: Carts,
    /// `/shipping-options` and `/shipping-options/{id}`.
    pub shipping_options: ShippingOptions,
    /// `/tax-rates` and `/tax-rates/{id}`.
    pub tax_rates: TaxRates,
    /// The identity provider: its signing keys (for the verifier) and its readiness.
    pub identity: Arc<dyn IdentityProvider>,
    /// Whether the database answers.
    pub database: Arc<dyn HealthCheck>,
    /// Whether the file store answers.
    pub files: Arc<dyn FileStore>,
    /// What `/metrics` reports; the use cases above count their business events into it.
    pub metrics: Arc<metrics::ShopMetrics>,
}

/// The services and the token verifier, shared by every request.
struct Shared {
    services: Services,
    verifier: JwtVerifier,
}

/// Shared state of the router (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0.services
    }
}

impl AppState {
    /// The services, with a verifier of the access tokens `config` describes.
    fn new(services: Services, config: &ApiConfig) -> Self {
        let verifier = JwtVerifier::new(
            config.issuer.clone(),
            config.audience.clone(),
            services.identity.clone(),
            config.jwks_refresh,
        );
        Self(Arc::new(Shared { services, verifier }))
    }

    /// The access-token verifier.
    pub(crate) fn verifier(&self) -> &JwtVerifier {
        &self.0.verifier
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP service: API routes, health, JWKS, OpenAPI and docs, with request ids,
/// tracing, timeouts, body and rate limits, security headers, CORS and problem+json for every
/// error.
pub fn router(services: Services, config: ApiConfig) -> Router {
    use routes::{
        auth, carts, categories, events, health, images, orders, payments, products, promotions,
        shipping_options, tax_rates, users, variants, webhooks,
    };

    let state = AppState::new(services, &config);
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
        .route("/products/{id}/variants", post(variants::create))
        .route(
            "/products/{id}/variants/{variant_id}",
            axum::routing::put(variants::update).delete(variants::delete),
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
        .route(
            "/categories",
            get(categories::list).post(categories::create),
        )
        .route(
            "/categories/{id}",
            get(categories::get)
                .put(categories::update)
                .delete(categories::delete),
        )
        .route("/orders", get(orders::list).post(orders::place))
        .route("/orders/{id}", get(orders::get))
        .route(
            "/orders/{id}/status",
            axum::routing::put(orders::change_status),
        )
        .route("/orders/{id}/cancel", post(orders::cancel))
        .route("/orders/{id}/payment", post(payments::start))
        .route("/payments/stripe/webhook", post(payments::stripe_webhook))
        .route("/carts", post(carts::create))
        .route("/carts/{id}", get(carts::get).put(carts::update))
        .route("/carts/{id}/items", post(carts::add_item))
        .route(
            "/carts/{id}/items/{item_id}",
            axum::routing::put(carts::update_item).delete(carts::delete_item),
        )
        .route("/carts/{id}/shipping-options", get(carts::shipping_options))
        .route("/carts/{id}/claim", post(carts::claim))
        .route("/carts/{id}/checkout", post(carts::checkout))
        .route("/users", get(users::list))
        .route(
            "/users/me",
            get(users::me).put(users::update_me).layer(small),
        )
        .route("/users/{id}", get(users::get))
        .route("/events", get(events::list))
        .route(
            "/webhook-endpoints",
            get(webhooks::list).post(webhooks::create).layer(small),
        )
        .route(
            "/webhook-endpoints/{id}",
            get(webhooks::get)
                .put(webhooks::update)
                .delete(webhooks::delete)
                .layer(small),
        )
        .route(
            "/webhook-endpoints/{id}/rotate-secret",
            post(webhooks::rotate_secret),
        )
        .route(
            "/webhook-endpoints/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/webhook-endpoints/{id}/deliveries/{delivery_id}/retry",
            post(webhooks::retry),
        )
        .route(
            "/promotions",
            get(promotions::list).post(promotions::create).layer(small),
        )
        .route(
            "/promotions/{id}",
            get(promotions::get)
                .put(promotions::update)
                .delete(promotions::delete)
                .layer(small),
        )
        .route(
            "/shipping-options",
            get(shipping_options::list)
                .post(shipping_options::create)
                .layer(small),
        )
        .route(
            "/shipping-options/{id}",
            get(shipping_options::get)
                .put(shipping_options::update)
                .delete(shipping_options::delete)
                .layer(small),
        )
        .route(
            "/tax-rates",
            get(tax_rates::list).post(tax_rates::create).layer(small),
        )
        .route(
            "/tax-rates/{id}",
            get(tax_rates::get)
                .put(tax_rates::update)
                .delete(tax_rates::delete)
                .layer(small),
        );
    let shared_limits = config.shared_rate_limits.map(|store| {
        let metrics: Arc<dyn rate_limits::SharedLimitsMetrics> = state.metrics.clone();
        (store, metrics)
    });
    let api = match config.catalog_cache {
        Some(cache) => api.layer(axum::middleware::from_fn_with_state(
            cache,
            catalog_cache::layer,
        )),
        None => api,
    };
    let (api, limiters) = rate_limits::apply(api, config.rate_limits.as_ref(), shared_limits);
    let api = api.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::auth::authenticate,
    ));

    let app = Router::new()
        .nest("/api/v1", api)
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(metrics::scrape))
        .route("/.well-known/jwks.json", get(auth::jwks))
        .merge(response_headers::docs(openapi::docs_router()));
    // The dashboard's pages: their own state and policy, the API's sign-in limit.
    let app = match config.dashboard {
        Some(dashboard) => app.nest(
            "/admin",
            rate_limits::apply_sign_in(dashboard, limiters.as_ref()).with_state(()),
        ),
        None => app,
    };
    let app = app
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
    response_headers::apply(app, &config.cors)
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
