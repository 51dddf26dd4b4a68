//! The catalog's categories (a tree with slugs and kept counts) and its products' slugs,
//! statuses and categories.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_invalid, assert_problem, assert_unauthorized, names_of, str_of, timestamp,
    unique,
};

both_dbs!(
    an_admin_creates_a_category_that_anyone_reads_by_id_or_slug,
    slugs_are_made_from_names_numbered_on_a_clash_and_a_given_taken_one_is_a_conflict,
    bad_category_fields_are_refused_naming_each,
    categories_are_listed_by_position_then_name,
    only_admins_change_categories,
    updating_a_category_changes_only_what_is_given,
    a_category_cannot_sit_under_itself_or_below_itself,
    racing_moves_never_make_a_cycle,
    a_category_with_children_cannot_be_deleted_and_one_without_leaves_its_products,
    product_counts_follow_every_write,
    products_get_slugs_and_are_found_by_them,
    a_product_is_created_in_categories_and_moved_between_them,
    drafts_and_archived_products_are_seen_by_admins_only,
    a_product_that_is_not_active_cannot_be_ordered,
    bad_product_slugs_statuses_and_categories_are_refused,
    the_status_filter_is_for_admins_and_taken_as_sent,
    products_stored_before_slugs_get_them_from_their_names,
    a_category_filter_takes_in_the_categories_below_it,
    a_price_range_needs_its_currency_and_decimal_bounds,
    in_stock_shows_products_with_or_without_stock,
    lists_sort_as_asked_and_refuse_unknown_orders,
    a_search_lists_its_best_matches_first,
);

const CATEGORIES: &str = "/api/v1/categories";
const PRODUCTS: &str = "/api/v1/products";

fn id(v: &Value) -> String {
    str_of(v, "id")
}

/// Creates a category from `body` (201 expected).
async fn category(app: &TestApp, admin: &str, body: Value) -> Value {
    let resp = app.post_json(CATEGORIES, &body, Some(admin)).await;
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "creating {body}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn named(app: &TestApp, admin: &str, name: &str, parent: Option<&Value>) -> Value {
    let mut body = json!({"name": name});
    if let Some(p) = parent {
        body["parent_id"] = p["id"].clone();
    }
    category(app, admin, body).await
}

async fn read(app: &TestApp, path: &str, token: Option<&str>) -> Value {
    let resp = app.get(path, token).await;
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn count(app: &TestApp, c: &Value) -> u64 {
    read(app, &format!("{CATEGORIES}/{}", id(c)), None).await["product_count"]
        .as_u64()
        .unwrap()
}

async fn counts(app: &TestApp, cs: &[&Value]) -> Vec<u64> {
    let mut out = Vec::new();
    for c in cs {
        out.push(count(app, c).await);
    }
    out
}

/// A product of `body`'s fields on top of a valid one (201 expected).
async fn product(app: &TestApp, admin: &str, extra: Value) -> Value {
    let mut body = json!({
        "sku": format!("SKU-{}", unique()),
        "name": "Stoneware mug",
        "price": {"amount": "9.90", "currency": "EUR"},
        "stock": 5
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.create_product_with(admin, &body).await
}

async fn put(app: &TestApp, path: &str, body: Value, admin: &str) -> Value {
    let resp = app.put_json(path, &body, Some(admin)).await;
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "PUT {path} {body}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn an_admin_creates_a_category_that_anyone_reads_by_id_or_slug(app: TestApp) {
    let admin = app.admin_token().await;
    let resp = app
        .post_json(
            CATEGORIES,
            &json!({"name": "Kitchen", "description": "Pots and pans", "position": 3}),
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()[LOCATION].to_str().unwrap().to_owned();
    let kitchen: Value = resp.json().await.unwrap();
    assert_eq!(location, format!("{CATEGORIES}/{}", id(&kitchen)));
    assert_eq!(kitchen["name"], "Kitchen");
    assert_eq!(kitchen["slug"], "kitchen");
    assert_eq!(kitchen["parent_id"], Value::Null);
    assert_eq!(kitchen["description"], "Pots and pans");
    assert_eq!(kitchen["position"], 3);
    assert_eq!(kitchen["product_count"], 0);
    assert_eq!(
        timestamp(&kitchen["created_at"]),
        timestamp(&kitchen["updated_at"])
    );
    let mugs = named(&app, &admin, "Mugs", Some(&kitchen)).await;
    assert_eq!(mugs["parent_id"], kitchen["id"]);
    assert_eq!(mugs["description"], Value::Null);
    assert_eq!(mugs["position"], 0);

    assert_eq!(read(&app, &location, None).await, kitchen);
    assert_eq!(
        read(&app, &format!("{CATEGORIES}/kitchen"), None).await,
        kitchen
    );
    assert_eq!(read(&app, &format!("{CATEGORIES}/mugs"), None).await, mugs);
    let all = read(&app, CATEGORIES, None).await;
    assert_eq!(all, json!({"items": [mugs, kitchen], "next_cursor": null}));
    for missing in [
        format!("{CATEGORIES}/{}", uuid::Uuid::now_v7()),
        format!("{CATEGORIES}/no-such-slug"),
        format!("{CATEGORIES}/Not%20A%20Slug"),
    ] {
        assert_problem(app.get(&missing, None).await, 404).await;
    }
}

async fn slugs_are_made_from_names_numbered_on_a_clash_and_a_given_taken_one_is_a_conflict(
    app: TestApp,
) {
    let admin = app.admin_token().await;
    let first = named(&app, &admin, "Blue Mug!", None).await;
    assert_eq!(first["slug"], "blue-mug");
    let second = named(&app, &admin, "blue mug", None).await;
    assert_eq!(second["slug"], "blue-mug-2");
    let third = named(&app, &admin, "  BLUE -- MUG ", None).await;
    assert_eq!(third["slug"], "blue-mug-3");
    let given = category(&app, &admin, json!({"name": "Other", "slug": "blue-mug-9"})).await;
    assert_eq!(given["slug"], "blue-mug-9");
    let nothing = named(&app, &admin, "日本", None).await;
    assert_eq!(nothing["slug"], "category");
    let body = assert_problem(
        app.post_json(
            CATEGORIES,
            &json!({"name": "Again", "slug": "blue-mug"}),
            Some(&admin),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "slug", "{body}");
    let body = assert_problem(
        app.put_json(
            &format!("{CATEGORIES}/{}", id(&second)),
            &json!({"slug": "blue-mug"}),
            Some(&admin),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "slug", "{body}");
    assert_eq!(count(&app, &second).await, 0);
    assert_eq!(
        read(&app, &format!("{CATEGORIES}/{}", id(&second)), None).await["slug"],
        "blue-mug-2"
    );
}

async fn bad_category_fields_are_refused_naming_each(app: TestApp) {
    let admin = app.admin_token().await;
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({}), "name"),
        (json!({"name": "A", "slug": ""}), "slug"),
        (json!({"name": "A", "slug": "Blue"}), "slug"),
        (json!({"name": "A", "slug": "a b"}), "slug"),
        (json!({"name": "A", "slug": "x".repeat(101)}), "slug"),
        (
            json!({"name": "A", "slug": "0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d"}),
            "slug",
        ),
        (json!({"name": "A", "position": -1}), "position"),
        (json!({"name": "A", "position": 1_000_001}), "position"),
        (json!({"name": "A", "position": "1"}), "position"),
        (
            json!({"name": "A", "parent_id": uuid::Uuid::now_v7()}),
            "parent_id",
        ),
        (json!({"name": "A", "parent_id": "nope"}), "parent_id"),
        (
            json!({"name": "A", "description": "a\u{0}b"}),
            "description",
        ),
    ] {
        let fields = assert_invalid(app.post_json(CATEGORIES, &body, Some(&admin)).await).await;
        assert_eq!(fields, [field], "{body}");
    }
    let edge = category(
        &app,
        &admin,
        json!({"name": "x".repeat(200), "slug": "y".repeat(100), "position": 1_000_000}),
    )
    .await;
    assert_eq!(edge["position"], 1_000_000);
    assert_eq!(read(&app, CATEGORIES, None).await["items"], json!([edge]));
}

async fn categories_are_listed_by_position_then_name(app: TestApp) {
    let admin = app.admin_token().await;
    for (name, position) in [("b", 1), ("a", 2), ("c", 1), ("d", 0), ("A", 2)] {
        category(&app, &admin, json!({"name": name, "position": position})).await;
    }
    let all = read(&app, CATEGORIES, None).await;
    let names: Vec<String> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| str_of(c, "name"))
        .collect();
    assert_eq!(names, ["d", "b", "c", "A", "a"]);
}

async fn only_admins_change_categories(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, user) = app.user_token().await;
    let c = named(&app, &admin, "Mugs", None).await;
    let path = format!("{CATEGORIES}/{}", id(&c));
    let body = json!({"name": "Cups"});
    assert_problem(app.post_json(CATEGORIES, &body, Some(&user)).await, 403).await;
    assert_problem(app.put_json(&path, &body, Some(&user)).await, 403).await;
    assert_problem(app.delete(&path, Some(&user)).await, 403).await;
    assert_unauthorized(app.post_json(CATEGORIES, &body, None).await).await;
    assert_unauthorized(app.put_json(&path, &body, None).await).await;
    assert_unauthorized(app.delete(&path, None).await).await;
    assert_eq!(read(&app, &path, Some(&user)).await, c);
}

async fn updating_a_category_changes_only_what_is_given(app: TestApp) {
    let admin = app.admin_token().await;
    let top = named(&app, &admin, "Top", None).await;
    let c = category(
        &app,
        &admin,
        json!({"name": "Mugs", "description": "Cups", "position": 4, "parent_id": top["id"]}),
    )
    .await;
    let path = format!("{CATEGORIES}/{}", id(&c));
    let changed = put(&app, &path, json!({"name": "Big mugs"}), &admin).await;
    assert_eq!(changed["name"], "Big mugs");
    assert_eq!(changed["slug"], "mugs", "the slug stays");
    assert_eq!(
        (
            &changed["description"],
            &changed["position"],
            &changed["parent_id"]
        ),
        (&c["description"], &c["position"], &c["parent_id"])
    );
    assert!(timestamp(&changed["updated_at"]) >= timestamp(&c["updated_at"]));
    let changed = put(
        &app,
        &path,
        json!({"description": null, "parent_id": null, "slug": "big-mugs", "position": 7}),
        &admin,
    )
    .await;
    assert_eq!(changed["description"], Value::Null);
    assert_eq!(changed["parent_id"], Value::Null);
    assert_eq!(changed["slug"], "big-mugs");
    assert_eq!(changed["position"], 7);
    assert_eq!(
        read(&app, &format!("{CATEGORIES}/big-mugs"), None).await,
        changed
    );
    assert_problem(app.get(&format!("{CATEGORIES}/mugs"), None).await, 404).await;
    let fields = assert_invalid(
        app.put_json(&path, &json!({"slug": ""}), Some(&admin))
            .await,
    )
    .await;
    assert_eq!(fields, ["slug"]);
    let missing = format!("{CATEGORIES}/{}", uuid::Uuid::now_v7());
    assert_problem(
        app.put_json(&missing, &json!({"name": "X"}), Some(&admin))
            .await,
        404,
    )
    .await;
    assert_problem(app.delete(&missing, Some(&admin)).await, 404).await;
}

async fn a_category_cannot_sit_under_itself_or_below_itself(app: TestApp) {
    let admin = app.admin_token().await;
    let a = named(&app, &admin, "A", None).await;
    let b = named(&app, &admin, "B", Some(&a)).await;
    let c = named(&app, &admin, "C", Some(&b)).await;
    for (moved, parent) in [(&a, &a), (&a, &b), (&a, &c), (&b, &c), (&c, &c)] {
        let resp = app
            .put_json(
                &format!("{CATEGORIES}/{}", id(moved)),
                &json!({"parent_id": parent["id"]}),
                Some(&admin),
            )
            .await;
        assert_eq!(assert_invalid(resp).await, ["parent_id"]);
    }
    let resp = app
        .put_json(
            &format!("{CATEGORIES}/{}", id(&a)),
            &json!({"parent_id": uuid::Uuid::now_v7()}),
            Some(&admin),
        )
        .await;
    assert_eq!(assert_invalid(resp).await, ["parent_id"]);
    // Nothing moved; a move down the other way is fine.
    assert_eq!(
        read(&app, &format!("{CATEGORIES}/a"), None).await["parent_id"],
        Value::Null
    );
    let moved = put(
        &app,
        &format!("{CATEGORIES}/{}", id(&c)),
        json!({"parent_id": a["id"]}),
        &admin,
    )
    .await;
    assert_eq!(moved["parent_id"], a["id"]);
    // Its old parent may now go below it.
    let moved = put(
        &app,
        &format!("{CATEGORIES}/{}", id(&b)),
        json!({"parent_id": c["id"]}),
        &admin,
    )
    .await;
    assert_eq!(moved["parent_id"], c["id"]);
}

/// Follows the parents of every category: none may come back to where it started.
async fn assert_no_cycle(app: &TestApp) {
    let all = read(app, CATEGORIES, None).await;
    let items = all["items"].as_array().unwrap();
    let parent = |id: &Value| {
        items
            .iter()
            .find(|c| &c["id"] == id)
            .map(|c| c["parent_id"].clone())
            .unwrap_or(Value::Null)
    };
    for c in items {
        let mut at = c["parent_id"].clone();
        for _ in 0..=items.len() {
            assert_ne!(at, c["id"], "a cycle through {c}: {all}");
            if at.is_null() {
                break;
            }
            at = parent(&at);
        }
        assert!(at.is_null(), "no way to the top from {c}: {all}");
    }
}

async fn racing_moves_never_make_a_cycle(app: TestApp) {
    let admin = app.admin_token().await;
    for round in 0..8 {
        let a = named(&app, &admin, &format!("A{round}"), None).await;
        let b = named(&app, &admin, &format!("B{round}"), None).await;
        let move_under = |moved: &Value, parent: &Value| {
            let path = format!("{CATEGORIES}/{}", id(moved));
            let body = json!({"parent_id": parent["id"]});
            let (app, admin) = (&app, &admin);
            async move { app.put_json(&path, &body, Some(admin)).await.status() }
        };
        let (first, second) = tokio::join!(move_under(&a, &b), move_under(&b, &a));
        let mut statuses = [first.as_u16(), second.as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 422], "round {round}");
        assert_no_cycle(&app).await;
    }
}

async fn a_category_with_children_cannot_be_deleted_and_one_without_leaves_its_products(
    app: TestApp,
) {
    let admin = app.admin_token().await;
    let top = named(&app, &admin, "Top", None).await;
    let leaf = named(&app, &admin, "Leaf", Some(&top)).await;
    let p = product(
        &app,
        &admin,
        json!({"category_ids": [leaf["id"], top["id"]]}),
    )
    .await;
    assert_eq!(counts(&app, &[&top, &leaf]).await, [1, 1]);
    let body = assert_problem(
        app.delete(&format!("{CATEGORIES}/{}", id(&top)), Some(&admin))
            .await,
        409,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("child"), "{body}");
    let resp = app
        .delete(&format!("{CATEGORIES}/{}", id(&leaf)), Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&format!("{CATEGORIES}/leaf"), None).await, 404).await;
    let product = read(&app, &format!("{PRODUCTS}/{}", id(&p)), None).await;
    assert_eq!(
        product["categories"],
        json!([{"id": top["id"], "name": "Top", "slug": "top"}])
    );
    assert_eq!(count(&app, &top).await, 1, "still in the top one itself");
    let resp = app
        .delete(&format!("{CATEGORIES}/{}", id(&top)), Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let product = read(&app, &format!("{PRODUCTS}/{}", id(&p)), None).await;
    assert_eq!(product["categories"], json!([]));
    assert_eq!(read(&app, CATEGORIES, None).await["items"], json!([]));
}

async fn product_counts_follow_every_write(app: TestApp) {
    let admin = app.admin_token().await;
    let a = named(&app, &admin, "A", None).await;
    let b = named(&app, &admin, "B", Some(&a)).await;
    let c = named(&app, &admin, "C", Some(&b)).await;
    let other = named(&app, &admin, "Other", None).await;
    let all = [&a, &b, &c, &other];
    // In C: counted in C and above it.
    let p1 = product(&app, &admin, json!({"category_ids": [c["id"]]})).await;
    assert_eq!(counts(&app, &all).await, [1, 1, 1, 0]);
    // In B and C: counted once in each.
    let p2 = product(&app, &admin, json!({"category_ids": [b["id"], c["id"]]})).await;
    assert_eq!(counts(&app, &all).await, [2, 2, 2, 0]);
    // A draft counts nowhere.
    let p3 = product(
        &app,
        &admin,
        json!({"category_ids": [a["id"]], "status": "draft"}),
    )
    .await;
    assert_eq!(counts(&app, &all).await, [2, 2, 2, 0]);
    // Drafted, archived, activated.
    let path = |p: &Value| format!("{PRODUCTS}/{}", id(p));
    put(&app, &path(&p1), json!({"status": "draft"}), &admin).await;
    assert_eq!(counts(&app, &all).await, [1, 1, 1, 0]);
    put(&app, &path(&p3), json!({"status": "active"}), &admin).await;
    assert_eq!(counts(&app, &all).await, [2, 1, 1, 0]);
    put(&app, &path(&p3), json!({"status": "archived"}), &admin).await;
    assert_eq!(counts(&app, &all).await, [1, 1, 1, 0]);
    // Moved between categories; a change of other fields leaves the counts.
    put(
        &app,
        &path(&p2),
        json!({"category_ids": [other["id"]]}),
        &admin,
    )
    .await;
    assert_eq!(counts(&app, &all).await, [0, 0, 0, 1]);
    put(
        &app,
        &path(&p2),
        json!({"stock": 3, "name": "Renamed"}),
        &admin,
    )
    .await;
    assert_eq!(counts(&app, &all).await, [0, 0, 0, 1]);
    put(&app, &path(&p1), json!({"status": "active"}), &admin).await;
    assert_eq!(counts(&app, &all).await, [1, 1, 1, 1]);
    // A category moved elsewhere takes its products' counts along.
    put(
        &app,
        &format!("{CATEGORIES}/{}", id(&c)),
        json!({"parent_id": other["id"]}),
        &admin,
    )
    .await;
    assert_eq!(counts(&app, &all).await, [0, 0, 1, 2]);
    // Deleted: counted nowhere.
    let resp = app.delete(&path(&p1), Some(&admin)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(counts(&app, &all).await, [0, 0, 0, 1]);
    put(&app, &path(&p2), json!({"category_ids": []}), &admin).await;
    assert_eq!(counts(&app, &all).await, [0, 0, 0, 0]);
    let listed = read(&app, CATEGORIES, None).await;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["product_count"] == 0),
        "{listed}"
    );
}

async fn products_get_slugs_and_are_found_by_them(app: TestApp) {
    let admin = app.admin_token().await;
    let first = product(&app, &admin, json!({"name": "Blue Mug!"})).await;
    assert_eq!(first["slug"], "blue-mug");
    assert_eq!(first["status"], "active");
    assert_eq!(first["categories"], json!([]));
    let second = product(&app, &admin, json!({"name": "Blue mug"})).await;
    assert_eq!(second["slug"], "blue-mug-2");
    let given = product(&app, &admin, json!({"name": "X", "slug": "the-mug"})).await;
    assert_eq!(given["slug"], "the-mug");
    for slug in ["blue-mug", "blue-mug-2", "the-mug"] {
        let found = read(&app, &format!("{PRODUCTS}/{slug}"), None).await;
        assert_eq!(found["slug"], slug);
    }
    assert_eq!(
        read(&app, &format!("{PRODUCTS}/the-mug"), None).await,
        given
    );
    let body = assert_problem(
        app.post_json(
            PRODUCTS,
            &json!({"sku": format!("S-{}", unique()), "name": "Y", "slug": "the-mug",
                    "price": {"amount": "1.00", "currency": "EUR"}, "stock": 1}),
            Some(&admin),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "slug", "{body}");
    let body = assert_problem(
        app.put_json(
            &format!("{PRODUCTS}/{}", id(&second)),
            &json!({"slug": "blue-mug"}),
            Some(&admin),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "slug", "{body}");
    let renamed = put(
        &app,
        &format!("{PRODUCTS}/{}", id(&second)),
        json!({"slug": "green-mug", "name": "Green mug"}),
        &admin,
    )
    .await;
    assert_eq!(renamed["slug"], "green-mug");
    assert_problem(app.get(&format!("{PRODUCTS}/blue-mug-2"), None).await, 404).await;
    // A deleted product frees its slug.
    let resp = app
        .delete(&format!("{PRODUCTS}/{}", id(&given)), Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&format!("{PRODUCTS}/the-mug"), None).await, 404).await;
    let again = product(&app, &admin, json!({"name": "Z", "slug": "the-mug"})).await;
    assert_eq!(again["slug"], "the-mug");
}

async fn a_product_is_created_in_categories_and_moved_between_them(app: TestApp) {
    let admin = app.admin_token().await;
    let mugs = category(&app, &admin, json!({"name": "Mugs", "position": 2})).await;
    let gifts = category(&app, &admin, json!({"name": "Gifts", "position": 1})).await;
    let p = product(
        &app,
        &admin,
        json!({"category_ids": [mugs["id"], gifts["id"], mugs["id"]]}),
    )
    .await;
    let refs = json!([
        {"id": gifts["id"], "name": "Gifts", "slug": "gifts"},
        {"id": mugs["id"], "name": "Mugs", "slug": "mugs"},
    ]);
    assert_eq!(p["categories"], refs);
    let path = format!("{PRODUCTS}/{}", id(&p));
    assert_eq!(read(&app, &path, None).await["categories"], refs);
    let page = read(&app, PRODUCTS, None).await;
    assert_eq!(page["items"][0]["categories"], refs);
    let moved = put(&app, &path, json!({"category_ids": [mugs["id"]]}), &admin).await;
    assert_eq!(
        moved["categories"],
        json!([{"id": mugs["id"], "name": "Mugs", "slug": "mugs"}])
    );
    // A category renamed shows its new name on its products.
    put(
        &app,
        &format!("{CATEGORIES}/{}", id(&mugs)),
        json!({"name": "Cups"}),
        &admin,
    )
    .await;
    assert_eq!(
        read(&app, &path, None).await["categories"][0]["name"],
        "Cups"
    );
}

async fn drafts_and_archived_products_are_seen_by_admins_only(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, user) = app.user_token().await;
    let active = product(&app, &admin, json!({"name": "Active mug"})).await;
    let draft = product(
        &app,
        &admin,
        json!({"name": "Draft mug", "status": "draft"}),
    )
    .await;
    let archived = product(
        &app,
        &admin,
        json!({"name": "Archived mug", "status": "archived"}),
    )
    .await;
    assert_eq!(draft["status"], "draft");
    assert_eq!(archived["status"], "archived");
    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| str_of(p, "name"))
            .collect()
    };
    for token in [None, Some(user.as_str())] {
        for query in ["", "?q=mug", "?q=mu", "?q=draft"] {
            let page = read(&app, &format!("{PRODUCTS}{query}"), token).await;
            let expected: Vec<&str> = if query == "?q=draft" {
                vec![]
            } else {
                vec!["Active mug"]
            };
            assert_eq!(names(&page), expected, "{query}");
            assert_eq!(page["total"], expected.len(), "{query}");
        }
        for p in [&draft, &archived] {
            assert_problem(app.get(&format!("{PRODUCTS}/{}", id(p)), token).await, 404).await;
            assert_problem(
                app.get(&format!("{PRODUCTS}/{}", str_of(p, "slug")), token)
                    .await,
                404,
            )
            .await;
        }
        read(&app, &format!("{PRODUCTS}/{}", id(&active)), token).await;
    }
    // A bad token on a public route is no admin.
    assert_problem(
        app.get(&format!("{PRODUCTS}/{}", id(&draft)), Some("not-a-token"))
            .await,
        404,
    )
    .await;
    let all = read(&app, PRODUCTS, Some(&admin)).await;
    assert_eq!(names(&all), ["Archived mug", "Draft mug", "Active mug"]);
    assert_eq!(all["total"], 3);
    for q in ["mug", "mu", "draft"] {
        let found = read(&app, &format!("{PRODUCTS}?q={q}"), Some(&admin)).await;
        assert!(!names(&found).is_empty(), "{q}: {found}");
    }
    assert_eq!(
        read(&app, &format!("{PRODUCTS}/{}", id(&draft)), Some(&admin)).await,
        draft
    );
    assert_eq!(
        read(&app, &format!("{PRODUCTS}/draft-mug"), Some(&admin)).await,
        draft
    );
    // Published, it is everyone's; withdrawn, it is gone again (search included).
    let path = format!("{PRODUCTS}/{}", id(&draft));
    put(&app, &path, json!({"status": "active"}), &admin).await;
    assert_eq!(
        names(&read(&app, &format!("{PRODUCTS}?q=draft"), None).await),
        ["Draft mug"]
    );
    read(&app, &path, None).await;
    put(
        &app,
        &path,
        json!({"status": "archived", "name": "Old mug"}),
        &admin,
    )
    .await;
    assert!(names(&read(&app, &format!("{PRODUCTS}?q=mug"), None).await) == ["Active mug"]);
    put(&app, &path, json!({"status": "active"}), &admin).await;
    assert_eq!(
        names(&read(&app, &format!("{PRODUCTS}?q=old m"), None).await),
        ["Old mug"]
    );
}

async fn a_product_that_is_not_active_cannot_be_ordered(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, user) = app.user_token().await;
    let draft = product(&app, &admin, json!({"status": "draft"})).await;
    let archived = product(&app, &admin, json!({"status": "archived"})).await;
    let active = product(&app, &admin, json!({})).await;
    for p in [&draft, &archived] {
        let resp = app
            .post_json(
                "/api/v1/orders",
                &json!({"items": [{"product_id": active["id"], "quantity": 1}, {"product_id": p["id"], "quantity": 1}]}),
                Some(&user),
            )
            .await;
        assert_eq!(assert_invalid(resp).await, ["items[1].product_id"]);
    }
    let after = read(&app, &format!("{PRODUCTS}/{}", id(&active)), None).await;
    assert_eq!(after["stock"], 5, "nothing was taken");
    let resp = app
        .post_json(
            "/api/v1/orders",
            &json!({"items": [{"product_id": active["id"], "quantity": 1}]}),
            Some(&user),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}

async fn bad_product_slugs_statuses_and_categories_are_refused(app: TestApp) {
    let admin = app.admin_token().await;
    let base = json!({"sku": format!("S-{}", unique()), "name": "Mug",
                      "price": {"amount": "1.00", "currency": "EUR"}, "stock": 1});
    for (extra, field) in [
        (json!({"slug": ""}), "slug"),
        (json!({"slug": "Mug"}), "slug"),
        (
            json!({"slug": "0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d"}),
            "slug",
        ),
        (json!({"status": ""}), "status"),
        (json!({"status": "deleted"}), "status"),
        (json!({"status": "Active"}), "status"),
        (
            json!({"category_ids": [uuid::Uuid::now_v7()]}),
            "category_ids",
        ),
        (json!({"category_ids": ["nope"]}), "category_ids[0]"),
    ] {
        let mut body = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let fields = assert_invalid(app.post_json(PRODUCTS, &body, Some(&admin)).await).await;
        assert_eq!(fields, [field], "{body}");
    }
    assert_eq!(read(&app, PRODUCTS, Some(&admin)).await["total"], 0);
    let p = product(&app, &admin, json!({})).await;
    let path = format!("{PRODUCTS}/{}", id(&p));
    for (body, field) in [
        (json!({"slug": "x y"}), "slug"),
        (json!({"status": ""}), "status"),
        (
            json!({"category_ids": [uuid::Uuid::now_v7()]}),
            "category_ids",
        ),
    ] {
        let fields = assert_invalid(app.put_json(&path, &body, Some(&admin)).await).await;
        assert_eq!(fields, [field], "{body}");
    }
    assert_eq!(read(&app, &path, None).await, p, "nothing changed");
}

async fn the_status_filter_is_for_admins_and_taken_as_sent(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, user) = app.user_token().await;
    product(&app, &admin, json!({"name": "Live"})).await;
    product(&app, &admin, json!({"name": "Hidden", "status": "draft"})).await;
    let names = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| str_of(p, "name"))
            .collect()
    };
    assert_eq!(
        names(read(&app, &format!("{PRODUCTS}?status=draft"), Some(&admin)).await),
        ["Hidden"]
    );
    assert_eq!(
        names(read(&app, &format!("{PRODUCTS}?status=active"), Some(&admin)).await),
        ["Live"]
    );
    assert!(
        names(read(&app, &format!("{PRODUCTS}?status=archived"), Some(&admin)).await).is_empty()
    );
    for token in [None, Some(user.as_str())] {
        assert_eq!(
            names(read(&app, &format!("{PRODUCTS}?status=draft"), token).await),
            ["Live"]
        );
    }
    for query in ["status=", "status=bogus", "status=Draft", "status=%20draft"] {
        for token in [None, Some(admin.as_str())] {
            let fields = assert_invalid(app.get(&format!("{PRODUCTS}?{query}"), token).await).await;
            assert_eq!(fields, ["status"], "{query}");
        }
    }
}

async fn products_stored_before_slugs_get_them_from_their_names(app: TestApp) {
    let admin = app.admin_token().await;
    let older = product(&app, &admin, json!({"name": "Blue Mug!"})).await;
    let newer = product(&app, &admin, json!({"name": "Blue mug"})).await;
    product(
        &app,
        &admin,
        json!({"name": "Tea pot", "slug": "blue-mug-x"}),
    )
    .await;
    // As a database written before slugs existed holds them (the migration adds the column
    // empty); the service fills them in when it starts, oldest product first.
    let sql = "UPDATE products SET slug = NULL WHERE name <> 'Tea pot'";
    let url = app.settings.database_url.clone();
    {
        use sqlx::Connection;
        if url.expose().starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url.expose()).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
        } else {
            let mut conn = sqlx::PgConnection::connect(url.expose()).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
    let db = infrastructure::Database::connect(&url, 2, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    db.close().await;
    let slug_of = |p: Value| str_of(&p, "slug");
    assert_eq!(
        slug_of(read(&app, &format!("{PRODUCTS}/{}", id(&older)), None).await),
        "blue-mug"
    );
    assert_eq!(
        slug_of(read(&app, &format!("{PRODUCTS}/{}", id(&newer)), None).await),
        "blue-mug-2"
    );
    assert_eq!(
        slug_of(read(&app, &format!("{PRODUCTS}/blue-mug-x"), None).await),
        "blue-mug-x"
    );
}

async fn listed(app: &TestApp, query: &str, token: Option<&str>) -> Vec<String> {
    let page = read(app, &format!("{PRODUCTS}?{query}"), token).await;
    let names = names_of(&page);
    assert_eq!(page["total"], names.len(), "{query}: {page}");
    names
}

async fn a_category_filter_takes_in_the_categories_below_it(app: TestApp) {
    let admin = app.admin_token().await;
    let a = named(&app, &admin, "Kitchen", None).await;
    let b = named(&app, &admin, "Mugs", Some(&a)).await;
    let c = named(&app, &admin, "Tea mugs", Some(&b)).await;
    let other = named(&app, &admin, "Garden", None).await;
    product(
        &app,
        &admin,
        json!({"name": "Pan", "category_ids": [a["id"]]}),
    )
    .await;
    product(
        &app,
        &admin,
        json!({"name": "Blue mug", "category_ids": [b["id"]]}),
    )
    .await;
    product(
        &app,
        &admin,
        json!({"name": "Tea mug", "category_ids": [c["id"], b["id"]]}),
    )
    .await;
    product(
        &app,
        &admin,
        json!({"name": "Spade", "category_ids": [other["id"]]}),
    )
    .await;
    product(&app, &admin, json!({"name": "Loose mug"})).await;
    product(
        &app,
        &admin,
        json!({"name": "Draft mug", "status": "draft", "category_ids": [c["id"]]}),
    )
    .await;
    let all_kitchen = ["Tea mug", "Blue mug", "Pan"];
    assert_eq!(
        listed(&app, &format!("category={}", id(&a)), None).await,
        all_kitchen
    );
    assert_eq!(listed(&app, "category=kitchen", None).await, all_kitchen);
    assert_eq!(
        listed(&app, "category=mugs", None).await,
        ["Tea mug", "Blue mug"]
    );
    assert_eq!(listed(&app, "category=tea-mugs", None).await, ["Tea mug"]);
    assert_eq!(
        listed(&app, "category=tea-mugs", Some(&admin)).await,
        ["Draft mug", "Tea mug"]
    );
    assert_eq!(listed(&app, "category=garden", None).await, ["Spade"]);
    // With a search (the trigram index's path on SQLite, and the scan's).
    assert_eq!(
        listed(&app, "category=kitchen&q=mug", None).await,
        ["Tea mug", "Blue mug"]
    );
    assert_eq!(
        listed(&app, "category=kitchen&q=mu", None).await,
        ["Tea mug", "Blue mug"]
    );
    assert_eq!(
        listed(&app, "q=mug", None).await,
        ["Loose mug", "Tea mug", "Blue mug"]
    );
    // A category that does not exist matches nothing, like any filter.
    for unknown in [uuid::Uuid::now_v7().to_string(), "no-such".to_owned()] {
        assert!(
            listed(&app, &format!("category={unknown}"), None)
                .await
                .is_empty()
        );
    }
    for bad in ["category=", "category=Not%20A%20Slug", "category=UPPER"] {
        let fields = assert_invalid(app.get(&format!("{PRODUCTS}?{bad}"), None).await).await;
        assert_eq!(fields, ["category"], "{bad}");
    }
}

async fn a_price_range_needs_its_currency_and_decimal_bounds(app: TestApp) {
    let admin = app.admin_token().await;
    for (name, amount, currency) in [
        ("Five", "5.00", "EUR"),
        ("Ten", "10.00", "EUR"),
        ("Twenty", "20.00", "EUR"),
        ("Yen", "1000", "JPY"),
    ] {
        product(
            &app,
            &admin,
            json!({"name": name, "price": {"amount": amount, "currency": currency}}),
        )
        .await;
    }
    for (query, expected) in [
        ("currency=EUR&min_price=6", vec!["Twenty", "Ten"]),
        ("currency=EUR&min_price=10.00", vec!["Twenty", "Ten"]),
        ("currency=EUR&max_price=10", vec!["Ten", "Five"]),
        ("currency=EUR&min_price=5.01&max_price=19.99", vec!["Ten"]),
        ("currency=EUR&min_price=10&max_price=10", vec!["Ten"]),
        ("currency=EUR", vec!["Twenty", "Ten", "Five"]),
        ("currency=JPY&min_price=999", vec!["Yen"]),
        ("currency=USD&min_price=1", vec![]),
        ("currency=EUR&min_price=21", vec![]),
    ] {
        assert_eq!(listed(&app, query, None).await, expected, "{query}");
    }
    for (query, field) in [
        ("min_price=5", "currency"),
        ("max_price=5", "currency"),
        ("min_price=5&currency=", "currency"),
        ("min_price=5&currency=eur", "currency"),
        ("min_price=5&currency=XYZ", "currency"),
        ("min_price=abc&currency=EUR", "min_price"),
        ("min_price=&currency=EUR", "min_price"),
        ("min_price=-1&currency=EUR", "min_price"),
        ("max_price=1.234&currency=EUR", "max_price"),
        ("max_price=1.5&currency=JPY", "max_price"),
        ("min_price=20&max_price=10&currency=EUR", "min_price"),
    ] {
        let fields = assert_invalid(app.get(&format!("{PRODUCTS}?{query}"), None).await).await;
        assert_eq!(fields, [field], "{query}");
    }
}

async fn in_stock_shows_products_with_or_without_stock(app: TestApp) {
    let admin = app.admin_token().await;
    product(&app, &admin, json!({"name": "Stocked", "stock": 3})).await;
    product(&app, &admin, json!({"name": "Sold out", "stock": 0})).await;
    assert_eq!(listed(&app, "in_stock=true", None).await, ["Stocked"]);
    assert_eq!(listed(&app, "in_stock=false", None).await, ["Sold out"]);
    assert_eq!(
        listed(&app, "in_stock=true&q=stock", None).await,
        ["Stocked"]
    );
    assert_eq!(listed(&app, "", None).await, ["Sold out", "Stocked"]);
    for bad in ["in_stock=", "in_stock=yes", "in_stock=TRUE", "in_stock=1"] {
        let fields = assert_invalid(app.get(&format!("{PRODUCTS}?{bad}"), None).await).await;
        assert_eq!(fields, ["in_stock"], "{bad}");
    }
}

async fn a_search_lists_its_best_matches_first(app: TestApp) {
    let admin = app.admin_token().await;
    // Made in this order, so newest first would be the reverse of it.
    for (name, description) in [
        ("Teapot", Some("Pours a MUG and a half")),
        ("Mug rack", None),
        ("Big mug", None),
        ("MUG", None),
        ("mugwort tea", Some("Not a mug")),
        ("Plate", None),
        ("Enamel Mug", None),
    ] {
        let mut body = json!({"name": name});
        if let Some(d) = description {
            body["description"] = json!(d);
        }
        product(&app, &admin, body).await;
    }
    // The name that is the search, then names starting with it (newest first), then names
    // holding it (newest first), then the description alone.
    let best = [
        "MUG",
        "mugwort tea",
        "Mug rack",
        "Enamel Mug",
        "Big mug",
        "Teapot",
    ];
    for query in ["q=mug", "q=Mug&sort=relevance", "q=%20mug%20"] {
        assert_eq!(listed(&app, query, None).await, best, "{query}");
    }
    // Any other order asked for wins over relevance; relevance without a search is newest.
    assert_eq!(
        listed(&app, "q=mug&sort=newest", None).await,
        [
            "Enamel Mug",
            "mugwort tea",
            "MUG",
            "Big mug",
            "Mug rack",
            "Teapot"
        ]
    );
    assert_eq!(
        listed(&app, "sort=relevance", None).await,
        listed(&app, "sort=newest", None).await
    );
    // Under three characters, and for an admin over every status: the same ranking.
    assert_eq!(
        listed(&app, "q=mu", None).await,
        [
            "mugwort tea",
            "MUG",
            "Mug rack",
            "Enamel Mug",
            "Big mug",
            "Teapot"
        ]
    );
    assert_eq!(listed(&app, "q=mug", Some(&admin)).await, best);
    // A walk by cursor, two at a time, sees the same order.
    let mut walked = Vec::new();
    let mut path = format!("{PRODUCTS}?q=mug&per_page=2");
    loop {
        let page = read(&app, &path, None).await;
        walked.extend(names_of(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("{PRODUCTS}?q=mug&per_page=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(walked, best);
}

async fn lists_sort_as_asked_and_refuse_unknown_orders(app: TestApp) {
    let admin = app.admin_token().await;
    for (name, amount) in [
        ("banana mug", "3.00"),
        ("Apple mug", "7.00"),
        ("cherry mug", "3.00"),
        ("Date mug", "1.00"),
    ] {
        product(
            &app,
            &admin,
            json!({"name": name, "price": {"amount": amount, "currency": "EUR"}}),
        )
        .await;
    }
    let newest = ["Date mug", "cherry mug", "Apple mug", "banana mug"];
    for (query, expected) in [
        ("", newest.to_vec()),
        ("sort=newest", newest.to_vec()),
        (
            "sort=oldest",
            vec!["banana mug", "Apple mug", "cherry mug", "Date mug"],
        ),
        (
            "sort=price_asc",
            vec!["Date mug", "cherry mug", "banana mug", "Apple mug"],
        ),
        (
            "sort=price_desc",
            vec!["Apple mug", "cherry mug", "banana mug", "Date mug"],
        ),
        (
            "sort=name_asc",
            vec!["Apple mug", "banana mug", "cherry mug", "Date mug"],
        ),
        ("q=mug", newest.to_vec()),
        ("q=mug&sort=relevance", newest.to_vec()),
        (
            "q=mug&sort=oldest",
            vec!["banana mug", "Apple mug", "cherry mug", "Date mug"],
        ),
        (
            "q=mu&sort=name_asc",
            vec!["Apple mug", "banana mug", "cherry mug", "Date mug"],
        ),
        ("sort=relevance", newest.to_vec()),
        (
            "sort=price_asc&per_page=2&page=2",
            vec!["banana mug", "Apple mug"],
        ),
    ] {
        let page = read(&app, &format!("{PRODUCTS}?{query}"), None).await;
        assert_eq!(names_of(&page), expected, "{query}");
        assert_eq!(page["total"], 4, "{query}");
    }
    for bad in ["sort=", "sort=price", "sort=NEWEST", "sort=newest%20"] {
        let fields = assert_invalid(app.get(&format!("{PRODUCTS}?{bad}"), None).await).await;
        assert_eq!(fields, ["sort"], "{bad}");
    }
    // Every bad parameter is named at once.
    let fields = assert_invalid(
        app.get(
            &format!("{PRODUCTS}?sort=x&status=&in_stock=x&page=0"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(fields, ["page", "status", "in_stock", "sort"]);
}
