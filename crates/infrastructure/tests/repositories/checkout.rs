//! `SqlPromotions`, `SqlShippingOptions` and `SqlTaxRates`: values read back exactly as written,
//! lists newest first by page and cursor, the unique rules of migration 0009 (a promotion code
//! whatever its case; one tax rate per country and Unicode-folded state, NULL counting as one),
//! and a promotion's change that never writes `times_used`.

use domain::{
    CountryCode, Currency, Discount, Money, PageRequest, Percent, Promotion, PromotionCode,
    PromotionId, PromotionRecord, PromotionRepository, PromotionRules, RepositoryError,
    ShippingOption, ShippingOptionId, ShippingOptionName, ShippingOptionRecord,
    ShippingOptionRepository, ShippingPrice, TaxRate, TaxRateId, TaxRateRecord, TaxRateRepository,
};
use infrastructure::db::{SqlPromotions, SqlShippingOptions, SqlTaxRates};

use crate::support::*;

on_both_backends!(
    promotions_read_back_exactly_and_list_newest_first_by_page_and_cursor,
    a_promotion_code_is_unique_whatever_its_case,
    a_promotion_change_keeps_the_stored_uses,
    shipping_options_read_back_exactly_and_change_and_leave,
    one_tax_rate_per_country_and_folded_state,
);

fn money(amount: &str, currency: &str) -> Money {
    Money::parse(amount, Currency::parse(currency).unwrap()).unwrap()
}

fn promotion(code: &str, discount: Discount, times_used: u32, secs: i64) -> PromotionRecord {
    let rules = PromotionRules {
        code: PromotionCode::parse(code).unwrap(),
        discount,
        // A fixed discount's minimum is in its currency.
        min_subtotal: Some(Money::parse("50", discount.currency().unwrap_or_else(eur)).unwrap()),
        starts_at: Some(at(10)),
        ends_at: Some(at(20)),
        usage_limit: Some(100),
        per_customer_limit: Some(u32::MAX),
        active: false,
    };
    PromotionRecord {
        id: PromotionId::new(),
        promotion: Promotion::new(rules, times_used).unwrap(),
        created_at: at(secs),
        updated_at: at(secs + 1),
    }
}

fn percent(value: &str) -> Discount {
    Discount::Percentage(Percent::parse(value).unwrap())
}

async fn promotions_read_back_exactly_and_list_newest_first_by_page_and_cursor(t: TestDb) {
    let repo = SqlPromotions::new(t.db.clone());
    let a = promotion("PCT", percent("7.6875"), 0, 0);
    let mut b = promotion("FIXED", Discount::Fixed(money("5", "EUR")), 4, 1);
    b.promotion = Promotion::new(
        PromotionRules {
            min_subtotal: None,
            starts_at: None,
            ends_at: None,
            usage_limit: None,
            per_customer_limit: None,
            ..b.promotion.rules()
        },
        4,
    )
    .unwrap();
    let c = promotion("YEN", Discount::Fixed(money("500", "JPY")), 0, 2);
    let mut c = c;
    c.promotion = Promotion::new(
        PromotionRules {
            min_subtotal: Some(money("1000", "JPY")),
            ..c.promotion.rules()
        },
        0,
    )
    .unwrap();
    for p in [&a, &b, &c] {
        repo.insert(p).await.unwrap();
        assert_eq!(repo.get(p.id).await.unwrap().as_ref(), Some(p));
    }
    assert_eq!(repo.get(PromotionId::new()).await.unwrap(), None);
    let request = PageRequest::new(1, 2).unwrap().in_list("promotions");
    let first = repo.list(request.clone()).await.unwrap();
    assert_eq!(first.total, 3);
    assert_eq!(first.items, [c.clone(), b.clone()]);
    let cursor = first.next_cursor().expect("a second page");
    let second = repo.list(request.after(&cursor).unwrap()).await.unwrap();
    assert_eq!(second.items, std::slice::from_ref(&a));
    assert_eq!(second.next_cursor(), None);
    assert!(repo.delete(b.id).await.unwrap());
    assert!(!repo.delete(b.id).await.unwrap());
    assert_eq!(repo.get(b.id).await.unwrap(), None);
}

async fn a_promotion_code_is_unique_whatever_its_case(t: TestDb) {
    let repo = SqlPromotions::new(t.db.clone());
    let first = promotion("Summer-10", percent("10"), 0, 0);
    repo.insert(&first).await.unwrap();
    for code in ["SUMMER-10", "summer-10"] {
        let again = promotion(code, percent("5"), 0, 1);
        assert!(
            matches!(
                repo.insert(&again).await,
                Err(RepositoryError::Conflict("code"))
            ),
            "{code}"
        );
    }
    let other = promotion("Winter", percent("5"), 0, 2);
    repo.insert(&other).await.unwrap();
    let mut clash = other.clone();
    clash.promotion = Promotion::new(
        PromotionRules {
            code: PromotionCode::parse("sUmMeR-10").unwrap(),
            ..other.promotion.rules()
        },
        0,
    )
    .unwrap();
    assert!(matches!(
        repo.update(&clash).await,
        Err(RepositoryError::Conflict("code"))
    ));
    assert_eq!(repo.get(other.id).await.unwrap(), Some(other));
    // Respelling its own code is no clash.
    let mut respelled = first.clone();
    respelled.promotion = Promotion::new(
        PromotionRules {
            code: PromotionCode::parse("SUMMER-10").unwrap(),
            ..first.promotion.rules()
        },
        0,
    )
    .unwrap();
    assert_eq!(repo.update(&respelled).await.unwrap(), Some(respelled));
}

async fn a_promotion_change_keeps_the_stored_uses(t: TestDb) {
    let repo = SqlPromotions::new(t.db.clone());
    let stored = promotion("USED", percent("10"), 7, 0);
    repo.insert(&stored).await.unwrap();
    // The caller read it before a checkout counted more: it holds 0 uses.
    let mut change = promotion("USED-2", Discount::Fixed(money("3", "EUR")), 0, 0);
    change.id = stored.id;
    change.updated_at = at(30);
    let answered = repo.update(&change).await.unwrap().expect("it exists");
    assert_eq!(answered.promotion.times_used(), 7);
    assert_eq!(answered.promotion.code().as_str(), "USED-2");
    assert_eq!(answered.created_at, stored.created_at);
    assert_eq!(answered.updated_at, at(30));
    assert_eq!(repo.get(stored.id).await.unwrap(), Some(answered));
    let mut gone = change.clone();
    gone.id = PromotionId::new();
    assert_eq!(repo.update(&gone).await.unwrap(), None);
}

fn cc(code: &str) -> CountryCode {
    CountryCode::parse(code).unwrap()
}

async fn shipping_options_read_back_exactly_and_change_and_leave(t: TestDb) {
    let repo = SqlShippingOptions::new(t.db.clone());
    let option = |name: &str, countries: &[&str], price: Money, free: Option<Money>, secs| {
        ShippingOptionRecord {
            id: ShippingOptionId::new(),
            option: ShippingOption::new(
                ShippingOptionName::parse(name).unwrap(),
                countries.iter().map(|c| cc(c)).collect(),
                ShippingPrice::new(price, free).unwrap(),
                true,
            )
            .unwrap(),
            created_at: at(secs),
            updated_at: at(secs),
        }
    };
    let a = option(
        "Standard",
        &["FR", "DE", "AT"],
        money("4.90", "EUR"),
        Some(money("50", "EUR")),
        0,
    );
    let b = option("Standard", &["JP"], money("0", "JPY"), None, 1);
    for o in [&a, &b] {
        repo.insert(o).await.unwrap();
        assert_eq!(repo.get(o.id).await.unwrap().as_ref(), Some(o));
    }
    let page = repo.list(PageRequest::default()).await.unwrap();
    assert_eq!(page.items, [b.clone(), a.clone()]);
    let mut changed = option("Express", &["BE"], money("9.90", "USD"), None, 0);
    changed.id = a.id;
    changed.updated_at = at(5);
    assert!(repo.update(&changed).await.unwrap());
    assert_eq!(repo.get(a.id).await.unwrap(), Some(changed.clone()));
    changed.id = ShippingOptionId::new();
    assert!(!repo.update(&changed).await.unwrap());
    assert!(repo.delete(a.id).await.unwrap());
    assert!(!repo.delete(a.id).await.unwrap());
    assert_eq!(repo.list(PageRequest::default()).await.unwrap().total, 1);
}

fn rate(country: &str, state: Option<&str>, secs: i64) -> TaxRateRecord {
    TaxRateRecord {
        id: TaxRateId::new(),
        rate: TaxRate::new(cc(country), state, Percent::parse("19.0").unwrap(), "VAT").unwrap(),
        created_at: at(secs),
        updated_at: at(secs),
    }
}

async fn one_tax_rate_per_country_and_folded_state(t: TestDb) {
    let repo = SqlTaxRates::new(t.db.clone());
    let country = rate("DE", None, 0);
    let state = rate("DE", Some("Über"), 1);
    let elsewhere = rate("AT", Some("über"), 2);
    for r in [&country, &state, &elsewhere] {
        repo.insert(r).await.unwrap();
        assert_eq!(repo.get(r.id).await.unwrap().as_ref(), Some(r));
    }
    // A second rate without a state, and the same state in another case (beyond ASCII too).
    for clash in [
        rate("DE", None, 3),
        rate("DE", Some("ÜBER"), 3),
        rate("DE", Some("über"), 3),
    ] {
        assert!(
            matches!(
                repo.insert(&clash).await,
                Err(RepositoryError::Conflict("state"))
            ),
            "{:?}",
            clash.rate
        );
    }
    let mut moved = state.clone();
    moved.rate = TaxRate::new(cc("DE"), None, Percent::parse("7").unwrap(), "VAT").unwrap();
    assert!(matches!(
        repo.update(&moved).await,
        Err(RepositoryError::Conflict("state"))
    ));
    let mut respelled = state.clone();
    respelled.rate =
        TaxRate::new(cc("DE"), Some("ÜBER"), Percent::parse("7").unwrap(), "VAT").unwrap();
    assert!(repo.update(&respelled).await.unwrap());
    assert_eq!(repo.get(state.id).await.unwrap(), Some(respelled));
    let page = repo.list(PageRequest::default()).await.unwrap();
    assert_eq!(page.total, 3);
    assert!(repo.delete(country.id).await.unwrap());
    repo.insert(&rate("DE", None, 4)).await.unwrap();
}
