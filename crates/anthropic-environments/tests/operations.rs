//! Every operation of the facade against a local server: what goes on the
//! wire (method, path, query, headers, body) and what comes back.

mod common;

use anthropic_environments::params::{CloudConfig, LimitedNetwork, Packages, SelfHostedConfig};
use anthropic_environments::prelude::*;
use anthropic_environments::types::BetaEnvironmentConfig;
use common::*;

fn route(r: &Recorded) -> Reply {
    let p = r.path.as_str();
    if p.ends_with("/work/poll") {
        ok(work_json("work_1", "queued"))
    } else if p.ends_with("/work/stats") {
        ok(
            json!({"depth": 3, "oldest_queued_at": "2026-03-15T10:00:00Z", "pending": 1,
                  "type": "work_queue_stats", "workers_polling": 2}),
        )
    } else if p.ends_with("/heartbeat") {
        ok(
            json!({"last_heartbeat": "2026-03-15T10:00:05Z", "lease_extended": true,
                  "state": "active", "ttl_seconds": 60, "type": "work_heartbeat"}),
        )
    } else if p.ends_with("/work") {
        ok(json!({"data": [work_json("work_1", "active")], "next_page": null}))
    } else if p.ends_with("/stop") {
        ok(work_json("work_1", "stopping"))
    } else if p.contains("/work/") {
        ok(work_json("work_1", "starting"))
    } else if p == "/v1/environments" && r.method == Method::GET {
        ok(json!({"data": [env_json("env_1")], "next_page": null}))
    } else if r.method == Method::DELETE {
        ok(json!({"id": "env_1", "type": "environment_deleted"}))
    } else {
        ok(env_json("env_1"))
    }
}

#[tokio::test]
async fn environment_operations() {
    let server = server(route).await;
    let (client, _) = client(&server);
    let envs = client.environments();

    let created = envs
        .create("n")
        .config(
            CloudConfig::limited(
                LimitedNetwork::new()
                    .allow_hosts(["api.example.com"])
                    .allow_package_managers(true),
            )
            .packages(Packages::new().pip(["pandas"])),
        )
        .description("d")
        .metadata("team", "infra")
        .scope(Scope::Organization)
        .send_with_meta()
        .await
        .unwrap();
    assert_eq!(created.request_id(), Some("req_ok"));
    assert_eq!(created.status(), 200);
    assert!(created.is_cloud());
    assert_eq!(created.allowed_hosts(), ["api.example.com"]);
    let minimal = envs.create("m").send().await.unwrap();
    assert_eq!(minimal.id, "env_1");

    let page = envs
        .list()
        .include_archived(true)
        .limit(10)
        .page("cursor_0")
        .send()
        .await
        .unwrap();
    assert_eq!(page.data.len(), 1);
    assert!(!page.has_next_page());
    assert_eq!(page.request_id.as_deref(), Some("req_ok"));

    let got = envs.retrieve("env_1").send().await.unwrap();
    assert!(matches!(got.config, BetaEnvironmentConfig::Cloud(_)));
    assert!(!got.is_archived());

    envs.update("env_1")
        .name("renamed")
        .description("new")
        .config(SelfHostedConfig)
        .scope(Scope::Account)
        .metadata("a", "1")
        .remove_metadata("b")
        .send()
        .await
        .unwrap();
    envs.update("env_1").send().await.unwrap();
    let deleted = envs.delete("env_1").send().await.unwrap();
    assert_eq!(deleted.id, "env_1");
    envs.archive("env_1").send().await.unwrap();

    let reqs = server.requests();
    let methods: Vec<_> = reqs
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        methods,
        [
            ("POST", "/v1/environments"),
            ("POST", "/v1/environments"),
            ("GET", "/v1/environments"),
            ("GET", "/v1/environments/env_1"),
            ("POST", "/v1/environments/env_1"),
            ("POST", "/v1/environments/env_1"),
            ("DELETE", "/v1/environments/env_1"),
            ("POST", "/v1/environments/env_1/archive"),
        ]
    );
    assert_eq!(
        reqs[0].json().unwrap(),
        json!({"name": "n", "description": "d", "metadata": {"team": "infra"},
               "scope": "organization",
               "config": {"type": "cloud",
                          "networking": {"type": "limited", "allowed_hosts": ["api.example.com"],
                                         "allow_package_managers": true},
                          "packages": {"pip": ["pandas"]}}})
    );
    assert_eq!(
        reqs[1].json().unwrap(),
        json!({"name": "m"}),
        "only the given fields"
    );
    assert_eq!(
        reqs[2].query_pairs(),
        [
            ("include_archived".into(), "true".into()),
            ("limit".into(), "10".into()),
            ("page".into(), "cursor_0".into())
        ]
    );
    assert_eq!(
        reqs[4].json().unwrap(),
        json!({"name": "renamed", "description": "new", "config": {"type": "self_hosted"},
               "scope": "account", "metadata": {"a": "1", "b": null}})
    );
    assert_eq!(
        reqs[5].json().unwrap(),
        json!({}),
        "an empty update sends {{}}"
    );
    assert!(reqs[6].body.is_empty(), "delete sends no body");
    assert!(reqs[7].body.is_empty());
    assert_eq!(reqs[7].header("content-length"), Some("0"));
}

#[tokio::test]
async fn work_operations() {
    let server = server(route).await;
    let (client, _) = client(&server);
    let queue = client.environments().work("env_1");
    assert_eq!(queue.environment_id(), "env_1");

    let polled = queue
        .poll()
        .block_ms(999)
        .reclaim_older_than_ms(5000)
        .worker_id("worker-a")
        .send()
        .await
        .unwrap()
        .expect("work");
    assert!(polled.is_queued());
    assert!(queue.poll().send().await.unwrap().is_some());
    let acked = queue.ack("work_1").send().await.unwrap();
    assert!(acked.is_running());
    let beat = queue
        .heartbeat("work_1")
        .first()
        .desired_ttl_seconds(60)
        .send()
        .await
        .unwrap();
    assert!(beat.lease_extended);
    queue.heartbeat("work_1").send().await.unwrap();
    let stopping = queue.stop("work_1").send().await.unwrap();
    assert!(stopping.is_stopping_or_stopped() && !stopping.is_terminal());
    queue.stop("work_1").force(true).send().await.unwrap();
    let page = queue.list().limit(5).page("c1").send().await.unwrap();
    assert_eq!(page.data[0].state, WorkState::Active);
    queue.list().send().await.unwrap();
    queue
        .update("work_1")
        .metadata_patch(MetadataPatch::new().set("k", "v").delete("gone"))
        .send()
        .await
        .unwrap();
    let stats = queue.stats().send().await.unwrap();
    assert_eq!(
        (stats.depth, stats.pending, stats.workers_polling),
        (3, 1, Some(2))
    );
    let got = queue.retrieve("work_1").send().await.unwrap();
    assert_eq!(got.id, "work_1");

    let reqs = server.requests();
    let methods: Vec<_> = reqs
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        methods,
        [
            ("GET", "/v1/environments/env_1/work/poll"),
            ("GET", "/v1/environments/env_1/work/poll"),
            ("POST", "/v1/environments/env_1/work/work_1/ack"),
            ("POST", "/v1/environments/env_1/work/work_1/heartbeat"),
            ("POST", "/v1/environments/env_1/work/work_1/heartbeat"),
            ("POST", "/v1/environments/env_1/work/work_1/stop"),
            ("POST", "/v1/environments/env_1/work/work_1/stop"),
            ("GET", "/v1/environments/env_1/work"),
            ("GET", "/v1/environments/env_1/work"),
            ("POST", "/v1/environments/env_1/work/work_1"),
            ("GET", "/v1/environments/env_1/work/stats"),
            ("GET", "/v1/environments/env_1/work/work_1"),
        ]
    );
    assert_eq!(
        reqs[0].query_pairs(),
        [
            ("block_ms".into(), "999".into()),
            ("reclaim_older_than_ms".into(), "5000".into())
        ]
    );
    assert_eq!(reqs[0].header("anthropic-worker-id"), Some("worker-a"));
    assert!(reqs[1].query_pairs().is_empty() && reqs[1].header("anthropic-worker-id").is_none());
    for i in [2, 3, 4] {
        assert!(reqs[i].body.is_empty());
        assert_eq!(
            reqs[i].header("content-length"),
            Some("0"),
            "{}",
            reqs[i].path
        );
    }
    assert_eq!(
        reqs[3].query_pairs(),
        [
            ("desired_ttl_seconds".into(), "60".into()),
            ("expected_last_heartbeat".into(), "NO_HEARTBEAT".into())
        ]
    );
    assert!(reqs[4].query_pairs().is_empty());
    assert_eq!(reqs[5].json().unwrap(), json!({}));
    assert_eq!(reqs[6].json().unwrap(), json!({"force": true}));
    assert_eq!(
        reqs[7].query_pairs(),
        [("limit".into(), "5".into()), ("page".into(), "c1".into())]
    );
    assert_eq!(
        reqs[9].json().unwrap(),
        json!({"metadata": {"k": "v", "gone": null}})
    );
}

#[tokio::test]
async fn poll_without_work_is_none_for_null_and_204() {
    let server = server(|r| {
        if r.query.as_deref() == Some("block_ms=1") {
            (
                StatusCode::NO_CONTENT,
                vec![("request-id".into(), "req_204".into())],
                String::new(),
            )
        } else {
            ok(Value::Null)
        }
    })
    .await;
    let (client, _) = client(&server);
    let queue = client.work("env_1");
    assert_eq!(queue.poll().send().await.unwrap(), None);
    let meta = queue.poll().block_ms(1).send_with_meta().await.unwrap();
    assert_eq!(meta.status(), 204);
    assert_eq!(meta.request_id(), Some("req_204"));
    assert_eq!(meta.into_inner(), None);
}

#[tokio::test]
async fn client_work_and_environments_work_are_the_same_queue() {
    let server = server(route).await;
    let (client, _) = client(&server);
    client.work("env_9").stats().send().await.unwrap();
    client
        .environments()
        .work("env_9")
        .stats()
        .send()
        .await
        .unwrap();
    let reqs = server.requests();
    assert_eq!(reqs[0].path, reqs[1].path);
    assert_eq!(reqs[0].path, "/v1/environments/env_9/work/stats");
}

#[tokio::test]
async fn what_the_server_adds_later_is_kept_or_ignored() {
    let server = server(|r| {
        if r.path.contains("/work/") {
            let mut w = work_json("work_1", "hibernating");
            w["priority"] = json!(7);
            ok(w)
        } else {
            let mut e = env_json("env_1");
            e["config"] = json!({"type": "gpu_cluster", "gpus": 8});
            e["scope"] = json!("team");
            e["labels"] = json!(["new"]);
            ok(e)
        }
    })
    .await;
    let (client, _) = client(&server);
    let env = client
        .environments()
        .retrieve("env_1")
        .send()
        .await
        .unwrap();
    assert!(env.config.is_unknown() && !env.is_cloud() && !env.is_self_hosted());
    assert_eq!(env.config.tag(), Some("gpu_cluster"));
    assert_eq!(env.scope.as_ref().map(|s| s.as_str()), Some("team"));
    let work = client
        .work("env_1")
        .retrieve("work_1")
        .send()
        .await
        .unwrap();
    assert!(work.state.is_unknown());
    assert_eq!(work.state.as_str(), "hibernating");
    assert!(!work.is_terminal() && !work.is_running());
}
