//! Orders: placing them (stock, prices, validation, idempotency keys), reading and listing
//! them as their owner or an admin, and moving them along their status machine.

use reqwest::header::LOCATION;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::paths::{ORDERS, PRODUCTS};
use crate::helpers::{
    TestApp, assert_invalid, assert_problem, assert_unauthorized, comparable, location, str_of,
    timestamp, unique,
};

both_dbs!(
    placing_an_order_answers_it_and_takes_the_stock,
    an_order_without_an_address_has_none,
    the_same_product_twice_becomes_one_line,
    an_anonymous_caller_may_not_order,
    bad_quantities_are_refused_naming_the_line,
    an_order_needs_one_to_a_hundred_lines,
    unknown_and_deleted_products_are_refused,
    a_product_id_that_is_not_a_uuid_is_refused,
    products_in_two_currencies_are_refused,
    a_bad_shipping_address_is_refused_naming_the_part,
    not_enough_stock_is_a_conflict_that_changes_nothing,
    the_last_units_can_be_bought_and_no_more,
    prices_names_and_skus_are_copied_into_the_order,
    a_deleted_product_stays_in_its_orders,
    users_list_only_their_own_orders_and_admins_all,
    admins_filter_orders_by_user_and_status,
    bad_order_filters_are_refused_naming_them,
    order_lists_are_newest_first_and_paged,
    an_order_is_seen_by_its_owner_and_admins_only,
    only_admins_change_an_orders_status,
    every_status_change_is_allowed_or_refused_as_the_contract_says,
    a_status_that_does_not_exist_is_refused,
    the_owner_cancels_and_the_stock_comes_back,
    nobody_cancels_another_users_order_but_an_admin,
    an_order_past_cancelling_cannot_be_cancelled,
    a_paid_order_can_still_be_cancelled,
    cancelling_through_the_status_endpoint_returns_the_stock,
    cancelling_never_lifts_stock_past_its_maximum,
    a_repeated_idempotency_key_replays_the_first_order,
    an_idempotency_key_with_another_body_is_a_conflict,
    idempotency_keys_belong_to_one_user,
    without_an_idempotency_key_each_request_places_an_order,
    a_key_whose_request_failed_can_be_used_again,
    an_order_names_a_variant_or_a_product_of_one_and_its_lines_name_the_variant,
    a_line_names_exactly_one_of_variant_and_product,
    an_unknown_variant_is_refused_naming_the_line,
    cancelling_returns_the_stock_to_the_variant,
    not_enough_stock_names_the_variant,
);

// ---- local vocabulary ----------------------------------------------------------------------

fn id_of(v: &Value) -> String {
    str_of(v, "id")
}

fn order_path(order: &Value) -> String {
    format!("{ORDERS}/{}", id_of(order))
}

fn product_path(product: &Value) -> String {
    format!("{PRODUCTS}/{}", id_of(product))
}

/// An order body of `(product, quantity)` lines and no address.
fn items(lines: &[(&Value, i64)]) -> Value {
    json!({
        "items": lines
            .iter()
            .map(|(p, q)| json!({"product_id": p["id"], "quantity": q}))
            .collect::<Vec<_>>()
    })
}

fn address() -> Value {
    json!({
        "line1": "Hauptstraße 1",
        "line2": "Hinterhaus",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
        "state": "Berlin"
    })
}

/// A product with a price and a stock of one's choosing.
async fn product(app: &TestApp, admin: &str, amount: &str, currency: &str, stock: i64) -> Value {
    let sku = format!("SKU-{}", unique());
    app.create_product_priced(admin, &sku, amount, currency, stock)
        .await
}

async fn place(app: &TestApp, token: Option<&str>, body: &Value) -> Response {
    app.post_json(ORDERS, body, token).await
}

async fn place_with_key(app: &TestApp, token: &str, key: &str, body: &Value) -> Response {
    app.client
        .post(app.url(ORDERS))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("POST failed")
}

/// Reads a response that must have `status`, and its JSON body.
async fn expect_json(resp: Response, status: StatusCode, what: &str) -> Value {
    let actual = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(actual, status, "{what}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"))
}

/// Places an order (201 expected) and returns it.
async fn place_ok(app: &TestApp, token: &str, body: &Value) -> Value {
    let resp = place(app, Some(token), body).await;
    expect_json(resp, StatusCode::CREATED, &format!("placing {body}")).await
}

async fn stock_of(app: &TestApp, product: &Value) -> i64 {
    let resp = app.get(&product_path(product), None).await;
    let p = expect_json(resp, StatusCode::OK, "reading a product").await;
    p["stock"]
        .as_i64()
        .unwrap_or_else(|| panic!("stock is not a number: {p}"))
}

async fn get_order(app: &TestApp, token: &str, order: &Value) -> Value {
    let resp = app.get(&order_path(order), Some(token)).await;
    expect_json(resp, StatusCode::OK, "reading an order").await
}

async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let resp = app.get(&format!("{ORDERS}?{query}"), Some(token)).await;
    expect_json(resp, StatusCode::OK, &format!("GET {ORDERS}?{query}")).await
}

fn list_items(page: &Value) -> &Vec<Value> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no `items` list in {page}"))
}

fn ids_on(page: &Value) -> Vec<String> {
    list_items(page).iter().map(id_of).collect()
}

async fn set_status(app: &TestApp, token: &str, order: &Value, status: &str) -> Response {
    app.put_json(
        &format!("{}/status", order_path(order)),
        &json!({"status": status}),
        Some(token),
    )
    .await
}

async fn cancel(app: &TestApp, token: &str, order: &Value) -> Response {
    app.client
        .post(app.url(&format!("{}/cancel", order_path(order))))
        .bearer_auth(token)
        .send()
        .await
        .expect("POST cancel failed")
}

fn money(amount: &str, currency: &str) -> Value {
    json!({"amount": amount, "currency": currency})
}

/// The fields named by a 422, which must include `field`.
async fn assert_invalid_field(resp: Response, field: &str, what: &str) {
    let fields = assert_invalid(resp).await;
    assert!(
        fields.iter().any(|f| f == field),
        "{what}: expected an error on `{field}`, got {fields:?}"
    );
}

// ---- placing -------------------------------------------------------------------------------

async fn placing_an_order_answers_it_and_takes_the_stock(app: TestApp) {
    let admin = app.admin_token().await;
    let (user, token) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let plate = product(&app, &admin, "2.50", "EUR", 5).await;

    let mut body = items(&[(&mug, 2), (&plate, 1)]);
    body["shipping_address"] = address();
    let resp = place(&app, Some(&token), &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = location(&resp);
    let order: Value = resp.json().await.unwrap();

    uuid::Uuid::parse_str(&id_of(&order)).expect("`id` is a UUID");
    assert_eq!(location, order_path(&order));
    assert_eq!(order["user_id"], user["id"]);
    assert_eq!(order["status"], json!("pending"));
    assert_eq!(
        order["items"],
        json!([
            {
                "product_id": mug["id"],
                "variant_id": mug["variants"][0]["id"],
                "variant_title": "Default Title",
                "sku": mug["sku"],
                "name": mug["name"],
                "unit_price": money("19.90", "EUR"),
                "quantity": 2,
                "line_total": money("39.80", "EUR"),
            },
            {
                "product_id": plate["id"],
                "variant_id": plate["variants"][0]["id"],
                "variant_title": "Default Title",
                "sku": plate["sku"],
                "name": plate["name"],
                "unit_price": money("2.50", "EUR"),
                "quantity": 1,
                "line_total": money("2.50", "EUR"),
            }
        ])
    );
    assert_eq!(order["total"], money("42.30", "EUR"));
    let shipped_to = &order["shipping_address"];
    for part in ["line1", "line2", "city", "postal_code", "country", "state"] {
        assert_eq!(shipped_to[part], address()[part], "address `{part}`");
    }
    assert_eq!(
        timestamp(&order["created_at"]),
        timestamp(&order["updated_at"])
    );

    let resp = app.get(&location, Some(&token)).await;
    let fetched = expect_json(resp, StatusCode::OK, "GET Location").await;
    assert_eq!(fetched, order);

    assert_eq!(stock_of(&app, &mug).await, 8);
    assert_eq!(stock_of(&app, &plate).await, 4);
}

async fn an_order_without_an_address_has_none(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let order = place_ok(&app, &token, &items(&[(&mug, 1)])).await;
    assert!(
        order["shipping_address"].is_null(),
        "shipping_address is not null: {order}"
    );
    // The optional parts of an address may be left out.
    let mut body = items(&[(&mug, 1)]);
    body["shipping_address"] = json!({
        "line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"
    });
    let order = place_ok(&app, &token, &body).await;
    assert_eq!(order["shipping_address"]["line1"], json!("1 Main St"));
    assert_eq!(order["shipping_address"]["country"], json!("US"));
    assert!(order["shipping_address"]["line2"].is_null(), "{order}");
    assert!(order["shipping_address"]["state"].is_null(), "{order}");
    assert_eq!(stock_of(&app, &mug).await, 8);
}

async fn the_same_product_twice_becomes_one_line(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let order = place_ok(&app, &token, &items(&[(&mug, 2), (&mug, 3)])).await;
    let lines = order["items"].as_array().expect("items");
    assert_eq!(lines.len(), 1, "{order}");
    assert_eq!(lines[0]["product_id"], mug["id"]);
    assert_eq!(lines[0]["quantity"], json!(5));
    assert_eq!(lines[0]["line_total"], money("99.50", "EUR"));
    assert_eq!(order["total"], money("99.50", "EUR"));
    assert_eq!(stock_of(&app, &mug).await, 5);
}

async fn an_anonymous_caller_may_not_order(app: TestApp) {
    let admin = app.admin_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    assert_unauthorized(place(&app, None, &items(&[(&mug, 1)])).await).await;
    assert_unauthorized(place(&app, Some("not-a-token"), &items(&[(&mug, 1)])).await).await;
    assert_unauthorized(app.get(ORDERS, None).await).await;
    assert_eq!(stock_of(&app, &mug).await, 10);
    assert_eq!(list(&app, &admin, "").await["total"], json!(0));
}

async fn bad_quantities_are_refused_naming_the_line(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 2000).await;
    for quantity in [
        json!(0),
        json!(-1),
        json!(1001),
        json!(1.5),
        json!("2"),
        json!(null),
    ] {
        let body = json!({"items": [{"product_id": mug["id"], "quantity": quantity}]});
        let fields = assert_invalid(place(&app, Some(&token), &body).await).await;
        assert!(
            fields.iter().any(|f| f.contains("items[0].quantity")),
            "quantity {quantity}: no error on items[0].quantity: {fields:?}"
        );
    }
    // The second line is named as the second.
    let body = items(&[(&mug, 1), (&mug, 0)]);
    let fields = assert_invalid(place(&app, Some(&token), &body).await).await;
    assert!(
        fields.iter().any(|f| f.contains("items[1].quantity")),
        "no error on items[1].quantity: {fields:?}"
    );
    // A missing quantity names it too.
    let body = json!({"items": [{"product_id": mug["id"]}]});
    let fields = assert_invalid(place(&app, Some(&token), &body).await).await;
    assert!(
        fields.iter().any(|f| f.contains("items[0].quantity")),
        "missing quantity: {fields:?}"
    );
    // Two lines of one product that add up to more than 1000.
    let body = items(&[(&mug, 600), (&mug, 600)]);
    assert_invalid(place(&app, Some(&token), &body).await).await;
    // The edges are accepted.
    place_ok(&app, &token, &items(&[(&mug, 1)])).await;
    place_ok(&app, &token, &items(&[(&mug, 1000)])).await;
    assert_eq!(stock_of(&app, &mug).await, 999);
    assert_eq!(list(&app, &token, "").await["total"], json!(2));
}

async fn an_order_needs_one_to_a_hundred_lines(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "1.00", "EUR", 1000).await;

    assert_invalid_field(
        place(&app, Some(&token), &json!({"items": []})).await,
        "items",
        "no lines",
    )
    .await;
    assert_invalid_field(
        place(&app, Some(&token), &json!({})).await,
        "items",
        "no `items` at all",
    )
    .await;
    let too_many = items(&vec![(&mug, 1); 101]);
    assert_invalid_field(
        place(&app, Some(&token), &too_many).await,
        "items",
        "101 lines",
    )
    .await;
    assert_eq!(stock_of(&app, &mug).await, 1000);
    assert_eq!(list(&app, &token, "").await["total"], json!(0));

    // 100 lines are accepted (here all of one product, so they merge into one).
    let order = place_ok(&app, &token, &items(&vec![(&mug, 1); 100])).await;
    assert_eq!(order["items"].as_array().unwrap().len(), 1);
    assert_eq!(order["items"][0]["quantity"], json!(100));
    assert_eq!(order["total"], money("100.00", "EUR"));
    assert_eq!(stock_of(&app, &mug).await, 900);
}

async fn unknown_and_deleted_products_are_refused(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let gone = product(&app, &admin, "5.00", "EUR", 10).await;
    let resp = app.delete(&product_path(&gone), Some(&admin)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    let unknown = json!({"id": uuid::Uuid::now_v7().to_string()});
    for (missing, what) in [
        (&unknown, "an unknown product"),
        (&gone, "a deleted product"),
    ] {
        let body = items(&[(&mug, 1), (missing, 1)]);
        let body_text = assert_problem(place(&app, Some(&token), &body).await, 422).await;
        assert!(
            body_text["errors"].is_array(),
            "{what}: 422 without errors: {body_text}"
        );
        let alone = items(&[(missing, 1)]);
        assert_problem(place(&app, Some(&token), &alone).await, 422).await;
    }
    assert_eq!(stock_of(&app, &mug).await, 10);
    assert_eq!(list(&app, &admin, "").await["total"], json!(0));
}

async fn a_product_id_that_is_not_a_uuid_is_refused(app: TestApp) {
    let (_, token) = app.user_token().await;
    for bad in [json!("not-a-uuid"), json!(42), json!(null), json!("")] {
        let body = json!({"items": [{"product_id": bad, "quantity": 1}]});
        let fields = assert_invalid(place(&app, Some(&token), &body).await).await;
        assert!(
            fields.iter().any(|f| f.contains("items[0].product_id")),
            "product_id {bad}: {fields:?}"
        );
    }
}

async fn products_in_two_currencies_are_refused(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let euro = product(&app, &admin, "19.90", "EUR", 10).await;
    let dollar = product(&app, &admin, "19.90", "USD", 10).await;
    assert_invalid_field(
        place(&app, Some(&token), &items(&[(&euro, 1), (&dollar, 1)])).await,
        "items",
        "EUR and USD",
    )
    .await;
    assert_eq!(stock_of(&app, &euro).await, 10);
    assert_eq!(stock_of(&app, &dollar).await, 10);
    assert_eq!(list(&app, &token, "").await["total"], json!(0));
    // Each currency alone is fine, and the total is in it.
    let order = place_ok(&app, &token, &items(&[(&dollar, 3)])).await;
    assert_eq!(order["total"], money("59.70", "USD"));
}

async fn a_bad_shipping_address_is_refused_naming_the_part(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    for (part, value, field) in [
        ("country", json!("XX"), "shipping_address.country"),
        ("country", json!("DEU"), "shipping_address.country"),
        ("line1", json!(""), "shipping_address.line1"),
        ("line1", json!("   "), "shipping_address.line1"),
        ("city", json!(""), "shipping_address.city"),
        ("postal_code", json!(""), "shipping_address.postal_code"),
    ] {
        let mut body = items(&[(&mug, 1)]);
        let mut addr = address();
        addr[part] = value.clone();
        body["shipping_address"] = addr;
        assert_invalid_field(
            place(&app, Some(&token), &body).await,
            field,
            &format!("{part} = {value}"),
        )
        .await;
    }
    // A required part left out is named as well.
    let mut body = items(&[(&mug, 1)]);
    let mut addr = address();
    addr.as_object_mut().unwrap().remove("city");
    body["shipping_address"] = addr;
    assert_invalid_field(
        place(&app, Some(&token), &body).await,
        "shipping_address.city",
        "no city",
    )
    .await;
    assert_eq!(stock_of(&app, &mug).await, 10);
    assert_eq!(list(&app, &token, "").await["total"], json!(0));
}

async fn not_enough_stock_is_a_conflict_that_changes_nothing(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let plenty = product(&app, &admin, "19.90", "EUR", 10).await;
    let scarce = product(&app, &admin, "2.50", "EUR", 3).await;
    let more = product(&app, &admin, "1.00", "EUR", 10).await;

    // The short product in the middle, before and after the others: nothing is taken.
    for body in [
        items(&[(&plenty, 2), (&scarce, 4), (&more, 1)]),
        items(&[(&scarce, 4), (&plenty, 2)]),
        items(&[(&more, 1), (&plenty, 2), (&scarce, 4)]),
        items(&[(&scarce, 2), (&scarce, 2)]),
    ] {
        let problem = assert_problem(place(&app, Some(&token), &body).await, 409).await;
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(&id_of(&scarce)),
            "the 409 does not name {}: {problem}",
            id_of(&scarce)
        );
        assert!(
            !detail.contains(&id_of(&plenty)),
            "the 409 names a product that has stock: {problem}"
        );
        assert_eq!(stock_of(&app, &plenty).await, 10, "after {body}");
        assert_eq!(stock_of(&app, &scarce).await, 3, "after {body}");
        assert_eq!(stock_of(&app, &more).await, 10, "after {body}");
    }
    assert_eq!(list(&app, &token, "").await["total"], json!(0));
    assert_eq!(list(&app, &admin, "").await["total"], json!(0));
}

async fn the_last_units_can_be_bought_and_no_more(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    place_ok(&app, &token, &items(&[(&mug, 10)])).await;
    assert_eq!(stock_of(&app, &mug).await, 0);
    let problem = assert_problem(place(&app, Some(&token), &items(&[(&mug, 1)])).await, 409).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains(&id_of(&mug)),
        "{problem}"
    );
    assert_eq!(stock_of(&app, &mug).await, 0);
    assert_eq!(list(&app, &token, "").await["total"], json!(1));
}

async fn prices_names_and_skus_are_copied_into_the_order(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let order = place_ok(&app, &token, &items(&[(&mug, 2)])).await;

    let new_sku = format!("NEW-{}", unique());
    let resp = app
        .put_json(
            &product_path(&mug),
            &json!({
                "price": {"amount": "25.00", "currency": "EUR"},
                "name": "Renamed mug",
                "sku": new_sku
            }),
            Some(&admin),
        )
        .await;
    let changed = expect_json(resp, StatusCode::OK, "changing the product").await;
    assert_eq!(changed["price"], money("25.00", "EUR"));

    for seen in [
        get_order(&app, &token, &order).await,
        get_order(&app, &admin, &order).await,
        list_items(&list(&app, &token, "").await)[0].clone(),
    ] {
        assert_eq!(
            seen["items"][0]["unit_price"],
            money("19.90", "EUR"),
            "{seen}"
        );
        assert_eq!(
            seen["items"][0]["line_total"],
            money("39.80", "EUR"),
            "{seen}"
        );
        assert_eq!(seen["items"][0]["sku"], mug["sku"], "{seen}");
        assert_eq!(seen["items"][0]["name"], mug["name"], "{seen}");
        assert_eq!(seen["total"], money("39.80", "EUR"), "{seen}");
    }

    // A new order pays the new price.
    let later = place_ok(&app, &token, &items(&[(&mug, 2)])).await;
    assert_eq!(later["items"][0]["unit_price"], money("25.00", "EUR"));
    assert_eq!(later["items"][0]["sku"], json!(new_sku));
    assert_eq!(later["total"], money("50.00", "EUR"));
}

async fn a_deleted_product_stays_in_its_orders(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let plate = product(&app, &admin, "2.50", "EUR", 10).await;
    let order = place_ok(&app, &token, &items(&[(&mug, 1), (&plate, 2)])).await;
    let resp = app.delete(&product_path(&mug), Some(&admin)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&product_path(&mug), None).await, 404).await;

    for token in [&token, &admin] {
        let seen = get_order(&app, token, &order).await;
        assert_eq!(seen, order);
        assert_eq!(seen["items"][0]["sku"], mug["sku"]);
        assert_eq!(seen["items"][0]["name"], mug["name"]);
        assert_eq!(seen["items"][0]["unit_price"], money("19.90", "EUR"));
    }
    let page = list(&app, &token, "").await;
    assert_eq!(list_items(&page)[0], order);
    // The order can still be cancelled: the rest of its stock comes back.
    let cancelled = expect_json(
        cancel(&app, &token, &order).await,
        StatusCode::OK,
        "cancelling an order of a deleted product",
    )
    .await;
    assert_eq!(cancelled["status"], json!("cancelled"));
    assert_eq!(stock_of(&app, &plate).await, 10);
}

// ---- reading and listing -----------------------------------------------------------------

async fn users_list_only_their_own_orders_and_admins_all(app: TestApp) {
    let admin = app.admin_token().await;
    let (alice, alice_token) = app.user_token().await;
    let (bob, bob_token) = app.user_token().await;
    let (_, carol_token) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let a1 = place_ok(&app, &alice_token, &items(&[(&mug, 1)])).await;
    let a2 = place_ok(&app, &alice_token, &items(&[(&mug, 2)])).await;
    let b1 = place_ok(&app, &bob_token, &items(&[(&mug, 3)])).await;

    let page = list(&app, &alice_token, "").await;
    assert_eq!(ids_on(&page), vec![id_of(&a2), id_of(&a1)]);
    assert_eq!(page["total"], json!(2));
    assert!(
        list_items(&page)
            .iter()
            .all(|o| o["user_id"] == alice["id"])
    );
    // Lines are part of each listed order.
    assert_eq!(list_items(&page)[0], a2);
    assert_eq!(list_items(&page)[1], a1);

    let page = list(&app, &bob_token, "").await;
    assert_eq!(ids_on(&page), vec![id_of(&b1)]);
    assert_eq!(list_items(&page)[0], b1);

    let page = list(&app, &carol_token, "").await;
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["total"], json!(0));

    let page = list(&app, &admin, "").await;
    assert_eq!(ids_on(&page), vec![id_of(&b1), id_of(&a2), id_of(&a1)]);
    assert_eq!(page["total"], json!(3));

    // A user asking for someone else's orders never gets them.
    let resp = app
        .get(
            &format!("{ORDERS}?user_id={}", str_of(&bob, "id")),
            Some(&alice_token),
        )
        .await;
    if resp.status() == StatusCode::OK {
        let page: Value = resp.json().await.unwrap();
        assert!(
            list_items(&page)
                .iter()
                .all(|o| o["user_id"] == alice["id"]),
            "a user's list shows another user's orders: {page}"
        );
    } else {
        let status = resp.status().as_u16();
        assert!(
            [403, 404].contains(&status),
            "user_id filter by a user: {status}"
        );
    }
}

async fn admins_filter_orders_by_user_and_status(app: TestApp) {
    let admin = app.admin_token().await;
    let (alice, alice_token) = app.user_token().await;
    let (bob, bob_token) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let a1 = place_ok(&app, &alice_token, &items(&[(&mug, 1)])).await;
    let a2 = place_ok(&app, &alice_token, &items(&[(&mug, 1)])).await;
    let b1 = place_ok(&app, &bob_token, &items(&[(&mug, 1)])).await;
    let resp = set_status(&app, &admin, &a1, "paid").await;
    assert_eq!(resp.status(), StatusCode::OK);

    let alice_id = str_of(&alice, "id");
    let bob_id = str_of(&bob, "id");
    let page = list(&app, &admin, &format!("user_id={alice_id}")).await;
    assert_eq!(ids_on(&page), vec![id_of(&a2), id_of(&a1)]);
    assert_eq!(page["total"], json!(2));
    let page = list(&app, &admin, &format!("user_id={bob_id}")).await;
    assert_eq!(ids_on(&page), vec![id_of(&b1)]);

    let page = list(&app, &admin, "status=pending").await;
    assert_eq!(ids_on(&page), vec![id_of(&b1), id_of(&a2)]);
    let page = list(&app, &admin, "status=paid").await;
    assert_eq!(ids_on(&page), vec![id_of(&a1)]);
    assert_eq!(list_items(&page)[0]["status"], json!("paid"));
    let page = list(&app, &admin, &format!("user_id={alice_id}&status=pending")).await;
    assert_eq!(ids_on(&page), vec![id_of(&a2)]);
    assert_eq!(page["total"], json!(1));

    // A user's own list filters by status too.
    let page = list(&app, &alice_token, "status=paid").await;
    assert_eq!(ids_on(&page), vec![id_of(&a1)]);

    // Filters that match nothing: an empty page, not an error.
    for query in [
        "status=cancelled".to_owned(),
        format!("user_id={}", uuid::Uuid::now_v7()),
        format!("user_id={bob_id}&status=paid"),
    ] {
        let page = list(&app, &admin, &query).await;
        assert_eq!(page["items"], json!([]), "{query}");
        assert_eq!(page["total"], json!(0), "{query}");
    }
}

async fn bad_order_filters_are_refused_naming_them(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    for (query, field) in [
        ("status=bogus", "status"),
        ("status=PENDING", "status"),
        ("user_id=notauuid", "user_id"),
        ("user_id=", "user_id"),
        ("status=", "status"),
        ("status=%20pending", "status"),
        ("page=%201", "page"),
        ("page=0", "page"),
        ("per_page=101", "per_page"),
        ("per_page=abc", "per_page"),
    ] {
        let resp = app.get(&format!("{ORDERS}?{query}"), Some(&admin)).await;
        let fields = assert_invalid(resp).await;
        assert!(
            fields.iter().any(|f| f == field),
            "{query}: expected `{field}`, got {fields:?}"
        );
    }
    let resp = app
        .get(&format!("{ORDERS}?status=bogus"), Some(&token))
        .await;
    assert_invalid_field(resp, "status", "a user's status=bogus").await;
}

async fn order_lists_are_newest_first_and_paged(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "1.00", "EUR", 100).await;
    let mut placed = Vec::new();
    for q in 1..=5 {
        placed.push(id_of(&place_ok(&app, &token, &items(&[(&mug, q)])).await));
    }
    let newest_first: Vec<String> = placed.iter().rev().cloned().collect();

    let page = list(&app, &token, "").await;
    assert_eq!(ids_on(&page), newest_first);
    assert_eq!(page["page"], json!(1));
    assert_eq!(page["per_page"], json!(20));
    assert_eq!(page["total_pages"], json!(1));

    let mut seen = Vec::new();
    for (n, expected_len) in [(1, 2), (2, 2), (3, 1)] {
        let page = list(&app, &token, &format!("page={n}&per_page=2")).await;
        assert_eq!(page["page"], json!(n));
        assert_eq!(page["per_page"], json!(2));
        assert_eq!(page["total"], json!(5));
        assert_eq!(page["total_pages"], json!(3));
        assert_eq!(list_items(&page).len(), expected_len, "page {n}");
        seen.extend(ids_on(&page));
    }
    assert_eq!(seen, newest_first);

    let page = list(&app, &token, "page=4&per_page=2").await;
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["total"], json!(5));
    let page = list(&app, &admin, "page=1&per_page=100").await;
    assert_eq!(ids_on(&page), newest_first);
}

async fn an_order_is_seen_by_its_owner_and_admins_only(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, owner) = app.user_token().await;
    let (_, stranger) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let order = place_ok(&app, &owner, &items(&[(&mug, 1)])).await;

    assert_eq!(get_order(&app, &owner, &order).await, order);
    assert_eq!(get_order(&app, &admin, &order).await, order);

    let hidden = assert_problem(app.get(&order_path(&order), Some(&stranger)).await, 404).await;
    let missing = assert_problem(
        app.get(
            &format!("{ORDERS}/{}", uuid::Uuid::now_v7()),
            Some(&stranger),
        )
        .await,
        404,
    )
    .await;
    assert_eq!(
        comparable(hidden),
        comparable(missing),
        "another user's order must look like a missing one"
    );
    assert_problem(
        app.get(&format!("{ORDERS}/not-a-uuid"), Some(&owner)).await,
        404,
    )
    .await;
    assert_unauthorized(app.get(&order_path(&order), None).await).await;
}

// ---- status changes and cancelling -------------------------------------------------------

/// The largest stock a product may hold.
const MAX_STOCK: i64 = 1_000_000_000;

async fn cancelling_never_lifts_stock_past_its_maximum(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let full = product(&app, &admin, "1.00", "EUR", MAX_STOCK).await;
    let order = place_ok(&app, &token, &items(&[(&full, 1000)])).await;
    assert_eq!(stock_of(&app, &full).await, MAX_STOCK - 1000);
    let resp = app
        .put_json(
            &product_path(&full),
            &json!({"stock": MAX_STOCK}),
            Some(&admin),
        )
        .await;
    expect_json(
        resp,
        StatusCode::OK,
        "setting the stock back to its maximum",
    )
    .await;

    let cancelled = expect_json(
        cancel(&app, &token, &order).await,
        StatusCode::OK,
        "cancelling",
    )
    .await;
    assert_eq!(cancelled["status"], json!("cancelled"));

    // The stock stops at its maximum, and everything that reads the product still works.
    assert_eq!(stock_of(&app, &full).await, MAX_STOCK);
    let name = str_of(&full, "name");
    for path in [
        format!("{PRODUCTS}?per_page=100"),
        format!("{PRODUCTS}?q={}", name.replace(' ', "%20")),
    ] {
        let page = expect_json(app.get(&path, None).await, StatusCode::OK, &path).await;
        assert!(
            list_items(&page).iter().any(|p| p["id"] == full["id"]),
            "GET {path} lists the product: {page}"
        );
    }
    let again = place_ok(&app, &token, &items(&[(&full, 1)])).await;
    assert_eq!(again["status"], json!("pending"));
    let resp = app
        .put_json(
            &product_path(&full),
            &json!({"name": "Renamed"}),
            Some(&admin),
        )
        .await;
    expect_json(resp, StatusCode::OK, "renaming the product").await;
}

const STATUSES: [&str; 5] = ["pending", "paid", "shipped", "delivered", "cancelled"];

fn allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("pending", "paid")
            | ("paid", "shipped")
            | ("shipped", "delivered")
            | ("pending", "cancelled")
            | ("paid", "cancelled")
    )
}

/// The allowed steps from `pending` to `status`.
fn path_to(status: &str) -> &'static [&'static str] {
    match status {
        "pending" => &[],
        "paid" => &["paid"],
        "shipped" => &["paid", "shipped"],
        "delivered" => &["paid", "shipped", "delivered"],
        "cancelled" => &["cancelled"],
        other => panic!("no status {other}"),
    }
}

/// Brings `order` to `status` along allowed edges (each step 200).
async fn bring_to(app: &TestApp, admin: &str, order: &Value, status: &str) {
    for step in path_to(status) {
        let resp = set_status(app, admin, order, step).await;
        let changed = expect_json(resp, StatusCode::OK, &format!("-> {step}")).await;
        assert_eq!(changed["status"], json!(step));
    }
}

async fn only_admins_change_an_orders_status(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, owner) = app.user_token().await;
    let (_, stranger) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let order = place_ok(&app, &owner, &items(&[(&mug, 1)])).await;

    assert_problem(set_status(&app, &owner, &order, "paid").await, 403).await;
    assert_problem(set_status(&app, &stranger, &order, "paid").await, 403).await;
    assert_problem(set_status(&app, &owner, &order, "cancelled").await, 403).await;
    let resp = app
        .put_json(
            &format!("{}/status", order_path(&order)),
            &json!({"status": "paid"}),
            None,
        )
        .await;
    assert_unauthorized(resp).await;
    assert_eq!(
        get_order(&app, &owner, &order).await["status"],
        json!("pending")
    );
    assert_eq!(stock_of(&app, &mug).await, 9);

    let missing = json!({"id": uuid::Uuid::now_v7().to_string()});
    assert_problem(set_status(&app, &admin, &missing, "paid").await, 404).await;

    let resp = set_status(&app, &admin, &order, "paid").await;
    let paid = expect_json(resp, StatusCode::OK, "pending -> paid").await;
    assert_eq!(paid["status"], json!("paid"));
    assert_eq!(paid["id"], order["id"]);
    assert_eq!(paid["items"], order["items"]);
    assert_eq!(paid["created_at"], order["created_at"]);
    assert!(timestamp(&paid["updated_at"]) >= timestamp(&order["updated_at"]));
    assert_eq!(get_order(&app, &owner, &order).await, paid);
}

async fn every_status_change_is_allowed_or_refused_as_the_contract_says(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, owner) = app.user_token().await;
    let mug = product(&app, &admin, "1.00", "EUR", 100).await;
    let mut expected_stock = 100;
    let mut tried = 0;
    for from in STATUSES {
        for to in STATUSES {
            let order = place_ok(&app, &owner, &items(&[(&mug, 2)])).await;
            expected_stock -= 2;
            bring_to(&app, &admin, &order, from).await;
            if from == "cancelled" {
                expected_stock += 2;
            }
            let resp = set_status(&app, &admin, &order, to).await;
            if allowed(from, to) {
                let changed = expect_json(resp, StatusCode::OK, &format!("{from} -> {to}")).await;
                assert_eq!(changed["status"], json!(to), "{from} -> {to}");
                if to == "cancelled" {
                    expected_stock += 2;
                }
            } else {
                let problem = assert_problem(resp, 409).await;
                assert!(problem["detail"].is_string(), "{from} -> {to}: {problem}");
                let now = get_order(&app, &admin, &order).await;
                assert_eq!(now["status"], json!(from), "{from} -> {to} changed it");
            }
            assert_eq!(
                stock_of(&app, &mug).await,
                expected_stock,
                "stock after {from} -> {to}"
            );
            tried += 1;
        }
    }
    assert_eq!(tried, 25);
}

async fn a_status_that_does_not_exist_is_refused(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, owner) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let order = place_ok(&app, &owner, &items(&[(&mug, 1)])).await;
    for status in ["bogus", "", "PAID", "refunded"] {
        assert_invalid_field(
            set_status(&app, &admin, &order, status).await,
            "status",
            &format!("status {status:?}"),
        )
        .await;
    }
    let path = format!("{}/status", order_path(&order));
    for body in [json!({}), json!({"status": 1}), json!({"status": null})] {
        assert_invalid_field(
            app.put_json(&path, &body, Some(&admin)).await,
            "status",
            &body.to_string(),
        )
        .await;
    }
    assert_eq!(
        get_order(&app, &owner, &order).await["status"],
        json!("pending")
    );
}

async fn the_owner_cancels_and_the_stock_comes_back(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, owner) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let plate = product(&app, &admin, "2.50", "EUR", 10).await;
    let order = place_ok(&app, &owner, &items(&[(&mug, 3), (&plate, 4)])).await;
    assert_eq!(stock_of(&app, &mug).await, 7);
    assert_eq!(stock_of(&app, &plate).await, 6);

    let cancelled = expect_json(cancel(&app, &owner, &order).await, StatusCode::OK, "cancel").await;
    assert_eq!(cancelled["status"], json!("cancelled"));
    assert_eq!(cancelled["id"], order["id"]);
    assert_eq!(cancelled["items"], order["items"]);
    assert_eq!(stock_of(&app, &mug).await, 10);
    assert_eq!(stock_of(&app, &plate).await, 10);
    assert_eq!(get_order(&app, &owner, &order).await, cancelled);

    // Once is enough: a second cancel is refused and returns nothing more.
    assert_problem(cancel(&app, &owner, &order).await, 409).await;
    assert_eq!(stock_of(&app, &mug).await, 10);
    assert_eq!(stock_of(&app, &plate).await, 10);
}

async fn nobody_cancels_another_users_order_but_an_admin(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, owner) = app.user_token().await;
    let (_, stranger) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let order = place_ok(&app, &owner, &items(&[(&mug, 2)])).await;

    let hidden = assert_problem(cancel(&app, &stranger, &order).await, 404).await;
    let missing = json!({"id": uuid::Uuid::now_v7().to_string()});
    let nothing = assert_problem(cancel(&app, &stranger, &missing).await, 404).await;
    assert_eq!(comparable(hidden), comparable(nothing));
    let resp = app
        .client
        .post(app.url(&format!("{}/cancel", order_path(&order))))
        .send()
        .await
        .unwrap();
    assert_unauthorized(resp).await;
    assert_eq!(
        get_order(&app, &owner, &order).await["status"],
        json!("pending")
    );
    assert_eq!(stock_of(&app, &mug).await, 8);

    let cancelled = expect_json(
        cancel(&app, &admin, &order).await,
        StatusCode::OK,
        "an admin cancels",
    )
    .await;
    assert_eq!(cancelled["status"], json!("cancelled"));
    assert_eq!(stock_of(&app, &mug).await, 10);
}

async fn an_order_past_cancelling_cannot_be_cancelled(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, owner) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    for status in ["shipped", "delivered", "cancelled"] {
        let order = place_ok(&app, &owner, &items(&[(&mug, 1)])).await;
        bring_to(&app, &admin, &order, status).await;
        let before = stock_of(&app, &mug).await;
        for who in [&owner, &admin] {
            assert_problem(cancel(&app, who, &order).await, 409).await;
            assert_eq!(
                stock_of(&app, &mug).await,
                before,
                "cancelling a {status} order"
            );
            assert_eq!(
                get_order(&app, &owner, &order).await["status"],
                json!(status)
            );
        }
    }
    // One shipped and one delivered order hold a unit each; the cancelled one gave its back.
    assert_eq!(stock_of(&app, &mug).await, 8);
}

async fn a_paid_order_can_still_be_cancelled(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, owner) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let order = place_ok(&app, &owner, &items(&[(&mug, 4)])).await;
    bring_to(&app, &admin, &order, "paid").await;
    assert_eq!(stock_of(&app, &mug).await, 6);
    let cancelled = expect_json(
        cancel(&app, &owner, &order).await,
        StatusCode::OK,
        "cancelling a paid order",
    )
    .await;
    assert_eq!(cancelled["status"], json!("cancelled"));
    assert_eq!(stock_of(&app, &mug).await, 10);
}

async fn cancelling_through_the_status_endpoint_returns_the_stock(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, owner) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    for from in ["pending", "paid"] {
        let order = place_ok(&app, &owner, &items(&[(&mug, 3)])).await;
        bring_to(&app, &admin, &order, from).await;
        assert_eq!(stock_of(&app, &mug).await, 7);
        let resp = set_status(&app, &admin, &order, "cancelled").await;
        let cancelled = expect_json(resp, StatusCode::OK, &format!("{from} -> cancelled")).await;
        assert_eq!(cancelled["status"], json!("cancelled"));
        assert_eq!(stock_of(&app, &mug).await, 10, "after {from} -> cancelled");
        // Neither endpoint gives it back twice.
        assert_problem(set_status(&app, &admin, &order, "cancelled").await, 409).await;
        assert_problem(cancel(&app, &owner, &order).await, 409).await;
        assert_eq!(stock_of(&app, &mug).await, 10);
    }
}

// ---- idempotency keys ----------------------------------------------------------------------

fn replayed(resp: &Response) -> Option<String> {
    resp.headers()
        .get("idempotent-replayed")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn a_repeated_idempotency_key_replays_the_first_order(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let key = format!("key-{}", unique());
    let mut body = items(&[(&mug, 2)]);
    body["shipping_address"] = address();

    let first = place_with_key(&app, &token, &key, &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_ne!(
        replayed(&first).as_deref(),
        Some("true"),
        "the first request is no replay"
    );
    let first_location = first.headers().get(LOCATION).cloned();
    let first: Value = first.json().await.unwrap();

    let second = place_with_key(&app, &token, &key, &body).await;
    assert_eq!(second.status(), StatusCode::CREATED);
    assert_eq!(replayed(&second).as_deref(), Some("true"));
    assert_eq!(second.headers().get(LOCATION).cloned(), first_location);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second, first);

    assert_eq!(stock_of(&app, &mug).await, 8);
    let page = list(&app, &token, "").await;
    assert_eq!(page["total"], json!(1));
    assert_eq!(ids_on(&page), vec![id_of(&first)]);

    // After a cancel, a replay answers the same order as it is now (docs/API.md, "Orders"):
    // cancelled, still one order, and no stock taken again.
    expect_json(cancel(&app, &token, &first).await, StatusCode::OK, "cancel").await;
    let third = place_with_key(&app, &token, &key, &body).await;
    assert_eq!(third.status(), StatusCode::CREATED);
    assert_eq!(replayed(&third).as_deref(), Some("true"));
    let third: Value = third.json().await.unwrap();
    assert_eq!(third["id"], first["id"]);
    assert_eq!(third["status"], json!("cancelled"));
    assert_eq!(stock_of(&app, &mug).await, 10);
    assert_eq!(list(&app, &token, "").await["total"], json!(1));
}

async fn an_idempotency_key_with_another_body_is_a_conflict(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let plate = product(&app, &admin, "2.50", "EUR", 10).await;
    let key = format!("key-{}", unique());
    let first = place_with_key(&app, &token, &key, &items(&[(&mug, 2)])).await;
    let first = expect_json(first, StatusCode::CREATED, "first use of the key").await;

    let mut with_address = items(&[(&mug, 2)]);
    with_address["shipping_address"] = address();
    for other in [
        items(&[(&mug, 3)]),
        items(&[(&plate, 2)]),
        items(&[(&mug, 2), (&plate, 1)]),
        with_address,
    ] {
        assert_problem(place_with_key(&app, &token, &key, &other).await, 409).await;
    }
    assert_eq!(stock_of(&app, &mug).await, 8);
    assert_eq!(stock_of(&app, &plate).await, 10);
    let page = list(&app, &token, "").await;
    assert_eq!(ids_on(&page), vec![id_of(&first)]);
}

async fn idempotency_keys_belong_to_one_user(app: TestApp) {
    let admin = app.admin_token().await;
    let (alice, alice_token) = app.user_token().await;
    let (bob, bob_token) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let key = format!("key-{}", unique());
    let body = items(&[(&mug, 1)]);

    let a = place_with_key(&app, &alice_token, &key, &body).await;
    let a = expect_json(a, StatusCode::CREATED, "alice").await;
    let b = place_with_key(&app, &bob_token, &key, &body).await;
    assert_ne!(replayed(&b).as_deref(), Some("true"));
    let b = expect_json(b, StatusCode::CREATED, "bob, same key").await;
    assert_ne!(a["id"], b["id"]);
    assert_eq!(a["user_id"], alice["id"]);
    assert_eq!(b["user_id"], bob["id"]);
    assert_eq!(stock_of(&app, &mug).await, 8);
    assert_eq!(ids_on(&list(&app, &bob_token, "").await), vec![id_of(&b)]);
    assert_eq!(ids_on(&list(&app, &alice_token, "").await), vec![id_of(&a)]);
    // Bob's other body under the same key is his own conflict, not Alice's.
    let c = place_with_key(&app, &bob_token, &key, &items(&[(&mug, 2)])).await;
    assert_problem(c, 409).await;
}

async fn without_an_idempotency_key_each_request_places_an_order(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let body = items(&[(&mug, 1)]);
    let first = place(&app, Some(&token), &body).await;
    assert_ne!(replayed(&first).as_deref(), Some("true"));
    let first = expect_json(first, StatusCode::CREATED, "first").await;
    let second = place(&app, Some(&token), &body).await;
    assert_ne!(replayed(&second).as_deref(), Some("true"));
    let second = expect_json(second, StatusCode::CREATED, "second").await;
    assert_ne!(first["id"], second["id"]);
    assert_eq!(stock_of(&app, &mug).await, 8);
    assert_eq!(list(&app, &token, "").await["total"], json!(2));
}

async fn a_key_whose_request_failed_can_be_used_again(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 1).await;
    let key = format!("key-{}", unique());
    let body = items(&[(&mug, 2)]);
    assert_problem(place_with_key(&app, &token, &key, &body).await, 409).await;
    assert_eq!(list(&app, &token, "").await["total"], json!(0));

    let resp = app
        .put_json(&product_path(&mug), &json!({"stock": 5}), Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = place_with_key(&app, &token, &key, &body).await;
    assert_ne!(replayed(&resp).as_deref(), Some("true"));
    let order = expect_json(resp, StatusCode::CREATED, "retry after a 409").await;
    assert_eq!(stock_of(&app, &mug).await, 3);
    let again = place_with_key(&app, &token, &key, &body).await;
    assert_eq!(replayed(&again).as_deref(), Some("true"));
    let again = expect_json(again, StatusCode::CREATED, "replay").await;
    assert_eq!(again["id"], order["id"]);
    assert_eq!(stock_of(&app, &mug).await, 3);
}

// ---- variants --------------------------------------------------------------------------------

/// An order body of `(variant id, quantity)` lines.
fn variant_items(lines: &[(&Value, i64)]) -> Value {
    json!({
        "items": lines
            .iter()
            .map(|(v, q)| json!({"variant_id": v, "quantity": q}))
            .collect::<Vec<_>>()
    })
}

/// The one variant of `product`, as the product shows it.
fn only_variant(product: &Value) -> &Value {
    let variants = product["variants"]
        .as_array()
        .unwrap_or_else(|| panic!("no `variants` in {product}"));
    assert_eq!(variants.len(), 1, "{product}");
    &variants[0]
}

async fn an_order_names_a_variant_or_a_product_of_one_and_its_lines_name_the_variant(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "19.90", "EUR", 10).await;
    let plate = product(&app, &admin, "2.50", "EUR", 5).await;
    let mug_variant = only_variant(&mug)["id"].clone();
    let plate_variant = only_variant(&plate)["id"].clone();

    let body = json!({"items": [
        {"variant_id": mug_variant, "quantity": 2},
        {"product_id": plate["id"], "quantity": 1},
    ]});
    let order = place_ok(&app, &token, &body).await;
    let lines = list_items_of(&order);
    assert_eq!(lines.len(), 2, "{order}");
    assert_eq!(
        (
            &lines[0]["product_id"],
            &lines[0]["variant_id"],
            &lines[0]["variant_title"]
        ),
        (&mug["id"], &mug_variant, &json!("Default Title"))
    );
    assert_eq!(
        (
            &lines[1]["product_id"],
            &lines[1]["variant_id"],
            &lines[1]["variant_title"]
        ),
        (&plate["id"], &plate_variant, &json!("Default Title"))
    );
    assert_eq!(lines[0]["sku"], only_variant(&mug)["sku"]);
    assert_eq!(order["total"], money("42.30", "EUR"));
    assert_eq!(get_order(&app, &token, &order).await, order);

    // The variant and its product read the stock taken.
    let mug_now = app.get_json(&product_path(&mug), None).await;
    assert_eq!(only_variant(&mug_now)["stock"], json!(8));
    assert_eq!(mug_now["stock"], json!(8));
    assert_eq!(stock_of(&app, &plate).await, 4);

    // The same variant by id and through its product is one line.
    let body = json!({"items": [
        {"variant_id": mug_variant, "quantity": 1},
        {"product_id": mug["id"], "quantity": 2},
    ]});
    let order = place_ok(&app, &token, &body).await;
    let lines = list_items_of(&order);
    assert_eq!(lines.len(), 1, "{order}");
    assert_eq!(lines[0]["quantity"], json!(3));
    assert_eq!(lines[0]["variant_id"], mug_variant);
    assert_eq!(stock_of(&app, &mug).await, 5);
}

fn list_items_of(order: &Value) -> &Vec<Value> {
    order["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no `items` in {order}"))
}

async fn a_line_names_exactly_one_of_variant_and_product(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "1.00", "EUR", 10).await;
    let variant = only_variant(&mug)["id"].clone();
    for line in [
        json!({"variant_id": variant, "product_id": mug["id"], "quantity": 1}),
        json!({"quantity": 1}),
    ] {
        let body = json!({"items": [{"product_id": mug["id"], "quantity": 1}, line]});
        let fields = assert_invalid(place(&app, Some(&token), &body).await).await;
        assert_eq!(
            fields,
            ["items[1].variant_id", "items[1].product_id"],
            "{body}"
        );
    }
    assert_eq!(stock_of(&app, &mug).await, 10);
}

async fn an_unknown_variant_is_refused_naming_the_line(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "1.00", "EUR", 10).await;
    let body = variant_items(&[
        (&only_variant(&mug)["id"], 1),
        (&json!(uuid::Uuid::now_v7()), 1),
    ]);
    let fields = assert_invalid(place(&app, Some(&token), &body).await).await;
    assert_eq!(fields, ["items[1].variant_id"]);
    // A deleted product's variant is unknown too.
    let gone = product(&app, &admin, "1.00", "EUR", 10).await;
    let resp = app.delete(&product_path(&gone), Some(&admin)).await;
    assert!(resp.status().is_success(), "{}", resp.status());
    let body = variant_items(&[(&only_variant(&gone)["id"], 1)]);
    let fields = assert_invalid(place(&app, Some(&token), &body).await).await;
    assert_eq!(fields, ["items[0].variant_id"]);
    assert_eq!(stock_of(&app, &mug).await, 10);
}

async fn cancelling_returns_the_stock_to_the_variant(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "1.00", "EUR", 10).await;
    let variant = only_variant(&mug)["id"].clone();
    let order = place_ok(&app, &token, &variant_items(&[(&variant, 4)])).await;
    let mug_now = app.get_json(&product_path(&mug), None).await;
    assert_eq!(only_variant(&mug_now)["stock"], json!(6));
    let resp = cancel(&app, &token, &order).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mug_now = app.get_json(&product_path(&mug), None).await;
    assert_eq!(only_variant(&mug_now)["stock"], json!(10));
    assert_eq!(mug_now["stock"], json!(10));
}

async fn not_enough_stock_names_the_variant(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let mug = product(&app, &admin, "1.00", "EUR", 2).await;
    let variant = str_of(only_variant(&mug), "id");
    let body = variant_items(&[(&json!(variant), 3)]);
    let problem = assert_problem(place(&app, Some(&token), &body).await, 409).await;
    let detail = str_of(&problem, "detail");
    assert!(
        detail.contains(&format!("variant {variant}")),
        "the 409 does not name the variant: {problem}"
    );
    assert_eq!(stock_of(&app, &mug).await, 2);
}
