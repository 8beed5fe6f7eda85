//! RFC 3339 timestamps that never repeat.

use std::time::{SystemTime, UNIX_EPOCH};

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

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` for microseconds since the epoch.
pub(crate) fn format_rfc3339(micros: u64) -> String {
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{frac:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
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
