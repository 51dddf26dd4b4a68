//! Product images on the local file store: uploading as an admin, serving to anyone (with
//! validators and caching), deleting, and every way each of them refuses.

use std::path::{Path, PathBuf};

use futures_util::future::join_all;
use reqwest::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION};
use reqwest::multipart::{Form, Part};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{
    TestApp, assert_invalid, assert_problem, assert_unauthorized, str_of, unique,
};

both_dbs!(
    an_uploaded_image_is_served_to_anyone_byte_for_byte,
    each_type_is_known_by_its_bytes_not_by_its_name_or_part_type,
    a_matching_if_none_match_answers_304_without_the_bytes,
    products_list_their_images_in_upload_order,
    a_file_that_is_no_image_is_415_and_nothing_is_stored,
    a_body_that_is_not_multipart_is_415,
    an_upload_without_a_file_field_is_422,
    an_upload_of_exactly_the_limit_is_accepted,
    an_upload_over_the_limit_is_413_and_nothing_is_stored,
    an_oversized_upload_is_refused_before_the_body_is_read,
    a_declared_length_over_the_limit_is_refused_before_the_body_is_sent,
    only_admins_upload_and_delete_images,
    an_upload_to_an_unknown_or_deleted_product_is_404,
    the_client_file_name_is_never_used,
    deleting_an_image_removes_it_and_its_file,
    deleting_a_product_removes_its_images_and_their_files,
    an_unknown_or_malformed_image_id_is_404,
    a_store_that_is_down_answers_503_and_nothing_is_half_written,
    concurrent_uploads_all_land,
    the_readiness_check_reports_the_file_store,
    the_openapi_document_describes_the_image_routes,
);

const MIB: usize = 1024 * 1024;
/// The default `MAX_UPLOAD_BYTES`.
const LIMIT: usize = 10 * MIB;

/// A PNG signature and the IHDR chunk of a 1×1 image, then `extra`.
fn png(extra: &[u8]) -> Vec<u8> {
    let mut v =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    v.extend_from_slice(extra);
    v
}

/// JFIF start of image, APP0 segment, end of image.
fn jpeg() -> Vec<u8> {
    b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xff\xd9".to_vec()
}

/// The classic 1×1 transparent GIF.
fn gif() -> Vec<u8> {
    b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xff\xff\xff!\xf9\x04\x01\0\0\0\0,\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0;"
        .to_vec()
}

/// A RIFF container of a lossless WebP.
fn webp() -> Vec<u8> {
    b"RIFF\x1a\0\0\0WEBPVP8L\x0d\0\0\0\x2f\0\0\0\x10\x07\x10\x11\x11\x88\x88\xfe\x07\0".to_vec()
}

/// `len` bytes of noise (xorshift), different for each seed.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A PNG of exactly `len` bytes.
fn png_of_len(len: usize, seed: u64) -> Vec<u8> {
    let mut v = png(&[]);
    let rest = len - v.len();
    v.extend(noise(rest, seed));
    v
}

fn sha256_etag(bytes: &[u8]) -> String {
    format!("\"{:x}\"", Sha256::digest(bytes))
}

fn images_path(product: &str) -> String {
    format!("/api/v1/products/{product}/images")
}

/// Posts `bytes` as the multipart field `field`, under a file name and part type.
async fn upload_as(
    app: &TestApp,
    token: Option<&str>,
    product: &str,
    field: &str,
    bytes: Vec<u8>,
    file_name: &str,
    part_type: &str,
) -> Response {
    let part = Part::bytes(bytes)
        .file_name(file_name.to_owned())
        .mime_str(part_type)
        .unwrap();
    let mut req = app
        .client
        .post(app.url(&images_path(product)))
        .multipart(Form::new().part(field.to_owned(), part));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("upload failed")
}

async fn upload(app: &TestApp, token: Option<&str>, product: &str, bytes: Vec<u8>) -> Response {
    upload_as(
        app,
        token,
        product,
        "file",
        bytes,
        "image.bin",
        "application/octet-stream",
    )
    .await
}

/// Uploads (201 expected) and returns the Image.
async fn upload_ok(app: &TestApp, admin: &str, product: &str, bytes: Vec<u8>) -> Value {
    let resp = upload(app, Some(admin), product, bytes).await;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::CREATED, "upload: {text}");
    serde_json::from_str(&text).expect("an Image as JSON")
}

/// An admin token and a fresh product's id.
async fn admin_and_product(app: &TestApp) -> (String, String) {
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, &format!("IMG-{}", unique()))
        .await;
    (admin, str_of(&product, "id"))
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let resp = app.get(path, None).await;
    assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
    resp.json().await.unwrap()
}

async fn images_of(app: &TestApp, product: &str) -> Value {
    get_json(app, &format!("/api/v1/products/{product}")).await["images"].clone()
}

/// The store's folder of image files.
fn files_dir(app: &TestApp) -> PathBuf {
    app.settings.data_dir.join("files")
}

/// Every file under `dir`, as paths relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(
                    path.strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    found.sort();
    found
}

/// Files the store holds for images.
fn stored_images(app: &TestApp) -> Vec<String> {
    files_under(&files_dir(app))
}

async fn an_uploaded_image_is_served_to_anyone_byte_for_byte(app: TestApp) {
    let (admin, product) = admin_and_product(&app).await;
    let bytes = png_of_len(200_000, 1);
    let resp = upload(&app, Some(&admin), &product, bytes.clone()).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()[LOCATION].to_str().unwrap().to_owned();
    let image: Value = resp.json().await.unwrap();
    let id = str_of(&image, "id");
    uuid::Uuid::parse_str(&id).expect("`id` is a UUID");
    assert_eq!(
        image,
        json!({
            "id": id,
            "url": format!("/api/v1/files/{id}"),
            "content_type": "image/png",
            "size": bytes.len(),
        })
    );
    assert_eq!(location, format!("/api/v1/files/{id}"));

    let resp = app.get(&location, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let headers = resp.headers().clone();
    assert_eq!(headers[CONTENT_TYPE], "image/png");
    assert_eq!(headers[CONTENT_LENGTH], bytes.len().to_string().as_str());
    assert_eq!(headers[ETAG], sha256_etag(&bytes).as_str());
    assert_eq!(headers[CACHE_CONTROL], "public, max-age=86400, immutable");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(resp.bytes().await.unwrap(), bytes, "byte for byte");

    // HEAD answers the same headers without the bytes.
    let head = app.client.head(app.url(&location)).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()[ETAG], sha256_etag(&bytes).as_str());
    assert_eq!(stored_images(&app), [format!("images/{id}")]);
}

async fn each_type_is_known_by_its_bytes_not_by_its_name_or_part_type(app: TestApp) {
    let (admin, product) = admin_and_product(&app).await;
    for (bytes, name, part_type, expected) in [
        (jpeg(), "photo.png", "image/png", "image/jpeg"),
        (png(b"rest"), "photo.jpg", "text/plain", "image/png"),
        (gif(), "animation", "application/octet-stream", "image/gif"),
        (webp(), "photo.gif", "image/gif", "image/webp"),
    ] {
        let resp = upload_as(
            &app,
            Some(&admin),
            &product,
            "file",
            bytes.clone(),
            name,
            part_type,
        )
        .await;
        assert_eq!(resp.status(), StatusCode::CREATED, "{expected}");
        let image: Value = resp.json().await.unwrap();
        assert_eq!(image["content_type"], json!(expected));
        let served = app.get(&str_of(&image, "url"), None).await;
        assert_eq!(served.headers()[CONTENT_TYPE], expected);
        assert_eq!(served.bytes().await.unwrap(), bytes);
    }
}

async fn a_matching_if_none_match_answers_304_without_the_bytes(app: TestApp) {
    let (admin, product) = admin_and_product(&app).await;
    let bytes = png(b"cache me");
    let image = upload_ok(&app, &admin, &product, bytes.clone()).await;
    let url = app.url(&str_of(&image, "url"));
    let etag = sha256_etag(&bytes);

    for sent in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
        "*".to_owned(),
    ] {
        let resp = app
            .client
            .get(&url)
            .header(IF_NONE_MATCH, &sent)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::NOT_MODIFIED,
            "If-None-Match: {sent}"
        );
        assert_eq!(resp.headers()[ETAG], etag.as_str());
        assert_eq!(
            resp.headers()[CACHE_CONTROL],
            "public, max-age=86400, immutable"
        );
        assert!(resp.bytes().await.unwrap().is_empty());
    }
    let resp = app
        .client
        .get(&url)
        .header(IF_NONE_MATCH, "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap(), bytes);
}

async fn products_list_their_images_in_upload_order(app: TestApp) {
    let (admin, first) = admin_and_product(&app).await;
    let second = str_of(
        &app.create_product(&admin, &format!("IMG-{}", unique()))
            .await,
        "id",
    );
    let bare = str_of(
        &app.create_product(&admin, &format!("IMG-{}", unique()))
            .await,
        "id",
    );
    let mut of_first = Vec::new();
    for (i, bytes) in [png(b"1"), jpeg(), gif()].into_iter().enumerate() {
        of_first.push(upload_ok(&app, &admin, &first, bytes).await);
        if i == 0 {
            upload_ok(&app, &admin, &second, webp()).await;
        }
    }
    assert_eq!(images_of(&app, &first).await, json!(of_first));
    assert_eq!(images_of(&app, &second).await.as_array().unwrap().len(), 1);
    assert_eq!(images_of(&app, &bare).await, json!([]));

    let page = get_json(&app, "/api/v1/products?per_page=100").await;
    let by_id = |id: &str| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == json!(id))
            .unwrap_or_else(|| panic!("{id} not listed"))
            .clone()
    };
    assert_eq!(by_id(&first)["images"], json!(of_first));
    assert_eq!(by_id(&second)["images"].as_array().unwrap().len(), 1);
    assert_eq!(by_id(&bare)["images"], json!([]));

    // A change to the product answers its images too.
    let changed: Value = app
        .put_json(
            &format!("/api/v1/products/{first}"),
            &json!({"stock": 3}),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(changed["images"], json!(of_first));
}

async fn a_file_that_is_no_image_is_415_and_nothing_is_stored(app: TestApp) {
    let (admin, product) = admin_and_product(&app).await;
    for (bytes, part_type) in [
        (
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj".to_vec(),
            "image/png",
        ),
        (
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(),
            "image/svg+xml",
        ),
        (b"GIF88a\x01\0\x01\0".to_vec(), "image/gif"),
        (b"\x89PNG".to_vec(), "image/png"),
        (Vec::new(), "image/jpeg"),
        (noise(3 * MIB, 7), "image/jpeg"),
    ] {
        let resp = upload_as(
            &app,
            Some(&admin),
            &product,
            "file",
            bytes,
            "x.png",
            part_type,
        )
        .await;
        let problem = assert_problem(resp, 415).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("JPEG, PNG, WebP or GIF"),
            "{problem}"
        );
    }
    assert_eq!(images_of(&app, &product).await, json!([]));
    assert!(stored_images(&app).is_empty(), "{:?}", stored_images(&app));
}

async fn a_body_that_is_not_multipart_is_415(app: TestApp) {
    let (admin, product) = admin_and_product(&app).await;
    let resp = app
        .client
        .post(app.url(&images_path(&product)))
        .bearer_auth(&admin)
        .header(CONTENT_TYPE, "image/png")
        .body(png(b""))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 415).await;
    let resp = app
        .post_json(
            &images_path(&product),
            &json!({"file": "aGVsbG8="}),
            Some(&admin),
        )
        .await;
    assert_problem(resp, 415).await;
    let resp = app
        .client
        .post(app.url(&images_path(&product)))
        .bearer_auth(&admin)
        .header(CONTENT_TYPE, "multipart/form-data; boundary=xyz")
        .body("this is not multipart at all")
        .send()
        .await
        .unwrap();
    assert_problem(resp, 400).await;
    assert_eq!(images_of(&app, &product).await, json!([]));
}

async fn an_upload_without_a_file_field_is_422(app: TestApp) {
    let (admin, product) = admin_and_product(&app).await;
    let resp = upload_as(
        &app,
        Some(&admin),
        &product,
        "image",
        png(b""),
        "a.png",
        "image/png",
    )
    .await;
    assert_eq!(assert_invalid(resp).await, ["file"]);
    let resp = app
        .client
        .post(app.url(&images_path(&product)))
        .bearer_auth(&admin)
        .multipart(Form::new().text("note", "no file here"))
        .send()
        .await
        .unwrap();
    assert_eq!(assert_invalid(resp).await, ["file"]);
}

async fn an_upload_of_exactly_the_limit_is_accepted(app: TestApp) {
    let (admin, product) = admin_and_product(&app).await;
    let bytes = png_of_len(LIMIT, 3);
    let image = upload_ok(&app, &admin, &product, bytes.clone()).await;
    assert_eq!(image["size"], json!(LIMIT));
    let served = app.get(&str_of(&image, "url"), None).await;
    assert_eq!(served.bytes().await.unwrap(), bytes);
}

async fn an_upload_over_the_limit_is_413_and_nothing_is_stored(app: TestApp) {
    let (admin, product) = admin_and_product(&app).await;
    let resp = upload(&app, Some(&admin), &product, png_of_len(LIMIT + 1, 4)).await;
    let problem = assert_problem(resp, 413).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("10485760"),
        "{problem}"
    );
    assert_eq!(images_of(&app, &product).await, json!([]));
    assert!(stored_images(&app).is_empty(), "{:?}", stored_images(&app));
}

/// A multipart body of a file of `total` bytes, streamed in 64 KiB chunks; `sent` counts what
/// the client has handed to the connection.
fn streamed_upload(
    total: usize,
    sent: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> (String, reqwest::Body) {
    use std::sync::atomic::Ordering;
    let boundary = "shop-test-boundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let chunk = 64 * 1024;
    let mut parts: Vec<bytes::Bytes> = vec![head.into_bytes().into(), png(&[]).into()];
    let mut left = total - png(&[]).len();
    while left > 0 {
        let n = left.min(chunk);
        parts.push(vec![0x42; n].into());
        left -= n;
    }
    parts.push(tail.into_bytes().into());
    let stream = futures_util::stream::iter(parts.into_iter().map(move |p| {
        sent.fetch_add(p.len(), Ordering::SeqCst);
        Ok::<_, std::io::Error>(p)
    }));
    (
        format!("multipart/form-data; boundary={boundary}"),
        reqwest::Body::wrap_stream(stream),
    )
}

async fn an_oversized_upload_is_refused_before_the_body_is_read(app: TestApp) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (admin, product) = admin_and_product(&app).await;
    let total = 200 * MIB;
    let sent = Arc::new(AtomicUsize::new(0));
    let (content_type, body) = streamed_upload(total, sent.clone());
    let result = app
        .client
        .post(app.url(&images_path(&product)))
        .bearer_auth(&admin)
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await;
    let at_answer = sent.load(Ordering::SeqCst);
    // The server answers as soon as the file passes the limit; the client has by then sent
    // the limit plus what fits in the sockets' buffers, far from the whole body.
    assert!(
        at_answer < 4 * LIMIT,
        "{at_answer} bytes were sent before the server answered"
    );
    match result {
        Ok(resp) => {
            assert_problem(resp, 413).await;
        }
        // The server may close the connection on the rest of the body before the client
        // reads the answer; what counts is that it stopped reading.
        Err(e) => assert!(
            e.is_request() || e.is_body() || e.is_connect(),
            "unexpected error: {e}"
        ),
    }
    assert_eq!(images_of(&app, &product).await, json!([]));
    assert!(stored_images(&app).is_empty());
}

/// Sends only the head of a request over a plain socket and returns the status line of the
/// answer with everything before the end of its headers.
fn head_only(addr: &str, head: String) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

async fn a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(app: TestApp) {
    let (admin, product) = admin_and_product(&app).await;
    let (_, user) = app.user_token().await;
    let addr = app.addr.trim_start_matches("http://").to_owned();
    // No `100 Continue`: the client is answered without sending a byte of the body, and who
    // may upload is decided before its size.
    for (token, status) in [(user, "403"), (admin, "413")] {
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {}\r\n\
             Expect: 100-continue\r\n\r\n",
            images_path(&product),
            50 * MIB
        );
        let addr = addr.clone();
        let answer = tokio::task::spawn_blocking(move || head_only(&addr, head))
            .await
            .unwrap();
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("application/problem+json"),
            "{answer}"
        );
    }
}

async fn only_admins_upload_and_delete_images(app: TestApp) {
    let (admin, product) = admin_and_product(&app).await;
    let image = upload_ok(&app, &admin, &product, png(b"mine")).await;
    let (_, user) = app.user_token().await;

    assert_problem(upload(&app, Some(&user), &product, png(b"")).await, 403).await;
    assert_unauthorized(upload(&app, None, &product, png(b"")).await).await;
    assert_unauthorized(upload(&app, Some("not-a-token"), &product, png(b"")).await).await;
    // Refused before the body is looked at: a non-admin learns nothing about it.
    assert_problem(
        upload(&app, Some(&user), &product, b"not an image".to_vec()).await,
        403,
    )
    .await;

    let path = format!("{}/{}", images_path(&product), str_of(&image, "id"));
    assert_problem(app.delete(&path, Some(&user)).await, 403).await;
    assert_unauthorized(app.delete(&path, None).await).await;
    assert_eq!(images_of(&app, &product).await.as_array().unwrap().len(), 1);
}

async fn an_upload_to_an_unknown_or_deleted_product_is_404(app: TestApp) {
    let (admin, product) = admin_and_product(&app).await;
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_problem(upload(&app, Some(&admin), &unknown, png(b"")).await, 404).await;
    assert_problem(
        upload(&app, Some(&admin), "not-a-uuid", png(b"")).await,
        404,
    )
    .await;
    let resp = app
        .delete(&format!("/api/v1/products/{product}"), Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_problem(upload(&app, Some(&admin), &product, png(b"")).await, 404).await;
    assert!(stored_images(&app).is_empty());
}

async fn the_client_file_name_is_never_used(app: TestApp) {
    let (admin, product) = admin_and_product(&app).await;
    let resp = upload_as(
        &app,
        Some(&admin),
        &product,
        "file",
        png(b"x"),
        "../../escape.png",
        "image/png",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let image: Value = resp.json().await.unwrap();
    assert_eq!(
        stored_images(&app),
        [format!("images/{}", str_of(&image, "id"))]
    );
    let everywhere = files_under(&app.settings.data_dir);
    assert!(
        !everywhere.iter().any(|f| f.contains("escape")),
        "{everywhere:?}"
    );
}

async fn deleting_an_image_removes_it_and_its_file(app: TestApp) {
    let (admin, product) = admin_and_product(&app).await;
    let kept = upload_ok(&app, &admin, &product, png(b"kept")).await;
    let gone = upload_ok(&app, &admin, &product, gif()).await;
    let gone_id = str_of(&gone, "id");
    let path = format!("{}/{gone_id}", images_path(&product));

    let other = str_of(
        &app.create_product(&admin, &format!("IMG-{}", unique()))
            .await,
        "id",
    );
    let through_other = format!("{}/{gone_id}", images_path(&other));
    assert_problem(app.delete(&through_other, Some(&admin)).await, 404).await;

    let resp = app.delete(&path, Some(&admin)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(resp.bytes().await.unwrap().is_empty());
    assert_problem(app.get(&str_of(&gone, "url"), None).await, 404).await;
    assert_eq!(images_of(&app, &product).await, json!([kept]));
    assert_eq!(
        stored_images(&app),
        [format!("images/{}", str_of(&kept, "id"))]
    );
    assert_problem(app.delete(&path, Some(&admin)).await, 404).await;
    let malformed = format!("{}/not-a-uuid", images_path(&product));
    assert_problem(app.delete(&malformed, Some(&admin)).await, 404).await;
}

async fn deleting_a_product_removes_its_images_and_their_files(app: TestApp) {
    let (admin, product) = admin_and_product(&app).await;
    let images = [
        upload_ok(&app, &admin, &product, png(b"a")).await,
        upload_ok(&app, &admin, &product, jpeg()).await,
    ];
    let other = str_of(
        &app.create_product(&admin, &format!("IMG-{}", unique()))
            .await,
        "id",
    );
    let survivor = upload_ok(&app, &admin, &other, webp()).await;

    let resp = app
        .delete(&format!("/api/v1/products/{product}"), Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    for image in &images {
        assert_problem(app.get(&str_of(image, "url"), None).await, 404).await;
    }
    assert_eq!(
        stored_images(&app),
        [format!("images/{}", str_of(&survivor, "id"))]
    );
    assert_eq!(images_of(&app, &other).await, json!([survivor]));
}

async fn an_unknown_or_malformed_image_id_is_404(app: TestApp) {
    let unknown = uuid::Uuid::now_v7();
    assert_problem(
        app.get(&format!("/api/v1/files/{unknown}"), None).await,
        404,
    )
    .await;
    assert_problem(app.get("/api/v1/files/not-a-uuid", None).await, 404).await;
}

/// Puts a plain file where the store's folder was, so every store operation fails; gives
/// back where the folder went.
fn break_store(app: &TestApp) -> PathBuf {
    let files = files_dir(app);
    let aside = app.settings.data_dir.join("files-aside");
    std::fs::rename(&files, &aside).unwrap();
    std::fs::write(&files, b"not a folder").unwrap();
    aside
}

fn mend_store(app: &TestApp, aside: &Path) {
    let files = files_dir(app);
    std::fs::remove_file(&files).unwrap();
    std::fs::rename(aside, &files).unwrap();
}

async fn a_store_that_is_down_answers_503_and_nothing_is_half_written(app: TestApp) {
    let (admin, product) = admin_and_product(&app).await;
    let bytes = png(b"precious");
    let image = upload_ok(&app, &admin, &product, bytes.clone()).await;
    let delete_path = format!("{}/{}", images_path(&product), str_of(&image, "id"));

    let aside = break_store(&app);
    let problem = assert_problem(upload(&app, Some(&admin), &product, jpeg()).await, 503).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("file store"),
        "{problem}"
    );
    assert_problem(app.delete(&delete_path, Some(&admin)).await, 503).await;
    assert_problem(
        app.delete(&format!("/api/v1/products/{product}"), Some(&admin))
            .await,
        503,
    )
    .await;
    assert_problem(app.get(&str_of(&image, "url"), None).await, 503).await;
    // The catalog still reads: its rows are in the database.
    assert_eq!(images_of(&app, &product).await, json!([image]));
    mend_store(&app, &aside);

    assert_eq!(images_of(&app, &product).await, json!([image]));
    assert_eq!(
        stored_images(&app),
        [format!("images/{}", str_of(&image, "id"))]
    );
    let served = app.get(&str_of(&image, "url"), None).await;
    assert_eq!(served.bytes().await.unwrap(), bytes);
    assert_eq!(
        app.delete(&delete_path, Some(&admin)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(stored_images(&app).is_empty());
}

async fn concurrent_uploads_all_land(app: TestApp) {
    let (admin, product) = admin_and_product(&app).await;
    let bodies: Vec<Vec<u8>> = (0..8)
        .map(|i| png_of_len(300_000 + i * 1000, i as u64))
        .collect();
    let uploads = bodies
        .iter()
        .map(|b| upload_ok(&app, &admin, &product, b.clone()));
    let images = join_all(uploads).await;

    let listed = images_of(&app, &product).await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), bodies.len());
    let mut ids: Vec<String> = listed.iter().map(|i| str_of(i, "id")).collect();
    let in_order = ids.clone();
    ids.sort();
    assert_eq!(ids, in_order, "listed in upload (id) order");
    ids.dedup();
    assert_eq!(ids.len(), bodies.len());
    for (image, bytes) in images.iter().zip(&bodies) {
        let served = app.get(&str_of(image, "url"), None).await;
        assert_eq!(served.bytes().await.unwrap(), *bytes);
    }
    assert_eq!(stored_images(&app).len(), bodies.len());
}

async fn the_readiness_check_reports_the_file_store(app: TestApp) {
    let ready = get_json(&app, "/health/ready").await;
    assert_eq!(ready["checks"]["file_store"], json!("up"), "{ready}");
    let aside = break_store(&app);
    // Images are not what readiness is about: the service stays ready without them.
    let ready = get_json(&app, "/health/ready").await;
    assert_eq!(ready["checks"]["file_store"], json!("down"), "{ready}");
    mend_store(&app, &aside);
}

async fn the_openapi_document_describes_the_image_routes(app: TestApp) {
    let doc = get_json(&app, "/api/v1/openapi.json").await;
    let paths = &doc["paths"];
    let upload = &paths["/api/v1/products/{id}/images"]["post"];
    assert!(
        upload["requestBody"]["content"]["multipart/form-data"].is_object(),
        "{upload}"
    );
    for status in ["201", "403", "404", "413", "415", "422", "503"] {
        assert!(upload["responses"][status].is_object(), "upload {status}");
    }
    let delete = &paths["/api/v1/products/{id}/images/{image_id}"]["delete"];
    assert!(delete["responses"]["204"].is_object(), "{delete}");
    let file = &paths["/api/v1/files/{image_id}"]["get"];
    assert!(file["responses"]["304"].is_object(), "{file}");
    assert!(
        file["responses"]["200"]["headers"]["ETag"].is_object(),
        "{file}"
    );
    assert!(
        file["responses"]["200"]["content"]["image/png"].is_object(),
        "{file}"
    );
}
