//! Who may call what: every route of docs/API.md, called by an anonymous caller, a user, another
//! user and an admin, against the status the contract names. One table, one loop: a route
//! that is missing from the table, or a cell that disagrees with docs/API.md, shows at a glance.

use reqwest::multipart::{Form, Part};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, TestApp, assert_problem, assert_unauthorized, comparable, str_of, unique,
};

both_dbs!(
    every_route_answers_each_kind_of_caller_as_the_contract_says,
    a_users_order_list_never_shows_another_users_order_whatever_the_filter,
);

/// The callers of each row, in this order.
const CALLERS: [&str; 4] = ["anonymous", "user", "another user", "admin"];

/// What a row sends.
#[derive(Clone, Copy)]
enum Body {
    None,
    /// A JSON body; the placeholders of [`Fixtures::fill`] are replaced first.
    Json(&'static str),
    /// A one-pixel PNG as the multipart field `file`.
    Image,
}

/// One route and what each caller of [`CALLERS`] gets from it.
struct Row {
    method: Method,
    /// Path under the server, with the placeholders of [`Fixtures::fill`].
    path: &'static str,
    body: Body,
    expect: [u16; 4],
}

const fn row(method: Method, path: &'static str, body: Body, expect: [u16; 4]) -> Row {
    Row {
        method,
        path,
        body,
        expect,
    }
}

/// Every route of docs/API.md. `{user_order}` and `{user_id}` belong to the "user" column's account,
/// so "another user" must get the 404 of a missing resource there. The `{fresh_*}` and
/// `{doomed_*}` placeholders are made anew for each cell, so that one caller's success (a
/// cancel, a delete, a spent refresh token) does not change what the next caller meets.
fn table() -> Vec<Row> {
    use Body::{Image, Json, None as Empty};
    const ANYONE: [u16; 4] = [200, 200, 200, 200];
    const ADMIN_ONLY: [u16; 4] = [401, 403, 403, 200];
    let mut rows = vec![
        // Auth: anyone, signed in or not.
        row(
            Method::POST,
            "/api/v1/auth/register",
            Json(r#"{"email": "new-{unique}@example.com", "password": "{password}"}"#),
            [201, 201, 201, 201],
        ),
        row(
            Method::POST,
            "/api/v1/auth/login",
            Json(r#"{"username": "{user_email}", "password": "{password}"}"#),
            ANYONE,
        ),
        row(
            Method::POST,
            "/api/v1/auth/refresh",
            Json(r#"{"refresh_token": "{fresh_refresh_token}"}"#),
            ANYONE,
        ),
        row(
            Method::POST,
            "/api/v1/auth/logout",
            Json(r#"{"refresh_token": "{fresh_refresh_token}"}"#),
            [204, 204, 204, 204],
        ),
    ];
    // Products: anyone reads, admins write.
    rows.extend(resource(
        [
            "/api/v1/products",
            "/api/v1/products/{product}",
            "/api/v1/products/{doomed_product}",
        ],
        ANYONE,
        r#"{"sku": "SKU-{unique}", "name": "Lamp", "price": {"amount": "5.00", "currency": "EUR"}, "stock": 3}"#,
        r#"{"name": "Renamed {unique}"}"#,
    ));
    rows.extend([
        row(
            Method::POST,
            "/api/v1/products/{product}/images",
            Image,
            [401, 403, 403, 201],
        ),
        row(
            Method::DELETE,
            "/api/v1/products/{product}/images/{doomed_image}",
            Empty,
            [401, 403, 403, 204],
        ),
        row(Method::GET, "/api/v1/files/{image}", Empty, ANYONE),
    ]);
    // Categories: anyone reads, admins write.
    rows.extend(resource(
        [
            "/api/v1/categories",
            "/api/v1/categories/{category}",
            "/api/v1/categories/{doomed_category}",
        ],
        ANYONE,
        r#"{"name": "Category {unique}"}"#,
        r#"{"name": "Renamed {unique}"}"#,
    ));
    rows.extend([
        // Orders: users see and cancel their own; admins see, cancel and move all.
        row(Method::GET, "/api/v1/orders", Empty, [401, 200, 200, 200]),
        row(
            Method::GET,
            "/api/v1/orders/{user_order}",
            Empty,
            [401, 200, 404, 200],
        ),
        row(
            Method::POST,
            "/api/v1/orders",
            Json(r#"{"items": [{"product_id": "{product}", "quantity": 1}]}"#),
            [401, 201, 201, 201],
        ),
        row(
            Method::PUT,
            "/api/v1/orders/{fresh_user_order}/status",
            Json(r#"{"status": "paid"}"#),
            [401, 403, 403, 200],
        ),
        row(
            Method::POST,
            "/api/v1/orders/{fresh_user_order}/cancel",
            Empty,
            [401, 200, 404, 200],
        ),
        // Users: admins list everyone; each account sees itself.
        row(Method::GET, "/api/v1/users", Empty, [401, 403, 403, 200]),
        row(
            Method::GET,
            "/api/v1/users/{user_id}",
            Empty,
            [401, 200, 404, 200],
        ),
        row(Method::GET, "/api/v1/users/me", Empty, [401, 200, 200, 200]),
        row(
            Method::PUT,
            "/api/v1/users/me",
            Json(r#"{"first_name": "Renamed"}"#),
            [401, 200, 200, 200],
        ),
    ]);
    // Promotions, shipping options, tax rates: admins only.
    rows.extend(resource(
        [
            "/api/v1/promotions",
            "/api/v1/promotions/{promotion}",
            "/api/v1/promotions/{doomed_promotion}",
        ],
        ADMIN_ONLY,
        r#"{"code": "M-{unique}", "kind": "percentage", "value": "10"}"#,
        r#"{"value": "15"}"#,
    ));
    rows.extend(resource(
        [
            "/api/v1/shipping-options",
            "/api/v1/shipping-options/{shipping_option}",
            "/api/v1/shipping-options/{doomed_shipping_option}",
        ],
        ADMIN_ONLY,
        r#"{"name": "Option {unique}", "countries": ["DE"], "price": {"amount": "4.90", "currency": "EUR"}}"#,
        r#"{"name": "Renamed {unique}"}"#,
    ));
    rows.extend(resource(
        [
            "/api/v1/tax-rates",
            "/api/v1/tax-rates/{tax_rate}",
            "/api/v1/tax-rates/{doomed_tax_rate}",
        ],
        ADMIN_ONLY,
        r#"{"country": "DE", "state": "State {unique}", "rate": "7.0", "name": "VAT"}"#,
        r#"{"name": "Renamed {unique}"}"#,
    ));
    rows.extend([
        // Operations: public.
        row(Method::GET, "/health/live", Empty, ANYONE),
        row(Method::GET, "/health/ready", Empty, ANYONE),
        row(Method::GET, "/.well-known/jwks.json", Empty, ANYONE),
        row(Method::GET, "/api/v1/openapi.json", Empty, ANYONE),
        row(Method::GET, "/docs", Empty, ANYONE),
    ]);
    rows
}

/// The five rows of a resource that only admins change: list at `collection` and get at `item`,
/// answered as `reads` says; create at `collection`, update at `item` and delete at `doomed`.
fn resource(
    [collection, item, doomed]: [&'static str; 3],
    reads: [u16; 4],
    create: &'static str,
    update: &'static str,
) -> [Row; 5] {
    [
        row(Method::GET, collection, Body::None, reads),
        row(Method::GET, item, Body::None, reads),
        row(
            Method::POST,
            collection,
            Body::Json(create),
            [401, 403, 403, 201],
        ),
        row(Method::PUT, item, Body::Json(update), [401, 403, 403, 200]),
        row(Method::DELETE, doomed, Body::None, [401, 403, 403, 204]),
    ]
}

/// The route shapes of docs/API.md, as `METHOD /path` with `{}` for each path parameter: the table
/// must cover each exactly.
const API_MD_ROUTES: [&str; 46] = [
    "POST /api/v1/auth/register",
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/refresh",
    "POST /api/v1/auth/logout",
    "GET /api/v1/products",
    "GET /api/v1/products/{}",
    "POST /api/v1/products",
    "PUT /api/v1/products/{}",
    "DELETE /api/v1/products/{}",
    "POST /api/v1/products/{}/images",
    "DELETE /api/v1/products/{}/images/{}",
    "GET /api/v1/files/{}",
    "GET /api/v1/categories",
    "GET /api/v1/categories/{}",
    "POST /api/v1/categories",
    "PUT /api/v1/categories/{}",
    "DELETE /api/v1/categories/{}",
    "GET /api/v1/orders",
    "GET /api/v1/orders/{}",
    "POST /api/v1/orders",
    "PUT /api/v1/orders/{}/status",
    "POST /api/v1/orders/{}/cancel",
    "GET /api/v1/users",
    "GET /api/v1/users/{}",
    "GET /api/v1/users/me",
    "PUT /api/v1/users/me",
    "GET /api/v1/promotions",
    "POST /api/v1/promotions",
    "GET /api/v1/promotions/{}",
    "PUT /api/v1/promotions/{}",
    "DELETE /api/v1/promotions/{}",
    "GET /api/v1/shipping-options",
    "POST /api/v1/shipping-options",
    "GET /api/v1/shipping-options/{}",
    "PUT /api/v1/shipping-options/{}",
    "DELETE /api/v1/shipping-options/{}",
    "GET /api/v1/tax-rates",
    "POST /api/v1/tax-rates",
    "GET /api/v1/tax-rates/{}",
    "PUT /api/v1/tax-rates/{}",
    "DELETE /api/v1/tax-rates/{}",
    "GET /health/live",
    "GET /health/ready",
    "GET /.well-known/jwks.json",
    "GET /api/v1/openapi.json",
    "GET /docs",
];

/// A PNG signature and the IHDR chunk of a 1×1 image.
fn png() -> Vec<u8> {
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec()
}

/// Two users each with an order, an admin, and a product with an image.
struct Fixtures {
    admin: String,
    user: Value,
    user_token: String,
    other: Value,
    other_token: String,
    product: String,
    category: String,
    promotion: String,
    shipping_option: String,
    tax_rate: String,
    image: String,
    user_order: String,
    other_order: String,
}

async fn upload_image(app: &TestApp, admin: &str, product: &str) -> String {
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/products/{product}/images")))
        .bearer_auth(admin)
        .multipart(Form::new().part("file", Part::bytes(png()).file_name("pixel.png")))
        .send()
        .await
        .expect("upload failed");
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "uploading a fixture image"
    );
    str_of(&resp.json().await.unwrap(), "id")
}

/// Posts `body` to `path` as the admin and answers the id of what it made.
async fn made(app: &TestApp, admin: &str, path: &str, body: &Value, what: &str) -> String {
    let resp = app.post_json(path, body, Some(admin)).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "a fixture {what}");
    str_of(&resp.json().await.unwrap(), "id")
}

async fn new_category(app: &TestApp, admin: &str) -> String {
    let body = json!({"name": format!("Matrix {}", unique())});
    made(app, admin, "/api/v1/categories", &body, "category").await
}

async fn new_promotion(app: &TestApp, admin: &str) -> String {
    let body = json!({"code": format!("M-{}", unique()), "kind": "fixed", "value": "5", "currency": "EUR"});
    made(app, admin, "/api/v1/promotions", &body, "promotion").await
}

async fn new_shipping_option(app: &TestApp, admin: &str) -> String {
    let body = json!({"name": "Matrix post", "countries": ["DE"], "price": {"amount": "4.90", "currency": "EUR"}});
    made(
        app,
        admin,
        "/api/v1/shipping-options",
        &body,
        "shipping option",
    )
    .await
}

async fn new_tax_rate(app: &TestApp, admin: &str) -> String {
    let body = json!({"country": "US", "state": format!("Matrix {}", unique()), "rate": "7.25", "name": "Sales tax"});
    made(app, admin, "/api/v1/tax-rates", &body, "tax rate").await
}

async fn place_order(app: &TestApp, token: &str, product: &str) -> String {
    let resp = app
        .post_json(
            "/api/v1/orders",
            &json!({"items": [{"product_id": product, "quantity": 1}]}),
            Some(token),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "placing a fixture order"
    );
    str_of(&resp.json().await.unwrap(), "id")
}

impl Fixtures {
    async fn new(app: &TestApp) -> Self {
        let admin = app.admin_token().await;
        let (user, user_token) = app.user_token().await;
        let (other, other_token) = app.user_token().await;
        let product = app
            .create_product_with(
                &admin,
                &json!({
                    "sku": format!("MATRIX-{}", unique()),
                    "name": "Matrix mug",
                    "price": {"amount": "9.50", "currency": "EUR"},
                    "stock": 1000
                }),
            )
            .await;
        let product = str_of(&product, "id");
        let category = new_category(app, &admin).await;
        let promotion = new_promotion(app, &admin).await;
        let shipping_option = new_shipping_option(app, &admin).await;
        let tax_rate = new_tax_rate(app, &admin).await;
        let image = upload_image(app, &admin, &product).await;
        let user_order = place_order(app, &user_token, &product).await;
        let other_order = place_order(app, &other_token, &product).await;
        Self {
            admin,
            user,
            user_token,
            other,
            other_token,
            product,
            category,
            promotion,
            shipping_option,
            tax_rate,
            image,
            user_order,
            other_order,
        }
    }

    fn token(&self, caller: usize) -> Option<&str> {
        match caller {
            0 => None,
            1 => Some(&self.user_token),
            2 => Some(&self.other_token),
            _ => Some(&self.admin),
        }
    }

    /// `template` with its placeholders replaced; the fresh ones are made for this call.
    async fn fill(&self, app: &TestApp, template: &str) -> String {
        let mut s = template
            .replace("{unique}", &unique())
            .replace("{password}", PASSWORD)
            .replace("{user_email}", &str_of(&self.user, "email"))
            .replace("{user_id}", &str_of(&self.user, "id"))
            .replace("{user_order}", &self.user_order)
            .replace("{product}", &self.product)
            .replace("{category}", &self.category)
            .replace("{promotion}", &self.promotion)
            .replace("{shipping_option}", &self.shipping_option)
            .replace("{tax_rate}", &self.tax_rate)
            .replace("{image}", &self.image);
        if s.contains("{fresh_refresh_token}") {
            let tokens = app.login(&str_of(&self.user, "email"), PASSWORD).await;
            s = s.replace("{fresh_refresh_token}", &str_of(&tokens, "refresh_token"));
        }
        if s.contains("{fresh_user_order}") {
            let order = place_order(app, &self.user_token, &self.product).await;
            s = s.replace("{fresh_user_order}", &order);
        }
        if s.contains("{doomed_product}") {
            let doomed = app.create_product(&self.admin, &unique()).await;
            s = s.replace("{doomed_product}", &str_of(&doomed, "id"));
        }
        if s.contains("{doomed_category}") {
            let doomed = new_category(app, &self.admin).await;
            s = s.replace("{doomed_category}", &doomed);
        }
        if s.contains("{doomed_promotion}") {
            let doomed = new_promotion(app, &self.admin).await;
            s = s.replace("{doomed_promotion}", &doomed);
        }
        if s.contains("{doomed_shipping_option}") {
            let doomed = new_shipping_option(app, &self.admin).await;
            s = s.replace("{doomed_shipping_option}", &doomed);
        }
        if s.contains("{doomed_tax_rate}") {
            let doomed = new_tax_rate(app, &self.admin).await;
            s = s.replace("{doomed_tax_rate}", &doomed);
        }
        if s.contains("{doomed_image}") {
            let image = upload_image(app, &self.admin, &self.product).await;
            s = s.replace("{doomed_image}", &image);
        }
        s
    }
}

/// `path` with each id in it replaced by one that names nothing.
fn with_fresh_ids(path: &str) -> String {
    path.split('/')
        .map(|part| match uuid::Uuid::parse_str(part) {
            Ok(_) => uuid::Uuid::now_v7().to_string(),
            Err(_) => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `/api/v1/orders/{user_order}` → `/api/v1/orders/{}`: the path's shape, for the coverage check.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|part| {
            if part.starts_with('{') && part != "{}" {
                "{}"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn send(
    app: &TestApp,
    row: &Row,
    path: &str,
    body: Option<String>,
    token: Option<&str>,
) -> Response {
    let mut req = app.client.request(row.method.clone(), app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req = match (row.body, body) {
        (Body::Json(_), Some(text)) => req.header("content-type", "application/json").body(text),
        (Body::Image, _) => {
            req.multipart(Form::new().part("file", Part::bytes(png()).file_name("pixel.png")))
        }
        _ => req,
    };
    req.send().await.expect("request failed")
}

async fn every_route_answers_each_kind_of_caller_as_the_contract_says(app: TestApp) {
    let table = table();
    let mut covered: Vec<String> = table
        .iter()
        .map(|r| format!("{} {}", r.method, shape(r.path)))
        .collect();
    covered.sort();
    let mut documented: Vec<String> = API_MD_ROUTES.iter().map(|s| s.to_string()).collect();
    documented.sort();
    assert_eq!(
        covered, documented,
        "the table and docs/API.md's routes differ"
    );

    let fx = Fixtures::new(&app).await;
    let mut wrong = Vec::new();
    for row in &table {
        for (caller, &expected) in row.expect.iter().enumerate() {
            let path = fx.fill(&app, row.path).await;
            let body = match row.body {
                Body::Json(template) => Some(fx.fill(&app, template).await),
                _ => None,
            };
            let what = format!("{} {} as {}", row.method, row.path, CALLERS[caller]);
            let resp = send(&app, row, &path, body, fx.token(caller)).await;
            let status = resp.status().as_u16();
            if status != expected {
                let text = resp.text().await.unwrap_or_default();
                wrong.push(format!("{what}: {status}, expected {expected} ({text})"));
                continue;
            }
            match status {
                401 => {
                    assert_unauthorized(resp).await;
                }
                403 => {
                    assert_problem(resp, 403).await;
                }
                404 => {
                    // Another user's resource looks exactly like a missing one.
                    let hidden = assert_problem(resp, 404).await;
                    let missing_path = with_fresh_ids(&path);
                    assert_ne!(missing_path, path, "{what}: no id to replace");
                    let missing = send(&app, row, &missing_path, None, fx.token(caller)).await;
                    let missing = assert_problem(missing, 404).await;
                    assert_eq!(
                        comparable(hidden),
                        comparable(missing),
                        "{what}: another user's resource differs from a missing one"
                    );
                }
                _ => {}
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cells disagree with docs/API.md:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // The other user's own order is still theirs and untouched by the user's calls.
    let resp = app
        .get(
            &format!("/api/v1/orders/{}", fx.other_order),
            Some(&fx.other_token),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let order: Value = resp.json().await.unwrap();
    assert_eq!(order["status"], json!("pending"));
    assert_eq!(order["user_id"], fx.other["id"]);
}

async fn a_users_order_list_never_shows_another_users_order_whatever_the_filter(app: TestApp) {
    let fx = Fixtures::new(&app).await;
    let user_id = str_of(&fx.user, "id");
    let other_id = str_of(&fx.other, "id");
    for query in [
        String::new(),
        "?per_page=100".to_owned(),
        format!("?user_id={other_id}"),
        format!("?user_id={other_id}&status=pending&per_page=100"),
        format!("?user_id={user_id}&user_id={other_id}"),
        format!("?user_id={user_id}"),
        "?status=pending".to_owned(),
    ] {
        let resp = app
            .get(&format!("/api/v1/orders{query}"), Some(&fx.user_token))
            .await;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(
            !text.contains(&fx.other_order) && !text.contains(&other_id),
            "`{query}` shows the other user's order to the user: {text}"
        );
        if status == StatusCode::OK {
            let page: Value = serde_json::from_str(&text).unwrap();
            let items = page["items"].as_array().expect("a page");
            assert!(
                items.iter().all(|o| o["user_id"] == fx.user["id"]),
                "`{query}`: {page}"
            );
            assert!(
                page["total"].as_u64().unwrap() <= 1,
                "`{query}` counts other users' orders: {page}"
            );
        } else {
            assert!(
                status.is_client_error(),
                "`{query}` answered {status}: {text}"
            );
        }
    }
    // The admin, as the control, sees both orders and can narrow to either user.
    let page = app
        .get_json(
            &format!("/api/v1/orders?user_id={other_id}"),
            Some(&fx.admin),
        )
        .await;
    assert_eq!(page["total"], json!(1));
    assert_eq!(page["items"][0]["id"], json!(fx.other_order));
    let page = app.get_json("/api/v1/orders", Some(&fx.admin)).await;
    assert_eq!(page["total"], json!(2));
}
