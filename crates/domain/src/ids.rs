use std::fmt;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered (UUID v7) id, so newest-first ordering follows the key.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an id that was stored or received.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

id_type!(
    /// Identity of a user; the same value as the identity provider's subject (`sub`).
    UserId
);
id_type!(
    /// Identity of a product.
    ProductId
);
id_type!(
    /// Identity of one variant of a product (one combination of its option values).
    VariantId
);
id_type!(
    /// Identity of a category.
    CategoryId
);
id_type!(
    /// Identity of an order.
    OrderId
);
id_type!(
    /// Identity of a product image; also names its file in the store (`images/<id>`).
    ImageId
);
id_type!(
    /// Identity of a domain event; receivers dedupe deliveries on it (`webhook-id`).
    EventId
);
id_type!(
    /// Identity of a webhook endpoint.
    WebhookEndpointId
);
id_type!(
    /// Identity of one event's delivery to one endpoint.
    DeliveryId
);
id_type!(
    /// Identity of a promotion (its code may change; the id does not).
    PromotionId
);
id_type!(
    /// Identity of a shipping option.
    ShippingOptionId
);
id_type!(
    /// Identity of a tax rate.
    TaxRateId
);
id_type!(
    /// Identity of a cart.
    CartId
);
id_type!(
    /// Identity of one line of a cart.
    CartItemId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_wraps_and_prints_its_uuid() {
        let uuid = Uuid::parse_str("0190f3a4-5b6c-7d8e-9f00-112233445566").unwrap();
        let id = OrderId::from_uuid(uuid);
        assert_eq!(id.as_uuid(), uuid);
        assert_eq!(OrderId::from(uuid), id);
        assert_eq!(id.to_string(), "0190f3a4-5b6c-7d8e-9f00-112233445566");
    }

    #[test]
    fn new_ids_are_distinct_time_ordered_version_seven_uuids() {
        let a = ProductId::new();
        let b = ProductId::default();
        assert_ne!(a, b);
        assert!(a < b);
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert_eq!(b.as_uuid().get_version_num(), 7);
        assert!(!UserId::new().as_uuid().is_nil());
        assert!(!ImageId::default().as_uuid().is_nil());
        assert_ne!(VariantId::new(), VariantId::default());
        assert_eq!(VariantId::new().as_uuid().get_version_num(), 7);
    }
}
