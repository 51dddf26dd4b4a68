//! Security headers on every answer, the docs page's content security policy, CORS from the
//! settings, body limits per route, and the request timeout. None of it depends on the
//! database, so these run on SQLite only.

use std::time::Duration;

use api::response_headers::{Cors, CorsOrigins};
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::json;
use shop::Settings;

use crate::helpers::{Db, TestApp, assert_problem, spawn_app_with};

async fn app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(Db::Sqlite, configure)
        .await
        .expect("SQLite is always available")
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

/// Asserts that the list header `name` holds each of `expected`, in any case.
fn assert_lists(headers: &HeaderMap, name: &str, expected: &[&str]) {
    let listed = header(headers, name).unwrap().to_lowercase();
    for e in expected {
        let e = e.to_lowercase();
        assert!(listed.contains(&e), "{e} not in {name}: {listed}");
    }
}

fn assert_security_headers(headers: &HeaderMap, what: &str) {
    assert_eq!(
        header(headers, "x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(header(headers, "x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(
        header(headers, "referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
    assert!(
        headers.get(CONTENT_SECURITY_POLICY).is_some(),
        "no Content-Security-Policy on {what}"
    );
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = app_with(|_| {}).await;
    let (_, token) = app.user_token().await;
    for (path, token, status) in [
        ("/api/v1/products", None, 200),
        ("/api/v1/users/me", Some(token.as_str()), 200),
        ("/api/v1/users/me", None, 401),
        ("/api/v1/no-such-route", None, 404),
        ("/health/live", None, 200),
        ("/health/ready", None, 200),
        ("/api/v1/openapi.json", None, 200),
        ("/.well-known/jwks.json", None, 200),
    ] {
        let resp = app.get(path, token).await;
        assert_eq!(resp.status().as_u16(), status, "{path}");
        assert_security_headers(resp.headers(), path);
        if path.starts_with("/api/v1/") && path != "/api/v1/openapi.json" {
            assert_eq!(
                header(resp.headers(), "content-security-policy"),
                Some("default-src 'none'; frame-ancestors 'none'"),
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn the_docs_page_has_a_policy_that_loads_only_its_own_files() {
    let app = app_with(|_| {}).await;
    let resp = app.get("/docs/", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_security_headers(resp.headers(), "/docs/");
    let csp = header(resp.headers(), "content-security-policy")
        .unwrap()
        .to_owned();
    let directive = |name: &str| {
        csp.split(';')
            .map(str::trim)
            .find(|d| d.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in `{csp}`"))
            .to_owned()
    };
    assert_eq!(directive("default-src"), "default-src 'none'");
    assert_eq!(
        directive("script-src"),
        "script-src 'self'",
        "no inline or outside script"
    );
    assert_eq!(directive("connect-src"), "connect-src 'self'");
    assert_eq!(directive("frame-ancestors"), "frame-ancestors 'none'");
    assert!(
        !csp.contains("http"),
        "something from outside is allowed: {csp}"
    );

    // The page's scripts are all files of this origin, so `script-src 'self'` runs them.
    let html = resp.text().await.unwrap();
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert!(!scripts.is_empty(), "no scripts in {html}");
    for script in scripts {
        let tag = &script[..script.find('>').unwrap()];
        assert!(
            tag.contains("src=\"./"),
            "inline or outside script: <script{tag}>"
        );
        let src = tag
            .split("src=\"./")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let resp = app.get(&format!("/docs/{src}"), None).await;
        assert_eq!(resp.status(), StatusCode::OK, "{src}");
        assert!(
            header(resp.headers(), "content-security-policy").is_some(),
            "{src}"
        );
    }
    // The configuration names no online validator (the page would fetch it from outside).
    let init = app
        .get("/docs/swagger-initializer.js", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(init.contains("\"validatorUrl\": \"none\""), "{init}");
}

async fn cors_app(origins: &str) -> TestApp {
    let origins = CorsOrigins::parse(origins).unwrap();
    app_with(move |s| {
        s.cors = Cors {
            origins,
            allow_credentials: false,
        }
    })
    .await
}

async fn get_from(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("Origin", origin)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_allowed_origin_gets_cors_headers_and_a_foreign_one_does_not() {
    let app = cors_app("https://shop.example, http://localhost:3000").await;
    let resp = get_from(&app, "/api/v1/products", "https://shop.example").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers();
    assert_eq!(
        header(h, "access-control-allow-origin"),
        Some("https://shop.example")
    );
    assert_lists(
        h,
        "access-control-expose-headers",
        &[
            "location",
            "retry-after",
            "x-request-id",
            "idempotent-replayed",
        ],
    );
    assert!(h.get("access-control-allow-credentials").is_none());
    // Errors carry them too, so that the page can read the problem.
    let resp = get_from(&app, "/api/v1/users/me", "http://localhost:3000").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(resp.headers(), "access-control-allow-origin"),
        Some("http://localhost:3000")
    );

    let resp = get_from(&app, "/api/v1/products", "https://evil.example").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn without_allowed_origins_there_are_no_cors_headers() {
    let app = app_with(|_| {}).await;
    let resp = get_from(&app, "/api/v1/products", "https://shop.example").await;
    assert!(
        !resp
            .headers()
            .keys()
            .any(|k| k.as_str().starts_with("access-control-")),
        "{:?}",
        resp.headers()
    );
}

#[tokio::test]
async fn a_preflight_answers_the_methods_and_headers_the_api_uses() {
    let app = cors_app("https://shop.example").await;
    let resp = app
        .client
        .request(Method::OPTIONS, app.url("/api/v1/orders"))
        .header("Origin", "https://shop.example")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type, idempotency-key, x-request-id",
        )
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "preflight answered {}",
        resp.status()
    );
    let h = resp.headers();
    assert_eq!(
        header(h, "access-control-allow-origin"),
        Some("https://shop.example")
    );
    assert_lists(
        h,
        "access-control-allow-methods",
        &["GET", "POST", "PUT", "DELETE"],
    );
    assert_lists(
        h,
        "access-control-allow-headers",
        &[
            "authorization",
            "content-type",
            "idempotency-key",
            "x-request-id",
        ],
    );
    assert!(header(h, "access-control-max-age").is_some());

    // From a foreign origin the preflight grants nothing.
    let resp = app
        .client
        .request(Method::OPTIONS, app.url("/api/v1/orders"))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn credentials_are_allowed_only_when_configured() {
    let origins = CorsOrigins::parse("https://shop.example").unwrap();
    let app = app_with(move |s| {
        s.cors = Cors {
            origins,
            allow_credentials: true,
        }
    })
    .await;
    let resp = get_from(&app, "/api/v1/products", "https://shop.example").await;
    assert_eq!(
        header(resp.headers(), "access-control-allow-credentials"),
        Some("true")
    );
}

#[tokio::test]
async fn each_route_has_its_own_body_limit() {
    let app = app_with(|_| {}).await;
    let kib = |n: usize| "x".repeat(n * 1024);

    // Auth and users: 16 KiB.
    let login = json!({"username": kib(20), "password": "long enough"});
    assert_problem(app.post_json("/api/v1/auth/login", &login, None).await, 413).await;
    let register = json!({"email": "a@example.com", "password": kib(20)});
    assert_problem(
        app.post_json("/api/v1/auth/register", &register, None)
            .await,
        413,
    )
    .await;
    let (_, token) = app.user_token().await;
    let profile = json!({"first_name": kib(20)});
    assert_problem(
        app.put_json("/api/v1/users/me", &profile, Some(&token))
            .await,
        413,
    )
    .await;
    // Under the limit a body is judged on its content.
    let login = json!({"username": kib(12), "password": "long enough"});
    assert_eq!(
        app.post_json("/api/v1/auth/login", &login, None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // Products: 256 KiB, room for the longest description however it is written.
    let admin = app.admin_token().await;
    let product = |description: String| {
        json!({
            "sku": format!("SKU-{}", crate::helpers::unique()),
            "name": "Long",
            "description": description,
            "price": {"amount": "1.00", "currency": "EUR"},
            "stock": 1
        })
    };
    // 10,000 two-byte characters: 20 kB, over the auth limit, fine here.
    let created = app
        .create_product_with(&admin, &product("é".repeat(10_000)))
        .await;
    assert_eq!(
        created["description"].as_str().unwrap().chars().count(),
        10_000
    );
    let too_big = product("x".repeat(257 * 1024));
    assert_problem(
        app.post_json("/api/v1/products", &too_big, Some(&admin))
            .await,
        413,
    )
    .await;

    // Orders: 256 KiB; 100 lines are a few kB.
    let items: Vec<_> = (0..100)
        .map(|_| json!({"product_id": uuid::Uuid::now_v7(), "quantity": 1000}))
        .collect();
    let resp = app
        .post_json("/api/v1/orders", &json!({"items": items}), Some(&token))
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown products"
    );
    let padded = json!({"items": items, "shipping_address": {"line1": kib(300)}});
    assert_problem(
        app.post_json("/api/v1/orders", &padded, Some(&token)).await,
        413,
    )
    .await;
}

#[tokio::test]
async fn a_request_that_outlasts_the_timeout_answers_503_problem() {
    let app = app_with(|s| s.request_timeout = Duration::from_secs(1)).await;
    // A body that starts and then stalls keeps the handler waiting past the timeout.
    let body = futures_util::stream::unfold(0, |sent| async move {
        if sent == 0 {
            Some((
                Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{\"username\": ")),
                1,
            ))
        } else {
            tokio::time::sleep(Duration::from_secs(5)).await;
            None
        }
    });
    let started = std::time::Instant::now();
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header(CONTENT_TYPE, "application/json")
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    let body = assert_problem(resp, 503).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(
        body["detail"].as_str().unwrap().contains("too long"),
        "{body}"
    );
}
