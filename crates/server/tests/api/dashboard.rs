//! The dashboard at `/admin`, as a browser without JavaScript sees it: the sign-in form and
//! its token, the session cookie's attributes (`Secure` behind a TLS proxy), the 403 page for a
//! non-admin, CSRF refusals, sign-out ending the session everywhere, and the sign-in counted
//! in the API's sign-in rate limit; the orders pages: the list and its filter and cursors, an
//! order's page, and its forms moving an order placed through the API along its status machine.
//! Cookies and forms by hand; redirects are not followed.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::paths::{LOGIN, ORDERS};
use crate::helpers::{Db, PASSWORD, TestApp, spawn_app, spawn_app_with, str_of};

both_dbs!(an_admin_moves_an_order_placed_through_the_api_with_the_forms);

fn client() -> Client {
    Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of the cookie `name` a response sets.
fn set_cookie(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn first_part(cookie: &str) -> String {
    cookie.split(';').next().unwrap().to_owned()
}

/// The CSRF token of the first form on `page`.
fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("no token in the form")
        .to_owned()
}

/// `GET path` with the session cookie `session`.
async fn get_with(app: &TestApp, path: &str, session: &str) -> Response {
    client()
        .get(app.url(path))
        .header(COOKIE, session)
        .send()
        .await
        .unwrap()
}

/// `POST /admin/logout` with the session cookie `session` and the form `form`.
async fn log_out(app: &TestApp, session: &str, form: &[(&str, &str)]) -> Response {
    client()
        .post(app.url("/admin/logout"))
        .header(COOKIE, session)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The sign-in form's token and the cookie that goes with it.
async fn login_form(app: &TestApp) -> (String, String) {
    let resp = client().get(app.url("/admin/login")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = first_part(&set_cookie(&resp, "shop_admin_login").expect("no form cookie"));
    let token = csrf_of(&resp.text().await.unwrap());
    (token, cookie)
}

async fn sign_in(app: &TestApp, username: &str, password: &str, proto: Option<&str>) -> Response {
    let (token, cookie) = login_form(app).await;
    let mut req = client()
        .post(app.url("/admin/login"))
        .header(COOKIE, cookie)
        .form(&[
            ("csrf", token.as_str()),
            ("username", username),
            ("password", password),
        ]);
    if let Some(proto) = proto {
        req = req.header("x-forwarded-proto", proto);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn an_admin_signs_in_with_a_strict_cookie_and_signing_out_ends_the_session() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    app.admin_token().await;
    let signed_out = client().get(app.url("/admin")).send().await.unwrap();
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed_out.headers()[LOCATION], "/admin/login");

    let resp = sign_in(&app, &app.admin_username, PASSWORD, None).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/admin");
    let cookie = set_cookie(&resp, "shop_admin").expect("no session cookie");
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("; Path=/admin"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let session = first_part(&cookie);

    let overview = get_with(&app, "/admin", &session).await;
    assert_eq!(overview.status(), StatusCode::OK);
    let page = overview.text().await.unwrap();
    assert!(page.contains("Orders waiting for payment"));
    let csrf = csrf_of(&page);

    // Without the token, or with another, the form is refused and the session stays.
    for form in [vec![], vec![("csrf", "not-the-token")]] {
        let refused = log_out(&app, &session, &form).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }
    let out = log_out(&app, &session, &[("csrf", csrf.as_str())]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        set_cookie(&out, "shop_admin")
            .unwrap()
            .contains("Max-Age=0")
    );
    let after = get_with(&app, "/admin/products", &session).await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn behind_a_tls_proxy_the_cookie_is_secure_and_a_customer_gets_the_403_page() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    app.admin_token().await;
    let resp = sign_in(&app, &app.admin_username, PASSWORD, Some("https")).await;
    assert!(
        set_cookie(&resp, "shop_admin")
            .unwrap()
            .ends_with("; Secure")
    );

    let email = format!("customer-{}@example.com", crate::helpers::unique());
    app.register(&email, PASSWORD).await;
    let resp = sign_in(&app, &email, PASSWORD, None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&resp, "shop_admin").is_none());
    assert!(resp.text().await.unwrap().contains("Not an admin"));

    let wrong = sign_in(&app, &email, "not the password", None).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // A sign-in without the form's token is refused before the password is looked at.
    let bare = client()
        .post(app.url("/admin/login"))
        .form(&[("username", email.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::FORBIDDEN);
    // A body that is not a form is a page too, not a 500.
    let garbled = client()
        .post(app.url("/admin/login"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(garbled.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_dashboards_sign_in_counts_in_the_apis_sign_in_limit() {
    let app = spawn_app_with(Db::Sqlite, |s| s.rate_limit_enabled = true)
        .await
        .unwrap();
    // The defaults: 10 at once. Five through the API, five through the dashboard...
    for _ in 0..5 {
        let resp = client()
            .post(app.url(LOGIN))
            .json(&serde_json::json!({"username": "x@example.com", "password": "wrong"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    for _ in 0..5 {
        let resp = sign_in(&app, "x@example.com", "wrong", None).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    // ...and the next of either is refused.
    let resp = sign_in(&app, "x@example.com", "wrong", None).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    let resp = client()
        .post(app.url(LOGIN))
        .json(&serde_json::json!({"username": "x@example.com", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    // The pages themselves are not limited.
    let page = client().get(app.url("/admin/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}

#[tokio::test]
async fn with_keycloak_an_admin_signs_in_and_signing_out_ends_the_providers_session() {
    let Some(app) = crate::helpers::spawn_keycloak_app().await else {
        return;
    };
    app.admin_token().await;
    let resp = sign_in(&app, &app.admin_username, PASSWORD, None).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "Keycloak sign-in");
    let session = first_part(&set_cookie(&resp, "shop_admin").unwrap());
    let page = get_with(&app, "/admin", &session).await;
    let csrf = csrf_of(&page.text().await.unwrap());
    let out = log_out(&app, &session, &[("csrf", csrf.as_str())]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = get_with(&app, "/admin", &session).await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);

    // A Keycloak account without the admin role gets the 403 page.
    let email = format!("customer-{}@example.com", crate::helpers::unique());
    app.register(&email, PASSWORD).await;
    let resp = sign_in(&app, &email, PASSWORD, None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

/// A session of the app's admin: the `shop_admin=…` cookie.
async fn admin_session(app: &TestApp) -> String {
    let resp = sign_in(app, &app.admin_username, PASSWORD, None).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "the admin's sign-in");
    first_part(&set_cookie(&resp, "shop_admin").expect("no session cookie"))
}

/// `POST path` with the session cookie `session` and the form `form`.
async fn post_form(app: &TestApp, path: &str, session: &str, form: &[(&str, &str)]) -> Response {
    client()
        .post(app.url(path))
        .header(COOKIE, session)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Places an order of `quantity` of `product_id` with an address through the API (201).
async fn place_order(app: &TestApp, token: &str, product_id: &str, quantity: i64) -> Value {
    let body = json!({
        "items": [{"product_id": product_id, "quantity": quantity}],
        "shipping_address": {
            "line1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115", "country": "DE"
        }
    });
    let resp = app.post_json(ORDERS, &body, Some(token)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json().await.unwrap()
}

/// The order as the API shows it to the admin: `(status, payment_status)`.
async fn api_status(app: &TestApp, admin: &str, id: &str) -> (String, String) {
    let order = app.get_json(&format!("{ORDERS}/{id}"), Some(admin)).await;
    (str_of(&order, "status"), str_of(&order, "payment_status"))
}

async fn an_admin_moves_an_order_placed_through_the_api_with_the_forms(app: TestApp) {
    let shop = app.shop_with_a_product("DASH").await;
    let order = place_order(&app, &shop.token, &shop.product_id, 2).await;
    let id = str_of(&order, "id");
    let detail = format!("/admin/orders/{id}");
    let session = admin_session(&app).await;

    // The list shows it, newest first, and its status filter keeps or drops it.
    let list = get_with(&app, "/admin/orders", &session).await;
    assert_eq!(list.status(), StatusCode::OK);
    let page = list.text().await.unwrap();
    assert!(page.contains(&format!("href=\"{detail}\"")), "{page}");
    assert!(page.contains("39.80 EUR"), "the total: {page}");
    let pending = get_with(&app, "/admin/orders?status=pending", &session).await;
    assert!(pending.text().await.unwrap().contains(&detail));
    let paid = get_with(&app, "/admin/orders?status=paid", &session).await;
    assert!(!paid.text().await.unwrap().contains(&detail));
    let overview = get_with(&app, "/admin", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(overview.contains("href=\"/admin/orders?status=pending\""));
    assert!(
        overview.contains("href=\"/admin/orders\""),
        "the nav links the orders"
    );

    // Its page: lines, totals, address, and the changes it allows.
    let resp = get_with(&app, &detail, &session).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    for part in [
        "Product DASH-",
        "19.90 EUR",
        "39.80 EUR",
        "Hauptstraße 1",
        "10115 Berlin",
        "unpaid",
    ] {
        assert!(page.contains(part), "{part} missing from the order's page");
    }
    assert!(page.contains("Mark paid") && page.contains("Cancel order"));
    assert!(!page.contains("Mark shipped"), "pending cannot be shipped");
    let csrf = csrf_of(&page);
    let status_form = format!("{detail}/status");

    // Without its token, or with another, the form is refused and changes nothing.
    for form in [
        vec![("status", "paid")],
        vec![("status", "paid"), ("csrf", "not-the-token")],
    ] {
        let refused = post_form(&app, &status_form, &session, &form).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused.text().await.unwrap().contains("Form refused"));
    }
    let refused = post_form(&app, &format!("{detail}/cancel"), &session, &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        api_status(&app, &shop.admin, &id).await,
        ("pending".into(), "unpaid".into())
    );

    // Paid, then shipped: each form answers with the order's page.
    for (next, payment) in [("paid", "paid"), ("shipped", "paid")] {
        let resp = post_form(
            &app,
            &status_form,
            &session,
            &[("csrf", &csrf), ("status", next)],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "marking {next}");
        assert_eq!(resp.headers()[LOCATION], detail.as_str());
        assert_eq!(
            api_status(&app, &shop.admin, &id).await,
            (next.into(), payment.into())
        );
    }
    let page = get_with(&app, &detail, &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Mark delivered") && !page.contains("Cancel"),
        "{page}"
    );

    // A change the status machine refuses shows the page again with the reason.
    let resp = post_form(
        &app,
        &status_form,
        &session,
        &[("csrf", &csrf), ("status", "paid")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("Not changed: an order cannot go from shipped to paid."),
        "{page}"
    );
    assert!(page.contains("Mark delivered"));
    let resp = post_form(
        &app,
        &format!("{detail}/cancel"),
        &session,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let resp = post_form(
        &app,
        &status_form,
        &session,
        &[("csrf", &csrf), ("status", "lost")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Not changed: status must be one of")
    );
    assert_eq!(
        api_status(&app, &shop.admin, &id).await,
        ("shipped".into(), "paid".into())
    );

    // A paid order cancelled from its page is refunded.
    let other = place_order(&app, &shop.token, &shop.product_id, 1).await;
    let other_id = str_of(&other, "id");
    let other_page = format!("/admin/orders/{other_id}");
    let resp = post_form(
        &app,
        &format!("{other_page}/status"),
        &session,
        &[("csrf", &csrf), ("status", "paid")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let page = get_with(&app, &other_page, &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Cancel and refund"));
    let resp = post_form(
        &app,
        &format!("{other_page}/cancel"),
        &session,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], other_page.as_str());
    assert_eq!(
        api_status(&app, &shop.admin, &other_id).await,
        ("cancelled".into(), "refunded".into())
    );

    // Bad addresses and filters are pages too, never a 500.
    let unknown = format!("/admin/orders/{}", uuid::Uuid::now_v7());
    for (path, status) in [
        ("/admin/orders/not-an-id", StatusCode::NOT_FOUND),
        (unknown.as_str(), StatusCode::NOT_FOUND),
        ("/admin/orders?status=lost", StatusCode::BAD_REQUEST),
        ("/admin/orders?cursor=garbage", StatusCode::BAD_REQUEST),
    ] {
        let resp = get_with(&app, path, &session).await;
        assert_eq!(resp.status(), status, "{path}");
    }
    let resp = post_form(
        &app,
        &format!("{unknown}/status"),
        &session,
        &[("csrf", &csrf), ("status", "paid")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_orders_list_pages_with_cursors_bound_to_its_filter() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let product = app
        .create_product_priced(
            &admin,
            &format!("PAGE-{}", crate::helpers::unique()),
            "1.00",
            "EUR",
            100,
        )
        .await;
    let product_id = str_of(&product, "id");
    let mut ids = Vec::new();
    for _ in 0..26 {
        ids.push(str_of(
            &place_order(&app, &token, &product_id, 1).await,
            "id",
        ));
    }
    let session = admin_session(&app).await;
    let first = get_with(&app, "/admin/orders?status=pending", &session)
        .await
        .text()
        .await
        .unwrap();
    let rows = |page: &str| page.matches("href=\"/admin/orders/").count();
    assert_eq!(rows(&first), 25);
    assert!(
        first.contains(&ids[25]) && !first.contains(&ids[0]),
        "newest first"
    );
    let next = first
        .split("class=\"button\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a next page link")
        .replace("&amp;", "&");
    let second = get_with(&app, &next, &session).await;
    assert_eq!(second.status(), StatusCode::OK);
    let second = second.text().await.unwrap();
    assert_eq!(rows(&second), 1);
    assert!(second.contains(&ids[0]));
    assert!(!second.contains("Next page"));
    // The cursor of the pending orders is refused for another filter.
    let moved = next.replace("status=pending", "status=paid");
    let resp = get_with(&app, &moved, &session).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn without_an_admins_session_the_orders_pages_lead_to_the_sign_in() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let shop = app.shop_with_a_product("NOSESSION").await;
    let order = place_order(&app, &shop.token, &shop.product_id, 1).await;
    let id = str_of(&order, "id");
    let detail = format!("/admin/orders/{id}");

    // A customer gets no session, so no cookie of theirs opens the pages.
    let email = format!("customer-{}@example.com", crate::helpers::unique());
    app.register(&email, PASSWORD).await;
    let resp = sign_in(&app, &email, PASSWORD, None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&resp, "shop_admin").is_none());
    for session in ["", "shop_admin=made-up-session-id"] {
        for path in ["/admin/orders", detail.as_str()] {
            let resp = get_with(&app, path, session).await;
            assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{path}");
            assert_eq!(resp.headers()[LOCATION], "/admin/login");
        }
        let resp = post_form(
            &app,
            &format!("{detail}/status"),
            session,
            &[("csrf", "x"), ("status", "paid")],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let resp = post_form(&app, &format!("{detail}/cancel"), session, &[("csrf", "x")]).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    }
    // Nor does the customer's API token.
    let resp = client()
        .get(app.url(&detail))
        .bearer_auth(&shop.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        api_status(&app, &shop.admin, &id).await,
        ("pending".into(), "unpaid".into())
    );
}
