//! Calls each of the 14 operations twice against `ANTHROPIC_BASE_URL`: once
//! with only the required inputs, once with every optional input set. Prints
//! each result; exits non-zero on the first failure.
//!
//! The work half needs two queued work items in a self-hosted environment.
//! Against the mock server (`cargo run -p anthropic-environments-mock --features cli`) the
//! example queues them itself through the mock's control routes when
//! `MOCK_CONTROL=1`; against the real API, queue two sessions first and set
//! `ANTHROPIC_ENVIRONMENT_ID` to their environment.
//!
//! ```sh
//! ANTHROPIC_API_KEY=sk-ant-... ANTHROPIC_BASE_URL=http://127.0.0.1:4010 MOCK_CONTROL=1 \
//!     cargo run -p anthropic-environments --example every_endpoint
//! ```

use std::process::ExitCode;
use std::time::Duration;

use anthropic_environments::params::{CloudConfig, LimitedNetwork, Packages, SelfHostedConfig};
use anthropic_environments::{Client, Scope};

const BETA: &str = "files-api-2025-04-14";
const WORKSPACE: &str = "wrkspc_example";

fn show(step: &str, value: &impl std::fmt::Debug) {
    println!("== {step}\n{value:#?}");
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => {
            println!("all 14 operations succeeded, twice each");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::from_env()?;
    let envs = client.environments();

    // Environments: required inputs only, then every optional input.
    let plain = envs.create("every-endpoint-plain").send().await?;
    show("create (required only)", &plain);
    let full = envs
        .create("every-endpoint-full")
        .config(
            CloudConfig::limited(
                LimitedNetwork::new()
                    .allow_hosts(["api.example.com"])
                    .allow_mcp_servers(true)
                    .allow_package_managers(true),
            )
            .packages(Packages::new().pip(["pandas"]).apt(["jq"]).npm(["zx"])),
        )
        .description("created by examples/every_endpoint.rs")
        .metadata("purpose", "example")
        .scope(Scope::Organization)
        .beta(BETA)
        .workspace_id(WORKSPACE)
        .max_retries(3)
        .timeout(Duration::from_secs(30))
        .send()
        .await?;
    show("create (every option)", &full);

    show("list (required only)", &envs.list().send().await?);
    show(
        "list (every option)",
        &envs
            .list()
            .include_archived(true)
            .limit(1)
            .page(
                envs.list()
                    .limit(1)
                    .send()
                    .await?
                    .next_page
                    .unwrap_or_default(),
            )
            .beta(BETA)
            .workspace_id(WORKSPACE)
            .send()
            .await?,
    );
    show(
        "retrieve (required only)",
        &envs.retrieve(&plain.id).send().await?,
    );
    show(
        "retrieve (every option)",
        &envs
            .retrieve(&full.id)
            .beta(BETA)
            .workspace_id(WORKSPACE)
            .send()
            .await?,
    );
    show(
        "update (required only)",
        &envs.update(&plain.id).send().await?,
    );
    show(
        "update (every option)",
        &envs
            .update(&full.id)
            .name("every-endpoint-full-renamed")
            .description("updated")
            .config(CloudConfig::unrestricted())
            .scope(Scope::Organization)
            .metadata("stage", "updated")
            .remove_metadata("purpose")
            .beta(BETA)
            .workspace_id(WORKSPACE)
            .send()
            .await?,
    );

    // Work: a self-hosted environment with two queued items.
    let environment_id = match std::env::var("ANTHROPIC_ENVIRONMENT_ID") {
        Ok(id) => id,
        Err(_) => {
            let env = envs
                .create("every-endpoint-work")
                .config(SelfHostedConfig)
                .send()
                .await?;
            env.id
        }
    };
    if std::env::var("MOCK_CONTROL").as_deref() == Ok("1") {
        queue_on_mock(client.base_url(), &environment_id).await?;
    }
    let queue = client.work(&environment_id);
    let a = queue
        .poll()
        .send()
        .await?
        .ok_or("poll found no queued work item")?;
    show("poll (required only)", &a);
    let b = queue
        .poll()
        .block_ms(999)
        .reclaim_older_than_ms(5000)
        .worker_id("every-endpoint-example")
        .beta(BETA)
        .send()
        .await?
        .ok_or("poll found no second work item")?;
    show("poll (every option)", &b);
    show("ack (required only)", &queue.ack(&a.id).send().await?);
    show(
        "ack (every option)",
        &queue.ack(&b.id).beta(BETA).send().await?,
    );
    show(
        "heartbeat (required only)",
        &queue.heartbeat(&a.id).send().await?,
    );
    show(
        "heartbeat (every option)",
        &queue
            .heartbeat(&b.id)
            .first()
            .desired_ttl_seconds(60)
            .beta(BETA)
            .send()
            .await?,
    );
    show(
        "retrieve work (required only)",
        &queue.retrieve(&a.id).send().await?,
    );
    show(
        "retrieve work (every option)",
        &queue
            .retrieve(&b.id)
            .beta(BETA)
            .workspace_id(WORKSPACE)
            .send()
            .await?,
    );
    show(
        "update work (required only)",
        &queue.update(&a.id).metadata("k", "v").send().await?,
    );
    show(
        "update work (every option)",
        &queue
            .update(&b.id)
            .metadata("k", "v")
            .remove_metadata("old")
            .beta(BETA)
            .workspace_id(WORKSPACE)
            .send()
            .await?,
    );
    show("list work (required only)", &queue.list().send().await?);
    show(
        "list work (every option)",
        &queue
            .list()
            .limit(1)
            .page(
                queue
                    .list()
                    .limit(1)
                    .send()
                    .await?
                    .next_page
                    .unwrap_or_default(),
            )
            .beta(BETA)
            .send()
            .await?,
    );
    show("stats (required only)", &queue.stats().send().await?);
    show(
        "stats (every option)",
        &queue
            .stats()
            .beta(BETA)
            .workspace_id(WORKSPACE)
            .send()
            .await?,
    );
    show("stop (required only)", &queue.stop(&a.id).send().await?);
    show(
        "stop (every option)",
        &queue
            .stop(&b.id)
            .force(true)
            .beta(BETA)
            .workspace_id(WORKSPACE)
            .send()
            .await?,
    );

    // Last: archive and delete.
    show(
        "archive (required only)",
        &envs.archive(&plain.id).send().await?,
    );
    show(
        "archive (every option)",
        &envs
            .archive(&full.id)
            .beta(BETA)
            .workspace_id(WORKSPACE)
            .send()
            .await?,
    );
    show(
        "delete (required only)",
        &envs.delete(&plain.id).send().await?,
    );
    show(
        "delete (every option)",
        &envs
            .delete(&full.id)
            .beta(BETA)
            .workspace_id(WORKSPACE)
            .send()
            .await?,
    );
    Ok(())
}

/// Queues two work items through the mock server's control routes.
async fn queue_on_mock(
    base_url: &str,
    environment_id: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let http = reqwest::Client::new();
    for session in ["session_example_a", "session_example_b"] {
        let url = format!("{base_url}/_mock/environments/{environment_id}/work");
        let response = http
            .post(url)
            .header("content-type", "application/json")
            .body(format!(r#"{{"session_id":"{session}"}}"#))
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("queueing on the mock failed: {}", response.status()).into());
        }
    }
    Ok(())
}
