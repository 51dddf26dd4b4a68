//! The Google Drive file store, end to end, against a stand-in of the Drive v3 API that each
//! test starts on a free port: OAuth token refresh, file search with the `q` forms the adapter
//! sends, folder creation, multipart upload, download (`alt=media`), update, trash, and Drive's
//! error bodies. The adapter is the production one; only its `api_base` points here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use application::ports::{FileBody, FileStore, StorageError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use infrastructure::{GdriveConfig, OpendalStore, Secret};
use serde_json::{Value, json};

const CLIENT_ID: &str = "shop-test.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-test-secret";
const REFRESH_TOKEN: &str = "1//test-refresh-token";
const FOLDER: &str = "application/vnd.google-apps.folder";

#[derive(Clone, Debug)]
struct DriveFile {
    id: String,
    name: String,
    mime_type: String,
    parents: Vec<String>,
    content: Vec<u8>,
    trashed: bool,
    modified: u64,
}

impl DriveFile {
    /// The short form the upload endpoints answer.
    fn upload_json(&self) -> Value {
        json!({
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
        })
    }

    fn json(&self) -> Value {
        let mut v = json!({
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "parents": self.parents,
            // Drive's times are RFC 3339; `modified` only orders them.
            "modifiedTime": format!("2026-01-01T00:00:{:02}.{:03}Z", (self.modified / 1000) % 60, self.modified % 1000),
        });
        if self.mime_type != FOLDER {
            // Drive sends sizes as strings.
            v["size"] = json!(self.content.len().to_string());
        }
        v
    }
}

/// How the stand-in misbehaves, when asked to.
#[derive(Default)]
struct Faults {
    /// The next uploads answer 500 before storing anything.
    fail_uploads: usize,
    /// The next uploads store the file, then answer 500 all the same.
    fail_uploads_after_storing: usize,
    /// Every upload answers 403 with Drive's quota error (a service account's lot).
    quota_exceeded: bool,
    /// Every request answers 503.
    down: bool,
}

#[derive(Default)]
struct Drive {
    files: HashMap<String, DriveFile>,
    /// Access tokens issued, with the moment Drive stops accepting each.
    tokens: HashMap<String, Instant>,
    /// `expires_in` the token endpoint announces.
    announced_lifetime: u64,
    /// How long a token really lasts.
    real_lifetime: Duration,
    token_requests: usize,
    /// Every token request's query string and form body.
    token_traffic: Vec<(String, String)>,
    /// `q` of every search.
    queries: Vec<String>,
    faults: Faults,
    clock: u64,
}

type Shared = Arc<Mutex<Drive>>;

/// Drive's 500, as a fault makes it answer.
fn backend_error() -> Response {
    drive_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "backendError",
        "Backend Error",
    )
}

fn drive_error(status: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({
        "error": {
            "code": status.as_u16(),
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
        }
    });
    (status, axum::Json(body)).into_response()
}

fn not_found(id: &str) -> Response {
    drive_error(
        StatusCode::NOT_FOUND,
        "notFound",
        &format!("File not found: {id}."),
    )
}

impl Drive {
    fn new_id(&mut self) -> String {
        self.clock += 1;
        format!("drv{:06}", self.clock)
    }

    fn create(&mut self, name: &str, mime_type: &str, parent: &str, content: Vec<u8>) -> DriveFile {
        let file = DriveFile {
            id: self.new_id(),
            name: name.to_owned(),
            mime_type: mime_type.to_owned(),
            parents: vec![parent.to_owned()],
            content,
            trashed: false,
            modified: self.clock,
        };
        self.files.insert(file.id.clone(), file.clone());
        file
    }

    fn live(&self) -> impl Iterator<Item = &DriveFile> {
        self.files.values().filter(|f| !f.trashed)
    }

    /// The live files of `name` under the folder path `path` (from My Drive's root).
    fn find(&self, path: &[&str]) -> Vec<DriveFile> {
        let mut parents = vec!["root".to_owned()];
        let mut found = Vec::new();
        for name in path {
            found = self
                .live()
                .filter(|f| f.name == *name && f.parents.iter().any(|p| parents.contains(p)))
                .cloned()
                .collect();
            parents = found.iter().map(|f| f.id.clone()).collect();
        }
        found
    }
}

/// One clause of a search, as Drive's query language writes it.
enum Clause {
    Name(String),
    Parent(String),
    MimeType(String),
    NotTrashed,
}

/// The `q` forms the adapter sends: `name = '…' and '…' in parents and trashed = false
/// [and mimeType = '…']`, and `'…' in parents and trashed = false` (a listing).
fn parse_q(q: &str) -> Option<Vec<Clause>> {
    fn quoted(s: &str) -> Option<String> {
        let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
        Some(inner.replace("\\'", "'"))
    }
    q.split(" and ")
        .map(|c| {
            let c = c.trim();
            if let Some(v) = c.strip_prefix("name = ") {
                quoted(v).map(Clause::Name)
            } else if let Some(v) = c.strip_suffix(" in parents") {
                quoted(v).map(Clause::Parent)
            } else if let Some(v) = c.strip_prefix("mimeType = ") {
                quoted(v).map(Clause::MimeType)
            } else if c == "trashed = false" {
                Some(Clause::NotTrashed)
            } else {
                None
            }
        })
        .collect()
}

async fn token(State(drive): State<Shared>, request: Request) -> Response {
    let query = request.uri().query().unwrap_or("").to_owned();
    let body = axum::body::to_bytes(request.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let form: HashMap<String, String> = url_decoded(&String::from_utf8_lossy(&body));
    let mut d = drive.lock().unwrap();
    d.token_traffic
        .push((query, String::from_utf8_lossy(&body).into_owned()));
    d.token_requests += 1;
    let valid = form.get("grant_type").map(String::as_str) == Some("refresh_token")
        && form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
        && form.get("refresh_token").map(String::as_str) == Some(REFRESH_TOKEN);
    if !valid {
        // Google's token endpoint answers in OAuth's shape, not Drive's.
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant", "error_description": "Bad Request"})),
        )
            .into_response();
    }
    let access_token = format!("ya29.test-{}", d.token_requests);
    let expires_at = Instant::now() + d.real_lifetime;
    d.tokens.insert(access_token.clone(), expires_at);
    axum::Json(json!({
        "access_token": access_token,
        "expires_in": d.announced_lifetime,
        "scope": "https://www.googleapis.com/auth/drive.file",
        "token_type": "Bearer",
    }))
    .into_response()
}

fn url_decoded(s: &str) -> HashMap<String, String> {
    s.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Drive's side of authentication: a bearer token it issued and that has not expired.
async fn authorize(State(drive): State<Shared>, request: Request, next: Next) -> Response {
    {
        let d = drive.lock().unwrap();
        if d.faults.down {
            return drive_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "backendError",
                "The service is currently unavailable.",
            );
        }
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let valid = token
            .and_then(|t| d.tokens.get(t))
            .is_some_and(|until| *until > Instant::now());
        if !valid {
            return drive_error(
                StatusCode::UNAUTHORIZED,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            );
        }
    }
    next.run(request).await
}

async fn list(
    State(drive): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let q = params.get("q").cloned().unwrap_or_default();
    let Some(clauses) = parse_q(&q) else {
        return drive_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            &format!("Invalid Value: q={q}"),
        );
    };
    let mut d = drive.lock().unwrap();
    d.queries.push(q);
    let mut files: Vec<DriveFile> = d
        .files
        .values()
        .filter(|f| {
            clauses.iter().all(|c| match c {
                Clause::Name(n) => &f.name == n,
                Clause::Parent(p) => f.parents.contains(p),
                Clause::MimeType(m) => &f.mime_type == m,
                Clause::NotTrashed => !f.trashed,
            })
        })
        .cloned()
        .collect();
    // `orderBy=modifiedTime desc`, as the adapter asks for.
    files.sort_by_key(|f| std::cmp::Reverse(f.modified));
    if let Some(n) = params.get("pageSize").and_then(|n| n.parse().ok()) {
        files.truncate(n);
    }
    axum::Json(json!({
        "kind": "drive#fileList",
        "files": files.iter().map(DriveFile::json).collect::<Vec<_>>(),
    }))
    .into_response()
}

async fn get_file(
    State(drive): State<Shared>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let d = drive.lock().unwrap();
    let Some(file) = d.files.get(&id).filter(|f| !f.trashed) else {
        return not_found(&id);
    };
    if params.get("alt").map(String::as_str) != Some("media") {
        return axum::Json(file.json()).into_response();
    }
    let len = file.content.len();
    // `Range: bytes=a-b` or `bytes=a-`, as the adapter may send.
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| {
            let start: usize = a.parse().ok()?;
            let end: usize = if b.is_empty() {
                len.checked_sub(1)?
            } else {
                b.parse().ok()?
            };
            Some((start, end.min(len.saturating_sub(1))))
        });
    match range {
        Some((start, end)) if start > 0 || end + 1 < len => (
            StatusCode::PARTIAL_CONTENT,
            [(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))],
            file.content[start..=end].to_vec(),
        )
            .into_response(),
        _ => (StatusCode::OK, file.content.clone()).into_response(),
    }
}

/// `PATCH /drive/v3/files/{id}`: the adapter uses it to trash a file.
async fn update_metadata(
    State(drive): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(changes) = serde_json::from_slice::<Value>(&body) else {
        return drive_error(StatusCode::BAD_REQUEST, "parseError", "Parse Error");
    };
    let mut d = drive.lock().unwrap();
    d.clock += 1;
    let clock = d.clock;
    let Some(file) = d.files.get_mut(&id).filter(|f| !f.trashed) else {
        return not_found(&id);
    };
    if let Some(trashed) = changes["trashed"].as_bool() {
        file.trashed = trashed;
    }
    if let Some(name) = changes["name"].as_str() {
        file.name = name.to_owned();
    }
    file.modified = clock;
    axum::Json(file.json()).into_response()
}

/// `POST /drive/v3/files`: folders (metadata only).
async fn create_metadata(State(drive): State<Shared>, body: Bytes) -> Response {
    let Ok(meta) = serde_json::from_slice::<Value>(&body) else {
        return drive_error(StatusCode::BAD_REQUEST, "parseError", "Parse Error");
    };
    let (Some(name), Some(parent)) = (meta["name"].as_str(), meta["parents"][0].as_str()) else {
        return drive_error(
            StatusCode::BAD_REQUEST,
            "required",
            "Required parameter: name",
        );
    };
    let mime_type = meta["mimeType"]
        .as_str()
        .unwrap_or("application/octet-stream");
    let mut d = drive.lock().unwrap();
    if parent != "root" && !d.files.contains_key(parent) {
        return not_found(parent);
    }
    let file = d.create(name, mime_type, parent, Vec::new());
    axum::Json(file.json()).into_response()
}

/// `POST /upload/drive/v3/files?uploadType=multipart`: a new file, metadata and content.
async fn upload(
    State(drive): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
    mut multipart: Multipart,
) -> Response {
    if params.get("uploadType").map(String::as_str) != Some("multipart") {
        return drive_error(StatusCode::BAD_REQUEST, "invalid", "Invalid uploadType");
    }
    let (mut meta, mut content) = (None, None);
    while let Ok(Some(field)) = multipart.next_field().await {
        match field.name() {
            Some("metadata") => meta = field.bytes().await.ok(),
            Some("file") => content = field.bytes().await.ok(),
            _ => {}
        }
    }
    let meta: Value = meta
        .and_then(|m| serde_json::from_slice(&m).ok())
        .unwrap_or(Value::Null);
    let (Some(name), Some(parent), Some(content)) =
        (meta["name"].as_str(), meta["parents"][0].as_str(), content)
    else {
        return drive_error(StatusCode::BAD_REQUEST, "badContent", "Bad multipart body");
    };
    let mut d = drive.lock().unwrap();
    if d.faults.quota_exceeded {
        return drive_error(
            StatusCode::FORBIDDEN,
            "storageQuotaExceeded",
            "Service Accounts do not have storage quota. Leverage shared drives, or use OAuth delegation instead.",
        );
    }
    if d.faults.fail_uploads > 0 {
        d.faults.fail_uploads -= 1;
        return backend_error();
    }
    if !d.files.contains_key(parent) {
        return not_found(parent);
    }
    let file = d.create(name, "application/octet-stream", parent, content.to_vec());
    if d.faults.fail_uploads_after_storing > 0 {
        d.faults.fail_uploads_after_storing -= 1;
        return backend_error();
    }
    axum::Json(file.upload_json()).into_response()
}

/// `PATCH /upload/drive/v3/files/{id}?uploadType=media`: new content for a file.
async fn update_content(
    State(drive): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let mut d = drive.lock().unwrap();
    d.clock += 1;
    let clock = d.clock;
    let Some(file) = d.files.get_mut(&id).filter(|f| !f.trashed) else {
        return not_found(&id);
    };
    file.content = body.to_vec();
    file.modified = clock;
    axum::Json(file.upload_json()).into_response()
}

struct StandIn {
    drive: Shared,
    base: String,
}

impl StandIn {
    async fn start() -> Self {
        let drive: Shared = Arc::new(Mutex::new(Drive {
            announced_lifetime: 3599,
            real_lifetime: Duration::from_secs(3599),
            ..Drive::default()
        }));
        let api = Router::new()
            .route("/drive/v3/files", get(list).post(create_metadata))
            .route("/drive/v3/files/{id}", get(get_file).patch(update_metadata))
            .route("/upload/drive/v3/files", post(upload))
            .route("/upload/drive/v3/files/{id}", patch(update_content))
            .layer(middleware::from_fn_with_state(drive.clone(), authorize));
        let app = Router::new()
            .route("/token", post(token))
            .merge(api)
            .with_state(drive.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { drive, base }
    }

    fn store(&self) -> OpendalStore {
        let _ = rustls::crypto::ring::default_provider().install_default();
        OpendalStore::gdrive(GdriveConfig {
            client_id: CLIENT_ID.into(),
            client_secret: Secret::new(CLIENT_SECRET),
            refresh_token: Secret::new(REFRESH_TOKEN),
            root: "/shop".into(),
            api_base: Some(self.base.clone()),
        })
        .expect("the Drive store builds")
    }

    fn drive(&self) -> std::sync::MutexGuard<'_, Drive> {
        self.drive.lock().unwrap()
    }

    /// The live files of one name in `/shop/images`.
    fn images_named(&self, name: &str) -> Vec<DriveFile> {
        self.drive().find(&["shop", "images", name])
    }
}

fn body(bytes: &[u8]) -> FileBody {
    FileBody::from(bytes.to_vec())
}

fn new_key() -> (String, String) {
    let name = uuid::Uuid::now_v7().to_string();
    (format!("images/{name}"), name)
}

/// A store on `s` that has uploaded once already.
async fn warmed_up(s: &StandIn) -> OpendalStore {
    let store = s.store();
    store
        .put(&new_key().0, body(b"GIF89a; warm-up"))
        .await
        .unwrap();
    store
}

/// The text of the cause of an `Unavailable`; panics on anything else.
fn unavailable_text<T: std::fmt::Debug>(result: Result<T, StorageError>) -> String {
    match result {
        Err(StorageError::Unavailable(source)) => source.to_string(),
        other => panic!("not unavailable: {other:?}"),
    }
}

async fn read(store: &OpendalStore, file: &domain::StoredFile) -> Vec<u8> {
    store.get(file).await.unwrap().into_chunks().concat()
}

#[tokio::test]
async fn a_file_goes_to_drive_and_back_and_to_the_trash() {
    let s = StandIn::start().await;
    let store = s.store();
    // Before the first upload there is no folder yet; Drive answering is what counts.
    store.check().await.unwrap();

    let (key, name) = new_key();
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let file = store.put(&key, body(&bytes)).await.unwrap();
    assert_eq!(file.key, key);
    let on_drive = s.images_named(&name);
    assert_eq!(on_drive.len(), 1, "one file of that name");
    assert_eq!(
        file.file_id.as_deref(),
        Some(on_drive[0].id.as_str()),
        "Drive's id is kept"
    );
    assert_eq!(on_drive[0].content, bytes);
    assert_eq!(s.drive().find(&["shop"]).len(), 1, "one folder /shop");
    assert_eq!(
        s.drive().find(&["shop", "images"]).len(),
        1,
        "one folder /shop/images"
    );

    assert_eq!(read(&store, &file).await, bytes, "byte for byte");
    store.check().await.unwrap();

    // A second store (another instance of the shop) finds the file by its path.
    assert_eq!(read(&s.store(), &file).await, bytes);

    store.delete(&file).await.unwrap();
    assert!(s.images_named(&name).is_empty());
    let trashed = s.drive().files[&on_drive[0].id].trashed;
    assert!(trashed, "Drive's delete is a move to the trash");
    assert!(matches!(
        store.get(&file).await,
        Err(StorageError::NotFound)
    ));
    store.delete(&file).await.unwrap();

    let d = s.drive();
    assert!(
        d.queries
            .iter()
            .any(|q| q.starts_with("name = ") && q.contains(" in parents and trashed = false")),
        "searches by name: {:?}",
        d.queries
    );
    assert!(
        d.queries
            .iter()
            .any(|q| q.contains("mimeType = 'application/vnd.google-apps.folder'"))
    );
}

#[tokio::test]
async fn the_client_secret_and_refresh_token_travel_in_the_body_only() {
    let s = StandIn::start().await;
    let store = s.store();
    let (key, _) = new_key();
    store.put(&key, body(b"GIF89a;")).await.unwrap();
    let d = s.drive();
    assert!(!d.token_traffic.is_empty());
    for (query, form) in &d.token_traffic {
        assert_eq!(query, "", "nothing in the token request's URL");
        assert!(
            form.contains("client_secret=") && form.contains("refresh_token="),
            "{form}"
        );
    }
}

#[tokio::test]
async fn a_token_that_expires_mid_test_is_renewed() {
    let s = StandIn::start().await;
    {
        // Two seconds of validity: the adapter renews two minutes before the announced end,
        // so it holds the token for about one second.
        let mut d = s.drive();
        d.announced_lifetime = 121;
        d.real_lifetime = Duration::from_millis(2000);
    }
    let store = s.store();
    let (key, _) = new_key();
    let file = store
        .put(&key, body(b"\x89PNG\r\n\x1a\n one"))
        .await
        .unwrap();
    assert_eq!(s.drive().token_requests, 1);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    // The first token is dead on Drive's side by now.
    assert_eq!(read(&store, &file).await, b"\x89PNG\r\n\x1a\n one");
    assert_eq!(s.drive().token_requests, 2, "renewed once");
}

#[tokio::test]
async fn a_token_drive_refuses_before_its_announced_end_is_renewed() {
    let s = StandIn::start().await;
    let store = s.store();
    let (key, _) = new_key();
    let file = store.put(&key, body(b"\xff\xd8\xff jpeg")).await.unwrap();
    assert_eq!(s.drive().token_requests, 1);
    // Revoked (or expired early): Drive answers 401 to the token the adapter still trusts.
    s.drive().tokens.clear();
    assert_eq!(read(&store, &file).await, b"\xff\xd8\xff jpeg");
    assert_eq!(s.drive().token_requests, 2);
    let (other, _) = new_key();
    store.put(&other, body(b"GIF89a;")).await.unwrap();
    assert_eq!(s.drive().token_requests, 2, "the new token is kept");
}

#[tokio::test]
async fn a_drive_5xx_on_upload_is_retried_and_leaves_one_file() {
    let s = StandIn::start().await;
    let store = warmed_up(&s).await;

    // Drive fails before storing: the retry uploads again.
    s.drive().faults.fail_uploads = 1;
    let (k, name) = new_key();
    let file = store.put(&k, body(b"GIF89a; first")).await.unwrap();
    assert_eq!(s.drive().faults.fail_uploads, 0, "the 500 was answered");
    let on_drive = s.images_named(&name);
    assert_eq!(on_drive.len(), 1);
    assert_eq!(file.file_id.as_deref(), Some(on_drive[0].id.as_str()));
    assert_eq!(on_drive[0].content, b"GIF89a; first");

    // Drive stores the file but answers 500: the retry finds it by name and overwrites it.
    s.drive().faults.fail_uploads_after_storing = 1;
    let (k, name) = new_key();
    let file = store.put(&k, body(b"GIF89a; second")).await.unwrap();
    assert_eq!(
        s.drive().faults.fail_uploads_after_storing,
        0,
        "the 500 was answered"
    );
    let on_drive = s.images_named(&name);
    assert_eq!(on_drive.len(), 1, "no second file of that name");
    assert_eq!(on_drive[0].content, b"GIF89a; second");
    assert_eq!(file.file_id.as_deref(), Some(on_drive[0].id.as_str()));
    assert_eq!(read(&store, &file).await, b"GIF89a; second");
}

#[tokio::test]
async fn a_drive_that_keeps_failing_is_unavailable_and_keeps_nothing() {
    let s = StandIn::start().await;
    let store = warmed_up(&s).await;

    s.drive().faults.fail_uploads = usize::MAX;
    let (k, name) = new_key();
    let err = store.put(&k, body(b"GIF89a; lost")).await.unwrap_err();
    assert!(matches!(err, StorageError::Unavailable(_)), "{err:?}");
    assert!(s.images_named(&name).is_empty());

    s.drive().faults.fail_uploads = 0;
    s.drive().faults.down = true;
    assert!(matches!(
        store.check().await,
        Err(StorageError::Unavailable(_))
    ));
}

#[tokio::test]
async fn drives_error_bodies_reach_the_log() {
    let s = StandIn::start().await;
    let store = s.store();
    s.drive().faults.quota_exceeded = true;
    let text = unavailable_text(store.put(&new_key().0, body(b"GIF89a;")).await);
    assert!(
        text.contains("Service Accounts do not have storage quota"),
        "{text}"
    );
    assert!(
        !text.contains(CLIENT_SECRET) && !text.contains(REFRESH_TOKEN),
        "{text}"
    );
}

#[tokio::test]
async fn a_wrong_refresh_token_is_unavailable_without_leaking_it() {
    let s = StandIn::start().await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store = OpendalStore::gdrive(GdriveConfig {
        client_id: CLIENT_ID.into(),
        client_secret: Secret::new(CLIENT_SECRET),
        refresh_token: Secret::new("1//revoked"),
        root: "/shop".into(),
        api_base: Some(s.base.clone()),
    })
    .unwrap();
    let text = unavailable_text(store.put(&new_key().0, body(b"GIF89a;")).await);
    assert!(text.contains("invalid_grant"), "{text}");
    assert!(
        !text.contains(CLIENT_SECRET) && !text.contains("1//revoked"),
        "{text}"
    );
}
