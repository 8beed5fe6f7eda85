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
