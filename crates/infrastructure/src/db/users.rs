use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    Email, Page, PageRequest, PendingEvent, PersonName, RepositoryError, User, UserId,
    UserRepository, Username,
};
use uuid::Uuid;

use super::events::write_events;
use super::{
    Database, corrupt, fetch_by_id, fetch_newest_by_id, map_err, on_db, read_rows, roles_from_text,
    roles_to_text,
};
use application::ports::UserReadModel;

macro_rules! user_columns {
    () => {
        "id, email, username, first_name, last_name, roles, created_at, updated_at"
    };
}

/// Binds a user's columns, in `user_columns!` order, as `$1`..`$8` of an insert; a macro
/// because the query is a `query` or a `query_as`, for either backend.
macro_rules! bind_user {
    ($query:expr, $u:expr) => {
        $query
            .bind($u.id.as_uuid())
            .bind($u.email.as_str())
            .bind($u.username.as_str())
            .bind($u.first_name.as_ref().map(PersonName::as_str))
            .bind($u.last_name.as_ref().map(PersonName::as_str))
            .bind(roles_to_text(&$u.roles))
            .bind($u.created_at)
            .bind($u.updated_at)
    };
}

/// One by id.
const USER_BY_ID: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    username: String,
    first_name: Option<String>,
    last_name: Option<String>,
    roles: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn person_name(stored: Option<String>) -> Result<Option<PersonName>, RepositoryError> {
    match stored {
        None => Ok(None),
        Some(s) => PersonName::parse(&s).map_err(|e| corrupt("name", e)),
    }
}

impl TryFrom<UserRow> for User {
    type Error = RepositoryError;

    fn try_from(r: UserRow) -> Result<Self, RepositoryError> {
        Ok(User {
            id: UserId::from_uuid(r.id),
            email: Email::parse(&r.email).map_err(|e| corrupt("email", e))?,
            username: Username::parse(&r.username).map_err(|e| corrupt("username", e))?,
            first_name: person_name(r.first_name)?,
            last_name: person_name(r.last_name)?,
            roles: roles_from_text(&r.roles),
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Accounts in SQL, for both backends: the repository and the admin's read model.
#[derive(Clone)]
pub struct SqlUsers {
    db: Database,
    /// Told of the events each committed transaction wrote.
    events_written: super::EventCounter,
}

super::counting_events!(SqlUsers);

impl SqlUsers {
    /// Accounts in `db`.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            events_written: super::EventCounter::default(),
        }
    }
}

#[async_trait]
impl UserRepository for SqlUsers {
    #[tracing::instrument(name = "db.users.insert", skip_all)]
    async fn insert_with_events(
        &self,
        u: &User,
        events: &[PendingEvent],
    ) -> Result<(), RepositoryError> {
        on_db!(&self.db, write, pool, begin => {
            let mut tx = pool.begin_with(begin).await.map_err(map_err)?;
            bind_user!(sqlx::query(
                "INSERT INTO users (id, email, username, first_name, last_name, roles, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            ), u)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            let written = write_events!(tx, events)?;
            tx.commit().await.map_err(map_err)?;
            self.events_written.0.written(&written);
            Ok(())
        })
    }

    #[tracing::instrument(name = "db.users.upsert_identity", skip_all)]
    async fn upsert_identity(&self, u: &User) -> Result<User, RepositoryError> {
        // Only a real change of the provider's fields touches the row (and `updated_at`).
        let row: Option<UserRow> = on_db!(&self.db, write, pool => {
            bind_user!(sqlx::query_as(concat!(
                "INSERT INTO users (id, email, username, first_name, last_name, roles, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (id) DO UPDATE SET email = excluded.email, username = excluded.username, \
                 roles = excluded.roles, updated_at = excluded.updated_at \
                 WHERE users.email <> excluded.email OR users.username <> excluded.username OR users.roles <> excluded.roles \
                 RETURNING ",
                user_columns!()
            )), u)
            .fetch_optional(pool)
            .await
        })
        .map_err(map_err)?;
        match row {
            Some(row) => row.try_into(),
            None => self
                .get(u.id)
                .await?
                .ok_or_else(|| RepositoryError::Other("account vanished during upsert".into())),
        }
    }

    #[tracing::instrument(name = "db.users.get", skip_all)]
    async fn get(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        fetch_by_id::<UserRow, _>(&self.db, USER_BY_ID, id.as_uuid()).await
    }

    #[tracing::instrument(name = "db.users.update_profile", skip_all)]
    async fn update_profile(&self, u: &User) -> Result<bool, RepositoryError> {
        let n = on_db!(&self.db, write, pool => {
            sqlx::query("UPDATE users SET first_name = $2, last_name = $3, updated_at = $4 WHERE id = $1")
                .bind(u.id.as_uuid())
                .bind(u.first_name.as_ref().map(PersonName::as_str))
                .bind(u.last_name.as_ref().map(PersonName::as_str))
                .bind(u.updated_at)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(map_err)?;
        Ok(n == 1)
    }
}

#[async_trait]
impl UserReadModel for SqlUsers {
    #[tracing::instrument(name = "db.users.list", skip_all)]
    async fn list(&self, page: PageRequest) -> Result<Page<User>, RepositoryError> {
        // Newest first by id (UUID v7), which is also the cursor's only key: the primary key
        // answers a cursor page as a range.
        let rows = fetch_newest_by_id::<UserRow>(
            &self.db,
            user_columns!(),
            "users",
            Vec::new(),
            page,
            |r| r.id,
        )
        .await?;
        read_rows(rows)
    }
}
