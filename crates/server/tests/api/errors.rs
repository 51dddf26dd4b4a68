//! What a client that gets the protocol wrong sees: always a problem+json, never a 500.

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::json;

use crate::helpers::paths::REGISTER;
use crate::helpers::{PASSWORD, TestApp, assert_problem, assert_unauthorized, unique};

both_dbs!(
    malformed_json_is_a_400_problem,
    an_empty_json_body_is_a_400_problem,
    a_body_without_a_content_type_is_a_415_problem,
    a_text_plain_body_is_a_415_problem,
    a_json_body_over_the_limit_is_a_413_problem,
    json_of_the_wrong_shape_is_a_client_error,
    an_array_in_place_of_an_object_is_a_422_even_where_every_field_is_optional,
    an_email_that_cannot_be_a_username_needs_one_and_never_breaks_the_user_list,
    text_holding_a_nul_character_is_a_client_error,
    an_unknown_route_is_a_404_problem,
    a_wrong_method_is_a_405_problem,
    a_basic_authorization_header_is_a_401,
    a_bearer_header_without_a_token_is_a_401,
);

/// A registration sent as `content_type`, with `body` as it is (none when `None`).
async fn register_raw(
    app: &TestApp,
    content_type: &str,
    body: Option<&'static str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(REGISTER))
        .header(CONTENT_TYPE, content_type);
    if let Some(body) = body {
        req = req.body(body);
    }
    req.send().await.unwrap()
}

async fn malformed_json_is_a_400_problem(app: TestApp) {
    for body in [
        r#"{"email": "a@example.com", "password": "#,
        "{",
        "not json",
        r#"{"email": "a@example.com",}"#,
    ] {
        let resp = register_raw(&app, "application/json", Some(body)).await;
        assert_problem(resp, 400).await;
    }
}

async fn an_empty_json_body_is_a_400_problem(app: TestApp) {
    let resp = register_raw(&app, "application/json", None).await;
    assert_problem(resp, 400).await;
}

async fn a_body_without_a_content_type_is_a_415_problem(app: TestApp) {
    let resp = app.client.post(app.url(REGISTER)).send().await.unwrap();
    assert_problem(resp, 415).await;

    let admin = app.admin_token().await;
    let resp = app.post("/api/v1/products", Some(&admin)).await;
    assert_problem(resp, 415).await;
}

async fn a_text_plain_body_is_a_415_problem(app: TestApp) {
    let body = r#"{"email": "a@example.com", "password": "long enough"}"#;
    let resp = register_raw(&app, "text/plain", Some(body)).await;
    assert_problem(resp, 415).await;
}

async fn a_json_body_over_the_limit_is_a_413_problem(app: TestApp) {
    // The registration route takes at most 16 KiB (each route's limit: headers.rs).
    let body = json!({
        "email": "big@example.com",
        "password": "long enough",
        "first_name": "x".repeat(16 * 1024 + 1),
    });
    let resp = app.post_json(REGISTER, &body, None).await;
    assert_problem(resp, 413).await;

    // Just under the limit the body is read, and judged on its content instead.
    let body = json!({
        "email": "big@example.com",
        "password": "long enough",
        "first_name": "x".repeat(15 * 1024),
    });
    let resp = app.post_json(REGISTER, &body, None).await;
    assert_ne!(
        resp.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "a body under 16 KiB is refused for its size"
    );
}

async fn json_of_the_wrong_shape_is_a_client_error(app: TestApp) {
    for body in [
        json!([]),
        json!("text"),
        json!(42),
        json!(null),
        json!({"email": ["a"], "password": {}}),
    ] {
        let resp = app.post_json(REGISTER, &body, None).await;
        let status = resp.status().as_u16();
        assert!(status == 400 || status == 422, "{body} answered {status}");
        assert_problem(resp, status).await;
    }
}

async fn an_array_in_place_of_an_object_is_a_422_even_where_every_field_is_optional(app: TestApp) {
    let (_, token) = app.user_token().await;
    // serde reads a struct from an array of its fields; `[null, null]` once updated the profile.
    for body in [json!([null, null]), json!([]), json!(["Ann", "Lee"])] {
        let resp = app.put_json("/api/v1/users/me", &body, Some(&token)).await;
        let problem = assert_problem(resp, 422).await;
        assert_eq!(
            problem["errors"][0]["field"],
            json!("body"),
            "{body}: {problem}"
        );
    }
    let me: serde_json::Value = app.get_json("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me["first_name"], json!(null), "{me}");
}

async fn an_email_that_cannot_be_a_username_needs_one_and_never_breaks_the_user_list(app: TestApp) {
    let admin = app.admin_token().await;
    let long = format!("{}@example.com", "a".repeat(60));
    for email in ["ann!lee@example.com", "zoë@example.com", long.as_str()] {
        let resp = app.post_register(email, PASSWORD).await;
        let problem = assert_problem(resp, 422).await;
        assert_eq!(
            problem["errors"][0]["field"],
            json!("username"),
            "{email}: {problem}"
        );
        let resp = app
            .post_json(
                REGISTER,
                &json!({"email": email, "password": PASSWORD, "username": format!("u{}", unique())}),
                None,
            )
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "{email} with a username"
        );
    }
    // Every stored account reads back (a username the rules refuse once made this a 500).
    let resp = app.get("/api/v1/users?per_page=100", Some(&admin)).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

async fn text_holding_a_nul_character_is_a_client_error(app: TestApp) {
    // PostgreSQL text cannot hold U+0000, so each of these must be caught before the database.
    let nul = "a\u{0}b";
    let cases = [
        (
            "/api/v1/auth/login",
            json!({"username": nul, "password": "whatever"}),
        ),
        (
            "/api/v1/auth/login",
            json!({"username": "someone@example.com", "password": nul}),
        ),
        (
            "/api/v1/auth/register",
            json!({"email": format!("{nul}@example.com"), "password": "long enough"}),
        ),
        (
            "/api/v1/auth/register",
            json!({"email": "nul@example.com", "password": "long enough", "username": nul}),
        ),
        (
            "/api/v1/auth/register",
            json!({"email": "nul2@example.com", "password": "long enough", "first_name": nul}),
        ),
        ("/api/v1/auth/refresh", json!({"refresh_token": nul})),
    ];
    let mut failures = Vec::new();
    for (path, body) in cases {
        let resp = app.post_json(path, &body, None).await;
        let status = resp.status();
        if !status.is_client_error() {
            let text = resp.text().await.unwrap_or_default();
            failures.push(format!("POST {path} {body} answered {status}: {text}"));
        } else {
            assert_problem(resp, status.as_u16()).await;
        }
    }
    let resp = app
        .post_json("/api/v1/auth/logout", &json!({"refresh_token": nul}), None)
        .await;
    if resp.status() != StatusCode::NO_CONTENT && !resp.status().is_client_error() {
        failures.push(format!(
            "POST /api/v1/auth/logout answered {}",
            resp.status()
        ));
    }
    let (_, token) = app.user_token().await;
    let resp = app
        .put_json(
            "/api/v1/users/me",
            &json!({"first_name": nul}),
            Some(&token),
        )
        .await;
    if !resp.status().is_client_error() {
        failures.push(format!(
            "PUT /api/v1/users/me with a NUL first_name answered {}",
            resp.status()
        ));
    }
    assert!(
        failures.is_empty(),
        "{} server errors:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

async fn an_unknown_route_is_a_404_problem(app: TestApp) {
    for path in [
        "/api/v1/no-such-thing",
        "/no-such-thing",
        "/api/v2/products",
    ] {
        assert_problem(app.get(path, None).await, 404).await;
    }
}

async fn a_wrong_method_is_a_405_problem(app: TestApp) {
    let resp = app
        .client
        .patch(app.url("/api/v1/products"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 405).await;
    let resp = app.delete("/api/v1/auth/login", None).await;
    assert_problem(resp, 405).await;
}

/// `GET /users/me` with `value` as the `Authorization` header.
async fn me_with_authorization(app: &TestApp, value: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/v1/users/me"))
        .header(AUTHORIZATION, value)
        .send()
        .await
        .unwrap()
}

async fn a_basic_authorization_header_is_a_401(app: TestApp) {
    for value in ["Basic x", "Basic YWRtaW46YWRtaW4="] {
        let resp = me_with_authorization(&app, value).await;
        assert_unauthorized(resp).await;
    }
}

async fn a_bearer_header_without_a_token_is_a_401(app: TestApp) {
    for value in ["Bearer", "Bearer ", "bearer"] {
        let resp = me_with_authorization(&app, value).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "for `{value}`");
        assert_unauthorized(resp).await;
    }
}
