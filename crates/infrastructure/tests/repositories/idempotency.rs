//! Idempotency records kept by `SqlOrders::place`: found per user until they expire, claimed
//! once, taken over when expired, and never kept for an order that was refused.

use domain::{
    IdempotencyRecord, Order, OrderRepository, PlaceOrderError, Product, ProductRepository, UserId,
};

use crate::support::*;

fn record(user: UserId, key: &str, hash: &str, o: &Order, expires_secs: i64) -> IdempotencyRecord {
    IdempotencyRecord {
        user_id: user,
        key: key.into(),
        request_hash: hash.into(),
        order_id: order_id(o),
        expires_at: at(expires_secs),
    }
}

async fn mug(t: &TestDb, stock: i64) -> Product {
    let p = product("MUG-1", "Mug", "1", stock);
    t.products.insert(&p).await.unwrap();
    p
}

async fn a_key_is_found_for_its_user_until_it_expires(t: TestDb) {
    let mug = mug(&t, 10).await;
    let ann = UserId::new();
    let o = order(ann, &[(&mug, 1)], 1);
    let key = record(ann, "k-1", &"f".repeat(64), &o, 1 + 86_400);
    t.orders.place(&o, Some(&key)).await.unwrap();
    assert_eq!(
        t.orders.find_key(ann, "k-1", at(2)).await.unwrap(),
        Some(key.clone())
    );
    assert_eq!(
        t.orders.find_key(ann, "k-1", at(86_400)).await.unwrap(),
        Some(key.clone())
    );
    assert_eq!(
        t.orders.find_key(ann, "k-1", at(1 + 86_400)).await.unwrap(),
        None
    );
    assert_eq!(t.orders.find_key(ann, "k-2", at(2)).await.unwrap(), None);
    assert_eq!(t.orders.find_key(ann, "K-1", at(2)).await.unwrap(), None);
    assert_eq!(
        t.orders
            .find_key(UserId::new(), "k-1", at(2))
            .await
            .unwrap(),
        None
    );
}

async fn a_live_key_refuses_a_second_order_and_takes_none_of_its_stock(t: TestDb) {
    let mug = mug(&t, 10).await;
    let ann = UserId::new();
    let first = order(ann, &[(&mug, 2)], 1);
    let key = record(ann, "k-1", "first", &first, 1000);
    t.orders.place(&first, Some(&key)).await.unwrap();
    let second = order(ann, &[(&mug, 3)], 2);
    assert!(matches!(
        t.orders
            .place(&second, Some(&record(ann, "k-1", "second", &second, 1000)))
            .await,
        Err(PlaceOrderError::KeyTaken)
    ));
    assert_eq!(t.orders.get(order_id(&second)).await.unwrap(), None);
    assert_eq!(t.products.get(mug.id).await.unwrap().unwrap().stock(), 8);
    assert_eq!(
        t.orders.find_key(ann, "k-1", at(3)).await.unwrap(),
        Some(key)
    );
}

async fn an_expired_key_is_taken_over_by_the_next_order(t: TestDb) {
    let mug = mug(&t, 10).await;
    let ann = UserId::new();
    let first = order(ann, &[(&mug, 1)], 1);
    t.orders
        .place(&first, Some(&record(ann, "k-1", "first", &first, 10)))
        .await
        .unwrap();
    let second = order(ann, &[(&mug, 1)], 20);
    let key = record(ann, "k-1", "second", &second, 20 + 86_400);
    t.orders.place(&second, Some(&key)).await.unwrap();
    assert_eq!(
        t.orders.find_key(ann, "k-1", at(21)).await.unwrap(),
        Some(key)
    );
    assert_eq!(t.orders.get(order_id(&second)).await.unwrap(), Some(second));
    assert_eq!(t.products.get(mug.id).await.unwrap().unwrap().stock(), 8);
}

async fn one_key_name_of_two_users_is_two_keys(t: TestDb) {
    let mug = mug(&t, 10).await;
    let (ann, bob) = (UserId::new(), UserId::new());
    let a = order(ann, &[(&mug, 1)], 1);
    let b = order(bob, &[(&mug, 1)], 2);
    let ka = record(ann, "k-1", "same", &a, 1000);
    let kb = record(bob, "k-1", "same", &b, 1000);
    t.orders.place(&a, Some(&ka)).await.unwrap();
    t.orders.place(&b, Some(&kb)).await.unwrap();
    assert_eq!(
        t.orders.find_key(ann, "k-1", at(3)).await.unwrap(),
        Some(ka)
    );
    assert_eq!(
        t.orders.find_key(bob, "k-1", at(3)).await.unwrap(),
        Some(kb)
    );
}

async fn a_key_of_a_refused_order_is_not_kept(t: TestDb) {
    let mug = mug(&t, 1).await;
    let ann = UserId::new();
    let short = order(ann, &[(&mug, 2)], 1);
    assert!(matches!(
        t.orders
            .place(&short, Some(&record(ann, "k-1", "short", &short, 1000)))
            .await,
        Err(PlaceOrderError::InsufficientStock(_))
    ));
    assert_eq!(t.orders.find_key(ann, "k-1", at(2)).await.unwrap(), None);
    let ok = order(ann, &[(&mug, 1)], 3);
    let key = record(ann, "k-1", "ok", &ok, 1000);
    t.orders.place(&ok, Some(&key)).await.unwrap();
    assert_eq!(
        t.orders.find_key(ann, "k-1", at(4)).await.unwrap(),
        Some(key)
    );
}

on_both_backends!(
    a_key_is_found_for_its_user_until_it_expires,
    a_live_key_refuses_a_second_order_and_takes_none_of_its_stock,
    an_expired_key_is_taken_over_by_the_next_order,
    one_key_name_of_two_users_is_two_keys,
    a_key_of_a_refused_order_is_not_kept,
);
