//! A self-hosted worker, authenticated as the official workers are.
//!
//! - With `ANTHROPIC_ENVIRONMENT_KEY` (or, as before, `ANTHROPIC_API_KEY`)
//!   and `ANTHROPIC_ENVIRONMENT_ID` (and optionally `ANTHROPIC_BASE_URL`):
//!   works that environment's queue until SIGINT/SIGTERM (a second signal
//!   forces the shutdown). Each item's heartbeat and stop use the sessions
//!   token of its `secret`.
//! - With neither key: starts the embedded mock server (checking
//!   credentials as the real API does), queues a few demo items and a
//!   health check, and processes them, printing each step, then exits.
//!
//! ```sh
//! cargo run -p anthropic-environments-worker --example worker
//! ANTHROPIC_ENVIRONMENT_KEY=sk-ant-oat01-... ANTHROPIC_ENVIRONMENT_ID=env_... \
//!     cargo run -p anthropic-environments-worker --example worker
//! ```

use std::time::Duration;

use anthropic_environments::credentials::{Credential, CredentialKind};
use anthropic_environments::params::SelfHostedConfig;
use anthropic_environments::{Client, prelude::WorkStateExt};
use anthropic_environments_mock::{MockServer, Timing};
use anthropic_environments_worker::{WorkContext, Worker, WorkerTiming};

/// What the worker does with each session: here, pretend to run it.
async fn handle(ctx: WorkContext) -> Result<(), anthropic_environments::Error> {
    let work_id = ctx.work().id.clone();
    let session = ctx.session_id().unwrap_or("?").to_owned();
    println!(
        "[handler] {work_id}: running session {session} (item credential: {:?})",
        ctx.client().credential_kind()
    );
    tokio::select! {
        _ = ctx.cancelled() => {
            println!("[handler] {work_id}: cancelled ({:?})", ctx.cancel_reason());
            return Ok(());
        }
        _ = tokio::time::sleep(Duration::from_millis(300)) => {}
    }
    println!("[handler] {work_id}: session {session} done");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // RUST_LOG, else ANTHROPIC_LOG=debug|info (as the official SDK reads
    // it), else this crate's INFO logs.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        anthropic_environments::telemetry::log_directive()
            .unwrap_or_else(|| "anthropic_environments=info".into())
            .into()
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();

    let credential =
        Credential::from_env_vars(&[CredentialKind::EnvironmentKey, CredentialKind::ApiKey]);
    if let Some(credential) = credential {
        let environment_id = std::env::var("ANTHROPIC_ENVIRONMENT_ID")
            .map_err(|_| "set ANTHROPIC_ENVIRONMENT_ID to your self-hosted environment")?;
        let client = Client::builder().credential(credential).build()?;
        println!(
            "working environment {environment_id} with the {:?} until SIGINT/SIGTERM",
            client.credential_kind()
        );
        let report = Worker::builder(client.work(environment_id))
            .concurrency(4)
            .shutdown_on_signal()
            .build()
            .unwrap()
            .run(handle)
            .await?;
        println!("{report:?}");
        return Ok(());
    }

    println!(
        "no ANTHROPIC_ENVIRONMENT_KEY or ANTHROPIC_API_KEY: starting the embedded mock server"
    );
    let server = MockServer::builder()
        .strict_credentials()
        .timing(Timing {
            stop_grace: Duration::from_millis(100),
            ..Timing::default()
        })
        .start()
        .await;
    println!("mock server at {}", server.base_url());
    let admin = Client::builder()
        .api_key("demo-api-key")
        .base_url(server.base_url())
        .build()?;
    let env = admin
        .environments()
        .create("demo-self-hosted")
        .config(SelfHostedConfig)
        .send()
        .await?;
    println!("created environment {}", env.id);
    for i in 1..=3 {
        let work = server.queue_work(&env.id, &format!("session_demo_{i}"))?;
        println!("queued {} for session_demo_{i}", work.id);
    }
    let check = server.queue_healthcheck(&env.id, "healthcheck_demo")?;
    println!("queued {} (a health check)", check.id);
    let environment_key = server
        .environment_key(&env.id)
        .ok_or("the mock has no key for the environment")?;
    let worker_client = Client::builder()
        .environment_key(environment_key)
        .base_url(server.base_url())
        .build()?;
    let report = Worker::builder(worker_client.work(&env.id))
        .worker_id("demo-worker")
        .concurrency(2)
        .drain(true)
        .timing(WorkerTiming {
            idle_sleep: (Duration::from_millis(50), Duration::from_millis(100)),
            ..WorkerTiming::default()
        })
        .shutdown_on_signal()
        .build()
        .unwrap()
        .run(handle)
        .await?;
    println!("worker finished: {report:?}");
    for work in server.work_items(&env.id) {
        println!(
            "{}: {} ({})",
            work.id,
            work.state,
            if work.is_terminal() {
                "done"
            } else {
                "not finished"
            }
        );
    }
    Ok(())
}
