//! Messages cancelled (`cancel_sm`) while still queued. The SMPP server records a cancellation
//! here and durably in the store; the connector drops a cancelled message when it comes out
//! of the queue instead of sending it. Lookups are in memory (one hash probe per send).

use std::collections::HashMap;

use parking_lot::Mutex;
use uuid::Uuid;

use smsgate_core::model::message::now_ms;

/// The set of cancelled message ids, each kept until its expiry.
#[derive(Default)]
pub struct Cancellations {
    ids: Mutex<HashMap<Uuid, i64>>,
}

impl Cancellations {
    /// Mark `id` cancelled until `until_ms`.
    pub fn insert(&self, id: Uuid, until_ms: i64) {
        let mut g = self.ids.lock();
        if g.len() > 10_000 {
            let now = now_ms();
            g.retain(|_, until| *until > now);
        }
        g.insert(id, until_ms);
    }

    /// True when `id` was cancelled.
    pub fn contains(&self, id: &Uuid) -> bool {
        let g = self.ids.lock();
        !g.is_empty() && g.get(id).is_some_and(|until| *until > now_ms())
    }
}
