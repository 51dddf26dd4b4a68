//! The job runner's delivery pass, with fakes: what is sent, how outcomes are recorded, and the
//! address rule applied again at delivery (a name that now resolves inward is not called).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use domain::webhook::{DeliveryStatus, WebhookSecret};
use domain::{DeliveryId, Event, EventId, EventType, RepositoryError, WebhookEndpointId};

use super::*;
use crate::delivery::{
    AttemptOutcome, ClaimedDelivery, DeliverWebhooks, DeliveryMetrics, DeliveryQueue,
    DeliverySettings, SendResult, SignedRequest, WebhookSender, signature,
};
use crate::ports::HostResolver;
use crate::webhooks::UrlPolicy;

#[derive(Default)]
struct Queue {
    due: Mutex<Vec<ClaimedDelivery>>,
    /// The token of each claim, in order.
    claims: Mutex<Vec<uuid::Uuid>>,
    /// Each claim's time and the end of its lease.
    leases: Mutex<Vec<(DateTime<Utc>, DateTime<Utc>)>>,
    recorded: Mutex<Vec<(DeliveryId, AttemptOutcome)>>,
    released: Mutex<Vec<(uuid::Uuid, DeliveryId)>>,
    /// Whether another runner took the leases over (nothing is recorded then).
    taken_over: bool,
}

impl Queue {
    /// A queue with `due` waiting in it.
    fn holding(due: ClaimedDelivery) -> Arc<Self> {
        let queue = Self::default();
        queue.due.lock().unwrap().push(due);
        Arc::new(queue)
    }
}

#[async_trait]
impl DeliveryQueue for Queue {
    async fn claim(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
        claim: uuid::Uuid,
    ) -> Result<Vec<ClaimedDelivery>, RepositoryError> {
        self.claims.lock().unwrap().push(claim);
        self.leases.lock().unwrap().push((now, until));
        let mut due = self.due.lock().unwrap();
        let n = due.len().min(limit as usize);
        Ok(due
            .drain(..n)
            .map(|d| ClaimedDelivery { claim, ..d })
            .collect())
    }
    async fn record_all(
        &self,
        outcomes: &[(&ClaimedDelivery, AttemptOutcome)],
        _: DateTime<Utc>,
    ) -> Result<Vec<bool>, RepositoryError> {
        let mut recorded = Vec::with_capacity(outcomes.len());
        for (d, o) in outcomes {
            assert_eq!(
                self.claims.lock().unwrap().last(),
                Some(&d.claim),
                "recorded under another claim"
            );
            if !self.taken_over {
                self.recorded.lock().unwrap().push((d.id, o.clone()));
            }
            recorded.push(!self.taken_over);
        }
        Ok(recorded)
    }
    async fn release(&self, claim: uuid::Uuid, ids: &[DeliveryId]) -> Result<(), RepositoryError> {
        self.released
            .lock()
            .unwrap()
            .extend(ids.iter().map(|id| (claim, *id)));
        Ok(())
    }
    async fn oldest_pending(&self) -> Result<Option<DateTime<Utc>>, RepositoryError> {
        Ok(Some(now() - chrono::TimeDelta::seconds(42)))
    }
}

#[derive(Default)]
struct Sender {
    sent: Mutex<Vec<(String, Vec<IpAddr>, SignedRequest)>>,
    answer: u16,
}

#[async_trait]
impl WebhookSender for Sender {
    async fn send(
        &self,
        url: &url::Url,
        addresses: &[IpAddr],
        request: &SignedRequest,
        _: Duration,
    ) -> SendResult {
        self.sent
            .lock()
            .unwrap()
            .push((url.to_string(), addresses.to_vec(), request.clone()));
        SendResult::Answered(self.answer)
    }
}

/// Resolves every name to `addr`.
struct Resolver(IpAddr);

#[async_trait]
impl HostResolver for Resolver {
    async fn resolve(&self, _: &str, _: u16) -> Result<Vec<IpAddr>, String> {
        Ok(vec![self.0])
    }
}

#[derive(Default)]
struct Seen(Mutex<Vec<&'static str>>, Mutex<Option<Duration>>);

impl DeliveryMetrics for Seen {
    fn attempt(&self, outcome: &'static str, _: Duration) {
        self.0.lock().unwrap().push(outcome);
    }
    fn oldest_pending(&self, age: Option<Duration>) {
        *self.1.lock().unwrap() = age;
    }
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn claimed(url: &str, attempts: u32) -> ClaimedDelivery {
    ClaimedDelivery {
        id: DeliveryId::new(),
        endpoint_id: WebhookEndpointId::new(),
        url: url.into(),
        secret: WebhookSecret::new(SECRET.into()),
        event: Event {
            id: EventId::new(),
            event_type: EventType::OrderPlaced,
            data: r#"{"id":"o"}"#.into(),
            created_at: now(),
        },
        attempts,
        claim: uuid::Uuid::nil(),
    }
}

fn runner(
    queue: Arc<Queue>,
    sender: Arc<Sender>,
    resolves_to: &str,
    metrics: Arc<Seen>,
) -> DeliverWebhooks {
    DeliverWebhooks {
        queue,
        sender,
        resolver: Arc::new(Resolver(resolves_to.parse().unwrap())),
        clock: clock(),
        jitter: Arc::new(|| 0.5),
        metrics,
        timer: Arc::new(|d| Box::pin(tokio::time::sleep(d))),
        settings: DeliverySettings {
            retry_delays: vec![Duration::from_secs(5), Duration::from_secs(60)],
            timeout: Duration::from_secs(10),
            lease: Duration::from_secs(60),
            batch_size: 10,
            // Longer than the tests' stops (200 ms) and receivers' delays (20 ms), shorter than
            // a slow receiver (1 s).
            record_window: Duration::from_millis(500),
            policy: UrlPolicy::default(),
        },
    }
}

/// A receiver that answers every request with `status`.
fn answering(status: u16) -> Arc<Sender> {
    Arc::new(Sender {
        answer: status,
        ..Default::default()
    })
}

/// A runner whose receiver's name resolves to a public address, and the metrics it records.
fn public_runner(queue: &Arc<Queue>, sender: &Arc<Sender>) -> (DeliverWebhooks, Arc<Seen>) {
    let metrics = Arc::new(Seen::default());
    let run = runner(
        queue.clone(),
        sender.clone(),
        "93.184.216.34",
        metrics.clone(),
    );
    (run, metrics)
}

#[tokio::test]
async fn a_due_delivery_is_signed_sent_to_the_checked_address_and_recorded() {
    let d = claimed("https://hooks.example.com/in", 0);
    let queue = Queue::holding(d.clone());
    let sender = answering(204);
    let (run, metrics) = public_runner(&queue, &sender);
    assert_eq!(run.run_once(std::future::pending()).await.unwrap(), 1);
    let sent = sender.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let (url, addrs, req) = &sent[0];
    assert_eq!(url, "https://hooks.example.com/in");
    assert_eq!(addrs, &["93.184.216.34".parse::<IpAddr>().unwrap()]);
    assert_eq!(req.id, d.event.id.to_string());
    assert_eq!(req.timestamp, now().timestamp());
    assert_eq!(req.body, crate::delivery::payload(&d.event));
    assert_eq!(
        Some(req.signature.clone()),
        signature(&d.secret, &req.id, req.timestamp, &req.body)
    );
    let recorded = queue.recorded.lock().unwrap().clone();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].0, d.id);
    assert_eq!(recorded[0].1.status, DeliveryStatus::Succeeded);
    assert_eq!(*metrics.0.lock().unwrap(), ["succeeded"]);
    assert_eq!(*metrics.1.lock().unwrap(), Some(Duration::from_secs(42)));
    // Nothing due: nothing claimed, nothing sent.
    assert_eq!(run.run_once(std::future::pending()).await.unwrap(), 0);
    assert_eq!(sender.sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_name_that_now_resolves_inward_is_not_called() {
    for inward in [
        "10.0.0.7",
        "127.0.0.1",
        "169.254.169.254",
        "::1",
        "fd00::1",
        "::ffff:10.0.0.1",
    ] {
        let queue = Queue::holding(claimed("https://hooks.example.com/in", 0));
        let sender = Arc::new(Sender::default());
        let metrics = Arc::new(Seen::default());
        let run = runner(queue.clone(), sender.clone(), inward, metrics.clone());
        run.run_once(std::future::pending()).await.unwrap();
        assert!(
            sender.sent.lock().unwrap().is_empty(),
            "{inward} was called"
        );
        let recorded = queue.recorded.lock().unwrap().clone();
        assert_eq!(recorded[0].1.status, DeliveryStatus::Pending);
        assert!(
            recorded[0]
                .1
                .error
                .as_deref()
                .unwrap()
                .starts_with("refused: the URL must reach a public address"),
            "{:?}",
            recorded[0].1.error
        );
        assert_eq!(
            recorded[0].1.next_attempt_at,
            Some(now() + chrono::TimeDelta::seconds(5))
        );
        assert_eq!(*metrics.0.lock().unwrap(), ["retrying"]);
    }
}

#[tokio::test]
async fn the_last_failed_attempt_fails_the_delivery() {
    let queue = Queue::holding(claimed("https://hooks.example.com/in", 2));
    let sender = answering(503);
    let (run, metrics) = public_runner(&queue, &sender);
    run.run_once(std::future::pending()).await.unwrap();
    let recorded = queue.recorded.lock().unwrap().clone();
    assert_eq!(recorded[0].1.status, DeliveryStatus::Failed);
    assert_eq!(recorded[0].1.status_code, Some(503));
    assert_eq!(*metrics.0.lock().unwrap(), ["failed"]);
}

#[tokio::test]
async fn a_stop_releases_the_batch_unattempted() {
    let d = claimed("https://hooks.example.com/in", 0);
    let queue = Queue::holding(d.clone());
    let sender = Arc::new(Sender::default());
    // The resolver never answers: the attempt is in flight when the stop comes.
    struct Never;
    #[async_trait]
    impl HostResolver for Never {
        async fn resolve(&self, _: &str, _: u16) -> Result<Vec<IpAddr>, String> {
            std::future::pending().await
        }
    }
    let mut run = runner(
        queue.clone(),
        sender.clone(),
        "93.184.216.34",
        Arc::default(),
    );
    run.resolver = Arc::new(Never);
    assert_eq!(run.run_once(std::future::ready(())).await.unwrap(), 0);
    let claim = queue.claims.lock().unwrap()[0];
    assert_eq!(*queue.released.lock().unwrap(), [(claim, d.id)]);
    assert!(queue.recorded.lock().unwrap().is_empty());
    assert!(sender.sent.lock().unwrap().is_empty());
}

/// Answers each lookup with the next address of its list (the last one again once it runs out),
/// as a name whose DNS answer is changed between two lookups would.
struct Rebinding(Mutex<Vec<IpAddr>>);

#[async_trait]
impl HostResolver for Rebinding {
    async fn resolve(&self, _: &str, _: u16) -> Result<Vec<IpAddr>, String> {
        let mut answers = self.0.lock().unwrap();
        let next = if answers.len() > 1 {
            answers.remove(0)
        } else {
            answers[0]
        };
        Ok(vec![next])
    }
}

#[tokio::test]
async fn a_name_that_rebinds_after_the_check_is_sent_only_to_the_checked_address() {
    let queue = Queue::holding(claimed("https://hooks.example.com/in", 0));
    let sender = answering(204);
    let mut run = runner(
        queue.clone(),
        sender.clone(),
        "93.184.216.34",
        Arc::default(),
    );
    let public: IpAddr = "93.184.216.34".parse().unwrap();
    run.resolver = Arc::new(Rebinding(Mutex::new(vec![
        public,
        "169.254.169.254".parse().unwrap(),
    ])));
    run.run_once(std::future::pending()).await.unwrap();
    let sent = sender.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].1,
        [public],
        "sent to an address that was not checked"
    );
    assert_eq!(
        queue.recorded.lock().unwrap()[0].1.status,
        DeliveryStatus::Succeeded
    );
}

#[tokio::test]
async fn with_private_networks_allowed_a_name_is_resolved_once_and_sent_there() {
    let queue = Queue::holding(claimed("http://receiver.internal:8080/in", 0));
    let sender = answering(200);
    let mut run = runner(queue.clone(), sender.clone(), "10.0.0.7", Arc::default());
    run.settings.policy = UrlPolicy {
        allow_http: true,
        allow_private: true,
    };
    run.run_once(std::future::pending()).await.unwrap();
    let sent = sender.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "http://receiver.internal:8080/in");
    assert_eq!(sent[0].1, ["10.0.0.7".parse::<IpAddr>().unwrap()]);
}

/// Answers at once, except for the host `slow.example.com`, which never answers.
struct OneSlow;

#[async_trait]
impl WebhookSender for OneSlow {
    async fn send(
        &self,
        url: &url::Url,
        _: &[IpAddr],
        _: &SignedRequest,
        _: Duration,
    ) -> SendResult {
        if url.host_str() == Some("slow.example.com") {
            std::future::pending().await
        } else {
            SendResult::Answered(204)
        }
    }
}

#[tokio::test]
async fn a_stop_in_the_record_window_records_what_was_answered_and_releases_the_rest() {
    let fast = claimed("https://fast.example.com/in", 0);
    let slow = claimed("https://slow.example.com/in", 0);
    let queue = Arc::new(Queue::default());
    queue
        .due
        .lock()
        .unwrap()
        .extend([slow.clone(), fast.clone()]);
    let mut run = runner(
        queue.clone(),
        Arc::default(),
        "93.184.216.34",
        Arc::default(),
    );
    run.sender = Arc::new(OneSlow);
    // The stop comes within the record window the fast answer opened, while the slow receiver
    // still has not answered.
    let attempted = run
        .run_once(tokio::time::sleep(Duration::from_millis(200)))
        .await
        .unwrap();
    assert_eq!(attempted, 1);
    let recorded = queue.recorded.lock().unwrap().clone();
    assert_eq!(recorded.len(), 1, "the answered delivery was not recorded");
    assert_eq!(recorded[0].0, fast.id);
    assert_eq!(recorded[0].1.status, DeliveryStatus::Succeeded);
    let claim = queue.claims.lock().unwrap()[0];
    assert_eq!(*queue.released.lock().unwrap(), [(claim, slow.id)]);
}

#[tokio::test]
async fn an_outcome_whose_lease_was_taken_over_is_dropped_without_failing_the_pass() {
    let queue = Arc::new(Queue {
        taken_over: true,
        ..Default::default()
    });
    queue
        .due
        .lock()
        .unwrap()
        .push(claimed("https://hooks.example.com/in", 0));
    let sender = answering(204);
    let (run, _) = public_runner(&queue, &sender);
    assert_eq!(run.run_once(std::future::pending()).await.unwrap(), 1);
    assert_eq!(sender.sent.lock().unwrap().len(), 1);
    assert!(queue.recorded.lock().unwrap().is_empty());
    assert!(queue.released.lock().unwrap().is_empty());
}

#[tokio::test]
async fn each_pass_claims_under_a_token_of_its_own() {
    let queue = Queue::holding(claimed("https://hooks.example.com/in", 0));
    let run = runner(
        queue.clone(),
        answering(204),
        "93.184.216.34",
        Arc::default(),
    );
    run.run_once(std::future::pending()).await.unwrap();
    run.run_once(std::future::pending()).await.unwrap();
    let claims = queue.claims.lock().unwrap().clone();
    assert_eq!(claims.len(), 2);
    assert_ne!(claims[0], claims[1]);
    assert!(!claims[0].is_nil());
    // Each claim holds for the lease (60 s) from now.
    assert_eq!(
        queue.leases.lock().unwrap()[0],
        (now(), now() + chrono::TimeDelta::seconds(60))
    );
}

/// A queue that notes the size of each `record_all`, over [`Queue`].
struct Batching(Arc<Queue>, Mutex<Vec<usize>>);

#[async_trait]
impl DeliveryQueue for Batching {
    async fn claim(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
        claim: uuid::Uuid,
    ) -> Result<Vec<ClaimedDelivery>, RepositoryError> {
        self.0.claim(now, until, limit, claim).await
    }
    async fn record_all(
        &self,
        outcomes: &[(&ClaimedDelivery, AttemptOutcome)],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, RepositoryError> {
        self.1.lock().unwrap().push(outcomes.len());
        self.0.record_all(outcomes, now).await
    }
    async fn release(&self, claim: uuid::Uuid, ids: &[DeliveryId]) -> Result<(), RepositoryError> {
        self.0.release(claim, ids).await
    }
    async fn oldest_pending(&self) -> Result<Option<DateTime<Utc>>, RepositoryError> {
        self.0.oldest_pending().await
    }
}

#[tokio::test]
async fn outcomes_that_come_together_are_recorded_in_one_write() {
    let queue = Arc::new(Queue::default());
    let due: Vec<ClaimedDelivery> = (0..3)
        .map(|_| claimed("https://hooks.example.com/in", 0))
        .collect();
    queue.due.lock().unwrap().extend(due.iter().cloned());
    let batching = Arc::new(Batching(queue.clone(), Mutex::default()));
    let mut run = runner(
        queue.clone(),
        answering(204),
        "93.184.216.34",
        Arc::default(),
    );
    run.queue = batching.clone();
    assert_eq!(run.run_once(std::future::pending()).await.unwrap(), 3);
    // The fake sender answers at once: all three in one write.
    assert_eq!(*batching.1.lock().unwrap(), [3]);
    let mut recorded: Vec<DeliveryId> =
        queue.recorded.lock().unwrap().iter().map(|r| r.0).collect();
    let mut expected: Vec<DeliveryId> = due.iter().map(|d| d.id).collect();
    recorded.sort_unstable_by_key(|id| id.as_uuid());
    expected.sort_unstable_by_key(|id| id.as_uuid());
    assert_eq!(recorded, expected);
}

/// Answers 204 after the delay its host names: `now` at once, `soon` after 20 ms, `late`
/// after a second.
struct Staggered;

#[async_trait]
impl WebhookSender for Staggered {
    async fn send(
        &self,
        url: &url::Url,
        _: &[IpAddr],
        _: &SignedRequest,
        _: Duration,
    ) -> SendResult {
        let delay = match url.host_str() {
            Some("soon.example.com") => 20,
            Some("late.example.com") => 1000,
            _ => 0,
        };
        tokio::time::sleep(Duration::from_millis(delay)).await;
        SendResult::Answered(204)
    }
}

#[tokio::test]
async fn answers_within_the_record_window_are_one_write_and_a_later_one_another() {
    let queue = Arc::new(Queue::default());
    let [now, soon, late] =
        ["now", "soon", "late"].map(|host| claimed(&format!("https://{host}.example.com/in"), 0));
    queue
        .due
        .lock()
        .unwrap()
        .extend([late.clone(), soon.clone(), now.clone()]);
    let batching = Arc::new(Batching(queue.clone(), Mutex::default()));
    let mut run = runner(
        queue.clone(),
        Arc::default(),
        "93.184.216.34",
        Arc::default(),
    );
    run.sender = Arc::new(Staggered);
    run.queue = batching.clone();
    assert_eq!(run.run_once(std::future::pending()).await.unwrap(), 3);
    // `now` and `soon` (20 ms apart, within the 500 ms window) together; `late` on its own,
    // after the first write: the window does not wait for the whole batch.
    assert_eq!(*batching.1.lock().unwrap(), [2, 1]);
    let recorded: Vec<DeliveryId> = queue.recorded.lock().unwrap().iter().map(|r| r.0).collect();
    assert_eq!(recorded, [now.id, soon.id, late.id]);
}

#[tokio::test]
async fn recording_several_answers_which_were_recorded_in_order() {
    let queue = Queue::holding(claimed("https://hooks.example.com/in", 0));
    let claim = uuid::Uuid::now_v7();
    let held = queue.claim(now(), now(), 10, claim).await.unwrap();
    let second = ClaimedDelivery {
        claim,
        ..claimed("https://hooks.example.com/in", 1)
    };
    let ok = crate::delivery::outcome_of(&SendResult::Answered(204), 0, &[], 0.5, now());
    let outcomes = [(&held[0], ok.clone()), (&second, ok)];
    assert_eq!(
        queue.record_all(&outcomes, now()).await.unwrap(),
        [true, true]
    );
    let recorded: Vec<DeliveryId> = queue.recorded.lock().unwrap().iter().map(|r| r.0).collect();
    assert_eq!(recorded, [held[0].id, second.id]);
    let lost = Queue {
        taken_over: true,
        ..Default::default()
    };
    lost.claims.lock().unwrap().push(claim);
    assert_eq!(
        lost.record_all(&outcomes, now()).await.unwrap(),
        [false, false]
    );
}
