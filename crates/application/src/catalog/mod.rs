//! The catalog: admins write products, their images and the category tree; anyone reads the
//! active products and every category.

mod categories;
mod images;
mod products;
pub mod shopify_csv;
mod variants;

pub use categories::{
    CreateCategory, CreateCategoryCommand, DeleteCategory, GetCategory, ListCategories,
    UpdateCategory, UpdateCategoryCommand,
};
pub use images::{DEFAULT_MAX_UPLOAD_BYTES, DeleteImage, FILE_FIELD, GetImageFile, UploadImage};
pub(crate) use products::parse_money;
pub use products::{
    CreateProduct, CreateProductCommand, DeleteProduct, GetProduct, ListProducts, MAX_CATEGORIES,
    PriceInput, UpdateProduct, UpdateProductCommand, VariantInput,
};
pub use variants::{AddVariant, DeleteVariant, UpdateVariant, UpdateVariantCommand, VariantDeps};
