//! Webhook deliveries, so a webhook-triggered worker runs offline: the
//! endpoints registered through the control surface get, signed as
//! Standard Webhooks say (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`), a
//! `session.status_run_started` event whenever a session's work is queued,
//! and any event the control surface asks for.
//!
//! Their control routes are in `routes/webhooks.rs`.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anthropic_environments::webhooks::WebhookVerifier;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

/// How long one delivery may take.
const DELIVERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The prefix of a signing key as the API shows it.
const KEY_PREFIX: &str = "whsec_";

/// One registered endpoint, and what signs its deliveries.
struct Endpoint {
    url: String,
    signer: WebhookVerifier,
}

/// The registered endpoints and the client that delivers to them.
pub(crate) struct Webhooks {
    endpoints: Mutex<Vec<Endpoint>>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Webhooks {
    fn default() -> Self {
        Webhooks {
            endpoints: Mutex::default(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }
}

/// How one endpoint answered a delivery (`None`: it could not be reached).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The endpoint.
    pub url: String,
    /// Its answer's status.
    pub status: Option<u16>,
}

impl Webhooks {
    /// Registers `url`, signing for it with `signing_key` (`whsec_` and
    /// base64) or a new one; the key.
    pub(crate) fn add(&self, url: &str, signing_key: Option<&str>) -> Result<String, String> {
        if !url.starts_with("http://") {
            return Err(format!("{url:?}: only http:// endpoints are delivered to"));
        }
        let shown = match signing_key {
            Some(given) => {
                let given = given.trim();
                match given.starts_with(KEY_PREFIX) {
                    true => given.to_owned(),
                    false => format!("{KEY_PREFIX}{given}"),
                }
            }
            None => {
                let key: Vec<u8> = (0..24).map(|_| fastrand::u8(..)).collect();
                format!(
                    "{KEY_PREFIX}{}",
                    base64::engine::general_purpose::STANDARD.encode(key)
                )
            }
        };
        // The facade's verifier signs as it verifies: one implementation
        // of the scheme for both ends.
        let signer = WebhookVerifier::new(&shown).map_err(|e| format!("signing_key: {e}"))?;
        self.lock().push(Endpoint {
            url: url.to_owned(),
            signer,
        });
        Ok(shown)
    }

    /// Forgets every endpoint.
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Endpoint>> {
        self.endpoints.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Delivers an event of `event_type` about `id` to every endpoint,
    /// signed with its key, as delivery `webhook_id` (new when `None`).
    pub(crate) async fn deliver(
        &self,
        event_type: &str,
        id: &str,
        webhook_id: Option<String>,
    ) -> Vec<Delivery> {
        let webhook_id = webhook_id.unwrap_or_else(|| format!("msg_{:016x}", fastrand::u64(..)));
        let body = json!({
            "type": "event",
            // One event id per delivery id: a repeat is the same event.
            "id": format!("wevt_{}", webhook_id.trim_start_matches("msg_")),
            "created_at": crate::clock::format_rfc3339(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_micros() as u64),
            ),
            "data": {"type": event_type, "id": id, "organization_id": "org_mock",
                     "workspace_id": "wrkspc_mock"},
        })
        .to_string();
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let requests: Vec<(String, String)> = self
            .lock()
            .iter()
            .map(|endpoint| {
                let signature = endpoint
                    .signer
                    .sign(&webhook_id, timestamp, body.as_bytes());
                (endpoint.url.clone(), signature)
            })
            .collect();
        let mut answers = Vec::new();
        for (url, signature) in requests {
            let request = hyper::Request::post(url.as_str())
                .header("content-type", "application/json")
                .header("webhook-id", &webhook_id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(Full::new(Bytes::from(body.clone())));
            let status = match request {
                // An endpoint that never answers is given up on.
                Ok(request) => tokio::time::timeout(DELIVERY_TIMEOUT, self.client.request(request))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .map(|r| r.status().as_u16()),
                Err(_) => None,
            };
            tracing::debug!(url, status, event_type, "webhook delivered");
            answers.push(Delivery { url, status });
        }
        answers
    }

    /// Announces that `session_id` has work, to every endpoint, without
    /// waiting for their answers.
    pub(crate) fn announce_run(self: &Arc<Self>, session_id: &str) {
        if self.lock().is_empty() {
            return;
        }
        let webhooks = self.clone();
        let session_id = session_id.to_owned();
        tokio::spawn(async move {
            webhooks
                .deliver("session.status_run_started", &session_id, None)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_are_signed_with_the_endpoint_key() {
        let webhooks = Webhooks::default();
        let key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        webhooks.add("http://127.0.0.1:1/hook", Some(key)).unwrap();
        let endpoints = webhooks.lock();
        // The Standard Webhooks test vector.
        assert_eq!(
            endpoints[0].signer.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn endpoints_need_http_urls_and_usable_keys() {
        let webhooks = Webhooks::default();
        assert!(webhooks.add("https://example.com/hook", None).is_err());
        assert!(
            webhooks
                .add("http://127.0.0.1:1/hook", Some("whsec_!!"))
                .is_err()
        );
        let key = webhooks.add("http://127.0.0.1:1/hook", None).unwrap();
        assert!(key.starts_with("whsec_") && key.len() > 30, "{key}");
        let given = webhooks
            .add(
                "http://127.0.0.1:1/hook",
                Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            )
            .unwrap();
        assert_eq!(given, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    }
}
