//! Request parameters in one line: environment configurations (cloud with
//! its networking and packages, or self-hosted) for
//! [`Environments::create`](crate::Environments::create) and
//! [`Environments::update`](crate::Environments::update).
//!
//! ```
//! use anthropic_environments::params::{CloudConfig, LimitedNetwork, Packages, SelfHostedConfig};
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
    BetaCloudConfigParams, BetaCloudConfigParamsType, BetaEnvironmentConfigParams,
    BetaLimitedNetworkParams, BetaLimitedNetworkParamsType, BetaNetworkingParams,
    BetaPackagesParams, BetaSelfHostedConfigParams, BetaSelfHostedConfigParamsType,
    BetaUnrestrictedNetwork, BetaUnrestrictedNetworkType,
};

/// A networking policy of a cloud configuration, as sent
/// ([`LimitedNetwork`] and the unrestricted policy convert into it).
pub type NetworkingParams = BetaNetworkingParams;
/// The packages of a cloud configuration, as sent ([`Packages`] converts
/// into it).
pub type PackagesParams = BetaPackagesParams;

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
    pub fn networking(mut self, networking: impl Into<NetworkingParams>) -> Self {
        self.networking = Some(networking.into());
        self
    }

    /// Sets the packages.
    pub fn packages(mut self, packages: impl Into<PackagesParams>) -> Self {
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
}
