//! Cluster mode: the leases that let exactly one node bind each SMPP client connector (the
//! RabbitMQ broker and the Redis store are opened by `smsgate_queue::open`).
//!
//! The same binary runs embedded (no `broker.url`/`store.url`) or clustered (both set: every
//! node shares the queues and the state). A connector binds from the node holding the lease
//! `smppc:<cid>` (renewed every third of `cluster.lease_ttl_ms`); when that node dies, its
//! lease expires and another node's connector takes over. A node that cannot renew its lease
//! (lost to another node, or Redis unreachable for longer than the TTL) unbinds at once, so two
//! nodes never send for one connector for longer than a lease period. Connectors listed in
//! `cluster.bind_everywhere` (SMSCs that accept several binds) bind from every node.

use std::sync::Arc;
use std::time::{Duration, Instant};

use smsgate_core::config::Config;
use smsgate_queue::store::Store;

/// This node's name: `cluster.node_id`, else host name and process id.
pub fn node_id(cfg: &Config) -> String {
    cfg.cluster.node_id.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "node".into());
        format!("{host}-{}", std::process::id())
    })
}

/// Connector leases of one node.
pub struct Leases {
    pub store: Arc<dyn Store>,
    /// This node.
    pub holder: String,
    pub ttl: Duration,
    /// Connectors that bind from every node (`*`: all).
    pub bind_everywhere: Vec<String>,
    /// Connectors whose lease this node holds (spreads connectors over nodes).
    held: parking_lot::Mutex<std::collections::HashSet<String>>,
    /// Serializes "count, then try" so concurrent first attempts see each other's result.
    gate: tokio::sync::Mutex<()>,
}

impl Leases {
    /// Leases for a clustered gateway; `None` in embedded mode (a single node binds all).
    pub fn from_config(cfg: &Config, store: Arc<dyn Store>) -> Option<Arc<Leases>> {
        cfg.store.url.as_ref()?;
        Some(Arc::new(Leases {
            store,
            holder: node_id(cfg),
            ttl: Duration::from_millis(cfg.cluster.lease_ttl_ms.max(300)),
            bind_everywhere: cfg.cluster.bind_everywhere.clone(),
            held: Default::default(),
            gate: Default::default(),
        }))
    }

    /// True when connector `cid` binds only from the lease holder.
    pub fn required(&self, cid: &str) -> bool {
        !self.bind_everywhere.iter().any(|c| c == "*" || c == cid)
    }

    fn name(cid: &str) -> String {
        format!("smppc:{cid}")
    }

    /// Wait until this node holds connector `cid`'s lease. A node already holding `k` leases
    /// waits `k` half-TTLs before each attempt, so that idle nodes take the free connectors
    /// first and the connectors spread over the nodes.
    pub async fn acquire(&self, cid: &str) {
        if self.held.lock().contains(cid) {
            match self
                .store
                .try_lease(&Self::name(cid), &self.holder, self.ttl)
                .await
            {
                Ok(true) => return,
                _ => self.lost(cid),
            }
        }
        let mut logged = false;
        loop {
            let k = self.held.lock().len() as u32;
            if k > 0 {
                tokio::time::sleep((self.ttl / 2) * k.min(6)).await;
            }
            {
                let _g = self.gate.lock().await;
                if self.held.lock().len() as u32 <= k {
                    match self
                        .store
                        .try_lease(&Self::name(cid), &self.holder, self.ttl)
                        .await
                    {
                        Ok(true) => {
                            self.held.lock().insert(cid.to_string());
                            tracing::info!(cid, node = %self.holder, "connector lease taken");
                            return;
                        }
                        Ok(false) => {
                            if !logged {
                                tracing::info!(cid, node = %self.holder, "connector held by another node: standing by");
                                logged = true;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(cid, error = %e, "connector lease: store unavailable")
                        }
                    }
                } else {
                    // Another connector of this node took a lease meanwhile: wait longer.
                    continue;
                }
            }
            tokio::time::sleep(self.ttl / 3).await;
        }
    }

    /// Renew connector `cid`'s lease until it is lost (another holder, or not renewed within
    /// its TTL); returns then.
    pub async fn hold(&self, cid: &str) {
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(self.ttl / 3).await;
            match self
                .store
                .try_lease(&Self::name(cid), &self.holder, self.ttl)
                .await
            {
                Ok(true) => renewed = Instant::now(),
                Ok(false) => {
                    tracing::warn!(cid, node = %self.holder, "connector lease lost");
                    self.lost(cid);
                    return;
                }
                Err(e) => {
                    tracing::warn!(cid, error = %e, "connector lease renewal failed");
                    // Keep a margin: stop before another node can have taken it.
                    if renewed.elapsed() >= self.ttl.mul_f32(0.8) {
                        self.lost(cid);
                        return;
                    }
                }
            }
        }
    }

    fn lost(&self, cid: &str) {
        self.held.lock().remove(cid);
    }

    /// Give connector `cid`'s lease up (connector stopped).
    pub async fn release(&self, cid: &str) {
        self.lost(cid);
        let _ = self
            .store
            .release_lease(&Self::name(cid), &self.holder)
            .await;
    }
}

/// `max_bindings` counted over the whole cluster: a bound session holds one of the user's
/// `max_bindings` slot leases (`smpps:<user>:<i>`), renewed while it is bound and released at
/// unbind. A dead node's slots expire with their lease TTL, so its bindings stop counting.
pub struct BindSlots {
    pub store: Arc<dyn Store>,
    /// This node.
    pub node: String,
    pub ttl: Duration,
}

impl BindSlots {
    /// Slots for a clustered gateway; `None` in embedded mode (the server counts locally).
    pub fn from_config(cfg: &Config, store: Arc<dyn Store>) -> Option<Arc<BindSlots>> {
        cfg.store.url.as_ref()?;
        Some(Arc::new(BindSlots {
            store,
            node: node_id(cfg),
            ttl: Duration::from_millis(cfg.cluster.lease_ttl_ms.max(300)),
        }))
    }

    /// Take a free slot of `user` (out of `max`) for session `session_id`; `None` when every
    /// slot is held (or the store is unavailable: refusing is the safe answer).
    pub async fn take(&self, user: &str, max: i64, session_id: u64) -> Option<(String, String)> {
        let holder = format!("{}:{session_id}", self.node);
        for i in 0..max.max(0) {
            let name = format!("smpps:{user}:{i}");
            match self.store.try_lease(&name, &holder, self.ttl).await {
                Ok(true) => return Some((name, holder)),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(user, error = %e, "max_bindings: store unavailable");
                    return None;
                }
            }
        }
        None
    }

    /// Keep the slot while `session` lives, then release it.
    pub fn keep(
        self: &Arc<Self>,
        slot: String,
        holder: String,
        session: smsgate_smpp::session::Session,
    ) {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = session.closed() => break,
                    _ = tokio::time::sleep(me.ttl / 3) => {
                        match me.store.try_lease(&slot, &holder, me.ttl).await {
                            Ok(true) => {}
                            Ok(false) => tracing::warn!(%slot, "max_bindings slot taken by another session"),
                            Err(e) => tracing::warn!(%slot, error = %e, "max_bindings slot renewal failed"),
                        }
                    }
                }
            }
            let _ = me.store.release_lease(&slot, &holder).await;
        });
    }
}

/// The store key saying that SMPP client connector `cid` is bound on some node (its value is
/// the node). It expires with the lease TTL, so a dead node's connectors stop counting.
pub fn bound_key(cid: &str) -> String {
    format!("smppc_bound:{cid}")
}

/// While connector `cid` is bound on this node, keep [`bound_key`] set (renewed every third
/// of `ttl`) so that failover and least-cost routes on the other nodes see it available;
/// delete it when the connector leaves `Bound`. Ends when the connector is dropped.
pub fn advertise_bound(
    store: Arc<dyn Store>,
    node: String,
    cid: String,
    mut state: tokio::sync::watch::Receiver<crate::smpp::client::ConnectorState>,
    ttl: Duration,
) {
    use crate::smpp::client::ConnectorState;
    tokio::spawn(async move {
        let key = bound_key(&cid);
        let mut advertised = false;
        loop {
            let bound = *state.borrow_and_update() == ConnectorState::Bound;
            if bound {
                match store.set(&key, node.as_bytes(), Some(ttl)).await {
                    Ok(()) => advertised = true,
                    Err(e) => {
                        tracing::debug!(cid, error = %e, "cannot advertise a bound connector")
                    }
                }
            } else if advertised {
                advertised = store.delete(&key).await.is_err();
            }
            tokio::select! {
                r = state.changed() => if r.is_err() { break },
                _ = tokio::time::sleep(ttl / 3), if bound || advertised => {}
            }
        }
        if advertised {
            let _ = store.delete(&key).await;
        }
    });
}

/// Keep `availability`'s view of connectors bound on other nodes current: at every change of
/// a [`bound_key`] and every half TTL (keys that expired with a dead node publish nothing),
/// until `stop`.
pub async fn follow_bound(
    store: Arc<dyn Store>,
    availability: Arc<smsgate_routing::LiveAvailability>,
    ttl: Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    use tokio::sync::broadcast::error::RecvError;
    let mut rx = store.subscribe();
    let refresh = async |cid: &str| {
        if let Ok(v) = store.get(&bound_key(cid)).await {
            availability.set_bound_elsewhere(cid, v.is_some());
        }
    };
    loop {
        let changed: Option<String> = tokio::select! {
            _ = stop.cancelled() => return,
            k = rx.recv() => match k {
                Ok(k) if k == "*" => None,
                Ok(k) => match k.strip_prefix("smppc_bound:") {
                    Some(cid) => Some(cid.to_string()),
                    None => continue,
                },
                Err(RecvError::Lagged(_)) => None,
                Err(RecvError::Closed) => return,
            },
            _ = tokio::time::sleep(ttl / 2) => None,
        };
        match changed {
            Some(cid) => refresh(&cid).await,
            None => {
                for cid in availability.smppc_cids() {
                    refresh(&cid).await;
                }
            }
        }
    }
}
