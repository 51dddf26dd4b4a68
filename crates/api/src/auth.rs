//! Bearer-token verification: EdDSA or RS256 signatures checked against the identity
//! provider's JWKS (cached in memory, refetched only for an unknown key id and at most every
//! [`JWKS_REFRESH_FLOOR`]), issuer, audience and expiry. No round trip per request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use application::Actor;
use application::ports::IdentityProvider;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use domain::{Role, UserId};
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;

/// Shortest time between two JWKS fetches caused by unknown key ids, so forged key ids cannot
/// turn into a flood of requests to the identity provider.
pub const JWKS_REFRESH_FLOOR: Duration = Duration::from_secs(30);
/// Tolerated clock difference with the identity provider.
const LEEWAY_SECONDS: u64 = 60;
/// Longest token looked at; anything longer is refused before parsing.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

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
    #[serde(default)]
    realm_access: Option<RealmAccess>,
}

struct Key {
    decoding: DecodingKey,
    algorithm: Algorithm,
}

/// Verifies access tokens of one issuer and audience.
pub struct JwtVerifier {
    issuer: String,
    audience: String,
    source: Arc<dyn IdentityProvider>,
    keys: RwLock<Arc<HashMap<String, Key>>>,
    refresh: tokio::sync::Mutex<Option<Instant>>,
}

/// Keys of a JWKS that sign (not the encryption keys Keycloak also lists), by key id, each with
/// the one algorithm it may be used with: never `none`, never HMAC with a public key.
fn usable_keys(jwks: &JwkSet) -> HashMap<String, Key> {
    let mut keys = HashMap::new();
    for jwk in &jwks.keys {
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

impl JwtVerifier {
    /// A verifier whose keys come from `source`'s JWKS, fetched on first use.
    pub fn new(issuer: String, audience: String, source: Arc<dyn IdentityProvider>) -> Self {
        Self {
            issuer,
            audience,
            source,
            keys: RwLock::new(Arc::new(HashMap::new())),
            refresh: tokio::sync::Mutex::new(None),
        }
    }

    fn cached(&self) -> Arc<HashMap<String, Key>> {
        match self.keys.read() {
            Ok(k) => Arc::clone(&k),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Refetches the JWKS unless that happened less than [`JWKS_REFRESH_FLOOR`] ago.
    async fn refresh_keys(&self) -> Result<Arc<HashMap<String, Key>>, TokenError> {
        let mut last = self.refresh.lock().await;
        if last.is_some_and(|t| t.elapsed() < JWKS_REFRESH_FLOOR) {
            return Ok(self.cached());
        }
        *last = Some(Instant::now());
        let text = self.source.jwks().await.map_err(|e| {
            tracing::warn!(error = %e, "cannot fetch the identity provider's signing keys");
            TokenError::KeysUnavailable
        })?;
        let jwks: JwkSet = serde_json::from_str(&text).map_err(|e| {
            tracing::warn!(error = %e, "the identity provider's JWKS is not valid");
            TokenError::KeysUnavailable
        })?;
        let keys = Arc::new(usable_keys(&jwks));
        match self.keys.write() {
            Ok(mut k) => *k = Arc::clone(&keys),
            Err(poisoned) => *poisoned.into_inner() = Arc::clone(&keys),
        }
        Ok(keys)
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
        let mut keys = self.cached();
        if !keys.contains_key(&kid) {
            keys = self.refresh_keys().await?;
        }
        let key = keys.get(&kid).ok_or(TokenError::UnknownKey)?;
        if header.alg != key.algorithm {
            return Err(TokenError::Algorithm);
        }
        let mut validation = Validation::new(key.algorithm);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        let claims = decode::<Claims>(token, &key.decoding, &validation)?.claims;
        let id = Uuid::parse_str(&claims.sub).map_err(|_| TokenError::Malformed)?;
        let mut roles: Vec<Role> = claims
            .realm_access
            .map(|r| r.roles.iter().filter_map(|n| Role::from_name(n)).collect())
            .unwrap_or_default();
        roles.sort();
        roles.dedup();
        Ok(Actor {
            user_id: UserId::from_uuid(id),
            roles,
        })
    }
}

/// The signed-in caller; 401 with `WWW-Authenticate: Bearer` when the token is missing or bad.
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized("this needs a bearer token", false));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <token>`", false)
            })?;
        match state.verifier.verify(token).await {
            Ok(actor) => Ok(Auth(actor)),
            Err(TokenError::KeysUnavailable) => Err(ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the identity provider's keys are unavailable; try again shortly",
            )),
            Err(e) => {
                tracing::debug!(reason = %e, "bearer token refused");
                Err(ApiError::unauthorized(
                    "the access token is invalid or expired",
                    true,
                ))
            }
        }
    }
}
