//! `GET /metrics`: the Prometheus text exposition of the HTTP traffic (requests and latency by
//! route template, method and status), the database pools (read when scraped), and the business
//! events the use cases tell (orders placed and cancelled, failed sign-ins).
//!
//! Every instance keeps its own registry (no process-wide state), so tests that start several
//! servers in one process see only their own numbers. Labels are bounded: the route is the
//! template the router matched (`/api/v1/products/{id}`), never the raw path; a request that
//! matches no route is `unmatched`; methods outside the usual set are `OTHER`.

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use application::ports::{Metrics, PoolStats};
use axum::extract::{MatchedPath, State};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tower::{Layer, Service};

use crate::AppState;
use crate::error::ApiError;

/// Latency buckets, in seconds: 0.5 ms to 10 s, dense where a fast service answers.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route label of a request that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// `Content-Type` of the Prometheus text format.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// An HTTP method as a label: the usual ones by name, anything else as `OTHER`, so a client
/// cannot mint new series with made-up methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum MethodLabel {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Other,
}

impl MethodLabel {
    fn of(method: &Method) -> Self {
        match *method {
            Method::GET => Self::Get,
            Method::HEAD => Self::Head,
            Method::POST => Self::Post,
            Method::PUT => Self::Put,
            Method::PATCH => Self::Patch,
            Method::DELETE => Self::Delete,
            Method::OPTIONS => Self::Options,
            _ => Self::Other,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
            Self::Other => "OTHER",
        }
    }
}

impl EncodeLabelValue for MethodLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// A route template, shared: cloning it is a reference count, not a copy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Route(Arc<str>);

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    method: MethodLabel,
    route: Route,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct LatencyLabels {
    method: MethodLabel,
    route: Route,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
    state: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PoolName {
    pool: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReplicaLabels {
    state: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct EventTypeLabels {
    r#type: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

type LatencyFamily = Family<LatencyLabels, Histogram, fn() -> Histogram>;

impl crate::rate_limits::SharedLimitsMetrics for ShopMetrics {
    fn shared_limits_fell_back(&self) {
        self.rate_limit_fallbacks.inc();
    }
}

/// The registry of one service instance and the handles its hot paths update.
pub struct ShopMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    pool_connections: Family<PoolLabels, Gauge>,
    pool_max: Family<PoolName, Gauge>,
    replica_state: Family<ReplicaLabels, Gauge>,
    replica_lag: Family<PoolName, Gauge<f64, std::sync::atomic::AtomicU64>>,
    orders_placed: Counter,
    orders_cancelled: Counter,
    login_failures: Counter,
    events_written: Family<EventTypeLabels, Counter>,
    webhook_attempts: Family<OutcomeLabels, Counter>,
    webhook_latency: Histogram,
    webhook_oldest_pending: Gauge<f64, std::sync::atomic::AtomicU64>,
    rate_limit_fallbacks: Counter,
    catalog_cache_hits: Counter,
    catalog_cache_misses: Counter,
    unmatched: Route,
    pools: Arc<dyn PoolStats>,
    /// SHA-256 of `METRICS_TOKEN`, when one is required.
    token_digest: Option<[u8; 32]>,
}

impl std::fmt::Debug for ShopMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopMetrics")
            .field("token_required", &self.token_digest.is_some())
            .finish_non_exhaustive()
    }
}

impl ShopMetrics {
    /// A fresh registry; `token`, when set, is required as `Authorization: Bearer` to scrape.
    pub fn new(pools: Arc<dyn PoolStats>, token: Option<&str>) -> Self {
        let mut registry = Registry::with_prefix("shop");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let latency: LatencyFamily =
            Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        registry.register(
            "http_request_duration_seconds",
            "Time from receiving a request to sending its response head, by method and route template",
            latency.clone(),
        );
        let pool_connections = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database connections per pool (read: SQLite readers, write: SQLite's one writer, main: PostgreSQL), in use or idle",
            pool_connections.clone(),
        );
        let pool_max = Family::<PoolName, Gauge>::default();
        registry.register(
            "db_pool_max_connections",
            "Most connections each database pool opens",
            pool_max.clone(),
        );
        let replica_state = Family::<ReplicaLabels, Gauge>::default();
        registry.register(
            "db_replica_state",
            "The read replica (DATABASE_READ_URL): 1 for its state now (up: serving the catalog's reads; lagging or down: they go to the primary), 0 for the others",
            replica_state.clone(),
        );
        let replica_lag = Family::<PoolName, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "db_replica_lag_seconds",
            "How far the read replica was behind the primary at its last check",
            replica_lag.clone(),
        );
        let orders_placed = Counter::default();
        registry.register(
            "orders_placed",
            "Orders placed (an idempotent replay is not a new order)",
            orders_placed.clone(),
        );
        let orders_cancelled = Counter::default();
        registry.register(
            "orders_cancelled",
            "Orders cancelled, by the cancel endpoint or a status change",
            orders_cancelled.clone(),
        );
        let login_failures = Counter::default();
        registry.register(
            "login_failures",
            "Sign-ins refused for wrong credentials",
            login_failures.clone(),
        );
        let events_written = Family::<EventTypeLabels, Counter>::default();
        registry.register(
            "events_written",
            "Events written to the outbox by this instance, by type, counted when their transaction committed",
            events_written.clone(),
        );
        let webhook_attempts = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "webhook_delivery_attempts",
            "Webhook delivery attempts by outcome: succeeded, retrying (failed, tried again later) or failed (for good)",
            webhook_attempts.clone(),
        );
        let webhook_latency = Histogram::new(LATENCY_BUCKETS);
        registry.register(
            "webhook_delivery_duration_seconds",
            "Time of one webhook delivery attempt, from the address check to the receiver's answer",
            webhook_latency.clone(),
        );
        let webhook_oldest_pending = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "webhook_oldest_pending_age_seconds",
            "Age of the oldest pending webhook delivery as the job runner last saw it (0: none pending)",
            webhook_oldest_pending.clone(),
        );
        let rate_limit_fallbacks = Counter::default();
        registry.register(
            "rate_limit_shared_fallbacks",
            "Times the shared rate limit store (Redis) failed and this instance counted alone for a while",
            rate_limit_fallbacks.clone(),
        );
        let catalog_cache_hits = Counter::default();
        registry.register(
            "catalog_cache_hits",
            "Catalog reads (the product list, a product) answered from this instance's memory",
            catalog_cache_hits.clone(),
        );
        let catalog_cache_misses = Counter::default();
        registry.register(
            "catalog_cache_misses",
            "Catalog reads that could be kept in memory but were read from the database",
            catalog_cache_misses.clone(),
        );
        registry.register(
            "build",
            "The running version",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        Self {
            registry,
            requests,
            latency,
            pool_connections,
            pool_max,
            replica_state,
            replica_lag,
            orders_placed,
            orders_cancelled,
            login_failures,
            events_written,
            webhook_attempts,
            webhook_latency,
            webhook_oldest_pending,
            rate_limit_fallbacks,
            catalog_cache_hits,
            catalog_cache_misses,
            unmatched: Route(Arc::from(UNMATCHED)),
            pools,
            token_digest: token.map(|t| Sha256::digest(t.as_bytes()).into()),
        }
    }

    /// The counters of catalog reads answered from memory and from the database, for the
    /// catalog cache to count into.
    pub fn catalog_cache_counters(&self) -> (Counter, Counter) {
        (
            self.catalog_cache_hits.clone(),
            self.catalog_cache_misses.clone(),
        )
    }

    /// Counts one answered request and its latency.
    fn observe(&self, method: MethodLabel, route: Route, status: u16, elapsed: Duration) {
        let labels = LatencyLabels { method, route };
        self.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        let LatencyLabels { method, route } = labels;
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
    }

    /// The exposition, with the pool gauges read now.
    ///
    /// # Errors
    /// Never in practice: writing into a `String` does not fail.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        for p in self.pools.pools() {
            let gauge = |state| {
                self.pool_connections.get_or_create(&PoolLabels {
                    pool: p.pool,
                    state,
                })
            };
            gauge("in_use").set(i64::try_from(p.in_use).unwrap_or(i64::MAX));
            gauge("idle").set(i64::try_from(p.idle).unwrap_or(i64::MAX));
            self.pool_max
                .get_or_create(&PoolName { pool: p.pool })
                .set(i64::try_from(p.max).unwrap_or(i64::MAX));
        }
        if let Some(replica) = self.pools.replica() {
            for state in ["up", "lagging", "down"] {
                self.replica_state
                    .get_or_create(&ReplicaLabels { state })
                    .set(i64::from(state == replica.state));
            }
            self.replica_lag
                .get_or_create(&PoolName { pool: "replica" })
                .set(replica.lag_seconds);
        }
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// The read replica's state, when one is configured.
    pub fn replica(&self) -> Option<application::ports::ReplicaStatus> {
        self.pools.replica()
    }

    /// `Ok` when no token is required, or `authorization` carries it as a bearer token.
    fn authorize(&self, authorization: Option<&HeaderValue>) -> Result<(), ApiError> {
        let Some(expected) = &self.token_digest else {
            return Ok(());
        };
        let presented = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let Some(token) = presented else {
            return Err(ApiError::unauthorized(
                "the metrics endpoint needs its bearer token",
                false,
            ));
        };
        // Comparing digests in constant time tells an attacker neither the token's length nor
        // how much of it matched.
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if bool::from(digest.ct_eq(expected)) {
            Ok(())
        } else {
            Err(ApiError::unauthorized(
                "the metrics endpoint needs its bearer token",
                true,
            ))
        }
    }
}

impl Metrics for ShopMetrics {
    fn order_placed(&self) {
        self.orders_placed.inc();
    }

    fn order_cancelled(&self) {
        self.orders_cancelled.inc();
    }

    fn login_failed(&self) {
        self.login_failures.inc();
    }
}

impl application::ports::EventsWritten for ShopMetrics {
    fn written(&self, types: &[domain::EventType]) {
        for t in types {
            self.events_written
                .get_or_create(&EventTypeLabels { r#type: t.as_str() })
                .inc();
        }
    }
}

impl application::delivery::DeliveryMetrics for ShopMetrics {
    fn attempt(&self, outcome: &'static str, latency: Duration) {
        self.webhook_attempts
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        self.webhook_latency.observe(latency.as_secs_f64());
    }

    fn oldest_pending(&self, age: Option<Duration>) {
        self.webhook_oldest_pending
            .set(age.map_or(0.0, |a| a.as_secs_f64()));
    }
}

/// Metrics
///
/// Prometheus text format: HTTP traffic by route template, database pools, orders placed and
/// cancelled, failed sign-ins. Open unless `METRICS_TOKEN` is set; then it needs
/// `Authorization: Bearer <METRICS_TOKEN>`.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "get_metrics",
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition (version 0.0.4)",
            content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = 401, description = "`METRICS_TOKEN` is set and was not presented",
            content_type = "application/problem+json", body = crate::error::Problem),
    ))]
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = state.metrics.authorize(headers.get(header::AUTHORIZATION)) {
        return e.into_response();
    }
    match state.metrics.render() {
        Ok(body) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            body,
        )
            .into_response(),
        Err(_) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the metrics could not be written",
        )
        .into_response(),
    }
}

/// The routes of `shop worker`, which serves no API: liveness, readiness (the database
/// answers) and this instance's metrics (the job runner's), under the same rules as `shop serve`
/// (`METRICS_TOKEN`).
pub fn worker_router(
    metrics: Arc<ShopMetrics>,
    database: Arc<dyn application::ports::HealthCheck>,
) -> axum::Router {
    use axum::routing::get;
    let ready = move || {
        let database = database.clone();
        async move {
            let up = matches!(
                tokio::time::timeout(Duration::from_secs(3), database.check()).await,
                Ok(Ok(()))
            );
            let checks =
                std::collections::BTreeMap::from([("database", if up { "up" } else { "down" })]);
            let (status, word) = if up {
                (StatusCode::OK, "ok")
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            };
            (
                status,
                axum::Json(crate::dto::HealthResponse {
                    status: word,
                    checks,
                }),
            )
        }
    };
    let scrape = move |headers: HeaderMap| async move {
        if let Err(e) = metrics.authorize(headers.get(header::AUTHORIZATION)) {
            return e.into_response();
        }
        match metrics.render() {
            Ok(body) => (
                [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
                body,
            )
                .into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    };
    axum::Router::new()
        .route("/health/live", get(crate::routes::health::live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(scrape))
}

/// Counts every request and its latency under the route template it matched.
///
/// Applied with `Router::layer`, it wraps each route's handler, so it runs after routing and
/// sees [`MatchedPath`]; the router's fallback sees none and counts as [`UNMATCHED`].
#[derive(Clone)]
pub struct MetricsLayer(Arc<ShopMetrics>);

impl MetricsLayer {
    /// Records into `metrics`.
    pub fn new(metrics: Arc<ShopMetrics>) -> Self {
        Self(metrics)
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.0.clone(),
            route: Arc::new(OnceLock::new()),
        }
    }
}

/// See [`MetricsLayer`].
#[derive(Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Arc<ShopMetrics>,
    /// The route template of the handler this wraps, kept from its first request so later
    /// requests share it instead of copying the path (each handler serves one route).
    route: Arc<OnceLock<Route>>,
}

impl<S> MetricsService<S> {
    fn route(&self, matched: Option<&MatchedPath>) -> Route {
        let Some(path) = matched.map(MatchedPath::as_str) else {
            return self.metrics.unmatched.clone();
        };
        let kept = self.route.get_or_init(|| Route(Arc::from(path)));
        if &*kept.0 == path {
            kept.clone()
        } else {
            Route(Arc::from(path))
        }
    }
}

impl<S, B, ResBody> Service<Request<B>> for MetricsService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let route = self.route(req.extensions().get::<MatchedPath>());
        let method = MethodLabel::of(req.method());
        ResponseFuture {
            inner: self.inner.call(req),
            start: Instant::now(),
            labels: Some((method, route)),
            metrics: self.metrics.clone(),
        }
    }
}

pin_project! {
    /// The wrapped handler's future; records when the response head is ready.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        start: Instant,
        labels: Option<(MethodLabel, Route)>,
        metrics: Arc<ShopMetrics>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let (Ok(response), Some((method, route))) = (&result, this.labels.take()) {
            this.metrics.observe(
                method,
                route,
                response.status().as_u16(),
                this.start.elapsed(),
            );
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use application::ports::PoolUsage;

    struct OnePool;

    impl PoolStats for OnePool {
        fn pools(&self) -> Vec<PoolUsage> {
            vec![PoolUsage {
                pool: "main",
                in_use: 2,
                idle: 3,
                max: 8,
            }]
        }

        fn replica(&self) -> Option<application::ports::ReplicaStatus> {
            None
        }
    }

    struct WithReplica;

    impl PoolStats for WithReplica {
        fn pools(&self) -> Vec<PoolUsage> {
            Vec::new()
        }

        fn replica(&self) -> Option<application::ports::ReplicaStatus> {
            Some(application::ports::ReplicaStatus {
                state: "lagging",
                lag_seconds: 7.5,
            })
        }
    }

    #[test]
    fn a_replica_shows_its_state_and_lag_and_none_shows_nothing() {
        let text = ShopMetrics::new(Arc::new(WithReplica), None)
            .render()
            .unwrap();
        for line in [
            r#"shop_db_replica_state{state="up"} 0"#,
            r#"shop_db_replica_state{state="lagging"} 1"#,
            r#"shop_db_replica_state{state="down"} 0"#,
            r#"shop_db_replica_lag_seconds{pool="replica"} 7.5"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line `{line}` in:\n{text}"
            );
        }
        let text = ShopMetrics::new(Arc::new(OnePool), None).render().unwrap();
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("shop_db_replica_state{"))
        );
    }

    #[test]
    fn the_exposition_names_every_metric_with_its_labels() {
        let m = ShopMetrics::new(Arc::new(OnePool), None);
        let route = Route(Arc::from("/api/v1/products/{id}"));
        m.observe(
            MethodLabel::Get,
            route.clone(),
            200,
            Duration::from_micros(700),
        );
        m.observe(MethodLabel::Get, route, 200, Duration::from_millis(3));
        m.order_placed();
        let text = m.render().unwrap();
        for line in [
            "# TYPE shop_http_requests_total counter",
            r#"shop_http_requests_total{method="GET",route="/api/v1/products/{id}",status="200"} 2"#,
            r#"shop_http_request_duration_seconds_bucket{method="GET",route="/api/v1/products/{id}",le="0.0005"} 0"#,
            r#"shop_http_request_duration_seconds_bucket{method="GET",route="/api/v1/products/{id}",le="0.001"} 1"#,
            r#"shop_http_request_duration_seconds_bucket{method="GET",route="/api/v1/products/{id}",le="+Inf"} 2"#,
            r#"shop_http_request_duration_seconds_count{method="GET",route="/api/v1/products/{id}"} 2"#,
            r#"shop_db_pool_connections{pool="main",state="in_use"} 2"#,
            r#"shop_db_pool_connections{pool="main",state="idle"} 3"#,
            r#"shop_db_pool_max_connections{pool="main"} 8"#,
            "shop_orders_placed_total 1",
            "shop_orders_cancelled_total 0",
            "shop_login_failures_total 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line `{line}` in:\n{text}"
            );
        }
        assert!(
            text.lines()
                .any(|l| l.starts_with("shop_build_info{version=") && l.ends_with("} 1")),
            "no build info in:\n{text}"
        );
    }

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(MethodLabel::of(&Method::GET).as_str(), "GET");
        let odd = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(MethodLabel::of(&odd), MethodLabel::Other);
    }

    #[test]
    fn the_token_is_required_when_set() {
        let m = ShopMetrics::new(Arc::new(OnePool), Some("s3cret-token"));
        let header = |v: &str| HeaderValue::from_str(v).unwrap();
        assert!(m.authorize(Some(&header("Bearer s3cret-token"))).is_ok());
        assert!(m.authorize(Some(&header("bearer s3cret-token"))).is_ok());
        for wrong in [
            "Bearer s3cret-toke",
            "Bearer ",
            "Basic s3cret-token",
            "s3cret-token",
        ] {
            let e = m.authorize(Some(&header(wrong))).unwrap_err();
            assert_eq!(e.status(), StatusCode::UNAUTHORIZED, "{wrong}");
        }
        assert!(m.authorize(None).is_err());
        assert!(!format!("{m:?}").contains("s3cret"));
        let open = ShopMetrics::new(Arc::new(OnePool), None);
        assert!(open.authorize(None).is_ok());
    }
}
