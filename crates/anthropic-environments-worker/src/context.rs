//! What a handler gets for one claimed work item, and why it may be asked
//! to stop.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use anthropic_environments::Client;
use anthropic_environments::MetadataPatch;
use anthropic_environments::Result;
use anthropic_environments::Work;
use anthropic_environments::WorkQueue;
use anthropic_environments::credentials::WorkSecret;

/// Why a handler was asked to stop.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelReason {
    /// The server says the item is stopping or stopped.
    ServerStopping,
    /// The server did not extend the lease.
    LeaseNotExtended,
    /// A heartbeat got 412: the item was re-queued or another worker holds
    /// it. The worker leaves the item alone.
    LeaseLost,
    /// No heartbeat succeeded for the lease's TTL: the lease must be
    /// assumed lost. The worker leaves the item alone.
    LeaseAssumedLost,
    /// A heartbeat got a 4xx that retrying can't fix.
    HeartbeatRejected,
    /// The worker is shutting down and the grace period is over.
    Shutdown,
}

impl CancelReason {
    /// A short name, for logs and metric labels (`server_stopping`,
    /// `lease_not_extended`, `lease_lost`, `lease_assumed_lost`,
    /// `heartbeat_rejected`, `shutdown`).
    pub fn as_str(&self) -> &'static str {
        match self {
            CancelReason::ServerStopping => "server_stopping",
            CancelReason::LeaseNotExtended => "lease_not_extended",
            CancelReason::LeaseLost => "lease_lost",
            CancelReason::LeaseAssumedLost => "lease_assumed_lost",
            CancelReason::HeartbeatRejected => "heartbeat_rejected",
            CancelReason::Shutdown => "shutdown",
        }
    }

    /// Whether the lease now belongs to the queue or to another worker.
    pub fn lease_lost(&self) -> bool {
        matches!(
            self,
            CancelReason::LeaseLost | CancelReason::LeaseAssumedLost
        )
    }
}

/// What a handler gets for one claimed (acknowledged) work item.
///
/// [`client`](Self::client) is bound to the item's credential: its sessions
/// token (from the item's `secret`) when it has one, else the worker's own.
/// Neither shows in `Debug`.
#[derive(Clone)]
pub struct WorkContext {
    pub(crate) work: Arc<Work>,
    pub(crate) secret: Option<Arc<WorkSecret>>,
    /// The worker's queue (its own credential).
    pub(crate) worker_queue: WorkQueue,
    /// The item's queue (the item's credential).
    pub(crate) item_queue: WorkQueue,
    pub(crate) cancel: CancellationToken,
    /// Cancelled when the worker begins to shut down (before the grace).
    pub(crate) shutdown: CancellationToken,
    pub(crate) reason: Arc<Mutex<Option<CancelReason>>>,
    /// The lease as the last extending heartbeat left it.
    pub(crate) lease: Arc<Mutex<Option<(String, Duration)>>>,
    /// The server's answer that ended the lease (a rejected heartbeat, a
    /// 412).
    pub(crate) ended_by: Arc<Mutex<Option<EndingAnswer>>>,
}

impl fmt::Debug for WorkContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkContext")
            .field("work_id", &self.work.id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("credential", &self.item_queue.client().credential_kind())
            .field("cancelled", &self.cancel.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl WorkContext {
    pub(crate) fn new(
        work: Work,
        secret: Option<WorkSecret>,
        worker_queue: WorkQueue,
        item_queue: WorkQueue,
        shutdown: CancellationToken,
    ) -> Self {
        WorkContext {
            work: Arc::new(work),
            secret: secret.map(Arc::new),
            worker_queue,
            item_queue,
            cancel: CancellationToken::new(),
            shutdown,
            reason: Arc::default(),
            lease: Arc::default(),
            ended_by: Arc::default(),
        }
    }

    /// The work item, as polled (its `secret` is redacted in `Debug`).
    pub fn work(&self) -> &Work {
        &self.work
    }

    /// The session this item runs (`None` never happens for the items a
    /// worker hands to its handler: only session items reach it).
    pub fn session_id(&self) -> Option<&str> {
        anthropic_environments::ext::WorkDataExt::session_id(&*self.work)
    }

    /// The item's decoded `secret`, when the poll carried one that decodes.
    pub fn secret(&self) -> Option<&WorkSecret> {
        self.secret.as_deref()
    }

    /// A client bound to this item's credential (its sessions token, and the
    /// secret's `api_base_url`, when it has them; else the worker's
    /// credential), for the session-level calls a handler makes.
    pub fn client(&self) -> &Client {
        self.item_queue.client()
    }

    /// Completes when the handler should stop (see [`CancelReason`]).
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// Whether the handler should stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Completes when the worker begins to shut down: the handler is not
    /// cancelled yet (that comes when the grace period is over, see
    /// [`cancelled`](Self::cancelled)), but it should finish what it has in
    /// hand and take on nothing new. Also complete once the handler is
    /// cancelled, whatever the reason.
    ///
    /// ```no_run
    /// # async fn handle(ctx: anthropic_environments_worker::WorkContext) {
    /// loop {
    ///     tokio::select! {
    ///         _ = ctx.shutdown_requested() => break, // finish up, then return
    ///         _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => { /* a step of work */ }
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn shutdown_requested(&self) {
        tokio::select! {
            _ = self.shutdown.cancelled() => {}
            _ = self.cancel.cancelled() => {}
        }
    }

    /// Whether the worker is shutting down or the handler is cancelled
    /// (see [`shutdown_requested`](Self::shutdown_requested)).
    pub fn is_shutdown_requested(&self) -> bool {
        self.shutdown.is_cancelled() || self.cancel.is_cancelled()
    }

    /// Why the handler should stop, once it should.
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A token that is cancelled with the handler, to hand to other tasks.
    pub fn cancellation_token(&self) -> tokio_util::sync::CancellationToken {
        self.cancel.child_token()
    }

    /// Sets and deletes metadata keys of the work item, with the worker's
    /// own client. The API accepts only an API key for this: a worker that
    /// polls with an environment key gets a permission error.
    pub async fn update_metadata(&self, patch: MetadataPatch) -> Result<Work> {
        self.worker_queue
            .update(&self.work.id)
            .metadata_patch(patch)
            .send()
            .await
    }

    /// The `last_heartbeat` of the item's lease, as the last heartbeat
    /// that extended it said; `None` before the lease is claimed or when
    /// the worker keeps none. In
    /// [`ServeMode::HandOffLease`](crate::ServeMode::HandOffLease), what the
    /// receiver continues from
    /// ([`ServeOneBuilder::last_heartbeat`](crate::ServeOneBuilder::last_heartbeat),
    /// `ANTHROPIC_WORK_LAST_HEARTBEAT`).
    pub fn last_heartbeat(&self) -> Option<String> {
        let lease = self.lease.lock().unwrap_or_else(|p| p.into_inner());
        lease.as_ref().map(|(last, _)| last.clone())
    }

    /// The lease's TTL as the server last reported it; `None` before the
    /// lease is claimed or when the worker keeps none. Work bound to the
    /// lease (e.g. retrying a result's post) should end within it.
    pub fn lease_ttl(&self) -> Option<Duration> {
        let lease = self.lease.lock().unwrap_or_else(|p| p.into_inner());
        lease.as_ref().map(|(_, ttl)| *ttl)
    }

    /// Records a heartbeat that extended the lease.
    pub(crate) fn lease_extended(&self, last_heartbeat: &str, ttl: Duration) {
        *self.lease.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((last_heartbeat.to_owned(), ttl));
    }

    /// Records the server's answer that ends the lease (the first wins).
    pub(crate) fn ended_by(&self, error: &anthropic_environments::Error) {
        let mut slot = self.ended_by.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert_with(|| EndingAnswer {
            text: error.to_string(),
            status: error.status().map(|s| s.as_u16()),
        });
    }

    /// The server's answer that ended the lease, as recorded.
    pub(crate) fn ending_answer(&self) -> Option<EndingAnswer> {
        self.ended_by
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Asks the handler to stop for `reason` (the first reason wins).
    pub(crate) fn end(&self, reason: CancelReason) {
        let mut slot = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(reason);
        }
        drop(slot);
        self.cancel.cancel();
    }
}

/// The server's answer that ended a lease: its error's text and HTTP
/// status.
#[derive(Clone, Debug)]
pub(crate) struct EndingAnswer {
    pub(crate) text: String,
    pub(crate) status: Option<u16>,
}
