use std::fmt;

use crate::error::{DomainError, FieldError};

/// ISO 4217 currencies this shop prices in, with their minor digits. A code outside this
/// list is refused rather than guessed at: the number of minor digits decides how amounts parse.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AUD", 2),
    ("BGN", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PHP", 2),
    ("PLN", 2),
    ("RON", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("USD", 2),
    ("VND", 0),
    ("ZAR", 2),
];

/// An ISO 4217 currency the shop knows, with its number of minor digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    minor_digits: u8,
}

impl Currency {
    /// Parses an upper-case ISO 4217 code such as `EUR`.
    ///
    /// # Errors
    /// A `FieldError` on `currency` for an unknown or malformed code.
    pub fn parse(code: &str) -> Result<Self, FieldError> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|&(code, minor_digits)| Self { code, minor_digits })
            .ok_or_else(|| {
                FieldError::new(
                    "currency",
                    "must be a supported ISO 4217 currency code in upper case, such as EUR or USD",
                )
            })
    }

    /// The three-letter code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Digits after the decimal point (2 for EUR, 0 for JPY).
    pub fn minor_digits(&self) -> u8 {
        self.minor_digits
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// A non-negative amount of one currency, held in integer minor units (cents); never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// Largest amount in minor units; leaves headroom so sums of many lines stay in `i64`.
    pub const MAX_MINOR: i64 = 1_000_000_000_000_000;

    /// Money from minor units.
    ///
    /// # Errors
    /// A `FieldError` on `amount` when negative or above [`Money::MAX_MINOR`].
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Self, FieldError> {
        if minor < 0 {
            return Err(FieldError::new("amount", "must not be negative"));
        }
        if minor > Self::MAX_MINOR {
            return Err(FieldError::new("amount", "is too large"));
        }
        Ok(Self { minor, currency })
    }

    /// Parses a decimal string such as `19.99` with at most the currency's minor digits.
    ///
    /// # Errors
    /// A `FieldError` on `amount` for anything but a plain non-negative decimal in range.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, FieldError> {
        let digits = usize::from(currency.minor_digits);
        let invalid = || {
            let example = if digits == 0 {
                "such as 1500".to_owned()
            } else {
                format!("such as 19.{}", "9".repeat(digits))
            };
            FieldError::new(
                "amount",
                format!(
                    "must be a decimal string with at most {digits} digits after the point, {example}"
                ),
            )
        };
        if amount.starts_with('-') {
            return Err(FieldError::new("amount", "must not be negative"));
        }
        let (whole, fraction) = match amount.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (amount, None),
        };
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let fraction = match fraction {
            None => "",
            Some(f)
                if !f.is_empty() && f.len() <= digits && f.bytes().all(|b| b.is_ascii_digit()) =>
            {
                f
            }
            Some(_) => return Err(invalid()),
        };
        let too_large = || FieldError::new("amount", "is too large");
        let whole = whole.trim_start_matches('0');
        if whole.len() > 19 {
            return Err(too_large());
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_large())?
        };
        let mut frac: i64 = if fraction.is_empty() {
            0
        } else {
            fraction.parse().map_err(|_| invalid())?
        };
        for _ in fraction.len()..digits {
            frac *= 10;
        }
        let minor = 10_i64
            .checked_pow(u32::from(currency.minor_digits))
            .and_then(|scale| whole.checked_mul(scale))
            .and_then(|m| m.checked_add(frac))
            .ok_or_else(too_large)?;
        Self::from_minor(minor, currency)
    }

    /// Zero of `currency`.
    pub fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    /// Amount in minor units.
    pub fn minor(&self) -> i64 {
        self.minor
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount as a decimal string with exactly the currency's minor digits.
    pub fn amount_string(&self) -> String {
        let digits = u32::from(self.currency.minor_digits);
        if digits == 0 {
            return self.minor.to_string();
        }
        let scale = 10_i64.pow(digits);
        format!(
            "{}.{:0width$}",
            self.minor / scale,
            self.minor % scale,
            width = digits as usize
        )
    }

    /// The sum of two amounts of one currency.
    ///
    /// # Errors
    /// `CurrencyMismatch` for different currencies, `Overflow` past [`Money::MAX_MINOR`].
    pub fn checked_add(self, other: Money) -> Result<Money, DomainError> {
        if self.currency != other.currency {
            return Err(DomainError::CurrencyMismatch(
                self.currency.code.to_owned(),
                other.currency.code.to_owned(),
            ));
        }
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(DomainError::Overflow)?;
        Money::from_minor(minor, self.currency).map_err(|_| DomainError::Overflow)
    }

    /// This amount less `other`, of one currency; money never goes below zero, so taking more
    /// than there is is refused rather than clamped.
    ///
    /// # Errors
    /// `CurrencyMismatch` for different currencies, `Overflow` when `other` is the larger.
    pub fn checked_sub(self, other: Money) -> Result<Money, DomainError> {
        if self.currency != other.currency {
            return Err(DomainError::CurrencyMismatch(
                self.currency.code.to_owned(),
                other.currency.code.to_owned(),
            ));
        }
        Money::from_minor(self.minor - other.minor, self.currency)
            .map_err(|_| DomainError::Overflow)
    }

    /// This amount times a whole quantity.
    ///
    /// # Errors
    /// `Overflow` past [`Money::MAX_MINOR`].
    pub fn checked_mul(self, quantity: u32) -> Result<Money, DomainError> {
        let minor = self
            .minor
            .checked_mul(i64::from(quantity))
            .ok_or(DomainError::Overflow)?;
        Money::from_minor(minor, self.currency).map_err(|_| DomainError::Overflow)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount_string(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn jpy() -> Currency {
        Currency::parse("JPY").unwrap()
    }

    #[test]
    fn parses_decimal_amounts_into_minor_units() {
        assert_eq!(Money::parse("19.99", eur()).unwrap().minor(), 1999);
        assert_eq!(Money::parse("19.9", eur()).unwrap().minor(), 1990);
        assert_eq!(Money::parse("19", eur()).unwrap().minor(), 1900);
        assert_eq!(Money::parse("0.05", eur()).unwrap().minor(), 5);
        assert_eq!(Money::parse("1500", jpy()).unwrap().minor(), 1500);
    }

    #[test]
    fn refuses_malformed_negative_and_over_precise_amounts() {
        for bad in [
            "", "-1", "-0.01", "1.999", "1.", ".5", "1e3", "abc", " 1", "1,00", "+1", "NaN", "1.-1",
        ] {
            assert!(Money::parse(bad, eur()).is_err(), "{bad:?} was accepted");
        }
        assert!(Money::parse("1.5", jpy()).is_err());
        assert!(Money::parse("99999999999999999999999999", eur()).is_err());
    }

    #[test]
    fn formats_with_exactly_the_minor_digits() {
        assert_eq!(
            Money::parse("19.9", eur()).unwrap().amount_string(),
            "19.90"
        );
        assert_eq!(Money::parse("0", eur()).unwrap().amount_string(), "0.00");
        assert_eq!(Money::parse("1500", jpy()).unwrap().amount_string(), "1500");
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(Money::parse("1.5", kwd).unwrap().amount_string(), "1.500");
    }

    #[test]
    fn refuses_unknown_and_lower_case_currencies() {
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("XXX").is_err());
        assert!(Currency::parse("").is_err());
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies() {
        let a = Money::parse("1", eur()).unwrap();
        let b = Money::parse("1", Currency::parse("USD").unwrap()).unwrap();
        assert!(matches!(
            a.checked_add(b),
            Err(DomainError::CurrencyMismatch(..))
        ));
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = Money::parse(&s, eur());
            let _ = Money::parse(&s, jpy());
        }

        #[test]
        fn parse_never_panics_on_numeric_looking_input(s in "[-+0-9.]{0,40}") {
            let _ = Money::parse(&s, eur());
        }

        #[test]
        fn string_form_round_trips(minor in 0..=Money::MAX_MINOR) {
            for c in [eur(), jpy()] {
                let m = Money::from_minor(minor, c).unwrap();
                prop_assert_eq!(Money::parse(&m.amount_string(), c).unwrap(), m);
            }
        }

        #[test]
        fn addition_is_exact_or_refused(a in 0..=Money::MAX_MINOR, b in 0..=Money::MAX_MINOR) {
            let x = Money::from_minor(a, eur()).unwrap();
            let y = Money::from_minor(b, eur()).unwrap();
            match x.checked_add(y) {
                Ok(s) => prop_assert_eq!(s.minor(), a + b),
                Err(e) => {
                    prop_assert_eq!(e, DomainError::Overflow);
                    prop_assert!(a + b > Money::MAX_MINOR);
                }
            }
        }

        #[test]
        fn multiplication_is_exact_or_refused(a in 0..=Money::MAX_MINOR, q in 0u32..=1000) {
            let x = Money::from_minor(a, eur()).unwrap();
            match x.checked_mul(q) {
                Ok(s) => prop_assert_eq!(i128::from(s.minor()), i128::from(a) * i128::from(q)),
                Err(_) => prop_assert!(i128::from(a) * i128::from(q) > i128::from(Money::MAX_MINOR)),
            }
        }
    }

    #[test]
    fn from_minor_accepts_zero_to_the_maximum_and_nothing_past_either_end() {
        assert_eq!(Money::from_minor(0, eur()).unwrap().minor(), 0);
        assert_eq!(
            Money::from_minor(Money::MAX_MINOR, eur()).unwrap().minor(),
            1_000_000_000_000_000
        );
        let e = Money::from_minor(Money::MAX_MINOR + 1, eur()).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("amount", "is too large")
        );
        let e = Money::from_minor(-1, eur()).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("amount", "must not be negative")
        );
    }

    #[test]
    fn parse_accepts_the_largest_amount_and_refuses_one_minor_unit_more() {
        assert_eq!(
            Money::parse("10000000000000.00", eur()).unwrap().minor(),
            Money::MAX_MINOR
        );
        assert!(Money::parse("10000000000000.01", eur()).is_err());
        assert_eq!(
            Money::parse("1000000000000000", jpy()).unwrap().minor(),
            Money::MAX_MINOR
        );
        assert!(Money::parse("1000000000000001", jpy()).is_err());
        assert_eq!(
            Money::parse("0000000000000000000000001.5", eur())
                .unwrap()
                .minor(),
            150
        );
    }

    #[test]
    fn parse_errors_name_the_amount_and_show_an_example_of_the_currency() {
        let e = Money::parse("1.999", eur()).unwrap_err();
        assert_eq!(e.field, "amount");
        assert_eq!(
            e.message,
            "must be a decimal string with at most 2 digits after the point, such as 19.99"
        );
        let e = Money::parse("1.5", jpy()).unwrap_err();
        assert_eq!(
            e.message,
            "must be a decimal string with at most 0 digits after the point, such as 1500"
        );
        assert_eq!(
            Money::parse("-5", eur()).unwrap_err().message,
            "must not be negative"
        );
        assert_eq!(
            Money::parse("99999999999999999999999999", eur())
                .unwrap_err()
                .message,
            "is too large"
        );
    }

    #[test]
    fn three_digit_currencies_scale_short_fractions() {
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(kwd.minor_digits(), 3);
        assert_eq!(Money::parse("1.5", kwd).unwrap().minor(), 1500);
        assert_eq!(Money::parse("1.05", kwd).unwrap().minor(), 1050);
        assert_eq!(Money::parse("1.005", kwd).unwrap().minor(), 1005);
        assert_eq!(Money::parse("0.001", kwd).unwrap().amount_string(), "0.001");
    }

    #[test]
    fn currencies_know_their_code_and_minor_digits() {
        assert_eq!(eur().code(), "EUR");
        assert_eq!(eur().minor_digits(), 2);
        assert_eq!(jpy().code(), "JPY");
        assert_eq!(jpy().minor_digits(), 0);
        assert_eq!(eur().to_string(), "EUR");
        assert_eq!(Currency::parse("CLP").unwrap().minor_digits(), 0);
    }

    #[test]
    fn money_prints_its_amount_and_currency() {
        assert_eq!(
            Money::parse("19.99", eur()).unwrap().to_string(),
            "19.99 EUR"
        );
        assert_eq!(Money::parse("0.05", eur()).unwrap().to_string(), "0.05 EUR");
        assert_eq!(Money::parse("1500", jpy()).unwrap().to_string(), "1500 JPY");
        assert_eq!(Money::zero(eur()).to_string(), "0.00 EUR");
        assert_eq!(Money::zero(jpy()).currency(), jpy());
        assert_eq!(Money::zero(jpy()).minor(), 0);
    }

    #[test]
    fn differences_are_exact_and_never_negative() {
        let a = Money::parse("2.50", eur()).unwrap();
        let b = Money::parse("0.75", eur()).unwrap();
        assert_eq!(a.checked_sub(b).unwrap().minor(), 175);
        assert_eq!(a.checked_sub(a).unwrap(), Money::zero(eur()));
        assert_eq!(a.checked_sub(b).unwrap().currency(), eur());
        assert_eq!(b.checked_sub(a), Err(DomainError::Overflow));
        let usd = Money::parse("1", Currency::parse("USD").unwrap()).unwrap();
        assert_eq!(
            a.checked_sub(usd),
            Err(DomainError::CurrencyMismatch("EUR".into(), "USD".into()))
        );
    }

    #[test]
    fn sums_and_products_are_exact_up_to_the_maximum_and_overflow_past_it() {
        let a = Money::parse("2.50", eur()).unwrap();
        let b = Money::parse("0.75", eur()).unwrap();
        assert_eq!(a.checked_add(b).unwrap().minor(), 325);
        assert_eq!(a.checked_add(b).unwrap().currency(), eur());
        assert_eq!(a.checked_mul(3).unwrap().minor(), 750);
        assert_eq!(a.checked_mul(0).unwrap().minor(), 0);
        assert_eq!(a.checked_mul(1).unwrap().minor(), 250);
        let max = Money::from_minor(Money::MAX_MINOR, eur()).unwrap();
        let one = Money::from_minor(1, eur()).unwrap();
        assert_eq!(max.checked_add(Money::zero(eur())).unwrap(), max);
        assert_eq!(max.checked_add(one), Err(DomainError::Overflow));
        assert_eq!(max.checked_mul(1).unwrap(), max);
        assert_eq!(max.checked_mul(2), Err(DomainError::Overflow));
        let usd = Money::parse("1", Currency::parse("USD").unwrap()).unwrap();
        assert_eq!(
            a.checked_add(usd),
            Err(DomainError::CurrencyMismatch("EUR".into(), "USD".into()))
        );
    }
}
