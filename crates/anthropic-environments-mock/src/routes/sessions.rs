//! The routes of sessions and skills: the six API routes a worker
//! uses to serve a session, and their control routes under `/_mock`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{MethodFilter, MethodRouter, on, post};
use base64::Engine as _;
use futures::stream::{self, Stream, StreamExt};
use serde_json::{Value, json};

use anthropic_environments_raw::operations;

use crate::envelope::{Api, Refusal, bad, ok};
use crate::model::sessions::{NewSession, Sender};
use crate::request::{DEFAULT_LIMIT, MAX_LIMIT, Query, body};
use crate::shared::Shared;

async fn retrieve_session(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Api {
    ok(&s.model().sessions().retrieve(&id)?)
}

async fn list_session_events(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Api {
    let q = Query::parse(q)?;
    let limit = q.int("limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT) as usize;
    let descending = match q.str("order") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => return Err(bad(format!("order: must be asc or desc, got {other:?}"))),
    };
    let (data, next_page) = s
        .model()
        .sessions()
        .page(&id, q.str("page"), limit, descending)?;
    ok(&json!({"data": data, "next_page": next_page}))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Events {
    events: Vec<Value>,
}

async fn send_session_events(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Api {
    // The spec's shape first (errors name the field), then the log's rules.
    let _: anthropic_environments_raw::types::EventSendParams = body(&bytes)?;
    let Events { events } = body(&bytes)?;
    if events.is_empty() {
        return Err(bad("events: at least one event is required"));
    }
    let recorded = s.model().sessions_mut().append(&id, events, Sender::Api)?;
    ok(&json!({ "data": recorded }))
}

/// The log from the start, then live events, with keep-alive comments while
/// idle; ended after `stream_event_limit` events when that fault is set.
async fn stream_session_events(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Api {
    let (history, live, keep_alive) = {
        let model = s.model();
        let (history, live) = model.sessions().follow(&id)?;
        (history, live, model.timing().keep_alive)
    };
    let live = stream::unfold(live, |mut live| async move {
        // A lagging stream ends (the client reconnects and lists the
        // history); so does a session gone.
        live.recv().await.ok().map(|event| (event, live))
    });
    let events = stream::iter(history).chain(live);
    let limit = s.faults.config().stream_event_limit;
    let events: std::pin::Pin<Box<dyn Stream<Item = Value> + Send>> = match limit {
        Some(n) => Box::pin(events.take(n)),
        None => Box::pin(events),
    };
    let framed = events.map(|event| {
        // Appends refuse types with control characters; a seeded log could
        // still hold one, and an SSE field cannot.
        let name = event
            .get("type")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty() && !t.chars().any(char::is_control))
            .unwrap_or("message")
            .to_owned();
        Ok::<_, Infallible>(Event::default().event(name).data(event.to_string()))
    });
    Ok(Sse::new(framed)
        .keep_alive(KeepAlive::new().interval(keep_alive).text("keep-alive"))
        .into_response())
}

async fn retrieve_skill_version(
    State(s): State<Arc<Shared>>,
    Path((skill, version)): Path<(String, String)>,
) -> Api {
    ok(&s
        .model()
        .sessions()
        .retrieve_skill_version(&skill, &version)?)
}

async fn download_skill_version_content(
    State(s): State<Arc<Shared>>,
    Path((skill, version)): Path<(String, String)>,
) -> Api {
    let archive = s.model().sessions().skill_archive(&skill, &version)?;
    Ok(([("content-type", "application/zip")], archive).into_response())
}

// ---- control ------------------------------------------------------------

async fn control_create_session(State(s): State<Arc<Shared>>, bytes: Bytes) -> Api {
    let new: NewSession = body(&bytes)?;
    let session = create_session(&s, new)?;
    Ok((StatusCode::CREATED, axum::Json(session)).into_response())
}

/// Creates a session in an existing environment and, when asked, queues a
/// `session` work item for it (whose poll mints a fresh sessions token).
pub(crate) fn create_session(s: &Shared, new: NewSession) -> Result<Value, Refusal> {
    let queue = new.queue_work;
    let environment_id = new.environment_id.clone();
    let session = {
        let mut model = s.model();
        model.environment(&environment_id)?;
        let session = model.sessions_mut().create(new)?;
        if queue {
            let id = session["id"].as_str().unwrap_or_default().to_owned();
            model.queue_work(&environment_id, &id, Default::default())?;
        }
        session
    };
    if queue {
        s.work_queued(session["id"].as_str());
    }
    Ok(session)
}

async fn control_append_events(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Api {
    let AgentEvents {
        events,
        end_turn_when_answered,
    } = body(&bytes)?;
    let mut model = s.model();
    let recorded = model.sessions_mut().append(&id, events, Sender::Control)?;
    // Armed once the events are in (a refused append arms nothing).
    if end_turn_when_answered {
        model.sessions_mut().end_turn_when_answered(&id)?;
    }
    ok(&json!({ "data": recorded }))
}

/// The agent's events, appended by the control surface.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentEvents {
    events: Vec<Value>,
    /// Play the agent's part: end the turn (`session.status_idle`,
    /// `end_turn`) once every tool call has its result.
    #[serde(default)]
    end_turn_when_answered: bool,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Status {
    status: String,
}

async fn control_set_status(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Api {
    let Status { status } = body(&bytes)?;
    ok(&s.model().sessions_mut().set_status(&id, &status)?)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSkillVersion {
    skill_id: String,
    name: String,
    #[serde(default)]
    description: String,
    /// The archive, base64 (standard alphabet).
    archive_base64: String,
}

async fn control_add_skill_version(State(s): State<Arc<Shared>>, bytes: Bytes) -> Api {
    let new: NewSkillVersion = body(&bytes)?;
    let archive = base64::engine::general_purpose::STANDARD
        .decode(new.archive_base64.trim())
        .map_err(|e| bad(format!("archive_base64: {e}")))?;
    let version = s.model().sessions_mut().add_skill_version(
        &new.skill_id,
        &new.name,
        &new.description,
        archive.into(),
    )?;
    Ok((StatusCode::CREATED, axum::Json(version)).into_response())
}

/// The handler of the table's operation `id`, on `method`, when it is a
/// session or skill operation. Each handler is paired with its operation's
/// constant in the table, so an operation the spec drops or renames fails
/// the build here.
pub(super) fn route(id: &str, method: MethodFilter) -> Option<MethodRouter<Arc<Shared>>> {
    let handlers = [
        (operations::RETRIEVE_SESSION, on(method, retrieve_session)),
        (
            operations::LIST_SESSION_EVENTS,
            on(method, list_session_events),
        ),
        (
            operations::SEND_SESSION_EVENTS,
            on(method, send_session_events),
        ),
        (
            operations::STREAM_SESSION_EVENTS,
            on(method, stream_session_events),
        ),
        (
            operations::RETRIEVE_SKILL_VERSION,
            on(method, retrieve_skill_version),
        ),
        (
            operations::DOWNLOAD_SKILL_VERSION_CONTENT,
            on(method, download_skill_version_content),
        ),
    ];
    handlers
        .into_iter()
        .find_map(|(op, route)| (op.id == id).then_some(route))
}

/// The control routes of sessions and skills.
pub(crate) fn control_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_mock/sessions", post(control_create_session))
        .route(
            "/_mock/sessions/{session_id}/events",
            post(control_append_events),
        )
        .route(
            "/_mock/sessions/{session_id}/status",
            post(control_set_status),
        )
        .route("/_mock/skills", post(control_add_skill_version))
}
