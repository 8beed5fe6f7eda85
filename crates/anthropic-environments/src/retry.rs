//! When to retry and how long to wait, as the official SDK decides it.
//! The rules are the crate's own; what a user plugs in is [`Sleep`] (the
//! clock a client waits on).
//!
//! - Retry connection errors and timeouts, and the statuses 408, 409, 429
//!   and >= 500, unless the response says `x-should-retry: false`; always
//!   retry on `x-should-retry: true`.
//! - Wait what `retry-after-ms` (milliseconds) or `retry-after` (seconds, or
//!   an HTTP date) says when it is positive; otherwise
//!   `min(0.5 s * 2^n, 8 s)` times a jitter in `[0.75, 1]`, where `n` is the
//!   number of retries already made.
//! - At most 2 retries unless configured otherwise.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName};

/// `x-should-retry`, named once.
const X_SHOULD_RETRY: HeaderName = HeaderName::from_static("x-should-retry");

/// Retries after the first attempt, by default.
pub(crate) const DEFAULT_MAX_RETRIES: u32 = 2;

/// First backoff delay.
pub(crate) const INITIAL_RETRY_DELAY: Duration = Duration::from_millis(500);

/// Largest backoff delay (a server's `retry-after` may ask for more).
pub(crate) const MAX_RETRY_DELAY: Duration = Duration::from_secs(8);

/// The longest `retry-after` / `retry-after-ms` the client honours by
/// default: the official SDKs ignore an ask of 60 s or more and use their
/// own backoff, so that a hostile or confused server cannot park a client.
pub(crate) const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Whether a status is one the official SDK retries.
pub(crate) fn status_is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error()
}

/// Whether a response should be retried (its status and `x-should-retry`).
pub(crate) fn should_retry(status: StatusCode, headers: &HeaderMap) -> bool {
    match headers.get(X_SHOULD_RETRY).map(|v| v.as_bytes()) {
        Some(b"true") => true,
        Some(b"false") => false,
        _ => status_is_retryable(status),
    }
}

/// The wait the server asks for, if any: `retry-after-ms`, then
/// `retry-after` as seconds (fractions allowed) or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return positive_secs(ms / 1000.0);
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return positive_secs(secs);
    }
    let at = httpdate(value)?;
    at.duration_since(now).ok().filter(|d| !d.is_zero())
}

fn positive_secs(secs: f64) -> Option<Duration> {
    // The official SDK caps at 2^32 ms; so do we (it also keeps `Duration`
    // from overflowing).
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs.min(4_294_967.0)))
}

/// The exponential backoff before retry number `retries_made + 1`, with
/// `jitter` in `[0, 1)` (the official SDK multiplies by `1 - 0.25 * jitter`).
pub(crate) fn backoff(retries_made: u32, jitter: f64) -> Duration {
    let exp = INITIAL_RETRY_DELAY.as_secs_f64() * 2f64.powi(retries_made.min(1000) as i32);
    let capped = exp.min(MAX_RETRY_DELAY.as_secs_f64());
    Duration::from_secs_f64(capped * (1.0 - 0.25 * jitter.clamp(0.0, 1.0)))
}

/// How long to wait before the next attempt: the server's ask when it is
/// below `max_retry_after`, else the backoff.
pub(crate) fn retry_delay(
    retries_made: u32,
    headers: Option<&HeaderMap>,
    max_retry_after: Duration,
) -> Duration {
    headers
        .and_then(|h| retry_after(h, SystemTime::now()))
        .filter(|&asked| asked < max_retry_after)
        .unwrap_or_else(|| backoff(retries_made, fastrand::f64()))
}

/// Parses an HTTP date in any of the three forms HTTP allows (IMF-fixdate
/// `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850, asctime), by the `httpdate`
/// crate hyper uses.
fn httpdate(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s).ok()
}

/// A boxed future returned by [`Sleep::sleep`].
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How the client waits between attempts. The default uses tokio's timer;
/// tests can record the delays instead of sleeping.
pub trait Sleep: Send + Sync + fmt::Debug + 'static {
    /// Completes after `duration`.
    fn sleep(&self, duration: Duration) -> SleepFuture;
}

/// [`Sleep`] with `tokio::time::sleep`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleep;

impl Sleep for TokioSleep {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(duration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn retryable_statuses_match_the_official_sdk() {
        for s in [408, 409, 429, 500, 502, 503, 529] {
            assert!(
                should_retry(StatusCode::from_u16(s).unwrap(), &HeaderMap::new()),
                "{s}"
            );
        }
        for s in [400, 401, 403, 404, 412, 422] {
            assert!(
                !should_retry(StatusCode::from_u16(s).unwrap(), &HeaderMap::new()),
                "{s}"
            );
        }
    }

    #[test]
    fn x_should_retry_overrides_the_status() {
        let no = headers(&[("x-should-retry", "false")]);
        let yes = headers(&[("x-should-retry", "true")]);
        assert!(!should_retry(StatusCode::SERVICE_UNAVAILABLE, &no));
        assert!(should_retry(StatusCode::BAD_REQUEST, &yes));
    }

    #[test]
    fn backoff_doubles_up_to_eight_seconds_with_jitter() {
        assert_eq!(backoff(0, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(3, 0.0), Duration::from_secs(4));
        assert_eq!(backoff(4, 0.0), Duration::from_secs(8));
        assert_eq!(backoff(30, 0.0), Duration::from_secs(8));
        assert_eq!(backoff(0, 1.0), Duration::from_millis(375));
        assert_eq!(backoff(5000, 0.5), Duration::from_secs(7));
    }

    #[test]
    fn retry_after_headers() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "1500")]), now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "2")]), now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "0.25")]), now),
            Some(Duration::from_millis(250))
        );
        // retry-after-ms wins over retry-after.
        assert_eq!(
            retry_after(
                &headers(&[("retry-after-ms", "10"), ("retry-after", "5")]),
                now
            ),
            Some(Duration::from_millis(10))
        );
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:40 GMT")]),
                now
            ),
            Some(Duration::from_secs(3))
        );
        // The two obsolete forms HTTP still allows: RFC 850 and asctime.
        for obsolete in ["Sunday, 06-Nov-94 08:49:40 GMT", "Sun Nov  6 08:49:40 1994"] {
            assert_eq!(
                retry_after(&headers(&[("retry-after", obsolete)]), now),
                Some(Duration::from_secs(3)),
                "{obsolete}"
            );
        }
        // A date in the past asks for no wait.
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:30 GMT")]),
                now
            ),
            None
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "0")]), now), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-3")]), now), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn retry_delay_prefers_the_server() {
        let max = DEFAULT_MAX_RETRY_AFTER;
        let h = headers(&[("retry-after-ms", "42")]);
        assert_eq!(retry_delay(3, Some(&h), max), Duration::from_millis(42));
        let d = retry_delay(1, None, max);
        assert!(
            d >= Duration::from_millis(750) && d <= Duration::from_secs(1),
            "{d:?}"
        );
    }

    #[test]
    fn asks_at_or_above_the_cap_fall_back_to_the_backoff() {
        let cap = Duration::from_secs(60);
        for value in ["60", "3600", "1e9", "4294967296"] {
            let h = headers(&[("retry-after", value)]);
            let d = retry_delay(0, Some(&h), cap);
            assert!(d <= INITIAL_RETRY_DELAY, "{value}: {d:?}");
        }
        let h = headers(&[("retry-after", "59")]);
        assert_eq!(retry_delay(0, Some(&h), cap), Duration::from_secs(59));
        let h = headers(&[("retry-after-ms", "5000")]);
        assert!(retry_delay(0, Some(&h), Duration::from_secs(1)) <= INITIAL_RETRY_DELAY);
    }
}
