//! The request journal: what the mock received and how it answered.

use std::collections::VecDeque;

use axum::http::HeaderMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::credentials::CallerKind;

/// One API request the mock received (control requests under `/_mock/` are
/// not recorded). Credentials are never recorded, only their kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The HTTP method, e.g. `POST`.
    pub method: String,
    /// The path, e.g. `/v1/environments/env_.../work/poll`.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The operation (the spec's operationId) of the method and path, also
    /// when a fault answered; `None` for a path that is no operation.
    pub operation: Option<String>,
    /// The request headers, lower-case names in order; the credentials of
    /// `authorization` and `x-api-key` are `<redacted>` (the scheme stays:
    /// `Bearer <redacted>`).
    pub headers: Vec<(String, String)>,
    /// The request body as text (lossy UTF-8); empty when there was none.
    pub body: String,
    /// Who the credential belongs to.
    pub caller: CallerKind,
    /// The status the mock answered with.
    pub status: u16,
}

impl RecordedRequest {
    /// A header's value (the first, by case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON; `None` when it is empty or not JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The query's `name=value` pairs in the order sent, still encoded.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }
}

/// The headers as the journal keeps them: credentials redacted.
pub(crate) fn redacted_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = if name == "authorization" || name == "x-api-key" {
                // Keep the scheme, which tests check; never the credential.
                match value.to_str().ok().and_then(|v| v.split_once(' ')) {
                    Some((scheme, _)) => format!("{scheme} <redacted>"),
                    None => "<redacted>".to_owned(),
                }
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name.as_str().to_owned(), value)
        })
        .collect()
}

/// A bounded journal: past its capacity the oldest entries go.
#[derive(Debug)]
pub(crate) struct Journal {
    entries: Mutex<VecDeque<RecordedRequest>>,
    capacity: usize,
}

impl Journal {
    pub(crate) fn new(capacity: usize) -> Self {
        Journal {
            entries: Mutex::new(VecDeque::new()),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<RecordedRequest>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether requests are recorded at all (capacity above 0).
    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    pub(crate) fn push(&self, request: RecordedRequest) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() == self.capacity {
            entries.pop_front();
        }
        entries.push_back(request);
    }

    pub(crate) fn entries(&self) -> Vec<RecordedRequest> {
        self.lock().iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }
}
