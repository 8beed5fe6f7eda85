//! Shared helpers of the facade's tests.
#![allow(dead_code, unused_imports)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anthropic_environments::Client;
use anthropic_environments::retry::{Sleep, SleepFuture};
pub use anthropic_environments_test_support::{CapturedLogs, Recorded, RecordingServer};
pub use axum::http::{Method, StatusCode};
pub use serde_json::{Value, json};

pub const KEY: &str = "sk-ant-test-SECRET-0123456789";

/// Records the delays it is asked for and returns at once.
#[derive(Debug, Default)]
pub struct RecordingSleep(pub Mutex<Vec<Duration>>);

impl RecordingSleep {
    pub fn delays(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

impl Sleep for RecordingSleep {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        self.0.lock().unwrap().push(duration);
        Box::pin(async {})
    }
}

pub type Reply = (StatusCode, Vec<(String, String)>, String);

/// A base URL on 127.0.0.1 that nothing listens on any more: a port bound,
/// noted and closed.
pub fn closed_loopback_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}")
}

pub fn ok(body: Value) -> Reply {
    (
        StatusCode::OK,
        vec![("request-id".into(), "req_ok".into())],
        body.to_string(),
    )
}

pub fn api_error(status: u16, kind: &str, message: &str) -> Reply {
    (
        StatusCode::from_u16(status).unwrap(),
        vec![("request-id".into(), format!("req_{status}"))],
        json!({"type": "error", "error": {"type": kind, "message": message}}).to_string(),
    )
}

pub async fn server(f: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> RecordingServer {
    RecordingServer::start(Arc::new(f)).await
}

/// A client of `server` whose retries do not really sleep.
pub fn client(server: &RecordingServer) -> (Client, Arc<RecordingSleep>) {
    client_at(&server.base_url)
}

/// A client of the server at `base_url` whose retries do not really sleep.
pub fn client_at(base_url: &str) -> (Client, Arc<RecordingSleep>) {
    let sleep = Arc::new(RecordingSleep::default());
    let client = Client::builder()
        .api_key(KEY)
        .base_url(base_url)
        .sleep_impl(sleep.clone())
        .build()
        .unwrap();
    (client, sleep)
}

/// A client of the mock `server` (any-key mode, default retries) and a new
/// self-hosted environment named `name` in it.
pub async fn mock_environment(
    server: &anthropic_environments_mock::MockServer,
    name: &str,
) -> (Client, String) {
    let client = Client::builder()
        .api_key("k")
        .base_url(server.base_url())
        .build()
        .unwrap();
    let env = server.create_environment(name).unwrap();
    (client, env)
}

pub fn work_json(id: &str, state: &str) -> Value {
    json!({
        "id": id, "acknowledged_at": null, "created_at": "2026-03-15T10:00:00Z",
        "data": {"id": "session_1", "type": "session"}, "environment_id": "env_1",
        "latest_heartbeat_at": null, "metadata": {}, "started_at": null, "state": state,
        "stop_requested_at": null, "stopped_at": null, "type": "work"
    })
}

pub fn env_json(id: &str) -> Value {
    json!({
        "id": id, "archived_at": null,
        "config": {"type": "cloud",
                   "networking": {"type": "limited", "allowed_hosts": ["api.example.com"],
                                  "allow_mcp_servers": false, "allow_package_managers": true},
                   "packages": {"apt": [], "cargo": [], "gem": [], "go": [], "npm": [],
                                "pip": ["pandas"], "type": "packages"}},
        "created_at": "2026-03-15T10:00:00Z", "description": "d", "metadata": {},
        "name": "n", "type": "environment", "updated_at": "2026-03-15T10:00:00Z",
        "scope": "organization"
    })
}

/// A server on a raw socket whose first `broken` answers announce a body
/// and close the connection after a part of it; later answers are whole.
/// Returns its base URL and the count of connections it accepted.
pub async fn breaks_mid_answer(broken: usize) -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                // Read the request head (these requests have no body).
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => head.extend_from_slice(&buf[..k]),
                    }
                }
                let body = env_json("env_1").to_string();
                let answer = if n < broken {
                    // Announce the whole body, send a tenth, hang up.
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\n\r\n{}",
                        body.len(),
                        &body[..body.len() / 10]
                    )
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), accepted)
}
