//! The API's error envelope: why the mock refuses a request
//! ([`Refusal`]) and the `{"type": "error", "error": {...}}` answer each
//! refusal gets. A leaf: every other module may use it, it uses none.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use anthropic_environments_raw::types::BetaWorkLeaseState;

/// Why a request was refused by the rules of the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// 400 `invalid_request_error`.
    Invalid(String),
    /// 404 `not_found_error`.
    NotFound(String),
    /// 409 `conflict_error`.
    Conflict(String),
    /// 412: the heartbeat's expectation does not match the lease.
    LeaseMismatch(BetaWorkLeaseState),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Invalid(m) => write!(f, "invalid request: {m}"),
            Refusal::NotFound(m) => write!(f, "not found: {m}"),
            Refusal::Conflict(m) => write!(f, "conflict: {m}"),
            Refusal::LeaseMismatch(lease) => write!(
                f,
                "heartbeat precondition failed (last_heartbeat {:?})",
                lease.last_heartbeat
            ),
        }
    }
}

impl std::error::Error for Refusal {}

pub(crate) type Outcome<T> = Result<T, Refusal>;

/// A refused request; its response is the API's error envelope.
pub(crate) struct Failure(Box<Refusal>);

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Self {
        Failure(Box::new(r))
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        Response::from(*self.0)
    }
}

pub(crate) fn bad(message: impl Into<String>) -> Failure {
    Refusal::Invalid(message.into()).into()
}

pub(crate) type Api = Result<Response, Failure>;

pub(crate) fn envelope(
    status: StatusCode,
    kind: &str,
    message: impl Into<String>,
    details: Option<Value>,
) -> Response {
    let mut error = json!({"type": kind, "message": message.into()});
    if let Some(d) = details {
        error["details"] = d;
    }
    (status, axum::Json(json!({"type": "error", "error": error}))).into_response()
}

pub(crate) fn invalid(message: impl Into<String>) -> Response {
    envelope(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        message,
        None,
    )
}

impl From<Refusal> for Response {
    fn from(r: Refusal) -> Response {
        match r {
            Refusal::Invalid(m) => invalid(m),
            Refusal::NotFound(m) => envelope(StatusCode::NOT_FOUND, "not_found_error", m, None),
            Refusal::Conflict(m) => envelope(StatusCode::CONFLICT, "conflict_error", m, None),
            Refusal::LeaseMismatch(lease) => envelope(
                StatusCode::PRECONDITION_FAILED,
                "invalid_request_error",
                "expected_last_heartbeat does not match the stored heartbeat",
                Some(json!({
                    "error_code": "heartbeat_precondition_failed",
                    "current_state": lease,
                })),
            ),
        }
    }
}

pub(crate) fn ok<T: serde::Serialize>(value: &T) -> Api {
    Ok(axum::Json(value).into_response())
}
