//! SIGTERM starts a worker's graceful shutdown and a second one forces it.
//! Alone in its test binary: the signals go to the whole process.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anthropic_environments_mock::MockServer;
use anthropic_environments_worker::{CancelReason, WorkContext, Worker, WorkerTiming};
use tokio::sync::mpsc;

fn sigterm() {
    // SAFETY: sending a signal to this very process; the worker under test
    // has installed its SIGTERM listener before `started` fired.
    let rc = unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    assert_eq!(rc, 0);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_signal_drains_and_a_second_forces_the_shutdown() {
    let server = MockServer::start().await;
    let (client, env) = common::mock_environment(&server, "signals").await;
    for i in 0..3 {
        server.queue_work(&env, &format!("s{i}")).unwrap();
    }
    let (started, mut started_rx) = mpsc::unbounded_channel::<String>();
    let reasons: Arc<Mutex<Vec<Option<CancelReason>>>> = Arc::default();
    let seen = reasons.clone();
    let worker = Worker::builder(client.work(&env))
        .block_ms(50)
        .timing(WorkerTiming {
            idle_sleep: (Duration::from_millis(5), Duration::from_millis(10)),
            // Only a forced shutdown can end this run in time.
            shutdown_grace: Duration::from_secs(3600),
            cancel_grace: Duration::from_secs(5),
            ..WorkerTiming::default()
        })
        .shutdown_on_signal();
    let shutdown = worker.shutdown_token();
    let worker = worker.build().unwrap();
    let run = tokio::spawn(worker.run(move |ctx: WorkContext| {
        let started = started.clone();
        let seen = seen.clone();
        async move {
            let _ = started.send(ctx.work().id.clone());
            ctx.cancelled().await;
            seen.lock().unwrap().push(ctx.cancel_reason());
            Ok::<(), std::io::Error>(())
        }
    }));
    let first = started_rx.recv().await.unwrap();
    sigterm();
    // The worker stops claiming: the other two items stay queued, and the
    // handler keeps running (graceful) until the second signal.
    let queued_after = || {
        server
            .work_items(&env)
            .iter()
            .filter(|w| w.state.as_str() == "queued")
            .count()
    };
    shutdown.cancelled().await;
    assert!(!run.is_finished(), "a first signal waits for the handler");
    assert!(reasons.lock().unwrap().is_empty());
    sigterm();
    let report = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the second signal forces the shutdown")
        .unwrap()
        .unwrap();
    assert_eq!(*reasons.lock().unwrap(), [Some(CancelReason::Shutdown)]);
    // At once: the stop is given up too; the lease runs out instead.
    assert_eq!(
        (report.claimed, report.stopped, report.unstopped),
        (1, 0, 1)
    );
    assert_eq!(queued_after(), 2, "nothing claimed after the first signal");
    assert!(started_rx.try_recv().is_err(), "only {first} was started");
}
