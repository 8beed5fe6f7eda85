//! The README's quick start, written as a downstream crate would: every
//! name comes from `anthropic_environments`.

use anthropic_environments::params::{CloudConfig, LimitedNetwork, Packages, SelfHostedConfig};
use anthropic_environments::prelude::*;
use anthropic_environments::types::{BetaEnvironmentConfig, ErrorDetails};
use anthropic_environments::{Error, Heartbeat, LeaseState, NO_HEARTBEAT, QueueStats, Result};
use futures::TryStreamExt;

/// What the quick start saw.
#[derive(Debug)]
pub struct Report {
    /// Names of all environments, across pages.
    pub names: Vec<String>,
    /// The self-hosted environment created.
    pub environment: Environment,
}

/// Creates environments, updates and lists them, archives and deletes one.
pub async fn quick_start(client: &Client) -> Result<Report> {
    let envs = client.environments();
    let cloud = envs
        .create("downstream-cloud")
        .config(
            CloudConfig::limited(
                LimitedNetwork::new()
                    .allow_hosts(["pypi.org"])
                    .allow_package_managers(true),
            )
            .packages(Packages::new().pip(["numpy"])),
        )
        .send()
        .await?;
    assert!(cloud.is_cloud(), "created with a cloud config");
    assert!(matches!(cloud.config, BetaEnvironmentConfig::Cloud(_)));
    let environment = envs
        .create("downstream-self-hosted")
        .config(SelfHostedConfig)
        .scope(Scope::Organization)
        .send()
        .await?;
    envs.update(&cloud.id)
        .metadata("owner", "downstream")
        .remove_metadata("stale")
        .send()
        .await?;
    let names: Vec<String> = envs
        .list()
        .limit(1)
        .into_stream()
        .map_ok(|e| e.name)
        .try_collect()
        .await?;

    envs.archive(&cloud.id).send().await?;
    envs.delete(&cloud.id).send().await?;
    Ok(Report { names, environment })
}

/// Processes at most one work item of `environment_id`: poll, ack,
/// heartbeat, stop. Returns the stopped item and the queue's statistics.
pub async fn work_once(
    client: &Client,
    environment_id: &str,
) -> Result<(Option<Work>, QueueStats)> {
    let queue = client.work(environment_id);
    let mut processed = None;
    if let Some(work) = queue
        .poll()
        .block_ms(50)
        .worker_id("downstream")
        .send()
        .await?
    {
        queue.ack(&work.id).send().await?;
        let beat: Heartbeat = queue
            .heartbeat(&work.id)
            .expected_last_heartbeat(NO_HEARTBEAT)
            .desired_ttl_seconds(30)
            .send()
            .await?;
        // A stale expectation is refused with the lease as the server holds it.
        let refused = queue
            .heartbeat(&work.id)
            .expected_last_heartbeat("1999-01-01T00:00:00Z")
            .send()
            .await
            .expect_err("a stale heartbeat is refused");
        assert!(refused.is_lease_held_elsewhere(), "{refused}");
        assert_eq!(refused.error_code(), Some("heartbeat_precondition_failed"));
        assert!(matches!(
            refused.api().and_then(|a| a.details.as_ref()),
            Some(ErrorDetails::HeartbeatPreconditionFailed(_))
        ));
        let state: &LeaseState = refused
            .api()
            .and_then(|a| a.lease_state())
            .expect("a refused heartbeat carries the lease as the server holds it");
        assert!(!state.lease_extended);
        assert_eq!(
            state.last_heartbeat.as_deref(),
            Some(beat.last_heartbeat.as_str()),
            "the server holds the heartbeat this worker just sent"
        );
        assert!(!beat.last_heartbeat.is_empty());
        let stopped = queue.stop(&work.id).force(true).send().await?;
        assert!(stopped.is_terminal());
        processed = Some(stopped);
    }
    let stats = queue.stats().send().await?;
    Ok((processed, stats))
}

/// Classifies an error as a downstream caller would.
pub fn describe(error: &Error) -> &'static str {
    if error.is_not_found() {
        "not found"
    } else if error.is_retryable() {
        "try again"
    } else {
        "failed"
    }
}
