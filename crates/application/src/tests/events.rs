//! The events each change writes with itself: their types, their data (the resource as the
//! API shows it, here through `TextJson`), their times and their conditions.

use std::sync::Arc;

use domain::{
    Event, EventCondition, EventType, OrderStatus, Page, PageRequest, PendingEvent, ProductChanges,
    Role,
};

use super::*;
use crate::events::{DEFAULT_LOW_STOCK_THRESHOLD, ListEvents};
use crate::ordering::{IdempotencyKey, PlaceOrderCommand, Placed};
use crate::ports::ProductView;
use crate::testing::{MemoryProducts, MemoryUsers, actor, events, sample_user};

fn types(events: &[PendingEvent]) -> Vec<EventType> {
    events.iter().map(|e| e.event.event_type).collect()
}

fn view(p: &Product) -> ProductView {
    ProductView {
        product: p.clone(),
        images: Vec::new(),
        categories: Vec::new(),
    }
}

#[test]
fn the_default_threshold_is_five() {
    assert_eq!(DEFAULT_LOW_STOCK_THRESHOLD, 5);
}

#[test]
fn a_product_may_fall_low_when_what_is_left_is_at_most_the_threshold() {
    let e = events();
    assert!(e.may_fall_low(6, 1));
    assert!(e.may_fall_low(5, 0));
    assert!(e.may_fall_low(3, 7));
    assert!(!e.may_fall_low(7, 1));
    assert!(!e.may_fall_low(100, 94));
}

#[test]
fn low_stock_of_an_order_is_written_only_if_the_stock_crossed_in_its_transaction() {
    let p = product("MUG-1", "2.50", 4);
    let pending = events().stock_taken(&view(&p), variant_of(p.id), 2, now());
    assert_eq!(pending.event.event_type, EventType::VariantLowStock);
    assert_eq!(pending.event.data, "product MUG-1 stock 4 images 0");
    assert_eq!(pending.event.created_at, now());
    assert_eq!(
        pending.condition,
        EventCondition::StockFell {
            product: variant_of(p.id),
            taken: 2,
            threshold: 5
        }
    );
}

#[test]
fn a_status_change_tells_of_itself_and_a_payment_or_cancellation_also_as_such() {
    let shop = product("MUG-1", "2.50", 10);
    let variant = variant_of(shop.id);
    let order = Order::place(
        OrderId::new(),
        UserId::new(),
        vec![(shop, variant, domain::Quantity::new(1).unwrap())],
        None,
        now(),
    )
    .unwrap();
    let mut paid = order.clone();
    let later = now() + chrono::TimeDelta::seconds(30);
    paid.change_status(OrderStatus::Paid, later).unwrap();
    let made = events().order_status_changed(&paid);
    assert_eq!(
        types(&made),
        [EventType::OrderStatusChanged, EventType::OrderPaid]
    );
    assert_eq!(made[0].event.data, format!("order {} paid", order.id()));
    assert_eq!(made[1].event.data, format!("order {} paid", order.id()));
    assert_eq!(made[0].event.created_at, later);
    assert_eq!(made[1].event.created_at, later);
    assert_eq!(made[0].condition, EventCondition::Always);
    assert_eq!(made[1].condition, EventCondition::Always);

    // Shipped (and delivered) tell of the change alone.
    let mut shipped = paid.clone();
    shipped.change_status(OrderStatus::Shipped, later).unwrap();
    let made = events().order_status_changed(&shipped);
    assert_eq!(types(&made), [EventType::OrderStatusChanged]);

    let mut cancelled = order.clone();
    cancelled
        .change_status(OrderStatus::Cancelled, later)
        .unwrap();
    let made = events().order_status_changed(&cancelled);
    assert_eq!(
        types(&made),
        [EventType::OrderStatusChanged, EventType::OrderCancelled]
    );
    assert_eq!(
        made[1].event.data,
        format!("order {} cancelled", order.id())
    );
    assert_ne!(made[0].event.id, made[1].event.id);

    let placed = events().order_placed(&order);
    assert_eq!(placed.event.event_type, EventType::OrderPlaced);
    assert_eq!(placed.event.data, format!("order {} pending", order.id()));
    assert_eq!(placed.event.created_at, order.created_at());
}

#[test]
fn an_update_that_sets_stock_low_also_tells_of_low_stock() {
    let e = events();
    for (stock, set, expected) in [
        (
            5,
            true,
            vec![EventType::ProductUpdated, EventType::VariantLowStock],
        ),
        (
            0,
            true,
            vec![EventType::ProductUpdated, EventType::VariantLowStock],
        ),
        (6, true, vec![EventType::ProductUpdated]),
        (1, false, vec![EventType::ProductUpdated]),
    ] {
        let p = product("MUG-1", "2.50", stock);
        let made = e.product_updated(&view(&p), set);
        assert_eq!(types(&made), expected, "stock {stock}, set {set}");
        for m in &made {
            assert_eq!(
                m.event.data,
                format!("product MUG-1 stock {stock} images 0")
            );
            assert_eq!(m.event.created_at, p.updated_at);
            assert_eq!(m.condition, EventCondition::Always);
        }
    }
}

#[tokio::test]
async fn placing_writes_the_order_and_the_low_stock_it_may_cause_and_a_replay_nothing() {
    let products = Arc::new(MemoryProducts::default());
    let low = product("LOW-1", "1.00", 6);
    let plenty = product("MANY-1", "1.00", 100);
    let (low_id, plenty_id) = (low.id, plenty.id);
    products.items.lock().unwrap().extend([low, plenty]);
    let orders = Arc::new(KeyedOrders::default());
    let place = place_order(orders.clone(), products.clone());
    let cmd = PlaceOrderCommand {
        items: vec![
            (crate::ordering::OrderItem::Product(low_id), 1),
            (
                crate::ordering::OrderItem::Variant(variant_of(plenty_id)),
                3,
            ),
        ],
        shipping_address: None,
        idempotency_key: Some(IdempotencyKey::parse("k-1").unwrap()),
    };
    let me = actor(&[Role::User]);
    let Placed::New(order) = place.execute(&me, cmd.clone()).await.unwrap() else {
        panic!("not placed");
    };
    let written = orders.orders.events.lock().unwrap().clone();
    assert_eq!(
        types(&written),
        [EventType::OrderPlaced, EventType::VariantLowStock]
    );
    assert_eq!(
        written[0].event.data,
        format!("order {} pending", order.id())
    );
    assert_eq!(written[1].event.data, "product LOW-1 stock 5 images 0");
    assert_eq!(
        written[1].condition,
        EventCondition::StockFell {
            product: variant_of(low_id),
            taken: 1,
            threshold: 5
        }
    );
    assert!(matches!(
        place.execute(&me, cmd).await.unwrap(),
        Placed::Replayed(_)
    ));
    assert_eq!(orders.orders.events.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn products_tell_of_their_creation_change_and_removal() {
    let products = Arc::new(MemoryProducts::default());
    let admin = actor(&[Role::Admin]);
    let created = create_product(products.clone())
        .execute(
            &admin,
            crate::catalog::CreateProductCommand {
                sku: Some("MUG-1".into()),
                name: "Mug".into(),
                description: None,
                price: Some(crate::catalog::PriceInput {
                    amount: "2.50".into(),
                    currency: "EUR".into(),
                }),
                stock: Some(9),
                slug: None,
                status: None,
                category_ids: Vec::new(),
                options: Vec::new(),
                variants: None,
            },
        )
        .await
        .unwrap();
    products.add_image(created.product.id);
    update_product(products.clone(), products.clone())
        .execute(
            &admin,
            created.product.id,
            crate::catalog::UpdateProductCommand {
                stock: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    delete_product(
        products.clone(),
        products.clone(),
        Arc::new(crate::testing::MemoryStore::default()),
    )
    .execute(&admin, created.product.id)
    .await
    .unwrap();
    let written = products.events.lock().unwrap().clone();
    assert_eq!(
        types(&written),
        [
            EventType::ProductCreated,
            EventType::ProductUpdated,
            EventType::VariantLowStock,
            EventType::ProductDeleted
        ]
    );
    let data: Vec<&str> = written.iter().map(|e| e.event.data.as_str()).collect();
    assert_eq!(
        data,
        [
            "product MUG-1 stock 9 images 0",
            "product MUG-1 stock 2 images 1",
            "product MUG-1 stock 2 images 1",
            "product MUG-1 stock 2 images 1",
        ]
    );
    // Nothing is written for a product that is not there.
    let _ = ProductChanges::default();
    assert!(
        update_product(products.clone(), products.clone())
            .execute(&admin, created.product.id, Default::default())
            .await
            .is_err()
    );
    assert_eq!(products.events.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn a_registration_tells_of_the_new_account() {
    let users = Arc::new(MemoryUsers::default());
    let user = register_user(
        Arc::new(crate::testing::MemoryIdentity::default()),
        users.clone(),
    )
    .execute(crate::accounts::RegisterCommand {
        email: "ann@example.com".into(),
        password: "correct horse".into(),
        username: Some("ann".into()),
        first_name: None,
        last_name: None,
    })
    .await
    .unwrap();
    let written = users.events.lock().unwrap().clone();
    assert_eq!(types(&written), [EventType::UserRegistered]);
    assert_eq!(written[0].event.data, "user ann");
    assert_eq!(written[0].event.created_at, user.created_at);
    let _ = sample_user;
}

#[tokio::test]
async fn only_admins_read_the_event_log_and_the_filter_reaches_the_store() {
    struct Spy(std::sync::Mutex<Option<Option<EventType>>>);
    #[async_trait::async_trait]
    impl crate::ports::EventReadModel for Spy {
        async fn list(
            &self,
            t: Option<EventType>,
            page: PageRequest,
        ) -> Result<Page<Event>, RepositoryError> {
            *self.0.lock().unwrap() = Some(t);
            Ok(Page::empty(page))
        }
    }
    let spy = Arc::new(Spy(std::sync::Mutex::new(None)));
    let list = ListEvents { reads: spy.clone() };
    assert!(matches!(
        list.execute(
            &actor(&[Role::User]),
            Some(EventType::OrderPlaced),
            PageRequest::default()
        )
        .await,
        Err(crate::AppError::Forbidden)
    ));
    assert_eq!(*spy.0.lock().unwrap(), None);
    list.execute(
        &actor(&[Role::Admin]),
        Some(EventType::OrderPlaced),
        PageRequest::default(),
    )
    .await
    .unwrap();
    assert_eq!(*spy.0.lock().unwrap(), Some(Some(EventType::OrderPlaced)));
}
