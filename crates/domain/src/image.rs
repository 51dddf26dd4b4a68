//! Product images: which formats the shop accepts (known by their bytes, never by a name or a
//! header) and what it remembers about each stored file.

use chrono::{DateTime, Utc};

use crate::ids::{ImageId, ProductId};

/// The image formats the shop accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageType {
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// PNG (`89 50 4E 47 0D 0A 1A 0A`).
    Png,
    /// WebP (`RIFF` ....`WEBP`).
    WebP,
    /// GIF (`GIF87a` or `GIF89a`).
    Gif,
}

impl ImageType {
    /// Bytes [`ImageType::sniff`] needs to tell every format apart (WebP's signature is the longest).
    pub const SNIFF_LEN: usize = 12;

    /// The format whose magic number `head` (the first bytes of a file) starts with, if any.
    pub fn sniff(head: &[u8]) -> Option<Self> {
        match head {
            [0xFF, 0xD8, 0xFF, ..] => Some(Self::Jpeg),
            [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(Self::Png),
            [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some(Self::Gif),
            [
                b'R',
                b'I',
                b'F',
                b'F',
                _,
                _,
                _,
                _,
                b'W',
                b'E',
                b'B',
                b'P',
                ..,
            ] => Some(Self::WebP),
            _ => None,
        }
    }

    /// The MIME type it is served with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::WebP => "image/webp",
            Self::Gif => "image/gif",
        }
    }

    /// The format of a MIME type as [`ImageType::content_type`] writes it.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        [Self::Jpeg, Self::Png, Self::WebP, Self::Gif]
            .into_iter()
            .find(|t| t.content_type() == content_type)
    }
}

/// Where a file lives in the file store: the key the shop made for it (never a client's file
/// name), and the store's own id for it where the store has one (Google Drive allows two files
/// of one name in a folder, so only its id names a file for sure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// The shop's key, e.g. `images/<image id>`.
    pub key: String,
    /// The store's id of the file (Drive's file id); `None` for stores addressed by key alone.
    pub file_id: Option<String>,
}

/// An image of a product whose bytes are in the file store. A row for it exists only while the
/// file does: the file is stored before the row is written, and the row removed before the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Identity, time-ordered: images list in the order of their ids (upload order).
    pub id: ImageId,
    /// The product it shows.
    pub product_id: ProductId,
    /// Format, as known from the bytes.
    pub content_type: ImageType,
    /// Length of the file in bytes.
    pub size: u64,
    /// SHA-256 of the bytes, lower-case hex; the file's strong `ETag`.
    pub sha256: String,
    /// Where the bytes are.
    pub file: StoredFile,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn each_format_is_known_by_its_magic_number() {
        assert_eq!(
            ImageType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageType::Jpeg)
        );
        assert_eq!(
            ImageType::sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(ImageType::Png)
        );
        assert_eq!(ImageType::sniff(b"GIF87a.."), Some(ImageType::Gif));
        assert_eq!(ImageType::sniff(b"GIF89a.."), Some(ImageType::Gif));
        assert_eq!(
            ImageType::sniff(b"RIFF\x24\0\0\0WEBPVP8 "),
            Some(ImageType::WebP)
        );
    }

    #[test]
    fn near_misses_and_short_heads_are_not_images() {
        for head in [
            &b""[..],
            b"\xFF\xD8",
            b"\x89PNG\r\n\x1a",
            b"GIF88a",
            b"RIFF\x24\0\0\0WAVE",
            b"RIFF\x24\0\0\0WEB",
            b"<svg xmlns=",
            b"%PDF-1.7",
        ] {
            assert_eq!(ImageType::sniff(head), None, "{head:?}");
        }
    }

    #[test]
    fn content_types_round_trip() {
        for t in [
            ImageType::Jpeg,
            ImageType::Png,
            ImageType::WebP,
            ImageType::Gif,
        ] {
            assert_eq!(ImageType::from_content_type(t.content_type()), Some(t));
        }
        assert_eq!(ImageType::from_content_type("image/svg+xml"), None);
    }

    proptest! {
        #[test]
        fn sniffing_never_panics_and_needs_no_more_than_sniff_len(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let cut = bytes.len().min(ImageType::SNIFF_LEN);
            prop_assert_eq!(ImageType::sniff(&bytes), ImageType::sniff(&bytes[..cut]));
        }
    }

    #[test]
    fn each_format_is_served_with_its_mime_type() {
        assert_eq!(ImageType::Jpeg.content_type(), "image/jpeg");
        assert_eq!(ImageType::Png.content_type(), "image/png");
        assert_eq!(ImageType::WebP.content_type(), "image/webp");
        assert_eq!(ImageType::Gif.content_type(), "image/gif");
        assert_eq!(
            ImageType::from_content_type("image/png"),
            Some(ImageType::Png)
        );
        assert_eq!(ImageType::from_content_type("image/PNG"), None);
        assert_eq!(ImageType::SNIFF_LEN, 12);
    }
}
