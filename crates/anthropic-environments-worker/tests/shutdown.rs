//! A shutdown is bounded even when every stop is black-holed (the mock
//! never answers them), on paused time with the official timing: the worker
//! returns within `shutdown_grace + cancel_grace + stop_timeout`, and
//! `ServeOne` within `cancel_grace + stop_timeout`; the items left
//! unstopped are counted and reported.

mod common;

use std::sync::{Arc, Mutex};

use anthropic_environments::WorkState;
use anthropic_environments_mock::{Fault, FaultConfig, FaultRule, MockServer};
use anthropic_environments_worker::{
    CancelReason, ItemOutcome, ItemReport, ServeMode, ServeOne, StopResult, WorkContext, Worker,
    WorkerTiming,
};
use tokio::sync::mpsc;
use tokio::time::{Duration, Instant};

fn black_hole_stops(server: &MockServer) {
    server.set_faults(FaultConfig {
        rules: vec![FaultRule::on_operation("stop_work", Fault::Hang)],
        ..FaultConfig::none()
    });
}

#[tokio::test(start_paused = true)]
async fn a_worker_with_every_stop_black_holed_ends_within_its_bound() {
    let server = MockServer::start().await;
    let (client, env) = common::mock_environment(&server, "bounded").await;
    for i in 0..2 {
        server.queue_work(&env, &format!("s{i}")).unwrap();
    }
    let timing = WorkerTiming::default();
    let ended: Arc<Mutex<Vec<ItemReport>>> = Arc::default();
    let seen = ended.clone();
    let builder = Worker::builder(client.work(&env))
        .concurrency(2)
        .timing(timing.clone())
        .on_item_end(move |report| seen.lock().unwrap().push(report.clone()));
    let shutdown = builder.shutdown_token();
    let (started, mut started_rx) = mpsc::unbounded_channel();
    let run = tokio::spawn(builder.build().unwrap().run(move |ctx: WorkContext| {
        let _ = started.send(());
        async move {
            ctx.cancelled().await;
            Ok::<(), std::io::Error>(())
        }
    }));
    for _ in 0..2 {
        started_rx.recv().await.unwrap();
    }
    black_hole_stops(&server);
    let signalled = Instant::now();
    shutdown.cancel();
    let report = run.await.unwrap().unwrap();
    let took = signalled.elapsed();
    let bound = timing.shutdown_grace + timing.cancel_grace + timing.stop_timeout;
    assert!(took <= bound, "{took:?} > {bound:?}");
    assert!(
        took >= timing.shutdown_grace,
        "the handlers had their grace: {took:?}"
    );
    assert_eq!(
        (report.claimed, report.stopped, report.unstopped),
        (2, 0, 2)
    );
    let ended = ended.lock().unwrap();
    assert_eq!(ended.len(), 2);
    for item in ended.iter() {
        assert_eq!(item.outcome, ItemOutcome::Cancelled(CancelReason::Shutdown));
        assert_eq!(item.stop, StopResult::Abandoned);
    }
    // Left to their leases (active, or queued again once they ran out):
    // never stopped, never lost.
    assert!(
        server
            .work_items(&env)
            .iter()
            .all(|w| matches!(w.state, WorkState::Active | WorkState::Queued)),
        "{:?}",
        server.work_items(&env)
    );
}

#[tokio::test(start_paused = true)]
async fn serving_one_item_with_its_stop_black_holed_ends_within_its_bound() {
    let server = MockServer::start().await;
    let (client, env) = common::mock_environment(&server, "bounded-one").await;
    let work = server.queue_work(&env, "one").unwrap();
    let queue = client.work(&env);
    queue.poll().send().await.unwrap().unwrap();
    queue.ack(&work.id).send().await.unwrap();
    let timing = WorkerTiming::default();
    let serve = ServeOne::builder(&env, &work.id, "one")
        .client_builder(anthropic_environments::Client::builder().base_url(server.base_url()))
        .environment_key("sk-ant-oat01-any")
        .timing(timing.clone());
    let shutdown = serve.shutdown_token();
    let (started, mut started_rx) = mpsc::unbounded_channel();
    let run = tokio::spawn(serve.build().unwrap().run(move |ctx: WorkContext| {
        let _ = started.send(());
        async move {
            ctx.cancelled().await;
            Ok::<(), std::io::Error>(())
        }
    }));
    started_rx.recv().await.unwrap();
    black_hole_stops(&server);
    let signalled = Instant::now();
    shutdown.cancel();
    let report = run.await.unwrap();
    let took = signalled.elapsed();
    let bound = timing.cancel_grace + timing.stop_timeout;
    assert!(took <= bound, "{took:?} > {bound:?}");
    assert_eq!(
        report.outcome,
        ItemOutcome::Cancelled(CancelReason::Shutdown)
    );
    assert_eq!(report.stop, StopResult::Abandoned);
}

/// The lease lost while a shutdown's cancelled handler still runs (it asked
/// the handler to stop first): the item is another worker's now, and is
/// left alone, never stopped.
#[tokio::test(start_paused = true)]
async fn a_lease_lost_during_the_shutdown_is_never_stopped() {
    let server = MockServer::start().await;
    let (client, env) = common::mock_environment(&server, "lost-late").await;
    let item = server.queue_work(&env, "late").unwrap();
    let timing = WorkerTiming {
        shutdown_grace: std::time::Duration::from_secs(1),
        cancel_grace: std::time::Duration::from_secs(20),
        heartbeat_interval_cap: std::time::Duration::from_secs(1),
        ..WorkerTiming::default()
    };
    let ended: Arc<Mutex<Vec<ItemReport>>> = Arc::default();
    let seen = ended.clone();
    let builder = Worker::builder(client.work(&env))
        .desired_ttl_seconds(10)
        .timing(timing)
        .on_item_end(move |report| seen.lock().unwrap().push(report.clone()));
    let shutdown = builder.shutdown_token();
    let (events, mut events_rx) = mpsc::unbounded_channel();
    let run = tokio::spawn(builder.build().unwrap().run(move |ctx: WorkContext| {
        let cancelled = events.clone();
        // Called once the lease is claimed.
        let _ = cancelled.send(None);
        async move {
            ctx.cancelled().await;
            let _ = cancelled.send(ctx.cancel_reason());
            // Ignores its cancellation: runs on through its grace.
            std::future::pending::<()>().await;
            Ok::<(), std::io::Error>(())
        }
    }));
    // Once the lease is claimed, shut down; once the handler is cancelled,
    // another holder takes the lease over.
    assert_eq!(events_rx.recv().await.unwrap(), None);
    shutdown.cancel();
    assert_eq!(
        events_rx.recv().await.unwrap(),
        Some(CancelReason::Shutdown)
    );
    common::take_lease_over(&client.work(&env), &item.id).await;
    let report = run.await.unwrap().unwrap();
    assert_eq!((report.lease_lost, report.stopped), (1, 0));
    let ended = ended.lock().unwrap();
    assert!(
        matches!(ended[0].outcome, ItemOutcome::LeaseLost(_)),
        "{:?}",
        ended[0]
    );
    assert_eq!(ended[0].stop, StopResult::NotAttempted);
    assert_eq!(
        server.work_items(&env)[0].state,
        WorkState::Active,
        "left to its holder"
    );
}

/// A shutdown that comes once a draining worker has stopped polling, and a
/// handed-off item's handler: both are still cancelled after the grace and
/// bounded like any other.
#[tokio::test(start_paused = true)]
async fn draining_and_hand_off_workers_are_bounded_too() {
    for mode in [ServeMode::Leased, ServeMode::HandOff] {
        let server = MockServer::start().await;
        let (client, env) = common::mock_environment(&server, "drain-bounded").await;
        server.queue_work(&env, "held").unwrap();
        let timing = WorkerTiming::default();
        let builder = Worker::builder(client.work(&env))
            .drain(true)
            .mode(mode)
            .timing(timing.clone());
        let shutdown = builder.shutdown_token();
        let (started, mut started_rx) = mpsc::unbounded_channel();
        let run = tokio::spawn(builder.build().unwrap().run(move |ctx: WorkContext| {
            let _ = started.send(());
            async move {
                ctx.cancelled().await;
                Ok::<(), std::io::Error>(())
            }
        }));
        started_rx.recv().await.unwrap();
        // The queue is empty: the poll loop ends; the handler runs on.
        let signalled = Instant::now();
        shutdown.cancel();
        let bound = timing.shutdown_grace + timing.cancel_grace;
        let report = tokio::time::timeout(bound + Duration::from_secs(1), run)
            .await
            .expect("bounded")
            .unwrap()
            .unwrap();
        let took = signalled.elapsed();
        assert!(took >= timing.shutdown_grace, "{mode:?}: {took:?}");
        assert!(
            took <= timing.shutdown_grace + timing.cancel_grace,
            "{mode:?}: {took:?}"
        );
        assert_eq!(report.claimed, 1, "{mode:?}");
    }
}
