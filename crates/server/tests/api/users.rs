//! Accounts: the admin's list, one's own account, and who may see whose.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::paths::{ME, USERS};
use crate::helpers::{
    TestApp, assert_invalid, assert_problem, assert_unauthorized, comparable, str_of, timestamp,
    unique,
};

every_provider!(
    an_admin_lists_users_page_by_page,
    a_signed_in_user_may_not_list_users,
    an_anonymous_caller_may_not_list_users,
    a_user_sees_their_own_account_by_id,
    another_users_account_is_404_like_one_that_does_not_exist,
    an_admin_sees_any_account_by_id,
    a_malformed_user_id_is_404,
    users_me_shows_the_signed_in_account,
    updating_the_profile_changes_and_keeps_the_names,
    updating_the_profile_ignores_email_and_roles,
    updating_the_profile_needs_a_token,
    updating_the_profile_with_bad_names_is_refused_naming_them,
);

/// Checks two views of one account agree (`updated_at` aside: signing in may refresh the
/// identity provider's copy).
fn assert_same_user(actual: &Value, expected: &Value) {
    for field in [
        "id",
        "email",
        "username",
        "first_name",
        "last_name",
        "roles",
        "created_at",
    ] {
        assert_eq!(
            actual[field], expected[field],
            "`{field}` differs: {actual} vs {expected}"
        );
    }
    timestamp(&actual["updated_at"]);
}

fn user_path(id: &Value) -> String {
    format!("{USERS}/{}", id.as_str().expect("user id is a string"))
}

async fn an_admin_lists_users_page_by_page(app: TestApp) {
    let admin = app.admin_token().await;
    let (alice, _) = app.user_token().await;
    let (bob, _) = app.user_token().await;

    let resp = app.get(USERS, Some(&admin)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    assert!(
        !text.to_lowercase().contains("password"),
        "a password shows in the list: {text}"
    );
    let page: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(page["total"], json!(3));
    assert_eq!(page["page"], json!(1));
    assert_eq!(page["per_page"], json!(20));
    assert_eq!(page["total_pages"], json!(1));
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    for user in [&alice, &bob] {
        let listed = items
            .iter()
            .find(|u| u["id"] == user["id"])
            .unwrap_or_else(|| panic!("{} is not listed", user["email"]));
        assert_same_user(listed, user);
    }
    let admin_row = items
        .iter()
        .find(|u| u["username"] == json!(app.admin_username))
        .expect("the admin is listed");
    assert!(
        admin_row["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("admin")),
        "the admin lacks the admin role: {admin_row}"
    );

    let second: Value = app
        .get_json(&format!("{USERS}?per_page=2&page=2"), Some(&admin))
        .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["total"], json!(3));
    assert_eq!(second["total_pages"], json!(2));

    let resp = app
        .get(&format!("{USERS}?per_page=101"), Some(&admin))
        .await;
    let body = assert_problem(resp, 422).await;
    assert_eq!(body["errors"][0]["field"], json!("per_page"));
}

async fn a_signed_in_user_may_not_list_users(app: TestApp) {
    let (_, token) = app.user_token().await;
    assert_problem(app.get(USERS, Some(&token)).await, 403).await;
}

async fn an_anonymous_caller_may_not_list_users(app: TestApp) {
    assert_unauthorized(app.get(USERS, None).await).await;
}

async fn a_user_sees_their_own_account_by_id(app: TestApp) {
    let (user, token) = app.user_token().await;
    let resp = app.get(&user_path(&user["id"]), Some(&token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let fetched: Value = resp.json().await.unwrap();
    assert_same_user(&fetched, &user);
}

async fn another_users_account_is_404_like_one_that_does_not_exist(app: TestApp) {
    let (_, token) = app.user_token().await;
    let (other, _) = app.user_token().await;

    let someone_elses =
        assert_problem(app.get(&user_path(&other["id"]), Some(&token)).await, 404).await;
    let missing = format!("{USERS}/{}", uuid::Uuid::now_v7());
    let nobodys = assert_problem(app.get(&missing, Some(&token)).await, 404).await;
    assert_eq!(
        comparable(someone_elses),
        comparable(nobodys),
        "the answers tell the cases apart"
    );

    assert_unauthorized(app.get(&user_path(&other["id"]), None).await).await;
}

async fn an_admin_sees_any_account_by_id(app: TestApp) {
    let admin = app.admin_token().await;
    let (user, _) = app.user_token().await;
    let resp = app.get(&user_path(&user["id"]), Some(&admin)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let fetched: Value = resp.json().await.unwrap();
    assert_same_user(&fetched, &user);

    let missing = format!("{USERS}/{}", uuid::Uuid::now_v7());
    assert_problem(app.get(&missing, Some(&admin)).await, 404).await;
}

async fn a_malformed_user_id_is_404(app: TestApp) {
    let admin = app.admin_token().await;
    assert_problem(
        app.get(&format!("{USERS}/not-a-uuid"), Some(&admin)).await,
        404,
    )
    .await;
}

async fn users_me_shows_the_signed_in_account(app: TestApp) {
    let (user, token) = app.user_token().await;
    let resp = app.get(ME, Some(&token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let me: Value = resp.json().await.unwrap();
    assert_same_user(&me, &user);
    assert_eq!(me["roles"], json!(["user"]));
}

async fn updating_the_profile_changes_and_keeps_the_names(app: TestApp) {
    let (user, token) = app.user_token().await;
    let resp = app
        .put_json(
            ME,
            &json!({"first_name": "Ada", "last_name": "Lovelace"}),
            Some(&token),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let updated: Value = resp.json().await.unwrap();
    assert_eq!(updated["first_name"], json!("Ada"));
    assert_eq!(updated["last_name"], json!("Lovelace"));
    for field in ["id", "email", "username", "roles", "created_at"] {
        assert_eq!(updated[field], user[field], "`{field}` changed");
    }
    assert!(
        timestamp(&updated["updated_at"]) > timestamp(&user["updated_at"]),
        "updated_at did not move"
    );

    let me: Value = app.get_json(ME, Some(&token)).await;
    assert_eq!(me, updated, "the change is stored");

    // A later sign-in does not overwrite the profile with the identity provider's copy.
    let fresh = app
        .login(&str_of(&user, "email"), crate::helpers::PASSWORD)
        .await;
    let me: Value = app
        .get_json(ME, Some(&str_of(&fresh, "access_token")))
        .await;
    assert_eq!(me["first_name"], json!("Ada"));
    assert_eq!(me["last_name"], json!("Lovelace"));

    // Only the fields sent change.
    let resp = app
        .put_json(ME, &json!({"first_name": "Augusta"}), Some(&token))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let again: Value = resp.json().await.unwrap();
    assert_eq!(again["first_name"], json!("Augusta"));
    assert_eq!(again["last_name"], json!("Lovelace"));

    // null clears a name.
    let resp = app
        .put_json(ME, &json!({"last_name": null}), Some(&token))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cleared: Value = resp.json().await.unwrap();
    assert_eq!(cleared["first_name"], json!("Augusta"));
    assert_eq!(cleared["last_name"], Value::Null);
}

async fn updating_the_profile_ignores_email_and_roles(app: TestApp) {
    let (user, token) = app.user_token().await;
    let resp = app
        .put_json(
            ME,
            &json!({
                "first_name": "Mallory",
                "email": format!("taken-over.{}@example.com", unique()),
                "username": "root",
                "roles": ["admin", "user"]
            }),
            Some(&token),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let updated: Value = resp.json().await.unwrap();
    assert_eq!(updated["first_name"], json!("Mallory"));
    assert_eq!(updated["email"], user["email"]);
    assert_eq!(updated["username"], user["username"]);
    assert_eq!(updated["roles"], json!(["user"]));

    let me: Value = app.get_json(ME, Some(&token)).await;
    assert_eq!(me["email"], user["email"]);
    assert_eq!(me["roles"], json!(["user"]));

    // Still no admin, with the old token or a new one.
    let fresh = app
        .login(&str_of(&user, "email"), crate::helpers::PASSWORD)
        .await;
    for token in [token, str_of(&fresh, "access_token")] {
        assert_problem(app.get(USERS, Some(&token)).await, 403).await;
    }
}

async fn updating_the_profile_with_bad_names_is_refused_naming_them(app: TestApp) {
    let (user, token) = app.user_token().await;
    let resp = app
        .put_json(
            ME,
            &json!({"first_name": "n".repeat(101), "last_name": "a\u{0}b"}),
            Some(&token),
        )
        .await;
    let mut fields = assert_invalid(resp).await;
    fields.sort();
    assert_eq!(fields, ["first_name", "last_name"]);
    let me: Value = app.get_json(ME, Some(&token)).await;
    assert_same_user(&me, &user);
}

async fn updating_the_profile_needs_a_token(app: TestApp) {
    assert_unauthorized(app.put_json(ME, &json!({"first_name": "Eve"}), None).await).await;
}
