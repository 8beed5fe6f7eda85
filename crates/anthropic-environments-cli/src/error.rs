//! The command's errors and the exit status each maps to.

use std::process::ExitCode;

/// What ends a command unsuccessfully.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input: a flag, a value, a file's content (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The API answered with an error, or could not be reached (exit 3 or 4).
    #[error(transparent)]
    Api(#[from] anthropic_environments::Error),
    /// Anything else that went wrong (exit 1).
    #[error("{0}")]
    Failed(String),
}

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: a failure other than the ones below.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status: bad usage (clap uses it too).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: the API answered with an error.
pub const EXIT_API_ERROR: u8 = 3;
/// Exit status: the API could not be reached.
pub const EXIT_UNREACHABLE: u8 = 4;
/// Exit status of `worker run` when the lease was lost (EX_TEMPFAIL).
pub const EXIT_LEASE_LOST: u8 = 75;
/// Exit status of `worker run` when the command could not be started.
pub const EXIT_CANNOT_START: u8 = 127;

impl CliError {
    /// The documented exit status.
    pub fn exit_status(&self) -> u8 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Api(e) if e.status().is_some() => EXIT_API_ERROR,
            CliError::Api(e) if e.is_timeout() || e.is_retryable() => EXIT_UNREACHABLE,
            CliError::Api(anthropic_environments::Error::InvalidInput { .. }) => EXIT_USAGE,
            CliError::Api(_) => EXIT_FAILURE,
            CliError::Failed(_) => EXIT_FAILURE,
        }
    }

    /// Prints the error on stderr and gives the exit code.
    pub fn report(&self) -> ExitCode {
        eprintln!("error: {self}");
        ExitCode::from(self.exit_status())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses() {
        assert_eq!(CliError::Usage("x".into()).exit_status(), EXIT_USAGE);
        assert_eq!(CliError::Failed("x".into()).exit_status(), EXIT_FAILURE);
        let timeout = anthropic_environments::Error::Timeout { operation: "x" };
        assert_eq!(CliError::Api(timeout).exit_status(), EXIT_UNREACHABLE);
        let invalid = anthropic_environments::Error::InvalidInput {
            field: "work_id",
            reason: "empty".into(),
        };
        assert_eq!(CliError::Api(invalid).exit_status(), EXIT_USAGE);
    }
}
