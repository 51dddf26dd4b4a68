//! The domain of `shop`: entities, value objects that cannot hold an invalid value, and the
//! repository traits the outer layers implement. Plain Rust: no I/O, no framework.
#![forbid(unsafe_code)]

pub mod address;
pub mod cart;
pub mod category;
pub mod cursor;
pub mod error;
pub mod event;
pub mod ids;
pub mod image;
pub mod money;
pub mod order;
pub mod page;
pub mod payment;
pub mod percent;
pub mod pricing;
pub mod product;
pub mod promotion;
pub mod repository;
pub mod shipping;
pub mod slug;
pub mod tax;
mod text;
pub mod user;
pub mod variant;
pub mod webhook;

pub use address::{Address, AddressInput, CountryCode};
pub use cart::{
    Cart, CartError, CartItem, CartOwner, CartParts, CartStatus, LiveVariant, TokenHash,
};
pub use category::{Category, CategoryChanges, CategoryName, ParentLinks, Position};
pub use cursor::{KeyPart, SortKeys};
pub use error::{DomainError, FieldError, Validator};
pub use event::{Event, EventCondition, EventType, PendingEvent, stock_fell_to_low};
pub use ids::{
    CartId, CartItemId, CategoryId, DeliveryId, EventId, ImageId, OrderId, ProductId, PromotionId,
    ShippingOptionId, TaxRateId, UserId, VariantId, WebhookEndpointId,
};
pub use image::{Image, ImageType, StoredFile};
pub use money::{Currency, Money};
pub use order::{Order, OrderDetails, OrderLine, OrderStatus, Quantity, ShippingChoice};
pub use page::{Page, PageRequest};
pub use payment::{PaymentOutcome, PaymentReceived, PaymentRepository, PaymentStatus, Recorded};
pub use percent::Percent;
pub use pricing::{CartLine, CartPricing, PromotionUse, Totals, choose_tax_rate, price_cart};
pub use product::{Description, Product, ProductChanges, ProductName, ProductStatus, Sku, Stock};
pub use promotion::{
    Discount, Promotion, PromotionCode, PromotionRecord, PromotionRefusal, PromotionRules,
};
pub use repository::{
    CartRepository, CategoryRepository, CheckoutError, CheckoutWrite, IdempotencyRecord,
    ImageRepository, OrderRepository, PlaceOrderError, ProductRepository, PromotionClaim,
    PromotionRepository, RepositoryError, ShippingOptionRepository, TaxRateRepository,
    UserRepository,
};
pub use shipping::{ShippingOption, ShippingOptionName, ShippingOptionRecord, ShippingPrice};
pub use slug::Slug;
pub use tax::{TaxRate, TaxRateRecord};
pub use user::{Email, Password, PersonName, Role, Roles, User, Username};
pub use variant::{
    OptionInput, OptionName, OptionValue, OptionValues, ProductOption, ProductOptions, Variant,
    VariantChanges, VariantError, VariantSet, check_variants,
};
