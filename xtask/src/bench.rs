//! `cargo xtask bench-peers`: this client and worker beside the official
//! Python SDK, in the same run against the same release mock.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};

use crate::test::ensure_python;
use crate::{run, start_mock, workspace_root};

/// Queues `n` session items through the mock's control route.
fn queue_items(python: &Path, base_url: &str, env_id: &str, n: usize) -> Result<()> {
    let script = "import sys, urllib.request\n\
        url = f'{sys.argv[1]}/_mock/environments/{sys.argv[2]}/work'\n\
        for i in range(int(sys.argv[3])):\n    \
            r = urllib.request.Request(url, data=f'{{\"session_id\": \"bench_{i}\"}}'.encode(), headers={'content-type': 'application/json'})\n    \
            urllib.request.urlopen(r).read()\n";
    run(Command::new(python)
        .args(["-c", script, base_url, env_id])
        .arg(n.to_string()))
}

/// `cpu_us_per_request=<f64>` from a peer's output.
fn cpu_us(output: std::process::Output, who: &str) -> Result<f64> {
    measured(output, who, "cpu_us_per_request=")
}

/// The middle value (the upper one of an even count); 0 when empty.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The number after `key` in a peer's output.
fn measured(output: std::process::Output, who: &str, key: &str) -> Result<f64> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        anyhow::bail!(
            "{who} failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("{who} printed no {key}: {stdout}"))
}

/// Sends the same requests through this client and the official Python SDK
/// against one mock server and prints CPU microseconds per request; then
/// drains queues with this crate's worker and with the SDK's poller and
/// prints items per second.
pub fn bench_peers() -> Result<ExitCode> {
    const RUST_REQUESTS: &str = "20000";
    const PYTHON_REQUESTS: &str = "3000";
    let root = workspace_root();
    let python = ensure_python(&root)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(&cargo).current_dir(&root).args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "anthropic-environments-mock",
        "--features",
        crate::MOCK_BINARY_FEATURE,
        "--bins",
        "-p",
        "anthropic-environments",
        "--example",
        "cpu_per_request",
        "-p",
        "anthropic-environments-worker",
        "--example",
        "worker_throughput",
        "-p",
        "anthropic-environments-cli",
        "--bin",
        "antenv",
    ]))?;
    let release = root.join("target/release");
    let (mut mock, base_url) = start_mock(&release.join("anthropic-environments-mock"), &[])?;
    let new_environment = || -> Result<String> {
        let created = Command::new(&python)
            .current_dir(std::env::temp_dir())
            .args(["-c", "import sys, anthropic; c = anthropic.Anthropic(api_key='k', base_url=sys.argv[1]); print(c.beta.environments.create(name='bench', config={'type': 'self_hosted'}).id)"])
            .arg(&base_url)
            .output()?;
        let env_id = String::from_utf8_lossy(&created.stdout).trim().to_owned();
        if env_id.is_empty() {
            anyhow::bail!(
                "creating the environment failed: {}",
                String::from_utf8_lossy(&created.stderr)
            );
        }
        Ok(env_id)
    };
    type Results = (
        f64,
        f64,
        f64,
        f64,
        Vec<(String, f64)>,
        Vec<(&'static str, f64, f64, f64)>,
    );
    let result = (|| -> Result<Results> {
        let env_id = new_environment()?;
        // The facade and bare reqwest + serde_json in interleaved rounds of
        // one process, so that the machine's noise falls on both alike.
        let both = Command::new(release.join("examples/cpu_per_request"))
            .args([&base_url, &env_id, RUST_REQUESTS, "both"])
            .output()?;
        let bare = measured(
            both.clone(),
            "bare reqwest + serde_json",
            "bare_cpu_us_per_request=",
        )?;
        // The median of the rounds' own ratios (not the ratio of medians).
        let ratio_vs_bare = measured(both.clone(), "the Rust client", "ratio_vs_bare=")?;
        let ours = cpu_us(both, "the Rust client")?;
        let theirs = cpu_us(
            Command::new(&python)
                .current_dir(std::env::temp_dir())
                .arg(root.join("benches/peers/python_cpu.py"))
                .args([&base_url, &env_id, PYTHON_REQUESTS])
                .output()?,
            "the Python SDK",
        )?;
        let mut workers = Vec::new();
        for (label, mode, concurrency, n) in [
            (
                "Rust worker, poll -> ack -> stop, concurrency 64",
                "no-heartbeat",
                "64",
                "20000",
            ),
            (
                "Rust worker, poll -> ack -> heartbeat -> stop, concurrency 64",
                "heartbeat",
                "64",
                "20000",
            ),
            (
                "Rust worker, poll -> ack -> stop, concurrency 1",
                "no-heartbeat",
                "1",
                "5000",
            ),
        ] {
            let env_id = new_environment()?;
            let items = measured(
                Command::new(release.join("examples/worker_throughput"))
                    .args([&base_url, &env_id, n, mode, concurrency])
                    .output()?,
                label,
                "items_per_sec=",
            )?;
            workers.push((label.to_owned(), items));
        }
        // The CLI: `antenv worker poll --drain --on-work` with a trivial
        // script (a process per item), as an operator runs it.
        let script = std::env::temp_dir().join(format!("antenv-bench-{}.sh", std::process::id()));
        std::fs::write(&script, "#!/bin/sh\nexit 0\n")?;
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        for (concurrency, n) in [("1", 1000), ("8", 3000)] {
            let env_id = new_environment()?;
            queue_items(&python, &base_url, &env_id, n)?;
            let started = std::time::Instant::now();
            let output = Command::new(release.join("antenv"))
                .args([
                    "worker",
                    "poll",
                    "--drain",
                    "--concurrency",
                    concurrency,
                    "--on-work",
                ])
                .arg(&script)
                .env("ANTHROPIC_BASE_URL", &base_url)
                .env("ANTHROPIC_ENVIRONMENT_ID", &env_id)
                .env("ANTHROPIC_ENVIRONMENT_KEY", "sk-ant-oat01-bench")
                .env("RUST_LOG", "warn")
                .output()?;
            let elapsed = started.elapsed().as_secs_f64();
            if !output.status.success() {
                anyhow::bail!("antenv failed: {}", String::from_utf8_lossy(&output.stderr));
            }
            workers.push((
                format!("antenv worker poll --on-work (sh script), concurrency {concurrency}"),
                n as f64 / elapsed,
            ));
        }
        let _ = std::fs::remove_file(&script);
        let env_id = new_environment()?;
        let python_items = measured(
            Command::new(&python)
                .current_dir(std::env::temp_dir())
                .arg(root.join("benches/peers/python_poller.py"))
                .args([&base_url, &env_id, "2000"])
                .output()?,
            "the Python poller",
            "items_per_sec=",
        )?;
        workers.push((
            "Python iter_work (anthropic 2.15.0), poll -> ack -> stop".to_owned(),
            python_items,
        ));
        // The session runners: 200 trivial bash calls, one at a time, on a
        // mock of their own (the one above holds every earlier run's
        // state), in three alternating rounds; medians per runner.
        let (mut runner_mock, runner_url) =
            start_mock(&release.join("anthropic-environments-mock"), &[])?;
        let mut rounds: [Vec<[f64; 3]>; 2] = [Vec::new(), Vec::new()];
        let outcome = (|| -> Result<()> {
            for _ in 0..3 {
                for (mode, samples) in ["rust", "python"].into_iter().zip(rounds.iter_mut()) {
                    let output = Command::new(&python)
                        .current_dir(std::env::temp_dir())
                        .arg(root.join("benches/peers/runner_latency.py"))
                        .args([runner_url.as_str(), mode])
                        .arg(release.join("antenv"))
                        .arg("200")
                        .output()?;
                    samples.push([
                        measured(output.clone(), mode, "p50_ms=")?,
                        measured(output.clone(), mode, "p99_ms=")?,
                        measured(output, mode, "peak_rss_kib=")?,
                    ]);
                }
            }
            Ok(())
        })();
        let _ = runner_mock.kill();
        let _ = runner_mock.wait();
        outcome?;
        let runners = ["rust", "python"]
            .into_iter()
            .zip(rounds)
            .map(|(mode, samples)| {
                let of = |i: usize| median(samples.iter().map(|s| s[i]).collect());
                (mode, of(0), of(1), of(2))
            })
            .collect::<Vec<_>>();
        Ok((ours, bare, ratio_vs_bare, theirs, workers, runners))
    })();
    let _ = mock.kill();
    let _ = mock.wait();
    let (ours, bare, ratio_vs_bare, theirs, workers, runners) = result?;
    println!("retrieve_environment, sequential, against the mock server on loopback");
    println!(
        "  anthropic-environments (Rust): {ours:8.1} us CPU per request (median of 20 rounds, {RUST_REQUESTS} requests)"
    );
    println!(
        "  bare reqwest + serde_json:     {bare:8.1} us CPU per request (interleaved with it)"
    );
    println!(
        "  anthropic 2.15.0 (Python):     {theirs:8.1} us CPU per request ({PYTHON_REQUESTS} requests)"
    );
    println!(
        "  ratio vs bare:   {ratio_vs_bare:.2}x the CPU per request (median of the rounds' ratios)"
    );
    println!(
        "  ratio vs Python: {:.1}x less CPU per request",
        theirs / ours
    );
    println!("worker items per second, no-op handler, against the mock server on loopback");
    let python_items = workers.last().map(|(_, v)| *v).unwrap_or(f64::NAN);
    for (label, items) in &workers {
        println!(
            "  {label:<64} {items:8.0} items/s ({:.1}x the Python poller)",
            items / python_items
        );
    }
    println!(
        "session runner, 200 trivial bash calls one at a time (call in the log -> result posted), each runner in a process of its own; medians of 3 rounds"
    );
    for (mode, p50, p99, rss) in &runners {
        let label = match *mode {
            "rust" => "antenv worker poll (in-process runner)",
            _ => "anthropic 2.15.0 EnvironmentWorker",
        };
        println!(
            "  {label:<40} p50 {p50:7.3} ms  p99 {p99:8.3} ms  peak RSS {:6.1} MiB",
            rss / 1024.0
        );
    }
    if let [(_, p50, _, rss), (_, their_p50, _, their_rss)] = runners[..] {
        println!(
            "  ratios: p50 {:.1}x lower, peak RSS {:.1}x smaller",
            their_p50 / p50,
            their_rss / rss
        );
    }
    Ok(ExitCode::SUCCESS)
}
