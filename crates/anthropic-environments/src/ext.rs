//! Accessors on the types the API returns: sealed extension traits (in the
//! [`prelude`](crate::prelude)), e.g. `work.is_terminal()`,
//! `work.session_id()`, `environment.allowed_hosts()`.

use crate::params::PackageManager;
use crate::types::{
    BetaCloudConfig, BetaEnvironment, BetaEnvironmentConfig, BetaLimitedNetwork, BetaNetworking,
    BetaPackages, BetaSelfHostedWork, BetaWorkData, BetaWorkState,
};

/// Accessors on an environment's configuration (also on [`BetaEnvironment`]).
pub trait ConfigExt: sealed::Sealed {
    /// The configuration.
    fn config_ref(&self) -> &BetaEnvironmentConfig;

    /// Whether this is an Anthropic cloud environment.
    fn is_cloud(&self) -> bool {
        matches!(self.config_ref(), BetaEnvironmentConfig::Cloud(_))
    }

    /// Whether this is a self-hosted environment.
    fn is_self_hosted(&self) -> bool {
        matches!(self.config_ref(), BetaEnvironmentConfig::SelfHosted(_))
    }

    /// The cloud configuration, if cloud.
    fn cloud(&self) -> Option<&BetaCloudConfig> {
        match self.config_ref() {
            BetaEnvironmentConfig::Cloud(c) => Some(c),
            _ => None,
        }
    }

    /// The networking policy, if cloud.
    fn networking(&self) -> Option<&BetaNetworking> {
        self.cloud().map(|c| &c.networking)
    }

    /// The allowed hosts of limited networking (empty otherwise).
    fn allowed_hosts(&self) -> &[String] {
        self.networking()
            .map(NetworkingExt::allowed_hosts)
            .unwrap_or(&[])
    }

    /// The packages, if cloud.
    fn packages(&self) -> Option<&BetaPackages> {
        self.cloud().map(|c| &c.packages)
    }
}

impl ConfigExt for BetaEnvironmentConfig {
    fn config_ref(&self) -> &BetaEnvironmentConfig {
        self
    }
}

impl ConfigExt for BetaEnvironment {
    fn config_ref(&self) -> &BetaEnvironmentConfig {
        &self.config
    }
}

/// Accessors on an environment.
pub trait EnvironmentExt: sealed::Sealed {
    /// Whether the environment is archived.
    fn is_archived(&self) -> bool;
}

impl EnvironmentExt for BetaEnvironment {
    fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }
}

/// Accessors on a networking policy.
pub trait NetworkingExt: sealed::Sealed {
    /// Whether access is unrestricted.
    fn is_unrestricted(&self) -> bool;
    /// The limited policy, if limited.
    fn limited(&self) -> Option<&BetaLimitedNetwork>;
    /// The allowed hosts of a limited policy (empty otherwise).
    fn allowed_hosts(&self) -> &[String] {
        self.limited()
            .map(|l| l.allowed_hosts.as_slice())
            .unwrap_or(&[])
    }
}

impl NetworkingExt for BetaNetworking {
    fn is_unrestricted(&self) -> bool {
        matches!(self, BetaNetworking::Unrestricted(_))
    }

    fn limited(&self) -> Option<&BetaLimitedNetwork> {
        match self {
            BetaNetworking::Limited(l) => Some(l),
            _ => None,
        }
    }
}

/// Accessors on installed packages.
pub trait PackagesExt: sealed::Sealed {
    /// The packages of one manager.
    fn of(&self, manager: PackageManager) -> &[String];
    /// Whether no package is installed.
    fn is_empty(&self) -> bool {
        PackageManager::ALL.iter().all(|m| self.of(*m).is_empty())
    }
}

impl PackagesExt for BetaPackages {
    fn of(&self, manager: PackageManager) -> &[String] {
        match manager {
            PackageManager::Apt => &self.apt,
            PackageManager::Cargo => &self.cargo,
            PackageManager::Gem => &self.gem,
            PackageManager::Go => &self.go,
            PackageManager::Npm => &self.npm,
            PackageManager::Pip => &self.pip,
        }
    }
}

/// Predicates on a work item's state.
pub trait WorkStateExt: sealed::Sealed {
    /// The state.
    fn state_ref(&self) -> &BetaWorkState;

    /// Stopped: nothing more will happen to the item.
    fn is_terminal(&self) -> bool {
        matches!(self.state_ref(), BetaWorkState::Stopped)
    }

    /// Waiting in the queue.
    fn is_queued(&self) -> bool {
        matches!(self.state_ref(), BetaWorkState::Queued)
    }

    /// Claimed and starting or running.
    fn is_running(&self) -> bool {
        matches!(
            self.state_ref(),
            BetaWorkState::Starting | BetaWorkState::Active
        )
    }

    /// Asked to stop, or stopped: a worker should wind down.
    fn is_stopping_or_stopped(&self) -> bool {
        matches!(
            self.state_ref(),
            BetaWorkState::Stopping | BetaWorkState::Stopped
        )
    }
}

impl WorkStateExt for BetaWorkState {
    fn state_ref(&self) -> &BetaWorkState {
        self
    }
}

impl WorkStateExt for BetaSelfHostedWork {
    fn state_ref(&self) -> &BetaWorkState {
        &self.state
    }
}

/// Accessors of a work item's `data` (a [`BetaWorkData`] union), for a work
/// item or its data.
///
/// ```
/// use anthropic_environments::prelude::*;
/// let data: WorkData = serde_json::from_str(r#"{"type":"session","id":"session_1"}"#).unwrap();
/// assert_eq!(data.session_id(), Some("session_1"));
/// let check: WorkData = serde_json::from_str(r#"{"type":"healthcheck","id":"hc_1"}"#).unwrap();
/// assert_eq!(check.session_id(), None);
/// assert_eq!(check.data_id(), Some("hc_1"));
/// assert_eq!(check.data_type(), Some("healthcheck"));
/// ```
pub trait WorkDataExt: sealed::Sealed {
    /// The data.
    fn data_ref(&self) -> &BetaWorkData;

    /// The session to run, when this is a `session` item.
    fn session_id(&self) -> Option<&str> {
        match self.data_ref() {
            BetaWorkData::Session(session) => Some(&session.id),
            _ => None,
        }
    }

    /// The data's `id` of any type (for an unknown type, its string `id`).
    fn data_id(&self) -> Option<&str> {
        match self.data_ref() {
            BetaWorkData::Session(d) => Some(&d.id),
            BetaWorkData::Healthcheck(d) => Some(&d.id),
            BetaWorkData::Unknown(value) => value.get("id").and_then(serde_json::Value::as_str),
            _ => None,
        }
    }

    /// The data's `type` (`session`, `healthcheck`, or an unknown one).
    fn data_type(&self) -> Option<&str> {
        self.data_ref().tag()
    }
}

impl WorkDataExt for BetaWorkData {
    fn data_ref(&self) -> &BetaWorkData {
        self
    }
}

impl WorkDataExt for BetaSelfHostedWork {
    fn data_ref(&self) -> &BetaWorkData {
        &self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::PackageManager;
    use serde_json::json;

    #[test]
    fn accessors() {
        let config: BetaEnvironmentConfig = serde_json::from_value(json!({
            "type": "cloud",
            "networking": {"type": "limited", "allowed_hosts": ["h"], "allow_mcp_servers": false,
                           "allow_package_managers": true},
            "packages": {"apt": [], "cargo": [], "gem": [], "go": ["x"], "npm": [], "pip": []}
        }))
        .unwrap();
        assert!(config.is_cloud() && !config.is_self_hosted());
        assert_eq!(config.allowed_hosts(), ["h"]);
        assert!(!config.networking().unwrap().is_unrestricted());
        assert_eq!(config.packages().unwrap().of(PackageManager::Go), ["x"]);
        assert!(!config.packages().unwrap().is_empty());
        let sh: BetaEnvironmentConfig =
            serde_json::from_value(json!({"type": "self_hosted"})).unwrap();
        assert!(sh.is_self_hosted() && sh.allowed_hosts().is_empty() && sh.packages().is_none());
    }

    #[test]
    fn state_predicates() {
        assert!(BetaWorkState::Stopped.is_terminal());
        assert!(!BetaWorkState::Stopping.is_terminal());
        assert!(BetaWorkState::Stopping.is_stopping_or_stopped());
        assert!(BetaWorkState::Active.is_running() && BetaWorkState::Starting.is_running());
        assert!(BetaWorkState::Queued.is_queued());
        let unknown = BetaWorkState::from("paused");
        assert!(!unknown.is_terminal() && !unknown.is_running() && !unknown.is_queued());
    }
}

/// The accessor traits are implemented for this crate's types only, so that
/// methods can be added to them without breaking anyone.
mod sealed {
    use crate::types::{
        BetaEnvironment, BetaEnvironmentConfig, BetaNetworking, BetaPackages, BetaSelfHostedWork,
        BetaWorkData, BetaWorkState,
    };

    pub trait Sealed {}
    impl Sealed for BetaEnvironmentConfig {}
    impl Sealed for BetaEnvironment {}
    impl Sealed for BetaNetworking {}
    impl Sealed for BetaPackages {}
    impl Sealed for BetaWorkState {}
    impl Sealed for BetaSelfHostedWork {}
    impl Sealed for BetaWorkData {}
}
