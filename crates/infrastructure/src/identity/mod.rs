//! Identity providers: the built-in one (`AUTH_PROVIDER=local`) lives here.

mod hashing;
mod keys;
mod local;

pub use local::{
    DEFAULT_ACCESS_TOKEN_TTL, DEFAULT_REFRESH_TOKEN_TTL, LocalIdentityConfig, LocalIdentityProvider,
};
