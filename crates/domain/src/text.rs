//! The one rule for a one-line text field (names, address lines, tax labels): what the API's
//! schemas say of them, applied the same way everywhere.

/// Refuses control characters anywhere in `s`, its ends included (a trailing line break or
/// tab is refused, not trimmed away, as the schemas' patterns say), then trims surrounding
/// whitespace. Answers the trimmed text, or `None` when `s` holds a control character. Each
/// field still applies its own length rule, and its own message, to what this answers.
pub(crate) fn one_line(s: &str) -> Option<&str> {
    if s.chars().any(char::is_control) {
        None
    } else {
        Some(s.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn control_characters_are_refused_anywhere_and_spaces_trimmed() {
        assert_eq!(one_line("  Mug "), Some("Mug"));
        assert_eq!(one_line(""), Some(""));
        assert_eq!(one_line("   "), Some(""));
        assert_eq!(one_line("Zoë Ünal"), Some("Zoë Ünal"));
        for bad in [
            "Mug\n", "\tMug", "a\u{0}b", "a\u{1f}", "\u{7f}", "a\u{85}b", "\r\n",
        ] {
            assert_eq!(one_line(bad), None, "{bad:?}");
        }
    }
}
