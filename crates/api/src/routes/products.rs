use application::catalog::{CreateProductCommand, PriceInput, UpdateProductCommand};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use domain::ProductId;

use crate::AppState;
use crate::auth::Auth;
use crate::dto::{
    CreateProductRequest, MoneyDto, ProductPage, ProductResponse, UpdateProductRequest,
};
use crate::error::{ApiError, Problem};
use crate::extractors::{AppJson, IdPath, ProductQuery};

fn price(m: MoneyDto) -> PriceInput {
    PriceInput {
        amount: m.amount,
        currency: m.currency,
    }
}

/// List products, newest first. `q` searches name and description, case-insensitively,
/// anywhere in the text; any text is accepted.
#[utoipa::path(get, path = "/api/v1/products", tag = "products",
    params(
        ("page" = Option<u32>, Query, description = "1-based page, default 1"),
        ("per_page" = Option<u32>, Query, description = "1..=100, default 20"),
        ("q" = Option<String>, Query, description = "Search text"),
    ),
    responses(
        (status = 200, description = "A page of products", body = ProductPage),
        (status = 422, description = "page or per_page out of range", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    query: ProductQuery,
) -> Result<Json<ProductPage>, ApiError> {
    let page = state
        .list_products
        .execute(query.page, query.q.as_deref())
        .await?;
    Ok(Json(page.into()))
}

/// One product.
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "products",
    params(("id" = uuid::Uuid, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product", body = ProductResponse),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> Result<Json<ProductResponse>, ApiError> {
    let product = state.get_product.execute(ProductId::from_uuid(id)).await?;
    Ok(Json(product.into()))
}

/// Add a product (admin).
#[utoipa::path(post, path = "/api/v1/products", tag = "products", request_body = CreateProductRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; `Location` names it", body = ProductResponse),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "SKU taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    AppJson(body): AppJson<CreateProductRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let product = state
        .create_product
        .execute(
            &actor,
            CreateProductCommand {
                sku: body.sku,
                name: body.name,
                description: body.description,
                price: price(body.price),
                stock: body.stock,
            },
        )
        .await?;
    let location = format!("/api/v1/products/{}", product.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(ProductResponse::from(product)),
    ))
}

/// Change any subset of a product's fields (admin).
#[utoipa::path(put, path = "/api/v1/products/{id}", tag = "products", request_body = UpdateProductRequest,
    params(("id" = uuid::Uuid, Path, description = "Product id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed product", body = ProductResponse),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "SKU taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
    AppJson(body): AppJson<UpdateProductRequest>,
) -> Result<Json<ProductResponse>, ApiError> {
    let product = state
        .update_product
        .execute(
            &actor,
            ProductId::from_uuid(id),
            UpdateProductCommand {
                sku: body.sku,
                name: body.name,
                description: body.description,
                price: body.price.map(price),
                stock: body.stock,
            },
        )
        .await?;
    Ok(Json(product.into()))
}

/// Remove a product from the catalog (admin). Its SKU becomes free; orders keep their copy.
#[utoipa::path(delete, path = "/api/v1/products/{id}", tag = "products",
    params(("id" = uuid::Uuid, Path, description = "Product id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    state
        .delete_product
        .execute(&actor, ProductId::from_uuid(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
