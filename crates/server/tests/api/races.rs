//! Orders under concurrency: many requests at once for the last units, for one cancellation
//! and under one idempotency key, and (PostgreSQL) two service processes on one database.
//! Nothing here sleeps to provoke a race: every request is sent at once and the outcome
//! must hold whatever the interleaving.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::paths::ORDERS;
use crate::helpers::{Db, TestApp, spawn_app, str_of, unique};
use crate::process::ShopProcess;

// On a multi-threaded runtime, so that requests truly overlap.
both_dbs!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    of_200_orders_for_10_units_exactly_10_succeed,
    of_20_concurrent_cancels_exactly_one_succeeds,
    concurrent_requests_with_one_idempotency_key_place_one_order,
    racing_orders_for_two_variants_of_one_product_each_sell_exactly_their_own_stock,
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
/// The outcomes that answered `status`.
fn answered(outcomes: &[Outcome], status: StatusCode) -> Vec<&Outcome> {
    outcomes.iter().filter(|o| o.status == status).collect()
}

/// Asserts that every outcome answered one of `allowed`.
fn assert_only(outcomes: &[Outcome], allowed: &[StatusCode]) {
    let others: Vec<String> = outcomes
        .iter()
        .filter(|o| !allowed.contains(&o.status))
        .map(|o| format!("{} {}", o.status, o.body))
        .collect();
    assert!(others.is_empty(), "unexpected answers: {others:?}");
}

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
    let created = answered(&outcomes, StatusCode::CREATED);
    let conflicts = answered(&outcomes, StatusCode::CONFLICT);
    assert_only(&outcomes, &[StatusCode::CREATED, StatusCode::CONFLICT]);
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

/// [`USERS`] new accounts, signed up at `base`, race for the last [`STOCK`] units of a new
/// product there.
pub(crate) async fn oversell_at(app: &TestApp, base: &str) {
    let admin = app.admin_token().await;
    let product = product(app, &admin, STOCK).await;
    let mut tokens = Vec::with_capacity(USERS);
    for _ in 0..USERS {
        tokens.push(register_at(&app.client, base).await);
    }
    let bases = [base.to_owned()];
    oversell_race(&app.client, &bases, &tokens, &admin, &product).await;
}

async fn of_200_orders_for_10_units_exactly_10_succeed(app: TestApp) {
    oversell_at(&app, &app.addr).await;
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
    let ok = answered(&outcomes, StatusCode::OK);
    let conflicts = answered(&outcomes, StatusCode::CONFLICT);
    assert_only(&outcomes, &[StatusCode::OK, StatusCode::CONFLICT]);
    assert_eq!(ok.len(), 1, "successful cancels");
    assert_eq!(conflicts.len(), 19, "refused cancels");
    for o in ok {
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

/// A T-shirt whose two variants hold their own stock: S 6 units, M 4. 200 one-unit orders,
/// half for each, race from five users: exactly 6 orders of S and 4 of M are placed, every
/// other order is a 409 naming its own variant, and both variants (and so the product) end at
/// zero. A build that checked only the product's total would sell S past its 6.
async fn racing_orders_for_two_variants_of_one_product_each_sell_exactly_their_own_stock(
    app: TestApp,
) {
    let admin = app.admin_token().await;
    let tag = unique();
    let tee = app
        .create_product_with(
            &admin,
            &json!({
                "name": format!("Race tee {tag}"),
                "options": [{"name": "Size", "values": ["S", "M"]}],
                "variants": [
                    {"sku": format!("RACE-S-{tag}"), "option_values": {"Size": "S"},
                     "price": {"amount": "1.00", "currency": "EUR"}, "stock": 6},
                    {"sku": format!("RACE-M-{tag}"), "option_values": {"Size": "M"},
                     "price": {"amount": "1.00", "currency": "EUR"}, "stock": 4, "position": 1}
                ]
            }),
        )
        .await;
    let small = str_of(&tee["variants"][0], "id");
    let medium = str_of(&tee["variants"][1], "id");
    let mut tokens = Vec::with_capacity(USERS);
    for _ in 0..USERS {
        tokens.push(register_at(&app.client, &app.addr).await);
    }
    let wanted: Vec<&String> = (0..USERS * PER_USER)
        .map(|i| if i % 2 == 0 { &small } else { &medium })
        .collect();
    let handles = wanted
        .iter()
        .enumerate()
        .map(|(i, variant)| {
            tokio::spawn(post(
                app.client.clone(),
                app.url(ORDERS),
                tokens[i % USERS].clone(),
                None,
                Some(json!({"items": [{"variant_id": variant, "quantity": 1}]})),
            ))
        })
        .collect();
    let outcomes = run_all(handles).await;
    assert_only(&outcomes, &[StatusCode::CREATED, StatusCode::CONFLICT]);

    let mut sold = std::collections::HashMap::<String, usize>::new();
    for (variant, outcome) in wanted.iter().zip(&outcomes) {
        if outcome.status == StatusCode::CREATED {
            assert_eq!(
                outcome.body["items"][0]["variant_id"],
                json!(variant),
                "{}",
                outcome.body
            );
            *sold.entry((*variant).clone()).or_default() += 1;
        } else {
            let detail = str_of(&outcome.body, "detail");
            assert!(
                detail.contains(variant.as_str()),
                "a 409 that does not name its variant {variant}: {}",
                outcome.body
            );
        }
    }
    assert_eq!(
        (sold.get(&small).copied(), sold.get(&medium).copied()),
        (Some(6), Some(4)),
        "orders placed of S and of M"
    );
    let now = app
        .get_json(
            &format!("/api/v1/products/{}", tee["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(
        (
            &now["variants"][0]["stock"],
            &now["variants"][1]["stock"],
            &now["stock"]
        ),
        (&json!(0), &json!(0), &json!(0)),
        "{now}"
    );
}

// ---- two processes, one PostgreSQL database ---------------------------------------------------

/// Registers `email` at `base` and signs it in there; its tokens.
pub(crate) async fn sign_up_at(client: &reqwest::Client, base: &str, email: &str) -> Value {
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
    resp.json().await.unwrap()
}

/// A new account's access token, from `base`.
pub(crate) async fn register_at(client: &reqwest::Client, base: &str) -> String {
    let email = format!("racer-{}@example.com", unique());
    str_of(&sign_up_at(client, base, &email).await, "access_token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_postgres_database_sell_exactly_the_stock() {
    let Some(app) = spawn_app(Db::Postgres).await else {
        return;
    };
    // As a deployment runs them: rate limits on, warnings only.
    let env = [
        ("RATE_LIMIT_ENABLED", "true".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    // Declared after `app`, so dropped (and killed) before `app` removes the data folder.
    let mut servers: Vec<ShopProcess> = (0..2)
        .map(|n| ShopProcess::start(&app, &format!("server-{n}"), &env))
        .collect();
    for server in &mut servers {
        server.wait_ready(&app.client).await;
    }
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();

    let admin = app.admin_token().await;
    let product = product(&app, &admin, STOCK).await;
    let mut tokens = Vec::with_capacity(USERS);
    for i in 0..USERS {
        tokens.push(register_at(&app.client, &bases[i % 2]).await);
    }
    oversell_race(&app.client, &bases, &tokens, &admin, &product).await;

    for (n, server) in servers.iter_mut().enumerate() {
        assert!(server.running(), "server {n} died: {}", server.log_text());
    }
    drop(servers);
}
