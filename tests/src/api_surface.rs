//! A plain-text listing of a hand-written crate's public API, for review.
//!
//! The listing is what rustdoc sees, not what the source says: methods a
//! macro generates (the per-request option setters, `send`), re-exported
//! items at the path users name them by, `#[non_exhaustive]` on structs and
//! variants, auto traits (`Send`, `Sync`, `Unpin`) and derived impls. It is
//! rustdoc's JSON output read by the `public-api` crate (the library behind
//! `cargo public-api`), so an accidental breaking change of the facade or the
//! worker shows in the diff of its snapshot.
//!
//! rustdoc's JSON output is unstable: the machine's one stable toolchain
//! writes it when `RUSTC_BOOTSTRAP=1` is set, and `public-api` is pinned to
//! the release that reads that toolchain's format (57 for Rust 1.95). A
//! toolchain that writes another format fails here with both numbers.

use std::path::PathBuf;
use std::process::Command;

/// rustdoc's JSON format this module reads.
pub const RUSTDOC_JSON_FORMAT: u32 = 57;

/// Where the nested rustdoc build writes: its own target directory, so that
/// it neither waits on the lock of the `cargo test` that runs it nor changes
/// the fingerprints of the main build.
fn target_dir() -> PathBuf {
    crate::root().join("target/public-api")
}

/// Builds `package`'s rustdoc JSON (library target, every feature) and
/// returns its path.
///
/// # Panics
/// When cargo fails, with its output.
pub fn rustdoc_json(package: &str) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let crate_name = package.replace('-', "_");
    let mut command = Command::new(cargo);
    command
        .current_dir(crate::root())
        // Unstable options for this crate's rustdoc only, not for its
        // dependencies' builds or their build scripts' probes.
        .env("RUSTC_BOOTSTRAP", &crate_name)
        .env("CARGO_TARGET_DIR", target_dir());
    // Flags meant for the outer build (coverage, another target) would
    // change what is built or where the JSON lands.
    for flags in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTDOCFLAGS",
        "CARGO_ENCODED_RUSTDOCFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_RUSTDOCFLAGS",
        "CARGO_BUILD_TARGET",
    ] {
        command.env_remove(flags);
    }
    let output = command
        .args(["rustdoc", "--quiet", "--locked", "--lib", "--all-features"])
        .args(["-p", package])
        .args(["--", "-Z", "unstable-options", "--output-format", "json"])
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo rustdoc -p {package} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = target_dir().join("doc").join(format!("{crate_name}.json"));
    assert!(path.is_file(), "{} was not written", path.display());
    path
}

/// The format version written in a rustdoc JSON file.
fn format_version(path: &PathBuf) -> u32 {
    #[derive(serde::Deserialize)]
    struct Header {
        format_version: u32,
    }
    let text = std::fs::read_to_string(path).expect("the rustdoc JSON reads");
    let header: Header = serde_json::from_str(&text).expect("rustdoc JSON has a format_version");
    header.format_version
}

/// The public API of `package`, one item a line, sorted.
///
/// Blanket impls (`impl<T> From<T> for T`, `Any`, ...) are left out: they
/// come with every type and say nothing about this crate. Auto traits stay
/// (a type that stops being `Send` breaks its users), but for the two only
/// nightly can name.
///
/// # Panics
/// When rustdoc fails or writes a format this module does not read.
pub fn crate_surface(package: &str) -> String {
    crate_surface_where(package, |_| true)
}

/// The public API of `package`, only the items `keep` accepts (each
/// item's line as [`crate_surface`] writes it).
///
/// # Panics
/// As [`crate_surface`].
pub fn crate_surface_where(package: &str, keep: impl Fn(&str) -> bool) -> String {
    let json = rustdoc_json(package);
    let version = format_version(&json);
    assert_eq!(
        version, RUSTDOC_JSON_FORMAT,
        "this toolchain's rustdoc writes JSON format {version}; the pinned public-api reads \
         {RUSTDOC_JSON_FORMAT}: pin the public-api release that reads {version}"
    );
    let api = public_api::Builder::from_rustdoc_json(&json)
        .omit_blanket_impls(true)
        .build()
        .unwrap_or_else(|e| panic!("reading {}: {e}", json.display()));
    let mut out = String::new();
    for item in api.items().map(ToString::to_string) {
        if is_unstable_auto_trait_impl(&item) || !keep(&item) {
            continue;
        }
        out.push_str(&item);
        out.push('\n');
    }
    out
}

/// Auto traits that only a nightly compiler lets a user name: rustdoc lists
/// them on every type, and they are not part of a stable API.
const UNSTABLE_AUTO_TRAITS: [&str; 2] = ["core::marker::Freeze", "core::marker::UnsafeUnpin"];

/// Whether `item` is an impl (generic or negative too) of one of
/// [`UNSTABLE_AUTO_TRAITS`]: `impl<T> core::marker::Freeze for Page<T>`,
/// `impl !core::marker::Freeze for Worker`.
fn is_unstable_auto_trait_impl(item: &str) -> bool {
    let Some(rest) = item.strip_prefix("impl") else {
        return false;
    };
    // Past the impl's generics, if any: `<T>`, `<'a, T: Clone>`.
    let rest = match rest.strip_prefix('<') {
        Some(generics) => {
            let mut depth = 1;
            let end = generics.char_indices().find_map(|(i, c)| {
                match c {
                    '<' => depth += 1,
                    '>' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(i + 1)
            });
            match end {
                Some(end) => &generics[end..],
                None => return false,
            }
        }
        None => rest,
    };
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('!').unwrap_or(rest);
    UNSTABLE_AUTO_TRAITS
        .iter()
        .any(|t| rest.strip_prefix(t).is_some_and(|r| r.starts_with(" for ")))
}

#[cfg(test)]
mod tests {
    use super::is_unstable_auto_trait_impl as unstable;

    #[test]
    fn unstable_auto_trait_impls_in_every_form() {
        assert!(unstable("impl core::marker::Freeze for a::Client"));
        assert!(unstable("impl<T> core::marker::Freeze for a::Page<T>"));
        assert!(unstable(
            "impl<'a, T: Clone> core::marker::UnsafeUnpin for a::Page<T>"
        ));
        assert!(unstable("impl !core::marker::Freeze for a::Worker"));
        assert!(!unstable("impl core::marker::Send for a::Client"));
        assert!(!unstable("impl<T> core::marker::Unpin for a::Page<T>"));
        assert!(!unstable("pub fn a::Freeze::for_x()"));
        assert!(!unstable("impl core::marker::FreezeMore for a::X"));
    }
}
