use std::collections::HashSet;

use crate::error::FieldError;

/// A URL name of a product or category: 1..=100 of `a-z`, `0-9` and `-`, never shaped like a
/// UUID (so a path segment is an id or a slug, never both); unique per kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slug(String);

impl Slug {
    /// Longest slug accepted.
    pub const MAX_LEN: usize = 100;

    /// Checks a slug as a client sent it (taken as sent: no trimming, no lower-casing).
    ///
    /// # Errors
    /// A `FieldError` on `slug` when empty, too long, holding other characters, or shaped
    /// like a UUID.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(FieldError::new("slug", "must be 1 to 100 characters"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(FieldError::new(
                "slug",
                "may hold only lowercase letters a-z, digits and '-'",
            ));
        }
        if looks_like_uuid(s) {
            return Err(FieldError::new("slug", "must not be shaped like a UUID"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The slug made from a name: letters and digits lower-cased (common Latin accents
    /// dropped, `ß` as `ss`), every other run of characters one `-`, none at either end, at
    /// most [`Slug::MAX_LEN`] characters. A name with nothing to keep gives `fallback`
    /// (which must itself be a valid slug), and one shaped like a UUID gets `-1` appended.
    pub fn from_name(name: &str, fallback: &str) -> Self {
        let mut out = String::with_capacity(name.len());
        let mut gap = false;
        for c in name.chars() {
            let folded = fold_letter(c);
            if folded.is_empty() {
                gap = !out.is_empty();
                continue;
            }
            if gap {
                out.push('-');
                gap = false;
            }
            out.push_str(folded);
        }
        out.truncate(Self::MAX_LEN);
        let trimmed = out.trim_end_matches('-').to_owned();
        let base = if trimmed.is_empty() {
            fallback.to_owned()
        } else {
            trimmed
        };
        let slug = Self(base);
        if looks_like_uuid(&slug.0) {
            slug.numbered(1)
        } else {
            slug
        }
    }

    /// This slug with `-n` appended, shortened first where needed to stay within
    /// [`Slug::MAX_LEN`] (`mug` and 2 give `mug-2`).
    #[must_use]
    pub fn numbered(&self, n: u32) -> Self {
        let suffix = format!("-{n}");
        let keep = Self::MAX_LEN - suffix.len();
        let base = self.0[..self.0.len().min(keep)].trim_end_matches('-');
        Self(format!("{base}{suffix}"))
    }

    /// The first of this slug, then `slug-2`, `slug-3`, ... that `taken` does not hold.
    #[must_use]
    pub fn first_free(&self, taken: &HashSet<String>) -> Self {
        if !taken.contains(&self.0) {
            return self.clone();
        }
        (2..)
            .map(|n| self.numbered(n))
            .find(|s| !taken.contains(&s.0))
            .unwrap_or_else(|| self.clone())
    }

    /// The slug text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `8-4-4-4-12` hex digits: what a path segment holding an id looks like.
fn looks_like_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// What a character keeps in a slug: itself lower-cased for ASCII letters and digits, the
/// base letter of a common accented Latin letter, nothing for anything else.
fn fold_letter(c: char) -> &'static str {
    const ASCII: [&str; 36] = [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r",
        "s", "t", "u", "v", "w", "x", "y", "z", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
    ];
    let lower = c.to_ascii_lowercase();
    if lower.is_ascii_lowercase() {
        return ASCII[(lower as u8 - b'a') as usize];
    }
    if c.is_ascii_digit() {
        return ASCII[26 + (c as u8 - b'0') as usize];
    }
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'æ' | 'Æ' => "ae",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' => "y",
        'ß' => "ss",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_slug_is_one_to_a_hundred_lowercase_letters_digits_and_dashes() {
        assert_eq!(Slug::parse("blue-mug-2").unwrap().as_str(), "blue-mug-2");
        assert_eq!(Slug::parse("a").unwrap().as_str(), "a");
        assert_eq!(Slug::parse("-").unwrap().as_str(), "-");
        assert_eq!(Slug::parse(&"a".repeat(100)).unwrap().as_str().len(), 100);
        assert_eq!(
            Slug::parse(&"a".repeat(101)).unwrap_err(),
            FieldError::new("slug", "must be 1 to 100 characters")
        );
        assert_eq!(
            Slug::parse("").unwrap_err().message,
            "must be 1 to 100 characters"
        );
        for bad in ["Blue", "blue mug", "mug!", "müg", "a_b", " a", "a\n"] {
            assert_eq!(
                Slug::parse(bad).unwrap_err(),
                FieldError::new(
                    "slug",
                    "may hold only lowercase letters a-z, digits and '-'"
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_slug_shaped_like_a_uuid_is_refused() {
        let e = Slug::parse("0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d").unwrap_err();
        assert_eq!(e, FieldError::new("slug", "must not be shaped like a UUID"));
        assert!(Slug::parse("0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5").is_ok());
        assert!(Slug::parse("0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5dd").is_ok());
        assert!(Slug::parse("0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5g").is_ok());
        assert!(Slug::parse("0192f0c45b2a7c3e9d416f1e2a3b4c5d").is_ok());
        assert!(Slug::parse("0192f0c4-5b2a-7c3e-9d416-f1e2a3b4c5d").is_ok());
        assert!(looks_like_uuid("00000000-0000-0000-0000-000000000000"));
        assert!(!looks_like_uuid("00000000-0000-0000-0000-00000000000-"));
    }

    #[test]
    fn a_slug_is_made_from_a_name() {
        let slug = |name: &str| Slug::from_name(name, "product").as_str().to_owned();
        assert_eq!(slug("Blue Mug!"), "blue-mug");
        assert_eq!(slug("  Blue   Mug  "), "blue-mug");
        assert_eq!(slug("--Tea & Coffee--"), "tea-coffee");
        assert_eq!(slug("Crème Brûlée Ø 12"), "creme-brulee-o-12");
        assert_eq!(slug("Straße Æble"), "strasse-aeble");
        assert_eq!(slug("ÀÉÎÕÜÇÑÝ"), "aeioucny");
        assert_eq!(slug("R2-D2"), "r2-d2");
        assert_eq!(slug("日本のお茶"), "product");
        assert_eq!(slug("!!!"), "product");
        assert_eq!(Slug::from_name("", "category").as_str(), "category");
        assert_eq!(slug(&"x".repeat(300)), "x".repeat(100));
        // Cut at the limit, a trailing dash goes too.
        let name = format!("{} b", "a".repeat(99));
        assert_eq!(slug(&name), "a".repeat(99));
        assert_eq!(
            slug("0192F0C4-5B2A-7C3E-9D41-6F1E2A3B4C5D"),
            "0192f0c4-5b2a-7c3e-9d41-6f1e2a3b4c5d-1"
        );
    }

    #[test]
    fn a_clash_appends_the_first_free_number() {
        let mug = Slug::parse("mug").unwrap();
        let taken = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(mug.first_free(&taken(&[])).as_str(), "mug");
        assert_eq!(mug.first_free(&taken(&["mug-2"])).as_str(), "mug");
        assert_eq!(mug.first_free(&taken(&["mug"])).as_str(), "mug-2");
        assert_eq!(
            mug.first_free(&taken(&["mug", "mug-2", "mug-3"])).as_str(),
            "mug-4"
        );
        assert_eq!(mug.first_free(&taken(&["mug", "mug-3"])).as_str(), "mug-2");
        assert_eq!(mug.numbered(12).as_str(), "mug-12");
        let long = Slug::parse(&"a".repeat(100)).unwrap();
        assert_eq!(long.numbered(2).as_str(), format!("{}-2", "a".repeat(98)));
        let dashed = Slug::parse(&format!("{}-b", "a".repeat(97))).unwrap();
        assert_eq!(
            dashed.numbered(10).as_str(),
            format!("{}-10", "a".repeat(97))
        );
    }

    proptest! {
        #[test]
        fn a_slug_made_from_any_name_is_valid(name in "\\PC{0,300}") {
            let slug = Slug::from_name(&name, "product");
            prop_assert_eq!(Slug::parse(slug.as_str()), Ok(slug.clone()));
        }

        #[test]
        fn a_numbered_slug_is_valid_and_ends_with_its_number(
            base in "[a-z0-9-]{1,100}", n in 1u32..1_000_000
        ) {
            if let Ok(slug) = Slug::parse(&base) {
                let numbered = slug.numbered(n);
                prop_assert!(Slug::parse(numbered.as_str()).is_ok());
                let suffix = format!("-{n}");
                prop_assert!(numbered.as_str().ends_with(&suffix));
            }
        }

        #[test]
        fn parse_never_panics_and_round_trips(s in "\\PC*") {
            if let Ok(slug) = Slug::parse(&s) {
                prop_assert_eq!(slug.as_str(), s.as_str());
            }
        }
    }
}
