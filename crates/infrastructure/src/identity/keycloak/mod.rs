//! Keycloak as the identity provider (`AUTH_PROVIDER=keycloak`). Sign-in, refresh and logout go
//! to the realm's OpenID Connect endpoints as the shop's confidential client (password and
//! refresh-token grants); registration, removal and `shop create-admin` go to the admin REST
//! API with the client's service-account token, which is cached until shortly before it
//! expires. Connection failures, timeouts and 5xx answers are `Unavailable` (503); Keycloak's
//! `invalid_grant` is a refused credential or token (401).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::{Email, FieldError, Password, PersonName, Role, Roles, UserId, Username};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use application::ports::{
    IdentityAccount, IdentityError, IdentityProvider, NewAccount, SignedIn, TokenPair,
};

use crate::Secret;

mod admin;
mod wire;

use super::claims::AccessClaims;
use admin::AdminClient;
use wire::*;

/// Longest wait for a TCP (and TLS) connection to Keycloak.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest wait for any one answer from Keycloak.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the readiness probe's answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// A service-account token is replaced this long before it expires, so none dies in flight.
const SERVICE_TOKEN_MARGIN: Duration = Duration::from_secs(30);

/// Where the realm is and how the shop authenticates to it.
#[derive(Clone, PartialEq, Eq)]
pub struct KeycloakConfig {
    /// Keycloak's base URL, e.g. `http://localhost:8080` (the realms live under `/realms/`).
    pub url: Url,
    /// The realm holding the shop's users.
    pub realm: String,
    /// The shop's confidential client: password grant on, service account with
    /// `realm-management` roles `manage-users`, `view-users`, `query-users`, `view-realm`.
    pub client_id: String,
    /// That client's secret.
    pub client_secret: Secret,
}

impl std::fmt::Debug for KeycloakConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeycloakConfig")
            .field("url", &self.url.as_str())
            .field("realm", &self.realm)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish()
    }
}

impl KeycloakConfig {
    /// Parses Keycloak's base URL: `http` or `https`, without credentials, query or fragment.
    ///
    /// # Errors
    /// A message saying what is wrong with it.
    pub fn parse_url(raw: &str) -> Result<Url, String> {
        let url = Url::parse(raw.trim())
            .map_err(|e| format!("`{raw}` is not a URL ({e}), e.g. http://localhost:8080"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must be an http:// or https:// URL".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "must not hold credentials; the client secret goes in KEYCLOAK_CLIENT_SECRET"
                    .into(),
            );
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("must not have a query or a fragment".into());
        }
        Ok(url)
    }

    /// The `iss` of the realm's tokens when Keycloak is reached (and knows itself) by `url`.
    pub fn issuer(&self) -> String {
        format!(
            "{}/realms/{}",
            self.url.as_str().trim_end_matches('/'),
            self.realm
        )
    }
}

/// The realm's endpoints, worked out once.
#[derive(Debug)]
struct Endpoints {
    token: Url,
    logout: Url,
    certs: Url,
    discovery: Url,
    users: Url,
    admin_role: Url,
}

/// `base` with `segments` appended as path segments (each percent-encoded).
fn join(base: &Url, segments: &[&str]) -> anyhow::Result<Url> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| anyhow::anyhow!("{base} cannot be a base URL"))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

impl Endpoints {
    fn new(config: &KeycloakConfig) -> anyhow::Result<Self> {
        let realm = config.realm.as_str();
        let oidc = |last: &str| {
            join(
                &config.url,
                &["realms", realm, "protocol", "openid-connect", last],
            )
        };
        Ok(Self {
            token: oidc("token")?,
            logout: oidc("logout")?,
            certs: oidc("certs")?,
            discovery: join(
                &config.url,
                &["realms", realm, ".well-known", "openid-configuration"],
            )?,
            users: join(&config.url, &["admin", "realms", realm, "users"])?,
            admin_role: join(&config.url, &["admin", "realms", realm, "roles", "admin"])?,
        })
    }

    fn user(&self, id: UserId, rest: &[&str]) -> Result<Url, IdentityError> {
        let id = id.to_string();
        let mut segments = vec![id.as_str()];
        segments.extend_from_slice(rest);
        join(&self.users, &segments).map_err(|e| IdentityError::Other(e.into()))
    }
}

/// What went wrong talking to Keycloak; the log's side of the story.
#[derive(Debug, thiserror::Error)]
enum KeycloakError {
    #[error("cannot reach Keycloak for the {0}")]
    Unreachable(&'static str, #[source] reqwest::Error),
    #[error("Keycloak answered {1} to the {0}")]
    Status(&'static str, StatusCode),
    #[error(
        "Keycloak refused the shop's client for the {what} ({error}: {description}); check \
         KEYCLOAK_CLIENT_ID, KEYCLOAK_CLIENT_SECRET and the client's settings in the realm"
    )]
    ClientRefused {
        what: &'static str,
        error: String,
        description: String,
    },
    #[error(
        "Keycloak refused the {0} with 403: the client's service account needs the \
         realm-management roles manage-users, view-users, query-users and view-realm"
    )]
    Forbidden(&'static str),
    #[error("unexpected answer from Keycloak to the {0}")]
    Malformed(
        &'static str,
        #[source] Box<dyn std::error::Error + Send + Sync>,
    ),
}

fn unavailable(e: KeycloakError) -> IdentityError {
    IdentityError::Unavailable(Box::new(e))
}

/// No (whole) answer. The URL is left out of the message: a search's query holds an e-mail
/// address, which has no place in a log line.
fn unreachable(what: &'static str, e: reqwest::Error) -> IdentityError {
    unavailable(KeycloakError::Unreachable(what, e.without_url()))
}

/// An answer Keycloak should not have given (a 404 for a user just found, say).
fn unexpected(what: &'static str, status: StatusCode) -> IdentityError {
    IdentityError::Other(Box::new(KeycloakError::Status(what, status)))
}

fn malformed(
    what: &'static str,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> IdentityError {
    IdentityError::Other(Box::new(KeycloakError::Malformed(what, e.into())))
}

/// The Keycloak identity provider: sign-in, refresh and logout at the realm's OpenID Connect
/// endpoints, accounts through the [`AdminClient`]. Holds no state but a connection pool and
/// the admin client's cached service-account token, so any number of shop instances can share
/// one realm.
pub struct KeycloakIdentityProvider {
    client: Arc<Client>,
    admin: AdminClient,
}

/// The HTTP side shared by the provider and the admin client: the connection pool, the
/// realm's endpoints, and the calls every Keycloak answer goes through.
struct Client {
    http: reqwest::Client,
    config: KeycloakConfig,
    endpoints: Endpoints,
}

impl std::fmt::Debug for KeycloakIdentityProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // KeycloakConfig's secret redacts itself; the cached token is left out.
        f.debug_struct("KeycloakIdentityProvider")
            .field("config", &self.client.config)
            .finish_non_exhaustive()
    }
}

/// An account made from what Keycloak holds. An account the shop cannot represent (no e-mail
/// address, a username outside the shop's rules, an id that is no UUID) is refused naming
/// `username`, so the client learns why instead of getting a 500.
fn account(
    id: Option<&str>,
    username: Option<&str>,
    email: Option<&str>,
    first_name: Option<&str>,
    last_name: Option<&str>,
    roles: &[String],
) -> Result<IdentityAccount, IdentityError> {
    let unusable = |why: &str| {
        tracing::warn!(
            reason = why,
            "a Keycloak account cannot be used by the shop"
        );
        IdentityError::Rejected(vec![FieldError::new(
            "username",
            format!("this account cannot be used with the shop: {why}"),
        )])
    };
    let id = id
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| unusable("its id at the identity provider is not a UUID"))?;
    let email = Email::parse(email.unwrap_or_default())
        .map_err(|_| unusable("it has no valid e-mail address"))?;
    let username = Username::parse(username.unwrap_or_default())
        .map_err(|_| unusable("its username does not fit the shop's rules"))?;
    // Names are the shop's own profile once the account exists; one the shop's rules refuse
    // is left out rather than failing the sign-in.
    let name = |n: Option<&str>| n.and_then(|n| PersonName::parse(n).ok().flatten());
    Ok(IdentityAccount {
        id: UserId::from_uuid(id),
        email,
        username,
        first_name: name(first_name),
        last_name: name(last_name),
        roles: Roles::from_names(roles.iter().map(String::as_str)),
    })
}

/// The account an access token straight from the token endpoint speaks for. Its signature is
/// not checked: it came over the shop's own connection to Keycloak (as OpenID Connect allows
/// for tokens received directly from the token endpoint).
fn account_from_access_token(token: &str) -> Result<IdentityAccount, IdentityError> {
    const WHAT: &str = "sign-in";
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| malformed(WHAT, "the access token is not a JWT"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| malformed(WHAT, e))?;
    let claims: AccessClaims = serde_json::from_slice(&bytes).map_err(|e| malformed(WHAT, e))?;
    let roles = claims.realm_access.map(|r| r.roles).unwrap_or_default();
    account(
        claims.sub.as_deref(),
        claims.preferred_username.as_deref(),
        claims.email.as_deref(),
        claims.given_name.as_deref(),
        claims.family_name.as_deref(),
        &roles,
    )
}

impl KeycloakIdentityProvider {
    /// A provider for `config`. Nothing is sent to Keycloak until it is needed, so the shop
    /// starts while Keycloak is still starting (or down).
    ///
    /// # Errors
    /// When the HTTP client cannot be built (no TLS crypto provider installed) or the URL
    /// cannot hold the realm's paths.
    pub fn new(config: KeycloakConfig) -> anyhow::Result<Self> {
        // reqwest is built without a crypto provider of its own and would panic without one.
        anyhow::ensure!(
            rustls::crypto::CryptoProvider::get_default().is_some(),
            "no TLS crypto provider is installed for the Keycloak client"
        );
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // The admin API answers 201 with a Location; nothing here should follow redirects.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let client = Arc::new(Client {
            http,
            endpoints: Endpoints::new(&config)?,
            config,
        });
        Ok(Self {
            admin: AdminClient::new(Arc::clone(&client)),
            client,
        })
    }
}

impl Client {
    /// Sends `request`; no answer, or a 5xx one, is `Unavailable`.
    async fn send(
        &self,
        what: &'static str,
        request: RequestBuilder,
    ) -> Result<Response, IdentityError> {
        let response = request.send().await.map_err(|e| unreachable(what, e))?;
        if response.status().is_server_error() {
            return Err(unavailable(KeycloakError::Status(what, response.status())));
        }
        Ok(response)
    }

    /// The body of a successful answer as `T`.
    async fn json<T: DeserializeOwned>(
        what: &'static str,
        response: Response,
    ) -> Result<T, IdentityError> {
        let bytes = response.bytes().await.map_err(|e| unreachable(what, e))?;
        serde_json::from_slice(&bytes).map_err(|e| malformed(what, e))
    }

    /// Calls the token endpoint as the shop's client with `form`; `Ok(Err(..))` is an OAuth
    /// error answer.
    async fn token(
        &self,
        what: &'static str,
        form: &[(&str, &str)],
    ) -> Result<Result<TokenResponse, OAuthError>, IdentityError> {
        let mut fields = vec![
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.expose()),
        ];
        fields.extend_from_slice(form);
        let request = self.http.post(self.endpoints.token.clone()).form(&fields);
        let response = self.send(what, request).await?;
        match response.status() {
            s if s.is_success() => Ok(Ok(Self::json(what, response).await?)),
            s @ (StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED) => {
                Ok(Err(Self::oauth_error(what, s, response).await?))
            }
            s => Err(unavailable(KeycloakError::Status(what, s))),
        }
    }

    /// The OAuth error a 400 or 401 carries; one that carries none (a proxy's page, say) is
    /// not Keycloak answering.
    async fn oauth_error(
        what: &'static str,
        status: StatusCode,
        response: Response,
    ) -> Result<OAuthError, IdentityError> {
        let bytes = response.bytes().await.map_err(|e| unreachable(what, e))?;
        serde_json::from_slice(&bytes).map_err(|_| unavailable(KeycloakError::Status(what, status)))
    }
}

#[async_trait]
impl IdentityProvider for KeycloakIdentityProvider {
    #[tracing::instrument(name = "identity.keycloak.register", skip_all)]
    async fn register(&self, new: &NewAccount) -> Result<IdentityAccount, IdentityError> {
        let id = self
            .admin
            .create_user(&NewUserRepresentation {
                username: new.username.as_str(),
                email: new.email.as_str(),
                first_name: new.first_name.as_ref().map(PersonName::as_str),
                last_name: new.last_name.as_ref().map(PersonName::as_str),
                enabled: true,
                credentials: [PasswordCredential::new(&new.password)],
            })
            .await?;
        tracing::info!(user_id = %id, "account created in Keycloak");
        Ok(IdentityAccount {
            id,
            email: new.email.clone(),
            username: new.username.clone(),
            first_name: new.first_name.clone(),
            last_name: new.last_name.clone(),
            // The realm's default role; the first sign-in brings the copy up to date with
            // whatever the realm really grants.
            roles: Roles::from([Role::User]),
        })
    }

    #[tracing::instrument(name = "identity.keycloak.delete", skip_all, fields(user_id = %id))]
    async fn delete(&self, id: UserId) -> Result<(), IdentityError> {
        const WHAT: &str = "user removal";
        let response = self
            .admin
            .call(
                WHAT,
                Method::DELETE,
                self.client.endpoints.user(id, &[])?,
                None,
            )
            .await?;
        match response.status() {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            s => Err(unexpected(WHAT, s)),
        }
    }

    #[tracing::instrument(name = "identity.keycloak.login", skip_all)]
    async fn login(
        &self,
        username_or_email: &str,
        password: &Password,
    ) -> Result<SignedIn, IdentityError> {
        const WHAT: &str = "sign-in";
        let form = [
            ("grant_type", "password"),
            ("username", username_or_email),
            ("password", password.expose()),
        ];
        let tokens = match self.client.token(WHAT, &form).await? {
            Ok(tokens) => tokens,
            // Unknown account, wrong password, disabled or locked by brute-force detection:
            // Keycloak answers all alike, and so does the shop.
            Err(e) if e.is_about_the_grant() => return Err(IdentityError::InvalidCredentials),
            Err(e) => return Err(e.client_refused(WHAT)),
        };
        let account = account_from_access_token(&tokens.access_token)?;
        Ok(SignedIn {
            tokens: tokens.into_pair(WHAT)?,
            account,
        })
    }

    #[tracing::instrument(name = "identity.keycloak.refresh", skip_all)]
    async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, IdentityError> {
        const WHAT: &str = "token refresh";
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        match self.client.token(WHAT, &form).await? {
            Ok(tokens) => tokens.into_pair(WHAT),
            Err(e) if e.is_about_the_grant() => Err(IdentityError::InvalidToken),
            Err(e) => Err(e.client_refused(WHAT)),
        }
    }

    #[tracing::instrument(name = "identity.keycloak.logout", skip_all)]
    async fn logout(&self, refresh_token: &str) -> Result<(), IdentityError> {
        const WHAT: &str = "logout";
        let form = [
            ("client_id", self.client.config.client_id.as_str()),
            ("client_secret", self.client.config.client_secret.expose()),
            ("refresh_token", refresh_token),
        ];
        let request = self
            .client
            .http
            .post(self.client.endpoints.logout.clone())
            .form(&form);
        let response = self.client.send(WHAT, request).await?;
        match response.status() {
            s if s.is_success() => Ok(()),
            s @ (StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED) => {
                match Client::oauth_error(WHAT, s, response).await? {
                    // An unknown, spent or expired token: nothing to end (RFC 7009).
                    e if e.is_about_the_grant() => Ok(()),
                    e => Err(e.client_refused(WHAT)),
                }
            }
            s => Err(unavailable(KeycloakError::Status(WHAT, s))),
        }
    }

    #[tracing::instrument(name = "identity.keycloak.ensure_admin", skip_all)]
    async fn ensure_admin(
        &self,
        email: &Email,
        username: &Username,
        password: &Password,
    ) -> Result<IdentityAccount, IdentityError> {
        let id = match self.admin.find_by_email(email).await? {
            Some(existing) => self.admin.reset_password_of(&existing, password).await?,
            None => {
                let created = self
                    .admin
                    .create_user(&NewUserRepresentation {
                        username: username.as_str(),
                        email: email.as_str(),
                        first_name: None,
                        last_name: None,
                        enabled: true,
                        credentials: [PasswordCredential::new(password)],
                    })
                    .await;
                match created {
                    Ok(id) => id,
                    // Another run made it in the meantime (else the username is someone
                    // else's): update that one.
                    Err(IdentityError::Conflict(field)) => {
                        let existing = self
                            .admin
                            .find_by_email(email)
                            .await?
                            .ok_or(IdentityError::Conflict(field))?;
                        self.admin.reset_password_of(&existing, password).await?
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        self.admin.grant_admin(id).await?;
        tracing::info!(user_id = %id, "admin account ready in Keycloak");
        self.admin.load_account(id).await
    }

    #[tracing::instrument(name = "identity.keycloak.jwks", skip_all)]
    async fn jwks(&self) -> Result<String, IdentityError> {
        const WHAT: &str = "signing keys request";
        let response = self
            .client
            .send(
                WHAT,
                self.client.http.get(self.client.endpoints.certs.clone()),
            )
            .await?;
        if !response.status().is_success() {
            return Err(unavailable(KeycloakError::Status(WHAT, response.status())));
        }
        response.text().await.map_err(|e| unreachable(WHAT, e))
    }

    #[tracing::instrument(name = "identity.keycloak.check", skip_all)]
    async fn check(&self) -> Result<(), IdentityError> {
        const WHAT: &str = "readiness probe";
        let request = self
            .client
            .http
            .get(self.client.endpoints.discovery.clone())
            .timeout(CHECK_TIMEOUT);
        let response = self.client.send(WHAT, request).await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(unavailable(KeycloakError::Status(WHAT, response.status())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> KeycloakConfig {
        KeycloakConfig {
            url: KeycloakConfig::parse_url(url).unwrap(),
            realm: "shop".into(),
            client_id: "shop".into(),
            client_secret: Secret::new("s3cret"),
        }
    }

    fn jwt(claims: &serde_json::Value) -> String {
        format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    #[test]
    fn endpoints_sit_under_the_realm_whatever_the_base_path() {
        for base in [
            "http://kc:8080",
            "http://kc:8080/",
            "https://id.example/auth/",
        ] {
            let e = Endpoints::new(&config(base)).unwrap();
            let root = base.trim_end_matches('/');
            assert_eq!(
                e.token.as_str(),
                format!("{root}/realms/shop/protocol/openid-connect/token")
            );
            assert_eq!(
                e.discovery.as_str(),
                format!("{root}/realms/shop/.well-known/openid-configuration")
            );
            assert_eq!(e.users.as_str(), format!("{root}/admin/realms/shop/users"));
            assert_eq!(config(base).issuer(), format!("{root}/realms/shop"));
        }
        // A realm name cannot reach another path.
        let mut odd = config("http://kc:8080");
        odd.realm = "a/../master".into();
        let e = Endpoints::new(&odd).unwrap();
        assert!(
            e.users
                .as_str()
                .contains("/admin/realms/a%2F..%2Fmaster/users")
        );
    }

    #[test]
    fn the_base_url_must_be_plain_http_or_https() {
        for bad in [
            "ftp://kc",
            "kc:8080",
            "http://admin:pw@kc",
            "http://kc/?x=1",
        ] {
            assert!(KeycloakConfig::parse_url(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn debug_output_hides_the_client_secret() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let p = KeycloakIdentityProvider::new(config("http://kc:8080")).unwrap();
        let text = format!("{p:?}");
        assert!(text.contains("[redacted]"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn an_access_token_becomes_an_account() {
        let id = Uuid::now_v7();
        let token = jwt(&serde_json::json!({
            "sub": id.to_string(),
            "preferred_username": "ann",
            "email": "Ann@Example.com",
            "given_name": "Ann",
            "realm_access": {"roles": ["offline_access", "default-roles-shop", "user", "admin"]},
            // Claims as Keycloak writes them, in shapes the account does not need: `aud` a list.
            "aud": ["shop", "account"],
            "iss": "http://kc:8080/realms/shop",
            "exp": 1_900_000_000,
            "iat": 1_800_000_000,
            "jti": "onrtac:3f1c",
            "typ": "Bearer",
            "azp": "shop",
            "resource_access": {"account": {"roles": ["manage-account"]}},
        }));
        let account = account_from_access_token(&token).unwrap();
        assert_eq!(account.id, UserId::from_uuid(id));
        assert_eq!(account.email.as_str(), "ann@example.com");
        assert_eq!(account.username.as_str(), "ann");
        assert_eq!(account.first_name, PersonName::parse("Ann").unwrap());
        assert_eq!(account.last_name, None);
        assert_eq!(account.roles, [Role::User, Role::Admin]);
    }

    #[test]
    fn an_account_the_shop_cannot_hold_is_refused_not_a_failure() {
        let no_email = jwt(
            &serde_json::json!({"sub": Uuid::now_v7().to_string(), "preferred_username": "ann"}),
        );
        let federated = jwt(
            &serde_json::json!({"sub": "f:ldap:ann", "preferred_username": "ann", "email": "a@b.example"}),
        );
        for token in [no_email, federated] {
            let e = account_from_access_token(&token).unwrap_err();
            assert!(matches!(e, IdentityError::Rejected(_)), "{e:?}");
        }
        let e = account_from_access_token("not-a-jwt").unwrap_err();
        assert!(matches!(e, IdentityError::Other(_)), "{e:?}");
    }

    #[test]
    fn admin_refusals_name_the_shops_fields() {
        let conflict = AdminError::parse(r#"{"errorMessage":"User exists with same email"}"#);
        assert_eq!(conflict.conflict_field(), "email");
        let conflict = AdminError::parse(r#"{"errorMessage":"User exists with same username"}"#);
        assert_eq!(conflict.conflict_field(), "username");

        let policy = AdminError::parse(
            r#"{"error":"invalidPasswordMinLengthMessage","error_description":"Invalid password: minimum length 8."}"#,
        );
        let errors = policy.field_errors();
        assert_eq!(errors[0].field, "password");
        assert!(errors[0].message.contains("minimum length 8"), "{errors:?}");

        let name = AdminError::parse(
            r#"{"field":"firstName","errorMessage":"error-person-name-invalid-character","params":["firstName"]}"#,
        );
        assert_eq!(name.field_errors()[0].field, "first_name");
        let many = AdminError::parse(
            r#"{"errors":[{"field":"lastName","errorMessage":"x"},{"field":"email","errorMessage":"y"}]}"#,
        );
        let fields: Vec<_> = many.field_errors().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["last_name", "email"]);
        assert_eq!(AdminError::parse("<html>").field_errors()[0].field, "body");
    }
}
