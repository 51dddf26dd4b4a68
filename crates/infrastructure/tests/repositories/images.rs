//! `SqlImages`: image rows exist only for live products, list per product in upload order,
//! and are removed only through their own product.

use domain::{ImageId, ImageRepository, ProductId, ProductRepository};

use crate::support::*;

async fn an_image_row_reads_back_exactly_as_written(t: TestDb) {
    let p = product("MUG-1", "Mug", "1", 1);
    t.products.insert(&p).await.unwrap();
    let img = image(p.id, 1);
    assert!(t.images.insert(&img).await.unwrap());
    assert_eq!(t.images.get(img.id).await.unwrap(), Some(img.clone()));
    let mut local = image(p.id, 2);
    local.file.file_id = None;
    assert!(t.images.insert(&local).await.unwrap());
    assert_eq!(t.images.get(local.id).await.unwrap(), Some(local));
    assert_eq!(t.images.get(ImageId::new()).await.unwrap(), None);
}

async fn an_image_of_a_missing_or_deleted_product_is_not_written(t: TestDb) {
    let ghost = image(ProductId::new(), 1);
    assert!(!t.images.insert(&ghost).await.unwrap());
    assert_eq!(t.images.get(ghost.id).await.unwrap(), None);
    let p = product("MUG-1", "Mug", "1", 1);
    t.products.insert(&p).await.unwrap();
    t.products.delete(p.id, at(1)).await.unwrap();
    let late = image(p.id, 2);
    assert!(!t.images.insert(&late).await.unwrap());
    assert_eq!(t.images.get(late.id).await.unwrap(), None);
}

async fn images_list_per_product_in_upload_order(t: TestDb) {
    let a = product("A-1", "A", "1", 1);
    let b = product("B-1", "B", "1", 1);
    let c = product("C-1", "C", "1", 1);
    t.insert_products(&[&a, &b, &c]).await;
    let a1 = image(a.id, 1);
    let b1 = image(b.id, 2);
    let a2 = image(a.id, 3);
    let c1 = image(c.id, 4);
    for i in [&a1, &b1, &a2, &c1] {
        assert!(t.images.insert(i).await.unwrap());
    }
    let of_a = t.images.of_products(&[a.id]).await.unwrap();
    assert_eq!(of_a, vec![a1.clone(), a2.clone()]);
    let mut of_ab = t.images.of_products(&[b.id, a.id]).await.unwrap();
    of_ab.sort_by_key(|i| (i.product_id, i.id));
    let mut expected = vec![a1, a2, b1];
    expected.sort_by_key(|i| (i.product_id, i.id));
    assert_eq!(of_ab, expected);
    assert!(t.images.of_products(&[]).await.unwrap().is_empty());
    assert!(
        t.images
            .of_products(&[ProductId::new()])
            .await
            .unwrap()
            .is_empty()
    );
}

async fn an_image_is_deleted_only_through_its_own_product(t: TestDb) {
    let a = product("A-1", "A", "1", 1);
    let b = product("B-1", "B", "1", 1);
    t.insert_products(&[&a, &b]).await;
    let img = image(a.id, 1);
    t.images.insert(&img).await.unwrap();
    assert_eq!(t.images.delete(b.id, img.id).await.unwrap(), None);
    assert_eq!(t.images.get(img.id).await.unwrap(), Some(img.clone()));
    assert_eq!(
        t.images.delete(a.id, img.id).await.unwrap(),
        Some(img.clone())
    );
    assert_eq!(t.images.get(img.id).await.unwrap(), None);
    assert_eq!(t.images.delete(a.id, img.id).await.unwrap(), None);
}

async fn deleting_a_product_removes_and_returns_its_image_rows(t: TestDb) {
    let a = product("A-1", "A", "1", 1);
    let b = product("B-1", "B", "1", 1);
    t.insert_products(&[&a, &b]).await;
    let (a1, a2, b1) = (image(a.id, 1), image(a.id, 2), image(b.id, 3));
    t.insert_images(&[&a1, &a2, &b1]).await;
    let mut removed = t.products.delete(a.id, at(9)).await.unwrap().unwrap();
    removed.sort_by_key(|i| i.id);
    assert_eq!(removed, vec![a1.clone(), a2]);
    assert_eq!(t.images.get(a1.id).await.unwrap(), None);
    assert_eq!(t.images.of_products(&[a.id, b.id]).await.unwrap(), vec![b1]);
}

on_both_backends!(
    an_image_row_reads_back_exactly_as_written,
    an_image_of_a_missing_or_deleted_product_is_not_written,
    images_list_per_product_in_upload_order,
    an_image_is_deleted_only_through_its_own_product,
    deleting_a_product_removes_and_returns_its_image_rows,
);
