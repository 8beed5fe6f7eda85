//! The work queue: items queued for sessions (or any work data), polls
//! with reclaim, acks, leases kept by heartbeats, stops with a grace, and
//! the deadlines the sweeper applies.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use anthropic_environments_raw::types::{
    BetaSelfHostedWork, BetaSelfHostedWorkHeartbeatResponse,
    BetaSelfHostedWorkHeartbeatResponseType, BetaSelfHostedWorkQueueStats,
    BetaSelfHostedWorkQueueStatsType, BetaSelfHostedWorkType, BetaSessionWorkData,
    BetaSessionWorkDataType, BetaWorkData, BetaWorkLeaseState, BetaWorkState,
};

use super::{Model, not_found, page_of};
use crate::envelope::{Outcome, Refusal};

pub use anthropic_environments_raw::wire::NO_HEARTBEAT;

#[derive(Debug)]
pub(super) struct WorkEntry {
    seq: u64,
    work: BetaSelfHostedWork,
    /// When a poll last handed it out (queued items only).
    delivered_at: Option<Instant>,
    /// Lease of an acknowledged item: expiry and the stored heartbeat.
    lease_expires: Option<Instant>,
    ttl_seconds: i64,
    /// Bumped on every change of a deadline, to skip stale heap entries.
    generation: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum DeadlineKind {
    LeaseExpiry,
    StopGrace,
}

impl Model {
    /// Queues a work item for a session (the control surface).
    pub fn queue_work(
        &mut self,
        environment_id: &str,
        session_id: &str,
        metadata: HashMap<String, String>,
    ) -> Outcome<BetaSelfHostedWork> {
        if session_id.is_empty() {
            return Err(Refusal::Invalid("session_id: must not be empty".into()));
        }
        let data = BetaWorkData::Session(crate::built(
            BetaSessionWorkData::builder()
                .id(session_id.to_owned())
                .type_(BetaSessionWorkDataType::Session),
        ));
        self.queue_work_data(environment_id, data, metadata)
    }

    /// Queues a work item with any `data`: a session, a health check, or a
    /// type the spec does not know yet (the control surface).
    pub fn queue_work_data(
        &mut self,
        environment_id: &str,
        data: BetaWorkData,
        metadata: HashMap<String, String>,
    ) -> Outcome<BetaSelfHostedWork> {
        self.environment(environment_id)?;
        if let BetaWorkData::Unknown(value) = &data
            && !value.is_object()
        {
            return Err(Refusal::Invalid("data: must be a JSON object".into()));
        }
        let now = self.clock.now();
        let (seq, id) = self.next_id("work");
        let none = || None::<String>;
        let work: BetaSelfHostedWork = crate::built(
            BetaSelfHostedWork::builder()
                .id(id.clone())
                .acknowledged_at(none())
                .created_at(now)
                .data(data)
                .environment_id(environment_id.to_owned())
                .latest_heartbeat_at(none())
                .metadata(metadata)
                .secret(none())
                .started_at(none())
                .state(BetaWorkState::Queued)
                .stop_requested_at(none())
                .stopped_at(none())
                .type_(BetaSelfHostedWorkType::Work),
        );
        self.work.insert(
            seq,
            WorkEntry {
                seq,
                work: work.clone(),
                delivered_at: None,
                lease_expires: None,
                ttl_seconds: self.timing.default_ttl.as_secs() as i64,
                generation: 0,
            },
        );
        self.work_seq.insert(id, seq);
        self.queues
            .entry(environment_id.to_owned())
            .or_default()
            .insert(seq);
        Ok(work)
    }

    fn entry_mut(&mut self, environment_id: &str, work_id: &str) -> Outcome<&mut WorkEntry> {
        self.environment(environment_id)?;
        let seq = *self
            .work_seq
            .get(work_id)
            .ok_or_else(|| not_found("work", work_id))?;
        let entry = self.work.get_mut(&seq).expect("index and map agree");
        if entry.work.environment_id != environment_id {
            return Err(not_found("work", work_id));
        }
        Ok(entry)
    }

    /// The session a work item serves, if it is a session item.
    pub(crate) fn session_of_work(&self, environment_id: &str, work_id: &str) -> Option<String> {
        let seq = self.work_seq.get(work_id)?;
        let entry = self.work.get(seq)?;
        if entry.work.environment_id != environment_id {
            return None;
        }
        match &entry.work.data {
            BetaWorkData::Session(session) => Some(session.id.clone()),
            _ => None,
        }
    }

    /// Retrieves a work item.
    pub fn work(&mut self, environment_id: &str, work_id: &str) -> Outcome<BetaSelfHostedWork> {
        Ok(self.entry_mut(environment_id, work_id)?.work.clone())
    }

    /// Lists an environment's work items in creation order.
    pub fn list_work(
        &self,
        environment_id: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Outcome<(Vec<BetaSelfHostedWork>, Option<String>)> {
        self.environment(environment_id)?;
        page_of(
            self.work
                .iter()
                .filter(|(_, w)| w.work.environment_id == environment_id)
                .map(|(s, w)| (*s, w.work.clone())),
            cursor,
            limit,
        )
    }

    /// Records a poll by `worker_id` (for `workers_polling`).
    pub fn note_worker(&mut self, environment_id: &str, worker_id: &str, now: Instant) {
        self.workers
            .entry(environment_id.to_owned())
            .or_default()
            .insert(worker_id.to_owned(), now);
    }

    /// Hands out the oldest queued item that no poll holds (or whose poll is
    /// older than `reclaim`), marking it held.
    pub fn try_poll(
        &mut self,
        environment_id: &str,
        reclaim: Option<Duration>,
        now: Instant,
    ) -> Outcome<Option<BetaSelfHostedWork>> {
        self.environment(environment_id)?;
        let reclaim = reclaim.unwrap_or(self.timing.default_reclaim);
        let Some(queue) = self.queues.get(environment_id) else {
            return Ok(None);
        };
        let found = queue.iter().copied().find(|seq| {
            self.work[seq]
                .delivered_at
                .is_none_or(|at| now.duration_since(at) >= reclaim)
        });
        let Some(seq) = found else {
            return Ok(None);
        };
        let entry = self.work.get_mut(&seq).expect("queued items exist");
        entry.delivered_at = Some(now);
        let mut work = entry.work.clone();
        // Every delivery carries a fresh sessions token for this item; no
        // other read shows it.
        work.secret = Some(self.credentials.new_secret(
            environment_id,
            &work.id,
            self.api_base_url.as_deref(),
        ));
        Ok(Some(work))
    }

    fn set_deadline(&mut self, seq: u64, at: Instant, kind: DeadlineKind) {
        let entry = self.work.get_mut(&seq).expect("item exists");
        entry.generation += 1;
        let generation = entry.generation;
        self.deadlines.push(Reverse((at, seq, generation, kind)));
    }

    /// Acknowledges a polled item: queued -> starting, out of the queue; its
    /// lease starts with the default TTL.
    pub fn ack(
        &mut self,
        environment_id: &str,
        work_id: &str,
        now: Instant,
    ) -> Outcome<BetaSelfHostedWork> {
        let stamp = self.clock.now();
        let ttl = self.timing.default_ttl;
        let entry = self.entry_mut(environment_id, work_id)?;
        if entry.work.state != BetaWorkState::Queued {
            return Err(Refusal::Conflict(format!(
                "work {work_id} is {}, not queued",
                entry.work.state
            )));
        }
        let seq = entry.seq;
        entry.work.state = BetaWorkState::Starting;
        entry.work.acknowledged_at = Some(stamp);
        entry.delivered_at = None;
        entry.lease_expires = Some(now + ttl);
        entry.ttl_seconds = ttl.as_secs() as i64;
        let work = entry.work.clone();
        if let Some(q) = self.queues.get_mut(environment_id) {
            q.remove(&seq);
        }
        self.set_deadline(seq, now + ttl, DeadlineKind::LeaseExpiry);
        Ok(work)
    }

    fn lease_state(entry: &WorkEntry) -> BetaWorkLeaseState {
        crate::built(
            BetaWorkLeaseState::builder()
                .last_heartbeat(entry.work.latest_heartbeat_at.clone())
                .lease_extended(false)
                .state(entry.work.state.clone())
                .ttl_seconds(entry.ttl_seconds),
        )
    }

    /// Records a heartbeat. With `expected` given and the item neither
    /// stopping nor stopped, it must equal the stored heartbeat
    /// (`NO_HEARTBEAT` for none), else 412. A starting item becomes active.
    pub fn heartbeat(
        &mut self,
        environment_id: &str,
        work_id: &str,
        desired_ttl: Option<i64>,
        expected: Option<&str>,
        now: Instant,
    ) -> Outcome<BetaSelfHostedWorkHeartbeatResponse> {
        let stamp = self.clock.now();
        let default_ttl = self.timing.default_ttl.as_secs().max(1);
        let max_ttl = self.timing.max_ttl.as_secs().max(1);
        let entry = self.entry_mut(environment_id, work_id)?;
        let winding_down = matches!(
            entry.work.state,
            BetaWorkState::Stopping | BetaWorkState::Stopped
        );
        if !winding_down && let Some(expected) = expected {
            let stored = entry
                .work
                .latest_heartbeat_at
                .as_deref()
                .unwrap_or(NO_HEARTBEAT);
            if expected != stored {
                return Err(Refusal::LeaseMismatch(Self::lease_state(entry)));
            }
        }
        let held = matches!(
            entry.work.state,
            BetaWorkState::Starting | BetaWorkState::Active
        );
        if !held {
            // Queued (never acknowledged, or re-queued), stopping, stopped:
            // nothing to extend.
            return Ok(crate::built(
                BetaSelfHostedWorkHeartbeatResponse::builder()
                    .last_heartbeat(entry.work.latest_heartbeat_at.clone().unwrap_or_default())
                    .lease_extended(false)
                    .state(entry.work.state.clone())
                    .ttl_seconds(entry.ttl_seconds)
                    .type_(BetaSelfHostedWorkHeartbeatResponseType::WorkHeartbeat),
            ));
        }
        // Any ask is taken: none (or one below 1) gets the default, a larger
        // one than the mock grants is clamped.
        let ttl = match desired_ttl {
            Some(asked) if asked >= 1 => (asked as u64).min(max_ttl),
            _ => default_ttl.min(max_ttl),
        };
        if entry.work.state == BetaWorkState::Starting {
            entry.work.state = BetaWorkState::Active;
            entry.work.started_at = Some(stamp.clone());
        }
        entry.work.latest_heartbeat_at = Some(stamp.clone());
        entry.ttl_seconds = ttl as i64;
        let expires = now + Duration::from_secs(ttl);
        entry.lease_expires = Some(expires);
        let seq = entry.seq;
        let response: BetaSelfHostedWorkHeartbeatResponse = crate::built(
            BetaSelfHostedWorkHeartbeatResponse::builder()
                .last_heartbeat(stamp)
                .lease_extended(true)
                .state(entry.work.state.clone())
                .ttl_seconds(ttl as i64)
                .type_(BetaSelfHostedWorkHeartbeatResponseType::WorkHeartbeat),
        );
        self.set_deadline(seq, expires, DeadlineKind::LeaseExpiry);
        Ok(response)
    }

    /// Stops an item: forced -> stopped; graceful -> stopping, then stopped
    /// after the grace period (or at a second graceful stop). Stopping a
    /// stopped item is a conflict.
    pub fn stop(
        &mut self,
        environment_id: &str,
        work_id: &str,
        force: bool,
        now: Instant,
    ) -> Outcome<BetaSelfHostedWork> {
        let stamp = self.clock.now();
        let grace = self.timing.stop_grace;
        let entry = self.entry_mut(environment_id, work_id)?;
        if entry.work.state == BetaWorkState::Stopped {
            return Err(Refusal::Conflict(format!(
                "work {work_id} is already stopped"
            )));
        }
        let seq = entry.seq;
        entry
            .work
            .stop_requested_at
            .get_or_insert_with(|| stamp.clone());
        entry.lease_expires = None;
        entry.delivered_at = None;
        let finish = force || entry.work.state == BetaWorkState::Stopping || grace.is_zero();
        if finish {
            entry.work.state = BetaWorkState::Stopped;
            entry.work.stopped_at = Some(stamp);
        } else {
            entry.work.state = BetaWorkState::Stopping;
        }
        let work = entry.work.clone();
        if let Some(q) = self.queues.get_mut(environment_id) {
            q.remove(&seq);
        }
        if !finish {
            self.set_deadline(seq, now + grace, DeadlineKind::StopGrace);
        } else {
            self.work.get_mut(&seq).expect("exists").generation += 1;
        }
        Ok(work)
    }

    /// Merges metadata: a string sets, null deletes.
    pub fn update_work(
        &mut self,
        environment_id: &str,
        work_id: &str,
        metadata: HashMap<String, Option<String>>,
    ) -> Outcome<BetaSelfHostedWork> {
        let entry = self.entry_mut(environment_id, work_id)?;
        for (key, value) in metadata {
            match value {
                Some(v) => {
                    entry.work.metadata.insert(key, v);
                }
                None => {
                    entry.work.metadata.remove(&key);
                }
            }
        }
        Ok(entry.work.clone())
    }

    /// Queue statistics.
    pub fn stats(
        &mut self,
        environment_id: &str,
        now: Instant,
    ) -> Outcome<BetaSelfHostedWorkQueueStats> {
        self.environment(environment_id)?;
        let window = self.timing.workers_window;
        let workers = self.workers.entry(environment_id.to_owned()).or_default();
        workers.retain(|_, at| now.duration_since(*at) < window);
        let workers_polling = workers.len() as i64;
        let reclaim = self.timing.default_reclaim;
        let (mut depth, mut pending, mut oldest) = (0i64, 0i64, None::<String>);
        for seq in self.queues.get(environment_id).into_iter().flatten() {
            let entry = &self.work[seq];
            match entry.delivered_at {
                Some(at) if now.duration_since(at) < reclaim => pending += 1,
                _ => depth += 1,
            }
            if oldest.is_none() {
                oldest = Some(entry.work.created_at.clone());
            }
        }
        Ok(crate::built(
            BetaSelfHostedWorkQueueStats::builder()
                .depth(depth)
                .oldest_queued_at(oldest)
                .pending(pending)
                .type_(BetaSelfHostedWorkQueueStatsType::WorkQueueStats)
                .workers_polling(Some(workers_polling)),
        ))
    }

    /// Applies every deadline due at `now`: expired leases re-queue their
    /// item, finished grace periods stop theirs. Returns whether an item was
    /// re-queued (pollers should look again).
    pub fn sweep(&mut self, now: Instant) -> bool {
        let mut requeued = false;
        while let Some(Reverse((at, seq, generation, kind))) = self.deadlines.peek().copied() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            let stamp = self.clock.now();
            let Some(entry) = self.work.get_mut(&seq) else {
                continue;
            };
            if entry.generation != generation {
                continue;
            }
            match kind {
                DeadlineKind::LeaseExpiry => {
                    let never_heartbeated = entry.work.state == BetaWorkState::Starting
                        && entry.work.latest_heartbeat_at.is_none();
                    if never_heartbeated && !self.timing.requeue_unheartbeated {
                        // Stuck, as on the real queue.
                        continue;
                    }
                    if matches!(
                        entry.work.state,
                        BetaWorkState::Starting | BetaWorkState::Active
                    ) {
                        entry.work.state = BetaWorkState::Queued;
                        entry.work.acknowledged_at = None;
                        entry.work.started_at = None;
                        entry.work.latest_heartbeat_at = None;
                        entry.lease_expires = None;
                        entry.delivered_at = None;
                        let env = entry.work.environment_id.clone();
                        self.queues.entry(env).or_default().insert(seq);
                        requeued = true;
                    }
                }
                DeadlineKind::StopGrace => {
                    if entry.work.state == BetaWorkState::Stopping {
                        entry.work.state = BetaWorkState::Stopped;
                        entry.work.stopped_at = Some(stamp);
                    }
                }
            }
        }
        requeued
    }

    /// Forgets a deleted environment's items, queue and workers.
    pub(super) fn remove_work_of(&mut self, environment_id: &str) {
        self.queues.remove(environment_id);
        self.workers.remove(environment_id);
        let gone: Vec<u64> = self
            .work
            .iter()
            .filter(|(_, w)| w.work.environment_id == environment_id)
            .map(|(s, _)| *s)
            .collect();
        for s in gone {
            if let Some(w) = self.work.remove(&s) {
                self.work_seq.remove(&w.work.id);
            }
        }
    }

    /// The earliest pending deadline, for the sweeper.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.peek().map(|Reverse((at, ..))| *at)
    }

    /// Every work item of an environment (for tests and the control surface).
    pub fn all_work(&self, environment_id: &str) -> Vec<BetaSelfHostedWork> {
        self.work
            .values()
            .filter(|w| w.work.environment_id == environment_id)
            .map(|w| w.work.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::model;

    #[test]
    fn lifecycle_with_heartbeats() {
        let (mut m, env) = model();
        let t0 = Instant::now();
        let w = m.queue_work(&env, "session_1", Default::default()).unwrap();
        let polled = m.try_poll(&env, None, t0).unwrap().unwrap();
        assert_eq!(polled.id, w.id);
        assert_eq!(
            m.try_poll(&env, None, t0).unwrap(),
            None,
            "held by the first poll"
        );
        let acked = m.ack(&env, &w.id, t0).unwrap();
        assert_eq!(acked.state, BetaWorkState::Starting);
        let hb = m
            .heartbeat(&env, &w.id, Some(10), Some(NO_HEARTBEAT), t0)
            .unwrap();
        assert!(hb.lease_extended);
        assert_eq!(hb.state, BetaWorkState::Active);
        let err = m
            .heartbeat(&env, &w.id, None, Some(NO_HEARTBEAT), t0)
            .unwrap_err();
        let Refusal::LeaseMismatch(lease) = err else {
            panic!()
        };
        assert_eq!(
            lease.last_heartbeat.as_deref(),
            Some(hb.last_heartbeat.as_str())
        );
        let hb2 = m
            .heartbeat(&env, &w.id, None, Some(&hb.last_heartbeat), t0)
            .unwrap();
        assert!(hb2.last_heartbeat > hb.last_heartbeat);
        let stopping = m.stop(&env, &w.id, false, t0).unwrap();
        assert_eq!(stopping.state, BetaWorkState::Stopping);
        m.sweep(t0 + Duration::from_secs(1));
        assert_eq!(m.work(&env, &w.id).unwrap().state, BetaWorkState::Stopped);
        assert_eq!(
            m.stop(&env, &w.id, true, t0).unwrap_err(),
            Refusal::Conflict(format!("work {} is already stopped", w.id))
        );
    }

    #[test]
    fn an_expired_lease_requeues_the_item() {
        let (mut m, env) = model();
        let t0 = Instant::now();
        let w = m.queue_work(&env, "s", Default::default()).unwrap();
        m.try_poll(&env, None, t0).unwrap().unwrap();
        m.ack(&env, &w.id, t0).unwrap();
        m.heartbeat(&env, &w.id, Some(2), Some(NO_HEARTBEAT), t0)
            .unwrap();
        assert!(!m.sweep(t0 + Duration::from_secs(1)));
        assert!(m.sweep(t0 + Duration::from_secs(3)));
        let again = m
            .try_poll(&env, None, t0 + Duration::from_secs(3))
            .unwrap()
            .unwrap();
        assert_eq!(again.id, w.id);
        assert_eq!(again.state, BetaWorkState::Queued);
        assert_eq!(again.latest_heartbeat_at, None);
    }

    #[test]
    fn unacknowledged_items_are_reclaimed() {
        let (mut m, env) = model();
        let t0 = Instant::now();
        m.queue_work(&env, "s", Default::default()).unwrap();
        assert!(
            m.try_poll(&env, Some(Duration::from_millis(100)), t0)
                .unwrap()
                .is_some()
        );
        assert!(
            m.try_poll(
                &env,
                Some(Duration::from_millis(100)),
                t0 + Duration::from_millis(50)
            )
            .unwrap()
            .is_none()
        );
        assert!(
            m.try_poll(
                &env,
                Some(Duration::from_millis(100)),
                t0 + Duration::from_millis(150)
            )
            .unwrap()
            .is_some()
        );
        let stats = m.stats(&env, t0 + Duration::from_millis(150)).unwrap();
        assert_eq!((stats.depth, stats.pending), (0, 1));
    }
}
