//! Each error a newcomer meets first: what it says and the exit status the
//! help documents for it.

mod common;

use std::time::Duration;

use common::{API_KEY, fixture, output, spawn};
use nix::sys::signal::Signal;

const LONG: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_says_refused_and_exits_4() {
    let f = fixture().await;
    let mut cmd = f.admin(["environments", "list"]);
    // Port 9 (discard) on loopback: nothing listens there in the tests.
    cmd.env("ANTHROPIC_BASE_URL", "http://127.0.0.1:9");
    let (code, stdout, stderr) = output(cmd).await;
    assert_eq!((code, stdout.as_str()), (4, ""), "{stderr}");
    assert!(stderr.starts_with("error: list_environments: "), "{stderr}");
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_against_a_plain_http_server_gets_a_hint_and_exits_4() {
    let f = fixture().await;
    let plain = f.server.base_url().trim_end_matches('/').to_owned();
    let mut cmd = f.admin(["environments", "list"]);
    cmd.env(
        "ANTHROPIC_BASE_URL",
        plain.replacen("http://", "https://", 1),
    );
    let (code, _, stderr) = output(cmd).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("InvalidContentType"), "the cause: {stderr}");
    assert!(
        stderr.ends_with(&format!(
            "hint: the server answered TLS with plain HTTP; for a local mock, try --base-url {plain}\n"
        )),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_url_without_a_scheme_gets_a_hint_and_exits_2() {
    let f = fixture().await;
    let before = f.server.requests().len();
    let address = f.server.base_url().trim_start_matches("http://").to_owned();
    let mut cmd = f.admin(["environments", "list"]);
    cmd.env("ANTHROPIC_BASE_URL", &address);
    let (code, _, stderr) = output(cmd).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "has no http:// or https:// (did you mean \"http://{address}\"?)"
        )),
        "{stderr}"
    );
    assert_eq!(f.server.requests().len(), before, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_url_ending_in_v1_gets_a_hint_with_the_404() {
    let f = fixture().await;
    let root = f.server.base_url().trim_end_matches('/').to_owned();
    let mut cmd = f.admin(["environments", "list"]);
    cmd.env("ANTHROPIC_BASE_URL", format!("{root}/v1"));
    let (code, _, stderr) = output(cmd).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("404 Not Found"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "hint: the base URL ends in /v1, and antenv adds /v1 to every path; try --base-url {root} (or ANTHROPIC_BASE_URL={root})\n"
        )),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_run_for_an_unknown_item_says_why_and_exits_3() {
    let f = fixture().await;
    let cmd = {
        let mut cmd = f.worker(["worker", "run", "--work-id", "work_unknown"]);
        cmd.args(["--session-id", "session_unknown"]);
        cmd
    };
    let (code, _, stderr) = output(cmd).await;
    assert_eq!(code, 3, "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(
            "error: the item was not served: its lease could not be claimed \
             (heartbeat_rejected): heartbeat_work: 404 Not Found not_found_error"
        ),
        "{stderr}"
    );
    assert!(last.contains("(request-id req_"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_arguments_name_their_variables_and_exit_2() {
    let f = fixture().await;
    // The fixture sets ANTHROPIC_ENVIRONMENT_ID: it is not missing.
    let (code, _, stderr) = output(f.worker(["worker", "run"])).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "the following required arguments were not provided:\n  \
             --work-id <ID> (or ANTHROPIC_WORK_ID)\n  \
             --session-id <ID> (or ANTHROPIC_SESSION_ID)\n"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("--environment-id <ID> (or"),
        "set through the environment, so not missing: {stderr}"
    );
    let mut cmd = f.worker(["worker", "poll"]);
    cmd.env_remove("ANTHROPIC_ENVIRONMENT_ID");
    let (code, _, stderr) = output(cmd).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--environment-id <ID> (or ANTHROPIC_ENVIRONMENT_ID)"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_ends_worker_poll_with_3_as_its_help_says() {
    let f = fixture().await;
    let mut cmd = f.antenv(["worker", "poll"]);
    cmd.env("ANTHROPIC_ENVIRONMENT_KEY", "sk-ant-oat01-not-this-one");
    let (code, _, stderr) = output(cmd).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("error: poll_work: 401"), "{stderr}");
    let (_, help, _) = output(f.antenv(["worker", "poll", "--help"])).await;
    assert!(
        help.contains("3 when the API refuses polling for good (a rejected key"),
        "{help}"
    );
    // The admin commands: an API key the API rejects is its answer too.
    let mut cmd = f.antenv(["environments", "list"]);
    cmd.env("ANTHROPIC_API_KEY", format!("{API_KEY}-wrong"));
    let (code, _, stderr) = output(cmd).await;
    assert_eq!(code, 3, "{stderr}");
}

/// A script's output becomes JSON records with its item's ids, and a
/// script the operator's SIGTERM ended is logged as that: at INFO, the
/// signal named, no ERROR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_output_is_logged_as_records_and_a_shutdown_is_not_an_error() {
    let f = fixture().await;
    let work = f.queue_session("session_logged");
    let script = f.script(
        "talk.sh",
        "echo \"to stdout\"\necho 'to stderr {\"not\": json}' >&2\nprintf 'no newline' >&2\n\
         echo started > \"$0.started\"\n\
         # Waits on a FIFO nobody writes: until the shutdown's SIGTERM.\n\
         mkfifo \"$0.wait\"\nexec cat \"$0.wait\"",
    );
    let mut worker = spawn({
        // On SIGTERM the script is signalled after --grace.
        let mut cmd = f.worker(["worker", "poll", "--log-format", "json", "--grace", "100ms"]);
        cmd.arg("--on-work");
        cmd.arg(&script);
        cmd
    });
    common::wait_for("the script started", LONG, || {
        script.with_extension("sh.started").exists()
    })
    .await;
    // A line is logged when it ends; the last, unended one when the pipe
    // closes.
    common::wait_for("its output logged", LONG, || {
        worker.events("to stderr {\"not\": json}").len() == 1
    })
    .await;
    assert!(worker.events("no newline").is_empty());
    worker.signal(Signal::SIGTERM);
    assert!(worker.exit(LONG).await.success(), "{}", worker.log_text());
    for (line, stream) in [
        ("to stdout", "stdout"),
        ("to stderr {\"not\": json}", "stderr"),
        ("no newline", "stderr"),
    ] {
        let records = worker.events(line);
        assert_eq!(records.len(), 1, "{line}: {}", worker.log_text());
        assert_eq!(records[0]["stream"], stream);
        assert_eq!(records[0]["work_id"], work.as_str());
        assert_eq!(records[0]["session_id"], "session_logged");
        assert_eq!(records[0]["level"], "INFO");
    }
    let exited = worker.events("script exited");
    assert_eq!(exited.len(), 1, "{}", worker.log_text());
    assert_eq!(exited[0]["signal"], "SIGTERM", "{exited:?}");
    assert_eq!(exited[0]["exit_code"], 143, "{exited:?}");
    assert_eq!(exited[0]["cancel_reason"], "shutdown", "{exited:?}");
    let stopped = worker.events("handler ended after it was asked to stop");
    assert_eq!(stopped.len(), 1, "{}", worker.log_text());
    assert_eq!(stopped[0]["level"], "INFO");
    assert_eq!(
        stopped[0]["error"], "the script was killed by SIGTERM",
        "{stopped:?}"
    );
    let logs = worker.log_text();
    assert!(!logs.contains("\"level\":\"ERROR\""), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_run_against_an_unreachable_api_exits_4_and_says_so() {
    let f = fixture().await;
    let mut cmd = f.worker(["worker", "run", "--work-id", "work_x", "--session-id", "s"]);
    // Port 9 (discard) on loopback: nothing listens there in the tests.
    cmd.env("ANTHROPIC_BASE_URL", "http://127.0.0.1:9");
    let (code, _, stderr) = output(cmd).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.ends_with(
            "error: the item was not served: no heartbeat was answered before its lease ran \
             out (is the API reachable?)\n"
        ),
        "{stderr}"
    );
}

/// With JSON logs, even the command's last words are JSON, and no
/// `RUST_LOG` filter drops them; a command that cannot start says so in a
/// record and exits 127.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_final_error_is_a_json_record_whatever_the_filter() {
    let f = fixture().await;
    let mut cmd = f.admin(["environments", "get", "env_missing", "--log-format", "json"]);
    cmd.env("RUST_LOG", "off");
    let (code, _, stderr) = output(cmd).await;
    assert_eq!(code, 3, "{stderr}");
    let record: serde_json::Value = serde_json::from_str(stderr.trim()).unwrap();
    assert_eq!(record["message"], "command failed");
    assert_eq!(record["level"], "ERROR");
    assert_eq!(record["exit_code"], 3);
    assert!(
        record["error"].as_str().unwrap().contains("404 Not Found"),
        "{record}"
    );
    assert!(record.get("hint").is_none(), "absent when there is none");

    let session = "session_nostart";
    let (work_id, _) = f.claim(session).await;
    let mut cmd = f.worker([
        "worker",
        "run",
        "--log-format",
        "json",
        "--work-id",
        &work_id,
    ]);
    cmd.args(["--session-id", session, "--", "/nonexistent/cmd"]);
    let (code, _, stderr) = output(cmd).await;
    assert_eq!(code, 127, "{stderr}");
    let last: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    assert_eq!(last["exit_code"], 127, "{last}");
    assert!(
        last["error"]
            .as_str()
            .unwrap()
            .starts_with("cannot start /nonexistent/cmd"),
        "{last}"
    );
}

/// A script that prints the worker's credentials gets them redacted in the
/// logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_a_script_prints_are_redacted_in_the_logs() {
    let f = fixture().await;
    f.queue_session("session_leaky");
    let script = f.script(
        "leak.sh",
        "echo \"key=$ANTHROPIC_ENVIRONMENT_KEY\"\ncat \"$ANTHROPIC_WORK_SECRET_FILE\" >&2; echo >&2",
    );
    let mut cmd = f.worker([
        "worker",
        "poll",
        "--drain",
        "--forward-secret",
        "--log-format",
        "json",
        "--on-work",
    ]);
    cmd.arg(&script);
    let mut worker = spawn(cmd);
    assert!(worker.exit(LONG).await.success(), "{}", worker.log_text());
    let logs = worker.log_text();
    assert!(!logs.contains(&f.environment_key), "{logs}");
    let leaked = worker.events("key=<redacted>");
    assert_eq!(leaked.len(), 1, "{logs}");
    let secret_line = worker.events("<redacted>");
    assert_eq!(secret_line.len(), 1, "the secret's file, redacted: {logs}");
    assert_eq!(secret_line[0]["stream"], "stderr");
}
