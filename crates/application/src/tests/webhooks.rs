//! The admin's webhook endpoints: who may manage them, the receiver URL's rules (scheme,
//! credentials, resolution, public addresses) under each policy, the other fields' rules, the
//! secret, changes, removal, and the endpoint's deliveries.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::TimeDelta;
use domain::webhook::{Delivery, DeliveryStatus, Subscriptions, WebhookEndpoint, WebhookSecret};
use domain::{DeliveryId, EventId, EventType, FieldError, PageRequest, Role, WebhookEndpointId};

use super::*;
use crate::testing::{CountingSecrets, MemoryWebhooks, NameTable, actor};
use crate::webhooks::{
    CheckedUrl, CreateEndpointCommand, UpdateEndpointCommand, UrlPolicy, WebhookEndpoints,
    check_url,
};
use crate::{Actor, AppError};

const PUBLIC_V4: &str = "93.184.216.34";
const PUBLIC_V6: &str = "2606:2800:220:1:248:1893:25c8:1946";
const NOT_PUBLIC: &str = "must reach a public address (this one is loopback, private, link-local or otherwise non-public)";
const NOT_RESOLVED: &str = "names a host that does not resolve";
const NOT_HTTPS: &str = "must be an https URL";
const CREDENTIALS: &str = "must not hold a user name or password";

const HTTP_ONLY: UrlPolicy = UrlPolicy {
    allow_http: true,
    allow_private: false,
};
const PRIVATE_ONLY: UrlPolicy = UrlPolicy {
    allow_http: false,
    allow_private: true,
};

fn admin() -> Actor {
    actor(&[Role::Admin])
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// `hooks.example.com` is public, `inward.example.com` is private, `mixed.example.com` is
/// both, `empty.example.com` resolves to nothing, and any other name not at all.
fn names() -> NameTable {
    NameTable::default()
        .with("hooks.example.com", &[PUBLIC_V4, PUBLIC_V6])
        .with("inward.example.com", &["10.0.0.7"])
        .with("mixed.example.com", &[PUBLIC_V4, "127.0.0.1"])
        .with("empty.example.com", &[])
}

async fn check(raw: &str, policy: UrlPolicy) -> Result<CheckedUrl, FieldError> {
    check_url("url", raw, policy, &names()).await
}

/// The message of the refusal of `raw` under `policy`, which must be on `url`.
async fn refusal(raw: &str, policy: UrlPolicy) -> String {
    match check(raw, policy).await {
        Err(e) => {
            assert_eq!(e.field, "url", "{raw}");
            e.message
        }
        Ok(checked) => panic!("{raw} was accepted as {checked:?}"),
    }
}

struct Fixture {
    hooks: Arc<MemoryWebhooks>,
    resolver: Arc<NameTable>,
    secrets: Arc<CountingSecrets>,
    use_case: WebhookEndpoints,
}

fn fixture(policy: UrlPolicy) -> Fixture {
    let hooks = Arc::new(MemoryWebhooks::default());
    let resolver = Arc::new(names());
    let secrets = Arc::new(CountingSecrets::default());
    let use_case = WebhookEndpoints {
        webhooks: hooks.clone(),
        resolver: resolver.clone(),
        secrets: secrets.clone(),
        clock: clock(),
        policy,
    };
    Fixture {
        hooks,
        resolver,
        secrets,
        use_case,
    }
}

fn new_endpoint(url: &str, events: &[&str]) -> CreateEndpointCommand {
    CreateEndpointCommand {
        url: url.into(),
        events: events.iter().map(|&e| e.to_owned()).collect(),
        description: None,
        enabled: None,
    }
}

/// An endpoint stored an hour ago, with its first secret.
fn stored_endpoint(hooks: &MemoryWebhooks) -> WebhookEndpoint {
    let then = now() - TimeDelta::hours(1);
    let endpoint = WebhookEndpoint {
        id: WebhookEndpointId::new(),
        url: "https://hooks.example.com/old".into(),
        events: Subscriptions::Only(vec![EventType::OrderPlaced]),
        description: Some("Fulfilment".into()),
        enabled: true,
        secret: WebhookSecret::new("whsec_old".into()),
        created_at: then,
        updated_at: then,
    };
    hooks.endpoints.lock().unwrap().push(endpoint.clone());
    endpoint
}

fn stored_delivery(
    hooks: &MemoryWebhooks,
    endpoint: WebhookEndpointId,
    status: DeliveryStatus,
) -> Delivery {
    let then = now() - TimeDelta::hours(1);
    let failed = status == DeliveryStatus::Failed;
    let delivery = Delivery {
        id: DeliveryId::new(),
        endpoint_id: endpoint,
        event_id: EventId::new(),
        event_type: EventType::OrderPlaced,
        status,
        attempts: if failed { 6 } else { 1 },
        last_status_code: Some(if failed { 503 } else { 204 }),
        last_error: None,
        next_attempt_at: None,
        created_at: then,
        updated_at: then,
    };
    hooks.deliveries.lock().unwrap().push(delivery.clone());
    delivery
}

fn validation<T: std::fmt::Debug>(result: Result<T, AppError>) -> Vec<(String, String)> {
    match result {
        Err(AppError::Validation(errors)) => {
            errors.into_iter().map(|e| (e.field, e.message)).collect()
        }
        other => panic!("expected validation errors, got {other:?}"),
    }
}

fn refused(field: &str, message: &str) -> Vec<(String, String)> {
    vec![(field.to_owned(), message.to_owned())]
}

fn page(page: u32, per_page: u32) -> PageRequest {
    PageRequest::new(page, per_page).unwrap()
}

// --- check_url ---------------------------------------------------------------------------

#[tokio::test]
async fn a_public_name_is_checked_with_every_address_it_resolved_to() {
    let resolver = names();
    let checked = check_url(
        "url",
        "https://hooks.example.com/in?x=1",
        UrlPolicy::default(),
        &resolver,
    )
    .await
    .unwrap();
    assert_eq!(checked.url.as_str(), "https://hooks.example.com/in?x=1");
    assert_eq!(checked.addresses, [ip(PUBLIC_V4), ip(PUBLIC_V6)]);
    // Looked up once, with the scheme's port or the one written.
    assert_eq!(resolver.lookups(), [("hooks.example.com".to_owned(), 443)]);
    check_url(
        "url",
        "https://hooks.example.com:8443/in",
        UrlPolicy::default(),
        &resolver,
    )
    .await
    .unwrap();
    assert_eq!(
        resolver.lookups()[1],
        ("hooks.example.com".to_owned(), 8443)
    );
}

#[tokio::test]
async fn an_address_written_in_the_url_is_checked_without_a_lookup() {
    let resolver = names();
    for (raw, address) in [
        ("https://93.184.216.34/h", PUBLIC_V4),
        ("https://[2606:2800:220:1:248:1893:25c8:1946]/h", PUBLIC_V6),
    ] {
        let checked = check_url("url", raw, UrlPolicy::default(), &resolver)
            .await
            .unwrap();
        assert_eq!(checked.url.as_str(), raw);
        assert_eq!(checked.addresses, [ip(address)]);
    }
    assert_eq!(resolver.lookups(), []);
}

#[tokio::test]
async fn a_url_is_at_most_2000_characters_as_sent_and_as_it_will_be_called() {
    const TOO_LONG: &str = "must be at most 2000 characters";
    let head = "https://93.184.216.34/";
    let longest = format!("{head}{}", "a".repeat(2000 - head.len()));
    let checked = check(&longest, UrlPolicy::default()).await.unwrap();
    assert_eq!(checked.url.as_str(), longest);
    let too_long = format!("{head}{}", "a".repeat(2001 - head.len()));
    assert_eq!(refusal(&too_long, UrlPolicy::default()).await, TOO_LONG);
    // Sent longer, though it would be called shorter (without the default port).
    let with_port = "https://93.184.216.34:443/";
    let shortened = format!("{with_port}{}", "a".repeat(2001 - with_port.len()));
    assert_eq!(refusal(&shortened, UrlPolicy::default()).await, TOO_LONG);
    // Sent shorter, but longer once percent-encoded: "é" is called as "%C3%A9".
    let fits = format!("{head}{}é", "a".repeat(2000 - head.len() - 6));
    assert_eq!(fits.chars().count(), 1995);
    let checked = check(&fits, UrlPolicy::default()).await.unwrap();
    assert_eq!(checked.url.as_str().len(), 2000);
    let grows = format!("{head}{}é", "a".repeat(2000 - head.len() - 5));
    assert_eq!(grows.chars().count(), 1996);
    assert_eq!(refusal(&grows, UrlPolicy::default()).await, TOO_LONG);
}

#[tokio::test]
async fn a_stored_url_passes_the_check_again() {
    // The delivery runner checks the stored URL again before each attempt: whatever creation
    // accepts must pass, or every delivery to the endpoint would be refused.
    let f = fixture(UrlPolicy::default());
    for raw in [
        "HTTPS://Hooks.Example.COM:443/in",
        "  https://hooks.example.com/a b?q=été#é  ",
        "https://hooks.example.com/./x/../in",
    ] {
        let created = f
            .use_case
            .create(&admin(), new_endpoint(raw, &["*"]))
            .await
            .unwrap();
        let again = check(&created.url, UrlPolicy::default()).await.unwrap();
        assert_eq!(again.url.as_str(), created.url, "{raw}");
    }
    // So one that percent-encoding makes longer than the limit is refused when it is sent.
    let head = "https://hooks.example.com/";
    let grows = format!("{head}{}", "é".repeat(2000 - head.len()));
    assert_eq!(
        validation(
            f.use_case
                .create(&admin(), new_endpoint(&grows, &["*"]))
                .await
        ),
        refused("url", "must be at most 2000 characters")
    );
}

#[tokio::test]
async fn a_url_must_be_absolute() {
    for raw in ["not a url", "/relative", "hooks.example.com/in", ""] {
        assert_eq!(
            refusal(raw, UrlPolicy::default()).await,
            "must be an absolute URL",
            "{raw}"
        );
    }
}

#[tokio::test]
async fn a_url_without_a_host_is_not_absolute_whatever_the_policy() {
    // The URL parser refuses an empty host in an http(s) URL, so none reaches the host rules.
    for policy in [UrlPolicy::default(), HTTP_ONLY, PRIVATE_ONLY] {
        for raw in ["https://", "https://:443/h", "https://@/h", "http://?x"] {
            assert_eq!(
                refusal(raw, policy).await,
                "must be an absolute URL",
                "{raw}"
            );
        }
    }
}

#[tokio::test]
async fn a_url_must_be_https_unless_http_is_allowed() {
    assert_eq!(
        refusal("http://hooks.example.com/in", UrlPolicy::default()).await,
        NOT_HTTPS
    );
    assert_eq!(
        refusal("http://hooks.example.com/in", PRIVATE_ONLY).await,
        NOT_HTTPS
    );
    let checked = check("http://hooks.example.com/in", HTTP_ONLY)
        .await
        .unwrap();
    assert_eq!(checked.url.as_str(), "http://hooks.example.com/in");
    assert_eq!(checked.addresses, [ip(PUBLIC_V4), ip(PUBLIC_V6)]);
    // No other scheme, whatever the policy.
    let everything = UrlPolicy {
        allow_http: true,
        allow_private: true,
    };
    for raw in [
        "ftp://hooks.example.com/in",
        "ws://hooks.example.com/in",
        "file:///etc/passwd",
        "mailto:hooks@example.com",
    ] {
        assert_eq!(refusal(raw, everything).await, NOT_HTTPS, "{raw}");
    }
}

#[tokio::test]
async fn a_url_must_not_hold_a_user_name_or_password() {
    for raw in [
        "https://user@hooks.example.com/in",
        "https://user:pw@hooks.example.com/in",
        "https://:pw@hooks.example.com/in",
        "https://user:pw@93.184.216.34/in",
    ] {
        assert_eq!(
            refusal(raw, UrlPolicy::default()).await,
            CREDENTIALS,
            "{raw}"
        );
        assert_eq!(refusal(raw, PRIVATE_ONLY).await, CREDENTIALS, "{raw}");
    }
}

#[tokio::test]
async fn a_host_that_does_not_resolve_is_refused() {
    for raw in [
        "https://nowhere.example.com/in",
        "https://empty.example.com/in",
    ] {
        assert_eq!(
            refusal(raw, UrlPolicy::default()).await,
            NOT_RESOLVED,
            "{raw}"
        );
    }
}

#[tokio::test]
async fn a_host_that_is_not_public_is_refused() {
    for raw in [
        "https://127.0.0.1/h",
        "https://10.1.2.3/h",
        "https://172.16.0.1/h",
        "https://192.168.0.1/h",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/h",
        "https://0.0.0.0/h",
        // The URL parser reads these as 127.0.0.1.
        "https://2130706433/h",
        "https://0x7f.1/h",
        "https://[::1]/h",
        "https://[fc00::1]/h",
        "https://[fd00::1]/h",
        "https://[fe80::1]/h",
        "https://[::ffff:10.0.0.1]/h",
        "https://[::ffff:127.0.0.1]/h",
        // Names resolving to an inward address, or to one among public ones.
        "https://inward.example.com/h",
        "https://mixed.example.com/h",
    ] {
        assert_eq!(
            refusal(raw, UrlPolicy::default()).await,
            NOT_PUBLIC,
            "{raw}"
        );
        assert_eq!(refusal(raw, HTTP_ONLY).await, NOT_PUBLIC, "{raw}");
    }
}

#[tokio::test]
async fn with_private_networks_allowed_any_address_is_accepted() {
    for (raw, address) in [
        ("https://127.0.0.1/h", "127.0.0.1"),
        ("https://10.1.2.3:8443/h", "10.1.2.3"),
        ("https://[::1]/h", "::1"),
        ("https://[::ffff:10.0.0.1]/h", "::ffff:10.0.0.1"),
    ] {
        let checked = check(raw, PRIVATE_ONLY).await.unwrap();
        assert_eq!(checked.url, url::Url::parse(raw).unwrap());
        assert_eq!(checked.addresses, [ip(address)]);
    }
}

#[tokio::test]
async fn with_private_networks_allowed_a_name_is_not_resolved() {
    let resolver = names();
    for raw in [
        "https://inward.example.com/h",
        "https://nowhere.example.com/h",
        "https://hooks.example.com/h",
    ] {
        let checked = check_url("url", raw, PRIVATE_ONLY, &resolver)
            .await
            .unwrap();
        assert_eq!(
            checked,
            CheckedUrl {
                url: raw.parse().unwrap(),
                addresses: Vec::new(),
            }
        );
    }
    assert_eq!(resolver.lookups(), []);
}

#[tokio::test]
async fn a_refusal_names_the_field_it_was_given() {
    let e = check_url(
        "endpoint.url",
        "https://10.0.0.1/h",
        UrlPolicy::default(),
        &names(),
    )
    .await
    .unwrap_err();
    assert_eq!(e, FieldError::new("endpoint.url", NOT_PUBLIC));
}

// --- who may manage endpoints ------------------------------------------------------------

#[tokio::test]
async fn only_admins_manage_endpoints() {
    let f = fixture(UrlPolicy::default());
    let endpoint = stored_endpoint(&f.hooks);
    let delivery = stored_delivery(&f.hooks, endpoint.id, DeliveryStatus::Failed);
    let hooks = &f.use_case;
    for who in [actor(&[Role::User]), actor(&[])] {
        let forbidden = |r: Result<_, AppError>| matches!(r, Err(AppError::Forbidden));
        let change = UpdateEndpointCommand {
            enabled: Some(false),
            ..UpdateEndpointCommand::default()
        };
        let new = new_endpoint("https://hooks.example.com/in", &["*"]);
        assert_admin_only!(hooks, &who, create: new, id: endpoint.id, update: change);
        assert!(forbidden(
            hooks.rotate_secret(&who, endpoint.id).await.map(drop)
        ));
        assert!(forbidden(
            hooks
                .deliveries(&who, endpoint.id, None, PageRequest::default())
                .await
                .map(drop)
        ));
        assert!(forbidden(hooks.retry(&who, endpoint.id, delivery.id).await));
    }
    // Nothing was made, changed or removed.
    assert_eq!(*f.hooks.endpoints.lock().unwrap(), [endpoint]);
    assert_eq!(*f.hooks.deliveries.lock().unwrap(), [delivery]);
    assert_eq!(f.secrets.made(), 0);
    assert_eq!(f.resolver.lookups(), []);
    // An admin who is also a customer is an admin.
    let both = actor(&[Role::User, Role::Admin]);
    assert_eq!(
        hooks
            .list(&both, PageRequest::default())
            .await
            .unwrap()
            .total,
        1
    );
}

// --- create ------------------------------------------------------------------------------

#[tokio::test]
async fn a_created_endpoint_holds_what_was_sent_and_its_new_secret() {
    let f = fixture(UrlPolicy::default());
    let created = f
        .use_case
        .create(
            &admin(),
            CreateEndpointCommand {
                // Stored as it will be called: scheme and host in lower case, default port left out.
                url: "HTTPS://Hooks.Example.COM:443/in".into(),
                events: vec![
                    "order.placed".into(),
                    "order.paid".into(),
                    "order.placed".into(),
                ],
                description: Some("  Fulfilment \n".into()),
                enabled: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(created.url, "https://hooks.example.com/in");
    assert_eq!(
        created.events,
        Subscriptions::Only(vec![EventType::OrderPlaced, EventType::OrderPaid])
    );
    assert_eq!(created.description.as_deref(), Some("Fulfilment"));
    assert!(created.enabled);
    assert_eq!(created.secret.expose(), "whsec_test1");
    assert_eq!(created.created_at, now());
    assert_eq!(created.updated_at, now());
    assert_eq!(
        *f.hooks.endpoints.lock().unwrap(),
        std::slice::from_ref(&created)
    );
    assert_eq!(f.secrets.made(), 1);
    assert_eq!(
        f.resolver.lookups(),
        [("hooks.example.com".to_owned(), 443)]
    );

    // Another gets its own id and secret; it may start switched off, and hear everything.
    let second = f
        .use_case
        .create(
            &admin(),
            CreateEndpointCommand {
                enabled: Some(false),
                ..new_endpoint("https://93.184.216.34/h", &["order.paid", "*"])
            },
        )
        .await
        .unwrap();
    assert_ne!(second.id, created.id);
    assert_eq!(second.secret.expose(), "whsec_test2");
    assert!(!second.enabled);
    assert_eq!(second.events, Subscriptions::All);
    assert_eq!(second.description, None);
    assert_eq!(second.url, "https://93.184.216.34/h");
}

#[tokio::test]
async fn an_explicit_enabled_true_is_kept() {
    let f = fixture(UrlPolicy::default());
    let created = f
        .use_case
        .create(
            &admin(),
            CreateEndpointCommand {
                enabled: Some(true),
                ..new_endpoint("https://hooks.example.com/in", &["*"])
            },
        )
        .await
        .unwrap();
    assert!(created.enabled);
}

#[tokio::test]
async fn a_blank_description_is_none_and_500_characters_are_the_most() {
    let f = fixture(UrlPolicy::default());
    let with = |description: Option<String>| CreateEndpointCommand {
        description,
        ..new_endpoint("https://hooks.example.com/in", &["*"])
    };
    for blank in ["", "   ", "\t\n"] {
        let created = f
            .use_case
            .create(&admin(), with(Some(blank.into())))
            .await
            .unwrap();
        assert_eq!(created.description, None, "{blank:?}");
    }
    // Counted in characters, after trimming.
    let longest = "é".repeat(500);
    let created = f
        .use_case
        .create(&admin(), with(Some(format!(" {longest} "))))
        .await
        .unwrap();
    assert_eq!(created.description, Some(longest));
    let stored = f.hooks.endpoints.lock().unwrap().len();
    assert_eq!(
        validation(
            f.use_case
                .create(&admin(), with(Some("x".repeat(501))))
                .await
        ),
        refused("description", "must be at most 500 characters")
    );
    assert_eq!(f.hooks.endpoints.lock().unwrap().len(), stored);
}

#[tokio::test]
async fn every_bad_field_of_a_new_endpoint_is_named_and_nothing_is_stored() {
    let f = fixture(UrlPolicy::default());
    let errors = validation(
        f.use_case
            .create(
                &admin(),
                CreateEndpointCommand {
                    description: Some("x".repeat(501)),
                    ..new_endpoint("https://10.0.0.1/h", &[])
                },
            )
            .await,
    );
    assert_eq!(
        errors,
        [
            ("url".to_owned(), NOT_PUBLIC.to_owned()),
            (
                "events".to_owned(),
                "must list 1 to 11 event types or \"*\"".to_owned()
            ),
            (
                "description".to_owned(),
                "must be at most 500 characters".to_owned()
            ),
        ]
    );
    let errors = validation(
        f.use_case
            .create(
                &admin(),
                new_endpoint(
                    "https://hooks.example.com/in",
                    &["order.placed", "order.shipped", ""],
                ),
            )
            .await,
    );
    assert_eq!(
        errors,
        [
            (
                "events[1]".to_owned(),
                "is not a known event type".to_owned()
            ),
            (
                "events[2]".to_owned(),
                "is not a known event type".to_owned()
            ),
        ]
    );
    for (url, message) in [
        ("http://hooks.example.com/in", NOT_HTTPS),
        ("https://user:pw@hooks.example.com/in", CREDENTIALS),
        ("https://nowhere.example.com/in", NOT_RESOLVED),
        ("https://inward.example.com/in", NOT_PUBLIC),
    ] {
        assert_eq!(
            validation(f.use_case.create(&admin(), new_endpoint(url, &["*"])).await),
            refused("url", message),
            "{url}"
        );
    }
    assert!(f.hooks.endpoints.lock().unwrap().is_empty());
    assert_eq!(f.secrets.made(), 0);
}

#[tokio::test]
async fn the_policy_of_the_use_case_decides_http_and_private_addresses() {
    let open = fixture(UrlPolicy {
        allow_http: true,
        allow_private: true,
    });
    let created = open
        .use_case
        .create(
            &admin(),
            new_endpoint("http://receiver.internal:8080/in", &["*"]),
        )
        .await
        .unwrap();
    assert_eq!(created.url, "http://receiver.internal:8080/in");
    assert_eq!(open.resolver.lookups(), []);
    let created = open
        .use_case
        .create(&admin(), new_endpoint("http://127.0.0.1:8080/in", &["*"]))
        .await
        .unwrap();
    assert_eq!(created.url, "http://127.0.0.1:8080/in");
}

#[tokio::test]
async fn without_randomness_no_endpoint_is_made() {
    let mut f = fixture(UrlPolicy::default());
    f.use_case.secrets = Arc::new(CountingSecrets::broken());
    let result = f
        .use_case
        .create(
            &admin(),
            new_endpoint("https://hooks.example.com/in", &["*"]),
        )
        .await;
    assert!(matches!(result, Err(AppError::Internal(_))), "{result:?}");
    assert!(f.hooks.endpoints.lock().unwrap().is_empty());
}

// --- reads -------------------------------------------------------------------------------

#[tokio::test]
async fn endpoints_are_listed_a_page_at_a_time_and_read_one_by_one() {
    let f = fixture(UrlPolicy::default());
    let first = stored_endpoint(&f.hooks);
    let second = stored_endpoint(&f.hooks);
    let third = stored_endpoint(&f.hooks);
    let listed = f.use_case.list(&admin(), page(1, 2)).await.unwrap();
    assert_eq!(listed.total, 3);
    assert_eq!(listed.request, page(1, 2));
    assert_eq!(listed.items, [third.clone(), second.clone()]);
    let listed = f.use_case.list(&admin(), page(2, 2)).await.unwrap();
    assert_eq!(listed.items, [first]);
    assert_eq!(f.use_case.get(&admin(), second.id).await.unwrap(), second);
    assert!(matches!(
        f.use_case.get(&admin(), WebhookEndpointId::new()).await,
        Err(AppError::NotFound)
    ));
}

// --- update ------------------------------------------------------------------------------

#[tokio::test]
async fn an_update_changes_only_the_fields_sent() {
    let f = fixture(UrlPolicy::default());
    let before = stored_endpoint(&f.hooks);
    // Nothing sent: only the time of the change moves.
    let same = f
        .use_case
        .update(&admin(), before.id, UpdateEndpointCommand::default())
        .await
        .unwrap();
    assert_eq!(
        same,
        WebhookEndpoint {
            updated_at: now(),
            ..before.clone()
        }
    );
    assert_eq!(f.hooks.stored(before.id), Some(same));
    assert_eq!(f.resolver.lookups(), []);

    let changed = f
        .use_case
        .update(
            &admin(),
            before.id,
            UpdateEndpointCommand {
                url: Some("https://Hooks.Example.com/new".into()),
                events: Some(vec!["*".into()]),
                description: Some(Some(" Billing ".into())),
                enabled: Some(false),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        changed,
        WebhookEndpoint {
            url: "https://hooks.example.com/new".into(),
            events: Subscriptions::All,
            description: Some("Billing".into()),
            enabled: false,
            updated_at: now(),
            ..before.clone()
        }
    );
    assert_eq!(f.hooks.stored(before.id), Some(changed.clone()));
    // The URL was checked again; the secret is the one it had.
    assert_eq!(
        f.resolver.lookups(),
        [("hooks.example.com".to_owned(), 443)]
    );
    assert_eq!(changed.secret.expose(), "whsec_old");
    assert_eq!(f.secrets.made(), 0);

    let enabled = f
        .use_case
        .update(
            &admin(),
            before.id,
            UpdateEndpointCommand {
                enabled: Some(true),
                ..UpdateEndpointCommand::default()
            },
        )
        .await
        .unwrap();
    assert!(enabled.enabled);
    assert_eq!(enabled.description.as_deref(), Some("Billing"));
}

#[tokio::test]
async fn an_update_clears_the_description_when_it_is_null_or_blank() {
    let f = fixture(UrlPolicy::default());
    for cleared in [None, Some("  ".to_owned())] {
        let endpoint = stored_endpoint(&f.hooks);
        let changed = f
            .use_case
            .update(
                &admin(),
                endpoint.id,
                UpdateEndpointCommand {
                    description: Some(cleared.clone()),
                    ..UpdateEndpointCommand::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(changed.description, None, "{cleared:?}");
        assert_eq!(f.hooks.stored(endpoint.id).unwrap().description, None);
    }
}

#[tokio::test]
async fn an_update_is_held_to_the_rules_of_creation_and_changes_nothing_when_refused() {
    let f = fixture(UrlPolicy::default());
    let before = stored_endpoint(&f.hooks);
    let admin = admin();
    let update = |cmd: UpdateEndpointCommand| f.use_case.update(&admin, before.id, cmd);
    for (url, message) in [
        ("https://[::1]/h", NOT_PUBLIC),
        ("https://inward.example.com/h", NOT_PUBLIC),
        ("http://hooks.example.com/h", NOT_HTTPS),
        ("https://user@hooks.example.com/h", CREDENTIALS),
        ("https://nowhere.example.com/h", NOT_RESOLVED),
        ("nope", "must be an absolute URL"),
    ] {
        let cmd = UpdateEndpointCommand {
            url: Some(url.into()),
            ..UpdateEndpointCommand::default()
        };
        assert_eq!(
            validation(update(cmd).await),
            refused("url", message),
            "{url}"
        );
    }
    let cmd = UpdateEndpointCommand {
        events: Some(vec!["nope".into()]),
        ..UpdateEndpointCommand::default()
    };
    assert_eq!(
        validation(update(cmd).await),
        refused("events[0]", "is not a known event type")
    );
    let cmd = UpdateEndpointCommand {
        description: Some(Some("x".repeat(501))),
        ..UpdateEndpointCommand::default()
    };
    assert_eq!(
        validation(update(cmd).await),
        refused("description", "must be at most 500 characters")
    );
    // Every bad field at once, none of the good ones applied.
    let cmd = UpdateEndpointCommand {
        url: Some("https://10.0.0.1/h".into()),
        events: Some(Vec::new()),
        description: Some(Some("x".repeat(501))),
        enabled: Some(false),
    };
    let fields: Vec<String> = validation(update(cmd).await)
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert_eq!(fields, ["url", "events", "description"]);
    // One bad field among good ones is enough to change nothing.
    let good = || UpdateEndpointCommand {
        url: Some("https://hooks.example.com/new".into()),
        events: Some(vec!["*".into()]),
        description: Some(Some("new".into())),
        enabled: Some(false),
    };
    for (field, cmd) in [
        (
            "url",
            UpdateEndpointCommand {
                url: Some("https://10.0.0.1/h".into()),
                ..good()
            },
        ),
        (
            "events",
            UpdateEndpointCommand {
                events: Some(Vec::new()),
                ..good()
            },
        ),
        (
            "description",
            UpdateEndpointCommand {
                description: Some(Some("x".repeat(501))),
                ..good()
            },
        ),
    ] {
        let errors = validation(update(cmd).await);
        assert_eq!(errors.len(), 1, "{field}");
        assert_eq!(errors[0].0, field);
    }
    assert_eq!(f.hooks.stored(before.id), Some(before));
}

#[tokio::test]
async fn an_update_under_an_open_policy_accepts_what_it_allows() {
    let f = fixture(UrlPolicy {
        allow_http: true,
        allow_private: true,
    });
    let before = stored_endpoint(&f.hooks);
    let changed = f
        .use_case
        .update(
            &admin(),
            before.id,
            UpdateEndpointCommand {
                url: Some("http://10.0.0.7:8080/in".into()),
                ..UpdateEndpointCommand::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.url, "http://10.0.0.7:8080/in");
}

#[tokio::test]
async fn an_unknown_or_vanished_endpoint_is_not_found_for_changes() {
    let f = fixture(UrlPolicy::default());
    let unknown = WebhookEndpointId::new();
    // Not found comes before any check of the fields.
    let bad = UpdateEndpointCommand {
        url: Some("https://10.0.0.1/h".into()),
        ..UpdateEndpointCommand::default()
    };
    assert!(matches!(
        f.use_case.update(&admin(), unknown, bad).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        f.use_case.rotate_secret(&admin(), unknown).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        f.use_case.delete(&admin(), unknown).await,
        Err(AppError::NotFound)
    ));
    assert_eq!(f.secrets.made(), 0);

    // Removed between the read and the write.
    let endpoint = stored_endpoint(&f.hooks);
    f.hooks.lose_updates();
    assert!(matches!(
        f.use_case
            .update(&admin(), endpoint.id, UpdateEndpointCommand::default())
            .await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        f.use_case.rotate_secret(&admin(), endpoint.id).await,
        Err(AppError::NotFound)
    ));
}

// --- secret, removal ---------------------------------------------------------------------

#[tokio::test]
async fn rotation_gives_a_new_secret_and_keeps_the_rest() {
    let f = fixture(UrlPolicy::default());
    let before = stored_endpoint(&f.hooks);
    let rotated = f.use_case.rotate_secret(&admin(), before.id).await.unwrap();
    assert_eq!(
        rotated,
        WebhookEndpoint {
            secret: WebhookSecret::new("whsec_test1".into()),
            updated_at: now(),
            ..before.clone()
        }
    );
    assert_eq!(f.hooks.stored(before.id), Some(rotated));
    let again = f.use_case.rotate_secret(&admin(), before.id).await.unwrap();
    assert_eq!(again.secret.expose(), "whsec_test2");
    assert_eq!(
        f.hooks.stored(before.id).unwrap().secret.expose(),
        "whsec_test2"
    );
}

#[tokio::test]
async fn a_deleted_endpoint_is_gone_with_its_deliveries() {
    let f = fixture(UrlPolicy::default());
    let kept = stored_endpoint(&f.hooks);
    let gone = stored_endpoint(&f.hooks);
    let kept_delivery = stored_delivery(&f.hooks, kept.id, DeliveryStatus::Pending);
    stored_delivery(&f.hooks, gone.id, DeliveryStatus::Pending);
    f.use_case.delete(&admin(), gone.id).await.unwrap();
    assert_eq!(*f.hooks.endpoints.lock().unwrap(), [kept]);
    assert_eq!(*f.hooks.deliveries.lock().unwrap(), [kept_delivery]);
    assert!(matches!(
        f.use_case.delete(&admin(), gone.id).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        f.use_case.get(&admin(), gone.id).await,
        Err(AppError::NotFound)
    ));
}

// --- deliveries --------------------------------------------------------------------------

#[tokio::test]
async fn deliveries_are_the_endpoints_own_filtered_by_status_and_paged() {
    let f = fixture(UrlPolicy::default());
    let endpoint = stored_endpoint(&f.hooks);
    let other = stored_endpoint(&f.hooks);
    let failed = stored_delivery(&f.hooks, endpoint.id, DeliveryStatus::Failed);
    let succeeded = stored_delivery(&f.hooks, endpoint.id, DeliveryStatus::Succeeded);
    stored_delivery(&f.hooks, other.id, DeliveryStatus::Failed);
    let pending = stored_delivery(&f.hooks, endpoint.id, DeliveryStatus::Pending);
    let admin = admin();
    let list = |status, p| f.use_case.deliveries(&admin, endpoint.id, status, p);

    let all = list(None, PageRequest::default()).await.unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(
        all.items,
        [pending.clone(), succeeded.clone(), failed.clone()]
    );
    for (status, only) in [
        (DeliveryStatus::Pending, &pending),
        (DeliveryStatus::Succeeded, &succeeded),
        (DeliveryStatus::Failed, &failed),
    ] {
        let listed = list(Some(status), PageRequest::default()).await.unwrap();
        assert_eq!(listed.items, std::slice::from_ref(only), "{status:?}");
        assert_eq!(listed.total, 1);
    }
    let second = list(None, page(2, 2)).await.unwrap();
    assert_eq!(second.items, [failed]);
    assert_eq!(second.request, page(2, 2));
    assert_eq!(second.total, 3);
}

#[tokio::test]
async fn the_deliveries_of_an_unknown_endpoint_are_not_found() {
    let f = fixture(UrlPolicy::default());
    let endpoint = stored_endpoint(&f.hooks);
    // Deliveries left behind by an endpoint that is gone are not shown.
    let orphan = WebhookEndpointId::new();
    stored_delivery(&f.hooks, orphan, DeliveryStatus::Failed);
    assert!(matches!(
        f.use_case
            .deliveries(&admin(), orphan, None, PageRequest::default())
            .await,
        Err(AppError::NotFound)
    ));
    let none = f
        .use_case
        .deliveries(&admin(), endpoint.id, None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(none.items, []);
    assert_eq!(none.total, 0);
}

#[tokio::test]
async fn a_retried_delivery_is_due_now_whatever_its_status() {
    let f = fixture(UrlPolicy::default());
    let endpoint = stored_endpoint(&f.hooks);
    for status in DeliveryStatus::ALL {
        let delivery = stored_delivery(&f.hooks, endpoint.id, status);
        f.use_case
            .retry(&admin(), endpoint.id, delivery.id)
            .await
            .unwrap();
        assert_eq!(
            f.hooks.delivery(delivery.id),
            Some(Delivery {
                status: DeliveryStatus::Pending,
                next_attempt_at: Some(now()),
                updated_at: now(),
                ..delivery
            }),
            "{status:?}"
        );
    }
}

#[tokio::test]
async fn a_retry_of_an_unknown_delivery_or_another_endpoints_is_not_found() {
    let f = fixture(UrlPolicy::default());
    let endpoint = stored_endpoint(&f.hooks);
    let other = stored_endpoint(&f.hooks);
    let theirs = stored_delivery(&f.hooks, other.id, DeliveryStatus::Failed);
    for (id, delivery) in [
        (endpoint.id, DeliveryId::new()),
        (endpoint.id, theirs.id),
        (WebhookEndpointId::new(), theirs.id),
    ] {
        assert!(matches!(
            f.use_case.retry(&admin(), id, delivery).await,
            Err(AppError::NotFound)
        ));
    }
    assert_eq!(f.hooks.delivery(theirs.id), Some(theirs));
}
