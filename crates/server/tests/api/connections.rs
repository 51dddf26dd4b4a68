//! Connections as hostile or broken clients hold them: request heads sent slowly or never,
//! idle kept-alive connections, more connections than the process has file descriptors, and
//! heads too large to read.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Db, spawn_app};
use crate::process::ShopProcess;

/// Reads until the server closes the connection; how long that took, or `None` if it is still
/// open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0_u8; 4096];
    loop {
        let left = limit.checked_sub(start.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// With 256 file descriptors, the default `MAX_CONNECTIONS` (1024, so lowered at start to fit
/// under the limit) and a 3 s head timeout: 300 clients that send part of a head, nothing at
/// all, or a header line now and then are all cut off after the head timeout, and a new client
/// is served meanwhile, within that timeout; accepting never runs out of file descriptors.
#[tokio::test]
async fn slow_clients_are_cut_off_and_a_new_client_is_still_served() {
    let Some(app) = spawn_app(Db::Sqlite).await else {
        return;
    };
    let mut server = ShopProcess::start_with_fd_limit(
        &app,
        "slow-clients",
        &[("HEADER_READ_TIMEOUT_SECONDS", "3".to_owned())],
        256,
    );
    server.wait_ready(&app.client).await;
    let addr = format!("127.0.0.1:{}", server.port);

    let mut partial = Vec::new();
    let mut silent = Vec::new();
    for i in 0..300 {
        let mut s = TcpStream::connect(&addr).await.expect("cannot connect");
        if i % 3 == 0 {
            s.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await
                .unwrap();
            partial.push(s);
        } else if i % 3 == 1 {
            silent.push(s);
        } else {
            // A header line every half second, for as long as the server reads them.
            tokio::spawn(async move {
                if s.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                for n in 0..200 {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if s.write_all(format!("X-Drip-{n}: 1\r\n").as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    }

    // A new client, while all 300 are open.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let started = Instant::now();
    let resp = client
        .get(format!("{}/api/v1/products", server.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("a new client was not served: {e}\n{}", server.log_text()));
    let waited = started.elapsed();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        waited < Duration::from_secs(10),
        "a new client waited {waited:?}"
    );

    // Every slow connection is closed, soon after the head timeout.
    for s in partial.iter_mut().chain(silent.iter_mut()) {
        let closed = closed_within(s, Duration::from_secs(15)).await;
        assert!(
            closed.is_some(),
            "a slow connection is still open: {}",
            server.log_text()
        );
    }
    let log = server.log_text();
    assert!(
        log.contains("connection limit reached"),
        "the log does not say the cap was reached: {log}"
    );
    assert!(
        log.contains("MAX_CONNECTIONS lowered to stay under the open-file limit"),
        "the log does not say the cap was lowered: {log}"
    );
    assert!(
        !log.contains("cannot accept a connection"),
        "accepting ran out of file descriptors: {log}"
    );
    assert!(server.running(), "the server died: {log}");
}

/// A connection that sends part of a head, or that is kept alive and then sits idle, is closed
/// after the head timeout, and not much before it.
#[tokio::test]
async fn a_slow_head_and_an_idle_kept_alive_connection_are_closed_after_the_timeout() {
    let Some(app) = spawn_app(Db::Sqlite).await else {
        return;
    };
    let mut server = ShopProcess::start(
        &app,
        "head-timeout",
        &[("HEADER_READ_TIMEOUT_SECONDS", "2".to_owned())],
    );
    server.wait_ready(&app.client).await;
    let addr = format!("127.0.0.1:{}", server.port);

    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0_u8; 1024];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    let (slow_closed, idle_closed) = tokio::join!(
        closed_within(&mut slow, Duration::from_secs(10)),
        closed_within(&mut idle, Duration::from_secs(10)),
    );
    for (what, closed) in [("slow head", slow_closed), ("idle keep-alive", idle_closed)] {
        let closed =
            closed.unwrap_or_else(|| panic!("the {what} connection is still open after 10 s"));
        assert!(
            closed >= Duration::from_millis(1500),
            "the {what} connection was closed after only {closed:?}"
        );
    }
}

/// Sends `head` as is and reads the whole answer (the server closes the connection after
/// these): status, lower-cased headers, body.
async fn raw_exchange(addr: &str, head: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer))
        .await
        .expect("no answer within 10 s")
        .expect("cannot read the answer");
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of the answer's head");
    let text = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("no status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, answer[split + 4..].to_vec())
}

/// 300 headers (431), a 100 KB query and a 70 KB path (414): problem+json with the headers
/// every answer carries, not an empty body.
#[tokio::test]
async fn heads_too_large_to_read_answer_problem_json() {
    let Some(app) = spawn_app(Db::Sqlite).await else {
        return;
    };
    let addr = app.addr.trim_start_matches("http://").to_owned();
    let headers: String = (0..300).map(|i| format!("X-H-{i}: v\r\n")).collect();
    let cases = [
        (
            "300 headers",
            format!("GET /api/v1/products HTTP/1.1\r\nHost: x\r\n{headers}\r\n"),
            431,
        ),
        (
            "a 100 KB query",
            format!(
                "GET /api/v1/products?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
                "a".repeat(100_000)
            ),
            414,
        ),
        (
            "a 70 KB path",
            format!(
                "GET /api/v1/{} HTTP/1.1\r\nHost: x\r\n\r\n",
                "p".repeat(70_000)
            ),
            414,
        ),
    ];
    for (what, request, status) in cases {
        let (got, headers, body) = raw_exchange(&addr, request.as_bytes()).await;
        assert_eq!(got, status, "{what}");
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(header("content-type"), "application/problem+json", "{what}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(header("x-frame-options"), "DENY", "{what}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
        assert!(
            header("content-security-policy").contains("default-src 'none'"),
            "{what}"
        );
        assert!(!header("date").is_empty(), "{what}: no date");
        assert_eq!(header("content-length"), body.len().to_string(), "{what}");
        let body: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{what}: the body is no JSON ({e})"));
        assert_eq!(body["status"], status, "{what}: {body}");
        assert!(
            body["title"].is_string() && body["detail"].is_string(),
            "{what}: {body}"
        );
        // Its type names a page that says what it means.
        let kind = body["type"].as_str().unwrap_or_default();
        assert!(kind.starts_with("/problems/"), "{what}: {body}");
        assert_eq!(app.get(kind, None).await.status(), StatusCode::OK, "{kind}");
    }
    // The service still answers afterwards.
    assert_eq!(app.get("/health/live", None).await.status(), StatusCode::OK);
}
