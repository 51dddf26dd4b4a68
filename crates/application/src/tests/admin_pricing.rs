//! The admin's shipping options and tax rates: only admins; every bad field named at once; a
//! change checked with the stored fields it leaves; a clash on a tax rate's place named by the
//! part that tells rates apart.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use domain::{
    Page, PageRequest, RepositoryError, Role, ShippingOptionId, ShippingOptionRecord,
    ShippingOptionRepository, TaxRateId, TaxRateRecord, TaxRateRepository,
};

use super::{assert_admin_only, fields, validation};
use crate::AppError;
use crate::catalog::PriceInput;
use crate::checkout::{
    CreateShippingOptionCommand, CreateTaxRateCommand, ShippingOptions, TaxRates,
    UpdateShippingOptionCommand, UpdateTaxRateCommand,
};
use crate::testing::{FixedClock, actor};

/// Records in memory, newest last; `key` tells which two may not both be stored.
struct Memory<T, K> {
    rows: Mutex<Vec<T>>,
    key: fn(&T) -> (K, Option<String>),
}

impl<T: Clone, K: PartialEq> Memory<T, K> {
    fn new(key: fn(&T) -> (K, Option<String>)) -> Self {
        Self {
            rows: Mutex::new(Vec::new()),
            key,
        }
    }

    fn clashes(&self, r: &T, same: impl Fn(&T, &T) -> bool) -> bool {
        self.rows
            .lock()
            .unwrap()
            .iter()
            .any(|o| !same(o, r) && (self.key)(o) == (self.key)(r))
    }

    /// The stored row `wanted` matches.
    fn find(&self, wanted: impl Fn(&T) -> bool) -> Option<T> {
        self.rows
            .lock()
            .unwrap()
            .iter()
            .find(|o| wanted(o))
            .cloned()
    }

    /// Puts `r` in the place of the stored row that `same` matches; false when there is none.
    fn replace(&self, r: &T, same: impl Fn(&T, &T) -> bool) -> bool {
        let mut rows = self.rows.lock().unwrap();
        match rows.iter_mut().find(|o| same(o, r)) {
            Some(row) => {
                *row = r.clone();
                true
            }
            None => false,
        }
    }

    /// Drops the rows `gone` matches; false when there was none.
    fn remove(&self, gone: impl Fn(&T) -> bool) -> bool {
        let mut rows = self.rows.lock().unwrap();
        let before = rows.len();
        rows.retain(|o| !gone(o));
        rows.len() < before
    }

    fn page(&self, page: PageRequest) -> Page<T> {
        let items: Vec<T> = self.rows.lock().unwrap().iter().rev().cloned().collect();
        let total = items.len() as u64;
        Page {
            items,
            request: page,
            total,
            next: None,
            total_is_estimate: false,
        }
    }
}

type Options = Memory<ShippingOptionRecord, ShippingOptionId>;
type Rates = Memory<TaxRateRecord, domain::CountryCode>;

#[async_trait]
impl ShippingOptionRepository for Options {
    async fn insert(&self, r: &ShippingOptionRecord) -> Result<(), RepositoryError> {
        self.rows.lock().unwrap().push(r.clone());
        Ok(())
    }
    async fn get(
        &self,
        id: ShippingOptionId,
    ) -> Result<Option<ShippingOptionRecord>, RepositoryError> {
        Ok(self.find(|r| r.id == id))
    }
    async fn list(&self, page: PageRequest) -> Result<Page<ShippingOptionRecord>, RepositoryError> {
        Ok(self.page(page))
    }
    async fn update(&self, r: &ShippingOptionRecord) -> Result<bool, RepositoryError> {
        Ok(self.replace(r, |a, b| a.id == b.id))
    }
    async fn delete(&self, id: ShippingOptionId) -> Result<bool, RepositoryError> {
        Ok(self.remove(|r| r.id == id))
    }
}

#[async_trait]
impl TaxRateRepository for Rates {
    async fn insert(&self, r: &TaxRateRecord) -> Result<(), RepositoryError> {
        if self.clashes(r, |a, b| a.id == b.id) {
            return Err(RepositoryError::Conflict("state"));
        }
        self.rows.lock().unwrap().push(r.clone());
        Ok(())
    }
    async fn get(&self, id: TaxRateId) -> Result<Option<TaxRateRecord>, RepositoryError> {
        Ok(self.find(|r| r.id == id))
    }
    async fn list(&self, page: PageRequest) -> Result<Page<TaxRateRecord>, RepositoryError> {
        Ok(self.page(page))
    }
    async fn update(&self, r: &TaxRateRecord) -> Result<bool, RepositoryError> {
        if self.clashes(r, |a, b| a.id == b.id) {
            return Err(RepositoryError::Conflict("state"));
        }
        Ok(self.replace(r, |a, b| a.id == b.id))
    }
    async fn delete(&self, id: TaxRateId) -> Result<bool, RepositoryError> {
        Ok(self.remove(|r| r.id == id))
    }
}

fn options() -> (Arc<Options>, ShippingOptions) {
    let repo = Arc::new(Options::new(|r| (r.id, None)));
    let uc = ShippingOptions {
        options: repo.clone(),
        clock: Arc::new(FixedClock),
    };
    (repo, uc)
}

fn rates() -> (Arc<Rates>, TaxRates) {
    let repo = Arc::new(Rates::new(|r| r.rate.key()));
    let uc = TaxRates {
        rates: repo.clone(),
        clock: Arc::new(FixedClock),
    };
    (repo, uc)
}

fn price(amount: &str, currency: &str) -> PriceInput {
    PriceInput {
        amount: amount.to_owned(),
        currency: currency.to_owned(),
    }
}

fn standard() -> CreateShippingOptionCommand {
    CreateShippingOptionCommand {
        name: "Standard".to_owned(),
        countries: vec!["DE".to_owned(), "at".to_owned()],
        price: price("4.90", "EUR"),
        free_over: Some(price("50", "EUR")),
        active: None,
    }
}

fn vat(country: &str, state: Option<&str>) -> CreateTaxRateCommand {
    CreateTaxRateCommand {
        country: country.to_owned(),
        state: state.map(str::to_owned),
        rate: "19".to_owned(),
        name: "VAT".to_owned(),
    }
}

#[tokio::test]
async fn only_admins_manage_shipping_options_and_tax_rates() {
    let admin = actor(&[Role::Admin]);
    let (option_rows, options) = options();
    let (rate_rows, rates) = rates();
    let option = options.create(&admin, standard()).await.unwrap();
    let rate = rates.create(&admin, vat("DE", None)).await.unwrap();
    for who in [actor(&[Role::User]), actor(&[])] {
        let off = UpdateShippingOptionCommand {
            active: Some(false),
            ..Default::default()
        };
        assert_admin_only!(options, &who, create: standard(), id: option.id, update: off);
        let zero = UpdateTaxRateCommand {
            rate: Some("0".to_owned()),
            ..Default::default()
        };
        assert_admin_only!(rates, &who, create: vat("FR", None), id: rate.id, update: zero);
    }
    assert_eq!(option_rows.rows.lock().unwrap().clone(), vec![option]);
    assert_eq!(rate_rows.rows.lock().unwrap().clone(), vec![rate]);
}

#[tokio::test]
async fn a_shipping_option_names_every_bad_field_and_a_change_keeps_its_threshold_currency() {
    let admin = actor(&[Role::Admin]);
    let (_, options) = options();
    let made = options.create(&admin, standard()).await.unwrap();
    assert!(made.option.active());
    let bad = CreateShippingOptionCommand {
        name: " ".to_owned(),
        countries: vec!["DE".to_owned(), "XX".to_owned()],
        price: price("-1", "EUR"),
        free_over: Some(price("5", "BTC")),
        active: None,
    };
    let errors = validation(options.create(&admin, bad).await);
    assert_eq!(
        fields(&errors),
        ["name", "countries[1]", "price.amount", "free_over.currency"]
    );
    let dollars = UpdateShippingOptionCommand {
        price: Some(price("5", "USD")),
        ..Default::default()
    };
    let errors = validation(options.update(&admin, made.id, dollars).await);
    assert_eq!(fields(&errors), ["free_over.currency"]);
    let dollars = UpdateShippingOptionCommand {
        price: Some(price("5", "USD")),
        free_over: Some(None),
        ..Default::default()
    };
    let changed = options.update(&admin, made.id, dollars).await.unwrap();
    assert_eq!(changed.option.price().free_over(), None);
    assert_eq!(changed.option.countries(), made.option.countries());
    let nobody = ShippingOptionId::new();
    assert!(matches!(
        options.get(&admin, nobody).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        options.delete(&admin, nobody).await,
        Err(AppError::NotFound)
    ));
}

#[tokio::test]
async fn a_tax_rate_names_every_bad_field_and_a_clash_by_the_part_that_differs() {
    let admin = actor(&[Role::Admin]);
    let (_, rates) = rates();
    let bad = CreateTaxRateCommand {
        country: "ZZ".to_owned(),
        state: Some(String::new()),
        rate: "100.5".to_owned(),
        name: "\u{7}".to_owned(),
    };
    let errors = validation(rates.create(&admin, bad).await);
    assert_eq!(fields(&errors), ["country", "rate", "state", "name"]);
    let country = rates.create(&admin, vat("DE", None)).await.unwrap();
    let state = rates
        .create(&admin, vat("DE", Some("Bayern")))
        .await
        .unwrap();
    for (cmd, field) in [
        (vat("de", None), "country"),
        (vat("DE", Some(" BAYERN ")), "state"),
    ] {
        match rates.create(&admin, cmd).await {
            Err(AppError::Conflict { field: f, .. }) => assert_eq!(f, Some(field)),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    let onto_country = UpdateTaxRateCommand {
        state: Some(None),
        ..Default::default()
    };
    match rates.update(&admin, state.id, onto_country).await {
        Err(AppError::Conflict { field, .. }) => assert_eq!(field, Some("country")),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let renamed = UpdateTaxRateCommand {
        name: Some("MwSt".to_owned()),
        ..Default::default()
    };
    let changed = rates.update(&admin, country.id, renamed).await.unwrap();
    assert_eq!(changed.rate.name(), "MwSt");
    assert_eq!(changed.rate.rate(), country.rate.rate());
}

#[test]
fn a_rate_is_assembled_only_when_country_and_rate_both_parsed() {
    let de = domain::CountryCode::parse("DE").ok();
    let rate = domain::Percent::parse("19").ok();
    let assemble = crate::checkout::tax_rates::assemble;
    // The stand-ins let `state` and `name` be checked, but never make a rate of their own.
    assert!(assemble(&mut domain::Validator::new(), None, None, rate, "VAT").is_none());
    assert!(assemble(&mut domain::Validator::new(), de, None, None, "VAT").is_none());
    let mut v = domain::Validator::new();
    let t = assemble(&mut v, de, Some("BY"), rate, "VAT").unwrap();
    assert_eq!((t.state(), t.name()), (Some("BY"), "VAT"));
}
