//! Webhook deliveries: their [Standard Webhooks] signature verified, then
//! their event read.
//!
//! The API signs each delivery with the endpoint's signing key (`whsec_`
//! and base64, `ANTHROPIC_WEBHOOK_SIGNING_KEY` in the official SDKs): an
//! HMAC-SHA256 over `webhook-id.webhook-timestamp.body`, sent as one or
//! more `v1,<base64>` entries of `webhook-signature`. A delivery is only
//! trusted when one entry matches (compared in constant time) and its
//! timestamp is within five minutes of now, either way: a replayed or
//! forged delivery gets an error and no event.
//!
//! ```
//! use anthropic_environments::webhooks::{WebhookEventType, WebhookVerifier};
//! # fn handle(headers: &http::HeaderMap, body: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let event = verifier.verify(headers, body)?; // answer 401 on an error
//! if event.data.type_ == WebhookEventType::SessionStatusRunStarted {
//!     println!("session {} has work: drain the queue", event.data.id);
//! }
//! # Ok(()) }
//! ```
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com/

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub use crate::types::BetaWebhookEvent as WebhookEvent;
pub use crate::types::BetaWebhookEventData as WebhookEventData;
pub use crate::types::BetaWebhookEventType as WebhookEventType;

/// The environment variable the official SDKs read the signing key from.
pub const SIGNING_KEY_ENV: &str = "ANTHROPIC_WEBHOOK_SIGNING_KEY";

/// How far a delivery's timestamp may be from now, either way, by default
/// (the Standard Webhooks libraries' five minutes).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The prefix of a signing key as the API shows it.
const KEY_PREFIX: &str = "whsec_";

/// Base64 as keys and signatures are written: standard alphabet, padding
/// optional (keys are often pasted without it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a delivery is not trusted (or not an event).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The signing key is empty or not base64 (after an optional `whsec_`).
    #[error("the webhook signing key is not usable: {0}")]
    InvalidKey(&'static str),
    /// A header the signature needs is missing (or not text).
    #[error("the delivery has no {0} header")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not a Unix time in seconds.
    #[error("the delivery's webhook-timestamp is not a Unix time in seconds")]
    InvalidTimestamp,
    /// The timestamp is further in the past than the tolerance (a replay,
    /// or a clock far off).
    #[error("the delivery's timestamp is too old (more than {0:?} ago)")]
    TooOld(Duration),
    /// The timestamp is further in the future than the tolerance.
    #[error("the delivery's timestamp is too new (more than {0:?} ahead)")]
    TooNew(Duration),
    /// No `v1` signature of the delivery matches the key.
    #[error("no signature of the delivery matches the signing key")]
    NoMatchingSignature,
    /// The signature matched, but the body is not a webhook event.
    #[error("the delivery is signed but is not a webhook event: {0}")]
    InvalidEvent(#[source] serde_json::Error),
}

impl WebhookError {
    /// Whether the delivery failed verification (answer 401), rather than
    /// being a signed body that is not an event (answer 400).
    pub fn is_unauthenticated(&self) -> bool {
        !matches!(self, WebhookError::InvalidEvent(_))
    }
}

/// Where "now" comes from (injectable, for tests and replays).
type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Verifies deliveries signed with one signing key. Cheap to clone; the
/// key never shows in `Debug`.
#[derive(Clone)]
pub struct WebhookVerifier {
    key: Arc<[u8]>,
    tolerance: Duration,
    clock: Clock,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("key", &"<redacted>")
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

impl WebhookVerifier {
    /// A verifier for `signing_key`: `whsec_` and base64 as the API shows
    /// it (the prefix and the padding are optional).
    pub fn new(signing_key: &str) -> Result<Self, WebhookError> {
        let encoded = signing_key.trim();
        let encoded = encoded.strip_prefix(KEY_PREFIX).unwrap_or(encoded);
        if encoded.is_empty() {
            return Err(WebhookError::InvalidKey("it is empty"));
        }
        let key = BASE64
            .decode(encoded)
            .map_err(|_| WebhookError::InvalidKey("it is not base64 after its whsec_ prefix"))?;
        if key.is_empty() {
            return Err(WebhookError::InvalidKey("it is empty"));
        }
        Ok(WebhookVerifier {
            key: key.into(),
            tolerance: DEFAULT_TOLERANCE,
            clock: Arc::new(SystemTime::now),
        })
    }

    /// How far a delivery's timestamp may be from now, either way
    /// (default [`DEFAULT_TOLERANCE`]).
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Where "now" comes from (default the system clock).
    pub fn clock(mut self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(now);
        self
    }

    /// Verifies a delivery from its headers (`webhook-id`,
    /// `webhook-timestamp`, `webhook-signature`) and raw body, then reads
    /// its event.
    pub fn verify(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        let header = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or(WebhookError::MissingHeader(name))
        };
        self.verify_signature(
            header("webhook-id")?,
            header("webhook-timestamp")?,
            header("webhook-signature")?,
            body,
        )?;
        serde_json::from_slice(body).map_err(WebhookError::InvalidEvent)
    }

    /// Verifies a delivery's signature from the values of its three
    /// headers and its raw body.
    pub fn verify_signature(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
    ) -> Result<(), WebhookError> {
        let seconds: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| WebhookError::InvalidTimestamp)?;
        self.check_time(seconds)?;
        let expected = self.mac(id, seconds, body);
        let matched = signatures
            .split(' ')
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, signature)| BASE64.decode(signature).ok())
            .any(|signature| expected.clone().verify_slice(&signature).is_ok());
        if matched {
            Ok(())
        } else {
            Err(WebhookError::NoMatchingSignature)
        }
    }

    /// The `webhook-signature` value of a delivery signed now with this key
    /// (`v1,<base64>`): for senders, such as a mock of the API.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp, body).finalize().into_bytes();
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(tag)
        )
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        // Any key length is accepted by HMAC.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    fn check_time(&self, seconds: i64) -> Result<(), WebhookError> {
        let now = match (self.clock)().duration_since(UNIX_EPOCH) {
            Ok(d) => i128::from(d.as_secs()),
            Err(before) => -i128::from(before.duration().as_secs()),
        };
        let tolerance = i128::from(self.tolerance.as_secs());
        let delta = now - i128::from(seconds);
        if delta > tolerance {
            Err(WebhookError::TooOld(self.tolerance))
        } else if -delta > tolerance {
            Err(WebhookError::TooNew(self.tolerance))
        } else {
            Ok(())
        }
    }
}
