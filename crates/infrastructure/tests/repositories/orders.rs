//! `SqlOrders` as the order repository: placement on both paths (SQLite's one-statement fast
//! path when every write lands, the step-by-step path otherwise and always on PostgreSQL),
//! stock taken all or nothing, status compare-and-set, and cancellation returning stock once.

use domain::{
    OrderId, OrderRepository, OrderStatus, PlaceOrderError, Product, ProductId, ProductRepository,
    UserId,
};

use crate::support::*;

/// The stock of the one variant of product `id`, after checking that the product's stock
/// (the sum of its variants', which the lists filter on) says the same.
async fn stock(t: &TestDb, id: ProductId) -> u32 {
    let p = t.products.get(id).await.unwrap().expect("the product");
    let variant = p.variants.first().stock.get();
    assert_eq!(p.stock(), u64::from(variant));
    assert_eq!(
        summary_stock(t, id).await,
        i64::from(variant),
        "products.stock"
    );
    variant
}

async fn stored(t: &TestDb, p: &Product) {
    t.products.insert(p).await.unwrap();
}

async fn an_order_takes_its_stock_and_reads_back_exactly(t: TestDb) {
    let mug = product("MUG-1", "Mug", "2.50", 10);
    let pen = product("PEN-1", "Pen", "0.99", 100);
    stored(&t, &mug).await;
    stored(&t, &pen).await;
    let o = order_to(UserId::new(), &[(&pen, 7), (&mug, 3)], 1, Some(address()));
    t.orders.place(&o, None).await.unwrap();
    assert_eq!(t.orders.get(order_id(&o)).await.unwrap(), Some(o.clone()));
    assert_eq!(order_lines(&o), vec![(pen.id, 7, 693), (mug.id, 3, 750)]);
    assert_eq!(order_total(&o), 1443);
    assert_eq!(stock(&t, mug.id).await, 7);
    assert_eq!(stock(&t, pen.id).await, 93);
    let bare = order(UserId::new(), &[(&mug, 1)], 2);
    t.orders.place(&bare, None).await.unwrap();
    assert_eq!(t.orders.get(order_id(&bare)).await.unwrap(), Some(bare));
    assert_eq!(stock(&t, mug.id).await, 6);
    assert_eq!(t.orders.get(OrderId::new()).await.unwrap(), None);
}

async fn an_order_of_a_hundred_lines_is_placed_whole(t: TestDb) {
    let mut products = Vec::new();
    for i in 0..100 {
        let p = product(&format!("P-{i}"), &format!("Product {i}"), "1.01", 500);
        stored(&t, &p).await;
        products.push(p);
    }
    let lines: Vec<(&Product, i64)> = products.iter().zip(1..).collect();
    let o = order(UserId::new(), &lines, 1);
    t.orders.place(&o, None).await.unwrap();
    assert_eq!(t.orders.get(order_id(&o)).await.unwrap(), Some(o.clone()));
    assert_eq!(order_total(&o), 101 * 5050);
    for (p, q) in products.iter().zip(1..) {
        assert_eq!(stock(&t, p.id).await, 500 - q, "{}", p.sku().as_str());
    }
}

async fn the_last_units_can_be_ordered_but_not_one_more(t: TestDb) {
    let mug = product("MUG-1", "Mug", "1", 3);
    stored(&t, &mug).await;
    t.orders
        .place(&order(UserId::new(), &[(&mug, 3)], 1), None)
        .await
        .unwrap();
    assert_eq!(stock(&t, mug.id).await, 0);
    let late = order(UserId::new(), &[(&mug, 1)], 2);
    assert!(matches!(
        t.orders.place(&late, None).await,
        Err(PlaceOrderError::InsufficientStock(id)) if id == variant_of(mug.id)
    ));
    assert_eq!(t.orders.get(order_id(&late)).await.unwrap(), None);
    assert_eq!(stock(&t, mug.id).await, 0);
}

async fn an_order_short_of_one_product_takes_no_stock_at_all_and_names_it(t: TestDb) {
    let mug = product("MUG-1", "Mug", "1", 10);
    let pen = product("PEN-1", "Pen", "1", 4);
    let cup = product("CUP-1", "Cup", "1", 10);
    for p in [&mug, &pen, &cup] {
        stored(&t, p).await;
    }
    let o = order(UserId::new(), &[(&mug, 2), (&pen, 5), (&cup, 1)], 1);
    assert!(matches!(
        t.orders.place(&o, None).await,
        Err(PlaceOrderError::InsufficientStock(id)) if id == variant_of(pen.id)
    ));
    assert_eq!(t.orders.get(order_id(&o)).await.unwrap(), None);
    assert_eq!(
        (
            stock(&t, mug.id).await,
            stock(&t, pen.id).await,
            stock(&t, cup.id).await
        ),
        (10, 4, 10)
    );
    // The same products in stock afterwards are placed normally.
    let ok = order(UserId::new(), &[(&mug, 2), (&pen, 4), (&cup, 1)], 2);
    t.orders.place(&ok, None).await.unwrap();
    assert_eq!(
        (
            stock(&t, mug.id).await,
            stock(&t, pen.id).await,
            stock(&t, cup.id).await
        ),
        (8, 0, 9)
    );
}

async fn an_order_of_a_deleted_or_unknown_product_is_refused_as_unknown(t: TestDb) {
    let mug = product("MUG-1", "Mug", "1", 10);
    let gone = product("GONE-1", "Gone", "1", 10);
    let never = product("NEVER-1", "Never", "1", 10);
    stored(&t, &mug).await;
    stored(&t, &gone).await;
    t.products.delete(gone.id, at(1)).await.unwrap();
    let o = order(UserId::new(), &[(&mug, 1), (&gone, 1)], 2);
    assert!(matches!(
        t.orders.place(&o, None).await,
        Err(PlaceOrderError::UnknownProduct(id)) if id == gone.id
    ));
    let o = order(UserId::new(), &[(&never, 1)], 3);
    assert!(matches!(
        t.orders.place(&o, None).await,
        Err(PlaceOrderError::UnknownProduct(id)) if id == never.id
    ));
    assert_eq!(stock(&t, mug.id).await, 10);
}

async fn cancelling_returns_the_stock_exactly_once(t: TestDb) {
    let mug = product("MUG-1", "Mug", "1", 10);
    let pen = product("PEN-1", "Pen", "1", 10);
    stored(&t, &mug).await;
    stored(&t, &pen).await;
    let o = order(UserId::new(), &[(&mug, 3), (&pen, 1)], 1);
    t.orders.place(&o, None).await.unwrap();
    assert_eq!(stock(&t, mug.id).await, 7);
    let id = order_id(&o);
    // Two cancellations race: one compare-and-set wins.
    let (a, b) = tokio::join!(
        t.orders
            .change_status(id, OrderStatus::Pending, OrderStatus::Cancelled, at(5)),
        t.orders
            .change_status(id, OrderStatus::Pending, OrderStatus::Cancelled, at(5)),
    );
    assert_eq!(
        [a.unwrap(), b.unwrap()].iter().filter(|won| **won).count(),
        1
    );
    assert_eq!((stock(&t, mug.id).await, stock(&t, pen.id).await), (10, 10));
    assert!(
        !t.orders
            .change_status(id, OrderStatus::Pending, OrderStatus::Cancelled, at(6))
            .await
            .unwrap()
    );
    assert_eq!((stock(&t, mug.id).await, stock(&t, pen.id).await), (10, 10));
    let cancelled = t.orders.get(id).await.unwrap().unwrap();
    assert_eq!(order_status(&cancelled), OrderStatus::Cancelled);
    assert_eq!(order_updated_at(&cancelled), at(5));
}

async fn a_status_change_is_a_compare_and_set_and_only_cancelling_returns_stock(t: TestDb) {
    let mug = product("MUG-1", "Mug", "1", 10);
    stored(&t, &mug).await;
    let o = order(UserId::new(), &[(&mug, 4)], 1);
    t.orders.place(&o, None).await.unwrap();
    let id = order_id(&o);
    use OrderStatus::*;
    assert!(
        !t.orders
            .change_status(id, Paid, Shipped, at(2))
            .await
            .unwrap()
    );
    assert_eq!(
        order_status(&t.orders.get(id).await.unwrap().unwrap()),
        Pending
    );
    assert!(
        t.orders
            .change_status(id, Pending, Paid, at(3))
            .await
            .unwrap()
    );
    assert!(
        t.orders
            .change_status(id, Paid, Shipped, at(4))
            .await
            .unwrap()
    );
    let shipped = t.orders.get(id).await.unwrap().unwrap();
    assert_eq!(
        (order_status(&shipped), order_updated_at(&shipped)),
        (Shipped, at(4))
    );
    assert_eq!(stock(&t, mug.id).await, 6);

    let paid = order(UserId::new(), &[(&mug, 2)], 5);
    t.orders.place(&paid, None).await.unwrap();
    // Paying takes nothing more; cancelling the paid order gives its 2 back.
    for (from, to, secs, left) in [(Pending, Paid, 6, 4), (Paid, Cancelled, 7, 6)] {
        assert!(
            t.orders
                .change_status(order_id(&paid), from, to, at(secs))
                .await
                .unwrap()
        );
        assert_eq!(stock(&t, mug.id).await, left);
    }
    assert!(
        !t.orders
            .change_status(OrderId::new(), Pending, Cancelled, at(8))
            .await
            .unwrap()
    );
}

on_both_backends!(
    an_order_takes_its_stock_and_reads_back_exactly,
    an_order_of_a_hundred_lines_is_placed_whole,
    the_last_units_can_be_ordered_but_not_one_more,
    an_order_short_of_one_product_takes_no_stock_at_all_and_names_it,
    an_order_of_a_deleted_or_unknown_product_is_refused_as_unknown,
    cancelling_returns_the_stock_exactly_once,
    a_status_change_is_a_compare_and_set_and_only_cancelling_returns_stock,
);
