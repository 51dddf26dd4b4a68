//! The access token's claims, as both providers' tokens carry them: the built-in provider
//! writes them and the Keycloak adapter reads the ones Keycloak wrote. They are named as
//! Keycloak names them, so one verifier (in `api`) reads the tokens of either.

use serde::{Deserialize, Serialize};

/// `realm_access`: the realm roles of the account (Keycloak lists its own beside the shop's).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct RealmAccess {
    #[serde(default)]
    pub(super) roles: Vec<String>,
}

/// The claims of an access token. The built-in provider writes all of them. Read back from a
/// Keycloak token, only the account's claims are taken (each optional, since the realm's
/// settings decide what Keycloak writes); the rest are the verifier's business, and Keycloak
/// writes some of them in other shapes (`aud` may be a list).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct AccessClaims {
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(super) iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) sub: Option<String>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(super) aud: Option<String>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(super) exp: Option<i64>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(super) iat: Option<i64>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(super) jti: Option<String>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(super) typ: Option<String>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(super) azp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) realm_access: Option<RealmAccess>,
}
