//! smsgate: an SMS gateway with Jasmin's APIs, SMPP on both sides, durable queues and
//! sandboxed WebAssembly plugins.
//!
//! This crate wires the layers together ([`app`]) and re-exports them under one name for the
//! binary, the tests and the benchmarks. The layers, bottom up (see `docs/architecture.md`):
//! `smsgate-core` → `smsgate-sms` → `smsgate-queue` / `smsgate-smpp` → `smsgate-routing` →
//! `smsgate-plugins` → `smsgate-policy` → `smsgate-gateway` → `smsgate-jcli` → here; beside them,
//! `smsgate-migrate` reads Jasmin's store for [`import`].

pub mod app;
pub mod backup;
pub mod export;
pub mod import;
pub mod plugin_tool;
pub mod probe;
pub mod telemetry;

pub use smsgate_admin as admin;
pub use smsgate_core::{config, model, privacy, stats};
pub use smsgate_gateway::{batch, cancel, cluster, dlr, health, http, inbound, manage, throwers};
pub use smsgate_jcli as jcli;
pub use smsgate_migrate as migrate;
pub use smsgate_plugins as plugins;
pub use smsgate_policy::{auth, billing, interception, pipeline};
pub use smsgate_queue::{broker, db, history, store};
pub use smsgate_routing as routing;
pub use smsgate_smpp::simulator;
pub use smsgate_sms as sms;

/// SMPP: the session layer ([`smsgate_smpp`]) and the connectors and server above it.
pub mod smpp {
    pub use smsgate_gateway::smpp::{client, server};
    pub use smsgate_smpp::*;
}

/// Load the configuration (defaults, then `file`, then `SMSGATE_*`), and check it as the
/// gateway will build it: [`config::Config::validate`], then the routing tables' checks
/// (regexes, dates, filter ids, unknown connectors, plugin filters and routes without
/// `[plugins]`, Python scripts that cannot be read).
pub fn load_config(file: Option<&std::path::Path>) -> Result<config::Config, config::ConfigError> {
    let cfg = config::Config::load(file)?;
    routing::table::validate_config(&cfg).map_err(config::ConfigError::new)?;
    Ok(cfg)
}
