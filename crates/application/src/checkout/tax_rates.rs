//! Tax rates (admin): a percent per country, or per state of a country. Prices are before tax.

use std::sync::Arc;

use domain::{
    CountryCode, Page, PageRequest, Percent, RepositoryError, TaxRate, TaxRateId, TaxRateRecord,
    TaxRateRepository, Validator,
};

use crate::ports::Clock;
use crate::{Actor, AppError};

/// A new tax rate as the admin sent it.
#[derive(Debug, Clone)]
pub struct CreateTaxRateCommand {
    /// ISO 3166-1 alpha-2 code.
    pub country: String,
    /// The state, province or region it is limited to.
    pub state: Option<String>,
    /// The percent, a decimal string.
    pub rate: String,
    /// What an invoice calls it.
    pub name: String,
}

/// Changes to a tax rate; absent fields stay, `Some(None)` clears `state`.
#[derive(Debug, Clone, Default)]
pub struct UpdateTaxRateCommand {
    /// New country.
    pub country: Option<String>,
    /// New state; `Some(None)` makes it the country's rate.
    pub state: Option<Option<String>>,
    /// New percent.
    pub rate: Option<String>,
    /// New name.
    pub name: Option<String>,
}

/// The admin's tax rates: create, read, change, remove. Only admins, for every operation.
pub struct TaxRates {
    /// Stored rates.
    pub rates: Arc<dyn TaxRateRepository>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

/// The rate the parts make, with every error recorded (`state` and `name` by [`TaxRate::new`]).
/// `state` and `name` are checked whatever the country and rate are, so that every bad field
/// is named at once: a stand-in takes the place of one that did not parse.
pub(crate) fn assemble(
    v: &mut Validator,
    country: Option<CountryCode>,
    state: Option<&str>,
    rate: Option<Percent>,
    name: &str,
) -> Option<TaxRate> {
    let stand_in_country = country.or_else(|| CountryCode::parse("DE").ok());
    let stand_in_rate = rate.or_else(|| Percent::from_scaled(0));
    let (Some(c), Some(r)) = (stand_in_country, stand_in_rate) else {
        return None;
    };
    match TaxRate::new(c, state, r, name) {
        Ok(t) => (country.is_some() && rate.is_some()).then_some(t),
        Err(domain::DomainError::Validation(errors)) => {
            errors.into_iter().for_each(|e| v.push(e));
            None
        }
        Err(other) => {
            v.push(domain::FieldError::new("rate", other.to_string()));
            None
        }
    }
}

/// A clash on (country, state), named by the part that tells rates apart.
fn taken(e: RepositoryError, rate: &TaxRate) -> AppError {
    match e {
        RepositoryError::Conflict(_) => {
            let (field, message) = match rate.state() {
                Some(_) => ("state", "this country and state already have a tax rate"),
                None => (
                    "country",
                    "this country already has a tax rate without a state",
                ),
            };
            AppError::Conflict {
                field: Some(field),
                message: message.to_owned(),
            }
        }
        other => other.into(),
    }
}

impl TaxRates {
    async fn existing(&self, id: TaxRateId) -> Result<TaxRateRecord, AppError> {
        self.rates.get(id).await?.ok_or(AppError::NotFound)
    }

    /// Validates and stores a new rate.
    ///
    /// # Errors
    /// `Forbidden`; `Validation` naming each bad field; `Conflict` when the country (and
    /// state, compared case-insensitively) already has a rate.
    #[tracing::instrument(name = "create_tax_rate", skip_all)]
    pub async fn create(
        &self,
        actor: &Actor,
        cmd: CreateTaxRateCommand,
    ) -> Result<TaxRateRecord, AppError> {
        actor.require_admin()?;
        let mut v = Validator::new();
        let country = v.check("country", CountryCode::parse(&cmd.country));
        let percent = v.check("rate", Percent::parse(&cmd.rate));
        let rate = assemble(&mut v, country, cmd.state.as_deref(), percent, &cmd.name);
        v.finish()?;
        let rate = rate.ok_or_else(|| AppError::invalid("body", "invalid tax rate"))?;
        let now = self.clock.now();
        let record = TaxRateRecord {
            id: TaxRateId::new(),
            rate,
            created_at: now,
            updated_at: now,
        };
        self.rates
            .insert(&record)
            .await
            .map_err(|e| taken(e, &record.rate))?;
        Ok(record)
    }

    /// One page of rates, newest first.
    ///
    /// # Errors
    /// `Forbidden`.
    #[tracing::instrument(name = "list_tax_rates", skip_all)]
    pub async fn list(
        &self,
        actor: &Actor,
        page: PageRequest,
    ) -> Result<Page<TaxRateRecord>, AppError> {
        actor.require_admin()?;
        Ok(self.rates.list(page).await?)
    }

    /// One rate.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    #[tracing::instrument(name = "get_tax_rate", skip_all)]
    pub async fn get(&self, actor: &Actor, id: TaxRateId) -> Result<TaxRateRecord, AppError> {
        actor.require_admin()?;
        self.existing(id).await
    }

    /// Changes the given fields and checks the whole rate again.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Validation` naming each bad field, `Conflict` as on create.
    #[tracing::instrument(name = "update_tax_rate", skip_all)]
    pub async fn update(
        &self,
        actor: &Actor,
        id: TaxRateId,
        cmd: UpdateTaxRateCommand,
    ) -> Result<TaxRateRecord, AppError> {
        actor.require_admin()?;
        let mut record = self.existing(id).await?;
        let stored = record.rate.clone();
        let mut v = Validator::new();
        let country = match &cmd.country {
            Some(raw) => v.check("country", CountryCode::parse(raw)),
            None => Some(stored.country()),
        };
        let percent = match &cmd.rate {
            Some(raw) => v.check("rate", Percent::parse(raw)),
            None => Some(stored.rate()),
        };
        let state = match &cmd.state {
            Some(s) => s.as_deref(),
            None => stored.state(),
        };
        let name = cmd.name.as_deref().unwrap_or(stored.name());
        let rate = assemble(&mut v, country, state, percent, name);
        v.finish()?;
        record.rate = rate.ok_or_else(|| AppError::invalid("body", "invalid tax rate"))?;
        record.updated_at = self.clock.now();
        if !self
            .rates
            .update(&record)
            .await
            .map_err(|e| taken(e, &record.rate))?
        {
            return Err(AppError::NotFound);
        }
        Ok(record)
    }

    /// Removes the rate; carts shipping there are taxed by the rate left (the country's, or
    /// none).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    #[tracing::instrument(name = "delete_tax_rate", skip_all)]
    pub async fn delete(&self, actor: &Actor, id: TaxRateId) -> Result<(), AppError> {
        actor.require_admin()?;
        if self.rates.delete(id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }
}
