//! The request journal: what the mock received and how it answered.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::credentials::CallerKind;

/// One API request the mock received (control requests under `/_mock/` are
/// not recorded). Credentials are never recorded, only their kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The HTTP method, e.g. `POST`.
    pub method: String,
    /// The path, e.g. `/v1/environments/env_.../work/poll`.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The operation (the spec's operationId) of the method and path, also
    /// when a fault answered; `None` for a path that is no operation.
    pub operation: Option<String>,
    /// Who the credential belongs to.
    pub caller: CallerKind,
    /// The status the mock answered with.
    pub status: u16,
}

/// A bounded journal: past its capacity the oldest entries go.
#[derive(Debug)]
pub(crate) struct Journal {
    entries: Mutex<VecDeque<RecordedRequest>>,
    capacity: usize,
}

impl Journal {
    pub(crate) fn new(capacity: usize) -> Self {
        Journal {
            entries: Mutex::new(VecDeque::new()),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<RecordedRequest>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn push(&self, request: RecordedRequest) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() == self.capacity {
            entries.pop_front();
        }
        entries.push_back(request);
    }

    pub(crate) fn entries(&self) -> Vec<RecordedRequest> {
        self.lock().iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }
}
