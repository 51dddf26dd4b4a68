//! Placing orders: exact totals, the idempotency key's rules and replays, the refusals of the
//! repository, and the status machine's retries.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use domain::{
    AddressInput, Order, OrderId, OrderStatus, PlaceOrderError, ProductId, Quantity,
    RepositoryError, Role,
};

use super::*;
use crate::ordering::{
    IDEMPOTENCY_WINDOW, IdempotencyKey, MAX_KEY_CHARS, OrderItem, PlaceOrderCommand, Placed,
};
use crate::ports::OrderFilter;
use crate::testing::{CountingMetrics, MemoryProducts, actor};
use crate::{Actor, AppError};

struct Shop {
    orders: Arc<KeyedOrders>,
    products: Arc<MemoryProducts>,
    mug: ProductId,
    pen: ProductId,
}

/// A mug at 2.50 (10 in stock) and a pen at 0.99 (100 in stock).
fn shop() -> Shop {
    let products = Arc::new(MemoryProducts::default());
    let mug = product("MUG-1", "2.50", 10);
    let pen = product("PEN-1", "0.99", 100);
    let (m, p) = (mug.id, pen.id);
    products.items.lock().unwrap().extend([mug, pen]);
    Shop {
        orders: Arc::new(KeyedOrders::default()),
        products,
        mug: m,
        pen: p,
    }
}

impl Shop {
    fn place(&self) -> PlaceOrder {
        place_order(self.orders.clone(), self.products.clone())
    }

    /// A new order of one mug, placed by `buyer` without a key.
    async fn one_mug_for(&self, buyer: &Actor) -> Order {
        new_order(
            self.place()
                .execute(buyer, command(vec![(self.mug, 1)], None))
                .await
                .unwrap(),
        )
    }
}

fn command(items: Vec<(ProductId, i64)>, key: Option<&str>) -> PlaceOrderCommand {
    PlaceOrderCommand {
        items: items
            .into_iter()
            .map(|(p, q)| (crate::ordering::OrderItem::Product(p), q))
            .collect(),
        shipping_address: None,
        idempotency_key: key.map(|k| IdempotencyKey::parse(k).unwrap()),
    }
}

fn address() -> AddressInput {
    AddressInput {
        line1: "Hauptstr. 1".into(),
        line2: None,
        city: "Berlin".into(),
        postal_code: "10115".into(),
        country: "de".into(),
        state: None,
    }
}

fn new_order(placed: Placed) -> Order {
    match placed {
        Placed::New(o) => o,
        Placed::Replayed(o) => panic!("replayed {}", o.id()),
    }
}

fn replayed(placed: Placed) -> Order {
    match placed {
        Placed::Replayed(o) => o,
        Placed::New(o) => panic!("placed anew {}", o.id()),
    }
}

fn key_conflict(result: Result<Placed, AppError>) -> String {
    match result {
        Err(AppError::Conflict {
            field: Some("Idempotency-Key"),
            message,
        }) => message,
        other => panic!("expected a key conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn an_order_is_priced_line_by_line_at_the_current_prices() {
    let s = shop();
    let ann = actor(&[Role::User]);
    let mut cmd = command(vec![(s.mug, 3), (s.pen, 7), (s.mug, 1)], None);
    cmd.shipping_address = Some(address());
    let order = new_order(s.place().execute(&ann, cmd).await.unwrap());
    assert_eq!(order.user_id(), ann.user_id);
    assert_eq!(order.status(), OrderStatus::Pending);
    assert_eq!(order.created_at(), now());
    let lines: Vec<_> = order
        .lines()
        .iter()
        .map(|l| {
            (
                l.product_id,
                l.unit_price.minor(),
                l.quantity,
                l.line_total.minor(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (s.mug, 250, Quantity::new(4).unwrap(), 1000),
            (s.pen, 99, Quantity::new(7).unwrap(), 693)
        ]
    );
    assert_eq!(order.total().amount_string(), "16.93");
    let a = order.shipping_address().cloned().unwrap();
    assert_eq!((a.city.as_str(), a.country.as_str()), ("Berlin", "DE"));
    assert_eq!(s.orders.stored(), vec![order]);
    assert!(s.orders.keys().is_empty());
}

#[tokio::test]
async fn a_key_is_remembered_for_a_day_with_the_order_it_placed() {
    let s = shop();
    let ann = actor(&[Role::User]);
    let order = new_order(
        s.place()
            .execute(&ann, command(vec![(s.mug, 1)], Some("  k-1 ")))
            .await
            .unwrap(),
    );
    let keys = s.orders.keys();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].user_id, ann.user_id);
    assert_eq!(keys[0].key, "k-1");
    assert_eq!(keys[0].order_id, order.id());
    assert_eq!(keys[0].expires_at, now() + IDEMPOTENCY_WINDOW);
    assert_eq!(IDEMPOTENCY_WINDOW, chrono::TimeDelta::hours(24));
    assert_eq!(keys[0].request_hash.len(), 64);
}

#[tokio::test]
async fn a_key_repeated_with_the_same_body_answers_the_first_order_again() {
    let s = shop();
    let metrics = Arc::new(CountingMetrics::default());
    let place = s.place().with_metrics(metrics.clone());
    let ann = actor(&[Role::User]);
    let mut cmd = command(vec![(s.mug, 2), (s.pen, 1)], Some("k-1"));
    cmd.shipping_address = Some(address());
    let first = new_order(place.execute(&ann, cmd.clone()).await.unwrap());
    let again = replayed(place.execute(&ann, cmd.clone()).await.unwrap());
    assert_eq!(again, first);
    assert_eq!(s.orders.stored().len(), 1);
    assert_eq!(metrics.counts(), (1, 0, 0));
    // The key is trimmed before it is looked up.
    cmd.idempotency_key = Some(IdempotencyKey::parse(" k-1 ").unwrap());
    assert_eq!(
        replayed(place.execute(&ann, cmd).await.unwrap()).id(),
        first.id()
    );
}

#[tokio::test]
async fn a_key_reused_with_another_body_is_a_conflict_and_places_nothing() {
    let s = shop();
    let place = s.place();
    let ann = actor(&[Role::User]);
    let mut first = command(vec![(s.mug, 2)], Some("k-1"));
    first.shipping_address = Some(address());
    new_order(place.execute(&ann, first.clone()).await.unwrap());

    let mut other_city = first.clone();
    other_city.shipping_address.as_mut().unwrap().city = "Hamburg".into();
    let mut no_address = first.clone();
    no_address.shipping_address = None;
    let mut more_lines = first.clone();
    more_lines.items.push((OrderItem::Product(s.pen), 1));
    let mut other_quantity = first.clone();
    other_quantity.items = vec![(OrderItem::Product(s.mug), 3)];
    let mut with_state = first.clone();
    with_state.shipping_address.as_mut().unwrap().state = Some("Berlin".into());
    for (what, cmd) in [
        ("city", other_city),
        ("address", no_address),
        ("lines", more_lines),
        ("quantity", other_quantity),
        ("state", with_state),
    ] {
        let message = key_conflict(place.execute(&ann, cmd).await);
        assert_eq!(
            message, "this Idempotency-Key was used with a different request body",
            "{what}"
        );
    }
    assert_eq!(s.orders.stored().len(), 1);
    assert_eq!(s.products.items.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn keys_belong_to_one_user_and_expire() {
    let s = shop();
    let place = s.place();
    let ann = actor(&[Role::User]);
    let bob = actor(&[Role::User]);
    let cmd = command(vec![(s.mug, 1)], Some("k-1"));
    let first = new_order(place.execute(&ann, cmd.clone()).await.unwrap());
    // Another user's key of the same name is another key.
    let bobs = new_order(place.execute(&bob, cmd.clone()).await.unwrap());
    assert_ne!(bobs.id(), first.id());
    // An expired key places anew.
    s.orders
        .keys
        .lock()
        .unwrap()
        .iter_mut()
        .for_each(|k| k.expires_at = now());
    let later = new_order(place.execute(&ann, cmd).await.unwrap());
    assert_ne!(later.id(), first.id());
}

#[tokio::test]
async fn a_key_may_be_255_characters_but_not_256_nor_blank() {
    let s = shop();
    let place = s.place();
    let ann = actor(&[Role::User]);
    assert_eq!(MAX_KEY_CHARS, 255);
    let longest = "é".repeat(255);
    let placed = place
        .execute(&ann, command(vec![(s.mug, 1)], Some(&longest)))
        .await
        .unwrap();
    new_order(placed);
    assert_eq!(s.orders.keys()[0].key, longest);
    assert_eq!(IdempotencyKey::parse(" k ").unwrap().as_str(), "k");
    for bad in ["", "   ", &"é".repeat(256)] {
        let error = IdempotencyKey::parse(bad).unwrap_err();
        assert_eq!(error.field, "Idempotency-Key", "{bad:?}");
        assert_eq!(error.message, "must be 1 to 255 characters");
    }
}

#[tokio::test]
async fn a_bad_address_and_bad_lines_are_reported_together() {
    let s = shop();
    let mut cmd = command(vec![(s.mug, 0)], Some("k"));
    cmd.shipping_address = Some(AddressInput {
        city: String::new(),
        ..address()
    });
    let errors = validation(s.place().execute(&actor(&[Role::User]), cmd).await);
    assert_eq!(
        fields(&errors),
        ["shipping_address.city", "items[0].quantity"]
    );
    let errors = validation(
        s.place()
            .execute(&actor(&[Role::User]), command(vec![], None))
            .await,
    );
    assert_eq!(fields(&errors), ["items"]);
    assert!(s.orders.stored().is_empty());
}

#[tokio::test]
async fn drafts_and_archived_products_are_not_for_sale_and_named_by_their_line() {
    for status in [
        domain::ProductStatus::Draft,
        domain::ProductStatus::Archived,
    ] {
        let s = shop();
        for p in s.products.items.lock().unwrap().iter_mut() {
            if p.id == s.pen {
                p.status = status;
            }
        }
        let errors = validation(
            s.place()
                .execute(
                    &actor(&[Role::User]),
                    command(vec![(s.mug, 1), (s.pen, 2)], None),
                )
                .await,
        );
        assert_eq!(fields(&errors), ["items[1].product_id"]);
        assert_eq!(
            errors[0].message,
            format!(
                "product {} is not for sale (it is {})",
                s.pen,
                status.as_str()
            )
        );
        assert!(s.orders.stored().is_empty());
    }
}

#[tokio::test]
async fn unknown_products_are_named_by_their_line() {
    let s = shop();
    let ghost = ProductId::new();
    let errors = validation(
        s.place()
            .execute(
                &actor(&[Role::User]),
                command(vec![(s.mug, 1), (ghost, 2)], None),
            )
            .await,
    );
    assert_eq!(fields(&errors), ["items[1].product_id"]);
    assert_eq!(errors[0].message, format!("product {ghost} does not exist"));
    assert!(s.orders.stored().is_empty());
}

#[tokio::test]
async fn the_repositorys_refusals_become_conflicts_and_validation_errors() {
    let s = shop();
    let ann = actor(&[Role::User]);
    let metrics = Arc::new(CountingMetrics::default());
    let place = s.place().with_metrics(metrics.clone());

    s.orders
        .will(NextPlace::Fail(PlaceOrderError::InsufficientStock(
            variant_of(s.pen),
        )));
    match place.execute(&ann, command(vec![(s.pen, 1)], None)).await {
        Err(AppError::Conflict { field, message }) => {
            assert_eq!(field, Some("items"));
            assert_eq!(message, format!("insufficient stock for variant {}", s.pen));
        }
        other => panic!("{other:?}"),
    }

    s.orders
        .will(NextPlace::Fail(PlaceOrderError::UnknownProduct(s.mug)));
    let errors = validation(place.execute(&ann, command(vec![(s.mug, 1)], None)).await);
    assert_eq!(fields(&errors), ["items"]);
    assert_eq!(
        errors[0].message,
        format!("product {} does not exist", s.mug)
    );

    s.orders.will(NextPlace::Fail(PlaceOrderError::Repository(
        RepositoryError::Unavailable("down".into()),
    )));
    assert!(matches!(
        place.execute(&ann, command(vec![(s.mug, 1)], None)).await,
        Err(AppError::Unavailable {
            dependency: "database",
            ..
        })
    ));
    assert_eq!(metrics.counts(), (0, 0, 0));
}

#[tokio::test]
async fn a_twin_request_that_won_the_key_is_answered_with_its_order() {
    let s = shop();
    let ann = actor(&[Role::User]);
    let twin = s.one_mug_for(&ann).await;
    s.orders.will(NextPlace::TwinWon {
        twin: Box::new(twin.clone()),
        hash: None,
    });
    let answer = s
        .place()
        .execute(&ann, command(vec![(s.mug, 1)], Some("k-2")))
        .await
        .unwrap();
    assert_eq!(replayed(answer).id(), twin.id());
}

#[tokio::test]
async fn a_twin_request_with_another_body_or_a_vanished_key_is_a_conflict() {
    let s = shop();
    let ann = actor(&[Role::User]);
    let twin = s.one_mug_for(&ann).await;
    s.orders.will(NextPlace::TwinWon {
        twin: Box::new(twin),
        hash: Some("another body".into()),
    });
    let message = key_conflict(
        s.place()
            .execute(&ann, command(vec![(s.mug, 1)], Some("k-2")))
            .await,
    );
    assert_eq!(
        message,
        "this Idempotency-Key was used with a different request body"
    );

    s.orders.will(NextPlace::KeyVanished);
    let message = key_conflict(
        s.place()
            .execute(&ann, command(vec![(s.mug, 1)], Some("k-3")))
            .await,
    );
    assert_eq!(message, "this Idempotency-Key is in use by another request");
}

#[tokio::test]
async fn a_replayed_key_whose_order_is_gone_is_not_found() {
    let s = shop();
    let ann = actor(&[Role::User]);
    let cmd = command(vec![(s.mug, 1)], Some("k-1"));
    new_order(s.place().execute(&ann, cmd.clone()).await.unwrap());
    s.orders.orders.orders.lock().unwrap().clear();
    assert!(matches!(
        s.place().execute(&ann, cmd).await,
        Err(AppError::NotFound)
    ));
}

#[tokio::test]
async fn a_status_change_that_keeps_losing_its_race_gives_up_after_three_tries() {
    let s = shop();
    let ann = actor(&[Role::User]);
    let order = s.one_mug_for(&ann).await;
    let racing = Arc::new(KeyedOrders {
        lose_status_races: true,
        ..KeyedOrders::default()
    });
    racing.orders.orders.lock().unwrap().push(order.clone());
    let metrics = Arc::new(CountingMetrics::default());
    let cancel = cancel_order(racing.clone()).with_metrics(metrics.clone());
    match cancel.execute(&ann, order.id()).await {
        Err(AppError::Conflict { field, message }) => {
            assert_eq!(field, Some("status"));
            assert_eq!(message, "the order changed meanwhile; try again");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(racing.status_attempts.load(Ordering::SeqCst), 3);
    assert_eq!(metrics.counts(), (0, 0, 0));
    assert_eq!(racing.stored()[0].status(), OrderStatus::Pending);
}

#[tokio::test]
async fn a_cancelled_order_is_stamped_and_counted_and_an_admin_may_cancel_anyones() {
    let s = shop();
    let ann = actor(&[Role::User]);
    let order = s.one_mug_for(&ann).await;
    let metrics = Arc::new(CountingMetrics::default());
    let admin = actor(&[Role::Admin]);
    let cancelled = cancel_order(s.orders.clone())
        .with_metrics(metrics.clone())
        .execute(&admin, order.id())
        .await
        .unwrap();
    assert_eq!(cancelled.status(), OrderStatus::Cancelled);
    assert_eq!(cancelled.updated_at(), now());
    assert_eq!(s.orders.stored()[0].status(), OrderStatus::Cancelled);
    assert_eq!(metrics.counts(), (0, 1, 0));
    assert!(matches!(
        cancel_order(s.orders.clone())
            .execute(&admin, OrderId::new())
            .await,
        Err(AppError::NotFound)
    ));
}

#[tokio::test]
async fn only_admins_and_owners_read_an_order_and_a_missing_one_is_not_found() {
    let s = shop();
    let ann = actor(&[Role::User]);
    let order = s.one_mug_for(&ann).await;
    let get = get_order(s.orders.clone());
    assert_eq!(get.execute(&ann, order.id()).await.unwrap(), order);
    assert_eq!(
        get.execute(&actor(&[Role::Admin]), order.id())
            .await
            .unwrap(),
        order
    );
    assert!(matches!(
        get.execute(&actor(&[Role::User]), order.id()).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        get.execute(&ann, OrderId::new()).await,
        Err(AppError::NotFound)
    ));
    let change = change_order_status(s.orders.clone());
    assert!(matches!(
        change.execute(&ann, order.id(), "paid").await,
        Err(AppError::Forbidden)
    ));
    let errors = match change
        .execute(&actor(&[Role::Admin]), order.id(), "bogus")
        .await
    {
        Err(AppError::Validation(errors)) => errors,
        other => panic!("{other:?}"),
    };
    assert_eq!(fields(&errors), ["status"]);
}

#[tokio::test]
async fn a_users_list_keeps_their_status_filter_and_page() {
    struct Spy(Mutex<Vec<(OrderFilter, domain::PageRequest)>>);
    #[async_trait]
    impl OrderReadModel for Spy {
        async fn list(
            &self,
            filter: OrderFilter,
            page: domain::PageRequest,
        ) -> Result<domain::Page<Order>, RepositoryError> {
            self.0.lock().unwrap().push((filter, page.clone()));
            Ok(domain::Page {
                items: vec![],
                request: page,
                total: 42,
                next: None,
                total_is_estimate: false,
            })
        }
    }
    let spy = Arc::new(Spy(Mutex::new(vec![])));
    let list = list_orders(spy.clone());
    let user: Actor = actor(&[Role::User]);
    let page = domain::PageRequest::new(3, 5).unwrap();
    let answer = list
        .execute(
            &user,
            OrderFilter {
                user_id: None,
                status: Some(OrderStatus::Paid),
            },
            page.clone(),
        )
        .await
        .unwrap();
    assert_eq!(answer.total, 42);
    let seen = spy.0.lock().unwrap().clone();
    assert_eq!(seen[0].0.user_id, Some(user.user_id));
    assert_eq!(seen[0].0.status, Some(OrderStatus::Paid));
    assert_eq!(seen[0].1, page);
    list.execute(&actor(&[Role::Admin]), OrderFilter::default(), page)
        .await
        .unwrap();
    assert_eq!(spy.0.lock().unwrap()[1].0.user_id, None);
}

/// A T-shirt in sizes S (5 at 10.00) and M (2 at 12.00), as stored.
fn shirt() -> (domain::Product, domain::VariantId, domain::VariantId) {
    let options = domain::ProductOptions::parse(&[domain::OptionInput {
        name: "Size".into(),
        values: vec!["S".into(), "M".into()],
    }])
    .unwrap();
    let size = |value: &str| {
        let mut v = domain::Validator::new();
        domain::OptionValues::parse(&mut v, "option_values", &options, [("Size", value)]).unwrap()
    };
    let variant = |value: &str, price: &str, stock: i64, position: i64| domain::Variant {
        id: domain::VariantId::new(),
        sku: domain::Sku::parse(&format!("TEE-{value}")).unwrap(),
        option_values: size(value),
        price: domain::Money::parse(price, domain::Currency::parse("EUR").unwrap()).unwrap(),
        compare_at_price: None,
        stock: domain::Stock::new(stock).unwrap(),
        position: domain::Position::new(position).unwrap(),
    };
    let (s, m) = (variant("S", "10.00", 5, 0), variant("M", "12.00", 2, 1));
    let (s_id, m_id) = (s.id, m.id);
    let mut p = product("TEE-S", "10.00", 5);
    p.variants = domain::VariantSet::new(options.clone(), vec![s, m]).unwrap();
    (p, s_id, m_id)
}

#[tokio::test]
async fn a_product_of_several_variants_is_ordered_by_variant_only() {
    let products = Arc::new(MemoryProducts::default());
    let (tee, small, medium) = shirt();
    let tee_id = tee.id;
    products.items.lock().unwrap().push(tee);
    let orders = Arc::new(KeyedOrders::default());
    let place = place_order(orders.clone(), products.clone());
    let me = actor(&[Role::User]);

    // By product: which variant is meant is not said.
    let by_product = command(vec![(tee_id, 1)], None);
    match place.execute(&me, by_product).await {
        Err(AppError::Validation(errors)) => {
            assert_eq!(fields(&errors), ["items[0].variant_id"]);
            assert!(errors[0].message.contains("2 variants"), "{errors:?}");
        }
        other => panic!("{other:?}"),
    }

    // By variant: each line names its variant, its title and its price; the same variant
    // twice is one line.
    let cmd = PlaceOrderCommand {
        items: vec![
            (OrderItem::Variant(medium), 1),
            (OrderItem::Variant(small), 2),
            (OrderItem::Variant(medium), 1),
        ],
        shipping_address: None,
        idempotency_key: None,
    };
    let Placed::New(order) = place.execute(&me, cmd).await.unwrap() else {
        panic!("not placed");
    };
    let lines: Vec<_> = order
        .lines()
        .iter()
        .map(|l| {
            (
                l.product_id,
                l.variant_id,
                l.variant_title.as_str(),
                l.sku.as_str(),
                l.unit_price.minor(),
                l.quantity.get(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (tee_id, medium, "M", "TEE-M", 1200, 2),
            (tee_id, small, "S", "TEE-S", 1000, 2),
        ]
    );
    assert_eq!(order.total().minor(), 4400);

    // An unknown variant names its line.
    let unknown = PlaceOrderCommand {
        items: vec![
            (OrderItem::Variant(small), 1),
            (OrderItem::Variant(domain::VariantId::new()), 1),
        ],
        shipping_address: None,
        idempotency_key: None,
    };
    match place.execute(&me, unknown).await {
        Err(AppError::Validation(errors)) => {
            assert_eq!(fields(&errors), ["items[1].variant_id"]);
        }
        other => panic!("{other:?}"),
    }
}
