//! Serve one work item that something else claimed: the official SDK's
//! `handle_item` and `ant beta:worker run`, e.g. in a per-session sandbox
//! started by a poller. See [`ServeOne`].

use std::fmt;
use std::future::Future;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use crate::Work;
use crate::client::{Client, ClientBuilder};
use crate::credentials::{Credential, WorkSecret};
use crate::error::{Error, Result};
use crate::worker::context::WorkContext;
use crate::worker::item::{BoxError, ItemOutcome, ItemServer};
use crate::worker::signals;
use crate::worker::timing::WorkerTiming;

/// Configures a [`ServeOne`]. Secrets given to it never show in `Debug`.
#[must_use]
pub struct ServeOneBuilder {
    environment_id: String,
    work_id: String,
    session_id: String,
    environment_key: Option<Credential>,
    secret: Option<String>,
    client: ClientBuilder,
    timing: WorkerTiming,
    desired_ttl_seconds: Option<u64>,
    on_os_signals: bool,
    shutdown: CancellationToken,
}

impl fmt::Debug for ServeOneBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeOneBuilder")
            .field("environment_id", &self.environment_id)
            .field("work_id", &self.work_id)
            .field("session_id", &self.session_id)
            .field("environment_key", &self.environment_key)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Serves one work item that something else claimed.
///
/// ```no_run
/// use anthropic_environments::worker::{ItemOutcome, ServeOne, WorkContext};
///
/// # async fn run() -> anthropic_environments::Result<()> {
/// // ANTHROPIC_WORK_ID, ANTHROPIC_ENVIRONMENT_ID, ANTHROPIC_SESSION_ID, and
/// // ANTHROPIC_ENVIRONMENT_KEY and/or ANTHROPIC_WORK_SECRET(_FILE).
/// let outcome = ServeOne::from_env()?
///     .shutdown_on_signal()
///     .build()?
///     .run(|ctx: WorkContext| async move {
///         println!("running session {:?}", ctx.session_id());
///         Ok::<(), std::io::Error>(())
///     })
///     .await;
/// assert_ne!(outcome, ItemOutcome::LeaseLost);
/// # Ok(()) }
/// ```
///
/// It claims the item's lease (`NO_HEARTBEAT`), heartbeats while the handler
/// runs, and force-stops the item after, unless the lease was lost. The
/// item's calls use the sessions token of its secret when there is one that
/// decodes, else the environment key; with neither, building fails.
pub struct ServeOne {
    server: ItemServer,
    work: Work,
    on_os_signals: bool,
    shutdown: CancellationToken,
}

impl fmt::Debug for ServeOne {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeOne")
            .field("work_id", &self.work.id)
            .field("environment_id", &self.work.environment_id)
            .finish_non_exhaustive()
    }
}

fn required_var(name: &'static str) -> Result<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::Config(format!("{name} is not set")))
}

fn optional_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Reads a secret from a file that only its owner (and group) may read.
pub(crate) fn read_secret_file(path: &Path) -> Result<String> {
    let shown = path.display();
    let metadata = std::fs::metadata(path)
        .map_err(|e| Error::Config(format!("work secret file {shown}: {e}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o004 != 0 {
            return Err(Error::Config(format!(
                "work secret file {shown} is world-readable: chmod o-r it"
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("work secret file {shown}: {e}")))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::Config(format!("work secret file {shown} is empty")));
    }
    Ok(text.to_owned())
}

impl ServeOne {
    /// A builder for serving the item `work_id` (of session `session_id`)
    /// of an environment. The client's other settings (base URL, timeouts)
    /// come from [`client_builder`](ServeOneBuilder::client_builder) or the
    /// environment.
    pub fn builder(
        environment_id: impl Into<String>,
        work_id: impl Into<String>,
        session_id: impl Into<String>,
    ) -> ServeOneBuilder {
        ServeOneBuilder {
            environment_id: environment_id.into(),
            work_id: work_id.into(),
            session_id: session_id.into(),
            environment_key: None,
            secret: None,
            client: Client::builder(),
            timing: WorkerTiming::default(),
            desired_ttl_seconds: None,
            on_os_signals: false,
            shutdown: CancellationToken::new(),
        }
    }

    /// A builder from the variables the official workers read:
    /// `ANTHROPIC_WORK_ID`, `ANTHROPIC_ENVIRONMENT_ID`,
    /// `ANTHROPIC_SESSION_ID` (required), `ANTHROPIC_ENVIRONMENT_KEY`, and
    /// the secret from `ANTHROPIC_WORK_SECRET` or from the file named by
    /// `ANTHROPIC_WORK_SECRET_FILE` (which must not be world-readable).
    pub fn from_env() -> Result<ServeOneBuilder> {
        let mut builder = Self::builder(
            required_var("ANTHROPIC_ENVIRONMENT_ID")?,
            required_var("ANTHROPIC_WORK_ID")?,
            required_var("ANTHROPIC_SESSION_ID")?,
        );
        if let Some(key) = optional_var("ANTHROPIC_ENVIRONMENT_KEY") {
            builder = builder.environment_key(key);
        }
        if let Some(secret) = optional_var("ANTHROPIC_WORK_SECRET") {
            builder = builder.secret(secret);
        } else if let Some(path) = optional_var("ANTHROPIC_WORK_SECRET_FILE") {
            builder = builder.secret(read_secret_file(Path::new(&path))?);
        }
        Ok(builder)
    }

    /// Serves the item until its handler returns (or the lease ends, or a
    /// shutdown); then force-stops it unless the lease was lost.
    pub async fn run<H, Fut, E>(self, handler: H) -> ItemOutcome
    where
        H: Fn(WorkContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<(), E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        let force = CancellationToken::new();
        let listener = self
            .on_os_signals
            .then(|| signals::listen(self.shutdown.clone(), force.clone()))
            .flatten();
        // A shutdown cancels the handler at once (it gets its grace).
        let hard_cancel = self.server.hard_cancel.clone();
        let shutdown = self.shutdown.clone();
        let relay = tokio::spawn(async move {
            shutdown.cancelled().await;
            hard_cancel.cancel();
        });
        let span = crate::telemetry::work_item_span(
            &self.work.environment_id,
            &self.work.id,
            crate::ext::WorkDataExt::session_id(&self.work),
        );
        let outcome = tracing::Instrument::instrument(
            self.server
                .serve(self.work, tokio::time::Instant::now(), &handler),
            span.clone(),
        )
        .await;
        outcome.record_on(&span);
        relay.abort();
        if let Some(listener) = listener {
            listener.abort();
        }
        outcome
    }
}

impl ServeOneBuilder {
    /// The environment key, for the item's calls when its secret gives no
    /// sessions token.
    pub fn environment_key(mut self, key: impl Into<String>) -> Self {
        self.environment_key = Some(Credential::environment_key(key));
        self
    }

    /// The item's `secret` as polled (URL-safe base64 of its
    /// `BetaWorkSecret`).
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// The item's `secret`, read from a file that must not be
    /// world-readable.
    pub fn secret_file(self, path: impl AsRef<Path>) -> Result<Self> {
        Ok(self.secret(read_secret_file(path.as_ref())?))
    }

    /// Client settings (base URL, timeouts, retries); its credential is
    /// replaced by the item's.
    pub fn client_builder(mut self, client: ClientBuilder) -> Self {
        self.client = client;
        self
    }

    /// Timing of the lease and the cancellation (defaults: the official
    /// SDK's).
    pub fn timing(mut self, timing: WorkerTiming) -> Self {
        self.timing = timing;
        self
    }

    /// The lease TTL to ask for in heartbeats (default: the server's).
    pub fn desired_ttl_seconds(mut self, seconds: u64) -> Self {
        self.desired_ttl_seconds = Some(seconds);
        self
    }

    /// Shut down on SIGINT or SIGTERM: the handler is cancelled (it gets its
    /// grace), then the item is stopped.
    pub fn shutdown_on_signal(mut self) -> Self {
        self.on_os_signals = true;
        self
    }

    /// A token whose cancellation shuts the serving down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Checks the inputs and builds the client. Fails with
    /// [`Error::Config`] when there is no credential for the item: no secret
    /// that yields a sessions token and no environment key.
    pub fn build(self) -> Result<ServeOne> {
        for (name, value) in [
            ("environment_id", &self.environment_id),
            ("work_id", &self.work_id),
            ("session_id", &self.session_id),
        ] {
            if value.trim().is_empty() {
                return Err(Error::Config(format!("{name} is empty")));
            }
        }
        let decoded = match &self.secret {
            Some(raw) => match WorkSecret::decode(raw) {
                Ok(secret) => Some(secret),
                Err(error) if self.environment_key.is_some() => {
                    tracing::warn!(%error, "the work secret yields no sessions token; using the environment key");
                    None
                }
                Err(error) => {
                    return Err(Error::Config(format!(
                        "{error}, and there is no environment key to fall back to"
                    )));
                }
            },
            None => None,
        };
        // The client's own credential: the environment key when there is
        // one (the fallback of the item's calls), else the sessions token.
        let credential = match (&self.environment_key, &decoded) {
            (Some(key), _) => key.clone(),
            (None, Some(secret)) => secret.sessions_token().clone(),
            (None, None) => {
                return Err(Error::Config(
                    "no credential for the work item: set ANTHROPIC_WORK_SECRET (or \
                     ANTHROPIC_WORK_SECRET_FILE) or ANTHROPIC_ENVIRONMENT_KEY"
                        .into(),
                ));
            }
        };
        let client = self.client.credential(credential).build()?;
        let work: Work = serde_json::from_value(serde_json::json!({
            "id": self.work_id,
            "environment_id": self.environment_id,
            "data": {"type": "session", "id": self.session_id},
            "created_at": "",
            "metadata": {},
            "state": "starting",
            "type": "work",
            "secret": self.secret,
        }))
        .map_err(|e| Error::Config(format!("building the work item: {e}")))?;
        Ok(ServeOne {
            server: ItemServer {
                worker_queue: client.work(&work.environment_id),
                fallback: self.environment_key.is_some(),
                timing: self.timing,
                desired_ttl_seconds: self.desired_ttl_seconds,
                heartbeat_timeout: None,
                hand_off: false,
                heartbeats: true,
                force_stop: true,
                counters: Default::default(),
                hard_cancel: CancellationToken::new(),
            },
            work,
            on_os_signals: self.on_os_signals,
            shutdown: self.shutdown,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_any_credential_building_fails_clearly() {
        let err = ServeOne::builder("env_1", "work_1", "session_1")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("no credential"), "{err}");
        let err = ServeOne::builder("env_1", "work_1", "session_1")
            .secret("not base64!")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("no environment key"), "{err}");
        assert!(!err.to_string().contains("not base64!"), "{err}");
    }

    #[test]
    fn a_secret_alone_is_enough() {
        // {"sessions_token":"sk-ant-req-x"}
        let serve = ServeOne::builder("env_1", "work_1", "session_1")
            .client_builder(Client::builder().base_url("http://127.0.0.1:9"))
            .secret("eyJzZXNzaW9uc190b2tlbiI6InNrLWFudC1yZXEteCJ9")
            .build()
            .unwrap();
        assert!(!format!("{serve:?}").contains("eyJ"));
    }

    #[cfg(unix)]
    #[test]
    fn a_world_readable_secret_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("serve-one-{}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret");
        std::fs::write(&path, "eyJzZXNzaW9uc190b2tlbiI6InNrLWFudC1yZXEteCJ9\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_secret_file(&path).unwrap_err();
        assert!(err.to_string().contains("world-readable"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            read_secret_file(&path).unwrap(),
            "eyJzZXNzaW9uc190b2tlbiI6InNrLWFudC1yZXEteCJ9"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
