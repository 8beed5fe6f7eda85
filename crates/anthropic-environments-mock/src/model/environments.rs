//! Environments: their configuration rules (defaults, networking and
//! packages merged over the current values), metadata, archive and delete.

use anthropic_environments_raw::types::{
    BetaCloudConfig, BetaCloudConfigParams, BetaCloudConfigType, BetaEnvironment,
    BetaEnvironmentConfig, BetaEnvironmentConfigParams, BetaEnvironmentDeleteResponse,
    BetaEnvironmentDeleteResponseType, BetaEnvironmentScope, BetaEnvironmentType,
    BetaLimitedNetwork, BetaLimitedNetworkType, BetaNetworking, BetaNetworkingParams, BetaPackages,
    BetaPackagesParams, BetaPackagesType, BetaSelfHostedConfig, BetaSelfHostedConfigType,
    BetaUnrestrictedNetwork, BetaUnrestrictedNetworkType, EnvironmentCreateParams,
    EnvironmentUpdateParams,
};

use super::{Model, not_found, page_of};
use crate::envelope::{Outcome, Refusal};

fn empty_packages() -> BetaPackages {
    let none = Vec::<String>::new;
    crate::built(
        BetaPackages::builder()
            .apt(none())
            .cargo(none())
            .gem(none())
            .go(none())
            .npm(none())
            .pip(none())
            .type_(Some(BetaPackagesType::Packages)),
    )
}

fn unrestricted() -> BetaNetworking {
    BetaNetworking::Unrestricted(crate::built(
        BetaUnrestrictedNetwork::builder().type_(BetaUnrestrictedNetworkType::Unrestricted),
    ))
}

/// Applies networking params over an existing policy (omitted fields of a
/// limited policy keep their value when the policy was limited already).
fn apply_networking(
    current: Option<&BetaNetworking>,
    params: &BetaNetworkingParams,
) -> Outcome<BetaNetworking> {
    Ok(match params {
        BetaNetworkingParams::Unrestricted(_) => unrestricted(),
        BetaNetworkingParams::Limited(p) => {
            let base = match current {
                Some(BetaNetworking::Limited(l)) => l.clone(),
                _ => crate::built(
                    BetaLimitedNetwork::builder()
                        .allow_mcp_servers(false)
                        .allow_package_managers(false)
                        .allowed_hosts(Vec::<String>::new())
                        .type_(BetaLimitedNetworkType::Limited),
                ),
            };
            BetaNetworking::Limited(crate::built(
                BetaLimitedNetwork::builder()
                    .allow_mcp_servers(p.allow_mcp_servers.unwrap_or(base.allow_mcp_servers))
                    .allow_package_managers(
                        p.allow_package_managers
                            .unwrap_or(base.allow_package_managers),
                    )
                    .allowed_hosts(p.allowed_hosts.clone().unwrap_or(base.allowed_hosts))
                    .type_(BetaLimitedNetworkType::Limited),
            ))
        }
        other => {
            return Err(Refusal::Invalid(format!(
                "config.networking.type: unknown networking type {:?}",
                other.tag()
            )));
        }
    })
}

fn apply_packages(current: BetaPackages, p: &BetaPackagesParams) -> BetaPackages {
    crate::built(
        BetaPackages::builder()
            .apt(p.apt.clone().unwrap_or(current.apt))
            .cargo(p.cargo.clone().unwrap_or(current.cargo))
            .gem(p.gem.clone().unwrap_or(current.gem))
            .go(p.go.clone().unwrap_or(current.go))
            .npm(p.npm.clone().unwrap_or(current.npm))
            .pip(p.pip.clone().unwrap_or(current.pip))
            .type_(Some(BetaPackagesType::Packages)),
    )
}

/// Applies config params over an existing configuration.
fn apply_config(
    current: Option<&BetaEnvironmentConfig>,
    params: &BetaEnvironmentConfigParams,
) -> Outcome<BetaEnvironmentConfig> {
    let config = match params {
        BetaEnvironmentConfigParams::SelfHosted(_) => {
            BetaEnvironmentConfig::SelfHosted(crate::built(
                BetaSelfHostedConfig::builder().type_(BetaSelfHostedConfigType::SelfHosted),
            ))
        }
        BetaEnvironmentConfigParams::Cloud(BetaCloudConfigParams {
            networking,
            packages,
            ..
        }) => {
            let (cur_net, cur_pkg) = match current {
                Some(BetaEnvironmentConfig::Cloud(c)) => {
                    (Some(c.networking.clone()), c.packages.clone())
                }
                _ => (None, empty_packages()),
            };
            let networking = match networking {
                Some(n) => apply_networking(cur_net.as_ref(), n)?,
                None => cur_net.unwrap_or_else(unrestricted),
            };
            let packages = match packages {
                Some(p) => apply_packages(cur_pkg, p),
                None => cur_pkg,
            };
            BetaEnvironmentConfig::Cloud(crate::built(
                BetaCloudConfig::builder()
                    .networking(networking)
                    .packages(packages)
                    .type_(BetaCloudConfigType::Cloud),
            ))
        }
        other => {
            return Err(Refusal::Invalid(format!(
                "config.type: unknown environment type {:?}",
                other.tag()
            )));
        }
    };
    if let BetaEnvironmentConfig::Cloud(c) = &config {
        let has_packages = [
            &c.packages.apt,
            &c.packages.cargo,
            &c.packages.gem,
            &c.packages.go,
            &c.packages.npm,
            &c.packages.pip,
        ]
        .iter()
        .any(|l| !l.is_empty());
        if let BetaNetworking::Limited(l) = &c.networking
            && has_packages
            && !l.allow_package_managers
        {
            return Err(Refusal::Invalid(
                "config.packages: under limited networking, packages require networking.allow_package_managers = true".into(),
            ));
        }
    }
    Ok(config)
}

fn check_scope(scope: &Option<BetaEnvironmentScope>) -> Outcome<()> {
    match scope {
        Some(BetaEnvironmentScope::Unknown(s)) => Err(Refusal::Invalid(format!(
            "scope: {s:?} is not one of organization, account"
        ))),
        _ => Ok(()),
    }
}

impl Model {
    /// Creates an environment.
    pub fn create_environment(&mut self, p: EnvironmentCreateParams) -> Outcome<BetaEnvironment> {
        if p.name.trim().is_empty() {
            return Err(Refusal::Invalid("name: must not be empty".into()));
        }
        check_scope(&p.scope)?;
        let default = BetaEnvironmentConfigParams::Cloud(crate::built(
            BetaCloudConfigParams::builder()
                .type_(anthropic_environments_raw::types::BetaCloudConfigParamsType::Cloud),
        ));
        let config = apply_config(None, p.config.as_ref().unwrap_or(&default))?;
        let now = self.clock.now();
        let (seq, id) = self.next_id("env");
        let env: BetaEnvironment = crate::built(
            BetaEnvironment::builder()
                .id(id.clone())
                .archived_at(None::<String>)
                .config(config)
                .created_at(now.clone())
                .description(p.description)
                .metadata(p.metadata)
                .name(p.name)
                .scope(Some(p.scope.unwrap_or(BetaEnvironmentScope::Organization)))
                .type_(BetaEnvironmentType::Environment)
                .updated_at(now),
        );
        self.envs.insert(seq, env.clone());
        self.credentials.new_environment(&id);
        self.env_seq.insert(id, seq);
        Ok(env)
    }

    /// Every environment's id, oldest first.
    pub fn environment_ids(&self) -> Vec<String> {
        self.envs.values().map(|e| e.id.clone()).collect()
    }

    fn env_mut(&mut self, id: &str) -> Outcome<&mut BetaEnvironment> {
        let seq = *self
            .env_seq
            .get(id)
            .ok_or_else(|| not_found("environment", id))?;
        Ok(self.envs.get_mut(&seq).expect("index and map agree"))
    }

    /// Retrieves an environment.
    pub fn environment(&self, id: &str) -> Outcome<BetaEnvironment> {
        let seq = self
            .env_seq
            .get(id)
            .ok_or_else(|| not_found("environment", id))?;
        Ok(self.envs[seq].clone())
    }

    /// Lists environments in creation order.
    pub fn list_environments(
        &self,
        include_archived: bool,
        cursor: Option<&str>,
        limit: usize,
    ) -> Outcome<(Vec<BetaEnvironment>, Option<String>)> {
        page_of(
            self.envs
                .iter()
                .filter(|(_, e)| include_archived || e.archived_at.is_none())
                .map(|(s, e)| (*s, e.clone())),
            cursor,
            limit,
        )
    }

    /// Updates an environment: omitted fields keep their value; a metadata
    /// value of null or "" deletes the key.
    pub fn update_environment(
        &mut self,
        id: &str,
        p: EnvironmentUpdateParams,
    ) -> Outcome<BetaEnvironment> {
        check_scope(&p.scope)?;
        if let Some(name) = &p.name
            && name.trim().is_empty()
        {
            return Err(Refusal::Invalid("name: must not be empty".into()));
        }
        let current = self.environment(id)?;
        let config = match &p.config {
            Some(c) => apply_config(Some(&current.config), c)?,
            None => current.config,
        };
        let now = self.clock.now();
        let env = self.env_mut(id)?;
        env.config = config;
        if let Some(name) = p.name {
            env.name = name;
        }
        if let Some(description) = p.description {
            env.description = Some(description);
        }
        if let Some(scope) = p.scope {
            env.scope = Some(scope);
        }
        for (key, value) in p.metadata {
            match value {
                Some(v) if !v.is_empty() => {
                    env.metadata.insert(key, v);
                }
                _ => {
                    env.metadata.remove(&key);
                }
            }
        }
        env.updated_at = now;
        Ok(env.clone())
    }

    /// Archives an environment (again: no change).
    pub fn archive_environment(&mut self, id: &str) -> Outcome<BetaEnvironment> {
        let now = self.clock.now();
        let env = self.env_mut(id)?;
        if env.archived_at.is_none() {
            env.archived_at = Some(now.clone());
            env.updated_at = now;
        }
        Ok(env.clone())
    }

    /// Deletes an environment and its work.
    pub fn delete_environment(&mut self, id: &str) -> Outcome<BetaEnvironmentDeleteResponse> {
        let seq = self
            .env_seq
            .remove(id)
            .ok_or_else(|| not_found("environment", id))?;
        self.envs.remove(&seq);
        self.credentials.remove_environment(id);
        self.remove_work_of(id);
        Ok(crate::built(
            BetaEnvironmentDeleteResponse::builder()
                .id(id.to_owned())
                .type_(BetaEnvironmentDeleteResponseType::EnvironmentDeleted),
        ))
    }
}
