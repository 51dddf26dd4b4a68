//! The job runner as it runs in production: the real `shop` binary on one PostgreSQL. A `shop
//! worker` delivers what a `shop serve` with `SHOP_JOBS=false` queued (and the serve alone
//! delivers nothing); a shop killed with SIGKILL while deliveries are in flight and events are
//! queued delivers every event after a restart; two `shop serve` deliver every one of 1,000
//! `order.placed` events, also when one of them is killed half-way.
//!
//! A receiver on 127.0.0.1 keeps every request. Delivery is at least once, so a duplicate (the
//! same `webhook-id` twice) is allowed and counted (printed with `eprintln!`); an event that never
//! arrives fails the test.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{Db, TestApp, spawn_app_with, str_of};
use crate::process::ShopProcess;
use crate::shutdown::{load_client, plentiful_product};

// ---- the receiver ----------------------------------------------------------------------------

/// One request the receiver got.
struct Hit {
    /// `webhook-id`.
    id: String,
    timestamp: String,
    signature: String,
    body: String,
    /// The sender's port on 127.0.0.1, to tell which process sent it.
    peer_port: u16,
    started: Instant,
    /// When the receiver answered; `None` while it waits (also, for good, when the handler is
    /// dropped because the sender went away). Unanswered when its sender died: the sender
    /// cannot have recorded the outcome.
    answered: Option<Instant>,
}

/// A webhook receiver on 127.0.0.1 that answers 200 after a delay.
#[derive(Clone)]
struct Receiver {
    url: String,
    port: u16,
    hits: Arc<Mutex<Vec<Hit>>>,
    delay_ms: Arc<AtomicU64>,
}

impl Receiver {
    async fn start(delay: Duration) -> Self {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let delay_ms = Arc::new(AtomicU64::new(delay.as_millis() as u64));
        let log = hits.clone();
        let delay = delay_ms.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |ConnectInfo(peer): ConnectInfo<SocketAddr>,
                      headers: HeaderMap,
                      body: String| {
                    let (log, delay) = (log.clone(), delay.clone());
                    async move {
                        let header = |name: &str| {
                            headers
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned()
                        };
                        let n = {
                            let mut log = log.lock().unwrap();
                            log.push(Hit {
                                id: header("webhook-id"),
                                timestamp: header("webhook-timestamp"),
                                signature: header("webhook-signature"),
                                body,
                                peer_port: peer.port(),
                                started: Instant::now(),
                                answered: None,
                            });
                            log.len() - 1
                        };
                        let delay = delay.load(Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                        log.lock().unwrap()[n].answered = Some(Instant::now());
                        AxumStatus::OK
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/hook"),
            port: addr.port(),
            hits,
            delay_ms,
        }
    }

    /// Answers after `delay` from now on.
    fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Requests so far.
    fn requests(&self) -> usize {
        self.hits.lock().unwrap().len()
    }

    /// How often each `webhook-id` came.
    fn counts(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for h in self.hits.lock().unwrap().iter() {
            *counts.entry(h.id.clone()).or_default() += 1;
        }
        counts
    }

    /// The ids of the requests not answered (yet).
    fn unanswered(&self) -> Vec<String> {
        let hits = self.hits.lock().unwrap();
        hits.iter()
            .filter(|h| h.answered.is_none())
            .map(|h| h.id.clone())
            .collect()
    }

    /// Whether a request came within `recent` and is still waiting for its answer: a SIGKILL now
    /// cuts a delivery in flight.
    fn one_just_in_flight(&self, recent: Duration) -> bool {
        let hits = self.hits.lock().unwrap();
        hits.iter()
            .any(|h| h.answered.is_none() && h.started.elapsed() < recent)
    }

    /// The ids of the requests that `pid` sent and that came within `recent` and wait for
    /// their answer.
    fn just_in_flight_from(&self, pid: u32, recent: Duration) -> Vec<String> {
        let hits = self.hits.lock().unwrap();
        hits.iter()
            .filter(|h| h.answered.is_none() && h.started.elapsed() < recent)
            .filter(|h| connection_of(pid, h.peer_port, self.port))
            .map(|h| h.id.clone())
            .collect()
    }

    /// The ids that came among the requests from the `from`-th on.
    fn ids_since(&self, from: usize) -> HashSet<String> {
        let hits = self.hits.lock().unwrap();
        hits[from..].iter().map(|h| h.id.clone()).collect()
    }

    /// Checks every request's signature per Standard Webhooks, independently of the shop's own
    /// code: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the secret's key.
    fn assert_signed(&self, secret: &str) {
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap())
            .unwrap();
        for h in self.hits.lock().unwrap().iter() {
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
            mac.update(format!("{}.{}.{}", h.id, h.timestamp, h.body).as_bytes());
            let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
            assert!(
                h.signature.split(' ').any(|s| s == expected),
                "request for {} signed {:?}, not {expected}",
                h.id,
                h.signature
            );
            let body: Value = serde_json::from_str(&h.body).expect("a body that is not JSON");
            assert_eq!(
                body["id"],
                h.id.as_str(),
                "webhook-id is not the event's id"
            );
            assert_eq!(body["type"], "order.placed");
        }
    }

    /// Prints the events, requests and duplicates (ids that came more than once) under `what`.
    fn report(&self, what: &str) -> usize {
        let counts = self.counts();
        let requests = self.requests();
        let twice = counts.values().filter(|&&n| n > 1).count();
        let duplicates = requests - counts.len();
        eprintln!(
            "{what}: {} events, {requests} requests, {duplicates} duplicates ({twice} ids came more than once)",
            counts.len()
        );
        duplicates
    }
}

/// Whether the TCP connection from 127.0.0.1:`from` to 127.0.0.1:`to` is process `pid`'s
/// (Linux: the socket's inode in /proc/net/tcp, among the process's descriptors).
fn connection_of(pid: u32, from: u16, to: u16) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    let (local, remote) = (format!("0100007F:{from:04X}"), format!("0100007F:{to:04X}"));
    let Some(inode) = table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() > 9 && f[1] == local && f[2] == remote).then(|| f[9].to_owned())
    }) else {
        return false;
    };
    let socket = format!("socket:[{inode}]");
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t.to_string_lossy() == socket))
}

// ---- processes -------------------------------------------------------------------------------

/// What every shop process here runs with: local receivers allowed, a pass every 50 ms, a 1 s
/// timeout and so the shortest lease the rule allows (max(WEBHOOK_LEASE_SECONDS, 2 x timeout)
/// = 2 s), and retries a second apart (a timeout under load is tried again soon, not in 5 s).
fn delivery_env() -> Vec<(&'static str, String)> {
    vec![
        ("WEBHOOK_ALLOW_HTTP", "true".into()),
        ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true".into()),
        ("JOBS_POLL_INTERVAL_MS", "50".into()),
        ("WEBHOOK_TIMEOUT_SECONDS", "1".into()),
        ("WEBHOOK_LEASE_SECONDS", "2".into()),
        ("WEBHOOK_RETRY_DELAYS_SECONDS", "1,1,1,1,1,1,1,1,1,1".into()),
    ]
}

/// A running `shop worker` (watched through its log, and its `/health` and `/metrics` on a port
/// of its own); killed when dropped.
struct Worker {
    child: Child,
    log: PathBuf,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Worker {
    /// Starts `shop worker` with `app`'s database and data folder plus `env`, logging to
    /// `<data_dir>/<name>.log`.
    fn start(app: &TestApp, name: &str, env: &[(&str, String)]) -> Self {
        let log = app.settings.data_dir.join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).expect("cannot create the worker log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_shop"));
        cmd.arg("worker")
            .current_dir(&app.settings.data_dir)
            .env("DATABASE_URL", app.settings.database_url.expose())
            .env("DATA_DIR", &app.settings.data_dir)
            .env("RUST_LOG", "info,sqlx=warn")
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("cannot share the log file"))
            .stderr(log_file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("cannot start shop worker");
        Self { child, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most 30 s) until its job runner says it started.
    async fn wait_started(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.log_text().contains("job runner started") {
            if let Some(status) = self.child.try_wait().expect("cannot poll the worker") {
                panic!("shop worker exited with {status}: {}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "shop worker's job runner did not start within 30 s: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `http://127.0.0.1:<port>` of its health and metrics routes, from the line of its log
    /// that says where it listens.
    fn base(&self) -> String {
        let log = self.log_text();
        let line = log
            .lines()
            .find(|l| l.contains("worker listening"))
            .unwrap_or_else(|| panic!("the worker did not say where it listens: {log}"));
        let at = line.find("127.0.0.1:").expect("an address in the line");
        let port: String = line[at + "127.0.0.1:".len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        format!("http://127.0.0.1:{port}")
    }

    /// SIGTERM, then waits (at most 20 s) for the exit.
    async fn stop(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("cannot poll the worker") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "shop worker still runs 20 s after SIGTERM: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `kill -9` of `shop`, and the wait until it is gone. The signal is sent straight away (not
/// through a `kill` child process, which takes a while on a busy machine): a delivery seen in
/// flight a moment before is still in flight when it lands.
async fn kill_9(shop: &mut ShopProcess) {
    let pid = i32::try_from(shop.pid())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .expect("a process id");
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("kill -9 failed");
    let status = shop
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("still running 10 s after SIGKILL");
    assert_eq!(status.signal(), Some(9), "{status}");
}

/// The nice value of the thread of process `pid` named `name` (the first, when several are),
/// from `/proc`; `None` when it has no such thread.
fn thread_nice(pid: u32, name: &str) -> Option<i32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the process's threads");
    tasks.flatten().find_map(|task| {
        let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
        if comm.trim_end() != name {
            return None;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
        // After the name in parentheses: state is field 3, nice field 19.
        let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
        fields.get(19 - 3)?.parse().ok()
    })
}

// ---- the shop through its API ----------------------------------------------------------------

/// A PostgreSQL test app (its own database; its in-process server runs no jobs) whose API
/// accepts endpoints on 127.0.0.1; `None` without PostgreSQL (outside CI).
async fn postgres_app() -> Option<TestApp> {
    spawn_app_with(Db::Postgres, |s| {
        s.webhook_urls.allow_http = true;
        s.webhook_urls.allow_private = true;
    })
    .await
}

/// Subscribes `url` to `order.placed`; the endpoint's id and secret.
async fn subscribe(app: &TestApp, admin: &str, url: &str) -> (String, String) {
    let resp = app
        .post_json(
            "/api/v1/webhook-endpoints",
            &json!({"url": url, "events": ["order.placed"]}),
            Some(admin),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let e: Value = resp.json().await.unwrap();
    (str_of(&e, "id"), str_of(&e, "secret"))
}

/// What a test needs to place orders: a product with plenty of stock and two customers.
struct Shopping {
    product_id: String,
    tokens: Vec<String>,
}

async fn shopping(app: &TestApp, admin: &str) -> Shopping {
    let product = plentiful_product(app, admin).await;
    let mut tokens = Vec::new();
    for _ in 0..2 {
        tokens.push(app.user_token().await.1);
    }
    Shopping {
        product_id: str_of(&product, "id"),
        tokens,
    }
}

/// Places `n` orders, `concurrency` at a time, the i-th through `bases[i % len]`; a request
/// that gets no answer (its instance is gone) is sent to the next base with the same
/// `Idempotency-Key`, so an order that the gone instance placed is answered again, not placed
/// twice. `placed` counts the 201s as they come. Answers the ids of the orders answered 201.
async fn place_orders(
    bases: &[String],
    shopping: &Shopping,
    n: usize,
    concurrency: usize,
    placed: Arc<AtomicUsize>,
) -> Vec<String> {
    let client = load_client();
    let next = Arc::new(AtomicUsize::new(0));
    let run = crate::helpers::unique();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, next, placed) = (client.clone(), next.clone(), placed.clone());
        let bases = bases.to_vec();
        let tokens = shopping.tokens.clone();
        let body = json!({"items": [{"product_id": shopping.product_id, "quantity": 1}]});
        let run = run.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    return ids;
                }
                let mut tries = 0;
                let order = loop {
                    let base = &bases[(i + tries) % bases.len()];
                    let sent = client
                        .post(format!("{base}/api/v1/orders"))
                        .bearer_auth(&tokens[i % tokens.len()])
                        .header("idempotency-key", format!("{run}-{i}"))
                        .json(&body)
                        .send()
                        .await;
                    match sent {
                        Ok(resp) => {
                            let status = resp.status();
                            if resp.headers().contains_key("idempotent-replayed") {
                                eprintln!("order {i}: placed before the cut, answered again");
                            }
                            let text = resp.text().await.unwrap_or_default();
                            assert_eq!(status, StatusCode::CREATED, "order {i} at {base}: {text}");
                            let order: Value = serde_json::from_str(&text).unwrap();
                            break order;
                        }
                        Err(e) => {
                            if !e.is_connect() {
                                // Not refused but cut: the order may exist; the key tells.
                                eprintln!(
                                    "order {i}: the request to {base} was cut ({e}); sent on \
                                     with the same Idempotency-Key"
                                );
                            }
                            tries += 1;
                            assert!(tries < 20, "order {i}: no instance answers: {e}");
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                };
                placed.fetch_add(1, Ordering::SeqCst);
                ids.push(str_of(&order, "id"));
            }
        }));
    }
    let mut ids = Vec::with_capacity(n);
    for t in tasks {
        ids.extend(t.await.expect("an order task panicked"));
    }
    ids
}

/// Every `order.placed` event in the event log: its id, and the order it tells of.
async fn order_events(app: &TestApp, admin: &str) -> HashMap<String, String> {
    let mut events = HashMap::new();
    for page in 1.. {
        let body = app
            .get_json(
                &format!("/api/v1/events?type=order.placed&per_page=100&page={page}"),
                Some(admin),
            )
            .await;
        let items = body["items"].as_array().expect("a page of events");
        if items.is_empty() {
            break;
        }
        for e in items {
            events.insert(str_of(e, "id"), str_of(&e["data"], "id"));
        }
    }
    events
}

/// The endpoint's deliveries by status: (pending, succeeded, failed).
async fn delivery_totals(app: &TestApp, admin: &str, endpoint: &str) -> (u64, u64, u64) {
    let mut totals = [0; 3];
    for (i, status) in ["pending", "succeeded", "failed"].iter().enumerate() {
        let page = app
            .get_json(
                &format!(
                    "/api/v1/webhook-endpoints/{endpoint}/deliveries?status={status}&per_page=1"
                ),
                Some(admin),
            )
            .await;
        totals[i] = page["total"].as_u64().expect("a total");
    }
    (totals[0], totals[1], totals[2])
}

/// Waits (at most `secs`) until every event of `expected` reached the receiver and the shop
/// recorded every delivery as succeeded; fails naming how many never came.
async fn wait_all_delivered(
    app: &TestApp,
    admin: &str,
    endpoint: &str,
    receiver: &Receiver,
    expected: &HashSet<String>,
    secs: u64,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let counts = receiver.counts();
        let missing: Vec<&String> = expected
            .iter()
            .filter(|id| !counts.contains_key(*id))
            .collect();
        let totals = delivery_totals(app, admin, endpoint).await;
        if missing.is_empty() && totals == (0, expected.len() as u64, 0) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after {secs} s, {} of {} order.placed events never reached the receiver \
             (e.g. {:?}), and the shop's deliveries (pending, succeeded, failed) are \
             {totals:?}, not (0, {}, 0)",
            missing.len(),
            expected.len(),
            missing.iter().take(5).collect::<Vec<_>>(),
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The event log's `order.placed` events, checked against the orders answered 201 (each has
/// its event, and there is no other); their ids.
async fn expected_events(app: &TestApp, admin: &str, orders: &[String]) -> HashSet<String> {
    let events = order_events(app, admin).await;
    let told: HashSet<&String> = events.values().collect();
    let without: Vec<&String> = orders.iter().filter(|o| !told.contains(o)).collect();
    assert!(
        without.is_empty(),
        "{} orders answered 201 have no order.placed event: {without:?}",
        without.len()
    );
    assert_eq!(events.len(), orders.len(), "order.placed events");
    events.into_keys().collect()
}

/// The value of the series `series` (name and labels, as exposed) at `base`'s `/metrics`; 0
/// when it is not there yet.
async fn metric(base: &str, series: &str) -> u64 {
    let text = load_client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("GET /metrics failed")
        .text()
        .await
        .unwrap();
    let prefix = format!("{series} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map_or(0, |v| v.trim().parse().expect("a counter"))
}

/// `shop_webhook_delivery_attempts_total{outcome="succeeded"}` of the instance at `base`.
async fn succeeded_attempts(base: &str) -> u64 {
    metric(
        base,
        r#"shop_webhook_delivery_attempts_total{outcome="succeeded"}"#,
    )
    .await
}

/// `shop_events_written_total{type="<event_type>"}` of the instance at `base`.
async fn events_written(base: &str, event_type: &str) -> u64 {
    metric(
        base,
        &format!(r#"shop_events_written_total{{type="{event_type}"}}"#),
    )
    .await
}

// ---- the tests -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_worker_delivers_what_a_server_without_jobs_queued() {
    let Some(app) = postgres_app().await else {
        return;
    };
    let admin = app.admin_token().await;
    let receiver = Receiver::start(Duration::ZERO).await;
    let (endpoint, secret) = subscribe(&app, &admin, &receiver.url).await;
    let shopping = shopping(&app, &admin).await;
    let mut env = delivery_env();
    env.push(("SHOP_JOBS", "false".into()));
    let mut serve = ShopProcess::start(&app, "serve", &env);
    serve.wait_ready(&app.client).await;
    let mut env = delivery_env();
    env.push(("JOBS_NICE", "7".into()));
    let mut worker = Worker::start(&app, "worker", &env);
    worker.wait_started().await;
    let bases = [serve.base.clone()];
    // The runner has a thread of its own, below the rest of the process.
    let pid = worker.child.id();
    assert_eq!(
        thread_nice(pid, "shop-jobs"),
        Some(7),
        "the runner's thread"
    );
    assert_eq!(thread_nice(pid, "shop"), Some(0), "the main thread");
    assert_eq!(
        thread_nice(serve.pid(), "shop-jobs"),
        None,
        "a server with SHOP_JOBS=false has a runner thread"
    );

    const EACH: usize = 20;
    let first = place_orders(&bases, &shopping, EACH, 4, Arc::default()).await;
    let expected = expected_events(&app, &admin, &first).await;
    wait_all_delivered(&app, &admin, &endpoint, &receiver, &expected, 20).await;
    // The worker tells its own health and counts; the server counts the events it wrote.
    let worker_base = worker.base();
    let ready = load_client()
        .get(format!("{worker_base}/health/ready"))
        .send()
        .await
        .expect("the worker's /health/ready");
    assert_eq!(ready.status(), StatusCode::OK);
    assert!(
        succeeded_attempts(&worker_base).await >= expected.len() as u64,
        "the worker's metrics do not count its deliveries"
    );
    assert_eq!(
        events_written(&serve.base, "order.placed").await,
        EACH as u64,
        "the server's metrics do not count the events it wrote"
    );

    // The worker stopped (and exits cleanly), the server alone sends nothing: its job runner is
    // off, so the new events wait.
    let status = worker.stop().await;
    assert!(status.success(), "{status}: {}", worker.log_text());
    let before = receiver.requests();
    let second = place_orders(&bases, &shopping, EACH, 4, Arc::default()).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        receiver.requests(),
        before,
        "the server with SHOP_JOBS=false delivered: {}",
        serve.log_text()
    );
    assert_eq!(
        delivery_totals(&app, &admin, &endpoint).await,
        (EACH as u64, EACH as u64, 0),
        "(pending, succeeded, failed) while no runner runs"
    );
    assert!(
        !serve.log_text().contains("job runner started"),
        "the server started a job runner: {}",
        serve.log_text()
    );

    // A worker again: it delivers what waited.
    let mut worker = Worker::start(&app, "worker-again", &delivery_env());
    worker.wait_started().await;
    let all: Vec<String> = first.into_iter().chain(second).collect();
    let expected = expected_events(&app, &admin, &all).await;
    wait_all_delivered(&app, &admin, &endpoint, &receiver, &expected, 20).await;
    receiver.assert_signed(&secret);
    receiver.report("worker beside a server without jobs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_after_a_kill_9_with_deliveries_in_flight_every_event_is_delivered() {
    let Some(app) = postgres_app().await else {
        return;
    };
    let admin = app.admin_token().await;
    // Slow enough that a batch is in flight most of the time, well within the 1 s timeout.
    let receiver = Receiver::start(Duration::from_millis(300)).await;
    let (endpoint, secret) = subscribe(&app, &admin, &receiver.url).await;
    let shopping = shopping(&app, &admin).await;

    // 200 events queued through the in-process server, which runs no jobs.
    const ORDERS: usize = 200;
    let orders = place_orders(
        std::slice::from_ref(&app.addr),
        &shopping,
        ORDERS,
        8,
        Arc::default(),
    )
    .await;
    let expected = expected_events(&app, &admin, &orders).await;
    assert_eq!(receiver.requests(), 0, "delivered with no job runner");

    let mut shop = ShopProcess::start(&app, "killed", &delivery_env());
    shop.wait_ready(&app.client).await;
    // Killed once some events went, the moment a request has just come: it is in flight.
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.requests() < 40 || !receiver.one_just_in_flight(Duration::from_millis(100)) {
        assert!(
            Instant::now() < deadline,
            "fewer than 40 deliveries within 30 s ({}): {}",
            receiver.requests(),
            shop.log_text()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    kill_9(&mut shop).await;
    let killed_at = Instant::now();
    // Unanswered now that the sender is gone: their outcome cannot have been recorded.
    let cut = receiver.unanswered();
    let at_kill = receiver.requests();
    let delivered = receiver.counts().len();
    assert!(!cut.is_empty(), "no delivery was in flight at the kill");
    assert!(
        delivered < ORDERS,
        "every event went before the kill: nothing was queued"
    );

    let mut restarted = ShopProcess::start(&app, "restarted", &delivery_env());
    restarted.wait_ready(&app.client).await;
    wait_all_delivered(&app, &admin, &endpoint, &receiver, &expected, 40).await;
    let took = killed_at.elapsed();
    // The deliveries cut by the kill were leased to the dead process: sent again once the lease
    // ran out.
    let again = receiver.ids_since(at_kill);
    let not_again: Vec<&String> = cut.iter().filter(|id| !again.contains(*id)).collect();
    assert!(
        not_again.is_empty(),
        "{} of the {} deliveries in flight at the kill were never sent again: {not_again:?}",
        not_again.len(),
        cut.len()
    );
    receiver.assert_signed(&secret);
    let duplicates = receiver.report("kill -9 and restart");
    eprintln!(
        "kill -9 and restart: {delivered} events had come before the kill, {} requests were in \
         flight, {duplicates} duplicates in all; all delivered {took:?} after the kill",
        cut.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_servers_deliver_every_one_of_1000_order_events() {
    let Some(app) = postgres_app().await else {
        return;
    };
    let admin = app.admin_token().await;
    let receiver = Receiver::start(Duration::ZERO).await;
    let (endpoint, secret) = subscribe(&app, &admin, &receiver.url).await;
    let shopping = shopping(&app, &admin).await;
    let mut a = ShopProcess::start(&app, "a", &delivery_env());
    let mut b = ShopProcess::start(&app, "b", &delivery_env());
    a.wait_ready(&app.client).await;
    b.wait_ready(&app.client).await;

    let started = Instant::now();
    const ORDERS: usize = 1000;
    let bases = [a.base.clone(), b.base.clone()];
    let orders = place_orders(&bases, &shopping, ORDERS, 16, Arc::default()).await;
    let placing = started.elapsed();
    let expected = expected_events(&app, &admin, &orders).await;
    wait_all_delivered(&app, &admin, &endpoint, &receiver, &expected, 40).await;
    receiver.assert_signed(&secret);
    let split = (
        succeeded_attempts(&a.base).await,
        succeeded_attempts(&b.base).await,
    );
    eprintln!(
        "two servers: placed in {placing:?}, all delivered {:?} after the start; succeeded \
         attempts by A and B: {split:?}",
        started.elapsed()
    );
    receiver.report("two servers");
    // Both runners took work: neither left it all to the other.
    assert!(split.0 > 0 && split.1 > 0, "{split:?}");
    assert!(split.0 + split.1 >= ORDERS as u64, "{split:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_when_one_of_two_servers_is_killed_the_other_delivers_the_rest() {
    let Some(app) = postgres_app().await else {
        return;
    };
    let admin = app.admin_token().await;
    // Slow enough that both hold claims most of the time, and that a request seen arriving
    // from A is still unanswered when the signal lands, also on a loaded machine (the kill and
    // the wait for A to be gone took over 300 ms under a load of 10): answers take 1.2 s, within
    // a timeout of 3 s.
    let receiver = Receiver::start(Duration::from_millis(1200)).await;
    let (endpoint, secret) = subscribe(&app, &admin, &receiver.url).await;
    let shopping = shopping(&app, &admin).await;
    let mut env = delivery_env();
    env.push(("WEBHOOK_TIMEOUT_SECONDS", "3".into()));
    let mut a = ShopProcess::start(&app, "a", &env);
    let mut b = ShopProcess::start(&app, "b", &env);
    a.wait_ready(&app.client).await;
    b.wait_ready(&app.client).await;

    const ORDERS: usize = 1000;
    let placed = Arc::new(AtomicUsize::new(0));
    let placing = {
        let bases = [a.base.clone(), b.base.clone()];
        let placed = placed.clone();
        tokio::spawn(async move { place_orders(&bases, &shopping, ORDERS, 16, placed).await })
    };
    // A is killed half-way, the moment a request it sent has just come: it holds claims.
    let deadline = Instant::now() + Duration::from_secs(30);
    let from_a = loop {
        if placed.load(Ordering::SeqCst) >= ORDERS / 2 {
            let from_a = receiver.just_in_flight_from(a.pid(), Duration::from_millis(80));
            if !from_a.is_empty() {
                break from_a;
            }
        }
        assert!(
            Instant::now() < deadline,
            "within 30 s, not half the orders placed ({}) or A sending nothing",
            placed.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    kill_9(&mut a).await;
    let killed_at = Instant::now();
    let unanswered: HashSet<String> = receiver.unanswered().into_iter().collect();
    let cut: Vec<String> = from_a
        .into_iter()
        .filter(|id| unanswered.contains(id))
        .collect();
    let at_kill = receiver.requests();
    assert!(!cut.is_empty(), "A had no delivery in flight at the kill");
    // Slow answers were for catching A in flight; B may go at full speed now.
    receiver.set_delay(Duration::ZERO);
    let orders = placing.await.expect("placing orders panicked");
    assert_eq!(orders.len(), ORDERS);
    // An order A placed as it died was answered again by B (same key): exactly one event each.
    let distinct: HashSet<&String> = orders.iter().collect();
    assert_eq!(distinct.len(), ORDERS, "one order answered for two keys");
    let expected = expected_events(&app, &admin, &orders).await;
    wait_all_delivered(&app, &admin, &endpoint, &receiver, &expected, 45).await;
    assert!(b.running(), "B died: {}", b.log_text());
    // What A was sending when it died, B sent again once A's lease ran out.
    let again = receiver.ids_since(at_kill);
    let not_again: Vec<&String> = cut.iter().filter(|id| !again.contains(*id)).collect();
    assert!(
        not_again.is_empty(),
        "{} of the {} deliveries A had in flight were never sent again: {not_again:?}",
        not_again.len(),
        cut.len()
    );
    receiver.assert_signed(&secret);
    eprintln!(
        "one of two killed: {at_kill} requests had come at the kill, {} of A's in flight; {} \
         events in the log; all delivered {:?} after the kill",
        cut.len(),
        expected.len(),
        killed_at.elapsed()
    );
    receiver.report("one of two servers killed");
}
