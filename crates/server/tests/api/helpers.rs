//! Starting a server per test, and the small vocabulary the tests speak to it in.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use infrastructure::Secret;
use infrastructure::identity::KeycloakConfig;
use reqwest::header::{CONTENT_TYPE, HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use shop::{Application, AuthProvider, Settings};
use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use uuid::Uuid;

/// The API's paths the tests call most.
pub mod paths {
    pub const REGISTER: &str = "/api/v1/auth/register";
    pub const LOGIN: &str = "/api/v1/auth/login";
    pub const LOGOUT: &str = "/api/v1/auth/logout";
    pub const ME: &str = "/api/v1/users/me";
    pub const USERS: &str = "/api/v1/users";
    pub const PRODUCTS: &str = "/api/v1/products";
    pub const ORDERS: &str = "/api/v1/orders";
}

/// A password every test account gets; long enough for the password rule.
pub const PASSWORD: &str = "correct horse battery staple";

/// The database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A running server with its own database and data folder.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub addr: String,
    /// A client that speaks plain HTTP, follows redirects and ignores proxy settings.
    pub client: reqwest::Client,
    /// The settings the server runs with (same database and data folder).
    pub settings: Settings,
    /// The sign-in name of the account [`TestApp::admin_token`] makes admin.
    pub admin_username: String,
    data_dir: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    /// The server URL and database name, to drop the database afterwards (PostgreSQL only).
    postgres: Option<(String, String)>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Best effort: an open SQLite file does not stop the removal on Unix.
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Some((server, name)) = self.postgres.take() {
            // Best effort too, on a thread of its own: Drop cannot await, and the test's
            // runtime is single-threaded. FORCE ends the server's own connections.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&server).await {
                        let sql = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                            .execute(&mut conn)
                            .await;
                        let _ = conn.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// Runs each named `async fn name(app: TestApp)` of the calling module once on SQLite
/// (`…::sqlite::name`) and once on PostgreSQL (`…::postgres::name`), as `#[tokio::test]`s
/// unless another test attribute comes first.
macro_rules! both_dbs {
    ($($name:ident),+ $(,)?) => {
        both_dbs!(#[tokio::test] $($name),+);
    };
    (#[$test:meta] $($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[$test]
                async fn $name() {
                    if let Some(app) = crate::helpers::spawn_app(crate::helpers::Db::Sqlite).await {
                        super::$name(app).await;
                    }
                }
            )+
        }
        mod postgres {
            $(
                #[$test]
                async fn $name() {
                    if let Some(app) = crate::helpers::spawn_app(crate::helpers::Db::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )+
        }
    };
}

/// Runs each named `async fn name(db: Db)` of the calling module (a test that starts its own
/// app, with settings of its own) once on SQLite (`…::sqlite::name`) and once on PostgreSQL
/// (`…::postgres::name`).
macro_rules! each_db {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::helpers::Db::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::helpers::Db::Postgres).await;
                }
            )+
        }
    };
}

/// [`both_dbs!`], and once more with Keycloak as the identity provider (on SQLite) as
/// `…::keycloak::name`; the tests listed after `local_only:` are about the built-in provider
/// and skip that run.
macro_rules! every_provider {
    ($($name:ident),+ $(,)? $(; local_only: $($local:ident),+ $(,)?)?) => {
        both_dbs!($($name),+ $($(, $local)+)?);
        mod keycloak {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(app) = crate::helpers::spawn_keycloak_app().await {
                        super::$name(app).await;
                    }
                }
            )+
        }
    };
}

static SKIP_NOTICE: Once = Once::new();
static KEYCLOAK_SKIP_NOTICE: Once = Once::new();

/// The test Keycloak, as scripts/test.sh (or the developer) describes it.
#[derive(Debug, Clone)]
pub struct KeycloakEnv {
    /// Base URL, e.g. `http://127.0.0.1:58080`; also what the tokens' issuer starts with.
    pub url: String,
    /// The realm imported from keycloak/shop-realm.json.
    pub realm: String,
    /// The shop's client in that realm.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// An admin of the master realm.
    pub admin_user: String,
    /// Their password.
    pub admin_password: String,
}

impl KeycloakEnv {
    /// The settings of a shop that signs users in with `realm` of this Keycloak, reached at
    /// `url` (which may be a stand-in in front of it).
    pub fn settings(&self, settings: &mut Settings, url: &str, realm: &str) {
        settings.auth_provider = AuthProvider::Keycloak(KeycloakConfig {
            url: KeycloakConfig::parse_url(url).expect("a Keycloak URL"),
            realm: realm.to_owned(),
            client_id: self.client_id.clone(),
            client_secret: Secret::new(self.client_secret.clone()),
        });
        // The tokens name the Keycloak the script pinned (`--hostname`), whatever URL the shop
        // reaches it by.
        settings.auth_issuer = self.issuer(realm);
        settings.auth_audience = self.client_id.clone();
    }

    /// The `iss` of `realm`'s tokens.
    pub fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{realm}", self.url)
    }
}

/// The test Keycloak, or `None` when none is configured (outside CI).
pub fn keycloak_env() -> Option<KeycloakEnv> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let Some(url) = var("SHOP_TEST_KEYCLOAK_URL") else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "SHOP_TEST_KEYCLOAK_URL is not set, and CI=true: the Keycloak tests must run in CI. \
                 Run them through scripts/test.sh (which starts a throw-away Keycloak) or set \
                 SHOP_TEST_KEYCLOAK_URL and the other SHOP_TEST_KEYCLOAK_* variables it documents."
            );
        }
        KEYCLOAK_SKIP_NOTICE.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "note: SHOP_TEST_KEYCLOAK_URL is not set: skipping the Keycloak API tests \
                 (scripts/test.sh starts a throw-away Keycloak and sets it)"
            );
        });
        return None;
    };
    let required = |name: &str| {
        var(name).unwrap_or_else(|| panic!("SHOP_TEST_KEYCLOAK_URL is set but {name} is not"))
    };
    Some(KeycloakEnv {
        url: url.trim().trim_end_matches('/').to_owned(),
        realm: var("SHOP_TEST_KEYCLOAK_REALM").unwrap_or_else(|| "shop".into()),
        client_id: var("SHOP_TEST_KEYCLOAK_CLIENT_ID").unwrap_or_else(|| "shop".into()),
        client_secret: required("SHOP_TEST_KEYCLOAK_CLIENT_SECRET"),
        admin_user: required("SHOP_TEST_KEYCLOAK_ADMIN_USER"),
        admin_password: required("SHOP_TEST_KEYCLOAK_ADMIN_PASSWORD"),
    })
}

/// A fresh, empty folder under the system temp dir.
fn fresh_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shop-api-test-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("cannot create the test data folder");
    dir
}

/// The test PostgreSQL server's URL (`SHOP_TEST_POSTGRES_URL`), or `None` when none is
/// configured (outside CI; under CI=true a missing one fails the test).
pub fn postgres_server() -> Option<String> {
    match std::env::var("SHOP_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "SHOP_TEST_POSTGRES_URL is not set, and CI=true: the PostgreSQL tests must run in CI. \
                     Run them through scripts/test.sh (which starts a throw-away PostgreSQL) or set \
                     SHOP_TEST_POSTGRES_URL=postgres://USER:PASSWORD@HOST:PORT/postgres (a user allowed to CREATE DATABASE)."
                );
            }
            SKIP_NOTICE.call_once(|| {
                // Straight to stderr: the test harness swallows `eprintln!` of passing tests.
                let _ = writeln!(
                    std::io::stderr(),
                    "note: SHOP_TEST_POSTGRES_URL is not set: skipping the PostgreSQL API tests \
                     (scripts/test.sh starts a throw-away PostgreSQL and sets it)"
                );
            });
            None
        }
    }
}

/// A fresh PostgreSQL database (server URL, database URL, database name), or `None` when no
/// server is configured (outside CI).
async fn postgres_database() -> Option<(String, String, String)> {
    let server = postgres_server()?;
    let name = format!("shop_test_{}", Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(&server)
        .await
        .expect("cannot connect to SHOP_TEST_POSTGRES_URL");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
        .execute(&mut conn)
        .await
        .expect("cannot CREATE DATABASE on SHOP_TEST_POSTGRES_URL");
    let _ = conn.close().await;
    let mut url = reqwest::Url::parse(&server).expect("SHOP_TEST_POSTGRES_URL is not a URL");
    url.set_path(&format!("/{name}"));
    Some((server, url.to_string(), name))
}

/// Starts the server on a free port with its own empty database and data folder; `None`
/// when that database is PostgreSQL and none is configured (outside CI).
pub async fn spawn_app(db: Db) -> Option<TestApp> {
    spawn_app_with(db, |_| {}).await
}

/// [`spawn_app`] with Keycloak as the identity provider (the test realm, on SQLite); `None`
/// when no test Keycloak is configured (outside CI).
pub async fn spawn_keycloak_app() -> Option<TestApp> {
    let kc = keycloak_env()?;
    spawn_app_with(Db::Sqlite, |s| kc.settings(s, &kc.url, &kc.realm)).await
}

/// [`spawn_app`] with settings changed by `configure` before the server is built.
pub async fn spawn_app_with(db: Db, configure: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    let postgres = match db {
        Db::Sqlite => None,
        Db::Postgres => Some(postgres_database().await?),
    };
    let data_dir = fresh_dir();
    let database_url = match &postgres {
        Some((_, url, _)) => url.clone(),
        None => format!("sqlite://{}", data_dir.join("shop.db").display()),
    };
    let mut settings = Settings::for_tests(&database_url, &data_dir);
    configure(&mut settings);
    let app = Application::build(settings.clone())
        .await
        .expect("the application does not build");
    let port = app.port();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("cannot build the HTTP client");
    // With Keycloak the accounts live in one realm that every test shares, and Keycloak's
    // brute-force detection refuses concurrent sign-ins of one account: each app gets its own
    // admin there.
    let admin_username = match settings.auth_provider {
        AuthProvider::Local => "admin".to_owned(),
        AuthProvider::Keycloak(_) => format!("admin-{}", unique()),
    };
    Some(TestApp {
        addr: format!("http://127.0.0.1:{port}"),
        client,
        settings,
        admin_username,
        data_dir,
        shutdown: Some(tx),
        postgres: postgres.map(|(server, _, name)| (server, name)),
    })
}

/// A unique suffix for e-mail addresses, usernames and SKUs.
pub fn unique() -> String {
    Uuid::now_v7().simple().to_string()
}

impl TestApp {
    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.addr, path)
    }

    /// Sends `method` to `path`, with `body` as JSON and `token` as bearer when given.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Response {
        let mut req = self.client.request(method.clone(), self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("{method} failed: {e}"))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.send(reqwest::Method::GET, path, None, token).await
    }

    /// `GET` of a path whose answer is JSON; that JSON.
    pub async fn get_json(&self, path: &str, token: Option<&str>) -> Value {
        self.get(path, token)
            .await
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: not JSON: {e}"))
    }

    /// A `POST` with no body (an action such as `/cancel`).
    pub async fn post(&self, path: &str, token: Option<&str>) -> Response {
        self.send(reqwest::Method::POST, path, None, token).await
    }

    pub async fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        self.send(reqwest::Method::POST, path, Some(body), token)
            .await
    }

    pub async fn put_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        self.send(reqwest::Method::PUT, path, Some(body), token)
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.send(reqwest::Method::DELETE, path, None, token).await
    }

    /// `POST /auth/register` with an e-mail address and a password; the raw response.
    pub async fn post_register(&self, email: &str, password: &str) -> Response {
        let body = json!({"email": email, "password": password});
        self.post_json(paths::REGISTER, &body, None).await
    }

    /// `POST /auth/login` with a username (or e-mail address) and a password; the raw response.
    pub async fn post_login(&self, username: &str, password: &str) -> Response {
        let body = json!({"username": username, "password": password});
        self.post_json(paths::LOGIN, &body, None).await
    }

    /// Registers an account (201 expected) and returns the User.
    pub async fn register(&self, email: &str, password: &str) -> Value {
        let resp = self.post_register(email, password).await;
        assert_eq!(resp.status(), StatusCode::CREATED, "registering {email}");
        resp.json().await.expect("a User as JSON")
    }

    /// Signs in (200 expected) and returns the Tokens.
    pub async fn login(&self, username: &str, password: &str) -> Value {
        let resp = self.post_login(username, password).await;
        assert_eq!(resp.status(), StatusCode::OK, "signing in as {username}");
        resp.json().await.expect("Tokens as JSON")
    }

    /// Refreshes with `refresh_token`; the raw response.
    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": refresh_token}),
            None,
        )
        .await
    }

    /// Registers a fresh account and returns it with an access token.
    pub async fn user_token(&self) -> (Value, String) {
        let email = format!("user-{}@example.com", unique());
        let user = self.register(&email, PASSWORD).await;
        let tokens = self.login(&email, PASSWORD).await;
        (user, str_of(&tokens, "access_token"))
    }

    /// Makes sure the admin account exists (the way `shop create-admin` does) and returns
    /// an access token for it.
    pub async fn admin_token(&self) -> String {
        let email = format!("{}@example.com", self.admin_username);
        shop::create_admin(&self.settings, &email, PASSWORD, Some(&self.admin_username))
            .await
            .expect("create_admin failed");
        let tokens = self.login(&self.admin_username, PASSWORD).await;
        str_of(&tokens, "access_token")
    }

    /// An admin, a signed-up buyer and a product (as [`TestApp::create_product`] makes it,
    /// its SKU `{sku_prefix}-…`): what most order tests start from.
    pub async fn shop_with_a_product(&self, sku_prefix: &str) -> Shop {
        let admin = self.admin_token().await;
        let (_, token) = self.user_token().await;
        let product = self
            .create_product(&admin, &format!("{sku_prefix}-{}", unique()))
            .await;
        let product_id = str_of(&product, "id");
        Shop {
            admin,
            token,
            product,
            product_id,
        }
    }

    /// Creates a product (201 expected): 19.90 EUR, 10 in stock, no description.
    pub async fn create_product(&self, admin_token: &str, sku: &str) -> Value {
        self.create_product_priced(admin_token, sku, "19.90", "EUR", 10)
            .await
    }

    /// Creates a product named after `sku` with a price and a stock of one's choosing
    /// (201 expected).
    pub async fn create_product_priced(
        &self,
        admin_token: &str,
        sku: &str,
        amount: &str,
        currency: &str,
        stock: i64,
    ) -> Value {
        let body = json!({
            "sku": sku,
            "name": format!("Product {sku}"),
            "price": {"amount": amount, "currency": currency},
            "stock": stock
        });
        self.create_product_with(admin_token, &body).await
    }

    /// Creates a product from `body` (201 expected) and returns it.
    pub async fn create_product_with(&self, admin_token: &str, body: &Value) -> Value {
        let resp = self
            .post_json("/api/v1/products", body, Some(admin_token))
            .await;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "creating product {body}: {text}"
        );
        serde_json::from_str(&text).expect("a Product as JSON")
    }

    /// The built-in identity provider's signing key (PKCS#8 PEM).
    pub fn signing_key_pem(&self) -> Vec<u8> {
        std::fs::read(self.settings.data_dir.join("jwt-ed25519.pem"))
            .expect("the identity provider's key file")
    }
}

/// What [`TestApp::shop_with_a_product`] sets up.
pub struct Shop {
    /// The admin's access token.
    pub admin: String,
    /// The buyer's access token.
    pub token: String,
    /// The product as created.
    pub product: Value,
    /// Its id.
    pub product_id: String,
}

/// The names on a page of products.
pub fn names_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no `items` in {page}"))
        .iter()
        .map(|p| str_of(p, "name"))
        .collect()
}

/// `v[key]` as an owned string; panics with the value when it is not a string.
pub fn str_of(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string in {v}"))
        .to_owned()
}

/// `GET url` (any server) with `client`; the JSON it answers.
pub async fn fetch_json(client: &reqwest::Client, url: &str) -> Value {
    let resp = client.get(url).send().await.expect("GET failed");
    resp.json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

/// The value of the header `name` of `resp`, which must be there and be text.
pub fn header_text(resp: &Response, name: reqwest::header::HeaderName) -> String {
    let value = resp.headers().get(&name);
    let value = value.unwrap_or_else(|| panic!("no {name} header"));
    value.to_str().expect("a header that is text").to_owned()
}

/// The `Location` header of a 201.
pub fn location(resp: &Response) -> String {
    header_text(resp, reqwest::header::LOCATION)
}

/// Checks that `resp` is an RFC 9457 problem with `status`, and returns its body.
pub async fn assert_problem(resp: Response, status: u16) -> Value {
    let (headers, text) = read_expecting(resp, status).await;
    assert_problem_parts(&headers, &text, status)
}

/// The headers and body text of `resp`, once its status is checked to be `status`.
async fn read_expecting(resp: Response, status: u16) -> (HeaderMap, String) {
    let actual = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(actual, status, "status (body: {text})");
    (headers, text)
}

/// The text of header `name`, empty when absent or not text.
fn header_or_empty(headers: &HeaderMap, name: reqwest::header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn assert_problem_parts(headers: &HeaderMap, text: &str, status: u16) -> Value {
    let content_type = header_or_empty(headers, CONTENT_TYPE);
    assert!(
        content_type.starts_with("application/problem+json"),
        "content-type is `{content_type}`, not application/problem+json (status {status}, body: {text})"
    );
    let body: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("problem body is not JSON ({e}): {text}"));
    assert!(body["type"].is_string(), "problem without `type`: {body}");
    assert!(body["title"].is_string(), "problem without `title`: {body}");
    assert_eq!(body["status"], json!(status), "problem `status`: {body}");
    body
}

/// Checks a 401 problem that carries `WWW-Authenticate: Bearer…`, and returns its body.
pub async fn assert_unauthorized(resp: Response) -> Value {
    let (headers, text) = read_expecting(resp, 401).await;
    let challenge = header_or_empty(&headers, WWW_AUTHENTICATE);
    assert!(
        challenge.starts_with("Bearer"),
        "WWW-Authenticate is `{challenge}`, expected a Bearer challenge (body: {text})"
    );
    assert_problem_parts(&headers, &text, 401)
}

/// Checks a 422 problem and returns the fields its `errors` name.
pub async fn assert_invalid(resp: Response) -> Vec<String> {
    let body = assert_problem(resp, 422).await;
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("422 without an `errors` list: {body}"));
    errors
        .iter()
        .map(|e| {
            assert!(e["message"].is_string(), "error without a message: {e}");
            e["field"]
                .as_str()
                .unwrap_or_else(|| panic!("error without a field: {e}"))
                .to_owned()
        })
        .collect()
}

/// A problem body without what may differ from one request to the next (the request id and
/// the instance), for comparing two answers.
pub fn comparable(mut problem: Value) -> Value {
    if let Some(map) = problem.as_object_mut() {
        for key in ["instance", "request_id", "trace_id"] {
            map.remove(key);
        }
    }
    problem
}

/// Parses an RFC 3339 timestamp and checks that it is in UTC.
pub fn timestamp(v: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("timestamp is not a string: {v}"));
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("`{s}` is not RFC 3339: {e}"));
    assert_eq!(t.offset().local_minus_utc(), 0, "`{s}` is not in UTC");
    t
}

/// A TCP stand-in in front of a dependency (Keycloak, PostgreSQL) that can be stopped (new
/// connections refused, open ones cut, as when the dependency goes down) and started again on
/// the same port.
pub struct Proxy {
    port: u16,
    upstream: SocketAddr,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on a free port and forwards each connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut proxy = Self {
            port,
            upstream,
            task: None,
        };
        proxy.serve(listener);
        proxy
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream;
        self.task = Some(tokio::spawn(async move {
            // Dropped with this task when the proxy stops, which cuts every connection.
            let mut connections = JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        }));
    }

    /// Refuses new connections and cuts the open ones.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Accepts and forwards again, on the same port.
    pub async fn restart(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("the proxy's port again");
        self.serve(listener);
    }
}
