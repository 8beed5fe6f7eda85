//! Request URLs: the base URL with the operation's path segments appended
//! (hand-written; codegen makes every generated method call
//! [`Client::request_url`] in place of progenitor's `format!` of the URL).
//!
//! progenitor formats each request's URL as a string, which reqwest then
//! parses in full: the largest single CPU cost of a request. Here the base
//! URL is parsed once (given to [`Inner::with_base_url`]) and each request
//! clones it and appends its segments, percent-encoded with the set
//! progenitor's `encode_path` uses (the URL standard's path-segment set).

use crate::Client;
use crate::hooks::Inner;

impl Client {
    /// The URL of a request: the client's base URL with `segments` appended
    /// as path segments (each percent-encoded as one segment, so an id never
    /// changes the path's shape). Generated code calls it; the error is the
    /// reason a base URL cannot take a path.
    #[doc(hidden)]
    pub fn request_url(&self, segments: &[&str]) -> Result<reqwest::Url, String> {
        let mut url = match self.inner.parsed_base_url(&self.baseurl) {
            Some(base) => base.clone(),
            None => reqwest::Url::parse(&self.baseurl)
                .map_err(|e| format!("invalid base URL {:?}: {e}", self.baseurl))?,
        };
        url.path_segments_mut()
            .map_err(|()| format!("the base URL {:?} cannot take a path", self.baseurl))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }
}

impl Inner {
    /// The parsed base URL given to [`Inner::with_base_url`], if it is the
    /// client's `base_url` (a trailing slash aside).
    fn parsed_base_url(&self, base_url: &str) -> Option<&reqwest::Url> {
        let parsed = self.base_url.as_deref()?;
        (parsed.as_str().trim_end_matches('/') == base_url.trim_end_matches('/')).then_some(parsed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn client(base: &str, parsed: Option<&str>) -> Client {
        let mut inner = Inner::default();
        if let Some(parsed) = parsed {
            inner = inner.with_base_url(Arc::new(reqwest::Url::parse(parsed).unwrap()));
        }
        Client::new_with_client(base, reqwest::Client::new(), inner)
    }

    #[test]
    fn segments_follow_the_base_path() {
        for (base, expected) in [
            (
                "http://127.0.0.1:1",
                "http://127.0.0.1:1/v1/environments/env_1",
            ),
            (
                "http://127.0.0.1:1/",
                "http://127.0.0.1:1/v1/environments/env_1",
            ),
            (
                "https://proxy.test/anthropic",
                "https://proxy.test/anthropic/v1/environments/env_1",
            ),
        ] {
            for parsed in [None, Some(base)] {
                let url = client(base, parsed)
                    .request_url(&["v1", "environments", "env_1"])
                    .unwrap();
                assert_eq!(url.as_str(), expected, "{base} (parsed: {parsed:?})");
            }
        }
    }

    #[test]
    fn a_parsed_base_of_another_url_is_not_used() {
        let url = client("http://127.0.0.1:1", Some("http://127.0.0.1:2"))
            .request_url(&["v1"])
            .unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:1/v1");
    }

    #[test]
    fn a_segment_is_one_segment() {
        let url = client("http://127.0.0.1:1", None)
            .request_url(&["v1", "a/b?c#d e%"])
            .unwrap();
        assert_eq!(url.path(), "/v1/a%2Fb%3Fc%23d%20e%25");
    }

    #[test]
    fn bad_bases_are_errors() {
        assert!(client("not a url", None).request_url(&["v1"]).is_err());
        assert!(
            client("mailto:a@b.test", None)
                .request_url(&["v1"])
                .is_err()
        );
    }

    proptest::proptest! {
        /// For any segment, the URL is the one progenitor's formatted and
        /// parsed URL would be, wherever that one keeps the segment whole
        /// (a `.`/`..` segment or a backslash changes the path of the
        /// parsed string; here they stay one segment).
        #[test]
        fn same_url_as_progenitor_format(segment in "\\PC{1,16}") {
            proptest::prop_assume!(segment != "." && segment != ".." && !segment.contains('\\'));
            let base = "http://127.0.0.1:1/prefix";
            let formatted = format!("{base}/v1/environments/{}", progenitor_client::encode_path(&segment));
            let expected = reqwest::Url::parse(&formatted).unwrap();
            let built = client(base, Some(base))
                .request_url(&["prefix", "v1", "environments", &segment][1..])
                .unwrap();
            proptest::prop_assert_eq!(built, expected);
        }
    }
}
