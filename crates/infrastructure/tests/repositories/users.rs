//! `SqlUsers`: accounts as written, unique e-mail and username, the provider's upsert that
//! keeps the profile, and profile updates.

use domain::{Email, PersonName, RepositoryError, Role, Roles, UserId, UserRepository, Username};

use crate::support::*;

async fn an_account_reads_back_exactly_as_written(t: TestDb) {
    let mut ann = user("ann", &[Role::User, Role::Admin]);
    ann.last_name = PersonName::parse("Smith").unwrap();
    t.users.insert(&ann).await.unwrap();
    assert_eq!(t.users.get(ann.id).await.unwrap(), Some(ann.clone()));
    let mut bare = user("bob", &[]);
    bare.first_name = None;
    t.users.insert(&bare).await.unwrap();
    assert_eq!(t.users.get(bare.id).await.unwrap(), Some(bare));
    assert_eq!(t.users.get(UserId::new()).await.unwrap(), None);
}

async fn a_taken_email_or_username_is_a_conflict_naming_it(t: TestDb) {
    let ann = user("ann", &[Role::User]);
    t.users.insert(&ann).await.unwrap();
    let mut same_email = user("annie", &[Role::User]);
    same_email.email = ann.email.clone();
    assert!(matches!(
        t.users.insert(&same_email).await,
        Err(RepositoryError::Conflict("email"))
    ));
    let mut same_name = user("ann", &[Role::User]);
    same_name.email = Email::parse("other@example.com").unwrap();
    assert!(matches!(
        t.users.insert(&same_name).await,
        Err(RepositoryError::Conflict("username"))
    ));
}

async fn the_providers_upsert_inserts_then_updates_its_fields_and_keeps_the_profile(t: TestDb) {
    let ann = user("ann", &[Role::User]);
    assert_eq!(t.users.upsert_identity(&ann).await.unwrap(), ann);
    assert_eq!(t.users.get(ann.id).await.unwrap(), Some(ann.clone()));

    // Nothing changed at the provider: the row (and its time) stays as it was.
    let mut same = ann.clone();
    same.first_name = None;
    same.updated_at = at(100);
    assert_eq!(t.users.upsert_identity(&same).await.unwrap(), ann);

    // Changed e-mail, username and roles are copied; the shop's own profile fields are kept.
    let mut changed = ann.clone();
    changed.email = Email::parse("ann.new@example.com").unwrap();
    changed.username = Username::parse("ann.new").unwrap();
    changed.roles = Roles::new([Role::User, Role::Admin]);
    changed.first_name = PersonName::parse("Someone").unwrap();
    changed.created_at = at(200);
    changed.updated_at = at(200);
    let stored = t.users.upsert_identity(&changed).await.unwrap();
    let mut expected = ann.clone();
    expected.email = changed.email.clone();
    expected.username = changed.username.clone();
    expected.roles = Roles::new([Role::User, Role::Admin]);
    expected.updated_at = at(200);
    assert_eq!(stored, expected);
    assert_eq!(t.users.get(ann.id).await.unwrap(), Some(expected));
}

async fn a_profile_update_saves_the_names_and_time_and_misses_unknown_accounts(t: TestDb) {
    let mut ann = user("ann", &[Role::User]);
    t.users.insert(&ann).await.unwrap();
    ann.first_name = None;
    ann.last_name = PersonName::parse("Smith").unwrap();
    ann.updated_at = at(30);
    assert!(t.users.update_profile(&ann).await.unwrap());
    assert_eq!(t.users.get(ann.id).await.unwrap(), Some(ann));
    assert!(!t.users.update_profile(&user("ghost", &[])).await.unwrap());
    assert_eq!(t.users.get(user("ghost", &[]).id).await.unwrap(), None);
}

on_both_backends!(
    an_account_reads_back_exactly_as_written,
    a_taken_email_or_username_is_a_conflict_naming_it,
    the_providers_upsert_inserts_then_updates_its_fields_and_keeps_the_profile,
    a_profile_update_saves_the_names_and_time_and_misses_unknown_accounts,
);
