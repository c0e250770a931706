//! The live configuration: one model for what the config file provisions and what jCli
//! changes at runtime.
//!
//! The managed sections (groups, users, SMPP and HTTP client connectors, filters, MT/MO
//! routes and interceptors) form a [`Profile`]. Every change goes through [`Manager::apply`]:
//! the next profile is built on a copy, checked as a whole (the same checks the config file
//! gets), installed into the running gateway (routing tables swapped, users reloaded,
//! connectors started/stopped/restarted), and only then becomes current. A refused change
//! leaves everything as it was.
//!
//! Profiles persist in the [`Store`] (`jcli:profile:<name>`: the embedded SQLite file, or Redis
//! in cluster mode). At start the `jcli-prod` profile, if one was persisted, replaces the config
//! file's managed sections (Jasmin loads it at start too). Every installed change is also
//! published as `config:live`; nodes sharing a store install each other's changes.

pub mod audit;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::runtime::Runtime;
use crate::smpp::client::{self, ConnectorState};
use smsgate_core::config::{
    Config, FilterConfig, GroupConfig, HttpClientConfig, InterceptorConfig, RouteConfig,
    SmppClientConfig, UserConfig,
};
use smsgate_core::model::message::now_ms;
use smsgate_policy::interception::table::InterceptionTable;
use smsgate_queue::store::{Balance, Store};
use smsgate_routing::table::{RoutingTable, TableKind};
use smsgate_routing::{BuildOptions, KnownConnectors};

/// The profile loaded at start and written by a bare `persist`.
pub const DEFAULT_PROFILE: &str = "jcli-prod";
const LIVE_KEY: &str = "config:live";

fn profile_key(name: &str) -> String {
    format!("jcli:profile:{name}")
}

/// The managed part of the configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    pub groups: Vec<GroupConfig>,
    /// Passwords are argon2 hashes here, never plain text.
    pub users: Vec<UserConfig>,
    pub smppccs: Vec<SmppClientConfig>,
    /// Connectors whose service is started (jCli `smppccm -1`); the others stay stopped.
    pub started: BTreeSet<String>,
    pub httpccs: Vec<HttpClientConfig>,
    pub filters: Vec<FilterConfig>,
    pub mtroutes: Vec<RouteConfig>,
    pub moroutes: Vec<RouteConfig>,
    pub mtinterceptors: Vec<InterceptorConfig>,
    pub mointerceptors: Vec<InterceptorConfig>,
}

impl Profile {
    /// The managed sections of `cfg`; its connectors marked `start` (the default) are started.
    pub fn from_config(cfg: &Config) -> Profile {
        Profile {
            groups: cfg.groups.clone(),
            users: cfg.users.clone(),
            started: cfg
                .smppccs
                .iter()
                .filter(|c| c.start)
                .map(|c| c.cid.clone())
                .collect(),
            smppccs: cfg.smppccs.clone(),
            httpccs: cfg.httpccs.clone(),
            filters: cfg.filters.clone(),
            mtroutes: cfg.mtroutes.clone(),
            moroutes: cfg.moroutes.clone(),
            mtinterceptors: cfg.mtinterceptors.clone(),
            mointerceptors: cfg.mointerceptors.clone(),
        }
    }

    /// `base` with its managed sections replaced by this profile (each connector's `start`
    /// says whether its service is started, so [`Profile::from_config`] gives it back).
    pub fn overlay(&self, base: &Config) -> Config {
        let mut cfg = base.clone();
        cfg.groups = self.groups.clone();
        cfg.users = self.users.clone();
        cfg.smppccs = self
            .smppccs
            .iter()
            .map(|c| SmppClientConfig {
                start: self.started.contains(&c.cid),
                ..c.clone()
            })
            .collect();
        cfg.httpccs = self.httpccs.clone();
        cfg.filters = self.filters.clone();
        cfg.mtroutes = self.mtroutes.clone();
        cfg.moroutes = self.moroutes.clone();
        cfg.mtinterceptors = self.mtinterceptors.clone();
        cfg.mointerceptors = self.mointerceptors.clone();
        cfg
    }

    /// Replace plain passwords by argon2 hashes (once, so rebuilding users stays cheap and
    /// nothing persisted holds a password).
    pub fn hash_passwords(&mut self) -> Result<(), String> {
        for u in &mut self.users {
            u.password = smsgate_policy::auth::password_hash_of(u)?;
        }
        Ok(())
    }

    /// A user by uid (jCli addresses users by uid; the uid defaults to the username).
    pub fn user(&self, uid: &str) -> Option<&UserConfig> {
        self.users.iter().find(|u| uid_of(u) == uid)
    }
}

/// A user's uid.
pub fn uid_of(u: &UserConfig) -> &str {
    u.uid.as_deref().unwrap_or(&u.username)
}

/// Check the whole configuration a profile makes: users, routing, interceptors.
pub fn check(cfg: &Config) -> Result<(), String> {
    // The configuration file's own cross-field checks (windows, priorities, users' groups...).
    cfg.validate().map_err(|e| e.to_string())?;
    let mut seen = std::collections::HashSet::new();
    for g in &cfg.groups {
        if !seen.insert(g.gid.as_str()) {
            return Err(format!("duplicate group {}", g.gid));
        }
    }
    let mut names = std::collections::HashSet::new();
    let mut uids = std::collections::HashSet::new();
    for u in &cfg.users {
        if !cfg.groups.iter().any(|g| g.gid == u.gid) {
            return Err(format!("user {}: unknown group {}", u.username, u.gid));
        }
        if !names.insert(u.username.as_str()) {
            return Err(format!("duplicate username {}", u.username));
        }
        if !uids.insert(uid_of(u)) {
            return Err(format!("duplicate uid {}", uid_of(u)));
        }
    }
    let mut cids = std::collections::HashSet::new();
    for c in &cfg.smppccs {
        if !cids.insert(c.cid.as_str()) {
            return Err(format!("duplicate SMPP connector {}", c.cid));
        }
    }
    let mut hids = std::collections::HashSet::new();
    for c in &cfg.httpccs {
        if !hids.insert(c.cid.as_str()) {
            return Err(format!("duplicate HTTP connector {}", c.cid));
        }
    }
    smsgate_routing::table::validate_config(cfg)?;
    check_interceptors(cfg)
}

/// Interceptor types of each table, as spelled in the configuration.
pub const MT_INTERCEPTOR_TYPES: &[&str] = &["DefaultInterceptor", "StaticMTInterceptor"];
/// MO interceptor types.
pub const MO_INTERCEPTOR_TYPES: &[&str] = &["DefaultInterceptor", "StaticMOInterceptor"];

/// Check the interception tables: types, orders, filters and scripts.
fn check_interceptors(cfg: &Config) -> Result<(), String> {
    for (section, list, types, dir) in [
        (
            "mtinterceptors",
            &cfg.mtinterceptors,
            MT_INTERCEPTOR_TYPES,
            "MT",
        ),
        (
            "mointerceptors",
            &cfg.mointerceptors,
            MO_INTERCEPTOR_TYPES,
            "MO",
        ),
    ] {
        let mut orders = std::collections::HashSet::new();
        for (i, ic) in list.iter().enumerate() {
            let at = format!("key `{section}[{i}]` (order {})", ic.order);
            let t = types
                .iter()
                .find(|t| t.eq_ignore_ascii_case(ic.kind.trim()))
                .ok_or_else(|| {
                    format!(
                        "{at}: unknown {dir} interceptor type {:?} (expected one of {})",
                        ic.kind,
                        types.join(", ")
                    )
                })?;
            if !orders.insert(ic.order) {
                return Err(format!("{at}: order {} is already used", ic.order));
            }
            if (*t == "DefaultInterceptor") != (ic.order == 0) {
                return Err(format!(
                    "{at}: DefaultInterceptor is at order 0 and only there"
                ));
            }
            if *t == "DefaultInterceptor" && !ic.filters.is_empty() {
                return Err(format!("{at}: DefaultInterceptor takes no filters"));
            }
            if *t != "DefaultInterceptor" && ic.filters.is_empty() {
                return Err(format!("{at}: {t} needs at least one filter"));
            }
            for fid in &ic.filters {
                if !cfg.filters.iter().any(|f| &f.fid == fid) {
                    return Err(format!("{at}: unknown filter id {fid:?}"));
                }
            }
            check_interceptor_script(&ic.script, ic.source.as_deref(), cfg)
                .map_err(|e| format!("{at}: {e}"))?;
        }
    }
    Ok(())
}

/// An interceptor script: `python3(/path)` (its file readable, unless its source was
/// persisted with the rule) or `plugin(name)`.
pub fn check_script(script: &str, cfg: &Config) -> Result<(), String> {
    check_interceptor_script(script, None, cfg)
}

fn check_interceptor_script(
    script: &str,
    source: Option<&str>,
    cfg: &Config,
) -> Result<(), String> {
    let s = script.trim();
    if let Some(path) = s.strip_prefix("python3(").and_then(|r| r.strip_suffix(')')) {
        let path = path.trim();
        if path.is_empty() {
            return Err("python3() needs the path of a script".into());
        }
        if source.is_none() {
            std::fs::metadata(path).map_err(|e| format!("python3({path}): {e}"))?;
        }
        return Ok(());
    }
    if let Some(name) = s.strip_prefix("plugin(").and_then(|r| r.strip_suffix(')')) {
        if name.trim().is_empty() {
            return Err("plugin() needs the name of a plugin".into());
        }
        if !cfg.plugins.enabled {
            return Err(format!(
                "cannot run plugin({name}): plugins are disabled ([plugins] enabled = false)"
            ));
        }
        return Ok(());
    }
    Err(format!(
        "invalid script {s:?}: expected python3(/path/to/script.py) or plugin(name)"
    ))
}

/// An I/O error's text without Rust's ` (os error N)` suffix, as Python words it.
fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Live service counters of an SMPP client connector (`smppccm -l`, `stats --smppc`).
#[derive(Debug, Clone, Default)]
pub struct ServiceInfo {
    pub starts: u64,
    pub stops: u64,
    /// ms since the epoch.
    pub created_at: i64,
    pub connected_at: Option<i64>,
    pub bound_at: Option<i64>,
    pub disconnected_at: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct LiveChange {
    node: String,
    seq: u64,
    profile: Profile,
    /// Who made the change (for the other nodes' audit logs).
    #[serde(default)]
    actor: Option<audit::Actor>,
    /// The node it was made on (`cluster.node_id`).
    #[serde(default)]
    node_name: Option<String>,
}

/// The live configuration of one gateway.
pub struct Manager {
    runtime: Weak<Runtime>,
    base: Config,
    store: Arc<dyn Store>,
    live: tokio::sync::Mutex<Profile>,
    /// A copy of the current profile for readers that must not wait on a change.
    snapshot: Mutex<Arc<Profile>>,
    services: Arc<Mutex<HashMap<String, ServiceInfo>>>,
    node: String,
    seq: std::sync::atomic::AtomicU64,
    started_at: i64,
    audit: audit::AuditLog,
}

/// Why a Python script could not be added, in jCli's terms (Jasmin's `[IO]: ...` and
/// `[Syntax]: ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    #[error("[IO]: {0}")]
    Io(String),
    #[error("[Syntax]: {0}")]
    Syntax(String),
    #[error("{0}")]
    Unavailable(String),
}

impl Manager {
    /// Read the Python script at `path` and compile it for `kind` (as jCli does when a rule
    /// names it): its source, to persist with the rule.
    pub fn load_python(
        &self,
        path: &str,
        kind: smsgate_plugins::python::ScriptKind,
    ) -> Result<String, ScriptError> {
        let source = std::fs::read_to_string(path).map_err(|e| {
            ScriptError::Io(match e.raw_os_error() {
                Some(n) => format!("[Errno {n}] {}: '{path}'", io_reason(&e)),
                None => e.to_string(),
            })
        })?;
        let host = self
            .runtime()
            .and_then(|r| r.plugins.clone())
            .ok_or_else(|| ScriptError::Unavailable("the gateway is stopping".into()))?;
        match host.python_script(Some(path), &source, kind) {
            Ok(_) => Ok(source),
            // Jasmin compiles with no file name (`compile(pyCode, '', 'exec')`): its message
            // reads `invalid syntax (, line 3)`.
            Err(smsgate_plugins::python::PyError::Raised(e)) => {
                let base = Path::new(path)
                    .file_name()
                    .map(|b| b.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let e = e.strip_prefix("SyntaxError: ").unwrap_or(&e);
                Err(ScriptError::Syntax(
                    e.replace(&format!("({base}, line"), "(, line"),
                ))
            }
            Err(e) => Err(ScriptError::Unavailable(e.to_string())),
        }
    }

    /// A manager of `gw`, whose current state is `profile` over `base`, recording every
    /// change in `audit`.
    pub fn new(
        runtime: Weak<Runtime>,
        base: Config,
        store: Arc<dyn Store>,
        profile: Profile,
        audit: audit::AuditLog,
    ) -> Self {
        let now = now_ms();
        let services = profile
            .smppccs
            .iter()
            .map(|c| {
                (
                    c.cid.clone(),
                    ServiceInfo {
                        created_at: now,
                        ..Default::default()
                    },
                )
            })
            .collect();
        Manager {
            runtime,
            base,
            store,
            snapshot: Mutex::new(Arc::new(profile.clone())),
            live: tokio::sync::Mutex::new(profile),
            services: Arc::new(Mutex::new(services)),
            node: uuid::Uuid::new_v4().to_string(),
            seq: Default::default(),
            started_at: now,
            audit,
        }
    }

    /// The configuration the gateway started with (its file, before any profile).
    pub fn base(&self) -> &Config {
        &self.base
    }

    /// The current profile.
    pub fn profile(&self) -> Arc<Profile> {
        self.snapshot.lock().clone()
    }

    /// The current configuration (the config file's sections with the live profile).
    pub fn config(&self) -> Config {
        self.profile().overlay(&self.base)
    }

    /// The running gateway's parts, unless it is gone.
    pub fn runtime(&self) -> Option<Arc<Runtime>> {
        self.runtime.upgrade()
    }

    /// When the gateway started (ms since the epoch).
    pub fn started_at(&self) -> i64 {
        self.started_at
    }

    /// The audit log of configuration changes.
    pub fn audit(&self) -> &audit::AuditLog {
        &self.audit
    }

    /// The store profiles persist in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Service counters of connector `cid`.
    pub fn service(&self, cid: &str) -> Option<ServiceInfo> {
        self.services.lock().get(cid).cloned()
    }

    /// Live state of connector `cid`: `None` when its service is stopped.
    pub fn connector_state(&self, cid: &str) -> Option<ConnectorState> {
        let gw = self.runtime.upgrade()?;
        let h = gw.connectors.read().get(cid).cloned()?;
        let s = *h.state.borrow();
        Some(s)
    }

    /// Change the profile with `f` and install the result; on any error nothing changes.
    pub async fn apply<T>(
        &self,
        f: impl FnOnce(&mut Profile) -> Result<T, String>,
    ) -> Result<T, String> {
        let mut live = self.live.lock().await;
        let mut next = live.clone();
        let out = f(&mut next)?;
        next.hash_passwords()?;
        self.install(&live, &next, true).await?;
        self.audit.record(&live, &next);
        *live = next;
        *self.snapshot.lock() = Arc::new(live.clone());
        self.publish(&live).await;
        Ok(out)
    }

    /// Replace a user's Jasmin MD5 digest by the argon2 hash made at its first login, in the
    /// live profile and in the persisted `jcli-prod` profile (where it still holds the same
    /// digest: a password changed meanwhile wins).
    pub async fn upgrade_password(
        &self,
        up: &smsgate_policy::auth::PasswordUpgrade,
    ) -> Result<(), String> {
        let swap = |p: &mut Profile| -> bool {
            let mut changed = false;
            for u in p.users.iter_mut() {
                if u.username == up.username && u.password == up.old {
                    u.password = up.new.clone();
                    changed = true;
                }
            }
            changed
        };
        // The persisted profile first: once the live one shows the hash, a restart keeps it.
        if let Some(mut p) = read_profile(&*self.store, DEFAULT_PROFILE).await? {
            if swap(&mut p) {
                let json = serde_json::to_vec(&p).map_err(|e| e.to_string())?;
                self.store
                    .set(&profile_key(DEFAULT_PROFILE), &json, None)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        if self
            .profile()
            .users
            .iter()
            .any(|u| u.username == up.username && u.password == up.old)
        {
            self.apply(|p| {
                swap(p);
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// Write the current profile as `name`.
    pub async fn persist(&self, name: &str) -> Result<(), String> {
        let p = self.profile();
        let json = serde_json::to_vec(&*p).map_err(|e| e.to_string())?;
        self.store
            .set(&profile_key(name), &json, None)
            .await
            .map_err(|e| e.to_string())
    }

    /// Replace the current profile by the persisted profile `name`. `Ok(false)`: there is
    /// no such profile.
    pub async fn load(&self, name: &str) -> Result<bool, String> {
        let Some(p) = read_profile(&*self.store, name).await? else {
            return Ok(false);
        };
        self.apply(|cur| {
            *cur = p;
            Ok(())
        })
        .await?;
        Ok(true)
    }

    /// Reload the configuration file `file` (SIGHUP), by the rule the gateway starts with:
    /// the persisted `jcli-prod` profile, if there is one, gives the managed sections (users,
    /// connectors, filters, routes, interceptors), else `file` gives them. They are installed
    /// as a jCli change is: unchanged connectors stay bound, sessions stay up. The other
    /// sections take effect at the next start; those that differ are named in the result.
    pub async fn reload(&self, file: &Config) -> Result<Reloaded, String> {
        let (next, from) = match read_profile(&*self.store, DEFAULT_PROFILE).await? {
            Some(p) => (p, ReloadSource::Profile),
            None => (Profile::from_config(file), ReloadSource::File),
        };
        let change = self.apply(|p| {
            *p = next;
            Ok(())
        });
        audit::as_actor(audit::Actor::new("sighup", "SIGHUP"), change).await?;
        Ok(Reloaded {
            from,
            restart_needed: changed_sections(&self.base, file),
        })
    }

    async fn publish(&self, p: &Profile) {
        let change = LiveChange {
            node: self.node.clone(),
            seq: self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            profile: p.clone(),
            actor: Some(audit::current()),
            node_name: Some(crate::cluster::node_id(&self.base)),
        };
        if let Ok(json) = serde_json::to_vec(&change) {
            if let Err(e) = self.store.set(LIVE_KEY, &json, None).await {
                tracing::warn!(error = %e, "cannot publish the configuration change to other nodes");
            }
        }
    }

    /// Install changes other nodes publish, until `stop`.
    pub async fn follow(self: Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        let mut rx = self.store.subscribe();
        loop {
            let key = tokio::select! {
                _ = stop.cancelled() => return,
                k = rx.recv() => k,
            };
            match key {
                // `*`: the store lost its notifications for a while (a Redis reconnect).
                Ok(k) if k == LIVE_KEY || k == "*" => {}
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            }
            let Ok(Some(raw)) = self.store.get(LIVE_KEY).await else {
                continue;
            };
            let Ok(change) = serde_json::from_slice::<LiveChange>(&raw) else {
                tracing::warn!("unreadable configuration change from another node");
                continue;
            };
            if change.node == self.node {
                continue;
            }
            let mut live = self.live.lock().await;
            match self.install(&live, &change.profile, false).await {
                Ok(()) => {
                    self.audit.record_from(
                        change
                            .actor
                            .clone()
                            .unwrap_or_else(|| audit::Actor::new("node", &change.node)),
                        change.node_name.clone(),
                        &live,
                        &change.profile,
                    );
                    *live = change.profile;
                    *self.snapshot.lock() = Arc::new(live.clone());
                    tracing::info!(from = %change.node, "configuration changed on another node installed");
                }
                Err(e) => {
                    tracing::error!(error = %e, "configuration change from another node refused")
                }
            }
        }
    }

    /// Make the running gateway match `next` (coming from `prev`). `local`: the change was
    /// made here, so this node also writes the shared ledger for new users (a change another
    /// node made has already done it; doing it again could undo a charge made since).
    async fn install(&self, prev: &Profile, next: &Profile, local: bool) -> Result<(), String> {
        let Some(gw) = self.runtime.upgrade() else {
            return Err("the gateway is shutting down".into());
        };
        let cfg = next.overlay(&self.base);
        check(&cfg)?;
        let (mt, mo) = build_tables(&cfg, &gw)?;
        let (mt_int, mo_int) = build_interception(&cfg, &gw)?;
        gw.pipeline.auth.reload(&cfg.groups, &cfg.users)?;
        for u in next.users.iter().filter(|_| local) {
            if prev.users.iter().any(|p| p.username == u.username) {
                continue;
            }
            let q = &u.mt_messaging_cred.quota;
            let seed = Balance {
                balance: q.balance,
                sms_count: q.sms_count,
            };
            // A re-added user starts from what the operator typed, not an old ledger.
            if let Err(e) = gw.store.balance_set(&u.username, seed).await {
                return Err(format!("cannot set the balance of {}: {e}", u.username));
            }
        }
        gw.pipeline.install(mt, &cfg.smppccs);
        smsgate_core::privacy::set_connectors(log_private(&cfg));
        gw.inbound.install(mo, &cfg.httpccs);
        gw.interception.install(mt_int, mo_int);
        gw.stats
            .retain_smppcs(cfg.smppccs.iter().map(|c| c.cid.as_str()));
        self.reconcile_connectors(&gw, prev, next).await;
        Ok(())
    }

    /// Start, stop and restart connector services so they match `next`.
    async fn reconcile_connectors(&self, gw: &Arc<Runtime>, prev: &Profile, next: &Profile) {
        let running: Vec<String> = gw.connectors.read().keys().cloned().collect();
        for cid in running {
            let wanted = next
                .smppccs
                .iter()
                .find(|c| c.cid == cid)
                .filter(|_| next.started.contains(&cid));
            let changed = match (wanted, prev.smppccs.iter().find(|c| c.cid == cid)) {
                (Some(n), Some(p)) => serde_json::to_value(n).ok() != serde_json::to_value(p).ok(),
                _ => true,
            };
            if wanted.is_none() || changed {
                let h = gw.connectors.write().remove(&cid);
                if let Some(h) = h {
                    h.stop().await;
                    if wanted.is_none() {
                        if let Some(s) = self.services.lock().get_mut(&cid) {
                            s.stops += 1;
                        }
                    }
                }
            }
        }
        {
            let mut s = self.services.lock();
            s.retain(|cid, _| next.smppccs.iter().any(|c| &c.cid == cid));
            for c in &next.smppccs {
                s.entry(c.cid.clone()).or_insert_with(|| ServiceInfo {
                    created_at: now_ms(),
                    ..Default::default()
                });
            }
        }
        for c in &next.smppccs {
            if !next.started.contains(&c.cid) || gw.connectors.read().contains_key(&c.cid) {
                continue;
            }
            let restart = prev.started.contains(&c.cid);
            self.spawn_connector(gw, c, !restart);
        }
    }

    /// Start connector `c` and follow its state for the service counters.
    pub fn spawn_connector(&self, gw: &Arc<Runtime>, c: &SmppClientConfig, count: bool) {
        let h = client::spawn(Arc::new(c.clone()), gw.connector_deps.clone());
        gw.availability.watch_smppc(&h.cid, h.state.clone());
        if let Some(l) = gw
            .connector_deps
            .lease
            .as_ref()
            .filter(|l| l.required(&c.cid))
        {
            crate::cluster::advertise_bound(
                l.store.clone(),
                l.holder.clone(),
                c.cid.clone(),
                h.state.clone(),
                l.ttl,
            );
        }
        if count {
            if let Some(s) = self.services.lock().get_mut(&c.cid) {
                s.starts += 1;
            }
        }
        let services = self.services.clone();
        let cid = c.cid.clone();
        let mut state = h.state.clone();
        tokio::spawn(async move {
            let mut last = ConnectorState::Stopped;
            loop {
                let s = *state.borrow_and_update();
                if s != last {
                    let now = now_ms();
                    if let Some(i) = services.lock().get_mut(&cid) {
                        match s {
                            ConnectorState::Bound => {
                                i.connected_at = Some(now);
                                i.bound_at = Some(now);
                            }
                            ConnectorState::Disconnected if last == ConnectorState::Bound => {
                                i.disconnected_at = Some(now)
                            }
                            _ => {}
                        }
                    }
                    last = s;
                }
                if state.changed().await.is_err() {
                    return;
                }
            }
        });
        gw.connectors.write().insert(c.cid.clone(), h);
    }
}

/// The connectors whose messages the logs mask (`logprivacy`).
pub fn log_private(cfg: &Config) -> Vec<String> {
    cfg.smppccs
        .iter()
        .filter(|c| c.logprivacy)
        .map(|c| c.cid.clone())
        .collect()
}

/// Where a reload took the managed sections from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadSource {
    /// The persisted `jcli-prod` profile (it wins over the file, as at start).
    Profile,
    /// The configuration file (no profile was persisted).
    File,
}

/// What [`Manager::reload`] did.
#[derive(Debug, Clone)]
pub struct Reloaded {
    pub from: ReloadSource,
    /// Sections of the file that differ from what the gateway started with and take effect
    /// only at the next start (listeners, store, broker...).
    pub restart_needed: Vec<String>,
}

/// The top-level sections other than the managed ones (and `log`, which the binary applies
/// itself) whose values differ between `a` and `b`.
fn changed_sections(a: &Config, b: &Config) -> Vec<String> {
    const LIVE: &[&str] = &[
        "groups",
        "users",
        "smppccs",
        "httpccs",
        "filters",
        "mtroutes",
        "moroutes",
        "mtinterceptors",
        "mointerceptors",
        "log",
        "secrets",
    ];
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return vec![];
    };
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| !LIVE.contains(&k.as_str()) && a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// Read the persisted profile `name`.
pub async fn read_profile(store: &dyn Store, name: &str) -> Result<Option<Profile>, String> {
    match store.get(&profile_key(name)).await {
        Ok(Some(raw)) => serde_json::from_slice(&raw)
            .map(Some)
            .map_err(|e| format!("profile {name} is unreadable: {e}")),
        Ok(None) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// The MT and MO interception tables `cfg` describes, with `gw`'s plugin host.
fn build_interception(
    cfg: &Config,
    gw: &Runtime,
) -> Result<(InterceptionTable, InterceptionTable), String> {
    let opts = BuildOptions {
        availability: gw.availability.clone(),
        scripts: gw.scripts.clone(),
        known: Some(KnownConnectors::from_config(cfg)),
    };
    let plugins = gw.plugins.as_deref();
    let mt = InterceptionTable::build(
        TableKind::Mt,
        &cfg.mtinterceptors,
        &cfg.filters,
        &opts,
        plugins,
    )?;
    let mo = InterceptionTable::build(
        TableKind::Mo,
        &cfg.mointerceptors,
        &cfg.filters,
        &opts,
        plugins,
    )?;
    Ok((mt, mo))
}

/// The MT and MO routing tables `cfg` describes, with `gw`'s live connector state.
fn build_tables(cfg: &Config, gw: &Runtime) -> Result<(RoutingTable, RoutingTable), String> {
    let opts = BuildOptions {
        availability: gw.availability.clone(),
        scripts: gw.scripts.clone(),
        known: Some(KnownConnectors::from_config(cfg)),
    };
    let mt = RoutingTable::build_with(TableKind::Mt, &cfg.mtroutes, &cfg.filters, &opts)?;
    let mo = RoutingTable::build_with(TableKind::Mo, &cfg.moroutes, &cfg.filters, &opts)?;
    Ok((mt, mo))
}
