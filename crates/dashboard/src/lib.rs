//! The shop owner's dashboard under `/admin`: server-rendered pages ([`pages`], maud) over the
//! same use cases as the API, one stylesheet served from the binary, and forms that work
//! without JavaScript.
//!
//! Sign-in goes through the configured identity provider (the `Login` use case); an admin gets
//! a session: a random id in an `HttpOnly`, `SameSite=Strict` cookie (`Secure` over TLS), the
//! session itself kept in the database ([`AdminSessions`]) under the id's hash, so every
//! instance sees it and signing out ends it; each sign-in sweeps the expired ones. Each session
//! has a form token that every form carries in a hidden field; a POST without the right one is
//! refused with a 403 page.
#![forbid(unsafe_code)]

mod orders;
pub mod pages;
pub mod session;

use std::sync::Arc;

use application::accounts::{Login, Logout};
use application::catalog::ListProducts;
use application::ordering::{CancelOrder, ChangeOrderStatus, GetOrder, ListOrders};
use application::ports::{AdminSession, AdminSessions, Clock, OrderFilter, ProductFilter};
use application::{Actor, AppError};
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::{OrderStatus, PageRequest, ProductStatus, Role, Roles};
use maud::Markup;
use serde::Deserialize;

use session::{LOGIN_CSRF_COOKIE, SESSION_COOKIE};

/// The stylesheet, compiled into the binary.
const CSS: &str = include_str!("../assets/dashboard.css");
/// What the pages may load: their own stylesheet; forms post to this origin only.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
    form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/// Products on a page of `/admin/products`.
const PRODUCTS_PER_PAGE: u32 = 25;
/// How long the sign-in form's token lives, in seconds.
const LOGIN_FORM_SECONDS: i64 = 3600;

/// What the pages call, built by the composition root.
pub struct Dashboard {
    /// Sign-in through the identity provider.
    pub login: Login,
    /// Revokes the provider's refresh token at sign-out.
    pub logout: Logout,
    /// The products page and the stock count of the overview.
    pub list_products: ListProducts,
    /// The orders page and the order counts of the overview.
    pub list_orders: ListOrders,
    /// An order's page.
    pub get_order: GetOrder,
    /// The status changes of an order's page.
    pub change_order_status: ChangeOrderStatus,
    /// Cancelling (and refunding) from an order's page.
    pub cancel_order: CancelOrder,
    /// Where sessions are kept.
    pub sessions: Arc<dyn AdminSessions>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// How long a session lasts.
    pub session_ttl: chrono::Duration,
}

type AppState = Arc<Dashboard>;

/// The dashboard's routes, to be nested under `/admin`.
pub fn router(dashboard: Dashboard) -> Router {
    Router::new()
        .route("/", get(overview))
        .route("/login", get(login_form).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/products", get(products))
        .route("/orders", get(orders::list))
        .route("/orders/{id}", get(orders::detail))
        .route(
            "/orders/{id}/status",
            axum::routing::post(orders::change_status),
        )
        .route("/orders/{id}/cancel", axum::routing::post(orders::cancel))
        .route(
            pages::STYLESHEET.trim_start_matches("/admin"),
            get(stylesheet),
        )
        .fallback(not_found)
        .with_state(Arc::new(dashboard))
        .layer(axum::middleware::from_fn(page_headers))
}

/// Every answer: its content security policy, and never cached when it is a page.
async fn page_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

fn html(status: StatusCode, page: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page.into_string(),
    )
        .into_response()
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// The first page of `list`, or the page after `cursor`; a cursor of another list (or a
/// changed one) is the 400 page saying `detail`.
fn page_request(
    per_page: u32,
    list: &str,
    cursor: Option<&str>,
    detail: &str,
    csrf: &str,
) -> Result<PageRequest, Box<Response>> {
    let request = PageRequest::new(1, per_page)
        .unwrap_or_default()
        .in_list(list.to_owned());
    match cursor {
        None => Ok(request),
        Some(cursor) => request.after(cursor).map_err(|_| {
            Box::new(error_page(
                StatusCode::BAD_REQUEST,
                "Page link not valid",
                detail,
                Some(csrf),
            ))
        }),
    }
}

fn error_page(status: StatusCode, title: &str, detail: &str, csrf: Option<&str>) -> Response {
    html(status, pages::error(title, detail, csrf))
}

fn unavailable() -> Response {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again shortly",
        "The shop could not answer just now. Reload the page in a moment.",
        None,
    )
}

fn forbidden_form() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Form refused",
        "This form was not sent with its security token, or the token has expired. Go back, reload the page and send it again.",
        None,
    )
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// A signed-in admin: who, and the session's form token.
struct Admin {
    actor: Actor,
    csrf: String,
    id_hash: String,
    refresh_token: Option<String>,
}

/// The session the request's cookie names, if it is live.
async fn current(state: &Dashboard, headers: &HeaderMap) -> Result<Option<Admin>, Response> {
    let Some(id) = session::cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let id_hash = session::id_hash(id);
    match state.sessions.find(&id_hash, state.clock.now()).await {
        Ok(found) => Ok(found.map(|s| Admin {
            // Only admins are given sessions.
            actor: Actor {
                user_id: s.user_id,
                roles: Roles::from([Role::Admin]),
            },
            csrf: s.csrf_token,
            id_hash,
            refresh_token: s.refresh_token,
        })),
        Err(e) => {
            tracing::error!(error = %e, "dashboard: cannot read the session");
            Err(unavailable())
        }
    }
}

/// The signed-in admin, or the way to the sign-in page.
async fn signed_in(state: &Dashboard, headers: &HeaderMap) -> Result<Admin, Response> {
    current(state, headers)
        .await?
        .ok_or_else(|| see_other("/admin/login"))
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            // The address changes with every version.
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        CSS,
    )
        .into_response()
}

async fn not_found(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let csrf = current(&state, &headers)
        .await
        .ok()
        .flatten()
        .map(|a| a.csrf);
    error_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page in the dashboard.",
        csrf.as_deref(),
    )
}

fn login_page(status: StatusCode, error: Option<&str>, username: &str, secure: bool) -> Response {
    let Some(csrf) = session::random_token() else {
        return unavailable();
    };
    let page = html(status, pages::login(&csrf, error, username));
    with_cookie(
        page,
        &session::set_cookie(LOGIN_CSRF_COOKIE, &csrf, LOGIN_FORM_SECONDS, secure),
    )
}

fn tls(uri: &Uri, headers: &HeaderMap) -> bool {
    session::came_over_tls(uri.scheme_str(), headers)
}

async fn login_form(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    match current(&state, &headers).await {
        Ok(Some(_)) => see_other("/admin"),
        Ok(None) => login_page(StatusCode::OK, None, "", tls(&uri, &headers)),
        Err(page) => page,
    }
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

async fn login(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let secure = tls(&uri, &headers);
    let Ok(Form(form)) = form else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Form not understood",
            "The sign-in form could not be read. Reload the page and try again.",
            None,
        );
    };
    let expected = session::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if !session::csrf_matches(expected, Some(&form.csrf)) {
        return forbidden_form();
    }
    let username = form.username.chars().take(254).collect::<String>();
    let (tokens, user) = match state.login.sign_in(&form.username, &form.password).await {
        Ok(signed_in) => signed_in,
        Err(AppError::Unauthorized | AppError::Validation(_)) => {
            return login_page(
                StatusCode::UNAUTHORIZED,
                Some("Wrong e-mail, username or password."),
                &username,
                secure,
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: sign-in failed");
            return unavailable();
        }
    };
    let refresh_token = Some(tokens.refresh_token).filter(|t| !t.is_empty());
    if !user.roles.contains(&Role::Admin) {
        if let Some(token) = &refresh_token {
            revoke(&state, token).await;
        }
        return error_page(
            StatusCode::FORBIDDEN,
            "Not an admin",
            "This account may not use the dashboard: only the shop's admins may.",
            None,
        );
    }
    let (Some(id), Some(csrf)) = (session::random_token(), session::random_token()) else {
        return unavailable();
    };
    let now = state.clock.now();
    let record = AdminSession {
        user_id: user.id,
        csrf_token: csrf,
        refresh_token,
        expires_at: now + state.session_ttl,
        created_at: now,
    };
    if let Err(e) = state.sessions.insert(&session::id_hash(&id), &record).await {
        tracing::error!(error = %e, "dashboard: cannot store the session");
        return unavailable();
    }
    // Each sign-in sweeps the sessions that expired, so the table holds live ones only.
    if let Err(e) = state.sessions.delete_expired(now).await {
        tracing::warn!(error = %e, "dashboard: cannot remove expired sessions");
    }
    tracing::info!(user_id = %user.id, "dashboard: admin signed in");
    let response = with_cookie(
        see_other("/admin"),
        &session::set_cookie(SESSION_COOKIE, &id, state.session_ttl.num_seconds(), secure),
    );
    with_cookie(
        response,
        &session::set_cookie(LOGIN_CSRF_COOKIE, "", 0, secure),
    )
}

async fn revoke(state: &Dashboard, refresh_token: &str) {
    if let Err(e) = state.logout.execute(refresh_token).await {
        tracing::warn!(error = %e, "dashboard: the identity provider did not end its session");
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let admin = match signed_in(&state, &headers).await {
        Ok(admin) => admin,
        Err(page) => return page,
    };
    let sent = form.ok().map(|Form(f)| f.csrf);
    if !session::csrf_matches(&admin.csrf, sent.as_deref()) {
        return forbidden_form();
    }
    match state.sessions.delete(&admin.id_hash).await {
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "dashboard: cannot end the session");
            return unavailable();
        }
    }
    if let Some(token) = &admin.refresh_token {
        revoke(&state, token).await;
    }
    tracing::info!(user_id = %admin.actor.user_id, "dashboard: admin signed out");
    with_cookie(
        see_other("/admin/login"),
        &session::set_cookie(SESSION_COOKIE, "", 0, tls(&uri, &headers)),
    )
}

fn failed(e: &AppError, csrf: &str) -> Response {
    match e {
        AppError::Forbidden => error_page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "This account may not do this.",
            Some(csrf),
        ),
        AppError::Validation(_) | AppError::BadRequest(_) => error_page(
            StatusCode::BAD_REQUEST,
            "Not understood",
            "Something in the address is not valid. Go back and try again.",
            Some(csrf),
        ),
        other => {
            tracing::warn!(error = %other, "dashboard: a page failed");
            unavailable()
        }
    }
}

async fn overview(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let admin = match signed_in(&state, &headers).await {
        Ok(admin) => admin,
        Err(page) => return page,
    };
    let one = || PageRequest::new(1, 1).unwrap_or_default();
    let orders_in = |status| {
        state.list_orders.execute(
            &admin.actor,
            OrderFilter {
                user_id: None,
                status: Some(status),
            },
            one(),
        )
    };
    let out_of_stock = state.list_products.execute(
        Some(&admin.actor),
        one(),
        ProductFilter {
            in_stock: Some(false),
            ..ProductFilter::default()
        },
        None,
    );
    let counted = async {
        let paying = orders_in(OrderStatus::Pending).await?.total;
        let shipping = orders_in(OrderStatus::Paid).await?.total;
        let stock = out_of_stock.await?.total;
        Ok::<_, AppError>(pages::OverviewCounts {
            awaiting_payment: paying,
            awaiting_shipping: shipping,
            out_of_stock: stock,
        })
    };
    match counted.await {
        Ok(counts) => html(StatusCode::OK, pages::overview(&admin.csrf, &counts)),
        Err(e) => failed(&e, &admin.csrf),
    }
}

#[derive(Deserialize, Default)]
struct ProductsQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    stock: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

/// The products list's identity, which its cursors are bound to.
fn products_list(search: &str, out_of_stock: bool, status: Option<ProductStatus>) -> String {
    let status = status.map_or("", |s| s.as_str());
    format!("/admin/products\nq={search}\nstock={out_of_stock}\nstatus={status}")
}

fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn products(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ProductsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let admin = match signed_in(&state, &headers).await {
        Ok(admin) => admin,
        Err(page) => return page,
    };
    let Ok(Query(query)) = query else {
        return failed(&AppError::BadRequest(String::new()), &admin.csrf);
    };
    let search: String = query.q.trim().chars().take(200).collect();
    let out_of_stock = query.stock.as_deref() == Some("out");
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(s) => match ProductStatus::parse(s) {
            Ok(status) => Some(status),
            Err(_) => {
                return failed(&AppError::BadRequest(String::new()), &admin.csrf);
            }
        },
    };
    let list = products_list(&search, out_of_stock, status);
    let request = match page_request(
        PRODUCTS_PER_PAGE,
        &list,
        query.cursor.as_deref(),
        "This page link belongs to another search or was changed. Start again from the first page.",
        &admin.csrf,
    ) {
        Ok(request) => request,
        Err(page) => return *page,
    };
    let filter = ProductFilter {
        search: (!search.is_empty()).then(|| search.clone()),
        in_stock: out_of_stock.then_some(false),
        status,
        ..ProductFilter::default()
    };
    let page = match state
        .list_products
        .execute(Some(&admin.actor), request, filter, None)
        .await
    {
        Ok(page) => page,
        Err(e) => return failed(&e, &admin.csrf),
    };
    let next = page.next.as_ref().map(|keys| {
        let mut href = format!("/admin/products?q={}", query_escape(&search));
        if out_of_stock {
            href.push_str("&stock=out");
        }
        if let Some(status) = status {
            href.push_str("&status=");
            href.push_str(status.as_str());
        }
        href.push_str("&cursor=");
        href.push_str(&query_escape(&keys.encode(&list)));
        href
    });
    html(
        StatusCode::OK,
        pages::products(
            &admin.csrf,
            &search,
            out_of_stock,
            status,
            &page.items,
            (page.total, page.total_is_estimate),
            next.as_deref(),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_escape("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(query_escape("Az09-_.~"), "Az09-_.~");
    }

    #[test]
    fn the_stylesheet_is_served_under_its_versioned_name() {
        assert!(pages::STYLESHEET.starts_with("/admin/static/dashboard-"));
        assert!(pages::STYLESHEET.ends_with(".css"));
    }
}
