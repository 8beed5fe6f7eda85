//! `antenv worker poll` end to end: the built binary against the mock
//! server with the real API's credential rules.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use anthropic_environments::WorkState;
use anthropic_environments::credentials::WorkSecret;
use anthropic_environments_mock::{Fault, FaultConfig, FaultRule};
use common::{Fixture, fixture, read, spawn, wait_for};
use nix::sys::signal::Signal;

const LONG: Duration = Duration::from_secs(30);

/// Records the script's environment, its stdin and the forwarded secret's
/// file (mode, content, path) under `$RECORD_DIR`.
const RECORDER: &str = r#"
d="$RECORD_DIR"; w="$ANTHROPIC_WORK_ID"
env > "$d/env-$w.tmp"
cat > "$d/stdin-$w.tmp"
if [ -n "$ANTHROPIC_WORK_SECRET_FILE" ]; then
  stat -c %a "$ANTHROPIC_WORK_SECRET_FILE" > "$d/mode-$w"
  cat "$ANTHROPIC_WORK_SECRET_FILE" > "$d/secret-$w"
  echo "$ANTHROPIC_WORK_SECRET_FILE" > "$d/secret-path-$w"
fi
mv "$d/stdin-$w.tmp" "$d/stdin-$w"
mv "$d/env-$w.tmp" "$d/env-$w"
"#;

fn env_map(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn on_work_contract(forward_secret: bool) {
    let f = fixture().await;
    let script = f.script("record.sh", RECORDER);
    let session = f.queue_session("session_1");
    let healthcheck = f
        .server
        .queue_healthcheck(&f.environment_id, "hc_1")
        .unwrap()
        .id;
    let mut cmd = f.worker(["worker", "poll", "--log-format", "json", "--on-work"]);
    cmd.arg(&script)
        .env("RECORD_DIR", f.dir.path())
        // A stale secret in the caller's environment never reaches scripts.
        .env("ANTHROPIC_WORK_SECRET", "stale-secret-from-the-caller");
    if forward_secret {
        cmd.arg("--forward-secret");
    }
    let mut worker = spawn(cmd);
    wait_for("both items stopped", LONG, || {
        f.state(&session) == WorkState::Stopped && f.state(&healthcheck) == WorkState::Stopped
    })
    .await;
    worker.signal(Signal::SIGTERM);
    assert!(worker.exit(LONG).await.success(), "{}", worker.log_text());
    assert!(worker.assert_plain_json_logs() > 3, "{}", worker.log_text());

    // The script ran once, for the session item only.
    let ran: Vec<_> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("env-"))
        .collect();
    assert_eq!(ran, [format!("env-{session}")]);

    let env = env_map(&read(&f.path(&format!("env-{session}"))).unwrap());
    assert_eq!(env["ANTHROPIC_WORK_ID"], session);
    assert_eq!(env["ANTHROPIC_ENVIRONMENT_ID"], f.environment_id);
    assert_eq!(env["ANTHROPIC_SESSION_ID"], "session_1");
    assert_eq!(env["ANTHROPIC_ENVIRONMENT_KEY"], f.environment_key);
    // The caller's environment is passed on...
    assert_eq!(env["RECORD_DIR"], f.dir.path().to_str().unwrap());
    assert_eq!(env["ANTHROPIC_BASE_URL"], f.server.base_url());
    // ...but never a secret in it.
    assert!(!env.contains_key("ANTHROPIC_WORK_SECRET"), "{env:?}");
    assert!(!env.values().any(|v| v.contains("sk-ant-req-")), "{env:?}");

    let stdin: serde_json::Value =
        serde_json::from_str(&read(&f.path(&format!("stdin-{session}"))).unwrap()).unwrap();
    assert_eq!(stdin["id"], session.as_str());
    assert_eq!(stdin["environment_id"], f.environment_id.as_str());
    assert_eq!(
        stdin["data"],
        serde_json::json!({"type": "session", "id": "session_1"})
    );
    assert!(
        stdin["secret"].is_null(),
        "the secret is never on stdin: {stdin}"
    );

    let secret_file = f.path(&format!("secret-{session}"));
    if forward_secret {
        assert_eq!(
            env["ANTHROPIC_WORK_SECRET_FILE"],
            read(&f.path(&format!("secret-path-{session}")))
                .unwrap()
                .trim()
        );
        assert_eq!(
            read(&f.path(&format!("mode-{session}"))).unwrap().trim(),
            "600"
        );
        let secret = WorkSecret::decode(read(&secret_file).unwrap().trim()).unwrap();
        assert!(secret.sessions_token().expose().starts_with("sk-ant-req-"));
        // Removed once the script is done.
        assert!(!std::path::Path::new(env["ANTHROPIC_WORK_SECRET_FILE"].as_str()).exists());
    } else {
        assert!(!env.contains_key("ANTHROPIC_WORK_SECRET_FILE"), "{env:?}");
        assert!(!secret_file.exists());
    }
    // Never in the logs either.
    let logs = worker.log_text();
    assert!(
        !logs.contains("sk-ant-req-") && !logs.contains(&f.environment_key),
        "{logs}"
    );
    // The session item got a graceful stop (as `ant`), the healthcheck a
    // forced one.
    let stops = f.server.requests_for("stop_work");
    let body_of = |id: &str| {
        stops
            .iter()
            .find(|r| r.path.contains(id))
            .map(|r| r.body.clone())
            .unwrap()
    };
    assert!(!body_of(&session).contains("true"), "{}", body_of(&session));
    assert!(
        body_of(&healthcheck).contains("true"),
        "{}",
        body_of(&healthcheck)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_work_gets_the_ant_contract() {
    on_work_contract(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_secret_hands_over_a_private_file() {
    on_work_contract(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_a_command_with_arguments() {
    let f = fixture().await;
    let work = f.queue_session("session_exec");
    let out = f.path("args");
    let mut cmd = f.worker(["worker", "poll", "--exec", "--", "sh", "-c"]);
    cmd.arg(r#"echo "$# $1 $2 $ANTHROPIC_SESSION_ID" > "$0""#)
        .arg(&out)
        .arg("first arg")
        .arg("--second");
    let mut worker = spawn(cmd);
    wait_for("the item stopped", LONG, || {
        f.state(&work) == WorkState::Stopped
    })
    .await;
    worker.signal(Signal::SIGINT);
    assert!(worker.exit(LONG).await.success());
    assert_eq!(read(&out).unwrap(), "2 first arg --second session_exec\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_n_runs_n_scripts_at_once() {
    const N: usize = 4;
    let f = fixture().await;
    // Each script waits until N scripts have started: with fewer at once,
    // none could finish (they give up and fail after 20 s).
    let script = f.script(
        "barrier.sh",
        &format!(
            r#"touch "$RECORD_DIR/started-$ANTHROPIC_WORK_ID"
i=0
while [ "$(ls "$RECORD_DIR" | grep -c '^started-')" -lt {N} ]; do
  i=$((i+1)); [ $i -gt 2000 ] && exit 1; sleep 0.01
done"#
        ),
    );
    let items: Vec<String> = (0..N).map(|i| f.queue_session(&format!("s{i}"))).collect();
    let mut cmd = f.worker(["worker", "poll", "--log-format", "json", "--record-exit"]);
    cmd.arg("--concurrency")
        .arg(N.to_string())
        .arg("--on-work")
        .arg(&script)
        .env("RECORD_DIR", f.dir.path())
        .env("ANTHROPIC_API_KEY", common::API_KEY);
    let mut worker = spawn(cmd);
    wait_for("every item stopped", LONG, || {
        items.iter().all(|w| f.state(w) == WorkState::Stopped)
    })
    .await;
    worker.signal(Signal::SIGTERM);
    assert!(worker.exit(LONG).await.success());
    // Every script passed the barrier: exit 0, recorded in the metadata.
    for id in &items {
        let work = f
            .api
            .work(&f.environment_id)
            .retrieve(id)
            .send()
            .await
            .unwrap();
        assert_eq!(
            work.metadata.get("antenv.exit_code").map(String::as_str),
            Some("0"),
            "{id}"
        );
        assert!(work.metadata.contains_key("antenv.duration_ms"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_keeps_the_lease_and_signals_the_script_when_the_item_stops() {
    let f = fixture().await;
    let work = f.queue_session("session_slow");
    // Runs until signalled; says so.
    let script = f.script(
        "slow.sh",
        r#"trap 'echo term > "$RECORD_DIR/term"; exit 0' TERM
touch "$RECORD_DIR/started"
while :; do sleep 0.05; done"#,
    );
    let mut cmd = f.worker([
        "worker",
        "poll",
        "--heartbeat",
        "--log-format",
        "json",
        "--on-work",
    ]);
    cmd.arg(&script).env("RECORD_DIR", f.dir.path());
    let mut worker = spawn(cmd);
    wait_for("the script started", LONG, || f.path("started").exists()).await;
    // Three successful heartbeats a second apart: the lease (2 s) has been
    // extended past its first TTL.
    wait_for("heartbeats past the TTL", LONG, || {
        f.server
            .requests_for("heartbeat_work")
            .iter()
            .filter(|r| r.status == 200)
            .count()
            >= 4
    })
    .await;
    assert_eq!(f.state(&work), WorkState::Active);
    assert!(!f.path("term").exists());
    // Stopping the item reaches the script as SIGTERM.
    f.api
        .work(&f.environment_id)
        .stop(&work)
        .send()
        .await
        .unwrap();
    wait_for("the script signalled", LONG, || f.path("term").exists()).await;
    wait_for("the item stopped", LONG, || {
        f.state(&work) == WorkState::Stopped
    })
    .await;
    worker.signal(Signal::SIGTERM);
    assert!(worker.exit(LONG).await.success());
    worker.assert_plain_json_logs();
    let exited = worker.events("script exited");
    assert_eq!(exited.len(), 1, "{}", worker.log_text());
    assert_eq!(exited[0]["cancelled"], true);
    assert_eq!(exited[0]["work_id"], work.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_run_leaves_no_item_active() {
    let f = fixture().await;
    let items: Vec<String> = (0..2).map(|i| f.queue_session(&format!("s{i}"))).collect();
    // Ignores SIGTERM: the worker must SIGKILL it after --kill-grace.
    let script = f.script(
        "stubborn.sh",
        r#"trap '' TERM
touch "$RECORD_DIR/started-$ANTHROPIC_WORK_ID"
while :; do sleep 0.05; done"#,
    );
    let mut cmd = f.worker([
        "worker",
        "poll",
        "--heartbeat",
        "--concurrency",
        "2",
        "--grace",
        "500ms",
        "--kill-grace",
        "500ms",
        "--log-format",
        "json",
        "--on-work",
    ]);
    cmd.arg(&script).env("RECORD_DIR", f.dir.path());
    let mut worker = spawn(cmd);
    wait_for("both scripts started", LONG, || {
        items
            .iter()
            .all(|w| f.path(&format!("started-{w}")).exists())
    })
    .await;
    worker.signal(Signal::SIGTERM);
    let status = worker.exit(LONG).await;
    assert!(status.success(), "{status:?}\n{}", worker.log_text());
    // Every item stopped (a graceful stop passes through `stopping`).
    for id in &items {
        f.stop_reached(id).await;
    }
    let exited = worker.events("script exited");
    assert_eq!(exited.len(), 2, "{}", worker.log_text());
    assert!(
        exited.iter().all(|e| e["exit_code"] == 137),
        "killed: {exited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_item_loses_nothing() {
    let f = fixture().await;
    let work = f.queue_session("session_survivor");
    // The first run hangs (its worker is killed); the second completes.
    let script = f.script(
        "once.sh",
        r#"echo "$$" >> "$RECORD_DIR/runs"
[ "$(wc -l < "$RECORD_DIR/runs")" -gt 1 ] && exit 0
while :; do sleep 0.05; done"#,
    );
    let args = [
        "worker",
        "poll",
        "--heartbeat",
        "--log-format",
        "json",
        "--on-work",
    ];
    let mut first = f.worker(args);
    first.arg(&script).env("RECORD_DIR", f.dir.path());
    let mut first = spawn(first);
    wait_for("the first run", LONG, || read(&f.path("runs")).is_some()).await;
    first.signal(Signal::SIGKILL);
    first.exit(LONG).await;
    // The orphaned script is the test's to end (a container would take it
    // down with the worker).
    let orphan: i32 = read(&f.path("runs")).unwrap().trim().parse().unwrap();
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(orphan), Signal::SIGKILL);

    let mut second = f.worker(args);
    second.arg(&script).env("RECORD_DIR", f.dir.path());
    let mut second = spawn(second);
    wait_for("the item served again and stopped", LONG, || {
        f.state(&work) == WorkState::Stopped
    })
    .await;
    second.signal(Signal::SIGTERM);
    assert!(second.exit(LONG).await.success());
    assert_eq!(read(&f.path("runs")).unwrap().lines().count(), 2);
    let exited = second.events("script exited");
    assert_eq!(exited.len(), 1, "{}", second.log_text());
    assert_eq!(
        (
            exited[0]["exit_code"].as_i64(),
            exited[0]["work_id"].as_str()
        ),
        (Some(0), Some(work.as_str()))
    );
}

/// Durations that make no sense are refused as bad values (exit 2), and
/// a negative one is called that (clap would otherwise take `-1s` for a
/// flag and suggest `-- -1s`, which would become the command).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_timeouts_and_negative_durations_are_refused() {
    let f = fixture().await;
    for (flags, says) in [
        (["--timeout", "0s"], "must be above zero"),
        (["--kill-grace", "-1s"], "a duration cannot be negative"),
        (["--grace", "-5s"], "a duration cannot be negative"),
    ] {
        let mut cmd = f.worker(["worker", "poll"]);
        cmd.args(flags).args(["--on-work", "/bin/true"]);
        let (code, _, stderr) = common::output(cmd).await;
        assert_eq!(code, 2, "{flags:?}: {stderr}");
        assert!(stderr.contains(says), "{flags:?}: {stderr}");
        assert!(!stderr.contains("-- -"), "{flags:?}: {stderr}");
    }
    assert!(f.server.requests_for("poll_work").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_that_cannot_start_ends_the_worker_with_1() {
    let f = fixture().await;
    // Missing from the start: nothing is claimed.
    let (code, _, stderr) =
        common::output(f.worker(["worker", "poll", "--on-work", "/nonexistent/handle.sh"])).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("/nonexistent/handle.sh does not exist"),
        "{stderr}"
    );
    assert!(f.server.requests_for("poll_work").is_empty());
    // A file that is there but not executable: said so, with the fix.
    let plain = f.path("plain.sh");
    std::fs::write(&plain, "exit 0").unwrap();
    let mut cmd = f.worker(["worker", "poll", "--on-work"]);
    cmd.arg(&plain);
    let (code, _, stderr) = common::output(cmd).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("is not executable (chmod +x it)"),
        "{stderr}"
    );

    // Unusable by the time an item comes: that item is stopped, exit 1.
    let script = f.script("gone.sh", "exit 0");
    let mut worker = spawn({
        let mut cmd = f.worker(["worker", "poll", "--log-format", "json", "--on-work"]);
        cmd.arg(&script);
        cmd
    });
    wait_for("polling", LONG, || {
        !f.server.requests_for("poll_work").is_empty()
    })
    .await;
    std::fs::remove_file(&script).unwrap();
    let work = f.queue_session("session_doomed");
    let status = worker.exit(LONG).await;
    assert_eq!(status.code(), Some(1), "{}", worker.log_text());
    f.stop_reached(&work).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_end_scripts_and_are_counted() {
    let f = fixture().await;
    let work = f.queue_session("session_long");
    let script = f.script("long.sh", "exec sleep 600");
    let mut cmd = f.worker([
        "worker",
        "poll",
        "--timeout",
        "300ms",
        "--kill-grace",
        "5s",
        "--log-format",
        "json",
        "--health-listen",
        "127.0.0.1:0",
        "--on-work",
    ]);
    cmd.arg(&script);
    let mut worker = spawn(cmd);
    wait_for("the item stopped", LONG, || {
        f.state(&work) == WorkState::Stopped
    })
    .await;
    let metrics = scrape(&worker, "/metrics").await.1;
    assert!(
        metrics.contains("antenv_script_exits_total{code=\"timeout\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("antenv_items_failed_total 1"), "{metrics}");
    worker.signal(Signal::SIGTERM);
    assert!(worker.exit(LONG).await.success());
    worker.assert_plain_json_logs();
    let exited = worker.events("script exited");
    assert_eq!(exited[0]["timed_out"], true, "{exited:?}");
    assert_eq!(exited[0]["exit_code"], 143, "SIGTERM: {exited:?}");
}

/// GETs `path` of the worker's health server (its address from the logs).
async fn scrape(worker: &common::Running, path: &str) -> (u16, String) {
    let address = common::logged_address(worker, "health and metrics listening", LONG).await;
    let response = reqwest::get(format!("http://{address}{path}"))
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Waits for `/healthz` to answer 503; its body.
async fn healthz_503(worker: &common::Running) -> String {
    common::poll_until("/healthz to answer 503", LONG, || async {
        let (status, body) = scrape(worker, "/healthz").await;
        (status == 503).then_some(body)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics() {
    let f = fixture().await;
    let done = f.queue_session("session_ok");
    let failed = f.queue_session("session_fails");
    let hc = f
        .server
        .queue_healthcheck(&f.environment_id, "hc")
        .unwrap()
        .id;
    let script = f.script(
        "exit.sh",
        r#"[ "$ANTHROPIC_SESSION_ID" = session_fails ] && exit 3
[ "$ANTHROPIC_SESSION_ID" = session_hold ] && { touch "$RECORD_DIR/holding"; trap 'exit 0' TERM; while :; do sleep 0.05; done; }
exit 0"#,
    );
    let mut cmd = f.worker([
        "worker",
        "poll",
        "--log-format",
        "json",
        "--health-listen",
        "127.0.0.1:0",
        "--grace",
        "10s",
        "--on-work",
    ]);
    cmd.arg(&script).env("RECORD_DIR", f.dir.path());
    let mut worker = spawn(cmd);
    wait_for("three items stopped", LONG, || {
        [&done, &failed, &hc]
            .iter()
            .all(|w| f.state(w) == WorkState::Stopped)
    })
    .await;
    assert_eq!(scrape(&worker, "/healthz").await, (200, "ok\n".to_owned()));
    let (status, metrics) = scrape(&worker, "/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "antenv_items_claimed_total 2",
        "antenv_items_finished_total 1",
        "antenv_items_failed_total 1",
        "antenv_items_non_session_total 1",
        "antenv_items_stopped_total 3",
        "antenv_leases_lost_total 0",
        "antenv_script_exits_total{code=\"0\"} 1",
        "antenv_script_exits_total{code=\"3\"} 1",
        "antenv_items_in_flight 0",
        "antenv_poll_errors_total 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing:\n{metrics}"
        );
    }
    // A poll fails: 503 until one succeeds again (after a 2 s backoff).
    f.server.set_faults(FaultConfig {
        sequence: vec![Fault::Status(500)],
        ..FaultConfig::none()
    });
    assert_eq!(healthz_503(&worker).await, "polling failing (1 in a row)\n");
    let metrics = scrape(&worker, "/metrics").await.1;
    assert!(
        metrics.lines().any(|l| l == "antenv_poll_errors_total 1"),
        "{metrics}"
    );
    wait_for("healthy again", LONG, || {
        f.server
            .requests_for("poll_work")
            .last()
            .is_some_and(|r| r.status == 200)
    })
    .await;
    // Then a shutdown with a script in flight: 503 while it finishes.
    let held = f.queue_session("session_hold");
    wait_for("the script holding", LONG, || f.path("holding").exists()).await;
    assert_eq!(
        scrape(&worker, "/metrics")
            .await
            .1
            .lines()
            .find(|l| l.starts_with("antenv_items_in_flight")),
        Some("antenv_items_in_flight 1")
    );
    worker.signal(Signal::SIGTERM);
    assert_eq!(healthz_503(&worker).await, "shutting down\n");
    // A second signal ends the shutdown at once: the held script is
    // killed and its item left to its lease (the queue serves it again).
    worker.signal(Signal::SIGTERM);
    assert!(worker.exit(LONG).await.success());
    let state = f.state(&held);
    assert!(
        !matches!(state, WorkState::Stopping | WorkState::Stopped),
        "{held}: {state:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_ends_the_worker_with_1() {
    let f = fixture().await;
    let script = f.script("never.sh", "exit 0");
    let mut cmd = f.antenv(["worker", "poll", "--on-work"]);
    cmd.arg(&script)
        .env("ANTHROPIC_ENVIRONMENT_KEY", "sk-ant-oat01-wrong");
    let (code, _, stderr) = common::output(cmd).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("authentication_error"), "{stderr}");
    assert!(!stderr.contains("sk-ant-oat01-wrong"), "{stderr}");
}

/// SIGTERM with a script in flight and every stop black-holed: the worker
/// is gone within --grace + the script's cancel grace (--kill-grace + 1 s)
/// + --stop-timeout, and leaves the item to its lease (logged by id).
/// Without the stop phase's deadline the stop would be tried five times,
/// each bounded by the request timeout (60 s; 2 s at the tests' timing
/// scale): over 11 s here, past the 9 s this test allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_with_every_stop_black_holed_ends_within_its_bound() {
    let f = fixture().await;
    let held = f.queue_session("session_hold");
    let script = f.script(
        "hold.sh",
        r#"trap 'exit 0' TERM; touch "$RECORD_DIR/holding"; while :; do sleep 0.05; done"#,
    );
    let mut cmd = f.worker([
        "worker",
        "poll",
        "--log-format",
        "json",
        "--heartbeat",
        "--grace",
        "1s",
        "--kill-grace",
        "1s",
        "--stop-timeout",
        "1s",
        "--on-work",
    ]);
    cmd.arg(&script).env("RECORD_DIR", f.dir.path());
    let mut worker = spawn(cmd);
    wait_for("the script holding", LONG, || f.path("holding").exists()).await;
    f.server.set_faults(FaultConfig {
        rules: vec![FaultRule::on_operation("stop_work", Fault::Hang)],
        ..FaultConfig::none()
    });
    let signalled = std::time::Instant::now();
    worker.signal(Signal::SIGTERM);
    let bound = Duration::from_secs(1 + 2 + 1);
    // The margin covers process start-up and exit, not another stop try.
    assert!(worker.exit(bound + Duration::from_secs(5)).await.success());
    assert!(
        signalled.elapsed() < bound + Duration::from_secs(3),
        "{:?}",
        signalled.elapsed()
    );
    let left = worker.events(
        "left unstopped: the shutdown's stop phase is over; its lease runs out and the queue serves it again",
    );
    assert_eq!(left.len(), 1, "{}", worker.log_text());
    assert_eq!(left[0]["work_id"], held.as_str());
    let state = f.state(&held);
    assert!(
        !matches!(state, WorkState::Stopping | WorkState::Stopped),
        "{state:?}"
    );
}

/// Without a script, `worker poll` serves each session in-process, as
/// `ant` does: the agent's calls run in --workdir and their results are
/// posted with the item's token; the session's end ends the serving, and
/// --drain then ends the worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_served_in_process_without_a_script() {
    let f = fixture().await;
    let session_id = f.session_with_calls(
        vec![
            Fixture::bash_call("echo served by antenv"),
            serde_json::json!({"type": "agent.tool_use", "name": "write",
                "input": {"file_path": "out.txt", "content": "hello"}}),
        ],
        true,
    );
    let workdir = f.dir.path().join("sandbox");
    let mut cmd = f.worker([
        "worker",
        "poll",
        "--drain",
        "--log-format",
        "json",
        "--health-listen",
        "127.0.0.1:0",
        "--workdir",
    ]);
    cmd.arg(&workdir);
    let mut worker = spawn(cmd);
    wait_for("two results", LONG, || {
        common::tool_results(&f, &session_id).len() == 2
    })
    .await;
    // The tool calls in the metrics (counted once each result is posted).
    let metrics = common::poll_until("the tool calls counted", LONG, || async {
        let text = scrape(&worker, "/metrics").await.1;
        text.contains("antenv_tool_calls_total{tool=\"write\",outcome=\"posted\"} 1")
            .then_some(text)
    })
    .await;
    assert!(
        metrics.contains("antenv_tool_calls_total{tool=\"bash\",outcome=\"posted\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("antenv_tool_call_duration_seconds_count{tool=\"bash\"} 1"),
        "{metrics}"
    );
    f.server
        .append_session_events(
            &session_id,
            vec![serde_json::json!({"type": "session.status_terminated"})],
        )
        .unwrap();
    assert!(worker.exit(LONG).await.success(), "{}", worker.log_text());
    assert!(worker.assert_plain_json_logs() > 3, "{}", worker.log_text());
    let results = common::tool_results(&f, &session_id);
    assert_eq!(results[0]["content"][0]["text"], "served by antenv");
    assert_eq!(results[1]["is_error"], false);
    assert_eq!(
        std::fs::read_to_string(workdir.join("out.txt")).unwrap(),
        "hello"
    );
    let work_id = f.server.work_items(&f.environment_id)[0].id.clone();
    f.stop_reached(&work_id).await;
}

/// SIGTERM while an in-process session's tool runs, with no grace: the
/// handler is cancelled at once, yet the call in flight finishes and its
/// result is posted (notes §3.10: only a lost lease cancels a tool at once;
/// a shutdown gives it the drain time), then the worker stops the item and
/// exits 0. A session that ended before is counted in
/// `antenv_sessions_served_total`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_tool_lets_the_call_finish_and_post() {
    let f = fixture().await;
    let new_session = |command: &str| f.session_with_calls(vec![Fixture::bash_call(command)], true);
    // Served first (one at a time): ends by termination.
    let first = new_session("echo first");
    // Served next: its call waits for the test's go-ahead.
    let second = new_session("mkfifo go && touch started && read -r _ < go; echo finished");
    let workdir = f.dir.path().join("sandbox");
    let mut cmd = f.worker([
        "worker",
        "poll",
        "--grace",
        "0s",
        "--log-format",
        "json",
        "--health-listen",
        "127.0.0.1:0",
        "--workdir",
    ]);
    cmd.arg(&workdir);
    let mut worker = spawn(cmd);
    wait_for("the first result", LONG, || {
        common::tool_results(&f, &first).len() == 1
    })
    .await;
    f.server
        .append_session_events(
            &first,
            vec![serde_json::json!({"type": "session.status_terminated"})],
        )
        .unwrap();
    common::poll_until("the first session counted", LONG, || async {
        scrape(&worker, "/metrics")
            .await
            .1
            .contains("antenv_sessions_served_total{end=\"session_ended\"} 1")
            .then_some(())
    })
    .await;
    wait_for("the second call running", LONG, || {
        workdir.join("started").exists()
    })
    .await;
    worker.signal(Signal::SIGTERM);
    wait_for("the handler cancelled", LONG, || {
        !worker
            .events("grace period over; cancelling handlers")
            .is_empty()
    })
    .await;
    // Still waiting for its go-ahead: nothing posted yet.
    assert!(common::tool_results(&f, &second).is_empty());
    // (A FIFO: the write waits for the call's read, which then returns.)
    tokio::fs::write(workdir.join("go"), "go\n").await.unwrap();
    let status = worker.exit(LONG).await;
    assert!(status.success(), "{status:?}\n{}", worker.log_text());
    let results = common::tool_results(&f, &second);
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["is_error"], false, "{results:?}");
    assert_eq!(results[0]["content"][0]["text"], "finished", "{results:?}");
    for item in f.server.work_items(&f.environment_id) {
        f.stop_reached(&item.id).await;
    }
}
