//! How one call goes over the wire: headers, attempts, retries, tracing,
//! and the mapping of the generated client's errors to [`Error`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anthropic_environments_raw::hooks::{Inner, Transport, TransportFuture};
use anthropic_environments_raw::{Client as RawClient, ResponseValue, types};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tracing::Instrument;

use crate::client::{Client, RequestOptions};
use crate::error::{ApiError, Error, Result, excerpt, object_id};
use crate::retry;

/// A successful response: the decoded body with the status and headers.
///
/// Derefs to the body; [`into_inner`](Response::into_inner) takes it.
#[derive(Debug, Clone)]
pub struct Response<T> {
    data: T,
    status: StatusCode,
    headers: HeaderMap,
}

impl<T> Response<T> {
    /// The decoded body.
    pub fn into_inner(self) -> T {
        self.data
    }

    /// The `request-id` header of the response.
    pub fn request_id(&self) -> Option<&str> {
        self.headers.get("request-id").and_then(|v| v.to_str().ok())
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The same response with its body mapped.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            data: f(self.data),
            status: self.status,
            headers: self.headers,
        }
    }
}

impl<T: PartialEq> PartialEq for Response<T> {
    /// Equal bodies and statuses (the headers, with their request ids, are
    /// not compared).
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data && self.status == other.status
    }
}

impl<T> std::ops::Deref for Response<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.data
    }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The status and request id of the response a transport handed back.
#[derive(Default)]
struct Last {
    status: Option<StatusCode>,
    request_id: Option<String>,
}

/// Sends the attempts of one call.
struct CallTransport {
    client: Client,
    headers: HeaderMap,
    max_retries: u32,
    timeout: Duration,
    last: Mutex<Last>,
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

/// One call: a generated client wired to this call's transport.
pub(crate) struct Call {
    pub(crate) raw: RawClient,
    /// The `anthropic-beta` header value of this call.
    pub(crate) beta: String,
    operation: &'static str,
    transport: Arc<CallTransport>,
}

type RawResult<T> =
    std::result::Result<ResponseValue<T>, progenitor_client::Error<types::ErrorResponse>>;

impl Client {
    /// Prepares a call of `operation` with `options`.
    pub(crate) fn call(&self, operation: &'static str, options: &RequestOptions) -> Result<Call> {
        let (headers, betas) = options.resolve()?;
        let transport = Arc::new(CallTransport {
            client: self.clone(),
            headers,
            max_retries: options.max_retries.unwrap_or(self.shared.max_retries),
            timeout: options.timeout.unwrap_or(self.shared.timeout),
            last: Mutex::default(),
        });
        let raw = RawClient::new_with_client(
            &self.shared.base_url,
            self.shared.http.clone(),
            Inner::with_transport(transport.clone()),
        );
        Ok(Call {
            raw,
            beta: self.beta_header(&betas),
            operation,
            transport,
        })
    }
}

impl Call {
    /// Maps the generated client's result to this crate's.
    pub(crate) async fn finish<T>(self, result: RawResult<T>) -> Result<Response<T>> {
        match result {
            Ok(value) => Ok(Response {
                status: value.status(),
                headers: value.headers().clone(),
                data: value.into_inner(),
            }),
            Err(error) => Err(self.error(error).await),
        }
    }

    /// Like [`finish`](Call::finish) for poll: a `204 No Content` is no work.
    pub(crate) async fn finish_optional<T>(
        self,
        result: RawResult<Option<T>>,
    ) -> Result<Response<Option<T>>> {
        match result {
            Err(progenitor_client::Error::UnexpectedResponse(r))
                if r.status() == StatusCode::NO_CONTENT =>
            {
                Ok(Response {
                    status: r.status(),
                    headers: r.headers().clone(),
                    data: None,
                })
            }
            other => self.finish(other).await,
        }
    }

    async fn error(self, error: progenitor_client::Error<types::ErrorResponse>) -> Error {
        use progenitor_client::Error as E;
        let operation = self.operation;
        match error {
            E::ErrorResponse(value) => {
                let status = value.status();
                let request_id = request_id(value.headers());
                let body = value.into_inner();
                Error::Api(Box::new(ApiError {
                    operation,
                    status,
                    error_type: Some(body.error.type_),
                    message: body.error.message,
                    details: body.error.details,
                    request_id: request_id.or(body.request_id),
                }))
            }
            E::CommunicationError(e) | E::ResponseBodyError(e) | E::InvalidUpgrade(e) => {
                if e.is_timeout() {
                    Error::Timeout { operation }
                } else {
                    Error::Connection {
                        operation,
                        source: e,
                    }
                }
            }
            E::InvalidResponsePayload(bytes, e) => {
                let last = std::mem::take(
                    &mut *self
                        .transport
                        .last
                        .lock()
                        .unwrap_or_else(|p| p.into_inner()),
                );
                let status = last.status.unwrap_or(StatusCode::OK);
                if status.is_client_error() || status.is_server_error() {
                    // An error status whose body is not the API's envelope
                    // (a proxy's HTML page, say): keep the status.
                    Error::Api(Box::new(ApiError {
                        operation,
                        status,
                        error_type: None,
                        message: excerpt(&bytes, 200),
                        details: None,
                        request_id: last.request_id,
                    }))
                } else {
                    Error::Decode {
                        operation,
                        status,
                        request_id: last.request_id,
                        message: e.to_string(),
                        excerpt: excerpt(&bytes, 200),
                        object_id: object_id(&bytes),
                    }
                }
            }
            E::UnexpectedResponse(response) => {
                let status = response.status();
                let request_id = request_id(response.headers());
                let bytes = response.bytes().await.unwrap_or_default();
                if status.is_client_error() || status.is_server_error() {
                    let envelope = serde_json::from_slice::<types::ErrorResponse>(&bytes).ok();
                    Error::Api(Box::new(match envelope {
                        Some(body) => ApiError {
                            operation,
                            status,
                            error_type: Some(body.error.type_),
                            message: body.error.message,
                            details: body.error.details,
                            request_id,
                        },
                        None => ApiError {
                            operation,
                            status,
                            error_type: None,
                            message: excerpt(&bytes, 200),
                            details: None,
                            request_id,
                        },
                    }))
                } else {
                    Error::Decode {
                        operation,
                        status,
                        request_id,
                        message: format!("unexpected status {status}"),
                        excerpt: excerpt(&bytes, 200),
                        object_id: None,
                    }
                }
            }
            E::InvalidRequest(reason) => Error::InvalidInput {
                field: "request",
                reason,
            },
            E::Custom(reason) => Error::InvalidInput {
                field: "request",
                reason,
            },
        }
    }
}
