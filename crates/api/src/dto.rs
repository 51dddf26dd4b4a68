//! Request and response bodies as they travel on the wire (snake_case, as API.md shows).

use application::ports::ProductView;
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
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MoneyDto {
    /// Decimal string; at most the currency's minor digits (2 for EUR/USD, 0 for JPY); not negative.
    #[schema(example = "19.99")]
    pub amount: String,
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    pub currency: String,
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
    /// E-mail address (stored lower-cased).
    #[schema(example = "ann@example.com")]
    pub email: String,
    /// At least 8 characters.
    #[schema(example = "correct horse battery")]
    pub password: String,
    /// 3..=64 of a-z, 0-9, `.`, `_`, `-`, `@`, `+`; the e-mail address when omitted.
    pub username: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
}

/// Credentials.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Username or e-mail address.
    #[schema(example = "ann@example.com")]
    pub username: String,
    /// Password.
    pub password: String,
}

/// A refresh token to spend or revoke.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token from login or the last refresh.
    pub refresh_token: String,
}

/// Tokens after sign-in or refresh.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokensResponse {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Spend at `/auth/refresh` for a new pair; single use.
    pub refresh_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
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
    pub id: Uuid,
    /// E-mail address.
    pub email: String,
    /// Sign-in name.
    pub username: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// `user`, and `admin` for operators.
    #[schema(example = json!(["user"]))]
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
    /// Given name (at most 100 characters).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub first_name: Option<Option<String>>,
    /// Family name (at most 100 characters).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub last_name: Option<Option<String>>,
}

/// A product image.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImageResponse {
    /// Id.
    pub id: Uuid,
    /// Where anyone fetches the bytes: a path on this server, `/api/v1/files/{id}`.
    #[schema(example = "/api/v1/files/0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d")]
    pub url: String,
    /// `image/jpeg`, `image/png`, `image/webp` or `image/gif`, as known from the bytes.
    #[schema(example = "image/png")]
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

/// The body of an image upload.
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
    /// Unique; 1..=64 of letters, digits, `-`, `_`, `.`.
    #[schema(example = "MUG-001")]
    pub sku: String,
    /// 1..=200 characters.
    #[schema(example = "Stoneware mug")]
    pub name: String,
    /// At most 10,000 characters.
    pub description: Option<String>,
    /// Unit price.
    pub price: MoneyDto,
    /// Units on hand, 0..=1,000,000,000.
    #[schema(example = 100)]
    pub stock: i64,
}

/// Product changes: any subset of the create fields; `description: null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateProductRequest {
    /// New SKU.
    pub sku: Option<String>,
    /// New name.
    pub name: Option<String>,
    /// New description.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// New price.
    pub price: Option<MoneyDto>,
    /// New stock level.
    pub stock: Option<i64>,
}

/// A product of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductResponse {
    /// Id.
    pub id: Uuid,
    /// Stock-keeping unit.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Description, or null.
    pub description: Option<String>,
    /// Unit price.
    pub price: MoneyDto,
    /// Units on hand.
    pub stock: u32,
    /// Images, in upload order.
    pub images: Vec<ImageResponse>,
    /// Created.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<ProductView> for ProductResponse {
    fn from(v: ProductView) -> Self {
        let mut response = Self::from(v.product);
        response.images = v.images.into_iter().map(Into::into).collect();
        response
    }
}

/// A product without images (a new one has none yet).
impl From<Product> for ProductResponse {
    fn from(p: Product) -> Self {
        Self {
            id: p.id.as_uuid(),
            sku: p.sku.as_str().to_owned(),
            name: p.name.as_str().to_owned(),
            description: p.description.map(|d| d.as_str().to_owned()),
            price: p.price.into(),
            stock: p.stock.get(),
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
            pub page: u32,
            /// Page size asked for.
            pub per_page: u32,
            /// Items across all pages.
            pub total: u64,
            /// Pages in all (0 for an empty list).
            pub total_pages: u64,
        }

        impl<T: Into<$item>> From<Page<T>> for $name {
            fn from(p: Page<T>) -> Self {
                let total_pages = p.total_pages();
                Self {
                    page: p.request.page(),
                    per_page: p.request.per_page(),
                    total: p.total,
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

/// Health of the service and its dependencies.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok`, `unavailable`, or `stopping` (after SIGTERM).
    pub status: &'static str,
    /// Each dependency: `up` or `down`.
    #[schema(value_type = Object, example = json!({"database": "up", "identity_provider": "up", "file_store": "up"}))]
    pub checks: std::collections::BTreeMap<&'static str, &'static str>,
}

/// A postal address.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddressDto {
    /// Street and number.
    #[schema(example = "Hauptstraße 1")]
    pub line1: String,
    /// More of it.
    pub line2: Option<String>,
    /// City.
    #[schema(example = "Berlin")]
    pub city: String,
    /// Postal code.
    #[schema(example = "10115")]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code.
    #[schema(example = "DE")]
    pub country: String,
    /// State, province or region.
    pub state: Option<String>,
}

impl From<&domain::Address> for AddressDto {
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

/// One line of a new order.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OrderItemRequest {
    /// The product.
    pub product_id: Uuid,
    /// 1..=1000 units.
    #[schema(example = 1)]
    pub quantity: i64,
}

/// A new order. The same product twice counts as one line with the summed quantity.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PlaceOrderRequest {
    /// 1..=100 lines.
    pub items: Vec<OrderItemRequest>,
    /// Where it goes.
    pub shipping_address: Option<AddressDto>,
}

/// A status change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OrderStatusRequest {
    /// `pending`, `paid`, `shipped`, `delivered` or `cancelled`.
    #[schema(example = "paid")]
    pub status: String,
}

/// One line of an order, with the product's sku, name and price as they were when ordered.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderLineResponse {
    /// The product (it may since have changed or been deleted).
    pub product_id: Uuid,
    /// SKU when ordered.
    pub sku: String,
    /// Name when ordered.
    pub name: String,
    /// Price when ordered.
    pub unit_price: MoneyDto,
    /// Units.
    pub quantity: u32,
    /// `unit_price × quantity`.
    pub line_total: MoneyDto,
}

/// An order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderResponse {
    /// Id.
    pub id: Uuid,
    /// Who placed it.
    pub user_id: Uuid,
    /// `pending`, `paid`, `shipped`, `delivered` or `cancelled`.
    #[schema(example = "pending")]
    pub status: &'static str,
    /// Lines, one per product.
    pub items: Vec<OrderLineResponse>,
    /// Sum of the line totals.
    pub total: MoneyDto,
    /// Where it goes, or null.
    pub shipping_address: Option<AddressDto>,
    /// Placed.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<domain::Order> for OrderResponse {
    fn from(o: domain::Order) -> Self {
        Self {
            id: o.id().as_uuid(),
            user_id: o.user_id().as_uuid(),
            status: o.status().as_str(),
            items: o
                .lines()
                .iter()
                .map(|l| OrderLineResponse {
                    product_id: l.product_id.as_uuid(),
                    sku: l.sku.as_str().to_owned(),
                    name: l.name.as_str().to_owned(),
                    unit_price: l.unit_price.into(),
                    quantity: l.quantity.get(),
                    line_total: l.line_total.into(),
                })
                .collect(),
            total: o.total().into(),
            shipping_address: o.shipping_address().map(Into::into),
            created_at: o.created_at(),
            updated_at: o.updated_at(),
        }
    }
}

page_type!(
    /// A page of orders, newest first.
    OrderPage,
    OrderResponse
);
