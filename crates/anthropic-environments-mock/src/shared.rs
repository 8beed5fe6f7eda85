//! The state every handler and middleware shares: the model behind its
//! lock, the wake-ups of long polls and of the sweeper, faults, the
//! journal, credentials settings and webhook endpoints.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::time::Instant;

use crate::credentials::CredentialMode;
use crate::faults::{FaultConfig, Faults};
use crate::journal::Journal;
use crate::model::Model;

/// State shared by every handler.
pub(crate) struct Shared {
    model: Mutex<Model>,
    /// Wakes long polls: an item was queued or re-queued.
    notify: tokio::sync::Notify,
    /// Wakes the sweeper: a deadline was set (it may be the earliest).
    deadlines_changed: tokio::sync::Notify,
    request_ids: AtomicU64,
    pub(crate) faults: Faults,
    /// The API key (`--api-key`) every credential is checked against, if set.
    pub(crate) api_key: Option<String>,
    pub(crate) credential_mode: CredentialMode,
    pub(crate) journal: Journal,
    /// Webhook endpoints, told when a session's work is queued.
    pub(crate) webhooks: Arc<crate::webhooks::Webhooks>,
}

impl Shared {
    /// The state of a server starting with `model`.
    pub(crate) fn new(
        model: Model,
        faults: Faults,
        api_key: Option<String>,
        credential_mode: CredentialMode,
        journal: Journal,
    ) -> Self {
        Shared {
            model: Mutex::new(model),
            notify: tokio::sync::Notify::new(),
            deadlines_changed: tokio::sync::Notify::new(),
            request_ids: AtomicU64::new(0),
            faults,
            api_key,
            credential_mode,
            journal,
            webhooks: Arc::default(),
        }
    }

    /// The next response's request number (from 1).
    pub(crate) fn next_request_number(&self) -> u64 {
        self.request_ids.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Completes when an item is queued or re-queued after this call (a
    /// long poll enables it before it looks at the queue, so that nothing
    /// queued in between is missed).
    pub(crate) fn queue_changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    /// A lease or stop deadline was set: the sweeper looks again.
    pub(crate) fn deadline_set(&self) {
        self.deadlines_changed.notify_one();
    }

    pub(crate) fn model(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Empties the model (keeping its timing and base URL), the journal and
    /// the faults.
    pub(crate) fn reset(&self) {
        self.model().reset();
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

    /// Applies lease expiries and stop grace periods as they fall due, waking
    /// long polls when an item is re-queued. Sleeps until the next deadline (or
    /// until a request sets a new one), on tokio's clock: under
    /// `tokio::time::pause()` leases, long polls and reclaims move with
    /// `tokio::time::advance`.
    ///
    /// Holds the shared state while it runs: the server aborts it on shutdown
    /// and on drop.
    pub(crate) async fn run_sweeper(self: Arc<Self>) {
        loop {
            let changed = self.deadlines_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let next = self.swept().next_deadline();
            match next {
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = &mut changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }
}
