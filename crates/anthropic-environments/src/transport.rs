//! How one call goes over the wire: the generated client's transport hook
//! with this crate's headers, attempts, retries and tracing span.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use anthropic_environments_raw::hooks::{Transport, TransportFuture};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tracing::Instrument;

use crate::client::Client;
use crate::retry;

/// `request-id`, named once (a name given as a string is parsed and hashed
/// at every use).
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");

/// `anthropic-beta`.
pub(crate) const ANTHROPIC_BETA: HeaderName = HeaderName::from_static("anthropic-beta");

pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The status and request id of the response a transport handed back.
#[derive(Default)]
pub(crate) struct Last {
    pub(crate) status: Option<StatusCode>,
    request_id: Option<HeaderValue>,
}

impl Last {
    fn record(&mut self, status: StatusCode, request_id: Option<&HeaderValue>) {
        self.status = Some(status);
        self.request_id = request_id.cloned();
    }

    /// The `request-id` of the response, if it had a readable one.
    pub(crate) fn request_id(&self) -> Option<String> {
        let value = self.request_id.as_ref()?;
        value.to_str().ok().map(str::to_owned)
    }
}

/// Sends the attempts of one call.
pub(crate) struct CallTransport {
    pub(crate) client: Client,
    /// The call's `anthropic-beta` value (`None`: no header, as the skills
    /// calls go out without betas of their own).
    pub(crate) beta: Option<HeaderValue>,
    /// The call's own headers (workspace, the caller's extra headers).
    pub(crate) headers: HeaderMap,
    pub(crate) max_retries: u32,
    /// The timeout of each attempt, when the HTTP client does not already
    /// apply it.
    pub(crate) timeout: Option<Duration>,
    pub(crate) last: Mutex<Last>,
    /// Retries made so far, by this transport and by the call (which sends
    /// the request again when an answer's body breaks off).
    pub(crate) retries_made: AtomicU32,
    /// The call's span: one for all its attempts, created at the first.
    pub(crate) span: OnceLock<tracing::Span>,
}

impl Transport for CallTransport {
    fn execute<'a>(
        &'a self,
        http: &'a reqwest::Client,
        request: reqwest::Request,
        operation_id: &'static str,
    ) -> TransportFuture<'a> {
        let span = self.span.get_or_init(|| {
            crate::telemetry::api_call_span(
                operation_id,
                request.method().as_str(),
                request.url().host_str().unwrap_or(""),
            )
        });
        Box::pin(self.attempts(http, request).instrument(span.clone()))
    }
}

impl CallTransport {
    /// The wait before sending the call again after its answer's body broke
    /// off with `error`, or `None` when no retry is left (the span then
    /// records the error).
    pub(crate) fn retry_after_cut_answer(&self, error: &reqwest::Error) -> Option<Duration> {
        let retries_made = self.retries_made.load(Ordering::Relaxed);
        if retries_made >= self.max_retries {
            if let Some(span) = self.span.get() {
                record_transport_failure(span, error);
            }
            return None;
        }
        self.retries_made.store(retries_made + 1, Ordering::Relaxed);
        let delay = retry::retry_delay(retries_made, None, self.client.shared.max_retry_after);
        tracing::debug!(%error, ?delay, "retrying after a broken answer");
        Some(delay)
    }

    /// Sends `request` until an answer or an error is final. The future is
    /// kept small (the work between awaits is in plain functions), since
    /// each call boxes it.
    async fn attempts(
        &self,
        http: &reqwest::Client,
        request: reqwest::Request,
    ) -> reqwest::Result<reqwest::Response> {
        let mut retained = Some(request);
        let mut retries_made = self.retries_made.load(Ordering::Relaxed);
        loop {
            let (attempt, can_retry) = self.next_attempt(&mut retained, retries_made);
            let outcome = http.execute(attempt).await;
            let delay = match self.judge(outcome, can_retry, retries_made) {
                Verdict::Final(result) => return result,
                Verdict::Retry(delay) => delay,
            };
            self.client.shared.sleep.sleep(delay).await;
            retries_made += 1;
            self.retries_made.store(retries_made, Ordering::Relaxed);
        }
    }

    /// The request to send now, with this call's headers; a copy stays in
    /// `retained` unless this is the last attempt (or the body is a stream,
    /// which never happens for the JSON bodies of this API). Also whether
    /// a retry can follow it.
    fn next_attempt(
        &self,
        retained: &mut Option<reqwest::Request>,
        retries_made: u32,
    ) -> (reqwest::Request, bool) {
        let original = retained.take().expect("a request for every attempt");
        let copy = if retries_made >= self.max_retries {
            None
        } else {
            copy_of(&original)
        };
        let mut attempt = match copy {
            Some(copy) => {
                *retained = Some(original);
                copy
            }
            None => original,
        };
        let headers = attempt.headers_mut();
        for (name, value) in self.client.shared.headers.iter().chain(self.headers.iter()) {
            headers.insert(name.clone(), value.clone());
        }
        headers.insert(
            reqwest::header::AUTHORIZATION,
            self.client.shared.authorization.clone(),
        );
        if let Some(beta) = &self.beta {
            headers.insert(ANTHROPIC_BETA, beta.clone());
        }
        #[cfg(feature = "opentelemetry")]
        crate::telemetry::inject_trace_context(&tracing::Span::current(), headers);
        if let Some(timeout) = self.timeout {
            *attempt.timeout_mut() = Some(timeout);
        }
        if retries_made > 0 {
            tracing::Span::current().record("http.request.resend_count", retries_made);
        }
        (attempt, retained.is_some())
    }

    /// What to do with the outcome of an attempt: return it, or wait and
    /// send the request again. Records it on the call's span.
    fn judge(
        &self,
        outcome: reqwest::Result<reqwest::Response>,
        can_retry: bool,
        retries_made: u32,
    ) -> Verdict {
        let span = tracing::Span::current();
        let max_retry_after = self.client.shared.max_retry_after;
        match outcome {
            Ok(response) => {
                let status = response.status();
                span.record("http.response.status_code", status.as_u16());
                let request_id = response.headers().get(REQUEST_ID);
                if let Some(id) = request_id.and_then(|v| v.to_str().ok()) {
                    span.record("anthropic.request.id", id);
                }
                if can_retry && retry::should_retry(status, response.headers()) {
                    let delay =
                        retry::retry_delay(retries_made, Some(response.headers()), max_retry_after);
                    tracing::debug!(%status, ?delay, "retrying");
                    return Verdict::Retry(delay);
                }
                // The call's outcome is its last answer's: an error status
                // that a retry got past is not the call's error.
                if status.is_client_error() || status.is_server_error() {
                    span.record("error.type", status.as_str());
                    span.record("otel.status_code", "ERROR");
                }
                tracing::debug!(
                    path = %response.url().path(),
                    status = status.as_u16(),
                    retries = retries_made,
                    "answered"
                );
                // The generated client reads the body; if it breaks off,
                // the call sends the request again (Call::run).
                let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
                last.record(status, request_id);
                drop(last);
                Verdict::Final(Ok(response))
            }
            Err(error) => {
                if can_retry && (error.is_connect() || error.is_timeout() || error.is_request()) {
                    let delay = retry::retry_delay(retries_made, None, max_retry_after);
                    tracing::debug!(%error, ?delay, "retrying after a transport error");
                    return Verdict::Retry(delay);
                }
                tracing::debug!(%error, "request failed");
                record_transport_failure(&span, &error);
                Verdict::Final(Err(error))
            }
        }
    }
}

/// Marks a call's span failed by `error`, which ended it without an answer
/// (or with a broken one).
fn record_transport_failure(span: &tracing::Span, error: &reqwest::Error) {
    let kind = if error.is_timeout() {
        "timeout"
    } else {
        "connection"
    };
    span.record("error.type", kind);
    span.record("otel.status_code", "ERROR");
}

/// The outcome of one attempt, judged.
enum Verdict {
    /// Return this to the generated client.
    Final(reqwest::Result<reqwest::Response>),
    /// Send the request again after this wait.
    Retry(Duration),
}

/// A copy of `request` for another attempt, or `None` when its body is a
/// stream (which cannot be sent twice). Like `reqwest::Request::try_clone`
/// without the per-request timeout setting that one allocates on every copy
/// (the timeout is the one extension a request built through reqwest's
/// public API can carry, and it is copied when set).
fn copy_of(request: &reqwest::Request) -> Option<reqwest::Request> {
    let body = match request.body() {
        Some(body) => Some(reqwest::Body::from(body.as_bytes()?.to_vec())),
        None => None,
    };
    let mut copy = reqwest::Request::new(request.method().clone(), request.url().clone());
    *copy.headers_mut() = request.headers().clone();
    *copy.version_mut() = request.version();
    if let Some(timeout) = request.timeout() {
        *copy.timeout_mut() = Some(*timeout);
    }
    *copy.body_mut() = body;
    Some(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_the_same_request() {
        let http = reqwest::Client::new();
        let mut request = http
            .post("http://127.0.0.1:1/v1/environments?x=1")
            .header("content-type", "application/json")
            .body(r#"{"name":"a"}"#)
            .version(reqwest::Version::HTTP_11)
            .build()
            .unwrap();
        *request.timeout_mut() = Some(Duration::from_secs(3));
        let copy = copy_of(&request).unwrap();
        assert_eq!(copy.method(), request.method());
        assert_eq!(copy.url(), request.url());
        assert_eq!(copy.headers(), request.headers());
        assert_eq!(copy.version(), request.version());
        assert_eq!(copy.timeout(), Some(&Duration::from_secs(3)));
        assert_eq!(
            copy.body().and_then(reqwest::Body::as_bytes),
            Some(&br#"{"name":"a"}"#[..])
        );

        let bodiless = http.get("http://127.0.0.1:1/").build().unwrap();
        let copy = copy_of(&bodiless).unwrap();
        assert!(copy.body().is_none());
        assert_eq!(copy.timeout(), None);
    }

    #[test]
    fn a_streamed_body_is_not_copied() {
        let stream = futures::stream::iter([Ok::<_, std::io::Error>("chunk")]);
        let request = reqwest::Client::new()
            .post("http://127.0.0.1:1/")
            .body(reqwest::Body::wrap_stream(stream))
            .build()
            .unwrap();
        assert!(copy_of(&request).is_none());
    }
}
