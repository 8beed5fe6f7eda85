//! The state every handler and middleware shares: the model behind its
//! lock, the wake-ups of long polls and of the sweeper, faults, the
//! journal, credentials settings and webhook endpoints.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::time::Instant;

use crate::credentials::CredentialMode;
use crate::faults::{FaultConfig, Faults};
use crate::journal::Journal;
use crate::model::Model;

/// State shared by every handler.
pub(crate) struct Shared {
    pub(crate) model: Mutex<Model>,
    /// Wakes long polls: an item was queued or re-queued.
    pub(crate) notify: tokio::sync::Notify,
    /// Wakes the sweeper: a deadline was set (it may be the earliest).
    pub(crate) deadlines_changed: tokio::sync::Notify,
    pub(crate) faults: Faults,
    pub(crate) api_key: Option<String>,
    pub(crate) credential_mode: CredentialMode,
    pub(crate) request_ids: AtomicU64,
    pub(crate) journal: Journal,
    /// Webhook endpoints, told when a session's work is queued.
    pub(crate) webhooks: Arc<crate::webhooks::Webhooks>,
}

impl Shared {
    pub(crate) fn model(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Empties the model (keeping its timing and base URL), the journal and
    /// the faults.
    pub(crate) fn reset(&self) {
        {
            self.model().reset();
        }
        self.journal.clear();
        self.webhooks.clear();
        self.faults.set(FaultConfig::none());
        self.notify.notify_waiters();
        self.deadlines_changed.notify_one();
    }

    /// A work item was queued: wakes long polls and, for a session's
    /// item, tells the webhook endpoints its run started.
    pub(crate) fn work_queued(&self, session_id: Option<&str>) {
        self.notify.notify_waiters();
        if let Some(session_id) = session_id {
            self.webhooks.announce_run(session_id);
        }
    }

    /// Locks the model after applying every deadline due now.
    pub(crate) fn swept(&self) -> MutexGuard<'_, Model> {
        let mut model = self.model();
        if model.sweep(Instant::now()) {
            self.notify.notify_waiters();
        }
        model
    }
}
