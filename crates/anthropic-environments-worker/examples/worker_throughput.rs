//! Items per second of the worker with a no-op handler, for
//! `cargo xtask bench-peers`.
//!
//! `worker_throughput BASE_URL ENVIRONMENT_ID N heartbeat|no-heartbeat CONCURRENCY`
//! queues N items through the mock's control route, drains them with one
//! [`Worker`] (poll -> ack -> [heartbeat ->] stop) and prints
//! `items_per_sec=<float>`.

use std::time::Instant;

use anthropic_environments::Client;
use anthropic_environments_worker::{ServeMode, WorkContext, Worker};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base_url, environment_id, n, mode, concurrency] = args.as_slice() else {
        eprintln!(
            "usage: worker_throughput BASE_URL ENVIRONMENT_ID N heartbeat|no-heartbeat CONCURRENCY"
        );
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N");
    let concurrency: usize = concurrency.parse().expect("CONCURRENCY");
    let heartbeats = match mode.as_str() {
        "heartbeat" => true,
        "no-heartbeat" => false,
        other => panic!("unknown mode {other}"),
    };
    let http = reqwest::Client::new();
    for i in 0..n {
        let r = http
            .post(format!(
                "{base_url}/_mock/environments/{environment_id}/work"
            ))
            .header("content-type", "application/json")
            .body(format!(r#"{{"session_id":"bench_{i}"}}"#))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let client = Client::builder()
        .api_key("sk-ant-bench")
        .base_url(base_url)
        .build()
        .unwrap();
    let start = Instant::now();
    let report = Worker::builder(client.work(environment_id))
        .concurrency(concurrency)
        .block_ms(1)
        .drain(true)
        .mode(if heartbeats {
            ServeMode::Leased
        } else {
            ServeMode::Unleased
        })
        .build()
        .unwrap()
        .run(|_ctx: WorkContext| async { Ok::<(), std::io::Error>(()) })
        .await
        .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(report.stopped as usize, n, "{report:?}");
    println!("items_per_sec={:.0}", n as f64 / elapsed.as_secs_f64());
}
