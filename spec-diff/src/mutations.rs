//! Mutations of a spec, as the spec-diff corpus
//! (`tests/spec-diff/mutations.yaml`) writes them: a name, the verdict
//! [`diff`](crate::diff()) should reach, and an RFC 6902 JSON Patch.
//! The snapshot tests and `cargo xtask spec-diff-compare` read the corpus
//! through this module, so both see the same mutated specs.

use anyhow::{Context, Result};
use serde_json::Value;

/// One mutation of the corpus.
#[derive(Debug, serde::Deserialize)]
pub struct Mutation {
    /// Short name, used in snapshot and file names.
    pub name: String,
    /// The expected verdict: `breaking` or `compatible`.
    pub expect: String,
    patch: json_patch::Patch,
}

/// Parses a corpus: a YAML list of mutations.
pub fn load(corpus: &str) -> Result<Vec<Mutation>> {
    serde_yaml_ng::from_str(corpus).context("the corpus is not a list of mutations")
}

impl Mutation {
    /// The mutated spec as pretty JSON, from the base spec's JSON form.
    pub fn apply(&self, base: &Value) -> Result<String> {
        let mut head = base.clone();
        json_patch::patch(&mut head, &self.patch)
            .with_context(|| format!("applying mutation {}", self.name))?;
        Ok(serde_json::to_string_pretty(&head)?)
    }
}
