//! The read models: order lists (newest first, filtered, paged, with their lines), the
//! catalog list and search, the product view with its images, and the account list.

use application::ports::{
    Lookup, OrderFilter, OrderReadModel, ProductFilter, ProductReadModel, ProductSort,
    UserReadModel,
};
use domain::{
    KeyPart, Order, OrderRepository, OrderStatus, PageRequest, ProductId, ProductRepository,
    RepositoryError, Role, SortKeys, UserId, UserRepository,
};

use crate::support::*;

fn page(n: u32, per_page: u32) -> PageRequest {
    PageRequest::new(n, per_page).unwrap()
}

/// The ids on a catalog page as the public sees it (active products), and the total.
async fn catalog(t: &TestDb, p: PageRequest, search: Option<&str>) -> (Vec<ProductId>, u64) {
    let filter = ProductFilter {
        search: search.map(str::to_owned),
        status: Some(domain::ProductStatus::Active),
        ..ProductFilter::default()
    };
    let listed = ProductReadModel::list(&t.products, p.clone(), &filter)
        .await
        .unwrap();
    assert_eq!(listed.request, p);
    (
        listed.items.iter().map(|v| v.product.id).collect(),
        listed.total,
    )
}

async fn orders(t: &TestDb, filter: OrderFilter, p: PageRequest) -> (Vec<Order>, u64) {
    let listed = t.orders.list(filter, p.clone()).await.unwrap();
    assert_eq!(listed.request, p);
    (listed.items, listed.total)
}

async fn orders_list_newest_first_with_their_lines_in_pages(t: TestDb) {
    let mug = product("MUG-1", "Mug", "2.50", 100);
    let pen = product("PEN-1", "Pen", "0.99", 100);
    t.insert_products(&[&mug, &pen]).await;
    let ann = UserId::new();
    let mut placed = Vec::new();
    for i in 0..5 {
        let o = if i % 2 == 0 {
            order_to(ann, &[(&mug, i + 1), (&pen, 2)], i, Some(address()))
        } else {
            order(ann, &[(&pen, i + 1)], i)
        };
        t.orders.place(&o, None).await.unwrap();
        placed.push(o);
    }
    placed.reverse();
    let all = OrderFilter::default();
    assert_eq!(orders(&t, all, page(1, 2)).await, (placed[..2].to_vec(), 5));
    assert_eq!(
        orders(&t, all, page(2, 2)).await,
        (placed[2..4].to_vec(), 5)
    );
    assert_eq!(orders(&t, all, page(3, 2)).await, (placed[4..].to_vec(), 5));
    assert_eq!(orders(&t, all, page(4, 2)).await, (vec![], 5));
    assert_eq!(orders(&t, all, page(1, 100)).await, (placed, 5));
}

async fn orders_filter_by_owner_and_status_together(t: TestDb) {
    let mug = product("MUG-1", "Mug", "1", 100);
    t.products.insert(&mug).await.unwrap();
    let (ann, bob) = (UserId::new(), UserId::new());
    let a1 = order(ann, &[(&mug, 1)], 1);
    let b1 = order(bob, &[(&mug, 1)], 2);
    let a2 = order(ann, &[(&mug, 2)], 3);
    let b2 = order(bob, &[(&mug, 2)], 4);
    for o in [&a1, &b1, &a2, &b2] {
        t.orders.place(o, None).await.unwrap();
    }
    for o in [&a2, &b2] {
        assert!(
            t.orders
                .change_status(order_id(o), OrderStatus::Pending, OrderStatus::Paid, at(10))
                .await
                .unwrap()
        );
    }
    let ids =
        |(items, total): (Vec<Order>, u64)| (items.iter().map(order_id).collect::<Vec<_>>(), total);
    let filter = |user_id, status| OrderFilter { user_id, status };
    let p = page(1, 10);
    assert_eq!(
        ids(orders(&t, filter(Some(ann), None), p.clone()).await),
        (vec![order_id(&a2), order_id(&a1)], 2)
    );
    assert_eq!(
        ids(orders(&t, filter(None, Some(OrderStatus::Paid)), p.clone()).await),
        (vec![order_id(&b2), order_id(&a2)], 2)
    );
    assert_eq!(
        ids(orders(&t, filter(Some(bob), Some(OrderStatus::Pending)), p.clone()).await),
        (vec![order_id(&b1)], 1)
    );
    assert_eq!(
        ids(orders(&t, filter(Some(UserId::new()), None), p.clone()).await),
        (vec![], 0)
    );
    assert_eq!(
        ids(orders(
            &t,
            filter(Some(ann), Some(OrderStatus::Cancelled)),
            p.clone()
        )
        .await),
        (vec![], 0)
    );
    let (paid, _) = orders(&t, filter(Some(ann), Some(OrderStatus::Paid)), p).await;
    assert_eq!(order_status(&paid[0]), OrderStatus::Paid);
    assert_eq!(order_updated_at(&paid[0]), at(10));
    assert_eq!(order_lines(&paid[0]), order_lines(&a2));
}

async fn the_catalog_lists_live_products_newest_first_in_pages(t: TestDb) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let p = product(&format!("P-{i}"), &format!("Product {i}"), "1", 1);
        t.products.insert(&p).await.unwrap();
        ids.push(p.id);
    }
    t.products.delete(ids[2], at(1)).await.unwrap();
    ids.remove(2);
    ids.reverse();
    assert_eq!(catalog(&t, page(1, 2), None).await, (ids[..2].to_vec(), 4));
    assert_eq!(catalog(&t, page(2, 2), None).await, (ids[2..].to_vec(), 4));
    assert_eq!(catalog(&t, page(3, 2), None).await, (vec![], 4));
    assert_eq!(catalog(&t, page(1, 20), Some("")).await, (ids.clone(), 4));
    // The page's products are whole.
    let listed = ProductReadModel::list(&t.products, page(1, 1), &ProductFilter::default())
        .await
        .unwrap();
    assert_eq!(
        Some(listed.items[0].product.clone()),
        ProductRepository::get(&t.products, ids[0]).await.unwrap()
    );
}

async fn a_search_matches_name_or_description_anywhere_and_ignores_case(t: TestDb) {
    let blue_mug = described(product("M-1", "Blue Mug", "1", 1), "Holds TEA");
    let red_mug = product("M-2", "red MUG", "1", 1);
    let teapot = product("T-1", "Teapot", "1", 1);
    let pen = described(product("P-1", "Pen", "1", 1), "Blue ink");
    let sale = product("S-1", "50% off", "1", 1);
    let plain = product("S-2", "500 off", "1", 1);
    let quoted = product("Q-1", "Say \"hi\"", "1", 1);
    let gone = product("G-1", "Gone mug", "1", 1);
    for p in [
        &blue_mug, &red_mug, &teapot, &pen, &sale, &plain, &quoted, &gone,
    ] {
        t.products.insert(p).await.unwrap();
    }
    t.products.delete(gone.id, at(1)).await.unwrap();
    let all = page(1, 20);
    // Searches arrive lower-cased (the use case folds them), of three characters or more...
    assert_eq!(
        catalog(&t, all.clone(), Some("mug")).await,
        (vec![red_mug.id, blue_mug.id], 2)
    );
    assert_eq!(
        catalog(&t, all.clone(), Some("tea")).await,
        (vec![teapot.id, blue_mug.id], 2)
    );
    // Best matches first (relevance, the default with a search): a name before a description.
    assert_eq!(
        catalog(&t, all.clone(), Some("blue")).await,
        (vec![blue_mug.id, pen.id], 2)
    );
    assert_eq!(
        catalog(&t, all.clone(), Some("blue mug")).await,
        (vec![blue_mug.id], 1)
    );
    // ...or shorter, ...
    assert_eq!(
        catalog(&t, all.clone(), Some("ue")).await,
        (vec![blue_mug.id, pen.id], 2)
    );
    assert_eq!(
        catalog(&t, all.clone(), Some("%")).await,
        (vec![sale.id], 1)
    );
    // ...with wildcards and quotes taken literally, never across name and description.
    assert_eq!(
        catalog(&t, all.clone(), Some("50%")).await,
        (vec![sale.id], 1)
    );
    assert_eq!(catalog(&t, all.clone(), Some("0_o")).await, (vec![], 0));
    assert_eq!(
        catalog(&t, all.clone(), Some("\"hi\"")).await,
        (vec![quoted.id], 1)
    );
    assert_eq!(
        catalog(&t, all.clone(), Some("mug holds")).await,
        (vec![], 0)
    );
    assert_eq!(
        catalog(&t, all.clone(), Some("nothing like it")).await,
        (vec![], 0)
    );
    assert_eq!(catalog(&t, all, Some("gone")).await, (vec![], 0));
    // A search is paged like the list.
    assert_eq!(
        catalog(&t, page(2, 1), Some("mug")).await,
        (vec![blue_mug.id], 2)
    );
    assert_eq!(catalog(&t, page(2, 1), Some("ue")).await, (vec![pen.id], 2));
}

async fn a_search_follows_renames_and_deletions(t: TestDb) {
    let p = described(product("M-1", "Mug", "1", 1), "Ceramic");
    t.products.insert(&p).await.unwrap();
    let rename = domain::ProductChanges {
        name: Some(domain::ProductName::parse("Cup").unwrap()),
        description: Some(None),
        ..Default::default()
    };
    t.products.update(p.id, &rename, at(1)).await.unwrap();
    assert_eq!(catalog(&t, page(1, 20), Some("mug")).await, (vec![], 0));
    assert_eq!(catalog(&t, page(1, 20), Some("ceramic")).await, (vec![], 0));
    assert_eq!(catalog(&t, page(1, 20), Some("cup")).await, (vec![p.id], 1));
    let restock = domain::ProductChanges {
        stock: Some(domain::Stock::new(5).unwrap()),
        ..Default::default()
    };
    t.products.update(p.id, &restock, at(2)).await.unwrap();
    assert_eq!(catalog(&t, page(1, 20), Some("cup")).await, (vec![p.id], 1));
    t.products.delete(p.id, at(3)).await.unwrap();
    assert_eq!(catalog(&t, page(1, 20), Some("cup")).await, (vec![], 0));
    assert_eq!(catalog(&t, page(1, 20), Some("cu")).await, (vec![], 0));
}

async fn a_product_view_holds_the_product_and_its_images_in_upload_order(t: TestDb) {
    let mug = product("MUG-1", "Mug", "1", 1);
    let pen = product("PEN-1", "Pen", "1", 1);
    t.insert_products(&[&mug, &pen]).await;
    let (mut m1, p1, mut m2) = (image(mug.id, 1), image(pen.id, 2), image(mug.id, 3));
    // A stored file without an id (a local folder's), and a time to the microsecond.
    m1.file.file_id = None;
    m2.created_at += chrono::TimeDelta::microseconds(123_456);
    t.insert_images(&[&m1, &p1, &m2]).await;
    let view = ProductReadModel::get(&t.products, &Lookup::Id(mug.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.product, mug);
    assert_eq!(view.images, vec![m1.clone(), m2.clone()]);
    // A list's views hold the same, on every path of the list (a plain page, a search that
    // SQLite's trigram index answers, and one of two characters that it scans).
    for search in [None, Some("mug"), Some("mu")] {
        let filter = ProductFilter {
            search: search.map(str::to_owned),
            status: Some(domain::ProductStatus::Active),
            ..ProductFilter::default()
        };
        let listed = ProductReadModel::list(&t.products, page(1, 20), &filter)
            .await
            .unwrap();
        let of = |id| {
            listed
                .items
                .iter()
                .find(|v| v.product.id == id)
                .map(|v| (v.product.clone(), v.images.clone()))
        };
        assert_eq!(
            of(mug.id),
            Some((mug.clone(), vec![m1.clone(), m2.clone()])),
            "{search:?}"
        );
        if search.is_none() {
            assert_eq!(of(pen.id), Some((pen.clone(), vec![p1.clone()])));
        }
    }
    let bare = product("CUP-1", "Cup", "1", 1);
    t.products.insert(&bare).await.unwrap();
    let view = ProductReadModel::get(&t.products, &Lookup::Id(bare.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((view.product, view.images), (bare, vec![]));
    t.products.delete(pen.id, at(4)).await.unwrap();
    assert!(
        ProductReadModel::get(&t.products, &Lookup::Id(pen.id))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        ProductReadModel::get(&t.products, &Lookup::Id(ProductId::new()))
            .await
            .unwrap()
            .is_none()
    );
}

async fn accounts_list_newest_first_in_pages(t: TestDb) {
    let mut ids = Vec::new();
    for name in ["ann", "bob", "cyd"] {
        let u = user(name, &[Role::User]);
        t.users.insert(&u).await.unwrap();
        ids.push(u.id);
    }
    ids.reverse();
    let first = t.users.list(page(1, 2)).await.unwrap();
    assert_eq!(
        first.items.iter().map(|u| u.id).collect::<Vec<_>>(),
        ids[..2]
    );
    assert_eq!((first.total, first.request), (3, page(1, 2)));
    let second = t.users.list(page(2, 2)).await.unwrap();
    assert_eq!(
        second.items.iter().map(|u| u.id).collect::<Vec<_>>(),
        ids[2..]
    );
    assert_eq!(
        Some(second.items[0].clone()),
        t.users.get(ids[2]).await.unwrap()
    );
    assert!(t.users.list(page(3, 2)).await.unwrap().items.is_empty());
}

/// Every id of the catalog in `sort`, walked `per_page` at a time by cursor; `between` runs
/// after the first page.
async fn walk(
    t: &TestDb,
    sort: ProductSort,
    per_page: u32,
    between: impl AsyncFnOnce(&[ProductId]),
) -> Vec<ProductId> {
    let filter = ProductFilter {
        sort: Some(sort),
        ..ProductFilter::default()
    };
    let list = format!("catalog {sort:?}");
    let mut request = page(1, per_page).in_list(list.clone());
    let mut seen = Vec::new();
    let mut between = Some(between);
    loop {
        let listed = ProductReadModel::list(&t.products, request, &filter)
            .await
            .unwrap();
        seen.extend(listed.items.iter().map(|v| v.product.id));
        if let Some(between) = between.take() {
            between(&seen).await;
        }
        let Some(cursor) = listed.next_cursor() else {
            assert!(listed.items.len() <= per_page as usize);
            return seen;
        };
        assert_eq!(listed.items.len(), per_page as usize);
        request = page(1, per_page)
            .in_list(list.clone())
            .after(&cursor)
            .unwrap();
    }
}

async fn the_catalog_walks_by_cursor_in_every_sort_past_ties_and_deletions(t: TestDb) {
    for (i, (name, price)) in [
        ("Mug", "5"),
        ("bowl", "7.50"),
        ("Mug", "5"),
        ("Plate", "9"),
        ("mug", "5"),
        ("Bowl", "1"),
        ("Cup", "7.50"),
    ]
    .into_iter()
    .enumerate()
    {
        let p = product(&format!("W-{i}"), name, price, 1);
        t.products.insert(&p).await.unwrap();
    }
    for sort in [
        ProductSort::Newest,
        ProductSort::Oldest,
        ProductSort::PriceAsc,
        ProductSort::PriceDesc,
        ProductSort::NameAsc,
        ProductSort::Relevance,
    ] {
        let whole = ProductFilter {
            sort: Some(sort),
            ..ProductFilter::default()
        };
        let all: Vec<ProductId> = ProductReadModel::list(&t.products, page(1, 100), &whole)
            .await
            .unwrap()
            .items
            .iter()
            .map(|v| v.product.id)
            .collect();
        assert_eq!(
            walk(&t, sort, 2, async |_: &[ProductId]| {}).await,
            all,
            "{sort:?}"
        );
        // The product the cursor names is deleted before the next page: the walk goes on
        // after its keys, and sees every other product once.
        let walked = walk(&t, sort, 3, async |seen: &[ProductId]| {
            t.products.delete(seen[2], at(1)).await.unwrap();
        })
        .await;
        let gone = walked[2];
        let rest: Vec<ProductId> = all.iter().copied().filter(|id| *id != gone).collect();
        assert_eq!(
            walked, all,
            "{sort:?}: the deleted product was on the first page"
        );
        let again = walk(&t, sort, 2, async |_: &[ProductId]| {}).await;
        assert_eq!(again, rest, "{sort:?}");
        // Put a product back for the next sort.
        let p = product(&format!("W-{sort:?}"), "Mug", "5", 1);
        t.products.insert(&p).await.unwrap();
    }
}

async fn a_cursor_whose_keys_do_not_fit_the_order_is_refused_on_cursor(t: TestDb) {
    let p = product("F-1", "Mug", "5", 1);
    t.products.insert(&p).await.unwrap();
    let keys = SortKeys::new(vec![KeyPart::Text("mug".into())]);
    let request = page(1, 2).in_list("l").after(&keys.encode("l")).unwrap();
    let refused = ProductReadModel::list(&t.products, request, &ProductFilter::default()).await;
    assert!(
        matches!(&refused, Err(RepositoryError::Invalid(e)) if e.field == "cursor"),
        "{refused:?}"
    );
    let request = page(1, 2).in_list("l").after(&keys.encode("l")).unwrap();
    let refused = t.users.list(request).await;
    assert!(
        matches!(&refused, Err(RepositoryError::Invalid(e)) if e.field == "cursor"),
        "{refused:?}"
    );
}

async fn relevance_ranks_the_newest_matches_of_its_window_and_every_exact_name(t: TestDb) {
    let exact = product("W-1", "Mug", "1", 1);
    let prefix = product("W-2", "Mug tree", "1", 1);
    let blue = product("W-3", "Blue mug", "1", 1);
    let red = product("W-4", "Red mug", "1", 1);
    for p in [&exact, &prefix, &blue, &red] {
        t.products.insert(p).await.unwrap();
    }
    let list = |repo: &infrastructure::db::SqlProducts, q: &str, public: bool| {
        let filter = ProductFilter {
            search: Some(q.to_owned()),
            status: public.then_some(domain::ProductStatus::Active),
            ..ProductFilter::default()
        };
        let repo = repo.clone();
        async move {
            let listed = ProductReadModel::list(&repo, page(1, 20), &filter)
                .await
                .unwrap();
            let ids: Vec<ProductId> = listed.items.iter().map(|v| v.product.id).collect();
            (ids, listed.total)
        }
    };
    // The whole window: every match by relevance, then newest first.
    assert_eq!(
        list(&t.products, "mug", true).await,
        (vec![exact.id, prefix.id, red.id, blue.id], 4)
    );
    // A window of two: its two newest matches, and the exact name however old; the total
    // still counts every match.
    let narrow = infrastructure::db::SqlProducts::new(t.db.clone()).with_relevance_window(2);
    assert_eq!(
        list(&narrow, "mug", true).await,
        (vec![exact.id, red.id, blue.id], 4)
    );
    // An admin's list (every status) and a two-letter search: the window alone.
    assert_eq!(
        list(&narrow, "mug", false).await,
        (vec![red.id, blue.id], 4)
    );
    assert_eq!(list(&narrow, "ug", true).await, (vec![red.id, blue.id], 4));
}

on_both_backends!(
    relevance_ranks_the_newest_matches_of_its_window_and_every_exact_name,
    the_catalog_walks_by_cursor_in_every_sort_past_ties_and_deletions,
    a_cursor_whose_keys_do_not_fit_the_order_is_refused_on_cursor,
    orders_list_newest_first_with_their_lines_in_pages,
    orders_filter_by_owner_and_status_together,
    the_catalog_lists_live_products_newest_first_in_pages,
    a_search_matches_name_or_description_anywhere_and_ignores_case,
    a_search_follows_renames_and_deletions,
    a_product_view_holds_the_product_and_its_images_in_upload_order,
    accounts_list_newest_first_in_pages,
);
