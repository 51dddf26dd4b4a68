//! How each failure of the domain, the repositories, the identity provider and the file
//! store reaches the client.

use domain::{DomainError, FieldError, RepositoryError};

use crate::AppError;
use crate::actor::Actor;
use crate::ports::{IdentityError, StorageError};
use crate::testing::actor;

fn conflict(e: AppError) -> (Option<&'static str>, String) {
    match e {
        AppError::Conflict { field, message } => (field, message),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn unavailable(e: AppError) -> &'static str {
    match e {
        AppError::Unavailable { dependency, .. } => dependency,
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[test]
fn a_validation_of_one_field_names_it() {
    match AppError::invalid("items", "must hold 1 to 100 lines") {
        AppError::Validation(errors) => {
            assert_eq!(
                errors,
                vec![FieldError::new("items", "must hold 1 to 100 lines")]
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn domain_refusals_become_validation_errors_or_a_status_conflict() {
    let errors = vec![FieldError::new("sku", "bad")];
    assert!(matches!(
        AppError::from(DomainError::Validation(errors.clone())),
        AppError::Validation(e) if e == errors
    ));
    for (e, message) in [
        (DomainError::Overflow, "amount out of range"),
        (
            DomainError::CurrencyMismatch("EUR".into(), "USD".into()),
            "currency mismatch: EUR and USD",
        ),
    ] {
        assert!(matches!(
            AppError::from(e),
            AppError::Validation(v) if v == vec![FieldError::new("items", message)]
        ));
    }
    let (field, message) = conflict(AppError::from(DomainError::InvalidTransition {
        from: "delivered",
        to: "cancelled",
    }));
    assert_eq!(field, Some("status"));
    assert_eq!(message, "an order cannot go from delivered to cancelled");
}

#[test]
fn repository_failures_become_conflicts_outages_and_internal_errors() {
    let (field, message) = conflict(AppError::from(RepositoryError::Conflict("email")));
    assert_eq!(
        (field, message.as_str()),
        (Some("email"), "email is already taken")
    );
    assert_eq!(
        unavailable(AppError::from(RepositoryError::Unavailable("down".into()))),
        "database"
    );
    assert!(matches!(
        AppError::from(RepositoryError::Other("bug".into())),
        AppError::Internal(_)
    ));
}

#[test]
fn identity_failures_say_nothing_about_which_credential_was_wrong() {
    assert!(matches!(
        AppError::from(IdentityError::InvalidCredentials),
        AppError::Unauthorized
    ));
    assert!(matches!(
        AppError::from(IdentityError::InvalidToken),
        AppError::Unauthorized
    ));
    let (field, message) = conflict(AppError::from(IdentityError::Conflict("username")));
    assert_eq!(
        (field, message.as_str()),
        (Some("username"), "username is already taken")
    );
    let rejected = vec![FieldError::new("password", "too common")];
    assert!(matches!(
        AppError::from(IdentityError::Rejected(rejected.clone())),
        AppError::Validation(e) if e == rejected
    ));
    assert_eq!(
        unavailable(AppError::from(IdentityError::Unavailable("down".into()))),
        "identity provider"
    );
    assert_eq!(
        unavailable(AppError::from(IdentityError::Storage(
            RepositoryError::Unavailable("down".into())
        ))),
        "database"
    );
    assert!(matches!(
        AppError::from(IdentityError::Other("bug".into())),
        AppError::Internal(_)
    ));
}

#[test]
fn a_missing_file_is_not_found_and_a_store_outage_unavailable() {
    assert!(matches!(
        AppError::from(StorageError::NotFound),
        AppError::NotFound
    ));
    assert_eq!(
        unavailable(AppError::from(StorageError::Unavailable("down".into()))),
        "file store"
    );
}

#[test]
fn only_an_actor_holding_the_admin_role_passes_the_admin_check() {
    let admin: Actor = actor(&[domain::Role::User, domain::Role::Admin]);
    assert!(admin.is_admin());
    assert!(admin.require_admin().is_ok());
    for roles in [&[][..], &[domain::Role::User][..]] {
        let a = actor(roles);
        assert!(!a.is_admin());
        assert!(matches!(a.require_admin(), Err(AppError::Forbidden)));
    }
}
