//! The session runner through faults, on paused time (custom tools only,
//! so nothing but tokio's clock is waited on): streams that end after one
//! event (reconnects, the history reconciled, duplicates), result posts
//! that never succeed (given up within the lease's TTL, then run again by
//! the next reconcile), and a lease lost while a tool runs (the tool
//! cancelled, nothing posted, the item not stopped), and a shutdown (the
//! running call finishes and posts within the drain time, nothing new
//! starts).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anthropic_environments_mock::{Fault, FaultConfig, FaultRule, MockServer};
use anthropic_environments_worker::{
    SessionRunner, ToolCallOutcome, ToolCallReport, WorkContext, Worker,
};
use serde_json::{Value, json};

fn custom_call(n: usize) -> Value {
    json!({"type": "agent.custom_tool_use", "name": "count", "input": {"n": n}})
}

fn answered(server: &MockServer, session: &str) -> Vec<Value> {
    server
        .session_events(session)
        .unwrap()
        .into_iter()
        .filter(|e| e["type"] == "user.custom_tool_result")
        .collect()
}

/// A session with `calls` custom calls queued in a new environment.
async fn session_with(
    server: &MockServer,
    calls: usize,
) -> (anthropic_environments::Client, String, String) {
    let (client, env) = common::mock_environment(server, "faults").await;
    let session = server
        .create_session(&env, None, Some(json!([])), true)
        .unwrap();
    let id = session["id"].as_str().unwrap().to_owned();
    server
        .append_session_events(&id, (0..calls).map(custom_call).collect())
        .unwrap();
    (client, env, id)
}

/// A runner whose `count` tool takes an hour: a message when a call
/// starts, and how many calls finished.
fn hour_long_count(
    workdir: &std::path::Path,
) -> (
    SessionRunner,
    tokio::sync::mpsc::UnboundedReceiver<()>,
    Arc<AtomicUsize>,
) {
    let (started, started_rx) = tokio::sync::mpsc::unbounded_channel();
    let finished = Arc::new(AtomicUsize::new(0));
    let done = finished.clone();
    let runner = SessionRunner::new(workdir)
        .max_idle(None)
        .custom_tool("count", move |_| {
            let _ = started.send(());
            let done = done.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                done.fetch_add(1, Ordering::SeqCst);
                Ok("too late".to_owned())
            }
        });
    (runner, started_rx, finished)
}

#[tokio::test(start_paused = true)]
async fn streams_that_break_every_event_still_run_each_call_once() {
    let server = MockServer::start().await;
    let (client, env, session) = session_with(&server, 5).await;
    // Every stream ends after one event: the runner reconnects (and lists
    // the history) again and again.
    server.set_faults(FaultConfig {
        stream_event_limit: Some(1),
        ..FaultConfig::none()
    });
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let workdir = tempfile::tempdir().unwrap();
    let (ended, mut ended_rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = SessionRunner::new(workdir.path())
        .max_idle(None)
        .on_tool_call(move |r| {
            let _ = ended.send(r.outcome);
        })
        .custom_tool("count", move |input| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move { Ok(format!("counted {}", input["n"])) }
        });
    let run = tokio::spawn(
        Worker::builder(client.work(&env))
            .drain(true)
            .build()
            .unwrap()
            .run(move |ctx: WorkContext| {
                let runner = runner.clone();
                async move { runner.serve(ctx).await.map(drop) }
            }),
    );
    // Each call's end, as the runner reports it (after its post).
    for _ in 0..5 {
        let outcome = ended_rx.recv().await.unwrap();
        assert_eq!(outcome, ToolCallOutcome::Posted { is_error: false });
    }
    server
        .append_session_events(&session, vec![json!({"type": "session.status_terminated"})])
        .unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 5, "each call ran once");
    assert_eq!(answered(&server, &session).len(), 5, "one result each");
    assert!(
        server.requests_for("stream_session_events").len() > 3,
        "it reconnected"
    );
}

#[tokio::test(start_paused = true)]
async fn a_result_that_cannot_be_posted_is_given_up_within_the_lease() {
    let server = MockServer::start().await;
    let (client, env, session) = session_with(&server, 1).await;
    server.set_faults(FaultConfig::rules([FaultRule::on_operation(
        "send_session_events",
        Fault::Status(503),
    )]));
    let (seen, mut reports) = tokio::sync::mpsc::unbounded_channel::<ToolCallReport>();
    let workdir = tempfile::tempdir().unwrap();
    let runner = SessionRunner::new(workdir.path())
        .max_idle(None)
        .on_tool_call(move |r| {
            let _ = seen.send(r.clone());
        })
        .custom_tool("count", |_| async { Ok("counted".to_owned()) });
    let started = tokio::time::Instant::now();
    let run = tokio::spawn(
        Worker::builder(client.work(&env))
            .drain(true)
            .build()
            .unwrap()
            .run(move |ctx: WorkContext| {
                let runner = runner.clone();
                async move { runner.serve(ctx).await.map(drop) }
            }),
    );
    let report = reports.recv().await.unwrap();
    let given_up_after = started.elapsed();
    assert_eq!(report.outcome, ToolCallOutcome::GaveUp);
    // The lease's TTL (the mock's 30 s) bounds the retries.
    assert!(
        given_up_after <= Duration::from_secs(35),
        "{given_up_after:?}"
    );
    assert!(
        server.requests_for("send_session_events").len() >= 3,
        "retried"
    );
    server
        .append_session_events(&session, vec![json!({"type": "session.status_terminated"})])
        .unwrap();
    run.await.unwrap().unwrap();
    assert!(answered(&server, &session).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_lease_lost_mid_tool_cancels_it_and_posts_nothing() {
    let server = MockServer::start().await;
    let (client, env, session) = session_with(&server, 1).await;
    let workdir = tempfile::tempdir().unwrap();
    let (runner, mut started_rx, finished) = hour_long_count(workdir.path());
    let worker = Worker::builder(client.work(&env))
        .drain(true)
        .build()
        .unwrap();
    let run = tokio::spawn(worker.run(move |ctx: WorkContext| {
        let runner = runner.clone();
        async move { runner.serve(ctx).await.map(drop) }
    }));
    started_rx.recv().await.unwrap();
    // Another holder takes the lease over.
    let item = server.work_items(&env)[0].clone();
    common::take_lease_over(&client.work(&env), &item.id).await;
    let report = tokio::time::timeout(Duration::from_secs(600), run)
        .await
        .expect("the lost lease ends the serving")
        .unwrap()
        .unwrap();
    assert_eq!((report.lease_lost, report.stopped), (1, 0));
    assert_eq!(finished.load(Ordering::SeqCst), 0, "the tool was cancelled");
    assert!(answered(&server, &session).is_empty(), "nothing posted");
    assert!(server.requests_for("stop_work").is_empty(), "not stopped");
}

/// A worker serving `session` in-process with `runner`, shut down through
/// the returned token; the shutdown grace is long (120 s), so a serving
/// that ends before it ended on its own.
fn serve_until_shutdown(
    client: &anthropic_environments::Client,
    env: &str,
    runner: SessionRunner,
) -> (
    tokio_util::sync::CancellationToken,
    tokio::task::JoinHandle<
        anthropic_environments::Result<anthropic_environments_worker::WorkerReport>,
    >,
) {
    let builder =
        Worker::builder(client.work(env)).timing(anthropic_environments_worker::WorkerTiming {
            shutdown_grace: Duration::from_secs(120),
            ..Default::default()
        });
    let shutdown = builder.shutdown_token();
    let run = tokio::spawn(builder.build().unwrap().run(move |ctx: WorkContext| {
        let runner = runner.clone();
        async move { runner.serve(ctx).await.map(drop) }
    }));
    (shutdown, run)
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_lets_the_running_call_post_and_leaves_the_queued_ones() {
    let server = MockServer::start().await;
    let (client, env, session) = session_with(&server, 3).await;
    let (started, mut started_rx) = tokio::sync::mpsc::unbounded_channel();
    let release = Arc::new(tokio::sync::Notify::new());
    let released = release.clone();
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let workdir = tempfile::tempdir().unwrap();
    let runner = SessionRunner::new(workdir.path())
        .max_idle(None)
        .custom_tool("count", move |input| {
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = started.send(());
            let released = released.clone();
            async move {
                released.notified().await;
                Ok(format!("counted {}", input["n"]))
            }
        });
    let (shutdown, run) = serve_until_shutdown(&client, &env, runner);
    started_rx.recv().await.unwrap();
    let signalled = tokio::time::Instant::now();
    shutdown.cancel();
    release.notify_one();
    let report = run.await.unwrap().unwrap();
    assert!(
        signalled.elapsed() < Duration::from_secs(120),
        "the serving ended before the grace: {:?}",
        signalled.elapsed()
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1, "nothing new started");
    let results = answered(&server, &session);
    assert_eq!(results.len(), 1, "the running call posted: {results:?}");
    assert_eq!(results[0]["content"][0]["text"], "counted 0");
    assert_eq!((report.succeeded, report.stopped), (1, 1), "{report:?}");
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_gives_the_running_call_the_drain_time_then_cancels_it() {
    let server = MockServer::start().await;
    let (client, env, session) = session_with(&server, 1).await;
    let workdir = tempfile::tempdir().unwrap();
    let (runner, mut started_rx, finished) = hour_long_count(workdir.path());
    let (shutdown, run) = serve_until_shutdown(&client, &env, runner);
    started_rx.recv().await.unwrap();
    let signalled = tokio::time::Instant::now();
    shutdown.cancel();
    let report = run.await.unwrap().unwrap();
    let took = signalled.elapsed();
    // The runner's drain time (30 s), not the worker's grace (120 s).
    assert!(
        took >= Duration::from_secs(30) && took < Duration::from_secs(60),
        "{took:?}"
    );
    assert_eq!(finished.load(Ordering::SeqCst), 0, "the tool was cancelled");
    assert!(answered(&server, &session).is_empty(), "nothing posted");
    assert_eq!(report.stopped, 1, "the item was stopped: {report:?}");
}
