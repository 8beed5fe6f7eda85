//! The HTTP surface: the environment and work routes (the session and
//! skill routes are in [`crate::session_routes`]), the control routes under
//! `/_mock`, authentication, request ids, faults and the error envelope.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use anthropic_environments_raw::types::{
    BetaSelfHostedWorkStopRequest, BetaSelfHostedWorkUpdateRequest, EnvironmentCreateParams,
    EnvironmentUpdateParams,
};

use crate::credentials::{self, CallerKind, CredentialMode, Denied, Target};
use crate::faults::{Decision, FaultConfig, Faults};
use crate::journal::{Journal, RecordedRequest};
use crate::model::{Model, Refusal};

pub use anthropic_environments_raw::wire::MANAGED_AGENTS_BETA;

/// State shared by every handler.
pub(crate) struct Shared {
    pub(crate) model: Mutex<Model>,
    /// Wakes long polls: an item was queued or re-queued.
    pub(crate) notify: tokio::sync::Notify,
    /// Wakes the sweeper: a deadline was set (it may be the earliest).
    pub(crate) deadlines_changed: tokio::sync::Notify,
    pub(crate) faults: Faults,
    pub(crate) api_key: Option<String>,
    pub(crate) credential_mode: CredentialMode,
    pub(crate) request_ids: AtomicU64,
    pub(crate) journal: Journal,
    /// Webhook endpoints, told when a session's work is queued.
    pub(crate) webhooks: Arc<crate::webhooks::Webhooks>,
}

impl Shared {
    pub(crate) fn model(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Empties the model (keeping its timing and base URL), the journal and
    /// the faults.
    pub(crate) fn reset(&self) {
        {
            let mut model = self.model();
            let mut fresh = Model::new(model.timing.clone());
            fresh.api_base_url = model.api_base_url.take();
            *model = fresh;
        }
        self.journal.clear();
        self.webhooks.clear();
        self.faults.set(FaultConfig::none());
        self.notify.notify_waiters();
        self.deadlines_changed.notify_one();
    }

    /// A work item was queued: wakes long polls and, for a session's
    /// item, tells the webhook endpoints its run started.
    pub(crate) fn work_queued(&self, session_id: Option<&str>) {
        self.notify.notify_waiters();
        if let Some(session_id) = session_id {
            self.webhooks.announce_run(session_id);
        }
    }

    /// Locks the model after applying every deadline due now.
    fn swept(&self) -> MutexGuard<'_, Model> {
        let mut model = self.model();
        if model.sweep(Instant::now()) {
            self.notify.notify_waiters();
        }
        model
    }
}

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

/// Parsed query parameters; each accessor names the parameter in its error.
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    pub(crate) fn parse(raw: Option<String>) -> Result<Self, Failure> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
            .map_err(|e| bad(format!("query string: {e}")))?;
        Ok(Query(pairs.into_iter().collect()))
    }

    pub(crate) fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, Failure> {
        match self.0.get(name) {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(bad(format!(
                    "{name}: must be an integer from {min} to {max}, got {v:?}"
                ))),
            },
        }
    }

    fn bool(&self, name: &str) -> Result<Option<bool>, Failure> {
        match self.0.get(name).map(String::as_str) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(bad(format!("{name}: must be true or false, got {v:?}"))),
        }
    }

    pub(crate) fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// A JSON body of type `T`; errors name the offending field.
pub(crate) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, Failure> {
    if bytes.is_empty() {
        return Err(bad("request body: a JSON object is required"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            bad(format!("request body: invalid JSON: {inner}"))
        } else if path == "." || path == "?" {
            bad(format!("request body: {inner}"))
        } else {
            bad(format!("{path}: {inner}"))
        }
    })
}

const DEFAULT_LIMIT: i64 = 20;
/// The largest request body the mock reads.
const MAX_BODY: usize = 16 * 1024 * 1024;
const MAX_LIMIT: i64 = 1000;

// ---- environments -------------------------------------------------------

async fn create_environment(State(s): State<Arc<Shared>>, bytes: Bytes) -> Api {
    let params: EnvironmentCreateParams = body(&bytes)?;
    ok(&s.model().create_environment(params)?)
}

async fn list_environments(State(s): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Api {
    let q = Query::parse(q)?;
    let include = q.bool("include_archived")?.unwrap_or(false);
    let limit = q.int("limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT) as usize;
    let (data, next_page) = s.model().list_environments(include, q.str("page"), limit)?;
    ok(&json!({"data": data, "next_page": next_page}))
}

async fn retrieve_environment(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Api {
    ok(&s.model().environment(&id)?)
}

async fn update_environment(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Api {
    let params: EnvironmentUpdateParams = body(&bytes)?;
    ok(&s.model().update_environment(&id, params)?)
}

async fn delete_environment(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Api {
    ok(&s.model().delete_environment(&id)?)
}

async fn archive_environment(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Api {
    ok(&s.model().archive_environment(&id)?)
}

// ---- work ---------------------------------------------------------------

async fn list_work(
    State(s): State<Arc<Shared>>,
    Path(env): Path<String>,
    RawQuery(q): RawQuery,
) -> Api {
    let q = Query::parse(q)?;
    let limit = q.int("limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT) as usize;
    let (data, next_page) = s.swept().list_work(&env, q.str("page"), limit)?;
    ok(&json!({"data": data, "next_page": next_page}))
}

async fn poll_work(
    State(s): State<Arc<Shared>>,
    Path(env): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Api {
    let q = Query::parse(q)?;
    let block = q
        .int("block_ms", 1, 999)?
        .map(|ms| Duration::from_millis(ms as u64));
    let reclaim = q
        .int("reclaim_older_than_ms", 0, i64::MAX)?
        .map(|ms| Duration::from_millis(ms as u64));
    let worker = headers
        .get("anthropic-worker-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let start = Instant::now();
    let deadline = start + block.unwrap_or_default();
    if let Some(worker) = &worker {
        s.model().environment(&env)?;
        s.model().note_worker(&env, worker, start);
    }
    loop {
        let notified = s.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = Instant::now();
        if let Some(work) = s.swept().try_poll(&env, reclaim, now)? {
            return ok(&work);
        }
        if now >= deadline {
            return ok(&Value::Null);
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

async fn work_stats(State(s): State<Arc<Shared>>, Path(env): Path<String>) -> Api {
    ok(&s.swept().stats(&env, Instant::now())?)
}

async fn retrieve_work(
    State(s): State<Arc<Shared>>,
    Path((env, id)): Path<(String, String)>,
) -> Api {
    ok(&s.swept().work(&env, &id)?)
}

async fn update_work(
    State(s): State<Arc<Shared>>,
    Path((env, id)): Path<(String, String)>,
    bytes: Bytes,
) -> Api {
    let params: BetaSelfHostedWorkUpdateRequest = body(&bytes)?;
    ok(&s.swept().update_work(&env, &id, params.metadata)?)
}

async fn ack_work(State(s): State<Arc<Shared>>, Path((env, id)): Path<(String, String)>) -> Api {
    let work = s.swept().ack(&env, &id, Instant::now())?;
    s.deadlines_changed.notify_one();
    ok(&work)
}

async fn heartbeat_work(
    State(s): State<Arc<Shared>>,
    Path((env, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Api {
    let q = Query::parse(q)?;
    // The reference bounds `desired_ttl_seconds` nowhere: take any integer
    // and answer with the TTL applied.
    let ttl = q.int("desired_ttl_seconds", i64::MIN, i64::MAX)?;
    let expected = q.str("expected_last_heartbeat");
    let beat = s
        .swept()
        .heartbeat(&env, &id, ttl, expected, Instant::now())?;
    s.deadlines_changed.notify_one();
    ok(&beat)
}

async fn stop_work(
    State(s): State<Arc<Shared>>,
    Path((env, id)): Path<(String, String)>,
    bytes: Bytes,
) -> Api {
    // The official SDK always sends a body; accept a missing one as `{}`.
    let params: BetaSelfHostedWorkStopRequest = if bytes.is_empty() {
        BetaSelfHostedWorkStopRequest::default()
    } else {
        body(&bytes)?
    };
    let force = params.force.unwrap_or(false);
    let work = s.swept().stop(&env, &id, force, Instant::now())?;
    s.deadlines_changed.notify_one();
    ok(&work)
}

// ---- control surface ----------------------------------------------------

/// `{"session_id": "..."}` queues a session; `{"data": {...}}` queues any
/// work data (`{"type": "healthcheck", "id": "..."}`, or a type the spec does
/// not know yet).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueRequest {
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    data: Option<anthropic_environments_raw::types::BetaWorkData>,
    #[serde(default)]
    metadata: HashMap<String, String>,
}

async fn control_queue(State(s): State<Arc<Shared>>, Path(env): Path<String>, bytes: Bytes) -> Api {
    let req: QueueRequest = body(&bytes)?;
    let session_id = req.session_id.clone();
    let work = match (req.session_id, req.data) {
        (Some(session), None) => s.model().queue_work(&env, &session, req.metadata)?,
        (None, Some(data)) => s.model().queue_work_data(&env, data, req.metadata)?,
        _ => return Err(bad("send exactly one of session_id and data")),
    };
    s.work_queued(session_id.as_deref());
    Ok((StatusCode::CREATED, axum::Json(work)).into_response())
}

async fn control_key(State(s): State<Arc<Shared>>, Path(env): Path<String>) -> Api {
    let model = s.model();
    model.environment(&env)?;
    let key = model.credentials.environment_key(&env).unwrap_or_default();
    ok(&json!({ "environment_id": env, "environment_key": key }))
}

async fn control_reset(State(s): State<Arc<Shared>>) -> Api {
    s.reset();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The journal; `?operation=poll_work` keeps one operation's requests.
async fn control_requests(State(s): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Api {
    let q = Query::parse(q)?;
    let mut entries = s.journal.entries();
    if let Some(operation) = q.str("operation") {
        entries.retain(|r| r.operation.as_deref() == Some(operation));
    }
    ok(&entries)
}

async fn control_clear_requests(State(s): State<Arc<Shared>>) -> Api {
    s.journal.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn control_list(State(s): State<Arc<Shared>>, Path(env): Path<String>) -> Api {
    let model = s.swept();
    model.environment(&env)?;
    ok(&model.all_work(&env))
}

async fn control_faults(State(s): State<Arc<Shared>>, bytes: Bytes) -> Api {
    let config: FaultConfig = body(&bytes)?;
    config.validate().map_err(bad)?;
    s.faults.set(config);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn control_get_faults(State(s): State<Arc<Shared>>) -> Api {
    ok(&s.faults.config())
}

// ---- middleware ---------------------------------------------------------

/// Gives every response a `request-id`.
async fn request_id(State(s): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let n = s.request_ids.fetch_add(1, Ordering::Relaxed) + 1;
    let mut response = next.run(request).await;
    if let Ok(v) = HeaderValue::from_str(&format!("req_mock_{n:08}")) {
        response.headers_mut().insert("request-id", v);
    }
    response
}

/// Injects the configured faults before the request reaches the API.
async fn faults(State(s): State<Arc<Shared>>, request: Request, next: Next) -> Response {
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
    anthropic_environments_raw::operation::for_request(method.as_str(), path).map(|op| op.id)
}

/// Refuses requests without credentials (401), with a credential the
/// endpoint does not accept (strict mode: 401 or 403, see
/// [`credentials`]), or without the managed-agents beta (400), as the real
/// API does.
async fn auth(State(s): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let operation = operation_of(request.method(), request.uri().path()).unwrap_or("unknown");
    match refusal(&s, &request, operation) {
        None => next.run(request).await,
        Some(refusal) => refusal,
    }
}

/// The answer to a request that may not go on; `None` when it may.
fn refusal(s: &Shared, request: &Request, operation: &'static str) -> Option<Response> {
    let headers = request.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let key = credential(headers);
    let denied = match s.credential_mode {
        CredentialMode::Strict => {
            let model = s.model();
            let caller = model.credentials.classify(key, s.api_key.as_deref());
            let path = request.uri().path();
            let segments: Vec<&str> = path.split('/').collect();
            let (environment_id, work_id) =
                match crate::session_routes::session_in_path(operation, path) {
                    // A session's calls: its environment's key, or the
                    // sessions token of an item serving this session.
                    Some(session) => {
                        let environment =
                            model.sessions.environment_of(&session).map(str::to_owned);
                        let work = match &caller {
                            CallerKind::SessionsToken {
                                environment_id,
                                work_id,
                            } if model.session_of_work(environment_id, work_id).as_deref()
                                == Some(session.as_str()) =>
                            {
                                Some(work_id.clone())
                            }
                            _ => None,
                        };
                        (environment, work)
                    }
                    // "", "v1", "environments", {environment_id}, "work", {work_id}
                    None => {
                        let per_item = matches!(
                            operation,
                            "retrieve_work"
                                | "update_work"
                                | "ack_work"
                                | "heartbeat_work"
                                | "stop_work"
                        );
                        (
                            segments.get(3).map(|s| (*s).to_owned()),
                            segments
                                .get(5)
                                .filter(|_| per_item)
                                .map(|s| (*s).to_owned()),
                        )
                    }
                };
            drop(model);
            credentials::check(
                &caller,
                Target {
                    operation,
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
    let has_beta = text("anthropic-beta")
        .is_some_and(|v| v.split(',').any(|b| b.trim() == MANAGED_AGENTS_BETA));
    if !has_beta && !crate::session_routes::is_skills_operation(operation) {
        return Some(invalid(format!(
            "anthropic-beta: this endpoint requires the {MANAGED_AGENTS_BETA} beta"
        )));
    }
    None
}

/// Records every API request (not the control surface) in the journal.
async fn journal(State(s): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/_mock/") || !s.journal.enabled() {
        return next.run(request).await;
    }
    let method = request.method().to_string();
    let query = request.uri().query().map(str::to_owned);
    let caller = match credential(request.headers()) {
        None => CallerKind::None,
        key => s.model().credentials.classify(key, s.api_key.as_deref()),
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

async fn not_found_route() -> Response {
    envelope(
        StatusCode::NOT_FOUND,
        "not_found_error",
        "no such route",
        None,
    )
}

async fn method_not_allowed(request: Request, next: Next) -> Response {
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

/// The whole application, for the server's mode.
pub(crate) fn router(shared: Arc<Shared>, mode: crate::MockMode) -> Router {
    if mode == crate::MockMode::Stateless {
        return stateless_router(shared);
    }
    let api = Router::new()
        .route(
            "/v1/environments",
            post(create_environment).get(list_environments),
        )
        .route(
            "/v1/environments/{environment_id}",
            get(retrieve_environment)
                .post(update_environment)
                .delete(delete_environment),
        )
        .route(
            "/v1/environments/{environment_id}/archive",
            post(archive_environment),
        )
        .route("/v1/environments/{environment_id}/work", get(list_work))
        .route(
            "/v1/environments/{environment_id}/work/poll",
            get(poll_work),
        )
        .route(
            "/v1/environments/{environment_id}/work/stats",
            get(work_stats),
        )
        .route(
            "/v1/environments/{environment_id}/work/{work_id}",
            get(retrieve_work).post(update_work),
        )
        .route(
            "/v1/environments/{environment_id}/work/{work_id}/ack",
            post(ack_work),
        )
        .route(
            "/v1/environments/{environment_id}/work/{work_id}/heartbeat",
            post(heartbeat_work),
        )
        .route(
            "/v1/environments/{environment_id}/work/{work_id}/stop",
            post(stop_work),
        )
        .merge(crate::session_routes::api_routes())
        .route_layer(middleware::from_fn_with_state(shared.clone(), auth))
        .layer(middleware::from_fn_with_state(shared.clone(), faults));
    let control = Router::new()
        .route(
            "/_mock/environments/{environment_id}/work",
            post(control_queue).get(control_list),
        )
        .route("/_mock/environments/{environment_id}/key", get(control_key))
        .route(
            "/_mock/requests",
            get(control_requests).delete(control_clear_requests),
        )
        .route("/_mock/reset", post(control_reset))
        .route("/_mock/faults", put(control_faults).get(control_get_faults))
        .route("/_mock/health", get(|| async { "ok" }))
        .merge(crate::session_routes::control_routes())
        .merge(crate::webhooks::control_routes());
    api.merge(control)
        .fallback(not_found_route)
        .layer(middleware::from_fn(method_not_allowed))
        .layer(middleware::from_fn_with_state(shared.clone(), journal))
        .layer(middleware::from_fn_with_state(shared.clone(), request_id))
        .with_state(shared)
}

/// The stateless conformance mode: every API request is validated and
/// answered from the spec ([`crate::stateless`]); the control surface keeps
/// the journal, faults, reset and health.
fn stateless_router(shared: Arc<Shared>) -> Router {
    let control = Router::new()
        .route(
            "/_mock/requests",
            get(control_requests).delete(control_clear_requests),
        )
        .route("/_mock/reset", post(control_reset))
        .route("/_mock/faults", put(control_faults).get(control_get_faults))
        .route("/_mock/health", get(|| async { "ok" }));
    let api = Router::new()
        .fallback(crate::stateless::answer)
        .layer(middleware::from_fn_with_state(shared.clone(), faults));
    control
        .merge(api)
        .layer(middleware::from_fn_with_state(shared.clone(), journal))
        .layer(middleware::from_fn_with_state(shared.clone(), request_id))
        .with_state(shared)
}
