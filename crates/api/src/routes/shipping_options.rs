//! Shipping options (admin): where carts may ship, at what price, free over a threshold.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use domain::ShippingOptionId;

use crate::AppState;
use crate::auth::Auth;
use crate::dto::{
    CreateShippingOptionRequest, ShippingOptionPage, ShippingOptionResponse,
    UpdateShippingOptionRequest,
};
use crate::error::{ApiError, Problem};
use crate::extractors::{AppJson, IdPath, PageQuery};
use crate::routes::created;

/// Create a shipping option
///
/// Makes a way to ship (admin): its `name` (names need not be unique), the `countries` it
/// ships to, its `price` before tax, and optionally `free_over`, the subtotal after discount
/// from which it is free (in the price's currency). `active` defaults to true.
#[utoipa::path(post, path = "/api/v1/shipping-options", tag = "shipping", operation_id = "create_shipping_option",
    request_body(content = CreateShippingOptionRequest, example = json!(crate::openapi::examples::create_shipping_option())),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = ShippingOptionResponse,
            headers(("Location" = String, description = "The option's URL")),
            links(
                ("get_shipping_option" = (operation_id = "get_shipping_option", parameters(("id" = "$response.body#/id")), description = "The option")),
                ("update_shipping_option" = (operation_id = "update_shipping_option", parameters(("id" = "$response.body#/id")), description = "Change it")),
                ("delete_shipping_option" = (operation_id = "delete_shipping_option", parameters(("id" = "$response.body#/id")), description = "Remove it")),
            ),
            example = json!(crate::openapi::examples::shipping_option())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (a country twice, a threshold in another currency than the price); `errors` names each", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    AppJson(body): AppJson<CreateShippingOptionRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let option = state.shipping_options.create(&actor, body.into()).await?;
    let location = format!("/api/v1/shipping-options/{}", option.id);
    Ok(created(location, ShippingOptionResponse::from(option)))
}

/// List shipping options
///
/// Every shipping option, newest first, a page at a time (admin).
#[utoipa::path(get, path = "/api/v1/shipping-options", tag = "shipping", operation_id = "list_shipping_options",
    params(
        ("page" = Option<u32>, Query, minimum = 1, maximum = 1_000_000, example = 1, description = "1-based page, default 1; a page past the end is an empty 200; beyond 1000000 is refused (422). Ignored with `cursor`"),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, example = 20, description = "1..=100, default 20"),
        ("cursor" = Option<String>, Query, min_length = 1, max_length = 4096, description = "Opaque cursor from the previous page's `next_cursor`: the page after it, at the same cost at any depth; `page` is then ignored. One that was changed, or belongs to another list, is refused (422 on `cursor`)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of shipping options", body = ShippingOptionPage, example = json!(crate::openapi::examples::shipping_option_page())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is invalid (page or per_page out of range, a cursor of another list or one that was changed); `errors` names it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Auth(actor): Auth,
    PageQuery(page): PageQuery,
) -> Result<Json<ShippingOptionPage>, ApiError> {
    Ok(Json(
        state.shipping_options.list(&actor, page).await?.into(),
    ))
}

/// Get a shipping option
///
/// One shipping option (admin).
#[utoipa::path(get, path = "/api/v1/shipping-options/{id}", tag = "shipping", operation_id = "get_shipping_option",
    params(("id" = uuid::Uuid, Path, description = "Shipping option id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The shipping option", body = ShippingOptionResponse, example = json!(crate::openapi::examples::shipping_option())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such shipping option", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
) -> Result<Json<ShippingOptionResponse>, ApiError> {
    let option = state
        .shipping_options
        .get(&actor, ShippingOptionId::from_uuid(id))
        .await?;
    Ok(Json(option.into()))
}

/// Update a shipping option
///
/// Changes any subset of a shipping option's fields (admin); absent fields stay and
/// `free_over: null` clears the threshold. `countries` replaces the whole list. A price in
/// another currency than the stored threshold needs a new threshold (or `null`).
#[utoipa::path(put, path = "/api/v1/shipping-options/{id}", tag = "shipping", operation_id = "update_shipping_option",
    request_body(content = UpdateShippingOptionRequest, example = json!({"active": false})),
    params(("id" = uuid::Uuid, Path, description = "Shipping option id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed shipping option", body = ShippingOptionResponse, example = json!(crate::openapi::examples::shipping_option())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such shipping option", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
    AppJson(body): AppJson<UpdateShippingOptionRequest>,
) -> Result<Json<ShippingOptionResponse>, ApiError> {
    let option = state
        .shipping_options
        .update(&actor, ShippingOptionId::from_uuid(id), body.into())
        .await?;
    Ok(Json(option.into()))
}

/// Delete a shipping option
///
/// Removes a shipping option (admin); carts can no longer choose it.
#[utoipa::path(delete, path = "/api/v1/shipping-options/{id}", tag = "shipping", operation_id = "delete_shipping_option",
    params(("id" = uuid::Uuid, Path, description = "Shipping option id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such shipping option", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    state
        .shipping_options
        .delete(&actor, ShippingOptionId::from_uuid(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
