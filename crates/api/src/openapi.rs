//! The OpenAPI 3.1 document, generated from the handlers and DTOs so it cannot drift, and the
//! `/docs` page that renders it from vendored assets (no outside network access).

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::AppState;
use crate::routes::{auth, health, images, orders, products, users};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "shop",
        description = "E-commerce backend. Errors are RFC 9457 application/problem+json; \
            422 bodies list each rejected field in `errors`. Another user's resources answer 404, \
            admin-only routes answer 403 to non-admins, and 401 carries `WWW-Authenticate: Bearer`. \
            Money is `{amount, currency}` with a decimal string amount. A malformed id in a path \
            names no resource and answers 404. JSON bodies are limited to 1 MiB (413). Product images \
            are uploaded as multipart/form-data (field `file`, at most `MAX_UPLOAD_BYTES`, 10 MiB by \
            default) and served publicly at the `url` each Image names.",
    ),
    paths(
        auth::register, auth::login, auth::refresh, auth::logout, auth::jwks,
        products::list, products::get, products::create, products::update, products::delete,
        images::upload, images::delete, images::file,
        orders::list, orders::get, orders::place, orders::change_status, orders::cancel,
        users::list, users::me, users::update_me, users::get,
        health::live, health::ready, crate::metrics::scrape,
    ),
    components(schemas(crate::error::Problem, crate::error::ProblemField)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Registration, sign-in and tokens"),
        (name = "products", description = "The catalog"),
        (name = "orders", description = "Orders that take stock"),
        (name = "users", description = "Accounts"),
        (name = "operations", description = "Health and metrics"),
    )
)]
struct ApiDoc;

/// The OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `/api/v1/openapi.json` and `/docs`.
pub(crate) fn docs_router() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/api/v1/openapi.json", openapi()))
}
