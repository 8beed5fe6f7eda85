//! Building clients from the global flags, with the credential each
//! endpoint accepts.

use std::path::Path;

use anthropic_environments::credentials::{Credential, CredentialKind};
use anthropic_environments::{AcceptedCredential, Client, ClientBuilder, Operation};

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

    /// A client with the first credential `operation` accepts (in the
    /// spec's order) among those given.
    pub fn client(&self, operation: &Operation) -> Result<Client, CliError> {
        let credential = operation
            .credentials
            .iter()
            .find_map(|accepted| match accepted {
                AcceptedCredential::ApiKey => self
                    .api_key
                    .as_ref()
                    .map(|k| Credential::new(CredentialKind::ApiKey, k.expose())),
                AcceptedCredential::EnvironmentKey => self
                    .environment_key
                    .as_ref()
                    .map(|k| Credential::new(CredentialKind::EnvironmentKey, k.expose())),
                _ => None,
            })
            .ok_or_else(|| CliError::Usage(needs(operation)))?;
        Ok(self.builder().credential(credential).build()?)
    }
}

/// What to set for `operation`, in words.
fn needs(operation: &Operation) -> String {
    let options: Vec<&str> = operation
        .credentials
        .iter()
        .filter_map(|accepted| match accepted {
            AcceptedCredential::ApiKey => Some("an API key: set ANTHROPIC_API_KEY (or --api-key)"),
            AcceptedCredential::EnvironmentKey => Some(
                "the environment key: set ANTHROPIC_ENVIRONMENT_KEY (or --environment-key-file)",
            ),
            _ => None,
        })
        .collect();
    format!("this command needs {}", options.join(", or "))
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

#[cfg(test)]
mod tests {
    use super::*;
    use anthropic_environments::operations;

    #[test]
    fn what_a_command_needs_comes_from_the_spec() {
        assert_eq!(
            needs(&operations::LIST_WORK),
            "this command needs the environment key: set ANTHROPIC_ENVIRONMENT_KEY (or \
             --environment-key-file)"
        );
        assert_eq!(
            needs(&operations::WORK_STATS),
            "this command needs an API key: set ANTHROPIC_API_KEY (or --api-key), or the \
             environment key: set ANTHROPIC_ENVIRONMENT_KEY (or --environment-key-file)"
        );
        // `environments` builds one client for all its subcommands.
        for op in operations::ALL.iter().filter(|op| op.tag == "environments") {
            assert_eq!(
                op.credentials,
                operations::LIST_ENVIRONMENTS.credentials,
                "{}",
                op.id
            );
        }
    }
}
