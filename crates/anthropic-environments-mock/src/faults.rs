//! Seedable fault injection: error statuses, latency, dropped connections
//! and lost heartbeats, on the API routes (never on the control routes).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One injected outcome, for [`FaultConfig::sequence`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Answer with this status and the API's error envelope.
    Status(u16),
    /// Drop the connection without answering.
    Drop,
    /// Handle the request normally.
    Pass,
}

/// What to inject. The default injects nothing. Also accepted as JSON by
/// `PUT /_mock/faults`, e.g.
/// `{"seed": 7, "error_rate": 0.2, "sequence": [{"status": 429}, "drop", "pass"]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultConfig {
    /// Seed of the random choices; the same seed and requests give the
    /// same faults.
    pub seed: u64,
    /// Outcomes for the next requests, in order, before any random fault.
    pub sequence: Vec<Fault>,
    /// Fraction of requests answered with one of `error_statuses`.
    pub error_rate: f64,
    /// The statuses of random errors (default 429, 500, 529).
    pub error_statuses: Vec<u16>,
    /// `retry-after` (seconds) on injected errors; none when absent.
    pub retry_after_secs: Option<f64>,
    /// Fraction of requests whose connection is dropped unanswered.
    pub drop_rate: f64,
    /// Fraction of heartbeats lost: dropped before the server sees them.
    pub heartbeat_loss_rate: f64,
    /// Latency added to every request, in milliseconds.
    pub latency_ms: u64,
    /// Apply the random faults only to paths containing this text (e.g.
    /// `/ack`); the sequence applies to every API request.
    pub path_contains: Option<String>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            seed: 0,
            sequence: Vec::new(),
            error_rate: 0.0,
            error_statuses: vec![429, 500, 529],
            retry_after_secs: None,
            drop_rate: 0.0,
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
}

/// The decision for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Decision {
    Pass,
    Status(u16),
    Drop,
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

    /// Latency, and what to do with a request to `path`.
    pub(crate) fn decide(&self, path: &str) -> (Duration, Decision, Option<f64>) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let latency = Duration::from_millis(s.config.latency_ms);
        let retry_after = s.config.retry_after_secs;
        if let Some(next) = s.sequence.pop_front() {
            let decision = match next {
                Fault::Status(code) => Decision::Status(code),
                Fault::Drop => Decision::Drop,
                Fault::Pass => Decision::Pass,
            };
            return (latency, decision, retry_after);
        }
        if let Some(part) = &s.config.path_contains
            && !path.contains(part.as_str())
        {
            return (latency, Decision::Pass, retry_after);
        }
        let (loss, drop, error) = (
            s.config.heartbeat_loss_rate,
            s.config.drop_rate,
            s.config.error_rate,
        );
        if path.ends_with("/heartbeat") && loss > 0.0 && s.rng.f64() < loss {
            return (latency, Decision::Drop, retry_after);
        }
        if drop > 0.0 && s.rng.f64() < drop {
            return (latency, Decision::Drop, retry_after);
        }
        if error > 0.0 && s.rng.f64() < error && !s.config.error_statuses.is_empty() {
            let n = s.config.error_statuses.len();
            let i = s.rng.usize(..n);
            let code = s.config.error_statuses[i];
            return (latency, Decision::Status(code), retry_after);
        }
        (latency, Decision::Pass, retry_after)
    }
}

impl From<FaultConfig> for FaultState {
    fn from(config: FaultConfig) -> Self {
        FaultState {
            rng: fastrand::Rng::with_seed(config.seed),
            sequence: config.sequence.iter().copied().collect(),
            config,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_first_then_seeded_randomness() {
        let mut config = FaultConfig::errors(0.5, 42);
        config.sequence = vec![Fault::Status(429), Fault::Drop, Fault::Pass];
        let f = Faults::new(config.clone());
        assert_eq!(f.decide("/v1/environments").1, Decision::Status(429));
        assert_eq!(f.decide("/v1/environments").1, Decision::Drop);
        assert_eq!(f.decide("/v1/environments").1, Decision::Pass);
        let a: Vec<_> = (0..50).map(|_| f.decide("/x").1).collect();
        let g = Faults::new(FaultConfig {
            sequence: vec![],
            ..config
        });
        let b: Vec<_> = (0..50).map(|_| g.decide("/x").1).collect();
        assert_eq!(a, b, "same seed, same faults");
        let errors = a
            .iter()
            .filter(|d| matches!(d, Decision::Status(_)))
            .count();
        assert!((10..=40).contains(&errors), "{errors}");
    }

    #[test]
    fn json_form() {
        let c: FaultConfig = serde_json::from_str(
            r#"{"seed": 7, "error_rate": 0.2, "sequence": [{"status": 429}, "drop", "pass"]}"#,
        )
        .unwrap();
        assert_eq!(c.sequence, [Fault::Status(429), Fault::Drop, Fault::Pass]);
        assert_eq!(c.error_statuses, [429, 500, 529]);
    }
}
