//! Two `shop` processes on one PostgreSQL database behind nginx, run with the example
//! configuration `deploy/nginx/shop.conf`: a sign-in at one instance holds at the other (built-in
//! provider with a shared `AUTH_SIGNING_KEY_FILE`, and Keycloak), the last units are sold
//! exactly once through the balancer, checkouts racing at both instances sell the last units
//! and a promotion's last use exactly once, and stopping one instance under load loses no order
//! while the other keeps serving.
//!
//! nginx comes from `SHOP_TEST_NGINX` (scripts/test.sh installs Debian's and sets it); without
//! it these tests are skipped, and under CI=true they fail.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Db, TestApp, keycloak_env, spawn_app, str_of, unique};
use crate::process::{Readiness, ShopProcess, free_port};
use crate::races::{oversell_at, register_at, sign_up_at};
use crate::shutdown::{
    assert_orders_kept, collect, load_client, plentiful_product, start_load, wait_for_successes,
};

static SKIP_NOTICE: Once = Once::new();

/// The nginx binary, or `None` when none is configured (outside CI).
fn nginx_bin() -> Option<PathBuf> {
    match std::env::var("SHOP_TEST_NGINX") {
        Ok(p) if !p.trim().is_empty() => Some(PathBuf::from(p.trim())),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "SHOP_TEST_NGINX is not set, and CI=true: the cluster tests must run in CI. \
                     Run them through scripts/test.sh (which installs nginx) or set \
                     SHOP_TEST_NGINX to an nginx binary."
                );
            }
            SKIP_NOTICE.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "note: SHOP_TEST_NGINX is not set: skipping the cluster tests \
                     (scripts/test.sh installs nginx and sets it)"
                );
            });
            None
        }
    }
}

/// nginx in the foreground with `deploy/nginx/shop.conf` pointed at the given instances;
/// stopped when dropped.
struct Nginx {
    child: Child,
    base: String,
    dir: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // TERM, not KILL: the master stops its workers; killed, it would leave them running.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    fn start(bin: &Path, dir: &Path, upstreams: [u16; 2]) -> Self {
        let dir = dir.join("nginx");
        std::fs::create_dir_all(&dir).expect("cannot create the nginx folder");
        let port = free_port();
        let d = dir.display();
        let example = include_str!("../../../../deploy/nginx/shop.conf");
        let site = example
            .replace("10.0.0.11:5000", &format!("127.0.0.1:{}", upstreams[0]))
            .replace("10.0.0.12:5000", &format!("127.0.0.1:{}", upstreams[1]))
            .replace("listen 80;", &format!("listen 127.0.0.1:{port};"))
            .replace("/var/log/nginx/shop.access.log", &format!("{d}/access.log"));
        assert_ne!(
            site, example,
            "deploy/nginx/shop.conf changed its placeholders"
        );
        std::fs::write(dir.join("shop.conf"), site).unwrap();
        let main = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 2048; }}\n\
             http {{\n client_body_temp_path {d}/client_body;\n proxy_temp_path {d}/proxy;\n \
             fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n \
             include {d}/shop.conf;\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), main).unwrap();
        let child = Command::new(bin)
            .arg("-p")
            .arg(format!("{d}/"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start nginx");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    /// Waits (at most 20 s) until a request through nginx reaches an instance.
    async fn wait_ready(&mut self, client: &reqwest::Client) {
        let log = self.dir.join("error.log");
        let ready = Readiness {
            base: &self.base,
            name: "nginx",
            within: Duration::from_secs(20),
            log: &|| std::fs::read_to_string(&log).unwrap_or_default(),
        };
        ready.wait(client, &mut self.child).await;
    }
}

/// A PostgreSQL test app, two instances on its database (each with its own `DATA_DIR`, both
/// signing with the app's key through `AUTH_SIGNING_KEY_FILE`, or with `env`), and nginx in
/// front of them; `None` when PostgreSQL or nginx is missing (outside CI).
async fn cluster(env: &[(&str, String)]) -> Option<(TestApp, [ShopProcess; 2], Nginx)> {
    let nginx = nginx_bin()?;
    let app = spawn_app(Db::Postgres).await?;
    let key = app.settings.data_dir.join("jwt-ed25519.pem");
    assert!(key.is_file(), "the app made no signing key");
    let mut instances = ["a", "b"].map(|name| {
        let data = app.settings.data_dir.join(format!("instance-{name}"));
        let mut all = vec![
            ("DATA_DIR", data.display().to_string()),
            ("AUTH_SIGNING_KEY_FILE", key.display().to_string()),
        ];
        all.extend(env.iter().cloned());
        ShopProcess::start(&app, &format!("instance-{name}"), &all)
    });
    for i in &mut instances {
        i.wait_ready(&app.client).await;
    }
    let mut lb = Nginx::start(
        &nginx,
        &app.settings.data_dir,
        [instances[0].port, instances[1].port],
    );
    lb.wait_ready(&app.client).await;
    Some((app, instances, lb))
}

async fn me(client: &reqwest::Client, base: &str, token: &str) -> StatusCode {
    client
        .get(format!("{base}/api/v1/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /users/me failed")
        .status()
}

async fn refresh(client: &reqwest::Client, base: &str, refresh_token: &str) -> reqwest::Response {
    client
        .post(format!("{base}/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": refresh_token}))
        .send()
        .await
        .expect("POST /auth/refresh failed")
}

/// Signs in at `a`, uses the token at `b`, refreshes at `b`, uses the new token at `a`, and
/// finds the first refresh token spent at `a`.
async fn sign_in_holds_across_instances(client: &reqwest::Client, a: &str, b: &str) {
    let first = sign_up_at(client, a, &format!("roamer-{}@example.com", unique())).await;

    assert_eq!(
        me(client, b, &str_of(&first, "access_token")).await,
        StatusCode::OK,
        "A's access token at B"
    );
    let resp = refresh(client, b, &str_of(&first, "refresh_token")).await;
    assert_eq!(resp.status(), StatusCode::OK, "A's refresh token at B");
    let second: Value = resp.json().await.unwrap();
    assert_eq!(
        me(client, a, &str_of(&second, "access_token")).await,
        StatusCode::OK,
        "B's access token at A"
    );
    let resp = refresh(client, a, &str_of(&first, "refresh_token")).await;
    assert_eq!(
        resp.status(),
        StatusCode::UNAUTHORIZED,
        "a refresh token spent at B is refused at A"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_at_one_instance_holds_at_the_other() {
    let Some((app, instances, lb)) = cluster(&[]).await else {
        return;
    };
    sign_in_holds_across_instances(&app.client, &instances[0].base, &instances[1].base).await;

    // Through the balancer, which alternates between them: every request is served, and the
    // request id the client sent comes back.
    let token = register_at(&app.client, &lb.base).await;
    for n in 0..6 {
        let rid = format!("cluster-{n}-{}", unique());
        let resp = app
            .client
            .get(format!("{}/api/v1/users/me", lb.base))
            .bearer_auth(&token)
            .header("x-request-id", &rid)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok()),
            Some(rid.as_str())
        );
    }
    let access = std::fs::read_to_string(lb.dir.join("access.log")).unwrap_or_default();
    for i in &instances {
        assert!(
            access.contains(&format!("upstream=127.0.0.1:{}", i.port)),
            "nginx never sent a request to {}: {access}",
            i.base
        );
    }
    // Neither instance made a key of its own: the given file is the one key.
    for name in ["a", "b"] {
        let own = app
            .settings
            .data_dir
            .join(format!("instance-{name}"))
            .join("jwt-ed25519.pem");
        assert!(!own.exists(), "instance {name} made its own key");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_keycloak_a_sign_in_at_one_instance_holds_at_the_other() {
    let Some(kc) = keycloak_env() else {
        return;
    };
    let env = [
        ("AUTH_PROVIDER", "keycloak".to_owned()),
        ("KEYCLOAK_URL", kc.url.clone()),
        ("KEYCLOAK_REALM", kc.realm.clone()),
        ("KEYCLOAK_CLIENT_ID", kc.client_id.clone()),
        ("KEYCLOAK_CLIENT_SECRET", kc.client_secret.clone()),
        ("AUTH_ISSUER", kc.issuer(&kc.realm)),
        ("AUTH_AUDIENCE", kc.client_id.clone()),
    ];
    let Some((app, instances, lb)) = cluster(&env).await else {
        return;
    };
    sign_in_holds_across_instances(&app.client, &instances[0].base, &instances[1].base).await;
    let token = register_at(&app.client, &lb.base).await;
    for _ in 0..4 {
        assert_eq!(me(&app.client, &lb.base, &token).await, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn through_the_balancer_200_orders_for_10_units_sell_exactly_10() {
    let Some((app, _instances, lb)) = cluster(&[]).await else {
        return;
    };
    oversell_at(&app, &lb.base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checkouts_racing_at_both_instances_sell_and_discount_exactly_once() {
    let Some((app, instances, _lb)) = cluster(&[]).await else {
        return;
    };
    // Each race's checkouts go to the two instances in turn, straight, not through nginx, so
    // that both really take part.
    let bases = instances.each_ref().map(|i| i.base.clone());
    crate::checkout::promotion_race_at(&app, &bases).await;
    crate::checkout::last_units_race_at(&app, &bases).await;
    crate::checkout::one_cart_race_at(&app, &bases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stopping_one_instance_under_load_loses_no_order() {
    let Some((app, mut instances, lb)) = cluster(&[]).await else {
        return;
    };
    let admin = app.admin_token().await;
    let product = plentiful_product(&app, &admin).await;
    let mut tokens = Vec::new();
    for _ in 0..4 {
        tokens.push(register_at(&app.client, &lb.base).await);
    }
    let (stop, ok) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let load = start_load(
        vec![lb.base.clone()],
        tokens.clone(),
        str_of(&product, "id"),
        16,
        4,
        stop.clone(),
        ok.clone(),
    );
    wait_for_successes(&ok, 60, "before the stop").await;
    instances[0].sigterm();
    let status = instances[0].wait_exit(Duration::from_secs(15)).await;
    let log = instances[0].log_text();
    let status = status.unwrap_or_else(|| panic!("A still runs 15 s after SIGTERM: {log}"));
    assert!(status.success(), "A exited with {status}: {log}");
    let at_stop = ok.load(Ordering::SeqCst);
    wait_for_successes(&ok, at_stop + 60, "after A stopped").await;
    stop.store(true, Ordering::SeqCst);
    let seen = collect(load).await;
    assert!(
        instances[1].running(),
        "B died: {}",
        instances[1].log_text()
    );

    assert!(
        seen.other_errors.is_empty(),
        "{:?}; nginx: {}",
        seen.other_errors,
        lb.error_log()
    );
    assert_eq!(
        seen.connection_errors, 0,
        "the balancer dropped connections"
    );
    // nginx must not resend a POST that reached an instance, so a request reset by A as it
    // closes would be answered 502. A accepts what is queued on its port before closing it,
    // and reads the first request of connections it just accepted before shutting them:
    // nothing is reset (before that, about one run in three saw a 502 here).
    let failed: Vec<_> = seen
        .statuses
        .iter()
        .filter(|(s, _)| !matches!(**s, 200 | 201))
        .collect();
    eprintln!(
        "answers through the balancer while A stopped: {:?}",
        seen.statuses
    );
    assert!(
        failed.is_empty(),
        "answers other than 200/201 through the balancer: {failed:?}; nginx: {}",
        lb.error_log()
    );
    assert_orders_kept(&app, &admin, &product, &seen).await;
    // And B alone still serves through the balancer.
    assert_eq!(
        me(&load_client(), &lb.base, &tokens[0]).await,
        StatusCode::OK
    );
}

/// Sign-in attempts through the balancer from `client` (the address nginx is told in
/// `X-Forwarded-For`); the statuses in order.
async fn sign_ins_from(client: &reqwest::Client, base: &str, address: &str, n: usize) -> Vec<u16> {
    let mut statuses = Vec::with_capacity(n);
    for _ in 0..n {
        let resp = client
            .post(format!("{base}/api/v1/auth/login"))
            .header("x-forwarded-for", address)
            .json(&json!({"username": "nobody@example.com", "password": "wrong password"}))
            .send()
            .await
            .expect("POST /auth/login through the balancer failed");
        statuses.push(resp.status().as_u16());
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_the_balancer_sign_in_limits_count_per_client_not_per_proxy() {
    // nginx (on 127.0.0.1, trusted) appends the address it saw to X-Forwarded-For; the shop
    // takes the right-most address that is not a trusted proxy: the one the test sends.
    let Some((app, _instances, lb)) = cluster(&[
        ("RATE_LIMIT_ENABLED", "true".to_owned()),
        ("RATE_LIMIT_AUTH_PER_MINUTE", "1".to_owned()),
        ("RATE_LIMIT_AUTH_BURST", "3".to_owned()),
        ("TRUSTED_PROXIES", "127.0.0.1".to_owned()),
    ])
    .await
    else {
        return;
    };
    // Each instance keeps its own counters and nginx alternates between them: 2 x 3 attempts,
    // then the seventh is refused.
    let first = sign_ins_from(&app.client, &lb.base, "203.0.113.7", 7).await;
    assert_eq!(first, [401, 401, 401, 401, 401, 401, 429], "{first:?}");
    // Another client behind the same proxy still has its whole budget.
    let other = sign_ins_from(&app.client, &lb.base, "203.0.113.8", 2).await;
    assert_eq!(other, [401, 401], "{other:?}");
}
