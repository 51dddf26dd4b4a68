use axum::Json;
use axum::extract::State;
use domain::UserId;

use crate::AppState;
use crate::auth::Auth;
use crate::dto::{UpdateMeRequest, UserPage, UserResponse};
use crate::error::{ApiError, Problem};
use crate::extractors::{AppJson, IdPath, PageQuery};

/// List accounts
///
/// Every account, newest first, a page at a time (admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", operation_id = "list_users",
    params(
        ("page" = Option<u32>, Query, minimum = 1, maximum = 1_000_000, example = 1, description = "1-based page, default 1; a page past the end is an empty 200; beyond 1000000 is refused (422). Ignored with `cursor`"),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, example = 20, description = "1..=100, default 20"),
        ("cursor" = Option<String>, Query, min_length = 1, max_length = 4096, description = "Opaque cursor from the previous page's `next_cursor`: the page after it, at the same cost at any depth; `page` is then ignored. One that was changed, or belongs to another list, filter or sort, is refused (422 on `cursor`)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of accounts", body = UserPage, example = json!(crate::openapi::examples::user_page())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is invalid (page or per_page out of range, a cursor of another list or one that was changed); `errors` names it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Auth(actor): Auth,
    PageQuery(page): PageQuery,
) -> Result<Json<UserPage>, ApiError> {
    Ok(Json(state.list_users.execute(&actor, page).await?.into()))
}

/// Get the signed-in account
///
/// The account the access token belongs to.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", operation_id = "get_current_user", security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = UserResponse, example = json!(crate::openapi::examples::user())),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn me(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<UserResponse>, ApiError> {
    let id = actor.user_id;
    Ok(Json(state.get_user.execute(&actor, id).await?.into()))
}

/// Update the signed-in account
///
/// Changes the signed-in account's profile: first and last name only (absent fields stay,
/// `null` or blank clears). E-mail, username, password and roles belong to the identity
/// provider; other fields are ignored.
#[utoipa::path(put, path = "/api/v1/users/me", tag = "users", operation_id = "update_current_user",
    request_body(content = UpdateMeRequest, example = json!({"first_name": "Ann", "last_name": null})),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed account", body = UserResponse, example = json!(crate::openapi::examples::user())),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_me(
    State(state): State<AppState>,
    Auth(actor): Auth,
    AppJson(body): AppJson<UpdateMeRequest>,
) -> Result<Json<UserResponse>, ApiError> {
    let user = state.update_profile.execute(&actor, body.into()).await?;
    Ok(Json(user.into()))
}

/// Get an account
///
/// One account: one's own, or any for an admin. Other people's accounts answer 404.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", operation_id = "get_user",
    params(("id" = uuid::Uuid, Path, description = "User id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = UserResponse, example = json!(crate::openapi::examples::user())),
        (status = 404, description = "No such account, or not yours", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
) -> Result<Json<UserResponse>, ApiError> {
    Ok(Json(
        state
            .get_user
            .execute(&actor, UserId::from_uuid(id))
            .await?
            .into(),
    ))
}
