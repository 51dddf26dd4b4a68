//! Ready-to-send catalog answers: the bodies of `GET /products` and `GET /products/{id or
//! slug}` as anyone but an admin sees them, kept in memory and answered without a query.
//!
//! Freshness rests on one number, the catalog's version:
//! - every request through this instance that may write (any method but `GET`, `HEAD` and
//!   `OPTIONS`, outside `/auth/`) moves it on once it has been answered, before its answer
//!   leaves, so that whoever made a change reads it back at once;
//! - with PostgreSQL, every instance also moves it on when the database tells it of a catalog
//!   write made elsewhere (another instance, a worker, a script: see `infrastructure`'s
//!   catalog listener), and serves nothing from memory while it cannot hear of them;
//! - an answer is kept with the version read *before* its query ran and served only while
//!   the version is still that one, so a write racing the query is never hidden;
//! - and no answer is served older than `max_age`, whatever happened to the notifications.
//!
//! Memory is bounded by `max_bytes` of bodies: when a new one would pass it, the answers of
//! past versions go first, then others until a quarter of it is free. Admins (who see
//! drafts) always read the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::metrics::counter::Counter;

use crate::auth::Authentication;

/// The catalog's answers kept in memory, and the version that says whether they still hold.
pub struct CatalogCache {
    version: AtomicU64,
    /// Whether answers may be served: false while another instance's writes cannot be heard.
    serving: AtomicBool,
    max_bytes: usize,
    max_age: Duration,
    entries: RwLock<Entries>,
    hits: Counter,
    misses: Counter,
}

#[derive(Default)]
struct Entries {
    map: HashMap<Box<str>, Entry>,
    bytes: usize,
}

struct Entry {
    version: u64,
    stored: Instant,
    body: Bytes,
}

impl CatalogCache {
    /// A cache of at most `max_bytes` of bodies, none served older than `max_age`, counting
    /// its hits and misses into `(hits, misses)`; serving from the start (an instance that
    /// must first hear of others' writes says [`Self::set_listening`]`(false)` before it
    /// takes requests).
    pub fn new(max_bytes: usize, max_age: Duration, (hits, misses): (Counter, Counter)) -> Self {
        Self {
            version: AtomicU64::new(0),
            serving: AtomicBool::new(true),
            max_bytes,
            max_age,
            entries: RwLock::new(Entries::default()),
            hits,
            misses,
        }
    }

    /// The catalog changed: nothing kept before now is served again.
    pub fn changed(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether this instance hears of the catalog writes made elsewhere. While it does not,
    /// nothing is served from memory; either way what was kept is forgotten.
    pub fn set_listening(&self, listening: bool) {
        self.changed();
        self.serving.store(listening, Ordering::Release);
    }

    fn current(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The body kept for `key`, if it was read at the current version and is young enough.
    fn get(&self, key: &str) -> Option<Bytes> {
        if !self.serving.load(Ordering::Acquire) {
            return None;
        }
        let version = self.current();
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .map
            .get(key)
            .filter(|e| e.version == version && e.stored.elapsed() < self.max_age)
            .map(|e| e.body.clone())
    }

    /// Keeps `body` for `key`, read at `version` (taken before the read began).
    fn put(&self, key: &str, version: u64, body: Bytes) {
        if body.len() > self.max_bytes / 4 || version != self.current() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.bytes + body.len() > self.max_bytes {
            // Answers of past versions go first; then any, until a quarter is free again
            // (in the map's own order, which is as good as random here).
            let current = self.current();
            let target = self.max_bytes / 4 * 3;
            let mut bytes = entries.bytes;
            entries.map.retain(|_, e| {
                let keep = e.version == current;
                if !keep {
                    bytes -= e.body.len();
                }
                keep
            });
            entries.map.retain(|_, e| {
                let keep = bytes + body.len() <= target;
                if !keep {
                    bytes -= e.body.len();
                }
                keep
            });
            entries.bytes = bytes;
        }
        let size = body.len();
        let old = entries.map.insert(
            key.into(),
            Entry {
                version,
                stored: Instant::now(),
                body,
            },
        );
        entries.bytes = entries.bytes + size - old.map_or(0, |e| e.body.len());
    }
}

/// Whether `path` (inside `/api/v1`) is a read this cache keeps: the product list, or one
/// product by id or slug.
fn is_catalog_read(path: &str) -> bool {
    match path.strip_prefix("/products") {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('/')
            .is_some_and(|key| !key.is_empty() && !key.contains('/')),
        None => false,
    }
}

/// Whether a request of `method` to `path` may change the catalog.
fn may_write(method: &Method, path: &str) -> bool {
    !(method.is_safe() || path.starts_with("/auth/"))
}

/// Whether the caller is an admin (who sees drafts, so is never answered from memory).
fn by_admin(req: &Request) -> bool {
    req.extensions()
        .get::<Authentication>()
        .and_then(Authentication::actor)
        .is_some_and(application::Actor::is_admin)
}

/// The layer around the API's routes: answers catalog reads from memory where it can, keeps
/// what they read, and moves the version on after every request that may write.
pub(crate) async fn layer(
    State(cache): State<Arc<CatalogCache>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if may_write(req.method(), path) {
        let response = next.run(req).await;
        cache.changed();
        return response;
    }
    if req.method() != Method::GET || !is_catalog_read(path) || by_admin(&req) {
        return next.run(req).await;
    }
    let key = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.to_owned(), |p| p.as_str().to_owned());
    if let Some(body) = cache.get(&key) {
        cache.hits.inc();
        return json(body);
    }
    cache.misses.inc();
    let version = cache.current();
    let response = next.run(req).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (parts, body) = response.into_parts();
    // The handlers answer JSON already in memory: collecting it copies nothing.
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => {
            cache.put(&key, version, bytes.clone());
            Response::from_parts(parts, Body::from(bytes))
        }
        // Made a problem+json by the router's outer layer.
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A kept body, answered as the handler answered it.
fn json(body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> CatalogCache {
        CatalogCache::new(100, Duration::from_secs(60), Default::default())
    }

    #[test]
    fn an_answer_is_served_until_the_catalog_changes() {
        let c = cache();
        c.put("/products", c.current(), Bytes::from_static(b"[1]"));
        assert_eq!(c.get("/products"), Some(Bytes::from_static(b"[1]")));
        assert_eq!(c.get("/products?page=2"), None);
        c.changed();
        assert_eq!(c.get("/products"), None);
    }

    #[test]
    fn an_answer_read_before_a_change_is_not_kept() {
        let c = cache();
        let before = c.current();
        c.changed();
        c.put("/products", before, Bytes::from_static(b"[old]"));
        assert_eq!(c.get("/products"), None);
    }

    #[test]
    fn nothing_is_served_while_not_listening_nor_after() {
        let c = cache();
        c.put("/products", c.current(), Bytes::from_static(b"[1]"));
        c.set_listening(false);
        c.put("/products", c.current(), Bytes::from_static(b"[2]"));
        assert_eq!(c.get("/products"), None);
        c.set_listening(true);
        assert_eq!(c.get("/products"), None, "kept while deaf: forgotten");
        c.put("/products", c.current(), Bytes::from_static(b"[3]"));
        assert_eq!(c.get("/products"), Some(Bytes::from_static(b"[3]")));
    }

    #[test]
    fn an_answer_older_than_max_age_is_not_served() {
        let c = CatalogCache::new(100, Duration::ZERO, Default::default());
        c.put("/products", c.current(), Bytes::from_static(b"[1]"));
        assert_eq!(c.get("/products"), None);
    }

    #[test]
    fn memory_stays_within_max_bytes() {
        let c = cache();
        for i in 0..20 {
            c.put(
                &format!("/products/{i}"),
                c.current(),
                Bytes::from(vec![b'x'; 25]),
            );
            let held = c.entries.read().unwrap().bytes;
            assert!(held <= 100, "{held} bytes held");
        }
        // The newest is kept, with some of the others: a full cache frees a quarter, not all.
        assert!(c.get("/products/19").is_some());
        assert_eq!(c.entries.read().unwrap().map.len(), 4);
        // Past versions go first.
        let old = c.current();
        c.changed();
        c.put("/products/new", c.current(), Bytes::from(vec![b'x'; 25]));
        c.put("/products/newer", c.current(), Bytes::from(vec![b'x'; 25]));
        let entries = c.entries.read().unwrap();
        assert_eq!(entries.map.len(), 2);
        assert!(entries.map.values().all(|e| e.version != old));
        drop(entries);
        // A body over a quarter of the whole is never kept.
        c.put("/products/big", c.current(), Bytes::from(vec![b'x'; 26]));
        assert_eq!(c.get("/products/big"), None);
        // Replacing a key counts its new size only.
        c.put("/products/19", c.current(), Bytes::from(vec![b'y'; 10]));
        let entries = c.entries.read().unwrap();
        assert_eq!(
            entries.bytes,
            entries.map.values().map(|e| e.body.len()).sum::<usize>()
        );
    }

    #[test]
    fn the_product_list_and_one_product_are_the_reads_kept() {
        for path in ["/products", "/products/abc", "/products/0190-aa"] {
            assert!(is_catalog_read(path), "{path}");
        }
        for path in [
            "/products/",
            "/products/abc/variants",
            "/productsx",
            "/orders",
            "/categories",
        ] {
            assert!(!is_catalog_read(path), "{path}");
        }
    }

    #[test]
    fn every_unsafe_method_but_sign_in_may_write() {
        assert!(may_write(&Method::POST, "/orders"));
        assert!(may_write(&Method::PUT, "/products/1"));
        assert!(may_write(&Method::DELETE, "/categories/1"));
        assert!(may_write(&Method::PATCH, "/x"));
        assert!(!may_write(&Method::GET, "/products"));
        assert!(!may_write(&Method::HEAD, "/products"));
        assert!(!may_write(&Method::OPTIONS, "/products"));
        assert!(!may_write(&Method::POST, "/auth/login"));
    }
}
