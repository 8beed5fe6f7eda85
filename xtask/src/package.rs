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
    forget_unpacked_packages()?;
    // Verified in a target directory of its own: cargo takes a registry
    // package's build as final once made, so a build of last run's
    // packages (same names and versions) would stand in for this run's.
    // Everything of ours there comes from those packages; it goes, the
    // dependencies' builds stay for the next run.
    let verify = root.join("target/package-verify");
    forget_our_builds(&verify)?;
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .env("CARGO_TARGET_DIR", &verify)
        .arg("package");
    for name in PUBLISHED {
        command.args(["-p", name]);
    }
    crate::run(command.args(extra))
}

/// Removes what earlier runs unpacked of our packages under
/// `$CARGO_HOME/registry/src`. cargo package verifies each crate against
/// the others' packages through a temporary local registry, and unpacks
/// them there once per registry path and version: a second run from the
/// same checkout path (CI reusing its folder) would verify against the
/// first run's sources, stale. Unpacked sources are only a cache (cargo
/// unpacks them again from the package), so removing ours is safe.
fn forget_unpacked_packages() -> Result<()> {
    let home = match std::env::var_os("CARGO_HOME") {
        Some(home) => std::path::PathBuf::from(home),
        None => match std::env::var_os("HOME") {
            Some(home) => std::path::PathBuf::from(home).join(".cargo"),
            None => return Ok(()),
        },
    };
    let Ok(registries) = std::fs::read_dir(home.join("registry/src")) else {
        return Ok(());
    };
    for registry in registries.flatten() {
        let Ok(entries) = std::fs::read_dir(registry.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if PUBLISHED
                .iter()
                .any(|crate_name| is_version_of(&name, crate_name))
            {
                std::fs::remove_dir_all(entry.path())
                    .with_context(|| format!("removing {}", entry.path().display()))?;
            }
        }
    }
    Ok(())
}

/// Removes every build of our crates from the target directory `dir`
/// (fingerprints, libraries and build scripts, under each profile).
fn forget_our_builds(dir: &Path) -> Result<()> {
    let Ok(profiles) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for profile in profiles.flatten() {
        for sub in [".fingerprint", "deps", "build"] {
            let Ok(entries) = std::fs::read_dir(profile.path().join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let ours = PUBLISHED.iter().any(|crate_name| {
                    let underscored = crate_name.replace('-', "_");
                    [
                        crate_name.to_string(),
                        underscored.clone(),
                        format!("lib{underscored}"),
                    ]
                    .iter()
                    .any(|stem| name.starts_with(&format!("{stem}-")))
                });
                if !ours {
                    continue;
                }
                let path = entry.path();
                let removed = match path.is_dir() {
                    true => std::fs::remove_dir_all(&path),
                    false => std::fs::remove_file(&path),
                };
                removed.with_context(|| format!("removing {}", path.display()))?;
            }
        }
    }
    Ok(())
}

/// Whether `dir` (`name-1.2.3`) is an unpacked version of `crate_name`.
fn is_version_of(dir: &str, crate_name: &str) -> bool {
    dir.strip_prefix(crate_name)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()))
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
    fn only_our_crates_versions_are_forgotten() {
        assert!(is_version_of(
            "anthropic-environments-0.1.0",
            "anthropic-environments"
        ));
        assert!(is_version_of(
            "anthropic-environments-raw-0.1.0",
            "anthropic-environments-raw"
        ));
        // Another of our crates, not a version of this one.
        assert!(!is_version_of(
            "anthropic-environments-raw-0.1.0",
            "anthropic-environments"
        ));
        assert!(!is_version_of(
            "anthropic-environments",
            "anthropic-environments"
        ));
        assert!(!is_version_of("serde-1.0.0", "anthropic-environments"));
    }

    #[test]
    fn our_builds_go_and_the_dependencies_stay() {
        let dir = std::env::temp_dir().join(format!("xtask-package-{}", std::process::id()));
        let debug = dir.join("debug");
        let files = [
            (".fingerprint/anthropic-environments-raw-1a2b", true),
            (".fingerprint/serde-3c4d", false),
            ("deps/libanthropic_environments-5e6f.rlib", true),
            ("deps/anthropic_environments_worker-7a8b.d", true),
            ("deps/libreqwest-9c0d.rlib", false),
            ("build/anthropic-environments-cli-1e2f", true),
            ("build/ring-3a4b", false),
        ];
        for (file, _) in files {
            let path = debug.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "x").unwrap();
        }
        forget_our_builds(&dir).unwrap();
        for (file, ours) in files {
            assert_eq!(debug.join(file).exists(), !ours, "{file}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
