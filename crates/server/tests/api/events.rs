//! The event log: every change that commits writes its event in the same transaction, with
//! the resource as the API answered it; a change that rolls back, or an idempotent replay,
//! writes none. Only admins read it; its filters are taken as sent.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Shop, TestApp, assert_invalid, assert_problem, str_of, unique};

both_dbs!(
    each_change_writes_its_event_with_the_resource_as_answered,
    a_refused_order_writes_no_event_and_a_replay_no_second_one,
    low_stock_is_told_once_when_the_stock_falls_to_the_threshold,
    only_admins_read_the_event_log,
    event_filters_are_taken_as_sent,
    the_event_log_is_newest_first_and_paged,
);

const EVENTS: &str = "/api/v1/events";

/// The events of `event_type` (all when `None`), newest first, as the admin sees them.
async fn events(app: &TestApp, admin: &str, event_type: Option<&str>) -> Vec<Value> {
    let path = match event_type {
        Some(t) => format!("{EVENTS}?type={t}&per_page=100"),
        None => format!("{EVENTS}?per_page=100"),
    };
    let resp = app.get(&path, Some(admin)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page: Value = resp.json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

/// The events that tell of the resource `id`, oldest first, as `(type, data)`.
async fn events_of(app: &TestApp, admin: &str, id: &str) -> Vec<(String, Value)> {
    let mut found: Vec<(String, Value)> = events(app, admin, None)
        .await
        .into_iter()
        .filter(|e| e["data"]["id"] == id)
        .map(|e| (str_of(&e, "type"), e["data"].clone()))
        .collect();
    found.reverse();
    found
}

fn types(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(t, _)| t.as_str()).collect()
}

async fn place(
    app: &TestApp,
    token: &str,
    product: &str,
    quantity: u32,
    key: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(token)
        .json(&json!({"items": [{"product_id": product, "quantity": quantity}]}));
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await.unwrap()
}

/// The body of the answer to a PUT of `body` to `path`.
async fn put(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let resp = app.put_json(path, &body, Some(token)).await;
    resp.json().await.unwrap()
}

async fn each_change_writes_its_event_with_the_resource_as_answered(app: TestApp) {
    let admin = app.admin_token().await;
    let (user, token) = app.user_token().await;
    let registered = events_of(&app, &admin, &str_of(&user, "id")).await;
    assert_eq!(types(&registered), ["user.registered"]);
    assert_eq!(registered[0].1, user);

    let product = app
        .create_product(&admin, &format!("EV-{}", unique()))
        .await;
    let id = str_of(&product, "id");
    let updated = put(
        &app,
        &admin,
        &format!("/api/v1/products/{id}"),
        json!({"name": "Renamed"}),
    )
    .await;

    let resp = place(&app, &token, &id, 2, None).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let order: Value = resp.json().await.unwrap();
    let order_id = str_of(&order, "id");
    let status = format!("/api/v1/orders/{order_id}/status");
    let paid = put(&app, &admin, &status, json!({"status": "paid"})).await;
    let resp = app
        .post(&format!("/api/v1/orders/{order_id}/cancel"), Some(&token))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cancelled: Value = resp.json().await.unwrap();

    let of_order = events_of(&app, &admin, &order_id).await;
    assert_eq!(
        types(&of_order),
        [
            "order.placed",
            "order.status_changed",
            "order.paid",
            "order.status_changed",
            "order.cancelled",
            // A paid order cancelled is refunded (issue 15).
            "order.refunded"
        ]
    );
    assert_eq!(of_order[0].1, order);
    assert_eq!(of_order[1].1, paid);
    assert_eq!(of_order[2].1, paid);
    assert_eq!(of_order[3].1, cancelled);
    assert_eq!(of_order[4].1, cancelled);
    assert_eq!(of_order[5].1, cancelled);
    assert_eq!(cancelled["payment_status"], json!("refunded"));

    let resp = app
        .delete(&format!("/api/v1/products/{id}"), Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let of_product = events_of(&app, &admin, &id).await;
    assert_eq!(
        types(&of_product),
        ["product.created", "product.updated", "product.deleted"]
    );
    assert_eq!(of_product[0].1, product);
    assert_eq!(of_product[1].1, updated);
    // As it was just before it went: after the order took 2 and the cancel gave them back.
    assert_eq!(of_product[2].1["name"], "Renamed");
    assert_eq!(of_product[2].1["stock"], 10);

    // Each event answers the shape of the contract.
    let any = &events(&app, &admin, None).await[0];
    let mut keys: Vec<&str> = any
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["created_at", "data", "id", "type"]);
}

async fn a_refused_order_writes_no_event_and_a_replay_no_second_one(app: TestApp) {
    let Shop {
        admin,
        token,
        product_id: id,
        ..
    } = app.shop_with_a_product("EV").await;
    let before = events(&app, &admin, Some("order.placed")).await.len();

    // 11 of 10: refused, rolled back, no event.
    let resp = place(&app, &token, &id, 11, None).await;
    assert_problem(resp, 409).await;
    assert_eq!(
        events(&app, &admin, Some("order.placed")).await.len(),
        before
    );

    let key = unique();
    let first = place(&app, &token, &id, 1, Some(&key)).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let again = place(&app, &token, &id, 1, Some(&key)).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    let placed = events(&app, &admin, Some("order.placed")).await;
    assert_eq!(placed.len(), before + 1);
}

async fn low_stock_is_told_once_when_the_stock_falls_to_the_threshold(app: TestApp) {
    let Shop {
        admin,
        token,
        product,
        product_id: id,
    } = app.shop_with_a_product("EV").await;
    let low = |events: Vec<Value>| -> Vec<Value> {
        events
            .into_iter()
            .filter(|e| e["data"]["id"] == id.as_str())
            .collect()
    };
    // 10 -> 6: not low yet.
    assert_eq!(
        place(&app, &token, &id, 4, None).await.status(),
        StatusCode::CREATED
    );
    assert!(low(events(&app, &admin, Some("variant.low_stock")).await).is_empty());
    // 6 -> 5: at the threshold, told, with the stock it fell to.
    assert_eq!(
        place(&app, &token, &id, 1, None).await.status(),
        StatusCode::CREATED
    );
    let told = low(events(&app, &admin, Some("variant.low_stock")).await);
    assert_eq!(told.len(), 1);
    assert_eq!(told[0]["data"]["stock"], 5);
    assert_eq!(told[0]["data"]["sku"], product["sku"]);
    // 5 -> 3: already low, not told again.
    assert_eq!(
        place(&app, &token, &id, 2, None).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        low(events(&app, &admin, Some("variant.low_stock")).await).len(),
        1
    );
    // An admin setting the stock low is told too.
    let resp = app
        .put_json(
            &format!("/api/v1/products/{id}"),
            &json!({"stock": 2}),
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let told = low(events(&app, &admin, Some("variant.low_stock")).await);
    assert_eq!(told.len(), 2);
    assert_eq!(told[0]["data"]["stock"], 2);
}

async fn only_admins_read_the_event_log(app: TestApp) {
    let (_, token) = app.user_token().await;
    assert_problem(app.get(EVENTS, Some(&token)).await, 403).await;
    let resp = app.get(EVENTS, None).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

async fn event_filters_are_taken_as_sent(app: TestApp) {
    let admin = app.admin_token().await;
    for bad in ["", "order", "ORDER.PLACED", "%20order.placed", "*"] {
        let resp = app.get(&format!("{EVENTS}?type={bad}"), Some(&admin)).await;
        assert_eq!(assert_invalid(resp).await, ["type"], "type={bad:?}");
    }
    let resp = app
        .get(&format!("{EVENTS}?type=nope&page=0"), Some(&admin))
        .await;
    let mut fields = assert_invalid(resp).await;
    fields.sort();
    assert_eq!(fields, ["page", "type"]);
    for t in [
        "order.placed",
        "order.paid",
        "order.status_changed",
        "order.cancelled",
        "order.refunded",
        "product.created",
        "product.updated",
        "product.deleted",
        "variant.low_stock",
        "user.registered",
    ] {
        let resp = app.get(&format!("{EVENTS}?type={t}"), Some(&admin)).await;
        assert_eq!(resp.status(), StatusCode::OK, "type={t}");
        let page: Value = resp.json().await.unwrap();
        for e in page["items"].as_array().unwrap() {
            assert_eq!(e["type"], t);
        }
    }
}

async fn the_event_log_is_newest_first_and_paged(app: TestApp) {
    let admin = app.admin_token().await;
    let mut skus = Vec::new();
    for _ in 0..3 {
        let p = app
            .create_product(&admin, &format!("EV-{}", unique()))
            .await;
        skus.push(p["sku"].clone());
    }
    let page = app
        .get_json(
            &format!("{EVENTS}?type=product.created&per_page=2"),
            Some(&admin),
        )
        .await;
    assert_eq!(page["total"], 3);
    assert_eq!(page["total_pages"], 2);
    assert_eq!(page["per_page"], 2);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items[0]["data"]["sku"], skus[2]);
    assert_eq!(items[1]["data"]["sku"], skus[1]);
    let page = app
        .get_json(
            &format!("{EVENTS}?type=product.created&per_page=2&page=2"),
            Some(&admin),
        )
        .await;
    assert_eq!(page["items"][0]["data"]["sku"], skus[0]);
    let page = app
        .get_json(
            &format!("{EVENTS}?type=product.created&page=9"),
            Some(&admin),
        )
        .await;
    assert_eq!(page["items"], json!([]));
}
