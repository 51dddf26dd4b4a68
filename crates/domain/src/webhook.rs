//! Rules of webhook delivery that need no I/O: which addresses a receiver may have, and when a
//! failed delivery is tried again.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::FieldError;
use crate::event::EventType;
use crate::ids::{DeliveryId, EventId, WebhookEndpointId};

/// Most entries an endpoint's `events` list holds (every type, and `*`).
pub const MAX_SUBSCRIPTIONS: usize = EventType::ALL.len() + 1;
/// Longest endpoint description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// Longest endpoint URL, in characters.
pub const MAX_URL_CHARS: usize = 2_000;

/// What an endpoint hears: every type (`*`) or the ones listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscriptions {
    /// Every event, also of types added later.
    All,
    /// These types, each once, in the order first listed.
    Only(Vec<EventType>),
}

impl Subscriptions {
    /// The list as sent: 1 to [`MAX_SUBSCRIPTIONS`] entries, each `*` or an event type;
    /// repeats count once, and `*` anywhere means all.
    ///
    /// # Errors
    /// A [`FieldError`] on `events` (an empty or too long list) or on `events[i]`.
    pub fn parse(raw: &[String]) -> Result<Self, Vec<FieldError>> {
        if raw.is_empty() || raw.len() > MAX_SUBSCRIPTIONS {
            return Err(vec![FieldError::new(
                "events",
                format!("must list 1 to {MAX_SUBSCRIPTIONS} event types or \"*\""),
            )]);
        }
        let mut all = false;
        let mut types = Vec::new();
        let mut errors = Vec::new();
        for (i, t) in raw.iter().enumerate() {
            if t == "*" {
                all = true;
                continue;
            }
            match EventType::parse_as(&format!("events[{i}]"), t) {
                Ok(t) if !types.contains(&t) => types.push(t),
                Ok(_) => {}
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(if all { Self::All } else { Self::Only(types) })
    }

    /// Whether an event of `t` goes to the endpoint.
    pub fn includes(&self, t: EventType) -> bool {
        match self {
            Self::All => true,
            Self::Only(types) => types.contains(&t),
        }
    }

    /// The list as the API shows it: `["*"]` or the types' names.
    pub fn names(&self) -> Vec<&'static str> {
        match self {
            Self::All => vec!["*"],
            Self::Only(types) => types.iter().map(|t| t.as_str()).collect(),
        }
    }
}

/// An endpoint's signing secret, `whsec_` and base64 of its key; never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Wraps a secret that was made or stored.
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The secret, to show once or to sign with.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

/// A receiver of events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// Id.
    pub id: WebhookEndpointId,
    /// Where events are POSTed.
    pub url: String,
    /// Which events it hears.
    pub events: Subscriptions,
    /// The admin's note.
    pub description: Option<String>,
    /// Whether new events go to it.
    pub enabled: bool,
    /// What its deliveries are signed with.
    pub secret: WebhookSecret,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not yet delivered; tried again at `next_attempt_at`.
    Pending,
    /// The receiver answered 2xx.
    Succeeded,
    /// Every attempt failed.
    Failed,
}

impl DeliveryStatus {
    /// Every status.
    pub const ALL: [DeliveryStatus; 3] = [Self::Pending, Self::Succeeded, Self::Failed];

    /// Its name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// The status named exactly `raw`.
    ///
    /// # Errors
    /// A [`FieldError`] on `field`.
    pub fn parse_as(field: &str, raw: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| FieldError::new(field, "must be pending, succeeded or failed"))
    }
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Id.
    pub id: DeliveryId,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// The event.
    pub event_id: EventId,
    /// The event's type.
    pub event_type: EventType,
    /// Where it is.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// The receiver's status code at the last attempt, if it answered.
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it is tried next (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Created (with its event).
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The delays after the first, second, … failed attempt, by default (`5 s, 1 min, 10 min, 1 h,
/// 6 h, 24 h`); after the last the delivery has failed.
pub const DEFAULT_RETRY_DELAYS: [Duration; 6] = [
    Duration::from_secs(5),
    Duration::from_secs(60),
    Duration::from_secs(600),
    Duration::from_secs(3_600),
    Duration::from_secs(21_600),
    Duration::from_secs(86_400),
];

/// Whether `ip` is an address on the public internet: not loopback, private (10/8, 172.16/12,
/// 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10), shared (100.64/10), unspecified,
/// broadcast, multicast, documentation or otherwise reserved, and not an IPv4-mapped,
/// -compatible or NAT64 (`64:ff9b::/96`) IPv6 form of one of those.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10, carrier-grade NAT.
        || (a == 100 && (b & 0xc0) == 64)
        // 192.0.0.0/24, protocol assignments.
        || (a == 192 && b == 0 && c == 0)
        // 198.18.0.0/15, benchmarking.
        || (a == 198 && (b & 0xfe) == 18)
        // 240.0.0.0/4, reserved.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let first = segments[0];
    // ::a.b.c.d, the deprecated IPv4-compatible form, and 64:ff9b::a.b.c.d, the well-known
    // NAT64 prefix, which a translator forwards to a.b.c.d: judged by that IPv4 address.
    let compatible = segments[..6].iter().all(|s| *s == 0);
    let nat64 = first == 0x0064 && segments[1] == 0xff9b && segments[2..6].iter().all(|s| *s == 0);
    if nat64 || (compatible && !ip.is_unspecified() && !ip.is_loopback()) {
        let [_, _, _, _, _, _, hi, lo] = segments;
        let v4 = Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
        return is_public_v4(v4);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // fc00::/7, unique local.
        || (first & 0xfe00) == 0xfc00
        // fe80::/10, link-local.
        || (first & 0xffc0) == 0xfe80
        // fec0::/10, site-local (deprecated).
        || (first & 0xffc0) == 0xfec0
        // 2001:db8::/32, documentation.
        || (first == 0x2001 && segments[1] == 0x0db8)
        // 64:ff9b:1::/48, local-use translation; 100::/64, discard.
        || (first == 0x0064 && segments[1] == 0xff9b && segments[2] == 1)
        || (first == 0x0100 && segments[1..4].iter().all(|s| *s == 0)))
}

/// When the attempt after `failed_attempts` failed ones is due, counted from the last: the
/// scheduled delay, stretched or shrunk by up to a fifth by `jitter` (`0.0..=1.0`, where 0.5
/// keeps it exactly); `None` once the schedule is spent (the delivery has failed).
pub fn retry_delay(schedule: &[Duration], failed_attempts: u32, jitter: f64) -> Option<Duration> {
    let index = usize::try_from(failed_attempts.checked_sub(1)?).ok()?;
    let base = *schedule.get(index)?;
    let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    Some(base.mul_f64(factor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn subscriptions_are_types_or_everything() {
        let s = Subscriptions::parse(&list(&["order.placed", "product.created", "order.placed"]))
            .unwrap();
        assert_eq!(
            s,
            Subscriptions::Only(vec![EventType::OrderPlaced, EventType::ProductCreated])
        );
        assert_eq!(s.names(), ["order.placed", "product.created"]);
        assert!(s.includes(EventType::OrderPlaced));
        assert!(!s.includes(EventType::OrderCancelled));
        let all = Subscriptions::parse(&list(&["order.placed", "*"])).unwrap();
        assert_eq!(all, Subscriptions::All);
        assert_eq!(all.names(), ["*"]);
        assert!(all.includes(EventType::UserRegistered));
        assert_eq!(MAX_SUBSCRIPTIONS, 11);
        let every: Vec<String> = EventType::ALL
            .iter()
            .map(|t| t.as_str().to_owned())
            .chain(["*".to_owned()])
            .collect();
        assert_eq!(Subscriptions::parse(&every).unwrap(), Subscriptions::All);
    }

    #[test]
    fn bad_subscriptions_name_their_place() {
        let fields = |raw: &[&str]| -> Vec<String> {
            Subscriptions::parse(&list(raw))
                .unwrap_err()
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(fields(&[]), ["events"]);
        assert_eq!(fields(&["*"; 12]), ["events"]);
        assert_eq!(
            fields(&["order.placed", "nope", "", "**"]),
            ["events[1]", "events[2]", "events[3]"]
        );
    }

    #[test]
    fn delivery_statuses_have_their_names() {
        let names: Vec<&str> = DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["pending", "succeeded", "failed"]);
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse_as("status", s.as_str()), Ok(s));
        }
        for bad in ["", "Pending", "done", " failed"] {
            assert_eq!(
                DeliveryStatus::parse_as("status", bad).unwrap_err().field,
                "status"
            );
        }
    }

    #[test]
    fn a_secret_never_prints() {
        let s = WebhookSecret::new("whsec_c2VjcmV0".into());
        assert_eq!(s.expose(), "whsec_c2VjcmV0");
        assert_eq!(format!("{s:?}"), "WebhookSecret([redacted])");
    }

    fn public(s: &str) -> bool {
        is_public_address(s.parse().unwrap())
    }

    #[test]
    fn public_addresses_are_public() {
        for a in [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "239.255.255.255",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:93.184.216.34",
            "::93.184.216.34",
            "64:ff9b::93.184.216.34",
            // Beside the local-use NAT64 prefix 64:ff9b:1::/48, and a third group of 1 elsewhere.
            "64:ff9b:2::1",
            "64:fe9b:1::1",
            "2606:4700:1::1",
            "fbff::1",
            "fe00::1",
            "2001:db9::1",
        ] {
            // 239.x is multicast: not public; the rest are.
            assert_eq!(public(a), a != "239.255.255.255", "{a}");
        }
    }

    #[test]
    fn inward_addresses_are_refused() {
        for a in [
            "127.0.0.1",
            "127.255.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.8",
            "198.18.0.1",
            "198.19.255.255",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "64:ff9b:1::1",
            "100::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::10.0.0.1",
            "::127.0.0.1",
            // Decided by the third octet: 198.51.100.0/24 is for documentation.
            "::198.51.100.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::169.254.169.254",
        ] {
            assert!(!public(a), "{a} was taken for public");
        }
    }

    #[test]
    fn the_default_schedule_is_the_contracts() {
        let secs: Vec<u64> = DEFAULT_RETRY_DELAYS.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [5, 60, 600, 3_600, 21_600, 86_400]);
    }

    #[test]
    fn retries_follow_the_schedule_with_a_fifth_of_jitter_then_stop() {
        let s = &DEFAULT_RETRY_DELAYS;
        assert_eq!(retry_delay(s, 0, 0.5), None);
        assert_eq!(retry_delay(s, 1, 0.5), Some(Duration::from_secs(5)));
        assert_eq!(retry_delay(s, 2, 0.5), Some(Duration::from_secs(60)));
        assert_eq!(retry_delay(s, 6, 0.5), Some(Duration::from_secs(86_400)));
        assert_eq!(retry_delay(s, 7, 0.5), None);
        assert_eq!(retry_delay(s, 1, 0.0), Some(Duration::from_secs(4)));
        assert_eq!(retry_delay(s, 1, 1.0), Some(Duration::from_secs(6)));
        assert_eq!(retry_delay(s, 2, 0.25), Some(Duration::from_secs(54)));
        assert_eq!(retry_delay(s, 2, 0.75), Some(Duration::from_secs(66)));
        // Out-of-range jitter is held to the range.
        assert_eq!(retry_delay(s, 1, -3.0), Some(Duration::from_secs(4)));
        assert_eq!(retry_delay(s, 1, 7.0), Some(Duration::from_secs(6)));
        assert_eq!(retry_delay(&[], 1, 0.5), None);
    }
}
