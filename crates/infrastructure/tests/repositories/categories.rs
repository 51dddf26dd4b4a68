//! `SqlCategories` as the category repository and read model, and the counts the product
//! writes keep beside each category.

use application::ports::{CategoryReadModel, Lookup, ProductFilter, ProductReadModel};
use domain::{
    Category, CategoryChanges, CategoryId, CategoryName, CategoryRepository, PageRequest, Position,
    ProductChanges, ProductId, ProductRepository, ProductStatus, RepositoryError, Slug,
};

use crate::support::*;

on_both_backends!(
    a_category_reads_back_exactly_as_written,
    a_slug_is_unique_and_a_parent_must_exist,
    a_move_below_itself_is_refused_also_when_two_moves_race,
    counts_are_kept_by_every_product_write_and_every_move,
    a_category_with_children_stays_and_one_without_leaves_its_products,
    lists_show_the_status_asked_for_with_each_products_categories,
    products_without_a_slug_get_one_when_the_migrations_run,
);

fn category(name: &str, parent: Option<CategoryId>) -> Category {
    Category {
        id: CategoryId::new(),
        name: CategoryName::parse(name).unwrap(),
        slug: Slug::from_name(name, "category"),
        parent_id: parent,
        description: Some(domain::Description::parse("About it").unwrap()),
        position: Position::new(3).unwrap(),
        created_at: at(0),
        updated_at: at(0),
    }
}

async fn count(t: &TestDb, c: &Category) -> u64 {
    t.categories
        .get(&Lookup::Id(c.id))
        .await
        .unwrap()
        .unwrap()
        .product_count
}

async fn counts(t: &TestDb, cs: &[&Category]) -> Vec<u64> {
    let mut out = Vec::new();
    for c in cs {
        out.push(count(t, c).await);
    }
    out
}

fn move_to(parent: Option<CategoryId>) -> CategoryChanges {
    CategoryChanges {
        parent_id: Some(parent),
        ..CategoryChanges::default()
    }
}

async fn a_category_reads_back_exactly_as_written(t: TestDb) {
    let top = category("Kitchen", None);
    let below = Category {
        description: None,
        position: Position::new(0).unwrap(),
        ..category("Mugs", Some(top.id))
    };
    t.categories.insert(&top).await.unwrap();
    t.categories.insert(&below).await.unwrap();
    let view = t
        .categories
        .get(&Lookup::Id(top.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (view.category.clone(), view.product_count),
        (top.clone(), 0)
    );
    let by_slug = t
        .categories
        .get(&Lookup::Slug(Slug::parse("mugs").unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_slug.category, below);
    let listed: Vec<Category> = CategoryReadModel::list(&t.categories)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.category)
        .collect();
    assert_eq!(listed, vec![below.clone(), top.clone()], "by position");
    let mut all = t.categories.all().await.unwrap();
    all.sort_by_key(|c| c.id);
    assert_eq!(all, vec![top.clone(), below.clone()]);
    assert_eq!(
        t.categories
            .get(&Lookup::Id(CategoryId::new()))
            .await
            .unwrap(),
        None
    );
    let changed = t
        .categories
        .update(
            below.id,
            &CategoryChanges {
                name: Some(CategoryName::parse("Cups").unwrap()),
                description: Some(Some(domain::Description::parse("Tall").unwrap())),
                position: Some(Position::new(9).unwrap()),
                ..CategoryChanges::default()
            },
            at(5),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.name.as_str(), "Cups");
    assert_eq!(changed.slug, below.slug);
    assert_eq!(changed.parent_id, Some(top.id));
    assert_eq!(changed.position.get(), 9);
    assert_eq!(changed.updated_at, at(5));
    assert_eq!(
        t.categories
            .update(CategoryId::new(), &CategoryChanges::default(), at(5))
            .await
            .unwrap(),
        None
    );
}

async fn a_slug_is_unique_and_a_parent_must_exist(t: TestDb) {
    let first = category("Mugs", None);
    t.categories.insert(&first).await.unwrap();
    let twin = category("Mugs", None);
    assert!(matches!(
        t.categories.insert(&twin).await,
        Err(RepositoryError::Conflict("slug"))
    ));
    let taken = t
        .categories
        .slugs_like(&Slug::parse("mugs").unwrap())
        .await
        .unwrap();
    assert_eq!(taken, ["mugs".to_owned()].into());
    let numbered = Category {
        slug: Slug::parse("mugs-2").unwrap(),
        ..category("Mugs", None)
    };
    t.categories.insert(&numbered).await.unwrap();
    let other = Category {
        slug: Slug::parse("mugshot").unwrap(),
        ..category("Mugshot", None)
    };
    t.categories.insert(&other).await.unwrap();
    let taken = t
        .categories
        .slugs_like(&Slug::parse("mugs").unwrap())
        .await
        .unwrap();
    assert_eq!(taken, ["mugs".to_owned(), "mugs-2".to_owned()].into());
    let orphan = category("Orphan", Some(CategoryId::new()));
    match t.categories.insert(&orphan).await {
        Err(RepositoryError::Invalid(e)) => assert_eq!(e.field, "parent_id"),
        other => panic!("{other:?}"),
    }
    let rename = CategoryChanges {
        slug: Some(Slug::parse("mugs").unwrap()),
        ..CategoryChanges::default()
    };
    assert!(matches!(
        t.categories.update(numbered.id, &rename, at(1)).await,
        Err(RepositoryError::Conflict("slug"))
    ));
}

async fn a_move_below_itself_is_refused_also_when_two_moves_race(t: TestDb) {
    let a = category("A", None);
    let b = category("B", Some(a.id));
    for c in [&a, &b] {
        t.categories.insert(c).await.unwrap();
    }
    for parent in [a.id, b.id] {
        match t
            .categories
            .update(a.id, &move_to(Some(parent)), at(1))
            .await
        {
            Err(RepositoryError::Invalid(e)) => assert_eq!(e.field, "parent_id"),
            other => panic!("{other:?}"),
        }
    }
    for round in 0..10 {
        let x = category(&format!("X{round}"), None);
        let y = category(&format!("Y{round}"), None);
        t.categories.insert(&x).await.unwrap();
        t.categories.insert(&y).await.unwrap();
        let (x_under_y, y_under_x) = (move_to(Some(y.id)), move_to(Some(x.id)));
        let (first, second) = tokio::join!(
            t.categories.update(x.id, &x_under_y, at(2)),
            t.categories.update(y.id, &y_under_x, at(2)),
        );
        let refused = [&first, &second]
            .iter()
            .filter(|r| matches!(r, Err(RepositoryError::Invalid(_))))
            .count();
        assert_eq!(refused, 1, "round {round}: {first:?} {second:?}");
        assert!(first.is_ok() || second.is_ok());
        let links = domain::category::links_of(&t.categories.all().await.unwrap());
        for id in [x.id, y.id] {
            // Checking a move of a new category under `id` walks up to the top: no loop.
            assert_eq!(
                domain::category::check_parent(CategoryId::new(), Some(id), &links),
                Ok(())
            );
        }
    }
}

async fn counts_are_kept_by_every_product_write_and_every_move(t: TestDb) {
    let a = category("A", None);
    let b = category("B", Some(a.id));
    let other = category("Other", None);
    for c in [&a, &b, &other] {
        t.categories.insert(c).await.unwrap();
    }
    let all = [&a, &b, &other];
    let p1 = product("P-1", "One", "1", 1);
    let p2 = product("P-2", "Two", "1", 1);
    let draft = domain::Product {
        status: ProductStatus::Draft,
        ..product("P-3", "Three", "1", 1)
    };
    t.products.insert_in(&p1, &[b.id]).await.unwrap();
    t.products.insert_in(&p2, &[a.id, b.id]).await.unwrap();
    t.products.insert_in(&draft, &[other.id]).await.unwrap();
    assert_eq!(counts(&t, &all).await, [2, 2, 0]);
    match t
        .products
        .insert_in(&product("P-4", "Four", "1", 1), &[CategoryId::new()])
        .await
    {
        Err(RepositoryError::Invalid(e)) => assert_eq!(e.field, "category_ids"),
        other => panic!("{other:?}"),
    }
    let status = |s| ProductChanges {
        status: Some(s),
        ..ProductChanges::default()
    };
    let into = |ids: Vec<CategoryId>| ProductChanges {
        category_ids: Some(ids),
        ..ProductChanges::default()
    };
    let writes: [(ProductId, ProductChanges, i64, [u64; 3]); 4] = [
        (draft.id, status(ProductStatus::Active), 1, [2, 2, 1]),
        (p1.id, status(ProductStatus::Archived), 1, [1, 1, 1]),
        (p2.id, into(vec![other.id]), 2, [0, 0, 2]),
        (p1.id, status(ProductStatus::Active), 3, [1, 1, 2]),
    ];
    for (id, changes, secs, expected) in writes {
        t.products.update(id, &changes, at(secs)).await.unwrap();
        assert_eq!(counts(&t, &all).await, expected);
    }
    t.categories
        .update(b.id, &move_to(Some(other.id)), at(4))
        .await
        .unwrap();
    assert_eq!(counts(&t, &all).await, [0, 1, 3]);
    t.products.delete(p2.id, at(5)).await.unwrap();
    assert_eq!(counts(&t, &all).await, [0, 1, 2]);
    t.products
        .update(p1.id, &into(vec![]), at(6))
        .await
        .unwrap();
    assert_eq!(counts(&t, &all).await, [0, 0, 1]);
    let view = ProductReadModel::get(&t.products, &Lookup::Id(draft.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.categories.len(), 1);
    assert_eq!(view.categories[0].id, other.id);
    assert_eq!(view.categories[0].name, "Other");
}

async fn a_category_with_children_stays_and_one_without_leaves_its_products(t: TestDb) {
    let top = category("Top", None);
    let leaf = category("Leaf", Some(top.id));
    for c in [&top, &leaf] {
        t.categories.insert(c).await.unwrap();
    }
    let p = product("P-1", "One", "1", 1);
    t.products.insert_in(&p, &[leaf.id, top.id]).await.unwrap();
    assert!(matches!(
        t.categories.delete(top.id).await,
        Err(RepositoryError::InUse(_))
    ));
    assert!(t.categories.delete(leaf.id).await.unwrap());
    assert!(!t.categories.delete(leaf.id).await.unwrap());
    assert_eq!(count(&t, &top).await, 1);
    let view = ProductReadModel::get(&t.products, &Lookup::Id(p.id))
        .await
        .unwrap()
        .unwrap();
    let ids: Vec<CategoryId> = view.categories.iter().map(|c| c.id).collect();
    assert_eq!(ids, [top.id]);
    assert!(t.categories.delete(top.id).await.unwrap());
    let view = ProductReadModel::get(&t.products, &Lookup::Id(p.id))
        .await
        .unwrap()
        .unwrap();
    assert!(view.categories.is_empty());
}

async fn lists_show_the_status_asked_for_with_each_products_categories(t: TestDb) {
    let c = category("Mugs", None);
    t.categories.insert(&c).await.unwrap();
    let live = product("P-1", "Blue mug", "1", 1);
    let draft = domain::Product {
        status: ProductStatus::Draft,
        ..product("P-2", "Red mug", "1", 1)
    };
    t.products.insert_in(&live, &[c.id]).await.unwrap();
    t.products.insert_in(&draft, &[]).await.unwrap();
    let page = PageRequest::default();
    let names = |p: domain::Page<application::ports::ProductView>| -> Vec<String> {
        p.items
            .iter()
            .map(|v| v.product.name.as_str().to_owned())
            .collect()
    };
    for search in [None, Some("mug"), Some("mu"), Some("MUG")] {
        let filter = |status| ProductFilter {
            search: search.map(str::to_owned),
            status,
            ..ProductFilter::default()
        };
        let all = ProductReadModel::list(&t.products, page.clone(), &filter(None))
            .await
            .unwrap();
        assert_eq!(all.total, 2, "{search:?}");
        assert_eq!(names(all), ["Red mug", "Blue mug"], "{search:?}");
        let active = ProductReadModel::list(
            &t.products,
            page.clone(),
            &filter(Some(ProductStatus::Active)),
        )
        .await
        .unwrap();
        assert_eq!(active.total, 1, "{search:?}");
        assert_eq!(active.items[0].categories[0].slug.as_str(), "mugs");
        assert_eq!(names(active), ["Blue mug"], "{search:?}");
        let drafts = ProductReadModel::list(
            &t.products,
            page.clone(),
            &filter(Some(ProductStatus::Draft)),
        )
        .await
        .unwrap();
        assert_eq!(names(drafts), ["Red mug"], "{search:?}");
    }
    let by_slug = ProductReadModel::get(&t.products, &Lookup::Slug(draft.slug.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_slug.product, draft);
}

async fn products_without_a_slug_get_one_when_the_migrations_run(t: TestDb) {
    let older = product("P-1", "Blue Mug!", "1", 1);
    let newer = domain::Product {
        created_at: at(1),
        ..product("P-2", "Blue mug", "1", 1)
    };
    let kept = domain::Product {
        slug: Slug::parse("blue-mug-3").unwrap(),
        ..product("P-3", "Other", "1", 1)
    };
    t.insert_products(&[&newer, &older, &kept]).await;
    let sql = "UPDATE products SET slug = NULL WHERE sku <> 'P-3'";
    match &t.db {
        infrastructure::Database::Sqlite { write, .. } => {
            sqlx::query(sql).execute(write).await.unwrap();
        }
        infrastructure::Database::Postgres(pool) => {
            sqlx::query(sql).execute(pool).await.unwrap();
        }
    }
    t.db.migrate().await.unwrap();
    let slug = |p: Option<domain::Product>| p.unwrap().slug.as_str().to_owned();
    let get = |id| ProductRepository::get(&t.products, id);
    assert_eq!(slug(get(older.id).await.unwrap()), "blue-mug");
    assert_eq!(slug(get(newer.id).await.unwrap()), "blue-mug-2");
    assert_eq!(slug(get(kept.id).await.unwrap()), "blue-mug-3");
}
