//! Stuck work items: held by a worker that is gone, so nothing serves
//! them and the queue does not hand them out again.
//!
//! An item acknowledged but never heartbeated (its worker died between the
//! ack and the first heartbeat) stays `starting`: it is counted in neither
//! the queue's `depth` nor its `pending`, reclaim cannot reach it, and its
//! session stays wedged until someone force-stops it
//! (anthropic-sdk-python #1746). An `active` item whose last heartbeat is
//! older than any lease its workers ask for has lost its worker too.
//!
//! ```no_run
//! # async fn run(client: anthropic_environments::Client) -> anthropic_environments::Result<()> {
//! use std::time::Duration;
//! let queue = client.work("env_...");
//! for stuck in queue.stuck(Duration::from_secs(600)).await? {
//!     println!("{} {:?} for {:?}", stuck.work.id, stuck.reason, stuck.silent_for);
//!     queue.stop(&stuck.work.id).force(true).send().await?;
//! }
//! # Ok(()) }
//! ```

use std::time::{Duration, SystemTime};

use futures::TryStreamExt;

use crate::{Result, Work, WorkQueue, WorkState};

/// Why an item counts as stuck.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StuckReason {
    /// `starting`: acknowledged, and no heartbeat since.
    NeverHeartbeated,
    /// `active`: its last heartbeat is older than the threshold.
    HeartbeatStale,
}

impl StuckReason {
    /// A short name, for output and metric labels (`never_heartbeated`,
    /// `heartbeat_stale`).
    pub fn as_str(self) -> &'static str {
        match self {
            StuckReason::NeverHeartbeated => "never_heartbeated",
            StuckReason::HeartbeatStale => "heartbeat_stale",
        }
    }
}

/// A stuck work item.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StuckWork {
    /// The item, as listed.
    pub work: Work,
    /// Why it counts as stuck.
    pub reason: StuckReason,
    /// How long it has gone without a sign of its worker: since its ack
    /// (never heartbeated) or its last heartbeat.
    pub silent_for: Duration,
}

/// Whether `work` is stuck at `now`: `starting` with no heartbeat since an
/// ack more than `older_than` ago, or `active` with a last heartbeat more
/// than `older_than` ago. An item whose timestamps are missing or do not
/// parse is never stuck (nothing is stopped on a guess).
pub fn classify(work: &Work, older_than: Duration, now: SystemTime) -> Option<StuckWork> {
    let since = |stamp: Option<&String>| {
        let at = humantime::parse_rfc3339_weak(stamp?).ok()?;
        Some(now.duration_since(at).unwrap_or(Duration::ZERO))
    };
    let (reason, silent_for) = match work.state {
        // Timed from the ack only: an item queued long ago and acked a
        // moment ago is not stuck.
        WorkState::Starting if work.latest_heartbeat_at.is_none() => (
            StuckReason::NeverHeartbeated,
            since(work.acknowledged_at.as_ref())?,
        ),
        WorkState::Active | WorkState::Starting => (
            StuckReason::HeartbeatStale,
            since(work.latest_heartbeat_at.as_ref())?,
        ),
        _ => return None,
    };
    (silent_for > older_than).then(|| StuckWork {
        work: work.clone(),
        reason,
        silent_for,
    })
}

impl WorkQueue {
    /// The queue's stuck items (see [`classify`]), listing every item.
    /// `older_than` should be above the longest lease the environment's
    /// workers ask for, so that a live but slow worker is never taken for
    /// a dead one.
    pub async fn stuck(&self, older_than: Duration) -> Result<Vec<StuckWork>> {
        let items: Vec<Work> = self.list().into_stream().try_collect().await?;
        let now = SystemTime::now();
        Ok(items
            .iter()
            .filter_map(|work| classify(work, older_than, now))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work(state: &str, acknowledged: Option<&str>, heartbeat: Option<&str>) -> Work {
        serde_json::from_value(serde_json::json!({
            "type": "work", "id": "work_1", "environment_id": "env_1",
            "state": state, "created_at": "2026-12-02T00:00:00Z",
            "acknowledged_at": acknowledged, "latest_heartbeat_at": heartbeat,
            "data": {"type": "session", "id": "sesn_1"}, "metadata": {},
        }))
        .unwrap()
    }

    fn at(stamp: &str) -> SystemTime {
        humantime::parse_rfc3339_weak(stamp).unwrap()
    }

    #[test]
    fn never_heartbeated_and_stale_items_are_stuck_and_recent_ones_never() {
        let minute = Duration::from_secs(60);
        let now = at("2026-12-02T00:10:00Z");
        let acked = work("starting", Some("2026-12-02T00:05:00.123456Z"), None);
        let stuck = classify(&acked, minute, now).unwrap();
        assert_eq!(stuck.reason, StuckReason::NeverHeartbeated);
        assert_eq!(stuck.silent_for.as_secs(), 299);
        assert!(classify(&acked, Duration::from_secs(600), now).is_none());
        let stale = work(
            "active",
            Some("2026-12-02T00:00:01Z"),
            Some("2026-12-02T00:08:00Z"),
        );
        assert_eq!(
            classify(&stale, minute, now).unwrap().reason,
            StuckReason::HeartbeatStale
        );
        let recent = work(
            "active",
            Some("2026-12-02T00:00:01Z"),
            Some("2026-12-02T00:09:30Z"),
        );
        assert!(
            classify(&recent, minute, now).is_none(),
            "a recent heartbeat"
        );
        for state in ["queued", "stopping", "stopped", "a_new_state"] {
            assert!(classify(&work(state, None, None), Duration::ZERO, now).is_none());
        }
        let odd = work("starting", Some("yesterday"), None);
        assert!(
            classify(&odd, Duration::ZERO, now).is_none(),
            "unparsable: not stuck"
        );
        // Queued long ago, no ack time: never timed from its creation.
        let unacked = work("starting", None, None);
        assert!(classify(&unacked, minute, now).is_none());
        // A heartbeat this very second is never stuck, even at zero.
        let now_beat = work(
            "active",
            Some("2026-12-02T00:00:01Z"),
            Some("2026-12-02T00:10:00Z"),
        );
        assert!(classify(&now_beat, Duration::ZERO, now).is_none());
        // A clock behind the server's: silent for zero, not stuck.
        let future = work("starting", Some("2026-12-02T00:20:00Z"), None);
        assert!(classify(&future, minute, now).is_none());
    }
}
