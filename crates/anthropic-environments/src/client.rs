//! The client, its configuration, and per-request options.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::credentials::{Credential, CredentialKind};
use crate::error::{Error, Result};
use crate::retry::{DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_AFTER, Sleep, TokioSleep};

/// Where requests go unless configured otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

pub use anthropic_environments_raw::wire::{API_VERSION, MANAGED_AGENTS_BETA};

/// Per-attempt timeout unless configured otherwise (the official SDK's).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Timeout of establishing a connection unless configured otherwise (the
/// official Python SDK's).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The `user-agent` of this crate.
pub const USER_AGENT: &str = concat!("anthropic-environments-rust/", env!("CARGO_PKG_VERSION"));

/// Configures a [`Client`]. Unset values come from the environment
/// (`ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`, `ANTHROPIC_ENVIRONMENT_KEY`,
/// `ANTHROPIC_BASE_URL`) or the defaults.
///
/// ```
/// use std::time::Duration;
/// let client = anthropic_environments::Client::builder()
///     .api_key("sk-ant-example")
///     .base_url("http://127.0.0.1:4010")
///     .timeout(Duration::from_secs(30))
///     .connect_timeout(Duration::from_secs(2))
///     .max_retries(5)
///     .beta("files-api-2025-04-14")
///     .build()
///     .unwrap();
/// assert_eq!(client.base_url(), "http://127.0.0.1:4010");
/// ```
#[derive(Default)]
#[must_use]
pub struct ClientBuilder {
    credential: Option<Credential>,
    base_url: Option<String>,
    api_version: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    max_retries: Option<u32>,
    max_retry_after: Option<Duration>,
    headers: Vec<(String, String)>,
    betas: Vec<String>,
    workspace_id: Option<String>,
    http: Option<reqwest::Client>,
    sleep: Option<Arc<dyn Sleep>>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("credential", &self.credential)
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("betas", &self.betas)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Authenticate with an API key (default: the first of
    /// `ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`,
    /// `ANTHROPIC_ENVIRONMENT_KEY` that is set).
    pub fn api_key(self, key: impl Into<String>) -> Self {
        self.credential(Credential::api_key(key))
    }

    /// Authenticate with a bearer token (`ANTHROPIC_AUTH_TOKEN`).
    pub fn auth_token(self, token: impl Into<String>) -> Self {
        self.credential(Credential::auth_token(token))
    }

    /// Authenticate with a self-hosted environment's key
    /// (`ANTHROPIC_ENVIRONMENT_KEY`), as a worker does.
    pub fn environment_key(self, key: impl Into<String>) -> Self {
        self.credential(Credential::environment_key(key))
    }

    /// Authenticate with any [`Credential`]. Every kind is sent as
    /// `Authorization: Bearer`.
    pub fn credential(mut self, credential: Credential) -> Self {
        self.credential = Some(credential);
        self
    }

    /// The base URL (default: `ANTHROPIC_BASE_URL`, else
    /// [`DEFAULT_BASE_URL`]).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Overrides the `anthropic-version` header (default [`API_VERSION`]).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }

    /// Timeout of each attempt (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Timeout of establishing a connection (default
    /// [`DEFAULT_CONNECT_TIMEOUT`]). Applies to the HTTP client this builder
    /// makes, not to one given with [`http_client`](Self::http_client).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Retries after the first attempt (default
    /// 2, as the official SDKs).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = Some(retries);
        self
    }

    /// The longest wait a server may ask for with `retry-after` or
    /// `retry-after-ms` (default
    /// 60 s, as the official SDKs).
    /// A longer ask is ignored and the client's own backoff used instead,
    /// as the official SDKs do.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = Some(max);
        self
    }

    /// A header sent with every request. An `anthropic-beta` header is not
    /// sent as given: its comma-separated betas join the client's (see
    /// [`beta`](Self::beta)), so `managed-agents-2026-04-01` is never
    /// dropped.
    pub fn default_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A beta sent with every request, before [`MANAGED_AGENTS_BETA`].
    pub fn beta(mut self, beta: impl Into<String>) -> Self {
        self.betas.push(beta.into());
        self
    }

    /// The workspace of every request (`anthropic-workspace-id`).
    pub fn workspace_id(mut self, id: impl Into<String>) -> Self {
        self.workspace_id = Some(id.into());
        self
    }

    /// Sends requests with this `reqwest::Client` (its pool, proxy and TLS
    /// settings). Authentication and API headers are still added per request.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// How the client waits between retries (default: tokio's timer).
    pub fn sleep_impl(mut self, sleep: Arc<dyn Sleep>) -> Self {
        self.sleep = Some(sleep);
        self
    }

    /// Builds the client. Fails without a credential, or with a header that
    /// is not a valid HTTP header.
    pub fn build(self) -> Result<Client> {
        let credential = match self.credential {
            Some(c) => c,
            None => Credential::from_env_vars(&[
                CredentialKind::ApiKey,
                CredentialKind::AuthToken,
                CredentialKind::EnvironmentKey,
            ])
            .ok_or_else(|| {
                Error::Config(
                    "no credential: set ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN or \
                     ANTHROPIC_ENVIRONMENT_KEY, or call ClientBuilder::api_key / \
                     environment_key"
                        .into(),
                )
            })?,
        };
        let base_url = self
            .base_url
            .or_else(|| {
                std::env::var("ANTHROPIC_BASE_URL")
                    .ok()
                    .filter(|u| !u.is_empty())
            })
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let (base_url, parsed_base_url) = checked_base_url(&base_url)?;

        let mut headers = HeaderMap::new();
        let version = self.api_version.as_deref().unwrap_or(API_VERSION);
        headers.insert(
            "anthropic-version",
            header_value("anthropic-version", version)?,
        );
        headers.insert(
            reqwest::header::USER_AGENT,
            HeaderValue::from_static(USER_AGENT),
        );
        if let Some(ws) = &self.workspace_id {
            headers.insert("anthropic-workspace-id", header_value("workspace_id", ws)?);
        }
        let mut betas = self.betas;
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::Config(format!("invalid header name {name:?}")))?;
            if name == "anthropic-beta" {
                betas.extend(split_betas(value));
                continue;
            }
            if name == reqwest::header::AUTHORIZATION || name == "x-api-key" {
                return Err(Error::Config(format!(
                    "{name}: set the credential with ClientBuilder::credential, not as a header"
                )));
            }
            headers.insert(name.clone(), header_value(name.as_str(), value)?);
        }
        for beta in &betas {
            check_beta(beta).map_err(|e| Error::Config(e.to_string()))?;
        }
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        // The HTTP client this crate builds has the client's timeout as its
        // own, so that a request with that timeout needs no per-request
        // setting (reqwest keeps one in a map it allocates per request).
        let (http, http_timeout) = match self.http {
            Some(http) => (http, None),
            None => {
                let http = reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
                    .timeout(timeout)
                    .build()
                    .map_err(|e| Error::Config(format!("building the HTTP client: {e}")))?;
                (http, Some(timeout))
            }
        };
        let default_beta = HeaderValue::from_str(&beta_header(&betas, &[]))
            .map_err(|_| Error::Config("the betas are not a valid header value".into()))?;
        let shared = Arc::new(Shared {
            base_url,
            parsed_base_url,
            http,
            http_timeout,
            authorization: authorization(&credential)?,
            credential,
            headers,
            betas,
            default_beta,
            max_retries: self.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
            max_retry_after: self.max_retry_after.unwrap_or(DEFAULT_MAX_RETRY_AFTER),
            timeout,
            sleep: self.sleep.unwrap_or_else(|| Arc::new(TokioSleep)),
        });
        Ok(Client { shared })
    }
}

/// `Bearer <credential>`, marked sensitive so that no `Debug` shows it.
fn authorization(credential: &Credential) -> Result<HeaderValue> {
    if credential.expose().is_empty() {
        return Err(Error::Config("the credential is empty".into()));
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {}", credential.expose()))
        .map_err(|_| Error::Config("the credential is not a valid header value".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// A base URL without its trailing slash, checked to be http(s) with no
/// query or fragment (the request paths go after it), and parsed.
fn checked_base_url(base_url: &str) -> Result<(String, Arc<reqwest::Url>)> {
    let base_url = base_url.trim_end_matches('/').to_owned();
    let shown = shown_url(&base_url);
    // Without a scheme, `host:port` parses as a URL whose scheme is the
    // host, and `127.0.0.1:port` not at all: both get the same hint.
    if !base_url.contains("://") {
        return Err(Error::Config(format!(
            "invalid base URL {shown:?}: it has no http:// or https:// \
             (did you mean \"http://{shown}\"?)"
        )));
    }
    let parsed = reqwest::Url::parse(&base_url)
        .map_err(|e| Error::Config(format!("invalid base URL {shown:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::Config(format!(
            "invalid base URL {shown:?}: the scheme must be http or https"
        )));
    }
    if parsed.path().ends_with("/v1") {
        // Every path the client sends starts with /v1 already.
        tracing::warn!(
            base_url = shown,
            "the base URL ends in /v1, and every request path starts with /v1: \
             requests will go to /v1/v1/...; give the server's root instead"
        );
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::Config(format!(
            "invalid base URL {shown:?}: it must not have a query or fragment"
        )));
    }
    Ok((base_url, Arc::new(parsed)))
}

/// A base URL as errors and logs show it: without user information
/// (`user:password@`), and not at all when it holds something that looks
/// like a key (one pasted into the wrong variable).
fn shown_url(base_url: &str) -> String {
    if base_url.contains("sk-ant-") {
        return "<redacted: it looks like a key>".to_owned();
    }
    let (scheme, rest) = match base_url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, base_url),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let rest = match rest[..authority_end].rfind('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{rest}"),
        None => rest.to_owned(),
    }
}

/// The betas of a comma-separated `anthropic-beta` value.
pub(crate) fn split_betas(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_owned)
}

fn header_value(what: &str, value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value)
        .map_err(|_| Error::Config(format!("{what}: {value:?} is not a valid header value")))
}

pub(crate) fn check_beta(beta: &str) -> Result<()> {
    if beta.is_empty() || beta.contains(',') || HeaderValue::from_str(beta).is_err() {
        return Err(Error::invalid(
            "beta",
            format!("{beta:?} must be one non-empty beta name without commas"),
        ));
    }
    Ok(())
}

#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) base_url: String,
    /// `base_url` parsed, for the generated client's request URLs.
    pub(crate) parsed_base_url: Arc<reqwest::Url>,
    pub(crate) http: reqwest::Client,
    /// The timeout `http` applies to a request without one of its own:
    /// `Some` when this crate built `http`.
    pub(crate) http_timeout: Option<Duration>,
    credential: Credential,
    /// `Bearer <credential>`, sensitive.
    pub(crate) authorization: HeaderValue,
    /// anthropic-version, user-agent, workspace, and the caller's default
    /// headers.
    pub(crate) headers: HeaderMap,
    pub(crate) betas: Vec<String>,
    /// The `anthropic-beta` value of a request without betas of its own.
    pub(crate) default_beta: HeaderValue,
    pub(crate) max_retries: u32,
    pub(crate) max_retry_after: Duration,
    pub(crate) timeout: Duration,
    pub(crate) sleep: Arc<dyn Sleep>,
}

/// The client of the Environments and Work API. Cheap to clone: clones
/// share one connection pool and configuration.
///
/// ```no_run
/// # async fn run() -> anthropic_environments::Result<()> {
/// let client = anthropic_environments::Client::from_env()?;
/// let env = client.environments().retrieve("env_011CZkZ9X2dpNyB7HsEFoRfW").send().await?;
/// println!("{}", env.name);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.shared.base_url)
            .field("credential", &self.shared.credential)
            .field("betas", &self.shared.betas)
            .field("max_retries", &self.shared.max_retries)
            .field("timeout", &self.shared.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder; see [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment: the first of
    /// `ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN` and
    /// `ANTHROPIC_ENVIRONMENT_KEY` that is set, and `ANTHROPIC_BASE_URL`.
    pub fn from_env() -> Result<Client> {
        Self::builder().build()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The kind of credential this client sends.
    pub fn credential_kind(&self) -> CredentialKind {
        self.shared.credential.kind()
    }

    /// The same client (configuration and connection pool) sending another
    /// credential: e.g. a work item's sessions token for that item's calls.
    /// Cheap: no new connection pool, no validation but the header's.
    ///
    /// ```
    /// use anthropic_environments::credentials::{Credential, CredentialKind};
    /// let worker = anthropic_environments::Client::builder()
    ///     .environment_key("sk-ant-oat01-example")
    ///     .build()
    ///     .unwrap();
    /// let item = worker.with_credential(Credential::sessions_token("sk-ant-req-example")).unwrap();
    /// assert_eq!(item.credential_kind(), CredentialKind::SessionsToken);
    /// assert_eq!(worker.credential_kind(), CredentialKind::EnvironmentKey);
    /// ```
    pub fn with_credential(&self, credential: Credential) -> Result<Client> {
        let mut shared = (*self.shared).clone();
        shared.authorization = authorization(&credential)?;
        shared.credential = credential;
        Ok(Client {
            shared: Arc::new(shared),
        })
    }

    /// The same client sending its requests to another base URL (e.g. the
    /// `api_base_url` of a work item's secret), sharing the connection pool.
    pub fn with_base_url(&self, base_url: &str) -> Result<Client> {
        let mut shared = (*self.shared).clone();
        (shared.base_url, shared.parsed_base_url) = checked_base_url(base_url)?;
        Ok(Client {
            shared: Arc::new(shared),
        })
    }

    /// Environments: create, list, retrieve, update, delete, archive.
    pub fn environments(&self) -> crate::resources::environments::Environments {
        crate::resources::environments::Environments::new(self.clone())
    }

    /// Sessions, as a self-hosted worker serves one: retrieve, and the
    /// events (list, send, stream). Made on an item's client
    /// (`WorkContext::client()` of the worker crate), they carry the item's
    /// sessions token.
    pub fn sessions(&self) -> crate::resources::sessions::Sessions {
        crate::resources::sessions::Sessions::new(self.clone())
    }

    /// Skill versions: retrieve one (`latest` allowed) and download its
    /// archive.
    pub fn skills(&self) -> crate::resources::skills::Skills {
        crate::resources::skills::Skills::new(self.clone())
    }

    /// The work queue of one environment; the same as
    /// `client.environments().work(environment_id)`.
    pub fn work(&self, environment_id: impl Into<String>) -> crate::resources::work::WorkQueue {
        crate::resources::work::WorkQueue::new(self.clone(), environment_id.into())
    }

    /// The `anthropic-beta` value of a request with the betas `extra` of
    /// its own (see [`beta_header`]).
    pub(crate) fn beta_value(&self, extra: &[String]) -> Result<HeaderValue> {
        if extra.is_empty() {
            return Ok(self.shared.default_beta.clone());
        }
        HeaderValue::from_str(&beta_header(&self.shared.betas, extra))
            .map_err(|_| Error::invalid("beta", "not a valid header value"))
    }
}

impl Client {
    /// The `anthropic-beta` value of a skills request: only the client's
    /// and the request's betas, without [`MANAGED_AGENTS_BETA`] (the
    /// official SDKs send none of their own on these calls); `None` when
    /// there are none.
    pub(crate) fn caller_beta_value(&self, extra: &[String]) -> Result<Option<HeaderValue>> {
        let mut seen: Vec<&str> = Vec::new();
        for beta in self.shared.betas.iter().chain(extra).map(String::as_str) {
            if beta != MANAGED_AGENTS_BETA && !seen.contains(&beta) {
                seen.push(beta);
            }
        }
        if seen.is_empty() {
            return Ok(None);
        }
        HeaderValue::from_str(&seen.join(","))
            .map(Some)
            .map_err(|_| Error::invalid("beta", "not a valid header value"))
    }
}

/// The `anthropic-beta` value of a request: the client's betas, then the
/// request's, then [`MANAGED_AGENTS_BETA`], without duplicates.
fn beta_header(client: &[String], extra: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::with_capacity(client.len() + extra.len() + 1);
    for beta in client.iter().chain(extra).map(String::as_str) {
        if beta != MANAGED_AGENTS_BETA && !seen.contains(&beta) {
            seen.push(beta);
        }
    }
    seen.push(MANAGED_AGENTS_BETA);
    seen.join(",")
}
