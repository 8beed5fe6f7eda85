//! Generated low-level client of Anthropic's beta **Environments and Work
//! API** (managed agents with self-hosted sandboxes).
//!
//! Most users want the `anthropic-environments` facade crate, which wraps this
//! one with configuration, authentication, retries, pagination streams and
//! typed errors. This crate is what [progenitor] generates from
//! `openapi/environments.yaml`; it is regenerated with `cargo xtask generate`
//! and never edited by hand (only `lib.rs`, [`hooks`], [`operation`] and
//! the request-URL builder `urls.rs` are hand-written).
//!
//! # Surface
//!
//! - [`Client`]: one method per operation through the extension traits
//!   [`ClientEnvironmentsExt`] (create, list, retrieve, update, delete,
//!   archive) and [`ClientWorkExt`] (retrieve, poll, ack, heartbeat, stop,
//!   list, update, stats), all in [`prelude`]. Each returns a builder of
//!   [`builder`] whose `send()` performs the request.
//! - [`types`]: every request and response body. Enums and tagged unions are
//!   forward compatible: a value or variant the server adds later
//!   deserialises into an `Unknown` variant instead of failing.
//! - [`operations`]: every operation's id, method, path, tag, span name
//!   and accepted credentials, from the spec ([`operation::Operation`]);
//!   [`wire`]: the API version, the managed-agents beta, `NO_HEARTBEAT`.
//! - [`hooks`]: the hand-written `ClientHooks` and the [`hooks::Transport`]
//!   extension point.
//!
//! The client does not add authentication: pass a `reqwest::Client` whose
//! default headers carry `authorization`, `anthropic-version` and so on.
//!
//! ```no_run
//! use anthropic_environments_raw::{prelude::*, hooks::Inner};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut headers = reqwest::header::HeaderMap::new();
//! headers.insert("authorization", "Bearer sk-ant-...".parse()?);
//! headers.insert("anthropic-version", "2026-10-21".parse()?);
//! let http = reqwest::Client::builder().default_headers(headers).build()?;
//! let client = Client::new_with_client("https://api.anthropic.com", http, Inner::default());
//!
//! let work = client
//!     .poll_work()
//!     .environment_id("env_011CZkZ9X2dpNyB7HsEFoRfW")
//!     .block_ms(std::num::NonZeroU64::new(999).unwrap())
//!     .anthropic_beta("managed-agents-2026-04-01")
//!     .send()
//!     .await?
//!     .into_inner();
//! println!("{work:?}");
//! # Ok(())
//! # }
//! ```
//!
//! [progenitor]: https://github.com/oxidecomputer/progenitor

#![forbid(unsafe_code)]

// The generated file is formatted by prettyplease, not rustfmt; skipping it
// keeps `cargo fmt` from re-indenting its doc blocks and the drift check
// byte-exact.
#[rustfmt::skip]
#[allow(missing_docs, unreachable_patterns, clippy::all)]
mod generated;

pub mod hooks;
pub mod operation;
mod urls;

pub use generated::*;
