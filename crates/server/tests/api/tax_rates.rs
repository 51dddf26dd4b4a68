//! Tax rates (admin): created, listed by page and cursor, read, changed in part and deleted;
//! one per country and state (states compared case-insensitively, one rate without a state
//! per country); each bad field named; only admins.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin_crud::{
    answer_to_change, assert_bad_fields_refused, assert_bad_queries, assert_created_at,
    assert_deleted, assert_kept, assert_only_admins_manage, assert_pages_of_two, change, created,
    ids_newest_first, ids_of, item_path, merged, page, without_id_and_times,
};
use crate::helpers::{TestApp, assert_problem};

both_dbs!(
    tax_rates_are_created_read_changed_and_deleted,
    tax_rates_are_listed_newest_first_by_page_and_cursor,
    one_rate_per_country_and_state,
    bad_tax_rates_are_refused_naming_each_field,
    only_admins_manage_tax_rates,
);

const RATES: &str = "/api/v1/tax-rates";

async fn tax_rates_are_created_read_changed_and_deleted(app: TestApp) {
    let admin = app.admin_token().await;
    let body = json!({"country": "de", "rate": "19", "name": " VAT "});
    let resp = app.post_json(RATES, &body, Some(&admin)).await;
    let (location, made) = assert_created_at(resp, RATES).await;
    assert_eq!(
        without_id_and_times(&made),
        json!({"country": "DE", "state": null, "rate": "19.0", "name": "VAT"})
    );
    assert_eq!(app.get_json(&location, Some(&admin)).await, made);

    let changed = change(
        &app,
        &location,
        &admin,
        &json!({"state": " Bayern ", "rate": "7.6875"}),
    )
    .await;
    assert_eq!(changed["state"], "Bayern");
    assert_eq!(changed["rate"], "7.6875");
    assert_kept(&changed, &made, &["id", "country", "name", "created_at"]);
    assert_eq!(app.get_json(&location, Some(&admin)).await, changed);
    let back = answer_to_change(
        &app,
        &location,
        &admin,
        &json!({"state": null, "country": "AT", "rate": "0"}),
    )
    .await;
    assert_eq!(
        (&back["country"], &back["state"], &back["rate"]),
        (&json!("AT"), &Value::Null, &json!("0.0"))
    );

    assert_deleted(&app, RATES, &location, &admin, &json!({"name": "VAT"})).await;
    assert_eq!(app.get_json(RATES, Some(&admin)).await["total"], 0);
}

async fn tax_rates_are_listed_newest_first_by_page_and_cursor(app: TestApp) {
    let admin = app.admin_token().await;
    let bodies = (0..5).map(|i| {
        json!({"country": "US", "state": format!("State {i}"), "rate": "5", "name": "Sales tax"})
    });
    let ids = ids_newest_first(&app, RATES, &admin, bodies, |_| {}).await;
    let first = assert_pages_of_two(&app, RATES, &admin, &ids).await;
    assert_eq!(
        (&first["total"], &first["total_pages"]),
        (&json!(5), &json!(3))
    );
    let second = page(&app, RATES, &admin, "per_page=2&page=2").await;
    assert_eq!(ids_of(&second), ids[2..4]);
    let bad = ["per_page=101", "page=-1", "cursor=nonsense"];
    assert_bad_queries(&app, RATES, &admin, &bad).await;
}

async fn one_rate_per_country_and_state(app: TestApp) {
    let admin = app.admin_token().await;
    let country = created(
        &app,
        RATES,
        &admin,
        &json!({"country": "US", "rate": "0", "name": "No tax"}),
    )
    .await;
    let state = created(
        &app,
        RATES,
        &admin,
        &json!({"country": "US", "state": "California", "rate": "7.25", "name": "Sales tax"}),
    )
    .await;
    // The same state in another country is another rate.
    created(
        &app,
        RATES,
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
        let resp = app.post_json(RATES, &body, Some(&admin)).await;
        let problem = assert_problem(resp, 409).await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    // A change onto another rate's place is refused too, and changes nothing.
    let state_path = item_path(RATES, &state);
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
    let country_path = item_path(RATES, &country);
    assert_eq!(app.get_json(&country_path, Some(&admin)).await, country);
    assert_eq!(app.get_json(RATES, Some(&admin)).await["total"], 3);
}

async fn bad_tax_rates_are_refused_naming_each_field(app: TestApp) {
    let admin = app.admin_token().await;
    let base = || json!({"country": "DE", "rate": "19", "name": "VAT"});
    let with = |changes: Value| merged(base(), changes);
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

    let changes: Vec<(Value, Vec<&str>)> = vec![
        (json!({"country": "Germany"}), vec!["country"]),
        (json!({"rate": "101"}), vec!["rate"]),
        (json!({"name": ""}), vec!["name"]),
        (json!({"state": "\u{7}"}), vec!["state"]),
    ];
    assert_bad_fields_refused(&app, RATES, &admin, &cases, &base(), &changes).await;
}

async fn only_admins_manage_tax_rates(app: TestApp) {
    let admin = app.admin_token().await;
    let body = json!({"country": "FR", "rate": "20", "name": "TVA"});
    let r = created(&app, RATES, &admin, &body).await;
    let other = json!({"country": "IT", "rate": "22", "name": "IVA"});
    let change = json!({"rate": "0"});
    assert_only_admins_manage(&app, RATES, &admin, &r, &other, &change).await;
}
