//! Readiness: may a load balancer send traffic to this node?
//!
//! Ready means the store answers, the broker takes messages, and every configured listener
//! is bound (the gateway has finished starting and is not shutting down). Connector states
//! are reported beside it and never gate it: an SMSC being down must not take the fleet out
//! of the load balancer (messages queue until it is back), and in cluster mode only one node
//! binds each connector.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use crate::smpp::client::ConnectorState;
use serde::Serialize;
use smsgate_queue::broker::Broker;
use smsgate_queue::store::Store;

use crate::manage::Manager;

/// How long one probe (store or broker) may take before it counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

const STARTING: u8 = 0;
const SERVING: u8 = 1;
const STOPPING: u8 = 2;

/// The node's readiness, shared by the endpoints that report it.
pub struct Health {
    store: Arc<dyn Store>,
    broker: Arc<dyn Broker>,
    phase: AtomicU8,
    serving: OnceLock<Serving>,
}

struct Serving {
    manager: Weak<Manager>,
    listeners: Vec<(String, SocketAddr)>,
}

/// What `/ready` answers.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ready: bool,
    /// `starting`, `serving` or `stopping`.
    pub phase: &'static str,
    /// `ok` or why not.
    pub store: String,
    /// `ok` or why not.
    pub broker: String,
    /// Each bound listener's address.
    pub listeners: std::collections::BTreeMap<String, String>,
    /// Each SMPP client connector's state (`bound`, `connecting`, `disconnected`, `stopped`);
    /// informational.
    pub connectors: std::collections::BTreeMap<String, &'static str>,
}

impl Health {
    pub fn new(store: Arc<dyn Store>, broker: Arc<dyn Broker>) -> Arc<Health> {
        Arc::new(Health {
            store,
            broker,
            phase: AtomicU8::new(STARTING),
            serving: OnceLock::new(),
        })
    }

    /// Every listener is bound and the configuration installed: the node may be sent traffic.
    pub fn serving(&self, manager: Weak<Manager>, listeners: Vec<(String, SocketAddr)>) {
        let _ = self.serving.set(Serving { manager, listeners });
        let _ = self
            .phase
            .compare_exchange(STARTING, SERVING, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Shutting down: report not ready at once, so load balancers drain the node.
    pub fn stopping(&self) {
        self.phase.store(STOPPING, Ordering::SeqCst);
    }

    /// Probe the store and the broker (concurrently, each within [`PROBE_TIMEOUT`]).
    pub async fn report(&self) -> Report {
        let store = async {
            match tokio::time::timeout(PROBE_TIMEOUT, self.store.health()).await {
                Ok(Ok(())) => "ok".to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no answer within {} s", PROBE_TIMEOUT.as_secs()),
            }
        };
        let broker = async {
            match tokio::time::timeout(PROBE_TIMEOUT, self.broker.health()).await {
                Ok(Ok(())) => "ok".to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no answer within {} s", PROBE_TIMEOUT.as_secs()),
            }
        };
        let (store, broker) = tokio::join!(store, broker);
        let phase = match self.phase.load(Ordering::SeqCst) {
            STARTING => "starting",
            SERVING => "serving",
            _ => "stopping",
        };
        let mut listeners = std::collections::BTreeMap::new();
        let mut connectors = std::collections::BTreeMap::new();
        if let Some(s) = self.serving.get() {
            for (name, addr) in &s.listeners {
                listeners.insert(name.clone(), addr.to_string());
            }
            if let Some(m) = s.manager.upgrade() {
                for c in &m.profile().smppccs {
                    let state = match m.connector_state(&c.cid) {
                        None | Some(ConnectorState::Stopped) => "stopped",
                        Some(ConnectorState::Connecting) => "connecting",
                        Some(ConnectorState::Bound) => "bound",
                        Some(ConnectorState::Disconnected) => "disconnected",
                    };
                    connectors.insert(c.cid.clone(), state);
                }
            }
        }
        Report {
            ready: phase == "serving" && store == "ok" && broker == "ok",
            phase,
            store,
            broker,
            listeners,
            connectors,
        }
    }
}
