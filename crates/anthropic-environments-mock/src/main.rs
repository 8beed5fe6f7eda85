//! `anthropic-environments-mock`: serves the mock API until stopped
//! (SIGINT/Ctrl-C). `--help` documents every flag.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anthropic_environments_mock::{
    CredentialMode, FaultConfig, MockMode, MockServer, Seed, Timing,
};
use clap::{Parser, ValueEnum};

/// A stateful (or stateless) mock server of Anthropic's beta Environments
/// and Work API, for tests and demos in any language.
///
/// Prints `listening on http://ADDR` on its first line, then serves until
/// interrupted. The control surface is under /_mock/: queue work
/// (POST /_mock/environments/{id}/work), read an environment's key
/// (GET /_mock/environments/{id}/key), the request journal
/// (GET/DELETE /_mock/requests), faults (PUT/GET /_mock/faults), reset
/// (POST /_mock/reset) and health (GET /_mock/health).
#[derive(Debug, Parser)]
#[command(
    name = "anthropic-environments-mock",
    version,
    after_help = "Examples:\n  \
        anthropic-environments-mock --listen 127.0.0.1:4010\n  \
        anthropic-environments-mock --credentials strict --seed seed.json\n  \
        anthropic-environments-mock --mode stateless --faults faults.json\n  \
        anthropic-environments-mock --timing default_ttl_ms=2000 --timing stop_grace_ms=50"
)]
struct Args {
    /// Address to bind (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:4010")]
    listen: SocketAddr,

    /// Accept only this API key (default: any non-empty key).
    #[arg(long, env = "ANTHROPIC_MOCK_API_KEY", hide_env_values = true)]
    api_key: Option<String>,

    /// `any`: every endpoint takes any credential. `strict`: each endpoint
    /// takes the credentials the real API does (environment keys from
    /// GET /_mock/environments/{id}/key, sessions tokens in each poll's
    /// secret).
    #[arg(long, value_enum, default_value_t = Credentials::Any)]
    credentials: Credentials,

    /// `stateful`: the documented semantics, with state. `stateless`: every
    /// request is validated against the spec and answered with the spec's
    /// example, the path's ids echoed into it (as the mocks the official
    /// SDKs' generated tests run against).
    #[arg(long, value_enum, default_value_t = Mode::Stateful)]
    mode: Mode,

    /// A JSON file of environments and work to start with:
    /// {"environments": [{"name": "...", "config": {"type": "self_hosted"},
    /// "work": [{"session_id": "..."}, {"data": {"type": "healthcheck", "id": "..."}}]}]}
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,

    /// A JSON file of faults to inject from the start (the body of
    /// PUT /_mock/faults), e.g. {"seed": 7, "error_rate": 0.1}.
    #[arg(long, value_name = "FILE")]
    faults: Option<PathBuf>,

    /// A timing override, KEY=MILLISECONDS; repeatable. Keys: default_ttl_ms
    /// (lease TTL without desired_ttl_seconds), default_reclaim_ms (reclaim
    /// age without reclaim_older_than_ms), stop_grace_ms (stopping ->
    /// stopped), workers_window_ms (workers_polling window), max_ttl_ms
    /// (largest lease granted).
    #[arg(long, value_name = "KEY=MS", value_parser = parse_timing)]
    timing: Vec<(TimingKey, Duration)>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Credentials {
    Any,
    Strict,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Stateful,
    Stateless,
}

#[derive(Debug, Clone, Copy)]
enum TimingKey {
    DefaultTtl,
    DefaultReclaim,
    StopGrace,
    WorkersWindow,
    MaxTtl,
}

fn parse_timing(text: &str) -> Result<(TimingKey, Duration), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected KEY=MILLISECONDS"))?;
    let key = match key {
        "default_ttl_ms" => TimingKey::DefaultTtl,
        "default_reclaim_ms" => TimingKey::DefaultReclaim,
        "stop_grace_ms" => TimingKey::StopGrace,
        "workers_window_ms" => TimingKey::WorkersWindow,
        "max_ttl_ms" => TimingKey::MaxTtl,
        other => {
            return Err(format!(
                "unknown timing {other:?}: one of default_ttl_ms, default_reclaim_ms, \
                 stop_grace_ms, workers_window_ms, max_ttl_ms"
            ));
        }
    };
    let ms: u64 = value
        .parse()
        .map_err(|_| format!("{value:?}: expected a whole number of milliseconds"))?;
    Ok((key, Duration::from_millis(ms)))
}

/// Reads and decodes a JSON file; the error names the file and the problem.
fn read_json<T: serde::de::DeserializeOwned>(path: &PathBuf, what: &str) -> Result<T, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--{what} {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("--{what} {}: {e}", path.display()))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let mut timing = Timing::default();
    for (key, value) in &args.timing {
        let slot = match key {
            TimingKey::DefaultTtl => &mut timing.default_ttl,
            TimingKey::DefaultReclaim => &mut timing.default_reclaim,
            TimingKey::StopGrace => &mut timing.stop_grace,
            TimingKey::WorkersWindow => &mut timing.workers_window,
            TimingKey::MaxTtl => &mut timing.max_ttl,
        };
        *slot = *value;
    }
    let mut builder = MockServer::builder()
        .listen(args.listen)
        .timing(timing)
        .credential_mode(match args.credentials {
            Credentials::Any => CredentialMode::Any,
            Credentials::Strict => CredentialMode::Strict,
        })
        .mode(match args.mode {
            Mode::Stateful => MockMode::Stateful,
            Mode::Stateless => MockMode::Stateless,
        });
    if let Some(key) = args.api_key.filter(|k| !k.is_empty()) {
        builder = builder.api_key(key);
    }
    if let Some(path) = &args.seed {
        builder = builder.seed(read_json::<Seed>(path, "seed")?);
    }
    if let Some(path) = &args.faults {
        let faults: FaultConfig = read_json(path, "faults")?;
        faults
            .validate()
            .map_err(|e| format!("--faults {}: {e}", path.display()))?;
        builder = builder.faults(faults);
    }
    let server = builder
        .try_start()
        .await
        .map_err(|e| format!("could not start on {}: {e}", args.listen))?;
    println!("listening on {}", server.base_url());
    for id in server.environment_ids() {
        println!("seeded environment {id}");
    }
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    Ok(())
}
