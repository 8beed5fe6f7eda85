//! One-line environment configurations, and accessors on the configurations
//! the API returns.
//!
//! ```
//! use anthropic_environments::config::{CloudConfig, LimitedNetwork, Packages, SelfHostedConfig};
//! use anthropic_environments::types::BetaEnvironmentConfigParams;
//!
//! let open: BetaEnvironmentConfigParams = CloudConfig::unrestricted().into();
//! let locked: BetaEnvironmentConfigParams = CloudConfig::limited(
//!     LimitedNetwork::new().allow_hosts(["api.example.com"]).allow_package_managers(true),
//! )
//! .packages(Packages::new().pip(["pandas", "numpy"]).apt(["jq"]))
//! .into();
//! let own: BetaEnvironmentConfigParams = SelfHostedConfig.into();
//! assert_eq!(serde_json::to_value(&own).unwrap(), serde_json::json!({"type": "self_hosted"}));
//! ```

use crate::types::{
    BetaCloudConfig, BetaCloudConfigParams, BetaCloudConfigParamsType, BetaEnvironment,
    BetaEnvironmentConfig, BetaEnvironmentConfigParams, BetaLimitedNetwork,
    BetaLimitedNetworkParams, BetaLimitedNetworkParamsType, BetaNetworking, BetaNetworkingParams,
    BetaPackages, BetaPackagesParams, BetaSelfHostedConfigParams, BetaSelfHostedConfigParamsType,
    BetaSelfHostedWork, BetaUnrestrictedNetwork, BetaUnrestrictedNetworkType, BetaWorkData,
    BetaWorkState,
};

/// A package manager of [`Packages`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PackageManager {
    /// Ubuntu/Debian packages.
    Apt,
    /// Rust crates.
    Cargo,
    /// Ruby gems.
    Gem,
    /// Go modules.
    Go,
    /// Node.js packages.
    Npm,
    /// Python packages.
    Pip,
}

impl PackageManager {
    /// Every package manager, in wire order.
    pub const ALL: [PackageManager; 6] = [
        PackageManager::Apt,
        PackageManager::Cargo,
        PackageManager::Gem,
        PackageManager::Go,
        PackageManager::Npm,
        PackageManager::Pip,
    ];
}

/// Packages to install in a cloud environment, per manager. Versions use
/// each manager's syntax (e.g. `pandas==2.2.0` for pip).
#[derive(Clone, Debug, Default, PartialEq)]
#[must_use]
pub struct Packages(BetaPackagesParams);

fn strings<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

impl Packages {
    /// No packages.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the packages of one manager.
    pub fn with<I, S>(mut self, manager: PackageManager, packages: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let list = Some(strings(packages));
        let p = &mut self.0;
        match manager {
            PackageManager::Apt => p.apt = list,
            PackageManager::Cargo => p.cargo = list,
            PackageManager::Gem => p.gem = list,
            PackageManager::Go => p.go = list,
            PackageManager::Npm => p.npm = list,
            PackageManager::Pip => p.pip = list,
        }
        self
    }

    /// Ubuntu/Debian packages.
    pub fn apt<I: IntoIterator<Item = S>, S: Into<String>>(self, packages: I) -> Self {
        self.with(PackageManager::Apt, packages)
    }

    /// Rust crates.
    pub fn cargo<I: IntoIterator<Item = S>, S: Into<String>>(self, packages: I) -> Self {
        self.with(PackageManager::Cargo, packages)
    }

    /// Ruby gems.
    pub fn gem<I: IntoIterator<Item = S>, S: Into<String>>(self, packages: I) -> Self {
        self.with(PackageManager::Gem, packages)
    }

    /// Go modules.
    pub fn go<I: IntoIterator<Item = S>, S: Into<String>>(self, packages: I) -> Self {
        self.with(PackageManager::Go, packages)
    }

    /// Node.js packages.
    pub fn npm<I: IntoIterator<Item = S>, S: Into<String>>(self, packages: I) -> Self {
        self.with(PackageManager::Npm, packages)
    }

    /// Python packages.
    pub fn pip<I: IntoIterator<Item = S>, S: Into<String>>(self, packages: I) -> Self {
        self.with(PackageManager::Pip, packages)
    }
}

impl From<Packages> for BetaPackagesParams {
    fn from(p: Packages) -> Self {
        p.0
    }
}

/// Limited networking: only the listed hosts, plus MCP servers and package
/// registries when allowed. Unset fields take the server's defaults (on
/// update: keep their value).
#[derive(Clone, Debug, Default, PartialEq)]
#[must_use]
pub struct LimitedNetwork {
    allowed_hosts: Option<Vec<String>>,
    allow_mcp_servers: Option<bool>,
    allow_package_managers: Option<bool>,
}

impl LimitedNetwork {
    /// No host allowed yet; defaults for the rest.
    pub fn new() -> Self {
        Self::default()
    }

    /// The domains the container can reach.
    pub fn allow_hosts<I: IntoIterator<Item = S>, S: Into<String>>(mut self, hosts: I) -> Self {
        self.allowed_hosts
            .get_or_insert_with(Vec::new)
            .extend(strings(hosts));
        self
    }

    /// Whether MCP servers configured on the agent are reachable.
    pub fn allow_mcp_servers(mut self, allow: bool) -> Self {
        self.allow_mcp_servers = Some(allow);
        self
    }

    /// Whether public package registries are reachable (required for
    /// packages under limited networking).
    pub fn allow_package_managers(mut self, allow: bool) -> Self {
        self.allow_package_managers = Some(allow);
        self
    }
}

impl From<LimitedNetwork> for BetaNetworkingParams {
    fn from(n: LimitedNetwork) -> Self {
        BetaNetworkingParams::Limited(crate::built(
            BetaLimitedNetworkParams::builder()
                .type_(BetaLimitedNetworkParamsType::Limited)
                .allowed_hosts(n.allowed_hosts)
                .allow_mcp_servers(n.allow_mcp_servers)
                .allow_package_managers(n.allow_package_managers),
        ))
    }
}

/// An Anthropic cloud environment configuration.
#[derive(Clone, Debug, Default, PartialEq)]
#[must_use]
pub struct CloudConfig {
    networking: Option<BetaNetworkingParams>,
    packages: Option<BetaPackagesParams>,
}

impl CloudConfig {
    /// Networking and packages left to the server (on update: kept).
    pub fn new() -> Self {
        Self::default()
    }

    /// Unrestricted network access.
    pub fn unrestricted() -> Self {
        Self::new().networking(BetaNetworkingParams::Unrestricted(crate::built(
            BetaUnrestrictedNetwork::builder().type_(BetaUnrestrictedNetworkType::Unrestricted),
        )))
    }

    /// Limited network access.
    pub fn limited(network: LimitedNetwork) -> Self {
        Self::new().networking(network)
    }

    /// Sets the networking policy.
    pub fn networking(mut self, networking: impl Into<BetaNetworkingParams>) -> Self {
        self.networking = Some(networking.into());
        self
    }

    /// Sets the packages.
    pub fn packages(mut self, packages: impl Into<BetaPackagesParams>) -> Self {
        self.packages = Some(packages.into());
        self
    }
}

impl From<CloudConfig> for BetaEnvironmentConfigParams {
    fn from(c: CloudConfig) -> Self {
        BetaEnvironmentConfigParams::Cloud(crate::built(
            BetaCloudConfigParams::builder()
                .type_(BetaCloudConfigParamsType::Cloud)
                .networking(c.networking)
                .packages(c.packages),
        ))
    }
}

/// A self-hosted environment configuration (work runs on your workers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SelfHostedConfig;

impl From<SelfHostedConfig> for BetaEnvironmentConfigParams {
    fn from(_: SelfHostedConfig) -> Self {
        BetaEnvironmentConfigParams::SelfHosted(crate::built(
            BetaSelfHostedConfigParams::builder().type_(BetaSelfHostedConfigParamsType::SelfHosted),
        ))
    }
}

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
    use serde_json::json;

    #[test]
    fn constructors_serialise_as_the_api_expects() {
        let c: BetaEnvironmentConfigParams = CloudConfig::unrestricted().into();
        assert_eq!(
            serde_json::to_value(c).unwrap(),
            json!({"type": "cloud", "networking": {"type": "unrestricted"}})
        );
        let c: BetaEnvironmentConfigParams = CloudConfig::limited(
            LimitedNetwork::new()
                .allow_hosts(["a.example"])
                .allow_hosts(["b.example".to_owned()])
                .allow_mcp_servers(true)
                .allow_package_managers(true),
        )
        .packages(Packages::new().pip(["numpy"]).cargo(["serde"]))
        .into();
        assert_eq!(
            serde_json::to_value(c).unwrap(),
            json!({"type": "cloud",
                   "networking": {"type": "limited", "allowed_hosts": ["a.example", "b.example"],
                                  "allow_mcp_servers": true, "allow_package_managers": true},
                   "packages": {"pip": ["numpy"], "cargo": ["serde"]}})
        );
        let c: BetaEnvironmentConfigParams = CloudConfig::new().into();
        assert_eq!(serde_json::to_value(c).unwrap(), json!({"type": "cloud"}));
    }

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
