//! Tax rates (admin): created, listed by page and cursor, read, changed in part and deleted;
//! one per country and state (states compared case-insensitively, one rate without a state
//! per country); each bad field named; only admins.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_invalid, assert_problem, assert_unauthorized, str_of};

both_dbs!(
    tax_rates_are_created_read_changed_and_deleted,
    tax_rates_are_listed_newest_first_by_page_and_cursor,
    one_rate_per_country_and_state,
    bad_tax_rates_are_refused_naming_each_field,
    only_admins_manage_tax_rates,
);

const RATES: &str = "/api/v1/tax-rates";

async fn create(app: &TestApp, admin: &str, body: &Value) -> reqwest::Response {
    app.post_json(RATES, body, Some(admin)).await
}

async fn created(app: &TestApp, admin: &str, body: &Value) -> Value {
    let resp = create(app, admin, body).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "creating {body}");
    resp.json().await.unwrap()
}

async fn tax_rates_are_created_read_changed_and_deleted(app: TestApp) {
    let admin = app.admin_token().await;
    let resp = create(
        &app,
        &admin,
        &json!({"country": "de", "rate": "19", "name": " VAT "}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()[LOCATION].to_str().unwrap().to_owned();
    let made: Value = resp.json().await.unwrap();
    let id = str_of(&made, "id");
    assert_eq!(location, format!("{RATES}/{id}"));
    let mut expected = made.clone();
    for key in ["id", "created_at", "updated_at"] {
        expected.as_object_mut().unwrap().remove(key);
    }
    assert_eq!(
        expected,
        json!({"country": "DE", "state": null, "rate": "19.0", "name": "VAT"})
    );
    assert_eq!(app.get_json(&location, Some(&admin)).await, made);

    let resp = app
        .put_json(
            &location,
            &json!({"state": " Bayern ", "rate": "7.6875"}),
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let changed: Value = resp.json().await.unwrap();
    assert_eq!(changed["state"], "Bayern");
    assert_eq!(changed["rate"], "7.6875");
    for same in ["id", "country", "name", "created_at"] {
        assert_eq!(changed[same], made[same], "{same}");
    }
    assert_eq!(app.get_json(&location, Some(&admin)).await, changed);
    let back: Value = app
        .put_json(
            &location,
            &json!({"state": null, "country": "AT", "rate": "0"}),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&back["country"], &back["state"], &back["rate"]),
        (&json!("AT"), &Value::Null, &json!("0.0"))
    );

    assert_eq!(
        app.delete(&location, Some(&admin)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(app.get(&location, Some(&admin)).await, 404).await;
    assert_problem(app.delete(&location, Some(&admin)).await, 404).await;
    assert_problem(
        app.put_json(&location, &json!({"name": "VAT"}), Some(&admin))
            .await,
        404,
    )
    .await;
    assert_problem(
        app.get(&format!("{RATES}/not-a-uuid"), Some(&admin)).await,
        404,
    )
    .await;
    assert_eq!(app.get_json(RATES, Some(&admin)).await["total"], 0);
}

async fn tax_rates_are_listed_newest_first_by_page_and_cursor(app: TestApp) {
    let admin = app.admin_token().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = created(
            &app,
            &admin,
            &json!({"country": "US", "state": format!("State {i}"), "rate": "5", "name": "Sales tax"}),
        )
        .await;
        ids.push(str_of(&r, "id"));
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
        .get_json(&format!("{RATES}?per_page=2"), Some(&admin))
        .await;
    assert_eq!(
        (&first["total"], &first["total_pages"]),
        (&json!(5), &json!(3))
    );
    assert_eq!(ids_of(&first), ids[..2]);
    let mut walked = ids_of(&first);
    let mut cursor = first["next_cursor"].clone();
    while let Some(c) = cursor.as_str() {
        let page = app
            .get_json(&format!("{RATES}?per_page=2&cursor={c}"), Some(&admin))
            .await;
        walked.extend(ids_of(&page));
        cursor = page["next_cursor"].clone();
    }
    assert_eq!(walked, ids);
    let second = app
        .get_json(&format!("{RATES}?per_page=2&page=2"), Some(&admin))
        .await;
    assert_eq!(ids_of(&second), ids[2..4]);
    for bad in ["per_page=101", "page=-1", "cursor=nonsense"] {
        let resp = app.get(&format!("{RATES}?{bad}"), Some(&admin)).await;
        let field = bad.split('=').next().unwrap();
        assert_eq!(assert_invalid(resp).await, [field], "{bad}");
    }
}

async fn one_rate_per_country_and_state(app: TestApp) {
    let admin = app.admin_token().await;
    let country = created(
        &app,
        &admin,
        &json!({"country": "US", "rate": "0", "name": "No tax"}),
    )
    .await;
    let state = created(
        &app,
        &admin,
        &json!({"country": "US", "state": "California", "rate": "7.25", "name": "Sales tax"}),
    )
    .await;
    // The same state in another country is another rate.
    created(
        &app,
        &admin,
        &json!({"country": "CA", "state": "California", "rate": "5", "name": "GST"}),
    )
    .await;
    for (body, field) in [
        (
            json!({"country": "US", "rate": "1", "name": "Again"}),
            "country",
        ),
        (
            json!({"country": "us", "rate": "1", "name": "Again"}),
            "country",
        ),
        (
            json!({"country": "US", "state": "CALIFORNIA", "rate": "1", "name": "Again"}),
            "state",
        ),
        (
            json!({"country": "US", "state": " california ", "rate": "1", "name": "Again"}),
            "state",
        ),
    ] {
        let problem = assert_problem(create(&app, &admin, &body).await, 409).await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    // A change onto another rate's place is refused too, and changes nothing.
    let state_path = format!("{RATES}/{}", str_of(&state, "id"));
    let problem = assert_problem(
        app.put_json(&state_path, &json!({"state": null}), Some(&admin))
            .await,
        409,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "country", "{problem}");
    assert_eq!(app.get_json(&state_path, Some(&admin)).await, state);
    // Respelling its own state is not a clash.
    let resp = app
        .put_json(&state_path, &json!({"state": "CALIFORNIA"}), Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let country_path = format!("{RATES}/{}", str_of(&country, "id"));
    assert_eq!(app.get_json(&country_path, Some(&admin)).await, country);
    assert_eq!(app.get_json(RATES, Some(&admin)).await["total"], 3);
}

async fn bad_tax_rates_are_refused_naming_each_field(app: TestApp) {
    let admin = app.admin_token().await;
    let base = || json!({"country": "DE", "rate": "19", "name": "VAT"});
    let with = |changes: Value| {
        let mut b = base();
        for (k, v) in changes.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (with(json!({"country": "XX"})), vec!["country"]),
        (with(json!({"country": "DEU"})), vec!["country"]),
        (with(json!({"rate": "100.5"})), vec!["rate"]),
        (with(json!({"rate": "19.00001"})), vec!["rate"]),
        (with(json!({"rate": "-1"})), vec!["rate"]),
        (with(json!({"rate": "19%"})), vec!["rate"]),
        (with(json!({"name": "  "})), vec!["name"]),
        (with(json!({"name": "n".repeat(101)})), vec!["name"]),
        (with(json!({"state": ""})), vec!["state"]),
        (with(json!({"state": "s".repeat(101)})), vec!["state"]),
        (with(json!({"rate": 19})), vec!["rate"]),
        (
            json!({"country": "ZZ", "state": "", "rate": "x", "name": ""}),
            vec!["country", "rate", "state", "name"],
        ),
    ];
    for (body, fields) in &cases {
        let got = assert_invalid(create(&app, &admin, body).await).await;
        assert_eq!(&got, fields, "{body}");
    }
    assert_eq!(app.get_json(RATES, Some(&admin)).await["total"], 0);

    let r = created(&app, &admin, &base()).await;
    let path = format!("{RATES}/{}", str_of(&r, "id"));
    let changes: Vec<(Value, Vec<&str>)> = vec![
        (json!({"country": "Germany"}), vec!["country"]),
        (json!({"rate": "101"}), vec!["rate"]),
        (json!({"name": ""}), vec!["name"]),
        (json!({"state": "\u{7}"}), vec!["state"]),
    ];
    for (body, fields) in &changes {
        let got = assert_invalid(app.put_json(&path, body, Some(&admin)).await).await;
        assert_eq!(&got, fields, "{body}");
    }
    assert_eq!(app.get_json(&path, Some(&admin)).await, r);
}

async fn only_admins_manage_tax_rates(app: TestApp) {
    let admin = app.admin_token().await;
    let body = json!({"country": "FR", "rate": "20", "name": "TVA"});
    let r = created(&app, &admin, &body).await;
    let path = format!("{RATES}/{}", str_of(&r, "id"));
    let (_, user) = app.user_token().await;
    let other = json!({"country": "IT", "rate": "22", "name": "IVA"});
    assert_problem(create(&app, &user, &other).await, 403).await;
    assert_problem(app.get(RATES, Some(&user)).await, 403).await;
    assert_problem(app.get(&path, Some(&user)).await, 403).await;
    assert_problem(
        app.put_json(&path, &json!({"rate": "0"}), Some(&user))
            .await,
        403,
    )
    .await;
    assert_problem(app.delete(&path, Some(&user)).await, 403).await;
    assert_unauthorized(app.post_json(RATES, &other, None).await).await;
    assert_unauthorized(app.get(RATES, None).await).await;
    assert_unauthorized(app.get(&path, None).await).await;
    assert_unauthorized(app.put_json(&path, &json!({"rate": "0"}), None).await).await;
    assert_unauthorized(app.delete(&path, None).await).await;
    assert_eq!(app.get_json(&path, Some(&admin)).await, r);
    assert_eq!(app.get_json(RATES, Some(&admin)).await["total"], 1);
}
