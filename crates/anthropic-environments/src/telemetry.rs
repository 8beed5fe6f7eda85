//! Span names and attributes, as the official Python SDK (2.10.0) names
//! them, so that traces of this client and of the official workers read the
//! same in one backend.
//!
//! - One span per API call (OpenTelemetry kind CLIENT), named per operation
//!   ([`api_call_span_name`]: `anthropic.environments.work.poll`, ...), with
//!   [`attribute::HTTP_METHOD`], [`attribute::HTTP_ROUTE`],
//!   [`attribute::SERVER_ADDRESS`], and once answered
//!   [`attribute::HTTP_STATUS`], [`attribute::RESEND_COUNT`] (on a retry),
//!   [`attribute::REQUEST_ID`] and, on failure, [`attribute::ERROR_TYPE`].
//! - One span per work item a worker (the `anthropic-environments-worker`
//!   crate) serves ([`WORK_ITEM_SPAN`], kind
//!   INTERNAL), with [`attribute::ENVIRONMENT_ID`], [`attribute::WORK_ID`]
//!   and [`attribute::SESSION_ID`]; its status is OK when the handler
//!   finished, ERROR (with `error.type`) when it failed, and unset when it
//!   was cancelled or the lease was lost. The item's API calls are its
//!   children.
//!
//! The spans are `tracing` spans at INFO level (target
//! `anthropic_environments`); `otel.kind` and `otel.status_code` fields
//! carry the OpenTelemetry kind and status for `tracing-opentelemetry`.
//!
//! With the feature `opentelemetry`, add `tracing_opentelemetry::layer()`
//! to your subscriber to export them, and every request carries the W3C
//! trace context (`traceparent`) of its call's span.
//!
//! `ANTHROPIC_LOG=debug|info` turns on this crate's request logging in the
//! examples, as the official SDK's variable does: see [`log_directive`].

use tracing::field::Empty;

/// The span of one work item a worker serves.
pub const WORK_ITEM_SPAN: &str = "anthropic.environment.work";

/// Attribute (span field) names.
pub mod attribute {
    /// The environment of a work item.
    pub const ENVIRONMENT_ID: &str = "anthropic.environment.id";
    /// A work item's id.
    pub const WORK_ID: &str = "anthropic.environment.work.id";
    /// The session a work item runs.
    pub const SESSION_ID: &str = "anthropic.session.id";
    /// The HTTP method of an API call.
    pub const HTTP_METHOD: &str = "http.request.method";
    /// The path template of an API call.
    pub const HTTP_ROUTE: &str = "http.route";
    /// The host an API call went to.
    pub const SERVER_ADDRESS: &str = "server.address";
    /// The status of an API call's last answer.
    pub const HTTP_STATUS: &str = "http.response.status_code";
    /// How many times an API call was sent again (set on retries).
    pub const RESEND_COUNT: &str = "http.request.resend_count";
    /// The `request-id` of an API call's last answer.
    pub const REQUEST_ID: &str = "anthropic.request.id";
    /// Why a call or an item failed: the HTTP status, `timeout`,
    /// `connection`, or the handler's outcome.
    pub const ERROR_TYPE: &str = "error.type";
}

use crate::operations;

/// The span name of an operation (the spec's operationId), as the official
/// SDK names it.
///
/// ```
/// use anthropic_environments::telemetry::api_call_span_name;
/// assert_eq!(api_call_span_name("poll_work"), Some("anthropic.environments.work.poll"));
/// assert_eq!(api_call_span_name("nope"), None);
/// ```
pub fn api_call_span_name(operation_id: &str) -> Option<&'static str> {
    operations::find(operation_id).map(|op| op.span_name)
}

fn route(operation_id: &str) -> &'static str {
    operations::find(operation_id).map_or("", |op| op.path)
}

/// One INFO span with the API call fields; `$name` must be a literal.
macro_rules! call_span {
    ($name:expr, $method:expr, $route:expr, $host:expr) => {
        tracing::info_span!(
            target: "anthropic_environments",
            $name,
            "otel.kind" = "client",
            "http.request.method" = $method,
            "http.route" = $route,
            "server.address" = $host,
            "http.response.status_code" = Empty,
            "http.request.resend_count" = Empty,
            "anthropic.request.id" = Empty,
            "error.type" = Empty,
            "otel.status_code" = Empty,
        )
    };
}

/// The span of one API call (all its attempts).
pub(crate) fn api_call_span(operation_id: &str, method: &str, host: &str) -> tracing::Span {
    use operations as ops;
    let route = route(operation_id);
    // A span's name is static (it is in its callsite): one callsite per
    // operation; the test below holds them to the generated table.
    macro_rules! one_span_per_operation {
        ($($op:ident),* $(,)?) => {
            $(
                if operation_id == ops::$op.id {
                    return call_span!(ops::$op.span_name, method, route, host);
                }
            )*
        };
    }
    // The operations' names come from the generated table.
    anthropic_environments_raw::with_every_operation!(one_span_per_operation);
    call_span!("anthropic.environments.call", method, route, host)
}

/// The `tracing-subscriber` filter directive that `ANTHROPIC_LOG` asks for
/// (`debug` or `info`: this crate's logs at that level), as the official
/// SDK reads the variable; `None` when it is unset or another value.
///
/// ```
/// // In a binary: EnvFilter::new(log_directive().unwrap_or("warn".into()))
/// let _ = anthropic_environments::telemetry::log_directive();
/// ```
pub fn log_directive() -> Option<String> {
    let level = std::env::var("ANTHROPIC_LOG").ok()?;
    match level.trim().to_ascii_lowercase().as_str() {
        level @ ("debug" | "info") => Some(format!("anthropic_environments={level}")),
        _ => None,
    }
}

/// Writes the W3C trace context (`traceparent`, `tracestate`) of `span` into
/// request headers (feature `opentelemetry`): the API call's span, as
/// `tracing-opentelemetry` exports it, becomes the parent of the server's.
#[cfg(feature = "opentelemetry")]
pub(crate) fn inject_trace_context(span: &tracing::Span, headers: &mut reqwest::header::HeaderMap) {
    use opentelemetry::propagation::{Injector, TextMapPropagator};
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    struct Headers<'a>(&'a mut reqwest::header::HeaderMap);
    impl Injector for Headers<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(key.as_bytes()),
                reqwest::header::HeaderValue::from_str(&value),
            ) {
                self.0.insert(name, value);
            }
        }
    }
    let context = span.context();
    opentelemetry_sdk::propagation::TraceContextPropagator::new()
        .inject_context(&context, &mut Headers(headers));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_the_official_span_name_and_a_route() {
        // A subscriber, so that spans carry their metadata.
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry());
        for op in operations::ALL {
            assert_eq!(api_call_span_name(op.id), Some(op.span_name));
            // Named as the official SDKs' resources: environments (and their
            // work), sessions, skills; each route under its resource.
            let resource = op.span_name.split('.').nth(1).unwrap();
            assert!(
                ["environments", "sessions", "skills"].contains(&resource),
                "{}",
                op.span_name
            );
            assert!(
                op.path.starts_with(&format!("/v1/{resource}")),
                "{}",
                op.path
            );
            // Its own span, not the fallback: every operation has an arm.
            let span = api_call_span(op.id, op.method, "localhost");
            assert_eq!(span.metadata().map(|m| m.name()), Some(op.span_name));
        }
        let span = api_call_span("nope", "GET", "localhost");
        assert_eq!(
            span.metadata().map(|m| m.name()),
            Some("anthropic.environments.call")
        );
    }
}
