//! The OpenAPI 3.1 document, generated from the handlers and DTOs so it cannot drift, and the
//! `/docs` page that renders it from vendored assets (no outside network access).

use axum::Router;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::{Config, SwaggerUi};

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

/// Every operation also lists the answers the service gives to any request of its kind (found
/// missing by Schemathesis, which holds each answer to its operation's list): 401 with
/// `WWW-Authenticate` on bearer routes; 400, 415 and 422 for a JSON body; 413 for any body; 422
/// for query parameters; 503 on the `/api/v1` routes, which reach the database. What an
/// operation already lists is kept.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let api = path.starts_with("/api/v1/");
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                add_common_responses(op, api);
            }
        }
    }
}

fn add_common_responses(op: &mut Operation, api: bool) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let (body, json_body) = match &op.request_body {
        None => (false, false),
        Some(RefOr::T(b)) => (true, b.content.keys().any(|k| k.contains("json"))),
        Some(RefOr::Ref(_)) => (true, true),
    };
    let query = op
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query));
    let responses = &mut op.responses.responses;
    let mut add = |status: &str, description: &str, www_authenticate: bool| {
        responses.entry(status.to_owned()).or_insert_with(|| {
            let mut response = ResponseBuilder::new().description(description).content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            );
            if www_authenticate {
                response = response.header(
                    "WWW-Authenticate",
                    Header::new(ObjectBuilder::new().schema_type(Type::String)),
                );
            }
            response.build().into()
        });
    };
    if secured {
        add("401", "Missing, invalid or expired access token", true);
    }
    if json_body {
        add("400", "Malformed JSON, or no body", false);
        add("415", "The body is not application/json", false);
    }
    if body {
        add("413", "The body is too large", false);
    }
    if json_body || query {
        add("422", "A field or parameter is invalid", false);
    }
    if api {
        add(
            "503",
            "A dependency (database, identity provider, storage) is unavailable",
            false,
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
            names no resource and answers 404. JSON bodies are limited (413 above): 16 KiB on the \
            auth and users routes, 256 KiB on the product and order routes. Sign-in, registration and \
            refresh are rate limited per client address, other writes per signed-in user (per address \
            when anonymous): over the limit they answer 429 with `Retry-After` in seconds. Product images \
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
    modifiers(&BearerAuth, &CommonResponses),
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

/// `/api/v1/openapi.json` and `/docs`. The page needs nothing from outside: Swagger UI's
/// online validator badge (which sends the document's URL to validator.swagger.io from any
/// host but localhost) is off.
pub(crate) fn docs_router() -> Router<AppState> {
    Router::new().merge(
        SwaggerUi::new("/docs")
            .url("/api/v1/openapi.json", openapi())
            .config(Config::default().validator_url("none")),
    )
}
