use chrono::{DateTime, Utc};

use crate::error::{DomainError, FieldError, Validator};
use crate::ids::ProductId;
use crate::money::Money;
use crate::slug::Slug;
use crate::variant::{VariantChanges, VariantError, VariantSet};

/// Where a product is in its life: only `active` products are shown to anyone but an admin
/// and may be ordered; `draft` ones are not yet, `archived` ones no longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProductStatus {
    /// Being prepared; admins only.
    Draft,
    /// On sale (the default).
    #[default]
    Active,
    /// Withdrawn; admins only.
    Archived,
}

impl ProductStatus {
    /// Every status, in the order the contract lists them.
    pub const ALL: [ProductStatus; 3] = [
        ProductStatus::Draft,
        ProductStatus::Active,
        ProductStatus::Archived,
    ];

    /// Parses a status by its exact lowercase name.
    ///
    /// # Errors
    /// A `FieldError` on `status` for any other text (an empty one too).
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| FieldError::new("status", "must be one of draft, active, archived"))
    }

    /// The name on the wire and in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProductStatus::Draft => "draft",
            ProductStatus::Active => "active",
            ProductStatus::Archived => "archived",
        }
    }

    /// Whether anyone but an admin may see it, order it, and count it in a category.
    pub fn is_public(&self) -> bool {
        *self == ProductStatus::Active
    }
}

/// A stock-keeping unit: 1..=64 characters of letters, digits, `-`, `_` and `.`; unique per shop.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sku(String);

impl Sku {
    /// Parses a SKU, trimming surrounding whitespace.
    ///
    /// # Errors
    /// A `FieldError` on `sku` when empty, too long or holding other characters.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        if s.is_empty() || s.len() > 64 {
            return Err(FieldError::new("sku", "must be 1 to 64 characters"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(FieldError::new(
                "sku",
                "may hold only letters A-Z, digits, '-', '_' and '.'",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The SKU text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A product name: 1..=200 characters, not blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductName(String);

impl ProductName {
    /// Parses a name, trimming surrounding whitespace.
    ///
    /// # Errors
    /// A `FieldError` on `name` when blank, longer than 200 characters or holding control characters.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let Some(s) = crate::text::one_line(s) else {
            return Err(FieldError::new(
                "name",
                "must not contain control characters",
            ));
        };
        let len = s.chars().count();
        if len == 0 || len > 200 {
            return Err(FieldError::new("name", "must be 1 to 200 characters"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A product description: at most 10,000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    /// Longest description accepted.
    pub const MAX_CHARS: usize = 10_000;

    /// Parses a description.
    ///
    /// # Errors
    /// A `FieldError` on `description` when longer than [`Description::MAX_CHARS`] or holding
    /// control characters other than line breaks and tabs.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        if s.chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(FieldError::new(
                "description",
                "must not contain control characters other than line breaks and tabs",
            ));
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::new(
                "description",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Units on hand: a whole number 0..=1,000,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stock(u32);

impl Stock {
    /// Largest stock a product may hold.
    pub const MAX: i64 = 1_000_000_000;

    /// Checks the range.
    ///
    /// # Errors
    /// A `FieldError` on `stock` outside 0..=1,000,000,000.
    pub fn new(n: i64) -> Result<Self, FieldError> {
        if !(0..=Self::MAX).contains(&n) {
            return Err(FieldError::new(
                "stock",
                "must be a whole number from 0 to 1000000000",
            ));
        }
        Ok(Self(u32::try_from(n).map_err(|_| {
            FieldError::new("stock", "is out of range")
        })?))
    }

    /// The count.
    pub fn get(&self) -> u32 {
        self.0
    }
}

/// A product of the catalog: what it is, and the variants it is sold in, which hold the
/// SKUs, prices and stock. Its own SKU, price and stock are derived from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Identity.
    pub id: ProductId,
    /// Display name.
    pub name: ProductName,
    /// Unique URL name.
    pub slug: Slug,
    /// Draft, active or archived.
    pub status: ProductStatus,
    /// Optional long text.
    pub description: Option<Description>,
    /// Its options and its 1..=100 variants.
    pub variants: VariantSet,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// The fields of a product an admin may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProductChanges {
    /// New SKU (of its only variant).
    pub sku: Option<Sku>,
    /// New name.
    pub name: Option<ProductName>,
    /// New slug.
    pub slug: Option<Slug>,
    /// New status.
    pub status: Option<ProductStatus>,
    /// New description; `Some(None)` clears it.
    pub description: Option<Option<Description>>,
    /// New price (of its only variant).
    pub price: Option<Money>,
    /// New stock level (of its only variant).
    pub stock: Option<Stock>,
    /// The categories it is in, all of them; `None` leaves them.
    pub category_ids: Option<Vec<crate::ids::CategoryId>>,
    /// Its whole new set of options and variants (checked by [`VariantSet::new`]); `None`
    /// leaves them. Variants whose id the product has are kept (changed as given), the
    /// others are new, and the product's variants it does not hold are removed.
    pub variants: Option<VariantSet>,
}

impl ProductChanges {
    /// Whether these change what a variant holds (SKU, price or stock), which only a product
    /// of one variant takes at the product's level.
    pub fn touch_variant(&self) -> bool {
        self.sku.is_some() || self.price.is_some() || self.stock.is_some()
    }

    /// Refuses [`touch_variant`](Self::touch_variant) changes for a product of several
    /// variants, and with a new set of `variants`: each variant has its own.
    ///
    /// # Errors
    /// `DomainError::Validation` on each of `sku`, `price` and `stock` given.
    pub fn check_for(&self, variants: &VariantSet) -> Result<(), DomainError> {
        let message = if self.variants.is_some() {
            "must not be given with `variants`: each variant has its own"
        } else if variants.variants().len() == 1 {
            return Ok(());
        } else {
            "the product has several variants: change this on each variant"
        };
        let mut v = Validator::new();
        for (field, given) in [
            ("sku", self.sku.is_some()),
            ("price", self.price.is_some()),
            ("stock", self.stock.is_some()),
        ] {
            if given {
                v.push(FieldError::new(field, message));
            }
        }
        v.finish()
    }
}

impl Product {
    /// The product's SKU: its first variant's.
    pub fn sku(&self) -> &Sku {
        self.variants.first_sku()
    }

    /// The product's price: the lowest of its variants' ("from").
    pub fn price(&self) -> Money {
        self.variants.from_price()
    }

    /// Units on hand of all its variants together.
    pub fn stock(&self) -> u64 {
        self.variants.total_stock()
    }

    /// Applies `changes` and stamps `updated_at`; SKU, price and stock go to its only
    /// variant.
    ///
    /// # Errors
    /// What [`ProductChanges::check_for`] reports; then nothing changes.
    pub fn apply(
        &mut self,
        changes: ProductChanges,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        changes.check_for(&self.variants)?;
        if changes.touch_variant() {
            let id = self.variants.first().id;
            self.variants
                .change(
                    id,
                    VariantChanges {
                        sku: changes.sku,
                        price: changes.price,
                        stock: changes.stock,
                        ..VariantChanges::default()
                    },
                )
                .map_err(|e| match e {
                    VariantError::Invalid(e) => e,
                    other => DomainError::from(FieldError::new("variants", other.to_string())),
                })?;
        }
        if let Some(variants) = changes.variants {
            self.variants = variants;
        }
        if let Some(name) = changes.name {
            self.name = name;
        }
        if let Some(slug) = changes.slug {
            self.slug = slug;
        }
        if let Some(status) = changes.status {
            self.status = status;
        }
        if let Some(description) = changes.description {
            self.description = description;
        }
        self.updated_at = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sku_rules() {
        assert_eq!(Sku::parse(" AB-1.x_2 ").unwrap().as_str(), "AB-1.x_2");
        assert!(Sku::parse("").is_err());
        assert!(Sku::parse("has space").is_err());
        assert!(Sku::parse(&"a".repeat(65)).is_err());
        assert!(Sku::parse("ümlaut").is_err());
    }

    #[test]
    fn name_counts_characters_not_bytes() {
        assert!(ProductName::parse(&"é".repeat(200)).is_ok());
        assert!(ProductName::parse(&"é".repeat(201)).is_err());
        assert!(ProductName::parse("   ").is_err());
        assert!(ProductName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn stock_range() {
        assert!(Stock::new(-1).is_err());
        assert!(Stock::new(0).is_ok());
        assert!(Stock::new(1_000_000_000).is_ok());
        assert!(Stock::new(1_000_000_001).is_err());
    }

    proptest! {
        #[test]
        fn sku_parse_never_panics_and_round_trips(s in "\\PC*") {
            if let Ok(sku) = Sku::parse(&s) {
                prop_assert_eq!(Sku::parse(sku.as_str()).unwrap(), sku);
            }
        }

        #[test]
        fn name_parse_never_panics_and_round_trips(s in "\\PC*") {
            if let Ok(n) = ProductName::parse(&s) {
                prop_assert_eq!(ProductName::parse(n.as_str()).unwrap(), n);
            }
        }
    }

    fn sample() -> Product {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        Product {
            id: ProductId::new(),
            name: ProductName::parse("Blue Mug").unwrap(),
            slug: Slug::parse("blue-mug").unwrap(),
            status: ProductStatus::Active,
            description: None,
            variants: VariantSet::single(
                crate::ids::VariantId::new(),
                Sku::parse("MUG-1").unwrap(),
                Money::parse("9.50", crate::money::Currency::parse("EUR").unwrap()).unwrap(),
                Stock::new(3).unwrap(),
            ),
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn sku_price_and_stock_are_the_changes_that_touch_a_variant() {
        let eur = crate::money::Currency::parse("EUR").unwrap();
        assert!(!ProductChanges::default().touch_variant());
        let named = ProductChanges {
            name: Some(ProductName::parse("Mug").unwrap()),
            status: Some(ProductStatus::Draft),
            description: Some(None),
            ..ProductChanges::default()
        };
        assert!(!named.touch_variant());
        let sku = ProductChanges {
            sku: Some(Sku::parse("A-1").unwrap()),
            ..ProductChanges::default()
        };
        let price = ProductChanges {
            price: Some(Money::from_minor(100, eur).unwrap()),
            ..ProductChanges::default()
        };
        let stock = ProductChanges {
            stock: Some(Stock::new(4).unwrap()),
            ..ProductChanges::default()
        };
        for (name, c) in [("sku", &sku), ("price", &price), ("stock", &stock)] {
            assert!(c.touch_variant(), "{name}");
            // A product of one variant takes it; one of several refuses it, naming the field.
            assert_eq!(c.check_for(&sample().variants), Ok(()), "{name}");
            match c.check_for(&two_priced_variants()) {
                Err(DomainError::Validation(errors)) => {
                    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                    assert_eq!(fields, [name]);
                    assert_eq!(
                        errors[0].message,
                        "the product has several variants: change this on each variant"
                    );
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        let all = ProductChanges {
            sku: sku.sku.clone(),
            price: price.price,
            stock: stock.stock,
            ..ProductChanges::default()
        };
        match all.check_for(&two_priced_variants()) {
            Err(DomainError::Validation(errors)) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["sku", "price", "stock"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(named.check_for(&two_priced_variants()), Ok(()));
    }

    #[test]
    fn a_sku_holds_one_to_sixty_four_allowed_characters() {
        assert_eq!(Sku::parse("a").unwrap().as_str(), "a");
        assert_eq!(Sku::parse(&"A".repeat(64)).unwrap().as_str().len(), 64);
        assert_eq!(
            Sku::parse(&"A".repeat(65)).unwrap_err().message,
            "must be 1 to 64 characters"
        );
        assert_eq!(
            Sku::parse("   ").unwrap_err().message,
            "must be 1 to 64 characters"
        );
        for bad in ["a/b", "a b", "a,b", "ab!", "a+b"] {
            let e = Sku::parse(bad).unwrap_err();
            assert_eq!(e.field, "sku");
            assert!(e.message.starts_with("may hold only"), "{bad:?}");
        }
        assert!(Sku::parse("x-y_z.9").is_ok());
    }

    #[test]
    fn a_product_name_is_trimmed_and_refused_blank_long_or_with_control_characters() {
        assert_eq!(ProductName::parse("  Mug ").unwrap().as_str(), "Mug");
        assert_eq!(ProductName::parse("M").unwrap().as_str(), "M");
        assert_eq!(ProductName::parse("").unwrap_err().field, "name");
        // At an end too: refused, not trimmed away.
        for bad in ["a\tb", "Mug\n", "\rMug"] {
            assert_eq!(
                ProductName::parse(bad).unwrap_err().message,
                "must not contain control characters"
            );
        }
    }

    #[test]
    fn a_description_may_hold_ten_thousand_characters_and_line_breaks() {
        assert_eq!(Description::MAX_CHARS, 10_000);
        let longest = "é".repeat(10_000);
        assert_eq!(Description::parse(&longest).unwrap().as_str(), longest);
        let e = Description::parse(&"é".repeat(10_001)).unwrap_err();
        assert_eq!(e.field, "description");
        assert_eq!(e.message, "must be at most 10000 characters");
        assert_eq!(
            Description::parse("one\ntwo\r\nthree\tfour")
                .unwrap()
                .as_str(),
            "one\ntwo\r\nthree\tfour"
        );
        assert_eq!(Description::parse("").unwrap().as_str(), "");
        for bad in ["a\u{0}b", "a\u{1f}b", "\u{7f}"] {
            let e = Description::parse(bad).unwrap_err();
            assert!(e.message.starts_with("must not contain control"), "{bad:?}");
        }
    }

    #[test]
    fn a_status_is_one_of_three_exact_names_and_only_active_is_public() {
        assert_eq!(ProductStatus::default(), ProductStatus::Active);
        for (name, status, public) in [
            ("draft", ProductStatus::Draft, false),
            ("active", ProductStatus::Active, true),
            ("archived", ProductStatus::Archived, false),
        ] {
            assert_eq!(ProductStatus::parse(name), Ok(status));
            assert_eq!(status.as_str(), name);
            assert_eq!(status.is_public(), public, "{name}");
        }
        for bad in ["", " active", "Active", "ACTIVE", "deleted", "active "] {
            assert_eq!(
                ProductStatus::parse(bad),
                Err(FieldError::new(
                    "status",
                    "must be one of draft, active, archived"
                )),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn stock_keeps_its_count() {
        assert_eq!(Stock::new(0).unwrap().get(), 0);
        assert_eq!(Stock::new(7).unwrap().get(), 7);
        assert_eq!(Stock::new(Stock::MAX).unwrap().get(), 1_000_000_000);
        assert_eq!(Stock::new(-1).unwrap_err().field, "stock");
    }

    #[test]
    fn applying_changes_sets_each_named_field_and_the_time_only() {
        let mut p = sample();
        let before = p.clone();
        let later = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        p.apply(ProductChanges::default(), later).unwrap();
        assert_eq!(p.updated_at, later);
        assert_eq!((&p.slug, p.status), (&before.slug, before.status));
        assert_eq!(
            (p.sku(), &p.name, &p.description, p.price(), p.stock()),
            (
                before.sku(),
                &before.name,
                &before.description,
                before.price(),
                before.stock()
            )
        );
        assert_eq!(p.created_at, before.created_at);

        let eur = crate::money::Currency::parse("EUR").unwrap();
        p.apply(
            ProductChanges {
                sku: Some(Sku::parse("MUG-2").unwrap()),
                name: Some(ProductName::parse("Red Mug").unwrap()),
                slug: Some(Slug::parse("red-mug").unwrap()),
                status: Some(ProductStatus::Draft),
                description: Some(Some(Description::parse("Big").unwrap())),
                price: Some(Money::parse("12.00", eur).unwrap()),
                stock: Some(Stock::new(9).unwrap()),
                category_ids: None,
                variants: None,
            },
            later,
        )
        .unwrap();
        assert_eq!(p.sku().as_str(), "MUG-2");
        assert_eq!(p.name.as_str(), "Red Mug");
        assert_eq!(p.slug.as_str(), "red-mug");
        assert_eq!(p.status, ProductStatus::Draft);
        assert_eq!(p.description.as_ref().map(Description::as_str), Some("Big"));
        assert_eq!(p.price().minor(), 1200);
        assert_eq!(p.stock(), 9);

        p.apply(
            ProductChanges {
                description: Some(None),
                ..ProductChanges::default()
            },
            later,
        )
        .unwrap();
        assert_eq!(p.description, None);
        assert_eq!(p.name.as_str(), "Red Mug");
    }

    fn two_priced_variants() -> VariantSet {
        let options = crate::variant::ProductOptions::parse(&[crate::variant::OptionInput {
            name: "Size".into(),
            values: vec!["S".into(), "M".into()],
        }])
        .unwrap();
        let eur = crate::money::Currency::parse("EUR").unwrap();
        let variants = ["S", "M"]
            .iter()
            .enumerate()
            .map(|(i, size)| {
                let mut v = Validator::new();
                let option_values = crate::variant::OptionValues::parse(
                    &mut v,
                    "option_values",
                    &options,
                    [("Size", *size)],
                )
                .unwrap();
                crate::variant::Variant {
                    id: crate::ids::VariantId::new(),
                    sku: Sku::parse(&format!("TEE-{size}")).unwrap(),
                    option_values,
                    price: Money::from_minor(1000 + i64::try_from(i).unwrap(), eur).unwrap(),
                    compare_at_price: None,
                    stock: Stock::new(2).unwrap(),
                    position: crate::category::Position::default(),
                }
            })
            .collect();
        VariantSet::new(options, variants).unwrap()
    }

    #[test]
    fn a_new_variant_set_replaces_the_variants_and_refuses_product_level_sku_price_stock() {
        let later = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        let mut p = sample();
        p.apply(
            ProductChanges {
                variants: Some(two_priced_variants()),
                ..ProductChanges::default()
            },
            later,
        )
        .unwrap();
        assert_eq!(p.variants.variants().len(), 2);
        assert_eq!((p.price().minor(), p.stock()), (1000, 4));

        let eur = crate::money::Currency::parse("EUR").unwrap();
        let mut q = sample();
        let before = q.clone();
        let e = q
            .apply(
                ProductChanges {
                    sku: Some(Sku::parse("X").unwrap()),
                    price: Some(Money::from_minor(1, eur).unwrap()),
                    stock: Some(Stock::new(1).unwrap()),
                    variants: Some(two_priced_variants()),
                    ..ProductChanges::default()
                },
                later,
            )
            .unwrap_err();
        let given = "must not be given with `variants`: each variant has its own";
        assert_eq!(
            e,
            DomainError::Validation(vec![
                FieldError::new("sku", given),
                FieldError::new("price", given),
                FieldError::new("stock", given),
            ])
        );
        assert_eq!(q, before, "nothing changed");

        // A product of several variants refuses them with the other reason.
        let several = "the product has several variants: change this on each variant";
        assert_eq!(
            p.apply(
                ProductChanges {
                    stock: Some(Stock::new(1).unwrap()),
                    ..ProductChanges::default()
                },
                later,
            ),
            Err(DomainError::Validation(vec![FieldError::new(
                "stock", several
            )]))
        );
    }
}
