//! The agent's tools (`agent_toolset_20260401`), run in the sandbox by the
//! session runner: `bash`, and the file tools `read`, `write`, `edit`,
//! `glob` and `grep` (confined to the workdir and the allowed roots, see
//! [`paths`]).

pub(crate) mod bash;
pub(crate) mod files;
pub(crate) mod paths;
pub(crate) mod search;

use serde_json::{Value, json};

use paths::Confinement;

/// What the file tools work within: where they may reach, and how big a
/// file they take.
#[derive(Clone, Debug)]
pub(crate) struct FileScope {
    pub(crate) paths: Confinement,
    pub(crate) limits: FileLimits,
}

/// How big a file `read` returns whole and `edit` changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileLimits {
    /// Text files (`None`: no cap).
    pub(crate) text: Option<u64>,
    /// Images and PDFs, besides their own caps (set only explicitly).
    pub(crate) media: Option<u64>,
}

impl FileLimits {
    /// The largest text file by default, as the official runners'.
    pub(crate) const DEFAULT_TEXT: u64 = 256 * 1024;

    /// The limits of an explicit setting: it binds every kind of file.
    pub(crate) fn explicit(max_file_bytes: Option<u64>) -> Self {
        FileLimits {
            text: max_file_bytes,
            media: max_file_bytes,
        }
    }
}

impl Default for FileLimits {
    fn default() -> Self {
        FileLimits {
            text: Some(Self::DEFAULT_TEXT),
            media: None,
        }
    }
}

/// What a tool call produced: its result's content blocks, and whether it
/// is an error.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ToolOutput {
    pub(crate) blocks: Vec<Value>,
    pub(crate) is_error: bool,
}

/// The text of an empty result, as the official runners post it.
pub(crate) const NO_OUTPUT: &str = "(no output)";

impl ToolOutput {
    /// A text result (empty: [`NO_OUTPUT`]).
    pub(crate) fn text(text: impl Into<String>) -> Self {
        Self::one_text(text.into(), false)
    }

    /// An error result.
    pub(crate) fn error(text: impl Into<String>) -> Self {
        Self::one_text(text.into(), true)
    }

    fn one_text(text: String, is_error: bool) -> Self {
        let text = if text.is_empty() {
            NO_OUTPUT.to_owned()
        } else {
            text
        };
        ToolOutput {
            blocks: vec![json!({"type": "text", "text": text})],
            is_error,
        }
    }

    /// Content blocks as they are (none: [`NO_OUTPUT`]).
    pub(crate) fn blocks(blocks: Vec<Value>) -> Self {
        if blocks.is_empty() {
            return Self::text("");
        }
        ToolOutput {
            blocks,
            is_error: false,
        }
    }
}
