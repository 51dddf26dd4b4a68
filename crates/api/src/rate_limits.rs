//! Rate limits: sign-in, registration and refresh per client address; every other write
//! under `/api/v1` per signed-in user (the token's subject), or per address when anonymous.
//! Over the limit a request answers 429 problem+json with `Retry-After` in whole seconds.
//!
//! Built on `governor` (GCRA, one keyed state store per limit). Its keyed state only grows
//! with distinct keys, so a background task drops every key whose bucket has refilled
//! ([`PRUNE_EVERY`]): what is held is bounded by the addresses and users seen in the last
//! prune period plus one refill time. IPv6 clients are keyed by their /64, the smallest
//! block a single subscriber is usually given, so one host cannot mint fresh keys.
//!
//! With a shared store ([`SharedLimits`], Redis in production: `RATE_LIMIT_REDIS_URL`) the
//! buckets are counted there, so the limits hold across every instance; while it does not
//! answer within [`SHARED_TIMEOUT`] each instance counts alone (as without one), says so once
//! in the log and in `/metrics`, and tries the store again after [`SHARED_RETRY`].
//!
//! The client address is the TCP peer. `X-Forwarded-For` is read only when the peer is a
//! trusted proxy, and then its right-most entry that is not itself a trusted proxy wins:
//! entries to the left of that were written by the client and prove nothing.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use ipnet::IpNet;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Authentication;
use crate::error::ApiError;

/// How often buckets that have refilled are dropped.
pub const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Longest a check waits for the shared store before the instance counts alone.
pub const SHARED_TIMEOUT: Duration = Duration::from_millis(100);
/// How long the instance counts alone after the shared store failed, before it tries again.
pub const SHARED_RETRY: Duration = Duration::from_secs(5);

/// Buckets kept outside the process, shared by every instance (GCRA, the same rule as the
/// in-memory limiter: `rate.burst` at once, then one more every `60 s / rate.per_minute`).
#[async_trait::async_trait]
pub trait SharedLimits: Send + Sync {
    /// Takes one request from the bucket `key`: `Ok(Ok(()))` when it had room, `Ok(Err(s))`
    /// when it is over its limit (`s` whole seconds to wait, at least 1).
    ///
    /// # Errors
    /// When the store cannot answer; the caller then counts alone.
    async fn check(&self, key: &str, rate: Rate) -> Result<Result<(), u64>, SharedUnavailable>;
}

/// The shared store did not answer; why, for the log.
#[derive(Debug, thiserror::Error)]
#[error("shared rate limit store unavailable: {0}")]
pub struct SharedUnavailable(pub String);

/// Counts what happens to the shared store: each time an instance starts counting alone.
pub trait SharedLimitsMetrics: Send + Sync {
    /// The store failed and the instance counts alone for a while.
    fn shared_limits_fell_back(&self);
}

/// A sustained rate and the largest burst above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per minute, sustained (one more every `60 s / per_minute`).
    pub per_minute: NonZeroU32,
    /// Requests that may come at once when the bucket is full.
    pub burst: NonZeroU32,
}

impl Rate {
    /// `per_minute` sustained, `burst` at once; `None` when either is zero.
    pub fn new(per_minute: u32, burst: u32) -> Option<Self> {
        Some(Self {
            per_minute: NonZeroU32::new(per_minute)?,
            burst: NonZeroU32::new(burst)?,
        })
    }

    /// The time one request takes to refill: `60 s / per_minute`.
    pub fn period(self) -> Duration {
        Duration::from_secs(60) / self.per_minute.get()
    }

    fn quota(self) -> Quota {
        Quota::with_period(self.period())
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(self.burst)
    }
}

/// Addresses and networks of the proxies in front of the service (`TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// A comma-separated list of IP addresses and CIDR networks; empty trusts nobody.
    ///
    /// # Errors
    /// The first entry that is neither, as a message naming it.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .map(|net| net.trunc())
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{s}` is not an IP address or a CIDR network"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether `ip` belongs to a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The client a request comes from: the TCP `peer`, or, when the peer is a trusted proxy,
/// the right-most `X-Forwarded-For` entry that is not a trusted proxy itself. An entry that is
/// not an address ends the walk at the last trusted hop.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = peer.to_canonical();
    if trusted.is_empty() || !trusted.contains(peer) {
        return peer;
    }
    let mut client = peer;
    // Several header lines form one list, in order.
    let lines: Vec<&HeaderValue> = headers.get_all("x-forwarded-for").iter().collect();
    for line in lines.iter().rev() {
        let Ok(text) = line.to_str() else {
            return client;
        };
        for entry in text.rsplit(',') {
            let Some(ip) = parse_forwarded(entry.trim()) else {
                return client;
            };
            client = ip;
            if !trusted.contains(ip) {
                return ip;
            }
        }
    }
    client
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:80`.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The bucket an address counts against: itself, or its /64 for IPv6.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(
            v6.to_bits() & 0xffff_ffff_ffff_ffff_0000_0000_0000_0000,
        )),
        v4 => v4,
    }
}

/// Settings of the rate limits (absent when `RATE_LIMIT_ENABLED=false`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    /// Sign-in, registration and refresh, per client address.
    pub auth: Rate,
    /// Other writes under `/api/v1`, per signed-in user (per address when anonymous).
    pub writes: Rate,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
}

/// Who a write counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum WriteKey {
    User(Uuid),
    Address(IpAddr),
}

type Keyed<K, C> = RateLimiter<K, DashMapStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The shared store, and until when it is left alone after a failure.
struct Shared {
    store: Arc<dyn SharedLimits>,
    metrics: Arc<dyn SharedLimitsMetrics>,
    /// `Some(t)`: the store failed; the instance counts alone until `t`.
    resting_until: std::sync::Mutex<Option<std::time::Instant>>,
    /// [`SHARED_TIMEOUT`] and [`SHARED_RETRY`] (shorter in tests).
    timeout: Duration,
    retry: Duration,
}

impl Shared {
    /// The store's verdict on `key`, or `None` while it rests or when it fails now (it then
    /// rests for [`SHARED_RETRY`], said once in the log and counted).
    async fn check(&self, key: &str, rate: Rate) -> Option<Result<(), u64>> {
        let now = std::time::Instant::now();
        {
            let resting = self
                .resting_until
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if resting.is_some_and(|until| now < until) {
                return None;
            }
        }
        let answer = tokio::time::timeout(self.timeout, self.store.check(key, rate)).await;
        let mut resting = self
            .resting_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match answer {
            Ok(Ok(verdict)) => {
                if resting.take().is_some() {
                    tracing::info!("rate limits: the shared store answers again; counting there");
                }
                Some(verdict)
            }
            failed => {
                if resting.is_none() {
                    let why = match failed {
                        Ok(Err(e)) => e.to_string(),
                        _ => format!("no answer within {} ms", self.timeout.as_millis()),
                    };
                    tracing::warn!(error = %why, "rate limits: the shared store failed; each instance counts alone until it answers");
                }
                *resting = Some(now + self.retry);
                self.metrics.shared_limits_fell_back();
                None
            }
        }
    }
}

/// The limiters' state, shared by every request and the pruning task.
pub(crate) struct Limiters<C: Clock + Clone = DefaultClock> {
    auth: Keyed<IpAddr, C>,
    writes: Keyed<WriteKey, C>,
    trusted: TrustedProxies,
    rates: (Rate, Rate),
    shared: Option<Shared>,
}

impl<C: Clock + Clone> Limiters<C> {
    fn new(limits: &RateLimits, clock: &C) -> Self {
        Self {
            auth: RateLimiter::dashmap_with_clock(limits.auth.quota(), clock.clone()),
            writes: RateLimiter::dashmap_with_clock(limits.writes.quota(), clock.clone()),
            trusted: limits.trusted_proxies.clone(),
            rates: (limits.auth, limits.writes),
            shared: None,
        }
    }

    /// The same, counting in `store` while it answers.
    fn shared(
        mut self,
        store: Arc<dyn SharedLimits>,
        metrics: Arc<dyn SharedLimitsMetrics>,
    ) -> Self {
        self.shared = Some(Shared {
            store,
            metrics,
            resting_until: std::sync::Mutex::new(None),
            timeout: SHARED_TIMEOUT,
            retry: SHARED_RETRY,
        });
        self
    }

    /// The verdict on a request of `kind` from `address` (by `user` for a write, when signed
    /// in): the shared store's while it answers, else this instance's own.
    async fn verdict(&self, kind: Limit, address: IpAddr, user: Option<Uuid>) -> Result<(), u64> {
        let key = match (&kind, user) {
            (Limit::Auth, _) => format!("auth:{address}"),
            (Limit::Write, Some(user)) => format!("write:user:{user}"),
            (Limit::Write, None) => format!("write:addr:{address}"),
        };
        let rate = match kind {
            Limit::Auth => self.rates.0,
            Limit::Write => self.rates.1,
        };
        if let Some(shared) = &self.shared
            && let Some(verdict) = shared.check(&key, rate).await
        {
            return verdict;
        }
        match (kind, user) {
            (Limit::Auth, _) => check(&self.auth, &address),
            (Limit::Write, Some(user)) => check(&self.writes, &WriteKey::User(user)),
            (Limit::Write, None) => check(&self.writes, &WriteKey::Address(address)),
        }
    }

    /// Drops every bucket that has refilled (it is the same as a fresh one), and the memory
    /// they held.
    fn prune(&self) {
        self.auth.retain_recent();
        self.auth.shrink_to_fit();
        self.writes.retain_recent();
        self.writes.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.auth.len() + self.writes.len()
    }
}

/// `Err(seconds to wait)` when `key` is over its limit.
fn check<K, C>(limiter: &Keyed<K, C>, key: &K) -> Result<(), u64>
where
    K: std::hash::Hash + Eq + Clone,
    C: Clock,
{
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(limiter.clock().now());
        (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
    })
}

/// 429 with `Retry-After`.
fn too_many_requests(retry_after: u64) -> Response {
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        format!("too many requests; try again in {retry_after} s"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

/// Which limit a request counts against, if any.
enum Limit {
    Auth,
    Write,
}

fn limit_of(method: &Method, path: &str) -> Option<Limit> {
    // Inside `nest` the prefix is stripped; outside it is not: accept both.
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    if method == Method::POST && matches!(path, "/auth/login" | "/auth/register" | "/auth/refresh")
    {
        Some(Limit::Auth)
    } else if matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        Some(Limit::Write)
    } else {
        None
    }
}

/// The key a request's client address is counted under: the peer, or the client a trusted
/// proxy names.
fn address_of(req: &Request, limiters: &Limiters) -> IpAddr {
    // Without ConnectInfo (a server not started with it) every client looks the same.
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    address_key(client_ip(peer, req.headers(), &limiters.trusted))
}

async fn limit(State(limiters): State<Arc<Limiters>>, req: Request, next: Next) -> Response {
    let Some(kind) = limit_of(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let address = address_of(&req, &limiters);
    // The authentication layer, outside this one, verified the token. A write with a missing
    // or bad token counts against the address, and the handler then answers 401.
    let user = req
        .extensions()
        .get::<Authentication>()
        .and_then(Authentication::actor)
        .map(|a| a.user_id.as_uuid());
    match limiters.verdict(kind, address, user).await {
        Ok(()) => next.run(req).await,
        Err(retry_after) => too_many_requests(retry_after),
    }
}

/// Wraps `api` (the routes under `/api/v1`) in the rate limits, and starts the task that
/// prunes their state; `None` leaves it as it is, with no layer at all. The authentication
/// layer must wrap the result, so a write is keyed by the caller it verified. The limiters
/// are answered too, for [`apply_sign_in`].
pub(crate) fn apply(
    api: Router<AppState>,
    limits: Option<&RateLimits>,
    shared: Option<(Arc<dyn SharedLimits>, Arc<dyn SharedLimitsMetrics>)>,
) -> (Router<AppState>, Option<Arc<Limiters>>) {
    let Some(limits) = limits else {
        return (api, None);
    };
    let limiters = Limiters::new(limits, &DefaultClock::default());
    let limiters = Arc::new(match shared {
        Some((store, metrics)) => limiters.shared(store, metrics),
        None => limiters,
    });
    spawn_pruning(Arc::downgrade(&limiters));
    let api = api.layer(axum::middleware::from_fn_with_state(
        limiters.clone(),
        limit,
    ));
    (api, Some(limiters))
}

/// Counts each `POST /login` of `router` (the dashboard, as it sees its own paths) against
/// the sign-in limit of its client address, in the same buckets as the API's sign-in.
pub(crate) fn apply_sign_in<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    limiters: Option<&Arc<Limiters>>,
) -> Router<S> {
    let Some(limiters) = limiters else {
        return router;
    };
    router.layer(axum::middleware::from_fn_with_state(
        limiters.clone(),
        limit_sign_in,
    ))
}

async fn limit_sign_in(
    State(limiters): State<Arc<Limiters>>,
    req: Request,
    next: Next,
) -> Response {
    if req.method() != Method::POST || req.uri().path() != "/login" {
        return next.run(req).await;
    }
    let address = address_of(&req, &limiters);
    match limiters.verdict(Limit::Auth, address, None).await {
        Ok(()) => next.run(req).await,
        Err(retry_after) => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("Too many sign-in attempts; try again in {retry_after} s."),
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
    }
}

/// Prunes every [`PRUNE_EVERY`] until the router (and with it the limiters) is dropped.
fn spawn_pruning(limiters: Weak<Limiters>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(PRUNE_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(limiters) = limiters.upgrade() else {
                break;
            };
            let before = limiters.len();
            limiters.prune();
            tracing::debug!(before, after = limiters.len(), "rate limit state pruned");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn trusted(list: &str) -> TrustedProxies {
        TrustedProxies::parse(list).unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn trusted_proxies_are_addresses_and_networks() {
        let t = trusted(" 10.0.0.0/8, 192.168.1.7 ,::1,2001:db8::/32,");
        assert!(t.contains(ip("10.1.2.3")));
        assert!(t.contains(ip("192.168.1.7")));
        assert!(!t.contains(ip("192.168.1.8")));
        assert!(t.contains(ip("::1")));
        assert!(t.contains(ip("2001:db8:1::5")));
        assert!(
            t.contains(ip("::ffff:10.9.9.9")),
            "IPv4-mapped IPv6 is IPv4"
        );
        assert!(trusted("").is_empty());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        let err = TrustedProxies::parse("10.0.0.1, proxy.local").unwrap_err();
        assert!(err.contains("proxy.local"), "{err}");
    }

    #[test]
    fn the_header_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let h = forwarded(&["203.0.113.9"]);
        assert_eq!(
            client_ip(ip("198.51.100.1"), &h, &trusted("")),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_ip(ip("198.51.100.1"), &h, &trusted("10.0.0.0/8")),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &h, &trusted("10.0.0.0/8")),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_right_most_untrusted_entry_is_the_client() {
        let t = trusted("10.0.0.0/8");
        // The client wrote the first two entries itself; the proxies appended the rest.
        let h = forwarded(&["1.1.1.1, 2.2.2.2", "203.0.113.9, 10.0.0.5"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("203.0.113.9"));
        let h = forwarded(&["1.1.1.1, [2001:db8::7]:443, 10.0.0.5:8080"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("2001:db8::7"));
        // All trusted, or garbage: the last trusted hop.
        let h = forwarded(&["10.0.0.9, 10.0.0.5"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("10.0.0.9"));
        let h = forwarded(&["1.1.1.1, unknown, 10.0.0.5"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &t), ip("10.0.0.5"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &t),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn ipv6_clients_share_their_64_block() {
        assert_eq!(
            address_key(ip("2001:db8:1:2:aaaa::1")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            address_key(ip("2001:db8:1:2:ffff::9")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(address_key(ip("::ffff:203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(address_key(ip("203.0.113.9")), ip("203.0.113.9"));
    }

    #[test]
    fn only_sign_in_routes_and_writes_are_limited() {
        let auth = |m: Method, p: &str| matches!(limit_of(&m, p), Some(Limit::Auth));
        let write = |m: Method, p: &str| matches!(limit_of(&m, p), Some(Limit::Write));
        assert!(auth(Method::POST, "/auth/login"));
        assert!(auth(Method::POST, "/api/v1/auth/register"));
        assert!(auth(Method::POST, "/auth/refresh"));
        assert!(write(Method::POST, "/auth/logout"));
        assert!(write(Method::POST, "/orders"));
        assert!(write(Method::PUT, "/api/v1/users/me"));
        assert!(write(Method::DELETE, "/products/x"));
        assert!(limit_of(&Method::GET, "/products").is_none());
        assert!(limit_of(&Method::HEAD, "/auth/login").is_none());
    }

    fn limits(per_minute: u32, burst: u32) -> RateLimits {
        RateLimits {
            auth: Rate::new(per_minute, burst).unwrap(),
            writes: Rate::new(per_minute, burst).unwrap(),
            trusted_proxies: TrustedProxies::default(),
        }
    }

    /// A shared store that answers as told and remembers the keys it was asked.
    #[derive(Default)]
    struct Store {
        /// `None`: fails; `Some(None)`: never answers; `Some(Some(v))`: answers `v`.
        answer: std::sync::Mutex<Option<Option<Result<(), u64>>>>,
        asked: std::sync::Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl SharedLimits for Store {
        async fn check(&self, key: &str, _: Rate) -> Result<Result<(), u64>, SharedUnavailable> {
            self.asked.lock().unwrap().push(key.to_owned());
            let answer = *self.answer.lock().unwrap();
            match answer {
                None => Err(SharedUnavailable("connection refused".into())),
                Some(None) => std::future::pending().await,
                Some(Some(v)) => Ok(v),
            }
        }
    }

    #[derive(Default)]
    struct Fallbacks(std::sync::atomic::AtomicUsize);

    impl SharedLimitsMetrics for Fallbacks {
        fn shared_limits_fell_back(&self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    const TIMEOUT: Duration = Duration::from_millis(50);
    const RETRY: Duration = Duration::from_millis(300);

    fn shared_limiters(store: &Arc<Store>, fallbacks: &Arc<Fallbacks>) -> Limiters {
        let mut l = Limiters::new(&limits(60, 2), &DefaultClock::default())
            .shared(store.clone(), fallbacks.clone());
        if let Some(shared) = &mut l.shared {
            (shared.timeout, shared.retry) = (TIMEOUT, RETRY);
        }
        l
    }

    #[tokio::test]
    async fn the_shared_store_decides_while_it_answers_and_the_instance_counts_alone_meanwhile() {
        let (store, fallbacks) = (Arc::new(Store::default()), Arc::new(Fallbacks::default()));
        let l = shared_limiters(&store, &fallbacks);
        let a = ip("203.0.113.9");
        let user = Uuid::from_u128(7);
        // It answers: its verdict stands (here: over the limit at once), keyed per limit.
        *store.answer.lock().unwrap() = Some(Some(Err(42)));
        assert_eq!(l.verdict(Limit::Auth, a, None).await, Err(42));
        assert_eq!(l.verdict(Limit::Write, a, Some(user)).await, Err(42));
        assert_eq!(l.verdict(Limit::Write, a, None).await, Err(42));
        assert_eq!(
            *store.asked.lock().unwrap(),
            [
                "auth:203.0.113.9",
                "write:user:00000000-0000-0000-0000-000000000007",
                "write:addr:203.0.113.9"
            ]
        );
        *store.answer.lock().unwrap() = Some(Some(Ok(())));
        assert_eq!(l.verdict(Limit::Auth, a, None).await, Ok(()));
        // The instance's own buckets were not touched: 2 at once are still there.
        assert_eq!(check(&l.auth, &a), Ok(()));
        assert_eq!(fallbacks.0.load(std::sync::atomic::Ordering::SeqCst), 0);

        // It fails: the instance's own bucket (one left, then over), counted once, and the store
        // is not asked again until it has rested.
        *store.answer.lock().unwrap() = None;
        store.asked.lock().unwrap().clear();
        assert_eq!(l.verdict(Limit::Auth, a, None).await, Ok(()));
        assert_eq!(l.verdict(Limit::Auth, a, None).await, Err(1));
        assert_eq!(store.asked.lock().unwrap().len(), 1);
        assert_eq!(fallbacks.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        tokio::time::sleep(RETRY / 2).await;
        assert_eq!(l.verdict(Limit::Auth, a, None).await, Err(1));
        assert_eq!(store.asked.lock().unwrap().len(), 1, "asked while resting");

        // Rested: asked again; it answers, and decides again.
        *store.answer.lock().unwrap() = Some(Some(Ok(())));
        tokio::time::sleep(RETRY / 2 + Duration::from_millis(20)).await;
        assert_eq!(l.verdict(Limit::Auth, a, None).await, Ok(()));
        assert_eq!(store.asked.lock().unwrap().len(), 2);

        // It hangs: after the timeout the instance counts alone, and the fall-back is counted.
        *store.answer.lock().unwrap() = Some(None);
        let started = std::time::Instant::now();
        assert_eq!(l.verdict(Limit::Write, a, Some(user)).await, Ok(()));
        assert!(started.elapsed() >= TIMEOUT);
        assert_eq!(fallbacks.0.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn a_burst_then_one_per_period_with_retry_after_in_whole_seconds() {
        let clock = FakeRelativeClock::default();
        // 10 a minute: one every 6 s, 3 at once.
        let l = Limiters::new(&limits(10, 3), &clock);
        let a = ip("203.0.113.9");
        for _ in 0..3 {
            assert_eq!(check(&l.auth, &a), Ok(()));
        }
        assert_eq!(check(&l.auth, &a), Err(6));
        assert_eq!(
            check(&l.auth, &ip("203.0.113.10")),
            Ok(()),
            "another client"
        );
        clock.advance(Duration::from_millis(5_500));
        assert_eq!(check(&l.auth, &a), Err(1), "0.5 s rounds up to 1");
        clock.advance(Duration::from_millis(500));
        assert_eq!(check(&l.auth, &a), Ok(()));
    }

    #[test]
    fn pruning_forgets_clients_whose_bucket_has_refilled() {
        let clock = FakeRelativeClock::default();
        let l = Limiters::new(&limits(60, 5), &clock);
        for i in 0..10_000u32 {
            let a = IpAddr::from(i.to_be_bytes());
            let _ = check(&l.auth, &a);
            let _ = check(&l.writes, &WriteKey::Address(a));
        }
        assert_eq!(l.len(), 20_000);
        l.prune();
        assert_eq!(l.len(), 20_000, "buckets still refilling are kept");
        clock.advance(Duration::from_secs(5));
        l.prune();
        assert_eq!(l.len(), 0);
    }
}
