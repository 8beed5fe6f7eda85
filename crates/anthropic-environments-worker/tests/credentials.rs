//! Credentials as the real queue checks them: the mock in strict mode, a
//! worker that holds only the environment key, and each item's sessions
//! token.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anthropic_environments::Client;
use anthropic_environments::credentials::{Credential, CredentialKind};
use anthropic_environments::params::SelfHostedConfig;
use anthropic_environments::prelude::*;
use anthropic_environments::types::BetaWorkData;
use anthropic_environments_mock::{CallerKind, MockServer, RecordedRequest, Timing};
use anthropic_environments_worker::{ItemOutcome, ServeOne, WorkContext, Worker, WorkerTiming};

fn timing() -> WorkerTiming {
    WorkerTiming {
        idle_sleep: (Duration::from_millis(5), Duration::from_millis(10)),
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(100),
        backoff_jitter: Duration::ZERO,
        ..WorkerTiming::default()
    }
}

async fn strict_server() -> MockServer {
    MockServer::builder()
        .strict_credentials()
        .timing(Timing {
            stop_grace: Duration::from_millis(20),
            ..Timing::default()
        })
        .start()
        .await
}

fn admin(server: &MockServer) -> Client {
    Client::builder()
        .api_key("sk-ant-api-admin")
        .base_url(server.base_url())
        .build()
        .unwrap()
}

fn with_key(server: &MockServer, credential: Credential) -> Client {
    Client::builder()
        .credential(credential)
        .base_url(server.base_url())
        .max_retries(0)
        .build()
        .unwrap()
}

async fn environment(admin: &Client) -> String {
    admin
        .environments()
        .create("strict")
        .config(SelfHostedConfig)
        .send()
        .await
        .unwrap()
        .id
}

/// The work id in a per-item path (`.../work/{work_id}/...`).
fn path_work_id(request: &RecordedRequest) -> Option<&str> {
    request.path.split('/').nth(5)
}

#[tokio::test(start_paused = true)]
async fn a_worker_with_only_the_environment_key_uses_each_items_token() {
    let server = strict_server().await;
    let admin = admin(&server);
    let env = environment(&admin).await;
    let mut sessions = BTreeSet::new();
    for i in 0..3 {
        let session = format!("session_{i}");
        server.queue_work(&env, &session).unwrap();
        sessions.insert(session);
    }
    server.queue_healthcheck(&env, "healthcheck_1").unwrap();
    server
        .queue_work_data(
            &env,
            BetaWorkData::Unknown(serde_json::json!({"type": "sandbox_probe", "id": "p_1"})),
        )
        .unwrap();
    server.clear_requests();

    let key = server.environment_key(&env).unwrap();
    assert!(key.starts_with("sk-ant-oat01-"));
    let worker = with_key(&server, Credential::environment_key(key));
    let seen: Arc<Mutex<Vec<(String, bool, CredentialKind)>>> = Arc::default();
    let log = seen.clone();
    let report = Worker::builder(worker.work(&env))
        .concurrency(2)
        .drain(true)
        .timing(timing())
        .build()
        .unwrap()
        .run(move |ctx: WorkContext| {
            log.lock().unwrap().push((
                ctx.session_id().unwrap().to_owned(),
                ctx.secret().is_some(),
                ctx.client().credential_kind(),
            ));
            async { Ok::<(), std::io::Error>(()) }
        })
        .await
        .unwrap();

    let seen = seen.lock().unwrap().clone();
    let handled: BTreeSet<String> = seen.iter().map(|(s, _, _)| s.clone()).collect();
    assert_eq!(
        handled, sessions,
        "only the session items reach the handler"
    );
    assert!(
        seen.iter()
            .all(|(_, secret, kind)| *secret && *kind == CredentialKind::SessionsToken),
        "{seen:?}"
    );
    assert_eq!(report.claimed, 3, "{report:?}");
    assert_eq!(report.non_session, 2, "{report:?}");
    assert_eq!(report.stopped, 5, "{report:?}");
    assert!(
        server
            .work_items(&env)
            .iter()
            .all(|w| w.state == WorkState::Stopped)
    );

    let requests = server.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        let op = request.operation.as_deref().unwrap_or("?");
        assert!(
            request.caller != CallerKind::ApiKey,
            "the worker sent its API key on {op}"
        );
        assert!(request.status < 400, "{request:?}");
        match op {
            "poll_work" | "ack_work" => assert!(
                matches!(&request.caller, CallerKind::EnvironmentKey { environment_id } if *environment_id == env),
                "{request:?}"
            ),
            "heartbeat_work" | "stop_work" => assert!(
                matches!(&request.caller, CallerKind::SessionsToken { work_id, .. }
                    if Some(work_id.as_str()) == path_work_id(request)),
                "{op} must use that item's own token: {request:?}"
            ),
            other => panic!("unexpected operation {other}: {request:?}"),
        }
    }
    let stops = server.requests_for("stop_work");
    assert_eq!(stops.len(), 5, "each item stopped once");
    let heartbeats = server.requests_for("heartbeat_work");
    assert_eq!(
        heartbeats.len(),
        3,
        "only the sessions' leases are claimed: {heartbeats:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_wrong_credential_is_refused_on_every_endpoint_with_a_typed_error() {
    let server = strict_server().await;
    let admin = admin(&server);
    let env = environment(&admin).await;
    let other_env = environment(&admin).await;
    let first = server.queue_work(&env, "session_a").unwrap();
    let second = server.queue_work(&env, "session_b").unwrap();
    let env_key = Credential::environment_key(server.environment_key(&env).unwrap());
    let other_key = Credential::environment_key(server.environment_key(&other_env).unwrap());
    // The second item's token, from a poll with the environment key.
    let worker = with_key(&server, env_key.clone());
    let polled = worker.work(&env).poll().send().await.unwrap().unwrap();
    let polled_second = worker.work(&env).poll().send().await.unwrap().unwrap();
    assert_eq!(
        (polled.id.clone(), polled_second.id.clone()),
        (first.id.clone(), second.id.clone())
    );
    let token = anthropic_environments::credentials::WorkSecret::decode(
        polled_second.secret.as_deref().unwrap(),
    )
    .unwrap()
    .sessions_token()
    .clone();
    let before = server.work_items(&env);

    let api = admin.clone();
    let env_client = with_key(&server, env_key.clone());
    let other_client = with_key(&server, other_key);
    let token_client = with_key(&server, token);
    let unknown = with_key(
        &server,
        Credential::environment_key("sk-ant-oat01-never-minted"),
    );
    let id = first.id.as_str();

    let mut refusals: Vec<(&str, anthropic_environments::Error)> = Vec::new();
    let envs = env_client.environments();
    refusals.push((
        "create_environment",
        envs.create("x").send().await.unwrap_err(),
    ));
    refusals.push(("list_environments", envs.list().send().await.unwrap_err()));
    refusals.push((
        "retrieve_environment",
        envs.retrieve(&env).send().await.unwrap_err(),
    ));
    refusals.push((
        "update_environment",
        envs.update(&env).name("y").send().await.unwrap_err(),
    ));
    refusals.push((
        "archive_environment",
        envs.archive(&env).send().await.unwrap_err(),
    ));
    refusals.push((
        "delete_environment",
        envs.delete(&env).send().await.unwrap_err(),
    ));
    refusals.push(("list_work", api.work(&env).list().send().await.unwrap_err()));
    refusals.push((
        "list_work (another environment's key)",
        other_client.work(&env).list().send().await.unwrap_err(),
    ));
    refusals.push((
        "retrieve_work",
        env_client.work(&env).retrieve(id).send().await.unwrap_err(),
    ));
    refusals.push((
        "update_work",
        token_client
            .work(&env)
            .update(id)
            .metadata("k", "v")
            .send()
            .await
            .unwrap_err(),
    ));
    refusals.push((
        "poll_work",
        token_client.work(&env).poll().send().await.unwrap_err(),
    ));
    refusals.push((
        "ack_work",
        other_client.work(&env).ack(id).send().await.unwrap_err(),
    ));
    refusals.push((
        "work_stats",
        token_client.work(&env).stats().send().await.unwrap_err(),
    ));
    refusals.push((
        "heartbeat_work (another item's token)",
        token_client
            .work(&env)
            .heartbeat(id)
            .first()
            .send()
            .await
            .unwrap_err(),
    ));
    refusals.push((
        "stop_work (another item's token)",
        token_client
            .work(&env)
            .stop(id)
            .force(true)
            .send()
            .await
            .unwrap_err(),
    ));
    refusals.push((
        "poll_work (unknown key)",
        unknown.work(&env).poll().send().await.unwrap_err(),
    ));
    for (what, err) in &refusals {
        let api = err.api().unwrap_or_else(|| panic!("{what}: {err:?}"));
        assert!(
            err.is_permission_denied() || err.is_authentication_error(),
            "{what}: {err}"
        );
        assert!(api.request_id.is_some(), "{what}: {err}");
        assert!(!api.message.is_empty(), "{what}");
    }
    let unknown_refusal = &refusals.last().unwrap().1;
    assert!(
        unknown_refusal.is_authentication_error(),
        "{unknown_refusal}"
    );
    assert!(refusals[0].1.is_permission_denied(), "{}", refusals[0].1);
    // Nothing changed.
    assert_eq!(server.work_items(&env), before);
    assert!(admin.environments().retrieve(&env).send().await.is_ok());

    // And the right credentials pass where the wrong ones did not.
    assert!(env_client.work(&env).list().send().await.is_ok());
    assert!(api.work(&env).retrieve(id).send().await.is_ok());
    assert!(env_client.work(&env).stats().send().await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn serving_one_item_uses_its_token_or_falls_back_to_the_environment_key() {
    let server = strict_server().await;
    let admin = admin(&server);
    let env = environment(&admin).await;
    let key = server.environment_key(&env).unwrap();
    let poller = with_key(&server, Credential::environment_key(key.clone()));
    for session in ["with_secret", "bad_secret"] {
        server.queue_work(&env, session).unwrap();
    }
    let with_secret = poller.work(&env).poll().send().await.unwrap().unwrap();
    poller.work(&env).ack(&with_secret.id).send().await.unwrap();
    let bad = poller.work(&env).poll().send().await.unwrap().unwrap();
    poller.work(&env).ack(&bad.id).send().await.unwrap();
    server.clear_requests();

    // The secret alone: no environment key needed.
    let outcome = ServeOne::builder(&env, &with_secret.id, "with_secret")
        .secret(with_secret.secret.clone().unwrap())
        .client_builder(Client::builder().base_url(server.base_url()))
        .timing(timing())
        .build()
        .unwrap()
        .run(|ctx: WorkContext| async move {
            assert_eq!(
                ctx.client().credential_kind(),
                CredentialKind::SessionsToken
            );
            Ok::<(), std::io::Error>(())
        })
        .await;
    assert_eq!(outcome.outcome, ItemOutcome::Succeeded);

    // A secret that does not decode: the environment key, with a warning.
    let outcome = ServeOne::builder(&env, &bad.id, "bad_secret")
        .secret("%%% not a secret %%%")
        .environment_key(key)
        .client_builder(Client::builder().base_url(server.base_url()))
        .timing(timing())
        .build()
        .unwrap()
        .run(|_ctx: WorkContext| async move { Ok::<(), std::io::Error>(()) })
        .await;
    assert_eq!(outcome.outcome, ItemOutcome::Succeeded);

    for request in server.requests() {
        let work_id = path_work_id(&request).unwrap().to_owned();
        if work_id == with_secret.id {
            assert!(
                matches!(&request.caller, CallerKind::SessionsToken { work_id: w, .. } if *w == work_id),
                "{request:?}"
            );
        } else {
            assert!(
                matches!(request.caller, CallerKind::EnvironmentKey { .. }),
                "{request:?}"
            );
        }
    }
    assert_eq!(server.requests_for("stop_work").len(), 2);
    assert!(
        server
            .work_items(&env)
            .iter()
            .all(|w| w.state == WorkState::Stopped)
    );
}

#[tokio::test(start_paused = true)]
async fn no_log_line_shows_a_key_a_token_or_a_secret() {
    let (logs, _guard) = common::CapturedLogs::install();

    let server = strict_server().await;
    let admin = admin(&server);
    let env = environment(&admin).await;
    server.queue_work(&env, "session_logged").unwrap();
    server.queue_healthcheck(&env, "hc_logged").unwrap();
    let key = server.environment_key(&env).unwrap();
    let worker = with_key(&server, Credential::environment_key(key.clone()));
    let secrets: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = secrets.clone();
    let report = Worker::builder(worker.work(&env))
        .drain(true)
        .timing(timing())
        .build()
        .unwrap()
        .run(move |ctx: WorkContext| {
            let secret = ctx.secret().unwrap();
            seen.lock().unwrap().extend([
                secret.expose_raw().to_owned(),
                secret.sessions_token().expose().to_owned(),
            ]);
            tracing::info!(?ctx, secret = ?ctx.secret(), work = ?ctx.work(), "the handler logs its context");
            async { Ok::<(), std::io::Error>(()) }
        })
        .await
        .unwrap();
    assert_eq!(
        (report.claimed, report.non_session, report.stopped),
        (1, 1, 2)
    );
    // A refused call's error, logged too.
    let err = worker
        .work(&env)
        .retrieve("work_x")
        .send()
        .await
        .unwrap_err();
    tracing::error!(%err, ?err, "a refused call");

    let text = logs.text();
    assert!(text.contains("the handler logs its context"), "{text}");
    assert!(text.contains("<redacted>"), "{text}");
    let secrets = secrets.lock().unwrap().clone();
    assert_eq!(secrets.len(), 2);
    for secret in secrets.iter().chain([&key]) {
        assert!(
            !text.contains(secret.as_str()),
            "a credential in the logs:\n{text}"
        );
    }
    assert!(!text.contains("sk-ant-req-"), "{text}");
    assert!(!text.contains("sk-ant-oat01-"), "{text}");
}
