//! Jasmin's Python scripts (`python3(/path.py)` interceptors, `EvalPyFilter`) on one
//! sandboxed CPython component (`plugins/python`, built with componentize-py) that runs
//! script source given at run time, against the private world in `wit/python/`.
//!
//! - The component is found and loaded once, at the first script ([`PythonRuntime::script`]),
//!   its machine code cached on disk like any plugin's (a restart loads it in milliseconds).
//! - A script is compiled when its rule is added: a syntax error refuses the rule with
//!   Python's message. Each warm instance compiles a script once (keyed by the SHA-256 of its
//!   source) and keeps it, so a call only builds the routable and runs the code.
//! - Filters are called synchronously on the routing path, with a WASI that never waits and
//!   no network; interceptors asynchronously, where `time.sleep` and HTTP (to the hosts
//!   granted to the script) wait without holding a runtime thread, under the script's
//!   wall-clock deadline.
//! - Every run has a CPU budget (epoch ticks) and a memory cap; a script that raises, loops,
//!   allocates too much or sleeps past its deadline fails that message only, is counted
//!   ([`ScriptStats`]) and logged rate-limited; a trapped instance is dropped.

pub mod convert;
pub mod files;
mod host;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use crate::bindings::python::{asynk, sync, Failure, Routable, Verdict};
use crate::engine::{content_hash, Engines};
use crate::faillog::FailLog;
use crate::manifest::Manifest;
use crate::state::{PluginCounters, PluginInfo, State};
use crate::FailKind;
use files::LogFiles;
use smsgate_core::config::PythonConfig;

/// The runtime component's file name.
pub const RUNTIME_FILE: &str = "smsgate-python.wasm";

/// What to do when the runtime is missing: the one command that builds it.
pub const BUILD_HINT: &str = "build it with `bash plugins/python/build.sh` (needs python3 and pip; it writes smsgate-python.wasm next to the gateway's build), or set [plugins.python] runtime";

/// Idle warm instances kept per pool (a Python instance holds 12-20 MiB resident).
const MAX_IDLE: usize = 8;

/// Runs after which a warm instance is retired (dropped, its linear memory given back) and
/// the next run instantiates a fresh one from the runtime's snapshot (about a millisecond).
/// CPython's heap inside a long-lived instance only grows: scripts' objects, fragmentation,
/// caches. Without retirement a gateway running a Python interceptor on ~250 messages/s grew
/// by 290 MB/h over 30 minutes (scripts/soak.py).
const MAX_RUNS: u32 = 10_000;

/// Growth of an instance's linear memory (bytes) past which it is retired after its run.
const MAX_GROWTH: usize = 16 << 20;

/// Why a script run gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PyError {
    /// The runtime component is not available.
    #[error("the Python runtime is not available: {0}")]
    Unavailable(String),
    /// The script raised an exception (type, message, traceback).
    #[error("{0}")]
    Raised(String),
    /// The run was stopped: trap, CPU budget or deadline, memory cap.
    #[error("{0:?}: {1}")]
    Stopped(FailKind, String),
}

/// What a script is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind {
    Filter,
    Interceptor,
}

/// Counters of one script (by path, across versions of its source).
#[derive(Debug)]
pub struct ScriptStats {
    /// Runs, traps, timeouts, memory, denied HTTP.
    pub counters: Arc<PluginCounters>,
    /// Runs where the script raised an exception.
    pub raised: AtomicU64,
    fails: Arc<FailLog>,
}

/// A compiled script with its limits and grants.
#[derive(Debug)]
pub struct Script {
    /// The path its rule names (or `inline:<hash>` for code given inline).
    pub name: String,
    /// SHA-256 of the source.
    pub id: String,
    pub source: String,
    pub kind: ScriptKind,
    pub stats: Arc<ScriptStats>,
    info: Arc<PluginInfo>,
    timeout: Duration,
}

struct Warm<T> {
    store: Store<State>,
    inst: T,
    /// Scripts this instance has compiled.
    loaded: HashSet<String>,
    /// Runs so far (retired at [`MAX_RUNS`]).
    runs: u32,
    /// Its linear memory's size once instantiated (retired past [`MAX_GROWTH`] more).
    base_memory: usize,
}

impl<T> Warm<T> {
    fn new(store: Store<State>, inst: T) -> Warm<T> {
        let base_memory = store.data().memory_size;
        Warm {
            store,
            inst,
            loaded: HashSet::new(),
            runs: 0,
            base_memory,
        }
    }

    /// Whether it has run or grown enough to be replaced by a fresh instance.
    fn worn(&self) -> bool {
        self.runs >= MAX_RUNS
            || self.store.data().memory_size > self.base_memory.saturating_add(MAX_GROWTH)
    }
}

struct Loaded {
    path: PathBuf,
    /// SHA-256 of the component: the key of its compiled forms in the cache.
    hash: String,
    filter: sync::RuntimePre<State>,
    /// Loaded with the first interceptor script (a gateway with only filters never needs it).
    intercept: std::sync::OnceLock<Result<asynk::RuntimePre<State>, String>>,
    filters_idle: Mutex<Vec<Warm<sync::Runtime>>>,
    interceptors_idle: Mutex<Vec<Warm<asynk::Runtime>>>,
}

/// The Python runtime of one gateway.
pub struct PythonRuntime {
    cfg: PythonConfig,
    engines: Arc<Engines>,
    files: Arc<LogFiles>,
    sync_linker: Linker<State>,
    async_linker: Linker<State>,
    loaded: Mutex<Option<Arc<Loaded>>>,
    stats: RwLock<BTreeMap<String, Arc<ScriptStats>>>,
    fail_interval_ms: Arc<AtomicU64>,
    /// The runtime's own counters (instances and failures outside any script).
    base: Arc<PluginInfo>,
}

impl std::fmt::Debug for PythonRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PythonRuntime")
            .field("runtime", &self.cfg.runtime)
            .finish()
    }
}

fn linker(engine: &Engine, asynk: bool) -> wasmtime::Result<Linker<State>> {
    let mut l = Linker::new(engine);
    if asynk {
        wasmtime_wasi::p2::add_to_linker_async(&mut l)?;
        asynk::smsgate::python::host::add_to_linker::<State, HasSelf<State>>(&mut l, |s| s)?;
    } else {
        crate::wasi::add_to_linker(&mut l)?;
        sync::smsgate::python::host::add_to_linker::<State, HasSelf<State>>(&mut l, |s| s)?;
    }
    sync::smsgate::python::types::add_to_linker::<State, HasSelf<State>>(&mut l, |s| s)?;
    Ok(l)
}

impl sync::smsgate::python::types::Host for State {}

impl PythonRuntime {
    /// The runtime for `cfg`, on `engines` (log files under `data_dir/script-logs` unless
    /// configured). The component itself loads at the first script.
    pub fn new(
        cfg: &PythonConfig,
        engines: Arc<Engines>,
        data_dir: &Path,
        fail_interval_ms: Arc<AtomicU64>,
    ) -> Result<PythonRuntime, String> {
        let files = LogFiles::new(
            cfg.log_prefixes.clone(),
            cfg.log_dir
                .clone()
                .unwrap_or_else(|| data_dir.join("script-logs")),
            cfg.log_max_mb.max(1) << 20,
        );
        let base = Arc::new(PluginInfo {
            name: "python".into(),
            manifest: Manifest::default(),
            config: BTreeMap::new(),
            counters: Arc::new(PluginCounters::default()),
            memory_bytes: (cfg.memory_mb.max(16) as usize) << 20,
            budget_ticks: cfg.budget_ms.max(1),
            io_timeout_ms: cfg.timeout_ms.max(1),
            fails: Arc::new(FailLog::new(fail_interval_ms.clone())),
        });
        Ok(PythonRuntime {
            sync_linker: linker(&engines.sync, false).map_err(|e| format!("linker: {e}"))?,
            async_linker: linker(&engines.asynk, true).map_err(|e| format!("linker: {e}"))?,
            cfg: cfg.clone(),
            engines,
            files: Arc::new(files),
            loaded: Mutex::new(None),
            stats: RwLock::new(BTreeMap::new()),
            fail_interval_ms,
            base,
        })
    }

    /// Where the runtime component is: the configured path, else `smsgate-python.wasm` next
    /// to the running binary, in `../wasm-plugins/` from it (a cargo build), or in
    /// `/usr/lib/smsgate/`.
    pub fn component_path(&self) -> Result<PathBuf, String> {
        if let Some(p) = &self.cfg.runtime {
            return if p.is_file() {
                Ok(p.clone())
            } else {
                Err(format!("{} not found: {BUILD_HINT}", p.display()))
            };
        }
        let mut candidates = vec![];
        if let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf))
        {
            candidates.push(dir.join(RUNTIME_FILE));
            for up in dir.ancestors().take(3) {
                candidates.push(up.join("wasm-plugins").join(RUNTIME_FILE));
            }
        }
        candidates.push(PathBuf::from("/usr/lib/smsgate").join(RUNTIME_FILE));
        candidates
            .into_iter()
            .find(|p| p.is_file())
            .ok_or_else(|| format!("{RUNTIME_FILE} not found: {BUILD_HINT}"))
    }

    fn loaded(&self) -> Result<Arc<Loaded>, PyError> {
        let mut slot = self.loaded.lock();
        if let Some(l) = &*slot {
            return Ok(l.clone());
        }
        let t = Instant::now();
        let path = self.component_path().map_err(PyError::Unavailable)?;
        let unavailable = |e: String| PyError::Unavailable(format!("{}: {e}", path.display()));
        let hash = self.component_hash(&path).map_err(unavailable)?;
        let cs = self
            .engines
            .load_hashed(&self.engines.sync, &hash, || read(&path))
            .map_err(unavailable)?;
        let filter = self
            .sync_linker
            .instantiate_pre(&cs)
            .and_then(sync::RuntimePre::new)
            .map_err(|e| unavailable(format!("{e:#}")))?;
        let l = Arc::new(Loaded {
            path: path.clone(),
            hash,
            filter,
            intercept: std::sync::OnceLock::new(),
            filters_idle: Mutex::default(),
            interceptors_idle: Mutex::default(),
        });
        tracing::info!(runtime = %path.display(), hash = crate::short(&l.hash), ms = t.elapsed().as_millis() as u64, "Python runtime loaded");
        *slot = Some(l.clone());
        Ok(l)
    }

    /// The interceptors' form of the runtime (the asynchronous engine's), loaded once.
    fn intercept_pre<'a>(&self, l: &'a Loaded) -> Result<&'a asynk::RuntimePre<State>, PyError> {
        l.intercept
            .get_or_init(|| {
                let ca = self
                    .engines
                    .load_hashed(&self.engines.asynk, &l.hash, || read(&l.path))?;
                self.async_linker
                    .instantiate_pre(&ca)
                    .and_then(asynk::RuntimePre::new)
                    .map_err(|e| format!("{e:#}"))
            })
            .as_ref()
            .map_err(|e| PyError::Unavailable(format!("{}: {e}", l.path.display())))
    }

    /// The component's SHA-256, remembered in the cache directory by file size and
    /// modification time: hashing 25 MB on every start would cost more than loading it.
    fn component_hash(&self, path: &Path) -> Result<String, String> {
        let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let stamp = format!("{} {} {mtime}", path.display(), meta.len());
        let memo = self.engines.cache_dir().join("python-runtime.hash");
        if let Ok(text) = std::fs::read_to_string(&memo) {
            if let Some((s, h)) = text.trim_end().rsplit_once(' ') {
                if s == stamp && h.len() == 64 {
                    return Ok(h.to_string());
                }
            }
        }
        let hash = content_hash(&read(path)?);
        let _ = std::fs::create_dir_all(self.engines.cache_dir()).and_then(|_| {
            let tmp = memo.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, format!("{stamp} {hash}\n"))?;
            std::fs::rename(&tmp, &memo)
        });
        Ok(hash)
    }

    /// The counters of every script, by name.
    pub fn stats(&self) -> Vec<(String, Arc<ScriptStats>)> {
        self.stats
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The log area of scripts.
    pub fn files(&self) -> &Arc<LogFiles> {
        &self.files
    }

    fn stats_of(&self, name: &str) -> Arc<ScriptStats> {
        if let Some(s) = self.stats.read().get(name) {
            return s.clone();
        }
        self.stats
            .write()
            .entry(name.to_string())
            .or_insert_with(|| {
                Arc::new(ScriptStats {
                    counters: Arc::new(PluginCounters::default()),
                    raised: AtomicU64::new(0),
                    fails: Arc::new(FailLog::new(self.fail_interval_ms.clone())),
                })
            })
            .clone()
    }

    /// Compile script `source` (`name`: the path its rule names, none for inline code) for
    /// `kind`. Errors: [`PyError::Raised`] with Python's message for a syntax error,
    /// [`PyError::Unavailable`] when the runtime is not there.
    pub fn script(
        &self,
        name: Option<&str>,
        source: &str,
        kind: ScriptKind,
    ) -> Result<Arc<Script>, PyError> {
        let id = content_hash(source.as_bytes());
        let name = name
            .map(str::to_string)
            .unwrap_or_else(|| format!("inline:{}", crate::short(&id)));
        let limits = self.cfg.scripts.get(&name).cloned().unwrap_or_default();
        let stats = self.stats_of(&name);
        let timeout_ms = limits.timeout_ms.unwrap_or(self.cfg.timeout_ms).max(1);
        let info = Arc::new(PluginInfo {
            name: name.clone(),
            manifest: Manifest {
                allow_hosts: limits.allow_hosts.clone(),
                ..Manifest::default()
            },
            config: BTreeMap::new(),
            counters: stats.counters.clone(),
            memory_bytes: (limits.memory_mb.unwrap_or(self.cfg.memory_mb).max(16) as usize) << 20,
            budget_ticks: limits.budget_ms.unwrap_or(self.cfg.budget_ms).max(1),
            io_timeout_ms: timeout_ms,
            fails: stats.fails.clone(),
        });
        let script = Arc::new(Script {
            name,
            id,
            source: source.to_string(),
            kind,
            stats,
            info,
            timeout: Duration::from_millis(timeout_ms),
        });
        // Compile it now, in a filter instance (compiling needs no I/O).
        let l = self.loaded()?;
        if kind == ScriptKind::Interceptor {
            self.intercept_pre(&l)?;
        }
        let mut w = self.take_filter(&l, &script)?;
        match w
            .inst
            .call_load(&mut w.store, &script.id, &script.name, &script.source)
        {
            Ok(Ok(())) => {
                w.loaded.insert(script.id.clone());
                put_back(&l.filters_idle, w);
                Ok(script)
            }
            Ok(Err(msg)) => {
                put_back(&l.filters_idle, w);
                Err(PyError::Raised(msg))
            }
            Err(e) => Err(self.stopped(&script, &w.store, e)),
        }
    }

    fn new_store(&self, engine: &Engine, info: Arc<PluginInfo>, asynk: bool) -> Store<State> {
        let mut state = State::new(info);
        state.python_files = Some(self.files.clone());
        let mut store = Store::new(engine, state);
        store.limiter(|s| s as &mut dyn wasmtime::ResourceLimiter);
        if asynk {
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
        self.base
            .counters
            .instantiations
            .fetch_add(1, Ordering::Relaxed);
        store
    }

    fn take_filter(&self, l: &Loaded, s: &Script) -> Result<Warm<sync::Runtime>, PyError> {
        let mut w = match l.filters_idle.lock().pop() {
            Some(w) => w,
            None => {
                let mut store = self.new_store(&self.engines.sync, s.info.clone(), false);
                // Instantiation runs the runtime's start code: give it the runtime's budget.
                store.set_epoch_deadline(self.base.budget_ticks.max(1000));
                let inst = l
                    .filter
                    .instantiate(&mut store)
                    .map_err(|e| self.stopped(s, &store, e))?;
                s.stats
                    .counters
                    .instantiations
                    .fetch_add(1, Ordering::Relaxed);
                Warm::new(store, inst)
            }
        };
        let st = w.store.data_mut();
        st.info = s.info.clone();
        st.memory_refused = false;
        w.store.set_epoch_deadline(s.info.budget_ticks.max(1));
        Ok(w)
    }

    /// Run `EvalPyFilter` script `s` on `r`, synchronously: does it match?
    pub fn filter(&self, s: &Script, r: &Routable) -> Result<bool, PyError> {
        let l = self.loaded()?;
        s.stats.counters.calls.fetch_add(1, Ordering::Relaxed);
        let mut w = self.take_filter(&l, s)?;
        let mut run = || -> wasmtime::Result<Result<bool, Failure>> {
            if !w.loaded.contains(&s.id) {
                if let Err(msg) = w.inst.call_load(&mut w.store, &s.id, &s.name, &s.source)? {
                    return Ok(Err(Failure::Raised(msg)));
                }
                w.loaded.insert(s.id.clone());
            }
            w.inst.call_filter(&mut w.store, &s.id, r)
        };
        let result = run();
        self.finish(s, &l.filters_idle, w, result)
    }

    /// Run interceptor script `s` on `r`: awaited, under the script's wall-clock deadline
    /// (sleeps and HTTP calls included) and CPU budget.
    pub async fn intercept(&self, s: &Script, r: &Routable) -> Result<Verdict, PyError> {
        let l = self.loaded()?;
        let pre = self.intercept_pre(&l)?;
        s.stats.counters.calls.fetch_add(1, Ordering::Relaxed);
        let run = async {
            let idle = l.interceptors_idle.lock().pop();
            let mut w = match idle {
                Some(w) => w,
                None => {
                    let mut store = self.new_store(&self.engines.asynk, s.info.clone(), true);
                    store.data_mut().info = self.base.clone();
                    store.set_epoch_deadline(1);
                    let inst = pre
                        .instantiate_async(&mut store)
                        .await
                        .map_err(|e| self.stopped(s, &store, e))?;
                    s.stats
                        .counters
                        .instantiations
                        .fetch_add(1, Ordering::Relaxed);
                    Warm::new(store, inst)
                }
            };
            let st = w.store.data_mut();
            st.info = s.info.clone();
            st.memory_refused = false;
            st.ticks = 0;
            w.store.set_epoch_deadline(1);
            let mut result = Ok(Ok(()));
            if !w.loaded.contains(&s.id) {
                result = w
                    .inst
                    .call_load(&mut w.store, &s.id, &s.name, &s.source)
                    .await
                    .map(|r| r.map_err(Failure::Raised));
                if matches!(result, Ok(Ok(()))) {
                    w.loaded.insert(s.id.clone());
                }
            }
            let result = match result {
                Ok(Ok(())) => w.inst.call_intercept(&mut w.store, &s.id, r).await,
                Ok(Err(f)) => Ok(Err(f)),
                Err(e) => Err(e),
            };
            self.finish(s, &l.interceptors_idle, w, result)
        };
        match tokio::time::timeout(s.timeout, run).await {
            Ok(r) => r,
            Err(_) => {
                s.stats.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                let detail = format!(
                    "deadline of {} ms (sleeps and HTTP included) exceeded",
                    s.timeout.as_millis()
                );
                log_failure(s, FailKind::Timeout, &detail);
                Err(PyError::Stopped(FailKind::Timeout, detail))
            }
        }
    }

    /// After a run: the instance goes back to its pool unless it trapped.
    fn finish<T, R>(
        &self,
        s: &Script,
        idle: &Mutex<Vec<Warm<T>>>,
        w: Warm<T>,
        result: wasmtime::Result<Result<R, Failure>>,
    ) -> Result<R, PyError> {
        match result {
            Ok(Ok(r)) => {
                put_back(idle, w);
                Ok(r)
            }
            Ok(Err(Failure::Raised(msg))) => {
                put_back(idle, w);
                s.stats.raised.fetch_add(1, Ordering::Relaxed);
                log_failure(s, FailKind::Trap, &format!("raised {}", last_line(&msg)));
                tracing::debug!(target: "python", script = %s.name, "script raised:\n{msg}");
                Err(PyError::Raised(msg))
            }
            Ok(Err(Failure::NotLoaded)) => {
                s.stats.counters.traps.fetch_add(1, Ordering::Relaxed);
                Err(PyError::Stopped(
                    FailKind::Trap,
                    "the runtime lost the script's compiled code".into(),
                ))
            }
            Err(e) => Err(self.stopped(s, &w.store, e)),
        }
    }

    fn stopped(&self, s: &Script, store: &Store<State>, e: wasmtime::Error) -> PyError {
        let c = &s.stats.counters;
        let kind = if store.data().memory_refused {
            c.memory.fetch_add(1, Ordering::Relaxed);
            FailKind::Memory
        } else if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            c.timeouts.fetch_add(1, Ordering::Relaxed);
            FailKind::Timeout
        } else {
            c.traps.fetch_add(1, Ordering::Relaxed);
            FailKind::Trap
        };
        let detail = match kind {
            FailKind::Timeout => format!("CPU budget of {} ms exceeded", s.info.budget_ticks),
            FailKind::Memory => format!("memory cap of {} MiB exceeded", s.info.memory_bytes >> 20),
            _ => crate::reason(&e),
        };
        log_failure(s, kind, &detail);
        PyError::Stopped(kind, detail)
    }

    /// Log the summaries of failure intervals that are over.
    pub fn flush_fail_logs(&self) {
        let now = Instant::now();
        for (name, s) in self.stats() {
            if let Some((n, last)) = s.fails.flush(now) {
                crate::log_summary(&name, n, &last, s.fails.interval());
            }
        }
    }

    /// Prometheus text of every script's counters (`python_script_<counter>{script="..."}`).
    pub fn render_prometheus(&self, out: &mut String) {
        let stats = self.stats();
        if stats.is_empty() {
            return;
        }
        type Item = (&'static str, &'static str, fn(&ScriptStats) -> u64);
        let items: [Item; 7] = [
            ("calls", "Python script runs.", |s| {
                s.counters.calls.load(Ordering::Relaxed)
            }),
            (
                "raised",
                "Python script runs that raised an exception.",
                |s| s.raised.load(Ordering::Relaxed),
            ),
            (
                "timeouts",
                "Python script runs stopped at their CPU budget or deadline.",
                |s| s.counters.timeouts.load(Ordering::Relaxed),
            ),
            (
                "memory",
                "Python script runs stopped at their memory cap.",
                |s| s.counters.memory.load(Ordering::Relaxed),
            ),
            (
                "traps",
                "Python script runs that trapped the runtime.",
                |s| s.counters.traps.load(Ordering::Relaxed),
            ),
            (
                "denied",
                "Python script network requests refused (host not granted).",
                |s| s.counters.denied.load(Ordering::Relaxed),
            ),
            (
                "instantiations",
                "Python runtime instances started to run the script (a fresh one replaces one that trapped, grew 16 MiB or ran 10,000 times).",
                |s| s.counters.instantiations.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, get) in items {
            let rows = stats.iter().map(|(script, s)| (script.as_str(), get(s)));
            let metric = format!("python_script_{name}");
            crate::metric_family(out, &metric, "counter", help, "script", rows);
        }
    }
}

/// The door a message came through, as the runtime distinguishes them.
pub fn door(c: smsgate_core::model::Channel) -> crate::bindings::python::Door {
    use crate::bindings::python::Door;
    use smsgate_core::model::Channel;
    match c {
        Channel::Http | Channel::Rest => Door::Http,
        Channel::Smpps => Door::Smpps,
        Channel::Smppc => Door::Smppc,
    }
}

/// The parts a script sees for `m`: its own, or (before routing, while the content is not
/// encoded yet) one part carrying `text` (UTF-16BE for UCS2, else UTF-8).
pub fn presentation_parts(
    m: &smsgate_core::model::Message,
    text: &str,
) -> Vec<smsgate_core::model::Part> {
    if !m.parts.is_empty() {
        return m.parts.clone();
    }
    let short_message = if m.data_coding == 8 {
        text.encode_utf16().flat_map(u16::to_be_bytes).collect()
    } else {
        text.as_bytes().to_vec()
    };
    vec![smsgate_core::model::Part {
        short_message,
        esm_class: 0,
        tlvs: vec![],
    }]
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A warm instance back to its pool after a run: kept unless the pool is full or it is worn
/// ([`Warm::worn`]).
fn put_back<T>(idle: &Mutex<Vec<Warm<T>>>, mut w: Warm<T>) {
    w.runs += 1;
    if w.worn() {
        return;
    }
    let mut idle = idle.lock();
    if idle.len() < MAX_IDLE {
        idle.push(w);
    }
}

/// The last line of a traceback: `TypeError: ...`.
fn last_line(msg: &str) -> &str {
    msg.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(msg)
        .trim()
}

fn log_failure(s: &Script, kind: FailKind, detail: &str) {
    let fails = &s.stats.fails;
    let lines = fails.record(Instant::now(), detail);
    if let Some((n, last)) = lines.summary {
        crate::log_summary(&s.name, n, &last, fails.interval());
    }
    if lines.log_this {
        tracing::warn!(target: "python", script = %s.name, ?kind, error = %detail, "script failed");
    }
}

impl Script {
    /// The script's wall-clock deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}
