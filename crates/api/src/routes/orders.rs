use application::ordering::{PlaceOrderCommand, Placed};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use domain::{OrderId, ProductId};

use crate::AppState;
use crate::auth::Auth;
use crate::dto::{OrderPage, OrderResponse, OrderStatusRequest, PlaceOrderRequest};
use crate::error::{ApiError, Problem};
use crate::extractors::{AppJson, IdPath, IdempotencyKeyHeader, OrderQuery};

const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Orders: a user's own; an admin's view of all, filtered by `user_id` and `status`.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders",
    params(
        ("page" = Option<u32>, Query, description = "1-based page, default 1"),
        ("per_page" = Option<u32>, Query, description = "1..=100, default 20"),
        ("user_id" = Option<uuid::Uuid>, Query, description = "Admin only: one account's orders (ignored for users, who always see their own)"),
        ("status" = Option<String>, Query, description = "Only orders in this status"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of orders, newest first", body = OrderPage),
        (status = 422, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Auth(actor): Auth,
    query: OrderQuery,
) -> Result<Json<OrderPage>, ApiError> {
    let page = state
        .list_orders
        .execute(&actor, query.filter, query.page)
        .await?;
    Ok(Json(page.into()))
}

/// One order (its owner or an admin; anyone else's answers 404).
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders",
    params(("id" = uuid::Uuid, Path, description = "Order id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The order", body = OrderResponse),
        (status = 404, description = "No such order, or not yours", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
) -> Result<Json<OrderResponse>, ApiError> {
    Ok(Json(
        state
            .get_order
            .execute(&actor, OrderId::from_uuid(id))
            .await?
            .into(),
    ))
}

/// Place an order. Stock is taken in the same transaction that writes the order. With an
/// `Idempotency-Key`, the same key and body within 24 hours answers the first order again
/// (201, header `Idempotent-Replayed: true`) and places nothing new; another body under the
/// same key is 409. Only placed orders are remembered: a request that failed may be retried
/// with its key.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders", request_body = PlaceOrderRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "1..=255 characters, per user, kept 24 hours")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Placed (or replayed)", body = OrderResponse),
        (status = 409, description = "Not enough stock (the detail names the product id), or the key was used with another body", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid lines, unknown or deleted product, mixed currencies, bad address", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn place(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdempotencyKeyHeader(idempotency_key): IdempotencyKeyHeader,
    AppJson(body): AppJson<PlaceOrderRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let placed = state
        .place_order
        .execute(
            &actor,
            PlaceOrderCommand {
                items: body
                    .items
                    .iter()
                    .map(|i| (ProductId::from_uuid(i.product_id), i.quantity))
                    .collect(),
                shipping_address: body.shipping_address.map(Into::into),
                idempotency_key,
            },
        )
        .await?;
    let replayed = matches!(placed, Placed::Replayed(_));
    let order = placed.into_order();
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/orders/{}", order.id())) {
        headers.insert(header::LOCATION, v);
    }
    if replayed {
        headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    Ok((
        StatusCode::CREATED,
        headers,
        Json(OrderResponse::from(order)),
    ))
}

/// Change an order's status (admin): pending→paid→shipped→delivered, pending or
/// paid→cancelled (which puts the stock back). Any other change is 409.
#[utoipa::path(put, path = "/api/v1/orders/{id}/status", tag = "orders", request_body = OrderStatusRequest,
    params(("id" = uuid::Uuid, Path, description = "Order id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed order", body = OrderResponse),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Change not allowed from the current status", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a status", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn change_status(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
    AppJson(body): AppJson<OrderStatusRequest>,
) -> Result<Json<OrderResponse>, ApiError> {
    Ok(Json(
        state
            .change_order_status
            .execute(&actor, OrderId::from_uuid(id), &body.status)
            .await?
            .into(),
    ))
}

/// Cancel an order (its owner or an admin) while pending or paid; the stock goes back once.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders",
    params(("id" = uuid::Uuid, Path, description = "Order id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cancelled order", body = OrderResponse),
        (status = 404, description = "No such order, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already shipped, delivered or cancelled", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
) -> Result<Json<OrderResponse>, ApiError> {
    Ok(Json(
        state
            .cancel_order
            .execute(&actor, OrderId::from_uuid(id))
            .await?
            .into(),
    ))
}
