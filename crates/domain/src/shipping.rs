//! Shipping options: a price by destination country, free over a threshold.

use chrono::{DateTime, Utc};

use crate::address::CountryCode;
use crate::error::{DomainError, FieldError, Validator};
use crate::ids::ShippingOptionId;
use crate::money::Money;

/// What an option charges: `price`, or nothing once the cart's subtotal after discount reaches
/// `free_over`. Both amounts are in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShippingPrice {
    price: Money,
    free_over: Option<Money>,
}

impl ShippingPrice {
    /// Pairs a price with its free-shipping threshold.
    ///
    /// # Errors
    /// A `FieldError` on `free_over.currency` when the threshold is in another currency.
    pub fn new(price: Money, free_over: Option<Money>) -> Result<Self, FieldError> {
        if let Some(f) = free_over
            && f.currency() != price.currency()
        {
            return Err(FieldError::new(
                "free_over.currency",
                "must be the currency of price",
            ));
        }
        Ok(Self { price, free_over })
    }

    /// The price when not free.
    pub fn price(&self) -> Money {
        self.price
    }

    /// Subtotal after discount from which shipping is free.
    pub fn free_over(&self) -> Option<Money> {
        self.free_over
    }
}

/// The name customers choose an option by: 1..=100 characters, not blank, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingOptionName(String);

impl ShippingOptionName {
    /// Parses a name after trimming it.
    ///
    /// # Errors
    /// A `FieldError` on `name`.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        match crate::text::one_line(s) {
            Some(s) if !s.is_empty() && s.chars().count() <= 100 => Ok(Self(s.to_owned())),
            _ => Err(FieldError::new(
                "name",
                "must be 1 to 100 characters, without control characters",
            )),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A way to ship: offered to addresses in `countries` (at least one, no repeats, kept in the
/// order given) at `price`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingOption {
    name: ShippingOptionName,
    countries: Vec<CountryCode>,
    price: ShippingPrice,
    active: bool,
}

impl ShippingOption {
    /// Checks that there is at least one country and none twice.
    ///
    /// # Errors
    /// `DomainError::Validation` on `countries`.
    pub fn new(
        name: ShippingOptionName,
        countries: Vec<CountryCode>,
        price: ShippingPrice,
        active: bool,
    ) -> Result<Self, DomainError> {
        let mut v = Validator::new();
        if countries.is_empty() {
            v.push(FieldError::new(
                "countries",
                "must name at least one country",
            ));
        }
        for (i, c) in countries.iter().enumerate() {
            if countries[..i].contains(c) {
                v.push(FieldError::new(
                    format!("countries[{i}]"),
                    format!("{} is already in the list", c.as_str()),
                ));
            }
        }
        v.finish()?;
        Ok(Self {
            name,
            countries,
            price,
            active,
        })
    }

    /// The name.
    pub fn name(&self) -> &ShippingOptionName {
        &self.name
    }

    /// Countries it ships to.
    pub fn countries(&self) -> &[CountryCode] {
        &self.countries
    }

    /// What it charges.
    pub fn price(&self) -> ShippingPrice {
        self.price
    }

    /// Switched on.
    pub fn active(&self) -> bool {
        self.active
    }

    /// Whether a cart shipping to `country` may choose it: active, and `country` is listed.
    pub fn serves(&self, country: CountryCode) -> bool {
        self.active && self.countries.contains(&country)
    }
}

/// A shipping option as the shop keeps it, named by `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingOptionRecord {
    /// Id.
    pub id: ShippingOptionId,
    /// Its name, countries, price and state.
    pub option: ShippingOption,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn eur(s: &str) -> Money {
        Money::parse(s, Currency::parse("EUR").unwrap()).unwrap()
    }

    fn cc(s: &str) -> CountryCode {
        CountryCode::parse(s).unwrap()
    }

    #[test]
    fn a_threshold_is_in_the_currency_of_the_price() {
        let p = ShippingPrice::new(eur("4.90"), Some(eur("50"))).unwrap();
        assert_eq!(p.price(), eur("4.90"));
        assert_eq!(p.free_over(), Some(eur("50")));
        assert_eq!(
            ShippingPrice::new(eur("4.90"), None).unwrap().free_over(),
            None
        );
        let usd = Money::parse("50", Currency::parse("USD").unwrap()).unwrap();
        let e = ShippingPrice::new(eur("4.90"), Some(usd)).unwrap_err();
        assert_eq!(e.field, "free_over.currency");
        assert_eq!(e.message, "must be the currency of price");
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            ShippingOptionName::parse("  Standard ").unwrap().as_str(),
            "Standard"
        );
        assert!(ShippingOptionName::parse(&"é".repeat(100)).is_ok());
        // A control character at an end is refused too, not trimmed away.
        for bad in [
            "",
            "   ",
            "a\nb",
            "Standard\n",
            "\tStandard",
            &"x".repeat(101),
        ] {
            assert_eq!(ShippingOptionName::parse(bad).unwrap_err().field, "name");
        }
    }

    #[test]
    fn an_option_serves_its_countries_while_active() {
        let price = ShippingPrice::new(eur("4.90"), None).unwrap();
        let name = ShippingOptionName::parse("Standard").unwrap();
        let o = ShippingOption::new(name.clone(), vec![cc("DE"), cc("AT")], price, true).unwrap();
        assert!(o.serves(cc("AT")));
        assert!(!o.serves(cc("FR")));
        assert_eq!(o.name().as_str(), "Standard");
        assert_eq!(o.countries(), [cc("DE"), cc("AT")]);
        assert_eq!(o.price(), price);
        assert!(o.active());
        let off = ShippingOption::new(name.clone(), vec![cc("DE")], price, false).unwrap();
        assert!(!off.serves(cc("DE")));
        assert!(!off.active());
        let e = ShippingOption::new(name.clone(), vec![], price, true).unwrap_err();
        assert_eq!(
            e,
            DomainError::Validation(vec![FieldError::new(
                "countries",
                "must name at least one country"
            )])
        );
        let e =
            ShippingOption::new(name, vec![cc("DE"), cc("AT"), cc("DE")], price, true).unwrap_err();
        assert_eq!(
            e,
            DomainError::Validation(vec![FieldError::new(
                "countries[2]",
                "DE is already in the list"
            )])
        );
    }
}
