//! The mock runs on tokio's clock: under a paused clock, leases, reclaims
//! and long polls move with `tokio::time::advance`, instantly.

mod common;

use std::time::Duration;

use anthropic_environments::Client;
use anthropic_environments::prelude::*;
use anthropic_environments_mock::{MockServer, Timing};

async fn setup() -> (MockServer, Client, String) {
    let server = MockServer::builder()
        .timing(Timing {
            default_ttl: Duration::from_secs(30),
            default_reclaim: Duration::from_secs(5),
            ..Timing::default()
        })
        .start()
        .await;
    let client = common::client(&server);
    let env = common::self_hosted(&client, "virtual").await;
    (server, client, env)
}

#[tokio::test(start_paused = true)]
async fn an_expired_lease_requeues_its_item_when_the_clock_moves() {
    let (server, client, env) = setup().await;
    let queue = client.work(&env);
    let item = server.queue_work(&env, "s").unwrap();
    let polled = queue.poll().send().await.unwrap().unwrap();
    queue.ack(&polled.id).send().await.unwrap();
    queue
        .heartbeat(&item.id)
        .first()
        .desired_ttl_seconds(60)
        .send()
        .await
        .unwrap();
    tokio::time::advance(Duration::from_millis(59_500)).await;
    assert_eq!(server.work_items(&env)[0].state, WorkState::Active);
    // A long poll waiting when the lease runs out is woken by the sweeper
    // at the deadline (half a second in), not at the end of its block_ms.
    let t0 = tokio::time::Instant::now();
    let again = queue.poll().block_ms(999).send().await.unwrap().unwrap();
    let waited = t0.elapsed();
    assert_eq!(again.id, item.id);
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_millis(900),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unacknowledged_item_is_reclaimed_after_the_reclaim_age() {
    let (server, client, env) = setup().await;
    let queue = client.work(&env);
    let item = server.queue_work(&env, "s").unwrap();
    assert!(queue.poll().send().await.unwrap().is_some());
    assert!(
        queue.poll().send().await.unwrap().is_none(),
        "held by the first poll"
    );
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(queue.poll().send().await.unwrap().unwrap().id, item.id);
}

#[tokio::test(start_paused = true)]
async fn a_long_poll_on_an_empty_queue_lasts_its_block_ms_of_virtual_time() {
    let (_server, client, env) = setup().await;
    let t0 = tokio::time::Instant::now();
    let none = client.work(&env).poll().block_ms(999).send().await.unwrap();
    assert!(none.is_none());
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(999) && waited < Duration::from_millis(1100),
        "{waited:?}"
    );
}
