//! A self-hosted environment worker: poll, ack, heartbeat the lease while a
//! handler runs, stop — for any number of items at once.
//!
//! ```no_run
//! use anthropic_environments::Client;
//! use anthropic_environments::worker::{WorkContext, Worker};
//!
//! # async fn run() -> anthropic_environments::Result<()> {
//! let client = Client::from_env()?;
//! let report = Worker::builder(client.work("env_011CZkZ9X2dpNyB7HsEFoRfW"))
//!     .concurrency(4)
//!     .shutdown_signal(async { let _ = tokio::signal::ctrl_c().await; })
//!     .build()
//!     .run(|ctx: WorkContext| async move {
//!         println!("serving session {}", ctx.work().data.id);
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
//! # What it does
//!
//! - Polls with `block_ms` (default 999) and its worker id; on an empty poll
//!   it sleeps 1-3 s (jittered) before the next; on a poll error it backs
//!   off exponentially (2^n s, capped at 60 s, plus up to 1 s of jitter),
//!   resetting on success. Poll and ack have separate counters. A 4xx that
//!   retrying can't fix (anything but 408, 409, 429) ends the worker with
//!   that error.
//! - Acknowledges every item before its handler runs; an item whose ack
//!   fails for good (a 4xx that retrying can't fix) is force-stopped.
//! - Claims each item's lease (a `NO_HEARTBEAT` heartbeat) before its
//!   handler runs, so that a handler never runs on a lease someone else
//!   holds; then, while the handler runs, heartbeats (echoing the server's
//!   `last_heartbeat`) every `min(ttl / 2, 30 s)`, each bounded by a
//!   timeout. The handler's [`WorkContext::cancelled`] fires when the
//!   server says `stopping`/`stopped` or `lease_extended: false`, when a
//!   heartbeat gets 412 (another worker holds the lease), or when no
//!   heartbeat has succeeded for the lease's TTL (less a safety margin, so
//!   that the handler ends before the server hands the item to someone
//!   else). A handler that ignores its cancellation is dropped after a grace
//!   period.
//! - After the handler returns, errs or panics, stops the item (a 409
//!   "already stopped" is fine) — unless the lease was lost: an item another
//!   worker holds is never stopped.
//! - Modes: run until shut down (default), [`drain`](WorkerBuilder::drain)
//!   (return when the queue is empty), [`hand_off`](WorkerBuilder::hand_off)
//!   (ack and hand each item to the handler, no heartbeat and no stop: for
//!   dispatching items to another process).
//! - Shutdown ([`shutdown_signal`](WorkerBuilder::shutdown_signal) or
//!   [`WorkerBuilder::shutdown_token`]): stops polling, lets in-flight
//!   handlers finish within the grace period, then cancels them and stops
//!   their items.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::WorkStateExt;
use crate::error::{Error, Result};
use crate::metadata::MetadataPatch;
use crate::work::{NO_HEARTBEAT, WorkQueue};
use crate::{Heartbeat, Work};

/// Why a handler was asked to stop.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelReason {
    /// The server says the item is stopping or stopped.
    ServerStopping,
    /// The server did not extend the lease.
    LeaseNotExtended,
    /// A heartbeat got 412: the item was re-queued or another worker holds
    /// it. The worker leaves the item alone.
    LeaseLost,
    /// No heartbeat succeeded for the lease's TTL: the lease must be
    /// assumed lost. The worker leaves the item alone.
    LeaseAssumedLost,
    /// A heartbeat got a 4xx that retrying can't fix.
    HeartbeatRejected,
    /// The worker is shutting down and the grace period is over.
    Shutdown,
}

impl CancelReason {
    /// Whether the lease now belongs to the queue or to another worker.
    pub fn lease_lost(&self) -> bool {
        matches!(
            self,
            CancelReason::LeaseLost | CancelReason::LeaseAssumedLost
        )
    }
}

/// What a handler gets for one claimed (acknowledged) work item.
#[derive(Clone)]
pub struct WorkContext {
    work: Arc<Work>,
    queue: WorkQueue,
    cancel: CancellationToken,
    reason: Arc<Mutex<Option<CancelReason>>>,
}

impl fmt::Debug for WorkContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkContext")
            .field("work_id", &self.work.id)
            .field("cancelled", &self.cancel.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl WorkContext {
    /// The work item, as acknowledged.
    pub fn work(&self) -> &Work {
        &self.work
    }

    /// Completes when the handler should stop (see [`CancelReason`]).
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// Whether the handler should stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Why the handler should stop, once it should.
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A token that is cancelled with the handler, to hand to other tasks.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.child_token()
    }

    /// Sets and deletes metadata keys of the work item.
    pub async fn update_metadata(&self, patch: MetadataPatch) -> Result<Work> {
        self.queue.update(&self.work.id, patch).send().await
    }

    fn end(&self, reason: CancelReason) {
        let mut slot = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(reason);
        }
        drop(slot);
        self.cancel.cancel();
    }
}

/// Counts of what a worker did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Items claimed (polled and acknowledged).
    pub claimed: u64,
    /// Handlers that returned `Ok`.
    pub succeeded: u64,
    /// Handlers that returned an error or panicked.
    pub failed: u64,
    /// Items whose lease was lost (left alone, not stopped).
    pub lease_lost: u64,
    /// Items this worker stopped.
    pub stopped: u64,
    /// Items force-stopped because their ack failed for good.
    pub ack_rejected: u64,
}

#[derive(Default)]
struct Counters {
    claimed: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    lease_lost: AtomicU64,
    stopped: AtomicU64,
    ack_rejected: AtomicU64,
}

impl Counters {
    fn report(&self) -> WorkerReport {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WorkerReport {
            claimed: get(&self.claimed),
            succeeded: get(&self.succeeded),
            failed: get(&self.failed),
            lease_lost: get(&self.lease_lost),
            stopped: get(&self.stopped),
            ack_rejected: get(&self.ack_rejected),
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Timing of the worker's loops. The defaults are the official SDK's.
#[derive(Clone, Debug)]
pub struct WorkerTiming {
    /// Sleep after an empty poll: uniformly in this range.
    pub idle_sleep: (Duration, Duration),
    /// Base of the exponential backoff after poll and ack errors (2 s: the
    /// n-th consecutive error waits `base^n` seconds when base is 2 s).
    pub backoff_base: Duration,
    /// Largest backoff.
    pub backoff_cap: Duration,
    /// Largest random addition to a backoff.
    pub backoff_jitter: Duration,
    /// Largest interval between heartbeats.
    pub heartbeat_interval_cap: Duration,
    /// Smallest interval between heartbeats.
    pub heartbeat_interval_min: Duration,
    /// The lease TTL assumed until the server reports one.
    pub initial_ttl: Duration,
    /// How long a handler may run on after its cancellation before it is
    /// dropped.
    pub cancel_grace: Duration,
    /// How long in-flight handlers may finish after a shutdown signal.
    pub shutdown_grace: Duration,
}

impl Default for WorkerTiming {
    fn default() -> Self {
        WorkerTiming {
            idle_sleep: (Duration::from_secs(1), Duration::from_secs(3)),
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(60),
            backoff_jitter: Duration::from_secs(1),
            heartbeat_interval_cap: Duration::from_secs(30),
            heartbeat_interval_min: Duration::from_secs(1),
            initial_ttl: Duration::from_secs(90),
            cancel_grace: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl WorkerTiming {
    /// `min(cap, base^attempt)` (with `base` in seconds, as the official
    /// SDK computes it) plus jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.backoff_base.as_secs_f64();
        let exp = if base >= 1.0 {
            base.powi(attempt.min(64) as i32)
        } else {
            base * 2f64.powi(attempt.saturating_sub(1).min(64) as i32)
        };
        let wait = exp.min(self.backoff_cap.as_secs_f64());
        Duration::from_secs_f64(wait) + self.backoff_jitter.mul_f64(fastrand::f64())
    }

    fn idle(&self) -> Duration {
        let (lo, hi) = self.idle_sleep;
        lo + hi.saturating_sub(lo).mul_f64(fastrand::f64())
    }
}

type ShutdownFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Configures a [`Worker`].
#[must_use]
pub struct WorkerBuilder {
    queue: WorkQueue,
    worker_id: Option<String>,
    concurrency: usize,
    pollers: Option<usize>,
    block_ms: u64,
    reclaim_older_than_ms: Option<u64>,
    desired_ttl_seconds: Option<u64>,
    heartbeat_timeout: Option<Duration>,
    drain: bool,
    hand_off: bool,
    heartbeats: bool,
    force_stop: bool,
    timing: WorkerTiming,
    shutdown: CancellationToken,
    shutdown_signal: Option<ShutdownFuture>,
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
        self.block_ms = ms;
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

    /// Bound of each heartbeat request (default: the heartbeat interval).
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

    /// Hand each acknowledged item to the handler and do nothing more: no
    /// heartbeat, no stop. For dispatching items to another process, which
    /// then owns the lease and the stop.
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

    /// Shut down when this future completes (e.g. Ctrl-C).
    pub fn shutdown_signal(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.shutdown_signal = Some(Box::pin(signal));
        self
    }

    /// A token whose cancellation shuts the worker down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
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
            timing: self.timing,
            shutdown: self.shutdown,
            shutdown_signal: Mutex::new(self.shutdown_signal),
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
    block_ms: u64,
    reclaim_older_than_ms: Option<u64>,
    desired_ttl_seconds: Option<u64>,
    heartbeat_timeout: Option<Duration>,
    drain: bool,
    hand_off: bool,
    heartbeats: bool,
    force_stop: bool,
    timing: WorkerTiming,
    shutdown: CancellationToken,
    /// In a mutex so that `&Worker` is `Send` (the future is not `Sync`).
    shutdown_signal: Mutex<Option<ShutdownFuture>>,
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

/// A 4xx that retrying can't fix.
fn is_fatal(e: &Error) -> bool {
    match e {
        Error::Api(api) => {
            api.status.is_client_error() && !crate::retry::status_is_retryable(api.status)
        }
        Error::InvalidInput { .. } | Error::Config(_) => true,
        _ => false,
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

type BoxError = Box<dyn StdError + Send + Sync>;

impl Worker {
    /// A builder for a worker of `queue`.
    pub fn builder(queue: WorkQueue) -> WorkerBuilder {
        WorkerBuilder {
            queue,
            worker_id: None,
            concurrency: 1,
            pollers: None,
            block_ms: 999,
            reclaim_older_than_ms: None,
            desired_ttl_seconds: None,
            heartbeat_timeout: None,
            drain: false,
            hand_off: false,
            heartbeats: true,
            force_stop: true,
            timing: WorkerTiming::default(),
            shutdown: CancellationToken::new(),
            shutdown_signal: None,
        }
    }

    /// This worker's id.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Runs until shut down (or, draining, until the queue is empty), calling
    /// `handler` once per claimed item. Ends with an error only for a poll
    /// error that retrying can't fix; handler errors are reported (tracing,
    /// and the counts of the [`WorkerReport`]) and do not end the worker.
    pub async fn run<H, Fut, E>(self, handler: H) -> Result<WorkerReport>
    where
        H: Fn(WorkContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        let signal = self
            .shutdown_signal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(signal) = signal {
            let token = self.shutdown.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = signal => token.cancel(),
                    _ = token.cancelled() => {}
                }
            });
        }
        let handler = Arc::new(handler);
        let shared = Arc::new(Shared {
            queue: self.queue.clone(),
            timing: self.timing.clone(),
            desired_ttl_seconds: self.desired_ttl_seconds,
            heartbeat_timeout: self.heartbeat_timeout,
            hand_off: self.hand_off,
            heartbeats: self.heartbeats && !self.hand_off,
            force_stop: self.force_stop,
            counters: Counters::default(),
            hard_cancel: CancellationToken::new(),
        });
        let span = tracing::info_span!(
            "anthropic_environments.worker",
            environment_id = self.queue.environment_id(),
            worker_id = %self.worker_id,
        );
        let _enter = span.enter();
        tracing::info!(
            drain = self.drain,
            hand_off = self.hand_off,
            concurrency = self.concurrency,
            "worker starting"
        );
        drop(_enter);

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
        // the grace period on shutdown; then cancel the rest.
        let grace = if self.shutdown.is_cancelled() || fatal.is_some() {
            self.timing.shutdown_grace
        } else {
            Duration::MAX
        };
        let finished = tokio::time::timeout(grace, join_all_sets(&mut in_flight)).await;
        if finished.is_err() {
            let left: usize = in_flight.iter().map(JoinSet::len).sum();
            tracing::warn!(parent: &span, in_flight = left, "grace period over; cancelling handlers");
            shared.hard_cancel.cancel();
            join_all_sets(&mut in_flight).await;
        }
        let report = shared.counters.report();
        tracing::info!(parent: &span, ?report, "worker stopped");
        match fatal {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    async fn sleep_or_stop(stop: &CancellationToken, wait: Duration) -> bool {
        tokio::select! {
            _ = stop.cancelled() => true,
            _ = tokio::time::sleep(wait) => false,
        }
    }

    async fn poll_loop<H, Fut, E>(
        &self,
        shared: &Arc<Shared>,
        handler: &Arc<H>,
        span: &tracing::Span,
        permits: &Arc<Semaphore>,
        stop: &CancellationToken,
    ) -> (Option<Error>, JoinSet<()>)
    where
        H: Fn(WorkContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
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
            while tasks.try_join_next().is_some() {}
            let permit = tokio::select! {
                biased;
                _ = stop.cancelled() => return (None, tasks),
                p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            };
            let mut poll = self
                .queue
                .poll()
                .block_ms(self.block_ms)
                .worker_id(&self.worker_id);
            if let Some(ms) = self.reclaim_older_than_ms {
                poll = poll.reclaim_older_than_ms(ms);
            }
            let polled = tokio::select! {
                biased;
                _ = stop.cancelled() => return (None, tasks),
                r = poll.send() => r,
            };
            let work = match polled {
                Err(e) if is_fatal(&e) => {
                    tracing::error!(parent: span, error = %e, "poll failed permanently");
                    stop.cancel();
                    return (Some(e), tasks);
                }
                Err(e) => {
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
            tracing::info!(parent: span, work_id = %work.id, session_id = %work.data.id, "claimed work");
            match self.queue.ack(&work.id).send().await {
                Err(e) if is_fatal(&e) => {
                    tracing::error!(parent: span, work_id = %work.id, error = %e, "ack failed permanently; force-stopping");
                    bump(&shared.counters.ack_rejected);
                    shared.stop_quietly(&work.id, true).await;
                }
                Err(e) => {
                    ack_attempt += 1;
                    let wait = self.timing.backoff(ack_attempt);
                    tracing::warn!(parent: span, work_id = %work.id, attempt = ack_attempt, ?wait, error = %e, "ack failed");
                    if Self::sleep_or_stop(stop, wait).await {
                        return (None, tasks);
                    }
                }
                Ok(acked) => {
                    ack_attempt = 0;
                    bump(&shared.counters.claimed);
                    let shared = shared.clone();
                    let handler = handler.clone();
                    let item_span =
                        tracing::info_span!(parent: span, "work_item", work_id = %acked.id);
                    tasks.spawn(tracing::Instrument::instrument(
                        async move {
                            shared.serve(acked, handler).await;
                            drop(permit);
                        },
                        item_span,
                    ));
                }
            }
        }
    }
}

/// This worker's view of one lease.
struct LeaseClock {
    /// The `last_heartbeat` to expect next.
    last: String,
    ttl: Duration,
    interval: Duration,
    /// When the last successful heartbeat was sent.
    last_success: Instant,
}

impl LeaseClock {
    /// When to give the lease up: a margin (a fifth of the TTL, at most 5 s)
    /// before it runs out since the last successful heartbeat.
    fn deadline(&self) -> Instant {
        let margin = (self.ttl / 5).min(Duration::from_secs(5));
        self.last_success + self.ttl.saturating_sub(margin)
    }

    /// Wait before retrying a failed heartbeat: a quarter of the interval,
    /// at most an eighth of the TTL, at least 50 ms.
    fn retry_delay(&self) -> Duration {
        (self.interval / 4)
            .min(self.ttl / 8)
            .max(Duration::from_millis(50))
    }
}

/// The outcome of one heartbeat.
enum Beat {
    Extended,
    Failed,
    Ended,
}

/// Waits for every task of every set.
async fn join_all_sets(sets: &mut [JoinSet<()>]) {
    for set in sets {
        while set.join_next().await.is_some() {}
    }
}

/// What every item task shares.
struct Shared {
    queue: WorkQueue,
    timing: WorkerTiming,
    desired_ttl_seconds: Option<u64>,
    heartbeat_timeout: Option<Duration>,
    hand_off: bool,
    heartbeats: bool,
    force_stop: bool,
    counters: Counters,
    /// Cancels every handler: the shutdown grace period is over.
    hard_cancel: CancellationToken,
}

impl Shared {
    /// Serves one acknowledged item: heartbeat, handler, stop.
    async fn serve<H, Fut, E>(&self, work: Work, handler: Arc<H>)
    where
        H: Fn(WorkContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        let ctx = WorkContext {
            work: Arc::new(work),
            queue: self.queue.clone(),
            cancel: CancellationToken::new(),
            reason: Arc::default(),
        };
        let work_id = ctx.work.id.clone();
        let handler_done = CancellationToken::new();
        // Claim the lease (the first heartbeat) before the handler runs: an
        // item whose lease can't be claimed is someone else's.
        let mut lease = None;
        if self.heartbeats {
            match self.claim(&ctx).await {
                Some(clock) => lease = Some(clock),
                None => {
                    bump(&self.counters.lease_lost);
                    tracing::warn!(work_id = %work_id, reason = ?ctx.cancel_reason(), "could not claim the lease; leaving the item alone");
                    return;
                }
            }
        }
        let heartbeats = async {
            if let Some(clock) = lease {
                self.keep(&ctx, clock, &handler_done).await;
            }
        };
        let run = async {
            let fut = AssertUnwindSafe(handler(ctx.clone())).catch_unwind();
            tokio::pin!(fut);
            let result = tokio::select! {
                r = &mut fut => Some(r),
                _ = async {
                    tokio::select! {
                        _ = ctx.cancelled() => {}
                        _ = self.hard_cancel.cancelled() => ctx.end(CancelReason::Shutdown),
                    }
                    // Cancelled: the handler has a grace period to return.
                    tokio::time::sleep(self.timing.cancel_grace).await;
                } => None,
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
        self.record(&work_id, result);
        if self.hand_off {
            return;
        }
        if ctx.cancel_reason().is_some_and(|r| r.lease_lost()) {
            bump(&self.counters.lease_lost);
            tracing::warn!(work_id = %work_id, reason = ?ctx.cancel_reason(), "lease lost; leaving the item alone");
            return;
        }
        if self.stop_quietly(&work_id, self.force_stop).await {
            bump(&self.counters.stopped);
        }
    }

    /// Counts and reports how the handler ended.
    fn record<E: Into<BoxError>>(
        &self,
        work_id: &str,
        result: Option<std::thread::Result<std::result::Result<(), E>>>,
    ) {
        match result {
            Some(Ok(Ok(()))) => bump(&self.counters.succeeded),
            Some(Ok(Err(e))) => {
                bump(&self.counters.failed);
                let e: BoxError = e.into();
                tracing::error!(work_id, error = %e, "handler failed");
            }
            Some(Err(panic)) => {
                bump(&self.counters.failed);
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                tracing::error!(work_id, panic = %msg, "handler panicked");
            }
            None => {
                bump(&self.counters.failed);
                tracing::error!(work_id, "handler ignored its cancellation; dropped");
            }
        }
    }

    /// Stops an item, retrying transient failures a few times; a 409
    /// (already stopped) counts as stopped. Returns whether it is stopped.
    async fn stop_quietly(&self, work_id: &str, force: bool) -> bool {
        for attempt in 1..=5u32 {
            match self.queue.stop(work_id).force(force).send().await {
                Ok(_) => return true,
                Err(e) if e.is_conflict() => return true,
                Err(e) if is_fatal(&e) => {
                    tracing::warn!(work_id, error = %e, "stop failed");
                    return false;
                }
                Err(e) => {
                    let wait = self.timing.backoff(attempt).min(Duration::from_secs(10));
                    tracing::warn!(work_id, attempt, error = %e, "stop failed; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
        tracing::error!(work_id, "could not stop the item");
        false
    }

    /// Sends one heartbeat, bounded by a timeout, and applies its answer.
    async fn beat(&self, ctx: &WorkContext, lease: &mut LeaseClock) -> Beat {
        let sent = Instant::now();
        let mut request = self
            .queue
            .heartbeat(&ctx.work.id)
            .expected_last_heartbeat(&lease.last)
            .max_retries(0);
        if let Some(ttl) = self.desired_ttl_seconds {
            request = request.desired_ttl_seconds(ttl);
        }
        let bound = self.heartbeat_timeout.unwrap_or(lease.interval);
        match tokio::time::timeout(bound, request.send()).await {
            Ok(Ok(beat)) => {
                lease.last_success = sent;
                if let Some(end) = self.after_beat(&beat, lease) {
                    tracing::info!(work_id = %ctx.work.id, state = %beat.state, lease_extended = beat.lease_extended, "heartbeat signals shutdown");
                    ctx.end(end);
                    return Beat::Ended;
                }
                lease.last = beat.last_heartbeat;
                Beat::Extended
            }
            Ok(Err(e)) if e.is_lease_held_elsewhere() => {
                let state = e.api().and_then(|a| a.lease_state()).cloned();
                tracing::error!(work_id = %ctx.work.id, server_state = ?state, "lease lost: heartbeat precondition failed");
                ctx.end(CancelReason::LeaseLost);
                Beat::Ended
            }
            Ok(Err(e)) if is_fatal(&e) => {
                tracing::error!(work_id = %ctx.work.id, error = %e, "heartbeat rejected");
                ctx.end(CancelReason::HeartbeatRejected);
                Beat::Ended
            }
            Ok(Err(e)) => {
                tracing::warn!(work_id = %ctx.work.id, error = %e, "transient heartbeat failure");
                Beat::Failed
            }
            Err(_) => {
                tracing::warn!(work_id = %ctx.work.id, ?bound, "heartbeat timed out");
                Beat::Failed
            }
        }
    }

    /// Claims the lease of an acknowledged item (`NO_HEARTBEAT`), retrying
    /// transient failures until the lease must be assumed lost. `None` when
    /// the lease ended (the context says why).
    async fn claim(&self, ctx: &WorkContext) -> Option<LeaseClock> {
        let t = &self.timing;
        let mut lease = LeaseClock {
            last: NO_HEARTBEAT.to_owned(),
            ttl: t.initial_ttl,
            interval: t.heartbeat_interval_cap,
            // The lease runs from the ack; count from now, conservatively.
            last_success: Instant::now(),
        };
        loop {
            match self.beat(ctx, &mut lease).await {
                Beat::Extended => return Some(lease),
                Beat::Ended => return None,
                Beat::Failed => {
                    let wake = (Instant::now() + lease.retry_delay()).min(lease.deadline());
                    tokio::time::sleep_until(wake.into()).await;
                    if Instant::now() >= lease.deadline() {
                        ctx.end(CancelReason::LeaseAssumedLost);
                        return None;
                    }
                }
            }
        }
    }

    /// Keeps the lease while the handler runs; ends the handler's context
    /// when the lease ends.
    async fn keep(
        &self,
        ctx: &WorkContext,
        mut lease: LeaseClock,
        handler_done: &CancellationToken,
    ) {
        let mut ok = true;
        loop {
            // End the handler before the server can hand the item to someone
            // else: a margin before the TTL runs out since the last beat.
            let deadline = lease.deadline();
            let next = if ok {
                lease.interval
            } else {
                lease.retry_delay()
            };
            let wake = (Instant::now() + next).min(deadline);
            tokio::select! {
                _ = handler_done.cancelled() => return,
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
            if Instant::now() >= deadline {
                tracing::error!(work_id = %ctx.work.id, ttl_secs = lease.ttl.as_secs_f64(), "lease assumed lost: no heartbeat succeeded in time");
                ctx.end(CancelReason::LeaseAssumedLost);
                return;
            }
            let beat = tokio::select! {
                _ = handler_done.cancelled() => return,
                b = self.beat(ctx, &mut lease) => b,
            };
            match beat {
                Beat::Ended => return,
                Beat::Extended => ok = true,
                Beat::Failed => ok = false,
            }
        }
    }

    /// Applies a successful heartbeat; `Some(reason)` when the lease ends.
    fn after_beat(&self, beat: &Heartbeat, lease: &mut LeaseClock) -> Option<CancelReason> {
        if beat.ttl_seconds > 0 {
            lease.ttl = Duration::from_secs(beat.ttl_seconds as u64);
            lease.interval = (lease.ttl / 2)
                .min(self.timing.heartbeat_interval_cap)
                .max(self.timing.heartbeat_interval_min);
        }
        if beat.state.is_stopping_or_stopped() {
            Some(CancelReason::ServerStopping)
        } else if !beat.lease_extended {
            Some(CancelReason::LeaseNotExtended)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_matches_the_official_sdk() {
        let t = WorkerTiming {
            backoff_jitter: Duration::ZERO,
            ..WorkerTiming::default()
        };
        assert_eq!(t.backoff(1), Duration::from_secs(2));
        assert_eq!(t.backoff(3), Duration::from_secs(8));
        assert_eq!(t.backoff(10), Duration::from_secs(60));
        let fast = WorkerTiming {
            backoff_base: Duration::from_millis(10),
            backoff_cap: Duration::from_millis(100),
            backoff_jitter: Duration::ZERO,
            ..WorkerTiming::default()
        };
        assert_eq!(fast.backoff(1), Duration::from_millis(10));
        assert_eq!(fast.backoff(2), Duration::from_millis(20));
        assert_eq!(fast.backoff(9), Duration::from_millis(100));
    }

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
