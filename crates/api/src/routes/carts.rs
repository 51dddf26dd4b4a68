//! Carts: made by anyone; reached by their owner (bearer token) or, for a guest's cart, with
//! its `X-Cart-Token`. Anyone else is answered 404, as for a cart that does not exist.

use application::AppError;
use application::checkout::CartCaller;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use domain::CartId;

use crate::AppState;
use crate::auth::{Auth, MaybeAuth};
use crate::dto::{
    AddCartItemRequest, CartResponse, CartShippingOptionList, CreateCartRequest, OrderResponse,
    UpdateCartItemRequest, UpdateCartRequest,
};
use crate::error::{ApiError, Problem};
use crate::extractors::{AppJson, CartItemPath, CartTokenHeader, IdPath, IdempotencyKeyHeader};
use crate::routes::created;

fn caller(actor: Option<application::Actor>, token: Option<String>) -> CartCaller {
    CartCaller { actor, token }
}

/// Create a cart
///
/// With a bearer token the cart is the user's; without one it is a guest's, and the answer
/// carries its `token`, shown this once: send it as `X-Cart-Token` on every later call.
#[utoipa::path(post, path = "/api/v1/carts", tag = "carts", operation_id = "create_cart",
    request_body(content = CreateCartRequest, example = json!({"currency": "EUR"})),
    security((), ("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = CartResponse,
            headers(("Location" = String, description = "The cart: `/api/v1/carts/{id}`")),
            links(
                ("get_cart" = (operation_id = "get_cart", parameters(("id" = "$response.body#/id")), description = "The cart")),
                ("add_cart_item" = (operation_id = "add_cart_item", parameters(("id" = "$response.body#/id")), description = "Add to it")),
            ),
            example = json!(crate::openapi::examples::guest_cart())),
        (status = 422, description = "Invalid `currency` or `email`", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    MaybeAuth(actor): MaybeAuth,
    AppJson(body): AppJson<CreateCartRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let view = state.carts.create(actor.as_ref(), body.into()).await?;
    let location = format!("/api/v1/carts/{}", view.cart.id());
    Ok(created(location, CartResponse::from(view)))
}

/// Get a cart
///
/// The cart at today's prices, with its totals.
#[utoipa::path(get, path = "/api/v1/carts/{id}", tag = "carts", operation_id = "get_cart",
    params(
        ("id" = uuid::Uuid, Path, description = "Cart id"),
        ("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The cart", body = CartResponse, example = json!(crate::openapi::examples::cart())),
        (status = 404, description = "No such cart, or not yours (a wrong or missing token)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    MaybeAuth(actor): MaybeAuth,
    CartTokenHeader(token): CartTokenHeader,
    IdPath(id): IdPath,
) -> Result<Json<CartResponse>, ApiError> {
    let view = state
        .carts
        .get(CartId::from_uuid(id), &caller(actor, token))
        .await?;
    Ok(Json(view.into()))
}

/// Change a cart's details
///
/// Any of `email`, `shipping_address`, `shipping_option_id`, `discount_code`; `null` clears
/// one. A discount code must apply to the cart now; a shipping option must be active, in the
/// cart's currency, and ship to the address.
#[utoipa::path(put, path = "/api/v1/carts/{id}", tag = "carts", operation_id = "update_cart",
    request_body(content = UpdateCartRequest, example = json!({"email": "ada@example.com", "discount_code": "SUMMER-10"})),
    params(
        ("id" = uuid::Uuid, Path, description = "Cart id"),
        ("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The changed cart", body = CartResponse, example = json!(crate::openapi::examples::cart())),
        (status = 404, description = "No such cart, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The cart is completed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad field, named: an unknown, inactive, not yet started, ended, under-minimum or used-up `discount_code` says which; a `shipping_option_id` that does not ship to the address", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<AppState>,
    MaybeAuth(actor): MaybeAuth,
    CartTokenHeader(token): CartTokenHeader,
    IdPath(id): IdPath,
    AppJson(body): AppJson<UpdateCartRequest>,
) -> Result<Json<CartResponse>, ApiError> {
    let view = state
        .carts
        .update(CartId::from_uuid(id), &caller(actor, token), body.into())
        .await?;
    Ok(Json(view.into()))
}

/// Add to a cart
///
/// Adds a variant (or a product of one variant); a variant already in the cart adds to its
/// line.
#[utoipa::path(post, path = "/api/v1/carts/{id}/items", tag = "carts", operation_id = "add_cart_item",
    request_body(content = AddCartItemRequest, example = json!({"variant_id": "0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d", "quantity": 1})),
    params(
        ("id" = uuid::Uuid, Path, description = "Cart id"),
        ("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The cart", body = CartResponse, example = json!(crate::openapi::examples::cart())),
        (status = 404, description = "No such cart, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The cart is completed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not exactly one of `variant_id` and `product_id`; unknown or not for sale; a product of several variants; another currency than the cart's; `quantity` outside 1..=1000 (also summed); a 101st line", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_item(
    State(state): State<AppState>,
    MaybeAuth(actor): MaybeAuth,
    CartTokenHeader(token): CartTokenHeader,
    IdPath(id): IdPath,
    AppJson(body): AppJson<AddCartItemRequest>,
) -> Result<Json<CartResponse>, ApiError> {
    let item = body.item().map_err(AppError::Validation)?;
    let view = state
        .carts
        .add_item(
            CartId::from_uuid(id),
            &caller(actor, token),
            item,
            body.quantity,
        )
        .await?;
    Ok(Json(view.into()))
}

/// Change a cart line's quantity
///
/// Sets the line's quantity; `0` removes the line.
#[utoipa::path(put, path = "/api/v1/carts/{id}/items/{item_id}", tag = "carts", operation_id = "update_cart_item",
    request_body(content = UpdateCartItemRequest, example = json!({"quantity": 2})),
    params(
        ("id" = uuid::Uuid, Path, description = "Cart id"),
        ("item_id" = uuid::Uuid, Path, description = "The line's id"),
        ("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The cart", body = CartResponse, example = json!(crate::openapi::examples::cart())),
        (status = 404, description = "No such cart or line, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The cart is completed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`quantity` outside 0..=1000", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_item(
    State(state): State<AppState>,
    MaybeAuth(actor): MaybeAuth,
    CartTokenHeader(token): CartTokenHeader,
    path: CartItemPath,
    AppJson(body): AppJson<UpdateCartItemRequest>,
) -> Result<Json<CartResponse>, ApiError> {
    let view = state
        .carts
        .set_quantity(
            path.cart_id,
            &caller(actor, token),
            path.item_id,
            body.quantity,
        )
        .await?;
    Ok(Json(view.into()))
}

/// Remove a cart line
///
/// Takes the line out of the cart.
#[utoipa::path(delete, path = "/api/v1/carts/{id}/items/{item_id}", tag = "carts", operation_id = "delete_cart_item",
    params(
        ("id" = uuid::Uuid, Path, description = "Cart id"),
        ("item_id" = uuid::Uuid, Path, description = "The line's id"),
        ("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The cart", body = CartResponse, example = json!(crate::openapi::examples::cart())),
        (status = 404, description = "No such cart or line, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The cart is completed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_item(
    State(state): State<AppState>,
    MaybeAuth(actor): MaybeAuth,
    CartTokenHeader(token): CartTokenHeader,
    path: CartItemPath,
) -> Result<Json<CartResponse>, ApiError> {
    let view = state
        .carts
        .remove_item(path.cart_id, &caller(actor, token), path.item_id)
        .await?;
    Ok(Json(view.into()))
}

/// Shipping options for a cart
///
/// The active options that ship to the cart's address, each with what it would charge this
/// cart; an empty list before the cart has an address.
#[utoipa::path(get, path = "/api/v1/carts/{id}/shipping-options", tag = "carts", operation_id = "list_cart_shipping_options",
    params(
        ("id" = uuid::Uuid, Path, description = "Cart id"),
        ("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The options", body = CartShippingOptionList, example = json!(crate::openapi::examples::cart_shipping_options())),
        (status = 404, description = "No such cart, or not yours", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn shipping_options(
    State(state): State<AppState>,
    MaybeAuth(actor): MaybeAuth,
    CartTokenHeader(token): CartTokenHeader,
    IdPath(id): IdPath,
) -> Result<Json<CartShippingOptionList>, ApiError> {
    let offered = state
        .carts
        .shipping_options(CartId::from_uuid(id), &caller(actor, token))
        .await?;
    Ok(Json(CartShippingOptionList {
        items: offered.into_iter().map(Into::into).collect(),
    }))
}

/// Claim a guest cart
///
/// A signed-in user with the cart's `X-Cart-Token` makes the guest cart theirs; from then on
/// the token no longer opens it. Claiming one's own cart again changes nothing.
#[utoipa::path(post, path = "/api/v1/carts/{id}/claim", tag = "carts", operation_id = "claim_cart",
    params(
        ("id" = uuid::Uuid, Path, description = "Cart id"),
        ("X-Cart-Token" = Option<String>, Header, description = "The guest cart's token (a cart already the caller's needs none: claiming it again changes nothing)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cart, now the user's", body = CartResponse, example = json!(crate::openapi::examples::cart())),
        (status = 401, description = "No bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such cart, a wrong or missing token, or another user's cart", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The cart is completed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn claim(
    State(state): State<AppState>,
    Auth(actor): Auth,
    CartTokenHeader(token): CartTokenHeader,
    IdPath(id): IdPath,
) -> Result<Json<CartResponse>, ApiError> {
    let view = state
        .carts
        .claim(CartId::from_uuid(id), &actor, token)
        .await?;
    Ok(Json(view.into()))
}

/// Check a cart out
///
/// Turns the cart into an order in one transaction: every line's stock is taken, the
/// discount's use counted, the order written and the cart completed (it refuses changes from
/// then on). It needs at least one item, an `email` (a signed-in user's own by default), a
/// `shipping_address`, and a shipping option when any ships there. A guest's order carries its
/// `token`, shown once: send it as `X-Order-Token` to `GET /orders/{id}`. With an
/// `Idempotency-Key`, a repeat answers the first order again (`Idempotent-Replayed: true`,
/// without the token); without it, a second checkout is 409.
#[utoipa::path(post, path = "/api/v1/carts/{id}/checkout", tag = "carts", operation_id = "checkout_cart",
    params(
        ("id" = uuid::Uuid, Path, description = "Cart id"),
        ("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255,
            pattern = "^[\\x21-\\x7e]+$", example = "3f1c9a52-checkout-2026-12-01",
            description = "1..=255 visible ASCII characters, per customer (per cart for a guest), kept 24 hours"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 201, description = "The order (or, for a repeated key, the first one)", body = OrderResponse,
            headers(
                ("Location" = String, description = "The order: `/api/v1/orders/{id}`"),
                ("Idempotent-Replayed" = String, description = "`true` when this answers an earlier request with the same `Idempotency-Key`; absent otherwise"),
            ),
            example = json!(crate::openapi::examples::checked_out_order())),
        (status = 404, description = "No such cart, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already checked out, a variant short of stock (named), the promotion's last use went to another checkout, or the key was used for another cart; nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or wrong: `items` (empty, or a line no longer for sale), `email`, `shipping_address`, `shipping_option_id`, `discount_code` (saying why it does not apply)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn checkout(
    State(state): State<AppState>,
    MaybeAuth(actor): MaybeAuth,
    CartTokenHeader(token): CartTokenHeader,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    IdPath(id): IdPath,
) -> Result<impl IntoResponse, ApiError> {
    let done = state
        .carts
        .check_out(CartId::from_uuid(id), &caller(actor, token), key)
        .await?;
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/orders/{}", done.order.id())) {
        headers.insert(header::LOCATION, v);
    }
    if done.replayed {
        headers.insert(
            HeaderName::from_static("idempotent-replayed"),
            HeaderValue::from_static("true"),
        );
    }
    let mut body = OrderResponse::from(done.order);
    body.token = done.token;
    Ok((StatusCode::CREATED, headers, Json(body)))
}
