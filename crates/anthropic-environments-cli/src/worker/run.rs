//! `antenv worker run -- CMD`: serve one item something else claimed.

use std::sync::{Arc, Mutex};

use anthropic_environments_worker::{ItemOutcome, ServeOne, WorkContext};

use super::script::{self, Ended, LaunchError, Program};
use crate::cli::RunArgs;
use crate::connection::Connection;
use crate::error::{CliError, EXIT_CANNOT_START, EXIT_FAILURE, EXIT_LEASE_LOST};
use crate::secret::SecretArg;

/// Runs `worker run`; returns the exit status.
pub async fn run(connection: &Connection, args: RunArgs) -> Result<u8, CliError> {
    let program = args.command.split_first().map(|(program, rest)| Program {
        path: program.into(),
        args: rest.to_vec(),
    });
    let mut builder = ServeOne::builder(&args.environment_id, &args.work_id, &args.session_id)
        .client_builder(connection.builder())
        .timing(args.script.timing())
        .shutdown_on_signal();
    if let Some(last) = &args.last_heartbeat {
        builder = builder.last_heartbeat(last);
    }
    if let Some(key) = connection.environment_key() {
        builder = builder.environment_key(key.expose());
    }
    let secret = match (SecretArg::given(args.secret.as_ref()), &args.secret_file) {
        (Some(secret), _) => Some(secret.expose().to_owned()),
        (None, Some(path)) => {
            builder = builder.secret_file(path)?;
            None
        }
        (None, None) => None,
    };
    if let Some(secret) = &secret {
        builder = builder.secret(secret.clone());
    }
    let serve = builder.build()?;
    let Some(program) = program else {
        // No command: the session is served in-process.
        let runner = args.sessions.runner();
        let report = serve
            .run(move |ctx: WorkContext| {
                let runner = runner.clone();
                async move { runner.serve(ctx).await.map(drop) }
            })
            .await;
        tracing::info!(work_id = %args.work_id, session_id = %args.session_id, environment_id = %args.environment_id, outcome = report.outcome.as_str(), stop = report.stop.as_str(), "item served in-process");
        return Ok(match report.outcome {
            ItemOutcome::Succeeded | ItemOutcome::Cancelled(_) => 0,
            ItemOutcome::LeaseLost(_) => EXIT_LEASE_LOST,
            ItemOutcome::Failed(reason) => {
                return Err(CliError::Failed(format!(
                    "the session was not served: {reason}"
                )));
            }
            other => {
                return Err(CliError::Failed(format!(
                    "the item was not served: {}",
                    other.as_str()
                )));
            }
        });
    };
    let ended: Arc<Mutex<Option<Result<Ended, LaunchError>>>> = Arc::default();
    let slot = ended.clone();
    let (forward, timeout, kill_grace) = (
        args.script.forward_secret,
        args.script.timeout,
        args.script.kill_grace,
    );
    let report = serve
        .run(move |ctx: WorkContext| {
            let slot = slot.clone();
            let program = program.clone();
            async move {
                let secret = ctx.secret().map(|s| s.expose_raw().to_owned());
                let result = script::run(script::Launch {
                    program: &program,
                    env: Vec::new(),
                    stdin: None,
                    forward_secret: if forward { secret.as_deref() } else { None },
                    timeout,
                    kill_grace,
                    cancel: ctx.cancellation_token(),
                })
                .await;
                let failed = match &result {
                    Ok(e) if e.status.success() => None,
                    Ok(e) => Some(format!("exited with {}", e.code())),
                    Err(e) => Some(e.to_string()),
                };
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                match failed {
                    None => Ok(()),
                    Some(f) => Err(f),
                }
            }
        })
        .await;
    let ended = ended.lock().unwrap_or_else(|p| p.into_inner()).take();
    let outcome = &report.outcome;
    tracing::info!(work_id = %args.work_id, session_id = %args.session_id, environment_id = %args.environment_id, outcome = outcome.as_str(), stop = report.stop.as_str(), "item served");
    if matches!(outcome, ItemOutcome::LeaseLost(_)) {
        return Ok(EXIT_LEASE_LOST);
    }
    Ok(match ended {
        Some(Ok(ended)) => u8::try_from(ended.code()).unwrap_or(EXIT_FAILURE),
        Some(Err(LaunchError::CannotStart { program, source })) => {
            eprintln!("error: cannot start {program}: {source}");
            EXIT_CANNOT_START
        }
        Some(Err(other)) => return Err(CliError::Failed(other.to_string())),
        // The handler never ran: the lease could not be claimed, or no
        // credential.
        None => {
            return Err(CliError::Failed(format!(
                "the item was not served: {outcome:?}"
            )));
        }
    })
}
