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

use crate::config::{ItemConfig, ServeMode};
use crate::context::{CancelReason, EndingAnswer, WorkContext};
use crate::lease::{BeatOutcome, Lease};
use crate::outcome::{ItemOutcome, ItemReport, StopResult};
use crate::report::{Counters, bump};
use crate::timing::WorkerTiming;
use anthropic_environments::Error;
use anthropic_environments::Work;
use anthropic_environments::WorkQueue;
use anthropic_environments::credentials::WorkSecret;
use anthropic_environments::ext::WorkDataExt;
use anthropic_environments::types::BetaWorkData;

/// The error type handlers may return.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// What every item task of a worker shares.
pub(crate) struct ItemServer {
    /// The worker's queue: its own credential (poll, ack, and the fallback
    /// for an item without a usable secret, when `fallback` allows it).
    pub(crate) worker_queue: WorkQueue,
    /// Whether the worker's credential may serve an item whose secret gives
    /// no sessions token.
    pub(crate) fallback: bool,
    pub(crate) config: ItemConfig,
    pub(crate) mode: ServeMode,
    pub(crate) counters: std::sync::Arc<Counters>,
    /// Tells every handler the worker is shutting down (before the grace
    /// period; see [`WorkContext::shutdown_requested`]).
    pub(crate) shutdown_requested: CancellationToken,
    /// Cancels every handler: the shutdown grace period is over.
    pub(crate) hard_cancel: CancellationToken,
    /// Ends every handler's grace and gives up every stop and claim: the
    /// shutdown's stop phase is over (or a second signal ended it).
    pub(crate) abandon: CancellationToken,
    /// Told how each item ended.
    pub(crate) observer: Option<Observer>,
}

/// A hook told how each item ended.
pub(crate) type Observer = std::sync::Arc<dyn Fn(&ItemReport) + Send + Sync>;

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
        let queue = item_client.work(environment_id);
        Some((Some(secret), queue))
    }

    /// Serves one acknowledged item and tells the observer how it ended.
    /// `lease_started`: when the ack was sent (or, for an item claimed
    /// elsewhere, when serving began). `continuing`: the `last_heartbeat`
    /// of a live lease another process holds, to continue instead of
    /// claiming a fresh one.
    pub(crate) async fn serve<H, Fut, E>(
        &self,
        work: Work,
        lease_started: Instant,
        continuing: Option<String>,
        handler: &H,
    ) -> ItemReport
    where
        H: Fn(WorkContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        let work_id = work.id.clone();
        let session_id = work.session_id().map(str::to_owned);
        let (outcome, stop, answer) = self
            .serve_item(work, lease_started, continuing, handler)
            .await;
        match stop {
            StopResult::Stopped => bump(&self.counters.stopped),
            StopResult::Failed | StopResult::Abandoned => bump(&self.counters.unstopped),
            StopResult::NotAttempted => {}
        }
        let report = ItemReport {
            work_id,
            session_id,
            outcome,
            stop,
            duration: lease_started.elapsed(),
            error_status: answer.as_ref().and_then(|a| a.status),
            error: answer.map(|a| a.text),
        };
        tracing::debug!(
            work_id = %report.work_id,
            outcome = report.outcome.as_str(),
            stop = report.stop.as_str(),
            duration_ms = report.duration.as_millis() as u64,
            "item ended"
        );
        self.observe(&report);
        report
    }

    /// Tells the observer how an item ended; its panic is logged, never
    /// the item task's.
    pub(crate) fn observe(&self, report: &ItemReport) {
        if let Some(observe) = &self.observer
            && let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| observe(report)))
        {
            tracing::error!(work_id = %report.work_id, panic = %panic_message(&*panic), "the on_item_end hook panicked");
        }
    }

    async fn serve_item<H, Fut, E>(
        &self,
        work: Work,
        lease_started: Instant,
        continuing: Option<String>,
        handler: &H,
    ) -> (ItemOutcome, StopResult, Option<EndingAnswer>)
    where
        H: Fn(WorkContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        let work_id = work.id.clone();
        let Some((secret, item_queue)) = self.item_queue(&work) else {
            bump(&self.counters.no_credential);
            tracing::error!(work_id = %work_id, "no credential for the item: its secret has no sessions token and there is no environment key");
            return (ItemOutcome::NoCredential, StopResult::NotAttempted, None);
        };
        if !matches!(work.data, BetaWorkData::Session(_)) {
            bump(&self.counters.non_session);
            tracing::info!(work_id = %work_id, data_type = work.data_type(), "not a session item; force-stopping it without running anything");
            let stopped = self.stop(&item_queue, &work_id, true).await;
            return (ItemOutcome::NotASession, stopped, None);
        }
        bump(&self.counters.claimed);
        let ctx = WorkContext::new(
            work,
            secret,
            self.worker_queue.clone(),
            item_queue,
            self.shutdown_requested.clone(),
        );
        let hard_stop: HardStop = Mutex::new(None);
        // Claim the lease (the first heartbeat) before the handler runs: an
        // item whose lease can't be claimed is someone else's, or over.
        let mut lease = None;
        if self.mode.claims_lease() {
            let timing = &self.config.timing;
            let mut claimed = match continuing {
                Some(last) => Lease::continuing(timing, lease_started, last),
                None => Lease::new(timing, lease_started),
            };
            match self.claim(&ctx, &mut claimed).await {
                None => {
                    *hard_stop.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(claimed.hard_stop());
                    lease = Some(claimed);
                }
                Some(reason) => {
                    ctx.end(reason.clone());
                    if reason.lease_lost() {
                        // Another holder's: leave the item alone.
                        bump(&self.counters.lease_lost);
                        tracing::warn!(work_id = %work_id, reason = reason.as_str(), "the lease is lost; released without stopping the item");
                        return (
                            ItemOutcome::LeaseLost(reason),
                            StopResult::NotAttempted,
                            ctx.ending_answer(),
                        );
                    }
                    // Stopping, not extended, rejected, shut down: the
                    // item's run is over; stop it (the official workers do).
                    bump(&self.counters.not_claimed);
                    tracing::warn!(work_id = %work_id, reason = reason.as_str(), "could not claim the lease; force-stopping the item");
                    let stopped = self.stop(ctx.item_queue(), &work_id, true).await;
                    return (
                        ItemOutcome::NotClaimed(reason),
                        stopped,
                        ctx.ending_answer(),
                    );
                }
            }
        }
        if self.mode.hands_off() {
            // The handler owns the item; a shutdown still cancels it after
            // the grace, and drops it after its own.
            let no_lease: HardStop = Mutex::new(None);
            let fut = AssertUnwindSafe(handler(ctx.clone())).catch_unwind();
            tokio::pin!(fut);
            let result = tokio::select! {
                r = &mut fut => Some(r),
                _ = self.cancelled_then_grace(&ctx, &no_lease) => fut.now_or_never(),
            };
            self.record(&work_id, ctx.cancel_reason(), result);
            return (ItemOutcome::HandedOff, StopResult::NotAttempted, None);
        }
        let handler_done = CancellationToken::new();
        let heartbeats = async {
            match lease {
                Some(lease) => self.keep(&ctx, lease, &hard_stop, &handler_done).await,
                None => None,
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
        let (lease_end, result) = tokio::join!(heartbeats, run);
        let outcome = self.record(&work_id, ctx.cancel_reason(), result);
        // The lease's own end counts, even when a shutdown asked the
        // handler to stop first: an item another worker now holds is never
        // stopped.
        let lost = lease_end
            .filter(CancelReason::lease_lost)
            .or_else(|| ctx.cancel_reason().filter(CancelReason::lease_lost));
        if let Some(reason) = lost {
            bump(&self.counters.lease_lost);
            tracing::warn!(work_id = %work_id, reason = reason.as_str(), "lease lost; leaving the item alone");
            return (
                ItemOutcome::LeaseLost(reason),
                StopResult::NotAttempted,
                ctx.ending_answer(),
            );
        }
        let stopped = self
            .stop(ctx.item_queue(), &work_id, self.config.force_stop)
            .await;
        match ctx.cancel_reason() {
            Some(reason) => (ItemOutcome::Cancelled(reason), stopped, ctx.ending_answer()),
            None => (outcome, stopped, None),
        }
    }

    /// Stops an item with the worker's loop of retries, given up when the
    /// stop phase is over.
    pub(crate) async fn stop(&self, queue: &WorkQueue, work_id: &str, force: bool) -> StopResult {
        stop(queue, work_id, force, &self.config.timing, &self.abandon).await
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
            let mut stop_at = cancelled_at + self.config.timing.cancel_grace;
            if let Some(at) = *hard_stop.lock().unwrap_or_else(|p| p.into_inner()) {
                stop_at = stop_at.min(at);
            }
            if Instant::now() >= stop_at {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(stop_at) => {}
                // A second signal: no more grace.
                _ = self.abandon.cancelled() => return,
            }
        }
    }

    /// Counts and reports how the handler ended. An error after the
    /// handler was asked to stop (`cancelled`) is how a stopped handler
    /// ends: logged at INFO for a shutdown or a stop someone asked for,
    /// WARN for the lease ending it, not as a failure.
    fn record<E: Into<BoxError>>(
        &self,
        work_id: &str,
        cancelled: Option<CancelReason>,
        result: Option<std::thread::Result<std::result::Result<(), E>>>,
    ) -> ItemOutcome {
        let failure = match result {
            Some(Ok(Ok(()))) => {
                bump(&self.counters.succeeded);
                return ItemOutcome::Succeeded;
            }
            Some(Ok(Err(e))) => {
                let e: BoxError = e.into();
                match &cancelled {
                    // Asked for: by the operator, or by the server stopping
                    // the item (an admin's stop).
                    Some(reason @ (CancelReason::Shutdown | CancelReason::ServerStopping)) => {
                        tracing::info!(work_id, error = %e, reason = reason.as_str(), "handler ended after it was asked to stop")
                    }
                    Some(reason) => {
                        tracing::warn!(work_id, error = %e, reason = reason.as_str(), "handler ended after it was asked to stop")
                    }
                    None => tracing::error!(work_id, error = %e, "handler failed"),
                }
                e.to_string()
            }
            Some(Err(panic)) => {
                let message = panic_message(&*panic);
                tracing::error!(work_id, panic = %message, "handler panicked");
                format!("the handler panicked: {message}")
            }
            None => {
                tracing::error!(work_id, "handler ignored its cancellation; dropped");
                "the handler ignored its cancellation and was dropped".to_owned()
            }
        };
        bump(&self.counters.failed);
        ItemOutcome::Failed(failure)
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
        if let Some(ttl) = self.config.desired_ttl_seconds {
            request = request.desired_ttl_seconds(ttl);
        }
        let bound = self.config.heartbeat_timeout.unwrap_or(lease.interval());
        let until = (sent + bound).min(lease.deadline().max(sent));
        let outcome = match tokio::time::timeout_at(until, request.send()).await {
            Ok(Ok(beat)) => BeatOutcome::Answered {
                last_heartbeat: beat.last_heartbeat,
                lease_extended: beat.lease_extended,
                state: beat.state,
                ttl_seconds: beat.ttl_seconds,
            },
            Ok(Err(e)) if e.is_lease_held_elsewhere() => {
                // The server's view of the lease, as JSON (absent when not said).
                let server_lease = e
                    .api()
                    .and_then(|a| a.lease_state())
                    .and_then(|state| serde_json::to_string(state).ok());
                tracing::error!(work_id = %ctx.work.id, server_lease, "lease lost: heartbeat precondition failed");
                ctx.ended_by(&e);
                BeatOutcome::PreconditionFailed
            }
            Ok(Err(e)) if is_fatal(&e) => {
                tracing::error!(work_id = %ctx.work.id, error = %e, "heartbeat rejected");
                ctx.ended_by(&e);
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
                tracing::info!(work_id = %ctx.work.id, reason = reason.as_str(), "the lease ends");
                Beat::Ended(reason)
            }
            None if failed => Beat::Failed,
            None => {
                ctx.lease_extended(lease.expected(), lease.ttl());
                Beat::Extended
            }
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
    /// when the lease ends, and says why it ended (`None`: it was kept
    /// until the handler was done).
    async fn keep(
        &self,
        ctx: &WorkContext,
        mut lease: Lease,
        hard_stop: &HardStop,
        handler_done: &CancellationToken,
    ) -> Option<CancelReason> {
        let mut failed = false;
        loop {
            let wake = lease.next_beat(Instant::now(), failed);
            tokio::select! {
                _ = handler_done.cancelled() => return None,
                _ = tokio::time::sleep_until(wake) => {}
            }
            if let Some(reason) = lease.check(Instant::now()) {
                tracing::error!(work_id = %ctx.work.id, ttl_secs = lease.ttl().as_secs_f64(), "lease assumed lost: no heartbeat succeeded in time");
                ctx.end(reason.clone());
                return Some(reason);
            }
            let beat = tokio::select! {
                _ = handler_done.cancelled() => return None,
                beat = self.beat(ctx, &mut lease) => beat,
            };
            *hard_stop.lock().unwrap_or_else(|p| p.into_inner()) = Some(lease.hard_stop());
            match beat {
                Beat::Extended => failed = false,
                Beat::Failed => failed = true,
                Beat::Ended(reason) => {
                    ctx.end(reason.clone());
                    return Some(reason);
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
        Error::Api(api) => api.status.is_client_error() && !e.is_retryable(),
        Error::InvalidInput { .. } | Error::Config(_) => true,
        _ => false,
    }
}

/// Stops an item, without client retries (this loop is the retry): a 409
/// (already stopped) counts as stopped at once; transient failures are
/// tried again a few times. Given up at once when `abandon` is cancelled
/// (the shutdown's stop phase is over).
pub(crate) async fn stop(
    queue: &WorkQueue,
    work_id: &str,
    force: bool,
    timing: &WorkerTiming,
    abandon: &CancellationToken,
) -> StopResult {
    let abandoned = || {
        tracing::warn!(
            work_id,
            "left unstopped: the shutdown's stop phase is over; its lease runs out and the queue serves it again"
        );
        StopResult::Abandoned
    };
    for attempt in 1..=5u32 {
        let request = queue
            .stop(work_id)
            .force(force)
            .max_retries(0)
            .timeout(timing.request_timeout);
        let answer = tokio::select! {
            answer = request.send() => answer,
            _ = abandon.cancelled() => return abandoned(),
        };
        match answer {
            Ok(_) => return StopResult::Stopped,
            Err(e) if e.is_conflict() || succeeded_undecoded(&e) => return StopResult::Stopped,
            Err(e) if is_fatal(&e) => {
                tracing::warn!(work_id, error = %e, "stop failed");
                return StopResult::Failed;
            }
            Err(e) => {
                let wait = timing.backoff(attempt).min(Duration::from_secs(10));
                tracing::warn!(work_id, attempt, error = %e, "stop failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = abandon.cancelled() => return abandoned(),
                }
            }
        }
    }
    tracing::error!(work_id, "could not stop the item");
    StopResult::Failed
}

/// The message of a panic payload.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}
