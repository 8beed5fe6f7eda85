//! Shared helpers of the worker's tests.
#![allow(dead_code, unused_imports)]

use anthropic_environments::Client;
pub use anthropic_environments_test_support::{CapturedLogs, SpanCapture, SpanRecord};

/// A client of the mock `server` (any-key mode, default retries) and a new
/// self-hosted environment named `name` in it.
pub async fn mock_environment(
    server: &anthropic_environments_mock::MockServer,
    name: &str,
) -> (Client, String) {
    let client = Client::builder()
        .api_key("k")
        .base_url(server.base_url())
        .build()
        .unwrap();
    let env = server.create_environment(name).unwrap();
    (client, env)
}

/// Takes the lease of `work_id` over, as another holder would: heartbeats
/// with the lease's latest `last_heartbeat` until one is accepted (the
/// worker's own heartbeats may move it in between).
pub async fn take_lease_over(queue: &anthropic_environments::WorkQueue, work_id: &str) {
    let latest = || async {
        queue
            .retrieve(work_id)
            .send()
            .await
            .unwrap()
            .latest_heartbeat_at
            .unwrap()
    };
    let mut current = latest().await;
    loop {
        match queue
            .heartbeat(work_id)
            .expected_last_heartbeat(&current)
            .send()
            .await
        {
            Ok(_) => return,
            Err(e) if e.is_lease_held_elsewhere() => current = latest().await,
            Err(e) => panic!("{e}"),
        }
    }
}
