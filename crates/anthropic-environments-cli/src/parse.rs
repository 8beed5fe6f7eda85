//! Parsing the command line: clap's, with missing-argument errors that
//! name the environment variable each argument can come from.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;

/// Parses the process's arguments; on bad usage prints the error and
/// exits 2 (0 for `--help` and `--version`), as clap does.
pub fn parse() -> Cli {
    let mut command = Cli::command();
    let result = command
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|matches| Cli::from_arg_matches(&matches));
    match result {
        Ok(cli) => cli,
        Err(error) => name_variables(error, &command).format(&mut command).exit(),
    }
}

/// Adds `(or VAR)` to each missing argument that a variable can give.
fn name_variables(mut error: clap::Error, command: &clap::Command) -> clap::Error {
    if error.kind() != ErrorKind::MissingRequiredArgument {
        return error;
    }
    let Some(ContextValue::Strings(missing)) = error.get(ContextKind::InvalidArg).cloned() else {
        return error;
    };
    let named = missing
        .into_iter()
        .map(|shown| match variable_of(command, &shown) {
            Some(var) => format!("{shown} (or {var})"),
            None => shown,
        })
        .collect();
    error.insert(ContextKind::InvalidArg, ContextValue::Strings(named));
    error
}

/// The variable of the argument clap shows as `shown` (`--work-id <ID>`),
/// looked up in every subcommand (an argument's variable is the same
/// wherever it appears).
fn variable_of(command: &clap::Command, shown: &str) -> Option<String> {
    let long = shown.strip_prefix("--")?.split([' ', '=']).next()?;
    let own = command
        .get_arguments()
        .find(|arg| arg.get_long() == Some(long))
        .and_then(|arg| arg.get_env())
        .map(|var| var.to_string_lossy().into_owned());
    own.or_else(|| {
        command
            .get_subcommands()
            .find_map(|sub| variable_of(sub, shown))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(args: &[&str]) -> String {
        let mut command = Cli::command();
        let error = command
            .try_get_matches_from_mut(args)
            .expect_err("an argument is missing");
        assert_eq!(error.kind(), ErrorKind::MissingRequiredArgument);
        name_variables(error, &command)
            .format(&mut command)
            .to_string()
    }

    #[test]
    fn missing_arguments_name_their_variables() {
        let text = missing(&["antenv", "worker", "run", "--environment-id", "env_1"]);
        assert!(
            text.contains("--work-id <ID> (or ANTHROPIC_WORK_ID)"),
            "{text}"
        );
        assert!(
            text.contains("--session-id <ID> (or ANTHROPIC_SESSION_ID)"),
            "{text}"
        );
        // Given, so not listed as missing.
        assert!(!text.contains("ANTHROPIC_ENVIRONMENT_ID"), "{text}");
        let text = missing(&["antenv", "worker", "webhook"]);
        assert!(
            text.contains("--listen <ADDR> (or ANTHROPIC_WEBHOOK_LISTEN)"),
            "{text}"
        );
    }
}
