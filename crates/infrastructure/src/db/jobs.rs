//! The periodic jobs' schedule in SQL, and the sweeps it runs.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use domain::RepositoryError;
use uuid::Uuid;

use super::{Database, map_err, on_db};
use application::jobs::{JobSchedule, PeriodicWork};

/// The schedule of the periodic jobs (`job_schedule`), shared by every runner on the database.
pub struct SqlJobSchedule {
    db: Database,
}

impl SqlJobSchedule {
    /// The schedule in `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl JobSchedule for SqlJobSchedule {
    #[tracing::instrument(name = "db.jobs.claim", skip_all, fields(job = name))]
    async fn claim(
        &self,
        name: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        claim: Uuid,
    ) -> Result<bool, RepositoryError> {
        // One statement: a job not run before gets its row, taken at once; a known one is
        // taken if it is due and free. Of several runners at most one gets it.
        on_db!(&self.db, write, pool => {
            sqlx::query("INSERT INTO job_schedule (name, next_run_at, claimed_until, claim_token) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO UPDATE SET claimed_until = excluded.claimed_until, claim_token = excluded.claim_token \
                 WHERE job_schedule.next_run_at <= $2 \
                 AND (job_schedule.claimed_until IS NULL OR job_schedule.claimed_until < $2)")
                .bind(name)
                .bind(now)
                .bind(until)
                .bind(claim)
                .execute(pool)
                .await
                .map(|r| r.rows_affected() == 1)
        })
        .map_err(map_err)
    }

    #[tracing::instrument(name = "db.jobs.finish", skip_all, fields(job = name))]
    async fn finish(
        &self,
        name: &str,
        claim: Uuid,
        next: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        on_db!(&self.db, write, pool => {
            sqlx::query("UPDATE job_schedule SET next_run_at = $3, claimed_until = NULL, claim_token = NULL \
                 WHERE name = $1 AND claim_token = $2")
                .bind(name)
                .bind(claim)
                .bind(next)
                .execute(pool)
                .await
                .map(|r| r.rows_affected() == 1)
        })
        .map_err(map_err)
    }
}

/// A `DELETE` of rows that expired some time ago: the sweeps of spent idempotency keys and
/// refresh tokens.
pub struct SqlSweep {
    db: Database,
    /// Deletes the rows whose expiry is before `$1`.
    sql: &'static str,
    /// How long past their expiry rows are kept.
    grace: TimeDelta,
}

impl SqlSweep {
    /// Deletes idempotency keys once they expire (a replay after that is a new request).
    pub fn idempotency_keys(db: Database) -> Self {
        Self {
            db,
            sql: "DELETE FROM idempotency_keys WHERE expires_at <= $1",
            grace: TimeDelta::zero(),
        }
    }

    /// Deletes refresh tokens a day after they expire (the built-in identity provider's; the
    /// table is empty with Keycloak). The day keeps the row that tells a late refresh "expired"
    /// from "unknown" in the log.
    pub fn refresh_tokens(db: Database) -> Self {
        Self {
            db,
            sql: "DELETE FROM identity_refresh_tokens WHERE expires_at < $1",
            grace: TimeDelta::days(1),
        }
    }
}

#[async_trait]
impl PeriodicWork for SqlSweep {
    #[tracing::instrument(name = "db.sweep", skip_all)]
    async fn run(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError> {
        on_db!(&self.db, write, pool => {
            sqlx::query(self.sql)
                .bind(now - self.grace)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(map_err)
    }
}
