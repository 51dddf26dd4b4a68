//! Orders under concurrency: many requests at once for the last units, for one cancellation
//! and under one idempotency key, and (PostgreSQL) two service processes on one database.
//! Nothing here sleeps to provoke a race: every request is sent at once and the outcome
//! must hold whatever the interleaving.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::paths::ORDERS;
use crate::helpers::{Db, TestApp, spawn_app, str_of, unique};

/// Runs each named `async fn name(app: TestApp)` on SQLite and on PostgreSQL, on a
/// multi-threaded runtime so that requests truly overlap.
macro_rules! race_dbs {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(app) = crate::helpers::spawn_app(crate::helpers::Db::Sqlite).await {
                        super::$name(app).await;
                    }
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(app) = crate::helpers::spawn_app(crate::helpers::Db::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )+
        }
    };
}

race_dbs!(
    of_200_orders_for_10_units_exactly_10_succeed,
    of_20_concurrent_cancels_exactly_one_succeeds,
    concurrent_requests_with_one_idempotency_key_place_one_order,
);

pub(crate) const USERS: usize = 5;
const PER_USER: usize = 40;
pub(crate) const STOCK: i64 = 10;

/// A product priced 1.00 EUR with `stock` units.
pub(crate) async fn product(app: &TestApp, admin: &str, stock: i64) -> Value {
    let sku = format!("RACE-{}", unique());
    app.create_product_priced(admin, &sku, "1.00", "EUR", stock)
        .await
}

async fn stock_at(client: &reqwest::Client, base: &str, product: &Value) -> i64 {
    let resp = client
        .get(format!("{base}/api/v1/products/{}", str_of(product, "id")))
        .send()
        .await
        .expect("GET product failed");
    assert_eq!(resp.status(), StatusCode::OK);
    let p: Value = resp.json().await.unwrap();
    p["stock"]
        .as_i64()
        .unwrap_or_else(|| panic!("no stock in {p}"))
}

/// All orders an admin sees (up to 100).
async fn all_orders(client: &reqwest::Client, base: &str, admin: &str) -> Value {
    let resp = client
        .get(format!("{base}{ORDERS}?per_page=100"))
        .bearer_auth(admin)
        .send()
        .await
        .expect("GET orders failed");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

/// One request's outcome: status, body, and whether it was marked as a replay.
struct Outcome {
    status: StatusCode,
    body: Value,
    replayed: bool,
}

/// Sends one POST (JSON body, bearer token, optional idempotency key) and reads the answer.
async fn post(
    client: reqwest::Client,
    url: String,
    token: String,
    key: Option<String>,
    body: Option<Value>,
) -> Outcome {
    let mut req = client.post(url).bearer_auth(token);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("POST failed");
    let status = resp.status();
    let replayed = resp
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v.as_bytes() == b"true");
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Outcome {
        status,
        body,
        replayed,
    }
}

/// Spawns every request at once and waits for all of them.
async fn run_all(requests: Vec<tokio::task::JoinHandle<Outcome>>) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(requests.len());
    for handle in requests {
        outcomes.push(handle.await.expect("a request task panicked"));
    }
    outcomes
}

/// Fires 200 orders of one unit each from 5 users, the i-th at `bases[i % len]`, and checks
/// exactly `STOCK` succeed and the rest are 409s naming the product.
pub(crate) async fn oversell_race(
    client: &reqwest::Client,
    bases: &[String],
    tokens: &[String],
    admin: &str,
    product: &Value,
) {
    let product_id = str_of(product, "id");
    let body = json!({"items": [{"product_id": product_id, "quantity": 1}]});
    let mut handles = Vec::with_capacity(USERS * PER_USER);
    for i in 0..USERS * PER_USER {
        let base = &bases[i % bases.len()];
        handles.push(tokio::spawn(post(
            client.clone(),
            format!("{base}{ORDERS}"),
            tokens[i % tokens.len()].clone(),
            None,
            Some(body.clone()),
        )));
    }
    let outcomes = run_all(handles).await;

    let server_errors: Vec<String> = outcomes
        .iter()
        .filter(|o| o.status.is_server_error())
        .map(|o| format!("{} {}", o.status, o.body))
        .collect();
    assert!(
        server_errors.is_empty(),
        "{} of {} requests failed with 5xx, e.g. {:?}",
        server_errors.len(),
        outcomes.len(),
        server_errors.first()
    );
    let created: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.status == StatusCode::CREATED)
        .collect();
    let conflicts: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.status == StatusCode::CONFLICT)
        .collect();
    let others: Vec<String> = outcomes
        .iter()
        .filter(|o| o.status != StatusCode::CREATED && o.status != StatusCode::CONFLICT)
        .map(|o| format!("{} {}", o.status, o.body))
        .collect();
    assert!(others.is_empty(), "unexpected answers: {others:?}");
    assert_eq!(created.len(), STOCK as usize, "orders placed");
    assert_eq!(conflicts.len(), USERS * PER_USER - STOCK as usize, "409s");
    for c in &conflicts {
        let detail = c.body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(&product_id),
            "a 409 that does not name the product: {}",
            c.body
        );
    }
    let mut placed_ids: Vec<String> = created.iter().map(|o| str_of(&o.body, "id")).collect();
    placed_ids.sort();
    placed_ids.dedup();
    assert_eq!(placed_ids.len(), STOCK as usize, "distinct order ids");

    for base in bases {
        assert_eq!(stock_at(client, base, product).await, 0, "stock at {base}");
    }
    let page = all_orders(client, &bases[0], admin).await;
    assert_eq!(page["total"], json!(STOCK), "orders in the list: {page}");
    let mut listed: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert_eq!(o["items"][0]["quantity"], json!(1));
            str_of(o, "id")
        })
        .collect();
    listed.sort();
    assert_eq!(listed, placed_ids);
}

async fn user_tokens(app: &TestApp, n: usize) -> Vec<String> {
    let mut tokens = Vec::with_capacity(n);
    for _ in 0..n {
        tokens.push(app.user_token().await.1);
    }
    tokens
}

async fn of_200_orders_for_10_units_exactly_10_succeed(app: TestApp) {
    let admin = app.admin_token().await;
    let product = product(&app, &admin, STOCK).await;
    let tokens = user_tokens(&app, USERS).await;
    oversell_race(
        &app.client,
        std::slice::from_ref(&app.addr),
        &tokens,
        &admin,
        &product,
    )
    .await;
}

async fn of_20_concurrent_cancels_exactly_one_succeeds(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, owner) = app.user_token().await;
    let mug = product(&app, &admin, 10).await;
    let plate = product(&app, &admin, 10).await;
    let resp = app
        .post_json(
            ORDERS,
            &json!({"items": [
                {"product_id": mug["id"], "quantity": 3},
                {"product_id": plate["id"], "quantity": 2}
            ]}),
            Some(&owner),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let order: Value = resp.json().await.unwrap();
    assert_eq!(stock_at(&app.client, &app.addr, &mug).await, 7);
    assert_eq!(stock_at(&app.client, &app.addr, &plate).await, 8);

    let url = app.url(&format!("{ORDERS}/{}/cancel", str_of(&order, "id")));
    let handles = (0..20)
        .map(|_| {
            tokio::spawn(post(
                app.client.clone(),
                url.clone(),
                owner.clone(),
                None,
                None,
            ))
        })
        .collect();
    let outcomes = run_all(handles).await;
    let ok = outcomes
        .iter()
        .filter(|o| o.status == StatusCode::OK)
        .count();
    let conflicts = outcomes
        .iter()
        .filter(|o| o.status == StatusCode::CONFLICT)
        .count();
    let others: Vec<String> = outcomes
        .iter()
        .filter(|o| o.status != StatusCode::OK && o.status != StatusCode::CONFLICT)
        .map(|o| format!("{} {}", o.status, o.body))
        .collect();
    assert!(others.is_empty(), "unexpected answers: {others:?}");
    assert_eq!(ok, 1, "successful cancels");
    assert_eq!(conflicts, 19, "refused cancels");
    for o in outcomes.iter().filter(|o| o.status == StatusCode::OK) {
        assert_eq!(o.body["status"], json!("cancelled"));
    }
    assert_eq!(stock_at(&app.client, &app.addr, &mug).await, 10);
    assert_eq!(stock_at(&app.client, &app.addr, &plate).await, 10);
}

async fn concurrent_requests_with_one_idempotency_key_place_one_order(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, 10).await;
    let key = format!("race-{}", unique());
    let body = json!({"items": [{"product_id": mug["id"], "quantity": 2}]});
    let handles = (0..20)
        .map(|_| {
            tokio::spawn(post(
                app.client.clone(),
                app.url(ORDERS),
                token.clone(),
                Some(key.clone()),
                Some(body.clone()),
            ))
        })
        .collect();
    let outcomes = run_all(handles).await;
    let bad: Vec<String> = outcomes
        .iter()
        .filter(|o| o.status != StatusCode::CREATED)
        .map(|o| format!("{} {}", o.status, o.body))
        .collect();
    assert!(bad.is_empty(), "{} of 20 were not 201: {bad:?}", bad.len());
    let ids: Vec<String> = outcomes.iter().map(|o| str_of(&o.body, "id")).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "different orders under one key: {ids:?}"
    );
    let fresh = outcomes.iter().filter(|o| !o.replayed).count();
    assert_eq!(fresh, 1, "responses not marked as replays");

    assert_eq!(stock_at(&app.client, &app.addr, &mug).await, 8);
    let page = all_orders(&app.client, &app.addr, &admin).await;
    assert_eq!(page["total"], json!(1), "{page}");
    assert_eq!(page["items"][0]["id"], json!(ids[0]));
}

// ---- two processes, one PostgreSQL database ---------------------------------------------------

/// `shop` server processes, killed when dropped (also when a test panics).
struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a free port");
    listener.local_addr().expect("no local address").port()
}

fn start_server(app: &TestApp, port: u16, log: &Path) -> Child {
    let log_file = std::fs::File::create(log).expect("cannot create the server log");
    Command::new(env!("CARGO_BIN_EXE_shop"))
        .current_dir(&app.settings.data_dir)
        .env("DATABASE_URL", app.settings.database_url.expose())
        .env("DATA_DIR", &app.settings.data_dir)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("cannot start the shop binary")
}

/// Waits (at most 30 s) until `/health/ready` answers 200.
async fn wait_ready(client: &reqwest::Client, base: &str, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("cannot poll the server process") {
            panic!(
                "the server at {base} exited with {status}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if let Ok(resp) = client.get(format!("{base}/health/ready")).send().await
            && resp.status() == StatusCode::OK
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server at {base} was not ready within 30 s: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn register_at(client: &reqwest::Client, base: &str) -> String {
    let email = format!("racer-{}@example.com", unique());
    let password = crate::helpers::PASSWORD;
    let resp = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED, "registering at {base}");
    let resp = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "signing in at {base}");
    let tokens: Value = resp.json().await.unwrap();
    str_of(&tokens, "access_token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_postgres_database_sell_exactly_the_stock() {
    let Some(app) = spawn_app(Db::Postgres).await else {
        return;
    };
    // Declared after `app`, so dropped (and killed) before `app` removes the data folder.
    let mut servers = Servers(Vec::new());
    let mut bases = Vec::new();
    let mut logs = Vec::new();
    for n in 0..2 {
        let port = free_port();
        let log = app.settings.data_dir.join(format!("server-{n}.log"));
        servers.0.push(start_server(&app, port, &log));
        bases.push(format!("http://127.0.0.1:{port}"));
        logs.push(log);
    }
    for (n, base) in bases.iter().enumerate() {
        wait_ready(&app.client, base, &mut servers.0[n], &logs[n]).await;
    }

    let admin = app.admin_token().await;
    let product = product(&app, &admin, STOCK).await;
    let mut tokens = Vec::with_capacity(USERS);
    for i in 0..USERS {
        tokens.push(register_at(&app.client, &bases[i % 2]).await);
    }
    oversell_race(&app.client, &bases, &tokens, &admin, &product).await;

    for (n, child) in servers.0.iter_mut().enumerate() {
        assert!(
            child.try_wait().expect("cannot poll").is_none(),
            "server {n} died: {}",
            std::fs::read_to_string(&logs[n]).unwrap_or_default()
        );
    }
    drop(servers);
}
