//! `antenv worker run -- CMD`: serve one item something else claimed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anthropic_environments_worker::{ItemOutcome, ItemReport, ServeOne, WorkContext};

use super::script::{self, Ended, LaunchError, Program};
use crate::cli::{LogFormat, RunArgs};
use crate::connection::Connection;
use crate::error::{CliError, EXIT_FAILURE, EXIT_LEASE_LOST};
use crate::secret::SecretArg;

/// Runs `worker run`; returns the exit status.
pub async fn run(
    connection: &Connection,
    args: RunArgs,
    format: LogFormat,
) -> Result<u8, CliError> {
    // With JSON logs, CMD's output is logged as records too, so that every
    // line on stderr is JSON; with text logs it is CMD's own.
    let output = match format {
        LogFormat::Json => script::Output::Log {
            work_id: args.work_id.clone(),
            session_id: args.session_id.clone(),
            // The item's secret and token are added once they are known.
            secrets: connection
                .environment_key()
                .map(|k| k.expose().to_owned())
                .into_iter()
                .collect(),
        },
        LogFormat::Text => script::Output::Inherit,
    };
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
        let ran = Arc::new(AtomicBool::new(false));
        let report = serve
            .run({
                let ran = ran.clone();
                move |ctx: WorkContext| {
                    ran.store(true, Ordering::SeqCst);
                    let runner = runner.clone();
                    async move { runner.serve(ctx).await.map(drop) }
                }
            })
            .await;
        tracing::info!(work_id = %args.work_id, session_id = %args.session_id, environment_id = %args.environment_id, outcome = report.outcome.as_str(), stop = report.stop.as_str(), "item served in-process");
        return match &report.outcome {
            ItemOutcome::Succeeded | ItemOutcome::Cancelled(_) => Ok(0),
            ItemOutcome::LeaseLost(_) if !ran.load(Ordering::SeqCst) => Err(never_claimed(&report)),
            ItemOutcome::LeaseLost(_) => Ok(EXIT_LEASE_LOST),
            ItemOutcome::Failed(reason) => Err(CliError::Failed(format!(
                "the session was not served: {reason}"
            ))),
            _ => Err(not_served(&report)),
        };
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
            let output = output.clone();
            async move {
                let secret = ctx.secret().map(|s| s.expose_raw().to_owned());
                let mut output = output.clone();
                if let script::Output::Log { secrets, .. } = &mut output {
                    secrets.extend(secret.clone());
                    secrets.extend(ctx.secret().map(|s| s.sessions_token().expose().to_owned()));
                }
                let result = script::run(script::Launch {
                    program: &program,
                    env: Vec::new(),
                    stdin: None,
                    forward_secret: if forward { secret.as_deref() } else { None },
                    timeout,
                    kill_grace,
                    cancel: ctx.cancellation_token(),
                    output,
                })
                .await;
                let failed = match &result {
                    Ok(e) if e.status.success() => None,
                    Ok(e) => Some(format!("the command {}", e.describe())),
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
        return match ended {
            Some(_) => Ok(EXIT_LEASE_LOST),
            None => Err(never_claimed(&report)),
        };
    }
    Ok(match ended {
        Some(Ok(ended)) => u8::try_from(ended.code()).unwrap_or(EXIT_FAILURE),
        Some(Err(error @ LaunchError::CannotStart { .. })) => {
            return Err(CliError::CannotStart(error.to_string()));
        }
        Some(Err(other)) => return Err(CliError::Failed(other.to_string())),
        // The handler never ran: the lease could not be claimed, or no
        // credential.
        None => return Err(not_served(&report)),
    })
}

/// A lease lost before the handler ran: another holder's (a 412, exit 75
/// as for any lost lease), or never confirmed because no heartbeat was
/// answered in time (exit 4: the API could not be reached).
fn never_claimed(report: &ItemReport) -> CliError {
    match &report.error {
        Some(answer) => CliError::LeaseLost(format!(
            "the item was not served: another worker holds its lease: {answer}"
        )),
        None => CliError::Unreachable(
            "the item was not served: no heartbeat was answered before its lease ran out \
             (is the API reachable?)"
                .to_owned(),
        ),
    }
}

/// Why an item's handler never ran, in words, with the server's answer
/// when one ended it (exit 3 then: the API refused it).
fn not_served(report: &ItemReport) -> CliError {
    let why = match &report.outcome {
        ItemOutcome::NotClaimed(reason) => {
            format!("its lease could not be claimed ({})", reason.as_str())
        }
        ItemOutcome::NoCredential => "no credential for its calls".to_owned(),
        other => other.as_str().replace('_', " "),
    };
    match &report.error {
        Some(answer) => CliError::Refused {
            message: format!("the item was not served: {why}: {answer}"),
            status: report.error_status,
        },
        None => CliError::Failed(format!("the item was not served: {why}")),
    }
}
