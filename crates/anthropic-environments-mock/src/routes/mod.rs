//! The HTTP surface: one module of routes per resource (environments,
//! work, sessions and skills) and the control surface under `/_mock`,
//! assembled here with the middleware for the server's mode.

mod control;
mod environments;
pub(crate) mod sessions;
mod webhooks;
mod work;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post, put};

use crate::middleware::{auth, faults, journal, method_not_allowed, not_found_route, request_id};
use crate::shared::Shared;

/// The whole application, for the server's mode.
pub(crate) fn router(shared: Arc<Shared>, mode: crate::MockMode) -> Router {
    let app = match mode {
        crate::MockMode::Stateful => stateful(shared.clone()),
        crate::MockMode::Stateless => stateless(shared.clone()),
    };
    app.layer(middleware::from_fn_with_state(shared.clone(), journal))
        .layer(middleware::from_fn_with_state(shared.clone(), request_id))
        .with_state(shared)
}

/// The stateful mode: the API's routes over the model, and every control
/// route.
fn stateful(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let api = Router::new()
        .merge(environment_routes())
        .merge(work_routes())
        .merge(sessions::api_routes())
        .route_layer(middleware::from_fn_with_state(shared.clone(), auth))
        .layer(middleware::from_fn_with_state(shared, faults));
    let control = Router::new()
        .route(
            "/_mock/environments/{environment_id}/work",
            post(control::queue).get(control::list),
        )
        .route(
            "/_mock/environments/{environment_id}/key",
            get(control::key),
        )
        .merge(sessions::control_routes())
        .merge(webhooks::control_routes());
    api.merge(control)
        .merge(server_control_routes())
        .fallback(not_found_route)
        .layer(middleware::from_fn(method_not_allowed))
}

/// The stateless conformance mode: every API request is validated and
/// answered from the spec ([`crate::stateless`]); the control surface keeps
/// the journal, faults, reset and health.
fn stateless(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let api = Router::new()
        .fallback(crate::stateless::answer)
        .layer(middleware::from_fn_with_state(shared, faults));
    server_control_routes().merge(api)
}

/// The control routes of both modes: the journal, reset, faults, health.
fn server_control_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/_mock/requests",
            get(control::requests).delete(control::clear_requests),
        )
        .route("/_mock/reset", post(control::reset))
        .route(
            "/_mock/faults",
            put(control::set_faults).get(control::faults),
        )
        .route("/_mock/health", get(|| async { "ok" }))
}

fn environment_routes() -> Router<Arc<Shared>> {
    use environments::*;
    Router::new()
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
}

fn work_routes() -> Router<Arc<Shared>> {
    use work::*;
    Router::new()
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
}
