//! `SqlProducts` as the product repository: writes, reads, SKU uniqueness, soft deletion.

use domain::{
    Description, Money, Product, ProductChanges, ProductId, ProductName, ProductRepository,
    RepositoryError, Sku, Stock,
};

use crate::support::*;

async fn a_product_reads_back_exactly_as_written(t: TestDb) {
    let p = described(
        product("MUG-1", "Blue Mug", "9.99", 12),
        "Holds tea.\nDishwasher safe.",
    );
    t.products.insert(&p).await.unwrap();
    assert_eq!(t.products.get(p.id).await.unwrap(), Some(p.clone()));
    let plain = product("PEN-1", "Pen", "0.00", 0);
    t.products.insert(&plain).await.unwrap();
    assert_eq!(t.products.get(plain.id).await.unwrap(), Some(plain.clone()));
    let jpy = domain::Currency::parse("JPY").unwrap();
    let big = product("BIG-1", "Big", "1", 1);
    let yen = domain::Product {
        variants: domain::VariantSet::single(
            variant_of(big.id),
            Sku::parse("BIG-1").unwrap(),
            Money::from_minor(Money::MAX_MINOR, jpy).unwrap(),
            Stock::new(Stock::MAX).unwrap(),
        ),
        ..big
    };
    t.products.insert(&yen).await.unwrap();
    assert_eq!(t.products.get(yen.id).await.unwrap(), Some(yen));
    assert_eq!(t.products.get(ProductId::new()).await.unwrap(), None);
}

async fn get_many_answers_the_live_products_asked_for(t: TestDb) {
    let a = product("A-1", "A", "1", 1);
    let b = product("B-1", "B", "2", 2);
    let c = product("C-1", "C", "3", 3);
    t.insert_products(&[&a, &b, &c]).await;
    t.products.delete(c.id, at(5)).await.unwrap();
    let mut found = t
        .products
        .get_many(&[b.id, ProductId::new(), a.id, c.id])
        .await
        .unwrap();
    found.sort_by_key(|p| p.id);
    assert_eq!(found, vec![a, b]);
    assert!(t.products.get_many(&[]).await.unwrap().is_empty());
}

async fn a_live_sku_is_unique_and_a_deleted_products_sku_is_free_again(t: TestDb) {
    let first = product("MUG-1", "Mug", "1", 1);
    t.products.insert(&first).await.unwrap();
    let twin = product("MUG-1", "Other mug", "2", 2);
    assert!(matches!(
        t.products.insert(&twin).await,
        Err(RepositoryError::Conflict("sku"))
    ));
    let other = product("MUG-2", "Mug two", "1", 1);
    t.products.insert(&other).await.unwrap();
    let rename = ProductChanges {
        sku: Some(Sku::parse("MUG-1").unwrap()),
        ..ProductChanges::default()
    };
    assert!(matches!(
        t.products.update(other.id, &rename, at(1)).await,
        Err(RepositoryError::Conflict("sku"))
    ));
    assert_eq!(t.products.get(other.id).await.unwrap(), Some(other.clone()));

    t.products.delete(first.id, at(2)).await.unwrap();
    t.products.insert(&twin).await.unwrap();
    assert_eq!(t.products.get(twin.id).await.unwrap(), Some(twin));
}

/// The product `id` after `changes` at `secs`; panics when there is none.
async fn update_product(t: &TestDb, id: ProductId, changes: &ProductChanges, secs: i64) -> Product {
    t.products
        .update(id, changes, at(secs))
        .await
        .unwrap()
        .unwrap()
}

async fn an_update_changes_the_named_fields_and_the_time_only(t: TestDb) {
    let p = described(product("MUG-1", "Mug", "9.99", 12), "Old text");
    t.products.insert(&p).await.unwrap();
    let changes = ProductChanges {
        name: Some(ProductName::parse("Red Mug").unwrap()),
        price: Some(Money::parse("12.50", eur()).unwrap()),
        ..ProductChanges::default()
    };
    let updated = update_product(&t, p.id, &changes, 60).await;
    let mut expected = p.clone();
    expected.apply(changes, at(60)).unwrap();
    assert_eq!(updated, expected);
    assert_eq!(t.products.get(p.id).await.unwrap(), Some(expected.clone()));

    let clear = ProductChanges {
        description: Some(None),
        stock: Some(Stock::new(0).unwrap()),
        sku: Some(Sku::parse("MUG-9").unwrap()),
        ..ProductChanges::default()
    };
    let cleared = update_product(&t, p.id, &clear, 120).await;
    expected.apply(clear, at(120)).unwrap();
    assert_eq!(cleared, expected);
    assert_eq!(cleared.description, None);
    assert_eq!(t.products.get(p.id).await.unwrap(), Some(expected.clone()));

    let set = ProductChanges {
        description: Some(Some(Description::parse("New text").unwrap())),
        ..ProductChanges::default()
    };
    let described = update_product(&t, p.id, &set, 180).await;
    assert_eq!(described.description.unwrap().as_str(), "New text");
    assert_eq!(
        t.products
            .update(ProductId::new(), &ProductChanges::default(), at(200))
            .await
            .unwrap(),
        None
    );
}

async fn a_deleted_product_is_gone_from_every_read_and_write(t: TestDb) {
    let p = product("MUG-1", "Mug", "1", 1);
    t.products.insert(&p).await.unwrap();
    let removed = t.products.delete(p.id, at(10)).await.unwrap();
    assert_eq!(removed, Some(vec![]));
    assert_eq!(t.products.get(p.id).await.unwrap(), None);
    assert_eq!(t.products.delete(p.id, at(11)).await.unwrap(), None);
    assert_eq!(
        t.products
            .update(p.id, &ProductChanges::default(), at(12))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        t.products.delete(ProductId::new(), at(13)).await.unwrap(),
        None
    );
}

on_both_backends!(
    a_product_reads_back_exactly_as_written,
    get_many_answers_the_live_products_asked_for,
    a_live_sku_is_unique_and_a_deleted_products_sku_is_free_again,
    an_update_changes_the_named_fields_and_the_time_only,
    a_deleted_product_is_gone_from_every_read_and_write,
);
