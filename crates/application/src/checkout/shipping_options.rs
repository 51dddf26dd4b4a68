//! Shipping options (admin): where a cart may ship, at what price, free over a threshold.

use std::sync::Arc;

use domain::{
    CountryCode, Money, Page, PageRequest, ShippingOption, ShippingOptionId, ShippingOptionName,
    ShippingOptionRecord, ShippingOptionRepository, ShippingPrice, Validator,
};

use crate::catalog::{PriceInput, parse_money};
use crate::ports::Clock;
use crate::{Actor, AppError};

/// A new shipping option as the admin sent it.
#[derive(Debug, Clone)]
pub struct CreateShippingOptionCommand {
    /// What customers choose it by.
    pub name: String,
    /// ISO 3166-1 alpha-2 codes it ships to.
    pub countries: Vec<String>,
    /// What it charges.
    pub price: PriceInput,
    /// Subtotal after discount from which it is free.
    pub free_over: Option<PriceInput>,
    /// Offered (default yes).
    pub active: Option<bool>,
}

/// Changes to a shipping option; absent fields stay, `Some(None)` clears `free_over`.
#[derive(Debug, Clone, Default)]
pub struct UpdateShippingOptionCommand {
    /// New name.
    pub name: Option<String>,
    /// New countries.
    pub countries: Option<Vec<String>>,
    /// New price.
    pub price: Option<PriceInput>,
    /// New threshold; `Some(None)` clears it.
    pub free_over: Option<Option<PriceInput>>,
    /// On or off.
    pub active: Option<bool>,
}

/// The admin's shipping options: create, read, change, remove. Only admins, for every
/// operation.
pub struct ShippingOptions {
    /// Stored options.
    pub options: Arc<dyn ShippingOptionRepository>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

fn parse_countries(v: &mut Validator, raw: &[String]) -> Option<Vec<CountryCode>> {
    let mut ok = true;
    let mut codes = Vec::with_capacity(raw.len());
    for (i, c) in raw.iter().enumerate() {
        match v.check(&format!("countries[{i}]"), CountryCode::parse(c)) {
            Some(code) => codes.push(code),
            None => ok = false,
        }
    }
    ok.then_some(codes)
}

/// The option the parts make, with every error of theirs and of the whole recorded.
fn assemble(
    v: &mut Validator,
    name: Option<ShippingOptionName>,
    countries: Option<Vec<CountryCode>>,
    price: Option<Money>,
    free_over: Option<Option<Money>>,
    active: bool,
) -> Option<ShippingOption> {
    let price = match (price, free_over) {
        (Some(p), Some(f)) => v.check("free_over.currency", ShippingPrice::new(p, f)),
        _ => None,
    };
    let (name, countries, price) = (name?, countries?, price?);
    match ShippingOption::new(name, countries, price, active) {
        Ok(o) => Some(o),
        Err(domain::DomainError::Validation(errors)) => {
            errors.into_iter().for_each(|e| v.push(e));
            None
        }
        Err(other) => {
            v.push(domain::FieldError::new("countries", other.to_string()));
            None
        }
    }
}

impl ShippingOptions {
    async fn existing(&self, id: ShippingOptionId) -> Result<ShippingOptionRecord, AppError> {
        self.options.get(id).await?.ok_or(AppError::NotFound)
    }

    /// Validates and stores a new option.
    ///
    /// # Errors
    /// `Forbidden`; `Validation` naming each bad field.
    #[tracing::instrument(name = "create_shipping_option", skip_all)]
    pub async fn create(
        &self,
        actor: &Actor,
        cmd: CreateShippingOptionCommand,
    ) -> Result<ShippingOptionRecord, AppError> {
        actor.require_admin()?;
        let mut v = Validator::new();
        let name = v.check("name", ShippingOptionName::parse(&cmd.name));
        let countries = parse_countries(&mut v, &cmd.countries);
        let price = parse_money(&mut v, "price", &cmd.price);
        let free_over = match &cmd.free_over {
            None => Some(None),
            Some(f) => parse_money(&mut v, "free_over", f).map(Some),
        };
        let option = assemble(
            &mut v,
            name,
            countries,
            price,
            free_over,
            cmd.active.unwrap_or(true),
        );
        v.finish()?;
        let option = option.ok_or_else(|| AppError::invalid("body", "invalid shipping option"))?;
        let now = self.clock.now();
        let record = ShippingOptionRecord {
            id: ShippingOptionId::new(),
            option,
            created_at: now,
            updated_at: now,
        };
        self.options.insert(&record).await?;
        Ok(record)
    }

    /// One page of options, newest first.
    ///
    /// # Errors
    /// `Forbidden`.
    #[tracing::instrument(name = "list_shipping_options", skip_all)]
    pub async fn list(
        &self,
        actor: &Actor,
        page: PageRequest,
    ) -> Result<Page<ShippingOptionRecord>, AppError> {
        actor.require_admin()?;
        Ok(self.options.list(page).await?)
    }

    /// One option.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    #[tracing::instrument(name = "get_shipping_option", skip_all)]
    pub async fn get(
        &self,
        actor: &Actor,
        id: ShippingOptionId,
    ) -> Result<ShippingOptionRecord, AppError> {
        actor.require_admin()?;
        self.existing(id).await
    }

    /// Changes the given fields and checks the whole option again (a new price in another
    /// currency than the stored threshold needs a new threshold, or `null`).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Validation` naming each bad field.
    #[tracing::instrument(name = "update_shipping_option", skip_all)]
    pub async fn update(
        &self,
        actor: &Actor,
        id: ShippingOptionId,
        cmd: UpdateShippingOptionCommand,
    ) -> Result<ShippingOptionRecord, AppError> {
        actor.require_admin()?;
        let mut record = self.existing(id).await?;
        let stored = &record.option;
        let mut v = Validator::new();
        let name = match &cmd.name {
            Some(raw) => v.check("name", ShippingOptionName::parse(raw)),
            None => Some(stored.name().clone()),
        };
        let countries = match &cmd.countries {
            Some(raw) => parse_countries(&mut v, raw),
            None => Some(stored.countries().to_vec()),
        };
        let price = match &cmd.price {
            Some(p) => parse_money(&mut v, "price", p),
            None => Some(stored.price().price()),
        };
        let free_over = match &cmd.free_over {
            None => Some(stored.price().free_over()),
            Some(None) => Some(None),
            Some(Some(f)) => parse_money(&mut v, "free_over", f).map(Some),
        };
        let active = cmd.active.unwrap_or(stored.active());
        let option = assemble(&mut v, name, countries, price, free_over, active);
        v.finish()?;
        record.option =
            option.ok_or_else(|| AppError::invalid("body", "invalid shipping option"))?;
        record.updated_at = self.clock.now();
        if !self.options.update(&record).await? {
            return Err(AppError::NotFound);
        }
        Ok(record)
    }

    /// Removes the option; carts can no longer choose it.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    #[tracing::instrument(name = "delete_shipping_option", skip_all)]
    pub async fn delete(&self, actor: &Actor, id: ShippingOptionId) -> Result<(), AppError> {
        actor.require_admin()?;
        if self.options.delete(id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }
}
