use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use domain::ProductId;

use crate::AppState;
use crate::auth::{Auth, MaybeAuth};
use crate::dto::{CreateProductRequest, ProductPage, ProductResponse, UpdateProductRequest};
use crate::error::{ApiError, Problem};
use crate::extractors::{AppJson, IdPath, LookupPath, ProductQuery};
use crate::routes::created;

/// List products
///
/// The catalog, newest first, a page at a time. `q` searches name and description,
/// case-insensitively, anywhere in the text; any text is accepted. Public: anyone but an
/// admin sees active products only; an admin sees every status, or the one `status` names.
#[utoipa::path(get, path = "/api/v1/products", tag = "products", operation_id = "list_products",
    params(
        ("page" = Option<u32>, Query, minimum = 1, maximum = 1_000_000, example = 1, description = "1-based page, default 1; a page past the end is an empty 200; beyond 1000000 is refused (422). Ignored with `cursor`"),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, example = 20, description = "1..=100, default 20"),
        ("cursor" = Option<String>, Query, min_length = 1, max_length = 4096, description = "Opaque cursor from the previous page's `next_cursor`: the page after it, at the same cost at any depth; `page` is then ignored. One that was changed, or belongs to another list, filter or sort, is refused (422 on `cursor`)"),
        ("q" = Option<String>, Query, example = "mug", description = "Search text"),
        ("status" = Option<crate::dto::ProductStatusDto>, Query, description = "Admins only: only products of this status (others always get active ones). Taken as sent: any other value, an empty one too, is 422"),
        ("category" = Option<String>, Query, min_length = 1, max_length = 100, example = "mugs", description = "A category's id or slug: its products and those of every category below it. A well-formed id or slug that names no category matches nothing (an empty page, as Medusa's `category_id` filter answers); text that is neither is 422"),
        ("min_price" = Option<String>, Query, pattern = r"^[0-9]{1,15}(\.[0-9]{1,3})?$", example = "5.00", description = "Lowest price, inclusive: a decimal string with at most the currency's minor digits; needs `currency` (else 422)"),
        ("max_price" = Option<String>, Query, pattern = r"^[0-9]{1,15}(\.[0-9]{1,3})?$", example = "25.00", description = "Highest price, inclusive, as `min_price`; needs `currency` (else 422), and not below `min_price` (else 422)"),
        ("currency" = Option<String>, Query, pattern = "^[A-Z]{3}$", example = "EUR", description = "ISO 4217 code: only products priced in it (required with a price bound)"),
        ("in_stock" = Option<bool>, Query, description = "`true`: only products with stock; `false`: only those without. Any other value, an empty one too, is 422"),
        ("sort" = Option<crate::dto::ProductSortDto>, Query, description = "The order: `newest` (the default), `oldest`, `price_asc`, `price_desc` (then newest), `name_asc` (case-insensitive, then newest), or `relevance` (the default with `q`: a name equal to the search first, then names starting with it, then names containing it, then products matched by their description alone, newest first within each, ranking the newest 10,000 matches and every product named exactly as searched; the `total` still counts every match and `newest` lists them all; without `q` the same as `newest`). Any other value, an empty one too, is 422"),
    ),
    responses(
        (status = 200, description = "A page of products", body = ProductPage,
            links(
                ("get_product" = (operation_id = "get_product", parameters(("id" = "$response.body#/items/0/id")), description = "The newest product")),
                ("get_image_file" = (operation_id = "get_image_file", parameters(("image_id" = "$response.body#/items/0/images/0/id")), description = "The newest product's first image")),
            ),
            example = json!(crate::openapi::examples::product_page())),
        (status = 422, description = "A parameter is invalid (page or per_page out of range, an unknown status, a cursor of another list, filter or sort, or one that was changed); `errors` names it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    MaybeAuth(actor): MaybeAuth,
    query: ProductQuery,
) -> Result<Json<ProductPage>, ApiError> {
    let page = state
        .list_products
        .execute(
            actor.as_ref(),
            query.page,
            query.filter,
            query.category.as_ref(),
        )
        .await?;
    Ok(Json(page.into()))
}

/// Get a product
///
/// One product of the catalog, by id or by slug, with its images and categories. Public: a
/// product that is not active is found by admins only (404 to anyone else).
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "products", operation_id = "get_product",
    params(("id" = String, Path, description = "Product id (a UUID) or slug", example = "stoneware-mug")),
    responses(
        (status = 200, description = "The product", body = ProductResponse,
            links(
                ("get_image_file" = (operation_id = "get_image_file", parameters(("image_id" = "$response.body#/images/0/id")), description = "Its first image's bytes")),
                ("delete_product_image" = (operation_id = "delete_product_image", parameters(("id" = "$response.body#/id"), ("image_id" = "$response.body#/images/0/id")), description = "Remove its first image (admin)")),
            ),
            example = json!(crate::openapi::examples::product())),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    MaybeAuth(actor): MaybeAuth,
    LookupPath(key): LookupPath<ProductId>,
) -> Result<Json<ProductResponse>, ApiError> {
    let product = state.get_product.execute(actor.as_ref(), &key).await?;
    Ok(Json(product.into()))
}

/// Create a product
///
/// Adds a product to the catalog (admin). It has no images yet: upload them to
/// `/api/v1/products/{id}/images`.
#[utoipa::path(post, path = "/api/v1/products", tag = "products", operation_id = "create_product",
    request_body(content = CreateProductRequest, example = json!(crate::openapi::examples::create_product())),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; `Location` names it", body = ProductResponse,
            headers(("Location" = String, description = "The new product: `/api/v1/products/{id}`")),
            links(
                ("get_product" = (operation_id = "get_product", parameters(("id" = "$response.body#/id")), description = "The product created")),
                ("update_product" = (operation_id = "update_product", parameters(("id" = "$response.body#/id")), description = "Change it")),
                ("delete_product" = (operation_id = "delete_product", parameters(("id" = "$response.body#/id")), description = "Remove it")),
                ("upload_product_image" = (operation_id = "upload_product_image", parameters(("id" = "$response.body#/id")), description = "Add an image")),
                ("place_order" = (operation_id = "place_order", request_body = json!({"items": [{"product_id": "$response.body#/id", "quantity": 1}]}), description = "Order one")),
            ),
            example = json!(crate::openapi::examples::new_product())),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "SKU or slug taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (an unknown category on `category_ids`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    AppJson(body): AppJson<CreateProductRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let product = state.create_product.execute(&actor, body.into()).await?;
    let location = format!("/api/v1/products/{}", product.product.id);
    Ok(created(location, ProductResponse::from(product)))
}

/// Update a product
///
/// Changes any subset of a product's fields (admin); absent fields stay as they are and
/// `description: null` clears the description. `variants` (with `options`, or against the
/// product's own) replaces its whole set of variants in one step: a variant with an `id`
/// keeps it, one without is new, the others are deleted; `sku`, `price` and `stock` then
/// follow the new set.
#[utoipa::path(put, path = "/api/v1/products/{id}", tag = "products", operation_id = "update_product",
    request_body(content = UpdateProductRequest, example = json!({"name": "Stoneware mug, blue", "stock": 80})),
    params(("id" = uuid::Uuid, Path, description = "Product id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed product", body = ProductResponse, example = json!(crate::openapi::examples::product())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "SKU or slug taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (an unknown category on `category_ids`; `sku`, `price` or `stock` on a product of several variants or with `variants`; `options` without `variants`; a variant `id` the product does not have)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
    AppJson(body): AppJson<UpdateProductRequest>,
) -> Result<Json<ProductResponse>, ApiError> {
    let product = state
        .update_product
        .execute(&actor, ProductId::from_uuid(id), body.into())
        .await?;
    Ok(Json(product.into()))
}

/// Delete a product
///
/// Removes a product from the catalog (admin), with its images. Its SKU becomes free; orders
/// keep their copy of its sku, name and price.
#[utoipa::path(delete, path = "/api/v1/products/{id}", tag = "products", operation_id = "delete_product",
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
