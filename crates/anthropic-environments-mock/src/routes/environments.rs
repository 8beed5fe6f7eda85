//! The environment routes: create, list, retrieve, update, delete, archive.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{MethodFilter, MethodRouter, on};
use serde_json::json;

use anthropic_environments_raw::operations;
use anthropic_environments_raw::types::{EnvironmentCreateParams, EnvironmentUpdateParams};

use crate::envelope::{Api, ok};
use crate::request::{DEFAULT_LIMIT, MAX_LIMIT, Query, body};
use crate::shared::Shared;

/// The handler of the table's operation `id`, on `method`, when it is an
/// environment operation. Each handler is paired with its operation's
/// constant in the table, so an operation the spec drops or renames fails
/// the build here.
pub(super) fn route(id: &str, method: MethodFilter) -> Option<MethodRouter<Arc<Shared>>> {
    let handlers = [
        (
            operations::CREATE_ENVIRONMENT,
            on(method, create_environment),
        ),
        (operations::LIST_ENVIRONMENTS, on(method, list_environments)),
        (
            operations::RETRIEVE_ENVIRONMENT,
            on(method, retrieve_environment),
        ),
        (
            operations::UPDATE_ENVIRONMENT,
            on(method, update_environment),
        ),
        (
            operations::DELETE_ENVIRONMENT,
            on(method, delete_environment),
        ),
        (
            operations::ARCHIVE_ENVIRONMENT,
            on(method, archive_environment),
        ),
    ];
    handlers
        .into_iter()
        .find_map(|(op, route)| (op.id == id).then_some(route))
}

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
