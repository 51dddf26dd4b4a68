use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::category::{count_changes, with_ancestors};
use domain::{
    CategoryId, Currency, Description, FieldError, Image, KeyPart, Money, OptionInput,
    OptionValues, Page, PageRequest, ParentLinks, PendingEvent, Position, Product, ProductChanges,
    ProductId, ProductName, ProductOptions, ProductRepository, ProductStatus, RepositoryError, Sku,
    Slug, SortKeys, Stock, Validator, Variant, VariantError, VariantId, VariantSet,
};
use uuid::Uuid;

use super::categories::{bump_counts, placeholders_from, tree_links, tree_lock};
use super::events::write_events;
use super::images::{
    ImageRow, JoinedImageRow, image_columns, images_from_json, images_json, joined_image_columns,
};
use super::{
    Backend, Database, ReadReplica, after_condition, corrupt, fetch_in, keyset_page_of, map_err,
    on_db, on_replica, order_by, slugs_like,
};
use application::ports::{
    CategoryRef, Lookup, ProductFilter, ProductReadModel, ProductSort, ProductView,
};

macro_rules! product_columns {
    () => {
        "id, sku, name, slug, status, description, price_minor, currency, stock, options, \
         created_at, updated_at"
    };
}

/// [`product_columns`] of the table aliased `p`.
macro_rules! joined_product_columns {
    () => {
        "p.id, p.sku, p.name, p.slug, p.status, p.description, p.price_minor, p.currency, \
         p.stock, p.options, p.created_at, p.updated_at"
    };
}

/// The columns of a variant, as [`VariantRow`] reads them.
macro_rules! variant_columns {
    () => {
        "id, product_id, sku, option_values, price_minor, compare_at_price_minor, currency, \
         stock, position"
    };
}

/// The live variants of the product `p` as one JSON text, `[[id, sku, option_values,
/// price_minor, compare_at_price_minor, currency, stock, position], ...]` (see
/// [`variants_from_json`]), so that a product's view and a list page stay one statement.
macro_rules! variants_json {
    (sqlite) => {
        "(SELECT json_group_array(json_array(lower(hex(v.id)), v.sku, v.option_values, \
         v.price_minor, v.compare_at_price_minor, v.currency, v.stock, v.position)) \
         FROM product_variants v WHERE v.product_id = p.id AND v.deleted_at IS NULL) AS variants"
    };
    (postgres) => {
        "(SELECT COALESCE(json_agg(json_build_array(v.id, v.sku, v.option_values, \
         v.price_minor, v.compare_at_price_minor, v.currency, v.stock, v.position)), '[]')::text \
         FROM product_variants v WHERE v.product_id = p.id AND v.deleted_at IS NULL) AS variants"
    };
}

/// A product with one of its images (or none), as a `LEFT JOIN` gives them, and its
/// categories and variants as JSON (see [`categories_json`], [`variants_json`]), the same on
/// each of its rows.
#[derive(sqlx::FromRow)]
struct ProductImageRow {
    #[sqlx(flatten)]
    product: ProductRow,
    #[sqlx(flatten)]
    image: JoinedImageRow,
    categories: String,
    variants: String,
}

/// The categories of the product `p` as one JSON text, `[[id, name, slug, position], ...]`,
/// so that one statement reads a product, its images and its categories (each statement is a
/// round trip to a connection's thread or to the server). SQLite holds ids as blobs, written
/// here as 32 hex digits.
macro_rules! categories_json {
    (sqlite) => {
        "(SELECT json_group_array(json_array(lower(hex(c.id)), c.name, c.slug, c.position)) \
         FROM product_categories pc JOIN categories c ON c.id = pc.category_id \
         WHERE pc.product_id = p.id) AS categories"
    };
    (postgres) => {
        "(SELECT COALESCE(json_agg(json_build_array(c.id, c.name, c.slug, c.position)), '[]')::text \
         FROM product_categories pc JOIN categories c ON c.id = pc.category_id \
         WHERE pc.product_id = p.id) AS categories"
    };
}

/// The product read by id or slug (`$1`), with its images and categories, in one statement.
macro_rules! product_view_sql {
    ($backend:tt, $key:literal) => {
        concat!(
            "SELECT ",
            joined_product_columns!(),
            ", ",
            joined_image_columns!(),
            ", ",
            categories_json!($backend),
            ", ",
            variants_json!($backend),
            " FROM products p LEFT JOIN product_images i ON i.product_id = p.id \
             WHERE p.",
            $key,
            " = $1 AND p.deleted_at IS NULL ORDER BY i.id"
        )
    };
}

/// [`categories_json`]'s text as the product's categories, by position, then name, then id.
fn categories_from_json(json: &str) -> Result<Vec<CategoryRef>, RepositoryError> {
    let rows: Vec<(String, String, String, i64)> =
        serde_json::from_str(json).map_err(|e| corrupt("categories", e))?;
    let rows = rows
        .into_iter()
        .map(|(id, name, slug, position)| {
            Uuid::parse_str(&id)
                .map(|id| (position, name, id, slug))
                .map_err(|e| corrupt("category id", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    category_refs(rows)
}

/// A product's categories from their `(position, name, id, slug)` rows, in the order the API
/// shows them: by position, then name, then id.
fn category_refs(
    mut rows: Vec<(i64, String, Uuid, String)>,
) -> Result<Vec<CategoryRef>, RepositoryError> {
    rows.sort();
    rows.into_iter()
        .map(|(_, name, id, slug)| {
            Ok(CategoryRef {
                id: CategoryId::from_uuid(id),
                name,
                slug: Slug::parse(&slug).map_err(|e| corrupt("category slug", e))?,
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
pub(super) struct ProductRow {
    id: Uuid,
    name: String,
    slug: Option<String>,
    status: String,
    description: Option<String>,
    /// The lowest price of its variants (what the price sorts go by).
    price_minor: i64,
    options: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A variant as stored (one row of `product_variants`, or one entry of [`variants_json`]).
#[derive(sqlx::FromRow)]
pub(super) struct VariantRow {
    id: Uuid,
    product_id: Uuid,
    sku: String,
    option_values: String,
    price_minor: i64,
    compare_at_price_minor: Option<i64>,
    currency: String,
    stock: i64,
    position: i64,
}

/// One entry of [`variants_json`]'s text.
type VariantJson = (String, String, String, i64, Option<i64>, String, i64, i64);

/// [`variants_json`]'s text as the variant rows of `product_id`.
fn variants_from_json(product_id: Uuid, json: &str) -> Result<Vec<VariantRow>, RepositoryError> {
    let rows: Vec<VariantJson> = serde_json::from_str(json).map_err(|e| corrupt("variants", e))?;
    rows.into_iter()
        .map(
            |(
                id,
                sku,
                option_values,
                price_minor,
                compare_at_price_minor,
                currency,
                stock,
                position,
            )| {
                Ok(VariantRow {
                    id: Uuid::parse_str(&id).map_err(|e| corrupt("variant id", e))?,
                    product_id,
                    sku,
                    option_values,
                    price_minor,
                    compare_at_price_minor,
                    currency,
                    stock,
                    position,
                })
            },
        )
        .collect()
}

/// An option as the `options` column holds it.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredOption {
    name: String,
    values: Vec<String>,
}

/// The `options` column of `options`.
fn options_json(options: &ProductOptions) -> String {
    let stored: Vec<StoredOption> = options
        .as_slice()
        .iter()
        .map(|o| StoredOption {
            name: o.name().as_str().to_owned(),
            values: o.values().iter().map(|x| x.as_str().to_owned()).collect(),
        })
        .collect();
    serde_json::to_string(&stored).unwrap_or_else(|_| "[]".to_owned())
}

/// The `option_values` column of `values`: the values alone, in the product's option order.
fn option_values_json(values: &OptionValues) -> String {
    let values: Vec<&str> = values.pairs().iter().map(|(_, x)| x.as_str()).collect();
    serde_json::to_string(&values).unwrap_or_else(|_| "[]".to_owned())
}

/// The `options` column read back.
fn options_from_json(json: &str) -> Result<ProductOptions, RepositoryError> {
    let stored: Vec<StoredOption> =
        serde_json::from_str(json).map_err(|e| corrupt("options", e))?;
    let input: Vec<OptionInput> = stored
        .into_iter()
        .map(|o| OptionInput {
            name: o.name,
            values: o.values,
        })
        .collect();
    ProductOptions::parse(&input).map_err(|e| corrupt("options", e))
}

/// A variant row read back against its product's `options`.
fn variant_of(options: &ProductOptions, r: VariantRow) -> Result<Variant, RepositoryError> {
    let currency = Currency::parse(&r.currency).map_err(|e| corrupt("currency", e))?;
    let values: Vec<String> =
        serde_json::from_str(&r.option_values).map_err(|e| corrupt("option values", e))?;
    let names = options.as_slice().iter().map(|o| o.name().as_str());
    let mut v = Validator::new();
    let option_values = OptionValues::parse(&mut v, "option_values", options, names.zip(&values));
    let option_values = match (option_values, v.finish()) {
        (Some(x), Ok(())) => x,
        (_, Err(e)) => return Err(corrupt("option values", e)),
        (None, Ok(())) => return Err(corrupt("option values", "unreadable")),
    };
    Ok(Variant {
        id: VariantId::from_uuid(r.id),
        sku: Sku::parse(&r.sku).map_err(|e| corrupt("sku", e))?,
        option_values,
        price: Money::from_minor(r.price_minor, currency).map_err(|e| corrupt("price", e))?,
        compare_at_price: r
            .compare_at_price_minor
            .map(|m| Money::from_minor(m, currency))
            .transpose()
            .map_err(|e| corrupt("compare_at_price", e))?,
        stock: Stock::new(r.stock).map_err(|e| corrupt("stock", e))?,
        position: Position::new(r.position).map_err(|e| corrupt("position", e))?,
    })
}

/// The product of row `r` with its variant rows (in any order).
fn product_of(r: ProductRow, mut variants: Vec<VariantRow>) -> Result<Product, RepositoryError> {
    let options = options_from_json(&r.options)?;
    variants.sort_by_key(|v| (v.position, v.id));
    let variants = variants
        .into_iter()
        .map(|v| variant_of(&options, v))
        .collect::<Result<Vec<_>, _>>()?;
    let variants = VariantSet::new(options, variants).map_err(|e| corrupt("variants", e))?;
    Ok(Product {
        id: ProductId::from_uuid(r.id),
        name: ProductName::parse(&r.name).map_err(|e| corrupt("name", e))?,
        slug: Slug::parse(r.slug.as_deref().unwrap_or_default()).map_err(|e| corrupt("slug", e))?,
        status: ProductStatus::parse(&r.status).map_err(|e| corrupt("status", e))?,
        description: r
            .description
            .map(|d| Description::parse(&d))
            .transpose()
            .map_err(|e| corrupt("description", e))?,
        variants,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

/// How many rows one backfill transaction takes.
const BATCH: i64 = 500;

/// Runs `batch` (one transaction over at most [`BATCH`] rows, answering how many it took)
/// until one takes fewer; answers how many rows all took.
async fn in_batches<F, Fut>(mut batch: F) -> Result<u64, RepositoryError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, RepositoryError>>,
{
    let mut done = 0_u64;
    loop {
        let n = batch().await?;
        done += n as u64;
        if n < usize::try_from(BATCH).unwrap_or(usize::MAX) {
            return Ok(done);
        }
    }
}

/// Computes again, in batches, the `search_text` of the products a migration marked
/// `search_stale` (after a change of [`search_text`]'s rule).
pub(super) async fn refresh_search_text(db: &Database) -> Result<(), RepositoryError> {
    let done = in_batches(|| async move {
        on_db!(db, write, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            let rows: Vec<(Uuid, String, Option<String>)> = sqlx::query_as(
                "SELECT id, name, description FROM products WHERE search_stale LIMIT $1",
            )
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
            for (id, name, description) in &rows {
                sqlx::query("UPDATE products SET search_text = $2, search_stale = FALSE WHERE id = $1")
                    .bind(id)
                    .bind(search_text_of(name, description.as_deref()))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
            tx.commit().await.map_err(map_err)?;
            Ok(rows.len())
        })
    })
    .await?;
    if done > 0 {
        tracing::info!(products = done, "search text computed again");
    }
    Ok(())
}

/// Gives every product without a slug (those a migration added the column to) the slug of
/// its name, in batches, oldest first; a clash with a live product takes the first free
/// number (`mug-2`).
pub(super) async fn fill_missing_slugs(db: &Database) -> Result<(), RepositoryError> {
    let lock = &tree_lock(db, true);
    let done = in_batches(|| async move {
        on_db!(db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            if let Some(lock) = &lock {
                // Two instances starting at once fill them one after the other.
                sqlx::query(sqlx::AssertSqlSafe(lock.clone())).execute(&mut *tx).await.map_err(map_err)?;
            }
            let rows: Vec<(Uuid, String)> = sqlx::query_as(
                "SELECT id, name FROM products WHERE slug IS NULL ORDER BY created_at, id LIMIT $1",
            )
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
            for (id, name) in &rows {
                let base = Slug::from_name(name, "product");
                let taken: Vec<String> = sqlx::query_scalar(
                    "SELECT slug FROM products WHERE deleted_at IS NULL AND (slug = $1 OR slug LIKE $2)",
                )
                .bind(base.as_str())
                .bind(format!("{}-%", base.as_str()))
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
                let slug = base.first_free(&taken.into_iter().collect());
                sqlx::query("UPDATE products SET slug = $2 WHERE id = $1")
                    .bind(id)
                    .bind(slug.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
            tx.commit().await.map_err(map_err)?;
            Ok(rows.len())
        })
    })
    .await?;
    if done > 0 {
        tracing::info!(products = done, "slugs made from product names");
    }
    Ok(())
}

/// What a product counts towards: its categories and their ancestors, when it is active.
fn counted_in(
    status: ProductStatus,
    categories: &[CategoryId],
    links: &ParentLinks,
) -> HashSet<CategoryId> {
    if status.is_public() {
        with_ancestors(categories, links)
    } else {
        HashSet::new()
    }
}

/// The first of `ids` the tree does not hold, as the refusal of `category_ids`.
fn unknown_category(ids: &[CategoryId], links: &ParentLinks) -> Result<(), RepositoryError> {
    match ids.iter().find(|id| !links.contains_key(id)) {
        None => Ok(()),
        Some(id) => Err(RepositoryError::Invalid(FieldError::new(
            "category_ids",
            format!("category {id} does not exist"),
        ))),
    }
}

/// Products in SQL, for both backends: the repository and the catalog's read model.
#[derive(Clone)]
pub struct SqlProducts {
    db: Database,
    /// The standby that may serve the read model's reads.
    replica: Option<ReadReplica>,
    /// How many of a search's newest matches relevance order ranks ([`RELEVANCE_WINDOW`]).
    relevance_window: i64,
    /// Told of the events each committed transaction wrote.
    events_written: super::EventCounter,
}

super::counting_events!(SqlProducts);

impl SqlProducts {
    /// Products in `db`.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            replica: None,
            relevance_window: RELEVANCE_WINDOW,
            events_written: super::EventCounter::default(),
        }
    }

    /// Relevance order ranks the newest `window` matches of a search (a test's small window).
    #[must_use]
    pub fn with_relevance_window(mut self, window: i64) -> Self {
        self.relevance_window = window.max(1);
        self
    }

    /// The read model's reads of requests that may lag go to `replica` while it is usable.
    #[must_use]
    pub fn with_replica(mut self, replica: Option<ReadReplica>) -> Self {
        self.replica = replica;
        self
    }

    /// The products of `rows` with their live variants, read in one more statement.
    async fn with_variants(&self, rows: Vec<ProductRow>) -> Result<Vec<Product>, RepositoryError> {
        const SQL: &str = concat!(
            "SELECT ",
            variant_columns!(),
            " FROM product_variants WHERE deleted_at IS NULL AND product_id IN ({})"
        );
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut variants: Vec<VariantRow> = fetch_in(&self.db, SQL, &ids).await?;
        rows.into_iter()
            .map(|r| {
                let (mine, rest): (Vec<VariantRow>, Vec<VariantRow>) =
                    std::mem::take(&mut variants)
                        .into_iter()
                        .partition(|v| v.product_id == r.id);
                variants = rest;
                product_of(r, mine)
            })
            .collect()
    }
}

/// Joins name and description in [`search_text`]; a control character that names and
/// descriptions refuse, so no match spans the two.
const SEARCH_SEPARATOR: char = '\u{1f}';

/// What the `search_text` column holds for `p`, and searches match against: name and
/// description, case-folded, joined by [`SEARCH_SEPARATOR`].
fn search_text(p: &Product) -> String {
    search_text_of(p.name.as_str(), p.description.as_ref().map(|d| d.as_str()))
}

/// [`search_text`] of a name and description as stored.
fn search_text_of(name: &str, description: Option<&str>) -> String {
    let mut text = fold_case(name);
    if let Some(d) = description {
        text.push(SEARCH_SEPARATOR);
        text.push_str(&fold_case(d));
    }
    text
}

/// The one case rule of product search, applied to the stored text and to every query alike:
/// Unicode full case folding (`CaseFolding.txt`, statuses C and F). Unlike lower-casing it
/// folds `Σ`, `σ` and word-final `ς` to one letter, and `ß` and `SS` to `ss`, the same on
/// both databases and on the indexed and the scanning query paths.
fn fold_case(text: &str) -> String {
    caseless::default_case_fold_str(text)
}

/// How well a product whose case-folded name is `name` matches the case-folded search `q`, best
/// first: 0 the name is the search, 1 it starts with it, 2 it holds it, 3 only the description
/// does. [`rank_sql`] computes the same in SQL, and a relevance cursor carries it.
fn relevance(name: &str, q: &str) -> i64 {
    if name == q {
        0
    } else if name.starts_with(q) {
        1
    } else if name.contains(q) {
        2
    } else {
        3
    }
}

/// [`relevance`] as an SQL expression over the folded name `name` and the search, bound as
/// placeholder `$n`.
fn rank_sql(backend: Backend, name: &str, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!(
            "(CASE WHEN {name} = ${n} THEN 0 WHEN substr({name}, 1, length(${n})) = ${n} THEN 1 \
             WHEN instr({name}, ${n}) > 0 THEN 2 ELSE 3 END)"
        ),
        Backend::Postgres => format!(
            "(CASE WHEN {name} = ${n}::text THEN 0 WHEN starts_with({name}, ${n}::text) THEN 1 \
             WHEN strpos({name}, ${n}::text) > 0 THEN 2 ELSE 3 END)"
        ),
    }
}

/// What a search as the client typed it looks for in `search_text`: `None` lists everything
/// (no text, or only blanks), `Some(None)` matches nothing, `Some(Some(text))` is the
/// case-folded text. Stored text holds no control characters but line breaks and tabs
/// (PostgreSQL cannot even store a NUL), so a search with any other matches nothing.
fn search_term(search: Option<&str>) -> Option<Option<String>> {
    let search = search.map(str::trim).filter(|s| !s.is_empty())?;
    let unmatchable = search
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
    Some((!unmatchable).then(|| fold_case(search)))
}

/// `LIKE` pattern matching `text` anywhere, with the pattern's own wildcards escaped.
fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// An FTS5 phrase that matches `text` as a substring under the trigram tokenizer.
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Links the product `$id` to each of `$ids` inside `$tx`.
macro_rules! link_categories {
    ($tx:expr, $id:expr, $ids:expr, $now:expr) => {{
        for category in $ids {
            sqlx::query(
                "INSERT INTO product_categories (product_id, category_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $3)",
            )
            .bind($id.as_uuid())
            .bind(category.as_uuid())
            .bind($now)
            .execute(&mut *$tx)
            .await
            .map_err(map_err)?;
        }
    }};
}

/// The categories of product `$id`, read inside `$tx`.
macro_rules! categories_in_tx {
    ($tx:expr, $id:expr) => {{
        let rows: Vec<Uuid> =
            sqlx::query_scalar("SELECT category_id FROM product_categories WHERE product_id = $1")
                .bind($id.as_uuid())
                .fetch_all(&mut *$tx)
                .await
                .map_err(map_err)?;
        rows.into_iter()
            .map(CategoryId::from_uuid)
            .collect::<Vec<_>>()
    }};
}

/// Inserts the variant `$v` of the product `$id` inside `$tx`, created at `$now`.
macro_rules! insert_variant {
    ($tx:expr, $id:expr, $v:expr, $now:expr) => {{
        let v: &Variant = $v;
        sqlx::query(
            "INSERT INTO product_variants (id, product_id, sku, option_values, price_minor, \
             compare_at_price_minor, currency, stock, position, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .bind(v.id.as_uuid())
        .bind($id.as_uuid())
        .bind(v.sku.as_str())
        .bind(option_values_json(&v.option_values))
        .bind(v.price.minor())
        .bind(v.compare_at_price.map(|m| m.minor()))
        .bind(v.price.currency().code())
        .bind(i64::from(v.stock.get()))
        .bind(i64::from(v.position.get()))
        .bind($now)
        .execute(&mut *$tx)
        .await
        .map_err(map_err)?;
    }};
}

/// Inserts every variant of the product `$p` inside `$tx`.
macro_rules! insert_variants {
    ($tx:expr, $p:expr) => {{
        for v in $p.variants.variants() {
            insert_variant!($tx, $p.id, v, $p.updated_at);
        }
    }};
}

/// Writes the variants of product `$id` as `$after` (a `&VariantSet`) holds them, over
/// `$before` (its live variants as read under the product's lock), inside `$tx`, at `$now`.
/// Only what differs is written, in an order that lets SKUs pass between variants: those
/// removed are soft-deleted first (freeing their SKUs, as a deleted product frees its own),
/// then every kept variant whose SKU changes parks on a placeholder no SKU can equal (`~` is
/// not a SKU character), then the changed ones are written and the new ones inserted. So a
/// swap of two SKUs, or a new variant taking a removed one's SKU, never trips the unique
/// index halfway.
macro_rules! write_variants {
    ($tx:expr, $id:expr, $before:expr, $after:expr, $now:expr) => {{
        let before: &[Variant] = $before;
        let after: &VariantSet = $after;
        for gone in before.iter().filter(|b| after.get(b.id).is_none()) {
            sqlx::query(
                "UPDATE product_variants SET deleted_at = $2, updated_at = $2 WHERE id = $1",
            )
            .bind(gone.id.as_uuid())
            .bind($now)
            .execute(&mut *$tx)
            .await
            .map_err(map_err)?;
        }
        let changed: Vec<(&Variant, &Variant)> = after
            .variants()
            .iter()
            .filter_map(|a| before.iter().find(|b| b.id == a.id).map(|b| (b, a)))
            .filter(|(b, a)| b != a)
            .collect();
        for (_, a) in changed.iter().filter(|(b, a)| b.sku != a.sku) {
            sqlx::query("UPDATE product_variants SET sku = $2 WHERE id = $1")
                .bind(a.id.as_uuid())
                .bind(format!("~{}", a.id))
                .execute(&mut *$tx)
                .await
                .map_err(map_err)?;
        }
        for (_, v) in &changed {
            sqlx::query(
                "UPDATE product_variants SET sku = $2, option_values = $3, price_minor = $4, \
                 compare_at_price_minor = $5, currency = $6, stock = $7, position = $8, \
                 updated_at = $9 WHERE id = $1",
            )
            .bind(v.id.as_uuid())
            .bind(v.sku.as_str())
            .bind(option_values_json(&v.option_values))
            .bind(v.price.minor())
            .bind(v.compare_at_price.map(|m| m.minor()))
            .bind(v.price.currency().code())
            .bind(i64::from(v.stock.get()))
            .bind(i64::from(v.position.get()))
            .bind($now)
            .execute(&mut *$tx)
            .await
            .map_err(map_err)?;
        }
        for v in after
            .variants()
            .iter()
            .filter(|a| before.iter().all(|b| b.id != a.id))
        {
            insert_variant!($tx, $id, v, $now);
        }
    }};
}

/// Writes the product row's summary of the variants of `$p` (its first variant's SKU, the
/// lowest price and its currency, the sum of the stock) and its options, inside `$tx`.
macro_rules! write_summary {
    ($tx:expr, $p:expr) => {{
        let p: &Product = $p;
        sqlx::query(
            "UPDATE products SET sku = $2, price_minor = $3, currency = $4, stock = $5, \
             options = $6, updated_at = $7 WHERE id = $1",
        )
        .bind(p.id.as_uuid())
        .bind(p.sku().as_str())
        .bind(p.price().minor())
        .bind(p.price().currency().code())
        .bind(i64::try_from(p.stock()).unwrap_or(i64::MAX))
        .bind(options_json(p.variants.options()))
        .bind(p.updated_at)
        .execute(&mut *$tx)
        .await
        .map_err(map_err)?;
    }};
}

/// The live variant rows of product `$id`, read inside `$tx`.
macro_rules! variants_in_tx {
    ($tx:expr, $id:expr) => {{
        let rows: Vec<VariantRow> = sqlx::query_as(concat!(
            "SELECT ",
            variant_columns!(),
            " FROM product_variants WHERE product_id = $1 AND deleted_at IS NULL"
        ))
        .bind($id.as_uuid())
        .fetch_all(&mut *$tx)
        .await
        .map_err(map_err)?;
        rows
    }};
}

/// Moves the kept counts from what a product counted towards (`$before`) to what it counts
/// towards now (`$after`), inside `$tx`.
macro_rules! move_counts {
    ($tx:expr, $before:expr, $after:expr) => {{
        let (more, less) = count_changes(&$before, &$after);
        bump_counts!($tx, &more, &less);
    }};
}

#[async_trait]
impl ProductRepository for SqlProducts {
    #[tracing::instrument(name = "db.products.insert", skip_all)]
    async fn insert_in_with_events(
        &self,
        p: &Product,
        category_ids: &[CategoryId],
        events: &[PendingEvent],
    ) -> Result<(), RepositoryError> {
        let lock = (!category_ids.is_empty())
            .then(|| tree_lock(&self.db, false))
            .flatten();
        on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            if let Some(lock) = &lock {
                sqlx::query(sqlx::AssertSqlSafe(lock.clone())).execute(&mut *tx).await.map_err(map_err)?;
            }
            // The product row holds the summary of its variants: the first one's SKU, the
            // lowest price, the sum of the stock.
            sqlx::query(
                "INSERT INTO products (id, sku, name, slug, status, description, price_minor, currency, stock, options, search_text, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(p.id.as_uuid())
            .bind(p.sku().as_str())
            .bind(p.name.as_str())
            .bind(p.slug.as_str())
            .bind(p.status.as_str())
            .bind(p.description.as_ref().map(Description::as_str))
            .bind(p.price().minor())
            .bind(p.price().currency().code())
            .bind(i64::try_from(p.stock()).unwrap_or(i64::MAX))
            .bind(options_json(p.variants.options()))
            .bind(search_text(p))
            .bind(p.created_at)
            .bind(p.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            insert_variants!(tx, p);
            if !category_ids.is_empty() {
                let links = tree_links!(tx);
                unknown_category(category_ids, &links)?;
                link_categories!(tx, p.id, category_ids, p.created_at);
                move_counts!(tx, HashSet::new(), counted_in(p.status, category_ids, &links));
            }
            let written = write_events!(tx, events)?;
            tx.commit().await.map_err(map_err)?;
            self.events_written.0.written(&written);
            Ok(())
        })
    }

    #[tracing::instrument(name = "db.products.get", skip_all)]
    async fn get(&self, id: ProductId) -> Result<Option<Product>, RepositoryError> {
        Ok(self.get_many(&[id]).await?.into_iter().next())
    }

    #[tracing::instrument(name = "db.products.get_many", skip_all, fields(count = ids.len()))]
    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<Product>, RepositoryError> {
        const SQL: &str = concat!(
            "SELECT ",
            product_columns!(),
            " FROM products WHERE deleted_at IS NULL AND id IN ({})"
        );
        let ids: Vec<Uuid> = ids.iter().map(ProductId::as_uuid).collect();
        let rows: Vec<ProductRow> = fetch_in(&self.db, SQL, &ids).await?;
        self.with_variants(rows).await
    }

    #[tracing::instrument(name = "db.products.of_variants", skip_all, fields(count = ids.len()))]
    async fn of_variants(&self, ids: &[VariantId]) -> Result<Vec<Product>, RepositoryError> {
        const SQL: &str = concat!(
            "SELECT ",
            product_columns!(),
            " FROM products WHERE deleted_at IS NULL AND id IN \
             (SELECT product_id FROM product_variants WHERE deleted_at IS NULL AND id IN ({}))"
        );
        let ids: Vec<Uuid> = ids.iter().map(VariantId::as_uuid).collect();
        let rows: Vec<ProductRow> = fetch_in(&self.db, SQL, &ids).await?;
        self.with_variants(rows).await
    }

    #[tracing::instrument(name = "db.products.slugs_like", skip_all)]
    async fn slugs_like(&self, base: &Slug) -> Result<HashSet<String>, RepositoryError> {
        slugs_like(
            &self.db,
            "SELECT slug FROM products WHERE deleted_at IS NULL AND (slug = $1 OR slug LIKE $2)",
            base,
        )
        .await
    }

    #[tracing::instrument(name = "db.products.update", skip_all)]
    async fn update_with_events(
        &self,
        id: ProductId,
        c: &ProductChanges,
        now: DateTime<Utc>,
        events: &(dyn for<'p> Fn(&'p Product) -> Vec<PendingEvent> + Send + Sync),
    ) -> Result<Option<Product>, RepositoryError> {
        let text_changed = c.name.is_some() || c.description.is_some();
        let lock = tree_lock(&self.db, false);
        let for_update = match self.db.backend() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let before_sql =
            format!("SELECT status FROM products WHERE id = $1 AND deleted_at IS NULL{for_update}");
        on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            if let Some(lock) = &lock {
                sqlx::query(sqlx::AssertSqlSafe(lock.clone())).execute(&mut *tx).await.map_err(map_err)?;
            }
            // The row is locked first, so two updates of one product count from what the
            // other left.
            let before: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(before_sql.clone()))
                .bind(id.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            let Some(before) = before else { return Ok(None) };
            let before = ProductStatus::parse(&before).map_err(|e| corrupt("status", e))?;
            if let Some(set) = &c.variants {
                // The whole new set, written over the variants as they are under the lock;
                // the row's options go with it, and the summary is written below.
                let row: ProductRow = sqlx::query_as(concat!(
                    "SELECT ", product_columns!(), " FROM products WHERE id = $1"
                ))
                .bind(id.as_uuid())
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
                let current = product_of(row, variants_in_tx!(tx, id))?;
                // The use case named as kept only variants the product had when it read it;
                // one deleted since would be inserted again under its old id. New variants
                // have fresh ids, so an id not live here but present in the table is that.
                for v in set.variants().iter().filter(|v| current.variants.get(v.id).is_none()) {
                    let gone: Option<Uuid> =
                        sqlx::query_scalar("SELECT id FROM product_variants WHERE id = $1")
                            .bind(v.id.as_uuid())
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(map_err)?;
                    if gone.is_some() {
                        return Err(RepositoryError::Invalid(FieldError::new(
                            "variants",
                            format!("variant {} was deleted meanwhile", v.id),
                        )));
                    }
                }
                write_variants!(tx, id, current.variants.variants(), set, now);
                sqlx::query("UPDATE products SET options = $2 WHERE id = $1")
                    .bind(id.as_uuid())
                    .bind(options_json(set.options()))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
            let row: Option<ProductRow> = sqlx::query_as(concat!(
                "UPDATE products SET sku = COALESCE($2, sku), name = COALESCE($3, name), \
                 description = CASE WHEN $4 THEN $5 ELSE description END, \
                 price_minor = COALESCE($6, price_minor), currency = COALESCE($7, currency), \
                 stock = COALESCE($8, stock), updated_at = $9, slug = COALESCE($10, slug), \
                 status = COALESCE($11, status) \
                 WHERE id = $1 AND deleted_at IS NULL RETURNING ",
                product_columns!()
            ))
            .bind(id.as_uuid())
            .bind(c.sku.as_ref().map(Sku::as_str))
            .bind(c.name.as_ref().map(ProductName::as_str))
            .bind(c.description.is_some())
            .bind(c.description.as_ref().and_then(|d| d.as_ref().map(Description::as_str)))
            .bind(c.price.map(|p| p.minor()))
            .bind(c.price.map(|p| p.currency().code()))
            .bind(c.stock.map(|s| i64::from(s.get())))
            .bind(now)
            .bind(c.slug.as_ref().map(Slug::as_str))
            .bind(c.status.map(|s| s.as_str()))
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            let Some(row) = row else { return Ok(None) };
            if c.touch_variant() {
                // Only a product of one variant takes these (the use case refuses them for
                // more), and its product row summarises exactly that variant.
                sqlx::query(
                    "UPDATE product_variants SET sku = COALESCE($2, sku), \
                     price_minor = COALESCE($3, price_minor), currency = COALESCE($4, currency), \
                     stock = COALESCE($5, stock), updated_at = $6 \
                     WHERE product_id = $1 AND deleted_at IS NULL",
                )
                .bind(id.as_uuid())
                .bind(c.sku.as_ref().map(Sku::as_str))
                .bind(c.price.map(|p| p.minor()))
                .bind(c.price.map(|p| p.currency().code()))
                .bind(c.stock.map(|s| i64::from(s.get())))
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            }
            let variants = variants_in_tx!(tx, id);
            let product = product_of(row, variants)?;
            if c.variants.is_some() {
                write_summary!(tx, &product);
            }
            if text_changed {
                sqlx::query("UPDATE products SET search_text = $2 WHERE id = $1")
                    .bind(id.as_uuid())
                    .bind(search_text(&product))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
            let old_categories = categories_in_tx!(tx, id);
            let new_categories = c.category_ids.clone().unwrap_or_else(|| old_categories.clone());
            if !old_categories.is_empty() || !new_categories.is_empty() {
                let links = tree_links!(tx);
                if let Some(ids) = &c.category_ids {
                    unknown_category(ids, &links)?;
                    sqlx::query("DELETE FROM product_categories WHERE product_id = $1")
                        .bind(id.as_uuid())
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                    link_categories!(tx, id, ids, now);
                }
                move_counts!(
                    tx,
                    counted_in(before, &old_categories, &links),
                    counted_in(product.status, &new_categories, &links)
                );
            }
            let pending = events(&product);
            let written = write_events!(tx, &pending)?;
            tx.commit().await.map_err(map_err)?;
            self.events_written.0.written(&written);
            Ok(Some(product))
        })
    }

    #[tracing::instrument(name = "db.products.change_variants", skip_all)]
    async fn change_variants_with_events(
        &self,
        id: ProductId,
        now: DateTime<Utc>,
        change: &(dyn for<'s> Fn(&'s mut VariantSet) -> Result<(), VariantError> + Send + Sync),
        events: &(dyn for<'p> Fn(&'p Product) -> Vec<PendingEvent> + Send + Sync),
    ) -> Result<Option<Result<Product, VariantError>>, RepositoryError> {
        // The product's row is locked first, as orders lock it before its variants: an order
        // taking stock of this product waits for this change, or this change reads the
        // stock it left (SQLite writes one transaction at a time anyway).
        let sql = format!(
            concat!(
                "SELECT ",
                product_columns!(),
                " FROM products WHERE id = $1 AND deleted_at IS NULL{}"
            ),
            match self.db.backend() {
                Backend::Postgres => " FOR UPDATE",
                Backend::Sqlite => "",
            }
        );
        on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            let row: Option<ProductRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(id.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            let Some(row) = row else { return Ok(None) };
            let mut product = product_of(row, variants_in_tx!(tx, id))?;
            let mut set = product.variants.clone();
            if let Err(e) = change(&mut set) {
                return Ok(Some(Err(e)));
            }
            write_variants!(tx, id, product.variants.variants(), &set, now);
            product.variants = set;
            product.updated_at = now;
            write_summary!(tx, &product);
            let pending = events(&product);
            let written = write_events!(tx, &pending)?;
            tx.commit().await.map_err(map_err)?;
            self.events_written.0.written(&written);
            Ok(Some(Ok(product)))
        })
    }

    #[tracing::instrument(name = "db.products.delete", skip_all)]
    async fn delete_with_events(
        &self,
        id: ProductId,
        now: DateTime<Utc>,
        events: &[PendingEvent],
    ) -> Result<Option<Vec<Image>>, RepositoryError> {
        let lock = tree_lock(&self.db, false);
        let rows: Option<Vec<ImageRow>> = on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            if let Some(lock) = &lock {
                sqlx::query(sqlx::AssertSqlSafe(lock.clone())).execute(&mut *tx).await.map_err(map_err)?;
            }
            let status: Option<String> = sqlx::query_scalar("UPDATE products SET deleted_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL RETURNING status")
                .bind(id.as_uuid())
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            match status {
                None => None,
                Some(status) => {
                    let status = ProductStatus::parse(&status).map_err(|e| corrupt("status", e))?;
                    // Its variants go with it, freeing their SKUs.
                    sqlx::query("UPDATE product_variants SET deleted_at = $2, updated_at = $2 WHERE product_id = $1 AND deleted_at IS NULL")
                        .bind(id.as_uuid())
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                    let categories = categories_in_tx!(tx, id);
                    if status.is_public() && !categories.is_empty() {
                        let links = tree_links!(tx);
                        move_counts!(tx, counted_in(status, &categories, &links), HashSet::new());
                    }
                    let images = sqlx::query_as(concat!(
                        "DELETE FROM product_images WHERE product_id = $1 RETURNING ",
                        image_columns!()
                    ))
                    .bind(id.as_uuid())
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(map_err)?;
                    let written = write_events!(tx, events)?;
                    tx.commit().await.map_err(map_err)?;
                    self.events_written.0.written(&written);
                    Some(images)
                }
            }
        });
        rows.map(|rows| rows.into_iter().map(Image::try_from).collect())
            .transpose()
    }
}

#[async_trait]
impl ProductReadModel for SqlProducts {
    #[tracing::instrument(name = "db.products.get_with_images", skip_all)]
    async fn get(&self, key: &Lookup<ProductId>) -> Result<Option<ProductView>, RepositoryError> {
        on_replica!(self, db => view_of(db, key).await)
    }

    #[tracing::instrument(name = "db.products.list", skip_all)]
    async fn list(
        &self,
        page: PageRequest,
        filter: &ProductFilter,
    ) -> Result<Page<ProductView>, RepositoryError> {
        let search = match search_term(filter.search.as_deref()) {
            None => None,
            Some(Some(term)) => Some(term),
            Some(None) => {
                return Ok(Page::empty(page));
            }
        };
        // One statement for the page with its images and categories, and one for its count,
        // side by side.
        on_replica!(self, db => page_of(db, page.clone(), search.as_deref(), filter, self.relevance_window).await,
            else page_of(db, page, search.as_deref(), filter, self.relevance_window).await)
    }
}

/// A product with its images and categories, by id or slug, in one statement.
async fn view_of(
    db: &Database,
    key: &Lookup<ProductId>,
) -> Result<Option<ProductView>, RepositoryError> {
    {
        let rows: Vec<ProductImageRow> = match (db, key) {
            (Database::Sqlite { read, .. }, Lookup::Id(id)) => {
                sqlx::query_as(product_view_sql!(sqlite, "id"))
                    .bind(id.as_uuid())
                    .fetch_all(read)
                    .await
            }
            (Database::Sqlite { read, .. }, Lookup::Slug(slug)) => {
                sqlx::query_as(product_view_sql!(sqlite, "slug"))
                    .bind(slug.as_str())
                    .fetch_all(read)
                    .await
            }
            (Database::Postgres(pool), Lookup::Id(id)) => {
                sqlx::query_as(product_view_sql!(postgres, "id"))
                    .bind(id.as_uuid())
                    .fetch_all(pool)
                    .await
            }
            (Database::Postgres(pool), Lookup::Slug(slug)) => {
                sqlx::query_as(product_view_sql!(postgres, "slug"))
                    .bind(slug.as_str())
                    .fetch_all(pool)
                    .await
            }
        }
        .map_err(map_err)?;
        let mut rows = rows.into_iter();
        let Some(ProductImageRow {
            product,
            image,
            categories,
            variants,
        }) = rows.next()
        else {
            return Ok(None);
        };
        let product_id = product.id;
        let mut images = Vec::new();
        for image in std::iter::once(image).chain(rows.map(|r| r.image)) {
            images.extend(image.into_image(product_id)?);
        }
        let variants = variants_from_json(product_id, &variants)?;
        Ok(Some(ProductView {
            product: product_of(product, variants)?,
            images,
            categories: categories_from_json(&categories)?,
        }))
    }
}

/// A value bound to a placeholder of a list's statement.
#[derive(Debug, Clone)]
enum Arg {
    Text(String),
    Int(i64),
    Id(Uuid),
}

/// Binds every `Arg` of `$args` to `$q`, in order.
macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for arg in $args {
            q = match arg {
                Arg::Text(s) => q.bind(s.clone()),
                Arg::Int(n) => q.bind(*n),
                Arg::Id(u) => q.bind(*u),
            };
        }
        q
    }};
}

/// The `WHERE` of a list, with its arguments numbered from `$1`.
#[derive(Debug, Default)]
struct Conditions {
    sql: Vec<String>,
    args: Vec<Arg>,
}

impl Conditions {
    /// `column IN (…)` of `ids`, one placeholder each.
    fn push_ids(&mut self, sql_before: &str, ids: &[CategoryId]) {
        let first = self.args.len() + 1;
        self.args.extend(ids.iter().map(|id| Arg::Id(id.as_uuid())));
        self.sql.push(format!(
            "{sql_before} ({}))",
            placeholders_from(first, ids.len())
        ));
    }

    /// `sql` with `$?` standing for the next placeholder.
    fn push(&mut self, sql: &str, arg: Option<Arg>) {
        match arg {
            Some(arg) => {
                self.args.push(arg);
                self.sql
                    .push(sql.replace("$?", &format!("${}", self.args.len())));
            }
            None => self.sql.push(sql.to_owned()),
        }
    }

    fn text(&self) -> String {
        self.sql.join(" AND ")
    }
}

/// How many of a search's newest matches relevance order ranks, by default.
///
/// Ranking every match of a search that matches most of a large catalog means reading each
/// matching row (seconds at 1,000,000 products), for a first page. So a search in relevance
/// order ranks its newest `RELEVANCE_WINDOW` matches, and with them, on the public (active)
/// list, every product named exactly as searched, which the name index finds whatever its
/// age. Elasticsearch bounds its result window the same way (`max_result_window`, also
/// 10,000). The total still counts every match (up to [`COUNTED`]); `sort=newest` lists them
/// all.
pub const RELEVANCE_WINDOW: i64 = 10_000;

/// One page of products, newest first, matching the folded `search` and `filter`.
async fn page_of(
    db: &Database,
    page: PageRequest,
    search: Option<&str>,
    filter: &ProductFilter,
    window: i64,
) -> Result<Page<ProductView>, RepositoryError> {
    // One row past the page says whether another follows (`next`).
    let limit = i64::from(page.per_page()) + 1;
    let offset = match page.position() {
        Some(_) => 0,
        None => i64::try_from(page.offset()).unwrap_or(i64::MAX),
    };
    let backend = db.backend();
    let only_active = filter.status == Some(ProductStatus::Active);
    let search = search.filter(|q| !q.is_empty());
    // A search is by relevance unless another order is asked for; without one, relevance
    // has nothing to rank and is newest first.
    let sort = match (filter.sort, search) {
        (None, Some(_)) => ProductSort::Relevance,
        (None | Some(ProductSort::Relevance), None) => ProductSort::Newest,
        (Some(sort), _) => sort,
    };
    let newest = sort == ProductSort::Newest;
    let narrowed =
        filter.categories.is_some() || filter.price.is_some() || filter.in_stock.is_some();
    let indexed = |q: &str| backend == Backend::Sqlite && only_active && q.chars().count() >= 3;
    // The tie-breaker, last key of every order and of every cursor: `seq` on SQLite, the
    // id (UUID v7) on PostgreSQL, each what that backend's "newest" means.
    let (tie, tie_kind, tie_column) = match backend {
        Backend::Sqlite => ("seq", 'i', "seq"),
        Backend::Postgres => ("id", 'u', "0::bigint AS seq"),
    };
    let tie_of = |r: &ListRow| match backend {
        Backend::Sqlite => KeyPart::Int(r.seq),
        Backend::Postgres => KeyPart::Id(r.product.id),
    };
    // SQLite's trigram index holds the live active products: a public search of three
    // characters or more, newest first and filtered by nothing else, is answered by it in
    // its own rowid order (= `seq`), stopping after the page (after the cursor's `seq`
    // when there is one), and its match count is the total.
    if !narrowed
        && newest
        && let Some(q) = search.filter(|q| indexed(q))
        && let Database::Sqlite { read, .. } = db
    {
        let phrase = fts_phrase(q);
        let after = match page.position() {
            None => None,
            Some(position) => match position.parts() {
                [KeyPart::Int(seq)] => Some(*seq),
                _ => return Err(not_this_order()),
            },
        };
        let rows = sqlx::query_as(concat!("SELECT ", product_columns!(), ", seq, ", images_json!(sqlite), ", ",
                categories_json!(sqlite), ", ", variants_json!(sqlite), " FROM products p WHERE seq IN \
                (SELECT rowid FROM products_fts WHERE products_fts MATCH $3 AND ($4 IS NULL OR rowid < $4) \
                ORDER BY rowid DESC LIMIT $1 OFFSET $2) \
                ORDER BY seq DESC"))
                .bind(limit).bind(offset).bind(&phrase).bind(after).fetch_all(read);
        let total = sqlx::query_scalar(
                "SELECT COUNT(*) FROM (SELECT 1 FROM products_fts WHERE products_fts MATCH $1 LIMIT $2)",
            )
            .bind(&phrase)
            .bind(COUNTED)
            .fetch_one(read);
        let (rows, total): (Vec<ListRow>, i64) = tokio::try_join!(rows, total).map_err(map_err)?;
        let rows = keyset_page_of(rows, page, total, |r| SortKeys::new(vec![tie_of(r)]));
        return Ok(listed(counted(rows, true)));
    }
    let mut cond = Conditions::default();
    cond.push("deleted_at IS NULL", None);
    if let Some(status) = filter.status {
        // A closed set of names, written in by value: no placeholder needed.
        cond.push(&format!("status = '{}'", status.as_str()), None);
    }
    if let Some(ids) = &filter.categories {
        cond.push_ids(
            "id IN (SELECT product_id FROM product_categories WHERE category_id IN",
            ids,
        );
    }
    if let Some(range) = &filter.price {
        cond.push(
            "currency = $?",
            Some(Arg::Text(range.currency.code().to_owned())),
        );
        if let Some(min) = range.min_minor {
            cond.push("price_minor >= $?", Some(Arg::Int(min)));
        }
        if let Some(max) = range.max_minor {
            cond.push("price_minor <= $?", Some(Arg::Int(max)));
        }
    }
    match filter.in_stock {
        None => {}
        Some(true) => cond.push("stock > 0", None),
        Some(false) => cond.push("stock = 0", None),
    }
    // Relevance ranks a window of the newest matches (see [`RELEVANCE_WINDOW`]): the page's
    // query reads the search's condition in that form, the count in its plain one.
    let ranked = sort == ProductSort::Relevance && search.is_some();
    let live_of_status = match filter.status {
        // A closed set of names, written in by value.
        Some(status) => format!("deleted_at IS NULL AND status = '{}'", status.as_str()),
        None => "deleted_at IS NULL".to_owned(),
    };
    let mut windowed = None;
    match (backend, search) {
        (_, None) => {}
        (Backend::Sqlite, Some(q)) if indexed(q) => {
            cond.push(
                "seq IN (SELECT rowid FROM products_fts WHERE products_fts MATCH $?)",
                Some(Arg::Text(fts_phrase(q))),
            );
            windowed = Some(format!(
                "SELECT rowid AS t FROM products_fts WHERE products_fts MATCH ${} \
                 ORDER BY rowid DESC LIMIT {window}",
                cond.args.len()
            ));
        }
        // Under three characters (or over other statuses, which the trigram index does
        // not hold) a scan of one column.
        (Backend::Sqlite, Some(q)) => {
            cond.push("instr(search_text, $?) > 0", Some(Arg::Text(q.to_owned())));
            windowed = Some(format!(
                "SELECT seq AS t FROM products WHERE {live_of_status} \
                 AND instr(search_text, ${}) > 0 ORDER BY seq DESC LIMIT {window}",
                cond.args.len()
            ));
        }
        (Backend::Postgres, Some(q)) => {
            cond.push("search_text LIKE $?", Some(Arg::Text(contains_pattern(q))));
            windowed = Some(format!(
                "SELECT id AS t FROM products WHERE {live_of_status} \
                 AND search_text LIKE ${} ORDER BY id DESC LIMIT {window}",
                cond.args.len()
            ));
        }
    }
    // Where the search's condition sits among the conditions.
    let search_at = cond.sql.len().checked_sub(1).filter(|_| windowed.is_some());
    // PostgreSQL lists newest first by id (UUID v7), SQLite by `seq`: the order products
    // were created in, and what its indexes keep. Names sort by their case-folded text
    // (the part of `search_text` before its separator), byte by byte on both
    // (PostgreSQL's `C` collation), then newest first: a cursor carries that name, never
    // the description, so it stays short.
    let by_name = match backend {
        Backend::Sqlite => "substr(search_text, 1, instr(search_text || char(31), char(31)) - 1)",
        Backend::Postgres => "split_part(search_text, chr(31), 1) COLLATE \"C\"",
    };
    let filter_args = cond.args.len();
    // Relevance ranks by the search text, one more argument, which only the page's query
    // binds (after the filters' own, so the count's stay the same).
    let rank = match (sort, search) {
        (ProductSort::Relevance, Some(q)) => {
            cond.args.push(Arg::Text(q.to_owned()));
            Some(rank_sql(backend, by_name, cond.args.len()))
        }
        _ => None,
    };
    // The page's conditions: the search's in its windowed form when ranked, with the exact
    // names beside it on the public list (whose name index answers `by_name = q`). One list
    // of keys (a `UNION`), which both databases read key by key; an `OR` beside the window
    // would have them scan every live product.
    let mut page_conditions = cond.sql.clone();
    if ranked && let (Some(at), Some(windowed)) = (search_at, windowed) {
        page_conditions[at] = if only_active {
            format!(
                "{tie} IN (SELECT t FROM ({windowed}) w UNION SELECT {tie} FROM products \
                 WHERE deleted_at IS NULL AND status = 'active' AND {by_name} = ${})",
                cond.args.len()
            )
        } else {
            format!("{tie} IN (SELECT t FROM ({windowed}) w)")
        };
    }
    let (order, kinds): (Vec<(&str, bool)>, String) = match sort {
        ProductSort::Newest | ProductSort::Relevance => match &rank {
            Some(rank) => (
                vec![(rank.as_str(), false), (tie, true)],
                format!("i{tie_kind}"),
            ),
            None => (vec![(tie, true)], tie_kind.to_string()),
        },
        ProductSort::Oldest => (vec![(tie, false)], tie_kind.to_string()),
        ProductSort::PriceAsc => (
            vec![("price_minor", false), (tie, true)],
            format!("i{tie_kind}"),
        ),
        ProductSort::PriceDesc => (
            vec![("price_minor", true), (tie, true)],
            format!("i{tie_kind}"),
        ),
        ProductSort::NameAsc => (vec![(by_name, false), (tie, true)], format!("t{tie_kind}")),
    };
    let key_of = |r: &ListRow| {
        // The stored name key is `fold_case(name)`, written by this same function (the
        // backfill keeps older rows in step); the rank is computed from it as SQL does.
        let mut keys = match sort {
            ProductSort::Relevance => search
                .map(|q| vec![KeyPart::Int(relevance(&fold_case(&r.product.name), q))])
                .unwrap_or_default(),
            ProductSort::Newest | ProductSort::Oldest => Vec::new(),
            ProductSort::PriceAsc | ProductSort::PriceDesc => {
                vec![KeyPart::Int(r.product.price_minor)]
            }
            ProductSort::NameAsc => vec![KeyPart::Text(fold_case(&r.product.name))],
        };
        keys.push(tie_of(r));
        SortKeys::new(keys)
    };
    // The total of a list narrowed by nothing but the status is kept (`product_counts`,
    // written by triggers in the transaction of every product write); any other is
    // counted, stopping one past `Page::COUNT_LIMIT`, so that it costs at most that many
    // matches however large the catalog.
    let is_counted = narrowed || search.is_some();
    let count_sql = if !narrowed && search.is_some_and(indexed) {
        // The trigram index holds exactly the live active products, and the search's phrase
        // is the only argument: it counts alone, stopping at the limit, where a join with
        // `products` would first list every match.
        format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM products_fts WHERE products_fts MATCH $1 \
             LIMIT {COUNTED}) c"
        )
    } else if is_counted {
        format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM products WHERE {} LIMIT {COUNTED}) c",
            cond.text()
        )
    } else {
        let of_status = match filter.status {
            // A closed set of names, written in by value as above.
            Some(status) => format!(" WHERE status = '{}'", status.as_str()),
            None => String::new(),
        };
        // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back for the decoder.
        format!("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM product_counts{of_status}")
    };
    if let Some(position) = page.position() {
        let (sql, keys) = after_condition(&order, &kinds, position, cond.args.len() + 1)?;
        cond.sql.push(sql);
        for key in keys {
            cond.args.push(match key {
                KeyPart::Int(n) => Arg::Int(n),
                KeyPart::Text(t) => Arg::Text(t),
                KeyPart::Id(u) => Arg::Id(u),
                KeyPart::Time(_) => return Err(not_this_order()),
            });
        }
    }
    let n = cond.args.len();
    let joined = match backend {
        Backend::Sqlite => concat!(
            images_json!(sqlite),
            ", ",
            categories_json!(sqlite),
            ", ",
            variants_json!(sqlite)
        ),
        Backend::Postgres => concat!(
            images_json!(postgres),
            ", ",
            categories_json!(postgres),
            ", ",
            variants_json!(postgres)
        ),
    };
    // The page is cut in an inner query and only its rows get their images and categories:
    // PostgreSQL computes a query's columns for the rows an OFFSET skips too. The outer
    // query orders the page again by the same keys (the inner one's order does not carry
    // over), which is why the inner one keeps `search_text`.
    let order = order_by(&order);
    // What was added after the page's own conditions were set aside (a cursor's) applies too.
    let added_since = cond.sql[page_conditions.len()..].to_vec();
    page_conditions.extend(added_since);
    let page_text = page_conditions.join(" AND ");
    let rows_sql = format!(
        concat!(
            "SELECT ",
            joined_product_columns!(),
            ", p.seq, {} FROM (SELECT ",
            product_columns!(),
            ", {}, search_text FROM products WHERE {} ORDER BY {} LIMIT ${} OFFSET ${}) p \
                 ORDER BY {}"
        ),
        joined,
        tie_column,
        page_text,
        order,
        n + 1,
        n + 2,
        order
    );
    let (rows, total): (Vec<ListRow>, i64) = on_db!(db, read, pool => {
            let rows = bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(rows_sql.clone())), &cond.args)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool);
            let total = bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.clone())), &cond.args[..filter_args])
                .fetch_one(pool);
            tokio::try_join!(rows, total)
        })
        .map_err(map_err)?;
    Ok(listed(counted(
        keyset_page_of(rows, page, total, key_of),
        is_counted,
    )))
}

/// How far a list's count goes: one past [`Page::COUNT_LIMIT`], which tells "more" apart.
const COUNTED: i64 = 10_001;
const _: () = assert!(COUNTED == Page::<()>::COUNT_LIMIT as i64 + 1);

/// The page with its total flagged as an estimate when it was `is_counted` and counting
/// stopped at [`COUNTED`] (a kept total is exact at any size).
fn counted<R>(mut page: Page<R>, is_counted: bool) -> Page<R> {
    page.total_is_estimate = is_counted && page.total > Page::<()>::COUNT_LIMIT;
    page
}

/// A product as a list reads it, with SQLite's `seq` (0 on PostgreSQL, which has none), and
/// its images and categories as JSON ([`images_json`], [`categories_json`]).
#[derive(sqlx::FromRow)]
struct ListRow {
    #[sqlx(flatten)]
    product: ProductRow,
    seq: i64,
    images: String,
    categories: String,
    variants: String,
}

impl TryFrom<ListRow> for ProductView {
    type Error = RepositoryError;

    fn try_from(r: ListRow) -> Result<Self, Self::Error> {
        let variants = variants_from_json(r.product.id, &r.variants)?;
        let product = product_of(r.product, variants)?;
        Ok(ProductView {
            images: images_from_json(product.id.as_uuid(), &r.images)?,
            categories: categories_from_json(&r.categories)?,
            product,
        })
    }
}

/// The page's rows as product views; the cursor was taken from the rows before any unreadable
/// one was left out, so a walk goes on past it. One that does not read is logged and left
/// out, so that it cannot take the whole page down.
fn listed(page: Page<ListRow>) -> Page<ProductView> {
    let Page {
        items,
        request,
        total,
        total_is_estimate,
        next,
    } = page;
    let items = items
        .into_iter()
        .filter_map(|row| {
            let id = row.product.id;
            ProductView::try_from(row)
                .inspect_err(
                    |e| tracing::error!(product = %id, error = %e, "product left out of a list"),
                )
                .ok()
        })
        .collect();
    Page {
        items,
        request,
        total,
        total_is_estimate,
        next,
    }
}

/// A cursor whose keys do not fit the list's order (only one from another build or backend
/// can get past its list tag).
fn not_this_order() -> RepositoryError {
    RepositoryError::Invalid(FieldError::new(
        "cursor",
        "does not fit this list's order; start again without a cursor",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_in_the_search_are_literal() {
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(fts_phrase("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn searches_are_lower_cased_and_control_characters_match_nothing() {
        assert_eq!(search_term(None), None);
        assert_eq!(search_term(Some("  \t ")), None);
        assert_eq!(search_term(Some(" MuG ")), Some(Some("mug".into())));
        assert_eq!(search_term(Some("a\tB")), Some(Some("a\tb".into())));
        assert_eq!(search_term(Some("a\u{0}b")), Some(None));
        assert_eq!(search_term(Some("a\u{1f}b")), Some(None));
    }

    #[test]
    fn stored_text_and_queries_fold_case_alike() {
        // Word-final sigma, which lower-casing turns into `ς`, folds like any `σ`.
        assert_eq!(fold_case("ΟΔΟΣ"), "οδοσ");
        assert_eq!(fold_case("ὀδός"), fold_case("ὈΔΌΣ"));
        assert_eq!(fold_case("Straße"), "strasse");
        assert_eq!(search_term(Some("ΑΣ")), Some(Some("ασ".into())));
        assert_eq!(
            search_text_of("ΑΣΑ Mug", Some("Holds TEA")),
            "ασα mug\u{1f}holds tea"
        );
        assert_eq!(search_text_of("Blue Mug", None), "blue mug");
    }
}
