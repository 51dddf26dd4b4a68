//! What webhook delivery needs from the system: names resolved to addresses, and random
//! signing secrets.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use application::delivery::{SendResult, SignedRequest, WebhookSender};
use application::ports::{HostResolver, SecretMaker};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use domain::webhook::WebhookSecret;

/// How long a name may take to resolve before it counts as not resolving.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes of key in a new secret (Standard Webhooks asks for 24 to 64).
const SECRET_BYTES: usize = 32;

/// Resolves with the system's resolver.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

#[async_trait]
impl HostResolver for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
        match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(addrs)) => Ok(addrs.map(|a| a.ip()).collect()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} s", RESOLVE_TIMEOUT.as_secs())),
        }
    }
}

/// Secrets from the operating system's randomness: `whsec_` and base64 of 32 bytes.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomSecrets;

impl SecretMaker for RandomSecrets {
    fn new_secret(&self) -> Result<WebhookSecret, Box<dyn std::error::Error + Send + Sync>> {
        let mut key = [0u8; SECRET_BYTES];
        getrandom::fill(&mut key).map_err(|e| e.to_string())?;
        Ok(WebhookSecret::new(format!(
            "whsec_{}",
            STANDARD.encode(key)
        )))
    }
}

/// Sends webhook requests with reqwest: no redirects followed, and connections only to the
/// addresses checked just before (so a DNS answer that changed meanwhile cannot turn the
/// request inward).
#[derive(Debug, Default, Clone, Copy)]
pub struct HttpSender;

#[async_trait]
impl WebhookSender for HttpSender {
    async fn send(
        &self,
        url: &url::Url,
        addresses: &[IpAddr],
        request: &SignedRequest,
        timeout: Duration,
    ) -> SendResult {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout);
        if let Some(url::Host::Domain(name)) = url.host() {
            let port = url.port_or_known_default().unwrap_or(443);
            let addrs: Vec<SocketAddr> = addresses
                .iter()
                .map(|ip| SocketAddr::new(*ip, port))
                .collect();
            builder = builder.resolve_to_addrs(name, &addrs);
        }
        // reqwest is built without a crypto provider of its own and would panic without one.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            return SendResult::Failed("no TLS crypto provider is installed".into());
        }
        let client = match builder.build() {
            Ok(c) => c,
            Err(e) => return SendResult::Failed(format!("no HTTP client: {e}")),
        };
        let sent = client
            .post(url.as_str())
            .header("content-type", "application/json")
            .header("user-agent", "shop-webhooks/1")
            .header("webhook-id", &request.id)
            .header("webhook-timestamp", request.timestamp.to_string())
            .header("webhook-signature", &request.signature)
            .body(request.body.clone())
            .send()
            .await;
        match sent {
            Ok(resp) => SendResult::Answered(resp.status().as_u16()),
            Err(e) if e.is_timeout() => {
                SendResult::Failed(format!("no answer within {} s", timeout.as_secs_f64()))
            }
            Err(e) if e.is_connect() => {
                SendResult::Failed("the receiver could not be reached".into())
            }
            Err(_) => SendResult::Failed("the request failed".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_resolve_and_unknown_ones_do_not() {
        let local = SystemResolver.resolve("localhost", 80).await.unwrap();
        assert!(local.iter().all(|ip| ip.is_loopback()), "{local:?}");
        assert!(
            SystemResolver
                .resolve("no-such-host.invalid", 80)
                .await
                .is_err()
        );
    }

    #[test]
    fn secrets_are_whsec_and_32_bytes_of_base64_and_differ() {
        let a = RandomSecrets.new_secret().unwrap();
        let b = RandomSecrets.new_secret().unwrap();
        assert_ne!(a, b);
        let key = a.expose().strip_prefix("whsec_").unwrap();
        assert_eq!(STANDARD.decode(key).unwrap().len(), 32);
    }
}
