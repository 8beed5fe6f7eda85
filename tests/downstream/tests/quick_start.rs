//! The downstream quick start against the mock server.

use anthropic_environments::Client;
use anthropic_environments::prelude::WorkDataExt;
use anthropic_environments_mock::MockServer;

#[tokio::test]
async fn quick_start_runs_against_the_mock() {
    let server = MockServer::start().await;
    let client = Client::builder()
        .api_key("k")
        .base_url(server.base_url())
        .build()
        .unwrap();
    let report = downstream_check::quick_start(&client).await.unwrap();
    assert_eq!(report.names, ["downstream-cloud", "downstream-self-hosted"]);
    let (none, _) = downstream_check::work_once(&client, &report.environment.id)
        .await
        .unwrap();
    assert!(none.is_none());
    server
        .queue_work(&report.environment.id, "session_1")
        .unwrap();
    let (done, stats) = downstream_check::work_once(&client, &report.environment.id)
        .await
        .unwrap();
    let done = done.expect("the queued item was processed");
    assert_eq!(done.session_id(), Some("session_1"));
    assert_eq!((stats.depth, stats.pending), (0, 0));
    let err = client
        .environments()
        .retrieve("env_missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(downstream_check::describe(&err), "not found");
}
