//! Periodic jobs: work the job runner does every so often (the sweeps of spent idempotency
//! keys and refresh tokens, cart expiry, and payment timeouts). Each job is one
//! row of a shared schedule: a runner that finds it due takes it under a lease, so with any
//! number of runners on one database a job runs in one of them at a time, and a runner that
//! dies holding it holds it only until the lease ends.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use domain::RepositoryError;
use futures_util::future::Either;
use uuid::Uuid;

use crate::ports::Clock;

/// One periodic job's work.
#[async_trait]
pub trait PeriodicWork: Send + Sync {
    /// Does it once, as of `now`; answers how many rows it touched (for the log).
    async fn run(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError>;
}

/// The periodic jobs' shared schedule.
#[async_trait]
pub trait JobSchedule: Send + Sync {
    /// Takes the job `name` under the claim `claim` until `until` when it is due at `now` (a
    /// job not run before is due) and no other claim holds it; answers whether it was taken.
    async fn claim(
        &self,
        name: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        claim: Uuid,
    ) -> Result<bool, RepositoryError>;

    /// Ends `claim`'s hold of `name` and makes it due next at `next`; `false` (nothing changed)
    /// when `claim` no longer holds it.
    async fn finish(
        &self,
        name: &str,
        claim: Uuid,
        next: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;
}

/// A job of the schedule.
pub struct PeriodicJob {
    /// Its row in the schedule, and its name in the log.
    pub name: &'static str,
    /// How long from the end of one run to the next.
    pub every: Duration,
    /// What it does.
    pub work: Arc<dyn PeriodicWork>,
}

/// A timer: a future that ends after the given time (the runtime's sleep).
pub type Timer = Arc<
    dyn Fn(Duration) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

/// Runs the periodic jobs that are due.
pub struct RunPeriodicJobs {
    /// The shared schedule.
    pub schedule: Arc<dyn JobSchedule>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Ends a run that outlasts its lease.
    pub timer: Timer,
    /// The jobs.
    pub jobs: Vec<PeriodicJob>,
    /// How long a claim holds; a run that takes longer is cut off, so that no two runs of a job
    /// overlap.
    pub lease: Duration,
}

impl RunPeriodicJobs {
    /// Runs, one after another, each job that is due and that no other runner holds; answers
    /// how many ran. A job whose work fails is due again after its interval, like one that
    /// succeeded: the sweeps lose nothing by waiting.
    ///
    /// # Errors
    /// When the schedule's database does not answer.
    pub async fn run_once(&self) -> Result<usize, RepositoryError> {
        let lease = TimeDelta::from_std(self.lease).unwrap_or(TimeDelta::minutes(5));
        let mut ran = 0;
        for job in &self.jobs {
            let now = self.clock.now();
            let claim = Uuid::now_v7();
            if !self
                .schedule
                .claim(job.name, now, now + lease, claim)
                .await?
            {
                continue;
            }
            ran += 1;
            let work = job.work.run(now);
            match futures_util::future::select(work, (self.timer)(self.lease)).await {
                Either::Left((Ok(rows), _)) => {
                    tracing::info!(job = job.name, rows, "periodic job ran")
                }
                Either::Left((Err(e), _)) => {
                    tracing::warn!(job = job.name, error = %e, "periodic job failed");
                }
                Either::Right(((), _)) => {
                    tracing::warn!(job = job.name, "periodic job ran out of its lease");
                }
            }
            let every = TimeDelta::from_std(job.every).unwrap_or(TimeDelta::hours(1));
            if !self
                .schedule
                .finish(job.name, claim, self.clock.now() + every)
                .await?
            {
                tracing::warn!(job = job.name, "periodic job's lease was taken over");
            }
        }
        Ok(ran)
    }
}
