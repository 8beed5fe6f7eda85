//! The in-memory state of the mock and its rules, one module per resource
//! (environments, the work queue, sessions and skills) over one [`Model`].
//! Synchronous: the HTTP layer locks it for each step and never across an
//! `await`.

mod environments;
pub(crate) mod sessions;
mod work;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::time::Duration;

use tokio::time::Instant;

use anthropic_environments_raw::types::BetaEnvironment;

use crate::clock::Clock;
use crate::credentials::{CallerKind, Credentials};
use crate::envelope::{Outcome, Refusal};

use work::{DeadlineKind, WorkEntry};

/// Timing rules of the model.
#[derive(Debug, Clone)]
pub struct Timing {
    /// `reclaim_older_than_ms` when a poll does not send it.
    pub default_reclaim: Duration,
    /// TTL of a lease when a heartbeat does not ask for one, and of the
    /// lease an ack starts.
    pub default_ttl: Duration,
    /// How long a gracefully stopped item stays `stopping`.
    pub stop_grace: Duration,
    /// The window of `workers_polling`.
    pub workers_window: Duration,
    /// The longest lease a heartbeat's `desired_ttl_seconds` gets; larger
    /// asks are clamped (the answer's `ttl_seconds` says what applied).
    pub max_ttl: Duration,
    /// How often an idle session event stream sends a keep-alive comment.
    pub keep_alive: Duration,
    /// Whether an item acknowledged but never heartbeated goes back to the
    /// queue when the lease its ack started runs out (default true). The
    /// real queue leaves it `starting`, counted in neither `depth` nor
    /// `pending` and out of reclaim's reach (anthropic-sdk-python #1746):
    /// false reproduces that, for tests of stuck items.
    pub requeue_unheartbeated: bool,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            default_reclaim: Duration::from_millis(5000),
            default_ttl: Duration::from_secs(30),
            stop_grace: Duration::from_millis(200),
            workers_window: Duration::from_secs(30),
            max_ttl: Duration::from_secs(3600),
            keep_alive: Duration::from_secs(15),
            requeue_unheartbeated: true,
        }
    }
}

/// The whole state of one mock server.
#[derive(Debug, Default)]
pub struct Model {
    timing: Timing,
    clock: Clock,
    seq: u64,
    envs: BTreeMap<u64, BetaEnvironment>,
    env_seq: HashMap<String, u64>,
    work: BTreeMap<u64, WorkEntry>,
    work_seq: HashMap<String, u64>,
    /// Queued (not acknowledged) work per environment, oldest first.
    queues: HashMap<String, BTreeSet<u64>>,
    workers: HashMap<String, HashMap<String, Instant>>,
    deadlines: BinaryHeap<Reverse<(Instant, u64, u64, DeadlineKind)>>,
    credentials: Credentials,
    /// The `api_base_url` written into each poll's `secret`.
    api_base_url: Option<String>,
    /// Sessions and skills.
    sessions: sessions::SessionStore,
}

pub(super) fn not_found(kind: &str, id: &str) -> Refusal {
    Refusal::NotFound(format!("{kind} {id} not found"))
}

/// One page of a list: items, and the cursor of the next page.
pub(crate) fn page_of<T: Clone>(
    items: impl Iterator<Item = (u64, T)>,
    cursor: Option<&str>,
    limit: usize,
) -> Outcome<(Vec<T>, Option<String>)> {
    let start = match cursor {
        None => 0,
        Some(c) => c
            .strip_prefix("page_")
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .ok_or_else(|| {
                Refusal::Invalid(format!("page: {c:?} is not a cursor this server issued"))
            })?,
    };
    let mut out = Vec::with_capacity(limit.min(1024));
    let mut next = None;
    for (seq, item) in items.filter(|(seq, _)| *seq >= start) {
        if out.len() == limit {
            next = Some(format!("page_{seq:x}"));
            break;
        }
        out.push(item);
    }
    Ok((out, next))
}

impl Model {
    /// A model with these timing rules.
    pub fn new(timing: Timing) -> Self {
        Model {
            timing,
            ..Default::default()
        }
    }

    /// A model with these timing rules that writes `api_base_url` into
    /// each poll's `secret`.
    pub fn serving_at(timing: Timing, api_base_url: String) -> Self {
        Model {
            api_base_url: Some(api_base_url),
            ..Model::new(timing)
        }
    }

    /// Empties the model, keeping its timing rules and base URL.
    pub fn reset(&mut self) {
        *self = Model {
            api_base_url: self.api_base_url.take(),
            ..Model::new(self.timing.clone())
        };
    }

    /// The timing rules.
    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    /// Sessions and skills.
    pub(crate) fn sessions(&self) -> &sessions::SessionStore {
        &self.sessions
    }

    /// Sessions and skills, to change.
    pub(crate) fn sessions_mut(&mut self) -> &mut sessions::SessionStore {
        &mut self.sessions
    }

    /// Who a credential belongs to, `api_key` being the server's API key.
    pub(crate) fn caller(&self, key: Option<&str>, api_key: Option<&str>) -> CallerKind {
        self.credentials.classify(key, api_key)
    }

    /// An environment's key (strict credentials), if it has one.
    pub(crate) fn environment_key(&self, environment_id: &str) -> Option<&str> {
        self.credentials.environment_key(environment_id)
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub(super) fn next_id(&mut self, prefix: &str) -> (u64, String) {
        let seq = self.next_seq();
        // Opaque-looking but deterministic ids.
        (seq, format!("{prefix}_01mock{seq:016x}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anthropic_environments_raw::types::EnvironmentCreateParams;

    /// A model with one environment, and that environment's id.
    pub(super) fn model() -> (Model, String) {
        let mut m = Model::new(Timing::default());
        let env = m
            .create_environment(crate::built(EnvironmentCreateParams::builder().name("e")))
            .unwrap();
        (m, env.id)
    }

    #[test]
    fn cursors_page_in_creation_order() {
        let (mut m, _) = model();
        for i in 0..4 {
            m.create_environment(crate::built(
                EnvironmentCreateParams::builder().name(format!("e{i}")),
            ))
            .unwrap();
        }
        let (p1, c1) = m.list_environments(false, None, 2).unwrap();
        let (p2, c2) = m.list_environments(false, c1.as_deref(), 2).unwrap();
        let (p3, c3) = m.list_environments(false, c2.as_deref(), 2).unwrap();
        assert_eq!((p1.len(), p2.len(), p3.len(), c3), (2, 2, 1, None));
        assert_eq!(p2[0].name, "e1");
        assert!(matches!(
            m.list_environments(false, Some("nope"), 2),
            Err(Refusal::Invalid(_))
        ));
    }
}
