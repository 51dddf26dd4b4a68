//! Webhook endpoints (admin): where events are delivered, their secrets, their deliveries.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use domain::{DeliveryId, WebhookEndpointId};

use crate::AppState;
use crate::auth::Auth;
use crate::dto::{
    CreateWebhookEndpointRequest, DeliveryPage, UpdateWebhookEndpointRequest, WebhookEndpointPage,
    WebhookEndpointResponse, WebhookEndpointWithSecret,
};
use crate::error::{ApiError, Problem};
use crate::extractors::{AppJson, DeliveryPath, DeliveryQuery, IdPath, PageQuery};
use crate::routes::created;
use crate::routes::crud::admin_crud;

admin_crud! {
    service: webhook_endpoints, id: WebhookEndpointId, path: "/api/v1/webhook-endpoints", tag: "webhooks",
    one: "endpoint", One: "Endpoint", many: "endpoints",

    /// Create a webhook endpoint
    ///
    /// Subscribes a URL to event types (or `"*"`) (admin). The answer holds the endpoint's signing
    /// secret, shown this once (and again only by rotation). The URL must be `https` (plain `http`
    /// only where `WEBHOOK_ALLOW_HTTP=true`) and its host must resolve to public addresses only:
    /// loopback, private, link-local, unique-local and IPv4-mapped forms of those are refused
    /// unless `WEBHOOK_ALLOW_PRIVATE_NETWORKS=true`. The same check runs again at each delivery.
    create "create_webhook_endpoint" (CreateWebhookEndpointRequest, example = create_webhook_endpoint)
        => "Created, with its secret" (WebhookEndpointWithSecret, example = webhook_endpoint_with_secret),
        location: "The endpoint's URL", link: "The endpoint",
        more_links: [
            ("rotate_webhook_secret" = (operation_id = "rotate_webhook_secret", parameters(("id" = "$response.body#/id")), description = "Rotate its secret")),
            ("list_webhook_deliveries" = (operation_id = "list_webhook_deliveries", parameters(("id" = "$response.body#/id")), description = "Its deliveries")),
        ],
        invalid: "Invalid fields (a URL that is not https, or reaches a non-public address)";

    /// List webhook endpoints
    ///
    /// Every endpoint, newest first, a page at a time (admin); secrets are not shown.
    list "list_webhook_endpoints" (WebhookEndpointPage, example = webhook_endpoint_page),
        cursor of: "another list, filter or sort";

    /// Get a webhook endpoint
    ///
    /// One endpoint (admin), without its secret.
    get "get_webhook_endpoint" (WebhookEndpointResponse, example = webhook_endpoint);

    /// Update a webhook endpoint
    ///
    /// Changes any subset of an endpoint's fields (admin); absent fields stay and
    /// `description: null` clears the note. A new URL is checked as on create.
    update "update_webhook_endpoint" (UpdateWebhookEndpointRequest, example = {"enabled": false});

    /// Delete a webhook endpoint
    ///
    /// Removes an endpoint (admin) with its deliveries; nothing more is sent to it.
    delete "delete_webhook_endpoint";
}

/// Rotate a webhook endpoint's secret
///
/// Gives the endpoint a new signing secret (admin), answered this once; deliveries from now on
/// are signed with it.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/rotate-secret", tag = "webhooks", operation_id = "rotate_webhook_secret",
    params(("id" = uuid::Uuid, Path, description = "Endpoint id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The endpoint with its new secret", body = WebhookEndpointWithSecret, example = json!(crate::openapi::examples::webhook_endpoint_with_secret())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
) -> Result<Json<WebhookEndpointWithSecret>, ApiError> {
    let endpoint = state
        .webhook_endpoints
        .rotate_secret(&actor, WebhookEndpointId::from_uuid(id))
        .await?;
    Ok(Json(endpoint.into()))
}

/// List a webhook endpoint's deliveries
///
/// The endpoint's deliveries, newest first (admin): one per event it heard, with the attempts
/// made and the receiver's last answer. `status` is taken as sent (empty or unknown is 422).
#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}/deliveries", tag = "webhooks", operation_id = "list_webhook_deliveries",
    params(
        ("id" = uuid::Uuid, Path, description = "Endpoint id"),
        ("status" = Option<crate::dto::DeliveryStatusName>, Query, description = "Only deliveries in this status"),
        ("page" = Option<u32>, Query, minimum = 1, maximum = 1_000_000, example = 1, description = "1-based page, default 1; a page past the end is an empty 200; beyond 1000000 is refused (422). Ignored with `cursor`"),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, example = 20, description = "1..=100, default 20"),
        ("cursor" = Option<String>, Query, min_length = 1, max_length = 4096, description = "Opaque cursor from the previous page's `next_cursor`: the page after it, at the same cost at any depth; `page` is then ignored. One that was changed, or belongs to another list, filter or sort, is refused (422 on `cursor`)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryPage, example = json!(crate::openapi::examples::delivery_page())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn deliveries(
    State(state): State<AppState>,
    Auth(actor): Auth,
    IdPath(id): IdPath,
    query: DeliveryQuery,
) -> Result<Json<DeliveryPage>, ApiError> {
    let page = state
        .webhook_endpoints
        .deliveries(
            &actor,
            WebhookEndpointId::from_uuid(id),
            query.status,
            query.page,
        )
        .await?;
    Ok(Json(page.into()))
}

/// Retry a delivery
///
/// Makes a delivery due now (admin), whatever its status: the job runner sends it again soon.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/retry", tag = "webhooks", operation_id = "retry_webhook_delivery",
    params(
        ("id" = uuid::Uuid, Path, description = "Endpoint id"),
        ("delivery_id" = uuid::Uuid, Path, description = "Delivery id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued to be sent again"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint or delivery", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn retry(
    State(state): State<AppState>,
    Auth(actor): Auth,
    path: DeliveryPath,
) -> Result<StatusCode, ApiError> {
    state
        .webhook_endpoints
        .retry(
            &actor,
            WebhookEndpointId::from_uuid(path.endpoint_id),
            DeliveryId::from_uuid(path.delivery_id),
        )
        .await?;
    Ok(StatusCode::ACCEPTED)
}
