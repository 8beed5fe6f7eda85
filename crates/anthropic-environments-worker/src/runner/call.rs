//! One tool call: run under its timeout, its result posted once (with the
//! runner's own retries, within the lease), observed (a span with the
//! official names and a report to the runner's hook).

use std::sync::Arc;
use std::time::Duration;

use anthropic_environments::{Client, SessionEventParams};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::context::WorkContext;
use crate::tools::bash::Bash;
use crate::tools::{FileScope, ToolOutput};
use crate::tools::{files, search};

use super::state::{Call, CallKind};

/// How long a tool may run (longer than bash's own 120 s, so that bash
/// cleans up first).
const TOOL_TIMEOUT: Duration = Duration::from_secs(150);
/// Each attempt to post a result.
const POST_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a result's posts are retried without a lease TTL to go by.
const POST_WINDOW: Duration = Duration::from_secs(300);
/// The longest wait between two posts of a result (1 s doubled, jittered).
const POST_BACKOFF_CAP: Duration = Duration::from_secs(30);

/// How one tool call went, as the runner's hook sees it
/// ([`SessionRunner::on_tool_call`](super::SessionRunner::on_tool_call)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ToolCallReport {
    /// The session.
    pub session_id: String,
    /// The call's event id (`tool_use_id`).
    pub tool_use_id: String,
    /// The tool.
    pub name: String,
    /// What became of it.
    pub outcome: ToolCallOutcome,
    /// How long the tool ran (zero when it did not run).
    pub duration: Duration,
}

/// What became of one tool call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolCallOutcome {
    /// It ran and its result was posted; `is_error` as posted.
    Posted {
        /// Whether the result is an error.
        is_error: bool,
    },
    /// It ran, and posting its result was given up (the next reconcile
    /// runs it again).
    GaveUp,
    /// Denied (by the server's evaluation or a confirmation): not run.
    Denied,
    /// Not a tool of this runner: left for another client.
    Unowned,
}

impl ToolCallOutcome {
    /// A short name, for logs and metric labels (`posted`, `error`,
    /// `gave_up`, `denied`, `unowned`).
    pub fn as_str(self) -> &'static str {
        match self {
            ToolCallOutcome::Posted { is_error: false } => "posted",
            ToolCallOutcome::Posted { is_error: true } => "error",
            ToolCallOutcome::GaveUp => "gave_up",
            ToolCallOutcome::Denied => "denied",
            ToolCallOutcome::Unowned => "unowned",
        }
    }
}

/// The hook told of each call.
pub(crate) type CallObserver = Arc<dyn Fn(&ToolCallReport) + Send + Sync>;

/// A tool a library user registers
/// ([`SessionRunner::custom_tool`](super::SessionRunner::custom_tool)): the
/// runner then owns calls of its name.
pub(crate) type CustomTool =
    Arc<dyn Fn(Value) -> futures::future::BoxFuture<'static, Result<String, String>> + Send + Sync>;

/// The tools of one session.
pub(crate) struct Toolset {
    pub(crate) files: Arc<FileScope>,
    pub(crate) bash: Bash,
    pub(crate) custom: Arc<std::collections::HashMap<String, CustomTool>>,
}

impl Toolset {
    fn owns(&self, name: &str) -> bool {
        self.custom.contains_key(name)
            || matches!(name, "bash" | "read" | "write" | "edit" | "glob" | "grep")
    }

    async fn call(&mut self, name: &str, input: &Value) -> ToolOutput {
        // A registered tool wins over a built-in one of the same name.
        if let Some(tool) = self.custom.get(name) {
            return match tool(input.clone()).await {
                Ok(text) => ToolOutput::text(text),
                Err(message) => ToolOutput::error(message),
            };
        }
        let file_tool: fn(&FileScope, &Value) -> ToolOutput = match name {
            "bash" => return self.bash.call(input).await,
            "read" => files::read,
            "write" => files::write,
            "edit" => files::edit,
            "glob" => search::glob,
            "grep" => search::grep,
            other => return ToolOutput::error(format!("no tool named {other:?}")),
        };
        // The file tools block (disk, walks): off the async threads.
        let scope = self.files.clone();
        let input = input.clone();
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || file_tool(&scope, &input))
            .await
            .unwrap_or_else(|e| ToolOutput::error(format!("{name}: the tool failed: {e}")))
    }

    /// Runs a call under the tool timeout; a timed-out shell is killed, so
    /// that the next call gets a fresh one.
    async fn call_bounded(&mut self, name: &str, input: &Value) -> ToolOutput {
        match tokio::time::timeout(TOOL_TIMEOUT, self.call(name, input)).await {
            Ok(output) => output,
            Err(_) => {
                if name == "bash" && !self.custom.contains_key(name) {
                    self.bash.close();
                }
                ToolOutput::error(format!(
                    "{name}: timed out after {} s",
                    TOOL_TIMEOUT.as_secs()
                ))
            }
        }
    }
}

/// What one dispatched call came to.
pub(crate) struct Done {
    pub(crate) id: String,
    pub(crate) posted: bool,
    pub(crate) unowned: bool,
}

/// What one call needs of its session.
pub(crate) struct CallScope<'a> {
    pub(crate) client: &'a Client,
    pub(crate) session_id: &'a str,
    pub(crate) ctx: &'a WorkContext,
    pub(crate) observer: Option<&'a CallObserver>,
    /// The first thread-status event's thread (the conversation's id).
    pub(crate) primary_thread: Option<&'a str>,
}

impl CallScope<'_> {
    /// Tells the hook of a call.
    pub(crate) fn report(&self, call: &Call, outcome: ToolCallOutcome, duration: Duration) {
        if let Some(observe) = self.observer {
            observe(&ToolCallReport {
                session_id: self.session_id.to_owned(),
                tool_use_id: call.id.clone(),
                name: call.name.clone(),
                outcome,
                duration,
            });
        }
    }
}

/// The span of one executed call, named and attributed as the official
/// runners' (`anthropic.tool_use <name>`, `gen_ai.*`).
fn call_span(scope: &CallScope<'_>, call: &Call) -> tracing::Span {
    let kind = match call.kind {
        CallKind::Builtin => "anthropic.tool_use",
        CallKind::Custom => "anthropic.custom_tool_use",
    };
    let conversation = call
        .thread
        .as_deref()
        .or(scope.primary_thread)
        .unwrap_or(scope.session_id);
    tracing::info_span!(
        target: "anthropic_environments",
        "anthropic.tool_use",
        "otel.name" = format!("{kind} {}", call.name),
        "otel.kind" = "internal",
        "gen_ai.operation.name" = "execute_tool",
        "gen_ai.provider.name" = "anthropic",
        "gen_ai.tool.name" = %call.name,
        "gen_ai.tool.call.id" = %call.id,
        "gen_ai.tool.type" = "function",
        "gen_ai.conversation.id" = conversation,
        "anthropic.session.id" = scope.session_id,
        "anthropic.session.thread.id" = call.thread.as_deref(),
        "otel.status_code" = tracing::field::Empty,
        "error.type" = tracing::field::Empty,
    )
}

/// Runs one call and posts its result.
pub(crate) async fn run_call(tools: &mut Toolset, scope: CallScope<'_>, call: Call) -> Done {
    let session_id = scope.session_id;
    if !tools.owns(&call.name) {
        tracing::info!(session_id, tool_use_id = %call.id, name = %call.name, "not a tool of this runner; left for another client");
        scope.report(&call, ToolCallOutcome::Unowned, Duration::ZERO);
        return Done {
            id: call.id,
            posted: false,
            unowned: true,
        };
    }
    let span = call_span(&scope, &call);
    let started = Instant::now();
    let run = tools.call_bounded(&call.name, &call.input);
    let output = tracing::Instrument::instrument(run, span.clone()).await;
    let duration = started.elapsed();
    if output.is_error {
        span.record("otel.status_code", "ERROR");
        span.record("error.type", "tool_error");
    } else {
        span.record("otel.status_code", "OK");
    }
    let event = match call.kind {
        CallKind::Builtin => json!({"type": "user.tool_result", "tool_use_id": call.id,
            "is_error": output.is_error, "content": output.blocks}),
        CallKind::Custom => {
            json!({"type": "user.custom_tool_result", "custom_tool_use_id": call.id,
            "is_error": output.is_error, "content": output.blocks})
        }
    };
    let posted = post(scope.client, session_id, scope.ctx, event).await;
    let outcome = if posted {
        ToolCallOutcome::Posted {
            is_error: output.is_error,
        }
    } else {
        ToolCallOutcome::GaveUp
    };
    scope.report(&call, outcome, duration);
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
                let d = Duration::from_secs(1u64 << (attempt - 1).min(5)).min(POST_BACKOFF_CAP);
                let wait = d.mul_f64(0.5 + fastrand::f64() / 2.0).min(left);
                tracing::warn!(session_id, error = %e, ?wait, "posting a result failed; retrying");
                tokio::time::sleep(wait).await;
            }
        }
    }
}
