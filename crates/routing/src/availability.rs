//! Which connectors can take a message right now. Failover and least-cost routes ask an
//! [`Availability`]; the table carries one (see [`crate::BuildOptions`]).
//!
//! [`LiveAvailability`] is the gateway's: SMPP client connectors are available while their
//! [`ConnectorState`] watch says `Bound`; HTTP client connectors and SMPP server users are
//! available unless marked failing; any connector can be marked failing by hand.

use std::collections::{HashMap, HashSet};

use parking_lot::RwLock;
use tokio::sync::watch;

use super::ConnectorRef;
use smsgate_core::model::ConnectorState;

/// Is a connector usable right now?
pub trait Availability: Send + Sync + std::fmt::Debug {
    fn is_available(&self, c: &ConnectorRef) -> bool;
}

/// Every connector is available (tables built without live state; tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct AlwaysAvailable;

impl Availability for AlwaysAvailable {
    fn is_available(&self, _: &ConnectorRef) -> bool {
        true
    }
}

/// Live connector state, updated by the application.
///
/// - `smppc(cid)`: available iff a watch was registered with [`LiveAvailability::watch_smppc`]
///   and currently reads [`ConnectorState::Bound`] (an unregistered SMPP client connector is
///   not running, hence unavailable).
/// - `http(cid)`, `smpps(user)`: available unless [`LiveAvailability::set_failing`] marked them.
/// - In cluster mode, an SMPP client connector bound on another node (it holds the lease and
///   consumes the connector's queue) is available too: the gateway's `cluster::follow_bound` keeps it.
/// - Any connector marked failing is unavailable, whatever its watch says.
#[derive(Debug, Default)]
pub struct LiveAvailability {
    smppc: RwLock<HashMap<String, watch::Receiver<ConnectorState>>>,
    failing: RwLock<HashSet<ConnectorRef>>,
    elsewhere: RwLock<HashSet<String>>,
}

impl LiveAvailability {
    pub fn new() -> Self {
        Self::default()
    }

    /// Follow the live state of SMPP client connector `cid` (its `ConnectorHandle::state`).
    pub fn watch_smppc(&self, cid: &str, state: watch::Receiver<ConnectorState>) {
        self.smppc.write().insert(cid.to_string(), state);
    }

    /// Stop following `cid` (connector removed): it becomes unavailable.
    pub fn forget_smppc(&self, cid: &str) {
        self.smppc.write().remove(cid);
    }

    /// Mark a connector failing (unavailable) or not failing.
    pub fn set_failing(&self, c: &ConnectorRef, failing: bool) {
        if failing {
            self.failing.write().insert(c.clone());
        } else {
            self.failing.write().remove(c);
        }
    }

    /// Record whether SMPP client connector `cid` is bound on another node.
    pub fn set_bound_elsewhere(&self, cid: &str, bound: bool) {
        if bound {
            if !self.elsewhere.read().contains(cid) {
                self.elsewhere.write().insert(cid.to_string());
            }
        } else if self.elsewhere.read().contains(cid) {
            self.elsewhere.write().remove(cid);
        }
    }

    /// The SMPP client connectors followed here.
    pub fn smppc_cids(&self) -> Vec<String> {
        self.smppc.read().keys().cloned().collect()
    }

    /// Is `c` marked failing?
    pub fn is_failing(&self, c: &ConnectorRef) -> bool {
        self.failing.read().contains(c)
    }
}

impl Availability for LiveAvailability {
    fn is_available(&self, c: &ConnectorRef) -> bool {
        {
            let failing = self.failing.read();
            if !failing.is_empty() && failing.contains(c) {
                return false;
            }
        }
        match c {
            ConnectorRef::Smppc(cid) => match self.smppc.read().get(cid) {
                Some(rx) => {
                    *rx.borrow() == ConnectorState::Bound || self.elsewhere.read().contains(cid)
                }
                None => false,
            },
            ConnectorRef::Http(_) | ConnectorRef::Smpps(_) => true,
        }
    }
}

/// A fixed set of unavailable connectors (tests, tools).
#[derive(Debug, Default, Clone)]
pub struct Unavailable(pub HashSet<ConnectorRef>);

impl Availability for Unavailable {
    fn is_available(&self, c: &ConnectorRef) -> bool {
        !self.0.contains(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_availability_follows_watches_and_marks() {
        let live = LiveAvailability::new();
        let a = ConnectorRef::Smppc("a".into());
        let h = ConnectorRef::Http("h".into());
        let u = ConnectorRef::Smpps("u".into());
        assert!(!live.is_available(&a), "unregistered smppc is not running");
        assert!(live.is_available(&h) && live.is_available(&u));

        let (tx, rx) = watch::channel(ConnectorState::Connecting);
        live.watch_smppc("a", rx);
        assert!(!live.is_available(&a));
        tx.send(ConnectorState::Bound).unwrap();
        assert!(live.is_available(&a));
        tx.send(ConnectorState::Disconnected).unwrap();
        assert!(!live.is_available(&a));
        tx.send(ConnectorState::Bound).unwrap();

        live.set_failing(&a, true);
        live.set_failing(&h, true);
        assert!(!live.is_available(&a) && !live.is_available(&h));
        assert!(live.is_failing(&h));
        live.set_failing(&a, false);
        live.set_failing(&h, false);
        assert!(live.is_available(&a) && live.is_available(&h));

        tx.send(ConnectorState::Connecting).unwrap();
        assert!(!live.is_available(&a));
        live.set_bound_elsewhere("a", true);
        assert!(live.is_available(&a), "bound on another node");
        live.set_bound_elsewhere("a", false);
        assert!(!live.is_available(&a));
        assert_eq!(live.smppc_cids(), vec!["a".to_string()]);

        live.forget_smppc("a");
        live.set_bound_elsewhere("a", true);
        assert!(!live.is_available(&a), "not configured here: not running");
    }
}
