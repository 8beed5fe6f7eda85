//! The worker against the mock server, with injected faults, on paused
//! time: the mock's clock, the client's retry sleeps and the worker's
//! timers are all tokio's, so minutes of leases and backoffs pass at once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use anthropic_environments::params::SelfHostedConfig;
use anthropic_environments::{Client, WorkState};
use anthropic_environments_mock::{CallerKind, FaultConfig, MockServer, Timing};
use anthropic_environments_worker::{
    CancelReason, ItemOutcome, ItemReport, ServeMode, WorkContext, Worker, WorkerTiming,
};

fn fast_timing() -> WorkerTiming {
    WorkerTiming {
        idle_sleep: (Duration::from_millis(5), Duration::from_millis(20)),
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(200),
        backoff_jitter: Duration::from_millis(10),
        heartbeat_interval_min: Duration::from_millis(100),
        initial_ttl: Duration::from_secs(2),
        cancel_grace: Duration::from_millis(100),
        shutdown_grace: Duration::from_millis(300),
        ..WorkerTiming::default()
    }
}

fn mock_timing() -> Timing {
    Timing {
        default_ttl: Duration::from_secs(2),
        stop_grace: Duration::from_millis(50),
        ..Timing::default()
    }
}

fn client(server: &MockServer) -> Client {
    Client::builder()
        .api_key("k")
        .base_url(server.base_url())
        .build()
        .unwrap()
}

async fn environment(client: &Client) -> String {
    client
        .environments()
        .create("fleet")
        .config(SelfHostedConfig)
        .send()
        .await
        .unwrap()
        .id
}

/// Per work item: (start, end, worker) of every time a handler held it.
type HoldLog = Arc<Mutex<HashMap<String, Vec<(Instant, Instant, String)>>>>;

/// Records when a handler held an item; the end is recorded on drop, so a
/// handler dropped after its grace period still closes its interval.
struct Held {
    log: HoldLog,
    work_id: String,
    worker: String,
    start: Instant,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.log
            .lock()
            .unwrap()
            .entry(self.work_id.clone())
            .or_default()
            .push((self.start, Instant::now(), self.worker.clone()));
    }
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(t0.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_fleet_handles_every_item_once_at_a_time_through_faults() {
    fleet_through_faults(Credentials::AnyKey, fast_timing()).await;
}

/// The same run as the official workers are deployed: the mock checks
/// credentials as the real API does, the fleet holds only the environment
/// key, and the timing keeps the official defaults' ratios (a thirtieth of
/// each).
#[tokio::test(start_paused = true)]
async fn a_fleet_with_the_environment_key_and_default_timing_ratios() {
    fleet_through_faults(
        Credentials::EnvironmentKey,
        WorkerTiming::default().scaled(1.0 / 30.0),
    )
    .await;
}

enum Credentials {
    AnyKey,
    EnvironmentKey,
}

async fn fleet_through_faults(credentials: Credentials, timing: WorkerTiming) {
    const ITEMS: usize = 500;
    let mut server = MockServer::builder().timing(mock_timing());
    if matches!(credentials, Credentials::EnvironmentKey) {
        server = server.strict_credentials();
    }
    let server = server.start().await;
    let admin = client(&server);
    let env = environment(&admin).await;
    let c = match credentials {
        Credentials::AnyKey => admin.clone(),
        Credentials::EnvironmentKey => Client::builder()
            .environment_key(server.environment_key(&env).unwrap())
            .base_url(server.base_url())
            .build()
            .unwrap(),
    };
    for i in 0..ITEMS {
        server.queue_work(&env, &format!("session_{i}")).unwrap();
    }
    server.clear_requests();
    server.set_faults(FaultConfig {
        seed: 2026,
        error_rate: 0.2,
        error_statuses: vec![500, 503, 529],
        heartbeat_loss_rate: 0.2,
        ..FaultConfig::none()
    });
    let log: HoldLog = Arc::default();
    // The items whose lease a worker could not claim (each is force-stopped
    // unhandled; when that stop is lost to the faults too, the item comes
    // back when its lease runs out, and another worker may handle it).
    let not_claimed: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut workers = Vec::new();
    let mut tokens = Vec::new();
    for w in 0..8 {
        let builder = Worker::builder(c.work(&env))
            .worker_id(format!("worker-{w}"))
            .concurrency(4)
            .block_ms(50)
            .reclaim_older_than_ms(1000)
            .desired_ttl_seconds(2)
            .timing(timing.clone())
            .on_item_end({
                let not_claimed = not_claimed.clone();
                move |report: &ItemReport| {
                    if matches!(report.outcome, ItemOutcome::NotClaimed(_)) {
                        not_claimed.lock().unwrap().insert(report.work_id.clone());
                    }
                }
            });
        tokens.push(builder.shutdown_token());
        let log = log.clone();
        let name = format!("worker-{w}");
        workers.push(tokio::spawn(builder.build().unwrap().run(
            move |ctx: WorkContext| {
                let held = Held {
                    log: log.clone(),
                    work_id: ctx.work().id.clone(),
                    worker: name.clone(),
                    start: Instant::now(),
                };
                async move {
                    let busy = Duration::from_millis(fastrand::u64(0..40));
                    tokio::select! {
                        _ = ctx.cancelled() => {}
                        _ = tokio::time::sleep(busy) => {}
                    }
                    drop(held);
                    Ok::<(), std::io::Error>(())
                }
            },
        )));
    }
    wait_until("every item stopped", Duration::from_secs(120), || {
        server
            .work_items(&env)
            .iter()
            .all(|w| w.state == WorkState::Stopped)
    })
    .await;
    for t in &tokens {
        t.cancel();
    }
    let (mut claimed, mut refusals) = (0, 0);
    for w in workers {
        let report = w.await.unwrap().unwrap();
        claimed += report.claimed;
        refusals += report.not_claimed;
    }
    let items = server.work_items(&env);
    assert_eq!(items.len(), ITEMS);
    assert!(
        items.iter().all(|w| w.state == WorkState::Stopped),
        "none left queued or active"
    );
    let log = log.lock().unwrap();
    let not_claimed = not_claimed.lock().unwrap();
    // Every item was handled, or its lease could not be claimed through
    // the faults (a first heartbeat lost until the ack's lease ran out):
    // such an item is force-stopped unhandled, as the official workers do.
    // Both can be true of one item (its force-stop lost too, it came back
    // and another worker handled it), so each item is looked up by id.
    let neither: Vec<&str> = items
        .iter()
        .map(|w| w.id.as_str())
        .filter(|id| !log.contains_key(*id) && !not_claimed.contains(*id))
        .collect();
    assert!(
        neither.is_empty(),
        "items neither handled nor refused: {neither:?}"
    );
    // The reports count every refusal the observer saw.
    assert!(
        refusals as usize >= not_claimed.len(),
        "{refusals} refusals counted, {} items refused",
        not_claimed.len()
    );
    for (id, mut held) in log.clone() {
        held.sort();
        for pair in held.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "{id} was held by {} and {} at overlapping times",
                pair[0].2,
                pair[1].2
            );
        }
    }
    assert!(claimed >= ITEMS as u64);
    if matches!(credentials, Credentials::EnvironmentKey) {
        let sent_api_key = server
            .requests()
            .into_iter()
            .filter(|r| r.caller == CallerKind::ApiKey)
            .count();
        assert_eq!(sent_api_key, 0, "the fleet never sends an API key");
    }
}

#[tokio::test(start_paused = true)]
async fn a_lease_taken_over_cancels_the_handler_and_leaves_the_item_alone() {
    let server = MockServer::builder().timing(mock_timing()).start().await;
    let c = client(&server);
    let env = environment(&c).await;
    let item = server.queue_work(&env, "contested").unwrap();
    let reason: Arc<Mutex<Option<CancelReason>>> = Arc::default();
    let builder = Worker::builder(c.work(&env))
        .block_ms(50)
        .desired_ttl_seconds(2)
        .timing(fast_timing());
    let token = builder.shutdown_token();
    let seen = reason.clone();
    let run = tokio::spawn(builder.build().unwrap().run(move |ctx: WorkContext| {
        let seen = seen.clone();
        async move {
            ctx.cancelled().await;
            *seen.lock().unwrap() = ctx.cancel_reason();
            Ok::<(), std::io::Error>(())
        }
    }));
    // Once the worker's first heartbeat made the item active, take the lease.
    let q = c.work(&env);
    wait_until("the item to be active", Duration::from_secs(10), || {
        server.work_items(&env)[0].state == WorkState::Active
    })
    .await;
    // Take the lease over: echo the stored heartbeat. The worker may beat
    // between the read and the take-over (a 412 for us); then read again.
    loop {
        let current = q
            .retrieve(&item.id)
            .send()
            .await
            .unwrap()
            .latest_heartbeat_at
            .unwrap();
        match q
            .heartbeat(&item.id)
            .expected_last_heartbeat(current)
            .send()
            .await
        {
            Ok(_) => break,
            Err(e) if e.is_lease_held_elsewhere() => continue,
            Err(e) => panic!("{e}"),
        }
    }
    wait_until(
        "the handler to be cancelled",
        Duration::from_secs(10),
        || reason.lock().unwrap().is_some(),
    )
    .await;
    token.cancel();
    let report = run.await.unwrap().unwrap();
    assert_eq!(*reason.lock().unwrap(), Some(CancelReason::LeaseLost));
    assert_eq!((report.lease_lost, report.stopped), (1, 0));
    assert_eq!(
        server.work_items(&env)[0].state,
        WorkState::Active,
        "left to the new holder"
    );
}

#[tokio::test(start_paused = true)]
async fn silence_for_a_whole_ttl_means_the_lease_is_assumed_lost() {
    let server = MockServer::builder().timing(mock_timing()).start().await;
    let c = client(&server);
    let env = environment(&c).await;
    server.queue_work(&env, "s").unwrap();
    let builder = Worker::builder(c.work(&env))
        .block_ms(50)
        .desired_ttl_seconds(2)
        .timing(fast_timing());
    let token = builder.shutdown_token();
    let reason: Arc<Mutex<Option<CancelReason>>> = Arc::default();
    let seen = reason.clone();
    let srv = Arc::new(server);
    let srv2 = srv.clone();
    let cancelled_after: Arc<Mutex<Option<Duration>>> = Arc::default();
    let waited_log = cancelled_after.clone();
    let run = tokio::spawn(builder.build().unwrap().run(move |ctx: WorkContext| {
        let (seen, srv, waited) = (seen.clone(), srv2.clone(), waited_log.clone());
        async move {
            // From now on every heartbeat is lost.
            srv.set_faults(FaultConfig {
                heartbeat_loss_rate: 1.0,
                ..FaultConfig::none()
            });
            let t0 = Instant::now();
            ctx.cancelled().await;
            *seen.lock().unwrap() = ctx.cancel_reason();
            // Checked after the run (a panic here would be caught).
            *waited.lock().unwrap() = Some(t0.elapsed());
            Ok::<(), std::io::Error>(())
        }
    }));
    wait_until(
        "the handler to be cancelled",
        Duration::from_secs(10),
        || reason.lock().unwrap().is_some(),
    )
    .await;
    token.cancel();
    let report = run.await.unwrap().unwrap();
    assert_eq!(
        *reason.lock().unwrap(),
        Some(CancelReason::LeaseAssumedLost)
    );
    assert_eq!((report.lease_lost, report.stopped), (1, 0));
    let waited = cancelled_after
        .lock()
        .unwrap()
        .expect("the handler saw its cancellation");
    assert!(
        waited < Duration::from_secs(2),
        "cancelled before the 2 s TTL ran out: {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_server_side_stop_cancels_the_handler() {
    let server = MockServer::builder().timing(mock_timing()).start().await;
    let c = client(&server);
    let env = environment(&c).await;
    let item = server.queue_work(&env, "s").unwrap();
    let builder = Worker::builder(c.work(&env))
        .block_ms(50)
        .desired_ttl_seconds(2)
        .timing(fast_timing());
    let token = builder.shutdown_token();
    let reason: Arc<Mutex<Option<CancelReason>>> = Arc::default();
    let seen = reason.clone();
    let run = tokio::spawn(builder.build().unwrap().run(move |ctx: WorkContext| {
        let seen = seen.clone();
        async move {
            ctx.cancelled().await;
            *seen.lock().unwrap() = ctx.cancel_reason();
            Ok::<(), std::io::Error>(())
        }
    }));
    wait_until("active", Duration::from_secs(10), || {
        server.work_items(&env)[0].state == WorkState::Active
    })
    .await;
    c.work(&env).stop(&item.id).send().await.unwrap();
    wait_until("cancelled", Duration::from_secs(10), || {
        reason.lock().unwrap().is_some()
    })
    .await;
    token.cancel();
    run.await.unwrap().unwrap();
    assert_eq!(*reason.lock().unwrap(), Some(CancelReason::ServerStopping));
    wait_until("stopped", Duration::from_secs(5), || {
        server.work_items(&env)[0].state == WorkState::Stopped
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_mid_run_leaves_no_item_active() {
    let server = MockServer::builder().timing(mock_timing()).start().await;
    let c = client(&server);
    let env = environment(&c).await;
    for i in 0..20 {
        server.queue_work(&env, &format!("s{i}")).unwrap();
    }
    let started = Arc::new(AtomicUsize::new(0));
    let builder = Worker::builder(c.work(&env))
        .concurrency(4)
        .block_ms(50)
        .desired_ttl_seconds(2)
        .timing(fast_timing());
    let token = builder.shutdown_token();
    let counter = started.clone();
    let run = tokio::spawn(builder.build().unwrap().run(move |ctx: WorkContext| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            // Ignores cancellation on purpose: the worker must drop it.
            let _ = &ctx;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<(), std::io::Error>(())
        }
    }));
    wait_until("four handlers", Duration::from_secs(10), || {
        started.load(Ordering::SeqCst) == 4
    })
    .await;
    let t0 = Instant::now();
    token.cancel();
    let report = run.await.unwrap().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert_eq!((report.claimed, report.stopped, report.failed), (4, 4, 4));
    let items = server.work_items(&env);
    let count = |s: WorkState| items.iter().filter(|w| w.state == s).count();
    assert_eq!(count(WorkState::Stopped), 4);
    assert_eq!(count(WorkState::Queued), 16);
    assert_eq!(count(WorkState::Active) + count(WorkState::Starting), 0);
}

#[tokio::test(start_paused = true)]
async fn handler_errors_and_panics_are_reported_and_their_items_stopped() {
    let server = MockServer::builder().timing(mock_timing()).start().await;
    let c = client(&server);
    let env = environment(&c).await;
    for s in ["ok", "err", "panic"] {
        server.queue_work(&env, s).unwrap();
    }
    let report = Worker::builder(c.work(&env))
        .drain(true)
        .block_ms(50)
        .timing(fast_timing())
        .build()
        .unwrap()
        .run(|ctx: WorkContext| async move {
            match ctx.session_id().unwrap_or_default() {
                "err" => Err(std::io::Error::other("boom")),
                "panic" => panic!("handler bug"),
                _ => Ok(()),
            }
        })
        .await
        .unwrap();
    assert_eq!(
        (
            report.claimed,
            report.succeeded,
            report.failed,
            report.stopped
        ),
        (3, 1, 2, 3)
    );
    assert!(
        server
            .work_items(&env)
            .iter()
            .all(|w| w.state == WorkState::Stopped)
    );
}

#[tokio::test(start_paused = true)]
async fn drain_returns_when_empty_and_hand_off_leaves_items_to_the_handler() {
    let server = MockServer::builder().timing(mock_timing()).start().await;
    let c = client(&server);
    let env = environment(&c).await;
    let report = Worker::builder(c.work(&env))
        .drain(true)
        .timing(fast_timing())
        .build()
        .unwrap()
        .run(|_ctx: WorkContext| async { Ok::<(), std::io::Error>(()) })
        .await
        .unwrap();
    assert_eq!(report.claimed, 0);
    for i in 0..3 {
        server.queue_work(&env, &format!("h{i}")).unwrap();
    }
    let handed = Arc::new(Mutex::new(Vec::new()));
    let h = handed.clone();
    let report = Worker::builder(c.work(&env))
        .drain(true)
        .mode(ServeMode::HandOff)
        .timing(fast_timing())
        .build()
        .unwrap()
        .run(move |ctx: WorkContext| {
            let h = h.clone();
            async move {
                h.lock().unwrap().push(ctx.work().id.clone());
                Ok::<(), std::io::Error>(())
            }
        })
        .await
        .unwrap();
    assert_eq!((report.claimed, report.stopped), (3, 0));
    assert_eq!(handed.lock().unwrap().len(), 3);
    let items = server.work_items(&env);
    assert!(
        items.iter().all(|w| w.state == WorkState::Starting),
        "acked, not heartbeated or stopped"
    );
}

#[tokio::test(start_paused = true)]
async fn a_poll_error_retrying_cannot_fix_ends_the_worker() {
    let server = MockServer::start().await;
    let c = client(&server);
    let err = Worker::builder(c.work("env_missing"))
        .timing(fast_timing())
        .build()
        .unwrap()
        .run(|_ctx: WorkContext| async { Ok::<(), std::io::Error>(()) })
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test(start_paused = true)]
async fn an_item_whose_ack_fails_for_good_is_force_stopped() {
    let server = MockServer::builder().timing(mock_timing()).start().await;
    let c = client(&server);
    let env = environment(&c).await;
    server.queue_work(&env, "unackable").unwrap();
    server.set_faults(FaultConfig {
        error_rate: 1.0,
        error_statuses: vec![422],
        path_contains: Some("/ack".into()),
        ..FaultConfig::none()
    });
    let report = Worker::builder(c.work(&env))
        .drain(true)
        .block_ms(50)
        .timing(fast_timing())
        .build()
        .unwrap()
        .run(|_ctx: WorkContext| async { Ok::<(), std::io::Error>(()) })
        .await
        .unwrap();
    assert_eq!((report.ack_rejected, report.claimed), (1, 0));
    assert_eq!(server.work_items(&env)[0].state, WorkState::Stopped);
}

#[tokio::test(start_paused = true)]
async fn transient_poll_errors_are_counted_and_recovered_from() {
    let server = MockServer::builder().timing(mock_timing()).start().await;
    let c = Client::builder()
        .api_key("k")
        .base_url(server.base_url())
        .max_retries(0)
        .build()
        .unwrap();
    let env = environment(&c).await;
    server.queue_work(&env, "s").unwrap();
    server.set_faults(FaultConfig {
        error_rate: 1.0,
        path_contains: Some("/poll".into()),
        ..FaultConfig::none()
    });
    let builder = Worker::builder(c.work(&env))
        .block_ms(50)
        .timing(fast_timing());
    let token = builder.shutdown_token();
    let stats = builder.stats();
    let done = Arc::new(AtomicUsize::new(0));
    let release = tokio_util::sync::CancellationToken::new();
    let (d, r) = (done.clone(), release.clone());
    let run = tokio::spawn(builder.build().unwrap().run(move |_ctx: WorkContext| {
        d.fetch_add(1, Ordering::SeqCst);
        let r = r.clone();
        async move {
            r.cancelled().await;
            Ok::<(), std::io::Error>(())
        }
    }));
    // Wait for failed polls (events in the journal), not for a time.
    wait_until("three failed polls", Duration::from_secs(10), || {
        stats.snapshot().consecutive_poll_errors >= 3
    })
    .await;
    // Every error the worker counted is a failed poll in the journal (the
    // mock journals an answer before sending it). Injected errors are 429,
    // 500 or 529.
    let counted = stats.snapshot().poll_errors;
    let failed_polls = server
        .requests_for("poll_work")
        .iter()
        .filter(|r| r.status >= 400)
        .count() as u64;
    assert!(
        (3..=failed_polls).contains(&counted),
        "{counted} of {failed_polls}"
    );
    assert_eq!(done.load(Ordering::SeqCst), 0, "every poll fails");
    server.set_faults(FaultConfig::none());
    wait_until("the item in its handler", Duration::from_secs(5), || {
        done.load(Ordering::SeqCst) == 1
    })
    .await;
    // The live view while the handler runs: one in flight, polling healthy.
    let live = stats.snapshot();
    assert_eq!((live.in_flight, live.claimed), (1, 1), "{live:?}");
    assert_eq!(live.consecutive_poll_errors, 0, "{live:?}");
    release.cancel();
    wait_until("the item finished", Duration::from_secs(5), || {
        stats.snapshot().in_flight == 0
    })
    .await;
    token.cancel();
    let report = run.await.unwrap().unwrap();
    assert_eq!((report.stopped, report.in_flight), (1, 0));
    assert_eq!(report, stats.snapshot());
}
