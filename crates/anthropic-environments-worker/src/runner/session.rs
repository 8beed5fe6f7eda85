//! The serving of one session: the stream, the reconcile, the dispatch of
//! calls one at a time, the idle clock, the end.

use std::collections::VecDeque;
use std::time::Duration;

use anthropic_environments::Client;
use futures::StreamExt;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::task::AbortOnDropHandle;

use crate::context::WorkContext;

use super::call::{CallObserver, CallScope, Done, ToolCallOutcome, Toolset, run_call};
use super::state::{Action, Call, RunnerState};
use super::{RunnerEnd, RunnerError};

/// A page of the history.
const HISTORY_PAGE: u64 = 1000;
/// The first wait before reopening a broken stream (doubled each time).
const STREAM_BACKOFF_BASE: Duration = Duration::from_millis(500);
/// The longest wait before reopening a broken stream.
const STREAM_BACKOFF_CAP: Duration = Duration::from_secs(10);
/// How long the running call may finish after a cancellation other than a
/// lost lease (notes §3.10).
const DRAIN: Duration = Duration::from_secs(30);

/// The serving of one session.
pub(crate) struct Run {
    pub(crate) client: Client,
    pub(crate) session_id: String,
    pub(crate) max_idle: Option<Duration>,
    pub(crate) observer: Option<CallObserver>,
    pub(crate) state: RunnerState,
    pub(crate) queue: VecDeque<Call>,
    pub(crate) idle_until: Option<Instant>,
    /// The tools, unless a call has them.
    pub(crate) tools: Option<Toolset>,
}

/// The running call's task; dropping it cancels the call (and kills its
/// shell), so no call outlives the serving.
type Running = AbortOnDropHandle<(Toolset, Done)>;

impl Run {
    /// Applies the state machine's answers; `Some(end)` when the session
    /// ended.
    fn apply(&mut self, actions: Vec<Action>) -> Option<RunnerEnd> {
        for action in actions {
            match action {
                Action::Dispatch(call) => self.queue.push_back(call),
                Action::Denied(call) => {
                    tracing::info!(session_id = %self.session_id, tool_use_id = %call.id, name = %call.name, "tool call denied; nothing run or posted");
                    if let Some(observe) = &self.observer {
                        observe(&super::ToolCallReport {
                            session_id: self.session_id.clone(),
                            tool_use_id: call.id.clone(),
                            name: call.name.clone(),
                            outcome: ToolCallOutcome::Denied,
                            duration: Duration::ZERO,
                        });
                    }
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
            let observer = self.observer.clone();
            return Some(AbortOnDropHandle::new(tokio::spawn(async move {
                let scope = CallScope {
                    client: &client,
                    session_id: &session_id,
                    ctx: &ctx,
                    observer: observer.as_ref(),
                    primary_thread: None,
                };
                let done = run_call(&mut tools, scope, call).await;
                (tools, done)
            })));
        }
        None
    }

    pub(crate) async fn serve(&mut self, ctx: &WorkContext) -> Result<RunnerEnd, RunnerError> {
        let mut backoff = STREAM_BACKOFF_BASE;
        let mut running: Option<Running> = None;
        loop {
            // Open the stream; only once it is open, reconcile.
            let opened = tokio::select! {
                s = self.client.sessions().events(&self.session_id).stream().send() => s,
                _ = ctx.shutdown_requested() => return Ok(self.stop(ctx, running).await),
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
                // Nothing new starts once a shutdown is asked for.
                if running.is_none() && !ctx.is_shutdown_requested() {
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
                            backoff = STREAM_BACKOFF_BASE;
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
                    _ = ctx.shutdown_requested() => return Ok(self.stop(ctx, running).await),
                }
            }
            // Back off, then reconnect (a call keeps running meanwhile only
            // until the wait is over: its result is taken on the next loop).
            let wait = backoff;
            backoff = (backoff * 2).min(STREAM_BACKOFF_CAP);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = ctx.shutdown_requested() => return Ok(self.stop(ctx, running).await),
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

    /// The worker shuts down or cancels the item: queued calls are dropped
    /// (unanswered, whoever serves the session next finds them again); the
    /// running call is cancelled at once, posting nothing, when the lease is
    /// lost (another worker may own the session), else it gets [`DRAIN`] to
    /// finish and post (notes §3.10).
    async fn stop(&mut self, ctx: &WorkContext, running: Option<Running>) -> RunnerEnd {
        let dropped = self.queue.len();
        self.queue.clear();
        if dropped > 0 {
            tracing::info!(session_id = %self.session_id, dropped, "stopping: queued tool calls left to whoever serves the session next");
        }
        if let Some(mut task) = running {
            let deadline = Instant::now() + DRAIN;
            loop {
                if ctx.cancel_reason().is_some_and(|r| r.lease_lost()) {
                    tracing::warn!(session_id = %self.session_id, "the lease is lost; the running tool call is cancelled and its result not posted");
                    task.abort();
                    let _ = task.await;
                    break;
                }
                tokio::select! {
                    done = &mut task => {
                        if let Ok((tools, _)) = done {
                            self.tools = Some(tools);
                        }
                        break;
                    }
                    // Cancelled while draining: check the reason again.
                    _ = ctx.cancelled(), if !ctx.is_cancelled() => {}
                    _ = tokio::time::sleep_until(deadline) => {
                        tracing::warn!(session_id = %self.session_id, drain = ?DRAIN, "the running tool call did not finish within the drain time; cancelled");
                        task.abort();
                        let _ = task.await;
                        break;
                    }
                }
            }
        }
        if ctx.is_cancelled() {
            RunnerEnd::Cancelled
        } else {
            RunnerEnd::Shutdown
        }
    }
}
