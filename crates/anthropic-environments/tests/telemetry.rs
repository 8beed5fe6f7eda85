//! Spans with the official SDK's names and attributes: one per API call,
//! one per work item, the item's calls its children.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anthropic_environments::worker::{WorkContext, Worker, WorkerTiming};
use anthropic_environments_mock::MockServer;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Clone, Debug)]
struct SpanRecord {
    name: &'static str,
    parent: Option<usize>,
    fields: BTreeMap<String, String>,
}

/// Records every span: its name, its parent (an index in the list) and its
/// fields as they are set.
#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<Vec<SpanRecord>>>,
    index: Arc<Mutex<HashMap<u64, usize>>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let index = self.index.lock().unwrap();
        let parent = ctx
            .span(id)
            .and_then(|s| s.parent())
            .and_then(|p| index.get(&p.id().into_u64()).copied());
        drop(index);
        let mut spans = self.spans.lock().unwrap();
        spans.push(SpanRecord {
            name: attrs.metadata().name(),
            parent,
            fields,
        });
        self.index
            .lock()
            .unwrap()
            .insert(id.into_u64(), spans.len() - 1);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        if let Some(&i) = self.index.lock().unwrap().get(&id.into_u64()) {
            values.record(&mut Fields(&mut self.spans.lock().unwrap()[i].fields));
        }
    }
}

#[tokio::test]
async fn api_calls_and_work_items_have_the_official_spans() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    let (client, env) = common::mock_environment(&server, "spans").await;
    let item = server.queue_work(&env, "session_traced").unwrap();
    server.queue_healthcheck(&env, "hc").unwrap();
    Worker::builder(client.work(&env))
        .drain(true)
        .timing(WorkerTiming {
            idle_sleep: (Duration::from_millis(1), Duration::from_millis(2)),
            ..WorkerTiming::default()
        })
        .build()
        .run(|_ctx: WorkContext| async { Ok::<(), std::io::Error>(()) })
        .await
        .unwrap();
    let missing = client.environments().retrieve("env_missing").send().await;
    assert!(missing.is_err());

    let spans = capture.spans.lock().unwrap().clone();
    let named = |name: &str| -> Vec<(usize, &SpanRecord)> {
        spans
            .iter()
            .enumerate()
            .filter(|(_, s)| s.name == name)
            .collect()
    };
    let create = named("anthropic.environments.create");
    assert_eq!(create.len(), 1);
    let create = &create[0].1.fields;
    assert_eq!(create["otel.kind"], "client");
    assert_eq!(create["http.request.method"], "POST");
    assert_eq!(create["http.route"], "/v1/environments");
    assert_eq!(create["server.address"], "127.0.0.1");
    assert_eq!(create["http.response.status_code"], "200");
    assert!(create["anthropic.request.id"].starts_with("req_mock_"));
    assert!(!create.contains_key("error.type"));

    let items = named("anthropic.environment.work");
    assert_eq!(items.len(), 2, "one span per item");
    let (session_index, session_span) = items
        .iter()
        .find(|(_, s)| {
            s.fields.get("anthropic.session.id").map(String::as_str) == Some("session_traced")
        })
        .copied()
        .expect("the session item's span");
    assert_eq!(session_span.fields["anthropic.environment.id"], env);
    assert_eq!(
        session_span.fields["anthropic.environment.work.id"],
        item.id
    );
    assert_eq!(session_span.fields["otel.kind"], "internal");
    assert_eq!(session_span.fields["otel.status_code"], "OK");
    for name in [
        "anthropic.environments.work.heartbeat",
        "anthropic.environments.work.stop",
    ] {
        let calls = named(name);
        assert!(
            calls.iter().any(|(_, s)| s.parent == Some(session_index)),
            "{name} is a child of the item's span: {calls:?}"
        );
    }
    let polls = named("anthropic.environments.work.poll");
    assert!(!polls.is_empty());
    assert!(
        polls.iter().all(|(_, s)| s.parent != Some(session_index)),
        "polls are not the item's"
    );
    assert_eq!(
        polls[0].1.fields["http.route"],
        "/v1/environments/{environment_id}/work/poll"
    );
    let failed = named("anthropic.environments.retrieve");
    let failed = &failed.last().unwrap().1.fields;
    assert_eq!(failed["http.response.status_code"], "404");
    assert_eq!(failed["error.type"], "404");
    assert_eq!(failed["otel.status_code"], "ERROR");
}

#[tokio::test]
async fn a_call_sent_again_after_a_cut_answer_is_one_span() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    // The first answer breaks off; the call sends the request again.
    let (base_url, _) = common::breaks_mid_answer(1).await;
    let (client, _) = common::client_at(&base_url);
    client
        .environments()
        .retrieve("env_1")
        .send()
        .await
        .unwrap();
    // Every answer breaks off: the call gives up and its span says why.
    let (base_url, _) = common::breaks_mid_answer(usize::MAX).await;
    let client = anthropic_environments::Client::builder()
        .api_key(common::KEY)
        .base_url(&base_url)
        .max_retries(1)
        .sleep_impl(Arc::new(common::RecordingSleep::default()))
        .build()
        .unwrap();
    let err = client.environments().retrieve("env_1").send().await;
    assert!(err.is_err());

    let spans = capture.spans.lock().unwrap().clone();
    let retrieves: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "anthropic.environments.retrieve")
        .collect();
    assert_eq!(retrieves.len(), 2, "one span per call: {retrieves:?}");
    assert_eq!(retrieves[0].fields["http.request.resend_count"], "1");
    assert!(!retrieves[0].fields.contains_key("error.type"));
    assert_eq!(retrieves[1].fields["http.request.resend_count"], "1");
    assert_eq!(retrieves[1].fields["error.type"], "connection");
    assert_eq!(retrieves[1].fields["otel.status_code"], "ERROR");
}

#[tokio::test]
async fn a_call_retried_past_an_error_status_ends_as_its_last_answer() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = answered.clone();
    let server = common::server(move |_| {
        if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            common::api_error(503, "overloaded_error", "try again")
        } else {
            common::ok(common::env_json("env_1"))
        }
    })
    .await;
    let (client, _) = common::client(&server);
    client
        .environments()
        .retrieve("env_1")
        .send()
        .await
        .unwrap();
    // Every answer is an error: the call's span says so.
    let server = common::server(|_| common::api_error(503, "overloaded_error", "no")).await;
    let (client, _) = common::client(&server);
    let err = client
        .environments()
        .retrieve("env_1")
        .max_retries(1)
        .send()
        .await;
    assert!(err.is_err());

    let spans = capture.spans.lock().unwrap().clone();
    let retrieves: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "anthropic.environments.retrieve")
        .collect();
    assert_eq!(retrieves.len(), 2, "one span per call: {retrieves:?}");
    let recovered = &retrieves[0].fields;
    assert_eq!(recovered["http.request.resend_count"], "1");
    assert_eq!(recovered["http.response.status_code"], "200");
    assert!(!recovered.contains_key("error.type"), "{recovered:?}");
    assert!(!recovered.contains_key("otel.status_code"), "{recovered:?}");
    let failed = &retrieves[1].fields;
    assert_eq!(failed["http.response.status_code"], "503");
    assert_eq!(failed["error.type"], "503");
    assert_eq!(failed["otel.status_code"], "ERROR");
}
