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
        Err(error) => {
            let args: Vec<_> = std::env::args_os().collect();
            name_variables(error, &mut command, &args)
                .format(&mut command)
                .exit()
        }
    }
}

/// Adds `(or VAR)` to each missing argument that a variable can give, and
/// shows the command's own usage line (clap's lists the arguments given,
/// variables included, as if they were wanted).
fn name_variables(
    mut error: clap::Error,
    command: &mut clap::Command,
    args: &[std::ffi::OsString],
) -> clap::Error {
    if error.kind() != ErrorKind::MissingRequiredArgument {
        return error;
    }
    if let Some(usage) = leaf(command, args).map(clap::Command::render_usage) {
        error.insert(ContextKind::Usage, ContextValue::StyledStr(usage));
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

/// The subcommand `args` name (the deepest one), built as clap built it.
fn leaf<'a>(
    command: &'a mut clap::Command,
    args: &[std::ffi::OsString],
) -> Option<&'a mut clap::Command> {
    let mut current = command;
    for arg in args.iter().skip(1) {
        let name = arg.to_string_lossy();
        if current.find_subcommand(name.as_ref()).is_some() {
            current = current.find_subcommand_mut(name.as_ref())?;
        }
    }
    Some(current)
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
        let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        name_variables(error, &mut command, &args)
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
        // The usage line is the command's, not the arguments given.
        assert!(
            text.contains("Usage: antenv worker run [OPTIONS] --environment-id <ID>"),
            "{text}"
        );
        let text = missing(&["antenv", "worker", "webhook"]);
        assert!(
            text.contains("--listen <ADDR> (or ANTHROPIC_WEBHOOK_LISTEN)"),
            "{text}"
        );
    }
}
