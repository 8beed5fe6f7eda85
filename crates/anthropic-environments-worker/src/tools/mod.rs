//! The agent's tools (`agent_toolset_20260401`), run in the sandbox by the
//! session runner: `read`, `write`, `edit` (confined to the workdir and the
//! allowed roots), and more to come (issue #20).

pub(crate) mod bash;
pub(crate) mod files;
pub(crate) mod paths;
pub(crate) mod search;

use serde_json::{Value, json};

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
