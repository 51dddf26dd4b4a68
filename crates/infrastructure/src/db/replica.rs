//! A PostgreSQL hot standby for the catalog's reads (`DATABASE_READ_URL`).
//!
//! Which reads it serves: the catalog read model's (product lists, a product, categories) in
//! a request that [`reads_may_lag`] runs, which the server does for visitors' `GET`s (no
//! bearer token). Everything else, writes and every read of a request that writes, and every
//! read of a signed-in caller (so an admin reads back at once what they have just changed),
//! goes to the primary.
//!
//! When it serves them: [`ReadReplica::watch`] asks both servers every [`TICK`] how far the
//! primary's write-ahead log is and how far the standby has replayed it. The standby is used
//! while it answers, lags at most the configured bound, and has replayed past every catalog
//! write this instance has heard of ([`ReadReplica::catalog_changed`]: what the catalog cache
//! keeps is then never filled from an older state than the one it dropped). Otherwise reads go
//! to the primary, and come back to the standby by themselves when it recovers. A read that
//! fails on the standby for connection trouble is made again on the primary at once.

use std::collections::VecDeque;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use application::ports::PoolUsage;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::{Database, DatabaseUrl};

/// How often the standby's position is checked.
pub const TICK: Duration = Duration::from_millis(200);

/// How long a request waits for a standby connection, and a check for an answer, before the
/// standby counts as down.
const PATIENCE: Duration = Duration::from_millis(500);

tokio::task_local! {
    static MAY_LAG: ();
}

/// Runs `request` as one whose catalog reads may come from the standby.
pub async fn reads_may_lag<F: Future>(request: F) -> F::Output {
    MAY_LAG.scope((), request).await
}

fn this_request_may_lag() -> bool {
    MAY_LAG.try_with(|()| ()).is_ok()
}

/// How the standby stands, for `/health/ready` and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// Serving reads.
    Up,
    /// Answering, but behind: its reads go to the primary.
    Lagging,
    /// Not answering: its reads go to the primary.
    Down,
}

impl ReplicaState {
    /// The word `/health/ready` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicaState::Up => "up",
            ReplicaState::Lagging => "lagging",
            ReplicaState::Down => "down",
        }
    }
}

/// The standby and what this instance knows of it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ReadReplica {
    pool: PgPool,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    max_lag: Duration,
    /// Whether reads may go to the standby now.
    usable: AtomicBool,
    /// Whether it answered its last check.
    up: AtomicBool,
    /// Its lag at the last check, in milliseconds.
    lag_ms: AtomicU64,
    /// A catalog write was heard since the last check.
    changed: AtomicBool,
    /// The primary's position after the last catalog write heard: the standby serves reads
    /// again once it has replayed this far.
    wanted: AtomicU64,
}

impl ReadReplica {
    /// A pool to the standby at `url`, connected on first use: a standby down at start-up
    /// does not stop the service, its reads go to the primary until it answers.
    ///
    /// # Errors
    /// When the URL is malformed.
    pub fn new(url: &DatabaseUrl, max_connections: u32, max_lag: Duration) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url.expose())?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(PATIENCE)
            .test_before_acquire(false)
            .connect_lazy_with(options);
        Ok(Self {
            pool,
            shared: Arc::new(Shared {
                max_lag,
                usable: AtomicBool::new(false),
                up: AtomicBool::new(false),
                lag_ms: AtomicU64::new(0),
                changed: AtomicBool::new(false),
                wanted: AtomicU64::new(0),
            }),
        })
    }

    /// The standby, when this request may read from it and it is usable now.
    pub(crate) fn for_this_request(&self) -> Option<Database> {
        (this_request_may_lag() && self.shared.usable.load(Ordering::Acquire))
            .then(|| Database::Postgres(self.pool.clone()))
    }

    /// A read on the standby failed for connection trouble: its reads go to the primary
    /// until a check finds it answering again.
    pub(crate) fn failed(&self) {
        self.shared.usable.store(false, Ordering::Release);
        if self.shared.up.swap(false, Ordering::AcqRel) {
            tracing::warn!("the read replica stopped answering; its reads go to the primary");
        }
    }

    /// A catalog write committed somewhere: the standby serves no more catalog reads until it
    /// has replayed it.
    pub fn catalog_changed(&self) {
        self.shared.changed.store(true, Ordering::Release);
        self.shared.usable.store(false, Ordering::Release);
    }

    /// How it stands now.
    pub fn state(&self) -> ReplicaState {
        if !self.shared.up.load(Ordering::Acquire) {
            ReplicaState::Down
        } else if self.lag() > self.shared.max_lag {
            ReplicaState::Lagging
        } else {
            ReplicaState::Up
        }
    }

    /// Its lag behind the primary at the last check.
    pub fn lag(&self) -> Duration {
        Duration::from_millis(self.shared.lag_ms.load(Ordering::Acquire))
    }

    /// Its pool, as `/metrics` reports pools (`replica`).
    pub fn pool_usage(&self) -> PoolUsage {
        let size = u64::from(self.pool.size());
        let idle = (self.pool.num_idle() as u64).min(size);
        PoolUsage {
            pool: "replica",
            in_use: size - idle,
            idle,
            max: u64::from(self.pool.options().get_max_connections()),
        }
    }

    /// Checks the standby against `primary` every [`TICK`], for as long as the future is
    /// polled.
    pub async fn watch(&self, primary: &Database) {
        let Database::Postgres(primary) = primary else {
            return;
        };
        let mut history = History::default();
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            // Taken before the primary's position is read, so that position is past the write.
            let changed = self.shared.changed.swap(false, Ordering::AcqRel);
            let Some(at) = position(primary, "SELECT pg_current_wal_lsn()::text").await else {
                // The primary does not answer: nothing to compare with; requests fail on it anyway.
                if changed {
                    self.shared.changed.store(true, Ordering::Release);
                }
                continue;
            };
            if changed {
                self.shared.wanted.fetch_max(at, Ordering::AcqRel);
            }
            let now = Instant::now();
            history.note(now, at, self.shared.max_lag);
            let replayed = position(
                &self.pool,
                "SELECT COALESCE(pg_last_wal_replay_lsn(), pg_current_wal_lsn())::text",
            )
            .await;
            self.settle(replayed.map(|r| (history.lag(now, r), r)));
        }
    }

    /// Records a check's finding: the standby's lag and replayed position, or `None` when it
    /// did not answer.
    fn settle(&self, found: Option<(Duration, u64)>) {
        let s = &self.shared;
        let was_up = s.up.swap(found.is_some(), Ordering::AcqRel);
        let Some((lag, replayed)) = found else {
            s.usable.store(false, Ordering::Release);
            if was_up {
                tracing::warn!("the read replica stopped answering; its reads go to the primary");
            }
            return;
        };
        if !was_up {
            tracing::info!("the read replica answers");
        }
        s.lag_ms.store(
            u64::try_from(lag.as_millis()).unwrap_or(u64::MAX),
            Ordering::Release,
        );
        let caught_up = replayed >= s.wanted.load(Ordering::Acquire);
        let usable = lag <= s.max_lag && caught_up && !s.changed.load(Ordering::Acquire);
        let was_usable = s.usable.swap(usable, Ordering::AcqRel);
        if was_usable && !usable && lag > s.max_lag {
            tracing::warn!(
                lag_ms = lag.as_millis(),
                "the read replica lags too far; its reads go to the primary"
            );
        }
    }
}

/// A server's write-ahead log position as `sql` reads it, or `None` when it does not answer
/// within [`PATIENCE`].
async fn position(pool: &PgPool, sql: &'static str) -> Option<u64> {
    let text: String = tokio::time::timeout(PATIENCE, sqlx::query_scalar(sql).fetch_one(pool))
        .await
        .ok()?
        .ok()?;
    parse_lsn(&text)
}

/// A log sequence number as PostgreSQL writes it (`16/B374D848`), as one number.
fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    let high = u64::from_str_radix(high, 16).ok()?;
    let low = u64::from_str_radix(low, 16).ok()?;
    (high <= u64::from(u32::MAX) && low <= u64::from(u32::MAX)).then_some(high << 32 | low)
}

/// The primary's recent positions and when each was seen: the standby's lag is how long ago
/// the primary was last at a position the standby has replayed.
#[derive(Debug, Default)]
struct History {
    seen: VecDeque<(Instant, u64)>,
}

impl History {
    /// Notes the primary at `at` now; forgets what is older than `keep` and no longer needed.
    fn note(&mut self, now: Instant, at: u64, keep: Duration) {
        self.seen.push_back((now, at));
        while self.seen.len() > 1
            && self
                .seen
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) > keep * 2 + TICK)
        {
            self.seen.pop_front();
        }
    }

    /// The lag of a standby that has replayed up to `replayed`, now.
    fn lag(&self, now: Instant, replayed: u64) -> Duration {
        let Some(&(_, newest)) = self.seen.back() else {
            return Duration::ZERO;
        };
        if replayed >= newest {
            return Duration::ZERO;
        }
        // The newest time the primary was at a position the standby has reached; when it
        // has reached none of those kept, at least as old as the oldest.
        let since = self
            .seen
            .iter()
            .rev()
            .find(|(_, at)| *at <= replayed)
            .or_else(|| self.seen.front())
            .map_or(now, |(t, _)| *t);
        now.duration_since(since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_read_as_postgres_writes_them() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(parse_lsn("1/0"), Some(1 << 32));
        assert!(parse_lsn("1/0") > parse_lsn("0/FFFFFFFF"));
        for bad in ["", "16", "16/", "/1", "x/1", "1/100000000", "100000000/0"] {
            assert_eq!(parse_lsn(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_lag_is_how_long_ago_the_primary_was_where_the_standby_is() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let keep = Duration::from_secs(5);
        let mut h = History::default();
        assert_eq!(h.lag(t0, 0), Duration::ZERO, "nothing seen yet");
        h.note(at(0), 100, keep);
        h.note(at(200), 100, keep);
        h.note(at(400), 300, keep);
        h.note(at(600), 500, keep);
        // Caught up with the newest: no lag, however old the other samples.
        assert_eq!(h.lag(at(600), 500), Duration::ZERO);
        assert_eq!(h.lag(at(600), 900), Duration::ZERO);
        // At 300: the primary was there at 400 ms, 200 ms ago.
        assert_eq!(h.lag(at(600), 300), Duration::from_millis(200));
        // Between two positions: the older one counts.
        assert_eq!(h.lag(at(600), 299), Duration::from_millis(400));
        // Behind everything kept: at least as old as the oldest.
        assert_eq!(h.lag(at(600), 99), Duration::from_millis(600));
    }

    #[test]
    fn old_positions_are_forgotten_but_the_newest_is_kept() {
        let t0 = Instant::now();
        let keep = Duration::from_secs(1);
        let mut h = History::default();
        h.note(t0, 1, keep);
        h.note(t0 + Duration::from_millis(100), 2, keep);
        h.note(t0 + Duration::from_secs(10), 3, keep);
        assert_eq!(h.seen.len(), 1);
        assert_eq!(h.seen.front().map(|s| s.1), Some(3));
    }

    fn replica(max_lag_ms: u64) -> ReadReplica {
        let url = DatabaseUrl::parse("postgres://shop@127.0.0.1:1/shop").unwrap();
        ReadReplica::new(&url, 1, Duration::from_millis(max_lag_ms)).unwrap()
    }

    #[tokio::test]
    async fn reads_go_to_the_standby_only_in_a_request_that_may_lag_while_it_is_usable() {
        let r = replica(1000);
        assert_eq!(r.state(), ReplicaState::Down, "not checked yet");
        assert!(
            reads_may_lag(async { r.for_this_request() })
                .await
                .is_none()
        );
        r.settle(Some((Duration::from_millis(100), 7)));
        assert_eq!(r.state(), ReplicaState::Up);
        assert!(
            reads_may_lag(async { r.for_this_request() })
                .await
                .is_some()
        );
        assert!(r.for_this_request().is_none(), "outside reads_may_lag");
        // Too far behind.
        r.settle(Some((Duration::from_millis(1001), 7)));
        assert_eq!(r.state(), ReplicaState::Lagging);
        assert_eq!(r.lag(), Duration::from_millis(1001));
        assert!(
            reads_may_lag(async { r.for_this_request() })
                .await
                .is_none()
        );
        // Exactly at the bound is still usable.
        r.settle(Some((Duration::from_millis(1000), 7)));
        assert!(
            reads_may_lag(async { r.for_this_request() })
                .await
                .is_some()
        );
        // Not answering.
        r.settle(None);
        assert_eq!(r.state(), ReplicaState::Down);
        assert!(
            reads_may_lag(async { r.for_this_request() })
                .await
                .is_none()
        );
        r.settle(Some((Duration::ZERO, 7)));
        r.failed();
        assert_eq!(r.state(), ReplicaState::Down);
        assert!(
            reads_may_lag(async { r.for_this_request() })
                .await
                .is_none()
        );
    }

    #[tokio::test]
    async fn after_a_catalog_write_the_standby_waits_until_it_has_replayed_it() {
        let r = replica(1000);
        r.settle(Some((Duration::ZERO, 10)));
        r.catalog_changed();
        assert!(
            reads_may_lag(async { r.for_this_request() })
                .await
                .is_none()
        );
        // A check that has not yet read the primary's position after the write.
        r.settle(Some((Duration::ZERO, 10)));
        assert!(
            reads_may_lag(async { r.for_this_request() })
                .await
                .is_none()
        );
        // The check that read it: the primary is at 20.
        r.shared.changed.store(false, Ordering::Release);
        r.shared.wanted.fetch_max(20, Ordering::AcqRel);
        r.settle(Some((Duration::ZERO, 19)));
        assert!(
            reads_may_lag(async { r.for_this_request() })
                .await
                .is_none()
        );
        r.settle(Some((Duration::ZERO, 20)));
        assert!(
            reads_may_lag(async { r.for_this_request() })
                .await
                .is_some()
        );
    }

    #[test]
    fn states_are_named() {
        assert_eq!(ReplicaState::Up.as_str(), "up");
        assert_eq!(ReplicaState::Lagging.as_str(), "lagging");
        assert_eq!(ReplicaState::Down.as_str(), "down");
    }
}
