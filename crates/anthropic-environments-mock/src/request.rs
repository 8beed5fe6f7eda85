//! What a handler reads from a request: query parameters and JSON bodies,
//! each error naming the parameter or field at fault.

use std::collections::HashMap;

use axum::body::Bytes;
use serde::de::DeserializeOwned;

use crate::envelope::{Failure, bad};

/// Parsed query parameters; each accessor names the parameter in its error.
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    pub(crate) fn parse(raw: Option<String>) -> Result<Self, Failure> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
            .map_err(|e| bad(format!("query string: {e}")))?;
        Ok(Query(pairs.into_iter().collect()))
    }

    pub(crate) fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, Failure> {
        match self.0.get(name) {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(bad(format!(
                    "{name}: must be an integer from {min} to {max}, got {v:?}"
                ))),
            },
        }
    }

    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, Failure> {
        match self.0.get(name).map(String::as_str) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(bad(format!("{name}: must be true or false, got {v:?}"))),
        }
    }

    pub(crate) fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// A JSON body of type `T`; errors name the offending field.
pub(crate) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, Failure> {
    if bytes.is_empty() {
        return Err(bad("request body: a JSON object is required"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            bad(format!("request body: invalid JSON: {inner}"))
        } else if path == "." || path == "?" {
            bad(format!("request body: {inner}"))
        } else {
            bad(format!("{path}: {inner}"))
        }
    })
}

/// A list's page size when the request does not say.
pub(crate) const DEFAULT_LIMIT: i64 = 20;
/// The largest request body the mock reads.
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;
/// The largest page size a list accepts.
pub(crate) const MAX_LIMIT: i64 = 1000;
