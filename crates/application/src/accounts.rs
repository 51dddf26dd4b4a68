//! Account use cases: registration and sign-in through the identity provider, profiles, and
//! the admin's view of all accounts.

use std::sync::Arc;

use domain::{
    Email, Page, PageRequest, Password, PersonName, User, UserId, UserRepository, Username,
    Validator,
};

use crate::ports::{
    Clock, IdentityAccount, IdentityError, IdentityProvider, Metrics, NewAccount, SignedIn,
    TokenPair, UserReadModel,
};
use crate::{Actor, AppError};

fn user_from_account(account: IdentityAccount, now: chrono::DateTime<chrono::Utc>) -> User {
    User {
        id: account.id,
        email: account.email,
        username: account.username,
        first_name: account.first_name,
        last_name: account.last_name,
        roles: account.roles,
        created_at: now,
        updated_at: now,
    }
}

fn parse_person_name(
    v: &mut Validator,
    field: &str,
    input: Option<&str>,
) -> Option<Option<PersonName>> {
    match input {
        None => Some(None),
        Some(s) => v.check(field, PersonName::parse(s)),
    }
}

/// A sign-up as the client sent it.
#[derive(Debug, Clone)]
pub struct RegisterCommand {
    /// E-mail address.
    pub email: String,
    /// Password as typed.
    pub password: String,
    /// Sign-in name; the e-mail address when absent.
    pub username: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
}

/// Creates an account at the identity provider and its copy in the shop; never half of it.
pub struct RegisterUser {
    /// The identity provider.
    pub identity: Arc<dyn IdentityProvider>,
    /// Account copies in the shop.
    pub users: Arc<dyn UserRepository>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The events it writes with the account.
    pub events: Arc<crate::events::Events>,
}

impl RegisterUser {
    /// Validates, registers at the provider, then stores the account; when the store fails the
    /// provider's account is deleted again.
    ///
    /// # Errors
    /// `Validation` per bad field, `Conflict` for a taken e-mail or username, `Unavailable`.
    #[tracing::instrument(name = "register_user", skip_all)]
    pub async fn execute(&self, cmd: RegisterCommand) -> Result<User, AppError> {
        let mut v = Validator::new();
        let email = v.check("email", Email::parse(&cmd.email));
        let password = v.check("password", Password::parse(&cmd.password));
        let username = match cmd.username.as_deref() {
            Some(u) => v.check("username", Username::parse_for(u, email.as_ref())),
            None => email
                .as_ref()
                .and_then(|e| v.check("username", Username::from_email(e))),
        };
        let first_name = parse_person_name(&mut v, "first_name", cmd.first_name.as_deref());
        let last_name = parse_person_name(&mut v, "last_name", cmd.last_name.as_deref());
        v.finish()?;
        let (Some(email), Some(password), Some(username), Some(first_name), Some(last_name)) =
            (email, password, username, first_name, last_name)
        else {
            return Err(AppError::invalid("body", "invalid registration"));
        };
        let account = self
            .identity
            .register(&NewAccount {
                email,
                username,
                password,
                first_name,
                last_name,
            })
            .await?;
        let user = user_from_account(account, self.clock.now());
        let registered = self.events.user_registered(&user);
        if let Err(e) = self.users.insert_with_events(&user, &[registered]).await {
            if let Err(undo) = self.identity.delete(user.id).await {
                tracing::error!(error = ?undo, user_id = %user.id, "could not remove the identity of a registration that failed");
            }
            return Err(e.into());
        }
        Ok(user)
    }
}

/// Signs in by username or e-mail and password.
pub struct Login {
    /// The identity provider.
    pub identity: Arc<dyn IdentityProvider>,
    /// Account copies in the shop.
    pub users: Arc<dyn UserRepository>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Where the business events it decides are counted.
    pub metrics: Arc<dyn Metrics>,
}

impl Login {
    /// Checks the credentials at the provider and brings the shop's copy of the account up to
    /// date with it (so accounts made at the provider directly work too).
    ///
    /// # Errors
    /// `Validation` for blank fields; `Unauthorized` for wrong credentials, whether or not the account exists.
    #[tracing::instrument(name = "login", skip_all)]
    pub async fn execute(&self, username: &str, password: &str) -> Result<TokenPair, AppError> {
        self.sign_in(username, password)
            .await
            .map(|(tokens, _)| tokens)
    }

    /// The same, answering also the account as the shop now holds it (its roles decide what
    /// the dashboard lets it do).
    ///
    /// # Errors
    /// As [`Login::execute`].
    #[tracing::instrument(name = "sign_in", skip_all)]
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(TokenPair, User), AppError> {
        let mut v = Validator::new();
        if username.trim().is_empty() {
            v.push(domain::FieldError::new("username", "must not be empty"));
        }
        if password.is_empty() {
            v.push(domain::FieldError::new("password", "must not be empty"));
        }
        v.finish()?;
        if username.len() > 254
            || username.chars().any(char::is_control)
            || password.chars().count() > Password::MAX_CHARS
        {
            self.metrics.login_failed();
            return Err(AppError::Unauthorized);
        }
        let signed_in = self
            .identity
            .login(
                &username.trim().to_lowercase(),
                &Password::for_sign_in(password),
            )
            .await;
        let SignedIn { tokens, account } = match signed_in {
            Err(IdentityError::InvalidCredentials) => {
                self.metrics.login_failed();
                return Err(IdentityError::InvalidCredentials.into());
            }
            other => other?,
        };
        let user = user_from_account(account, self.clock.now());
        let user = self.users.upsert_identity(&user).await?;
        Ok((tokens, user))
    }
}

/// Trades a refresh token for a new pair; the old one is spent.
pub struct RefreshTokens {
    /// The identity provider.
    pub identity: Arc<dyn IdentityProvider>,
}

impl RefreshTokens {
    /// Rotates the token.
    ///
    /// # Errors
    /// `Validation` for a blank token, `Unauthorized` when it is not valid (any more).
    #[tracing::instrument(name = "refresh_tokens", skip_all)]
    pub async fn execute(&self, refresh_token: &str) -> Result<TokenPair, AppError> {
        if refresh_token.is_empty() {
            return Err(AppError::invalid("refresh_token", "must not be empty"));
        }
        if refresh_token.len() > 8192 {
            return Err(AppError::Unauthorized);
        }
        Ok(self.identity.refresh(refresh_token).await?)
    }
}

/// Ends the session a refresh token belongs to.
pub struct Logout {
    /// The identity provider.
    pub identity: Arc<dyn IdentityProvider>,
}

impl Logout {
    /// Revokes the token's session; an unknown token is not an error (RFC 7009).
    ///
    /// # Errors
    /// `Validation` for a blank token, `Unavailable` when the provider does not answer.
    #[tracing::instrument(name = "logout", skip_all)]
    pub async fn execute(&self, refresh_token: &str) -> Result<(), AppError> {
        if refresh_token.is_empty() {
            return Err(AppError::invalid("refresh_token", "must not be empty"));
        }
        if refresh_token.len() > 8192 {
            return Ok(());
        }
        Ok(self.identity.logout(refresh_token).await?)
    }
}

/// Reads one account: one's own, or any for an admin.
pub struct GetUser {
    /// Account copies in the shop.
    pub users: Arc<dyn UserRepository>,
}

impl GetUser {
    /// The account; another user's answers `NotFound`, exactly like a missing one.
    ///
    /// # Errors
    /// `NotFound`.
    #[tracing::instrument(name = "get_user", skip_all, fields(user_id = %id))]
    pub async fn execute(&self, actor: &Actor, id: UserId) -> Result<User, AppError> {
        if !actor.may_act_for(id) {
            return Err(AppError::NotFound);
        }
        self.users.get(id).await?.ok_or(AppError::NotFound)
    }
}

/// Profile changes to one's own account; absent fields stay, `Some(None)` clears.
#[derive(Debug, Clone, Default)]
pub struct UpdateProfileCommand {
    /// New given name.
    pub first_name: Option<Option<String>>,
    /// New family name.
    pub last_name: Option<Option<String>>,
}

/// Changes the profile fields (only those: the provider owns the rest) of one's own account.
pub struct UpdateProfile {
    /// Account copies in the shop.
    pub users: Arc<dyn UserRepository>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

impl UpdateProfile {
    /// Saves the given fields.
    ///
    /// # Errors
    /// `Validation`, or `NotFound` when the account has no copy in the shop.
    #[tracing::instrument(name = "update_profile", skip_all)]
    pub async fn execute(
        &self,
        actor: &Actor,
        cmd: UpdateProfileCommand,
    ) -> Result<User, AppError> {
        let mut v = Validator::new();
        let first = cmd
            .first_name
            .map(|f| parse_person_name(&mut v, "first_name", f.as_deref()));
        let last = cmd
            .last_name
            .map(|l| parse_person_name(&mut v, "last_name", l.as_deref()));
        v.finish()?;
        let mut user = self
            .users
            .get(actor.user_id)
            .await?
            .ok_or(AppError::NotFound)?;
        if let Some(Some(first)) = first {
            user.first_name = first;
        }
        if let Some(Some(last)) = last {
            user.last_name = last;
        }
        user.updated_at = self.clock.now();
        if !self.users.update_profile(&user).await? {
            return Err(AppError::NotFound);
        }
        Ok(user)
    }
}

/// Lists every account (admins only), newest first.
pub struct ListUsers {
    /// Account reads.
    pub directory: Arc<dyn UserReadModel>,
}

impl ListUsers {
    /// One page of accounts.
    ///
    /// # Errors
    /// `Forbidden` for non-admins.
    #[tracing::instrument(name = "list_users", skip_all)]
    pub async fn execute(&self, actor: &Actor, page: PageRequest) -> Result<Page<User>, AppError> {
        actor.require_admin()?;
        Ok(self.directory.list(page).await?)
    }
}

/// Makes an account an admin, creating it when missing (`shop create-admin`); safe to repeat.
pub struct CreateAdmin {
    /// The identity provider.
    pub identity: Arc<dyn IdentityProvider>,
    /// Account copies in the shop.
    pub users: Arc<dyn UserRepository>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

impl CreateAdmin {
    /// Creates or updates the account at the provider with the admin role and the given
    /// password, then its copy in the shop.
    ///
    /// # Errors
    /// `Validation`, `Conflict` when the username belongs to another e-mail, `Unavailable`.
    #[tracing::instrument(name = "create_admin", skip_all)]
    pub async fn execute(
        &self,
        email: &str,
        password: &str,
        username: Option<&str>,
    ) -> Result<User, AppError> {
        let mut v = Validator::new();
        let email = v.check("email", Email::parse(email));
        let password = v.check("password", Password::parse(password));
        let username = match username {
            Some(u) => v.check("username", Username::parse_for(u, email.as_ref())),
            None => email
                .as_ref()
                .and_then(|e| v.check("username", Username::from_email(e))),
        };
        v.finish()?;
        let (Some(email), Some(password), Some(username)) = (email, password, username) else {
            return Err(AppError::invalid("email", "invalid admin"));
        };
        let account = self
            .identity
            .ensure_admin(&email, &username, &password)
            .await?;
        Ok(self
            .users
            .upsert_identity(&user_from_account(account, self.clock.now()))
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use domain::{Role, Roles};

    #[tokio::test]
    async fn wrong_credentials_count_as_failed_logins() {
        let metrics = Arc::new(CountingMetrics::default());
        let login = Login {
            identity: Arc::new(MemoryIdentity::default()),
            users: Arc::new(MemoryUsers::default()),
            clock: Arc::new(FixedClock),
            metrics: metrics.clone(),
        };
        assert!(matches!(
            login.execute("ann", "wrong password").await,
            Err(AppError::Unauthorized)
        ));
        assert!(matches!(
            login.execute(&"a".repeat(300), "wrong password").await,
            Err(AppError::Unauthorized)
        ));
        // A blank field is a malformed request, not a failed sign-in.
        assert!(login.execute("", "x").await.is_err());
        assert_eq!(metrics.counts(), (0, 0, 2));
    }

    #[tokio::test]
    async fn a_user_sees_only_their_own_account() {
        let users = Arc::new(MemoryUsers::default());
        let ann = sample_user("ann");
        let bob = sample_user("bob");
        users.insert(&ann).await.unwrap();
        users.insert(&bob).await.unwrap();
        let get = GetUser {
            users: users.clone(),
        };
        let as_ann = Actor {
            user_id: ann.id,
            roles: Roles::from([Role::User]),
        };
        assert_eq!(get.execute(&as_ann, ann.id).await.unwrap().id, ann.id);
        assert!(matches!(
            get.execute(&as_ann, bob.id).await,
            Err(AppError::NotFound)
        ));
        let admin = Actor {
            user_id: UserId::new(),
            roles: Roles::from([Role::Admin]),
        };
        assert_eq!(get.execute(&admin, bob.id).await.unwrap().id, bob.id);
    }

    #[tokio::test]
    async fn only_admins_list_accounts() {
        let users = Arc::new(MemoryUsers::default());
        let list = ListUsers {
            directory: users.clone(),
        };
        let page = PageRequest::default();
        assert!(matches!(
            list.execute(&actor(&[Role::User]), page.clone()).await,
            Err(AppError::Forbidden)
        ));
        assert!(list.execute(&actor(&[Role::Admin]), page).await.is_ok());
    }

    #[tokio::test]
    async fn a_registration_the_shop_cannot_store_is_removed_from_the_provider() {
        let users = Arc::new(MemoryUsers {
            fail_inserts: true,
            ..Default::default()
        });
        let identity = Arc::new(MemoryIdentity::default());
        let register = RegisterUser {
            identity: identity.clone(),
            users,
            clock: Arc::new(FixedClock),
            events: events(),
        };
        let cmd = RegisterCommand {
            email: "ann@example.com".into(),
            password: "long enough".into(),
            username: None,
            first_name: None,
            last_name: None,
        };
        assert!(register.execute(cmd).await.is_err());
        assert!(identity.accounts.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn registration_reports_every_bad_field() {
        let register = RegisterUser {
            identity: Arc::new(MemoryIdentity::default()),
            users: Arc::new(MemoryUsers::default()),
            clock: Arc::new(FixedClock),
            events: events(),
        };
        let cmd = RegisterCommand {
            email: "nope".into(),
            password: "short".into(),
            username: Some("x".into()),
            first_name: None,
            last_name: None,
        };
        let Err(AppError::Validation(errors)) = register.execute(cmd).await else {
            panic!("expected validation errors");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "password", "username"]);
    }
}
