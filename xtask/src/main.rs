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
//!   that interpreter.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};

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
     test [ARGS..]       validate the spec, then cargo test --workspace [ARGS..]"
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
    Ok(vec![(GENERATED, source)])
}

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
            let diff = similar::TextDiff::from_lines(&current, &expected);
            eprintln!(
                "{}",
                diff.unified_diff().context_radius(3).header(
                    &format!("a/{rel} (committed)"),
                    &format!("b/{rel} (from the spec)")
                )
            );
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
/// [`PY_REQUIREMENTS`] when missing or when the requirements changed.
fn ensure_python(root: &Path) -> Result<PathBuf> {
    let venv = root.join("target/py");
    let python = venv.join("bin/python");
    let requirements = std::fs::read_to_string(root.join(PY_REQUIREMENTS))?;
    let stamp = venv.join("requirements.stamp");
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&requirements) {
        return Ok(python);
    }
    eprintln!("installing {PY_REQUIREMENTS} into target/py");
    let base = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(base).args(["-m", "venv"]).arg(&venv))?;
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
    std::fs::write(&stamp, requirements)?;
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
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args(["test", "--workspace"])
        .args(extra)
        .env("ANTHROPIC_ENVIRONMENTS_PYTHON", &python)
        .status()?;
    if !status.success() {
        return Ok(ExitCode::from(1));
    }
    every_endpoint_against_the_mock(&root, &cargo)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `examples/every_endpoint.rs` against the mock server's binary on a
/// loopback port, as a user would.
fn every_endpoint_against_the_mock(root: &Path, cargo: &str) -> Result<()> {
    use std::io::{BufRead, BufReader};
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
    let mut mock = Command::new(target.join("anthropic-environments-mock"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("starting the mock server")?;
    let mut line = String::new();
    BufReader::new(mock.stdout.take().context("mock stdout")?).read_line(&mut line)?;
    let base_url = line
        .trim()
        .strip_prefix("listening on ")
        .with_context(|| format!("unexpected first line from the mock: {line:?}"))?
        .to_owned();
    println!("running examples/every_endpoint.rs against the mock at {base_url}");
    let output = Command::new(target.join("examples/every_endpoint"))
        .env("ANTHROPIC_API_KEY", "sk-ant-example")
        .env("ANTHROPIC_BASE_URL", &base_url)
        .env("MOCK_CONTROL", "1")
        .env_remove("ANTHROPIC_ENVIRONMENT_ID")
        .output();
    let _ = mock.kill();
    let _ = mock.wait();
    let output = output.context("running the every_endpoint example")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let steps = stdout.lines().filter(|l| l.starts_with("== ")).count();
    if !output.status.success() || steps != 28 {
        anyhow::bail!(
            "every_endpoint failed ({steps} of 28 steps):\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    println!("every_endpoint: 28 passed, 0 failed");
    Ok(())
}
