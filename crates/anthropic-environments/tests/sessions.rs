//! The session side of the API against the mock: retrieve, list (a long
//! history across pages), send, the event stream (history then live, a
//! clean end, a cut), skills (no managed-agents beta; the archive as a byte
//! stream), and the strict credential rules a worker's item client meets.

mod common;

use anthropic_environments::credentials::{Credential, WorkSecret};
use anthropic_environments::{Client, EventOrder, SessionEvent, SessionEventParams};
use anthropic_environments_mock::{FaultConfig, MockServer};
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

fn tool_use(n: usize) -> Value {
    json!({"type": "agent.tool_use", "name": "bash", "input": {"command": format!("echo {n}")}})
}

fn tool_result(tool_use_id: &str) -> SessionEventParams {
    serde_json::from_value(json!({
        "type": "user.tool_result",
        "tool_use_id": tool_use_id,
        "is_error": false,
        "content": [{"type": "text", "text": "done"}],
    }))
    .unwrap()
}

fn json_of(event: &SessionEvent) -> Value {
    serde_json::to_value(event).unwrap()
}

#[tokio::test]
async fn retrieve_list_send_and_stream_a_session() {
    let server = MockServer::start().await;
    let (client, env) = common::mock_environment(&server, "sessions").await;
    let session = server.create_session(&env, None, None, false).unwrap();
    let id = session["id"].as_str().unwrap();
    let retrieved = client.sessions().retrieve(id).send().await.unwrap();
    assert_eq!(retrieved.id, id);
    assert_eq!(retrieved.status.as_str(), "running");

    // A long history, across pages, oldest first; and newest first.
    let events: Vec<Value> = (0..2500).map(tool_use).collect();
    let recorded = server.append_session_events(id, events).unwrap();
    let listed: Vec<SessionEvent> = client
        .sessions()
        .events(id)
        .list()
        .limit(1000)
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 2500);
    assert_eq!(json_of(&listed[0])["id"], recorded[0]["id"]);
    assert_eq!(json_of(&listed[2499])["id"], recorded[2499]["id"]);
    assert_eq!(server.requests_for("list_session_events").len(), 3);
    let newest = client
        .sessions()
        .events(id)
        .list()
        .order(EventOrder::Desc)
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(&newest.data[0])["id"], recorded[2499]["id"]);

    // The stream: the log from the start, then a result sent meanwhile.
    let mut stream = client.sessions().events(id).stream().send().await.unwrap();
    for expected in &recorded {
        let event = stream.next().await.unwrap().unwrap();
        assert_eq!(json_of(&event)["id"], expected["id"]);
    }
    let first_call = recorded[0]["id"].as_str().unwrap();
    let sent = client
        .sessions()
        .events(id)
        .send(vec![tool_result(first_call)])
        .send()
        .await
        .unwrap();
    let live = json_of(&stream.next().await.unwrap().unwrap());
    assert_eq!(live["type"], "user.tool_result");
    assert_eq!(live["tool_use_id"], first_call);
    assert_eq!(
        serde_json::to_value(&sent).unwrap()["data"][0]["id"],
        live["id"]
    );
    let log = server.session_events(id).unwrap();
    assert_eq!(log.len(), 2501);
    assert_eq!(log[2500]["content"][0]["text"], "done");
}

#[tokio::test]
async fn a_stream_ends_cleanly_when_the_server_ends_it() {
    let server = MockServer::start().await;
    let (client, env) = common::mock_environment(&server, "stream-end").await;
    let session = server.create_session(&env, None, None, false).unwrap();
    let id = session["id"].as_str().unwrap();
    server
        .append_session_events(id, (0..5).map(tool_use).collect())
        .unwrap();
    server.set_faults(FaultConfig {
        stream_event_limit: Some(3),
        ..FaultConfig::none()
    });
    let stream = client.sessions().events(id).stream().send().await.unwrap();
    let items: Vec<_> = stream.collect().await;
    assert_eq!(items.len(), 3, "three events, then None");
    assert!(items.iter().all(Result::is_ok));
}

/// A server on a raw socket that answers a stream with one whole event and
/// half of the next, then ends the body: chunked and aborted (`chunked`),
/// or by closing the connection (a body read to its end).
async fn cut_stream(chunked: bool) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => head.extend_from_slice(&buf[..k]),
                }
            }
            let whole = "event: agent.message\ndata: {\"id\":\"sevt_1\",\"type\":\"agent.message\",\"content\":[],\"processed_at\":\"t\"}\n\n";
            let half = "event: agent.tool_use\ndata: {\"id\":\"sevt_2\",\"ty";
            let body = format!("{whole}{half}");
            let answer = if chunked {
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n",
                    body.len()
                )
            } else {
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n{body}"
                )
            };
            let _ = socket.write_all(answer.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_stream_cut_mid_event_ends_with_an_error_not_half_an_event() {
    for chunked in [true, false] {
        let base_url = cut_stream(chunked).await;
        let client = Client::builder()
            .api_key(common::KEY)
            .base_url(&base_url)
            .build()
            .unwrap();
        let items: Vec<_> = client
            .sessions()
            .events("sesn_1")
            .stream()
            .send()
            .await
            .unwrap()
            .collect()
            .await;
        assert_eq!(items.len(), 2, "chunked {chunked}: {items:?}");
        assert_eq!(json_of(items[0].as_ref().unwrap())["id"], "sevt_1");
        let error = items[1].as_ref().unwrap_err();
        assert!(error.is_retryable(), "chunked {chunked}: {error}");
    }
}

#[tokio::test]
async fn skills_resolve_latest_and_download_without_the_managed_agents_beta() {
    let server = MockServer::start().await;
    let (client, _) = common::mock_environment(&server, "skills").await;
    let archive: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    server
        .add_skill_version("skill_01AbC", "old", b"old".to_vec())
        .unwrap();
    server
        .add_skill_version("skill_01AbC", "release-process", archive.clone())
        .unwrap();
    let version = client
        .skills()
        .retrieve_version("skill_01AbC", "latest")
        .send()
        .await
        .unwrap();
    assert_eq!(version.name, "release-process");
    let mut content = client
        .skills()
        .download_version(&version.skill_id, &version.id)
        .send()
        .await
        .unwrap();
    assert_eq!(content.content_length(), Some(archive.len() as u64));
    let mut received = Vec::new();
    while let Some(chunk) = content.try_next().await.unwrap() {
        received.extend_from_slice(&chunk);
    }
    assert_eq!(received, archive);
    for op in ["retrieve_skill_version", "download_skill_version_content"] {
        let request = &server.requests_for(op)[0];
        assert_eq!(request.header("anthropic-beta"), None, "{op}");
    }
    assert_eq!(
        server.requests_for("download_skill_version_content")[0].header("accept"),
        Some("application/binary")
    );
    assert!(
        server.requests_for("retrieve_session").is_empty(),
        "nothing else was called"
    );
}

/// Strict credentials: the session's calls accept the sessions token of an
/// item serving it (a worker's item client) and its environment's key; the
/// token of another item is refused; skills take any credential issued.
#[tokio::test]
async fn a_worker_item_client_serves_its_session_with_its_token() {
    let server = MockServer::builder().strict_credentials().start().await;
    let env = server.create_environment("strict").unwrap();
    let key = server.environment_key(&env).unwrap();
    let ours = server.create_session(&env, None, None, true).unwrap();
    let theirs = server.create_session(&env, None, None, false).unwrap();
    server
        .add_skill_version("skill_1", "s", b"zip".to_vec())
        .unwrap();
    let worker = Client::builder()
        .environment_key(&key)
        .base_url(server.base_url())
        .build()
        .unwrap();
    let work = worker.work(&env).poll().send().await.unwrap().unwrap();
    worker.work(&env).ack(&work.id).send().await.unwrap();
    let secret = WorkSecret::decode(work.secret.as_deref().unwrap()).unwrap();
    let item = worker
        .with_credential(secret.sessions_token().clone())
        .unwrap();
    let our_id = ours["id"].as_str().unwrap();
    item.sessions().retrieve(our_id).send().await.unwrap();
    item.sessions().events(our_id).list().send().await.unwrap();
    item.sessions()
        .events(our_id)
        .send(vec![tool_result("sevt_x")])
        .send()
        .await
        .unwrap();
    item.sessions()
        .events(our_id)
        .stream()
        .send()
        .await
        .unwrap();
    item.skills()
        .retrieve_version("skill_1", "latest")
        .send()
        .await
        .unwrap();
    // The environment key serves the environment's sessions too.
    worker.sessions().retrieve(our_id).send().await.unwrap();
    // Another session: not this token's, for any of the session's calls.
    let theirs = theirs["id"].as_str().unwrap();
    let refusals = [
        item.sessions().retrieve(theirs).send().await.unwrap_err(),
        item.sessions()
            .events(theirs)
            .list()
            .send()
            .await
            .unwrap_err(),
        item.sessions()
            .events(theirs)
            .send(vec![tool_result("sevt_x")])
            .send()
            .await
            .unwrap_err(),
        item.sessions()
            .events(theirs)
            .stream()
            .send()
            .await
            .unwrap_err(),
    ];
    for refused in refusals {
        assert!(refused.is_permission_denied(), "{refused}");
    }
    // Another environment's key: not this session's.
    let other_env = server.create_environment("other").unwrap();
    let other = worker
        .with_credential(Credential::environment_key(
            server.environment_key(&other_env).unwrap(),
        ))
        .unwrap();
    let refused = other.sessions().retrieve(our_id).send().await.unwrap_err();
    assert!(refused.is_permission_denied(), "{refused}");
    // An unknown credential: 401.
    let stranger = worker
        .with_credential(Credential::environment_key("sk-ant-oat01-unknown"))
        .unwrap();
    let refused = stranger
        .sessions()
        .retrieve(our_id)
        .send()
        .await
        .unwrap_err();
    assert!(refused.is_authentication_error(), "{refused}");
}

/// The control surface over HTTP: create a session (with a queued item),
/// append the agent's events, set the status, add a skill; and an idle
/// stream carries keep-alive comments (here every 20 ms), which the
/// client's stream skips.
#[tokio::test]
async fn the_control_surface_over_http_and_keep_alives() {
    let server = MockServer::builder()
        .timing(anthropic_environments_mock::Timing {
            keep_alive: std::time::Duration::from_millis(20),
            ..Default::default()
        })
        .start()
        .await;
    let (client, env) = common::mock_environment(&server, "control").await;
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        http.post(format!("{}{path}", server.base_url()))
            .json(&body)
            .send()
    };
    let created = post(
        "/_mock/sessions",
        json!({"environment_id": env, "id": "sesn_http", "queue_work": true,
               "agent": {"skills": [{"type": "custom", "skill_id": "skill_h", "version": "latest"}]}}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let session: Value = created.json().await.unwrap();
    assert_eq!(session["agent"]["skills"][0]["skill_id"], "skill_h");
    let work = client.work(&env).poll().send().await.unwrap().unwrap();
    assert_eq!(work.data.tag(), Some("session"));
    let appended: Value = post(
        "/_mock/sessions/sesn_http/events",
        json!({"events": [tool_use(1)]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(
        appended["data"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("sevt_")
    );
    let status = post(
        "/_mock/sessions/sesn_http/status",
        json!({"status": "idle"}),
    )
    .await
    .unwrap();
    assert_eq!(status.status(), 200);
    assert_eq!(
        client
            .sessions()
            .retrieve("sesn_http")
            .send()
            .await
            .unwrap()
            .status
            .as_str(),
        "idle"
    );
    let skill = post(
        "/_mock/skills",
        json!({"skill_id": "skill_h", "name": "h", "archive_base64": "emlw"}),
    )
    .await
    .unwrap();
    assert_eq!(skill.status(), 201);
    let bad = post(
        "/_mock/sessions/sesn_http/events",
        json!({"events": [{"type": "a\nb"}]}),
    )
    .await
    .unwrap();
    assert_eq!(
        bad.status(),
        400,
        "a type that would break the stream's framing"
    );
    // The raw stream: the event, then keep-alive comments while idle.
    let mut raw = http
        .get(format!(
            "{}/v1/sessions/sesn_http/events/stream",
            server.base_url()
        ))
        .bearer_auth("k")
        .header("anthropic-beta", "managed-agents-2026-04-01")
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    while seen.matches(": keep-alive").count() < 2 {
        let chunk = raw.chunk().await.unwrap().expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.starts_with("event: agent.tool_use\n"), "{seen}");
    // The client's stream: the event, then the next event after the
    // keep-alives, none of which is an event.
    let mut stream = client
        .sessions()
        .events("sesn_http")
        .stream()
        .send()
        .await
        .unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    while raw
        .chunk()
        .await
        .unwrap()
        .is_some_and(|c| !c.starts_with(b":"))
    {}
    server
        .append_session_events("sesn_http", vec![tool_use(2)])
        .unwrap();
    let live = stream.next().await.unwrap().unwrap();
    assert_eq!(json_of(&live)["input"]["command"], "echo 2");
}
