//! Users and groups as the gateway sees them at runtime. Money (balance, sms_count) is not
//! here: it lives in the store's ledger so that configuration reloads never roll it back.

use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::config::{CallbackPolicy, ContentEncoding, MtMessagingCred, SmppsCred};

/// A group of users.
#[derive(Debug, Clone)]
pub struct Group {
    pub gid: String,
    pub enabled: bool,
}

/// A user.
#[derive(Debug, Clone)]
pub struct User {
    pub uid: String,
    pub username: String,
    pub gid: String,
    /// argon2 PHC string.
    pub password_hash: String,
    pub enabled: bool,
    pub content_encoding: ContentEncoding,
    /// What is done with characters the coding cannot carry.
    pub unrepresentable: crate::config::Unrepresentable,
    /// Overrides `[callbacks] policy` for this user's callback URLs.
    pub callback_policy: Option<CallbackPolicy>,
    /// `mt_messaging_cred` (the quota's money part is only the ledger's seed).
    pub mt_cred: MtMessagingCred,
    /// `smpps_cred`.
    pub smpps_cred: SmppsCred,
    /// Token bucket of `quota.http_throughput` (tokens, last refill).
    pub http_bucket: Arc<Mutex<Option<(f64, Instant)>>>,
}

impl User {
    /// Take one token of the user's HTTP throughput (messages per second); always true when
    /// the quota is unset (or not positive).
    pub fn http_throughput_ok(&self) -> bool {
        let Some(rate) = self.mt_cred.quota.http_throughput.filter(|r| *r > 0.0) else {
            return true;
        };
        let mut b = self.http_bucket.lock();
        let now = Instant::now();
        let (tokens, last) = b.get_or_insert((rate.max(1.0), now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(rate.max(1.0));
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
