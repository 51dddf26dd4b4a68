//! Carts through HTTP: a guest's cart reached only with its token, a customer's only by its
//! owner (another customer, an admin, or a guest get 404); lines by variant or product at
//! today's prices; details set and cleared; each bad input a 422 naming its field; claiming;
//! and the worked totals examples (EUR with a rounding percentage, free shipping over a
//! threshold, tax by state, JPY).

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_invalid, assert_problem, assert_unauthorized, location, str_of, unique,
};

both_dbs!(
    a_guest_cart_is_reached_only_with_its_token_and_fills_by_variant,
    a_customers_cart_is_theirs_alone,
    every_bad_input_is_a_422_naming_its_field,
    a_guest_cart_is_claimed_by_a_signed_in_user_with_its_token,
    a_cart_shows_todays_prices,
    totals_in_euros_with_a_rounding_discount_free_shipping_and_tax,
    totals_in_yen_and_tax_by_state,
    shipping_options_of_a_cart_follow_its_address_and_subtotal,
    details_are_set_checked_and_cleared,
);

const CARTS: &str = "/api/v1/carts";

/// Sends a request with an optional bearer token and an optional `X-Cart-Token`.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<&Value>,
    bearer: Option<&str>,
    cart_token: Option<&str>,
) -> Response {
    let mut req = app.client.request(method, app.url(path));
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    if let Some(t) = cart_token {
        req = req.header("X-Cart-Token", t);
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

/// A new guest cart (201) and its token.
async fn guest_cart(app: &TestApp, body: &Value) -> (Value, String) {
    let resp = send(app, Method::POST, CARTS, Some(body), None, None).await;
    let cart = json_of(resp, StatusCode::CREATED).await;
    let token = str_of(&cart, "token");
    (cart, token)
}

fn cart_path(cart: &Value) -> String {
    format!("{CARTS}/{}", str_of(cart, "id"))
}

async fn add(app: &TestApp, cart: &Value, token: &str, item: Value) -> Response {
    let path = format!("{}/items", cart_path(cart));
    send(app, Method::POST, &path, Some(&item), None, Some(token)).await
}

async fn put_cart(app: &TestApp, cart: &Value, token: &str, body: Value) -> Response {
    send(
        app,
        Method::PUT,
        &cart_path(cart),
        Some(&body),
        None,
        Some(token),
    )
    .await
}

fn money(amount: &str, currency: &str) -> Value {
    json!({"amount": amount, "currency": currency})
}

fn totals(cart: &Value) -> Value {
    json!({
        "subtotal": cart["subtotal"],
        "discount": cart["discount"]["amount"],
        "shipping": cart["shipping"]["amount"],
        "tax_total": cart["tax_total"],
        "total": cart["total"],
    })
}

fn address(country: &str, state: Option<&str>) -> Value {
    json!({"line1": "Main St 1", "city": "Town", "postal_code": "12345", "country": country, "state": state})
}

async fn admin_post(app: &TestApp, admin: &str, path: &str, body: Value) -> Value {
    let resp = app.post_json(path, &body, Some(admin)).await;
    json_of(resp, StatusCode::CREATED).await
}

async fn a_guest_cart_is_reached_only_with_its_token_and_fills_by_variant(app: TestApp) {
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, &format!("MUG-{}", unique()))
        .await;
    let variant_id = str_of(&product["variants"][0], "id");

    let resp = send(&app, Method::POST, CARTS, Some(&json!({})), None, None).await;
    let where_ = location(&resp);
    let cart = json_of(resp, StatusCode::CREATED).await;
    assert_eq!(where_, cart_path(&cart));
    let token = str_of(&cart, "token");
    assert!(token.len() >= 43, "a token of 32 random bytes: {token}");
    assert_eq!(cart["user_id"], Value::Null);
    assert_eq!(cart["status"], "open");
    assert_eq!(cart["currency"], "EUR");
    assert_eq!(cart["items"], json!([]));
    assert_eq!(cart["subtotal"], money("0.00", "EUR"));
    assert_eq!(cart["total"], money("0.00", "EUR"));
    assert_eq!(cart["discount"], Value::Null);
    assert_eq!(cart["shipping"], Value::Null);
    assert!(cart["expires_at"].as_str().unwrap() > cart["created_at"].as_str().unwrap());

    // Without the token, with a wrong one, with a bearer token: 404, like a cart that is not.
    let path = cart_path(&cart);
    let (_, user) = app.user_token().await;
    for (bearer, t) in [
        (None, None),
        (None, Some("wrong")),
        (Some(user.as_str()), None),
        (Some(admin.as_str()), None),
        (None, Some(&token[..token.len() - 1])),
    ] {
        let resp = send(&app, Method::GET, &path, None, bearer, t).await;
        assert_problem(resp, 404).await;
        let resp = add(
            &app,
            &cart,
            t.unwrap_or(""),
            json!({"variant_id": variant_id, "quantity": 1}),
        )
        .await;
        assert_problem(resp, 404).await;
    }
    let missing = format!("{CARTS}/{}", uuid::Uuid::now_v7());
    assert_problem(
        send(&app, Method::GET, &missing, None, None, Some(&token)).await,
        404,
    )
    .await;
    assert_problem(
        send(
            &app,
            Method::GET,
            &format!("{CARTS}/not-an-id"),
            None,
            None,
            Some(&token),
        )
        .await,
        404,
    )
    .await;

    let got = json_of(
        send(&app, Method::GET, &path, None, None, Some(&token)).await,
        StatusCode::OK,
    )
    .await;
    assert!(got.get("token").is_none(), "the token is shown once: {got}");
    assert_eq!(got["id"], cart["id"]);

    // By variant, then the same variant by its product: one line, summed.
    let c = json_of(
        add(
            &app,
            &cart,
            &token,
            json!({"variant_id": variant_id, "quantity": 2}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let c2 = json_of(
        add(
            &app,
            &cart,
            &token,
            json!({"product_id": product["id"], "quantity": 3}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(c2["items"].as_array().unwrap().len(), 1);
    let line = &c2["items"][0];
    assert_eq!(line["id"], c["items"][0]["id"]);
    assert_eq!(
        json!({"product_id": line["product_id"], "variant_id": line["variant_id"], "sku": line["sku"],
               "name": line["name"], "variant_title": line["variant_title"], "unit_price": line["unit_price"],
               "quantity": line["quantity"], "line_total": line["line_total"], "in_stock": line["in_stock"]}),
        json!({"product_id": product["id"], "variant_id": variant_id, "sku": product["sku"],
               "name": product["name"], "variant_title": "Default Title", "unit_price": money("19.90", "EUR"),
               "quantity": 5, "line_total": money("99.50", "EUR"), "in_stock": true})
    );
    assert_eq!(c2["subtotal"], money("99.50", "EUR"));
    assert_eq!(c2["total"], money("99.50", "EUR"));

    // More than the 10 in stock: still in the cart, but not in stock.
    let item_path = format!("{path}/items/{}", str_of(line, "id"));
    let c3 = json_of(
        send(
            &app,
            Method::PUT,
            &item_path,
            Some(&json!({"quantity": 11})),
            None,
            Some(&token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(c3["items"][0]["quantity"], 11);
    assert_eq!(c3["items"][0]["in_stock"], false);
    // Another cart's token does not open this cart's lines.
    let (_, other_token) = guest_cart(&app, &json!({})).await;
    assert_problem(
        send(
            &app,
            Method::PUT,
            &item_path,
            Some(&json!({"quantity": 1})),
            None,
            Some(&other_token),
        )
        .await,
        404,
    )
    .await;
    assert_problem(
        send(
            &app,
            Method::DELETE,
            &item_path,
            None,
            None,
            Some(&other_token),
        )
        .await,
        404,
    )
    .await;
    // 0 removes the line; then it is gone (404).
    let c4 = json_of(
        send(
            &app,
            Method::PUT,
            &item_path,
            Some(&json!({"quantity": 0})),
            None,
            Some(&token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(c4["items"], json!([]));
    assert_problem(
        send(&app, Method::DELETE, &item_path, None, None, Some(&token)).await,
        404,
    )
    .await;
    // DELETE removes a line.
    let c5 = json_of(
        add(
            &app,
            &cart,
            &token,
            json!({"variant_id": variant_id, "quantity": 1}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let item_path = format!("{path}/items/{}", str_of(&c5["items"][0], "id"));
    let c6 = json_of(
        send(&app, Method::DELETE, &item_path, None, None, Some(&token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(c6["items"], json!([]));
    assert_eq!(c6["subtotal"], money("0.00", "EUR"));
    assert!(c6["updated_at"].as_str().unwrap() >= c5["updated_at"].as_str().unwrap());
}

async fn a_customers_cart_is_theirs_alone(app: TestApp) {
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, &format!("MUG-{}", unique()))
        .await;
    let (me, mine) = app.user_token().await;
    let (_, theirs) = app.user_token().await;
    let resp = send(
        &app,
        Method::POST,
        CARTS,
        Some(&json!({"currency": "EUR", "email": "Me@Example.com"})),
        Some(&mine),
        None,
    )
    .await;
    let cart = json_of(resp, StatusCode::CREATED).await;
    assert!(
        cart.get("token").is_none(),
        "a customer's cart has no token: {cart}"
    );
    assert_eq!(cart["user_id"], me["id"]);
    assert_eq!(cart["email"], "me@example.com");
    let path = cart_path(&cart);
    let item = json!({"product_id": product["id"], "quantity": 1});
    let items = format!("{path}/items");
    let options = format!("{path}/shipping-options");
    // Another customer, an admin, nobody, any cart token: 404 on every route.
    for bearer in [Some(theirs.as_str()), Some(admin.as_str()), None] {
        for t in [None, Some("anything")] {
            assert_problem(send(&app, Method::GET, &path, None, bearer, t).await, 404).await;
            assert_problem(
                send(
                    &app,
                    Method::PUT,
                    &path,
                    Some(&json!({"email": null})),
                    bearer,
                    t,
                )
                .await,
                404,
            )
            .await;
            assert_problem(
                send(&app, Method::POST, &items, Some(&item), bearer, t).await,
                404,
            )
            .await;
            assert_problem(
                send(&app, Method::GET, &options, None, bearer, t).await,
                404,
            )
            .await;
        }
    }
    let c = json_of(
        send(&app, Method::POST, &items, Some(&item), Some(&mine), None).await,
        StatusCode::OK,
    )
    .await;
    let item_path = format!("{path}/items/{}", str_of(&c["items"][0], "id"));
    for bearer in [Some(theirs.as_str()), Some(admin.as_str()), None] {
        assert_problem(
            send(
                &app,
                Method::PUT,
                &item_path,
                Some(&json!({"quantity": 2})),
                bearer,
                None,
            )
            .await,
            404,
        )
        .await;
        assert_problem(
            send(&app, Method::DELETE, &item_path, None, bearer, None).await,
            404,
        )
        .await;
    }
    let got = json_of(
        send(&app, Method::GET, &path, None, Some(&mine), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["items"][0]["quantity"], 1);
    assert_eq!(got["email"], "me@example.com");
}

async fn every_bad_input_is_a_422_naming_its_field(app: TestApp) {
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, &format!("MUG-{}", unique()))
        .await;
    let yen = app
        .create_product_priced(&admin, &format!("YEN-{}", unique()), "500", "JPY", 5)
        .await;
    let draft = app
        .create_product_with(&admin, &json!({"sku": format!("D-{}", unique()), "name": "Draft", "price": money("1.00", "EUR"), "stock": 1, "status": "draft"}))
        .await;
    let sized = app
        .create_product_with(&admin, &json!({
            "name": "Tee",
            "options": [{"name": "Size", "values": ["S", "M"]}],
            "variants": [
                {"sku": format!("TEE-S-{}", unique()), "option_values": {"Size": "S"}, "price": money("10.00", "EUR"), "stock": 1},
                {"sku": format!("TEE-M-{}", unique()), "option_values": {"Size": "M"}, "price": money("10.00", "EUR"), "stock": 1},
            ],
        }))
        .await;

    for (body, field) in [
        (json!({"currency": "XXX"}), "currency"),
        (json!({"currency": "eur?"}), "currency"),
        (json!({"email": "not-an-address"}), "email"),
    ] {
        let resp = send(&app, Method::POST, CARTS, Some(&body), None, None).await;
        assert_eq!(assert_invalid(resp).await, vec![field], "{body}");
    }
    let resp = send(
        &app,
        Method::POST,
        CARTS,
        Some(&json!({"currency": 5})),
        None,
        None,
    )
    .await;
    assert_problem(resp, 422).await;
    let resp = app
        .client
        .post(app.url(CARTS))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_problem(resp, 400).await;

    let (cart, token) = guest_cart(&app, &json!({})).await;
    let id = &product["id"];
    let unknown = uuid::Uuid::now_v7().to_string();
    for (item, fields) in [
        (json!({"product_id": id, "quantity": 0}), vec!["quantity"]),
        (
            json!({"product_id": id, "quantity": 1001}),
            vec!["quantity"],
        ),
        (json!({"product_id": id, "quantity": -1}), vec!["quantity"]),
        (json!({"quantity": 1}), vec!["variant_id", "product_id"]),
        (
            json!({"product_id": id, "variant_id": id, "quantity": 1}),
            vec!["variant_id", "product_id"],
        ),
        (
            json!({"variant_id": unknown, "quantity": 1}),
            vec!["variant_id"],
        ),
        (
            json!({"product_id": unknown, "quantity": 1}),
            vec!["product_id"],
        ),
        (
            json!({"product_id": yen["id"], "quantity": 1}),
            vec!["product_id"],
        ),
        (
            json!({"product_id": draft["id"], "quantity": 1}),
            vec!["product_id"],
        ),
        (
            json!({"product_id": sized["id"], "quantity": 1}),
            vec!["variant_id"],
        ),
    ] {
        let resp = add(&app, &cart, &token, item.clone()).await;
        assert_eq!(assert_invalid(resp).await, fields, "{item}");
    }
    let resp = add(
        &app,
        &cart,
        &token,
        json!({"product_id": id, "quantity": "1"}),
    )
    .await;
    assert_problem(resp, 422).await;
    // A line's sum past 1000.
    let c = json_of(
        add(
            &app,
            &cart,
            &token,
            json!({"product_id": id, "quantity": 600}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let resp = add(
        &app,
        &cart,
        &token,
        json!({"product_id": id, "quantity": 401}),
    )
    .await;
    assert_eq!(assert_invalid(resp).await, vec!["quantity"]);
    let item_path = format!(
        "{}/items/{}",
        cart_path(&cart),
        str_of(&c["items"][0], "id")
    );
    for q in [-1, 1001] {
        let resp = send(
            &app,
            Method::PUT,
            &item_path,
            Some(&json!({"quantity": q})),
            None,
            Some(&token),
        )
        .await;
        assert_eq!(assert_invalid(resp).await, vec!["quantity"]);
    }
    let resp = send(
        &app,
        Method::PUT,
        &format!("{}/items/{unknown}", cart_path(&cart)),
        Some(&json!({"quantity": 1})),
        None,
        Some(&token),
    )
    .await;
    assert_problem(resp, 404).await;
    // The variants of a product of several are added by variant_id.
    let v = &sized["variants"][1];
    let c = json_of(
        add(
            &app,
            &cart,
            &token,
            json!({"variant_id": v["id"], "quantity": 1}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(c["items"][1]["variant_title"], "M");

    for (body, fields) in [
        (json!({"email": "nope"}), vec!["email"]),
        (
            json!({"shipping_address": address("XX", None)}),
            vec!["shipping_address.country"],
        ),
        (
            json!({"shipping_address": {"line1": " ", "city": "T", "postal_code": "1", "country": "DE"}}),
            vec!["shipping_address.line1"],
        ),
        (json!({"discount_code": "NO SUCH"}), vec!["discount_code"]),
        (
            json!({"discount_code": "UNKNOWN-CODE"}),
            vec!["discount_code"],
        ),
        (
            json!({"shipping_option_id": unknown}),
            vec!["shipping_option_id"],
        ),
        (
            json!({"email": "nope", "discount_code": "  "}),
            vec!["email", "discount_code"],
        ),
    ] {
        let resp = put_cart(&app, &cart, &token, body.clone()).await;
        assert_eq!(assert_invalid(resp).await, fields, "{body}");
    }
    // Nothing of a refused change was kept.
    let got = json_of(
        send(
            &app,
            Method::GET,
            &cart_path(&cart),
            None,
            None,
            Some(&token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (got["email"].clone(), got["shipping_address"].clone()),
        (Value::Null, Value::Null)
    );
}

async fn a_guest_cart_is_claimed_by_a_signed_in_user_with_its_token(app: TestApp) {
    let (me, mine) = app.user_token().await;
    let (_, theirs) = app.user_token().await;
    let (cart, token) = guest_cart(&app, &json!({})).await;
    let claim = format!("{}/claim", cart_path(&cart));
    assert_unauthorized(send(&app, Method::POST, &claim, None, None, Some(&token)).await).await;
    assert_problem(
        send(&app, Method::POST, &claim, None, Some(&mine), None).await,
        404,
    )
    .await;
    assert_problem(
        send(&app, Method::POST, &claim, None, Some(&mine), Some("wrong")).await,
        404,
    )
    .await;
    let claimed = json_of(
        send(&app, Method::POST, &claim, None, Some(&mine), Some(&token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(claimed["user_id"], me["id"]);
    // Now the user's: the token no longer opens it, another user cannot take it.
    assert_problem(
        send(
            &app,
            Method::GET,
            &cart_path(&cart),
            None,
            None,
            Some(&token),
        )
        .await,
        404,
    )
    .await;
    assert_problem(
        send(
            &app,
            Method::POST,
            &claim,
            None,
            Some(&theirs),
            Some(&token),
        )
        .await,
        404,
    )
    .await;
    let again = json_of(
        send(&app, Method::POST, &claim, None, Some(&mine), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["user_id"], me["id"]);
    let got = json_of(
        send(
            &app,
            Method::GET,
            &cart_path(&cart),
            None,
            Some(&mine),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["user_id"], me["id"]);
    let missing = format!("{CARTS}/{}/claim", uuid::Uuid::now_v7());
    assert_problem(
        send(
            &app,
            Method::POST,
            &missing,
            None,
            Some(&mine),
            Some(&token),
        )
        .await,
        404,
    )
    .await;
}

async fn a_cart_shows_todays_prices(app: TestApp) {
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, &format!("MUG-{}", unique()))
        .await;
    let (cart, token) = guest_cart(&app, &json!({})).await;
    let c = json_of(
        add(
            &app,
            &cart,
            &token,
            json!({"product_id": product["id"], "quantity": 2}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(c["total"], money("39.80", "EUR"));
    let path = format!("/api/v1/products/{}", str_of(&product, "id"));
    let resp = app
        .put_json(
            &path,
            &json!({"price": money("21.05", "EUR")}),
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let got = json_of(
        send(
            &app,
            Method::GET,
            &cart_path(&cart),
            None,
            None,
            Some(&token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["items"][0]["unit_price"], money("21.05", "EUR"));
    assert_eq!(got["items"][0]["line_total"], money("42.10", "EUR"));
    assert_eq!(got["total"], money("42.10", "EUR"));
    // Archived: shown, but not for sale.
    let resp = app
        .put_json(&path, &json!({"status": "archived"}), Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let got = json_of(
        send(
            &app,
            Method::GET,
            &cart_path(&cart),
            None,
            None,
            Some(&token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["items"][0]["in_stock"], false);
}

async fn totals_in_euros_with_a_rounding_discount_free_shipping_and_tax(app: TestApp) {
    let admin = app.admin_token().await;
    let product = app
        .create_product_priced(&admin, &format!("MUG-{}", unique()), "17.91", "EUR", 10)
        .await;
    let code = format!("TEN-{}", unique());
    admin_post(
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

    let (cart, token) = guest_cart(&app, &json!({})).await;
    add(
        &app,
        &cart,
        &token,
        json!({"product_id": product["id"], "quantity": 3}),
    )
    .await;
    // 3 × 17.91 = 53.73; 10 % = 5.373 → 5.37; 48.36 is under 50: shipping 4.90; tax 19 % of
    // 53.26 = 10.1194 → 10.12; total 63.38.
    let c = json_of(put_cart(&app, &cart, &token, json!({"shipping_address": address("de", None), "shipping_option_id": option["id"], "discount_code": code.to_lowercase()})).await, StatusCode::OK).await;
    assert_eq!(c["discount"]["code"], code.to_lowercase());
    assert_eq!(
        c["shipping"],
        json!({"option_id": option["id"], "name": "Standard", "amount": money("4.90", "EUR")})
    );
    assert_eq!(
        totals(&c),
        json!({"subtotal": money("53.73", "EUR"), "discount": money("5.37", "EUR"), "shipping": money("4.90", "EUR"), "tax_total": money("10.12", "EUR"), "total": money("63.38", "EUR")})
    );
    // One more: 71.64; 7.164 → 7.16; 64.48 reaches 50: free shipping; 19 % of 64.48 = 12.2512
    // → 12.25; total 76.73.
    let c = json_of(
        add(
            &app,
            &cart,
            &token,
            json!({"product_id": product["id"], "quantity": 1}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        totals(&c),
        json!({"subtotal": money("71.64", "EUR"), "discount": money("7.16", "EUR"), "shipping": money("0.00", "EUR"), "tax_total": money("12.25", "EUR"), "total": money("76.73", "EUR")})
    );
    // Clearing the code: no discount; 71.64 + 13.6116 → 13.61 = 85.25.
    let c = json_of(
        put_cart(&app, &cart, &token, json!({"discount_code": null})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(c["discount"], Value::Null);
    assert_eq!(
        totals(&c),
        json!({"subtotal": money("71.64", "EUR"), "discount": Value::Null, "shipping": money("0.00", "EUR"), "tax_total": money("13.61", "EUR"), "total": money("85.25", "EUR")})
    );
}

async fn totals_in_yen_and_tax_by_state(app: TestApp) {
    let admin = app.admin_token().await;
    let yen = app
        .create_product_priced(&admin, &format!("YEN-{}", unique()), "1234", "JPY", 10)
        .await;
    let ship = admin_post(
        &app,
        &admin,
        "/api/v1/shipping-options",
        json!({"name": "Yamato", "countries": ["JP"], "price": money("500", "JPY")}),
    )
    .await;
    admin_post(
        &app,
        &admin,
        "/api/v1/tax-rates",
        json!({"country": "JP", "rate": "10", "name": "Consumption"}),
    )
    .await;
    let (cart, token) = guest_cart(&app, &json!({"currency": "JPY"})).await;
    add(
        &app,
        &cart,
        &token,
        json!({"product_id": yen["id"], "quantity": 1}),
    )
    .await;
    // 1234 + 500 = 1734; 10 % = 173.4 → 173; total 1907, no minor digits.
    let c = json_of(
        put_cart(
            &app,
            &cart,
            &token,
            json!({"shipping_address": address("JP", None), "shipping_option_id": ship["id"]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        totals(&c),
        json!({"subtotal": money("1234", "JPY"), "discount": Value::Null, "shipping": money("500", "JPY"), "tax_total": money("173", "JPY"), "total": money("1907", "JPY")})
    );

    let usd = app
        .create_product_priced(&admin, &format!("USD-{}", unique()), "10.00", "USD", 10)
        .await;
    admin_post(
        &app,
        &admin,
        "/api/v1/tax-rates",
        json!({"country": "US", "rate": "5", "name": "Federal-ish"}),
    )
    .await;
    admin_post(
        &app,
        &admin,
        "/api/v1/tax-rates",
        json!({"country": "US", "state": "CA", "rate": "7.25", "name": "California"}),
    )
    .await;
    let (cart, token) = guest_cart(&app, &json!({"currency": "USD"})).await;
    add(
        &app,
        &cart,
        &token,
        json!({"product_id": usd["id"], "quantity": 1}),
    )
    .await;
    // The state's rate wins (compared without case): 7.25 % of 10.00 = 0.725 → 0.73.
    let c = json_of(
        put_cart(
            &app,
            &cart,
            &token,
            json!({"shipping_address": address("US", Some("ca"))}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (c["tax_total"].clone(), c["total"].clone()),
        (money("0.73", "USD"), money("10.73", "USD"))
    );
    // Another state: the country's rate.
    let c = json_of(
        put_cart(
            &app,
            &cart,
            &token,
            json!({"shipping_address": address("US", Some("NY"))}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (c["tax_total"].clone(), c["total"].clone()),
        (money("0.50", "USD"), money("10.50", "USD"))
    );
    // No address: no tax.
    let c = json_of(
        put_cart(&app, &cart, &token, json!({"shipping_address": null})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (c["tax_total"].clone(), c["total"].clone()),
        (money("0.00", "USD"), money("10.00", "USD"))
    );
}

async fn shipping_options_of_a_cart_follow_its_address_and_subtotal(app: TestApp) {
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, &format!("MUG-{}", unique()))
        .await;
    let standard = admin_post(&app, &admin, "/api/v1/shipping-options", json!({"name": "Standard", "countries": ["DE", "AT"], "price": money("4.90", "EUR"), "free_over": money("30.00", "EUR")})).await;
    let express = admin_post(
        &app,
        &admin,
        "/api/v1/shipping-options",
        json!({"name": "Express", "countries": ["DE"], "price": money("9.90", "EUR")}),
    )
    .await;
    admin_post(
        &app,
        &admin,
        "/api/v1/shipping-options",
        json!({"name": "Off", "countries": ["DE"], "price": money("1.00", "EUR"), "active": false}),
    )
    .await;
    admin_post(
        &app,
        &admin,
        "/api/v1/shipping-options",
        json!({"name": "France", "countries": ["FR"], "price": money("1.00", "EUR")}),
    )
    .await;
    let (cart, token) = guest_cart(&app, &json!({})).await;
    let options = format!("{}/shipping-options", cart_path(&cart));
    let list = json_of(
        send(&app, Method::GET, &options, None, None, Some(&token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list, json!({"items": []}), "no address, no options");
    put_cart(
        &app,
        &cart,
        &token,
        json!({"shipping_address": address("DE", None)}),
    )
    .await;
    add(
        &app,
        &cart,
        &token,
        json!({"product_id": product["id"], "quantity": 1}),
    )
    .await;
    let list = json_of(
        send(&app, Method::GET, &options, None, None, Some(&token)).await,
        StatusCode::OK,
    )
    .await;
    let seen: Vec<(Value, Value)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["id"].clone(), o["amount"].clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (standard["id"].clone(), money("4.90", "EUR")),
            (express["id"].clone(), money("9.90", "EUR"))
        ]
    );
    add(
        &app,
        &cart,
        &token,
        json!({"product_id": product["id"], "quantity": 1}),
    )
    .await;
    let list = json_of(
        send(&app, Method::GET, &options, None, None, Some(&token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        list["items"][0]["amount"],
        money("0.00", "EUR"),
        "39.80 is over 30.00: free"
    );
    assert_eq!(list["items"][0]["free_over"], money("30.00", "EUR"));
    // An option that does not ship to the address is refused; choosing one, then moving to a
    // country it does not serve, clears it.
    let c = json_of(
        put_cart(
            &app,
            &cart,
            &token,
            json!({"shipping_option_id": express["id"]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(c["shipping"]["amount"], money("9.90", "EUR"));
    assert_eq!(c["total"], money("49.70", "EUR"));
    let c = json_of(
        put_cart(
            &app,
            &cart,
            &token,
            json!({"shipping_address": address("AT", None)}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(c["shipping"], Value::Null);
    let resp = put_cart(
        &app,
        &cart,
        &token,
        json!({"shipping_option_id": express["id"]}),
    )
    .await;
    assert_eq!(assert_invalid(resp).await, vec!["shipping_option_id"]);
    let c = json_of(
        put_cart(
            &app,
            &cart,
            &token,
            json!({"shipping_option_id": standard["id"]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(c["shipping"]["name"], "Standard");
}

async fn details_are_set_checked_and_cleared(app: TestApp) {
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, &format!("MUG-{}", unique()))
        .await;
    let now = chrono::Utc::now();
    let later = (now + chrono::TimeDelta::days(10)).to_rfc3339();
    let earlier = (now - chrono::TimeDelta::days(10)).to_rfc3339();
    let u = unique();
    let codes = [
        (format!("OFF-{u}"), json!({"active": false}), "inactive"),
        (format!("SOON-{u}"), json!({"starts_at": later}), "not yet"),
        (format!("OVER-{u}"), json!({"ends_at": earlier}), "ended"),
        (
            format!("MIN-{u}"),
            json!({"min_subtotal": money("100.00", "EUR")}),
            "minimum",
        ),
        (format!("GONE-{u}"), json!({"usage_limit": 0}), "used up"),
    ];
    for (code, extra, _) in &codes {
        let mut body =
            json!({"code": code, "kind": "fixed", "value": "5", "currency": "EUR", "active": true});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let resp = app
            .post_json("/api/v1/promotions", &body, Some(&admin))
            .await;
        let status = resp.status();
        if status != StatusCode::CREATED {
            // A limit of 0 may itself be refused; then there is nothing to use up here.
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        }
    }
    let (cart, token) = guest_cart(&app, &json!({})).await;
    add(
        &app,
        &cart,
        &token,
        json!({"product_id": product["id"], "quantity": 1}),
    )
    .await;
    for (code, _, why) in &codes {
        let resp = put_cart(&app, &cart, &token, json!({"discount_code": code})).await;
        let body = assert_problem(resp, 422).await;
        assert_eq!(body["errors"][0]["field"], "discount_code", "{why}: {body}");
    }
    let c = json_of(put_cart(&app, &cart, &token, json!({"email": "Guest@Example.com", "shipping_address": address("DE", Some(" Berlin "))})).await, StatusCode::OK).await;
    assert_eq!(c["email"], "guest@example.com");
    assert_eq!(c["shipping_address"]["country"], "DE");
    assert_eq!(c["shipping_address"]["state"], "Berlin");
    // An absent field stays; null clears.
    let c = json_of(
        put_cart(&app, &cart, &token, json!({"email": null})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(c["email"], Value::Null);
    assert_eq!(c["shipping_address"]["country"], "DE");
    let c = json_of(
        put_cart(&app, &cart, &token, json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(c["shipping_address"]["country"], "DE");
}

mod expiry {
    //! The expiry job on the real server's job runner: an open cart past its `expires_at` is
    //! deleted (404 after), an open cart before it and a claimed one are kept.
    use std::time::{Duration, Instant};

    use reqwest::{Method, StatusCode};
    use serde_json::json;

    use super::{cart_path, guest_cart, send};
    use crate::helpers::{Db, TestApp, spawn_app_with};

    async fn run_sql(app: &TestApp, sql: &str) {
        use sqlx::Connection;
        let url = app.settings.database_url.expose();
        if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .unwrap();
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }

    async fn open_carts_past_their_time_are_deleted_by_the_job_runner(db: Db) {
        let Some(app) = spawn_app_with(db, |s| {
            s.jobs_enabled = true;
            s.jobs_poll_interval = Duration::from_millis(100);
            s.jobs_sweep_interval = Duration::from_millis(200);
        })
        .await
        else {
            return;
        };
        let (stale, stale_token) = guest_cart(&app, &json!({})).await;
        let (fresh, fresh_token) = guest_cart(&app, &json!({})).await;
        let id = stale["id"].as_str().unwrap();
        // SQLite keeps ids as 16 bytes, PostgreSQL as uuid: compare as the database stores it.
        let key = if app.settings.database_url.expose().starts_with("sqlite:") {
            format!("X'{}'", id.replace('-', ""))
        } else {
            format!("'{id}'")
        };
        let past = if app.settings.database_url.expose().starts_with("sqlite:") {
            "'2000-01-01T00:00:00.000000Z'"
        } else {
            "'2000-01-01T00:00:00Z'"
        };
        run_sql(
            &app,
            &format!("UPDATE carts SET expires_at = {past} WHERE id = {key}"),
        )
        .await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let resp = send(
                &app,
                Method::GET,
                &cart_path(&stale),
                None,
                None,
                Some(&stale_token),
            )
            .await;
            if resp.status() == StatusCode::NOT_FOUND {
                break;
            }
            assert!(Instant::now() < deadline, "the stale cart was not deleted");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let resp = send(
            &app,
            Method::GET,
            &cart_path(&fresh),
            None,
            None,
            Some(&fresh_token),
        )
        .await;
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "a cart before its time stays"
        );
    }

    #[tokio::test]
    async fn sqlite_open_carts_past_their_time_are_deleted_by_the_job_runner() {
        open_carts_past_their_time_are_deleted_by_the_job_runner(Db::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres_open_carts_past_their_time_are_deleted_by_the_job_runner() {
        open_carts_past_their_time_are_deleted_by_the_job_runner(Db::Postgres).await;
    }
}
