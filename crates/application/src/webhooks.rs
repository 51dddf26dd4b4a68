//! Webhook endpoints (admin): where events are delivered, with secrets shown once, and their
//! deliveries. A URL must be `https` (or `http` when allowed) and reach only public addresses
//! (unless private networks are allowed), checked here at creation and again at each delivery.

use std::sync::Arc;

use domain::webhook::{
    Delivery, DeliveryStatus, MAX_DESCRIPTION_CHARS, MAX_URL_CHARS, Subscriptions, WebhookEndpoint,
    is_public_address,
};
use domain::{DeliveryId, FieldError, Page, PageRequest, Validator, WebhookEndpointId};

use crate::ports::{Clock, HostResolver, SecretMaker, WebhookRepository};
use crate::{Actor, AppError};

/// Which receiver URLs are accepted (`WEBHOOK_ALLOW_HTTP`, `WEBHOOK_ALLOW_PRIVATE_NETWORKS`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Plain `http` URLs too.
    pub allow_http: bool,
    /// Hosts on loopback, private, link-local and other non-public addresses too.
    pub allow_private: bool,
}

/// A receiver URL that passed [`check_url`], with the addresses its host resolved to when it
/// was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedUrl {
    /// The URL as it will be called.
    pub url: url::Url,
    /// The addresses that were checked: a request goes to these and to no other, so a DNS answer
    /// that changes after the check cannot turn it inward. Empty when the policy allows private
    /// networks and the host is a name (any address is allowed; nothing was resolved).
    pub addresses: Vec<std::net::IpAddr>,
}

/// Whether `raw` is a URL events may be sent to under `policy`, resolving its host now: the
/// URL as it will be called, and the addresses that were checked.
///
/// # Errors
/// A [`FieldError`] on `field` saying which rule it breaks.
pub async fn check_url(
    field: &str,
    raw: &str,
    policy: UrlPolicy,
    resolver: &dyn HostResolver,
) -> Result<CheckedUrl, FieldError> {
    let refuse = |m: &str| FieldError::new(field, m);
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(refuse("must be at most 2000 characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| refuse("must be an absolute URL"))?;
    // The URL is stored and checked again at each delivery as parsed, percent-encoded (`é` is
    // `%C3%A9`): the limit holds for that form too, or every delivery would be refused.
    if url.as_str().len() > MAX_URL_CHARS {
        return Err(refuse("must be at most 2000 characters"));
    }
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        _ => return Err(refuse("must be an https URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("must not hold a user name or password"));
    }
    let port = url
        .port_or_known_default()
        .ok_or_else(|| refuse("must name a port"))?;
    let addresses = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![std::net::IpAddr::V4(ip)],
        Some(url::Host::Ipv6(ip)) => vec![std::net::IpAddr::V6(ip)],
        Some(url::Host::Domain(name)) if !name.is_empty() => {
            if policy.allow_private {
                // Any address is allowed: nothing to learn from resolving it now.
                return Ok(CheckedUrl {
                    url,
                    addresses: Vec::new(),
                });
            }
            resolver
                .resolve(name, port)
                .await
                .map_err(|_| refuse("names a host that does not resolve"))?
        }
        _ => return Err(refuse("must name a host")),
    };
    if addresses.is_empty() {
        return Err(refuse("names a host that does not resolve"));
    }
    if !policy.allow_private && !addresses.iter().copied().all(is_public_address) {
        return Err(refuse(
            "must reach a public address (this one is loopback, private, link-local or otherwise non-public)",
        ));
    }
    Ok(CheckedUrl { url, addresses })
}

fn parse_description(v: &mut Validator, raw: Option<&str>) -> Option<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Some(None),
        Some(d) if d.chars().count() > MAX_DESCRIPTION_CHARS => {
            v.push(FieldError::new(
                "description",
                "must be at most 500 characters",
            ));
            None
        }
        Some(d) => Some(Some(d.to_owned())),
    }
}

fn parse_events(v: &mut Validator, raw: &[String]) -> Option<Subscriptions> {
    match Subscriptions::parse(raw) {
        Ok(s) => Some(s),
        Err(errors) => {
            errors.into_iter().for_each(|e| v.push(e));
            None
        }
    }
}

/// A new endpoint as the admin sent it.
#[derive(Debug, Clone)]
pub struct CreateEndpointCommand {
    /// Where events go.
    pub url: String,
    /// `*` or event types.
    pub events: Vec<String>,
    /// A note.
    pub description: Option<String>,
    /// Whether it receives events now (default yes).
    pub enabled: Option<bool>,
}

/// Changes to an endpoint; absent fields stay.
#[derive(Debug, Clone, Default)]
pub struct UpdateEndpointCommand {
    /// New URL.
    pub url: Option<String>,
    /// New subscriptions.
    pub events: Option<Vec<String>>,
    /// New note; `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// On or off.
    pub enabled: Option<bool>,
}

/// The admin's webhook endpoints: create, read, change, remove, rotate the secret.
pub struct WebhookEndpoints {
    /// Endpoints and deliveries.
    pub webhooks: Arc<dyn WebhookRepository>,
    /// Names to addresses.
    pub resolver: Arc<dyn HostResolver>,
    /// New secrets.
    pub secrets: Arc<dyn SecretMaker>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Which URLs are accepted.
    pub policy: UrlPolicy,
}

impl WebhookEndpoints {
    async fn url(&self, v: &mut Validator, raw: &str) -> Option<String> {
        match check_url("url", raw, self.policy, &*self.resolver).await {
            Ok(checked) => Some(checked.url.to_string()),
            Err(e) => {
                v.push(e);
                None
            }
        }
    }

    async fn existing(&self, id: WebhookEndpointId) -> Result<WebhookEndpoint, AppError> {
        self.webhooks.get(id).await?.ok_or(AppError::NotFound)
    }

    /// Validates and stores a new endpoint with a new secret (the only answer that shows it,
    /// besides rotation).
    ///
    /// # Errors
    /// `Forbidden`, `Validation` naming each bad field.
    #[tracing::instrument(name = "create_webhook_endpoint", skip_all)]
    pub async fn create(
        &self,
        actor: &Actor,
        cmd: CreateEndpointCommand,
    ) -> Result<WebhookEndpoint, AppError> {
        actor.require_admin()?;
        let mut v = Validator::new();
        let url = self.url(&mut v, &cmd.url).await;
        let events = parse_events(&mut v, &cmd.events);
        let description = parse_description(&mut v, cmd.description.as_deref());
        v.finish()?;
        let (Some(url), Some(events), Some(description)) = (url, events, description) else {
            return Err(AppError::invalid("body", "invalid endpoint"));
        };
        let now = self.clock.now();
        let endpoint = WebhookEndpoint {
            id: WebhookEndpointId::new(),
            url,
            events,
            description,
            enabled: cmd.enabled.unwrap_or(true),
            secret: self.secrets.new_secret().map_err(AppError::Internal)?,
            created_at: now,
            updated_at: now,
        };
        self.webhooks.insert(&endpoint).await?;
        Ok(endpoint)
    }

    /// One page of endpoints, newest first.
    ///
    /// # Errors
    /// `Forbidden`.
    #[tracing::instrument(name = "list_webhook_endpoints", skip_all)]
    pub async fn list(
        &self,
        actor: &Actor,
        page: PageRequest,
    ) -> Result<Page<WebhookEndpoint>, AppError> {
        actor.require_admin()?;
        Ok(self.webhooks.list(page).await?)
    }

    /// One endpoint.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    #[tracing::instrument(name = "get_webhook_endpoint", skip_all)]
    pub async fn get(
        &self,
        actor: &Actor,
        id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, AppError> {
        actor.require_admin()?;
        self.existing(id).await
    }

    /// Changes the given fields (the URL checked again).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Validation` naming each bad field.
    #[tracing::instrument(name = "update_webhook_endpoint", skip_all)]
    pub async fn update(
        &self,
        actor: &Actor,
        id: WebhookEndpointId,
        cmd: UpdateEndpointCommand,
    ) -> Result<WebhookEndpoint, AppError> {
        actor.require_admin()?;
        let mut endpoint = self.existing(id).await?;
        let mut v = Validator::new();
        let url = match &cmd.url {
            Some(raw) => self.url(&mut v, raw).await.map(Some),
            None => Some(None),
        };
        let events = match &cmd.events {
            Some(raw) => parse_events(&mut v, raw).map(Some),
            None => Some(None),
        };
        let description = match &cmd.description {
            Some(d) => parse_description(&mut v, d.as_deref()).map(Some),
            None => Some(None),
        };
        v.finish()?;
        let (Some(url), Some(events), Some(description)) = (url, events, description) else {
            return Err(AppError::invalid("body", "invalid endpoint"));
        };
        if let Some(url) = url {
            endpoint.url = url;
        }
        if let Some(events) = events {
            endpoint.events = events;
        }
        if let Some(description) = description {
            endpoint.description = description;
        }
        if let Some(enabled) = cmd.enabled {
            endpoint.enabled = enabled;
        }
        endpoint.updated_at = self.clock.now();
        if !self.webhooks.update(&endpoint).await? {
            return Err(AppError::NotFound);
        }
        Ok(endpoint)
    }

    /// Removes the endpoint; its pending deliveries go with it.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    #[tracing::instrument(name = "delete_webhook_endpoint", skip_all)]
    pub async fn delete(&self, actor: &Actor, id: WebhookEndpointId) -> Result<(), AppError> {
        actor.require_admin()?;
        if self.webhooks.delete(id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    /// Gives the endpoint a new secret, answered (this once); the old one signs nothing more.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    #[tracing::instrument(name = "rotate_webhook_secret", skip_all)]
    pub async fn rotate_secret(
        &self,
        actor: &Actor,
        id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, AppError> {
        actor.require_admin()?;
        let mut endpoint = self.existing(id).await?;
        endpoint.secret = self.secrets.new_secret().map_err(AppError::Internal)?;
        endpoint.updated_at = self.clock.now();
        if !self.webhooks.update(&endpoint).await? {
            return Err(AppError::NotFound);
        }
        Ok(endpoint)
    }

    /// The endpoint's deliveries, newest first.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound` for an unknown endpoint.
    #[tracing::instrument(name = "list_webhook_deliveries", skip_all)]
    pub async fn deliveries(
        &self,
        actor: &Actor,
        id: WebhookEndpointId,
        status: Option<DeliveryStatus>,
        page: PageRequest,
    ) -> Result<Page<Delivery>, AppError> {
        actor.require_admin()?;
        self.existing(id).await?;
        Ok(self.webhooks.deliveries(id, status, page).await?)
    }

    /// Makes a delivery due now (again), whatever its status.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound` for an unknown endpoint or delivery.
    #[tracing::instrument(name = "retry_webhook_delivery", skip_all)]
    pub async fn retry(
        &self,
        actor: &Actor,
        id: WebhookEndpointId,
        delivery: DeliveryId,
    ) -> Result<(), AppError> {
        actor.require_admin()?;
        if self.webhooks.retry(id, delivery, self.clock.now()).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }
}
