//! What wraps every route: request ids, injected faults, credentials and
//! the beta header, the journal, and the API's answers for unknown routes
//! and methods.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use anthropic_environments_raw::operation::for_request;
use anthropic_environments_raw::wire::MANAGED_AGENTS_BETA;

use crate::credentials::{self, CallerKind, CredentialMode, Denied, Target};
use crate::envelope::{envelope, invalid};
use crate::faults::Decision;
use crate::journal::RecordedRequest;
use crate::request::MAX_BODY;
use crate::shared::Shared;

/// Gives every response a `request-id`.
pub(crate) async fn request_id(
    State(s): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let n = s.next_request_number();
    let mut response = next.run(request).await;
    if let Ok(v) = HeaderValue::from_str(&format!("req_mock_{n:08}")) {
        response.headers_mut().insert("request-id", v);
    }
    response
}

/// Injects the configured faults before the request reaches the API.
pub(crate) async fn faults(State(s): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let operation = operation_of(request.method(), request.uri().path());
    let (latency, decision) =
        s.faults
            .decide(request.method().as_str(), request.uri().path(), operation);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match decision {
        Decision::Pass => next.run(request).await,
        Decision::Status { code, headers } => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let kind = match code {
                400 | 409 | 412 | 413 | 422 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                408 => "timeout_error",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            let mut response = envelope(status, kind, "injected fault", None);
            for (name, value) in headers {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, v);
                }
            }
            response
        }
        Decision::BreakBody => {
            // The status line and headers go out, then the body fails: the
            // client sees the connection break mid-answer.
            // A first chunk, a pause (so that it is written), then the error.
            let failing = futures::stream::unfold(0u8, |step| async move {
                match step {
                    0 => Some((Ok(Bytes::from_static(b"{\"type\":")), 1)),
                    1 => {
                        tokio::task::yield_now().await;
                        let error = std::io::Error::other("injected broken body");
                        Some((Err::<Bytes, std::io::Error>(error), 2))
                    }
                    _ => None,
                }
            });
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .body(Body::from_stream(failing))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
        Decision::Hang => std::future::pending().await,
        Decision::CloseConnection => {
            // The connection loop closes the connection instead of writing
            // this response: no status line at all.
            let mut response = Response::default();
            response.extensions_mut().insert(CloseConnection);
            response
        }
    }
}

/// Marks a response that must not be written: the connection is closed
/// instead (see the server loop in the crate root).
#[derive(Clone, Copy, Debug)]
pub(crate) struct CloseConnection;

/// The credential of a request: its bearer, else its `x-api-key`.
fn credential(headers: &HeaderMap) -> Option<&str> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    text("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| text("x-api-key"))
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// The operation (the spec's operationId) a method and path name, if any:
/// the generated operation table's path templates decide.
pub(crate) fn operation_of(method: &axum::http::Method, path: &str) -> Option<&'static str> {
    for_request(method.as_str(), path).map(|op| op.id)
}

/// Refuses requests without credentials (401), with a credential the
/// endpoint does not accept (strict mode: 401 or 403, see
/// [`credentials`]), or without the managed-agents beta (400), as the real
/// API does.
pub(crate) async fn auth(State(s): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    match refusal(&s, &request) {
        None => next.run(request).await,
        Some(refusal) => refusal,
    }
}

/// The answer to a request that may not go on; `None` when it may.
fn refusal(s: &Shared, request: &Request) -> Option<Response> {
    let headers = request.headers();
    let path = request.uri().path();
    let operation = for_request(request.method().as_str(), path);
    let param = |name: &str| operation.and_then(|op| op.path_param(path, name));
    let key = credential(headers);
    let denied = match s.credential_mode {
        CredentialMode::Strict => {
            let model = s.model();
            let caller = model.caller(key, s.api_key.as_deref());
            let (environment_id, work_id) = match param("session_id") {
                // A session's calls: its environment's key, or the
                // sessions token of an item serving this session.
                Some(session) => {
                    let environment = model.sessions().environment_of(session).map(str::to_owned);
                    let work = match &caller {
                        CallerKind::SessionsToken {
                            environment_id,
                            work_id,
                        } if model.session_of_work(environment_id, work_id).as_deref()
                            == Some(session) =>
                        {
                            Some(work_id.clone())
                        }
                        _ => None,
                    };
                    (environment, work)
                }
                None => (
                    param("environment_id").map(str::to_owned),
                    param("work_id").map(str::to_owned),
                ),
            };
            drop(model);
            credentials::check(
                &caller,
                Target {
                    operation: operation.map_or("unknown", |op| op.id),
                    environment_id: environment_id.as_deref(),
                    work_id: work_id.as_deref(),
                },
            )
            .err()
        }
        _ => match key {
            None => Some(Denied::Unauthenticated(
                "missing credentials: send Authorization: Bearer <credential> or x-api-key",
            )),
            Some(key) if s.api_key.as_deref().is_some_and(|k| k != key) => {
                Some(Denied::Unauthenticated("invalid API key"))
            }
            Some(_) => None,
        },
    };
    match denied {
        Some(Denied::Unauthenticated(message)) => {
            return Some(envelope(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                message,
                None,
            ));
        }
        Some(Denied::Forbidden(message)) => {
            return Some(envelope(
                StatusCode::FORBIDDEN,
                "permission_error",
                message,
                None,
            ));
        }
        None => {}
    }
    // The skills calls carry only the caller's betas, as the official SDKs
    // send them.
    let has_beta = headers
        .get("anthropic-beta")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|b| b.trim() == MANAGED_AGENTS_BETA));
    let skills_call = operation.is_some_and(|op| op.tag == "skills");
    if !has_beta && !skills_call {
        return Some(invalid(format!(
            "anthropic-beta: this endpoint requires the {MANAGED_AGENTS_BETA} beta"
        )));
    }
    None
}

/// Records every API request (not the control surface) in the journal.
pub(crate) async fn journal(
    State(s): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/_mock/") || !s.journal.enabled() {
        return next.run(request).await;
    }
    let method = request.method().to_string();
    let query = request.uri().query().map(str::to_owned);
    let caller = match credential(request.headers()) {
        None => CallerKind::None,
        key => s.model().caller(key, s.api_key.as_deref()),
    };
    let operation = operation_of(request.method(), &path).map(str::to_owned);
    let headers = crate::journal::redacted_headers(request.headers());
    // Keep the body for the journal and hand the same bytes on.
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => return invalid(format!("request body: larger than {MAX_BODY} bytes")),
    };
    let body_text = String::from_utf8_lossy(&bytes).into_owned();
    let request = Request::from_parts(parts, Body::from(bytes));
    let response = next.run(request).await;
    s.journal.push(RecordedRequest {
        method,
        path,
        query,
        operation,
        headers,
        body: body_text,
        caller,
        status: response.status().as_u16(),
    });
    response
}

pub(crate) async fn not_found_route() -> Response {
    envelope(
        StatusCode::NOT_FOUND,
        "not_found_error",
        "no such route",
        None,
    )
}

pub(crate) async fn method_not_allowed(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        return envelope(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            "method not allowed",
            None,
        );
    }
    response
}
