//! Category use cases: admins shape the tree, anyone reads it.

use std::sync::Arc;

use domain::{
    Category, CategoryChanges, CategoryId, CategoryName, CategoryRepository, Description, Position,
    RepositoryError, Slug, Validator,
};
use uuid::Uuid;

use crate::ports::{CategoryReadModel, CategoryView, Clock, Lookup};
use crate::{Actor, AppError};

/// How many times a slug made from a name is tried again when a racing write took it.
pub(crate) const SLUG_ATTEMPTS: usize = 5;

/// What a slug made from a name falls back to when the name keeps nothing.
const FALLBACK_SLUG: &str = "category";

fn parse_description(v: &mut Validator, input: Option<&str>) -> Option<Option<Description>> {
    match input {
        None => Some(None),
        Some(d) if d.trim().is_empty() => Some(None),
        Some(d) => v.check("description", Description::parse(d)).map(Some),
    }
}

/// A new category as an admin submitted it.
#[derive(Debug, Clone, Default)]
pub struct CreateCategoryCommand {
    /// Name.
    pub name: String,
    /// Slug; made from the name when absent.
    pub slug: Option<String>,
    /// The category it sits in.
    pub parent_id: Option<Uuid>,
    /// Optional description.
    pub description: Option<String>,
    /// Sort key; 0 when absent.
    pub position: Option<i64>,
}

/// Adds a category (admins only).
pub struct CreateCategory {
    /// Category writes.
    pub categories: Arc<dyn CategoryRepository>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

impl CreateCategory {
    /// Validates, picks a free slug when none is given, and stores the category.
    ///
    /// # Errors
    /// `Forbidden`, `Validation` (bad fields, an unknown parent), `Conflict` on a given slug
    /// that is taken.
    #[tracing::instrument(name = "create_category", skip_all)]
    pub async fn execute(
        &self,
        actor: &Actor,
        cmd: CreateCategoryCommand,
    ) -> Result<CategoryView, AppError> {
        actor.require_admin()?;
        let mut v = Validator::new();
        let name = v.check("name", CategoryName::parse(&cmd.name));
        let slug = match cmd.slug.as_deref() {
            None => Some(None),
            Some(s) => v.check("slug", Slug::parse(s)).map(Some),
        };
        let description = parse_description(&mut v, cmd.description.as_deref());
        let position = v.check("position", Position::new(cmd.position.unwrap_or(0)));
        v.finish()?;
        let (Some(name), Some(slug), Some(description), Some(position)) =
            (name, slug, description, position)
        else {
            return Err(AppError::invalid("body", "invalid category"));
        };
        let now = self.clock.now();
        let mut category = Category {
            id: CategoryId::new(),
            slug: Slug::from_name(name.as_str(), FALLBACK_SLUG),
            name,
            parent_id: cmd.parent_id.map(CategoryId::from_uuid),
            description,
            position,
            created_at: now,
            updated_at: now,
        };
        let Some(given) = slug else {
            let base = category.slug.clone();
            for _ in 0..SLUG_ATTEMPTS {
                category.slug = base.first_free(&self.categories.slugs_like(&base).await?);
                match self.categories.insert(&category).await {
                    Err(RepositoryError::Conflict("slug")) => continue,
                    other => other?,
                }
                return Ok(CategoryView {
                    category,
                    product_count: 0,
                });
            }
            return Err(RepositoryError::Conflict("slug").into());
        };
        category.slug = given;
        self.categories.insert(&category).await?;
        Ok(CategoryView {
            category,
            product_count: 0,
        })
    }
}

/// Changes to a category; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdateCategoryCommand {
    /// New name.
    pub name: Option<String>,
    /// New slug.
    pub slug: Option<String>,
    /// New parent; `Some(None)` moves it to the top.
    pub parent_id: Option<Option<Uuid>>,
    /// New description; `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// New position.
    pub position: Option<i64>,
}

/// Changes a category, moves included (admins only).
pub struct UpdateCategory {
    /// Category writes.
    pub categories: Arc<dyn CategoryRepository>,
    /// Category reads (for the count).
    pub reads: Arc<dyn CategoryReadModel>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

impl UpdateCategory {
    /// Validates and saves; a move is checked against the tree in the write's transaction.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Validation` (a parent that is itself or below it, unknown),
    /// `Conflict` on a taken slug.
    #[tracing::instrument(name = "update_category", skip_all, fields(category_id = %id))]
    pub async fn execute(
        &self,
        actor: &Actor,
        id: CategoryId,
        cmd: UpdateCategoryCommand,
    ) -> Result<CategoryView, AppError> {
        actor.require_admin()?;
        let mut v = Validator::new();
        let changes = CategoryChanges {
            name: cmd
                .name
                .as_deref()
                .and_then(|s| v.check("name", CategoryName::parse(s))),
            slug: cmd
                .slug
                .as_deref()
                .and_then(|s| v.check("slug", Slug::parse(s))),
            parent_id: cmd.parent_id.map(|p| p.map(CategoryId::from_uuid)),
            description: cmd
                .description
                .as_ref()
                .and_then(|d| parse_description(&mut v, d.as_deref())),
            position: cmd
                .position
                .and_then(|p| v.check("position", Position::new(p))),
        };
        v.finish()?;
        self.categories
            .update(id, &changes, self.clock.now())
            .await?
            .ok_or(AppError::NotFound)?;
        self.reads
            .get(&Lookup::Id(id))
            .await?
            .ok_or(AppError::NotFound)
    }
}

/// Removes a category without children, taking it off its products (admins only).
pub struct DeleteCategory {
    /// Category writes.
    pub categories: Arc<dyn CategoryRepository>,
}

impl DeleteCategory {
    /// Deletes it.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Conflict` while it has child categories.
    #[tracing::instrument(name = "delete_category", skip_all, fields(category_id = %id))]
    pub async fn execute(&self, actor: &Actor, id: CategoryId) -> Result<(), AppError> {
        actor.require_admin()?;
        if self.categories.delete(id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }
}

/// Lists every category (public), by position then name.
pub struct ListCategories {
    /// Category reads.
    pub reads: Arc<dyn CategoryReadModel>,
}

impl ListCategories {
    /// All of them.
    ///
    /// # Errors
    /// `Unavailable` when the database does not answer.
    #[tracing::instrument(name = "list_categories", skip_all)]
    pub async fn execute(&self) -> Result<Vec<CategoryView>, AppError> {
        Ok(self.reads.list().await?)
    }
}

/// Reads one category by id or slug (public).
pub struct GetCategory {
    /// Category reads.
    pub reads: Arc<dyn CategoryReadModel>,
}

impl GetCategory {
    /// The category.
    ///
    /// # Errors
    /// `NotFound` when there is none of that id or slug.
    #[tracing::instrument(name = "get_category", skip_all)]
    pub async fn execute(&self, key: &Lookup<CategoryId>) -> Result<CategoryView, AppError> {
        self.reads.get(key).await?.ok_or(AppError::NotFound)
    }
}
