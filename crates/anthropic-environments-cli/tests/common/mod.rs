//! Shared by the end-to-end tests: a mock server that checks credentials
//! as the real API does, the built `antenv` binary, and scripts.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anthropic_environments::params::SelfHostedConfig;
use anthropic_environments::{Client, WorkState};
use anthropic_environments_mock::{MockServer, Timing};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The hidden timing scale of the worker under test.
pub const TIMING_SCALE: &str = "0.0333";

/// The API key the tests' mock accepts.
pub const API_KEY: &str = "sk-ant-api03-test";

/// A mock (strict credentials, 2 s leases) with one self-hosted
/// environment.
pub struct Fixture {
    pub server: MockServer,
    pub environment_id: String,
    pub environment_key: String,
    /// An API-key client, for the test's own checks.
    pub api: Client,
    pub dir: tempfile::TempDir,
}

pub async fn fixture() -> Fixture {
    fixture_with(Timing {
        default_ttl: Duration::from_secs(2),
        stop_grace: Duration::from_millis(50),
        ..Timing::default()
    })
    .await
}

/// The fixture on a mock with this timing.
pub async fn fixture_with(timing: Timing) -> Fixture {
    let server = MockServer::builder()
        .strict_credentials()
        .api_key(API_KEY)
        .timing(timing)
        .start()
        .await;
    let api = Client::builder()
        .api_key(API_KEY)
        .base_url(server.base_url())
        .build()
        .unwrap();
    let environment_id = api
        .environments()
        .create("fleet")
        .config(SelfHostedConfig)
        .send()
        .await
        .unwrap()
        .id;
    let environment_key = server.environment_key(&environment_id).unwrap();
    Fixture {
        server,
        environment_id,
        environment_key,
        api,
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Fixture {
    /// `antenv ARGS` with a clean environment: PATH, the base URL and the
    /// environment id, and the worker's hidden timing scale (the official
    /// timing at a thirtieth: backoffs, idle sleeps and heartbeat intervals
    /// in fractions of a second against the mock's 2 s leases; flags given
    /// on the command line are not scaled); no credential.
    pub fn antenv<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_antenv"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("ANTHROPIC_BASE_URL", self.server.base_url())
            .env("ANTHROPIC_ENVIRONMENT_ID", &self.environment_id)
            .env("ANTHROPIC_WORKER_TIMING_SCALE", TIMING_SCALE)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// `antenv ARGS` as a worker host: the environment key only.
    pub fn worker<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = self.antenv(args);
        cmd.env("ANTHROPIC_ENVIRONMENT_KEY", &self.environment_key);
        cmd
    }

    /// `antenv ARGS` as an admin: the API key only.
    pub fn admin<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = self.antenv(args);
        cmd.env("ANTHROPIC_API_KEY", API_KEY);
        cmd
    }

    /// An executable `#!/bin/sh` script in the test's directory.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn state(&self, work_id: &str) -> WorkState {
        self.server
            .work_items(&self.environment_id)
            .into_iter()
            .find(|w| w.id == work_id)
            .map(|w| w.state)
            .unwrap()
    }

    /// Asserts the item was stopped (a graceful stop passes through
    /// `stopping`), then waits until the mock moves it to `stopped`.
    pub async fn stop_reached(&self, work_id: &str) {
        let state = self.state(work_id);
        assert!(
            matches!(state, WorkState::Stopping | WorkState::Stopped),
            "{work_id}: {state:?}"
        );
        wait_for("stopped", Duration::from_secs(30), || {
            self.state(work_id) == WorkState::Stopped
        })
        .await;
    }

    /// Claims an item as a dispatcher would: queues a session, polls and
    /// acknowledges its item with the environment key; returns (work id,
    /// raw secret).
    pub async fn claim(&self, session: &str) -> (String, String) {
        self.queue_session(session);
        let worker = Client::builder()
            .environment_key(&self.environment_key)
            .base_url(self.server.base_url())
            .build()
            .unwrap();
        let queue = worker.work(&self.environment_id);
        let work = queue.poll().send().await.unwrap().unwrap();
        queue.ack(&work.id).send().await.unwrap();
        (work.id, work.secret.unwrap())
    }

    /// A new session of the environment whose agent asks for `calls`
    /// (`agent.tool_use` events), its work queued when `queued`; its id.
    pub fn session_with_calls(&self, calls: Vec<serde_json::Value>, queued: bool) -> String {
        let session = self
            .server
            .create_session(
                &self.environment_id,
                None,
                Some(serde_json::json!([])),
                queued,
            )
            .unwrap();
        let id = session["id"].as_str().unwrap().to_owned();
        self.server.append_session_events(&id, calls).unwrap();
        id
    }

    /// The `agent.tool_use` event of a bash call.
    pub fn bash_call(command: &str) -> serde_json::Value {
        serde_json::json!({"type": "agent.tool_use", "name": "bash",
            "input": {"command": command}})
    }

    pub fn queue_session(&self, session_id: &str) -> String {
        self.server
            .queue_work(&self.environment_id, session_id)
            .unwrap()
            .id
    }
}

/// Runs to the end: (exit code, stdout, stderr). With JSON logs, every
/// line of stderr is checked ([`assert_plain_json_lines`]).
pub async fn output(mut cmd: Command) -> (i32, String, String) {
    let json = logs_json(&cmd);
    let out = cmd.output().await.unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    // clap's own errors about the command line come before logging starts.
    if json && out.status.code() != Some(2) {
        assert_plain_json_lines(stderr.lines());
    }
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        stderr,
    )
}

/// Whether `cmd` logs JSON (`--log-format json` or `ANTHROPIC_LOG_FORMAT`).
fn logs_json(cmd: &Command) -> bool {
    let std = cmd.as_std();
    let args: Vec<_> = std.get_args().collect();
    args.windows(2)
        .any(|w| w[0] == "--log-format" && w[1] == "json")
        || args.iter().any(|a| *a == "--log-format=json")
        || std
            .get_envs()
            .any(|(k, v)| k == "ANTHROPIC_LOG_FORMAT" && v.is_some_and(|v| v == "json"))
}

/// Asserts that every line is a JSON object whose fields are plain values:
/// no Rust `Debug` text (`Some(...)`, `None`, a struct's `Name { .. }`) in
/// any of them, nested span fields included (a script's own words, the
/// `message` of `antenv::script` records, are its business); how many
/// lines it checked.
pub fn assert_plain_json_lines<'a>(lines: impl Iterator<Item = &'a str>) -> usize {
    fn walk(value: &serde_json::Value, path: &str, line: &str) {
        match value {
            serde_json::Value::String(text) => assert!(
                !text.contains("Some(") && !text.contains("None") && !text.contains(" { "),
                "{path} holds Debug text in {line}"
            ),
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    walk(v, &format!("{path}.{k}"), line);
                }
            }
            serde_json::Value::Array(items) => {
                for v in items {
                    walk(v, path, line);
                }
            }
            _ => {}
        }
    }
    let mut checked = 0;
    for line in lines {
        let mut value = serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        assert!(value.is_object(), "{line}");
        if value["target"] == "antenv::script" {
            value["message"] = serde_json::Value::Null;
        }
        walk(&value, "", line);
        checked += 1;
    }
    checked
}

/// A running `antenv` whose stderr (JSON logs) is collected.
pub struct Running {
    pub child: Child,
    pub logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Started with `--log-format json`: every line is checked when it
    /// exits.
    json: bool,
    /// Reads its stderr until it closes.
    reader: Option<tokio::task::JoinHandle<()>>,
}

pub fn spawn(mut cmd: Command) -> Running {
    let json = logs_json(&cmd);
    cmd.stderr(Stdio::piped()).stdout(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let stderr = child.stderr.take().unwrap();
    let sink = logs.clone();
    let reader = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            sink.lock().unwrap().push(line);
        }
    });
    Running {
        child,
        logs,
        json,
        reader: Some(reader),
    }
}

impl Running {
    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child.id().unwrap() as i32)
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid(), signal).unwrap();
    }

    /// Waits for the process to exit (at most `timeout`); with JSON logs,
    /// then checks every line it logged ([`Self::assert_plain_json_logs`]).
    pub async fn exit(&mut self, timeout: Duration) -> ExitStatus {
        let status = match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!("antenv did not exit; logs:\n{}", self.log_text()),
        };
        if self.json {
            // Its stderr is read to the end before the lines are checked.
            self.drained().await;
            self.assert_plain_json_logs();
        }
        status
    }

    /// Waits until its stderr is read to the end (a child it left holding
    /// the pipe is waited for 10 s at most).
    pub async fn drained(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), reader).await;
        }
    }

    pub fn log_text(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// Asserts that every line logged so far is a JSON object (a script's
    /// output included: it is logged as records) whose fields are plain
    /// values: no Rust `Debug` text (`Some(...)`, a struct's `Name { .. }`)
    /// in any of them, nested span fields included; how many lines it
    /// checked.
    pub fn assert_plain_json_logs(&self) -> usize {
        let logs = self.logs.lock().unwrap();
        assert_plain_json_lines(logs.iter().map(String::as_str))
    }

    /// The JSON log lines whose message is `message`.
    pub fn events(&self, message: &str) -> Vec<serde_json::Value> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["message"] == message)
            .collect()
    }
}

/// Waits for `done` (checked every 20 ms), failing after `timeout`: waits
/// for the event itself, the timeout only ends a test that is stuck.
pub async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    poll_until(what, timeout, || std::future::ready(done().then_some(()))).await
}

/// Waits until `check` gives a value (checked every 20 ms; the check may
/// itself be a request), failing after `timeout`.
pub async fn poll_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let t0 = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(t0.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads a file a script wrote, once it exists and is complete (scripts
/// write to `NAME.tmp` and rename).
pub fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The tool results posted to a session of the fixture's mock.
pub fn tool_results(f: &Fixture, session_id: &str) -> Vec<serde_json::Value> {
    f.server
        .session_events(session_id)
        .unwrap()
        .into_iter()
        .filter(|e| e["type"] == "user.tool_result")
        .collect()
}

/// Waits for the JSON log record `message` (a listener's) and returns its
/// `address`.
pub async fn logged_address(worker: &Running, message: &str, timeout: Duration) -> String {
    wait_for(message, timeout, || !worker.events(message).is_empty()).await;
    worker.events(message)[0]["address"]
        .as_str()
        .unwrap()
        .to_owned()
}
