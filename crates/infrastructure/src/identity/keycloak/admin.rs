//! The admin REST API calls: the service account's token (cached until shortly before it
//! expires), and the users and role mappings the provider creates, finds and changes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use application::ports::{IdentityAccount, IdentityError};
use domain::{Email, Password, UserId};
use reqwest::{Method, Response, StatusCode, Url};

use super::wire::{
    AdminError, NewUserRepresentation, PasswordCredential, RoleRepresentation, UserRepresentation,
};
use super::*;

/// The service account's access token and when to stop using it. No `Debug`: it is a token.
struct ServiceToken {
    value: String,
    renew_at: Instant,
}

/// The admin REST API as the shop's service account: creates, finds and changes users and
/// their role mappings.
pub(super) struct AdminClient {
    client: Arc<Client>,
    service_token: Mutex<Option<ServiceToken>>,
}

impl AdminClient {
    pub(super) fn new(client: Arc<Client>) -> Self {
        Self {
            client,
            service_token: Mutex::new(None),
        }
    }

    /// The service account's access token, from the cache while it has more than
    /// [`SERVICE_TOKEN_MARGIN`] to live. Two requests that find it stale may both fetch one;
    /// that is cheaper than making every admin call wait on a lock across the network.
    pub(super) async fn service_token(&self) -> Result<String, IdentityError> {
        const WHAT: &str = "service-account token request";
        if let Some(token) = self
            .cached_service_token()
            .as_ref()
            .filter(|t| Instant::now() < t.renew_at)
        {
            return Ok(token.value.clone());
        }
        let fetched_at = Instant::now();
        let tokens = self
            .client
            .token(WHAT, &[("grant_type", "client_credentials")])
            .await?
            .map_err(|e| e.client_refused(WHAT))?;
        let lifetime = Duration::from_secs(tokens.expires_in).saturating_sub(SERVICE_TOKEN_MARGIN);
        let value = tokens.access_token;
        self.store_service_token(Some(ServiceToken {
            value: value.clone(),
            renew_at: fetched_at + lifetime,
        }));
        Ok(value)
    }

    fn cached_service_token(&self) -> std::sync::MutexGuard<'_, Option<ServiceToken>> {
        self.service_token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn store_service_token(&self, token: Option<ServiceToken>) {
        *self.cached_service_token() = token;
    }

    /// Calls the admin REST API with the service account's token; a 401 (the token was
    /// revoked or the realm's keys changed) fetches a new token and tries once more.
    pub(super) async fn call(
        &self,
        what: &'static str,
        method: Method,
        url: Url,
        body: Option<&[u8]>,
    ) -> Result<Response, IdentityError> {
        let mut retried = false;
        loop {
            let token = self.service_token().await?;
            let mut request = self
                .client
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(&token);
            if let Some(body) = body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_vec());
            }
            let response = self.client.send(what, request).await?;
            match response.status() {
                StatusCode::UNAUTHORIZED if !retried => {
                    retried = true;
                    self.store_service_token(None);
                }
                StatusCode::UNAUTHORIZED => {
                    return Err(unavailable(KeycloakError::Status(
                        what,
                        StatusCode::UNAUTHORIZED,
                    )));
                }
                StatusCode::FORBIDDEN => return Err(unavailable(KeycloakError::Forbidden(what))),
                _ => return Ok(response),
            }
        }
    }

    /// Creates a user with a password; its id, or what Keycloak refused.
    pub(super) async fn create_user(
        &self,
        user: &NewUserRepresentation<'_>,
    ) -> Result<UserId, IdentityError> {
        const WHAT: &str = "user creation";
        let body = serde_json::to_vec(user).map_err(|e| malformed(WHAT, e))?;
        let response = self
            .call(
                WHAT,
                Method::POST,
                self.client.endpoints.users.clone(),
                Some(&body),
            )
            .await?;
        let status = response.status();
        if status == StatusCode::CREATED {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let id = location
                .rsplit('/')
                .next()
                .and_then(|id| Uuid::parse_str(id).ok())
                .ok_or_else(|| malformed(WHAT, "no user id in the Location header"))?;
            return Ok(UserId::from_uuid(id));
        }
        let body = response.text().await.unwrap_or_default();
        match status {
            StatusCode::CONFLICT => Err(IdentityError::Conflict(
                AdminError::parse(&body).conflict_field(),
            )),
            StatusCode::BAD_REQUEST => Err(IdentityError::Rejected(
                AdminError::parse(&body).field_errors(),
            )),
            s => Err(unexpected(WHAT, s)),
        }
    }

    /// The user whose e-mail address is `email`, if any.
    pub(super) async fn find_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<UserRepresentation>, IdentityError> {
        const WHAT: &str = "user search";
        let mut url = self.client.endpoints.users.clone();
        url.query_pairs_mut()
            .append_pair("email", email.as_str())
            .append_pair("exact", "true");
        let response = self.call(WHAT, Method::GET, url, None).await?;
        if !response.status().is_success() {
            return Err(unexpected(WHAT, response.status()));
        }
        let users: Vec<UserRepresentation> = Client::json(WHAT, response).await?;
        Ok(users.into_iter().find(|u| {
            u.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email.as_str()))
        }))
    }

    /// Gives the user the realm role `admin`; granting it twice is harmless.
    pub(super) async fn grant_admin(&self, id: UserId) -> Result<(), IdentityError> {
        const WHAT: &str = "admin role grant";
        let response = self
            .call(
                WHAT,
                Method::GET,
                self.client.endpoints.admin_role.clone(),
                None,
            )
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(IdentityError::Other(
                "the realm has no `admin` role; import keycloak/shop-realm.json or add the role"
                    .into(),
            ));
        }
        if !response.status().is_success() {
            return Err(unexpected(WHAT, response.status()));
        }
        let role: serde_json::Value = Client::json(WHAT, response).await?;
        let url = self
            .client
            .endpoints
            .user(id, &["role-mappings", "realm"])?;
        let body = serde_json::to_vec(&[role]).map_err(|e| malformed(WHAT, e))?;
        let response = self.call(WHAT, Method::POST, url, Some(&body)).await?;
        if !response.status().is_success() {
            return Err(unexpected(WHAT, response.status()));
        }
        Ok(())
    }

    /// Replaces the password of a user found by a search; its id.
    pub(super) async fn reset_password_of(
        &self,
        user: &UserRepresentation,
        password: &Password,
    ) -> Result<UserId, IdentityError> {
        let id = Uuid::parse_str(&user.id)
            .map(UserId::from_uuid)
            .map_err(|e| malformed("user search", e))?;
        self.reset_password(id, password).await?;
        Ok(id)
    }

    /// Replaces the user's password.
    pub(super) async fn reset_password(
        &self,
        id: UserId,
        password: &Password,
    ) -> Result<(), IdentityError> {
        const WHAT: &str = "password reset";
        let url = self.client.endpoints.user(id, &["reset-password"])?;
        let body = serde_json::to_vec(&PasswordCredential::new(password))
            .map_err(|e| malformed(WHAT, e))?;
        let response = self.call(WHAT, Method::PUT, url, Some(&body)).await?;
        match response.status() {
            s if s.is_success() => Ok(()),
            StatusCode::BAD_REQUEST => {
                let body = response.text().await.unwrap_or_default();
                Err(IdentityError::Rejected(
                    AdminError::parse(&body).field_errors(),
                ))
            }
            s => Err(unexpected(WHAT, s)),
        }
    }

    /// The user as Keycloak holds it now, with its effective realm roles.
    pub(super) async fn load_account(&self, id: UserId) -> Result<IdentityAccount, IdentityError> {
        const WHAT: &str = "user lookup";
        let response = self
            .call(
                WHAT,
                Method::GET,
                self.client.endpoints.user(id, &[])?,
                None,
            )
            .await?;
        if !response.status().is_success() {
            return Err(unexpected(WHAT, response.status()));
        }
        let user: UserRepresentation = Client::json(WHAT, response).await?;
        let url = self
            .client
            .endpoints
            .user(id, &["role-mappings", "realm", "composite"])?;
        let response = self.call(WHAT, Method::GET, url, None).await?;
        if !response.status().is_success() {
            return Err(unexpected(WHAT, response.status()));
        }
        let roles: Vec<RoleRepresentation> = Client::json(WHAT, response).await?;
        let roles: Vec<String> = roles.into_iter().map(|r| r.name).collect();
        account(
            Some(&user.id),
            Some(&user.username),
            user.email.as_deref(),
            user.first_name.as_deref(),
            user.last_name.as_deref(),
            &roles,
        )
    }
}
