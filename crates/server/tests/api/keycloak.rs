//! Keycloak as the identity provider, against a real Keycloak: accounts made there directly,
//! its tokens and keys, tokens of another realm or client, key rotation, `shop create-admin`,
//! a registration the database refuses, and Keycloak going away and coming back. (The auth and
//! users contract itself runs against Keycloak too, as `auth::keycloak::…` and
//! `users::keycloak::…`.)

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::Role;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::paths::{ME, USERS};
use crate::helpers::{
    Db, KeycloakEnv, PASSWORD, Proxy, TestApp, assert_problem, assert_unauthorized, fetch_json,
    keycloak_env, spawn_app_with, spawn_keycloak_app, str_of, unique,
};

/// The test Keycloak and an app signing in with its `shop` realm; `None` when no Keycloak is
/// configured (outside CI).
async fn setup() -> Option<(KeycloakEnv, KeycloakAdmin, TestApp)> {
    let kc = keycloak_env()?;
    let app = spawn_keycloak_app().await?;
    Some((kc.clone(), KeycloakAdmin::new(kc), app))
}

/// The admin REST API of the test Keycloak, as an admin of the master realm.
struct KeycloakAdmin {
    kc: KeycloakEnv,
    http: reqwest::Client,
}

impl KeycloakAdmin {
    fn new(kc: KeycloakEnv) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        Self { kc, http }
    }

    /// Tokens of the master realm's admin (for the admin API, and as a foreign realm's token).
    async fn master_tokens(&self) -> Value {
        let resp = self
            .http
            .post(format!(
                "{}/realms/master/protocol/openid-connect/token",
                self.kc.url
            ))
            .form(&[
                ("grant_type", "password"),
                ("client_id", "admin-cli"),
                ("username", self.kc.admin_user.as_str()),
                ("password", self.kc.admin_password.as_str()),
            ])
            .send()
            .await
            .expect("the master realm's token endpoint");
        assert_eq!(resp.status(), StatusCode::OK, "master admin sign-in");
        resp.json().await.expect("tokens")
    }

    /// Sends `method path` (under `/admin/realms/`) with `body`; the response.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        // A fresh token per call: the master realm's tokens live a minute, some tests longer.
        let token = str_of(&self.master_tokens().await, "access_token");
        let mut req = self
            .http
            .request(method, format!("{}/admin/realms/{path}", self.kc.url))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("the admin API")
    }

    async fn json(&self, path: &str) -> Value {
        let resp = self.call(reqwest::Method::GET, path, None).await;
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.expect("JSON")
    }

    /// Creates a user in `realm` directly; its id.
    async fn create_user(&self, realm: &str, user: Value) -> String {
        let resp = self
            .call(reqwest::Method::POST, &format!("{realm}/users"), Some(user))
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED, "creating a user");
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        location.rsplit('/').next().unwrap().to_owned()
    }

    async fn delete_user(&self, realm: &str, id: &str) {
        let resp = self
            .call(
                reqwest::Method::DELETE,
                &format!("{realm}/users/{id}"),
                None,
            )
            .await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT, "deleting a user");
    }

    async fn users_with_email(&self, realm: &str, email: &str) -> Vec<Value> {
        let found = self
            .json(&format!("{realm}/users?email={email}&exact=true"))
            .await;
        found.as_array().cloned().unwrap_or_default()
    }

    async fn realm_roles_of(&self, realm: &str, id: &str) -> Vec<String> {
        let roles = self
            .json(&format!("{realm}/users/{id}/role-mappings/realm/composite"))
            .await;
        roles
            .as_array()
            .unwrap()
            .iter()
            .map(|r| str_of(r, "name"))
            .collect()
    }

    async fn grant_realm_role(&self, realm: &str, id: &str, role: &str) {
        let role = self.json(&format!("{realm}/roles/{role}")).await;
        let resp = self
            .call(
                reqwest::Method::POST,
                &format!("{realm}/users/{id}/role-mappings/realm"),
                Some(json!([role])),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT, "granting a role");
    }

    /// Creates realm `name` from the repository's realm file, as Keycloak's import would.
    async fn create_realm_from_file(&self, name: &str) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../keycloak/shop-realm.json"
        );
        let text = std::fs::read_to_string(path)
            .expect("keycloak/shop-realm.json")
            .replace("${SHOP_KEYCLOAK_CLIENT_SECRET}", &self.kc.client_secret);
        let mut realm: Value = serde_json::from_str(&text).expect("the realm file is JSON");
        realm["realm"] = json!(name);
        let resp = self
            .http
            .post(format!("{}/admin/realms", self.kc.url))
            .bearer_auth(str_of(&self.master_tokens().await, "access_token"))
            .json(&realm)
            .send()
            .await
            .expect("the admin API");
        assert_eq!(resp.status(), StatusCode::CREATED, "importing the realm");
    }

    async fn delete_realm(&self, name: &str) {
        let _ = self.call(reqwest::Method::DELETE, name, None).await;
    }

    /// Ids of the realm's RSA signing-key providers.
    async fn rsa_key_providers(&self, realm: &str) -> Vec<String> {
        let components = self
            .json(&format!(
                "{realm}/components?type=org.keycloak.keys.KeyProvider"
            ))
            .await;
        components
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["providerId"] == json!("rsa-generated"))
            .map(|c| str_of(c, "id"))
            .collect()
    }

    /// Adds a new RSA signing key that outranks the others, so Keycloak signs with it.
    async fn add_rsa_key(&self, realm: &str) {
        let realm_id = str_of(&self.json(realm).await, "id");
        let resp = self
            .call(
                reqwest::Method::POST,
                &format!("{realm}/components"),
                Some(json!({
                    "name": "rotated",
                    "providerId": "rsa-generated",
                    "providerType": "org.keycloak.keys.KeyProvider",
                    "parentId": realm_id,
                    "config": {"priority": ["500"], "keySize": ["2048"], "algorithm": ["RS256"]},
                })),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED, "adding a key");
    }

    async fn delete_component(&self, realm: &str, id: &str) {
        let resp = self
            .call(
                reqwest::Method::DELETE,
                &format!("{realm}/components/{id}"),
                None,
            )
            .await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT, "removing a key");
    }
}

/// The JOSE header and the claims of a JWT, unverified.
fn jwt_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut next = || {
        let part = parts.next().expect("a JWT part");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
    };
    (next(), next())
}

fn kid(token: &str) -> String {
    str_of(&jwt_parts(token).0, "kid")
}

/// `aud` as a list, whether Keycloak sent a string or an array.
fn audiences(claims: &Value) -> Vec<String> {
    match &claims["aud"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn an_account_created_in_keycloak_directly_signs_in_and_gets_its_roles() {
    let Some((kc, admin, app)) = setup().await else {
        return;
    };
    let name = format!("direct-{}", unique());
    let id = admin
        .create_user(
            &kc.realm,
            json!({
                "username": name,
                "email": format!("{name}@example.com"),
                "firstName": "Dora",
                "lastName": "Direct",
                "enabled": true,
                "credentials": [{"type": "password", "value": PASSWORD, "temporary": false}],
            }),
        )
        .await;

    // The shop has never seen it: the sign-in makes its copy from the token's claims.
    let tokens = app.login(&name, PASSWORD).await;
    let me: Value = app
        .get_json(ME, Some(&str_of(&tokens, "access_token")))
        .await;
    assert_eq!(me["id"], json!(id));
    assert_eq!(me["username"], json!(name));
    assert_eq!(me["email"], json!(format!("{name}@example.com")));
    assert_eq!(me["first_name"], json!("Dora"));
    assert_eq!(me["last_name"], json!("Direct"));
    assert_eq!(me["roles"], json!(["user"]));

    // A role granted in Keycloak counts from the next sign-in, in the token and in the copy.
    admin.grant_realm_role(&kc.realm, &id, "admin").await;
    let tokens = app.login(&format!("{name}@example.com"), PASSWORD).await;
    let token = str_of(&tokens, "access_token");
    assert_eq!(app.get(USERS, Some(&token)).await.status(), StatusCode::OK);
    let me: Value = app.get_json(ME, Some(&token)).await;
    assert_eq!(me["roles"], json!(["user", "admin"]));
}

#[tokio::test]
async fn keycloaks_tokens_carry_the_documented_claims_and_its_keys_are_published() {
    let Some((kc, _admin, app)) = setup().await else {
        return;
    };
    let (user, token) = app.user_token().await;

    // The shop republishes Keycloak's keys: public halves only.
    let published: Value = app.get_json("/.well-known/jwks.json", None).await;
    let certs: Value = fetch_json(
        &app.client,
        &format!(
            "{}/realms/{}/protocol/openid-connect/certs",
            kc.url, kc.realm
        ),
    )
    .await;
    assert_eq!(published, certs);
    for key in published["keys"].as_array().unwrap() {
        assert!(key.get("d").is_none(), "a private key is published: {key}");
    }

    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(published).unwrap();
    let jwk = jwks
        .find(&header.kid.unwrap())
        .expect("the token's key is published");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[kc.issuer(&kc.realm)]);
    validation.set_audience(&[&kc.client_id]);
    let claims =
        jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .expect("the token verifies against the published key")
            .claims;
    assert!(
        audiences(&claims).contains(&kc.client_id),
        "aud names the shop: {claims}"
    );
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["preferred_username"], user["username"]);
    assert_eq!(claims["email"], user["email"]);
    let roles = claims["realm_access"]["roles"].as_array().unwrap();
    assert!(roles.contains(&json!("user")), "{claims}");
    assert!(!roles.contains(&json!("admin")), "{claims}");
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 300, "the realm's access tokens live 300 s");
}

#[tokio::test]
async fn a_token_from_another_realm_is_refused_even_under_this_realms_key_id() {
    let Some((kc, admin, app)) = setup().await else {
        return;
    };
    let master = str_of(&admin.master_tokens().await, "access_token");
    let (_, claims) = jwt_parts(&master);
    assert_eq!(claims["iss"], json!(kc.issuer("master")));
    assert_unauthorized(app.get(ME, Some(&master)).await).await;

    // The same token relabelled with the key id this realm signs with: the signature fails.
    let (_, own) = app.user_token().await;
    let mut header = jwt_parts(&master).0;
    header["kid"] = json!(kid(&own));
    let mut parts: Vec<String> = master.split('.').map(str::to_owned).collect();
    parts[0] = URL_SAFE_NO_PAD.encode(header.to_string());
    assert_unauthorized(app.get(ME, Some(&parts.join("."))).await).await;
}

#[tokio::test]
async fn a_token_of_this_realm_issued_to_another_client_is_refused() {
    let Some((kc, _admin, app)) = setup().await else {
        return;
    };
    let email = format!("other-client.{}@example.com", unique());
    app.register(&email, PASSWORD).await;

    // admin-cli is a public client every realm has, with the password grant on.
    let resp = app
        .client
        .post(format!(
            "{}/realms/{}/protocol/openid-connect/token",
            kc.url, kc.realm
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", email.as_str()),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let token = str_of(&resp.json().await.unwrap(), "access_token");
    let (_, claims) = jwt_parts(&token);
    assert_eq!(
        claims["iss"],
        json!(kc.issuer(&kc.realm)),
        "same realm, same keys"
    );
    assert!(
        !audiences(&claims).contains(&kc.client_id),
        "the token names the shop after all: {claims}"
    );
    assert_unauthorized(app.get(ME, Some(&token)).await).await;

    // The control: the shop's own sign-in for the same account is accepted.
    let own = app.login(&email, PASSWORD).await;
    let own = str_of(&own, "access_token");
    assert_eq!(app.get(ME, Some(&own)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_new_realm_key_is_picked_up_and_tokens_of_a_removed_key_are_refused() {
    let Some(kc) = keycloak_env() else {
        return;
    };
    let admin = KeycloakAdmin::new(kc.clone());
    // A realm of its own: rotating the shared realm's keys would break the other tests' tokens.
    let realm = format!("rotation-{}", unique());
    admin.create_realm_from_file(&realm).await;
    let app = spawn_app_with(Db::Sqlite, |s| {
        kc.settings(s, &kc.url, &realm);
        s.jwks_refetch_floor = Duration::from_millis(500);
        s.jwks_max_age = Duration::from_secs(2);
    })
    .await
    .expect("an app");

    let (user, old_token) = app.user_token().await;
    assert_eq!(app.get(ME, Some(&old_token)).await.status(), StatusCode::OK);
    let old_keys = admin.rsa_key_providers(&realm).await;

    // A new key outranks the old one: new tokens carry its id, and the shop fetches it.
    admin.add_rsa_key(&realm).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let email = str_of(&user, "email");
    let new_token = str_of(&app.login(&email, PASSWORD).await, "access_token");
    assert_ne!(kid(&new_token), kid(&old_token), "the new key signs");
    assert_eq!(app.get(ME, Some(&new_token)).await.status(), StatusCode::OK);
    // While the old key is still published, its tokens stay good.
    assert_eq!(app.get(ME, Some(&old_token)).await.status(), StatusCode::OK);

    // The old key is removed: once the shop's copy of the keys is older than its maximum age
    // (2 s here), it refetches them and refuses the old key's tokens.
    for id in &old_keys {
        admin.delete_component(&realm, id).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert_eq!(app.get(ME, Some(&new_token)).await.status(), StatusCode::OK);
        let old = app.get(ME, Some(&old_token)).await;
        if old.status() == StatusCode::UNAUTHORIZED {
            assert_unauthorized(old).await;
            break;
        }
        assert_eq!(old.status(), StatusCode::OK);
        assert!(
            Instant::now() < deadline,
            "a token of the removed key is still accepted"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    admin.delete_realm(&realm).await;
}

#[tokio::test]
async fn create_admin_makes_or_promotes_the_keycloak_account_and_is_idempotent() {
    let Some((kc, admin, app)) = setup().await else {
        return;
    };
    let name = format!("root-{}", unique());
    let email = format!("{name}@example.com");
    let first = shop::create_admin(&app.settings, &email, "first password", Some(&name))
        .await
        .expect("create_admin");
    let second = shop::create_admin(&app.settings, &email, "second password", Some(&name))
        .await
        .expect("create_admin again");
    assert_eq!(first.id, second.id);
    assert_eq!(second.username.as_str(), name);
    assert!(second.roles.contains(&Role::Admin), "{:?}", second.roles);
    let id = first.id.to_string();
    assert!(
        admin
            .realm_roles_of(&kc.realm, &id)
            .await
            .contains(&"admin".to_owned())
    );

    // The password is the latest one, and the token carries the role.
    let refused = app.post_login(&name, "first password").await;
    assert_problem(refused, 401).await;
    let token = str_of(&app.login(&name, "second password").await, "access_token");
    assert_eq!(app.get(USERS, Some(&token)).await.status(), StatusCode::OK);

    // A customer who registered through the shop keeps their account and username.
    let (customer, _) = app.user_token().await;
    let promoted = shop::create_admin(
        &app.settings,
        &str_of(&customer, "email"),
        "promoted password",
        Some("ignored-name"),
    )
    .await
    .expect("create_admin of a customer");
    assert_eq!(json!(promoted.id.to_string()), customer["id"]);
    assert_eq!(json!(promoted.username.as_str()), customer["username"]);
    assert_eq!(promoted.roles, [Role::User, Role::Admin]);
}

#[tokio::test]
async fn a_registration_the_database_refuses_leaves_no_account_in_keycloak() {
    let Some((kc, admin, app)) = setup().await else {
        return;
    };
    // The shop keeps a copy of an account made in Keycloak (by signing it in once) that is
    // then removed from Keycloak alone: its address is free there, taken in the database.
    let email = format!("half.{}@example.com", unique());
    let id = admin
        .create_user(
            &kc.realm,
            json!({
                "username": email,
                "email": email,
                "enabled": true,
                "credentials": [{"type": "password", "value": PASSWORD, "temporary": false}],
            }),
        )
        .await;
    app.login(&email, PASSWORD).await;
    admin.delete_user(&kc.realm, &id).await;

    let resp = app.post_register(&email, PASSWORD).await;
    assert_problem(resp, 409).await;
    assert!(
        admin.users_with_email(&kc.realm, &email).await.is_empty(),
        "Keycloak kept the account of a registration that failed"
    );
}

#[tokio::test]
async fn while_keycloak_is_down_sign_ins_answer_503_and_signed_in_callers_carry_on() {
    let Some(kc) = keycloak_env() else {
        return;
    };
    let url = reqwest::Url::parse(&kc.url).unwrap();
    let upstream = tokio::net::lookup_host((
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap(),
    ))
    .await
    .unwrap()
    .next()
    .unwrap();
    let mut proxy = Proxy::start(upstream).await;
    let app = spawn_app_with(Db::Sqlite, |s| kc.settings(s, &proxy.url(), &kc.realm))
        .await
        .expect("an app");

    let ready: Value = app.get_json("/health/ready", None).await;
    assert_eq!(ready["checks"]["identity_provider"], json!("up"));
    let (user, token) = app.user_token().await;
    let email = str_of(&user, "email");
    let tokens = app.login(&email, PASSWORD).await;
    let refresh_token = str_of(&tokens, "refresh_token");
    assert_eq!(app.get(ME, Some(&token)).await.status(), StatusCode::OK);

    proxy.stop().await;

    let register = json!({"email": format!("late.{}@example.com", unique()), "password": PASSWORD});
    let refresh = json!({"refresh_token": refresh_token});
    for (path, body) in [
        ("/api/v1/auth/register", register.clone()),
        (
            "/api/v1/auth/login",
            json!({"username": email, "password": PASSWORD}),
        ),
        ("/api/v1/auth/refresh", refresh.clone()),
        ("/api/v1/auth/logout", refresh.clone()),
    ] {
        let problem = assert_problem(app.post_json(path, &body, None).await, 503).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("identity provider"),
            "{path}: {problem}"
        );
    }
    // Access tokens are checked against the keys held: no Keycloak needed.
    let me = app.get(ME, Some(&token)).await;
    assert_eq!(me.status(), StatusCode::OK);
    let resp = app.get("/health/ready", None).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: Value = resp.json().await.unwrap();
    assert_eq!(ready["checks"]["identity_provider"], json!("down"));
    assert_eq!(ready["checks"]["database"], json!("up"));

    proxy.restart().await;

    assert_eq!(
        app.get("/health/ready", None).await.status(),
        StatusCode::OK
    );
    let created = app
        .post_json("/api/v1/auth/register", &register, None)
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    // The refresh token was never spent while Keycloak was away.
    assert_eq!(app.refresh(&refresh_token).await.status(), StatusCode::OK);
    app.login(&email, PASSWORD).await;
}
