//! Logs on standard error: text or JSON lines, filtered like `RUST_LOG`.

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// The filter: `RUST_LOG` when set; else `default` for this tool and the
/// library, raised to `debug`/`info` request logging by `ANTHROPIC_LOG`
/// (as the official SDK reads it).
fn filter(default: &str) -> EnvFilter {
    if let Ok(filter) = EnvFilter::try_from_default_env() {
        return filter;
    }
    let mut directives = format!("warn,antenv={default},anthropic_environments={default}");
    if let Some(requests) = anthropic_environments::telemetry::log_directive() {
        directives.push(',');
        directives.push_str(&requests);
    }
    EnvFilter::new(directives)
}

/// Installs the subscriber. `default`: the level without `RUST_LOG`.
pub fn init(format: LogFormat, default: &str) {
    // Colours only for a terminal, and never with NO_COLOR set.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(default))
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    // Only fails when a subscriber is already installed: keep that one.
    let _ = installed;
}
