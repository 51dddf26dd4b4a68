//! Categories in SQL, for both backends: the tree, its writes under one lock, and the product
//! counts kept beside each category by the writes that change them.

use std::collections::HashSet;

use application::ports::{CategoryReadModel, CategoryView, Lookup};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::category::{check_parent, with_ancestors};
use domain::{
    Category, CategoryChanges, CategoryId, CategoryName, CategoryRepository, Description,
    ParentLinks, Position, RepositoryError, Slug,
};
use uuid::Uuid;

use super::{Backend, Database, ReadReplica, corrupt, map_err, on_db, on_replica, slugs_like};

macro_rules! category_columns {
    () => {
        "id, name, slug, parent_id, description, position, product_count, created_at, updated_at"
    };
}

/// The key of PostgreSQL's advisory lock on the category tree. Moves take it exclusively (so
/// two moves cannot each pass the cycle check against a tree the other is changing), product
/// writes that keep counts take it shared (so the tree they count along stays put). SQLite
/// has one writer at a time (`BEGIN IMMEDIATE`), which serialises the same writes.
const TREE_LOCK: i64 = 0x0005_ca7e_6021;

/// The statement that takes the tree lock on this backend, if it needs one.
pub(super) fn tree_lock(db: &Database, exclusive: bool) -> Option<String> {
    match db.backend() {
        Backend::Sqlite => None,
        Backend::Postgres if exclusive => {
            Some(format!("SELECT pg_advisory_xact_lock({TREE_LOCK})"))
        }
        Backend::Postgres => Some(format!("SELECT pg_advisory_xact_lock_shared({TREE_LOCK})")),
    }
}

/// `$from, $from+1, …` for `n` values.
pub(super) fn placeholders_from(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads the tree's links inside the transaction `$tx`.
macro_rules! tree_links {
    ($tx:expr) => {{
        let rows: Vec<(uuid::Uuid, Option<uuid::Uuid>)> =
            sqlx::query_as("SELECT id, parent_id FROM categories")
                .fetch_all(&mut *$tx)
                .await
                .map_err($crate::db::map_err)?;
        rows.into_iter()
            .map(|(id, parent)| {
                (
                    domain::CategoryId::from_uuid(id),
                    parent.map(domain::CategoryId::from_uuid),
                )
            })
            .collect::<domain::ParentLinks>()
    }};
}
pub(super) use tree_links;

/// Counts a product once more in each category of `$more` and once less in each of `$less`,
/// inside `$tx`, in one statement: its rows are locked in one scan, so two such writes
/// moving products in opposite directions cannot deadlock on each other's rows.
macro_rules! bump_counts {
    ($tx:expr, $more:expr, $less:expr) => {{
        let (more, less): (&[domain::CategoryId], &[domain::CategoryId]) = ($more, $less);
        if !more.is_empty() || !less.is_empty() {
            let gaining = if more.is_empty() {
                "NULL".to_owned()
            } else {
                $crate::db::categories::placeholders_from(1, more.len())
            };
            let sql = format!(
                "UPDATE categories SET product_count = product_count + \
                 CASE WHEN id IN ({gaining}) THEN 1 ELSE -1 END WHERE id IN ({})",
                $crate::db::categories::placeholders_from(more.len() + 1, more.len() + less.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in more {
                q = q.bind(id.as_uuid());
            }
            for id in more.iter().chain(less) {
                q = q.bind(id.as_uuid());
            }
            q.execute(&mut *$tx).await.map_err($crate::db::map_err)?;
        }
    }};
}
pub(super) use bump_counts;

/// Counts again, inside `$tx`, the active live products in and below each category of
/// `$targets` (a move or a removal changes which products are below them). Bounded by the
/// categories touched, and run only by those rare admin writes.
macro_rules! recount {
    ($tx:expr, $targets:expr, $links:expr) => {{
        for target in $targets {
            if !$links.contains_key(&target) {
                continue;
            }
            let below: Vec<domain::CategoryId> = domain::category::subtree(target, $links)
                .into_iter()
                .collect();
            let sql = format!(
                "UPDATE categories SET product_count = (SELECT COUNT(DISTINCT pc.product_id) \
                 FROM product_categories pc JOIN products p ON p.id = pc.product_id \
                 WHERE p.deleted_at IS NULL AND p.status = 'active' AND pc.category_id IN ({})) \
                 WHERE id = $1",
                $crate::db::categories::placeholders_from(2, below.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(target.as_uuid());
            for id in &below {
                q = q.bind(id.as_uuid());
            }
            q.execute(&mut *$tx).await.map_err($crate::db::map_err)?;
        }
    }};
}

#[derive(sqlx::FromRow)]
struct CategoryRow {
    id: Uuid,
    name: String,
    slug: String,
    parent_id: Option<Uuid>,
    description: Option<String>,
    position: i64,
    product_count: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<CategoryRow> for CategoryView {
    type Error = RepositoryError;

    fn try_from(r: CategoryRow) -> Result<Self, RepositoryError> {
        Ok(CategoryView {
            category: Category {
                id: CategoryId::from_uuid(r.id),
                name: CategoryName::parse(&r.name).map_err(|e| corrupt("category name", e))?,
                slug: Slug::parse(&r.slug).map_err(|e| corrupt("category slug", e))?,
                parent_id: r.parent_id.map(CategoryId::from_uuid),
                description: r
                    .description
                    .map(|d| Description::parse(&d))
                    .transpose()
                    .map_err(|e| corrupt("category description", e))?,
                position: Position::new(r.position).map_err(|e| corrupt("position", e))?,
                created_at: r.created_at,
                updated_at: r.updated_at,
            },
            product_count: u64::try_from(r.product_count).unwrap_or(0),
        })
    }
}

/// By position, then name (in Rust, so both backends agree whatever their collation), then id.
fn sorted(mut views: Vec<CategoryView>) -> Vec<CategoryView> {
    views.sort_by(|a, b| {
        let key = |v: &CategoryView| (v.category.position, v.category.name.as_str().to_owned());
        key(a).cmp(&key(b)).then(a.category.id.cmp(&b.category.id))
    });
    views
}

/// Categories in SQL, for both backends: the repository and the read model.
#[derive(Clone)]
pub struct SqlCategories {
    db: Database,
    /// The standby that may serve the read model's reads.
    replica: Option<ReadReplica>,
}

impl SqlCategories {
    /// Categories in `db`.
    pub fn new(db: Database) -> Self {
        Self { db, replica: None }
    }

    /// The read model's reads of requests that may lag go to `replica` while it is usable.
    #[must_use]
    pub fn with_replica(mut self, replica: Option<ReadReplica>) -> Self {
        self.replica = replica;
        self
    }

    async fn rows(&self) -> Result<Vec<CategoryView>, RepositoryError> {
        rows_in(&self.db).await
    }
}

/// Every category, as stored in `db`.
async fn rows_in(db: &Database) -> Result<Vec<CategoryView>, RepositoryError> {
    {
        let rows: Vec<CategoryRow> = on_db!(db, read, pool => {
            sqlx::query_as(concat!("SELECT ", category_columns!(), " FROM categories"))
                .fetch_all(pool)
                .await
        })
        .map_err(map_err)?;
        rows.into_iter().map(CategoryView::try_from).collect()
    }
}

#[async_trait]
impl CategoryReadModel for SqlCategories {
    #[tracing::instrument(name = "db.categories.list", skip_all)]
    async fn list(&self) -> Result<Vec<CategoryView>, RepositoryError> {
        on_replica!(self, db => rows_in(db).await.map(sorted))
    }

    #[tracing::instrument(name = "db.categories.get", skip_all)]
    async fn get(&self, key: &Lookup<CategoryId>) -> Result<Option<CategoryView>, RepositoryError> {
        on_replica!(self, db => category_of(db, key).await)
    }
}

/// One category by id or slug, as stored in `db`.
async fn category_of(
    db: &Database,
    key: &Lookup<CategoryId>,
) -> Result<Option<CategoryView>, RepositoryError> {
    {
        let row: Option<CategoryRow> = on_db!(db, read, pool => {
            match key {
                Lookup::Id(id) => sqlx::query_as(concat!("SELECT ", category_columns!(), " FROM categories WHERE id = $1"))
                    .bind(id.as_uuid())
                    .fetch_optional(pool)
                    .await,
                Lookup::Slug(slug) => sqlx::query_as(concat!("SELECT ", category_columns!(), " FROM categories WHERE slug = $1"))
                    .bind(slug.as_str())
                    .fetch_optional(pool)
                    .await,
            }
        })
        .map_err(map_err)?;
        row.map(CategoryView::try_from).transpose()
    }
}

#[async_trait]
impl CategoryRepository for SqlCategories {
    #[tracing::instrument(name = "db.categories.all", skip_all)]
    async fn all(&self) -> Result<Vec<Category>, RepositoryError> {
        Ok(self.rows().await?.into_iter().map(|v| v.category).collect())
    }

    #[tracing::instrument(name = "db.categories.slugs_like", skip_all)]
    async fn slugs_like(&self, base: &Slug) -> Result<HashSet<String>, RepositoryError> {
        slugs_like(
            &self.db,
            "SELECT slug FROM categories WHERE slug = $1 OR slug LIKE $2",
            base,
        )
        .await
    }

    #[tracing::instrument(name = "db.categories.insert", skip_all)]
    async fn insert(&self, c: &Category) -> Result<(), RepositoryError> {
        let lock = tree_lock(&self.db, true);
        on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            if let Some(lock) = &lock {
                sqlx::query(sqlx::AssertSqlSafe(lock.clone())).execute(&mut *tx).await.map_err(map_err)?;
            }
            let links = tree_links!(tx);
            check_parent(c.id, c.parent_id, &links).map_err(RepositoryError::Invalid)?;
            sqlx::query(
                "INSERT INTO categories (id, name, slug, parent_id, description, position, product_count, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)",
            )
            .bind(c.id.as_uuid())
            .bind(c.name.as_str())
            .bind(c.slug.as_str())
            .bind(c.parent_id.map(|p| p.as_uuid()))
            .bind(c.description.as_ref().map(Description::as_str))
            .bind(i64::from(c.position.get()))
            .bind(c.created_at)
            .bind(c.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            tx.commit().await.map_err(map_err)
        })
    }

    #[tracing::instrument(name = "db.categories.update", skip_all)]
    async fn update(
        &self,
        id: CategoryId,
        ch: &CategoryChanges,
        now: DateTime<Utc>,
    ) -> Result<Option<Category>, RepositoryError> {
        let lock = tree_lock(&self.db, true);
        let row: Option<CategoryRow> = on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            if let Some(lock) = &lock {
                sqlx::query(sqlx::AssertSqlSafe(lock.clone())).execute(&mut *tx).await.map_err(map_err)?;
            }
            let mut links: ParentLinks = tree_links!(tx);
            let Some(&old_parent) = links.get(&id) else {
                return Ok(None);
            };
            let moved = ch.parent_id.filter(|p| *p != old_parent);
            if let Some(parent) = moved {
                check_parent(id, parent, &links).map_err(RepositoryError::Invalid)?;
            }
            let row: CategoryRow = sqlx::query_as(concat!(
                "UPDATE categories SET name = COALESCE($2, name), slug = COALESCE($3, slug), \
                 parent_id = CASE WHEN $4 THEN $5 ELSE parent_id END, \
                 description = CASE WHEN $6 THEN $7 ELSE description END, \
                 position = COALESCE($8, position), updated_at = $9 WHERE id = $1 RETURNING ",
                category_columns!()
            ))
            .bind(id.as_uuid())
            .bind(ch.name.as_ref().map(CategoryName::as_str))
            .bind(ch.slug.as_ref().map(Slug::as_str))
            .bind(moved.is_some())
            .bind(moved.flatten().map(|p| p.as_uuid()))
            .bind(ch.description.is_some())
            .bind(ch.description.as_ref().and_then(|d| d.as_ref().map(Description::as_str)))
            .bind(ch.position.map(|p| i64::from(p.get())))
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
            if let Some(parent) = moved {
                // The old parent's line and the new one's see the products below this
                // category leave or arrive; nothing else changes.
                let mut touched = with_ancestors(&old_parent.into_iter().collect::<Vec<_>>(), &links);
                links.insert(id, parent);
                touched.extend(with_ancestors(&parent.into_iter().collect::<Vec<_>>(), &links));
                recount!(tx, touched.into_iter(), &links);
            }
            tx.commit().await.map_err(map_err)?;
            Ok::<_, RepositoryError>(Some(row))
        })?;
        row.map(|r| CategoryView::try_from(r).map(|v| v.category))
            .transpose()
    }

    #[tracing::instrument(name = "db.categories.delete", skip_all)]
    async fn delete(&self, id: CategoryId) -> Result<bool, RepositoryError> {
        let lock = tree_lock(&self.db, true);
        on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            if let Some(lock) = &lock {
                sqlx::query(sqlx::AssertSqlSafe(lock.clone())).execute(&mut *tx).await.map_err(map_err)?;
            }
            let mut links: ParentLinks = tree_links!(tx);
            let Some(parent) = links.remove(&id) else {
                return Ok(false);
            };
            if links.values().any(|p| *p == Some(id)) {
                return Err(RepositoryError::InUse(
                    "the category has child categories: move or delete them first".into(),
                ));
            }
            sqlx::query("DELETE FROM product_categories WHERE category_id = $1")
                .bind(id.as_uuid())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            sqlx::query("DELETE FROM categories WHERE id = $1")
                .bind(id.as_uuid())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let touched = with_ancestors(&parent.into_iter().collect::<Vec<_>>(), &links);
            recount!(tx, touched.into_iter(), &links);
            tx.commit().await.map_err(map_err)?;
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_start_where_asked() {
        assert_eq!(placeholders_from(2, 3), "$2, $3, $4");
        assert_eq!(placeholders_from(1, 1), "$1");
    }
}
