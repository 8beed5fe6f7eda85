//! The generated client puts every input where the spec says (path, query,
//! header, body) and the hand-written hooks shape the request as the
//! official SDK does. Runs against the mock's stateless conformance mode
//! on 127.0.0.1, which validates each request against the spec, and reads
//! its journal.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::Arc;

use anthropic_environments_mock::{MockMode, MockServer};
use anthropic_environments_raw::{Client, hooks::Inner, prelude::*, types};
use anthropic_environments_tests::{Recorded, RecordingServer};
use axum::http::StatusCode;
use serde_json::json;

/// The mock in its stateless conformance mode: it validates every input
/// against the spec, answers from the spec's examples, and journals each
/// request as it came (method, path, query, headers, body).
async fn setup() -> (MockServer, Client) {
    let server = MockServer::builder()
        .mode(MockMode::Stateless)
        .start()
        .await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        "Bearer sk-ant-raw".parse().unwrap(),
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let client = Client::new_with_client(&server.base_url(), http, Inner::default());
    (server, client)
}

const BETA: &str = "files-api-2025-04-14,managed-agents-2026-04-01";

#[tokio::test]
async fn environment_operations_with_every_input() {
    let (server, c) = setup().await;
    let created = c
        .create_environment()
        .anthropic_beta(BETA)
        .anthropic_workspace_id("wrkspc_1")
        .body(
            types::EnvironmentCreateParams::builder()
                .name("n")
                .config(Some(types::BetaEnvironmentConfigParams::SelfHosted(
                    types::BetaSelfHostedConfigParams::builder()
                        .type_(types::BetaSelfHostedConfigParamsType::SelfHosted)
                        .try_into()
                        .unwrap(),
                )))
                .description(Some("d".to_owned()))
                .metadata(std::collections::HashMap::from([(
                    "k".to_owned(),
                    "v".to_owned(),
                )]))
                .scope(Some(types::BetaEnvironmentScope::Account)),
        )
        .send()
        .await
        .unwrap();
    let request_id = created.headers()["request-id"].to_str().unwrap();
    assert!(request_id.starts_with("req_mock_"), "{request_id}");
    let page = c
        .list_environments()
        .include_archived(true)
        .limit(5)
        .page("page_1")
        .anthropic_beta(BETA)
        .anthropic_workspace_id("wrkspc_1")
        .send()
        .await
        .unwrap()
        .into_inner();
    // The spec's example page, decoded.
    assert_eq!(
        page.next_page.as_deref(),
        Some("page_MjAyNS0wNS0xNFQwMDowMDowMFo=")
    );
    c.retrieve_environment()
        .environment_id("env_1")
        .anthropic_beta(BETA)
        .send()
        .await
        .unwrap();
    c.update_environment()
        .environment_id("env_1")
        .anthropic_beta(BETA)
        .body(
            types::EnvironmentUpdateParams::builder().metadata(std::collections::HashMap::from([
                ("gone".to_owned(), None),
                ("kept".to_owned(), Some("x".to_owned())),
            ])),
        )
        .send()
        .await
        .unwrap();
    let deleted = c
        .delete_environment()
        .environment_id("env_1")
        .anthropic_beta(BETA)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.id, "env_1");
    c.archive_environment()
        .environment_id("env_1")
        .anthropic_beta(BETA)
        .send()
        .await
        .unwrap();

    let reqs = server.requests();
    assert_eq!(reqs.len(), 6);
    for r in &reqs {
        assert_eq!(
            r.header("anthropic-beta"),
            Some(BETA),
            "{} {}",
            r.method,
            r.path
        );
        assert!(
            r.header("api-version").is_none(),
            "api-version must be stripped"
        );
    }
    let (create, list, get, update, delete, archive) =
        (&reqs[0], &reqs[1], &reqs[2], &reqs[3], &reqs[4], &reqs[5]);
    assert_eq!(
        (create.method.as_str(), create.path.as_str()),
        ("POST", "/v1/environments")
    );
    assert_eq!(create.header("anthropic-workspace-id"), Some("wrkspc_1"));
    assert_eq!(
        create.json().unwrap(),
        json!({"name": "n", "config": {"type": "self_hosted"}, "description": "d",
               "metadata": {"k": "v"}, "scope": "account"})
    );
    assert_eq!(
        (list.method.as_str(), list.path.as_str()),
        ("GET", "/v1/environments")
    );
    let q: HashMap<_, _> = list.query_pairs().into_iter().collect();
    assert_eq!(q["include_archived"], "true");
    assert_eq!(q["limit"], "5");
    assert_eq!(q["page"], "page_1");
    assert_eq!(
        (get.method.as_str(), get.path.as_str()),
        ("GET", "/v1/environments/env_1")
    );
    assert_eq!(
        (update.method.as_str(), update.path.as_str()),
        ("POST", "/v1/environments/env_1")
    );
    assert_eq!(
        update.json().unwrap(),
        json!({"metadata": {"gone": null, "kept": "x"}})
    );
    assert_eq!(
        (delete.method.as_str(), delete.path.as_str()),
        ("DELETE", "/v1/environments/env_1")
    );
    assert!(delete.body.is_empty());
    assert_eq!(
        (archive.method.as_str(), archive.path.as_str()),
        ("POST", "/v1/environments/env_1/archive")
    );
    assert!(archive.body.is_empty());
    assert_eq!(archive.header("content-length"), Some("0"));
}

#[tokio::test]
async fn empty_update_sends_an_empty_object() {
    let (server, c) = setup().await;
    c.update_environment()
        .environment_id("env_1")
        .body(types::EnvironmentUpdateParams::default())
        .send()
        .await
        .unwrap();
    assert_eq!(server.requests()[0].json().unwrap(), json!({}));
}

#[tokio::test]
async fn work_operations_with_every_input() {
    let (server, c) = setup().await;
    let polled = c
        .poll_work()
        .environment_id("env_1")
        .block_ms(NonZeroU64::new(999).unwrap())
        .reclaim_older_than_ms(5000)
        .anthropic_worker_id("worker-1")
        .anthropic_beta(BETA)
        .send()
        .await
        .unwrap()
        .into_inner();
    // The stateless mock answers poll with the spec's work example, its
    // environment id echoed from the path (a JSON null, no work, is covered
    // by the facade's and forward-compatibility tests).
    assert_eq!(polled.map(|w| w.environment_id).as_deref(), Some("env_1"));
    c.ack_work()
        .environment_id("env_1")
        .work_id("work_1")
        .anthropic_beta(BETA)
        .send()
        .await
        .unwrap();
    let hb = c
        .heartbeat_work()
        .environment_id("env_1")
        .work_id("work_1")
        .desired_ttl_seconds(30)
        .expected_last_heartbeat("NO_HEARTBEAT")
        .anthropic_beta(BETA)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(hb.lease_extended);
    c.stop_work()
        .environment_id("env_1")
        .work_id("work_1")
        .anthropic_beta(BETA)
        .body(types::BetaSelfHostedWorkStopRequest::builder().force(Some(true)))
        .send()
        .await
        .unwrap();
    c.stop_work()
        .environment_id("env_1")
        .work_id("work_1")
        .body(types::BetaSelfHostedWorkStopRequest::default())
        .send()
        .await
        .unwrap();
    let list = c
        .list_work()
        .environment_id("env_1")
        .limit(10)
        .page("p2")
        .anthropic_beta(BETA)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.data.len(), 1);
    c.update_work()
        .environment_id("env_1")
        .work_id("work_1")
        .anthropic_workspace_id("wrkspc_1")
        .body(types::BetaSelfHostedWorkUpdateRequest::builder().metadata(
            std::collections::HashMap::from([
                ("a".to_owned(), Some("1".to_owned())),
                ("b".to_owned(), None),
            ]),
        ))
        .send()
        .await
        .unwrap();
    let stats = c
        .work_stats()
        .environment_id("env_1")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        stats.type_,
        types::BetaSelfHostedWorkQueueStatsType::WorkQueueStats
    );
    let got = c
        .retrieve_work()
        .environment_id("env_1")
        .work_id("work_1")
        .send()
        .await
        .unwrap();
    assert_eq!(got.into_inner().state, types::BetaWorkState::Queued);

    let reqs = server.requests();
    assert_eq!(reqs.len(), 9);
    let poll = &reqs[0];
    assert_eq!(
        (poll.method.as_str(), poll.path.as_str()),
        ("GET", "/v1/environments/env_1/work/poll")
    );
    let q: HashMap<_, _> = poll.query_pairs().into_iter().collect();
    assert_eq!(q["block_ms"], "999");
    assert_eq!(q["reclaim_older_than_ms"], "5000");
    assert_eq!(poll.header("anthropic-worker-id"), Some("worker-1"));
    let ack = &reqs[1];
    assert_eq!(
        (ack.method.as_str(), ack.path.as_str()),
        ("POST", "/v1/environments/env_1/work/work_1/ack")
    );
    assert_eq!(ack.header("content-length"), Some("0"));
    let hb = &reqs[2];
    assert_eq!(hb.path, "/v1/environments/env_1/work/work_1/heartbeat");
    assert_eq!(hb.header("content-length"), Some("0"));
    assert!(hb.body.is_empty());
    let q: HashMap<_, _> = hb.query_pairs().into_iter().collect();
    assert_eq!(q["desired_ttl_seconds"], "30");
    assert_eq!(q["expected_last_heartbeat"], "NO_HEARTBEAT");
    assert_eq!(reqs[3].path, "/v1/environments/env_1/work/work_1/stop");
    assert_eq!(reqs[3].json().unwrap(), json!({"force": true}));
    assert_eq!(reqs[4].json().unwrap(), json!({}));
    assert_eq!(
        (reqs[5].method.as_str(), reqs[5].path.as_str()),
        ("GET", "/v1/environments/env_1/work")
    );
    let q: HashMap<_, _> = reqs[5].query_pairs().into_iter().collect();
    assert_eq!((q["limit"].as_str(), q["page"].as_str()), ("10", "p2"));
    assert_eq!(
        (reqs[6].method.as_str(), reqs[6].path.as_str()),
        ("POST", "/v1/environments/env_1/work/work_1")
    );
    assert_eq!(reqs[6].header("anthropic-workspace-id"), Some("wrkspc_1"));
    assert_eq!(
        reqs[6].json().unwrap(),
        json!({"metadata": {"a": "1", "b": null}})
    );
    assert_eq!(
        (reqs[7].method.as_str(), reqs[7].path.as_str()),
        ("GET", "/v1/environments/env_1/work/stats")
    );
    assert_eq!(
        (reqs[8].method.as_str(), reqs[8].path.as_str()),
        ("GET", "/v1/environments/env_1/work/work_1")
    );
}

#[tokio::test]
async fn path_segments_are_percent_encoded() {
    let (server, c) = setup().await;
    c.retrieve_environment()
        .environment_id("env 1/..")
        .send()
        .await
        .unwrap();
    assert_eq!(server.requests()[0].path, "/v1/environments/env%201%2F..");
}

#[tokio::test]
async fn error_responses_decode_into_the_envelope() {
    let server = RecordingServer::start(Arc::new(|_r: &Recorded| {
        (
            StatusCode::PRECONDITION_FAILED,
            vec![("request-id".into(), "req_412".into())],
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "held",
                "details": {"error_code": "heartbeat_precondition_failed", "current_state":
                {"last_heartbeat": "t1", "lease_extended": false, "state": "active", "ttl_seconds": 60}}}})
            .to_string(),
        )
    }))
    .await;
    let c = Client::new(&server.base_url, Inner::default());
    let err = c
        .heartbeat_work()
        .environment_id("env_1")
        .work_id("w")
        .expected_last_heartbeat("t0")
        .send()
        .await
        .unwrap_err();
    let progenitor_client::Error::ErrorResponse(rv) = err else {
        panic!("{err:?}")
    };
    assert_eq!(rv.status(), 412);
    assert_eq!(rv.headers()["request-id"], "req_412");
    let Some(types::ErrorDetails::HeartbeatPreconditionFailed(d)) = &rv.error.details else {
        panic!("{:?}", rv.error.details)
    };
    assert_eq!(d.current_state.last_heartbeat.as_deref(), Some("t1"));
}
