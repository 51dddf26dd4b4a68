//! Accounts: registration, sign-in and its guards, tokens, profiles and the admin account.

use std::sync::Arc;
use std::sync::Mutex;

use async_trait::async_trait;
use domain::{
    Email, PageRequest, Password, PersonName, Role, Roles, User, UserId, UserRepository, Username,
};

use super::*;
use crate::accounts::{RegisterCommand, UpdateProfileCommand};
use crate::ports::{IdentityAccount, IdentityError, NewAccount, SignedIn, TokenPair};
use crate::testing::{CountingMetrics, MemoryIdentity, MemoryUsers, actor, sample_user};
use crate::{Actor, AppError};

fn tokens() -> TokenPair {
    TokenPair {
        access_token: "access".into(),
        refresh_token: "refresh".into(),
        expires_in: 300,
        refresh_expires_in: 1800,
    }
}

/// An identity provider that answers with one account (whatever its roles) and records what
/// it was asked.
struct Provider {
    account: IdentityAccount,
    calls: Mutex<Vec<String>>,
}

impl Provider {
    fn with_roles(roles: &[Role]) -> Arc<Self> {
        Arc::new(Self {
            account: IdentityAccount {
                id: UserId::new(),
                email: Email::parse("ann@example.com").unwrap(),
                username: Username::parse("ann").unwrap(),
                first_name: PersonName::parse("Ann").unwrap(),
                last_name: None,
                roles: Roles::new(roles.iter().copied()),
            },
            calls: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

#[async_trait]
impl IdentityProvider for Provider {
    async fn register(&self, account: &NewAccount) -> Result<IdentityAccount, IdentityError> {
        self.record(format!(
            "register {} {} {} {:?} {:?}",
            account.email.as_str(),
            account.username.as_str(),
            account.password.expose(),
            account.first_name.as_ref().map(PersonName::as_str),
            account.last_name.as_ref().map(PersonName::as_str),
        ));
        Ok(IdentityAccount {
            email: account.email.clone(),
            username: account.username.clone(),
            first_name: account.first_name.clone(),
            last_name: account.last_name.clone(),
            ..self.account.clone()
        })
    }

    async fn delete(&self, id: UserId) -> Result<(), IdentityError> {
        self.record(format!("delete {id}"));
        Ok(())
    }

    async fn login(&self, username: &str, password: &Password) -> Result<SignedIn, IdentityError> {
        self.record(format!("login {username} {}", password.expose()));
        Ok(SignedIn {
            tokens: tokens(),
            account: self.account.clone(),
        })
    }

    async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, IdentityError> {
        self.record(format!("refresh {}", refresh_token.len()));
        Ok(tokens())
    }

    async fn logout(&self, refresh_token: &str) -> Result<(), IdentityError> {
        self.record(format!("logout {}", refresh_token.len()));
        Ok(())
    }

    async fn ensure_admin(
        &self,
        email: &Email,
        username: &Username,
        password: &Password,
    ) -> Result<IdentityAccount, IdentityError> {
        self.record(format!(
            "ensure_admin {} {} {}",
            email.as_str(),
            username.as_str(),
            password.expose()
        ));
        Ok(IdentityAccount {
            email: email.clone(),
            username: username.clone(),
            ..self.account.clone()
        })
    }

    async fn jwks(&self) -> Result<String, IdentityError> {
        Ok(r#"{"keys":[]}"#.into())
    }

    async fn check(&self) -> Result<(), IdentityError> {
        Ok(())
    }
}

fn registration(email: &str) -> RegisterCommand {
    RegisterCommand {
        email: email.into(),
        password: "long enough".into(),
        username: None,
        first_name: None,
        last_name: None,
    }
}

#[tokio::test]
async fn a_registration_is_stored_as_the_provider_answered_with_sorted_unique_roles() {
    let provider = Provider::with_roles(&[Role::Admin, Role::User, Role::Admin]);
    let users = Arc::new(MemoryUsers::default());
    let user = register_user(provider.clone(), users.clone())
        .execute(RegisterCommand {
            first_name: Some(" Ann ".into()),
            last_name: Some("  ".into()),
            ..registration(" Ann@Example.com ")
        })
        .await
        .unwrap();
    assert_eq!(
        provider.calls(),
        ["register ann@example.com ann@example.com long enough Some(\"Ann\") None"]
    );
    assert_eq!(user.id, provider.account.id);
    assert_eq!(user.email.as_str(), "ann@example.com");
    assert_eq!(user.username.as_str(), "ann@example.com");
    assert_eq!(
        user.first_name.as_ref().map(PersonName::as_str),
        Some("Ann")
    );
    assert_eq!(user.last_name, None);
    assert_eq!(user.roles.as_slice(), [Role::User, Role::Admin]);
    assert_eq!((user.created_at, user.updated_at), (now(), now()));
    assert_eq!(users.items.lock().unwrap().clone(), vec![user]);
}

#[tokio::test]
async fn a_registration_may_name_its_username_and_must_when_the_email_does_not_fit() {
    let provider = Provider::with_roles(&[Role::User]);
    let users = Arc::new(MemoryUsers::default());
    let register = register_user(provider.clone(), users.clone());
    let user = register
        .execute(RegisterCommand {
            username: Some("Annie".into()),
            ..registration("ann@example.com")
        })
        .await
        .unwrap();
    assert_eq!(user.username.as_str(), "annie");
    let errors = validation(register.execute(registration("ann!@example.com")).await);
    assert_eq!(fields(&errors), ["username"]);
    let errors = validation(
        register
            .execute(RegisterCommand {
                first_name: Some("a".repeat(101)),
                last_name: Some("\u{0}".into()),
                ..registration("bob@example.com")
            })
            .await,
    );
    assert_eq!(fields(&errors), ["first_name", "last_name"]);
    assert_eq!(provider.calls().len(), 1);
}

#[tokio::test]
async fn a_failed_registration_store_undoes_the_provider_account() {
    let provider = Provider::with_roles(&[Role::User]);
    let users = Arc::new(MemoryUsers {
        fail_inserts: true,
        ..Default::default()
    });
    let result = register_user(provider.clone(), users)
        .execute(registration("ann@example.com"))
        .await;
    assert!(matches!(
        result,
        Err(AppError::Unavailable {
            dependency: "database",
            ..
        })
    ));
    let calls = provider.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1], format!("delete {}", provider.account.id));
}

#[tokio::test]
async fn a_sign_in_passes_the_trimmed_lower_cased_username_and_stores_the_account() {
    let provider = Provider::with_roles(&[Role::User, Role::User]);
    let users = Arc::new(MemoryUsers::default());
    let metrics = Arc::new(CountingMetrics::default());
    let tokens = login(provider.clone(), users.clone())
        .with_metrics(metrics.clone())
        .execute(" Ann ", "pass word")
        .await
        .unwrap();
    assert_eq!(tokens.access_token, "access");
    assert_eq!(provider.calls(), ["login ann pass word"]);
    let stored = users.items.lock().unwrap().clone();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, provider.account.id);
    assert_eq!(stored[0].roles.as_slice(), [Role::User]);
    assert_eq!(stored[0].updated_at, now());
    assert_eq!(metrics.counts(), (0, 0, 0));
}

/// A login over a provider granting `user`, an empty user store and counted metrics.
fn counted_login() -> (Arc<Provider>, Arc<CountingMetrics>, Login) {
    let provider = Provider::with_roles(&[Role::User]);
    let metrics = Arc::new(CountingMetrics::default());
    let login =
        login(provider.clone(), Arc::new(MemoryUsers::default())).with_metrics(metrics.clone());
    (provider, metrics, login)
}

#[tokio::test]
async fn blank_sign_in_fields_are_named_and_not_counted_as_failures() {
    let (provider, metrics, login) = counted_login();
    assert_eq!(
        fields(&validation(login.execute("  ", "x").await)),
        ["username"]
    );
    assert_eq!(
        fields(&validation(login.execute("ann", "").await)),
        ["password"]
    );
    assert_eq!(
        fields(&validation(login.execute("", "").await)),
        ["username", "password"]
    );
    assert!(provider.calls().is_empty());
    assert_eq!(metrics.counts(), (0, 0, 0));
}

#[tokio::test]
async fn oversized_sign_in_fields_fail_without_asking_the_provider() {
    let (provider, metrics, login) = counted_login();
    for (username, password) in [
        ("a".repeat(255), "password".to_owned()),
        ("an\u{7}n".to_owned(), "password".to_owned()),
        ("ann".to_owned(), "é".repeat(1025)),
    ] {
        assert!(matches!(
            login.execute(&username, &password).await,
            Err(AppError::Unauthorized)
        ));
    }
    assert!(provider.calls().is_empty());
    assert_eq!(metrics.counts(), (0, 0, 3));
    // The longest accepted ones reach the provider.
    login
        .execute(&"a".repeat(254), &"é".repeat(1024))
        .await
        .unwrap();
    assert_eq!(provider.calls().len(), 1);
}

#[tokio::test]
async fn refresh_and_logout_tokens_are_checked_for_blank_and_length() {
    let provider = Provider::with_roles(&[Role::User]);
    let refresh = refresh_tokens(provider.clone());
    let logout = logout(provider.clone());
    assert_eq!(
        fields(&validation(refresh.execute("").await)),
        ["refresh_token"]
    );
    assert_eq!(
        fields(&validation(logout.execute("").await)),
        ["refresh_token"]
    );
    assert!(matches!(
        refresh.execute(&"t".repeat(8193)).await,
        Err(AppError::Unauthorized)
    ));
    // Logging out a token no provider would have issued is a quiet no-op.
    logout.execute(&"t".repeat(8193)).await.unwrap();
    assert!(provider.calls().is_empty());
    assert_eq!(refresh.execute(&"t".repeat(8192)).await.unwrap(), tokens());
    logout.execute(&"t".repeat(8192)).await.unwrap();
    assert_eq!(provider.calls(), ["refresh 8192", "logout 8192"]);
}

#[tokio::test]
async fn a_profile_update_sets_clears_and_keeps_names_and_stamps_the_time() {
    let users = Arc::new(MemoryUsers::default());
    let mut ann = sample_user("ann");
    ann.last_name = PersonName::parse("Smith").unwrap();
    ann.updated_at = now() - chrono::TimeDelta::days(1);
    users.insert(&ann).await.unwrap();
    let me = Actor {
        user_id: ann.id,
        roles: Roles::new([Role::User]),
    };
    let update = update_profile(users.clone());
    let updated = update
        .execute(
            &me,
            UpdateProfileCommand {
                first_name: Some(Some(" Ann ".into())),
                last_name: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        updated.first_name.as_ref().map(PersonName::as_str),
        Some("Ann")
    );
    assert_eq!(
        updated.last_name.as_ref().map(PersonName::as_str),
        Some("Smith")
    );
    assert_eq!(updated.updated_at, now());
    assert_eq!(users.get(ann.id).await.unwrap(), Some(updated.clone()));

    let cleared = update
        .execute(
            &me,
            UpdateProfileCommand {
                first_name: None,
                last_name: Some(None),
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.first_name, updated.first_name);
    assert_eq!(cleared.last_name, None);
    assert_eq!(users.get(ann.id).await.unwrap().unwrap().last_name, None);
}

#[tokio::test]
async fn a_bad_profile_name_is_named_and_changes_nothing() {
    let users = Arc::new(MemoryUsers::default());
    let ann = sample_user("ann");
    users.insert(&ann).await.unwrap();
    let me = Actor {
        user_id: ann.id,
        roles: Roles::new([Role::User]),
    };
    let errors = validation(
        update_profile(users.clone())
            .execute(
                &me,
                UpdateProfileCommand {
                    first_name: Some(Some("a".repeat(101))),
                    last_name: Some(Some("\u{1}".into())),
                },
            )
            .await,
    );
    assert_eq!(fields(&errors), ["first_name", "last_name"]);
    assert_eq!(users.get(ann.id).await.unwrap(), Some(ann));
}

#[tokio::test]
async fn a_profile_of_an_account_the_shop_does_not_hold_is_not_found() {
    /// Finds the account but loses it before the write.
    struct Vanishing(User);
    #[async_trait]
    impl UserRepository for Vanishing {
        async fn insert_with_events(
            &self,
            _: &User,
            _: &[domain::PendingEvent],
        ) -> Result<(), domain::RepositoryError> {
            Ok(())
        }
        async fn upsert_identity(&self, u: &User) -> Result<User, domain::RepositoryError> {
            Ok(u.clone())
        }
        async fn get(&self, _: UserId) -> Result<Option<User>, domain::RepositoryError> {
            Ok(Some(self.0.clone()))
        }
        async fn update_profile(&self, _: &User) -> Result<bool, domain::RepositoryError> {
            Ok(false)
        }
    }
    let ann = sample_user("ann");
    let me = Actor {
        user_id: ann.id,
        roles: Roles::new([Role::User]),
    };
    assert!(matches!(
        update_profile(Arc::new(Vanishing(ann)))
            .execute(&me, UpdateProfileCommand::default())
            .await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        update_profile(Arc::new(MemoryUsers::default()))
            .execute(&me, UpdateProfileCommand::default())
            .await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        get_user(Arc::new(MemoryUsers::default()))
            .execute(&me, me.user_id)
            .await,
        Err(AppError::NotFound)
    ));
}

#[tokio::test]
async fn an_admin_lists_every_account_on_the_page_asked_for() {
    let users = Arc::new(MemoryUsers::default());
    users.insert(&sample_user("ann")).await.unwrap();
    users.insert(&sample_user("bob")).await.unwrap();
    let page = PageRequest::new(2, 7).unwrap();
    let listed = list_users(users)
        .execute(&actor(&[Role::Admin]), page.clone())
        .await
        .unwrap();
    assert_eq!(listed.total, 2);
    assert_eq!(listed.request, page);
    let names: Vec<_> = listed.items.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["ann", "bob"]);
}

#[tokio::test]
async fn the_admin_account_is_ensured_at_the_provider_and_stored_with_its_roles() {
    let provider = Provider::with_roles(&[Role::Admin, Role::User]);
    let users = Arc::new(MemoryUsers::default());
    let admin = create_admin(provider.clone(), users.clone())
        .execute("Root@Example.com", "long enough", None)
        .await
        .unwrap();
    assert_eq!(
        provider.calls(),
        ["ensure_admin root@example.com root@example.com long enough"]
    );
    assert_eq!(admin.roles.as_slice(), [Role::User, Role::Admin]);
    assert!(admin.is_admin());
    assert_eq!(admin.created_at, now());
    assert_eq!(users.items.lock().unwrap().clone(), vec![admin]);

    let named = create_admin(provider.clone(), Arc::new(MemoryUsers::default()))
        .execute("root@example.com", "long enough", Some("Root"))
        .await
        .unwrap();
    assert_eq!(named.username.as_str(), "root");
    let errors = validation(
        create_admin(provider.clone(), users)
            .execute("nope", "short", Some("x"))
            .await,
    );
    assert_eq!(fields(&errors), ["email", "password", "username"]);
    assert_eq!(provider.calls().len(), 2);
}

#[tokio::test]
async fn the_in_memory_provider_refuses_every_sign_in() {
    // The shared fake's answers, which other tests rely on.
    let login = login(
        Arc::new(MemoryIdentity::default()),
        Arc::new(MemoryUsers::default()),
    );
    assert!(matches!(
        login.execute("ann", "password").await,
        Err(AppError::Unauthorized)
    ));
}
