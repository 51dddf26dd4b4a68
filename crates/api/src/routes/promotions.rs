//! Promotions (admin): discount codes that checkout applies to carts.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use domain::PromotionId;

use crate::AppState;
use crate::auth::Auth;
use crate::dto::{
    CreatePromotionRequest, PromotionPage, PromotionResponse, UpdatePromotionRequest,
};
use crate::error::{ApiError, Problem};
use crate::extractors::{AppJson, IdPath, PageQuery};
use crate::routes::created;

/// Create a promotion
///
/// Makes a discount code (admin): a `percentage` of the subtotal or a `fixed` amount in
/// `currency` (on carts in that currency only), with an optional minimum subtotal, start
/// (inclusive) and end (exclusive), limit of uses in all and per customer. `active` defaults
/// to true. The answer carries `times_used`, 0 until checkouts use it. Codes compare
/// case-insensitively: one that another promotion has, in any case, is 409 on `code`.
#[utoipa::path(post, path = "/api/v1/promotions", tag = "promotions", operation_id = "create_promotion",
    request_body(content = CreatePromotionRequest, example = json!(crate::openapi::examples::create_promotion())),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = PromotionResponse,
            headers(("Location" = String, description = "The promotion's URL")),
            links(
                ("get_promotion" = (operation_id = "get_promotion", parameters(("id" = "$response.body#/id")), description = "The promotion")),
                ("update_promotion" = (operation_id = "update_promotion", parameters(("id" = "$response.body#/id")), description = "Change it")),
                ("delete_promotion" = (operation_id = "delete_promotion", parameters(("id" = "$response.body#/id")), description = "Remove it")),
            ),
            example = json!(crate::openapi::examples::promotion())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another promotion has the code (in any case)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (a value out of range for its kind, a currency missing for `fixed` or given for `percentage`, an end not after the start); `errors` names each", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    AppJson(body): AppJson<CreatePromotionRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let promotion = state.promotions.create(&actor, body.into()).await?;
    let location = format!("/api/v1/promotions/{}", promotion.id);
    Ok(created(location, PromotionResponse::from(promotion)))
}

/// List promotions
///
/// Every promotion, newest first, a page at a time (admin).
#[utoipa::path(get, path = "/api/v1/promotions", tag = "promotions", operation_id = "list_promotions",
    params(
        ("page" = Option<u32>, Query, minimum = 1, maximum = 1_000_000, example = 1, description = "1-based page, default 1; a page past the end is an empty 200; beyond 1000000 is refused (422). Ignored with `cursor`"),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, example = 20, description = "1..=100, default 20"),
        ("cursor" = Option<String>, Query, min_length = 1, max_length = 4096, description = "Opaque cursor from the previous page's `next_cursor`: the page after it, at the same cost at any depth; `page` is then ignored. One that was changed, or belongs to another list, is refused (422 on `cursor`)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of promotions", body = PromotionPage, example = json!(crate::openapi::examples::promotion_page())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is invalid (page or per_page out of range, a cursor of another list or one that was changed); `errors` names it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Auth(actor): Auth,
    PageQuery(page): PageQuery,
) -> Result<Json<PromotionPage>, ApiError> {
    Ok(Json(state.promotions.list(&actor, page).await?.into()))
}

/// Get a promotion
///
/// One promotion (admin), with `times_used`.
#[utoipa::path(get, path = "/api/v1/promotions/{id}", tag = "promotions", operation_id = "get_promotion",
    params(("id" = uuid::Uuid, Path, description = "Promotion id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The promotion", body = PromotionResponse, example = json!(crate::openapi::examples::promotion())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such promotion", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
) -> Result<Json<PromotionResponse>, ApiError> {
    let promotion = state
        .promotions
        .get(&actor, PromotionId::from_uuid(id))
        .await?;
    Ok(Json(promotion.into()))
}

/// Update a promotion
///
/// Changes any subset of a promotion's fields (admin); absent fields stay and `null` clears
/// an optional one. `kind`, `value` and `currency` are checked together, each the stored one
/// when absent; a promotion turned into a `percentage` drops its currency. `times_used` is
/// not changed.
#[utoipa::path(put, path = "/api/v1/promotions/{id}", tag = "promotions", operation_id = "update_promotion",
    request_body(content = UpdatePromotionRequest, example = json!({"active": false})),
    params(("id" = uuid::Uuid, Path, description = "Promotion id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed promotion", body = PromotionResponse, example = json!(crate::openapi::examples::promotion())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such promotion", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another promotion has the code (in any case)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
    AppJson(body): AppJson<UpdatePromotionRequest>,
) -> Result<Json<PromotionResponse>, ApiError> {
    let promotion = state
        .promotions
        .update(&actor, PromotionId::from_uuid(id), body.into())
        .await?;
    Ok(Json(promotion.into()))
}

/// Delete a promotion
///
/// Removes a promotion (admin); its code applies to no cart from then on.
#[utoipa::path(delete, path = "/api/v1/promotions/{id}", tag = "promotions", operation_id = "delete_promotion",
    params(("id" = uuid::Uuid, Path, description = "Promotion id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such promotion", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    state
        .promotions
        .delete(&actor, PromotionId::from_uuid(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
