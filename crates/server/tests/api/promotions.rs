//! Promotions (admin): discount codes created, listed by page and cursor, read, changed in
//! part and deleted; codes unique whatever their case; each bad field named; only admins.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_invalid, assert_problem, assert_unauthorized, str_of};

both_dbs!(
    promotions_are_created_read_changed_and_deleted,
    promotions_are_listed_newest_first_by_page_and_cursor,
    codes_are_unique_whatever_their_case,
    bad_promotions_are_refused_naming_each_field,
    only_admins_manage_promotions,
);

const PROMOTIONS: &str = "/api/v1/promotions";

async fn create(app: &TestApp, admin: &str, body: &Value) -> reqwest::Response {
    app.post_json(PROMOTIONS, body, Some(admin)).await
}

async fn created(app: &TestApp, admin: &str, body: &Value) -> Value {
    let resp = create(app, admin, body).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "creating {body}");
    resp.json().await.unwrap()
}

fn summer() -> Value {
    json!({
        "code": "Summer-10",
        "kind": "percentage",
        "value": "12.50",
        "min_subtotal": {"amount": "50", "currency": "EUR"},
        "starts_at": "2026-06-01T02:00:00+02:00",
        "ends_at": "2026-09-01T00:00:00.1234567Z",
        "usage_limit": 100,
        "per_customer_limit": 1,
    })
}

async fn promotions_are_created_read_changed_and_deleted(app: TestApp) {
    let admin = app.admin_token().await;
    let resp = create(&app, &admin, &summer()).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()[LOCATION].to_str().unwrap().to_owned();
    let made: Value = resp.json().await.unwrap();
    let id = str_of(&made, "id");
    assert_eq!(location, format!("{PROMOTIONS}/{id}"));
    let mut expected = made.clone();
    for key in ["id", "created_at", "updated_at"] {
        expected.as_object_mut().unwrap().remove(key);
    }
    assert_eq!(
        expected,
        json!({
            "code": "Summer-10",
            "kind": "percentage",
            "value": "12.5",
            "currency": null,
            "min_subtotal": {"amount": "50.00", "currency": "EUR"},
            "starts_at": "2026-06-01T00:00:00.000000Z",
            "ends_at": "2026-09-01T00:00:00.123456Z",
            "usage_limit": 100,
            "per_customer_limit": 1,
            "active": true,
            "times_used": 0,
        })
    );
    assert_eq!(made["created_at"], made["updated_at"]);
    assert_eq!(app.get_json(&location, Some(&admin)).await, made);

    // Any subset: the rest stays; null clears.
    let resp = app
        .put_json(
            &location,
            &json!({"active": false, "usage_limit": null, "ends_at": null}),
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let changed: Value = resp.json().await.unwrap();
    assert_eq!(changed["active"], false);
    assert_eq!(changed["usage_limit"], Value::Null);
    assert_eq!(changed["ends_at"], Value::Null);
    for same in [
        "id",
        "code",
        "kind",
        "value",
        "min_subtotal",
        "starts_at",
        "per_customer_limit",
        "times_used",
        "created_at",
    ] {
        assert_eq!(changed[same], made[same], "{same}");
    }
    assert_ne!(changed["updated_at"], made["updated_at"]);
    assert_eq!(app.get_json(&location, Some(&admin)).await, changed);

    // Into a fixed discount (its minimum in the same currency), then back to a percentage,
    // which drops the currency.
    let fixed: Value = app
        .put_json(
            &location,
            &json!({"kind": "fixed", "value": "5", "currency": "EUR", "code": "FIVE_OFF"}),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            &fixed["code"],
            &fixed["kind"],
            &fixed["value"],
            &fixed["currency"]
        ),
        (
            &json!("FIVE_OFF"),
            &json!("fixed"),
            &json!("5.00"),
            &json!("EUR")
        )
    );
    let resp = app
        .put_json(&location, &json!({"value": "7.5"}), Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["value"], "7.50");
    let back: Value = app
        .put_json(
            &location,
            &json!({"kind": "percentage", "value": "100", "min_subtotal": null}),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            &back["kind"],
            &back["value"],
            &back["currency"],
            &back["min_subtotal"]
        ),
        (
            &json!("percentage"),
            &json!("100.0"),
            &Value::Null,
            &Value::Null
        )
    );

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
        app.get(&format!("{PROMOTIONS}/not-a-uuid"), Some(&admin))
            .await,
        404,
    )
    .await;
    let list = app.get_json(PROMOTIONS, Some(&admin)).await;
    assert_eq!(list["total"], 0);
}

async fn promotions_are_listed_newest_first_by_page_and_cursor(app: TestApp) {
    let admin = app.admin_token().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let p = created(
            &app,
            &admin,
            &json!({"code": format!("PAGE-{i}"), "kind": "fixed", "value": "1", "currency": "JPY"}),
        )
        .await;
        assert_eq!(p["value"], "1");
        ids.push(str_of(&p, "id"));
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
        .get_json(&format!("{PROMOTIONS}?per_page=2"), Some(&admin))
        .await;
    assert_eq!(
        (
            &first["page"],
            &first["per_page"],
            &first["total"],
            &first["total_pages"]
        ),
        (&json!(1), &json!(2), &json!(5), &json!(3))
    );
    assert_eq!(ids_of(&first), ids[..2]);
    let second = app
        .get_json(&format!("{PROMOTIONS}?per_page=2&page=2"), Some(&admin))
        .await;
    assert_eq!(ids_of(&second), ids[2..4]);
    // The cursor walks the same order.
    let mut walked = ids_of(&first);
    let mut cursor = first["next_cursor"].clone();
    while let Some(c) = cursor.as_str() {
        let page = app
            .get_json(&format!("{PROMOTIONS}?per_page=2&cursor={c}"), Some(&admin))
            .await;
        walked.extend(ids_of(&page));
        cursor = page["next_cursor"].clone();
    }
    assert_eq!(walked, ids);
    let past = app
        .get_json(&format!("{PROMOTIONS}?per_page=2&page=4"), Some(&admin))
        .await;
    assert_eq!(past["items"], json!([]));
    for bad in [
        "per_page=0",
        "per_page=101",
        "page=0",
        "page=x",
        "cursor=nonsense",
    ] {
        let resp = app.get(&format!("{PROMOTIONS}?{bad}"), Some(&admin)).await;
        let field = bad.split('=').next().unwrap();
        assert_eq!(assert_invalid(resp).await, [field], "{bad}");
    }
    // A cursor of another list is refused.
    let users = app.get_json("/api/v1/users?per_page=1", Some(&admin)).await;
    if let Some(c) = users["next_cursor"].as_str() {
        let resp = app
            .get(&format!("{PROMOTIONS}?cursor={c}"), Some(&admin))
            .await;
        assert_eq!(assert_invalid(resp).await, ["cursor"]);
    }
}

async fn codes_are_unique_whatever_their_case(app: TestApp) {
    let admin = app.admin_token().await;
    let first = created(&app, &admin, &summer()).await;
    for code in ["Summer-10", "SUMMER-10", "summer-10", " summer-10 "] {
        let mut body = summer();
        body["code"] = json!(code);
        let problem = assert_problem(create(&app, &admin, &body).await, 409).await;
        assert_eq!(problem["errors"][0]["field"], "code", "{code}: {problem}");
    }
    let other = created(
        &app,
        &admin,
        &json!({"code": "WINTER", "kind": "percentage", "value": "5"}),
    )
    .await;
    let other_path = format!("{PROMOTIONS}/{}", str_of(&other, "id"));
    let problem = assert_problem(
        app.put_json(&other_path, &json!({"code": "sUmMeR-10"}), Some(&admin))
            .await,
        409,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "code", "{problem}");
    assert_eq!(app.get_json(&other_path, Some(&admin)).await, other);
    // A promotion may respell its own code.
    let own = format!("{PROMOTIONS}/{}", str_of(&first, "id"));
    let resp = app
        .put_json(&own, &json!({"code": "SUMMER-10"}), Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "SUMMER-10");
    let list = app.get_json(PROMOTIONS, Some(&admin)).await;
    assert_eq!(list["total"], 2);
}

async fn bad_promotions_are_refused_naming_each_field(app: TestApp) {
    let admin = app.admin_token().await;
    let base = || json!({"code": "OK", "kind": "percentage", "value": "10"});
    let with = |changes: Value| {
        let mut b = base();
        for (k, v) in changes.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (with(json!({"code": ""})), vec!["code"]),
        (with(json!({"code": "TEN %"})), vec!["code"]),
        (with(json!({"code": "A".repeat(51)})), vec!["code"]),
        (with(json!({"kind": "bogo"})), vec!["kind"]),
        (with(json!({"value": "0"})), vec!["value"]),
        (with(json!({"value": "100.01"})), vec!["value"]),
        (with(json!({"value": "1.23456"})), vec!["value"]),
        (with(json!({"value": "-5"})), vec!["value"]),
        (with(json!({"currency": "EUR"})), vec!["currency"]),
        (
            with(json!({"kind": "fixed", "value": "5"})),
            vec!["currency"],
        ),
        (
            with(json!({"kind": "fixed", "value": "5", "currency": "XXX"})),
            vec!["currency"],
        ),
        (
            with(json!({"kind": "fixed", "value": "5.001", "currency": "EUR"})),
            vec!["value"],
        ),
        (
            with(json!({"kind": "fixed", "value": "0", "currency": "EUR"})),
            vec!["value"],
        ),
        (
            with(
                json!({"kind": "fixed", "value": "5", "currency": "EUR", "min_subtotal": {"amount": "50", "currency": "USD"}}),
            ),
            vec!["min_subtotal.currency"],
        ),
        (
            with(json!({"min_subtotal": {"amount": "-1", "currency": "EUR"}})),
            vec!["min_subtotal.amount"],
        ),
        (
            with(json!({"min_subtotal": {"amount": "1", "currency": "euro"}})),
            vec!["min_subtotal.currency"],
        ),
        (with(json!({"starts_at": "tomorrow"})), vec!["starts_at"]),
        (
            with(json!({"ends_at": "2026-13-01T00:00:00Z"})),
            vec!["ends_at"],
        ),
        (
            with(json!({"starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-01T00:00:00Z"})),
            vec!["ends_at"],
        ),
        (with(json!({"usage_limit": 0})), vec!["usage_limit"]),
        (
            with(json!({"per_customer_limit": 0})),
            vec!["per_customer_limit"],
        ),
        (with(json!({"usage_limit": -1})), vec!["usage_limit"]),
        (
            with(json!({"code": "", "kind": "bogo", "starts_at": "x"})),
            vec!["code", "kind", "starts_at"],
        ),
    ];
    for (body, fields) in &cases {
        let got = assert_invalid(create(&app, &admin, body).await).await;
        assert_eq!(&got, fields, "{body}");
    }
    assert_eq!(app.get_json(PROMOTIONS, Some(&admin)).await["total"], 0);

    // The same rules on a change, checked against what is stored; nothing changes.
    let p = created(&app, &admin, &base()).await;
    let path = format!("{PROMOTIONS}/{}", str_of(&p, "id"));
    let changes: Vec<(Value, Vec<&str>)> = vec![
        (json!({"code": "no spaces"}), vec!["code"]),
        (json!({"value": "101"}), vec!["value"]),
        (json!({"kind": "fixed"}), vec!["currency"]),
        (json!({"currency": "EUR"}), vec!["currency"]),
        (json!({"kind": "gift"}), vec!["kind"]),
        (
            json!({"starts_at": "2026-06-02T00:00:00Z", "ends_at": "2026-06-01T00:00:00Z"}),
            vec!["ends_at"],
        ),
        (json!({"usage_limit": 0}), vec!["usage_limit"]),
        (
            json!({"min_subtotal": {"amount": "1.001", "currency": "EUR"}}),
            vec!["min_subtotal.amount"],
        ),
    ];
    for (body, fields) in &changes {
        let got = assert_invalid(app.put_json(&path, body, Some(&admin)).await).await;
        assert_eq!(&got, fields, "{body}");
    }
    assert_eq!(app.get_json(&path, Some(&admin)).await, p);
}

async fn only_admins_manage_promotions(app: TestApp) {
    let admin = app.admin_token().await;
    let p = created(&app, &admin, &summer()).await;
    let path = format!("{PROMOTIONS}/{}", str_of(&p, "id"));
    let (_, user) = app.user_token().await;
    let body = json!({"code": "MINE", "kind": "percentage", "value": "50"});
    assert_problem(create(&app, &user, &body).await, 403).await;
    assert_problem(app.get(PROMOTIONS, Some(&user)).await, 403).await;
    assert_problem(app.get(&path, Some(&user)).await, 403).await;
    assert_problem(
        app.put_json(&path, &json!({"active": false}), Some(&user))
            .await,
        403,
    )
    .await;
    assert_problem(app.delete(&path, Some(&user)).await, 403).await;
    assert_unauthorized(app.post_json(PROMOTIONS, &body, None).await).await;
    assert_unauthorized(app.get(PROMOTIONS, None).await).await;
    assert_unauthorized(app.get(&path, None).await).await;
    assert_unauthorized(app.put_json(&path, &json!({"active": false}), None).await).await;
    assert_unauthorized(app.delete(&path, None).await).await;
    // Nothing changed.
    assert_eq!(app.get_json(&path, Some(&admin)).await, p);
    assert_eq!(app.get_json(PROMOTIONS, Some(&admin)).await["total"], 1);
}
