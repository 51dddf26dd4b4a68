//! Identity providers: the built-in one (`AUTH_PROVIDER=local`) and Keycloak
//! (`AUTH_PROVIDER=keycloak`).

mod claims;
mod hashing;
mod keycloak;
mod keys;
mod local;

pub use keycloak::{KeycloakConfig, KeycloakIdentityProvider};

pub use local::{
    DEFAULT_ACCESS_TOKEN_TTL, DEFAULT_REFRESH_TOKEN_TTL, LocalIdentityConfig, LocalIdentityProvider,
};
