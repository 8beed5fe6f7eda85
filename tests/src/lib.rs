//! Helpers shared by the workspace-level tests.

use std::path::{Path, PathBuf};

pub mod api_surface;

/// The README's Rust snippets, compiled as this crate's doc tests (run
/// too, unless marked `no_run`): a snippet that stops compiling fails the
/// test command.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeSnippets;

/// The published crates' READMEs, compiled the same way.
#[cfg(doctest)]
pub mod crate_readmes {
    #[doc = include_str!("../../crates/anthropic-environments/README.md")]
    pub struct Facade;
    #[doc = include_str!("../../crates/anthropic-environments-worker/README.md")]
    pub struct Worker;
    #[doc = include_str!("../../crates/anthropic-environments-mock/README.md")]
    pub struct Mock;
    #[doc = include_str!("../../crates/anthropic-environments-raw/README.md")]
    pub struct Raw;
    #[doc = include_str!("../../crates/anthropic-environments-cli/README.md")]
    pub struct Cli;
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is one level below the root")
        .to_path_buf()
}

/// The spec's path relative to the root, as xtask names it.
pub const SPEC: &str = "openapi/environments.yaml";

/// The committed generated file, relative to the root.
pub const GENERATED: &str = "crates/anthropic-environments-raw/src/generated.rs";

/// Reads a file below the root.
pub fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

/// The project's spec, parsed.
pub fn spec() -> openapiv3::OpenAPI {
    anthropic_environments_codegen::parse_spec(&read(SPEC)).expect("the spec parses")
}

pub use anthropic_environments_test_support::{Recorded, RecordingServer, Responder};
