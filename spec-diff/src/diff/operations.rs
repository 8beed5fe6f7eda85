//! Operations: added and removed, and for each one its parameters, request
//! body and responses, judged by who sends them.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Differ, Direction, METHODS, Severity, obj, ref_name};

impl<'a> Differ<'a> {
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

    pub(super) fn operations(&mut self) {
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

    pub(super) fn resolve_param<'s>(spec: &'s Value, p: &'s Value) -> &'s Value {
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
}
