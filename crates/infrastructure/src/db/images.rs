use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Image, ImageId, ImageRepository, ImageType, ProductId, RepositoryError, StoredFile};
use uuid::Uuid;

use super::{Backend, Database, corrupt, fetch_by_id, fetch_in, map_err, on_db};

macro_rules! image_columns {
    () => {
        "id, product_id, content_type, size_bytes, sha256, storage_key, storage_file_id, created_at"
    };
}

/// One by id.
const IMAGE_BY_ID: &str = concat!(
    "SELECT ",
    image_columns!(),
    " FROM product_images WHERE id = $1"
);
pub(super) use image_columns;

#[derive(sqlx::FromRow)]
pub(super) struct ImageRow {
    id: Uuid,
    product_id: Uuid,
    content_type: String,
    size_bytes: i64,
    sha256: String,
    storage_key: String,
    storage_file_id: Option<String>,
    created_at: DateTime<Utc>,
}

macro_rules! joined_image_columns {
    () => {
        "i.id AS image_id, i.content_type AS image_content_type, i.size_bytes AS image_size_bytes, \
         i.sha256 AS image_sha256, i.storage_key AS image_storage_key, \
         i.storage_file_id AS image_storage_file_id, i.created_at AS image_created_at"
    };
}
pub(super) use joined_image_columns;

/// The images of the product `p` as one JSON text, `[[id, content_type, size_bytes, sha256,
/// storage_key, storage_file_id, created_at], ...]`, so that a list reads a page of products
/// with their images and categories in one statement. SQLite holds ids as blobs, written here
/// as 32 hex digits.
macro_rules! images_json {
    (sqlite) => {
        "(SELECT json_group_array(json_array(lower(hex(i.id)), i.content_type, i.size_bytes, \
         i.sha256, i.storage_key, i.storage_file_id, i.created_at)) \
         FROM product_images i WHERE i.product_id = p.id) AS images"
    };
    (postgres) => {
        "(SELECT COALESCE(json_agg(json_build_array(i.id, i.content_type, i.size_bytes, \
         i.sha256, i.storage_key, i.storage_file_id, i.created_at)), '[]')::text \
         FROM product_images i WHERE i.product_id = p.id) AS images"
    };
}
pub(super) use images_json;

/// [`images_json`]'s text as the images of `product`, in upload order (their ids are UUID v7).
pub(super) fn images_from_json(product: Uuid, json: &str) -> Result<Vec<Image>, RepositoryError> {
    type Row = (String, String, i64, String, String, Option<String>, String);
    let rows: Vec<Row> = serde_json::from_str(json).map_err(|e| corrupt("images", e))?;
    let mut images = rows
        .into_iter()
        .map(
            |(id, content_type, size_bytes, sha256, storage_key, storage_file_id, created_at)| {
                Image::try_from(ImageRow {
                    id: Uuid::parse_str(&id).map_err(|e| corrupt("image id", e))?,
                    product_id: product,
                    content_type,
                    size_bytes,
                    sha256,
                    storage_key,
                    storage_file_id,
                    created_at: DateTime::parse_from_rfc3339(&created_at)
                        .map_err(|e| corrupt("image created_at", e))?
                        .with_timezone(&Utc),
                })
            },
        )
        .collect::<Result<Vec<_>, _>>()?;
    images.sort_by_key(|i| i.id.as_uuid());
    Ok(images)
}

/// An image's columns in a `LEFT JOIN product_images i` (see [`joined_image_columns`]): all
/// empty for a product without images.
#[derive(sqlx::FromRow)]
pub(super) struct JoinedImageRow {
    image_id: Option<Uuid>,
    image_content_type: Option<String>,
    image_size_bytes: Option<i64>,
    image_sha256: Option<String>,
    image_storage_key: Option<String>,
    image_storage_file_id: Option<String>,
    image_created_at: Option<DateTime<Utc>>,
}

impl JoinedImageRow {
    /// The image of product `product_id` these columns hold, if any.
    pub(super) fn into_image(self, product_id: Uuid) -> Result<Option<Image>, RepositoryError> {
        let (Some(id), Some(content_type), Some(size_bytes), Some(sha256), Some(storage_key)) = (
            self.image_id,
            self.image_content_type,
            self.image_size_bytes,
            self.image_sha256,
            self.image_storage_key,
        ) else {
            return Ok(None);
        };
        let created_at = self
            .image_created_at
            .ok_or_else(|| corrupt("image", "created_at is missing"))?;
        Image::try_from(ImageRow {
            id,
            product_id,
            content_type,
            size_bytes,
            sha256,
            storage_key,
            storage_file_id: self.image_storage_file_id,
            created_at,
        })
        .map(Some)
    }
}

/// The images of `products` in one query, by product, each product's in upload order.
pub(super) async fn images_of_products(
    db: &Database,
    products: &[ProductId],
) -> Result<Vec<Image>, RepositoryError> {
    const SQL: &str = concat!(
        "SELECT ",
        image_columns!(),
        " FROM product_images WHERE product_id IN ({}) ORDER BY product_id, id"
    );
    let ids: Vec<Uuid> = products.iter().map(ProductId::as_uuid).collect();
    let rows: Vec<ImageRow> = fetch_in(db, SQL, &ids).await?;
    rows.into_iter().map(Image::try_from).collect()
}

impl TryFrom<ImageRow> for Image {
    type Error = RepositoryError;

    fn try_from(r: ImageRow) -> Result<Self, RepositoryError> {
        Ok(Image {
            id: ImageId::from_uuid(r.id),
            product_id: ProductId::from_uuid(r.product_id),
            content_type: ImageType::from_content_type(&r.content_type)
                .ok_or_else(|| corrupt("content type", &r.content_type))?,
            size: u64::try_from(r.size_bytes).map_err(|e| corrupt("size", e))?,
            sha256: r.sha256,
            file: StoredFile {
                key: r.storage_key,
                file_id: r.storage_file_id,
            },
            created_at: r.created_at,
        })
    }
}

/// Image rows in SQL, for both backends.
#[derive(Clone)]
pub struct SqlImages {
    db: Database,
}

impl SqlImages {
    /// Image rows in `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl ImageRepository for SqlImages {
    #[tracing::instrument(name = "db.images.insert", skip_all, fields(image_id = %image.id))]
    async fn insert(&self, image: &Image) -> Result<bool, RepositoryError> {
        // The product must stay live until the row is in. On PostgreSQL `FOR SHARE` makes a
        // concurrent delete of the product wait for this transaction (its removal of the
        // product's image rows then sees this one), or makes this one see the delete. On
        // SQLite, `BEGIN IMMEDIATE` runs writers one at a time anyway.
        let live = match self.db.backend() {
            Backend::Sqlite => "SELECT 1 FROM products WHERE id = $1 AND deleted_at IS NULL",
            Backend::Postgres => {
                "SELECT 1 FROM products WHERE id = $1 AND deleted_at IS NULL FOR SHARE"
            }
        };
        let size = i64::try_from(image.size).map_err(|e| corrupt("size", e))?;
        on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            let found: Option<i32> = sqlx::query_scalar(live)
                .bind(image.product_id.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            if found.is_none() {
                return Ok(false);
            }
            sqlx::query(concat!(
                "INSERT INTO product_images (",
                image_columns!(),
                ", updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
            ))
            .bind(image.id.as_uuid())
            .bind(image.product_id.as_uuid())
            .bind(image.content_type.content_type())
            .bind(size)
            .bind(&image.sha256)
            .bind(&image.file.key)
            .bind(image.file.file_id.as_deref())
            .bind(image.created_at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(true)
        })
    }

    #[tracing::instrument(name = "db.images.get", skip_all, fields(image_id = %id))]
    async fn get(&self, id: ImageId) -> Result<Option<Image>, RepositoryError> {
        fetch_by_id::<ImageRow, _>(&self.db, IMAGE_BY_ID, id.as_uuid()).await
    }

    #[tracing::instrument(name = "db.images.of_products", skip_all, fields(count = products.len()))]
    async fn of_products(&self, products: &[ProductId]) -> Result<Vec<Image>, RepositoryError> {
        images_of_products(&self.db, products).await
    }

    #[tracing::instrument(name = "db.images.delete", skip_all, fields(image_id = %id))]
    async fn delete(
        &self,
        product: ProductId,
        id: ImageId,
    ) -> Result<Option<Image>, RepositoryError> {
        let row: Option<ImageRow> = on_db!(&self.db, write, pool => {
            sqlx::query_as(concat!(
                "DELETE FROM product_images WHERE id = $1 AND product_id = $2 RETURNING ",
                image_columns!()
            ))
            .bind(id.as_uuid())
            .bind(product.as_uuid())
            .fetch_optional(pool)
            .await
        })
        .map_err(map_err)?;
        row.map(Image::try_from).transpose()
    }
}
