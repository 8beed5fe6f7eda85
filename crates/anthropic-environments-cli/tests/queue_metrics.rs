//! The queue's gauges, the autoscaling signal: `work stats --output
//! prometheus` and `worker poll --stats-interval` against the strict mock,
//! their values checked against the queue's own statistics.

mod common;

use std::time::Duration;

use common::{fixture, spawn};
use nix::sys::signal::Signal;

const LONG: Duration = Duration::from_secs(30);

/// The value of `name` in Prometheus text.
fn gauge(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_stats_prints_the_gauges_once() {
    let f = fixture().await;
    f.queue_session("session_a");
    f.queue_session("session_b");
    let mut cmd = f.worker(["work", "stats", "--output", "prometheus"]);
    cmd.env("ANTHROPIC_ENVIRONMENT_ID", &f.environment_id);
    let (code, stdout, stderr) = common::output(cmd).await;
    assert_eq!(code, 0, "{stderr}");
    let stats = f.api.work(&f.environment_id).stats().send().await.unwrap();
    assert_eq!(
        gauge(&stdout, "antenv_queue_depth"),
        Some(stats.depth as f64),
        "{stdout}"
    );
    assert_eq!(
        gauge(&stdout, "antenv_queue_pending"),
        Some(stats.pending as f64)
    );
    assert_eq!(gauge(&stdout, "antenv_queue_stuck_items"), Some(0.0));
    let age = gauge(&stdout, "antenv_queue_oldest_item_age_seconds").unwrap();
    assert!((0.0..60.0).contains(&age), "{age}");
    // With an API key only, no stuck count (it needs to list the items).
    let mut cmd = f.admin(["work", "stats", "--output", "prometheus"]);
    cmd.env("ANTHROPIC_ENVIRONMENT_ID", &f.environment_id);
    let (code, stdout, stderr) = common::output(cmd).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(gauge(&stdout, "antenv_queue_depth").is_some());
    assert!(!stdout.contains("stuck"), "{stdout}");
    // Other commands refuse the format.
    let mut cmd = f.worker(["work", "list", "--output", "prometheus"]);
    cmd.env("ANTHROPIC_ENVIRONMENT_ID", &f.environment_id);
    let (code, _, stderr) = common::output(cmd).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("invalid value 'prometheus'"), "{stderr}");
    // Both keys: the stats with either, the stuck items with the
    // environment key.
    let mut cmd = f.worker(["work", "stats", "--output", "prometheus"]);
    cmd.env("ANTHROPIC_ENVIRONMENT_ID", &f.environment_id)
        .env("ANTHROPIC_API_KEY", common::API_KEY);
    let (code, stdout, stderr) = common::output(cmd).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        gauge(&stdout, "antenv_queue_stuck_items"),
        Some(0.0),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_exports_the_gauges_the_autoscaling_manifests_name() {
    let f = fixture().await;
    for s in ["session_a", "session_b", "session_c"] {
        f.queue_session(s);
    }
    let script = f.script("busy.sh", "exec sleep 600");
    let mut cmd = f.worker([
        "worker",
        "poll",
        "--stats-interval",
        "100ms",
        "--health-listen",
        "127.0.0.1:0",
        "--log-format",
        "json",
        "--worker-id",
        "metrics-1",
        "--grace",
        "0s",
        "--kill-grace",
        "1s",
        "--on-work",
    ]);
    cmd.arg(&script);
    let mut worker = spawn(cmd);
    let address = common::logged_address(&worker, "health and metrics listening", LONG).await;
    // One item taken (its script never ends): two left, one worker polling.
    let metrics = common::poll_until("the gauges", LONG, || async {
        let text = reqwest::get(format!("http://{address}/metrics"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        (gauge(&text, "antenv_queue_depth") == Some(2.0)
            && gauge(&text, "antenv_queue_workers_polling") == Some(1.0))
        .then_some(text)
    })
    .await;
    let stats = f.api.work(&f.environment_id).stats().send().await.unwrap();
    assert_eq!(stats.depth, 2, "the mock agrees: {stats:?}");
    assert_eq!(
        gauge(&metrics, "antenv_queue_stuck_items"),
        Some(0.0),
        "{metrics}"
    );
    // Every metric the autoscaling manifests scale on is exported.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut named = 0;
    for file in [
        "deploy/autoscaling/keda-scaledobject.yaml",
        "deploy/autoscaling/hpa.yaml",
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("antenv_") {
                named += 1;
                assert!(
                    metrics.lines().any(|l| l.starts_with(&format!("{word} "))),
                    "{file} names {word}, which the worker does not export"
                );
            }
        }
    }
    assert!(named >= 2, "each manifest names a metric");
    worker.signal(Signal::SIGTERM);
    assert!(worker.exit(LONG).await.success(), "{}", worker.log_text());
    assert!(worker.assert_plain_json_logs() > 5, "{}", worker.log_text());
}
