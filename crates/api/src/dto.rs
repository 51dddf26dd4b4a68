//! Request and response bodies as they travel on the wire (snake_case, as docs/API.md shows).

use application::ordering::OrderItem;
use application::ports::{CategoryRef, CategoryView, ProductView};
use chrono::{DateTime, SecondsFormat, Utc};
use domain::{Image, Money, Page, Product, User};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// `Some(None)` for an explicit `null`, `None` for an absent field (PATCH-like updates).
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// RFC 3339 in UTC with microseconds, the precision both databases keep.
fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// Money: never a float. `amount` carries exactly the currency's minor digits.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MoneyDto {
    /// Decimal string; at most the currency's minor digits (2 for EUR/USD, 0 for JPY, 3 for
    /// KWD); not negative.
    pub amount: String,
    /// ISO 4217 code, one of those the shop prices in.
    pub currency: String,
}

/// Every ISO 4217 code the domain accepts, found by asking it (so the document cannot drift
/// from the list), grouped by minor digits.
fn currencies_by_digits() -> std::collections::BTreeMap<u8, Vec<&'static str>> {
    let mut by_digits = std::collections::BTreeMap::<u8, Vec<&'static str>>::new();
    for a in b'A'..=b'Z' {
        for b in b'A'..=b'Z' {
            for c in b'A'..=b'Z' {
                let code = [a, b, c];
                let code = std::str::from_utf8(&code).unwrap_or_default();
                if let Ok(currency) = domain::Currency::parse(code) {
                    by_digits
                        .entry(currency.minor_digits())
                        .or_default()
                        .push(currency.code());
                }
            }
        }
    }
    by_digits
}

/// `{amount, currency}` as one of a schema per number of minor digits: the amount's pattern
/// then says exactly what the currency allows (`1500` in JPY, `19.99` in EUR, `1.250` in KWD),
/// and below [`domain::Money::MAX_MINOR`].
impl utoipa::PartialSchema for MoneyDto {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        let mut one_of = OneOfBuilder::new()
            .description(Some(
                "Money: a decimal string `amount` with at most the currency's minor digits \
                 (not negative), and its ISO 4217 `currency`.",
            ))
            .examples([serde_json::json!({"amount": "19.99", "currency": "EUR"})]);
        for (digits, codes) in currencies_by_digits() {
            // At most 10^15 - 1 minor units, below `Money::MAX_MINOR` (10^15).
            let whole = 15 - usize::from(digits);
            let pattern = if digits == 0 {
                format!("^[0-9]{{1,{whole}}}$")
            } else {
                format!("^[0-9]{{1,{whole}}}(\\.[0-9]{{1,{digits}}})?$")
            };
            one_of = one_of.item(
                ObjectBuilder::new()
                    .title(Some(format!("Money with {digits} minor digits")))
                    .property(
                        "amount",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .description(Some(format!(
                                "Decimal string, at most {digits} digits after the point"
                            )))
                            .pattern(Some(pattern)),
                    )
                    .property(
                        "currency",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .description(Some("ISO 4217 code"))
                            .enum_values(Some(codes)),
                    )
                    .required("amount")
                    .required("currency"),
            );
        }
        one_of.into()
    }
}

impl ToSchema for MoneyDto {
    fn name() -> std::borrow::Cow<'static, str> {
        "Money".into()
    }
}

/// An assigned ISO 3166-1 alpha-2 code, every one the domain accepts (upper case is how the
/// shop answers; lower case is accepted too).
pub struct CountryCodeSchema;

impl utoipa::PartialSchema for CountryCodeSchema {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let mut codes = Vec::new();
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let code = [a, b];
                let code = std::str::from_utf8(&code).unwrap_or_default().to_owned();
                if domain::CountryCode::parse(&code).is_ok() {
                    codes.push(code);
                }
            }
        }
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("ISO 3166-1 alpha-2 country code"))
            .enum_values(Some(codes))
            .examples(["DE"])
            .into()
    }
}

impl ToSchema for CountryCodeSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        "CountryCode".into()
    }
}

/// Where an order is in its life.
#[derive(ToSchema)]
#[schema(as = OrderStatus, rename_all = "lowercase")]
pub enum OrderStatusName {
    /// Placed, stock taken, awaiting payment.
    Pending,
    /// Paid.
    Paid,
    /// Sent.
    Shipped,
    /// Arrived.
    Delivered,
    /// Cancelled; its stock went back.
    Cancelled,
}

/// Where an order's money is.
#[derive(ToSchema)]
#[schema(as = PaymentStatus, rename_all = "lowercase")]
pub enum PaymentStatusName {
    /// Nothing received yet.
    Unpaid,
    /// The order's amount was received.
    Paid,
    /// The amount went back to the customer.
    Refunded,
}

/// A role of an account.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Role {
    /// A customer.
    User,
    /// A shop operator.
    Admin,
}

/// The token type of a sign-in.
#[derive(ToSchema)]
pub enum TokenType {
    /// An RFC 6750 bearer token.
    Bearer,
}

/// The state of the service.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Serving.
    Ok,
    /// A dependency is down.
    Unavailable,
    /// Shutting down (after SIGTERM).
    Stopping,
}

/// The type of an image, as known from its bytes.
#[derive(ToSchema)]
pub enum ImageContentType {
    /// JPEG.
    #[schema(rename = "image/jpeg")]
    Jpeg,
    /// PNG.
    #[schema(rename = "image/png")]
    Png,
    /// WebP.
    #[schema(rename = "image/webp")]
    Webp,
    /// GIF.
    #[schema(rename = "image/gif")]
    Gif,
}

impl From<Money> for MoneyDto {
    fn from(m: Money) -> Self {
        Self {
            amount: m.amount_string(),
            currency: m.currency().code().to_owned(),
        }
    }
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// E-mail address (stored lower-cased); at most 254 characters.
    #[schema(
        example = "ann@example.com",
        format = "email",
        min_length = 3,
        max_length = 254
    )]
    pub email: String,
    /// 8..=1024 characters.
    #[schema(example = "correct horse battery", min_length = 8, max_length = 1024)]
    pub password: String,
    /// 3..=64 of a-z, 0-9, `.`, `_`, `-`, `@`, `+` (upper case is lower-cased); the e-mail
    /// address when omitted, which must then fit these rules.
    #[schema(
        example = "ann",
        min_length = 3,
        max_length = 64,
        pattern = r"^[A-Za-z0-9._@+-]{3,64}$"
    )]
    pub username: Option<String>,
    /// Given name, at most 100 characters; blank means none.
    #[schema(
        example = "Ann",
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub first_name: Option<String>,
    /// Family name, at most 100 characters; blank means none.
    #[schema(
        example = "Smith",
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub last_name: Option<String>,
}

/// Credentials.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Username or e-mail address.
    #[schema(example = "ann@example.com", min_length = 1)]
    pub username: String,
    /// Password.
    #[schema(example = "correct horse battery", min_length = 1)]
    pub password: String,
}

/// A refresh token to spend or revoke.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token from login or the last refresh.
    #[schema(
        example = "2f6c1a0e-3c1d-4a8b-9a57-0c1d2e3f4a5b.Yh3kq...",
        min_length = 1
    )]
    pub refresh_token: String,
}

/// Tokens after sign-in or refresh.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokensResponse {
    /// JWT for `Authorization: Bearer`.
    #[schema(example = "eyJhbGciOiJFZERTQSIsImtpZCI6IjEifQ.eyJzdWIiOiIuLi4ifQ.c2ln")]
    pub access_token: String,
    /// Spend at `/auth/refresh` for a new pair; single use.
    #[schema(example = "2f6c1a0e-3c1d-4a8b-9a57-0c1d2e3f4a5b.Yh3kq...")]
    pub refresh_token: String,
    /// Always `Bearer`.
    #[schema(value_type = TokenType, example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 300)]
    pub expires_in: u64,
    /// Seconds until the refresh token expires.
    #[schema(example = 2_592_000)]
    pub refresh_expires_in: u64,
}

impl From<application::ports::TokenPair> for TokensResponse {
    fn from(t: application::ports::TokenPair) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
            refresh_expires_in: t.refresh_expires_in,
        }
    }
}

/// An account.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    /// Id (the identity provider's subject).
    #[schema(example = "0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d")]
    pub id: Uuid,
    /// E-mail address.
    #[schema(example = "ann@example.com", format = "email")]
    pub email: String,
    /// Sign-in name.
    #[schema(example = "ann")]
    pub username: String,
    /// Given name, or null.
    #[schema(required = true, example = "Ann")]
    pub first_name: Option<String>,
    /// Family name, or null.
    #[schema(required = true, example = json!(null))]
    pub last_name: Option<String>,
    /// `user`, and `admin` for operators.
    #[schema(value_type = Vec<Role>, example = json!(["user"]))]
    pub roles: Vec<String>,
    /// Created.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserResponse {
    fn from(u: User) -> Self {
        Self {
            id: u.id.as_uuid(),
            email: u.email.as_str().to_owned(),
            username: u.username.as_str().to_owned(),
            first_name: u.first_name.map(|n| n.as_str().to_owned()),
            last_name: u.last_name.map(|n| n.as_str().to_owned()),
            roles: u.roles.names().map(str::to_owned).collect(),
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// Profile changes; absent fields stay, `null` clears. Other fields are ignored: the identity
/// provider owns e-mail, username, password and roles.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateMeRequest {
    /// Given name (at most 100 characters; blank or `null` clears it).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "Ann", max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub first_name: Option<Option<String>>,
    /// Family name (at most 100 characters; blank or `null` clears it).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = json!(null), max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub last_name: Option<Option<String>>,
}

/// A product image.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImageResponse {
    /// Id.
    #[schema(example = "0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d")]
    pub id: Uuid,
    /// Where anyone fetches the bytes: a path on this server, `/api/v1/files/{id}`.
    #[schema(example = "/api/v1/files/0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d")]
    pub url: String,
    /// `image/jpeg`, `image/png`, `image/webp` or `image/gif`, as known from the bytes.
    #[schema(value_type = ImageContentType, example = "image/png")]
    pub content_type: String,
    /// Length in bytes.
    #[schema(example = 48213)]
    pub size: u64,
}

impl From<Image> for ImageResponse {
    fn from(i: Image) -> Self {
        Self {
            id: i.id.as_uuid(),
            url: format!("/api/v1/files/{}", i.id),
            content_type: i.content_type.content_type().to_owned(),
            size: i.size,
        }
    }
}

/// The bytes of an image, as served.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ImageBytes(pub Vec<u8>);

/// The body of an image upload: the field `file`. Other fields may be sent and are ignored (the
/// file is stored as it streams in, so the body is not read past it to look for them).
#[derive(ToSchema)]
pub struct ImageUpload {
    /// The image: JPEG, PNG, WebP or GIF (known by its bytes; the part's file name and content
    /// type are ignored), at most `MAX_UPLOAD_BYTES` (10 MiB by default).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// A new product.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateProductRequest {
    /// The SKU of its one variant: unique across all variants; 1..=64 of letters, digits,
    /// `-`, `_`, `.`. Required without `variants` (422 on `sku`), refused with them (422).
    #[schema(
        example = "MUG-001",
        min_length = 1,
        max_length = 64,
        pattern = r"^[A-Za-z0-9._-]{1,64}$",
        nullable = false
    )]
    pub sku: Option<String>,
    /// 1..=200 characters, not blank, no control characters.
    #[schema(
        example = "Stoneware mug",
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// At most 10,000 characters; line breaks and tabs are the only control characters allowed.
    #[schema(
        example = "Holds 350 ml. Dishwasher safe.",
        max_length = 10000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub description: Option<String>,
    /// Unit price of its one variant. Required without `variants` (422 on `price`), refused
    /// with them (422).
    #[schema(nullable = false)]
    pub price: Option<MoneyDto>,
    /// Units on hand of its one variant, 0..=1,000,000,000. Required without `variants` (422 on
    /// `stock`), refused with them (422).
    #[schema(example = 100, minimum = 0, maximum = 1_000_000_000, nullable = false)]
    pub stock: Option<i64>,
    /// Its options, 0..=3, names unique ignoring case, each with 1..=100 values unique
    /// ignoring case; with options, `variants` is required (422 on `variants`).
    #[schema(max_items = 3, nullable = false)]
    pub options: Option<Vec<ProductOptionRequest>>,
    /// Its variants, 1..=100, instead of `sku`, `price` and `stock`: each names one value of
    /// every option (`option_values`), no two the same combination (422 on
    /// `variants[i].option_values`), all priced in one currency (422 on `variants[i].price`);
    /// a SKU taken by any variant: 409.
    #[schema(min_items = 1, max_items = 100, nullable = false)]
    pub variants: Option<Vec<VariantRequest>>,
    /// Unique URL name: 1..=100 of `a-z`, `0-9`, `-`, not shaped like a UUID; made from the
    /// name when absent (`Blue Mug!` -> `blue-mug`, `blue-mug-2` when taken). A given slug that
    /// is taken: 409.
    #[schema(
        example = "stoneware-mug",
        min_length = 1,
        max_length = 100,
        pattern = r"^[a-z0-9-]{1,100}$"
    )]
    pub slug: Option<String>,
    /// `draft`, `active` (the default) or `archived`; only active products are shown to
    /// anyone but an admin, and only they can be ordered.
    pub status: Option<ProductStatusDto>,
    /// The categories it is in (each must exist, else 422 on `category_ids`).
    #[schema(max_items = 100)]
    pub category_ids: Option<Vec<Uuid>>,
}

/// An option of a new product.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProductOptionRequest {
    /// 1..=50 characters, no control characters.
    #[schema(example = "Size", min_length = 1, max_length = 50)]
    pub name: String,
    /// 1..=100 values of 1..=50 characters each, in the order to show them.
    #[schema(example = json!(["S", "M", "L"]), min_items = 1, max_items = 100)]
    pub values: Vec<String>,
}

/// A variant of a new product, or one added to a product.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VariantRequest {
    /// Unique across all variants; 1..=64 of letters, digits, `-`, `_`, `.`.
    #[schema(
        example = "TEE-M-BLUE",
        min_length = 1,
        max_length = 64,
        pattern = r"^[A-Za-z0-9._-]{1,64}$"
    )]
    pub sku: String,
    /// One value of every option of the product, by option name (names and values as the
    /// options list them); `{}` (the default, also for `null`) for a product without options.
    #[schema(example = json!({"Size": "M"}))]
    #[serde(default)]
    pub option_values: Option<std::collections::BTreeMap<String, String>>,
    /// Unit price.
    pub price: MoneyDto,
    /// A price to show struck through, in the same currency; null or absent for none.
    pub compare_at_price: Option<MoneyDto>,
    /// Units on hand, 0..=1,000,000,000.
    #[schema(example = 10, minimum = 0, maximum = 1_000_000_000)]
    pub stock: i64,
    /// Where it sorts among the product's variants (then by id), 0..=1,000,000; 0 when absent
    /// or `null`.
    #[schema(example = 0, minimum = 0, maximum = 1_000_000)]
    pub position: Option<i64>,
}

/// A variant in the whole new set `PUT /products/{id}` takes: with the `id` of one of the
/// product's variants it keeps that variant, without one it is new.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProductVariantRequest {
    /// One of the product's variants (another: 422 on `variants[i].id`); absent or `null` for
    /// a new one.
    #[schema(example = "0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d")]
    pub id: Option<Uuid>,
    /// Unique across all variants; 1..=64 of letters, digits, `-`, `_`, `.`.
    #[schema(
        example = "TEE-M-BLUE",
        min_length = 1,
        max_length = 64,
        pattern = r"^[A-Za-z0-9._-]{1,64}$"
    )]
    pub sku: String,
    /// One value of every option of the product, by option name; `{}` (the default, also for
    /// `null`) for a product without options.
    #[schema(example = json!({"Size": "M"}))]
    #[serde(default)]
    pub option_values: Option<std::collections::BTreeMap<String, String>>,
    /// Unit price.
    pub price: MoneyDto,
    /// A price to show struck through, in the same currency; null or absent for none.
    pub compare_at_price: Option<MoneyDto>,
    /// Units on hand, 0..=1,000,000,000.
    #[schema(example = 10, minimum = 0, maximum = 1_000_000_000)]
    pub stock: i64,
    /// Where it sorts among the product's variants (then by id), 0..=1,000,000; 0 when absent
    /// or `null`.
    #[schema(example = 0, minimum = 0, maximum = 1_000_000)]
    pub position: Option<i64>,
}

/// Variant changes: any subset of its fields; `compare_at_price: null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateVariantRequest {
    /// New SKU, unique across all variants (taken: 409).
    #[schema(
        example = "TEE-M-RED",
        min_length = 1,
        max_length = 64,
        pattern = r"^[A-Za-z0-9._-]{1,64}$"
    )]
    pub sku: Option<String>,
    /// New combination: one value of every option of the product, by option name; another
    /// variant's combination: 422.
    #[schema(example = json!({"Size": "M"}))]
    pub option_values: Option<std::collections::BTreeMap<String, String>>,
    /// New price, in the currency of the product's other variants.
    pub price: Option<MoneyDto>,
    /// New struck-through price; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<MoneyDto>)]
    pub compare_at_price: Option<Option<MoneyDto>>,
    /// New stock level, 0..=1,000,000,000.
    #[schema(example = 25, minimum = 0, maximum = 1_000_000_000)]
    pub stock: Option<i64>,
    /// New position, 0..=1,000,000.
    #[schema(example = 1, minimum = 0, maximum = 1_000_000)]
    pub position: Option<i64>,
}

/// Product changes: any subset of the create fields; `description: null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateProductRequest {
    /// New SKU (as on create).
    #[schema(
        example = "MUG-002",
        min_length = 1,
        max_length = 64,
        pattern = r"^[A-Za-z0-9._-]{1,64}$"
    )]
    pub sku: Option<String>,
    /// New name (as on create).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: Option<String>,
    /// New description (as on create); `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 10000, pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$")]
    pub description: Option<Option<String>>,
    /// New price.
    pub price: Option<MoneyDto>,
    /// New stock level, 0..=1,000,000,000.
    #[schema(example = 80, minimum = 0, maximum = 1_000_000_000)]
    pub stock: Option<i64>,
    /// New slug (as on create; a taken one: 409).
    #[schema(min_length = 1, max_length = 100, pattern = r"^[a-z0-9-]{1,100}$")]
    pub slug: Option<String>,
    /// New status.
    pub status: Option<ProductStatusDto>,
    /// The categories it is in, all of them (replacing the ones it was in; `[]` takes it out
    /// of every category).
    #[schema(max_items = 100)]
    pub category_ids: Option<Vec<Uuid>>,
    /// Its new options, all of them (as on create); only with `variants` (else 422 on
    /// `variants`). `null` is the same as absent.
    #[schema(max_items = 3)]
    pub options: Option<Vec<ProductOptionRequest>>,
    /// Its whole new set of variants, 1..=100, checked as on create against `options` (or
    /// the product's options when `options` is absent): one with the `id` of a variant of the
    /// product keeps it, one without is new, and the product's variants not listed are
    /// deleted (their SKUs become free). Not with `sku`, `price` or `stock` (422). `null` is
    /// the same as absent.
    #[schema(min_items = 1, max_items = 100)]
    pub variants: Option<Vec<ProductVariantRequest>>,
}

/// Where a product is in its life: `draft` and `archived` products are seen by admins only.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[schema(as = ProductStatus)]
pub enum ProductStatusDto {
    /// Being prepared.
    Draft,
    /// On sale.
    Active,
    /// Withdrawn.
    Archived,
}

impl ProductStatusDto {
    /// The name the domain parses.
    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatusDto::Draft => "draft",
            ProductStatusDto::Active => "active",
            ProductStatusDto::Archived => "archived",
        }
    }
}

impl From<domain::ProductStatus> for ProductStatusDto {
    fn from(s: domain::ProductStatus) -> Self {
        match s {
            domain::ProductStatus::Draft => ProductStatusDto::Draft,
            domain::ProductStatus::Active => ProductStatusDto::Active,
            domain::ProductStatus::Archived => ProductStatusDto::Archived,
        }
    }
}

/// The order of a product list.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[schema(as = ProductSort)]
pub enum ProductSortDto {
    /// Newest first (the default).
    Newest,
    /// Oldest first.
    Oldest,
    /// Cheapest first.
    PriceAsc,
    /// Dearest first.
    PriceDesc,
    /// By name, A to Z.
    NameAsc,
    /// Best matches first (the default with `q`).
    Relevance,
}

/// A category as a product names it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryRefResponse {
    /// Id.
    #[schema(example = "0192f0c4-3a2b-7c1d-8e0f-a1b2c3d4e5f6")]
    pub id: Uuid,
    /// Name.
    #[schema(example = "Mugs")]
    pub name: String,
    /// Slug.
    #[schema(example = "mugs")]
    pub slug: String,
}

impl From<CategoryRef> for CategoryRefResponse {
    fn from(c: CategoryRef) -> Self {
        Self {
            id: c.id.as_uuid(),
            name: c.name,
            slug: c.slug.as_str().to_owned(),
        }
    }
}

/// A product of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductResponse {
    /// Id.
    #[schema(example = "0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d")]
    pub id: Uuid,
    /// Stock-keeping unit.
    #[schema(example = "MUG-001")]
    pub sku: String,
    /// Name.
    #[schema(example = "Stoneware mug")]
    pub name: String,
    /// Unique URL name; `GET /products/{slug}` finds it too.
    #[schema(example = "stoneware-mug")]
    pub slug: String,
    /// Draft, active or archived.
    pub status: ProductStatusDto,
    /// Its categories, by position then name.
    pub categories: Vec<CategoryRefResponse>,
    /// Description, or null.
    #[schema(required = true, example = "Holds 350 ml. Dishwasher safe.")]
    pub description: Option<String>,
    /// The lowest price of its variants (the "from" price).
    pub price: MoneyDto,
    /// Units on hand of all its variants together (up to 100 variants of 1,000,000,000).
    #[schema(example = 100, maximum = 100_000_000_000_u64)]
    pub stock: u64,
    /// Its options (0 to 3), in order; none for a product sold in one variant.
    #[schema(max_items = 3)]
    pub options: Vec<ProductOptionDto>,
    /// The ways it is sold (1 to 100), by position then id; `sku` above is the first one's.
    #[schema(min_items = 1, max_items = 100)]
    pub variants: Vec<VariantResponse>,
    /// Images, in upload order.
    pub images: Vec<ImageResponse>,
    /// Created.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// An option of a product, such as `Size`, with the values it offers.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ProductOption)]
pub struct ProductOptionDto {
    /// Its name, unique among the product's options ignoring case.
    #[schema(example = "Size", min_length = 1, max_length = 50)]
    pub name: String,
    /// Its values (1 to 100), in the order to show them.
    #[schema(example = json!(["S", "M", "L"]), min_items = 1, max_items = 100)]
    pub values: Vec<String>,
}

/// One way a product is sold: one value of each of its options, with its own SKU, price and
/// stock.
#[derive(Debug, Serialize, ToSchema)]
pub struct VariantResponse {
    /// Id (the one variant of a product without options has the product's id).
    #[schema(example = "0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d")]
    pub id: Uuid,
    /// Stock-keeping unit, unique across all variants.
    #[schema(example = "MUG-001")]
    pub sku: String,
    /// Its option values joined by ` / ` in option order (`M / Blue`), or `Default Title` for
    /// a product without options.
    #[schema(example = "Default Title")]
    pub title: String,
    /// The value of each option of the product, by option name; empty for a product without
    /// options.
    #[schema(example = json!({}))]
    pub option_values: std::collections::BTreeMap<String, String>,
    /// Unit price.
    pub price: MoneyDto,
    /// The price shown struck through, in the same currency, or null.
    #[schema(required = true)]
    pub compare_at_price: Option<MoneyDto>,
    /// Units on hand.
    #[schema(example = 100, maximum = 1_000_000_000)]
    pub stock: u32,
    /// Where it sorts among the product's variants (then by id).
    #[schema(example = 0, maximum = 1_000_000)]
    pub position: u32,
}

impl From<&domain::Variant> for VariantResponse {
    fn from(v: &domain::Variant) -> Self {
        Self {
            id: v.id.as_uuid(),
            sku: v.sku.as_str().to_owned(),
            title: v.title(),
            option_values: v
                .option_values
                .pairs()
                .iter()
                .map(|(n, x)| (n.as_str().to_owned(), x.as_str().to_owned()))
                .collect(),
            price: v.price.into(),
            compare_at_price: v.compare_at_price.map(Into::into),
            stock: v.stock.get(),
            position: v.position.get(),
        }
    }
}

impl From<ProductView> for ProductResponse {
    fn from(v: ProductView) -> Self {
        let mut response = Self::from(v.product);
        response.images = v.images.into_iter().map(Into::into).collect();
        response.categories = v.categories.into_iter().map(Into::into).collect();
        response
    }
}

/// A product without images or categories.
impl From<Product> for ProductResponse {
    fn from(p: Product) -> Self {
        Self {
            id: p.id.as_uuid(),
            sku: p.sku().as_str().to_owned(),
            name: p.name.as_str().to_owned(),
            slug: p.slug.as_str().to_owned(),
            status: p.status.into(),
            categories: Vec::new(),
            description: p.description.as_ref().map(|d| d.as_str().to_owned()),
            price: p.price().into(),
            stock: p.stock(),
            options: p
                .variants
                .options()
                .as_slice()
                .iter()
                .map(|o| ProductOptionDto {
                    name: o.name().as_str().to_owned(),
                    values: o.values().iter().map(|x| x.as_str().to_owned()).collect(),
                })
                .collect(),
            variants: p
                .variants
                .by_position()
                .into_iter()
                .map(VariantResponse::from)
                .collect(),
            images: Vec::new(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

macro_rules! page_type {
    ($(#[$doc:meta])* $name:ident, $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            /// This page's items.
            pub items: Vec<$item>,
            /// 1-based page number.
            #[schema(example = 1, minimum = 1)]
            pub page: u32,
            /// Page size asked for.
            #[schema(example = 20, minimum = 1, maximum = 100)]
            pub per_page: u32,
            /// Items across all pages. Exact up to 10,000; above that a list that counts its
            /// matches (a search, or a filter other than `status`) stops counting at 10,001 and
            /// says `total_is_estimate: true`: then `total` is a lower bound (follow
            /// `next_cursor` to the end). An unfiltered list's total is always exact.
            #[schema(example = 1)]
            pub total: u64,
            /// `true` when `total` is an estimate (a lower bound, see `total`); absent otherwise.
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            #[schema(required = false, example = true)]
            pub total_is_estimate: bool,
            /// Pages in all (0 for an empty list).
            #[schema(example = 1)]
            pub total_pages: u64,
            /// Opaque cursor of the next page (send it back as `cursor`); `null` on the last
            /// page. It is bound to this list, its filters and its sort.
            #[schema(required = true, example = "AfsbX0v4m0QBaQAAAAAAAAAqdaZ2gGBVMgE", min_length = 1)]
            pub next_cursor: Option<String>,
        }

        impl<T: Into<$item>> From<Page<T>> for $name {
            fn from(p: Page<T>) -> Self {
                let total_pages = p.total_pages();
                let next_cursor = p.next_cursor();
                Self {
                    next_cursor,
                    page: p.request.page(),
                    per_page: p.request.per_page(),
                    total: p.total,
                    total_is_estimate: p.total_is_estimate,
                    total_pages,
                    items: p.items.into_iter().map(Into::into).collect(),
                }
            }
        }
    };
}

page_type!(
    /// A page of products, newest first.
    ProductPage,
    ProductResponse
);
page_type!(
    /// A page of accounts, newest first.
    UserPage,
    UserResponse
);
page_type!(
    /// A page of events, newest first.
    EventPage,
    EventResponse
);

/// The kinds of event.
#[derive(Serialize, ToSchema)]
#[schema(as = EventType)]
pub enum EventTypeName {
    /// An order was placed; `data` is the Order.
    #[serde(rename = "order.placed")]
    OrderPlaced,
    /// An order was paid; `data` is the Order.
    #[serde(rename = "order.paid")]
    OrderPaid,
    /// An order's status changed (cancellation included); `data` is the Order after it.
    #[serde(rename = "order.status_changed")]
    OrderStatusChanged,
    /// An order was cancelled; `data` is the Order.
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    /// An order was refunded; `data` is the Order.
    #[serde(rename = "order.refunded")]
    OrderRefunded,
    /// A product was created; `data` is the Product.
    #[serde(rename = "product.created")]
    ProductCreated,
    /// A product was changed; `data` is the Product after it.
    #[serde(rename = "product.updated")]
    ProductUpdated,
    /// A product was deleted; `data` is the Product as it was.
    #[serde(rename = "product.deleted")]
    ProductDeleted,
    /// A product's stock fell to the low-stock threshold or below; `data` is the Product.
    #[serde(rename = "variant.low_stock")]
    VariantLowStock,
    /// An account was registered; `data` is the User.
    #[serde(rename = "user.registered")]
    UserRegistered,
}

/// Something that happened, as the outbox keeps it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventResponse {
    /// Id (also the `webhook-id` of its deliveries).
    #[schema(example = "0192f0c5-1d2e-7f30-8a41-5b6c7d8e9f02")]
    pub id: Uuid,
    /// What happened.
    #[serde(rename = "type")]
    #[schema(value_type = EventTypeName, example = "order.placed")]
    pub event_type: String,
    /// The resource (Order, Product or User) as the API showed it at the moment of the event.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// When it happened.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
}

impl From<domain::Event> for EventResponse {
    fn from(e: domain::Event) -> Self {
        Self {
            id: e.id.as_uuid(),
            event_type: e.event_type.as_str().to_owned(),
            // Written by this service from its own responses; a row that is not JSON (it
            // cannot be) is shown as null rather than failing the whole page.
            data: serde_json::from_str(&e.data).unwrap_or(serde_json::Value::Null),
            created_at: e.created_at,
        }
    }
}

/// The resources as this API answers them, for the events' `data`.
#[derive(Debug, Default, Clone, Copy)]
pub struct ApiResources;

fn to_json<T: Serialize>(value: &T) -> String {
    // These types always serialize; `null` would only hide a bug, never a client's input.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

impl application::ports::ResourceJson for ApiResources {
    fn order(&self, order: &domain::Order) -> String {
        to_json(&OrderResponse::from(order.clone()))
    }

    fn product(&self, product: &ProductView) -> String {
        to_json(&ProductResponse::from(product.clone()))
    }

    fn user(&self, user: &User) -> String {
        to_json(&UserResponse::from(user.clone()))
    }
}

/// A new category.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateCategoryRequest {
    /// 1..=200 characters, not blank, no control characters.
    #[schema(
        example = "Mugs",
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// Unique URL name: 1..=100 of `a-z`, `0-9`, `-`, not shaped like a UUID; made from the
    /// name when absent (a number appended on a clash). A given slug that is taken: 409.
    #[schema(
        example = "mugs",
        min_length = 1,
        max_length = 100,
        pattern = r"^[a-z0-9-]{1,100}$"
    )]
    pub slug: Option<String>,
    /// The category it sits in (it must exist, else 422 on `parent_id`); absent or null: at the top.
    pub parent_id: Option<Uuid>,
    /// At most 10,000 characters; line breaks and tabs are the only control characters allowed.
    #[schema(
        example = "Cups and mugs of every size.",
        max_length = 10000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub description: Option<String>,
    /// Sort key, 0..=1,000,000 (default 0); lists go by position, then name.
    #[schema(example = 1, minimum = 0, maximum = 1_000_000)]
    pub position: Option<i64>,
}

/// Category changes: any subset of the create fields; `parent_id: null` moves it to the top,
/// `description: null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateCategoryRequest {
    /// New name.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: Option<String>,
    /// New slug (a taken one: 409).
    #[schema(min_length = 1, max_length = 100, pattern = r"^[a-z0-9-]{1,100}$")]
    pub slug: Option<String>,
    /// New parent; `null` moves it to the top. The category itself or one below it: 422.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
    /// New description; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 10000, pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$")]
    pub description: Option<Option<String>>,
    /// New position, 0..=1,000,000.
    #[schema(example = 2, minimum = 0, maximum = 1_000_000)]
    pub position: Option<i64>,
}

/// A category of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryResponse {
    /// Id.
    #[schema(example = "0192f0c4-3a2b-7c1d-8e0f-a1b2c3d4e5f6")]
    pub id: Uuid,
    /// Name.
    #[schema(example = "Mugs")]
    pub name: String,
    /// Unique URL name; `GET /categories/{slug}` finds it too.
    #[schema(example = "mugs")]
    pub slug: String,
    /// The category it sits in, or null at the top.
    #[schema(required = true)]
    pub parent_id: Option<Uuid>,
    /// Description, or null.
    #[schema(required = true, example = "Cups and mugs of every size.")]
    pub description: Option<String>,
    /// Sort key.
    #[schema(example = 1, minimum = 0, maximum = 1_000_000)]
    pub position: u32,
    /// Active products in it and below it (each counted once).
    #[schema(example = 12, minimum = 0)]
    pub product_count: u64,
    /// Created.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<CategoryView> for CategoryResponse {
    fn from(v: CategoryView) -> Self {
        let c = v.category;
        Self {
            id: c.id.as_uuid(),
            name: c.name.as_str().to_owned(),
            slug: c.slug.as_str().to_owned(),
            parent_id: c.parent_id.map(|p| p.as_uuid()),
            description: c.description.map(|d| d.as_str().to_owned()),
            position: c.position.get(),
            product_count: v.product_count,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// Every category, by position then name.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryList {
    /// The categories.
    pub items: Vec<CategoryResponse>,
    /// Always `null`: the list comes whole, on one page (a field every list answers).
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// Health of the service and its dependencies.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok`, `unavailable`, or `stopping` (after SIGTERM).
    #[schema(value_type = HealthStatus, example = "ok")]
    pub status: &'static str,
    /// Each dependency: `up` or `down`.
    #[schema(value_type = Object, example = json!({"database": "up", "identity_provider": "up", "file_store": "up"}))]
    pub checks: std::collections::BTreeMap<&'static str, &'static str>,
}

/// A postal address.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(as = AddressInput)]
pub struct AddressDto {
    /// Street and number; 1..=200 characters, not blank.
    #[schema(
        example = "Hauptstraße 1",
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub line1: String,
    /// More of it; at most 200 characters, blank or null for none.
    #[schema(example = json!(null), max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub line2: Option<String>,
    /// City; 1..=200 characters, not blank.
    #[schema(
        example = "Berlin",
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub city: String,
    /// Postal code; 1..=200 characters, not blank.
    #[schema(
        example = "10115",
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code (an assigned one; lower case is accepted).
    #[schema(value_type = CountryCodeSchema, example = "DE")]
    pub country: String,
    /// State, province or region; at most 200 characters, blank or null for none.
    #[schema(example = json!(null), max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub state: Option<String>,
}

impl From<AddressDto> for domain::AddressInput {
    fn from(a: AddressDto) -> Self {
        Self {
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            postal_code: a.postal_code,
            country: a.country,
            state: a.state,
        }
    }
}

/// A postal address, as kept (trimmed; `country` upper case).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Address)]
pub struct AddressResponse {
    /// Street and number.
    #[schema(example = "Hauptstraße 1")]
    pub line1: String,
    /// More of it, or null.
    #[schema(required = true, example = json!(null))]
    pub line2: Option<String>,
    /// City.
    #[schema(example = "Berlin")]
    pub city: String,
    /// Postal code.
    #[schema(example = "10115")]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code.
    #[schema(value_type = CountryCodeSchema, example = "DE")]
    pub country: String,
    /// State, province or region, or null.
    #[schema(required = true, example = json!(null))]
    pub state: Option<String>,
}

impl From<&domain::Address> for AddressResponse {
    fn from(a: &domain::Address) -> Self {
        Self {
            line1: a.line1.clone(),
            line2: a.line2.clone(),
            city: a.city.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.as_str().to_owned(),
            state: a.state.clone(),
        }
    }
}

/// One line of a new order: it names exactly one of `variant_id` and `product_id` (422 on
/// both `items[i].variant_id` and `items[i].product_id` otherwise).
#[derive(Debug, Deserialize, ToSchema)]
pub struct OrderItemRequest {
    /// The variant to buy.
    #[schema(example = "0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d", nullable = false)]
    #[serde(default)]
    pub variant_id: Option<Uuid>,
    /// A product of exactly one variant, which stands for that variant (a product of more
    /// variants is 422 on `items[i].variant_id`: name the variant).
    #[schema(example = "0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d", nullable = false)]
    #[serde(default)]
    pub product_id: Option<Uuid>,
    /// 1..=1000 units (a variant listed twice: the sum).
    #[schema(example = 1, minimum = 1, maximum = 1000)]
    pub quantity: i64,
}

impl OrderItemRequest {
    /// What line `i` names.
    ///
    /// # Errors
    /// A `FieldError` on each of `items[i].variant_id` and `items[i].product_id` when the
    /// line names both a variant and a product, or neither.
    pub fn item(&self, i: usize) -> Result<OrderItem, Vec<domain::FieldError>> {
        match (self.variant_id, self.product_id) {
            (Some(v), None) => Ok(OrderItem::Variant(domain::VariantId::from_uuid(v))),
            (None, Some(p)) => Ok(OrderItem::Product(domain::ProductId::from_uuid(p))),
            _ => Err(["variant_id", "product_id"]
                .into_iter()
                .map(|f| {
                    domain::FieldError::new(
                        format!("items[{i}].{f}"),
                        "name exactly one of variant_id and product_id",
                    )
                })
                .collect()),
        }
    }
}

/// A new order. The same variant twice counts as one line with the summed quantity.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PlaceOrderRequest {
    /// 1..=100 lines.
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<OrderItemRequest>,
    /// Where it goes; optional.
    pub shipping_address: Option<AddressDto>,
}

/// A status change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OrderStatusRequest {
    /// The new status.
    #[schema(value_type = OrderStatusName, example = "paid")]
    pub status: String,
}

/// One line of an order: one variant of a product, with its sku, the product's name, the
/// variant's title and its price as they were when ordered.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderLineResponse {
    /// The product (it may since have changed or been deleted).
    #[schema(example = "0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d")]
    pub product_id: Uuid,
    /// The variant bought (for lines placed before products had variants: the product's id,
    /// which names its one variant).
    #[schema(example = "0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d")]
    pub variant_id: Uuid,
    /// The variant's title when ordered (`M / Blue`, or `Default Title`).
    #[schema(example = "Default Title")]
    pub variant_title: String,
    /// SKU (the variant's) when ordered.
    #[schema(example = "MUG-001")]
    pub sku: String,
    /// Name when ordered.
    #[schema(example = "Stoneware mug")]
    pub name: String,
    /// Price when ordered.
    pub unit_price: MoneyDto,
    /// Units.
    #[schema(example = 2, minimum = 1, maximum = 1000)]
    pub quantity: u32,
    /// `unit_price × quantity`.
    pub line_total: MoneyDto,
}

/// The shipping an order was checked out with.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderShippingResponse {
    /// The shipping option (it may since have changed or gone).
    pub option_id: Uuid,
    /// Its name then.
    #[schema(example = "Standard")]
    pub name: String,
    /// What it charged.
    pub amount: MoneyDto,
}

/// An order. `total = subtotal - discount_total + shipping_total + tax_total`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderResponse {
    /// Id.
    #[schema(example = "0192f0c5-1d2e-7f30-8a41-5b6c7d8e9f01")]
    pub id: Uuid,
    /// Who placed it; null for a guest's order.
    #[schema(required = true, example = "0192f0c4-0a1b-7c2d-8e3f-405162738495")]
    pub user_id: Option<Uuid>,
    /// Where it is in its life.
    #[schema(value_type = OrderStatusName, example = "pending")]
    pub status: &'static str,
    /// Lines, one per product.
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<OrderLineResponse>,
    /// The amount to pay.
    pub total: MoneyDto,
    /// Where it goes, or null.
    #[schema(required = true)]
    pub shipping_address: Option<AddressResponse>,
    /// Where the confirmation goes (checkout), or null.
    #[schema(required = true, example = "ada@example.com")]
    pub email: Option<String>,
    /// Sum of the lines.
    pub subtotal: MoneyDto,
    /// Taken off by the discount code.
    pub discount_total: MoneyDto,
    /// Shipping charged.
    pub shipping_total: MoneyDto,
    /// Tax charged.
    pub tax_total: MoneyDto,
    /// The discount code used, or null.
    #[schema(required = true, example = "SUMMER-10")]
    pub discount_code: Option<String>,
    /// The shipping chosen at checkout, or null.
    #[schema(required = true)]
    pub shipping_option: Option<OrderShippingResponse>,
    /// Where the order's money is: `unpaid`, `paid` (with the order, by an admin or the
    /// payment provider) or `refunded` (a paid order cancelled).
    #[schema(value_type = PaymentStatusName, example = "unpaid")]
    pub payment_status: &'static str,
    /// Placed.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// A guest's order token, only in the answer that placed it: send it as `X-Order-Token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "dGhpcyBpcyBub3QgYSByZWFsIHRva2VuIGF0IGFsbA")]
    pub token: Option<String>,
}

impl From<domain::Order> for OrderResponse {
    fn from(o: domain::Order) -> Self {
        let d = o.details();
        Self {
            id: o.id().as_uuid(),
            user_id: Some(o.user_id().as_uuid()).filter(|u| !u.is_nil()),
            status: o.status().as_str(),
            items: o
                .lines()
                .iter()
                .map(|l| OrderLineResponse {
                    product_id: l.product_id.as_uuid(),
                    variant_id: l.variant_id.as_uuid(),
                    variant_title: l.variant_title.clone(),
                    sku: l.sku.as_str().to_owned(),
                    name: l.name.as_str().to_owned(),
                    unit_price: l.unit_price.into(),
                    quantity: l.quantity.get(),
                    line_total: l.line_total.into(),
                })
                .collect(),
            total: o.total().into(),
            shipping_address: o.shipping_address().map(Into::into),
            email: d.email.as_ref().map(|e| e.as_str().to_owned()),
            subtotal: d.subtotal.into(),
            discount_total: d.discount_total.into(),
            shipping_total: d.shipping_total.into(),
            tax_total: d.tax_total.into(),
            discount_code: d.discount_code.clone(),
            shipping_option: d.shipping_option.as_ref().map(|s| OrderShippingResponse {
                option_id: s.option_id.as_uuid(),
                name: s.name.clone(),
                amount: s.amount.into(),
            }),
            payment_status: d.payment_status.as_str(),
            created_at: o.created_at(),
            updated_at: o.updated_at(),
            token: None,
        }
    }
}

page_type!(
    /// A page of orders, newest first.
    OrderPage,
    OrderResponse
);

/// A JSON Web Key Set (RFC 7517).
#[derive(ToSchema)]
pub struct Jwks {
    /// The public keys; each is a JWK object (`kty`, `kid`, `alg`, and the key's members).
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
}

/// A new webhook endpoint.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateWebhookEndpointRequest {
    /// Where events are POSTed: `https` (or `http` where the service allows it), reaching a
    /// public address (unless the service allows private networks).
    #[schema(
        example = "https://hooks.example.com/shop",
        min_length = 1,
        max_length = 2000,
        format = "uri"
    )]
    pub url: String,
    /// Event types it hears, or `"*"` for all.
    #[schema(value_type = Vec<EventSubscription>, min_items = 1, max_items = 11, example = json!(["order.placed", "order.cancelled"]))]
    pub events: Vec<String>,
    /// A note for the admin.
    #[schema(max_length = 500, example = "Fulfilment")]
    pub description: Option<String>,
    /// Whether it receives events now (default true).
    #[schema(example = true)]
    pub enabled: Option<bool>,
}

/// Changes to a webhook endpoint: any subset of the create fields; `description: null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateWebhookEndpointRequest {
    /// New URL (the same rules as on create).
    #[schema(
        example = "https://hooks.example.com/shop-v2",
        min_length = 1,
        max_length = 2000,
        format = "uri"
    )]
    pub url: Option<String>,
    /// New subscriptions.
    #[schema(value_type = Option<Vec<EventSubscription>>, min_items = 1, max_items = 11)]
    pub events: Option<Vec<String>>,
    /// New note; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: Option<Option<String>>,
    /// On or off.
    pub enabled: Option<bool>,
}

/// An event type, or `*` for every type.
#[derive(Serialize, ToSchema)]
pub enum EventSubscription {
    /// Every event.
    #[serde(rename = "*")]
    All,
    /// `order.placed`.
    #[serde(rename = "order.placed")]
    OrderPlaced,
    /// `order.paid`.
    #[serde(rename = "order.paid")]
    OrderPaid,
    /// `order.status_changed`.
    #[serde(rename = "order.status_changed")]
    OrderStatusChanged,
    /// `order.cancelled`.
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    /// `order.refunded`.
    #[serde(rename = "order.refunded")]
    OrderRefunded,
    /// `product.created`.
    #[serde(rename = "product.created")]
    ProductCreated,
    /// `product.updated`.
    #[serde(rename = "product.updated")]
    ProductUpdated,
    /// `product.deleted`.
    #[serde(rename = "product.deleted")]
    ProductDeleted,
    /// `variant.low_stock`.
    #[serde(rename = "variant.low_stock")]
    VariantLowStock,
    /// `user.registered`.
    #[serde(rename = "user.registered")]
    UserRegistered,
}

/// A receiver of events (its secret is shown only on create and rotation).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointResponse {
    /// Id.
    #[schema(example = "0192f0c6-2a3b-7c4d-8e5f-60718293a4b5")]
    pub id: Uuid,
    /// Where events are POSTed.
    #[schema(example = "https://hooks.example.com/shop")]
    pub url: String,
    /// Event types it hears, or `["*"]`.
    #[schema(value_type = Vec<EventSubscription>, example = json!(["order.placed", "order.cancelled"]))]
    pub events: Vec<String>,
    /// The admin's note, or null.
    #[schema(required = true, example = "Fulfilment")]
    pub description: Option<String>,
    /// Whether it receives new events.
    pub enabled: bool,
    /// Created.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<domain::webhook::WebhookEndpoint> for WebhookEndpointResponse {
    fn from(e: domain::webhook::WebhookEndpoint) -> Self {
        Self {
            id: e.id.as_uuid(),
            url: e.url,
            events: e.events.names().into_iter().map(str::to_owned).collect(),
            description: e.description,
            enabled: e.enabled,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// A webhook endpoint with its signing secret: answered only on create and rotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointWithSecret {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: WebhookEndpointResponse,
    /// The signing secret (`whsec_` and base64): keep it, it is not shown again.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

impl From<domain::webhook::WebhookEndpoint> for WebhookEndpointWithSecret {
    fn from(e: domain::webhook::WebhookEndpoint) -> Self {
        let secret = e.secret.expose().to_owned();
        Self {
            endpoint: e.into(),
            secret,
        }
    }
}

/// Where a delivery is.
#[derive(ToSchema)]
#[schema(as = DeliveryStatus, rename_all = "lowercase")]
pub enum DeliveryStatusName {
    /// Not delivered yet; tried again at `next_attempt_at`.
    Pending,
    /// The receiver answered 2xx.
    Succeeded,
    /// Every attempt failed.
    Failed,
}

/// One event on its way to one endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryResponse {
    /// Id.
    #[schema(example = "0192f0c6-3b4c-7d5e-8f60-718293a4b5c6")]
    pub id: Uuid,
    /// The event (its `webhook-id`).
    #[schema(example = "0192f0c5-1d2e-7f30-8a41-5b6c7d8e9f02")]
    pub event_id: Uuid,
    /// The event's type.
    #[schema(value_type = EventTypeName, example = "order.placed")]
    pub event_type: String,
    /// Where it is.
    #[schema(value_type = DeliveryStatusName, example = "pending")]
    pub status: String,
    /// Attempts made.
    #[schema(example = 0, minimum = 0)]
    pub attempts: u32,
    /// The receiver's status code at the last attempt, or null.
    #[schema(required = true, example = json!(null))]
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed, or null.
    #[schema(required = true, example = json!(null))]
    pub last_error: Option<String>,
    /// When it is tried next, or null once it succeeded or failed.
    #[schema(required = true)]
    #[serde(serialize_with = "rfc3339_opt")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Created (with its event).
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

fn rfc3339_opt<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
    }
}

impl From<domain::webhook::Delivery> for DeliveryResponse {
    fn from(d: domain::webhook::Delivery) -> Self {
        Self {
            id: d.id.as_uuid(),
            event_id: d.event_id.as_uuid(),
            event_type: d.event_type.as_str().to_owned(),
            status: d.status.as_str().to_owned(),
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

page_type!(
    /// A page of webhook endpoints, newest first.
    WebhookEndpointPage,
    WebhookEndpointResponse
);
page_type!(
    /// A page of deliveries, newest first.
    DeliveryPage,
    DeliveryResponse
);

// Requests into the use cases' commands: field for field, so the handlers stay thin.

impl From<RegisterRequest> for application::accounts::RegisterCommand {
    fn from(r: RegisterRequest) -> Self {
        Self {
            email: r.email,
            password: r.password,
            username: r.username,
            first_name: r.first_name,
            last_name: r.last_name,
        }
    }
}

impl From<UpdateMeRequest> for application::accounts::UpdateProfileCommand {
    fn from(r: UpdateMeRequest) -> Self {
        Self {
            first_name: r.first_name,
            last_name: r.last_name,
        }
    }
}

impl From<MoneyDto> for application::catalog::PriceInput {
    fn from(m: MoneyDto) -> Self {
        Self {
            amount: m.amount,
            currency: m.currency,
        }
    }
}

impl From<CreateProductRequest> for application::catalog::CreateProductCommand {
    fn from(r: CreateProductRequest) -> Self {
        Self {
            sku: r.sku,
            name: r.name,
            slug: r.slug,
            status: r.status.map(|s| s.as_str().to_owned()),
            description: r.description,
            price: r.price.map(Into::into),
            stock: r.stock,
            category_ids: r.category_ids.unwrap_or_default(),
            options: r
                .options
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            variants: r
                .variants
                .map(|vs| vs.into_iter().map(Into::into).collect()),
        }
    }
}

impl From<UpdateProductRequest> for application::catalog::UpdateProductCommand {
    fn from(r: UpdateProductRequest) -> Self {
        Self {
            sku: r.sku,
            name: r.name,
            slug: r.slug,
            status: r.status.map(|s| s.as_str().to_owned()),
            description: r.description,
            price: r.price.map(Into::into),
            stock: r.stock,
            category_ids: r.category_ids,
            options: r.options.map(|os| os.into_iter().map(Into::into).collect()),
            variants: r.variants.map(|vs| {
                vs.into_iter()
                    .map(|x| application::catalog::VariantInput {
                        id: x.id,
                        sku: x.sku,
                        option_values: x.option_values.unwrap_or_default().into_iter().collect(),
                        price: x.price.into(),
                        compare_at_price: x.compare_at_price.map(Into::into),
                        stock: x.stock,
                        position: x.position,
                    })
                    .collect()
            }),
        }
    }
}

impl From<ProductOptionRequest> for domain::OptionInput {
    fn from(o: ProductOptionRequest) -> Self {
        Self {
            name: o.name,
            values: o.values,
        }
    }
}

impl From<VariantRequest> for application::catalog::VariantInput {
    fn from(x: VariantRequest) -> Self {
        Self {
            id: None,
            sku: x.sku,
            option_values: x.option_values.unwrap_or_default().into_iter().collect(),
            price: x.price.into(),
            compare_at_price: x.compare_at_price.map(Into::into),
            stock: x.stock,
            position: x.position,
        }
    }
}

impl From<UpdateVariantRequest> for application::catalog::UpdateVariantCommand {
    fn from(r: UpdateVariantRequest) -> Self {
        Self {
            sku: r.sku,
            option_values: r.option_values.map(|m| m.into_iter().collect()),
            price: r.price.map(Into::into),
            compare_at_price: r.compare_at_price.map(|c| c.map(Into::into)),
            stock: r.stock,
            position: r.position,
        }
    }
}

impl From<CreateCategoryRequest> for application::catalog::CreateCategoryCommand {
    fn from(r: CreateCategoryRequest) -> Self {
        Self {
            name: r.name,
            slug: r.slug,
            parent_id: r.parent_id,
            description: r.description,
            position: r.position,
        }
    }
}

impl From<UpdateCategoryRequest> for application::catalog::UpdateCategoryCommand {
    fn from(r: UpdateCategoryRequest) -> Self {
        Self {
            name: r.name,
            slug: r.slug,
            parent_id: r.parent_id,
            description: r.description,
            position: r.position,
        }
    }
}

impl From<CreateWebhookEndpointRequest> for application::webhooks::CreateEndpointCommand {
    fn from(r: CreateWebhookEndpointRequest) -> Self {
        Self {
            url: r.url,
            events: r.events,
            description: r.description,
            enabled: r.enabled,
        }
    }
}

impl From<UpdateWebhookEndpointRequest> for application::webhooks::UpdateEndpointCommand {
    fn from(r: UpdateWebhookEndpointRequest) -> Self {
        Self {
            url: r.url,
            events: r.events,
            description: r.description,
            enabled: r.enabled,
        }
    }
}

/// An optional moment, RFC 3339 in UTC with microseconds, or `null`.
fn rfc3339_or_null<S: serde::Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
    }
}

/// What a promotion takes off.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum PromotionKind {
    /// `value` percent of the subtotal (more than 0, at most 100, up to 4 decimals).
    Percentage,
    /// `value` in `currency`, on carts in that currency only.
    Fixed,
}

/// A new promotion (discount code).
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreatePromotionRequest {
    /// The code customers type: 1..=50 ASCII letters, digits, `-` or `_`, surrounding
    /// whitespace trimmed (so the pattern, not a length, bounds it). Codes compare
    /// case-insensitively and are unique (409); the spelling given is kept for display.
    #[schema(example = "SUMMER-10", pattern = r"^\s*[A-Za-z0-9_-]{1,50}\s*$")]
    pub code: String,
    /// `percentage` or `fixed`.
    #[schema(value_type = PromotionKind, example = "percentage")]
    pub kind: String,
    /// A decimal string: the percent (more than 0, at most 100, up to 4 digits after the
    /// point) for `percentage`, the amount in `currency` (more than 0, at most its minor
    /// digits) for `fixed`. Leading zeros are allowed (no length bound; too large is 422).
    #[schema(example = "10", pattern = r"^[0-9]+(\.[0-9]+)?$")]
    pub value: String,
    /// ISO 4217 code: required for `fixed`, refused for `percentage`.
    #[schema(example = "EUR", pattern = "^[A-Z]{3}$")]
    pub currency: Option<String>,
    /// Smallest subtotal the code applies to; it also limits the code to carts in its
    /// currency (for `fixed`, it must be the discount's currency).
    pub min_subtotal: Option<MoneyDto>,
    /// First moment the code may be used (inclusive), RFC 3339.
    #[schema(format = DateTime, example = "2026-06-01T00:00:00Z")]
    pub starts_at: Option<String>,
    /// Moment the code stops (exclusive), RFC 3339; after `starts_at`.
    #[schema(format = DateTime, example = "2026-09-01T00:00:00Z")]
    pub ends_at: Option<String>,
    /// Completed checkouts it may be used in, across customers; at least 1. Absent: no limit.
    #[schema(example = 100, minimum = 1, maximum = 4_294_967_295_u64)]
    pub usage_limit: Option<u32>,
    /// Completed checkouts one customer may use it in; at least 1. Absent: no limit.
    #[schema(example = 1, minimum = 1, maximum = 4_294_967_295_u64)]
    pub per_customer_limit: Option<u32>,
    /// Whether it may be used (default true).
    #[schema(example = true)]
    pub active: Option<bool>,
}

/// Changes to a promotion: any subset of the create fields; `null` clears an optional one.
/// `kind`, `value` and `currency` are checked together, each the stored one when absent; a
/// promotion turned into a `percentage` drops its currency.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdatePromotionRequest {
    /// New code (one another promotion has, in any case: 409).
    #[schema(pattern = r"^\s*[A-Za-z0-9_-]{1,50}\s*$")]
    pub code: Option<String>,
    /// New kind.
    #[schema(value_type = Option<PromotionKind>)]
    pub kind: Option<String>,
    /// New value.
    #[schema(example = "15", pattern = r"^[0-9]+(\.[0-9]+)?$")]
    pub value: Option<String>,
    /// New currency; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, pattern = "^[A-Z]{3}$")]
    pub currency: Option<Option<String>>,
    /// New minimum; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<MoneyDto>)]
    pub min_subtotal: Option<Option<MoneyDto>>,
    /// New start; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub starts_at: Option<Option<String>>,
    /// New end; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<Option<String>>,
    /// New total limit; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 4_294_967_295_u64)]
    pub usage_limit: Option<Option<u32>>,
    /// New per-customer limit; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 4_294_967_295_u64)]
    pub per_customer_limit: Option<Option<u32>>,
    /// On or off.
    pub active: Option<bool>,
}

/// A promotion, with how often it has been used.
#[derive(Debug, Serialize, ToSchema)]
pub struct PromotionResponse {
    /// Id.
    #[schema(example = "0192f0c7-1a2b-7c3d-8e4f-5a6b7c8d9e0f")]
    pub id: Uuid,
    /// The code, as spelled at creation.
    #[schema(example = "SUMMER-10")]
    pub code: String,
    /// `percentage` or `fixed`.
    #[schema(value_type = PromotionKind, example = "percentage")]
    pub kind: String,
    /// The percent (`12.5`, at least one digit after the point) or the amount with exactly
    /// the currency's minor digits (`5.00`).
    #[schema(example = "10.0")]
    pub value: String,
    /// The currency of a `fixed` discount; null for a percentage.
    #[schema(required = true, example = json!(null))]
    pub currency: Option<String>,
    /// Smallest subtotal, or null.
    #[schema(required = true)]
    pub min_subtotal: Option<MoneyDto>,
    /// First moment it may be used, or null.
    #[serde(serialize_with = "rfc3339_or_null")]
    #[schema(required = true, value_type = Option<DateTime<Utc>>)]
    pub starts_at: Option<DateTime<Utc>>,
    /// Moment it stops, or null.
    #[serde(serialize_with = "rfc3339_or_null")]
    #[schema(required = true, value_type = Option<DateTime<Utc>>)]
    pub ends_at: Option<DateTime<Utc>>,
    /// Uses in all, or null for no limit.
    #[schema(required = true, example = 100)]
    pub usage_limit: Option<u32>,
    /// Uses per customer, or null for no limit.
    #[schema(required = true, example = 1)]
    pub per_customer_limit: Option<u32>,
    /// Whether it may be used.
    pub active: bool,
    /// Completed checkouts that used it.
    #[schema(example = 0)]
    pub times_used: u32,
    /// Created.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<domain::PromotionRecord> for PromotionResponse {
    fn from(r: domain::PromotionRecord) -> Self {
        let p = &r.promotion;
        Self {
            id: r.id.as_uuid(),
            code: p.code().as_str().to_owned(),
            kind: p.discount().kind().to_owned(),
            value: p.discount().value_string(),
            currency: p.discount().currency().map(|c| c.code().to_owned()),
            min_subtotal: p.min_subtotal().map(Into::into),
            starts_at: p.starts_at(),
            ends_at: p.ends_at(),
            usage_limit: p.usage_limit(),
            per_customer_limit: p.per_customer_limit(),
            active: p.active(),
            times_used: p.times_used(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

page_type!(
    /// A page of promotions, newest first.
    PromotionPage,
    PromotionResponse
);

impl From<CreatePromotionRequest> for application::checkout::CreatePromotionCommand {
    fn from(r: CreatePromotionRequest) -> Self {
        Self {
            code: r.code,
            kind: r.kind,
            value: r.value,
            currency: r.currency,
            min_subtotal: r.min_subtotal.map(Into::into),
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            usage_limit: r.usage_limit,
            per_customer_limit: r.per_customer_limit,
            active: r.active,
        }
    }
}

impl From<UpdatePromotionRequest> for application::checkout::UpdatePromotionCommand {
    fn from(r: UpdatePromotionRequest) -> Self {
        Self {
            code: r.code,
            kind: r.kind,
            value: r.value,
            currency: r.currency,
            min_subtotal: r.min_subtotal.map(|m| m.map(Into::into)),
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            usage_limit: r.usage_limit,
            per_customer_limit: r.per_customer_limit,
            active: r.active,
        }
    }
}

/// A new shipping option.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateShippingOptionRequest {
    /// What customers choose it by: 1..=100 characters once surrounding whitespace is trimmed
    /// (the pattern states it), no control characters. Names need not be unique.
    #[schema(
        example = "Standard",
        pattern = r"^\s*[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]{0,98}[^\s\u0000-\u001f\u007f-\u009f])?\s*$"
    )]
    pub name: String,
    /// Countries it ships to: at least one, none twice, kept in the order given.
    #[schema(value_type = Vec<CountryCodeSchema>, min_items = 1, example = json!(["DE", "AT"]))]
    pub countries: Vec<String>,
    /// What it charges, before tax.
    pub price: MoneyDto,
    /// Subtotal after discount from which it is free; in the price's currency.
    pub free_over: Option<MoneyDto>,
    /// Whether carts may choose it (default true).
    #[schema(example = true)]
    pub active: Option<bool>,
}

/// Changes to a shipping option: any subset of the create fields; `free_over: null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateShippingOptionRequest {
    /// New name.
    #[schema(
        pattern = r"^\s*[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]{0,98}[^\s\u0000-\u001f\u007f-\u009f])?\s*$"
    )]
    pub name: Option<String>,
    /// New countries (the whole list).
    #[schema(value_type = Option<Vec<CountryCodeSchema>>, min_items = 1)]
    pub countries: Option<Vec<String>>,
    /// New price.
    pub price: Option<MoneyDto>,
    /// New threshold; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<MoneyDto>)]
    pub free_over: Option<Option<MoneyDto>>,
    /// On or off.
    pub active: Option<bool>,
}

/// A way to ship.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShippingOptionResponse {
    /// Id.
    #[schema(example = "0192f0c8-4b5c-7d6e-8f70-8192a3b4c5d6")]
    pub id: Uuid,
    /// Name.
    #[schema(example = "Standard")]
    pub name: String,
    /// Countries it ships to, in the order given.
    #[schema(value_type = Vec<CountryCodeSchema>, example = json!(["DE", "AT"]))]
    pub countries: Vec<String>,
    /// What it charges.
    pub price: MoneyDto,
    /// Subtotal after discount from which it is free, or null.
    #[schema(required = true)]
    pub free_over: Option<MoneyDto>,
    /// Whether carts may choose it.
    pub active: bool,
    /// Created.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<domain::ShippingOptionRecord> for ShippingOptionResponse {
    fn from(r: domain::ShippingOptionRecord) -> Self {
        let o = &r.option;
        Self {
            id: r.id.as_uuid(),
            name: o.name().as_str().to_owned(),
            countries: o
                .countries()
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            price: o.price().price().into(),
            free_over: o.price().free_over().map(Into::into),
            active: o.active(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

page_type!(
    /// A page of shipping options, newest first.
    ShippingOptionPage,
    ShippingOptionResponse
);

impl From<CreateShippingOptionRequest> for application::checkout::CreateShippingOptionCommand {
    fn from(r: CreateShippingOptionRequest) -> Self {
        Self {
            name: r.name,
            countries: r.countries,
            price: r.price.into(),
            free_over: r.free_over.map(Into::into),
            active: r.active,
        }
    }
}

impl From<UpdateShippingOptionRequest> for application::checkout::UpdateShippingOptionCommand {
    fn from(r: UpdateShippingOptionRequest) -> Self {
        Self {
            name: r.name,
            countries: r.countries,
            price: r.price.map(Into::into),
            free_over: r.free_over.map(|f| f.map(Into::into)),
            active: r.active,
        }
    }
}

/// A new tax rate.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateTaxRateRequest {
    /// The country it taxes.
    #[schema(value_type = CountryCodeSchema)]
    pub country: String,
    /// The state, province or region it is limited to: 1..=100 characters once surrounding
    /// whitespace is trimmed (the pattern states it), compared case-insensitively. Absent: the country's rate, for addresses no state rate names.
    #[schema(
        example = "Bayern",
        pattern = r"^\s*[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]{0,98}[^\s\u0000-\u001f\u007f-\u009f])?\s*$"
    )]
    pub state: Option<String>,
    /// The percent, a decimal string from 0 to 100 with at most 4 digits after the point
    /// (leading zeros allowed, so no length bound).
    #[schema(example = "19.0", pattern = r"^[0-9]+(\.[0-9]+)?$")]
    pub rate: String,
    /// What an invoice calls it: 1..=100 characters.
    #[schema(
        example = "VAT",
        pattern = r"^\s*[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]{0,98}[^\s\u0000-\u001f\u007f-\u009f])?\s*$"
    )]
    pub name: String,
}

/// Changes to a tax rate: any subset of the create fields; `state: null` makes it the
/// country's rate.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateTaxRateRequest {
    /// New country.
    #[schema(value_type = Option<CountryCodeSchema>)]
    pub country: Option<String>,
    /// New state; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(
        value_type = Option<String>,
        pattern = r"^\s*[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]{0,98}[^\s\u0000-\u001f\u007f-\u009f])?\s*$"
    )]
    pub state: Option<Option<String>>,
    /// New percent.
    #[schema(example = "7.0", pattern = r"^[0-9]+(\.[0-9]+)?$")]
    pub rate: Option<String>,
    /// New name.
    #[schema(
        pattern = r"^\s*[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]{0,98}[^\s\u0000-\u001f\u007f-\u009f])?\s*$"
    )]
    pub name: Option<String>,
}

/// The tax of a country, or of one state of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaxRateResponse {
    /// Id.
    #[schema(example = "0192f0c9-5c6d-7e7f-8081-92a3b4c5d6e7")]
    pub id: Uuid,
    /// The country.
    #[schema(value_type = CountryCodeSchema)]
    pub country: String,
    /// The state it is limited to, as given; null for the country's rate.
    #[schema(required = true, example = json!(null))]
    pub state: Option<String>,
    /// The percent, with at least one digit after the point (`19.0`, `7.25`).
    #[schema(example = "19.0")]
    pub rate: String,
    /// What an invoice calls it.
    #[schema(example = "VAT")]
    pub name: String,
    /// Created.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<domain::TaxRateRecord> for TaxRateResponse {
    fn from(r: domain::TaxRateRecord) -> Self {
        let t = &r.rate;
        Self {
            id: r.id.as_uuid(),
            country: t.country().as_str().to_owned(),
            state: t.state().map(str::to_owned),
            rate: t.rate().to_string(),
            name: t.name().to_owned(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

page_type!(
    /// A page of tax rates, newest first.
    TaxRatePage,
    TaxRateResponse
);

impl From<CreateTaxRateRequest> for application::checkout::CreateTaxRateCommand {
    fn from(r: CreateTaxRateRequest) -> Self {
        Self {
            country: r.country,
            state: r.state,
            rate: r.rate,
            name: r.name,
        }
    }
}

impl From<UpdateTaxRateRequest> for application::checkout::UpdateTaxRateCommand {
    fn from(r: UpdateTaxRateRequest) -> Self {
        Self {
            country: r.country,
            state: r.state,
            rate: r.rate,
            name: r.name,
        }
    }
}

/// A new cart. Without a bearer token it is a guest's: the answer carries its `token`, once.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateCartRequest {
    /// ISO 4217 code every line must be priced in; `EUR` when absent.
    #[schema(example = "EUR", pattern = "^[A-Z]{3}$")]
    pub currency: Option<String>,
    /// Where the order confirmation goes.
    #[schema(
        example = "ada@example.com",
        format = "email",
        min_length = 3,
        max_length = 254
    )]
    pub email: Option<String>,
}

impl From<CreateCartRequest> for application::checkout::CreateCartCommand {
    fn from(r: CreateCartRequest) -> Self {
        Self {
            currency: r.currency,
            email: r.email,
        }
    }
}

/// Changes to a cart's details: any subset; `null` clears a field.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateCartRequest {
    /// E-mail address; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "ada@example.com", format = "email", min_length = 3, max_length = 254)]
    pub email: Option<Option<String>>,
    /// Shipping address; `null` clears it. A chosen option that does not ship there is cleared.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<AddressDto>)]
    pub shipping_address: Option<Option<AddressDto>>,
    /// An active shipping option, in the cart's currency, that ships to the address; `null`
    /// clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub shipping_option_id: Option<Option<Uuid>>,
    /// A discount code that applies to the cart now (else 422 saying why); `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "SUMMER-10", max_length = 50)]
    pub discount_code: Option<Option<String>>,
}

impl From<UpdateCartRequest> for application::checkout::UpdateCartCommand {
    fn from(r: UpdateCartRequest) -> Self {
        Self {
            email: r.email,
            shipping_address: r.shipping_address.map(|a| a.map(Into::into)),
            shipping_option_id: r.shipping_option_id,
            discount_code: r.discount_code,
        }
    }
}

/// What to add: exactly one of `variant_id` and `product_id` (a product of one variant).
#[derive(Debug, Deserialize, ToSchema)]
pub struct AddCartItemRequest {
    /// The variant.
    #[schema(example = "0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d", nullable = false)]
    #[serde(default)]
    pub variant_id: Option<Uuid>,
    /// A product of exactly one variant (a product of more variants: 422 on `variant_id`).
    #[schema(example = "0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d", nullable = false)]
    #[serde(default)]
    pub product_id: Option<Uuid>,
    /// 1..=1000 units; added to the line when the variant is already in the cart (the sum at
    /// most 1000).
    #[schema(example = 1, minimum = 1, maximum = 1000)]
    pub quantity: i64,
}

impl AddCartItemRequest {
    /// What it names.
    ///
    /// # Errors
    /// A `FieldError` on each of `variant_id` and `product_id` unless exactly one is given.
    pub fn item(&self) -> Result<OrderItem, Vec<domain::FieldError>> {
        match (self.variant_id, self.product_id) {
            (Some(v), None) => Ok(OrderItem::Variant(domain::VariantId::from_uuid(v))),
            (None, Some(p)) => Ok(OrderItem::Product(domain::ProductId::from_uuid(p))),
            _ => Err(["variant_id", "product_id"]
                .into_iter()
                .map(|f| {
                    domain::FieldError::new(f, "name exactly one of variant_id and product_id")
                })
                .collect()),
        }
    }
}

/// A line's new quantity.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateCartItemRequest {
    /// 0..=1000; 0 removes the line.
    #[schema(example = 2, minimum = 0, maximum = 1000)]
    pub quantity: i64,
}

/// A cart's status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CartStatusName {
    /// Being filled.
    Open,
    /// Checked out; refuses changes.
    Completed,
}

/// One line of a cart, at today's price.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartItemResponse {
    /// The line's id (for `PUT`/`DELETE /carts/{id}/items/{item_id}`).
    pub id: Uuid,
    /// The product.
    pub product_id: Uuid,
    /// The variant.
    pub variant_id: Uuid,
    /// The variant's SKU.
    #[schema(example = "MUG-001")]
    pub sku: String,
    /// The product's name.
    #[schema(example = "Stoneware mug")]
    pub name: String,
    /// The variant's title.
    #[schema(example = "Default Title")]
    pub variant_title: String,
    /// Today's price of one unit.
    pub unit_price: MoneyDto,
    /// Units.
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: u32,
    /// `unit_price × quantity`.
    pub line_total: MoneyDto,
    /// Whether it can be bought now: for sale, with stock for the quantity.
    pub in_stock: bool,
}

/// The discount applied.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartDiscountResponse {
    /// The code.
    #[schema(example = "SUMMER-10")]
    pub code: String,
    /// What it takes off (at most the subtotal).
    pub amount: MoneyDto,
}

/// The shipping chosen.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartShippingResponse {
    /// The shipping option.
    pub option_id: Uuid,
    /// Its name.
    #[schema(example = "Standard")]
    pub name: String,
    /// What it charges this cart (zero from its `free_over`).
    pub amount: MoneyDto,
}

/// A cart, priced at today's prices. `total = subtotal - discount + shipping + tax_total`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartResponse {
    /// Id.
    pub id: Uuid,
    /// The owner, or null for a guest's cart.
    #[schema(required = true)]
    pub user_id: Option<Uuid>,
    /// `open` or `completed`.
    #[schema(value_type = CartStatusName)]
    pub status: &'static str,
    /// Every line is priced in it.
    #[schema(example = "EUR")]
    pub currency: &'static str,
    /// The lines, in the order added.
    #[schema(max_items = 100)]
    pub items: Vec<CartItemResponse>,
    /// Sum of the lines.
    pub subtotal: MoneyDto,
    /// The discount, or null when no code is set or it does not apply now.
    #[schema(required = true)]
    pub discount: Option<CartDiscountResponse>,
    /// The shipping, or null when none is chosen (or it no longer ships to the address).
    #[schema(required = true)]
    pub shipping: Option<CartShippingResponse>,
    /// Tax on subtotal - discount + shipping, at the rate of the shipping address.
    pub tax_total: MoneyDto,
    /// What checkout would charge.
    pub total: MoneyDto,
    /// E-mail address, or null.
    #[schema(required = true)]
    pub email: Option<String>,
    /// Shipping address, or null.
    #[schema(required = true)]
    pub shipping_address: Option<AddressResponse>,
    /// When it is deleted if left untouched (open carts only).
    #[serde(serialize_with = "rfc3339")]
    pub expires_at: DateTime<Utc>,
    /// Made.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// A guest cart's token, only in the answer that made it: send it as `X-Cart-Token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "q3Jb0u2c0n7VtLk9w1xQm6yH4pZr8aEeF5sDgT2vB0o")]
    pub token: Option<String>,
}

impl From<application::checkout::CartView> for CartResponse {
    fn from(v: application::checkout::CartView) -> Self {
        let c = v.cart.parts();
        Self {
            id: c.id.as_uuid(),
            user_id: match c.owner {
                domain::CartOwner::User(u) => Some(u.as_uuid()),
                domain::CartOwner::Guest(_) => None,
            },
            status: c.status.as_str(),
            currency: c.currency.code(),
            items: v
                .lines
                .iter()
                .map(|l| CartItemResponse {
                    id: l.item.id.as_uuid(),
                    product_id: l.variant.product_id.as_uuid(),
                    variant_id: l.variant.variant_id.as_uuid(),
                    sku: l.variant.sku.as_str().to_owned(),
                    name: l.variant.name.as_str().to_owned(),
                    variant_title: l.variant.variant_title.clone(),
                    unit_price: l.variant.price.into(),
                    quantity: l.item.quantity.get(),
                    line_total: l.line_total.into(),
                    in_stock: l.in_stock,
                })
                .collect(),
            subtotal: v.subtotal.into(),
            discount: v.discount.map(|d| CartDiscountResponse {
                code: d.code.as_str().to_owned(),
                amount: d.amount.into(),
            }),
            shipping: v.shipping.map(|s| CartShippingResponse {
                option_id: s.option_id.as_uuid(),
                name: s.name,
                amount: s.amount.into(),
            }),
            tax_total: v.tax_total.into(),
            total: v.total.into(),
            email: c.email.as_ref().map(|e| e.as_str().to_owned()),
            shipping_address: c.shipping_address.as_ref().map(Into::into),
            expires_at: c.expires_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
            token: v.token,
        }
    }
}

/// A shipping option offered to a cart, with what it would charge that cart.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartShippingOptionResponse {
    /// Id (for `shipping_option_id`).
    pub id: Uuid,
    /// Name.
    #[schema(example = "Standard")]
    pub name: String,
    /// Countries it ships to.
    #[schema(value_type = Vec<CountryCodeSchema>, example = json!(["DE", "AT"]))]
    pub countries: Vec<String>,
    /// Its price.
    pub price: MoneyDto,
    /// Subtotal after discount from which it is free, or null.
    #[schema(required = true)]
    pub free_over: Option<MoneyDto>,
    /// What it would charge this cart now.
    pub amount: MoneyDto,
}

impl From<application::checkout::OfferedShipping> for CartShippingOptionResponse {
    fn from(o: application::checkout::OfferedShipping) -> Self {
        let r = ShippingOptionResponse::from(o.record);
        Self {
            id: r.id,
            name: r.name,
            countries: r.countries,
            price: r.price,
            free_over: r.free_over,
            amount: o.amount.into(),
        }
    }
}

/// The shipping options a cart may choose.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartShippingOptionList {
    /// Active options that ship to the cart's address (none before it has one), oldest first.
    pub items: Vec<CartShippingOptionResponse>,
}

/// A payment started: what a storefront completes it with.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentResponse {
    /// `manual` or `stripe`.
    #[schema(example = "stripe")]
    pub provider: &'static str,
    /// The provider's payment intent (the same one for every start of one order).
    #[schema(example = "pi_3Pq2")]
    pub payment_intent_id: String,
    /// What Stripe.js confirms the payment with; null for `manual`.
    #[schema(required = true, example = "pi_3Pq2_secret_x")]
    pub client_secret: Option<String>,
    /// The order's total, a decimal string with the currency's minor digits.
    #[schema(example = "63.38")]
    pub amount: String,
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    pub currency: String,
}

impl From<application::payments::PaymentStarted> for PaymentResponse {
    fn from(p: application::payments::PaymentStarted) -> Self {
        Self {
            provider: p.provider,
            payment_intent_id: p.intent.id,
            client_secret: p.intent.client_secret,
            amount: p.amount.amount_string(),
            currency: p.amount.currency().code().to_owned(),
        }
    }
}
