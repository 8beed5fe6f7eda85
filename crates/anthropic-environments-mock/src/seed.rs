//! Environments and work a server starts with (`--seed FILE`, or
//! [`MockServerBuilder::seed`](crate::MockServerBuilder::seed)).

use std::collections::HashMap;

use anthropic_environments_raw::types::{BetaWorkData, EnvironmentCreateParams};
use serde::{Deserialize, Serialize};

/// What a server starts with, e.g. as JSON:
///
/// ```
/// let seed: anthropic_environments_mock::Seed = serde_json::from_str(r#"{
///   "environments": [
///     {"name": "workers", "config": {"type": "self_hosted"},
///      "work": [{"session_id": "session_1"}, {"data": {"type": "healthcheck", "id": "hc_1"}}]}
///   ]
/// }"#).unwrap();
/// assert_eq!(seed.environments[0].work.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Seed {
    /// Environments to create, in order, each with its queued work.
    #[serde(default)]
    pub environments: Vec<SeedEnvironment>,
}

/// One environment of a [`Seed`]: the create request's fields, and work to
/// queue in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SeedEnvironment {
    /// As `POST /v1/environments` takes it.
    #[serde(flatten)]
    pub params: EnvironmentCreateParams,
    /// Work to queue, in order.
    #[serde(default)]
    pub work: Vec<SeedWork>,
}

/// One queued item of a [`SeedEnvironment`]: a session, or any work data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SeedWork {
    /// A session item's session id.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Any work data (`{"type": "healthcheck", "id": "..."}`, ...).
    #[serde(default)]
    pub data: Option<BetaWorkData>,
    /// The item's metadata.
    #[serde(default)]
    pub metadata: HashMap<String, String>,
}
