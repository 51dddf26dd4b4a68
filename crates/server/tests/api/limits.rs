//! Rate limits, as a client sees them: sign-ins per address, writes per user, 429 with
//! `Retry-After`, `X-Forwarded-For` believed only from a trusted proxy, and one budget shared
//! by three servers through a real Redis (`SHOP_TEST_REDIS_SERVER`, which scripts/test.sh
//! installs and sets), also while it is stopped and after it is back. The limits keep their
//! state in memory or in Redis, whatever the database, so these run on SQLite only.

use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use reqwest::{Response, StatusCode};
use serde_json::json;
use shop::Settings;

use crate::helpers::paths::LOGIN;
use crate::helpers::{Db, TestApp, assert_problem, spawn_app_with};

/// A server with rate limits on, `configure` applied after.
async fn limited_app(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(Db::Sqlite, |s| {
        s.rate_limit_enabled = true;
        configure(s);
    })
    .await
    .expect("SQLite is always available")
}

/// A sign-in attempt with a wrong password, as if from `forwarded_for` when given.
async fn attempt(app: &TestApp, forwarded_for: Option<&str>) -> Response {
    let mut req = app
        .client
        .post(app.url(LOGIN))
        .json(&json!({"username": "someone@example.com", "password": "not the password"}));
    if let Some(xff) = forwarded_for {
        req = req.header("X-Forwarded-For", xff);
    }
    req.send().await.expect("POST failed")
}

/// Checks a 429 problem with a whole-second `Retry-After` of at least 1, and returns it.
async fn assert_rate_limited(resp: Response) -> u64 {
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = assert_problem(resp, 429).await;
    let retry_after = retry_after.unwrap_or_else(|| panic!("429 without Retry-After: {body}"));
    let seconds: u64 = retry_after
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After `{retry_after}` is not whole seconds"));
    assert!(seconds >= 1, "Retry-After {seconds}");
    seconds
}

fn rate(per_minute: u32, burst: u32) -> api::rate_limits::Rate {
    api::rate_limits::Rate::new(per_minute, burst).unwrap()
}

fn trust(list: &str) -> api::rate_limits::TrustedProxies {
    api::rate_limits::TrustedProxies::parse(list).unwrap()
}

#[tokio::test]
async fn the_eleventh_sign_in_attempt_in_a_burst_answers_429_with_retry_after() {
    // The defaults: 10 a minute, 10 at once.
    let app = limited_app(|_| {}).await;
    for i in 1..=10 {
        let resp = attempt(&app, None).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let retry_after = assert_rate_limited(attempt(&app, None).await).await;
    assert!(
        retry_after <= 6,
        "one attempt comes back every 6 s: {retry_after}"
    );
    // Registration and refresh share the budget of the address.
    let resp = app.post_register("new@example.com", "long enough").await;
    assert_rate_limited(resp).await;
    assert_rate_limited(app.refresh("whatever").await).await;
    // Reads are not limited.
    assert_eq!(
        app.get("/api/v1/products", None).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let app = limited_app(|s| {
        s.rate_limits.auth = rate(1, 3);
        s.rate_limits.trusted_proxies = trust("127.0.0.1, 10.0.0.0/8");
    })
    .await;
    // What the client wrote itself (left) is not what the proxies saw (right).
    let first = "198.51.100.1, 203.0.113.1, 10.0.0.5";
    for _ in 0..3 {
        assert_eq!(
            attempt(&app, Some(first)).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_rate_limited(attempt(&app, Some(first)).await).await;
    // Another forged left part does not make another client.
    assert_rate_limited(attempt(&app, Some("192.0.2.99, 203.0.113.1")).await).await;
    // Another client behind the same proxies is not affected.
    let resp = attempt(&app, Some("203.0.113.2, 10.0.0.5")).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // Nor is the proxy's own address.
    assert_eq!(attempt(&app, None).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_forwarded_for_header_from_an_untrusted_peer_does_not_escape_the_limit() {
    let app = limited_app(|s| {
        s.rate_limits.auth = rate(1, 3);
        // A proxy is trusted, but not the address the test connects from.
        s.rate_limits.trusted_proxies = trust("10.0.0.0/8");
    })
    .await;
    for i in 0..3 {
        let forged = format!("203.0.113.{i}");
        let resp = attempt(&app, Some(&forged)).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    for forged in ["203.0.113.77", "10.0.0.1", "203.0.113.78, 10.0.0.1"] {
        assert_rate_limited(attempt(&app, Some(forged)).await).await;
    }
}

#[tokio::test]
async fn one_users_writes_do_not_use_up_anothers_and_anonymous_writes_count_per_address() {
    let app = limited_app(|s| s.rate_limits.writes = rate(1, 3)).await;
    let (_, ann) = app.user_token().await;
    let (_, bob) = app.user_token().await;
    let profile = json!({"first_name": "Ann"});
    for i in 1..=3 {
        let resp = app.put_json("/api/v1/users/me", &profile, Some(&ann)).await;
        assert_eq!(resp.status(), StatusCode::OK, "write {i}");
    }
    let resp = app.put_json("/api/v1/users/me", &profile, Some(&ann)).await;
    assert_rate_limited(resp).await;
    // Any write of Ann's counts: an order is refused before it is looked at.
    let order = json!({"items": [{"product_id": uuid::Uuid::now_v7(), "quantity": 1}]});
    assert_rate_limited(app.post_json("/api/v1/orders", &order, Some(&ann)).await).await;
    // Reads are not limited.
    assert_eq!(
        app.get("/api/v1/users/me", Some(&ann)).await.status(),
        StatusCode::OK
    );

    let resp = app.put_json("/api/v1/users/me", &profile, Some(&bob)).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "Bob is limited by Ann's writes"
    );

    // Without a token (or with a forged one) writes count against the address.
    for token in [None, Some("forged.token.value"), None] {
        let resp = app.post_json("/api/v1/orders", &order, token).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    assert_rate_limited(app.post_json("/api/v1/orders", &order, None).await).await;
    let resp = app.put_json("/api/v1/users/me", &profile, Some(&bob)).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "Bob is limited by anonymous writes"
    );
}

#[tokio::test]
async fn with_rate_limits_off_nothing_is_limited() {
    let app = spawn_app_with(Db::Sqlite, |s| {
        s.rate_limit_enabled = false;
        s.rate_limits.auth = rate(1, 1);
        s.rate_limits.writes = rate(1, 1);
    })
    .await
    .unwrap();
    for i in 0..15 {
        assert_eq!(
            attempt(&app, None).await.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {i}"
        );
    }
    let (_, token) = app.user_token().await;
    for i in 0..5 {
        let resp = app
            .put_json(
                "/api/v1/users/me",
                &json!({"first_name": "Ann"}),
                Some(&token),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "write {i}");
    }
}

#[tokio::test]
async fn after_waiting_retry_after_the_request_passes() {
    // One a second, two at once.
    let app = limited_app(|s| s.rate_limits.auth = rate(60, 2)).await;
    // On a slow machine a slot may come back while the burst is sent: send until refused.
    let mut refused = None;
    for _ in 0..6 {
        let resp = attempt(&app, None).await;
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(resp);
            break;
        }
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let refused = refused.expect("six attempts in a row, none refused");
    let retry_after = assert_rate_limited(refused).await;
    assert_eq!(retry_after, 1);
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_eq!(attempt(&app, None).await.status(), StatusCode::UNAUTHORIZED);
}

// ---- shared through Redis ---------------------------------------------------------------------

/// `redis-server` from `SHOP_TEST_REDIS_SERVER`; `None` when unset (outside CI).
fn redis_server() -> Option<std::path::PathBuf> {
    match std::env::var("SHOP_TEST_REDIS_SERVER") {
        Ok(p) if !p.trim().is_empty() => Some(p.trim().into()),
        _ => {
            assert!(
                !std::env::var("CI").is_ok_and(|v| v == "true"),
                "SHOP_TEST_REDIS_SERVER is not set, and CI=true: the shared rate limits must be \
                 tested in CI (scripts/test.sh installs redis-server and sets it)"
            );
            eprintln!(
                "note: SHOP_TEST_REDIS_SERVER is not set: skipping the Redis rate limit test"
            );
            None
        }
    }
}

/// A `redis-server` on 127.0.0.1:`port`, without persistence; killed when dropped.
struct Redis(std::process::Child);

impl Redis {
    async fn start(bin: &std::path::Path, port: u16) -> Self {
        let child = std::process::Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("cannot start redis-server");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not listen"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self(child)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How many of `n` failed sign-ins from `client`, sent to `apps` in turn, were let through
/// (401) rather than limited (429); any other status fails.
async fn let_through(apps: &[TestApp], client: &str, n: usize) -> usize {
    let mut through = 0;
    for i in 0..n {
        let resp = attempt(&apps[i % apps.len()], Some(client)).await;
        match resp.status() {
            StatusCode::UNAUTHORIZED => through += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("sign-in {i} from {client}: {other}"),
        }
    }
    through
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_share_one_budget_in_redis_and_count_alone_while_it_is_down() {
    let Some(bin) = redis_server() else { return };
    let port = crate::process::free_port();
    let redis = Redis::start(&bin, port).await;
    let mut apps = Vec::new();
    for _ in 0..3 {
        apps.push(
            limited_app(|s| {
                s.rate_limits.auth = rate(10, 10);
                s.rate_limits.trusted_proxies = trust("127.0.0.1");
                s.rate_limit_redis_url = Some(infrastructure::Secret::new(format!(
                    "redis://127.0.0.1:{port}/0"
                )));
            })
            .await,
        );
    }
    // One budget of 10 for the three.
    assert_eq!(let_through(&apps, "203.0.113.1", 30).await, 10);

    // Redis stopped: each server counts alone (10 each), no error; the fall-back is counted.
    drop(redis);
    assert_eq!(let_through(&apps, "203.0.113.2", 30).await, 30);
    for app in &apps {
        let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
        let text = metrics.text().await.unwrap();
        assert!(
            text.lines()
                .any(|l| l.starts_with("shop_rate_limit_shared_fallbacks_total ")
                    && !l.ends_with(" 0")),
            "no fall-back counted: {text}"
        );
    }

    // Back (empty): once the servers' rest is over, one budget again.
    let _redis = Redis::start(&bin, port).await;
    tokio::time::sleep(api::rate_limits::SHARED_RETRY + Duration::from_millis(500)).await;
    assert_eq!(let_through(&apps, "203.0.113.3", 30).await, 10);
}
