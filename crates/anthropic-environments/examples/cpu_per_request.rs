//! CPU time per request of this client, for `cargo xtask bench-peers`.
//!
//! `cpu_per_request BASE_URL ENVIRONMENT_ID N` sends N retrieves one after
//! another on a single-threaded runtime and prints
//! `cpu_us_per_request=<float>` (process CPU time, user + system).

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
    let [base_url, environment_id, n] = args.as_slice() else {
        eprintln!("usage: cpu_per_request BASE_URL ENVIRONMENT_ID N");
        std::process::exit(2);
    };
    let n: u32 = n.parse().expect("N is a number");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = anthropic_environments::Client::builder()
            .api_key("sk-ant-bench")
            .base_url(base_url)
            .max_retries(0)
            .build()
            .unwrap();
        for _ in 0..50 {
            client
                .environments()
                .retrieve(environment_id)
                .send()
                .await
                .unwrap();
        }
        let start = cpu_time();
        for _ in 0..n {
            let env = client
                .environments()
                .retrieve(environment_id)
                .send()
                .await
                .unwrap();
            assert_eq!(&env.id, environment_id);
        }
        let spent = cpu_time() - start;
        println!(
            "cpu_us_per_request={:.1}",
            spent.as_secs_f64() * 1e6 / f64::from(n)
        );
    });
}
