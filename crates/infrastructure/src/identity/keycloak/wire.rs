//! What Keycloak sends and receives: its OAuth and admin REST API bodies, read and written
//! with serde, and the meaning of its error answers.

use application::ports::{IdentityError, TokenPair};
use domain::{FieldError, Password};
use serde::{Deserialize, Serialize};

use super::{KeycloakError, malformed, unavailable};

/// An OAuth error answer (RFC 6749 §5.2).
#[derive(Debug, Deserialize)]
pub(super) struct OAuthError {
    pub(super) error: String,
    #[serde(default)]
    pub(super) error_description: Option<String>,
}

impl OAuthError {
    /// `invalid_grant` (and `invalid_request`): the credentials or token the client sent are
    /// refused. Every other error means the shop's client itself is refused or misconfigured.
    pub(super) fn is_about_the_grant(&self) -> bool {
        matches!(self.error.as_str(), "invalid_grant" | "invalid_request")
    }

    pub(super) fn client_refused(self, what: &'static str) -> IdentityError {
        unavailable(KeycloakError::ClientRefused {
            what,
            error: self.error,
            description: self.error_description.unwrap_or_default(),
        })
    }
}

/// A successful token endpoint answer. No `Debug`: it holds tokens.
#[derive(Deserialize)]
pub(super) struct TokenResponse {
    pub(super) access_token: String,
    #[serde(default)]
    pub(super) refresh_token: Option<String>,
    #[serde(default)]
    pub(super) expires_in: u64,
    #[serde(default)]
    pub(super) refresh_expires_in: u64,
}

impl TokenResponse {
    pub(super) fn into_pair(self, what: &'static str) -> Result<TokenPair, IdentityError> {
        let refresh_token = self
            .refresh_token
            .ok_or_else(|| malformed(what, "the answer holds no refresh token"))?;
        Ok(TokenPair {
            access_token: self.access_token,
            refresh_token,
            expires_in: self.expires_in,
            refresh_expires_in: self.refresh_expires_in,
        })
    }
}

/// A user as the admin REST API shows it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UserRepresentation {
    pub(super) id: String,
    pub(super) username: String,
    #[serde(default)]
    pub(super) email: Option<String>,
    #[serde(default)]
    pub(super) first_name: Option<String>,
    #[serde(default)]
    pub(super) last_name: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RoleRepresentation {
    pub(super) name: String,
}

/// A user to create. No `Debug`: it holds the password.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct NewUserRepresentation<'a> {
    pub(super) username: &'a str,
    pub(super) email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) first_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) last_name: Option<&'a str>,
    pub(super) enabled: bool,
    pub(super) credentials: [PasswordCredential<'a>; 1],
}

/// A password credential. No `Debug`: it is the password.
#[derive(Serialize)]
pub(super) struct PasswordCredential<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) value: &'a str,
    pub(super) temporary: bool,
}

impl<'a> PasswordCredential<'a> {
    pub(super) fn new(password: &'a Password) -> Self {
        Self {
            kind: "password",
            value: password.expose(),
            temporary: false,
        }
    }
}

/// A refusal of the admin REST API: `{"errorMessage": ...}`, `{"field": ..., "errorMessage":
/// ...}`, a list of those under `errors`, or `{"error": ..., "error_description": ...}` (the
/// password policy).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AdminError {
    #[serde(default)]
    pub(super) field: Option<String>,
    #[serde(default)]
    pub(super) error_message: Option<String>,
    #[serde(default)]
    pub(super) errors: Vec<AdminError>,
    #[serde(default)]
    pub(super) error: Option<String>,
    #[serde(default, rename = "error_description")]
    pub(super) error_description: Option<String>,
}

impl AdminError {
    pub(super) fn parse(body: &str) -> Self {
        serde_json::from_str(body).unwrap_or_default()
    }

    /// Which of the shop's fields a 409 names.
    pub(super) fn conflict_field(&self) -> &'static str {
        let message = self.error_message.as_deref().unwrap_or_default();
        if message.to_lowercase().contains("email") {
            "email"
        } else {
            "username"
        }
    }

    /// The fields a 400 refused, named as the shop's API names them.
    pub(super) fn field_errors(&self) -> Vec<FieldError> {
        if let Some(error) = self
            .error
            .as_deref()
            .filter(|e| e.starts_with("invalidPassword"))
        {
            let description = self.error_description.as_deref().unwrap_or(error);
            let message = description
                .strip_prefix("Invalid password: ")
                .unwrap_or(description);
            return vec![FieldError::new(
                "password",
                format!("refused by the password policy: {message}"),
            )];
        }
        let mut errors: Vec<FieldError> = self
            .errors
            .iter()
            .chain(std::iter::once(self))
            .filter_map(|e| {
                let field = match e.field.as_deref()? {
                    "firstName" => "first_name",
                    "lastName" => "last_name",
                    "email" => "email",
                    "username" => "username",
                    _ => "body",
                };
                let reason = e.error_message.as_deref().unwrap_or("invalid");
                Some(FieldError::new(
                    field,
                    format!("refused by the identity provider ({reason})"),
                ))
            })
            .collect();
        if errors.is_empty() {
            errors.push(FieldError::new(
                "body",
                "refused by the identity provider".to_owned(),
            ));
        }
        errors
    }
}
