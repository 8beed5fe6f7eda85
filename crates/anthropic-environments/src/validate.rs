//! Checks of inputs that can't be valid, made before any request is sent.

use crate::error::{Error, Result};

/// An id used as one URL path segment: non-empty, and nothing that would
/// change the path (`/`, `\`, `?`, `#`, `.`/`..`) or that a server could not
/// have issued (whitespace, control characters).
pub(crate) fn path_id(field: &'static str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if id == "." || id == ".." {
        return Err(Error::invalid(
            field,
            format!("{id:?} would change the URL path"),
        ));
    }
    // Ids are ASCII in practice: bytes are checked faster than chars.
    let offending = if id.is_ascii() {
        id.bytes()
            .find(|b| matches!(b, b'/' | b'\\' | b'?' | b'#' | b'%' | ..=b' ' | 0x7f))
            .map(char::from)
    } else {
        id.chars().find(|c| {
            matches!(c, '/' | '\\' | '?' | '#' | '%') || c.is_whitespace() || c.is_control()
        })
    };
    if let Some(c) = offending {
        return Err(Error::invalid(
            field,
            format!("{id:?} contains {c:?}, which would change the URL path"),
        ));
    }
    Ok(())
}

/// `block_ms` of a poll: 1 to 999 milliseconds.
pub(crate) fn block_ms(value: u64) -> Result<std::num::NonZeroU64> {
    match std::num::NonZeroU64::new(value) {
        Some(v) if value <= 999 => Ok(v),
        _ => Err(Error::invalid(
            "block_ms",
            format!("{value} is outside 1-999 milliseconds"),
        )),
    }
}

/// A positive count (`limit`, `desired_ttl_seconds`, ...), as the API's i64.
pub(crate) fn positive(field: &'static str, value: u64) -> Result<i64> {
    match i64::try_from(value) {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(Error::invalid(
            field,
            format!("{value} must be between 1 and {}", i64::MAX),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(path_id("id", "env_011CZkZ9X2dpNyB7HsEFoRfW").is_ok());
        assert!(path_id("id", "work-1.a_b").is_ok());
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a?b",
            "a#b",
            "a b",
            "a\nb",
            "a%2Fb",
            "a\\b",
            "a\x7fb",
            "a\tb",
            "é/b",
            "é\u{85}",
            "é\u{3000}b",
            "a\u{0}",
        ] {
            let err = path_id("id", bad).unwrap_err();
            assert!(
                matches!(err, Error::InvalidInput { field: "id", .. }),
                "{bad:?}"
            );
        }
    }

    proptest::proptest! {
        /// The byte check of ASCII ids accepts exactly what the char rule
        /// accepts.
        #[test]
        fn ascii_fast_path_agrees_with_the_char_rule(id in "[\\x00-\\x7f]{1,12}|\\PC{1,12}") {
            let by_chars = id != "." && id != ".." && !id.chars().any(|c| {
                matches!(c, '/' | '\\' | '?' | '#' | '%') || c.is_whitespace() || c.is_control()
            });
            proptest::prop_assert_eq!(path_id("id", &id).is_ok(), by_chars);
        }
    }

    #[test]
    fn block_ms_bounds() {
        assert!(block_ms(0).is_err());
        assert_eq!(block_ms(1).unwrap().get(), 1);
        assert_eq!(block_ms(999).unwrap().get(), 999);
        assert!(block_ms(1000).is_err());
    }

    #[test]
    fn positive_bounds() {
        assert!(positive("limit", 0).is_err());
        assert_eq!(positive("limit", 5).unwrap(), 5);
        assert!(positive("limit", u64::MAX).is_err());
    }
}
