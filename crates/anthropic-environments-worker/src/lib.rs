//! A self-hosted environment worker for Anthropic's beta Environments and
//! Work API: poll, ack, heartbeat the lease while a handler runs, stop — for
//! any number of items at once — with the credentials the official workers
//! use. Built on the `anthropic-environments` client's public API only, as
//! kube-runtime stands beside kube-client.
//!
//! ```no_run
//! use anthropic_environments::Client;
//! use anthropic_environments_worker::{WorkContext, Worker};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // The environment key (ANTHROPIC_ENVIRONMENT_KEY) is a worker's credential.
//! let client = Client::builder().environment_key("sk-ant-oat01-...").build()?;
//! let report = Worker::builder(client.work("env_011CZkZ9X2dpNyB7HsEFoRfW"))
//!     .concurrency(4)
//!     .shutdown_on_signal()
//!     .on_item_end(|item| println!("{}: {} in {:?}", item.work_id, item.outcome.as_str(), item.duration))
//!     .build()? // refuses settings that cannot work
//!     .run(|ctx: WorkContext| async move {
//!         println!("serving session {:?}", ctx.session_id());
//!         // ctx.client() carries the item's sessions token.
//!         tokio::select! {
//!             _ = ctx.cancelled() => println!("cancelled: {:?}", ctx.cancel_reason()),
//!             _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
//!         }
//!         Ok::<(), std::io::Error>(())
//!     })
//!     .await?;
//! println!("{report:?}");
//! # Ok(()) }
//! ```
//!
//! # Logs
//!
//! The worker reports through [`tracing`](https://docs.rs/tracing): polls
//! that fail, heartbeats refused, items stopped, the final counts. Without
//! a subscriber it is silent (an unreachable API then shows only in the
//! [`WorkerReport`]'s `poll_errors`), so install one, e.g.
//! `tracing_subscriber::fmt().with_max_level(tracing::Level::INFO).init()`
//! (the `tracing-subscriber` crate), before running it; its span and field
//! names are [`anthropic_environments::telemetry`]'s.
//!
//! # Credentials
//!
//! As the official workers: the worker's client (normally built with the
//! **environment key**) polls and acknowledges. Each polled item carries a
//! `secret` whose **sessions token** is the bearer for that item's heartbeat
//! and stop (and, through [`WorkContext::client`], the handler's
//! session-level calls; the secret's `api_base_url`, when present, is their
//! base URL). An item whose secret is missing or does not decode is served
//! with the worker's own credential, with a warning. Neither the secret nor
//! any token is logged, and `Debug` redacts them.
//!
//! # What it does
//!
//! - Polls with `block_ms` (default 999; [`non_blocking`](WorkerBuilder::non_blocking)
//!   omits it) and its worker id; on an empty poll it sleeps 1-3 s (jittered);
//!   on a poll error it backs off exponentially (2^n s, capped at 60 s, plus up
//!   to 1 s of jitter), resetting on success. Poll and ack have separate
//!   counters. A 4xx that retrying can't fix (anything but 408, 409, 429)
//!   ends the worker with that error. The worker's loops are the retries:
//!   poll, ack and stop go out without client retries, each bounded by
//!   [`WorkerTiming::request_timeout`] (60 s; polls get their `block_ms` on
//!   top), so a server that stops answering cannot hold a loop for the
//!   client's 10-minute timeout.
//! - Acknowledges every item before anything else (the lease clock starts
//!   before the ack is sent). A 409 on ack (another worker won) goes
//!   straight back to polling; an ack that fails for good (another 4xx)
//!   force-stops the item. A polled item that does not decode is
//!   acknowledged and force-stopped, so it cannot wedge the loop.
//! - Items that are not sessions (`healthcheck`, types this version does
//!   not know) are force-stopped without calling the handler.
//! - Claims each session item's lease (a `NO_HEARTBEAT` heartbeat) before
//!   its handler runs; then heartbeats every `max(min(ttl / 2, 30 s), 1 s)`,
//!   each bounded by a timeout and the lease's deadline. The handler's
//!   [`WorkContext::cancelled`] fires when the server says
//!   `stopping`/`stopped` or `lease_extended: false`, when a heartbeat gets
//!   412 (another worker holds the lease), or when no heartbeat has
//!   succeeded in time. A handler that ignores its cancellation is dropped
//!   after a grace that always ends before the lease can run out, so it can
//!   never overlap the next holder.
//! - After the handler returns, errs or panics, force-stops the item (a 409
//!   "already stopped" is fine) — unless the lease was lost: an item another
//!   worker holds is never stopped.
//! - Serving modes ([`ServeMode`]): the lease kept while the handler runs
//!   (default), no heartbeats, a hand-off with no heartbeat and no stop, or
//!   a hand-off of a live lease that the receiver continues
//!   ([`ServeOneBuilder::last_heartbeat`]). [`drain`](WorkerBuilder::drain)
//!   returns when the queue is empty.
//! - One configuration ([`WorkerConfig`], its per-item part [`ItemConfig`]
//!   shared with [`ServeOne`]), checked by
//!   [`build`](WorkerBuilder::build) ([`ConfigError`]).
//! - Shutdown ([`shutdown_on_signal`](WorkerBuilder::shutdown_on_signal),
//!   [`shutdown_signal`](WorkerBuilder::shutdown_signal),
//!   [`shutdown_on`](WorkerBuilder::shutdown_on) your own token, or
//!   [`WorkerBuilder::shutdown_token`], in any combination): stops polling,
//!   lets in-flight handlers finish within the grace period, then cancels
//!   them and stops their items within a bounded stop phase
//!   ([`WorkerTiming::stop_timeout`]): the worker is gone within
//!   `shutdown_grace + cancel_grace + stop_timeout`. Items it could not stop
//!   in time are logged by id and counted; their leases run out and the
//!   queue serves them again, so nothing is lost. A second SIGINT/SIGTERM
//!   ends the shutdown at once.
//! - Each item's end is observable while the worker runs
//!   ([`WorkerBuilder::on_item_end`]: [`ItemReport`] with its
//!   [`ItemOutcome`], [`StopResult`] and duration), and the counts are live
//!   ([`WorkerStats`]).
//!
//! [`ServeOne`] serves a single item that something else claimed (the
//! `handle_item` / `ant beta:worker run` pattern).

#![forbid(unsafe_code)]

mod config;
mod context;
mod item;
mod lease;
mod outcome;
mod report;
mod runner;
mod serve_one;
mod signals;
mod span;
mod timing;
mod tools;
mod wakeup;
mod worker;

pub use config::{ConfigError, ItemConfig, ServeMode, WorkerConfig};
pub use context::{CancelReason, WorkContext};
pub use lease::MAX_TTL;
pub use outcome::{ItemOutcome, ItemReport, StopResult};
pub use report::{WorkerReport, WorkerStats};
pub use runner::{RunnerEnd, RunnerError, SessionRunner, ToolCallOutcome, ToolCallReport};
pub use serve_one::{ServeOne, ServeOneBuilder};
pub use timing::WorkerTiming;
pub use wakeup::Wakeup;
pub use worker::{Worker, WorkerBuilder};
