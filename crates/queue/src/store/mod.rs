//! Shared state: the `Store` trait and its implementations.
//!
//! What cluster mode needs from Redis, the embedded store gives from SQLite: keys with a TTL,
//! atomic counters, leases (one holder at a time, expiring), change notifications, the money
//! ledger (balances and sms counts, charged atomically) and message status records. Nothing
//! here spans a transaction with the broker: callers compensate (refund) when a publish fails.

pub mod conformance;
pub mod embedded;
#[cfg(feature = "cluster")]
pub mod pg_records;
#[cfg(feature = "cluster")]
pub mod redis;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// Errors from a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Storage(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// A user's money: `None` means unlimited (`ND` in Jasmin's answers).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Balance {
    pub balance: Option<f64>,
    pub sms_count: Option<i64>,
}

impl Balance {
    /// True when neither amount is limited.
    pub fn unlimited(&self) -> bool {
        self.balance.is_none() && self.sms_count.is_none()
    }
}

/// Result of an atomic charge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Charge {
    /// Charged; the balance after.
    Done(Balance),
    /// Not enough balance or sms_count: nothing was charged.
    Insufficient(Balance),
}

/// Final or intermediate state of an MT message, kept for `message_record_ttl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// Gateway message id.
    pub id: String,
    /// `ESME_ROK` once the SMSC accepted it, else the SMPP status or a local failure
    /// (`EXPIRED`, `RETRIES_EXHAUSTED`, `PURGED`).
    pub status: String,
    pub connector: String,
    pub smsc_id: Option<String>,
    pub detail: Option<String>,
    /// ms since the epoch.
    pub updated_at: i64,
}

/// A shared-state service.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Is the store answering? (Readiness: one cheap round trip.)
    async fn health(&self) -> Result<(), StoreError> {
        self.get("health:probe").await.map(|_| ())
    }
    /// Set `key` (with an optional time to live).
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StoreError>;
    /// Set `key` and return its previous value (unless absent or expired), atomically. Unlike
    /// [`Store::set`] it sends no change notification: for hot data nobody follows (receipt
    /// tracking).
    async fn replace(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Option<Vec<u8>>, StoreError>;
    /// Get `key` unless absent or expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Delete `key`; true if it existed.
    async fn delete(&self, key: &str) -> Result<bool, StoreError>;
    /// Add `delta` to a counter atomically and return the new value.
    async fn incr(&self, key: &str, delta: i64) -> Result<i64, StoreError>;
    /// Add `delta` to a counter that expires `ttl` after its creation (a plain key: `get`
    /// returns its decimal text, `delete` removes it). Atomic like [`Store::incr`].
    async fn incr_ttl(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, StoreError>;
    /// Take or renew the lease `name` for `holder`; false if someone else holds it.
    async fn try_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError>;
    /// Give up the lease if `holder` has it.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;
    /// Change notifications: the names of keys set or deleted (and `balance:<user>`).
    fn subscribe(&self) -> broadcast::Receiver<String>;

    /// Create the user's ledger entry unless it exists. True if created.
    async fn balance_seed(&self, user: &str, initial: Balance) -> Result<bool, StoreError>;
    /// The user's current balance (unlimited when unknown).
    async fn balance_get(&self, user: &str) -> Result<Balance, StoreError>;
    /// Atomically check and debit `amount` and `sms` (only limited amounts are touched).
    async fn balance_charge(&self, user: &str, amount: f64, sms: i64)
        -> Result<Charge, StoreError>;
    /// Credit back (refund or top-up). Unlimited amounts stay unlimited.
    async fn balance_credit(
        &self,
        user: &str,
        amount: f64,
        sms: i64,
    ) -> Result<Balance, StoreError>;
    /// Replace the ledger entry (operator action: `user -u ... quota`).
    async fn balance_set(&self, user: &str, value: Balance) -> Result<(), StoreError>;

    /// Write a message status record.
    async fn record(&self, rec: MessageRecord) -> Result<(), StoreError>;
    /// Read a message status record.
    async fn record_get(&self, id: &str) -> Result<Option<MessageRecord>, StoreError>;
}
