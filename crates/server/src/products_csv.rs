//! `shop import-products` and `shop export-products`: Shopify's product CSV read from a file
//! and written to standard output; the rows' meaning is `application::catalog::shopify_csv`'s.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use application::catalog::shopify_csv::{
    COLUMNS, Header, ImportOutcome, ImportProducts, RowError, parse_rows, rows_of,
};
use application::catalog::{CreateProduct, UpdateProduct};
use application::ports::{ProductFilter, ProductReadModel, ProductSort};
use application::{Actor, AppError};
use domain::{Currency, PageRequest, Role, Roles, UserId};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{Adapters, Settings, events};

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Products created.
    pub created: usize,
    /// Products updated.
    pub updated: usize,
    /// Products that already were as their rows give them (nothing written).
    pub unchanged: usize,
    /// Refused rows, by number.
    pub refused: Vec<RowError>,
}

/// An admin acting from the command line.
fn operator() -> Actor {
    Actor {
        user_id: UserId::new(),
        roles: Roles::from([Role::Admin]),
    }
}

/// How far an import is: a bar on a terminal, otherwise a plain line every so often.
enum Progress {
    Bar(ProgressBar),
    Lines { total: usize, last: usize },
}

impl Progress {
    fn new(total: usize) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total as u64);
            if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} rows {eta}") {
                bar.set_style(style);
            }
            Self::Bar(bar)
        } else {
            Self::Lines { total, last: 0 }
        }
    }

    fn set(&mut self, done: usize) {
        match self {
            Self::Bar(bar) => bar.set_position(done as u64),
            Self::Lines { total, last } => {
                if done == *total || done >= *last + 1000 {
                    eprintln!("imported {done}/{total}");
                    *last = done;
                }
            }
        }
    }

    fn finish(self) {
        if let Self::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Reads Shopify's product CSV at `path` and creates or updates its products by handle, prices
/// in `currency`; refused rows are reported, the others imported.
///
/// # Errors
/// When the file cannot be read or has no `Handle` column, the currency is unknown, or the
/// database fails.
pub async fn import_products(
    settings: &Settings,
    path: &Path,
    currency: &str,
) -> anyhow::Result<ImportSummary> {
    let currency =
        Currency::parse(currency).map_err(|e| anyhow::anyhow!("--currency: {}", e.message))?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let header = reader
        .headers()
        .with_context(|| format!("cannot read the header of {}", path.display()))?;
    let header =
        Header::parse(header.iter()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut rows = Vec::new();
    let mut unreadable = Vec::new();
    for (i, record) in reader.records().enumerate() {
        // The header is row 1.
        let number = i + 2;
        match record {
            Ok(record) => rows.push(header.row(number, record.iter())),
            Err(e) => unreadable.push(RowError::new(number, "CSV", e.to_string())),
        }
    }
    let total = rows.len() + unreadable.len();
    let parsed = parse_rows(rows, currency);
    let mut summary = ImportSummary {
        refused: parsed.refused,
        ..ImportSummary::default()
    };
    summary.refused.append(&mut unreadable);
    let a = Adapters::build(settings).await?;
    let events = events(settings);
    let import = ImportProducts {
        create: CreateProduct {
            products: a.products.clone(),
            categories: a.categories.clone(),
            clock: a.clock.clone(),
            events: events.clone(),
        },
        update: UpdateProduct {
            products: a.products.clone(),
            categories: a.categories.clone(),
            catalog: a.products.clone(),
            clock: a.clock.clone(),
            events,
        },
    };
    let actor = operator();
    let mut progress = Progress::new(total);
    let mut done = summary.refused.len() + parsed.skipped;
    progress.set(done);
    for product in &parsed.products {
        match import.execute(&actor, product).await.map_err(describe)? {
            ImportOutcome::Created => summary.created += 1,
            ImportOutcome::Updated => summary.updated += 1,
            ImportOutcome::Unchanged => summary.unchanged += 1,
            ImportOutcome::Refused(mut rows) => summary.refused.append(&mut rows),
        }
        done += product.variants.len();
        progress.set(done);
    }
    progress.finish();
    summary.refused.sort_by_key(|e| e.row);
    a.db.close().await;
    Ok(summary)
}

fn describe(e: AppError) -> anyhow::Error {
    anyhow::Error::new(e).context("the import stopped")
}

/// Writes every product (drafts and archived ones too), oldest first, as Shopify's product CSV
/// to `out`, reading the catalog a page at a time; returns how many products were written.
///
/// # Errors
/// When the database fails or `out` cannot be written.
pub async fn export_products(settings: &Settings, out: impl Write) -> anyhow::Result<usize> {
    let a = Adapters::build(settings).await?;
    let catalog: Arc<dyn ProductReadModel> = a.products.clone();
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(COLUMNS)?;
    let filter = ProductFilter {
        sort: Some(ProductSort::Oldest),
        ..ProductFilter::default()
    };
    const LIST: &str = "export-products";
    let first = PageRequest::new(1, PageRequest::MAX_PER_PAGE)
        .map_err(|e| anyhow::anyhow!(e.message))?
        .in_list(LIST);
    let mut request = first.clone();
    let mut written = 0;
    loop {
        let page = catalog.list(request, &filter).await?;
        for view in &page.items {
            for row in rows_of(&view.product) {
                writer.write_record(&row)?;
            }
            written += 1;
        }
        let Some(cursor) = page.next_cursor() else {
            break;
        };
        request = first
            .clone()
            .after(&cursor)
            .map_err(|e| anyhow::anyhow!(e.message))?;
    }
    writer.flush()?;
    a.db.close().await;
    Ok(written)
}
