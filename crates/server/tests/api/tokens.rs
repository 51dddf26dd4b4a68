//! Forged and broken access tokens, side by side: each kind is refused with the same 401
//! problem and Bearer challenge on every protected route, and none of them costs the service
//! more than a good token does (no key refetch per forged key id, no slow parse of a huge
//! token). auth.rs has the single-case tests of the verifier; this file runs the whole
//! catalogue of forgeries through the routes and a stopwatch.

use std::io::Write;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::auth::{claims_for, now, published_kid, published_public_key, sign_with_service_key};
use crate::helpers::paths::ME;
use crate::helpers::{Db, TestApp, assert_unauthorized, spawn_app_with, unique};

both_dbs!(
    every_kind_of_forged_token_is_refused_on_every_protected_route,
    a_valid_signature_does_not_cover_a_tampered_payload,
    a_not_before_within_the_clock_leeway_is_accepted_and_beyond_it_refused,
);

/// `claims` signed with the service's key, under the key id `kid`.
fn sign_as(app: &TestApp, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_ed_pem(&app.signing_key_pem()).expect("an Ed25519 key");
    jsonwebtoken::encode(&header, claims, &key).expect("signing")
}

/// `header` and `claims` as an unsigned JWT with `signature` (raw bytes) appended.
fn assemble(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// `token` with its payload replaced by `claims`, header and signature kept.
fn with_payload(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts");
    format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    )
}

/// The claims inside `token`.
fn payload_of(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// Each kind of bad token, by name, for `user` (whose good token is `valid`). `unknown kid` is
/// made anew on each call, so that no cache keyed by the key id can hide a refetch.
async fn forgeries(app: &TestApp, user: &Value, valid: &str) -> Vec<(&'static str, String)> {
    let kid = published_kid(app).await;
    let good = claims_for(user);
    let mut expired = good.clone();
    // Two minutes past expiry: beyond the 60 s leeway.
    expired["iat"] = json!(now() - 420);
    expired["exp"] = json!(now() - 120);
    let mut not_yet = good.clone();
    // Ten minutes ahead: beyond the leeway.
    not_yet["nbf"] = json!(now() + 600);
    let mut issuer = good.clone();
    issuer["iss"] = json!("https://evil.example.com");
    let mut audience = good.clone();
    audience["aud"] = json!("another-service");

    // An Ed25519 PKCS#8 v1 document is a fixed prefix followed by the 32-byte seed.
    let mut other_key = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    other_key.extend_from_slice(&[0x42; 32]);
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.clone());
    let another_key =
        jsonwebtoken::encode(&header, &good, &EncodingKey::from_ed_der(&other_key)).unwrap();

    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.clone());
    let hs256 = jsonwebtoken::encode(
        &header,
        &good,
        &EncodingKey::from_secret(&published_public_key(app).await),
    )
    .unwrap();

    let mut admin = payload_of(valid);
    admin["realm_access"] = json!({"roles": ["user", "admin"]});

    vec![
        ("expired", sign_with_service_key(app, &expired).await),
        ("not yet valid", sign_with_service_key(app, &not_yet).await),
        ("wrong issuer", sign_with_service_key(app, &issuer).await),
        (
            "wrong audience",
            sign_with_service_key(app, &audience).await,
        ),
        ("another key", another_key),
        (
            "alg none",
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD
                    .encode(json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string()),
                URL_SAFE_NO_PAD.encode(good.to_string())
            ),
        ),
        ("HS256 keyed with the public key", hs256),
        (
            "unknown kid",
            sign_as(app, &format!("unknown-{}", unique()), &good),
        ),
        (
            // Just over the 8 KiB the verifier looks at, well-signed otherwise.
            "huge header",
            sign_as(app, &format!("{kid}{}", "k".repeat(9 * 1024)), &good),
        ),
        (
            "garbage",
            assemble(&json!("garbage"), &json!([1, 2, 3]), b"\xde\xad\xbe\xef"),
        ),
        ("tampered payload", with_payload(valid, &admin)),
    ]
}

async fn every_kind_of_forged_token_is_refused_on_every_protected_route(app: TestApp) {
    let (user, valid) = app.user_token().await;
    // The control: the good token opens what the forgeries must not.
    assert_eq!(app.get(ME, Some(&valid)).await.status(), StatusCode::OK);
    let all = forgeries(&app, &user, &valid).await;
    let huge = &all.iter().find(|(k, _)| *k == "huge header").unwrap().1;
    assert!(
        huge.len() > 8 * 1024,
        "the huge header is {} bytes",
        huge.len()
    );

    for (kind, token) in forgeries(&app, &user, &valid).await {
        for path in [ME, "/api/v1/orders", "/api/v1/users"] {
            let resp = app.get(path, Some(&token)).await;
            let body = assert_unauthorized(resp).await;
            assert!(
                !body.to_string().contains(&token[..token.len().min(40)]),
                "{kind} on {path}: the problem echoes the token: {body}"
            );
        }
        let resp = app
            .post_json(
                "/api/v1/orders",
                &json!({"items": [{"product_id": uuid::Uuid::now_v7(), "quantity": 1}]}),
                Some(&token),
            )
            .await;
        assert_unauthorized(resp).await;
    }
}

async fn a_valid_signature_does_not_cover_a_tampered_payload(app: TestApp) {
    let (user, valid) = app.user_token().await;
    let (other, _) = app.user_token().await;
    let mut claims = payload_of(&valid);
    // Made an admin…
    claims["realm_access"] = json!({"roles": ["user", "admin"]});
    assert_unauthorized(
        app.get("/api/v1/users", Some(&with_payload(&valid, &claims)))
            .await,
    )
    .await;
    // …someone else…
    let mut claims = payload_of(&valid);
    claims["sub"] = other["id"].clone();
    assert_unauthorized(app.get(ME, Some(&with_payload(&valid, &claims))).await).await;
    // …or given a longer life.
    let mut claims = payload_of(&valid);
    claims["exp"] = json!(claims["exp"].as_i64().unwrap() + 86_400);
    assert_unauthorized(app.get(ME, Some(&with_payload(&valid, &claims))).await).await;
    // The untouched token still works, as the user it names.
    let me: Value = app.get_json(ME, Some(&valid)).await;
    assert_eq!(me["id"], user["id"]);
}

async fn a_not_before_within_the_clock_leeway_is_accepted_and_beyond_it_refused(app: TestApp) {
    let (user, _) = app.user_token().await;
    let mut claims = claims_for(&user);
    claims["nbf"] = json!(now() + 20);
    let resp = app
        .get(ME, Some(&sign_with_service_key(&app, &claims).await))
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "a clock 20 s ahead is within the leeway"
    );
    claims["nbf"] = json!(now() + 600);
    assert_unauthorized(
        app.get(ME, Some(&sign_with_service_key(&app, &claims).await))
            .await,
    )
    .await;
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// None of the forgeries is slower to refuse than a good token is to serve: a refusal that
/// fetched keys, or parsed a huge token slowly, would show here. The bound is generous (twice
/// the good median plus 2 ms) so that a busy machine does not make it flake; the medians are
/// printed.
#[tokio::test]
async fn no_forged_token_is_answered_slower_than_a_valid_one() {
    const ROUNDS: usize = 60;
    const WARM_UP: usize = 10;
    // Only the verifier is measured: rate limits (which count refusals) stay out of the way.
    let app = spawn_app_with(Db::Sqlite, |s| s.rate_limit_enabled = false)
        .await
        .expect("an app on SQLite");
    let (user, valid) = app.user_token().await;
    let kinds: Vec<&'static str> = forgeries(&app, &user, &valid)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();

    let mut valid_times = Vec::new();
    let mut forged_times: Vec<Vec<Duration>> = vec![Vec::new(); kinds.len()];
    for round in 0..WARM_UP + ROUNDS {
        // Fresh forgeries each round: each unknown kid is one the service has never seen.
        let tokens = forgeries(&app, &user, &valid).await;
        let started = Instant::now();
        let resp = app.get(ME, Some(&valid)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let _ = resp.bytes().await;
        if round >= WARM_UP {
            valid_times.push(started.elapsed());
        }
        for (i, (kind, token)) in tokens.into_iter().enumerate() {
            let started = Instant::now();
            let resp = app.get(ME, Some(&token)).await;
            let status = resp.status();
            let _ = resp.bytes().await;
            let took = started.elapsed();
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{kind}");
            if round >= WARM_UP {
                forged_times[i].push(took);
            }
        }
    }

    let valid_median = median(valid_times);
    let bound = valid_median * 2 + Duration::from_millis(2);
    let mut report =
        format!("GET {ME} medians over {ROUNDS} requests each: valid token {valid_median:?}");
    let mut slow = Vec::new();
    for (kind, times) in kinds.iter().zip(forged_times) {
        let m = median(times);
        report.push_str(&format!(", {kind} {m:?}"));
        if m > bound {
            slow.push(format!("{kind}: {m:?}"));
        }
    }
    let _ = writeln!(std::io::stderr(), "{report}");
    assert!(
        slow.is_empty(),
        "refusing these took longer than {bound:?} (valid: {valid_median:?}): {slow:?}\n{report}"
    );
}
