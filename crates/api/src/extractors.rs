//! Extractors whose rejections are the API's own problem+json errors, so every error a
//! client can cause has one shape and the field it concerns.

use application::catalog::FILE_FIELD;
use application::ordering::IdempotencyKey;
use application::ports::{
    ByteSource, Lookup, OrderFilter, PriceRange, ProductFilter, ProductSort, SourceError,
};
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use domain::webhook::DeliveryStatus;
use domain::{
    CategoryId, Currency, EventType, FieldError, Money, OrderStatus, PageRequest, ProductId,
    ProductStatus, Slug, UserId, VariantId,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::ApiError;

/// A JSON body: 415 unless the content type is JSON, 400 when missing or malformed, 413 when
/// too large, 422 naming the field when a value has the wrong type or a field is missing.
pub struct AppJson<T>(pub T);

fn is_json(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// serde's message without its " at line 1 column 5" suffix, which means nothing to a field.
fn clean_message(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

impl<S, T> FromRequest<S> for AppJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !is_json(content_type) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "the body must be JSON, sent with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload-too-large",
                    "the request body is too large",
                )
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad-request",
                    "the request body could not be read",
                )
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "the request body is missing",
            ));
        }
        // Every body of this API is a JSON object; serde would otherwise read a struct from an
        // array of its fields in order (`[null, null]` as `{first_name, last_name}`).
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{')
            && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok()
        {
            return Err(ApiError::validation(vec![FieldError::new(
                "body",
                "must be a JSON object",
            )]));
        }
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            match inner.classify() {
                serde_json::error::Category::Data => {
                    let message = clean_message(&inner.to_string());
                    // serde names a missing or repeated key in its message, not in the path
                    // (which stops at the object holding it).
                    let field = match message
                        .strip_prefix("missing field `")
                        .or_else(|| message.strip_prefix("duplicate field `"))
                        .and_then(|m| m.split('`').next())
                    {
                        Some(missing) if path == "." => missing.to_owned(),
                        Some(missing) => format!("{path}.{missing}"),
                        None if path == "." => "body".to_owned(),
                        None => path,
                    };
                    ApiError::validation(vec![FieldError::new(field, message)])
                }
                // A number no type holds (1e309) is well-formed JSON the field cannot take.
                serde_json::error::Category::Syntax
                    if path != "." && inner.to_string().starts_with("number out of range") =>
                {
                    ApiError::validation(vec![FieldError::new(
                        path,
                        "the number is out of range".to_owned(),
                    )])
                }
                _ => ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed-json",
                    format!("the request body is not valid JSON: {inner}"),
                ),
            }
        })?;
        de.end().map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                format!("the request body is not valid JSON: {e}"),
            )
        })?;
        Ok(AppJson(value))
    }
}

/// A resource id from the path. Anything that is not a UUID names no resource: 404.
pub struct IdPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        Uuid::parse_str(&raw)
            .map(IdPath)
            .map_err(|_| ApiError::not_found())
    }
}

/// A product or category named in the path by id or by slug. A segment that is neither (not
/// a UUID, not a valid slug) names nothing: 404.
pub struct LookupPath<I>(pub Lookup<I>);

impl<S: Send + Sync, I: From<Uuid> + Send> FromRequestParts<S> for LookupPath<I> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        if let Ok(id) = Uuid::parse_str(&raw) {
            return Ok(LookupPath(Lookup::Id(I::from(id))));
        }
        Slug::parse(&raw)
            .map(|slug| LookupPath(Lookup::Slug(slug)))
            .map_err(|_| ApiError::not_found())
    }
}

/// The two ids of `/products/{id}/images/{image_id}`. Anything that is not a UUID names no
/// resource: 404.
pub struct ImagePath {
    /// The product.
    pub product_id: Uuid,
    /// The image.
    pub image_id: Uuid,
}

impl<S: Send + Sync> FromRequestParts<S> for ImagePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((product, image)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        match (Uuid::parse_str(&product), Uuid::parse_str(&image)) {
            (Ok(product_id), Ok(image_id)) => Ok(ImagePath {
                product_id,
                image_id,
            }),
            _ => Err(ApiError::not_found()),
        }
    }
}

/// The two ids of `/products/{id}/variants/{variant_id}`. Anything that is not a UUID names
/// no resource: 404.
pub struct VariantPath {
    /// The product.
    pub product_id: ProductId,
    /// The variant.
    pub variant_id: VariantId,
}

impl<S: Send + Sync> FromRequestParts<S> for VariantPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((product, variant)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        match (Uuid::parse_str(&product), Uuid::parse_str(&variant)) {
            (Ok(product), Ok(variant)) => Ok(VariantPath {
                product_id: ProductId::from_uuid(product),
                variant_id: VariantId::from_uuid(variant),
            }),
            _ => Err(ApiError::not_found()),
        }
    }
}

/// Room for the multipart framing and small extra fields next to the file: the request as a
/// whole may exceed the file's limit by this much before reading stops.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// The field `file` of a `multipart/form-data` body, read chunk by chunk as it arrives (never
/// the whole body first). Nothing is read before the first call, so the use case decides who
/// may upload before a byte of the body is looked at (and a client that waits for
/// `100 Continue` sends nothing to a refused request). Other fields are skipped.
pub struct MultipartFile {
    /// Until the first read.
    start: Option<Start>,
    multipart: Option<multer::Multipart<'static>>,
    field: Option<multer::Field<'static>>,
}

struct Start {
    content_type: Option<String>,
    content_length: Option<u64>,
    body: Body,
    /// Most bytes the request as a whole may carry.
    limit: u64,
}

impl MultipartFile {
    /// The file of the request with `headers` and `body`; the request as a whole may carry at
    /// most `file_limit` bytes of file plus the multipart framing.
    pub fn new(headers: &HeaderMap, body: Body, file_limit: u64) -> Self {
        let header = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        Self {
            start: Some(Start {
                content_type: header(header::CONTENT_TYPE).map(str::to_owned),
                content_length: header(header::CONTENT_LENGTH).and_then(|v| v.parse().ok()),
                body,
                limit: file_limit.saturating_add(MULTIPART_OVERHEAD),
            }),
            multipart: None,
            field: None,
        }
    }

    /// After a refusal, reads what is left of a body already being read (at most the
    /// request's limit, and kept nowhere), so the client can finish sending and read the
    /// answer: a connection closed on unread bytes is reset, and the answer lost with it.
    pub async fn discard_rest(&mut self) {
        self.field = None;
        if let Some(multipart) = &mut self.multipart {
            while let Ok(Some(_)) = multipart.next_field().await {}
        }
    }
}

fn multipart_error(e: multer::Error) -> SourceError {
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            SourceError::TooLarge
        }
        multer::Error::StreamReadFailed(_) => {
            SourceError::Malformed("the request body could not be read".into())
        }
        other => SourceError::Malformed(format!("the multipart body is malformed: {other}")),
    }
}

/// Opens the multipart body and moves to its `file` field; a field before it is skipped
/// (multer reads past it).
async fn open(
    start: Start,
) -> Result<(multer::Multipart<'static>, multer::Field<'static>), SourceError> {
    let boundary = start
        .content_type
        .as_deref()
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| {
            SourceError::UnsupportedMediaType(format!(
                "the body must be multipart/form-data, with the image in the field `{FILE_FIELD}`"
            ))
        })?;
    // A body that announces more than the limit is refused unread.
    if start.content_length.is_some_and(|n| n > start.limit) {
        return Err(SourceError::TooLarge);
    }
    let mut multipart = multer::Multipart::with_constraints(
        start.body.into_data_stream(),
        boundary,
        multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(start.limit)),
    );
    loop {
        match multipart.next_field().await.map_err(multipart_error)? {
            Some(field) if field.name() == Some(FILE_FIELD) => return Ok((multipart, field)),
            Some(_) => {}
            None => return Err(SourceError::MissingField(FILE_FIELD)),
        }
    }
}

#[async_trait::async_trait]
impl ByteSource for MultipartFile {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, SourceError> {
        if let Some(start) = self.start.take() {
            let (multipart, field) = open(start).await?;
            self.multipart = Some(multipart);
            self.field = Some(field);
        }
        let Some(field) = &mut self.field else {
            return Ok(None);
        };
        match field.chunk().await.map_err(multipart_error)? {
            Some(chunk) => Ok(Some(chunk)),
            None => {
                // Read to the end (later fields, the closing boundary), so the connection
                // can serve the next request.
                self.discard_rest().await;
                Ok(None)
            }
        }
    }
}

#[derive(Deserialize)]
struct RawListQuery {
    page: Option<String>,
    per_page: Option<String>,
    cursor: Option<String>,
    user_id: Option<String>,
    status: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
}

/// The catalog list's parameters, as sent.
#[derive(Deserialize)]
struct RawProductQuery {
    page: Option<String>,
    per_page: Option<String>,
    cursor: Option<String>,
    q: Option<String>,
    status: Option<String>,
    category: Option<String>,
    min_price: Option<String>,
    max_price: Option<String>,
    currency: Option<String>,
    in_stock: Option<String>,
    sort: Option<String>,
}

/// `min_price`, `max_price` and `currency`: a range needs its currency, and a bound is a
/// decimal string with at most the currency's minor digits.
fn price_range(raw: &RawProductQuery, errors: &mut Vec<FieldError>) -> Option<PriceRange> {
    let currency = match raw.currency.as_deref() {
        None => None,
        Some(c) => match Currency::parse(c) {
            Ok(c) => Some(c),
            Err(e) => {
                errors.push(e.at("currency"));
                return None;
            }
        },
    };
    let bounds = [("min_price", &raw.min_price), ("max_price", &raw.max_price)];
    let Some(currency) = currency else {
        if bounds.iter().any(|(_, b)| b.is_some()) {
            errors.push(FieldError::new(
                "currency",
                "is required with min_price or max_price",
            ));
        }
        return None;
    };
    let mut parsed = [None, None];
    for (slot, (name, bound)) in parsed.iter_mut().zip(bounds) {
        if let Some(b) = bound {
            match Money::parse(b, currency) {
                Ok(m) => *slot = Some(m.minor()),
                Err(e) => errors.push(e.at(name)),
            }
        }
    }
    let [min_minor, max_minor] = parsed;
    if let (Some(min), Some(max)) = (min_minor, max_minor)
        && min > max
    {
        errors.push(FieldError::new("min_price", "must not be above max_price"));
    }
    Some(PriceRange {
        currency,
        min_minor,
        max_minor,
    })
}

impl RawListQuery {
    fn from_parts(parts: &Parts) -> Result<Self, ApiError> {
        let Query(raw) = Query::<RawListQuery>::try_from_uri(&parts.uri).map_err(|_| {
            ApiError::invalid_field("query", "the query string could not be parsed")
        })?;
        Ok(raw)
    }
}

fn whole_number(name: &str, raw: Option<&str>, default: u32) -> Result<u32, FieldError> {
    match raw {
        None => Ok(default),
        Some(s) => s
            .parse::<u32>()
            .map_err(|_| FieldError::new(name, "must be a whole number in range")),
    }
}

/// The identity a list's cursors are bound to: its path and every query parameter but
/// `page`, `per_page` and `cursor`, sorted, as sent. A cursor from another list, another sort
/// or other filters is thereby refused (422 on `cursor`) instead of silently answering a
/// page of a list the client did not ask for.
fn list_identity(parts: &Parts) -> String {
    let mut pairs = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map(|Query(pairs)| pairs)
        .unwrap_or_default();
    pairs.retain(|(k, _)| !matches!(k.as_str(), "page" | "per_page" | "cursor"));
    pairs.sort();
    let mut identity = parts.uri.path().to_owned();
    for (k, v) in pairs {
        identity.push('\n');
        identity.push_str(&k);
        identity.push('=');
        identity.push_str(&v);
    }
    identity
}

/// `page`, `per_page` and `cursor` of the list `parts` asks for; each error goes to
/// `errors`, naming the parameter, when a number is not a whole number in range or the cursor
/// is not one of this list. With a cursor, `page` is ignored (not even checked).
fn page_request(
    raw: &RawListQuery,
    parts: &Parts,
    errors: &mut Vec<FieldError>,
) -> Option<PageRequest> {
    let page = match raw.cursor {
        Some(_) => Ok(1),
        None => whole_number("page", raw.page.as_deref(), 1),
    }
    .map_err(|e| errors.push(e))
    .ok();
    let per_page = whole_number(
        "per_page",
        raw.per_page.as_deref(),
        PageRequest::DEFAULT_PER_PAGE,
    )
    .map_err(|e| errors.push(e))
    .ok();
    let request = PageRequest::new(page?, per_page?)
        .map_err(|e| errors.push(e))
        .ok()?
        .in_list(list_identity(parts));
    match raw.cursor.as_deref() {
        None => Some(request),
        Some(cursor) => request.after(cursor).map_err(|e| errors.push(e)).ok(),
    }
}

/// Everything parsed, or 422 naming each parameter that is not.
fn finish<T>(value: Option<T>, errors: Vec<FieldError>) -> Result<T, ApiError> {
    match value {
        Some(value) if errors.is_empty() => Ok(value),
        _ => Err(ApiError::validation(errors)),
    }
}

/// `page`, `per_page` and `cursor` of a list without filters (the accounts, the webhook
/// endpoints); 422 naming the parameter when a number is not a whole number in range or the
/// cursor is not one of this list.
pub struct PageQuery(pub PageRequest);

impl<S: Send + Sync> FromRequestParts<S> for PageQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let raw = RawListQuery::from_parts(parts)?;
        let mut errors = Vec::new();
        finish(
            page_request(&raw, parts, &mut errors).map(PageQuery),
            errors,
        )
    }
}

/// The query of a list that comes whole, on one page (the categories): it issues no cursor,
/// so any `cursor` sent to it is one of another list, or made up: 422 on `cursor`.
pub struct WholeListQuery;

impl<S: Send + Sync> FromRequestParts<S> for WholeListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        // Read leniently: this list took no parameters before cursors, and ignored any.
        let pairs = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|Query(pairs)| pairs)
            .unwrap_or_default();
        match pairs.iter().find(|(k, _)| k == "cursor").map(|(_, v)| v) {
            None => Ok(WholeListQuery),
            Some(cursor) => {
                // Read as any list reads one, so that its refusal says the same; a cursor
                // that did read as one of this list would still have no page after it.
                let e = PageRequest::default()
                    .in_list(list_identity(parts))
                    .after(cursor)
                    .err()
                    .unwrap_or_else(|| {
                        FieldError::new("cursor", "this list comes whole, on one page")
                    });
                Err(ApiError::validation(vec![e]))
            }
        }
    }
}

/// The catalog's list: its page and its filters, each taken as sent (an empty value of a
/// closed set is refused like any other unknown one); 422 naming each parameter that is not
/// valid.
pub struct ProductQuery {
    /// Which page.
    pub page: PageRequest,
    /// What to show; `status` is honoured for admins only (the use case decides).
    pub filter: ProductFilter,
    /// `category`: an id or a slug.
    pub category: Option<Lookup<CategoryId>>,
}

impl<S: Send + Sync> FromRequestParts<S> for ProductQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Query(raw) = Query::<RawProductQuery>::try_from_uri(&parts.uri).map_err(|_| {
            ApiError::invalid_field("query", "the query string could not be parsed")
        })?;
        let mut errors = Vec::new();
        let list = RawListQuery {
            page: raw.page.clone(),
            per_page: raw.per_page.clone(),
            cursor: raw.cursor.clone(),
            user_id: None,
            status: None,
            event_type: None,
        };
        let page = page_request(&list, parts, &mut errors);
        let status = raw
            .status
            .as_deref()
            .and_then(|s| ProductStatus::parse(s).map_err(|e| errors.push(e)).ok());
        let category = raw.category.as_deref().and_then(|c| {
            if let Ok(id) = Uuid::parse_str(c) {
                return Some(Lookup::Id(CategoryId::from_uuid(id)));
            }
            Slug::parse(c)
                .map(Lookup::Slug)
                .map_err(|_| {
                    errors.push(FieldError::new("category", "must be a category id or slug"));
                })
                .ok()
        });
        let price = price_range(&raw, &mut errors);
        let in_stock = match raw.in_stock.as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => {
                errors.push(FieldError::new("in_stock", "must be true or false"));
                None
            }
        };
        let sort = raw
            .sort
            .as_deref()
            .and_then(|s| ProductSort::parse(s).map_err(|e| errors.push(e)).ok());
        let filter = ProductFilter {
            search: raw.q,
            status,
            categories: None,
            price,
            in_stock,
            sort,
        };
        finish(
            page.map(|page| ProductQuery {
                page,
                filter,
                category,
            }),
            errors,
        )
    }
}

/// The orders' list: its page and filters; 422 naming each parameter that is invalid.
pub struct OrderQuery {
    /// Which page.
    pub page: PageRequest,
    /// `user_id` (a UUID) and `status` (an order status), when given.
    pub filter: OrderFilter,
}

impl<S: Send + Sync> FromRequestParts<S> for OrderQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let raw = RawListQuery::from_parts(parts)?;
        let mut errors = Vec::new();
        let page = page_request(&raw, parts, &mut errors);
        // Parameters are taken as sent: an empty or blank-padded value is not a UUID or a
        // status, and is 422 like any other text that is neither.
        let user_id = match raw.user_id.as_deref() {
            None => None,
            Some(s) => match Uuid::parse_str(s) {
                Ok(u) => Some(UserId::from_uuid(u)),
                Err(_) => {
                    errors.push(FieldError::new("user_id", "must be a UUID"));
                    None
                }
            },
        };
        let status = match raw.status.as_deref() {
            None => None,
            Some(s) => OrderStatus::parse(s).map_err(|e| errors.push(e)).ok(),
        };
        let filter = OrderFilter { user_id, status };
        finish(page.map(|page| OrderQuery { page, filter }), errors)
    }
}

/// The event log's list: its page and the `type` filter, taken as sent (an empty or unknown
/// type is 422 on `type`).
pub struct EventQuery {
    /// Which page.
    pub page: PageRequest,
    /// Only events of this type, when given.
    pub event_type: Option<EventType>,
}

impl<S: Send + Sync> FromRequestParts<S> for EventQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let raw = RawListQuery::from_parts(parts)?;
        let mut errors = Vec::new();
        let page = page_request(&raw, parts, &mut errors);
        let event_type = match raw.event_type.as_deref() {
            None => None,
            Some(s) => EventType::parse_as("type", s)
                .map_err(|e| errors.push(e))
                .ok(),
        };
        finish(page.map(|page| EventQuery { page, event_type }), errors)
    }
}

/// A webhook endpoint's deliveries: page and `status`, taken as sent (an empty or unknown
/// status is 422 on `status`).
pub struct DeliveryQuery {
    /// Which page.
    pub page: PageRequest,
    /// Only deliveries in this status, when given.
    pub status: Option<DeliveryStatus>,
}

impl<S: Send + Sync> FromRequestParts<S> for DeliveryQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let raw = RawListQuery::from_parts(parts)?;
        let mut errors = Vec::new();
        let page = page_request(&raw, parts, &mut errors);
        let status = match raw.status.as_deref() {
            None => None,
            Some(s) => DeliveryStatus::parse_as("status", s)
                .map_err(|e| errors.push(e))
                .ok(),
        };
        finish(page.map(|page| DeliveryQuery { page, status }), errors)
    }
}

/// The two ids of `/webhook-endpoints/{id}/deliveries/{delivery_id}`. Anything that is not a
/// UUID names no resource: 404.
pub struct DeliveryPath {
    /// The endpoint.
    pub endpoint_id: Uuid,
    /// The delivery.
    pub delivery_id: Uuid,
}

impl<S: Send + Sync> FromRequestParts<S> for DeliveryPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((endpoint, delivery)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        match (Uuid::parse_str(&endpoint), Uuid::parse_str(&delivery)) {
            (Ok(endpoint_id), Ok(delivery_id)) => Ok(DeliveryPath {
                endpoint_id,
                delivery_id,
            }),
            _ => Err(ApiError::not_found()),
        }
    }
}

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The `Idempotency-Key` header, when sent: 422 naming it unless it is visible ASCII of
/// 1 to 255 characters (surrounding blanks aside).
pub struct IdempotencyKeyHeader(pub Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKeyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(IDEMPOTENCY_KEY) else {
            return Ok(IdempotencyKeyHeader(None));
        };
        let text = value
            .to_str()
            .map_err(|_| ApiError::invalid_field("Idempotency-Key", "must be visible ASCII"))?;
        IdempotencyKey::parse(text)
            .map(|key| IdempotencyKeyHeader(Some(key)))
            .map_err(|e| ApiError::validation(vec![e]))
    }
}

const CART_TOKEN: HeaderName = HeaderName::from_static("x-cart-token");

/// The `X-Cart-Token` header, when sent (a value that is not text opens nothing).
pub struct CartTokenHeader(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for CartTokenHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(CartTokenHeader(
            parts
                .headers
                .get(CART_TOKEN)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned()),
        ))
    }
}

/// The two ids of `/carts/{id}/items/{item_id}`. Anything that is not a UUID names no
/// resource: 404.
pub struct CartItemPath {
    /// The cart.
    pub cart_id: domain::CartId,
    /// The line.
    pub item_id: domain::CartItemId,
}

impl<S: Send + Sync> FromRequestParts<S> for CartItemPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((cart, item)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        match (Uuid::parse_str(&cart), Uuid::parse_str(&item)) {
            (Ok(cart), Ok(item)) => Ok(CartItemPath {
                cart_id: domain::CartId::from_uuid(cart),
                item_id: domain::CartItemId::from_uuid(item),
            }),
            _ => Err(ApiError::not_found()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("application/json; charset=utf-8")));
        assert!(is_json(Some("application/merge-patch+json")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(None));
    }

    #[test]
    fn serde_positions_are_dropped() {
        assert_eq!(
            clean_message("invalid type: integer `5`, expected a string at line 1 column 9"),
            "invalid type: integer `5`, expected a string"
        );
    }
}
