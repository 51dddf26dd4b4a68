//! The domain of `shop`: entities, value objects that cannot hold an invalid value, and the
//! repository traits the outer layers implement. Plain Rust: no I/O, no framework.
#![forbid(unsafe_code)]

pub mod address;
pub mod error;
pub mod event;
pub mod ids;
pub mod image;
pub mod money;
pub mod order;
pub mod page;
pub mod product;
pub mod repository;
pub mod user;
pub mod webhook;

pub use address::{Address, AddressInput, CountryCode};
pub use error::{DomainError, FieldError, Validator};
pub use event::{Event, EventCondition, EventType, PendingEvent, stock_fell_to_low};
pub use ids::{DeliveryId, EventId, ImageId, OrderId, ProductId, UserId, WebhookEndpointId};
pub use image::{Image, ImageType, StoredFile};
pub use money::{Currency, Money};
pub use order::{Order, OrderLine, OrderStatus, Quantity};
pub use page::{Page, PageRequest};
pub use product::{Description, Product, ProductChanges, ProductName, Sku, Stock};
pub use repository::{
    IdempotencyRecord, ImageRepository, OrderRepository, PlaceOrderError, ProductRepository,
    RepositoryError, UserRepository,
};
pub use user::{Email, Password, PersonName, Role, Roles, User, Username};
