//! The two wasmtime engines (synchronous for filters, routes and interceptors, which only
//! compute; asynchronous for HLR lookup and charging, which wait on HTTP), the epoch ticker that
//! enforces CPU budgets, and the on-disk cache of precompiled components.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// One epoch tick: the unit of CPU budgets.
pub const TICK: Duration = Duration::from_millis(1);

/// The SHA-256 of a plugin's bytes, in hex: the key of its cached compilation, and the
/// version `plugin -l` shows.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The engines and the component cache.
pub struct Engines {
    pub sync: Engine,
    pub asynk: Engine,
    cache_dir: PathBuf,
    /// The epoch ticker, started with the first component (an idle host costs nothing).
    ticker: std::sync::Once,
    me: std::sync::Weak<Engines>,
}

impl std::fmt::Debug for Engines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engines")
            .field("cache_dir", &self.cache_dir)
            .finish()
    }
}

fn engine(asynk: bool, max_memory: usize) -> wasmtime::Result<Engine> {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.epoch_interruption(true);
    // Diagnostics: PLUGIN_PERFMAP=1 writes /tmp/perf-<pid>.map so `perf report` names the
    // plugins' machine code.
    if std::env::var_os("PLUGIN_PERFMAP").is_some() {
        c.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(500)
        .total_core_instances(4000)
        .total_memories(1000)
        .total_tables(2000)
        .max_memory_size(max_memory)
        .total_stacks(if asynk { 200 } else { 500 });
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // Linear memories are reserved up front by the pool: keep reservations modest.
    c.memory_reservation(max_memory as u64 + (64 << 10));
    c.memory_guard_size(64 << 10);
    Engine::new(&c)
}

impl Engines {
    /// Build both engines (linear memories up to `max_memory` bytes); the epoch ticker
    /// starts with the first component loaded.
    pub fn new(cache_dir: PathBuf, max_memory: usize) -> Result<Arc<Engines>, String> {
        let sync = engine(false, max_memory).map_err(|e| format!("wasmtime engine: {e}"))?;
        let asynk = engine(true, max_memory).map_err(|e| format!("wasmtime engine: {e}"))?;
        Ok(Arc::new_cyclic(|me| Engines {
            sync,
            asynk,
            cache_dir,
            ticker: std::sync::Once::new(),
            me: me.clone(),
        }))
    }

    /// Start the epoch ticker (once), which stops when the engines are dropped.
    fn tick(&self) {
        self.ticker.call_once(|| {
            let weak = self.me.clone();
            let started = std::thread::Builder::new()
                .name("plugin-epoch".into())
                .spawn(move || loop {
                    std::thread::sleep(TICK);
                    match weak.upgrade() {
                        Some(e) => {
                            e.sync.increment_epoch();
                            e.asynk.increment_epoch();
                        }
                        None => return,
                    }
                });
            if let Err(e) = started {
                tracing::error!(error = %e, "cannot start the plugin epoch thread: CPU budgets are not enforced");
            }
        });
    }

    /// The cache directory.
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// The component in `bytes` for `engine`, from the cache when it was compiled before
    /// (keyed by the content hash and the engine's compatibility hash), else compiled now and
    /// cached.
    pub fn load(&self, engine: &Engine, bytes: &[u8]) -> Result<Component, String> {
        self.load_hashed(engine, &content_hash(bytes), || Ok(bytes.to_vec()))
    }

    /// [`Engines::load`] for a component whose content hash is known: its bytes are read
    /// (`bytes`) only when it must be compiled.
    pub fn load_hashed(
        &self,
        engine: &Engine,
        hash: &str,
        bytes: impl FnOnce() -> Result<Vec<u8>, String>,
    ) -> Result<Component, String> {
        self.tick();
        let mut eh = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut eh);
        let key = format!("{hash}-{:016x}.cwasm", std::hash::Hasher::finish(&eh));
        let path = self.cache_dir.join(key);
        if path.exists() {
            // SAFETY: the file was written by `precompile_component` of an engine with the
            // same compatibility hash, into a directory only the gateway writes.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding unusable cached plugin");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let compiled = engine
            .precompile_component(&bytes()?)
            .map_err(|e| format!("not a valid component: {e:#}"))?;
        if let Err(e) = std::fs::create_dir_all(&self.cache_dir).and_then(|_| {
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, &compiled)?;
            std::fs::rename(&tmp, &path)
        }) {
            tracing::warn!(dir = %self.cache_dir.display(), error = %e, "cannot cache a compiled plugin");
        }
        // SAFETY: `compiled` was just produced by this engine.
        let component = unsafe { Component::deserialize(engine, &compiled) }
            .map_err(|e| format!("loading the compiled component: {e}"));
        drop(compiled);
        // Compiling freed Cranelift's working memory (tens of megabytes for a large component):
        // give it back now rather than when the allocator next purges.
        smsgate_core::memory::release_unused();
        component
    }
}
