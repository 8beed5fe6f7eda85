//! A connection that never completes is bounded by the connect timeout (5 s
//! by default, as the official Python SDK), driven by tokio's paused clock.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anthropic_environments::Client;

/// A loopback address whose accept queue is full, so that the kernel drops
/// new connection attempts (a black hole on 127.0.0.1). Keeps the listener
/// and the queued connections alive.
fn black_hole() -> (SocketAddr, Vec<TcpStream>, tokio::net::TcpListener) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    // Fill the accept queue (never accepted); a few extra attempts may end
    // up half-open, which is the point.
    let mut queued = Vec::new();
    for _ in 0..4 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(stream) => queued.push(stream),
            Err(_) => break,
        }
    }
    (addr, queued, listener)
}

#[tokio::test(start_paused = true)]
async fn a_black_holed_connect_times_out_after_the_connect_timeout() {
    let (addr, _queued, _listener) = black_hole();
    let client = Client::builder()
        .api_key("k")
        .base_url(format!("http://{addr}"))
        .max_retries(0)
        .build()
        .unwrap();
    let t0 = tokio::time::Instant::now();
    let err = client
        .environments()
        .retrieve("env_1")
        .send()
        .await
        .unwrap_err();
    let waited = t0.elapsed();
    assert!(
        err.is_timeout() || matches!(err, anthropic_environments::Error::Connection { .. }),
        "{err:?}"
    );
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_secs(6),
        "bounded by the 5 s connect timeout, not the 10 min request timeout: {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_connect_timeout_is_configurable() {
    let (addr, _queued, _listener) = black_hole();
    let client = Client::builder()
        .api_key("k")
        .base_url(format!("http://{addr}"))
        .connect_timeout(Duration::from_secs(1))
        .max_retries(0)
        .build()
        .unwrap();
    let t0 = tokio::time::Instant::now();
    client
        .environments()
        .retrieve("env_1")
        .send()
        .await
        .unwrap_err();
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
}
