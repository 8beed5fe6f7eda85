//! Metadata patches for updates: set keys and delete keys.

use std::collections::{BTreeMap, HashMap};

/// A change to the metadata of an environment or work item: each key is set
/// to a value or deleted (sent as `null`); keys not named keep their value.
///
/// ```
/// use anthropic_environments::MetadataPatch;
/// let patch = MetadataPatch::new().set("owner", "data-team").delete("temp");
/// assert_eq!(
///     serde_json::to_value(&patch).unwrap(),
///     serde_json::json!({"owner": "data-team", "temp": null})
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct MetadataPatch {
    changes: BTreeMap<String, Option<String>>,
}

impl MetadataPatch {
    /// An empty patch (changes nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`.
    #[must_use]
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.changes.insert(key.into(), Some(value.into()));
        self
    }

    /// Deletes `key`.
    #[must_use]
    pub fn delete(mut self, key: impl Into<String>) -> Self {
        self.changes.insert(key.into(), None);
        self
    }

    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The changes: `Some(value)` sets, `None` deletes.
    pub fn changes(&self) -> &BTreeMap<String, Option<String>> {
        &self.changes
    }

    /// This patch with `other`'s changes on top (a key both name gets
    /// `other`'s change).
    pub(crate) fn merged(mut self, other: MetadataPatch) -> Self {
        self.changes.extend(other.changes);
        self
    }

    pub(crate) fn into_wire(self) -> HashMap<String, Option<String>> {
        self.changes.into_iter().collect()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, Option<V>)> for MetadataPatch {
    fn from_iter<I: IntoIterator<Item = (K, Option<V>)>>(iter: I) -> Self {
        MetadataPatch {
            changes: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.map(Into::into)))
                .collect(),
        }
    }
}
