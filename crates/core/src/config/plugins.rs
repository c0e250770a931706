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
        }
    }
}
