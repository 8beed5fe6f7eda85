//! `antenv work stuck`, the built binary against the strict mock set to
//! behave as the real queue (an item acknowledged but never heartbeated
//! stays `starting`): a worker killed between its ack and its first
//! heartbeat (held back by a fault) leaves an item that `work stuck`
//! lists and `--stop` stops; an item heartbeated lately is never listed.

mod common;

use std::time::Duration;

use anthropic_environments::{NO_HEARTBEAT, WorkState};
use anthropic_environments_mock::{Fault, FaultConfig, FaultRule, Timing};
use common::{fixture_with, spawn, wait_for};
use nix::sys::signal::Signal;
use serde_json::Value;

const LONG: Duration = Duration::from_secs(30);

/// `antenv work stuck ARGS --output json`: the listed rows.
async fn stuck(f: &common::Fixture, args: &[&str]) -> (i32, Vec<Value>) {
    let mut cmd = f.worker(["work", "stuck", "--output", "json"]);
    cmd.args(args)
        .env("ANTHROPIC_ENVIRONMENT_ID", &f.environment_id);
    let (code, stdout, stderr) = common::output(cmd).await;
    let rows = serde_json::Deserializer::from_str(&stdout)
        .into_iter::<Value>()
        .map(|v| v.unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}")))
        .flat_map(|v| match v {
            Value::Array(rows) => rows,
            row => vec![row],
        })
        .collect();
    (code, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_before_its_first_heartbeat_leaves_an_item_stuck_until_stopped() {
    let f = fixture_with(Timing {
        default_ttl: Duration::from_secs(2),
        stop_grace: Duration::from_millis(50),
        requeue_unheartbeated: false,
        ..Timing::default()
    })
    .await;
    // The doomed item's heartbeats never get an answer, whenever they
    // reach the mock (a rule on its path, kept to the end: a heartbeat
    // the killed worker had written before it died may be read after the
    // kill, and must not make the item active).
    let doomed = f.queue_session("session_doomed");
    f.server
        .set_faults(FaultConfig::rules([FaultRule::on_operation(
            "heartbeat_work",
            Fault::Hang,
        )
        .path_contains(format!("/work/{doomed}/"))]));
    let mut cmd = f.worker(["worker", "poll", "--workdir"]);
    cmd.arg(f.path("sandbox"));
    let worker = spawn(cmd);
    wait_for("the ack", LONG, || f.state(&doomed) == WorkState::Starting).await;
    worker.signal(Signal::SIGKILL);

    // Another item, served by a live worker that heartbeats it.
    let live = f.queue_session("session_live");
    let queue = anthropic_environments::Client::builder()
        .environment_key(&f.environment_key)
        .base_url(f.server.base_url())
        .build()
        .unwrap()
        .work(&f.environment_id);
    let polled = queue.poll().send().await.unwrap().unwrap();
    assert_eq!(polled.id, live);
    queue.ack(&live).send().await.unwrap();
    let first = queue
        .heartbeat(&live)
        .expected_last_heartbeat(NO_HEARTBEAT)
        .send()
        .await
        .unwrap();
    let beating_id = live.clone();
    let beating = tokio::spawn(async move {
        let live = beating_id;
        let mut last = first.last_heartbeat;
        let mut every = tokio::time::interval(Duration::from_millis(200));
        loop {
            every.tick().await;
            match queue
                .heartbeat(&live)
                .expected_last_heartbeat(&last)
                .send()
                .await
            {
                Ok(beat) => last = beat.last_heartbeat,
                Err(e) => panic!("the live item's heartbeat failed: {e}"),
            }
        }
    });

    // Listed once it has been silent for a second; the live one never.
    let rows = common::poll_until("the stuck item listed", LONG, || async {
        let (code, rows) = stuck(&f, &["--older-than", "1s"]).await;
        assert_eq!(code, 0);
        assert!(
            rows.iter().all(|r| r["data_id"] != "session_live"),
            "a heartbeated item listed: {rows:?}"
        );
        (!rows.is_empty()).then_some(rows)
    })
    .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["id"], doomed.as_str());
    assert_eq!(rows[0]["state"], "starting");
    assert_eq!(rows[0]["reason"], "never_heartbeated");
    assert!(
        rows[0].get("stopped").is_none(),
        "not stopped without --stop"
    );
    assert_eq!(f.state(&doomed), WorkState::Starting, "still stuck");

    let (code, rows) = stuck(&f, &["--older-than", "1s", "--stop"]).await;
    assert_eq!(code, 0, "{rows:?}");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["stopped"], true);
    assert_eq!(f.state(&doomed), WorkState::Stopped);
    let (_, rows) = stuck(&f, &["--older-than", "1s"]).await;
    assert!(rows.is_empty(), "nothing stuck any more: {rows:?}");
    // A zero threshold would take every live item for a stuck one.
    let mut cmd = f.worker(["work", "stuck", "--older-than", "0s", "--stop"]);
    cmd.env("ANTHROPIC_ENVIRONMENT_ID", &f.environment_id);
    let (code, _, stderr) = common::output(cmd).await;
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(f.state(&live), WorkState::Active, "the live item untouched");
    beating.abort();
}
