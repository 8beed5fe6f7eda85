//! The command line: every command, flag and environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::secret::SecretArg;

const EXIT_CODES: &str = "\
Exit status:
  0  success
  1  failure: a script could not be started, a file could not be read or
     written, an address could not be bound
  2  usage: a bad flag, value (a base URL without http://) or input file,
     a missing argument or variable
  3  the API answered with an error (its type, message and request id are
     printed on stderr)
  4  the API could not be reached (connection failed or timed out)";

/// Run a self-hosted environment's workers and manage environments and
/// their work queues (Anthropic's beta Environments and Work API).
#[derive(Debug, Parser)]
#[command(name = "antenv", version, about, long_about = None, after_long_help = EXIT_CODES)]
#[command(propagate_version = true, term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options of every command.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The API's base URL.
    #[arg(
        long,
        env = "ANTHROPIC_BASE_URL",
        global = true,
        default_value = "https://api.anthropic.com",
        value_name = "URL"
    )]
    pub base_url: String,

    /// An organisation API key: environments, and reading or updating work
    /// items. Prefer the environment variable; a value on the command line
    /// is visible to other users of the host.
    #[arg(
        long,
        env = "ANTHROPIC_API_KEY",
        global = true,
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<SecretArg>,

    /// The environment key (`sk-ant-oat01-...`), a worker's credential.
    /// Prefer the environment variable or --environment-key-file; a value
    /// on the command line is visible to other users of the host.
    #[arg(
        long,
        env = "ANTHROPIC_ENVIRONMENT_KEY",
        global = true,
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub environment_key: Option<SecretArg>,

    /// Read the environment key from this file (e.g. a mounted Kubernetes
    /// Secret) instead.
    #[arg(
        long,
        env = "ANTHROPIC_ENVIRONMENT_KEY_FILE",
        global = true,
        conflicts_with = "environment_key",
        value_name = "PATH"
    )]
    pub environment_key_file: Option<PathBuf>,

    /// The workspace to act in (`anthropic-workspace-id` header).
    #[arg(long, env = "ANTHROPIC_WORKSPACE_ID", global = true, value_name = "ID")]
    pub workspace_id: Option<String>,

    /// Log format on standard error.
    #[arg(
        long,
        env = "ANTHROPIC_LOG_FORMAT",
        global = true,
        value_enum,
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,
}

/// How logs are written on standard error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (level, message, work, session and
    /// environment ids).
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve a self-hosted environment's work queue.
    #[command(subcommand)]
    Worker(WorkerCommand),
    /// Manage environments (needs an API key).
    #[command(subcommand)]
    Environments(EnvironmentsCommand),
    /// Inspect and manage an environment's work items.
    #[command(subcommand)]
    Work(WorkCommand),
}

/// Worker commands.
#[derive(Debug, Subcommand)]
pub enum WorkerCommand {
    /// Claim work items and serve each session: in-process (the agent's
    /// tool calls run here), or with a script or command.
    #[command(after_long_help = POLL_EXAMPLES)]
    Poll(PollArgs),
    /// Serve one already-claimed item: in-process, or run CMD, while keeping
    /// its lease; then stop the item.
    #[command(after_long_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Serve the queue when a webhook says work arrived: verify each
    /// delivery's signature, and on `session.status_run_started` poll the
    /// queue until it is empty, serving each session as `worker poll` does.
    #[command(after_long_help = WEBHOOK_EXAMPLES)]
    Webhook(Box<WebhookArgs>),
}

const POLL_EXAMPLES: &str = "\
Without --on-work or --exec, each claimed session is served in-process, as
`ant beta:worker poll` does: the agent's tool calls (bash, read, write,
edit, glob, grep) run in --workdir (a folder per session when
--concurrency is above 1) and their results are posted; the worker keeps
the lease. Calls of other tools are left for another client.

With a script, for each claimed `session` item the script (or --exec command) runs with
the caller's environment plus ANTHROPIC_WORK_ID, ANTHROPIC_ENVIRONMENT_ID,
ANTHROPIC_SESSION_ID and ANTHROPIC_ENVIRONMENT_KEY, and the polled item as
JSON on standard input (its secret removed). When it exits, with any code,
the item is stopped. Other item types (healthcheck, ...) are stopped
without running anything.

Examples:
  # Serve sessions in-process, in /srv/sandbox
  export ANTHROPIC_ENVIRONMENT_ID=env_... ANTHROPIC_ENVIRONMENT_KEY=sk-ant-oat01-...
  antenv worker poll --workdir /srv/sandbox

  # As `ant beta:worker poll --on-work`: one item at a time, the script keeps the lease
  antenv worker poll --on-work ./handle-session.sh

  # Eight at once; the worker keeps the leases and signals scripts whose
  # item is stopped; health and metrics on :9090
  antenv worker poll --concurrency 8 --heartbeat --timeout 2h \\
      --health-listen 0.0.0.0:9090 --exec -- python3 serve.py --verbose

A script's standard output and error become log records (INFO, target
antenv::script, so RUST_LOG filters them), one per line, with its work_id,
session_id and stream, the worker's credentials and the item's secret
redacted; with --log-format json every line on stderr is JSON (but for
clap's errors about the command line, which come before logging starts).

Exit status: 0 after SIGINT/SIGTERM; 1 when a script cannot be started;
2 on bad flags; 3 when the API refuses polling for good (a rejected key,
an unknown environment), with its answer on stderr.";

const RUN_EXAMPLES: &str = "\
Reads ANTHROPIC_WORK_ID, ANTHROPIC_ENVIRONMENT_ID, ANTHROPIC_SESSION_ID,
ANTHROPIC_ENVIRONMENT_KEY and the item's secret from ANTHROPIC_WORK_SECRET
or the file ANTHROPIC_WORK_SECRET_FILE (not world-readable), as
`ant beta:worker run` does. CMD gets the caller's environment without the
secret (unless --forward-secret).

Examples (the entrypoint of a per-session sandbox):
  antenv worker run --workdir /workspace       # serve the session in-process
  antenv worker run -- /opt/agent/bin/run-session

Exit status: CMD's; 128+N when CMD was killed by signal N; 75 when the
lease was lost (another worker holds the item; it was not stopped); 127
when CMD could not be started; 1 when the session could not be served
or the lease not claimed (stopped, not extended); 2 when a variable is
missing; 3 when the API refused the item (e.g. an unknown item: its first
heartbeat got 404), with its answer on stderr; 4 when no heartbeat was
answered before the lease ran out (the API could not be reached).";

const WEBHOOK_EXAMPLES: &str = "\
Listens for the API's webhook deliveries on POST /webhook. A delivery
whose Standard Webhooks signature does not verify with the signing key,
or whose timestamp is more than 5 minutes off, gets 401 and changes
nothing. Deliveries are told apart by their event's id (they come at
least once): a repeat gets 200 and is ignored, as is any event but
session.status_run_started (and a signed body this version cannot read). That one gets 202 at once and wakes the
worker, which polls the queue (without block_ms, reclaiming items polled
but not acknowledged for 2 s) until it is empty and serves each item as
`worker poll` would: in-process, or with --on-work / --exec, with the
same concurrency, heartbeats, health and metrics. Between deliveries
nothing is polled. A session being served is not in the queue, so a
later turn's event does not serve it twice. On SIGTERM, deliveries get
503 (the sender retries them) while in-flight sessions finish.

Examples:
  export ANTHROPIC_ENVIRONMENT_ID=env_... ANTHROPIC_ENVIRONMENT_KEY=sk-ant-oat01-...
  export ANTHROPIC_WEBHOOK_SIGNING_KEY=whsec_...
  antenv worker webhook --listen 0.0.0.0:8080 --workdir /srv/sandbox --concurrency 4

Exit status: 0 after SIGINT/SIGTERM; 1 when the address cannot be bound;
2 on bad flags or a missing or unusable signing key; 3 when the API
refuses polling for good.";

const STUCK_HELP: &str = "\
An item acknowledged but never heartbeated (its worker died between the
two) stays `starting`: the queue's depth and pending do not count it,
reclaim cannot reach it, and its session stays wedged until it is
stopped (anthropic-sdk-python #1746). An `active` item whose last
heartbeat is older than its lease allows has lost its worker too. Needs
the environment key (it lists every item).

Examples:
  antenv work stuck --older-than 10m --output table
  antenv work stuck --older-than 10m --stop";

/// `worker webhook`.
#[derive(Debug, Args)]
pub struct WebhookArgs {
    /// Where to listen for webhook deliveries (`POST /webhook`).
    #[arg(long, env = "ANTHROPIC_WEBHOOK_LISTEN", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// The webhook endpoint's signing key (`whsec_...`). Prefer the
    /// environment variable or --signing-key-file; a value on the command
    /// line is visible to other users of the host.
    #[arg(
        long,
        env = "ANTHROPIC_WEBHOOK_SIGNING_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub signing_key: Option<SecretArg>,

    /// Read the signing key from this file (used when no --signing-key or
    /// non-empty ANTHROPIC_WEBHOOK_SIGNING_KEY is given).
    #[arg(long, env = "ANTHROPIC_WEBHOOK_SIGNING_KEY_FILE", value_name = "PATH")]
    pub signing_key_file: Option<PathBuf>,

    /// Also poll the queue every DURATION, whatever the deliveries, so that
    /// work whose delivery was missed (the receiver down, a network error)
    /// waits no longer than that: 1s to 24h, or 0s to poll only when a
    /// delivery says so.
    #[arg(long, env = "ANTHROPIC_WEBHOOK_POLL_EVERY", default_value = "5m",
          value_parser = parse_poll_every, value_name = "DURATION")]
    pub poll_every: Duration,

    #[command(flatten)]
    pub poll: PollArgs,
}

/// `worker poll`.
#[derive(Debug, Args)]
pub struct PollArgs {
    /// The self-hosted environment whose queue to serve.
    #[arg(long, env = "ANTHROPIC_ENVIRONMENT_ID", value_name = "ID")]
    pub environment_id: String,

    /// Run SCRIPT for each session item (looked up like exec; no shell, no
    /// arguments), as `ant beta:worker poll --on-work`.
    #[arg(long, value_name = "SCRIPT", conflicts_with = "exec")]
    pub on_work: Option<PathBuf>,

    /// Run the command given after `--` (with its arguments) for each
    /// session item, with the same contract as --on-work.
    #[arg(long, requires = "command")]
    pub exec: bool,

    /// The command for --exec, with its arguments.
    #[arg(last = true, num_args = 1.., requires = "exec", value_name = "CMD")]
    pub command: Vec<String>,

    #[command(flatten)]
    pub sessions: SessionArgs,

    /// How many sessions (or scripts) may be served at once.
    #[arg(long, env = "ANTHROPIC_WORKER_CONCURRENCY", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,

    /// Keep each item's lease with heartbeats while its script runs, and
    /// signal the script (SIGTERM, then SIGKILL after --kill-grace) when the
    /// lease ends or the item is stopping. Without it (as `ant`) the script
    /// must heartbeat, e.g. by running `antenv worker run`.
    #[arg(long, conflicts_with = "hand_off")]
    pub heartbeat: bool,

    /// Take each item's lease (ack, first heartbeat), then hand it to the
    /// script with its ANTHROPIC_WORK_LAST_HEARTBEAT and leave it there: no
    /// more heartbeats, and no stop when the script exits. For scripts that
    /// start a sandbox (a container, a Kubernetes Job) running `antenv
    /// worker run`, which continues the live lease and owns the stop.
    #[arg(long)]
    pub hand_off: bool,

    /// Stop finished items with `force` (default: a graceful stop, as `ant`).
    #[arg(long)]
    pub force_stop: bool,

    /// Record each script's exit status and duration in its item's metadata
    /// (`antenv.exit_code`, `antenv.duration_ms`). Needs an API key: the API
    /// accepts no other credential for updating items.
    #[arg(long, requires = "api_key")]
    pub record_exit: bool,

    /// On SIGINT/SIGTERM, how long in-flight scripts may run on before they
    /// are signalled. A second signal skips it.
    #[arg(long, env = "ANTHROPIC_WORKER_GRACE", default_value = "30s",
          value_parser = parse_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub grace: Duration,

    /// Serve `GET /healthz` and `GET /metrics` (Prometheus) on this address.
    #[arg(long, env = "ANTHROPIC_WORKER_HEALTH_LISTEN", value_name = "ADDR")]
    pub health_listen: Option<SocketAddr>,

    /// This worker's id (`Anthropic-Worker-ID`); default: host name and a
    /// random suffix.
    #[arg(long, env = "ANTHROPIC_WORKER_ID", value_name = "ID")]
    pub worker_id: Option<String>,

    /// How long each poll waits for work, 1-999 ms (default 999; not for
    /// `worker webhook`, which polls without waiting).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=999), value_name = "MS")]
    pub block_ms: Option<u64>,

    /// Reclaim items polled but not acknowledged for this long.
    #[arg(long, value_name = "MS")]
    pub reclaim_older_than_ms: Option<u64>,

    /// Exit once the queue is empty and in-flight scripts are done (polls
    /// without waiting; not for `worker webhook`).
    #[arg(long)]
    pub drain: bool,

    /// Read the queue's statistics this often and export them on
    /// /metrics (antenv_queue_depth, _pending, _oldest_item_age_seconds,
    /// _workers_polling, _stuck_items): the signal to autoscale on.
    #[arg(long, env = "ANTHROPIC_WORKER_STATS_INTERVAL", value_parser = parse_positive_duration,
          value_name = "DURATION")]
    pub stats_interval: Option<Duration>,

    /// How long without a heartbeat makes an item stuck, for
    /// antenv_queue_stuck_items (see `antenv work stuck`).
    #[arg(long, default_value = "10m", value_parser = parse_positive_duration,
          value_name = "DURATION")]
    pub stuck_after: Duration,

    #[command(flatten)]
    pub script: ScriptArgs,
}

/// How sessions are served in-process (without a script): shared by
/// `worker poll` and `worker run`.
#[derive(Debug, Args)]
#[command(next_help_heading = "In-process serving (without a script)")]
pub struct SessionArgs {
    /// The folder the agent's tools work in (`worker poll`: a folder per
    /// session inside it when --concurrency is above 1).
    #[arg(
        long,
        env = "ANTHROPIC_WORKER_WORKDIR",
        default_value = ".",
        value_name = "DIR"
    )]
    pub workdir: PathBuf,

    /// Let the file tools reach any path, not only the workdir.
    #[arg(long)]
    pub unrestricted_paths: bool,

    /// End a session's serving this long after an idle that ends the
    /// agent's turn (0s: never).
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub max_idle: Duration,
}

/// How scripts run: shared by `worker poll` and `worker run`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Script options")]
pub struct ScriptArgs {
    /// Hand the item's secret to the script in a file readable only by this
    /// user, named by ANTHROPIC_WORK_SECRET_FILE (never in argv or the
    /// environment). Without it the secret is not forwarded.
    #[arg(long)]
    pub forward_secret: bool,

    /// End a script that runs longer than this (SIGTERM, then SIGKILL after
    /// --kill-grace).
    #[arg(long, value_parser = parse_positive_duration, value_name = "DURATION",
          allow_hyphen_values = true)]
    pub timeout: Option<Duration>,

    /// How long a signalled script has between SIGTERM and SIGKILL.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION",
          allow_hyphen_values = true)]
    pub kill_grace: Duration,

    /// On shutdown, once scripts are signalled and their --kill-grace is
    /// over: how long stopping the items may take. Items still unstopped
    /// then are logged and left to their leases (the queue serves them
    /// again); a second signal ends it at once.
    #[arg(long, env = "ANTHROPIC_WORKER_STOP_TIMEOUT", default_value = "10s",
          value_parser = parse_positive_duration, value_name = "DURATION")]
    pub stop_timeout: Duration,

    /// Every duration of the worker's timing (leases, backoff, grace, stop
    /// phase) times this factor; for the end-to-end tests, against a mock
    /// whose leases last seconds.
    #[arg(
        long,
        env = "ANTHROPIC_WORKER_TIMING_SCALE",
        hide = true,
        default_value_t = 1.0
    )]
    pub timing_scale: f64,
}

/// `worker run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The claimed item's environment.
    #[arg(long, env = "ANTHROPIC_ENVIRONMENT_ID", value_name = "ID")]
    pub environment_id: String,

    /// The claimed work item.
    #[arg(long, env = "ANTHROPIC_WORK_ID", value_name = "ID")]
    pub work_id: String,

    /// The item's session.
    #[arg(long, env = "ANTHROPIC_SESSION_ID", value_name = "ID")]
    pub session_id: String,

    /// The item's secret, as polled (its sessions token is the bearer for
    /// the item's heartbeats and stop). Prefer the variable or
    /// --secret-file.
    #[arg(
        long,
        env = "ANTHROPIC_WORK_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub secret: Option<SecretArg>,

    /// Read the item's secret from this file (must not be world-readable).
    #[arg(
        long,
        env = "ANTHROPIC_WORK_SECRET_FILE",
        conflicts_with = "secret",
        value_name = "PATH"
    )]
    pub secret_file: Option<PathBuf>,

    /// Continue the live lease whose `last_heartbeat` this is (as
    /// `worker poll --hand-off` passes it), instead of claiming a fresh one.
    #[arg(long, env = "ANTHROPIC_WORK_LAST_HEARTBEAT", value_name = "TIMESTAMP")]
    pub last_heartbeat: Option<String>,

    #[command(flatten)]
    pub script: ScriptArgs,

    #[command(flatten)]
    pub sessions: SessionArgs,

    /// The command to run, with its arguments; without one, the session is
    /// served in-process (the agent's tool calls run here).
    #[arg(last = true, num_args = 1.., value_name = "CMD")]
    pub command: Vec<String>,
}

/// Output of the admin commands.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Pretty JSON (default), a compact table, or only the ids.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Json)]
    pub output: OutputFormat,
}

/// Output format of the admin commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Pretty-printed JSON, as the API returns it (lists: one JSON array).
    Json,
    /// A compact table, one row per object.
    Table,
    /// Only the id, one line per object (for scripts:
    /// `ENV=$(antenv environments create ... -o id)`).
    Id,
}

/// `work stats`'s output: as the other commands', or Prometheus text.
#[derive(Debug, Args)]
pub struct StatsOutputArgs {
    /// Pretty JSON (default), a compact table, or Prometheus text (the
    /// queue's gauges, as `worker poll --stats-interval` exports them).
    #[arg(long, short, value_enum, default_value_t = StatsFormat::Json)]
    pub output: StatsFormat,
}

/// Output format of `work stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StatsFormat {
    /// Pretty-printed JSON, as the API returns it.
    Json,
    /// A compact table.
    Table,
    /// Prometheus text exposition.
    Prometheus,
}

const ENVIRONMENTS_EXAMPLES: &str = "\
Examples:
  antenv environments create --name fleet --config '{\"type\":\"self_hosted\"}'
  antenv environments list --output table
  antenv environments update env_... --set team=infra --unset owner";

/// Environment commands.
#[derive(Debug, Subcommand)]
#[command(after_long_help = ENVIRONMENTS_EXAMPLES)]
pub enum EnvironmentsCommand {
    #[command(
        after_long_help = "Examples:\n  antenv environments list --output table\n  antenv environments list --include-archived > environments.json"
    )]
    /// List environments, every page.
    List {
        /// Include archived environments.
        #[arg(long)]
        include_archived: bool,
        /// Page size (the API's `limit`).
        #[arg(long, value_name = "N")]
        page_size: Option<u64>,
        #[command(flatten)]
        output: OutputArgs,
    },
    #[command(after_long_help = "Example:\n  antenv environments get env_011CZkZ9X2dpNyB7HsEFoRfW")]
    /// Show one environment.
    #[command(visible_alias = "retrieve")]
    Get {
        /// The environment's id.
        environment_id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    #[command(
        after_long_help = "Examples:\n  antenv environments create --name fleet --config '{\"type\":\"self_hosted\"}'\n  antenv environments create --name sandbox --config @cloud.json --metadata team=infra"
    )]
    /// Create an environment.
    Create {
        /// Its name.
        #[arg(long)]
        name: String,
        /// Its description.
        #[arg(long)]
        description: Option<String>,
        /// Its configuration, as JSON, or @FILE to read it from a file,
        /// e.g. '{"type":"self_hosted"}'.
        #[arg(long, value_name = "JSON|@FILE")]
        config: Option<String>,
        /// Its scope: `organization` or `account` (a value added to the API later
        /// is passed on as is).
        #[arg(long)]
        scope: Option<String>,
        /// A metadata entry (repeatable).
        #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = parse_key_value)]
        metadata: Vec<(String, String)>,
        #[command(flatten)]
        output: OutputArgs,
    },
    #[command(
        after_long_help = "Example:\n  antenv environments update env_... --name fleet-2 --set owner=ops --unset team"
    )]
    /// Change an environment.
    Update {
        /// The environment's id.
        environment_id: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A new description.
        #[arg(long)]
        description: Option<String>,
        /// A new configuration, as JSON or @FILE.
        #[arg(long, value_name = "JSON|@FILE")]
        config: Option<String>,
        /// A new scope.
        #[arg(long)]
        scope: Option<String>,
        #[command(flatten)]
        metadata: MetadataArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    #[command(after_long_help = "Example:\n  antenv environments archive env_... --output table")]
    /// Archive an environment (it takes no new sessions).
    Archive {
        /// The environment's id.
        environment_id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    #[command(after_long_help = "Example:\n  antenv environments delete env_...")]
    /// Delete an environment.
    Delete {
        /// The environment's id.
        environment_id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// Metadata changes.
#[derive(Debug, Args)]
pub struct MetadataArgs {
    /// Set a metadata key (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
    /// Delete a metadata key (repeatable).
    #[arg(long = "unset", value_name = "KEY")]
    pub unset: Vec<String>,
}

/// Which environment's queue.
#[derive(Debug, Args)]
pub struct QueueArgs {
    /// The environment whose work queue to use.
    #[arg(long, env = "ANTHROPIC_ENVIRONMENT_ID", value_name = "ID")]
    pub environment_id: String,
}

const WORK_EXAMPLES: &str = "\
Credentials: `list` and `poll` use the environment key; `get` and `update`
an API key; `stats` and `stop` either.

Examples:
  antenv work list --environment-id env_... --output table
  antenv work stop work_... --force
  antenv work update work_... --set ticket=OPS-12";

/// Work commands.
#[derive(Debug, Subcommand)]
#[command(after_long_help = WORK_EXAMPLES)]
pub enum WorkCommand {
    #[command(
        after_long_help = "Example (environment key):\n  antenv work list --environment-id env_... --output table"
    )]
    /// List an environment's work items, every page.
    List {
        #[command(flatten)]
        queue: QueueArgs,
        /// Page size (the API's `limit`).
        #[arg(long, value_name = "N")]
        page_size: Option<u64>,
        #[command(flatten)]
        output: OutputArgs,
    },
    #[command(
        after_long_help = "Example (API key):\n  antenv work get work_... --environment-id env_..."
    )]
    /// Show one work item.
    #[command(visible_alias = "retrieve")]
    Get {
        /// The work item's id.
        work_id: String,
        #[command(flatten)]
        queue: QueueArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    #[command(
        after_long_help = "Example (API key):\n  antenv work update work_... --set ticket=OPS-12 --unset owner"
    )]
    /// Set or delete a work item's metadata.
    Update {
        /// The work item's id.
        work_id: String,
        #[command(flatten)]
        queue: QueueArgs,
        #[command(flatten)]
        metadata: MetadataArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    #[command(
        after_long_help = "Examples:\n  antenv work stop work_...\n  antenv work stop work_... --force --output table"
    )]
    /// Stop a work item (gracefully, or at once with --force).
    Stop {
        /// The work item's id.
        work_id: String,
        #[command(flatten)]
        queue: QueueArgs,
        /// Stop at once instead of asking the worker to wind down.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    #[command(
        after_long_help = "Examples:\n  antenv work stats --environment-id env_... --output table\n  antenv work stats --output prometheus   # for a textfile collector or a one-off check"
    )]
    /// Show the queue's depth, pending items and pollers (with `--output
    /// prometheus`, as the gauges `worker poll --stats-interval` exports,
    /// the stuck count included when the environment key is given).
    Stats {
        #[command(flatten)]
        queue: QueueArgs,
        /// How long without a heartbeat makes an item stuck (for `--output
        /// prometheus`).
        #[arg(long, default_value = "10m", value_parser = parse_positive_duration,
              value_name = "DURATION")]
        stuck_after: Duration,
        #[command(flatten)]
        output: StatsOutputArgs,
    },
    #[command(after_long_help = STUCK_HELP)]
    /// List items whose worker is gone (acknowledged and never heartbeated,
    /// or heartbeated too long ago), and force-stop them with --stop.
    Stuck {
        #[command(flatten)]
        queue: QueueArgs,
        /// How long without a heartbeat (since the ack, for an item never
        /// heartbeated) makes an item stuck. Keep it above the longest
        /// lease the environment's workers ask for.
        #[arg(long, value_parser = parse_positive_duration, value_name = "DURATION")]
        older_than: Duration,
        /// Force-stop each stuck item (its session's run ends; the item is
        /// listed again just before, and one heartbeated since is spared).
        #[arg(long)]
        stop: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    #[command(
        after_long_help = "Example (environment key):\n  antenv work poll --block-ms 999 --worker-id debug-1"
    )]
    /// Poll once for a work item (printed, or `null` when there is none).
    /// The item is not acknowledged: it is served again after
    /// --reclaim-older-than-ms elsewhere. Its secret is redacted unless
    /// --show-secret.
    Poll {
        #[command(flatten)]
        queue: QueueArgs,
        /// Wait up to this long for an item (1-999 ms); default: answer at
        /// once.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=999), value_name = "MS")]
        block_ms: Option<u64>,
        /// Reclaim items polled but not acknowledged for this long.
        #[arg(long, value_name = "MS")]
        reclaim_older_than_ms: Option<u64>,
        /// The `Anthropic-Worker-ID` to poll as.
        #[arg(long, env = "ANTHROPIC_WORKER_ID", value_name = "ID")]
        worker_id: Option<String>,
        /// Print the item's secret instead of redacting it.
        #[arg(long)]
        show_secret: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// `--poll-every`: 0s (off), or from 1s (a worker that polls all the
/// time is a long poll's job) to 24h.
pub fn parse_poll_every(s: &str) -> Result<Duration, String> {
    let period = parse_duration(s)?;
    if !period.is_zero()
        && !(Duration::from_secs(1)..=Duration::from_secs(24 * 3600)).contains(&period)
    {
        return Err("must be 0s (off) or from 1s to 24h".into());
    }
    Ok(period)
}

/// A duration such as `30s`, `5m`, `1h 30m` or `250ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.starts_with('-') {
        return Err("a duration cannot be negative (e.g. 30s, 5m, 250ms)".into());
    }
    humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 30s, 5m, 250ms)"))
}

/// A duration above zero.
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("must be above zero".into()),
        d => Ok(d),
    }
}

/// `KEY=VALUE`, with a non-empty key.
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_and_pairs() {
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("soon").is_err());
        assert_eq!(
            parse_key_value("a=b=c"),
            Ok(("a".to_owned(), "b=c".to_owned()))
        );
        assert!(parse_key_value("=x").is_err());
        assert!(parse_key_value("novalue").is_err());
    }

    #[test]
    fn poll_every_is_off_or_between_a_second_and_a_day() {
        assert_eq!(parse_poll_every("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_poll_every("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_poll_every("24h"), Ok(Duration::from_secs(86_400)));
        for refused in ["1ms", "999ms", "25h", "1000000000000s", "-1s"] {
            assert!(parse_poll_every(refused).is_err(), "{refused}");
        }
    }
}
