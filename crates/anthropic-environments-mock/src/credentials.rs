//! Who may call what: the API's credentials and the endpoints that accept
//! each (see [`CredentialMode`]).

use anthropic_environments_raw::operation::Credential;
use std::collections::HashMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// How strictly the mock checks credentials. The API has three, and each
/// endpoint accepts some of them, as the official workers and SDK
/// docstrings describe:
///
/// - An **API key**: any bearer (or `x-api-key`) that is not one of the
///   keys and tokens below; with [`MockServerBuilder::api_key`](crate::MockServerBuilder::api_key)
///   set, only that key.
/// - An **environment key**, minted when an environment is created and shown
///   only through the control surface
///   ([`MockServer::environment_key`](crate::MockServer::environment_key),
///   `GET /_mock/environments/{id}/key`). It acts on its own environment.
/// - A **sessions token**, minted for each item a poll hands out and carried
///   in that poll's `secret`. It acts on that item only.
///
/// | operation | accepted (strict mode) |
/// | --- | --- |
/// | environments: create, list, retrieve, update, delete, archive | API key |
/// | `list_work` | environment key (an API key is rejected) |
/// | `retrieve_work`, `update_work` | API key |
/// | `work_stats`, `poll_work`, `ack_work` | API key or environment key |
/// | `heartbeat_work`, `stop_work` | API key, environment key, or the item's sessions token |
/// | sessions: retrieve, list, send and stream events | API key, the session's environment key, or the sessions token of an item serving the session |
/// | skills: retrieve a version, download its content | any of the three |
///
/// A credential the mock does not know is 401 `authentication_error`; a known
/// one used where it is not accepted (or for another environment or item) is
/// 403 `permission_error`. Nothing changes on a refused request.
/// [`CredentialMode::Any`] (the default) accepts any non-empty credential on
/// every endpoint, for demos.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CredentialMode {
    /// Any non-empty credential is accepted everywhere (the default).
    #[default]
    Any,
    /// Each endpoint accepts exactly the credentials the module docs list.
    Strict,
}

/// The kind of credential a request carried, as the journal records it (the
/// credential itself is never recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallerKind {
    /// No credential at all.
    None,
    /// An organisation API key.
    ApiKey,
    /// The environment key of this environment.
    EnvironmentKey {
        /// The environment the key belongs to.
        environment_id: String,
    },
    /// The sessions token of one work item.
    SessionsToken {
        /// The environment of the item.
        environment_id: String,
        /// The item the token was minted for.
        work_id: String,
    },
    /// A credential that is none of the above (strict mode with a configured
    /// API key).
    Unknown,
}

/// The keys and tokens the mock has minted. Its `Debug` counts them and
/// shows none.
#[derive(Default)]
pub(crate) struct Credentials {
    /// environment id -> its key.
    environment_keys: HashMap<String, String>,
    /// minted secret -> who it is.
    owners: HashMap<String, CallerKind>,
    minted: u64,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("environment_keys", &self.environment_keys.len())
            .field("minted", &self.minted)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    fn mint(&mut self, prefix: &str) -> String {
        self.minted += 1;
        format!("{prefix}-mock{:04}{:016x}", self.minted, fastrand::u64(..))
    }

    /// Mints the key of a new environment.
    pub(crate) fn new_environment(&mut self, environment_id: &str) {
        let key = self.mint("sk-ant-oat01");
        self.owners.insert(
            key.clone(),
            CallerKind::EnvironmentKey {
                environment_id: environment_id.to_owned(),
            },
        );
        self.environment_keys.insert(environment_id.to_owned(), key);
    }

    /// Forgets the key of a deleted environment and its items' tokens.
    pub(crate) fn remove_environment(&mut self, environment_id: &str) {
        self.environment_keys.remove(environment_id);
        self.owners.retain(|_, owner| match owner {
            CallerKind::EnvironmentKey { environment_id: e }
            | CallerKind::SessionsToken {
                environment_id: e, ..
            } => e != environment_id,
            _ => true,
        });
    }

    /// The key of an environment.
    pub(crate) fn environment_key(&self, environment_id: &str) -> Option<&str> {
        self.environment_keys
            .get(environment_id)
            .map(String::as_str)
    }

    /// Mints a sessions token for one item and returns the item's `secret`:
    /// URL-safe base64 without padding of `{"sessions_token", "api_base_url"}`.
    pub(crate) fn new_secret(
        &mut self,
        environment_id: &str,
        work_id: &str,
        api_base_url: Option<&str>,
    ) -> String {
        let token = self.mint("sk-ant-req");
        self.owners.insert(
            token.clone(),
            CallerKind::SessionsToken {
                environment_id: environment_id.to_owned(),
                work_id: work_id.to_owned(),
            },
        );
        let mut payload = serde_json::json!({ "sessions_token": token });
        if let Some(url) = api_base_url {
            payload["api_base_url"] = url.into();
        }
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string())
    }

    /// Who a credential is. `api_key`: the only API key accepted, if set.
    pub(crate) fn classify(&self, credential: Option<&str>, api_key: Option<&str>) -> CallerKind {
        let Some(credential) = credential else {
            return CallerKind::None;
        };
        if let Some(owner) = self.owners.get(credential) {
            return owner.clone();
        }
        // An environment key or sessions token the mock did not mint (or
        // has forgotten) is no API key.
        if ["sk-ant-oat01-", "sk-ant-req-"]
            .iter()
            .any(|prefix| credential.starts_with(prefix))
        {
            return CallerKind::Unknown;
        }
        match api_key {
            Some(expected) if expected != credential => CallerKind::Unknown,
            _ => CallerKind::ApiKey,
        }
    }
}

/// What a request is about, for the credential check.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) operation: &'a str,
    pub(crate) environment_id: Option<&'a str>,
    pub(crate) work_id: Option<&'a str>,
}

/// Why a credential was refused.
pub(crate) enum Denied {
    /// 401: no credential, or one the mock does not know.
    Unauthenticated(&'static str),
    /// 403: a known credential that may not do this.
    Forbidden(String),
}

/// Whether `caller` may call `target` in strict mode.
pub(crate) fn check(caller: &CallerKind, target: Target<'_>) -> Result<(), Denied> {
    let same_env = |env: &str| target.environment_id == Some(env);
    let api_key = matches!(caller, CallerKind::ApiKey);
    let env_key =
        matches!(caller, CallerKind::EnvironmentKey { environment_id } if same_env(environment_id));
    let item_token = matches!(caller, CallerKind::SessionsToken { environment_id, work_id }
        if same_env(environment_id) && target.work_id == Some(work_id.as_str()));
    // What the spec's `x-credentials` says each operation accepts. An
    // environment key counts for its own environment, a sessions token for
    // its own item (and the session that item serves: the caller set
    // `work_id` only then); skills belong to the organisation, so any
    // credential it issued counts there.
    let allowed = match anthropic_environments_raw::operations::find(target.operation) {
        Some(op) if op.tag == "skills" => !matches!(caller, CallerKind::None | CallerKind::Unknown),
        Some(op) => op.credentials.iter().any(|accepted| match accepted {
            Credential::ApiKey => api_key,
            Credential::EnvironmentKey => env_key,
            Credential::SessionsToken => item_token,
            _ => false,
        }),
        None => api_key,
    };
    if allowed {
        return Ok(());
    }
    Err(match caller {
        CallerKind::None => {
            Denied::Unauthenticated("missing credentials: send Authorization: Bearer <credential>")
        }
        CallerKind::Unknown => Denied::Unauthenticated("invalid credential"),
        CallerKind::ApiKey => Denied::Forbidden(format!(
            "{}: this endpoint does not accept an API key",
            target.operation
        )),
        CallerKind::EnvironmentKey { .. } => Denied::Forbidden(format!(
            "{}: this environment key may not call this endpoint here",
            target.operation
        )),
        CallerKind::SessionsToken { .. } => Denied::Forbidden(format!(
            "{}: this sessions token is valid only for its own work item's heartbeat and stop, and its session's calls",
            target.operation
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target<'a>(operation: &'a str, work_id: Option<&'a str>) -> Target<'a> {
        Target {
            operation,
            environment_id: Some("env_a"),
            work_id,
        }
    }

    #[test]
    fn debug_shows_no_key_or_token() {
        let mut creds = Credentials::default();
        creds.new_environment("env_a");
        let key = creds.environment_key("env_a").unwrap().to_owned();
        let secret = creds.new_secret("env_a", "work_1", None);
        let mut model = crate::model::Model::new(crate::Timing::default());
        model
            .create_environment(crate::built(
                anthropic_environments_raw::types::EnvironmentCreateParams::builder().name("e"),
            ))
            .unwrap();
        let model_key = model
            .environment_ids()
            .first()
            .and_then(|id| model.environment_key(id))
            .unwrap()
            .to_owned();
        for shown in [format!("{creds:?}"), format!("{model:?}")] {
            assert!(shown.contains("Credentials"), "{shown}");
            for secret in [&key, &secret, &model_key] {
                assert!(!shown.contains(secret.as_str()), "{shown}");
            }
        }
        let builder = crate::MockServer::builder().api_key("sk-ant-api03-mock-secret");
        let shown = format!("{builder:?}");
        assert!(
            shown.contains("<redacted>") && !shown.contains("mock-secret"),
            "{shown}"
        );
    }

    #[test]
    fn each_credential_reaches_only_its_endpoints() {
        let mut creds = Credentials::default();
        creds.new_environment("env_a");
        creds.new_environment("env_b");
        let key_a = creds.environment_key("env_a").unwrap().to_owned();
        let key_b = creds.environment_key("env_b").unwrap().to_owned();
        let secret = creds.new_secret("env_a", "work_1", None);
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&secret)
            .unwrap();
        let payload: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        let token = payload["sessions_token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("sk-ant-req-"));

        let a = creds.classify(Some(&key_a), None);
        let b = creds.classify(Some(&key_b), None);
        let t = creds.classify(Some(&token), None);
        let api = creds.classify(Some("sk-ant-api-anything"), None);
        assert_eq!(api, CallerKind::ApiKey);
        assert_eq!(
            creds.classify(Some("other"), Some("the-key")),
            CallerKind::Unknown
        );

        assert!(check(&a, target("list_work", None)).is_ok());
        assert!(check(&b, target("list_work", None)).is_err());
        assert!(check(&api, target("list_work", None)).is_err());
        assert!(check(&api, target("retrieve_work", Some("work_1"))).is_ok());
        assert!(check(&a, target("retrieve_work", Some("work_1"))).is_err());
        assert!(check(&t, target("heartbeat_work", Some("work_1"))).is_ok());
        assert!(check(&t, target("heartbeat_work", Some("work_2"))).is_err());
        assert!(check(&t, target("stop_work", Some("work_1"))).is_ok());
        assert!(check(&t, target("poll_work", None)).is_err());
        assert!(check(&a, target("create_environment", None)).is_err());
        assert!(check(&CallerKind::None, target("poll_work", None)).is_err());

        creds.remove_environment("env_a");
        assert_eq!(creds.classify(Some(&key_a), None), CallerKind::Unknown);
        assert_eq!(creds.classify(Some(&token), None), CallerKind::Unknown);
        assert!(check(&CallerKind::Unknown, target("poll_work", None)).is_err());
    }
}
