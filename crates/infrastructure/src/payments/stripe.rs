//! Stripe over plain HTTPS: form-encoded `POST /v1/payment_intents` and `POST /v1/refunds`,
//! each with an `Idempotency-Key`, its error bodies mapped to [`PaymentError`]; and its
//! webhook signature scheme (`Stripe-Signature: t=…,v1=…`, HMAC-SHA256 over `{t}.{body}`).

use std::time::Duration;

use application::payments::{
    IntentRequest, PaymentError, PaymentIntent, PaymentProvider, PaymentWebhooks, ProviderEvent,
    WebhookRejected,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Money, OrderId, PaymentReceived};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::Secret;

/// Stripe's API, unless `STRIPE_API_BASE` says otherwise.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

/// The oldest a webhook's signature timestamp may be (and the furthest ahead).
const TOLERANCE_SECONDS: i64 = 300;

/// How the shop talks to Stripe. `Debug` shows no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeConfig {
    /// `STRIPE_SECRET_KEY`.
    pub secret_key: Secret,
    /// `STRIPE_WEBHOOK_SECRET`: the signing secret of the webhook endpoint.
    pub webhook_secret: Secret,
    /// `STRIPE_API_BASE`: where the API is (a local stripe-mock in the tests).
    pub api_base: String,
}

/// [`PaymentProvider`] over Stripe's API.
pub struct StripePayments {
    http: reqwest::Client,
    secret_key: Secret,
    api_base: String,
}

impl StripePayments {
    /// A client of Stripe as `config` says.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (no TLS provider).
    pub fn new(config: &StripeConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            http,
            secret_key: config.secret_key.clone(),
            api_base: config.api_base.trim_end_matches('/').to_owned(),
        })
    }

    /// Posts `form` to `path` with `key`, and reads the answer as `T` or Stripe's error.
    async fn post<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        form: &[(&str, String)],
        key: &str,
    ) -> Result<T, PaymentError> {
        let response = self
            .http
            .post(format!("{}{path}", self.api_base))
            .bearer_auth(self.secret_key.expose())
            .header("Idempotency-Key", key)
            .form(form)
            .send()
            .await
            .map_err(|e| PaymentError::Unavailable(format!("cannot reach Stripe: {e}")))?;
        read(response).await
    }
}

/// Stripe's answer as `T`, or its error mapped.
async fn read<T: for<'de> Deserialize<'de>>(
    response: reqwest::Response,
) -> Result<T, PaymentError> {
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| PaymentError::Unavailable(format!("Stripe's answer broke off: {e}")))?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| {
            PaymentError::Unavailable(format!("Stripe answered what is not an object: {e}"))
        });
    }
    Err(error_of(status.as_u16(), &body))
}

#[derive(Deserialize)]
struct StripeErrorBody {
    error: StripeError,
}

#[derive(Deserialize)]
struct StripeError {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
    code: Option<String>,
}

/// Stripe's error body mapped: a card error is a refusal (409), a request error invalid (422),
/// both with Stripe's reason; 5xx, 429, and our own key refused are an outage (503).
fn error_of(status: u16, body: &[u8]) -> PaymentError {
    let parsed = serde_json::from_slice::<StripeErrorBody>(body).ok();
    let reason = parsed
        .as_ref()
        .and_then(|b| b.error.message.clone().or_else(|| b.error.code.clone()))
        .unwrap_or_else(|| format!("HTTP {status}"));
    if status >= 500 || status == 429 || status == 401 || status == 403 {
        return PaymentError::Unavailable(format!("Stripe answered {status}: {reason}"));
    }
    match parsed.as_ref().and_then(|b| b.error.kind.as_deref()) {
        Some("card_error") => PaymentError::Refused(reason),
        Some("idempotency_error") => PaymentError::Refused(reason),
        Some("invalid_request_error") => PaymentError::Invalid(reason),
        _ => PaymentError::Unavailable(format!("Stripe answered {status}: {reason}")),
    }
}

#[derive(Deserialize)]
struct IntentBody {
    id: String,
    client_secret: Option<String>,
}

#[derive(Deserialize)]
struct RefundBody {
    #[allow(dead_code)]
    id: String,
}

#[async_trait]
impl PaymentProvider for StripePayments {
    fn name(&self) -> &'static str {
        "stripe"
    }

    #[tracing::instrument(name = "stripe.create_intent", skip_all, fields(order_id = %request.order_id))]
    async fn create_intent(&self, request: &IntentRequest) -> Result<PaymentIntent, PaymentError> {
        let form = [
            ("amount", request.amount.minor().to_string()),
            (
                "currency",
                request.amount.currency().code().to_ascii_lowercase(),
            ),
            ("metadata[order_id]", request.order_id.to_string()),
            ("automatic_payment_methods[enabled]", "true".to_owned()),
        ];
        let intent: IntentBody = self
            .post("/v1/payment_intents", &form, &request.idempotency_key)
            .await?;
        Ok(PaymentIntent {
            id: intent.id,
            client_secret: intent.client_secret,
        })
    }

    #[tracing::instrument(name = "stripe.retrieve_intent", skip_all)]
    async fn retrieve_intent(&self, id: &str) -> Result<PaymentIntent, PaymentError> {
        // Intent ids are Stripe's own (`pi_` and letters and digits); anything else is not one.
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(PaymentError::Invalid(format!(
                "`{id}` is not a payment intent id"
            )));
        }
        let response = self
            .http
            .get(format!("{}/v1/payment_intents/{id}", self.api_base))
            .bearer_auth(self.secret_key.expose())
            .send()
            .await
            .map_err(|e| PaymentError::Unavailable(format!("cannot reach Stripe: {e}")))?;
        let intent: IntentBody = read(response).await?;
        Ok(PaymentIntent {
            id: intent.id,
            client_secret: intent.client_secret,
        })
    }

    #[tracing::instrument(name = "stripe.refund", skip_all)]
    async fn refund(
        &self,
        intent: Option<&str>,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<(), PaymentError> {
        // No intent: the order was paid outside Stripe (an admin recorded it); nothing to send.
        let Some(intent) = intent else {
            return Ok(());
        };
        let form = [
            ("payment_intent", intent.to_owned()),
            ("amount", amount.minor().to_string()),
        ];
        let _: RefundBody = self.post("/v1/refunds", &form, idempotency_key).await?;
        Ok(())
    }
}

/// Stripe's webhook signature scheme with the endpoint's signing secret.
pub struct StripeWebhooks {
    secret: Secret,
}

impl StripeWebhooks {
    /// Checks webhooks signed with `config`'s webhook secret.
    pub fn new(config: &StripeConfig) -> Self {
        Self {
            secret: config.webhook_secret.clone(),
        }
    }

    /// `Stripe-Signature` for `body` at `t` with `secret`: what Stripe sends (for tests).
    pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
        let mac = mac(secret, t, body);
        format!("t={t},v1={}", to_hex(&mac.finalize().into_bytes()))
    }
}

fn mac(secret: &str, t: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[derive(Deserialize)]
struct EventBody {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: serde_json::Value,
}

#[derive(Deserialize)]
struct IntentObject {
    id: String,
    amount: i64,
    amount_received: Option<i64>,
    currency: String,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
}

impl PaymentWebhooks for StripeWebhooks {
    fn verify(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<ProviderEvent, WebhookRejected> {
        let rejected = |m: &str| WebhookRejected(m.to_owned());
        let header = signature.ok_or_else(|| rejected("Stripe-Signature is missing"))?;
        let mut t = None;
        let mut v1 = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", value)) => t = value.parse::<i64>().ok(),
                Some(("v1", value)) => v1.push(value),
                _ => {}
            }
        }
        let t = t.ok_or_else(|| rejected("Stripe-Signature has no timestamp"))?;
        if (now.timestamp() - t).abs() > TOLERANCE_SECONDS {
            return Err(rejected(
                "Stripe-Signature's timestamp is more than 5 minutes away",
            ));
        }
        let expected = mac(self.secret.expose(), t, body);
        // Every v1 is tried (Stripe sends one per secret while a secret is rolled); each
        // comparison is constant-time.
        let good = v1.iter().any(|sig| {
            from_hex(sig).is_some_and(|bytes| expected.clone().verify_slice(&bytes).is_ok())
        });
        if !good {
            return Err(rejected("Stripe-Signature does not sign this body"));
        }
        let event: EventBody = serde_json::from_slice(body)
            .map_err(|e| WebhookRejected(format!("the body is not a Stripe event: {e}")))?;
        if event.kind != "payment_intent.succeeded" {
            return Ok(ProviderEvent::Ignored(event.kind));
        }
        let intent: IntentObject = serde_json::from_value(event.data.object).map_err(|e| {
            WebhookRejected(format!("the event's object is not a payment intent: {e}"))
        })?;
        let Some(order_id) = intent
            .metadata
            .get("order_id")
            .and_then(|id| id.parse::<uuid::Uuid>().ok())
        else {
            return Ok(ProviderEvent::Ignored(format!(
                "{} of {} without an order",
                event.kind, intent.id
            )));
        };
        Ok(ProviderEvent::PaymentSucceeded(PaymentReceived {
            event_id: event.id,
            intent_id: intent.id,
            order_id: OrderId::from_uuid(order_id),
            amount_minor: intent.amount_received.unwrap_or(intent.amount),
            currency: intent.currency,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";

    fn webhooks() -> StripeWebhooks {
        StripeWebhooks {
            secret: Secret::new(SECRET),
        }
    }

    fn body(order: &str, amount: i64) -> Vec<u8> {
        format!(
            r#"{{"id":"evt_1","type":"payment_intent.succeeded","data":{{"object":{{"id":"pi_1","object":"payment_intent","amount":{amount},"amount_received":{amount},"currency":"eur","metadata":{{"order_id":"{order}"}}}}}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_good_signature_reads_the_payment_and_any_change_or_age_refuses_it() {
        let now = Utc::now();
        let order = uuid::Uuid::now_v7();
        let b = body(&order.to_string(), 500);
        let sig = StripeWebhooks::sign(SECRET, now.timestamp(), &b);
        let event = webhooks().verify(Some(&sig), &b, now).unwrap();
        assert_eq!(
            event,
            ProviderEvent::PaymentSucceeded(PaymentReceived {
                event_id: "evt_1".into(),
                intent_id: "pi_1".into(),
                order_id: OrderId::from_uuid(order),
                amount_minor: 500,
                currency: "eur".into(),
            })
        );
        // Another v1 first (a rolled secret) still passes on the good one.
        let both = format!(
            "t={},v1=00ff,{}",
            now.timestamp(),
            &sig[sig.find("v1").unwrap()..]
        );
        assert!(webhooks().verify(Some(&both), &b, now).is_ok());
        let changed = body(&order.to_string(), 501);
        assert!(webhooks().verify(Some(&sig), &changed, now).is_err());
        let wrong = StripeWebhooks::sign("whsec_other", now.timestamp(), &b);
        assert!(webhooks().verify(Some(&wrong), &b, now).is_err());
        let old = StripeWebhooks::sign(SECRET, now.timestamp() - 301, &b);
        assert!(webhooks().verify(Some(&old), &b, now).is_err());
        for header in [None, Some(""), Some("t=x,v1=zz"), Some("v1=00")] {
            assert!(webhooks().verify(header, &b, now).is_err(), "{header:?}");
        }
    }

    #[test]
    fn other_events_and_intents_without_an_order_are_ignored() {
        let now = Utc::now();
        let b = br#"{"id":"evt_2","type":"charge.succeeded","data":{"object":{}}}"#;
        let sig = StripeWebhooks::sign(SECRET, now.timestamp(), b);
        assert!(matches!(
            webhooks().verify(Some(&sig), b, now),
            Ok(ProviderEvent::Ignored(_))
        ));
        let b = body("not-a-uuid", 500);
        let sig = StripeWebhooks::sign(SECRET, now.timestamp(), &b);
        assert!(matches!(
            webhooks().verify(Some(&sig), &b, now),
            Ok(ProviderEvent::Ignored(_))
        ));
    }

    #[test]
    fn stripe_errors_map_to_refusals_invalid_requests_and_outages() {
        let card = br#"{"error":{"type":"card_error","message":"Your card was declined."}}"#;
        assert_eq!(
            error_of(402, card),
            PaymentError::Refused("Your card was declined.".into())
        );
        let invalid =
            br#"{"error":{"type":"invalid_request_error","message":"Charge already refunded"}}"#;
        assert_eq!(
            error_of(400, invalid),
            PaymentError::Invalid("Charge already refunded".into())
        );
        assert!(matches!(
            error_of(500, b"oops"),
            PaymentError::Unavailable(_)
        ));
        assert!(matches!(error_of(429, b"{}"), PaymentError::Unavailable(_)));
        assert!(matches!(error_of(401, card), PaymentError::Unavailable(_)));
    }

    #[test]
    fn the_config_prints_no_secret() {
        let c = StripeConfig {
            secret_key: Secret::new("sk_test_123"),
            webhook_secret: Secret::new("whsec_456"),
            api_base: DEFAULT_API_BASE.into(),
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("sk_test_123") && !shown.contains("whsec_456"),
            "{shown}"
        );
    }
}
