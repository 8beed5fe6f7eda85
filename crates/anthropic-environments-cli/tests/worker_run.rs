//! `antenv worker run -- CMD`: one claimed item, served end to end.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use anthropic_environments::{Client, WorkState};
use anthropic_environments_mock::CallerKind;
use common::{Fixture, fixture, output, read, spawn, wait_for};

const LONG: Duration = Duration::from_secs(30);

fn run_command(f: &Fixture, work_id: &str, session: &str, cmd: &[&str]) -> tokio::process::Command {
    let mut command = f.worker(["worker", "run", "--log-format", "json", "--"]);
    command
        .args(cmd)
        .env("ANTHROPIC_WORK_ID", work_id)
        .env("ANTHROPIC_SESSION_ID", session);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_the_command_with_the_lease_and_exits_with_its_status() {
    let f = fixture().await;
    let (work_id, secret) = f.claim("session_run").await;
    let record = f.path("env");
    let mut cmd = run_command(
        &f,
        &work_id,
        "session_run",
        &[
            "sh",
            "-c",
            r#"env > "$0"; sleep 0.3; exit 7"#,
            record.to_str().unwrap(),
        ],
    );
    cmd.env("ANTHROPIC_WORK_SECRET", &secret);
    let (code, _, stderr) = output(cmd).await;
    assert_eq!(code, 7, "{stderr}");
    assert!(
        matches!(f.state(&work_id), WorkState::Stopped),
        "force-stopped"
    );
    let env = read(&record).unwrap();
    assert!(
        env.contains(&format!("ANTHROPIC_WORK_ID={work_id}")),
        "{env}"
    );
    assert!(
        !env.contains("ANTHROPIC_WORK_SECRET"),
        "not forwarded: {env}"
    );
    // The lease was claimed and the item stopped with the sessions token.
    for op in ["heartbeat_work", "stop_work"] {
        let calls = f.server.requests_for(op);
        assert!(!calls.is_empty(), "{op}");
        assert!(
            calls
                .iter()
                .all(|r| matches!(r.caller, CallerKind::SessionsToken { .. })),
            "{op}: {:?}",
            calls.iter().map(|r| &r.caller).collect::<Vec<_>>()
        );
    }
    assert!(!stderr.contains(&secret), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_a_secret_read_from_a_private_file() {
    let f = fixture().await;
    let (work_id, secret) = f.claim("session_file").await;
    let file = f.path("secret-in");
    std::fs::write(&file, &secret).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = f.path("seen");
    let mut cmd = f.worker([
        "worker",
        "run",
        "--forward-secret",
        "--log-format",
        "json",
        "--",
    ]);
    cmd.args([
        "sh",
        "-c",
        r#"{ stat -c %a "$ANTHROPIC_WORK_SECRET_FILE"; cat "$ANTHROPIC_WORK_SECRET_FILE"; echo; echo "$ANTHROPIC_WORK_SECRET_FILE"; } > "$0""#,
        out.to_str().unwrap(),
    ])
    .env("ANTHROPIC_WORK_ID", &work_id)
    .env("ANTHROPIC_SESSION_ID", "session_file")
    .env("ANTHROPIC_WORK_SECRET_FILE", &file);
    let (code, _, stderr) = output(cmd).await;
    assert_eq!(code, 0, "{stderr}");
    let seen = read(&out).unwrap();
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[0], "600");
    assert_eq!(lines[1], secret);
    assert_ne!(
        lines[2],
        file.to_str().unwrap(),
        "a copy, not the caller's file"
    );
    assert!(
        !std::path::Path::new(lines[2]).exists(),
        "removed afterwards"
    );

    // A world-readable secret file is refused before anything runs.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (work_id, _) = f.claim("session_file_2").await;
    let mut cmd = f.worker(["worker", "run", "--", "true"]);
    cmd.env("ANTHROPIC_WORK_ID", &work_id)
        .env("ANTHROPIC_SESSION_ID", "session_file_2")
        .env("ANTHROPIC_WORK_SECRET_FILE", &file);
    let (code, _, stderr) = output(cmd).await;
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("readable"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_lease_signals_the_command_and_exits_75() {
    let f = fixture().await;
    let (work_id, secret) = f.claim("session_lost").await;
    let started = f.path("started");
    let mut cmd = run_command(
        &f,
        &work_id,
        "session_lost",
        &[
            "sh",
            "-c",
            r#"trap 'exit 0' TERM; touch "$0"; while :; do sleep 0.05; done"#,
            started.to_str().unwrap(),
        ],
    );
    cmd.env("ANTHROPIC_WORK_SECRET", &secret);
    let mut run = spawn(cmd);
    wait_for("the command started", LONG, || started.exists()).await;
    wait_for("a heartbeat", LONG, || {
        f.server
            .requests_for("heartbeat_work")
            .iter()
            .any(|r| r.status == 200)
    })
    .await;
    // Another holder takes the lease: the next heartbeat of `worker run`
    // gets 412.
    let current = f
        .api
        .work(&f.environment_id)
        .retrieve(&work_id)
        .send()
        .await
        .unwrap();
    let other = Client::builder()
        .environment_key(&f.environment_key)
        .base_url(f.server.base_url())
        .build()
        .unwrap();
    other
        .work(&f.environment_id)
        .heartbeat(&work_id)
        .expected_last_heartbeat(current.latest_heartbeat_at.unwrap())
        .desired_ttl_seconds(60)
        .send()
        .await
        .unwrap();
    let status = run.exit(LONG).await;
    assert_eq!(status.code(), Some(75), "{}", run.log_text());
    // Left to its new holder.
    assert_eq!(f.state(&work_id), WorkState::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_variables_and_commands() {
    let f = fixture().await;
    let (code, _, stderr) = output(f.worker(["worker", "run", "--", "true"])).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("ANTHROPIC_WORK_ID") || stderr.contains("--work-id"),
        "{stderr}"
    );

    let (work_id, secret) = f.claim("session_nocmd").await;
    let mut cmd = run_command(&f, &work_id, "session_nocmd", &["/nonexistent/agent"]);
    cmd.env("ANTHROPIC_WORK_SECRET", &secret);
    let (code, _, stderr) = output(cmd).await;
    assert_eq!(code, 127, "{stderr}");
    assert!(stderr.contains("/nonexistent/agent"), "{stderr}");
    assert_eq!(f.state(&work_id), WorkState::Stopped);
}

/// The expected_last_heartbeat of a heartbeat request.
fn expected_last_heartbeat(request: &anthropic_environments_mock::RecordedRequest) -> String {
    let query = request.query.clone().unwrap_or_default();
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("expected_last_heartbeat="))
        .map(|v| v.replace("%3A", ":"))
        .unwrap_or_default()
}

/// `worker poll --hand-off` takes the lease (ack, first heartbeat) and
/// hands it to its script; the script's `worker run` continues that live
/// lease (its first heartbeat echoes the poller's) and stops the item: no
/// stop in between, no second claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handed_off_lease_is_continued_by_worker_run() {
    let f = fixture().await;
    let work_id = f.queue_session("session_handed");
    let script = f.script(
        "sandbox.sh",
        r#"echo "$ANTHROPIC_WORK_LAST_HEARTBEAT" > "$RECORD_DIR/last.tmp" && mv "$RECORD_DIR/last.tmp" "$RECORD_DIR/last"
exec "$ANTENV" worker run --log-format json -- true"#,
    );
    let mut poller = f.worker([
        "worker",
        "poll",
        "--hand-off",
        "--drain",
        "--forward-secret",
        "--log-format",
        "json",
        "--on-work",
    ]);
    poller
        .arg(&script)
        .env("RECORD_DIR", f.dir.path())
        .env("ANTENV", env!("CARGO_BIN_EXE_antenv"));
    let (code, _, stderr) = output(poller).await;
    assert_eq!(code, 0, "{stderr}");
    let handed = read(&f.path("last")).expect("the script got the lease");
    let handed = handed.trim();
    assert!(!handed.is_empty() && handed != "NO_HEARTBEAT", "{handed}");

    let calls: Vec<_> = f
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path.contains(&work_id))
        .collect();
    let ops: Vec<&str> = calls
        .iter()
        .filter_map(|r| r.operation.as_deref())
        .collect();
    let first_stop = ops.iter().position(|&op| op == "stop_work");
    let beats: Vec<_> = calls
        .iter()
        .filter(|r| r.operation.as_deref() == Some("heartbeat_work"))
        .collect();
    assert_eq!(ops.first(), Some(&"ack_work"), "{ops:?}");
    assert!(beats.len() >= 2, "{ops:?}");
    // The poller claims with NO_HEARTBEAT; the sandbox echoes its answer.
    assert_eq!(expected_last_heartbeat(beats[0]), "NO_HEARTBEAT");
    assert_eq!(expected_last_heartbeat(beats[1]), handed);
    assert!(
        beats
            .iter()
            .skip(1)
            .all(|b| expected_last_heartbeat(b) != "NO_HEARTBEAT"),
        "nobody claimed a fresh lease: {ops:?}"
    );
    assert!(beats.iter().all(|b| b.status == 200), "{ops:?}");
    // One stop, by the sandbox, after its heartbeat.
    assert_eq!(
        ops.iter().filter(|&&op| op == "stop_work").count(),
        1,
        "{ops:?}"
    );
    assert_eq!(first_stop, Some(ops.len() - 1), "{ops:?}");
    assert_eq!(f.state(&work_id), WorkState::Stopped);
}

/// Without a command, `worker run` serves its one session in-process (the
/// entrypoint of a per-session sandbox): the agent's call runs in
/// --workdir, its result is posted, the session's end ends the serving, and
/// the item is stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_command_the_session_is_served_in_process() {
    let f = fixture().await;
    let session = f
        .server
        .create_session(&f.environment_id, None, Some(serde_json::json!([])), true)
        .unwrap();
    let session_id = session["id"].as_str().unwrap().to_owned();
    let worker = Client::builder()
        .environment_key(&f.environment_key)
        .base_url(f.server.base_url())
        .build()
        .unwrap();
    let queue = worker.work(&f.environment_id);
    let work = queue.poll().send().await.unwrap().unwrap();
    queue.ack(&work.id).send().await.unwrap();
    f.server
        .append_session_events(
            &session_id,
            vec![serde_json::json!({"type": "agent.tool_use", "name": "bash",
                "input": {"command": "pwd; echo in the sandbox > made.txt"}})],
        )
        .unwrap();
    let workdir = f.dir.path().join("sandbox");
    let mut cmd = f.worker(["worker", "run", "--log-format", "json", "--workdir"]);
    cmd.arg(&workdir)
        .env("ANTHROPIC_WORK_ID", &work.id)
        .env("ANTHROPIC_SESSION_ID", &session_id)
        .env("ANTHROPIC_WORK_SECRET", work.secret.as_deref().unwrap());
    let mut served = spawn(cmd);
    let answered = || {
        f.server
            .session_events(&session_id)
            .unwrap()
            .into_iter()
            .find(|e| e["type"] == "user.tool_result")
    };
    wait_for("the result", LONG, || answered().is_some()).await;
    f.server
        .append_session_events(
            &session_id,
            vec![serde_json::json!({"type": "session.status_terminated"})],
        )
        .unwrap();
    assert!(served.exit(LONG).await.success(), "{}", served.log_text());
    let result = answered().unwrap();
    assert_eq!(result["is_error"], false, "{result}");
    assert!(
        std::fs::read_to_string(workdir.join("made.txt"))
            .unwrap()
            .contains("in the sandbox")
    );
    f.stop_reached(&work.id).await;
    // Every call with the item's sessions token.
    assert!(
        f.server
            .requests_for("send_session_events")
            .iter()
            .all(|r| matches!(r.caller, CallerKind::SessionsToken { .. }))
    );
}
