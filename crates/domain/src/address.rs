//! Postal addresses: the shipping address of an order, as a client sends it and as checked.

use crate::error::{FieldError, Validator};

/// ISO 3166-1 alpha-2 codes officially assigned.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ \
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ \
DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR \
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY \
HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP \
KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY \
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ \
NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA \
RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ \
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ \
VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Parses an assigned code such as `DE`; lower case is accepted and upper-cased.
    ///
    /// # Errors
    /// A `FieldError` on `country` for anything else.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let up = s.trim().to_ascii_uppercase();
        if up.len() == 2
            && up.bytes().all(|b| b.is_ascii_uppercase())
            && COUNTRIES.split(' ').any(|c| c == up)
        {
            let b = up.as_bytes();
            Ok(Self([b[0], b[1]]))
        } else {
            Err(FieldError::new(
                "country",
                "must be an ISO 3166-1 alpha-2 country code, such as DE",
            ))
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

/// A postal address: required lines are non-blank, every part at most 200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Street and number.
    pub line1: String,
    /// More of it.
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// Postal code.
    pub postal_code: String,
    /// Country.
    pub country: CountryCode,
    /// State, province or region.
    pub state: Option<String>,
}

/// The parts of an address as a client sent them.
#[derive(Debug, Clone, Default)]
pub struct AddressInput {
    /// Street and number.
    pub line1: String,
    /// More of it.
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// State, province or region.
    pub state: Option<String>,
}

fn address_part(
    v: &mut Validator,
    field: String,
    s: &str,
    required: bool,
) -> Option<Option<String>> {
    let Some(s) = crate::text::one_line(s) else {
        v.push(FieldError::new(
            field,
            "must be at most 200 characters, without control characters",
        ));
        return None;
    };
    if s.is_empty() {
        if required {
            v.push(FieldError::new(field, "must not be empty"));
            return None;
        }
        return Some(None);
    }
    if s.chars().count() > 200 {
        v.push(FieldError::new(
            field,
            "must be at most 200 characters, without control characters",
        ));
        return None;
    }
    Some(Some(s.to_owned()))
}

impl Address {
    /// Checks every part, reporting each bad one under `prefix` (e.g. `shipping_address`).
    pub fn parse(v: &mut Validator, prefix: &str, input: &AddressInput) -> Option<Self> {
        let line1 = address_part(v, format!("{prefix}.line1"), &input.line1, true);
        let line2 = address_part(
            v,
            format!("{prefix}.line2"),
            input.line2.as_deref().unwrap_or(""),
            false,
        );
        let city = address_part(v, format!("{prefix}.city"), &input.city, true);
        let postal_code =
            address_part(v, format!("{prefix}.postal_code"), &input.postal_code, true);
        let country = v.check(
            &format!("{prefix}.country"),
            CountryCode::parse(&input.country),
        );
        let state = address_part(
            v,
            format!("{prefix}.state"),
            input.state.as_deref().unwrap_or(""),
            false,
        );
        Some(Address {
            line1: line1??,
            line2: line2?,
            city: city??,
            postal_code: postal_code??,
            country: country?,
            state: state?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_list_has_every_assigned_code() {
        assert_eq!(COUNTRIES.split(' ').count(), 249);
        assert!(CountryCode::parse("de").is_ok());
        assert!(CountryCode::parse("XX").is_err());
        assert!(CountryCode::parse("DEU").is_err());
    }
}
