//! Catalog use cases: admins write products, anyone reads them.

use std::sync::Arc;

use domain::{
    Currency, Description, ImageRepository, Money, Page, PageRequest, Product, ProductChanges,
    ProductId, ProductName, ProductRepository, Sku, Stock, Validator,
};

use super::images::discard_files;
use crate::events::Events;
use crate::ports::{Clock, FileStore, ProductReadModel, ProductView};
use crate::{Actor, AppError};

/// A price as the client sent it.
#[derive(Debug, Clone)]
pub struct PriceInput {
    /// Decimal string, e.g. `19.99`.
    pub amount: String,
    /// ISO 4217 code.
    pub currency: String,
}

fn parse_price(v: &mut Validator, input: &PriceInput) -> Option<Money> {
    match Currency::parse(&input.currency) {
        Ok(currency) => v.check("price.amount", Money::parse(&input.amount, currency)),
        Err(e) => {
            // The amount's sign and shape do not depend on the currency: report them too.
            // KWD has the most minor digits, so it refuses only what every currency refuses.
            if let Ok(widest) = Currency::parse("KWD") {
                v.check("price.amount", Money::parse(&input.amount, widest));
            }
            v.push(e.at("price.currency"));
            None
        }
    }
}

fn parse_description(v: &mut Validator, input: Option<&str>) -> Option<Option<Description>> {
    match input {
        None => Some(None),
        Some(d) if d.trim().is_empty() => Some(None),
        Some(d) => v.check("description", Description::parse(d)).map(Some),
    }
}

/// A new product as an admin submitted it.
#[derive(Debug, Clone)]
pub struct CreateProductCommand {
    /// Unique SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Unit price.
    pub price: PriceInput,
    /// Units on hand.
    pub stock: i64,
}

/// Adds a product to the catalog (admins only; the SKU must be free).
pub struct CreateProduct {
    /// Product writes.
    pub products: Arc<dyn ProductRepository>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The events it writes with the product.
    pub events: Arc<Events>,
}

impl CreateProduct {
    /// Validates every field, then stores the product.
    ///
    /// # Errors
    /// `Forbidden` for non-admins, `Validation` listing each bad field, `Conflict` on a taken SKU.
    #[tracing::instrument(name = "create_product", skip_all)]
    pub async fn execute(
        &self,
        actor: &Actor,
        cmd: CreateProductCommand,
    ) -> Result<Product, AppError> {
        actor.require_admin()?;
        let mut v = Validator::new();
        let sku = v.check("sku", Sku::parse(&cmd.sku));
        let name = v.check("name", ProductName::parse(&cmd.name));
        let description = parse_description(&mut v, cmd.description.as_deref());
        let price = parse_price(&mut v, &cmd.price);
        let stock = v.check("stock", Stock::new(cmd.stock));
        v.finish()?;
        let (Some(sku), Some(name), Some(description), Some(price), Some(stock)) =
            (sku, name, description, price, stock)
        else {
            return Err(AppError::invalid("body", "invalid product"));
        };
        let now = self.clock.now();
        let product = Product {
            id: ProductId::new(),
            sku,
            name,
            description,
            price,
            stock,
            created_at: now,
            updated_at: now,
        };
        let created = self.events.product_created(&ProductView {
            product: product.clone(),
            images: Vec::new(),
        });
        self.products
            .insert_with_events(&product, &[created])
            .await?;
        Ok(product)
    }
}

/// Changes to a product as an admin submitted them; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdateProductCommand {
    /// New SKU.
    pub sku: Option<String>,
    /// New name.
    pub name: Option<String>,
    /// New description; `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// New price.
    pub price: Option<PriceInput>,
    /// New stock level.
    pub stock: Option<i64>,
}

/// Changes a product (admins only).
pub struct UpdateProduct {
    /// Product writes.
    pub products: Arc<dyn ProductRepository>,
    /// Product image rows.
    pub images: Arc<dyn ImageRepository>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The events it writes with the change.
    pub events: Arc<Events>,
}

impl UpdateProduct {
    /// Validates the given fields, then saves the product with them.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Validation`, or `Conflict` on a taken SKU.
    #[tracing::instrument(name = "update_product", skip_all, fields(product_id = %id))]
    pub async fn execute(
        &self,
        actor: &Actor,
        id: ProductId,
        cmd: UpdateProductCommand,
    ) -> Result<ProductView, AppError> {
        actor.require_admin()?;
        let mut v = Validator::new();
        let changes = ProductChanges {
            sku: cmd
                .sku
                .as_deref()
                .and_then(|s| v.check("sku", Sku::parse(s))),
            name: cmd
                .name
                .as_deref()
                .and_then(|s| v.check("name", ProductName::parse(s))),
            description: cmd
                .description
                .as_ref()
                .and_then(|d| parse_description(&mut v, d.as_deref())),
            price: cmd.price.as_ref().and_then(|p| parse_price(&mut v, p)),
            stock: cmd.stock.and_then(|s| v.check("stock", Stock::new(s))),
        };
        v.finish()?;
        // Updates leave the images alone: read once, for the event and the answer.
        let images = self.images.of_products(&[id]).await?;
        let stock_set = changes.stock.is_some();
        let events = |product: &Product| {
            self.events.product_updated(
                &ProductView {
                    product: product.clone(),
                    images: images.clone(),
                },
                stock_set,
            )
        };
        let product = self
            .products
            .update_with_events(id, &changes, self.clock.now(), &events)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(ProductView { product, images })
    }
}

/// Removes a product from the catalog with its images (admins only). Orders keep their own
/// copy of it.
pub struct DeleteProduct {
    /// Product writes.
    pub products: Arc<dyn ProductRepository>,
    /// Product image rows.
    pub images: Arc<dyn ImageRepository>,
    /// Where image files are kept.
    pub store: Arc<dyn FileStore>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The events it writes with the removal.
    pub events: Arc<Events>,
}

impl DeleteProduct {
    /// Deletes the product and its image rows in one transaction, then their files. A product
    /// with images is deleted only while the file store answers, so that a store that is down
    /// leaves everything as it was.
    ///
    /// # Errors
    /// `Forbidden` for non-admins, `NotFound` when it does not exist, `Unavailable` when the
    /// database, or the store of its images, does not answer.
    #[tracing::instrument(name = "delete_product", skip_all, fields(product_id = %id))]
    pub async fn execute(&self, actor: &Actor, id: ProductId) -> Result<(), AppError> {
        actor.require_admin()?;
        let product = self.products.get(id).await?.ok_or(AppError::NotFound)?;
        let images = self.images.of_products(&[id]).await?;
        if !images.is_empty() {
            self.store.check().await?;
        }
        let now = self.clock.now();
        let deleted = self
            .events
            .product_deleted(&ProductView { product, images }, now);
        let removed = self
            .products
            .delete_with_events(id, now, &[deleted])
            .await?
            .ok_or(AppError::NotFound)?;
        discard_files(&*self.store, &removed).await;
        Ok(())
    }
}

/// Reads one product with its images (public), from the catalog's read model: one round trip.
pub struct GetProduct {
    /// Catalog reads.
    pub catalog: Arc<dyn ProductReadModel>,
}

impl GetProduct {
    /// The product.
    ///
    /// # Errors
    /// `NotFound` when it does not exist or was deleted.
    #[tracing::instrument(name = "get_product", skip_all, fields(product_id = %id))]
    pub async fn execute(&self, id: ProductId) -> Result<ProductView, AppError> {
        self.catalog.get(id).await?.ok_or(AppError::NotFound)
    }
}

/// Lists the catalog (public), newest first, optionally filtered by a search text, each
/// product with its images, as the catalog's read model answers it.
pub struct ListProducts {
    /// Catalog reads.
    pub catalog: Arc<dyn ProductReadModel>,
}

impl ListProducts {
    /// One page; a blank search lists everything. Any text is a valid search.
    ///
    /// # Errors
    /// `Unavailable` when the database does not answer.
    #[tracing::instrument(name = "list_products", skip_all)]
    pub async fn execute(
        &self,
        page: PageRequest,
        search: Option<&str>,
    ) -> Result<Page<ProductView>, AppError> {
        Ok(self.catalog.list(page, search).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use domain::Role;

    fn cmd() -> CreateProductCommand {
        CreateProductCommand {
            sku: "MUG-1".into(),
            name: "Mug".into(),
            description: None,
            price: PriceInput {
                amount: "9.50".into(),
                currency: "EUR".into(),
            },
            stock: 3,
        }
    }

    #[tokio::test]
    async fn only_admins_create_products() {
        let repo = Arc::new(MemoryProducts::default());
        let uc = CreateProduct {
            products: repo.clone(),
            clock: Arc::new(FixedClock),
            events: events(),
        };
        let err = uc.execute(&actor(&[Role::User]), cmd()).await.unwrap_err();
        assert!(matches!(err, AppError::Forbidden));
        assert!(repo.items.lock().unwrap().is_empty());
        let p = uc
            .execute(&actor(&[Role::User, Role::Admin]), cmd())
            .await
            .unwrap();
        assert_eq!(p.price.amount_string(), "9.50");
    }

    #[tokio::test]
    async fn every_bad_field_is_reported_at_once() {
        let repo = Arc::new(MemoryProducts::default());
        let uc = CreateProduct {
            products: repo,
            clock: Arc::new(FixedClock),
            events: events(),
        };
        let bad = CreateProductCommand {
            sku: "".into(),
            name: "".into(),
            description: None,
            price: PriceInput {
                amount: "-1".into(),
                currency: "EUR".into(),
            },
            stock: -5,
        };
        let Err(AppError::Validation(errors)) = uc.execute(&actor(&[Role::Admin]), bad).await
        else {
            panic!("expected a validation error");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["sku", "name", "price.amount", "stock"]);
    }

    #[tokio::test]
    async fn non_admins_cannot_update_or_delete() {
        let repo = Arc::new(MemoryProducts::default());
        let admin = actor(&[Role::Admin]);
        let p = CreateProduct {
            products: repo.clone(),
            clock: Arc::new(FixedClock),
            events: events(),
        }
        .execute(&admin, cmd())
        .await
        .unwrap();
        let user = actor(&[Role::User]);
        let update = UpdateProduct {
            products: repo.clone(),
            images: repo.clone(),
            clock: Arc::new(FixedClock),
            events: events(),
        };
        assert!(matches!(
            update
                .execute(&user, p.id, UpdateProductCommand::default())
                .await,
            Err(AppError::Forbidden)
        ));
        assert!(matches!(
            DeleteProduct {
                products: repo.clone(),
                images: repo.clone(),
                store: Arc::new(MemoryStore::default()),
                clock: Arc::new(FixedClock),
                events: events(),
            }
            .execute(&user, p.id)
            .await,
            Err(AppError::Forbidden)
        ));
        let changed = update
            .execute(
                &admin,
                p.id,
                UpdateProductCommand {
                    stock: Some(7),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(changed.product.stock.get(), 7);
        assert_eq!(changed.product.name.as_str(), "Mug");
    }

    #[tokio::test]
    async fn deleting_a_product_removes_its_images_and_their_files() {
        let repo = Arc::new(MemoryProducts::default());
        let store = Arc::new(MemoryStore::default());
        let p = repo.add_sample("A-1");
        let image = repo.add_image(p);
        store.insert(&image.file.key, b"bytes");
        let delete = DeleteProduct {
            products: repo.clone(),
            images: repo.clone(),
            store: store.clone(),
            clock: Arc::new(FixedClock),
            events: events(),
        };
        let admin = actor(&[Role::Admin]);

        store.set_down(true);
        assert!(matches!(
            delete.execute(&admin, p).await,
            Err(AppError::Unavailable { .. })
        ));
        assert_eq!(repo.items.lock().unwrap().len(), 1, "nothing changed");
        assert_eq!(repo.images.lock().unwrap().len(), 1);

        store.set_down(false);
        delete.execute(&admin, p).await.unwrap();
        assert!(repo.items.lock().unwrap().is_empty());
        assert!(repo.images.lock().unwrap().is_empty());
        assert!(store.is_empty());
    }
}
