//! Admission: may this user send one more message now? One place for the per-user throughput
//! quotas every front door applies (`quota.http_throughput` for the HTTP, REST and batch doors,
//! `quota.smpps_throughput` for the SMPP server), with the door's own policy for a user over
//! their rate: [`OverRate::Refuse`] (HTTP 403 / `ESME_RTHROTTLED`, as Jasmin answers) or
//! [`OverRate::Pace`] (a durable batch waits for the next token instead of failing).
//!
//! Two checks, both must pass: this node's token bucket per user and door (a burst of one
//! second's worth, at least one message), and in cluster mode a counter per user and second in
//! the shared store (`tput:<door>:<user>:<second>`, expiring after two seconds), so that at most
//! `rate` (at least one) messages per calendar second pass whichever node they reach. A store
//! failure lets the message through: the charge that follows fails anyway when the store is
//! away. Buckets are keyed by user name, so a configuration reload never resets a window.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use smsgate_core::model::message::now_ms;
use smsgate_core::model::User;
use smsgate_queue::store::Store;

/// Which quota a door counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Door {
    /// `quota.http_throughput`: the HTTP API, the REST API, smstools and batches.
    Http,
    /// `quota.smpps_throughput`: the SMPP server.
    Smpps,
}

impl Door {
    fn key(self) -> &'static str {
        match self {
            Door::Http => "http",
            Door::Smpps => "smpps",
        }
    }

    fn rate(self, user: &User) -> Option<f64> {
        let q = &user.mt_cred.quota;
        match self {
            Door::Http => q.http_throughput,
            Door::Smpps => q.smpps_throughput,
        }
        .filter(|r| *r > 0.0)
    }
}

/// What a door does with a message over the user's rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverRate {
    /// Refuse it (the client retries).
    Refuse,
    /// Wait until the rate allows it.
    Pace,
}

/// How often a paced sender looks again.
const PACE_STEP: Duration = Duration::from_millis(10);

/// The throughput quotas of one gateway.
pub struct Admission {
    store: Arc<dyn Store>,
    /// Cluster mode: count every node's messages in the store too.
    shared: bool,
    /// Per door (HTTP, SMPP), user → (tokens, last refill).
    buckets: [Mutex<HashMap<String, (f64, Instant)>>; 2],
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl Admission {
    /// Quotas counted on this node, and in `store` too when `shared` (cluster mode).
    pub fn new(store: Arc<dyn Store>, shared: bool) -> Admission {
        Admission {
            store,
            shared,
            buckets: Default::default(),
        }
    }

    /// Whether `user` may send one message through `door` now (taking its token if so); with
    /// [`OverRate::Pace`], waits until it may and answers true.
    pub async fn admit(&self, user: &User, door: Door, over: OverRate) -> bool {
        let Some(rate) = door.rate(user) else {
            return true;
        };
        loop {
            if self.take_local(&user.username, door, rate)
                && (!self.shared || self.take_shared(&user.username, door, rate).await)
            {
                return true;
            }
            match over {
                OverRate::Refuse => return false,
                OverRate::Pace => tokio::time::sleep(PACE_STEP).await,
            }
        }
    }

    /// This node's token bucket: a burst of one second's worth (at least one message).
    fn take_local(&self, user: &str, door: Door, rate: f64) -> bool {
        let burst = rate.max(1.0);
        let now = Instant::now();
        let mut buckets = self.buckets[door as usize].lock();
        // Only a user's first message allocates its key.
        if !buckets.contains_key(user) {
            buckets.insert(user.to_string(), (burst, now));
        }
        let Some((tokens, last)) = buckets.get_mut(user) else {
            return true;
        };
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Every node's messages of this calendar second, counted in the store.
    async fn take_shared(&self, user: &str, door: Door, rate: f64) -> bool {
        let sec = now_ms() / 1000;
        let key = format!("tput:{}:{user}:{sec}", door.key());
        match self.store.incr_ttl(&key, 1, Duration::from_secs(2)).await {
            Ok(n) => n as f64 <= rate.ceil().max(1.0),
            Err(e) => {
                tracing::warn!(user, error = %e, "shared throughput: store unavailable");
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsgate_queue::db::Db;
    use smsgate_queue::store::embedded::EmbeddedStore;

    async fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
        let dir = tempfile::tempdir().expect("tmp");
        let db = Db::open(&dir.path().join("t.db"), false, 64).expect("db");
        let s = EmbeddedStore::open(db, Duration::from_secs(60))
            .await
            .expect("store");
        (dir, s)
    }

    fn user(http: Option<f64>, smpps: Option<f64>) -> User {
        let mut u = User {
            uid: "u".into(),
            username: "u".into(),
            gid: "g".into(),
            password_hash: String::new(),
            enabled: true,
            content_encoding: Default::default(),
            unrepresentable: Default::default(),
            callback_policy: None,
            mt_cred: Default::default(),
            smpps_cred: Default::default(),
        };
        u.mt_cred.quota.http_throughput = http;
        u.mt_cred.quota.smpps_throughput = smpps;
        u
    }

    #[tokio::test]
    async fn refuses_over_the_rate_per_door_and_paces_when_asked() {
        let (_d, s) = store().await;
        let a = Admission::new(s, false);
        let u = user(Some(2.0), Some(1.0));
        // A burst of one second's worth, then refused.
        assert!(a.admit(&u, Door::Http, OverRate::Refuse).await);
        assert!(a.admit(&u, Door::Http, OverRate::Refuse).await);
        assert!(!a.admit(&u, Door::Http, OverRate::Refuse).await);
        // The SMPP door has its own bucket.
        assert!(a.admit(&u, Door::Smpps, OverRate::Refuse).await);
        assert!(!a.admit(&u, Door::Smpps, OverRate::Refuse).await);
        // Pacing waits for the next token (half a second at 2/s).
        let t = Instant::now();
        assert!(a.admit(&u, Door::Http, OverRate::Pace).await);
        assert!(
            t.elapsed() >= Duration::from_millis(300),
            "{:?}",
            t.elapsed()
        );
        // No quota: always admitted.
        let free = user(None, Some(0.0));
        for _ in 0..100 {
            assert!(a.admit(&free, Door::Smpps, OverRate::Refuse).await);
        }
    }

    #[tokio::test]
    async fn shared_window_counts_every_node() {
        let (_d, s) = store().await;
        // Two nodes on one store, each with its own buckets.
        let n1 = Admission::new(s.clone(), true);
        let n2 = Admission::new(s, true);
        let u = user(Some(3.0), None);
        let mut passed = 0;
        for i in 0..6 {
            let n = if i % 2 == 0 { &n1 } else { &n2 };
            passed += n.admit(&u, Door::Http, OverRate::Refuse).await as u32;
        }
        // Within one calendar second at most 3 pass (a second boundary may let a few more).
        assert!((3..=5).contains(&passed), "{passed}");
    }
}
