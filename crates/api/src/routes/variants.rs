use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use domain::ProductId;

use crate::AppState;
use crate::auth::Auth;
use crate::dto::{UpdateVariantRequest, VariantRequest, VariantResponse};
use crate::error::{ApiError, Problem};
use crate::extractors::{AppJson, IdPath, VariantPath};
use crate::routes::created;

/// Add a product variant
///
/// Adds a variant to a product (admin), whatever its status: one value of every option of
/// the product (`option_values`), its own SKU, price (in the currency of the product's other
/// variants) and stock. The product's `price`, `stock` and `sku` follow (the lowest price,
/// the sum of the stock, the first variant's SKU).
#[utoipa::path(post, path = "/api/v1/products/{id}/variants", tag = "products", operation_id = "create_product_variant",
    request_body(content = VariantRequest, example = json!(crate::openapi::examples::create_variant())),
    params(("id" = uuid::Uuid, Path, description = "Product id")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added; `Location` names it", body = VariantResponse,
            headers(("Location" = String, description = "The new variant: `/api/v1/products/{id}/variants/{variant_id}`")),
            links(
                ("update_product_variant" = (operation_id = "update_product_variant", parameters(("id" = "$request.path.id"), ("variant_id" = "$response.body#/id")), description = "Change it")),
                ("delete_product_variant" = (operation_id = "delete_product_variant", parameters(("id" = "$request.path.id"), ("variant_id" = "$response.body#/id")), description = "Remove it")),
            ),
            example = json!(crate::openapi::examples::variant())),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "SKU taken (by any variant of any product)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields: `option_values` that do not name one listed value of every option, or name another variant's combination; a price in another currency; more than 100 variants", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
    AppJson(body): AppJson<VariantRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let variant = state
        .add_variant
        .execute(&actor, ProductId::from_uuid(id), body.into())
        .await?;
    let location = format!("/api/v1/products/{id}/variants/{}", variant.id);
    Ok(created(location, VariantResponse::from(&variant)))
}

/// Update a product variant
///
/// Changes any subset of a variant's fields (admin); absent fields stay as they are and
/// `compare_at_price: null` clears it. The product's `price`, `stock` and `sku` follow.
#[utoipa::path(put, path = "/api/v1/products/{id}/variants/{variant_id}", tag = "products", operation_id = "update_product_variant",
    request_body(content = UpdateVariantRequest, example = json!({"price": {"amount": "22.99", "currency": "EUR"}, "stock": 25})),
    params(
        ("id" = uuid::Uuid, Path, description = "Product id"),
        ("variant_id" = uuid::Uuid, Path, description = "Variant id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed variant", body = VariantResponse, example = json!(crate::openapi::examples::variant())),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product, or the product has no such variant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "SKU taken (by any variant of any product)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields: `option_values` that do not name one listed value of every option, or name another variant's combination; a price in another currency", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Auth(actor): Auth,
    path: VariantPath,
    AppJson(body): AppJson<UpdateVariantRequest>,
) -> Result<Json<VariantResponse>, ApiError> {
    let variant = state
        .update_variant
        .execute(&actor, path.product_id, path.variant_id, body.into())
        .await?;
    Ok(Json(VariantResponse::from(&variant)))
}

/// Delete a product variant
///
/// Removes a variant of a product (admin); its SKU becomes free, and orders keep their copy
/// of it. A product keeps at least one variant: its last one answers 409.
#[utoipa::path(delete, path = "/api/v1/products/{id}/variants/{variant_id}", tag = "products", operation_id = "delete_product_variant",
    params(
        ("id" = uuid::Uuid, Path, description = "Product id"),
        ("variant_id" = uuid::Uuid, Path, description = "Variant id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product, or the product has no such variant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It is the product's last variant", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    path: VariantPath,
) -> Result<StatusCode, ApiError> {
    state
        .delete_variant
        .execute(&actor, path.product_id, path.variant_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
