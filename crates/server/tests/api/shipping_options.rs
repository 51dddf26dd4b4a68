//! Shipping options (admin): created, listed by page and cursor, read, changed in part and
//! deleted; each bad field named; only admins.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_invalid, assert_problem, assert_unauthorized, str_of};

both_dbs!(
    shipping_options_are_created_read_changed_and_deleted,
    shipping_options_are_listed_newest_first_by_page_and_cursor,
    bad_shipping_options_are_refused_naming_each_field,
    only_admins_manage_shipping_options,
);

const OPTIONS: &str = "/api/v1/shipping-options";

async fn create(app: &TestApp, admin: &str, body: &Value) -> reqwest::Response {
    app.post_json(OPTIONS, body, Some(admin)).await
}

async fn created(app: &TestApp, admin: &str, body: &Value) -> Value {
    let resp = create(app, admin, body).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "creating {body}");
    resp.json().await.unwrap()
}

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
    let resp = create(&app, &admin, &standard()).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()[LOCATION].to_str().unwrap().to_owned();
    let made: Value = resp.json().await.unwrap();
    let id = str_of(&made, "id");
    assert_eq!(location, format!("{OPTIONS}/{id}"));
    let mut expected = made.clone();
    for key in ["id", "created_at", "updated_at"] {
        expected.as_object_mut().unwrap().remove(key);
    }
    assert_eq!(
        expected,
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
    let resp = app
        .put_json(
            &location,
            &json!({"active": false, "free_over": null, "countries": ["FR", "DE", "BE"]}),
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let changed: Value = resp.json().await.unwrap();
    assert_eq!(changed["active"], false);
    assert_eq!(changed["free_over"], Value::Null);
    assert_eq!(changed["countries"], json!(["FR", "DE", "BE"]));
    for same in ["id", "name", "price", "created_at"] {
        assert_eq!(changed[same], made[same], "{same}");
    }
    assert_eq!(app.get_json(&location, Some(&admin)).await, changed);

    // A price in another currency, with its threshold.
    let resp = app
        .put_json(
            &location,
            &json!({"price": {"amount": "500", "currency": "JPY"}, "free_over": {"amount": "5000", "currency": "JPY"}, "name": "Yamato"}),
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let yen: Value = resp.json().await.unwrap();
    assert_eq!(yen["price"], json!({"amount": "500", "currency": "JPY"}));
    assert_eq!(
        yen["free_over"],
        json!({"amount": "5000", "currency": "JPY"})
    );
    assert_eq!(yen["name"], "Yamato");

    assert_eq!(
        app.delete(&location, Some(&admin)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(app.get(&location, Some(&admin)).await, 404).await;
    assert_problem(app.delete(&location, Some(&admin)).await, 404).await;
    assert_problem(
        app.put_json(&location, &json!({"active": true}), Some(&admin))
            .await,
        404,
    )
    .await;
    assert_problem(
        app.get(&format!("{OPTIONS}/not-a-uuid"), Some(&admin))
            .await,
        404,
    )
    .await;
    assert_eq!(app.get_json(OPTIONS, Some(&admin)).await["total"], 0);
}

async fn shipping_options_are_listed_newest_first_by_page_and_cursor(app: TestApp) {
    let admin = app.admin_token().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let o = created(
            &app,
            &admin,
            &json!({"name": format!("Option {i}"), "countries": ["DE"], "price": {"amount": "1", "currency": "EUR"}}),
        )
        .await;
        assert_eq!(o["free_over"], Value::Null);
        ids.push(str_of(&o, "id"));
    }
    ids.reverse();
    let ids_of = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| str_of(p, "id"))
            .collect()
    };
    let first = app
        .get_json(&format!("{OPTIONS}?per_page=2"), Some(&admin))
        .await;
    assert_eq!(
        (&first["total"], &first["total_pages"]),
        (&json!(5), &json!(3))
    );
    assert_eq!(ids_of(&first), ids[..2]);
    let third = app
        .get_json(&format!("{OPTIONS}?per_page=2&page=3"), Some(&admin))
        .await;
    assert_eq!(ids_of(&third), ids[4..]);
    assert_eq!(third["next_cursor"], Value::Null);
    let mut walked = ids_of(&first);
    let mut cursor = first["next_cursor"].clone();
    while let Some(c) = cursor.as_str() {
        let page = app
            .get_json(&format!("{OPTIONS}?per_page=2&cursor={c}"), Some(&admin))
            .await;
        walked.extend(ids_of(&page));
        cursor = page["next_cursor"].clone();
    }
    assert_eq!(walked, ids);
    for bad in ["per_page=0", "page=0", "cursor=nonsense"] {
        let resp = app.get(&format!("{OPTIONS}?{bad}"), Some(&admin)).await;
        let field = bad.split('=').next().unwrap();
        assert_eq!(assert_invalid(resp).await, [field], "{bad}");
    }
}

async fn bad_shipping_options_are_refused_naming_each_field(app: TestApp) {
    let admin = app.admin_token().await;
    let base = || json!({"name": "Express", "countries": ["DE"], "price": {"amount": "9.90", "currency": "EUR"}});
    let with = |changes: Value| {
        let mut b = base();
        for (k, v) in changes.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
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
    for (body, fields) in &cases {
        let got = assert_invalid(create(&app, &admin, body).await).await;
        assert_eq!(&got, fields, "{body}");
    }
    assert_eq!(app.get_json(OPTIONS, Some(&admin)).await["total"], 0);

    let mut with_threshold = base();
    with_threshold["free_over"] = json!({"amount": "100", "currency": "EUR"});
    let o = created(&app, &admin, &with_threshold).await;
    let path = format!("{OPTIONS}/{}", str_of(&o, "id"));
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
    for (body, fields) in &changes {
        let got = assert_invalid(app.put_json(&path, body, Some(&admin)).await).await;
        assert_eq!(&got, fields, "{body}");
    }
    assert_eq!(app.get_json(&path, Some(&admin)).await, o);
}

async fn only_admins_manage_shipping_options(app: TestApp) {
    let admin = app.admin_token().await;
    let o = created(&app, &admin, &standard()).await;
    let path = format!("{OPTIONS}/{}", str_of(&o, "id"));
    let (_, user) = app.user_token().await;
    assert_problem(create(&app, &user, &standard()).await, 403).await;
    assert_problem(app.get(OPTIONS, Some(&user)).await, 403).await;
    assert_problem(app.get(&path, Some(&user)).await, 403).await;
    assert_problem(
        app.put_json(&path, &json!({"active": false}), Some(&user))
            .await,
        403,
    )
    .await;
    assert_problem(app.delete(&path, Some(&user)).await, 403).await;
    assert_unauthorized(app.post_json(OPTIONS, &standard(), None).await).await;
    assert_unauthorized(app.get(OPTIONS, None).await).await;
    assert_unauthorized(app.get(&path, None).await).await;
    assert_unauthorized(app.put_json(&path, &json!({"active": false}), None).await).await;
    assert_unauthorized(app.delete(&path, None).await).await;
    assert_eq!(app.get_json(&path, Some(&admin)).await, o);
    assert_eq!(app.get_json(OPTIONS, Some(&admin)).await["total"], 1);
}
