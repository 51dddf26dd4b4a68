//! `SqlProducts` as the product repository: writes, reads, SKU uniqueness, soft deletion.

use application::ports::ProductFilter;
use domain::{
    Description, Money, PageRequest, Product, ProductChanges, ProductId, ProductName,
    ProductRepository, ProductStatus, RepositoryError, Sku, Stock,
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
    a_new_variant_set_is_written_over_the_old_with_the_row_summarising_it,
    a_change_of_variants_is_written_or_refused_whole,
    the_kept_totals_follow_creates_status_changes_deletes_and_variant_changes,
    a_counted_total_stops_past_10000_and_says_it_is_an_estimate,
    the_migration_counts_the_products_already_stored,
);

/// `products.(sku, price_minor, currency, stock)` of product `id` as stored.
async fn summary(t: &TestDb, id: ProductId) -> (String, i64, String, i64) {
    let sql = "SELECT sku, price_minor, currency, stock FROM products WHERE id = $1";
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

/// The options Size: S, M, L.
fn sizes() -> domain::ProductOptions {
    domain::ProductOptions::parse(&[domain::OptionInput {
        name: "Size".into(),
        values: vec!["S".into(), "M".into(), "L".into()],
    }])
    .unwrap()
}

/// A variant `id` of size `size` at `minor` euro cents with `stock` units, at `position`.
fn sized(
    id: domain::VariantId,
    sku: &str,
    size: &str,
    minor: i64,
    stock: i64,
    position: i64,
) -> domain::Variant {
    let mut v = domain::Validator::new();
    let option_values =
        domain::OptionValues::parse(&mut v, "option_values", &sizes(), [("Size", size)]).unwrap();
    domain::Variant {
        id,
        sku: Sku::parse(sku).unwrap(),
        option_values,
        price: Money::from_minor(minor, crate::support::eur()).unwrap(),
        compare_at_price: None,
        stock: Stock::new(stock).unwrap(),
        position: domain::Position::new(position).unwrap(),
    }
}

async fn a_new_variant_set_is_written_over_the_old_with_the_row_summarising_it(t: TestDb) {
    let p = product("TEE-1", "Tee", "10.00", 3);
    let other = product("MUG-1", "Mug", "1.00", 1);
    t.insert_products(&[&p, &other]).await;
    let kept = variant_of(p.id);
    let new = domain::VariantId::new();
    // The kept variant changes size and SKU; a new one takes its old SKU.
    let set = domain::VariantSet::new(
        sizes(),
        vec![
            sized(kept, "TEE-S", "S", 1200, 4, 1),
            sized(new, "TEE-1", "M", 900, 2, 0),
        ],
    )
    .unwrap();
    let changes = ProductChanges {
        variants: Some(set.clone()),
        ..ProductChanges::default()
    };
    let updated = t
        .products
        .update(p.id, &changes, at(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.variants.options(), &sizes());
    let mut shown = updated.variants.variants().to_vec();
    shown.sort_by_key(|v| v.sku.as_str().to_owned());
    let mut wanted = set.variants().to_vec();
    wanted.sort_by_key(|v| v.sku.as_str().to_owned());
    assert_eq!(shown, wanted);
    assert_eq!(t.products.get(p.id).await.unwrap(), Some(updated.clone()));
    assert_eq!(
        summary(&t, p.id).await,
        ("TEE-1".to_owned(), 900, "EUR".to_owned(), 6)
    );

    // Two kept variants swap SKUs; the new one goes, its SKU free again.
    let swapped = domain::VariantSet::new(
        sizes(),
        vec![
            sized(kept, "TEE-1", "S", 1200, 4, 1),
            sized(domain::VariantId::new(), "TEE-S", "L", 1500, 7, 2),
        ],
    );
    let swapped = swapped.unwrap();
    let changes = ProductChanges {
        variants: Some(swapped.clone()),
        ..ProductChanges::default()
    };
    let updated = t
        .products
        .update(p.id, &changes, at(20))
        .await
        .unwrap()
        .unwrap();
    assert!(updated.variants.get(new).is_none());
    assert_eq!(updated.variants.variants().len(), 2);
    // A set naming the deleted variant as kept (a use case's read that a deletion overtook):
    // refused, not inserted again.
    let stale = domain::VariantSet::new(
        sizes(),
        vec![
            sized(kept, "TEE-1", "S", 1200, 4, 1),
            sized(new, "TEE-9", "M", 900, 2, 0),
        ],
    )
    .unwrap();
    let changes = ProductChanges {
        variants: Some(stale),
        ..ProductChanges::default()
    };
    assert!(matches!(
        t.products.update(p.id, &changes, at(25)).await,
        Err(RepositoryError::Invalid(e)) if e.field == "variants"
    ));
    assert_eq!(t.products.get(p.id).await.unwrap(), Some(updated.clone()));
    assert_eq!(
        summary(&t, p.id).await,
        ("TEE-1".to_owned(), 1200, "EUR".to_owned(), 11)
    );
    // Another product's SKU: nothing is written.
    let taken =
        domain::VariantSet::new(sizes(), vec![sized(kept, "MUG-1", "S", 1200, 4, 1)]).unwrap();
    let changes = ProductChanges {
        variants: Some(taken),
        ..ProductChanges::default()
    };
    assert!(matches!(
        t.products.update(p.id, &changes, at(30)).await,
        Err(RepositoryError::Conflict("sku"))
    ));
    assert_eq!(t.products.get(p.id).await.unwrap(), Some(updated));
}

async fn a_change_of_variants_is_written_or_refused_whole(t: TestDb) {
    let p = product("TEE-1", "Tee", "10.00", 3);
    let other = product("MUG-1", "Mug", "1.00", 1);
    t.insert_products(&[&p, &other]).await;
    let one = variant_of(p.id);
    let unchanged = |_: &domain::Product| Vec::new();
    // A product without options holds one variant: an added one clashes, and nothing changes.
    let added = sized(domain::VariantId::new(), "TEE-2", "S", 500, 2, 0);
    let refused = t
        .products
        .change_variants_with_events(
            p.id,
            at(5),
            &|set| set.add(added.clone()).map_err(Into::into),
            &unchanged,
        )
        .await
        .unwrap();
    assert!(matches!(
        refused,
        Some(Err(domain::VariantError::Invalid(_)))
    ));
    assert_eq!(t.products.get(p.id).await.unwrap(), Some(p.clone()));
    // The last variant stays.
    let last = t
        .products
        .change_variants_with_events(p.id, at(5), &|set| set.remove(one).map(|_| ()), &unchanged)
        .await
        .unwrap();
    assert_eq!(last, Some(Err(domain::VariantError::LastVariant)));
    // An unknown product.
    let none = t
        .products
        .change_variants_with_events(ProductId::new(), at(5), &|_| Ok(()), &unchanged)
        .await
        .unwrap();
    assert_eq!(none, None);
    // A change: stock and price of the one variant, with the row's summary and time.
    let changes = domain::VariantChanges {
        price: Some(Money::from_minor(750, crate::support::eur()).unwrap()),
        stock: Some(Stock::new(9).unwrap()),
        ..domain::VariantChanges::default()
    };
    let changed = t
        .products
        .change_variants_with_events(
            p.id,
            at(6),
            &|set| set.change(one, changes.clone()).map(|_| ()),
            &unchanged,
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(changed.updated_at, at(6));
    assert_eq!((changed.price().minor(), changed.stock()), (750, 9));
    assert_eq!(t.products.get(p.id).await.unwrap(), Some(changed.clone()));
    assert_eq!(
        summary(&t, p.id).await,
        ("TEE-1".to_owned(), 750, "EUR".to_owned(), 9)
    );
    // A SKU another product holds: 409 and nothing written.
    let sku = domain::VariantChanges {
        sku: Some(Sku::parse("MUG-1").unwrap()),
        ..domain::VariantChanges::default()
    };
    let taken = t
        .products
        .change_variants_with_events(
            p.id,
            at(7),
            &|set| set.change(one, sku.clone()).map(|_| ()),
            &unchanged,
        )
        .await;
    assert!(matches!(taken, Err(RepositoryError::Conflict("sku"))));
    assert_eq!(t.products.get(p.id).await.unwrap(), Some(changed));
}

/// `sql` (one number) on the test database.
async fn scalar(t: &TestDb, sql: &str) -> i64 {
    match &t.db {
        infrastructure::Database::Sqlite { write, .. } => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(write)
                .await
                .unwrap()
        }
        infrastructure::Database::Postgres(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(pool)
            .await
            .unwrap(),
    }
}

/// Runs `sql` (statements) on the test database.
async fn execute(t: &TestDb, sql: &str) {
    match &t.db {
        infrastructure::Database::Sqlite { write, .. } => {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(write)
                .await
                .unwrap();
        }
        infrastructure::Database::Postgres(pool) => {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(pool)
                .await
                .unwrap();
        }
    };
}

/// Stores `n` active one-variant products named `Bulk mug {i}` (1 in stock each) in one
/// statement per table, as a bulk load would, past the repository.
async fn bulk_products(t: &TestDb, n: u32) {
    let (rows, id, now) = match t.db.backend() {
        infrastructure::db::Backend::Sqlite => (
            format!(
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT i FROM s"
            ),
            "randomblob(16)",
            "'2026-01-01T00:00:00+00:00'",
        ),
        infrastructure::db::Backend::Postgres => (
            format!("SELECT generate_series(1, {n}) AS i"),
            "gen_random_uuid()",
            "now()",
        ),
    };
    execute(
        t,
        &format!(
            "INSERT INTO products (id, sku, name, slug, status, description, price_minor, currency, \
             stock, options, search_text, created_at, updated_at) \
             SELECT {id}, 'BULK-' || i, 'Bulk mug ' || i, 'bulk-mug-' || i, 'active', NULL, 100, 'EUR', \
             1, '[]', 'bulk mug ' || i, {now}, {now} FROM ({rows}) s; \
             INSERT INTO product_variants (id, product_id, sku, option_values, price_minor, currency, \
             stock, position, created_at, updated_at) \
             SELECT id, id, sku, '[]', price_minor, currency, stock, 0, created_at, updated_at \
             FROM products WHERE sku LIKE 'BULK-%';"
        ),
    )
    .await;
}

/// The total of the public catalog list (active products) narrowed by `filter`.
async fn public_total(t: &TestDb, filter: ProductFilter) -> (u64, bool) {
    let filter = ProductFilter {
        status: Some(ProductStatus::Active),
        ..filter
    };
    let page =
        application::ports::ProductReadModel::list(&t.products, PageRequest::default(), &filter)
            .await
            .unwrap();
    (page.total, page.total_is_estimate)
}

async fn a_counted_total_stops_past_10000_and_says_it_is_an_estimate(t: TestDb) {
    bulk_products(&t, 10_050).await;
    assert_totals_are_counts(&t).await;
    // Kept: exact at any size.
    assert_eq!(
        public_total(&t, ProductFilter::default()).await,
        (10_050, false)
    );
    let search = |q: &str| ProductFilter {
        search: Some(q.into()),
        ..ProductFilter::default()
    };
    // Searches (through SQLite's trigram index, and not: two letters, or another sort) and
    // filters stop counting at 10,001.
    assert_eq!(public_total(&t, search("bulk")).await, (10_001, true));
    assert_eq!(public_total(&t, search("mu")).await, (10_001, true));
    let by_price = ProductFilter {
        sort: Some(application::ports::ProductSort::PriceAsc),
        ..search("mug")
    };
    assert_eq!(public_total(&t, by_price).await, (10_001, true));
    let in_stock = ProductFilter {
        in_stock: Some(true),
        ..ProductFilter::default()
    };
    assert_eq!(public_total(&t, in_stock).await, (10_001, true));
    // Under the limit they are exact: "mug 1" .. "mug 10050" those of 100, 1000..=1009 and 10000..=10050.
    assert_eq!(public_total(&t, search("mug 100")).await, (62, false));
    assert_eq!(public_total(&t, search("mug 10050")).await, (1, false));
}

async fn the_migration_counts_the_products_already_stored(t: TestDb) {
    // Before 0016 (SQLite has no 0014 or 0015: it stops at 0013 then).
    let Some(old) = TestDb::like_up_to(&t, 15).await else {
        return;
    };
    drop(t);
    bulk_products(&old, 30).await;
    execute(
        &old,
        "UPDATE products SET status = 'draft' WHERE sku IN ('BULK-1', 'BULK-2'); \
         UPDATE products SET status = 'archived' WHERE sku = 'BULK-3'; \
         UPDATE products SET deleted_at = updated_at WHERE sku IN ('BULK-4', 'BULK-5');",
    )
    .await;
    old.db.migrate().await.unwrap();
    assert_totals_are_counts(&old).await;
    assert_eq!(
        list_total(&old, Some(ProductStatus::Active)).await,
        (25, false)
    );
    assert_eq!(list_total(&old, None).await, (28, false));
}

/// The catalog list's total for `status` (`None`: every status, as an admin lists).
async fn list_total(t: &TestDb, status: Option<ProductStatus>) -> (u64, bool) {
    let filter = ProductFilter {
        status,
        ..ProductFilter::default()
    };
    let page =
        application::ports::ProductReadModel::list(&t.products, PageRequest::default(), &filter)
            .await
            .unwrap();
    (page.total, page.total_is_estimate)
}

/// Each status's kept count and list total equal a real count of the live products.
async fn assert_totals_are_counts(t: &TestDb) {
    let mut all = 0;
    for status in [
        ProductStatus::Draft,
        ProductStatus::Active,
        ProductStatus::Archived,
    ] {
        let s = status.as_str();
        let real = scalar(
            t,
            &format!("SELECT COUNT(*) FROM products WHERE deleted_at IS NULL AND status = '{s}'"),
        )
        .await;
        let kept = scalar(
            t,
            &format!("SELECT n FROM product_counts WHERE status = '{s}'"),
        )
        .await;
        assert_eq!(kept, real, "kept count of {s}");
        let real = u64::try_from(real).unwrap();
        assert_eq!(
            list_total(t, Some(status)).await,
            (real, false),
            "total of {s}"
        );
        all += real;
    }
    assert_eq!(list_total(t, None).await, (all, false));
}

fn with_status(mut p: Product, status: ProductStatus) -> Product {
    p.status = status;
    p
}

async fn the_kept_totals_follow_creates_status_changes_deletes_and_variant_changes(t: TestDb) {
    assert_totals_are_counts(&t).await;
    let a = product("A-1", "A", "1", 1);
    let b = with_status(product("B-1", "B", "2", 2), ProductStatus::Draft);
    let c = product("C-1", "C", "3", 3);
    let d = with_status(product("D-1", "D", "4", 4), ProductStatus::Archived);
    t.insert_products(&[&a, &b, &c, &d]).await;
    assert_totals_are_counts(&t).await;
    assert_eq!(
        list_total(&t, Some(ProductStatus::Active)).await,
        (2, false)
    );

    let to = |status| ProductChanges {
        status: Some(status),
        ..ProductChanges::default()
    };
    update_product(&t, a.id, &to(ProductStatus::Archived), 10).await;
    update_product(&t, b.id, &to(ProductStatus::Active), 11).await;
    update_product(&t, c.id, &to(ProductStatus::Active), 12).await;
    assert_totals_are_counts(&t).await;
    // A change of anything but the status (here price and stock, on the variant) moves no count.
    let priced = ProductChanges {
        price: Some(Money::parse("7.00", eur()).unwrap()),
        stock: Some(Stock::new(0).unwrap()),
        ..ProductChanges::default()
    };
    update_product(&t, c.id, &priced, 13).await;
    assert_totals_are_counts(&t).await;
    t.products.delete(c.id, at(14)).await.unwrap();
    t.products.delete(d.id, at(15)).await.unwrap();
    // Deleting again changes nothing.
    t.products.delete(d.id, at(16)).await.unwrap();
    assert_totals_are_counts(&t).await;
    assert_eq!(
        list_total(&t, Some(ProductStatus::Active)).await,
        (1, false)
    );
    assert_eq!(list_total(&t, None).await, (2, false));

    // The unfiltered list reads the kept count, not the rows: a count put wrong shows.
    execute(
        &t,
        "UPDATE product_counts SET n = n + 100 WHERE status = 'active'",
    )
    .await;
    assert_eq!(
        list_total(&t, Some(ProductStatus::Active)).await,
        (101, false)
    );
    // A search still counts its matches.
    let search = ProductFilter {
        search: Some("b".into()),
        status: Some(ProductStatus::Active),
        ..ProductFilter::default()
    };
    let found =
        application::ports::ProductReadModel::list(&t.products, PageRequest::default(), &search)
            .await
            .unwrap();
    assert_eq!((found.total, found.total_is_estimate), (1, false));
}
