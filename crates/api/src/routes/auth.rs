use application::accounts::RegisterCommand;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::AppState;
use crate::dto::{LoginRequest, RefreshRequest, RegisterRequest, TokensResponse, UserResponse};
use crate::error::{ApiError, Problem};
use crate::extractors::AppJson;

/// Create an account (role `user`).
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = UserResponse),
        (status = 409, description = "E-mail or username taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before the next attempt"))),
    ))]
pub async fn register(
    State(state): State<AppState>,
    AppJson(body): AppJson<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let user = state
        .register
        .execute(RegisterCommand {
            email: body.email,
            password: body.password,
            username: body.username,
            first_name: body.first_name,
            last_name: body.last_name,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(UserResponse::from(user))))
}

/// Sign in with username (or e-mail) and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokensResponse),
        (status = 401, description = "Wrong credentials (never says whether the account exists)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before the next attempt"))),
    ))]
pub async fn login(
    State(state): State<AppState>,
    AppJson(body): AppJson<LoginRequest>,
) -> Result<Json<TokensResponse>, ApiError> {
    let tokens = state.login.execute(&body.username, &body.password).await?;
    Ok(Json(tokens.into()))
}

/// Spend a refresh token for a new pair. The token used is then spent; presenting a spent
/// token again revokes every token of its sign-in.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokensResponse),
        (status = 401, description = "Unknown, spent, revoked or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before the next attempt"))),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    AppJson(body): AppJson<RefreshRequest>,
) -> Result<Json<TokensResponse>, ApiError> {
    let tokens = state.refresh.execute(&body.refresh_token).await?;
    Ok(Json(tokens.into()))
}

/// End the sign-in a refresh token belongs to. Unknown tokens also answer 204 (RFC 7009),
/// so the call is safe to repeat. Access tokens already issued live until they expire.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "Signed out")))]
pub async fn logout(
    State(state): State<AppState>,
    AppJson(body): AppJson<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    state.logout.execute(&body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The public keys that sign access tokens (JWKS), for services that verify them.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses(
        (status = 200, description = "JSON Web Key Set", content_type = "application/json"),
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
