//! The catalog: reading it as anyone, changing it as an admin, paging and searching it.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::paths::PRODUCTS;
use crate::helpers::{
    TestApp, assert_invalid, assert_problem, assert_unauthorized, fetch_json, location, names_of,
    str_of, timestamp, unique,
};

both_dbs!(
    a_product_is_created_with_options_and_variants,
    a_product_of_several_variants_is_ordered_and_changed_by_variant,
    variants_are_checked_when_a_product_is_created,
    variants_are_added_changed_and_deleted_one_at_a_time,
    variant_routes_answer_404_for_what_does_not_exist_and_403_to_users,
    a_whole_new_variant_set_keeps_adds_and_deletes_variants,
    anyone_can_list_an_empty_catalog,
    an_admin_creates_a_product_that_anyone_can_read,
    prices_carry_exactly_the_minor_digits_of_their_currency,
    a_description_is_kept_when_given,
    a_signed_in_user_may_not_change_the_catalog,
    an_anonymous_caller_may_not_change_the_catalog,
    creating_a_product_with_bad_fields_lists_each_one,
    each_out_of_range_value_is_refused_naming_its_field,
    values_at_the_edges_of_the_ranges_are_accepted,
    a_missing_required_field_is_refused_naming_it,
    a_taken_sku_is_a_conflict,
    updating_only_the_stock_keeps_every_other_field,
    updating_with_a_bad_value_is_refused_and_changes_nothing,
    updating_an_unknown_product_is_404,
    a_deleted_product_is_gone_and_frees_its_sku,
    lists_are_newest_first_and_paged,
    bad_paging_parameters_are_refused_naming_them,
    search_is_a_case_insensitive_substring_match_over_name_and_description,
    search_treats_percent_and_underscore_literally,
    search_accepts_any_text,
    a_description_with_a_nul_character_is_no_server_error,
    search_folds_the_case_of_non_ascii_letters,
    search_folds_case_by_one_rule_on_every_query_path,
    stored_search_text_is_folded_again_by_the_migration,
    one_unreadable_product_does_not_take_a_list_down,
    a_malformed_product_id_is_404,
);

/// The paging parameters' bounds in the OpenAPI document are the ones the service applies.
#[tokio::test]
async fn the_openapi_document_gives_the_paging_bounds_the_service_applies() {
    let Some(app) = crate::helpers::spawn_app(crate::helpers::Db::Sqlite).await else {
        return;
    };
    let doc: Value = app.get_json("/api/v1/openapi.json", None).await;
    for path in ["/api/v1/products", "/api/v1/orders", "/api/v1/users"] {
        let params = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("no parameters on GET {path}"));
        let schema = |name: &str| {
            params
                .iter()
                .find(|p| p["name"] == json!(name))
                .map(|p| p["schema"].clone())
                .unwrap_or_else(|| panic!("no `{name}` on GET {path}"))
        };
        let (page, per_page) = (schema("page"), schema("per_page"));
        assert_eq!(page["minimum"], json!(1), "page on {path}: {page}");
        assert_eq!(page["maximum"], json!(1_000_000), "page on {path}: {page}");
        assert_eq!(
            per_page["minimum"],
            json!(1),
            "per_page on {path}: {per_page}"
        );
        assert_eq!(
            per_page["maximum"],
            json!(100),
            "per_page on {path}: {per_page}"
        );
    }
    // The edges the document gives are accepted, one past them is refused naming the field.
    for (query, status) in [
        ("page=1&per_page=1", 200),
        ("page=1000000&per_page=100", 200),
        ("page=1000001", 422),
        ("per_page=101", 422),
        ("page=0", 422),
        ("per_page=0", 422),
    ] {
        let resp = app.get(&format!("{PRODUCTS}?{query}"), None).await;
        assert_eq!(resp.status().as_u16(), status, "GET {PRODUCTS}?{query}");
        if status == 200 {
            let page: Value = resp.json().await.unwrap();
            assert_eq!(page["items"], json!([]), "a page past the end is empty");
        }
    }
}

fn product_path(id: &Value) -> String {
    format!(
        "{PRODUCTS}/{}",
        id.as_str().expect("product id is a string")
    )
}

fn valid_body(sku: &str) -> Value {
    json!({
        "sku": sku,
        "name": "Stoneware mug",
        "description": "Glazed by hand",
        "price": {"amount": "19.90", "currency": "EUR"},
        "stock": 25
    })
}

async fn get_page(app: &TestApp, query: &str) -> Value {
    let resp = app.get(&format!("{PRODUCTS}?{query}"), None).await;
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "GET {PRODUCTS}?{query}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn anyone_can_list_an_empty_catalog(app: TestApp) {
    let page = get_page(&app, "").await;
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["total"], json!(0));
    assert_eq!(page["page"], json!(1));
    assert_eq!(page["per_page"], json!(20));
    assert!(page["total_pages"].is_u64(), "total_pages missing: {page}");
}

async fn an_admin_creates_a_product_that_anyone_can_read(app: TestApp) {
    let admin = app.admin_token().await;
    let sku = format!("MUG-{}", unique());
    let resp = app
        .post_json(PRODUCTS, &valid_body(&sku), Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = location(&resp);
    let created: Value = resp.json().await.unwrap();

    uuid::Uuid::parse_str(&str_of(&created, "id")).expect("`id` is a UUID");
    assert_eq!(location, product_path(&created["id"]));
    assert_eq!(created["sku"], json!(sku));
    assert_eq!(created["name"], json!("Stoneware mug"));
    assert_eq!(created["description"], json!("Glazed by hand"));
    assert_eq!(
        created["price"],
        json!({"amount": "19.90", "currency": "EUR"})
    );
    assert_eq!(created["stock"], json!(25));
    // Sold in one variant, which has the product's id, SKU, price and stock.
    assert_eq!(created["options"], json!([]));
    assert_eq!(
        created["variants"],
        json!([{
            "id": created["id"],
            "sku": sku,
            "title": "Default Title",
            "option_values": {},
            "price": {"amount": "19.90", "currency": "EUR"},
            "compare_at_price": null,
            "stock": 25,
            "position": 0,
        }])
    );
    assert_eq!(created["images"], json!([]));
    assert_eq!(
        timestamp(&created["created_at"]),
        timestamp(&created["updated_at"])
    );

    let resp = app.get(&location, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let fetched: Value = resp.json().await.unwrap();
    assert_eq!(fetched, created);

    let page = get_page(&app, "").await;
    assert_eq!(page["items"], json!([created]));
    assert_eq!(page["total"], json!(1));
    assert_eq!(page["total_pages"], json!(1));
}

async fn prices_carry_exactly_the_minor_digits_of_their_currency(app: TestApp) {
    let admin = app.admin_token().await;
    for (amount, currency, shown) in [
        ("19.9", "EUR", "19.90"),
        ("20", "EUR", "20.00"),
        ("0", "EUR", "0.00"),
        ("0.05", "USD", "0.05"),
        ("1500", "JPY", "1500"),
        ("1234567.89", "USD", "1234567.89"),
    ] {
        let mut body = valid_body(&format!("P-{}", unique()));
        body["price"] = json!({"amount": amount, "currency": currency});
        let product = app.create_product_with(&admin, &body).await;
        assert_eq!(
            product["price"],
            json!({"amount": shown, "currency": currency}),
            "for {amount} {currency}"
        );
        let fetched: Value = app.get_json(&product_path(&product["id"]), None).await;
        assert_eq!(
            fetched["price"], product["price"],
            "as stored, for {amount} {currency}"
        );
    }
}

async fn a_description_is_kept_when_given(app: TestApp) {
    let admin = app.admin_token().await;
    let without = app
        .create_product(&admin, &format!("NODESC-{}", unique()))
        .await;
    assert_eq!(without["description"], Value::Null);
    assert!(
        without.as_object().unwrap().contains_key("description"),
        "`description` is left out: {without}"
    );

    let with = app
        .create_product_with(&admin, &valid_body(&format!("DESC-{}", unique())))
        .await;
    assert_eq!(with["description"], json!("Glazed by hand"));
}

async fn a_signed_in_user_may_not_change_the_catalog(app: TestApp) {
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, &format!("KEEP-{}", unique()))
        .await;
    let (_, user) = app.user_token().await;

    let create = app
        .post_json(
            PRODUCTS,
            &valid_body(&format!("U-{}", unique())),
            Some(&user),
        )
        .await;
    assert_problem(create, 403).await;
    let update = app
        .put_json(
            &product_path(&product["id"]),
            &json!({"stock": 0}),
            Some(&user),
        )
        .await;
    assert_problem(update, 403).await;
    let delete = app.delete(&product_path(&product["id"]), Some(&user)).await;
    assert_problem(delete, 403).await;

    let unchanged: Value = app.get_json(&product_path(&product["id"]), None).await;
    assert_eq!(unchanged, product);
    assert_eq!(get_page(&app, "").await["total"], json!(1));
}

async fn an_anonymous_caller_may_not_change_the_catalog(app: TestApp) {
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, &format!("KEEP-{}", unique()))
        .await;

    assert_unauthorized(app.post_json(PRODUCTS, &valid_body("ANON-1"), None).await).await;
    assert_unauthorized(
        app.put_json(&product_path(&product["id"]), &json!({"stock": 0}), None)
            .await,
    )
    .await;
    assert_unauthorized(app.delete(&product_path(&product["id"]), None).await).await;

    let unchanged: Value = app.get_json(&product_path(&product["id"]), None).await;
    assert_eq!(unchanged, product);
}

async fn creating_a_product_with_bad_fields_lists_each_one(app: TestApp) {
    let admin = app.admin_token().await;
    let resp = app
        .post_json(
            PRODUCTS,
            &json!({
                "sku": "has spaces!",
                "name": "",
                "price": {"amount": "-1.00", "currency": "EURO"},
                "stock": -1
            }),
            Some(&admin),
        )
        .await;
    let fields: BTreeSet<String> = assert_invalid(resp).await.into_iter().collect();
    let expected: BTreeSet<String> = ["sku", "name", "price.amount", "price.currency", "stock"]
        .map(String::from)
        .into();
    assert_eq!(fields, expected);
    assert_eq!(
        get_page(&app, "").await["total"],
        json!(0),
        "nothing was stored"
    );
}

async fn each_out_of_range_value_is_refused_naming_its_field(app: TestApp) {
    let admin = app.admin_token().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "negative price",
            json!({"amount": "-19.90", "currency": "EUR"}),
            "price.amount",
        ),
        (
            "3 decimals for EUR",
            json!({"amount": "19.999", "currency": "EUR"}),
            "price.amount",
        ),
        (
            "decimals for JPY",
            json!({"amount": "1500.5", "currency": "JPY"}),
            "price.amount",
        ),
        (
            "amount as a JSON number",
            json!({"amount": 19.9, "currency": "EUR"}),
            "price.amount",
        ),
        (
            "amount that is not a number",
            json!({"amount": "abc", "currency": "EUR"}),
            "price.amount",
        ),
        (
            "empty amount",
            json!({"amount": "", "currency": "EUR"}),
            "price.amount",
        ),
        (
            "unknown currency",
            json!({"amount": "1.00", "currency": "XXX1"}),
            "price.currency",
        ),
        (
            "lower-case currency",
            json!({"amount": "1.00", "currency": "eur"}),
            "price.currency",
        ),
    ];
    for (what, price, field) in cases {
        let mut body = valid_body(&format!("BAD-{}", unique()));
        body["price"] = price;
        let resp = app.post_json(PRODUCTS, &body, Some(&admin)).await;
        assert_eq!(assert_invalid(resp).await, [field], "{what}");
    }

    let cases: Vec<(&str, &str, Value)> = vec![
        ("stock -1", "stock", json!(-1)),
        ("stock 1000000001", "stock", json!(1_000_000_001_i64)),
        ("stock 1.5", "stock", json!(1.5)),
        ("stock as a string", "stock", json!("5")),
        ("stock u64::MAX", "stock", json!(u64::MAX)),
        ("stock 1e20", "stock", json!(1e20)),
        ("stock null", "stock", json!(null)),
        ("empty name", "name", json!("")),
        ("blank name", "name", json!("   ")),
        ("name of 201 characters", "name", json!("n".repeat(201))),
        ("name as a number", "name", json!(42)),
        ("empty sku", "sku", json!("")),
    ];
    for (what, field, value) in cases {
        let mut body = valid_body(&format!("BAD-{}", unique()));
        body[field] = value;
        let resp = app.post_json(PRODUCTS, &body, Some(&admin)).await;
        assert_eq!(assert_invalid(resp).await, [field], "{what}");
    }
    assert_eq!(
        get_page(&app, "").await["total"],
        json!(0),
        "nothing was stored"
    );
}

async fn values_at_the_edges_of_the_ranges_are_accepted(app: TestApp) {
    let admin = app.admin_token().await;
    let mut body = valid_body(&format!("EDGE-{}", unique()));
    body["name"] = json!("é".repeat(200));
    body["stock"] = json!(1_000_000_000);
    let product = app.create_product_with(&admin, &body).await;
    assert_eq!(product["name"], body["name"]);
    assert_eq!(product["stock"], json!(1_000_000_000));

    let mut body = valid_body(&format!("EDGE-{}", unique()));
    body["stock"] = json!(0);
    assert_eq!(
        app.create_product_with(&admin, &body).await["stock"],
        json!(0)
    );
}

async fn a_missing_required_field_is_refused_naming_it(app: TestApp) {
    let admin = app.admin_token().await;
    for field in ["sku", "name", "price", "stock"] {
        let mut body = valid_body(&format!("MISS-{}", unique()));
        body.as_object_mut().unwrap().remove(field);
        let resp = app.post_json(PRODUCTS, &body, Some(&admin)).await;
        assert_eq!(assert_invalid(resp).await, [field], "without `{field}`");
    }
    for field in ["amount", "currency"] {
        let mut body = valid_body(&format!("MISS-{}", unique()));
        body["price"].as_object_mut().unwrap().remove(field);
        let resp = app.post_json(PRODUCTS, &body, Some(&admin)).await;
        assert_eq!(
            assert_invalid(resp).await,
            [format!("price.{field}")],
            "without `price.{field}`"
        );
    }
}

async fn a_taken_sku_is_a_conflict(app: TestApp) {
    let admin = app.admin_token().await;
    let sku = format!("DUP-{}", unique());
    app.create_product(&admin, &sku).await;
    let resp = app
        .post_json(PRODUCTS, &valid_body(&sku), Some(&admin))
        .await;
    assert_problem(resp, 409).await;
    assert_eq!(get_page(&app, "").await["total"], json!(1));

    // Renaming another product's SKU to the taken one is a conflict too.
    let other = app
        .create_product(&admin, &format!("OTHER-{}", unique()))
        .await;
    let resp = app
        .put_json(
            &product_path(&other["id"]),
            &json!({"sku": sku}),
            Some(&admin),
        )
        .await;
    assert_problem(resp, 409).await;
    let unchanged: Value = app.get_json(&product_path(&other["id"]), None).await;
    assert_eq!(unchanged, other);
}

async fn updating_only_the_stock_keeps_every_other_field(app: TestApp) {
    let admin = app.admin_token().await;
    let before = app
        .create_product_with(&admin, &valid_body(&format!("UPD-{}", unique())))
        .await;

    let resp = app
        .put_json(
            &product_path(&before["id"]),
            &json!({"stock": 3}),
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let after: Value = resp.json().await.unwrap();

    assert_eq!(after["stock"], json!(3));
    // The stock is its one variant's.
    assert_eq!(after["variants"][0]["stock"], json!(3));
    assert_eq!(after["variants"][0]["id"], before["variants"][0]["id"]);
    for field in [
        "id",
        "sku",
        "name",
        "description",
        "price",
        "images",
        "created_at",
    ] {
        assert_eq!(after[field], before[field], "`{field}` changed");
    }
    assert!(
        timestamp(&after["updated_at"]) > timestamp(&before["updated_at"]),
        "updated_at did not move: {} then {}",
        before["updated_at"],
        after["updated_at"]
    );

    let fetched: Value = app.get_json(&product_path(&before["id"]), None).await;
    assert_eq!(fetched, after);

    // Any other subset works too, and null clears the description.
    let resp = app
        .put_json(
            &product_path(&before["id"]),
            &json!({"name": "Renamed mug", "price": {"amount": "5", "currency": "USD"}, "description": null}),
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let renamed: Value = resp.json().await.unwrap();
    assert_eq!(renamed["name"], json!("Renamed mug"));
    assert_eq!(
        renamed["price"],
        json!({"amount": "5.00", "currency": "USD"})
    );
    assert_eq!(renamed["description"], Value::Null);
    assert_eq!(renamed["stock"], json!(3));
    assert_eq!(renamed["sku"], before["sku"]);

    // The empty subset changes nothing.
    let resp = app
        .put_json(&product_path(&before["id"]), &json!({}), Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let same: Value = resp.json().await.unwrap();
    for field in [
        "id",
        "sku",
        "name",
        "description",
        "price",
        "stock",
        "images",
        "created_at",
    ] {
        assert_eq!(same[field], renamed[field], "`{field}` changed");
    }
}

async fn updating_with_a_bad_value_is_refused_and_changes_nothing(app: TestApp) {
    let admin = app.admin_token().await;
    let before = app
        .create_product(&admin, &format!("UPD-{}", unique()))
        .await;
    let resp = app
        .put_json(
            &product_path(&before["id"]),
            &json!({"stock": -1, "name": "Still valid"}),
            Some(&admin),
        )
        .await;
    assert_eq!(assert_invalid(resp).await, ["stock"]);
    let fetched: Value = app.get_json(&product_path(&before["id"]), None).await;
    assert_eq!(fetched, before);
}

async fn updating_an_unknown_product_is_404(app: TestApp) {
    let admin = app.admin_token().await;
    let path = format!("{PRODUCTS}/{}", uuid::Uuid::now_v7());
    assert_problem(
        app.put_json(&path, &json!({"stock": 1}), Some(&admin))
            .await,
        404,
    )
    .await;
    assert_problem(app.get(&path, None).await, 404).await;
    assert_problem(app.delete(&path, Some(&admin)).await, 404).await;
}

async fn a_deleted_product_is_gone_and_frees_its_sku(app: TestApp) {
    let admin = app.admin_token().await;
    let sku = format!("DEL-{}", unique());
    let doomed = app.create_product(&admin, &sku).await;
    let kept = app
        .create_product(&admin, &format!("KEEP-{}", unique()))
        .await;

    let resp = app.delete(&product_path(&doomed["id"]), Some(&admin)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(resp.bytes().await.unwrap().is_empty(), "a 204 has no body");

    assert_problem(app.get(&product_path(&doomed["id"]), None).await, 404).await;
    let page = get_page(&app, "").await;
    assert_eq!(page["items"], json!([kept]));
    assert_eq!(page["total"], json!(1));
    assert_problem(
        app.delete(&product_path(&doomed["id"]), Some(&admin)).await,
        404,
    )
    .await;
    assert_problem(
        app.put_json(
            &product_path(&doomed["id"]),
            &json!({"stock": 1}),
            Some(&admin),
        )
        .await,
        404,
    )
    .await;

    let reborn = app.create_product(&admin, &sku).await;
    assert_ne!(reborn["id"], doomed["id"]);
    assert_eq!(reborn["sku"], json!(sku));
}

async fn lists_are_newest_first_and_paged(app: TestApp) {
    let admin = app.admin_token().await;
    let mut created = Vec::new();
    for i in 1..=5 {
        let mut body = valid_body(&format!("PAGE-{i}-{}", unique()));
        body["name"] = json!(format!("Product {i}"));
        created.push(app.create_product_with(&admin, &body).await);
    }

    let all = get_page(&app, "").await;
    assert_eq!(
        names_of(&all),
        [
            "Product 5",
            "Product 4",
            "Product 3",
            "Product 2",
            "Product 1"
        ]
    );

    let first = get_page(&app, "per_page=2").await;
    assert_eq!(names_of(&first), ["Product 5", "Product 4"]);
    assert_eq!(first["page"], json!(1));
    assert_eq!(first["per_page"], json!(2));
    assert_eq!(first["total"], json!(5));
    assert_eq!(first["total_pages"], json!(3));

    let second = get_page(&app, "page=2&per_page=2").await;
    assert_eq!(names_of(&second), ["Product 3", "Product 2"]);
    assert_eq!(second["page"], json!(2));

    let last = get_page(&app, "page=3&per_page=2").await;
    assert_eq!(names_of(&last), ["Product 1"]);
    assert_eq!(last["items"][0], created[0]);
    assert_eq!(last["total"], json!(5));
    assert_eq!(last["total_pages"], json!(3));

    let past = get_page(&app, "page=4&per_page=2").await;
    assert_eq!(past["items"], json!([]));
    assert_eq!(past["page"], json!(4));
    assert_eq!(past["total"], json!(5));
    assert_eq!(past["total_pages"], json!(3));

    let edges = get_page(&app, "page=1&per_page=100").await;
    assert_eq!(edges["per_page"], json!(100));
    assert_eq!(names_of(&edges).len(), 5);
    let one = get_page(&app, "per_page=1&page=5").await;
    assert_eq!(names_of(&one), ["Product 1"]);
    assert_eq!(one["total_pages"], json!(5));
}

async fn bad_paging_parameters_are_refused_naming_them(app: TestApp) {
    for (query, field) in [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("per_page=-1", "per_page"),
        ("per_page=ten", "per_page"),
        ("page=99999999999999999999999", "page"),
    ] {
        let resp = app.get(&format!("{PRODUCTS}?{query}"), None).await;
        let fields = assert_invalid(resp).await;
        assert_eq!(fields, [field], "for ?{query}");
    }
}

/// Creates a product called `name` with `description`.
async fn add(app: &TestApp, admin: &str, name: &str, description: Option<&str>) {
    let mut body = valid_body(&format!("S-{}", unique()));
    body["name"] = json!(name);
    match description {
        Some(d) => body["description"] = json!(d),
        None => {
            body.as_object_mut().unwrap().remove("description");
        }
    }
    app.create_product_with(admin, &body).await;
}

/// The names `q` finds, checking that `total` agrees.
async fn search(app: &TestApp, q: &str) -> BTreeSet<String> {
    let mut url = reqwest::Url::parse(&app.url(PRODUCTS)).unwrap();
    url.query_pairs_mut()
        .append_pair("q", q)
        .append_pair("per_page", "100");
    let resp = app.client.get(url).send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "searching {q:?}: {text}");
    let page: Value = serde_json::from_str(&text).unwrap();
    let found: BTreeSet<String> = names_of(&page).into_iter().collect();
    assert_eq!(page["total"], json!(found.len()), "total for {q:?}: {page}");
    found
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

async fn search_is_a_case_insensitive_substring_match_over_name_and_description(app: TestApp) {
    let admin = app.admin_token().await;
    add(&app, &admin, "Stoneware mug", Some("Glazed by hand")).await;
    add(
        &app,
        &admin,
        "Steel kettle",
        Some("Boils water for your MUG of tea"),
    )
    .await;
    add(&app, &admin, "Linen towel", None).await;
    add(
        &app,
        &admin,
        "Oak cutting board",
        Some("Oiled, not varnished"),
    )
    .await;

    assert_eq!(
        search(&app, "MUG").await,
        set(&["Stoneware mug", "Steel kettle"])
    );
    assert_eq!(
        search(&app, "mug").await,
        set(&["Stoneware mug", "Steel kettle"])
    );
    assert_eq!(search(&app, "toneWARE").await, set(&["Stoneware mug"]));
    assert_eq!(
        search(&app, "glazed").await,
        set(&["Stoneware mug"]),
        "description is searched"
    );
    assert_eq!(
        search(&app, "ware m").await,
        set(&["Stoneware mug"]),
        "spaces are part of the text"
    );
    assert_eq!(
        search(&app, "ug").await,
        set(&["Stoneware mug", "Steel kettle"]),
        "two letters"
    );
    assert_eq!(
        search(&app, "z").await,
        set(&["Stoneware mug"]),
        "one letter"
    );
    assert_eq!(
        search(&app, "K").await,
        set(&["Steel kettle", "Oak cutting board"]),
        "one letter"
    );
    assert_eq!(search(&app, "nothing like this").await, set(&[]));
    assert_eq!(
        search(&app, "").await,
        set(&[
            "Stoneware mug",
            "Steel kettle",
            "Linen towel",
            "Oak cutting board"
        ]),
        "an empty query filters nothing"
    );
    // Paging applies to the matches.
    let page = get_page(&app, "q=mug&per_page=1&page=2").await;
    assert_eq!(page["total"], json!(2));
    assert_eq!(page["total_pages"], json!(2));
    assert_eq!(
        names_of(&page),
        ["Steel kettle"],
        "best matches first: the name that holds it, then the description that does"
    );
}

async fn search_treats_percent_and_underscore_literally(app: TestApp) {
    let admin = app.admin_token().await;
    add(&app, &admin, "100% cotton towel", Some("Soft")).await;
    add(&app, &admin, "snake_case poster", None).await;
    add(
        &app,
        &admin,
        "Plain poster",
        Some("Nothing special about it"),
    )
    .await;

    assert_eq!(search(&app, "%").await, set(&["100% cotton towel"]));
    assert_eq!(search(&app, "0% c").await, set(&["100% cotton towel"]));
    assert_eq!(search(&app, "_").await, set(&["snake_case poster"]));
    assert_eq!(search(&app, "e_c").await, set(&["snake_case poster"]));
    assert_eq!(search(&app, "%%").await, set(&[]));
    assert_eq!(search(&app, "\\").await, set(&[]));
    assert_eq!(search(&app, "'; DROP TABLE products; --").await, set(&[]));
    assert_eq!(
        search(&app, "poster").await,
        set(&["snake_case poster", "Plain poster"])
    );
}

async fn search_accepts_any_text(app: TestApp) {
    let admin = app.admin_token().await;
    add(&app, &admin, "Stoneware mug", Some("Glazed by hand")).await;
    let long = "x".repeat(2000);
    let many = "mug ".repeat(500);
    // None of these is a substring of the name or of the description: each finds nothing,
    // and none is a reason to fail (U+0000 included; "mug\nglazed" spans the two fields).
    let mut failures = Vec::new();
    for q in [
        "\0",
        "mug\0",
        "\u{1F37A}",
        "\"'",
        "\"",
        "[]{}()*+?.^$|",
        "mug\nglazed",
        "NEAR(a b)",
        "a OR b",
        "*",
        &long,
        &many,
    ] {
        let mut url = reqwest::Url::parse(&app.url(PRODUCTS)).unwrap();
        url.query_pairs_mut().append_pair("q", q);
        let resp = app.client.get(url).send().await.unwrap();
        let status = resp.status();
        let page: Value = resp.json().await.unwrap_or(Value::Null);
        if status != StatusCode::OK || page["items"] != json!([]) || page["total"] != json!(0) {
            failures.push(format!("q={q:?} answered {status}: {page}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the queries failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(search(&app, " mug").await, set(&["Stoneware mug"]));
}

async fn a_description_with_a_nul_character_is_no_server_error(app: TestApp) {
    // PostgreSQL text cannot hold U+0000: the service must refuse it (422) or store it, not fail.
    let admin = app.admin_token().await;
    let mut body = valid_body(&format!("NUL-{}", unique()));
    body["description"] = json!("before\u{0}after");
    let resp = app.post_json(PRODUCTS, &body, Some(&admin)).await;
    if resp.status() == StatusCode::CREATED {
        let product: Value = resp.json().await.unwrap();
        assert_eq!(product["description"], body["description"]);
    } else {
        assert_eq!(assert_invalid(resp).await, ["description"]);
    }
}

async fn search_folds_the_case_of_non_ascii_letters(app: TestApp) {
    let admin = app.admin_token().await;
    add(&app, &admin, "Café crème beans", Some("Dark roast")).await;
    add(&app, &admin, "Cafetière", Some("Für acht Tassen")).await;

    assert_eq!(search(&app, "Café").await, set(&["Café crème beans"]));
    assert_eq!(search(&app, "café").await, set(&["Café crème beans"]));
    assert_eq!(search(&app, "CAFÉ").await, set(&["Café crème beans"]));
    assert_eq!(search(&app, "CRÈME").await, set(&["Café crème beans"]));
    assert_eq!(
        search(&app, "caf").await,
        set(&["Café crème beans", "Cafetière"])
    );
    assert_eq!(search(&app, "FÜR").await, set(&["Cafetière"]));
    assert_eq!(
        search(&app, "è").await,
        set(&["Café crème beans", "Cafetière"]),
        "one non-ASCII letter"
    );
    assert_eq!(
        search(&app, "È").await,
        set(&["Café crème beans", "Cafetière"]),
        "one non-ASCII capital"
    );
}

/// Runs `sql` on the app's own database, as a broken or older deployment would have left it.
async fn run_sql(app: &TestApp, sql: &str) {
    use sqlx::Connection;
    let url = app.settings.database_url.expose().to_owned();
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

async fn search_folds_case_by_one_rule_on_every_query_path(app: TestApp) {
    let admin = app.admin_token().await;
    add(&app, &admin, "ΑΣΑΝΣΕΡ", None).await;
    add(&app, &admin, "ΟΔΟΣ ΠΑΝΕΠΙΣΤΗΜΙΟΥ", None).await;
    add(&app, &admin, "Οδός Ερμού", None).await;
    add(&app, &admin, "STRASSE", Some("Schild")).await;
    let (asanser, odos) = (set(&["ΑΣΑΝΣΕΡ"]), set(&["ΟΔΟΣ ΠΑΝΕΠΙΣΤΗΜΙΟΥ"]));
    // Under three characters (a scan) and from three on (the trigram index on SQLite).
    for q in ["ΑΣ", "ας", "ασ", "ΑΣΑ", "ασα", "ΑΣΑΝΣΕΡ", "ασανσερ"] {
        assert_eq!(search(&app, q).await, asanser, "q={q}");
    }
    for q in ["ΟΔΟΣ", "οδοσ", "οδος", "ΟΔΟΣ ΠΑΝ", "ος π", "Σ"] {
        let found = search(&app, q).await;
        assert!(found.is_superset(&odos), "q={q} finds {found:?}");
    }
    assert_eq!(search(&app, "οδοσ π").await, odos);
    assert_eq!(search(&app, "ερμου").await, BTreeSet::new(), "accents stay");
    assert_eq!(search(&app, "ΕΡΜΟΎ").await, set(&["Οδός Ερμού"]));
    // Full case folding, not lower-casing: ß is ss.
    assert_eq!(search(&app, "straße").await, set(&["STRASSE"]));
    assert_eq!(search(&app, "ß").await, set(&["STRASSE"]));
}

async fn stored_search_text_is_folded_again_by_the_migration(app: TestApp) {
    let admin = app.admin_token().await;
    add(&app, &admin, "ΟΔΟΣ ΑΘΗΝΑΣ", None).await;
    // As an older release stored it: lower-cased, with a word-final ς.
    run_sql(
        &app,
        "UPDATE products SET search_text = 'οδος αθηνας', search_stale = TRUE",
    )
    .await;
    assert_eq!(search(&app, "οδοσ").await, BTreeSet::new());
    // A service started on that database computes the text again before it serves.
    let mut server = crate::process::ShopProcess::start(&app, "refold", &[]);
    server.wait_ready(&app.client).await;
    let url = format!("{}{PRODUCTS}?q=%CE%BF%CE%B4%CE%BF%CF%83", server.base);
    let page: Value = fetch_json(&app.client, &url).await;
    assert_eq!(names_of(&page), ["ΟΔΟΣ ΑΘΗΝΑΣ"], "{page}");
    assert!(server.log_text().contains("search text computed again"));
}

async fn one_unreadable_product_does_not_take_a_list_down(app: TestApp) {
    let admin = app.admin_token().await;
    add(&app, &admin, "Readable mug", None).await;
    add(&app, &admin, "Broken mug", None).await;
    add(&app, &admin, "Readable plate", None).await;
    // A row no valid request can make: a blank name.
    run_sql(
        &app,
        "UPDATE products SET name = '   ' WHERE name = 'Broken mug'",
    )
    .await;
    let page = get_page(&app, "per_page=100").await;
    assert_eq!(
        names_of(&page),
        ["Readable plate", "Readable mug"],
        "{page}"
    );
    let found = get_page(&app, "q=mug&per_page=100").await;
    assert_eq!(names_of(&found), ["Readable mug"], "{found}");
    let resp = app.get(&format!("{PRODUCTS}?q=plate"), None).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

async fn a_malformed_product_id_is_404(app: TestApp) {
    let admin = app.admin_token().await;
    for path in [
        "/api/v1/products/not-a-uuid",
        "/api/v1/products/123",
        "/api/v1/products/%20",
    ] {
        assert_problem(app.get(path, None).await, 404).await;
        assert_problem(
            app.put_json(path, &json!({"stock": 1}), Some(&admin)).await,
            404,
        )
        .await;
        assert_problem(app.delete(path, Some(&admin)).await, 404).await;
    }
}

// ---- options and variants -------------------------------------------------------------------

/// A T-shirt in Size S and M: M listed first (position 1, 12.00, struck through 15.00, 2 in
/// stock), then S (position 0, 10.00, 5 in stock).
fn tee_body(tag: &str) -> Value {
    json!({
        "name": format!("Tee {tag}"),
        "options": [{"name": "Size", "values": ["S", "M"]}],
        "variants": [
            {
                "sku": format!("TEE-M-{tag}"),
                "option_values": {"Size": "M"},
                "price": {"amount": "12.00", "currency": "EUR"},
                "compare_at_price": {"amount": "15.00", "currency": "EUR"},
                "stock": 2,
                "position": 1
            },
            {
                "sku": format!("TEE-S-{tag}"),
                "option_values": {"Size": "S"},
                "price": {"amount": "10", "currency": "EUR"},
                "stock": 5
            }
        ]
    })
}

async fn a_product_is_created_with_options_and_variants(app: TestApp) {
    let admin = app.admin_token().await;
    let tag = unique();
    let tee = app.create_product_with(&admin, &tee_body(&tag)).await;
    assert_eq!(
        tee["options"],
        json!([{"name": "Size", "values": ["S", "M"]}])
    );
    let variants = tee["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2, "{tee}");
    // By position: S, then M.
    let (small, medium) = (&variants[0], &variants[1]);
    assert_eq!(
        (&small["sku"], &small["title"], &small["option_values"]),
        (
            &json!(format!("TEE-S-{tag}")),
            &json!("S"),
            &json!({"Size": "S"})
        )
    );
    assert_eq!(
        small["price"],
        json!({"amount": "10.00", "currency": "EUR"})
    );
    assert_eq!(small["compare_at_price"], json!(null));
    assert_eq!(
        (&small["stock"], &small["position"]),
        (&json!(5), &json!(0))
    );
    assert_eq!(
        (&medium["title"], &medium["stock"], &medium["position"]),
        (&json!("M"), &json!(2), &json!(1))
    );
    assert_eq!(
        medium["compare_at_price"],
        json!({"amount": "15.00", "currency": "EUR"})
    );
    assert_ne!(small["id"], medium["id"]);
    // The product: its first variant's SKU, the lowest price, all the stock.
    assert_eq!(tee["sku"], small["sku"]);
    assert_eq!(tee["price"], json!({"amount": "10.00", "currency": "EUR"}));
    assert_eq!(tee["stock"], json!(7));
    assert_eq!(app.get_json(&product_path(&tee["id"]), None).await, tee);
    assert_eq!(get_page(&app, "").await["items"], json!([tee]));
    assert_eq!(get_page(&app, "in_stock=true").await["total"], json!(1));
}

async fn a_product_of_several_variants_is_ordered_and_changed_by_variant(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_token().await;
    let tee = app.create_product_with(&admin, &tee_body(&unique())).await;
    let medium = tee["variants"][1].clone();

    // By product: which variant is meant is not said.
    let body = json!({"items": [{"product_id": tee["id"], "quantity": 1}]});
    let resp = app.post_json("/api/v1/orders", &body, Some(&token)).await;
    assert_eq!(assert_invalid(resp).await, ["items[0].variant_id"]);

    // By variant: the line names it and its price; its stock, and the product's, go down.
    let body = json!({"items": [{"variant_id": medium["id"], "quantity": 2}]});
    let resp = app.post_json("/api/v1/orders", &body, Some(&token)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let order: Value = resp.json().await.unwrap();
    let line = &order["items"][0];
    assert_eq!(
        (
            &line["product_id"],
            &line["variant_id"],
            &line["variant_title"]
        ),
        (&tee["id"], &medium["id"], &json!("M"))
    );
    assert_eq!(line["sku"], medium["sku"]);
    assert_eq!(
        line["unit_price"],
        json!({"amount": "12.00", "currency": "EUR"})
    );
    let now = app.get_json(&product_path(&tee["id"]), None).await;
    assert_eq!(now["variants"][1]["stock"], json!(0));
    assert_eq!(now["variants"][0]["stock"], json!(5));
    assert_eq!(now["stock"], json!(5));
    // That variant is sold out, whatever the product's other variant holds: 409 naming it.
    let problem = assert_problem(
        app.post_json("/api/v1/orders", &body, Some(&token)).await,
        409,
    )
    .await;
    assert!(
        str_of(&problem, "detail").contains(&str_of(&medium, "id")),
        "{problem}"
    );

    // The product's own sku, price or stock name no variant: 422 naming each.
    let resp = app
        .put_json(
            &product_path(&tee["id"]),
            &json!({"stock": 9, "price": {"amount": "1.00", "currency": "EUR"}}),
            Some(&admin),
        )
        .await;
    assert_eq!(assert_invalid(resp).await, ["price", "stock"]);
    let resp = app
        .put_json(
            &product_path(&tee["id"]),
            &json!({"name": "Renamed tee"}),
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let renamed: Value = resp.json().await.unwrap();
    assert_eq!(renamed["variants"], now["variants"]);
}

async fn variants_are_checked_when_a_product_is_created(app: TestApp) {
    let admin = app.admin_token().await;
    let tag = unique();
    let refused = |body: Value| {
        let app = &app;
        let admin = &admin;
        async move {
            let resp = app.post_json(PRODUCTS, &body, Some(admin)).await;
            assert_invalid(resp).await
        }
    };
    // Both ways of saying what it is sold as.
    let mut both = tee_body(&tag);
    both["sku"] = json!(format!("X-{tag}"));
    both["stock"] = json!(1);
    assert_eq!(refused(both).await, ["sku", "stock"]);
    // Options that make no variants.
    let mut options_alone = valid_body(&format!("O-{tag}"));
    options_alone["options"] = json!([{"name": "Size", "values": ["S"]}]);
    assert_eq!(refused(options_alone).await, ["variants"]);
    // The same combination twice: the later one is named.
    let mut twice = tee_body(&tag);
    twice["variants"][1]["option_values"] = json!({"Size": "M"});
    assert_eq!(refused(twice).await, ["variants[1].option_values"]);
    // A value the option does not list.
    let mut unlisted = tee_body(&tag);
    unlisted["variants"][0]["option_values"] = json!({"Size": "XL"});
    assert_eq!(refused(unlisted).await, ["variants[0].option_values"]);
    // Two currencies.
    let mut mixed = tee_body(&tag);
    mixed["variants"][1]["price"] = json!({"amount": "10.00", "currency": "USD"});
    assert_eq!(refused(mixed).await, ["variants[1].price"]);
    // No variant at all.
    let mut none = tee_body(&tag);
    none["variants"] = json!([]);
    none["options"] = json!([]);
    assert_eq!(refused(none).await, ["variants"]);
    // Two variants of one SKU: a conflict.
    let mut one_sku = tee_body(&tag);
    one_sku["variants"][1]["sku"] = one_sku["variants"][0]["sku"].clone();
    assert_problem(app.post_json(PRODUCTS, &one_sku, Some(&admin)).await, 409).await;
    assert_eq!(get_page(&app, "").await["total"], json!(0));
}

/// A tee in sizes S and M of the options S, M and L: room for a third variant.
fn tee_of_three_sizes(tag: &str) -> Value {
    let mut body = tee_body(tag);
    body["options"] = json!([{"name": "Size", "values": ["S", "M", "L"]}]);
    body
}

fn variants_path(product: &Value) -> String {
    format!("{}/variants", product_path(&product["id"]))
}

fn variant_path(product: &Value, variant: &Value) -> String {
    format!(
        "{}/{}",
        variants_path(product),
        variant["id"].as_str().expect("variant id is a string")
    )
}

/// The variant of `product` whose SKU is `sku`.
fn variant_by_sku(product: &Value, sku: &str) -> Value {
    product["variants"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["sku"] == json!(sku)))
        .cloned()
        .unwrap_or_else(|| panic!("no variant {sku} in {product}"))
}

/// The SKUs of `product`'s variants, in the order shown.
fn skus_of(product: &Value) -> Vec<String> {
    product["variants"]
        .as_array()
        .map(|vs| vs.iter().map(|v| str_of(v, "sku")).collect())
        .unwrap_or_default()
}

async fn variants_are_added_changed_and_deleted_one_at_a_time(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, user) = app.user_token().await;
    let tag = unique();
    let mut body = tee_of_three_sizes(&tag);
    // A draft is still the admin's to change.
    body["status"] = json!("draft");
    let tee = app.create_product_with(&admin, &body).await;
    let (small, medium) = (
        variant_by_sku(&tee, &format!("TEE-S-{tag}")),
        variant_by_sku(&tee, &format!("TEE-M-{tag}")),
    );

    // A third variant: 201 naming it, and the product's summary follows it.
    let large_sku = format!("TEE-L-{tag}");
    let new = json!({
        "sku": large_sku,
        "option_values": {"Size": "L"},
        "price": {"amount": "9.00", "currency": "EUR"},
        "stock": 4,
        "position": 2
    });
    // A SKU any variant holds: 409, and nothing is added.
    let mut taken = new.clone();
    taken["sku"] = small["sku"].clone();
    let resp = app
        .post_json(&variants_path(&tee), &taken, Some(&admin))
        .await;
    assert_problem(resp, 409).await;
    let resp = app
        .post_json(&variants_path(&tee), &new, Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = location(&resp);
    let large: Value = resp.json().await.unwrap();
    assert_eq!(location, variant_path(&tee, &large));
    assert_eq!(
        large,
        json!({
            "id": large["id"],
            "sku": large_sku,
            "title": "L",
            "option_values": {"Size": "L"},
            "price": {"amount": "9.00", "currency": "EUR"},
            "compare_at_price": null,
            "stock": 4,
            "position": 2,
        })
    );
    let now = app.get_json(&product_path(&tee["id"]), Some(&admin)).await;
    assert_eq!(
        skus_of(&now),
        [
            format!("TEE-S-{tag}"),
            format!("TEE-M-{tag}"),
            large_sku.clone()
        ]
    );
    assert_eq!(now["price"], json!({"amount": "9.00", "currency": "EUR"}));
    assert_eq!(now["stock"], json!(11));
    assert_eq!(now["sku"], small["sku"]);
    assert!(timestamp(&now["updated_at"]) > timestamp(&tee["updated_at"]));

    // Its combination again: 422 naming it.
    let mut clash = new.clone();
    clash["sku"] = json!(format!("TEE-X-{tag}"));
    let resp = app
        .post_json(&variants_path(&tee), &clash, Some(&admin))
        .await;
    assert_eq!(assert_invalid(resp).await, ["option_values"]);
    clash["option_values"] = json!({"Size": "XL"});
    let resp = app
        .post_json(&variants_path(&tee), &clash, Some(&admin))
        .await;
    assert_eq!(assert_invalid(resp).await, ["option_values"]);
    clash["option_values"] = json!({"Size": "XL"});
    clash["price"] = json!({"amount": "1.00", "currency": "USD"});
    clash["stock"] = json!(-1);
    let resp = app
        .post_json(&variants_path(&tee), &clash, Some(&admin))
        .await;
    assert_eq!(assert_invalid(resp).await, ["option_values", "stock"]);

    // A user may not touch them: 403, and nothing changes.
    let resp = app
        .post_json(&variants_path(&tee), &clash, Some(&user))
        .await;
    assert_problem(resp, 403).await;
    let resp = app
        .put_json(
            &variant_path(&tee, &medium),
            &json!({"stock": 1}),
            Some(&user),
        )
        .await;
    assert_problem(resp, 403).await;
    let resp = app.delete(&variant_path(&tee, &medium), Some(&user)).await;
    assert_problem(resp, 403).await;

    // Another variant's combination: 422; a price in another currency: 422.
    let resp = app
        .put_json(
            &variant_path(&tee, &medium),
            &json!({"option_values": {"Size": "L"}, "price": {"amount": "1.00", "currency": "USD"}}),
            Some(&admin),
        )
        .await;
    assert_eq!(assert_invalid(resp).await, ["option_values", "price"]);
    // A SKU another variant holds: 409.
    let resp = app
        .put_json(
            &variant_path(&tee, &medium),
            &json!({"sku": large_sku}),
            Some(&admin),
        )
        .await;
    assert_problem(resp, 409).await;

    // S goes; M takes its combination, a new price, stock and position.
    let resp = app.delete(&variant_path(&tee, &small), Some(&admin)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = app
        .put_json(
            &variant_path(&tee, &medium),
            &json!({
                "option_values": {"Size": "S"},
                "price": {"amount": "8.50", "currency": "EUR"},
                "compare_at_price": null,
                "stock": 7,
                "position": 0
            }),
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let changed: Value = resp.json().await.unwrap();
    assert_eq!(
        changed,
        json!({
            "id": medium["id"],
            "sku": medium["sku"],
            "title": "S",
            "option_values": {"Size": "S"},
            "price": {"amount": "8.50", "currency": "EUR"},
            "compare_at_price": null,
            "stock": 7,
            "position": 0,
        })
    );
    let now = app.get_json(&product_path(&tee["id"]), Some(&admin)).await;
    assert_eq!(now["variants"], json!([changed, large]));
    assert_eq!(now["price"], json!({"amount": "8.50", "currency": "EUR"}));
    assert_eq!(now["stock"], json!(11));
    assert_eq!(now["sku"], medium["sku"]);
    // The SKU of the deleted variant is free again.
    let mut again = new.clone();
    again["sku"] = small["sku"].clone();
    again["option_values"] = json!({"Size": "M"});
    let resp = app
        .post_json(&variants_path(&tee), &again, Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let medium_again: Value = resp.json().await.unwrap();

    // The added variant is ordered by its id and its stock taken (once the tee is on sale).
    let resp = app
        .put_json(
            &product_path(&tee["id"]),
            &json!({"status": "active"}),
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let order = json!({"items": [{"variant_id": large["id"], "quantity": 3}]});
    let resp = app.post_json("/api/v1/orders", &order, Some(&user)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let placed: Value = resp.json().await.unwrap();
    assert_eq!(placed["items"][0]["sku"], json!(large_sku));
    assert_eq!(placed["items"][0]["variant_title"], json!("L"));
    let now = app.get_json(&product_path(&tee["id"]), None).await;
    assert_eq!(variant_by_sku(&now, &large_sku)["stock"], json!(1));
    assert_eq!(now["stock"], json!(7 + 1 + 4));

    // Deleted down to one, which stays: 409.
    for v in [&large, &medium_again] {
        let resp = app.delete(&variant_path(&tee, v), Some(&admin)).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    }
    let resp = app.delete(&variant_path(&tee, &medium), Some(&admin)).await;
    assert_problem(resp, 409).await;
    let now = app.get_json(&product_path(&tee["id"]), None).await;
    assert_eq!(now["variants"], json!([changed]));
    assert_eq!(
        (&now["sku"], &now["stock"], &now["price"]),
        (&changed["sku"], &json!(7), &changed["price"])
    );
}

async fn variant_routes_answer_404_for_what_does_not_exist_and_403_to_users(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, user) = app.user_token().await;
    let tee = app
        .create_product_with(&admin, &tee_of_three_sizes(&unique()))
        .await;
    let other = app
        .create_product_with(&admin, &tee_of_three_sizes(&unique()))
        .await;
    let theirs = &other["variants"][0];
    let body = json!({
        "sku": format!("NEW-{}", unique()),
        "option_values": {"Size": "L"},
        "price": {"amount": "9.00", "currency": "EUR"},
        "stock": 4
    });
    let nobody = json!({"id": uuid::Uuid::now_v7().to_string()});
    let unknown_product = format!("{}/variants", product_path(&nobody["id"]));
    let resp = app.post_json(&unknown_product, &body, Some(&admin)).await;
    assert_problem(resp, 404).await;
    let resp = app.post_json(&unknown_product, &body, Some(&user)).await;
    assert_problem(resp, 403).await;
    let resp = app
        .post_json(&format!("{PRODUCTS}/nope/variants"), &body, Some(&admin))
        .await;
    assert_problem(resp, 404).await;
    // A variant of another product, an unknown one, and a malformed id: 404 all.
    for path in [
        variant_path(&tee, theirs),
        variant_path(&tee, &nobody),
        format!("{}/not-an-id", variants_path(&tee)),
        variant_path(&nobody, &tee["variants"][0]),
    ] {
        let resp = app
            .put_json(&path, &json!({"stock": 1}), Some(&admin))
            .await;
        assert_problem(resp, 404).await;
        let resp = app.delete(&path, Some(&admin)).await;
        assert_problem(resp, 404).await;
    }
    // Nothing changed anywhere.
    for p in [&tee, &other] {
        let now = app.get_json(&product_path(&p["id"]), None).await;
        assert_eq!(now["variants"], p["variants"]);
    }
    let resp = app.post(&variants_path(&tee), None).await;
    assert_unauthorized(resp).await;
}

async fn a_whole_new_variant_set_keeps_adds_and_deletes_variants(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, user) = app.user_token().await;
    let tag = unique();
    let tee = app.create_product_with(&admin, &tee_body(&tag)).await;
    let (small, medium) = (
        variant_by_sku(&tee, &format!("TEE-S-{tag}")),
        variant_by_sku(&tee, &format!("TEE-M-{tag}")),
    );
    let path = product_path(&tee["id"]);
    let put = |body: Value| {
        let (app, admin, path) = (&app, &admin, &path);
        async move { app.put_json(path, &body, Some(admin)).await }
    };

    // Refusals, none of which changes anything.
    let resp = put(json!({"options": [{"name": "Size", "values": ["S"]}]})).await;
    assert_eq!(assert_invalid(resp).await, ["variants"]);
    let stranger = json!([{
        "id": uuid::Uuid::now_v7(),
        "sku": format!("TEE-Z-{tag}"),
        "option_values": {"Size": "S"},
        "price": {"amount": "1.00", "currency": "EUR"},
        "stock": 1
    }]);
    let resp = put(json!({"variants": stranger})).await;
    assert_eq!(assert_invalid(resp).await, ["variants[0].id"]);
    let mut alone = stranger.clone();
    alone[0]["id"] = small["id"].clone();
    let resp =
        put(json!({"stock": 3, "price": {"amount": "1.00", "currency": "EUR"}, "variants": alone}))
            .await;
    assert_eq!(assert_invalid(resp).await, ["price", "stock"]);
    let twice = json!([
        {"id": small["id"], "sku": format!("A-{tag}"), "option_values": {"Size": "S"},
         "price": {"amount": "1.00", "currency": "EUR"}, "stock": 1},
        {"id": small["id"], "sku": format!("B-{tag}"), "option_values": {"Size": "M"},
         "price": {"amount": "1.00", "currency": "EUR"}, "stock": 1}
    ]);
    let resp = put(json!({"variants": twice})).await;
    assert_eq!(assert_invalid(resp).await, ["variants[1].id"]);
    let clash = json!([
        {"sku": format!("A-{tag}"), "option_values": {"Size": "S"},
         "price": {"amount": "1.00", "currency": "EUR"}, "stock": 1},
        {"sku": format!("B-{tag}"), "option_values": {"Size": "S"},
         "price": {"amount": "1.00", "currency": "EUR"}, "stock": 1}
    ]);
    let resp = put(json!({"variants": clash})).await;
    assert_eq!(assert_invalid(resp).await, ["variants[1].option_values"]);
    let resp = app
        .put_json(&path, &json!({"variants": stranger}), Some(&user))
        .await;
    assert_problem(resp, 403).await;
    let now = app.get_json(&path, None).await;
    assert_eq!(now["variants"], tee["variants"]);

    // S is kept and changed (taking M's SKU, which M gives up as it goes), M is deleted, L
    // is new, under options that now list L.
    let large_sku = format!("TEE-L-{tag}");
    let resp = put(json!({
        "name": "Tee in three sizes",
        "options": [{"name": "Size", "values": ["S", "M", "L"]}],
        "variants": [
            {"id": small["id"], "sku": medium["sku"], "option_values": {"Size": "S"},
             "price": {"amount": "11.00", "currency": "EUR"}, "stock": 6, "position": 1},
            {"sku": large_sku, "option_values": {"Size": "L"},
             "price": {"amount": "14.00", "currency": "EUR"},
             "compare_at_price": {"amount": "16.00", "currency": "EUR"}, "stock": 3}
        ]
    }))
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let changed: Value = resp.json().await.unwrap();
    assert_eq!(changed["name"], json!("Tee in three sizes"));
    assert_eq!(
        changed["options"],
        json!([{"name": "Size", "values": ["S", "M", "L"]}])
    );
    let large = variant_by_sku(&changed, &large_sku);
    assert_eq!(changed["variants"][0], large, "L sorts first (position 0)");
    assert_eq!(
        changed["variants"][1],
        json!({
            "id": small["id"],
            "sku": medium["sku"],
            "title": "S",
            "option_values": {"Size": "S"},
            "price": {"amount": "11.00", "currency": "EUR"},
            "compare_at_price": null,
            "stock": 6,
            "position": 1,
        })
    );
    assert_eq!(changed["variants"].as_array().map(Vec::len), Some(2));
    assert_eq!(changed["sku"], json!(large_sku));
    assert_eq!(
        changed["price"],
        json!({"amount": "11.00", "currency": "EUR"})
    );
    assert_eq!(changed["stock"], json!(9));
    let read = app.get_json(&path, None).await;
    assert_eq!(read, changed);
    // The list shows the same summary (it reads the product row).
    let page = get_page(&app, "q=three%20sizes").await;
    let listed = page["items"]
        .as_array()
        .and_then(|items| items.iter().find(|p| p["id"] == tee["id"]))
        .cloned()
        .expect("the tee is listed");
    assert_eq!(
        (&listed["sku"], &listed["price"], &listed["stock"]),
        (&changed["sku"], &changed["price"], &changed["stock"])
    );

    // M is gone: ordering it is refused, and S's old SKU is free for anyone.
    let order = json!({"items": [{"variant_id": medium["id"], "quantity": 1}]});
    let resp = app.post_json("/api/v1/orders", &order, Some(&user)).await;
    assert!(resp.status().is_client_error(), "{}", resp.status());
    let free = valid_body(&str_of(&small, "sku"));
    app.create_product_with(&admin, &free).await;

    // Without `options`, the set is read against the product's own; two kept variants may
    // swap their SKUs.
    let resp = put(json!({
        "variants": [
            {"id": small["id"], "sku": large_sku, "option_values": {"Size": "S"},
             "price": {"amount": "11.00", "currency": "EUR"}, "stock": 6, "position": 1},
            {"id": large["id"], "sku": medium["sku"], "option_values": {"Size": "L"},
             "price": {"amount": "14.00", "currency": "EUR"}, "stock": 3}
        ]
    }))
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let swapped: Value = resp.json().await.unwrap();
    assert_eq!(variant_by_sku(&swapped, &large_sku)["id"], small["id"]);
    assert_eq!(
        variant_by_sku(&swapped, &str_of(&medium, "sku"))["id"],
        large["id"]
    );
    assert_eq!(swapped["options"], changed["options"]);
}
