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

    fn quota(self) -> Quota {
        let period = Duration::from_secs(60) / self.per_minute.get();
        Quota::with_period(period)
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

/// The limiters' state, shared by every request and the pruning task.
struct Limiters<C: Clock + Clone = DefaultClock> {
    auth: Keyed<IpAddr, C>,
    writes: Keyed<WriteKey, C>,
    trusted: TrustedProxies,
}

impl<C: Clock + Clone> Limiters<C> {
    fn new(limits: &RateLimits, clock: &C) -> Self {
        Self {
            auth: RateLimiter::dashmap_with_clock(limits.auth.quota(), clock.clone()),
            writes: RateLimiter::dashmap_with_clock(limits.writes.quota(), clock.clone()),
            trusted: limits.trusted_proxies.clone(),
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

async fn limit(State(limiters): State<Arc<Limiters>>, req: Request, next: Next) -> Response {
    let Some(kind) = limit_of(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    // Without ConnectInfo (a server not started with it) every client looks the same.
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let address = address_key(client_ip(peer, req.headers(), &limiters.trusted));
    let verdict = match kind {
        Limit::Auth => check(&limiters.auth, &address),
        Limit::Write => {
            // The authentication layer, outside this one, verified the token. A missing or
            // bad token counts against the address, and the handler then answers 401.
            let key = match req
                .extensions()
                .get::<Authentication>()
                .and_then(Authentication::actor)
            {
                Some(a) => WriteKey::User(a.user_id.as_uuid()),
                None => WriteKey::Address(address),
            };
            check(&limiters.writes, &key)
        }
    };
    match verdict {
        Ok(()) => next.run(req).await,
        Err(retry_after) => too_many_requests(retry_after),
    }
}

/// Wraps `api` (the routes under `/api/v1`) in the rate limits, and starts the task that
/// prunes their state; `None` leaves it as it is, with no layer at all. The authentication
/// layer must wrap the result, so a write is keyed by the caller it verified.
pub(crate) fn apply(api: Router<AppState>, limits: Option<&RateLimits>) -> Router<AppState> {
    let Some(limits) = limits else { return api };
    let limiters = Arc::new(Limiters::new(limits, &DefaultClock::default()));
    spawn_pruning(Arc::downgrade(&limiters));
    api.layer(axum::middleware::from_fn_with_state(limiters, limit))
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
