//! Shared helpers of the mock's tests.
#![allow(dead_code)]

use anthropic_environments::Client;
use anthropic_environments::params::SelfHostedConfig;
use anthropic_environments_mock::MockServer;

/// A facade client of `server` that does not retry (each request is one
/// journal entry).
pub fn client(server: &MockServer) -> Client {
    Client::builder()
        .api_key("k")
        .base_url(server.base_url())
        .max_retries(0)
        .build()
        .unwrap()
}

/// Creates a self-hosted environment; its id.
pub async fn self_hosted(client: &Client, name: &str) -> String {
    client
        .environments()
        .create(name)
        .config(SelfHostedConfig)
        .send()
        .await
        .unwrap()
        .id
}
