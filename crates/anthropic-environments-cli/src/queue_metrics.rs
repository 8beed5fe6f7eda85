//! The queue's statistics as Prometheus gauges: what an autoscaler scales
//! on (`antenv_queue_depth`) and what to alert on (pending, the oldest
//! item's age, workers polling, stuck items). Exported by `worker poll`
//! and `worker webhook` with `--stats-interval`, printed once by `work
//! stats --output prometheus`; one definition of the names for both.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime};

use anthropic_environments::{QueueStats, WorkQueue};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The name of the gauge autoscalers scale on (`deploy/autoscaling`).
pub const DEPTH: &str = "antenv_queue_depth";

/// The queue's gauges, registered in a registry.
#[derive(Clone, Debug, Default)]
pub struct QueueGauges {
    depth: Gauge,
    pending: Gauge,
    oldest_age: Gauge<f64, AtomicU64>,
    workers_polling: Gauge,
    stuck: Gauge,
}

impl QueueGauges {
    /// New gauges, registered in `registry` (the stuck count only with
    /// `with_stuck`: it needs the environment key, which lists items).
    pub fn register(registry: &mut Registry, with_stuck: bool) -> Self {
        let gauges = QueueGauges::default();
        registry.register(
            DEPTH,
            "Work items waiting in the queue to be picked up (scale workers on this)",
            gauges.depth.clone(),
        );
        registry.register(
            "antenv_queue_pending",
            "Work items polled but not acknowledged yet",
            gauges.pending.clone(),
        );
        registry.register(
            "antenv_queue_oldest_item_age_seconds",
            "How long the oldest item in the queue has waited, in seconds (0 when it is empty)",
            gauges.oldest_age.clone(),
        );
        registry.register(
            "antenv_queue_workers_polling",
            "Workers that polled the queue in the last 30 seconds (with a worker id)",
            gauges.workers_polling.clone(),
        );
        if with_stuck {
            registry.register(
            "antenv_queue_stuck_items",
            "Items held by a worker that is gone: acknowledged and never heartbeated, or heartbeated too long ago (see antenv work stuck)",
            gauges.stuck.clone(),
        );
        }
        gauges
    }

    /// Sets the gauges from the queue's statistics (and the stuck count,
    /// when known) at `now`.
    pub fn set(&self, stats: &QueueStats, stuck: Option<usize>, now: SystemTime) {
        self.depth.set(stats.depth);
        self.pending.set(stats.pending);
        self.workers_polling.set(stats.workers_polling.unwrap_or(0));
        let age = stats
            .oldest_queued_at
            .as_deref()
            .and_then(|at| humantime::parse_rfc3339_weak(at).ok())
            .map_or(0.0, |at| {
                now.duration_since(at)
                    .unwrap_or(Duration::ZERO)
                    .as_secs_f64()
            });
        self.oldest_age.set(age);
        if let Some(stuck) = stuck {
            self.stuck.set(i64::try_from(stuck).unwrap_or(i64::MAX));
        }
    }
}

/// Reads the queue's statistics once and sets `gauges`, then counts its
/// stuck items (a listing of every item): a slow or failing listing never
/// holds back the depth.
pub async fn refresh(
    queue: &WorkQueue,
    gauges: &QueueGauges,
    stuck_after: Duration,
) -> anthropic_environments::Result<()> {
    let stats = queue.stats().send().await?;
    gauges.set(&stats, None, SystemTime::now());
    let stuck = queue.stuck(stuck_after).await?.len();
    gauges.set(&stats, Some(stuck), SystemTime::now());
    Ok(())
}

/// The gauges of one reading, as Prometheus text; the stuck count when a
/// queue that may list items (the environment key's) and the threshold
/// are given.
pub async fn render_once(
    queue: &WorkQueue,
    stuck: Option<(&WorkQueue, Duration)>,
) -> anthropic_environments::Result<String> {
    let stats = queue.stats().send().await?;
    let stuck = match stuck {
        Some((lister, after)) => Some(lister.stuck(after).await?.len()),
        None => None,
    };
    let mut registry = Registry::default();
    let gauges = QueueGauges::register(&mut registry, stuck.is_some());
    gauges.set(&stats, stuck, SystemTime::now());
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_show_the_stats_and_the_oldest_items_age() {
        let mut registry = Registry::default();
        let gauges = QueueGauges::register(&mut registry, true);
        let stats: QueueStats = serde_json::from_value(serde_json::json!({
            "type": "work_queue_stats", "depth": 7, "pending": 2, "workers_polling": 3,
            "oldest_queued_at": "2026-12-02T00:00:00Z",
        }))
        .unwrap();
        let now = humantime::parse_rfc3339("2026-12-02T00:01:30Z").unwrap();
        gauges.set(&stats, Some(4), now);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "antenv_queue_depth 7",
            "antenv_queue_pending 2",
            "antenv_queue_oldest_item_age_seconds 90.0",
            "antenv_queue_workers_polling 3",
            "antenv_queue_stuck_items 4",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        let mut without = Registry::default();
        QueueGauges::register(&mut without, false);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &without).unwrap();
        assert!(!text.contains("stuck"), "{text}");
    }
}
