//! `GET /metrics`: Prometheus text that counts requests by route template, times them, reads
//! the database pools, and counts orders placed and cancelled and failed sign-ins.

use std::collections::BTreeMap;

use infrastructure::Secret;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

use crate::helpers::{Db, PASSWORD, TestApp, assert_unauthorized, spawn_app_with, str_of, unique};

both_dbs!(
    requests_are_counted_by_route_template_never_by_raw_path,
    the_latency_histogram_has_buckets_a_sum_and_a_count,
    an_order_counts_once_and_its_idempotent_replay_does_not,
    cancellations_count_by_either_endpoint,
    a_wrong_password_counts_as_a_login_failure,
    the_pool_gauges_are_read_when_scraped,
);

/// One sample line: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses the Prometheus text format (version 0.0.4) strictly enough to catch a malformed
/// line: `# HELP name text`, `# TYPE name kind`, and `name{label="value",...} number`.
/// Panics naming the first bad line.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut typed = BTreeMap::new();
    assert!(
        text.ends_with('\n'),
        "the exposition must end with a newline"
    );
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (keyword, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            assert!(is_metric_name(name), "bad metric name in `{line}`");
            match keyword {
                "HELP" => {}
                "TYPE" => {
                    let kind = parts.next().unwrap_or("");
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                        "bad type in `{line}`"
                    );
                    assert!(
                        typed.insert(name.to_owned(), kind.to_owned()).is_none(),
                        "`{name}` typed twice"
                    );
                }
                _ => panic!("unknown comment `{line}`"),
            }
            continue;
        }
        assert!(!line.is_empty(), "empty line in the exposition");
        let (head, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value in `{line}`"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in `{line}`")),
        };
        let (name, labels) = match head.split_once('{') {
            None => (head, BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels in `{line}`"));
                (name, parse_labels(body, line))
            }
        };
        assert!(is_metric_name(name), "bad metric name in `{line}`");
        let family = ["_bucket", "_sum", "_count", "_total", "_info"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains_key(*f)))
            .unwrap_or(name);
        assert!(
            typed.contains_key(family) || typed.contains_key(name),
            "`{name}` has no # TYPE line before it"
        );
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

fn parse_labels(mut body: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while !body.is_empty() {
        let (key, rest) = body
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad label in `{line}`"));
        assert!(
            is_metric_name(key) && !key.contains(':'),
            "bad label name `{key}` in `{line}`"
        );
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    _ => panic!("bad escape in `{line}`"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in `{line}`"),
            }
        };
        assert!(
            labels.insert(key.to_owned(), value).is_none(),
            "label `{key}` twice in `{line}`"
        );
        body = &rest[end + 1..];
        body = body.strip_prefix(',').unwrap_or(body);
    }
    labels
}

impl TestApp {
    /// Scrapes `/metrics` (200 expected) and parses it.
    async fn metrics(&self) -> (String, Vec<Sample>) {
        let resp = self.get("/metrics", None).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let content_type = resp.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
        assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
        let text = resp.text().await.unwrap();
        let samples = parse_exposition(&text);
        (text, samples)
    }

    /// The value of the sample `name` whose labels include `labels`, or 0 when there is none
    /// (a series appears on its first event).
    async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let (_, samples) = self.metrics().await;
        value(&samples, name, labels)
    }
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(matching.len() <= 1, "more than one series: {matching:?}");
    matching.first().map_or(0.0, |s| s.value)
}

const REQUESTS: &str = "shop_http_requests_total";

async fn requests_are_counted_by_route_template_never_by_raw_path(app: TestApp) {
    let admin = app.admin_token().await;
    let product = app.create_product(&admin, &format!("M-{}", unique())).await;
    let id = str_of(&product, "id");
    let template = [
        ("method", "GET"),
        ("route", "/api/v1/products/{id}"),
        ("status", "200"),
    ];
    let before = app.metric(REQUESTS, &template).await;
    for _ in 0..3 {
        let resp = app.get(&format!("/api/v1/products/{id}"), None).await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let missing = uuid::Uuid::now_v7().to_string();
    let resp = app.get(&format!("/api/v1/products/{missing}"), None).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    let unmatched_before = app.metric(REQUESTS, &unmatched).await;
    let random = unique();
    for path in [format!("/no/such/{random}"), format!("/api/v1/{random}")] {
        let resp = app.get(&path, None).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }

    let (text, samples) = app.metrics().await;
    assert_eq!(value(&samples, REQUESTS, &template) - before, 3.0);
    assert_eq!(
        value(
            &samples,
            REQUESTS,
            &[
                ("method", "GET"),
                ("route", "/api/v1/products/{id}"),
                ("status", "404")
            ]
        ),
        1.0
    );
    assert_eq!(
        value(&samples, REQUESTS, &unmatched) - unmatched_before,
        2.0
    );
    for raw in [&id, &missing, &random] {
        assert!(!text.contains(raw.as_str()), "`{raw}` appears in:\n{text}");
    }
    // Every route label is a template the router knows, or `unmatched`.
    for s in samples.iter().filter(|s| s.name == REQUESTS) {
        let route = &s.labels["route"];
        assert!(
            route == "unmatched" || route.starts_with('/'),
            "route label `{route}`"
        );
    }
}

async fn the_latency_histogram_has_buckets_a_sum_and_a_count(app: TestApp) {
    for _ in 0..2 {
        assert_eq!(
            app.get("/api/v1/products", None).await.status(),
            StatusCode::OK
        );
    }
    let (_, samples) = app.metrics().await;
    let route = [("method", "GET"), ("route", "/api/v1/products")];
    let name = "shop_http_request_duration_seconds";
    let mut buckets: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| {
            s.name == format!("{name}_bucket")
                && s.labels["route"] == "/api/v1/products"
                && s.labels["method"] == "GET"
        })
        .map(|s| {
            let le = match s.labels["le"].as_str() {
                "+Inf" => f64::INFINITY,
                le => le.parse().unwrap(),
            };
            (le, s.value)
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.len() >= 10, "buckets: {buckets:?}");
    assert_eq!(buckets[0].0, 0.0005, "the smallest bucket is 0.5 ms");
    assert_eq!(
        buckets[buckets.len() - 2].0,
        10.0,
        "the largest finite is 10 s"
    );
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "cumulative buckets: {buckets:?}"
    );
    let count = value(&samples, &format!("{name}_count"), &route);
    assert_eq!(count, 2.0);
    assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, count));
    let sum = value(&samples, &format!("{name}_sum"), &route);
    assert!(sum > 0.0 && sum < 60.0, "sum {sum}");
}

const PLACED: &str = "shop_orders_placed_total";
const CANCELLED: &str = "shop_orders_cancelled_total";

/// A product with stock and a fresh user's token.
async fn shopper(app: &TestApp) -> (String, String, String) {
    let admin = app.admin_token().await;
    let product = app.create_product(&admin, &format!("M-{}", unique())).await;
    let (_, token) = app.user_token().await;
    (admin, str_of(&product, "id"), token)
}

async fn place(app: &TestApp, token: &str, product: &str, key: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(token)
        .json(&json!({"items": [{"product_id": product, "quantity": 1}]}));
    if let Some(key) = key {
        req = req.header("idempotency-key", key);
    }
    req.send().await.expect("POST /orders failed")
}

async fn an_order_counts_once_and_its_idempotent_replay_does_not(app: TestApp) {
    let (_, product, token) = shopper(&app).await;
    assert_eq!(app.metric(PLACED, &[]).await, 0.0);
    let key = unique();
    let first = place(&app, &token, &product, Some(&key)).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(app.metric(PLACED, &[]).await, 1.0);
    let replay = place(&app, &token, &product, Some(&key)).await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(
        app.metric(PLACED, &[]).await,
        1.0,
        "a replay is no new order"
    );
    assert_eq!(app.metric(CANCELLED, &[]).await, 0.0);
}

async fn cancellations_count_by_either_endpoint(app: TestApp) {
    let (admin, product, token) = shopper(&app).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let resp = place(&app, &token, &product, None).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let order: serde_json::Value = resp.json().await.unwrap();
        ids.push(str_of(&order, "id"));
    }
    let cancel = format!("/api/v1/orders/{}/cancel", ids[0]);
    let resp = app.post_json(&cancel, &json!({}), Some(&token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.metric(CANCELLED, &[]).await, 1.0);
    // Cancelling again is refused and counts nothing.
    let resp = app.post_json(&cancel, &json!({}), Some(&token)).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(app.metric(CANCELLED, &[]).await, 1.0);
    // A status change that is not a cancellation counts nothing either.
    let status = format!("/api/v1/orders/{}/status", ids[1]);
    let resp = app
        .put_json(&status, &json!({"status": "paid"}), Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.metric(CANCELLED, &[]).await, 1.0);
    let resp = app
        .put_json(&status, &json!({"status": "cancelled"}), Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.metric(CANCELLED, &[]).await, 2.0);
    assert_eq!(app.metric(PLACED, &[]).await, 2.0);
}

async fn a_wrong_password_counts_as_a_login_failure(app: TestApp) {
    let failures = "shop_login_failures_total";
    let email = format!("user-{}@example.com", unique());
    app.register(&email, PASSWORD).await;
    app.login(&email, PASSWORD).await;
    assert_eq!(app.metric(failures, &[]).await, 0.0);
    for (user, password) in [
        (email.as_str(), "not the password at all"),
        ("nobody-here@example.com", PASSWORD),
    ] {
        let resp = app.post_login(user, password).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.metric(failures, &[]).await, 2.0);
    assert_eq!(
        app.metric(
            REQUESTS,
            &[
                ("method", "POST"),
                ("route", "/api/v1/auth/login"),
                ("status", "401")
            ]
        )
        .await,
        2.0
    );
}

async fn the_pool_gauges_are_read_when_scraped(app: TestApp) {
    let (_, samples) = app.metrics().await;
    let pools: &[&str] = if app.settings.database_url.is_postgres() {
        &["main"]
    } else {
        &["read", "write"]
    };
    for pool in pools {
        let in_use = value(
            &samples,
            "shop_db_pool_connections",
            &[("pool", pool), ("state", "in_use")],
        );
        let idle = value(
            &samples,
            "shop_db_pool_connections",
            &[("pool", pool), ("state", "idle")],
        );
        let max = value(&samples, "shop_db_pool_max_connections", &[("pool", pool)]);
        assert!(in_use >= 0.0 && idle >= 0.0, "{pool}: {in_use} / {idle}");
        assert!(in_use + idle >= 1.0, "{pool}: no connection open");
        assert!(in_use + idle <= max, "{pool}: {in_use} + {idle} > {max}");
    }
    assert_eq!(
        value(
            &samples,
            "shop_db_pool_max_connections",
            &[("pool", "write")]
        ),
        if pools.len() == 2 { 1.0 } else { 0.0 },
        "SQLite has one writer"
    );
    let build = samples
        .iter()
        .find(|s| s.name == "shop_build_info")
        .expect("shop_build_info");
    assert_eq!(build.labels["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(build.value, 1.0);
}

async fn the_metrics_token_is_enforced_when_set(db: Db) {
    let token = format!("scrape-{}", unique());
    let configured = token.clone();
    let Some(app) = spawn_app_with(db, move |s| {
        s.metrics_token = Some(Secret::new(configured));
    })
    .await
    else {
        return;
    };
    assert_unauthorized(app.get("/metrics", None).await).await;
    assert_unauthorized(app.get("/metrics", Some("not-the-token")).await).await;
    let basic = app
        .client
        .get(app.url("/metrics"))
        .basic_auth("prometheus", Some(&token))
        .send()
        .await
        .unwrap();
    assert_unauthorized(basic).await;
    let resp = app.get("/metrics", Some(&token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    assert!(!text.contains(&token));
    parse_exposition(&text);
    // The API itself does not take the metrics token.
    assert_unauthorized(app.get("/api/v1/users/me", Some(&token)).await).await;
}

#[tokio::test]
async fn the_metrics_token_is_enforced_when_set_on_sqlite() {
    the_metrics_token_is_enforced_when_set(Db::Sqlite).await;
}

#[tokio::test]
async fn the_metrics_token_is_enforced_when_set_on_postgres() {
    the_metrics_token_is_enforced_when_set(Db::Postgres).await;
}

#[test]
fn the_checker_refuses_malformed_lines() {
    let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\"} 3\n";
    assert_eq!(parse_exposition(ok)[0].labels["y"], "q\"");
    for bad in [
        "# TYPE a counter\na{x=\"1\" 3\n",
        "# TYPE a counter\na{x=1} 3\n",
        "# TYPE a counter\na three\n",
        "b 1\n",
        "# TYPE a counter\na 1",
    ] {
        assert!(
            std::panic::catch_unwind(|| parse_exposition(bad)).is_err(),
            "accepted `{bad}`"
        );
    }
}
