//! A product of several variants through the SQL adapters: it reads back whole (options,
//! option values, struck-through prices), the product row keeps the summary the lists use,
//! orders take and cancelling returns each variant's stock, and deleting the product frees
//! every variant's SKU.

use application::ports::{Lookup, ProductFilter, ProductReadModel};
use domain::{
    Money, OptionInput, OptionValues, Order, OrderId, OrderRepository, OrderStatus, PageRequest,
    PlaceOrderError, Position, Product, ProductOptions, ProductRepository, Quantity,
    RepositoryError, Sku, Stock, UserId, Validator, Variant, VariantId, VariantSet,
};

use crate::support::*;

/// A T-shirt in Size S, M, L and Color Red, Blue: three of the six combinations, listed out
/// of position order (M first), priced 12.00, 10.00 and 14.00 with stock 4, 6 and 0.
fn shirt() -> Product {
    let options = ProductOptions::parse(&[
        OptionInput {
            name: "Size".into(),
            values: vec!["S".into(), "M".into(), "L".into()],
        },
        OptionInput {
            name: "Color".into(),
            values: vec!["Red".into(), "Blue".into()],
        },
    ])
    .unwrap();
    let variant = |size: &str, color: &str, minor: i64, stock: i64, position: i64| {
        let mut v = Validator::new();
        let option_values = OptionValues::parse(
            &mut v,
            "option_values",
            &options,
            [("Color", color), ("Size", size)],
        )
        .unwrap();
        Variant {
            id: VariantId::new(),
            sku: Sku::parse(&format!("TEE-{size}-{color}")).unwrap(),
            option_values,
            price: Money::from_minor(minor, eur()).unwrap(),
            compare_at_price: (minor == 1200).then(|| Money::from_minor(1500, eur()).unwrap()),
            stock: Stock::new(stock).unwrap(),
            position: Position::new(position).unwrap(),
        }
    };
    let variants = vec![
        variant("M", "Blue", 1200, 4, 1),
        variant("S", "Red", 1000, 6, 0),
        variant("L", "Red", 1400, 0, 2),
    ];
    Product {
        variants: VariantSet::new(options, variants).unwrap(),
        ..product("TEE-0", "Tee", "1", 1)
    }
}

/// The variant of `p` titled `title`.
fn titled(p: &Product, title: &str) -> Variant {
    p.variants
        .variants()
        .iter()
        .find(|v| v.title() == title)
        .unwrap_or_else(|| panic!("no variant {title}"))
        .clone()
}

/// An order of `(variant, quantity)` lines of `p`.
fn order_of(p: &Product, lines: &[(&Variant, u32)], secs: i64) -> Order {
    Order::place(
        OrderId::new(),
        UserId::new(),
        lines
            .iter()
            .map(|(v, q)| (p.clone(), v.id, Quantity::new(i64::from(*q)).unwrap()))
            .collect(),
        None,
        at(secs),
    )
    .unwrap()
}

/// Each variant's stock by title, and the product row's `stock`.
async fn stocks(t: &TestDb, p: &Product) -> (Vec<(String, u32)>, i64) {
    let stored = ProductRepository::get(&t.products, p.id)
        .await
        .unwrap()
        .expect("the product");
    let mut by_title: Vec<(String, u32)> = stored
        .variants
        .variants()
        .iter()
        .map(|v| (v.title(), v.stock.get()))
        .collect();
    by_title.sort();
    (by_title, summary_stock(t, p.id).await)
}

fn titled_stock(pairs: &[(&str, u32)]) -> Vec<(String, u32)> {
    pairs.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
}

async fn a_product_of_several_variants_reads_back_whole_and_sums_up(t: TestDb) {
    let p = shirt();
    t.products.insert(&p).await.unwrap();
    let stored = ProductRepository::get(&t.products, p.id)
        .await
        .unwrap()
        .unwrap();
    // Read back in position order, each with its option values in the options' order.
    let mut expected = p.variants.variants().to_vec();
    expected.sort_by_key(|v| (v.position, v.id));
    assert_eq!(stored.variants.variants(), expected.as_slice());
    assert_eq!(stored.variants.options(), p.variants.options());
    assert_eq!(
        titled(&stored, "M / Blue")
            .compare_at_price
            .unwrap()
            .minor(),
        1500
    );
    assert_eq!(
        (
            stored.sku().as_str(),
            stored.price().minor(),
            stored.stock()
        ),
        ("TEE-S-Red", 1000, 10)
    );
    let view = ProductReadModel::get(&t.products, &Lookup::Id(p.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.product, stored);
    let page = ProductReadModel::list(
        &t.products,
        PageRequest::default(),
        &ProductFilter::default(),
    )
    .await
    .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].product, stored);
    assert_eq!(summary_stock(&t, p.id).await, 10);
    // Each variant's SKU is taken.
    let twin = product("TEE-L-Red", "Other", "1", 1);
    assert!(matches!(
        t.products.insert(&twin).await,
        Err(RepositoryError::Conflict("sku"))
    ));
}

async fn orders_take_and_cancelling_returns_each_variants_stock(t: TestDb) {
    let p = shirt();
    t.products.insert(&p).await.unwrap();
    let (small, medium, large) = (
        titled(&p, "S / Red"),
        titled(&p, "M / Blue"),
        titled(&p, "L / Red"),
    );
    let first = order_of(&p, &[(&medium, 3), (&small, 2)], 1);
    t.orders.place(&first, None).await.unwrap();
    assert_eq!(t.orders.get(first.id()).await.unwrap(), Some(first.clone()));
    assert_eq!(
        stocks(&t, &p).await,
        (
            titled_stock(&[("L / Red", 0), ("M / Blue", 1), ("S / Red", 4)]),
            5
        )
    );
    // One variant short: named, and nothing is taken (the product's sum would suffice).
    let short = order_of(&p, &[(&small, 1), (&medium, 2)], 2);
    assert!(matches!(
        t.orders.place(&short, None).await,
        Err(PlaceOrderError::InsufficientStock(id)) if id == medium.id
    ));
    let none_left = order_of(&p, &[(&large, 1)], 3);
    assert!(matches!(
        t.orders.place(&none_left, None).await,
        Err(PlaceOrderError::InsufficientStock(id)) if id == large.id
    ));
    assert_eq!(stocks(&t, &p).await.1, 5);
    // Cancelling gives each variant its units back.
    assert!(
        t.orders
            .change_status(
                first.id(),
                OrderStatus::Pending,
                OrderStatus::Cancelled,
                at(4)
            )
            .await
            .unwrap()
    );
    assert_eq!(
        stocks(&t, &p).await,
        (
            titled_stock(&[("L / Red", 0), ("M / Blue", 4), ("S / Red", 6)]),
            10
        )
    );
}

async fn deleting_a_product_frees_every_variants_sku(t: TestDb) {
    let p = shirt();
    t.products.insert(&p).await.unwrap();
    t.products.delete(p.id, at(1)).await.unwrap();
    assert_eq!(
        ProductRepository::get(&t.products, p.id).await.unwrap(),
        None
    );
    for sku in ["TEE-S-Red", "TEE-M-Blue", "TEE-L-Red"] {
        t.products
            .insert(&product(sku, "Again", "1", 1))
            .await
            .unwrap();
    }
}

on_both_backends!(
    a_product_of_several_variants_reads_back_whole_and_sums_up,
    orders_take_and_cancelling_returns_each_variants_stock,
    deleting_a_product_frees_every_variants_sku,
);
