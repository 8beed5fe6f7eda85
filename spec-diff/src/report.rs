//! The outcome of a comparison: each [`Change`] with its [`Severity`] and
//! reason, and the [`Report`] that renders them as Markdown for a pull
//! request or as JSON for tools.

use std::fmt::Write as _;

use serde_json::{Value, json};

/// How bad a change is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Existing users are unaffected.
    Compatible,
    /// Existing code or clients break.
    Breaking,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Compatible => "compatible",
            Severity::Breaking => "breaking",
        }
    }
}

/// One classified change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Breaking or compatible.
    pub severity: Severity,
    /// Where: `GET /v1/environments`, `schema BetaEnvironment.description`, ...
    pub location: String,
    /// What changed.
    pub detail: String,
    /// Why it is classified so.
    pub reason: String,
}

/// The whole comparison.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The base, as named by the caller.
    pub base: String,
    /// The head, as named by the caller.
    pub head: String,
    /// Every change, operations first, then schemas.
    pub changes: Vec<Change>,
    /// Unified diff of the generated public surface, when it changed.
    pub surface_diff: Option<String>,
}

impl Report {
    /// Whether any change is breaking.
    pub fn is_breaking(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.severity == Severity::Breaking)
    }

    fn count(&self, s: Severity) -> usize {
        self.changes.iter().filter(|c| c.severity == s).count()
    }

    /// The Markdown report.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Spec diff: {} -> {}\n", self.base, self.head);
        let verdict = if self.changes.is_empty() {
            "no changes".to_owned()
        } else if self.is_breaking() {
            "**breaking**".to_owned()
        } else {
            "compatible".to_owned()
        };
        let _ = writeln!(
            out,
            "Result: {verdict} ({} breaking, {} compatible)\n",
            self.count(Severity::Breaking),
            self.count(Severity::Compatible)
        );
        if !self.changes.is_empty() {
            out.push_str("| severity | where | change | why |\n| --- | --- | --- | --- |\n");
            for c in &self.changes {
                let sev = match c.severity {
                    Severity::Breaking => "**breaking**",
                    Severity::Compatible => "compatible",
                };
                let _ = writeln!(
                    out,
                    "| {sev} | `{}` | {} | {} |",
                    c.location.replace('|', "\\|"),
                    c.detail.replace('|', "\\|"),
                    c.reason.replace('|', "\\|")
                );
            }
            out.push('\n');
        }
        match &self.surface_diff {
            Some(diff) => {
                out.push_str("## Generated public surface\n\n```diff\n");
                out.push_str(diff);
                if !diff.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str("```\n");
            }
            None => out.push_str("## Generated public surface\n\nUnchanged.\n"),
        }
        out
    }

    /// The report as JSON, for machines.
    pub fn to_json(&self) -> Value {
        json!({
            "base": self.base,
            "head": self.head,
            "breaking": self.is_breaking(),
            "changes": self.changes.iter().map(|c| json!({
                "severity": c.severity.as_str(),
                "location": c.location,
                "detail": c.detail,
                "reason": c.reason,
            })).collect::<Vec<_>>(),
            "surface_diff": self.surface_diff,
        })
    }
}
