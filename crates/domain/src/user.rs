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
    /// Parses a name; an empty or blank string is `None`. Control characters are refused
    /// anywhere, at the ends too (a line break or tab is not trimmed away), as the API's
    /// schema says.
    ///
    /// # Errors
    /// A `FieldError` when longer than 100 characters or holding control characters.
    pub fn parse(s: &str) -> Result<Option<Self>, FieldError> {
        match crate::text::one_line(s) {
            Some("") => Ok(None),
            Some(s) if s.chars().count() <= 100 => Ok(Some(Self(s.to_owned()))),
            _ => Err(FieldError::new(
                "name",
                "must be at most 100 characters, without control characters",
            )),
        }
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

    #[test]
    fn roles_built_every_way_hold_the_same_sorted_slice() {
        let expected: &[Role] = &[Role::User, Role::Admin];
        let from_array = Roles::from([Role::Admin, Role::User, Role::Admin]);
        let collected: Roles = [Role::Admin, Role::User].into_iter().collect();
        assert_eq!(from_array.as_slice(), expected);
        assert_eq!(collected.as_slice(), expected);
        assert_eq!(Roles::default().as_slice(), &[] as &[Role]);
        // Comparing with an array compares the sorted roles, not just the count.
        let user_only = Roles::from([Role::User]);
        assert!(user_only == [Role::User]);
        assert!(user_only != [Role::Admin]);
        assert!(Roles::default() != [Role::User]);
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

    fn user_with(roles: Vec<Role>) -> User {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        User {
            id: UserId::new(),
            email: Email::parse("ann@example.com").unwrap(),
            username: Username::parse("ann").unwrap(),
            first_name: None,
            last_name: None,
            roles: Roles::new(roles),
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_username_holds_an_at_sign_only_as_the_accounts_own_address() {
        let ann = Email::parse("ann@example.com").unwrap();
        // The account's own address, in any case, and any name without `@`.
        assert_eq!(
            Username::parse_for("ann@example.com", Some(&ann))
                .unwrap()
                .as_str(),
            "ann@example.com"
        );
        assert_eq!(
            Username::parse_for("Ann@Example.com", Some(&ann))
                .unwrap()
                .as_str(),
            "ann@example.com"
        );
        assert_eq!(
            Username::parse_for("ann", Some(&ann)).unwrap().as_str(),
            "ann"
        );
        // Somebody else's address is refused on `username`.
        let err = Username::parse_for("bob@example.com", Some(&ann)).unwrap_err();
        assert_eq!(err.field, "username");
        assert_eq!(
            err.message,
            "may hold '@' only as the account's own e-mail address"
        );
        // Without a valid address to compare with, only the username's own rules apply.
        assert_eq!(
            Username::parse_for("bob@example.com", None)
                .unwrap()
                .as_str(),
            "bob@example.com"
        );
        assert!(Username::parse_for("a", Some(&ann)).is_err());
    }

    #[test]
    fn an_email_may_be_254_bytes_with_a_local_part_of_64() {
        let local = "a".repeat(64);
        let at_most = format!("{local}@{}.com", "b".repeat(254 - 64 - 1 - 4));
        assert_eq!(at_most.len(), 254);
        assert_eq!(Email::parse(&at_most).unwrap().as_str(), at_most);
        let too_long = format!("{local}@{}.com", "b".repeat(254 - 64 - 4));
        assert!(Email::parse(&too_long).is_err());
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
        assert!(Email::parse("ann@example.com.").is_err());
        assert!(Email::parse("ann@exa\u{7}mple.com").is_err());
        let e = Email::parse("nope").unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("email", "must be a valid e-mail address")
        );
        assert_eq!(
            Email::parse("Ann@Example.com").unwrap().to_string(),
            "ann@example.com"
        );
    }

    #[test]
    fn a_username_holds_three_to_sixty_four_allowed_characters() {
        assert_eq!(Username::parse("abc").unwrap().as_str(), "abc");
        assert_eq!(Username::parse(&"a".repeat(64)).unwrap().as_str().len(), 64);
        assert_eq!(
            Username::parse(&"a".repeat(65)).unwrap_err().message,
            "must be 3 to 64 characters"
        );
        assert_eq!(
            Username::parse(" ab ").unwrap_err().message,
            "must be 3 to 64 characters"
        );
        assert_eq!(
            Username::parse("a.b_c-d@e+f").unwrap().as_str(),
            "a.b_c-d@e+f"
        );
        for bad in ["ann!", "an n", "ann/x"] {
            let e = Username::parse(bad).unwrap_err();
            assert_eq!(e.field, "username");
            assert!(e.message.starts_with("may hold only"), "{bad:?}");
        }
    }

    #[test]
    fn an_email_becomes_the_username_only_when_it_fits_the_rules() {
        let fits = Email::parse("Ann.B@example.com").unwrap();
        assert_eq!(
            Username::from_email(&fits).unwrap().as_str(),
            "ann.b@example.com"
        );
        let too_odd = Email::parse("ann!@example.com").unwrap();
        let e = Username::from_email(&too_odd).unwrap_err();
        assert_eq!(e.field, "username");
        assert!(e.message.starts_with("required when"));
    }

    #[test]
    fn a_password_may_be_eight_to_1024_characters() {
        assert_eq!(Password::MIN_CHARS, 8);
        assert_eq!(Password::MAX_CHARS, 1024);
        assert_eq!(Password::parse("12345678").unwrap().expose(), "12345678");
        assert_eq!(
            Password::parse(&"é".repeat(8)).unwrap().expose(),
            "é".repeat(8)
        );
        assert_eq!(
            Password::parse("1234567").unwrap_err(),
            FieldError::new("password", "must be at least 8 characters")
        );
        assert!(Password::parse(&"é".repeat(1024)).is_ok());
        assert_eq!(
            Password::parse(&"é".repeat(1025)).unwrap_err(),
            FieldError::new("password", "must be at most 1024 characters")
        );
        assert_eq!(Password::for_sign_in("x").expose(), "x");
        assert_eq!(
            format!("{:?}", Password::for_sign_in("x")),
            "Password([redacted])"
        );
    }

    #[test]
    fn a_person_name_is_trimmed_blank_is_none_and_long_is_refused() {
        assert_eq!(
            PersonName::parse("  Ann ").unwrap().unwrap().as_str(),
            "Ann"
        );
        assert_eq!(PersonName::parse("   ").unwrap(), None);
        assert_eq!(PersonName::parse("").unwrap(), None);
        assert!(PersonName::parse(&"é".repeat(100)).unwrap().is_some());
        assert_eq!(
            PersonName::parse(&"é".repeat(101)).unwrap_err().field,
            "name"
        );
        assert!(PersonName::parse("An\u{0}n").is_err());
        // At the ends too: a line break is refused, not trimmed away (nor taken as blank).
        assert!(PersonName::parse("\rAnn").is_err());
        assert!(PersonName::parse("Ann\n").is_err());
        assert!(PersonName::parse("\t").is_err());
    }

    #[test]
    fn roles_read_and_print_as_the_identity_provider_names_them() {
        assert_eq!(Role::from_name("user"), Some(Role::User));
        assert_eq!(Role::from_name("admin"), Some(Role::Admin));
        for other in ["", "Admin", "USER", "offline_access", "uma_authorization"] {
            assert_eq!(Role::from_name(other), None, "{other:?}");
        }
        assert_eq!(Role::User.as_str(), "user");
        assert_eq!(Role::Admin.as_str(), "admin");
        assert!(Role::User < Role::Admin);
    }

    #[test]
    fn only_an_account_holding_the_admin_role_is_an_admin() {
        assert!(!user_with(vec![]).is_admin());
        assert!(!user_with(vec![Role::User]).is_admin());
        assert!(user_with(vec![Role::Admin]).is_admin());
        assert!(user_with(vec![Role::User, Role::Admin]).is_admin());
    }
}
