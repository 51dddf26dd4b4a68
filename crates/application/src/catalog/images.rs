//! Product images: admins upload and remove them, anyone fetches them.
//!
//! Writes are ordered so that no row ever names a missing file: an upload stores the file
//! first and writes the row after (removing the file again when the row cannot be written);
//! a removal deletes the row first and the file after.

use std::sync::Arc;

use domain::{
    Image, ImageId, ImageRepository, ImageType, ProductId, ProductRepository, StoredFile,
};
use sha2::{Digest, Sha256};

use crate::ports::{ByteSource, Clock, FileBody, FileStore, SourceError};
use crate::{Actor, AppError};

/// Default largest upload: 10 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 10 * 1024 * 1024;

/// The multipart field an upload's file comes in.
pub const FILE_FIELD: &str = "file";

fn unsupported() -> AppError {
    AppError::UnsupportedMediaType(
        "the file is not a JPEG, PNG, WebP or GIF image (known by its bytes)".into(),
    )
}

/// An upload read to its end and checked: within the limit, of a known image type.
struct Received {
    body: FileBody,
    content_type: ImageType,
    sha256: String,
}

/// Reads `source` chunk by chunk: stops with `TooLarge` as soon as it passes `limit` bytes, and
/// with `UnsupportedMediaType` as soon as its first bytes name no accepted image type, so that
/// neither reads the rest of the body.
async fn receive(source: &mut dyn ByteSource, limit: u64) -> Result<Received, AppError> {
    let mut body = FileBody::default();
    let mut head = Vec::with_capacity(ImageType::SNIFF_LEN);
    let mut content_type = None;
    let mut hasher = Sha256::new();
    while let Some(chunk) = source.next_chunk().await.map_err(|e| match e {
        SourceError::TooLarge => AppError::TooLarge { limit },
        SourceError::MissingField(field) => AppError::invalid(field, "is required"),
        SourceError::Malformed(message) => AppError::BadRequest(message),
        SourceError::UnsupportedMediaType(message) => AppError::UnsupportedMediaType(message),
    })? {
        if body.len() + chunk.len() as u64 > limit {
            return Err(AppError::TooLarge { limit });
        }
        if content_type.is_none() {
            let wanted = ImageType::SNIFF_LEN - head.len();
            head.extend_from_slice(&chunk[..wanted.min(chunk.len())]);
            if head.len() == ImageType::SNIFF_LEN {
                content_type = Some(ImageType::sniff(&head).ok_or_else(unsupported)?);
            }
        }
        hasher.update(&chunk);
        body.push(chunk);
    }
    // A file shorter than the longest signature may still carry a shorter one in full.
    let content_type = match content_type {
        Some(t) => t,
        None => ImageType::sniff(&head).ok_or_else(unsupported)?,
    };
    Ok(Received {
        body,
        content_type,
        sha256: hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    })
}

/// Removes a file that no row names, and logs it when that fails too: a stray file wastes
/// space but breaks nothing, which a row without its file would.
async fn discard(store: &dyn FileStore, file: &StoredFile) {
    if let Err(e) = store.delete(file).await {
        tracing::warn!(key = %file.key, error = %e, "could not remove a file no row names; it stays in the store");
    }
}

/// Adds an image to a product (admins only): JPEG, PNG, WebP or GIF as known from its bytes,
/// at most a configured size.
pub struct UploadImage {
    /// Product writes.
    pub products: Arc<dyn ProductRepository>,
    /// Product image rows.
    pub images: Arc<dyn ImageRepository>,
    /// Where image files are kept.
    pub store: Arc<dyn FileStore>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Largest upload, in bytes (`TooLarge` above).
    pub max_bytes: u64,
}

impl UploadImage {
    /// Checks the caller and the product before reading a byte of `body`, reads it up to the
    /// limit, stores the file under a key of its own making, then writes the row.
    ///
    /// # Errors
    /// `Forbidden` for non-admins, `NotFound` for an unknown (or meanwhile deleted) product,
    /// `TooLarge`, `UnsupportedMediaType`, `BadRequest` or `Validation` (no `file` field) for the
    /// body, `Unavailable` when the store or the database fails; in every case no row is left,
    /// and no file unless removing it failed as well (then it is logged).
    #[tracing::instrument(name = "upload_image", skip_all, fields(product_id = %product_id))]
    pub async fn execute(
        &self,
        actor: &Actor,
        product_id: ProductId,
        body: &mut dyn ByteSource,
    ) -> Result<Image, AppError> {
        actor.require_admin()?;
        if self.products.get(product_id).await?.is_none() {
            return Err(AppError::NotFound);
        }
        let received = receive(body, self.max_bytes).await?;
        let id = ImageId::new();
        let size = received.body.len();
        let file = self
            .store
            .put(&format!("images/{id}"), received.body)
            .await?;
        let image = Image {
            id,
            product_id,
            content_type: received.content_type,
            size,
            sha256: received.sha256,
            file,
            created_at: self.clock.now(),
        };
        match self.images.insert(&image).await {
            Ok(true) => {
                tracing::info!(image_id = %image.id, size, "image stored");
                Ok(image)
            }
            Ok(false) => {
                discard(&*self.store, &image.file).await;
                Err(AppError::NotFound)
            }
            Err(e) => {
                discard(&*self.store, &image.file).await;
                Err(e.into())
            }
        }
    }
}

/// Removes an image of a product (admins only): its row, then its file.
pub struct DeleteImage {
    /// Product image rows.
    pub images: Arc<dyn ImageRepository>,
    /// Where image files are kept.
    pub store: Arc<dyn FileStore>,
}

impl DeleteImage {
    /// Deletes the image when the store answers: with the store down nothing changes (503), so
    /// a removal never stops half-way for that reason. Should the store fail between the check
    /// and the removal of the file, the image is still gone and the stray file is logged.
    ///
    /// # Errors
    /// `Forbidden` for non-admins, `NotFound` when the product has no such image,
    /// `Unavailable` when the store or the database does not answer.
    #[tracing::instrument(name = "delete_image", skip_all, fields(product_id = %product_id, image_id = %id))]
    pub async fn execute(
        &self,
        actor: &Actor,
        product_id: ProductId,
        id: ImageId,
    ) -> Result<(), AppError> {
        actor.require_admin()?;
        match self.images.get(id).await? {
            Some(image) if image.product_id == product_id => {}
            _ => return Err(AppError::NotFound),
        }
        self.store.check().await?;
        let image = self
            .images
            .delete(product_id, id)
            .await?
            .ok_or(AppError::NotFound)?;
        discard(&*self.store, &image.file).await;
        Ok(())
    }
}

/// Serves the bytes of images (public).
pub struct GetImageFile {
    /// Product image rows.
    pub images: Arc<dyn ImageRepository>,
    /// Where image files are kept.
    pub store: Arc<dyn FileStore>,
}

impl GetImageFile {
    /// What is known of the image, without touching the store (enough to answer a conditional
    /// request).
    ///
    /// # Errors
    /// `NotFound` when there is no such image.
    #[tracing::instrument(name = "get_image", skip_all, fields(image_id = %id))]
    pub async fn image(&self, id: ImageId) -> Result<Image, AppError> {
        self.images.get(id).await?.ok_or(AppError::NotFound)
    }

    /// The bytes of `image`.
    ///
    /// # Errors
    /// `NotFound` when it was deleted meanwhile, `Unavailable` when the store does not answer.
    #[tracing::instrument(name = "read_image", skip_all, fields(image_id = %image.id))]
    pub async fn bytes(&self, image: &Image) -> Result<FileBody, AppError> {
        Ok(self.store.get(&image.file).await?)
    }
}

/// Removes the files of images whose rows are already gone (a product's, when it is deleted).
pub(crate) async fn discard_files(store: &dyn FileStore, images: &[Image]) {
    for image in images {
        discard(store, &image.file).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use domain::Role;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01";

    struct Setup {
        catalog: Arc<MemoryProducts>,
        store: Arc<MemoryStore>,
        upload: UploadImage,
        product: ProductId,
    }

    fn setup(max_bytes: u64) -> Setup {
        let catalog = Arc::new(MemoryProducts::default());
        let product = catalog.add_sample("MUG-1");
        let store = Arc::new(MemoryStore::default());
        let upload = UploadImage {
            products: catalog.clone(),
            images: catalog.clone(),
            store: store.clone(),
            clock: Arc::new(FixedClock),
            max_bytes,
        };
        Setup {
            catalog,
            store,
            upload,
            product,
        }
    }

    fn admin() -> Actor {
        actor(&[Role::Admin])
    }

    /// Uploads the PNG for the product, as an admin.
    async fn upload_png(s: &Setup) -> Image {
        s.upload
            .execute(&admin(), s.product, &mut Chunks::of(&[PNG]))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_upload_stores_the_file_under_a_key_of_its_own_then_the_row() {
        let s = setup(1024);
        let image = upload_png(&s).await;
        assert_eq!(image.content_type, ImageType::Png);
        assert_eq!(image.size, PNG.len() as u64);
        assert_eq!(image.file.key, format!("images/{}", image.id));
        assert_eq!(s.store.bytes(&image.file.key).as_deref(), Some(PNG));
        assert_eq!(s.catalog.images.lock().unwrap().clone(), vec![image]);
    }

    #[tokio::test]
    async fn the_type_is_known_across_chunk_boundaries() {
        let s = setup(1024);
        let image = s
            .upload
            .execute(
                &admin(),
                s.product,
                &mut Chunks::of(&[&PNG[..1], &PNG[1..5], &PNG[5..]]),
            )
            .await
            .unwrap();
        assert_eq!(image.content_type, ImageType::Png);
        assert_eq!(image.sha256.len(), 64);
    }

    #[tokio::test]
    async fn non_admins_are_refused_before_a_byte_is_read() {
        let s = setup(1024);
        let mut body = Chunks::of(&[PNG]);
        let err = s
            .upload
            .execute(&actor(&[Role::User]), s.product, &mut body)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Forbidden));
        assert_eq!(body.read, 0);
    }

    #[tokio::test]
    async fn reading_stops_at_the_limit() {
        let s = setup(20);
        let mut body = Chunks::of(&[PNG, &[0; 8], &[0; 8], &[0; 8]]);
        let err = s
            .upload
            .execute(&admin(), s.product, &mut body)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::TooLarge { limit: 20 }));
        assert_eq!(body.read, 2, "read past the chunk that crossed the limit");
        assert!(s.store.is_empty());
    }

    #[tokio::test]
    async fn a_file_of_another_type_is_refused_after_its_first_bytes() {
        let s = setup(1024);
        let mut body = Chunks::of(&[b"%PDF-1.7 and then some", b"more"]);
        let err = s
            .upload
            .execute(&admin(), s.product, &mut body)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::UnsupportedMediaType(_)));
        assert_eq!(body.read, 1);
        for empty in [&[][..], b"GIF8"] {
            let err = s
                .upload
                .execute(&admin(), s.product, &mut Chunks::of(&[empty]))
                .await
                .unwrap_err();
            assert!(matches!(err, AppError::UnsupportedMediaType(_)));
        }
        assert!(s.store.is_empty());
    }

    #[tokio::test]
    async fn a_short_file_with_a_whole_signature_is_accepted() {
        let s = setup(1024);
        let image = s
            .upload
            .execute(&admin(), s.product, &mut Chunks::of(&[b"GIF89a;"]))
            .await
            .unwrap();
        assert_eq!(image.content_type, ImageType::Gif);
    }

    #[tokio::test]
    async fn a_failed_row_write_removes_the_stored_file() {
        let s = setup(1024);
        s.catalog.fail_image_inserts();
        let err = s
            .upload
            .execute(&admin(), s.product, &mut Chunks::of(&[PNG]))
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Unavailable { .. }));
        assert!(s.store.is_empty());
        assert!(s.store.deletes() >= 1);
    }

    #[tokio::test]
    async fn a_product_deleted_during_the_upload_leaves_neither_row_nor_file() {
        let s = setup(1024);
        let mut body = Chunks::of(&[PNG]).then_delete(s.catalog.clone(), s.product);
        let err = s
            .upload
            .execute(&admin(), s.product, &mut body)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::NotFound));
        assert!(s.store.is_empty());
        assert!(s.catalog.images.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_store_that_is_down_leaves_no_row() {
        let s = setup(1024);
        s.store.set_down(true);
        let err = s
            .upload
            .execute(&admin(), s.product, &mut Chunks::of(&[PNG]))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            AppError::Unavailable {
                dependency: "file store",
                ..
            }
        ));
        assert!(s.catalog.images.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn deleting_removes_the_row_then_the_file_and_nothing_while_the_store_is_down() {
        let s = setup(1024);
        let image = upload_png(&s).await;
        let delete = DeleteImage {
            images: s.catalog.clone(),
            store: s.store.clone(),
        };
        assert!(matches!(
            delete
                .execute(&actor(&[Role::User]), s.product, image.id)
                .await,
            Err(AppError::Forbidden)
        ));
        assert!(matches!(
            delete.execute(&admin(), ProductId::new(), image.id).await,
            Err(AppError::NotFound)
        ));
        s.store.set_down(true);
        assert!(matches!(
            delete.execute(&admin(), s.product, image.id).await,
            Err(AppError::Unavailable { .. })
        ));
        assert_eq!(s.catalog.images.lock().unwrap().len(), 1);
        s.store.set_down(false);
        delete.execute(&admin(), s.product, image.id).await.unwrap();
        assert!(s.catalog.images.lock().unwrap().is_empty());
        assert!(s.store.is_empty());
        assert!(matches!(
            delete.execute(&admin(), s.product, image.id).await,
            Err(AppError::NotFound)
        ));
    }
}
