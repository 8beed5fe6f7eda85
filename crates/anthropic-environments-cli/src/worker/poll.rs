//! `antenv worker poll`: the `ant beta:worker poll --on-work` contract on
//! the library's worker, with concurrency, heartbeats, health and metrics.

use std::ffi::OsString;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anthropic_environments::{Client, MetadataPatch};
use anthropic_environments_worker::{ServeMode, Wakeup, WorkContext, Worker, WorkerTiming};
use tokio_util::sync::CancellationToken;

use super::health::{self, Health, Phase};
use super::script::{self, LaunchError, Program};
use crate::cli::PollArgs;
use crate::connection::Connection;
use crate::error::CliError;
use crate::secret::SecretArg;
use anthropic_environments::operations;

/// Why a script's item counts as failed.
#[derive(Debug, thiserror::Error)]
enum ScriptFailed {
    #[error(transparent)]
    Launch(#[from] LaunchError),
    /// How it ended: `exited with code 3`, `was killed by SIGTERM`.
    #[error("the script {0}")]
    Exit(String),
    #[error("the script ran past its timeout")]
    Timeout,
}

/// What every item's handler shares.
struct Shared {
    program: Program,
    environment_id: String,
    environment_key: Option<SecretArg>,
    forward_secret: bool,
    timeout: Option<Duration>,
    kill_grace: Duration,
    /// An API-key client for `--record-exit`.
    recorder: Option<Client>,
    health: Arc<Health>,
    /// Set when a script could not be started: the command ends with 1.
    fatal: Mutex<Option<String>>,
    shutdown: CancellationToken,
}

/// A worker that polls when told to (`worker webhook`) rather than
/// long-polling.
pub struct OnDemand {
    /// What wakes the poll loops.
    pub wakeup: Wakeup,
    /// Told the worker's health and shutdown token once they exist.
    pub ready: tokio::sync::oneshot::Sender<(Arc<Health>, CancellationToken)>,
}

/// Runs `worker poll` until shut down (polling on demand with `on_demand`).
pub async fn run(
    connection: &Connection,
    args: PollArgs,
    on_demand: Option<OnDemand>,
) -> Result<(), CliError> {
    let program = match (&args.on_work, args.command.split_first()) {
        (Some(script), _) => Some(Program {
            path: script.clone(),
            args: Vec::new(),
        }),
        (None, Some((cmd, rest))) => Some(Program {
            path: cmd.into(),
            args: rest.to_vec(),
        }),
        // Served in-process.
        (None, None) => None,
    };
    if let Some(program) = &program {
        // As exec would find it, before any item is claimed.
        program
            .check()
            .map_err(|e| CliError::Failed(format!("cannot run the script: {e}")))?;
    } else if args.hand_off {
        return Err(CliError::Usage(
            "--hand-off hands items to a script: give --on-work or --exec".into(),
        ));
    }
    let client = connection.client(&operations::POLL_WORK)?;
    let recorder = if args.record_exit {
        Some(connection.client(&operations::UPDATE_WORK)?)
    } else {
        None
    };

    let timing = WorkerTiming {
        shutdown_grace: args.grace,
        ..args.script.timing()
    };
    // --hand-off takes the lease for the script's sandbox to continue;
    // --heartbeat keeps it while the script runs; else (as `ant`) the
    // script owns it.
    let mode = if args.hand_off {
        ServeMode::HandOffLease
    } else if args.heartbeat || program.is_none() {
        ServeMode::Leased
    } else {
        ServeMode::Unleased
    };
    let mut builder = Worker::builder(client.work(&args.environment_id))
        .concurrency(args.concurrency as usize)
        .block_ms(args.block_ms.unwrap_or(999))
        .mode(mode)
        .force_stop(args.force_stop)
        .drain(args.drain)
        .timing(timing)
        .shutdown_on_signal();
    if args.drain {
        builder = builder.non_blocking();
    }
    if let Some(id) = &args.worker_id {
        builder = builder.worker_id(id);
    }
    if let Some(ms) = args.reclaim_older_than_ms {
        builder = builder.reclaim_older_than_ms(ms);
    }
    if let Some(on_demand) = &on_demand {
        // As the platform's docs say a webhook-triggered worker polls.
        builder = builder
            .non_blocking()
            .reclaim_older_than_ms(args.reclaim_older_than_ms.unwrap_or(2000))
            .poll_on_wakeup(on_demand.wakeup.clone());
    }
    let shutdown = builder.shutdown_token();
    let health = Health::new(builder.stats());
    if let Some(on_demand) = on_demand {
        let _ = on_demand.ready.send((health.clone(), shutdown.clone()));
    }
    if let Some(addr) = args.health_listen {
        let bound = health::serve(addr, health.clone())
            .await
            .map_err(|e| CliError::Failed(format!("cannot listen on {addr}: {e}")))?;
        tracing::info!(address = %bound, "health and metrics listening");
    }
    // The queue's gauges, read every --stats-interval.
    if let Some(every) = args.stats_interval {
        let queue = client.work(&args.environment_id);
        let (health, shutdown, stuck_after) = (health.clone(), shutdown.clone(), args.stuck_after);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                let read =
                    crate::queue_metrics::refresh(&queue, health.queue_gauges(), stuck_after);
                if let Err(error) = read.await {
                    tracing::warn!(%error, "cannot read the queue's statistics");
                }
            }
        });
    }
    // /healthz turns 503 as soon as a shutdown begins.
    {
        let (health, shutdown) = (health.clone(), shutdown.clone());
        tokio::spawn(async move {
            shutdown.cancelled().await;
            health.set_phase(Phase::ShuttingDown);
        });
    }
    let worker = builder
        .on_item_end({
            let health = health.clone();
            move |report| health.item_ended(report)
        })
        .build()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let Some(program) = program else {
        tracing::info!(
            environment_id = %args.environment_id,
            worker_id = worker.worker_id(),
            concurrency = args.concurrency,
            workdir = %args.sessions.workdir.display(),
            "serving sessions in-process"
        );
        let runner = args.sessions.runner().on_tool_call({
            let health = health.clone();
            move |report| {
                tracing::info!(
                    session_id = report.session_id,
                    tool_use_id = report.tool_use_id,
                    tool = report.name,
                    outcome = report.outcome.as_str(),
                    duration_ms = u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
                    "tool call"
                );
                health.tool_call_ended(report)
            }
        });
        let per_session = args.concurrency > 1;
        let workdir = args.sessions.workdir.clone();
        let served = health.clone();
        let result = worker
            .run(move |ctx: WorkContext| {
                let health = served.clone();
                let runner = if per_session {
                    // A folder of its own per session (its id is safe in a
                    // path: no separators).
                    let name = ctx
                        .session_id()
                        .unwrap_or("session")
                        .replace(['/', '\\'], "_");
                    runner.clone().in_workdir(workdir.join(name))
                } else {
                    runner.clone()
                };
                async move {
                    let result = runner.serve(ctx).await;
                    health.session_served(result.as_ref().map_or("failed", |end| end.as_str()));
                    result.map(drop)
                }
            })
            .await;
        if let Err(e) = result {
            health.set_phase(Phase::Failed);
            return Err(e.into());
        }
        return Ok(());
    };
    tracing::info!(
        environment_id = %args.environment_id,
        worker_id = worker.worker_id(),
        concurrency = args.concurrency,
        heartbeat = args.heartbeat,
        hand_off = args.hand_off,
        program = %program.path.display(),
        "serving items with a script"
    );
    let shared = Arc::new(Shared {
        program,
        environment_id: args.environment_id.clone(),
        environment_key: connection.environment_key().cloned(),
        forward_secret: args.script.forward_secret,
        timeout: args.script.timeout,
        kill_grace: args.script.kill_grace,
        recorder,
        health: health.clone(),
        fatal: Mutex::new(None),
        shutdown,
    });
    let handler_shared = shared.clone();
    let result = worker
        .run(move |ctx: WorkContext| handle(handler_shared.clone(), ctx))
        .await;
    // (The library logs the counts when the worker stops.)
    if let Err(e) = result {
        health.set_phase(Phase::Failed);
        return Err(e.into());
    }
    let fatal = shared
        .fatal
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    match fatal {
        Some(message) => {
            health.set_phase(Phase::Failed);
            Err(CliError::Failed(message))
        }
        None => Ok(()),
    }
}

/// Serves one session item: runs the script, then reports how it ended
/// (the library stops the item, unless its lease was lost).
async fn handle(shared: Arc<Shared>, ctx: WorkContext) -> Result<(), ScriptFailed> {
    let work = ctx.work();
    let work_id = work.id.clone();
    let session_id = ctx.session_id().unwrap_or_default().to_owned();
    let environment_id = shared.environment_id.as_str();
    // The item as polled, without its secret.
    let mut item = work.clone();
    item.secret = None;
    let mut stdin = serde_json::to_vec(&item).unwrap_or_default();
    stdin.push(b'\n');
    let mut env: Vec<(&'static str, OsString)> = vec![
        ("ANTHROPIC_WORK_ID", work_id.clone().into()),
        ("ANTHROPIC_ENVIRONMENT_ID", environment_id.into()),
        ("ANTHROPIC_SESSION_ID", session_id.clone().into()),
    ];
    if let Some(key) = &shared.environment_key {
        env.push(("ANTHROPIC_ENVIRONMENT_KEY", key.expose().into()));
    }
    // --hand-off: the live lease the script's sandbox continues.
    if let Some(last) = ctx.last_heartbeat() {
        env.push(("ANTHROPIC_WORK_LAST_HEARTBEAT", last.into()));
    }
    let secret = work.secret.as_deref().filter(|s| !s.is_empty());
    let forward = if shared.forward_secret {
        if secret.is_none() {
            tracing::warn!(
                work_id,
                session_id,
                environment_id,
                "the item has no secret to forward"
            );
        }
        secret
    } else {
        None
    };
    tracing::info!(work_id, session_id, environment_id, "script starting");
    let launched = script::run(script::Launch {
        program: &shared.program,
        env,
        stdin: Some(stdin),
        forward_secret: forward,
        timeout: shared.timeout,
        kill_grace: shared.kill_grace,
        cancel: ctx.cancellation_token(),
        output: script::Output::Log {
            work_id: work_id.clone(),
            session_id: session_id.clone(),
            secrets: known_secrets(&shared, &ctx),
        },
    })
    .await;
    let ended = match launched {
        Ok(ended) => ended,
        Err(error) => {
            shared.health.script_exited("not_started");
            if matches!(error, LaunchError::CannotStart { .. }) {
                tracing::error!(work_id, session_id, environment_id, %error, "the script could not be started; shutting down");
                let mut fatal = shared.fatal.lock().unwrap_or_else(|p| p.into_inner());
                fatal.get_or_insert_with(|| error.to_string());
                shared.shutdown.cancel();
            } else {
                tracing::error!(work_id, session_id, environment_id, %error, "the script could not run");
            }
            return Err(error.into());
        }
    };
    let label = if ended.timed_out {
        "timeout".to_owned()
    } else {
        ended.label()
    };
    shared.health.script_exited(&label);
    let duration_ms = u64::try_from(ended.duration.as_millis()).unwrap_or(u64::MAX);
    tracing::info!(
        work_id,
        session_id,
        environment_id,
        exit_code = ended.code(),
        signal = ended.signal_name(),
        duration_ms,
        timed_out = ended.timed_out,
        cancelled = ended.cancelled,
        cancel_reason = ctx.cancel_reason().map(|r| r.as_str()),
        "script exited"
    );
    if let Some(recorder) = &shared.recorder {
        let patch = MetadataPatch::new()
            .set("antenv.exit_code", ended.code().to_string())
            .set("antenv.duration_ms", duration_ms.to_string());
        if let Err(error) = recorder
            .work(environment_id)
            .update(&work_id)
            .metadata_patch(patch)
            .send()
            .await
        {
            tracing::warn!(work_id, session_id, environment_id, %error, "could not record the exit status");
        }
    }
    if ended.timed_out {
        return Err(ScriptFailed::Timeout);
    }
    match ended.status.success() {
        true => Ok(()),
        false => Err(ScriptFailed::Exit(ended.describe())),
    }
}

/// What a script's output must never show in the logs: the environment
/// key, the item's secret and its sessions token.
fn known_secrets(shared: &Shared, ctx: &WorkContext) -> Vec<String> {
    let mut secrets = Vec::new();
    if let Some(key) = &shared.environment_key {
        secrets.push(key.expose().to_owned());
    }
    if let Some(secret) = ctx.work().secret.as_deref() {
        secrets.push(secret.to_owned());
    }
    if let Some(decoded) = ctx.secret() {
        secrets.push(decoded.sessions_token().expose().to_owned());
    }
    secrets
}
