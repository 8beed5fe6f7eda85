//! One lease as this worker sees it: a pure state machine, fed the outcome
//! of each heartbeat and the time, that says when to beat next and when the
//! lease ends. No I/O, so every rule is unit- and property-tested.
//!
//! Times (all measured from the worker's clock, never the server's):
//!
//! - `expiry = last_success + ttl`: the lease runs out here at the latest,
//!   where `last_success` is when the last *extending* heartbeat was sent
//!   (before the ack, for a fresh lease: the clock starts before the ack is
//!   sent, so it never runs late).
//! - `hard_stop = expiry - safety`: no handler of this item may still run;
//!   `safety = min(ttl / 10, 1 s)`.
//! - `deadline = hard_stop - grace`: when no heartbeat has succeeded by
//!   then, the lease is assumed lost and the handler cancelled; its grace
//!   (`min(cancel_grace, ttl / 4)`) ends by `hard_stop`, so a handler that
//!   ignores cancellation can never overlap the next holder.
//! - heartbeats every `max(min(ttl / 2, cap), min)`, but at most three
//!   quarters of the way to the deadline, leaving room for a retry.
//!
//! A server `ttl_seconds` of any size is taken safely: zero or negative keeps
//! the TTL in force, anything above [`MAX_TTL`] is clamped.

use std::time::Duration;

use tokio::time::Instant;

use crate::context::CancelReason;
use crate::timing::WorkerTiming;
use anthropic_environments::ext::WorkStateExt;
use anthropic_environments::types::BetaWorkState;

/// The longest TTL the worker believes (a day).
pub const MAX_TTL: Duration = Duration::from_secs(86_400);

/// The `expected_last_heartbeat` of the first heartbeat of a lease.
pub(crate) use anthropic_environments::NO_HEARTBEAT;

/// What one heartbeat came back with.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum BeatOutcome {
    /// A 2xx answer.
    Answered {
        last_heartbeat: String,
        lease_extended: bool,
        state: BetaWorkState,
        ttl_seconds: i64,
    },
    /// 412: the expectation did not match; someone else holds the lease.
    PreconditionFailed,
    /// A 4xx that retrying can't fix.
    Rejected,
    /// A transient failure or a timeout: try again soon.
    Failed,
}

/// This worker's view of one lease.
#[derive(Clone, Debug)]
pub(crate) struct Lease {
    /// The `last_heartbeat` to expect next.
    last: String,
    ttl: Duration,
    last_success: Instant,
    interval_cap: Duration,
    interval_min: Duration,
    cancel_grace: Duration,
}

impl Lease {
    /// A lease whose clock started at `started` (before the ack was sent),
    /// with the TTL the timing assumes until the server says otherwise.
    pub(crate) fn new(timing: &WorkerTiming, started: Instant) -> Self {
        Lease {
            last: NO_HEARTBEAT.to_owned(),
            ttl: clamp_ttl(timing.initial_ttl),
            last_success: started,
            interval_cap: timing.heartbeat_interval_cap,
            interval_min: timing.heartbeat_interval_min,
            cancel_grace: timing.cancel_grace,
        }
    }

    /// A lease another process holds, continued from its `last_heartbeat`
    /// (the first heartbeat echoes it instead of `NO_HEARTBEAT`). Its clock
    /// starts at `started`, when serving began.
    pub(crate) fn continuing(
        timing: &WorkerTiming,
        started: Instant,
        last_heartbeat: String,
    ) -> Self {
        Lease {
            last: last_heartbeat,
            ..Lease::new(timing, started)
        }
    }

    /// The `expected_last_heartbeat` of the next heartbeat.
    pub(crate) fn expected(&self) -> &str {
        &self.last
    }

    /// The TTL in force.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    fn safety(&self) -> Duration {
        (self.ttl / 10).min(Duration::from_secs(1))
    }

    /// The grace a cancelled handler gets before it is dropped, within this
    /// lease.
    pub(crate) fn grace(&self) -> Duration {
        self.cancel_grace.min(self.ttl / 4)
    }

    /// When the lease runs out at the latest.
    pub(crate) fn expiry(&self) -> Instant {
        self.last_success + self.ttl
    }

    /// When no handler of this item may still run.
    pub(crate) fn hard_stop(&self) -> Instant {
        self.expiry() - self.safety()
    }

    /// When the lease is assumed lost if no heartbeat succeeds before.
    pub(crate) fn deadline(&self) -> Instant {
        self.hard_stop() - self.grace()
    }

    /// Time between heartbeats: `max(min(ttl / 2, cap), min)` as the
    /// official workers, but at most three quarters of the time from a
    /// heartbeat to the deadline, so that a failed beat has room for a retry.
    pub(crate) fn interval(&self) -> Duration {
        let wanted = (self.ttl / 2).min(self.interval_cap).max(self.interval_min);
        let window = self.ttl - self.safety() - self.grace();
        wanted.min(window * 3 / 4).max(Duration::from_millis(1))
    }

    /// Wait before retrying a failed heartbeat: a quarter of the interval,
    /// at least 50 ms, never past the deadline.
    pub(crate) fn retry_delay(&self) -> Duration {
        (self.interval() / 4).max(Duration::from_millis(50))
    }

    /// When to send the next heartbeat: after the interval (or the retry
    /// delay after a failure), never after the deadline.
    pub(crate) fn next_beat(&self, now: Instant, last_failed: bool) -> Instant {
        let wait = if last_failed {
            self.retry_delay()
        } else {
            self.interval()
        };
        (now + wait).min(self.deadline())
    }

    /// Whether the lease must be assumed lost at `now`.
    pub(crate) fn check(&self, now: Instant) -> Option<CancelReason> {
        (now >= self.deadline()).then_some(CancelReason::LeaseAssumedLost)
    }

    /// Applies the outcome of a heartbeat sent at `sent`. `Some(reason)`
    /// when the lease ends (the worker then stops heartbeating).
    pub(crate) fn on_beat(&mut self, sent: Instant, outcome: BeatOutcome) -> Option<CancelReason> {
        match outcome {
            BeatOutcome::Answered {
                last_heartbeat,
                lease_extended,
                state,
                ttl_seconds,
            } => {
                if let Some(ttl) = u64::try_from(ttl_seconds).ok().filter(|&s| s > 0) {
                    self.ttl = clamp_ttl(Duration::from_secs(ttl));
                }
                if state.is_stopping_or_stopped() {
                    return Some(CancelReason::ServerStopping);
                }
                if !lease_extended {
                    return Some(CancelReason::LeaseNotExtended);
                }
                // Only an extending heartbeat moves the lease; it runs from
                // when the heartbeat was sent, to stay on the safe side.
                if sent > self.last_success {
                    self.last_success = sent;
                }
                self.last = last_heartbeat;
                None
            }
            BeatOutcome::PreconditionFailed => Some(CancelReason::LeaseLost),
            BeatOutcome::Rejected => Some(CancelReason::HeartbeatRejected),
            BeatOutcome::Failed => None,
        }
    }
}

fn clamp_ttl(ttl: Duration) -> Duration {
    ttl.clamp(Duration::from_millis(100), MAX_TTL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn timing() -> WorkerTiming {
        WorkerTiming::default()
    }

    fn answered(ttl: i64, extended: bool, state: BetaWorkState) -> BeatOutcome {
        BeatOutcome::Answered {
            last_heartbeat: "2026-11-23T00:00:00Z".into(),
            lease_extended: extended,
            state,
            ttl_seconds: ttl,
        }
    }

    #[test]
    fn defaults_follow_the_official_workers() {
        let t0 = Instant::now();
        let mut lease = Lease::new(&timing(), t0);
        assert_eq!(lease.expected(), NO_HEARTBEAT);
        // TTL 90 s assumed: heartbeats every 30 s.
        assert_eq!(lease.interval(), Duration::from_secs(30));
        assert_eq!(
            lease.on_beat(t0, answered(60, true, BetaWorkState::Active)),
            None
        );
        assert_eq!(lease.expected(), "2026-11-23T00:00:00Z");
        assert_eq!(lease.interval(), Duration::from_secs(30));
        assert_eq!(
            lease.on_beat(t0, answered(10, true, BetaWorkState::Active)),
            None
        );
        // Ten seconds: the official 5 s would leave no room for a retry
        // before the deadline (10 s - 1 s safety - 2.5 s grace).
        assert_eq!(lease.interval(), Duration::from_millis(4875));
        // With a 10 s TTL from t0: a 1 s safety margin, a 2.5 s grace (a
        // quarter of the TTL, under the default 5 s), so the lease is
        // assumed lost at 6.5 s and a cancelled handler is gone by 9 s.
        assert_eq!(lease.expiry(), t0 + Duration::from_secs(10));
        assert_eq!(lease.hard_stop(), t0 + Duration::from_secs(9));
        assert_eq!(lease.deadline(), t0 + Duration::from_millis(6500));
    }

    #[test]
    fn each_answer_ends_the_lease_for_its_reason() {
        let t0 = Instant::now();
        let cases = [
            (
                answered(30, true, BetaWorkState::Stopping),
                Some(CancelReason::ServerStopping),
            ),
            (
                answered(30, true, BetaWorkState::Stopped),
                Some(CancelReason::ServerStopping),
            ),
            (
                answered(30, false, BetaWorkState::Active),
                Some(CancelReason::LeaseNotExtended),
            ),
            (
                BeatOutcome::PreconditionFailed,
                Some(CancelReason::LeaseLost),
            ),
            (BeatOutcome::Rejected, Some(CancelReason::HeartbeatRejected)),
            (BeatOutcome::Failed, None),
            (answered(30, true, BetaWorkState::Active), None),
        ];
        for (outcome, want) in cases {
            let mut lease = Lease::new(&timing(), t0);
            assert_eq!(lease.on_beat(t0, outcome.clone()), want, "{outcome:?}");
        }
    }

    #[test]
    fn silence_past_the_deadline_is_a_lost_lease() {
        let t0 = Instant::now();
        let mut lease = Lease::new(&timing(), t0);
        lease.on_beat(t0, answered(20, true, BetaWorkState::Active));
        assert_eq!(lease.check(t0 + Duration::from_secs(10)), None);
        assert_eq!(lease.on_beat(t0, BeatOutcome::Failed), None);
        let deadline = lease.deadline();
        assert!(deadline < t0 + Duration::from_secs(20));
        assert_eq!(lease.check(deadline), Some(CancelReason::LeaseAssumedLost));
        // A later success moves the deadline.
        let later = t0 + Duration::from_secs(5);
        lease.on_beat(later, answered(20, true, BetaWorkState::Active));
        assert_eq!(lease.check(deadline), None);
    }

    #[test]
    fn a_refused_extension_does_not_move_the_lease() {
        let t0 = Instant::now();
        let mut lease = Lease::new(&timing(), t0);
        lease.on_beat(t0, answered(20, true, BetaWorkState::Active));
        let expiry = lease.expiry();
        lease.on_beat(
            t0 + Duration::from_secs(5),
            answered(20, false, BetaWorkState::Active),
        );
        assert_eq!(lease.expiry(), expiry);
    }

    #[test]
    fn absurd_ttls_are_clamped() {
        let t0 = Instant::now();
        for ttl in [i64::MIN, -1, 0] {
            let mut lease = Lease::new(&timing(), t0);
            lease.on_beat(t0, answered(ttl, true, BetaWorkState::Active));
            assert_eq!(lease.ttl(), Duration::from_secs(90), "{ttl}");
        }
        let mut lease = Lease::new(&timing(), t0);
        lease.on_beat(t0, answered(i64::MAX, true, BetaWorkState::Active));
        assert_eq!(lease.ttl(), MAX_TTL);
        let mut lease = Lease::new(&timing(), t0);
        lease.on_beat(t0, answered(1, true, BetaWorkState::Active));
        assert!(lease.interval() < Duration::from_secs(1));
        assert!(lease.next_beat(t0, false) <= lease.deadline());
    }

    fn state() -> impl Strategy<Value = BetaWorkState> {
        prop_oneof![
            Just(BetaWorkState::Queued),
            Just(BetaWorkState::Starting),
            Just(BetaWorkState::Active),
            Just(BetaWorkState::Stopping),
            Just(BetaWorkState::Stopped),
            "[a-z]{1,8}".prop_map(|s| BetaWorkState::from(s.as_str())),
        ]
    }

    fn outcome() -> impl Strategy<Value = BeatOutcome> {
        prop_oneof![
            (any::<i64>(), any::<bool>(), state(), ".{0,30}").prop_map(
                |(ttl_seconds, lease_extended, state, last_heartbeat)| BeatOutcome::Answered {
                    last_heartbeat,
                    lease_extended,
                    state,
                    ttl_seconds,
                }
            ),
            Just(BeatOutcome::PreconditionFailed),
            Just(BeatOutcome::Rejected),
            Just(BeatOutcome::Failed),
        ]
    }

    proptest! {
        /// Any sequence of heartbeat answers, at any times: no panic, the
        /// handler's grace always ends before the lease can run out, beats
        /// are scheduled before the deadline, and an ended lease says why.
        #[test]
        fn any_answers_keep_the_invariants(
            initial_ttl_ms in 0u64..10_000_000,
            cancel_grace_ms in 0u64..100_000,
            beats in proptest::collection::vec((0u64..200_000, outcome()), 1..30),
        ) {
            let timing = WorkerTiming {
                initial_ttl: Duration::from_millis(initial_ttl_ms),
                cancel_grace: Duration::from_millis(cancel_grace_ms),
                ..WorkerTiming::default()
            };
            let t0 = Instant::now();
            let mut lease = Lease::new(&timing, t0);
            let mut now = t0;
            for (advance_ms, outcome) in beats {
                now += Duration::from_millis(advance_ms);
                let ended = lease.on_beat(now, outcome.clone());
                prop_assert!(lease.ttl() >= Duration::from_millis(100) && lease.ttl() <= MAX_TTL);
                prop_assert!(lease.interval() > Duration::ZERO);
                if let Some(reason) = ended {
                    let lost = matches!(outcome, BeatOutcome::PreconditionFailed);
                    prop_assert_eq!(reason.lease_lost(), lost);
                    break;
                }
            }
        }
    }
}
