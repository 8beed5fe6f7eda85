//! The mock's rules, driven through the facade client.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use anthropic_environments::params::{CloudConfig, LimitedNetwork, Packages, SelfHostedConfig};
use anthropic_environments::prelude::*;
use anthropic_environments::types::{BetaEnvironmentConfig, BetaNetworking, BetaWorkData};
use anthropic_environments_mock::{MockServer, Timing};
use futures::TryStreamExt;

fn client(server: &MockServer) -> Client {
    Client::builder()
        .api_key("test-key")
        .base_url(server.base_url())
        .max_retries(0)
        .build()
        .unwrap()
}

async fn self_hosted(client: &Client) -> String {
    client
        .environments()
        .create("workers")
        .config(SelfHostedConfig)
        .send()
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn create_fills_defaults() {
    let server = MockServer::start().await;
    let c = client(&server);
    let env = c.environments().create("plain").send().await.unwrap();
    assert!(env.id.starts_with("env_"));
    assert_eq!(env.archived_at, None);
    assert_eq!(env.description, None);
    assert!(env.metadata.is_empty());
    assert_eq!(env.scope, Some(Scope::Organization));
    let BetaEnvironmentConfig::Cloud(cloud) = &env.config else {
        panic!("{:?}", env.config)
    };
    assert!(matches!(cloud.networking, BetaNetworking::Unrestricted(_)));
    assert!(cloud.packages.pip.is_empty());
    assert_eq!(env.created_at, env.updated_at);
    let got = c.environments().retrieve(&env.id).send().await.unwrap();
    assert_eq!(got, env);
}

#[tokio::test]
async fn update_keeps_omitted_fields_and_deletes_metadata() {
    let server = MockServer::start().await;
    let c = client(&server);
    let env = c
        .environments()
        .create("e")
        .description("first")
        .metadata("a", "1")
        .metadata("b", "2")
        .metadata("c", "3")
        .config(
            CloudConfig::limited(
                LimitedNetwork::new()
                    .allow_hosts(["h.example"])
                    .allow_package_managers(true),
            )
            .packages(Packages::new().pip(["numpy"])),
        )
        .send()
        .await
        .unwrap();
    let patch: MetadataPatch = [("b", None), ("d", Some("4"))].into_iter().collect();
    let updated = c
        .environments()
        .update(&env.id)
        .metadata_patch(patch)
        .config(CloudConfig::new().packages(Packages::new().apt(["jq"])))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.name, "e");
    assert_eq!(updated.description.as_deref(), Some("first"));
    let keys: Vec<_> = {
        let mut k: Vec<_> = updated
            .metadata
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        k.sort();
        k
    };
    assert_eq!(keys, ["a=1", "c=3", "d=4"]);
    assert_eq!(updated.allowed_hosts(), ["h.example"], "networking kept");
    let pkgs = updated.packages().unwrap();
    assert_eq!(
        (pkgs.pip.as_slice(), pkgs.apt.as_slice()),
        (&["numpy".to_owned()][..], &["jq".to_owned()][..])
    );
    assert!(updated.updated_at > env.updated_at);
    // An empty string deletes too.
    let again = c
        .environments()
        .update(&env.id)
        .metadata_patch(MetadataPatch::new().set("a", ""))
        .send()
        .await
        .unwrap();
    assert!(!again.metadata.contains_key("a"));
}

#[tokio::test]
async fn archive_hides_from_list_and_delete_removes() {
    let server = MockServer::start().await;
    let c = client(&server);
    let a = c.environments().create("a").send().await.unwrap();
    let b = c.environments().create("b").send().await.unwrap();
    let archived = c.environments().archive(&a.id).send().await.unwrap();
    assert!(archived.is_archived());
    let visible: Vec<_> = c
        .environments()
        .list()
        .into_stream()
        .map_ok(|e| e.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(visible, std::slice::from_ref(&b.id));
    let all: Vec<_> = c
        .environments()
        .list()
        .include_archived(true)
        .into_stream()
        .map_ok(|e| e.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all, [a.id.clone(), b.id.clone()]);
    let deleted = c.environments().delete(&a.id).send().await.unwrap();
    assert_eq!(deleted.id, a.id);
    assert_eq!(deleted.type_.to_string(), "environment_deleted");
    let err = c.environments().retrieve(&a.id).send().await.unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(
        err.api().unwrap().error_type.as_ref().unwrap().as_str(),
        "not_found_error"
    );
    assert!(err.request_id().unwrap().starts_with("req_mock_"));
    assert!(
        c.environments()
            .delete(&a.id)
            .send()
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        c.work(&a.id)
            .stats()
            .send()
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn list_pages_with_cursors_and_limit() {
    let server = MockServer::start().await;
    let c = client(&server);
    for i in 0..7 {
        c.environments()
            .create(format!("e{i}"))
            .send()
            .await
            .unwrap();
    }
    let pages: Vec<_> = c
        .environments()
        .list()
        .limit(3)
        .into_pages()
        .try_collect()
        .await
        .unwrap();
    let sizes: Vec<_> = pages.iter().map(|p| p.data.len()).collect();
    assert_eq!(sizes, [3, 3, 1]);
    let names: Vec<_> = pages
        .iter()
        .flat_map(|p| p.data.iter().map(|e| e.name.clone()))
        .collect();
    assert_eq!(names, (0..7).map(|i| format!("e{i}")).collect::<Vec<_>>());
    let err = c
        .environments()
        .list()
        .page("garbage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status().unwrap(), 400);
}

#[tokio::test(start_paused = true)]
async fn poll_returns_as_soon_as_work_arrives() {
    let server = Arc::new(MockServer::start().await);
    let c = client(&server);
    let env = self_hosted(&c).await;
    let s2 = server.clone();
    let env2 = env.clone();
    let t0 = tokio::time::Instant::now();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        s2.queue_work(&env2, "session_late").unwrap();
    });
    let work = c
        .work(&env)
        .poll()
        .block_ms(999)
        .send()
        .await
        .unwrap()
        .expect("work arrives");
    let waited = t0.elapsed();
    assert!(matches!(&work.data, BetaWorkData::Session(s) if s.id == "session_late"));
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_millis(999),
        "woken by the arrival, on tokio's paused clock: {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_empty_poll_answers_null_after_block_ms() {
    let server = MockServer::start().await;
    let c = client(&server);
    let env = self_hosted(&c).await;
    let t0 = tokio::time::Instant::now();
    assert_eq!(
        c.work(&env).poll().block_ms(200).send().await.unwrap(),
        None
    );
    assert!(t0.elapsed() >= Duration::from_millis(190));
    let t0 = tokio::time::Instant::now();
    assert_eq!(c.work(&env).poll().send().await.unwrap(), None);
    assert!(
        t0.elapsed() < Duration::from_millis(150),
        "no block_ms: non-blocking"
    );
}

#[tokio::test(start_paused = true)]
async fn unacknowledged_work_is_handed_out_again_after_reclaim() {
    let server = MockServer::start().await;
    let c = client(&server);
    let env = self_hosted(&c).await;
    let w = server.queue_work(&env, "s").unwrap();
    let q = c.work(&env);
    assert_eq!(
        q.poll()
            .reclaim_older_than_ms(100)
            .send()
            .await
            .unwrap()
            .unwrap()
            .id,
        w.id
    );
    assert_eq!(
        q.poll().reclaim_older_than_ms(100).send().await.unwrap(),
        None
    );
    let stats = q.stats().send().await.unwrap();
    assert_eq!((stats.depth, stats.pending), (0, 1));
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        q.poll()
            .reclaim_older_than_ms(100)
            .send()
            .await
            .unwrap()
            .unwrap()
            .id,
        w.id
    );
}

#[tokio::test(start_paused = true)]
async fn ack_heartbeat_and_stop_follow_the_lease_rules() {
    let server = MockServer::start().await;
    let c = client(&server);
    let env = self_hosted(&c).await;
    let w = server.queue_work(&env, "s").unwrap();
    let q = c.work(&env);
    q.poll().send().await.unwrap().unwrap();
    let acked = q.ack(&w.id).send().await.unwrap();
    assert_eq!(acked.state, WorkState::Starting);
    assert!(acked.acknowledged_at.is_some());
    assert!(
        q.ack(&w.id).send().await.unwrap_err().is_conflict(),
        "ack twice"
    );

    let first = q
        .heartbeat(&w.id)
        .first()
        .desired_ttl_seconds(30)
        .send()
        .await
        .unwrap();
    assert!(first.lease_extended);
    assert_eq!(first.state, WorkState::Active);
    assert_eq!(first.ttl_seconds, 30);
    let refused = q.heartbeat(&w.id).first().send().await.unwrap_err();
    assert!(refused.is_lease_held_elsewhere());
    let lease = refused.api().unwrap().lease_state().unwrap();
    assert_eq!(
        lease.last_heartbeat.as_deref(),
        Some(first.last_heartbeat.as_str())
    );
    assert!(!lease.lease_extended);
    assert_eq!(lease.state, WorkState::Active);
    let second = q
        .heartbeat(&w.id)
        .expected_last_heartbeat(&first.last_heartbeat)
        .send()
        .await
        .unwrap();
    assert!(second.last_heartbeat > first.last_heartbeat);
    let got = q.retrieve(&w.id).send().await.unwrap();
    assert_eq!(
        got.latest_heartbeat_at.as_deref(),
        Some(second.last_heartbeat.as_str())
    );
    assert!(got.started_at.is_some());

    let stopping = q.stop(&w.id).send().await.unwrap();
    assert_eq!(stopping.state, WorkState::Stopping);
    assert!(stopping.stop_requested_at.is_some());
    // A heartbeat while stopping is not compared and not extended.
    let hb = q
        .heartbeat(&w.id)
        .expected_last_heartbeat("stale")
        .send()
        .await
        .unwrap();
    assert!(!hb.lease_extended);
    assert_eq!(hb.state, WorkState::Stopping);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = q.retrieve(&w.id).send().await.unwrap();
    assert_eq!(stopped.state, WorkState::Stopped);
    assert!(stopped.stopped_at.is_some());
    assert!(q.stop(&w.id).send().await.unwrap_err().is_conflict());
}

#[tokio::test]
async fn forced_stop_is_immediate() {
    let server = MockServer::start().await;
    let c = client(&server);
    let env = self_hosted(&c).await;
    let w = server.queue_work(&env, "s").unwrap();
    let stopped = c.work(&env).stop(&w.id).force(true).send().await.unwrap();
    assert!(stopped.is_terminal());
    assert_eq!(
        c.work(&env).poll().send().await.unwrap(),
        None,
        "a stopped item leaves the queue"
    );
}

#[tokio::test(start_paused = true)]
async fn an_expired_lease_requeues_the_item() {
    let timing = Timing {
        default_ttl: Duration::from_millis(300),
        ..Timing::default()
    };
    let server = MockServer::builder().timing(timing).start().await;
    let c = client(&server);
    let env = self_hosted(&c).await;
    let w = server.queue_work(&env, "s").unwrap();
    let q = c.work(&env);
    q.poll().send().await.unwrap().unwrap();
    q.ack(&w.id).send().await.unwrap();
    // No heartbeat within the TTL of the ack's lease: back in the queue.
    let again = q
        .poll()
        .block_ms(999)
        .send()
        .await
        .unwrap()
        .expect("re-queued");
    assert_eq!(again.id, w.id);
    assert_eq!(again.state, WorkState::Queued);
    // The old holder's heartbeat is refused.
    assert!(
        q.heartbeat(&w.id)
            .expected_last_heartbeat("x")
            .send()
            .await
            .unwrap_err()
            .is_lease_held_elsewhere()
    );
}

#[tokio::test]
async fn update_work_merges_metadata_and_stats_count() {
    let server = MockServer::start().await;
    let c = client(&server);
    let env = self_hosted(&c).await;
    let w = server.queue_work(&env, "s1").unwrap();
    server.queue_work(&env, "s2").unwrap();
    let q = c.work(&env);
    q.update(&w.id)
        .metadata_patch(MetadataPatch::new().set("a", "1").set("b", "2"))
        .send()
        .await
        .unwrap();
    let updated = q
        .update(&w.id)
        .metadata_patch(MetadataPatch::new().delete("a").set("c", "3"))
        .send()
        .await
        .unwrap();
    let mut keys: Vec<_> = updated.metadata.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["b", "c"]);
    q.poll().worker_id("w1").send().await.unwrap().unwrap();
    q.poll().worker_id("w2").send().await.unwrap().unwrap();
    q.poll().worker_id("w2").send().await.unwrap();
    let stats = q.stats().send().await.unwrap();
    assert_eq!(stats.depth, 0);
    assert_eq!(stats.pending, 2);
    assert_eq!(stats.workers_polling, Some(2));
    assert_eq!(
        stats.oldest_queued_at.as_deref(),
        Some(w.created_at.as_str())
    );
    let listed: Vec<_> = q.list().limit(1).into_stream().try_collect().await.unwrap();
    assert_eq!(listed.len(), 2);
}

#[tokio::test]
async fn sixteen_concurrent_pollers_never_share_an_item_and_lose_none() {
    let server = MockServer::start().await;
    let c = client(&server);
    let env = self_hosted(&c).await;
    const ITEMS: usize = 400;
    let mut expected = HashSet::new();
    for i in 0..ITEMS {
        expected.insert(server.queue_work(&env, &format!("s{i}")).unwrap().id);
    }
    let mut tasks = Vec::new();
    for p in 0..16 {
        let q = c.work(&env);
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(w) = q
                .poll()
                .block_ms(20)
                .worker_id(format!("p{p}"))
                .send()
                .await
                .unwrap()
            {
                q.ack(&w.id).send().await.expect("no other poller acked it");
                mine.push(w.id);
            }
            mine
        }));
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.extend(t.await.unwrap());
    }
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), unique.len(), "an item went to two pollers");
    assert_eq!(unique, expected, "an item was lost");
    assert_eq!(
        c.work(&env).stats().send().await.unwrap().workers_polling,
        Some(16)
    );
}
