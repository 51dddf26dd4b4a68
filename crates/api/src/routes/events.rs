//! The event log (admin): what the outbox holds, newest first.

use axum::Json;
use axum::extract::State;

use crate::AppState;
use crate::auth::Auth;
use crate::dto::EventPage;
use crate::error::{ApiError, Problem};
use crate::extractors::EventQuery;

/// List events
///
/// Every event the shop wrote, newest first, a page at a time (admin). Each was written in the
/// transaction of the change it tells of: a change that committed has its event, one that
/// rolled back (a refused order, say) has none, and an idempotent replay writes no second one.
/// `data` is the resource as the API showed it at that moment.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", operation_id = "list_events",
    params(
        ("type" = Option<crate::dto::EventTypeName>, Query, description = "Only events of this type; taken as sent, so an empty or unknown type is refused (422)"),
        ("page" = Option<u32>, Query, minimum = 1, maximum = 1_000_000, example = 1, description = "1-based page, default 1; a page past the end is an empty 200; beyond 1000000 is refused (422). Ignored with `cursor`"),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, example = 20, description = "1..=100, default 20"),
        ("cursor" = Option<String>, Query, min_length = 1, max_length = 4096, description = "Opaque cursor from the previous page's `next_cursor`: the page after it, at the same cost at any depth; `page` is then ignored. One that was changed, or belongs to another list, filter or sort, is refused (422 on `cursor`)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of events, newest first", body = EventPage, example = json!(crate::openapi::examples::event_page())),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Auth(actor): Auth,
    query: EventQuery,
) -> Result<Json<EventPage>, ApiError> {
    let page = state
        .list_events
        .execute(&actor, query.event_type, query.page)
        .await?;
    Ok(Json(page.into()))
}
