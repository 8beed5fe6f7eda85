//! One request: its per-request options (set through every request
//! builder), and the one send path every operation goes through (a
//! generated client wired to the call's transport, and the mapping of its
//! result to this crate's [`Response`] and [`Error`]).

use std::future::Future;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use anthropic_environments_raw::hooks::Inner;
use anthropic_environments_raw::{Client as RawClient, ResponseValue, types};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::client::{Client, check_beta, split_betas};
use crate::error::{ApiError, Error, Result, excerpt, object_id};
use crate::retry;
use crate::transport::{CallTransport, request_id};

/// A successful response: the decoded body with the status and headers.
///
/// Derefs to the body; [`into_inner`](Response::into_inner) takes it.
pub struct Response<T> {
    // The generated client's value as it is: its headers are not copied
    // again for a caller who only wants the body.
    value: ResponseValue<T>,
}

impl<T> Response<T> {
    pub(crate) fn new(data: T, status: StatusCode, headers: HeaderMap) -> Self {
        Response {
            value: ResponseValue::new(data, status, headers),
        }
    }

    /// The decoded body.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }

    /// The `request-id` header of the response.
    pub fn request_id(&self) -> Option<&str> {
        self.headers()
            .get(crate::transport::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.value.status()
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        self.value.headers()
    }

    /// The same response with its body mapped.
    pub(crate) fn map<U: std::fmt::Debug>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        let value = self.value.map::<U, _, std::convert::Infallible>(f);
        Response {
            value: value.unwrap_or_else(|never| match never {}),
        }
    }
}

impl<T: Clone> Clone for Response<T> {
    fn clone(&self) -> Self {
        Response::new((*self.value).clone(), self.status(), self.headers().clone())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Response<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("data", &*self.value)
            .field("status", &self.status())
            .field("headers", self.headers())
            .finish()
    }
}

impl<T: PartialEq> PartialEq for Response<T> {
    /// Equal bodies and statuses (the headers, with their request ids, are
    /// not compared).
    fn eq(&self, other: &Self) -> bool {
        *self.value == *other.value && self.status() == other.status()
    }
}

impl<T> std::ops::Deref for Response<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// Options of one request, set through the request builders
/// (`.beta(..)`, `.workspace_id(..)`, `.max_retries(..)`, `.timeout(..)`,
/// `.header(..)`); unset values fall back to the client's.
#[derive(Clone, Debug, Default)]
pub(crate) struct RequestOptions {
    pub(crate) betas: Vec<String>,
    pub(crate) workspace_id: Option<String>,
    pub(crate) max_retries: Option<u32>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) headers: Vec<(String, String)>,
}

impl RequestOptions {
    /// Checks the options and turns the headers into a `HeaderMap`; betas
    /// given as an `anthropic-beta` header join [`betas`](Self::betas).
    pub(crate) fn resolve(&self) -> Result<(HeaderMap, Vec<String>)> {
        let mut betas = self.betas.clone();
        for (name, value) in &self.headers {
            if name.eq_ignore_ascii_case("anthropic-beta") {
                betas.extend(split_betas(value));
            }
        }
        for beta in &betas {
            check_beta(beta)?;
        }
        let mut headers = HeaderMap::new();
        if let Some(ws) = &self.workspace_id {
            let value = HeaderValue::from_str(ws)
                .map_err(|_| Error::invalid("workspace_id", "not a valid header value"))?;
            headers.insert("anthropic-workspace-id", value);
        }
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::invalid("header", format!("invalid header name {name:?}")))?;
            if name == "anthropic-beta" {
                continue;
            }
            if name == reqwest::header::AUTHORIZATION || name == "x-api-key" {
                return Err(Error::invalid(
                    "header",
                    format!("{name}: use Client::with_credential for another credential"),
                ));
            }
            let value = HeaderValue::from_str(value).map_err(|_| {
                Error::invalid("header", format!("invalid value for header {name}"))
            })?;
            headers.insert(name, value);
        }
        Ok((headers, betas))
    }
}

/// The per-request option setters every request builder has.
macro_rules! request_options {
    ($builder:ident) => {
        impl $builder {
            /// Adds a beta to this request's `anthropic-beta` (after the
            /// client's, before `managed-agents-2026-04-01`).
            pub fn beta(mut self, beta: impl Into<String>) -> Self {
                self.options.betas.push(beta.into());
                self
            }

            /// Sends this request for this workspace (`anthropic-workspace-id`).
            pub fn workspace_id(mut self, id: impl Into<String>) -> Self {
                self.options.workspace_id = Some(id.into());
                self
            }

            /// Retries of this request after the first attempt.
            pub fn max_retries(mut self, retries: u32) -> Self {
                self.options.max_retries = Some(retries);
                self
            }

            /// Timeout of each attempt of this request.
            pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
                self.options.timeout = Some(timeout);
                self
            }

            /// An extra header on this request. An `anthropic-beta` header
            /// joins the request's betas instead (see `beta`).
            pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
                self.options.headers.push((name.into(), value.into()));
                self
            }
        }
    };
}
pub(crate) use request_options;

/// `send()` and `send_with_meta()` of a request builder.
macro_rules! sends {
    ($builder:ident, $output:ty) => {
        impl $builder {
            /// Sends the request; the response body.
            pub async fn send(self) -> Result<$output> {
                self.send_with_meta().await.map(Response::into_inner)
            }
        }
    };
}
pub(crate) use sends;

/// Which betas a call's `anthropic-beta` carries.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Betas {
    /// The caller's, then `managed-agents-2026-04-01` (every call but the
    /// skills calls).
    ManagedAgents,
    /// Only the caller's, and no header without any (the skills calls, as
    /// the official SDKs send them).
    CallerOnly,
}

/// One call: a generated client wired to this call's transport.
pub(crate) struct Call {
    pub(crate) raw: RawClient,
    operation: &'static str,
    transport: Arc<CallTransport>,
}

type RawResult<T> =
    std::result::Result<ResponseValue<T>, progenitor_client::Error<types::ErrorResponse>>;

impl Call {
    /// Prepares a call of `operation` through `client` with `options`.
    pub(crate) fn new(
        client: &Client,
        operation: &'static str,
        options: &RequestOptions,
    ) -> Result<Call> {
        Self::with_betas(client, operation, options, Betas::ManagedAgents)
    }

    /// Prepares a call whose `anthropic-beta` follows `betas`.
    pub(crate) fn with_betas(
        client: &Client,
        operation: &'static str,
        options: &RequestOptions,
        betas: Betas,
    ) -> Result<Call> {
        let (headers, extra) = options.resolve()?;
        let beta = match betas {
            Betas::ManagedAgents => Some(client.beta_value(&extra)?),
            Betas::CallerOnly => client.caller_beta_value(&extra)?,
        };
        let transport = Arc::new(CallTransport {
            client: client.clone(),
            beta,
            headers,
            max_retries: options.max_retries.unwrap_or(client.shared.max_retries),
            timeout: {
                let timeout = options.timeout.unwrap_or(client.shared.timeout);
                (client.shared.http_timeout != Some(timeout)).then_some(timeout)
            },
            last: Mutex::default(),
            retries_made: AtomicU32::new(0),
            span: OnceLock::new(),
        });
        let raw = RawClient::new_with_client(
            &client.shared.base_url,
            client.shared.http.clone(),
            Inner::with_transport(transport.clone())
                .with_base_url(client.shared.parsed_base_url.clone()),
        );
        Ok(Call {
            raw,
            operation,
            transport,
        })
    }

    /// Sends the call: `send` sends the generated request and decodes its
    /// answer. The transport retries what fails before an answer's body
    /// (connection errors, timeouts, retryable statuses); an answer whose
    /// body breaks off while the generated client reads it is retried
    /// here, by sending the request again, while the call has retries left
    /// (as the official SDKs retry it, reading the body before returning).
    pub(crate) async fn run<'a, T, F, Fut>(&'a self, send: F) -> Result<Response<T>>
    where
        F: Fn(&'a RawClient) -> Fut,
        Fut: Future<Output = RawResult<T>>,
    {
        let result = self.resend_cut_answers(send).await;
        self.finish(result).await
    }

    /// [`run`](Call::run) for poll: a `204 No Content` is no work.
    pub(crate) async fn run_optional<'a, T, F, Fut>(
        &'a self,
        send: F,
    ) -> Result<Response<Option<T>>>
    where
        F: Fn(&'a RawClient) -> Fut,
        Fut: Future<Output = RawResult<Option<T>>>,
    {
        let result = self.resend_cut_answers(send).await;
        self.finish_optional(result).await
    }

    async fn resend_cut_answers<'a, T, F, Fut>(&'a self, send: F) -> RawResult<T>
    where
        F: Fn(&'a RawClient) -> Fut,
        Fut: Future<Output = RawResult<T>>,
    {
        loop {
            let result = send(&self.raw).await;
            if let Err(progenitor_client::Error::ResponseBodyError(error)) = &result
                && let Some(delay) = self.transport.retry_after_cut_answer(error)
            {
                self.transport.client.shared.sleep.sleep(delay).await;
                continue;
            }
            return result;
        }
    }

    /// Maps the generated client's result to this crate's.
    async fn finish<T>(&self, result: RawResult<T>) -> Result<Response<T>> {
        match result {
            Ok(value) => Ok(Response { value }),
            // Boxed: the error path's future is large, and only an error
            // pays for it.
            Err(error) => Err(Box::pin(self.error(error)).await),
        }
    }

    /// Like [`finish`](Call::finish) for poll: a `204 No Content` is no work.
    async fn finish_optional<T>(
        &self,
        result: RawResult<Option<T>>,
    ) -> Result<Response<Option<T>>> {
        match result {
            Err(progenitor_client::Error::UnexpectedResponse(r))
                if r.status() == StatusCode::NO_CONTENT =>
            {
                Ok(Response::new(None, r.status(), r.headers().clone()))
            }
            other => self.finish(other).await,
        }
    }

    async fn error(&self, error: progenitor_client::Error<types::ErrorResponse>) -> Error {
        use progenitor_client::Error as E;
        let operation = self.operation;
        match error {
            E::ErrorResponse(value) => {
                let status = value.status();
                let request_id = request_id(value.headers());
                let retry_after = retry::retry_after(value.headers(), SystemTime::now());
                let body = value.into_inner();
                Error::Api(Box::new(ApiError {
                    operation,
                    status,
                    error_type: Some(body.error.type_),
                    message: body.error.message,
                    details: body.error.details,
                    request_id: request_id.or(body.request_id),
                    retry_after,
                }))
            }
            E::CommunicationError(e) | E::ResponseBodyError(e) | E::InvalidUpgrade(e) => {
                if e.is_timeout() {
                    Error::Timeout {
                        operation,
                        source: Some(Box::new(e)),
                    }
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
                        request_id: last.request_id(),
                        retry_after: None,
                    }))
                } else {
                    Error::Decode {
                        operation,
                        status,
                        request_id: last.request_id(),
                        message: e.to_string(),
                        excerpt: excerpt(&bytes, 200),
                        object_id: object_id(&bytes),
                    }
                }
            }
            E::UnexpectedResponse(response) => {
                let status = response.status();
                let request_id = request_id(response.headers());
                let retry_after = retry::retry_after(response.headers(), SystemTime::now());
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
                            retry_after,
                        },
                        None => ApiError {
                            operation,
                            status,
                            error_type: None,
                            message: excerpt(&bytes, 200),
                            details: None,
                            request_id,
                            retry_after,
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
