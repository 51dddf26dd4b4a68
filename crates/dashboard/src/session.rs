//! The pure parts of the dashboard's sessions: random ids and tokens, the hash a session is
//! stored under, the constant-time form-token check, and the cookies.

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "shop_admin";
/// The sign-in form's token cookie (there is no session yet to hold it).
pub const LOGIN_CSRF_COOKIE: &str = "shop_admin_login";

/// 32 random bytes, URL-safe base64 (43 characters); `None` when the system has no randomness.
pub fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// What a session id is stored under: its SHA-256, hex.
pub fn id_hash(id: &str) -> String {
    Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether the token a form sent is the expected one, compared in constant time; a missing or
/// empty one never is.
pub fn csrf_matches(expected: &str, sent: Option<&str>) -> bool {
    match sent {
        Some(sent) if !sent.is_empty() && !expected.is_empty() => {
            bool::from(expected.as_bytes().ct_eq(sent.as_bytes()))
        }
        _ => false,
    }
}

/// The value of the cookie `name` of a request, if it sent one.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// Whether the request came over TLS: its URI says `https`, or the proxy in front of the
/// service says so in `X-Forwarded-Proto` (believing it can only add `Secure`, which at worst
/// keeps the cookie from a client that lied about it).
pub fn came_over_tls(uri_scheme: Option<&str>, headers: &HeaderMap) -> bool {
    uri_scheme == Some("https")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value for the dashboard: `HttpOnly`, `SameSite=Strict`, `Path=/admin`,
/// `Secure` over TLS; `max_age` seconds, 0 to remove it.
pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/admin; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn the_id_is_stored_as_its_hash() {
        let h = id_hash("abc");
        assert_eq!(
            h,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(!h.contains("abc"));
    }

    #[test]
    fn csrf_needs_the_exact_token() {
        assert!(csrf_matches("tok", Some("tok")));
        assert!(!csrf_matches("tok", Some("toK")));
        assert!(!csrf_matches("tok", Some("to")));
        assert!(!csrf_matches("tok", Some("")));
        assert!(!csrf_matches("tok", None));
        assert!(!csrf_matches("", Some("")));
    }

    #[test]
    fn cookies_are_http_only_strict_and_scoped() {
        let plain = set_cookie(SESSION_COOKIE, "v", 60, false);
        assert_eq!(
            plain,
            "shop_admin=v; Path=/admin; Max-Age=60; HttpOnly; SameSite=Strict"
        );
        let tls = set_cookie(SESSION_COOKIE, "v", 0, true);
        assert!(tls.ends_with("; Secure"));
        assert!(tls.contains("Max-Age=0"));
    }

    #[test]
    fn secure_follows_tls_or_the_forwarded_proto() {
        let mut h = HeaderMap::new();
        assert!(!came_over_tls(None, &h));
        assert!(came_over_tls(Some("https"), &h));
        h.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS, http"));
        assert!(came_over_tls(None, &h));
        h.insert("x-forwarded-proto", HeaderValue::from_static("http"));
        assert!(!came_over_tls(None, &h));
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; shop_admin=xyz; shop_admin_login=q"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, LOGIN_CSRF_COOKIE), Some("q"));
        assert_eq!(cookie(&h, "b"), None);
        h.insert(header::COOKIE, HeaderValue::from_static("shop_admin="));
        assert_eq!(cookie(&h, SESSION_COOKIE), None);
    }
}
