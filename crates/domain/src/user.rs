use std::fmt;

use chrono::{DateTime, Utc};

use crate::error::FieldError;
use crate::ids::UserId;

/// An e-mail address, trimmed and lower-cased so one mailbox is one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses an address: one `@`, a non-empty local part, a dotted domain, no spaces, at most 254 bytes.
    ///
    /// # Errors
    /// A `FieldError` on `email` otherwise.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim().to_lowercase();
        let invalid = || FieldError::new("email", "must be a valid e-mail address");
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = s.split_once('@').ok_or_else(invalid)?;
        if local.is_empty()
            || local.len() > 64
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(invalid());
        }
        Ok(Self(s))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A sign-in name: 3..=64 of lower-case letters, digits and `.`, `_`, `-`, `@`, `+`
/// (so an e-mail address is also a valid username, as in Keycloak).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Parses a username, trimming and lower-casing it.
    ///
    /// # Errors
    /// A `FieldError` on `username` when too short, too long or holding other characters.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim().to_lowercase();
        if s.len() < 3 || s.len() > 64 {
            return Err(FieldError::new("username", "must be 3 to 64 characters"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@' | b'+'))
        {
            return Err(FieldError::new(
                "username",
                "may hold only letters a-z, digits and '.', '_', '-', '@', '+'",
            ));
        }
        Ok(Self(s))
    }

    /// The username an account gets when it names none: its e-mail address, when that fits the
    /// username rules (an address may be longer, or hold characters such as `!` or `é`; a
    /// username that breaks them could be stored but never read back).
    ///
    /// # Errors
    /// A `FieldError` on `username`, which the account must then name.
    pub fn from_email(email: &Email) -> Result<Self, FieldError> {
        Self::parse(email.as_str()).map_err(|_| {
            FieldError::new(
                "username",
                "required when the e-mail address is not a valid username \
                 (3 to 64 of: letters a-z, digits, '.', '_', '-', '@', '+')",
            )
        })
    }

    /// [`Username::parse`] for the account of `email`: a username holding `@` must be that
    /// very address, so that no username is another person's e-mail address (sign-in takes
    /// either, and that person could not register). `None` (an invalid address) skips the check.
    ///
    /// # Errors
    /// As [`Username::parse`], and a `FieldError` on `username` for another address.
    pub fn parse_for(s: &str, email: Option<&Email>) -> Result<Self, FieldError> {
        let username = Self::parse(s)?;
        match email {
            Some(e) if username.0.contains('@') && !username.0.eq_ignore_ascii_case(e.as_str()) => {
                Err(FieldError::new(
                    "username",
                    "may hold '@' only as the account's own e-mail address",
                ))
            }
            _ => Ok(username),
        }
    }

    /// The username.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed: 8..=1024 characters. It never appears in `Debug` output.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Shortest password accepted.
    pub const MIN_CHARS: usize = 8;
    /// Longest password accepted; bounds the hashing work a request can cause.
    pub const MAX_CHARS: usize = 1024;

    /// Checks the length.
    ///
    /// # Errors
    /// A `FieldError` on `password` outside 8..=1024 characters.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let n = s.chars().count();
        if n < Self::MIN_CHARS {
            return Err(FieldError::new("password", "must be at least 8 characters"));
        }
        if n > Self::MAX_CHARS {
            return Err(FieldError::new(
                "password",
                "must be at most 1024 characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// A password as typed at sign-in: no length rules, so a wrong one is a plain 401.
    pub fn for_sign_in(s: &str) -> Self {
        Self(s.to_owned())
    }

    /// The secret, for hashing or sending to the identity provider only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// A first or last name: at most 100 characters, no control characters; blank means none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// Parses a name; an empty or blank string is `None`.
    ///
    /// # Errors
    /// A `FieldError` when longer than 100 characters or holding control characters.
    pub fn parse(s: &str) -> Result<Option<Self>, FieldError> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        if s.chars().count() > 100 || s.chars().any(char::is_control) {
            return Err(FieldError::new(
                "name",
                "must be at most 100 characters, without control characters",
            ));
        }
        Ok(Some(Self(s.to_owned())))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a signed-in account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A customer: their own account and orders.
    User,
    /// A shop operator: the catalog, every order and every account.
    Admin,
}

impl Role {
    /// The role's name as the identity provider spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    /// Reads a role name; names this shop does not use (Keycloak adds several) are `None`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The roles of an account, sorted, each once: the one place they are put in order, so two
/// sets compare equal whatever order a provider listed them in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Roles(Vec<Role>);

impl Roles {
    /// The roles of `roles`, sorted, without duplicates.
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        let mut roles: Vec<Role> = roles.into_iter().collect();
        roles.sort();
        roles.dedup();
        Self(roles)
    }

    /// The roles named in `names`; names this shop does not use are left out.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Self::new(names.into_iter().filter_map(Role::from_name))
    }

    /// These roles and `more`.
    #[must_use]
    pub fn with(&self, more: impl IntoIterator<Item = Role>) -> Self {
        Self::new(self.0.iter().copied().chain(more))
    }

    /// Whether `role` is among them.
    pub fn contains(&self, role: &Role) -> bool {
        self.0.contains(role)
    }

    /// The roles, in order.
    pub fn as_slice(&self) -> &[Role] {
        &self.0
    }

    /// Their names, in order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(Role::as_str)
    }
}

impl FromIterator<Role> for Roles {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> Self {
        Self::new(iter)
    }
}

impl<const N: usize> From<[Role; N]> for Roles {
    fn from(roles: [Role; N]) -> Self {
        Self::new(roles)
    }
}

impl<const N: usize> PartialEq<[Role; N]> for Roles {
    fn eq(&self, other: &[Role; N]) -> bool {
        self.0 == other
    }
}

/// An account as this shop knows it. The identity provider owns email, username, password and
/// roles; the shop keeps a copy of them beside the profile fields it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Identity; equals the identity provider's subject.
    pub id: UserId,
    /// E-mail address.
    pub email: Email,
    /// Sign-in name.
    pub username: Username,
    /// Given name.
    pub first_name: Option<PersonName>,
    /// Family name.
    pub last_name: Option<PersonName>,
    /// Roles.
    pub roles: Roles,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// When the account last changed.
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// Whether the account holds the admin role.
    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn email_is_normalised_and_checked() {
        assert_eq!(
            Email::parse(" Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "ann@@example.com",
            "ann@.example.com",
            "ann@example..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn username_rules() {
        assert_eq!(Username::parse("Ann_1").unwrap().as_str(), "ann_1");
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("has space").is_err());
        assert!(Username::parse("ann@example.com").is_ok());
    }

    #[test]
    fn password_length_and_redaction() {
        assert!(Password::parse("1234567").is_err());
        let p = Password::parse("correct horse").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn roles_are_sorted_once_and_unknown_names_dropped() {
        let roles = Roles::from_names(["admin", "offline_access", "user", "admin"]);
        assert_eq!(roles, [Role::User, Role::Admin]);
        assert_eq!(roles.names().collect::<Vec<_>>(), ["user", "admin"]);
        assert_eq!(Roles::new([Role::Admin, Role::User]), roles);
        assert_eq!(
            Roles::from([Role::User]).with([Role::Admin, Role::User]),
            roles
        );
        assert!(roles.contains(&Role::Admin));
        assert!(!Roles::from([Role::User]).contains(&Role::Admin));
        assert_eq!(Roles::from_names(["root"]), []);
    }

    proptest! {
        #[test]
        fn email_parse_never_panics_and_round_trips(s in "\\PC*") {
            if let Ok(e) = Email::parse(&s) {
                prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e);
            }
        }

        #[test]
        fn email_like_inputs_round_trip(local in "[a-z0-9._%+-]{1,20}", domain in "[a-z0-9-]{1,20}\\.[a-z]{2,6}") {
            let e = Email::parse(&format!("{local}@{domain}")).unwrap();
            prop_assert_eq!(e.as_str(), format!("{local}@{domain}"));
        }
    }
}
