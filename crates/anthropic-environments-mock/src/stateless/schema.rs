//! Validation of a JSON value against an OpenAPI 3.0 schema: the subset
//! this API's spec uses (`$ref`, `type`, `nullable`, `enum`, `required`,
//! `properties`, `additionalProperties`, `items`, `allOf`, `oneOf` with a
//! `discriminator`, `minimum`, `maximum`). Errors name the offending field
//! by its path (`config.networking.allowed_hosts[0]`).

use serde_json::Value;

/// Resolves local `$ref`s (`#/components/...`) in the spec.
pub(crate) fn resolve<'a>(spec: &'a Value, node: &'a Value) -> &'a Value {
    let mut node = node;
    for _ in 0..32 {
        let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
            return node;
        };
        let Some(pointer) = reference.strip_prefix('#') else {
            return node;
        };
        match spec.pointer(pointer) {
            Some(target) => node = target,
            None => return node,
        }
    }
    node
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks `value` against `schema`; `path` names `value` in errors (empty
/// for the whole body).
pub(crate) fn validate(
    spec: &Value,
    schema: &Value,
    value: &Value,
    path: &str,
) -> Result<(), String> {
    let schema = resolve(spec, schema);
    let shown = if path.is_empty() {
        "request body"
    } else {
        path
    };
    if value.is_null() {
        let nullable = schema.get("nullable").and_then(Value::as_bool) == Some(true);
        return if nullable {
            Ok(())
        } else {
            Err(format!("{shown}: must not be null"))
        };
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for part in all {
            validate(spec, part, value, path)?;
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        return validate_one_of(spec, schema, one, value, path);
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => validate_object(spec, schema, value, path),
        Some("array") => {
            let items = value
                .as_array()
                .ok_or_else(|| format!("{shown}: must be an array, got {}", type_name(value)))?;
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate(spec, item_schema, item, &format!("{shown}[{i}]"))?;
                }
            }
            Ok(())
        }
        Some("string") => {
            let text = value
                .as_str()
                .ok_or_else(|| format!("{shown}: must be a string, got {}", type_name(value)))?;
            if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
                && !allowed.iter().any(|a| a.as_str() == Some(text))
            {
                let list: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
                return Err(format!(
                    "{shown}: must be one of {}, got {text:?}",
                    list.join(", ")
                ));
            }
            Ok(())
        }
        Some("integer") => {
            let n = value
                .as_i64()
                .ok_or_else(|| format!("{shown}: must be an integer, got {}", type_name(value)))?;
            check_bounds(schema, n as f64, shown)
        }
        Some("number") => {
            let n = value
                .as_f64()
                .ok_or_else(|| format!("{shown}: must be a number, got {}", type_name(value)))?;
            check_bounds(schema, n, shown)
        }
        Some("boolean") => {
            if value.is_boolean() {
                Ok(())
            } else {
                Err(format!(
                    "{shown}: must be true or false, got {}",
                    type_name(value)
                ))
            }
        }
        _ => Ok(()),
    }
}

/// `minimum` / `maximum` of a number.
pub(crate) fn check_bounds(schema: &Value, n: f64, shown: &str) -> Result<(), String> {
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && n < min
    {
        return Err(format!("{shown}: must be at least {min}, got {n}"));
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
        && n > max
    {
        return Err(format!("{shown}: must be at most {max}, got {n}"));
    }
    Ok(())
}

fn validate_object(spec: &Value, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let shown = if path.is_empty() {
        "request body"
    } else {
        path
    };
    let object = value
        .as_object()
        .ok_or_else(|| format!("{shown}: must be an object, got {}", type_name(value)))?;
    for required in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !object.contains_key(required) {
            return Err(format!("{}: is required", join(path, required)));
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    for (key, field) in object {
        match properties.and_then(|p| p.get(key)) {
            Some(field_schema) => validate(spec, field_schema, field, &join(path, key))?,
            None => match additional {
                Some(Value::Bool(false)) => {
                    return Err(format!("{}: is not a known field", join(path, key)));
                }
                Some(extra) if extra.is_object() => {
                    validate(spec, extra, field, &join(path, key))?;
                }
                _ => {}
            },
        }
    }
    Ok(())
}

fn validate_one_of(
    spec: &Value,
    schema: &Value,
    variants: &[Value],
    value: &Value,
    path: &str,
) -> Result<(), String> {
    let shown = if path.is_empty() {
        "request body"
    } else {
        path
    };
    if let Some(discriminator) = schema.get("discriminator") {
        let tag_name = discriminator
            .get("propertyName")
            .and_then(Value::as_str)
            .unwrap_or("type");
        let tag = value
            .get(tag_name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{}: is required", join(path, tag_name)))?;
        let mapping = discriminator.get("mapping").and_then(Value::as_object);
        let target = mapping.and_then(|m| m.get(tag)).and_then(Value::as_str);
        return match target {
            Some(reference) => {
                let variant = serde_json::json!({ "$ref": reference });
                validate(spec, &variant, value, path)
            }
            None => {
                let known: Vec<&str> = mapping
                    .map(|m| m.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                Err(format!(
                    "{}: must be one of {}, got {tag:?}",
                    join(path, tag_name),
                    known.join(", ")
                ))
            }
        };
    }
    let mut first_error = None;
    for variant in variants {
        match validate(spec, variant, value, path) {
            Ok(()) => return Ok(()),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| format!("{shown}: matches no variant")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> Value {
        json!({"components": {"schemas": {
            "Net": {"oneOf": [{"$ref": "#/components/schemas/Open"}, {"$ref": "#/components/schemas/Closed"}],
                    "discriminator": {"propertyName": "type", "mapping": {
                        "open": "#/components/schemas/Open", "closed": "#/components/schemas/Closed"}}},
            "Open": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string", "enum": ["open"]}}},
            "Closed": {"type": "object", "required": ["type", "hosts"], "properties": {
                "type": {"type": "string", "enum": ["closed"]},
                "hosts": {"type": "array", "items": {"type": "string"}}}},
            "Params": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 10},
                "net": {"nullable": true, "allOf": [{"$ref": "#/components/schemas/Net"}]},
                "metadata": {"type": "object", "additionalProperties": {"type": "string", "nullable": true}}}}
        }}})
    }

    #[test]
    fn errors_name_the_field() {
        let spec = spec();
        let schema = json!({"$ref": "#/components/schemas/Params"});
        let check = |v: Value| validate(&spec, &schema, &v, "");
        assert!(
            check(json!({"name": "n", "net": null, "metadata": {"a": "b", "c": null}})).is_ok()
        );
        assert!(
            check(json!({"name": "n", "net": {"type": "closed", "hosts": ["h"]}, "extra": 1}))
                .is_ok()
        );
        let cases = [
            (json!({}), "name: is required"),
            (json!("x"), "request body: must be an object"),
            (json!({"name": 5}), "name: must be a string"),
            (
                json!({"name": "n", "limit": 0}),
                "limit: must be at least 1",
            ),
            (
                json!({"name": "n", "limit": 1.5}),
                "limit: must be an integer",
            ),
            (
                json!({"name": "n", "net": {"type": "half"}}),
                "net.type: must be one of",
            ),
            (
                json!({"name": "n", "net": {"type": "closed"}}),
                "net.hosts: is required",
            ),
            (
                json!({"name": "n", "net": {"type": "closed", "hosts": [1]}}),
                "net.hosts[0]: must be a string",
            ),
            (
                json!({"name": "n", "metadata": {"a": 1}}),
                "metadata.a: must be a string",
            ),
        ];
        for (value, want) in cases {
            let err = check(value.clone()).unwrap_err();
            assert!(err.starts_with(want), "{value}: {err}");
        }
    }
}
