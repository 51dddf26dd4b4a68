//! The small values the ports carry: the clock, token pairs and file bodies.

use bytes::Bytes;

use crate::catalog::DEFAULT_MAX_UPLOAD_BYTES;
use crate::ports::{Clock, FileBody, SystemClock, TokenPair};

#[test]
fn the_system_clock_tells_the_time_to_the_microsecond() {
    let before = chrono::Utc::now();
    let now = SystemClock.now();
    let after = chrono::Utc::now();
    assert!(
        before - chrono::TimeDelta::milliseconds(1) <= now && now <= after,
        "{now}"
    );
    assert_eq!(now.timestamp_subsec_nanos() % 1000, 0);
}

#[test]
fn token_pairs_never_print_their_tokens() {
    let pair = TokenPair {
        access_token: "secret-access".into(),
        refresh_token: "secret-refresh".into(),
        expires_in: 300,
        refresh_expires_in: 1800,
    };
    assert_eq!(
        format!("{pair:?}"),
        "TokenPair { access_token: \"[redacted]\", refresh_token: \"[redacted]\", expires_in: 300, refresh_expires_in: 1800 }"
    );
}

#[test]
fn a_file_body_counts_its_bytes_and_keeps_non_empty_chunks_in_order() {
    let mut body = FileBody::default();
    assert!(body.is_empty());
    assert_eq!(body.len(), 0);
    body.push(Bytes::from_static(b"abc"));
    body.push(Bytes::new());
    body.push(Bytes::from_static(b"de"));
    assert!(!body.is_empty());
    assert_eq!(body.len(), 5);
    assert_eq!(
        body.into_chunks(),
        vec![Bytes::from_static(b"abc"), Bytes::from_static(b"de")]
    );
    let one = FileBody::from(b"xyz".to_vec());
    assert_eq!(one.len(), 3);
    assert_eq!(one.into_chunks(), vec![Bytes::from_static(b"xyz")]);
    assert!(FileBody::from(Vec::new()).into_chunks().is_empty());
}

#[test]
fn an_upload_may_be_ten_mebibytes_by_default() {
    assert_eq!(DEFAULT_MAX_UPLOAD_BYTES, 10_485_760);
}
