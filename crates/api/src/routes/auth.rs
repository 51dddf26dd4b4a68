use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::AppState;
use crate::dto::{LoginRequest, RefreshRequest, RegisterRequest, TokensResponse, UserResponse};
use crate::error::{ApiError, Problem};
use crate::extractors::AppJson;
use crate::routes::created;

/// Headers of an answer that holds tokens: no cache may keep it (RFC 6749 section 5.1).
const NO_STORE: [(header::HeaderName, &str); 2] = [
    (header::CACHE_CONTROL, "no-store"),
    (header::PRAGMA, "no-cache"),
];

/// Register an account
///
/// Creates an account with the role `user`. Without a `username` the e-mail address is the
/// username, which it must then be fit for. Public; rate limited per client address.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", operation_id = "register_user",
    request_body(content = RegisterRequest, example = json!({"email": "ann@example.com", "password": "correct horse battery", "username": "ann", "first_name": "Ann"})),
    responses(
        (status = 201, description = "Account created", body = UserResponse,
            headers(("Location" = String, description = "The account: `/api/v1/users/{id}`")),
            example = json!(crate::openapi::examples::user())),
        (status = 409, description = "E-mail or username taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before the next attempt"))),
    ))]
pub async fn register(
    State(state): State<AppState>,
    AppJson(body): AppJson<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let user = state.register.execute(body.into()).await?;
    let location = format!("/api/v1/users/{}", user.id);
    Ok(created(location, UserResponse::from(user)))
}

/// Sign in
///
/// Exchanges a username (or e-mail address) and password for an access token and a refresh
/// token. Public; rate limited per client address.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", operation_id = "sign_in",
    request_body(content = LoginRequest, example = json!({"username": "ann@example.com", "password": "correct horse battery"})),
    responses(
        (status = 200, description = "Signed in", body = TokensResponse,
            headers(("Cache-Control" = String, description = "`no-store`: tokens are never cached (RFC 6749 section 5.1)"),
                ("Pragma" = String, description = "`no-cache`, for HTTP/1.0 caches")),
            example = json!(crate::openapi::examples::tokens())),
        (status = 401, description = "Wrong credentials (never says whether the account exists)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before the next attempt"))),
    ))]
pub async fn login(
    State(state): State<AppState>,
    AppJson(body): AppJson<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let tokens = state.login.execute(&body.username, &body.password).await?;
    Ok((NO_STORE, Json(TokensResponse::from(tokens))))
}

/// Refresh tokens
///
/// Spends a refresh token for a new pair. The token used is then spent; presenting a spent
/// token again revokes every token of its sign-in. Public; rate limited per client address.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", operation_id = "refresh_tokens",
    request_body(content = RefreshRequest, example = json!({"refresh_token": "2f6c1a0e-3c1d-4a8b-9a57-0c1d2e3f4a5b.Yh3kq..."})),
    responses(
        (status = 200, description = "New tokens", body = TokensResponse,
            headers(("Cache-Control" = String, description = "`no-store`: tokens are never cached (RFC 6749 section 5.1)"),
                ("Pragma" = String, description = "`no-cache`, for HTTP/1.0 caches")),
            example = json!(crate::openapi::examples::tokens())),
        (status = 401, description = "Unknown, spent, revoked or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before the next attempt"))),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    AppJson(body): AppJson<RefreshRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let tokens = state.refresh.execute(&body.refresh_token).await?;
    Ok((NO_STORE, Json(TokensResponse::from(tokens))))
}

/// Sign out
///
/// Ends the sign-in a refresh token belongs to. Unknown tokens also answer 204 (RFC 7009),
/// so the call is safe to repeat. Access tokens already issued live until they expire.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", operation_id = "sign_out",
    request_body(content = RefreshRequest, example = json!({"refresh_token": "2f6c1a0e-3c1d-4a8b-9a57-0c1d2e3f4a5b.Yh3kq..."})),
    responses((status = 204, description = "Signed out")))]
pub async fn logout(
    State(state): State<AppState>,
    AppJson(body): AppJson<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    state.logout.execute(&body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Get the token signing keys
///
/// The public keys that sign access tokens, as a JSON Web Key Set (RFC 7517), for services
/// that verify tokens themselves. Public; cached for 5 minutes.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth", operation_id = "get_jwks",
    responses(
        (status = 200, description = "JSON Web Key Set", content_type = "application/json", body = crate::dto::Jwks,
            example = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "1", "use": "sig", "alg": "EdDSA", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})),
        (status = 503, description = "No keys held yet and the identity provider does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn jwks(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    // From the verifier's cache: a public endpoint must not cost the provider a request each.
    let body = state
        .verifier()
        .jwks_document()
        .await
        .map_err(|_| crate::auth::keys_unavailable())?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/json"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body.to_string(),
    ))
}
