//! Images: which product an image belongs to, the upload limit's boundary, and reading back.

use std::sync::Arc;

use domain::{ImageId, ImageType, ProductId, Role};

use super::*;
use crate::AppError;
use crate::testing::{Chunks, MemoryProducts, MemoryStore, actor};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01";

struct Shelf {
    catalog: Arc<MemoryProducts>,
    store: Arc<MemoryStore>,
    mug: ProductId,
    pen: ProductId,
}

fn shelf() -> Shelf {
    let catalog = Arc::new(MemoryProducts::default());
    Shelf {
        mug: catalog.add_sample("MUG-1"),
        pen: catalog.add_sample("PEN-1"),
        catalog,
        store: Arc::new(MemoryStore::default()),
    }
}

/// The shelf with one image of the mug whose bytes are in the store.
fn shelf_with_stored_image() -> (Shelf, domain::Image) {
    let s = shelf();
    let image = s.catalog.add_image(s.mug);
    s.store.insert(&image.file.key, PNG);
    (s, image)
}

fn admin() -> crate::Actor {
    actor(&[Role::Admin])
}

#[tokio::test]
async fn an_image_is_deleted_only_through_the_product_it_belongs_to() {
    let (s, image) = shelf_with_stored_image();
    let delete = delete_image(s.catalog.clone(), s.store.clone());
    assert!(matches!(
        delete.execute(&admin(), s.pen, image.id).await,
        Err(AppError::NotFound)
    ));
    assert_eq!(
        s.catalog.images.lock().unwrap().clone(),
        vec![image.clone()]
    );
    assert_eq!(s.store.bytes(&image.file.key).as_deref(), Some(PNG));
    assert_eq!(s.store.deletes(), 0);
    // Told apart before the file store is asked: another product's image is not found even
    // while the store is down.
    s.store.set_down(true);
    assert!(matches!(
        delete.execute(&admin(), s.pen, image.id).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        delete.execute(&admin(), s.mug, image.id).await,
        Err(AppError::Unavailable {
            dependency: "file store",
            ..
        })
    ));
    assert_eq!(
        s.catalog.images.lock().unwrap().clone(),
        vec![image.clone()]
    );
    s.store.set_down(false);

    delete.execute(&admin(), s.mug, image.id).await.unwrap();
    assert!(s.catalog.images.lock().unwrap().is_empty());
    assert_eq!(s.store.bytes(&image.file.key), None);
    assert!(matches!(
        delete.execute(&admin(), s.mug, image.id).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        delete
            .execute(&actor(&[Role::User]), s.mug, ImageId::new())
            .await,
        Err(AppError::Forbidden)
    ));
}

#[tokio::test]
async fn an_upload_of_exactly_the_limit_is_stored_and_one_byte_more_is_refused() {
    let s = shelf();
    let limit = PNG.len() as u64 + 4;
    let upload = upload_image(s.catalog.clone(), s.catalog.clone(), s.store.clone(), limit);
    assert_eq!(upload.max_bytes, limit);
    let image = upload
        .execute(&admin(), s.mug, &mut Chunks::of(&[PNG, b"1234"]))
        .await
        .unwrap();
    assert_eq!(image.size, limit);
    assert_eq!(image.product_id, s.mug);
    assert_eq!(image.created_at, now());
    assert_eq!(image.sha256.len(), 64);
    assert_eq!(s.store.bytes(&image.file.key).unwrap().len() as u64, limit);
    match upload
        .execute(&admin(), s.mug, &mut Chunks::of(&[PNG, b"12345"]))
        .await
    {
        Err(AppError::TooLarge { limit: l }) => assert_eq!(l, limit),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.catalog.images.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_checksum_is_the_sha256_of_the_bytes() {
    let s = shelf();
    let upload = upload_image(s.catalog.clone(), s.catalog.clone(), s.store.clone(), 1024);
    let image = upload
        .execute(&admin(), s.mug, &mut Chunks::of(&[&PNG[..5], &PNG[5..]]))
        .await
        .unwrap();
    use sha2::Digest;
    let expected: String = sha2::Sha256::digest(PNG)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(image.sha256, expected);
    assert_eq!(image.content_type, ImageType::Png);
}

#[tokio::test]
async fn an_upload_to_a_missing_product_reads_nothing() {
    let s = shelf();
    let upload = upload_image(s.catalog.clone(), s.catalog.clone(), s.store.clone(), 1024);
    let mut body = Chunks::of(&[PNG]);
    assert!(matches!(
        upload.execute(&admin(), ProductId::new(), &mut body).await,
        Err(AppError::NotFound)
    ));
    assert_eq!(body.read, 0);
    assert!(s.store.is_empty());
}

#[tokio::test]
async fn an_image_and_its_bytes_are_read_back() {
    let (s, image) = shelf_with_stored_image();
    let get = get_image_file(s.catalog.clone(), s.store.clone());
    assert_eq!(get.image(image.id).await.unwrap(), image);
    let body = get.bytes(&image).await.unwrap();
    assert_eq!(body.into_chunks().concat(), PNG);
    assert!(matches!(
        get.image(ImageId::new()).await,
        Err(AppError::NotFound)
    ));
    s.store.set_down(true);
    assert!(matches!(
        get.bytes(&image).await,
        Err(AppError::Unavailable {
            dependency: "file store",
            ..
        })
    ));
}

#[tokio::test]
async fn a_file_of_another_type_is_refused_once_its_first_twelve_bytes_are_in() {
    let s = shelf();
    let upload = upload_image(s.catalog.clone(), s.catalog.clone(), s.store.clone(), 1024);
    // The head arrives split: 5 bytes, then enough for the 12 the signatures need.
    let mut body = Chunks::of(&[b"%PDF-", &[b'x'; 20], b"more", b"more"]);
    assert!(matches!(
        upload.execute(&admin(), s.mug, &mut body).await,
        Err(AppError::UnsupportedMediaType(_))
    ));
    assert_eq!(body.read, 2);
    assert!(s.store.is_empty());
}
