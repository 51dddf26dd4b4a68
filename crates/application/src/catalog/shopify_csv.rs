//! Shopify's product CSV (`shop import-products`, `shop export-products`): its rows read into
//! products, grouped by `Handle`, each field checked with the catalog's rules and each refusal
//! tied to its row; and products written back as rows. Reading and writing the CSV text itself
//! is the command line's; this module works on rows of fields.
//!
//! A product spans the rows that share its `Handle` (its slug). The first carries the
//! product's fields (`Title`, `Body (HTML)`, `Published`, `Status`, the option names) and its
//! first variant; each further row carries a further variant. A further row with no variant
//! field (only an image, in Shopify's files) is skipped.
//!
//! Not imported, and written empty on export: `Vendor`, `Product Category`, `Type`, `Tags`,
//! `Image Src` and `Image Position`. Images are left alone for now: an `Image Src` never
//! refuses a row and nothing is downloaded (fetching it is a later step); products' images
//! are not exported either.

use std::collections::HashMap;
use std::fmt;

use domain::{
    Currency, Description, FieldError, Money, OptionInput, Product, ProductName, ProductStatus,
    Sku, Slug, Stock,
};

/// The columns, in the order [`rows_of`] writes them.
pub const COLUMNS: [&str; 21] = [
    "Handle",
    "Title",
    "Body (HTML)",
    "Vendor",
    "Product Category",
    "Type",
    "Tags",
    "Published",
    "Option1 Name",
    "Option1 Value",
    "Option2 Name",
    "Option2 Value",
    "Option3 Name",
    "Option3 Value",
    "Variant SKU",
    "Variant Price",
    "Variant Compare At Price",
    "Variant Inventory Qty",
    "Image Src",
    "Image Position",
    "Status",
];

const HANDLE: usize = 0;
const TITLE: usize = 1;
const BODY: usize = 2;
const PUBLISHED: usize = 7;
const OPTION_NAMES: [usize; 3] = [8, 10, 12];
const OPTION_VALUES: [usize; 3] = [9, 11, 13];
const SKU: usize = 14;
const PRICE: usize = 15;
const COMPARE_AT: usize = 16;
const QTY: usize = 17;
const STATUS: usize = 20;

/// The option name and value Shopify gives a product sold in one variant only.
const LONE_OPTION: (&str, &str) = ("Title", domain::variant::DEFAULT_TITLE);

/// A refused row: its number (the header is row 1, as a spreadsheet counts them), the
/// column at fault and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The row's number; the header is row 1.
    pub row: usize,
    /// The column's name as the header spells it.
    pub column: String,
    /// Why.
    pub reason: String,
}

impl RowError {
    /// A refusal of `column` in row `row`.
    pub fn new(row: usize, column: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            row,
            column: column.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}: {}: {}", self.row, self.column, self.reason)
    }
}

/// Where each known column is in a file's header; other columns are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header([Option<usize>; COLUMNS.len()]);

impl Header {
    /// Finds the columns by their exact names (surrounding spaces aside).
    ///
    /// # Errors
    /// The message when there is no `Handle` column.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut at = [None; COLUMNS.len()];
        for (i, name) in names.into_iter().enumerate() {
            if let Some(k) = COLUMNS.iter().position(|c| *c == name.trim()) {
                at[k].get_or_insert(i);
            }
        }
        if at[HANDLE].is_none() {
            return Err("the header has no `Handle` column".to_owned());
        }
        Ok(Self(at))
    }

    /// The row numbered `number` of `fields`, each field under its column (empty when the
    /// file has no such column or the row is short).
    pub fn row<'a>(&self, number: usize, fields: impl IntoIterator<Item = &'a str>) -> Row {
        let fields: Vec<&str> = fields.into_iter().collect();
        let mut out = Row {
            number,
            fields: Default::default(),
        };
        for (k, at) in self.0.iter().enumerate() {
            if let Some(f) = at.and_then(|i| fields.get(i)) {
                out.fields[k] = (*f).to_owned();
            }
        }
        out
    }
}

/// One data row, its fields in [`COLUMNS`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Its number in the file (the header is row 1).
    pub number: usize,
    fields: [String; COLUMNS.len()],
}

impl Row {
    fn get(&self, k: usize) -> &str {
        self.fields[k].trim()
    }

    /// Whether it carries a variant: a SKU, a price or an option value.
    fn has_variant(&self) -> bool {
        [SKU, PRICE]
            .iter()
            .chain(OPTION_VALUES.iter())
            .any(|&k| !self.get(k).is_empty())
    }
}

/// A variant as its row gives it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportVariant {
    /// The row it comes from.
    pub row: usize,
    /// Its SKU.
    pub sku: Sku,
    /// `(option name, value)` for each option of its product.
    pub option_values: Vec<(String, String)>,
    /// Unit price.
    pub price: Money,
    /// Struck-through price.
    pub compare_at_price: Option<Money>,
    /// Units on hand (0 when the column is empty).
    pub stock: Stock,
}

/// A product as its rows give it, checked field by field (whether its variants make a valid
/// set with its options is the use case's to check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProduct {
    /// Its `Handle`: the slug it is found by, or created with.
    pub slug: Slug,
    /// Its first row.
    pub row: usize,
    /// Name.
    pub name: ProductName,
    /// The text of `Body (HTML)`; `None` when empty.
    pub description: Option<Description>,
    /// From `Status`, else `Published` (`TRUE`: active, `FALSE`: draft), else active.
    pub status: ProductStatus,
    /// Its options and their values in the order the rows name them; none for Shopify's
    /// `Title`/`Default Title` of a product of one variant.
    pub options: Vec<OptionInput>,
    /// Its variants, in row order.
    pub variants: Vec<ImportVariant>,
}

/// What a file holds: the products whose first row was taken, and every refused row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Products in the order their handles first appear.
    pub products: Vec<ImportProduct>,
    /// Refused rows, by row number.
    pub refused: Vec<RowError>,
    /// Rows that carried no variant and were skipped (image rows).
    pub skipped: usize,
}

/// Groups `rows` by `Handle` (in the order each first appears) and checks each group with
/// prices in `currency`. A SKU may be in one row only (a later row with it is refused). A
/// product is taken whole or not at all: when any of its rows is refused, each of its other
/// rows is refused too, naming the first refused one.
pub fn parse_rows(rows: Vec<Row>, currency: Currency) -> Parsed {
    let mut out = Parsed::default();
    let mut order: Vec<Vec<Row>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for row in rows {
        let handle = row.get(HANDLE).to_owned();
        if handle.is_empty() {
            out.refused
                .push(RowError::new(row.number, COLUMNS[HANDLE], "is required"));
            continue;
        }
        match index.get(&handle) {
            Some(&i) => order[i].push(row),
            None => {
                index.insert(handle, order.len());
                order.push(vec![row]);
            }
        }
    }
    let mut skus = HashMap::new();
    for group in order {
        parse_group(&mut out, group, currency, &mut skus);
    }
    out.refused.sort_by_key(|e| e.row);
    out
}

/// Checks the product of `group`; `skus` holds the row of each SKU met so far in the file,
/// where a SKU may be only once.
fn parse_group(
    out: &mut Parsed,
    group: Vec<Row>,
    currency: Currency,
    skus: &mut HashMap<String, usize>,
) {
    let first = &group[0];
    let mut errors = Vec::new();
    let at = |k: usize, e: FieldError| RowError::new(first.number, COLUMNS[k], e.message);
    let slug = Slug::parse(first.get(HANDLE)).map_err(|e| errors.push(at(HANDLE, e)));
    let name = ProductName::parse(first.get(TITLE)).map_err(|e| errors.push(at(TITLE, e)));
    let description = match plain_text(&first.fields[BODY]) {
        text if text.is_empty() => Ok(None),
        text => Description::parse(&text)
            .map(Some)
            .map_err(|e| errors.push(at(BODY, e))),
    };
    let status = parse_status(first).map_err(|e| errors.push(e));
    let names: Vec<String> = OPTION_NAMES
        .iter()
        .map(|&k| first.get(k).to_owned())
        .filter(|n| !n.is_empty())
        .collect();
    let mut variants = Vec::new();
    for (i, row) in group.iter().enumerate() {
        if i > 0 && !row.has_variant() {
            out.skipped += 1;
            continue;
        }
        match parse_variant(row, &names, currency) {
            Ok(v) => match skus.get(v.sku.as_str()) {
                Some(&first) => errors.push(RowError::new(
                    row.number,
                    COLUMNS[SKU],
                    format!("is also in row {first}"),
                )),
                None => {
                    skus.insert(v.sku.as_str().to_owned(), row.number);
                    variants.push(v);
                }
            },
            Err(mut e) => errors.append(&mut e),
        }
    }
    // A product is imported whole or not at all: a refused variant would otherwise be
    // removed from a product being updated.
    let (Ok(slug), Ok(name), Ok(description), Ok(status), true) =
        (slug, name, description, status, errors.is_empty())
    else {
        let first_refused = errors.iter().map(|e| e.row).min().unwrap_or(first.number);
        let reason = format!("its product was refused (row {first_refused})");
        for (i, row) in group.iter().enumerate() {
            if (i == 0 || row.has_variant()) && !errors.iter().any(|e| e.row == row.number) {
                errors.push(RowError::new(row.number, COLUMNS[HANDLE], reason.clone()));
            }
        }
        out.refused.append(&mut errors);
        return;
    };
    let lone = variants.len() == 1
        && names.len() == 1
        && names[0] == LONE_OPTION.0
        && variants[0].option_values[0].1 == LONE_OPTION.1;
    let options = if lone {
        variants[0].option_values.clear();
        Vec::new()
    } else {
        options_of(&names, &variants)
    };
    out.products.push(ImportProduct {
        slug,
        row: group[0].number,
        name,
        description,
        status,
        options,
        variants,
    });
}

/// The options named `names`, each with the values the variants give it in order of first
/// appearance.
fn options_of(names: &[String], variants: &[ImportVariant]) -> Vec<OptionInput> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut values: Vec<String> = Vec::new();
            for v in variants {
                let value = &v.option_values[i].1;
                if !values.contains(value) {
                    values.push(value.clone());
                }
            }
            OptionInput {
                name: name.clone(),
                values,
            }
        })
        .collect()
}

fn parse_status(row: &Row) -> Result<ProductStatus, RowError> {
    let status = row.get(STATUS);
    if !status.is_empty() {
        return ProductStatus::parse(&status.to_ascii_lowercase())
            .map_err(|e| RowError::new(row.number, COLUMNS[STATUS], e.message));
    }
    match row.get(PUBLISHED).to_ascii_lowercase().as_str() {
        "" | "true" => Ok(ProductStatus::Active),
        "false" => Ok(ProductStatus::Draft),
        _ => Err(RowError::new(
            row.number,
            COLUMNS[PUBLISHED],
            "must be TRUE or FALSE",
        )),
    }
}

fn parse_variant(
    row: &Row,
    names: &[String],
    currency: Currency,
) -> Result<ImportVariant, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut at =
        |k: usize, reason: String| errors.push(RowError::new(row.number, COLUMNS[k], reason));
    let sku = match row.get(SKU) {
        "" => {
            at(SKU, "is required".to_owned());
            None
        }
        s => Sku::parse(s).map_err(|e| at(SKU, e.message)).ok(),
    };
    let mut option_values = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        match row.get(OPTION_VALUES[i]) {
            "" => at(
                OPTION_VALUES[i],
                format!("is required: the product has the option \"{name}\""),
            ),
            value => option_values.push((name.clone(), value.to_owned())),
        }
    }
    for i in names.len()..OPTION_VALUES.len() {
        if !row.get(OPTION_VALUES[i]).is_empty() {
            at(
                OPTION_VALUES[i],
                format!(
                    "must be empty: the product's first row names no {}",
                    COLUMNS[OPTION_NAMES[i]]
                ),
            );
        }
    }
    let price = match row.get(PRICE) {
        "" => {
            at(PRICE, "is required".to_owned());
            None
        }
        s => Money::parse(s, currency)
            .map_err(|e| at(PRICE, e.message))
            .ok(),
    };
    let compare_at_price = match row.get(COMPARE_AT) {
        "" => Some(None),
        s => Money::parse(s, currency)
            .map(Some)
            .map_err(|e| at(COMPARE_AT, e.message))
            .ok(),
    };
    let stock = match row.get(QTY) {
        "" => Stock::new(0).ok(),
        s => match s.parse::<i64>() {
            Ok(n) => Stock::new(n).map_err(|e| at(QTY, e.message)).ok(),
            Err(_) => {
                at(
                    QTY,
                    "must be a whole number from 0 to 1000000000".to_owned(),
                );
                None
            }
        },
    };
    match (sku, price, compare_at_price, stock) {
        (Some(sku), Some(price), Some(compare_at_price), Some(stock)) if errors.is_empty() => {
            Ok(ImportVariant {
                row: row.number,
                sku,
                option_values,
                price,
                compare_at_price,
                stock,
            })
        }
        _ => Err(errors),
    }
}

/// The plain text of an HTML description, as the catalog keeps descriptions: tags dropped
/// (`script` and `style` with their content), `<br>` and the end of a paragraph, list item,
/// heading or `div` a line break, runs of other white space one space, the common entities
/// (`&amp;` `&lt;` `&gt;` `&quot;` `&#39;` `&apos;` `&nbsp;` and numeric ones) decoded, and
/// each line trimmed, blank ones dropped.
pub fn plain_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            let Some(end) = rest.find('>') else {
                text.push_str(&rest.replace('<', " "));
                break;
            };
            let tag = rest[1..end].trim().to_ascii_lowercase();
            rest = &rest[end + 1..];
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if (name == "script" || name == "style") && !tag.starts_with('/') {
                let close = format!("</{name}");
                rest = match rest.to_ascii_lowercase().find(&close) {
                    Some(i) => rest[i..].find('>').map_or("", |j| &rest[i + j + 1..]),
                    None => "",
                };
            } else if name == "br"
                || (tag.starts_with('/')
                    && matches!(
                        name.as_str(),
                        "p" | "div" | "li" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "tr"
                    ))
            {
                text.push('\n');
            } else {
                text.push(' ');
            }
        } else if c == '&' {
            let (decoded, used) = entity(rest);
            text.push(decoded);
            rest = &rest[used..];
        } else {
            text.push(if c.is_whitespace() { ' ' } else { c });
            rest = &rest[c.len_utf8()..];
        }
    }
    text.split('\n')
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The character the entity at the start of `s` stands for and its length; `&` alone (1 byte)
/// when it is none this knows.
fn entity(s: &str) -> (char, usize) {
    let Some(end) = s.find(';').filter(|&e| e <= 10) else {
        return ('&', 1);
    };
    let name = &s[1..end];
    let c = match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" | "#39" => Some('\''),
        "nbsp" => Some(' '),
        _ => name
            .strip_prefix("#x")
            .or_else(|| name.strip_prefix("#X"))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
            .and_then(char::from_u32),
    };
    match c {
        Some(c) => (c, end + 1),
        None => ('&', 1),
    }
}

/// A plain-text description as `Body (HTML)`: `&`, `<` and `>` escaped and each line break a
/// `<br>`, so that [`plain_text`] gives the text back.
pub fn html_of(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace("\r\n", "\n")
        .replace('\n', "<br>")
}

/// The rows of `product`: the first with the product's fields and its first variant (by
/// position), one more for each further variant. Prices are written with the currency's
/// digits and without the currency, which the file has no column for.
pub fn rows_of(product: &Product) -> Vec<[String; COLUMNS.len()]> {
    let options = product.variants.options().as_slice();
    let mut rows = Vec::new();
    for (i, variant) in product.variants.by_position().into_iter().enumerate() {
        let mut row: [String; COLUMNS.len()] = Default::default();
        row[HANDLE] = product.slug.as_str().to_owned();
        if i == 0 {
            row[TITLE] = product.name.as_str().to_owned();
            row[BODY] = product
                .description
                .as_ref()
                .map_or_else(String::new, |d| html_of(d.as_str()));
            row[PUBLISHED] = if product.status.is_public() {
                "TRUE"
            } else {
                "FALSE"
            }
            .to_owned();
            row[STATUS] = product.status.as_str().to_owned();
            if options.is_empty() {
                row[OPTION_NAMES[0]] = LONE_OPTION.0.to_owned();
            }
            for (k, option) in options.iter().enumerate() {
                row[OPTION_NAMES[k]] = option.name().as_str().to_owned();
            }
        }
        if options.is_empty() {
            row[OPTION_VALUES[0]] = LONE_OPTION.1.to_owned();
        }
        for (k, (_, value)) in variant.option_values.pairs().iter().enumerate() {
            row[OPTION_VALUES[k]] = value.as_str().to_owned();
        }
        row[SKU] = variant.sku.as_str().to_owned();
        row[PRICE] = variant.price.amount_string();
        row[COMPARE_AT] = variant
            .compare_at_price
            .map_or_else(String::new, |m| m.amount_string());
        row[QTY] = variant.stock.get().to_string();
        rows.push(row);
    }
    rows
}

/// What importing one product did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// No product had its handle: it was created.
    Created,
    /// The product with its handle was updated.
    Updated,
    /// The product with its handle already was as the rows give it: nothing was written.
    Unchanged,
    /// The catalog refused it: every row of it, each with a reason.
    Refused(Vec<RowError>),
}

/// Creates or updates products by handle (`shop import-products`), through the catalog's
/// own use cases, so every rule and event of an admin's change applies.
pub struct ImportProducts {
    /// Creates the products whose handle is new.
    pub create: super::CreateProduct,
    /// Updates those whose handle is taken.
    pub update: super::UpdateProduct,
}

impl ImportProducts {
    /// Creates the product with `product.slug`, or updates the one that has it: its name,
    /// status, description, options and variants become the rows'. A variant is kept (and
    /// changed) when its SKU is the SKU of one of the product's variants; the product's
    /// variants no row names are removed; categories and images are left alone.
    ///
    /// # Errors
    /// Only what stops the whole import (`Forbidden`, `Unavailable`, `Internal`); a refused
    /// product is an [`ImportOutcome::Refused`].
    pub async fn execute(
        &self,
        actor: &crate::Actor,
        product: &ImportProduct,
    ) -> Result<ImportOutcome, crate::AppError> {
        let lookup = crate::ports::Lookup::Slug(product.slug.clone());
        let current = self.update.catalog.get(&lookup).await?;
        let variants = |current: Option<&Product>| -> Vec<super::VariantInput> {
            product
                .variants
                .iter()
                .map(|v| super::VariantInput {
                    id: current
                        .and_then(|p| p.variants.variants().iter().find(|c| c.sku == v.sku))
                        .map(|c| c.id.as_uuid()),
                    sku: v.sku.as_str().to_owned(),
                    option_values: v.option_values.clone(),
                    price: price_input(v.price),
                    compare_at_price: v.compare_at_price.map(price_input),
                    stock: i64::from(v.stock.get()),
                    position: None,
                })
                .collect()
        };
        let description = product.description.as_ref().map(|d| d.as_str().to_owned());
        let result = match current {
            None => self
                .create
                .execute(
                    actor,
                    super::CreateProductCommand {
                        sku: None,
                        name: product.name.as_str().to_owned(),
                        slug: Some(product.slug.as_str().to_owned()),
                        status: Some(product.status.as_str().to_owned()),
                        description,
                        price: None,
                        stock: None,
                        category_ids: Vec::new(),
                        options: product.options.clone(),
                        variants: Some(variants(None)),
                    },
                )
                .await
                .map(|_| ImportOutcome::Created),
            Some(view) if holds(&view.product, product) => Ok(ImportOutcome::Unchanged),
            Some(view) => self
                .update
                .execute(
                    actor,
                    view.product.id,
                    super::UpdateProductCommand {
                        name: Some(product.name.as_str().to_owned()),
                        status: Some(product.status.as_str().to_owned()),
                        description: Some(description),
                        options: Some(product.options.clone()),
                        variants: Some(variants(Some(&view.product))),
                        ..Default::default()
                    },
                )
                .await
                .map(|_| ImportOutcome::Updated),
        };
        match result {
            Ok(outcome) => Ok(outcome),
            Err(crate::AppError::Validation(errors)) => {
                Ok(ImportOutcome::Refused(refusals(product, &errors)))
            }
            Err(crate::AppError::Conflict { field, message }) => {
                let (column, reason) = match field {
                    Some("sku") => (
                        COLUMNS[SKU],
                        "a SKU of this product is another product's".to_owned(),
                    ),
                    Some("slug") => (COLUMNS[HANDLE], "is another product's".to_owned()),
                    _ => (COLUMNS[HANDLE], message),
                };
                Ok(ImportOutcome::Refused(
                    rows(product)
                        .map(|row| RowError::new(row, column, reason.clone()))
                        .collect(),
                ))
            }
            Err(e) => Err(e),
        }
    }
}

/// Whether `current` already is what `rows` give: name, status, description, options and
/// variants (in order, each with its SKU, option values, prices and stock). Categories and
/// images are not imported, so they are not compared.
fn holds(current: &Product, rows: &ImportProduct) -> bool {
    let options = current.variants.options().as_slice();
    let variants = current.variants.by_position();
    current.name == rows.name
        && current.status == rows.status
        && current.description == rows.description
        && options.len() == rows.options.len()
        && options.iter().zip(&rows.options).all(|(o, r)| {
            o.name().as_str() == r.name && o.values().iter().map(|v| v.as_str()).eq(r.values.iter())
        })
        && variants.len() == rows.variants.len()
        && variants.iter().zip(&rows.variants).all(|(v, r)| {
            v.sku == r.sku
                && v.price == r.price
                && v.compare_at_price == r.compare_at_price
                && v.stock == r.stock
                && v.option_values
                    .pairs()
                    .iter()
                    .map(|(n, x)| (n.as_str(), x.as_str()))
                    .eq(r
                        .option_values
                        .iter()
                        .map(|(n, x)| (n.as_str(), x.as_str())))
        })
}

fn price_input(m: Money) -> super::PriceInput {
    super::PriceInput {
        amount: m.amount_string(),
        currency: m.currency().code().to_owned(),
    }
}

/// The rows of `product`: its first, then those of its variants.
fn rows(product: &ImportProduct) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(product.row)
        .chain(product.variants.iter().map(|v| v.row))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
}

/// The catalog's refusals of `product` as refused rows: each on the row and column it is
/// about (a variant's on its row, the product's on its first), and every other row of the
/// product refused with it.
fn refusals(product: &ImportProduct, errors: &[FieldError]) -> Vec<RowError> {
    let mut out: Vec<RowError> = errors
        .iter()
        .map(|e| {
            let (row, column) = column_of(product, &e.field);
            RowError::new(row, column, e.message.clone())
        })
        .collect();
    for row in rows(product) {
        if !out.iter().any(|e| e.row == row) {
            out.push(RowError::new(
                row,
                COLUMNS[HANDLE],
                format!("its product was refused (row {})", out[0].row),
            ));
        }
    }
    out.sort_by_key(|e| e.row);
    out
}

/// The row and column a use case's field error is about.
fn column_of(product: &ImportProduct, field: &str) -> (usize, &'static str) {
    if let Some((i, rest)) = field
        .strip_prefix("variants[")
        .and_then(|rest| rest.split_once(']'))
        && let Some(v) = i
            .parse::<usize>()
            .ok()
            .and_then(|i| product.variants.get(i))
    {
        let column = match rest.trim_start_matches('.').split('.').next() {
            Some("sku") => SKU,
            Some("price") => PRICE,
            Some("compare_at_price") => COMPARE_AT,
            Some("stock") => QTY,
            Some("option_values") => OPTION_VALUES[0],
            _ => HANDLE,
        };
        return (v.row, COLUMNS[column]);
    }
    let column = match field.split(['.', '[']).next() {
        Some("name") => TITLE,
        Some("description") => BODY,
        Some("status") => STATUS,
        Some("options") => field
            .strip_prefix("options[")
            .and_then(|r| r.split(']').next())
            .and_then(|i| i.parse::<usize>().ok())
            .and_then(|i| OPTION_NAMES.get(i).copied())
            .unwrap_or(OPTION_NAMES[0]),
        Some("variants") => SKU,
        _ => HANDLE,
    };
    (product.row, COLUMNS[column])
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use domain::{Role, VariantId};

    use super::*;
    use crate::ports::Clock;
    use crate::testing::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn eur_amount(s: &str) -> Money {
        Money::parse(s, eur()).unwrap()
    }

    const HEAD: &str = "Handle,Title,Body (HTML),Published,Option1 Name,Option1 Value,Option2 Name,Option2 Value,Option3 Name,Option3 Value,Variant SKU,Variant Price,Variant Compare At Price,Variant Inventory Qty,Image Src,Status";

    /// Rows from simple comma-separated lines (no quoting), numbered from 2.
    fn rows(lines: &[&str]) -> Vec<Row> {
        let header = Header::parse(HEAD.split(',')).unwrap();
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| header.row(i + 2, l.split(',')))
            .collect()
    }

    fn parse(lines: &[&str]) -> Parsed {
        parse_rows(rows(lines), eur())
    }

    fn refused(lines: &[&str]) -> Vec<String> {
        parse(lines)
            .refused
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    const MUG: &str = "mug,Mug,,TRUE,Title,Default Title,,,,,MUG-1,9.50,,3,,";

    #[test]
    fn the_header_needs_a_handle_and_ignores_other_columns() {
        assert_eq!(
            Header::parse(["Title", "Variant SKU"]),
            Err("the header has no `Handle` column".to_owned())
        );
        let header = Header::parse([" Extra", " Handle ", "Variant SKU", "Handle"]).unwrap();
        let row = header.row(7, ["x", "mug", "MUG-1", "other"]);
        assert_eq!(row.number, 7);
        assert_eq!(row.get(HANDLE), "mug");
        assert_eq!(row.get(SKU), "MUG-1");
        assert_eq!(row.get(TITLE), "");
        // A short row: the missing fields are empty.
        let short = header.row(8, ["x", "cup"]);
        assert_eq!(short.get(HANDLE), "cup");
        assert_eq!(short.get(SKU), "");
    }

    #[test]
    fn a_refused_row_reads_as_its_number_column_and_reason() {
        assert_eq!(
            RowError::new(12, "Variant Price", "must not be negative").to_string(),
            "row 12: Variant Price: must not be negative"
        );
    }

    #[test]
    fn rows_sharing_a_handle_make_one_product_with_its_options_and_variants() {
        let parsed = parse(&[
            "shirt,Shirt,<p>Soft</p>,TRUE,Size,S,Color,Black,,,SH-S-B,19.99,24.99,10,,active",
            MUG,
            "shirt,,,,,M,,Black,,,SH-M-B,19.99,,0,,",
            "shirt,,,,,,,,,,,,,,http://img.example/1.jpg,",
            "shirt,,,,,S,,White,,,SH-S-W,21.5,,,,",
        ]);
        assert_eq!(parsed.refused, []);
        assert_eq!(parsed.skipped, 1);
        assert_eq!(parsed.products.len(), 2);
        let shirt = &parsed.products[0];
        assert_eq!(shirt.slug.as_str(), "shirt");
        assert_eq!(shirt.row, 2);
        assert_eq!(shirt.name.as_str(), "Shirt");
        assert_eq!(
            shirt.description.as_ref().map(Description::as_str),
            Some("Soft")
        );
        assert_eq!(shirt.status, ProductStatus::Active);
        assert_eq!(
            shirt.options,
            [
                OptionInput {
                    name: "Size".into(),
                    values: vec!["S".into(), "M".into()]
                },
                OptionInput {
                    name: "Color".into(),
                    values: vec!["Black".into(), "White".into()]
                },
            ]
        );
        let v = &shirt.variants;
        assert_eq!(v.iter().map(|v| v.row).collect::<Vec<_>>(), [2, 4, 6]);
        assert_eq!(v[0].sku.as_str(), "SH-S-B");
        assert_eq!(
            v[0].option_values,
            [
                ("Size".into(), "S".into()),
                ("Color".into(), "Black".into())
            ]
        );
        assert_eq!(v[0].price.minor(), 1999);
        assert_eq!(v[0].compare_at_price.map(|m| m.minor()), Some(2499));
        assert_eq!(v[0].stock.get(), 10);
        assert_eq!(v[1].compare_at_price, None);
        assert_eq!(v[1].stock.get(), 0);
        assert_eq!(v[2].price.minor(), 2150);
        // Empty quantity: none on hand.
        assert_eq!(v[2].stock.get(), 0);

        let mug = &parsed.products[1];
        assert_eq!(mug.row, 3);
        assert_eq!(mug.description, None);
        assert_eq!(mug.options, []);
        assert_eq!(mug.variants[0].option_values, []);
        assert_eq!(mug.variants[0].price, eur_amount("9.50"));
        assert_eq!(mug.variants[0].stock.get(), 3);
    }

    #[test]
    fn title_is_a_real_option_when_it_is_not_the_lone_default() {
        let parsed = parse(&["cap,Cap,,,Title,Blue,,,,,CAP-1,5,,1,,"]);
        assert_eq!(
            parsed.products[0].options,
            [OptionInput {
                name: "Title".into(),
                values: vec!["Blue".into()]
            }]
        );
        let parsed = parse(&["cap,Cap,,,Size,Default Title,,,,,CAP-1,5,,1,,"]);
        assert_eq!(parsed.products[0].options[0].name, "Size");
        let parsed = parse(&[
            "cap,Cap,,,Title,Default Title,,,,,CAP-1,5,,1,,",
            "cap,,,,,Other,,,,,CAP-2,5,,1,,",
        ]);
        assert_eq!(
            parsed.products[0].options[0].values,
            ["Default Title", "Other"]
        );
        let parsed = parse(&["cap,Cap,,,Title,Default Title,Size,M,,,CAP-1,5,,1,,"]);
        assert_eq!(
            parsed.products[0].options,
            [
                OptionInput {
                    name: "Title".into(),
                    values: vec!["Default Title".into()]
                },
                OptionInput {
                    name: "Size".into(),
                    values: vec!["M".into()]
                },
            ]
        );
    }

    #[test]
    fn status_comes_from_status_then_published() {
        let status = |published: &str, status: &str| {
            let line = format!("mug,Mug,,{published},Title,Default Title,,,,,MUG-1,1,,1,,{status}");
            let parsed = parse(&[&line]);
            match parsed.products.first() {
                Some(p) => Ok(p.status),
                None => Err(parsed.refused[0].to_string()),
            }
        };
        assert_eq!(status("", ""), Ok(ProductStatus::Active));
        assert_eq!(status("TRUE", ""), Ok(ProductStatus::Active));
        assert_eq!(status("true", ""), Ok(ProductStatus::Active));
        assert_eq!(status("FALSE", ""), Ok(ProductStatus::Draft));
        assert_eq!(status("false", ""), Ok(ProductStatus::Draft));
        assert_eq!(status("TRUE", "archived"), Ok(ProductStatus::Archived));
        assert_eq!(status("FALSE", "Active"), Ok(ProductStatus::Active));
        assert_eq!(status("TRUE", "draft"), Ok(ProductStatus::Draft));
        assert_eq!(
            status("yes", ""),
            Err("row 2: Published: must be TRUE or FALSE".to_owned())
        );
        assert_eq!(
            status("", "sold"),
            Err("row 2: Status: must be one of draft, active, archived".to_owned())
        );
    }

    #[test]
    fn a_bad_price_refuses_its_row_by_column_and_its_product_with_it() {
        assert_eq!(
            refused(&[
                MUG,
                "shirt,Shirt,,,Size,S,,,,,SH-S,19.99,,1,,",
                "shirt,,,,,M,,,,,SH-M,19.999,,1,,",
                "shirt,,,,,L,,,,,SH-L,-1,,1,,",
                "shirt,,,,,,,,,,,,,,http://img.example/1.jpg,",
            ]),
            [
                "row 3: Handle: its product was refused (row 4)",
                "row 4: Variant Price: must be a decimal string with at most 2 digits after the point, such as 19.99",
                "row 5: Variant Price: must not be negative",
            ]
        );
        let parsed = parse(&[MUG, "shirt,Shirt,,,Size,S,,,,,SH-S,abc,,1,,"]);
        assert_eq!(parsed.products.len(), 1);
        assert_eq!(parsed.products[0].slug.as_str(), "mug");
    }

    #[test]
    fn a_sku_may_be_in_one_row_of_the_file_only() {
        assert_eq!(
            refused(&[
                MUG,
                "cup,Cup,,,,,,,,,MUG-1,1,,1,,",
                "shirt,Shirt,,,Size,S,,,,,SH-1,1,,1,,",
                "shirt,,,,,M,,,,,SH-1,1,,1,,",
            ]),
            [
                "row 3: Variant SKU: is also in row 2",
                "row 4: Handle: its product was refused (row 5)",
                "row 5: Variant SKU: is also in row 4",
            ]
        );
        assert_eq!(
            parse(&[MUG, "cup,Cup,,,,,,,,,MUG-1,1,,1,,"]).products.len(),
            1
        );
    }

    #[test]
    fn every_variant_field_is_checked_and_named_by_its_column() {
        assert_eq!(
            refused(&["mug,Mug,,,Size,,,Red,,,,,1.234,-1,,"]),
            [
                "row 2: Variant SKU: is required",
                "row 2: Option1 Value: is required: the product has the option \"Size\"",
                "row 2: Option2 Value: must be empty: the product's first row names no Option2 Name",
                "row 2: Variant Price: is required",
                "row 2: Variant Compare At Price: must be a decimal string with at most 2 digits after the point, such as 19.99",
                "row 2: Variant Inventory Qty: must be a whole number from 0 to 1000000000",
            ]
        );
        assert_eq!(
            refused(&["mug,Mug,,,,,,,,Big,MUG 1,1,,2.5,,"]),
            [
                "row 2: Variant SKU: may hold only letters A-Z, digits, '-', '_' and '.'",
                "row 2: Option3 Value: must be empty: the product's first row names no Option3 Name",
                "row 2: Variant Inventory Qty: must be a whole number from 0 to 1000000000",
            ]
        );
        // A row whose variant fields are all good is still refused for a bad option value.
        assert_eq!(
            refused(&["mug,Mug,,,,,,,,Big,MUG-1,1,,2,,"]),
            ["row 2: Option3 Value: must be empty: the product's first row names no Option3 Name"]
        );
        assert_eq!(
            refused(&["mug,Mug,,,,,,,,,MUG-1,1,,1000000001,,"]),
            ["row 2: Variant Inventory Qty: must be a whole number from 0 to 1000000000"]
        );
        // The first row always carries a variant.
        assert_eq!(
            refused(&["mug,Mug,,,,,,,,,,,,,,"]),
            [
                "row 2: Variant SKU: is required",
                "row 2: Variant Price: is required",
            ]
        );
        let parsed = parse(&["mug,Mug,,,,,,,,,MUG-1,0,0.00,1000000000,,"]);
        assert_eq!(parsed.refused, []);
        let v = &parsed.products[0].variants[0];
        assert_eq!(v.stock.get(), 1_000_000_000);
        assert_eq!(v.price.minor(), 0);
        assert_eq!(v.compare_at_price.map(|m| m.minor()), Some(0));
    }

    #[test]
    fn the_product_fields_are_checked_on_its_first_row() {
        assert_eq!(
            refused(&[
                "Bad Handle,Mug,,,,,,,,,MUG-1,1,,1,,",
                "Bad Handle,,,,,,,,,,MUG-2,1,,1,,",
                ",Cup,,,,,,,,,CUP-1,1,,1,,",
                "bowl,,,,,,,,,,BOWL-1,1,,1,,",
            ]),
            [
                "row 2: Handle: may hold only lowercase letters a-z, digits and '-'",
                "row 3: Handle: its product was refused (row 2)",
                "row 4: Handle: is required",
                "row 5: Title: must be 1 to 200 characters",
            ]
        );
        let long = "x".repeat(Description::MAX_CHARS + 1);
        let line = format!("mug,Mug,{long},,,,,,,,MUG-1,1,,1,,");
        assert_eq!(
            refused(&[&line]),
            ["row 2: Body (HTML): must be at most 10000 characters"]
        );
        let fits = "x".repeat(Description::MAX_CHARS);
        let line = format!("mug,Mug,{fits},,,,,,,,MUG-1,1,,1,,");
        assert_eq!(refused(&[&line]), Vec::<String>::new());
    }

    #[test]
    fn html_becomes_the_plain_text_a_description_holds() {
        assert_eq!(
            plain_text("<p>Soft  <b>cotton</b>,\n washed.</p><p>Second</p>"),
            "Soft cotton , washed.\nSecond"
        );
        assert_eq!(plain_text("a<br>b<BR/>c<br />d"), "a\nb\nc\nd");
        assert_eq!(
            plain_text("<ul><li>one</li><li>two</li></ul><h2>Care</h2><div>wash</div>x"),
            "one\ntwo\nCare\nwash\nx"
        );
        assert_eq!(
            plain_text("a<script>alert('<p>x</p>')</script>b<STYLE>p{}</Style>c"),
            "abc"
        );
        assert_eq!(plain_text("a<script>never closed"), "a");
        assert_eq!(plain_text("a <not closed"), "a not closed");
        assert_eq!(
            plain_text("&amp;&lt;&gt;&quot;&#39;&apos;x&nbsp;y&#233;&#xE9;&#XE9;"),
            "&<>\"''x y\u{e9}\u{e9}\u{e9}"
        );
        assert_eq!(
            plain_text("R&D &unknown; &#xZZ; a&b"),
            "R&D &unknown; &#xZZ; a&b"
        );
        assert_eq!(plain_text("&amp"), "&amp");
        assert_eq!(plain_text("&#1114112;"), "&#1114112;");
        assert_eq!(plain_text("&abcdefghij;"), "&abcdefghij;");
        // The longest entity read: ten characters before its `;`.
        assert_eq!(plain_text("&#00000065;"), "A");
        assert_eq!(plain_text("  \n "), "");
        assert_eq!(plain_text("x\u{2003}y"), "x y");
    }

    #[test]
    fn plain_text_comes_back_through_html_of() {
        assert_eq!(
            html_of("A & B <i>\nC\r\nD"),
            "A &amp; B &lt;i&gt;<br>C<br>D"
        );
        let text = "Fish & chips <hot>\n30 °C";
        assert_eq!(plain_text(&html_of(text)), text);
    }

    fn lone_mug(status: ProductStatus) -> Product {
        let now = FixedClock.now();
        Product {
            id: domain::ProductId::new(),
            name: ProductName::parse("Mug, \"big\"").unwrap(),
            slug: Slug::parse("mug").unwrap(),
            status,
            description: Some(Description::parse("Glazed\n& fired").unwrap()),
            variants: domain::VariantSet::single(
                VariantId::new(),
                Sku::parse("MUG-1").unwrap(),
                eur_amount("9.5"),
                Stock::new(3).unwrap(),
            ),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_product_of_one_variant_is_one_row_with_shopifys_default_title() {
        let rows = rows_of(&lone_mug(ProductStatus::Active));
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].to_vec(),
            [
                "mug",
                "Mug, \"big\"",
                "Glazed<br>&amp; fired",
                "",
                "",
                "",
                "",
                "TRUE",
                "Title",
                "Default Title",
                "",
                "",
                "",
                "",
                "MUG-1",
                "9.50",
                "",
                "3",
                "",
                "",
                "active",
            ]
        );
        let draft = rows_of(&lone_mug(ProductStatus::Draft));
        assert_eq!(
            (draft[0][PUBLISHED].as_str(), draft[0][STATUS].as_str()),
            ("FALSE", "draft")
        );
        let archived = rows_of(&lone_mug(ProductStatus::Archived));
        assert_eq!(
            (
                archived[0][PUBLISHED].as_str(),
                archived[0][STATUS].as_str()
            ),
            ("FALSE", "archived")
        );
    }

    #[test]
    fn rows_of_a_product_parse_back_to_it() {
        let parsed = parse_rows(
            rows(&[
                "shirt,Shirt,Soft,TRUE,Size,S,Color,Black,,,SH-S-B,19.99,24.99,10,,active",
                "shirt,,,,,M,,Black,,,SH-M-B,19.99,,0,,",
            ]),
            eur(),
        );
        let p = &parsed.products[0];
        let options = domain::ProductOptions::parse(&p.options).unwrap();
        let variants = p
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut validator = domain::Validator::new();
                domain::Variant {
                    id: VariantId::new(),
                    sku: v.sku.clone(),
                    option_values: domain::OptionValues::parse(
                        &mut validator,
                        "option_values",
                        &options,
                        v.option_values
                            .iter()
                            .map(|(n, x)| (n.as_str(), x.as_str())),
                    )
                    .unwrap(),
                    price: v.price,
                    compare_at_price: v.compare_at_price,
                    stock: v.stock,
                    position: domain::Position::new(i64::try_from(i).unwrap()).unwrap(),
                }
            })
            .collect();
        let mut product = lone_mug(ProductStatus::Active);
        product.slug = p.slug.clone();
        product.name = p.name.clone();
        product.description = p.description.clone();
        product.variants = domain::VariantSet::new(options, variants).unwrap();
        let out = rows_of(&product);
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[1].to_vec(),
            [
                "shirt", "", "", "", "", "", "", "", "", "M", "", "Black", "", "", "SH-M-B",
                "19.99", "", "0", "", "", "",
            ]
        );
        assert_eq!(out[0][OPTION_NAMES[1]], "Color");
        assert_eq!(out[0][OPTION_VALUES[0]], "S");
        assert_eq!(out[0][COMPARE_AT], "24.99");
        assert_eq!(out[0][BODY], "Soft");
    }

    fn importer(repo: &Arc<MemoryProducts>) -> ImportProducts {
        ImportProducts {
            create: crate::catalog::CreateProduct {
                products: repo.clone(),
                categories: Arc::new(MemoryCategories::default()),
                clock: Arc::new(FixedClock),
                events: events(),
            },
            update: crate::catalog::UpdateProduct {
                products: repo.clone(),
                categories: Arc::new(MemoryCategories::default()),
                catalog: repo.clone(),
                clock: Arc::new(FixedClock),
                events: events(),
            },
        }
    }

    #[tokio::test]
    async fn an_import_creates_by_handle_then_updates_keeping_variants_by_sku() {
        let repo = Arc::new(MemoryProducts::default());
        let import = importer(&repo);
        let admin = actor(&[Role::Admin]);
        let first = parse(&[
            "shirt,Shirt,,TRUE,Size,S,,,,,SH-S,19.99,,1,,",
            "shirt,,,,,M,,,,,SH-M,19.99,,2,,",
        ]);
        let outcome = import.execute(&admin, &first.products[0]).await.unwrap();
        assert_eq!(outcome, ImportOutcome::Created);
        let events = repo.events.lock().unwrap().len();
        // The same rows again: nothing to write, no event.
        let outcome = import.execute(&admin, &first.products[0]).await.unwrap();
        assert_eq!(outcome, ImportOutcome::Unchanged);
        assert_eq!(repo.events.lock().unwrap().len(), events);
        let stored = repo.items.lock().unwrap()[0].clone();
        assert_eq!(stored.slug.as_str(), "shirt");
        let kept = stored
            .variants
            .variants()
            .iter()
            .find(|v| v.sku.as_str() == "SH-M")
            .unwrap()
            .id;

        let second = parse(&[
            "shirt,Shirt 2,Now soft,FALSE,Size,M,,,,,SH-M,18.00,,5,,",
            "shirt,,,,,L,,,,,SH-L,21.00,,1,,",
        ]);
        let outcome = import.execute(&admin, &second.products[0]).await.unwrap();
        assert_eq!(outcome, ImportOutcome::Updated);
        let items = repo.items.lock().unwrap().clone();
        assert_eq!(items.len(), 1);
        let p = &items[0];
        assert_eq!(p.name.as_str(), "Shirt 2");
        assert_eq!(p.status, ProductStatus::Draft);
        assert_eq!(
            p.description.as_ref().map(Description::as_str),
            Some("Now soft")
        );
        let skus: Vec<&str> = p
            .variants
            .by_position()
            .iter()
            .map(|v| v.sku.as_str())
            .collect();
        assert_eq!(skus, ["SH-M", "SH-L"]);
        let m = p
            .variants
            .variants()
            .iter()
            .find(|v| v.sku.as_str() == "SH-M")
            .unwrap();
        assert_eq!(m.id, kept);
        assert_eq!((m.price.minor(), m.stock.get()), (1800, 5));
    }

    #[tokio::test]
    async fn the_catalogs_refusals_fall_on_the_rows_they_are_about() {
        let repo = Arc::new(MemoryProducts::default());
        let import = importer(&repo);
        let admin = actor(&[Role::Admin]);
        // Two variants with the same option value: the variant set refuses the second.
        let parsed = parse(&[
            "shirt,Shirt,,,Size,S,,,,,SH-1,1,,1,,",
            "shirt,,,,,S,,,,,SH-2,1,,1,,",
        ]);
        let ImportOutcome::Refused(rows) =
            import.execute(&admin, &parsed.products[0]).await.unwrap()
        else {
            panic!("not refused");
        };
        assert_eq!(rows.len(), 2);
        assert_eq!(rows.iter().map(|e| e.row).collect::<Vec<_>>(), [2, 3]);
        assert!(repo.items.lock().unwrap().is_empty());

        // A SKU another product holds: every row refused on Variant SKU.
        repo.add_sample("TAKEN-1");
        let parsed = parse(&["cup,Cup,,,,,,,,,TAKEN-1,1,,1,,"]);
        assert_eq!(
            import.execute(&admin, &parsed.products[0]).await.unwrap(),
            ImportOutcome::Refused(vec![RowError::new(
                2,
                "Variant SKU",
                "a SKU of this product is another product's"
            )])
        );
        // Not an admin: the whole import stops.
        assert!(
            import
                .execute(&actor(&[]), &parsed.products[0])
                .await
                .is_err()
        );
    }

    #[test]
    fn a_product_holds_its_rows_only_when_every_imported_field_is_the_same() {
        let line = "mug,Mug,Glazed,TRUE,Size,S,,,,,MUG-S,9.50,12.00,3,,";
        let base = parse(&[line, "mug,,,,,M,,,,,MUG-M,9.50,,4,,"]).products[0].clone();
        let options = domain::ProductOptions::parse(&base.options).unwrap();
        let variants = base
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| domain::Variant {
                id: VariantId::new(),
                sku: v.sku.clone(),
                option_values: domain::OptionValues::parse(
                    &mut domain::Validator::new(),
                    "option_values",
                    &options,
                    v.option_values
                        .iter()
                        .map(|(n, x)| (n.as_str(), x.as_str())),
                )
                .unwrap(),
                price: v.price,
                compare_at_price: v.compare_at_price,
                stock: v.stock,
                position: domain::Position::new(i64::try_from(i).unwrap()).unwrap(),
            })
            .collect();
        let mut current = lone_mug(ProductStatus::Active);
        current.name = base.name.clone();
        current.description = base.description.clone();
        current.variants = domain::VariantSet::new(options, variants).unwrap();
        assert!(holds(&current, &base));
        let differs = |change: &dyn Fn(&mut ImportProduct)| {
            let mut rows = base.clone();
            change(&mut rows);
            !holds(&current, &rows)
        };
        assert!(differs(&|r| r.name = ProductName::parse("Cup").unwrap()));
        assert!(differs(&|r| r.status = ProductStatus::Draft));
        assert!(differs(&|r| r.description = None));
        assert!(differs(&|r| r.options[0].name = "Fit".into()));
        assert!(differs(&|r| r.options[0].values.reverse()));
        assert!(differs(&|r| r.options.push(OptionInput::default())));
        assert!(differs(&|r| r.variants.reverse()));
        assert!(differs(&|r| {
            r.variants.pop();
        }));
        assert!(differs(
            &|r| r.variants[1].sku = Sku::parse("MUG-X").unwrap()
        ));
        assert!(differs(&|r| r.variants[1].price = eur_amount("9.51")));
        assert!(differs(&|r| r.variants[0].compare_at_price = None));
        assert!(differs(&|r| r.variants[1].stock = Stock::new(5).unwrap()));
        assert!(differs(&|r| r.variants[1].option_values[0].1 = "L".into()));
        assert!(differs(&|r| r.variants[1].option_values[0].0 = "Fit".into()));
    }

    #[test]
    fn field_errors_map_to_the_row_and_column_they_are_about() {
        let parsed = parse(&[
            "shirt,Shirt,,,Size,S,,,,,SH-1,1,,1,,",
            "shirt,,,,,M,,,,,SH-2,1,,1,,",
        ]);
        let p = &parsed.products[0];
        let cases = [
            ("variants[1].sku", (3, "Variant SKU")),
            ("variants[1].price.amount", (3, "Variant Price")),
            (
                "variants[0].compare_at_price.amount",
                (2, "Variant Compare At Price"),
            ),
            ("variants[1].stock", (3, "Variant Inventory Qty")),
            ("variants[1].option_values", (3, "Option1 Value")),
            ("variants[1].position", (3, "Handle")),
            ("variants[7].sku", (2, "Variant SKU")),
            ("variants", (2, "Variant SKU")),
            ("name", (2, "Title")),
            ("description", (2, "Body (HTML)")),
            ("status", (2, "Status")),
            ("options[1].name", (2, "Option2 Name")),
            ("options[2].values[0]", (2, "Option3 Name")),
            ("options[9].name", (2, "Option1 Name")),
            ("options", (2, "Option1 Name")),
            ("category_ids", (2, "Handle")),
        ];
        for (field, expected) in cases {
            assert_eq!(column_of(p, field), expected, "{field}");
        }
        assert_eq!(
            refusals(p, &[FieldError::new("variants[1].price.amount", "too big")]),
            [
                RowError::new(2, "Handle", "its product was refused (row 3)"),
                RowError::new(3, "Variant Price", "too big"),
            ]
        );
    }
}
