//! The admin commands: environments and work items, over the facade.

pub mod environments;
pub mod work;

use anthropic_environments::MetadataPatch;
use serde::de::DeserializeOwned;

use crate::cli::MetadataArgs;
use crate::error::CliError;

/// A JSON flag value, inline or `@FILE`, decoded into `T`.
pub fn json_arg<T: DeserializeOwned>(flag: &str, value: &str) -> Result<T, CliError> {
    let text = match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("--{flag}: cannot read {path}: {e}")))?,
        None => value.to_owned(),
    };
    serde_json::from_str(&text).map_err(|e| CliError::Usage(format!("--{flag}: {e}")))
}

/// A string flag decoded as a (string) enum of the API, e.g. a scope: a
/// value this version does not know is passed on as is.
pub fn enum_arg<T: DeserializeOwned>(flag: &str, value: &str) -> Result<T, CliError> {
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .map_err(|e| CliError::Usage(format!("--{flag}: {e}")))
}

/// The metadata changes of `--set`/`--unset`.
pub fn metadata_patch(args: &MetadataArgs) -> MetadataPatch {
    let mut patch = MetadataPatch::new();
    for (k, v) in &args.set {
        patch = patch.set(k, v);
    }
    for k in &args.unset {
        patch = patch.delete(k);
    }
    patch
}
