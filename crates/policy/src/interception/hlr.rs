//! The HLR-lookup plugin before MT routing: answers cached per MSISDN for a TTL, applied as
//! tags `hlr:mccmnc=<mcc><mnc>`, `hlr:mcc=<mcc>`, `hlr:mnc=<mnc>`, `hlr:ported` and
//! `hlr:network=<name>` that `TagFilter`s (and plugin filters) route on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use smsgate_core::model::Message;
use smsgate_plugins::{bindings::hlr::Network, Slot, World};

/// Largest number of cached answers (older ones are dropped when full).
const MAX_CACHED: usize = 100_000;

/// A cached answer: when it was fetched and its tags (none: the lookup had no answer).
type Cached = (Instant, Option<Vec<String>>);

/// The HLR lookup with its cache.
#[derive(Debug)]
pub struct Hlr {
    slot: Arc<Slot>,
    ttl: Duration,
    cache: Mutex<HashMap<String, Cached>>,
}

/// Tags for a network answer.
pub fn tags(n: &Network) -> Vec<String> {
    let mut t = vec![
        format!("hlr:mccmnc={}{}", n.mcc, n.mnc),
        format!("hlr:mcc={}", n.mcc),
        format!("hlr:mnc={}", n.mnc),
    ];
    if n.ported {
        t.push("hlr:ported".into());
    }
    if let Some(name) = &n.name {
        t.push(format!("hlr:network={name}"));
    }
    t
}

impl Hlr {
    /// Lookups through plugin `slot`, answers kept `ttl`.
    pub fn new(slot: Arc<Slot>, ttl: Duration) -> Hlr {
        Hlr {
            slot,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Add the destination's network tags to `m` (nothing when the lookup fails; failures
    /// are not cached).
    pub async fn tag(&self, m: &mut Message) {
        let msisdn = m.destination.addr.clone();
        let cached = self
            .cache
            .lock()
            .get(&msisdn)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, t)| t.clone());
        let tags = match cached {
            Some(t) => t,
            None => {
                let Ok(p) = self.slot.plugin(World::HlrLookup) else {
                    return;
                };
                let t = match p.lookup(&msisdn).await {
                    Ok(Ok(n)) => Some(tags(&n)),
                    Ok(Err(why)) => {
                        tracing::debug!(plugin = %self.slot.name, %msisdn, %why, "HLR lookup: no answer");
                        None
                    }
                    Err(_) => return,
                };
                let mut c = self.cache.lock();
                if c.len() >= MAX_CACHED {
                    c.retain(|_, (at, _)| at.elapsed() < self.ttl);
                    if c.len() >= MAX_CACHED {
                        c.clear();
                    }
                }
                c.insert(msisdn, (Instant::now(), t.clone()));
                t
            }
        };
        for t in tags.into_iter().flatten() {
            if !m.tags.contains(&t) {
                m.tags.push(t);
            }
        }
    }
}
