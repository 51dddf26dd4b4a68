//! The catalog list's kept totals under concurrent writes: many creates, status changes,
//! variant changes and deletes at once, through HTTP, and then the totals the lists answer
//! equal a real count of the stored rows.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, str_of, unique};

both_dbs!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    racing_creates_deletes_and_status_changes_keep_the_totals_equal_to_a_count,
);

const PRODUCTS: &str = "/api/v1/products";

/// One request with an admin token and an optional JSON body; its status and body.
async fn send(
    client: reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: String,
    body: Option<Value>,
) -> (StatusCode, String) {
    let mut req = client.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request failed");
    let status = resp.status();
    (status, resp.text().await.unwrap_or_default())
}

/// `sql` (one number) on the app's database, past the service.
async fn count(app: &TestApp, sql: &str) -> u64 {
    use sqlx::Connection;
    let url = app.settings.database_url.expose();
    let n: i64 = if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut conn)
            .await
            .unwrap()
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    u64::try_from(n).unwrap()
}

/// The `total` of `GET path` (and that it is not flagged as an estimate).
async fn total(app: &TestApp, path: &str, token: Option<&str>) -> u64 {
    let resp = app.get(path, token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page: Value = resp.json().await.unwrap();
    assert!(page.get("total_is_estimate").is_none(), "{page}");
    page["total"].as_u64().unwrap()
}

/// A product of two sizes (S and M), `status`.
fn two_sizes(status: &str) -> Value {
    let sku = unique();
    json!({
        "name": format!("Race tee {sku}"),
        "status": status,
        "options": [{"name": "Size", "values": ["S", "M"]}],
        "variants": [
            {"sku": format!("S-{sku}"), "option_values": {"Size": "S"}, "price": {"amount": "5.00", "currency": "EUR"}, "stock": 3},
            {"sku": format!("M-{sku}"), "option_values": {"Size": "M"}, "price": {"amount": "6.00", "currency": "EUR"}, "stock": 4}
        ]
    })
}

async fn racing_creates_deletes_and_status_changes_keep_the_totals_equal_to_a_count(app: TestApp) {
    let admin = app.admin_token().await;
    let url = |path: &str| app.url(path);
    // 30 to start with: 20 active, 10 drafts.
    let mut existing = Vec::new();
    for i in 0..30 {
        let status = if i % 3 == 0 { "draft" } else { "active" };
        existing.push(app.create_product_with(&admin, &two_sizes(status)).await);
    }
    let mut handles = Vec::new();
    let post = reqwest::Method::POST;
    let put = reqwest::Method::PUT;
    let delete = reqwest::Method::DELETE;
    for i in 0..40 {
        let status = ["active", "draft", "archived", "active"][i % 4];
        handles.push(tokio::spawn(send(
            app.client.clone(),
            post.clone(),
            url(PRODUCTS),
            admin.clone(),
            Some(two_sizes(status)),
        )));
    }
    for (i, p) in existing.iter().enumerate() {
        let path = format!("{PRODUCTS}/{}", str_of(p, "id"));
        let (method, body) = match i % 5 {
            // Deleted twice at once: one of the two deletes it.
            0 | 1 => (delete.clone(), None),
            2 => (put.clone(), Some(json!({"status": "archived"}))),
            3 => (put.clone(), Some(json!({"status": "active"}))),
            _ => (put.clone(), Some(json!({"status": "draft"}))),
        };
        handles.push(tokio::spawn(send(
            app.client.clone(),
            method.clone(),
            url(&path),
            admin.clone(),
            body.clone(),
        )));
        if i % 5 == 0 {
            handles.push(tokio::spawn(send(
                app.client.clone(),
                method,
                url(&path),
                admin.clone(),
                body,
            )));
        }
        // Variant changes of a product at once with the rest: added and removed.
        if i % 5 == 3 {
            let variant = str_of(&p["variants"][1], "id");
            handles.push(tokio::spawn(send(
                app.client.clone(),
                delete.clone(),
                url(&format!("{path}/variants/{variant}")),
                admin.clone(),
                None,
            )));
        }
    }
    let mut statuses = Vec::new();
    for h in handles {
        let (status, body) = h.await.expect("a request task panicked");
        assert!(
            [
                StatusCode::CREATED,
                StatusCode::OK,
                StatusCode::NO_CONTENT,
                StatusCode::NOT_FOUND
            ]
            .contains(&status),
            "{status} {body}"
        );
        statuses.push(status);
    }
    // Of each double delete, one 404.
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::NOT_FOUND)
            .count(),
        6
    );

    let live = "SELECT COUNT(*) FROM products WHERE deleted_at IS NULL";
    let all = count(&app, live).await;
    let active = count(&app, &format!("{live} AND status = 'active'")).await;
    // 30 + 40 - 12 deleted; active: 20 created, and of the old ones 6 made active (one of the
    // three of i % 5 == 3 was a draft: 6 in all) and none of the others left active.
    assert_eq!(all, 58);
    assert_eq!(active, 20 + 6);
    assert_eq!(total(&app, PRODUCTS, None).await, active);
    assert_eq!(total(&app, PRODUCTS, Some(&admin)).await, all);
    for status in ["draft", "active", "archived"] {
        let real = count(&app, &format!("{live} AND status = '{status}'")).await;
        let kept = count(
            &app,
            &format!("SELECT n FROM product_counts WHERE status = '{status}'"),
        )
        .await;
        assert_eq!(kept, real, "{status}");
        let path = format!("{PRODUCTS}?status={status}");
        assert_eq!(total(&app, &path, Some(&admin)).await, real, "{status}");
    }
}
