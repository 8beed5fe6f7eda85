//! `antenv worker webhook`: the webhook-triggered worker. Deliveries are
//! verified (Standard Webhooks), de-duplicated by their event's id, and
//! `session.status_run_started` wakes a worker that polls the queue until
//! it is empty, serving each item as `worker poll` does.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use anthropic_environments::webhooks::{WebhookEventType, WebhookVerifier};
use anthropic_environments_worker::Wakeup;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio_util::sync::CancellationToken;

use super::health::Health;
use super::poll::{self, OnDemand};
use crate::cli::WebhookArgs;
use crate::connection::Connection;
use crate::error::CliError;
use crate::secret::SecretArg;

/// How many event ids are remembered to ignore repeats (the sender
/// retries within hours; this covers far more deliveries than that).
const REMEMBERED_DELIVERIES: usize = 10_000;

/// The event ids seen lately, oldest first.
#[derive(Default)]
struct Deliveries {
    order: VecDeque<String>,
    seen: HashSet<String>,
}

impl Deliveries {
    /// Whether `id` is new (and remembers it).
    fn first(&mut self, id: &str) -> bool {
        if self.seen.contains(id) {
            return false;
        }
        if self.order.len() == REMEMBERED_DELIVERIES
            && let Some(oldest) = self.order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        self.order.push_back(id.to_owned());
        self.seen.insert(id.to_owned());
        true
    }
}

/// What the receiver needs.
struct Receiver {
    verifier: WebhookVerifier,
    wakeup: Wakeup,
    health: Arc<Health>,
    shutdown: CancellationToken,
    deliveries: Mutex<Deliveries>,
}

/// Runs `worker webhook` until shut down.
pub async fn run(connection: &Connection, args: WebhookArgs) -> Result<(), CliError> {
    if args.poll.drain {
        return Err(CliError::Usage(
            "--drain is not for `worker webhook`: it serves each delivery's work until shut down"
                .into(),
        ));
    }
    if args.poll.block_ms.is_some() {
        return Err(CliError::Usage(
            "--block-ms is not for `worker webhook`: it polls without waiting when woken".into(),
        ));
    }
    let key = signing_key(&args)?;
    let verifier = WebhookVerifier::new(key.expose())
        .map_err(|e| CliError::Usage(format!("the signing key: {e}")))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::Failed(format!("cannot listen on {}: {e}", args.listen)))?;
    let bound = listener
        .local_addr()
        .map_err(|e| CliError::Failed(format!("cannot listen on {}: {e}", args.listen)))?;
    let wakeup = Wakeup::new();
    let (ready, worker_ready) = tokio::sync::oneshot::channel();
    let woken = wakeup.clone();
    let server = tokio::spawn(async move {
        // The worker's health (for its metrics) and shutdown (for 503).
        let Ok((health, shutdown)) = worker_ready.await else {
            return;
        };
        let receiver = Arc::new(Receiver {
            verifier,
            wakeup: woken,
            health,
            shutdown,
            deliveries: Mutex::default(),
        });
        let app = Router::new()
            .route("/webhook", post(deliver))
            .with_state(receiver);
        tracing::info!(address = %bound, "webhook receiver listening");
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the webhook receiver stopped");
        }
    });
    let safety_net = (!args.poll_every.is_zero()).then(|| {
        let wakeup = wakeup.clone();
        tokio::spawn(poll_every(args.poll_every, move || wakeup.wake()))
    });
    let result = poll::run(connection, args.poll, Some(OnDemand { wakeup, ready })).await;
    server.abort();
    if let Some(task) = safety_net {
        task.abort();
    }
    result
}

/// Wakes the worker every `period` (the first time one period after the
/// start, which polls anyway), whether or not a delivery came: the
/// safety net under missed deliveries.
async fn poll_every(period: std::time::Duration, wake: impl Fn()) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        tracing::debug!("no delivery needed: polling the queue (--poll-every)");
        wake();
    }
}

/// The signing key, from the flag or variable, or from its file.
fn signing_key(args: &WebhookArgs) -> Result<SecretArg, CliError> {
    if let Some(key) = SecretArg::given(args.signing_key.as_ref()) {
        return Ok(key.clone());
    }
    if let Some(path) = &args.signing_key_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::Failed(format!(
                "cannot read the signing key from {}: {e}",
                path.display()
            ))
        })?;
        if let Ok(key) = text.parse::<SecretArg>()
            && SecretArg::given(Some(&key)).is_some()
        {
            return Ok(key);
        }
        return Err(CliError::Usage(format!(
            "the signing key file {} is empty",
            path.display()
        )));
    }
    Err(CliError::Usage(
        "no webhook signing key: set ANTHROPIC_WEBHOOK_SIGNING_KEY, --signing-key or --signing-key-file".into(),
    ))
}

/// `POST /webhook`.
async fn deliver(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let (status, outcome, text) = receive(&receiver, &headers, &body);
    receiver.health.webhook_delivery(outcome);
    (status, text)
}

/// What a delivery comes to: its answer, and its metric label.
fn receive(
    receiver: &Receiver,
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, &'static str, &'static str) {
    if receiver.shutdown.is_cancelled() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "shutting down; deliver it again later\n",
        );
    }
    let event = match receiver.verifier.verify(headers, body) {
        Ok(event) => event,
        Err(error) if error.is_unauthenticated() => {
            // Counted (antenv_webhook_deliveries_total); at debug, as
            // anyone may post to a public endpoint.
            tracing::debug!(%error, "webhook delivery refused");
            return (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "the delivery's signature does not verify\n",
            );
        }
        Err(error) => {
            // Signed, so the API's: a shape this version cannot read is no
            // run announcement; 2xx, so the sender does not retry it.
            tracing::info!(%error, "signed webhook delivery this version cannot read; ignored");
            return (StatusCode::OK, "invalid", "ignored\n");
        }
    };
    // The event's id is the same on every delivery of it.
    let first = receiver
        .deliveries
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .first(&event.id);
    if !first {
        tracing::info!(event_id = %event.id, "repeated webhook delivery ignored");
        return (StatusCode::OK, "duplicate", "already received\n");
    }
    if event.data.type_ != WebhookEventType::SessionStatusRunStarted {
        tracing::debug!(event_type = %event.data.type_.as_str(), event_id = %event.id, "webhook event ignored");
        return (StatusCode::OK, "ignored", "ignored\n");
    }
    tracing::info!(session_id = %event.data.id, event_id = %event.id, "work announced; polling the queue");
    receiver.wakeup.wake();
    (StatusCode::ACCEPTED, "accepted", "accepted\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_safety_net_wakes_the_worker_each_period_from_one_period_on() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let woken = Arc::new(AtomicUsize::new(0));
        let counter = woken.clone();
        let task = tokio::spawn(poll_every(std::time::Duration::from_secs(300), move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        let wakes_after = |secs| {
            let woken = woken.clone();
            async move {
                tokio::time::advance(std::time::Duration::from_secs(secs)).await;
                // Let the task run what is due.
                tokio::task::yield_now().await;
                woken.load(Ordering::SeqCst)
            }
        };
        assert_eq!(
            wakes_after(0).await,
            0,
            "not at the start: the worker polls then anyway"
        );
        assert_eq!(wakes_after(299).await, 0);
        assert_eq!(wakes_after(1).await, 1);
        assert_eq!(wakes_after(300).await, 2);
        task.abort();
    }

    #[test]
    fn deliveries_are_remembered_up_to_a_bound() {
        let mut d = Deliveries::default();
        assert!(d.first("a"));
        assert!(!d.first("a"));
        for i in 0..REMEMBERED_DELIVERIES {
            d.first(&i.to_string());
        }
        assert!(d.first("a"), "forgotten once 10,000 newer ones came");
        assert_eq!(d.order.len(), REMEMBERED_DELIVERIES);
        assert_eq!(d.seen.len(), REMEMBERED_DELIVERIES);
    }
}
