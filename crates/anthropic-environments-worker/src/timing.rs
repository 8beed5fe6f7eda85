//! The timing of a worker's loops. The defaults are the official SDK's.

use std::time::Duration;

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
    /// Smallest interval between heartbeats (the lease's window can make it
    /// shorter: see the lease rules in the worker's docs).
    pub heartbeat_interval_min: Duration,
    /// The lease TTL assumed until the server reports one.
    pub initial_ttl: Duration,
    /// How long a handler may run on after its cancellation before it is
    /// dropped. Within a lease it is cut to a quarter of the TTL, and always
    /// ends before the lease can run out.
    pub cancel_grace: Duration,
    /// How long in-flight handlers may finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// How long the stop phase of a shutdown may last once the grace
    /// period is over: cancelled handlers get their `cancel_grace`, then
    /// items are stopped, all within `cancel_grace + stop_timeout`. Items
    /// still unstopped then are logged by id, counted
    /// ([`WorkerReport::unstopped`](crate::WorkerReport::unstopped)) and
    /// left: their leases run out and the queue serves them again. Not in
    /// the official workers, whose stops can take minutes.
    pub stop_timeout: Duration,
    /// Bound of each poll (on top of its `block_ms`), ack and stop request,
    /// so that a server that stops answering holds a poll loop for this
    /// long, not for the client's 10-minute timeout. Not in the official
    /// workers, which use the client's timeout.
    pub request_timeout: Duration,
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
            stop_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
        }
    }
}

impl WorkerTiming {
    /// Every duration multiplied by `factor`: the same ratios at another
    /// speed (e.g. the official defaults at a thirtieth, for a test against
    /// a mock whose leases last seconds). A factor that is not a positive
    /// finite number leaves the timing as it is.
    ///
    /// ```
    /// use std::time::Duration;
    /// use anthropic_environments_worker::WorkerTiming;
    /// let fast = WorkerTiming::default().scaled(0.1);
    /// assert_eq!(fast.initial_ttl, Duration::from_secs(9));
    /// assert_eq!(fast.heartbeat_interval_cap, Duration::from_secs(3));
    /// ```
    pub fn scaled(&self, factor: f64) -> Self {
        if !(factor.is_finite() && factor > 0.0) {
            return self.clone();
        }
        let s = |d: Duration| Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(d);
        WorkerTiming {
            idle_sleep: (s(self.idle_sleep.0), s(self.idle_sleep.1)),
            backoff_base: s(self.backoff_base),
            backoff_cap: s(self.backoff_cap),
            backoff_jitter: s(self.backoff_jitter),
            heartbeat_interval_cap: s(self.heartbeat_interval_cap),
            heartbeat_interval_min: s(self.heartbeat_interval_min),
            initial_ttl: s(self.initial_ttl),
            cancel_grace: s(self.cancel_grace),
            shutdown_grace: s(self.shutdown_grace),
            stop_timeout: s(self.stop_timeout),
            request_timeout: s(self.request_timeout),
        }
    }

    /// Refuses a timing that cannot work.
    pub(crate) fn validate(&self) -> Result<(), crate::ConfigError> {
        use crate::ConfigError::Timing;
        let checks = [
            (
                self.idle_sleep.0 <= self.idle_sleep.1,
                "idle_sleep's low end is above its high end",
            ),
            (!self.backoff_base.is_zero(), "backoff_base is zero"),
            (
                self.backoff_base <= self.backoff_cap,
                "backoff_base is above backoff_cap",
            ),
            (
                !self.heartbeat_interval_cap.is_zero(),
                "heartbeat_interval_cap is zero",
            ),
            (
                self.heartbeat_interval_min <= self.heartbeat_interval_cap,
                "heartbeat_interval_min is above heartbeat_interval_cap",
            ),
            (!self.initial_ttl.is_zero(), "initial_ttl is zero"),
            (!self.request_timeout.is_zero(), "request_timeout is zero"),
            (!self.stop_timeout.is_zero(), "stop_timeout is zero"),
        ];
        if let Some((_, why)) = checks.into_iter().find(|(ok, _)| !ok) {
            return Err(Timing(why));
        }
        // Far beyond any real setting, and where instants would overflow.
        let longest = [
            self.idle_sleep.1,
            self.backoff_cap,
            self.backoff_jitter,
            self.heartbeat_interval_cap,
            self.initial_ttl,
            self.cancel_grace,
            self.shutdown_grace,
            self.stop_timeout,
            self.request_timeout,
        ]
        .into_iter()
        .max()
        .unwrap_or_default();
        if longest > Self::LONGEST {
            return Err(Timing("a duration is longer than a year"));
        }
        Ok(())
    }

    /// The longest duration a timing may hold.
    const LONGEST: Duration = Duration::from_secs(365 * 24 * 3600);

    /// `min(cap, base^attempt)` (with `base` in seconds, as the official
    /// SDK computes it) plus jitter.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let base = self.backoff_base.as_secs_f64();
        let exp = if base >= 1.0 {
            base.powi(attempt.min(64) as i32)
        } else {
            base * 2f64.powi(attempt.saturating_sub(1).min(64) as i32)
        };
        let wait = exp.min(self.backoff_cap.as_secs_f64());
        Duration::from_secs_f64(wait) + self.backoff_jitter.mul_f64(fastrand::f64())
    }

    /// A jittered sleep after an empty poll.
    pub(crate) fn idle(&self) -> Duration {
        let (lo, hi) = self.idle_sleep;
        lo + hi.saturating_sub(lo).mul_f64(fastrand::f64())
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
    fn a_timing_that_cannot_work_is_refused() {
        assert_eq!(WorkerTiming::default().validate(), Ok(()));
        let inverted = WorkerTiming {
            idle_sleep: (Duration::from_secs(3), Duration::from_secs(1)),
            ..WorkerTiming::default()
        };
        assert!(
            inverted
                .validate()
                .unwrap_err()
                .to_string()
                .contains("idle_sleep")
        );
        let no_stop = WorkerTiming {
            stop_timeout: Duration::ZERO,
            ..WorkerTiming::default()
        };
        assert!(
            no_stop
                .validate()
                .unwrap_err()
                .to_string()
                .contains("stop_timeout")
        );
    }
}
