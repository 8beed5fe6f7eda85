//! Building clients from the global flags, with the credential each
//! endpoint accepts.

use std::path::Path;

use anthropic_environments::credentials::{Credential, CredentialKind};
use anthropic_environments::{Client, ClientBuilder};

use crate::cli::GlobalArgs;
use crate::error::CliError;
use crate::secret::SecretArg;

/// The credentials and connection settings of a run.
#[derive(Debug)]
pub struct Connection {
    base_url: String,
    workspace_id: Option<String>,
    api_key: Option<SecretArg>,
    environment_key: Option<SecretArg>,
}

/// Which credential an operation prefers, in order (the API rejects the
/// others, or accepts both).
#[derive(Clone, Copy, Debug)]
pub enum Needs {
    /// Environments CRUD, work retrieve and update: an API key only.
    ApiKey,
    /// Work list, poll and ack: the environment key (an API key is
    /// rejected by `list`; the official workers poll with the key).
    EnvironmentKey,
    /// Work stats and stop: either, the API key first.
    Either,
}

impl Connection {
    /// From the global flags; reads `--environment-key-file`.
    pub fn new(global: &GlobalArgs) -> Result<Self, CliError> {
        let given = SecretArg::given(global.environment_key.as_ref());
        let environment_key = match (given, &global.environment_key_file) {
            (Some(key), _) => Some(key.clone()),
            (None, Some(path)) => Some(read_key_file(path)?),
            (None, None) => None,
        };
        Ok(Connection {
            base_url: global.base_url.clone(),
            workspace_id: global.workspace_id.clone(),
            api_key: SecretArg::given(global.api_key.as_ref()).cloned(),
            environment_key,
        })
    }

    /// The environment key, when there is one.
    pub fn environment_key(&self) -> Option<&SecretArg> {
        self.environment_key.as_ref()
    }

    /// A client builder with the base URL and workspace, no credential.
    pub fn builder(&self) -> ClientBuilder {
        let mut builder = Client::builder().base_url(&self.base_url);
        if let Some(workspace) = &self.workspace_id {
            builder = builder.workspace_id(workspace);
        }
        builder
    }

    /// A client with the credential `needs` prefers among those given.
    pub fn client(&self, needs: Needs) -> Result<Client, CliError> {
        let api = self
            .api_key
            .as_ref()
            .map(|k| Credential::new(CredentialKind::ApiKey, k.expose()));
        let env = self
            .environment_key
            .as_ref()
            .map(|k| Credential::new(CredentialKind::EnvironmentKey, k.expose()));
        let credential = match needs {
            Needs::ApiKey => api.ok_or_else(|| {
                CliError::Usage(
                    "this command needs an API key: set ANTHROPIC_API_KEY (or --api-key)".into(),
                )
            })?,
            Needs::EnvironmentKey => env.or(api).ok_or_else(|| {
                CliError::Usage(
                    "this command needs the environment key: set ANTHROPIC_ENVIRONMENT_KEY \
                     (or --environment-key-file)"
                        .into(),
                )
            })?,
            Needs::Either => api.or(env).ok_or_else(|| {
                CliError::Usage(
                    "this command needs an API key or the environment key: set \
                     ANTHROPIC_API_KEY or ANTHROPIC_ENVIRONMENT_KEY"
                        .into(),
                )
            })?,
        };
        Ok(self.builder().credential(credential).build()?)
    }
}

/// Reads a key from a file (a mounted Secret), trimmed.
fn read_key_file(path: &Path) -> Result<SecretArg, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::Usage(format!(
            "cannot read the environment key file {}: {e}",
            path.display()
        ))
    })?;
    let key: SecretArg = text.parse().map_err(|e: String| CliError::Usage(e))?;
    match SecretArg::given(Some(&key)) {
        Some(_) => Ok(key),
        None => Err(CliError::Usage(format!(
            "the environment key file {} is empty",
            path.display()
        ))),
    }
}
