//! The parts of a running gateway that a configuration change reaches: what the live
//! configuration ([`crate::manage::Manager`]) swaps and starts, and what the console reads.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use smsgate_core::stats::Stats;
use smsgate_plugins::PluginHost;
use smsgate_policy::interception::Interception;
use smsgate_policy::pipeline::Pipeline;
use smsgate_queue::store::Store;
use smsgate_routing::{LiveAvailability, ScriptHost};

use crate::inbound::Inbound;
use crate::smpp::client::{ConnectorDeps, ConnectorHandle};
use crate::smpp::server::SmppServer;

/// A running gateway's live parts.
pub struct Runtime {
    /// The MT path (its routing table and connector configurations are swapped on change).
    pub pipeline: Arc<Pipeline>,
    pub stats: Arc<Stats>,
    pub store: Arc<dyn Store>,
    /// Receipts and MO (MO routing table, HTTP client connectors).
    pub inbound: Arc<Inbound>,
    /// Interception tables and the HLR/charging hooks.
    pub interception: Arc<Interception>,
    /// The SMPP server API, if enabled.
    pub smpp_server: Option<SmppServer>,
    /// Running SMPP client connectors by cid.
    pub connectors: RwLock<HashMap<String, Arc<ConnectorHandle>>>,
    /// What starting a connector needs.
    pub connector_deps: ConnectorDeps,
    /// Live connector state the failover and least-cost routes read.
    pub availability: Arc<LiveAvailability>,
    /// The plugin host for `EvalPyFilter` filters and script routes (none: they are refused).
    pub scripts: Option<Arc<dyn ScriptHost>>,
    /// The Wasm plugin host (`[plugins] enabled`).
    pub plugins: Option<Arc<PluginHost>>,
    /// The message journal (`[journal] enabled`): what message search reads.
    pub journal: Option<Arc<smsgate_queue::journal::Journal>>,
}
