//! `/admin/orders`: the list (newest first, by status, a page at a time with cursors), one
//! order's page, and its forms: a status change along the allowed edges, and cancelling (which
//! refunds a paid order). The use cases decide who may do what; a change they refuse shows the
//! order's page again with their reason.

use application::AppError;
use application::ports::OrderFilter;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use domain::{Order, OrderId, OrderStatus};
use serde::Deserialize;

use crate::{
    Admin, AppState, CsrfForm, Dashboard, error_page, failed, forbidden_form, html, page_request,
    pages, query_escape, see_other, session, signed_in,
};

/// Orders on a page of `/admin/orders`.
const ORDERS_PER_PAGE: u32 = 25;

#[derive(Deserialize, Default)]
pub(crate) struct OrdersQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

/// The orders list's identity, which its cursors are bound to.
fn orders_list(status: Option<OrderStatus>) -> String {
    let status = status.map_or("", |s| s.as_str());
    format!("/admin/orders\nstatus={status}")
}

/// The order an address names, if it is an order id at all.
fn order_id(raw: &str) -> Option<OrderId> {
    uuid::Uuid::try_parse(raw).ok().map(OrderId::from_uuid)
}

fn no_such_order(csrf: &str) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "No such order",
        "There is no order at this address. It may have been mistyped.",
        Some(csrf),
    )
}

pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<OrdersQuery>, QueryRejection>,
) -> Response {
    let admin = match signed_in(&state, &headers).await {
        Ok(admin) => admin,
        Err(page) => return page,
    };
    let Ok(Query(query)) = query else {
        return failed(&AppError::BadRequest(String::new()), &admin.csrf);
    };
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(s) => match OrderStatus::parse(s) {
            Ok(status) => Some(status),
            Err(_) => return failed(&AppError::BadRequest(String::new()), &admin.csrf),
        },
    };
    let list = orders_list(status);
    let request = match page_request(
        ORDERS_PER_PAGE,
        &list,
        query.cursor.as_deref(),
        "This page link belongs to another filter or was changed. Start again from the first page.",
        &admin.csrf,
    ) {
        Ok(request) => request,
        Err(page) => return *page,
    };
    let filter = OrderFilter {
        user_id: None,
        status,
    };
    let page = match state
        .list_orders
        .execute(&admin.actor, filter, request)
        .await
    {
        Ok(page) => page,
        Err(e) => return failed(&e, &admin.csrf),
    };
    let next = page.next.as_ref().map(|keys| {
        let status = status.map_or("", |s| s.as_str());
        format!(
            "/admin/orders?status={status}&cursor={}",
            query_escape(&keys.encode(&list))
        )
    });
    html(
        StatusCode::OK,
        pages::orders(
            &admin.csrf,
            status,
            &page.items,
            (page.total, page.total_is_estimate),
            next.as_deref(),
        ),
    )
}

pub(crate) async fn detail(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let admin = match signed_in(&state, &headers).await {
        Ok(admin) => admin,
        Err(page) => return page,
    };
    let Some(id) = id.ok().and_then(|Path(raw)| order_id(&raw)) else {
        return no_such_order(&admin.csrf);
    };
    match state.get_order.execute(&admin.actor, id).await {
        Ok(order) => html(StatusCode::OK, pages::order(&admin.csrf, &order, None)),
        Err(AppError::NotFound) => no_such_order(&admin.csrf),
        Err(e) => failed(&e, &admin.csrf),
    }
}

#[derive(Deserialize)]
pub(crate) struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
}

/// The signed-in admin and the order a form was posted for, once its token is checked; or
/// the page that answers instead (sign-in, 403, 404).
async fn form_target(
    state: &Dashboard,
    headers: &HeaderMap,
    id: Result<Path<String>, PathRejection>,
    sent_csrf: Option<&str>,
) -> Result<(Admin, OrderId), Response> {
    let admin = signed_in(state, headers).await?;
    if !session::csrf_matches(&admin.csrf, sent_csrf) {
        return Err(forbidden_form());
    }
    match id.ok().and_then(|Path(raw)| order_id(&raw)) {
        Some(id) => Ok((admin, id)),
        None => Err(no_such_order(&admin.csrf)),
    }
}

pub(crate) async fn change_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    form: Result<Form<StatusForm>, FormRejection>,
) -> Response {
    let form = form.ok().map(|Form(f)| f);
    let (admin, id) =
        match form_target(&state, &headers, id, form.as_ref().map(|f| f.csrf.as_str())).await {
            Ok(target) => target,
            Err(page) => return page,
        };
    let status = form.map(|f| f.status).unwrap_or_default();
    let changed = state
        .change_order_status
        .execute(&admin.actor, id, &status)
        .await;
    after_change(&state, &admin, id, changed).await
}

pub(crate) async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let sent = form.ok().map(|Form(f)| f.csrf);
    let (admin, id) = match form_target(&state, &headers, id, sent.as_deref()).await {
        Ok(target) => target,
        Err(page) => return page,
    };
    let cancelled = state.cancel_order.execute(&admin.actor, id).await;
    after_change(&state, &admin, id, cancelled).await
}

/// What a refused change shows above the order, and with which status.
fn refusal(e: &AppError) -> Option<(StatusCode, String)> {
    match e {
        AppError::Conflict { message, .. } => {
            Some((StatusCode::CONFLICT, format!("Not changed: {message}.")))
        }
        AppError::Validation(errors) => {
            let reasons: Vec<String> = errors
                .iter()
                .map(|e| format!("{} {}", e.field, e.message))
                .collect();
            Some((
                StatusCode::BAD_REQUEST,
                format!("Not changed: {}.", reasons.join("; ")),
            ))
        }
        AppError::Unavailable { .. } => Some((
            StatusCode::SERVICE_UNAVAILABLE,
            "Not changed: the database or the payment provider did not answer. Try again shortly."
                .to_owned(),
        )),
        _ => None,
    }
}

/// After a form: back to the order's page (303), or that page again with the reason a change
/// was refused.
async fn after_change(
    state: &Dashboard,
    admin: &Admin,
    id: OrderId,
    result: Result<Order, AppError>,
) -> Response {
    let e = match result {
        Ok(order) => {
            tracing::info!(order_id = %id, status = %order.status(), user_id = %admin.actor.user_id,
                "dashboard: order status changed");
            return see_other(&format!("/admin/orders/{id}"));
        }
        Err(AppError::NotFound) => return no_such_order(&admin.csrf),
        Err(e) => e,
    };
    let Some((status, message)) = refusal(&e) else {
        return failed(&e, &admin.csrf);
    };
    tracing::info!(order_id = %id, error = %e, "dashboard: order change refused");
    match state.get_order.execute(&admin.actor, id).await {
        Ok(order) => html(status, pages::order(&admin.csrf, &order, Some(&message))),
        Err(AppError::NotFound) => no_such_order(&admin.csrf),
        Err(e) => failed(&e, &admin.csrf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::FieldError;

    #[test]
    fn an_order_address_needs_a_uuid() {
        let id = OrderId::new();
        assert_eq!(order_id(&id.to_string()), Some(id));
        assert_eq!(order_id("not-an-id"), None);
        assert_eq!(order_id(""), None);
    }

    #[test]
    fn an_order_is_named_by_the_random_end_of_its_id() {
        let id = OrderId::from_uuid(
            uuid::Uuid::try_parse("01a25261-f4e4-757d-b8a3-e8b07b12d7ff").unwrap(),
        );
        assert_eq!(pages::short_id(id), "7b12d7ff");
    }

    #[test]
    fn cursors_are_bound_to_the_status_filter() {
        assert_ne!(orders_list(None), orders_list(Some(OrderStatus::Paid)));
        assert_eq!(
            orders_list(Some(OrderStatus::Paid)),
            "/admin/orders\nstatus=paid"
        );
    }

    #[test]
    fn refusals_keep_their_reason_and_status() {
        let (status, message) = refusal(&AppError::Conflict {
            field: Some("status"),
            message: "an order cannot go from shipped to paid".into(),
        })
        .unwrap();
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(
            message,
            "Not changed: an order cannot go from shipped to paid."
        );
        let (status, message) = refusal(&AppError::Validation(vec![FieldError::new(
            "status",
            "must be one of: pending",
        )]))
        .unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(message, "Not changed: status must be one of: pending.");
        assert!(refusal(&AppError::Forbidden).is_none());
        assert!(refusal(&AppError::NotFound).is_none());
    }
}
