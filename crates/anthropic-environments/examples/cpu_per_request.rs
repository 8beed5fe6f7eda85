//! CPU time per request of this client, for `cargo xtask bench-peers`.
//!
//! `cpu_per_request BASE_URL ENVIRONMENT_ID N [bare|both]` sends N retrieves
//! one after another on a single-threaded runtime and prints
//! `cpu_us_per_request=<float>` (process CPU time, user + system). With
//! `bare`, the same request and decode through reqwest and serde_json alone,
//! the floor the facade is measured against. With `both`, 20 interleaved
//! rounds of N/20 requests each way (so that the machine's noise falls on
//! both alike) and the medians: `cpu_us_per_request=<facade>`,
//! `bare_cpu_us_per_request=<bare>` and `ratio_vs_bare=<the median of the
//! rounds' facade/bare ratios>`.

use std::time::Duration;

fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (base_url, environment_id, n, mode) = match args.as_slice() {
        [b, e, n] => (b, e, n, "facade"),
        [b, e, n, mode] if mode == "bare" || mode == "both" => (b, e, n, mode.as_str()),
        _ => {
            eprintln!("usage: cpu_per_request BASE_URL ENVIRONMENT_ID N [bare|both]");
            std::process::exit(2);
        }
    };
    let n: u32 = n.parse().expect("N is a number");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let requests = Requests::new(base_url, environment_id);
        for _ in 0..50 {
            requests.facade().await;
            requests.bare().await;
        }
        match mode {
            "facade" => {
                let us = per_request(n, || requests.facade()).await;
                println!("cpu_us_per_request={us:.1}");
            }
            "bare" => {
                let us = per_request(n, || requests.bare()).await;
                println!("cpu_us_per_request={us:.1}");
            }
            _ => interleaved(&requests, n).await,
        }
    });
}

/// The same retrieve through the facade (as configured by default: with
/// retries, a timeout, the tracing span), and through reqwest and
/// serde_json alone (the headers the API needs, the status check, the
/// decode into the same type).
struct Requests<'a> {
    client: anthropic_environments::Client,
    http: reqwest::Client,
    url: String,
    environment_id: &'a str,
}

impl<'a> Requests<'a> {
    fn new(base_url: &str, environment_id: &'a str) -> Self {
        Requests {
            client: anthropic_environments::Client::builder()
                .api_key("sk-ant-bench")
                .base_url(base_url)
                .build()
                .unwrap(),
            http: reqwest::Client::new(),
            url: format!("{base_url}/v1/environments/{environment_id}"),
            environment_id,
        }
    }

    async fn facade(&self) {
        let env = self
            .client
            .environments()
            .retrieve(self.environment_id)
            .send()
            .await
            .unwrap();
        assert_eq!(env.id, self.environment_id);
    }

    async fn bare(&self) {
        let response = self
            .http
            .get(&self.url)
            .header("authorization", "Bearer sk-ant-bench")
            .header("anthropic-version", "2026-10-21")
            .header("anthropic-beta", "managed-agents-2026-04-01")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        let bytes = response.bytes().await.unwrap();
        let env: anthropic_environments::Environment = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(env.id, self.environment_id);
    }
}

/// CPU microseconds per call of `n` sequential calls.
async fn per_request<F, Fut>(n: u32, call: F) -> f64
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let start = cpu_time();
    for _ in 0..n {
        call().await;
    }
    (cpu_time() - start).as_secs_f64() * 1e6 / f64::from(n.max(1))
}

/// 20 interleaved rounds of the facade and of bare reqwest + serde_json;
/// the median CPU per request of each, and the median of the rounds'
/// ratios (each round's two halves ran back to back, so a drift of the
/// machine's speed between rounds cancels out).
async fn interleaved(requests: &Requests<'_>, n: u32) {
    const ROUNDS: u32 = 20;
    let per_round = (n / ROUNDS).max(1);
    let (mut facade, mut bare, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        // Alternate which side goes first, so that neither always runs
        // right after the other's allocations.
        let (f, b) = if round % 2 == 0 {
            let f = per_request(per_round, || requests.facade()).await;
            (f, per_request(per_round, || requests.bare()).await)
        } else {
            let b = per_request(per_round, || requests.bare()).await;
            (per_request(per_round, || requests.facade()).await, b)
        };
        facade.push(f);
        bare.push(b);
        ratios.push(f / b);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (f, b) = (median(&mut facade), median(&mut bare));
    println!("cpu_us_per_request={f:.1}");
    println!("bare_cpu_us_per_request={b:.1}");
    println!("ratio_vs_bare={:.2}", median(&mut ratios));
}
