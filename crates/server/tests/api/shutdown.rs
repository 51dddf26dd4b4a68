//! Stopping the real `shop` binary with SIGTERM while it is under load: every accepted request
//! finishes, new connections are refused, the process exits 0 in time, and no order that was
//! answered 201 is lost (nor any placed whose answer was lost), read back through another
//! instance on the same database.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Db, TestApp, spawn_app, str_of, unique};
use crate::process::ShopProcess;

/// Units in stock at the start: more than any run sells.
pub const PLENTY: i64 = 1_000_000;

/// An order answered 201: its id and how many units it took.
#[derive(Debug, Clone)]
pub struct Placed {
    pub id: String,
    pub quantity: i64,
}

/// What the clients saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub placed: Vec<Placed>,
    /// Every status code answered, with how often.
    pub statuses: BTreeMap<u16, usize>,
    /// Requests that got no answer because the connection was refused or closed.
    pub connection_errors: usize,
    /// Anything else (timeouts above all): each is a failure.
    pub other_errors: Vec<String>,
}

impl Seen {
    fn merge(&mut self, other: Seen) {
        self.placed.extend(other.placed);
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        self.connection_errors += other.connection_errors;
        self.other_errors.extend(other.other_errors);
    }

    pub fn units(&self) -> i64 {
        self.placed.iter().map(|p| p.quantity).sum()
    }
}

/// A client with a short timeout: a request that hangs is a failure, not a slow test.
pub fn load_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("cannot build the HTTP client")
}

fn record_error(seen: &mut Seen, e: &reqwest::Error) {
    if e.is_timeout() {
        seen.other_errors.push(format!("timed out: {e}"));
    } else if e.is_connect() || e.is_request() || e.is_body() {
        seen.connection_errors += 1;
    } else {
        seen.other_errors.push(format!("{e:?}"));
    }
}

/// Runs `tasks` order placers (each cycling through `tokens` and `bases`, quantities 1 to 3)
/// and `readers` readers of catalog pages and order lists, until `stop` is set; `ok` counts
/// the 201s as they come.
pub fn start_load(
    bases: Vec<String>,
    tokens: Vec<String>,
    product_id: String,
    tasks: usize,
    readers: usize,
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<Seen>> {
    let client = load_client();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (client, bases, tokens) = (client.clone(), bases.clone(), tokens.clone());
        let (product_id, stop, ok) = (product_id.clone(), stop.clone(), ok.clone());
        handles.push(tokio::spawn(async move {
            let mut seen = Seen::default();
            let mut n = t;
            while !stop.load(Ordering::SeqCst) {
                n += tasks;
                let quantity = (n % 3 + 1) as i64;
                let base = &bases[n % bases.len()];
                let resp = client
                    .post(format!("{base}/api/v1/orders"))
                    .bearer_auth(&tokens[n % tokens.len()])
                    .json(&json!({"items": [{"product_id": product_id, "quantity": quantity}]}))
                    .send()
                    .await;
                match resp {
                    Ok(resp) => {
                        let status = resp.status();
                        *seen.statuses.entry(status.as_u16()).or_default() += 1;
                        match resp.bytes().await {
                            Ok(bytes) if status == StatusCode::CREATED => {
                                let body: Value = serde_json::from_slice(&bytes)
                                    .expect("a 201 whose body is not JSON");
                                ok.fetch_add(1, Ordering::SeqCst);
                                seen.placed.push(Placed {
                                    id: str_of(&body, "id"),
                                    quantity,
                                });
                            }
                            Ok(_) => {}
                            // The status line came, the body did not: the order may exist.
                            Err(e) => seen
                                .other_errors
                                .push(format!("{status} without a whole body: {e}")),
                        }
                    }
                    Err(e) => {
                        record_error(&mut seen, &e);
                        // Refused: the instance is gone; do not spin.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            seen
        }));
    }
    for r in 0..readers {
        let (client, bases, tokens, stop) =
            (client.clone(), bases.clone(), tokens.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            let mut seen = Seen::default();
            let mut n = r;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let base = &bases[n % bases.len()];
                let req = if n % 2 == 0 {
                    client.get(format!("{base}/api/v1/products?per_page=100&q=shutdown"))
                } else {
                    client
                        .get(format!("{base}/api/v1/orders?per_page=100"))
                        .bearer_auth(&tokens[n % tokens.len()])
                };
                match req.send().await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        *seen.statuses.entry(status).or_default() += 1;
                        if let Err(e) = resp.bytes().await {
                            seen.other_errors
                                .push(format!("{status} without a whole body: {e}"));
                        }
                    }
                    Err(e) => {
                        record_error(&mut seen, &e);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            seen
        }));
    }
    handles
}

/// Waits for the load tasks (at most 60 s) and adds up what they saw.
pub async fn collect(handles: Vec<tokio::task::JoinHandle<Seen>>) -> Seen {
    let mut all = Seen::default();
    for h in handles {
        let seen = tokio::time::timeout(Duration::from_secs(60), h)
            .await
            .expect("a client task hung")
            .expect("a client task panicked");
        all.merge(seen);
    }
    all
}

/// Checks, through `app` (another instance on the same database), that every order answered
/// 201 is there, that no other order was placed, and that the stock went down by exactly
/// their units.
pub async fn assert_orders_kept(app: &TestApp, admin: &str, product: &Value, seen: &Seen) {
    let mut stored = HashSet::new();
    let mut page = 1;
    loop {
        let resp = app
            .get(
                &format!("/api/v1/orders?per_page=100&page={page}"),
                Some(admin),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        let items = body["items"].as_array().expect("items").clone();
        for o in &items {
            assert_eq!(o["items"][0]["product_id"], product["id"], "{o}");
            stored.insert(str_of(o, "id"));
        }
        if items.is_empty() {
            break;
        }
        page += 1;
    }
    let answered: HashSet<String> = seen.placed.iter().map(|p| p.id.clone()).collect();
    assert_eq!(
        answered.len(),
        seen.placed.len(),
        "one order id answered twice"
    );
    let lost: Vec<_> = answered.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "orders answered 201 but not stored: {lost:?}"
    );
    let unanswered: Vec<_> = stored.difference(&answered).collect();
    assert!(
        unanswered.is_empty(),
        "orders stored whose 201 never reached the client: {unanswered:?}"
    );
    let p = app
        .get_json(&format!("/api/v1/products/{}", str_of(product, "id")), None)
        .await;
    assert_eq!(
        p["stock"].as_i64(),
        Some(PLENTY - seen.units()),
        "stock is not the initial stock minus the units of the 201s"
    );
}

/// A product with [`PLENTY`] units, priced 1.00 EUR.
pub async fn plentiful_product(app: &TestApp, admin: &str) -> Value {
    let sku = format!("STOP-{}", unique());
    app.create_product_with(
        admin,
        &json!({"sku": sku, "name": format!("Shutdown {sku}"),
                "price": {"amount": "1.00", "currency": "EUR"}, "stock": PLENTY}),
    )
    .await
}

async fn tokens(app: &TestApp, n: usize) -> Vec<String> {
    let mut tokens = Vec::with_capacity(n);
    for _ in 0..n {
        tokens.push(app.user_token().await.1);
    }
    tokens
}

/// Waits until `ok` reaches `n` (at most 30 s).
pub async fn wait_for_successes(ok: &AtomicUsize, n: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while ok.load(Ordering::SeqCst) < n {
        assert!(
            Instant::now() < deadline,
            "fewer than {n} orders placed within 30 s {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn sigterm_under_load_loses_nothing(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let admin = app.admin_token().await;
    let product = plentiful_product(&app, &admin).await;
    let tokens = tokens(&app, 4).await;
    let mut shop = ShopProcess::start(&app, "stopped", &[]);
    shop.wait_ready(&app.client).await;

    let (stop, ok) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let load = start_load(
        vec![shop.base.clone()],
        tokens,
        str_of(&product, "id"),
        16,
        4,
        stop.clone(),
        ok.clone(),
    );
    wait_for_successes(&ok, 50, "before SIGTERM").await;
    shop.sigterm();
    let status = shop.wait_exit(Duration::from_secs(15)).await;
    let log = shop.log_text();
    let status = status.unwrap_or_else(|| panic!("still running 15 s after SIGTERM: {log}"));
    assert!(
        status.success(),
        "exited with {status} after SIGTERM: {log}"
    );
    assert!(log.contains("stopped"), "no orderly stop in the log: {log}");

    // After the exit: a new connection is refused at once, not left hanging.
    let after = load_client()
        .get(format!("{}/health/live", shop.base))
        .send()
        .await
        .expect_err("something still answers on the port");
    assert!(after.is_connect(), "not refused: {after:?}");

    stop.store(true, Ordering::SeqCst);
    let seen = collect(load).await;
    assert!(seen.other_errors.is_empty(), "{:?}", seen.other_errors);
    let failed: Vec<_> = seen
        .statuses
        .iter()
        .filter(|(s, _)| !matches!(**s, 200 | 201))
        .collect();
    assert!(failed.is_empty(), "answers other than 200/201: {failed:?}");
    assert!(seen.placed.len() >= 50, "{seen:?}");
    eprintln!(
        "{db:?}: answers {:?}, {} refused after the stop",
        seen.statuses, seen.connection_errors
    );

    assert_orders_kept(&app, &admin, &product, &seen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_on_postgres_finishes_every_accepted_order() {
    sigterm_under_load_loses_nothing(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_on_sqlite_finishes_every_accepted_order() {
    sigterm_under_load_loses_nothing(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_draining_ready_answers_503_and_orders_are_still_taken() {
    let Some(app) = spawn_app(Db::Sqlite).await else {
        return;
    };
    let admin = app.admin_token().await;
    let product = plentiful_product(&app, &admin).await;
    let token = app.user_token().await.1;
    let mut shop = ShopProcess::start(&app, "draining", &[("SHUTDOWN_DRAIN_SECONDS", "2".into())]);
    shop.wait_ready(&app.client).await;
    let client = load_client();

    let started = Instant::now();
    shop.sigterm();
    // The signal is handled asynchronously: wait for readiness to drop.
    let ready = loop {
        let resp = client
            .get(format!("{}/health/ready", shop.base))
            .send()
            .await
            .expect("no answer while draining");
        if resp.status() != StatusCode::OK || started.elapsed() > Duration::from_secs(1) {
            break resp;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "stopping", "{body}");
    let live = client
        .get(format!("{}/health/live", shop.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        live.status(),
        StatusCode::OK,
        "liveness must hold while draining"
    );
    let resp = client
        .post(format!("{}/api/v1/orders", shop.base))
        .bearer_auth(&token)
        .json(&json!({"items": [{"product_id": product["id"], "quantity": 2}]}))
        .send()
        .await
        .expect("an order while draining got no answer");
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "an order while draining"
    );
    let order: Value = resp.json().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the checks took longer than the drain"
    );

    let status = shop.wait_exit(Duration::from_secs(15)).await;
    let elapsed = started.elapsed();
    let status = status.unwrap_or_else(|| panic!("still running: {}", shop.log_text()));
    assert!(status.success(), "{status}: {}", shop.log_text());
    assert!(
        elapsed >= Duration::from_secs(2),
        "exited after {elapsed:?}, before the 2 s drain"
    );
    let seen = Seen {
        placed: vec![Placed {
            id: str_of(&order, "id"),
            quantity: 2,
        }],
        ..Seen::default()
    };
    assert_orders_kept(&app, &admin, &product, &seen).await;
}
