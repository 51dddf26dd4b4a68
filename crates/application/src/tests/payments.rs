//! Payments: starting one (who may, which orders, the same intent twice), the provider's
//! word that money arrived (once per event, amounts checked, late payments refunded), and
//! cancelling a paid order (refund first; a failing or refusing provider changes nothing).

use std::sync::Arc;

use domain::{
    Currency, EventType, Money, Order, OrderDetails, OrderId, OrderRepository, OrderStatus,
    PaymentOutcome, PaymentReceived, PaymentStatus, Product, ProductId, ProductName, Quantity,
    Recorded, Role, Sku, Stock, TokenHash,
};

use super::*;
use crate::payments::{
    PaymentError, PaymentHandled, ReceivePayment, Refunds, StartPayment, intent_key,
    late_refund_key, refund_key,
};
use crate::testing::{FakeProvider, MemoryPayments, actor};
use crate::{Actor, AppError};

struct World {
    orders: Arc<MemoryOrders>,
    payments: Arc<MemoryPayments>,
    provider: Arc<FakeProvider>,
    owner: Actor,
    order: OrderId,
}

/// An order of two at 2.50 EUR (5.00) by `owner`, pending and unpaid.
fn world() -> World {
    let orders = Arc::new(MemoryOrders::default());
    let owner = actor(&[Role::User]);
    let order = sample(owner.user_id, None);
    let id = order.id();
    orders.orders.lock().unwrap().push(order);
    World {
        payments: Arc::new(MemoryPayments {
            orders: Some(orders.clone()),
            ..MemoryPayments::default()
        }),
        orders,
        provider: Arc::new(FakeProvider::default()),
        owner,
        order: id,
    }
}

fn sample(owner: domain::UserId, token: Option<&str>) -> Order {
    let now = FixedClock.now();
    let variant = domain::VariantId::new();
    let product = Product {
        id: ProductId::new(),
        name: ProductName::parse("A").unwrap(),
        slug: domain::Slug::parse("a").unwrap(),
        status: domain::ProductStatus::Active,
        description: None,
        variants: domain::VariantSet::single(
            variant,
            Sku::parse("A-1").unwrap(),
            Money::parse("2.50", Currency::parse("EUR").unwrap()).unwrap(),
            Stock::new(5).unwrap(),
        ),
        created_at: now,
        updated_at: now,
    };
    let order = Order::place(
        OrderId::new(),
        owner,
        vec![(product, variant, Quantity::new(2).unwrap())],
        None,
        now,
    )
    .unwrap();
    let details = OrderDetails {
        guest_token: token.map(TokenHash::of),
        ..order.details().clone()
    };
    order.with_details(details)
}

impl World {
    fn start(&self) -> StartPayment {
        StartPayment {
            orders: self.orders.clone(),
            payments: self.payments.clone(),
            provider: self.provider.clone(),
            clock: clock(),
        }
    }

    fn receive(&self) -> ReceivePayment {
        ReceivePayment {
            orders: self.orders.clone(),
            payments: self.payments.clone(),
            provider: self.provider.clone(),
            clock: clock(),
            events: events(),
        }
    }

    fn refunds(&self) -> Arc<Refunds> {
        Arc::new(Refunds {
            payments: self.payments.clone(),
            provider: self.provider.clone(),
        })
    }

    fn cancel(&self) -> CancelOrder {
        CancelOrder {
            refunds: self.refunds(),
            ..cancel_order(self.orders.clone())
        }
    }

    fn change(&self) -> ChangeOrderStatus {
        ChangeOrderStatus {
            refunds: self.refunds(),
            ..change_order_status(self.orders.clone())
        }
    }

    async fn get(&self) -> Order {
        self.orders.get(self.order).await.unwrap().unwrap()
    }

    /// `payment_intent.succeeded` of `amount` minor units in `currency` for the order.
    fn succeeded(&self, event_id: &str, amount: i64, currency: &str) -> PaymentReceived {
        PaymentReceived {
            event_id: event_id.into(),
            intent_id: "pi_0".into(),
            order_id: self.order,
            amount_minor: amount,
            currency: currency.into(),
        }
    }

    fn event_types(&self) -> Vec<EventType> {
        self.orders
            .events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.event.event_type)
            .collect()
    }
}

#[tokio::test]
async fn the_owner_and_an_admin_start_a_payment_for_the_total_and_both_get_the_same_intent() {
    let w = world();
    let first = w
        .start()
        .execute(Some(&w.owner), None, w.order)
        .await
        .unwrap();
    assert_eq!(first.provider, "fake");
    assert_eq!(first.amount.minor(), 500);
    assert_eq!(first.intent.client_secret.as_deref(), Some("pi_0_secret"));
    let admin = actor(&[Role::User, Role::Admin]);
    let again = w
        .start()
        .execute(Some(&admin), None, w.order)
        .await
        .unwrap();
    assert_eq!(again.intent, first.intent, "the same intent twice");
    let created = w.provider.created.lock().unwrap().clone();
    assert_eq!(created.len(), 1, "the recorded intent is answered again");
    assert_eq!(created[0].idempotency_key, intent_key(w.order));
    assert_eq!(created[0].amount.minor(), 500);
    assert_eq!(created[0].order_id, w.order);
    assert_eq!(
        w.payments.intents.lock().unwrap().get(&w.order).cloned(),
        Some(first.intent.id)
    );
}

#[tokio::test]
async fn a_guest_starts_a_payment_with_the_order_token_and_anyone_else_is_not_found() {
    let w = world();
    let guest = sample(domain::order::guest_user(), Some("tok-1"));
    let gid = guest.id();
    w.orders.orders.lock().unwrap().push(guest);
    assert!(w.start().execute(None, Some("tok-1"), gid).await.is_ok());
    for token in [None, Some("wrong")] {
        assert!(matches!(
            w.start().execute(None, token, gid).await,
            Err(AppError::NotFound)
        ));
    }
    let stranger = actor(&[Role::User]);
    assert!(matches!(
        w.start().execute(Some(&stranger), None, w.order).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        w.start().execute(None, None, OrderId::new()).await,
        Err(AppError::NotFound)
    ));
    assert_eq!(w.provider.created.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_paid_or_cancelled_order_takes_no_payment() {
    let w = world();
    let admin = actor(&[Role::User, Role::Admin]);
    w.change().execute(&admin, w.order, "paid").await.unwrap();
    assert!(matches!(
        w.start().execute(Some(&w.owner), None, w.order).await,
        Err(AppError::Conflict { .. })
    ));
    let w = world();
    w.cancel().execute(&w.owner, w.order).await.unwrap();
    assert!(matches!(
        w.start().execute(Some(&w.owner), None, w.order).await,
        Err(AppError::Conflict { .. })
    ));
    assert!(w.provider.created.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_admin_recording_a_payment_marks_it_paid() {
    let w = world();
    let admin = actor(&[Role::User, Role::Admin]);
    let o = w.change().execute(&admin, w.order, "paid").await.unwrap();
    assert_eq!(o.payment_status(), PaymentStatus::Paid);
    assert_eq!(w.get().await.payment_status(), PaymentStatus::Paid);
}

#[tokio::test]
async fn a_succeeded_event_pays_the_order_once_per_event_id() {
    let w = world();
    let handled = w.receive().execute(&w.succeeded("evt_1", 500, "eur")).await;
    assert_eq!(
        handled.unwrap(),
        PaymentHandled::Recorded(Recorded::As(PaymentOutcome::Paid))
    );
    let o = w.get().await;
    assert_eq!(o.status(), OrderStatus::Paid);
    assert_eq!(o.payment_status(), PaymentStatus::Paid);
    assert_eq!(
        w.event_types(),
        [EventType::OrderStatusChanged, EventType::OrderPaid]
    );
    let again = w.receive().execute(&w.succeeded("evt_1", 500, "eur")).await;
    assert_eq!(
        again.unwrap(),
        PaymentHandled::Recorded(Recorded::Duplicate)
    );
    assert_eq!(w.event_types().len(), 2, "nothing new the second time");
    // Another event for the paid order changes nothing either.
    let other = w.receive().execute(&w.succeeded("evt_2", 500, "eur")).await;
    assert_eq!(
        other.unwrap(),
        PaymentHandled::Recorded(Recorded::As(PaymentOutcome::NotPending))
    );
    assert_eq!(w.get().await.updated_at(), o.updated_at());
    assert!(w.provider.refunds.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_wrong_amount_or_currency_is_recorded_and_does_not_pay() {
    let w = world();
    for (id, amount, currency) in [("evt_a", 499, "eur"), ("evt_c", 500, "usd")] {
        let handled = w
            .receive()
            .execute(&w.succeeded(id, amount, currency))
            .await;
        assert_eq!(
            handled.unwrap(),
            PaymentHandled::Recorded(Recorded::As(PaymentOutcome::Mismatch))
        );
    }
    let o = w.get().await;
    assert_eq!(o.status(), OrderStatus::Pending);
    assert_eq!(o.payment_status(), PaymentStatus::Unpaid);
    assert_eq!(w.payments.handled.lock().unwrap().len(), 2);
    assert!(w.event_types().is_empty());
}

#[tokio::test]
async fn a_payment_for_a_cancelled_order_is_refunded_once_by_its_key() {
    let w = world();
    w.cancel().execute(&w.owner, w.order).await.unwrap();
    for _ in 0..2 {
        let handled = w.receive().execute(&w.succeeded("evt_1", 500, "eur")).await;
        assert_eq!(handled.unwrap(), PaymentHandled::Refunded);
    }
    let refunds = w.provider.refunds.lock().unwrap().clone();
    assert_eq!(refunds.len(), 2, "tried again on the provider's retry");
    assert!(refunds.iter().all(|r| r == &refunds[0]), "with one key");
    assert_eq!(refunds[0].0.as_deref(), Some("pi_0"));
    assert_eq!(refunds[0].1.minor(), 500);
    assert_eq!(refunds[0].2, late_refund_key("pi_0"));
    assert_eq!(w.get().await.status(), OrderStatus::Cancelled);
}

#[tokio::test]
async fn cancelling_a_paid_order_refunds_it_first_then_it_is_refunded() {
    let w = world();
    w.payments
        .intents
        .lock()
        .unwrap()
        .insert(w.order, "pi_9".into());
    w.receive()
        .execute(&w.succeeded("evt_1", 500, "eur"))
        .await
        .unwrap();
    let o = w.cancel().execute(&w.owner, w.order).await.unwrap();
    assert_eq!(o.status(), OrderStatus::Cancelled);
    assert_eq!(o.payment_status(), PaymentStatus::Refunded);
    assert_eq!(w.get().await.payment_status(), PaymentStatus::Refunded);
    let refunds = w.provider.refunds.lock().unwrap().clone();
    assert_eq!(
        refunds,
        [(
            Some("pi_0".to_owned()),
            Money::from_minor(500, Currency::parse("EUR").unwrap()).unwrap(),
            refund_key(w.order)
        )]
    );
    assert!(w.event_types().contains(&EventType::OrderRefunded));
    // A late duplicate of the payment does not refund it again.
    w.receive()
        .execute(&w.succeeded("evt_1", 500, "eur"))
        .await
        .unwrap();
    assert_eq!(w.provider.refunds.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_provider_that_fails_or_refuses_the_refund_leaves_the_paid_order_as_it_was() {
    for (error, unavailable) in [
        (PaymentError::Unavailable("timed out".into()), true),
        (
            PaymentError::Refused("charge already refunded".into()),
            false,
        ),
    ] {
        let w = world();
        let admin = actor(&[Role::User, Role::Admin]);
        w.change().execute(&admin, w.order, "paid").await.unwrap();
        let before = w.get().await;
        *w.provider.refund_error.lock().unwrap() = Some(error);
        let by_cancel = w.cancel().execute(&w.owner, w.order).await;
        let by_status = w.change().execute(&admin, w.order, "cancelled").await;
        for result in [by_cancel, by_status] {
            match result {
                Err(AppError::Unavailable { dependency, .. }) if unavailable => {
                    assert_eq!(dependency, "payment provider");
                }
                Err(AppError::Conflict { field, message }) if !unavailable => {
                    assert_eq!(field, Some("payment"));
                    assert!(message.contains("charge already refunded"), "{message}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(w.get().await, before, "the order is unchanged");
    }
}

#[tokio::test]
async fn cancelling_an_unpaid_order_calls_no_provider() {
    let w = world();
    *w.provider.refund_error.lock().unwrap() = Some(PaymentError::Unavailable("down".into()));
    let o = w.cancel().execute(&w.owner, w.order).await.unwrap();
    assert_eq!(o.payment_status(), PaymentStatus::Unpaid);
    assert!(!w.event_types().contains(&EventType::OrderRefunded));
}

#[tokio::test]
async fn the_payment_timeout_cancels_unpaid_pending_orders_past_it_and_a_late_payment_is_refunded()
{
    use crate::jobs::PeriodicWork;
    let w = world();
    let placed = w.get().await.created_at();
    let paid_one = sample(w.owner.user_id, None);
    let paid_id = paid_one.id();
    w.orders.orders.lock().unwrap().push(paid_one);
    let admin = actor(&[Role::User, Role::Admin]);
    w.change().execute(&admin, paid_id, "paid").await.unwrap();
    let job = crate::payments::ExpireUnpaidOrders {
        orders: w.orders.clone(),
        payments: w.payments.clone(),
        events: events(),
        timeout: chrono::TimeDelta::minutes(60),
        batch: 10,
    };
    // Not yet past the timeout: nothing.
    let early = placed + chrono::TimeDelta::minutes(59);
    assert_eq!(job.run(early).await.unwrap(), 0);
    assert_eq!(w.get().await.status(), OrderStatus::Pending);
    let late = placed + chrono::TimeDelta::minutes(61);
    assert_eq!(job.run(late).await.unwrap(), 1);
    let o = w.get().await;
    assert_eq!(o.status(), OrderStatus::Cancelled);
    assert_eq!(o.payment_status(), PaymentStatus::Unpaid);
    assert!(w.event_types().contains(&EventType::OrderCancelled));
    let paid = w.orders.get(paid_id).await.unwrap().unwrap();
    assert_eq!(
        paid.status(),
        OrderStatus::Paid,
        "a paid order is not timed out"
    );
    assert_eq!(job.run(late).await.unwrap(), 0, "once");
    // The payment that lost the race is refunded.
    let handled = w
        .receive()
        .execute(&w.succeeded("evt_late", 500, "eur"))
        .await;
    assert_eq!(handled.unwrap(), PaymentHandled::Refunded);
    assert_eq!(w.get().await.status(), OrderStatus::Cancelled);
}

/// A webhook scheme that accepts the body `ok` signed `good` as a payment of 5.00 EUR.
struct Scheme(OrderId);

impl crate::payments::PaymentWebhooks for Scheme {
    fn verify(
        &self,
        signature: Option<&str>,
        body: &[u8],
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::payments::ProviderEvent, crate::payments::WebhookRejected> {
        if signature != Some("good") {
            return Err(crate::payments::WebhookRejected("bad signature".into()));
        }
        if body != b"ok" {
            return Ok(crate::payments::ProviderEvent::Ignored("other".into()));
        }
        Ok(crate::payments::ProviderEvent::PaymentSucceeded(
            PaymentReceived {
                event_id: "evt_w".into(),
                intent_id: "pi_w".into(),
                order_id: self.0,
                amount_minor: 500,
                currency: "EUR".into(),
            },
        ))
    }
}

#[tokio::test]
async fn a_webhook_is_verified_before_anything_and_without_a_scheme_is_not_found() {
    use crate::payments::HandlePaymentWebhook;
    let w = world();
    let none = HandlePaymentWebhook {
        webhooks: None,
        receive: w.receive(),
    };
    assert!(matches!(
        none.execute(Some("good"), b"ok").await,
        Err(AppError::NotFound)
    ));
    let hook = HandlePaymentWebhook {
        webhooks: Some(Arc::new(Scheme(w.order))),
        receive: w.receive(),
    };
    for sig in [None, Some("bad")] {
        assert!(matches!(
            hook.execute(sig, b"ok").await,
            Err(AppError::BadRequest(_))
        ));
    }
    assert_eq!(w.get().await.status(), OrderStatus::Pending);
    assert!(w.payments.handled.lock().unwrap().is_empty());
    assert_eq!(hook.execute(Some("good"), b"other").await.unwrap(), None);
    assert_eq!(
        hook.execute(Some("good"), b"ok").await.unwrap(),
        Some(PaymentHandled::Recorded(Recorded::As(PaymentOutcome::Paid)))
    );
    assert_eq!(w.get().await.status(), OrderStatus::Paid);
}

#[tokio::test]
async fn a_wrong_amount_for_a_cancelled_order_is_recorded_for_a_person_not_refunded() {
    // A mismatch is never acted on by itself: the shop does not know what the money was for.
    let w = world();
    w.cancel().execute(&w.owner, w.order).await.unwrap();
    let handled = w.receive().execute(&w.succeeded("evt_w", 499, "eur")).await;
    assert_eq!(
        handled.unwrap(),
        PaymentHandled::Recorded(Recorded::As(PaymentOutcome::Mismatch))
    );
    assert!(w.provider.refunds.lock().unwrap().is_empty());
    assert_eq!(w.get().await.status(), OrderStatus::Cancelled);
}

#[test]
fn the_idempotency_keys_are_one_per_order_and_kind_and_stay_the_same_across_releases() {
    // A retry after an upgrade must send the key the first try sent, so the format is fixed.
    let (a, b) = (OrderId::new(), OrderId::new());
    assert_eq!(intent_key(a), format!("shop-order-{a}-payment"));
    assert_eq!(refund_key(a), format!("shop-order-{a}-refund"));
    assert_ne!(intent_key(a), intent_key(b));
    assert_ne!(refund_key(a), refund_key(b));
    assert_eq!(late_refund_key("pi_123"), "shop-intent-pi_123-refund");
    assert_ne!(late_refund_key("pi_123"), late_refund_key("pi_124"));
}

#[tokio::test]
async fn the_manual_provider_names_itself_and_answers_an_intent_without_a_secret() {
    use crate::payments::{IntentRequest, ManualPayments, PaymentProvider};
    let order = OrderId::new();
    assert_eq!(ManualPayments.name(), "manual");
    let request = IntentRequest {
        order_id: order,
        amount: Money::parse("5.00", Currency::parse("EUR").unwrap()).unwrap(),
        idempotency_key: intent_key(order),
    };
    let intent = ManualPayments.create_intent(&request).await.unwrap();
    assert_eq!(intent.id, format!("manual_{order}"));
    assert_eq!(intent.client_secret, None);
    let again = ManualPayments.retrieve_intent(&intent.id).await.unwrap();
    assert_eq!(again.id, intent.id);
}

#[tokio::test]
async fn a_guest_order_opens_with_its_token_or_to_its_owner_and_to_nobody_else() {
    let w = world();
    let guest = sample(domain::order::guest_user(), Some("tok-1"));
    let gid = guest.id();
    w.orders.orders.lock().unwrap().push(guest);
    let get = get_order(w.orders.clone());
    let stranger = actor(&[Role::User]);
    assert_eq!(
        get.execute_with_token(None, "tok-1", gid)
            .await
            .unwrap()
            .id(),
        gid
    );
    // A signed-in caller with the token is let in by the token.
    assert!(
        get.execute_with_token(Some(&stranger), "tok-1", gid)
            .await
            .is_ok()
    );
    for (who, token) in [(None, "wrong"), (None, ""), (Some(&stranger), "wrong")] {
        assert!(matches!(
            get.execute_with_token(who, token, gid).await,
            Err(AppError::NotFound)
        ));
    }
    // A customer's order opens to its owner whatever token is sent, and to nobody else.
    assert!(
        get.execute_with_token(Some(&w.owner), "", w.order)
            .await
            .is_ok()
    );
    assert!(matches!(
        get.execute_with_token(Some(&stranger), "tok-1", w.order)
            .await,
        Err(AppError::NotFound)
    ));
}
