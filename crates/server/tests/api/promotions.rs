//! Promotions (admin): discount codes created, listed by page and cursor, read, changed in
//! part and deleted; codes unique whatever their case; each bad field named; only admins.

use serde_json::{Value, json};

use crate::admin_crud::{
    answer_to_change, assert_bad_fields_refused, assert_bad_queries, assert_created_at,
    assert_deleted, assert_kept, assert_only_admins_manage, assert_pages_of_two, change, created,
    ids_newest_first, ids_of, item_path, merged, page, without_id_and_times,
};
use crate::helpers::{TestApp, assert_invalid, assert_problem};

both_dbs!(
    promotions_are_created_read_changed_and_deleted,
    promotions_are_listed_newest_first_by_page_and_cursor,
    codes_are_unique_whatever_their_case,
    bad_promotions_are_refused_naming_each_field,
    only_admins_manage_promotions,
);

const PROMOTIONS: &str = "/api/v1/promotions";

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
    let resp = app.post_json(PROMOTIONS, &summer(), Some(&admin)).await;
    let (location, made) = assert_created_at(resp, PROMOTIONS).await;
    assert_eq!(
        without_id_and_times(&made),
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
    let changed = change(
        &app,
        &location,
        &admin,
        &json!({"active": false, "usage_limit": null, "ends_at": null}),
    )
    .await;
    assert_eq!(changed["active"], false);
    assert_eq!(changed["usage_limit"], Value::Null);
    assert_eq!(changed["ends_at"], Value::Null);
    assert_kept(
        &changed,
        &made,
        &[
            "id",
            "code",
            "kind",
            "value",
            "min_subtotal",
            "starts_at",
            "per_customer_limit",
            "times_used",
            "created_at",
        ],
    );
    assert_ne!(changed["updated_at"], made["updated_at"]);
    assert_eq!(app.get_json(&location, Some(&admin)).await, changed);

    // Into a fixed discount (its minimum in the same currency), then back to a percentage,
    // which drops the currency.
    let fixed = answer_to_change(
        &app,
        &location,
        &admin,
        &json!({"kind": "fixed", "value": "5", "currency": "EUR", "code": "FIVE_OFF"}),
    )
    .await;
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
    let seven = change(&app, &location, &admin, &json!({"value": "7.5"})).await;
    assert_eq!(seven["value"], "7.50");
    let back = answer_to_change(
        &app,
        &location,
        &admin,
        &json!({"kind": "percentage", "value": "100", "min_subtotal": null}),
    )
    .await;
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

    assert_deleted(
        &app,
        PROMOTIONS,
        &location,
        &admin,
        &json!({"active": true}),
    )
    .await;
    let list = app.get_json(PROMOTIONS, Some(&admin)).await;
    assert_eq!(list["total"], 0);
}

async fn promotions_are_listed_newest_first_by_page_and_cursor(app: TestApp) {
    let admin = app.admin_token().await;
    let bodies = (0..5).map(
        |i| json!({"code": format!("PAGE-{i}"), "kind": "fixed", "value": "1", "currency": "JPY"}),
    );
    let ids = ids_newest_first(&app, PROMOTIONS, &admin, bodies, |p| {
        assert_eq!(p["value"], "1");
    })
    .await;
    // The cursor walks the same order as the pages.
    let first = assert_pages_of_two(&app, PROMOTIONS, &admin, &ids).await;
    assert_eq!(
        (
            &first["page"],
            &first["per_page"],
            &first["total"],
            &first["total_pages"]
        ),
        (&json!(1), &json!(2), &json!(5), &json!(3))
    );
    let second = page(&app, PROMOTIONS, &admin, "per_page=2&page=2").await;
    assert_eq!(ids_of(&second), ids[2..4]);
    let past = page(&app, PROMOTIONS, &admin, "per_page=2&page=4").await;
    assert_eq!(past["items"], json!([]));
    let bad = [
        "per_page=0",
        "per_page=101",
        "page=0",
        "page=x",
        "cursor=nonsense",
    ];
    assert_bad_queries(&app, PROMOTIONS, &admin, &bad).await;
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
    let first = created(&app, PROMOTIONS, &admin, &summer()).await;
    for code in ["Summer-10", "SUMMER-10", "summer-10", " summer-10 "] {
        let mut body = summer();
        body["code"] = json!(code);
        let resp = app.post_json(PROMOTIONS, &body, Some(&admin)).await;
        let problem = assert_problem(resp, 409).await;
        assert_eq!(problem["errors"][0]["field"], "code", "{code}: {problem}");
    }
    let other = created(
        &app,
        PROMOTIONS,
        &admin,
        &json!({"code": "WINTER", "kind": "percentage", "value": "5"}),
    )
    .await;
    let other_path = item_path(PROMOTIONS, &other);
    let problem = assert_problem(
        app.put_json(&other_path, &json!({"code": "sUmMeR-10"}), Some(&admin))
            .await,
        409,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "code", "{problem}");
    assert_eq!(app.get_json(&other_path, Some(&admin)).await, other);
    // A promotion may respell its own code.
    let own = item_path(PROMOTIONS, &first);
    let respelt = change(&app, &own, &admin, &json!({"code": "SUMMER-10"})).await;
    assert_eq!(respelt["code"], "SUMMER-10");
    let list = app.get_json(PROMOTIONS, Some(&admin)).await;
    assert_eq!(list["total"], 2);
}

async fn bad_promotions_are_refused_naming_each_field(app: TestApp) {
    let admin = app.admin_token().await;
    let base = || json!({"code": "OK", "kind": "percentage", "value": "10"});
    let with = |changes: Value| merged(base(), changes);
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

    // The same rules on a change, checked against what is stored; nothing changes.
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
    assert_bad_fields_refused(&app, PROMOTIONS, &admin, &cases, &base(), &changes).await;
}

async fn only_admins_manage_promotions(app: TestApp) {
    let admin = app.admin_token().await;
    let p = created(&app, PROMOTIONS, &admin, &summer()).await;
    let body = json!({"code": "MINE", "kind": "percentage", "value": "50"});
    let change = json!({"active": false});
    assert_only_admins_manage(&app, PROMOTIONS, &admin, &p, &body, &change).await;
}
