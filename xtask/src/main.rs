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
//!   package and verify them all, and install the CLI from its package
//!   (see `package.rs`).
//! - `cargo xtask spec-diff`: classify the changes between two specs.
//! - `cargo xtask spec-diff-compare`: the spec-diff corpus through two npm
//!   OpenAPI diff tools as well (see `compare.rs`).
//! - `cargo xtask spec-diff-prove [NAME...]`: every corpus mutation that
//!   spec-diff calls compatible, regenerated and compiled with the facade
//!   and a downstream user (see `prove.rs`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};

mod bench;
mod compare;
mod generate;
mod package;
mod prove;
mod readme;
mod spec_diff;
mod test;

/// The spec, relative to the workspace root.
const SPEC: &str = "openapi/environments.yaml";

/// The one file `generate` writes, relative to the workspace root.
const GENERATED: &str = "crates/anthropic-environments-raw/src/generated.rs";

/// The feature that builds the mock's binary (its library alone is what
/// dev-dependents get): every task that starts the binary turns it on.
const MOCK_BINARY_FEATURE: &str = "anthropic-environments-mock/cli";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("generate") => match args.get(1).map(String::as_str) {
            None => generate::generate(false),
            Some("--check") => generate::generate(true),
            Some(other) => Err(anyhow::anyhow!("unknown option to generate: {other}")),
        },
        Some("test") => test::test(&args[1..]),
        Some("bench-peers") => bench::bench_peers(),
        Some("spec-diff") => spec_diff::spec_diff(&args[1..]),
        Some("spec-diff-compare") => compare::spec_diff_compare(&args[1..]),
        Some("spec-diff-prove") => prove::spec_diff_prove(&workspace_root(), &args[1..]),
        Some("package") => {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            package::package(&workspace_root(), &cargo, &args[1..]).map(|()| ExitCode::SUCCESS)
        }
        Some("readme") => {
            let root = workspace_root();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            readme::session_demo(&root, &cargo)
                .and_then(|()| build_workspace_binaries(&root, &cargo))
                .and_then(|()| readme::walk_through(&root))
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
     (verified) every one of them and cargo install the CLI from its package;\n                         \
     ARGS go to cargo package"
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Runs a command, failing when it does not exit 0.
fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        anyhow::bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// Builds every binary and example of the workspace, the mock's binary
/// among them, with the package selection and features of `cargo xtask
/// test`'s test run, so that cargo reuses that run's builds. A narrower
/// selection (`-p` one crate) unifies the dependencies' features
/// differently, and cargo builds them all again beside the first copy: on
/// a cold CI disk that was a gigabyte per variant.
fn build_workspace_binaries(root: &Path, cargo: &str) -> Result<()> {
    run(Command::new(cargo).current_dir(root).args([
        "build",
        "--quiet",
        "--workspace",
        "--features",
        MOCK_BINARY_FEATURE,
        "--bins",
        "--examples",
    ]))
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
