//! Components and schemas: which direction each component is used in,
//! then types, enums, unions and properties, compared once per component.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Differ, Direction, METHODS, Severity, kind_of, obj, ref_name};

impl<'a> Differ<'a> {
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

    pub(super) fn components(&mut self) {
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
    pub(super) fn schema(
        &mut self,
        loc: &str,
        old: &Value,
        new: &Value,
        dir: Direction,
        named: bool,
    ) {
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
