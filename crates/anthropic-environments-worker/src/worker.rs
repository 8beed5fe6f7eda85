//! The polling worker: its builder, its poll loops and its shutdown.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use anthropic_environments::WorkQueue;
use anthropic_environments::ext::WorkDataExt;
use anthropic_environments::{Error, Result};

use crate::config::{ConfigError, ServeMode, WorkerConfig};
use crate::context::WorkContext;
use crate::item::{BoxError, ItemServer, Observer, is_fatal, panic_message, succeeded_undecoded};
use crate::outcome::{ItemOutcome, ItemReport, StopResult};
use crate::report::{Counters, InFlight, WorkerReport, WorkerStats, bump};
use crate::signals;
use crate::timing::WorkerTiming;

type ShutdownFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Configures a [`Worker`]: fills its [`WorkerConfig`], which
/// [`build`](Self::build) checks.
#[must_use]
pub struct WorkerBuilder {
    queue: WorkQueue,
    config: WorkerConfig,
    shutdown: Shutdown,
    stats: WorkerStats,
    observer: Option<Observer>,
}

/// What shuts a worker down: any of them.
#[derive(Default)]
struct Shutdown {
    token: CancellationToken,
    futures: Vec<ShutdownFuture>,
    on_os_signals: bool,
}

impl fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("environment_id", &self.queue.environment_id())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WorkerBuilder {
    /// This worker's id (`Anthropic-Worker-ID`); default: the host name and
    /// a random suffix.
    pub fn worker_id(mut self, id: impl Into<String>) -> Self {
        self.config.worker_id = id.into();
        self
    }

    /// How many items may be in flight at once (default 1; 0 is refused by
    /// [`build`](Self::build)).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.config.concurrency = n;
        self
    }

    /// How many poll loops share the concurrency (default: `concurrency`,
    /// at most 4; at most `concurrency`). One loop polls and acks one item
    /// at a time; more keep a busy worker from waiting on those round
    /// trips.
    pub fn pollers(mut self, n: usize) -> Self {
        self.config.pollers = Some(n);
        self
    }

    /// How long each poll waits for work, 1-999 ms (default 999).
    pub fn block_ms(mut self, ms: u64) -> Self {
        self.config.block_ms = Some(ms);
        self
    }

    /// Polls without `block_ms`: the server answers at once. With
    /// [`drain`](Self::drain), for emptying a queue quickly (e.g. when a
    /// webhook says work arrived).
    pub fn non_blocking(mut self) -> Self {
        self.config.block_ms = None;
        self
    }

    /// Reclaim items polled but not acknowledged for this long.
    pub fn reclaim_older_than_ms(mut self, ms: u64) -> Self {
        self.config.reclaim_older_than_ms = Some(ms);
        self
    }

    /// The lease TTL to ask for in heartbeats (default: the server's).
    pub fn desired_ttl_seconds(mut self, seconds: u64) -> Self {
        self.config.item.desired_ttl_seconds = Some(seconds);
        self
    }

    /// Bound of each heartbeat request (default: the heartbeat interval);
    /// never past the lease's deadline.
    pub fn heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.config.item.heartbeat_timeout = Some(timeout);
        self
    }

    /// Polls only when there may be work: once a poll finds the queue
    /// empty, the poll loops wait for `wakeup` ([`Wakeup::wake`](crate::Wakeup::wake)) instead
    /// of polling again, then poll until the queue is empty again. With
    /// [`non_blocking`](Self::non_blocking) and
    /// [`reclaim_older_than_ms`](Self::reclaim_older_than_ms), the
    /// webhook-triggered worker the platform's docs describe.
    pub fn poll_on_wakeup(mut self, wakeup: crate::Wakeup) -> Self {
        self.config.wakeup = Some(wakeup);
        self
    }

    /// Return once a poll finds the queue empty (and in-flight items are
    /// done) instead of polling forever.
    pub fn drain(mut self, drain: bool) -> Self {
        self.config.drain = drain;
        self
    }

    /// How each claimed session item is served (default
    /// [`ServeMode::Leased`]).
    pub fn mode(mut self, mode: ServeMode) -> Self {
        self.config.mode = mode;
        self
    }

    /// Stop finished items with `force` (default true: the handler is done,
    /// there is nothing left to shut down gracefully).
    pub fn force_stop(mut self, force: bool) -> Self {
        self.config.item.force_stop = force;
        self
    }

    /// Timing of the loops, the lease and the shutdown (defaults: the
    /// official SDK's, plus a 10 s stop phase).
    pub fn timing(mut self, timing: WorkerTiming) -> Self {
        self.config.item.timing = timing;
        self
    }

    /// Shut down when this future completes (e.g. a custom signal). Each
    /// call adds one: the first to complete shuts the worker down.
    pub fn shutdown_signal(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.shutdown.futures.push(Box::pin(signal));
        self
    }

    /// Shut down when `token` is cancelled: your application's own token.
    /// Adds up with the other shutdown sources.
    pub fn shutdown_on(self, token: CancellationToken) -> Self {
        self.shutdown_signal(token.cancelled_owned())
    }

    /// Shut down on SIGINT or SIGTERM (Ctrl-C elsewhere than Unix). A second
    /// signal ends the shutdown at once: no more grace for handlers, and
    /// stops still in flight are given up (their items' leases run out and
    /// the queue serves them again).
    pub fn shutdown_on_signal(mut self) -> Self {
        self.shutdown.on_os_signals = true;
        self
    }

    /// The worker's own shutdown token: cancel it to shut the worker down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.token.clone()
    }

    /// Calls `observe` as each item ends, with its outcome, whether it was
    /// stopped, and how long it took (for metrics, audits, alerts). Keep it
    /// quick: it runs on the item's task.
    pub fn on_item_end(mut self, observe: impl Fn(&ItemReport) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observe));
        self
    }

    /// A live view of the worker's counts, readable while it runs (for
    /// health checks and metrics).
    pub fn stats(&self) -> WorkerStats {
        self.stats.clone()
    }

    /// The configuration as filled so far.
    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// Checks the configuration and builds the worker.
    ///
    /// ```
    /// # use anthropic_environments::Client;
    /// # use anthropic_environments_worker::{ConfigError, Worker};
    /// # fn f(client: Client) {
    /// let refused = Worker::builder(client.work("env_...")).block_ms(1000).build();
    /// assert_eq!(refused.unwrap_err(), ConfigError::BlockMs(1000));
    /// # }
    /// ```
    pub fn build(self) -> std::result::Result<Worker, ConfigError> {
        self.config.validate()?;
        Ok(Worker {
            queue: self.queue,
            config: self.config,
            shutdown: Mutex::new(self.shutdown),
            stats: self.stats,
            observer: self.observer,
        })
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

/// A worker for one environment's queue; see the [crate docs](crate).
pub struct Worker {
    queue: WorkQueue,
    config: WorkerConfig,
    /// In a mutex so that `&Worker` is `Send` (the futures are not `Sync`).
    shutdown: Mutex<Shutdown>,
    stats: WorkerStats,
    observer: Option<Observer>,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("environment_id", &self.queue.environment_id())
            .field("config", &self.config)
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
            config: WorkerConfig::new(default_worker_id()),
            shutdown: Shutdown::default(),
            stats: WorkerStats::default(),
            observer: None,
        }
    }

    /// This worker's id.
    pub fn worker_id(&self) -> &str {
        &self.config.worker_id
    }

    /// The worker's configuration.
    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// A live view of the worker's counts, readable while it runs.
    pub fn stats(&self) -> WorkerStats {
        self.stats.clone()
    }

    fn timing(&self) -> &WorkerTiming {
        &self.config.item.timing
    }

    /// Runs until shut down (or, draining, until the queue is empty), calling
    /// `handler` once per claimed session item. Ends with an error only for a
    /// poll error that retrying can't fix; handler errors are reported
    /// (tracing, the counts of the [`WorkerReport`], and
    /// [`on_item_end`](WorkerBuilder::on_item_end)) and do not end the
    /// worker.
    ///
    /// A shutdown stops polling, lets in-flight handlers finish within
    /// [`WorkerTiming::shutdown_grace`], then cancels them: each gets its
    /// [`cancel_grace`](WorkerTiming::cancel_grace), and the whole stop
    /// phase ends [`stop_timeout`](WorkerTiming::stop_timeout) after that.
    /// Items still unstopped then are logged by id, counted
    /// ([`WorkerReport::unstopped`]) and left to their leases. So `run`
    /// returns within `shutdown_grace + cancel_grace + stop_timeout` of the
    /// shutdown, and at once after a second signal.
    pub async fn run<H, Fut, E>(self, handler: H) -> Result<WorkerReport>
    where
        H: Fn(WorkContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<(), E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        let Shutdown {
            token: shutdown,
            futures,
            on_os_signals,
        } = std::mem::take(&mut *self.shutdown.lock().unwrap_or_else(|p| p.into_inner()));
        // Cancelled by a second OS signal: end the shutdown at once.
        let force = CancellationToken::new();
        let mut listeners = Vec::new();
        if !futures.is_empty() {
            let token = shutdown.clone();
            listeners.push(tokio::spawn(async move {
                tokio::select! {
                    _ = futures::future::select_all(futures) => token.cancel(),
                    _ = token.cancelled() => {}
                }
            }));
        }
        if on_os_signals {
            listeners.extend(signals::listen(shutdown.clone(), force.clone()));
        }
        let handler = Arc::new(handler);
        let shared = Arc::new(ItemServer {
            worker_queue: self.queue.clone(),
            fallback: true,
            config: self.config.item.clone(),
            mode: self.config.mode,
            counters: self.stats.0.clone(),
            shutdown_requested: shutdown.clone(),
            hard_cancel: CancellationToken::new(),
            abandon: CancellationToken::new(),
            observer: self.observer.clone(),
        });
        let span = tracing::info_span!(
            "anthropic_environments.worker",
            environment_id = self.queue.environment_id(),
            worker_id = %self.config.worker_id,
        );
        tracing::info!(
            parent: &span,
            drain = self.config.drain,
            mode = ?self.config.mode,
            concurrency = self.config.concurrency,
            credential = ?self.queue.client().credential_kind(),
            "worker starting"
        );
        // The shutdown's timeline runs from the signal, whatever the loops
        // are doing: the grace, then the handlers' cancellation, then the
        // stop phase's end (at once on a second signal).
        let timeline = tokio::spawn(shutdown_timeline(
            shutdown.clone(),
            force,
            shared.clone(),
            span.clone(),
        ));

        // Several poll loops share the permits, so that a busy worker is not
        // held to one poll-and-ack round trip at a time. Any of them ending
        // (shutdown, drained queue, fatal error) ends them all.
        let stop_polling = shutdown.child_token();
        let permits = Arc::new(Semaphore::new(self.config.concurrency));
        let loops = (0..self.config.poll_loops())
            .map(|_| self.poll_loop(&shared, &handler, &span, &permits, &stop_polling));
        let mut fatal = None;
        let mut in_flight = Vec::new();
        for (error, set) in futures::future::join_all(loops).await {
            fatal = fatal.or(error);
            in_flight.push(set);
        }
        if fatal.is_some() {
            // A worker that cannot poll shuts down like a signalled one.
            shutdown.cancel();
        }
        // In-flight items finish (all of them when draining); a shutdown's
        // timeline bounds them.
        join_all_sets(&mut in_flight, &shared.counters).await;
        timeline.abort();
        for listener in listeners {
            listener.abort();
        }
        let report = shared.counters.report();
        // Each count a field of its own (plain numbers in JSON logs).
        tracing::info!(
            parent: &span,
            claimed = report.claimed,
            succeeded = report.succeeded,
            failed = report.failed,
            lease_lost = report.lease_lost,
            not_claimed = report.not_claimed,
            stopped = report.stopped,
            unstopped = report.unstopped,
            ack_rejected = report.ack_rejected,
            ack_conflicts = report.ack_conflicts,
            non_session = report.non_session,
            undecodable = report.undecodable,
            no_credential = report.no_credential,
            poll_errors = report.poll_errors,
            "worker stopped"
        );
        match fatal {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// An ack as the worker sends it: no client retries (the poll loop is
    /// the retry), bounded by the request timeout.
    fn ack(&self, work_id: &str) -> anthropic_environments::AckWork {
        self.queue
            .ack(work_id)
            .max_retries(0)
            .timeout(self.timing().request_timeout)
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
        let mut wakeups = self.config.wakeup.as_ref().map(crate::Wakeup::subscribe);
        loop {
            // The wake-ups seen so far: one that comes during this poll is
            // new when the queue looks empty.
            if let Some(w) = wakeups.as_mut() {
                w.borrow_and_update();
            }
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
            let block = Duration::from_millis(self.config.block_ms.unwrap_or(0));
            let mut poll = self
                .queue
                .poll()
                .worker_id(&self.config.worker_id)
                .max_retries(0)
                .timeout(block + self.timing().request_timeout);
            if let Some(ms) = self.config.block_ms {
                poll = poll.block_ms(ms);
            }
            if let Some(ms) = self.config.reclaim_older_than_ms {
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
                    let acked = tokio::select! {
                        r = self.ack(&id).send() => match r {
                            Ok(_) => true,
                            Err(e) => succeeded_undecoded(&e),
                        },
                        _ = shared.hard_cancel.cancelled() => return (None, tasks),
                    };
                    if acked {
                        spawn_stop(
                            &mut tasks,
                            shared,
                            self.queue.clone(),
                            id,
                            ItemOutcome::Undecodable,
                        );
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
                    let wait = self.timing().backoff(poll_attempt);
                    tracing::warn!(parent: span, attempt = poll_attempt, ?wait, error = %e, "poll failed");
                    if Self::sleep_or_stop(stop, wait).await {
                        return (None, tasks);
                    }
                    continue;
                }
                Ok(None) => {
                    poll_attempt = 0;
                    if self.config.drain {
                        tracing::info!(parent: span, "queue drained");
                        stop.cancel();
                        return (None, tasks);
                    }
                    if let Some(w) = wakeups.as_mut() {
                        tracing::debug!(parent: span, "queue empty; waiting to be woken");
                        tokio::select! {
                            _ = stop.cancelled() => return (None, tasks),
                            changed = w.changed() => if changed.is_err() {
                                return (None, tasks);
                            },
                        }
                        continue;
                    }
                    idle.on_empty_poll(&env);
                    if Self::sleep_or_stop(stop, self.timing().idle()).await {
                        return (None, tasks);
                    }
                    continue;
                }
                Ok(Some(work)) => work,
            };
            poll_attempt = 0;
            idle.on_claim();
            tracing::info!(parent: span, work_id = %work.id, session_id = work.session_id(), data_type = work.data_type(), "polled work");
            // The lease runs from the ack: start its clock before sending it.
            let lease_started = Instant::now();
            // An ack still unanswered when the grace is over is given up:
            // the item stays `starting` until the server reclaims it.
            let acked = tokio::select! {
                r = self.ack(&work.id).send() => match r {
                    // The ack took effect even when its answer did not decode.
                    Err(e) if succeeded_undecoded(&e) => Ok(()),
                    other => other.map(drop),
                },
                _ = shared.hard_cancel.cancelled() => {
                    tracing::warn!(parent: span, work_id = %work.id, "grace period over while acknowledging; the item is left to the server");
                    return (None, tasks);
                }
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
                    spawn_stop(&mut tasks, shared, queue, work.id, ItemOutcome::AckRejected);
                }
                Err(e) => {
                    ack_attempt += 1;
                    let wait = self.timing().backoff(ack_attempt);
                    tracing::warn!(parent: span, work_id = %work.id, attempt = ack_attempt, ?wait, error = %e, "ack failed");
                    if Self::sleep_or_stop(stop, wait).await {
                        return (None, tasks);
                    }
                }
                Ok(_) => {
                    ack_attempt = 0;
                    let shared = shared.clone();
                    let handler = handler.clone();
                    let item_span = crate::span::work_item_span(&env, &work.id, work.session_id());
                    let recorded = item_span.clone();
                    let in_flight = InFlight::enter(&shared.counters);
                    tasks.spawn(tracing::Instrument::instrument(
                        async move {
                            // The polled item, with the secret it carried (the
                            // ack's answer has none).
                            let report = shared.serve(work, lease_started, None, &*handler).await;
                            report.outcome.record_on(&recorded);
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

/// The shutdown, from its signal: in-flight handlers get the grace period,
/// then they are cancelled (each gets its cancel grace), and the stop phase
/// ends `cancel_grace + stop_timeout` after that: every stop, claim and
/// handler still going is given up. A second signal skips to the end.
async fn shutdown_timeline(
    shutdown: CancellationToken,
    force: CancellationToken,
    shared: Arc<ItemServer>,
    span: tracing::Span,
) {
    shutdown.cancelled().await;
    let timing = &shared.config.timing;
    tokio::select! {
        _ = tokio::time::sleep(timing.shutdown_grace) => {
            let in_flight = shared.counters.report().in_flight;
            tracing::warn!(parent: &span, in_flight, "grace period over; cancelling handlers");
        }
        _ = force.cancelled() => {}
    }
    shared.hard_cancel.cancel();
    tokio::select! {
        _ = tokio::time::sleep(timing.cancel_grace.saturating_add(timing.stop_timeout)) => {
            tracing::warn!(parent: &span, "stop phase over; giving up the stops left");
        }
        _ = force.cancelled() => {}
    }
    shared.abandon.cancel();
}

/// Force-stops an item the worker will not serve (it does not decode, or
/// its ack failed for good) on a task of the poll loop's set, so that a
/// shutdown bounds it like the items being served; its end is observed
/// like theirs.
fn spawn_stop(
    tasks: &mut JoinSet<()>,
    shared: &Arc<ItemServer>,
    queue: WorkQueue,
    work_id: String,
    outcome: ItemOutcome,
) {
    let shared = shared.clone();
    let started = Instant::now();
    tasks.spawn(async move {
        let stop = shared.stop(&queue, &work_id, true).await;
        match stop {
            StopResult::Stopped => bump(&shared.counters.stopped),
            StopResult::NotAttempted => {}
            StopResult::Failed | StopResult::Abandoned => bump(&shared.counters.unstopped),
        }
        shared.observe(&ItemReport {
            work_id,
            session_id: None,
            outcome,
            stop,
            duration: started.elapsed(),
            error: None,
            error_status: None,
        });
    });
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
}
