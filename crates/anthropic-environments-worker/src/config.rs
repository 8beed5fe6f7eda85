//! The worker's settings, written once: the builders fill a configuration,
//! `build()` checks it, and the worker (or [`ServeOne`](crate::ServeOne))
//! holds it.

use std::time::Duration;

use crate::timing::WorkerTiming;

/// How a [`Worker`](crate::Worker) serves each claimed session item.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServeMode {
    /// Claim the item's lease (a first heartbeat), heartbeat while the
    /// handler runs, and stop the item after (the official workers).
    #[default]
    Leased,
    /// No heartbeats: the handler runs within the lease the ack starts, and
    /// the item is stopped after (the official SDK's `iter_work`). For
    /// handlers that finish well within the lease.
    Unleased,
    /// Acknowledge and hand each item to the handler; no heartbeat and no
    /// stop: the handler (or the process it starts) owns the lease.
    HandOff,
    /// Acknowledge, claim the lease (the first heartbeat), then hand the
    /// item to the handler with the lease's `last_heartbeat`
    /// ([`WorkContext::last_heartbeat`](crate::WorkContext::last_heartbeat));
    /// no further heartbeat and no stop. The receiver continues the live
    /// lease ([`ServeOneBuilder::last_heartbeat`](crate::ServeOneBuilder::last_heartbeat))
    /// instead of racing for a fresh one.
    HandOffLease,
}

impl ServeMode {
    /// Whether the worker claims the lease before calling the handler.
    pub(crate) fn claims_lease(self) -> bool {
        matches!(self, ServeMode::Leased | ServeMode::HandOffLease)
    }

    /// Whether the handler gets the item and the worker is done with it.
    pub(crate) fn hands_off(self) -> bool {
        matches!(self, ServeMode::HandOff | ServeMode::HandOffLease)
    }
}

/// How one item is served: the part of the configuration a [`Worker`]
/// and [`ServeOne`] share.
///
/// [`Worker`]: crate::Worker
/// [`ServeOne`]: crate::ServeOne
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ItemConfig {
    /// Timing of the lease, the cancellation and the shutdown.
    pub timing: WorkerTiming,
    /// The lease TTL asked for in heartbeats (`None`: the server's).
    pub desired_ttl_seconds: Option<u64>,
    /// Bound of each heartbeat request (`None`: the heartbeat interval);
    /// never past the lease's deadline.
    pub heartbeat_timeout: Option<Duration>,
    /// Stop finished items with `force` (default true: the handler is
    /// done, there is nothing left to shut down gracefully).
    pub force_stop: bool,
}

impl Default for ItemConfig {
    fn default() -> Self {
        ItemConfig {
            timing: WorkerTiming::default(),
            desired_ttl_seconds: None,
            heartbeat_timeout: None,
            force_stop: true,
        }
    }
}

impl ItemConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.desired_ttl_seconds == Some(0) {
            return Err(ConfigError::ZeroTtl);
        }
        if self.heartbeat_timeout == Some(Duration::ZERO) {
            return Err(ConfigError::Timing("heartbeat_timeout is zero"));
        }
        self.timing.validate()
    }
}

/// A [`Worker`](crate::Worker)'s settings, as its builder filled them.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WorkerConfig {
    /// This worker's id (`Anthropic-Worker-ID`).
    pub worker_id: String,
    /// How many items may be in flight at once.
    pub concurrency: usize,
    /// How many poll loops share the concurrency (`None`: `concurrency`,
    /// at most 4).
    pub pollers: Option<usize>,
    /// How long each poll waits for work, 1-999 ms; `None` polls without
    /// `block_ms` (the server answers at once).
    pub block_ms: Option<u64>,
    /// Reclaim items polled but not acknowledged for this long.
    pub reclaim_older_than_ms: Option<u64>,
    /// Return once a poll finds the queue empty (and in-flight items are
    /// done) instead of polling forever.
    pub drain: bool,
    /// Once a poll finds the queue empty, wait for this to be woken
    /// instead of polling again after an idle pause (`None`: poll on).
    pub wakeup: Option<crate::Wakeup>,
    /// How each session item is served.
    pub mode: ServeMode,
    /// How each item is served (shared with `ServeOne`).
    pub item: ItemConfig,
}

impl WorkerConfig {
    pub(crate) fn new(worker_id: String) -> Self {
        WorkerConfig {
            worker_id,
            concurrency: 1,
            pollers: None,
            block_ms: Some(999),
            reclaim_older_than_ms: None,
            drain: false,
            wakeup: None,
            mode: ServeMode::default(),
            item: ItemConfig::default(),
        }
    }

    /// The poll loops to run.
    pub(crate) fn poll_loops(&self) -> usize {
        self.pollers.unwrap_or_else(|| self.concurrency.min(4))
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !valid_worker_id(&self.worker_id) {
            return Err(ConfigError::WorkerId);
        }
        if self.concurrency == 0 {
            return Err(ConfigError::ZeroConcurrency);
        }
        match self.pollers {
            Some(0) => return Err(ConfigError::ZeroPollers),
            Some(n) if n > self.concurrency => {
                return Err(ConfigError::PollersAboveConcurrency {
                    pollers: n,
                    concurrency: self.concurrency,
                });
            }
            _ => {}
        }
        if let Some(ms) = self.block_ms.filter(|ms| !(1..=999).contains(ms)) {
            return Err(ConfigError::BlockMs(ms));
        }
        self.item.validate()
    }
}

/// A header value the API accepts as a worker id: visible ASCII and
/// spaces, not empty.
fn valid_worker_id(id: &str) -> bool {
    !id.trim().is_empty() && id.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

/// A setting that cannot work, found by `build()` before anything is sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `block_ms` outside 1..=999 (use `non_blocking()` to omit it).
    #[error("block_ms must be between 1 and 999 (got {0}); non_blocking() omits it")]
    BlockMs(u64),
    /// A concurrency of 0.
    #[error("concurrency must be at least 1")]
    ZeroConcurrency,
    /// No poll loop.
    #[error("pollers must be at least 1")]
    ZeroPollers,
    /// More poll loops than items that may be in flight.
    #[error("pollers ({pollers}) must not exceed the concurrency ({concurrency})")]
    PollersAboveConcurrency {
        /// The poll loops asked for.
        pollers: usize,
        /// The concurrency.
        concurrency: usize,
    },
    /// A worker id that is empty or not a valid header value.
    #[error("the worker id must be non-empty visible ASCII (it is sent as Anthropic-Worker-ID)")]
    WorkerId,
    /// A desired lease TTL of 0 seconds.
    #[error("desired_ttl_seconds must be at least 1")]
    ZeroTtl,
    /// A timing that cannot work (which one, and why).
    #[error("timing: {0}")]
    Timing(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_impossible_setting_is_refused_by_name() {
        let base = WorkerConfig::new("worker-1".into());
        assert_eq!(base.validate(), Ok(()));
        type Change = fn(&mut WorkerConfig);
        let cases: [(Change, ConfigError); 8] = [
            (|c| c.block_ms = Some(0), ConfigError::BlockMs(0)),
            (|c| c.block_ms = Some(1000), ConfigError::BlockMs(1000)),
            (|c| c.concurrency = 0, ConfigError::ZeroConcurrency),
            (|c| c.pollers = Some(0), ConfigError::ZeroPollers),
            (
                |c| c.pollers = Some(2),
                ConfigError::PollersAboveConcurrency {
                    pollers: 2,
                    concurrency: 1,
                },
            ),
            (|c| c.worker_id = " ".into(), ConfigError::WorkerId),
            (|c| c.worker_id = "w\n1".into(), ConfigError::WorkerId),
            (
                |c| c.item.desired_ttl_seconds = Some(0),
                ConfigError::ZeroTtl,
            ),
        ];
        for (change, want) in cases {
            let mut config = base.clone();
            change(&mut config);
            assert_eq!(config.validate(), Err(want));
        }
        let mut fine = base.clone();
        fine.block_ms = None;
        fine.concurrency = 8;
        fine.pollers = Some(8);
        assert_eq!(fine.validate(), Ok(()));
        assert_eq!(fine.poll_loops(), 8);
    }
}
