//! Sessions, as a self-hosted worker serves one: retrieve it, list its
//! events, send events (tool results), and follow its event stream.
//!
//! Every call goes out with the credential of the client it is made on: a
//! worker's item client (`WorkContext::client()`: the item's sessions
//! token) serves them as is.

use anthropic_environments_raw::operations;
use anthropic_environments_raw::prelude::ClientSessionsExt;
use futures::stream::BoxStream;

use crate::client::Client;
use crate::error::Result;
use crate::event_stream::EventStream;
use crate::pagination::{self, Page, PagedRequest};
use crate::request::{Call, RequestOptions, Response, request_options, sends};
use crate::types::{
    BetaManagedAgentsEventOrder, BetaManagedAgentsSendSessionEvents, EventSendParams,
};
use crate::validate;
use crate::{Session, SessionEvent, SessionEventParams};

/// How long an event stream may stay silent (no event, no keep-alive)
/// before it ends with a timeout, as the official SDK's read timeout.
pub const STREAM_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Sessions: `client.sessions()`.
#[derive(Clone, Debug)]
pub struct Sessions {
    client: Client,
}

/// A session's events: `client.sessions().events(session_id)`.
#[derive(Clone, Debug)]
pub struct SessionEvents {
    client: Client,
    session_id: String,
}

/// Fields every session request builder has.
macro_rules! session_request {
    ($(#[$doc:meta])* $name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        #[must_use = "a request does nothing until sent"]
        pub struct $name {
            client: Client,
            session_id: String,
            $($field: $ty,)*
            options: RequestOptions,
        }
        request_options!($name);
    };
}

impl Sessions {
    pub(crate) fn new(client: Client) -> Self {
        Sessions { client }
    }

    /// Retrieves a session: its status, its agent (with the skills to
    /// install) and its resources.
    pub fn retrieve(&self, session_id: impl Into<String>) -> RetrieveSession {
        RetrieveSession {
            client: self.client.clone(),
            session_id: session_id.into(),
            options: RequestOptions::default(),
        }
    }

    /// The events of a session: list, send, stream.
    pub fn events(&self, session_id: impl Into<String>) -> SessionEvents {
        SessionEvents {
            client: self.client.clone(),
            session_id: session_id.into(),
        }
    }
}

impl SessionEvents {
    /// Lists the session's events, oldest first unless
    /// [`order`](ListSessionEvents::order) says otherwise, a page at a time
    /// or as a stream.
    ///
    /// ```no_run
    /// # async fn run(client: anthropic_environments::Client) -> anthropic_environments::Result<()> {
    /// use futures::TryStreamExt;
    /// let history: Vec<_> = client
    ///     .sessions()
    ///     .events("sesn_011CZkZ9X2dpNyB7HsEFoRfW")
    ///     .list()
    ///     .limit(1000)
    ///     .into_stream()
    ///     .try_collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn list(&self) -> ListSessionEvents {
        ListSessionEvents {
            client: self.client.clone(),
            session_id: self.session_id.clone(),
            limit: None,
            order: None,
            page: None,
            options: RequestOptions::default(),
        }
    }

    /// Sends events to the session (a worker sends one `user.tool_result`
    /// or `user.custom_tool_result` per request). Retried like any call by
    /// default; a session runner, whose own loop is the retry, sends with
    /// `.max_retries(0)` and a short `.timeout(..)`.
    ///
    /// ```no_run
    /// # async fn run(client: anthropic_environments::Client) -> anthropic_environments::Result<()> {
    /// use anthropic_environments::SessionEventParams;
    /// let result: SessionEventParams = serde_json::from_value(serde_json::json!({
    ///     "type": "user.tool_result",
    ///     "tool_use_id": "sevt_011CZkZcRqC4f1Wd1cYbXjVt",
    ///     "is_error": false,
    ///     "content": [{"type": "text", "text": "hello"}],
    /// }))
    /// .expect("a user.tool_result");
    /// client.sessions().events("sesn_011CZkZ9X2dpNyB7HsEFoRfW").send(vec![result]).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn send(&self, events: Vec<SessionEventParams>) -> SendSessionEvents {
        SendSessionEvents {
            client: self.client.clone(),
            session_id: self.session_id.clone(),
            events,
            options: RequestOptions::default(),
        }
    }

    /// Opens the session's event stream (server-sent events). Only the
    /// opening is retried, within the request's (or the client's) timeout;
    /// what happens after it (a broken connection, an `error` event) ends
    /// the [`EventStream`] with an error, and reconnecting is the caller's
    /// job. Whether the server first replays earlier events is not
    /// documented: list the history once the stream is open and
    /// de-duplicate by event id, as the official runners do.
    pub fn stream(&self) -> StreamSessionEvents {
        StreamSessionEvents {
            client: self.client.clone(),
            session_id: self.session_id.clone(),
            idle_timeout: Some(STREAM_IDLE_TIMEOUT),
            options: RequestOptions::default(),
        }
    }
}

session_request!(
    /// A request for a session; see [`Sessions::retrieve`].
    RetrieveSession {}
);
sends!(RetrieveSession, Session);

impl RetrieveSession {
    /// Sends the request; the body with the response's status and request id.
    pub async fn send_with_meta(self) -> Result<Response<Session>> {
        validate::path_id("session_id", &self.session_id)?;
        let call = Call::new(&self.client, operations::RETRIEVE_SESSION.id, &self.options)?;
        call.run(|raw| raw.retrieve_session().session_id(&self.session_id).send())
            .await
    }
}

/// The order of a listing.
pub type EventOrder = BetaManagedAgentsEventOrder;

session_request!(
    /// A request to list a session's events; see [`SessionEvents::list`].
    ListSessionEvents { limit: Option<u64>, order: Option<EventOrder>, page: Option<String> }
);

impl ListSessionEvents {
    /// At most this many events per page (the official runners ask for
    /// 1000).
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Oldest first (`Asc`, the server's default) or newest first.
    pub fn order(mut self, order: EventOrder) -> Self {
        self.order = Some(order);
        self
    }

    /// Start at this cursor (a previous page's `next_page`).
    pub fn page(mut self, cursor: impl Into<String>) -> Self {
        self.page = Some(cursor.into());
        self
    }

    /// Fetches one page (at the cursor set with [`page`](Self::page)).
    pub async fn send(self) -> Result<Page<SessionEvent>> {
        self.fetch(self.start()).await
    }

    /// Fetches one page, with the response's status and headers.
    pub async fn send_with_meta(self) -> Result<Response<Page<SessionEvent>>> {
        self.fetch_with_meta(self.start()).await
    }

    /// Every page, fetched as the stream reaches it.
    pub fn into_pages(self) -> BoxStream<'static, Result<Page<SessionEvent>>> {
        pagination::pages_of(self)
    }

    /// Every event of every page, one page in memory at a time.
    pub fn into_stream(self) -> BoxStream<'static, Result<SessionEvent>> {
        pagination::items_of(self)
    }

    /// Fetches the page at `cursor`, with the response's status and headers.
    async fn fetch_with_meta(
        &self,
        cursor: Option<String>,
    ) -> Result<Response<Page<SessionEvent>>> {
        validate::path_id("session_id", &self.session_id)?;
        let limit = self
            .limit
            .map(|l| validate::positive("limit", l))
            .transpose()?;
        let call = Call::new(
            &self.client,
            operations::LIST_SESSION_EVENTS.id,
            &self.options,
        )?;
        let response = call
            .run(|raw| {
                let mut request = raw.list_session_events().session_id(&self.session_id);
                if let Some(limit) = limit {
                    request = request.limit(limit);
                }
                if let Some(order) = &self.order {
                    request = request.order(order.clone());
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

impl PagedRequest for ListSessionEvents {
    type Item = SessionEvent;
    const OPERATION: &'static str = operations::LIST_SESSION_EVENTS.id;

    fn start(&self) -> Option<String> {
        self.page.clone()
    }

    async fn fetch(&self, cursor: Option<String>) -> Result<Page<SessionEvent>> {
        Ok(self.fetch_with_meta(cursor).await?.into_inner())
    }
}

session_request!(
    /// A request to send events to a session; see [`SessionEvents::send`].
    SendSessionEvents { events: Vec<SessionEventParams> }
);
sends!(SendSessionEvents, BetaManagedAgentsSendSessionEvents);

impl SendSessionEvents {
    /// Sends the request; the body with the response's status and request id.
    pub async fn send_with_meta(self) -> Result<Response<BetaManagedAgentsSendSessionEvents>> {
        validate::path_id("session_id", &self.session_id)?;
        let call = Call::new(
            &self.client,
            operations::SEND_SESSION_EVENTS.id,
            &self.options,
        )?;
        call.run(|raw| {
            raw.send_session_events()
                .session_id(&self.session_id)
                .body(EventSendParams::builder().events(self.events.clone()))
                .send()
        })
        .await
    }
}

session_request!(
    /// A request to open a session's event stream; see
    /// [`SessionEvents::stream`].
    StreamSessionEvents { idle_timeout: Option<std::time::Duration> }
);

impl StreamSessionEvents {
    /// End the stream with a timeout after this long without a byte (an
    /// event or a keep-alive); `None`: never. Default
    /// [`STREAM_IDLE_TIMEOUT`] (600 s).
    pub fn idle_timeout(mut self, idle: Option<std::time::Duration>) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// Opens the stream (retried like any call until it is open).
    pub async fn send(mut self) -> Result<EventStream> {
        validate::path_id("session_id", &self.session_id)?;
        self.options
            .headers
            .push(("accept".into(), "text/event-stream".into()));
        // The stream lasts as long as the session talks: its request has no
        // total timeout to speak of (the idle timeout bounds silence
        // instead); the request's (or the client's) timeout bounds the
        // opening, until the answer's head.
        let open_timeout = self.options.timeout.unwrap_or(self.client.shared.timeout);
        self.options.timeout = Some(STREAM_TOTAL_TIMEOUT);
        let call = Call::new(
            &self.client,
            operations::STREAM_SESSION_EVENTS.id,
            &self.options,
        )?;
        let opening = call.run(|raw| {
            raw.stream_session_events()
                .session_id(&self.session_id)
                .send()
        });
        let response = tokio::time::timeout(open_timeout, opening)
            .await
            .map_err(|elapsed| crate::error::Error::Timeout {
                operation: operations::STREAM_SESSION_EVENTS.id,
                source: Some(Box::new(elapsed)),
            })??;
        let request_id = response.request_id().map(str::to_owned);
        Ok(EventStream::new(
            response.into_inner().into_inner(),
            request_id,
            self.idle_timeout,
            |source| crate::error::Error::Connection {
                operation: operations::STREAM_SESSION_EVENTS.id,
                source,
            },
        ))
    }
}

/// The total timeout of a stream's request: a week (the idle timeout is
/// what bounds a silent stream).
const STREAM_TOTAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
