//! Health checks, the API description, and request ids.

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::helpers::{TestApp, header_text};

both_dbs!(
    the_liveness_check_answers_200,
    the_readiness_check_answers_200_with_the_database_up,
    the_openapi_document_describes_the_api,
    the_docs_page_renders_swagger_ui,
    a_sent_request_id_is_echoed,
    a_request_id_is_generated_when_none_is_sent,
);

async fn the_liveness_check_answers_200(app: TestApp) {
    assert_eq!(app.get("/health/live", None).await.status(), StatusCode::OK);
}

async fn the_readiness_check_answers_200_with_the_database_up(app: TestApp) {
    assert_eq!(
        app.get("/health/ready", None).await.status(),
        StatusCode::OK
    );
}

/// `GET path`, which must answer 200 with a content type that starts with `content_type`.
async fn get_ok_as(app: &TestApp, path: &str, content_type: &str) -> reqwest::Response {
    let resp = app.get(path, None).await;
    assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
    let got = header_text(&resp, CONTENT_TYPE);
    assert!(
        got.starts_with(content_type),
        "GET {path}: content-type `{got}`"
    );
    resp
}

async fn the_openapi_document_describes_the_api(app: TestApp) {
    let resp = get_ok_as(&app, "/api/v1/openapi.json", "application/json").await;
    let doc: Value = resp.json().await.unwrap();
    let version = doc["openapi"].as_str().expect("`openapi` is a string");
    assert!(version.starts_with("3.1"), "openapi version {version}");
    let paths = doc["paths"].as_object().expect("`paths` is an object");
    for path in [
        "/api/v1/products",
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/users",
        "/api/v1/users/me",
    ] {
        assert!(
            paths.contains_key(path),
            "no `{path}` in the OpenAPI paths: {:?}",
            paths.keys()
        );
    }
}

async fn the_docs_page_renders_swagger_ui(app: TestApp) {
    // The client follows redirects (e.g. /docs -> /docs/).
    let resp = get_ok_as(&app, "/docs", "text/html").await;
    let html = resp.text().await.unwrap();
    assert!(
        html.to_lowercase().contains("swagger"),
        "no Swagger UI in /docs: {html}"
    );
}

async fn a_sent_request_id_is_echoed(app: TestApp) {
    for path in ["/health/live", "/api/v1/products", "/api/v1/no-such-route"] {
        let resp = app
            .client
            .get(app.url(path))
            .header("X-Request-Id", "test-request-42")
            .send()
            .await
            .unwrap();
        let echoed = resp
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(echoed.as_deref(), Some("test-request-42"), "on {path}");
    }
}

async fn a_request_id_is_generated_when_none_is_sent(app: TestApp) {
    let mut seen = Vec::new();
    for path in [
        "/health/live",
        "/api/v1/products",
        "/api/v1/products",
        "/api/v1/no-such-route",
    ] {
        let resp = app.get(path, None).await;
        let id = resp
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("no X-Request-Id on {path}"))
            .to_str()
            .unwrap()
            .to_owned();
        assert!(!id.trim().is_empty(), "empty X-Request-Id on {path}");
        seen.push(id);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4, "generated request ids repeat");
}
