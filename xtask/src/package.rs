//! `cargo xtask package`: every crate meant for crates.io packaged and
//! verified as `cargo publish` would (each built from its packaged sources
//! against the others' packages, the CLI's and the mock's binaries
//! included), after checking that each ships only what it needs; then the
//! CLI installed from its package with `cargo install`.

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

/// Our crates the CLI depends on, patched in from their packages when it
/// is installed from its own.
const CLI_DEPENDENCIES: [&str; 3] = [
    "anthropic-environments-raw",
    "anthropic-environments",
    "anthropic-environments-worker",
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
    forget_our_packages(&verify.join("package"))?;
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .env("CARGO_TARGET_DIR", &verify)
        .arg("package");
    for name in PUBLISHED {
        command.args(["-p", name]);
    }
    // Every feature: the mock's binary and the OpenTelemetry export are
    // verified too.
    command.arg("--all-features");
    crate::run(command.args(extra))?;
    install_packaged_cli(cargo, &verify)
}

/// `cargo install`s the CLI from its package, as a user would from
/// crates.io, with the other crates of ours taken from their packages
/// (`[patch.crates-io]`, since they are not published yet), and runs the
/// installed `antenv --version`. The packages are unpacked outside the
/// workspace (inside it, cargo takes them for members that are not listed);
/// the dependencies' builds in `verify` are reused (`--debug`, `--locked`).
fn install_packaged_cli(cargo: &str, verify: &Path) -> Result<()> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let scratch =
        std::env::temp_dir().join(format!("antenv-install-{}-{nanos:09}", std::process::id()));
    // A new folder of ours: creation fails if the name is taken.
    std::fs::create_dir(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let result = (|| {
        let packages = verify.join("package");
        let mut unpacked = std::collections::HashMap::new();
        for name in CLI_DEPENDENCIES
            .into_iter()
            .chain(["anthropic-environments-cli"])
        {
            let file = packaged_file(&packages, name)?;
            crate::run(
                Command::new("tar")
                    .arg("-xzf")
                    .arg(&file)
                    .arg("-C")
                    .arg(&scratch),
            )?;
            let dir = file
                .file_name()
                .and_then(|f| f.to_str())
                .and_then(|f| f.strip_suffix(".crate"))
                .context("a package's file name")?;
            unpacked.insert(name, scratch.join(dir));
        }
        let install_root = scratch.join("root");
        let mut command = Command::new(cargo);
        command
            .env("CARGO_TARGET_DIR", verify)
            .args(["install", "--quiet", "--debug", "--locked", "--path"])
            .arg(&unpacked["anthropic-environments-cli"])
            .arg("--root")
            .arg(&install_root);
        // The CLI's own dependencies among our crates (the mock is only
        // its dev-dependency).
        for name in CLI_DEPENDENCIES {
            let path = unpacked[name].display().to_string();
            command.args(["--config", &format!("patch.crates-io.{name}.path={path:?}")]);
        }
        println!("cargo install anthropic-environments-cli from its package");
        crate::run(&mut command)?;
        let output = Command::new(install_root.join("bin/antenv"))
            .arg("--version")
            .output()
            .context("running the installed antenv")?;
        let version = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() || !version.starts_with("antenv ") {
            anyhow::bail!("the installed antenv --version answered {version:?}");
        }
        println!("installed: {}", version.trim());
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// The one `.crate` file of `name` in cargo's package directory.
fn packaged_file(packages: &Path, name: &str) -> Result<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(packages)
        .with_context(|| format!("reading {}", packages.display()))?
        .flatten()
    {
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = file.strip_suffix(".crate")
            && is_version_of(stem, name)
        {
            found.push(entry.path());
        }
    }
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => anyhow::bail!("no package of {name} in {}", packages.display()),
        _ => anyhow::bail!(
            "several packages of {name} in {}: {found:?}",
            packages.display()
        ),
    }
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
        remove_entries(&registry.path(), |name| {
            PUBLISHED
                .iter()
                .any(|crate_name| is_version_of(name, crate_name))
        })?;
    }
    Ok(())
}

/// Removes our earlier packages (`.crate` files and their unpacked
/// folders, of any version) from cargo's package folder `dir`, so that
/// what is verified and installed is this run's, whatever the version.
fn forget_our_packages(dir: &Path) -> Result<()> {
    remove_entries(dir, |name| {
        let stem = name.strip_suffix(".crate").unwrap_or(name);
        PUBLISHED
            .iter()
            .any(|crate_name| is_version_of(stem, crate_name))
    })
}

/// Removes every build of our crates from the target directory `dir`
/// (fingerprints, libraries and build scripts, under each profile).
fn forget_our_builds(dir: &Path) -> Result<()> {
    let Ok(profiles) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for profile in profiles.flatten() {
        for sub in [".fingerprint", "deps", "build"] {
            remove_entries(&profile.path().join(sub), |name| {
                PUBLISHED.iter().any(|crate_name| {
                    let underscored = crate_name.replace('-', "_");
                    [
                        crate_name.to_string(),
                        underscored.clone(),
                        format!("lib{underscored}"),
                    ]
                    .iter()
                    .any(|stem| name.starts_with(&format!("{stem}-")))
                })
            })?;
        }
    }
    Ok(())
}

/// Removes the files and folders of `dir` whose names `ours` accepts; a
/// missing `dir` has none.
fn remove_entries(dir: &Path, ours: impl Fn(&str) -> bool) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if !ours(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        let removed = match path.is_dir() {
            true => std::fs::remove_dir_all(&path),
            false => std::fs::remove_file(&path),
        };
        removed.with_context(|| format!("removing {}", path.display()))?;
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
    fn earlier_packages_of_ours_are_forgotten() {
        let dir = std::env::temp_dir().join(format!("xtask-packages-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("anthropic-environments-cli-0.1.0/src")).unwrap();
        let files = [
            ("anthropic-environments-0.0.9.crate", true),
            ("anthropic-environments-0.1.0.crate", true),
            ("anthropic-environments-mock-0.1.0.crate", true),
            ("serde-1.0.0.crate", false),
            ("anthropic-environments-extra-0.1.0.crate", false),
        ];
        for (file, _) in files {
            std::fs::write(dir.join(file), "x").unwrap();
        }
        forget_our_packages(&dir).unwrap();
        for (file, ours) in files {
            assert_eq!(dir.join(file).exists(), !ours, "{file}");
        }
        assert!(!dir.join("anthropic-environments-cli-0.1.0").exists());
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
