//! Promotions: discount codes, what they take off, and when a code may be used.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::error::{DomainError, FieldError, Validator};
use crate::ids::PromotionId;
use crate::money::{Currency, Money};
use crate::percent::Percent;

/// A discount code as a customer types it: 1..=50 ASCII letters, digits, `-` or `_`. Codes
/// compare case-insensitively (`summer10` is `SUMMER10`); the spelling given at creation is kept
/// for display.
#[derive(Debug, Clone)]
pub struct PromotionCode(String);

impl PromotionCode {
    /// Longest code.
    pub const MAX_LEN: usize = 50;

    /// Parses a code after trimming surrounding whitespace.
    ///
    /// # Errors
    /// A `FieldError` on `code` for an empty, too long or oddly spelled code.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        if s.is_empty()
            || s.len() > Self::MAX_LEN
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(FieldError::new(
                "code",
                "must be 1 to 50 letters, digits, '-' or '_', such as SUMMER-10",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The code as it was given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form codes are compared and stored unique by: upper case.
    pub fn key(&self) -> String {
        self.0.to_ascii_uppercase()
    }
}

/// Two codes are the same code whatever their case.
impl PartialEq for PromotionCode {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for PromotionCode {}

/// What a promotion takes off a cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    /// A share of the subtotal, more than 0 and at most 100 %.
    Percentage(Percent),
    /// A fixed amount, more than zero; it applies only to carts in its currency.
    Fixed(Money),
}

impl Discount {
    /// Parses `kind` (`percentage` or `fixed`), `value` (the percent, or the amount in
    /// `currency`) and `currency` (required for `fixed`, refused for `percentage`), reporting
    /// every bad field.
    ///
    /// # Errors
    /// `DomainError::Validation` naming `kind`, `value` or `currency`.
    pub fn parse(kind: &str, value: &str, currency: Option<&str>) -> Result<Self, DomainError> {
        let mut v = Validator::new();
        let discount = match kind {
            "percentage" => {
                if currency.is_some() {
                    v.push(FieldError::new(
                        "currency",
                        "is only for fixed promotions; leave it out for a percentage",
                    ));
                }
                match Percent::parse(value) {
                    Ok(p) if p.is_zero() => {
                        v.push(FieldError::new("value", "must be more than 0"));
                        None
                    }
                    Ok(p) => Some(Discount::Percentage(p)),
                    Err(e) => {
                        v.push(e.at("value"));
                        None
                    }
                }
            }
            "fixed" => match currency {
                None => {
                    v.push(FieldError::new(
                        "currency",
                        "is required for a fixed promotion",
                    ));
                    None
                }
                Some(code) => v
                    .check("currency", Currency::parse(code))
                    .and_then(|c| v.check("value", Money::parse(value, c)))
                    .and_then(|m| {
                        if m.minor() == 0 {
                            v.push(FieldError::new("value", "must be more than 0"));
                            None
                        } else {
                            Some(Discount::Fixed(m))
                        }
                    }),
            },
            _ => {
                v.push(FieldError::new("kind", "must be one of: percentage, fixed"));
                None
            }
        };
        v.finish()?;
        discount.ok_or_else(|| DomainError::Validation(Vec::new()))
    }

    /// `percentage` or `fixed`.
    pub fn kind(&self) -> &'static str {
        match self {
            Discount::Percentage(_) => "percentage",
            Discount::Fixed(_) => "fixed",
        }
    }

    /// The value as the API shows it: the percent (`12.5`) or the amount (`5.00`).
    pub fn value_string(&self) -> String {
        match self {
            Discount::Percentage(p) => p.to_string(),
            Discount::Fixed(m) => m.amount_string(),
        }
    }

    /// The currency of a fixed discount; `None` for a percentage.
    pub fn currency(&self) -> Option<Currency> {
        match self {
            Discount::Percentage(_) => None,
            Discount::Fixed(m) => Some(m.currency()),
        }
    }
}

/// Why a discount code cannot be used on a cart. Each answers 422 on `discount_code`, saying
/// which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromotionRefusal {
    /// No promotion has this code.
    Unknown,
    /// The promotion is switched off.
    Inactive,
    /// Its `starts_at` is still ahead.
    NotYetStarted(DateTime<Utc>),
    /// Its `ends_at` has passed.
    Ended(DateTime<Utc>),
    /// A fixed discount, or a minimum, in another currency than the cart's.
    WrongCurrency(Currency),
    /// The cart's subtotal is below the promotion's `min_subtotal`.
    UnderMinimum(Money),
    /// `usage_limit` uses are spent.
    UsedUp,
    /// This customer has used it `per_customer_limit` times.
    UsedUpByCustomer,
}

impl fmt::Display for PromotionRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        match self {
            Self::Unknown => f.write_str("is not a known discount code"),
            Self::Inactive => f.write_str("is not active"),
            Self::NotYetStarted(t) => write!(f, "has not started yet; it starts at {}", at(t)),
            Self::Ended(t) => write!(f, "has ended; it ended at {}", at(t)),
            Self::WrongCurrency(c) => write!(f, "applies only to carts in {c}"),
            Self::UnderMinimum(m) => write!(f, "needs a subtotal of at least {m}"),
            Self::UsedUp => f.write_str("has been used up"),
            Self::UsedUpByCustomer => {
                f.write_str("has already been used as many times as one customer may use it")
            }
        }
    }
}

impl From<PromotionRefusal> for FieldError {
    fn from(r: PromotionRefusal) -> Self {
        FieldError::new("discount_code", r.to_string())
    }
}

impl From<PromotionRefusal> for DomainError {
    fn from(r: PromotionRefusal) -> Self {
        DomainError::Validation(vec![r.into()])
    }
}

/// The rules of a promotion as given, before their cross-field checks.
#[derive(Debug, Clone)]
pub struct PromotionRules {
    /// The code.
    pub code: PromotionCode,
    /// What it takes off.
    pub discount: Discount,
    /// Smallest subtotal it applies to.
    pub min_subtotal: Option<Money>,
    /// First moment it may be used (inclusive).
    pub starts_at: Option<DateTime<Utc>>,
    /// Moment it stops (exclusive).
    pub ends_at: Option<DateTime<Utc>>,
    /// Uses in all, across customers.
    pub usage_limit: Option<u32>,
    /// Uses per customer.
    pub per_customer_limit: Option<u32>,
    /// Switched on.
    pub active: bool,
}

/// A promotion whose rules hold together, with how often it has been used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    code: PromotionCode,
    discount: Discount,
    min_subtotal: Option<Money>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    usage_limit: Option<u32>,
    per_customer_limit: Option<u32>,
    active: bool,
    times_used: u32,
}

impl Promotion {
    /// Checks the rules against each other: limits are at least 1, `starts_at` is before
    /// `ends_at`, and a fixed discount's minimum is in the discount's currency.
    ///
    /// # Errors
    /// `DomainError::Validation` naming `usage_limit`, `per_customer_limit`, `ends_at` or
    /// `min_subtotal.currency`.
    pub fn new(rules: PromotionRules, times_used: u32) -> Result<Self, DomainError> {
        let mut v = Validator::new();
        if rules.usage_limit == Some(0) {
            v.push(FieldError::new("usage_limit", "must be at least 1"));
        }
        if rules.per_customer_limit == Some(0) {
            v.push(FieldError::new("per_customer_limit", "must be at least 1"));
        }
        if let (Some(s), Some(e)) = (rules.starts_at, rules.ends_at)
            && e <= s
        {
            v.push(FieldError::new("ends_at", "must be after starts_at"));
        }
        if let (Some(c), Some(m)) = (rules.discount.currency(), rules.min_subtotal)
            && m.currency() != c
        {
            v.push(FieldError::new(
                "min_subtotal.currency",
                "must be the currency of the fixed discount",
            ));
        }
        v.finish()?;
        Ok(Self {
            code: rules.code,
            discount: rules.discount,
            min_subtotal: rules.min_subtotal,
            starts_at: rules.starts_at,
            ends_at: rules.ends_at,
            usage_limit: rules.usage_limit,
            per_customer_limit: rules.per_customer_limit,
            active: rules.active,
            times_used,
        })
    }

    /// The code.
    pub fn code(&self) -> &PromotionCode {
        &self.code
    }

    /// What it takes off.
    pub fn discount(&self) -> Discount {
        self.discount
    }

    /// Smallest subtotal it applies to.
    pub fn min_subtotal(&self) -> Option<Money> {
        self.min_subtotal
    }

    /// First moment it may be used.
    pub fn starts_at(&self) -> Option<DateTime<Utc>> {
        self.starts_at
    }

    /// Moment it stops.
    pub fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.ends_at
    }

    /// Uses in all.
    pub fn usage_limit(&self) -> Option<u32> {
        self.usage_limit
    }

    /// Uses per customer.
    pub fn per_customer_limit(&self) -> Option<u32> {
        self.per_customer_limit
    }

    /// Switched on.
    pub fn active(&self) -> bool {
        self.active
    }

    /// Completed checkouts that used it.
    pub fn times_used(&self) -> u32 {
        self.times_used
    }

    /// Its rules as given, to change some and check them again with [`Promotion::new`].
    pub fn rules(&self) -> PromotionRules {
        PromotionRules {
            code: self.code.clone(),
            discount: self.discount,
            min_subtotal: self.min_subtotal,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            usage_limit: self.usage_limit,
            per_customer_limit: self.per_customer_limit,
            active: self.active,
        }
    }

    /// Whether the code may be used at `now` on a cart with `subtotal`, by a customer who has
    /// used it `customer_uses` times. Checked in this order, the first failing rule answering:
    /// switched on; `starts_at <= now` (the start is inclusive); `now < ends_at` (the end is
    /// exclusive); a fixed discount or a minimum in the cart's currency; `subtotal >=
    /// min_subtotal` (reaching the minimum is enough); `times_used < usage_limit`;
    /// `customer_uses < per_customer_limit`.
    ///
    /// # Errors
    /// The [`PromotionRefusal`] of the first rule that fails.
    pub fn check(
        &self,
        subtotal: Money,
        now: DateTime<Utc>,
        customer_uses: u32,
    ) -> Result<(), PromotionRefusal> {
        if !self.active {
            return Err(PromotionRefusal::Inactive);
        }
        if let Some(s) = self.starts_at
            && now < s
        {
            return Err(PromotionRefusal::NotYetStarted(s));
        }
        if let Some(e) = self.ends_at
            && now >= e
        {
            return Err(PromotionRefusal::Ended(e));
        }
        let cart = subtotal.currency();
        if let Some(c) = self.discount.currency()
            && c != cart
        {
            return Err(PromotionRefusal::WrongCurrency(c));
        }
        if let Some(m) = self.min_subtotal {
            if m.currency() != cart {
                return Err(PromotionRefusal::WrongCurrency(m.currency()));
            }
            if subtotal.minor() < m.minor() {
                return Err(PromotionRefusal::UnderMinimum(m));
            }
        }
        if let Some(limit) = self.usage_limit
            && self.times_used >= limit
        {
            return Err(PromotionRefusal::UsedUp);
        }
        if let Some(limit) = self.per_customer_limit
            && customer_uses >= limit
        {
            return Err(PromotionRefusal::UsedUpByCustomer);
        }
        Ok(())
    }
}

/// A promotion as the shop keeps it: the admin names it by `id`, which stays when its code
/// changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionRecord {
    /// Id.
    pub id: PromotionId,
    /// Its rules and uses.
    pub promotion: Promotion,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed by the admin.
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn eur_amount(s: &str) -> Money {
        Money::parse(s, eur()).unwrap()
    }

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, h, 0, 0).unwrap()
    }

    fn rules(discount: Discount) -> PromotionRules {
        PromotionRules {
            code: PromotionCode::parse("SUMMER-10").unwrap(),
            discount,
            min_subtotal: None,
            starts_at: None,
            ends_at: None,
            usage_limit: None,
            per_customer_limit: None,
            active: true,
        }
    }

    fn ten_percent() -> Discount {
        Discount::parse("percentage", "10", None).unwrap()
    }

    fn fields(e: DomainError) -> Vec<(String, String)> {
        match e {
            DomainError::Validation(errs) => {
                errs.into_iter().map(|e| (e.field, e.message)).collect()
            }
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn codes_compare_case_insensitively_and_keep_their_spelling() {
        let a = PromotionCode::parse(" Summer_10 ").unwrap();
        assert_eq!(a.as_str(), "Summer_10");
        assert_eq!(a.key(), "SUMMER_10");
        assert_eq!(a, PromotionCode::parse("SUMMER_10").unwrap());
        assert_ne!(a, PromotionCode::parse("SUMMER-10").unwrap());
        assert!(PromotionCode::parse(&"A".repeat(50)).is_ok());
        for bad in ["", "  ", "SUMMER 10", "ÉTÉ", "10%", &"A".repeat(51)] {
            let e = PromotionCode::parse(bad).unwrap_err();
            assert_eq!(e.field, "code", "{bad:?}");
        }
    }

    #[test]
    fn discounts_parse_by_kind() {
        assert_eq!(
            Discount::parse("percentage", "12.5", None).unwrap(),
            Discount::Percentage(Percent::parse("12.5").unwrap())
        );
        let fixed = Discount::parse("fixed", "5", Some("EUR")).unwrap();
        assert_eq!(fixed, Discount::Fixed(eur_amount("5.00")));
        assert_eq!(fixed.kind(), "fixed");
        assert_eq!(fixed.value_string(), "5.00");
        assert_eq!(fixed.currency(), Some(eur()));
        let pct = Discount::parse("percentage", "12.50", None).unwrap();
        assert_eq!(pct.kind(), "percentage");
        assert_eq!(pct.value_string(), "12.5");
        assert_eq!(pct.currency(), None);
        assert_eq!(
            Discount::parse("percentage", "100", None)
                .unwrap()
                .value_string(),
            "100.0"
        );
    }

    #[test]
    fn discounts_refuse_what_cannot_be_a_discount_naming_each_field() {
        type Case<'a> = (&'a str, &'a str, Option<&'a str>, &'a [(&'a str, &'a str)]);
        let cases: [Case<'_>; 9] = [
            (
                "bogus",
                "10",
                None,
                &[("kind", "must be one of: percentage, fixed")],
            ),
            ("percentage", "0", None, &[("value", "must be more than 0")]),
            (
                "percentage",
                "0.0000",
                None,
                &[("value", "must be more than 0")],
            ),
            (
                "percentage",
                "100.01",
                None,
                &[(
                    "value",
                    "must be a decimal string from 0 to 100 with at most 4 digits after the point, such as 12.5",
                )],
            ),
            (
                "percentage",
                "10",
                Some("EUR"),
                &[(
                    "currency",
                    "is only for fixed promotions; leave it out for a percentage",
                )],
            ),
            (
                "fixed",
                "5",
                None,
                &[("currency", "is required for a fixed promotion")],
            ),
            (
                "fixed",
                "0.00",
                Some("EUR"),
                &[("value", "must be more than 0")],
            ),
            (
                "fixed",
                "5.001",
                Some("EUR"),
                &[(
                    "value",
                    "must be a decimal string with at most 2 digits after the point, such as 19.99",
                )],
            ),
            (
                "fixed",
                "5",
                Some("eur"),
                &[(
                    "currency",
                    "must be a supported ISO 4217 currency code in upper case, such as EUR or USD",
                )],
            ),
        ];
        for (kind, value, currency, want) in cases {
            let got = fields(Discount::parse(kind, value, currency).unwrap_err());
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(f, m)| ((*f).to_owned(), (*m).to_owned()))
                .collect();
            assert_eq!(got, want, "{kind} {value} {currency:?}");
        }
        // A percentage with a currency and a bad value reports both.
        assert_eq!(
            fields(Discount::parse("percentage", "x", Some("EUR")).unwrap_err()).len(),
            2
        );
    }

    #[test]
    fn a_promotion_checks_its_rules_against_each_other() {
        let mut r = rules(Discount::Fixed(eur_amount("5")));
        r.usage_limit = Some(0);
        r.per_customer_limit = Some(0);
        r.starts_at = Some(t(10));
        r.ends_at = Some(t(10));
        r.min_subtotal = Some(Money::parse("50", Currency::parse("USD").unwrap()).unwrap());
        let got: Vec<String> = fields(Promotion::new(r, 0).unwrap_err())
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            got,
            [
                "usage_limit",
                "per_customer_limit",
                "ends_at",
                "min_subtotal.currency"
            ]
        );
        let mut r = rules(Discount::Fixed(eur_amount("5")));
        // Values no default stands for (not 1, not on), so each accessor is pinned.
        r.usage_limit = Some(7);
        r.per_customer_limit = Some(2);
        r.active = false;
        r.starts_at = Some(t(10));
        r.ends_at = Some(t(11));
        r.min_subtotal = Some(eur_amount("50"));
        let p = Promotion::new(r, 3).unwrap();
        assert_eq!(p.code().as_str(), "SUMMER-10");
        assert_eq!(p.discount(), Discount::Fixed(eur_amount("5")));
        assert_eq!(p.min_subtotal(), Some(eur_amount("50")));
        assert_eq!(p.starts_at(), Some(t(10)));
        assert_eq!(p.ends_at(), Some(t(11)));
        assert_eq!(p.usage_limit(), Some(7));
        assert_eq!(p.per_customer_limit(), Some(2));
        assert!(!p.active());
        assert_eq!(p.times_used(), 3);
        assert!(Promotion::new(rules(ten_percent()), 0).unwrap().active());
        // A percentage may have a minimum in any currency: it then applies to that currency only.
        let mut r = rules(ten_percent());
        r.min_subtotal = Some(Money::parse("50", Currency::parse("USD").unwrap()).unwrap());
        assert!(Promotion::new(r, 0).is_ok());
    }

    #[test]
    fn each_refusal_names_discount_code_and_says_which() {
        let usd = Currency::parse("USD").unwrap();
        let cases = [
            (PromotionRefusal::Unknown, "is not a known discount code"),
            (PromotionRefusal::Inactive, "is not active"),
            (
                PromotionRefusal::NotYetStarted(t(10)),
                "has not started yet; it starts at 2026-06-01T10:00:00Z",
            ),
            (
                PromotionRefusal::Ended(t(11)),
                "has ended; it ended at 2026-06-01T11:00:00Z",
            ),
            (
                PromotionRefusal::WrongCurrency(usd),
                "applies only to carts in USD",
            ),
            (
                PromotionRefusal::UnderMinimum(eur_amount("50")),
                "needs a subtotal of at least 50.00 EUR",
            ),
            (PromotionRefusal::UsedUp, "has been used up"),
            (
                PromotionRefusal::UsedUpByCustomer,
                "has already been used as many times as one customer may use it",
            ),
        ];
        for (refusal, message) in cases {
            let e: DomainError = refusal.into();
            assert_eq!(
                e,
                DomainError::Validation(vec![FieldError::new("discount_code", message)])
            );
        }
    }

    #[test]
    fn a_code_is_refused_for_the_first_rule_it_breaks() {
        let mut r = rules(ten_percent());
        r.starts_at = Some(t(10));
        r.ends_at = Some(t(12));
        r.min_subtotal = Some(eur_amount("50"));
        r.usage_limit = Some(5);
        r.per_customer_limit = Some(2);
        let p = Promotion::new(r.clone(), 4).unwrap();
        let fifty = eur_amount("50");
        // Every rule met, at the edges: start inclusive, minimum reached, one use left.
        assert_eq!(p.check(fifty, t(10), 1), Ok(()));
        assert_eq!(p.check(fifty, t(11), 0), Ok(()));
        let just_before_end = t(12) - chrono::Duration::nanoseconds(1);
        assert_eq!(p.check(fifty, just_before_end, 1), Ok(()));
        // Each rule broken alone.
        let before_start = t(10) - chrono::Duration::nanoseconds(1);
        assert_eq!(
            p.check(fifty, before_start, 0),
            Err(PromotionRefusal::NotYetStarted(t(10)))
        );
        assert_eq!(
            p.check(fifty, t(12), 0),
            Err(PromotionRefusal::Ended(t(12)))
        );
        assert_eq!(
            p.check(eur_amount("49.99"), t(11), 0),
            Err(PromotionRefusal::UnderMinimum(fifty))
        );
        assert_eq!(
            p.check(fifty, t(11), 2),
            Err(PromotionRefusal::UsedUpByCustomer)
        );
        let spent = Promotion::new(r.clone(), 5).unwrap();
        assert_eq!(spent.check(fifty, t(11), 0), Err(PromotionRefusal::UsedUp));
        let mut off = r.clone();
        off.active = false;
        let off = Promotion::new(off, 9).unwrap();
        assert_eq!(
            off.check(fifty, before_start, 5),
            Err(PromotionRefusal::Inactive)
        );
        // The minimum is in EUR: a JPY cart cannot reach it.
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(
            p.check(Money::parse("100000", jpy).unwrap(), t(11), 0),
            Err(PromotionRefusal::WrongCurrency(eur()))
        );
        // Order: inactive before time, time before currency, minimum before limits.
        assert_eq!(
            spent.check(eur_amount("1"), t(12), 9),
            Err(PromotionRefusal::Ended(t(12)))
        );
        assert_eq!(
            spent.check(eur_amount("1"), t(11), 9),
            Err(PromotionRefusal::UnderMinimum(fifty))
        );
        assert_eq!(spent.check(fifty, t(11), 9), Err(PromotionRefusal::UsedUp));
    }

    #[test]
    fn a_fixed_discount_applies_only_in_its_currency_and_open_rules_never_refuse() {
        let p = Promotion::new(rules(Discount::Fixed(eur_amount("5"))), 1_000).unwrap();
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(
            p.check(Money::parse("100", usd).unwrap(), t(0), 1_000),
            Err(PromotionRefusal::WrongCurrency(eur()))
        );
        assert_eq!(p.check(Money::zero(eur()), t(0), u32::MAX), Ok(()));
        let open = Promotion::new(rules(ten_percent()), u32::MAX).unwrap();
        assert_eq!(open.check(Money::zero(usd), t(23), u32::MAX), Ok(()));
    }
}
