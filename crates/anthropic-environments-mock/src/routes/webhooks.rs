//! The control routes of webhooks: `POST /_mock/webhooks`
//! `{url, signing_key?}` registers an endpoint (answers its `signing_key`,
//! minted when not given); `POST /_mock/webhooks/deliver`
//! `{type, id, webhook_id?}` delivers one event to every endpoint now and
//! answers each endpoint's status.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use serde_json::{Value, json};

use crate::envelope::{Api, bad};
use crate::request::body;
use crate::shared::Shared;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEndpoint {
    url: String,
    #[serde(default)]
    signing_key: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliverRequest {
    #[serde(rename = "type")]
    event_type: String,
    id: String,
    #[serde(default)]
    webhook_id: Option<String>,
}

async fn control_add(State(s): State<Arc<Shared>>, bytes: Bytes) -> Api {
    let new: NewEndpoint = body(&bytes)?;
    let key = s
        .webhooks
        .add(&new.url, new.signing_key.as_deref())
        .map_err(bad)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"url": new.url, "signing_key": key})),
    )
        .into_response())
}

async fn control_deliver(State(s): State<Arc<Shared>>, bytes: Bytes) -> Api {
    let req: DeliverRequest = body(&bytes)?;
    let answers = s
        .webhooks
        .deliver(&req.event_type, &req.id, req.webhook_id)
        .await;
    let data: Vec<Value> = answers
        .into_iter()
        .map(|d| json!({"url": d.url, "status": d.status}))
        .collect();
    Ok(axum::Json(json!({ "data": data })).into_response())
}

/// The control routes of webhooks.
pub(super) fn control_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_mock/webhooks", post(control_add))
        .route("/_mock/webhooks/deliver", post(control_deliver))
}
