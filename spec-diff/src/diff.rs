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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{Context, Result};
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

struct Differ<'a> {
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

    fn operations_of(spec: &Value) -> BTreeMap<(String, String), (&Value, &Value)> {
        let mut ops = BTreeMap::new();
        for (path, item) in obj(&spec["paths"]) {
            for m in METHODS {
                if let Some(op) = item.get(m) {
                    ops.insert((path.clone(), m.to_owned()), (op, item));
                }
            }
        }
        ops
    }

    fn operations(&mut self) {
        let old = Self::operations_of(self.old);
        let new = Self::operations_of(self.new);
        for (key, (op, _)) in &old {
            if !new.contains_key(key) {
                let id = op["operationId"].as_str().unwrap_or("?");
                self.push(
                    Severity::Breaking,
                    format!("{} {}", key.1.to_uppercase(), key.0),
                    format!("operation `{id}` removed"),
                    "its generated method disappears and the server no longer serves it",
                );
            }
        }
        for (key, (op, _)) in &new {
            if !old.contains_key(key) {
                let id = op["operationId"].as_str().unwrap_or("?");
                self.push(
                    Severity::Compatible,
                    format!("{} {}", key.1.to_uppercase(), key.0),
                    format!("operation `{id}` added"),
                    "a new method; existing code is unaffected",
                );
            }
        }
        for (key, (old_op, old_item)) in &old {
            let Some((new_op, new_item)) = new.get(key) else {
                continue;
            };
            let loc = format!("{} {}", key.1.to_uppercase(), key.0);
            self.operation(&loc, old_op, old_item, new_op, new_item);
        }
    }

    fn resolve_param<'s>(spec: &'s Value, p: &'s Value) -> &'s Value {
        match ref_name(p) {
            Some(name) => &spec["components"]["parameters"][name],
            None => p,
        }
    }

    /// Parameters by name: (location, required, schema).
    fn params_of(
        spec: &'a Value,
        op: &'a Value,
        item: &'a Value,
    ) -> BTreeMap<String, (String, bool, &'a Value)> {
        let mut out = BTreeMap::new();
        for list in [&item["parameters"], &op["parameters"]] {
            for p in list.as_array().into_iter().flatten() {
                let p = Self::resolve_param(spec, p);
                let name = p["name"].as_str().unwrap_or_default().to_owned();
                let loc = p["in"].as_str().unwrap_or_default().to_owned();
                let required = p["required"].as_bool().unwrap_or(false);
                out.insert(name.to_ascii_lowercase(), (loc, required, &p["schema"]));
            }
        }
        out
    }

    fn operation(
        &mut self,
        loc: &str,
        old_op: &'a Value,
        old_item: &'a Value,
        new_op: &'a Value,
        new_item: &'a Value,
    ) {
        let (old_id, new_id) = (
            old_op["operationId"].as_str(),
            new_op["operationId"].as_str(),
        );
        if old_id != new_id {
            self.push(
                Severity::Breaking,
                loc,
                format!(
                    "operationId `{}` -> `{}`",
                    old_id.unwrap_or("?"),
                    new_id.unwrap_or("?")
                ),
                "the generated method is renamed",
            );
        }
        let old_params = Self::params_of(self.old, old_op, old_item);
        let new_params = Self::params_of(self.new, new_op, new_item);
        for (name, (where_, _, _)) in &old_params {
            if !new_params.contains_key(name) {
                self.push(
                    Severity::Breaking,
                    loc,
                    format!("{where_} parameter `{name}` removed"),
                    "its builder setter disappears",
                );
            }
        }
        for (name, (where_, required, _)) in &new_params {
            if !old_params.contains_key(name) {
                if *required {
                    self.push(
                        Severity::Breaking,
                        loc,
                        format!("required {where_} parameter `{name}` added"),
                        "existing calls do not send it",
                    );
                } else {
                    self.push(
                        Severity::Compatible,
                        loc,
                        format!("optional {where_} parameter `{name}` added"),
                        "a new optional setter; existing calls are unaffected",
                    );
                }
            }
        }
        for (name, (old_in, old_req, old_schema)) in &old_params {
            let Some((new_in, new_req, new_schema)) = new_params.get(name) else {
                continue;
            };
            if old_in != new_in {
                self.push(
                    Severity::Breaking,
                    loc,
                    format!("parameter `{name}` moved from {old_in} to {new_in}"),
                    "clients built before the change send it where the server no longer reads it",
                );
            }
            if old_req != new_req {
                let (sev, detail, reason) = if *new_req {
                    (
                        Severity::Breaking,
                        "became required",
                        "existing calls may not send it",
                    )
                } else {
                    (
                        Severity::Compatible,
                        "became optional",
                        "existing calls still send it; the setter is unchanged",
                    )
                };
                self.push(sev, loc, format!("parameter `{name}` {detail}"), reason);
            }
            self.schema(
                &format!("{loc} parameter `{name}`"),
                old_schema,
                new_schema,
                Direction::Request,
                false,
            );
        }
        // Request body.
        let body = |op: &'a Value| {
            op.get("requestBody")
                .map(|b| &b["content"]["application/json"]["schema"])
        };
        match (body(old_op), body(new_op)) {
            (Some(_), None) => self.push(
                Severity::Breaking,
                loc,
                "request body removed",
                "the generated body setter disappears",
            ),
            (None, Some(_)) => {
                let required = new_op["requestBody"]["required"].as_bool().unwrap_or(false);
                let sev = if required {
                    Severity::Breaking
                } else {
                    Severity::Compatible
                };
                self.push(
                    sev,
                    loc,
                    "request body added",
                    if required {
                        "existing calls send no body"
                    } else {
                        "optional"
                    },
                );
            }
            (Some(a), Some(b)) => self.schema(
                &format!("{loc} request body"),
                a,
                b,
                Direction::Request,
                false,
            ),
            (None, None) => {}
        }
        // Responses.
        let responses = |spec: &'a Value, op: &'a Value| -> BTreeMap<String, Option<&'a Value>> {
            obj(&op["responses"])
                .map(|(status, r)| {
                    let r = match ref_name(r) {
                        Some(name) => &spec["components"]["responses"][name],
                        None => r,
                    };
                    (
                        status.clone(),
                        r.get("content").map(|c| &c["application/json"]["schema"]),
                    )
                })
                .collect()
        };
        let (old_r, new_r) = (responses(self.old, old_op), responses(self.new, new_op));
        for status in old_r.keys() {
            if !new_r.contains_key(status) {
                let sev = if status.starts_with('2') {
                    Severity::Breaking
                } else {
                    Severity::Compatible
                };
                self.push(
                    sev,
                    loc,
                    format!("response {status} removed"),
                    if sev == Severity::Breaking {
                        "the generated success type changes"
                    } else {
                        "error responses are decoded by status family"
                    },
                );
            }
        }
        for status in new_r.keys() {
            if !old_r.contains_key(status) {
                let sev = if status.starts_with('2') {
                    Severity::Breaking
                } else {
                    Severity::Compatible
                };
                self.push(
                    sev,
                    loc,
                    format!("response {status} added"),
                    if sev == Severity::Breaking {
                        "clients generated before it fail on this status (UnexpectedResponse), and a different body type changes what send() returns"
                    } else {
                        "errors keep the shared envelope"
                    },
                );
            }
        }
        for (status, old_schema) in &old_r {
            let Some(new_schema) = new_r.get(status) else {
                continue;
            };
            match (old_schema, new_schema) {
                (Some(a), Some(b)) => self.schema(
                    &format!("{loc} response {status}"),
                    a,
                    b,
                    Direction::Response,
                    false,
                ),
                (None, Some(_)) | (Some(_), None) => self.push(
                    Severity::Breaking,
                    loc,
                    format!("response {status} body changed between JSON and empty"),
                    "the generated response type changes",
                ),
                (None, None) => {}
            }
        }
    }

    /// Which directions each component is used in, following `$ref`s from
    /// the operations of `spec`.
    fn usage(spec: &Value) -> BTreeMap<String, BTreeSet<&'static str>> {
        fn walk(
            spec: &Value,
            v: &Value,
            dir: &'static str,
            out: &mut BTreeMap<String, BTreeSet<&'static str>>,
        ) {
            match v {
                Value::Object(m) => {
                    if let Some(name) = ref_name(v) {
                        if v["$ref"]
                            .as_str()
                            .is_some_and(|r| r.starts_with("#/components/schemas/"))
                            && out.entry(name.to_owned()).or_default().insert(dir)
                        {
                            walk(spec, &spec["components"]["schemas"][name], dir, out);
                        }
                        return;
                    }
                    for (k, child) in m {
                        if k != "discriminator" && k != "example" && k != "examples" {
                            walk(spec, child, dir, out);
                        }
                    }
                }
                Value::Array(a) => a.iter().for_each(|c| walk(spec, c, dir, out)),
                _ => {}
            }
        }
        let mut out = BTreeMap::new();
        for (_, item) in obj(&spec["paths"]) {
            for m in METHODS {
                let Some(op) = item.get(m) else { continue };
                if let Some(b) = op.get("requestBody") {
                    walk(spec, b, "request", &mut out);
                }
                for list in [&item["parameters"], &op["parameters"]] {
                    for p in list.as_array().into_iter().flatten() {
                        walk(
                            spec,
                            &Self::resolve_param(spec, p)["schema"],
                            "request",
                            &mut out,
                        );
                    }
                }
                for (_, r) in obj(&op["responses"]) {
                    let r = match ref_name(r) {
                        Some(name) => &spec["components"]["responses"][name],
                        None => r,
                    };
                    walk(spec, &r["content"], "response", &mut out);
                }
            }
        }
        out
    }

    fn components(&mut self) {
        let old_usage = Self::usage(self.old);
        let new_usage = Self::usage(self.new);
        let old_s = &self.old["components"]["schemas"];
        let new_s = &self.new["components"]["schemas"];
        for (name, _) in obj(old_s) {
            if new_s.get(name).is_none() {
                self.push(
                    Severity::Breaking,
                    format!("schema {name}"),
                    "schema removed",
                    "its generated type disappears",
                );
            }
        }
        for (name, _) in obj(new_s) {
            if old_s.get(name).is_none() {
                self.push(
                    Severity::Compatible,
                    format!("schema {name}"),
                    "schema added",
                    "a new generated type; existing code is unaffected",
                );
            }
        }
        for (name, old_schema) in obj(old_s) {
            let Some(new_schema) = new_s.get(name) else {
                continue;
            };
            let dirs: BTreeSet<_> = old_usage
                .get(name)
                .into_iter()
                .flatten()
                .chain(new_usage.get(name).into_iter().flatten())
                .copied()
                .collect();
            // A component used both ways is judged both ways; unused ones as
            // responses (the lenient side: nothing sends them).
            let loc = format!("schema {name}");
            let before = self.changes.len();
            if dirs.contains("request") {
                self.schema(&loc, old_schema, new_schema, Direction::Request, true);
            }
            if dirs.contains("response") || dirs.is_empty() {
                let mut other = Differ {
                    old: self.old,
                    new: self.new,
                    changes: Vec::new(),
                };
                other.schema(&loc, old_schema, new_schema, Direction::Response, true);
                // Keep the stricter of the two judgements of each change.
                for c in other.changes {
                    match self.changes[before..]
                        .iter_mut()
                        .find(|x| x.location == c.location && x.detail == c.detail)
                    {
                        Some(existing) if existing.severity >= c.severity => {}
                        Some(existing) => *existing = c,
                        None => self.changes.push(c),
                    }
                }
            }
        }
    }

    /// Compares two schemas at `loc`. `named` is true for a component
    /// (its enums and unions are open and non-exhaustive in the generated
    /// code).
    fn schema(&mut self, loc: &str, old: &Value, new: &Value, dir: Direction, named: bool) {
        // References: the same component is "the same" here (its own
        // changes are reported under the component).
        match (ref_name(old), ref_name(new)) {
            (Some(a), Some(b)) if a == b => return,
            (Some(_), _) | (_, Some(_)) => {
                let (a, b) = (kind_of(old), kind_of(new));
                if a != b {
                    self.push(
                        Severity::Breaking,
                        loc,
                        format!("type {a} -> {b}"),
                        "the generated type changes",
                    );
                }
                return;
            }
            _ => {}
        }
        let nullable = |s: &Value| s["nullable"].as_bool().unwrap_or(false);
        if nullable(old) != nullable(new) {
            let detail = if nullable(new) {
                "became nullable"
            } else {
                "no longer nullable"
            };
            let reason = if nullable(new) {
                "the generated type becomes Option and old clients reject null"
            } else {
                "the generated type loses its Option"
            };
            self.push(Severity::Breaking, loc, detail, reason);
        }
        let (a, b) = (kind_of(old), kind_of(new));
        if a != b {
            self.push(
                Severity::Breaking,
                loc,
                format!("type {a} -> {b}"),
                "the generated type changes",
            );
            return;
        }
        self.enums(loc, old, new, dir, named);
        self.unions(loc, old, new, dir, named);
        self.properties(loc, old, new, dir);
        if let (Some(x), Some(y)) = (old.get("items"), new.get("items")) {
            self.schema(&format!("{loc}[]"), x, y, dir, false);
        }
        if let (Some(x), Some(y)) = (
            old.get("additionalProperties"),
            new.get("additionalProperties"),
        ) && x.is_object()
            && y.is_object()
        {
            self.schema(&format!("{loc}{{*}}"), x, y, dir, false);
        }
        if let (Some(Value::Array(x)), Some(Value::Array(y))) = (old.get("allOf"), new.get("allOf"))
            && x.len() == y.len()
        {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                let inner = if x.len() == 1 {
                    loc.to_owned()
                } else {
                    format!("{loc} allOf[{i}]")
                };
                self.schema(&inner, p, q, dir, false);
            }
        }
    }

    fn enums(&mut self, loc: &str, old: &Value, new: &Value, dir: Direction, named: bool) {
        let values = |s: &Value| -> BTreeSet<String> {
            s["enum"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| v.to_string())
                .collect()
        };
        let (a, b) = (values(old), values(new));
        if a.is_empty() && b.is_empty() {
            return;
        }
        for v in a.difference(&b) {
            self.push(
                Severity::Breaking,
                loc,
                format!("enum value {v} removed"),
                "its generated variant disappears and clients may still send or expect it",
            );
        }
        for v in b.difference(&a) {
            let (sev, reason) = match (dir, named) {
                (Direction::Request, _) => (
                    Severity::Compatible,
                    "clients may send it; existing code is unaffected",
                ),
                (Direction::Response, true) => (
                    Severity::Compatible,
                    "compatible only because the generated enum is open (old clients decode it as Unknown) and non-exhaustive",
                ),
                (Direction::Response, false) => (
                    Severity::Breaking,
                    "an inline enum is closed: old clients fail to decode the new value",
                ),
            };
            self.push(sev, loc, format!("enum value {v} added"), reason);
        }
    }

    fn unions(&mut self, loc: &str, old: &Value, new: &Value, dir: Direction, named: bool) {
        let variants = |s: &Value| -> BTreeSet<String> {
            let mut set: BTreeSet<String> = s["oneOf"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| ref_name(v).map(str::to_owned).unwrap_or_else(|| kind_of(v)))
                .collect();
            set.extend(obj(&s["discriminator"]["mapping"]).map(|(k, _)| format!("tag {k:?}")));
            set
        };
        let (a, b) = (variants(old), variants(new));
        for v in a.difference(&b) {
            self.push(
                Severity::Breaking,
                loc,
                format!("union variant {v} removed"),
                "its generated variant disappears",
            );
        }
        for v in b.difference(&a) {
            let (sev, reason) = match (dir, named && old.get("discriminator").is_some()) {
                (Direction::Request, _) => (Severity::Compatible, "a new variant clients may send"),
                (Direction::Response, true) => (
                    Severity::Compatible,
                    "compatible only because the generated union is open (old clients keep it as Unknown) and non-exhaustive",
                ),
                (Direction::Response, false) => (
                    Severity::Breaking,
                    "an inline or untagged union is closed: old clients fail to decode the new variant",
                ),
            };
            self.push(sev, loc, format!("union variant {v} added"), reason);
        }
    }

    fn properties(&mut self, loc: &str, old: &Value, new: &Value, dir: Direction) {
        let required = |s: &Value| -> BTreeSet<String> {
            s["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        let (old_req, new_req) = (required(old), required(new));
        let (old_p, new_p) = (&old["properties"], &new["properties"]);
        for (name, _) in obj(old_p) {
            if new_p.get(name).is_none() {
                self.push(
                    Severity::Breaking,
                    format!("{loc}.{name}"),
                    "property removed",
                    match dir {
                        Direction::Response => {
                            "its generated field disappears and code reading it breaks"
                        }
                        Direction::Request => {
                            "its generated field disappears and code setting it breaks"
                        }
                    },
                );
            }
        }
        for (name, _) in obj(new_p) {
            if obj(old_p).any(|(n, _)| n == name) {
                continue;
            }
            let is_required = new_req.contains(name);
            let (sev, detail, reason) = match (dir, is_required) {
                (Direction::Request, true) => (
                    Severity::Breaking,
                    "required property added",
                    "existing requests lack it",
                ),
                (Direction::Request, false) => (
                    Severity::Compatible,
                    "optional property added",
                    "existing requests are still valid",
                ),
                (Direction::Response, r) => (
                    Severity::Compatible,
                    if r {
                        "required property added"
                    } else {
                        "optional property added"
                    },
                    "old clients ignore unknown fields",
                ),
            };
            self.push(sev, format!("{loc}.{name}"), detail, reason);
        }
        for (name, old_schema) in obj(old_p) {
            let Some(new_schema) = new_p.get(name) else {
                continue;
            };
            let (was, is) = (old_req.contains(name), new_req.contains(name));
            if was != is {
                let detail = if is {
                    "became required"
                } else {
                    "became optional"
                };
                let reason = match (dir, is) {
                    (Direction::Response, false) => {
                        "the generated field becomes Option and old clients fail when it is absent"
                    }
                    (Direction::Response, true) => "the generated field loses its Option",
                    (Direction::Request, true) => "existing requests may lack it",
                    (Direction::Request, false) => "the generated field becomes Option",
                };
                self.push(Severity::Breaking, format!("{loc}.{name}"), detail, reason);
            }
            self.schema(&format!("{loc}.{name}"), old_schema, new_schema, dir, false);
        }
    }
}
