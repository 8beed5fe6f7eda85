//! The in-memory state of the mock and its rules. Synchronous: the HTTP
//! layer locks it for each step and never across an `await`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::time::Duration;

use tokio::time::Instant;

use anthropic_environments_raw::types::{
    BetaCloudConfig, BetaCloudConfigParams, BetaCloudConfigType, BetaEnvironment,
    BetaEnvironmentConfig, BetaEnvironmentConfigParams, BetaEnvironmentDeleteResponse,
    BetaEnvironmentDeleteResponseType, BetaEnvironmentScope, BetaEnvironmentType,
    BetaLimitedNetwork, BetaLimitedNetworkType, BetaNetworking, BetaNetworkingParams, BetaPackages,
    BetaPackagesParams, BetaPackagesType, BetaSelfHostedConfig, BetaSelfHostedConfigType,
    BetaSelfHostedWork, BetaSelfHostedWorkHeartbeatResponse,
    BetaSelfHostedWorkHeartbeatResponseType, BetaSelfHostedWorkQueueStats,
    BetaSelfHostedWorkQueueStatsType, BetaSelfHostedWorkType, BetaSessionWorkData,
    BetaSessionWorkDataType, BetaUnrestrictedNetwork, BetaUnrestrictedNetworkType, BetaWorkData,
    BetaWorkLeaseState, BetaWorkState, EnvironmentCreateParams, EnvironmentUpdateParams,
};

use crate::clock::Clock;
use crate::credentials::Credentials;

pub use anthropic_environments_raw::wire::NO_HEARTBEAT;

/// Why a request was refused by the rules of the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// 400 `invalid_request_error`.
    Invalid(String),
    /// 404 `not_found_error`.
    NotFound(String),
    /// 409 `conflict_error`.
    Conflict(String),
    /// 412: the heartbeat's expectation does not match the lease.
    LeaseMismatch(BetaWorkLeaseState),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Invalid(m) => write!(f, "invalid request: {m}"),
            Refusal::NotFound(m) => write!(f, "not found: {m}"),
            Refusal::Conflict(m) => write!(f, "conflict: {m}"),
            Refusal::LeaseMismatch(lease) => write!(
                f,
                "heartbeat precondition failed (last_heartbeat {:?})",
                lease.last_heartbeat
            ),
        }
    }
}

impl std::error::Error for Refusal {}

pub(crate) type Outcome<T> = Result<T, Refusal>;

/// Timing rules of the model.
#[derive(Debug, Clone)]
pub struct Timing {
    /// `reclaim_older_than_ms` when a poll does not send it.
    pub default_reclaim: Duration,
    /// TTL of a lease when a heartbeat does not ask for one, and of the
    /// lease an ack starts.
    pub default_ttl: Duration,
    /// How long a gracefully stopped item stays `stopping`.
    pub stop_grace: Duration,
    /// The window of `workers_polling`.
    pub workers_window: Duration,
    /// The longest lease a heartbeat's `desired_ttl_seconds` gets; larger
    /// asks are clamped (the answer's `ttl_seconds` says what applied).
    pub max_ttl: Duration,
    /// How often an idle session event stream sends a keep-alive comment.
    pub keep_alive: Duration,
    /// Whether an item acknowledged but never heartbeated goes back to the
    /// queue when the lease its ack started runs out (default true). The
    /// real queue leaves it `starting`, counted in neither `depth` nor
    /// `pending` and out of reclaim's reach (anthropic-sdk-python #1746):
    /// false reproduces that, for tests of stuck items.
    pub requeue_unheartbeated: bool,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            default_reclaim: Duration::from_millis(5000),
            default_ttl: Duration::from_secs(30),
            stop_grace: Duration::from_millis(200),
            workers_window: Duration::from_secs(30),
            max_ttl: Duration::from_secs(3600),
            keep_alive: Duration::from_secs(15),
            requeue_unheartbeated: true,
        }
    }
}

#[derive(Debug)]
struct WorkEntry {
    seq: u64,
    work: BetaSelfHostedWork,
    /// When a poll last handed it out (queued items only).
    delivered_at: Option<Instant>,
    /// Lease of an acknowledged item: expiry and the stored heartbeat.
    lease_expires: Option<Instant>,
    ttl_seconds: i64,
    /// Bumped on every change of a deadline, to skip stale heap entries.
    generation: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum DeadlineKind {
    LeaseExpiry,
    StopGrace,
}

/// The whole state of one mock server.
#[derive(Debug, Default)]
pub struct Model {
    pub(crate) timing: Timing,
    clock: Clock,
    seq: u64,
    envs: BTreeMap<u64, BetaEnvironment>,
    env_seq: HashMap<String, u64>,
    work: BTreeMap<u64, WorkEntry>,
    work_seq: HashMap<String, u64>,
    /// Queued (not acknowledged) work per environment, oldest first.
    queues: HashMap<String, BTreeSet<u64>>,
    workers: HashMap<String, HashMap<String, Instant>>,
    deadlines: BinaryHeap<Reverse<(Instant, u64, u64, DeadlineKind)>>,
    pub(crate) credentials: Credentials,
    /// The `api_base_url` written into each poll's `secret`.
    pub(crate) api_base_url: Option<String>,
    /// Sessions and skills.
    pub(crate) sessions: crate::sessions::SessionStore,
}

fn not_found(kind: &str, id: &str) -> Refusal {
    Refusal::NotFound(format!("{kind} {id} not found"))
}

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

/// One page of a list: items, and the cursor of the next page.
pub(crate) fn page_of<T: Clone>(
    items: impl Iterator<Item = (u64, T)>,
    cursor: Option<&str>,
    limit: usize,
) -> Outcome<(Vec<T>, Option<String>)> {
    let start = match cursor {
        None => 0,
        Some(c) => c
            .strip_prefix("page_")
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .ok_or_else(|| {
                Refusal::Invalid(format!("page: {c:?} is not a cursor this server issued"))
            })?,
    };
    let mut out = Vec::with_capacity(limit.min(1024));
    let mut next = None;
    for (seq, item) in items.filter(|(seq, _)| *seq >= start) {
        if out.len() == limit {
            next = Some(format!("page_{seq:x}"));
            break;
        }
        out.push(item);
    }
    Ok((out, next))
}

impl Model {
    /// A model with these timing rules.
    pub fn new(timing: Timing) -> Self {
        Model {
            timing,
            ..Default::default()
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn next_id(&mut self, prefix: &str) -> (u64, String) {
        let seq = self.next_seq();
        // Opaque-looking but deterministic ids.
        (seq, format!("{prefix}_01mock{seq:016x}"))
    }

    // ---- environments -------------------------------------------------

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
        self.queues.remove(id);
        self.workers.remove(id);
        let gone: Vec<u64> = self
            .work
            .iter()
            .filter(|(_, w)| w.work.environment_id == id)
            .map(|(s, _)| *s)
            .collect();
        for s in gone {
            if let Some(w) = self.work.remove(&s) {
                self.work_seq.remove(&w.work.id);
            }
        }
        Ok(crate::built(
            BetaEnvironmentDeleteResponse::builder()
                .id(id.to_owned())
                .type_(BetaEnvironmentDeleteResponseType::EnvironmentDeleted),
        ))
    }

    // ---- work ---------------------------------------------------------

    /// Queues a work item for a session (the control surface).
    pub fn queue_work(
        &mut self,
        environment_id: &str,
        session_id: &str,
        metadata: HashMap<String, String>,
    ) -> Outcome<BetaSelfHostedWork> {
        if session_id.is_empty() {
            return Err(Refusal::Invalid("session_id: must not be empty".into()));
        }
        let data = BetaWorkData::Session(crate::built(
            BetaSessionWorkData::builder()
                .id(session_id.to_owned())
                .type_(BetaSessionWorkDataType::Session),
        ));
        self.queue_work_data(environment_id, data, metadata)
    }

    /// Queues a work item with any `data`: a session, a health check, or a
    /// type the spec does not know yet (the control surface).
    pub fn queue_work_data(
        &mut self,
        environment_id: &str,
        data: BetaWorkData,
        metadata: HashMap<String, String>,
    ) -> Outcome<BetaSelfHostedWork> {
        self.environment(environment_id)?;
        if let BetaWorkData::Unknown(value) = &data
            && !value.is_object()
        {
            return Err(Refusal::Invalid("data: must be a JSON object".into()));
        }
        let now = self.clock.now();
        let (seq, id) = self.next_id("work");
        let none = || None::<String>;
        let work: BetaSelfHostedWork = crate::built(
            BetaSelfHostedWork::builder()
                .id(id.clone())
                .acknowledged_at(none())
                .created_at(now)
                .data(data)
                .environment_id(environment_id.to_owned())
                .latest_heartbeat_at(none())
                .metadata(metadata)
                .secret(none())
                .started_at(none())
                .state(BetaWorkState::Queued)
                .stop_requested_at(none())
                .stopped_at(none())
                .type_(BetaSelfHostedWorkType::Work),
        );
        self.work.insert(
            seq,
            WorkEntry {
                seq,
                work: work.clone(),
                delivered_at: None,
                lease_expires: None,
                ttl_seconds: self.timing.default_ttl.as_secs() as i64,
                generation: 0,
            },
        );
        self.work_seq.insert(id, seq);
        self.queues
            .entry(environment_id.to_owned())
            .or_default()
            .insert(seq);
        Ok(work)
    }

    fn entry_mut(&mut self, environment_id: &str, work_id: &str) -> Outcome<&mut WorkEntry> {
        self.environment(environment_id)?;
        let seq = *self
            .work_seq
            .get(work_id)
            .ok_or_else(|| not_found("work", work_id))?;
        let entry = self.work.get_mut(&seq).expect("index and map agree");
        if entry.work.environment_id != environment_id {
            return Err(not_found("work", work_id));
        }
        Ok(entry)
    }

    /// Retrieves a work item.
    /// The session a work item serves, if it is a session item.
    pub(crate) fn session_of_work(&self, environment_id: &str, work_id: &str) -> Option<String> {
        let seq = self.work_seq.get(work_id)?;
        let entry = self.work.get(seq)?;
        if entry.work.environment_id != environment_id {
            return None;
        }
        match &entry.work.data {
            BetaWorkData::Session(session) => Some(session.id.clone()),
            _ => None,
        }
    }

    pub fn work(&mut self, environment_id: &str, work_id: &str) -> Outcome<BetaSelfHostedWork> {
        Ok(self.entry_mut(environment_id, work_id)?.work.clone())
    }

    /// Lists an environment's work items in creation order.
    pub fn list_work(
        &self,
        environment_id: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Outcome<(Vec<BetaSelfHostedWork>, Option<String>)> {
        self.environment(environment_id)?;
        page_of(
            self.work
                .iter()
                .filter(|(_, w)| w.work.environment_id == environment_id)
                .map(|(s, w)| (*s, w.work.clone())),
            cursor,
            limit,
        )
    }

    /// Records a poll by `worker_id` (for `workers_polling`).
    pub fn note_worker(&mut self, environment_id: &str, worker_id: &str, now: Instant) {
        self.workers
            .entry(environment_id.to_owned())
            .or_default()
            .insert(worker_id.to_owned(), now);
    }

    /// Hands out the oldest queued item that no poll holds (or whose poll is
    /// older than `reclaim`), marking it held.
    pub fn try_poll(
        &mut self,
        environment_id: &str,
        reclaim: Option<Duration>,
        now: Instant,
    ) -> Outcome<Option<BetaSelfHostedWork>> {
        self.environment(environment_id)?;
        let reclaim = reclaim.unwrap_or(self.timing.default_reclaim);
        let Some(queue) = self.queues.get(environment_id) else {
            return Ok(None);
        };
        let found = queue.iter().copied().find(|seq| {
            self.work[seq]
                .delivered_at
                .is_none_or(|at| now.duration_since(at) >= reclaim)
        });
        let Some(seq) = found else {
            return Ok(None);
        };
        let entry = self.work.get_mut(&seq).expect("queued items exist");
        entry.delivered_at = Some(now);
        let mut work = entry.work.clone();
        // Every delivery carries a fresh sessions token for this item; no
        // other read shows it.
        work.secret = Some(self.credentials.new_secret(
            environment_id,
            &work.id,
            self.api_base_url.as_deref(),
        ));
        Ok(Some(work))
    }

    fn set_deadline(&mut self, seq: u64, at: Instant, kind: DeadlineKind) {
        let entry = self.work.get_mut(&seq).expect("item exists");
        entry.generation += 1;
        let generation = entry.generation;
        self.deadlines.push(Reverse((at, seq, generation, kind)));
    }

    /// Acknowledges a polled item: queued -> starting, out of the queue; its
    /// lease starts with the default TTL.
    pub fn ack(
        &mut self,
        environment_id: &str,
        work_id: &str,
        now: Instant,
    ) -> Outcome<BetaSelfHostedWork> {
        let stamp = self.clock.now();
        let ttl = self.timing.default_ttl;
        let entry = self.entry_mut(environment_id, work_id)?;
        if entry.work.state != BetaWorkState::Queued {
            return Err(Refusal::Conflict(format!(
                "work {work_id} is {}, not queued",
                entry.work.state
            )));
        }
        let seq = entry.seq;
        entry.work.state = BetaWorkState::Starting;
        entry.work.acknowledged_at = Some(stamp);
        entry.delivered_at = None;
        entry.lease_expires = Some(now + ttl);
        entry.ttl_seconds = ttl.as_secs() as i64;
        let work = entry.work.clone();
        if let Some(q) = self.queues.get_mut(environment_id) {
            q.remove(&seq);
        }
        self.set_deadline(seq, now + ttl, DeadlineKind::LeaseExpiry);
        Ok(work)
    }

    fn lease_state(entry: &WorkEntry) -> BetaWorkLeaseState {
        crate::built(
            BetaWorkLeaseState::builder()
                .last_heartbeat(entry.work.latest_heartbeat_at.clone())
                .lease_extended(false)
                .state(entry.work.state.clone())
                .ttl_seconds(entry.ttl_seconds),
        )
    }

    /// Records a heartbeat. With `expected` given and the item neither
    /// stopping nor stopped, it must equal the stored heartbeat
    /// (`NO_HEARTBEAT` for none), else 412. A starting item becomes active.
    pub fn heartbeat(
        &mut self,
        environment_id: &str,
        work_id: &str,
        desired_ttl: Option<i64>,
        expected: Option<&str>,
        now: Instant,
    ) -> Outcome<BetaSelfHostedWorkHeartbeatResponse> {
        let stamp = self.clock.now();
        let default_ttl = self.timing.default_ttl.as_secs().max(1);
        let max_ttl = self.timing.max_ttl.as_secs().max(1);
        let entry = self.entry_mut(environment_id, work_id)?;
        let winding_down = matches!(
            entry.work.state,
            BetaWorkState::Stopping | BetaWorkState::Stopped
        );
        if !winding_down && let Some(expected) = expected {
            let stored = entry
                .work
                .latest_heartbeat_at
                .as_deref()
                .unwrap_or(NO_HEARTBEAT);
            if expected != stored {
                return Err(Refusal::LeaseMismatch(Self::lease_state(entry)));
            }
        }
        let held = matches!(
            entry.work.state,
            BetaWorkState::Starting | BetaWorkState::Active
        );
        if !held {
            // Queued (never acknowledged, or re-queued), stopping, stopped:
            // nothing to extend.
            return Ok(crate::built(
                BetaSelfHostedWorkHeartbeatResponse::builder()
                    .last_heartbeat(entry.work.latest_heartbeat_at.clone().unwrap_or_default())
                    .lease_extended(false)
                    .state(entry.work.state.clone())
                    .ttl_seconds(entry.ttl_seconds)
                    .type_(BetaSelfHostedWorkHeartbeatResponseType::WorkHeartbeat),
            ));
        }
        // Any ask is taken: none (or one below 1) gets the default, a larger
        // one than the mock grants is clamped.
        let ttl = match desired_ttl {
            Some(asked) if asked >= 1 => (asked as u64).min(max_ttl),
            _ => default_ttl.min(max_ttl),
        };
        if entry.work.state == BetaWorkState::Starting {
            entry.work.state = BetaWorkState::Active;
            entry.work.started_at = Some(stamp.clone());
        }
        entry.work.latest_heartbeat_at = Some(stamp.clone());
        entry.ttl_seconds = ttl as i64;
        let expires = now + Duration::from_secs(ttl);
        entry.lease_expires = Some(expires);
        let seq = entry.seq;
        let response: BetaSelfHostedWorkHeartbeatResponse = crate::built(
            BetaSelfHostedWorkHeartbeatResponse::builder()
                .last_heartbeat(stamp)
                .lease_extended(true)
                .state(entry.work.state.clone())
                .ttl_seconds(ttl as i64)
                .type_(BetaSelfHostedWorkHeartbeatResponseType::WorkHeartbeat),
        );
        self.set_deadline(seq, expires, DeadlineKind::LeaseExpiry);
        Ok(response)
    }

    /// Stops an item: forced -> stopped; graceful -> stopping, then stopped
    /// after the grace period (or at a second graceful stop). Stopping a
    /// stopped item is a conflict.
    pub fn stop(
        &mut self,
        environment_id: &str,
        work_id: &str,
        force: bool,
        now: Instant,
    ) -> Outcome<BetaSelfHostedWork> {
        let stamp = self.clock.now();
        let grace = self.timing.stop_grace;
        let entry = self.entry_mut(environment_id, work_id)?;
        if entry.work.state == BetaWorkState::Stopped {
            return Err(Refusal::Conflict(format!(
                "work {work_id} is already stopped"
            )));
        }
        let seq = entry.seq;
        entry
            .work
            .stop_requested_at
            .get_or_insert_with(|| stamp.clone());
        entry.lease_expires = None;
        entry.delivered_at = None;
        let finish = force || entry.work.state == BetaWorkState::Stopping || grace.is_zero();
        if finish {
            entry.work.state = BetaWorkState::Stopped;
            entry.work.stopped_at = Some(stamp);
        } else {
            entry.work.state = BetaWorkState::Stopping;
        }
        let work = entry.work.clone();
        if let Some(q) = self.queues.get_mut(environment_id) {
            q.remove(&seq);
        }
        if !finish {
            self.set_deadline(seq, now + grace, DeadlineKind::StopGrace);
        } else {
            self.work.get_mut(&seq).expect("exists").generation += 1;
        }
        Ok(work)
    }

    /// Merges metadata: a string sets, null deletes.
    pub fn update_work(
        &mut self,
        environment_id: &str,
        work_id: &str,
        metadata: HashMap<String, Option<String>>,
    ) -> Outcome<BetaSelfHostedWork> {
        let entry = self.entry_mut(environment_id, work_id)?;
        for (key, value) in metadata {
            match value {
                Some(v) => {
                    entry.work.metadata.insert(key, v);
                }
                None => {
                    entry.work.metadata.remove(&key);
                }
            }
        }
        Ok(entry.work.clone())
    }

    /// Queue statistics.
    pub fn stats(
        &mut self,
        environment_id: &str,
        now: Instant,
    ) -> Outcome<BetaSelfHostedWorkQueueStats> {
        self.environment(environment_id)?;
        let window = self.timing.workers_window;
        let workers = self.workers.entry(environment_id.to_owned()).or_default();
        workers.retain(|_, at| now.duration_since(*at) < window);
        let workers_polling = workers.len() as i64;
        let reclaim = self.timing.default_reclaim;
        let (mut depth, mut pending, mut oldest) = (0i64, 0i64, None::<String>);
        for seq in self.queues.get(environment_id).into_iter().flatten() {
            let entry = &self.work[seq];
            match entry.delivered_at {
                Some(at) if now.duration_since(at) < reclaim => pending += 1,
                _ => depth += 1,
            }
            if oldest.is_none() {
                oldest = Some(entry.work.created_at.clone());
            }
        }
        Ok(crate::built(
            BetaSelfHostedWorkQueueStats::builder()
                .depth(depth)
                .oldest_queued_at(oldest)
                .pending(pending)
                .type_(BetaSelfHostedWorkQueueStatsType::WorkQueueStats)
                .workers_polling(Some(workers_polling)),
        ))
    }

    /// Applies every deadline due at `now`: expired leases re-queue their
    /// item, finished grace periods stop theirs. Returns whether an item was
    /// re-queued (pollers should look again).
    pub fn sweep(&mut self, now: Instant) -> bool {
        let mut requeued = false;
        while let Some(Reverse((at, seq, generation, kind))) = self.deadlines.peek().copied() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            let stamp = self.clock.now();
            let Some(entry) = self.work.get_mut(&seq) else {
                continue;
            };
            if entry.generation != generation {
                continue;
            }
            match kind {
                DeadlineKind::LeaseExpiry => {
                    let never_heartbeated = entry.work.state == BetaWorkState::Starting
                        && entry.work.latest_heartbeat_at.is_none();
                    if never_heartbeated && !self.timing.requeue_unheartbeated {
                        // Stuck, as on the real queue.
                        continue;
                    }
                    if matches!(
                        entry.work.state,
                        BetaWorkState::Starting | BetaWorkState::Active
                    ) {
                        entry.work.state = BetaWorkState::Queued;
                        entry.work.acknowledged_at = None;
                        entry.work.started_at = None;
                        entry.work.latest_heartbeat_at = None;
                        entry.lease_expires = None;
                        entry.delivered_at = None;
                        let env = entry.work.environment_id.clone();
                        self.queues.entry(env).or_default().insert(seq);
                        requeued = true;
                    }
                }
                DeadlineKind::StopGrace => {
                    if entry.work.state == BetaWorkState::Stopping {
                        entry.work.state = BetaWorkState::Stopped;
                        entry.work.stopped_at = Some(stamp);
                    }
                }
            }
        }
        requeued
    }

    /// The earliest pending deadline, for the sweeper.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.peek().map(|Reverse((at, ..))| *at)
    }

    /// Every work item of an environment (for tests and the control surface).
    pub fn all_work(&self, environment_id: &str) -> Vec<BetaSelfHostedWork> {
        self.work
            .values()
            .filter(|w| w.work.environment_id == environment_id)
            .map(|w| w.work.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> (Model, String) {
        let mut m = Model::new(Timing::default());
        let env = m
            .create_environment(crate::built(EnvironmentCreateParams::builder().name("e")))
            .unwrap();
        (m, env.id)
    }

    #[test]
    fn lifecycle_with_heartbeats() {
        let (mut m, env) = model();
        let t0 = Instant::now();
        let w = m.queue_work(&env, "session_1", Default::default()).unwrap();
        let polled = m.try_poll(&env, None, t0).unwrap().unwrap();
        assert_eq!(polled.id, w.id);
        assert_eq!(
            m.try_poll(&env, None, t0).unwrap(),
            None,
            "held by the first poll"
        );
        let acked = m.ack(&env, &w.id, t0).unwrap();
        assert_eq!(acked.state, BetaWorkState::Starting);
        let hb = m
            .heartbeat(&env, &w.id, Some(10), Some(NO_HEARTBEAT), t0)
            .unwrap();
        assert!(hb.lease_extended);
        assert_eq!(hb.state, BetaWorkState::Active);
        let err = m
            .heartbeat(&env, &w.id, None, Some(NO_HEARTBEAT), t0)
            .unwrap_err();
        let Refusal::LeaseMismatch(lease) = err else {
            panic!()
        };
        assert_eq!(
            lease.last_heartbeat.as_deref(),
            Some(hb.last_heartbeat.as_str())
        );
        let hb2 = m
            .heartbeat(&env, &w.id, None, Some(&hb.last_heartbeat), t0)
            .unwrap();
        assert!(hb2.last_heartbeat > hb.last_heartbeat);
        let stopping = m.stop(&env, &w.id, false, t0).unwrap();
        assert_eq!(stopping.state, BetaWorkState::Stopping);
        m.sweep(t0 + Duration::from_secs(1));
        assert_eq!(m.work(&env, &w.id).unwrap().state, BetaWorkState::Stopped);
        assert_eq!(
            m.stop(&env, &w.id, true, t0).unwrap_err(),
            Refusal::Conflict(format!("work {} is already stopped", w.id))
        );
    }

    #[test]
    fn an_expired_lease_requeues_the_item() {
        let (mut m, env) = model();
        let t0 = Instant::now();
        let w = m.queue_work(&env, "s", Default::default()).unwrap();
        m.try_poll(&env, None, t0).unwrap().unwrap();
        m.ack(&env, &w.id, t0).unwrap();
        m.heartbeat(&env, &w.id, Some(2), Some(NO_HEARTBEAT), t0)
            .unwrap();
        assert!(!m.sweep(t0 + Duration::from_secs(1)));
        assert!(m.sweep(t0 + Duration::from_secs(3)));
        let again = m
            .try_poll(&env, None, t0 + Duration::from_secs(3))
            .unwrap()
            .unwrap();
        assert_eq!(again.id, w.id);
        assert_eq!(again.state, BetaWorkState::Queued);
        assert_eq!(again.latest_heartbeat_at, None);
    }

    #[test]
    fn unacknowledged_items_are_reclaimed() {
        let (mut m, env) = model();
        let t0 = Instant::now();
        m.queue_work(&env, "s", Default::default()).unwrap();
        assert!(
            m.try_poll(&env, Some(Duration::from_millis(100)), t0)
                .unwrap()
                .is_some()
        );
        assert!(
            m.try_poll(
                &env,
                Some(Duration::from_millis(100)),
                t0 + Duration::from_millis(50)
            )
            .unwrap()
            .is_none()
        );
        assert!(
            m.try_poll(
                &env,
                Some(Duration::from_millis(100)),
                t0 + Duration::from_millis(150)
            )
            .unwrap()
            .is_some()
        );
        let stats = m.stats(&env, t0 + Duration::from_millis(150)).unwrap();
        assert_eq!((stats.depth, stats.pending), (0, 1));
    }

    #[test]
    fn cursors_page_in_creation_order() {
        let (mut m, _) = model();
        for i in 0..4 {
            m.create_environment(crate::built(
                EnvironmentCreateParams::builder().name(format!("e{i}")),
            ))
            .unwrap();
        }
        let (p1, c1) = m.list_environments(false, None, 2).unwrap();
        let (p2, c2) = m.list_environments(false, c1.as_deref(), 2).unwrap();
        let (p3, c3) = m.list_environments(false, c2.as_deref(), 2).unwrap();
        assert_eq!((p1.len(), p2.len(), p3.len(), c3), (2, 2, 1, None));
        assert_eq!(p2[0].name, "e1");
        assert!(matches!(
            m.list_environments(false, Some("nope"), 2),
            Err(Refusal::Invalid(_))
        ));
    }
}
