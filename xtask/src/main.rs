//! `cargo xtask`: the project's own tasks.
//!
//! - `cargo xtask generate`: regenerate the raw client crate from the spec.
//! - `cargo xtask generate --check`: change nothing; exit 1 and name the
//!   stale files (with a diff) when the committed code differs from what the
//!   spec generates.
//! - `cargo xtask test`: every test of the project. Installs the Python tools
//!   of `tools/python-requirements.txt` into `target/py` (once), validates the
//!   spec with an independent OpenAPI validator, then runs
//!   `cargo test --workspace` with `ANTHROPIC_ENVIRONMENTS_PYTHON` pointing at
//!   that interpreter; then the examples, the official runner and the
//!   parity check against the mock's binary, and the README's demo command
//!   and walk-through (`cargo xtask readme` runs those two alone).
//! - `cargo xtask package`: check what each published crate ships, then
//!   package and verify them all (see `package.rs`).
//! - `cargo xtask spec-diff`: classify the changes between two specs.
//! - `cargo xtask spec-diff-compare`: the spec-diff corpus through two npm
//!   OpenAPI diff tools as well (see `compare.rs`).
//! - `cargo xtask spec-diff-prove [NAME...]`: every corpus mutation that
//!   spec-diff calls compatible, regenerated and compiled with the facade
//!   and a downstream user (see `prove.rs`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};

mod compare;
mod package;
mod prove;
mod readme;

/// The spec, relative to the workspace root.
const SPEC: &str = "openapi/environments.yaml";

/// The one file `generate` writes, relative to the workspace root.
const GENERATED: &str = "crates/anthropic-environments-raw/src/generated.rs";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("generate") => match args.get(1).map(String::as_str) {
            None => generate(false),
            Some("--check") => generate(true),
            Some(other) => Err(anyhow::anyhow!("unknown option to generate: {other}")),
        },
        Some("test") => test(&args[1..]),
        Some("bench-peers") => bench_peers(),
        Some("spec-diff") => spec_diff(&args[1..]),
        Some("spec-diff-compare") => compare::spec_diff_compare(&args[1..]),
        Some("spec-diff-prove") => prove::spec_diff_prove(&workspace_root(), &args[1..]),
        Some("package") => {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            package::package(&workspace_root(), &cargo, &args[1..]).map(|()| ExitCode::SUCCESS)
        }
        Some("readme") => {
            let root = workspace_root();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            session_demo(&root, &cargo)
                .and_then(|()| readme::walk_through(&root, &cargo))
                .map(|()| ExitCode::SUCCESS)
        }
        Some("help") | Some("--help") | None => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(anyhow::anyhow!("unknown task {other}\n\n{}", usage())),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn usage() -> &'static str {
    "usage: cargo xtask <task>\n\n\
     tasks:\n  \
     generate            regenerate the raw client crate from openapi/environments.yaml\n  \
     generate --check    exit 1 if the committed generated files are stale\n  \
     test [ARGS..]       validate the spec, then cargo test --workspace [ARGS..]\n  \
     bench-peers         CPU per request: this client vs the official Python SDK\n  \
     spec-diff [BASE] [HEAD] [--format md|json] [--allow-breaking]\n                         \
     classify spec changes (BASE, HEAD: files or git revisions;\n                         \
     default: the spec at the merge base with main, and the working tree)\n  \
     spec-diff-compare [--check]\n                         \
     run the spec-diff corpus through Optic and api-smart-diff too and\n                         \
     write the comparison table of docs/spec-diff-comparison.md\n  \
     spec-diff-prove [NAME..]\n                         \
     compile the facade and a downstream crate against each compatible mutation\n  \
     readme              run the README's demo command and its walk-through (part of test)\n  \
     package [ARGS..]    check what each published crate ships, then cargo package\n                         \
     (verified) every one of them; ARGS go to cargo package"
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// The files the spec generates, as (path relative to the root, contents).
fn expected_files(root: &Path) -> Result<Vec<(&'static str, String)>> {
    let spec =
        std::fs::read_to_string(root.join(SPEC)).with_context(|| format!("reading {SPEC}"))?;
    let source = anthropic_environments_codegen::generate(&spec, SPEC)?;
    // The mock's stateless mode embeds the spec; a copy inside its crate
    // keeps the crate publishable on its own.
    let copy = format!(
        "# @generated copy of {SPEC} for the mock's stateless mode.\n\
         # Do not edit: change {SPEC} and run `cargo xtask generate`.\n{spec}"
    );
    Ok(vec![(GENERATED, source), (MOCK_SPEC, copy)])
}

/// The copy of the spec the mock crate embeds.
const MOCK_SPEC: &str = "crates/anthropic-environments-mock/spec/environments.yaml";

fn generate(check: bool) -> Result<ExitCode> {
    let root = workspace_root();
    let mut stale = Vec::new();
    for (rel, expected) in expected_files(&root)? {
        let path = root.join(rel);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == expected {
            continue;
        }
        if check {
            print_diff(rel, &current, "committed", &expected, "from the spec");
            stale.push(rel);
        } else {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, expected).with_context(|| format!("writing {rel}"))?;
            println!("wrote {rel}");
        }
    }
    if !stale.is_empty() {
        eprintln!("stale generated files (run `cargo xtask generate` and commit):");
        for rel in &stale {
            eprintln!("  {rel}");
        }
        return Ok(ExitCode::from(1));
    }
    if check {
        println!("generated files are up to date with {SPEC}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a unified diff of a file's two versions to stderr.
fn print_diff(rel: &str, old: &str, old_label: &str, new: &str, new_label: &str) {
    let diff = similar::TextDiff::from_lines(old, new);
    eprintln!(
        "{}",
        diff.unified_diff().context_radius(3).header(
            &format!("a/{rel} ({old_label})"),
            &format!("b/{rel} ({new_label})")
        )
    );
}

/// Python tools, relative to the workspace root.
const PY_REQUIREMENTS: &str = "tools/python-requirements.txt";

/// Runs a command, failing when it does not exit 0.
fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        anyhow::bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// The interpreter of `target/py`, created and filled from
/// [`PY_REQUIREMENTS`] when missing, when the requirements changed, when it
/// no longer runs, or when the checkout moved (a virtualenv's scripts name
/// its old path in their `#!` lines, and then fail with "No such file or
/// directory"): the stamp holds the requirements and where they were
/// installed.
fn ensure_python(root: &Path) -> Result<PathBuf> {
    let venv = root.join("target/py");
    let python = venv.join("bin/python");
    let requirements = std::fs::read_to_string(root.join(PY_REQUIREMENTS))?;
    let stamp = venv.join("requirements.stamp");
    let wanted = format!("{requirements}\n# installed in {}\n", venv.display());
    let runs = || {
        Command::new(&python)
            .args(["-c", "import sys"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && runs() {
        return Ok(python);
    }
    eprintln!("installing {PY_REQUIREMENTS} into target/py");
    let base = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    // --clear: a virtualenv made elsewhere (or by another Python) is
    // rebuilt, not patched.
    run(Command::new(base)
        .args(["-m", "venv", "--clear"])
        .arg(&venv))?;
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(root.join(PY_REQUIREMENTS)))?;
    std::fs::write(&stamp, wanted)?;
    Ok(python)
}

fn test(extra: &[String]) -> Result<ExitCode> {
    let root = workspace_root();
    let python = ensure_python(&root)?;
    println!("validating {SPEC} with openapi-spec-validator");
    run(Command::new(&python)
        .args(["-m", "openapi_spec_validator"])
        .arg(root.join(SPEC)))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Tests that need the tools installed above are `#[ignore]`d for a
    // plain `cargo test`; this command has them, so it runs them too.
    let (cargo_args, test_args) = match extra.iter().position(|a| a == "--") {
        Some(i) => (&extra[..i], &extra[i + 1..]),
        None => (extra, &[][..]),
    };
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args(["test", "--workspace"])
        .args(cargo_args)
        .args(["--", "--include-ignored"])
        .args(test_args)
        .env("ANTHROPIC_ENVIRONMENTS_PYTHON", &python)
        .status()?;
    if !status.success() {
        return Ok(ExitCode::from(1));
    }
    // The optional OpenTelemetry export (the facade's feature, through the
    // worker's), with the feature on.
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args([
            "test",
            "-p",
            "anthropic-environments-worker",
            "--features",
            "opentelemetry",
            "--test",
            "opentelemetry",
        ])
        .status()?;
    if !status.success() {
        return Ok(ExitCode::from(1));
    }
    every_endpoint_against_the_mock(&root, &cargo)?;
    official_runner_against_the_mock(&root, &python)?;
    runner_parity(&root, &cargo, &python)?;
    session_demo(&root, &cargo)?;
    readme::walk_through(&root, &cargo)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `examples/every_endpoint.rs` against the mock server's binary on a
/// loopback port, as a user would: in its stateful mode, then in its
/// stateless conformance mode (every request validated against the spec).
fn every_endpoint_against_the_mock(root: &Path, cargo: &str) -> Result<()> {
    run(Command::new(cargo).current_dir(root).args([
        "build",
        "--quiet",
        "-p",
        "anthropic-environments-mock",
        "-p",
        "anthropic-environments",
        "--bins",
        "--examples",
    ]))?;
    let target = root.join("target/debug");
    let mut steps_run = 0;
    for mode in ["stateful", "stateless"] {
        let (mut mock, base_url) = start_mock(
            &target.join("anthropic-environments-mock"),
            &["--mode", mode],
        )?;
        println!("running examples/every_endpoint.rs against the {mode} mock at {base_url}");
        let mut example = Command::new(target.join("examples/every_endpoint"));
        example
            .env("ANTHROPIC_API_KEY", "sk-ant-example")
            .env("ANTHROPIC_BASE_URL", &base_url)
            .env_remove("ANTHROPIC_ENVIRONMENT_ID")
            .env_remove("MOCK_CONTROL");
        if mode == "stateful" {
            // Queue the work the example polls through the control surface.
            example.env("MOCK_CONTROL", "1");
        }
        let output = example.output();
        let _ = mock.kill();
        let _ = mock.wait();
        let output = output.context("running the every_endpoint example")?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let steps = stdout.lines().filter(|l| l.starts_with("== ")).count();
        if !output.status.success() || steps != 28 {
            anyhow::bail!(
                "every_endpoint against the {mode} mock failed ({steps} of 28 steps):\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        steps_run += steps;
    }
    println!("every_endpoint: {steps_run} passed, 0 failed");
    Ok(())
}

/// The official Python SDK's own session runner serves a scripted session
/// on the mock server's binary, with its credential checks on
/// (`tests/python/official_runner.py`).
fn official_runner_against_the_mock(root: &Path, python: &Path) -> Result<()> {
    let binary = root.join("target/debug/anthropic-environments-mock");
    let (mut mock, base_url) = start_mock(&binary, &["--credentials", "strict"])?;
    let workdir = std::env::temp_dir().join(format!("official-runner-{}", std::process::id()));
    std::fs::create_dir_all(&workdir)?;
    println!("running tests/python/official_runner.py against the strict mock at {base_url}");
    let output = Command::new(python)
        .current_dir(std::env::temp_dir())
        .arg(root.join("tests/python/official_runner.py"))
        .arg(&base_url)
        .arg(&workdir)
        .env_remove("ANTHROPIC_API_KEY")
        .output();
    let _ = mock.kill();
    let _ = mock.wait();
    let _ = std::fs::remove_dir_all(&workdir);
    let output = output.context("running the official runner script")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    if !output.status.success() || !stdout.contains("9 passed, 0 failed") {
        anyhow::bail!(
            "the official session runner against the mock failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// The official Python runner and ours (`antenv worker poll`, in-process)
/// serve the same scripted session on the mock's binary and post the same
/// results (`tests/python/parity.py`).
fn runner_parity(root: &Path, cargo: &str, python: &Path) -> Result<()> {
    run(Command::new(cargo).current_dir(root).args([
        "build",
        "--quiet",
        "-p",
        "anthropic-environments-cli",
        "--bin",
        "antenv",
    ]))?;
    let (mut mock, base_url) =
        start_mock(&root.join("target/debug/anthropic-environments-mock"), &[])?;
    println!("running tests/python/parity.py against the mock at {base_url}");
    let output = Command::new(python)
        .current_dir(std::env::temp_dir())
        .arg(root.join("tests/python/parity.py"))
        .arg(&base_url)
        .arg(root.join("target/debug/antenv"))
        .env_remove("ANTHROPIC_API_KEY")
        .output();
    let _ = mock.kill();
    let _ = mock.wait();
    let output = output.context("running the parity script")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    if !output.status.success() || !stdout.contains("15 passed, 0 failed") {
        anyhow::bail!(
            "the runners' results differ:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// The README's offline demo: a session served end to end by the session
/// runner on the embedded mock (`examples/session_demo.rs` of the worker
/// crate).
fn session_demo(root: &Path, cargo: &str) -> Result<()> {
    println!("running the session demo (examples/session_demo.rs)");
    let args = [
        "run",
        "-p",
        "anthropic-environments-worker",
        "--example",
        "session_demo",
    ];
    // The README's first screen says this command: the same, word for word.
    let shown = readme::demo_command(root)?;
    let ours = format!("cargo {}", args.join(" "));
    if shown != ours {
        anyhow::bail!("the README's demo command is {shown:?}; the test runs {ours:?}");
    }
    let output = Command::new(cargo)
        .current_dir(root)
        .args(args)
        .arg("--quiet")
        .output()
        .context("running the session demo")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    let done = "served 1 session, 6 tool calls answered, item stopped: true";
    if !output.status.success() || !stdout.contains(done) {
        anyhow::bail!(
            "the session demo failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    println!("session_demo: 1 passed, 0 failed");
    Ok(())
}

/// Starts a built mock server binary on an ephemeral loopback port; returns
/// the child and its base URL.
fn start_mock(binary: &Path, args: &[&str]) -> Result<(std::process::Child, String)> {
    use std::io::{BufRead, BufReader};
    let mut mock = Command::new(binary)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("starting the mock server")?;
    let mut line = String::new();
    BufReader::new(mock.stdout.take().context("mock stdout")?).read_line(&mut line)?;
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .with_context(|| format!("unexpected first line from the mock: {line:?}"))?
        .to_owned();
    Ok((mock, url))
}

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

/// The number after `key` in a peer's output.
/// The middle value (the upper one of an even count); 0 when empty.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

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
fn bench_peers() -> Result<ExitCode> {
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

/// A spec named on the command line: a file, or a git revision whose
/// `openapi/environments.yaml` is read. `Err` is bad input (exit 2).
fn spec_source(root: &Path, name: &str) -> Result<String> {
    let path = Path::new(name);
    if path.is_file() {
        return std::fs::read_to_string(path).with_context(|| format!("reading {name}"));
    }
    let git = |args: &[&str]| Command::new("git").current_dir(root).args(args).output();
    let verify = git(&[
        "rev-parse",
        "--verify",
        "--quiet",
        &format!("{name}^{{commit}}"),
    ])?;
    if !verify.status.success() {
        anyhow::bail!("{name} is neither a spec file nor a git revision");
    }
    let show = git(&["show", &format!("{name}:{SPEC}")])?;
    if !show.status.success() {
        anyhow::bail!("revision {name} has no {SPEC}");
    }
    Ok(String::from_utf8(show.stdout)?)
}

/// The merge base of HEAD with main (or origin/main).
fn merge_base(root: &Path) -> Result<String> {
    for main in ["main", "origin/main"] {
        let out = Command::new("git")
            .current_dir(root)
            .args(["merge-base", "HEAD", main])
            .output()?;
        if out.status.success() {
            return Ok(String::from_utf8(out.stdout)?.trim().to_owned());
        }
    }
    anyhow::bail!("no merge base with main: name BASE explicitly")
}

fn spec_diff(args: &[String]) -> Result<ExitCode> {
    let root = workspace_root();
    let mut positional = Vec::new();
    let (mut json, mut allow_breaking) = (false, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--allow-breaking" => allow_breaking = true,
            "--format" => match it.next().map(String::as_str) {
                Some("json") => json = true,
                Some("md") | Some("markdown") => json = false,
                other => anyhow::bail!("--format takes md or json, not {other:?}"),
            },
            flag if flag.starts_with("--") => anyhow::bail!("unknown option {flag}"),
            _ => positional.push(a.clone()),
        }
    }
    if positional.len() > 2 {
        anyhow::bail!("spec-diff takes at most BASE and HEAD");
    }
    let (base_name, base) = match positional.first() {
        Some(name) => (name.clone(), spec_source(&root, name)?),
        None => {
            let rev = merge_base(&root)?;
            let short = rev.chars().take(12).collect::<String>();
            (
                format!("{short} (merge base with main)"),
                spec_source(&root, &rev)?,
            )
        }
    };
    let (head_name, head) = match positional.get(1) {
        Some(name) => (name.clone(), spec_source(&root, name)?),
        None => (
            format!("{SPEC} (working tree)"),
            std::fs::read_to_string(root.join(SPEC)).with_context(|| format!("reading {SPEC}"))?,
        ),
    };
    let report = anthropic_environments_spec_diff::diff(&base_name, &base, &head_name, &head)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.to_markdown());
    }
    if report.is_breaking() && !allow_breaking {
        eprintln!("breaking changes: acknowledge them with --allow-breaking");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
