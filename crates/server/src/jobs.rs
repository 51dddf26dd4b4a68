//! The job runner: in `shop serve` (unless `SHOP_JOBS=false`) and as `shop worker`. It
//! delivers webhooks (each pass claims a batch, leased, so any number of instances share the
//! work on PostgreSQL, sends it outside any transaction and records each outcome) and runs the
//! periodic jobs (the sweeps), each in one runner at a time.

use std::time::{Duration, Instant};

use application::delivery::DeliverWebhooks;
use application::jobs::RunPeriodicJobs;
use tokio::sync::watch;

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
