//! Shutdown on operating-system signals: the first SIGINT or SIGTERM starts
//! the graceful shutdown, a second one forces it.

use tokio_util::sync::CancellationToken;

/// The SIGINT and SIGTERM listeners (Ctrl-C where there is no SIGTERM),
/// installed once so that no signal falls between two waits.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Completes on the next signal.
    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => tracing::info!("SIGINT received"),
            _ = self.terminate.recv() => tracing::info!("SIGTERM received"),
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Installs the listeners now (so that a signal sent once this returns is
/// never missed, nor kills the process) and spawns the task that cancels
/// `shutdown` at the first signal and `force` at the second (the first
/// after a shutdown that something else started forces it). `None` when no
/// listener can be installed, after logging why.
pub(crate) fn listen(
    shutdown: CancellationToken,
    force: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    let mut signals = match Signals::install() {
        Ok(signals) => signals,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGINT/SIGTERM");
            return None;
        }
    };
    Some(tokio::spawn(async move {
        tokio::select! {
            _ = signals.next() => {
                tracing::info!("shutting down; a second signal forces it");
                shutdown.cancel();
            }
            _ = shutdown.cancelled() => {}
        }
        signals.next().await;
        tracing::warn!("second signal: forcing the shutdown");
        force.cancel();
    }))
}
