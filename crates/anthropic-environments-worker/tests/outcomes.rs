//! Each item's end is observed while the worker runs
//! (`WorkerBuilder::on_item_end`), for every kind of end; and poll errors
//! back off as the official workers do. On paused time with the official
//! timing.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anthropic_environments::WorkState;
use anthropic_environments_mock::{Fault, FaultConfig, MockServer};
use anthropic_environments_worker::{
    CancelReason, ItemOutcome, ItemReport, ServeMode, StopResult, WorkContext, Worker,
};
use tokio::time::{Duration, Instant};

type Ended = Arc<Mutex<BTreeMap<String, ItemReport>>>;

fn observer(ended: &Ended) -> impl Fn(&ItemReport) + Send + Sync + 'static {
    let ended = ended.clone();
    move |report: &ItemReport| {
        let key = report.session_id.clone().unwrap_or(report.work_id.clone());
        ended.lock().unwrap().insert(key, report.clone());
    }
}

#[tokio::test(start_paused = true)]
async fn every_kind_of_end_is_observed() {
    let server = MockServer::start().await;
    let (client, env) = common::mock_environment(&server, "outcomes").await;
    for session in ["ok", "err", "panic", "stopped_by_server"] {
        server.queue_work(&env, session).unwrap();
    }
    let healthcheck = server.queue_healthcheck(&env, "hc").unwrap().id;
    let ended: Ended = Arc::default();
    let (queue, admin) = (client.work(&env), client.work(&env));
    let report = Worker::builder(queue)
        .concurrency(5)
        .drain(true)
        .on_item_end(observer(&ended))
        .build()
        .unwrap()
        .run(move |ctx: WorkContext| {
            let admin = admin.clone();
            async move {
                match ctx.session_id().unwrap_or_default() {
                    "err" => Err(std::io::Error::other("boom")),
                    "panic" => panic!("handler bug"),
                    "stopped_by_server" => {
                        // Stopped from elsewhere while it runs: the next
                        // heartbeat's answer cancels the handler.
                        admin.stop(&ctx.work().id).send().await.unwrap();
                        ctx.cancelled().await;
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        Ok(())
                    }
                    _ => {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        Ok(())
                    }
                }
            }
        })
        .await
        .unwrap();
    let ended = ended.lock().unwrap();
    let outcome = |key: &str| ended[key].outcome.clone();
    assert_eq!(outcome("ok"), ItemOutcome::Succeeded);
    assert_eq!(outcome("err"), ItemOutcome::Failed("boom".into()));
    assert_eq!(
        outcome("panic"),
        ItemOutcome::Failed("the handler panicked: handler bug".into())
    );
    assert_eq!(
        outcome("stopped_by_server"),
        ItemOutcome::Cancelled(CancelReason::ServerStopping)
    );
    assert_eq!(outcome(&healthcheck), ItemOutcome::NotASession);
    assert_eq!(ended.len(), 5, "{ended:?}");
    assert!(
        ended.values().all(|r| r.stop == StopResult::Stopped),
        "{ended:?}"
    );
    // The handler that slept 2 s took at least that, from its ack.
    assert!(ended["ok"].duration >= Duration::from_secs(2));
    assert_eq!((report.stopped, report.unstopped), (5, 0));
    assert!(
        server
            .work_items(&env)
            .iter()
            .all(|w| w.state == WorkState::Stopped)
    );
}

#[tokio::test(start_paused = true)]
async fn hand_offs_and_lost_leases_are_observed_and_never_stopped() {
    let server = MockServer::start().await;
    let (client, env) = common::mock_environment(&server, "handed").await;
    server.queue_work(&env, "handed").unwrap();
    let ended: Ended = Arc::default();
    Worker::builder(client.work(&env))
        .drain(true)
        .mode(ServeMode::HandOffLease)
        .on_item_end(observer(&ended))
        .build()
        .unwrap()
        .run(|ctx: WorkContext| async move {
            // The live lease the receiver continues.
            match ctx.last_heartbeat() {
                Some(_) => Ok(()),
                None => Err(std::io::Error::other("no lease handed over")),
            }
        })
        .await
        .unwrap();
    server.queue_work(&env, "lost").unwrap();
    Worker::builder(client.work(&env))
        .drain(true)
        .on_item_end(observer(&ended))
        .build()
        .unwrap()
        .run(move |ctx: WorkContext| {
            let queue = ctx.client().work(&ctx.work().environment_id);
            async move {
                // Another holder takes the lease over.
                let current = ctx.last_heartbeat().unwrap();
                queue
                    .heartbeat(&ctx.work().id)
                    .expected_last_heartbeat(current)
                    .send()
                    .await
                    .unwrap();
                ctx.cancelled().await;
                Ok::<(), std::io::Error>(())
            }
        })
        .await
        .unwrap();
    let ended = ended.lock().unwrap();
    assert_eq!(ended["handed"].outcome, ItemOutcome::HandedOff);
    assert_eq!(ended["handed"].stop, StopResult::NotAttempted);
    assert_eq!(
        ended["lost"].outcome,
        ItemOutcome::LeaseLost(CancelReason::LeaseLost)
    );
    assert_eq!(ended["lost"].stop, StopResult::NotAttempted);
    let states: Vec<_> = server
        .work_items(&env)
        .into_iter()
        .map(|w| w.state)
        .collect();
    assert_eq!(
        states,
        [WorkState::Active, WorkState::Active],
        "neither stopped"
    );
}

/// Three failed polls wait 2, 4 and 8 s (the official `2^n` s, plus up to
/// 1 s of jitter each) before the fourth finds the item: a loop without
/// back-off would reach it at once.
#[tokio::test(start_paused = true)]
async fn poll_errors_back_off_exponentially() {
    let server = MockServer::start().await;
    let (client, env) = common::mock_environment(&server, "backoff").await;
    server.queue_work(&env, "after_errors").unwrap();
    server.set_faults(FaultConfig {
        // The worker's first three requests are its polls.
        sequence: vec![Fault::Status(503); 3],
        ..FaultConfig::none()
    });
    let started = Instant::now();
    let reached: Arc<Mutex<Option<Duration>>> = Arc::default();
    let seen = reached.clone();
    let report = Worker::builder(client.work(&env))
        .drain(true)
        .build()
        .unwrap()
        .run(move |_ctx: WorkContext| {
            *seen.lock().unwrap() = Some(started.elapsed());
            async { Ok::<(), std::io::Error>(()) }
        })
        .await
        .unwrap();
    assert_eq!((report.poll_errors, report.succeeded), (3, 1));
    let reached = reached.lock().unwrap().expect("the item was served");
    assert!(
        reached >= Duration::from_secs(2 + 4 + 8),
        "backed off 2 + 4 + 8 s: {reached:?}"
    );
    assert!(
        reached <= Duration::from_secs(2 + 4 + 8 + 3 + 3),
        "plus at most 1 s of jitter each (and three block_ms): {reached:?}"
    );
}
