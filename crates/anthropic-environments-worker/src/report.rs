//! What a worker did, counted.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts of what a worker did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerReport {
    /// Session items claimed (polled and acknowledged) and handed to the
    /// handler's lease logic.
    pub claimed: u64,
    /// Handlers that returned `Ok`.
    pub succeeded: u64,
    /// Handlers that returned an error, panicked or ignored their
    /// cancellation, and item tasks that panicked.
    pub failed: u64,
    /// Items whose lease was lost (left alone, not stopped).
    pub lease_lost: u64,
    /// Session items whose lease could not be claimed (the server stopping
    /// them or not extending the lease, a rejected heartbeat, a shutdown):
    /// their handler never ran; they were stopped.
    pub not_claimed: u64,
    /// Items this worker stopped.
    pub stopped: u64,
    /// Items this worker meant to stop and could not: the stop was refused
    /// or failed every attempt, or the shutdown's stop phase ran out. Each
    /// is logged by id; their leases run out and the queue serves them
    /// again.
    pub unstopped: u64,
    /// Items force-stopped because their ack failed for good.
    pub ack_rejected: u64,
    /// Items whose ack got 409 (another worker acknowledged them first).
    pub ack_conflicts: u64,
    /// Non-session items (`healthcheck`, unknown types) acknowledged and
    /// force-stopped without calling the handler.
    pub non_session: u64,
    /// Polled items that did not decode, acknowledged and force-stopped so
    /// that they do not come back forever.
    pub undecodable: u64,
    /// Items that could not be served for want of a credential.
    pub no_credential: u64,
    /// Polls that failed (network, timeout, 5xx, 429, ...).
    pub poll_errors: u64,
    /// Polls that have failed in a row since the last one that succeeded
    /// (0 while polling works).
    pub consecutive_poll_errors: u64,
    /// Items being served right now (acknowledged, not yet finished).
    pub in_flight: u64,
}

/// A live view of a worker's counts while it runs, for health checks and
/// metrics; get one from [`WorkerBuilder::stats`](super::WorkerBuilder::stats)
/// or [`Worker::stats`](super::Worker::stats).
///
/// ```
/// # use anthropic_environments::Client;
/// # use anthropic_environments_worker::Worker;
/// # fn f(client: Client) {
/// let builder = Worker::builder(client.work("env_..."));
/// let stats = builder.stats();
/// // ... run the worker on another task, then, from anywhere:
/// assert_eq!(stats.snapshot().claimed, 0);
/// # }
/// ```
#[derive(Clone, Default)]
pub struct WorkerStats(pub(crate) Arc<Counters>);

impl WorkerStats {
    /// The counts as they are now.
    pub fn snapshot(&self) -> WorkerReport {
        self.0.report()
    }
}

impl fmt::Debug for WorkerStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WorkerStats")
            .field(&self.snapshot())
            .finish()
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) claimed: AtomicU64,
    pub(crate) succeeded: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) lease_lost: AtomicU64,
    pub(crate) not_claimed: AtomicU64,
    pub(crate) stopped: AtomicU64,
    pub(crate) unstopped: AtomicU64,
    pub(crate) ack_rejected: AtomicU64,
    pub(crate) ack_conflicts: AtomicU64,
    pub(crate) non_session: AtomicU64,
    pub(crate) undecodable: AtomicU64,
    pub(crate) no_credential: AtomicU64,
    pub(crate) poll_errors: AtomicU64,
    pub(crate) consecutive_poll_errors: AtomicU64,
    pub(crate) in_flight: AtomicU64,
}

impl Counters {
    pub(crate) fn report(&self) -> WorkerReport {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WorkerReport {
            claimed: get(&self.claimed),
            succeeded: get(&self.succeeded),
            failed: get(&self.failed),
            lease_lost: get(&self.lease_lost),
            not_claimed: get(&self.not_claimed),
            stopped: get(&self.stopped),
            unstopped: get(&self.unstopped),
            ack_rejected: get(&self.ack_rejected),
            ack_conflicts: get(&self.ack_conflicts),
            non_session: get(&self.non_session),
            undecodable: get(&self.undecodable),
            no_credential: get(&self.no_credential),
            poll_errors: get(&self.poll_errors),
            consecutive_poll_errors: get(&self.consecutive_poll_errors),
            in_flight: get(&self.in_flight),
        }
    }
}

/// Adds one.
pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Counts one item in flight until dropped (also when its task panics).
pub(crate) struct InFlight(Arc<Counters>);

impl InFlight {
    pub(crate) fn enter(counters: &Arc<Counters>) -> Self {
        bump(&counters.in_flight);
        InFlight(counters.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
