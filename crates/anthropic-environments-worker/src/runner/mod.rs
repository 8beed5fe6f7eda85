//! The session tool runner: serves a claimed session in-process, running
//! the agent's tool calls in the sandbox and posting their results, as the
//! official SDKs' session tool runner does (the session-runner notes, §3).
//! It lives in the worker crate because it is a worker's handler: it needs
//! the item's context (its client with the sessions token, the lease's TTL,
//! the cancellation), and nothing outside a worker needs it.
//!
//! ```no_run
//! use anthropic_environments::Client;
//! use anthropic_environments_worker::{SessionRunner, WorkContext, Worker};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder().environment_key("sk-ant-oat01-...").build()?;
//! let runner = SessionRunner::new("/srv/sandbox");
//! Worker::builder(client.work("env_..."))
//!     .shutdown_on_signal()
//!     .build()?
//!     .run(move |ctx: WorkContext| {
//!         let runner = runner.clone();
//!         async move { runner.serve(ctx).await.map(drop) }
//!     })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! What it does: it opens the session's event stream and, once it is open,
//! lists the whole history to close the gap (the stream's events and the
//! history's are de-duplicated by id); it runs the calls of the tools it
//! owns (`bash`, `read`, `write`, `edit`, `glob`, `grep`) one at a time, in
//! order, while the stream keeps reading; it posts each result once, with
//! no client retries but its own, within the lease's TTL; it leaves calls
//! of other tools for another client, and holds calls that ask for a
//! confirmation until one comes (anything but `allow` denies). It ends when
//! the session is terminated or deleted, when an idle that ends the turn
//! has lasted `max_idle`, when the worker shuts down (the running call gets
//! 30 s to finish and post; queued calls are left for whoever serves the
//! session next), or when the worker cancels the item (a lost lease cancels
//! the running tool and posts nothing).
//!
//! Before the first call, the session's skills are installed in
//! `<workdir>/skills/<name>/` (and removed at the end).
//!
//! A library user can register tools of their own
//! ([`SessionRunner::custom_tool`]); every call is observable
//! ([`SessionRunner::on_tool_call`]) and runs in a span named as the
//! official runners'.

mod call;
mod session;
mod skills;
pub(crate) mod state;

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::context::WorkContext;
use crate::tools::bash::Bash;
use crate::tools::paths::Confinement;
use crate::tools::{FileLimits, FileScope};
use call::{CallObserver, CustomTool, Toolset};
use session::Run;
use state::RunnerState;

pub use call::{ToolCallOutcome, ToolCallReport};

/// Serves sessions: the runner's settings, cheap to clone.
#[derive(Clone, Debug)]
pub struct SessionRunner {
    inner: Arc<RunnerSettings>,
}

struct RunnerSettings {
    workdir: PathBuf,
    max_idle: Option<Duration>,
    unrestricted_paths: bool,
    observer: Option<CallObserver>,
    custom: Arc<std::collections::HashMap<String, CustomTool>>,
    /// How big a file the file tools take.
    file_limits: FileLimits,
    /// The shell's whole environment (`None`: the process's, scrubbed).
    shell_env: Option<Arc<Vec<(OsString, OsString)>>>,
}

impl std::fmt::Debug for RunnerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerSettings")
            .field("workdir", &self.workdir)
            .field("max_idle", &self.max_idle)
            .field("unrestricted_paths", &self.unrestricted_paths)
            .field("file_limits", &self.file_limits)
            .field("custom_tools", &self.custom.keys().collect::<Vec<_>>())
            .field(
                "shell_environment",
                &self.shell_env.as_ref().map(|vars| vars.len()),
            )
            .finish_non_exhaustive()
    }
}

/// How a session's serving ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunnerEnd {
    /// The session was terminated or deleted.
    SessionEnded,
    /// An idle that ended the turn lasted `max_idle`.
    Idle,
    /// The worker cancelled the item (lease lost, item stopping, or a
    /// shutdown's grace period over).
    Cancelled,
    /// The worker is shutting down: the running call finished (or its
    /// drain time ran out) and the queued calls were left for whoever
    /// serves the session next.
    Shutdown,
}

impl RunnerEnd {
    /// A short name, for logs and metric labels (`session_ended`, `idle`,
    /// `cancelled`, `shutdown`).
    pub fn as_str(&self) -> &'static str {
        match self {
            RunnerEnd::SessionEnded => "session_ended",
            RunnerEnd::Idle => "idle",
            RunnerEnd::Cancelled => "cancelled",
            RunnerEnd::Shutdown => "shutdown",
        }
    }
}

/// Why a session could not be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// The item is not a session.
    #[error("the work item is not a session")]
    NotASession,
    /// The working directory is not usable.
    #[error("the working directory {path}: {source}")]
    Workdir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A call the API refused for good (401, 403, 404, ...).
    #[error(transparent)]
    Api(#[from] anthropic_environments::Error),
}

impl SessionRunner {
    /// A runner whose tools work in `workdir` (created if missing), with
    /// the official defaults: 60 s of idle after the turn ends.
    pub fn new(workdir: impl Into<PathBuf>) -> Self {
        SessionRunner {
            inner: Arc::new(RunnerSettings {
                workdir: workdir.into(),
                max_idle: Some(Duration::from_secs(60)),
                unrestricted_paths: false,
                observer: None,
                custom: Arc::default(),
                shell_env: None,
                file_limits: FileLimits::default(),
            }),
        }
    }

    /// How long an idle that ends the turn may last before the runner ends
    /// (`None`: never; it then ends only with the session or the item).
    pub fn max_idle(self, max_idle: Option<Duration>) -> Self {
        self.with(|s| s.max_idle = max_idle.filter(|d| !d.is_zero()))
    }

    /// The same runner with its tools in another folder (e.g. one per
    /// session).
    pub fn in_workdir(self, workdir: impl Into<PathBuf>) -> Self {
        let workdir = workdir.into();
        self.with(|s| s.workdir = workdir)
    }

    /// Calls `observe` as each tool call ends: run and posted (an error or
    /// not), given up, denied, or left to another client; with its
    /// duration (for metrics and audits). Keep it quick.
    pub fn on_tool_call(self, observe: impl Fn(&ToolCallReport) + Send + Sync + 'static) -> Self {
        let observer: CallObserver = Arc::new(observe);
        self.with(|s| s.observer = Some(observer))
    }

    /// Registers a tool the runner then owns: calls of `name` (custom tool
    /// calls, or a built-in name, which this replaces) run `tool` with the
    /// call's input; `Ok(text)` is the result, `Err(message)` an error
    /// result.
    ///
    /// ```
    /// use anthropic_environments_worker::SessionRunner;
    /// let runner = SessionRunner::new("/srv/sandbox").custom_tool("lookup", |input| async move {
    ///     let key = input["key"].as_str().ok_or("key is required")?.to_owned();
    ///     Ok(format!("the value of {key}"))
    /// });
    /// ```
    pub fn custom_tool<F, Fut>(self, name: impl Into<String>, tool: F) -> Self
    where
        F: Fn(serde_json::Value) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<String, String>> + Send + 'static,
    {
        let name = name.into();
        let tool: CustomTool = Arc::new(move |input| Box::pin(tool(input)));
        self.with(|s| {
            let mut custom = (*s.custom).clone();
            custom.insert(name, tool);
            s.custom = Arc::new(custom);
        })
    }

    /// The bash tool's whole environment, instead of the process's with
    /// every `ANTHROPIC_*` variable removed (the default). Nothing is added
    /// to it but `PS1`, `PS2` and `TERM` are yours to set.
    ///
    /// ```
    /// use anthropic_environments_worker::SessionRunner;
    /// let runner = SessionRunner::new("/srv/sandbox")
    ///     .shell_environment([("PATH", "/usr/bin:/bin"), ("LANG", "C.UTF-8")]);
    /// ```
    pub fn shell_environment<K, V>(self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let vars: Vec<(OsString, OsString)> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.with(|s| s.shell_env = Some(Arc::new(vars)))
    }

    /// The largest file `read` returns whole (without `view_range`) and
    /// `edit` changes, and the most bytes a `view_range` selects; `None`:
    /// no cap. By default 256 KiB for text, and images and PDFs have only
    /// their own caps (3.75 MiB and 20 MiB); set here, it binds them too.
    pub fn max_file_bytes(self, max_file_bytes: Option<u64>) -> Self {
        self.with(|s| s.file_limits = FileLimits::explicit(max_file_bytes))
    }

    /// Let the file tools reach any path, not only the workdir.
    pub fn unrestricted_paths(self, unrestricted: bool) -> Self {
        self.with(|s| s.unrestricted_paths = unrestricted)
    }

    fn with(self, change: impl FnOnce(&mut RunnerSettings)) -> Self {
        let mut settings = RunnerSettings {
            workdir: self.inner.workdir.clone(),
            max_idle: self.inner.max_idle,
            unrestricted_paths: self.inner.unrestricted_paths,
            observer: self.inner.observer.clone(),
            custom: self.inner.custom.clone(),
            shell_env: self.inner.shell_env.clone(),
            file_limits: self.inner.file_limits,
        };
        change(&mut settings);
        SessionRunner {
            inner: Arc::new(settings),
        }
    }

    /// Serves the item's session until it ends (see [`RunnerEnd`]).
    pub async fn serve(&self, ctx: WorkContext) -> Result<RunnerEnd, RunnerError> {
        let Some(session_id) = ctx.session_id().map(str::to_owned) else {
            return Err(RunnerError::NotASession);
        };
        let client = ctx.client().clone();
        let workdir = &self.inner.workdir;
        std::fs::create_dir_all(workdir).map_err(|source| RunnerError::Workdir {
            path: workdir.clone(),
            source,
        })?;
        let confinement = Confinement::new(workdir, &[], &[], self.inner.unrestricted_paths)
            .map_err(|source| RunnerError::Workdir {
                path: workdir.clone(),
                source,
            })?;
        let session = tokio::select! {
            s = client.sessions().retrieve(&session_id).send() => s?,
            _ = ctx.shutdown_requested() => {
                return Ok(if ctx.is_cancelled() { RunnerEnd::Cancelled } else { RunnerEnd::Shutdown });
            }
        };
        if session.status.as_str() == "terminated" {
            tracing::info!(session_id, "the session is terminated; nothing to run");
            return Ok(RunnerEnd::SessionEnded);
        }
        // The skills, in <workdir>/skills, while the lease is kept.
        let installed = match serde_json::to_value(&session) {
            Ok(session) => skills::install(&client, workdir, &session).await,
            Err(_) => skills::Installed::default(),
        };
        let tools = Toolset {
            files: Arc::new(FileScope {
                paths: confinement,
                limits: self.inner.file_limits,
            }),
            bash: Bash::new(workdir.clone(), self.inner.shell_env.as_deref().cloned()),
            custom: self.inner.custom.clone(),
        };
        let mut run = Run {
            client,
            session_id,
            max_idle: self.inner.max_idle,
            observer: self.inner.observer.clone(),
            state: RunnerState::default(),
            queue: VecDeque::new(),
            idle_until: None,
            tools: Some(tools),
        };
        let end = run.serve(&ctx).await;
        // The tools closed first (the shell killed), then the skills gone.
        if let Some(mut tools) = run.tools.take() {
            tools.bash.close();
        }
        installed.remove();
        end
    }
}
