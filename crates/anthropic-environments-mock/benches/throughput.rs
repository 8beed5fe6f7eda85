//! Requests per second the mock serves on loopback: `retrieve` of an
//! environment, and `poll` + `ack` of queued work. The load comes from the
//! same 2-core machine (32 concurrent keep-alive connections through
//! reqwest), so the numbers are a floor for the server alone.
//!
//! `cargo bench -p anthropic-environments-mock --bench throughput`

use std::sync::Arc;
use std::time::{Duration, Instant};

use anthropic_environments_mock::{MockServer, Timing};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CONNECTIONS: usize = 32;
const BATCH: usize = 4_000;

fn request(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
) -> reqwest::RequestBuilder {
    http.request(method, url)
        .bearer_auth("bench")
        .header("anthropic-beta", "managed-agents-2026-04-01")
        .header("anthropic-version", "2026-10-21")
}

/// Runs `per_task` requests on each of `CONNECTIONS` tasks; returns the time.
async fn load<F, Fut>(per_task: usize, f: F) -> Duration
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let f = Arc::new(f);
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|t| {
            let f = f.clone();
            tokio::spawn(async move {
                for i in 0..per_task {
                    f(t * per_task + i).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let timing = Timing {
        default_ttl: Duration::from_secs(3600),
        ..Timing::default()
    };
    let server = rt.block_on(MockServer::builder().timing(timing).start());
    let base = server.base_url();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .unwrap();
    let env: serde_json::Value = rt.block_on(async {
        request(
            &http,
            reqwest::Method::POST,
            format!("{base}/v1/environments"),
        )
        .json(&serde_json::json!({"name": "bench", "config": {"type": "self_hosted"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
    });
    let env_id = env["id"].as_str().unwrap().to_owned();

    let mut g = c.benchmark_group("mock");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(10);
    {
        let (http, url) = (http.clone(), format!("{base}/v1/environments/{env_id}"));
        g.bench_function("retrieve_environment", |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (http, url) = (http.clone(), url.clone());
                        total += load(BATCH / CONNECTIONS, move |_| {
                            let req = request(&http, reqwest::Method::GET, url.clone());
                            async move {
                                let r = req.send().await.unwrap();
                                assert!(r.status().is_success());
                                r.bytes().await.unwrap();
                            }
                        })
                        .await;
                    }
                    total
                }
            })
        });
    }
    // poll + ack: each element is one item, i.e. two requests.
    {
        let server = &server;
        let (http, base, env_id) = (http.clone(), base.clone(), env_id.clone());
        g.bench_function("poll_and_ack", |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (http, base, env_id) = (http.clone(), base.clone(), env_id.clone());
                for i in 0..(iters as usize * BATCH) {
                    server.queue_work(&env_id, &format!("s{i}")).unwrap();
                }
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (http, base, env_id) = (http.clone(), base.clone(), env_id.clone());
                        total += load(BATCH / CONNECTIONS, move |_| {
                            let poll = request(
                                &http,
                                reqwest::Method::GET,
                                format!("{base}/v1/environments/{env_id}/work/poll"),
                            );
                            let (http, base, env_id) = (http.clone(), base.clone(), env_id.clone());
                            async move {
                                let work: serde_json::Value =
                                    poll.send().await.unwrap().json().await.unwrap();
                                let id = work["id"].as_str().expect("queued work");
                                let ack = request(
                                    &http,
                                    reqwest::Method::POST,
                                    format!("{base}/v1/environments/{env_id}/work/{id}/ack"),
                                );
                                assert!(ack.send().await.unwrap().status().is_success());
                            }
                        })
                        .await;
                    }
                    total
                }
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = throughput;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(throughput);
