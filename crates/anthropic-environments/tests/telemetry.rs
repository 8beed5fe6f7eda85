//! Spans with the official SDK's names and attributes, one per API call.
//! (The work item's span and its children: the worker crate's tests.)

mod common;

use std::sync::Arc;

use anthropic_environments_mock::MockServer;
use anthropic_environments_test_support::{SpanCapture, SpanRecord};
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test]
async fn api_calls_have_the_official_spans() {
    let capture = SpanCapture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    let (client, _) = common::client_at(&server.base_url());
    // Created through the client: its span is under test.
    let env = client
        .environments()
        .create("spans")
        .config(anthropic_environments::params::SelfHostedConfig)
        .send()
        .await
        .unwrap()
        .id;
    server.queue_work(&env, "session_traced").unwrap();
    let polled = client.work(&env).poll().send().await.unwrap();
    assert!(polled.is_some());
    let missing = client.environments().retrieve("env_missing").send().await;
    assert!(missing.is_err());

    let spans = capture.spans();
    let named =
        |name: &str| -> Vec<&SpanRecord> { spans.iter().filter(|s| s.name == name).collect() };
    let create = named("anthropic.environments.create");
    assert_eq!(create.len(), 1);
    let create = &create[0].fields;
    assert_eq!(create["otel.kind"], "client");
    assert_eq!(create["http.request.method"], "POST");
    assert_eq!(create["http.route"], "/v1/environments");
    assert_eq!(create["server.address"], "127.0.0.1");
    assert_eq!(create["http.response.status_code"], "200");
    assert!(create["anthropic.request.id"].starts_with("req_mock_"));
    assert!(!create.contains_key("error.type"));
    let polls = named("anthropic.environments.work.poll");
    assert_eq!(polls.len(), 1);
    assert_eq!(
        polls[0].fields["http.route"],
        "/v1/environments/{environment_id}/work/poll"
    );
    let failed = named("anthropic.environments.retrieve");
    let failed = &failed.last().unwrap().fields;
    assert_eq!(failed["http.response.status_code"], "404");
    assert_eq!(failed["error.type"], "404");
    assert_eq!(failed["otel.status_code"], "ERROR");
}

#[tokio::test]
async fn a_call_sent_again_after_a_cut_answer_is_one_span() {
    let capture = SpanCapture::default();
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

    let spans = capture.spans();
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
    let capture = SpanCapture::default();
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

    let spans = capture.spans();
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
