//! Hostile input, sent where it could hurt: bodies too large or too deep, bytes that are not
//! UTF-8, numbers no type holds, names at and past their length in 4-byte characters, NUL
//! characters, wrong content types, empty bodies and duplicate keys. Each answers a 4xx
//! problem+json (naming the field where there is one), the server keeps answering, and
//! nothing is stored: the catalog, the product's stock and the orders are as they were.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::paths::{ORDERS, PRODUCTS};
use crate::helpers::{TestApp, assert_invalid, assert_problem, str_of, unique};

both_dbs!(
    hostile_bodies_are_refused_and_store_nothing,
    a_product_name_counts_characters_not_bytes,
    invalid_utf8_in_the_path_or_query_is_a_client_error,
    raw_bytes_that_are_not_utf8_in_the_request_line_leave_the_server_answering,
);

/// What the shop holds, as the API shows it: the catalog, one product's stock, the user's and
/// all orders.
#[derive(Debug, PartialEq)]
struct Snapshot {
    catalog: Value,
    stock: Value,
    user_orders: Value,
    all_orders: Value,
    users: Value,
}

async fn json_of(resp: Response) -> Value {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).expect("JSON")
}

async fn snapshot(app: &TestApp, admin: &str, user: &str, product: &str) -> Snapshot {
    let product: Value = json_of(app.get(&format!("{PRODUCTS}/{product}"), None).await).await;
    let users = json_of(app.get("/api/v1/users?per_page=100", Some(admin)).await).await;
    Snapshot {
        catalog: json_of(app.get(&format!("{PRODUCTS}?per_page=100"), None).await).await,
        stock: product["stock"].clone(),
        user_orders: json_of(app.get(&format!("{ORDERS}?per_page=100"), Some(user)).await).await,
        all_orders: json_of(
            app.get(&format!("{ORDERS}?per_page=100"), Some(admin))
                .await,
        )
        .await,
        users: users["total"].clone(),
    }
}

/// Who sends a case.
#[derive(Clone, Copy, Debug)]
enum As {
    Admin,
    User,
}

/// One bad request: what is sent, and what may come back.
struct Case {
    what: String,
    who: As,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    /// Allowed statuses.
    status: &'static [u16],
    /// For a 422, a field its `errors` must name (as a prefix).
    field: Option<&'static str>,
}

fn case(
    what: impl Into<String>,
    who: As,
    method: Method,
    path: impl Into<String>,
    body: impl Into<Vec<u8>>,
    status: &'static [u16],
    field: Option<&'static str>,
) -> Case {
    Case {
        what: what.into(),
        who,
        method,
        path: path.into(),
        content_type: Some("application/json"),
        body: body.into(),
        status,
        field,
    }
}

/// `[[[…]]]` nested `depth` deep.
fn nested_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// A product body whose `name` (and every other field) is well-formed, with `field` replaced
/// by the raw JSON text `raw`.
fn product_with(field: &str, raw: &str) -> String {
    let mut parts = vec![
        ("sku", format!("\"BAD-{}\"", unique())),
        ("name", "\"Mug\"".to_owned()),
        (
            "price",
            r#"{"amount": "1.00", "currency": "EUR"}"#.to_owned(),
        ),
        ("stock", "5".to_owned()),
    ];
    match parts.iter_mut().find(|(k, _)| *k == field) {
        Some(part) => part.1 = raw.to_owned(),
        None => parts.push((field_name(field), raw.to_owned())),
    }
    let fields: Vec<String> = parts.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
    format!("{{{}}}", fields.join(", "))
}

fn field_name(field: &str) -> &'static str {
    match field {
        "description" => "description",
        _ => "extra",
    }
}

fn order_with(product: &str, quantity_raw: &str) -> String {
    format!(r#"{{"items": [{{"product_id": "{product}", "quantity": {quantity_raw}}}]}}"#)
}

async fn send(app: &TestApp, token: &str, c: &Case) -> Response {
    let mut req = app
        .client
        .request(c.method.clone(), app.url(&c.path))
        .bearer_auth(token)
        .body(c.body.clone());
    if let Some(ct) = c.content_type {
        req = req.header(CONTENT_TYPE, ct);
    }
    req.send().await.expect("request failed")
}

async fn hostile_bodies_are_refused_and_store_nothing(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, user) = app.user_token().await;
    let product = str_of(
        &app.create_product(&admin, &format!("IN-{}", unique()))
            .await,
        "id",
    );
    // One order, so "unchanged" is not trivially "empty".
    let resp = app
        .post_json(
            ORDERS,
            &json!({"items": [{"product_id": product, "quantity": 2}]}),
            Some(&user),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let before = snapshot(&app, &admin, &user, &product).await;
    let one_product = format!("{PRODUCTS}/{product}");

    const BAD_JSON: &[u16] = &[400];
    const INVALID: &[u16] = &[422];
    const JSON_OR_INVALID: &[u16] = &[400, 422];
    use As::{Admin, User};
    let deep = nested_arrays(10_000);
    let deep_objects = format!("{}1{}", r#"{"a": "#.repeat(10_000), "}".repeat(10_000));
    let big_name = format!("\"{}\"", "x".repeat(1024 * 1024 + 16));
    let hundred_and_one: Vec<String> = (0..101)
        .map(|_| {
            format!(
                r#"{{"product_id": "{}", "quantity": 1}}"#,
                uuid::Uuid::now_v7()
            )
        })
        .collect();
    let mut cases = vec![
        // Size and depth.
        case(
            "a 1 MiB name",
            Admin,
            Method::POST,
            PRODUCTS,
            product_with("name", &big_name),
            &[413],
            None,
        ),
        case(
            "a 1 MiB update",
            Admin,
            Method::PUT,
            &one_product,
            format!(r#"{{"name": {big_name}}}"#),
            &[413],
            None,
        ),
        case(
            "a 1 MiB shipping address",
            User,
            Method::POST,
            ORDERS,
            format!(
                r#"{{"items": [{{"product_id": "{product}", "quantity": 1}}], "shipping_address": {{"line1": {big_name}, "city": "Paris", "postal_code": "75001", "country": "FR"}}}}"#
            ),
            &[413],
            None,
        ),
        case(
            "10,000 nested arrays as the name",
            Admin,
            Method::POST,
            PRODUCTS,
            product_with("name", &deep),
            JSON_OR_INVALID,
            None,
        ),
        case(
            "10,000 nested arrays as a whole body",
            Admin,
            Method::POST,
            PRODUCTS,
            deep.clone(),
            JSON_OR_INVALID,
            None,
        ),
        case(
            "10,000 nested arrays as an order's items",
            User,
            Method::POST,
            ORDERS,
            format!(r#"{{"items": {deep}}}"#),
            JSON_OR_INVALID,
            None,
        ),
        case(
            "10,000 nested arrays as a quantity",
            User,
            Method::POST,
            ORDERS,
            order_with(&product, &deep),
            JSON_OR_INVALID,
            None,
        ),
        // Bytes that are not UTF-8 inside JSON strings.
        case(
            "a name with a lone 0xFF byte",
            Admin,
            Method::POST,
            PRODUCTS,
            {
                let mut b = product_with("name", "\"Mu@\"").into_bytes();
                let at = b.iter().position(|&c| c == b'@').unwrap();
                b[at] = 0xFF;
                b
            },
            BAD_JSON,
            None,
        ),
        case(
            "an overlong encoding of '/'",
            Admin,
            Method::POST,
            PRODUCTS,
            {
                let mut b = product_with("name", "\"Mu@@\"").into_bytes();
                let at = b.iter().position(|&c| c == b'@').unwrap();
                b[at] = 0xC0;
                b[at + 1] = 0xAF;
                b
            },
            BAD_JSON,
            None,
        ),
        case(
            "an encoded UTF-16 surrogate",
            User,
            Method::PUT,
            "/api/v1/users/me",
            {
                let mut b = br#"{"first_name": "Ann@@@"}"#.to_vec();
                let at = b.iter().position(|&c| c == b'@').unwrap();
                b[at..at + 3].copy_from_slice(&[0xED, 0xA0, 0x80]);
                b
            },
            BAD_JSON,
            None,
        ),
        case(
            "a lone surrogate escape",
            Admin,
            Method::POST,
            PRODUCTS,
            product_with("name", r#""Mug \ud800""#),
            JSON_OR_INVALID,
            None,
        ),
        // Numbers no field holds.
        case(
            "stock 1e309",
            Admin,
            Method::POST,
            PRODUCTS,
            product_with("stock", "1e309"),
            INVALID,
            Some("stock"),
        ),
        case(
            "stock 2^64",
            Admin,
            Method::POST,
            PRODUCTS,
            product_with("stock", "18446744073709551616"),
            INVALID,
            Some("stock"),
        ),
        case(
            "stock -2^63 - 1",
            Admin,
            Method::POST,
            PRODUCTS,
            product_with("stock", "-9223372036854775809"),
            INVALID,
            Some("stock"),
        ),
        case(
            "stock with 400 digits",
            Admin,
            Method::POST,
            PRODUCTS,
            product_with("stock", &"9".repeat(400)),
            INVALID,
            Some("stock"),
        ),
        case(
            "stock 1e3 as an exponent",
            Admin,
            Method::POST,
            PRODUCTS,
            product_with("stock", "1e3"),
            INVALID,
            Some("stock"),
        ),
        case(
            "a price amount of 400 digits",
            Admin,
            Method::POST,
            PRODUCTS,
            product_with(
                "price",
                &format!(r#"{{"amount": "{}", "currency": "EUR"}}"#, "9".repeat(400)),
            ),
            INVALID,
            Some("price.amount"),
        ),
        case(
            "a price amount with 400 decimals",
            Admin,
            Method::POST,
            PRODUCTS,
            product_with(
                "price",
                &format!(
                    r#"{{"amount": "1.{}", "currency": "EUR"}}"#,
                    "0".repeat(400)
                ),
            ),
            INVALID,
            Some("price.amount"),
        ),
        case(
            "a stock update of 2^64",
            Admin,
            Method::PUT,
            &one_product,
            r#"{"stock": 18446744073709551616}"#,
            INVALID,
            Some("stock"),
        ),
        case(
            "a stock update of 1e309",
            Admin,
            Method::PUT,
            &one_product,
            r#"{"stock": 1e309}"#,
            INVALID,
            Some("stock"),
        ),
        // Quantities.
        case(
            "quantity 0",
            User,
            Method::POST,
            ORDERS,
            order_with(&product, "0"),
            INVALID,
            Some("items[0].quantity"),
        ),
        case(
            "quantity -1",
            User,
            Method::POST,
            ORDERS,
            order_with(&product, "-1"),
            INVALID,
            Some("items[0].quantity"),
        ),
        case(
            "quantity -2^63",
            User,
            Method::POST,
            ORDERS,
            order_with(&product, "-9223372036854775808"),
            INVALID,
            Some("items[0].quantity"),
        ),
        case(
            "quantity 2^32 + 1",
            User,
            Method::POST,
            ORDERS,
            order_with(&product, "4294967297"),
            INVALID,
            Some("items[0].quantity"),
        ),
        case(
            "quantity 2^64",
            User,
            Method::POST,
            ORDERS,
            order_with(&product, "18446744073709551616"),
            INVALID,
            Some("items[0].quantity"),
        ),
        case(
            "quantity 1e309",
            User,
            Method::POST,
            ORDERS,
            order_with(&product, "1e309"),
            INVALID,
            Some("items[0].quantity"),
        ),
        case(
            "quantity 1.0",
            User,
            Method::POST,
            ORDERS,
            order_with(&product, "1.0"),
            INVALID,
            Some("items[0].quantity"),
        ),
        case(
            "quantity 0.5",
            User,
            Method::POST,
            ORDERS,
            order_with(&product, "0.5"),
            INVALID,
            Some("items[0].quantity"),
        ),
        case(
            "quantity \"1\"",
            User,
            Method::POST,
            ORDERS,
            order_with(&product, "\"1\""),
            INVALID,
            Some("items[0].quantity"),
        ),
        case(
            "quantity true",
            User,
            Method::POST,
            ORDERS,
            order_with(&product, "true"),
            INVALID,
            Some("items[0].quantity"),
        ),
        case(
            "101 lines",
            User,
            Method::POST,
            ORDERS,
            format!(r#"{{"items": [{}]}}"#, hundred_and_one.join(",")),
            INVALID,
            Some("items"),
        ),
        case(
            "no lines",
            User,
            Method::POST,
            ORDERS,
            r#"{"items": []}"#,
            INVALID,
            Some("items"),
        ),
        case(
            "a product id that is a number",
            User,
            Method::POST,
            ORDERS,
            r#"{"items": [{"product_id": 1e309, "quantity": 1}]}"#,
            INVALID,
            Some("items[0].product_id"),
        ),
        // NUL characters, which PostgreSQL text cannot hold.
        case(
            "a NUL in a product name",
            Admin,
            Method::POST,
            PRODUCTS,
            product_with("name", r#""Mu\u0000g""#),
            INVALID,
            Some("name"),
        ),
        case(
            "a NUL in a SKU",
            Admin,
            Method::POST,
            PRODUCTS,
            product_with("sku", r#""SKU\u0000X""#),
            INVALID,
            Some("sku"),
        ),
        case(
            "a NUL in a currency",
            Admin,
            Method::POST,
            PRODUCTS,
            product_with("price", r#"{"amount": "1.00", "currency": "EU\u0000"}"#),
            INVALID,
            Some("price.currency"),
        ),
        case(
            "a NUL in an amount",
            Admin,
            Method::POST,
            PRODUCTS,
            product_with("price", r#"{"amount": "1.0\u0000", "currency": "EUR"}"#),
            INVALID,
            Some("price.amount"),
        ),
        case(
            "a NUL in a name update",
            Admin,
            Method::PUT,
            &one_product,
            r#"{"name": "a\u0000"}"#,
            INVALID,
            Some("name"),
        ),
        case(
            "a NUL in a shipping address",
            User,
            Method::POST,
            ORDERS,
            format!(
                r#"{{"items": [{{"product_id": "{product}", "quantity": 1}}], "shipping_address": {{"line1": "1 Main\u0000St", "city": "Paris", "postal_code": "75001", "country": "FR"}}}}"#
            ),
            INVALID,
            Some("shipping_address.line1"),
        ),
        case(
            "a NUL in a status",
            Admin,
            Method::PUT,
            "",
            r#"{"status": "paid\u0000"}"#,
            INVALID,
            Some("status"),
        ),
        // Duplicate keys: which one wins would be a guess.
        case(
            "a duplicate name",
            Admin,
            Method::POST,
            PRODUCTS,
            product_with("extra", "1").replace("\"extra\": 1", "\"name\": \"Other\""),
            JSON_OR_INVALID,
            Some("name"),
        ),
        case(
            "a duplicate stock in an update",
            Admin,
            Method::PUT,
            &one_product,
            r#"{"stock": 1, "stock": 2}"#,
            JSON_OR_INVALID,
            Some("stock"),
        ),
        case(
            "a duplicate quantity",
            User,
            Method::POST,
            ORDERS,
            format!(
                r#"{{"items": [{{"product_id": "{product}", "quantity": 1, "quantity": 5}}]}}"#
            ),
            JSON_OR_INVALID,
            Some("items[0].quantity"),
        ),
        case(
            "duplicate items",
            User,
            Method::POST,
            ORDERS,
            format!(r#"{{"items": [], "items": [{{"product_id": "{product}", "quantity": 1}}]}}"#),
            JSON_OR_INVALID,
            Some("items"),
        ),
        // Empty bodies.
        case(
            "an empty product",
            Admin,
            Method::POST,
            PRODUCTS,
            "",
            BAD_JSON,
            None,
        ),
        case(
            "an empty update",
            Admin,
            Method::PUT,
            &one_product,
            "",
            BAD_JSON,
            None,
        ),
        case(
            "an empty order",
            User,
            Method::POST,
            ORDERS,
            "",
            BAD_JSON,
            None,
        ),
        case(
            "a whitespace order",
            User,
            Method::POST,
            ORDERS,
            " \r\n\t ",
            BAD_JSON,
            None,
        ),
        case(
            "an empty status",
            Admin,
            Method::PUT,
            "",
            "",
            BAD_JSON,
            None,
        ),
        case(
            "an empty profile",
            User,
            Method::PUT,
            "/api/v1/users/me",
            "",
            BAD_JSON,
            None,
        ),
    ];
    // Wrong content types, with a body that would otherwise be accepted.
    let good_product = product_with("sku", &format!("\"CT-{}\"", unique()));
    let good_order = order_with(&product, "1");
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
        Some("application/jsonp"),
        Some("json"),
    ] {
        for (who, method, path, body) in [
            (
                Admin,
                Method::POST,
                PRODUCTS.to_owned(),
                good_product.clone(),
            ),
            (
                Admin,
                Method::PUT,
                one_product.clone(),
                r#"{"stock": 1}"#.to_owned(),
            ),
            (User, Method::POST, ORDERS.to_owned(), good_order.clone()),
            (
                User,
                Method::PUT,
                "/api/v1/users/me".to_owned(),
                r#"{"first_name": "X"}"#.to_owned(),
            ),
            (
                Admin,
                Method::PUT,
                String::new(),
                r#"{"status": "paid"}"#.to_owned(),
            ),
        ] {
            let mut c = case(
                format!("{body} as {ct:?}"),
                who,
                method,
                path,
                body,
                &[415],
                None,
            );
            c.content_type = ct;
            cases.push(c);
        }
    }
    // The order the status cases aim at: the user's, still pending.
    let order_id = str_of(&before.user_orders["items"][0], "id");
    for c in &mut cases {
        if c.path.is_empty() {
            c.path = format!("{ORDERS}/{order_id}/status");
        }
    }

    let mut wrong = Vec::new();
    for c in &cases {
        let token = match c.who {
            As::Admin => &admin,
            As::User => &user,
        };
        let resp = send(&app, token, c).await;
        let status = resp.status().as_u16();
        if !c.status.contains(&status) {
            let text = resp.text().await.unwrap_or_default();
            wrong.push(format!(
                "{}: {status}, expected one of {:?}: {}",
                c.what,
                c.status,
                &text[..text.len().min(300)]
            ));
            continue;
        }
        if status == 422 {
            let fields = assert_invalid(resp).await;
            if let Some(field) = c.field {
                assert!(
                    fields.iter().any(|f| f.starts_with(field)),
                    "{}: the errors name {fields:?}, not `{field}`",
                    c.what
                );
            }
        } else {
            let body = assert_problem(resp, status).await;
            assert!(
                body["detail"].is_string(),
                "{}: a problem without a detail: {body}",
                c.what
            );
        }
        // The server is still there after each.
        assert_eq!(
            app.get("/health/live", None).await.status(),
            StatusCode::OK,
            "after {}",
            c.what
        );
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases answered wrongly:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );

    let after = snapshot(&app, &admin, &user, &product).await;
    assert_eq!(
        after, before,
        "a refused request changed what the shop holds"
    );

    // Unknown fields are skipped, however deep, without recursing on the server's stack: the
    // product is otherwise good, so it is created.
    for extra in [&deep, &deep_objects] {
        let resp = app
            .client
            .post(app.url(PRODUCTS))
            .bearer_auth(&admin)
            .header(CONTENT_TYPE, "application/json")
            .body(product_with("extra", extra))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    assert_eq!(app.get("/health/live", None).await.status(), StatusCode::OK);
}

async fn a_product_name_counts_characters_not_bytes(app: TestApp) {
    let admin = app.admin_token().await;
    let create = |name: String| {
        json!({
            "sku": format!("UNI-{}", unique()),
            "name": name,
            "price": {"amount": "1.00", "currency": "EUR"},
            "stock": 1,
        })
    };
    for name in [
        "Tasse ☕ 🐧🏳️‍🌈".to_owned(),
        // "é" as e + combining acute, and a Hangul syllable as its jamo.
        "Cafe\u{301} \u{1100}\u{1161}\u{11a8}".to_owned(),
        // Right-to-left text, with the override and isolate marks a spoofer uses.
        "כוס קפה \u{202e}gpj.exe\u{202c} \u{2067}مرحبا\u{2069}".to_owned(),
        // 200 characters of 4 bytes each: 800 bytes.
        "𝄞".repeat(200),
        "🙂".repeat(199) + "a",
    ] {
        let created = app.create_product_with(&admin, &create(name.clone())).await;
        assert_eq!(created["name"], json!(name), "kept as sent");
        let read: Value = app
            .get_json(&format!("{PRODUCTS}/{}", str_of(&created, "id")), None)
            .await;
        assert_eq!(read["name"], json!(name), "read back as sent");
    }
    let before: Value = app.get_json(PRODUCTS, None).await;
    for name in [
        "𝄞".repeat(201),
        "🙂".repeat(200) + "a",
        "e\u{301}".repeat(101),
    ] {
        let resp = app
            .post_json(PRODUCTS, &create(name.clone()), Some(&admin))
            .await;
        assert_eq!(
            assert_invalid(resp).await,
            ["name"],
            "{} characters",
            name.chars().count()
        );
    }
    let after: Value = app.get_json(PRODUCTS, None).await;
    assert_eq!(after["total"], before["total"], "a refused name was stored");
}

async fn invalid_utf8_in_the_path_or_query_is_a_client_error(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, user) = app.user_token().await;
    for (path, token) in [
        (format!("{PRODUCTS}/%FF"), None),
        (format!("{PRODUCTS}/%C3%28"), None),
        (format!("{PRODUCTS}/%ED%A0%80/images/%FF"), Some(&admin)),
        ("/api/v1/files/%FF%FE".to_owned(), None),
        (format!("{ORDERS}/%C0%AF"), Some(&user)),
        ("/api/v1/users/%80".to_owned(), Some(&admin)),
        ("/api/v1/%FF".to_owned(), None),
    ] {
        let method = if path.contains("/images/") {
            Method::DELETE
        } else {
            Method::GET
        };
        let mut req = app.client.request(method, app.url(&path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        assert_problem(resp, 404).await;
    }
    // Query values: a page that is not a number is a 422 naming it; search text that is not
    // UTF-8 is, like any text, a search (it finds nothing).
    for (query, field) in [
        ("page=%FF", "page"),
        ("per_page=%C3%28", "per_page"),
        ("page=99999999999999999999", "page"),
        ("per_page=18446744073709551617", "per_page"),
        ("page=1e3", "page"),
        ("page=-0", "page"),
        ("page=%00", "page"),
    ] {
        let resp = app.get(&format!("{PRODUCTS}?{query}"), None).await;
        let fields = assert_invalid(resp).await;
        assert!(fields.iter().any(|f| f == field), "{query}: {fields:?}");
        let resp = app.get(&format!("{ORDERS}?{query}"), Some(&user)).await;
        let fields = assert_invalid(resp).await;
        assert!(
            fields.iter().any(|f| f == field),
            "orders {query}: {fields:?}"
        );
    }
    for q in ["%FF", "%C3%28", "%ED%A0%80", "%00", "%F4%90%80%80"] {
        let resp = app.get(&format!("{PRODUCTS}?q={q}"), None).await;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(
            status == StatusCode::OK || status.is_client_error(),
            "q={q}: {status} {text}"
        );
        if status == StatusCode::OK {
            let page: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(page["items"], json!([]), "q={q}");
        }
    }
    for query in ["status=%FF", "user_id=%FF", "status=paid%00"] {
        let resp = app.get(&format!("{ORDERS}?{query}"), Some(&admin)).await;
        let status = resp.status().as_u16();
        assert!(status == 422 || status == 400, "{query}: {status}");
        assert_problem(resp, status).await;
    }
}

/// Sends `request` as raw bytes and returns the status line the server answers with, if any.
fn raw_exchange(addr: &str, request: &[u8]) -> String {
    let host = addr.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).expect("write");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

async fn raw_bytes_that_are_not_utf8_in_the_request_line_leave_the_server_answering(app: TestApp) {
    let addr = app.addr.clone();
    let line = tokio::task::spawn_blocking(move || {
        let mut answers = Vec::new();
        for target in [
            b"/api/v1/products/\xff\xfe".as_slice(),
            b"/api/v1/products?q=\xc3\x28".as_slice(),
            b"/api/v1/products?page=\xff".as_slice(),
        ] {
            let mut req = b"GET ".to_vec();
            req.extend_from_slice(target);
            req.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            answers.push(raw_exchange(&addr, &req));
        }
        answers
    })
    .await
    .unwrap();
    for status_line in line {
        // The HTTP parser refuses such a request line before any route sees it: a 400, or a
        // 404/422 when it passes through. Never a 5xx, never a dropped connection.
        let code: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no status line: `{status_line}`"));
        assert!((400..500).contains(&code), "{status_line}");
    }
    assert_eq!(app.get("/health/live", None).await.status(), StatusCode::OK);
}
