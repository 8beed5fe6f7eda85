//! The `opentelemetry` feature: the spans export through
//! tracing-opentelemetry with their names, kinds, attributes, statuses and
//! parents, and every request carries the W3C trace context of its call's
//! span. `cargo xtask test` runs it with the feature on.
#![cfg(feature = "opentelemetry")]

mod common;

use std::time::Duration;

use anthropic_environments_mock::MockServer;
use anthropic_environments_worker::{WorkContext, Worker, WorkerTiming};
use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

#[tokio::test(start_paused = true)]
async fn spans_export_with_their_parents_and_requests_carry_traceparent() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    let (client, env) = common::mock_environment(&server, "otel").await;
    let item = server.queue_work(&env, "session_otel").unwrap();
    Worker::builder(client.work(&env))
        .drain(true)
        .timing(WorkerTiming {
            idle_sleep: (Duration::from_millis(1), Duration::from_millis(2)),
            ..WorkerTiming::default()
        })
        .build()
        .unwrap()
        .run(|_ctx: WorkContext| async { Ok::<(), std::io::Error>(()) })
        .await
        .unwrap();
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();

    let item_span = spans
        .iter()
        .find(|s| s.name == "anthropic.environment.work")
        .expect("the item's span");
    assert_eq!(item_span.span_kind, SpanKind::Internal);
    assert_eq!(item_span.status, Status::Ok);
    assert_eq!(
        attribute(item_span, "anthropic.environment.work.id").as_deref(),
        Some(item.id.as_str())
    );
    assert_eq!(
        attribute(item_span, "anthropic.session.id").as_deref(),
        Some("session_otel")
    );
    let heartbeat = spans
        .iter()
        .find(|s| s.name == "anthropic.environments.work.heartbeat")
        .expect("the heartbeat's span");
    assert_eq!(heartbeat.span_kind, SpanKind::Client);
    assert_eq!(heartbeat.parent_span_id, item_span.span_context.span_id());
    assert_eq!(
        heartbeat.span_context.trace_id(),
        item_span.span_context.trace_id()
    );
    assert_eq!(
        attribute(heartbeat, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert!(
        attribute(heartbeat, "anthropic.request.id")
            .unwrap()
            .starts_with("req_mock_")
    );

    // On the wire: the heartbeat carried its own span as the parent.
    let sent = &server.requests_for("heartbeat_work")[0];
    let traceparent = sent.header("traceparent").expect("a traceparent header");
    assert_eq!(
        traceparent,
        format!(
            "00-{}-{}-01",
            heartbeat.span_context.trace_id(),
            heartbeat.span_context.span_id()
        )
    );
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("traceparent").is_some()),
        "every request carries trace context"
    );
}
