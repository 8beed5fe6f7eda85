//! Snapshots that make a change of the spec or of codegen reviewable.
//!
//! Update them with `EXPECTORATE=overwrite cargo test -p anthropic-environments-tests --test snapshots`
//! and review the diff. `facade-api.txt` is the facade's public API, `worker-api.txt` the
//! worker crate's, as rustdoc sees them (see `api_surface`); `raw-api.txt` the raw
//! crate's operation table, wire constants and hand-written modules.

use anthropic_environments_tests::{GENERATED, read, root};

/// The public surface of the raw crate: operations with their inputs and
/// outputs, types with their fields.
#[test]
fn raw_crate_public_surface() {
    let surface =
        anthropic_environments_codegen::surface::public_surface(&read(GENERATED)).unwrap();
    expectorate::assert_contents(root().join("tests/snapshots/raw-surface.txt"), &surface);
}

/// The raw crate's hand-written API and its generated tables (the
/// operation table, the wire constants, the hooks), which
/// `raw-surface.txt` (the generated client's shapes) does not show.
#[test]
fn raw_crate_tables_and_hand_written_api() {
    let modules = ["operation", "operations", "wire", "hooks"]
        .map(|m| format!("anthropic_environments_raw::{m}"));
    let surface = anthropic_environments_tests::api_surface::crate_surface_where(
        "anthropic-environments-raw",
        |item| {
            modules.iter().any(|m| {
                item.split([' ', '(', '<', '&'])
                    .any(|word| word == m || word.starts_with(&format!("{m}::")))
            })
        },
    );
    expectorate::assert_contents(root().join("tests/snapshots/raw-api.txt"), &surface);
    for expected in [
        "pub fn anthropic_environments_raw::operation::Operation::path_param<'p>(&self, &'p str, &str) -> core::option::Option<&'p str>",
        "pub const anthropic_environments_raw::operations::POLL_WORK: anthropic_environments_raw::operation::Operation",
        "pub fn anthropic_environments_raw::operation::for_request(",
    ] {
        assert!(surface.contains(expected), "{expected}\n{surface}");
    }
}

/// The public API of the facade (what users depend on): an accidental
/// breaking change shows in this snapshot's diff.
#[test]
fn facade_public_api() {
    let surface =
        anthropic_environments_tests::api_surface::crate_surface("anthropic-environments");
    expectorate::assert_contents(root().join("tests/snapshots/facade-api.txt"), &surface);
    for expected in [
        "pub fn anthropic_environments::Client::with_credential(&self, anthropic_environments::credentials::Credential) -> anthropic_environments::error::Result<anthropic_environments::Client>",
        "#[non_exhaustive] pub struct anthropic_environments::pagination::Page<T>",
        // What a macro generates is listed too.
        "pub async fn anthropic_environments::AckWork::send(self)",
        "impl core::marker::Send for anthropic_environments::Client",
    ] {
        assert!(surface.contains(expected), "{expected}\n{surface}");
    }
}

/// The public API of the worker crate.
#[test]
fn worker_public_api() {
    let surface =
        anthropic_environments_tests::api_surface::crate_surface("anthropic-environments-worker");
    expectorate::assert_contents(root().join("tests/snapshots/worker-api.txt"), &surface);
    for expected in [
        "pub struct anthropic_environments_worker::ServeOneBuilder",
        "pub fn anthropic_environments_worker::Worker::builder(",
    ] {
        assert!(surface.contains(expected), "{expected}\n{surface}");
    }
}

/// codegen's output for each small fixture spec of a hard shape.
#[test]
fn fixture_specs() {
    let dir = root().join("tests/fixtures");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "fixtures missing: {names:?}");
    for path in names {
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let origin = format!("tests/fixtures/{stem}.yaml");
        let spec = std::fs::read_to_string(&path).unwrap();
        let out = anthropic_environments_codegen::generate(&spec, &origin)
            .unwrap_or_else(|e| panic!("{origin}: {e:#}"));
        expectorate::assert_contents(
            root().join(format!("tests/snapshots/fixtures/{stem}.rs")),
            &out,
        );
    }
}
