//! `GET /healthz` and `GET /metrics` (Prometheus text format) of a running
//! `worker poll`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use anthropic_environments_worker::{ItemReport, ToolCallReport, WorkerStats};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::queue_metrics::QueueGauges;

/// The worker's state as `/healthz` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Polling (healthy while polls succeed).
    Running = 0,
    /// SIGINT/SIGTERM received: finishing in-flight scripts.
    ShuttingDown = 1,
    /// The worker ended with an error.
    Failed = 2,
}

/// The label of the script exit counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExitLabels {
    /// The exit code, or `signal`, `timeout`.
    pub code: String,
}

/// The label of the item duration histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// How the item ended (`succeeded`, `failed`, `cancelled`, ...).
    pub outcome: String,
}

/// The labels of the tool call counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolLabels {
    /// The tool (`bash`, `read`, ...).
    pub tool: String,
    /// How the call went (`posted`, `error`, `gave_up`, `denied`,
    /// `unowned`).
    pub outcome: String,
}

/// The label of the tool call duration histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolLabel {
    /// The tool.
    pub tool: String,
}

/// The label of the sessions-served counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SessionEndLabel {
    /// How the serving ended (`session_ended`, `idle`, `shutdown`,
    /// `cancelled`, `failed`).
    pub end: String,
}

/// The `outcome` label of a webhook delivery.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabel {
    outcome: String,
}

/// Buckets of the tool call duration histogram, in seconds.
const TOOL_BUCKETS: [f64; 10] = [0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 150.0];

/// Buckets of the item duration histogram, in seconds: from a quick script
/// to a long session.
const DURATION_BUCKETS: [f64; 12] = [
    0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0,
];

/// What the health server reads, shared with the worker.
#[derive(Debug)]
pub struct Health {
    phase: AtomicU8,
    stats: WorkerStats,
    script_exits: Family<ExitLabels, Counter>,
    item_durations: Family<OutcomeLabels, Histogram>,
    tool_calls: Family<ToolLabels, Counter>,
    tool_durations: Family<ToolLabel, Histogram>,
    sessions: Family<SessionEndLabel, Counter>,
    webhook_deliveries: Family<DeliveryLabel, Counter>,
    queue: QueueGauges,
    registry: Registry,
}

/// Reads the worker's live counts at each scrape.
#[derive(Debug)]
struct StatsCollector(WorkerStats);

impl Collector for StatsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.0.snapshot();
        let counters: [(&str, &str, u64); 9] = [
            (
                "antenv_items_claimed",
                "Session items claimed (polled and acknowledged).",
                s.claimed,
            ),
            (
                "antenv_items_finished",
                "Items whose script exited 0.",
                s.succeeded,
            ),
            (
                "antenv_items_failed",
                "Items whose script failed: non-zero exit, killed, timed out, could not start.",
                s.failed,
            ),
            (
                "antenv_items_non_session",
                "Items of other types (healthcheck, ...) force-stopped without a script.",
                s.non_session,
            ),
            (
                "antenv_items_stopped",
                "Items this worker stopped.",
                s.stopped,
            ),
            (
                "antenv_items_unstopped",
                "Items this worker meant to stop and could not (left to their leases).",
                s.unstopped,
            ),
            (
                "antenv_leases_lost",
                "Items whose lease another worker took (left alone).",
                s.lease_lost,
            ),
            ("antenv_poll_errors", "Polls that failed.", s.poll_errors),
            (
                "antenv_ack_conflicts",
                "Items another worker acknowledged first.",
                s.ack_conflicts,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        let gauges: [(&str, &str, u64); 2] = [
            (
                "antenv_items_in_flight",
                "Scripts running now.",
                s.in_flight,
            ),
            (
                "antenv_consecutive_poll_errors",
                "Polls failed in a row (0 while polling works).",
                s.consecutive_poll_errors,
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

impl Health {
    /// Health of a worker whose counts `stats` shows.
    pub fn new(stats: WorkerStats) -> Arc<Self> {
        let script_exits = Family::<ExitLabels, Counter>::default();
        let mut registry = Registry::default();
        registry.register(
            "antenv_script_exits",
            "Scripts ended, by exit code (`signal`: killed by a signal; `timeout`: past --timeout)",
            script_exits.clone(),
        );
        let item_durations = Family::<OutcomeLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(DURATION_BUCKETS)
        });
        registry.register(
            "antenv_item_duration_seconds",
            "How long items took, from the ack to the end (stop included), by outcome",
            item_durations.clone(),
        );
        let tool_calls = Family::<ToolLabels, Counter>::default();
        registry.register(
            "antenv_tool_calls",
            "Tool calls of served sessions, by tool and outcome (a result given up is gave_up)",
            tool_calls.clone(),
        );
        let tool_durations =
            Family::<ToolLabel, Histogram>::new_with_constructor(|| Histogram::new(TOOL_BUCKETS));
        registry.register(
            "antenv_tool_call_duration_seconds",
            "How long tools ran, by tool",
            tool_durations.clone(),
        );
        let sessions = Family::<SessionEndLabel, Counter>::default();
        registry.register(
            "antenv_sessions_served",
            "Sessions served in-process, by how the serving ended (session_ended: terminated or deleted; idle: --max-idle after the turn ended; shutdown: the worker shut down, the running call finished; cancelled: lease lost, item stopping or the grace over; failed: an error the runner could not get past)",
            sessions.clone(),
        );
        let webhook_deliveries = Family::<DeliveryLabel, Counter>::default();
        registry.register(
            "antenv_webhook_deliveries",
            "Webhook deliveries received (worker webhook), by outcome: accepted (work announced), ignored (another event), duplicate, unauthenticated, invalid or shutting_down",
            webhook_deliveries.clone(),
        );
        let queue = QueueGauges::register(&mut registry, true);
        registry.register_collector(Box::new(StatsCollector(stats.clone())));
        Arc::new(Health {
            phase: AtomicU8::new(Phase::Running as u8),
            stats,
            script_exits,
            item_durations,
            tool_calls,
            tool_durations,
            sessions,
            webhook_deliveries,
            queue,
            registry,
        })
    }

    /// Moves to `phase`.
    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Running,
            1 => Phase::ShuttingDown,
            _ => Phase::Failed,
        }
    }

    /// Counts a script's end under `code`.
    pub fn script_exited(&self, code: &str) {
        self.script_exits
            .get_or_create(&ExitLabels {
                code: code.to_owned(),
            })
            .inc();
    }

    /// Observes how an item ended (the worker's `on_item_end`).
    pub fn item_ended(&self, report: &ItemReport) {
        self.item_durations
            .get_or_create(&OutcomeLabels {
                outcome: report.outcome.as_str().to_owned(),
            })
            .observe(report.duration.as_secs_f64());
    }

    /// Counts a tool call of an in-process session (the runner's hook).
    pub fn tool_call_ended(&self, report: &ToolCallReport) {
        self.tool_calls
            .get_or_create(&ToolLabels {
                tool: report.name.clone(),
                outcome: report.outcome.as_str().to_owned(),
            })
            .inc();
        if !report.duration.is_zero() {
            self.tool_durations
                .get_or_create(&ToolLabel {
                    tool: report.name.clone(),
                })
                .observe(report.duration.as_secs_f64());
        }
    }

    /// Counts a session whose in-process serving ended as `end`.
    pub fn session_served(&self, end: &str) {
        self.sessions
            .get_or_create(&SessionEndLabel {
                end: end.to_owned(),
            })
            .inc();
    }

    /// The queue's gauges (`--stats-interval` keeps them current).
    pub fn queue_gauges(&self) -> &QueueGauges {
        &self.queue
    }

    /// Counts a webhook delivery as `outcome`.
    pub fn webhook_delivery(&self, outcome: &str) {
        self.webhook_deliveries
            .get_or_create(&DeliveryLabel {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The `/healthz` answer.
    pub fn check(&self) -> (StatusCode, String) {
        match self.phase() {
            Phase::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n".into()),
            Phase::Failed => (StatusCode::SERVICE_UNAVAILABLE, "failed\n".into()),
            Phase::Running => match self.stats.snapshot().consecutive_poll_errors {
                0 => (StatusCode::OK, "ok\n".into()),
                n => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("polling failing ({n} in a row)\n"),
                ),
            },
        }
    }

    /// The `/metrics` answer.
    pub fn metrics(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

async fn healthz(State(health): State<Arc<Health>>) -> impl IntoResponse {
    health.check()
}

async fn metrics(State(health): State<Arc<Health>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        health.metrics(),
    )
}

/// Binds `addr` and serves until the process ends; returns the bound
/// address (a port 0 becomes a real one).
pub async fn serve(addr: SocketAddr, health: Arc<Health>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(health);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the health server stopped");
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_and_metrics() {
        let health = Health::new(WorkerStats::default());
        assert_eq!(health.check().0, StatusCode::OK);
        health.script_exited("0");
        health.script_exited("0");
        health.script_exited("3");
        let text = health.metrics();
        assert!(
            text.contains("antenv_script_exits_total{code=\"0\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("antenv_script_exits_total{code=\"3\"} 1"),
            "{text}"
        );
        health.session_served("idle");
        health.session_served("failed");
        health.session_served("idle");
        assert!(
            health
                .metrics()
                .contains("antenv_sessions_served_total{end=\"idle\"} 2"),
            "{}",
            health.metrics()
        );
        let text = health.metrics();
        assert!(
            text.contains("antenv_sessions_served_total{end=\"failed\"} 1"),
            "{text}"
        );
        assert!(text.contains("antenv_items_claimed_total 0"), "{text}");
        assert!(text.contains("antenv_items_in_flight 0"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
        // Every HELP text is one sentence: a capital, one closing period.
        let helps: Vec<&str> = text.lines().filter(|l| l.starts_with("# HELP ")).collect();
        assert!(helps.len() > 15, "{text}");
        for help in helps {
            let sentence = help.splitn(4, ' ').nth(3).unwrap_or_default();
            assert!(
                sentence.ends_with('.')
                    && !sentence.ends_with("..")
                    && sentence.starts_with(|c: char| c.is_ascii_uppercase()),
                "{help}"
            );
        }
        health.set_phase(Phase::ShuttingDown);
        assert_eq!(health.check().0, StatusCode::SERVICE_UNAVAILABLE);
        health.set_phase(Phase::Failed);
        assert_eq!(health.check().1, "failed\n");
    }
}
