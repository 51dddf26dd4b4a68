//! Catalog use cases: admins write products, anyone reads the active ones.

use std::collections::HashMap;
use std::sync::Arc;

use domain::{
    Category, CategoryId, CategoryRepository, Currency, Description, DomainError, FieldError,
    Money, OptionInput, OptionValues, Page, PageRequest, Position, Product, ProductChanges,
    ProductId, ProductName, ProductOptions, ProductRepository, ProductStatus, RepositoryError, Sku,
    Slug, Stock, Validator, Variant, VariantId, VariantSet,
};
use uuid::Uuid;

use super::categories::SLUG_ATTEMPTS;
use super::images::discard_files;
use crate::events::Events;
use crate::ports::{
    CategoryRef, Clock, FileStore, Lookup, ProductFilter, ProductReadModel, ProductView,
};
use crate::{Actor, AppError};

/// What a slug made from a name falls back to when the name keeps nothing.
const FALLBACK_SLUG: &str = "product";

/// Most categories one product may be in.
pub const MAX_CATEGORIES: usize = 100;

/// A price as the client sent it.
#[derive(Debug, Clone)]
pub struct PriceInput {
    /// Decimal string, e.g. `19.99`.
    pub amount: String,
    /// ISO 4217 code.
    pub currency: String,
}

fn parse_price(v: &mut Validator, input: &PriceInput) -> Option<Money> {
    parse_money(v, "price", input)
}

/// The amount `input` names, or `None` with its errors recorded on `{field}.amount` and
/// `{field}.currency`.
pub(crate) fn parse_money(v: &mut Validator, field: &str, input: &PriceInput) -> Option<Money> {
    let amount = format!("{field}.amount");
    match Currency::parse(&input.currency) {
        Ok(currency) => v.check(&amount, Money::parse(&input.amount, currency)),
        Err(e) => {
            // The amount's sign and shape do not depend on the currency: report them too.
            // KWD has the most minor digits, so it refuses only what every currency refuses.
            if let Ok(widest) = Currency::parse("KWD") {
                v.check(&amount, Money::parse(&input.amount, widest));
            }
            v.push(e.at(format!("{field}.currency")));
            None
        }
    }
}

fn parse_description(v: &mut Validator, input: Option<&str>) -> Option<Option<Description>> {
    match input {
        None => Some(None),
        Some(d) if d.trim().is_empty() => Some(None),
        Some(d) => v.check("description", Description::parse(d)).map(Some),
    }
}

/// The ids of `input` once each, in the order first given; at most [`MAX_CATEGORIES`].
fn parse_category_ids(v: &mut Validator, input: &[Uuid]) -> Option<Vec<CategoryId>> {
    if input.len() > MAX_CATEGORIES {
        v.push(FieldError::new(
            "category_ids",
            format!("must hold at most {MAX_CATEGORIES} ids"),
        ));
        return None;
    }
    let mut out: Vec<CategoryId> = Vec::with_capacity(input.len());
    for id in input {
        let id = CategoryId::from_uuid(*id);
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Some(out)
}

/// The categories named, as a product shows them, by position then name; an unknown id is
/// refused on `category_ids`.
fn category_refs(all: &[Category], ids: &[CategoryId]) -> Result<Vec<CategoryRef>, AppError> {
    let by_id: HashMap<CategoryId, &Category> = all.iter().map(|c| (c.id, c)).collect();
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(c) = by_id.get(id) else {
            return Err(AppError::invalid(
                "category_ids",
                format!("category {id} does not exist"),
            ));
        };
        found.push(*c);
    }
    found.sort_by(|a, b| (a.position, a.name.as_str()).cmp(&(b.position, b.name.as_str())));
    Ok(found
        .into_iter()
        .map(|c| CategoryRef {
            id: c.id,
            name: c.name.as_str().to_owned(),
            slug: c.slug.clone(),
        })
        .collect())
}

/// A new product as an admin submitted it.
#[derive(Debug, Clone)]
pub struct CreateProductCommand {
    /// Unique SKU of its one variant; required without `variants`, refused with them.
    pub sku: Option<String>,
    /// Name.
    pub name: String,
    /// Slug; made from the name when absent.
    pub slug: Option<String>,
    /// Status name; `active` when absent.
    pub status: Option<String>,
    /// Optional description.
    pub description: Option<String>,
    /// Unit price of its one variant; required without `variants`, refused with them.
    pub price: Option<PriceInput>,
    /// Units on hand of its one variant; required without `variants`, refused with them.
    pub stock: Option<i64>,
    /// The categories it is in.
    pub category_ids: Vec<Uuid>,
    /// Its options (none: a product of one variant).
    pub options: Vec<OptionInput>,
    /// Its variants, when it is sold in more than the one `sku`, `price` and `stock` make.
    pub variants: Option<Vec<VariantInput>>,
}

/// A variant as an admin sent it, before any check.
#[derive(Debug, Clone)]
pub struct VariantInput {
    /// The variant of the product it is (only in a new set given to [`UpdateProduct`]);
    /// `None` for a new one.
    pub id: Option<Uuid>,
    /// Unique SKU.
    pub sku: String,
    /// `(option name, value)` for every option of the product.
    pub option_values: Vec<(String, String)>,
    /// Unit price.
    pub price: PriceInput,
    /// Struck-through price.
    pub compare_at_price: Option<PriceInput>,
    /// Units on hand.
    pub stock: i64,
    /// Where it sorts; 0 when absent.
    pub position: Option<i64>,
}

/// A field of a product's one variant (`sku`, `price`, `stock`) as sent: parsed when
/// `variants` are not given (then it is required), refused when they are; every problem
/// recorded in `v`.
fn sole<T, U>(
    v: &mut Validator,
    field: &str,
    variants_given: bool,
    sent: Option<T>,
    parse: impl FnOnce(&mut Validator, T) -> Option<U>,
) -> Option<U> {
    match (sent, variants_given) {
        (Some(_), true) => {
            v.push(FieldError::new(
                field,
                "must not be given with `variants`: each variant has its own",
            ));
            None
        }
        (None, true) => None,
        (Some(x), false) => parse(v, x),
        (None, false) => {
            v.push(FieldError::new(field, "is required (or give `variants`)"));
            None
        }
    }
}

/// The variants given for a new product `id` against its `options`, every problem recorded
/// in `v`.
fn given_variants(
    v: &mut Validator,
    id: ProductId,
    options: &[OptionInput],
    given: &[VariantInput],
) -> Option<VariantSet> {
    let options = parse_options(v, options);
    let mut variants = Vec::with_capacity(given.len());
    for (i, input) in given.iter().enumerate() {
        // A product of one variant: the variant has the product's id.
        let variant_id = if given.len() == 1 {
            VariantId::from_uuid(id.as_uuid())
        } else {
            VariantId::new()
        };
        let prefix = format!("variants[{i}]");
        if let Some(variant) = parse_variant(v, &prefix, options.as_ref(), variant_id, input) {
            variants.push(variant);
        }
    }
    checked_set(v, options, variants, given.len())
}

/// The variant `id` as `input` gives it, its option values read against `options` (`None`
/// when they did not parse: then they are not read), every problem recorded in `v` on its
/// field under `prefix` (`variants[2].sku`, or `sku` with no prefix). Its `input.id` is the
/// caller's to check.
pub(crate) fn parse_variant(
    v: &mut Validator,
    prefix: &str,
    options: Option<&ProductOptions>,
    id: VariantId,
    input: &VariantInput,
) -> Option<Variant> {
    let at = |f: &str| {
        if prefix.is_empty() {
            f.to_owned()
        } else {
            format!("{prefix}.{f}")
        }
    };
    let sku = v.check(&at("sku"), Sku::parse(&input.sku));
    let option_values = options.and_then(|options| {
        OptionValues::parse(
            v,
            &at("option_values"),
            options,
            input
                .option_values
                .iter()
                .map(|(n, x)| (n.as_str(), x.as_str())),
        )
    });
    let price = parse_money(v, &at("price"), &input.price);
    let compare_at_price = match &input.compare_at_price {
        None => Some(None),
        Some(p) => parse_money(v, &at("compare_at_price"), p).map(Some),
    };
    let stock = v.check(&at("stock"), Stock::new(input.stock));
    let position = v.check(&at("position"), Position::new(input.position.unwrap_or(0)));
    Some(Variant {
        id,
        sku: sku?,
        option_values: option_values?,
        price: price?,
        compare_at_price: compare_at_price?,
        stock: stock?,
        position: position?,
    })
}

/// The set of `options` and `variants` when both parsed, all `given` of the variants did,
/// and [`VariantSet::new`] takes them; its refusals recorded in `v`.
fn checked_set(
    v: &mut Validator,
    options: Option<ProductOptions>,
    variants: Vec<Variant>,
    given: usize,
) -> Option<VariantSet> {
    let options = options?;
    if variants.len() != given {
        return None;
    }
    match VariantSet::new(options, variants) {
        Ok(set) => Some(set),
        Err(DomainError::Validation(errors)) => {
            errors.into_iter().for_each(|e| v.push(e));
            None
        }
        Err(e) => {
            v.push(FieldError::new("variants", e.to_string()));
            None
        }
    }
}

/// `options` parsed, their problems recorded in `v`.
fn parse_options(v: &mut Validator, options: &[OptionInput]) -> Option<ProductOptions> {
    match ProductOptions::parse(options) {
        Ok(options) => Some(options),
        Err(DomainError::Validation(errors)) => {
            errors.into_iter().for_each(|e| v.push(e));
            None
        }
        Err(e) => {
            v.push(FieldError::new("options", e.to_string()));
            None
        }
    }
}

/// The whole new variant set an update gives `current`: with `options` when given, else
/// with the product's own; a variant with an `id` keeps that variant of the product (one it
/// does not have, or named twice, is refused on `variants[i].id`), one without is new. Every
/// problem is recorded in `v`.
fn new_variant_set(
    v: &mut Validator,
    current: &Product,
    options: Option<&[OptionInput]>,
    given: &[VariantInput],
) -> Option<VariantSet> {
    let options = match options {
        Some(options) => parse_options(v, options),
        None => Some(current.variants.options().clone()),
    };
    let mut variants = Vec::with_capacity(given.len());
    let mut ids: Vec<VariantId> = Vec::with_capacity(given.len());
    for (i, input) in given.iter().enumerate() {
        let prefix = format!("variants[{i}]");
        let id = match input.id.map(VariantId::from_uuid) {
            None => Some(VariantId::new()),
            Some(id) if current.variants.get(id).is_none() => {
                v.push(FieldError::new(
                    format!("{prefix}.id"),
                    format!("the product has no variant {id}"),
                ));
                None
            }
            Some(id) if ids.contains(&id) => {
                v.push(FieldError::new(
                    format!("{prefix}.id"),
                    format!("names variant {id} again"),
                ));
                None
            }
            Some(id) => Some(id),
        };
        if let Some(id) = id {
            ids.push(id);
        }
        let variant = parse_variant(
            v,
            &prefix,
            options.as_ref(),
            id.unwrap_or_else(VariantId::new),
            input,
        );
        if let (Some(variant), Some(_)) = (variant, id) {
            variants.push(variant);
        }
    }
    checked_set(v, options, variants, given.len())
}

/// Adds a product to the catalog (admins only; the SKU and a given slug must be free).
pub struct CreateProduct {
    /// Product writes.
    pub products: Arc<dyn ProductRepository>,
    /// The categories it may be put in.
    pub categories: Arc<dyn CategoryRepository>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The events it writes with the product.
    pub events: Arc<Events>,
}

impl CreateProduct {
    /// Validates every field, picks a free slug when none is given, then stores the product.
    ///
    /// # Errors
    /// `Forbidden` for non-admins, `Validation` listing each bad field (an unknown category
    /// on `category_ids`), `Conflict` on a taken SKU or given slug.
    #[tracing::instrument(name = "create_product", skip_all)]
    pub async fn execute(
        &self,
        actor: &Actor,
        cmd: CreateProductCommand,
    ) -> Result<ProductView, AppError> {
        actor.require_admin()?;
        let mut v = Validator::new();
        let id = ProductId::new();
        let variants_given = cmd.variants.is_some();
        let sku = sole(&mut v, "sku", variants_given, cmd.sku.as_deref(), |v, s| {
            v.check("sku", Sku::parse(s))
        });
        let name = v.check("name", ProductName::parse(&cmd.name));
        let slug = match cmd.slug.as_deref() {
            None => Some(None),
            Some(s) => v.check("slug", Slug::parse(s)).map(Some),
        };
        let status = match cmd.status.as_deref() {
            None => Some(ProductStatus::default()),
            Some(s) => v.check("status", ProductStatus::parse(s)),
        };
        let description = parse_description(&mut v, cmd.description.as_deref());
        let price = sole(
            &mut v,
            "price",
            variants_given,
            cmd.price.as_ref(),
            parse_price,
        );
        let stock = sole(&mut v, "stock", variants_given, cmd.stock, |v, n| {
            v.check("stock", Stock::new(n))
        });
        let variants = match &cmd.variants {
            Some(given) => given_variants(&mut v, id, &cmd.options, given),
            None if !cmd.options.is_empty() => {
                v.push(FieldError::new(
                    "variants",
                    "is required with `options`: name the variants they make",
                ));
                None
            }
            // Its one variant has the product's id, so either names it in an order.
            None => match (sku, price, stock) {
                (Some(sku), Some(price), Some(stock)) => Some(VariantSet::single(
                    VariantId::from_uuid(id.as_uuid()),
                    sku,
                    price,
                    stock,
                )),
                _ => None,
            },
        };
        let category_ids = parse_category_ids(&mut v, &cmd.category_ids);
        v.finish()?;
        let (
            Some(variants),
            Some(name),
            Some(slug),
            Some(status),
            Some(description),
            Some(category_ids),
        ) = (variants, name, slug, status, description, category_ids)
        else {
            return Err(AppError::invalid("body", "invalid product"));
        };
        let categories = if category_ids.is_empty() {
            Vec::new()
        } else {
            category_refs(&self.categories.all().await?, &category_ids)?
        };
        let now = self.clock.now();
        let mut product = Product {
            id,
            slug: Slug::from_name(name.as_str(), FALLBACK_SLUG),
            name,
            status,
            description,
            variants,
            created_at: now,
            updated_at: now,
        };
        let view = |product: &Product| ProductView {
            product: product.clone(),
            images: Vec::new(),
            categories: categories.clone(),
        };
        let Some(given) = slug else {
            let base = product.slug.clone();
            for _ in 0..SLUG_ATTEMPTS {
                product.slug = base.first_free(&self.products.slugs_like(&base).await?);
                let created = self.events.product_created(&view(&product));
                match self
                    .products
                    .insert_in_with_events(&product, &category_ids, &[created])
                    .await
                {
                    Err(RepositoryError::Conflict("slug")) => continue,
                    other => other?,
                }
                return Ok(view(&product));
            }
            return Err(RepositoryError::Conflict("slug").into());
        };
        product.slug = given;
        let created = self.events.product_created(&view(&product));
        self.products
            .insert_in_with_events(&product, &category_ids, &[created])
            .await?;
        Ok(view(&product))
    }
}

/// Changes to a product as an admin submitted them; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdateProductCommand {
    /// New SKU.
    pub sku: Option<String>,
    /// New name.
    pub name: Option<String>,
    /// New slug.
    pub slug: Option<String>,
    /// New status name.
    pub status: Option<String>,
    /// New description; `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// New price.
    pub price: Option<PriceInput>,
    /// New stock level.
    pub stock: Option<i64>,
    /// The categories it is in, all of them.
    pub category_ids: Option<Vec<Uuid>>,
    /// Its new options, all of them; only with `variants`.
    pub options: Option<Vec<OptionInput>>,
    /// Its whole new set of variants (with `options` when given, else its current ones):
    /// those with an `id` keep that variant, the others are new, and the product's variants
    /// not named are removed. Not with `sku`, `price` or `stock`.
    pub variants: Option<Vec<VariantInput>>,
}

/// Changes a product (admins only).
pub struct UpdateProduct {
    /// Product writes.
    pub products: Arc<dyn ProductRepository>,
    /// The categories it may be put in.
    pub categories: Arc<dyn CategoryRepository>,
    /// Catalog reads, for the answer.
    pub catalog: Arc<dyn ProductReadModel>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The events it writes with the change.
    pub events: Arc<Events>,
}

impl UpdateProduct {
    /// Validates the given fields, then saves the product with them.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Validation`, or `Conflict` on a taken SKU or slug.
    #[tracing::instrument(name = "update_product", skip_all, fields(product_id = %id))]
    pub async fn execute(
        &self,
        actor: &Actor,
        id: ProductId,
        cmd: UpdateProductCommand,
    ) -> Result<ProductView, AppError> {
        actor.require_admin()?;
        let mut v = Validator::new();
        let changes = ProductChanges {
            sku: cmd
                .sku
                .as_deref()
                .and_then(|s| v.check("sku", Sku::parse(s))),
            name: cmd
                .name
                .as_deref()
                .and_then(|s| v.check("name", ProductName::parse(s))),
            slug: cmd
                .slug
                .as_deref()
                .and_then(|s| v.check("slug", Slug::parse(s))),
            status: cmd
                .status
                .as_deref()
                .and_then(|s| v.check("status", ProductStatus::parse(s))),
            description: cmd
                .description
                .as_ref()
                .and_then(|d| parse_description(&mut v, d.as_deref())),
            price: cmd.price.as_ref().and_then(|p| parse_price(&mut v, p)),
            stock: cmd.stock.and_then(|s| v.check("stock", Stock::new(s))),
            category_ids: cmd
                .category_ids
                .as_deref()
                .and_then(|ids| parse_category_ids(&mut v, ids)),
            variants: None,
        };
        let mut changes = changes;
        // The product as the API shows it now: the update leaves its images alone, and its
        // categories change only when the command names them. A new variant set is read
        // against it, so it is read first then.
        let mut current = None;
        match (&cmd.options, &cmd.variants) {
            (_, Some(given)) => {
                let view = self.read(id).await?;
                changes.variants =
                    new_variant_set(&mut v, &view.product, cmd.options.as_deref(), given);
                current = Some(view);
            }
            (Some(_), None) => v.push(FieldError::new(
                "variants",
                "is required with `options`: give the whole new set of variants",
            )),
            (None, None) => {}
        }
        v.finish()?;
        let current = match current {
            Some(view) => view,
            None => self.read(id).await?,
        };
        // The changes as the domain takes them: none of SKU, price or stock on a product of
        // several variants, and a new currency only with a struck-through price in it.
        current
            .product
            .clone()
            .apply(changes.clone(), self.clock.now())?;
        let categories = match changes.category_ids.as_deref() {
            None => current.categories,
            Some([]) => Vec::new(),
            Some(ids) => category_refs(&self.categories.all().await?, ids)?,
        };
        let stock_set = changes.stock.is_some() || changes.variants.is_some();
        let events = |product: &Product| {
            self.events.product_updated(
                &ProductView {
                    product: product.clone(),
                    images: current.images.clone(),
                    categories: categories.clone(),
                },
                stock_set,
            )
        };
        self.products
            .update_with_events(id, &changes, self.clock.now(), &events)
            .await?
            .ok_or(AppError::NotFound)?;
        self.catalog
            .get(&Lookup::Id(id))
            .await?
            .ok_or(AppError::NotFound)
    }
}

impl UpdateProduct {
    /// The product as the API shows it, or `NotFound`.
    async fn read(&self, id: ProductId) -> Result<ProductView, AppError> {
        self.catalog
            .get(&Lookup::Id(id))
            .await?
            .ok_or(AppError::NotFound)
    }
}

/// Removes a product from the catalog with its images (admins only). Orders keep their own
/// copy of it.
pub struct DeleteProduct {
    /// Product writes.
    pub products: Arc<dyn ProductRepository>,
    /// Catalog reads: the product with its images and categories, as the event tells of it.
    pub catalog: Arc<dyn ProductReadModel>,
    /// Where image files are kept.
    pub store: Arc<dyn FileStore>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The events it writes with the removal.
    pub events: Arc<Events>,
}

impl DeleteProduct {
    /// Deletes the product and its image rows in one transaction, then their files. A product
    /// with images is deleted only while the file store answers, so that a store that is down
    /// leaves everything as it was.
    ///
    /// # Errors
    /// `Forbidden` for non-admins, `NotFound` when it does not exist, `Unavailable` when the
    /// database, or the store of its images, does not answer.
    #[tracing::instrument(name = "delete_product", skip_all, fields(product_id = %id))]
    pub async fn execute(&self, actor: &Actor, id: ProductId) -> Result<(), AppError> {
        actor.require_admin()?;
        // The product as the API shows it, for the event.
        let view = self
            .catalog
            .get(&Lookup::Id(id))
            .await?
            .ok_or(AppError::NotFound)?;
        if !view.images.is_empty() {
            self.store.check().await?;
        }
        let now = self.clock.now();
        let deleted = self.events.product_deleted(&view, now);
        let removed = self
            .products
            .delete_with_events(id, now, &[deleted])
            .await?
            .ok_or(AppError::NotFound)?;
        discard_files(&*self.store, &removed).await;
        Ok(())
    }
}

/// Whether `actor` may see products that are not active.
fn sees_every_status(actor: Option<&Actor>) -> bool {
    actor.is_some_and(Actor::is_admin)
}

/// Reads one product by id or slug with its images and categories, from the catalog's read
/// model. Anyone but an admin sees active products only: any other answers `NotFound`.
pub struct GetProduct {
    /// Catalog reads.
    pub catalog: Arc<dyn ProductReadModel>,
}

impl GetProduct {
    /// The product.
    ///
    /// # Errors
    /// `NotFound` when it does not exist, was deleted, or is not active and the caller is
    /// not an admin.
    #[tracing::instrument(name = "get_product", skip_all)]
    pub async fn execute(
        &self,
        actor: Option<&Actor>,
        key: &Lookup<ProductId>,
    ) -> Result<ProductView, AppError> {
        let view = self.catalog.get(key).await?.ok_or(AppError::NotFound)?;
        if view.product.status.is_public() || sees_every_status(actor) {
            Ok(view)
        } else {
            Err(AppError::NotFound)
        }
    }
}

/// Lists the catalog, newest first unless sorted otherwise, optionally filtered, each product
/// with its images and categories, as the catalog's read model answers it. Anyone but an
/// admin gets active products only, whatever status they ask for.
pub struct ListProducts {
    /// Catalog reads.
    pub catalog: Arc<dyn ProductReadModel>,
    /// The category tree, to find a category and those below it.
    pub categories: Arc<dyn CategoryRepository>,
}

impl ListProducts {
    /// One page; a blank search lists everything. Any text is a valid search. `category`
    /// shows the products of that category and of every one below it; one that does not
    /// exist matches nothing (an empty page, like any filter that matches nothing).
    ///
    /// # Errors
    /// `Unavailable` when the database does not answer.
    #[tracing::instrument(name = "list_products", skip_all)]
    pub async fn execute(
        &self,
        actor: Option<&Actor>,
        page: PageRequest,
        mut filter: ProductFilter,
        category: Option<&Lookup<CategoryId>>,
    ) -> Result<Page<ProductView>, AppError> {
        if !sees_every_status(actor) {
            filter.status = Some(ProductStatus::Active);
        }
        if let Some(key) = category {
            let all = self.categories.all().await?;
            let found = all.iter().find(|c| key.names(&c.id, &c.slug));
            let Some(found) = found else {
                return Ok(Page::empty(page));
            };
            let mut below: Vec<CategoryId> =
                domain::category::subtree(found.id, &domain::category::links_of(&all))
                    .into_iter()
                    .collect();
            below.sort();
            filter.categories = Some(below);
        }
        Ok(self.catalog.list(page, &filter).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use domain::Role;

    fn cmd() -> CreateProductCommand {
        CreateProductCommand {
            sku: Some("MUG-1".into()),
            name: "Mug".into(),
            slug: None,
            status: None,
            description: None,
            price: Some(PriceInput {
                amount: "9.50".into(),
                currency: "EUR".into(),
            }),
            stock: Some(3),
            category_ids: Vec::new(),
            options: Vec::new(),
            variants: None,
        }
    }

    #[tokio::test]
    async fn only_admins_create_products() {
        let repo = Arc::new(MemoryProducts::default());
        let uc = CreateProduct {
            products: repo.clone(),
            categories: Arc::new(MemoryCategories::default()),
            clock: Arc::new(FixedClock),
            events: events(),
        };
        let err = uc.execute(&actor(&[Role::User]), cmd()).await.unwrap_err();
        assert!(matches!(err, AppError::Forbidden));
        assert!(repo.items.lock().unwrap().is_empty());
        let p = uc
            .execute(&actor(&[Role::User, Role::Admin]), cmd())
            .await
            .unwrap();
        assert_eq!(p.product.price().amount_string(), "9.50");
    }

    #[tokio::test]
    async fn every_bad_field_is_reported_at_once() {
        let repo = Arc::new(MemoryProducts::default());
        let uc = CreateProduct {
            products: repo,
            categories: Arc::new(MemoryCategories::default()),
            clock: Arc::new(FixedClock),
            events: events(),
        };
        let bad = CreateProductCommand {
            sku: Some("".into()),
            name: "".into(),
            slug: None,
            status: None,
            category_ids: Vec::new(),
            description: None,
            price: Some(PriceInput {
                amount: "-1".into(),
                currency: "EUR".into(),
            }),
            stock: Some(-5),
            options: Vec::new(),
            variants: None,
        };
        let Err(AppError::Validation(errors)) = uc.execute(&actor(&[Role::Admin]), bad).await
        else {
            panic!("expected a validation error");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["sku", "name", "price.amount", "stock"]);
    }

    #[tokio::test]
    async fn non_admins_cannot_update_or_delete() {
        let repo = Arc::new(MemoryProducts::default());
        let admin = actor(&[Role::Admin]);
        let p = CreateProduct {
            products: repo.clone(),
            categories: Arc::new(MemoryCategories::default()),
            clock: Arc::new(FixedClock),
            events: events(),
        }
        .execute(&admin, cmd())
        .await
        .unwrap()
        .product;
        let user = actor(&[Role::User]);
        let update = UpdateProduct {
            products: repo.clone(),
            categories: Arc::new(MemoryCategories::default()),
            catalog: repo.clone(),
            clock: Arc::new(FixedClock),
            events: events(),
        };
        assert!(matches!(
            update
                .execute(&user, p.id, UpdateProductCommand::default())
                .await,
            Err(AppError::Forbidden)
        ));
        assert!(matches!(
            DeleteProduct {
                products: repo.clone(),
                catalog: repo.clone(),
                store: Arc::new(MemoryStore::default()),
                clock: Arc::new(FixedClock),
                events: events(),
            }
            .execute(&user, p.id)
            .await,
            Err(AppError::Forbidden)
        ));
        let changed = update
            .execute(
                &admin,
                p.id,
                UpdateProductCommand {
                    stock: Some(7),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(changed.product.stock(), 7);
        assert_eq!(changed.product.name.as_str(), "Mug");
    }

    #[tokio::test]
    async fn deleting_a_product_removes_its_images_and_their_files() {
        let repo = Arc::new(MemoryProducts::default());
        let store = Arc::new(MemoryStore::default());
        let p = repo.add_sample("A-1");
        let image = repo.add_image(p);
        store.insert(&image.file.key, b"bytes");
        let delete = DeleteProduct {
            products: repo.clone(),
            catalog: repo.clone(),
            store: store.clone(),
            clock: Arc::new(FixedClock),
            events: events(),
        };
        let admin = actor(&[Role::Admin]);

        store.set_down(true);
        assert!(matches!(
            delete.execute(&admin, p).await,
            Err(AppError::Unavailable { .. })
        ));
        assert_eq!(repo.items.lock().unwrap().len(), 1, "nothing changed");
        assert_eq!(repo.images.lock().unwrap().len(), 1);

        store.set_down(false);
        delete.execute(&admin, p).await.unwrap();
        assert!(repo.items.lock().unwrap().is_empty());
        assert!(repo.images.lock().unwrap().is_empty());
        assert!(store.is_empty());
    }
}
