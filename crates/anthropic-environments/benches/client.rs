//! The client's own cost per request, next to bare reqwest + serde_json
//! doing the same request against the same loopback server, and the cost of
//! decoding a 1,000-item list page.
//!
//! `cargo bench -p anthropic-environments --bench client`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use anthropic_environments::Client;
use anthropic_environments::types::{BetaEnvironment, BetaEnvironmentListResponse};
use axum::http::header::CONTENT_TYPE;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

fn environment(i: usize) -> Value {
    json!({
        "id": format!("env_{i:024}"), "archived_at": null,
        "config": {"type": "cloud",
                   "networking": {"type": "limited", "allowed_hosts": ["api.example.com", "pypi.org"],
                                  "allow_mcp_servers": false, "allow_package_managers": true},
                   "packages": {"apt": ["jq"], "cargo": [], "gem": [], "go": [], "npm": ["zx"],
                                "pip": ["pandas", "numpy"], "type": "packages"}},
        "created_at": "2026-03-15T10:00:00Z", "description": "Python environment with data-analysis packages.",
        "metadata": {"team": "data", "tier": "gold"}, "name": format!("environment-{i}"),
        "type": "environment", "updated_at": "2026-03-15T10:00:00Z", "scope": "organization"
    })
}

/// Serves one environment and a 1,000-item page, as fixed bytes.
async fn serve() -> (String, tokio::task::JoinHandle<()>) {
    let one: Arc<[u8]> = serde_json::to_vec(&environment(1)).unwrap().into();
    let page: Arc<[u8]> = serde_json::to_vec(&json!({
        "data": (0..1000).map(environment).collect::<Vec<_>>(), "next_page": null
    }))
    .unwrap()
    .into();
    let app = axum::Router::new()
        .route(
            "/v1/environments/{id}",
            axum::routing::get(move || {
                let one = one.clone();
                async move { ([(CONTENT_TYPE, "application/json")], one.to_vec()) }
            }),
        )
        .route(
            "/v1/environments",
            axum::routing::get(move || {
                let page = page.clone();
                async move { ([(CONTENT_TYPE, "application/json")], page.to_vec()) }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, task)
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (url, _server) = rt.block_on(serve());
    let client = Client::builder()
        .api_key("sk-ant-bench")
        .base_url(&url)
        .build()
        .unwrap();
    let http = reqwest::Client::new();

    let mut g = c.benchmark_group("retrieve_environment");
    g.throughput(Throughput::Elements(1));
    g.bench_function("facade", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                client
                    .environments()
                    .retrieve("env_1")
                    .send()
                    .await
                    .unwrap(),
            )
        })
    });
    g.bench_function("reqwest_serde_json", |b| {
        b.to_async(&rt).iter(|| async {
            let bytes = http
                .get(format!("{url}/v1/environments/env_1"))
                .bearer_auth("sk-ant-bench")
                .header("anthropic-version", "2026-10-21")
                .header("anthropic-beta", "managed-agents-2026-04-01")
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap()
                .bytes()
                .await
                .unwrap();
            black_box(serde_json::from_slice::<BetaEnvironment>(&bytes).unwrap())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("list_page_1000");
    g.throughput(Throughput::Elements(1000));
    g.sample_size(20);
    g.bench_function("facade", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(client.environments().list().send().await.unwrap()) })
    });
    g.bench_function("reqwest_serde_json", |b| {
        b.to_async(&rt).iter(|| async {
            let bytes = http
                .get(format!("{url}/v1/environments"))
                .bearer_auth("sk-ant-bench")
                .header("anthropic-version", "2026-10-21")
                .header("anthropic-beta", "managed-agents-2026-04-01")
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            black_box(serde_json::from_slice::<BetaEnvironmentListResponse>(&bytes).unwrap())
        })
    });
    g.finish();

    let page_bytes = serde_json::to_vec(&json!({
        "data": (0..1000).map(environment).collect::<Vec<_>>(), "next_page": "page_2"
    }))
    .unwrap();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(page_bytes.len() as u64));
    g.bench_function("list_page_1000", |b| {
        b.iter(|| {
            black_box(
                serde_json::from_slice::<BetaEnvironmentListResponse>(black_box(&page_bytes))
                    .unwrap(),
            )
        })
    });
    g.finish();

    // A poll's answer: one work item with its secret.
    let poll_bytes = serde_json::to_vec(&json!({
        "id": "work_01mock0000000000000002", "acknowledged_at": null,
        "created_at": "2026-03-15T10:00:00.000000Z",
        "data": {"type": "session", "id": "session_011CZkZ9X2dpNyB7HsEFoRfW"},
        "environment_id": "env_011CZkZ9X2dpNyB7HsEFoRfW", "latest_heartbeat_at": null,
        "metadata": {"team": "infra"}, "started_at": null, "state": "queued",
        "stop_requested_at": null, "stopped_at": null, "type": "work",
        "secret": "eyJzZXNzaW9uc190b2tlbiI6InNrLWFudC1yZXEtbW9jay0wMDAxIiwiYXBpX2Jhc2VfdXJsIjoiaHR0cDovLzEyNy4wLjAuMTo0MDEwIn0"
    }))
    .unwrap();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(poll_bytes.len() as u64));
    g.bench_function("poll_response", |b| {
        b.iter(|| {
            black_box(
                serde_json::from_slice::<Option<anthropic_environments::Work>>(black_box(
                    &poll_bytes,
                ))
                .unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group! {
    name = client;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(client);
