//! The worker's rules for what the real queue sends: items it cannot read,
//! acks another worker won, non-blocking polls, and no retries stacked on
//! the worker's own.

mod common;

use std::time::Duration;

use anthropic_environments::Client;
use anthropic_environments::prelude::*;
use anthropic_environments::types::BetaWorkData;
use anthropic_environments_mock::{Fault, FaultConfig, MockServer, Timing};
use anthropic_environments_worker::{WorkContext, Worker, WorkerTiming};

fn timing() -> WorkerTiming {
    WorkerTiming {
        idle_sleep: (Duration::from_millis(5), Duration::from_millis(10)),
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(50),
        backoff_jitter: Duration::ZERO,
        ..WorkerTiming::default()
    }
}

async fn setup() -> (MockServer, Client, String) {
    let server = MockServer::builder()
        .timing(Timing {
            stop_grace: Duration::from_millis(20),
            ..Timing::default()
        })
        .start()
        .await;
    let (client, env) = common::mock_environment(&server, "rules").await;
    server.clear_requests();
    (server, client, env)
}

#[tokio::test(start_paused = true)]
async fn an_item_that_does_not_decode_is_taken_out_of_the_queue() {
    let (server, client, env) = setup().await;
    // A known tag with a malformed body: the client cannot decode the item.
    let bad = server
        .queue_work_data(
            &env,
            BetaWorkData::Unknown(serde_json::json!({"type": "session"})),
        )
        .unwrap();
    server.queue_work(&env, "good").unwrap();
    let err = client.work(&env).poll().send().await.unwrap_err();
    match &err {
        anthropic_environments::Error::Decode {
            object_id, excerpt, ..
        } => {
            assert_eq!(object_id.as_deref(), Some(bad.id.as_str()));
            assert!(!excerpt.contains("sk-ant"), "{excerpt}");
        }
        other => panic!("{other:?}"),
    }
    let report = Worker::builder(client.work(&env))
        .drain(true)
        .reclaim_older_than_ms(0)
        .timing(timing())
        .build()
        .unwrap()
        .run(|_ctx: WorkContext| async { Ok::<(), std::io::Error>(()) })
        .await
        .unwrap();
    assert_eq!((report.undecodable, report.claimed), (1, 1), "{report:?}");
    let items = server.work_items(&env);
    assert!(
        items.iter().all(|w| w.state == WorkState::Stopped),
        "neither item is left behind: {items:?} {:?}",
        server.requests()
    );
}

#[tokio::test(start_paused = true)]
async fn an_ack_conflict_goes_straight_back_to_polling() {
    let (server, client, env) = setup().await;
    server.queue_work(&env, "contested").unwrap();
    // The first poll passes; its ack is answered 409, as when another worker
    // acknowledged the item first.
    server.set_faults(FaultConfig {
        sequence: vec![Fault::Pass, Fault::Status(409)],
        ..FaultConfig::none()
    });
    let report = Worker::builder(client.work(&env))
        .drain(true)
        .reclaim_older_than_ms(0)
        .timing(timing())
        .build()
        .unwrap()
        .run(|_ctx: WorkContext| async { Ok::<(), std::io::Error>(()) })
        .await
        .unwrap();
    assert_eq!(
        (report.ack_conflicts, report.claimed, report.stopped),
        (1, 1, 1),
        "{report:?}"
    );
    let ops: Vec<(String, u16)> = server
        .requests()
        .into_iter()
        .map(|r| (r.path.rsplit('/').next().unwrap_or("").to_owned(), r.status))
        .collect();
    // The 409 ack is not retried by the client: the next request is a poll.
    let conflict = ops.iter().position(|(_, s)| *s == 409).unwrap();
    assert_eq!(ops[conflict + 1].0, "poll", "{ops:?}");
}

#[tokio::test(start_paused = true)]
async fn a_failed_ack_and_stop_are_retried_by_the_worker_alone() {
    let (server, client, env) = setup().await;
    server.queue_work(&env, "s").unwrap();
    server.set_faults(FaultConfig {
        error_rate: 1.0,
        error_statuses: vec![503],
        path_contains: Some("/stop".into()),
        ..FaultConfig::none()
    });
    let builder = Worker::builder(client.work(&env))
        .drain(true)
        .timing(timing());
    let run = tokio::spawn(
        builder
            .build()
            .unwrap()
            .run(|_ctx: WorkContext| async { Ok::<(), std::io::Error>(()) }),
    );
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.stopped, 0, "every stop failed");
    // Five attempts of the worker's stop loop, none multiplied by client
    // retries (the client's default would make 15).
    assert_eq!(server.requests_for("stop_work").len(), 5);
    assert_eq!(server.requests_for("ack_work").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_non_blocking_worker_polls_without_block_ms() {
    let (server, client, env) = setup().await;
    server.queue_work(&env, "s").unwrap();
    let report = Worker::builder(client.work(&env))
        .drain(true)
        .non_blocking()
        .timing(timing())
        .build()
        .unwrap()
        .run(|_ctx: WorkContext| async { Ok::<(), std::io::Error>(()) })
        .await
        .unwrap();
    assert_eq!(report.stopped, 1);
    let polls = server.requests_for("poll_work");
    assert!(polls.len() >= 2, "{polls:?}");
    for poll in polls {
        assert!(
            !poll.query.unwrap_or_default().contains("block_ms"),
            "a non-blocking poll sends no block_ms"
        );
    }
}

/// A server that accepts connections and never answers: each poll is cut
/// by the worker's request timeout (60 s on top of block_ms), not the
/// client's 10 minutes, and the worker backs off and polls again. Driven by
/// tokio's paused clock.
#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_holds_a_poll_for_the_request_timeout_only() {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (accepted, mut accepts) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let _ = accepted.send(tokio::time::Instant::now());
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                // Read the request, answer nothing.
                while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    let client = Client::builder()
        .api_key("k")
        .base_url(format!("http://{addr}"))
        .build()
        .unwrap();
    let builder = Worker::builder(client.work("env_silent"));
    let shutdown = builder.shutdown_token();
    let run = tokio::spawn(
        builder
            .build()
            .unwrap()
            .run(|_ctx: WorkContext| async { Ok::<(), std::io::Error>(()) }),
    );
    let first = accepts.recv().await.unwrap();
    let second = accepts.recv().await.unwrap();
    let gap = second - first;
    // 999 ms of block + 60 s of timeout, then a 2 s backoff and up to 1 s of
    // jitter.
    assert!(
        gap >= Duration::from_millis(60_999) && gap <= Duration::from_secs(65),
        "{gap:?}"
    );
    shutdown.cancel();
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.claimed, 0);
}
