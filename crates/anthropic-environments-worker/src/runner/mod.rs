//! The session tool runner: serves a claimed session in-process, running
//! the agent's tool calls and posting their results (the official SDKs'
//! session tool runner). It lives in the worker crate because it is a
//! worker's handler: it needs the item's context (its client with the
//! sessions token, the lease's TTL, the cancellation), and nothing outside
//! a worker needs it.
//!
//! Work in progress: [`state`] holds the routing and de-duplication rules.

pub(crate) mod state;
