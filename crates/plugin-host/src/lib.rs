//! The WebAssembly plugin host (wasmtime, component model).
//!
//! Operators drop `name.wasm` (and optionally `name.toml`, see [`manifest`]) into
//! `[plugins] dir`. The host:
//! - compiles each component once and caches the machine code on disk, keyed by the content
//!   hash and the engine ([`engine::Engines::load`]); a restart loads from the cache;
//! - finds the component's world from its exports and refuses, with a log line, a component
//!   that matches none or whose imports it does not provide (e.g. wasi:http in a filter);
//! - keeps warm instances per plugin and reuses them (pooling allocator), dropping an
//!   instance after any failure;
//! - runs every call under a CPU budget (epoch interruption, 1 ms ticks) and a memory cap, with
//!   no files, environment or sockets, and outgoing HTTP only to granted hosts;
//! - polls the directory: adding, replacing or removing a `.wasm` (or its `.toml`) takes effect
//!   without a restart, and whatever references the plugin by name (filters, routes,
//!   interceptors) uses the new version at its next call.
//!
//! A failed call (trap, timeout, memory) has a defined outcome chosen by the caller (filter: no
//! match; route: next route; interceptor and charging: the plugin's `on_error`), is counted
//! in [`PluginCounters`] and logged rate-limited ([`faillog`]): one line per plugin per
//! interval, not a backtrace per message.
//!
//! A broken file (not a component, no world, forbidden imports, bad manifest) replacing a
//! plugin that works does not take it down: the version loaded before keeps serving, the
//! plugin is *stale* (`plugin -l`, `plugin_stale` on `/metrics`) until a good file comes. The
//! last good version of each plugin is kept in the cache directory ([`lastgood`]): at
//! startup, a plugin whose file is broken is loaded from there, and stale likewise.
//!
//! The host also runs Jasmin's Python scripts (`EvalPyFilter`, `python3(...)` interceptors) on
//! one CPython component ([`python`]); it exists even with `[plugins] enabled = false`, which
//! gates the Wasm plugins only, and costs nothing until a component is loaded.

pub mod bindings;
pub mod convert;
pub mod engine;
pub mod faillog;
pub mod lastgood;
pub mod manifest;
pub mod python;
pub mod state;
pub mod wasi;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::{Mutex, RwLock};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

pub use engine::Engines;
pub use manifest::{Manifest, OnError};
use smsgate_core::config::PluginsConfig;
use smsgate_routing::{Routable, ScriptFilter, ScriptHost, ScriptRoute};
pub use state::{PluginCounters, PluginInfo, State};

/// The extension point a plugin implements (its WIT world).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    Filter,
    Route,
    Interceptor,
    HlrLookup,
    Charging,
}

impl World {
    /// The world's name in the WIT.
    pub fn name(self) -> &'static str {
        match self {
            World::Filter => "filter",
            World::Route => "route",
            World::Interceptor => "interceptor",
            World::HlrLookup => "hlr-lookup",
            World::Charging => "charging",
        }
    }
    fn is_async(self) -> bool {
        matches!(self, World::HlrLookup | World::Charging)
    }
}

/// Why a plugin call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailKind {
    /// No plugin by that name is loaded (or it implements another world).
    Missing,
    /// The plugin trapped (panic, abort, refused import...).
    Trap,
    /// CPU budget or I/O deadline exceeded.
    Timeout,
    /// Memory cap exceeded.
    Memory,
}

/// A failed plugin call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("plugin {name}: {kind:?}: {detail}")]
pub struct CallError {
    pub name: String,
    pub kind: FailKind,
    pub detail: String,
}

/// Why a plugin file was not loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// Refused, and no version of the plugin serves.
    #[error("{0}")]
    Refused(String),
    /// Refused, and the last good version (SHA-256 `hash`) serves instead: the one loaded
    /// before, or (`from_cache`, at startup) the one recorded in the cache.
    #[error("{reason}; the last good version ({}{}) keeps serving", short(hash), if *from_cache { ", from the cache" } else { "" })]
    Stale {
        reason: String,
        hash: String,
        from_cache: bool,
    },
}

/// A content hash as shown: its first 8 hex digits.
pub fn short(hash: &str) -> &str {
    hash.get(..8).unwrap_or(hash)
}

/// One line of error text (a refusal reason: wasmtime's may span lines).
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A failed call's error in one line: its chain without the wasm backtrace.
fn reason(e: &wasmtime::Error) -> String {
    let parts: Vec<String> = e
        .chain()
        .map(|c| c.to_string())
        .filter(|t| !t.starts_with("error while executing at wasm backtrace"))
        .collect();
    let all = if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    };
    faillog::first_line(&all).to_string()
}

/// A warm instance and its store.
struct Warm<T> {
    store: Store<State>,
    inst: T,
}

/// Idle warm instances kept per plugin (more are created under load, then dropped).
const MAX_IDLE: usize = 64;

enum Instances {
    Filter(
        bindings::filter::FilterPre<State>,
        Mutex<Vec<Warm<bindings::filter::Filter>>>,
    ),
    Route(
        bindings::route::RoutePre<State>,
        Mutex<Vec<Warm<bindings::route::Route>>>,
    ),
    Interceptor(
        bindings::interceptor::InterceptorPre<State>,
        Mutex<Vec<Warm<bindings::interceptor::Interceptor>>>,
    ),
    Hlr(
        bindings::hlr::HlrLookupPre<State>,
        Mutex<Vec<Warm<bindings::hlr::HlrLookup>>>,
    ),
    Charging(
        bindings::charging::ChargingPre<State>,
        Mutex<Vec<Warm<bindings::charging::Charging>>>,
    ),
}

/// One loaded version of a plugin.
pub struct Plugin {
    pub info: Arc<PluginInfo>,
    pub world: World,
    /// SHA-256 of the component's bytes.
    pub hash: String,
    engine: Engine,
    io_timeout: Duration,
    instances: Instances,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.info.name)
            .field("world", &self.world)
            .finish()
    }
}

impl Plugin {
    fn new_store(&self) -> Store<State> {
        let mut store = Store::new(&self.engine, State::new(self.info.clone()));
        store.limiter(|s| s as &mut dyn wasmtime::ResourceLimiter);
        if self.world.is_async() {
            store.epoch_deadline_callback(|mut ctx| {
                let s = ctx.data_mut();
                s.ticks += 1;
                if s.ticks > s.info.budget_ticks {
                    Err(Trap::Interrupt.into())
                } else {
                    Ok(UpdateDeadline::Yield(1))
                }
            });
        }
        store.set_epoch_deadline(self.info.budget_ticks.max(1));
        self.info
            .counters
            .instantiations
            .fetch_add(1, Ordering::Relaxed);
        store
    }

    fn fail(&self, store: Option<&Store<State>>, e: wasmtime::Error) -> CallError {
        let c = &self.info.counters;
        let kind = if store.is_some_and(|s| s.data().memory_refused) {
            c.memory.fetch_add(1, Ordering::Relaxed);
            FailKind::Memory
        } else if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            c.timeouts.fetch_add(1, Ordering::Relaxed);
            FailKind::Timeout
        } else {
            c.traps.fetch_add(1, Ordering::Relaxed);
            FailKind::Trap
        };
        let detail = reason(&e);
        tracing::debug!(plugin = %self.info.name, ?kind, error = ?e, "plugin call failed (details)");
        self.log_failure(kind, &detail);
        CallError {
            name: self.info.name.clone(),
            kind,
            detail,
        }
    }

    /// Log a failed call, rate-limited ([`faillog`]).
    fn log_failure(&self, kind: FailKind, detail: &str) {
        let fails = &self.info.fails;
        let lines = fails.record(Instant::now(), detail);
        if let Some((n, last)) = lines.summary {
            log_summary(&self.info.name, n, &last, fails.interval());
        }
        if lines.log_this {
            tracing::warn!(plugin = %self.info.name, ?kind, error = %detail, "plugin call failed");
        }
    }

    /// A call of a computing world (filter, route, interceptor): synchronous, on the calling
    /// thread, under the CPU budget (the epoch deadline traps). These plugins only compute:
    /// their WASI never blocks ([`wasi`]).
    fn call_sync<T, R>(
        &self,
        idle: &Mutex<Vec<Warm<T>>>,
        make: impl FnOnce(&mut Store<State>) -> wasmtime::Result<T>,
        f: impl FnOnce(&T, &mut Store<State>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        self.info.counters.calls.fetch_add(1, Ordering::Relaxed);
        let warm = idle.lock().pop();
        let mut w = match warm {
            Some(w) => w,
            None => {
                let mut store = self.new_store();
                let inst = make(&mut store).map_err(|e| self.fail(Some(&store), e))?;
                Warm { store, inst }
            }
        };
        w.store.set_epoch_deadline(self.info.budget_ticks.max(1));
        let r = f(&w.inst, &mut w.store);
        self.done(idle, w, r)
    }

    /// After a call: the instance goes back to the idle list after a success and is dropped
    /// after a failure.
    fn done<T, R>(
        &self,
        idle: &Mutex<Vec<Warm<T>>>,
        w: Warm<T>,
        r: wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        match r {
            Ok(r) => {
                let mut idle = idle.lock();
                if idle.len() < MAX_IDLE {
                    idle.push(w);
                }
                Ok(r)
            }
            Err(e) => Err(self.fail(Some(&w.store), e)),
        }
    }

    /// A call of an I/O world on a warm instance (instantiated when none is idle), yielding
    /// at every epoch tick; the instance is dropped if this future is dropped mid-call.
    async fn run<T: Send, R>(
        &self,
        idle: &Mutex<Vec<Warm<T>>>,
        make: impl AsyncFnOnce(&mut Store<State>) -> wasmtime::Result<T>,
        f: impl AsyncFnOnce(&T, &mut Store<State>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        self.info.counters.calls.fetch_add(1, Ordering::Relaxed);
        let warm = idle.lock().pop();
        let mut w = match warm {
            Some(w) => w,
            None => {
                let mut store = self.new_store();
                let inst = make(&mut store)
                    .await
                    .map_err(|e| self.fail(Some(&store), e))?;
                Warm { store, inst }
            }
        };
        w.store.data_mut().ticks = 0;
        w.store.set_epoch_deadline(1);
        let r = f(&w.inst, &mut w.store).await;
        self.done(idle, w, r)
    }

    /// `filter` world: does `r` match?
    pub fn matches(&self, r: &bindings::Routable) -> Result<bool, CallError> {
        let Instances::Filter(pre, idle) = &self.instances else {
            return Err(self.wrong(World::Filter));
        };
        self.call_sync(idle, |s| pre.instantiate(s), |i, s| i.call_matches(s, r))
    }

    /// `route` world: index of the chosen candidate.
    pub fn pick(
        &self,
        r: &bindings::Routable,
        candidates: &[bindings::route::Candidate],
    ) -> Result<Option<u32>, CallError> {
        let Instances::Route(pre, idle) = &self.instances else {
            return Err(self.wrong(World::Route));
        };
        self.call_sync(
            idle,
            |s| pre.instantiate(s),
            |i, s| i.call_pick(s, r, candidates),
        )
    }

    /// `interceptor` world.
    pub fn intercept(
        &self,
        r: &bindings::Routable,
    ) -> Result<bindings::interceptor::Verdict, CallError> {
        let Instances::Interceptor(pre, idle) = &self.instances else {
            return Err(self.wrong(World::Interceptor));
        };
        self.call_sync(idle, |s| pre.instantiate(s), |i, s| i.call_intercept(s, r))
    }

    fn wrong(&self, expected: World) -> CallError {
        CallError {
            name: self.info.name.clone(),
            kind: FailKind::Missing,
            detail: format!(
                "is a {} plugin, not a {} plugin",
                self.world.name(),
                expected.name()
            ),
        }
    }

    /// A call of an I/O world (HLR lookup, charging): awaited, yielding to the runtime at
    /// every epoch tick, under the CPU budget and the deadline of the whole call.
    async fn call_async<T: Send, R>(
        &self,
        idle: &Mutex<Vec<Warm<T>>>,
        make: impl AsyncFnOnce(&mut Store<State>) -> wasmtime::Result<T>,
        f: impl AsyncFnOnce(&T, &mut Store<State>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        match tokio::time::timeout(self.io_timeout, self.run(idle, make, f)).await {
            Ok(r) => r,
            Err(_) => {
                self.info.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                let detail = format!(
                    "deadline of {} ms (host I/O included) exceeded",
                    self.io_timeout.as_millis()
                );
                self.log_failure(FailKind::Timeout, &detail);
                Err(CallError {
                    name: self.info.name.clone(),
                    kind: FailKind::Timeout,
                    detail,
                })
            }
        }
    }

    /// `hlr-lookup` world.
    pub async fn lookup(
        &self,
        msisdn: &str,
    ) -> Result<Result<bindings::hlr::Network, String>, CallError> {
        let Instances::Hlr(pre, idle) = &self.instances else {
            return Err(self.wrong(World::HlrLookup));
        };
        self.call_async(
            idle,
            async |s| pre.instantiate_async(s).await,
            async |i, s| i.call_lookup(s, msisdn).await,
        )
        .await
    }

    /// `charging` world: authorize.
    pub async fn authorize(
        &self,
        r: &bindings::Routable,
        parts: u32,
    ) -> Result<Result<(), u32>, CallError> {
        let Instances::Charging(pre, idle) = &self.instances else {
            return Err(self.wrong(World::Charging));
        };
        self.call_async(
            idle,
            async |s| pre.instantiate_async(s).await,
            async |i, s| i.call_authorize(s, r, parts).await,
        )
        .await
    }

    /// `charging` world: settle.
    pub async fn settle(&self, id: &str, accepted: bool) -> Result<(), CallError> {
        let Instances::Charging(pre, idle) = &self.instances else {
            return Err(self.wrong(World::Charging));
        };
        self.call_async(
            idle,
            async |s| pre.instantiate_async(s).await,
            async |i, s| i.call_settle(s, id, accepted).await,
        )
        .await
    }
}

/// One Prometheus metric family: its `# TYPE` and `# HELP` lines, then one sample per row,
/// labelled `label="<row name>"` (escaped as the text format wants).
pub(crate) fn metric_family<'a>(
    out: &mut String,
    metric: &str,
    kind: &str,
    help: &str,
    label: &str,
    rows: impl Iterator<Item = (&'a str, u64)>,
) {
    use std::fmt::Write;
    let _ = writeln!(out, "# TYPE {metric} {kind}\n# HELP {metric} {help}");
    for (name, value) in rows {
        let name = name.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = writeln!(out, "{metric}{{{label}=\"{name}\"}} {value}");
    }
}

/// The summary line of failures not logged one by one.
fn log_summary(name: &str, n: u64, last: &str, interval: Duration) {
    tracing::warn!(
        plugin = %name,
        "plugin {name}: {n} more failures in the last {} (last: {last})",
        faillog::human(interval)
    );
}

/// A plugin by name: its current version, swapped on reload (none: not loaded).
#[derive(Debug)]
pub struct Slot {
    pub name: String,
    current: RwLock<Option<Arc<Plugin>>>,
    counters: Arc<PluginCounters>,
    /// Why the plugin's file was refused while an older version serves (none: the file on
    /// disk is what serves).
    stale: RwLock<Option<String>>,
    fails: Arc<faillog::FailLog>,
}

impl Slot {
    /// When the current version is not the plugin's file (that file was refused): the reason.
    pub fn stale(&self) -> Option<String> {
        self.stale.read().clone()
    }

    /// The current version, if loaded.
    pub fn get(&self) -> Option<Arc<Plugin>> {
        self.current.read().clone()
    }

    /// The plugin's counters (kept across versions).
    pub fn counters(&self) -> &Arc<PluginCounters> {
        &self.counters
    }

    /// The current version if it implements `world`, else a `Missing` error.
    pub fn plugin(&self, world: World) -> Result<Arc<Plugin>, CallError> {
        match self.get() {
            Some(p) if p.world == world => Ok(p),
            Some(p) => Err(p.wrong(world)),
            None => Err(CallError {
                name: self.name.clone(),
                kind: FailKind::Missing,
                detail: "not loaded".into(),
            }),
        }
    }
}

/// What the host knows about a file it loaded (to notice changes).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    wasm: (Option<SystemTime>, u64),
    toml: Option<(Option<SystemTime>, u64)>,
}

/// How long a plugin file must go unmodified before a scan acts on it: a file still being
/// written (a copy, a truncate-then-write) is not loaded, nor refused, half-way through.
const SETTLE: Duration = Duration::from_millis(150);

impl Fingerprint {
    /// Whether a file was modified less than [`SETTLE`] ago (a modification time in the
    /// future, after the clock stepped back, does not hold the file back).
    fn settling(&self) -> bool {
        let recent = |t: Option<SystemTime>| {
            t.and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age < SETTLE)
        };
        recent(self.wasm.0) || self.toml.is_some_and(|(t, _)| recent(t))
    }
}

fn fingerprint(wasm: &Path) -> Option<Fingerprint> {
    let m = std::fs::metadata(wasm).ok()?;
    let toml = std::fs::metadata(wasm.with_extension("toml"))
        .ok()
        .map(|t| (t.modified().ok(), t.len()));
    Some(Fingerprint {
        wasm: (m.modified().ok(), m.len()),
        toml,
    })
}

/// The plugin host.
pub struct PluginHost {
    engines: Arc<Engines>,
    cfg: PluginsConfig,
    slots: RwLock<HashMap<String, Arc<Slot>>>,
    seen: Mutex<HashMap<String, Fingerprint>>,
    lastgood: lastgood::LastGood,
    /// Set once the directory was scanned (the first scan forgets removed plugins' last good
    /// versions).
    scanned: AtomicBool,
    /// The failure log interval of every plugin (milliseconds).
    fail_interval_ms: Arc<AtomicU64>,
    sync_linker: Linker<State>,
    async_linker: Linker<State>,
    python: python::PythonRuntime,
    /// This host, for what it hands out (`EvalPyFilter`s run through it).
    me: std::sync::Weak<PluginHost>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost")
            .field("dir", &self.cfg.dir)
            .finish()
    }
}

fn linker(engine: &Engine, asynk: bool) -> wasmtime::Result<Linker<State>> {
    let mut l = Linker::new(engine);
    // WASI with nothing granted (no preopens, no environment, sockets refused); wasi:http only
    // for the worlds that may call out, whose calls are asynchronous. The computing worlds'
    // calls are synchronous, with a WASI that never blocks.
    if asynk {
        wasmtime_wasi::p2::add_to_linker_async(&mut l)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut l)?;
    } else {
        wasi::add_to_linker(&mut l)?;
    }
    bindings::base::smsgate::plugin::host::add_to_linker::<State, HasSelf<State>>(&mut l, |s| s)?;
    bindings::base::smsgate::plugin::types::add_to_linker::<State, HasSelf<State>>(&mut l, |s| s)?;
    Ok(l)
}

impl PluginHost {
    /// A host for `cfg` (components cached under `cfg.cache_dir`, default
    /// `data_dir/plugin-cache`). Loads nothing yet: see [`PluginHost::scan`].
    pub fn new(cfg: &PluginsConfig, data_dir: &Path) -> Result<Arc<PluginHost>, String> {
        let cache = cfg
            .cache_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("plugin-cache"));
        let py = &cfg.python;
        let py_max = py
            .scripts
            .values()
            .filter_map(|s| s.memory_mb)
            .fold(py.memory_mb, u64::max);
        let max_memory = (cfg.max_memory_mb.max(cfg.memory_mb).max(py_max).max(1) as usize) << 20;
        let lastgood = lastgood::LastGood::new(cache.join("lastgood"));
        let engines = Engines::new(cache, max_memory)?;
        let sync_linker = linker(&engines.sync, false).map_err(|e| format!("linker: {e}"))?;
        let async_linker = linker(&engines.asynk, true).map_err(|e| format!("linker: {e}"))?;
        let fail_interval_ms =
            Arc::new(AtomicU64::new(faillog::DEFAULT_INTERVAL.as_millis() as u64));
        let python =
            python::PythonRuntime::new(py, engines.clone(), data_dir, fail_interval_ms.clone())?;
        Ok(Arc::new_cyclic(|me| PluginHost {
            engines,
            cfg: cfg.clone(),
            slots: RwLock::new(HashMap::new()),
            seen: Mutex::new(HashMap::new()),
            lastgood,
            scanned: AtomicBool::new(false),
            fail_interval_ms,
            sync_linker,
            async_linker,
            python,
            me: me.clone(),
        }))
    }

    /// Wasm plugins are enabled (`[plugins] enabled`). The host also exists without them:
    /// it runs the Python scripts.
    pub fn enabled(&self) -> bool {
        self.cfg.enabled
    }

    /// The Python runtime of Jasmin's scripts.
    pub fn python(&self) -> &python::PythonRuntime {
        &self.python
    }

    /// The engines (benchmarks and tests).
    pub fn engines(&self) -> &Arc<Engines> {
        &self.engines
    }

    /// The slot of plugin `name` (created empty if the plugin is not loaded yet).
    pub fn slot(&self, name: &str) -> Arc<Slot> {
        if let Some(s) = self.slots.read().get(name) {
            return s.clone();
        }
        self.slots
            .write()
            .entry(name.to_string())
            .or_insert_with(|| {
                Arc::new(Slot {
                    name: name.to_string(),
                    current: RwLock::new(None),
                    counters: Arc::new(PluginCounters::default()),
                    stale: RwLock::new(None),
                    fails: Arc::new(faillog::FailLog::new(self.fail_interval_ms.clone())),
                })
            })
            .clone()
    }

    /// The interval of the rate-limited failure log (default 10 s).
    pub fn set_fail_log_interval(&self, d: Duration) {
        self.fail_interval_ms
            .store(d.as_millis().max(1) as u64, Ordering::Relaxed);
    }

    /// Log the summaries of failure intervals that are over (called by the watcher).
    pub fn flush_fail_logs(&self) {
        let now = Instant::now();
        let slots: Vec<Arc<Slot>> = self.slots.read().values().cloned().collect();
        for s in slots {
            if let Some((n, last)) = s.fails.flush(now) {
                log_summary(&s.name, n, &last, s.fails.interval());
            }
        }
        self.python.flush_fail_logs();
    }

    /// The plugins directory, if configured.
    pub fn dir(&self) -> Option<&Path> {
        self.cfg.dir.as_deref()
    }

    /// Loaded plugins: (name, world).
    pub fn loaded(&self) -> Vec<(String, World)> {
        let mut v: Vec<_> = self
            .slots
            .read()
            .values()
            .filter_map(|s| s.get().map(|p| (s.name.clone(), p.world)))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Prometheus text of every plugin's counters (`plugin_<counter>{plugin="<name>"}`),
    /// appended to the HTTP API's `/metrics`.
    pub fn render_prometheus(&self, out: &mut String) {
        let mut slots: Vec<Arc<Slot>> = self.slots.read().values().cloned().collect();
        slots.sort_by(|a, b| a.name.cmp(&b.name));
        type Item = (&'static str, &'static str, fn(&PluginCounters) -> u64);
        let items: [Item; 6] = [
            ("calls", "Plugin calls made.", |c| {
                c.calls.load(Ordering::Relaxed)
            }),
            ("traps", "Plugin calls that trapped.", |c| {
                c.traps.load(Ordering::Relaxed)
            }),
            (
                "timeouts",
                "Plugin calls stopped at their CPU budget or I/O deadline.",
                |c| c.timeouts.load(Ordering::Relaxed),
            ),
            ("memory", "Plugin calls stopped at their memory cap.", |c| {
                c.memory.load(Ordering::Relaxed)
            }),
            (
                "denied",
                "Plugin network requests refused (host not granted).",
                |c| c.denied.load(Ordering::Relaxed),
            ),
            ("instantiations", "Plugin instances created.", |c| {
                c.instantiations.load(Ordering::Relaxed)
            }),
        ];
        for (name, help, get) in items {
            let rows = slots.iter().map(|s| (s.name.as_str(), get(&s.counters)));
            metric_family(
                out,
                &format!("plugin_{name}"),
                "counter",
                help,
                "plugin",
                rows,
            );
        }
        let rows = slots.iter().map(|s| {
            let stale = s.current.read().is_some() && s.stale.read().is_some();
            (s.name.as_str(), u64::from(stale))
        });
        metric_family(
            out,
            "plugin_stale",
            "gauge",
            "1 when the plugin's file was refused and its last good version serves instead.",
            "plugin",
            rows,
        );
    }

    /// Load (or replace) plugin `name` from `bytes` with `manifest`.
    pub fn load_bytes(
        &self,
        name: &str,
        bytes: &[u8],
        manifest: Manifest,
    ) -> Result<World, String> {
        let slot = self.slot(name);
        let plugin = self.build(&slot, bytes, manifest)?;
        let world = plugin.world;
        *slot.current.write() = Some(plugin);
        *slot.stale.write() = None;
        Ok(world)
    }

    /// Compile (or take from the cache) and link a version of `slot`'s plugin.
    fn build(&self, slot: &Slot, bytes: &[u8], manifest: Manifest) -> Result<Arc<Plugin>, String> {
        let name = &slot.name;
        let hash = engine::content_hash(bytes);
        let component = self.engines.load(&self.engines.sync, bytes)?;
        let world = detect_world(&component, &self.engines.sync)?;
        let budget = manifest.budget_ms.unwrap_or(self.cfg.budget_ms).max(1);
        let memory_mb = manifest.memory_mb.unwrap_or(self.cfg.memory_mb).max(1);
        let info = Arc::new(PluginInfo {
            name: name.to_string(),
            config: manifest.config_strings(),
            io_timeout_ms: manifest.io_timeout_ms.unwrap_or(self.cfg.io_timeout_ms),
            manifest,
            counters: slot.counters.clone(),
            memory_bytes: (memory_mb as usize) << 20,
            budget_ticks: budget,
            fails: slot.fails.clone(),
        });
        let (engine, component, linker) = if world.is_async() {
            (
                self.engines.asynk.clone(),
                self.engines.load(&self.engines.asynk, bytes)?,
                &self.async_linker,
            )
        } else {
            (self.engines.sync.clone(), component, &self.sync_linker)
        };

        let pre = linker.instantiate_pre(&component).map_err(|e| {
            format!(
                "does not fit world {} (imports the host does not provide to it): {e:#}",
                world.name()
            )
        })?;
        let bad = |e: wasmtime::Error| format!("does not match world {}: {e:#}", world.name());
        let instances = match world {
            World::Filter => Instances::Filter(
                bindings::filter::FilterPre::new(pre).map_err(bad)?,
                Mutex::default(),
            ),
            World::Route => Instances::Route(
                bindings::route::RoutePre::new(pre).map_err(bad)?,
                Mutex::default(),
            ),
            World::Interceptor => Instances::Interceptor(
                bindings::interceptor::InterceptorPre::new(pre).map_err(bad)?,
                Mutex::default(),
            ),
            World::HlrLookup => Instances::Hlr(
                bindings::hlr::HlrLookupPre::new(pre).map_err(bad)?,
                Mutex::default(),
            ),
            World::Charging => Instances::Charging(
                bindings::charging::ChargingPre::new(pre).map_err(bad)?,
                Mutex::default(),
            ),
        };
        let io_timeout = Duration::from_millis(info.io_timeout_ms.max(1));
        Ok(Arc::new(Plugin {
            info,
            world,
            hash,
            engine,
            io_timeout,
            instances,
        }))
    }

    /// A version of `slot`'s plugin from its component and its manifest's text.
    fn build_version(&self, slot: &Slot, v: &lastgood::Version) -> Result<Arc<Plugin>, String> {
        let manifest = match &v.manifest {
            Some(t) => Manifest::parse(t).map_err(|e| format!("manifest: {e}"))?,
            None => Manifest::default(),
        };
        self.build(slot, &v.wasm, manifest)
    }

    /// Load `dir/name.wasm` with its `name.toml`, if any, and record it as the plugin's last
    /// good version. When the file is refused, the version serving keeps serving (or, when
    /// none does, as at startup, the last good version recorded in the cache is loaded): the
    /// plugin is stale until a good file comes, and the error says so.
    pub fn load_file(&self, wasm: &Path) -> Result<World, LoadError> {
        let name = wasm
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| {
                LoadError::Refused(format!("{}: not a plugin file name", wasm.display()))
            })?
            .to_string();
        let slot = self.slot(&name);
        let version = read_version(wasm);
        let built = version
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|v| self.build_version(&slot, v))
            .and_then(|p| match slot.get() {
                // What references the plugin expects its world: a new world is a mistake
                // more likely than a plan.
                Some(c) if c.world != p.world => Err(format!(
                    "implements world {}, not {} like the version serving (remove the file, then add it, to change a plugin's world)",
                    p.world.name(),
                    c.world.name()
                )),
                _ => Ok(p),
            });
        let reason = match built {
            Ok(plugin) => {
                let world = plugin.world;
                *slot.current.write() = Some(plugin);
                *slot.stale.write() = None;
                if let Ok(v) = &version {
                    if let Err(e) = self.lastgood.save(&name, v) {
                        tracing::warn!(plugin = %name, error = %e, "cannot record the plugin's last good version");
                    }
                }
                return Ok(world);
            }
            Err(e) => one_line(&e),
        };
        if let Some(current) = slot.get() {
            *slot.stale.write() = Some(reason.clone());
            return Err(LoadError::Stale {
                reason,
                hash: current.hash.clone(),
                from_cache: false,
            });
        }
        let last = match self.lastgood.load(&name) {
            Ok(Some(v)) => v,
            Ok(None) => return Err(LoadError::Refused(reason)),
            Err(e) => {
                tracing::warn!(plugin = %name, error = %e, "unusable last good version");
                return Err(LoadError::Refused(reason));
            }
        };
        match self.build_version(&slot, &last) {
            Ok(plugin) => {
                let hash = plugin.hash.clone();
                *slot.current.write() = Some(plugin);
                *slot.stale.write() = Some(reason.clone());
                Err(LoadError::Stale {
                    reason,
                    hash,
                    from_cache: true,
                })
            }
            Err(e) => {
                tracing::warn!(plugin = %name, error = %one_line(&e), "unusable last good version");
                Err(LoadError::Refused(reason))
            }
        }
    }

    /// Unload plugin `name`: references to it fail as `Missing` until it comes back.
    pub fn unload(&self, name: &str) {
        if let Some(s) = self.slots.read().get(name) {
            *s.current.write() = None;
            *s.stale.write() = None;
        }
    }

    /// Bring the loaded plugins in line with the directory: load new and changed files,
    /// unload removed ones (and forget their last good versions). Returns how many changes
    /// were applied.
    pub fn scan(&self) -> usize {
        let Some(dir) = &self.cfg.dir else { return 0 };
        let mut present: HashMap<String, (PathBuf, Fingerprint)> = HashMap::new();
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) => {
                // Not "every plugin was removed": keep what serves.
                tracing::warn!(dir = %dir.display(), error = %e, "cannot read the plugins directory");
                return 0;
            }
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) != Some("wasm") {
                continue;
            }
            if let (Some(name), Some(fp)) = (
                p.file_stem().and_then(|s| s.to_str()).map(str::to_string),
                fingerprint(&p),
            ) {
                present.insert(name, (p, fp));
            }
        }
        // The first scan (at start) loads what is there; later ones let files settle.
        let first = !self.scanned.swap(true, Ordering::Relaxed);
        if first {
            self.lastgood.prune(&present.keys().cloned().collect());
        }
        let mut changes = 0;
        let mut seen = self.seen.lock();
        for (name, (path, fp)) in &present {
            if seen.get(name) == Some(fp) || (!first && fp.settling()) {
                continue;
            }
            seen.insert(name.clone(), fp.clone());
            changes += 1;
            let t = std::time::Instant::now();
            match self.load_file(path) {
                Ok(world) => {
                    tracing::info!(plugin = %name, world = world.name(), ms = t.elapsed().as_millis() as u64, "plugin loaded")
                }
                Err(LoadError::Stale {
                    reason,
                    hash,
                    from_cache,
                }) => {
                    let from = if from_cache { " (from the cache)" } else { "" };
                    tracing::error!(
                        plugin = %name,
                        file = %path.display(),
                        error = %reason,
                        last_good = short(&hash),
                        "plugin {name}: file refused, the last good version {}{from} keeps serving",
                        short(&hash)
                    )
                }
                Err(LoadError::Refused(e)) => {
                    self.unload(name);
                    tracing::error!(plugin = %name, file = %path.display(), error = %e, "plugin refused")
                }
            }
        }
        let gone: Vec<String> = seen
            .keys()
            .filter(|n| !present.contains_key(*n))
            .cloned()
            .collect();
        for name in gone {
            seen.remove(&name);
            self.unload(&name);
            self.lastgood.remove(&name);
            changes += 1;
            tracing::info!(plugin = %name, "plugin removed");
        }
        changes
    }

    /// Scan the directory now, then every `watch_ms` until `shutdown` (also logging the
    /// summaries of failure intervals that are over).
    pub fn watch(self: &Arc<Self>, shutdown: tokio_util::sync::CancellationToken) {
        if !self.enabled() {
            return;
        }
        self.scan();
        let this = self.clone();
        let every = Duration::from_millis(self.cfg.watch_ms.max(10));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
                let h = this.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    h.scan();
                    h.flush_fail_logs();
                })
                .await;
            }
        });
    }
}

/// A plugin file's component and manifest text.
fn read_version(wasm: &Path) -> Result<lastgood::Version, String> {
    let bytes = std::fs::read(wasm).map_err(|e| format!("{}: {e}", wasm.display()))?;
    let toml = wasm.with_extension("toml");
    let manifest = match std::fs::read_to_string(&toml) {
        Ok(t) => {
            Manifest::parse(&t).map_err(|e| format!("{}: {e}", toml.display()))?;
            Some(t)
        }
        Err(_) => None,
    };
    Ok(lastgood::Version {
        wasm: bytes,
        manifest,
    })
}

/// Which world a component implements, from its exports.
fn detect_world(c: &Component, engine: &Engine) -> Result<World, String> {
    let ty = c.component_type();
    let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
    // One contract version today; a later one dispatches to its own bindings here.
    match bindings::ContractVersion::of(&imports)? {
        bindings::ContractVersion::V0_1 => {}
    }
    let names: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    let has = |n: &str| names.iter().any(|x| x == n);
    let world = if has("matches") {
        World::Filter
    } else if has("pick") {
        World::Route
    } else if has("intercept") {
        World::Interceptor
    } else if has("lookup") {
        World::HlrLookup
    } else if has("authorize") {
        World::Charging
    } else {
        return Err(format!(
            "exports {names:?} match no smsgate:plugin@0.1.0 world (filter: matches, route: pick, interceptor: intercept, hlr-lookup: lookup, charging: authorize)"
        ));
    };
    Ok(world)
}

/// A routing filter backed by a `filter` plugin (`type PluginFilter`): a failure is "no match".
#[derive(Debug)]
struct SlotFilter(Arc<Slot>);

impl ScriptFilter for SlotFilter {
    fn matches(&self, r: &Routable<'_>) -> bool {
        let Ok(p) = self.0.plugin(World::Filter) else {
            return false;
        };
        let wr = convert::routable(r.message, Some(r.text));
        p.matches(&wr).unwrap_or(false)
    }
}

/// A route's connector choice backed by a `route` plugin: a failure picks nothing (the table
/// goes on with the next route).
#[derive(Debug)]
struct SlotRoute(Arc<Slot>);

impl ScriptRoute for SlotRoute {
    fn pick(&self, r: &Routable<'_>, candidates: &[(String, bool)]) -> Option<usize> {
        let p = self.0.plugin(World::Route).ok()?;
        let wr = convert::routable(r.message, Some(r.text));
        let cs: Vec<bindings::route::Candidate> = candidates
            .iter()
            .map(|(c, a)| bindings::route::Candidate {
                connector: c.clone(),
                available: *a,
            })
            .collect();
        match p.pick(&wr, &cs) {
            Ok(Some(i)) if (i as usize) < candidates.len() => Some(i as usize),
            _ => None,
        }
    }
}

/// An `EvalPyFilter` run by the Python runtime: a script that fails does not match.
#[derive(Debug)]
struct PyFilter {
    host: std::sync::Weak<PluginHost>,
    script: Arc<python::Script>,
}

impl ScriptFilter for PyFilter {
    fn matches(&self, r: &Routable<'_>) -> bool {
        let Some(host) = self.host.upgrade() else {
            return false;
        };
        let m = r.message;
        let door = python::door(m.channel);
        let parts = python::presentation_parts(m, r.text);
        let user = (m.direction == smsgate_core::model::Direction::Mt)
            .then(|| python::convert::user_ids(r.uid, m.user.as_deref(), r.gid));
        let pr = python::convert::routable(m, door, &parts, user);
        host.python.filter(&self.script, &pr).unwrap_or(false)
    }
}

impl PluginHost {
    /// Compile script `source` of `kind`, named by its path (`None`: inline code).
    pub fn python_script(
        &self,
        path: Option<&str>,
        source: &str,
        kind: python::ScriptKind,
    ) -> Result<Arc<python::Script>, python::PyError> {
        self.python.script(path, source, kind)
    }
}

/// An `EvalPyFilter`'s `py_code`: a script's source, or (from a configuration file) the path
/// of a script to read: `(path, source)`.
pub fn py_code_source(code: &str) -> Result<(Option<String>, String), String> {
    let t = code.trim();
    if !t.contains('\n') && t.starts_with('/') && t.ends_with(".py") {
        let source = std::fs::read_to_string(t).map_err(|e| format!("cannot read {t}: {e}"))?;
        return Ok((Some(t.to_string()), source));
    }
    Ok((None, code.to_string()))
}

impl ScriptHost for PluginHost {
    fn load_filter(&self, code: &str, path: Option<&str>) -> Result<Arc<dyn ScriptFilter>, String> {
        let (read_from, source) = py_code_source(code)?;
        let path = read_from.as_deref().or(path);
        let script = self
            .python
            .script(path, &source, python::ScriptKind::Filter)
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(PyFilter {
            host: self.me.clone(),
            script,
        }))
    }

    fn plugin_filter(&self, name: &str) -> Result<Arc<dyn ScriptFilter>, String> {
        if !self.enabled() {
            return Err(smsgate_routing::filter::plugins_disabled("PluginFilter"));
        }
        Ok(Arc::new(SlotFilter(self.slot(name))))
    }

    fn plugin_route(&self, name: &str) -> Result<Arc<dyn ScriptRoute>, String> {
        if !self.enabled() {
            return Err(smsgate_routing::filter::plugins_disabled("a plugin route"));
        }
        Ok(Arc::new(SlotRoute(self.slot(name))))
    }
}
