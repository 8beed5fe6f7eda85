//! A worker that polls on demand: once the queue is empty it waits for a
//! wake-up (a webhook saying work arrived) instead of polling again, then
//! polls until the queue is empty again. On paused time: hours pass
//! without a poll.

mod common;

use std::time::Duration;

use anthropic_environments_mock::MockServer;
use anthropic_environments_worker::{Wakeup, WorkContext, Worker};
use tokio::sync::mpsc;

#[tokio::test(start_paused = true)]
async fn an_empty_queue_is_polled_again_only_when_woken() {
    let server = MockServer::start().await;
    let (client, env) = common::mock_environment(&server, "wakeup").await;
    let wakeup = Wakeup::new();
    let builder = Worker::builder(client.work(&env))
        .non_blocking()
        .reclaim_older_than_ms(2000)
        .poll_on_wakeup(wakeup.clone());
    let shutdown = builder.shutdown_token();
    let (served, mut served_rx) = mpsc::unbounded_channel();
    let run = tokio::spawn(builder.build().unwrap().run(move |ctx: WorkContext| {
        let served = served.clone();
        async move {
            let _ = served.send(ctx.session_id().unwrap_or_default().to_owned());
            Ok::<(), std::io::Error>(())
        }
    }));
    let polls = || server.requests_for("poll_work").len();
    // The first poll finds nothing; an hour later, no other poll.
    while polls() == 0 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(polls(), 1, "an empty queue is not polled until a wake-up");
    let reclaim = server.requests_for("poll_work")[0]
        .query
        .clone()
        .unwrap_or_default();
    assert!(reclaim.contains("reclaim_older_than_ms=2000"), "{reclaim}");
    assert!(!reclaim.contains("block_ms"), "{reclaim}");

    // Work arrives; nothing is served until the wake-up.
    server.queue_work(&env, "sesn_a").unwrap();
    server.queue_work(&env, "sesn_b").unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(served_rx.try_recv().is_err());
    wakeup.wake();
    let mut sessions = vec![
        served_rx.recv().await.unwrap(),
        served_rx.recv().await.unwrap(),
    ];
    sessions.sort();
    assert_eq!(sessions, ["sesn_a", "sesn_b"]);
    // Drained: polled until empty, then quiet again.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let after = polls();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(polls(), after, "quiet once the queue is empty");
    // A wake-up with nothing queued costs one poll.
    wakeup.wake();
    while polls() == after {
        tokio::task::yield_now().await;
    }
    shutdown.cancel();
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.succeeded, 2, "{report:?}");
}
