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
//! has lasted `max_idle`, or when the worker cancels the item (a lost lease
//! cancels the running tool and posts nothing).
//!
//! Before the first call, the session's skills are installed in
//! `<workdir>/skills/<name>/` (and removed at the end).
//!
//! Not yet: custom tools, and a span per tool call (issue #20).

mod skills;
pub(crate) mod state;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anthropic_environments::{Client, SessionEventParams};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::context::WorkContext;
use crate::tools::ToolOutput;
use crate::tools::bash::Bash;
use crate::tools::paths::Confinement;
use crate::tools::{files, search};
use state::{Action, Call, CallKind, RunnerState};

/// How long a tool may run (longer than bash's own 120 s, so that bash
/// cleans up first).
const TOOL_TIMEOUT: Duration = Duration::from_secs(150);
/// Each attempt to post a result.
const POST_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a result's posts are retried without a lease TTL to go by.
const POST_WINDOW: Duration = Duration::from_secs(300);
/// A page of the history.
const HISTORY_PAGE: u64 = 1000;

/// Serves sessions: the runner's settings, cheap to clone.
#[derive(Clone, Debug)]
pub struct SessionRunner {
    inner: Arc<RunnerSettings>,
}

#[derive(Debug)]
struct RunnerSettings {
    workdir: PathBuf,
    max_idle: Option<Duration>,
    unrestricted_paths: bool,
}

/// How a session's serving ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunnerEnd {
    /// The session was terminated or deleted.
    SessionEnded,
    /// An idle that ended the turn lasted `max_idle`.
    Idle,
    /// The worker cancelled the item (lease lost, item stopping, shutdown).
    Cancelled,
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

    /// Let the file tools reach any path, not only the workdir.
    pub fn unrestricted_paths(self, unrestricted: bool) -> Self {
        self.with(|s| s.unrestricted_paths = unrestricted)
    }

    fn with(self, change: impl FnOnce(&mut RunnerSettings)) -> Self {
        let mut settings = RunnerSettings {
            workdir: self.inner.workdir.clone(),
            max_idle: self.inner.max_idle,
            unrestricted_paths: self.inner.unrestricted_paths,
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
            _ = ctx.cancelled() => return Ok(RunnerEnd::Cancelled),
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
            confinement,
            bash: Bash::new(workdir.clone()),
        };
        let mut run = Run {
            client,
            session_id,
            max_idle: self.inner.max_idle,
            state: RunnerState::default(),
            queue: VecDeque::new(),
            idle_until: None,
            tools: Some(tools),
            cancel_reason: None,
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

/// The tools of one session.
struct Toolset {
    confinement: Confinement,
    bash: Bash,
}

impl Toolset {
    fn owns(name: &str) -> bool {
        matches!(name, "bash" | "read" | "write" | "edit" | "glob" | "grep")
    }

    async fn call(&mut self, name: &str, input: &Value) -> ToolOutput {
        match name {
            "bash" => self.bash.call(input).await,
            "read" => files::read(&self.confinement, input),
            "write" => files::write(&self.confinement, input),
            "edit" => files::edit(&self.confinement, input),
            "glob" => search::glob(&self.confinement, input),
            "grep" => search::grep(&self.confinement, input),
            other => ToolOutput::error(format!("no tool named {other:?}")),
        }
    }
}

/// What one dispatched call came to.
struct Done {
    id: String,
    posted: bool,
    unowned: bool,
}

/// The serving of one session.
struct Run {
    client: Client,
    session_id: String,
    max_idle: Option<Duration>,
    state: RunnerState,
    queue: VecDeque<Call>,
    idle_until: Option<Instant>,
    /// The tools, unless a call has them.
    tools: Option<Toolset>,
    /// Why the worker cancelled the item, once it did.
    cancel_reason: Option<crate::CancelReason>,
}

fn ctx_lease_lost(reason: Option<&crate::CancelReason>) -> bool {
    reason.is_some_and(crate::CancelReason::lease_lost)
}

type Running = tokio::task::JoinHandle<(Toolset, Done)>;

impl Run {
    /// Applies the state machine's answers; `Some(end)` when the session
    /// ended.
    fn apply(&mut self, actions: Vec<Action>) -> Option<RunnerEnd> {
        for action in actions {
            match action {
                Action::Dispatch(call) => self.queue.push_back(call),
                Action::Denied(call) => {
                    tracing::info!(session_id = %self.session_id, tool_use_id = %call.id, name = %call.name, "tool call denied; nothing run or posted");
                }
                Action::ArmIdle => {
                    self.idle_until = self.max_idle.map(|d| Instant::now() + d);
                }
                Action::DisarmIdle => self.idle_until = None,
                Action::Stop => return Some(RunnerEnd::SessionEnded),
            }
        }
        None
    }

    /// Lists the whole history, oldest first.
    async fn history(&self) -> Result<Vec<Value>, (Vec<Value>, anthropic_environments::Error)> {
        let mut pages = self
            .client
            .sessions()
            .events(&self.session_id)
            .list()
            .limit(HISTORY_PAGE)
            .order(anthropic_environments::EventOrder::Asc)
            .into_stream();
        let mut events = Vec::new();
        while let Some(event) = pages.next().await {
            match event {
                Ok(e) => events.push(serde_json::to_value(&e).unwrap_or(Value::Null)),
                Err(e) => return Err((events, e)),
            }
        }
        Ok(events)
    }

    /// Starts the next queued call still wanted, when no call runs.
    fn start_next(&mut self, ctx: &WorkContext) -> Option<Running> {
        while let Some(call) = self.queue.pop_front() {
            if !self.state.still_wanted(&call) {
                let _ = self.state.on_done(&call.id, false, false);
                continue;
            }
            let mut tools = self.tools.take()?;
            let client = self.client.clone();
            let session_id = self.session_id.clone();
            let ctx = ctx.clone();
            return Some(tokio::spawn(async move {
                let done = run_call(&mut tools, &client, &session_id, &ctx, call).await;
                (tools, done)
            }));
        }
        None
    }

    async fn serve(&mut self, ctx: &WorkContext) -> Result<RunnerEnd, RunnerError> {
        let mut backoff = Duration::from_millis(500);
        let mut running: Option<Running> = None;
        loop {
            // Open the stream; only once it is open, reconcile.
            let opened = tokio::select! {
                s = self.client.sessions().events(&self.session_id).stream().send() => s,
                _ = ctx.cancelled() => return Ok(self.cancel(ctx, running).await),
            };
            let mut stream = match opened {
                Ok(stream) => Some(stream),
                Err(e) if !e.is_retryable() => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(session_id = %self.session_id, error = %e, "cannot open the event stream; retrying");
                    None
                }
            };
            if stream.is_some() {
                match self.history().await {
                    Ok(events) => {
                        let actions = self.state.on_history(&events);
                        if let Some(end) = self.apply(actions) {
                            return Ok(self.finish(running).await.unwrap_or(end));
                        }
                    }
                    Err((partial, e)) => {
                        tracing::warn!(session_id = %self.session_id, error = %e, "listing the history failed; the next reconnect retries");
                        self.state.on_history_failed(&partial);
                    }
                }
            }
            // Follow the stream until it ends.
            loop {
                if running.is_none() {
                    running = self.start_next(ctx);
                }
                let idle = async {
                    match self.idle_until {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                };
                let next_event = async {
                    match stream.as_mut() {
                        Some(s) => s.next().await,
                        None => None,
                    }
                };
                let finished = async {
                    match running.as_mut() {
                        Some(task) => task.await.ok(),
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    event = next_event => match event {
                        Some(Ok(event)) => {
                            backoff = Duration::from_millis(500);
                            let value = serde_json::to_value(&event).unwrap_or(Value::Null);
                            let actions = self.state.on_stream_event(&value);
                            if let Some(end) = self.apply(actions) {
                                return Ok(self.finish(running).await.unwrap_or(end));
                            }
                        }
                        Some(Err(e)) => {
                            tracing::info!(session_id = %self.session_id, error = %e, "the event stream broke; reconnecting");
                            break;
                        }
                        None => break,
                    },
                    done = finished => {
                        running = None;
                        match done {
                            Some((tools, done)) => {
                                self.tools = Some(tools);
                                let actions = self.state.on_done(&done.id, done.posted, done.unowned);
                                let _ = self.apply(actions);
                            }
                            None => {
                                tracing::error!(session_id = %self.session_id, "a tool call's task failed; its tools are gone");
                                return Ok(RunnerEnd::Cancelled);
                            }
                        }
                    },
                    _ = idle => return Ok(self.finish(running).await.unwrap_or(RunnerEnd::Idle)),
                    _ = ctx.cancelled() => return Ok(self.cancel(ctx, running).await),
                }
            }
            // Back off, then reconnect (a call keeps running meanwhile only
            // until the wait is over: its result is taken on the next loop).
            let wait = backoff;
            backoff = (backoff * 2).min(Duration::from_secs(10));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = ctx.cancelled() => return Ok(self.cancel(ctx, running).await),
            }
        }
    }

    /// The session ended: the running call finishes (and posts).
    async fn finish(&mut self, running: Option<Running>) -> Option<RunnerEnd> {
        if let Some(task) = running
            && let Ok((tools, _)) = task.await
        {
            self.tools = Some(tools);
        }
        None
    }

    /// The worker cancelled the item: a lost lease cancels the running
    /// call at once (nothing is posted); otherwise it gets 30 s to finish.
    async fn cancel(&mut self, ctx: &WorkContext, running: Option<Running>) -> RunnerEnd {
        self.cancel_reason = ctx.cancel_reason();
        if let Some(task) = running {
            let lost = ctx_lease_lost(self.cancel_reason.as_ref());
            if lost {
                task.abort();
            } else if let Ok(Ok((tools, _))) =
                tokio::time::timeout(Duration::from_secs(30), task).await
            {
                self.tools = Some(tools);
            }
        }
        RunnerEnd::Cancelled
    }
}

/// Runs one call and posts its result.
async fn run_call(
    tools: &mut Toolset,
    client: &Client,
    session_id: &str,
    ctx: &WorkContext,
    call: Call,
) -> Done {
    if !Toolset::owns(&call.name) {
        tracing::info!(session_id, tool_use_id = %call.id, name = %call.name, "not a tool of this runner; left for another client");
        return Done {
            id: call.id,
            posted: false,
            unowned: true,
        };
    }
    let output = match tokio::time::timeout(TOOL_TIMEOUT, tools.call(&call.name, &call.input)).await
    {
        Ok(output) => output,
        Err(_) => ToolOutput::error(format!("the {} tool timed out", call.name)),
    };
    let event = match call.kind {
        CallKind::Builtin => json!({"type": "user.tool_result", "tool_use_id": call.id,
            "is_error": output.is_error, "content": output.blocks}),
        CallKind::Custom => {
            json!({"type": "user.custom_tool_result", "custom_tool_use_id": call.id,
            "is_error": output.is_error, "content": output.blocks})
        }
    };
    let posted = post(client, session_id, ctx, event).await;
    Done {
        id: call.id,
        posted,
        unowned: false,
    }
}

/// Posts one result: no client retries, each attempt bounded, retried with
/// back-off (1 s doubling, capped at 30 s, jittered) while the lease's TTL
/// (else 300 s) since the first attempt allows; a 4xx retrying cannot fix
/// gives up at once. Whether it was posted.
async fn post(client: &Client, session_id: &str, ctx: &WorkContext, event: Value) -> bool {
    let Ok(params) = serde_json::from_value::<SessionEventParams>(event) else {
        return false;
    };
    let started = Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let sent = client
            .sessions()
            .events(session_id)
            .send(vec![params.clone()])
            .max_retries(0)
            .timeout(POST_ATTEMPT_TIMEOUT)
            .send()
            .await;
        match sent {
            Ok(_) => return true,
            Err(e) if !e.is_retryable() => {
                tracing::error!(session_id, error = %e, "posting a result failed for good");
                return false;
            }
            Err(e) => {
                let window = ctx.lease_ttl().unwrap_or(POST_WINDOW);
                let left = window.saturating_sub(started.elapsed());
                if left.is_zero() {
                    tracing::error!(session_id, error = %e, "posting a result gave up: its window is over");
                    return false;
                }
                let d =
                    Duration::from_secs(1u64 << (attempt - 1).min(5)).min(Duration::from_secs(30));
                let wait = d.mul_f64(0.5 + fastrand::f64() / 2.0).min(left);
                tracing::warn!(session_id, error = %e, ?wait, "posting a result failed; retrying");
                tokio::time::sleep(wait).await;
            }
        }
    }
}
