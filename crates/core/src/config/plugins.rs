//! `[plugins]`: the Wasm plugin host.

use super::*;

/// `[plugins]`: WebAssembly plugins (see the README's plugin section and `wit/`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    pub enabled: bool,
    /// Where operators drop `name.wasm` (+ `name.toml`); watched for changes.
    pub dir: Option<PathBuf>,
    /// Precompiled components (default `data_dir/plugin-cache`).
    pub cache_dir: Option<PathBuf>,
    /// Default CPU budget per call, milliseconds (a plugin's `budget_ms` overrides it).
    pub budget_ms: u64,
    /// Default memory cap per instance, MiB (a plugin's `memory_mb` overrides it, up to
    /// `max_memory_mb`).
    pub memory_mb: u64,
    /// Largest memory cap any plugin may get, MiB (sizes the instance pool).
    pub max_memory_mb: u64,
    /// Default deadline of an HLR-lookup or charging call including its HTTP calls, ms.
    pub io_timeout_ms: u64,
    /// How often the plugins directory is checked for changes, ms.
    pub watch_ms: u64,
    /// HLR-lookup plugin run before MT routing (its answer becomes tags).
    pub hlr: Option<String>,
    /// How long an HLR answer is reused, seconds.
    pub hlr_ttl_s: u64,
    /// Charging plugin asked before billing.
    pub charging: Option<String>,
    /// `[plugins.python]`: the Python-on-Wasm runtime of Jasmin's interceptor and
    /// `EvalPyFilter` scripts.
    pub python: PythonConfig,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            enabled: false,
            dir: None,
            cache_dir: None,
            budget_ms: 5,
            memory_mb: 32,
            max_memory_mb: 64,
            io_timeout_ms: 2000,
            watch_ms: 1000,
            hlr: None,
            hlr_ttl_s: 3600,
            charging: None,
            python: PythonConfig::default(),
        }
    }
}

/// `[plugins.python]`: how Jasmin's Python scripts (`python3(/path.py)` interceptors,
/// `EvalPyFilter`) run, in one sandboxed CPython component (`plugins/python`). The defaults
/// let Jasmin's documented examples run; `[plugins.python.scripts."/path.py"]` overrides
/// them per script (keyed by the path the rule names, so rules added from jCli get them too).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PythonConfig {
    /// The runtime component (default: `smsgate-python.wasm` next to the binary, in
    /// `../wasm-plugins/` from it, or in `/usr/lib/smsgate/`).
    pub runtime: Option<PathBuf>,
    /// CPU budget of one script run, ms.
    pub budget_ms: u64,
    /// Wall-clock deadline of one interceptor run, its sleeps and HTTP calls included, ms.
    pub timeout_ms: u64,
    /// Memory cap of a runtime instance, MiB.
    pub memory_mb: u64,
    /// Paths scripts may append log lines to (a `logging.FileHandler`, an `open(path, 'a')`):
    /// files under these prefixes land under `log_dir`; others are refused.
    pub log_prefixes: Vec<String>,
    /// Where script log files go (default `data_dir/script-logs`).
    pub log_dir: Option<PathBuf>,
    /// Size cap of each script log file, MiB: lines past it are dropped (and counted).
    pub log_max_mb: u64,
    /// Per-script limits and grants, keyed by the script's path.
    pub scripts: std::collections::BTreeMap<String, ScriptConfig>,
}

impl Default for PythonConfig {
    fn default() -> Self {
        PythonConfig {
            runtime: None,
            budget_ms: 100,
            timeout_ms: 3000,
            memory_mb: 128,
            log_prefixes: vec!["/var/log/jasmin/".into()],
            log_dir: None,
            log_max_mb: 64,
            scripts: Default::default(),
        }
    }
}

/// `[plugins.python.scripts."/path.py"]`: one script's limits and grants.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptConfig {
    pub budget_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub memory_mb: Option<u64>,
    /// `host` or `host:port` the script may call with `requests` / `urllib` (nothing else).
    pub allow_hosts: Vec<String>,
}
