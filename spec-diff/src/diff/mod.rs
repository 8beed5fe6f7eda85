//! Classified differences between two versions of the spec, for review.
//!
//! Every change is judged from the point of view of code that uses the
//! generated client and the facade: **breaking** when code written against
//! the old version stops compiling after regeneration, or when a client
//! built from the old version stops working against a server of the new
//! one; **compatible** otherwise. Each change carries the reason.
//!
//! The rules, in short:
//!
//! | change | request side | response side |
//! | --- | --- | --- |
//! | operation added / removed | compatible / breaking | |
//! | parameter added | optional: compatible; required: breaking | |
//! | parameter removed, moved, retyped | breaking | |
//! | property added | optional: compatible; required: breaking | compatible (unknown fields are ignored) |
//! | property removed | breaking | breaking |
//! | required <-> optional, nullable changes, type changes | breaking (the Rust type changes) | breaking |
//! | enum value / union variant added | compatible | compatible only for named (open, non-exhaustive) enums and unions; breaking for inline ones |
//! | enum value / union variant removed | breaking | breaking |
//!
//! Components are compared once each; an operation's bodies and responses
//! are compared where they are declared (a `$ref` to the same component is
//! "the same", its changes are listed under the component).
//!
//! The walk is split the way the spec is: `operations.rs` compares paths,
//! parameters, bodies and responses; `schemas.rs` compares components and
//! the schemas inside them; [`Report`] renders what they found.

mod operations;
mod schemas;

use anyhow::{Context, Result};
use serde_json::Value;

pub use crate::report::{Change, Report, Severity};

/// Parses a spec for diffing: it must be valid OpenAPI 3.0 (as codegen
/// reads it); the comparison works on its JSON form.
pub fn load(text: &str) -> Result<Value> {
    anthropic_environments_codegen::parse_spec(text)?;
    serde_yaml_ng::from_str(text).context("the spec is not YAML or JSON")
}

/// Compares two spec texts.
pub fn diff(base_name: &str, base: &str, head_name: &str, head: &str) -> Result<Report> {
    let old = load(base).with_context(|| format!("{base_name}: invalid spec"))?;
    let new = load(head).with_context(|| format!("{head_name}: invalid spec"))?;
    let mut d = Differ {
        old: &old,
        new: &new,
        changes: Vec::new(),
    };
    d.operations();
    d.components();
    let surface_diff = surface_diff(base, head);
    Ok(Report {
        base: base_name.to_owned(),
        head: head_name.to_owned(),
        changes: d.changes,
        surface_diff,
    })
}

/// The diff of the generated public surfaces, if both generate and differ.
fn surface_diff(base: &str, head: &str) -> Option<String> {
    let surface = |text: &str| {
        anthropic_environments_codegen::generate(text, "spec")
            .and_then(|src| anthropic_environments_codegen::surface::public_surface(&src))
            .unwrap_or_else(|e| format!("(generation failed: {e:#})\n"))
    };
    let (a, b) = (surface(base), surface(head));
    if a == b {
        return None;
    }
    let diff = similar::TextDiff::from_lines(&a, &b);
    Some(
        diff.unified_diff()
            .context_radius(1)
            .header("base", "head")
            .to_string(),
    )
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Direction {
    Request,
    Response,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

pub(crate) struct Differ<'a> {
    old: &'a Value,
    new: &'a Value,
    changes: Vec<Change>,
}

fn ref_name(v: &Value) -> Option<&str> {
    v.get("$ref")?.as_str()?.rsplit('/').next()
}

fn obj(v: &Value) -> impl Iterator<Item = (&String, &Value)> {
    v.as_object().into_iter().flatten()
}

fn kind_of(schema: &Value) -> String {
    if let Some(r) = ref_name(schema) {
        return r.to_owned();
    }
    let mut t = schema
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            if schema.get("oneOf").is_some() {
                "oneOf".into()
            } else if schema.get("allOf").is_some() {
                "allOf".into()
            } else if schema.get("anyOf").is_some() {
                "anyOf".into()
            } else {
                "any".into()
            }
        });
    if let Some(f) = schema.get("format").and_then(Value::as_str) {
        t = format!("{t} ({f})");
    }
    if t == "array" {
        t = format!(
            "array of {}",
            schema.get("items").map(kind_of).unwrap_or_default()
        );
    }
    t
}

impl<'a> Differ<'a> {
    fn push(
        &mut self,
        severity: Severity,
        location: impl Into<String>,
        detail: impl Into<String>,
        reason: impl Into<String>,
    ) {
        self.changes.push(Change {
            severity,
            location: location.into(),
            detail: detail.into(),
            reason: reason.into(),
        });
    }
}
