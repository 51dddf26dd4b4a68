//! The database: SQLite or PostgreSQL behind one type, so each repository is written once.

mod categories;
mod events;
mod images;
mod jobs;
mod orders;
mod products;
mod users;
mod webhooks;

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use application::ports::PoolUsage;
use domain::{Page, PageRequest, RepositoryError};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{PgPool, SqlitePool};
use uuid::Uuid;

pub use categories::SqlCategories;
pub use events::SqlEvents;
pub use images::SqlImages;
pub use jobs::{SqlJobSchedule, SqlSweep};
pub use orders::SqlOrders;
pub use products::SqlProducts;
pub use users::SqlUsers;
pub use webhooks::SqlWebhooks;

/// Runs one body of code against whichever backend `db` holds. The body is written once and
/// compiled for each backend; `$role` picks the SQLite pool (`read` or `write`), PostgreSQL has one.
/// The second form also names the statement that opens a write transaction: SQLite's
/// `BEGIN IMMEDIATE` takes the write lock up front, so a transaction never fails half-way on
/// lock upgrade when several processes share the file.
macro_rules! on_db {
    ($db:expr, $role:ident, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Database::Sqlite { $role: $pool, .. } => $body,
            $crate::db::Database::Postgres($pool) => $body,
        }
    };
    ($db:expr, $role:ident, $pool:ident, $begin:ident => $body:expr) => {
        match $db {
            $crate::db::Database::Sqlite { $role: $pool, .. } => {
                let $begin = "BEGIN IMMEDIATE";
                $body
            }
            $crate::db::Database::Postgres($pool) => {
                let $begin = "BEGIN";
                $body
            }
        }
    };
}
pub(crate) use on_db;

/// A database URL whose `Debug` and `Display` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Accepts `sqlite:` and `postgres:`/`postgresql:` URLs.
    ///
    /// # Errors
    /// A message naming the accepted schemes.
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://")
        {
            Ok(Self(url.to_owned()))
        } else {
            Err("must start with sqlite: or postgres://".to_owned())
        }
    }

    /// The URL with its secret, for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it names a PostgreSQL server.
    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres")
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hide everything between `://user:` and `@`.
        match (self.0.find("://"), self.0.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let userinfo = &self.0[scheme + 3..at];
                let user = userinfo.split(':').next().unwrap_or("");
                write!(
                    f,
                    "{}://{}:[redacted]{}",
                    &self.0[..scheme],
                    user,
                    &self.0[at..]
                )
            }
            _ => f.write_str(&self.0),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Which engine a [`Database`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// Connection pools for one database. SQLite gets a pool of readers and a single writer
/// connection: SQLite admits one writer at a time, and writers that queue in-process wait
/// fairly instead of sleeping on SQLite's file lock.
#[derive(Clone, Debug)]
pub enum Database {
    /// SQLite in WAL mode.
    Sqlite {
        /// Readers.
        read: SqlitePool,
        /// The one writer.
        write: SqlitePool,
    },
    /// PostgreSQL.
    Postgres(PgPool),
}

/// How long a request waits for a pooled connection, by default, before the database counts
/// as unavailable: a connection refused (the server stopped) is retried until then, so this is
/// also how long a request takes to answer 503 while the database is down.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL connection idle at least this long is pinged before it serves a request.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);
/// After a connection error, every pooled connection is pinged before use for this long, so
/// the connections cut by an outage are replaced before requests see them.
const PING_AFTER_TROUBLE_FOR: Duration = Duration::from_secs(5);

/// When a query last failed for connection trouble, in milliseconds since [`process_clock`]
/// started (0: never).
static LAST_CONNECTION_TROUBLE_MS: AtomicU64 = AtomicU64::new(0);

fn process_clock() -> Duration {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

fn note_connection_trouble() {
    let now = u64::try_from(process_clock().as_millis()).unwrap_or(u64::MAX);
    LAST_CONNECTION_TROUBLE_MS.store(now.max(1), Ordering::Relaxed);
}

fn connection_trouble_lately() -> bool {
    let at = LAST_CONNECTION_TROUBLE_MS.load(Ordering::Relaxed);
    at != 0 && process_clock().saturating_sub(Duration::from_millis(at)) < PING_AFTER_TROUBLE_FOR
}

/// How many SQLite reader connections to open: `max_connections`, but at most two per core.
///
/// A SQLite read runs on its connection's own thread and keeps a core busy until it ends, so
/// readers beyond the cores only add threads to switch between and page caches to hold
/// (up to 2 MiB each): on two cores, 16 readers held about 45 MiB more at peak than 4.
fn sqlite_readers(max_connections: u32) -> u32 {
    let cores = std::thread::available_parallelism()
        .map_or(4, |n| u32::try_from(n.get()).unwrap_or(u32::MAX));
    max_connections.min(cores.saturating_mul(2)).max(1)
}

impl Database {
    /// Connects, creating the SQLite file (and its folder) when missing. A request waits at
    /// most `acquire_timeout` for a connection (a busy pool, or a server that refuses
    /// connections) before it fails as unavailable.
    ///
    /// # Errors
    /// When the URL is malformed or the server does not answer.
    pub async fn connect(
        url: &DatabaseUrl,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> anyhow::Result<Self> {
        if url.is_postgres() {
            let options = PgConnectOptions::from_str(url.expose())?;
            // A connection back from a request a moment ago is known to work (sqlx pings every
            // connection it takes back); one that sat idle may have been cut (a restarted
            // server, a proxy's idle timeout), and after any connection error all may have
            // been: those are pinged before use. Busy connections are not, which saves a round
            // trip per query.
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(acquire_timeout)
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for >= PING_WHEN_IDLE_FOR || connection_trouble_lately() {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .connect_with(options)
                .await?;
            return Ok(Database::Postgres(pool));
        }
        let options = SqliteConnectOptions::from_str(url.expose())?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        if let Some(dir) = options
            .get_filename()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)?;
        }
        // A connection to a local file cannot go stale, so no ping before each use: with
        // SQLite's connection threads that ping was a second thread hand-off per query.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(acquire_timeout)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(sqlite_readers(max_connections))
            .acquire_timeout(acquire_timeout)
            .test_before_acquire(false)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Database::Sqlite { read, write })
    }

    /// The engine.
    pub fn backend(&self) -> Backend {
        match self {
            Database::Sqlite { .. } => Backend::Sqlite,
            Database::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies pending migrations of this backend, then computes again the search text of
    /// products a migration marked stale and gives slugs to products a migration left
    /// without (the folding and slug rules live in Rust, not in SQL).
    ///
    /// # Errors
    /// When a migration fails or an applied one was changed.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Database::Sqlite { write, .. } => {
                sqlx::migrate!("./migrations/sqlite").run(write).await?
            }
            Database::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        products::refresh_search_text(self).await?;
        products::fill_missing_slugs(self).await?;
        Ok(())
    }

    /// One round trip, to tell whether the database answers.
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<(), RepositoryError> {
        on_db!(self, read, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()).map_err(map_err))
    }

    /// How many connections each pool has lent out and holds idle, now: SQLite's readers
    /// (`read`) and its one writer (`write`), or PostgreSQL's pool (`main`).
    pub fn pool_usage(&self) -> Vec<PoolUsage> {
        fn usage<DB: sqlx::Database>(pool: &'static str, p: &sqlx::Pool<DB>) -> PoolUsage {
            let size = u64::from(p.size());
            // Read apart from `size`, so the two may disagree by a connection in motion.
            let idle = (p.num_idle() as u64).min(size);
            PoolUsage {
                pool,
                in_use: size - idle,
                idle,
                max: u64::from(p.options().get_max_connections()),
            }
        }
        match self {
            Database::Sqlite { read, write } => vec![usage("read", read), usage("write", write)],
            Database::Postgres(pool) => vec![usage("main", pool)],
        }
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        match self {
            Database::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Database::Postgres(pool) => pool.close().await,
        }
    }
}

/// Maps a driver error to the repository's terms: unique violations name their field,
/// connection trouble is `Unavailable`.
pub(crate) fn map_err(e: sqlx::Error) -> RepositoryError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            let text = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
            let field = ["sku", "slug", "email", "username"]
                .into_iter()
                .find(|f| text.contains(f))
                .unwrap_or("value");
            RepositoryError::Conflict(field)
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => {
            note_connection_trouble();
            RepositoryError::Unavailable(Box::new(e))
        }
        sqlx::Error::Database(db) if is_unavailable_code(db.code().as_deref()) => {
            RepositoryError::Unavailable(Box::new(e))
        }
        _ => RepositoryError::Other(Box::new(e)),
    }
}

/// PostgreSQL's "try again" classes (connection exceptions, shutdown, too many connections)
/// and SQLite's busy/locked codes.
fn is_unavailable_code(code: Option<&str>) -> bool {
    match code {
        Some(c) if c.starts_with("08") || c.starts_with("57P") || c == "53300" => true,
        Some("5" | "6" | "261" | "517") => true,
        _ => false,
    }
}

/// The placeholders `$1, $2, …, $n` of an `IN (…)` list of `n` values (the same syntax on
/// both backends).
pub(crate) fn placeholders(n: usize) -> String {
    placeholders_from(1, n)
}

/// `n` placeholders numbered from `$first` on.
pub(crate) fn placeholders_from(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A page's `LIMIT` and `OFFSET`, as bound to a query.
pub(crate) fn page_bounds(page: PageRequest) -> (i64, i64) {
    (
        i64::from(page.per_page()),
        i64::try_from(page.offset()).unwrap_or(i64::MAX),
    )
}

/// A page of stored rows as domain values, with the `total` a `COUNT(*)` found.
pub(crate) fn page_of<R, T: TryFrom<R, Error = RepositoryError>>(
    rows: Vec<R>,
    page: PageRequest,
    total: i64,
) -> Result<Page<T>, RepositoryError> {
    Ok(Page {
        items: rows
            .into_iter()
            .map(T::try_from)
            .collect::<Result<_, _>>()?,
        request: page,
        total: u64::try_from(total).unwrap_or(0),
    })
}

/// A row that either backend can read.
pub(crate) trait StoredRow:
    for<'r> sqlx::FromRow<'r, PgRow> + for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin
{
}

impl<R> StoredRow for R where
    R: for<'r> sqlx::FromRow<'r, PgRow> + for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin
{
}

/// The one row `sql` selects for `id` (its only parameter), on a reader.
pub(crate) async fn fetch_by_id<R: StoredRow, T: TryFrom<R, Error = RepositoryError>>(
    db: &Database,
    sql: &'static str,
    id: Uuid,
) -> Result<Option<T>, RepositoryError> {
    let row: Option<R> = on_db!(db, read, pool => {
        sqlx::query_as(sql).bind(id).fetch_optional(pool).await
    })
    .map_err(map_err)?;
    row.map(T::try_from).transpose()
}

/// The rows `sql` selects for `ids`, in one query; `sql` has `{}` where the `IN (…)` list
/// of their placeholders goes. No ids, no query.
pub(crate) async fn fetch_in<R: StoredRow>(
    db: &Database,
    sql: &str,
    ids: &[Uuid],
) -> Result<Vec<R>, RepositoryError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = sql.replacen("{}", &placeholders(ids.len()), 1);
    on_db!(db, read, pool => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(pool).await
    })
    .map_err(map_err)
}

/// A page of a whole table: `sql` takes `LIMIT $1 OFFSET $2`, `count_sql` counts its rows.
pub(crate) async fn fetch_page<R: StoredRow, T: TryFrom<R, Error = RepositoryError>>(
    db: &Database,
    sql: &'static str,
    count_sql: &'static str,
    page: PageRequest,
) -> Result<Page<T>, RepositoryError> {
    let (limit, offset) = page_bounds(page);
    let (rows, total): (Vec<R>, i64) = on_db!(db, read, pool => {
        let rows = sqlx::query_as(sql).bind(limit).bind(offset).fetch_all(pool);
        let total = sqlx::query_scalar(count_sql).fetch_one(pool);
        tokio::try_join!(rows, total)
    })
    .map_err(map_err)?;
    page_of(rows, page, total)
}

/// The slugs `sql` finds that are `base` or `base-…`: `sql` takes `base` as `$1` and the
/// LIKE pattern as `$2`. Slugs hold no LIKE wildcards (`%`, `_`), so the pattern is the text
/// itself.
pub(crate) async fn slugs_like(
    db: &Database,
    sql: &'static str,
    base: &domain::Slug,
) -> Result<std::collections::HashSet<String>, RepositoryError> {
    let rows: Vec<String> = on_db!(db, read, pool => {
        sqlx::query_scalar(sql)
            .bind(base.as_str())
            .bind(format!("{}-%", base.as_str()))
            .fetch_all(pool)
            .await
    })
    .map_err(map_err)?;
    Ok(rows.into_iter().collect())
}

/// What a repository that writes events tells of them once their transaction committed (by
/// default, nobody).
#[derive(Clone)]
pub(crate) struct EventCounter(pub(crate) std::sync::Arc<dyn application::ports::EventsWritten>);

impl Default for EventCounter {
    fn default() -> Self {
        Self(std::sync::Arc::new(application::ports::NoMetrics))
    }
}

/// `counting_events` for a repository with an `events_written: EventCounter` field.
macro_rules! counting_events {
    ($repository:ty) => {
        impl $repository {
            /// The same, telling `counter` of the events each committed transaction wrote.
            #[must_use]
            pub fn counting_events(
                self,
                counter: std::sync::Arc<dyn application::ports::EventsWritten>,
            ) -> Self {
                Self {
                    events_written: super::EventCounter(counter),
                    ..self
                }
            }
        }
    };
}
pub(crate) use counting_events;

/// Roles as stored: comma-separated names.
pub(crate) fn roles_to_text(roles: &domain::Roles) -> String {
    roles.names().collect::<Vec<_>>().join(",")
}

/// Roles from their stored form; names this shop does not know are dropped.
pub(crate) fn roles_from_text(text: &str) -> domain::Roles {
    domain::Roles::from_names(text.split(','))
}

/// A stored value that no longer parses: corrupt data, never the client's fault.
pub(crate) fn corrupt(what: &str, e: impl fmt::Display) -> RepositoryError {
    RepositoryError::Other(format!("stored {what} is invalid: {e}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_each_value() {
        assert_eq!(placeholders(1), "$1");
        assert_eq!(placeholders(3), "$1, $2, $3");
        assert_eq!(placeholders_from(2, 2), "$2, $3");
    }

    #[test]
    fn database_url_hides_the_password() {
        let url = DatabaseUrl::parse("postgres://shop:s3cret@db:5432/shop").unwrap();
        assert_eq!(url.to_string(), "postgres://shop:[redacted]@db:5432/shop");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert!(DatabaseUrl::parse("mysql://x").is_err());
    }
}
