//! Polling on demand: a worker whose poll loops, once the queue is empty,
//! wait to be woken (say, by a webhook announcing work) instead of
//! long-polling.

use std::sync::Arc;

use tokio::sync::watch;

/// Wakes the poll loops of the workers built with it
/// ([`WorkerBuilder::poll_on_wakeup`](crate::WorkerBuilder::poll_on_wakeup)):
/// each polls again until it finds the queue empty. A wake-up that comes
/// while a loop is polling is not lost: the loop polls once more. Cheap to
/// clone.
///
/// ```no_run
/// use anthropic_environments::Client;
/// use anthropic_environments_worker::{WorkContext, Wakeup, Worker};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::builder().environment_key("sk-ant-oat01-...").build()?;
/// let wakeup = Wakeup::new();
/// let worker = Worker::builder(client.work("env_..."))
///     .non_blocking()
///     .reclaim_older_than_ms(2000)
///     .poll_on_wakeup(wakeup.clone())
///     .build()?;
/// // Elsewhere, e.g. in a webhook handler: `wakeup.wake();`
/// worker.run(|ctx: WorkContext| async move { Ok::<(), std::io::Error>(()) }).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Wakeup {
    generation: Arc<watch::Sender<u64>>,
}

impl Default for Wakeup {
    fn default() -> Self {
        Self::new()
    }
}

impl Wakeup {
    /// A wake-up no worker uses yet.
    pub fn new() -> Self {
        Wakeup {
            generation: Arc::new(watch::channel(0).0),
        }
    }

    /// Wakes every poll loop waiting on an empty queue.
    pub fn wake(&self) {
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// A loop's view of the wake-ups.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }
}
