//! Sessions and skills as the mock models them: each session has a status,
//! an agent (with skills) and an ordered event log that a send appends to
//! and that streams follow live; skills have versions with archives.

use std::collections::HashMap;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::clock::Clock;
use crate::envelope::{Outcome, Refusal};

/// How many live events a slow stream may fall behind before it is ended
/// (the client reconnects and lists the history).
const LIVE_BUFFER: usize = 1024;

/// What creates a session (the control surface).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewSession {
    pub(crate) environment_id: String,
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) status: Option<String>,
    /// The agent (merged over the spec example's agent: give `skills`, say).
    #[serde(default)]
    pub(crate) agent: Option<Value>,
    /// Also queue a `session` work item for it.
    #[serde(default)]
    pub(crate) queue_work: bool,
}

struct Session {
    object: Value,
    events: Vec<Value>,
    live: broadcast::Sender<Value>,
    /// Play the agent's part once: end the turn (`session.status_idle`,
    /// `end_turn`) when every `agent.tool_use` has its result.
    end_turn_when_answered: bool,
}

struct SkillVersion {
    object: Value,
    archive: bytes::Bytes,
}

/// Every session and skill of one mock server.
#[derive(Default)]
pub(crate) struct SessionStore {
    clock: Clock,
    seq: u64,
    sessions: HashMap<String, Session>,
    /// skill id -> its versions, oldest first.
    skills: HashMap<String, Vec<SkillVersion>>,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("sessions", &self.sessions.len())
            .field("skills", &self.skills.len())
            .finish_non_exhaustive()
    }
}

fn not_found(kind: &str, id: &str) -> Refusal {
    Refusal::NotFound(format!("{kind} {id} not found"))
}

/// Merges `patch` over `base`, object by object.
fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(base.entry(key).or_insert(Value::Null), value);
            }
        }
        (base, patch) => *base = patch,
    }
}

impl SessionStore {
    fn next_id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}_01mock{:016x}", self.seq)
    }

    /// Creates a session in `environment_id` (which the caller checked).
    pub(crate) fn create(&mut self, new: NewSession) -> Outcome<Value> {
        let status = new.status.unwrap_or_else(|| "running".into());
        if status.trim().is_empty() {
            return Err(Refusal::Invalid("status: must not be empty".into()));
        }
        let id = match new.id {
            Some(id) if id.trim().is_empty() || id.contains('/') => {
                return Err(Refusal::Invalid(
                    "id: must be non-empty, without '/'".into(),
                ));
            }
            Some(id) => id,
            None => self.next_id("sesn"),
        };
        if self.sessions.contains_key(&id) {
            return Err(Refusal::Conflict(format!("session {id} already exists")));
        }
        let now = self.clock.now();
        let mut object = crate::stateless::example("Session").unwrap_or_else(|| json!({}));
        merge(
            &mut object,
            json!({
                "id": id,
                "environment_id": new.environment_id,
                "status": status,
                "created_at": now,
                "updated_at": now,
                "resources": [],
                "stats": {},
                "usage": {},
                "title": null,
            }),
        );
        if let Some(agent) = new.agent {
            if !agent.is_object() {
                return Err(Refusal::Invalid("agent: must be a JSON object".into()));
            }
            // A given skills list replaces the example's.
            if let Some(skills) = agent.get("skills") {
                object["agent"]["skills"] = skills.clone();
            }
            merge(&mut object["agent"], agent);
        }
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        self.sessions.insert(
            id,
            Session {
                object: object.clone(),
                events: Vec::new(),
                live,
                end_turn_when_answered: false,
            },
        );
        Ok(object)
    }

    fn session(&self, id: &str) -> Outcome<&Session> {
        self.sessions
            .get(id)
            .ok_or_else(|| not_found("session", id))
    }

    fn session_mut(&mut self, id: &str) -> Outcome<&mut Session> {
        self.sessions
            .get_mut(id)
            .ok_or_else(|| not_found("session", id))
    }

    /// A session object.
    pub(crate) fn retrieve(&self, id: &str) -> Outcome<Value> {
        Ok(self.session(id)?.object.clone())
    }

    /// The environment a session belongs to.
    pub(crate) fn environment_of(&self, id: &str) -> Option<&str> {
        self.sessions
            .get(id)
            .and_then(|s| s.object["environment_id"].as_str())
    }

    /// Sets a session's status (any value: the spec's enum is open).
    pub(crate) fn set_status(&mut self, id: &str, status: &str) -> Outcome<Value> {
        if status.trim().is_empty() {
            return Err(Refusal::Invalid("status: must not be empty".into()));
        }
        let now = self.clock.now();
        let session = self.session_mut(id)?;
        session.object["status"] = json!(status);
        session.object["updated_at"] = json!(now);
        Ok(session.object.clone())
    }

    /// Appends events to a session's log (filling `id` and `processed_at`
    /// where absent) and pushes them to its open streams; the events as
    /// recorded. `sender` names who may send them: the API takes only
    /// `user.*` and `system.message` events, the control surface any.
    pub(crate) fn append(
        &mut self,
        id: &str,
        events: Vec<Value>,
        sender: Sender,
    ) -> Outcome<Vec<Value>> {
        self.session(id)?;
        for (i, event) in events.iter().enumerate() {
            let Some(kind) = event.get("type").and_then(Value::as_str) else {
                return Err(Refusal::Invalid(format!(
                    "events[{i}].type: a string is required"
                )));
            };
            // It names the event on the stream (`event: <type>`).
            if kind.is_empty() || kind.chars().any(char::is_control) {
                return Err(Refusal::Invalid(format!(
                    "events[{i}].type: must be non-empty, without control characters"
                )));
            }
            if sender == Sender::Api && !(kind.starts_with("user.") || kind == "system.message") {
                return Err(Refusal::Invalid(format!(
                    "events[{i}].type: {kind:?} cannot be sent; send user.* events"
                )));
            }
        }
        let mut recorded = Vec::with_capacity(events.len());
        for mut event in events {
            let Some(object) = event.as_object_mut() else {
                return Err(Refusal::Invalid(
                    "events: each must be a JSON object".into(),
                ));
            };
            if !object.contains_key("id") {
                let id = self.next_id("sevt");
                object.insert("id".into(), json!(id));
            }
            if !object.contains_key("processed_at") {
                object.insert("processed_at".into(), json!(self.clock.now()));
            }
            recorded.push(event);
        }
        let session = self.session_mut(id)?;
        for event in &recorded {
            session.events.push(event.clone());
            // No open stream is fine.
            let _ = session.live.send(event.clone());
        }
        if session.end_turn_when_answered && every_call_answered(&session.events) {
            session.end_turn_when_answered = false;
            let idle = json!({
                "type": "session.status_idle",
                "stop_reason": {"type": "end_turn"},
                "id": self.next_id("sevt"),
                "processed_at": self.clock.now(),
            });
            let session = self.session_mut(id)?;
            session.events.push(idle.clone());
            let _ = session.live.send(idle);
        }
        Ok(recorded)
    }

    /// Ends the session's turn once every `agent.tool_use` in its log has
    /// its `user.tool_result` (now, when none is waiting).
    pub(crate) fn end_turn_when_answered(&mut self, id: &str) -> Outcome<()> {
        self.session_mut(id)?.end_turn_when_answered = true;
        // Nothing waiting: the turn ends at once.
        self.append(id, Vec::new(), Sender::Control).map(drop)
    }

    /// A session's whole log, oldest first.
    pub(crate) fn events(&self, id: &str) -> Outcome<Vec<Value>> {
        Ok(self.session(id)?.events.clone())
    }

    /// The log so far and a receiver of what follows, taken together so
    /// that nothing falls between them.
    pub(crate) fn follow(&self, id: &str) -> Outcome<(Vec<Value>, broadcast::Receiver<Value>)> {
        let session = self.session(id)?;
        Ok((session.events.clone(), session.live.subscribe()))
    }

    /// One page of a session's log: `limit` events from the cursor, in
    /// `order` (`asc`: oldest first).
    pub(crate) fn page(
        &self,
        id: &str,
        cursor: Option<&str>,
        limit: usize,
        descending: bool,
    ) -> Outcome<(Vec<Value>, Option<String>)> {
        let events = &self.session(id)?.events;
        let start = match cursor {
            None => 0,
            Some(c) => c
                .strip_prefix("evpage_")
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n <= events.len())
                .ok_or_else(|| {
                    Refusal::Invalid(format!("page: {c:?} is not a cursor this server issued"))
                })?,
        };
        let ordered: Box<dyn Iterator<Item = &Value>> = if descending {
            Box::new(events.iter().rev())
        } else {
            Box::new(events.iter())
        };
        let data: Vec<Value> = ordered.skip(start).take(limit).cloned().collect();
        let end = start + data.len();
        let next = (end < events.len()).then(|| format!("evpage_{end}"));
        Ok((data, next))
    }

    /// Adds a version to a skill (created on first use); the version.
    pub(crate) fn add_skill_version(
        &mut self,
        skill_id: &str,
        name: &str,
        description: &str,
        archive: bytes::Bytes,
    ) -> Outcome<Value> {
        if skill_id.trim().is_empty() || skill_id.contains('/') {
            return Err(Refusal::Invalid(
                "skill_id: must be non-empty, without '/'".into(),
            ));
        }
        if name.trim().is_empty() {
            return Err(Refusal::Invalid("name: must not be empty".into()));
        }
        let object = json!({
            "id": self.next_id("skillver"),
            "created_at": self.clock.now(),
            "description": description,
            "name": name,
            "skill_id": skill_id,
            "type": "skill_version",
        });
        self.skills
            .entry(skill_id.to_owned())
            .or_default()
            .push(SkillVersion {
                object: object.clone(),
                archive,
            });
        Ok(object)
    }

    fn skill_version(&self, skill_id: &str, version: &str) -> Outcome<&SkillVersion> {
        let versions = self
            .skills
            .get(skill_id)
            .ok_or_else(|| not_found("skill", skill_id))?;
        let found = match version {
            "latest" => versions.last(),
            id => versions.iter().find(|v| v.object["id"] == id),
        };
        found.ok_or_else(|| not_found("skill version", version))
    }

    /// A skill version (`latest`: the newest).
    pub(crate) fn retrieve_skill_version(&self, skill_id: &str, version: &str) -> Outcome<Value> {
        Ok(self.skill_version(skill_id, version)?.object.clone())
    }

    /// A skill version's archive, by its concrete id.
    pub(crate) fn skill_archive(&self, skill_id: &str, version_id: &str) -> Outcome<bytes::Bytes> {
        if version_id == "latest" {
            return Err(Refusal::Invalid(
                "version: download by the version's id, not latest".into(),
            ));
        }
        Ok(self.skill_version(skill_id, version_id)?.archive.clone())
    }
}

/// Whether every `agent.tool_use` of a log has a `user.tool_result`.
fn every_call_answered(events: &[Value]) -> bool {
    let answered: std::collections::HashSet<&str> = events
        .iter()
        .filter(|e| e["type"] == "user.tool_result")
        .filter_map(|e| e["tool_use_id"].as_str())
        .collect();
    events
        .iter()
        .filter(|e| e["type"] == "agent.tool_use")
        .filter_map(|e| e["id"].as_str())
        .all(|id| answered.contains(id))
}

/// Who appends events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sender {
    /// The API's send: `user.*` and `system.message` only.
    Api,
    /// The control surface: the agent's side, any type.
    Control,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_session() -> (SessionStore, String) {
        let mut store = SessionStore::default();
        let session = store
            .create(NewSession {
                environment_id: "env_1".into(),
                ..NewSession::default()
            })
            .unwrap();
        (store, session["id"].as_str().unwrap().to_owned())
    }

    #[test]
    fn a_session_from_the_spec_example_with_its_own_ids() {
        let (store, id) = store_with_session();
        let session = store.retrieve(&id).unwrap();
        assert_eq!(session["environment_id"], "env_1");
        assert_eq!(session["status"], "running");
        assert_eq!(session["type"], "session");
        assert!(session["agent"]["skills"].is_array());
    }

    #[test]
    fn the_agent_ends_its_turn_once_every_call_is_answered() {
        let (mut store, id) = store_with_session();
        let calls = store
            .append(
                &id,
                vec![
                    json!({"type": "agent.tool_use", "name": "bash"}),
                    json!({"type": "agent.tool_use", "name": "read"}),
                ],
                Sender::Control,
            )
            .unwrap();
        // Armed after the calls, as the control route does.
        store.end_turn_when_answered(&id).unwrap();
        let answer = |call: &Value| json!({"type": "user.tool_result", "tool_use_id": call["id"], "content": []});
        store
            .append(&id, vec![answer(&calls[0])], Sender::Api)
            .unwrap();
        let types = |store: &SessionStore| -> Vec<String> {
            let events = store.events(&id).unwrap();
            events
                .iter()
                .map(|e| e["type"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            types(&store).last().unwrap(),
            "user.tool_result",
            "one call waits"
        );
        store
            .append(&id, vec![answer(&calls[1])], Sender::Api)
            .unwrap();
        let log = store.events(&id).unwrap();
        let last = log.last().unwrap();
        assert_eq!(last["type"], "session.status_idle");
        assert_eq!(last["stop_reason"]["type"], "end_turn");
        assert!(last["id"].as_str().unwrap().starts_with("sevt_"));
        // Once: a later result ends nothing more.
        store
            .append(&id, vec![json!({"type": "user.message"})], Sender::Api)
            .unwrap();
        let idles = types(&store)
            .iter()
            .filter(|t| *t == "session.status_idle")
            .count();
        assert_eq!(idles, 1);
        // Armed with nothing waiting: the turn ends at once.
        let (mut other, other_id) = store_with_session();
        other.end_turn_when_answered(&other_id).unwrap();
        let log = other.events(&other_id).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0]["type"], "session.status_idle");
    }

    #[test]
    fn the_api_sends_only_user_events_and_the_log_pages_in_both_orders() {
        let (mut store, id) = store_with_session();
        let refused = store.append(&id, vec![json!({"type": "agent.tool_use"})], Sender::Api);
        assert!(matches!(refused, Err(Refusal::Invalid(_))));
        for i in 0..5 {
            store
                .append(
                    &id,
                    vec![json!({"type": "agent.message", "n": i})],
                    Sender::Control,
                )
                .unwrap();
        }
        let (page, next) = store.page(&id, None, 2, false).unwrap();
        assert_eq!(
            (page[0]["n"].clone(), next.as_deref()),
            (json!(0), Some("evpage_2"))
        );
        let (page, next) = store.page(&id, next.as_deref(), 10, false).unwrap();
        assert_eq!((page.len(), next), (3, None));
        let (page, _) = store.page(&id, None, 1, true).unwrap();
        assert_eq!(page[0]["n"], 4);
        assert!(page[0]["id"].as_str().unwrap().starts_with("sevt_"));
        assert!(store.page(&id, Some("evpage_99"), 1, false).is_err());
    }

    #[test]
    fn skill_versions_resolve_latest_and_download_by_id() {
        let mut store = SessionStore::default();
        let first = store
            .add_skill_version("skill_a", "a", "", bytes::Bytes::from_static(b"one"))
            .unwrap();
        let second = store
            .add_skill_version("skill_a", "a", "", bytes::Bytes::from_static(b"two"))
            .unwrap();
        assert_eq!(
            store.retrieve_skill_version("skill_a", "latest").unwrap(),
            second
        );
        let id = first["id"].as_str().unwrap();
        assert_eq!(store.skill_archive("skill_a", id).unwrap(), "one");
        assert!(store.skill_archive("skill_a", "latest").is_err());
        assert!(store.retrieve_skill_version("skill_b", "latest").is_err());
    }
}
