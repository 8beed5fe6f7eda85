//! `cargo xtask generate [--check]`: the raw client and the mock's copy
//! of the spec, from the spec; `--check` changes nothing and names what is
//! stale, with a diff.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::{GENERATED, SPEC, workspace_root};

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

pub fn generate(check: bool) -> Result<ExitCode> {
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
pub fn print_diff(rel: &str, old: &str, old_label: &str, new: &str, new_label: &str) {
    let diff = similar::TextDiff::from_lines(old, new);
    eprintln!(
        "{}",
        diff.unified_diff().context_radius(3).header(
            &format!("a/{rel} ({old_label})"),
            &format!("b/{rel} ({new_label})")
        )
    );
}
