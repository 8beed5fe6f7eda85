//! `antenv work ...`.

use super::metadata_patch;
use crate::cli::{OutputFormat, StatsFormat, WorkCommand};
use crate::connection::Connection;
use crate::error::CliError;
use crate::output::{Kind, print_one, print_stream};
use anthropic_environments::operations;

/// Runs one work command, each with the credential its endpoint accepts.
pub async fn run(connection: &Connection, command: WorkCommand) -> Result<(), CliError> {
    match command {
        WorkCommand::List {
            queue,
            page_size,
            output,
        } => {
            let queue = connection
                .client(&operations::LIST_WORK)?
                .work(queue.environment_id);
            let mut list = queue.list();
            if let Some(n) = page_size {
                list = list.limit(n);
            }
            print_stream(list.into_stream(), Kind::Work, output.output).await
        }
        WorkCommand::Get {
            work_id,
            queue,
            output,
        } => {
            let queue = connection
                .client(&operations::RETRIEVE_WORK)?
                .work(queue.environment_id);
            print_one(
                &queue.retrieve(work_id).send().await?,
                Kind::Work,
                output.output,
            )
        }
        WorkCommand::Update {
            work_id,
            queue,
            metadata,
            output,
        } => {
            let patch = metadata_patch(&metadata);
            if patch.is_empty() {
                return Err(CliError::Usage(
                    "nothing to update: give --set KEY=VALUE or --unset KEY".into(),
                ));
            }
            let queue = connection
                .client(&operations::UPDATE_WORK)?
                .work(queue.environment_id);
            let work = queue.update(work_id).metadata_patch(patch).send().await?;
            print_one(&work, Kind::Work, output.output)
        }
        WorkCommand::Stop {
            work_id,
            queue,
            force,
            output,
        } => {
            let queue = connection
                .client(&operations::STOP_WORK)?
                .work(queue.environment_id);
            let work = queue.stop(work_id).force(force).send().await?;
            print_one(&work, Kind::Work, output.output)
        }
        WorkCommand::Stats {
            queue,
            stuck_after,
            output,
        } => {
            let environment_id = queue.environment_id;
            let format = match output.output {
                StatsFormat::Json => OutputFormat::Json,
                StatsFormat::Table => OutputFormat::Table,
                StatsFormat::Prometheus => {
                    // The stuck count lists every item: the environment key.
                    let lister = match connection.environment_key() {
                        Some(_) => Some(
                            connection
                                .client(&operations::LIST_WORK)?
                                .work(&environment_id),
                        ),
                        None => None,
                    };
                    let queue = connection
                        .client(&operations::WORK_STATS)?
                        .work(&environment_id);
                    let text = crate::queue_metrics::render_once(
                        &queue,
                        lister.as_ref().map(|l| (l, stuck_after)),
                    )
                    .await?;
                    print!("{text}");
                    return Ok(());
                }
            };
            let queue = connection
                .client(&operations::WORK_STATS)?
                .work(environment_id);
            print_one(&queue.stats().send().await?, Kind::QueueStats, format)
        }
        WorkCommand::Stuck {
            queue,
            older_than,
            stop,
            output,
        } => {
            let queue = connection
                .client(&operations::LIST_WORK)?
                .work(queue.environment_id);
            let mut found = queue.stuck(older_than).await?;
            let mut stopped = std::collections::HashSet::new();
            if stop && !found.is_empty() {
                // Listed again just before: an item heartbeated since is
                // spared.
                let still: std::collections::HashSet<String> = queue
                    .stuck(older_than)
                    .await?
                    .into_iter()
                    .map(|s| s.work.id)
                    .collect();
                found.retain(|s| still.contains(&s.work.id));
                for item in &found {
                    match queue.stop(&item.work.id).force(true).send().await {
                        Ok(_) => {
                            stopped.insert(item.work.id.clone());
                        }
                        Err(error) => {
                            eprintln!("could not stop {}: {error}", item.work.id);
                        }
                    }
                }
            }
            let rows: Vec<serde_json::Value> = found
                .iter()
                .map(|s| {
                    let mut row = serde_json::json!({
                        "id": s.work.id,
                        "state": s.work.state.as_str(),
                        "reason": s.reason.as_str(),
                        "silent_for_seconds": s.silent_for.as_secs(),
                        "data_id": serde_json::to_value(&s.work.data).ok().and_then(|d| d.get("id").cloned()),
                    });
                    if stop {
                        row["stopped"] = stopped.contains(&s.work.id).into();
                    }
                    row
                })
                .collect();
            let failed = stop && stopped.len() < rows.len();
            print_stream(
                futures::stream::iter(rows.into_iter().map(Ok)),
                Kind::Stuck,
                output.output,
            )
            .await?;
            if failed {
                return Err(CliError::Failed(
                    "some stuck items could not be stopped".into(),
                ));
            }
            Ok(())
        }
        WorkCommand::Poll {
            queue,
            block_ms,
            reclaim_older_than_ms,
            worker_id,
            show_secret,
            output,
        } => {
            let queue = connection
                .client(&operations::POLL_WORK)?
                .work(queue.environment_id);
            let mut poll = queue.poll();
            if let Some(ms) = block_ms {
                poll = poll.block_ms(ms);
            }
            if let Some(ms) = reclaim_older_than_ms {
                poll = poll.reclaim_older_than_ms(ms);
            }
            if let Some(id) = worker_id {
                poll = poll.worker_id(id);
            }
            let mut work = poll.send().await?;
            if let Some(work) = work.as_mut().filter(|w| !show_secret && w.secret.is_some()) {
                work.secret = Some("<redacted: --show-secret prints it>".to_owned());
            }
            match work {
                Some(work) => print_one(&work, Kind::Work, output.output),
                None => match output.output {
                    OutputFormat::Json => print_one(&(), Kind::Work, output.output),
                    OutputFormat::Table | OutputFormat::Id => {
                        eprintln!("no work item");
                        Ok(())
                    }
                },
            }
        }
    }
}
