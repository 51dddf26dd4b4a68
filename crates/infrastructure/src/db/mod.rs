//! The database: SQLite or PostgreSQL behind one type, so each repository is written once.

mod admin_sessions;
mod carts;
pub mod catalog_listener;
mod categories;
mod checkout;
mod events;
mod images;
mod jobs;
mod orders;
mod payments;
mod products;
mod promotions;
pub mod replica;
mod shipping_options;
mod tax_rates;
mod users;
mod webhooks;

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use application::ports::PoolUsage;
use domain::{FieldError, KeyPart, Page, PageRequest, RepositoryError, SortKeys};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{PgPool, SqlitePool};
use uuid::Uuid;

pub use admin_sessions::SqlAdminSessions;
pub use carts::SqlCarts;
pub use categories::SqlCategories;
pub use checkout::SqlCheckoutCatalog;
pub use events::SqlEvents;
pub use images::SqlImages;
pub use jobs::{SqlJobSchedule, SqlSweep};
pub use orders::SqlOrders;
pub use payments::SqlPayments;
pub use products::SqlProducts;
pub use promotions::SqlPromotions;
pub use replica::ReadReplica;
pub use shipping_options::SqlShippingOptions;
pub use tax_rates::SqlTaxRates;
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

/// Answers with `$body`, where `$db` is the standby of `$repo.replica` when this request may
/// read from it and it is usable now, else `$repo.db` (the primary). A read that fails on the
/// standby for connection trouble is made again on the primary, so a standby that goes away
/// costs a request nothing but time. With `else`, the primary's read is `$primary` (which may
/// move what `$body` only borrows). Returns from the enclosing function.
macro_rules! on_replica {
    ($repo:expr, $db:ident => $body:expr) => {
        $crate::db::on_replica!($repo, $db => $body, else $body)
    };
    ($repo:expr, $db:ident => $body:expr, else $primary:expr) => {{
        let replica = $repo.replica.as_ref();
        if let Some($db) = &replica.and_then(|r| r.for_this_request()) {
            match $body {
                Err(domain::RepositoryError::Unavailable(_)) => {
                    if let Some(r) = replica {
                        r.failed();
                    }
                }
                answered => return answered,
            }
        }
        let $db = &$repo.db;
        $primary
    }};
}
pub(crate) use on_replica;

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

/// Binds each `KeyPart` of `$parts` to `$q`, in order, as the type its column holds.
macro_rules! bind_keys {
    ($q:expr, $parts:expr) => {{
        let mut q = $q;
        for part in $parts {
            q = match part {
                domain::KeyPart::Int(n) => q.bind(*n),
                domain::KeyPart::Text(s) => q.bind(s.clone()),
                domain::KeyPart::Id(u) => q.bind(*u),
                domain::KeyPart::Time(t) => q.bind(*t),
            };
        }
        q
    }};
}

/// The order of a list: its columns, the tie-breaker last, each `(sql, descending)`.
pub(crate) type Order = &'static [(&'static str, bool)];

/// The kind letter of a key, to check that a cursor's keys fit a list's order.
fn kind_of(part: &KeyPart) -> char {
    match part {
        KeyPart::Int(_) => 'i',
        KeyPart::Text(_) => 't',
        KeyPart::Id(_) => 'u',
        KeyPart::Time(_) => 'd',
    }
}

/// The keyset condition "after `position` in `order`", its placeholders numbered from
/// `first`, and the keys to bind to them; `kinds` names the kind of each key (`kind_of`).
/// When every column runs the same way it is one row-value comparison, which an index on
/// those columns answers as a range; mixed directions need the expanded form
/// `a >= $1 AND (a > $1 OR (a = $1 AND b < $2))`, whose redundant first bound is what lets an
/// index in that order seek to the cursor (SQLite and PostgreSQL take no range from an `OR`).
///
/// # Errors
/// `Invalid` on `cursor` when the position does not fit the order (a cursor is bound to its
/// list and sort, so only one written by another build or backend gets here).
pub(crate) fn after_condition(
    order: &[(&str, bool)],
    kinds: &str,
    position: &SortKeys,
    first: usize,
) -> Result<(String, Vec<KeyPart>), RepositoryError> {
    let parts = position.parts();
    let fits = parts.len() == order.len() && parts.iter().map(kind_of).eq(kinds.chars());
    if !fits {
        return Err(RepositoryError::Invalid(FieldError::new(
            "cursor",
            "does not fit this list's order; start again without a cursor",
        )));
    }
    let p = |i: usize| format!("${}", first + i);
    let op = |desc: bool| if desc { "<" } else { ">" };
    let same_way = order.iter().all(|(_, d)| *d == order[0].1);
    let sql = if same_way {
        let cols: Vec<&str> = order.iter().map(|(c, _)| *c).collect();
        let params: Vec<String> = (0..order.len()).map(p).collect();
        format!(
            "({}) {} ({})",
            cols.join(", "),
            op(order[0].1),
            params.join(", ")
        )
    } else {
        let mut ors = Vec::new();
        for (i, (col, desc)) in order.iter().enumerate() {
            let mut ands: Vec<String> = order[..i]
                .iter()
                .enumerate()
                .map(|(j, (c, _))| format!("{c} = {}", p(j)))
                .collect();
            ands.push(format!("{col} {} {}", op(*desc), p(i)));
            ors.push(format!("({})", ands.join(" AND ")));
        }
        let (first_col, first_desc) = order[0];
        let bound = if first_desc { "<=" } else { ">=" };
        format!("({first_col} {bound} {} AND ({}))", p(0), ors.join(" OR "))
    };
    Ok((sql, parts.to_vec()))
}

/// `ORDER BY` text of `order`.
pub(crate) fn order_by(order: &[(&str, bool)]) -> String {
    order
        .iter()
        .map(|(c, desc)| format!("{c} {}", if *desc { "DESC" } else { "ASC" }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A page from rows fetched with `LIMIT per_page + 1`: the extra row, when there, only says
/// that more follow, and the page's last row's keys (`key_of`) become `next`.
pub(crate) fn keyset_page_of<R>(
    mut rows: Vec<R>,
    page: PageRequest,
    total: i64,
    key_of: impl Fn(&R) -> SortKeys,
) -> Page<R> {
    let per_page = usize::try_from(page.per_page()).unwrap_or(usize::MAX);
    let next = if rows.len() > per_page {
        rows.truncate(per_page);
        rows.last().map(key_of)
    } else {
        None
    };
    Page {
        items: rows,
        request: page,
        total: u64::try_from(total).unwrap_or(0),
        total_is_estimate: false,
        next,
    }
}

/// The page with each stored row read as its domain value.
pub(crate) fn read_rows<R, T: TryFrom<R, Error = RepositoryError>>(
    page: Page<R>,
) -> Result<Page<T>, RepositoryError> {
    let items = page
        .items
        .into_iter()
        .map(T::try_from)
        .collect::<Result<_, _>>()?;
    Ok(Page {
        items,
        request: page.request,
        total: page.total,
        total_is_estimate: page.total_is_estimate,
        next: page.next,
    })
}

/// A list newest first by id (UUID v7), which is also its cursor's only key: the primary key,
/// or an index that ends in the id, answers any page as a range. `id_of` reads a row's id.
pub(crate) async fn fetch_newest_by_id<R: StoredRow>(
    db: &Database,
    columns: &str,
    from: &str,
    filters: Vec<(&str, KeyPart)>,
    page: PageRequest,
    id_of: impl Fn(&R) -> Uuid,
) -> Result<Page<R>, RepositoryError> {
    fetch_list(
        db,
        columns,
        from,
        filters,
        &[("id", true)],
        "u",
        page,
        |r| SortKeys::new(vec![KeyPart::Id(id_of(r))]),
    )
    .await
}

/// A list's query: the rows of `from` (a table) that meet every `filters` condition (each
/// with one `$?` for its value), in `order` (the tie-breaker last), after the page's cursor or
/// else past its offset, and their count. Rows are fetched one past the page to tell whether
/// another follows; `key_of` reads a row's keys in `order`, of the kinds `kinds` names.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn fetch_list<R: StoredRow>(
    db: &Database,
    columns: &str,
    from: &str,
    filters: Vec<(&str, KeyPart)>,
    order: Order,
    kinds: &str,
    page: PageRequest,
    key_of: impl Fn(&R) -> SortKeys,
) -> Result<Page<R>, RepositoryError> {
    let mut conditions = Vec::new();
    let mut args = Vec::new();
    for (sql, value) in filters {
        args.push(value);
        conditions.push(sql.replace("$?", &format!("${}", args.len())));
    }
    let filter_args = args.len();
    let count_where = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let offset = match page.position() {
        Some(position) => {
            let (sql, keys) = after_condition(order, kinds, position, args.len() + 1)?;
            conditions.push(sql);
            args.extend(keys);
            0
        }
        None => i64::try_from(page.offset()).unwrap_or(i64::MAX),
    };
    let rows_where = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let rows_sql = format!(
        "SELECT {columns} FROM {from}{rows_where} ORDER BY {} LIMIT ${} OFFSET ${}",
        order_by(order),
        args.len() + 1,
        args.len() + 2
    );
    let count_sql = format!("SELECT COUNT(*) FROM {from}{count_where}");
    let limit = i64::from(page.per_page()) + 1;
    let (rows, total): (Vec<R>, i64) = on_db!(db, read, pool => {
        let rows = bind_keys!(sqlx::query_as(sqlx::AssertSqlSafe(rows_sql.clone())), &args)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool);
        let total = bind_keys!(sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.clone())), &args[..filter_args])
            .fetch_one(pool);
        tokio::try_join!(rows, total)
    })
    .map_err(map_err)?;
    Ok(keyset_page_of(rows, page, total, key_of))
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
    fn a_keyset_seeks_past_the_cursor_in_the_lists_own_order() {
        let id = KeyPart::Id(Uuid::nil());
        let at = SortKeys::new(vec![id.clone()]);
        let (sql, keys) = after_condition(&[("id", true)], "u", &at, 3).unwrap();
        assert_eq!((sql.as_str(), keys), ("(id) < ($3)", vec![id.clone()]));
        let (sql, _) = after_condition(
            &[("seq", false)],
            "i",
            &SortKeys::new(vec![KeyPart::Int(1)]),
            1,
        )
        .unwrap();
        assert_eq!(sql, "(seq) > ($1)");
        let two = SortKeys::new(vec![KeyPart::Int(500), KeyPart::Int(7)]);
        let (sql, keys) =
            after_condition(&[("created_at", true), ("id", true)], "ii", &two, 2).unwrap();
        assert_eq!(sql, "(created_at, id) < ($2, $3)");
        assert_eq!(keys, two.parts());
        let (sql, _) =
            after_condition(&[("price_minor", false), ("seq", true)], "ii", &two, 1).unwrap();
        assert_eq!(
            sql,
            "(price_minor >= $1 AND ((price_minor > $1) OR (price_minor = $1 AND seq < $2)))"
        );
        let (sql, _) =
            after_condition(&[("price_minor", true), ("seq", false)], "ii", &two, 1).unwrap();
        assert_eq!(
            sql,
            "(price_minor <= $1 AND ((price_minor < $1) OR (price_minor = $1 AND seq > $2)))"
        );
        // Keys that do not fit the order: too few, too many, of another kind.
        for (order, kinds) in [
            (&[("a", true), ("b", true), ("c", true)][..], "iii"),
            (&[("a", true)][..], "i"),
            (&[("a", true), ("b", true)][..], "iu"),
            (&[("a", true), ("b", true)][..], "i"),
        ] {
            assert!(matches!(
                after_condition(order, kinds, &two, 1),
                Err(RepositoryError::Invalid(e)) if e.field == "cursor"
            ));
        }
        assert_eq!(order_by(&[("a", true), ("b", false)]), "a DESC, b ASC");
    }

    #[test]
    fn a_page_read_one_row_past_its_end_says_where_the_next_starts() {
        let request = PageRequest::new(1, 2).unwrap();
        let key = |n: &i64| SortKeys::new(vec![KeyPart::Int(*n)]);
        let more = keyset_page_of(vec![1, 2, 3], request.clone(), 9, key);
        assert_eq!(more.items, [1, 2]);
        assert_eq!(more.next, Some(key(&2)));
        assert_eq!(more.total, 9);
        let last = keyset_page_of(vec![1, 2], request.clone(), 2, key);
        assert_eq!((last.items, last.next), (vec![1, 2], None));
        let empty = keyset_page_of(Vec::<i64>::new(), request, 0, key);
        assert_eq!(empty.next, None);
    }

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
