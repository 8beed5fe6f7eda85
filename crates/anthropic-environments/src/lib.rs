//! Rust client for Anthropic's beta **Environments and Work API**: create and
//! manage environments (Anthropic cloud or self-hosted sandboxes) and drive
//! the work queue that self-hosted workers poll, acknowledge, heartbeat and
//! stop.
//!
//! # Quick start
//!
//! ```no_run
//! use anthropic_environments::prelude::*;
//! use anthropic_environments::params::SelfHostedConfig;
//! use futures::TryStreamExt;
//!
//! # async fn run() -> anthropic_environments::Result<()> {
//! // ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN, or ANTHROPIC_ENVIRONMENT_KEY)
//! // and optionally ANTHROPIC_BASE_URL, from the environment.
//! let client = Client::from_env()?;
//!
//! let env = client
//!     .environments()
//!     .create("my-sandboxes")
//!     .config(SelfHostedConfig)
//!     .send()
//!     .await?;
//! assert!(env.is_self_hosted());
//!
//! // Every environment, across pages, one page in memory at a time.
//! let names: Vec<String> = client
//!     .environments()
//!     .list()
//!     .into_stream()
//!     .map_ok(|e| e.name)
//!     .try_collect()
//!     .await?;
//! println!("{names:?}");
//!
//! // One step of a self-hosted worker.
//! let queue = client.work(&env.id);
//! if let Some(work) = queue.poll().block_ms(999).send().await? {
//!     queue.ack(&work.id).send().await?;
//!     let beat = queue.heartbeat(&work.id).first().desired_ttl_seconds(60).send().await?;
//!     println!("lease for {} s", beat.ttl_seconds);
//!     queue.stop(&work.id).send().await?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # What the client does for you
//!
//! - Sends your credential as `Authorization: Bearer` (an API key, a bearer
//!   token, an environment key, or a work item's sessions token: see
//!   [`credentials`]), `anthropic-version`, a `user-agent`, and
//!   `anthropic-beta` with your betas first and `managed-agents-2026-04-01`
//!   last on every request. Bounds waits: a 5 s connect timeout, and a
//!   server's `retry-after` of 60 s or more is replaced by the client's own
//!   backoff.
//! - Retries connection errors, timeouts, 408, 409, 429 and 5xx like the
//!   official SDK (see [`retry`]), 2 retries by default.
//! - Checks inputs that can't be valid (empty ids, ids that would change the
//!   URL path, `block_ms` outside 1-999) before sending anything.
//! - Serves the session side a worker needs: [`Client::sessions`] (the
//!   session, its events listed, sent and streamed as an [`EventStream`])
//!   and [`Client::skills`] (a skill version and its archive as a byte
//!   stream).
//! - Maps every failure to one [`Error`], with the status, the API's error
//!   type and message, and the `request-id`.
//! - Tolerates what the server adds later: unknown enum values and union
//!   variants deserialise into `Unknown` variants, unknown fields are ignored.
//! - Is the ground of the worker: the `anthropic-environments-worker` crate
//!   runs fleets of self-hosted workers on this crate's public API (poll and
//!   ack with the environment key, each item's lease with its own sessions
//!   token, see [`credentials::WorkSecret`]).
//! - Emits `tracing` spans named as the official SDK's (see [`telemetry`]),
//!   exportable through OpenTelemetry with the `opentelemetry` feature; never
//!   a credential or a work item's secret (their `Debug` is redacted).
//!
//! The types of request and response bodies are those of the generated
//! `anthropic-environments-raw` crate, re-exported in [`types`]; the common
//! ones also under shorter names ([`Environment`], [`Work`], ...).

#![forbid(unsafe_code)]

pub mod credentials;
pub mod error;
pub mod event_stream;
pub mod ext;
pub mod metadata;
pub mod pagination;
pub mod params;
pub mod retry;
pub mod stuck;
pub mod telemetry;
pub mod webhooks;

mod client;
mod request;
mod resources;
mod transport;
mod validate;

pub use anthropic_environments_raw::operation::{Credential as AcceptedCredential, Operation};
/// Every operation of the API, generated from the spec: its id, method,
/// path template, tag, span name and the credentials it accepts
/// ([`Operation`]); `operations::ALL` in the spec's order,
/// `operations::find(id)`.
pub use anthropic_environments_raw::operations;
pub use client::{
    API_VERSION, Client, ClientBuilder, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT,
    MANAGED_AGENTS_BETA, USER_AGENT,
};
pub use error::{ApiError, Error, Result};
pub use event_stream::EventStream;
pub use metadata::MetadataPatch;
pub use pagination::Page;
pub use request::Response;
pub use resources::environments::{
    ArchiveEnvironment, CreateEnvironment, DeleteEnvironment, Environments, ListEnvironments,
    RetrieveEnvironment, UpdateEnvironment,
};
pub use resources::sessions::{
    EventOrder, ListSessionEvents, RetrieveSession, STREAM_IDLE_TIMEOUT, SendSessionEvents,
    SessionEvents, Sessions, StreamSessionEvents,
};
pub use resources::skills::{DownloadSkillVersion, RetrieveSkillVersion, SkillContent, Skills};
pub use resources::work::{
    AckWork, HeartbeatWork, ListWork, NO_HEARTBEAT, PollWork, RetrieveWork, RetrieveWorkStats,
    StopWork, UpdateWork, WorkQueue,
};

/// Every request and response type of the API (generated from the spec).
pub mod types {
    pub use anthropic_environments_raw::types::*;
}

/// An environment.
pub type Environment = types::BetaEnvironment;
/// A work item.
pub type Work = types::BetaSelfHostedWork;
/// What a work item asks for: a session, a health check, or a type this
/// version does not know.
pub type WorkData = types::BetaWorkData;
/// The state of a work item.
pub type WorkState = types::BetaWorkState;
/// The answer to a heartbeat.
pub type Heartbeat = types::BetaSelfHostedWorkHeartbeatResponse;
/// Statistics of a work queue.
pub type QueueStats = types::BetaSelfHostedWorkQueueStats;
/// A lease as the server holds it (in a refused heartbeat's error).
pub type LeaseState = types::BetaWorkLeaseState;
/// An environment's configuration, as returned.
pub type EnvironmentConfig = types::BetaEnvironmentConfig;
/// An environment's configuration, as sent.
pub type EnvironmentConfigParams = types::BetaEnvironmentConfigParams;
/// The visibility scope of an environment.
pub type Scope = types::BetaEnvironmentScope;
/// A session (what a `session` work item asks a worker to serve).
pub type Session = types::BetaManagedAgentsSession;
/// The status of a session.
pub type SessionStatus = types::BetaManagedAgentsSessionStatus;
/// One event of a session (tool calls, results, status changes, ...), or a
/// type this version does not know (kept as it came).
pub type SessionEvent = types::BetaManagedAgentsSessionEvent;
/// An event as sent to a session (a tool result, ...).
pub type SessionEventParams = types::BetaManagedAgentsEventParams;
/// A skill version.
pub type SkillVersion = types::BetaSkillVersion;

/// The client, the common types and the accessor traits. Not the crate's
/// `Error` and `Result`, which would shadow `std`'s in a glob import: name
/// them `anthropic_environments::Result`.
pub mod prelude {
    pub use crate::ext::{
        ConfigExt, EnvironmentExt, NetworkingExt, PackagesExt, WorkDataExt, WorkStateExt,
    };
    pub use crate::{Client, Environment, MetadataPatch, Page, Scope, Work, WorkData, WorkState};
}

/// A generated struct from its builder (generated structs are
/// `#[non_exhaustive]`). The facade sets every required field, so the
/// conversion cannot fail; a failure is a bug in the facade, not bad input.
pub(crate) fn built<T, B>(builder: B) -> T
where
    B: TryInto<T>,
    B::Error: std::fmt::Display,
{
    match builder.try_into() {
        Ok(value) => value,
        Err(e) => unreachable!("the facade left a required field unset: {e}"),
    }
}
