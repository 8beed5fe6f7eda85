//! The stateless conformance mode: every request is validated against the
//! spec (path, method, parameters with their types and bounds, required
//! headers, the JSON body against the operation's schema) and answered with
//! the operation's example response from the spec, with the path's ids
//! echoed into it, and the documented status. An invalid request gets the
//! API's 400 envelope naming the field. No state is kept.
//!
//! The spec is `openapi/environments.yaml`, embedded at build time from the
//! copy `cargo xtask generate` keeps in this crate (`spec/`, checked by the
//! drift check): a spec change changes this mode.

mod schema;

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::envelope::{envelope, invalid};

/// The spec this mode serves.
const SPEC_YAML: &str = include_str!("../../spec/environments.yaml");

/// One `{placeholder}` or literal segment of a path template.
enum Segment {
    Literal(String),
    Param(String),
}

/// One operation of the spec.
struct Route {
    method: Method,
    segments: Vec<Segment>,
    /// Path-level and operation-level parameters, `$ref`s resolved.
    parameters: Vec<Value>,
    operation: Value,
}

impl Route {
    /// The path parameters when `path` matches, with how many segments were
    /// literal (the more, the better the match: `/work/poll` over
    /// `/work/{work_id}`).
    fn matches(&self, path: &[&str]) -> Option<(usize, HashMap<String, String>)> {
        if path.len() != self.segments.len() {
            return None;
        }
        let mut params = HashMap::new();
        let mut literal = 0;
        for (segment, part) in self.segments.iter().zip(path) {
            match segment {
                Segment::Literal(text) if text == part => literal += 1,
                Segment::Literal(_) => return None,
                Segment::Param(name) => {
                    if part.is_empty() {
                        return None;
                    }
                    let value = percent_decode(part);
                    params.insert(name.clone(), value);
                }
            }
        }
        Some((literal, params))
    }
}

/// The parsed spec and its routes.
pub(crate) struct Spec {
    doc: Value,
    routes: Vec<Route>,
}

/// The value of one of the spec's `components.examples` (the mock builds
/// its sessions from the `Session` example: the spec is the only source of
/// shapes).
pub(crate) fn example(name: &str) -> Option<Value> {
    spec()
        .doc
        .pointer(&format!("/components/examples/{name}/value"))
        .cloned()
}

/// The embedded spec, parsed once.
pub(crate) fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| Spec::parse(SPEC_YAML).expect("the embedded spec is valid"))
}

impl Spec {
    fn parse(text: &str) -> Result<Spec, String> {
        let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        let mut routes = Vec::new();
        let paths = doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("the spec has no paths")?;
        for (template, item) in paths {
            let shared: Vec<Value> = item
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (method, operation) in item.as_object().into_iter().flatten() {
                let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else {
                    continue;
                };
                if operation.get("operationId").is_none() {
                    continue;
                }
                let own = operation
                    .get("parameters")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let parameters = shared
                    .iter()
                    .chain(&own)
                    .map(|p| schema::resolve(&doc, p).clone())
                    .collect();
                routes.push(Route {
                    method,
                    segments: template
                        .trim_start_matches('/')
                        .split('/')
                        .map(
                            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                                Some(name) => Segment::Param(name.to_owned()),
                                None => Segment::Literal(s.to_owned()),
                            },
                        )
                        .collect(),
                    parameters,
                    operation: operation.clone(),
                });
            }
        }
        Ok(Spec { doc, routes })
    }

    /// The operation a method and path name, with the path's parameters.
    fn route(&self, method: &Method, path: &str) -> Option<(&Route, HashMap<String, String>)> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        self.routes
            .iter()
            .filter(|r| r.method == method)
            .filter_map(|r| r.matches(&parts).map(|(score, params)| (score, r, params)))
            .max_by_key(|(score, ..)| *score)
            .map(|(_, r, params)| (r, params))
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(hex) = std::str::from_utf8(&bytes[i + 1..i + 3])
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks one query or header parameter's text against its schema.
fn check_scalar(doc: &Value, parameter: &Value, text: &str) -> Result<(), String> {
    let name = parameter.get("name").and_then(Value::as_str).unwrap_or("?");
    let Some(schema) = parameter.get("schema") else {
        return Ok(());
    };
    let schema = schema::resolve(doc, schema);
    let value = match schema.get("type").and_then(Value::as_str) {
        Some("integer") => match text.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => return Err(format!("{name}: must be an integer, got {text:?}")),
        },
        Some("number") => match text.parse::<f64>() {
            Ok(n) => Value::from(n),
            Err(_) => return Err(format!("{name}: must be a number, got {text:?}")),
        },
        Some("boolean") => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(format!("{name}: must be true or false, got {text:?}")),
        },
        _ => Value::from(text),
    };
    schema::validate(doc, schema, &value, name)
}

/// Answers one API request in the stateless mode.
pub(crate) async fn answer(request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    respond(&parts.method, &parts.uri, &parts.headers, &bytes)
}

fn respond(
    method: &Method,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    bytes: &Bytes,
) -> Response {
    let spec = spec();
    let Some((route, path_params)) = spec.route(method, uri.path()) else {
        return envelope(
            StatusCode::NOT_FOUND,
            "not_found_error",
            "no such route",
            None,
        );
    };
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .is_some_and(|v| !v.trim().is_empty());
    if !bearer {
        return envelope(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "missing credentials: send Authorization: Bearer <credential>",
            None,
        );
    }
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    for parameter in &route.parameters {
        let name = parameter.get("name").and_then(Value::as_str).unwrap_or("");
        let required = parameter.get("required").and_then(Value::as_bool) == Some(true);
        let given: Option<String> = match parameter.get("in").and_then(Value::as_str) {
            Some("query") => query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone()),
            Some("header") => headers
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            Some("path") => path_params.get(name).cloned(),
            _ => continue,
        };
        match given {
            None if required => return invalid(format!("{name}: is required")),
            None => {}
            Some(text) => {
                if let Err(message) = check_scalar(&spec.doc, parameter, &text) {
                    return invalid(message);
                }
            }
        }
    }
    if let Some(request_body) = route.operation.get("requestBody") {
        let request_body = schema::resolve(&spec.doc, request_body);
        let required = request_body.get("required").and_then(Value::as_bool) == Some(true);
        let schema = request_body.pointer("/content/application~1json/schema");
        if bytes.is_empty() {
            if required {
                return invalid("request body: a JSON object is required");
            }
        } else {
            let value: Value = match serde_json::from_slice(bytes) {
                Ok(v) => v,
                Err(e) => return invalid(format!("request body: invalid JSON: {e}")),
            };
            if let Some(schema) = schema
                && let Err(message) = schema::validate(&spec.doc, schema, &value, "")
            {
                return invalid(message);
            }
        }
    }
    example_answer(&spec.doc, &route.operation, &path_params)
}

/// The operation's documented success status and example (the first by
/// name that is not `null`), with the path's ids echoed into it.
fn example_answer(
    doc: &Value,
    operation: &Value,
    path_params: &HashMap<String, String>,
) -> Response {
    let Some((status, response)) = operation
        .get("responses")
        .and_then(Value::as_object)
        .and_then(|r| r.iter().find(|(code, _)| code.starts_with('2')))
    else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let status = status
        .parse::<u16>()
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let response = schema::resolve(doc, response);
    let media = response.pointer("/content/application~1json");
    if media.is_none()
        && let Some((content_type, other)) = response
            .get("content")
            .and_then(Value::as_object)
            .and_then(|c| c.iter().next())
    {
        // A stream or a download: the documented example as it is (an
        // event stream's text), else no bytes.
        let body = other
            .get("example")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        return (status, [("content-type", content_type.clone())], body).into_response();
    }
    // The first example (by name) that is not `null`: poll documents both a
    // work item and `null`, and answers the item.
    let example = media
        .and_then(|m| m.get("examples"))
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|e| e.values())
        .map(|e| schema::resolve(doc, e))
        .filter_map(|e| e.get("value"))
        .find(|v| !v.is_null())
        .or_else(|| media.and_then(|m| m.get("example")))
        .cloned()
        .unwrap_or(Value::Null);
    let body = echo_ids(example, path_params);
    (status, axum::Json(body)).into_response()
}

/// Puts the path's `environment_id` and `work_id` where the example has
/// those fields: `id` is the work item's in a work path, the environment's
/// otherwise; list items get the environment id too.
fn echo_ids(mut body: Value, path_params: &HashMap<String, String>) -> Value {
    let env = path_params.get("environment_id");
    let work = path_params.get("work_id");
    let fill = |object: &mut serde_json::Map<String, Value>, top: bool| {
        if let Some(env) = env
            && object.contains_key("environment_id")
        {
            object.insert("environment_id".into(), Value::from(env.as_str()));
        }
        if top {
            match (work, env) {
                (Some(work), _) if object.contains_key("id") => {
                    object.insert("id".into(), Value::from(work.as_str()));
                }
                (None, Some(env))
                    if object.contains_key("id") && !object.contains_key("environment_id") =>
                {
                    object.insert("id".into(), Value::from(env.as_str()));
                }
                _ => {}
            }
        }
    };
    if let Some(object) = body.as_object_mut() {
        fill(object, true);
        if let Some(items) = object.get_mut("data").and_then(Value::as_array_mut) {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                fill(item, false);
            }
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_of_the_spec_has_a_route_and_an_example() {
        let spec = spec();
        // The 14 environment and work operations, and the 6 session and
        // skill calls of a worker.
        assert_eq!(spec.routes.len(), 20);
        for route in &spec.routes {
            let id = route.operation["operationId"].as_str().unwrap();
            let response = example_answer(&spec.doc, &route.operation, &HashMap::new());
            assert_eq!(response.status(), StatusCode::OK, "{id}");
        }
        let (route, params) = spec
            .route(&Method::GET, "/v1/environments/env_1/work/poll")
            .unwrap();
        assert_eq!(route.operation["operationId"], "poll_work");
        assert_eq!(params["environment_id"], "env_1");
        let (route, params) = spec
            .route(&Method::GET, "/v1/environments/env_1/work/work%201")
            .unwrap();
        assert_eq!(route.operation["operationId"], "retrieve_work");
        assert_eq!(params["work_id"], "work 1");
        assert!(spec.route(&Method::PUT, "/v1/environments").is_none());
    }
}
