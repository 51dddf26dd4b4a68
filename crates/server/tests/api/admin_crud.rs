//! What the tests of the admin-managed resources (promotions, shipping options, tax rates,
//! webhook endpoints) check alike: each is a collection at one path with its items at
//! `{collection}/{id}`, listed by page and cursor, and only admins may touch either.

use reqwest::header::LOCATION;
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, assert_invalid, assert_problem, assert_unauthorized, str_of};

/// The path of `item` in `collection`.
pub fn item_path(collection: &str, item: &Value) -> String {
    format!("{collection}/{}", str_of(item, "id"))
}

/// Creates an item in `collection` from `body` (201 expected) and returns it.
pub async fn created(app: &TestApp, collection: &str, admin: &str, body: &Value) -> Value {
    let resp = app.post_json(collection, body, Some(admin)).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "creating {body}");
    resp.json().await.unwrap()
}

/// Checks that `resp` is a 201 whose `Location` is the new item's path in `collection`, and
/// returns that path and the item.
pub async fn assert_created_at(resp: Response, collection: &str) -> (String, Value) {
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()[LOCATION].to_str().unwrap().to_owned();
    let made: Value = resp.json().await.unwrap();
    let id = str_of(&made, "id");
    assert_eq!(location, format!("{collection}/{id}"));
    (location, made)
}

/// `item` without its id and timestamps, to compare with what was sent.
pub fn without_id_and_times(item: &Value) -> Value {
    let mut rest = item.clone();
    for key in ["id", "created_at", "updated_at"] {
        rest.as_object_mut().unwrap().remove(key);
    }
    rest
}

/// Changes the item at `path` with `body` (200 expected) and returns it.
pub async fn change(app: &TestApp, path: &str, admin: &str, body: &Value) -> Value {
    let resp = app.put_json(path, body, Some(admin)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

/// The JSON answer to changing the item at `path` with `body`, whatever its status.
pub async fn answer_to_change(app: &TestApp, path: &str, admin: &str, body: &Value) -> Value {
    app.put_json(path, body, Some(admin))
        .await
        .json()
        .await
        .unwrap()
}

/// Checks that `changed` has each of `fields` as `made` had it.
pub fn assert_kept(changed: &Value, made: &Value, fields: &[&str]) {
    for same in fields {
        assert_eq!(changed[same], made[same], "{same}");
    }
}

/// Deletes the item at `path` (204 expected), then checks that reading it, deleting it and
/// changing it with `change` answer 404, as does an id in `collection` that is not a UUID.
pub async fn assert_deleted(
    app: &TestApp,
    collection: &str,
    path: &str,
    admin: &str,
    change: &Value,
) {
    assert_eq!(
        app.delete(path, Some(admin)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(app.get(path, Some(admin)).await, 404).await;
    assert_problem(app.delete(path, Some(admin)).await, 404).await;
    assert_problem(app.put_json(path, change, Some(admin)).await, 404).await;
    let not_a_uuid = format!("{collection}/not-a-uuid");
    assert_problem(app.get(&not_a_uuid, Some(admin)).await, 404).await;
}

/// Creates an item in `collection` from each of `bodies` in turn (201 expected), checks each
/// with `check`, and returns their ids newest first, the order lists come in.
pub async fn ids_newest_first(
    app: &TestApp,
    collection: &str,
    admin: &str,
    bodies: impl IntoIterator<Item = Value>,
    check: impl Fn(&Value),
) -> Vec<String> {
    let mut ids = Vec::new();
    for body in bodies {
        let item = created(app, collection, admin, &body).await;
        check(&item);
        ids.push(str_of(&item, "id"));
    }
    ids.reverse();
    ids
}

/// The ids of a page's items, in order.
pub fn ids_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| str_of(p, "id"))
        .collect()
}

/// The page `query` of `collection` (a query string, without the `?`).
pub async fn page(app: &TestApp, collection: &str, admin: &str, query: &str) -> Value {
    app.get_json(&format!("{collection}?{query}"), Some(admin))
        .await
}

/// Checks that the first page of two items holds the first two of `ids` (newest first) and
/// that following `next_cursor` from it walks all of `ids` in the same order; returns that
/// first page.
pub async fn assert_pages_of_two(
    app: &TestApp,
    collection: &str,
    admin: &str,
    ids: &[String],
) -> Value {
    let first = page(app, collection, admin, "per_page=2").await;
    assert_eq!(ids_of(&first), ids[..2]);
    let mut walked = ids_of(&first);
    let mut cursor = first["next_cursor"].clone();
    while let Some(c) = cursor.as_str() {
        let next = page(app, collection, admin, &format!("per_page=2&cursor={c}")).await;
        walked.extend(ids_of(&next));
        cursor = next["next_cursor"].clone();
    }
    assert_eq!(walked, ids);
    first
}

/// Checks that listing `collection` with each of `bad` (`name=value`) is refused with a 422
/// that names `name` alone.
pub async fn assert_bad_queries(app: &TestApp, collection: &str, admin: &str, bad: &[&str]) {
    for bad in bad {
        let resp = app.get(&format!("{collection}?{bad}"), Some(admin)).await;
        let field = bad.split('=').next().unwrap();
        assert_eq!(assert_invalid(resp).await, [field], "{bad}");
    }
}

/// `base` with each key of `changes` set to its value there.
pub fn merged(mut base: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

/// Checks that creating each body of `cases` in `collection` is refused with a 422 that names
/// the case's fields, in that order, and that nothing was made; then that changing an item
/// made from `stored` with each body of `changes` is refused the same way and changes nothing.
pub async fn assert_bad_fields_refused(
    app: &TestApp,
    collection: &str,
    admin: &str,
    cases: &[(Value, Vec<&str>)],
    stored: &Value,
    changes: &[(Value, Vec<&str>)],
) {
    for (body, fields) in cases {
        let got = assert_invalid(app.post_json(collection, body, Some(admin)).await).await;
        assert_eq!(&got, fields, "{body}");
    }
    assert_eq!(app.get_json(collection, Some(admin)).await["total"], 0);

    let item = created(app, collection, admin, stored).await;
    let path = item_path(collection, &item);
    for (body, fields) in changes {
        let got = assert_invalid(app.put_json(&path, body, Some(admin)).await).await;
        assert_eq!(&got, fields, "{body}");
    }
    assert_eq!(app.get_json(&path, Some(admin)).await, item);
}

/// The answers to creating in `collection` (with `create`), listing it, and reading,
/// changing (with `change`) and deleting the item at `path`, with `token` when given.
async fn every_request(
    app: &TestApp,
    collection: &str,
    path: &str,
    token: Option<&str>,
    create: &Value,
    change: &Value,
) -> [Response; 5] {
    [
        app.post_json(collection, create, token).await,
        app.get(collection, token).await,
        app.get(path, token).await,
        app.put_json(path, change, token).await,
        app.delete(path, token).await,
    ]
}

/// Checks that `user`, who is no admin, is refused with 403 when creating in `collection`
/// (with `create`), listing it, and reading, changing (with `change`) and deleting the item
/// at `path`.
pub async fn assert_forbidden(
    app: &TestApp,
    collection: &str,
    path: &str,
    user: &str,
    create: &Value,
    change: &Value,
) {
    for resp in every_request(app, collection, path, Some(user), create, change).await {
        assert_problem(resp, 403).await;
    }
}

/// Checks that the same requests as [`assert_forbidden`]'s, without a token, are refused
/// with 401 and a Bearer challenge.
pub async fn assert_token_needed(
    app: &TestApp,
    collection: &str,
    path: &str,
    create: &Value,
    change: &Value,
) {
    for resp in every_request(app, collection, path, None, create, change).await {
        assert_unauthorized(resp).await;
    }
}

/// Checks that a signed-up user is refused with 403 and a caller without a token with 401
/// for each request of [`assert_forbidden`] on `collection` and its only item, `item`; and
/// that the item and the list are as they were.
pub async fn assert_only_admins_manage(
    app: &TestApp,
    collection: &str,
    admin: &str,
    item: &Value,
    create: &Value,
    change: &Value,
) {
    let path = item_path(collection, item);
    let (_, user) = app.user_token().await;
    assert_forbidden(app, collection, &path, &user, create, change).await;
    assert_token_needed(app, collection, &path, create, change).await;
    // Nothing changed.
    assert_eq!(&app.get_json(&path, Some(admin)).await, item);
    assert_eq!(app.get_json(collection, Some(admin)).await["total"], 1);
}
