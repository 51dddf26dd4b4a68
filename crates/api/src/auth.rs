//! Authentication: `authenticate`, the layer around `/api/v1` that verifies a request's
//! bearer token once and leaves the outcome in its extensions, and [`Auth`], the extractor of
//! the caller it proved.
//!
//! Bearer-token verification: EdDSA or RS256 signatures checked against the identity
//! provider's JWKS, issuer, audience and expiry. The keys are cached in memory and refetched for
//! an unknown key id (waited for) or when older than a maximum age (in the background), never
//! more often than a floor ([`KeyRefresh`]). No round trip per request; while the provider is
//! down, tokens signed with a cached key keep working.
//!
//! A token whose signature checked out is remembered (byte for byte, with its expiry and the
//! key set it was checked against), so a client's next requests with the same token skip the
//! signature: its time limits are still checked on every request, and any refetch of the keys
//! forgets what was checked against the old ones.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use application::Actor;
use application::ports::IdentityProvider;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use domain::{Roles, UserId};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;

/// A good [`KeyRefresh::floor`]: short enough to pick up a new key quickly, long enough that
/// forged key ids cannot turn into a flood of requests to the identity provider.
pub const JWKS_REFRESH_FLOOR: Duration = Duration::from_secs(30);
/// Tolerated clock difference with the identity provider.
const LEEWAY_SECONDS: u64 = 60;
/// Longest token looked at; anything longer is refused before parsing.
const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Most verified tokens remembered (about 1 KiB each); when full, all are forgotten at once.
const MAX_VERIFIED_TOKENS: usize = 2048;

/// Why a token was refused. Only for the log: the client hears a plain 401.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT, or a part of it is malformed or too long.
    #[error("malformed token")]
    Malformed,
    /// No key with the token's `kid`.
    #[error("unknown signing key")]
    UnknownKey,
    /// The token's algorithm does not fit its key.
    #[error("algorithm not allowed for this key")]
    Algorithm,
    /// Signature, issuer, audience or time checks failed.
    #[error("token rejected: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    /// The keys could not be fetched.
    #[error("signing keys unavailable")]
    KeysUnavailable,
}

#[derive(Deserialize)]
struct RealmAccess {
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    realm_access: Option<RealmAccess>,
}

/// A token whose signature, issuer and audience were checked.
struct Verified {
    actor: Actor,
    /// `exp` and `nbf` of the token, checked again on each use.
    exp: u64,
    nbf: Option<u64>,
    /// The key set it was checked against; a refetch makes a new one.
    keys: Weak<KeyCache>,
}

impl Verified {
    /// Whether it still holds at `now` (seconds since the epoch) under the keys `current`.
    fn holds(&self, now: u64, current: &Arc<KeyCache>) -> bool {
        now <= self.exp.saturating_add(LEEWAY_SECONDS)
            && self
                .nbf
                .is_none_or(|nbf| nbf <= now.saturating_add(LEEWAY_SECONDS))
            && std::ptr::eq(self.keys.as_ptr(), Arc::as_ptr(current))
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

struct Key {
    decoding: DecodingKey,
    algorithm: Algorithm,
}

/// The signing keys last fetched, when, and the JWKS document they came from (served again at
/// `/.well-known/jwks.json`).
#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, Key>,
    document: Option<Arc<str>>,
    fetched_at: Option<Instant>,
}

/// How the verifier keeps its copy of the identity provider's keys current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRefresh {
    /// Shortest time between two fetches, whatever asks for them (tokens with unknown key ids,
    /// the age below), so forged key ids cannot flood the provider.
    pub floor: Duration,
    /// Keys held longer than this are refetched in the background on the next request, so a
    /// key removed at the provider stops being accepted even when no new key id shows up.
    pub max_age: Duration,
}

/// The cached keys and how they are refetched; shared with background refreshes.
struct KeyStore {
    source: Arc<dyn IdentityProvider>,
    policy: KeyRefresh,
    cache: RwLock<Arc<KeyCache>>,
    /// When the last fetch started; held while a fetch runs, so fetches never overlap.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    background: AtomicBool,
}

/// Verifies access tokens of one issuer and audience.
pub struct JwtVerifier {
    issuer: String,
    audience: String,
    keys: Arc<KeyStore>,
    verified: Mutex<HashMap<Box<str>, Verified>>,
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

/// Keys of a JWKS that sign (not the encryption keys Keycloak also lists), by key id, each with
/// the one algorithm it may be used with: never `none`, never HMAC with a public key. Each key
/// is read on its own, so one of a kind this verifier does not know (a new curve, say) does not
/// hide the others.
fn usable_keys(jwks: &RawJwks) -> HashMap<String, Key> {
    let mut keys = HashMap::new();
    let parsed: Vec<Jwk> = jwks
        .keys
        .iter()
        .filter_map(|k| Jwk::deserialize(k).ok())
        .collect();
    for jwk in &parsed {
        if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
            continue;
        }
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
            (AlgorithmParameters::OctetKeyPair(_), None | Some(KeyAlgorithm::EdDSA)) => {
                Algorithm::EdDSA
            }
            (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
            _ => continue,
        };
        if let Ok(decoding) = DecodingKey::from_jwk(jwk) {
            keys.insert(
                kid,
                Key {
                    decoding,
                    algorithm,
                },
            );
        }
    }
    keys
}

impl KeyStore {
    fn cached(&self) -> Arc<KeyCache> {
        match self.cache.read() {
            Ok(k) => Arc::clone(&k),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Refetches the JWKS unless a fetch started less than the floor ago. A failed fetch
    /// keeps the keys already held.
    async fn refresh(&self) -> Result<Arc<KeyCache>, TokenError> {
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.policy.floor) {
            return Ok(self.cached());
        }
        let started = Instant::now();
        *last = Some(started);
        let text = self.source.jwks().await.map_err(|e| {
            tracing::warn!(error = %e, "cannot fetch the identity provider's signing keys");
            TokenError::KeysUnavailable
        })?;
        let jwks: RawJwks = serde_json::from_str(&text).map_err(|e| {
            tracing::warn!(error = %e, "the identity provider's JWKS is not valid");
            TokenError::KeysUnavailable
        })?;
        let cache = Arc::new(KeyCache {
            keys: usable_keys(&jwks),
            document: Some(Arc::from(text)),
            fetched_at: Some(started),
        });
        match self.cache.write() {
            Ok(mut k) => *k = Arc::clone(&cache),
            Err(poisoned) => *poisoned.into_inner() = Arc::clone(&cache),
        }
        Ok(cache)
    }

    /// Starts a refresh that no request waits for, unless one is already under way.
    fn refresh_in_background(self: &Arc<Self>) {
        if self.background.swap(true, Ordering::AcqRel) {
            return;
        }
        let store = Arc::clone(self);
        tokio::spawn(async move {
            let _ = store.refresh().await;
            store.background.store(false, Ordering::Release);
        });
    }

    /// Keys that include `kid` when the provider has it: the cached ones while they are
    /// current; a fetch (waited for) when `kid` is unknown; a background fetch when they are
    /// old. While the provider is down, the keys held keep verifying.
    async fn for_kid(self: &Arc<Self>, kid: &str) -> Result<Arc<KeyCache>, TokenError> {
        let cache = self.cached();
        if !cache.keys.contains_key(kid) {
            return self.refresh().await;
        }
        if cache
            .fetched_at
            .is_some_and(|t| t.elapsed() >= self.policy.max_age)
        {
            self.refresh_in_background();
        }
        Ok(cache)
    }
}

impl JwtVerifier {
    /// A verifier whose keys come from `source`'s JWKS, fetched on first use and refetched as
    /// `refresh` says.
    pub fn new(
        issuer: String,
        audience: String,
        source: Arc<dyn IdentityProvider>,
        refresh: KeyRefresh,
    ) -> Self {
        Self {
            issuer,
            audience,
            keys: Arc::new(KeyStore {
                source,
                policy: refresh,
                cache: RwLock::new(Arc::new(KeyCache::default())),
                last_fetch: tokio::sync::Mutex::new(None),
                background: AtomicBool::new(false),
            }),
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// The provider's JWKS document as last fetched (fetching it when none is held yet), so
    /// publishing it costs the provider nothing per request.
    ///
    /// # Errors
    /// [`TokenError::KeysUnavailable`] when none is held and the provider does not answer.
    pub async fn jwks_document(&self) -> Result<Arc<str>, TokenError> {
        if let Some(document) = self.keys.cached().document.clone() {
            return Ok(document);
        }
        self.keys
            .refresh()
            .await?
            .document
            .clone()
            .ok_or(TokenError::KeysUnavailable)
    }

    /// The actor a token speaks for.
    ///
    /// # Errors
    /// A [`TokenError`] for anything but a well-signed, current token of this issuer and audience.
    pub async fn verify(&self, token: &str) -> Result<Actor, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let cache = self.keys.for_kid(&kid).await?;
        let key = cache.keys.get(&kid).ok_or(TokenError::UnknownKey)?;
        if header.alg != key.algorithm {
            return Err(TokenError::Algorithm);
        }
        if let Some(actor) = self.remembered(token, &cache) {
            return Ok(actor);
        }
        let mut validation = Validation::new(key.algorithm);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        let claims = decode::<Claims>(token, &key.decoding, &validation)?.claims;
        let id = Uuid::parse_str(&claims.sub).map_err(|_| TokenError::Malformed)?;
        let roles = claims
            .realm_access
            .map(|r| Roles::from_names(r.roles.iter().map(String::as_str)))
            .unwrap_or_default();
        let actor = Actor {
            user_id: UserId::from_uuid(id),
            roles,
        };
        self.remember(
            token,
            Verified {
                actor: actor.clone(),
                exp: claims.exp,
                nbf: claims.nbf,
                keys: Arc::downgrade(&cache),
            },
        );
        Ok(actor)
    }

    /// The actor of `token` when it was verified before against the keys `current` and its
    /// time limits still hold.
    fn remembered(&self, token: &str, current: &Arc<KeyCache>) -> Option<Actor> {
        let verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        verified
            .get(token)
            .filter(|v| v.holds(unix_now(), current))
            .map(|v| v.actor.clone())
    }

    fn remember(&self, token: &str, v: Verified) {
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= MAX_VERIFIED_TOKENS {
            verified.clear();
        }
        verified.insert(token.into(), v);
    }
}

/// 503: no signing keys are held and the identity provider does not answer.
pub(crate) fn keys_unavailable() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the identity provider's keys are unavailable; try again shortly",
    )
}

/// What the authentication layer found in a request that carries an `Authorization` header:
/// the caller it proves, or why it proves nothing. A request without the header carries
/// neither. Only server code can put it in a request.
#[derive(Clone)]
pub(crate) enum Authentication {
    /// A well-signed, current token of this issuer and audience.
    Verified(Actor),
    /// The header is there but proves nothing.
    Refused(Refusal),
}

/// Why an `Authorization` header proves nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not `Bearer <token>`.
    NotBearer,
    /// The token is bad or expired.
    Invalid,
    /// No signing keys are held and the identity provider does not answer.
    KeysUnavailable,
}

impl Authentication {
    /// The verified caller, if any.
    pub(crate) fn actor(&self) -> Option<&Actor> {
        match self {
            Authentication::Verified(actor) => Some(actor),
            Authentication::Refused(_) => None,
        }
    }
}

/// The one authentication step, a layer around the routes under `/api/v1`: a request with an
/// `Authorization` header has its bearer token verified here, once, and carries the outcome
/// ([`Authentication`]) in its extensions for the rate limits and [`Auth`] to read. A request
/// without the header passes untouched. Nothing is refused here: a public route ignores a bad
/// token as it always did, and [`Auth`] answers 401 (or 503) where a caller is needed.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    if req.headers().contains_key(header::AUTHORIZATION) {
        let outcome = match bearer_token(req.headers()) {
            None => Authentication::Refused(Refusal::NotBearer),
            Some(token) => match state.verifier().verify(token).await {
                Ok(actor) => Authentication::Verified(actor),
                Err(TokenError::KeysUnavailable) => {
                    Authentication::Refused(Refusal::KeysUnavailable)
                }
                Err(e) => {
                    tracing::debug!(reason = %e, "bearer token refused");
                    Authentication::Refused(Refusal::Invalid)
                }
            },
        };
        req.extensions_mut().insert(outcome);
    }
    next.run(req).await
}

/// The signed-in caller, as the authentication layer verified it; 401 with
/// `WWW-Authenticate: Bearer` when the token is missing or bad, 503 when the identity
/// provider's keys are unavailable.
pub struct Auth(pub Actor);

/// The caller on a public route: the verified actor when a good token came, else nobody (a
/// public route ignores a bad token, as it always did, and answers as to anyone).
pub struct MaybeAuth(pub Option<Actor>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(MaybeAuth(
            parts
                .extensions
                .get::<Authentication>()
                .and_then(Authentication::actor)
                .cloned(),
        ))
    }
}

/// The caller of `GET /orders/{id}`: with an `X-Order-Token` header, whoever sent it (a good
/// bearer token too, if any); without one, a signed-in user exactly as [`Auth`] (401 else).
pub enum AuthOrOrderToken {
    /// Signed in, no order token.
    Signed(Actor),
    /// An order token, and the signed-in user if a good bearer token came too.
    Token(Option<Actor>, String),
}

impl<S: Send + Sync> FromRequestParts<S> for AuthOrOrderToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get("x-order-token")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned());
        match token {
            Some(t) => {
                let MaybeAuth(actor) = MaybeAuth::from_request_parts(parts, state).await?;
                Ok(AuthOrOrderToken::Token(actor, t))
            }
            None => {
                let Auth(actor) = Auth::from_request_parts(parts, state).await?;
                Ok(AuthOrOrderToken::Signed(actor))
            }
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header, if there is one.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.extensions.remove::<Authentication>() {
            Some(Authentication::Verified(actor)) => Ok(Auth(actor)),
            None => Err(ApiError::unauthorized("this needs a bearer token", false)),
            Some(Authentication::Refused(Refusal::NotBearer)) => Err(ApiError::unauthorized(
                "the Authorization header must be `Bearer <token>`",
                false,
            )),
            Some(Authentication::Refused(Refusal::KeysUnavailable)) => Err(keys_unavailable()),
            Some(Authentication::Refused(Refusal::Invalid)) => Err(ApiError::unauthorized(
                "the access token is invalid or expired",
                true,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use application::ports::{IdentityAccount, IdentityError, NewAccount, SignedIn, TokenPair};
    use domain::{Email, Password, Username};
    use jsonwebtoken::{EncodingKey, Header};

    use super::*;

    /// A provider that publishes one Ed25519 key and counts how often its JWKS is fetched.
    #[derive(Default)]
    struct CountingKeys {
        fetches: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl IdentityProvider for CountingKeys {
        async fn register(&self, _: &NewAccount) -> Result<IdentityAccount, IdentityError> {
            Err(IdentityError::InvalidCredentials)
        }
        async fn delete(&self, _: UserId) -> Result<(), IdentityError> {
            Ok(())
        }
        async fn login(&self, _: &str, _: &Password) -> Result<SignedIn, IdentityError> {
            Err(IdentityError::InvalidCredentials)
        }
        async fn refresh(&self, _: &str) -> Result<TokenPair, IdentityError> {
            Err(IdentityError::InvalidToken)
        }
        async fn logout(&self, _: &str) -> Result<(), IdentityError> {
            Ok(())
        }
        async fn ensure_admin(
            &self,
            _: &Email,
            _: &Username,
            _: &Password,
        ) -> Result<IdentityAccount, IdentityError> {
            Err(IdentityError::InvalidCredentials)
        }
        async fn jwks(&self) -> Result<String, IdentityError> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            Ok(serde_json::json!({"keys": [
                {"kty": "OKP", "crv": "Ed25519", "kid": "ok", "use": "sig", "alg": "EdDSA",
                 "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            ]})
            .to_string())
        }
        async fn check(&self) -> Result<(), IdentityError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn tokens_with_unknown_key_ids_fetch_the_keys_at_most_once_per_floor() {
        let keys = Arc::new(CountingKeys::default());
        let verifier = JwtVerifier::new(
            "shop".into(),
            "shop".into(),
            Arc::clone(&keys) as Arc<dyn IdentityProvider>,
            KeyRefresh {
                floor: JWKS_REFRESH_FLOOR,
                max_age: Duration::from_secs(3600),
            },
        );
        // A forger's tokens: each with a key id of its own, none of them published.
        for i in 0..200 {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(format!("forged-{i}"));
            let token = jsonwebtoken::encode(
                &header,
                &serde_json::json!({"sub": "x", "exp": 4_000_000_000u64}),
                &EncodingKey::from_secret(b"secret"),
            )
            .unwrap();
            assert!(matches!(
                verifier.verify(&token).await,
                Err(TokenError::UnknownKey)
            ));
        }
        // The first one fetched the keys (none were held yet); the rest met the floor.
        assert_eq!(keys.fetches.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_key_of_an_unknown_kind_does_not_hide_the_others() {
        let jwks: RawJwks = serde_json::from_value(serde_json::json!({"keys": [
            // Ed448 is a curve this verifier does not know; Keycloak can publish one.
            {"kty": "OKP", "crv": "Ed448", "kid": "new", "use": "sig", "x": "AAAA"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "alg": "RSA-OAEP", "n": "sXch", "e": "AQAB"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "ok", "use": "sig", "alg": "EdDSA",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        ]}))
        .unwrap();
        let keys = usable_keys(&jwks);
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["ok"]);
        assert_eq!(keys["ok"].algorithm, Algorithm::EdDSA);
    }

    #[test]
    fn a_remembered_token_holds_only_in_its_time_and_under_its_keys() {
        let keys = Arc::new(KeyCache::default());
        let verified = Verified {
            actor: Actor {
                user_id: UserId::from_uuid(Uuid::nil()),
                roles: Roles::from([domain::Role::User]),
            },
            exp: 1_000,
            nbf: Some(500),
            keys: Arc::downgrade(&keys),
        };
        assert!(verified.holds(700, &keys));
        assert!(
            verified.holds(1_000 + LEEWAY_SECONDS, &keys),
            "expiry has the leeway"
        );
        assert!(!verified.holds(1_001 + LEEWAY_SECONDS, &keys), "expired");
        assert!(
            verified.holds(500 - LEEWAY_SECONDS, &keys),
            "not-before has the leeway"
        );
        assert!(
            !verified.holds(499 - LEEWAY_SECONDS, &keys),
            "not yet valid"
        );
        let refetched = Arc::new(KeyCache::default());
        assert!(
            !verified.holds(700, &refetched),
            "checked against keys no longer held"
        );
    }
}
