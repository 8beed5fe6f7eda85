//! `cargo xtask package`: every crate meant for crates.io packaged and
//! verified as `cargo publish` would (each built from its packaged sources
//! against the others' packages, the CLI's binary included), after checking
//! that each ships only what it needs.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

/// The published crates, in the order a release publishes them.
pub const PUBLISHED: [&str; 5] = [
    "anthropic-environments-raw",
    "anthropic-environments",
    "anthropic-environments-mock",
    "anthropic-environments-worker",
    "anthropic-environments-cli",
];

/// Files every package has, besides its sources.
const ALWAYS: [&str; 7] = [
    ".cargo_vcs_info.json",
    "Cargo.lock",
    "Cargo.toml",
    "Cargo.toml.orig",
    "README.md",
    "LICENSE-APACHE",
    "LICENSE-MIT",
];

/// Checks the file lists, then packages and verifies every crate.
/// `extra`: more arguments for `cargo package` (e.g. `--allow-dirty`).
pub fn package(root: &Path, cargo: &str, extra: &[String]) -> Result<()> {
    for name in PUBLISHED {
        let output = Command::new(cargo)
            .current_dir(root)
            .args(["package", "--list", "--quiet", "-p", name])
            .args(extra)
            .output()
            .with_context(|| format!("listing the files of {name}"))?;
        if !output.status.success() {
            anyhow::bail!(
                "cargo package --list -p {name} failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let listed = String::from_utf8_lossy(&output.stdout);
        let files: Vec<&str> = listed.lines().collect();
        let unwanted: Vec<&&str> = files.iter().filter(|f| !wanted(name, f)).collect();
        if !unwanted.is_empty() {
            anyhow::bail!("{name} would ship files it does not need: {unwanted:?}");
        }
        for needed in ALWAYS {
            if !files.contains(&needed) {
                anyhow::bail!("{name} would ship without {needed}");
            }
        }
        println!("{name}: {} files", files.len());
    }
    let mut command = Command::new(cargo);
    command.current_dir(root).arg("package");
    for name in PUBLISHED {
        command.args(["-p", name]);
    }
    crate::run(command.args(extra))
}

/// Whether a packaged file is one the crate needs.
fn wanted(name: &str, file: &str) -> bool {
    ALWAYS.contains(&file)
        || (file.starts_with("src/") && file.ends_with(".rs"))
        || (name == "anthropic-environments-mock" && file == "spec/environments.yaml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_readme_and_licences_only() {
        assert!(wanted("anthropic-environments", "src/resources/work.rs"));
        assert!(wanted("anthropic-environments", "LICENSE-MIT"));
        assert!(!wanted("anthropic-environments", "tests/errors.rs"));
        assert!(!wanted("anthropic-environments", "benches/client.rs"));
        assert!(!wanted("anthropic-environments", "spec/environments.yaml"));
        assert!(wanted(
            "anthropic-environments-mock",
            "spec/environments.yaml"
        ));
        assert!(!wanted("anthropic-environments-cli", "src/snapshot.txt"));
    }
}
