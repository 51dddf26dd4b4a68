//! What a cart costs: line totals, subtotal, discount, shipping, tax and total, as pure
//! functions over value objects (no I/O, no clock: the caller passes `now`).
//!
//! Every amount is `Money`: integer minor units of one currency, never a float. Percentages are
//! exact decimals ([`Percent`]). The rules, in the order a cart is priced:
//!
//! 1. line total = unit price x quantity, exact (no rounding needed);
//! 2. subtotal = the sum of the line totals, exact, every line in the cart's currency;
//! 3. discount: a percentage of the subtotal, rounded once to the minor unit half away from
//!    zero; or a fixed amount, in the cart's currency only, capped at the subtotal. Never more
//!    than the subtotal;
//! 4. shipping: the chosen option's price, or zero when subtotal - discount reaches (`>=`) its
//!    `free_over`;
//! 5. tax: the rate of the shipping country (a rate naming the address's state wins over the
//!    country's own) applied once to the taxable base subtotal - discount + shipping, rounded
//!    half away from zero (tax is not computed per line, so it is rounded exactly once);
//! 6. total = subtotal - discount + shipping + tax, exact: the total is the sum of the already
//!    rounded parts, so the parts always add up to it.
//!
//! All amounts are non-negative, so "half away from zero" is "half up" here: 0.125 EUR is 0.13.

use chrono::{DateTime, Utc};

use crate::address::CountryCode;
use crate::error::DomainError;
use crate::money::{Currency, Money};
use crate::order::Quantity;
use crate::percent::Percent;
use crate::promotion::{Discount, Promotion, PromotionRefusal};
use crate::shipping::ShippingPrice;
use crate::tax::TaxRate;

/// One line of a cart: today's price of one unit and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CartLine {
    /// Price of one unit.
    pub unit_price: Money,
    /// Units, 1..=1000.
    pub quantity: Quantity,
}

/// `percent` of `amount`, rounded to the minor unit half away from zero: the exact product
/// `minor x scaled / 1_000_000` is computed in 128 bits and rounded once. Never more than
/// `amount`, as a percentage is at most 100.
pub fn percent_of(amount: Money, percent: Percent) -> Money {
    let whole = i128::from(Percent::MAX_SCALED);
    let exact = i128::from(amount.minor()) * i128::from(percent.scaled());
    // floor(exact / whole + 1/2), exact for the non-negative values money holds.
    let rounded = (2 * exact + whole) / (2 * whole);
    // At most `amount.minor()`, which fits.
    let minor = i64::try_from(rounded).unwrap_or(amount.minor());
    Money::from_minor(minor, amount.currency()).unwrap_or(amount)
}

/// A line's total: unit price x quantity, exact.
///
/// # Errors
/// `Overflow` past [`Money::MAX_MINOR`].
pub fn line_total(line: &CartLine) -> Result<Money, DomainError> {
    line.unit_price.checked_mul(line.quantity.get())
}

/// The sum of `line_totals` in `currency`, exact; an empty cart's subtotal is zero.
///
/// # Errors
/// `CurrencyMismatch` for a line in another currency, `Overflow` past [`Money::MAX_MINOR`].
pub fn subtotal(currency: Currency, line_totals: &[Money]) -> Result<Money, DomainError> {
    line_totals
        .iter()
        .try_fold(Money::zero(currency), |sum, line| sum.checked_add(*line))
}

/// What `discount` takes off `subtotal`: a percentage rounded half away from zero (see
/// [`percent_of`]), or a fixed amount capped at the subtotal. Never more than the subtotal.
///
/// # Errors
/// `PromotionRefusal::WrongCurrency` (422 on `discount_code`) for a fixed amount in another
/// currency than the subtotal's: it does not apply, it is not converted.
pub fn discount_amount(subtotal: Money, discount: Discount) -> Result<Money, DomainError> {
    match discount {
        Discount::Percentage(p) => Ok(percent_of(subtotal, p)),
        Discount::Fixed(amount) if amount.currency() != subtotal.currency() => {
            Err(PromotionRefusal::WrongCurrency(amount.currency()).into())
        }
        Discount::Fixed(amount) => Ok(Money::from_minor(
            amount.minor().min(subtotal.minor()),
            subtotal.currency(),
        )?),
    }
}

/// What shipping costs for a cart whose subtotal after discount is `after_discount`: zero once
/// it reaches (`>=`) the option's `free_over`, else the option's price.
///
/// # Errors
/// `CurrencyMismatch` when the option is priced in another currency than the cart.
pub fn shipping_amount(price: ShippingPrice, after_discount: Money) -> Result<Money, DomainError> {
    if price.price().currency() != after_discount.currency() {
        return Err(DomainError::CurrencyMismatch(
            after_discount.currency().code().to_owned(),
            price.price().currency().code().to_owned(),
        ));
    }
    match price.free_over() {
        Some(threshold) if after_discount.minor() >= threshold.minor() => {
            Ok(Money::zero(after_discount.currency()))
        }
        _ => Ok(price.price()),
    }
}

/// The tax on `base` (subtotal - discount + shipping) at `rate`, rounded half away from zero
/// (see [`percent_of`]); zero where no rate applies.
pub fn tax_amount(base: Money, rate: Option<Percent>) -> Money {
    match rate {
        Some(r) => percent_of(base, r),
        None => Money::zero(base.currency()),
    }
}

/// The rate that taxes a shipment to `country` and `state`: a rate of that country naming that
/// state (compared case-insensitively, after trimming) wins; else the country's rate that names
/// no state; else none (no tax). A rate of another state is never used.
pub fn choose_tax_rate<'a>(
    rates: &'a [TaxRate],
    country: CountryCode,
    state: Option<&str>,
) -> Option<&'a TaxRate> {
    let in_country = || rates.iter().filter(move |r| r.country() == country);
    let state = state.map(|s| s.trim().to_lowercase());
    state
        .and_then(|s| in_country().find(|r| r.state().is_some_and(|rs| rs.to_lowercase() == s)))
        .or_else(|| in_country().find(|r| r.state().is_none()))
}

/// A discount code to apply, with what its checks need: the moment and how often this customer
/// has used it.
#[derive(Debug, Clone, Copy)]
pub struct PromotionUse<'a> {
    /// The promotion the code named.
    pub promotion: &'a Promotion,
    /// The moment of pricing, passed in so pricing reads no clock.
    pub now: DateTime<Utc>,
    /// Completed checkouts of this customer that used it.
    pub customer_uses: u32,
}

/// Everything that decides what a cart costs.
#[derive(Debug, Clone, Copy)]
pub struct CartPricing<'a> {
    /// The cart's currency; every line is in it.
    pub currency: Currency,
    /// The lines.
    pub lines: &'a [CartLine],
    /// The discount code, if one is set.
    pub promotion: Option<PromotionUse<'a>>,
    /// The chosen shipping option's price, if one is chosen.
    pub shipping: Option<ShippingPrice>,
    /// The tax rate of the shipping address (see [`choose_tax_rate`]), if one applies.
    pub tax_rate: Option<Percent>,
}

/// A cart's priced parts. `total = subtotal - discount + shipping + tax` holds exactly and every
/// part is non-negative; only [`price_cart`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    line_totals: Vec<Money>,
    subtotal: Money,
    discount: Money,
    shipping: Money,
    tax: Money,
    total: Money,
}

impl Totals {
    /// Each line's total, in the order of the lines.
    pub fn line_totals(&self) -> &[Money] {
        &self.line_totals
    }

    /// Sum of the lines.
    pub fn subtotal(&self) -> Money {
        self.subtotal
    }

    /// Taken off by the discount code; at most the subtotal.
    pub fn discount(&self) -> Money {
        self.discount
    }

    /// Shipping charged.
    pub fn shipping(&self) -> Money {
        self.shipping
    }

    /// Tax charged.
    pub fn tax(&self) -> Money {
        self.tax
    }

    /// The amount to pay.
    pub fn total(&self) -> Money {
        self.total
    }
}

/// Prices a cart by the rules of this module (see its documentation), in order: lines,
/// subtotal, the promotion's checks ([`Promotion::check`]) against that subtotal, discount,
/// shipping on the subtotal after discount, tax on subtotal - discount + shipping, total.
///
/// # Errors
/// `Validation` on `discount_code` when the promotion does not apply (saying why);
/// `CurrencyMismatch` for a line or a shipping price in another currency than the cart's;
/// `Overflow` when an amount passes [`Money::MAX_MINOR`].
pub fn price_cart(cart: &CartPricing<'_>) -> Result<Totals, DomainError> {
    let line_totals = cart
        .lines
        .iter()
        .map(line_total)
        .collect::<Result<Vec<_>, _>>()?;
    let subtotal = subtotal(cart.currency, &line_totals)?;
    let discount = match cart.promotion {
        Some(u) => {
            u.promotion.check(subtotal, u.now, u.customer_uses)?;
            discount_amount(subtotal, u.promotion.discount())?
        }
        None => Money::zero(cart.currency),
    };
    let after_discount = subtotal.checked_sub(discount)?;
    let shipping = match cart.shipping {
        Some(price) => shipping_amount(price, after_discount)?,
        None => Money::zero(cart.currency),
    };
    let taxable = after_discount.checked_add(shipping)?;
    let tax = tax_amount(taxable, cart.tax_rate);
    let total = taxable.checked_add(tax)?;
    Ok(Totals {
        line_totals,
        subtotal,
        discount,
        shipping,
        tax,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldError;
    use crate::promotion::{PromotionCode, PromotionRules};
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn cur(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    fn eur(s: &str) -> Money {
        Money::parse(s, cur("EUR")).unwrap()
    }

    fn jpy(s: &str) -> Money {
        Money::parse(s, cur("JPY")).unwrap()
    }

    fn pct(s: &str) -> Percent {
        Percent::parse(s).unwrap()
    }

    fn line(unit_price: Money, quantity: i64) -> CartLine {
        CartLine {
            unit_price,
            quantity: Quantity::new(quantity).unwrap(),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    fn promotion(discount: Discount) -> Promotion {
        Promotion::new(
            PromotionRules {
                code: PromotionCode::parse("SAVE").unwrap(),
                discount,
                min_subtotal: None,
                starts_at: None,
                ends_at: None,
                usage_limit: None,
                per_customer_limit: None,
                active: true,
            },
            0,
        )
        .unwrap()
    }

    fn percentage(s: &str) -> Promotion {
        promotion(Discount::Percentage(pct(s)))
    }

    fn using(p: &Promotion) -> PromotionUse<'_> {
        PromotionUse {
            promotion: p,
            now: now(),
            customer_uses: 0,
        }
    }

    fn shipping(price: Money, free_over: Option<Money>) -> ShippingPrice {
        ShippingPrice::new(price, free_over).unwrap()
    }

    /// (subtotal, discount, shipping, tax, total) as amount strings.
    fn parts(t: &Totals) -> [String; 5] {
        [t.subtotal(), t.discount(), t.shipping(), t.tax(), t.total()].map(|m| m.amount_string())
    }

    #[test]
    fn worked_example_in_eur_with_a_percentage_discount_that_rounds_half_away_from_zero() {
        // 3 x 19.99 + 1 x 9.99 = 69.96; 12.5 % of it is 8.745, which rounds to 8.75 (a
        // banker's rounding would give 8.74); 61.21 is over the 50.00 threshold, so shipping is
        // free; 19 % of 61.21 is 11.6299 -> 11.63; 69.96 - 8.75 + 0 + 11.63 = 72.84.
        let lines = [line(eur("19.99"), 3), line(eur("9.99"), 1)];
        let promo = percentage("12.5");
        let t = price_cart(&CartPricing {
            currency: cur("EUR"),
            lines: &lines,
            promotion: Some(using(&promo)),
            shipping: Some(shipping(eur("4.90"), Some(eur("50")))),
            tax_rate: Some(pct("19.0")),
        })
        .unwrap();
        assert_eq!(t.line_totals(), [eur("59.97"), eur("9.99")]);
        assert_eq!(parts(&t), ["69.96", "8.75", "0.00", "11.63", "72.84"]);
        assert_eq!(t.total().currency(), cur("EUR"));
    }

    #[test]
    fn worked_example_in_jpy_which_has_no_minor_digits() {
        // 2 x 1980 + 550 = 4510; 15 % is 676.5 -> 677 (half away from zero; banker's gives
        // 676); 3833 is under the 5000 threshold, so shipping is 500; 10 % tax on 4333 is
        // 433.3 -> 433; 4510 - 677 + 500 + 433 = 4766.
        let lines = [line(jpy("1980"), 2), line(jpy("550"), 1)];
        let promo = percentage("15");
        let t = price_cart(&CartPricing {
            currency: cur("JPY"),
            lines: &lines,
            promotion: Some(using(&promo)),
            shipping: Some(shipping(jpy("500"), Some(jpy("5000")))),
            tax_rate: Some(pct("10")),
        })
        .unwrap();
        assert_eq!(t.line_totals(), [jpy("3960"), jpy("550")]);
        assert_eq!(parts(&t), ["4510", "677", "500", "433", "4766"]);
    }

    #[test]
    fn tax_rounds_half_away_from_zero_and_below_half_down() {
        // 19 % of 1.50 is 0.285 -> 0.29; of 1.49 it is 0.2831 -> 0.28; of 0.02 it is 0.0038 -> 0.00.
        assert_eq!(tax_amount(eur("1.50"), Some(pct("19"))), eur("0.29"));
        assert_eq!(tax_amount(eur("1.49"), Some(pct("19"))), eur("0.28"));
        assert_eq!(tax_amount(eur("0.02"), Some(pct("19"))), eur("0"));
        assert_eq!(tax_amount(eur("100"), Some(pct("7.25"))), eur("7.25"));
        assert_eq!(tax_amount(eur("100"), None), eur("0"));
        assert_eq!(tax_amount(jpy("1000"), None).currency(), cur("JPY"));
        assert_eq!(tax_amount(jpy("15"), Some(pct("10"))), jpy("2"));
    }

    #[test]
    fn percent_of_is_exact_at_the_edges() {
        let kwd = cur("KWD");
        // 0.0001 % of 5.000000 KWD... is 0.000005 -> 0.000 (three digits): rounds down.
        assert_eq!(
            percent_of(Money::parse("5", kwd).unwrap(), pct("0.0001")).minor(),
            0
        );
        // 0.0001 % of 500.000 KWD is 0.0005 -> 0.001: the half rounds up.
        assert_eq!(
            percent_of(Money::parse("500", kwd).unwrap(), pct("0.0001")).minor(),
            1
        );
        assert_eq!(percent_of(eur("0.01"), pct("50")), eur("0.01"));
        assert_eq!(percent_of(eur("0.01"), pct("49.9999")), eur("0"));
        assert_eq!(percent_of(eur("19.99"), pct("100")), eur("19.99"));
        assert_eq!(percent_of(eur("19.99"), pct("0")), eur("0"));
        let max = Money::from_minor(Money::MAX_MINOR, cur("EUR")).unwrap();
        assert_eq!(percent_of(max, pct("100")), max);
        assert_eq!(percent_of(max, pct("50")).minor(), Money::MAX_MINOR / 2);
        assert_eq!(percent_of(max, pct("0.0001")).minor(), 1_000_000_000);
    }

    #[test]
    fn shipping_is_free_once_the_subtotal_after_discount_reaches_the_threshold() {
        let standard = shipping(eur("4.90"), Some(eur("50")));
        assert_eq!(shipping_amount(standard, eur("50.00")).unwrap(), eur("0"));
        assert_eq!(shipping_amount(standard, eur("80.00")).unwrap(), eur("0"));
        assert_eq!(
            shipping_amount(standard, eur("49.99")).unwrap(),
            eur("4.90")
        );
        let no_threshold = shipping(eur("4.90"), None);
        assert_eq!(
            shipping_amount(no_threshold, eur("1000000")).unwrap(),
            eur("4.90")
        );
        assert_eq!(
            shipping_amount(standard, jpy("100000")),
            Err(DomainError::CurrencyMismatch("JPY".into(), "EUR".into()))
        );

        // The threshold is measured after the discount: 55.00 less 10 % is 49.50, under 50.
        let lines = [line(eur("55"), 1)];
        let promo = percentage("10");
        let cart = |promotion| CartPricing {
            currency: cur("EUR"),
            lines: &lines,
            promotion,
            shipping: Some(standard),
            tax_rate: None,
        };
        let t = price_cart(&cart(Some(using(&promo)))).unwrap();
        assert_eq!(parts(&t), ["55.00", "5.50", "4.90", "0.00", "54.40"]);
        let t = price_cart(&cart(None)).unwrap();
        assert_eq!(parts(&t), ["55.00", "0.00", "0.00", "0.00", "55.00"]);
    }

    #[test]
    fn tax_is_on_subtotal_less_discount_plus_shipping() {
        // (40.00 - 4.00 + 4.90) x 20 % = 8.18.
        let lines = [line(eur("10"), 4)];
        let promo = promotion(Discount::Fixed(eur("4")));
        let t = price_cart(&CartPricing {
            currency: cur("EUR"),
            lines: &lines,
            promotion: Some(using(&promo)),
            shipping: Some(shipping(eur("4.90"), Some(eur("50")))),
            tax_rate: Some(pct("20")),
        })
        .unwrap();
        assert_eq!(parts(&t), ["40.00", "4.00", "4.90", "8.18", "49.08"]);
    }

    #[test]
    fn a_rate_naming_the_state_wins_over_the_country_rate() {
        let us = CountryCode::parse("US").unwrap();
        let de = CountryCode::parse("DE").unwrap();
        let rates = [
            TaxRate::new(us, None, pct("5"), "Sales tax").unwrap(),
            TaxRate::new(us, Some("CA"), pct("7.25"), "CA sales tax").unwrap(),
            TaxRate::new(us, Some("NY"), pct("4"), "NY sales tax").unwrap(),
            TaxRate::new(de, Some("BY"), pct("1"), "odd").unwrap(),
        ];
        let rate = |c, s| choose_tax_rate(&rates, c, s).map(|r| r.name().to_owned());
        assert_eq!(rate(us, Some("CA")).as_deref(), Some("CA sales tax"));
        assert_eq!(rate(us, Some(" ca ")).as_deref(), Some("CA sales tax"));
        assert_eq!(rate(us, Some("NY")).as_deref(), Some("NY sales tax"));
        assert_eq!(rate(us, Some("TX")).as_deref(), Some("Sales tax"));
        assert_eq!(rate(us, None).as_deref(), Some("Sales tax"));
        // Germany has only a state rate: another state, or none, pays no tax.
        assert_eq!(rate(de, Some("BE")), None);
        assert_eq!(rate(de, None), None);
        assert_eq!(rate(de, Some("by")).as_deref(), Some("odd"));
        assert_eq!(rate(CountryCode::parse("FR").unwrap(), None), None);
        // The state rate wins whatever the order of the list.
        let mut reversed = rates.clone();
        reversed.reverse();
        assert_eq!(
            choose_tax_rate(&reversed, us, Some("CA")).map(TaxRate::name),
            Some("CA sales tax")
        );
        assert_eq!(
            choose_tax_rate(&reversed, us, Some("TX")).map(TaxRate::name),
            Some("Sales tax")
        );

        // Worked: 100.00 to California is taxed 7.25, to Texas 5.00.
        let lines = [line(eur("100"), 1)];
        for (state, tax, total) in [("CA", "7.25", "107.25"), ("TX", "5.00", "105.00")] {
            let t = price_cart(&CartPricing {
                currency: cur("EUR"),
                lines: &lines,
                promotion: None,
                shipping: None,
                tax_rate: choose_tax_rate(&rates, us, Some(state)).map(TaxRate::rate),
            })
            .unwrap();
            assert_eq!(t.tax().amount_string(), tax);
            assert_eq!(t.total().amount_string(), total);
        }
    }

    #[test]
    fn a_fixed_discount_never_exceeds_the_subtotal() {
        assert_eq!(
            discount_amount(eur("3.00"), Discount::Fixed(eur("5"))).unwrap(),
            eur("3.00")
        );
        assert_eq!(
            discount_amount(eur("5.00"), Discount::Fixed(eur("5"))).unwrap(),
            eur("5.00")
        );
        assert_eq!(
            discount_amount(eur("5.01"), Discount::Fixed(eur("5"))).unwrap(),
            eur("5.00")
        );
        let lines = [line(eur("1.50"), 2)];
        let promo = promotion(Discount::Fixed(eur("10")));
        let t = price_cart(&CartPricing {
            currency: cur("EUR"),
            lines: &lines,
            promotion: Some(using(&promo)),
            shipping: Some(shipping(eur("4.90"), None)),
            tax_rate: Some(pct("10")),
        })
        .unwrap();
        // Everything off the goods; shipping and its tax remain.
        assert_eq!(parts(&t), ["3.00", "3.00", "4.90", "0.49", "5.39"]);
    }

    #[test]
    fn a_fixed_discount_in_another_currency_does_not_apply_and_names_discount_code() {
        let refused = DomainError::Validation(vec![FieldError::new(
            "discount_code",
            "applies only to carts in EUR",
        )]);
        assert_eq!(
            discount_amount(jpy("5000"), Discount::Fixed(eur("5"))),
            Err(refused.clone())
        );
        let lines = [line(jpy("5000"), 1)];
        let promo = promotion(Discount::Fixed(eur("5")));
        let got = price_cart(&CartPricing {
            currency: cur("JPY"),
            lines: &lines,
            promotion: Some(using(&promo)),
            shipping: None,
            tax_rate: None,
        });
        assert_eq!(got, Err(refused));
        // A percentage applies in any currency.
        assert_eq!(
            discount_amount(jpy("5000"), Discount::Percentage(pct("10"))).unwrap(),
            jpy("500")
        );
    }

    #[test]
    fn a_promotion_is_checked_against_the_cart_it_prices() {
        let promo = Promotion::new(
            PromotionRules {
                code: PromotionCode::parse("BIG").unwrap(),
                discount: Discount::Percentage(pct("10")),
                min_subtotal: Some(eur("50")),
                starts_at: None,
                ends_at: None,
                usage_limit: None,
                per_customer_limit: Some(1),
                active: true,
            },
            0,
        )
        .unwrap();
        let price = |lines: &[CartLine], customer_uses| {
            price_cart(&CartPricing {
                currency: cur("EUR"),
                lines,
                promotion: Some(PromotionUse {
                    promotion: &promo,
                    now: now(),
                    customer_uses,
                }),
                shipping: None,
                tax_rate: None,
            })
        };
        // 2 x 24.99 = 49.98: under the minimum, though one unit price is not what counts.
        let under = [line(eur("24.99"), 2)];
        assert_eq!(
            price(&under, 0),
            Err(PromotionRefusal::UnderMinimum(eur("50")).into())
        );
        let over = [line(eur("25"), 2)];
        assert_eq!(
            parts(&price(&over, 0).unwrap()),
            ["50.00", "5.00", "0.00", "0.00", "45.00"]
        );
        assert_eq!(
            price(&over, 1),
            Err(PromotionRefusal::UsedUpByCustomer.into())
        );
    }

    #[test]
    fn a_cart_without_extras_costs_its_subtotal_and_an_empty_cart_nothing() {
        let lines = [line(eur("2.50"), 4), line(eur("0.99"), 1)];
        let t = price_cart(&CartPricing {
            currency: cur("EUR"),
            lines: &lines,
            promotion: None,
            shipping: None,
            tax_rate: None,
        })
        .unwrap();
        assert_eq!(parts(&t), ["10.99", "0.00", "0.00", "0.00", "10.99"]);
        let t = price_cart(&CartPricing {
            currency: cur("JPY"),
            lines: &[],
            promotion: None,
            shipping: Some(shipping(jpy("500"), Some(jpy("5000")))),
            tax_rate: Some(pct("10")),
        })
        .unwrap();
        assert!(t.line_totals().is_empty());
        assert_eq!(parts(&t), ["0", "0", "500", "50", "550"]);
        assert_eq!(subtotal(cur("JPY"), &[]).unwrap(), jpy("0"));
    }

    #[test]
    fn lines_in_another_currency_and_amounts_past_the_maximum_are_refused() {
        let lines = [line(eur("1"), 1), line(jpy("100"), 1)];
        let cart = CartPricing {
            currency: cur("EUR"),
            lines: &lines,
            promotion: None,
            shipping: None,
            tax_rate: None,
        };
        assert_eq!(
            price_cart(&cart),
            Err(DomainError::CurrencyMismatch("EUR".into(), "JPY".into()))
        );
        let jpy_only = [line(jpy("100"), 1)];
        assert_eq!(
            price_cart(&CartPricing {
                lines: &jpy_only,
                ..cart
            }),
            Err(DomainError::CurrencyMismatch("EUR".into(), "JPY".into()))
        );
        let max = Money::from_minor(Money::MAX_MINOR, cur("EUR")).unwrap();
        assert_eq!(line_total(&line(max, 2)), Err(DomainError::Overflow));
        let big = [line(max, 1), line(eur("0.01"), 1)];
        assert_eq!(
            price_cart(&CartPricing {
                lines: &big,
                ..cart
            }),
            Err(DomainError::Overflow)
        );
        // The maximum itself prices; shipping or tax on top of it overflows.
        let at_max = [line(max, 1)];
        assert_eq!(
            price_cart(&CartPricing {
                lines: &at_max,
                ..cart
            })
            .unwrap()
            .total(),
            max
        );
        assert_eq!(
            price_cart(&CartPricing {
                lines: &at_max,
                shipping: Some(shipping(eur("0.01"), None)),
                ..cart
            }),
            Err(DomainError::Overflow)
        );
        assert_eq!(
            price_cart(&CartPricing {
                lines: &at_max,
                tax_rate: Some(pct("0.0001")),
                ..cart
            }),
            Err(DomainError::Overflow)
        );
    }

    // ---- properties over random carts ----

    const CURRENCIES: [&str; 4] = ["EUR", "JPY", "KWD", "USD"];

    /// A small amount most of the time, now and then one near the limit, to reach overflow.
    fn minor_units() -> impl Strategy<Value = i64> {
        prop_oneof![
            40 => 0i64..=100_000,
            1 => 0i64..=Money::MAX_MINOR,
            1 => (Money::MAX_MINOR - 1_000)..=Money::MAX_MINOR,
        ]
    }

    fn percent() -> impl Strategy<Value = Percent> {
        prop_oneof![
            (0u32..=100).prop_map(|p| p * Percent::SCALE),
            0u32..=Percent::MAX_SCALED,
        ]
        .prop_map(|s| Percent::from_scaled(s).unwrap())
    }

    #[derive(Debug, Clone)]
    struct RandomCart {
        currency: usize,
        lines: Vec<(usize, i64, i64)>,
        discount: Option<(bool, usize, i64, Percent)>,
        min_subtotal: Option<i64>,
        shipping: Option<(usize, i64, Option<i64>)>,
        tax_rate: Option<Percent>,
    }

    fn random_cart() -> impl Strategy<Value = RandomCart> {
        // `usize::MAX` stands for the cart's own currency (mostly), else an index into CURRENCIES.
        let which = || prop_oneof![40 => Just(usize::MAX), 1 => 0usize..CURRENCIES.len()];
        (
            0usize..CURRENCIES.len(),
            proptest::collection::vec((which(), minor_units(), 1i64..=1000), 0..=20),
            proptest::option::of((any::<bool>(), which(), 1i64..=Money::MAX_MINOR, percent())),
            proptest::option::of(minor_units()),
            proptest::option::of((which(), minor_units(), proptest::option::of(minor_units()))),
            proptest::option::of(percent()),
        )
            .prop_map(
                |(currency, lines, discount, min_subtotal, shipping, tax_rate)| RandomCart {
                    currency,
                    lines,
                    discount,
                    min_subtotal,
                    shipping,
                    tax_rate,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn any_cart_prices_without_panicking_into_parts_that_add_up(c in random_cart()) {
            let cart_currency = cur(CURRENCIES[c.currency]);
            let pick = |i: usize| if i == usize::MAX { cart_currency } else { cur(CURRENCIES[i]) };
            let lines: Vec<CartLine> = c.lines.iter().map(|&(w, minor, q)| CartLine {
                unit_price: Money::from_minor(minor, pick(w)).unwrap(),
                quantity: Quantity::new(q).unwrap(),
            }).collect();
            let promo = c.discount.map(|(fixed, w, minor, p)| {
                let discount = if fixed {
                    Discount::Fixed(Money::from_minor(minor, pick(w)).unwrap())
                } else if p.is_zero() {
                    Discount::Percentage(Percent::from_scaled(1).unwrap())
                } else {
                    Discount::Percentage(p)
                };
                let min_currency = discount.currency().unwrap_or(cart_currency);
                Promotion::new(PromotionRules {
                    code: PromotionCode::parse("P").unwrap(),
                    discount,
                    min_subtotal: c.min_subtotal.map(|m| Money::from_minor(m, min_currency).unwrap()),
                    starts_at: None,
                    ends_at: None,
                    usage_limit: None,
                    per_customer_limit: None,
                    active: true,
                }, 0).unwrap()
            });
            let shipping = c.shipping.map(|(w, price, free)| {
                let currency = pick(w);
                ShippingPrice::new(
                    Money::from_minor(price, currency).unwrap(),
                    free.map(|f| Money::from_minor(f, currency).unwrap()),
                ).unwrap()
            });
            let got = price_cart(&CartPricing {
                currency: cart_currency,
                lines: &lines,
                promotion: promo.as_ref().map(using),
                shipping,
                tax_rate: c.tax_rate,
            });
            match got {
                Ok(t) => {
                    for m in [t.subtotal(), t.discount(), t.shipping(), t.tax(), t.total()]
                        .iter()
                        .chain(t.line_totals())
                    {
                        prop_assert!(m.minor() >= 0);
                        prop_assert_eq!(m.currency(), cart_currency);
                    }
                    prop_assert_eq!(t.line_totals().len(), lines.len());
                    let sum: i128 = t.line_totals().iter().map(|m| i128::from(m.minor())).sum();
                    prop_assert_eq!(i128::from(t.subtotal().minor()), sum);
                    for (l, total) in lines.iter().zip(t.line_totals()) {
                        prop_assert_eq!(
                            i128::from(total.minor()),
                            i128::from(l.unit_price.minor()) * i128::from(l.quantity.get())
                        );
                    }
                    prop_assert!(t.discount().minor() <= t.subtotal().minor());
                    prop_assert_eq!(
                        t.total().minor(),
                        t.subtotal().minor() - t.discount().minor() + t.shipping().minor() + t.tax().minor()
                    );
                    // The tax is within half a minor unit of the exact product, rounding halves up.
                    let base = i128::from(t.subtotal().minor() - t.discount().minor() + t.shipping().minor());
                    let exact = base * i128::from(c.tax_rate.map_or(0, |r| r.scaled()));
                    let taxed = i128::from(t.tax().minor()) * 1_000_000;
                    prop_assert!(taxed - exact <= 500_000 && exact - taxed < 500_000);
                    if promo.is_none() {
                        prop_assert_eq!(t.discount().minor(), 0);
                    }
                    if shipping.is_none() {
                        prop_assert_eq!(t.shipping().minor(), 0);
                    }
                }
                Err(DomainError::Overflow | DomainError::CurrencyMismatch(..)) => {}
                Err(DomainError::Validation(errors)) => {
                    // Only a discount code may be refused, and only for a currency or minimum.
                    prop_assert_eq!(errors.len(), 1);
                    prop_assert_eq!(errors[0].field.as_str(), "discount_code");
                    prop_assert!(promo.is_some());
                }
                Err(other) => prop_assert!(false, "unexpected error {:?}", other),
            }
        }

        #[test]
        fn a_discount_never_exceeds_the_subtotal(
            sub in 0..=Money::MAX_MINOR,
            amount in 1..=Money::MAX_MINOR,
            p in percent(),
        ) {
            let s = Money::from_minor(sub, cur("EUR")).unwrap();
            let fixed = discount_amount(s, Discount::Fixed(Money::from_minor(amount, cur("EUR")).unwrap())).unwrap();
            prop_assert_eq!(fixed.minor(), amount.min(sub));
            let share = discount_amount(s, Discount::Percentage(p)).unwrap();
            prop_assert!(share.minor() <= sub);
            prop_assert!(share.minor() >= 0);
        }

        #[test]
        fn percent_of_rounds_to_the_nearest_minor_unit_halves_up(
            minor in 0..=Money::MAX_MINOR,
            p in percent(),
        ) {
            let got = i128::from(percent_of(Money::from_minor(minor, cur("JPY")).unwrap(), p).minor());
            let exact = i128::from(minor) * i128::from(p.scaled());
            // got - 1/2 <= exact / 1e6 < got + 1/2
            prop_assert!(2 * got * 1_000_000 - 1_000_000 <= 2 * exact);
            prop_assert!(2 * exact < 2 * got * 1_000_000 + 1_000_000);
        }
    }
}
