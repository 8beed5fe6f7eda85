//! Serving one acknowledged work item: its credential, its lease, its
//! handler, its stop. Shared by the polling [`Worker`](super::Worker) and
//! [`ServeOne`](super::ServeOne).

use std::error::Error as StdError;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::Duration;

use futures::FutureExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::Work;
use crate::credentials::WorkSecret;
use crate::error::Error;
use crate::ext::WorkDataExt;
use crate::resources::work::WorkQueue;
use crate::types::BetaWorkData;
use crate::worker::context::{CancelReason, WorkContext};
use crate::worker::lease::{BeatOutcome, Lease};
use crate::worker::report::{Counters, bump};
use crate::worker::timing::WorkerTiming;

/// The error type handlers may return.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// How one item ended, from the worker's point of view.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ItemOutcome {
    /// The handler returned `Ok`.
    Succeeded,
    /// The handler returned an error, panicked, or ignored its cancellation.
    Failed,
    /// The lease was lost (412, or no heartbeat in time): the item was left
    /// alone for its next holder.
    LeaseLost,
    /// Not a session (`healthcheck` or a type this version does not know):
    /// force-stopped without calling the handler.
    NotASession,
    /// No credential for the item's calls (no usable secret and no
    /// environment key).
    NoCredential,
    /// Handed to the handler without heartbeats or stop (hand-off mode).
    HandedOff,
    /// The handler was asked to stop (the server stopping the item, a lease
    /// not extended, a shutdown) and ended, or was dropped after its grace;
    /// the item was stopped.
    Cancelled,
}

impl ItemOutcome {
    /// Sets the OpenTelemetry status of the item's span: OK when the
    /// handler finished, ERROR with `error.type` when it failed, unset when
    /// the lease was lost (as the official workers do).
    pub(crate) fn record_on(&self, span: &tracing::Span) {
        let error = match self {
            ItemOutcome::Succeeded | ItemOutcome::HandedOff | ItemOutcome::NotASession => None,
            ItemOutcome::LeaseLost | ItemOutcome::Cancelled => return,
            ItemOutcome::Failed => Some("handler_failed"),
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

/// What every item task of a worker shares.
pub(crate) struct ItemServer {
    /// The worker's queue: its own credential (poll, ack, and the fallback
    /// for an item without a usable secret, when `fallback` allows it).
    pub(crate) worker_queue: WorkQueue,
    /// Whether the worker's credential may serve an item whose secret gives
    /// no sessions token.
    pub(crate) fallback: bool,
    pub(crate) timing: WorkerTiming,
    pub(crate) desired_ttl_seconds: Option<u64>,
    pub(crate) heartbeat_timeout: Option<Duration>,
    pub(crate) hand_off: bool,
    pub(crate) heartbeats: bool,
    pub(crate) force_stop: bool,
    pub(crate) counters: std::sync::Arc<Counters>,
    /// Cancels every handler: the shutdown grace period is over.
    pub(crate) hard_cancel: CancellationToken,
}

/// The latest instant by which a handler of the item must be gone, as the
/// heartbeat loop last computed it (`None`: no lease is kept).
type HardStop = Mutex<Option<Instant>>;

impl ItemServer {
    /// The item's secret (decoded) and the queue bound to its credential:
    /// the sessions token (and `api_base_url`) of a secret that decodes,
    /// else the worker's credential with a warning. `None` with neither.
    pub(crate) fn item_queue(&self, work: &Work) -> Option<(Option<WorkSecret>, WorkQueue)> {
        let environment_id = self.worker_queue.environment_id();
        let decoded = match work.secret.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => match WorkSecret::decode(raw) {
                Ok(secret) => Some(secret),
                Err(error) => {
                    tracing::warn!(work_id = %work.id, %error, "the work item's secret yields no sessions token");
                    None
                }
            },
        };
        let Some(secret) = decoded else {
            if !self.fallback {
                return None;
            }
            if work.secret.is_some() {
                tracing::warn!(work_id = %work.id, credential = ?self.worker_queue.client().credential_kind(), "serving the item with the worker's own credential");
            }
            return Some((None, self.worker_queue.clone()));
        };
        let client = self.worker_queue.client();
        let mut item_client = match client.with_credential(secret.sessions_token().clone()) {
            Ok(c) => c,
            Err(error) => {
                tracing::warn!(work_id = %work.id, %error, "the sessions token is not usable");
                return self.fallback.then(|| (None, self.worker_queue.clone()));
            }
        };
        if let Some(url) = secret.api_base_url() {
            match item_client.with_base_url(url) {
                Ok(c) => item_client = c,
                Err(error) => {
                    tracing::warn!(work_id = %work.id, %error, "ignoring the secret's api_base_url")
                }
            }
        }
        let queue = WorkQueue::new(item_client, environment_id.to_owned());
        Some((Some(secret), queue))
    }

    /// Serves one acknowledged item. `lease_started`: when the ack was sent
    /// (or, for an item claimed elsewhere, when serving began).
    pub(crate) async fn serve<H, Fut, E>(
        &self,
        work: Work,
        lease_started: Instant,
        handler: &H,
    ) -> ItemOutcome
    where
        H: Fn(WorkContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        let work_id = work.id.clone();
        let Some((secret, item_queue)) = self.item_queue(&work) else {
            bump(&self.counters.no_credential);
            tracing::error!(work_id = %work_id, "no credential for the item: its secret has no sessions token and there is no environment key");
            return ItemOutcome::NoCredential;
        };
        if !matches!(work.data, BetaWorkData::Session(_)) {
            bump(&self.counters.non_session);
            tracing::info!(work_id = %work_id, data_type = ?work.data_type(), "not a session item; force-stopping it without running anything");
            if stop(&item_queue, &work_id, true, &self.timing).await {
                bump(&self.counters.stopped);
            }
            return ItemOutcome::NotASession;
        }
        bump(&self.counters.claimed);
        let ctx = WorkContext::new(work, secret, self.worker_queue.clone(), item_queue);
        if self.hand_off {
            let result = AssertUnwindSafe(handler(ctx.clone())).catch_unwind().await;
            self.record(&work_id, Some(result));
            return ItemOutcome::HandedOff;
        }
        let hard_stop: HardStop = Mutex::new(None);
        let handler_done = CancellationToken::new();
        // Claim the lease (the first heartbeat) before the handler runs: an
        // item whose lease can't be claimed is someone else's.
        let mut lease = None;
        if self.heartbeats {
            let mut claimed = Lease::new(&self.timing, lease_started);
            match self.claim(&ctx, &mut claimed).await {
                None => {
                    *hard_stop.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(claimed.hard_stop());
                    lease = Some(claimed);
                }
                Some(reason) => {
                    // Whatever the reason (412, not extended, stopping,
                    // rejected), the lease is not this worker's: leave the
                    // item to the server and its next holder.
                    ctx.end(reason.clone());
                    tracing::warn!(work_id = %work_id, ?reason, "could not claim the lease; leaving the item alone");
                    if reason.lease_lost() {
                        bump(&self.counters.lease_lost);
                        return ItemOutcome::LeaseLost;
                    }
                    bump(&self.counters.failed);
                    return ItemOutcome::Failed;
                }
            }
        }
        let heartbeats = async {
            if let Some(lease) = lease {
                self.keep(&ctx, lease, &hard_stop, &handler_done).await;
            }
        };
        let run = async {
            let fut = AssertUnwindSafe(handler(ctx.clone())).catch_unwind();
            tokio::pin!(fut);
            let result = tokio::select! {
                r = &mut fut => Some(r),
                _ = self.cancelled_then_grace(&ctx, &hard_stop) => None,
            };
            let result = match result {
                Some(r) => Some(r),
                // Still running after the grace period: wait no longer.
                None => fut.now_or_never(),
            };
            handler_done.cancel();
            result
        };
        let ((), result) = tokio::join!(heartbeats, run);
        let outcome = self.record(&work_id, result);
        if ctx.cancel_reason().is_some_and(|r| r.lease_lost()) {
            bump(&self.counters.lease_lost);
            tracing::warn!(work_id = %work_id, reason = ?ctx.cancel_reason(), "lease lost; leaving the item alone");
            return ItemOutcome::LeaseLost;
        }
        if stop(ctx.item_queue(), &work_id, self.force_stop, &self.timing).await {
            bump(&self.counters.stopped);
        }
        if ctx.is_cancelled() {
            return ItemOutcome::Cancelled;
        }
        outcome
    }

    /// Completes when the handler has been cancelled and its grace is over:
    /// `cancel_grace` after the cancellation, and never after the lease's
    /// hard stop (re-read, since heartbeats during a shutdown move it).
    async fn cancelled_then_grace(&self, ctx: &WorkContext, hard_stop: &HardStop) {
        tokio::select! {
            _ = ctx.cancelled() => {}
            _ = self.hard_cancel.cancelled() => ctx.end(CancelReason::Shutdown),
        }
        let cancelled_at = Instant::now();
        loop {
            let mut stop_at = cancelled_at + self.timing.cancel_grace;
            if let Some(at) = *hard_stop.lock().unwrap_or_else(|p| p.into_inner()) {
                stop_at = stop_at.min(at);
            }
            if Instant::now() >= stop_at {
                return;
            }
            tokio::time::sleep_until(stop_at).await;
        }
    }

    /// Counts and reports how the handler ended.
    fn record<E: Into<BoxError>>(
        &self,
        work_id: &str,
        result: Option<std::thread::Result<std::result::Result<(), E>>>,
    ) -> ItemOutcome {
        match result {
            Some(Ok(Ok(()))) => {
                bump(&self.counters.succeeded);
                return ItemOutcome::Succeeded;
            }
            Some(Ok(Err(e))) => {
                let e: BoxError = e.into();
                tracing::error!(work_id, error = %e, "handler failed");
            }
            Some(Err(panic)) => {
                tracing::error!(work_id, panic = %panic_message(&*panic), "handler panicked");
            }
            None => tracing::error!(work_id, "handler ignored its cancellation; dropped"),
        }
        bump(&self.counters.failed);
        ItemOutcome::Failed
    }

    /// Sends one heartbeat, bounded by a timeout and by the lease's
    /// deadline, and applies its answer.
    async fn beat(&self, ctx: &WorkContext, lease: &mut Lease) -> Beat {
        let sent = Instant::now();
        let mut request = ctx
            .item_queue()
            .heartbeat(&ctx.work.id)
            .expected_last_heartbeat(lease.expected())
            .max_retries(0);
        if let Some(ttl) = self.desired_ttl_seconds {
            request = request.desired_ttl_seconds(ttl);
        }
        let bound = self.heartbeat_timeout.unwrap_or(lease.interval());
        let until = (sent + bound).min(lease.deadline().max(sent));
        let outcome = match tokio::time::timeout_at(until, request.send()).await {
            Ok(Ok(beat)) => BeatOutcome::Answered {
                last_heartbeat: beat.last_heartbeat,
                lease_extended: beat.lease_extended,
                state: beat.state,
                ttl_seconds: beat.ttl_seconds,
            },
            Ok(Err(e)) if e.is_lease_held_elsewhere() => {
                let state = e.api().and_then(|a| a.lease_state()).cloned();
                tracing::error!(work_id = %ctx.work.id, server_state = ?state, "lease lost: heartbeat precondition failed");
                BeatOutcome::PreconditionFailed
            }
            Ok(Err(e)) if is_fatal(&e) => {
                tracing::error!(work_id = %ctx.work.id, error = %e, "heartbeat rejected");
                BeatOutcome::Rejected
            }
            Ok(Err(e)) => {
                tracing::warn!(work_id = %ctx.work.id, error = %e, "transient heartbeat failure");
                BeatOutcome::Failed
            }
            Err(_) => {
                tracing::warn!(work_id = %ctx.work.id, ?bound, "heartbeat timed out");
                BeatOutcome::Failed
            }
        };
        let failed = outcome == BeatOutcome::Failed;
        match lease.on_beat(sent, outcome) {
            Some(reason) => {
                tracing::info!(work_id = %ctx.work.id, ?reason, "the lease ends");
                Beat::Ended(reason)
            }
            None if failed => Beat::Failed,
            None => Beat::Extended,
        }
    }

    /// Claims the lease of an acknowledged item (`NO_HEARTBEAT`), retrying
    /// transient failures until the lease must be assumed lost, or the
    /// shutdown's grace is over. `None` when claimed; else why not.
    async fn claim(&self, ctx: &WorkContext, lease: &mut Lease) -> Option<CancelReason> {
        loop {
            let beat = tokio::select! {
                beat = self.beat(ctx, lease) => beat,
                _ = self.hard_cancel.cancelled() => return Some(CancelReason::Shutdown),
            };
            match beat {
                Beat::Extended => return None,
                Beat::Ended(reason) => return Some(reason),
                Beat::Failed => {}
            }
            let now = Instant::now();
            if let Some(reason) = lease.check(now) {
                return Some(reason);
            }
            tokio::select! {
                _ = tokio::time::sleep_until(lease.next_beat(now, true)) => {}
                _ = self.hard_cancel.cancelled() => return Some(CancelReason::Shutdown),
            }
            if let Some(reason) = lease.check(Instant::now()) {
                return Some(reason);
            }
        }
    }

    /// Keeps the lease while the handler runs; ends the handler's context
    /// when the lease ends.
    async fn keep(
        &self,
        ctx: &WorkContext,
        mut lease: Lease,
        hard_stop: &HardStop,
        handler_done: &CancellationToken,
    ) {
        let mut failed = false;
        loop {
            let wake = lease.next_beat(Instant::now(), failed);
            tokio::select! {
                _ = handler_done.cancelled() => return,
                _ = tokio::time::sleep_until(wake) => {}
            }
            if let Some(reason) = lease.check(Instant::now()) {
                tracing::error!(work_id = %ctx.work.id, ttl_secs = lease.ttl().as_secs_f64(), "lease assumed lost: no heartbeat succeeded in time");
                ctx.end(reason);
                return;
            }
            let beat = tokio::select! {
                _ = handler_done.cancelled() => return,
                beat = self.beat(ctx, &mut lease) => beat,
            };
            *hard_stop.lock().unwrap_or_else(|p| p.into_inner()) = Some(lease.hard_stop());
            match beat {
                Beat::Extended => failed = false,
                Beat::Failed => failed = true,
                Beat::Ended(reason) => {
                    ctx.end(reason);
                    return;
                }
            }
        }
    }
}

/// What one heartbeat did to the lease.
enum Beat {
    Extended,
    Failed,
    Ended(CancelReason),
}

impl WorkContext {
    /// The queue bound to the item's credential.
    pub(crate) fn item_queue(&self) -> &WorkQueue {
        &self.item_queue
    }
}

/// A 2xx whose body did not decode: the request itself took effect (an ack
/// or a stop of an item the client cannot read).
pub(crate) fn succeeded_undecoded(e: &Error) -> bool {
    matches!(e, Error::Decode { status, .. } if status.is_success())
}

/// A 4xx that retrying can't fix (and bad input or configuration).
pub(crate) fn is_fatal(e: &Error) -> bool {
    match e {
        Error::Api(api) => {
            api.status.is_client_error() && !crate::retry::status_is_retryable(api.status)
        }
        Error::InvalidInput { .. } | Error::Config(_) => true,
        _ => false,
    }
}

/// Stops an item, without client retries (this loop is the retry): a 409
/// (already stopped) counts as stopped at once; transient failures are
/// tried again a few times. Returns whether the item is stopped.
pub(crate) async fn stop(
    queue: &WorkQueue,
    work_id: &str,
    force: bool,
    timing: &WorkerTiming,
) -> bool {
    for attempt in 1..=5u32 {
        let request = queue
            .stop(work_id)
            .force(force)
            .max_retries(0)
            .timeout(timing.request_timeout);
        match request.send().await {
            Ok(_) => return true,
            Err(e) if e.is_conflict() || succeeded_undecoded(&e) => return true,
            Err(e) if is_fatal(&e) => {
                tracing::warn!(work_id, error = %e, "stop failed");
                return false;
            }
            Err(e) => {
                let wait = timing.backoff(attempt).min(Duration::from_secs(10));
                tracing::warn!(work_id, attempt, error = %e, "stop failed; retrying");
                tokio::time::sleep(wait).await;
            }
        }
    }
    tracing::error!(work_id, "could not stop the item");
    false
}

/// The message of a panic payload.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}
