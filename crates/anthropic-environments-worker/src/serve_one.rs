//! Serve one work item that something else claimed: the official SDK's
//! `handle_item` and `ant beta:worker run`, e.g. in a per-session sandbox
//! started by a poller. See [`ServeOne`].

use std::fmt;
use std::future::Future;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use crate::config::{ItemConfig, ServeMode};
use crate::context::WorkContext;
use crate::item::{BoxError, ItemServer};
use crate::outcome::ItemReport;
use crate::signals;
use crate::timing::WorkerTiming;
use anthropic_environments::Work;
use anthropic_environments::credentials::{Credential, WorkSecret};
use anthropic_environments::{Client, ClientBuilder};
use anthropic_environments::{Error, Result};

/// Configures a [`ServeOne`]. Secrets given to it never show in `Debug`.
#[must_use]
pub struct ServeOneBuilder {
    environment_id: String,
    work_id: String,
    session_id: String,
    environment_key: Option<Credential>,
    secret: Option<String>,
    last_heartbeat: Option<String>,
    client: ClientBuilder,
    item: ItemConfig,
    on_os_signals: bool,
    shutdown: CancellationToken,
    shutdown_on: Vec<CancellationToken>,
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
/// use anthropic_environments_worker::{ItemOutcome, ServeOne, WorkContext};
///
/// # async fn run() -> anthropic_environments::Result<()> {
/// // ANTHROPIC_WORK_ID, ANTHROPIC_ENVIRONMENT_ID, ANTHROPIC_SESSION_ID, and
/// // ANTHROPIC_ENVIRONMENT_KEY and/or ANTHROPIC_WORK_SECRET(_FILE).
/// let report = ServeOne::from_env()?
///     .shutdown_on_signal()
///     .build()?
///     .run(|ctx: WorkContext| async move {
///         println!("running session {:?}", ctx.session_id());
///         Ok::<(), std::io::Error>(())
///     })
///     .await;
/// println!("{}: {}", report.work_id, report.outcome.as_str());
/// # Ok(()) }
/// ```
///
/// It claims the item's lease (`NO_HEARTBEAT`), or continues a live one
/// from its [`last_heartbeat`](ServeOneBuilder::last_heartbeat),
/// heartbeats while the handler runs, and force-stops the item after,
/// unless the lease was lost. A shutdown cancels the handler at once; it
/// gets its `cancel_grace`, and the stop is given up `stop_timeout` after
/// that (or at once on a second signal). The
/// item's calls use the sessions token of its secret when there is one that
/// decodes, else the environment key; with neither, building fails.
pub struct ServeOne {
    server: ItemServer,
    work: Work,
    last_heartbeat: Option<String>,
    on_os_signals: bool,
    shutdown: CancellationToken,
    shutdown_on: Vec<CancellationToken>,
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
            last_heartbeat: None,
            client: Client::builder(),
            item: ItemConfig::default(),
            on_os_signals: false,
            shutdown: CancellationToken::new(),
            shutdown_on: Vec::new(),
        }
    }

    /// A builder from the variables the official workers read:
    /// `ANTHROPIC_WORK_ID`, `ANTHROPIC_ENVIRONMENT_ID`,
    /// `ANTHROPIC_SESSION_ID` (required), `ANTHROPIC_ENVIRONMENT_KEY`, the
    /// secret from `ANTHROPIC_WORK_SECRET` or from the file named by
    /// `ANTHROPIC_WORK_SECRET_FILE` (which must not be world-readable), and
    /// `ANTHROPIC_WORK_LAST_HEARTBEAT` (a live lease to continue, as the
    /// official Go SDK's `HandleItem` reads it).
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
        if let Some(last) = optional_var("ANTHROPIC_WORK_LAST_HEARTBEAT") {
            builder = builder.last_heartbeat(last);
        }
        Ok(builder)
    }

    /// Serves the item until its handler returns (or the lease ends, or a
    /// shutdown); then force-stops it unless the lease was lost.
    pub async fn run<H, Fut, E>(self, handler: H) -> ItemReport
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
        // A shutdown cancels the handler at once (it gets its grace); the
        // stop is given up `stop_timeout` after that grace, or at once on a
        // second signal.
        let (requested, hard_cancel, abandon) = (
            self.server.shutdown_requested.clone(),
            self.server.hard_cancel.clone(),
            self.server.abandon.clone(),
        );
        let timing = self.server.config.timing.clone();
        let shutdown = self.shutdown.clone();
        let others = self.shutdown_on.clone();
        let relay = tokio::spawn(async move {
            let theirs = futures::future::select_all(
                others
                    .into_iter()
                    .map(|t| Box::pin(t.cancelled_owned()))
                    .chain(std::iter::once(Box::pin(
                        shutdown.clone().cancelled_owned(),
                    ))),
            );
            theirs.await;
            requested.cancel();
            hard_cancel.cancel();
            tokio::select! {
                _ = tokio::time::sleep(timing.cancel_grace.saturating_add(timing.stop_timeout)) => {}
                _ = force.cancelled() => {}
            }
            abandon.cancel();
        });
        let span = crate::span::work_item_span(
            &self.work.environment_id,
            &self.work.id,
            anthropic_environments::ext::WorkDataExt::session_id(&self.work),
        );
        let report = tracing::Instrument::instrument(
            self.server.serve(
                self.work,
                tokio::time::Instant::now(),
                self.last_heartbeat,
                &handler,
            ),
            span.clone(),
        )
        .await;
        report.outcome.record_on(&span);
        relay.abort();
        if let Some(listener) = listener {
            listener.abort();
        }
        report
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

    /// Continue the live lease another process holds (e.g. a poller that
    /// acknowledged the item and sent its first heartbeat before handing it
    /// over) instead of claiming a fresh one: the first heartbeat echoes
    /// this `last_heartbeat` instead of `NO_HEARTBEAT`. A 412 then means the
    /// lease is gone (released, not stopped); an answer that the item is
    /// stopping or stopped, or a lease not extended, means it lapsed (the
    /// item is force-stopped).
    pub fn last_heartbeat(mut self, last_heartbeat: impl Into<String>) -> Self {
        self.last_heartbeat = Some(last_heartbeat.into());
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
        self.item.timing = timing;
        self
    }

    /// The lease TTL to ask for in heartbeats (default: the server's).
    pub fn desired_ttl_seconds(mut self, seconds: u64) -> Self {
        self.item.desired_ttl_seconds = Some(seconds);
        self
    }

    /// How the item is served (timing, TTL, heartbeat bound, force): the
    /// same settings as a worker's [`ItemConfig`].
    pub fn item_config(mut self, item: ItemConfig) -> Self {
        self.item = item;
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

    /// Shut down when `token` is cancelled: your application's own token
    /// (with [`shutdown_on_signal`](Self::shutdown_on_signal) and
    /// [`shutdown_token`](Self::shutdown_token): whichever comes first).
    pub fn shutdown_on(mut self, token: CancellationToken) -> Self {
        self.shutdown_on.push(token);
        self
    }

    /// Checks the inputs and builds the client. Fails with
    /// [`Error::Config`] when there is no credential for the item (no secret
    /// that yields a sessions token and no environment key), or when a
    /// setting cannot work.
    pub fn build(self) -> Result<ServeOne> {
        self.item
            .validate()
            .map_err(|e| Error::Config(e.to_string()))?;
        if self
            .last_heartbeat
            .as_ref()
            .is_some_and(|l| l.trim().is_empty())
        {
            return Err(Error::Config("last_heartbeat is empty".into()));
        }
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
                config: self.item,
                mode: ServeMode::Leased,
                counters: Default::default(),
                shutdown_requested: CancellationToken::new(),
                hard_cancel: CancellationToken::new(),
                abandon: CancellationToken::new(),
                observer: None,
            },
            work,
            last_heartbeat: self.last_heartbeat,
            on_os_signals: self.on_os_signals,
            shutdown: self.shutdown,
            shutdown_on: self.shutdown_on,
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
