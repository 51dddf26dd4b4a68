//! The job runner: in `shop serve` (unless `SHOP_JOBS=false`) and as `shop worker`. It
//! delivers webhooks (each pass claims a batch, leased, so any number of instances share the
//! work on PostgreSQL, sends it outside any transaction and records each outcome) and runs the
//! periodic jobs (the sweeps), each in one runner at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::time::{Duration, Instant};

use application::delivery::{AttemptOutcome, ClaimedDelivery, DeliverWebhooks, DeliveryQueue};
use application::jobs::{JobSchedule, PeriodicWork, RunPeriodicJobs};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{DeliveryId, RepositoryError};
use tokio::runtime::Handle;
use tokio::sync::watch;
use uuid::Uuid;

/// How often a runner looks for a due periodic job (each look is one short statement a job).
const PERIODIC_CHECK: Duration = Duration::from_secs(10);

/// The jobs of one process.
pub(crate) struct Jobs {
    /// The periodic jobs.
    pub(crate) periodic: RunPeriodicJobs,
    /// Webhook delivery.
    pub(crate) deliver: DeliverWebhooks,
    /// How long to wait when nothing was due.
    pub(crate) poll_interval: Duration,
    /// The requests this process is answering, and how many of them make the runner yield
    /// (`JOBS_YIELD_REQUESTS`: a tenth of a poll interval between passes while they last);
    /// `None` never yields (`shop worker`, or a threshold of 0).
    pub(crate) yield_to: Option<(Arc<RequestLoad>, usize)>,
}

/// How many requests the process is answering right now (counted by a middleware).
#[derive(Debug, Default)]
pub(crate) struct RequestLoad {
    in_flight: AtomicUsize,
}

impl RequestLoad {
    /// Counts a request until the answer is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, AtomicOrdering::Relaxed);
        InFlight(self.clone())
    }

    /// The requests in flight.
    pub(crate) fn current(&self) -> usize {
        self.in_flight.load(AtomicOrdering::Relaxed)
    }
}

/// One request in flight; counted off when dropped.
pub(crate) struct InFlight(Arc<RequestLoad>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, AtomicOrdering::Relaxed);
    }
}

/// Resolves once `stop` says so.
async fn stopped(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

impl Jobs {
    /// Whether the process answers at least the threshold's number of requests right now.
    fn requests_busy(&self) -> bool {
        self.yield_to
            .as_ref()
            .is_some_and(|(load, at)| load.current() >= *at)
    }

    /// Runs until `stop` turns true; a batch in flight then releases its claims.
    pub(crate) async fn run(self, stop: watch::Receiver<bool>) {
        tracing::info!("job runner started");
        let mut next_periodic = Instant::now();
        loop {
            if *stop.borrow() {
                break;
            }
            if Instant::now() >= next_periodic {
                if let Err(e) = self.periodic.run_once().await {
                    tracing::warn!(error = %e, "periodic jobs pass failed");
                }
                next_periodic = Instant::now() + PERIODIC_CHECK.min(self.poll_interval * 10);
            }
            let attempted = match self.deliver.run_once(stopped(stop.clone())).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook delivery pass failed");
                    0
                }
            };
            let wait = match attempted {
                0 => self.poll_interval,
                // Requests first: while the process answers many at once, one pass a tenth of
                // a poll interval at most (a floor of ten batches a poll interval, 200
                // deliveries a second by default, so a long busy spell cannot starve them);
                // the rest waits for a quieter moment.
                _ if self.requests_busy() => self.poll_interval / 10,
                // A full batch: more is likely due at once.
                n if n >= self.deliver.settings.batch_size as usize => continue,
                // The queue ran dry mid-batch: events are coming, but a few at a time. A short
                // wait lets the next pass take them as one batch (one claim and few records)
                // rather than a pass, with its writes, for every few events.
                _ => self.poll_interval / 10,
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stopped(stop.clone()) => break,
            }
        }
        tracing::info!("job runner stopped");
    }
}

/// How far the job runner's thread lowers its own scheduling priority (`JOBS_NICE`).
pub(crate) type Nice = i32;

/// Starts `jobs` on a thread of their own, with a runtime of its own, at `nice` (0..=19: how
/// far below the requests the thread runs; Linux gives each thread its own nice value). The
/// runner's database calls are not made there: its ports are wrapped in [`OnRuntime`], so each
/// statement runs on the requests' runtime at their priority, and a transaction is never held
/// by a thread the scheduler keeps waiting (on SQLite every write would wait behind it). What
/// the runner thread does itself is what can wait: sending, signing, reading the answers.
/// Under a load that keeps every core busy, deliveries then fall behind the requests (the
/// oldest-pending gauge shows by how much) and catch up when it eases.
///
/// Answers a receiver that resolves when the runner has stopped.
///
/// # Errors
/// When the thread cannot be started.
pub(crate) fn start(
    jobs: Jobs,
    stop: watch::Receiver<bool>,
    nice: Nice,
) -> std::io::Result<tokio::sync::oneshot::Receiver<()>> {
    let (done, stopped) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("shop-jobs".into())
        .spawn(move || {
            lower_priority(nice);
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(jobs.run(stop)),
                Err(e) => tracing::error!(error = %e, "the job runner's runtime cannot start"),
            }
            let _ = done.send(());
        })?;
    Ok(stopped)
}

/// Lowers the calling thread's scheduling priority by `nice` (no change at 0). Raising a nice
/// value needs no privilege; where the system refuses anyway, the runner runs at the requests'
/// priority and says so.
fn lower_priority(nice: Nice) {
    if nice == 0 {
        return;
    }
    let thread = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(thread), nice) {
        tracing::warn!(error = %e, nice, "the job runner's priority cannot be lowered");
    }
}

/// A port whose calls run on the runtime `handle` (the requests'), whichever runtime awaits
/// them; see [`start`].
pub(crate) struct OnRuntime<T: ?Sized> {
    inner: Arc<T>,
    handle: Handle,
}

impl<T: ?Sized + Send + Sync + 'static> OnRuntime<T> {
    /// `inner`, called on the current runtime from now on.
    pub(crate) fn here(inner: Arc<T>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            handle: Handle::current(),
        })
    }

    /// Runs `call` on the inner port, on the runtime, and waits for its answer.
    async fn call<R, F, Fut>(&self, call: F) -> Result<R, RepositoryError>
    where
        R: Send + 'static,
        F: FnOnce(Arc<T>) -> Fut,
        Fut: Future<Output = Result<R, RepositoryError>> + Send + 'static,
    {
        self.handle
            .spawn(call(self.inner.clone()))
            .await
            .map_err(|e| RepositoryError::Unavailable(Box::new(e)))?
    }
}

#[async_trait]
impl DeliveryQueue for OnRuntime<dyn DeliveryQueue> {
    async fn claim(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
        claim: Uuid,
    ) -> Result<Vec<ClaimedDelivery>, RepositoryError> {
        self.call(move |q| async move { q.claim(now, until, limit, claim).await })
            .await
    }

    async fn record_all(
        &self,
        outcomes: &[(&ClaimedDelivery, AttemptOutcome)],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, RepositoryError> {
        let owned: Vec<(ClaimedDelivery, AttemptOutcome)> = outcomes
            .iter()
            .map(|(d, o)| ((*d).clone(), o.clone()))
            .collect();
        self.call(move |q| async move {
            let outcomes: Vec<(&ClaimedDelivery, AttemptOutcome)> =
                owned.iter().map(|(d, o)| (d, o.clone())).collect();
            q.record_all(&outcomes, now).await
        })
        .await
    }

    async fn release(&self, claim: Uuid, deliveries: &[DeliveryId]) -> Result<(), RepositoryError> {
        let deliveries = deliveries.to_vec();
        self.call(move |q| async move { q.release(claim, &deliveries).await })
            .await
    }

    async fn oldest_pending(&self) -> Result<Option<DateTime<Utc>>, RepositoryError> {
        self.call(|q| async move { q.oldest_pending().await }).await
    }
}

#[async_trait]
impl JobSchedule for OnRuntime<dyn JobSchedule> {
    async fn claim(
        &self,
        name: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        claim: Uuid,
    ) -> Result<bool, RepositoryError> {
        let name = name.to_owned();
        self.call(move |s| async move { s.claim(&name, now, until, claim).await })
            .await
    }

    async fn finish(
        &self,
        name: &str,
        claim: Uuid,
        next: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let name = name.to_owned();
        self.call(move |s| async move { s.finish(&name, claim, next).await })
            .await
    }
}

#[async_trait]
impl PeriodicWork for OnRuntime<dyn PeriodicWork> {
    async fn run(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError> {
        self.call(move |w| async move { w.run(now).await }).await
    }
}
