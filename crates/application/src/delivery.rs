//! Webhook delivery, the job runner's main work: claim due deliveries, check the receiver's
//! address again, send each signed per Standard Webhooks (outside any transaction), and record
//! the outcome with the next attempt's time.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use domain::webhook::{DeliveryStatus, WebhookSecret, retry_delay};
use domain::{DeliveryId, Event, RepositoryError, WebhookEndpointId};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::ports::{Clock, HostResolver};
use crate::webhooks::{CheckedUrl, UrlPolicy, check_url};

/// A delivery the runner holds (its lease runs until `claimed_until`), with what sending needs.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    /// The delivery.
    pub id: DeliveryId,
    /// Its endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// Where it goes.
    pub url: String,
    /// What it is signed with.
    pub secret: WebhookSecret,
    /// The event.
    pub event: Event,
    /// Attempts made before this one.
    pub attempts: u32,
    /// The claim that holds it: its outcome is recorded only while this claim still holds it.
    pub claim: Uuid,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// The delivery's status after it.
    pub status: DeliveryStatus,
    /// The receiver's status code, if it answered.
    pub status_code: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// When it is tried next (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Whether the receiver said it is gone for good (410): its endpoint is turned off.
    pub disable_endpoint: bool,
}

/// The deliveries' queue, as the runner sees it.
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// Leases up to `limit` due pending deliveries of enabled endpoints until `until` (also
    /// those whose earlier lease expired) under the claim `claim`, so that no other runner
    /// takes them meanwhile. A disabled endpoint's deliveries wait, as they are, until it is
    /// enabled again.
    async fn claim(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
        claim: Uuid,
    ) -> Result<Vec<ClaimedDelivery>, RepositoryError>;

    /// Records the outcomes of attempts (those that came together, in one transaction), each
    /// ending its delivery's lease; answers, in order, which were recorded: `false` (nothing
    /// recorded) when the delivery's claim is no longer `delivery.claim` (its lease ran out and
    /// another runner took it over: that runner's outcome stands).
    async fn record_all(
        &self,
        outcomes: &[(&ClaimedDelivery, AttemptOutcome)],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, RepositoryError>;

    /// Ends the leases `claim` still holds of deliveries not attempted (at shutdown), so
    /// another runner may take them at once.
    async fn release(&self, claim: Uuid, deliveries: &[DeliveryId]) -> Result<(), RepositoryError>;

    /// When the oldest pending delivery was made, if any is pending.
    async fn oldest_pending(&self) -> Result<Option<DateTime<Utc>>, RepositoryError>;
}

/// A signed webhook request, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// `webhook-id`: the event's id, the same on every attempt (receivers dedupe on it).
    pub id: String,
    /// `webhook-timestamp`: Unix seconds of this attempt.
    pub timestamp: i64,
    /// `webhook-signature`.
    pub signature: String,
    /// The JSON body.
    pub body: String,
}

/// How a receiver answered, or why it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    /// It answered with this status code.
    Answered(u16),
    /// It did not answer in time, or could not be reached; the message says which.
    Failed(String),
}

/// Sends webhook requests over HTTP.
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs `request` to `url`, connecting only to `addresses` (as checked), within `timeout`.
    async fn send(
        &self,
        url: &url::Url,
        addresses: &[std::net::IpAddr],
        request: &SignedRequest,
        timeout: Duration,
    ) -> SendResult;
}

/// The body of a delivery: `{id, type, created_at, data}`.
pub fn payload(event: &Event) -> String {
    // `data` is JSON text written by this service; the rest are plain strings with no
    // characters JSON escapes.
    format!(
        r#"{{"id":"{}","type":"{}","created_at":"{}","data":{}}}"#,
        event.id,
        event.event_type.as_str(),
        event
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        event.data
    )
}

/// `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under the secret's key (the part
/// after `whsec_`, base64-decoded), as Standard Webhooks signs; `None` for a secret that is not
/// of that form.
pub fn signature(secret: &WebhookSecret, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = STANDARD
        .decode(secret.expose().strip_prefix("whsec_")?)
        .ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// Settings of delivery.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Delays after each failed attempt; past the last, the delivery has failed.
    pub retry_delays: Vec<Duration>,
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// How long a claim holds (longer than `timeout`).
    pub lease: Duration,
    /// Most deliveries claimed at once.
    pub batch_size: u32,
    /// How long, after an attempt of a batch ends, the runner waits for others of the batch to
    /// end before it records what ended: outcomes that come within it are one write. A crash
    /// resends at most this much of answered attempts (receivers dedupe on `webhook-id`).
    pub record_window: Duration,
    /// Which receiver URLs are accepted.
    pub policy: UrlPolicy,
}

/// What the runner tells the metrics.
pub trait DeliveryMetrics: Send + Sync {
    /// An attempt ended with `status` (`succeeded`, `retrying` or `failed`) after `latency`.
    fn attempt(&self, outcome: &'static str, latency: Duration);
    /// The oldest pending delivery is this old now (`None`: none is pending).
    fn oldest_pending(&self, age: Option<Duration>);
}

/// Delivers due webhooks: one batch per call.
pub struct DeliverWebhooks {
    /// The queue.
    pub queue: Arc<dyn DeliveryQueue>,
    /// HTTP.
    pub sender: Arc<dyn WebhookSender>,
    /// Names to addresses, checked again before each attempt.
    pub resolver: Arc<dyn HostResolver>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Random numbers in `0.0..1.0` for the jitter.
    pub jitter: Arc<dyn Fn() -> f64 + Send + Sync>,
    /// Counts attempts.
    pub metrics: Arc<dyn DeliveryMetrics>,
    /// Ends a record window.
    pub timer: crate::jobs::Timer,
    /// Settings.
    pub settings: DeliverySettings,
}

/// The outcome of an attempt that got `result`, after `attempts` earlier ones.
pub fn outcome_of(
    result: &SendResult,
    attempts: u32,
    schedule: &[Duration],
    jitter: f64,
    now: DateTime<Utc>,
) -> AttemptOutcome {
    let (status_code, error) = match result {
        SendResult::Answered(code) if (200..300).contains(code) => {
            return AttemptOutcome {
                status: DeliveryStatus::Succeeded,
                status_code: Some(*code),
                error: None,
                next_attempt_at: None,
                disable_endpoint: false,
            };
        }
        SendResult::Answered(code) => (Some(*code), format!("the receiver answered {code}")),
        SendResult::Failed(message) => (None, message.clone()),
    };
    let gone = status_code == Some(410);
    let next = if gone {
        None
    } else {
        retry_delay(schedule, attempts + 1, jitter)
            .and_then(|d| chrono::TimeDelta::from_std(d).ok())
            .map(|d| now + d)
    };
    AttemptOutcome {
        status: if next.is_some() {
            DeliveryStatus::Pending
        } else {
            DeliveryStatus::Failed
        },
        status_code,
        error: Some(error),
        next_attempt_at: next,
        disable_endpoint: gone,
    }
}

impl DeliverWebhooks {
    /// One attempt of `d`: the address checked, the request signed and sent.
    async fn attempt(&self, d: &ClaimedDelivery) -> SendResult {
        let CheckedUrl { url, addresses } =
            match check_url("url", &d.url, self.settings.policy, &*self.resolver).await {
                Ok(checked) => checked,
                Err(e) => return SendResult::Failed(format!("refused: the URL {}", e.message)),
            };
        // The request goes only to the addresses just checked: resolving the name again here
        // could answer otherwise (a DNS change between the two lookups) and send it inward.
        let addresses = match (addresses.is_empty(), url.host()) {
            (false, _) => addresses,
            // Private networks are allowed, so the name was not resolved by the check.
            (true, Some(url::Host::Domain(name))) => {
                let port = url.port_or_known_default().unwrap_or(443);
                match self.resolver.resolve(name, port).await {
                    Ok(a) => a,
                    Err(e) => return SendResult::Failed(format!("the host does not resolve: {e}")),
                }
            }
            (true, _) => return SendResult::Failed("the URL names no host".into()),
        };
        let body = payload(&d.event);
        let id = d.event.id.to_string();
        let timestamp = self.clock.now().timestamp();
        let Some(signature) = signature(&d.secret, &id, timestamp, &body) else {
            return SendResult::Failed("the endpoint's secret cannot sign".into());
        };
        let request = SignedRequest {
            id,
            timestamp,
            signature,
            body,
        };
        self.sender
            .send(&url, &addresses, &request, self.settings.timeout)
            .await
    }

    /// Claims a batch and delivers it, recording the outcomes of attempts that end within
    /// `record_window` of each other in one write (so a crash resends only what was in flight
    /// or answered within the window); answers how many were attempted. Stops early when
    /// `stop` resolves: what was answered is recorded, what was not is released.
    ///
    /// # Errors
    /// When the queue's database does not answer.
    pub async fn run_once(
        &self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<usize, RepositoryError> {
        use futures_util::future::{Either, select};
        use futures_util::{FutureExt as _, StreamExt as _};

        let now = self.clock.now();
        let oldest = self.queue.oldest_pending().await?;
        self.metrics
            .oldest_pending(oldest.map(|t| (now - t).to_std().unwrap_or_default()));
        let lease = chrono::TimeDelta::from_std(self.settings.lease)
            .unwrap_or(chrono::TimeDelta::seconds(60));
        let claim = Uuid::now_v7();
        let claimed = self
            .queue
            .claim(now, now + lease, self.settings.batch_size, claim)
            .await?;
        let mut in_flight: futures_util::stream::FuturesUnordered<_> = claimed
            .iter()
            .map(|d| async move {
                let started = std::time::Instant::now();
                let result = self.attempt(d).await;
                (d, result, started.elapsed())
            })
            .collect();
        let mut unanswered: Vec<DeliveryId> = claimed.iter().map(|d| d.id).collect();
        let mut stop = std::pin::pin!(stop);
        let mut attempted = 0;
        loop {
            let first = match select(in_flight.next(), stop.as_mut()).await {
                Either::Left((Some(done), _)) => done,
                Either::Left((None, _)) => return Ok(attempted),
                Either::Right(((), _)) => {
                    self.queue.release(claim, &unanswered).await?;
                    return Ok(attempted);
                }
            };
            // With it, every other attempt that ends within the window.
            let mut done = vec![first];
            let mut stopped = false;
            if !in_flight.is_empty() {
                let mut window = (self.timer)(self.settings.record_window);
                loop {
                    match select(in_flight.next(), select(window.as_mut(), stop.as_mut())).await {
                        Either::Left((Some(more), _)) => done.push(more),
                        Either::Left((None, _)) | Either::Right((Either::Left(_), _)) => break,
                        Either::Right((Either::Right(_), _)) => {
                            stopped = true;
                            break;
                        }
                    }
                }
            }
            while let Some(Some(more)) = in_flight.next().now_or_never() {
                done.push(more);
            }
            let now = self.clock.now();
            let outcomes: Vec<(&ClaimedDelivery, AttemptOutcome)> = done
                .into_iter()
                .map(|(d, result, latency)| (d, self.outcome(d, &result, latency, now)))
                .collect();
            unanswered.retain(|id| outcomes.iter().all(|(d, _)| d.id != *id));
            attempted += outcomes.len();
            let recorded = self.queue.record_all(&outcomes, now).await?;
            for ((d, _), recorded) in outcomes.iter().zip(recorded) {
                if !recorded {
                    tracing::warn!(delivery_id = %d.id, "webhook delivery outcome not recorded: its lease ran out and another runner took it over");
                }
            }
            if stopped {
                self.queue.release(claim, &unanswered).await?;
                return Ok(attempted);
            }
        }
    }

    /// What the attempt of `d` came to, counted.
    fn outcome(
        &self,
        d: &ClaimedDelivery,
        result: &SendResult,
        latency: Duration,
        now: DateTime<Utc>,
    ) -> AttemptOutcome {
        let outcome = outcome_of(
            result,
            d.attempts,
            &self.settings.retry_delays,
            (self.jitter)(),
            now,
        );
        let label = match outcome.status {
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Pending => "retrying",
            DeliveryStatus::Failed => "failed",
        };
        self.metrics.attempt(label, latency);
        if outcome.status != DeliveryStatus::Succeeded {
            tracing::info!(delivery_id = %d.id, endpoint_id = %d.endpoint_id, attempts = d.attempts + 1, error = outcome.error.as_deref().unwrap_or(""), "webhook delivery attempt failed");
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{EventId, EventType};

    fn secret() -> WebhookSecret {
        // The key of Standard Webhooks' own example.
        WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into())
    }

    #[test]
    fn signatures_are_those_of_the_standard_webhooks_example() {
        // The example of the Standard Webhooks (Svix) documentation: this id, timestamp, body
        // and secret sign to exactly this.
        assert_eq!(
            signature(
                &secret(),
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                r#"{"test": 2432232314}"#
            )
            .as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn a_secret_not_of_the_whsec_form_cannot_sign() {
        assert_eq!(
            signature(&WebhookSecret::new("abc".into()), "i", 1, "{}"),
            None
        );
        assert_eq!(
            signature(
                &WebhookSecret::new("whsec_not base64!".into()),
                "i",
                1,
                "{}"
            ),
            None
        );
    }

    #[test]
    fn the_payload_holds_id_type_time_and_data() {
        let id = EventId::from_uuid(
            uuid::Uuid::parse_str("0192f0c5-1d2e-7f30-8a41-5b6c7d8e9f02").unwrap(),
        );
        let event = Event {
            id,
            event_type: EventType::OrderPlaced,
            data: r#"{"id":"x"}"#.into(),
            created_at: DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap(),
        };
        assert_eq!(
            payload(&event),
            r#"{"id":"0192f0c5-1d2e-7f30-8a41-5b6c7d8e9f02","type":"order.placed","created_at":"2023-11-14T22:13:20.123456Z","data":{"id":"x"}}"#
        );
    }

    #[test]
    fn outcomes_follow_the_answer_and_the_schedule() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let schedule = [Duration::from_secs(5), Duration::from_secs(60)];
        for code in [200, 204, 299] {
            let o = outcome_of(&SendResult::Answered(code), 0, &schedule, 0.5, now);
            assert_eq!(o.status, DeliveryStatus::Succeeded);
            assert_eq!(o.status_code, Some(code));
            assert_eq!(
                (o.error, o.next_attempt_at, o.disable_endpoint),
                (None, None, false)
            );
        }
        let o = outcome_of(&SendResult::Answered(500), 0, &schedule, 0.5, now);
        assert_eq!(o.status, DeliveryStatus::Pending);
        assert_eq!(o.status_code, Some(500));
        assert_eq!(o.error.as_deref(), Some("the receiver answered 500"));
        assert_eq!(o.next_attempt_at, Some(now + chrono::TimeDelta::seconds(5)));
        let o = outcome_of(&SendResult::Answered(300), 1, &schedule, 0.5, now);
        assert_eq!(
            o.next_attempt_at,
            Some(now + chrono::TimeDelta::seconds(60))
        );
        let o = outcome_of(
            &SendResult::Failed("timed out".into()),
            2,
            &schedule,
            0.5,
            now,
        );
        assert_eq!(o.status, DeliveryStatus::Failed);
        assert_eq!(o.status_code, None);
        assert_eq!(o.error.as_deref(), Some("timed out"));
        assert_eq!(o.next_attempt_at, None);
        let o = outcome_of(&SendResult::Answered(410), 0, &schedule, 0.5, now);
        assert_eq!(o.status, DeliveryStatus::Failed);
        assert!(o.disable_endpoint);
        assert_eq!(o.next_attempt_at, None);
        let o = outcome_of(&SendResult::Answered(199), 0, &schedule, 0.5, now);
        assert_eq!(o.status, DeliveryStatus::Pending);
        assert!(!o.disable_endpoint);
    }
}
