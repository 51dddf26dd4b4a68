//! The catalog's answers kept in memory (`CATALOG_CACHE_MAX_BYTES`): reads by anyone but an
//! admin are answered from it, every write is read back at once by whoever made it, and with
//! PostgreSQL a write through one instance reaches every other within a second, while a lost
//! notification connection never lets a stale answer live past `CATALOG_CACHE_MAX_STALE_SECONDS`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Db, TestApp, spawn_app, str_of, unique};
use crate::process::ShopProcess;

both_dbs!(catalog_reads_come_from_memory_and_every_write_is_read_back_at_once);

/// The catalog reads `base` has answered from memory so far.
async fn hits(client: &reqwest::Client, base: &str) -> f64 {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("GET /metrics failed")
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("shop_catalog_cache_hits_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no shop_catalog_cache_hits_total in {text}"))
}

/// `GET base + path` (as nobody, or with `token`): status and body.
async fn read(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = client.get(format!("{base}/api/v1{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("GET failed");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Reads `path` at `base` until an answer comes from memory (an instance on PostgreSQL keeps
/// nothing until it listens for writes); panics after 10 s.
async fn until_kept(client: &reqwest::Client, base: &str, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let before = hits(client, base).await;
        read(client, base, path, None).await;
        read(client, base, path, None).await;
        if hits(client, base).await > before {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{base}{path} never answered from memory"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads the product at `base` until its price is `amount`; how long that took.
async fn until_priced(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    amount: &str,
    within: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        let (_, p) = read(client, base, path, None).await;
        if p["price"]["amount"] == json!(amount) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "{base}{path} still answers {} after {within:?}, not {amount}",
            p["price"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn catalog_reads_come_from_memory_and_every_write_is_read_back_at_once(app: TestApp) {
    let (client, base) = (&app.client, app.addr.as_str());
    let admin = app.admin_token().await;
    let (_, customer) = app.user_token().await;
    let sku = format!("CACHE-{}", unique());
    let mug = app
        .create_product_priced(&admin, &sku, "4.00", "EUR", 10)
        .await;
    let path = format!("/products/{}", str_of(&mug, "id"));
    until_kept(client, base, &path).await;
    until_kept(client, base, "/products").await;

    // Anyone but an admin reads the same answer from memory; an admin reads the database.
    let before = hits(client, base).await;
    let (status, kept) = read(client, base, &path, Some(&customer)).await;
    assert_eq!((status, &kept["sku"]), (StatusCode::OK, &json!(sku)));
    assert_eq!(hits(client, base).await, before + 1.0, "a customer's read");
    read(client, base, &path, Some(&admin)).await;
    read(client, base, "/products", Some(&admin)).await;
    assert_eq!(hits(client, base).await, before + 1.0, "an admin's reads");

    // A change of the product is read back at once, by its id and in the list.
    let resp = app
        .put_json(
            &format!("/api/v1{path}"),
            &json!({"name": "Renamed mug"}),
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        read(client, base, &path, None).await.1["name"],
        json!("Renamed mug")
    );
    let (_, page) = read(client, base, "/products", None).await;
    assert_eq!(page["items"][0]["name"], json!("Renamed mug"), "{page}");

    // An order's stock is read back at once.
    let resp = app
        .post_json(
            "/api/v1/orders",
            &json!({"items": [{"product_id": mug["id"], "quantity": 3}]}),
            Some(&customer),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(read(client, base, &path, None).await.1["stock"], json!(7));

    // A product made a draft is gone from the public catalog at once.
    until_kept(client, base, &path).await;
    let resp = app
        .put_json(
            &format!("/api/v1{path}"),
            &json!({"status": "draft"}),
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        read(client, base, &path, None).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, page) = read(client, base, "/products", None).await;
    assert_eq!(page["total"], json!(0), "{page}");
}

/// Changes the price of `product`'s only variant to `amount` behind the service's back: in
/// SQL, with the triggers that tell the instances switched off for this session.
async fn reprice_unheard(database_url: &str, product: &Value, minor: i64) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(database_url).await.unwrap();
    let id = uuid::Uuid::parse_str(&str_of(product, "id")).unwrap();
    sqlx::raw_sql("SET session_replication_role = replica")
        .execute(&mut conn)
        .await
        .unwrap();
    for sql in [
        "UPDATE products SET price_minor = $2 WHERE id = $1",
        "UPDATE product_variants SET price_minor = $2 WHERE product_id = $1",
    ] {
        sqlx::query(sql)
            .bind(id)
            .bind(minor)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let _ = conn.close().await;
}

/// Ends every instance's notification connection, as a network fault or a restarted
/// PostgreSQL would; how many were ended.
async fn cut_listeners(database_url: &str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(database_url).await.unwrap();
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'shop-catalog-listener' AND datname = current_database()) t",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let _ = conn.close().await;
    ended
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_every_instance_serves_a_change_within_a_second() {
    let Some(app) = spawn_app(Db::Postgres).await else {
        return;
    };
    let env = [
        ("CATALOG_CACHE_MAX_STALE_SECONDS", "3".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    let mut other = ShopProcess::start(&app, "other", &env);
    other.wait_ready(&app.client).await;
    let (client, there) = (&app.client, other.base.as_str());
    let database_url = app.settings.database_url.expose().to_owned();

    let admin = app.admin_token().await;
    let sku = format!("CACHE-{}", unique());
    let mug = app
        .create_product_priced(&admin, &sku, "4.00", "EUR", 10)
        .await;
    let path = format!("/products/{}", str_of(&mug, "id"));
    let reprice = |amount: &'static str| {
        let path = format!("/api/v1{path}");
        let (app, admin) = (&app, &admin);
        async move {
            let body = json!({"price": {"amount": amount, "currency": "EUR"}});
            let resp = app.put_json(&path, &body, Some(admin)).await;
            assert_eq!(resp.status(), StatusCode::OK);
        }
    };

    // A change through this instance is served by the other within a second.
    until_kept(client, there, &path).await;
    reprice("5.00").await;
    let took = until_priced(client, there, &path, "5.00", Duration::from_secs(1)).await;
    eprintln!("a change reached the other instance in {took:?}");

    // A write no notification tells of is served stale at most the longest age allowed.
    until_kept(client, there, &path).await;
    reprice_unheard(&database_url, &mug, 600).await;
    assert_eq!(
        read(client, there, &path, None).await.1["price"]["amount"],
        json!("5.00"),
        "kept: the write was not heard"
    );
    until_priced(client, there, &path, "6.00", Duration::from_millis(3500)).await;

    // With the notification connections cut, a change is still served at once; listening
    // again, memory serves again and changes still arrive within a second.
    until_kept(client, there, &path).await;
    assert_eq!(
        cut_listeners(&database_url).await,
        2,
        "one listener per instance"
    );
    reprice("7.00").await;
    until_priced(client, there, &path, "7.00", Duration::from_secs(1)).await;
    until_kept(client, there, &path).await;
    reprice("8.00").await;
    until_priced(client, there, &path, "8.00", Duration::from_secs(1)).await;

    assert!(
        other.running(),
        "the other instance died: {}",
        other.log_text()
    );
    drop(other);
}
