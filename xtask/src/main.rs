//! `cargo xtask`: the project's own tasks.
//!
//! - `cargo xtask generate`: regenerate the raw client crate from the spec.
//! - `cargo xtask generate --check`: change nothing; exit 1 and name the
//!   stale files (with a diff) when the committed code differs from what the
//!   spec generates.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
     generate --check    exit 1 if the committed generated files are stale"
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
