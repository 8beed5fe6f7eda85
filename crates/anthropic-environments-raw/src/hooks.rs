//! Hand-written hooks of the generated client.
//!
//! progenitor requires the `ClientHooks` implementation to live in the crate
//! that defines `Client`. It does two things to every request:
//!
//! - adds `content-length: 0` to a POST without a body (ack, archive,
//!   heartbeat), as the official SDK sends it;
//! - sends the request through the client's [`Transport`] when one is set
//!   (the facade uses this for retries and tracing), or straight through the
//!   `reqwest::Client` otherwise.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use progenitor_client::{ClientHooks, ClientInfo, Error, OperationInfo};
use reqwest::header::{CONTENT_LENGTH, HeaderValue};

use crate::Client;

/// A boxed future returned by [`Transport::execute`].
pub type TransportFuture<'a> =
    Pin<Box<dyn Future<Output = reqwest::Result<reqwest::Response>> + Send + 'a>>;

/// Sends the requests of a [`Client`], in place of `reqwest::Client::execute`.
///
/// Implement it to wrap every request of the generated client, e.g. to retry
/// or to trace. The request arrives complete (URL, headers, body).
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` with `client`; `operation_id` is the spec's operationId.
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation_id: &'static str,
    ) -> TransportFuture<'a>;
}

/// The `inner` value of every [`Client`]: an optional [`Transport`], and
/// optionally the client's base URL already parsed.
///
/// `Inner::default()` sends requests directly.
#[derive(Clone, Default)]
pub struct Inner {
    transport: Option<Arc<dyn Transport>>,
    pub(crate) base_url: Option<Arc<reqwest::Url>>,
}

impl Inner {
    /// Sends every request through `transport`.
    pub fn with_transport(transport: Arc<dyn Transport>) -> Self {
        Self {
            transport: Some(transport),
            base_url: None,
        }
    }

    /// The client's base URL, parsed once by the caller (a client that
    /// makes a `Client` per call shares it), so that request URLs are built
    /// without parsing it again. Ignored unless it is the URL the `Client`
    /// is created with.
    pub fn with_base_url(mut self, base_url: Arc<reqwest::Url>) -> Self {
        self.base_url = Some(base_url);
        self
    }
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner")
            .field("transport", &self.transport.as_ref().map(|_| "custom"))
            .field(
                "base_url",
                &self.base_url.as_deref().map(reqwest::Url::as_str),
            )
            .finish()
    }
}

impl ClientHooks<Inner> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        if request.method() == reqwest::Method::POST && request.body().is_none() {
            request
                .headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        match &self.inner().transport {
            Some(transport) => {
                transport
                    .execute(self.client(), request, info.operation_id)
                    .await
            }
            None => self.client().execute(request).await,
        }
    }
}
