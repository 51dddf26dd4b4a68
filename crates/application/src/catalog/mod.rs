//! The catalog: admins write products and their images, anyone reads them.

mod images;
mod products;

pub use images::{DEFAULT_MAX_UPLOAD_BYTES, DeleteImage, FILE_FIELD, GetImageFile, UploadImage};
pub use products::{
    CreateProduct, CreateProductCommand, DeleteProduct, GetProduct, ListProducts, PriceInput,
    UpdateProduct, UpdateProductCommand,
};
