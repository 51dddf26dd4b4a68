//! Shipping options (admin): created, listed by page and cursor, read, changed in part and
//! deleted; each bad field named; only admins.

use serde_json::{Value, json};

use crate::admin_crud::{
    assert_bad_fields_refused, assert_bad_queries, assert_created_at, assert_deleted, assert_kept,
    assert_only_admins_manage, assert_pages_of_two, change, created, ids_newest_first, ids_of,
    merged, page, without_id_and_times,
};
use crate::helpers::TestApp;

both_dbs!(
    shipping_options_are_created_read_changed_and_deleted,
    shipping_options_are_listed_newest_first_by_page_and_cursor,
    bad_shipping_options_are_refused_naming_each_field,
    only_admins_manage_shipping_options,
);

const OPTIONS: &str = "/api/v1/shipping-options";

fn standard() -> Value {
    json!({
        "name": "  Standard  ",
        "countries": ["DE", "at"],
        "price": {"amount": "4.9", "currency": "EUR"},
        "free_over": {"amount": "50", "currency": "EUR"},
    })
}

async fn shipping_options_are_created_read_changed_and_deleted(app: TestApp) {
    let admin = app.admin_token().await;
    let resp = app.post_json(OPTIONS, &standard(), Some(&admin)).await;
    let (location, made) = assert_created_at(resp, OPTIONS).await;
    assert_eq!(
        without_id_and_times(&made),
        json!({
            "name": "Standard",
            "countries": ["DE", "AT"],
            "price": {"amount": "4.90", "currency": "EUR"},
            "free_over": {"amount": "50.00", "currency": "EUR"},
            "active": true,
        })
    );
    assert_eq!(app.get_json(&location, Some(&admin)).await, made);

    // Any subset: the rest stays; null clears the threshold.
    let changed = change(
        &app,
        &location,
        &admin,
        &json!({"active": false, "free_over": null, "countries": ["FR", "DE", "BE"]}),
    )
    .await;
    assert_eq!(changed["active"], false);
    assert_eq!(changed["free_over"], Value::Null);
    assert_eq!(changed["countries"], json!(["FR", "DE", "BE"]));
    assert_kept(&changed, &made, &["id", "name", "price", "created_at"]);
    assert_eq!(app.get_json(&location, Some(&admin)).await, changed);

    // A price in another currency, with its threshold.
    let yen = change(
        &app,
        &location,
        &admin,
        &json!({"price": {"amount": "500", "currency": "JPY"}, "free_over": {"amount": "5000", "currency": "JPY"}, "name": "Yamato"}),
    )
    .await;
    assert_eq!(yen["price"], json!({"amount": "500", "currency": "JPY"}));
    assert_eq!(
        yen["free_over"],
        json!({"amount": "5000", "currency": "JPY"})
    );
    assert_eq!(yen["name"], "Yamato");

    assert_deleted(&app, OPTIONS, &location, &admin, &json!({"active": true})).await;
    assert_eq!(app.get_json(OPTIONS, Some(&admin)).await["total"], 0);
}

async fn shipping_options_are_listed_newest_first_by_page_and_cursor(app: TestApp) {
    let admin = app.admin_token().await;
    let bodies = (0..5).map(|i| {
        json!({"name": format!("Option {i}"), "countries": ["DE"], "price": {"amount": "1", "currency": "EUR"}})
    });
    let ids = ids_newest_first(&app, OPTIONS, &admin, bodies, |o| {
        assert_eq!(o["free_over"], Value::Null);
    })
    .await;
    let first = assert_pages_of_two(&app, OPTIONS, &admin, &ids).await;
    assert_eq!(
        (&first["total"], &first["total_pages"]),
        (&json!(5), &json!(3))
    );
    let third = page(&app, OPTIONS, &admin, "per_page=2&page=3").await;
    assert_eq!(ids_of(&third), ids[4..]);
    assert_eq!(third["next_cursor"], Value::Null);
    let bad = ["per_page=0", "page=0", "cursor=nonsense"];
    assert_bad_queries(&app, OPTIONS, &admin, &bad).await;
}

async fn bad_shipping_options_are_refused_naming_each_field(app: TestApp) {
    let admin = app.admin_token().await;
    let base = || json!({"name": "Express", "countries": ["DE"], "price": {"amount": "9.90", "currency": "EUR"}});
    let with = |changes: Value| merged(base(), changes);
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (with(json!({"name": "   "})), vec!["name"]),
        (with(json!({"name": "x".repeat(101)})), vec!["name"]),
        (with(json!({"name": "tab\there"})), vec!["name"]),
        (with(json!({"countries": []})), vec!["countries"]),
        (
            with(json!({"countries": ["DE", "XX", "de"]})),
            vec!["countries[1]"],
        ),
        (
            with(json!({"countries": ["DE", "de"]})),
            vec!["countries[1]"],
        ),
        (
            with(json!({"price": {"amount": "-1", "currency": "EUR"}})),
            vec!["price.amount"],
        ),
        (
            with(json!({"price": {"amount": "1.001", "currency": "EUR"}})),
            vec!["price.amount"],
        ),
        (
            with(json!({"price": {"amount": "1", "currency": "ABC"}})),
            vec!["price.currency"],
        ),
        (
            with(json!({"free_over": {"amount": "x", "currency": "EUR"}})),
            vec!["free_over.amount"],
        ),
        (
            with(json!({"free_over": {"amount": "50", "currency": "USD"}})),
            vec!["free_over.currency"],
        ),
        (
            with(
                json!({"name": "", "countries": ["ZZ"], "price": {"amount": "-1", "currency": "EUR"}}),
            ),
            vec!["name", "countries[0]", "price.amount"],
        ),
    ];

    let mut with_threshold = base();
    with_threshold["free_over"] = json!({"amount": "100", "currency": "EUR"});
    let changes: Vec<(Value, Vec<&str>)> = vec![
        (json!({"name": ""}), vec!["name"]),
        (json!({"countries": []}), vec!["countries"]),
        (json!({"countries": ["DE", "DE"]}), vec!["countries[1]"]),
        // The stored threshold is in euros.
        (
            json!({"price": {"amount": "5", "currency": "USD"}}),
            vec!["free_over.currency"],
        ),
        (
            json!({"free_over": {"amount": "5", "currency": "GBP"}}),
            vec!["free_over.currency"],
        ),
    ];
    assert_bad_fields_refused(&app, OPTIONS, &admin, &cases, &with_threshold, &changes).await;
}

async fn only_admins_manage_shipping_options(app: TestApp) {
    let admin = app.admin_token().await;
    let o = created(&app, OPTIONS, &admin, &standard()).await;
    let change = json!({"active": false});
    assert_only_admins_manage(&app, OPTIONS, &admin, &o, &standard(), &change).await;
}
