//! A self-hosted worker.
//!
//! - Without `ANTHROPIC_API_KEY`: starts the embedded mock server, queues a
//!   few demo items and processes them, printing each step, then exits.
//! - With `ANTHROPIC_API_KEY` (and `ANTHROPIC_ENVIRONMENT_ID`): works the
//!   real API's queue for that environment until Ctrl-C.
//!
//! ```sh
//! cargo run -p anthropic-environments --example worker
//! ```

use std::time::Duration;

use anthropic_environments::config::SelfHostedConfig;
use anthropic_environments::worker::{WorkContext, Worker, WorkerTiming};
use anthropic_environments::{Client, MetadataPatch};
use anthropic_environments_mock::{MockServer, Timing};

/// What the worker does with each session: here, pretend to run it.
async fn handle(ctx: WorkContext) -> Result<(), anthropic_environments::Error> {
    let work = ctx.work();
    println!("[handler] {}: running session {}", work.id, work.data.id);
    ctx.update_metadata(MetadataPatch::new().set("progress", "started"))
        .await?;
    tokio::select! {
        _ = ctx.cancelled() => {
            println!("[handler] {}: cancelled ({:?})", work.id, ctx.cancel_reason());
            return Ok(());
        }
        _ = tokio::time::sleep(Duration::from_millis(300)) => {}
    }
    ctx.update_metadata(MetadataPatch::new().set("progress", "done"))
        .await?;
    println!("[handler] {}: session {} done", work.id, work.data.id);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "anthropic_environments=info".into()),
        )
        .with_target(false)
        .init();

    if std::env::var("ANTHROPIC_API_KEY").is_ok_and(|k| !k.is_empty()) {
        let environment_id = std::env::var("ANTHROPIC_ENVIRONMENT_ID")
            .map_err(|_| "set ANTHROPIC_ENVIRONMENT_ID to your self-hosted environment")?;
        let client = Client::from_env()?;
        println!("working environment {environment_id} until Ctrl-C");
        let report = Worker::builder(client.work(environment_id))
            .concurrency(4)
            .shutdown_signal(async {
                let _ = tokio::signal::ctrl_c().await;
                println!("Ctrl-C: finishing in-flight work");
            })
            .build()
            .run(handle)
            .await?;
        println!("{report:?}");
        return Ok(());
    }

    println!("no ANTHROPIC_API_KEY: starting the embedded mock server");
    let server = MockServer::builder()
        .timing(Timing {
            stop_grace: Duration::from_millis(100),
            ..Timing::default()
        })
        .start()
        .await;
    println!("mock server at {}", server.base_url());
    let client = Client::builder()
        .api_key("demo-key")
        .base_url(server.base_url())
        .build()?;
    let env = client
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
    let report = Worker::builder(client.work(&env.id))
        .worker_id("demo-worker")
        .concurrency(2)
        .drain(true)
        .timing(WorkerTiming {
            idle_sleep: (Duration::from_millis(50), Duration::from_millis(100)),
            ..WorkerTiming::default()
        })
        .shutdown_signal(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .build()
        .run(handle)
        .await?;
    println!("worker finished: {report:?}");
    for work in client.work(&env.id).list().send().await? {
        println!(
            "{}: {} (progress={})",
            work.id,
            work.state,
            work.metadata
                .get("progress")
                .map(String::as_str)
                .unwrap_or("-")
        );
    }
    Ok(())
}
