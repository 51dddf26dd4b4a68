use application::AppError;
use application::ordering::{PlaceOrderCommand, Placed};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use domain::OrderId;

use crate::AppState;
use crate::auth::Auth;
use crate::dto::{OrderPage, OrderResponse, OrderStatusRequest, PlaceOrderRequest};
use crate::error::{ApiError, Problem};
use crate::extractors::{AppJson, IdPath, IdempotencyKeyHeader, OrderQuery};

const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// List orders
///
/// Orders, newest first, a page at a time: a user's own; for an admin all of them,
/// filtered by `user_id` and `status`.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", operation_id = "list_orders",
    params(
        ("page" = Option<u32>, Query, minimum = 1, maximum = 1_000_000, example = 1, description = "1-based page, default 1; a page past the end is an empty 200; beyond 1000000 is refused (422). Ignored with `cursor`"),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, example = 20, description = "1..=100, default 20"),
        ("cursor" = Option<String>, Query, min_length = 1, max_length = 4096, description = "Opaque cursor from the previous page's `next_cursor`: the page after it, at the same cost at any depth; `page` is then ignored. One that was changed, or belongs to another list, filter or sort, is refused (422 on `cursor`)"),
        ("user_id" = Option<uuid::Uuid>, Query, description = "Admin only: one account's orders (ignored for users, who always see their own)"),
        ("status" = Option<crate::dto::OrderStatusName>, Query, description = "Only orders in this status"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of orders, newest first", body = OrderPage,
            links(
                ("get_order" = (operation_id = "get_order", parameters(("id" = "$response.body#/items/0/id")), description = "The newest order")),
                ("cancel_order" = (operation_id = "cancel_order", parameters(("id" = "$response.body#/items/0/id")), description = "Cancel the newest order")),
                ("change_order_status" = (operation_id = "change_order_status", parameters(("id" = "$response.body#/items/0/id")), description = "Change the newest order's status (admin)")),
            ),
            example = json!(crate::openapi::examples::order_page())),
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

/// Get an order
///
/// One order, to its owner or an admin, or a guest's order with its `X-Order-Token`; anyone
/// else's answers 404. Without a bearer token and without `X-Order-Token`: 401.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders", operation_id = "get_order",
    params(
        ("id" = uuid::Uuid, Path, description = "Order id"),
        ("X-Order-Token" = Option<String>, Header, description = "A guest order's token (from checkout)"),
    ),
    security(("bearer" = []), ()),
    responses(
        (status = 200, description = "The order", body = OrderResponse, example = json!(crate::openapi::examples::order())),
        (status = 404, description = "No such order, or not yours", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: crate::auth::AuthOrOrderToken,
    IdPath(id): IdPath,
) -> Result<Json<OrderResponse>, ApiError> {
    let id = OrderId::from_uuid(id);
    let order = match caller {
        crate::auth::AuthOrOrderToken::Signed(actor) => state.get_order.execute(&actor, id).await?,
        crate::auth::AuthOrOrderToken::Token(actor, token) => {
            state
                .get_order
                .execute_with_token(actor.as_ref(), &token, id)
                .await?
        }
    };
    Ok(Json(order.into()))
}

/// Place an order
///
/// Stock is taken in the same transaction that writes the order. With an
/// `Idempotency-Key`, the same key and body within 24 hours answers the first order again
/// (201, header `Idempotent-Replayed: true`) and places nothing new; another body under the
/// same key is 409. Only placed orders are remembered: a request that failed may be retried
/// with its key.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders", operation_id = "place_order",
    request_body(content = PlaceOrderRequest, example = json!(crate::openapi::examples::place_order())),
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255,
        pattern = "^[\\x21-\\x7e]+$", example = "3f1c9a52-order-2026-12-01",
        description = "1..=255 visible ASCII characters, per user, kept 24 hours")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Placed (or replayed)", body = OrderResponse,
            headers(
                ("Location" = String, description = "The order: `/api/v1/orders/{id}`"),
                ("Idempotent-Replayed" = String, description = "`true` when this answers an earlier request with the same `Idempotency-Key` and body; absent otherwise"),
            ),
            links(
                ("get_order" = (operation_id = "get_order", parameters(("id" = "$response.body#/id")), description = "The order")),
                ("cancel_order" = (operation_id = "cancel_order", parameters(("id" = "$response.body#/id")), description = "Cancel it")),
                ("change_order_status" = (operation_id = "change_order_status", parameters(("id" = "$response.body#/id")), description = "Change its status (admin)")),
            ),
            example = json!(crate::openapi::examples::order())),
        (status = 409, description = "Not enough stock (the detail names the variant id), or the key was used with another body", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid lines (each names exactly one of `variant_id` and `product_id`), unknown or deleted product or variant, a `product_id` of a product of several variants, mixed currencies, bad address", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn place(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdempotencyKeyHeader(idempotency_key): IdempotencyKeyHeader,
    AppJson(body): AppJson<PlaceOrderRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let mut items = Vec::with_capacity(body.items.len());
    let mut refused = Vec::new();
    for (i, item) in body.items.iter().enumerate() {
        match item.item(i) {
            Ok(it) => items.push((it, item.quantity)),
            Err(e) => refused.extend(e),
        }
    }
    if !refused.is_empty() {
        return Err(AppError::Validation(refused).into());
    }
    let placed = state
        .place_order
        .execute(
            &actor,
            PlaceOrderCommand {
                items,
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

/// Change an order's status
///
/// Moves an order along its life (admin): pending→paid→shipped→delivered, pending or
/// paid→cancelled (which puts the stock back). Any other change is 409.
#[utoipa::path(put, path = "/api/v1/orders/{id}/status", tag = "orders", operation_id = "change_order_status",
    request_body(content = OrderStatusRequest, example = json!({"status": "paid"})),
    params(("id" = uuid::Uuid, Path, description = "Order id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed order", body = OrderResponse, example = json!(crate::openapi::examples::paid_order())),
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

/// Cancel an order
///
/// Cancels an order (its owner or an admin) while it is pending or paid; its stock goes back,
/// once.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders", operation_id = "cancel_order",
    params(("id" = uuid::Uuid, Path, description = "Order id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cancelled order", body = OrderResponse, example = json!(crate::openapi::examples::cancelled_order())),
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
