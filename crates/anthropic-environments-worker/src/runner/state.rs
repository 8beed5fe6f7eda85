//! What a session runner knows about its session's tool calls, and what it
//! does about each event: a pure state machine (no I/O, no clock), fed the
//! events of the stream, the listed history and the outcomes of dispatched
//! calls, answering with [`Action`]s. Every rule of routing, de-duplication
//! and the permission gate lives here, so that it is property-tested.
//!
//! The rules (the session-runner notes, §2-§3):
//! - A tool call is routed once from the stream (`seen`), and again from a
//!   reconcile only while it is unanswered and not already queued; a call
//!   with a result in the log (or posted, or denied) is never run again.
//! - The permission gate fails closed: `deny` (from the server or a
//!   verdict) denies; an `allow` verdict dispatches; `ask` or any permission
//!   this version does not know holds the call until a verdict.
//! - Calls of a terminated thread are dropped.
//! - The idle clock arms on an idle that ends the turn, unless something is
//!   outstanding (a held call, a call queued or running, an unowned call
//!   unanswered); then the arm waits for the last release.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::Value;

/// Which kind of call: answered by `user.tool_result` or
/// `user.custom_tool_result`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// `agent.tool_use`.
    Builtin,
    /// `agent.custom_tool_use`.
    Custom,
}

/// One tool call of the agent.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Call {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) input: Value,
    pub(crate) kind: CallKind,
    pub(crate) thread: Option<String>,
    /// `evaluated_permission` (absent: allow).
    pub(crate) permission: Option<String>,
}

/// What the runner must do.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Action {
    /// Queue the call for execution (FIFO, one at a time).
    Dispatch(Call),
    /// The call was denied: nothing is run or posted.
    Denied(Call),
    /// Start the idle countdown afresh.
    ArmIdle,
    /// Stop the idle countdown.
    DisarmIdle,
    /// The session ended (terminated or deleted): stop the runner.
    Stop,
}

/// A parsed event, as far as the runner cares.
#[derive(Debug)]
enum Event {
    Call(Call),
    Result(String),
    Confirmation {
        tool_use_id: String,
        allow: bool,
    },
    Idle {
        ends_turn: bool,
    },
    Ended,
    ThreadTerminated(String),
    /// Anything else: only the idle clock cares (it disarms).
    Other,
}

fn text(event: &Value, field: &str) -> Option<String> {
    event.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn parse(event: &Value) -> Option<Event> {
    let kind = event.get("type")?.as_str()?;
    Some(match kind {
        "agent.tool_use" | "agent.custom_tool_use" => Event::Call(Call {
            id: text(event, "id")?,
            name: text(event, "name")?,
            input: event.get("input").cloned().unwrap_or(Value::Null),
            kind: if kind == "agent.tool_use" {
                CallKind::Builtin
            } else {
                CallKind::Custom
            },
            thread: text(event, "session_thread_id"),
            permission: text(event, "evaluated_permission"),
        }),
        "user.tool_result" => Event::Result(text(event, "tool_use_id")?),
        "user.custom_tool_result" => Event::Result(text(event, "custom_tool_use_id")?),
        "user.tool_confirmation" => Event::Confirmation {
            tool_use_id: text(event, "tool_use_id")?,
            // Fails closed: anything but `allow` denies.
            allow: event.get("result").and_then(Value::as_str) == Some("allow"),
        },
        "session.status_idle" => Event::Idle {
            ends_turn: event.pointer("/stop_reason/type").and_then(Value::as_str)
                != Some("requires_action"),
        },
        "session.status_terminated" | "session.deleted" => Event::Ended,
        "session.thread_status_terminated" => {
            Event::ThreadTerminated(text(event, "session_thread_id")?)
        }
        _ => Event::Other,
    })
}

/// The runner's view of one session.
#[derive(Debug, Default)]
pub(crate) struct RunnerState {
    /// Calls routed from the stream or a successful reconcile.
    seen: HashSet<String>,
    /// Calls with a result (seen, posted, or denied): never run again.
    answered: HashSet<String>,
    /// Verdicts of confirmations, by call.
    verdicts: HashMap<String, bool>,
    /// Calls held for a verdict, in arrival order.
    held: VecDeque<Call>,
    /// Calls queued or running.
    queued: HashSet<String>,
    /// Calls of names this runner does not own, still unanswered.
    unowned: HashSet<String>,
    terminated_threads: HashSet<String>,
    /// An idle that ended the turn came while something was outstanding.
    deferred_arm: bool,
    ended: bool,
}

impl RunnerState {
    /// Whether the session ended.
    #[cfg(test)]
    pub(crate) fn ended(&self) -> bool {
        self.ended
    }

    fn outstanding(&self) -> bool {
        !self.held.is_empty() || !self.queued.is_empty() || !self.unowned.is_empty()
    }

    /// Routes a call through the permission gate.
    fn route(&mut self, call: Call, out: &mut Vec<Action>) {
        if call
            .thread
            .as_ref()
            .is_some_and(|t| self.terminated_threads.contains(t))
        {
            return;
        }
        if self.answered.contains(&call.id) || self.queued.contains(&call.id) {
            return;
        }
        if self.held.iter().any(|h| h.id == call.id) {
            return;
        }
        let verdict = self.verdicts.get(&call.id).copied();
        match (call.permission.as_deref(), verdict) {
            (Some("deny"), _) | (_, Some(false)) => self.deny(call, out),
            (_, Some(true)) | (None | Some("allow"), None) => self.dispatch(call, out),
            // `ask`, or a permission this version does not know: hold.
            (Some(_), None) => self.held.push_back(call),
        }
    }

    fn dispatch(&mut self, call: Call, out: &mut Vec<Action>) {
        self.queued.insert(call.id.clone());
        out.push(Action::Dispatch(call));
    }

    fn deny(&mut self, call: Call, out: &mut Vec<Action>) {
        self.answered.insert(call.id.clone());
        out.push(Action::Denied(call));
        self.release(out);
    }

    /// Something outstanding was released: a deferred arm applies once
    /// nothing is.
    fn release(&mut self, out: &mut Vec<Action>) {
        if self.deferred_arm && !self.outstanding() {
            self.deferred_arm = false;
            out.push(Action::ArmIdle);
        }
    }

    fn idle(&mut self, ends_turn: bool, out: &mut Vec<Action>) {
        if !ends_turn {
            self.deferred_arm = false;
            out.push(Action::DisarmIdle);
        } else if self.outstanding() {
            self.deferred_arm = true;
        } else {
            out.push(Action::ArmIdle);
        }
    }

    fn disarm(&mut self, out: &mut Vec<Action>) {
        self.deferred_arm = false;
        out.push(Action::DisarmIdle);
    }

    /// One event of the stream.
    pub(crate) fn on_stream_event(&mut self, event: &Value) -> Vec<Action> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        match parse(event) {
            None => {}
            Some(Event::Call(call)) => {
                self.disarm(&mut out);
                if self.seen.insert(call.id.clone()) {
                    self.route(call, &mut out);
                }
            }
            Some(Event::Result(id)) => {
                self.disarm(&mut out);
                self.answered.insert(id.clone());
                self.unowned.remove(&id);
            }
            Some(Event::Confirmation { tool_use_id, allow })
                if !self.answered.contains(&tool_use_id) =>
            {
                self.verdicts.insert(tool_use_id.clone(), allow);
                if let Some(at) = self.held.iter().position(|c| c.id == tool_use_id)
                    && let Some(call) = self.held.remove(at)
                {
                    self.route(call, &mut out);
                    self.release(&mut out);
                }
            }
            Some(Event::Confirmation { .. }) => {}
            Some(Event::Idle { ends_turn }) => self.idle(ends_turn, &mut out),
            Some(Event::Ended) => {
                self.ended = true;
                out.push(Action::Stop);
            }
            Some(Event::ThreadTerminated(thread)) => {
                self.terminate_thread(thread, &mut out);
            }
            Some(Event::Other) => self.disarm(&mut out),
        }
        out
    }

    fn terminate_thread(&mut self, thread: String, out: &mut Vec<Action>) {
        self.held
            .retain(|c| c.thread.as_deref() != Some(thread.as_str()));
        self.terminated_threads.insert(thread);
        self.release(out);
    }

    /// Whether a call's thread was terminated (a queued call is skipped, a
    /// running call's result not posted).
    pub(crate) fn thread_terminated(&self, call: &Call) -> bool {
        call.thread
            .as_ref()
            .is_some_and(|t| self.terminated_threads.contains(t))
    }

    /// Whether a queued call is still to run (not answered meanwhile).
    pub(crate) fn still_wanted(&self, call: &Call) -> bool {
        !self.answered.contains(&call.id) && !self.thread_terminated(call)
    }

    /// A dispatched call is done: its result was posted (`posted`), or
    /// could not be (then the next reconcile runs it again), or its name
    /// is not this runner's (`unowned`: left for another client).
    pub(crate) fn on_done(&mut self, id: &str, posted: bool, unowned: bool) -> Vec<Action> {
        let mut out = Vec::new();
        self.queued.remove(id);
        if posted {
            self.answered.insert(id.to_owned());
        }
        if unowned && !self.answered.contains(id) {
            self.unowned.insert(id.to_owned());
            self.disarm(&mut out);
        }
        self.release(&mut out);
        out
    }

    /// A whole listing of the history, oldest first (a successful
    /// reconcile). Calls the stream has not routed are routed now.
    pub(crate) fn on_history(&mut self, events: &[Value]) -> Vec<Action> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        let mut pending = Vec::new();
        let mut listed = HashSet::new();
        let mut ends_turn = false;
        for event in events {
            match parse(event) {
                None => {}
                Some(Event::Call(call)) => {
                    listed.insert(call.id.clone());
                    self.seen.insert(call.id.clone());
                    pending.push(call);
                    ends_turn = false;
                }
                Some(Event::Result(id)) => {
                    self.unowned.remove(&id);
                    self.answered.insert(id);
                    ends_turn = false;
                }
                Some(Event::Confirmation { tool_use_id, allow })
                    if !self.answered.contains(&tool_use_id) =>
                {
                    self.verdicts.insert(tool_use_id, allow);
                }
                Some(Event::Confirmation { .. }) => {}
                Some(Event::Idle { ends_turn: e }) => ends_turn = e,
                Some(Event::Ended) => {
                    self.ended = true;
                    out.push(Action::Stop);
                    return out;
                }
                Some(Event::ThreadTerminated(thread)) => self.terminate_thread(thread, &mut out),
                Some(Event::Other) => ends_turn = false,
            }
        }
        self.disarm(&mut out);
        for call in pending {
            if !self.answered.contains(&call.id) {
                // An unowned call found again: it is routed again (another
                // client may still answer it).
                self.unowned.remove(&call.id);
                self.route(call, &mut out);
            }
        }
        // Verdicts for held calls that scrolled out of the listing.
        let held: Vec<Call> = self.held.drain(..).collect();
        for call in held {
            if !listed.contains(&call.id) && self.verdicts.contains_key(&call.id) {
                self.route(call, &mut out);
            } else {
                self.held.push_back(call);
            }
        }
        if ends_turn {
            self.idle(true, &mut out);
        }
        out
    }

    /// A listing that failed part-way: the ids it added to `seen` go back,
    /// so that the stream can deliver them; nothing is routed or armed.
    pub(crate) fn on_history_failed(&mut self, partial: &[Value]) {
        for event in partial {
            if let Some(Event::Call(call)) = parse(event)
                && !self.queued.contains(&call.id)
                && !self.answered.contains(&call.id)
            {
                self.seen.remove(&call.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn call(id: &str) -> Value {
        json!({"type": "agent.tool_use", "id": id, "name": "bash", "input": {}})
    }
    fn gated(id: &str, permission: &str) -> Value {
        json!({"type": "agent.tool_use", "id": id, "name": "bash", "input": {},
               "evaluated_permission": permission})
    }
    fn result(id: &str) -> Value {
        json!({"type": "user.tool_result", "tool_use_id": id})
    }
    fn verdict(id: &str, result: &str) -> Value {
        json!({"type": "user.tool_confirmation", "tool_use_id": id, "result": result})
    }
    fn idle(reason: &str) -> Value {
        json!({"type": "session.status_idle", "stop_reason": {"type": reason}})
    }

    fn dispatched(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Dispatch(c) => Some(c.id.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_gate_fails_closed() {
        let mut s = RunnerState::default();
        assert_eq!(dispatched(&s.on_stream_event(&gated("a", "allow"))), ["a"]);
        assert!(dispatched(&s.on_stream_event(&gated("b", "ask"))).is_empty());
        assert!(dispatched(&s.on_stream_event(&gated("c", "later_value"))).is_empty());
        let denied = s.on_stream_event(&gated("d", "deny"));
        assert!(matches!(denied[1], Action::Denied(_)), "{denied:?}");
        // A verdict releases a held call; anything but allow denies.
        assert_eq!(
            dispatched(&s.on_stream_event(&verdict("b", "allow"))),
            ["b"]
        );
        let weird = s.on_stream_event(&verdict("c", "maybe"));
        assert!(
            weird.iter().any(|a| matches!(a, Action::Denied(_))),
            "{weird:?}"
        );
        // A stray deny before an ungated call denies it; an allow verdict
        // cannot release a server-denied call.
        s.on_stream_event(&verdict("e", "deny"));
        assert!(dispatched(&s.on_stream_event(&call("e"))).is_empty());
        s.on_stream_event(&verdict("f", "allow"));
        let f = s.on_stream_event(&gated("f", "deny"));
        assert!(f.iter().any(|a| matches!(a, Action::Denied(_))));
    }

    #[test]
    fn an_end_turn_idle_waits_for_outstanding_calls() {
        let mut s = RunnerState::default();
        s.on_stream_event(&gated("held", "ask"));
        assert!(
            !s.on_stream_event(&idle("end_turn"))
                .contains(&Action::ArmIdle)
        );
        // The deny releases it: the deferred arm applies.
        assert!(
            s.on_stream_event(&verdict("held", "deny"))
                .contains(&Action::ArmIdle)
        );
        // requires_action never arms.
        assert!(
            !s.on_stream_event(&idle("requires_action"))
                .contains(&Action::ArmIdle)
        );
        // An unowned call keeps it from arming (history: unowned + end_turn).
        let mut s = RunnerState::default();
        s.on_stream_event(&call("x"));
        s.on_done("x", false, true);
        assert!(
            !s.on_stream_event(&idle("end_turn"))
                .contains(&Action::ArmIdle)
        );
    }

    #[test]
    fn terminated_threads_drop_their_calls_and_history_ends_the_runner() {
        let mut s = RunnerState::default();
        let in_thread = json!({"type": "agent.tool_use", "id": "t1", "name": "bash",
            "input": {}, "session_thread_id": "th", "evaluated_permission": "ask"});
        s.on_stream_event(&in_thread);
        s.on_stream_event(
            &json!({"type": "session.thread_status_terminated", "session_thread_id": "th"}),
        );
        assert!(dispatched(&s.on_stream_event(&verdict("t1", "allow"))).is_empty());
        let stop = s.on_history(&[call("z"), json!({"type": "session.deleted"})]);
        assert_eq!(stop, [Action::Stop]);
        assert!(s.ended());
    }

    /// What the runner does to the events, played against a model of the
    /// server: calls, results, reconnects (a reconcile of the log so far),
    /// duplicates, and posts that fail.
    #[derive(Clone, Debug)]
    enum Step {
        /// The agent makes call n (appended to the log, delivered live
        /// unless the stream is down).
        Call(u8),
        /// The stream delivers the log entry at this index again.
        Duplicate(u8),
        /// The stream drops; the next reconnect reconciles.
        Reconnect,
        /// The dispatcher runs the next queued call; its post succeeds or
        /// fails.
        Run { post_ok: bool },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u8..6).prop_map(Step::Call),
            (0u8..20).prop_map(Step::Duplicate),
            Just(Step::Reconnect),
            any::<bool>().prop_map(|post_ok| Step::Run { post_ok }),
        ]
    }

    proptest! {
        /// Any interleaving runs each call at most once while its result
        /// posts succeed, exactly once when its (only) post succeeds, and
        /// again only after a post failed.
        #[test]
        fn each_call_runs_once_unless_its_post_failed(steps in proptest::collection::vec(step(), 1..60)) {
            let mut s = RunnerState::default();
            let mut log: Vec<Value> = Vec::new();
            let mut queue: VecDeque<Call> = VecDeque::new();
            let mut runs: HashMap<String, u32> = HashMap::new();
            let mut failed_posts: HashMap<String, u32> = HashMap::new();
            let mut posted: HashSet<String> = HashSet::new();
            let take = |actions: Vec<Action>, queue: &mut VecDeque<Call>| {
                for a in actions {
                    if let Action::Dispatch(c) = a {
                        queue.push_back(c);
                    }
                }
            };
            for step in steps {
                match step {
                    Step::Call(n) => {
                        let event = call(&format!("c{n}"));
                        if log.contains(&event) { continue; }
                        log.push(event.clone());
                        take(s.on_stream_event(&event), &mut queue);
                    }
                    Step::Duplicate(i) => {
                        if let Some(event) = log.get(i as usize).cloned() {
                            take(s.on_stream_event(&event), &mut queue);
                        }
                    }
                    Step::Reconnect => {
                        let history = log.clone();
                        take(s.on_history(&history), &mut queue);
                    }
                    Step::Run { post_ok } => {
                        let Some(c) = queue.pop_front() else { continue };
                        if !s.still_wanted(&c) {
                            s.on_done(&c.id, false, false);
                            continue;
                        }
                        *runs.entry(c.id.clone()).or_default() += 1;
                        if post_ok {
                            log.push(result(&c.id));
                            posted.insert(c.id.clone());
                        } else {
                            *failed_posts.entry(c.id.clone()).or_default() += 1;
                        }
                        s.on_done(&c.id, post_ok, false);
                        // The server echoes a posted result on the stream.
                        if post_ok {
                            let echo = result(&c.id);
                            take(s.on_stream_event(&echo), &mut queue);
                        }
                    }
                }
            }
            for (id, n) in &runs {
                let failures = failed_posts.get(id).copied().unwrap_or(0);
                // Every run but a failed one's retry is the first.
                prop_assert!(*n <= failures + 1, "{id} ran {n} times with {failures} failed posts");
                if posted.contains(id) {
                    prop_assert!(*n >= 1);
                }
            }
        }
    }
}
