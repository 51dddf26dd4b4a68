//! Checkout through HTTP: a guest's and a customer's cart become orders with their totals,
//! stock taken, the promotion's use counted and the cart completed; the guest's order opens
//! with its token; each missing part is a 422 naming it; and the races: 100 checkouts for a
//! promotion's last use, 100 for the last 10 units, one cart checked out many times at once,
//! and a price changed while a cart is open.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_invalid, assert_problem, assert_unauthorized, str_of, unique,
};

both_dbs!(
    a_guest_checks_out_into_an_order_its_token_opens,
    a_customer_checks_out_with_their_email_and_post_orders_still_works,
    checkout_names_what_is_missing_and_refuses_short_stock_changing_nothing,
    a_price_changed_while_the_cart_is_open_is_the_price_ordered,
    checkout_raises_the_events_an_order_placed_directly_raises,
);

mod races {
    // On a multi-threaded runtime, so that requests truly overlap.
    pub(super) use super::{
        of_100_checkouts_for_a_promotions_last_use_exactly_one_gets_it,
        of_100_checkouts_for_the_last_10_units_exactly_10_succeed,
        one_cart_checked_out_many_times_at_once_makes_one_order,
    };
    both_dbs!(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        of_100_checkouts_for_a_promotions_last_use_exactly_one_gets_it,
        of_100_checkouts_for_the_last_10_units_exactly_10_succeed,
        one_cart_checked_out_many_times_at_once_makes_one_order,
    );
}

const CARTS: &str = "/api/v1/carts";

async fn send(
    client: &reqwest::Client,
    url: String,
    method: Method,
    body: Option<&Value>,
    bearer: Option<&str>,
    headers: &[(&str, &str)],
) -> Response {
    let mut req = client.request(method, url);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.expect("request failed")
}

async fn json_of(resp: Response, status: StatusCode) -> Value {
    let actual = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(actual, status, "body: {text}");
    serde_json::from_str(&text).expect("JSON")
}

fn money(amount: &str, currency: &str) -> Value {
    json!({"amount": amount, "currency": currency})
}

fn address() -> Value {
    json!({"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"})
}

/// A cart (a guest's without `bearer`) holding `quantity` of `product`, with `details` set;
/// its path and its token (empty for a customer's).
async fn cart_with(
    app: &TestApp,
    bearer: Option<&str>,
    product: &Value,
    quantity: i64,
    details: Value,
) -> (String, String) {
    let c = &app.client;
    let cart = json_of(
        send(
            c,
            app.url(CARTS),
            Method::POST,
            Some(&json!({})),
            bearer,
            &[],
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("{CARTS}/{}", str_of(&cart, "id"));
    let token = cart["token"].as_str().unwrap_or_default().to_owned();
    let h = [("X-Cart-Token", token.as_str())];
    let item = json!({"product_id": product["id"], "quantity": quantity});
    json_of(
        send(
            c,
            app.url(&format!("{path}/items")),
            Method::POST,
            Some(&item),
            bearer,
            &h,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    json_of(
        send(c, app.url(&path), Method::PUT, Some(&details), bearer, &h).await,
        StatusCode::OK,
    )
    .await;
    (path, token)
}

async fn checkout(
    app: &TestApp,
    path: &str,
    bearer: Option<&str>,
    headers: &[(&str, &str)],
) -> Response {
    send(
        &app.client,
        app.url(&format!("{path}/checkout")),
        Method::POST,
        None,
        bearer,
        headers,
    )
    .await
}

async fn stock_of(app: &TestApp, product: &Value) -> i64 {
    let p = app
        .get_json(&format!("/api/v1/products/{}", str_of(product, "id")), None)
        .await;
    p["stock"].as_i64().unwrap()
}

async fn admin_post(app: &TestApp, admin: &str, path: &str, body: Value) -> Value {
    let resp = app.post_json(path, &body, Some(admin)).await;
    json_of(resp, StatusCode::CREATED).await
}

async fn a_guest_checks_out_into_an_order_its_token_opens(app: TestApp) {
    let admin = app.admin_token().await;
    let product = app
        .create_product_priced(&admin, &format!("MUG-{}", unique()), "17.91", "EUR", 10)
        .await;
    let code = format!("TEN-{}", unique());
    let promo = admin_post(
        &app,
        &admin,
        "/api/v1/promotions",
        json!({"code": code, "kind": "percentage", "value": "10", "active": true}),
    )
    .await;
    let option = admin_post(&app, &admin, "/api/v1/shipping-options", json!({"name": "Standard", "countries": ["DE"], "price": money("4.90", "EUR"), "free_over": money("50.00", "EUR")})).await;
    admin_post(
        &app,
        &admin,
        "/api/v1/tax-rates",
        json!({"country": "DE", "rate": "19", "name": "VAT"}),
    )
    .await;
    let details = json!({"email": "guest@example.com", "shipping_address": address(), "shipping_option_id": option["id"], "discount_code": code});
    let (path, token) = cart_with(&app, None, &product, 3, details).await;
    let h = [
        ("X-Cart-Token", token.as_str()),
        ("Idempotency-Key", "first-try"),
    ];

    // Without its token the cart cannot be checked out.
    assert_problem(checkout(&app, &path, None, &[]).await, 404).await;
    let (_, stranger) = app.user_token().await;
    assert_problem(checkout(&app, &path, Some(&stranger), &[]).await, 404).await;

    let resp = checkout(&app, &path, None, &h).await;
    let location = crate::helpers::location(&resp);
    let order = json_of(resp, StatusCode::CREATED).await;
    assert_eq!(location, format!("/api/v1/orders/{}", str_of(&order, "id")));
    let order_token = str_of(&order, "token");
    assert_eq!(order["user_id"], Value::Null);
    assert_eq!(order["status"], "pending");
    assert_eq!(order["email"], "guest@example.com");
    assert_eq!(order["payment_status"], "unpaid");
    assert_eq!(order["discount_code"], code);
    assert_eq!(
        order["shipping_option"],
        json!({"option_id": option["id"], "name": "Standard", "amount": money("4.90", "EUR")})
    );
    // 53.73 - 5.37 + 4.90 + 10.12 = 63.38 (the cart's worked example).
    assert_eq!(
        json!([
            order["subtotal"],
            order["discount_total"],
            order["shipping_total"],
            order["tax_total"],
            order["total"]
        ]),
        json!([
            money("53.73", "EUR"),
            money("5.37", "EUR"),
            money("4.90", "EUR"),
            money("10.12", "EUR"),
            money("63.38", "EUR")
        ])
    );
    assert_eq!(order["items"][0]["unit_price"], money("17.91", "EUR"));
    assert_eq!(order["items"][0]["quantity"], 3);
    assert_eq!(stock_of(&app, &product).await, 7);
    let promo = app
        .get_json(
            &format!("/api/v1/promotions/{}", str_of(&promo, "id")),
            Some(&admin),
        )
        .await;
    assert_eq!(promo["times_used"], 1);

    // The order opens with its token (or for an admin), and for nobody else.
    let order_path = app.url(&format!("/api/v1/orders/{}", str_of(&order, "id")));
    let got = json_of(
        send(
            &app.client,
            order_path.clone(),
            Method::GET,
            None,
            None,
            &[("X-Order-Token", &order_token)],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(got.get("token").is_none(), "shown once: {got}");
    assert_eq!(got["total"], order["total"]);
    assert_unauthorized(
        send(
            &app.client,
            order_path.clone(),
            Method::GET,
            None,
            None,
            &[],
        )
        .await,
    )
    .await;
    assert_problem(
        send(
            &app.client,
            order_path.clone(),
            Method::GET,
            None,
            None,
            &[("X-Order-Token", "wrong")],
        )
        .await,
        404,
    )
    .await;
    assert_problem(
        send(
            &app.client,
            order_path.clone(),
            Method::GET,
            None,
            None,
            &[("X-Order-Token", &token)],
        )
        .await,
        404,
    )
    .await;
    assert_problem(
        send(
            &app.client,
            order_path.clone(),
            Method::GET,
            None,
            Some(&stranger),
            &[],
        )
        .await,
        404,
    )
    .await;
    assert_problem(
        send(
            &app.client,
            order_path.clone(),
            Method::GET,
            None,
            Some(&stranger),
            &[("X-Order-Token", "x")],
        )
        .await,
        404,
    )
    .await;
    json_of(
        send(
            &app.client,
            order_path,
            Method::GET,
            None,
            Some(&admin),
            &[],
        )
        .await,
        StatusCode::OK,
    )
    .await;

    // The same key answers the same order again, without the token; without it: 409.
    let resp = checkout(&app, &path, None, &h).await;
    assert_eq!(
        resp.headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let again = json_of(resp, StatusCode::CREATED).await;
    assert_eq!(again["id"], order["id"]);
    assert!(again.get("token").is_none());
    assert_problem(
        checkout(&app, &path, None, &[("X-Cart-Token", &token)]).await,
        409,
    )
    .await;
    assert_problem(
        checkout(
            &app,
            &path,
            None,
            &[("X-Cart-Token", &token), ("Idempotency-Key", "other")],
        )
        .await,
        409,
    )
    .await;
    assert_eq!(stock_of(&app, &product).await, 7);

    // The cart is completed and refuses every change.
    let ht = [("X-Cart-Token", token.as_str())];
    let cart = json_of(
        send(&app.client, app.url(&path), Method::GET, None, None, &ht).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cart["status"], "completed");
    let item = json!({"product_id": product["id"], "quantity": 1});
    assert_problem(
        send(
            &app.client,
            app.url(&format!("{path}/items")),
            Method::POST,
            Some(&item),
            None,
            &ht,
        )
        .await,
        409,
    )
    .await;
    assert_problem(
        send(
            &app.client,
            app.url(&path),
            Method::PUT,
            Some(&json!({"email": null})),
            None,
            &ht,
        )
        .await,
        409,
    )
    .await;
    let line = format!("{path}/items/{}", str_of(&cart["items"][0], "id"));
    assert_problem(
        send(&app.client, app.url(&line), Method::DELETE, None, None, &ht).await,
        409,
    )
    .await;
}

async fn a_customer_checks_out_with_their_email_and_post_orders_still_works(app: TestApp) {
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, &format!("MUG-{}", unique()))
        .await;
    let (me, token) = app.user_token().await;
    // No shipping option ships to DE here: none is needed. No tax rate: no tax.
    let (path, _) = cart_with(
        &app,
        Some(&token),
        &product,
        2,
        json!({"shipping_address": address()}),
    )
    .await;
    let order = json_of(
        checkout(&app, &path, Some(&token), &[]).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(order["user_id"], me["id"]);
    assert_eq!(order["email"], me["email"]);
    assert!(order.get("token").is_none());
    assert_eq!(order["total"], money("39.80", "EUR"));
    assert_eq!(order["subtotal"], money("39.80", "EUR"));
    assert_eq!(
        (
            order["discount_total"].clone(),
            order["shipping_total"].clone(),
            order["tax_total"].clone()
        ),
        (
            money("0.00", "EUR"),
            money("0.00", "EUR"),
            money("0.00", "EUR")
        )
    );
    let mine = app.get_json("/api/v1/orders", Some(&token)).await;
    assert_eq!(mine["items"][0]["id"], order["id"]);
    let got = app
        .get_json(
            &format!("/api/v1/orders/{}", str_of(&order, "id")),
            Some(&token),
        )
        .await;
    assert_eq!(got["email"], me["email"]);

    // `POST /orders` keeps working: no discount, shipping or tax; its subtotal is its total.
    let resp = app
        .post_json(
            "/api/v1/orders",
            &json!({"items": [{"product_id": product["id"], "quantity": 1}]}),
            Some(&token),
        )
        .await;
    let placed = json_of(resp, StatusCode::CREATED).await;
    assert_eq!(placed["subtotal"], placed["total"]);
    assert_eq!(placed["discount_total"], money("0.00", "EUR"));
    assert_eq!(placed["payment_status"], "unpaid");
    assert_eq!(placed["email"], Value::Null);
    assert_eq!(placed["shipping_option"], Value::Null);
    assert_eq!(stock_of(&app, &product).await, 7);
}

async fn checkout_names_what_is_missing_and_refuses_short_stock_changing_nothing(app: TestApp) {
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, &format!("MUG-{}", unique()))
        .await;
    // An empty guest cart without any detail.
    let cart = json_of(
        send(
            &app.client,
            app.url(CARTS),
            Method::POST,
            Some(&json!({})),
            None,
            &[],
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("{CARTS}/{}", str_of(&cart, "id"));
    let token = str_of(&cart, "token");
    let h = [("X-Cart-Token", token.as_str())];
    assert_eq!(
        assert_invalid(checkout(&app, &path, None, &h).await).await,
        vec!["items", "email", "shipping_address"]
    );

    // An option ships to DE: one must be chosen.
    admin_post(
        &app,
        &admin,
        "/api/v1/shipping-options",
        json!({"name": "Standard", "countries": ["DE"], "price": money("4.90", "EUR")}),
    )
    .await;
    let (path, token) = cart_with(
        &app,
        None,
        &product,
        11,
        json!({"email": "a@b.example", "shipping_address": address()}),
    )
    .await;
    let h = [("X-Cart-Token", token.as_str())];
    assert_eq!(
        assert_invalid(checkout(&app, &path, None, &h).await).await,
        vec!["shipping_option_id"]
    );
    let options = app
        .get_json(&format!("{path}/shipping-options"), None)
        .await;
    assert_eq!(options["status"], 404, "the options need the token too");
    let options = json_of(
        send(
            &app.client,
            app.url(&format!("{path}/shipping-options")),
            Method::GET,
            None,
            None,
            &h,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let pick = json!({"shipping_option_id": options["items"][0]["id"]});
    json_of(
        send(
            &app.client,
            app.url(&path),
            Method::PUT,
            Some(&pick),
            None,
            &h,
        )
        .await,
        StatusCode::OK,
    )
    .await;

    // 11 of the 10 in stock: 409 naming the variant; nothing changed.
    let body = assert_problem(checkout(&app, &path, None, &h).await, 409).await;
    let variant = str_of(&product["variants"][0], "id");
    assert!(
        body["detail"].as_str().unwrap().contains(&variant),
        "{body}"
    );
    assert_eq!(stock_of(&app, &product).await, 10);
    let cart = json_of(
        send(&app.client, app.url(&path), Method::GET, None, None, &h).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cart["status"], "open");
    // Ten are fine.
    let line = format!("{path}/items/{}", str_of(&cart["items"][0], "id"));
    json_of(
        send(
            &app.client,
            app.url(&line),
            Method::PUT,
            Some(&json!({"quantity": 10})),
            None,
            &h,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let order = json_of(checkout(&app, &path, None, &h).await, StatusCode::CREATED).await;
    assert_eq!(order["total"], money("203.90", "EUR"));
    assert_eq!(stock_of(&app, &product).await, 0);
}

async fn a_price_changed_while_the_cart_is_open_is_the_price_ordered(app: TestApp) {
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, &format!("MUG-{}", unique()))
        .await;
    admin_post(
        &app,
        &admin,
        "/api/v1/tax-rates",
        json!({"country": "DE", "rate": "19", "name": "VAT"}),
    )
    .await;
    let (path, token) = cart_with(
        &app,
        None,
        &product,
        3,
        json!({"email": "a@b.example", "shipping_address": address()}),
    )
    .await;
    let resp = app
        .put_json(
            &format!("/api/v1/products/{}", str_of(&product, "id")),
            &json!({"price": money("21.05", "EUR")}),
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let order = json_of(
        checkout(&app, &path, None, &[("X-Cart-Token", &token)]).await,
        StatusCode::CREATED,
    )
    .await;
    // 3 x 21.05 = 63.15; 19 % = 11.9985 -> 12.00; total 75.15.
    assert_eq!(order["items"][0]["unit_price"], money("21.05", "EUR"));
    assert_eq!(order["items"][0]["line_total"], money("63.15", "EUR"));
    assert_eq!(
        json!([order["subtotal"], order["tax_total"], order["total"]]),
        json!([
            money("63.15", "EUR"),
            money("12.00", "EUR"),
            money("75.15", "EUR")
        ])
    );
}

/// Sends every checkout of `carts` (path, token) at once, the `i`th to `bases[i % len]` (the
/// instances' base URLs); the statuses, in order.
async fn all_at_once(
    app: &TestApp,
    bases: &[String],
    carts: &[(String, String)],
    key: Option<&str>,
) -> Vec<(StatusCode, Value)> {
    let tasks: Vec<_> = carts
        .iter()
        .enumerate()
        .map(|(i, (path, token))| {
            let client = app.client.clone();
            let url = format!("{}{path}/checkout", bases[i % bases.len()]);
            let token = token.clone();
            let key = key.map(str::to_owned);
            tokio::spawn(async move {
                let mut req = client.post(url).header("X-Cart-Token", token);
                if let Some(k) = key {
                    req = req.header("Idempotency-Key", k);
                }
                let resp = req.send().await.expect("checkout failed");
                let status = resp.status();
                (status, resp.json::<Value>().await.unwrap_or(Value::Null))
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn count(outcomes: &[(StatusCode, Value)], status: StatusCode) -> usize {
    outcomes.iter().filter(|(s, _)| *s == status).count()
}

async fn of_100_checkouts_for_a_promotions_last_use_exactly_one_gets_it(app: TestApp) {
    promotion_race_at(&app, std::slice::from_ref(&app.addr)).await;
}

/// [`of_100_checkouts_for_a_promotions_last_use_exactly_one_gets_it`], the checkouts sent to `bases` in turn.
pub(crate) async fn promotion_race_at(app: &TestApp, bases: &[String]) {
    let admin = app.admin_token().await;
    let product = app
        .create_product_priced(&admin, &format!("RACE-{}", unique()), "10.00", "EUR", 1000)
        .await;
    let code = format!("LAST-{}", unique());
    let promo = admin_post(app, &admin, "/api/v1/promotions", json!({"code": code, "kind": "fixed", "value": "1", "currency": "EUR", "usage_limit": 1, "active": true})).await;
    let details =
        json!({"email": "a@b.example", "shipping_address": address(), "discount_code": code});
    let mut carts = Vec::new();
    for _ in 0..100 {
        carts.push(cart_with(app, None, &product, 1, details.clone()).await);
    }
    let outcomes = all_at_once(app, bases, &carts, None).await;
    assert_eq!(count(&outcomes, StatusCode::CREATED), 1, "{outcomes:?}");
    assert_eq!(count(&outcomes, StatusCode::CONFLICT), 99, "{outcomes:?}");
    let winner = outcomes
        .iter()
        .find(|(s, _)| *s == StatusCode::CREATED)
        .unwrap();
    assert_eq!(winner.1["discount_total"], money("1.00", "EUR"));
    for (s, body) in &outcomes {
        if *s == StatusCode::CONFLICT {
            assert!(
                body["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("promotion"),
                "{body}"
            );
        }
    }
    // The losers took no stock and used nothing.
    assert_eq!(stock_of(app, &product).await, 999);
    let promo = app
        .get_json(
            &format!("/api/v1/promotions/{}", str_of(&promo, "id")),
            Some(&admin),
        )
        .await;
    assert_eq!(promo["times_used"], 1);
}

async fn of_100_checkouts_for_the_last_10_units_exactly_10_succeed(app: TestApp) {
    last_units_race_at(&app, std::slice::from_ref(&app.addr)).await;
}

/// [`of_100_checkouts_for_the_last_10_units_exactly_10_succeed`], the checkouts sent to `bases` in turn.
pub(crate) async fn last_units_race_at(app: &TestApp, bases: &[String]) {
    let admin = app.admin_token().await;
    let product = app
        .create_product_priced(&admin, &format!("RACE-{}", unique()), "1.00", "EUR", 10)
        .await;
    let details = json!({"email": "a@b.example", "shipping_address": address()});
    let mut carts = Vec::new();
    for _ in 0..100 {
        carts.push(cart_with(app, None, &product, 1, details.clone()).await);
    }
    let outcomes = all_at_once(app, bases, &carts, None).await;
    assert_eq!(count(&outcomes, StatusCode::CREATED), 10, "{outcomes:?}");
    assert_eq!(count(&outcomes, StatusCode::CONFLICT), 90, "{outcomes:?}");
    assert_eq!(stock_of(app, &product).await, 0);
}

async fn one_cart_checked_out_many_times_at_once_makes_one_order(app: TestApp) {
    one_cart_race_at(&app, std::slice::from_ref(&app.addr)).await;
}

/// [`one_cart_checked_out_many_times_at_once_makes_one_order`], the checkouts sent to `bases` in turn.
pub(crate) async fn one_cart_race_at(app: &TestApp, bases: &[String]) {
    let admin = app.admin_token().await;
    let product = app
        .create_product_priced(&admin, &format!("RACE-{}", unique()), "1.00", "EUR", 100)
        .await;
    let details = json!({"email": "a@b.example", "shipping_address": address()});
    let one = cart_with(app, None, &product, 1, details.clone()).await;
    let outcomes = all_at_once(app, bases, &vec![one; 20], None).await;
    assert_eq!(count(&outcomes, StatusCode::CREATED), 1, "{outcomes:?}");
    assert_eq!(count(&outcomes, StatusCode::CONFLICT), 19, "{outcomes:?}");
    assert_eq!(stock_of(app, &product).await, 99);
    // With one key, every answer is the same order.
    let two = cart_with(app, None, &product, 1, details).await;
    let outcomes = all_at_once(app, bases, &vec![two; 20], Some("same-key")).await;
    let ids: std::collections::HashSet<String> = outcomes
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .map(|(_, b)| str_of(b, "id"))
        .collect();
    assert_eq!(ids.len(), 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|(s, _)| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{outcomes:?}"
    );
    assert_eq!(stock_of(app, &product).await, 98);
}

/// The admin's events of `event_type` about the resource `id`, newest first.
async fn events_about(app: &TestApp, admin: &str, event_type: &str, id: &str) -> Vec<Value> {
    let page = app
        .get_json(
            &format!("/api/v1/events?type={event_type}&per_page=100"),
            Some(admin),
        )
        .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["id"] == id)
        .cloned()
        .collect()
}

async fn checkout_raises_the_events_an_order_placed_directly_raises(app: TestApp) {
    let admin = app.admin_token().await;
    let product = app
        .create_product_priced(&admin, &format!("EV-{}", unique()), "1.00", "EUR", 10)
        .await;
    let id = str_of(&product, "id");
    let details = json!({"email": "a@b.example", "shipping_address": address()});
    // 10 -> 6: placed, not low yet.
    let (path, token) = cart_with(&app, None, &product, 4, details.clone()).await;
    let order = json_of(
        checkout(&app, &path, None, &[("X-Cart-Token", &token)]).await,
        StatusCode::CREATED,
    )
    .await;
    let placed = events_about(&app, &admin, "order.placed", &str_of(&order, "id")).await;
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0]["data"]["total"], order["total"]);
    assert!(
        events_about(&app, &admin, "variant.low_stock", &id)
            .await
            .is_empty()
    );
    // 6 -> 5: at the threshold, told once, with the stock it fell to.
    let (path, token) = cart_with(&app, None, &product, 1, details.clone()).await;
    json_of(
        checkout(&app, &path, None, &[("X-Cart-Token", &token)]).await,
        StatusCode::CREATED,
    )
    .await;
    let told = events_about(&app, &admin, "variant.low_stock", &id).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["data"]["stock"], 5);
    // 5 -> 4: already low, not told again.
    let (path, token) = cart_with(&app, None, &product, 1, details).await;
    json_of(
        checkout(&app, &path, None, &[("X-Cart-Token", &token)]).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        events_about(&app, &admin, "variant.low_stock", &id)
            .await
            .len(),
        1
    );
}
