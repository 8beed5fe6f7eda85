//! A session served end to end, offline: the embedded mock plays the API
//! (with its credential checks on), a scripted agent asks for bash, write,
//! read, edit, glob and grep, and the session runner serves the item as a
//! worker's handler, printing each call and its result.
//!
//! ```sh
//! cargo run --example session_demo
//! ```

use std::time::Duration;

use anthropic_environments::Client;
use anthropic_environments_mock::MockServer;
use anthropic_environments_worker::{SessionRunner, WorkContext, Worker};
use futures::StreamExt;
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = MockServer::builder().strict_credentials().start().await;
    let admin = Client::builder()
        .api_key("sk-ant-api-demo")
        .base_url(server.base_url())
        .build()?;
    let env = server.create_environment("demo")?;
    let key = server.environment_key(&env).ok_or("no environment key")?;
    let session = server.create_session(&env, None, Some(json!([])), true)?;
    let session_id = session["id"].as_str().ok_or("no session id")?.to_owned();
    println!(
        "mock API at {}; session {session_id} queued",
        server.base_url()
    );

    let tool =
        |name: &str, input: Value| json!({"type": "agent.tool_use", "name": name, "input": input});
    let calls = vec![
        tool(
            "bash",
            json!({"command": "echo hello from the sandbox; uname -s"}),
        ),
        tool(
            "write",
            json!({"file_path": "notes/plan.md", "content": "1. read\n2. edit\n"}),
        ),
        tool("read", json!({"file_path": "notes/plan.md"})),
        tool(
            "edit",
            json!({"file_path": "notes/plan.md", "old_string": "2. edit", "new_string": "2. edited"}),
        ),
        tool("glob", json!({"pattern": "**/*.md"})),
        tool("grep", json!({"pattern": "edit+ed"})),
    ];
    let expected = calls.len();
    server.append_session_events(&session_id, calls)?;

    let workdir = tempfile::tempdir()?;
    let runner = SessionRunner::new(workdir.path()).max_idle(Some(Duration::from_millis(200)));
    let worker = Client::builder()
        .environment_key(key)
        .base_url(server.base_url())
        .build()?;
    let serving = tokio::spawn(Worker::builder(worker.work(&env)).drain(true).build()?.run(
        move |ctx: WorkContext| {
            let runner = runner.clone();
            async move { runner.serve(ctx).await.map(drop) }
        },
    ));

    // Follow the session as its app would: each call, then its result.
    let mut events = admin.sessions().events(&session_id).stream().send().await?;
    let mut answered = 0;
    while answered < expected {
        let Some(event) = events.next().await else {
            break;
        };
        let event = serde_json::to_value(event?)?;
        match event["type"].as_str() {
            Some("agent.tool_use") => println!("-> {} {}", event["name"], event["input"]),
            Some("user.tool_result") => {
                answered += 1;
                let text = event["content"][0]["text"].as_str().unwrap_or_default();
                let mark = if event["is_error"] == true {
                    "error"
                } else {
                    "ok"
                };
                println!("<- {mark}: {}", text.replace('\n', "\n   "));
            }
            _ => {}
        }
    }
    // The agent ends its turn: the runner stops after its idle time, the
    // worker stops the item and, draining, returns.
    server.append_session_events(
        &session_id,
        vec![json!({"type": "session.status_idle", "stop_reason": {"type": "end_turn"}})],
    )?;
    let report = serving.await??;
    println!(
        "served {} session, {answered} tool calls answered, item stopped: {}",
        report.claimed,
        report.stopped == 1
    );
    Ok(())
}
