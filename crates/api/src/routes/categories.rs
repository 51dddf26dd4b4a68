use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use domain::CategoryId;

use crate::AppState;
use crate::auth::Auth;
use crate::dto::{CategoryList, CategoryResponse, CreateCategoryRequest, UpdateCategoryRequest};
use crate::error::{ApiError, Problem};
use crate::extractors::{AppJson, IdPath, LookupPath, WholeListQuery};
use crate::routes::created;

/// List categories
///
/// Every category of the catalog, by `position`, then name. `product_count` counts the
/// active products in a category and below it, each once. Public.
#[utoipa::path(get, path = "/api/v1/categories", tag = "categories", operation_id = "list_categories",
    params(
        ("cursor" = Option<String>, Query, min_length = 1, max_length = 4096, description = "Taken for the sake of every list's shape: this list comes whole, so its `next_cursor` is always `null` and any cursor sent here is refused (422 on `cursor`)"),
    ),
    responses(
        (status = 200, description = "All categories", body = CategoryList,
            links(
                ("get_category" = (operation_id = "get_category", parameters(("id" = "$response.body#/items/0/id")), description = "The first category")),
            ),
            example = json!(crate::openapi::examples::category_list())),
        (status = 422, description = "A `cursor` was sent (this list issues none)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    _: WholeListQuery,
) -> Result<Json<CategoryList>, ApiError> {
    let items = state.list_categories.execute().await?;
    Ok(Json(CategoryList {
        items: items.into_iter().map(Into::into).collect(),
        next_cursor: None,
    }))
}

/// Get a category
///
/// One category, by id or by slug. Public.
#[utoipa::path(get, path = "/api/v1/categories/{id}", tag = "categories", operation_id = "get_category",
    params(("id" = String, Path, description = "Category id (a UUID) or slug", example = "mugs")),
    responses(
        (status = 200, description = "The category", body = CategoryResponse, example = json!(crate::openapi::examples::category())),
        (status = 404, description = "No such category", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    LookupPath(key): LookupPath<CategoryId>,
) -> Result<Json<CategoryResponse>, ApiError> {
    Ok(Json(state.get_category.execute(&key).await?.into()))
}

/// Create a category
///
/// Adds a category (admin), at the top or under `parent_id`. The slug is made from the name
/// when none is given (a number appended when it is taken).
#[utoipa::path(post, path = "/api/v1/categories", tag = "categories", operation_id = "create_category",
    request_body(content = CreateCategoryRequest, example = json!(crate::openapi::examples::create_category())),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; `Location` names it", body = CategoryResponse,
            headers(("Location" = String, description = "The new category: `/api/v1/categories/{id}`")),
            links(
                ("get_category" = (operation_id = "get_category", parameters(("id" = "$response.body#/id")), description = "The category created")),
                ("update_category" = (operation_id = "update_category", parameters(("id" = "$response.body#/id")), description = "Change it")),
                ("delete_category" = (operation_id = "delete_category", parameters(("id" = "$response.body#/id")), description = "Remove it")),
            ),
            example = json!(crate::openapi::examples::category())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Slug taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or a parent that does not exist", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    AppJson(body): AppJson<CreateCategoryRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let view = state.create_category.execute(&actor, body.into()).await?;
    let location = format!("/api/v1/categories/{}", view.category.id);
    Ok(created(location, CategoryResponse::from(view)))
}

/// Update a category
///
/// Changes any subset of a category's fields (admin), a move under another parent included.
/// A parent that is the category itself or one below it is refused (422 on `parent_id`), also
/// when two moves race.
#[utoipa::path(put, path = "/api/v1/categories/{id}", tag = "categories", operation_id = "update_category",
    request_body(content = UpdateCategoryRequest, example = json!({"name": "Cups and mugs", "position": 2})),
    params(("id" = uuid::Uuid, Path, description = "Category id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed category", body = CategoryResponse, example = json!(crate::openapi::examples::category())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such category", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Slug taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or a parent that would make a cycle or does not exist", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
    AppJson(body): AppJson<UpdateCategoryRequest>,
) -> Result<Json<CategoryResponse>, ApiError> {
    let view = state
        .update_category
        .execute(&actor, CategoryId::from_uuid(id), body.into())
        .await?;
    Ok(Json(view.into()))
}

/// Delete a category
///
/// Removes a category (admin) and takes it off its products; one that still has child
/// categories is refused (409).
#[utoipa::path(delete, path = "/api/v1/categories/{id}", tag = "categories", operation_id = "delete_category",
    params(("id" = uuid::Uuid, Path, description = "Category id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such category", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It has child categories", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    state
        .delete_category
        .execute(&actor, CategoryId::from_uuid(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
