//! RFC 3339 timestamps that never repeat.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Hands out strictly increasing RFC 3339 timestamps (microsecond
/// precision), so that a heartbeat's `last_heartbeat` identifies it and
/// `updated_at` always moves.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    last_micros: u64,
}

impl Clock {
    /// The current time, later than every timestamp handed out before.
    pub(crate) fn now(&mut self) -> String {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        self.last_micros = micros.max(self.last_micros + 1);
        format_rfc3339(self.last_micros)
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` for microseconds since the epoch (by
/// humantime, already in the lock file through the facade).
pub(crate) fn format_rfc3339(micros: u64) -> String {
    let at = UNIX_EPOCH + Duration::from_micros(micros);
    humantime::format_rfc3339_micros(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            format_rfc3339(784_111_777_000_001),
            "1994-11-06T08:49:37.000001Z"
        );
        assert_eq!(
            format_rfc3339(1_773_568_800_500_000),
            "2026-03-15T10:00:00.500000Z"
        );
    }

    #[test]
    fn never_repeats() {
        let mut c = Clock::default();
        let a = c.now();
        let b = c.now();
        assert!(b > a, "{a} {b}");
    }
}
