//! The HTTP surface: one module of handlers per resource (environments,
//! work, sessions and skills), routed here by the raw crate's generated
//! operation table (each operation's path template and method, never
//! spelled by hand), the control surface under `/_mock`, and the
//! middleware for the server's mode.

mod control;
mod environments;
pub(crate) mod sessions;
mod webhooks;
mod work;

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use axum::middleware;
use axum::routing::{MethodFilter, MethodRouter, any, get, on, post, put};

use anthropic_environments_raw::operations;

use crate::envelope::envelope;
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
    let api = api_routes()
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

/// The API's routes, read from the generated operation table: each
/// operation's path template and method lead to its handler in the module
/// of its resource. An operation the spec gained before the mock has a
/// handler for is answered 501, naming it (not "no such route").
fn api_routes() -> Router<Arc<Shared>> {
    operations::ALL.iter().fold(Router::new(), |router, op| {
        let method = method_filter(op.method);
        let route = method
            .and_then(|method| handler(op.id, method))
            .unwrap_or_else(|| not_served(op.id, method));
        // A second operation on a path adds its method to the first's.
        router.route(op.path, route)
    })
}

/// The handler of the table's operation `id`, from the module of its
/// resource.
fn handler(id: &str, method: MethodFilter) -> Option<MethodRouter<Arc<Shared>>> {
    environments::route(id, method)
        .or_else(|| work::route(id, method))
        .or_else(|| sessions::route(id, method))
}

/// The route of an operation the mock has no handler for: 501, naming it.
fn not_served<S>(id: &'static str, method: Option<MethodFilter>) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    let answer = move || async move {
        envelope(
            StatusCode::NOT_IMPLEMENTED,
            "api_error",
            format!("the mock does not serve {id}"),
            None,
        )
    };
    match method {
        Some(method) => on(method, answer),
        None => any(answer),
    }
}

/// The filter of an HTTP method of the table (`None` only for one axum
/// cannot route by).
fn method_filter(method: &str) -> Option<MethodFilter> {
    let method = Method::from_bytes(method.as_bytes()).ok()?;
    MethodFilter::try_from(method).ok()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    use super::*;

    #[test]
    fn every_operation_of_the_table_has_a_handler() {
        for op in operations::ALL {
            let method = method_filter(op.method);
            assert!(method.is_some(), "{}: {}", op.id, op.method);
            assert!(
                method.and_then(|m| handler(op.id, m)).is_some(),
                "{}",
                op.id
            );
        }
        assert!(handler("teleport_work", MethodFilter::POST).is_none());
    }

    #[tokio::test]
    async fn an_operation_without_a_handler_is_answered_501_naming_it() {
        let app: Router = Router::new().route(
            "/v1/teleport",
            not_served("teleport_work", method_filter("POST")),
        );
        let request = Request::post("/v1/teleport").body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_IMPLEMENTED);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body["error"]["message"],
            "the mock does not serve teleport_work"
        );
        // Its method only: another is not this operation.
        let request = Request::get("/v1/teleport").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
