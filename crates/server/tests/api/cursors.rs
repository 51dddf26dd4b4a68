//! Cursor pagination: every list answers `next_cursor` (`null` on its last page) and takes it
//! back as `cursor`. A walk by cursor sees each item once, in the list's order, also while
//! items are added; a cursor is bound to its list, filters and sort, and one that was changed
//! or made up is 422 on `cursor`.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_invalid, str_of, unique};

both_dbs!(
    cursor_walks_of_events_users_and_webhook_lists_see_each_item_once_in_order,
    cursor_walks_of_orders_see_each_order_once_for_the_admin_and_the_buyer,
    cursor_walks_of_products_see_each_product_once_in_every_sort,
    cursor_walks_of_a_product_search_see_each_match_once,
    a_cursor_of_another_list_sort_or_filter_is_422_on_cursor,
    a_changed_or_made_up_cursor_is_422_on_cursor,
    the_last_page_has_no_cursor_and_a_cursor_ignores_page,
    a_cursor_after_the_longest_name_that_folds_widest_is_taken_back,
);

/// `path` with `more` added to its query.
fn with(path: &str, more: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}{more}")
}

/// One page of `path` (200 expected).
async fn page(app: &TestApp, path: &str, token: Option<&str>) -> Value {
    let resp = app.get(path, token).await;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
    let page: Value = serde_json::from_str(&text).unwrap();
    assert!(
        page.get("next_cursor").is_some(),
        "no next_cursor in {page}"
    );
    page
}

/// The ids of a page's items.
fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {page}"))
        .iter()
        .map(|i| str_of(i, "id"))
        .collect()
}

/// Every id of the list `path`, in one page of 100 (the reference order).
async fn all_ids(app: &TestApp, path: &str, token: Option<&str>) -> Vec<String> {
    let p = page(app, &with(path, "per_page=100"), token).await;
    assert_eq!(p["next_cursor"], Value::Null, "more than 100 in {path}");
    ids(&p)
}

/// Walks `path` by cursor, `per_page` at a time, calling `meanwhile` after the first page
/// (to add items while the walk goes on); the ids seen, in order. Each page but the last is
/// full and has a cursor.
async fn walk<F, Fut>(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    per_page: u32,
    mut meanwhile: F,
) -> Vec<String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut seen = Vec::new();
    let mut next = page(app, &with(path, &format!("per_page={per_page}")), token).await;
    meanwhile().await;
    for _ in 0..1000 {
        let items = ids(&next);
        seen.extend(items.clone());
        match next["next_cursor"].as_str() {
            None => return seen,
            Some(cursor) => {
                assert_eq!(items.len(), per_page as usize, "a short page with a cursor");
                assert!(!cursor.is_empty());
                let url = with(path, &format!("per_page={per_page}&cursor={cursor}"));
                next = page(app, &url, token).await;
            }
        }
    }
    panic!("the walk of {path} does not end");
}

/// Checks that a walk saw every id of `before` once, in `before`'s order, and nothing twice.
fn assert_walk(walked: &[String], before: &[String], what: &str) {
    let unique: HashSet<&String> = walked.iter().collect();
    assert_eq!(
        unique.len(),
        walked.len(),
        "{what}: an item seen twice: {walked:?}"
    );
    let known: HashSet<&String> = before.iter().collect();
    let old: Vec<&String> = walked.iter().filter(|id| known.contains(id)).collect();
    let expected: Vec<&String> = before.iter().collect();
    assert_eq!(old, expected, "{what}: the walk skipped or reordered items");
}

async fn endpoint(app: &TestApp, admin: &str) -> String {
    let resp = app
        .post_json(
            "/api/v1/webhook-endpoints",
            &json!({"url": "https://93.184.216.34/hooks", "events": ["product.created"]}),
            Some(admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    str_of(&resp.json::<Value>().await.unwrap(), "id")
}

async fn products(app: &TestApp, admin: &str, n: usize) {
    for _ in 0..n {
        app.create_product(admin, &format!("CUR-{}", unique()))
            .await;
    }
}

async fn cursor_walks_of_events_users_and_webhook_lists_see_each_item_once_in_order(app: TestApp) {
    let admin = app.admin_token().await;
    let hook = endpoint(&app, &admin).await;
    for _ in 0..4 {
        endpoint(&app, &admin).await;
    }
    for _ in 0..5 {
        app.user_token().await;
    }
    // Each product tells `hook` (and the other endpoints) of its creation: deliveries, and
    // `product.created` events.
    products(&app, &admin, 7).await;
    let deliveries = format!("/api/v1/webhook-endpoints/{hook}/deliveries");
    for path in [
        "/api/v1/events".to_owned(),
        "/api/v1/events?type=product.created".to_owned(),
        "/api/v1/users".to_owned(),
        "/api/v1/webhook-endpoints".to_owned(),
        deliveries,
    ] {
        let before = all_ids(&app, &path, Some(&admin)).await;
        assert!(before.len() >= 6, "{path}: {before:?}");
        // Items added after the first page are newer: they come before the walk's cursor.
        let walked = walk(&app, &path, Some(&admin), 2, || async {
            products(&app, &admin, 2).await;
            app.user_token().await;
            endpoint(&app, &admin).await;
        })
        .await;
        assert_walk(&walked, &before, &path);
        assert_eq!(
            walked, before,
            "{path}: the newer items showed up in the walk"
        );
    }
}

async fn cursor_walks_of_orders_see_each_order_once_for_the_admin_and_the_buyer(app: TestApp) {
    let admin = app.admin_token().await;
    let product = app
        .create_product_priced(&admin, &format!("CUR-{}", unique()), "1.00", "EUR", 1000)
        .await;
    let product_id = str_of(&product, "id");
    let (_, buyer) = app.user_token().await;
    let (_, other) = app.user_token().await;
    let place = |token: String| {
        let app = &app;
        let product_id = product_id.clone();
        async move {
            let resp = app
                .post_json(
                    "/api/v1/orders",
                    &json!({"items": [{"product_id": product_id, "quantity": 1}]}),
                    Some(&token),
                )
                .await;
            assert_eq!(resp.status(), StatusCode::CREATED);
        }
    };
    for _ in 0..5 {
        place(buyer.clone()).await;
        place(other.clone()).await;
    }
    for (path, token) in [
        ("/api/v1/orders", &admin),
        ("/api/v1/orders?status=pending", &admin),
        ("/api/v1/orders", &buyer),
    ] {
        let before = all_ids(&app, path, Some(token)).await;
        assert!(before.len() >= 5, "{path}: {before:?}");
        let walked = walk(&app, path, Some(token), 3, || async {
            place(buyer.clone()).await;
            place(other.clone()).await;
        })
        .await;
        assert_walk(&walked, &before, path);
        assert_eq!(walked, before, "{path}");
    }
}

async fn cursor_walks_of_products_see_each_product_once_in_every_sort(app: TestApp) {
    let admin = app.admin_token().await;
    // Repeated prices and names, so that the tie-breaker decides within each.
    let make = |name: &'static str, price: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let body = json!({
                "sku": format!("CUR-{}", unique()),
                "name": name,
                "description": format!("{name} {}", unique()),
                "price": {"amount": price, "currency": "EUR"},
                "stock": 5,
            });
            app.create_product_with(&admin, &body).await;
        }
    };
    for (name, price) in [
        ("Mug", "5.00"),
        ("bowl", "7.50"),
        ("Mug", "5.00"),
        ("Plate", "9.00"),
        ("ÄPFEL Tray", "5.00"),
        ("bowl", "12.00"),
        ("Cup", "7.50"),
        ("mug", "1.00"),
        ("Zebra Mug", "20.00"),
    ] {
        make(name, price).await;
    }
    for sort in [
        "newest",
        "oldest",
        "price_asc",
        "price_desc",
        "name_asc",
        "relevance",
    ] {
        for filter in ["", "&currency=EUR&min_price=2.00", "&in_stock=true", "&q=u"] {
            let path = format!("/api/v1/products?sort={sort}{filter}");
            let before = all_ids(&app, &path, None).await;
            assert!(!before.is_empty(), "{path}");
            // New products land at either end and in the middle of each order.
            let walked = walk(&app, &path, None, 2, || async {
                make("Mug", "5.00").await;
                make("Aardvark cup", "0.50").await;
                make("Nap", "8.00").await;
            })
            .await;
            assert_walk(&walked, &before, &path);
        }
    }
}

async fn cursor_walks_of_a_product_search_see_each_match_once(app: TestApp) {
    let admin = app.admin_token().await;
    for i in 0..7 {
        let body = json!({
            "sku": format!("CUR-{}", unique()),
            "name": format!("Teapot {i}"),
            "price": {"amount": "3.00", "currency": "EUR"},
            "stock": 1,
        });
        app.create_product_with(&admin, &body).await;
    }
    app.create_product(&admin, &format!("CUR-{}", unique()))
        .await;
    // Three characters or more, public, newest first: SQLite answers from its trigram index.
    for (path, token) in [
        ("/api/v1/products?q=teapot", None),
        ("/api/v1/products?q=teapot", Some(admin.as_str())),
        ("/api/v1/products?q=te", None),
    ] {
        let before = all_ids(&app, path, token).await;
        assert!(before.len() >= 7, "{path}: {before:?}");
        let walked = walk(&app, path, token, 3, || async {
            let body = json!({
                "sku": format!("CUR-{}", unique()),
                "name": "Teapot new",
                "price": {"amount": "3.00", "currency": "EUR"},
                "stock": 1,
            });
            app.create_product_with(&admin, &body).await;
        })
        .await;
        assert_walk(&walked, &before, path);
        assert_eq!(walked, before, "{path}");
    }
}

/// The `next_cursor` of the first page of `path`, `per_page=1`.
async fn first_cursor(app: &TestApp, path: &str, token: Option<&str>) -> String {
    let p = page(app, &with(path, "per_page=1"), token).await;
    str_of(&p, "next_cursor")
}

async fn a_cursor_of_another_list_sort_or_filter_is_422_on_cursor(app: TestApp) {
    let admin = app.admin_token().await;
    products(&app, &admin, 3).await;
    app.user_token().await;
    let events = first_cursor(&app, "/api/v1/events", Some(&admin)).await;
    let by_price = first_cursor(&app, "/api/v1/products?sort=price_asc", None).await;
    let newest = first_cursor(&app, "/api/v1/products", None).await;
    for (path, cursor) in [
        ("/api/v1/users", &events),
        ("/api/v1/orders", &events),
        ("/api/v1/webhook-endpoints", &events),
        ("/api/v1/events?type=product.created", &events),
        ("/api/v1/products", &events),
        ("/api/v1/products?sort=name_asc", &by_price),
        ("/api/v1/products?sort=price_desc", &by_price),
        ("/api/v1/products?sort=price_asc&in_stock=true", &by_price),
        ("/api/v1/products?sort=oldest", &newest),
        ("/api/v1/products?q=mug", &newest),
        ("/api/v1/categories", &newest),
    ] {
        let resp = app
            .get(&with(path, &format!("cursor={cursor}")), Some(&admin))
            .await;
        assert_eq!(assert_invalid(resp).await, ["cursor"], "{path}");
    }
    // The same list, sort and filters take it.
    let resp = app
        .get(
            &format!("/api/v1/products?sort=price_asc&cursor={by_price}"),
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

async fn a_changed_or_made_up_cursor_is_422_on_cursor(app: TestApp) {
    let admin = app.admin_token().await;
    products(&app, &admin, 3).await;
    let cursor = first_cursor(&app, "/api/v1/products?sort=price_asc", None).await;
    let mut changed = Vec::new();
    for i in 0..cursor.len() {
        let mut bytes = cursor.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        changed.push(String::from_utf8(bytes).unwrap());
    }
    let made_up = [
        String::new(),
        "abc".to_owned(),
        "%2B%2F".to_owned(),
        "eyJpZCI6MX0".to_owned(),
        "A".repeat(5000),
        format!("{cursor}A"),
        cursor[..cursor.len() - 2].to_owned(),
    ];
    for bad in changed.iter().chain(made_up.iter()) {
        let resp = app
            .get(
                &format!("/api/v1/products?sort=price_asc&cursor={bad}"),
                None,
            )
            .await;
        assert_eq!(assert_invalid(resp).await, ["cursor"], "{bad}");
    }
    for path in [
        "/api/v1/events?cursor=abc",
        "/api/v1/users?cursor=abc",
        "/api/v1/orders?cursor=abc",
        "/api/v1/webhook-endpoints?cursor=abc",
        "/api/v1/categories?cursor=abc",
    ] {
        let resp = app.get(path, Some(&admin)).await;
        assert_eq!(assert_invalid(resp).await, ["cursor"], "{path}");
    }
    let hook = endpoint(&app, &admin).await;
    let resp = app
        .get(
            &format!("/api/v1/webhook-endpoints/{hook}/deliveries?cursor=abc"),
            Some(&admin),
        )
        .await;
    assert_eq!(assert_invalid(resp).await, ["cursor"]);
}

async fn the_last_page_has_no_cursor_and_a_cursor_ignores_page(app: TestApp) {
    let admin = app.admin_token().await;
    products(&app, &admin, 3).await;
    let all = page(&app, "/api/v1/products?per_page=3", None).await;
    assert_eq!(all["next_cursor"], Value::Null);
    let empty = page(&app, "/api/v1/products?q=nothing-like-this", None).await;
    assert_eq!(empty["next_cursor"], Value::Null);
    assert_eq!(empty["items"], json!([]));
    let categories = page(&app, "/api/v1/categories", None).await;
    assert_eq!(categories["next_cursor"], Value::Null);
    let first = page(&app, "/api/v1/products?per_page=2", None).await;
    let cursor = str_of(&first, "next_cursor");
    // `page` is ignored with a cursor, even one that would be refused on its own.
    for p in ["1", "2", "999", "abc", "0"] {
        let last = page(
            &app,
            &format!("/api/v1/products?per_page=2&page={p}&cursor={cursor}"),
            None,
        )
        .await;
        assert_eq!(ids(&last).len(), 1, "page={p}");
        assert_eq!(last["next_cursor"], Value::Null);
        assert_eq!(last["total"], 3);
        assert_eq!(last["page"], 1);
    }
    // `per_page` is still checked.
    let resp = app
        .get(
            &format!("/api/v1/products?per_page=0&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(assert_invalid(resp).await, ["per_page"]);
    // A page number and its cursor walk agree.
    let second = page(&app, "/api/v1/products?per_page=2&page=2", None).await;
    assert!(second["next_cursor"].is_null());
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
}

async fn a_cursor_after_the_longest_name_that_folds_widest_is_taken_back(app: TestApp) {
    let admin = app.admin_token().await;
    // U+0390 is 2 bytes and folds to 3 characters (6 bytes): the name sort's cursor carries
    // the folded name.
    let name: String = std::iter::repeat_n('\u{390}', 200).collect();
    for _ in 0..3 {
        let body = json!({
            "sku": format!("CUR-{}", unique()),
            "name": name,
            "price": {"amount": "1.00", "currency": "EUR"},
            "stock": 1,
        });
        app.create_product_with(&admin, &body).await;
    }
    let path = "/api/v1/products?sort=name_asc";
    let before = all_ids(&app, path, None).await;
    let walked = walk(&app, path, None, 1, || async {}).await;
    assert_eq!(walked, before);
}
