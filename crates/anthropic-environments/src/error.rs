//! The one error type of the crate, and its classification.

use std::fmt;

use reqwest::StatusCode;

use crate::LeaseState;
use crate::types::{ErrorDetails, ErrorType};

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong with a request.
///
/// Classify with the helpers ([`is_not_found`](Error::is_not_found),
/// [`is_retryable`](Error::is_retryable), ...) rather than by matching, so
/// that code keeps working when variants are added.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an error status.
    #[error(transparent)]
    Api(Box<ApiError>),

    /// The request (one attempt, retries exhausted) did not complete within
    /// its timeout.
    #[error("{operation}: the request timed out")]
    #[non_exhaustive]
    Timeout {
        /// The operation (the spec's operationId).
        operation: &'static str,
        /// What timed out, when known (the HTTP client's timeout, or the
        /// wait for a stream to open).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The request could not be sent or its response not read (connection
    /// refused or reset, DNS, TLS, ...), after any retries.
    #[error("{operation}: connection error: {}", causes(source))]
    #[non_exhaustive]
    Connection {
        /// The operation (the spec's operationId).
        operation: &'static str,
        /// The underlying transport error.
        #[source]
        source: reqwest::Error,
    },

    /// A successful response whose body is not what the API documents.
    #[error(
        "{operation}: could not decode the {status} response: {message}; body starts {excerpt:?}"
    )]
    #[non_exhaustive]
    Decode {
        /// The operation (the spec's operationId).
        operation: &'static str,
        /// HTTP status of the response.
        status: StatusCode,
        /// The `request-id` header, if any.
        request_id: Option<String>,
        /// What the decoder said.
        message: String,
        /// The first bytes of the body (at most 200 characters), with the
        /// values of credential fields (`secret`, `*token*`, `*key*`)
        /// replaced by `<redacted>`.
        excerpt: String,
        /// The `id` of the JSON object that failed to decode, when the body
        /// is an object with a string `id` (e.g. the work item a poll handed
        /// out), so that a caller can still act on it.
        object_id: Option<String>,
    },

    /// A stream of server-sent events (a session's events) ended in the
    /// middle of a message: the partial message is dropped, never decoded.
    #[error("{operation}: the stream ended in the middle of an event")]
    #[non_exhaustive]
    StreamCut {
        /// The operation (the spec's operationId).
        operation: &'static str,
    },

    /// A list's server sent a `next_page` cursor it had sent before: the
    /// stream stops instead of looping forever.
    #[error("{operation}: the server repeated the page cursor {cursor:?}; stopping the stream")]
    #[non_exhaustive]
    PaginationLoop {
        /// The operation (the spec's operationId).
        operation: &'static str,
        /// The repeated cursor.
        cursor: String,
    },

    /// An input that can't be valid; caught before any request was sent.
    #[error("invalid {field}: {reason}")]
    #[non_exhaustive]
    InvalidInput {
        /// The input's name, e.g. `environment_id` or `block_ms`.
        field: &'static str,
        /// Why it is invalid.
        reason: String,
    },

    /// The client could not be configured (no API key, a bad header, ...).
    #[error("configuration error: {0}")]
    Config(String),
}

/// An error answer of the API: the status, the error envelope's `type`,
/// `message` and `details`, and the `request-id` header.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// The operation (the spec's operationId).
    pub operation: &'static str,
    /// HTTP status.
    pub status: StatusCode,
    /// The envelope's `error.type`; `None` when the body was not an envelope.
    pub error_type: Option<ErrorType>,
    /// The envelope's `error.message`, or an excerpt of a body that was not
    /// an envelope.
    pub message: String,
    /// The envelope's `error.details`, when present.
    pub details: Option<ErrorDetails>,
    /// The `request-id` response header.
    pub request_id: Option<String>,
    /// How long the server asked the client to wait before trying again
    /// (`retry-after-ms`, or `retry-after` in seconds or as an HTTP date),
    /// when it did.
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    /// The machine-readable `error.details.error_code`, when the error has
    /// one (`heartbeat_precondition_failed`, `environment_archived`, ...,
    /// or a code this version does not know).
    pub fn error_code(&self) -> Option<&str> {
        self.details.as_ref().and_then(ErrorDetails::tag)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.operation, self.status)?;
        if let Some(t) = &self.error_type {
            write!(f, " {t}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request-id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// The lease as the server holds it, from a refused heartbeat's
    /// `details.current_state`.
    pub fn lease_state(&self) -> Option<&LeaseState> {
        match &self.details {
            Some(ErrorDetails::HeartbeatPreconditionFailed(d)) => Some(&d.current_state),
            _ => None,
        }
    }
}

/// An error's message and its causes', joined (`error sending request
/// for url (...): client error (Connect): tcp connect error: Connection
/// refused (os error 111)`): the cause that says what to do is often the
/// last one, which `Display` alone would hide. A cause whose text the
/// previous one already contains is left out.
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        next = cause.source();
    }
    text
}

impl Error {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    /// The API error, when the API answered with an error status.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status of the response behind this error, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The `request-id` of the response behind this error, if there was one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api(e) => e.request_id.as_deref(),
            Error::Decode { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The `error.type` of the API's answer (`invalid_request_error`,
    /// `overloaded_error`, ...).
    pub fn error_type(&self) -> Option<&ErrorType> {
        self.api().and_then(|e| e.error_type.as_ref())
    }

    /// The machine-readable `error.details.error_code`, if any; see
    /// [`ApiError::error_code`].
    pub fn error_code(&self) -> Option<&str> {
        self.api().and_then(ApiError::error_code)
    }

    fn has_status(&self, status: StatusCode) -> bool {
        self.status() == Some(status) && matches!(self, Error::Api(_))
    }

    /// 400: the request is invalid (`invalid_request_error`), e.g. an
    /// archived environment or invalid metadata; see
    /// [`error_code`](Self::error_code).
    pub fn is_bad_request(&self) -> bool {
        self.has_status(StatusCode::BAD_REQUEST)
    }

    /// 401: the credential is missing or not valid.
    pub fn is_authentication_error(&self) -> bool {
        self.has_status(StatusCode::UNAUTHORIZED)
    }

    /// 403: the credential is valid but may not do this (e.g. an API key on
    /// an endpoint that takes the environment key only).
    pub fn is_permission_denied(&self) -> bool {
        self.has_status(StatusCode::FORBIDDEN)
    }

    /// 404: no such environment or work item.
    pub fn is_not_found(&self) -> bool {
        self.has_status(StatusCode::NOT_FOUND)
    }

    /// 413: the request body is too large.
    pub fn is_payload_too_large(&self) -> bool {
        self.has_status(StatusCode::PAYLOAD_TOO_LARGE)
    }

    /// 422: the request is well-formed but cannot be processed.
    pub fn is_unprocessable(&self) -> bool {
        self.has_status(StatusCode::UNPROCESSABLE_ENTITY)
    }

    /// 500: the server failed.
    pub fn is_internal_server_error(&self) -> bool {
        self.has_status(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// 529 (or `overloaded_error`): the API is overloaded; retry later.
    pub fn is_overloaded(&self) -> bool {
        self.status().is_some_and(|s| s.as_u16() == 529)
            || matches!(self.error_type(), Some(ErrorType::OverloadedError))
    }

    /// 409: a conflict, e.g. stopping a work item that is already stopped.
    pub fn is_conflict(&self) -> bool {
        self.has_status(StatusCode::CONFLICT)
    }

    /// A refused heartbeat: the lease is held by someone else (or was
    /// reclaimed). Never stop a work item after this: another worker owns it.
    /// [`ApiError::lease_state`] has the server's view of the lease when the
    /// body carried it.
    pub fn is_lease_held_elsewhere(&self) -> bool {
        self.has_status(StatusCode::PRECONDITION_FAILED)
    }

    /// 429: rate limited.
    pub fn is_rate_limited(&self) -> bool {
        self.has_status(StatusCode::TOO_MANY_REQUESTS)
    }

    /// 5xx: the server failed.
    pub fn is_server_error(&self) -> bool {
        matches!(self, Error::Api(e) if e.status.is_server_error())
    }

    /// How long the server asked to wait before trying again, when it
    /// answered with an error and said ([`ApiError::retry_after`]).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.api().and_then(|api| api.retry_after)
    }

    /// A timeout of the request.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// Whether trying again later may succeed: connection errors, timeouts,
    /// 408, 409, 429 and 5xx (the statuses the official SDK retries), and
    /// an event stream that broke off or carried an `error` event (on its
    /// 200 answer).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Connection { .. } | Error::StreamCut { .. } => true,
            Error::Api(e) => e.status.is_success() || crate::retry::status_is_retryable(e.status),
            _ => false,
        }
    }
}

/// At most `max` characters of `bytes`, lossily decoded, with credential
/// values redacted (see [`redacted`]).
pub(crate) fn excerpt(bytes: &[u8], max: usize) -> String {
    let text = match redacted(bytes) {
        Some(json) => std::borrow::Cow::Owned(json),
        None => String::from_utf8_lossy(bytes),
    };
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

/// The body re-serialised with the values of credential-like fields
/// (`secret`, or a name containing `token` or `key`) replaced by
/// `<redacted>`; `None` when the body is not JSON.
fn redacted(bytes: &[u8]) -> Option<String> {
    fn scrub(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (name, v) in map.iter_mut() {
                    let name = name.to_ascii_lowercase();
                    if name == "secret" || name.contains("token") || name.contains("key") {
                        if !v.is_null() {
                            *v = serde_json::Value::from("<redacted>");
                        }
                    } else {
                        scrub(v);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    scrub(&mut value);
    Some(value.to_string())
}

/// The string `id` of a JSON object body, if it has one.
pub(crate) fn object_id(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct WithId {
        id: String,
    }
    serde_json::from_slice::<WithId>(bytes).ok().map(|w| w.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_never_show_credentials() {
        let body = br#"{"id":"work_1","secret":"c2stYW50LXJlcS1zZWNyZXQ","data":{"sessions_token":"sk-ant-req-x"},"metadata":{"api_key":"sk-ant-api-y"}}"#;
        let text = excerpt(body, 500);
        assert!(!text.contains("c2stYW50"), "{text}");
        assert!(!text.contains("sk-ant"), "{text}");
        assert!(text.contains("work_1"), "{text}");
        assert_eq!(excerpt(b"<html>oops</html>", 4), "<htm…");
        assert_eq!(object_id(body).as_deref(), Some("work_1"));
        assert_eq!(object_id(b"null"), None);
    }
}
