//! The read replica (`DATABASE_READ_URL`) against a real PostgreSQL hot standby, which
//! `scripts/test.sh` makes with `pg_basebackup -R`: visitors' catalog reads are served by the
//! standby (shown by pausing its replay and reading what it still holds), a signed-in admin
//! reads back at once what they wrote, and a standby that lags too far or stops is skipped,
//! with no error, until it is back.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Connection;

use crate::helpers::{Db, TestApp, spawn_app_with, str_of};

/// The standby's server URL and the command that stops and starts it, or `None` when no
/// standby runs (outside CI; under CI=true that fails the test).
fn standby() -> Option<(String, String)> {
    match (
        std::env::var("SHOP_TEST_POSTGRES_REPLICA_URL"),
        std::env::var("SHOP_TEST_POSTGRES_REPLICA_CTL"),
    ) {
        (Ok(url), Ok(ctl)) if !url.is_empty() && !ctl.is_empty() => Some((url, ctl)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "SHOP_TEST_POSTGRES_REPLICA_URL is not set, and CI=true: run the tests through \
                 scripts/test.sh, which starts a PostgreSQL standby beside the primary"
            );
            None
        }
    }
}

/// `url` (a server's) naming the database `name`.
fn on_database(url: &str, name: &str) -> String {
    let mut url = reqwest::Url::parse(url).expect("a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// Runs `sql` on the server at `url`.
async fn run(url: &str, sql: &str) {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

/// Pauses the standby's replay, then renames product `id` on the primary without telling
/// anyone (no trigger runs, so no notification): what the standby serves keeps the old name.
async fn rename_behind_a_paused_standby(standby: &str, primary_db: &str, id: &str, name: &str) {
    run(standby, "SELECT pg_wal_replay_pause()").await;
    run(
        primary_db,
        &format!(
            "SET session_replication_role = replica; \
             UPDATE products SET name = '{name}' WHERE id = '{id}'"
        ),
    )
    .await;
}

/// Stops or starts the standby.
fn standby_ctl(ctl: &str, action: &str) {
    let status = std::process::Command::new(ctl)
        .arg(action)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {ctl} {action}: {e}"));
    assert!(status.success(), "{ctl} {action} failed");
}

/// What `/health/ready` says of the replica.
async fn replica_check(app: &TestApp) -> String {
    let health: Value = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .expect("GET /health/ready")
        .json()
        .await
        .unwrap();
    health["checks"]["database_replica"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits up to 15 s for `/health/ready` to say `state` of the replica.
async fn until_replica(app: &TestApp, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if replica_check(app).await == state {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the replica never became {state} (it is {})",
            replica_check(app).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The product's name as a visitor (no token) or `token` reads it; `None` for a 404 (a
/// standby that has not yet replayed its creation).
async fn try_name_read(app: &TestApp, id: &str, token: Option<&str>) -> Option<String> {
    let resp = app.get(&format!("/api/v1/products/{id}"), token).await;
    if resp.status() == StatusCode::NOT_FOUND {
        return None;
    }
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    Some(str_of(&body, "name"))
}

/// The product's name as a visitor (no token) or `token` reads it.
async fn name_read(app: &TestApp, id: &str, token: Option<&str>) -> String {
    try_name_read(app, id, token)
        .await
        .expect("the product is there")
}

/// Waits up to 15 s for visitors to read `name`.
async fn until_visitors_read(app: &TestApp, id: &str, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while try_name_read(app, id, None).await.as_deref() != Some(name) {
        assert!(
            Instant::now() < deadline,
            "visitors never read the name {name}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn visitors_read_the_standby_admins_the_primary_and_a_lagging_or_stopped_standby_is_skipped()
{
    let Some((standby_url, ctl)) = standby() else {
        return;
    };
    let standby_for_app = standby_url.clone();
    let Some(app) = spawn_app_with(Db::Postgres, move |s| {
        let primary = reqwest::Url::parse(s.database_url.expose()).expect("a URL");
        let name = primary.path().trim_start_matches('/').to_owned();
        s.database_read_url = Some(
            infrastructure::DatabaseUrl::parse(&on_database(&standby_for_app, &name)).unwrap(),
        );
        s.database_read_max_lag = Duration::from_secs(1);
        // Every visitor's read reaches the database, not the instance's memory.
        s.catalog_cache_max_bytes = 0;
    })
    .await
    else {
        return;
    };
    let primary_db = app.settings.database_url.expose().to_owned();
    let admin = app.admin_token().await;
    let product = app.create_product(&admin, "REPLICA-1").await;
    let id = str_of(&product, "id");
    let name = str_of(&product, "name");
    until_replica(&app, "up").await;
    until_visitors_read(&app, &id, &name).await;

    // Behind a paused standby, visitors still read the standby's name, the admin the primary's.
    rename_behind_a_paused_standby(&standby_url, &primary_db, &id, "Renamed on the primary").await;
    assert_eq!(
        name_read(&app, &id, None).await,
        name,
        "a visitor's read comes from the standby"
    );
    assert_eq!(
        name_read(&app, &id, Some(&admin)).await,
        "Renamed on the primary",
        "an admin's read comes from the primary"
    );
    // Past DATABASE_READ_MAX_LAG_SECONDS behind, the standby is skipped.
    until_replica(&app, "lagging").await;
    assert_eq!(
        name_read(&app, &id, None).await,
        "Renamed on the primary",
        "a lagging standby serves no reads"
    );
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == r#"shop_db_replica_state{state="lagging"} 1"#),
        "{metrics}"
    );
    run(&standby_url, "SELECT pg_wal_replay_resume()").await;
    until_replica(&app, "up").await;

    // A catalog write through the API is read back at once by the admin, and by visitors as
    // soon as the standby has it.
    let resp = app
        .put_json(
            &format!("/api/v1/products/{id}"),
            &serde_json::json!({"name": "Renamed through the API"}),
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        name_read(&app, &id, Some(&admin)).await,
        "Renamed through the API"
    );
    until_visitors_read(&app, &id, "Renamed through the API").await;

    // The standby stopped: reads go on from the primary, without an error.
    standby_ctl(&ctl, "stop");
    for _ in 0..20 {
        assert_eq!(name_read(&app, &id, None).await, "Renamed through the API");
    }
    until_replica(&app, "down").await;
    let health = app.get("/health/ready", None).await;
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "a replica down leaves the service ready"
    );
    // Started again: used again, as its paused replay shows.
    standby_ctl(&ctl, "start");
    until_replica(&app, "up").await;
    rename_behind_a_paused_standby(&standby_url, &primary_db, &id, "Renamed again").await;
    let seen = name_read(&app, &id, None).await;
    run(&standby_url, "SELECT pg_wal_replay_resume()").await;
    assert_eq!(
        seen, "Renamed through the API",
        "the standby serves visitors again"
    );
}
