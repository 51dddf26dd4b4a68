//! Webhook endpoints and delivery: the admin's routes and their errors, the address rules,
//! and the job runner delivering signed events to a receiver on 127.0.0.1 that answers 500
//! then 200, never answers in time, or answers 410. Signatures are checked here by an
//! independent implementation of the Standard Webhooks scheme.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::admin_crud::{assert_created_at, assert_deleted, assert_forbidden, change, item_path};
use crate::helpers::{Db, TestApp, assert_invalid, assert_problem, spawn_app_with, str_of, unique};

both_dbs!(
    endpoints_are_created_read_changed_and_deleted,
    only_admins_manage_endpoints,
    bad_endpoints_are_refused_naming_the_field,
    the_secret_is_shown_on_create_and_rotation_only,
    delivery_filters_are_taken_as_sent,
);

const ENDPOINTS: &str = "/api/v1/webhook-endpoints";

async fn create(app: &TestApp, admin: &str, body: &Value) -> reqwest::Response {
    app.post_json(ENDPOINTS, body, Some(admin)).await
}

fn endpoint_body(url: &str) -> Value {
    json!({"url": url, "events": ["order.placed", "product.created"], "description": "Fulfilment"})
}

/// An endpoint made from [`endpoint_body`] with `url`, as the answer to its creation shows it
/// (with the secret).
async fn endpoint(app: &TestApp, admin: &str, url: &str) -> Value {
    create(app, admin, &endpoint_body(url))
        .await
        .json()
        .await
        .unwrap()
}

async fn endpoints_are_created_read_changed_and_deleted(app: TestApp) {
    let admin = app.admin_token().await;
    let resp = create(&app, &admin, &endpoint_body("https://93.184.216.34/hooks")).await;
    let (location, created) = assert_created_at(resp, ENDPOINTS).await;
    assert_eq!(created["url"], "https://93.184.216.34/hooks");
    assert_eq!(
        created["events"],
        json!(["order.placed", "product.created"])
    );
    assert_eq!(created["description"], "Fulfilment");
    assert_eq!(created["enabled"], true);
    assert!(str_of(&created, "secret").starts_with("whsec_"));

    let got: Value = app.get_json(&location, Some(&admin)).await;
    let mut expected = created.clone();
    expected.as_object_mut().unwrap().remove("secret");
    assert_eq!(got, expected);

    let changed = change(
        &app,
        &location,
        &admin,
        &json!({"events": ["*"], "enabled": false, "description": null}),
    )
    .await;
    assert_eq!(changed["events"], json!(["*"]));
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["description"], Value::Null);
    assert_eq!(changed["url"], created["url"]);
    assert!(changed.get("secret").is_none());

    let list: Value = app.get_json(ENDPOINTS, Some(&admin)).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0], changed);

    let deliveries: Value = app
        .get_json(&format!("{location}/deliveries"), Some(&admin))
        .await;
    assert_eq!(deliveries["items"], json!([]));
    let retry = format!("{location}/deliveries/{}/retry", uuid::Uuid::now_v7());
    let resp = app.post(&retry, Some(&admin)).await;
    assert_problem(resp, 404).await;

    assert_deleted(
        &app,
        ENDPOINTS,
        &location,
        &admin,
        &json!({"enabled": true}),
    )
    .await;
    assert_problem(
        app.get(&format!("{location}/deliveries"), Some(&admin))
            .await,
        404,
    )
    .await;
}

async fn only_admins_manage_endpoints(app: TestApp) {
    let admin = app.admin_token().await;
    let created = endpoint(&app, &admin, "https://93.184.216.34/h").await;
    let path = item_path(ENDPOINTS, &created);
    let (_, user) = app.user_token().await;
    let body = endpoint_body("https://93.184.216.34/h");
    assert_forbidden(&app, ENDPOINTS, &path, &user, &body, &json!({})).await;
    assert_problem(
        app.get(&format!("{path}/deliveries"), Some(&user)).await,
        403,
    )
    .await;
    let rotate = app
        .post(&format!("{path}/rotate-secret"), Some(&user))
        .await;
    assert_problem(rotate, 403).await;
    assert_eq!(
        app.get(ENDPOINTS, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn bad_endpoints_are_refused_naming_the_field(app: TestApp) {
    let admin = app.admin_token().await;
    // https only, and only public addresses (WEBHOOK_ALLOW_HTTP and _PRIVATE_NETWORKS are off).
    for url in [
        "http://93.184.216.34/h",
        "ftp://93.184.216.34/h",
        "not a url",
        "/relative",
        "https://user:pw@93.184.216.34/h",
        "https://127.0.0.1/h",
        "https://localhost/h",
        "https://10.1.2.3/h",
        "https://172.16.0.1/h",
        "https://192.168.0.1/h",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/h",
        "https://[fc00::1]/h",
        "https://[fd00::1]/h",
        "https://[fe80::1]/h",
        "https://[::ffff:10.0.0.1]/h",
        "https://[::ffff:127.0.0.1]/h",
        "https://0.0.0.0/h",
        "https://100.64.0.1/h",
    ] {
        let resp = create(&app, &admin, &endpoint_body(url)).await;
        assert_eq!(assert_invalid(resp).await, ["url"], "{url}");
    }
    let resp = create(
        &app,
        &admin,
        &json!({"url": "https://93.184.216.34/h", "events": []}),
    )
    .await;
    assert_eq!(assert_invalid(resp).await, ["events"]);
    let resp = create(
        &app,
        &admin,
        &json!({"url": "https://93.184.216.34/h", "events": ["order.placed", "order.shipped", ""]}),
    )
    .await;
    assert_eq!(assert_invalid(resp).await, ["events[1]", "events[2]"]);
    let resp = create(
        &app,
        &admin,
        &json!({"url": "https://10.0.0.1/h", "events": [], "description": "x".repeat(501)}),
    )
    .await;
    let mut fields = assert_invalid(resp).await;
    fields.sort();
    assert_eq!(fields, ["description", "events", "url"]);
    let resp = create(&app, &admin, &json!({"events": ["*"]})).await;
    assert_eq!(assert_invalid(resp).await, ["url"]);
    let resp = create(
        &app,
        &admin,
        &json!({"url": "https://93.184.216.34/h", "events": ["*"], "enabled": "yes"}),
    )
    .await;
    assert_eq!(assert_invalid(resp).await, ["enabled"]);

    // A change is held to the same rules.
    let created = endpoint(&app, &admin, "https://93.184.216.34/h").await;
    let path = item_path(ENDPOINTS, &created);
    let resp = app
        .put_json(&path, &json!({"url": "https://[::1]/h"}), Some(&admin))
        .await;
    assert_eq!(assert_invalid(resp).await, ["url"]);
    let resp = app
        .put_json(&path, &json!({"events": ["nope"]}), Some(&admin))
        .await;
    assert_eq!(assert_invalid(resp).await, ["events[0]"]);
}

async fn the_secret_is_shown_on_create_and_rotation_only(app: TestApp) {
    let admin = app.admin_token().await;
    let created = endpoint(&app, &admin, "https://93.184.216.34/h").await;
    let path = item_path(ENDPOINTS, &created);
    let first = str_of(&created, "secret");
    let key = STANDARD
        .decode(first.strip_prefix("whsec_").unwrap())
        .unwrap();
    assert!(key.len() >= 24, "a key of {} bytes", key.len());
    let resp = app
        .post(&format!("{path}/rotate-secret"), Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let rotated: Value = resp.json().await.unwrap();
    let second = str_of(&rotated, "secret");
    assert!(second.starts_with("whsec_"));
    assert_ne!(second, first);
    assert_eq!(rotated["id"], created["id"]);
    let got: Value = app.get_json(&path, Some(&admin)).await;
    assert!(got.get("secret").is_none());
    let listed: Value = app.get_json(ENDPOINTS, Some(&admin)).await;
    assert!(listed["items"][0].get("secret").is_none());
    let rotate = format!("{ENDPOINTS}/{}/rotate-secret", uuid::Uuid::now_v7());
    let gone = app.post(&rotate, Some(&admin)).await;
    assert_problem(gone, 404).await;
}

async fn delivery_filters_are_taken_as_sent(app: TestApp) {
    let admin = app.admin_token().await;
    let created = endpoint(&app, &admin, "https://93.184.216.34/h").await;
    let path = format!("{}/deliveries", item_path(ENDPOINTS, &created));
    for bad in ["", "Pending", "done", "%20failed"] {
        let resp = app.get(&format!("{path}?status={bad}"), Some(&admin)).await;
        assert_eq!(assert_invalid(resp).await, ["status"], "status={bad:?}");
    }
    for good in ["pending", "succeeded", "failed"] {
        let resp = app
            .get(&format!("{path}?status={good}"), Some(&admin))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let resp = app.get(&format!("{path}?per_page=0"), Some(&admin)).await;
    assert_eq!(assert_invalid(resp).await, ["per_page"]);
}

// ---- delivery through the job runner ---------------------------------------------------------

/// How the receiver answers the n-th request (0-based).
#[derive(Clone, Copy)]
enum Behaviour {
    /// 500 for the first `n` requests, then 200.
    FailFirst(usize),
    /// Never answers within the timeout.
    Hang,
    /// 410 Gone.
    Gone,
}

#[derive(Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
}

/// A receiver on 127.0.0.1; answers as `behaviour` says and keeps what it was sent.
async fn receiver(behaviour: Behaviour) -> (String, Arc<Mutex<Vec<Received>>>) {
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let log = log.clone();
            async move {
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(Received { headers, body });
                    log.len() - 1
                };
                match behaviour {
                    Behaviour::FailFirst(k) if n < k => AxumStatus::INTERNAL_SERVER_ERROR,
                    Behaviour::FailFirst(_) => AxumStatus::OK,
                    Behaviour::Hang => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        AxumStatus::OK
                    }
                    Behaviour::Gone => AxumStatus::GONE,
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), seen)
}

/// A server whose job runner delivers quickly: local receivers allowed, 1 s timeout, retries
/// after 1 s and 1 s, polling every 50 ms.
async fn delivering_app(db: Db) -> Option<TestApp> {
    spawn_app_with(db, |s| {
        s.jobs_enabled = true;
        s.jobs_poll_interval = Duration::from_millis(50);
        s.webhook_urls.allow_http = true;
        s.webhook_urls.allow_private = true;
        s.webhook_timeout = Duration::from_secs(1);
        s.webhook_retry_delays = vec![Duration::from_secs(1), Duration::from_secs(1)];
    })
    .await
}

/// Standard Webhooks, verified from its specification: the signature is `v1,` and the base64
/// HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` keyed with the base64-decoded part
/// of the secret after `whsec_`.
fn verify(secret: &str, r: &Received) {
    let header = |name: &str| {
        r.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let ts: i64 = timestamp.parse().unwrap();
    assert!(
        (chrono::Utc::now().timestamp() - ts).abs() < 300,
        "a stale timestamp"
    );
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{}", r.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert!(
        signature.split(' ').any(|s| s == expected),
        "signature {signature} is not {expected}"
    );
    assert_eq!(header("content-type"), "application/json");
}

async fn deliveries(app: &TestApp, admin: &str, endpoint: &str) -> Vec<Value> {
    let page: Value = app
        .get_json(&format!("{ENDPOINTS}/{endpoint}/deliveries"), Some(admin))
        .await;
    page["items"].as_array().unwrap().clone()
}

/// Waits up to `secs` for the endpoint's only delivery to leave `pending`.
async fn settled(app: &TestApp, admin: &str, endpoint: &str, secs: u64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let all = deliveries(app, admin, endpoint).await;
        if let Some(d) = all.first()
            && d["status"] != "pending"
        {
            return d.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still pending: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn subscribe(app: &TestApp, admin: &str, url: &str, events: Value) -> (String, String) {
    let resp = create(app, admin, &json!({"url": url, "events": events})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let e: Value = resp.json().await.unwrap();
    (str_of(&e, "id"), str_of(&e, "secret"))
}

/// One product created on a [`delivering_app`], with one endpoint subscribed to `events` at a
/// [`receiver`], and the delivery of that product's event once it left `pending`.
struct OneDelivery {
    app: TestApp,
    admin: String,
    endpoint: String,
    secret: String,
    seen: Arc<Mutex<Vec<Received>>>,
    product: Value,
    delivery: Value,
}

/// Sets up a [`OneDelivery`] whose receiver answers as `behaviour` says, waiting up to `secs`
/// for the delivery to settle; `None` when the database is not available.
async fn one_delivery(
    db: Db,
    behaviour: Behaviour,
    events: Value,
    secs: u64,
) -> Option<OneDelivery> {
    let app = delivering_app(db).await?;
    let admin = app.admin_token().await;
    let (url, seen) = receiver(behaviour).await;
    let (endpoint, secret) = subscribe(&app, &admin, &url, events).await;
    let product = app
        .create_product(&admin, &format!("WH-{}", unique()))
        .await;
    let delivery = settled(&app, &admin, &endpoint, secs).await;
    Some(OneDelivery {
        app,
        admin,
        endpoint,
        secret,
        seen,
        product,
        delivery,
    })
}

mod delivery {
    use super::*;

    async fn retried_until_it_succeeds(db: Db) {
        let events = json!(["product.created"]);
        let Some(OneDelivery {
            app,
            admin,
            endpoint,
            secret,
            seen,
            product,
            delivery: d,
        }) = one_delivery(db, Behaviour::FailFirst(1), events, 20).await
        else {
            return;
        };
        assert_eq!(d["status"], "succeeded");
        assert_eq!(d["attempts"], 2);
        assert_eq!(d["last_status_code"], 200);
        assert_eq!(d["next_attempt_at"], Value::Null);
        assert_eq!(d["event_type"], "product.created");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        // Both attempts carry the same id (receivers dedupe on it), each signed.
        assert_eq!(seen[0].headers["webhook-id"], seen[1].headers["webhook-id"]);
        for r in &seen {
            verify(&secret, r);
        }
        let body: Value = serde_json::from_str(&seen[1].body).unwrap();
        assert_eq!(body["type"], "product.created");
        assert_eq!(body["data"], product);
        assert_eq!(body["id"], d["event_id"]);
        let event: Value = app
            .get_json("/api/v1/events?type=product.created", Some(&admin))
            .await;
        assert_eq!(body["id"], event["items"][0]["id"]);
        assert_eq!(body["created_at"], event["items"][0]["created_at"]);
        // An endpoint hears only what it subscribed to: the user events did not go.
        assert_eq!(deliveries(&app, &admin, &endpoint).await.len(), 1);
    }

    async fn a_receiver_that_never_answers_fails_after_the_retries(db: Db) {
        let Some(OneDelivery {
            app,
            admin,
            endpoint,
            seen,
            delivery: d,
            ..
        }) = one_delivery(db, Behaviour::Hang, json!(["*"]), 30).await
        else {
            return;
        };
        assert_eq!(d["status"], "failed");
        // The first attempt and one per scheduled delay.
        assert_eq!(d["attempts"], 3);
        assert_eq!(d["last_status_code"], Value::Null);
        assert!(
            d["last_error"].as_str().unwrap().contains("no answer"),
            "{d}"
        );
        assert_eq!(seen.lock().unwrap().len(), 3);

        // A manual retry makes it due again: 202, and it is attempted once more.
        let retry = format!(
            "{ENDPOINTS}/{endpoint}/deliveries/{}/retry",
            str_of(&d, "id")
        );
        let resp = app.post(&retry, Some(&admin)).await;
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while seen.lock().unwrap().len() < 4 {
            assert!(std::time::Instant::now() < deadline, "not retried");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let failed: Value = app
            .get_json(
                &format!("{ENDPOINTS}/{endpoint}/deliveries?status=failed"),
                Some(&admin),
            )
            .await;
        let pending: Value = app
            .get_json(
                &format!("{ENDPOINTS}/{endpoint}/deliveries?status=succeeded"),
                Some(&admin),
            )
            .await;
        assert_eq!(pending["total"], 0);
        assert!(failed["total"].as_u64().unwrap() <= 1);
    }

    async fn a_receiver_that_is_gone_is_not_tried_again_and_turned_off(db: Db) {
        let events = json!(["product.created"]);
        let Some(OneDelivery {
            app,
            admin,
            endpoint,
            seen,
            delivery: d,
            ..
        }) = one_delivery(db, Behaviour::Gone, events, 20).await
        else {
            return;
        };
        assert_eq!(d["status"], "failed");
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["last_status_code"], 410);
        let e: Value = app
            .get_json(&format!("{ENDPOINTS}/{endpoint}"), Some(&admin))
            .await;
        assert_eq!(e["enabled"], false);
        // Turned off, it hears nothing more.
        app.create_product(&admin, &format!("WH-{}", unique()))
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(deliveries(&app, &admin, &endpoint).await.len(), 1);
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    async fn a_local_receiver_is_refused_unless_allowed(db: Db) {
        // The receiver on 127.0.0.1 (by address or by name) is refused while private networks
        // are not allowed.
        let Some(app) = spawn_app_with(db, |s| {
            s.jobs_enabled = true;
            s.jobs_poll_interval = Duration::from_millis(50);
            s.webhook_urls.allow_http = true;
            s.webhook_urls.allow_private = false;
            s.webhook_retry_delays = vec![];
        })
        .await
        else {
            return;
        };
        let admin = app.admin_token().await;
        let (url, seen) = receiver(Behaviour::FailFirst(0)).await;
        let resp = create(&app, &admin, &json!({"url": url, "events": ["*"]})).await;
        assert_eq!(assert_invalid(resp).await, ["url"]);
        let resp = create(
            &app,
            &admin,
            &json!({"url": "http://localhost:9/hook", "events": ["*"]}),
        )
        .await;
        assert_eq!(assert_invalid(resp).await, ["url"]);
        assert!(seen.lock().unwrap().is_empty());
    }

    /// Two servers with their job runners on one PostgreSQL, products created through both:
    /// every event reaches the one endpoint; duplicates (at least once) are counted.
    #[tokio::test]
    async fn postgres_two_runners_deliver_every_event() {
        let Some(app) = delivering_app(Db::Postgres).await else {
            return;
        };
        let other = shop::Application::build(app.settings.clone())
            .await
            .expect("the second server does not build");
        let other_addr = format!("http://127.0.0.1:{}", other.port());
        tokio::spawn(other.run_until(std::future::pending()));
        let admin = app.admin_token().await;
        let (url, seen) = receiver(Behaviour::FailFirst(0)).await;
        let (endpoint, secret) = subscribe(&app, &admin, &url, json!(["product.created"])).await;
        const EACH: usize = 30;
        for i in 0..2 * EACH {
            let base = if i % 2 == 0 {
                app.addr.clone()
            } else {
                other_addr.clone()
            };
            let resp = app
                .client
                .post(format!("{base}/api/v1/products"))
                .bearer_auth(&admin)
                .json(&json!({
                    "sku": format!("TWO-{}", unique()),
                    "name": "Two",
                    "price": {"amount": "1.00", "currency": "EUR"},
                    "stock": 10
                }))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::CREATED);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let page: Value = app
                .get_json(
                    &format!("{ENDPOINTS}/{endpoint}/deliveries?status=succeeded&per_page=100"),
                    Some(&admin),
                )
                .await;
            if page["total"] == 2 * EACH {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "delivered: {}",
                page["total"]
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let seen = seen.lock().unwrap().clone();
        let mut ids: Vec<String> = seen
            .iter()
            .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 2 * EACH, "events lost");
        for r in &seen {
            verify(&secret, r);
        }
        println!(
            "two runners: {} events, {} requests, {} duplicates",
            ids.len(),
            seen.len(),
            seen.len() - ids.len()
        );
    }

    /// Requests first: while the server answers `JOBS_YIELD_REQUESTS` requests at once (here
    /// one, held open by a body that is slow to come), its runner waits a tenth of a poll
    /// interval between passes (here 500 ms, a batch of one each); once the request ends it
    /// catches up at once.
    async fn the_runner_yields_to_requests_in_flight_then_catches_up(db: Db) {
        use futures_util::StreamExt;
        let Some(app) = spawn_app_with(db, |s| {
            s.jobs_enabled = true;
            s.jobs_poll_interval = Duration::from_secs(5);
            s.jobs_yield_requests = 1;
            s.webhook_batch_size = 1;
            s.webhook_urls.allow_http = true;
            s.webhook_urls.allow_private = true;
        })
        .await
        else {
            return;
        };
        let admin = app.admin_token().await;
        let (url, seen) = receiver(Behaviour::FailFirst(0)).await;
        subscribe(&app, &admin, &url, json!(["product.created"])).await;
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let body = futures_util::stream::once(async {
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{\"refresh_token\": "))
        })
        .chain(futures_util::stream::once(async move {
            let _ = released.await;
            Ok(bytes::Bytes::from_static(b"\"x\"}"))
        }));
        let held = app
            .client
            .post(app.url("/api/v1/auth/logout"))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(body))
            .send();
        let held = tokio::spawn(held);
        tokio::time::sleep(Duration::from_millis(300)).await;

        const N: usize = 60;
        let started = std::time::Instant::now();
        let skus: Vec<String> = (0..N).map(|i| format!("Y{i}-{}", unique())).collect();
        futures_util::future::join_all(skus.iter().map(|sku| app.create_product(&admin, sku)))
            .await;
        // Longer than a poll interval: a runner that did not yield would have sent them all.
        tokio::time::sleep(Duration::from_secs(6)).await;
        let during = seen.lock().unwrap().len();
        let passes = started.elapsed().as_millis() / 500 + 2;
        assert!(
            during < N && during as u128 <= passes,
            "{during} of {N} sent while a request was in flight (at most {passes} passes of one)"
        );

        let _ = release.send(());
        let _ = held.await;
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while seen.lock().unwrap().len() < N {
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {N} sent 15 s after the request ended",
                seen.lock().unwrap().len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    each_db!(
        the_runner_yields_to_requests_in_flight_then_catches_up,
        retried_until_it_succeeds,
        a_receiver_that_never_answers_fails_after_the_retries,
        a_receiver_that_is_gone_is_not_tried_again_and_turned_off,
        a_local_receiver_is_refused_unless_allowed,
    );
}
