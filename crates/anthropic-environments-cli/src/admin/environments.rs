//! `antenv environments ...`.

use anthropic_environments::{EnvironmentConfigParams, Scope};

use super::{enum_arg, json_arg, metadata_patch};
use crate::cli::EnvironmentsCommand;
use crate::connection::Connection;
use crate::error::CliError;
use crate::output::{Kind, print_one, print_stream};
use anthropic_environments::operations;

/// Runs one environments command.
pub async fn run(connection: &Connection, command: EnvironmentsCommand) -> Result<(), CliError> {
    let environments = connection
        .client(&operations::LIST_ENVIRONMENTS)?
        .environments();
    match command {
        EnvironmentsCommand::List {
            include_archived,
            page_size,
            output,
        } => {
            let mut list = environments.list().include_archived(include_archived);
            if let Some(n) = page_size {
                list = list.limit(n);
            }
            print_stream(list.into_stream(), Kind::Environment, output.output).await
        }
        EnvironmentsCommand::Get {
            environment_id,
            output,
        } => {
            let env = environments.retrieve(environment_id).send().await?;
            print_one(&env, Kind::Environment, output.output)
        }
        EnvironmentsCommand::Create {
            name,
            description,
            config,
            scope,
            metadata,
            output,
        } => {
            let mut create = environments.create(name);
            if let Some(d) = description {
                create = create.description(d);
            }
            if let Some(c) = config {
                create = create.config(json_arg::<EnvironmentConfigParams>("config", &c)?);
            }
            if let Some(s) = scope {
                create = create.scope(enum_arg::<Scope>("scope", &s)?);
            }
            for (k, v) in metadata {
                create = create.metadata(k, v);
            }
            print_one(&create.send().await?, Kind::Environment, output.output)
        }
        EnvironmentsCommand::Update {
            environment_id,
            name,
            description,
            config,
            scope,
            metadata,
            output,
        } => {
            let mut update = environments.update(environment_id);
            if let Some(n) = name {
                update = update.name(n);
            }
            if let Some(d) = description {
                update = update.description(d);
            }
            if let Some(c) = config {
                update = update.config(json_arg::<EnvironmentConfigParams>("config", &c)?);
            }
            if let Some(s) = scope {
                update = update.scope(enum_arg::<Scope>("scope", &s)?);
            }
            let patch = metadata_patch(&metadata);
            if !patch.is_empty() {
                update = update.metadata_patch(patch);
            }
            print_one(&update.send().await?, Kind::Environment, output.output)
        }
        EnvironmentsCommand::Archive {
            environment_id,
            output,
        } => {
            let env = environments.archive(environment_id).send().await?;
            print_one(&env, Kind::Environment, output.output)
        }
        EnvironmentsCommand::Delete {
            environment_id,
            output,
        } => {
            let deleted = environments.delete(environment_id).send().await?;
            print_one(&deleted, Kind::Deleted, output.output)
        }
    }
}
