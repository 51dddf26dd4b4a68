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
///
/// A client is made once per receiver host, addresses and timeout, and kept: building one
/// (its TLS configuration above all) costs far more than a request, and a kept client reuses
/// its connections to the receiver. The addresses are part of the key, so a client only ever
/// connects where the check before the attempt allowed. At most [`MAX_CLIENTS`] are kept; past
/// that the set starts over.
#[derive(Debug, Default)]
pub struct HttpSender {
    clients: std::sync::Mutex<std::collections::HashMap<ClientKey, reqwest::Client>>,
}

/// Most clients [`HttpSender`] keeps at once.
pub const MAX_CLIENTS: usize = 256;

/// What a client is made for: the host name it resolves to `addresses` (none for an address
/// host), and its timeout.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    name: Option<String>,
    addresses: Vec<SocketAddr>,
    timeout: Duration,
}

impl HttpSender {
    /// The kept client for `key`, or a new one (kept from now on).
    fn client(&self, key: ClientKey) -> Result<reqwest::Client, String> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(key.timeout)
            .connect_timeout(key.timeout);
        if let Some(name) = &key.name {
            builder = builder.resolve_to_addrs(name, &key.addresses);
        }
        let client = builder
            .build()
            .map_err(|e| format!("no HTTP client: {e}"))?;
        if clients.len() >= MAX_CLIENTS {
            clients.clear();
        }
        clients.insert(key, client.clone());
        Ok(client)
    }
}

#[async_trait]
impl WebhookSender for HttpSender {
    async fn send(
        &self,
        url: &url::Url,
        addresses: &[IpAddr],
        request: &SignedRequest,
        timeout: Duration,
    ) -> SendResult {
        // reqwest is built without a crypto provider of its own and would panic without one.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            return SendResult::Failed("no TLS crypto provider is installed".into());
        }
        let key = match url.host() {
            Some(url::Host::Domain(name)) => {
                let port = url.port_or_known_default().unwrap_or(443);
                let mut addresses: Vec<SocketAddr> = addresses
                    .iter()
                    .map(|ip| SocketAddr::new(*ip, port))
                    .collect();
                addresses.sort_unstable();
                ClientKey {
                    name: Some(name.to_owned()),
                    addresses,
                    timeout,
                }
            }
            _ => ClientKey {
                name: None,
                addresses: Vec::new(),
                timeout,
            },
        };
        let client = match self.client(key) {
            Ok(c) => c,
            Err(e) => return SendResult::Failed(e),
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
            Ok(mut resp) => {
                // The body is read (up to 64 KiB, within the timeout) so that the connection
                // can serve the next attempt; what it says does not matter.
                let mut read = 0;
                while read < 64 * 1024 {
                    match resp.chunk().await {
                        Ok(Some(chunk)) => read += chunk.len(),
                        _ => break,
                    }
                }
                SendResult::Answered(resp.status().as_u16())
            }
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

    fn request() -> SignedRequest {
        SignedRequest {
            id: "i".into(),
            timestamp: 1,
            signature: "v1,x".into(),
            body: "{}".into(),
        }
    }

    #[tokio::test]
    async fn a_client_is_kept_per_host_addresses_and_timeout() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sender = HttpSender::default();
        let kept = || sender.clients.lock().unwrap().len();
        let second = Duration::from_secs(1);
        // Nothing listens on port 1: each attempt fails to connect, after making its client.
        let by_address = url::Url::parse("http://127.0.0.1:1/in").unwrap();
        let by_name = url::Url::parse("http://hooks.example.com:1/in").unwrap();
        let here: [IpAddr; 1] = ["127.0.0.1".parse().unwrap()];
        let there: [IpAddr; 1] = ["127.0.0.2".parse().unwrap()];
        for _ in 0..2 {
            let sent = sender.send(&by_address, &[], &request(), second).await;
            assert_eq!(
                sent,
                SendResult::Failed("the receiver could not be reached".into())
            );
        }
        assert_eq!(kept(), 1);
        sender.send(&by_name, &here, &request(), second).await;
        sender.send(&by_name, &here, &request(), second).await;
        assert_eq!(kept(), 2);
        // Other addresses, or another timeout: another client.
        sender.send(&by_name, &there, &request(), second).await;
        sender.send(&by_name, &here, &request(), second * 2).await;
        assert_eq!(kept(), 4);
    }

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
