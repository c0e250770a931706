//! What every plugin store holds: WASI (nothing granted), wasi:http with the plugin's host
//! grants, the memory limiter and the host functions (`log`, `config`, `now-ms`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use super::bindings::base::smsgate::plugin::host;
use super::bindings::Level;
use super::manifest::Manifest;

/// Counters of one plugin (all its versions).
#[derive(Debug, Default)]
pub struct PluginCounters {
    /// Calls made.
    pub calls: AtomicU64,
    /// Calls that trapped (panic, unreachable, bad memory access, refused import).
    pub traps: AtomicU64,
    /// Calls stopped at their CPU budget or I/O deadline.
    pub timeouts: AtomicU64,
    /// Calls stopped for exceeding the memory cap.
    pub memory: AtomicU64,
    /// Outgoing HTTP requests or sockets refused (host not granted).
    pub denied: AtomicU64,
    /// Instances created (the rest of the calls reused a warm one).
    pub instantiations: AtomicU64,
}

impl PluginCounters {
    /// Calls that failed, whatever the reason.
    pub fn failures(&self) -> u64 {
        self.traps.load(Ordering::Relaxed)
            + self.timeouts.load(Ordering::Relaxed)
            + self.memory.load(Ordering::Relaxed)
    }
}

/// What a plugin's stores share.
#[derive(Debug)]
pub struct PluginInfo {
    pub name: String,
    pub manifest: Manifest,
    pub config: BTreeMap<String, String>,
    pub counters: Arc<PluginCounters>,
    /// Memory cap in bytes.
    pub memory_bytes: usize,
    /// CPU budget per call in epoch ticks (milliseconds).
    pub budget_ticks: u64,
    /// Deadline of a whole async call, host I/O included (milliseconds).
    pub io_timeout_ms: u64,
    /// The rate-limited log of the plugin's call failures (all its versions).
    pub fails: Arc<super::faillog::FailLog>,
}

/// The data of a plugin's `Store`.
pub struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    hooks: Grants,
    pub info: Arc<PluginInfo>,
    /// Set when the plugin asked for more memory than its cap.
    pub memory_refused: bool,
    /// Epoch ticks used by the current call (async calls: CPU accounting).
    pub ticks: u64,
    /// The size its linear memory last grew to (bytes; the largest, for several memories).
    pub memory_size: usize,
    /// Python runtime stores: where scripts' log files go.
    pub python_files: Option<Arc<super::python::files::LogFiles>>,
}

impl State {
    /// A store's data for plugin `info`: no files, no environment, no sockets.
    pub fn new(info: Arc<PluginInfo>) -> State {
        let counters = info.counters.clone();
        // Sockets (hlr-lookup and charging, whose WASI is wasmtime-wasi's own) go through the
        // address check, which refuses (and counts) every address. The computing worlds
        // cannot create a socket at all (`wasi.rs`).
        let wasi = WasiCtx::builder()
            .allow_ip_name_lookup(false)
            .allow_tcp(true)
            .allow_udp(true)
            .socket_addr_check(move |_, _| {
                counters.denied.fetch_add(1, Ordering::Relaxed);
                Box::pin(async { false })
                    as std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + Sync>>
            })
            .build();
        State {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            hooks: Grants { info: info.clone() },
            info,
            memory_refused: false,
            ticks: 0,
            memory_size: 0,
            python_files: None,
        }
    }

    /// The store's resource table and the plugin's counters (the computing worlds' own
    /// `wasi:io` and socket refusal).
    pub(super) fn table_and_counters(&mut self) -> (&mut ResourceTable, &PluginCounters) {
        (&mut self.table, &self.info.counters)
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// wasi:http hooks: a request leaves only to a host granted in the plugin's `name.toml`.
struct Grants {
    info: Arc<PluginInfo>,
}

impl WasiHttpHooks for Grants {
    fn send_request(
        &mut self,
        request: hyper::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn std::future::Future<
                Output = Result<
                    (
                        hyper::Response<wasmtime_wasi_http::WasiBody>,
                        Box<
                            dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>>
                                + Send,
                        >,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        let _ = fut;
        let authority = request
            .uri()
            .authority()
            .map(|a| match a.port() {
                Some(_) => a.to_string(),
                None => {
                    let https = request.uri().scheme_str() == Some("https");
                    format!("{}:{}", a.host(), if https { 443 } else { 80 })
                }
            })
            .unwrap_or_default();
        if !self.info.manifest.allows(&authority) {
            self.info.counters.denied.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(plugin = %self.info.name, %authority, "plugin HTTP request refused: host not granted (allow_hosts)");
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io)
                    as Box<
                        dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>>
                            + Send,
                    >,
            ))
        })
    }
}

impl ResourceLimiter for State {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.info.memory_bytes {
            self.memory_refused = true;
            return Err(wasmtime::Error::msg(format!(
                "plugin {} exceeds its memory cap ({} bytes asked, {} allowed)",
                self.info.name, desired, self.info.memory_bytes
            )));
        }
        self.memory_size = self.memory_size.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl host::Host for State {
    fn log(&mut self, level: Level, message: String) {
        let name = &self.info.name;
        match level {
            Level::Trace => tracing::trace!(target: "plugin", plugin = %name, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", plugin = %name, "{message}"),
            Level::Info => tracing::info!(target: "plugin", plugin = %name, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", plugin = %name, "{message}"),
            Level::Error => tracing::error!(target: "plugin", plugin = %name, "{message}"),
        }
    }

    fn config(&mut self, key: String) -> Option<String> {
        self.info.config.get(&key).cloned()
    }

    fn now_ms(&mut self) -> i64 {
        smsgate_core::model::message::now_ms()
    }
}

impl super::bindings::base::smsgate::plugin::types::Host for State {}
