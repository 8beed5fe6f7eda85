//! Test helpers without the code generator: a loopback HTTP server that
//! records every request and answers through a closure, for the tests that
//! need scripted answers the mock server does not give (hostile bodies,
//! scripted errors and retries); and captures of what `tracing` records.

mod tracing_capture;
pub use tracing_capture::{CapturedLogs, SpanCapture, SpanRecord};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One request as the recording server saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// HTTP method.
    pub method: Method,
    /// Path, without the query.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// All request headers.
    pub headers: HeaderMap,
    /// The body bytes.
    pub body: Bytes,
}

impl Recorded {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON; `None` when it is empty. Panics on a body
    /// that is not JSON (the clients under test only send JSON).
    pub fn json(&self) -> Option<serde_json::Value> {
        (!self.body.is_empty()).then(|| serde_json::from_slice(&self.body).unwrap())
    }

    /// The query's `name=value` pairs in the order sent, still encoded.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }
}

/// The answer the recording server gives to a request.
pub type Responder = dyn Fn(&Recorded) -> (StatusCode, Vec<(String, String)>, String) + Send + Sync;

/// A loopback HTTP server that records every request and answers through a
/// closure. Dropping it stops the server.
pub struct RecordingServer {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RecordingServer {
    /// Binds 127.0.0.1 on an ephemeral port and starts serving.
    pub async fn start(responder: Arc<Responder>) -> Self {
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let log = requests.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let log = log.clone();
                let responder = responder.clone();
                async move {
                    let rec = Recorded {
                        method,
                        path: uri.path().to_owned(),
                        query: uri.query().map(str::to_owned),
                        headers,
                        body,
                    };
                    let (status, headers, body) = responder(&rec);
                    log.lock().unwrap().push(rec);
                    let mut response: Response = (status, body).into_response();
                    response.headers_mut().insert(
                        "content-type",
                        "application/json".parse().expect("static header"),
                    );
                    for (k, v) in headers {
                        response.headers_mut().insert(
                            axum::http::HeaderName::from_bytes(k.as_bytes()).expect("header name"),
                            v.parse().expect("header value"),
                        );
                    }
                    response
                }
            },
        );
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self {
            base_url: format!("http://{addr}"),
            requests,
            task,
        }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for RecordingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
