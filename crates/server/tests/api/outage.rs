//! PostgreSQL stopping mid-run: the service reaches it through a TCP stand-in that the test
//! stops (new connections refused, open ones cut, as when the server goes down) and starts
//! again. While it is away requests answer 503 quickly; when it is back they succeed again
//! without restarting the shop, and nothing answered 201 before is lost.

use std::time::{Duration, Instant};

use infrastructure::DatabaseUrl;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::{
    Db, Proxy, Shop, TestApp, assert_problem, postgres_server, spawn_app_with, str_of, unique,
};

/// How long a request waits for a connection in these tests before it answers 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// A shop on a fresh PostgreSQL database reached through a stand-in, the stand-in, and the
/// database's direct URL (for the test's own connection). `None` without PostgreSQL (outside CI).
async fn setup() -> Option<(TestApp, Proxy, String)> {
    let server = reqwest::Url::parse(&postgres_server()?).expect("SHOP_TEST_POSTGRES_URL");
    let upstream = tokio::net::lookup_host((
        server.host_str().expect("a host in SHOP_TEST_POSTGRES_URL"),
        server.port_or_known_default().unwrap_or(5432),
    ))
    .await
    .expect("the PostgreSQL host resolves")
    .next()
    .expect("an address of the PostgreSQL host");
    let proxy = Proxy::start(upstream).await;
    let mut direct = String::new();
    let app = spawn_app_with(Db::Postgres, |s| {
        direct = s.database_url.expose().to_owned();
        let mut url = reqwest::Url::parse(&direct).expect("the test database URL");
        url.set_host(Some("127.0.0.1")).expect("a host");
        url.set_port(Some(proxy.port())).expect("a port");
        s.database_url = DatabaseUrl::parse(url.as_str()).expect("a postgres URL");
        s.database_acquire_timeout = ACQUIRE_TIMEOUT;
    })
    .await?;
    Some((app, proxy, direct))
}

/// Places an order of `quantity` of `product_id`; the raw response.
async fn place_order(
    app: &TestApp,
    token: &str,
    product_id: &str,
    quantity: u32,
) -> reqwest::Response {
    app.post_json(
        "/api/v1/orders",
        &json!({"items": [{"product_id": product_id, "quantity": quantity}]}),
        Some(token),
    )
    .await
}

async fn stock_of(app: &TestApp, product_id: &str) -> i64 {
    let resp = app
        .get(&format!("/api/v1/products/{product_id}"), None)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let product: Value = resp.json().await.unwrap();
    product["stock"].as_i64().expect("a stock")
}

/// Checks that `resp` is a 503 problem whose detail names the database.
async fn assert_database_problem(what: &str, resp: reqwest::Response) {
    let problem = assert_problem(resp, 503).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("database"),
        "{what}: {problem}"
    );
}

/// Sends a request, checks that it answers a 503 problem naming the database, fast.
async fn assert_database_unavailable(what: &str, request: reqwest::RequestBuilder) {
    let started = Instant::now();
    let resp = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let took = started.elapsed();
    assert_database_problem(what, resp).await;
    // A refused connection is retried until the acquire timeout, never up to the request
    // timeout (30 s).
    assert!(
        took < ACQUIRE_TIMEOUT + Duration::from_secs(3),
        "{what} took {took:?} to answer 503"
    );
}

#[tokio::test]
async fn while_postgres_is_down_requests_answer_503_and_recover_without_a_restart() {
    let Some((app, mut proxy, _)) = setup().await else {
        return;
    };
    let Shop {
        admin,
        token,
        product_id,
        ..
    } = app.shop_with_a_product("OUT").await;
    let resp = place_order(&app, &token, &product_id, 2).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let order: Value = resp.json().await.unwrap();
    let order_id = str_of(&order, "id");
    assert_eq!(
        app.get("/health/ready", None).await.status(),
        StatusCode::OK
    );

    proxy.stop().await;

    let c = &app.client;
    let bearer = |r: reqwest::RequestBuilder, t: &str| r.bearer_auth(t.to_owned());
    let new_product = json!({
        "sku": format!("LATE-{}", unique()),
        "name": "Made while the database was away",
        "price": {"amount": "5.00", "currency": "EUR"},
        "stock": 3
    });
    let cases = [
        ("catalog page", c.get(app.url("/api/v1/products"))),
        (
            "product by id",
            c.get(app.url(&format!("/api/v1/products/{product_id}"))),
        ),
        (
            "own order",
            bearer(
                c.get(app.url(&format!("/api/v1/orders/{order_id}"))),
                &token,
            ),
        ),
        (
            "own account",
            bearer(c.get(app.url("/api/v1/users/me")), &token),
        ),
        (
            "new product",
            bearer(c.post(app.url("/api/v1/products")), &admin).json(&new_product),
        ),
        (
            "new order",
            bearer(c.post(app.url("/api/v1/orders")), &token)
                .json(&json!({"items": [{"product_id": product_id, "quantity": 1}]})),
        ),
        (
            "sign-in",
            c.post(app.url("/api/v1/auth/login")).json(
                &json!({"username": app.admin_username, "password": crate::helpers::PASSWORD}),
            ),
        ),
    ];
    for (what, request) in cases {
        assert_database_unavailable(what, request).await;
    }
    let resp = app.get("/health/ready", None).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: Value = resp.json().await.unwrap();
    assert_eq!(ready["checks"]["database"], json!("down"), "{ready}");
    assert_eq!(app.get("/health/live", None).await.status(), StatusCode::OK);

    proxy.restart().await;

    // The pool reconnects on its own: the very first requests succeed.
    assert_eq!(
        app.get("/health/ready", None).await.status(),
        StatusCode::OK
    );
    let resp = app
        .get(&format!("/api/v1/orders/{order_id}"), Some(&token))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let again: Value = resp.json().await.unwrap();
    assert_eq!(again, order, "the order placed before the outage changed");
    assert_eq!(stock_of(&app, &product_id).await, 8);
    let resp = app
        .post_json("/api/v1/products", &new_product, Some(&admin))
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "nothing was stored while away"
    );
    let resp = place_order(&app, &token, &product_id, 1).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(stock_of(&app, &product_id).await, 7);
    let orders: Value = app.get_json("/api/v1/orders", Some(&token)).await;
    assert_eq!(orders["total"], json!(2), "{orders}");
}

#[tokio::test]
async fn an_order_in_flight_when_postgres_goes_away_answers_503_and_takes_no_stock() {
    let Some((app, mut proxy, direct)) = setup().await else {
        return;
    };
    let Shop {
        token, product_id, ..
    } = app.shop_with_a_product("FLY").await;
    assert_eq!(stock_of(&app, &product_id).await, 10);

    // The test's own connection (not through the stand-in) holds the product's row, so the
    // order's stock update waits inside its transaction until the connection is cut.
    let mut holder = sqlx::PgConnection::connect(&direct).await.unwrap();
    sqlx::raw_sql("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT stock FROM products WHERE id = $1 FOR UPDATE")
        .bind(uuid::Uuid::parse_str(&product_id).unwrap())
        .execute(&mut holder)
        .await
        .unwrap();

    let order = {
        let client = app.client.clone();
        let url = app.url("/api/v1/orders");
        let body = json!({"items": [{"product_id": product_id, "quantity": 3}]});
        let token = token.clone();
        tokio::spawn(async move { client.post(url).bearer_auth(token).json(&body).send().await })
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut holder)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the order never reached the stock update"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    proxy.stop().await;

    let resp = tokio::time::timeout(Duration::from_secs(10), order)
        .await
        .expect("the order in flight hangs after the database went away")
        .unwrap()
        .expect("the order in flight gets an answer");
    assert_database_problem("the order in flight", resp).await;
    // The row lock goes; the server's half of the order can now only roll back (its client is gone).
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    let _ = holder.close().await;

    proxy.restart().await;

    assert_eq!(
        stock_of(&app, &product_id).await,
        10,
        "the order cut off in flight took stock"
    );
    let orders: Value = app.get_json("/api/v1/orders", Some(&token)).await;
    assert_eq!(
        orders["total"],
        json!(0),
        "an order cut off in flight was stored: {orders}"
    );
    // And all ten units can still be sold.
    let resp = place_order(&app, &token, &product_id, 10).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(stock_of(&app, &product_id).await, 0);
}
