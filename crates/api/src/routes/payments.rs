use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use domain::OrderId;

use crate::AppState;
use crate::dto::PaymentResponse;
use crate::error::{ApiError, Problem};
use crate::extractors::IdPath;

/// Start paying an order
///
/// Creates (or, called again, answers the same) payment intent for the order's total with the
/// configured provider: its owner, an admin, or anyone with the guest order's `X-Order-Token`.
/// A storefront completes a Stripe payment with the `client_secret` (Stripe.js); the webhook
/// then marks the order paid. With `PAYMENT_PROVIDER=manual` the intent is a placeholder and
/// an admin records the payment.
#[utoipa::path(post, path = "/api/v1/orders/{id}/payment", tag = "payments", operation_id = "start_order_payment",
    params(
        ("id" = uuid::Uuid, Path, description = "Order id"),
        ("X-Order-Token" = Option<String>, Header, description = "A guest order's token (from checkout)"),
    ),
    security(("bearer" = []), ()),
    responses(
        (status = 200, description = "The payment intent", body = PaymentResponse, example = json!({
            "provider": "stripe", "payment_intent_id": "pi_3Pq2", "client_secret": "pi_3Pq2_secret_x",
            "amount": "63.38", "currency": "EUR"})),
        (status = 401, description = "Neither a bearer token nor `X-Order-Token`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Paid, cancelled or past paying; or the provider refused, with its reason", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The provider found the request invalid, with its reason (`payment`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The payment provider cannot be reached", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn start(
    State(state): State<AppState>,
    caller: crate::auth::AuthOrOrderToken,
    IdPath(id): IdPath,
) -> Result<Json<PaymentResponse>, ApiError> {
    let id = OrderId::from_uuid(id);
    let started = match caller {
        crate::auth::AuthOrOrderToken::Signed(actor) => {
            state.start_payment.execute(Some(&actor), None, id).await?
        }
        crate::auth::AuthOrOrderToken::Token(actor, token) => {
            state
                .start_payment
                .execute(actor.as_ref(), Some(&token), id)
                .await?
        }
    };
    Ok(Json(started.into()))
}

/// Stripe's webhook
///
/// Where Stripe sends its events (`payment_intent.succeeded`). The `Stripe-Signature` header
/// must sign the body with `STRIPE_WEBHOOK_SECRET` and be at most 5 minutes old: otherwise
/// 400 and nothing changes. An event id seen before changes nothing. 404 unless
/// `PAYMENT_PROVIDER=stripe`.
#[utoipa::path(post, path = "/api/v1/payments/stripe/webhook", tag = "payments", operation_id = "receive_stripe_webhook",
    request_body(content = Object, content_type = "application/json", description = "Stripe's event, as Stripe signed it", example = json!({
        "id": "evt_1Nv0fXJ2eZvKYlo2",
        "type": "payment_intent.succeeded",
        "data": {"object": {
            "id": "pi_3Nv0fWJ2eZvKYlo2",
            "object": "payment_intent",
            "amount": 1990,
            "currency": "eur",
            "metadata": {"order_id": "01933b5e-8f4a-7c3e-9a1b-2c3d4e5f6a7b"}
        }}
    })),
    params(
        ("Stripe-Signature" = Option<String>, Header, description = "`t=<unix time>,v1=<hex HMAC-SHA256 of \"t.body\">`, one `v1` per signing secret"),
    ),
    security(()),
    responses(
        (status = 200, description = "Handled (or seen before, or ignored)"),
        (status = 400, description = "Missing, wrong or stale signature, or not an event", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Stripe is not the payment provider", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A refund of a late payment was refused, with the provider's reason", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A refund of a late payment was found invalid by the provider", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database or the provider cannot be reached: Stripe sends it again", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    state.payment_webhook.execute(signature, &body).await?;
    Ok(Json(serde_json::json!({"received": true})))
}
