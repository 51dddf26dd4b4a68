//! `SqlCarts`: a cart reads back exactly as written (guest and user, every detail), its lines
//! in the order they were added; a save is a compare-and-set of the version that replaces the
//! lines; the live view reads today's prices, stock and sale status of each line's variant;
//! expiry deletes only open carts past their time.

use domain::{
    Cart, CartOwner, CartRepository, CartStatus, Email, LiveVariant, Money, ProductChanges,
    ProductRepository, ProductStatus, PromotionCode, Quantity, ShippingOptionId, Stock, TokenHash,
    UserId, VariantId,
};
use infrastructure::db::SqlCarts;

use crate::support::*;

on_both_backends!(
    a_cart_reads_back_exactly_with_its_lines_in_the_order_added,
    a_save_replaces_the_lines_and_loses_to_a_save_made_since_the_read,
    the_live_view_reads_todays_price_stock_and_sale_status,
    expiry_deletes_only_open_carts_past_their_time,
    orders_from_before_carts_and_orders_without_a_cart_have_their_total_as_subtotal,
);

fn q(n: i64) -> Quantity {
    Quantity::new(n).unwrap()
}

fn guest_cart(token: &str) -> Cart {
    Cart::new(
        CartOwner::Guest(TokenHash::of(token)),
        eur(),
        None,
        at(0),
        at(1000),
    )
}

async fn a_cart_reads_back_exactly_with_its_lines_in_the_order_added(t: TestDb) {
    let carts = SqlCarts::new(t.db.clone());
    let mut c = guest_cart("tok");
    let (a, b, d) = (VariantId::new(), VariantId::new(), VariantId::new());
    c.add(b, q(3)).unwrap();
    c.add(a, q(1000)).unwrap();
    c.add(d, q(1)).unwrap();
    c.set_email(Some(Email::parse("guest@example.com").unwrap()))
        .unwrap();
    c.set_shipping_address(Some(address())).unwrap();
    c.set_shipping_option(Some(ShippingOptionId::new()))
        .unwrap();
    c.set_discount_code(Some(PromotionCode::parse("Save-10").unwrap()))
        .unwrap();
    carts.insert(&c).await.unwrap();
    let back = carts.get(c.id()).await.unwrap().unwrap();
    assert_eq!(back, c);
    assert!(back.opens_with("tok"));
    assert!(!back.opens_with("tok2"));
    let order: Vec<VariantId> = back.items().iter().map(|i| i.variant_id).collect();
    assert_eq!(order, vec![b, a, d]);

    let user = UserId::new();
    let mine = Cart::new(CartOwner::User(user), eur(), None, at(1), at(2));
    carts.insert(&mine).await.unwrap();
    let back = carts.get(mine.id()).await.unwrap().unwrap();
    assert_eq!(back, mine);
    assert!(back.is_owned_by(user));
    assert!(carts.get(domain::CartId::new()).await.unwrap().is_none());
    assert!(
        carts
            .get_live(domain::CartId::new())
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_save_replaces_the_lines_and_loses_to_a_save_made_since_the_read(t: TestDb) {
    let carts = SqlCarts::new(t.db.clone());
    let mut c = guest_cart("tok");
    let first = c.add(VariantId::new(), q(1)).unwrap();
    carts.insert(&c).await.unwrap();

    let mut one = carts.get(c.id()).await.unwrap().unwrap();
    let mut two = carts.get(c.id()).await.unwrap().unwrap();
    one.remove(first).unwrap();
    let kept = one.add(VariantId::new(), q(7)).unwrap();
    one.claim(UserId::new()).unwrap();
    one.touch(at(5), at(2000));
    assert!(carts.save(&one).await.unwrap());
    // `two` was read before `one` was saved: its save is refused and changes nothing.
    two.add(VariantId::new(), q(2)).unwrap();
    assert!(!carts.save(&two).await.unwrap());

    let back = carts.get(c.id()).await.unwrap().unwrap();
    assert_eq!(back.parts().version, one.parts().version + 1);
    assert_eq!(back.items().len(), 1);
    assert_eq!(back.items()[0].id, kept);
    assert_eq!(back.items()[0].quantity.get(), 7);
    assert_eq!(back.owner(), one.owner());
    assert_eq!(back.parts().updated_at, at(5));
    assert_eq!(back.parts().expires_at, at(2000));

    // Completing is a save like any other; what is read back refuses changes.
    let mut done = back;
    done.complete().unwrap();
    assert!(carts.save(&done).await.unwrap());
    let back = carts.get(c.id()).await.unwrap().unwrap();
    assert_eq!(back.status(), CartStatus::Completed);
    // A cart that does not exist is not saved.
    assert!(!carts.save(&guest_cart("other")).await.unwrap());
}

async fn the_live_view_reads_todays_price_stock_and_sale_status(t: TestDb) {
    let carts = SqlCarts::new(t.db.clone());
    let mug = product("MUG-1", "Mug", "9.50", 4);
    let tee = product("TEE-1", "Tee", "20.00", 0);
    t.insert_products(&[&mug, &tee]).await;
    let mut c = guest_cart("tok");
    c.add(variant_of(mug.id), q(2)).unwrap();
    c.add(variant_of(tee.id), q(1)).unwrap();
    let gone = VariantId::new();
    c.add(gone, q(1)).unwrap();
    carts.insert(&c).await.unwrap();

    let (cart, live) = carts.get_live(c.id()).await.unwrap().unwrap();
    assert_eq!(cart, c);
    assert_eq!(
        live.len(),
        2,
        "a line whose variant does not exist has no entry"
    );
    let mug_live = LiveVariant {
        variant_id: variant_of(mug.id),
        product_id: mug.id,
        sku: mug.variants.first().sku.clone(),
        name: mug.name.clone(),
        variant_title: "Default Title".into(),
        price: Money::parse("9.50", eur()).unwrap(),
        stock: Stock::new(4).unwrap(),
        for_sale: true,
    };
    assert_eq!(live[0], mug_live);
    assert_eq!(live[1].stock.get(), 0);
    assert!(live[1].for_sale);

    // Today's price and status: the view follows the catalog.
    let products = infrastructure::db::SqlProducts::new(t.db.clone());
    products
        .update(
            mug.id,
            &ProductChanges {
                price: Some(Money::parse("11.25", eur()).unwrap()),
                ..ProductChanges::default()
            },
            at(10),
        )
        .await
        .unwrap()
        .unwrap();
    products
        .update(
            tee.id,
            &ProductChanges {
                status: Some(ProductStatus::Archived),
                ..ProductChanges::default()
            },
            at(10),
        )
        .await
        .unwrap()
        .unwrap();
    let (_, live) = carts.get_live(c.id()).await.unwrap().unwrap();
    assert_eq!(live[0].price, Money::parse("11.25", eur()).unwrap());
    assert!(live[0].for_sale);
    assert!(!live[1].for_sale);
    products.delete(mug.id, at(11)).await.unwrap().unwrap();
    let (_, live) = carts.get_live(c.id()).await.unwrap().unwrap();
    assert!(!live[0].for_sale, "a deleted product is not for sale");
}

async fn expiry_deletes_only_open_carts_past_their_time(t: TestDb) {
    let carts = SqlCarts::new(t.db.clone());
    let mut stale = guest_cart("a");
    stale.touch(at(0), at(100));
    stale.add(VariantId::new(), q(1)).unwrap();
    let mut also_stale = guest_cart("b");
    also_stale.touch(at(0), at(50));
    let mut fresh = guest_cart("c");
    fresh.touch(at(0), at(101));
    let mut done = guest_cart("d");
    done.touch(at(0), at(10));
    done.complete().unwrap();
    for c in [&stale, &also_stale, &fresh, &done] {
        carts.insert(c).await.unwrap();
    }
    // At most `limit` per call, the longest expired first.
    assert_eq!(carts.delete_expired(at(100), 1).await.unwrap(), 1);
    assert!(carts.get(also_stale.id()).await.unwrap().is_none());
    assert!(carts.get(stale.id()).await.unwrap().is_some());
    assert_eq!(carts.delete_expired(at(100), 10).await.unwrap(), 1);
    assert!(carts.get(stale.id()).await.unwrap().is_none());
    assert!(carts.get(fresh.id()).await.unwrap().is_some());
    assert!(carts.get(done.id()).await.unwrap().is_some());
    assert_eq!(carts.delete_expired(at(100), 10).await.unwrap(), 0);
    // Its lines went with it: a new cart may reuse nothing, but no line is left behind.
    let left: i64 = match &t.db {
        infrastructure::Database::Sqlite { write, .. } => {
            sqlx::query_scalar("SELECT COUNT(*) FROM cart_items")
                .fetch_one(write)
                .await
                .unwrap()
        }
        infrastructure::Database::Postgres(pool) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM cart_items")
                .fetch_one(pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(left, 0);
}

/// The parts of an order's total as stored: subtotal, discount, shipping, tax, payment status.
async fn order_parts(t: &TestDb, id: domain::OrderId) -> (i64, i64, i64, i64, i64, String) {
    let sql = "SELECT total_minor, subtotal_minor, discount_total_minor, shipping_total_minor, \
               tax_total_minor, payment_status FROM orders WHERE id = $1";
    match &t.db {
        infrastructure::Database::Sqlite { write, .. } => sqlx::query_as(sql)
            .bind(id.as_uuid())
            .fetch_one(write)
            .await
            .unwrap(),
        infrastructure::Database::Postgres(pool) => sqlx::query_as(sql)
            .bind(id.as_uuid())
            .fetch_one(pool)
            .await
            .unwrap(),
    }
}

async fn orders_from_before_carts_and_orders_without_a_cart_have_their_total_as_subtotal(
    t: TestDb,
) {
    use domain::OrderRepository;
    let Some(old) = TestDb::like_up_to(&t, 12).await else {
        return;
    };
    // As the older release wrote it (an order's lines do not matter here).
    let before = domain::OrderId::new();
    let sql = "INSERT INTO orders (id, user_id, status, total_minor, currency, created_at, \
               updated_at) VALUES ($1, $2, 'pending', 1900, 'EUR', $3, $3)";
    match &old.db {
        infrastructure::Database::Sqlite { write, .. } => sqlx::query(sql)
            .bind(before.as_uuid())
            .bind(uuid::Uuid::now_v7())
            .bind(at(1))
            .execute(write)
            .await
            .map(|_| ())
            .unwrap(),
        infrastructure::Database::Postgres(pool) => sqlx::query(sql)
            .bind(before.as_uuid())
            .bind(uuid::Uuid::now_v7())
            .bind(at(1))
            .execute(pool)
            .await
            .map(|_| ())
            .unwrap(),
    }
    old.db.migrate().await.unwrap();
    assert_eq!(
        order_parts(&old, before).await,
        (1900, 1900, 0, 0, 0, "unpaid".into())
    );
    let mug = product("MUG-1", "Mug", "9.50", 10);
    old.insert_products(&[&mug]).await;
    // Placed after 0013 by `POST /orders`: no discount, shipping or tax.
    let after = order(UserId::new(), &[(&mug, 3)], 2);
    old.orders.place(&after, None).await.unwrap();
    assert_eq!(
        order_parts(&old, order_id(&after)).await,
        (2850, 2850, 0, 0, 0, "unpaid".into())
    );
    drop(t);
}
