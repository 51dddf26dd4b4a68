//! Google Drive through OpenDAL's `gdrive` service, with an HTTP transport of the shop's own
//! around reqwest. The transport
//! - moves the OAuth client secret and refresh token, which OpenDAL puts in the query string
//!   of the token request, into a form body (query strings end up in error messages, and so in
//!   logs, and in proxies' access logs);
//! - sends every request to `api_base` instead of Google's hosts when one is configured (the
//!   tests' stand-in of the Drive API; production leaves it unset);
//! - notes the file id Drive answers for each upload, which OpenDAL keeps to itself (Drive
//!   allows two files of one name in a folder: only the id names a file for sure);
//! - notes a 401, so that the store can fetch a new access token and try again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use opendal::layers::RetryLayer;
use opendal::{
    Buffer, ErrorKind, HttpBody, HttpTransport, HttpTransporter, OperationContext, Operator,
};
use opendal_http_transport_reqwest::ReqwestTransport;
use serde::Deserialize;

use crate::Secret;

const DRIVE_HOST: &str = "https://www.googleapis.com";
const OAUTH_HOST: &str = "https://oauth2.googleapis.com";
const UPLOAD_PREFIX: &str = "https://www.googleapis.com/upload/drive/v3/files";

/// How the shop signs in to Google Drive and where it keeps its files there.
#[derive(Debug, Clone)]
pub struct GdriveConfig {
    /// OAuth client id (a "Desktop app" client of a Google Cloud project with the Drive API on).
    pub client_id: String,
    /// That client's secret.
    pub client_secret: Secret,
    /// A refresh token the account that owns the files granted to that client.
    pub refresh_token: Secret,
    /// The folder, as a path from the root of My Drive (e.g. `/shop`); made when missing.
    pub root: String,
    /// A base URL (`http://127.0.0.1:PORT`) that takes the place of `https://www.googleapis.com`
    /// and `https://oauth2.googleapis.com`: a stand-in of the Drive API for tests. `None` (the
    /// only production value) talks to Google.
    pub api_base: Option<String>,
}

/// What the transport learns and the store reads.
#[derive(Default)]
struct Observed {
    /// Drive's file id of each uploaded file, by file name (the shop's names are unique).
    file_ids: Mutex<HashMap<String, String>>,
    /// Drive refused an access token since this was last taken.
    unauthorized: AtomicBool,
}

/// Builds Drive operators that share one transport.
pub(super) struct Drive {
    config: GdriveConfig,
    transport: DriveTransport,
}

impl Drive {
    pub(super) fn new(config: GdriveConfig) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()?;
        let transport = DriveTransport {
            inner: ReqwestTransport::new(client),
            api_base: config
                .api_base
                .as_deref()
                .map(|b| Arc::from(b.trim_end_matches('/'))),
            observed: Arc::default(),
        };
        Ok(Self { config, transport })
    }

    /// A new operator: it starts with no access token, so its first request fetches one.
    pub(super) fn operator(&self) -> opendal::Result<Operator> {
        let c = &self.config;
        let builder = opendal::services::Gdrive::default()
            .root(&c.root)
            .client_id(&c.client_id)
            .client_secret(c.client_secret.expose())
            .refresh_token(c.refresh_token.expose());
        // Drive's 5xx (and a lost connection) are worth two more tries; an upload that Drive
        // kept despite its error is found by name on the next try and overwritten, not doubled.
        let retry = RetryLayer::new()
            .with_max_times(2)
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(1))
            .with_jitter();
        let ctx = OperationContext::new()
            .with_http_transport(HttpTransporter::new(self.transport.clone()));
        Ok(Operator::new(builder)?.layer(retry).with_context(ctx))
    }

    /// Whether Drive refused an access token since the last call.
    pub(super) fn take_unauthorized(&self) -> bool {
        self.transport
            .observed
            .unauthorized
            .swap(false, Ordering::SeqCst)
    }

    /// Drive's id of the file just uploaded under `key`.
    pub(super) fn take_file_id(&self, key: &str) -> Option<String> {
        let name = key.rsplit('/').next().unwrap_or(key);
        self.transport
            .observed
            .file_ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)
    }
}

#[derive(Clone)]
struct DriveTransport {
    inner: ReqwestTransport,
    api_base: Option<Arc<str>>,
    observed: Arc<Observed>,
}

fn bad_request(
    what: &'static str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> opendal::Error {
    opendal::Error::new(ErrorKind::Unexpected, what).set_source(e)
}

impl DriveTransport {
    /// The request as it goes on the wire: token parameters in the body, host replaced.
    fn prepare(&self, req: Request<Buffer>) -> opendal::Result<Request<Buffer>> {
        let (mut parts, mut body) = req.into_parts();
        let mut url = parts.uri.to_string();
        if url.starts_with(OAUTH_HOST)
            && let Some((path, query)) = url.split_once('?')
        {
            // The query is already form-encoded; RFC 6749 section 6 wants exactly this as
            // an `application/x-www-form-urlencoded` body.
            body = Buffer::from(Bytes::from(query.to_owned()));
            parts.headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
            url = path.to_owned();
        }
        if let Some(base) = &self.api_base {
            for host in [DRIVE_HOST, OAUTH_HOST] {
                if let Some(rest) = url.strip_prefix(host) {
                    url = format!("{base}{rest}");
                    break;
                }
            }
        }
        parts.uri = url
            .parse()
            .map_err(|e| bad_request("request url is invalid", e))?;
        Ok(Request::from_parts(parts, body))
    }

    /// Reads an upload's answer (a small JSON object) to note the file's id, and hands on the
    /// same bytes.
    async fn note_file_id(&self, resp: Response<HttpBody>) -> opendal::Result<Response<HttpBody>> {
        #[derive(Deserialize)]
        struct Uploaded {
            id: String,
            name: String,
        }
        let (parts, mut body) = resp.into_parts();
        let buffer = body.to_buffer().await?;
        if let Ok(file) = serde_json::from_slice::<Uploaded>(&buffer.to_bytes()) {
            self.observed
                .file_ids
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(file.name, file.id);
        }
        let len = buffer.len() as u64;
        let body = HttpBody::new(futures_util::stream::iter([Ok(buffer)]), Some(len));
        Ok(Response::from_parts(parts, body))
    }
}

impl HttpTransport for DriveTransport {
    async fn fetch(&self, req: Request<Buffer>) -> opendal::Result<Response<HttpBody>> {
        let url = req.uri().to_string();
        let token_request = url.starts_with(OAUTH_HOST);
        let upload = url.starts_with(UPLOAD_PREFIX);
        let resp = self.inner.fetch(self.prepare(req)?).await?;
        if resp.status() == StatusCode::UNAUTHORIZED && !token_request {
            self.observed.unauthorized.store(true, Ordering::SeqCst);
        }
        if upload && resp.status().is_success() {
            return self.note_file_id(resp).await;
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(api_base: Option<&str>) -> DriveTransport {
        let _ = rustls::crypto::ring::default_provider().install_default();
        DriveTransport {
            inner: ReqwestTransport::new(reqwest::Client::new()),
            api_base: api_base.map(Arc::from),
            observed: Arc::default(),
        }
    }

    #[test]
    fn token_parameters_travel_in_the_body_not_the_url() {
        let req = Request::post(
            "https://oauth2.googleapis.com/token?refresh_token=1//rt&client_id=c&client_secret=s&grant_type=refresh_token",
        )
        .header(CONTENT_LENGTH, 0)
        .body(Buffer::new())
        .unwrap();
        let req = transport(None).prepare(req).unwrap();
        assert_eq!(req.uri().to_string(), "https://oauth2.googleapis.com/token");
        assert_eq!(
            req.body().to_bytes(),
            "refresh_token=1//rt&client_id=c&client_secret=s&grant_type=refresh_token"
        );
        assert_eq!(
            req.headers()[CONTENT_LENGTH],
            req.body().len().to_string().as_str()
        );
        assert_eq!(
            req.headers()[CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
    }

    #[test]
    fn a_base_url_replaces_both_google_hosts() {
        let t = transport(Some("http://127.0.0.1:9"));
        for (from, to) in [
            (
                "https://www.googleapis.com/drive/v3/files?q=x",
                "http://127.0.0.1:9/drive/v3/files?q=x",
            ),
            (
                "https://oauth2.googleapis.com/token?a=b",
                "http://127.0.0.1:9/token",
            ),
        ] {
            let req = Request::get(from).body(Buffer::new()).unwrap();
            assert_eq!(t.prepare(req).unwrap().uri().to_string(), to);
        }
        let untouched = Request::get("https://www.googleapis.com/drive/v3/files")
            .body(Buffer::new())
            .unwrap();
        assert_eq!(
            transport(None)
                .prepare(untouched)
                .unwrap()
                .uri()
                .to_string(),
            "https://www.googleapis.com/drive/v3/files"
        );
    }
}
