//! The command's errors and the exit status each maps to.

use std::process::ExitCode;

use crate::cli::LogFormat;

/// What ends a command unsuccessfully.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input: a flag, a value, a file's content (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The API answered with an error, or could not be reached (exit 3 or 4).
    #[error(transparent)]
    Api(#[from] anthropic_environments::Error),
    /// The API refused what the command did, said in the command's words
    /// with the server's answer (exit 3, as for [`CliError::Api`]).
    #[error("{message}")]
    Refused {
        /// What was refused, with the server's answer.
        message: String,
        /// The answer's HTTP status, when it had one.
        status: Option<u16>,
    },
    /// The API could not be reached, said in the command's words (exit 4).
    #[error("{0}")]
    Unreachable(String),
    /// `worker run`: the item's lease is another worker's (exit 75).
    #[error("{0}")]
    LeaseLost(String),
    /// `worker run`: the command could not be started (exit 127).
    #[error("{0}")]
    CannotStart(String),
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
            CliError::Api(anthropic_environments::Error::InvalidInput { .. })
            | CliError::Api(anthropic_environments::Error::Config(_)) => EXIT_USAGE,
            CliError::Refused { .. } => EXIT_API_ERROR,
            CliError::Unreachable(_) => EXIT_UNREACHABLE,
            CliError::LeaseLost(_) => EXIT_LEASE_LOST,
            CliError::CannotStart(_) => EXIT_CANNOT_START,
            CliError::Api(_) => EXIT_FAILURE,
            CliError::Failed(_) => EXIT_FAILURE,
        }
    }

    /// Prints the error on stderr, with a hint when `base_url` explains
    /// it, and gives the exit code. With JSON logs it is a log record
    /// (`command failed`, with `error`, `hint` and `exit_code`), so that
    /// every line is JSON.
    pub fn report(&self, base_url: Option<&str>, format: LogFormat) -> ExitCode {
        let hint = base_url.and_then(|url| self.hint(url));
        let status = self.exit_status();
        match format {
            LogFormat::Json => {
                // Written directly: no RUST_LOG filter may drop the reason
                // a command failed.
                let mut record = serde_json::json!({
                    "timestamp": humantime::format_rfc3339_micros(std::time::SystemTime::now())
                        .to_string(),
                    "level": "ERROR",
                    "message": "command failed",
                    "error": self.to_string(),
                    "exit_code": status,
                    "target": "antenv",
                });
                if let Some(hint) = hint {
                    record["hint"] = hint.into();
                }
                eprintln!("{record}");
            }
            LogFormat::Text => {
                eprintln!("error: {self}");
                if let Some(hint) = hint {
                    eprintln!("hint: {hint}");
                }
            }
        }
        ExitCode::from(status)
    }

    /// A hint for an error the base URL explains: a 404 when it ends in
    /// `/v1`, which every request path starts with already; TLS refused by
    /// a server that speaks plain HTTP.
    fn hint(&self, base_url: &str) -> Option<String> {
        if let CliError::Api(e) = self
            && base_url.starts_with("https://")
            && e.to_string().contains("InvalidContentType")
        {
            let plain = base_url.replacen("https://", "http://", 1);
            return Some(format!(
                "the server answered TLS with plain HTTP; for a local mock, try --base-url {plain}"
            ));
        }
        let not_found = match self {
            CliError::Api(e) => e.status().is_some_and(|s| s.as_u16() == 404),
            CliError::Refused { status, .. } => *status == Some(404),
            _ => false,
        };
        let root = base_url.trim_end_matches('/').strip_suffix("/v1")?;
        not_found.then(|| {
            format!(
                "the base URL ends in /v1, and antenv adds /v1 to every path; \
                 try --base-url {root} (or ANTHROPIC_BASE_URL={root})"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses() {
        assert_eq!(CliError::Usage("x".into()).exit_status(), EXIT_USAGE);
        assert_eq!(CliError::Failed("x".into()).exit_status(), EXIT_FAILURE);
        // (Timeouts and invalid input come from real calls: the end-to-end
        // tests exit 4 and 2 on them.)
        let config = anthropic_environments::Error::Config("bad base URL".into());
        assert_eq!(CliError::Api(config).exit_status(), EXIT_USAGE);
        let refused = CliError::Refused {
            message: "x".into(),
            status: None,
        };
        assert_eq!(refused.exit_status(), EXIT_API_ERROR);
    }

    #[test]
    fn a_404_under_a_v1_base_url_gets_a_hint() {
        let refused = CliError::Refused {
            message: "heartbeat_work: not_found_error".into(),
            status: Some(404),
        };
        assert_eq!(
            refused.hint("http://127.0.0.1:4010/v1/").as_deref(),
            Some(
                "the base URL ends in /v1, and antenv adds /v1 to every path; \
                 try --base-url http://127.0.0.1:4010 (or ANTHROPIC_BASE_URL=http://127.0.0.1:4010)"
            )
        );
        assert_eq!(refused.hint("http://127.0.0.1:4010"), None);
        assert_eq!(
            CliError::Failed("404 Not Found".into()).hint("http://h/v1"),
            None
        );
        // The status decides, not the answer's words.
        let conflict = CliError::Refused {
            message: "404 Not Found".into(),
            status: Some(409),
        };
        assert_eq!(conflict.hint("http://h/v1"), None);
    }
}
