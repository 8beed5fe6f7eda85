//! How one call goes over the wire: the generated client's transport hook
//! with this crate's headers, attempts, retries and tracing span.

use std::sync::Mutex;
use std::time::Duration;

use anthropic_environments_raw::hooks::{Transport, TransportFuture};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tracing::Instrument;

use crate::client::Client;
use crate::retry;

pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The status and request id of the response a transport handed back.
#[derive(Default)]
pub(crate) struct Last {
    pub(crate) status: Option<StatusCode>,
    pub(crate) request_id: Option<String>,
}

/// Sends the attempts of one call.
pub(crate) struct CallTransport {
    pub(crate) client: Client,
    pub(crate) headers: HeaderMap,
    pub(crate) max_retries: u32,
    pub(crate) timeout: Duration,
    pub(crate) last: Mutex<Last>,
}

impl Transport for CallTransport {
    fn execute<'a>(
        &'a self,
        http: &'a reqwest::Client,
        request: reqwest::Request,
        operation_id: &'static str,
    ) -> TransportFuture<'a> {
        let span = crate::telemetry::api_call_span(
            operation_id,
            request.method().as_str(),
            request.url().host_str().unwrap_or(""),
        );
        Box::pin(self.attempts(http, request).instrument(span))
    }
}

impl CallTransport {
    async fn attempts(
        &self,
        http: &reqwest::Client,
        request: reqwest::Request,
    ) -> reqwest::Result<reqwest::Response> {
        let mut request = Some(request);
        let mut retries_made = 0u32;
        loop {
            let last_attempt = retries_made >= self.max_retries;
            // Keep the original for a later attempt unless this is the last
            // one (or the body cannot be cloned, which never happens for the
            // JSON bodies of this API).
            let original = request.take().expect("a request for every attempt");
            let mut attempt = match (last_attempt, original.try_clone()) {
                (false, Some(copy)) => {
                    request = Some(original);
                    copy
                }
                _ => original,
            };
            let headers = attempt.headers_mut();
            for (name, value) in self.client.shared.headers.iter().chain(self.headers.iter()) {
                headers.insert(name.clone(), value.clone());
            }
            headers.insert(
                reqwest::header::AUTHORIZATION,
                self.client.shared.authorization.clone(),
            );
            #[cfg(feature = "opentelemetry")]
            crate::telemetry::inject_trace_context(&tracing::Span::current(), headers);
            *attempt.timeout_mut() = Some(self.timeout);
            let span = tracing::Span::current();
            if retries_made > 0 {
                span.record("http.request.resend_count", retries_made);
            }
            let can_retry = request.is_some();
            match http.execute(attempt).await {
                Ok(response) => {
                    let status = response.status();
                    span.record("http.response.status_code", status.as_u16());
                    if let Some(id) = response
                        .headers()
                        .get("request-id")
                        .and_then(|v| v.to_str().ok())
                    {
                        span.record("anthropic.request.id", id);
                    }
                    if status.is_client_error() || status.is_server_error() {
                        span.record("error.type", status.as_str());
                        span.record("otel.status_code", "ERROR");
                    }
                    if can_retry && retry::should_retry(status, response.headers()) {
                        let delay = retry::retry_delay(
                            retries_made,
                            Some(response.headers()),
                            self.client.shared.max_retry_after,
                        );
                        tracing::debug!(%status, ?delay, "retrying");
                        drop(response);
                        self.client.shared.sleep.sleep(delay).await;
                        retries_made += 1;
                        continue;
                    }
                    tracing::debug!(
                        path = %response.url().path(),
                        status = status.as_u16(),
                        retries = retries_made,
                        "answered"
                    );
                    // Read the body here, so that a connection that breaks
                    // mid-answer is retried like one that never answered. On
                    // the last attempt there is nothing to retry: the
                    // generated client reads it.
                    if !can_retry {
                        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
                        last.status = Some(status);
                        last.request_id = request_id(response.headers());
                        return Ok(response);
                    }
                    let response = match buffered(response).await {
                        Ok(response) => response,
                        Err(error) if can_retry => {
                            let delay = retry::retry_delay(
                                retries_made,
                                None,
                                self.client.shared.max_retry_after,
                            );
                            tracing::debug!(%error, ?delay, "retrying after a broken answer");
                            self.client.shared.sleep.sleep(delay).await;
                            retries_made += 1;
                            continue;
                        }
                        Err(error) => {
                            span.record("error.type", "connection");
                            span.record("otel.status_code", "ERROR");
                            return Err(error);
                        }
                    };
                    let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
                    last.status = Some(status);
                    last.request_id = request_id(response.headers());
                    return Ok(response);
                }
                Err(error) => {
                    if can_retry && (error.is_connect() || error.is_timeout() || error.is_request())
                    {
                        let delay = retry::retry_delay(
                            retries_made,
                            None,
                            self.client.shared.max_retry_after,
                        );
                        tracing::debug!(%error, ?delay, "retrying after a transport error");
                        self.client.shared.sleep.sleep(delay).await;
                        retries_made += 1;
                        continue;
                    }
                    tracing::debug!(%error, "request failed");
                    let kind = if error.is_timeout() {
                        "timeout"
                    } else {
                        "connection"
                    };
                    span.record("error.type", kind);
                    span.record("otel.status_code", "ERROR");
                    return Err(error);
                }
            }
        }
    }
}

/// The same response with its body read into memory.
async fn buffered(response: reqwest::Response) -> reqwest::Result<reqwest::Response> {
    let status = response.status();
    let version = response.version();
    let headers = response.headers().clone();
    let body = response.bytes().await?;
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    Ok(reqwest::Response::from(rebuilt))
}
