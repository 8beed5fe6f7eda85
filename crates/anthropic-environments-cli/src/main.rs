//! `antenv`: a worker for self-hosted environments (it serves each claimed
//! session in-process, with the agent's bash and file tools and its
//! skills, or hands it to a script on `ant beta:worker`'s `--on-work`
//! contract; with concurrency, heartbeats, health and metrics) and an admin
//! tool for environments and work queues. See `antenv --help`.

#![forbid(unsafe_code)]

mod admin;
mod cli;
mod connection;
mod error;
mod logging;
mod output;
mod parse;
mod queue_metrics;
mod secret;
mod worker;

use std::process::ExitCode;

use crate::cli::{Cli, Command, WorkerCommand};
use crate::connection::Connection;
use crate::error::{CliError, EXIT_OK};

fn main() -> ExitCode {
    let cli = parse::parse();
    let default_level = match cli.command {
        Command::Worker(_) => "info",
        _ => "warn",
    };
    logging::init(cli.global.log_format, default_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let error = CliError::Failed(format!("cannot start the runtime: {e}"));
            return error.report(None, cli.global.log_format);
        }
    };
    let (base_url, format) = (cli.global.base_url.clone(), cli.global.log_format);
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => e.report(Some(&base_url), format),
    }
}

async fn run(cli: Cli) -> Result<u8, CliError> {
    let connection = Connection::new(&cli.global)?;
    match cli.command {
        Command::Worker(WorkerCommand::Poll(args)) => {
            worker::poll::run(&connection, args, None).await?;
            Ok(EXIT_OK)
        }
        Command::Worker(WorkerCommand::Run(args)) => {
            worker::run::run(&connection, args, cli.global.log_format).await
        }
        Command::Worker(WorkerCommand::Webhook(args)) => {
            worker::webhook::run(&connection, *args).await?;
            Ok(EXIT_OK)
        }
        Command::Environments(command) => {
            admin::environments::run(&connection, command).await?;
            Ok(EXIT_OK)
        }
        Command::Work(command) => {
            admin::work::run(&connection, command).await?;
            Ok(EXIT_OK)
        }
    }
}
