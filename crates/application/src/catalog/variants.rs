//! Variant use cases: admins add, change and remove one variant of a product at a time.
//!
//! Each reads the product first (for a 404 and for the event's images and categories), then
//! hands the repository a change that it applies inside its transaction to the variants as
//! stored, under the product's lock: the rules of [`VariantSet`] (no two combinations alike,
//! one currency, the last variant kept) are checked against what is written, not against a
//! read that a concurrent change could have made stale.

use std::sync::Arc;

use domain::{
    OptionValues, Position, Product, ProductId, ProductRepository, Sku, Stock, Validator, Variant,
    VariantChanges, VariantError, VariantId, VariantSet,
};

use super::products::{PriceInput, VariantInput, parse_money, parse_variant};
use crate::events::Events;
use crate::ports::{Clock, Lookup, ProductReadModel, ProductView};
use crate::{Actor, AppError};

/// What the repository answered for a change of `id`'s variants, as the use case answers it.
fn outcome(
    written: Option<Result<Product, VariantError>>,
    id: VariantId,
) -> Result<Variant, AppError> {
    match written {
        None => Err(AppError::NotFound),
        Some(Err(e)) => Err(refusal(e)),
        Some(Ok(product)) => product.variants.get(id).cloned().ok_or(AppError::NotFound),
    }
}

/// A refusal of [`VariantSet`] in the API's terms: an unknown variant is 404, the last one
/// 409, broken rules 422 on their fields.
fn refusal(e: VariantError) -> AppError {
    match e {
        VariantError::NotFound(_) => AppError::NotFound,
        e @ VariantError::LastVariant => AppError::Conflict {
            field: None,
            message: e.to_string(),
        },
        VariantError::Invalid(e) => e.into(),
    }
}

/// The parts every variant use case needs: the stores, the time, the events.
pub struct VariantDeps {
    /// Product writes.
    pub products: Arc<dyn ProductRepository>,
    /// Catalog reads: the product with its images and categories, as the event tells of it.
    pub catalog: Arc<dyn ProductReadModel>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The events written with each change.
    pub events: Arc<Events>,
}

impl VariantDeps {
    /// The product as the API shows it, or `NotFound`.
    async fn read(&self, id: ProductId) -> Result<ProductView, AppError> {
        self.catalog
            .get(&Lookup::Id(id))
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Applies `change` to the variants of `current` in one transaction with its
    /// `product.updated` event (and `variant.low_stock` when `stock_set` left `variant` at the
    /// threshold or below).
    async fn write(
        &self,
        current: &ProductView,
        variant: VariantId,
        stock_set: bool,
        change: &(dyn for<'s> Fn(&'s mut VariantSet) -> Result<(), VariantError> + Send + Sync),
    ) -> Result<Option<Result<Product, VariantError>>, AppError> {
        let events = |product: &Product| {
            self.events.variant_updated(
                &ProductView {
                    product: product.clone(),
                    images: current.images.clone(),
                    categories: current.categories.clone(),
                },
                variant,
                stock_set,
            )
        };
        Ok(self
            .products
            .change_variants_with_events(current.product.id, self.clock.now(), change, &events)
            .await?)
    }
}

/// Adds a variant to a product (admins only), whatever the product's status.
pub struct AddVariant {
    /// Stores, time and events.
    pub deps: VariantDeps,
}

impl AddVariant {
    /// Validates the variant against the product's options, then adds it.
    ///
    /// # Errors
    /// `Forbidden` for non-admins, `NotFound` for an unknown product, `Validation` on each bad
    /// field (`option_values` naming another variant's combination too), `Conflict` on a
    /// taken SKU.
    #[tracing::instrument(name = "add_variant", skip_all, fields(product_id = %id))]
    pub async fn execute(
        &self,
        actor: &Actor,
        id: ProductId,
        input: VariantInput,
    ) -> Result<Variant, AppError> {
        actor.require_admin()?;
        let current = self.deps.read(id).await?;
        let mut v = Validator::new();
        let variant_id = VariantId::new();
        let options = current.product.variants.options();
        let variant = parse_variant(&mut v, "", Some(options), variant_id, &input);
        v.finish()?;
        let variant = variant.ok_or_else(|| AppError::invalid("body", "invalid variant"))?;
        let written = self
            .deps
            .write(&current, variant_id, false, &|set| {
                set.add(variant.clone()).map_err(VariantError::from)
            })
            .await?;
        outcome(written, variant_id)
    }
}

/// Changes to a variant as an admin sent them; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdateVariantCommand {
    /// New SKU.
    pub sku: Option<String>,
    /// New combination, `(option name, value)` for every option of the product.
    pub option_values: Option<Vec<(String, String)>>,
    /// New price.
    pub price: Option<PriceInput>,
    /// New struck-through price; `Some(None)` clears it.
    pub compare_at_price: Option<Option<PriceInput>>,
    /// New stock level.
    pub stock: Option<i64>,
    /// New position.
    pub position: Option<i64>,
}

/// Changes a variant of a product (admins only), whatever the product's status.
pub struct UpdateVariant {
    /// Stores, time and events.
    pub deps: VariantDeps,
}

impl UpdateVariant {
    /// Validates the given fields, then changes the variant with them.
    ///
    /// # Errors
    /// `Forbidden` for non-admins, `NotFound` for an unknown product or a variant it does not
    /// have, `Validation` on each bad field, `Conflict` on a taken SKU.
    #[tracing::instrument(name = "update_variant", skip_all, fields(product_id = %id, variant_id = %variant_id))]
    pub async fn execute(
        &self,
        actor: &Actor,
        id: ProductId,
        variant_id: VariantId,
        cmd: UpdateVariantCommand,
    ) -> Result<Variant, AppError> {
        actor.require_admin()?;
        let current = self.deps.read(id).await?;
        if current.product.variants.get(variant_id).is_none() {
            return Err(AppError::NotFound);
        }
        let mut v = Validator::new();
        let options = current.product.variants.options();
        let changes = VariantChanges {
            sku: cmd
                .sku
                .as_deref()
                .and_then(|s| v.check("sku", Sku::parse(s))),
            option_values: cmd.option_values.as_ref().and_then(|given| {
                OptionValues::parse(
                    &mut v,
                    "option_values",
                    options,
                    given.iter().map(|(n, x)| (n.as_str(), x.as_str())),
                )
            }),
            price: cmd
                .price
                .as_ref()
                .and_then(|p| parse_money(&mut v, "price", p)),
            compare_at_price: cmd.compare_at_price.as_ref().and_then(|c| match c {
                None => Some(None),
                Some(p) => parse_money(&mut v, "compare_at_price", p).map(Some),
            }),
            stock: cmd.stock.and_then(|n| v.check("stock", Stock::new(n))),
            position: cmd
                .position
                .and_then(|n| v.check("position", Position::new(n))),
        };
        v.finish()?;
        let stock_set = changes.stock.is_some();
        let written = self
            .deps
            .write(&current, variant_id, stock_set, &|set| {
                set.change(variant_id, changes.clone()).map(|_| ())
            })
            .await?;
        outcome(written, variant_id)
    }
}

/// Removes a variant of a product (admins only); its SKU becomes free. A product keeps at
/// least one variant.
pub struct DeleteVariant {
    /// Stores, time and events.
    pub deps: VariantDeps,
}

impl DeleteVariant {
    /// Removes the variant.
    ///
    /// # Errors
    /// `Forbidden` for non-admins, `NotFound` for an unknown product or a variant it does not
    /// have, `Conflict` for its last variant.
    #[tracing::instrument(name = "delete_variant", skip_all, fields(product_id = %id, variant_id = %variant_id))]
    pub async fn execute(
        &self,
        actor: &Actor,
        id: ProductId,
        variant_id: VariantId,
    ) -> Result<(), AppError> {
        actor.require_admin()?;
        let current = self.deps.read(id).await?;
        let written = self
            .deps
            .write(&current, variant_id, false, &|set| {
                set.remove(variant_id).map(|_| ())
            })
            .await?;
        match written {
            None => Err(AppError::NotFound),
            Some(Err(e)) => Err(refusal(e)),
            Some(Ok(_)) => Ok(()),
        }
    }
}
