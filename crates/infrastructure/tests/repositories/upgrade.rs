//! A database an older release left (migrations up to 0010, before variants) keeps its
//! products and orders through the variants migration: each product becomes one variant with
//! the product's id, and an order placed before reads the same and cancels into that variant.

use application::ports::{Lookup, ProductReadModel};
use domain::{
    Money, OrderId, OrderRepository, OrderStatus, ProductId, ProductRepository, RepositoryError,
    UserId,
};
use infrastructure::Database;
use uuid::Uuid;

use crate::support::*;

/// Runs `$sql` with `$args` bound on whichever backend `$db` is.
macro_rules! run {
    ($db:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $db {
            Database::Sqlite { write, .. } => {
                sqlx::query($sql)$(.bind($arg))*.execute(write).await.unwrap();
            }
            Database::Postgres(pool) => {
                sqlx::query($sql)$(.bind($arg))*.execute(pool).await.unwrap();
            }
        }
    };
}

/// The last migration before variants.
const BEFORE_VARIANTS: i64 = 10;

async fn products_and_orders_from_before_variants_read_and_cancel_the_same(t: TestDb) {
    let Some(old) = TestDb::like_up_to(&t, BEFORE_VARIANTS).await else {
        return;
    };
    drop(t);
    let (mug, gone, order, user) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    // As the older release wrote them: 10 mugs, of which an order took 2; and a deleted
    // product.
    run!(
        &old.db,
        "INSERT INTO products (id, sku, name, slug, status, description, price_minor, currency, \
         stock, search_text, created_at, updated_at) \
         VALUES ($1, 'OLD-1', 'Old mug', 'old-mug', 'active', NULL, 1250, 'EUR', 8, 'old mug', $2, $2)",
        mug,
        at(0),
    );
    run!(
        &old.db,
        "INSERT INTO products (id, sku, name, slug, status, description, price_minor, currency, \
         stock, search_text, created_at, updated_at, deleted_at) \
         VALUES ($1, 'GONE-1', 'Gone', 'gone', 'active', NULL, 100, 'EUR', 3, 'gone', $2, $2, $2)",
        gone,
        at(0),
    );
    run!(
        &old.db,
        "INSERT INTO orders (id, user_id, status, total_minor, currency, created_at, updated_at) \
         VALUES ($1, $2, 'pending', 2500, 'EUR', $3, $3)",
        order,
        user,
        at(1),
    );
    run!(
        &old.db,
        "INSERT INTO order_lines (order_id, line_no, product_id, sku, name, unit_price_minor, \
         currency, quantity, line_total_minor, created_at, updated_at) \
         VALUES ($1, 0, $2, 'OLD-1', 'Old mug', 1250, 'EUR', 2, 2500, $3, $3)",
        order,
        mug,
        at(1),
    );

    old.db.migrate().await.unwrap();

    let mug = ProductId::from_uuid(mug);
    let p = ProductRepository::get(&old.products, mug)
        .await
        .unwrap()
        .expect("the product");
    assert_eq!(p.variants.variants().len(), 1);
    let v = p.variants.first();
    assert_eq!(v.id, variant_of(mug));
    assert_eq!(v.sku.as_str(), "OLD-1");
    assert_eq!(v.price, Money::from_minor(1250, eur()).unwrap());
    assert_eq!(v.stock.get(), 8);
    assert_eq!(v.compare_at_price, None);
    assert_eq!(v.title(), "Default Title");
    assert!(p.variants.options().as_slice().is_empty());
    assert_eq!(
        (p.sku().as_str(), p.price(), p.stock()),
        ("OLD-1", v.price, 8)
    );
    assert_eq!(p.name.as_str(), "Old mug");
    // The catalog's view reads it the same.
    let view = ProductReadModel::get(&old.products, &Lookup::Id(mug))
        .await
        .unwrap()
        .expect("the product's view");
    assert_eq!(view.product, p);

    let order = OrderId::from_uuid(order);
    let o = old.orders.get(order).await.unwrap().expect("the order");
    assert_eq!(o.user_id(), UserId::from_uuid(user));
    assert_eq!(o.status(), OrderStatus::Pending);
    assert_eq!(o.total().minor(), 2500);
    let line = &o.lines()[0];
    assert_eq!(o.lines().len(), 1);
    assert_eq!(
        (
            line.product_id,
            line.variant_id,
            line.variant_title.as_str()
        ),
        (mug, variant_of(mug), "Default Title")
    );
    assert_eq!(
        (line.sku.as_str(), line.name.as_str(), line.quantity.get()),
        ("OLD-1", "Old mug", 2)
    );
    assert_eq!(line.line_total.minor(), 2500);

    // Cancelling returns the 2 units to the variant, and the product's stock follows.
    assert!(
        old.orders
            .change_status(order, OrderStatus::Pending, OrderStatus::Cancelled, at(5))
            .await
            .unwrap()
    );
    let p = ProductRepository::get(&old.products, mug)
        .await
        .unwrap()
        .expect("the product");
    assert_eq!(p.variants.first().stock.get(), 10);
    assert_eq!(summary_stock(&old, mug).await, 10);

    // The deleted product stays deleted, its variant too: its SKU is free.
    assert_eq!(
        ProductRepository::get(&old.products, ProductId::from_uuid(gone))
            .await
            .unwrap(),
        None
    );
    old.products
        .insert(&product("GONE-1", "Back again", "1", 1))
        .await
        .unwrap();
    // SKUs stay unique among live variants.
    assert!(matches!(
        old.products.insert(&product("OLD-1", "Twin", "1", 1)).await,
        Err(RepositoryError::Conflict("sku"))
    ));
}

on_both_backends!(products_and_orders_from_before_variants_read_and_cancel_the_same);
