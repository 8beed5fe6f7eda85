//! The stateless conformance mode from Rust: answers from the spec's
//! examples with the path's ids, validation errors naming the field, and
//! the journal, faults and reset still working.

mod common;

use anthropic_environments::MetadataPatch;
use anthropic_environments::prelude::*;
use anthropic_environments_mock::{Fault, FaultConfig, FaultRule, MockMode, MockServer};

#[tokio::test]
async fn every_operation_answers_from_the_spec_with_the_paths_ids() {
    let server = MockServer::builder()
        .mode(MockMode::Stateless)
        .start()
        .await;
    let client = common::client(&server);
    let envs = client.environments();
    assert_eq!(envs.retrieve("env_x").send().await.unwrap().id, "env_x");
    assert_eq!(
        envs.update("env_x").name("n").send().await.unwrap().id,
        "env_x"
    );
    assert_eq!(envs.delete("env_x").send().await.unwrap().id, "env_x");
    assert_eq!(envs.archive("env_x").send().await.unwrap().id, "env_x");
    assert_eq!(
        envs.create("n").send().await.unwrap().name,
        "python-data-analysis"
    );
    assert!(envs.list().send().await.unwrap().has_next_page());
    let queue = client.work("env_x");
    let work = queue.retrieve("work_y").send().await.unwrap();
    assert_eq!(
        (work.id.as_str(), work.environment_id.as_str()),
        ("work_y", "env_x")
    );
    let polled = queue.poll().block_ms(999).send().await.unwrap().unwrap();
    assert_eq!(polled.environment_id, "env_x");
    assert_eq!(polled.session_id(), Some("id"));
    let page = queue.list().send().await.unwrap();
    assert!(page.data.iter().all(|w| w.environment_id == "env_x"));
    queue.ack("work_y").send().await.unwrap();
    queue.heartbeat("work_y").first().send().await.unwrap();
    queue.stop("work_y").force(true).send().await.unwrap();
    queue
        .update("work_y")
        .metadata_patch(MetadataPatch::new().set("k", "v"))
        .send()
        .await
        .unwrap();
    queue.stats().send().await.unwrap();
    let ops: Vec<String> = server
        .requests()
        .into_iter()
        .map(|r| r.operation.unwrap())
        .collect();
    assert_eq!(ops.len(), 14);
    let distinct: std::collections::BTreeSet<_> = ops.iter().collect();
    assert_eq!(distinct.len(), 14, "every operation once: {ops:?}");
    // Stateless: nothing was kept.
    assert_eq!(
        envs.retrieve("env_x").send().await.unwrap().name,
        "python-data-analysis"
    );

    // Faults and reset still work.
    server.set_faults(FaultConfig::rules([FaultRule::on_operation(
        "work_stats",
        Fault::Status(529),
    )]));
    assert!(queue.stats().send().await.unwrap_err().is_overloaded());
    server.reset();
    queue.stats().send().await.unwrap();
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn an_invalid_request_is_a_400_naming_the_field() {
    let server = MockServer::builder()
        .mode(MockMode::Stateless)
        .start()
        .await;
    let http = reqwest::Client::new();
    let cases = [
        (
            "POST",
            "/v1/environments",
            Some(
                r#"{"name": "n", "config": {"type": "cloud", "networking": {"type": "limited", "allowed_hosts": "h"}}}"#,
            ),
            "config.networking.allowed_hosts",
        ),
        ("GET", "/v1/environments?limit=x", None, "limit"),
        (
            "POST",
            "/v1/environments/e/work/w/stop",
            Some(r#"{"force": 1}"#),
            "force",
        ),
    ];
    for (method, path, body, field) in cases {
        let mut request = http
            .request(
                method.parse().unwrap(),
                format!("{}{path}", server.base_url()),
            )
            .bearer_auth("k");
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{path}: {message}");
    }
    let response = http
        .get(format!("{}/v1/nowhere", server.base_url()))
        .bearer_auth("k")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

/// The session and skill calls are answered and validated from the spec
/// too: the documented examples (a stream's text, an archive's bytes), and
/// a send whose body breaks the spec refused with the field named.
#[tokio::test]
async fn the_session_and_skill_calls_answer_from_the_spec() {
    use futures::{StreamExt, TryStreamExt};
    let server = MockServer::builder()
        .mode(MockMode::Stateless)
        .start()
        .await;
    let client = common::client(&server);
    let session = client.sessions().retrieve("sesn_x").send().await.unwrap();
    assert_eq!(session.status.as_str(), "running");
    let page = client
        .sessions()
        .events("sesn_x")
        .list()
        .send()
        .await
        .unwrap();
    assert!(!page.data.is_empty());
    let stream = client
        .sessions()
        .events("sesn_x")
        .stream()
        .send()
        .await
        .unwrap();
    let events: Vec<_> = stream.collect().await;
    assert_eq!(events.len(), 2, "the example's two events: {events:?}");
    assert!(events.iter().all(Result::is_ok));
    let version = client
        .skills()
        .retrieve_version("skill_x", "latest")
        .send()
        .await
        .unwrap();
    let bytes: Vec<_> = client
        .skills()
        .download_version("skill_x", &version.id)
        .send()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(bytes.iter().all(|b| b.is_empty()), "no documented archive");
    // A body the spec refuses: `events` must be an array.
    let refused = reqwest::Client::new()
        .post(format!("{}/v1/sessions/sesn_x/events", server.base_url()))
        .bearer_auth("k")
        .header("anthropic-beta", "managed-agents-2026-04-01")
        .json(&serde_json::json!({"events": "not a list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("events"));
}
