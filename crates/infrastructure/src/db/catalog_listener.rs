//! Hearing of catalog writes made anywhere: PostgreSQL's triggers (migration
//! `postgres/0014_catalog_notify.sql`) notify channel [`CHANNEL`] at the commit of every
//! transaction that wrote a product, a variant, an image or a category, whichever instance,
//! worker or script wrote it. Each instance listens on its own connection (named
//! [`APPLICATION_NAME`] in `pg_stat_activity`), so that what it keeps of the catalog in memory
//! is dropped as soon as it is out of date.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions};

use super::Database;

/// The channel the catalog's triggers notify.
pub const CHANNEL: &str = "shop_catalog";

/// The listening connection's `application_name`.
pub const APPLICATION_NAME: &str = "shop-catalog-listener";

/// How long to wait before listening again after the connection was lost or refused.
const RETRY: Duration = Duration::from_secs(1);

/// What the listener tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogSignal {
    /// Listening (again): every catalog write from now on is heard.
    Listening,
    /// Some catalog write committed.
    Changed,
    /// The connection is lost: writes may go unheard until [`CatalogSignal::Listening`].
    Lost,
}

/// Listens for catalog writes and tells `on` of them, for as long as the future is polled;
/// a lost connection is said once, then listening is tried again every second. On SQLite,
/// where one process holds the database, there is nothing to hear: it returns at once.
pub async fn listen_for_catalog_writes(
    db: &Database,
    on: Arc<dyn Fn(CatalogSignal) + Send + Sync>,
) {
    let Database::Postgres(pool) = db else {
        return;
    };
    let options = pool
        .connect_options()
        .as_ref()
        .clone()
        .application_name(APPLICATION_NAME);
    // Whether a loss has been told and not yet made good (so it is told once).
    let mut lost = false;
    loop {
        // A pool of its own, so that the listening connection is never one a request waits for.
        let listener = async {
            let own = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await?;
            let mut listener = PgListener::connect_with(&own).await?;
            listener.ignore_pool_close_event(true);
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        match listener {
            Ok(mut listener) => {
                on(CatalogSignal::Listening);
                if lost {
                    tracing::info!("listening for catalog writes again");
                }
                // `None`: the connection was lost.
                while let Ok(Some(_)) = listener.try_recv().await {
                    on(CatalogSignal::Changed);
                }
                on(CatalogSignal::Lost);
                tracing::warn!(
                    "lost the connection that hears of catalog writes; the catalog is read from the database until it is back"
                );
                lost = true;
            }
            Err(e) if !lost => {
                on(CatalogSignal::Lost);
                tracing::warn!(error = %e, "cannot listen for catalog writes; the catalog is read from the database until it can");
                lost = true;
            }
            Err(_) => {}
        }
        tokio::time::sleep(RETRY).await;
    }
}
