//! The dashboard at `/admin`, as a browser without JavaScript sees it: the sign-in form and
//! its token, the session cookie's attributes (`Secure` behind a TLS proxy), the 403 page for a
//! non-admin, CSRF refusals, sign-out ending the session everywhere, and the sign-in counted
//! in the API's sign-in rate limit. Cookies and forms by hand; redirects are not followed.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};

use crate::helpers::paths::LOGIN;
use crate::helpers::{Db, PASSWORD, TestApp, spawn_app, spawn_app_with};

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
