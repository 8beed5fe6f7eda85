//! A stateful, in-memory mock server of Anthropic's beta **Environments and
//! Work API**, for tests, demos and downstream users (in Rust, or any
//! language over HTTP).
//!
//! It serves the 14 environment and work endpoints with the semantics the
//! reference documents, and the session and skill calls a worker makes:
//! environments with defaults, updates that keep omitted fields, archive and
//! delete, opaque cursors; a work queue with long polls, reclaim of
//! unacknowledged items, leases kept by heartbeats (412 on a stale
//! expectation, re-queue on expiry), graceful and forced stops, and queue
//! statistics. Bodies are the generated types of the spec, so the spec stays
//! the single source of the shapes. Errors use the API's envelope and every
//! response carries a `request-id`.
//!
//! Work items are queued through a control surface that can't collide with
//! the API: [`MockServer::queue_work`] in Rust, or over HTTP
//!
//! - `POST /_mock/environments/{environment_id}/work` with
//!   `{"session_id": "...", "metadata": {...}}`: queue a session item (201);
//!   `{"data": {"type": "healthcheck", "id": "..."}}` queues any work data;
//! - `GET /_mock/environments/{environment_id}/work`: every item;
//! - `GET /_mock/environments/{environment_id}/key`: the environment key;
//! - `GET /_mock/requests`: the request journal (`?operation=ack_work` keeps
//!   one operation's); `DELETE` clears it;
//! - `POST /_mock/reset`: back to the empty state (see [`MockServer::reset`]);
//! - `PUT /_mock/faults` with a [`FaultConfig`]: inject faults; `GET` reads it;
//! - `GET /_mock/health`;
//! - sessions and skills ([`MockServer::create_session`] and the methods
//!   after it in Rust):
//!   - `POST /_mock/sessions` with `{"environment_id", "id"?, "status"?,
//!     "agent"?, "queue_work"?: true}` creates a session (the spec
//!     example's agent, merged with the given one) and, with `queue_work`,
//!     queues a `session` work item for it whose poll carries a fresh
//!     sessions token; answers the session (201);
//!   - `POST /_mock/sessions/{id}/events` with `{"events": [...],
//!     "end_turn_when_answered"?: true}` appends the agent's events (`id`,
//!     `processed_at` filled when absent) and pushes them to open streams;
//!     with `end_turn_when_answered`, the agent's part once more: a
//!     `session.status_idle` (`end_turn`) is appended once every
//!     `agent.tool_use` has its `user.tool_result` (the session's `status`
//!     is left as it is);
//!   - `POST /_mock/sessions/{id}/status` with `{"status": "..."}`;
//!   - `POST /_mock/skills` with `{"skill_id", "name", "description"?,
//!     "archive_base64"}` adds a skill version (201).
//! - webhooks ([`MockServer::add_webhook_endpoint`] and
//!   [`MockServer::deliver_webhook`] in Rust): `POST /_mock/webhooks` with
//!   `{"url": "http://...", "signing_key"?: "whsec_..."}` registers an
//!   endpoint (answers its signing key, minted when not given); from then
//!   on every session item queued is announced to it with a
//!   `session.status_run_started` event, signed as Standard Webhooks say;
//!   `POST /_mock/webhooks/deliver` with `{"type", "id", "webhook_id"?}`
//!   delivers any event now (the same `webhook_id` repeats a delivery) and
//!   answers each endpoint's status.
//!
//! Sessions behave as the API does for a worker: retrieve; list events
//! (cursor pages, `limit`, `order`); a send appends the posted `user.*`
//! events to the log; the event stream delivers the log from the start,
//! then live events, with `: keep-alive` comments while idle (the fault
//! `stream_event_limit` ends each stream after that many events). Skill
//! versions resolve `latest`; their content is the archive's bytes. The
//! skills calls need no beta, as the official SDKs send none.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use anthropic_environments_mock::MockServer;
//!
//! let server = MockServer::start().await;
//! let client = reqwest::Client::new();
//! let env: serde_json::Value = client
//!     .post(format!("{}/v1/environments", server.base_url()))
//!     .bearer_auth("any-key")
//!     .header("anthropic-beta", "managed-agents-2026-04-01")
//!     .json(&serde_json::json!({"name": "demo", "config": {"type": "self_hosted"}}))
//!     .send().await.unwrap()
//!     .json().await.unwrap();
//! let work = server.queue_work(env["id"].as_str().unwrap(), "session_1").unwrap();
//! assert_eq!(work.state.as_str(), "queued");
//! # }
//! ```
//!
//! # Testing your code against the mock
//!
//! The journal shows what your code sent, a targeted fault makes one call
//! fail, and the mock runs on tokio's clock, so a paused clock moves leases
//! instantly:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use anthropic_environments::Client;
//! use anthropic_environments::params::SelfHostedConfig;
//! use anthropic_environments_mock::{Fault, FaultConfig, FaultRule, MockServer};
//!
//! let server = MockServer::start().await;
//! let client = Client::builder().api_key("k").base_url(server.base_url()).build().unwrap();
//! let env = client.environments().create("t").config(SelfHostedConfig).send().await.unwrap();
//! let queue = client.work(&env.id);
//! let item = server.queue_work(&env.id, "session_1").unwrap();
//!
//! // The first ack is answered 503: the client retries it.
//! server.set_faults(FaultConfig::rules([
//!     FaultRule::on_operation("ack_work", Fault::Status(503)).nth(1).retry_after_ms("10"),
//! ]));
//! queue.poll().send().await.unwrap();
//! queue.ack(&item.id).send().await.unwrap();
//! let acks = server.requests_for("ack_work");
//! assert_eq!(acks.iter().map(|r| r.status).collect::<Vec<_>>(), [503, 200]);
//!
//! // The lease the ack started (30 s by default) runs out: the item is queued again.
//! tokio::time::advance(Duration::from_secs(31)).await;
//! assert_eq!(queue.poll().send().await.unwrap().map(|w| w.id), Some(item.id));
//! # }
//! ```
//!
//! [`MockMode::Stateless`] answers any valid request from the spec's
//! examples instead, for tests written against a stateless mock.

#![forbid(unsafe_code)]

mod clock;
mod credentials;
mod envelope;
mod faults;
mod journal;
mod middleware;
mod model;
mod request;
mod routes;
mod seed;
mod shared;
mod stateless;
mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use anthropic_environments_raw::types::{
    BetaHealthCheckWorkData, BetaHealthCheckWorkDataType, BetaSelfHostedWork, BetaWorkData,
};

pub use anthropic_environments_raw::wire::MANAGED_AGENTS_BETA;
pub use credentials::{CallerKind, CredentialMode};
pub use envelope::Refusal;
pub use faults::{Fault, FaultConfig, FaultRule};
pub use journal::RecordedRequest;
pub use model::Timing;
pub use seed::{Seed, SeedEnvironment, SeedWork};
pub use webhooks::Delivery as WebhookDelivery;

use model::Model;
use shared::Shared;

/// How the mock answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MockMode {
    /// The documented semantics, with state: environments, leases, long
    /// polls, reclaims, stops (the default).
    #[default]
    Stateful,
    /// Stateless conformance: every request is validated against the spec
    /// (path, method, parameters with their types and bounds, required
    /// headers, the JSON body) and answered with the operation's example
    /// response, the path's ids echoed into it, and the documented status;
    /// an invalid request gets the API's 400 envelope naming the field. As
    /// the stateless mocks the official SDKs' generated tests are written
    /// for. The control surface keeps the journal, faults, reset and health.
    /// Any non-empty credential is accepted (the credential mode applies to
    /// the stateful mode).
    Stateless,
}

/// Configures a [`MockServer`]. Its `Debug` does not show the API key.
#[derive(Clone)]
#[must_use]
pub struct MockServerBuilder {
    addr: SocketAddr,
    api_key: Option<String>,
    credential_mode: CredentialMode,
    timing: Timing,
    faults: FaultConfig,
    journal_capacity: usize,
    mode: MockMode,
    seed: Seed,
}

impl std::fmt::Debug for MockServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServerBuilder")
            .field("addr", &self.addr)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("credential_mode", &self.credential_mode)
            .field("timing", &self.timing)
            .field("faults", &self.faults)
            .field("journal_capacity", &self.journal_capacity)
            .field("mode", &self.mode)
            .field("seed", &self.seed)
            .finish()
    }
}

impl Default for MockServerBuilder {
    fn default() -> Self {
        MockServerBuilder {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_key: None,
            credential_mode: CredentialMode::Any,
            timing: Timing::default(),
            faults: FaultConfig::none(),
            journal_capacity: 10_000,
            mode: MockMode::Stateful,
            seed: Seed::default(),
        }
    }
}

impl MockServerBuilder {
    /// Where to listen (default `127.0.0.1:0`, an ephemeral port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Accept only this key (default: any non-empty key).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// How credentials are checked (default [`CredentialMode::Any`]); see
    /// [`CredentialMode`] for what [`CredentialMode::Strict`] accepts where.
    pub fn credential_mode(mut self, mode: CredentialMode) -> Self {
        self.credential_mode = mode;
        self
    }

    /// Shorthand for `credential_mode(CredentialMode::Strict)`: each endpoint
    /// accepts exactly the credentials the real API does.
    pub fn strict_credentials(self) -> Self {
        self.credential_mode(CredentialMode::Strict)
    }

    /// Environments and work to start with (stateful mode).
    pub fn seed(mut self, seed: Seed) -> Self {
        self.seed = seed;
        self
    }

    /// How the mock answers (default [`MockMode::Stateful`]).
    pub fn mode(mut self, mode: MockMode) -> Self {
        self.mode = mode;
        self
    }

    /// How many requests the journal keeps (default 10,000; the oldest go
    /// first; 0 turns it off).
    pub fn journal_capacity(mut self, capacity: usize) -> Self {
        self.journal_capacity = capacity;
        self
    }

    /// Timing rules: reclaim, default TTL, stop grace.
    pub fn timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// Faults to inject from the start.
    pub fn faults(mut self, faults: FaultConfig) -> Self {
        self.faults = faults;
        self
    }

    /// Binds and starts serving in the background.
    ///
    /// # Panics
    ///
    /// When the address can't be bound; use [`try_start`](Self::try_start)
    /// to handle that.
    pub async fn start(self) -> MockServer {
        self.try_start().await.expect("binding the mock server")
    }

    /// Binds and starts serving in the background. Fails when the address
    /// can't be bound, or when the seed is refused (e.g. an environment
    /// without a name), with an `InvalidInput` error saying why.
    pub async fn try_start(self) -> std::io::Result<MockServer> {
        let listener = tokio::net::TcpListener::bind(self.addr).await?;
        let addr = listener.local_addr()?;
        let mut model = Model::serving_at(self.timing, format!("http://{addr}"));
        for (i, environment) in self.seed.environments.into_iter().enumerate() {
            let refused = |e: Refusal| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("seed: environments[{i}]: {e}"),
                )
            };
            let created = model
                .create_environment(environment.params)
                .map_err(refused)?;
            for work in environment.work {
                match (work.session_id, work.data) {
                    (Some(session), None) => model.queue_work(&created.id, &session, work.metadata),
                    (None, Some(data)) => model.queue_work_data(&created.id, data, work.metadata),
                    _ => Err(Refusal::Invalid(
                        "work: give exactly one of session_id and data".into(),
                    )),
                }
                .map_err(refused)?;
            }
        }
        let shared = Arc::new(Shared::new(
            model,
            faults::Faults::new(self.faults),
            self.api_key,
            self.credential_mode,
            journal::Journal::new(self.journal_capacity),
        ));
        let app = routes::router(shared.clone(), self.mode);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, app, stopped));
        let sweeper = tokio::spawn(shared.clone().run_sweeper());
        Ok(MockServer {
            addr,
            shared,
            stop: Some(stop),
            tasks: vec![server, sweeper],
        })
    }
}

/// Serves HTTP/1.1 connections until `stopped`. A response marked
/// [`middleware::CloseConnection`] is not written: its connection is closed
/// before any status line, as a fault asked.
async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    use tower::ServiceExt;
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Small writes (an event on a stream, a short answer)
                    // go out at once, not after the peer's delayed ACK.
                    let _ = stream.set_nodelay(true);
                    stream
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        while connections.try_join_next().is_some() {}
        let app = app.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| {
                    let app = app.clone();
                    async move {
                        let response = app
                            .oneshot(request.map(axum::body::Body::new))
                            .await
                            .unwrap_or_else(|never| match never {});
                        if response
                            .extensions()
                            .get::<middleware::CloseConnection>()
                            .is_some()
                        {
                            return Err(std::io::Error::other("injected connection close"));
                        }
                        Ok(response)
                    }
                },
            );
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
    // Let the connections answer what they are answering, briefly.
    let drain = async { while connections.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drain).await;
}

/// A running mock server on loopback. Dropping it shuts it down.
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MockServer {
    /// A builder.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    /// Starts a server with the defaults on `127.0.0.1` and an ephemeral port.
    pub async fn start() -> MockServer {
        Self::builder().start().await
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a work item for `session_id` in an environment.
    pub fn queue_work(
        &self,
        environment_id: &str,
        session_id: &str,
    ) -> Result<BetaSelfHostedWork, Refusal> {
        let work =
            self.shared
                .model()
                .queue_work(environment_id, session_id, Default::default())?;
        self.shared.work_queued(Some(session_id));
        Ok(work)
    }

    /// Registers a webhook endpoint: from now on, each session whose work
    /// is queued is announced to `url` (`session.status_run_started`),
    /// signed with `signing_key` (`whsec_` and base64; a new one when
    /// `None`). The key.
    pub fn add_webhook_endpoint(
        &self,
        url: &str,
        signing_key: Option<&str>,
    ) -> Result<String, Refusal> {
        self.shared
            .webhooks
            .add(url, signing_key)
            .map_err(Refusal::Invalid)
    }

    /// Delivers an event of `event_type` about `id` to every webhook
    /// endpoint now (as delivery `webhook_id`, to repeat one), signed with
    /// each one's key; how each answered.
    pub async fn deliver_webhook(
        &self,
        event_type: &str,
        id: &str,
        webhook_id: Option<&str>,
    ) -> Vec<WebhookDelivery> {
        self.shared
            .webhooks
            .deliver(event_type, id, webhook_id.map(str::to_owned))
            .await
    }

    /// Queues a `healthcheck` item (the official workers acknowledge and
    /// force-stop it without running anything).
    pub fn queue_healthcheck(
        &self,
        environment_id: &str,
        healthcheck_id: &str,
    ) -> Result<BetaSelfHostedWork, Refusal> {
        self.queue_work_data(
            environment_id,
            BetaWorkData::Healthcheck(built(
                BetaHealthCheckWorkData::builder()
                    .id(healthcheck_id.to_owned())
                    .type_(BetaHealthCheckWorkDataType::Healthcheck),
            )),
        )
    }

    /// Queues an item with any `data`, including a type the spec does not
    /// know (`BetaWorkData::Unknown(json!({"type": "new_kind", ...}))`).
    pub fn queue_work_data(
        &self,
        environment_id: &str,
        data: BetaWorkData,
    ) -> Result<BetaSelfHostedWork, Refusal> {
        let work = self
            .shared
            .model()
            .queue_work_data(environment_id, data, Default::default())?;
        self.shared.work_queued(None);
        Ok(work)
    }

    /// Creates a self-hosted environment named `name`, as an administrator
    /// would through the API; its id (its key:
    /// [`environment_key`](Self::environment_key)).
    pub fn create_environment(&self, name: &str) -> Result<String, Refusal> {
        let config: anthropic_environments_raw::types::BetaEnvironmentConfigParams =
            serde_json::from_value(serde_json::json!({"type": "self_hosted"}))
                .map_err(|e| Refusal::Invalid(e.to_string()))?;
        let params = built(
            anthropic_environments_raw::types::EnvironmentCreateParams::builder()
                .name(name.to_owned())
                .config(Some(config)),
        );
        Ok(self.shared.model().create_environment(params)?.id)
    }

    /// Creates a session in an environment, with `status` (default
    /// `running`) and the spec example's agent, its `skills` replaced when
    /// given (`[{"type": "custom", "skill_id": "...", "version": "latest"}]`);
    /// with `queue_work`, also queues a `session` work item for it. The
    /// session object.
    pub fn create_session(
        &self,
        environment_id: &str,
        status: Option<&str>,
        skills: Option<serde_json::Value>,
        queue_work: bool,
    ) -> Result<serde_json::Value, Refusal> {
        let new = model::sessions::NewSession {
            environment_id: environment_id.to_owned(),
            status: status.map(str::to_owned),
            agent: skills.map(|skills| serde_json::json!({ "skills": skills })),
            queue_work,
            ..Default::default()
        };
        routes::sessions::create_session(&self.shared, new)
    }

    /// Appends the agent's events to a session's log (ids and
    /// `processed_at` filled where absent) and pushes them to its open
    /// streams; the events as recorded.
    pub fn append_session_events(
        &self,
        session_id: &str,
        events: Vec<serde_json::Value>,
    ) -> Result<Vec<serde_json::Value>, Refusal> {
        self.shared.model().sessions_mut().append(
            session_id,
            events,
            model::sessions::Sender::Control,
        )
    }

    /// A session's whole event log, oldest first.
    pub fn session_events(&self, session_id: &str) -> Result<Vec<serde_json::Value>, Refusal> {
        self.shared.model().sessions().events(session_id)
    }

    /// Sets a session's `status` (`running`, `idle`, `terminated`, ...).
    pub fn set_session_status(
        &self,
        session_id: &str,
        status: &str,
    ) -> Result<serde_json::Value, Refusal> {
        self.shared
            .model()
            .sessions_mut()
            .set_status(session_id, status)
    }

    /// Adds a version of a skill (created on first use) with its archive;
    /// the version object (`latest` resolves to the newest).
    pub fn add_skill_version(
        &self,
        skill_id: &str,
        name: &str,
        archive: impl Into<bytes::Bytes>,
    ) -> Result<serde_json::Value, Refusal> {
        self.shared
            .model()
            .sessions_mut()
            .add_skill_version(skill_id, name, "", archive.into())
    }

    /// The environment key of an environment (`sk-ant-oat01-...`), the
    /// credential a worker polls with. `None` for an unknown environment.
    pub fn environment_key(&self, environment_id: &str) -> Option<String> {
        self.shared
            .model()
            .environment_key(environment_id)
            .map(str::to_owned)
    }

    /// Every API request received so far, oldest first (at most the
    /// journal's capacity).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.journal.entries()
    }

    /// The requests of one operation (the spec's operationId).
    pub fn requests_for(&self, operation: &str) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.operation.as_deref() == Some(operation))
            .collect()
    }

    /// Empties the journal.
    pub fn clear_requests(&self) {
        self.shared.journal.clear();
    }

    /// Back to the state of a new server: no environments, work, keys or
    /// tokens, an empty journal and no faults. The address, timing and
    /// credential mode stay. Long polls in flight see an empty queue.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// The environments the server holds, oldest first (e.g. those of a
    /// seed).
    pub fn environment_ids(&self) -> Vec<String> {
        self.shared.model().environment_ids()
    }

    /// Every work item of an environment, as the server holds them now.
    pub fn work_items(&self, environment_id: &str) -> Vec<BetaSelfHostedWork> {
        self.shared.swept().all_work(environment_id)
    }

    /// Replaces the injected faults.
    pub fn set_faults(&self, faults: FaultConfig) {
        self.shared.faults.set(faults);
    }

    /// Stops serving and waits until the server has stopped.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A generated struct from its builder (generated structs are
/// `#[non_exhaustive]`). The mock sets every required field, so the
/// conversion cannot fail; a failure is a bug in the mock, not bad input.
pub(crate) fn built<T, B>(builder: B) -> T
where
    B: TryInto<T>,
    B::Error: std::fmt::Display,
{
    match builder.try_into() {
        Ok(value) => value,
        Err(e) => unreachable!("the mock left a required field unset: {e}"),
    }
}
