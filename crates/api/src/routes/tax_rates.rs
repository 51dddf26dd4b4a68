//! Tax rates (admin): a percent per country, or per state of a country; prices are before tax.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use domain::TaxRateId;

use crate::AppState;
use crate::auth::Auth;
use crate::dto::{CreateTaxRateRequest, TaxRatePage, TaxRateResponse, UpdateTaxRateRequest};
use crate::error::{ApiError, Problem};
use crate::extractors::{AppJson, IdPath, PageQuery};
use crate::routes::created;

/// Create a tax rate
///
/// Makes the tax of a `country`, or of one `state` of it (admin): `rate` is the percent, a
/// decimal string (`"19.0"`). Prices are before tax; checkout applies the rate of the shipping
/// address's country and state, or the country's rate where no rate names the state. One
/// rate per country and state: states compare case-insensitively, and a country has one rate
/// without a state (409, naming `state`, or `country` for the rate without one).
#[utoipa::path(post, path = "/api/v1/tax-rates", tag = "tax", operation_id = "create_tax_rate",
    request_body(content = CreateTaxRateRequest, example = json!(crate::openapi::examples::create_tax_rate())),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = TaxRateResponse,
            headers(("Location" = String, description = "The tax rate's URL")),
            links(
                ("get_tax_rate" = (operation_id = "get_tax_rate", parameters(("id" = "$response.body#/id")), description = "The tax rate")),
                ("update_tax_rate" = (operation_id = "update_tax_rate", parameters(("id" = "$response.body#/id")), description = "Change it")),
                ("delete_tax_rate" = (operation_id = "delete_tax_rate", parameters(("id" = "$response.body#/id")), description = "Remove it")),
            ),
            example = json!(crate::openapi::examples::tax_rate())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The country (and state) already has a rate", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields; `errors` names each", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    AppJson(body): AppJson<CreateTaxRateRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let rate = state.tax_rates.create(&actor, body.into()).await?;
    let location = format!("/api/v1/tax-rates/{}", rate.id);
    Ok(created(location, TaxRateResponse::from(rate)))
}

/// List tax rates
///
/// Every tax rate, newest first, a page at a time (admin).
#[utoipa::path(get, path = "/api/v1/tax-rates", tag = "tax", operation_id = "list_tax_rates",
    params(
        ("page" = Option<u32>, Query, minimum = 1, maximum = 1_000_000, example = 1, description = "1-based page, default 1; a page past the end is an empty 200; beyond 1000000 is refused (422). Ignored with `cursor`"),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, example = 20, description = "1..=100, default 20"),
        ("cursor" = Option<String>, Query, min_length = 1, max_length = 4096, description = "Opaque cursor from the previous page's `next_cursor`: the page after it, at the same cost at any depth; `page` is then ignored. One that was changed, or belongs to another list, is refused (422 on `cursor`)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of tax rates", body = TaxRatePage, example = json!(crate::openapi::examples::tax_rate_page())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is invalid (page or per_page out of range, a cursor of another list or one that was changed); `errors` names it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Auth(actor): Auth,
    PageQuery(page): PageQuery,
) -> Result<Json<TaxRatePage>, ApiError> {
    Ok(Json(state.tax_rates.list(&actor, page).await?.into()))
}

/// Get a tax rate
///
/// One tax rate (admin).
#[utoipa::path(get, path = "/api/v1/tax-rates/{id}", tag = "tax", operation_id = "get_tax_rate",
    params(("id" = uuid::Uuid, Path, description = "Tax rate id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The tax rate", body = TaxRateResponse, example = json!(crate::openapi::examples::tax_rate())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tax rate", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
) -> Result<Json<TaxRateResponse>, ApiError> {
    let rate = state
        .tax_rates
        .get(&actor, TaxRateId::from_uuid(id))
        .await?;
    Ok(Json(rate.into()))
}

/// Update a tax rate
///
/// Changes any subset of a tax rate's fields (admin); absent fields stay and `state: null`
/// makes it the country's rate. A country and state that another rate has: 409.
#[utoipa::path(put, path = "/api/v1/tax-rates/{id}", tag = "tax", operation_id = "update_tax_rate",
    request_body(content = UpdateTaxRateRequest, example = json!({"rate": "7.0"})),
    params(("id" = uuid::Uuid, Path, description = "Tax rate id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed tax rate", body = TaxRateResponse, example = json!(crate::openapi::examples::tax_rate())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tax rate", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The country (and state) already has a rate", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
    AppJson(body): AppJson<UpdateTaxRateRequest>,
) -> Result<Json<TaxRateResponse>, ApiError> {
    let rate = state
        .tax_rates
        .update(&actor, TaxRateId::from_uuid(id), body.into())
        .await?;
    Ok(Json(rate.into()))
}

/// Delete a tax rate
///
/// Removes a tax rate (admin); addresses it taxed fall back to the country's rate, or none.
#[utoipa::path(delete, path = "/api/v1/tax-rates/{id}", tag = "tax", operation_id = "delete_tax_rate",
    params(("id" = uuid::Uuid, Path, description = "Tax rate id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tax rate", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    state
        .tax_rates
        .delete(&actor, TaxRateId::from_uuid(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
