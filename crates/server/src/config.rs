//! Settings, read once from the environment (and `.env`) into one typed value. A wrong
//! value stops the start with a message naming the setting.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use api::rate_limits::{Rate, RateLimits, TrustedProxies};
use api::response_headers::{Cors, CorsOrigins};
use infrastructure::identity::KeycloakConfig;
use infrastructure::payments::{DEFAULT_API_BASE, StripeConfig};
use infrastructure::{DatabaseUrl, Secret};

/// A setting that could not be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {name}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub name: &'static str,
    /// What is wrong with it.
    pub message: String,
}

/// Which identity provider signs users in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthProvider {
    /// The built-in provider: accounts in the shop's database, tokens signed with a local key.
    Local,
    /// Keycloak: accounts in a realm, tokens from its token endpoint (`KEYCLOAK_URL`,
    /// `KEYCLOAK_REALM`, `KEYCLOAK_CLIENT_ID`, `KEYCLOAK_CLIENT_SECRET`).
    Keycloak(KeycloakConfig),
}

/// Who takes payments (`PAYMENT_PROVIDER`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentSettings {
    /// `manual`, the default: an admin records payments.
    Manual,
    /// `stripe`: `STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`, and `STRIPE_API_BASE`.
    Stripe(StripeConfig),
}

/// Where product images are kept (`STORAGE_BACKEND`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageBackend {
    /// A folder under `DATA_DIR` (`DATA_DIR/files`).
    Local,
    /// A folder of a Google Drive.
    Gdrive(GdriveSettings),
}

/// How the shop signs in to Google Drive (`GDRIVE_*`), and where its files go there. `Debug`
/// hides the secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GdriveSettings {
    /// `GDRIVE_CLIENT_ID`: the OAuth client's id.
    pub client_id: String,
    /// `GDRIVE_CLIENT_SECRET`: that client's secret.
    pub client_secret: Secret,
    /// `GDRIVE_REFRESH_TOKEN`: the refresh token the files' owner granted that client.
    pub refresh_token: Secret,
    /// `GDRIVE_ROOT`: the folder, as a path from the root of My Drive.
    pub root: String,
}

/// Largest `MAX_UPLOAD_BYTES`: an upload is held in memory while it is checked and stored.
const MAX_UPLOAD_LIMIT: u64 = 100 * 1024 * 1024;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Everything the service is configured with.
#[derive(Clone)]
pub struct Settings {
    /// `DATABASE_URL`.
    pub database_url: DatabaseUrl,
    /// `DATABASE_MAX_CONNECTIONS`.
    pub database_max_connections: u32,
    /// `DATABASE_ACQUIRE_TIMEOUT_SECONDS`: how long a request waits for a database connection
    /// (a busy pool, or a server that is down) before it answers 503.
    pub database_acquire_timeout: Duration,
    /// `DATABASE_READ_URL`: a PostgreSQL hot standby of `DATABASE_URL` that serves the
    /// catalog's reads for visitors who send no bearer token; everything else goes to the
    /// primary. Unset: every query goes to the primary.
    pub database_read_url: Option<DatabaseUrl>,
    /// `DATABASE_READ_MAX_LAG_SECONDS`: the most the standby may lag behind the primary and
    /// still serve reads; past it (or when it is down) its reads go to the primary.
    pub database_read_max_lag: Duration,
    /// `HOST`.
    pub host: IpAddr,
    /// `PORT` (0 picks a free port).
    pub port: u16,
    /// `DATA_DIR`.
    pub data_dir: PathBuf,
    /// `AUTH_PROVIDER`.
    pub auth_provider: AuthProvider,
    /// `AUTH_ISSUER`: the `iss` every accepted access token must carry (and the one the
    /// built-in provider signs). Default `shop`; with Keycloak `{KEYCLOAK_URL}/realms/{realm}`.
    pub auth_issuer: String,
    /// `AUTH_AUDIENCE`: the `aud` every accepted access token must name. Default `shop`;
    /// with Keycloak the client id.
    pub auth_audience: String,
    /// `JWKS_REFETCH_FLOOR_SECONDS`: shortest time between two fetches of the provider's
    /// signing keys (tokens with an unknown key id ask for one).
    pub jwks_refetch_floor: Duration,
    /// `JWKS_MAX_AGE_SECONDS`: signing keys held longer are refetched (in the background), so
    /// a key removed at the provider stops being accepted.
    pub jwks_max_age: Duration,
    /// `ACCESS_TOKEN_TTL_SECONDS`.
    pub access_token_ttl: Duration,
    /// `REFRESH_TOKEN_TTL_SECONDS`.
    pub refresh_token_ttl: Duration,
    /// `RATE_LIMIT_ENABLED`: `false` turns every rate limit off.
    pub rate_limit_enabled: bool,
    /// `RATE_LIMIT_AUTH_PER_MINUTE`, `RATE_LIMIT_AUTH_BURST`, `RATE_LIMIT_WRITES_PER_MINUTE`,
    /// `RATE_LIMIT_WRITES_BURST` and `TRUSTED_PROXIES`.
    pub rate_limits: RateLimits,
    /// `RATE_LIMIT_REDIS_URL`: the Redis server the rate limits are counted in, shared by every
    /// instance (`redis://[user:password@]host:port[/db]`); unset, each instance counts alone.
    pub rate_limit_redis_url: Option<Secret>,
    /// `CORS_ALLOWED_ORIGINS` and `CORS_ALLOW_CREDENTIALS`.
    pub cors: Cors,
    /// `REQUEST_TIMEOUT_SECONDS`.
    pub request_timeout: Duration,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `STORAGE_BACKEND` (with `GDRIVE_*` for Google Drive).
    pub storage: StorageBackend,
    /// `PAYMENT_PROVIDER` (with `STRIPE_*` for Stripe).
    pub payments: PaymentSettings,
    /// `MAX_UPLOAD_BYTES`: largest image upload.
    pub max_upload_bytes: u64,
    /// `CART_TTL_DAYS`: open carts untouched this many days are deleted (1..=3650, default 30).
    pub cart_ttl_days: u32,
    /// `ORDER_PAYMENT_TIMEOUT_MINUTES`: pending orders unpaid this long are cancelled
    /// (0..=43200, default 60; 0 turns it off).
    pub order_payment_timeout_minutes: u32,
    /// `LOW_STOCK_THRESHOLD`: stock at or below which a product is low (`variant.low_stock`).
    pub low_stock_threshold: u32,
    /// `CATALOG_CACHE_MAX_BYTES`: how many bytes of catalog answers (the product list and
    /// products as anyone but an admin sees them) each instance keeps in memory; 0 keeps none
    /// (16 MiB).
    pub catalog_cache_max_bytes: usize,
    /// `CATALOG_CACHE_MAX_STALE_SECONDS`: the oldest a kept catalog answer is served, whatever
    /// became of the notifications that keep it fresh (5).
    pub catalog_cache_max_stale: Duration,
    /// `SHOP_JOBS`: whether `serve` runs the background jobs too (default true).
    pub jobs_enabled: bool,
    /// `JOBS_POLL_INTERVAL_MS`: how long the job runner waits when nothing was due (a tenth of it
    /// after a pass that found part of a batch).
    pub jobs_poll_interval: Duration,
    /// `JOBS_NICE`: how far below the requests the job runner's thread runs (0..=19, 10): under
    /// a load that keeps every core busy, requests come first and deliveries catch up after.
    pub jobs_nice: i32,
    /// `JOBS_YIELD_REQUESTS`: how many requests in flight make `serve`'s job runner yield to
    /// them (a tenth of a poll interval between passes while they last); 0 never yields (8).
    pub jobs_yield_requests: usize,
    /// `JOBS_SWEEP_INTERVAL_SECONDS`: how often spent idempotency keys and refresh tokens are
    /// swept (600).
    pub jobs_sweep_interval: Duration,
    /// `WEBHOOK_TIMEOUT_SECONDS`: how long a receiver has to answer (10).
    pub webhook_timeout: Duration,
    /// `WEBHOOK_RETRY_DELAYS_SECONDS`: the delays after each failed attempt, comma-separated
    /// (`5,60,600,3600,21600,86400`); each is jittered by up to a fifth.
    pub webhook_retry_delays: Vec<Duration>,
    /// `WEBHOOK_BATCH_SIZE`: deliveries one runner claims and sends at once (20).
    pub webhook_batch_size: u32,
    /// `WEBHOOK_RECORD_WINDOW_MS`: how long, after an attempt of a batch ends, the runner waits
    /// for others of the batch before it records what ended, in one write (50).
    pub webhook_record_window: Duration,
    /// `WEBHOOK_LEASE_SECONDS`: how long a claim holds before another runner may take the
    /// delivery over (60; longer than the timeout).
    pub webhook_lease: Duration,
    /// `WEBHOOK_ALLOW_HTTP` and `WEBHOOK_ALLOW_PRIVATE_NETWORKS`: which receiver URLs webhook
    /// endpoints may have (both off by default: https to public addresses only).
    pub webhook_urls: application::webhooks::UrlPolicy,
    /// `METRICS_TOKEN`: when set, `GET /metrics` needs `Authorization: Bearer` with it;
    /// unset, the endpoint is open (scrapers usually sit on the private network).
    pub metrics_token: Option<Secret>,
    /// `AUTH_SIGNING_KEY_FILE`: the built-in provider's signing key, given from outside (a
    /// mounted secret) instead of the one made under `DATA_DIR`.
    pub signing_key_file: Option<PathBuf>,
    /// `SHUTDOWN_DRAIN_SECONDS`: after SIGTERM, how long `/health/ready` answers 503 while
    /// requests are still served, so a load balancer stops sending new ones before the
    /// listener closes.
    pub shutdown_drain: Duration,
    /// `HEADER_READ_TIMEOUT_SECONDS`: how long a client may take to send a request head, and
    /// how long a kept-alive connection may sit idle before its next request; then it is closed.
    pub header_read_timeout: Duration,
    /// `MAX_CONNECTIONS`: connections served at once; past it new ones wait in the listen
    /// queue until one closes.
    pub max_connections: usize,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // DatabaseUrl redacts its own password.
        f.debug_struct("Settings")
            .field("database_url", &self.database_url)
            .field("database_max_connections", &self.database_max_connections)
            .field("database_acquire_timeout", &self.database_acquire_timeout)
            .field("database_read_url", &self.database_read_url)
            .field("database_read_max_lag", &self.database_read_max_lag)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("data_dir", &self.data_dir)
            .field("auth_provider", &self.auth_provider)
            .field("auth_issuer", &self.auth_issuer)
            .field("auth_audience", &self.auth_audience)
            .field("jwks_refetch_floor", &self.jwks_refetch_floor)
            .field("jwks_max_age", &self.jwks_max_age)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("rate_limit_enabled", &self.rate_limit_enabled)
            .field("rate_limits", &self.rate_limits)
            .field("rate_limit_redis_url", &self.rate_limit_redis_url)
            .field("cors", &self.cors)
            .field("request_timeout", &self.request_timeout)
            .field("log_format", &self.log_format)
            .field("storage", &self.storage)
            .field("payments", &self.payments)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("cart_ttl_days", &self.cart_ttl_days)
            .field(
                "order_payment_timeout_minutes",
                &self.order_payment_timeout_minutes,
            )
            .field("low_stock_threshold", &self.low_stock_threshold)
            .field("catalog_cache_max_bytes", &self.catalog_cache_max_bytes)
            .field("catalog_cache_max_stale", &self.catalog_cache_max_stale)
            .field("webhook_urls", &self.webhook_urls)
            .field("jobs_enabled", &self.jobs_enabled)
            .field("jobs_poll_interval", &self.jobs_poll_interval)
            .field("jobs_nice", &self.jobs_nice)
            .field("jobs_yield_requests", &self.jobs_yield_requests)
            .field("jobs_sweep_interval", &self.jobs_sweep_interval)
            .field("webhook_timeout", &self.webhook_timeout)
            .field("webhook_retry_delays", &self.webhook_retry_delays)
            .field("webhook_batch_size", &self.webhook_batch_size)
            .field("webhook_record_window", &self.webhook_record_window)
            .field("webhook_lease", &self.webhook_lease)
            .field("metrics_token", &self.metrics_token)
            .field("signing_key_file", &self.signing_key_file)
            .field("shutdown_drain", &self.shutdown_drain)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

fn parse_number<T>(
    name: &'static str,
    value: Option<String>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display,
{
    let Some(raw) = value else { return Ok(default) };
    let n: T = raw.trim().parse().map_err(|_| ConfigError {
        name,
        message: format!("`{raw}` is not a whole number"),
    })?;
    if !range.contains(&n) {
        return Err(ConfigError {
            name,
            message: format!("must be from {} to {}", range.start(), range.end()),
        });
    }
    Ok(n)
}

/// `WEBHOOK_RETRY_DELAYS_SECONDS`: 1 to 20 whole numbers of seconds (each 1..=604800),
/// comma-separated; the contract's schedule when unset.
fn retry_delays(value: Option<String>) -> Result<Vec<Duration>, ConfigError> {
    let Some(raw) = value else {
        return Ok(domain::webhook::DEFAULT_RETRY_DELAYS.to_vec());
    };
    let refuse = || ConfigError {
        name: "WEBHOOK_RETRY_DELAYS_SECONDS",
        message: format!("`{raw}` is not 1 to 20 comma-separated whole seconds, each 1 to 604800"),
    };
    let delays: Vec<Duration> = raw
        .split(',')
        .map(|s| match s.trim().parse::<u64>() {
            Ok(n) if (1..=604_800).contains(&n) => Ok(Duration::from_secs(n)),
            _ => Err(refuse()),
        })
        .collect::<Result<_, _>>()?;
    if delays.len() > 20 {
        return Err(refuse());
    }
    Ok(delays)
}

/// `true`/`1`/`yes` or `false`/`0`/`no`.
fn parse_bool(
    name: &'static str,
    value: Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::trim) {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(ConfigError {
            name,
            message: format!("`{other}` is not true or false"),
        }),
    }
}

/// One rate: `{prefix}_PER_MINUTE` sustained and `{prefix}_BURST` at once.
fn rate(
    get: &impl Fn(&str) -> Option<String>,
    (per_minute_name, burst_name): (&'static str, &'static str),
    (per_minute, burst): (u32, u32),
) -> Result<Rate, ConfigError> {
    let per_minute = parse_number(
        per_minute_name,
        get(per_minute_name),
        per_minute,
        1..=1_000_000,
    )?;
    let burst = parse_number(burst_name, get(burst_name), burst, 1..=1_000_000)?;
    Rate::new(per_minute, burst).ok_or(ConfigError {
        name: per_minute_name,
        message: "must not be zero".into(),
    })
}

/// The rate limits (`RATE_LIMIT_*`, `TRUSTED_PROXIES`), read even when they are turned off so
/// that a wrong value is found before they are turned on.
fn rate_limits(get: &impl Fn(&str) -> Option<String>) -> Result<RateLimits, ConfigError> {
    Ok(RateLimits {
        auth: rate(
            get,
            ("RATE_LIMIT_AUTH_PER_MINUTE", "RATE_LIMIT_AUTH_BURST"),
            (10, 10),
        )?,
        writes: rate(
            get,
            ("RATE_LIMIT_WRITES_PER_MINUTE", "RATE_LIMIT_WRITES_BURST"),
            (120, 60),
        )?,
        trusted_proxies: TrustedProxies::parse(&get("TRUSTED_PROXIES").unwrap_or_default())
            .map_err(|message| ConfigError {
                name: "TRUSTED_PROXIES",
                message,
            })?,
    })
}

/// `RATE_LIMIT_REDIS_URL`: blank is unset; otherwise a `redis://` URL with a host.
fn redis_url(value: Option<String>) -> Result<Option<Secret>, ConfigError> {
    let Some(url) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let host = url
        .strip_prefix("redis://")
        .map(|rest| rest.rsplit_once('@').map_or(rest, |(_, host)| host))
        .and_then(|rest| rest.split(['/', ':']).next())
        .filter(|host| !host.is_empty());
    if host.is_none() {
        return Err(ConfigError {
            name: "RATE_LIMIT_REDIS_URL",
            message: "must be a redis:// URL with a host, like redis://127.0.0.1:6379/0".into(),
        });
    }
    Ok(Some(Secret::new(url)))
}

/// `CORS_ALLOWED_ORIGINS` and `CORS_ALLOW_CREDENTIALS`; `*` with credentials is refused
/// (browsers refuse it too, and it would hand every site the user's cookies).
fn cors(get: &impl Fn(&str) -> Option<String>) -> Result<Cors, ConfigError> {
    let origins = CorsOrigins::parse(&get("CORS_ALLOWED_ORIGINS").unwrap_or_default()).map_err(
        |message| ConfigError {
            name: "CORS_ALLOWED_ORIGINS",
            message,
        },
    )?;
    let allow_credentials = parse_bool(
        "CORS_ALLOW_CREDENTIALS",
        get("CORS_ALLOW_CREDENTIALS"),
        false,
    )?;
    if allow_credentials && origins == CorsOrigins::Any {
        return Err(ConfigError {
            name: "CORS_ALLOWED_ORIGINS",
            message: "`*` cannot be used with CORS_ALLOW_CREDENTIALS=true: list the origins".into(),
        });
    }
    Ok(Cors {
        origins,
        allow_credentials,
    })
}

/// `STRIPE_SECRET_KEY` and `STRIPE_WEBHOOK_SECRET`, each required; `STRIPE_API_BASE`
/// (Stripe's own API by default) an `http(s)` URL.
fn stripe_settings(get: &impl Fn(&str) -> Option<String>) -> Result<StripeConfig, ConfigError> {
    let required = |name: &'static str| {
        get(name).ok_or(ConfigError {
            name,
            message: "is required when PAYMENT_PROVIDER=stripe (see README, Payments)".into(),
        })
    };
    let api_base = get("STRIPE_API_BASE").unwrap_or_else(|| DEFAULT_API_BASE.into());
    let rest = api_base
        .trim()
        .strip_prefix("https://")
        .or_else(|| api_base.trim().strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {}
        _ => {
            return Err(ConfigError {
                name: "STRIPE_API_BASE",
                message: format!("`{api_base}` is not an http(s) URL"),
            });
        }
    }
    Ok(StripeConfig {
        secret_key: Secret::new(required("STRIPE_SECRET_KEY")?.trim()),
        webhook_secret: Secret::new(required("STRIPE_WEBHOOK_SECRET")?.trim()),
        api_base: api_base.trim().to_owned(),
    })
}

/// `GDRIVE_*`, each required but the folder (`/shop` by default).
fn gdrive_settings(get: &impl Fn(&str) -> Option<String>) -> Result<GdriveSettings, ConfigError> {
    let required = |name: &'static str| {
        get(name)
            .map(|v| v.trim().to_owned())
            .ok_or_else(|| ConfigError {
                name,
                message: "is required when STORAGE_BACKEND=gdrive (see README, Product images)"
                    .into(),
            })
    };
    let root = get("GDRIVE_ROOT").unwrap_or_else(|| "/shop".into());
    let root = format!("/{}", root.trim().trim_matches('/'));
    if root == "/" || root.chars().any(char::is_control) {
        return Err(ConfigError {
            name: "GDRIVE_ROOT",
            message: "must name a folder, e.g. /shop".into(),
        });
    }
    Ok(GdriveSettings {
        client_id: required("GDRIVE_CLIENT_ID")?,
        client_secret: Secret::new(required("GDRIVE_CLIENT_SECRET")?),
        refresh_token: Secret::new(required("GDRIVE_REFRESH_TOKEN")?),
        root,
    })
}

/// The `KEYCLOAK_*` settings, each required.
fn keycloak_config(get: &impl Fn(&str) -> Option<String>) -> Result<KeycloakConfig, ConfigError> {
    let required = |name: &'static str| {
        get(name).ok_or_else(|| ConfigError {
            name,
            message: "must be set when AUTH_PROVIDER=keycloak".into(),
        })
    };
    let url =
        KeycloakConfig::parse_url(&required("KEYCLOAK_URL")?).map_err(|message| ConfigError {
            name: "KEYCLOAK_URL",
            message,
        })?;
    Ok(KeycloakConfig {
        url,
        realm: required("KEYCLOAK_REALM")?.trim().to_owned(),
        client_id: required("KEYCLOAK_CLIENT_ID")?.trim().to_owned(),
        // Kept as given: a secret may in principle hold any character.
        client_secret: Secret::new(required("KEYCLOAK_CLIENT_SECRET")?),
    })
}

impl Settings {
    /// Reads `.env` (when present) and then the process environment.
    ///
    /// # Errors
    /// The first setting that is malformed, out of range or unsupported.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `get` (the environment in production, a map in tests).
    ///
    /// # Errors
    /// The first setting that is malformed, out of range or unsupported.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = get("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("shop.db").display()));
        let database_url = DatabaseUrl::parse(&database_url).map_err(|message| ConfigError {
            name: "DATABASE_URL",
            message,
        })?;
        let database_read_url = match get("DATABASE_READ_URL") {
            None => None,
            Some(url) => {
                let url = DatabaseUrl::parse(&url)
                    .ok()
                    .filter(|u| u.is_postgres() && database_url.is_postgres())
                    .ok_or_else(|| ConfigError {
                        name: "DATABASE_READ_URL",
                        message: "must be a postgres:// URL, beside a PostgreSQL DATABASE_URL"
                            .to_owned(),
                    })?;
                Some(url)
            }
        };
        let host = match get("HOST") {
            None => IpAddr::from([127, 0, 0, 1]),
            Some(h) if h == "localhost" => IpAddr::from([127, 0, 0, 1]),
            Some(h) => h.trim().parse().map_err(|_| ConfigError {
                name: "HOST",
                message: format!("`{h}` is not an IP address (use 0.0.0.0 to listen everywhere)"),
            })?,
        };
        let auth_provider = match get("AUTH_PROVIDER").as_deref().map(str::trim) {
            None | Some("local") => AuthProvider::Local,
            Some("keycloak") => AuthProvider::Keycloak(keycloak_config(&get)?),
            Some(other) => {
                return Err(ConfigError {
                    name: "AUTH_PROVIDER",
                    message: format!("`{other}` is not one of: local, keycloak"),
                });
            }
        };
        let auth_issuer = get("AUTH_ISSUER").unwrap_or_else(|| match &auth_provider {
            AuthProvider::Keycloak(k) => k.issuer(),
            AuthProvider::Local => "shop".into(),
        });
        let auth_audience = get("AUTH_AUDIENCE").unwrap_or_else(|| match &auth_provider {
            AuthProvider::Keycloak(k) => k.client_id.clone(),
            AuthProvider::Local => "shop".into(),
        });
        let storage = match get("STORAGE_BACKEND").as_deref().map(str::trim) {
            None | Some("local") => StorageBackend::Local,
            Some("gdrive") => StorageBackend::Gdrive(gdrive_settings(&get)?),
            Some(other) => {
                return Err(ConfigError {
                    name: "STORAGE_BACKEND",
                    message: format!("`{other}` is not one of: local, gdrive"),
                });
            }
        };
        let payments = match get("PAYMENT_PROVIDER").as_deref().map(str::trim) {
            None | Some("manual") => PaymentSettings::Manual,
            Some("stripe") => PaymentSettings::Stripe(stripe_settings(&get)?),
            Some(other) => {
                return Err(ConfigError {
                    name: "PAYMENT_PROVIDER",
                    message: format!("`{other}` is not one of: manual, stripe"),
                });
            }
        };
        let rate_limit_enabled = parse_bool("RATE_LIMIT_ENABLED", get("RATE_LIMIT_ENABLED"), true)?;
        let log_format = match get("LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError {
                    name: "LOG_FORMAT",
                    message: format!("`{other}` is not one of: text, json"),
                });
            }
        };
        Ok(Settings {
            database_url,
            database_max_connections: parse_number(
                "DATABASE_MAX_CONNECTIONS",
                get("DATABASE_MAX_CONNECTIONS"),
                16,
                1..=1000,
            )?,
            database_acquire_timeout: Duration::from_secs(parse_number(
                "DATABASE_ACQUIRE_TIMEOUT_SECONDS",
                get("DATABASE_ACQUIRE_TIMEOUT_SECONDS"),
                infrastructure::db::DEFAULT_ACQUIRE_TIMEOUT.as_secs(),
                1..=600,
            )?),
            database_read_url,
            database_read_max_lag: Duration::from_secs(parse_number(
                "DATABASE_READ_MAX_LAG_SECONDS",
                get("DATABASE_READ_MAX_LAG_SECONDS"),
                5,
                1..=3600,
            )?),
            host,
            port: parse_number("PORT", get("PORT"), 5000, 0..=65535)?,
            data_dir,
            auth_provider,
            auth_issuer,
            auth_audience,
            jwks_refetch_floor: Duration::from_secs(parse_number(
                "JWKS_REFETCH_FLOOR_SECONDS",
                get("JWKS_REFETCH_FLOOR_SECONDS"),
                30,
                1..=3600,
            )?),
            jwks_max_age: Duration::from_secs(parse_number(
                "JWKS_MAX_AGE_SECONDS",
                get("JWKS_MAX_AGE_SECONDS"),
                300,
                1..=86_400,
            )?),
            access_token_ttl: Duration::from_secs(parse_number(
                "ACCESS_TOKEN_TTL_SECONDS",
                get("ACCESS_TOKEN_TTL_SECONDS"),
                300,
                1..=86_400,
            )?),
            refresh_token_ttl: Duration::from_secs(parse_number(
                "REFRESH_TOKEN_TTL_SECONDS",
                get("REFRESH_TOKEN_TTL_SECONDS"),
                2_592_000,
                60..=31_536_000,
            )?),
            rate_limit_enabled,
            rate_limits: rate_limits(&get)?,
            rate_limit_redis_url: redis_url(get("RATE_LIMIT_REDIS_URL"))?,
            cors: cors(&get)?,
            request_timeout: Duration::from_secs(parse_number(
                "REQUEST_TIMEOUT_SECONDS",
                get("REQUEST_TIMEOUT_SECONDS"),
                30,
                1..=3600,
            )?),
            log_format,
            storage,
            payments,
            max_upload_bytes: parse_number(
                "MAX_UPLOAD_BYTES",
                get("MAX_UPLOAD_BYTES"),
                application::catalog::DEFAULT_MAX_UPLOAD_BYTES,
                1..=MAX_UPLOAD_LIMIT,
            )?,
            cart_ttl_days: parse_number("CART_TTL_DAYS", get("CART_TTL_DAYS"), 30, 1..=3650)?,
            order_payment_timeout_minutes: parse_number(
                "ORDER_PAYMENT_TIMEOUT_MINUTES",
                get("ORDER_PAYMENT_TIMEOUT_MINUTES"),
                60,
                0..=43200,
            )?,
            low_stock_threshold: parse_number(
                "LOW_STOCK_THRESHOLD",
                get("LOW_STOCK_THRESHOLD"),
                application::events::DEFAULT_LOW_STOCK_THRESHOLD,
                0..=1_000_000_000,
            )?,
            catalog_cache_max_bytes: parse_number(
                "CATALOG_CACHE_MAX_BYTES",
                get("CATALOG_CACHE_MAX_BYTES"),
                16 << 20,
                0..=1 << 30,
            )?,
            catalog_cache_max_stale: Duration::from_secs(parse_number(
                "CATALOG_CACHE_MAX_STALE_SECONDS",
                get("CATALOG_CACHE_MAX_STALE_SECONDS"),
                5,
                1..=3600,
            )?),
            jobs_enabled: parse_bool("SHOP_JOBS", get("SHOP_JOBS"), true)?,
            jobs_poll_interval: Duration::from_millis(parse_number(
                "JOBS_POLL_INTERVAL_MS",
                get("JOBS_POLL_INTERVAL_MS"),
                1000,
                10..=600_000,
            )?),
            jobs_nice: parse_number("JOBS_NICE", get("JOBS_NICE"), 10, 0..=19)?,
            jobs_yield_requests: parse_number(
                "JOBS_YIELD_REQUESTS",
                get("JOBS_YIELD_REQUESTS"),
                8,
                0..=100_000,
            )?,
            jobs_sweep_interval: Duration::from_secs(parse_number(
                "JOBS_SWEEP_INTERVAL_SECONDS",
                get("JOBS_SWEEP_INTERVAL_SECONDS"),
                600,
                1..=86_400,
            )?),
            webhook_timeout: Duration::from_secs(parse_number(
                "WEBHOOK_TIMEOUT_SECONDS",
                get("WEBHOOK_TIMEOUT_SECONDS"),
                10,
                1..=300,
            )?),
            webhook_retry_delays: retry_delays(get("WEBHOOK_RETRY_DELAYS_SECONDS"))?,
            webhook_batch_size: parse_number(
                "WEBHOOK_BATCH_SIZE",
                get("WEBHOOK_BATCH_SIZE"),
                20,
                1..=1000,
            )?,
            webhook_record_window: Duration::from_millis(parse_number(
                "WEBHOOK_RECORD_WINDOW_MS",
                get("WEBHOOK_RECORD_WINDOW_MS"),
                50,
                0..=10_000,
            )?),
            webhook_lease: Duration::from_secs(parse_number(
                "WEBHOOK_LEASE_SECONDS",
                get("WEBHOOK_LEASE_SECONDS"),
                60,
                2..=3600,
            )?),
            webhook_urls: application::webhooks::UrlPolicy {
                allow_http: parse_bool("WEBHOOK_ALLOW_HTTP", get("WEBHOOK_ALLOW_HTTP"), false)?,
                allow_private: parse_bool(
                    "WEBHOOK_ALLOW_PRIVATE_NETWORKS",
                    get("WEBHOOK_ALLOW_PRIVATE_NETWORKS"),
                    false,
                )?,
            },
            metrics_token: get("METRICS_TOKEN").map(|t| Secret::new(t.trim())),
            signing_key_file: get("AUTH_SIGNING_KEY_FILE").map(|f| PathBuf::from(f.trim())),
            shutdown_drain: Duration::from_secs(parse_number(
                "SHUTDOWN_DRAIN_SECONDS",
                get("SHUTDOWN_DRAIN_SECONDS"),
                0,
                0..=300,
            )?),
            header_read_timeout: Duration::from_secs(parse_number(
                "HEADER_READ_TIMEOUT_SECONDS",
                get("HEADER_READ_TIMEOUT_SECONDS"),
                15,
                1..=600,
            )?),
            max_connections: parse_number(
                "MAX_CONNECTIONS",
                get("MAX_CONNECTIONS"),
                1024,
                1..=1_000_000,
            )?,
        })
    }

    /// Defaults for a test: the given database and data folder, any free port on 127.0.0.1,
    /// rate limits off (the tests sign in many times from one address; those about the limits
    /// turn them on).
    ///
    /// # Panics
    /// When `database_url` is not a sqlite or postgres URL.
    pub fn for_tests(database_url: &str, data_dir: &Path) -> Self {
        let mut s = Self::from_lookup(|_| None).expect("defaults are valid");
        s.database_url = DatabaseUrl::parse(database_url).expect("a sqlite or postgres URL");
        s.data_dir = data_dir.to_path_buf();
        s.port = 0;
        s.database_max_connections = 5;
        s.rate_limit_enabled = false;
        // The job runner polls the database every second: only the tests of jobs turn it on.
        s.jobs_enabled = false;
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_read_replica_is_a_postgres_standby_of_a_postgres_primary_and_its_lag_has_bounds() {
        let none = settings(&[]).unwrap();
        assert!(none.database_read_url.is_none());
        assert_eq!(none.database_read_max_lag, Duration::from_secs(5));
        let s = settings(&[
            ("DATABASE_URL", "postgres://shop:secret@primary/shop"),
            ("DATABASE_READ_URL", "postgres://shop:secret@standby/shop"),
            ("DATABASE_READ_MAX_LAG_SECONDS", "30"),
        ])
        .unwrap();
        let read = s.database_read_url.as_ref().unwrap();
        assert_eq!(read.expose(), "postgres://shop:secret@standby/shop");
        assert_eq!(s.database_read_max_lag, Duration::from_secs(30));
        assert!(!format!("{s:?}").contains("secret"));
        // A standby of SQLite does not exist.
        let e = settings(&[("DATABASE_READ_URL", "postgres://shop@standby/shop")]).unwrap_err();
        assert_eq!(e.name, "DATABASE_READ_URL");
    }

    #[test]
    fn payments_are_manual_by_default_and_stripe_needs_both_secrets_which_never_print() {
        assert_eq!(settings(&[]).unwrap().payments, PaymentSettings::Manual);
        assert_eq!(settings(&[]).unwrap().order_payment_timeout_minutes, 60);
        let off = settings(&[("ORDER_PAYMENT_TIMEOUT_MINUTES", "0")]).unwrap();
        assert_eq!(off.order_payment_timeout_minutes, 0);
        assert!(settings(&[("ORDER_PAYMENT_TIMEOUT_MINUTES", "-1")]).is_err());
        let e = settings(&[("PAYMENT_PROVIDER", "stripe")]).unwrap_err();
        assert_eq!(e.name, "STRIPE_SECRET_KEY");
        let e = settings(&[
            ("PAYMENT_PROVIDER", "stripe"),
            ("STRIPE_SECRET_KEY", "sk_test_abc"),
        ])
        .unwrap_err();
        assert_eq!(e.name, "STRIPE_WEBHOOK_SECRET");
        let s = settings(&[
            ("PAYMENT_PROVIDER", "stripe"),
            ("STRIPE_SECRET_KEY", "sk_test_abc"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_def"),
            ("STRIPE_API_BASE", "http://127.0.0.1:12111"),
        ])
        .unwrap();
        let PaymentSettings::Stripe(stripe) = &s.payments else {
            panic!("not stripe");
        };
        assert_eq!(stripe.api_base, "http://127.0.0.1:12111");
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("sk_test_abc") && !shown.contains("whsec_def"),
            "{shown}"
        );
        assert_eq!(
            settings(&[("PAYMENT_PROVIDER", "paypal")])
                .unwrap_err()
                .name,
            "PAYMENT_PROVIDER"
        );
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_need_no_environment() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.database_url.expose(), "sqlite://data/shop.db");
        assert_eq!(s.port, 5000);
        assert_eq!(s.access_token_ttl, Duration::from_secs(300));
        assert_eq!(s.refresh_token_ttl, Duration::from_secs(30 * 86_400));
    }

    #[test]
    fn a_wrong_value_names_its_setting() {
        for (name, value) in [
            ("PORT", "http"),
            ("PORT", "70000"),
            ("HOST", "not a host"),
            ("DATABASE_URL", "mysql://x"),
            ("AUTH_PROVIDER", "ldap"),
            ("LOG_FORMAT", "xml"),
            ("RATE_LIMIT_ENABLED", "maybe"),
            ("ACCESS_TOKEN_TTL_SECONDS", "0"),
            ("STORAGE_BACKEND", "s3"),
            ("MAX_UPLOAD_BYTES", "0"),
            ("MAX_UPLOAD_BYTES", "ten"),
            ("LOW_STOCK_THRESHOLD", "-1"),
            ("LOW_STOCK_THRESHOLD", "few"),
            ("WEBHOOK_ALLOW_HTTP", "maybe"),
            ("SHOP_JOBS", "perhaps"),
            ("WEBHOOK_TIMEOUT_SECONDS", "0"),
            ("WEBHOOK_RETRY_DELAYS_SECONDS", "5,x"),
            ("WEBHOOK_RETRY_DELAYS_SECONDS", "5,,60"),
            ("WEBHOOK_RETRY_DELAYS_SECONDS", "0"),
            ("WEBHOOK_BATCH_SIZE", "0"),
            ("JOBS_SWEEP_INTERVAL_SECONDS", "0"),
            ("JOBS_NICE", "-1"),
            ("JOBS_NICE", "20"),
            ("RATE_LIMIT_REDIS_URL", "http://127.0.0.1:6379"),
            ("RATE_LIMIT_REDIS_URL", "redis://"),
            ("RATE_LIMIT_REDIS_URL", "redis://:6379/0"),
            ("JOBS_YIELD_REQUESTS", "-1"),
            ("CATALOG_CACHE_MAX_BYTES", "-1"),
            ("CATALOG_CACHE_MAX_BYTES", "1073741825"),
            ("CATALOG_CACHE_MAX_STALE_SECONDS", "0"),
            ("CATALOG_CACHE_MAX_STALE_SECONDS", "3601"),
            ("JOBS_YIELD_REQUESTS", "many"),
            ("JOBS_SWEEP_INTERVAL_SECONDS", "86401"),
            ("WEBHOOK_LEASE_SECONDS", "1"),
            ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "2"),
            ("JWKS_REFETCH_FLOOR_SECONDS", "0"),
            ("JWKS_MAX_AGE_SECONDS", "forever"),
            ("RATE_LIMIT_AUTH_PER_MINUTE", "0"),
            ("RATE_LIMIT_AUTH_PER_MINUTE", "ten"),
            ("RATE_LIMIT_AUTH_BURST", "0"),
            ("RATE_LIMIT_WRITES_PER_MINUTE", "-1"),
            ("RATE_LIMIT_WRITES_BURST", "2000000"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, proxy"),
            ("TRUSTED_PROXIES", "10.0.0.1/40"),
            ("HEADER_READ_TIMEOUT_SECONDS", "0"),
            ("MAX_CONNECTIONS", "0"),
            ("CORS_ALLOWED_ORIGINS", "shop.example"),
            ("CORS_ALLOWED_ORIGINS", "https://shop.example/path"),
            ("CORS_ALLOW_CREDENTIALS", "sometimes"),
            ("SHUTDOWN_DRAIN_SECONDS", "301"),
            ("DATABASE_READ_URL", "sqlite://replica.db"),
            ("DATABASE_READ_URL", "replica:5432"),
            ("DATABASE_READ_MAX_LAG_SECONDS", "0"),
            ("DATABASE_READ_MAX_LAG_SECONDS", "3601"),
        ] {
            let err = settings(&[(name, value)])
                .err()
                .unwrap_or_else(|| panic!("{name}={value} accepted"));
            assert_eq!(err.name, name);
            assert!(err.to_string().contains(name));
        }
    }

    #[test]
    fn rate_limits_are_on_by_default_and_each_number_can_be_set() {
        let s = settings(&[]).unwrap();
        assert!(s.rate_limit_enabled);
        let l = &s.rate_limits;
        assert_eq!((l.auth.per_minute.get(), l.auth.burst.get()), (10, 10));
        assert_eq!((l.writes.per_minute.get(), l.writes.burst.get()), (120, 60));
        assert!(l.trusted_proxies.is_empty());

        let s = settings(&[
            ("RATE_LIMIT_ENABLED", "false"),
            ("RATE_LIMIT_AUTH_PER_MINUTE", "30"),
            ("RATE_LIMIT_AUTH_BURST", "3"),
            ("RATE_LIMIT_WRITES_PER_MINUTE", "600"),
            ("RATE_LIMIT_WRITES_BURST", "100"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.0.7"),
        ])
        .unwrap();
        assert!(!s.rate_limit_enabled);
        let l = &s.rate_limits;
        assert_eq!((l.auth.per_minute.get(), l.auth.burst.get()), (30, 3));
        assert_eq!(
            (l.writes.per_minute.get(), l.writes.burst.get()),
            (600, 100)
        );
        assert!(l.trusted_proxies.contains("10.20.30.40".parse().unwrap()));
        assert!(l.trusted_proxies.contains("192.168.0.7".parse().unwrap()));
        assert!(!l.trusted_proxies.contains("192.168.0.8".parse().unwrap()));
    }

    #[test]
    fn cors_is_off_by_default_and_a_star_never_goes_with_credentials() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.cors, Cors::default());
        assert_eq!(s.cors.origins, CorsOrigins::None);

        let s = settings(&[
            (
                "CORS_ALLOWED_ORIGINS",
                "https://shop.example,http://localhost:3000",
            ),
            ("CORS_ALLOW_CREDENTIALS", "true"),
        ])
        .unwrap();
        assert!(s.cors.allow_credentials);
        assert!(matches!(&s.cors.origins, CorsOrigins::List(l) if l.len() == 2));
        assert_eq!(
            settings(&[("CORS_ALLOWED_ORIGINS", "*")])
                .unwrap()
                .cors
                .origins,
            CorsOrigins::Any
        );

        let err = settings(&[
            ("CORS_ALLOWED_ORIGINS", "*"),
            ("CORS_ALLOW_CREDENTIALS", "true"),
        ])
        .unwrap_err();
        assert_eq!(err.name, "CORS_ALLOWED_ORIGINS");
        assert!(err.to_string().contains("CORS_ALLOW_CREDENTIALS"), "{err}");
    }

    const KEYCLOAK: [(&str, &str); 5] = [
        ("AUTH_PROVIDER", "keycloak"),
        ("KEYCLOAK_URL", "http://localhost:8080/"),
        ("KEYCLOAK_REALM", "shop"),
        ("KEYCLOAK_CLIENT_ID", "shop-api"),
        ("KEYCLOAK_CLIENT_SECRET", "hunter2"),
    ];

    #[test]
    fn keycloak_derives_issuer_and_audience_from_its_settings() {
        let s = settings(&KEYCLOAK).unwrap();
        assert_eq!(s.auth_issuer, "http://localhost:8080/realms/shop");
        assert_eq!(s.auth_audience, "shop-api");
        let AuthProvider::Keycloak(k) = s.auth_provider else {
            panic!("not keycloak: {:?}", s.auth_provider);
        };
        assert_eq!(k.realm, "shop");
        assert_eq!(k.client_secret.expose(), "hunter2");

        let mut pinned = KEYCLOAK.to_vec();
        pinned.extend([
            ("AUTH_ISSUER", "https://id.example/realms/shop"),
            ("AUTH_AUDIENCE", "shop"),
        ]);
        let s = settings(&pinned).unwrap();
        assert_eq!(s.auth_issuer, "https://id.example/realms/shop");
        assert_eq!(s.auth_audience, "shop");

        let local = settings(&[]).unwrap();
        assert_eq!(local.auth_provider, AuthProvider::Local);
        assert_eq!(
            (local.auth_issuer.as_str(), local.auth_audience.as_str()),
            ("shop", "shop")
        );
    }

    #[test]
    fn a_missing_or_wrong_keycloak_setting_names_itself() {
        for (i, (name, _)) in KEYCLOAK.iter().enumerate().skip(1) {
            let mut pairs = KEYCLOAK.to_vec();
            pairs.remove(i);
            let err = settings(&pairs)
                .err()
                .unwrap_or_else(|| panic!("{name} not required"));
            assert_eq!(err.name, *name);
            assert!(err.to_string().contains(name));
        }
        let mut pairs = KEYCLOAK.to_vec();
        pairs[1] = ("KEYCLOAK_URL", "localhost:8080");
        assert_eq!(settings(&pairs).err().map(|e| e.name), Some("KEYCLOAK_URL"));
    }

    #[test]
    fn debug_output_hides_the_keycloak_client_secret() {
        let s = settings(&KEYCLOAK).unwrap();
        let text = format!("{s:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("shop-api"), "{text}");
    }

    #[test]
    fn images_go_to_a_local_folder_of_at_most_ten_mebibytes_by_default() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.storage, StorageBackend::Local);
        assert_eq!(s.max_upload_bytes, 10_485_760);
        let s = settings(&[("MAX_UPLOAD_BYTES", "2048")]).unwrap();
        assert_eq!(s.max_upload_bytes, 2048);
        assert_eq!(s.cart_ttl_days, 30);
        let s = settings(&[("CART_TTL_DAYS", "7")]).unwrap();
        assert_eq!(s.cart_ttl_days, 7);
        assert!(settings(&[("CART_TTL_DAYS", "0")]).is_err());
        assert_eq!(s.low_stock_threshold, 5);
        assert_eq!(s.webhook_urls, application::webhooks::UrlPolicy::default());
        let s = settings(&[
            ("WEBHOOK_ALLOW_HTTP", "true"),
            ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "yes"),
        ])
        .unwrap();
        assert!(s.webhook_urls.allow_http && s.webhook_urls.allow_private);
        let s = settings(&[]).unwrap();
        assert!(s.jobs_enabled);
        assert_eq!(s.jobs_poll_interval, Duration::from_secs(1));
        assert_eq!(s.jobs_sweep_interval, Duration::from_secs(600));
        assert_eq!(s.jobs_nice, 10);
        assert_eq!(s.jobs_yield_requests, 8);
        assert_eq!(s.catalog_cache_max_bytes, 16 * 1024 * 1024);
        assert_eq!(s.catalog_cache_max_stale, Duration::from_secs(5));
        assert_eq!(s.rate_limit_redis_url, None);
        let s = settings(&[("RATE_LIMIT_REDIS_URL", " redis://:pw@cache:6379/2 ")]).unwrap();
        let url = s.rate_limit_redis_url.as_ref().unwrap();
        assert_eq!(url.expose(), "redis://:pw@cache:6379/2");
        assert!(!format!("{s:?}").contains("pw@"), "the password is logged");
        assert_eq!(settings(&[("JOBS_NICE", "0")]).unwrap().jobs_nice, 0);
        assert_eq!(s.webhook_timeout, Duration::from_secs(10));
        let secs: Vec<u64> = s
            .webhook_retry_delays
            .iter()
            .map(Duration::as_secs)
            .collect();
        assert_eq!(secs, [5, 60, 600, 3600, 21600, 86400]);
        assert_eq!(s.webhook_batch_size, 20);
        assert_eq!(s.webhook_record_window, Duration::from_millis(50));
        assert_eq!(s.webhook_lease, Duration::from_secs(60));
        let s = settings(&[
            ("WEBHOOK_RETRY_DELAYS_SECONDS", " 1, 2 "),
            ("SHOP_JOBS", "false"),
        ])
        .unwrap();
        assert_eq!(
            s.webhook_retry_delays,
            [Duration::from_secs(1), Duration::from_secs(2)]
        );
        assert!(!s.jobs_enabled);
        let s = settings(&[("LOW_STOCK_THRESHOLD", "0")]).unwrap();
        assert_eq!(s.low_stock_threshold, 0);
    }

    const GDRIVE: [(&str, &str); 4] = [
        ("STORAGE_BACKEND", "gdrive"),
        ("GDRIVE_CLIENT_ID", "id.apps.googleusercontent.com"),
        ("GDRIVE_CLIENT_SECRET", "GOCSPX-secret"),
        ("GDRIVE_REFRESH_TOKEN", "1//refresh"),
    ];

    #[test]
    fn google_drive_needs_each_credential_and_names_a_missing_one() {
        let s = settings(&GDRIVE).unwrap();
        let StorageBackend::Gdrive(g) = &s.storage else {
            panic!("not gdrive: {:?}", s.storage);
        };
        assert_eq!(g.client_id, "id.apps.googleusercontent.com");
        assert_eq!(g.client_secret.expose(), "GOCSPX-secret");
        assert_eq!(g.refresh_token.expose(), "1//refresh");
        assert_eq!(g.root, "/shop");
        for missing in [
            "GDRIVE_CLIENT_ID",
            "GDRIVE_CLIENT_SECRET",
            "GDRIVE_REFRESH_TOKEN",
        ] {
            let pairs: Vec<_> = GDRIVE.into_iter().filter(|(k, _)| *k != missing).collect();
            let err = settings(&pairs).unwrap_err();
            assert_eq!(err.name, missing);
        }
        let mut pairs = GDRIVE.to_vec();
        pairs.push(("GDRIVE_ROOT", "shop/images/"));
        let StorageBackend::Gdrive(g) = settings(&pairs).unwrap().storage else {
            panic!("not gdrive");
        };
        assert_eq!(g.root, "/shop/images");
        pairs.push(("GDRIVE_ROOT", "/"));
        assert_eq!(settings(&pairs).unwrap_err().name, "GDRIVE_ROOT");
    }

    #[test]
    fn debug_output_hides_the_drive_secrets() {
        let s = settings(&GDRIVE).unwrap();
        let debug = format!("{s:?}");
        assert!(!debug.contains("GOCSPX-secret"), "{debug}");
        assert!(!debug.contains("1//refresh"), "{debug}");
        assert!(debug.contains("id.apps.googleusercontent.com"));
    }

    #[test]
    fn debug_output_hides_the_database_password() {
        let s = settings(&[("DATABASE_URL", "postgres://shop:hunter2@db/shop")]).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn the_metrics_token_is_optional_and_hidden_from_debug() {
        assert!(settings(&[]).unwrap().metrics_token.is_none());
        let s = settings(&[("METRICS_TOKEN", "scrape-me-7f3a")]).unwrap();
        assert_eq!(
            s.metrics_token.as_ref().map(Secret::expose),
            Some("scrape-me-7f3a")
        );
        let debug = format!("{s:?}");
        assert!(!debug.contains("scrape-me-7f3a"), "{debug}");
        assert!(debug.contains("metrics_token"), "{debug}");
    }
}
