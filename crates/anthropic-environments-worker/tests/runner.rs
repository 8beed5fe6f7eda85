//! The session runner serves a scripted session on the strict mock, as a
//! worker's handler: the agent asks for bash, write, read, edit, glob and
//! grep; each call runs once in the workdir and its result is posted with
//! the item's sessions token; a call of a tool it does not own is left
//! alone; then an idle that ends the turn ends the runner and the worker
//! stops the item. Real time (the tools are real processes): the test waits
//! for the events themselves, and the runner's idle is 200 ms.

use std::time::Duration;

use anthropic_environments::Client;
use anthropic_environments_mock::{CallerKind, MockServer};
use std::sync::{Arc, Mutex};

use anthropic_environments_worker::{
    SessionRunner, ToolCallOutcome, ToolCallReport, WorkContext, Worker,
};
use futures::StreamExt;
use serde_json::{Value, json};

fn results(server: &MockServer, session: &str) -> Vec<Value> {
    server
        .session_events(session)
        .unwrap()
        .into_iter()
        .filter(|e| e["type"] == "user.tool_result")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_serves_a_scripted_session_end_to_end() {
    let server = MockServer::builder().strict_credentials().start().await;
    let admin = Client::builder()
        .api_key("sk-ant-api-admin")
        .base_url(server.base_url())
        .build()
        .unwrap();
    let env = server.create_environment("runner").unwrap();
    let key = server.environment_key(&env).unwrap();
    // A skill whose archive wraps its files in a folder.
    let mut archive = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut archive);
        zip.start_file("notes/SKILL.md", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut zip, b"Take careful notes.").unwrap();
        zip.finish().unwrap();
    }
    server
        .add_skill_version("skill_notes", "notes", archive.into_inner())
        .unwrap();
    let session = server
        .create_session(
            &env,
            None,
            Some(json!([{"type": "custom", "skill_id": "skill_notes", "version": "latest"}])),
            true,
        )
        .unwrap();
    let session_id = session["id"].as_str().unwrap().to_owned();
    let tool =
        |name: &str, input: Value| json!({"type": "agent.tool_use", "name": name, "input": input});
    let calls = server
        .append_session_events(
            &session_id,
            vec![
                tool("bash", json!({"command": "echo hello from bash"})),
                tool("write", json!({"file_path": "notes/a.txt", "content": "alpha\nbeta\n"})),
                tool("read", json!({"file_path": "notes/a.txt"})),
                tool("edit", json!({"file_path": "notes/a.txt", "old_string": "beta", "new_string": "gamma"})),
                tool("glob", json!({"pattern": "**/*.txt"})),
                tool("grep", json!({"pattern": "gam+a"})),
                tool("web_fetch", json!({"url": "https://example.com"})),
                tool("read", json!({"file_path": "skills/notes/SKILL.md"})),
            ],
        )
        .unwrap();
    let ids: Vec<String> = calls
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();

    let workdir = tempfile::tempdir().unwrap();
    let reports: Arc<Mutex<Vec<ToolCallReport>>> = Arc::default();
    let seen = reports.clone();
    let runner = SessionRunner::new(workdir.path())
        .max_idle(Some(Duration::from_millis(200)))
        .on_tool_call(move |report| seen.lock().unwrap().push(report.clone()));
    let worker = Client::builder()
        .environment_key(&key)
        .base_url(server.base_url())
        .build()
        .unwrap();
    let run = tokio::spawn(
        Worker::builder(worker.work(&env))
            .drain(true)
            .build()
            .unwrap()
            .run(move |ctx: WorkContext| {
                let runner = runner.clone();
                async move { runner.serve(ctx).await.map(drop) }
            }),
    );
    // The seven owned calls answered (seen on the session's own stream):
    // then the agent ends its turn.
    let mut events = admin
        .sessions()
        .events(&session_id)
        .stream()
        .send()
        .await
        .unwrap();
    let mut answered = 0;
    while answered < 7 {
        let event = tokio::time::timeout(Duration::from_secs(60), events.next())
            .await
            .expect("the results arrive")
            .unwrap()
            .unwrap();
        if event.tag() == Some("user.tool_result") {
            answered += 1;
        }
    }
    // The call the runner does not own keeps it from stopping on an idle
    // (notes §7.3) until another client answers it.
    server
        .append_session_events(
            &session_id,
            vec![
                json!({"type": "session.status_idle", "stop_reason": {"type": "end_turn"}}),
                json!({"type": "user.tool_result", "tool_use_id": ids[6], "is_error": false,
                       "content": [{"type": "text", "text": "fetched by the backend"}]}),
                json!({"type": "session.status_idle", "stop_reason": {"type": "end_turn"}}),
            ],
        )
        .unwrap();
    let report = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the runner ends after its idle")
        .unwrap()
        .unwrap();
    assert_eq!(
        (report.claimed, report.succeeded, report.stopped),
        (1, 1, 1)
    );

    let results: Vec<Value> = results(&server, &session_id)
        .into_iter()
        .filter(|r| r["tool_use_id"] != ids[6].as_str())
        .collect();
    assert_eq!(results.len(), 7, "one result per owned call: {results:#?}");
    let text = |i: usize| -> String {
        let r = results
            .iter()
            .find(|r| r["tool_use_id"] == ids[i].as_str())
            .unwrap();
        assert_eq!(r["is_error"], false, "{r}");
        r["content"][0]["text"].as_str().unwrap().to_owned()
    };
    assert_eq!(text(0), "hello from bash");
    assert!(text(1).contains("11 bytes"));
    assert_eq!(text(2), "alpha\nbeta\n");
    assert!(text(3).contains("1 replacement"));
    assert!(text(4).ends_with("notes/a.txt"), "{}", text(4));
    assert!(text(5).contains("notes/a.txt:2:gamma"), "{}", text(5));
    // The skill was installed (its wrapper folder stripped) for the calls,
    // and removed at the end.
    assert_eq!(text(7), "Take careful notes.");
    assert!(!workdir.path().join("skills/notes").exists());
    // web_fetch is not this runner's: it posted 6 results, none for it.
    let posted = server.requests_for("send_session_events");
    assert!(posted.iter().all(|r| !r.body.contains(ids[6].as_str())));
    assert_eq!(
        std::fs::read_to_string(workdir.path().join("notes/a.txt")).unwrap(),
        "alpha\ngamma\n"
    );
    // Every session call went out with the item's sessions token.
    for op in [
        "retrieve_session",
        "stream_session_events",
        "list_session_events",
        "send_session_events",
    ] {
        // (The test's own stream uses the API key.)
        let requests: Vec<_> = server
            .requests_for(op)
            .into_iter()
            .filter(|r| r.caller != CallerKind::ApiKey)
            .collect();
        assert!(!requests.is_empty(), "{op}");
        assert!(
            requests
                .iter()
                .all(|r| matches!(r.caller, CallerKind::SessionsToken { .. }) && r.status < 400),
            "{op}: {requests:?}"
        );
    }
    assert_eq!(server.requests_for("send_session_events").len(), 7);
    // The hook saw each call once: seven posted, web_fetch left alone.
    let reports = reports.lock().unwrap();
    let outcome = |name: &str| {
        reports
            .iter()
            .filter(|r| r.name == name)
            .map(|r| r.outcome)
            .collect::<Vec<_>>()
    };
    assert_eq!(reports.len(), 8, "{reports:?}");
    assert_eq!(outcome("web_fetch"), [ToolCallOutcome::Unowned]);
    assert_eq!(
        outcome("read"),
        [ToolCallOutcome::Posted { is_error: false }; 2]
    );
    for op in ["retrieve_skill_version", "download_skill_version_content"] {
        assert_eq!(server.requests_for(op).len(), 1, "{op}");
    }
}

/// Custom tools the runner owns, the permission gate, and a result post
/// that fails once: a registered tool answers its custom call; an `ask`
/// call runs only once a confirmation allows it, a denied one never does
/// and nothing is posted for it; the first post's 503 is retried by the
/// runner itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_tools_confirmations_and_a_failing_post() {
    use anthropic_environments_mock::{Fault, FaultConfig, FaultRule};
    let server = MockServer::start().await;
    let admin = Client::builder()
        .api_key("sk-ant-api-admin")
        .base_url(server.base_url())
        .build()
        .unwrap();
    let env = server.create_environment("gate").unwrap();
    let session = server
        .create_session(&env, None, Some(json!([])), true)
        .unwrap();
    let session_id = session["id"].as_str().unwrap().to_owned();
    let calls = server
        .append_session_events(
            &session_id,
            vec![
                json!({"type": "agent.custom_tool_use", "name": "lookup", "input": {"key": "colour"}}),
                json!({"type": "agent.tool_use", "name": "bash", "evaluated_permission": "ask",
                       "input": {"command": "echo allowed > allowed.txt; echo ran"}}),
                json!({"type": "agent.tool_use", "name": "write", "evaluated_permission": "ask",
                       "input": {"file_path": "denied.txt", "content": "no"}}),
                json!({"type": "agent.tool_use", "name": "write", "evaluated_permission": "deny",
                       "input": {"file_path": "server-denied.txt", "content": "no"}}),
            ],
        )
        .unwrap();
    let ids: Vec<String> = calls
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    // The first result's post is answered 503.
    server.set_faults(FaultConfig::rules([FaultRule::on_operation(
        "send_session_events",
        Fault::Status(503),
    )
    .nth(1)]));
    let workdir = tempfile::tempdir().unwrap();
    let runner = SessionRunner::new(workdir.path())
        .max_idle(None)
        .custom_tool("lookup", |input| async move {
            let key = input["key"].as_str().ok_or("key is required")?.to_owned();
            Ok(format!("the {key} is blue"))
        });
    let worker = Client::builder()
        .api_key("k")
        .base_url(server.base_url())
        .build()
        .unwrap();
    let run = tokio::spawn(
        Worker::builder(worker.work(&env))
            .drain(true)
            .build()
            .unwrap()
            .run(move |ctx: WorkContext| {
                let runner = runner.clone();
                async move { runner.serve(ctx).await.map(drop) }
            }),
    );
    let mut events = admin
        .sessions()
        .events(&session_id)
        .stream()
        .send()
        .await
        .unwrap();
    let mut next_result = async || loop {
        let event = tokio::time::timeout(Duration::from_secs(60), events.next())
            .await
            .expect("a result arrives")
            .unwrap()
            .unwrap();
        let value = serde_json::to_value(&event).unwrap();
        if value["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("tool_result"))
        {
            return value;
        }
    };
    let custom = next_result().await;
    assert_eq!(custom["type"], "user.custom_tool_result");
    assert_eq!(custom["custom_tool_use_id"], ids[0].as_str());
    assert_eq!(custom["content"][0]["text"], "the colour is blue");
    // The held calls wait for their verdicts.
    server
        .append_session_events(
            &session_id,
            vec![
                json!({"type": "user.tool_confirmation", "tool_use_id": ids[2], "result": "deny"}),
                json!({"type": "user.tool_confirmation", "tool_use_id": ids[1], "result": "allow"}),
            ],
        )
        .unwrap();
    let allowed = next_result().await;
    assert_eq!(allowed["tool_use_id"], ids[1].as_str());
    assert_eq!(allowed["content"][0]["text"], "ran");
    server
        .append_session_events(
            &session_id,
            vec![json!({"type": "session.status_terminated"})],
        )
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the session's end ends the runner")
        .unwrap()
        .unwrap();
    assert!(workdir.path().join("allowed.txt").exists());
    assert!(
        !workdir.path().join("denied.txt").exists(),
        "a denied call never runs"
    );
    assert!(!workdir.path().join("server-denied.txt").exists());
    let sends: Vec<u16> = server
        .requests_for("send_session_events")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        sends,
        [503, 200, 200],
        "the 503 retried; nothing posted for denials"
    );
}
