use std::convert::Infallible;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::{ImageId, ProductId};

use crate::AppState;
use crate::auth::Auth;
use crate::dto::{ImageBytes, ImageResponse, ImageUpload};
use crate::error::{ApiError, Problem};
use crate::extractors::{IdPath, ImagePath, MultipartFile};
use crate::routes::created;

/// How long clients and caches may keep an image without asking again. The bytes behind an
/// image id never change (a new upload is a new id), so caches need not revalidate while it
/// is fresh; a day bounds how long a deleted image may still be served from a cache.
const CACHE_CONTROL: &str = "public, max-age=86400, immutable";

/// Upload a product image
///
/// Adds an image to a product (admin). The body is `multipart/form-data` with the image in the
/// field `file`; other fields are ignored. The type is known from the file's first bytes
/// (JPEG, PNG, WebP or GIF), never from its name or the part's content type. The file is read
/// as it arrives and reading stops at the size limit (`MAX_UPLOAD_BYTES`, 10 MiB by default),
/// so an oversized upload is refused without being held in memory; one whose `Content-Length`
/// already says so is refused before its body is read (a client that sends
/// `Expect: 100-continue` never sends it). The shop names the stored file itself
/// (`images/<image id>`); the client's file name is not used.
#[utoipa::path(post, path = "/api/v1/products/{id}/images", tag = "products", operation_id = "upload_product_image",
    params(("id" = uuid::Uuid, Path, description = "Product id")),
    request_body(content = ImageUpload, content_type = "multipart/form-data",
        // The smallest file the shop takes for a GIF: it knows images by their first bytes.
        example = json!({"file": "GIF89a, an example image"})),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored; `Location` is where its bytes are served", body = ImageResponse,
            headers(("Location" = String, description = "Where the bytes are served: `/api/v1/files/{image_id}`")),
            links(
                ("get_image_file" = (operation_id = "get_image_file", parameters(("image_id" = "$response.body#/id")), description = "The bytes")),
                ("delete_product_image" = (operation_id = "delete_product_image", parameters(("id" = "$request.path.id"), ("image_id" = "$response.body#/id")), description = "Remove it")),
            ),
            example = json!(crate::openapi::examples::image())),
        (status = 400, description = "The multipart body is malformed", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is larger than the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not multipart/form-data, or the file is not a JPEG, PNG, WebP or GIF image", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No `file` field", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The file store (or the database) is unavailable; nothing was stored", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let mut file = MultipartFile::new(&headers, body, state.upload_image.max_bytes);
    let uploaded = state
        .upload_image
        .execute(&actor, ProductId::from_uuid(id), &mut file)
        .await;
    if uploaded.is_err() {
        file.discard_rest().await;
    }
    let image = ImageResponse::from(uploaded?);
    Ok(created(image.url.clone(), image))
}

/// Delete a product image
///
/// Removes an image of a product (admin): its record, then its file. While the file store is
/// unavailable nothing is removed (503).
#[utoipa::path(delete, path = "/api/v1/products/{id}/images/{image_id}", tag = "products", operation_id = "delete_product_image",
    params(
        ("id" = uuid::Uuid, Path, description = "Product id"),
        ("image_id" = uuid::Uuid, Path, description = "Image id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The product has no such image", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The file store is unavailable; nothing was removed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    path: ImagePath,
) -> Result<StatusCode, ApiError> {
    state
        .delete_image
        .execute(
            &actor,
            ProductId::from_uuid(path.product_id),
            ImageId::from_uuid(path.image_id),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether `If-None-Match` (any of its headers) names `etag`, by the weak comparison RFC 9110
/// asks for here, or is `*`.
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// Get an image's bytes
///
/// The bytes of an image (public), with their content type. `ETag` is the SHA-256 of the
/// bytes; a request whose `If-None-Match` names it answers 304 without the bytes. Images are
/// immutable under their id: `Cache-Control: public, max-age=86400, immutable`.
#[utoipa::path(get, path = "/api/v1/files/{image_id}", tag = "products", operation_id = "get_image_file",
    params(("image_id" = uuid::Uuid, Path, description = "Image id")),
    responses(
        (status = 200, description = "The bytes",
            content(
                (ImageBytes = "image/jpeg"), (ImageBytes = "image/png"),
                (ImageBytes = "image/webp"), (ImageBytes = "image/gif"),
            ),
            headers(
                ("ETag" = String, description = "Strong validator: the SHA-256 of the bytes, in quotes"),
                ("Cache-Control" = String, description = "public, max-age=86400, immutable"),
                ("Content-Length" = u64, description = "Length in bytes"),
            )),
        (status = 304, description = "`If-None-Match` named the current `ETag`; no body"),
        (status = 404, description = "No such image", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The file store is unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn file(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    request_headers: HeaderMap,
) -> Result<Response, ApiError> {
    let image = state.get_image_file.image(ImageId::from_uuid(id)).await?;
    let etag = format!("\"{}\"", image.sha256);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if none_match(&request_headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    let bytes = state.get_image_file.bytes(&image).await?;
    if bytes.len() != image.size {
        tracing::warn!(image_id = %image.id, stored = bytes.len(), recorded = image.size, "the stored file's length differs from its record");
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(image.content_type.content_type()),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    // The type was checked from the bytes on upload; browsers must not guess another one.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The chunks as the store gave them: no copy to join them.
    let chunks = bytes.into_chunks().into_iter().map(Ok::<_, Infallible>);
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    Ok((StatusCode::OK, headers, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn if_none_match_compares_weakly_across_lists_and_headers() {
        let etag = "\"abc\"";
        assert!(none_match(&with(&["\"abc\""]), etag));
        assert!(none_match(&with(&["W/\"abc\""]), etag));
        assert!(none_match(&with(&["\"x\", \"abc\""]), etag));
        assert!(none_match(&with(&["\"x\"", "\"abc\""]), etag));
        assert!(none_match(&with(&["*"]), etag));
        assert!(!none_match(&with(&["\"abcd\""]), etag));
        assert!(!none_match(&with(&["abc"]), etag));
        assert!(!none_match(&with(&[]), etag));
    }
}
