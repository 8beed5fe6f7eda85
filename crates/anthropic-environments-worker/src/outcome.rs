//! How each item ended: observable while the worker runs
//! ([`WorkerBuilder::on_item_end`](crate::WorkerBuilder::on_item_end)) and
//! returned by [`ServeOne::run`](crate::ServeOne::run).

use std::time::Duration;

use crate::context::CancelReason;

/// How one item ended, from the worker's point of view.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ItemOutcome {
    /// The handler returned `Ok`.
    Succeeded,
    /// The handler returned an error, panicked, or ignored its cancellation
    /// (and was dropped): what it said, or why it was dropped.
    Failed(String),
    /// The handler was asked to stop for this reason (the server stopping
    /// the item, a lease not extended, a rejected heartbeat, a shutdown) and
    /// ended, or was dropped after its grace.
    Cancelled(CancelReason),
    /// The lease was lost (412, or no heartbeat in time): the item was left
    /// alone for its next holder.
    LeaseLost(CancelReason),
    /// The lease could not be claimed for this reason (the server stopping
    /// the item or not extending the lease, a rejected heartbeat, a
    /// shutdown): the handler never ran.
    NotClaimed(CancelReason),
    /// Not a session (`healthcheck` or a type this version does not know):
    /// force-stopped without calling the handler.
    NotASession,
    /// No credential for the item's calls (no usable secret and no
    /// environment key).
    NoCredential,
    /// Handed to the handler, which owns the lease from there (the hand-off
    /// modes).
    HandedOff,
    /// A polled item the client could not decode: acknowledged and
    /// force-stopped so that it cannot wedge the queue.
    Undecodable,
    /// Its acknowledgement was refused for good (a 4xx): force-stopped.
    AckRejected,
}

impl ItemOutcome {
    /// A short name of the outcome, for logs and metric labels
    /// (`succeeded`, `failed`, `cancelled`, `lease_lost`, `not_claimed`,
    /// `not_a_session`, `no_credential`, `handed_off`, `undecodable`,
    /// `ack_rejected`).
    pub fn as_str(&self) -> &'static str {
        match self {
            ItemOutcome::Succeeded => "succeeded",
            ItemOutcome::Failed(_) => "failed",
            ItemOutcome::Cancelled(_) => "cancelled",
            ItemOutcome::LeaseLost(_) => "lease_lost",
            ItemOutcome::NotClaimed(_) => "not_claimed",
            ItemOutcome::NotASession => "not_a_session",
            ItemOutcome::NoCredential => "no_credential",
            ItemOutcome::HandedOff => "handed_off",
            ItemOutcome::Undecodable => "undecodable",
            ItemOutcome::AckRejected => "ack_rejected",
        }
    }

    /// Sets the OpenTelemetry status of the item's span: OK when the
    /// handler finished, ERROR with `error.type` when it failed, unset when
    /// it was cancelled or the lease was lost (as the official workers do).
    pub(crate) fn record_on(&self, span: &tracing::Span) {
        let error = match self {
            ItemOutcome::Succeeded | ItemOutcome::HandedOff | ItemOutcome::NotASession => None,
            ItemOutcome::LeaseLost(_) | ItemOutcome::Cancelled(_) => return,
            ItemOutcome::Failed(_) => Some("handler_failed"),
            ItemOutcome::Undecodable => Some("undecodable"),
            ItemOutcome::AckRejected => Some("ack_rejected"),
            ItemOutcome::NotClaimed(_) => Some("lease_not_claimed"),
            ItemOutcome::NoCredential => Some("no_credential"),
        };
        match error {
            None => {
                span.record("otel.status_code", "OK");
            }
            Some(kind) => {
                span.record("otel.status_code", "ERROR");
                span.record("error.type", kind);
            }
        }
    }
}

/// Whether the worker stopped the item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopResult {
    /// Stopped (or already stopped: a 409).
    Stopped,
    /// The stop was refused (a 4xx) or every attempt failed.
    Failed,
    /// Given up when the shutdown's stop phase ran out (or a second signal
    /// ended it): the lease runs out and the queue serves the item again.
    Abandoned,
    /// Not tried, by design: the lease was lost (the item is another
    /// worker's) or the item was handed off.
    NotAttempted,
}

impl StopResult {
    /// A short name, for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            StopResult::Stopped => "stopped",
            StopResult::Failed => "failed",
            StopResult::Abandoned => "abandoned",
            StopResult::NotAttempted => "not_attempted",
        }
    }

    /// The worker meant to stop the item and could not.
    pub fn is_unstopped(self) -> bool {
        matches!(self, StopResult::Failed | StopResult::Abandoned)
    }
}

/// What became of one item: its outcome, whether it was stopped, and how
/// long serving it took (from its ack, or from the start of `ServeOne`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ItemReport {
    /// The work item.
    pub work_id: String,
    /// Its session, for a session item.
    pub session_id: Option<String>,
    /// How it ended.
    pub outcome: ItemOutcome,
    /// Whether the worker stopped it.
    pub stop: StopResult,
    /// From the ack (or the start of serving) to the end, stop included.
    pub duration: Duration,
    /// The server's answer that ended the item's lease, when one did: a
    /// heartbeat refused for good or with 412, as the error's text (status,
    /// error type, message and request id). Says why an item was
    /// [`NotClaimed`](ItemOutcome::NotClaimed), its lease
    /// [`LeaseLost`](ItemOutcome::LeaseLost), or its handler
    /// [`Cancelled`](ItemOutcome::Cancelled) by a refused heartbeat; `None`
    /// when no error ended it (an answer such as `stopping`, silence, a
    /// shutdown).
    pub error: Option<String>,
    /// That answer's HTTP status (`404` for an unknown item, `412` for a
    /// lease another worker holds), when it had one.
    pub error_status: Option<u16>,
}
