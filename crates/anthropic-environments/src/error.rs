//! The one error type of the crate, and its classification.

use std::fmt;

use reqwest::StatusCode;

use crate::types::{BetaWorkLeaseState, ErrorDetails, ErrorType};

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
    Timeout {
        /// The operation (the spec's operationId).
        operation: &'static str,
    },

    /// The request could not be sent or its response not read (connection
    /// refused or reset, DNS, TLS, ...), after any retries.
    #[error("{operation}: connection error: {source}")]
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
    Decode {
        /// The operation (the spec's operationId).
        operation: &'static str,
        /// HTTP status of the response.
        status: StatusCode,
        /// The `request-id` header, if any.
        request_id: Option<String>,
        /// What the decoder said.
        message: String,
        /// The first bytes of the body (at most 200 characters).
        excerpt: String,
    },

    /// An input that can't be valid; caught before any request was sent.
    #[error("invalid {field}: {reason}")]
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
    pub fn lease_state(&self) -> Option<&BetaWorkLeaseState> {
        match &self.details {
            Some(ErrorDetails::HeartbeatPreconditionFailed(d)) => Some(&d.current_state),
            _ => None,
        }
    }
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

    fn has_status(&self, status: StatusCode) -> bool {
        self.status() == Some(status) && matches!(self, Error::Api(_))
    }

    /// 404: no such environment or work item.
    pub fn is_not_found(&self) -> bool {
        self.has_status(StatusCode::NOT_FOUND)
    }

    /// 409: a conflict, e.g. stopping a work item that is already stopped.
    pub fn is_conflict(&self) -> bool {
        self.has_status(StatusCode::CONFLICT)
    }

    /// 412: a precondition failed (a refused heartbeat).
    pub fn is_precondition_failed(&self) -> bool {
        self.has_status(StatusCode::PRECONDITION_FAILED)
    }

    /// A refused heartbeat: the lease is held by someone else (or was
    /// reclaimed). Never stop a work item after this: another worker owns it.
    /// [`ApiError::lease_state`] has the server's view of the lease when the
    /// body carried it.
    pub fn is_lease_held_elsewhere(&self) -> bool {
        self.is_precondition_failed()
    }

    /// 429: rate limited.
    pub fn is_rate_limited(&self) -> bool {
        self.has_status(StatusCode::TOO_MANY_REQUESTS)
    }

    /// 401 or 403: the key is missing, wrong or not allowed.
    pub fn is_auth_error(&self) -> bool {
        self.has_status(StatusCode::UNAUTHORIZED) || self.has_status(StatusCode::FORBIDDEN)
    }

    /// 5xx: the server failed.
    pub fn is_server_error(&self) -> bool {
        matches!(self, Error::Api(e) if e.status.is_server_error())
    }

    /// A timeout of the request.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// Whether trying again later may succeed: connection errors, timeouts,
    /// 408, 409, 429 and 5xx (the statuses the official SDK retries).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Connection { .. } => true,
            Error::Api(e) => crate::retry::status_is_retryable(e.status),
            _ => false,
        }
    }
}

/// At most `max` characters of `bytes`, lossily decoded.
pub(crate) fn excerpt(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}
