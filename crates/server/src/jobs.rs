//! The job runner: in `shop serve` (unless `SHOP_JOBS=false`) and as `shop worker`. Today it
//! delivers webhooks; each pass claims a batch (leased, so any number of instances share the
//! work on PostgreSQL), sends it outside any transaction and records the outcomes.

use std::time::Duration;

use application::delivery::DeliverWebhooks;
use tokio::sync::watch;

/// The jobs of one process.
pub(crate) struct Jobs {
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
        loop {
            if *stop.borrow() {
                break;
            }
            let busy = match self.deliver.run_once(stopped(stop.clone())).await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook delivery pass failed");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(self.poll_interval) => {}
                () = stopped(stop.clone()) => break,
            }
        }
        tracing::info!("job runner stopped");
    }
}
