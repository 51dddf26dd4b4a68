//! Tax rates by country, and by state where a rate names one. Prices are before tax.

use chrono::{DateTime, Utc};

use crate::address::CountryCode;
use crate::error::{DomainError, FieldError, Validator};
use crate::ids::TaxRateId;
use crate::percent::Percent;

/// The tax of one country, or of one state of it: at most one per country and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRate {
    country: CountryCode,
    state: Option<String>,
    rate: Percent,
    name: String,
}

fn text(v: &mut Validator, field: &str, s: &str) -> Option<String> {
    match crate::text::one_line(s) {
        Some(s) if !s.is_empty() && s.chars().count() <= 100 => Some(s.to_owned()),
        _ => {
            v.push(FieldError::new(
                field,
                "must be 1 to 100 characters, without control characters",
            ));
            None
        }
    }
}

impl TaxRate {
    /// A rate of `country` (and `state`, when given); `state` and `name` are trimmed, 1..=100
    /// characters.
    ///
    /// # Errors
    /// `DomainError::Validation` on `state` or `name`.
    pub fn new(
        country: CountryCode,
        state: Option<&str>,
        rate: Percent,
        name: &str,
    ) -> Result<Self, DomainError> {
        let mut v = Validator::new();
        let state = state.map(|s| text(&mut v, "state", s));
        let name = text(&mut v, "name", name);
        v.finish()?;
        Ok(Self {
            country,
            state: state.flatten(),
            rate,
            name: name.unwrap_or_default(),
        })
    }

    /// The country.
    pub fn country(&self) -> CountryCode {
        self.country
    }

    /// The state, province or region it is limited to.
    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }

    /// The percent.
    pub fn rate(&self) -> Percent {
        self.rate
    }

    /// What an invoice calls it (`VAT`, `Sales tax`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key that is unique among rates: the country and the state in lower case (states
    /// compare case-insensitively, as addresses spell them freely).
    pub fn key(&self) -> (CountryCode, Option<String>) {
        (self.country, self.state.as_deref().map(str::to_lowercase))
    }
}

/// A tax rate as the shop keeps it, named by `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRateRecord {
    /// Id.
    pub id: TaxRateId,
    /// Its country, state, percent and name.
    pub rate: TaxRate,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn de() -> CountryCode {
        CountryCode::parse("DE").unwrap()
    }

    #[test]
    fn a_rate_keeps_its_parts_trimmed() {
        let r = TaxRate::new(
            de(),
            Some(" Bayern "),
            Percent::parse("19.0").unwrap(),
            " VAT ",
        )
        .unwrap();
        assert_eq!(r.country(), de());
        assert_eq!(r.state(), Some("Bayern"));
        assert_eq!(r.rate(), Percent::parse("19").unwrap());
        assert_eq!(r.name(), "VAT");
        assert_eq!(r.key(), (de(), Some("bayern".to_owned())));
        let country_only = TaxRate::new(de(), None, Percent::parse("19").unwrap(), "VAT").unwrap();
        assert_eq!(country_only.state(), None);
        assert_eq!(country_only.key(), (de(), None));
    }

    #[test]
    fn blank_or_long_states_and_names_are_refused_together() {
        let e = TaxRate::new(
            de(),
            Some(" "),
            Percent::parse("19").unwrap(),
            &"x".repeat(101),
        )
        .unwrap_err();
        let msg = "must be 1 to 100 characters, without control characters";
        assert_eq!(
            e,
            DomainError::Validation(vec![
                FieldError::new("state", msg),
                FieldError::new("name", msg)
            ])
        );
        assert!(TaxRate::new(de(), None, Percent::parse("19").unwrap(), &"x".repeat(100)).is_ok());
        assert!(TaxRate::new(de(), None, Percent::parse("19").unwrap(), "a\tb").is_err());
        // A control character at an end is refused too, not trimmed away.
        assert!(TaxRate::new(de(), None, Percent::parse("19").unwrap(), "VAT\n").is_err());
    }
}
