//! The work queue of a self-hosted environment: retrieve, poll, ack,
//! heartbeat, stop, list, update, stats.

use anthropic_environments_raw::operations;
use anthropic_environments_raw::prelude::ClientWorkExt;
use futures::stream::BoxStream;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::metadata::MetadataPatch;
use crate::pagination::{self, Page, PagedRequest};
use crate::request::Response;
use crate::request::{Call, RequestOptions, request_options, sends};
use crate::types::{BetaSelfHostedWorkStopRequest, BetaSelfHostedWorkUpdateRequest};
use crate::validate;
use crate::{Heartbeat, QueueStats, Work};

pub use anthropic_environments_raw::wire::NO_HEARTBEAT;

/// The work queue of one environment: `client.work(environment_id)`.
#[derive(Clone, Debug)]
pub struct WorkQueue {
    client: Client,
    environment_id: String,
}

/// Fields every work request builder has.
macro_rules! work_request {
    ($(#[$doc:meta])* $name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        #[must_use = "a request does nothing until sent"]
        pub struct $name {
            client: Client,
            environment_id: String,
            $($field: $ty,)*
            options: RequestOptions,
        }
        request_options!($name);
    };
}

impl WorkQueue {
    pub(crate) fn new(client: Client, environment_id: String) -> Self {
        Self {
            client,
            environment_id,
        }
    }

    /// The environment this queue belongs to.
    pub fn environment_id(&self) -> &str {
        &self.environment_id
    }

    /// The client of this queue.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Retrieves one work item.
    pub fn retrieve(&self, work_id: impl Into<String>) -> RetrieveWork {
        RetrieveWork {
            client: self.client.clone(),
            environment_id: self.environment_id.clone(),
            work_id: work_id.into(),
            options: RequestOptions::default(),
        }
    }

    /// Long-polls for the next work item; `None` when the queue stays empty.
    ///
    /// ```no_run
    /// # async fn run(client: anthropic_environments::Client) -> anthropic_environments::Result<()> {
    /// let queue = client.work("env_011CZkZ9X2dpNyB7HsEFoRfW");
    /// if let Some(work) = queue.poll().block_ms(999).worker_id("worker-1").send().await? {
    ///     queue.ack(&work.id).send().await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn poll(&self) -> PollWork {
        PollWork {
            client: self.client.clone(),
            environment_id: self.environment_id.clone(),
            block_ms: None,
            reclaim_older_than_ms: None,
            worker_id: None,
            options: RequestOptions::default(),
        }
    }

    /// Acknowledges a polled item: queued -> starting, out of the queue.
    pub fn ack(&self, work_id: impl Into<String>) -> AckWork {
        AckWork {
            client: self.client.clone(),
            environment_id: self.environment_id.clone(),
            work_id: work_id.into(),
            options: RequestOptions::default(),
        }
    }

    /// Records a heartbeat on an item's lease. The first heartbeat expects
    /// [`NO_HEARTBEAT`]; later ones echo the previous `last_heartbeat`.
    pub fn heartbeat(&self, work_id: impl Into<String>) -> HeartbeatWork {
        HeartbeatWork {
            client: self.client.clone(),
            environment_id: self.environment_id.clone(),
            work_id: work_id.into(),
            desired_ttl_seconds: None,
            expected_last_heartbeat: None,
            options: RequestOptions::default(),
        }
    }

    /// Stops an item, gracefully unless [`force`](StopWork::force)d.
    pub fn stop(&self, work_id: impl Into<String>) -> StopWork {
        StopWork {
            client: self.client.clone(),
            environment_id: self.environment_id.clone(),
            work_id: work_id.into(),
            force: None,
            options: RequestOptions::default(),
        }
    }

    /// Lists the environment's work items, a page at a time or as a stream.
    pub fn list(&self) -> ListWork {
        ListWork {
            client: self.client.clone(),
            environment_id: self.environment_id.clone(),
            limit: None,
            page: None,
            options: RequestOptions::default(),
        }
    }

    /// Updates an item's metadata: set keys with
    /// [`metadata`](UpdateWork::metadata), delete them with
    /// [`remove_metadata`](UpdateWork::remove_metadata), as an
    /// environment's update does.
    ///
    /// ```no_run
    /// # async fn f(queue: anthropic_environments::WorkQueue) -> anthropic_environments::Result<()> {
    /// queue.update("work_...").metadata("ticket", "OPS-12").remove_metadata("owner").send().await?;
    /// # Ok(()) }
    /// ```
    pub fn update(&self, work_id: impl Into<String>) -> UpdateWork {
        UpdateWork {
            client: self.client.clone(),
            environment_id: self.environment_id.clone(),
            work_id: work_id.into(),
            patch: MetadataPatch::new(),
            options: RequestOptions::default(),
        }
    }

    /// Statistics of the queue.
    pub fn stats(&self) -> RetrieveWorkStats {
        RetrieveWorkStats {
            client: self.client.clone(),
            environment_id: self.environment_id.clone(),
            options: RequestOptions::default(),
        }
    }
}

work_request!(
    /// A request to retrieve a work item; see [`WorkQueue::retrieve`].
    RetrieveWork { work_id: String }
);
sends!(RetrieveWork, Work);

impl RetrieveWork {
    /// Sends the request; the body with the response's status and request id.
    pub async fn send_with_meta(self) -> Result<Response<Work>> {
        validate::path_id("environment_id", &self.environment_id)?;
        validate::path_id("work_id", &self.work_id)?;
        let call = Call::new(&self.client, operations::RETRIEVE_WORK.id, &self.options)?;
        call.run(|raw| {
            raw.retrieve_work()
                .environment_id(&self.environment_id)
                .work_id(&self.work_id)
                .send()
        })
        .await
    }
}

work_request!(
    /// A long poll for work; see [`WorkQueue::poll`].
    PollWork {
        block_ms: Option<u64>,
        reclaim_older_than_ms: Option<u64>,
        worker_id: Option<String>,
    }
);
sends!(PollWork, Option<Work>);

impl PollWork {
    /// Wait up to this many milliseconds (1-999) for work to arrive; default:
    /// answer at once.
    pub fn block_ms(mut self, block_ms: u64) -> Self {
        self.block_ms = Some(block_ms);
        self
    }

    /// Reclaim items polled but not acknowledged for this long (server
    /// default 5000 ms).
    pub fn reclaim_older_than_ms(mut self, ms: u64) -> Self {
        self.reclaim_older_than_ms = Some(ms);
        self
    }

    /// This worker's id (`Anthropic-Worker-ID`), counted in
    /// `workers_polling`.
    pub fn worker_id(mut self, worker_id: impl Into<String>) -> Self {
        self.worker_id = Some(worker_id.into());
        self
    }

    /// Sends the request; the body with the response's status and request id.
    pub async fn send_with_meta(self) -> Result<Response<Option<Work>>> {
        validate::path_id("environment_id", &self.environment_id)?;
        let block_ms = self.block_ms.map(validate::block_ms).transpose()?;
        let reclaim = self
            .reclaim_older_than_ms
            .map(|ms| {
                i64::try_from(ms).map_err(|_| Error::invalid("reclaim_older_than_ms", "too large"))
            })
            .transpose()?;
        let call = Call::new(&self.client, operations::POLL_WORK.id, &self.options)?;
        call.run_optional(|raw| {
            let mut request = raw.poll_work().environment_id(&self.environment_id);
            if let Some(ms) = block_ms {
                request = request.block_ms(ms);
            }
            if let Some(ms) = reclaim {
                request = request.reclaim_older_than_ms(ms);
            }
            if let Some(id) = &self.worker_id {
                request = request.anthropic_worker_id(id);
            }
            request.send()
        })
        .await
    }
}

work_request!(
    /// A request to acknowledge a work item; see [`WorkQueue::ack`].
    AckWork { work_id: String }
);
sends!(AckWork, Work);

impl AckWork {
    /// Sends the request; the body with the response's status and request id.
    pub async fn send_with_meta(self) -> Result<Response<Work>> {
        validate::path_id("environment_id", &self.environment_id)?;
        validate::path_id("work_id", &self.work_id)?;
        let call = Call::new(&self.client, operations::ACK_WORK.id, &self.options)?;
        call.run(|raw| {
            raw.ack_work()
                .environment_id(&self.environment_id)
                .work_id(&self.work_id)
                .send()
        })
        .await
    }
}

work_request!(
    /// A heartbeat on a work item's lease; see [`WorkQueue::heartbeat`].
    HeartbeatWork {
        work_id: String,
        desired_ttl_seconds: Option<u64>,
        expected_last_heartbeat: Option<String>,
    }
);
sends!(HeartbeatWork, Heartbeat);

impl HeartbeatWork {
    /// The lease TTL to ask for, in seconds.
    pub fn desired_ttl_seconds(mut self, seconds: u64) -> Self {
        self.desired_ttl_seconds = Some(seconds);
        self
    }

    /// The `last_heartbeat` this worker saw last ([`NO_HEARTBEAT`] for the
    /// first). The server answers 412 when it differs: see
    /// [`Error::is_lease_held_elsewhere`].
    pub fn expected_last_heartbeat(mut self, last: impl Into<String>) -> Self {
        self.expected_last_heartbeat = Some(last.into());
        self
    }

    /// Claims an unclaimed lease: `expected_last_heartbeat = NO_HEARTBEAT`.
    pub fn first(self) -> Self {
        self.expected_last_heartbeat(NO_HEARTBEAT)
    }

    /// Sends the request; the body with the response's status and request id.
    pub async fn send_with_meta(self) -> Result<Response<Heartbeat>> {
        validate::path_id("environment_id", &self.environment_id)?;
        validate::path_id("work_id", &self.work_id)?;
        let ttl = self
            .desired_ttl_seconds
            .map(|s| validate::positive("desired_ttl_seconds", s))
            .transpose()?;
        let call = Call::new(&self.client, operations::HEARTBEAT_WORK.id, &self.options)?;
        call.run(|raw| {
            let mut request = raw
                .heartbeat_work()
                .environment_id(&self.environment_id)
                .work_id(&self.work_id);
            if let Some(ttl) = ttl {
                request = request.desired_ttl_seconds(ttl);
            }
            if let Some(last) = &self.expected_last_heartbeat {
                request = request.expected_last_heartbeat(last);
            }
            request.send()
        })
        .await
    }
}

work_request!(
    /// A request to stop a work item; see [`WorkQueue::stop`].
    StopWork { work_id: String, force: Option<bool> }
);
sends!(StopWork, Work);

impl StopWork {
    /// Stop at once, without a graceful shutdown.
    pub fn force(mut self, force: bool) -> Self {
        self.force = Some(force);
        self
    }

    /// Sends the request; the body with the response's status and request id.
    pub async fn send_with_meta(self) -> Result<Response<Work>> {
        validate::path_id("environment_id", &self.environment_id)?;
        validate::path_id("work_id", &self.work_id)?;
        let call = Call::new(&self.client, operations::STOP_WORK.id, &self.options)?;
        call.run(|raw| {
            raw.stop_work()
                .environment_id(&self.environment_id)
                .work_id(&self.work_id)
                .body(BetaSelfHostedWorkStopRequest::builder().force(self.force))
                .send()
        })
        .await
    }
}

work_request!(
    /// A request to list work items; see [`WorkQueue::list`].
    ListWork { limit: Option<u64>, page: Option<String> }
);

impl ListWork {
    /// At most this many items per page.
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Start at this cursor (a previous page's `next_page`).
    pub fn page(mut self, cursor: impl Into<String>) -> Self {
        self.page = Some(cursor.into());
        self
    }

    /// Fetches one page (at the cursor set with [`page`](Self::page)).
    pub async fn send(self) -> Result<Page<Work>> {
        self.fetch(self.start()).await
    }

    /// Fetches one page, with the response's status and headers.
    pub async fn send_with_meta(self) -> Result<Response<Page<Work>>> {
        self.fetch_with_meta(self.start()).await
    }

    /// Every page, fetched as the stream reaches it.
    pub fn into_pages(self) -> BoxStream<'static, Result<Page<Work>>> {
        pagination::pages_of(self)
    }

    /// Every work item of every page, one page in memory at a time.
    pub fn into_stream(self) -> BoxStream<'static, Result<Work>> {
        pagination::items_of(self)
    }
}

impl PagedRequest for ListWork {
    type Item = Work;
    const OPERATION: &'static str = operations::LIST_WORK.id;

    fn start(&self) -> Option<String> {
        self.page.clone()
    }

    async fn fetch(&self, cursor: Option<String>) -> Result<Page<Work>> {
        Ok(self.fetch_with_meta(cursor).await?.into_inner())
    }
}

impl ListWork {
    /// Fetches the page at `cursor`, with the response's status and headers.
    async fn fetch_with_meta(&self, cursor: Option<String>) -> Result<Response<Page<Work>>> {
        validate::path_id("environment_id", &self.environment_id)?;
        let limit = self
            .limit
            .map(|l| validate::positive("limit", l))
            .transpose()?;
        let call = Call::new(&self.client, operations::LIST_WORK.id, &self.options)?;
        let response = call
            .run(|raw| {
                let mut request = raw.list_work().environment_id(&self.environment_id);
                if let Some(limit) = limit {
                    request = request.limit(limit);
                }
                if let Some(cursor) = &cursor {
                    request = request.page(cursor);
                }
                request.send()
            })
            .await?;
        let request_id = response.request_id().map(str::to_owned);
        Ok(response.map(|body| Page {
            data: body.data,
            next_page: body.next_page,
            request_id,
        }))
    }
}

work_request!(
    /// A request to update a work item's metadata; see [`WorkQueue::update`].
    UpdateWork { work_id: String, patch: MetadataPatch }
);
sends!(UpdateWork, Work);

impl UpdateWork {
    /// Sets the metadata key `key` to `value` (other keys keep theirs).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.patch = self.patch.set(key, value);
        self
    }

    /// Deletes the metadata key `key`.
    pub fn remove_metadata(mut self, key: impl Into<String>) -> Self {
        self.patch = self.patch.delete(key);
        self
    }

    /// Applies every change of `patch` (on top of those already given).
    pub fn metadata_patch(mut self, patch: MetadataPatch) -> Self {
        self.patch = self.patch.merged(patch);
        self
    }

    /// Sends the request; the body with the response's status and request id.
    pub async fn send_with_meta(self) -> Result<Response<Work>> {
        validate::path_id("environment_id", &self.environment_id)?;
        validate::path_id("work_id", &self.work_id)?;
        let call = Call::new(&self.client, operations::UPDATE_WORK.id, &self.options)?;
        let metadata = self.patch.into_wire();
        call.run(|raw| {
            raw.update_work()
                .environment_id(&self.environment_id)
                .work_id(&self.work_id)
                .body(BetaSelfHostedWorkUpdateRequest::builder().metadata(metadata.clone()))
                .send()
        })
        .await
    }
}

work_request!(
    /// A request for queue statistics; see [`WorkQueue::stats`].
    RetrieveWorkStats {}
);
sends!(RetrieveWorkStats, QueueStats);

impl RetrieveWorkStats {
    /// Sends the request; the body with the response's status and request id.
    pub async fn send_with_meta(self) -> Result<Response<QueueStats>> {
        validate::path_id("environment_id", &self.environment_id)?;
        let call = Call::new(&self.client, operations::WORK_STATS.id, &self.options)?;
        call.run(|raw| raw.work_stats().environment_id(&self.environment_id).send())
            .await
    }
}
