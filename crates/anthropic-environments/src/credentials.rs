//! The credentials of this API, and a work item's decoded `secret`.
//!
//! Every credential goes out as `Authorization: Bearer ...`; which one an
//! endpoint accepts depends on the endpoint (each operation's docs say):
//!
//! | kind | from | used for |
//! | --- | --- | --- |
//! | [`CredentialKind::ApiKey`] | `ANTHROPIC_API_KEY` | environments, retrieving and updating work |
//! | [`CredentialKind::AuthToken`] | `ANTHROPIC_AUTH_TOKEN` | whatever the token's issuer allows |
//! | [`CredentialKind::EnvironmentKey`] | `ANTHROPIC_ENVIRONMENT_KEY` | a worker's poll, ack, list, stats, stop |
//! | [`CredentialKind::SessionsToken`] | a polled item's `secret` | that item's heartbeat, stop and session calls |
//!
//! None of them is ever printed: `Debug` shows the kind only.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;

/// What a [`Credential`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialKind {
    /// An organisation API key (`sk-ant-api...`).
    ApiKey,
    /// An OAuth-style bearer token (`ANTHROPIC_AUTH_TOKEN`).
    AuthToken,
    /// A self-hosted environment's key (`sk-ant-oat01-...`), a worker's
    /// standing credential.
    EnvironmentKey,
    /// A work item's sessions token (`sk-ant-req-...`), valid for that item.
    SessionsToken,
}

impl CredentialKind {
    /// The environment variable this kind is read from, if any.
    pub fn env_var(self) -> Option<&'static str> {
        match self {
            CredentialKind::ApiKey => Some("ANTHROPIC_API_KEY"),
            CredentialKind::AuthToken => Some("ANTHROPIC_AUTH_TOKEN"),
            CredentialKind::EnvironmentKey => Some("ANTHROPIC_ENVIRONMENT_KEY"),
            CredentialKind::SessionsToken => None,
        }
    }
}

/// A bearer credential. Never printed: `Debug` shows only its kind.
///
/// ```
/// use anthropic_environments::credentials::{Credential, CredentialKind};
/// let key = Credential::environment_key("sk-ant-oat01-example");
/// assert_eq!(key.kind(), CredentialKind::EnvironmentKey);
/// assert!(!format!("{key:?}").contains("example"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    kind: CredentialKind,
    secret: Arc<str>,
}

impl Credential {
    /// A credential of `kind`.
    pub fn new(kind: CredentialKind, secret: impl Into<String>) -> Self {
        Credential {
            kind,
            secret: secret.into().into(),
        }
    }

    /// An organisation API key.
    pub fn api_key(key: impl Into<String>) -> Self {
        Self::new(CredentialKind::ApiKey, key)
    }

    /// A bearer token.
    pub fn auth_token(token: impl Into<String>) -> Self {
        Self::new(CredentialKind::AuthToken, token)
    }

    /// A self-hosted environment's key.
    pub fn environment_key(key: impl Into<String>) -> Self {
        Self::new(CredentialKind::EnvironmentKey, key)
    }

    /// A work item's sessions token.
    pub fn sessions_token(token: impl Into<String>) -> Self {
        Self::new(CredentialKind::SessionsToken, token)
    }

    /// Reads the first non-empty variable of `kinds`, in order.
    pub fn from_env_vars(kinds: &[CredentialKind]) -> Option<Self> {
        kinds.iter().find_map(|&kind| {
            let var = kind.env_var()?;
            let value = std::env::var(var).ok()?;
            let value = value.trim();
            (!value.is_empty()).then(|| Self::new(kind, value))
        })
    }

    /// What this credential is.
    pub fn kind(&self) -> CredentialKind {
        self.kind
    }

    /// The secret itself, for code that must send it somewhere else. Never
    /// log it.
    pub fn expose(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credential({:?}, <redacted>)", self.kind)
    }
}

/// A work item's decoded `secret` (the API's `BetaWorkSecret`): the sessions
/// token for the item's heartbeat, stop and session-level calls, and the base
/// URL for them. Never printed: `Debug` redacts the token.
///
/// ```
/// use anthropic_environments::credentials::WorkSecret;
/// // URL-safe base64 of {"sessions_token":"sk-ant-req-x"}, padding dropped.
/// let secret = WorkSecret::decode("eyJzZXNzaW9uc190b2tlbiI6InNrLWFudC1yZXEteCJ9").unwrap();
/// assert_eq!(secret.sessions_token().expose(), "sk-ant-req-x");
/// assert_eq!(secret.api_base_url(), None);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct WorkSecret {
    token: Credential,
    api_base_url: Option<String>,
    raw: Arc<str>,
}

/// Why a work item's `secret` could not be decoded. Says what was wrong,
/// never what the secret holds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Not URL-safe base64 (with or without padding).
    #[error("the work secret is not URL-safe base64")]
    NotBase64,
    /// Base64, but not a JSON object.
    #[error("the work secret does not hold a JSON object")]
    NotJson,
    /// A JSON object without a non-empty `sessions_token` string.
    #[error("the work secret has no sessions_token")]
    NoSessionsToken,
}

impl WorkSecret {
    /// Decodes a `secret` as the official workers do: URL-safe base64 with or
    /// without padding, of a JSON object with `sessions_token` and an
    /// optional `api_base_url`. Other fields are ignored.
    pub fn decode(secret: &str) -> Result<Self, SecretError> {
        let trimmed = secret.trim().trim_end_matches('=');
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(trimmed)
            .map_err(|_| SecretError::NotBase64)?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|_| SecretError::NotJson)?;
        let object = value.as_object().ok_or(SecretError::NotJson)?;
        let token = object
            .get("sessions_token")
            .and_then(serde_json::Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or(SecretError::NoSessionsToken)?;
        let api_base_url = object
            .get("api_base_url")
            .and_then(serde_json::Value::as_str)
            .filter(|u| !u.is_empty())
            .map(str::to_owned);
        Ok(WorkSecret {
            token: Credential::sessions_token(token),
            api_base_url,
            raw: secret.into(),
        })
    }

    /// The sessions token, the bearer for this item's calls.
    pub fn sessions_token(&self) -> &Credential {
        &self.token
    }

    /// The base URL for this item's calls, when the secret names one.
    pub fn api_base_url(&self) -> Option<&str> {
        self.api_base_url.as_deref()
    }

    /// The secret as it came on the wire (to hand to another process that
    /// serves the item). Never log it.
    pub fn expose_raw(&self) -> &str {
        &self.raw
    }
}

impl fmt::Debug for WorkSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkSecret")
            .field("sessions_token", &"<redacted>")
            .field("api_base_url", &self.api_base_url)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(json: &str, padded: bool) -> String {
        if padded {
            base64::engine::general_purpose::URL_SAFE.encode(json)
        } else {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
        }
    }

    #[test]
    fn decodes_with_and_without_padding() {
        let json = r#"{"sessions_token":"sk-ant-req-abc","api_base_url":"http://127.0.0.1:1","ingress_token":"x"}"#;
        for padded in [true, false] {
            let secret = WorkSecret::decode(&encode(json, padded)).unwrap();
            assert_eq!(secret.sessions_token().expose(), "sk-ant-req-abc");
            assert_eq!(
                secret.sessions_token().kind(),
                CredentialKind::SessionsToken
            );
            assert_eq!(secret.api_base_url(), Some("http://127.0.0.1:1"));
            let debug = format!("{secret:?}");
            assert!(!debug.contains("abc"), "{debug}");
        }
    }

    #[test]
    fn bad_secrets_say_what_is_wrong_without_the_content() {
        assert_eq!(
            WorkSecret::decode("not base64!").unwrap_err(),
            SecretError::NotBase64
        );
        assert_eq!(
            WorkSecret::decode(&encode("sk-ant-req-plain", false)).unwrap_err(),
            SecretError::NotJson
        );
        assert_eq!(
            WorkSecret::decode(&encode("[1]", false)).unwrap_err(),
            SecretError::NotJson
        );
        assert_eq!(
            WorkSecret::decode(&encode(r#"{"sessions_token":""}"#, false)).unwrap_err(),
            SecretError::NoSessionsToken
        );
        assert_eq!(
            WorkSecret::decode(&encode(r#"{"sessions_token":7}"#, false)).unwrap_err(),
            SecretError::NoSessionsToken
        );
        let message = SecretError::NoSessionsToken.to_string();
        assert!(!message.contains("sk-ant"));
    }

    #[test]
    fn credentials_never_print() {
        let c = Credential::api_key("sk-ant-api-secret");
        assert_eq!(format!("{c:?}"), "Credential(ApiKey, <redacted>)");
    }
}
