//! A self-hosted environment worker: poll, ack, heartbeat the lease while a
//! handler runs, stop — for any number of items at once — with the
//! credentials the official workers use.
//!
//! ```no_run
//! use anthropic_environments::Client;
//! use anthropic_environments::worker::{WorkContext, Worker};
//!
//! # async fn run() -> anthropic_environments::Result<()> {
//! // The environment key (ANTHROPIC_ENVIRONMENT_KEY) is a worker's credential.
//! let client = Client::builder().environment_key("sk-ant-oat01-...").build()?;
//! let report = Worker::builder(client.work("env_011CZkZ9X2dpNyB7HsEFoRfW"))
//!     .concurrency(4)
//!     .shutdown_on_signal()
//!     .build()
//!     .run(|ctx: WorkContext| async move {
//!         println!("serving session {:?}", ctx.session_id());
//!         // ctx.client() carries the item's sessions token.
//!         tokio::select! {
//!             _ = ctx.cancelled() => println!("cancelled: {:?}", ctx.cancel_reason()),
//!             _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
//!         }
//!         Ok::<(), std::io::Error>(())
//!     })
//!     .await?;
//! println!("{report:?}");
//! # Ok(()) }
//! ```
//!
//! # Credentials
//!
//! As the official workers: the worker's client (normally built with the
//! **environment key**) polls and acknowledges. Each polled item carries a
//! `secret` whose **sessions token** is the bearer for that item's heartbeat
//! and stop (and, through [`WorkContext::client`], the handler's
//! session-level calls; the secret's `api_base_url`, when present, is their
//! base URL). An item whose secret is missing or does not decode is served
//! with the worker's own credential, with a warning. Neither the secret nor
//! any token is logged, and `Debug` redacts them.
//!
//! # What it does
//!
//! - Polls with `block_ms` (default 999; [`non_blocking`](WorkerBuilder::non_blocking)
//!   omits it) and its worker id; on an empty poll it sleeps 1-3 s (jittered);
//!   on a poll error it backs off exponentially (2^n s, capped at 60 s, plus up
//!   to 1 s of jitter), resetting on success. Poll and ack have separate
//!   counters. A 4xx that retrying can't fix (anything but 408, 409, 429)
//!   ends the worker with that error. The worker's loops are the retries:
//!   poll, ack and stop go out without client retries, each bounded by
//!   [`WorkerTiming::request_timeout`] (60 s; polls get their `block_ms` on
//!   top), so a server that stops answering cannot hold a loop for the
//!   client's 10-minute timeout.
//! - Acknowledges every item before anything else (the lease clock starts
//!   before the ack is sent). A 409 on ack (another worker won) goes
//!   straight back to polling; an ack that fails for good (another 4xx)
//!   force-stops the item. A polled item that does not decode is
//!   acknowledged and force-stopped, so it cannot wedge the loop.
//! - Items that are not sessions (`healthcheck`, types this version does
//!   not know) are force-stopped without calling the handler.
//! - Claims each session item's lease (a `NO_HEARTBEAT` heartbeat) before
//!   its handler runs; then heartbeats every `max(min(ttl / 2, 30 s), 1 s)`,
//!   each bounded by a timeout and the lease's deadline. The handler's
//!   [`WorkContext::cancelled`] fires when the server says
//!   `stopping`/`stopped` or `lease_extended: false`, when a heartbeat gets
//!   412 (another worker holds the lease), or when no heartbeat has
//!   succeeded in time. A handler that ignores its cancellation is dropped
//!   after a grace that always ends before the lease can run out, so it can
//!   never overlap the next holder.
//! - After the handler returns, errs or panics, force-stops the item (a 409
//!   "already stopped" is fine) — unless the lease was lost: an item another
//!   worker holds is never stopped.
//! - Modes: run until shut down (default), [`drain`](WorkerBuilder::drain)
//!   (return when the queue is empty), [`hand_off`](WorkerBuilder::hand_off)
//!   (ack and hand each item to the handler, no heartbeat and no stop).
//! - Shutdown ([`shutdown_on_signal`](WorkerBuilder::shutdown_on_signal),
//!   [`shutdown_signal`](WorkerBuilder::shutdown_signal) or
//!   [`WorkerBuilder::shutdown_token`], in any combination): stops polling,
//!   lets in-flight handlers finish within the grace period, then cancels
//!   them and stops their items. A second SIGINT/SIGTERM skips the grace.
//!
//! [`ServeOne`] serves a single item that something else claimed (the
//! `handle_item` / `ant beta:worker run` pattern).

mod context;
mod item;
mod lease;
mod report;
mod serve_one;
mod signals;
mod timing;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::ext::WorkDataExt;
use crate::resources::work::WorkQueue;

pub use context::{CancelReason, WorkContext};
pub use item::ItemOutcome;
pub use lease::MAX_TTL;
pub use report::{WorkerReport, WorkerStats};
pub use serve_one::{ServeOne, ServeOneBuilder};
pub use timing::WorkerTiming;

use item::{BoxError, ItemServer, is_fatal, panic_message, stop, succeeded_undecoded};
use report::{Counters, InFlight, bump};

type ShutdownFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Configures a [`Worker`].
#[must_use]
pub struct WorkerBuilder {
    queue: WorkQueue,
    worker_id: Option<String>,
    concurrency: usize,
    pollers: Option<usize>,
    block_ms: Option<u64>,
    reclaim_older_than_ms: Option<u64>,
    desired_ttl_seconds: Option<u64>,
    heartbeat_timeout: Option<Duration>,
    drain: bool,
    hand_off: bool,
    heartbeats: bool,
    force_stop: bool,
    on_os_signals: bool,
    timing: WorkerTiming,
    shutdown: CancellationToken,
    shutdown_signal: Option<ShutdownFuture>,
    stats: WorkerStats,
}

impl fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("environment_id", &self.queue.environment_id())
            .field("worker_id", &self.worker_id)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl WorkerBuilder {
    /// This worker's id (`Anthropic-Worker-ID`); default: the host name and
    /// a random suffix.
    pub fn worker_id(mut self, id: impl Into<String>) -> Self {
        self.worker_id = Some(id.into());
        self
    }

    /// How many items may be in flight at once (default 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// How many poll loops share the concurrency (default: `concurrency`,
    /// at most 4). One loop polls and acks one item at a time; more keep a
    /// busy worker from waiting on those round trips.
    pub fn pollers(mut self, n: usize) -> Self {
        self.pollers = Some(n.max(1));
        self
    }

    /// How long each poll waits for work, 1-999 ms (default 999).
    pub fn block_ms(mut self, ms: u64) -> Self {
        self.block_ms = Some(ms);
        self
    }

    /// Polls without `block_ms`: the server answers at once. With
    /// [`drain`](Self::drain), for emptying a queue quickly (e.g. when a
    /// webhook says work arrived).
    pub fn non_blocking(mut self) -> Self {
        self.block_ms = None;
        self
    }

    /// Reclaim items polled but not acknowledged for this long.
    pub fn reclaim_older_than_ms(mut self, ms: u64) -> Self {
        self.reclaim_older_than_ms = Some(ms);
        self
    }

    /// The lease TTL to ask for in heartbeats (default: the server's).
    pub fn desired_ttl_seconds(mut self, seconds: u64) -> Self {
        self.desired_ttl_seconds = Some(seconds);
        self
    }

    /// Bound of each heartbeat request (default: the heartbeat interval);
    /// never past the lease's deadline.
    pub fn heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.heartbeat_timeout = Some(timeout);
        self
    }

    /// Return once a poll finds the queue empty (and in-flight items are
    /// done) instead of polling forever.
    pub fn drain(mut self, drain: bool) -> Self {
        self.drain = drain;
        self
    }

    /// Hand each acknowledged session item to the handler and do nothing
    /// more: no heartbeat, no stop. For dispatching items to another
    /// process, which then owns the lease and the stop.
    pub fn hand_off(mut self, hand_off: bool) -> Self {
        self.hand_off = hand_off;
        self
    }

    /// Whether to hold each item's lease with heartbeats while its handler
    /// runs (default true). Without them (like the official SDK's
    /// `iter_work`), the item keeps only the lease its ack starts: for
    /// handlers that finish well within it.
    pub fn heartbeats(mut self, heartbeats: bool) -> Self {
        self.heartbeats = heartbeats;
        self
    }

    /// Stop finished items with `force` (default true: the handler is done,
    /// there is nothing left to shut down gracefully).
    pub fn force_stop(mut self, force: bool) -> Self {
        self.force_stop = force;
        self
    }

    /// Timing of the loops (defaults: the official SDK's).
    pub fn timing(mut self, timing: WorkerTiming) -> Self {
        self.timing = timing;
        self
    }

    /// Shut down when this future completes (e.g. a custom signal).
    pub fn shutdown_signal(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.shutdown_signal = Some(Box::pin(signal));
        self
    }

    /// Shut down on SIGINT or SIGTERM (Ctrl-C elsewhere than Unix); a second
    /// signal forces the shutdown: in-flight handlers are cancelled at once
    /// instead of after the grace period. Works with a
    /// [`shutdown_signal`](Self::shutdown_signal) and a
    /// [`shutdown_token`](Self::shutdown_token): whichever comes first.
    pub fn shutdown_on_signal(mut self) -> Self {
        self.on_os_signals = true;
        self
    }

    /// A token whose cancellation shuts the worker down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// A live view of the worker's counts, readable while it runs (for
    /// health checks and metrics).
    pub fn stats(&self) -> WorkerStats {
        self.stats.clone()
    }

    /// Builds the worker.
    pub fn build(self) -> Worker {
        Worker {
            worker_id: self.worker_id.unwrap_or_else(default_worker_id),
            queue: self.queue,
            concurrency: self.concurrency,
            pollers: self.pollers.unwrap_or_else(|| self.concurrency.min(4)),
            block_ms: self.block_ms,
            reclaim_older_than_ms: self.reclaim_older_than_ms,
            desired_ttl_seconds: self.desired_ttl_seconds,
            heartbeat_timeout: self.heartbeat_timeout,
            drain: self.drain,
            hand_off: self.hand_off,
            heartbeats: self.heartbeats,
            force_stop: self.force_stop,
            on_os_signals: self.on_os_signals,
            timing: self.timing,
            shutdown: self.shutdown,
            shutdown_signal: Mutex::new(self.shutdown_signal),
            stats: self.stats,
        }
    }
}

/// The host name and a random suffix: unique per process, still readable.
fn default_worker_id() -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let host = if host.is_empty() {
        "worker".to_owned()
    } else {
        host
    };
    format!("{host}-{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff)
}

/// A worker for one environment's queue; see the [module docs](self).
pub struct Worker {
    queue: WorkQueue,
    worker_id: String,
    concurrency: usize,
    pollers: usize,
    block_ms: Option<u64>,
    reclaim_older_than_ms: Option<u64>,
    desired_ttl_seconds: Option<u64>,
    heartbeat_timeout: Option<Duration>,
    drain: bool,
    hand_off: bool,
    heartbeats: bool,
    force_stop: bool,
    on_os_signals: bool,
    timing: WorkerTiming,
    shutdown: CancellationToken,
    /// In a mutex so that `&Worker` is `Send` (the future is not `Sync`).
    shutdown_signal: Mutex<Option<ShutdownFuture>>,
    stats: WorkerStats,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("environment_id", &self.queue.environment_id())
            .field("worker_id", &self.worker_id)
            .field("concurrency", &self.concurrency)
            .field("drain", &self.drain)
            .field("hand_off", &self.hand_off)
            .finish_non_exhaustive()
    }
}

/// Keeps an idle loop visible without a line per empty poll: the first
/// empty poll after a claim at INFO, then DEBUG, with an INFO reminder every
/// five minutes.
struct IdleLog {
    idle_since: Option<Instant>,
    last_report: Instant,
}

impl IdleLog {
    const REPORT_EVERY: Duration = Duration::from_secs(300);

    fn on_empty_poll(&mut self, environment_id: &str) {
        let now = Instant::now();
        match self.idle_since {
            None => {
                self.idle_since = Some(now);
                self.last_report = now;
                tracing::info!(environment_id, "idle; polling for work");
            }
            Some(since) if now.duration_since(self.last_report) >= Self::REPORT_EVERY => {
                self.last_report = now;
                tracing::info!(
                    environment_id,
                    idle_secs = now.duration_since(since).as_secs(),
                    "still polling"
                );
            }
            Some(_) => tracing::debug!(environment_id, "poll returned no work"),
        }
    }

    fn on_claim(&mut self) {
        self.idle_since = None;
    }
}

/// Reaps finished item tasks; a task that panicked (outside its handler,
/// whose panics are caught) is logged and counted, never lost.
fn reap(result: std::result::Result<(), tokio::task::JoinError>, counters: &Counters) {
    if let Err(error) = result {
        bump(&counters.failed);
        if error.is_panic() {
            let panic = error.into_panic();
            tracing::error!(panic = %panic_message(&*panic), "an item task panicked");
        } else {
            tracing::error!(%error, "an item task was cancelled");
        }
    }
}

/// Waits for every task of every set.
async fn join_all_sets(sets: &mut [JoinSet<()>], counters: &Counters) {
    for set in sets {
        while let Some(result) = set.join_next().await {
            reap(result, counters);
        }
    }
}

impl Worker {
    /// A builder for a worker of `queue`.
    pub fn builder(queue: WorkQueue) -> WorkerBuilder {
        WorkerBuilder {
            queue,
            worker_id: None,
            concurrency: 1,
            pollers: None,
            block_ms: Some(999),
            reclaim_older_than_ms: None,
            desired_ttl_seconds: None,
            heartbeat_timeout: None,
            drain: false,
            hand_off: false,
            heartbeats: true,
            force_stop: true,
            on_os_signals: false,
            timing: WorkerTiming::default(),
            shutdown: CancellationToken::new(),
            shutdown_signal: None,
            stats: WorkerStats::default(),
        }
    }

    /// This worker's id.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// A live view of the worker's counts, readable while it runs.
    pub fn stats(&self) -> WorkerStats {
        self.stats.clone()
    }

    /// Runs until shut down (or, draining, until the queue is empty), calling
    /// `handler` once per claimed session item. Ends with an error only for a
    /// poll error that retrying can't fix; handler errors are reported
    /// (tracing, and the counts of the [`WorkerReport`]) and do not end the
    /// worker.
    pub async fn run<H, Fut, E>(self, handler: H) -> Result<WorkerReport>
    where
        H: Fn(WorkContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<(), E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        // Cancelled by a second OS signal: skip the grace period.
        let force = CancellationToken::new();
        let mut listeners = Vec::new();
        let signal = self
            .shutdown_signal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(signal) = signal {
            let token = self.shutdown.clone();
            listeners.push(tokio::spawn(async move {
                tokio::select! {
                    _ = signal => token.cancel(),
                    _ = token.cancelled() => {}
                }
            }));
        }
        if self.on_os_signals {
            listeners.extend(signals::listen(self.shutdown.clone(), force.clone()));
        }
        let handler = Arc::new(handler);
        let shared = Arc::new(ItemServer {
            worker_queue: self.queue.clone(),
            fallback: true,
            timing: self.timing.clone(),
            desired_ttl_seconds: self.desired_ttl_seconds,
            heartbeat_timeout: self.heartbeat_timeout,
            hand_off: self.hand_off,
            heartbeats: self.heartbeats && !self.hand_off,
            force_stop: self.force_stop,
            counters: self.stats.0.clone(),
            hard_cancel: CancellationToken::new(),
        });
        let span = tracing::info_span!(
            "anthropic_environments.worker",
            environment_id = self.queue.environment_id(),
            worker_id = %self.worker_id,
        );
        tracing::info!(
            parent: &span,
            drain = self.drain,
            hand_off = self.hand_off,
            concurrency = self.concurrency,
            credential = ?self.queue.client().credential_kind(),
            "worker starting"
        );

        // Several poll loops share the permits, so that a busy worker is not
        // held to one poll-and-ack round trip at a time. Any of them ending
        // (shutdown, drained queue, fatal error) ends them all.
        let stop_polling = self.shutdown.child_token();
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let loops = (0..self.pollers.clamp(1, self.concurrency))
            .map(|_| self.poll_loop(&shared, &handler, &span, &permits, &stop_polling));
        let mut fatal = None;
        let mut in_flight = Vec::new();
        for (error, set) in futures::future::join_all(loops).await {
            fatal = fatal.or(error);
            in_flight.push(set);
        }
        // Let in-flight handlers finish: all of them when draining, within
        // the grace period on shutdown (none after a second signal); then
        // cancel the rest.
        let grace = if self.shutdown.is_cancelled() || fatal.is_some() {
            self.timing.shutdown_grace
        } else {
            Duration::MAX
        };
        let finished = tokio::select! {
            r = tokio::time::timeout(grace, join_all_sets(&mut in_flight, &shared.counters)) => r.is_ok(),
            _ = force.cancelled() => false,
        };
        if !finished {
            let left: usize = in_flight.iter().map(JoinSet::len).sum();
            tracing::warn!(parent: &span, in_flight = left, "grace period over; cancelling handlers");
            shared.hard_cancel.cancel();
            join_all_sets(&mut in_flight, &shared.counters).await;
        }
        for listener in listeners {
            listener.abort();
        }
        let report = shared.counters.report();
        tracing::info!(parent: &span, ?report, "worker stopped");
        match fatal {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// An ack as the worker sends it: no client retries (the poll loop is
    /// the retry), bounded by the request timeout.
    fn ack(&self, work_id: &str) -> crate::resources::work::AckWork {
        self.queue
            .ack(work_id)
            .max_retries(0)
            .timeout(self.timing.request_timeout)
    }

    async fn sleep_or_stop(stop: &CancellationToken, wait: Duration) -> bool {
        tokio::select! {
            _ = stop.cancelled() => true,
            _ = tokio::time::sleep(wait) => false,
        }
    }

    async fn poll_loop<H, Fut, E>(
        &self,
        shared: &Arc<ItemServer>,
        handler: &Arc<H>,
        span: &tracing::Span,
        permits: &Arc<Semaphore>,
        stop: &CancellationToken,
    ) -> (Option<Error>, JoinSet<()>)
    where
        H: Fn(WorkContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<(), E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        let mut tasks = JoinSet::new();
        let (mut poll_attempt, mut ack_attempt) = (0u32, 0u32);
        let mut idle = IdleLog {
            idle_since: None,
            last_report: Instant::now(),
        };
        let env = self.queue.environment_id().to_owned();
        loop {
            while let Some(result) = tasks.try_join_next() {
                reap(result, &shared.counters);
            }
            let permit = tokio::select! {
                biased;
                _ = stop.cancelled() => return (None, tasks),
                p = permits.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => return (None, tasks),
                },
            };
            let block = Duration::from_millis(self.block_ms.unwrap_or(0));
            let mut poll = self
                .queue
                .poll()
                .worker_id(&self.worker_id)
                .max_retries(0)
                .timeout(block + self.timing.request_timeout);
            if let Some(ms) = self.block_ms {
                poll = poll.block_ms(ms);
            }
            if let Some(ms) = self.reclaim_older_than_ms {
                poll = poll.reclaim_older_than_ms(ms);
            }
            let polled = tokio::select! {
                biased;
                _ = stop.cancelled() => return (None, tasks),
                r = poll.send() => r,
            };
            if polled.is_ok() || matches!(polled, Err(Error::Decode { .. })) {
                shared
                    .counters
                    .consecutive_poll_errors
                    .store(0, std::sync::atomic::Ordering::Relaxed);
            }
            let work = match polled {
                Err(Error::Decode {
                    object_id: Some(id),
                    message,
                    ..
                }) => {
                    // Never wedge on one item the client cannot read: take
                    // it out of the queue.
                    poll_attempt = 0;
                    bump(&shared.counters.undecodable);
                    tracing::error!(parent: span, work_id = %id, error = %message, "a polled item does not decode; acknowledging and force-stopping it");
                    let ack = self.ack(&id);
                    let acked = match ack.send().await {
                        Ok(_) => true,
                        Err(e) => succeeded_undecoded(&e),
                    };
                    if acked && stop_item(&self.queue, &id, &self.timing).await {
                        bump(&shared.counters.stopped);
                    }
                    continue;
                }
                Err(e) if is_fatal(&e) => {
                    bump(&shared.counters.poll_errors);
                    bump(&shared.counters.consecutive_poll_errors);
                    tracing::error!(parent: span, error = %e, "poll failed permanently");
                    stop.cancel();
                    return (Some(e), tasks);
                }
                Err(e) => {
                    bump(&shared.counters.poll_errors);
                    bump(&shared.counters.consecutive_poll_errors);
                    poll_attempt += 1;
                    let wait = self.timing.backoff(poll_attempt);
                    tracing::warn!(parent: span, attempt = poll_attempt, ?wait, error = %e, "poll failed");
                    if Self::sleep_or_stop(stop, wait).await {
                        return (None, tasks);
                    }
                    continue;
                }
                Ok(None) => {
                    poll_attempt = 0;
                    if self.drain {
                        tracing::info!(parent: span, "queue drained");
                        stop.cancel();
                        return (None, tasks);
                    }
                    idle.on_empty_poll(&env);
                    if Self::sleep_or_stop(stop, self.timing.idle()).await {
                        return (None, tasks);
                    }
                    continue;
                }
                Ok(Some(work)) => work,
            };
            poll_attempt = 0;
            idle.on_claim();
            tracing::info!(parent: span, work_id = %work.id, session_id = ?work.session_id(), data_type = ?work.data_type(), "polled work");
            // The lease runs from the ack: start its clock before sending it.
            let lease_started = Instant::now();
            let acked = match self.ack(&work.id).send().await {
                // The ack took effect even when its answer did not decode.
                Err(e) if succeeded_undecoded(&e) => Ok(()),
                other => other.map(drop),
            };
            match acked {
                Err(e) if e.is_conflict() => {
                    bump(&shared.counters.ack_conflicts);
                    tracing::info!(parent: span, work_id = %work.id, "ack conflict: another worker has the item");
                }
                Err(e) if is_fatal(&e) => {
                    tracing::error!(parent: span, work_id = %work.id, error = %e, "ack failed permanently; force-stopping");
                    bump(&shared.counters.ack_rejected);
                    let queue = shared
                        .item_queue(&work)
                        .map_or_else(|| self.queue.clone(), |(_, q)| q);
                    if stop_item(&queue, &work.id, &self.timing).await {
                        bump(&shared.counters.stopped);
                    }
                }
                Err(e) => {
                    ack_attempt += 1;
                    let wait = self.timing.backoff(ack_attempt);
                    tracing::warn!(parent: span, work_id = %work.id, attempt = ack_attempt, ?wait, error = %e, "ack failed");
                    if Self::sleep_or_stop(stop, wait).await {
                        return (None, tasks);
                    }
                }
                Ok(_) => {
                    ack_attempt = 0;
                    let shared = shared.clone();
                    let handler = handler.clone();
                    let item_span =
                        crate::telemetry::work_item_span(&env, &work.id, work.session_id());
                    let recorded = item_span.clone();
                    let in_flight = InFlight::enter(&shared.counters);
                    tasks.spawn(tracing::Instrument::instrument(
                        async move {
                            // The polled item, with the secret it carried (the
                            // ack's answer has none).
                            let outcome = shared.serve(work, lease_started, &*handler).await;
                            outcome.record_on(&recorded);
                            drop(in_flight);
                            drop(permit);
                        },
                        item_span,
                    ));
                }
            }
        }
    }
}

/// Force-stops an item with the worker's own loop of retries.
async fn stop_item(queue: &WorkQueue, work_id: &str, timing: &WorkerTiming) -> bool {
    stop(queue, work_id, true, timing).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_worker_ids_are_unique() {
        let (a, b) = (default_worker_id(), default_worker_id());
        assert_ne!(a, b);
        assert!(a.len() > 13, "{a}");
    }

    #[test]
    fn lease_lost_reasons() {
        assert!(CancelReason::LeaseLost.lease_lost());
        assert!(CancelReason::LeaseAssumedLost.lease_lost());
        assert!(!CancelReason::ServerStopping.lease_lost());
        assert!(!CancelReason::Shutdown.lease_lost());
    }
}
