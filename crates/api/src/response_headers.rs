//! Response headers every answer carries (content sniffing, framing, referrers, a content
//! security policy), the policy of the `/docs` page, and CORS from the settings.
//!
//! `Referrer-Policy: no-referrer`: the API serves JSON and a docs page that links nowhere
//! else, so no request it causes has a reason to say where it came from.

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

/// The policy of every response but the docs page: it loads nothing and may not be framed.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The policy of `/docs`: the vendored Swagger UI's own scripts, styles and images and the
/// OpenAPI document, all from this origin; nothing from anywhere else. Its scripts are files
/// (no inline script). Swagger UI sets `style` attributes from script (hence `'unsafe-inline'`
/// for styles only) and draws icons as `data:` SVGs in its stylesheet.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Which origins browsers may call the API from (`CORS_ALLOWED_ORIGINS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    /// None: no CORS headers at all (the default).
    #[default]
    None,
    /// Any origin (`*`); never with credentials.
    Any,
    /// These exact origins (`https://shop.example`, `http://localhost:3000`).
    List(Vec<HeaderValue>),
}

impl CorsOrigins {
    /// A comma-separated list of origins (`scheme://host[:port]`), or `*`; empty is none.
    ///
    /// # Errors
    /// The first entry that is not an origin, as a message naming it.
    pub fn parse(list: &str) -> Result<Self, String> {
        let entries: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if entries.is_empty() {
            return Ok(Self::None);
        }
        if entries.contains(&"*") {
            return if entries.len() == 1 {
                Ok(Self::Any)
            } else {
                Err("`*` cannot be listed with other origins".into())
            };
        }
        entries
            .into_iter()
            .map(|origin| {
                let bad = || {
                    format!(
                        "`{origin}` is not an origin (scheme://host[:port], no path), e.g. https://shop.example"
                    )
                };
                let (scheme, rest) = origin.split_once("://").ok_or_else(bad)?;
                let host_ok = !rest.is_empty()
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
                if !matches!(scheme, "http" | "https") || !host_ok {
                    return Err(bad());
                }
                // Browsers send the origin in lower case.
                HeaderValue::from_str(&origin.to_ascii_lowercase()).map_err(|_| bad())
            })
            .collect::<Result<_, _>>()
            .map(Self::List)
    }
}

/// CORS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    /// `CORS_ALLOWED_ORIGINS`.
    pub origins: CorsOrigins,
    /// `CORS_ALLOW_CREDENTIALS`: let browsers send cookies and HTTP auth (not needed for bearer
    /// tokens, which the page's script sets itself).
    pub allow_credentials: bool,
}

/// Wraps the `/docs` routes in their content security policy.
pub(crate) fn docs<S: Clone + Send + Sync + 'static>(docs: Router<S>) -> Router<S> {
    docs.layer(SetResponseHeaderLayer::overriding(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DOCS_CSP),
    ))
}

/// Adds the security headers to every response (where a route has not set its own) and,
/// when origins are configured, CORS.
pub(crate) fn apply(router: Router, cors: &Cors) -> Router {
    let router = router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ));
    match cors_layer(cors) {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

fn cors_layer(cors: &Cors) -> Option<CorsLayer> {
    let origins = match &cors.origins {
        CorsOrigins::None => return None,
        CorsOrigins::Any => AllowOrigin::any(),
        CorsOrigins::List(list) => AllowOrigin::list(list.iter().cloned()),
    };
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                IDEMPOTENCY_KEY,
                REQUEST_ID,
            ])
            .expose_headers([
                header::LOCATION,
                header::RETRY_AFTER,
                REQUEST_ID,
                IDEMPOTENT_REPLAYED,
            ])
            .allow_credentials(cors.allow_credentials)
            .max_age(Duration::from_secs(600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_lists_a_star_or_nothing() {
        assert_eq!(CorsOrigins::parse(""), Ok(CorsOrigins::None));
        assert_eq!(CorsOrigins::parse(" , "), Ok(CorsOrigins::None));
        assert_eq!(CorsOrigins::parse("*"), Ok(CorsOrigins::Any));
        assert_eq!(
            CorsOrigins::parse("https://Shop.example, http://localhost:3000,http://[::1]:8080"),
            Ok(CorsOrigins::List(vec![
                HeaderValue::from_static("https://shop.example"),
                HeaderValue::from_static("http://localhost:3000"),
                HeaderValue::from_static("http://[::1]:8080"),
            ]))
        );
        for bad in [
            "shop.example",
            "https://shop.example/",
            "https://shop.example/app",
            "ftp://shop.example",
            "https://",
            "*, https://shop.example",
        ] {
            assert!(CorsOrigins::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
