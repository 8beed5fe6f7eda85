//! The headers every request carries.

mod common;

use anthropic_environments::params::SelfHostedConfig;
use anthropic_environments::{API_VERSION, Client, USER_AGENT};
use anthropic_environments_mock::{CallerKind, MockServer};
use common::*;

/// A mock server that accepts only [`KEY`], with one environment, and its
/// journal emptied: what a test then sends is all the journal holds.
async fn mock_with_environment() -> (MockServer, String) {
    let server = MockServer::builder().api_key(KEY).start().await;
    let client = mock_client(&server);
    let env = client
        .environments()
        .create("headers")
        .config(SelfHostedConfig)
        .send()
        .await
        .unwrap()
        .id;
    server.clear_requests();
    (server, env)
}

fn mock_client(server: &MockServer) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(server.base_url())
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_request_carries_auth_version_agent_and_betas() {
    let (server, env) = mock_with_environment().await;
    let client = mock_client(&server);
    client.environments().retrieve(&env).send().await.unwrap();
    let r = &server.requests()[0];
    // The mock accepts only KEY: an API key caller means the bearer was KEY.
    assert_eq!(r.caller, CallerKind::ApiKey);
    assert_eq!(r.header("authorization"), Some("Bearer <redacted>"));
    assert!(r.header("x-api-key").is_none());
    assert_eq!(r.header("anthropic-version"), Some(API_VERSION));
    assert_eq!(API_VERSION, "2026-10-21");
    assert_eq!(r.header("user-agent"), Some(USER_AGENT));
    assert!(USER_AGENT.starts_with("anthropic-environments-rust/"));
    assert_eq!(
        r.header("anthropic-beta"),
        Some("managed-agents-2026-04-01")
    );
    assert!(r.header("api-version").is_none());
    assert!(r.header("anthropic-workspace-id").is_none());
}

#[tokio::test]
async fn betas_client_first_then_request_then_managed_agents_without_duplicates() {
    let (server, env) = mock_with_environment().await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(server.base_url())
        .beta("files-api-2025-04-14")
        .beta("managed-agents-2026-04-01")
        .build()
        .unwrap();
    client
        .environments()
        .retrieve(&env)
        .beta("skills-2025-10-02")
        .beta("files-api-2025-04-14")
        .send()
        .await
        .unwrap();
    assert_eq!(
        server.requests()[0].header("anthropic-beta"),
        Some("files-api-2025-04-14,skills-2025-10-02,managed-agents-2026-04-01")
    );
}

#[tokio::test]
async fn workspace_per_client_and_per_request_and_extra_headers() {
    let (server, env) = mock_with_environment().await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(server.base_url())
        .workspace_id("wrkspc_client")
        .default_header("x-team", "infra")
        .api_version("2099-01-01")
        .build()
        .unwrap();
    let envs = client.environments();
    envs.retrieve(&env).send().await.unwrap();
    envs.retrieve(&env)
        .workspace_id("wrkspc_request")
        .header("x-trace", "t1")
        .send()
        .await
        .unwrap();
    client
        .work(&env)
        .poll()
        .workspace_id("wrkspc_poll")
        .send()
        .await
        .unwrap();
    let reqs = server.requests();
    assert_eq!(
        reqs[0].header("anthropic-workspace-id"),
        Some("wrkspc_client")
    );
    assert_eq!(reqs[0].header("x-team"), Some("infra"));
    assert_eq!(reqs[0].header("anthropic-version"), Some("2099-01-01"));
    assert_eq!(
        reqs[1].header("anthropic-workspace-id"),
        Some("wrkspc_request")
    );
    assert_eq!(reqs[1].header("x-trace"), Some("t1"));
    assert_eq!(reqs[2].operation.as_deref(), Some("poll_work"));
    assert_eq!(
        reqs[2].header("anthropic-workspace-id"),
        Some("wrkspc_poll")
    );
}

#[tokio::test]
async fn a_base_url_with_a_path_keeps_it_before_the_api_path() {
    let (server, env) = mock_with_environment().await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("{}/gateway/anthropic/", server.base_url()))
        .max_retries(0)
        .build()
        .unwrap();
    // The mock serves the API at the root, so the prefixed path is not
    // found; the journal shows where the request went.
    let _ = client.environments().retrieve(&env).send().await;
    let r = &server.requests()[0];
    assert_eq!(r.path, format!("/gateway/anthropic/v1/environments/{env}"));
}

#[tokio::test]
async fn a_caller_supplied_reqwest_client_still_gets_the_api_headers() {
    let (server, env) = mock_with_environment().await;
    let http = reqwest::Client::builder().build().unwrap();
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("{}/", server.base_url()))
        .http_client(http)
        .build()
        .unwrap();
    client.environments().archive(&env).send().await.unwrap();
    let r = &server.requests()[0];
    assert_eq!(
        r.path,
        format!("/v1/environments/{env}/archive"),
        "trailing slash of the base URL dropped"
    );
    assert_eq!(r.caller, CallerKind::ApiKey);
    assert_eq!(r.header("content-length"), Some("0"));
    assert_eq!(r.body, "");
}

#[test]
fn configuration_errors() {
    let err = Client::builder().api_key("").build().unwrap_err();
    assert!(
        matches!(err, anthropic_environments::Error::Config(_)),
        "{err}"
    );
    let err = Client::builder()
        .api_key(KEY)
        .base_url("not a url")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("invalid base URL"), "{err}");
    let err = Client::builder()
        .api_key(KEY)
        .base_url("ftp://x")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("scheme"), "{err}");
    // No scheme at all: a hint with the URL it probably meant.
    for (given, meant) in [
        ("localhost:4010", "http://localhost:4010"),
        ("127.0.0.1:4010/", "http://127.0.0.1:4010"),
    ] {
        let err = Client::builder()
            .api_key(KEY)
            .base_url(given)
            .build()
            .unwrap_err();
        assert!(
            err.to_string().contains(&format!(
                "no http:// or https:// (did you mean \"{meant}\"?)"
            )),
            "{err}"
        );
    }
    // What the errors show of a bad base URL: no password, no key.
    for (given, hidden) in [
        ("user:hunter22@localhost:1", "hunter22"),
        ("sk-ant-api03-pasted-here", "sk-ant-api03"),
        ("ftp://user:hunter22@x", "hunter22"),
    ] {
        let err = Client::builder()
            .api_key(KEY)
            .base_url(given)
            .build()
            .unwrap_err();
        assert!(!err.to_string().contains(hidden), "{err}");
        assert!(err.to_string().contains("invalid base URL"), "{err}");
    }
    for with_query in ["http://127.0.0.1:1/?x=1", "http://127.0.0.1:1/#top"] {
        let err = Client::builder()
            .api_key(KEY)
            .base_url(with_query)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("query or fragment"), "{err}");
    }
    let err = Client::builder()
        .api_key(KEY)
        .beta("a,b")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("without commas"), "{err}");
    let err = Client::builder()
        .api_key(KEY)
        .default_header("bad header", "x")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("invalid header name"), "{err}");
}

#[tokio::test]
async fn an_anthropic_beta_header_joins_the_beta_list_instead_of_replacing_it() {
    let server = server(|_| ok(env_json("env_1"))).await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(&server.base_url)
        .default_header("anthropic-beta", "files-api-2025-04-14, skills-2025-10-02")
        .build()
        .unwrap();
    client
        .environments()
        .retrieve("env_1")
        .header("Anthropic-Beta", "extra-2026-01-01")
        .send()
        .await
        .unwrap();
    assert_eq!(
        server.requests()[0].header("anthropic-beta"),
        Some("files-api-2025-04-14,skills-2025-10-02,extra-2026-01-01,managed-agents-2026-04-01")
    );
}

#[tokio::test]
async fn every_credential_kind_is_a_bearer_and_a_derived_client_shares_the_rest() {
    use anthropic_environments::credentials::{Credential, CredentialKind};
    let server = server(|_| ok(env_json("env_1"))).await;
    let base = Client::builder()
        .environment_key("sk-ant-oat01-ENV")
        .base_url(&server.base_url)
        .beta("files-api-2025-04-14")
        .workspace_id("wrkspc_1")
        .build()
        .unwrap();
    assert_eq!(base.credential_kind(), CredentialKind::EnvironmentKey);
    let item = base
        .with_credential(Credential::sessions_token("sk-ant-req-ITEM"))
        .unwrap();
    let token = Client::builder()
        .auth_token("oauth-TOKEN")
        .base_url(&server.base_url)
        .build()
        .unwrap();
    for client in [&base, &item, &token] {
        client
            .environments()
            .retrieve("env_1")
            .send()
            .await
            .unwrap();
    }
    let requests = server.requests();
    let auth: Vec<_> = requests
        .iter()
        .map(|r| r.header("authorization").unwrap())
        .collect();
    assert_eq!(
        auth,
        [
            "Bearer sk-ant-oat01-ENV",
            "Bearer sk-ant-req-ITEM",
            "Bearer oauth-TOKEN"
        ]
    );
    assert!(requests.iter().all(|r| r.header("x-api-key").is_none()));
    // The derived client keeps the betas and workspace of its parent.
    assert_eq!(
        requests[1].header("anthropic-beta"),
        Some("files-api-2025-04-14,managed-agents-2026-04-01")
    );
    assert_eq!(
        requests[1].header("anthropic-workspace-id"),
        Some("wrkspc_1")
    );
    let moved = item.with_base_url("http://127.0.0.1:9/").unwrap();
    assert_eq!(moved.base_url(), "http://127.0.0.1:9");
    assert!(item.with_base_url("ftp://x").is_err());
}

#[test]
fn a_credential_header_is_refused_in_favour_of_the_credential_setters() {
    let err = Client::builder()
        .api_key(KEY)
        .default_header("authorization", "Bearer other")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("credential"), "{err}");
    assert!(!err.to_string().contains("other"), "{err}");
}

#[tokio::test]
async fn send_with_meta_gives_status_and_headers_on_every_kind_of_request() {
    let (server, env) = mock_with_environment().await;
    let client = mock_client(&server);
    let one = client
        .environments()
        .retrieve(&env)
        .send_with_meta()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    assert!(one.request_id().unwrap().starts_with("req_mock_"));
    assert_eq!(
        one.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(one.id, env, "derefs to the body");
    let page = client.environments().list().send_with_meta().await.unwrap();
    assert_eq!(page.status(), 200);
    let request_id = page.request_id().map(str::to_owned);
    assert_eq!(request_id.as_deref(), page.into_inner().request_id());
    let work_page = client.work(&env).list().send_with_meta().await.unwrap();
    assert!(work_page.headers().contains_key("request-id"));
}
