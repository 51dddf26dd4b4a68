//! The dashboard's sessions in SQL, for both backends (migration 0017).

use application::ports::{AdminSession, AdminSessions};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{RepositoryError, UserId};
use uuid::Uuid;

use super::{Database, map_err, on_db};

#[derive(sqlx::FromRow)]
struct SessionRow {
    user_id: Uuid,
    csrf_token: String,
    refresh_token: Option<String>,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

impl From<SessionRow> for AdminSession {
    fn from(r: SessionRow) -> Self {
        Self {
            user_id: UserId::from_uuid(r.user_id),
            csrf_token: r.csrf_token,
            refresh_token: r.refresh_token,
            expires_at: r.expires_at,
            created_at: r.created_at,
        }
    }
}

/// The dashboard's sessions in SQL.
pub struct SqlAdminSessions {
    db: Database,
}

impl SqlAdminSessions {
    /// Sessions in `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl AdminSessions for SqlAdminSessions {
    #[tracing::instrument(name = "db.admin_sessions.insert", skip_all)]
    async fn insert(&self, id_hash: &str, s: &AdminSession) -> Result<(), RepositoryError> {
        on_db!(&self.db, write, pool => {
            sqlx::query("INSERT INTO admin_sessions (id_hash, user_id, csrf_token, refresh_token, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(id_hash)
                .bind(s.user_id.as_uuid())
                .bind(&s.csrf_token)
                .bind(s.refresh_token.as_deref())
                .bind(s.expires_at)
                .bind(s.created_at)
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(map_err)
        })
    }

    #[tracing::instrument(name = "db.admin_sessions.find", skip_all)]
    async fn find(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AdminSession>, RepositoryError> {
        let row: Option<SessionRow> = on_db!(&self.db, read, pool => {
            sqlx::query_as("SELECT user_id, csrf_token, refresh_token, expires_at, created_at FROM admin_sessions WHERE id_hash = $1")
                .bind(id_hash)
                .fetch_optional(pool)
                .await
                .map_err(map_err)
        })?;
        Ok(row.map(AdminSession::from).filter(|s| s.expires_at > now))
    }

    #[tracing::instrument(name = "db.admin_sessions.delete", skip_all)]
    async fn delete(&self, id_hash: &str) -> Result<Option<AdminSession>, RepositoryError> {
        let row: Option<SessionRow> = on_db!(&self.db, write, pool => {
            sqlx::query_as("DELETE FROM admin_sessions WHERE id_hash = $1 RETURNING user_id, csrf_token, refresh_token, expires_at, created_at")
                .bind(id_hash)
                .fetch_optional(pool)
                .await
                .map_err(map_err)
        })?;
        Ok(row.map(AdminSession::from))
    }

    #[tracing::instrument(name = "db.admin_sessions.delete_expired", skip_all)]
    async fn delete_expired(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError> {
        on_db!(&self.db, write, pool => {
            sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
                .map_err(map_err)
        })
    }
}
