//! `antenv worker webhook`, the built binary against the strict mock: the
//! mock announces a session whose work is queued with a delivery signed
//! with the endpoint's key, which wakes a worker that polls the queue until
//! it is empty and serves the session in-process; forged, repeated and
//! other deliveries change nothing; 503 once shutting down.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long anything the tests wait for may take.
const LONG: Duration = Duration::from_secs(20);

use anthropic_environments::webhooks::WebhookVerifier;
use common::{Fixture, Running, fixture, spawn, wait_for};
use nix::sys::signal::Signal;
use serde_json::json;

const KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A delivery of an event of `kind` about `id`, signed with `key`.
async fn deliver(address: &str, key: &str, delivery: &str, kind: &str, id: &str) -> (u16, String) {
    let body = json!({"type": "event", "id": format!("wevt_{delivery}"),
        "created_at": "2026-12-02T00:00:00Z",
        "data": {"type": kind, "id": id, "organization_id": "org_1", "workspace_id": "wrkspc_1"}})
    .to_string();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signature = WebhookVerifier::new(key)
        .unwrap()
        .sign(delivery, now, body.as_bytes());
    let response = reqwest::Client::new()
        .post(format!("http://{address}/webhook"))
        .header("webhook-id", delivery)
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Starts `worker webhook` on a free port with JSON logs, the signing key,
/// `extra` flags and `workdir`; the worker and its receiver's address.
async fn start_webhook_worker(f: &Fixture, extra: &[&str], workdir: &Path) -> (Running, String) {
    let mut cmd = f.worker([
        "worker",
        "webhook",
        "--listen",
        "127.0.0.1:0",
        "--log-format",
        "json",
    ]);
    cmd.args(extra)
        .arg("--workdir")
        .arg(workdir)
        .env("ANTHROPIC_WEBHOOK_SIGNING_KEY", KEY);
    let worker = spawn(cmd);
    let address = common::logged_address(&worker, "webhook receiver listening", LONG).await;
    (worker, address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_deliveries_wake_the_worker_and_nothing_else_does() {
    let f = fixture().await;
    let workdir = f.dir.path().join("sandbox");
    // Room for another session: the worker polls while it serves one.
    let (mut worker, address) = start_webhook_worker(&f, &["--concurrency", "2"], &workdir).await;
    // The first poll (a backlog is served at start) finds nothing.
    let polls = || f.server.requests_for("poll_work").len();
    wait_for("the first poll", LONG, || polls() >= 1).await;

    // Forged and other deliveries poll nothing.
    let before = polls();
    let forged = deliver(
        &address,
        "whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==",
        "msg_forged",
        "session.status_run_started",
        "sesn_x",
    )
    .await;
    assert_eq!(forged.0, 401, "{forged:?}");
    let other = deliver(&address, KEY, "msg_other", "session.status_idled", "sesn_x").await;
    assert_eq!(other.0, 200, "{other:?}");
    assert_eq!(polls(), before, "neither a forged nor another event polls");

    // The mock announces each session whose work is queued, signed with
    // the endpoint's key: that delivery wakes the worker.
    f.server
        .add_webhook_endpoint(&format!("http://{address}/webhook"), Some(KEY))
        .unwrap();
    let session_id =
        f.session_with_calls(vec![Fixture::bash_call("echo woken by a webhook")], false);
    f.server.queue_work(&f.environment_id, &session_id).unwrap();
    wait_for("the call answered", LONG, || {
        common::tool_results(&f, &session_id).len() == 1
    })
    .await;
    let results = common::tool_results(&f, &session_id);
    assert_eq!(results[0]["content"][0]["text"], "woken by a webhook");
    // Delivered again (deliveries come at least once): ignored.
    let first = f
        .server
        .deliver_webhook("session.status_run_started", &session_id, Some("msg_run"))
        .await;
    assert_eq!(first[0].status, Some(202), "{first:?}");
    let repeated = f
        .server
        .deliver_webhook("session.status_run_started", &session_id, Some("msg_run"))
        .await;
    assert_eq!(repeated[0].status, Some(200), "{repeated:?}");
    // Another turn's event while the session is served: the session (not
    // in the queue) is not served twice.
    let before_turn = polls();
    let next_turn = f
        .server
        .deliver_webhook("session.status_run_started", &session_id, None)
        .await;
    assert_eq!(next_turn[0].status, Some(202), "{next_turn:?}");
    // Wait for the poll it caused (it finds the queue empty).
    wait_for("the poll the event woke", LONG, || polls() > before_turn).await;
    let acks = f.server.requests_for("ack_work").len();
    assert_eq!(acks, 1, "one ack: the session is served once");

    // Shutting down with a call running (it gets its drain time):
    // deliveries get 503 meanwhile (the sender retries them later).
    // (With --concurrency 2, each session has its own folder.)
    let started = workdir.join(&session_id).join("started");
    f.server
        .append_session_events(
            &session_id,
            vec![json!({"type": "agent.tool_use", "name": "bash",
                "input": {"command": "mkfifo go && touch started && read -r _ < go; echo finished"}})],
        )
        .unwrap();
    wait_for("the long call", LONG, || started.exists()).await;
    worker.signal(Signal::SIGTERM);
    let mut attempt = 0;
    let refused = common::poll_until("503 while shutting down", LONG, || {
        attempt += 1;
        let id = format!("msg_late_{attempt}");
        let address = address.clone();
        let session_id = session_id.clone();
        async move {
            let (status, body) = deliver(
                &address,
                KEY,
                &id,
                "session.status_run_started",
                &session_id,
            )
            .await;
            (status == 503).then_some(body)
        }
    })
    .await;
    assert!(refused.contains("shutting down"), "{refused}");
    // Only now may the call finish: the 503s came while it drained.
    // (A FIFO: the write waits for the call's read, which then returns.)
    tokio::fs::write(started.with_file_name("go"), "go\n")
        .await
        .unwrap();
    assert!(worker.exit(LONG).await.success(), "{}", worker.log_text());
    assert_eq!(f.server.requests_for("ack_work").len(), 1);
    assert!(
        worker.assert_plain_json_logs() > 10,
        "{}",
        worker.log_text()
    );
    let results = common::tool_results(&f, &session_id);
    assert_eq!(results.len(), 2, "the running call finished and posted");
    assert_eq!(results[1]["content"][0]["text"], "finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_unusable_signing_key_is_a_usage_error() {
    let f = fixture().await;
    let cmd = f.worker(["worker", "webhook", "--listen", "127.0.0.1:0"]);
    let (code, _, stderr) = common::output(cmd).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("ANTHROPIC_WEBHOOK_SIGNING_KEY"), "{stderr}");
    let mut cmd = f.worker(["worker", "webhook", "--listen", "127.0.0.1:0"]);
    cmd.env("ANTHROPIC_WEBHOOK_SIGNING_KEY", "whsec_not base64!");
    let (code, _, stderr) = common::output(cmd).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not base64"), "{stderr}");
    assert!(
        !stderr.contains("not base64!"),
        "the key is never printed: {stderr}"
    );
    // --block-ms and --drain mean nothing here: refused.
    for flags in [&["--block-ms", "500"][..], &["--drain"][..]] {
        let mut cmd = f.worker(["worker", "webhook", "--listen", "127.0.0.1:0"]);
        cmd.args(flags).env("ANTHROPIC_WEBHOOK_SIGNING_KEY", KEY);
        let (code, _, stderr) = common::output(cmd).await;
        assert_eq!(code, 2, "{flags:?}: {stderr}");
        assert!(stderr.contains("not for `worker webhook`"), "{stderr}");
    }
    // An empty variable is no key: the file is read.
    let file = f.path("signing-key");
    std::fs::write(&file, format!("{KEY}\n")).unwrap();
    let mut cmd = f.worker(["worker", "webhook", "--listen", "127.0.0.1:0", "--drain"]);
    cmd.env("ANTHROPIC_WEBHOOK_SIGNING_KEY", "")
        .env("ANTHROPIC_WEBHOOK_SIGNING_KEY_FILE", &file);
    let (code, _, stderr) = common::output(cmd).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--drain is not for"),
        "the key was read, then the flags checked: {stderr}"
    );
}

/// A missed delivery (no endpoint is registered with the mock, so none
/// comes) delays work by at most --poll-every: the worker polls anyway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_whose_delivery_was_missed_is_served_by_the_safety_net_poll() {
    let f = fixture().await;
    let workdir = f.dir.path().join("sandbox");
    let (mut worker, _) = start_webhook_worker(&f, &["--poll-every", "1s"], &workdir).await;
    let polls = || f.server.requests_for("poll_work").len();
    wait_for("the first poll", LONG, || polls() >= 1).await;
    // Queued after the worker's first poll, announced to no one.
    let session_id = f.session_with_calls(
        vec![Fixture::bash_call("echo found without a webhook")],
        false,
    );
    f.server.queue_work(&f.environment_id, &session_id).unwrap();
    wait_for("the call answered", LONG, || {
        common::tool_results(&f, &session_id).len() == 1
    })
    .await;
    let results = common::tool_results(&f, &session_id);
    assert_eq!(results[0]["content"][0]["text"], "found without a webhook");
    worker.signal(Signal::SIGTERM);
    assert!(worker.exit(LONG).await.success(), "{}", worker.log_text());
}
