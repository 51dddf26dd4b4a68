use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    Currency, Description, Image, Money, Page, PageRequest, PendingEvent, Product, ProductChanges,
    ProductId, ProductName, ProductRepository, RepositoryError, Sku, Stock,
};
use uuid::Uuid;

use super::events::write_events;
use super::images::{
    ImageRow, JoinedImageRow, image_columns, images_of_products, joined_image_columns,
};
use super::{Database, corrupt, map_err, on_db, placeholders};
use application::ports::{ProductReadModel, ProductView};

macro_rules! product_columns {
    () => {
        "id, sku, name, description, price_minor, currency, stock, created_at, updated_at"
    };
}

/// [`product_columns`] of the table aliased `p`.
macro_rules! joined_product_columns {
    () => {
        "p.id, p.sku, p.name, p.description, p.price_minor, p.currency, p.stock, p.created_at, \
         p.updated_at"
    };
}

/// A product with one of its images (or none), as a `LEFT JOIN` gives them.
#[derive(sqlx::FromRow)]
struct ProductImageRow {
    #[sqlx(flatten)]
    product: ProductRow,
    #[sqlx(flatten)]
    image: JoinedImageRow,
}

#[derive(sqlx::FromRow)]
pub(super) struct ProductRow {
    id: Uuid,
    sku: String,
    name: String,
    description: Option<String>,
    price_minor: i64,
    currency: String,
    stock: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ProductRow> for Product {
    type Error = RepositoryError;

    fn try_from(r: ProductRow) -> Result<Self, RepositoryError> {
        let currency = Currency::parse(&r.currency).map_err(|e| corrupt("currency", e))?;
        Ok(Product {
            id: ProductId::from_uuid(r.id),
            sku: Sku::parse(&r.sku).map_err(|e| corrupt("sku", e))?,
            name: ProductName::parse(&r.name).map_err(|e| corrupt("name", e))?,
            description: r
                .description
                .map(|d| Description::parse(&d))
                .transpose()
                .map_err(|e| corrupt("description", e))?,
            price: Money::from_minor(r.price_minor, currency).map_err(|e| corrupt("price", e))?,
            stock: Stock::new(r.stock).map_err(|e| corrupt("stock", e))?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// The rows of a list that read as products: one that does not is logged and left out, so
/// that it cannot take the whole page down.
fn readable(rows: Vec<ProductRow>) -> Vec<Product> {
    rows.into_iter()
        .filter_map(|row| {
            let id = row.id;
            Product::try_from(row)
                .inspect_err(
                    |e| tracing::error!(product = %id, error = %e, "product left out of a list"),
                )
                .ok()
        })
        .collect()
}

/// Computes again, in batches, the `search_text` of the products a migration marked
/// `search_stale` (after a change of [`search_text`]'s rule).
pub(super) async fn refresh_search_text(db: &Database) -> Result<(), RepositoryError> {
    const BATCH: i64 = 500;
    let mut done = 0_u64;
    loop {
        let n = on_db!(db, write, pool => {
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
            Ok::<_, RepositoryError>(rows.len())
        })?;
        done += n as u64;
        if n < usize::try_from(BATCH).unwrap_or(usize::MAX) {
            break;
        }
    }
    if done > 0 {
        tracing::info!(products = done, "search text computed again");
    }
    Ok(())
}

/// Products in SQL, for both backends: the repository and the catalog's read model.
#[derive(Clone)]
pub struct SqlProducts {
    db: Database,
}

impl SqlProducts {
    /// Products in `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
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

#[async_trait]
impl ProductRepository for SqlProducts {
    #[tracing::instrument(name = "db.products.insert", skip_all)]
    async fn insert_with_events(
        &self,
        p: &Product,
        events: &[PendingEvent],
    ) -> Result<(), RepositoryError> {
        on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            sqlx::query(
                "INSERT INTO products (id, sku, name, description, price_minor, currency, stock, search_text, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(p.id.as_uuid())
            .bind(p.sku.as_str())
            .bind(p.name.as_str())
            .bind(p.description.as_ref().map(Description::as_str))
            .bind(p.price.minor())
            .bind(p.price.currency().code())
            .bind(i64::from(p.stock.get()))
            .bind(search_text(p))
            .bind(p.created_at)
            .bind(p.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            write_events!(tx, events)?;
            tx.commit().await.map_err(map_err)
        })
    }

    #[tracing::instrument(name = "db.products.get", skip_all)]
    async fn get(&self, id: ProductId) -> Result<Option<Product>, RepositoryError> {
        let row: Option<ProductRow> = on_db!(&self.db, read, pool => {
            sqlx::query_as(concat!("SELECT ", product_columns!(), " FROM products WHERE id = $1 AND deleted_at IS NULL"))
                .bind(id.as_uuid())
                .fetch_optional(pool)
                .await
        })
        .map_err(map_err)?;
        row.map(Product::try_from).transpose()
    }

    #[tracing::instrument(name = "db.products.get_many", skip_all, fields(count = ids.len()))]
    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<Product>, RepositoryError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            concat!(
                "SELECT ",
                product_columns!(),
                " FROM products WHERE deleted_at IS NULL AND id IN ({})"
            ),
            placeholders(ids.len())
        );
        let rows: Vec<ProductRow> = on_db!(&self.db, read, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for id in ids {
                q = q.bind(id.as_uuid());
            }
            q.fetch_all(pool).await
        })
        .map_err(map_err)?;
        rows.into_iter().map(Product::try_from).collect()
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
        on_db!(&self.db, write, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            let row: Option<ProductRow> = sqlx::query_as(concat!(
                "UPDATE products SET sku = COALESCE($2, sku), name = COALESCE($3, name), \
                 description = CASE WHEN $4 THEN $5 ELSE description END, \
                 price_minor = COALESCE($6, price_minor), currency = COALESCE($7, currency), \
                 stock = COALESCE($8, stock), updated_at = $9 \
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
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            let Some(row) = row else { return Ok(None) };
            let product = Product::try_from(row)?;
            if text_changed {
                sqlx::query("UPDATE products SET search_text = $2 WHERE id = $1")
                    .bind(id.as_uuid())
                    .bind(search_text(&product))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
            let pending = events(&product);
            write_events!(tx, &pending)?;
            tx.commit().await.map_err(map_err)?;
            Ok(Some(product))
        })
    }

    #[tracing::instrument(name = "db.products.delete", skip_all)]
    async fn delete_with_events(
        &self,
        id: ProductId,
        now: DateTime<Utc>,
        events: &[PendingEvent],
    ) -> Result<Option<Vec<Image>>, RepositoryError> {
        let rows: Option<Vec<ImageRow>> = on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            let done = sqlx::query("UPDATE products SET deleted_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL")
                .bind(id.as_uuid())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
            if done == 0 {
                None
            } else {
                let images = sqlx::query_as(concat!(
                    "DELETE FROM product_images WHERE product_id = $1 RETURNING ",
                    image_columns!()
                ))
                .bind(id.as_uuid())
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
                write_events!(tx, events)?;
                tx.commit().await.map_err(map_err)?;
                Some(images)
            }
        });
        rows.map(|rows| rows.into_iter().map(Image::try_from).collect())
            .transpose()
    }
}

#[async_trait]
impl ProductReadModel for SqlProducts {
    #[tracing::instrument(name = "db.products.get_with_images", skip_all)]
    async fn get(&self, id: ProductId) -> Result<Option<ProductView>, RepositoryError> {
        // One statement for the product and its images: the detail page's only query.
        let rows: Vec<ProductImageRow> = on_db!(&self.db, read, pool => {
            sqlx::query_as(concat!(
                "SELECT ",
                joined_product_columns!(),
                ", ",
                joined_image_columns!(),
                " FROM products p LEFT JOIN product_images i ON i.product_id = p.id \
                 WHERE p.id = $1 AND p.deleted_at IS NULL ORDER BY i.id"
            ))
            .bind(id.as_uuid())
            .fetch_all(pool)
            .await
        })
        .map_err(map_err)?;
        let mut rows = rows.into_iter();
        let Some(ProductImageRow { product, image }) = rows.next() else {
            return Ok(None);
        };
        let product_id = product.id;
        let mut images = Vec::new();
        for image in std::iter::once(image).chain(rows.map(|r| r.image)) {
            images.extend(image.into_image(product_id)?);
        }
        Ok(Some(ProductView {
            product: Product::try_from(product)?,
            images,
        }))
    }

    #[tracing::instrument(name = "db.products.list", skip_all)]
    async fn list(
        &self,
        page: PageRequest,
        search: Option<&str>,
    ) -> Result<Page<ProductView>, RepositoryError> {
        let search = match search_term(search) {
            None => None,
            Some(Some(term)) => Some(term),
            Some(None) => {
                return Ok(Page {
                    items: Vec::new(),
                    request: page,
                    total: 0,
                });
            }
        };
        let search = search.as_deref();
        // One round trip for the page (and its count), one for the images of all of it.
        let products = self.page(page, search).await?;
        let ids: Vec<ProductId> = products.items.iter().map(|p| p.id).collect();
        let mut by_product: HashMap<ProductId, Vec<Image>> = HashMap::new();
        // In upload order within each product.
        for image in images_of_products(&self.db, &ids).await? {
            by_product.entry(image.product_id).or_default().push(image);
        }
        Ok(products.map(|product| ProductView {
            images: by_product.remove(&product.id).unwrap_or_default(),
            product,
        }))
    }
}

impl SqlProducts {
    /// One page of products, newest first, matching the lower-cased `search` when given.
    async fn page(
        &self,
        page: PageRequest,
        search: Option<&str>,
    ) -> Result<Page<Product>, RepositoryError> {
        let limit = i64::from(page.per_page());
        let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
        // The filter differs per engine (trigram index of each); the rest is shared.
        let (rows, total): (Vec<ProductRow>, i64) = match (&self.db, search) {
            (Database::Sqlite { read, .. }, None | Some("")) => {
                let rows = sqlx::query_as(concat!(
                    "SELECT ",
                    product_columns!(),
                    " FROM products WHERE deleted_at IS NULL ORDER BY seq DESC LIMIT $1 OFFSET $2"
                ))
                .bind(limit)
                .bind(offset)
                .fetch_all(read);
                let total =
                    sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE deleted_at IS NULL")
                        .fetch_one(read);
                tokio::try_join!(rows, total).map_err(map_err)?
            }
            (Database::Sqlite { read, .. }, Some(q)) if q.chars().count() >= 3 => {
                // The trigram index answers both in its own rowid order (= `seq`) and stops after
                // the page; it holds live products only, so its match count is the total.
                let phrase = fts_phrase(q);
                let rows = sqlx::query_as(concat!("SELECT ", product_columns!(), " FROM products WHERE seq IN \
                    (SELECT rowid FROM products_fts WHERE products_fts MATCH $3 ORDER BY rowid DESC LIMIT $1 OFFSET $2) \
                    ORDER BY seq DESC"))
                    .bind(limit).bind(offset).bind(&phrase).fetch_all(read);
                let total = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM products_fts WHERE products_fts MATCH $1",
                )
                .bind(&phrase)
                .fetch_one(read);
                tokio::try_join!(rows, total).map_err(map_err)?
            }
            (Database::Sqlite { read, .. }, Some(q)) => {
                // Under three characters the trigram index cannot help; a scan of one column.
                let rows = sqlx::query_as(concat!(
                    "SELECT ",
                    product_columns!(),
                    " FROM products WHERE deleted_at IS NULL \
                    AND instr(search_text, $3) > 0 ORDER BY seq DESC LIMIT $1 OFFSET $2"
                ))
                .bind(limit)
                .bind(offset)
                .bind(q)
                .fetch_all(read);
                let total = sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE deleted_at IS NULL AND instr(search_text, $1) > 0")
                    .bind(q).fetch_one(read);
                tokio::try_join!(rows, total).map_err(map_err)?
            }
            // Two statements, not one with `$3 IS NULL OR ...`: a prepared statement's generic
            // plan cannot drop that branch, and sorted all rows on every catalog page.
            (Database::Postgres(pool), None | Some("")) => {
                let rows = sqlx::query_as(concat!(
                    "SELECT ",
                    product_columns!(),
                    " FROM products WHERE deleted_at IS NULL \
                    ORDER BY id DESC LIMIT $1 OFFSET $2"
                ))
                .bind(limit)
                .bind(offset)
                .fetch_all(pool);
                let total =
                    sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE deleted_at IS NULL")
                        .fetch_one(pool);
                tokio::try_join!(rows, total).map_err(map_err)?
            }
            (Database::Postgres(pool), Some(q)) => {
                let pattern = contains_pattern(q);
                let rows = sqlx::query_as(concat!(
                    "SELECT ",
                    product_columns!(),
                    " FROM products WHERE deleted_at IS NULL \
                    AND search_text LIKE $3 ORDER BY id DESC LIMIT $1 OFFSET $2"
                ))
                .bind(limit)
                .bind(offset)
                .bind(&pattern)
                .fetch_all(pool);
                let total = sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE deleted_at IS NULL AND search_text LIKE $1")
                    .bind(&pattern).fetch_one(pool);
                tokio::try_join!(rows, total).map_err(map_err)?
            }
        };
        Ok(Page {
            items: readable(rows),
            request: page,
            total: u64::try_from(total).unwrap_or(0),
        })
    }
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
