//! Keyset cursors: where the next page of a list starts.
//!
//! A cursor names the last item of a page by its sort keys, tie-breaker (the id, or SQLite's
//! `seq`) last, so the next page is `WHERE (keys) after (cursor's keys) ORDER BY keys LIMIT n`:
//! it costs the same at any depth, and items inserted meanwhile neither repeat nor hide the
//! ones a client has not seen yet.
//!
//! On the wire a cursor is opaque: base64url (no padding) of
//! `version (1 byte) | list tag (8 bytes) | keys | check (8 bytes)`. The list tag is a digest
//! of the list's identity (its path and every filter and sort, as the adapter at the edge
//! names them), so a cursor from another list, sort or filter is refused. The check is a
//! digest of everything before it: an edited cursor is refused. It is a checksum, not a
//! secret MAC: a cursor carries only the sort keys of an item the client was already shown,
//! so forging one gains nothing a `page` number does not; the check is there so that a
//! mangled cursor is a clear 422 rather than a silently wrong page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::FieldError;

/// The one format version this build writes and reads.
const VERSION: u8 = 1;
/// Bytes of the list tag and of the check.
const TAG_LEN: usize = 8;
/// Longest cursor text read, refused before it is decoded when longer. The longest a list
/// writes holds a case-folded product name (200 characters, each folding to at most 12 bytes)
/// and a tie-breaker: under 2,500 bytes, 3,340 characters of base64.
pub const MAX_CURSOR_CHARS: usize = 4096;

/// One sort key of a list item, as a cursor carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    /// A whole number (a price in minor units, SQLite's `seq`).
    Int(i64),
    /// A text (a case-folded name).
    Text(String),
    /// A UUID (an id; UUID v7 ids sort by creation time).
    Id(Uuid),
    /// An instant, to the nanosecond, so that it compares equal to what was stored.
    Time(DateTime<Utc>),
}

/// Where a page starts: the sort keys of the last item of the page before, in sort order,
/// the tie-breaker last. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKeys(Vec<KeyPart>);

impl SortKeys {
    /// The position of an item with these keys (the tie-breaker last).
    ///
    /// # Panics
    /// Never in use: a list always has a tie-breaker; `parts` must not be empty.
    pub fn new(parts: Vec<KeyPart>) -> Self {
        assert!(
            !parts.is_empty(),
            "a position needs at least its tie-breaker"
        );
        Self(parts)
    }

    /// The keys, in sort order.
    pub fn parts(&self) -> &[KeyPart] {
        &self.0
    }

    /// The cursor text of this position in `list` (see the module docs for the format).
    pub fn encode(&self, list: &str) -> String {
        let mut bytes = vec![VERSION];
        bytes.extend_from_slice(&list_tag(list));
        for part in &self.0 {
            match part {
                KeyPart::Int(n) => {
                    bytes.push(b'i');
                    bytes.extend_from_slice(&n.to_be_bytes());
                }
                KeyPart::Text(s) => {
                    bytes.push(b't');
                    // Lengths above u32 cannot come from a list's keys; saturate rather
                    // than wrap so such a cursor fails its own decoding, never mis-reads.
                    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
                    bytes.extend_from_slice(&len.to_be_bytes());
                    bytes.extend_from_slice(s.as_bytes());
                }
                KeyPart::Id(u) => {
                    bytes.push(b'u');
                    bytes.extend_from_slice(u.as_bytes());
                }
                KeyPart::Time(t) => {
                    bytes.push(b'd');
                    bytes.extend_from_slice(&t.timestamp().to_be_bytes());
                    bytes.extend_from_slice(&t.timestamp_subsec_nanos().to_be_bytes());
                }
            }
        }
        let check = check_of(&bytes);
        bytes.extend_from_slice(&check);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The position `raw` names, when it is a cursor this service wrote for `list`.
    ///
    /// # Errors
    /// A `FieldError` on `cursor`: "belongs to another list, sort or filter" when it is
    /// intact but written for another list; otherwise (not base64url, cut short, edited, an
    /// unknown version) that it is not a cursor of this service. Never panics on any input.
    pub fn decode(raw: &str, list: &str) -> Result<Self, FieldError> {
        if raw.len() > MAX_CURSOR_CHARS {
            return Err(not_ours());
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| not_ours())?;
        let body_len = bytes.len().checked_sub(TAG_LEN).ok_or_else(not_ours)?;
        let (body, check) = bytes.split_at(body_len);
        if check != check_of(body) {
            return Err(not_ours());
        }
        let (&version, rest) = body.split_first().ok_or_else(not_ours)?;
        if version != VERSION {
            return Err(not_ours());
        }
        let (tag, mut rest) = rest.split_at_checked(TAG_LEN).ok_or_else(not_ours)?;
        if tag != list_tag(list) {
            return Err(FieldError::new(
                "cursor",
                "belongs to another list, sort or filter; use the next_cursor of this list",
            ));
        }
        let mut parts = Vec::new();
        while let Some((&kind, tail)) = rest.split_first() {
            let (part, tail) = read_part(kind, tail).ok_or_else(not_ours)?;
            parts.push(part);
            rest = tail;
        }
        if parts.is_empty() {
            return Err(not_ours());
        }
        Ok(Self(parts))
    }
}

/// One key of kind `kind` from the front of `bytes`, and what follows it.
fn read_part(kind: u8, bytes: &[u8]) -> Option<(KeyPart, &[u8])> {
    match kind {
        b'i' => {
            let (n, rest) = bytes.split_first_chunk::<8>()?;
            Some((KeyPart::Int(i64::from_be_bytes(*n)), rest))
        }
        b't' => {
            let (len, rest) = bytes.split_first_chunk::<4>()?;
            let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
            let (text, rest) = rest.split_at_checked(len)?;
            let text = std::str::from_utf8(text).ok()?;
            Some((KeyPart::Text(text.to_owned()), rest))
        }
        b'u' => {
            let (id, rest) = bytes.split_first_chunk::<16>()?;
            Some((KeyPart::Id(Uuid::from_bytes(*id)), rest))
        }
        b'd' => {
            let (secs, rest) = bytes.split_first_chunk::<8>()?;
            let (nanos, rest) = rest.split_first_chunk::<4>()?;
            let t =
                DateTime::from_timestamp(i64::from_be_bytes(*secs), u32::from_be_bytes(*nanos))?;
            Some((KeyPart::Time(t), rest))
        }
        _ => None,
    }
}

/// The refusal of anything that is not an intact cursor of this service.
fn not_ours() -> FieldError {
    FieldError::new(
        "cursor",
        "is not a cursor this service issued, or was changed; use a next_cursor as given",
    )
}

/// The first bytes of a SHA-256 of `bytes` under a label, so that the tag of a list and the
/// check of a cursor can never stand for each other.
fn digest(label: &[u8], bytes: &[u8]) -> [u8; TAG_LEN] {
    let full = Sha256::new()
        .chain_update(label)
        .chain_update(bytes)
        .finalize();
    let mut out = [0; TAG_LEN];
    out.copy_from_slice(&full[..TAG_LEN]);
    out
}

fn list_tag(list: &str) -> [u8; TAG_LEN] {
    digest(b"shop cursor list\0", list.as_bytes())
}

fn check_of(body: &[u8]) -> [u8; TAG_LEN] {
    digest(b"shop cursor check\0", body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> SortKeys {
        SortKeys::new(vec![
            KeyPart::Int(-42),
            KeyPart::Text("blue mug ☕".into()),
            KeyPart::Time(DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap()),
            KeyPart::Id(Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001)),
        ])
    }

    #[test]
    fn a_cursor_reads_back_as_the_position_it_was_written_from() {
        let p = sample();
        let raw = p.encode("/products?sort=price_asc");
        assert_eq!(
            SortKeys::decode(&raw, "/products?sort=price_asc").unwrap(),
            p
        );
        assert_eq!(p.parts().len(), 4);
        assert!(
            raw.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "url-safe without padding: {raw}"
        );
    }

    #[test]
    fn the_longest_product_name_key_fits() {
        // U+0390 folds to three characters (6 bytes); U+1F52 too (from 3 bytes to 6 bytes).
        let name: String = std::iter::repeat_n('\u{390}', 200).collect();
        let widest = "\u{3b9}\u{308}\u{301}".repeat(200).repeat(2);
        assert!(widest.len() >= name.len() * 3 * 2);
        let keys = SortKeys::new(vec![KeyPart::Text(widest), KeyPart::Int(1)]);
        assert_eq!(SortKeys::decode(&keys.encode("l"), "l").unwrap(), keys);
    }

    #[test]
    fn each_kind_of_key_reads_back_alone() {
        for part in [
            KeyPart::Int(i64::MIN),
            KeyPart::Int(i64::MAX),
            KeyPart::Text(String::new()),
            KeyPart::Id(Uuid::nil()),
            KeyPart::Time(DateTime::from_timestamp(-1, 999_999_999).unwrap()),
        ] {
            let p = SortKeys::new(vec![part]);
            assert_eq!(SortKeys::decode(&p.encode("l"), "l").unwrap(), p);
        }
    }

    #[test]
    fn a_cursor_of_another_list_is_refused_as_such() {
        let raw = sample().encode("/events");
        let e = SortKeys::decode(&raw, "/events?type=order.placed").unwrap_err();
        assert_eq!(e.field, "cursor");
        assert!(e.message.starts_with("belongs to another list"), "{e:?}");
    }

    #[test]
    fn garbage_is_refused_on_cursor_without_panicking() {
        let cases = [
            "",
            "!!!",
            "a",
            "AAAA",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "eyJpZCI6MX0",
            "AA==",
        ];
        for raw in cases {
            let e = SortKeys::decode(raw, "l").unwrap_err();
            assert_eq!(e, not_ours(), "{raw:?}");
        }
        assert_eq!(not_ours().field, "cursor");
    }

    #[test]
    fn a_cursor_too_long_to_be_ours_is_refused_unread() {
        // An intact cursor, just over the limit: refused for its length alone.
        let long = SortKeys::new(vec![KeyPart::Text("x".repeat(3100))]).encode("l");
        assert!(long.len() > MAX_CURSOR_CHARS);
        assert_eq!(SortKeys::decode(&long, "l").unwrap_err(), not_ours());
        // 1 + 8 + 5 + 3050 + 8 = 3072 bytes: exactly the longest text read.
        let exact = SortKeys::new(vec![KeyPart::Text("x".repeat(3050))]);
        let raw = exact.encode("l");
        assert_eq!(raw.len(), MAX_CURSOR_CHARS);
        assert_eq!(SortKeys::decode(&raw, "l").unwrap(), exact);
        let fits = SortKeys::new(vec![KeyPart::Text("x".repeat(1500))]);
        let raw = fits.encode("l");
        assert!(raw.len() <= MAX_CURSOR_CHARS);
        assert_eq!(SortKeys::decode(&raw, "l").unwrap(), fits);
    }

    /// Writes `body` with a valid check, as if this service had written it.
    fn sealed(body: &[u8]) -> String {
        let mut bytes = body.to_vec();
        bytes.extend_from_slice(&check_of(body));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn body(version: u8, list: &str, keys: &[u8]) -> Vec<u8> {
        let mut b = vec![version];
        b.extend_from_slice(&list_tag(list));
        b.extend_from_slice(keys);
        b
    }

    #[test]
    fn an_intact_cursor_must_still_be_well_formed() {
        let mut int = vec![b'i'];
        int.extend_from_slice(&7i64.to_be_bytes());
        assert_eq!(
            SortKeys::decode(&sealed(&body(1, "l", &int)), "l").unwrap(),
            SortKeys::new(vec![KeyPart::Int(7)])
        );
        // Another version.
        assert_eq!(
            SortKeys::decode(&sealed(&body(2, "l", &int)), "l").unwrap_err(),
            not_ours()
        );
        // No keys at all.
        assert_eq!(
            SortKeys::decode(&sealed(&body(1, "l", &[])), "l").unwrap_err(),
            not_ours()
        );
        // Shorter than a list tag.
        assert_eq!(
            SortKeys::decode(&sealed(&[1, 0, 0]), "l").unwrap_err(),
            not_ours()
        );
        assert_eq!(SortKeys::decode(&sealed(&[]), "l").unwrap_err(), not_ours());
        // An unknown kind of key, and each kind cut short.
        for keys in [
            &b"x"[..],
            &b"i\0\0\0"[..],
            &b"t\0\0\0\x05ab"[..],
            &b"t\0\0"[..],
            &b"u\0\0\0\0"[..],
            &b"d\0\0\0\0\0\0\0\0\0\0"[..],
            &b"d\0\0\0"[..],
        ] {
            assert_eq!(
                SortKeys::decode(&sealed(&body(1, "l", keys)), "l").unwrap_err(),
                not_ours(),
                "{keys:?}"
            );
        }
        // Text that is not UTF-8; a time out of chrono's range.
        let bad_text = b"t\0\0\0\x02\xff\xfe";
        assert_eq!(
            SortKeys::decode(&sealed(&body(1, "l", bad_text)), "l").unwrap_err(),
            not_ours()
        );
        let mut bad_time = vec![b'd'];
        bad_time.extend_from_slice(&i64::MAX.to_be_bytes());
        bad_time.extend_from_slice(&0u32.to_be_bytes());
        assert_eq!(
            SortKeys::decode(&sealed(&body(1, "l", &bad_time)), "l").unwrap_err(),
            not_ours()
        );
        let mut bad_nanos = vec![b'd'];
        bad_nanos.extend_from_slice(&0i64.to_be_bytes());
        bad_nanos.extend_from_slice(&2_000_000_000u32.to_be_bytes());
        assert_eq!(
            SortKeys::decode(&sealed(&body(1, "l", &bad_nanos)), "l").unwrap_err(),
            not_ours()
        );
    }

    #[test]
    fn the_list_tag_and_the_check_are_different_digests() {
        assert_ne!(list_tag("x"), check_of(b"x"));
        assert_ne!(list_tag("a"), list_tag("b"));
        assert_eq!(list_tag("a"), list_tag("a"));
    }

    #[test]
    #[should_panic(expected = "tie-breaker")]
    fn a_position_without_keys_cannot_be_made() {
        let _ = SortKeys::new(Vec::new());
    }

    proptest! {
        #[test]
        fn any_single_changed_byte_is_refused(flip in 0usize..1000, bit in 0u8..8) {
            let raw = sample().encode("l");
            let mut bytes = URL_SAFE_NO_PAD.decode(&raw).unwrap();
            let i = flip % bytes.len();
            bytes[i] ^= 1 << bit;
            let edited = URL_SAFE_NO_PAD.encode(&bytes);
            prop_assert_eq!(SortKeys::decode(&edited, "l").unwrap_err(), not_ours());
        }

        #[test]
        fn any_text_decodes_without_panicking(raw in ".{0,300}") {
            let _ = SortKeys::decode(&raw, "l");
        }

        #[test]
        fn any_keys_read_back(n in any::<i64>(), s in ".{0,40}", id in any::<u128>(),
                              secs in -10_000_000_000i64..10_000_000_000, nanos in 0u32..1_000_000_000) {
            let p = SortKeys::new(vec![
                KeyPart::Int(n),
                KeyPart::Text(s),
                KeyPart::Id(Uuid::from_u128(id)),
                KeyPart::Time(DateTime::from_timestamp(secs, nanos).unwrap()),
            ]);
            prop_assert_eq!(SortKeys::decode(&p.encode("l"), "l").unwrap(), p);
        }
    }
}
