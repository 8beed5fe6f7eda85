//! Seedable fault injection on the API routes (never on the control
//! routes): error statuses with any retry headers, latency, broken bodies,
//! connections closed before any answer, and lost heartbeats; at random
//! rates, as an exact sequence, or targeted by operation and method on the
//! nth matching call.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One injected outcome, for [`FaultConfig::sequence`] and
/// [`FaultRule::action`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status and the API's error envelope.
    Status(u16),
    /// Send a `200` status line and headers, then break the body: the
    /// client sees the connection fail mid-answer. (JSON also accepts the
    /// older name `"drop"`.)
    #[serde(alias = "drop")]
    BreakBody,
    /// Close the connection before any status line: the client sees the
    /// connection closed with no answer at all.
    CloseConnection,
    /// Never answer: the request is read and the connection held open
    /// until the client gives up (a black-holed server).
    Hang,
    /// Handle the request normally.
    Pass,
}

/// A fault aimed at some requests: those of an operation and/or method, on
/// the nth matching call or at a rate (every matching call when neither is
/// given).
///
/// ```
/// use anthropic_environments_mock::{Fault, FaultConfig, FaultRule};
/// let config: FaultConfig = serde_json::from_str(r#"{"rules": [
///     {"operation": "ack_work", "nth": 1, "action": {"status": 409}},
///     {"method": "POST", "rate": 0.1, "action": {"status": 503},
///      "retry_after_ms": "250", "x_should_retry": true}
/// ]}"#).unwrap();
/// assert_eq!(config.rules[0].action, Fault::Status(409));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FaultRule {
    /// Only requests of this operation (the spec's operationId, e.g.
    /// `heartbeat_work`).
    #[serde(default)]
    pub operation: Option<String>,
    /// Only requests with this method (e.g. `POST`).
    #[serde(default)]
    pub method: Option<String>,
    /// Only requests whose path contains this text (e.g. one item's id,
    /// to fault that item's calls and no other's).
    #[serde(default)]
    pub path_contains: Option<String>,
    /// Fire on the nth matching call only (1 is the first).
    #[serde(default)]
    pub nth: Option<u64>,
    /// Fire on this fraction of matching calls (seeded by
    /// [`FaultConfig::seed`]).
    #[serde(default)]
    pub rate: Option<f64>,
    /// What to do.
    pub action: Fault,
    /// `retry-after` on an injected status, as given (seconds or a date).
    #[serde(default)]
    pub retry_after: Option<String>,
    /// `retry-after-ms` on an injected status, as given.
    #[serde(default)]
    pub retry_after_ms: Option<String>,
    /// `x-should-retry` on an injected status.
    #[serde(default)]
    pub x_should_retry: Option<bool>,
}

impl FaultRule {
    /// A rule with `action` on every call of `operation`.
    pub fn on_operation(operation: impl Into<String>, action: Fault) -> Self {
        FaultRule {
            operation: Some(operation.into()),
            method: None,
            path_contains: None,
            nth: None,
            rate: None,
            action,
            retry_after: None,
            retry_after_ms: None,
            x_should_retry: None,
        }
    }

    /// Only the nth matching call (1 is the first).
    pub fn nth(mut self, n: u64) -> Self {
        self.nth = Some(n);
        self
    }

    /// Only this fraction of matching calls.
    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = Some(rate);
        self
    }

    /// Only requests with this method.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// `retry-after` on the injected status.
    pub fn retry_after(mut self, value: impl Into<String>) -> Self {
        self.retry_after = Some(value.into());
        self
    }

    /// `retry-after-ms` on the injected status.
    pub fn retry_after_ms(mut self, value: impl Into<String>) -> Self {
        self.retry_after_ms = Some(value.into());
        self
    }

    /// `x-should-retry` on the injected status.
    pub fn x_should_retry(mut self, retry: bool) -> Self {
        self.x_should_retry = Some(retry);
        self
    }

    /// Only requests whose path contains `part` (one item's calls: its
    /// id).
    ///
    /// ```
    /// use anthropic_environments_mock::{Fault, FaultRule};
    /// // Every heartbeat of work_1 hangs; other items' heartbeats pass.
    /// let rule = FaultRule::on_operation("heartbeat_work", Fault::Hang).path_contains("/work_1/");
    /// assert_eq!(rule.path_contains.as_deref(), Some("/work_1/"));
    /// ```
    pub fn path_contains(mut self, part: impl Into<String>) -> Self {
        self.path_contains = Some(part.into());
        self
    }

    fn matches(&self, operation: Option<&str>, method: &str, path: &str) -> bool {
        self.operation
            .as_deref()
            .is_none_or(|op| Some(op) == operation)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|part| path.contains(part))
    }
}

/// What to inject. The default injects nothing. Also accepted as JSON by
/// `PUT /_mock/faults`, e.g.
/// `{"seed": 7, "error_rate": 0.2, "sequence": [{"status": 429}, "break_body", "pass"]}`.
/// An invalid configuration (a rate outside 0..=1, a status outside
/// 100..=599, an unknown field) is refused with a 400.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Seed of the random choices; the same seed and requests give the
    /// same faults.
    pub seed: u64,
    /// Outcomes for the next requests, in order, before any other fault.
    pub sequence: Vec<Fault>,
    /// Targeted faults, checked in order after the sequence; the first rule
    /// that fires decides.
    pub rules: Vec<FaultRule>,
    /// Fraction of requests answered with one of `error_statuses`.
    pub error_rate: f64,
    /// The statuses of random errors (default 429, 500, 529).
    pub error_statuses: Vec<u16>,
    /// `retry-after` (seconds) on injected errors of the random and
    /// sequence faults; none when absent.
    pub retry_after_secs: Option<f64>,
    /// Fraction of requests whose answer breaks mid-body (JSON also accepts
    /// the older name `drop_rate`).
    #[serde(alias = "drop_rate")]
    pub break_body_rate: f64,
    /// Fraction of requests whose connection is closed before any answer.
    pub close_connection_rate: f64,
    /// End every session event stream after this many events (cleanly,
    /// at an event boundary): the client sees the stream end and
    /// reconnects.
    #[serde(default)]
    pub stream_event_limit: Option<usize>,
    /// Fraction of heartbeats lost: broken before the server sees them.
    pub heartbeat_loss_rate: f64,
    /// Latency added to every request, in milliseconds.
    pub latency_ms: u64,
    /// Apply the random faults only to paths containing this text (e.g.
    /// `/ack`); the sequence applies to every API request, and a rule to
    /// those its own [`FaultRule::path_contains`] selects.
    pub path_contains: Option<String>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            seed: 0,
            sequence: Vec::new(),
            rules: Vec::new(),
            error_rate: 0.0,
            error_statuses: vec![429, 500, 529],
            retry_after_secs: None,
            break_body_rate: 0.0,
            close_connection_rate: 0.0,
            stream_event_limit: None,
            heartbeat_loss_rate: 0.0,
            latency_ms: 0,
            path_contains: None,
        }
    }
}

impl FaultConfig {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }

    /// A fraction of 5xx/429 answers on every endpoint.
    pub fn errors(rate: f64, seed: u64) -> Self {
        FaultConfig {
            seed,
            error_rate: rate,
            ..Self::default()
        }
    }

    /// An exact sequence of outcomes for the next requests.
    pub fn sequence(faults: impl IntoIterator<Item = Fault>) -> Self {
        FaultConfig {
            sequence: faults.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Targeted faults.
    pub fn rules(rules: impl IntoIterator<Item = FaultRule>) -> Self {
        FaultConfig {
            rules: rules.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Checks the configuration; the error says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let rate = |name: &str, r: f64| {
            if (0.0..=1.0).contains(&r) {
                Ok(())
            } else {
                Err(format!("{name}: a rate is from 0 to 1, got {r}"))
            }
        };
        let status = |name: &str, s: u16| {
            if (100..=599).contains(&s) {
                Ok(())
            } else {
                Err(format!("{name}: a status is from 100 to 599, got {s}"))
            }
        };
        rate("error_rate", self.error_rate)?;
        rate("break_body_rate", self.break_body_rate)?;
        rate("close_connection_rate", self.close_connection_rate)?;
        rate("heartbeat_loss_rate", self.heartbeat_loss_rate)?;
        for (i, s) in self.error_statuses.iter().enumerate() {
            status(&format!("error_statuses[{i}]"), *s)?;
        }
        for (i, fault) in self.sequence.iter().enumerate() {
            if let Fault::Status(s) = fault {
                status(&format!("sequence[{i}]"), *s)?;
            }
        }
        if let Some(secs) = self.retry_after_secs
            && !(secs.is_finite() && secs >= 0.0)
        {
            return Err(format!(
                "retry_after_secs: must be a number >= 0, got {secs}"
            ));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if let Fault::Status(s) = rule.action {
                status(&format!("rules[{i}].action"), s)?;
            }
            if let Some(r) = rule.rate {
                rate(&format!("rules[{i}].rate"), r)?;
            }
            if rule.nth == Some(0) {
                return Err(format!("rules[{i}].nth: 1 is the first call"));
            }
            if rule.nth.is_some() && rule.rate.is_some() {
                return Err(format!("rules[{i}]: give nth or rate, not both"));
            }
            for (name, value) in [
                ("retry_after", &rule.retry_after),
                ("retry_after_ms", &rule.retry_after_ms),
            ] {
                if let Some(v) = value
                    && axum::http::HeaderValue::from_str(v).is_err()
                {
                    return Err(format!("rules[{i}].{name}: not a header value"));
                }
            }
        }
        Ok(())
    }
}

/// The decision for one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    Pass,
    Status {
        code: u16,
        headers: Vec<(&'static str, String)>,
    },
    BreakBody,
    CloseConnection,
    Hang,
}

impl Decision {
    fn of(fault: Fault, retry_after_secs: Option<f64>) -> Self {
        match fault {
            Fault::Status(code) => Decision::Status {
                code,
                headers: retry_after_secs
                    .map(|s| vec![("retry-after", s.to_string())])
                    .unwrap_or_default(),
            },
            Fault::BreakBody => Decision::BreakBody,
            Fault::CloseConnection => Decision::CloseConnection,
            Fault::Hang => Decision::Hang,
            Fault::Pass => Decision::Pass,
        }
    }
}

/// The live fault state of a server.
#[derive(Debug)]
pub(crate) struct Faults {
    state: Mutex<FaultState>,
}

#[derive(Debug)]
struct FaultState {
    config: FaultConfig,
    rng: fastrand::Rng,
    sequence: VecDeque<Fault>,
    /// Matching calls seen so far, per rule.
    rule_calls: Vec<u64>,
}

impl Faults {
    pub(crate) fn new(config: FaultConfig) -> Self {
        Faults {
            state: Mutex::new(FaultState::from(config)),
        }
    }

    pub(crate) fn set(&self, config: FaultConfig) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = FaultState::from(config);
    }

    pub(crate) fn config(&self) -> FaultConfig {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .config
            .clone()
    }

    /// Latency, and what to do with a request.
    pub(crate) fn decide(
        &self,
        method: &str,
        path: &str,
        operation: Option<&str>,
    ) -> (Duration, Decision) {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let s = &mut *guard;
        let latency = Duration::from_millis(s.config.latency_ms);
        let retry_after = s.config.retry_after_secs;
        if let Some(next) = s.sequence.pop_front() {
            return (latency, Decision::of(next, retry_after));
        }
        for (i, rule) in s.config.rules.iter().enumerate() {
            if !rule.matches(operation, method, path) {
                continue;
            }
            s.rule_calls[i] += 1;
            let fires = match (rule.nth, rule.rate) {
                (Some(n), _) => s.rule_calls[i] == n,
                (None, Some(rate)) => rate > 0.0 && s.rng.f64() < rate,
                (None, None) => true,
            };
            if fires {
                let mut decision = Decision::of(rule.action, None);
                if let Decision::Status { headers, .. } = &mut decision {
                    if let Some(v) = &rule.retry_after {
                        headers.push(("retry-after", v.clone()));
                    }
                    if let Some(v) = &rule.retry_after_ms {
                        headers.push(("retry-after-ms", v.clone()));
                    }
                    if let Some(v) = rule.x_should_retry {
                        headers.push(("x-should-retry", v.to_string()));
                    }
                }
                return (latency, decision);
            }
        }
        if let Some(part) = &s.config.path_contains
            && !path.contains(part.as_str())
        {
            return (latency, Decision::Pass);
        }
        let c = &s.config;
        let (loss, broken, closed, error) = (
            c.heartbeat_loss_rate,
            c.break_body_rate,
            c.close_connection_rate,
            c.error_rate,
        );
        if path.ends_with("/heartbeat") && loss > 0.0 && s.rng.f64() < loss {
            return (latency, Decision::BreakBody);
        }
        if broken > 0.0 && s.rng.f64() < broken {
            return (latency, Decision::BreakBody);
        }
        if closed > 0.0 && s.rng.f64() < closed {
            return (latency, Decision::CloseConnection);
        }
        if error > 0.0 && s.rng.f64() < error && !s.config.error_statuses.is_empty() {
            let n = s.config.error_statuses.len();
            let i = s.rng.usize(..n);
            let code = s.config.error_statuses[i];
            return (latency, Decision::of(Fault::Status(code), retry_after));
        }
        (latency, Decision::Pass)
    }
}

impl From<FaultConfig> for FaultState {
    fn from(config: FaultConfig) -> Self {
        FaultState {
            rng: fastrand::Rng::with_seed(config.seed),
            sequence: config.sequence.iter().copied().collect(),
            rule_calls: vec![0; config.rules.len()],
            config,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(f: &Faults, path: &str) -> Decision {
        f.decide("GET", path, None).1
    }

    #[test]
    fn sequence_first_then_seeded_randomness() {
        let mut config = FaultConfig::errors(0.5, 42);
        config.sequence = vec![Fault::Status(429), Fault::BreakBody, Fault::Pass];
        let f = Faults::new(config.clone());
        assert!(matches!(
            decide(&f, "/v1/environments"),
            Decision::Status { code: 429, .. }
        ));
        assert_eq!(decide(&f, "/v1/environments"), Decision::BreakBody);
        assert_eq!(decide(&f, "/v1/environments"), Decision::Pass);
        let a: Vec<_> = (0..50).map(|_| decide(&f, "/x")).collect();
        let g = Faults::new(FaultConfig {
            sequence: vec![],
            ..config
        });
        let b: Vec<_> = (0..50).map(|_| decide(&g, "/x")).collect();
        assert_eq!(a, b, "same seed, same faults");
        let errors = a
            .iter()
            .filter(|d| matches!(d, Decision::Status { .. }))
            .count();
        assert!((10..=40).contains(&errors), "{errors}");
    }

    #[test]
    fn rules_target_operation_method_and_the_nth_call() {
        let f = Faults::new(FaultConfig::rules([
            FaultRule::on_operation("ack_work", Fault::Status(409))
                .nth(2)
                .retry_after_ms("5")
                .x_should_retry(false),
            FaultRule {
                operation: None,
                method: Some("delete".into()),
                ..FaultRule::on_operation("x", Fault::CloseConnection)
            },
        ]));
        let ack = |f: &Faults| f.decide("POST", "/a", Some("ack_work")).1;
        assert_eq!(ack(&f), Decision::Pass);
        assert_eq!(
            ack(&f),
            Decision::Status {
                code: 409,
                headers: vec![
                    ("retry-after-ms", "5".into()),
                    ("x-should-retry", "false".into())
                ]
            }
        );
        assert_eq!(ack(&f), Decision::Pass, "only the nth");
        assert_eq!(
            f.decide("DELETE", "/e", Some("delete_environment")).1,
            Decision::CloseConnection
        );
        assert_eq!(
            f.decide("GET", "/e", Some("retrieve_environment")).1,
            Decision::Pass
        );
    }

    #[test]
    fn a_rule_with_a_path_filter_fires_on_those_paths_only() {
        let f = Faults::new(FaultConfig::rules([FaultRule::on_operation(
            "heartbeat_work",
            Fault::Hang,
        )
        .path_contains("/work/w_doomed/")]));
        let beat = |path: &str| f.decide("POST", path, Some("heartbeat_work")).1;
        assert_eq!(
            beat("/v1/environments/e/work/w_live/heartbeat"),
            Decision::Pass
        );
        assert_eq!(
            beat("/v1/environments/e/work/w_doomed/heartbeat"),
            Decision::Hang
        );
        assert_eq!(
            beat("/v1/environments/e/work/w_doomed/heartbeat"),
            Decision::Hang
        );
        let c: FaultConfig = serde_json::from_str(
            r#"{"rules": [{"operation": "ack_work", "path_contains": "/w_1/", "action": "hang"}]}"#,
        )
        .unwrap();
        assert_eq!(c.rules[0].path_contains.as_deref(), Some("/w_1/"));
    }

    #[test]
    fn json_form_and_validation() {
        let c: FaultConfig = serde_json::from_str(
            r#"{"seed": 7, "error_rate": 0.2, "sequence": [{"status": 429}, "drop", "close_connection", "hang", "pass"], "drop_rate": 0.1}"#,
        )
        .unwrap();
        assert_eq!(
            c.sequence,
            [
                Fault::Status(429),
                Fault::BreakBody,
                Fault::CloseConnection,
                Fault::Hang,
                Fault::Pass
            ]
        );
        assert_eq!(c.error_statuses, [429, 500, 529]);
        assert_eq!(c.break_body_rate, 0.1);
        assert!(c.validate().is_ok());
        for bad in [
            r#"{"error_rate": 2}"#,
            r#"{"sequence": [{"status": 99}]}"#,
            r#"{"rules": [{"action": "pass", "nth": 0}]}"#,
            r#"{"rules": [{"action": "pass", "nth": 1, "rate": 0.5}]}"#,
            r#"{"rules": [{"action": {"status": 700}}]}"#,
        ] {
            let c: FaultConfig = serde_json::from_str(bad).unwrap();
            assert!(c.validate().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<FaultConfig>(r#"{"eror_rate": 1}"#).is_err());
    }
}
