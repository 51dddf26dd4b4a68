//! Registration, sign-in, token refresh and logout, and how the service checks access tokens.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::paths::{LOGOUT, ME, REGISTER};
use crate::helpers::{
    PASSWORD, TestApp, assert_invalid, assert_problem, assert_unauthorized, comparable, str_of,
    timestamp, unique,
};

every_provider!(
    answers_holding_tokens_are_never_cached,
    a_username_is_never_another_persons_email_address,
    registering_returns_the_new_user_without_any_password,
    registering_keeps_a_given_username_and_profile,
    registering_with_a_short_password_is_refused_naming_password,
    registering_with_a_malformed_email_is_refused_naming_email,
    registering_with_several_bad_fields_lists_every_one,
    registering_a_taken_email_is_a_conflict,
    registering_a_taken_username_is_a_conflict,
    signing_in_works_with_the_username_and_with_the_email,
    a_wrong_password_and_an_unknown_user_get_the_same_401,
    refreshing_returns_new_tokens_and_spends_the_used_refresh_token,
    reusing_a_spent_refresh_token_revokes_its_whole_family,
    refreshing_with_a_made_up_token_is_refused,
    after_logout_the_refresh_token_is_refused,
    logging_out_with_an_unknown_token_is_still_204,
    the_access_token_opens_users_me,
    an_unsigned_alg_none_token_is_refused,
    a_garbage_token_is_refused,
    a_20_kb_token_is_refused,
    a_refresh_token_is_no_access_token_and_the_other_way_round;
    // About the built-in provider: its Ed25519 JWKS and EdDSA claims, and tokens forged with
    // its key file. keycloak.rs checks Keycloak's keys and claims, and refuses tokens of another
    // realm and of another client.
    local_only:
    the_jwks_publishes_the_signing_key,
    issued_access_tokens_carry_the_documented_claims,
    a_token_forged_with_the_service_key_is_accepted,
    an_expired_token_is_refused,
    a_token_from_another_issuer_is_refused,
    a_token_for_another_audience_is_refused,
    a_token_without_an_expiry_is_refused,
    a_token_signed_by_another_key_with_the_same_kid_is_refused,
    an_hs256_token_keyed_with_the_public_key_is_refused,
);

async fn registering_returns_the_new_user_without_any_password(app: TestApp) {
    let id = unique();
    let resp = app
        .post_json(
            REGISTER,
            &json!({"email": format!("  Alice.{id}@Example.COM "), "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let text = resp.text().await.unwrap();
    let user: Value = serde_json::from_str(&text).unwrap();

    let email = format!("alice.{id}@example.com");
    uuid::Uuid::parse_str(&str_of(&user, "id")).expect("`id` is a UUID");
    assert_eq!(
        user["email"],
        json!(email),
        "e-mail is trimmed and lower-cased"
    );
    assert_eq!(
        user["username"],
        json!(email),
        "the username defaults to the e-mail"
    );
    assert_eq!(user["first_name"], Value::Null);
    assert_eq!(user["last_name"], Value::Null);
    assert_eq!(user["roles"], json!(["user"]));
    timestamp(&user["created_at"]);
    timestamp(&user["updated_at"]);
    assert!(
        !text.to_lowercase().contains("password"),
        "the answer mentions a password: {text}"
    );
    assert!(
        !text.contains(PASSWORD),
        "the answer holds the password: {text}"
    );
}

async fn registering_keeps_a_given_username_and_profile(app: TestApp) {
    let id = unique();
    let resp = app
        .post_json(
            REGISTER,
            &json!({
                "email": format!("bob.{id}@example.com"),
                "password": PASSWORD,
                "username": format!("bob_{id}"),
                "first_name": "Bob",
                "last_name": "Builder"
            }),
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let user: Value = resp.json().await.unwrap();
    assert_eq!(user["username"], json!(format!("bob_{id}")));
    assert_eq!(user["first_name"], json!("Bob"));
    assert_eq!(user["last_name"], json!("Builder"));
    assert_eq!(user["roles"], json!(["user"]));

    // The same account is what signing in with that username shows.
    let tokens = app.login(&format!("bob_{id}"), PASSWORD).await;
    let me: Value = app
        .get_json(ME, Some(&str_of(&tokens, "access_token")))
        .await;
    assert_eq!(me["id"], user["id"]);
}

async fn registering_with_a_short_password_is_refused_naming_password(app: TestApp) {
    let email = format!("c{}@example.com", unique());
    let resp = app.post_register(&email, "1234567").await;
    assert_eq!(assert_invalid(resp).await, ["password"]);
}

async fn registering_with_a_malformed_email_is_refused_naming_email(app: TestApp) {
    for email in [
        "not-an-email",
        "a@b",
        "two@@example.com",
        "with space@example.com",
        "",
    ] {
        let resp = app.post_register(email, PASSWORD).await;
        assert_eq!(
            assert_invalid(resp).await,
            ["email"],
            "for e-mail `{email}`"
        );
    }
}

async fn registering_with_several_bad_fields_lists_every_one(app: TestApp) {
    let resp = app
        .post_json(
            REGISTER,
            &json!({"email": "nope", "password": "short", "username": "x"}),
            None,
        )
        .await;
    let mut fields = assert_invalid(resp).await;
    fields.sort();
    assert_eq!(fields, ["email", "password", "username"]);
}

async fn registering_a_taken_email_is_a_conflict(app: TestApp) {
    let email = format!("dup.{}@example.com", unique());
    app.register(&email, PASSWORD).await;

    let again = app.post_register(&email, PASSWORD).await;
    assert_problem(again, 409).await;

    // E-mail addresses are compared lower-cased: one mailbox, one account.
    let shouted = app.post_register(&email.to_uppercase(), PASSWORD).await;
    assert_problem(shouted, 409).await;
}

async fn registering_a_taken_username_is_a_conflict(app: TestApp) {
    let username = format!("taken_{}", unique());
    let as_username = |prefix: &str| json!({"email": format!("{prefix}.{}@example.com", unique()), "password": PASSWORD, "username": username});
    let first = app.post_json(REGISTER, &as_username("a"), None).await;
    assert_eq!(first.status(), StatusCode::CREATED);

    let second = app.post_json(REGISTER, &as_username("b"), None).await;
    assert_problem(second, 409).await;
}

fn assert_tokens(tokens: &Value) {
    assert!(!str_of(tokens, "access_token").is_empty());
    assert!(!str_of(tokens, "refresh_token").is_empty());
    assert_eq!(tokens["token_type"], json!("Bearer"));
    // Keycloak counts what is left of the token's life when it answers, so under load a second
    // may already have passed (299); the built-in provider answers the setting itself.
    let seconds = |name: &str| {
        tokens[name]
            .as_u64()
            .unwrap_or_else(|| panic!("{name}: {tokens}"))
    };
    assert!(
        (295..=300).contains(&seconds("expires_in")),
        "expires_in: {tokens}"
    );
    assert!(
        (2_591_995..=2_592_000).contains(&seconds("refresh_expires_in")),
        "refresh_expires_in: {tokens}"
    );
}

async fn signing_in_works_with_the_username_and_with_the_email(app: TestApp) {
    let id = unique();
    let email = format!("carol.{id}@example.com");
    let username = format!("carol_{id}");
    let resp = app
        .post_json(
            REGISTER,
            &json!({"email": email, "password": PASSWORD, "username": username}),
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);

    let by_username = app.login(&username, PASSWORD).await;
    assert_tokens(&by_username);
    let by_email = app.login(&email, PASSWORD).await;
    assert_tokens(&by_email);
    assert_ne!(by_username["refresh_token"], by_email["refresh_token"]);
}

async fn a_wrong_password_and_an_unknown_user_get_the_same_401(app: TestApp) {
    let email = format!("dave.{}@example.com", unique());
    app.register(&email, PASSWORD).await;

    let wrong_password = app.post_login(&email, "not the password").await;
    let wrong_password = assert_problem(wrong_password, 401).await;

    let nobody = format!("nobody.{}@example.com", unique());
    let unknown_user = app.post_login(&nobody, "not the password").await;
    let unknown_user = assert_problem(unknown_user, 401).await;

    assert_eq!(
        comparable(wrong_password),
        comparable(unknown_user),
        "the answers tell the cases apart"
    );
}

async fn refreshing_returns_new_tokens_and_spends_the_used_refresh_token(app: TestApp) {
    let email = format!("erin.{}@example.com", unique());
    let user = app.register(&email, PASSWORD).await;
    let first = app.login(&email, PASSWORD).await;

    let resp = app.refresh(&str_of(&first, "refresh_token")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let second: Value = resp.json().await.unwrap();
    assert_tokens(&second);
    assert_ne!(
        second["refresh_token"], first["refresh_token"],
        "the refresh token is rotated"
    );

    let me = app.get(ME, Some(&str_of(&second, "access_token"))).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["id"], user["id"]);

    let spent = app.refresh(&str_of(&first, "refresh_token")).await;
    assert_problem(spent, 401).await;
}

async fn reusing_a_spent_refresh_token_revokes_its_whole_family(app: TestApp) {
    let email = format!("frank.{}@example.com", unique());
    app.register(&email, PASSWORD).await;
    let first = app.login(&email, PASSWORD).await;
    let second: Value = app
        .refresh(&str_of(&first, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    let newest = str_of(&second, "refresh_token");

    // Somebody replays the spent token (a stolen copy): refused…
    assert_problem(app.refresh(&str_of(&first, "refresh_token")).await, 401).await;
    // …and the legitimate newest token of that family dies with it.
    assert_problem(app.refresh(&newest).await, 401).await;

    // Other sign-ins of the same account are separate families and keep working.
    let other = app.login(&email, PASSWORD).await;
    assert_eq!(
        app.refresh(&str_of(&other, "refresh_token")).await.status(),
        StatusCode::OK
    );
}

async fn refreshing_with_a_made_up_token_is_refused(app: TestApp) {
    assert_problem(app.refresh("not-a-refresh-token").await, 401).await;
}

async fn after_logout_the_refresh_token_is_refused(app: TestApp) {
    let email = format!("grace.{}@example.com", unique());
    app.register(&email, PASSWORD).await;
    let tokens = app.login(&email, PASSWORD).await;
    let refresh_token = str_of(&tokens, "refresh_token");

    let resp = app
        .post_json(LOGOUT, &json!({"refresh_token": refresh_token}), None)
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(resp.bytes().await.unwrap().is_empty(), "a 204 has no body");

    assert_problem(app.refresh(&refresh_token).await, 401).await;
}

async fn logging_out_with_an_unknown_token_is_still_204(app: TestApp) {
    let resp = app
        .post_json(
            LOGOUT,
            &json!({"refresh_token": "never-issued-token"}),
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
}

async fn the_access_token_opens_users_me(app: TestApp) {
    let (user, token) = app.user_token().await;
    let resp = app.get(ME, Some(&token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let me: Value = resp.json().await.unwrap();
    assert_eq!(me["id"], user["id"]);
    assert_eq!(me["email"], user["email"]);

    assert_unauthorized(app.get(ME, None).await).await;
}

// ---- the access-token verifier, probed with tokens made by hand ----------------------------

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The signing key's id, as the service publishes it.
pub(crate) async fn published_kid(app: &TestApp) -> String {
    let jwks: Value = app.get_json("/.well-known/jwks.json", None).await;
    str_of(&jwks["keys"][0], "kid")
}

/// The public key's 32 raw bytes, from the JWKS.
pub(crate) async fn published_public_key(app: &TestApp) -> Vec<u8> {
    let jwks: Value = app.get_json("/.well-known/jwks.json", None).await;
    URL_SAFE_NO_PAD
        .decode(str_of(&jwks["keys"][0], "x"))
        .expect("`x` is base64url")
}

/// Claims as the service issues them, for `user`, valid for five minutes.
pub(crate) fn claims_for(user: &Value) -> Value {
    let now = now();
    json!({
        "iss": "shop",
        "aud": "shop",
        "sub": user["id"],
        "iat": now,
        "exp": now + 300,
        "jti": uuid::Uuid::now_v7().to_string(),
        "preferred_username": user["username"],
        "email": user["email"],
        "realm_access": {"roles": user["roles"]},
    })
}

/// Signs `claims` with the service's own key (EdDSA, with its kid).
pub(crate) async fn sign_with_service_key(app: &TestApp, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(published_kid(app).await);
    let key = EncodingKey::from_ed_pem(&app.signing_key_pem())
        .expect("the key file is an Ed25519 PKCS#8 PEM");
    jsonwebtoken::encode(&header, claims, &key).expect("signing")
}

/// Expects `token` to be refused on `/users/me` with a Bearer challenge.
async fn assert_refused(app: &TestApp, token: &str) {
    assert_unauthorized(app.get(ME, Some(token)).await).await;
}

async fn the_jwks_publishes_the_signing_key(app: TestApp) {
    let resp = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let jwks: Value = resp.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], json!("OKP"));
    assert_eq!(key["crv"], json!("Ed25519"));
    assert!(!str_of(key, "kid").is_empty());
    assert_eq!(published_public_key(&app).await.len(), 32);
    assert!(key.get("d").is_none(), "the JWKS leaks the private key");
}

async fn issued_access_tokens_carry_the_documented_claims(app: TestApp) {
    let (user, token) = app.user_token().await;
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .expect("a JWK set");

    let header = jsonwebtoken::decode_header(&token).expect("a JWT header");
    assert_eq!(header.alg, Algorithm::EdDSA);
    let kid = header.kid.expect("a kid in the token header");
    let jwk = jwks.find(&kid).expect("the token's kid is in the JWKS");

    let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&["shop"]);
    validation.set_audience(&["shop"]);
    validation.leeway = 0;
    let claims = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .expect("the token verifies against the published key")
    .claims;

    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["email"], user["email"]);
    assert_eq!(claims["preferred_username"], user["username"]);
    assert_eq!(claims["realm_access"]["roles"], json!(["user"]));
    assert!(!str_of(&claims, "jti").is_empty());
    let iat = claims["iat"].as_i64().expect("a numeric iat");
    let exp = claims["exp"].as_i64().expect("a numeric exp");
    assert_eq!(exp - iat, 300, "access tokens live 300 s");
    assert!((iat - now()).abs() < 60, "iat is now");
}

async fn a_token_forged_with_the_service_key_is_accepted(app: TestApp) {
    // The control case: the forging below is right, so the refusals that follow are real.
    let (user, _) = app.user_token().await;
    let token = sign_with_service_key(&app, &claims_for(&user)).await;
    let resp = app.get(ME, Some(&token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let me: Value = resp.json().await.unwrap();
    assert_eq!(me["id"], user["id"]);
}

async fn an_expired_token_is_refused(app: TestApp) {
    let (user, _) = app.user_token().await;
    let mut claims = claims_for(&user);
    // Two minutes past expiry: beyond the 60 s leeway.
    claims["iat"] = json!(now() - 420);
    claims["exp"] = json!(now() - 120);
    assert_refused(&app, &sign_with_service_key(&app, &claims).await).await;
}

async fn a_token_from_another_issuer_is_refused(app: TestApp) {
    let (user, _) = app.user_token().await;
    let mut claims = claims_for(&user);
    claims["iss"] = json!("https://evil.example.com");
    assert_refused(&app, &sign_with_service_key(&app, &claims).await).await;
}

async fn a_token_for_another_audience_is_refused(app: TestApp) {
    let (user, _) = app.user_token().await;
    let mut claims = claims_for(&user);
    claims["aud"] = json!("another-service");
    assert_refused(&app, &sign_with_service_key(&app, &claims).await).await;
}

async fn a_token_without_an_expiry_is_refused(app: TestApp) {
    let (user, _) = app.user_token().await;
    let mut claims = claims_for(&user);
    claims.as_object_mut().unwrap().remove("exp");
    assert_refused(&app, &sign_with_service_key(&app, &claims).await).await;
}

async fn a_token_signed_by_another_key_with_the_same_kid_is_refused(app: TestApp) {
    let (user, _) = app.user_token().await;
    // An Ed25519 PKCS#8 v1 document is a fixed prefix followed by the 32-byte seed.
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&[0x42; 32]);
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(published_kid(&app).await);
    let token =
        jsonwebtoken::encode(&header, &claims_for(&user), &EncodingKey::from_ed_der(&der)).unwrap();
    assert_refused(&app, &token).await;
}

async fn an_unsigned_alg_none_token_is_refused(app: TestApp) {
    let (user, _) = app.user_token().await;
    let kid = published_kid(&app).await;
    for header in [
        json!({"alg": "none", "typ": "JWT"}),
        json!({"alg": "none", "typ": "JWT", "kid": kid}),
    ] {
        let token = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims_for(&user).to_string())
        );
        assert_refused(&app, &token).await;
    }
}

async fn an_hs256_token_keyed_with_the_public_key_is_refused(app: TestApp) {
    let (user, _) = app.user_token().await;
    let kid = published_kid(&app).await;
    let raw = published_public_key(&app).await;
    // The classic algorithm-confusion attack: the public key, in each form a verifier might
    // hold it, used as an HMAC secret.
    let mut spki = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend_from_slice(&raw);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(&spki)
    );
    let x = URL_SAFE_NO_PAD.encode(&raw);
    for secret in [raw.clone(), spki.clone(), pem.into_bytes(), x.into_bytes()] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        let token = jsonwebtoken::encode(
            &header,
            &claims_for(&user),
            &EncodingKey::from_secret(&secret),
        )
        .unwrap();
        assert_refused(&app, &token).await;
    }
}

async fn a_garbage_token_is_refused(app: TestApp) {
    for token in [
        "garbage",
        "a.b.c",
        "....",
        "eyJhbGciOiJFZERTQSJ9.e30.AAAA",
        "null",
    ] {
        let resp = app
            .client
            .get(app.url(ME))
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_unauthorized(resp).await;
    }
}

async fn a_20_kb_token_is_refused(app: TestApp) {
    // A JOSE header of 20 KB (an absurd kid) with a made-up signature: refused as any bad
    // token is, not with a 4xx of another kind or a 5xx.
    let (user, _) = app.user_token().await;
    let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": "k".repeat(20 * 1024)});
    let token = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims_for(&user).to_string()),
        URL_SAFE_NO_PAD.encode([0u8; 64])
    );
    assert!(token.len() > 20 * 1024);
    assert_refused(&app, &token).await;
}

async fn a_refresh_token_is_no_access_token_and_the_other_way_round(app: TestApp) {
    let email = format!("heidi.{}@example.com", unique());
    app.register(&email, PASSWORD).await;
    let tokens = app.login(&email, PASSWORD).await;
    assert_refused(&app, &str_of(&tokens, "refresh_token")).await;
    assert_problem(app.refresh(&str_of(&tokens, "access_token")).await, 401).await;
    // Neither attempt spent the real refresh token.
    assert_eq!(
        app.refresh(&str_of(&tokens, "refresh_token"))
            .await
            .status(),
        StatusCode::OK
    );
}

/// `Cache-Control` and `Pragma` of a 200 holding tokens (RFC 6749 section 5.1).
fn assert_not_cacheable(resp: &reqwest::Response, what: &str) {
    assert_eq!(resp.status(), StatusCode::OK, "{what}");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header("cache-control").as_deref(),
        Some("no-store"),
        "{what}"
    );
    assert_eq!(header("pragma").as_deref(), Some("no-cache"), "{what}");
}

async fn answers_holding_tokens_are_never_cached(app: TestApp) {
    let email = format!("cache-{}@example.com", unique());
    app.register(&email, PASSWORD).await;
    let resp = app.post_login(&email, PASSWORD).await;
    assert_not_cacheable(&resp, "signing in");
    let tokens: Value = resp.json().await.unwrap();
    let resp = app.refresh(&str_of(&tokens, "refresh_token")).await;
    assert_not_cacheable(&resp, "refreshing");
}

async fn a_username_is_never_another_persons_email_address(app: TestApp) {
    let (mine, theirs) = (
        format!("me-{}@example.com", unique()),
        format!("them-{}@example.com", unique()),
    );
    let resp = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": mine, "password": PASSWORD, "username": theirs}),
            None,
        )
        .await;
    assert_eq!(assert_invalid(resp).await, ["username"]);
    // So the owner of that address can still register with it, and sign in by it.
    app.register(&theirs, PASSWORD).await;
    app.login(&theirs, PASSWORD).await;
    // One's own address is a valid username.
    let resp = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": mine, "password": PASSWORD, "username": mine.to_uppercase()}),
            None,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}
