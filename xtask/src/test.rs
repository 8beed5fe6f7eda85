//! `cargo xtask test`: every test of the project. The Python tools into
//! `target/py`, the spec through an independent validator, `cargo test
//! --workspace` (ignored tests included), the OpenTelemetry feature, then
//! the examples, the official runner and the parity check against the
//! mock's binary, and the README's demo and walk-through.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};

use crate::{
    MOCK_BINARY_FEATURE, SPEC, build_workspace_binaries, readme, run, start_mock, workspace_root,
};

/// Python tools, relative to the workspace root.
const PY_REQUIREMENTS: &str = "tools/python-requirements.txt";

/// The interpreter of `target/py`, created and filled from
/// [`PY_REQUIREMENTS`] when missing, when the requirements changed, when it
/// no longer runs, or when the checkout moved (a virtualenv's scripts name
/// its old path in their `#!` lines, and then fail with "No such file or
/// directory"): the stamp holds the requirements and where they were
/// installed.
pub fn ensure_python(root: &Path) -> Result<PathBuf> {
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

pub fn test(extra: &[String]) -> Result<ExitCode> {
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
        // The mock's binary, for its own tests and the end-to-end ones.
        .args(["--features", MOCK_BINARY_FEATURE])
        .args(cargo_args)
        .args(["--", "--include-ignored"])
        .args(test_args)
        .env("ANTHROPIC_ENVIRONMENTS_PYTHON", &python)
        .status()?;
    if !status.success() {
        return Ok(ExitCode::from(1));
    }
    // The optional OpenTelemetry export (the facade's feature, through the
    // worker's), with the feature on. The whole workspace is selected, with
    // the features above plus this one, so that only our crates build
    // again: `-p` the worker alone would unify the dependencies' features
    // differently and build them all a second time.
    let features = format!("{MOCK_BINARY_FEATURE},anthropic-environments-worker/opentelemetry");
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args(["test", "--workspace", "--features", &features])
        .args(["--test", "opentelemetry"])
        .status()?;
    if !status.success() {
        return Ok(ExitCode::from(1));
    }
    // The binaries the steps below start (the mock's, antenv, the
    // examples), built once for all of them.
    build_workspace_binaries(&root, &cargo)?;
    every_endpoint_against_the_mock(&root)?;
    official_runner_against_the_mock(&root, &python)?;
    runner_parity(&root, &python)?;
    readme::session_demo(&root, &cargo)?;
    readme::walk_through(&root)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `examples/every_endpoint.rs` against the mock server's binary on a
/// loopback port, as a user would: in its stateful mode, then in its
/// stateless conformance mode (every request validated against the spec).
fn every_endpoint_against_the_mock(root: &Path) -> Result<()> {
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
fn runner_parity(root: &Path, python: &Path) -> Result<()> {
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
