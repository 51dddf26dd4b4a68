//! Promotions (admin): discount codes, what they take off, and when they may be used.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::{
    Discount, Page, PageRequest, Promotion, PromotionCode, PromotionId, PromotionRecord,
    PromotionRepository, PromotionRules, Validator,
};

use super::parse_time;
use crate::catalog::{PriceInput, parse_money};
use crate::ports::Clock;
use crate::{Actor, AppError};

/// A new promotion as the admin sent it.
#[derive(Debug, Clone)]
pub struct CreatePromotionCommand {
    /// The code customers type.
    pub code: String,
    /// `percentage` or `fixed`.
    pub kind: String,
    /// The percent, or the amount in `currency`.
    pub value: String,
    /// The currency of a fixed discount.
    pub currency: Option<String>,
    /// Smallest subtotal it applies to.
    pub min_subtotal: Option<PriceInput>,
    /// First moment it may be used, RFC 3339.
    pub starts_at: Option<String>,
    /// Moment it stops, RFC 3339.
    pub ends_at: Option<String>,
    /// Uses in all.
    pub usage_limit: Option<u32>,
    /// Uses per customer.
    pub per_customer_limit: Option<u32>,
    /// Switched on (default yes).
    pub active: Option<bool>,
}

/// Changes to a promotion; absent fields stay, `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct UpdatePromotionCommand {
    /// New code.
    pub code: Option<String>,
    /// New kind.
    pub kind: Option<String>,
    /// New value.
    pub value: Option<String>,
    /// New currency; `Some(None)` clears it.
    pub currency: Option<Option<String>>,
    /// New minimum; `Some(None)` clears it.
    pub min_subtotal: Option<Option<PriceInput>>,
    /// New start; `Some(None)` clears it.
    pub starts_at: Option<Option<String>>,
    /// New end; `Some(None)` clears it.
    pub ends_at: Option<Option<String>>,
    /// New total limit; `Some(None)` clears it.
    pub usage_limit: Option<Option<u32>>,
    /// New per-customer limit; `Some(None)` clears it.
    pub per_customer_limit: Option<Option<u32>>,
    /// On or off.
    pub active: Option<bool>,
}

/// The admin's promotions: create, read, change, remove. Only admins, for every operation.
pub struct Promotions {
    /// Stored promotions.
    pub promotions: Arc<dyn PromotionRepository>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

fn optional_time(
    v: &mut Validator,
    field: &str,
    raw: Option<&str>,
) -> Option<Option<DateTime<Utc>>> {
    match raw {
        None => Some(None),
        Some(raw) => parse_time(v, field, raw).map(Some),
    }
}

impl Promotions {
    async fn existing(&self, id: PromotionId) -> Result<PromotionRecord, AppError> {
        self.promotions.get(id).await?.ok_or(AppError::NotFound)
    }

    /// Validates and stores a new promotion, used 0 times.
    ///
    /// # Errors
    /// `Forbidden`; `Validation` naming each bad field; `Conflict` on `code` when another
    /// promotion has it in any case.
    #[tracing::instrument(name = "create_promotion", skip_all)]
    pub async fn create(
        &self,
        actor: &Actor,
        cmd: CreatePromotionCommand,
    ) -> Result<PromotionRecord, AppError> {
        actor.require_admin()?;
        let mut v = Validator::new();
        let code = v.check("code", PromotionCode::parse(&cmd.code));
        let discount = match Discount::parse(&cmd.kind, &cmd.value, cmd.currency.as_deref()) {
            Ok(d) => Some(d),
            Err(e) => {
                push_all(&mut v, e);
                None
            }
        };
        let min_subtotal = match &cmd.min_subtotal {
            None => Some(None),
            Some(m) => parse_money(&mut v, "min_subtotal", m).map(Some),
        };
        let starts_at = optional_time(&mut v, "starts_at", cmd.starts_at.as_deref());
        let ends_at = optional_time(&mut v, "ends_at", cmd.ends_at.as_deref());
        v.finish()?;
        let (Some(code), Some(discount), Some(min_subtotal), Some(starts_at), Some(ends_at)) =
            (code, discount, min_subtotal, starts_at, ends_at)
        else {
            return Err(AppError::invalid("body", "invalid promotion"));
        };
        let promotion = Promotion::new(
            PromotionRules {
                code,
                discount,
                min_subtotal,
                starts_at,
                ends_at,
                usage_limit: cmd.usage_limit,
                per_customer_limit: cmd.per_customer_limit,
                active: cmd.active.unwrap_or(true),
            },
            0,
        )?;
        let now = self.clock.now();
        let record = PromotionRecord {
            id: PromotionId::new(),
            promotion,
            created_at: now,
            updated_at: now,
        };
        self.promotions.insert(&record).await?;
        Ok(record)
    }

    /// One page of promotions, newest first.
    ///
    /// # Errors
    /// `Forbidden`.
    #[tracing::instrument(name = "list_promotions", skip_all)]
    pub async fn list(
        &self,
        actor: &Actor,
        page: PageRequest,
    ) -> Result<Page<PromotionRecord>, AppError> {
        actor.require_admin()?;
        Ok(self.promotions.list(page).await?)
    }

    /// One promotion.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    #[tracing::instrument(name = "get_promotion", skip_all)]
    pub async fn get(&self, actor: &Actor, id: PromotionId) -> Result<PromotionRecord, AppError> {
        actor.require_admin()?;
        self.existing(id).await
    }

    /// Changes the given fields and checks the whole promotion again. The discount is
    /// parsed from the new `kind`, `value` and `currency`, each the stored one when absent,
    /// except that a promotion turned into a percentage drops its currency unless one is
    /// sent (which is then refused, as on create).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Validation` naming each bad field, `Conflict` on `code`.
    #[tracing::instrument(name = "update_promotion", skip_all)]
    pub async fn update(
        &self,
        actor: &Actor,
        id: PromotionId,
        cmd: UpdatePromotionCommand,
    ) -> Result<PromotionRecord, AppError> {
        actor.require_admin()?;
        let mut record = self.existing(id).await?;
        let mut rules = record.promotion.rules();
        let mut v = Validator::new();
        let code = match &cmd.code {
            Some(raw) => v.check("code", PromotionCode::parse(raw)),
            None => Some(rules.code.clone()),
        };
        let discount = if cmd.kind.is_some() || cmd.value.is_some() || cmd.currency.is_some() {
            let kind = cmd
                .kind
                .clone()
                .unwrap_or_else(|| rules.discount.kind().to_owned());
            let value = cmd
                .value
                .clone()
                .unwrap_or_else(|| rules.discount.value_string());
            let currency = match &cmd.currency {
                Some(c) => c.clone(),
                None if kind == "percentage" => None,
                None => rules.discount.currency().map(|c| c.code().to_owned()),
            };
            match Discount::parse(&kind, &value, currency.as_deref()) {
                Ok(d) => Some(d),
                Err(e) => {
                    push_all(&mut v, e);
                    None
                }
            }
        } else {
            Some(rules.discount)
        };
        let min_subtotal = match &cmd.min_subtotal {
            None => Some(rules.min_subtotal),
            Some(None) => Some(None),
            Some(Some(m)) => parse_money(&mut v, "min_subtotal", m).map(Some),
        };
        let starts_at = match &cmd.starts_at {
            None => Some(rules.starts_at),
            Some(raw) => optional_time(&mut v, "starts_at", raw.as_deref()),
        };
        let ends_at = match &cmd.ends_at {
            None => Some(rules.ends_at),
            Some(raw) => optional_time(&mut v, "ends_at", raw.as_deref()),
        };
        v.finish()?;
        let (Some(code), Some(discount), Some(min_subtotal), Some(starts_at), Some(ends_at)) =
            (code, discount, min_subtotal, starts_at, ends_at)
        else {
            return Err(AppError::invalid("body", "invalid promotion"));
        };
        rules.code = code;
        rules.discount = discount;
        rules.min_subtotal = min_subtotal;
        rules.starts_at = starts_at;
        rules.ends_at = ends_at;
        if let Some(limit) = cmd.usage_limit {
            rules.usage_limit = limit;
        }
        if let Some(limit) = cmd.per_customer_limit {
            rules.per_customer_limit = limit;
        }
        if let Some(active) = cmd.active {
            rules.active = active;
        }
        record.promotion = Promotion::new(rules, record.promotion.times_used())?;
        record.updated_at = self.clock.now();
        self.promotions
            .update(&record)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Removes the promotion; its code no longer applies to any cart.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    #[tracing::instrument(name = "delete_promotion", skip_all)]
    pub async fn delete(&self, actor: &Actor, id: PromotionId) -> Result<(), AppError> {
        actor.require_admin()?;
        if self.promotions.delete(id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }
}

/// Records every field error of `e` (a `Validation`); any other domain error as one on `value`.
fn push_all(v: &mut Validator, e: domain::DomainError) {
    match e {
        domain::DomainError::Validation(errors) => errors.into_iter().for_each(|e| v.push(e)),
        other => v.push(domain::FieldError::new("value", other.to_string())),
    }
}
