//! Percentages as exact decimals: a discount's percent and a tax rate, never a float.

use std::fmt;

use crate::error::FieldError;

/// A percentage from 0 to 100 with at most four digits after the point (`"19.0"`, `"12.5"`,
/// `"7.6875"`), held exactly as ten-thousandths of a percent so applying it never goes
/// through a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent(u32);

impl Percent {
    /// Digits after the point a percentage may have.
    pub const FRACTION_DIGITS: usize = 4;
    /// Ten-thousandths of a percent in one percent.
    pub const SCALE: u32 = 10_000;
    /// 100 %, in ten-thousandths of a percent.
    pub const MAX_SCALED: u32 = 100 * Self::SCALE;

    /// Parses a plain decimal string from `0` to `100` with at most four digits after the
    /// point. No sign, exponent, spaces or `%`.
    ///
    /// # Errors
    /// A `FieldError` on `value` for anything else.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let invalid = || {
            FieldError::new(
                "value",
                "must be a decimal string from 0 to 100 with at most 4 digits after the point, such as 12.5",
            )
        };
        let (whole, fraction) = match s.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (s, None),
        };
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) {
            return Err(invalid());
        }
        let fraction = match fraction {
            None => "",
            Some(f) if digits(f) && f.len() <= Self::FRACTION_DIGITS => f,
            Some(_) => return Err(invalid()),
        };
        let whole = whole.trim_start_matches('0');
        // More than three whole digits is above 100 whatever they are (leading zeros are gone).
        if whole.len() > 3 {
            return Err(invalid());
        }
        let whole: u32 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid())?
        };
        let mut frac: u32 = if fraction.is_empty() {
            0
        } else {
            fraction.parse().map_err(|_| invalid())?
        };
        for _ in fraction.len()..Self::FRACTION_DIGITS {
            frac *= 10;
        }
        Self::from_scaled(whole * Self::SCALE + frac).ok_or_else(invalid)
    }

    /// A percentage from ten-thousandths of a percent (`125_000` is 12.5 %); `None` above 100 %.
    pub fn from_scaled(scaled: u32) -> Option<Self> {
        (scaled <= Self::MAX_SCALED).then_some(Self(scaled))
    }

    /// Ten-thousandths of a percent.
    pub fn scaled(&self) -> u32 {
        self.0
    }

    /// Whether this is 0 %.
    pub fn is_zero(&self) -> bool {
        self.0 == 0
    }
}

/// The shortest decimal form with at least one digit after the point: `19.0`, `12.5`, `7.25`.
impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / Self::SCALE;
        let frac = format!(
            "{:0width$}",
            self.0 % Self::SCALE,
            width = Self::FRACTION_DIGITS
        );
        let frac = frac.trim_end_matches('0');
        let frac = if frac.is_empty() { "0" } else { frac };
        write!(f, "{whole}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_decimal_percentages_exactly() {
        assert_eq!(Percent::parse("19.0").unwrap().scaled(), 190_000);
        assert_eq!(Percent::parse("12.5").unwrap().scaled(), 125_000);
        assert_eq!(Percent::parse("7.6875").unwrap().scaled(), 76_875);
        assert_eq!(Percent::parse("100").unwrap().scaled(), 1_000_000);
        assert_eq!(Percent::parse("100.0000").unwrap().scaled(), 1_000_000);
        assert_eq!(Percent::parse("0").unwrap().scaled(), 0);
        assert_eq!(Percent::parse("0.0001").unwrap().scaled(), 1);
        assert_eq!(Percent::parse("0099.9").unwrap().scaled(), 999_000);
        assert_eq!(Percent::parse("5.05").unwrap().scaled(), 50_500);
    }

    #[test]
    fn refuses_anything_but_a_plain_decimal_from_0_to_100() {
        for bad in [
            "",
            "-1",
            "100.0001",
            "101",
            "1000",
            "12.34567",
            "1.",
            ".5",
            "1e2",
            "12,5",
            " 12",
            "12 ",
            "+5",
            "12.5%",
            "NaN",
            "1.2.3",
            "99999999999",
            "1000000",
            "0001000.5",
        ] {
            let e = Percent::parse(bad).unwrap_err();
            assert_eq!(e.field, "value", "{bad:?}");
        }
        assert_eq!(
            Percent::parse("x").unwrap_err().message,
            "must be a decimal string from 0 to 100 with at most 4 digits after the point, such as 12.5"
        );
    }

    #[test]
    fn prints_the_shortest_form_with_one_digit_after_the_point() {
        for (input, shown) in [
            ("19", "19.0"),
            ("19.0", "19.0"),
            ("12.50", "12.5"),
            ("7.25", "7.25"),
            ("0.0001", "0.0001"),
            ("100", "100.0"),
            ("0", "0.0"),
            ("10.1", "10.1"),
        ] {
            assert_eq!(Percent::parse(input).unwrap().to_string(), shown);
        }
    }

    #[test]
    fn from_scaled_stops_at_100_percent() {
        assert_eq!(Percent::from_scaled(1_000_000).unwrap().scaled(), 1_000_000);
        assert_eq!(Percent::from_scaled(1_000_001), None);
        assert!(Percent::from_scaled(0).unwrap().is_zero());
        assert!(!Percent::from_scaled(1).unwrap().is_zero());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "[-+0-9.e]{0,20}") {
            let _ = Percent::parse(&s);
        }

        #[test]
        fn printed_form_parses_back(scaled in 0u32..=1_000_000) {
            let p = Percent::from_scaled(scaled).unwrap();
            prop_assert_eq!(Percent::parse(&p.to_string()).unwrap(), p);
        }
    }
}
