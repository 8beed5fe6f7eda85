//! The control surface of environments and work under `/_mock`: queue an
//! item, read an environment's key and items, the journal, faults, reset.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use crate::envelope::{Api, bad, ok};
use crate::faults::FaultConfig;
use crate::request::{Query, body};
use crate::shared::Shared;

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

pub(super) async fn queue(
    State(s): State<Arc<Shared>>,
    Path(env): Path<String>,
    bytes: Bytes,
) -> Api {
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

pub(super) async fn key(State(s): State<Arc<Shared>>, Path(env): Path<String>) -> Api {
    let model = s.model();
    model.environment(&env)?;
    let key = model.environment_key(&env).unwrap_or_default();
    ok(&json!({ "environment_id": env, "environment_key": key }))
}

pub(super) async fn reset(State(s): State<Arc<Shared>>) -> Api {
    s.reset();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The journal; `?operation=poll_work` keeps one operation's requests.
pub(super) async fn requests(State(s): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Api {
    let q = Query::parse(q)?;
    let mut entries = s.journal.entries();
    if let Some(operation) = q.str("operation") {
        entries.retain(|r| r.operation.as_deref() == Some(operation));
    }
    ok(&entries)
}

pub(super) async fn clear_requests(State(s): State<Arc<Shared>>) -> Api {
    s.journal.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn list(State(s): State<Arc<Shared>>, Path(env): Path<String>) -> Api {
    let model = s.swept();
    model.environment(&env)?;
    ok(&model.all_work(&env))
}

pub(super) async fn set_faults(State(s): State<Arc<Shared>>, bytes: Bytes) -> Api {
    let config: FaultConfig = body(&bytes)?;
    config.validate().map_err(bad)?;
    s.faults.set(config);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn faults(State(s): State<Arc<Shared>>) -> Api {
    ok(&s.faults.config())
}
