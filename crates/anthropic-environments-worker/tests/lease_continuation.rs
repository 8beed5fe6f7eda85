//! Continuing a live lease another process holds (the official Go SDK's
//! `HandleItem` with `ANTHROPIC_WORK_LAST_HEARTBEAT`), against the mock on
//! paused time: the first heartbeat echoes the given `last_heartbeat`; a 412
//! releases the item without a stop; an item stopped meanwhile is
//! force-stopped and the handler never runs.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anthropic_environments::{Client, Work};
use anthropic_environments_mock::{MockServer, RecordedRequest};
use anthropic_environments_worker::{
    CancelReason, ItemOutcome, ItemReport, ServeOne, StopResult, WorkContext,
};

/// Claims an item as a poller that hands it off does: poll, ack, and the
/// first heartbeat; returns the item and the lease's `last_heartbeat`.
async fn claimed(server: &MockServer, client: &Client, env: &str, session: &str) -> (Work, String) {
    server.queue_work(env, session).unwrap();
    let queue = client.work(env);
    let work = queue.poll().send().await.unwrap().unwrap();
    queue.ack(&work.id).send().await.unwrap();
    let beat = queue.heartbeat(&work.id).first().send().await.unwrap();
    server.clear_requests();
    (work, beat.last_heartbeat)
}

/// Serves `work` with ServeOne, continuing from `last_heartbeat`; returns
/// the report and whether the handler ran.
async fn continue_lease(
    server: &MockServer,
    env: &str,
    work: &Work,
    last: &str,
) -> (ItemReport, bool) {
    let ran = Arc::new(AtomicBool::new(false));
    let seen = ran.clone();
    let report = ServeOne::builder(env, &work.id, "session")
        .client_builder(Client::builder().base_url(server.base_url()))
        .environment_key("sk-ant-oat01-any")
        .last_heartbeat(last)
        .build()
        .unwrap()
        .run(move |_ctx: WorkContext| {
            seen.store(true, Ordering::SeqCst);
            async { Ok::<(), std::io::Error>(()) }
        })
        .await;
    (report, ran.load(Ordering::SeqCst))
}

fn expected_last_heartbeat(request: &RecordedRequest) -> String {
    let query = request.query.clone().unwrap_or_default();
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("expected_last_heartbeat="))
        .map(|v| v.replace("%3A", ":"))
        .unwrap_or_default()
}

fn operations(server: &MockServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .filter_map(|r| r.operation.clone())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_live_lease_is_continued_from_its_last_heartbeat() {
    let server = MockServer::start().await;
    let (client, env) = common::mock_environment(&server, "continue").await;
    let (work, last) = claimed(&server, &client, &env, "live").await;
    let (report, ran) = continue_lease(&server, &env, &work, &last).await;
    assert!(ran);
    assert_eq!(report.outcome, ItemOutcome::Succeeded);
    assert_eq!(report.stop, StopResult::Stopped);
    assert_eq!(operations(&server), ["heartbeat_work", "stop_work"]);
    let beat = &server.requests_for("heartbeat_work")[0];
    assert_eq!(beat.status, 200);
    assert_eq!(expected_last_heartbeat(beat), last, "not NO_HEARTBEAT");
}

#[tokio::test(start_paused = true)]
async fn a_lease_gone_is_released_without_a_stop() {
    let server = MockServer::start().await;
    let (client, env) = common::mock_environment(&server, "gone").await;
    let (work, _) = claimed(&server, &client, &env, "gone").await;
    // Another holder's heartbeat moved the lease on: ours is stale.
    let stale = "2026-01-01T00:00:00Z";
    let (report, ran) = continue_lease(&server, &env, &work, stale).await;
    assert!(!ran, "the handler never runs without the lease");
    assert_eq!(
        report.outcome,
        ItemOutcome::LeaseLost(CancelReason::LeaseLost)
    );
    assert_eq!(report.stop, StopResult::NotAttempted);
    assert_eq!(operations(&server), ["heartbeat_work"], "no stop");
    let beat = &server.requests_for("heartbeat_work")[0];
    assert_eq!(beat.status, 412);
    // The report says why, in the server's words.
    let error = report.error.as_deref().unwrap_or_default();
    assert!(error.starts_with("heartbeat_work: 412"), "{error}");
    assert!(error.contains("(request-id req_"), "{error}");
    assert_eq!(report.error_status, Some(412));
}

#[tokio::test(start_paused = true)]
async fn an_unknown_item_is_not_claimed_and_the_report_says_why() {
    let server = MockServer::start().await;
    let (_, env) = common::mock_environment(&server, "unknown").await;
    let work: Work = serde_json::from_value(serde_json::json!({
        "id": "work_unknown", "environment_id": env, "created_at": "",
        "data": {"type": "session", "id": "session"}, "metadata": {},
        "state": "starting", "type": "work",
    }))
    .unwrap();
    let (report, ran) = continue_lease(&server, &env, &work, "2026-01-01T00:00:00Z").await;
    assert!(!ran);
    assert_eq!(
        report.outcome,
        ItemOutcome::NotClaimed(CancelReason::HeartbeatRejected)
    );
    let beat = &server.requests_for("heartbeat_work")[0];
    assert_eq!(beat.status, 404);
    let error = report.error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("heartbeat_work: 404 Not Found not_found_error"),
        "{error}"
    );
    assert!(error.contains("(request-id req_"), "{error}");
    assert_eq!(report.error_status, Some(404));
}

#[tokio::test(start_paused = true)]
async fn a_lapsed_lease_is_force_stopped() {
    let server = MockServer::start().await;
    let (client, env) = common::mock_environment(&server, "lapsed").await;
    let (work, last) = claimed(&server, &client, &env, "lapsed").await;
    client
        .work(&env)
        .stop(&work.id)
        .force(true)
        .send()
        .await
        .unwrap();
    server.clear_requests();
    let (report, ran) = continue_lease(&server, &env, &work, &last).await;
    assert!(!ran);
    assert_eq!(
        report.outcome,
        ItemOutcome::NotClaimed(CancelReason::ServerStopping)
    );
    // One heartbeat (stopped, not extended), then one force-stop (409:
    // already stopped counts as stopped).
    assert_eq!(operations(&server), ["heartbeat_work", "stop_work"]);
    let stop = &server.requests_for("stop_work")[0];
    assert_eq!(stop.body, r#"{"force":true}"#);
    assert_eq!(report.stop, StopResult::Stopped);
    // An answer, not an error: nothing to quote.
    assert_eq!(report.error, None);
    assert_eq!(report.error_status, None);
}
