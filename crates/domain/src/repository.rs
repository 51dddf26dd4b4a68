use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::{ProductId, UserId};
use crate::product::{Product, ProductChanges};
use crate::user::User;

/// Why a repository could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// A unique rule was broken; names the field (`sku`, `email`, `username`).
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// The store could not be reached or answered too late; worth a retry.
    #[error("storage unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything else: a bug or corrupt data.
    #[error("storage failure")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Products: the write side of the catalog.
#[async_trait]
pub trait ProductRepository: Send + Sync {
    /// Stores a new product.
    ///
    /// # Errors
    /// `Conflict("sku")` when the SKU is taken.
    async fn insert(&self, product: &Product) -> Result<(), RepositoryError>;

    /// The product, or `None` when it does not exist or was deleted.
    async fn get(&self, id: ProductId) -> Result<Option<Product>, RepositoryError>;

    /// Writes only the changed fields (so a concurrent stock change is never overwritten with
    /// a stale value) and stamps `updated_at`; `None` when the product does not exist.
    ///
    /// # Errors
    /// `Conflict("sku")` when the new SKU is taken.
    async fn update(
        &self,
        id: ProductId,
        changes: &ProductChanges,
        now: DateTime<Utc>,
    ) -> Result<Option<Product>, RepositoryError>;

    /// Removes a product from the catalog; `false` when it did not exist.
    async fn delete(&self, id: ProductId, now: DateTime<Utc>) -> Result<bool, RepositoryError>;
}

/// Accounts as the shop keeps them.
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores a new account.
    ///
    /// # Errors
    /// `Conflict("email")` or `Conflict("username")` when taken.
    async fn insert(&self, user: &User) -> Result<(), RepositoryError>;

    /// Creates the account or refreshes the identity provider's fields (email, username,
    /// roles) of an existing one, keeping its profile fields; returns the stored account.
    async fn upsert_identity(&self, user: &User) -> Result<User, RepositoryError>;

    /// The account, if any.
    async fn get(&self, id: UserId) -> Result<Option<User>, RepositoryError>;

    /// Saves the profile fields (first and last name) and `updated_at`; `false` when gone.
    async fn update_profile(&self, user: &User) -> Result<bool, RepositoryError>;
}
