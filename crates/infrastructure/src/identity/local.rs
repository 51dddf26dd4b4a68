//! The built-in identity provider (`AUTH_PROVIDER=local`): accounts with argon2id password
//! hashes in the shop's own database, Ed25519-signed access tokens shaped like Keycloak's, and
//! opaque refresh tokens that rotate on every use and betray their reuse.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use domain::{Email, Password, PersonName, RepositoryError, Role, Roles, UserId, Username};
use jsonwebtoken::{Algorithm, Header};
use sha2::{Digest, Sha256};
use tokio::sync::{OnceCell, Semaphore};
use uuid::Uuid;

use application::ports::{
    Clock, IdentityAccount, IdentityError, IdentityProvider, NewAccount, SignedIn, SystemClock,
    TokenPair,
};

use super::claims::{AccessClaims, RealmAccess};
use super::hashing::PasswordHasher;
use super::keys::{self, SigningKeys};
use crate::db::{Database, corrupt, map_err, on_db, roles_from_text, roles_to_text};

macro_rules! account_columns {
    () => {
        "id, email, username, password_hash, roles, first_name, last_name"
    };
}

/// Access tokens live this long unless configured otherwise.
pub const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(300);
/// Refresh tokens live this long unless configured otherwise.
pub const DEFAULT_REFRESH_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The `azp` claim: the client the tokens are issued to, as Keycloak names it.
const AUTHORIZED_PARTY: &str = "shop";

/// Settings of the built-in provider.
#[derive(Debug, Clone)]
pub struct LocalIdentityConfig {
    /// Where the signing key lives (`<data_dir>/jwt-ed25519.pem`); created when missing.
    pub data_dir: PathBuf,
    /// A signing key given from outside (a mounted secret); used instead of the one in
    /// `data_dir`, never created: every instance must sign with the same key.
    pub signing_key_file: Option<PathBuf>,
    /// The `iss` claim of every access token, e.g. `shop`.
    pub issuer: String,
    /// The `aud` claim of every access token, e.g. `shop`.
    pub audience: String,
    /// How long an access token is accepted; 300 s by default.
    pub access_token_ttl: Duration,
    /// How long a refresh token is accepted, counted from its issue (each rotation starts a new
    /// period); 30 days by default.
    pub refresh_token_ttl: Duration,
}

impl LocalIdentityConfig {
    /// The defaults: issuer and audience `shop`, access tokens 300 s, refresh tokens 30 days.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            signing_key_file: None,
            issuer: "shop".to_owned(),
            audience: "shop".to_owned(),
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
            refresh_token_ttl: DEFAULT_REFRESH_TOKEN_TTL,
        }
    }
}

/// The built-in identity provider. Passwords are argon2id-hashed off the async workers, with
/// no more hashes at once than the machine has cores; a login answers the same, in the same
/// time, whether the account is unknown or the password wrong; a refresh token is spent by its
/// first use, and a second use of it revokes every token of its sign-in.
pub struct LocalIdentityProvider {
    db: Database,
    clock: SystemClock,
    keys: SigningKeys,
    issuer: String,
    audience: String,
    access_ttl_secs: u64,
    refresh_ttl: TimeDelta,
    refresh_ttl_secs: u64,
    /// Bounds concurrent argon2 work (7 MiB and one core each).
    hashing: Semaphore,
    /// argon2id with working memory reused across hashes.
    hasher: Arc<PasswordHasher>,
}

impl std::fmt::Debug for LocalIdentityProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalIdentityProvider")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("kid", &self.keys.kid)
            .finish_non_exhaustive()
    }
}

impl LocalIdentityProvider {
    /// Loads the signing key from `config.signing_key_file` when given, else from
    /// `config.data_dir`, creating the directory and key on first start.
    ///
    /// # Errors
    /// When the key cannot be read or written, the file holds no Ed25519 key, the access-token
    /// lifetime is under a second, or a lifetime is absurdly long.
    pub async fn new(db: Database, config: LocalIdentityConfig) -> anyhow::Result<Self> {
        let access_ttl_secs = config.access_token_ttl.as_secs();
        anyhow::ensure!(
            access_ttl_secs > 0,
            "the access token lifetime must be at least one second"
        );
        anyhow::ensure!(
            access_ttl_secs <= 366 * 24 * 3600,
            "the access token lifetime must be at most a year"
        );
        let refresh_ttl = TimeDelta::from_std(config.refresh_token_ttl)
            .ok()
            .filter(|d| *d <= TimeDelta::days(3660))
            .ok_or_else(|| {
                anyhow::anyhow!("the refresh token lifetime must be at most ten years")
            })?;
        let dir = config.data_dir.clone();
        let file = config.signing_key_file.clone();
        let keys = tokio::task::spawn_blocking(move || match file {
            Some(file) => keys::load_given(&file),
            None => keys::load_or_create(&dir),
        })
        .await??;
        let cores = std::thread::available_parallelism().map_or(2, NonZeroUsize::get);
        Ok(Self {
            db,
            clock: SystemClock,
            keys,
            issuer: config.issuer,
            audience: config.audience,
            access_ttl_secs,
            refresh_ttl,
            refresh_ttl_secs: config.refresh_token_ttl.as_secs(),
            hashing: Semaphore::new(cores),
            hasher: Arc::new(PasswordHasher::default()),
        })
    }

    /// The key id (`kid`) the access tokens carry.
    pub fn key_id(&self) -> &str {
        &self.keys.kid
    }

    async fn hash_password(&self, password: &Password) -> Result<String, IdentityError> {
        let password = password.expose().to_owned();
        let hasher = Arc::clone(&self.hasher);
        self.blocking(move || hasher.hash(password.as_bytes()))
            .await
    }

    /// `Ok(true)` when `password` matches `hash`.
    async fn verify_password(
        &self,
        password: &Password,
        hash: String,
    ) -> Result<bool, IdentityError> {
        let password = password.expose().to_owned();
        let verdict = self
            .blocking({
                let hasher = Arc::clone(&self.hasher);
                move || hasher.verify(password.as_bytes(), &hash)
            })
            .await?;
        Ok(verdict)
    }

    /// Runs argon2 work on the blocking pool, waiting for a free core first.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, password_hash::Error> + Send + 'static,
    ) -> Result<T, IdentityError> {
        let _permit = self.hashing.acquire().await.map_err(other)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(other)?
            .map_err(other)
    }

    /// A hash no password matches in practice, so an unknown account costs a login one verify,
    /// like a known one. Made on first need, with the same parameters as real hashes.
    async fn dummy_hash(&self) -> Result<String, IdentityError> {
        static DUMMY: OnceCell<String> = OnceCell::const_new();
        DUMMY
            .get_or_try_init(|| async {
                let mut noise = [0u8; 24];
                getrandom::fill(&mut noise).map_err(|e| other(e.to_string()))?;
                let password = Password::for_sign_in(&URL_SAFE_NO_PAD.encode(noise));
                self.hash_password(&password).await
            })
            .await
            .cloned()
    }

    /// The account a sign-in name or address belongs to. Registration keeps names and addresses
    /// from overlapping across accounts; should two rows match anyway, the username wins, as in
    /// Keycloak.
    async fn find_for_login(&self, name: &str) -> Result<Option<AccountRow>, IdentityError> {
        on_db!(&self.db, read, pool => {
            sqlx::query_as(concat!(
                "SELECT ", account_columns!(), " FROM identity_accounts \
                 WHERE username = $1 OR email = $1 \
                 ORDER BY CASE WHEN username = $1 THEN 0 ELSE 1 END LIMIT 1"
            ))
            .bind(name)
            .fetch_optional(pool)
            .await
        })
        .map_err(db_err)
    }

    /// Signs an access token for `account`, issued at `now`.
    fn access_token(
        &self,
        account: &IdentityAccount,
        now: DateTime<Utc>,
    ) -> Result<String, IdentityError> {
        let iat = now.timestamp();
        let ttl = i64::try_from(self.access_ttl_secs).map_err(other)?;
        let claims = AccessClaims {
            iss: Some(self.issuer.clone()),
            sub: Some(account.id.to_string()),
            aud: Some(self.audience.clone()),
            exp: Some(iat.saturating_add(ttl)),
            iat: Some(iat),
            jti: Some(Uuid::now_v7().to_string()),
            typ: Some("Bearer".into()),
            azp: Some(AUTHORIZED_PARTY.into()),
            preferred_username: Some(account.username.as_str().into()),
            email: Some(account.email.as_str().into()),
            given_name: account.first_name.as_ref().map(|n| n.as_str().into()),
            family_name: account.last_name.as_ref().map(|n| n.as_str().into()),
            realm_access: Some(RealmAccess {
                roles: account.roles.names().map(str::to_owned).collect(),
            }),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.keys.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.keys.encoding).map_err(other)
    }

    fn token_pair(&self, access_token: String, refresh_token: String) -> TokenPair {
        TokenPair {
            access_token,
            refresh_token,
            expires_in: self.access_ttl_secs,
            refresh_expires_in: self.refresh_ttl_secs,
        }
    }

    /// Inserts a new account unless its email or username is taken, counting a username that
    /// equals another account's email (or the reverse) as taken: sign-in looks up either.
    async fn insert_account(
        &self,
        account: &IdentityAccount,
        password_hash: &str,
    ) -> Result<(), IdentityError> {
        let (email, username) = (&account.email, &account.username);
        let now = self.clock.now();
        let lock = self.registration_lock();
        on_db!(&self.db, write, pool => {
            let mut tx = pool.begin().await.map_err(db_err)?;
            if let Some(lock) = lock {
                sqlx::query(lock).execute(&mut *tx).await.map_err(db_err)?;
            }
            let taken: Vec<(String, String)> = sqlx::query_as(
                "SELECT email, username FROM identity_accounts \
                 WHERE email = $1 OR username = $2 OR email = $2 OR username = $1",
            )
            .bind(email.as_str())
            .bind(username.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
            if let Some(field) = conflict(&taken, email, username) {
                return Err(IdentityError::Conflict(field));
            }
            sqlx::query(
                "INSERT INTO identity_accounts \
                 (id, email, username, password_hash, roles, first_name, last_name, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(account.id.as_uuid())
            .bind(email.as_str())
            .bind(username.as_str())
            .bind(password_hash)
            .bind(roles_to_text(&account.roles))
            .bind(account.first_name.as_ref().map(PersonName::as_str))
            .bind(account.last_name.as_ref().map(PersonName::as_str))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            tx.commit().await.map_err(db_err)
        })
    }

    /// Gives the account with `email` the password `hash` and the `admin` role (keeping the
    /// others); `None` when there is no such account.
    async fn promote(
        &self,
        email: &Email,
        hash: &str,
    ) -> Result<Option<IdentityAccount>, IdentityError> {
        let now = self.clock.now();
        on_db!(&self.db, write, pool => {
            let mut tx = pool.begin().await.map_err(db_err)?;
            let row: Option<AccountRow> = sqlx::query_as(concat!(
                "SELECT ", account_columns!(), " FROM identity_accounts WHERE email = $1"
            ))
            .bind(email.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            let Some(row) = row else { return Ok(None) };
            let mut account = row.account().map_err(repo_err)?;
            account.roles = account.roles.with([Role::User, Role::Admin]);
            sqlx::query(
                "UPDATE identity_accounts SET password_hash = $2, roles = $3, updated_at = $4 \
                 WHERE id = $1",
            )
            .bind(account.id.as_uuid())
            .bind(hash)
            .bind(roles_to_text(&account.roles))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
            Ok(Some(account))
        })
    }

    /// PostgreSQL: serialises the writers of `identity_accounts` for one transaction, so the
    /// email-versus-username check before an insert cannot race another registration (sign-ins
    /// and token refreshes only read the table and are not held up). SQLite needs nothing: it
    /// has a single writer.
    fn registration_lock(&self) -> Option<&'static str> {
        match self.db {
            Database::Postgres(_) => {
                Some("LOCK TABLE identity_accounts IN SHARE ROW EXCLUSIVE MODE")
            }
            Database::Sqlite { .. } => None,
        }
    }
}

/// Which field a new account would collide on, given the rows that share its email or username
/// in either column; `None` when it is free.
fn conflict(
    taken: &[(String, String)],
    email: &Email,
    username: &Username,
) -> Option<&'static str> {
    let (email, username) = (email.as_str(), username.as_str());
    if taken.iter().any(|(e, _)| e == email) {
        Some("email")
    } else if taken
        .iter()
        .any(|(e, u)| u == username || e == username || u == email)
    {
        Some("username")
    } else {
        None
    }
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: Uuid,
    email: String,
    username: String,
    password_hash: String,
    roles: String,
    first_name: Option<String>,
    last_name: Option<String>,
}

impl AccountRow {
    fn account(&self) -> Result<IdentityAccount, RepositoryError> {
        let name = |stored: &Option<String>| match stored {
            None => Ok(None),
            Some(s) => PersonName::parse(s).map_err(|e| corrupt("name", e)),
        };
        Ok(IdentityAccount {
            id: UserId::from_uuid(self.id),
            email: Email::parse(&self.email).map_err(|e| corrupt("email", e))?,
            username: Username::parse(&self.username).map_err(|e| corrupt("username", e))?,
            first_name: name(&self.first_name)?,
            last_name: name(&self.last_name)?,
            roles: roles_from_text(&self.roles),
        })
    }
}

/// A fresh refresh token (32 random bytes, base64url) and the hash that is all the database keeps.
fn new_refresh_token() -> Result<(String, String), IdentityError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| other(e.to_string()))?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    Ok((token, hash))
}

/// SHA-256 in hex: the tokens are random, so a fast unsalted hash suffices to make a leaked
/// table useless.
fn token_hash(token: &str) -> String {
    keys::hex(&Sha256::digest(token.as_bytes()))
}

fn other(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> IdentityError {
    IdentityError::Other(e.into())
}

fn repo_err(e: RepositoryError) -> IdentityError {
    match e {
        RepositoryError::Conflict(field) => IdentityError::Conflict(field),
        e => IdentityError::Storage(e),
    }
}

fn db_err(e: sqlx::Error) -> IdentityError {
    repo_err(map_err(e))
}

/// How a presented refresh token fared.
enum Rotation {
    /// Spent; here is the account and the next token of its family.
    Rotated(Box<IdentityAccount>, String),
    /// Unknown, expired, revoked, or reused (and its family now revoked).
    Refused,
}

#[async_trait]
impl IdentityProvider for LocalIdentityProvider {
    #[tracing::instrument(name = "identity.local.register", skip_all)]
    async fn register(&self, new: &NewAccount) -> Result<IdentityAccount, IdentityError> {
        let hash = self.hash_password(&new.password).await?;
        let account = IdentityAccount {
            id: UserId::new(),
            email: new.email.clone(),
            username: new.username.clone(),
            first_name: new.first_name.clone(),
            last_name: new.last_name.clone(),
            roles: Roles::from([Role::User]),
        };
        self.insert_account(&account, &hash).await?;
        Ok(account)
    }

    #[tracing::instrument(name = "identity.local.delete", skip_all)]
    async fn delete(&self, id: UserId) -> Result<(), IdentityError> {
        // Its refresh tokens go with it (ON DELETE CASCADE).
        on_db!(&self.db, write, pool => {
            sqlx::query("DELETE FROM identity_accounts WHERE id = $1")
                .bind(id.as_uuid())
                .execute(pool)
                .await
                .map(|_| ())
        })
        .map_err(db_err)
    }

    #[tracing::instrument(name = "identity.local.login", skip_all)]
    async fn login(
        &self,
        username_or_email: &str,
        password: &Password,
    ) -> Result<SignedIn, IdentityError> {
        let row = self.find_for_login(username_or_email).await?;
        let hash = match &row {
            Some(row) => row.password_hash.clone(),
            None => self.dummy_hash().await?,
        };
        let matches = self.verify_password(password, hash).await?;
        let Some(row) = row.filter(|_| matches) else {
            return Err(IdentityError::InvalidCredentials);
        };
        let account = row.account().map_err(repo_err)?;

        let now = self.clock.now();
        let (refresh_token, refresh_hash) = new_refresh_token()?;
        on_db!(&self.db, write, pool => {
            sqlx::query(
                "INSERT INTO identity_refresh_tokens \
                 (id, family_id, account_id, token_hash, expires_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(Uuid::now_v7())
            .bind(Uuid::now_v7())
            .bind(account.id.as_uuid())
            .bind(&refresh_hash)
            .bind(now + self.refresh_ttl)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(db_err)?;
        let access_token = self.access_token(&account, now)?;
        Ok(SignedIn {
            tokens: self.token_pair(access_token, refresh_token),
            account,
        })
    }

    #[tracing::instrument(name = "identity.local.refresh", skip_all)]
    async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, IdentityError> {
        let presented = token_hash(refresh_token);
        let (next_token, next_hash) = new_refresh_token()?;
        let now = self.clock.now();
        // One transaction whose first statement writes: the spend is a compare-and-set, so of
        // two requests racing with one token exactly one rotates it; the other finds it spent
        // and, as with any reuse, revokes the whole family. (In SQLite `expires_at` is RFC 3339
        // text in UTC, which sorts as the instants do.)
        let rotation = on_db!(&self.db, write, pool => {
            let mut tx = pool.begin().await.map_err(db_err)?;
            let spent: Option<(Uuid, Uuid)> = sqlx::query_as(
                "UPDATE identity_refresh_tokens SET spent_at = $2, updated_at = $2 \
                 WHERE token_hash = $1 AND spent_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
                 RETURNING family_id, account_id",
            )
            .bind(&presented)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            match spent {
                Some((family_id, account_id)) => {
                    let row: Option<AccountRow> = sqlx::query_as(concat!(
                        "SELECT ", account_columns!(), " FROM identity_accounts WHERE id = $1"
                    ))
                    .bind(account_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    match row {
                        None => Rotation::Refused,
                        Some(row) => {
                            let account = row.account().map_err(repo_err)?;
                            sqlx::query(
                                "INSERT INTO identity_refresh_tokens \
                                 (id, family_id, account_id, token_hash, expires_at, created_at, updated_at) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
                            )
                            .bind(Uuid::now_v7())
                            .bind(family_id)
                            .bind(account_id)
                            .bind(&next_hash)
                            .bind(now + self.refresh_ttl)
                            .bind(now)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?;
                            tx.commit().await.map_err(db_err)?;
                            Rotation::Rotated(Box::new(account), next_token)
                        }
                    }
                }
                None => {
                    let found: Option<(Uuid, Uuid, Option<DateTime<Utc>>, Option<DateTime<Utc>>)> =
                        sqlx::query_as(
                            "SELECT family_id, account_id, spent_at, revoked_at \
                             FROM identity_refresh_tokens WHERE token_hash = $1",
                        )
                        .bind(&presented)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if let Some((family_id, account_id, Some(_), None)) = found {
                        // A spent token came back: someone holds a copy. End the whole sign-in,
                        // so the thief's (or the victim's) newer tokens die with it.
                        sqlx::query(
                            "UPDATE identity_refresh_tokens SET revoked_at = $2, updated_at = $2 \
                             WHERE family_id = $1 AND revoked_at IS NULL",
                        )
                        .bind(family_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                        tx.commit().await.map_err(db_err)?;
                        tracing::warn!(%family_id, %account_id, "refresh token reused; its family is revoked");
                    }
                    Rotation::Refused
                }
            }
        });
        let Rotation::Rotated(account, next_token) = rotation else {
            return Err(IdentityError::InvalidToken);
        };
        let access_token = self.access_token(&account, now)?;
        Ok(self.token_pair(access_token, next_token))
    }

    #[tracing::instrument(name = "identity.local.logout", skip_all)]
    async fn logout(&self, refresh_token: &str) -> Result<(), IdentityError> {
        let presented = token_hash(refresh_token);
        let now = self.clock.now();
        on_db!(&self.db, write, pool => {
            sqlx::query(
                "UPDATE identity_refresh_tokens SET revoked_at = $2, updated_at = $2 \
                 WHERE family_id = (SELECT family_id FROM identity_refresh_tokens WHERE token_hash = $1) \
                 AND revoked_at IS NULL",
            )
            .bind(&presented)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(db_err)
    }

    #[tracing::instrument(name = "identity.local.ensure_admin", skip_all)]
    async fn ensure_admin(
        &self,
        email: &Email,
        username: &Username,
        password: &Password,
    ) -> Result<IdentityAccount, IdentityError> {
        let hash = self.hash_password(password).await?;
        // Two runs may race to create the account; the loser finds it on its second pass.
        for _ in 0..2 {
            if let Some(account) = self.promote(email, &hash).await? {
                tracing::info!(user_id = %account.id, "admin account updated");
                return Ok(account);
            }
            let account = IdentityAccount {
                id: UserId::new(),
                email: email.clone(),
                username: username.clone(),
                first_name: None,
                last_name: None,
                roles: Roles::from([Role::User, Role::Admin]),
            };
            let inserted = self.insert_account(&account, &hash).await;
            match inserted {
                Ok(()) => {
                    tracing::info!(user_id = %account.id, "admin account created");
                    return Ok(account);
                }
                Err(IdentityError::Conflict("email")) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(IdentityError::Conflict("email"))
    }

    #[tracing::instrument(name = "identity.local.jwks", skip_all)]
    async fn jwks(&self) -> Result<String, IdentityError> {
        Ok(self.keys.jwks.clone())
    }

    #[tracing::instrument(name = "identity.local.check", skip_all)]
    async fn check(&self) -> Result<(), IdentityError> {
        self.db.ping().await.map_err(IdentityError::Storage)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{DecodingKey, Validation};

    use super::*;
    use crate::DatabaseUrl;

    /// A temporary directory that is removed when the test ends.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            let dir = std::env::temp_dir().join(format!("shop-identity-{}", Uuid::now_v7()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    async fn database(dir: &Path) -> Database {
        let url = DatabaseUrl::parse(&format!("sqlite://{}/t.db", dir.display())).unwrap();
        let db = Database::connect(&url, 4, crate::db::DEFAULT_ACQUIRE_TIMEOUT)
            .await
            .unwrap();
        db.migrate().await.unwrap();
        db
    }

    async fn provider_with(
        config: impl FnOnce(&mut LocalIdentityConfig),
    ) -> (LocalIdentityProvider, TempDir) {
        let dir = TempDir::new();
        let db = database(&dir.0).await;
        let mut cfg = LocalIdentityConfig::new(dir.0.join("data"));
        config(&mut cfg);
        (LocalIdentityProvider::new(db, cfg).await.unwrap(), dir)
    }

    async fn provider() -> (LocalIdentityProvider, TempDir) {
        provider_with(|_| {}).await
    }

    fn new_account(email: &str, username: &str) -> NewAccount {
        NewAccount {
            email: Email::parse(email).unwrap(),
            username: Username::parse(username).unwrap(),
            password: Password::parse("correct horse").unwrap(),
            first_name: PersonName::parse("Ann").unwrap(),
            last_name: None,
        }
    }

    fn pw(s: &str) -> Password {
        Password::for_sign_in(s)
    }

    async fn signed_in(p: &LocalIdentityProvider) -> SignedIn {
        p.register(&new_account("ann@example.com", "ann"))
            .await
            .unwrap();
        p.login("ann", &pw("correct horse")).await.unwrap()
    }

    fn claims(p: &LocalIdentityProvider, jwks: &str, token: &str) -> serde_json::Value {
        let jwks: JwkSet = serde_json::from_str(jwks).unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some(p.key_id()));
        let key = DecodingKey::from_jwk(jwks.find(p.key_id()).unwrap()).unwrap();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&["shop"]);
        validation.set_audience(&["shop"]);
        jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
            .unwrap()
            .claims
    }

    #[tokio::test]
    async fn a_registered_account_signs_in_by_username_and_by_email() {
        let (p, _dir) = provider().await;
        let account = p
            .register(&new_account("ann@example.com", "ann"))
            .await
            .unwrap();
        assert_eq!(account.roles, [Role::User]);
        assert_eq!(account.first_name, PersonName::parse("Ann").unwrap());

        for name in ["ann", "ann@example.com"] {
            let signed = p.login(name, &pw("correct horse")).await.unwrap();
            assert_eq!(signed.account, account);
            assert_eq!(signed.tokens.expires_in, 300);
            assert_eq!(signed.tokens.refresh_expires_in, 30 * 24 * 3600);
            assert_ne!(signed.tokens.refresh_token, "");
        }
    }

    #[tokio::test]
    async fn a_wrong_password_and_an_unknown_account_are_the_same_refusal() {
        let (p, _dir) = provider().await;
        p.register(&new_account("ann@example.com", "ann"))
            .await
            .unwrap();
        let wrong = p.login("ann", &pw("wrong horse")).await.unwrap_err();
        let unknown = p.login("bob", &pw("correct horse")).await.unwrap_err();
        assert!(
            matches!(wrong, IdentityError::InvalidCredentials),
            "{wrong:?}"
        );
        assert!(
            matches!(unknown, IdentityError::InvalidCredentials),
            "{unknown:?}"
        );
    }

    #[tokio::test]
    async fn a_refresh_rotates_the_token_and_the_spent_one_is_refused() {
        let (p, _dir) = provider().await;
        let first = signed_in(&p).await.tokens;
        let second = p.refresh(&first.refresh_token).await.unwrap();
        assert_ne!(second.refresh_token, first.refresh_token);
        assert_ne!(second.access_token, first.access_token);
        assert_eq!(second.refresh_expires_in, 30 * 24 * 3600);

        let again = p.refresh(&first.refresh_token).await.unwrap_err();
        assert!(matches!(again, IdentityError::InvalidToken), "{again:?}");
        let unknown = p.refresh("no-such-token").await.unwrap_err();
        assert!(
            matches!(unknown, IdentityError::InvalidToken),
            "{unknown:?}"
        );
    }

    #[tokio::test]
    async fn reusing_a_spent_token_revokes_the_newest_token_of_its_family() {
        let (p, _dir) = provider().await;
        let first = signed_in(&p).await.tokens;
        let other_session = p.login("ann", &pw("correct horse")).await.unwrap().tokens;
        let second = p.refresh(&first.refresh_token).await.unwrap();
        let third = p.refresh(&second.refresh_token).await.unwrap();

        assert!(p.refresh(&first.refresh_token).await.is_err());
        let newest = p.refresh(&third.refresh_token).await.unwrap_err();
        assert!(matches!(newest, IdentityError::InvalidToken), "{newest:?}");
        // Another sign-in of the same account is its own family and lives on.
        p.refresh(&other_session.refresh_token).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn of_concurrent_refreshes_with_one_token_at_most_one_wins_and_the_family_dies() {
        let (p, _dir) = provider().await;
        let first = signed_in(&p).await.tokens;
        let p = std::sync::Arc::new(p);
        let mut attempts = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (p, token) = (p.clone(), first.refresh_token.clone());
            attempts.spawn(async move { p.refresh(&token).await });
        }
        let winners: Vec<TokenPair> = attempts
            .join_all()
            .await
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        assert!(winners.len() <= 1, "{} refreshes succeeded", winners.len());
        for w in winners {
            assert!(p.refresh(&w.refresh_token).await.is_err());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn racing_registrations_cannot_make_sign_in_ambiguous() {
        let (p, _dir) = provider().await;
        for i in 0..10 {
            let address = format!("shared{i}@example.com");
            let by_email = new_account(&address, &format!("owner{i}"));
            let by_name = new_account(&format!("other{i}@example.com"), &address);
            let (a, b) = tokio::join!(p.register(&by_email), p.register(&by_name));
            assert!(a.is_ok() != b.is_ok(), "round {i}: {a:?} / {b:?}");
        }
    }

    #[tokio::test]
    async fn after_logout_the_refresh_token_is_refused() {
        let (p, _dir) = provider().await;
        let first = signed_in(&p).await.tokens;
        let second = p.refresh(&first.refresh_token).await.unwrap();
        // Logging out with an older token of the session ends the session too.
        p.logout(&first.refresh_token).await.unwrap();
        let refused = p.refresh(&second.refresh_token).await.unwrap_err();
        assert!(
            matches!(refused, IdentityError::InvalidToken),
            "{refused:?}"
        );
        p.logout("no-such-token").await.unwrap();
    }

    #[tokio::test]
    async fn an_expired_refresh_token_is_refused() {
        let (p, _dir) = provider_with(|c| c.refresh_token_ttl = Duration::ZERO).await;
        let tokens = signed_in(&p).await.tokens;
        let refused = p.refresh(&tokens.refresh_token).await.unwrap_err();
        assert!(
            matches!(refused, IdentityError::InvalidToken),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn a_taken_email_or_username_is_a_conflict() {
        let (p, _dir) = provider().await;
        p.register(&new_account("ann@example.com", "ann"))
            .await
            .unwrap();
        let cases = [
            (new_account("ann@example.com", "other"), "email"),
            (new_account("other@example.com", "ann"), "username"),
            // A name equal to another account's address, or the reverse, would make sign-in
            // ambiguous.
            (
                new_account("other@example.com", "ann@example.com"),
                "username",
            ),
            (new_account("ann@example.org", "bob"), "none"),
        ];
        for (account, field) in cases {
            match p.register(&account).await {
                Err(IdentityError::Conflict(f)) => assert_eq!(f, field),
                Ok(_) => assert_eq!(field, "none"),
                Err(e) => panic!("{e:?}"),
            }
        }
        p.register(&new_account("x@example.com", "erin@example.com"))
            .await
            .unwrap();
        let clash = p
            .register(&new_account("erin@example.com", "erin"))
            .await
            .unwrap_err();
        assert!(
            matches!(clash, IdentityError::Conflict("username")),
            "{clash:?}"
        );
    }

    #[tokio::test]
    async fn ensure_admin_is_idempotent_and_grants_admin() {
        let (p, _dir) = provider().await;
        let email = Email::parse("root@example.com").unwrap();
        let username = Username::parse("root").unwrap();
        let first = p
            .ensure_admin(
                &email,
                &username,
                &Password::parse("first password").unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(first.roles, [Role::User, Role::Admin]);
        let second = p
            .ensure_admin(
                &email,
                &username,
                &Password::parse("second password").unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(second, first);
        // The password is reset to the latest one.
        assert!(p.login("root", &pw("first password")).await.is_err());
        p.login("root", &pw("second password")).await.unwrap();

        // An existing customer keeps their username and gains the role.
        let ann = p
            .register(&new_account("ann@example.com", "ann"))
            .await
            .unwrap();
        let promoted = p
            .ensure_admin(
                &ann.email,
                &Username::parse("ignored").unwrap(),
                &Password::parse("new password").unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(promoted.id, ann.id);
        assert_eq!(promoted.username, ann.username);
        assert_eq!(promoted.roles, [Role::User, Role::Admin]);

        let taken = p
            .ensure_admin(
                &Email::parse("new@example.com").unwrap(),
                &username,
                &Password::parse("x password").unwrap(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(taken, IdentityError::Conflict("username")),
            "{taken:?}"
        );
    }

    #[tokio::test]
    async fn a_refreshed_access_token_carries_the_current_roles() {
        let (p, _dir) = provider().await;
        let signed = signed_in(&p).await;
        let jwks = p.jwks().await.unwrap();
        let roles = |token: &str| claims(&p, &jwks, token)["realm_access"]["roles"].clone();
        assert_eq!(
            roles(&signed.tokens.access_token),
            serde_json::json!(["user"])
        );
        p.ensure_admin(
            &signed.account.email,
            &signed.account.username,
            &Password::parse("correct horse").unwrap(),
        )
        .await
        .unwrap();
        let refreshed = p.refresh(&signed.tokens.refresh_token).await.unwrap();
        assert_eq!(
            roles(&refreshed.access_token),
            serde_json::json!(["user", "admin"])
        );
    }

    #[tokio::test]
    async fn the_access_token_verifies_against_the_jwks() {
        let (p, _dir) = provider().await;
        let signed = signed_in(&p).await;
        let jwks = p.jwks().await.unwrap();

        let doc: serde_json::Value = serde_json::from_str(&jwks).unwrap();
        let key = &doc["keys"][0];
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["crv"], "Ed25519");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["alg"], "EdDSA");
        assert_eq!(key["kid"], p.key_id());
        assert_eq!(key["x"].as_str().unwrap().len(), 43);

        let c = claims(&p, &jwks, &signed.tokens.access_token);
        assert_eq!(c["iss"], "shop");
        assert_eq!(c["aud"], "shop");
        assert_eq!(c["sub"], signed.account.id.to_string());
        assert_eq!(c["typ"], "Bearer");
        assert_eq!(c["azp"], "shop");
        assert_eq!(c["preferred_username"], "ann");
        assert_eq!(c["email"], "ann@example.com");
        assert_eq!(c["given_name"], "Ann");
        assert_eq!(c["realm_access"]["roles"], serde_json::json!(["user"]));
        assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 300);
        assert!(c["jti"].as_str().unwrap().parse::<Uuid>().is_ok());

        // Checked: a token for another audience is refused.
        let jwks: JwkSet = serde_json::from_str(&jwks).unwrap();
        let key = DecodingKey::from_jwk(jwks.find(p.key_id()).unwrap()).unwrap();
        let mut elsewhere = Validation::new(Algorithm::EdDSA);
        elsewhere.set_audience(&["elsewhere"]);
        assert!(
            jsonwebtoken::decode::<serde_json::Value>(
                &signed.tokens.access_token,
                &key,
                &elsewhere
            )
            .is_err()
        );
    }

    #[tokio::test]
    async fn the_key_file_is_private_and_reloaded_on_the_next_start() {
        let dir = TempDir::new();
        let db = database(&dir.0).await;
        let data = dir.0.join("nested").join("data");
        let first = LocalIdentityProvider::new(db.clone(), LocalIdentityConfig::new(&data))
            .await
            .unwrap();
        let file = data.join(keys::KEY_FILE);
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(
            std::fs::read_to_string(&file)
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );

        let second = LocalIdentityProvider::new(db, LocalIdentityConfig::new(&data))
            .await
            .unwrap();
        assert_eq!(second.key_id(), first.key_id());
        assert_eq!(first.key_id().len(), 16);
        assert_eq!(second.jwks().await.unwrap(), first.jwks().await.unwrap());
    }

    #[tokio::test]
    async fn deleting_an_account_ends_its_sign_in_and_its_sessions() {
        let (p, _dir) = provider().await;
        let signed = signed_in(&p).await;
        p.delete(signed.account.id).await.unwrap();
        assert!(matches!(
            p.refresh(&signed.tokens.refresh_token).await,
            Err(IdentityError::InvalidToken)
        ));
        assert!(matches!(
            p.login("ann", &pw("correct horse")).await,
            Err(IdentityError::InvalidCredentials)
        ));
        // The email is free again.
        p.register(&new_account("ann@example.com", "ann"))
            .await
            .unwrap();
        p.delete(UserId::new()).await.unwrap();
    }

    #[tokio::test]
    async fn the_check_answers_while_the_database_does() {
        let (p, _dir) = provider().await;
        p.check().await.unwrap();
    }
}
