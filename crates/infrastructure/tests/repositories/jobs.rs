//! The outbox and the job runner's queues on each backend: an event and its deliveries are
//! written with their change (or not at all), claims are exclusive and leased, a lease that ran
//! out is taken over and its old holder can no longer record, a release frees at once, a
//! disabled endpoint's deliveries wait, and the periodic jobs' schedule lets one runner at a time
//! run a job.

use std::sync::{Arc, Mutex};

use application::delivery::{AttemptOutcome, ClaimedDelivery, DeliveryQueue};
use application::jobs::{JobSchedule, PeriodicWork};
use application::ports::{EventReadModel, EventsWritten, WebhookRepository};
use domain::webhook::{DeliveryStatus, Subscriptions, WebhookEndpoint, WebhookSecret};
use domain::{
    Event, EventCondition, EventId, EventType, IdempotencyRecord, OrderRepository, PageRequest,
    PendingEvent, ProductRepository, Role, UserId, UserRepository, WebhookEndpointId,
};
use infrastructure::db::{SqlEvents, SqlJobSchedule, SqlOrders, SqlSweep, SqlUsers, SqlWebhooks};
use uuid::Uuid;

use crate::support::*;

/// Remembers the events it is told were written.
#[derive(Default)]
struct Told(Mutex<Vec<EventType>>);

impl EventsWritten for Told {
    fn written(&self, types: &[EventType]) {
        self.0.lock().unwrap().extend_from_slice(types);
    }
}

fn endpoint(events: &[&str], enabled: bool) -> WebhookEndpoint {
    let names: Vec<String> = events.iter().map(|s| (*s).to_owned()).collect();
    WebhookEndpoint {
        id: WebhookEndpointId::new(),
        url: "https://hooks.example.com/in".into(),
        events: Subscriptions::parse(&names).unwrap(),
        description: None,
        enabled,
        secret: WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        created_at: at(0),
        updated_at: at(0),
    }
}

fn event(event_type: EventType, secs: i64) -> Event {
    Event {
        id: EventId::new(),
        event_type,
        data: r#"{"id":"x"}"#.into(),
        created_at: at(secs),
    }
}

/// How many deliveries `endpoint` has, of any status.
async fn deliveries_of(webhooks: &SqlWebhooks, endpoint: &WebhookEndpoint) -> u64 {
    webhooks
        .deliveries(endpoint.id, None, PageRequest::default())
        .await
        .unwrap()
        .total
}

async fn an_event_fans_out_to_the_enabled_endpoints_that_hear_it(t: TestDb) {
    let webhooks = SqlWebhooks::new(t.db.clone());
    let all = endpoint(&["*"], true);
    let users_only = endpoint(&["user.registered"], true);
    let orders_only = endpoint(&["order.placed"], true);
    let disabled = endpoint(&["*"], false);
    for e in [&all, &users_only, &orders_only, &disabled] {
        webhooks.insert(e).await.unwrap();
    }
    let told = Arc::new(Told::default());
    let users = SqlUsers::new(t.db.clone()).counting_events(told.clone());
    let registered = event(EventType::UserRegistered, 1);
    users
        .insert_with_events(
            &user("ann", &[Role::User]),
            &[PendingEvent::always(registered.clone())],
        )
        .await
        .unwrap();
    assert_eq!(*told.0.lock().unwrap(), [EventType::UserRegistered]);
    let log = SqlEvents::new(t.db.clone())
        .list(None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(log.items, std::slice::from_ref(&registered));
    assert_eq!(deliveries_of(&webhooks, &all).await, 1);
    assert_eq!(deliveries_of(&webhooks, &users_only).await, 1);
    assert_eq!(deliveries_of(&webhooks, &orders_only).await, 0);
    assert_eq!(deliveries_of(&webhooks, &disabled).await, 0);
    let d = webhooks
        .deliveries(all.id, None, PageRequest::default())
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(
        (
            d.event_id,
            d.event_type,
            d.status,
            d.attempts,
            d.next_attempt_at
        ),
        (
            registered.id,
            EventType::UserRegistered,
            DeliveryStatus::Pending,
            0,
            Some(at(1))
        )
    );
}

async fn a_change_that_rolls_back_writes_no_event_and_no_delivery(t: TestDb) {
    let webhooks = SqlWebhooks::new(t.db.clone());
    let all = endpoint(&["*"], true);
    webhooks.insert(&all).await.unwrap();
    let told = Arc::new(Told::default());
    let users = SqlUsers::new(t.db.clone()).counting_events(told.clone());
    let ann = user("ann", &[Role::User]);
    users.insert(&ann).await.unwrap();
    // The same account again: refused, rolled back with its event.
    let again = users
        .insert_with_events(
            &ann,
            &[PendingEvent::always(event(EventType::UserRegistered, 1))],
        )
        .await;
    assert!(again.is_err());
    assert!(told.0.lock().unwrap().is_empty());
    let log = SqlEvents::new(t.db.clone())
        .list(None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(log.total, 0);
    assert_eq!(deliveries_of(&webhooks, &all).await, 0);
}

async fn a_low_stock_event_is_written_only_by_the_order_that_crosses_the_threshold(t: TestDb) {
    let webhooks = SqlWebhooks::new(t.db.clone());
    let all = endpoint(&["*"], true);
    webhooks.insert(&all).await.unwrap();
    let told = Arc::new(Told::default());
    let orders = SqlOrders::new(t.db.clone()).counting_events(told.clone());
    let mug = product("MUG-1", "Mug", "1", 7);
    t.products.insert(&mug).await.unwrap();
    let low = |taken| PendingEvent {
        event: event(EventType::VariantLowStock, 1),
        condition: EventCondition::StockFell {
            product: variant_of(mug.id),
            taken,
            threshold: 5,
        },
    };
    let ann = UserId::new();
    // 7 -> 6: still above 5.
    orders
        .place_with_events(&order(ann, &[(&mug, 1)], 1), None, &[low(1)])
        .await
        .unwrap();
    // 6 -> 4: crosses.
    orders
        .place_with_events(&order(ann, &[(&mug, 2)], 2), None, &[low(2)])
        .await
        .unwrap();
    // 4 -> 3: was low already.
    orders
        .place_with_events(&order(ann, &[(&mug, 1)], 3), None, &[low(1)])
        .await
        .unwrap();
    assert_eq!(*told.0.lock().unwrap(), [EventType::VariantLowStock]);
    let log = SqlEvents::new(t.db.clone())
        .list(Some(EventType::VariantLowStock), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(log.total, 1);
    assert_eq!(deliveries_of(&webhooks, &all).await, 1);
}

/// An endpoint hearing everything and `n` due deliveries to it (one event each, at second 1).
async fn queued(t: &TestDb, n: usize) -> (SqlWebhooks, WebhookEndpoint) {
    let webhooks = SqlWebhooks::new(t.db.clone());
    let all = endpoint(&["*"], true);
    webhooks.insert(&all).await.unwrap();
    let users = SqlUsers::new(t.db.clone());
    for i in 0..n {
        users
            .insert_with_events(
                &user(&format!("user{i}"), &[Role::User]),
                &[PendingEvent::always(event(EventType::UserRegistered, 1))],
            )
            .await
            .unwrap();
    }
    (webhooks, all)
}

/// Records one outcome: whether it was recorded.
async fn record(
    q: &SqlWebhooks,
    d: &ClaimedDelivery,
    o: &AttemptOutcome,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    q.record_all(&[(d, o.clone())], now).await.unwrap()[0]
}

fn succeeded() -> AttemptOutcome {
    AttemptOutcome {
        status: DeliveryStatus::Succeeded,
        status_code: Some(204),
        error: None,
        next_attempt_at: None,
        disable_endpoint: false,
    }
}

async fn a_claim_is_exclusive_until_its_lease_runs_out_then_taken_over(t: TestDb) {
    let (q, all) = queued(&t, 3).await;
    let first = Uuid::now_v7();
    let claimed = q.claim(at(10), at(70), 10, first).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert!(
        claimed
            .iter()
            .all(|d| d.claim == first && d.endpoint_id == all.id)
    );
    // Held: nobody else gets them while the lease runs.
    assert!(
        q.claim(at(69), at(130), 10, Uuid::now_v7())
            .await
            .unwrap()
            .is_empty()
    );
    // The lease ran out: another runner takes them over.
    let second = Uuid::now_v7();
    let taken = q.claim(at(71), at(131), 10, second).await.unwrap();
    assert_eq!(taken.len(), 3);
    // The first holder's outcome is dropped; the new holder's stands.
    assert!(!record(&q, &claimed[0], &succeeded(), at(72)).await);
    let again = taken.iter().find(|d| d.id == claimed[0].id).unwrap();
    assert!(record(&q, again, &succeeded(), at(72)).await);
    let done = q
        .deliveries(
            all.id,
            Some(DeliveryStatus::Succeeded),
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(done.total, 1);
    assert_eq!(done.items[0].attempts, 1);
    assert_eq!(done.items[0].last_status_code, Some(204));
}

async fn a_claim_takes_at_most_its_limit_and_only_due_deliveries(t: TestDb) {
    let (q, _) = queued(&t, 3).await;
    // Not due before second 1.
    assert!(
        q.claim(at(0), at(60), 10, Uuid::now_v7())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        q.claim(at(1), at(60), 2, Uuid::now_v7())
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        q.claim(at(1), at(60), 2, Uuid::now_v7())
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn a_release_frees_at_once_but_only_under_the_claim_that_holds(t: TestDb) {
    let (q, _) = queued(&t, 2).await;
    let mine = Uuid::now_v7();
    let claimed = q.claim(at(10), at(70), 10, mine).await.unwrap();
    let ids: Vec<_> = claimed.iter().map(|d| d.id).collect();
    // Another claim's release changes nothing.
    q.release(Uuid::now_v7(), &ids).await.unwrap();
    assert!(
        q.claim(at(11), at(71), 10, Uuid::now_v7())
            .await
            .unwrap()
            .is_empty()
    );
    q.release(mine, &ids[..1]).await.unwrap();
    let again = q.claim(at(11), at(71), 10, Uuid::now_v7()).await.unwrap();
    assert_eq!(again.iter().map(|d| d.id).collect::<Vec<_>>(), [ids[0]]);
}

async fn a_retrying_delivery_is_due_again_at_its_next_attempt(t: TestDb) {
    let (q, all) = queued(&t, 1).await;
    let claimed = q.claim(at(10), at(70), 10, Uuid::now_v7()).await.unwrap();
    let retry = AttemptOutcome {
        status: DeliveryStatus::Pending,
        status_code: Some(500),
        error: Some("the receiver answered 500".into()),
        next_attempt_at: Some(at(100)),
        disable_endpoint: false,
    };
    assert!(record(&q, &claimed[0], &retry, at(11)).await);
    assert!(
        q.claim(at(99), at(159), 10, Uuid::now_v7())
            .await
            .unwrap()
            .is_empty()
    );
    let again = q.claim(at(100), at(160), 10, Uuid::now_v7()).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    // A 410 fails it and turns its endpoint off.
    let gone = AttemptOutcome {
        status: DeliveryStatus::Failed,
        status_code: Some(410),
        error: Some("the receiver answered 410".into()),
        next_attempt_at: None,
        disable_endpoint: true,
    };
    assert!(record(&q, &again[0], &gone, at(101)).await);
    assert!(!q.get(all.id).await.unwrap().unwrap().enabled);
}

async fn outcomes_recorded_together_each_stand_under_their_own_claim(t: TestDb) {
    let (q, all) = queued(&t, 3).await;
    let lost = q.claim(at(10), at(70), 10, Uuid::now_v7()).await.unwrap();
    let taken = q.claim(at(71), at(131), 10, Uuid::now_v7()).await.unwrap();
    let mine = |i: usize| taken.iter().find(|d| d.id == lost[i].id).unwrap();
    let retry = AttemptOutcome {
        status: DeliveryStatus::Pending,
        status_code: Some(500),
        error: Some("the receiver answered 500".into()),
        next_attempt_at: Some(at(100)),
        disable_endpoint: false,
    };
    let gone = AttemptOutcome {
        status: DeliveryStatus::Failed,
        status_code: Some(410),
        error: Some("the receiver answered 410".into()),
        next_attempt_at: None,
        disable_endpoint: true,
    };
    // A 410 under a claim that was taken over counts for nothing, its endpoint stays on; the
    // others are recorded, each with its own outcome.
    let recorded = q
        .record_all(
            &[
                (&lost[0], gone.clone()),
                (mine(1), retry.clone()),
                (mine(2), succeeded()),
            ],
            at(72),
        )
        .await
        .unwrap();
    assert_eq!(recorded, [false, true, true]);
    assert!(q.get(all.id).await.unwrap().unwrap().enabled);
    let of = |status| q.deliveries(all.id, Some(status), PageRequest::default());
    let succeeded_ = of(DeliveryStatus::Succeeded).await.unwrap();
    assert_eq!(succeeded_.items.len(), 1);
    assert_eq!(succeeded_.items[0].id, lost[2].id);
    let mut pending = of(DeliveryStatus::Pending).await.unwrap().items;
    pending.sort_by_key(|d| d.attempts);
    assert_eq!(pending.len(), 2);
    assert_eq!((pending[0].id, pending[0].attempts), (lost[0].id, 0));
    assert_eq!(
        (
            pending[1].id,
            pending[1].attempts,
            pending[1].last_status_code
        ),
        (lost[1].id, 1, Some(500))
    );
    assert_eq!(
        pending[1].last_error.as_deref(),
        Some("the receiver answered 500")
    );
    assert_eq!(pending[1].next_attempt_at, Some(at(100)));
    // Under the claim that holds it, the 410 fails the delivery and turns the endpoint off.
    assert_eq!(
        q.record_all(&[(mine(0), gone)], at(73)).await.unwrap(),
        [true]
    );
    assert!(!q.get(all.id).await.unwrap().unwrap().enabled);
    assert_eq!(
        of(DeliveryStatus::Failed).await.unwrap().items[0].id,
        lost[0].id
    );
    assert!(q.record_all(&[], at(74)).await.unwrap().is_empty());
}

async fn a_disabled_endpoints_deliveries_wait_until_it_is_enabled_again(t: TestDb) {
    let (q, all) = queued(&t, 2).await;
    q.update(&WebhookEndpoint {
        enabled: false,
        ..all.clone()
    })
    .await
    .unwrap();
    assert!(
        q.claim(at(10), at(70), 10, Uuid::now_v7())
            .await
            .unwrap()
            .is_empty()
    );
    q.update(&all).await.unwrap();
    assert_eq!(
        q.claim(at(10), at(70), 10, Uuid::now_v7())
            .await
            .unwrap()
            .len(),
        2
    );
}

/// The event ids of `endpoint`'s deliveries, oldest first.
async fn events_heard(webhooks: &SqlWebhooks, endpoint: &WebhookEndpoint) -> Vec<EventId> {
    let mut heard: Vec<EventId> = webhooks
        .deliveries(endpoint.id, None, PageRequest::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|d| d.event_id)
        .collect();
    heard.sort_by_key(|id| id.as_uuid());
    heard
}

/// Whatever happens to the endpoints after an event commits (SQLite makes the deliveries later,
/// in batches), the event goes to the endpoints that were enabled and heard it at its commit.
async fn an_event_goes_to_the_endpoints_as_they_stood_at_its_commit(t: TestDb) {
    let webhooks = SqlWebhooks::new(t.db.clone());
    let users = SqlUsers::new(t.db.clone());
    let register = |name: &'static str, secs| {
        let e = event(EventType::UserRegistered, secs);
        let users = &users;
        async move {
            users
                .insert_with_events(
                    &user(name, &[Role::User]),
                    &[PendingEvent::always(e.clone())],
                )
                .await
                .unwrap();
            e.id
        }
    };
    let first = endpoint(&["*"], true);
    let off_at_first = endpoint(&["*"], false);
    for e in [&first, &off_at_first] {
        webhooks.insert(e).await.unwrap();
    }
    let one = register("ann", 1).await;
    // After the first event: one endpoint is switched off, one on, one created, one changes
    // what it hears.
    webhooks
        .update(&WebhookEndpoint {
            enabled: false,
            ..first.clone()
        })
        .await
        .unwrap();
    webhooks
        .update(&WebhookEndpoint {
            enabled: true,
            ..off_at_first.clone()
        })
        .await
        .unwrap();
    let later = endpoint(&["*"], true);
    webhooks.insert(&later).await.unwrap();
    let two = register("bob", 2).await;
    webhooks
        .update(&WebhookEndpoint {
            events: Subscriptions::parse(&["order.placed".to_owned()]).unwrap(),
            ..later.clone()
        })
        .await
        .unwrap();
    let three = register("cyd", 3).await;
    assert_eq!(events_heard(&webhooks, &first).await, [one]);
    assert_eq!(events_heard(&webhooks, &off_at_first).await, [two, three]);
    assert_eq!(events_heard(&webhooks, &later).await, [two]);
}

/// The oldest pending delivery's time counts an event not yet fanned out (on both backends the
/// deliveries are made later), and nothing once every delivery has succeeded.
async fn the_oldest_pending_counts_events_not_yet_fanned_out(t: TestDb) {
    let webhooks = SqlWebhooks::new(t.db.clone());
    assert_eq!(webhooks.oldest_pending().await.unwrap(), None);
    webhooks.insert(&endpoint(&["*"], true)).await.unwrap();
    let users = SqlUsers::new(t.db.clone());
    for (name, secs) in [("old", 5), ("new", 9)] {
        users
            .insert_with_events(
                &user(name, &[Role::User]),
                &[PendingEvent::always(event(EventType::UserRegistered, secs))],
            )
            .await
            .unwrap();
    }
    assert_eq!(webhooks.oldest_pending().await.unwrap(), Some(at(5)));
    let claimed = webhooks
        .claim(at(10), at(70), 10, Uuid::now_v7())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(webhooks.oldest_pending().await.unwrap(), Some(at(5)));
    let outcomes: Vec<_> = claimed.iter().map(|d| (d, succeeded())).collect();
    webhooks.record_all(&outcomes, at(11)).await.unwrap();
    assert_eq!(webhooks.oldest_pending().await.unwrap(), None);
}

async fn concurrent_claims_take_disjoint_batches(t: TestDb) {
    const RUNNERS: usize = 8;
    let (q, all) = queued(&t, 300).await;
    // The events become deliveries first (on PostgreSQL a read of the deliveries fans the
    // queued events out, as a runner's earlier pass would have): what races here is the
    // claiming of deliveries, not the fan-out, whose first taker makes all 300 at once.
    q.deliveries(all.id, None, PageRequest::default())
        .await
        .unwrap();
    let q = Arc::new(q);
    // Every runner starts claiming at once, each with a connection of its own at hand.
    let start = Arc::new(tokio::sync::Barrier::new(RUNNERS));
    // And after its first batch each waits for the others' first, so that every runner is
    // claiming while the others are, however the machine schedules them (on a loaded machine
    // one runner could otherwise take all 300 before the others began).
    let first = Arc::new(tokio::sync::Barrier::new(RUNNERS));
    let runners: Vec<_> = (0..RUNNERS)
        .map(|_| {
            let (q, start, first) = (q.clone(), start.clone(), first.clone());
            tokio::spawn(async move {
                let mut mine: Vec<ClaimedDelivery> = Vec::new();
                start.wait().await;
                loop {
                    let batch = q.claim(at(10), at(70), 2, Uuid::now_v7()).await.unwrap();
                    let empty = batch.is_empty();
                    if mine.is_empty() {
                        first.wait().await;
                    }
                    if empty {
                        return mine;
                    }
                    mine.extend(batch);
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut busy = 0;
    for r in runners {
        let mine = r.await.unwrap();
        busy += usize::from(!mine.is_empty());
        all.extend(mine.into_iter().map(|d| d.id));
    }
    let n = all.len();
    all.sort_unstable_by_key(|id| id.as_uuid());
    all.dedup();
    assert_eq!(
        (n, all.len()),
        (300, 300),
        "a delivery claimed twice, or missed"
    );
    assert_eq!(
        busy, RUNNERS,
        "every runner claimed a batch while the others did"
    );
}

async fn the_schedule_lets_one_runner_at_a_time_run_a_job(t: TestDb) {
    let s = SqlJobSchedule::new(t.db.clone());
    let a = Uuid::now_v7();
    let b = Uuid::now_v7();
    // Never run: due; held by the first to claim it.
    assert!(s.claim("sweep", at(10), at(20), a).await.unwrap());
    assert!(!s.claim("sweep", at(11), at(21), b).await.unwrap());
    // Another job is its own row.
    assert!(s.claim("other", at(11), at(21), b).await.unwrap());
    // Only the holder finishes it.
    assert!(!s.finish("sweep", b, at(100)).await.unwrap());
    assert!(s.finish("sweep", a, at(100)).await.unwrap());
    // Not due before its next run; due then.
    assert!(!s.claim("sweep", at(99), at(109), b).await.unwrap());
    assert!(s.claim("sweep", at(100), at(110), b).await.unwrap());
    // A holder that died: its lease runs out and another runner takes the job over.
    assert!(!s.claim("sweep", at(110), at(120), a).await.unwrap());
    assert!(s.claim("sweep", at(111), at(121), a).await.unwrap());
    assert!(!s.finish("sweep", b, at(200)).await.unwrap());
}

async fn the_key_sweep_deletes_expired_keys_only(t: TestDb) {
    let mug = product("MUG-1", "Mug", "1", 10);
    t.products.insert(&mug).await.unwrap();
    let ann = UserId::new();
    let key = |name: &str, o: &domain::Order, expires| IdempotencyRecord {
        user_id: ann,
        key: name.into(),
        request_hash: "h".into(),
        order_id: order_id(o),
        expires_at: at(expires),
    };
    let first = order(ann, &[(&mug, 1)], 1);
    let second = order(ann, &[(&mug, 1)], 2);
    t.orders
        .place(&first, Some(&key("old", &first, 100)))
        .await
        .unwrap();
    t.orders
        .place(&second, Some(&key("new", &second, 300)))
        .await
        .unwrap();
    let swept = SqlSweep::idempotency_keys(t.db.clone())
        .run(at(200))
        .await
        .unwrap();
    assert_eq!(swept, 1);
    // The live key still answers (a replay of it is recognised), even asked as of before.
    assert!(
        t.orders
            .find_key(ann, "new", at(250))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        t.orders
            .find_key(ann, "old", at(50))
            .await
            .unwrap()
            .is_none()
    );
}

on_both_backends!(
    an_event_fans_out_to_the_enabled_endpoints_that_hear_it,
    a_change_that_rolls_back_writes_no_event_and_no_delivery,
    a_low_stock_event_is_written_only_by_the_order_that_crosses_the_threshold,
    a_claim_is_exclusive_until_its_lease_runs_out_then_taken_over,
    a_claim_takes_at_most_its_limit_and_only_due_deliveries,
    a_release_frees_at_once_but_only_under_the_claim_that_holds,
    a_retrying_delivery_is_due_again_at_its_next_attempt,
    outcomes_recorded_together_each_stand_under_their_own_claim,
    a_disabled_endpoints_deliveries_wait_until_it_is_enabled_again,
    an_event_goes_to_the_endpoints_as_they_stood_at_its_commit,
    the_oldest_pending_counts_events_not_yet_fanned_out,
    the_schedule_lets_one_runner_at_a_time_run_a_job,
    the_key_sweep_deletes_expired_keys_only,
);

/// Claims racing on threads of their own (on SQLite the one writer takes them in turn).
mod racing {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_concurrent_claims_take_disjoint_batches() {
        super::concurrent_claims_take_disjoint_batches(crate::support::TestDb::sqlite().await)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_concurrent_claims_take_disjoint_batches() {
        if let Some(t) = crate::support::TestDb::postgres().await {
            super::concurrent_claims_take_disjoint_batches(t).await;
        }
    }
}
