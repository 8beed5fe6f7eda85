//! `cargo xtask spec-diff-prove`: spec-diff's "compatible" verdicts, proven
//! by compiling. For each corpus mutation that `spec-diff` classifies
//! compatible, the raw crate is regenerated from the mutated spec in a
//! scratch copy of the workspace, and the facade and the downstream check
//! crate (a user of the facade alone) must still compile. A failure means
//! the classifier or the code generator is wrong.
//!
//! The scratch copy lives in `target/spec-diff-prove/` and builds into the
//! main `target/`: the registry dependencies it checks are the ones
//! `cargo clippy` already checked there (same lock file, same flags), so
//! only the scratch copy's own crates build, under their own hashes (their
//! paths differ), leaving the main build's artifacts alone.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anthropic_environments_spec_diff::{self as spec_diff, mutations};
use anyhow::{Context, Result};

/// The directories the scratch workspace needs (the facade's dev-dependencies
/// must resolve even though only libraries are checked).
const COPIED: &[&str] = &[
    "crates/anthropic-environments-raw",
    "crates/anthropic-environments",
    "crates/anthropic-environments-mock",
    "tests/downstream",
    "tests/support",
];

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            if entry.file_name() == "target" {
                continue;
            }
            copy_dir(&entry.path(), &target)?;
        } else {
            let bytes = std::fs::read(entry.path())?;
            if std::fs::read(&target).ok().as_deref() != Some(&bytes[..]) {
                std::fs::write(&target, bytes)?;
            }
        }
    }
    Ok(())
}

/// A scratch workspace of the copied crates (same dependency versions and
/// lock file); returns its root.
fn scratch_workspace(root: &Path) -> Result<PathBuf> {
    let scratch = root.join("target/spec-diff-prove/workspace");
    for dir in COPIED {
        copy_dir(&root.join(dir), &scratch.join(dir))?;
    }
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let mut doc: toml_edit::DocumentMut = manifest.parse().context("parsing Cargo.toml")?;
    let members = toml_edit::Array::from_iter(COPIED.iter().copied());
    doc["workspace"]["members"] = toml_edit::value(members);
    std::fs::write(scratch.join("Cargo.toml"), doc.to_string())?;
    std::fs::copy(root.join("Cargo.lock"), scratch.join("Cargo.lock"))?;
    Ok(scratch)
}

/// Checks every compatible mutation (or those named); exit 1 when one does
/// not compile.
pub fn spec_diff_prove(root: &Path, names: &[String]) -> Result<ExitCode> {
    let base_text = std::fs::read_to_string(root.join(crate::SPEC))?;
    let base: serde_json::Value = serde_yaml_ng::from_str(&base_text)?;
    let corpus = mutations::load(&std::fs::read_to_string(
        root.join("tests/spec-diff/mutations.yaml"),
    )?)?;
    let scratch = scratch_workspace(root)?;
    let generated = scratch.join(crate::GENERATED);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut failures = Vec::new();
    let mut proven = 0;
    for m in &corpus {
        if !names.is_empty() && !names.contains(&m.name) {
            continue;
        }
        let head_text = m.apply(&base)?;
        let report = spec_diff::diff("base", &base_text, &m.name, &head_text)?;
        if report.is_breaking() {
            continue;
        }
        let source = match anthropic_environments_codegen::generate(&head_text, crate::SPEC) {
            Ok(source) => source,
            Err(e) => {
                failures.push(format!("{}: the code generator refused it: {e:#}", m.name));
                continue;
            }
        };
        std::fs::write(&generated, source)?;
        println!(
            "spec-diff-prove: {} (classified compatible): cargo check",
            m.name
        );
        let output = Command::new(&cargo)
            .current_dir(&scratch)
            .args([
                "check",
                "--quiet",
                "--offline",
                "-p",
                "anthropic-environments",
                "-p",
                "downstream-check",
            ])
            .env("CARGO_TARGET_DIR", root.join("target"))
            .output()?;
        if output.status.success() {
            proven += 1;
        } else {
            failures.push(format!(
                "{}: classified compatible, but the facade or a user of it no longer compiles:\n{}",
                m.name,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    if failures.is_empty() {
        println!("spec-diff-prove: {proven} compatible verdicts proven by compiling");
        return Ok(ExitCode::SUCCESS);
    }
    for f in &failures {
        eprintln!("{f}");
    }
    Ok(ExitCode::from(1))
}
