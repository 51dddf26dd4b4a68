//! The OpenAPI 3.1 document, generated from the handlers and DTOs so it cannot drift, the
//! `/docs` page that renders it from vendored assets (no outside network access), and the
//! `/problems/{type}` pages that the `type` of every problem+json body points at.
//!
//! Clients are generated from this document (see the README's "Generating a client"), and
//! `scripts/openapi-check.sh` holds it to `openapi-spec-validator`, Redocly's recommended rules,
//! `openapi-typescript` + `tsc --strict` and an `openapi-python-client` walk-through. The tests
//! at the end of this file check the rules below on every operation.
//!
//! # Checklist for every new route
//!
//! 1. `operation_id = "verb_resource"`, resource-first and unique: `list_products`,
//!    `get_product`, `delete_product_image`. It names the generated function: never rename one.
//! 2. A doc comment whose first paragraph is a short summary (a few words, no period) and whose
//!    following paragraphs are the description (who may call it, what it changes, the rules).
//! 3. `security(("bearer" = []))` when it needs a token. Public routes leave it out; they get
//!    `security: []` here. 401 (with `WWW-Authenticate`), 400/413/415/422 for bodies, 422 for
//!    query parameters, 429 (with `Retry-After`) for writes under `/api/v1` and 503 are added
//!    here; list only the answers particular to the route, each with its problem `type` slug
//!    in [`PROBLEM_TYPES`] (add a slug there when `ApiError::new` gets a new one).
//! 4. Every bound the domain checks as a schema keyword on the DTO field or parameter:
//!    `min_length`/`max_length`/`pattern` for text, `minimum`/`maximum` for numbers,
//!    `min_items`/`max_items` for lists, an enum type for a closed set of names. Do not state
//!    stricter rules than the server (Schemathesis sends schema-invalid data and expects a 4xx)
//!    nor looser ones (it sends schema-valid data and expects it accepted).
//! 5. `#[schema(required = true)]` on every response field that is always sent, also when it
//!    is `null` (`Option<T>` fields are otherwise optional). Request fields that may be left out
//!    stay optional. A type used both ways with such fields gets a request and a response DTO.
//! 6. Headers a client must read are declared on the response: `Location` on every 201,
//!    `Idempotent-Replayed` where `Idempotency-Key` is honoured, caching headers on downloads.
//!    Header parameters are plain strings with their bounds (never `Option<String>`: write
//!    `String` with `required = false`).
//! 7. An `example` on each request body and on the main (2xx) response, built in [`examples`]
//!    and valid by the schema (Redocly checks them).
//! 8. A response that creates a resource declares OpenAPI `links` to the operations on its id,
//!    so Schemathesis' stateful phase calls them with real ids.
//! 9. Binary answers list their concrete media types (`image/png`, never `image/*`).

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::AppState;
use crate::routes::{
    auth, carts, categories, events, health, images, orders, payments, products, promotions,
    shipping_options, tax_rates, users, variants, webhooks,
};

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
                    .description(Some(
                        "An access token from `POST /api/v1/auth/login` or `/auth/refresh`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`METRICS_TOKEN`, when the service is configured with one",
                    ))
                    .build(),
            ),
        );
    }
}

/// The kinds of problem the service answers with: the slug of each `type` URI
/// (`/problems/{slug}`), its title, the statuses it comes with, and what it means. Every slug
/// that [`crate::error::ApiError`] emits is here (checked by a test), and each has a page.
pub const PROBLEM_TYPES: &[(&str, &str, &str, &str)] = &[
    (
        "validation",
        "Validation failed",
        "422",
        "A field of the body or a query parameter is invalid. `errors` lists each one: `field` is its dotted path (`price.amount`, `items[0].quantity`) or the parameter's name, `message` says why. Fix those fields and send again.",
    ),
    (
        "malformed-json",
        "Bad Request",
        "400, 415, 422",
        "The body is not JSON, is missing, is not sent as `application/json` (415), or does not have the shape the operation expects (422, naming the field).",
    ),
    (
        "bad-request",
        "Bad Request",
        "400",
        "The request cannot be read, for example a malformed `multipart/form-data` body.",
    ),
    (
        "unauthorized",
        "Unauthorized",
        "401",
        "No access token, or one that is invalid or expired, or wrong credentials at sign-in. `WWW-Authenticate` says which. Sign in (or refresh) and send `Authorization: Bearer <access_token>`.",
    ),
    (
        "forbidden",
        "Forbidden",
        "403",
        "The operation needs the `admin` role.",
    ),
    (
        "not-found",
        "Not Found",
        "404",
        "No such resource, or one the caller may not see (another user's order or account answers 404, not 403). A malformed id names no resource either.",
    ),
    (
        "method-not-allowed",
        "Method Not Allowed",
        "405",
        "The resource does not answer this method; `Allow` lists those it does.",
    ),
    (
        "conflict",
        "Conflict",
        "409",
        "The request contradicts the current state: a taken e-mail, username or SKU, not enough stock, a status change the order's status does not allow, or an `Idempotency-Key` used before with another body. `errors` names the field when there is one.",
    ),
    (
        "payload-too-large",
        "Payload Too Large",
        "413",
        "The body is larger than the operation accepts (16 KiB on the auth and users routes, 256 KiB on the product and order routes, `MAX_UPLOAD_BYTES` for image uploads).",
    ),
    (
        "headers-too-large",
        "Request Header Fields Too Large",
        "431",
        "The request's head holds too many headers (over 100) or headers too large to read. Send fewer or shorter headers.",
    ),
    (
        "uri-too-long",
        "URI Too Long",
        "414",
        "The request's path and query together are too long to read (over 64 KB). Send long data in a body instead.",
    ),
    (
        "unsupported-media-type",
        "Unsupported Media Type",
        "415",
        "The body's media type is not the one the operation takes, or an uploaded file is not a JPEG, PNG, WebP or GIF image.",
    ),
    (
        "rate-limited",
        "Too Many Requests",
        "429",
        "Over the rate limit (sign-in, registration and refresh per client address, other writes per user). Wait the seconds `Retry-After` says, then try again.",
    ),
    (
        "timeout",
        "Service Unavailable",
        "408, 503",
        "The request took too long to arrive (408) or to answer (503). Try again shortly.",
    ),
    (
        "unavailable",
        "Service Unavailable",
        "503",
        "A dependency (database, identity provider, file store) does not answer; nothing was changed. Try again shortly.",
    ),
    (
        "internal",
        "Internal Server Error",
        "500",
        "A fault in the service; it is logged with the request id (`X-Request-Id`).",
    ),
    (
        "error",
        "Error",
        "4xx, 5xx",
        "Any other error the framework answers with; the status says what kind.",
    ),
];

/// The page of one problem type, in a few lines of HTML (RFC 9457: a `type` URI, when
/// dereferenced, documents the problem type for humans).
async fn problem_page(Path(slug): Path<String>) -> Response {
    let Some((slug, title, statuses, text)) =
        PROBLEM_TYPES.iter().find(|(s, ..)| *s == slug.as_str())
    else {
        return crate::error::ApiError::not_found().into_response();
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} ({slug})</title></head>\n\
         <body><h1>{title}</h1><p><code>type: /problems/{slug}</code>, status {statuses}.</p>\n\
         <p>{text}</p>\n<p>Every error of this API is RFC 9457 <code>application/problem+json</code>: \
         <code>type</code>, <code>title</code>, <code>status</code>, <code>detail</code>, and on \
         validation and conflicts <code>errors</code>. See <a href=\"/docs\">/docs</a>.</p></body></html>\n",
        text = code_spans(&html_escape(text)),
    );
    (
        [(header::CACHE_CONTROL, "public, max-age=86400")],
        Html(html),
    )
        .into_response()
}

/// `code` in backticks as `<code>code</code>`.
fn code_spans(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 32);
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(part);
            out.push_str("</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// The few characters HTML gives a meaning; the texts are ours, but `<` appears in them.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Get a problem type's page
///
/// A short page explaining one kind of problem: the `type` of a problem+json body, resolved
/// against this host, names it. Public.
#[utoipa::path(get, path = "/problems/{type}", tag = "operations", operation_id = "get_problem_type",
    params(("type" = String, Path, description = "A problem type's slug, as in a problem's `type` URI", example = "validation")),
    responses(
        (status = 200, description = "A short page on the problem type", content_type = "text/html", body = String,
            example = json!("<!doctype html><html lang=\"en\"><head><title>Validation failed (validation)</title></head><body><h1>Validation failed</h1></body></html>")),
        (status = 404, description = "No such problem type", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
#[allow(dead_code)] // only its OpenAPI description is used; `problem_page` serves the route
fn problem_type_doc() {}

/// Header parameters are plain strings: an optional header is absent, never `null` (which
/// generators would send as the text `None` or `null`). utoipa writes `Option<String>` as
/// `string | null`; the `null` goes, the parameter stays optional.
fn plain_header_parameters(op: &mut Operation) {
    use utoipa::openapi::schema::{Schema, SchemaType};
    for parameter in op.parameters.iter_mut().flatten() {
        let RefOr::T(parameter) = parameter else {
            continue;
        };
        if parameter.parameter_in != ParameterIn::Header {
            continue;
        }
        if let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut()
            && let SchemaType::Array(types) = &schema.schema_type
        {
            let types: Vec<Type> = types
                .iter()
                .filter(|t| **t != Type::Null)
                .cloned()
                .collect();
            schema.schema_type = match types.as_slice() {
                [one] => SchemaType::Type(one.clone()),
                _ => SchemaType::Array(types),
            };
        }
    }
}

/// `servers`: the document describes the host that serves it, whatever its name (the paths
/// start with `/api/v1`), so generated clients take a base URL and the docs page calls the host
/// it was loaded from.
struct Servers;

impl Modify for Servers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut server = Server::new("/");
        server.description = Some("The host serving this document".to_owned());
        openapi.servers = Some(vec![server]);
    }
}

/// Public operations say so (`security: []`), and the `type` of a problem lists the kinds.
struct PublicRoutes;

impl Modify for PublicRoutes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
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
                op.security.get_or_insert_with(Vec::new);
                plain_header_parameters(op);
            }
        }
    }
}

/// Every operation also lists the answers the service gives to any request of its kind (found
/// missing by Schemathesis, which holds each answer to its operation's list): 401 with
/// `WWW-Authenticate` on bearer routes; 400, 415 and 422 for a JSON body; 413 for any body; 422
/// for query parameters; 429 with `Retry-After` on every write under `/api/v1` (all are rate
/// limited); 503 on the `/api/v1` routes, which reach the database. What an operation already
/// lists is kept, and every 401 gets `WWW-Authenticate`, every 429 `Retry-After`.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let api = path.starts_with("/api/v1/");
            for (op, write) in [
                (&mut item.get, false),
                (&mut item.put, true),
                (&mut item.post, true),
                (&mut item.delete, true),
                (&mut item.patch, true),
            ] {
                if let Some(op) = op {
                    add_common_responses(op, api, write);
                }
            }
        }
    }
}

fn www_authenticate() -> Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(
            "`Bearer`, or `Bearer error=\"invalid_token\"` when a token was sent and refused",
        ))
        .build()
}

fn location() -> Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some("Where the new resource is"))
        .build()
}

fn retry_after() -> Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        ))
        .description(Some("Whole seconds to wait before the next attempt"))
        .build()
}

fn add_common_responses(op: &mut Operation, api: bool, write: bool) {
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
    let mut add = |status: &str, description: &str| {
        responses.entry(status.to_owned()).or_insert_with(|| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
                .into()
        });
    };
    if secured {
        add("401", "Missing, invalid or expired access token");
    }
    if json_body {
        add("400", "Malformed JSON, or no body");
        add("415", "The body is not application/json");
    }
    if body {
        add("413", "The body is too large");
    }
    if json_body || query {
        add("422", "A field or parameter is invalid");
    }
    if api && write {
        add(
            "429",
            "Over the rate limit; `Retry-After` says when to try again",
        );
    }
    if api {
        add(
            "503",
            "A dependency (database, identity provider, storage) is unavailable",
        );
    }
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let always = match status.as_str() {
            "201" => "Location",
            "401" => "WWW-Authenticate",
            "429" => "Retry-After",
            _ => continue,
        };
        let header = response
            .headers
            .entry(always.to_owned())
            .or_insert_with(|| match always {
                "Location" => location().into(),
                "WWW-Authenticate" => www_authenticate().into(),
                _ => retry_after().into(),
            });
        if always == "Retry-After" {
            *header = retry_after().into();
        }
        // Always sent: `required`, which utoipa's Header has no field for (its extensions are
        // written flat into the header object).
        if let RefOr::T(header) = header {
            header
                .extensions
                .get_or_insert_with(Default::default)
                .insert("required".to_owned(), serde_json::Value::Bool(true));
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "shop",
        description = "E-commerce backend: a catalog with search, orders that take stock, accounts \
            with roles, and sign-in with bearer tokens.\n\n\
            Errors are RFC 9457 `application/problem+json`; each `type` is a path on this host \
            (`/problems/validation`, ...) whose page explains it, and the kinds are listed under \
            the `Problem` schema. 422 bodies list each rejected field in `errors`. Another user's \
            resources answer 404, admin-only routes answer 403 to non-admins, and 401 carries \
            `WWW-Authenticate: Bearer`. Money is `{amount, currency}` with a decimal string amount. \
            A malformed id in a path names no resource and answers 404. JSON bodies are limited \
            (413 above): 16 KiB on the auth and users routes, 256 KiB on the product and order \
            routes. Sign-in, registration and refresh are rate limited per client address, other \
            writes per signed-in user (per address when anonymous): over the limit they answer 429 \
            with `Retry-After` in seconds. Product images are uploaded as multipart/form-data \
            (field `file`, at most `MAX_UPLOAD_BYTES`, 10 MiB by default) and served publicly at \
            the `url` each Image names.",
    ),
    paths(
        auth::register, auth::login, auth::refresh, auth::logout, auth::jwks,
        products::list, products::get, products::create, products::update, products::delete,
        variants::create, variants::update, variants::delete,
        images::upload, images::delete, images::file,
        categories::list, categories::get, categories::create, categories::update, categories::delete,
        orders::list, orders::get, orders::place, orders::change_status, orders::cancel,
        payments::start, payments::stripe_webhook,
        carts::create, carts::get, carts::update, carts::add_item, carts::update_item,
        carts::delete_item, carts::shipping_options, carts::claim, carts::checkout,
        users::list, users::me, users::update_me, users::get,
        events::list,
        webhooks::create, webhooks::list, webhooks::get, webhooks::update, webhooks::delete,
        webhooks::rotate_secret, webhooks::deliveries, webhooks::retry,
        promotions::create, promotions::list, promotions::get, promotions::update, promotions::delete,
        shipping_options::create, shipping_options::list, shipping_options::get,
        shipping_options::update, shipping_options::delete,
        tax_rates::create, tax_rates::list, tax_rates::get, tax_rates::update, tax_rates::delete,
        health::live, health::ready, crate::metrics::scrape, problem_type_doc,
    ),
    components(schemas(
        crate::error::Problem,
        crate::error::ProblemField,
        crate::dto::ProductStatusDto,
        crate::dto::ProductSortDto
    )),
    modifiers(&BearerAuth, &PublicRoutes, &CommonResponses, &Servers, &ProblemTypes),
    tags(
        (name = "auth", description = "Registration, sign-in and tokens"),
        (name = "products", description = "The catalog"),
        (name = "categories", description = "The catalog's category tree"),
        (name = "orders", description = "Orders that take stock"),
        (name = "payments", description = "Paying orders: payment intents, and the provider's webhook"),
        (name = "carts", description = "Carts for guests (with their token) and customers, priced live"),
        (name = "users", description = "Accounts"),
        (name = "webhooks", description = "Webhook endpoints (admin): events delivered at least once, signed per Standard Webhooks"),
        (name = "promotions", description = "Promotions (admin): discount codes that checkout applies"),
        (name = "shipping", description = "Shipping options (admin): where carts may ship, at what price"),
        (name = "tax", description = "Tax rates (admin): a percent per country, or per state"),
        (name = "events", description = "The event log (admin): every change that committed, as it happened"),
        (name = "operations", description = "Health, metrics and the problem type pages"),
    )
)]
struct ApiDoc;

/// The `type` of `Problem` lists the kinds of problem, each with its page.
struct ProblemTypes;

impl Modify for ProblemTypes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let Some(RefOr::T(utoipa::openapi::schema::Schema::Object(problem))) =
            components.schemas.get_mut("Problem")
        else {
            return;
        };
        let Some(RefOr::T(utoipa::openapi::schema::Schema::Object(kind))) =
            problem.properties.get_mut("type")
        else {
            return;
        };
        let mut text = String::from(
            "A URI reference naming the kind of problem: `/problems/{slug}` on this host, whose \
             page explains it. The kinds:\n",
        );
        for (slug, title, statuses, _) in PROBLEM_TYPES {
            text.push_str(&format!(
                "\n- [`/problems/{slug}`](/problems/{slug}): {title} ({statuses})"
            ));
        }
        kind.description = Some(text);
        kind.format = Some(utoipa::openapi::schema::SchemaFormat::Custom(
            "uri-reference".to_owned(),
        ));
    }
}

/// The OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `/api/v1/openapi.json`, `/docs` and `/problems/{type}`. The page needs nothing from outside: Swagger UI's
/// online validator badge (which sends the document's URL to validator.swagger.io from any
/// host but localhost) is off.
pub(crate) fn docs_router() -> Router<AppState> {
    Router::new()
        .merge(
            SwaggerUi::new("/docs")
                .url("/api/v1/openapi.json", openapi())
                .config(Config::default().validator_url("none")),
        )
        .route("/problems/{slug}", get(problem_page))
}

/// The examples of request bodies and responses, in one place so that they agree with each
/// other (the product of the order is the product of the catalog).
pub(crate) mod examples {
    use serde_json::{Value, json};

    const PRODUCT_ID: &str = "0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d";
    const IMAGE_ID: &str = "0192f0c4-7e81-7a20-b3c4-d5e6f7a8b9c0";
    const USER_ID: &str = "0192f0c4-0a1b-7c2d-8e3f-405162738495";
    const ORDER_ID: &str = "0192f0c5-1d2e-7f30-8a41-5b6c7d8e9f01";
    const CREATED: &str = "2026-12-01T09:30:00.000000Z";
    const UPDATED: &str = "2026-12-01T10:15:00.000000Z";

    fn money(amount: &str) -> Value {
        json!({"amount": amount, "currency": "EUR"})
    }

    const CATEGORY_ID: &str = "0192f0c4-3a2b-7c1d-8e0f-a1b2c3d4e5f6";

    /// The body of `create_product`.
    pub fn create_product() -> Value {
        json!({
            "sku": "MUG-001",
            "name": "Stoneware mug",
            "description": "Holds 350 ml. Dishwasher safe.",
            "price": money("19.99"),
            "stock": 100,
            "status": "active",
            "category_ids": [CATEGORY_ID],
        })
    }

    /// The body of `create_category`.
    pub fn create_category() -> Value {
        json!({
            "name": "Mugs",
            "description": "Cups and mugs of every size.",
            "position": 1,
        })
    }

    /// The category of the product.
    pub fn category() -> Value {
        json!({
            "id": CATEGORY_ID,
            "name": "Mugs",
            "slug": "mugs",
            "parent_id": null,
            "description": "Cups and mugs of every size.",
            "position": 1,
            "product_count": 1,
            "created_at": CREATED,
            "updated_at": CREATED,
        })
    }

    /// Every category.
    pub fn category_list() -> Value {
        json!({"items": [category()], "next_cursor": null})
    }

    /// An image of the product.
    pub fn image() -> Value {
        json!({
            "id": IMAGE_ID,
            "url": format!("/api/v1/files/{IMAGE_ID}"),
            "content_type": "image/png",
            "size": 48213,
        })
    }

    /// The product as just created: no images yet.
    pub fn new_product() -> Value {
        json!({
            "id": PRODUCT_ID,
            "sku": "MUG-001",
            "name": "Stoneware mug",
            "slug": "stoneware-mug",
            "status": "active",
            "categories": [{"id": CATEGORY_ID, "name": "Mugs", "slug": "mugs"}],
            "description": "Holds 350 ml. Dishwasher safe.",
            "price": money("19.99"),
            "stock": 100,
            "options": [],
            "variants": [{
                "id": PRODUCT_ID,
                "sku": "MUG-001",
                "title": "Default Title",
                "option_values": {},
                "price": money("19.99"),
                "compare_at_price": null,
                "stock": 100,
                "position": 0,
            }],
            "images": [],
            "created_at": CREATED,
            "updated_at": CREATED,
        })
    }

    const VARIANT_ID: &str = "0192f0c4-6c3d-7e4f-8a5b-6c7d8e9fa0b1";

    /// The body of `create_product_variant`.
    pub fn create_variant() -> Value {
        json!({
            "sku": "MUG-001-L",
            "option_values": {"Size": "L"},
            "price": money("24.99"),
            "compare_at_price": money("29.99"),
            "stock": 20,
            "position": 1,
        })
    }

    /// A variant added to the product.
    pub fn variant() -> Value {
        json!({
            "id": VARIANT_ID,
            "sku": "MUG-001-L",
            "title": "L",
            "option_values": {"Size": "L"},
            "price": money("24.99"),
            "compare_at_price": money("29.99"),
            "stock": 20,
            "position": 1,
        })
    }

    /// The product with an image.
    pub fn product() -> Value {
        let mut p = new_product();
        p["images"] = json!([image()]);
        p["updated_at"] = json!(UPDATED);
        p
    }

    fn page(items: Vec<Value>) -> Value {
        let total = items.len();
        json!({"items": items, "page": 1, "per_page": 20, "total": total, "total_pages": 1, "next_cursor": null})
    }

    /// A page of the catalog.
    pub fn product_page() -> Value {
        page(vec![product()])
    }

    /// An account.
    pub fn user() -> Value {
        json!({
            "id": USER_ID,
            "email": "ann@example.com",
            "username": "ann",
            "first_name": "Ann",
            "last_name": null,
            "roles": ["user"],
            "created_at": CREATED,
            "updated_at": CREATED,
        })
    }

    /// A page of accounts.
    pub fn user_page() -> Value {
        page(vec![user()])
    }

    const ENDPOINT_ID: &str = "0192f0c6-2a3b-7c4d-8e5f-60718293a4b5";

    /// The body of `create_webhook_endpoint`.
    pub fn create_webhook_endpoint() -> Value {
        json!({
            "url": "https://hooks.example.com/shop",
            "events": ["order.placed", "order.cancelled"],
            "description": "Fulfilment",
        })
    }

    /// A webhook endpoint.
    pub fn webhook_endpoint() -> Value {
        json!({
            "id": ENDPOINT_ID,
            "url": "https://hooks.example.com/shop",
            "events": ["order.placed", "order.cancelled"],
            "description": "Fulfilment",
            "enabled": true,
            "created_at": CREATED,
            "updated_at": CREATED,
        })
    }

    /// A webhook endpoint with its secret.
    pub fn webhook_endpoint_with_secret() -> Value {
        let mut e = webhook_endpoint();
        e["secret"] = json!("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        e
    }

    /// A page of webhook endpoints.
    pub fn webhook_endpoint_page() -> Value {
        page(vec![webhook_endpoint()])
    }

    const PROMOTION_ID: &str = "0192f0c7-1a2b-7c3d-8e4f-5a6b7c8d9e0f";

    /// The body of `create_promotion`.
    pub fn create_promotion() -> Value {
        json!({
            "code": "SUMMER-10",
            "kind": "percentage",
            "value": "10",
            "min_subtotal": {"amount": "50.00", "currency": "EUR"},
            "starts_at": "2026-06-01T00:00:00Z",
            "ends_at": "2026-09-01T00:00:00Z",
            "usage_limit": 100,
            "per_customer_limit": 1,
        })
    }

    /// A promotion.
    pub fn promotion() -> Value {
        json!({
            "id": PROMOTION_ID,
            "code": "SUMMER-10",
            "kind": "percentage",
            "value": "10.0",
            "currency": null,
            "min_subtotal": {"amount": "50.00", "currency": "EUR"},
            "starts_at": "2026-06-01T00:00:00.000000Z",
            "ends_at": "2026-09-01T00:00:00.000000Z",
            "usage_limit": 100,
            "per_customer_limit": 1,
            "active": true,
            "times_used": 0,
            "created_at": CREATED,
            "updated_at": CREATED,
        })
    }

    /// A page of promotions.
    pub fn promotion_page() -> Value {
        page(vec![promotion()])
    }

    const SHIPPING_OPTION_ID: &str = "0192f0c8-4b5c-7d6e-8f70-8192a3b4c5d6";

    /// The body of `create_shipping_option`.
    pub fn create_shipping_option() -> Value {
        json!({
            "name": "Standard",
            "countries": ["DE", "AT"],
            "price": {"amount": "4.90", "currency": "EUR"},
            "free_over": {"amount": "50.00", "currency": "EUR"},
        })
    }

    /// A shipping option.
    pub fn shipping_option() -> Value {
        json!({
            "id": SHIPPING_OPTION_ID,
            "name": "Standard",
            "countries": ["DE", "AT"],
            "price": {"amount": "4.90", "currency": "EUR"},
            "free_over": {"amount": "50.00", "currency": "EUR"},
            "active": true,
            "created_at": CREATED,
            "updated_at": CREATED,
        })
    }

    /// A page of shipping options.
    pub fn shipping_option_page() -> Value {
        page(vec![shipping_option()])
    }

    const TAX_RATE_ID: &str = "0192f0c9-5c6d-7e7f-8081-92a3b4c5d6e7";

    /// The body of `create_tax_rate`.
    pub fn create_tax_rate() -> Value {
        json!({"country": "DE", "rate": "19.0", "name": "VAT"})
    }

    /// A tax rate.
    pub fn tax_rate() -> Value {
        json!({
            "id": TAX_RATE_ID,
            "country": "DE",
            "state": null,
            "rate": "19.0",
            "name": "VAT",
            "created_at": CREATED,
            "updated_at": CREATED,
        })
    }

    /// A page of tax rates.
    pub fn tax_rate_page() -> Value {
        page(vec![tax_rate()])
    }

    /// A page of deliveries.
    pub fn delivery_page() -> Value {
        page(vec![json!({
            "id": "0192f0c6-3b4c-7d5e-8f60-718293a4b5c6",
            "event_id": "0192f0c5-1d2e-7f30-8a41-5b6c7d8e9f02",
            "event_type": "order.placed",
            "status": "pending",
            "attempts": 1,
            "last_status_code": 500,
            "last_error": "the receiver answered 500",
            "next_attempt_at": UPDATED,
            "created_at": CREATED,
            "updated_at": CREATED,
        })])
    }

    /// A page of the event log.
    pub fn event_page() -> Value {
        page(vec![json!({
            "id": "0192f0c5-1d2e-7f30-8a41-5b6c7d8e9f02",
            "type": "order.placed",
            "data": order(),
            "created_at": CREATED,
        })])
    }

    /// Tokens after sign-in.
    pub fn tokens() -> Value {
        json!({
            "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6IjEifQ.eyJzdWIiOiIuLi4ifQ.c2ln",
            "refresh_token": "2f6c1a0e-3c1d-4a8b-9a57-0c1d2e3f4a5b.Yh3kq...",
            "token_type": "Bearer",
            "expires_in": 300,
            "refresh_expires_in": 2_592_000,
        })
    }

    /// The shipping address of the order.
    fn address() -> Value {
        json!({
            "line1": "Hauptstraße 1",
            "line2": null,
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
            "state": null,
        })
    }

    /// The body of `place_order`.
    pub fn place_order() -> Value {
        json!({
            "items": [{"product_id": PRODUCT_ID, "quantity": 2}],
            "shipping_address": address(),
        })
    }

    /// The order placed.
    pub fn order() -> Value {
        json!({
            "id": ORDER_ID,
            "user_id": USER_ID,
            "status": "pending",
            "items": [{
                "product_id": PRODUCT_ID,
                "variant_id": PRODUCT_ID,
                "variant_title": "Default Title",
                "sku": "MUG-001",
                "name": "Stoneware mug",
                "unit_price": money("19.99"),
                "quantity": 2,
                "line_total": money("39.98"),
            }],
            "total": money("39.98"),
            "shipping_address": address(),
            "email": null,
            "subtotal": money("39.98"),
            "discount_total": money("0.00"),
            "shipping_total": money("0.00"),
            "tax_total": money("0.00"),
            "discount_code": null,
            "shipping_option": null,
            "payment_status": "unpaid",
            "created_at": CREATED,
            "updated_at": CREATED,
        })
    }

    /// A guest's order checked out from a cart (with its token, shown once).
    pub fn checked_out_order() -> Value {
        let mut o = order();
        o["user_id"] = Value::Null;
        o["email"] = json!("ada@example.com");
        o["discount_total"] = money("4.00");
        o["discount_code"] = json!("SUMMER-10");
        o["shipping_option"] = json!({"option_id": "0192f0c8-4b5c-7d6e-8f70-8192a3b4c5d6", "name": "Standard", "amount": money("0.00")});
        o["tax_total"] = money("6.84");
        o["total"] = money("42.82");
        o["token"] = json!("dGhpcyBpcyBub3QgYSByZWFsIHRva2VuIGF0IGFsbA");
        o
    }

    /// A guest's cart with one line, a discount and shipping, as made (with its token).
    pub fn guest_cart() -> Value {
        let mut c = cart();
        c["user_id"] = Value::Null;
        c["token"] = json!("q3Jb0u2c0n7VtLk9w1xQm6yH4pZr8aEeF5sDgT2vB0o");
        c
    }

    /// A customer's cart: one line, 10 % off, free shipping over 30 EUR, 19 % tax.
    pub fn cart() -> Value {
        json!({
            "id": "0192f0c6-0a1b-7c2d-8e3f-405162738496",
            "user_id": USER_ID,
            "status": "open",
            "currency": "EUR",
            "items": [{
                "id": "0192f0c6-0a1b-7c2d-8e3f-405162738497",
                "product_id": PRODUCT_ID,
                "variant_id": PRODUCT_ID,
                "sku": "MUG-001",
                "name": "Stoneware mug",
                "variant_title": "Default Title",
                "unit_price": money("19.99"),
                "quantity": 2,
                "line_total": money("39.98"),
                "in_stock": true,
            }],
            "subtotal": money("39.98"),
            "discount": {"code": "SUMMER-10", "amount": money("4.00")},
            "shipping": {"option_id": "0192f0c8-4b5c-7d6e-8f70-8192a3b4c5d6", "name": "Standard", "amount": money("0.00")},
            "tax_total": money("6.84"),
            "total": money("42.82"),
            "email": "ada@example.com",
            "shipping_address": address(),
            "expires_at": "2027-01-01T12:00:00.000000Z",
            "created_at": CREATED,
            "updated_at": UPDATED,
        })
    }

    /// The shipping options a cart may choose.
    pub fn cart_shipping_options() -> Value {
        json!({"items": [{
            "id": "0192f0c8-4b5c-7d6e-8f70-8192a3b4c5d6",
            "name": "Standard",
            "countries": ["DE", "AT"],
            "price": money("4.90"),
            "free_over": money("30.00"),
            "amount": money("0.00"),
        }]})
    }

    fn order_in(status: &str) -> Value {
        let mut o = order();
        o["status"] = json!(status);
        o["updated_at"] = json!(UPDATED);
        o
    }

    /// The order once paid.
    pub fn paid_order() -> Value {
        order_in("paid")
    }

    /// The order once cancelled.
    pub fn cancelled_order() -> Value {
        order_in("cancelled")
    }

    /// A page of orders.
    pub fn order_page() -> Value {
        page(vec![order()])
    }
}

#[cfg(test)]
mod tests {
    //! The checklist at the top of this file, held against every operation of the document.

    use std::collections::BTreeSet;

    use axum::body::to_bytes;
    use serde_json::Value;

    use super::*;

    fn document() -> Value {
        serde_json::to_value(openapi()).unwrap()
    }

    /// (path, method, operation) of every operation.
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                out.push((path.clone(), method.clone(), op.clone()));
            }
        }
        out
    }

    #[test]
    fn operation_ids_are_unique_snake_case_and_resource_first() {
        let doc = document();
        let mut seen = BTreeSet::new();
        for (path, method, op) in operations(&doc) {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            assert!(
                seen.insert(id.to_owned()),
                "{method} {path}: operationId `{id}` repeats"
            );
            let words: Vec<&str> = id.split('_').collect();
            assert!(
                words.len() >= 2
                    && words
                        .iter()
                        .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase())),
                "{method} {path}: `{id}` is not verb_resource in snake case"
            );
        }
        for id in [
            "list_products",
            "get_product",
            "delete_product",
            "delete_product_image",
            "list_users",
            "get_user",
        ] {
            assert!(seen.contains(id), "no `{id}`");
        }
    }

    #[test]
    fn every_operation_has_a_short_summary_a_description_and_explicit_security() {
        let doc = document();
        for (path, method, op) in operations(&doc) {
            let summary = op["summary"].as_str().unwrap_or_default();
            assert!(
                !summary.is_empty() && summary.len() <= 40 && !summary.ends_with('.'),
                "{method} {path}: summary `{summary}` is not a short title"
            );
            let description = op["description"].as_str().unwrap_or_default();
            assert!(
                description.len() > summary.len(),
                "{method} {path}: no description"
            );
            assert!(
                op["security"].is_array(),
                "{method} {path}: no `security` (public: [])"
            );
        }
        assert_eq!(doc["servers"][0]["url"], "/");
    }

    #[test]
    fn always_sent_headers_are_declared_and_required() {
        let doc = document();
        for (path, method, op) in operations(&doc) {
            let responses = op["responses"].as_object().unwrap();
            let write = method != "get";
            if write && path.starts_with("/api/v1/") {
                assert!(
                    responses.contains_key("429"),
                    "{method} {path}: rate limited, no 429"
                );
            }
            let secured = op["security"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| !s.as_object().unwrap().is_empty());
            if secured {
                assert!(responses.contains_key("401"), "{method} {path}: no 401");
            }
            for (status, header) in [
                ("201", "Location"),
                ("401", "WWW-Authenticate"),
                ("429", "Retry-After"),
            ] {
                if let Some(response) = responses.get(status) {
                    assert_eq!(
                        response["headers"][header]["required"],
                        Value::Bool(true),
                        "{method} {path}: {status} without a required `{header}`"
                    );
                }
            }
            for parameter in op["parameters"].as_array().into_iter().flatten() {
                if parameter["in"] == "header" {
                    assert!(
                        parameter["schema"]["type"].is_string(),
                        "{method} {path}: header {parameter} is not a plain type"
                    );
                }
            }
        }
        let place = &doc["paths"]["/api/v1/orders"]["post"];
        assert!(place["responses"]["201"]["headers"]["Idempotent-Replayed"].is_object());
        assert_eq!(place["parameters"][0]["schema"]["type"], "string");
        assert_eq!(place["parameters"][0]["schema"]["maxLength"], 255);
        assert_eq!(place["parameters"][0]["required"], false);
    }

    #[test]
    fn request_bodies_and_main_responses_have_examples() {
        let doc = document();
        for (path, method, op) in operations(&doc) {
            for (media, content) in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
            {
                assert!(
                    content["example"].is_object(),
                    "{method} {path}: request {media} has no example"
                );
            }
            for (status, response) in op["responses"].as_object().unwrap() {
                if !status.starts_with('2') {
                    continue;
                }
                for (media, content) in response["content"].as_object().into_iter().flatten() {
                    if media.contains("json") {
                        assert!(
                            !content["example"].is_null(),
                            "{method} {path}: {status} {media} has no example"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn closed_sets_are_enums_and_always_sent_fields_are_required() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["OrderStatus"]["enum"],
            serde_json::json!(["pending", "paid", "shipped", "delivered", "cancelled"])
        );
        assert_eq!(
            schemas["Role"]["enum"],
            serde_json::json!(["user", "admin"])
        );
        for (schema, field) in [
            ("ProductResponse", "description"),
            ("OrderResponse", "shipping_address"),
            ("UserResponse", "first_name"),
            ("UserResponse", "last_name"),
            ("Address", "line2"),
        ] {
            let required = schemas[schema]["required"].as_array().unwrap();
            assert!(
                required.contains(&Value::from(field)),
                "{schema}.{field} is not required"
            );
        }
        let name = &schemas["CreateProductRequest"]["properties"]["name"];
        assert_eq!(
            (name["minLength"].as_u64(), name["maxLength"].as_u64()),
            (Some(1), Some(200))
        );
        let quantity = &schemas["OrderItemRequest"]["properties"]["quantity"];
        assert_eq!(
            (quantity["minimum"].as_i64(), quantity["maximum"].as_i64()),
            (Some(1), Some(1000))
        );
        let items = &schemas["PlaceOrderRequest"]["properties"]["items"];
        assert_eq!(
            (items["minItems"].as_u64(), items["maxItems"].as_u64()),
            (Some(1), Some(100))
        );
        assert_eq!(
            schemas["RegisterRequest"]["properties"]["password"]["minLength"],
            8
        );
        let list = &doc["paths"]["/api/v1/products"]["get"]["parameters"];
        for p in list.as_array().unwrap() {
            if p["name"] == "page" || p["name"] == "per_page" {
                assert_eq!(p["schema"]["minimum"], 1, "{p}");
            }
        }
        assert_eq!(
            schemas["ProductStatus"]["enum"],
            serde_json::json!(["draft", "active", "archived"])
        );
        let sort = list
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "sort")
            .unwrap();
        assert_eq!(
            sort["schema"]["$ref"], "#/components/schemas/ProductSort",
            "{sort}"
        );
        assert_eq!(
            schemas["ProductSort"]["enum"],
            serde_json::json!([
                "newest",
                "oldest",
                "price_asc",
                "price_desc",
                "name_asc",
                "relevance"
            ])
        );
        let names: BTreeSet<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        for name in [
            "q",
            "status",
            "category",
            "min_price",
            "max_price",
            "currency",
            "in_stock",
            "sort",
        ] {
            assert!(names.contains(name), "GET /products has no `{name}`");
        }
        for (schema, field) in [
            ("CategoryResponse", "parent_id"),
            ("CategoryResponse", "description"),
        ] {
            let required = schemas[schema]["required"].as_array().unwrap();
            assert!(
                required.contains(&Value::from(field)),
                "{schema}.{field} is not required"
            );
        }
        for path in ["/api/v1/categories", "/api/v1/categories/{id}"] {
            assert!(doc["paths"][path].is_object(), "no {path}");
        }
    }

    /// Every `$ref` names a schema the document holds (a type used in query parameters only
    /// is not collected by itself).
    #[test]
    fn every_reference_resolves() {
        fn walk(v: &Value, schemas: &Value, path: &str) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
                        assert!(schemas[name].is_object(), "{path}: `{r}` names nothing");
                    }
                    for (k, v) in map {
                        walk(v, schemas, &format!("{path}/{k}"));
                    }
                }
                Value::Array(items) => {
                    for (i, v) in items.iter().enumerate() {
                        walk(v, schemas, &format!("{path}/{i}"));
                    }
                }
                _ => {}
            }
        }
        let doc = document();
        walk(&doc, &doc["components"]["schemas"], "");
    }

    /// The patterns hold exactly what the domain holds, on a few edge cases either side.
    #[test]
    fn the_name_and_money_patterns_agree_with_the_domain() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        let pattern = schemas["CreateProductRequest"]["properties"]["name"]["pattern"]
            .as_str()
            .unwrap()
            .to_owned();
        // The regex crate reads the \uXXXX escapes as ECMA-262 and Python do.
        let name = regex_lite_match(&pattern);
        for s in [
            "Mug",
            " Mug ",
            "Mug\twith tab",
            " ",
            "",
            "a\u{7}b",
            "\u{a0}",
        ] {
            assert_eq!(name(s), domain::ProductName::parse(s).is_ok(), "name {s:?}");
        }
        for variant in schemas["Money"]["oneOf"].as_array().unwrap() {
            let amount =
                regex_lite_match(variant["properties"]["amount"]["pattern"].as_str().unwrap());
            for code in variant["properties"]["currency"]["enum"]
                .as_array()
                .unwrap()
            {
                let currency = domain::Currency::parse(code.as_str().unwrap()).unwrap();
                for a in [
                    "0",
                    "1",
                    "19.9",
                    "19.99",
                    "1.250",
                    "1.",
                    ".5",
                    "-1",
                    "999999999999999999",
                    "1e3",
                ] {
                    if amount(a) {
                        assert!(
                            domain::Money::parse(a, currency).is_ok(),
                            "{a} {code} valid by the schema, refused"
                        );
                    }
                }
            }
        }
    }

    /// The pattern as a matcher; `\\uXXXX` (ECMA-262, Python) is `\\x{XXXX}` to the regex crate.
    fn regex_lite_match(pattern: &str) -> impl Fn(&str) -> bool {
        let mut translated = String::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match (c, chars.clone().next()) {
                ('\\', Some('u')) => {
                    chars.next();
                    let hex: String = chars.by_ref().take(4).collect();
                    translated.push_str(&format!("\\x{{{hex}}}"));
                }
                ('\\', Some(next)) => {
                    chars.next();
                    translated.push(c);
                    translated.push(next);
                }
                _ => translated.push(c),
            }
        }
        let re = regex::Regex::new(&translated).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        move |s: &str| re.is_match(s)
    }

    #[test]
    fn every_problem_type_the_api_emits_is_listed_and_has_a_page() {
        use application::AppError;
        let errors = [
            AppError::Validation(vec![domain::FieldError::new("f", "m")]),
            AppError::NotFound,
            AppError::Forbidden,
            AppError::Unauthorized,
            AppError::Conflict {
                field: None,
                message: "m".into(),
            },
            AppError::BadRequest("m".into()),
            AppError::TooLarge { limit: 1 },
            AppError::UnsupportedMediaType("m".into()),
        ];
        let listed: BTreeSet<&str> = PROBLEM_TYPES.iter().map(|(slug, ..)| *slug).collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for e in errors {
            let response = crate::error::ApiError::from(e).into_response();
            let body: Value = runtime
                .block_on(async {
                    serde_json::from_slice(&to_bytes(response.into_body(), 1 << 16).await.unwrap())
                })
                .unwrap();
            let kind = body["type"].as_str().unwrap();
            let slug = kind
                .strip_prefix("/problems/")
                .unwrap_or_else(|| panic!("type `{kind}`"));
            assert!(listed.contains(slug), "`{slug}` is not in PROBLEM_TYPES");
            let page = runtime.block_on(problem_page(Path(slug.to_owned())));
            assert_eq!(page.status(), axum::http::StatusCode::OK, "{slug}");
        }
        // Written outside ApiError: by the rate limiter, the extractors, the fallbacks, and the
        // connection loop's answers to a request head it cannot read (431 and 414).
        for slug in [
            "headers-too-large",
            "uri-too-long",
            "rate-limited",
            "malformed-json",
            "unavailable",
            "internal",
            "timeout",
            "method-not-allowed",
            "error",
        ] {
            assert!(listed.contains(slug), "`{slug}` is not in PROBLEM_TYPES");
        }
        let missing = runtime.block_on(problem_page(Path("no-such-type".to_owned())));
        assert_eq!(missing.status(), axum::http::StatusCode::NOT_FOUND);
    }
}
