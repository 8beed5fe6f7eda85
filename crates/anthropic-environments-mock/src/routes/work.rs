//! The work queue's routes: list, poll (long polls wait for the queue),
//! stats, retrieve, update, ack, heartbeat, stop.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{MethodFilter, MethodRouter, on};
use serde_json::{Value, json};
use tokio::time::Instant;

use anthropic_environments_raw::operations;
use anthropic_environments_raw::types::{
    BetaSelfHostedWorkStopRequest, BetaSelfHostedWorkUpdateRequest,
};

use crate::envelope::{Api, ok};
use crate::request::{DEFAULT_LIMIT, MAX_LIMIT, Query, body};
use crate::shared::Shared;

/// The handler of the table's operation `id`, on `method`, when it is a
/// work operation. Each handler is paired with its operation's constant in
/// the table, so an operation the spec drops or renames fails the build
/// here.
pub(super) fn route(id: &str, method: MethodFilter) -> Option<MethodRouter<Arc<Shared>>> {
    let handlers = [
        (operations::LIST_WORK, on(method, list_work)),
        (operations::POLL_WORK, on(method, poll_work)),
        (operations::WORK_STATS, on(method, work_stats)),
        (operations::RETRIEVE_WORK, on(method, retrieve_work)),
        (operations::UPDATE_WORK, on(method, update_work)),
        (operations::ACK_WORK, on(method, ack_work)),
        (operations::HEARTBEAT_WORK, on(method, heartbeat_work)),
        (operations::STOP_WORK, on(method, stop_work)),
    ];
    handlers
        .into_iter()
        .find_map(|(op, route)| (op.id == id).then_some(route))
}

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
        let notified = s.queue_changed();
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
    s.deadline_set();
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
    s.deadline_set();
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
    s.deadline_set();
    ok(&work)
}
