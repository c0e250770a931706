//! The embedded store on the shared SQLite file. All writes go through the group-committing
//! writer; balances are mirrored in memory so unlimited users never wait for the disk.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use rusqlite::{params, OptionalExtension};
use tokio::sync::broadcast;

use super::{Balance, Charge, MessageRecord, Store, StoreError};
use crate::db::{Db, DbError};
use smsgate_core::model::message::now_ms;

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        StoreError::Storage(e.to_string())
    }
}

/// The embedded store.
pub struct EmbeddedStore {
    db: Db,
    balances: Arc<Mutex<HashMap<String, Balance>>>,
    changes: broadcast::Sender<String>,
    record_ttl: Duration,
}

impl EmbeddedStore {
    /// Open the store on `db`.
    pub async fn open(db: Db, record_ttl: Duration) -> Result<Arc<EmbeddedStore>, StoreError> {
        let rows: Vec<(String, Option<f64>, Option<i64>)> = db
            .write(|c| {
                let mut st = c.prepare("SELECT username, balance, sms_count FROM balances")?;
                let rows = st
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await?;
        let balances = rows
            .into_iter()
            .map(|(u, b, s)| {
                (
                    u,
                    Balance {
                        balance: b,
                        sms_count: s,
                    },
                )
            })
            .collect();
        let (changes, _) = broadcast::channel(1024);
        let store = Arc::new(EmbeddedStore {
            db,
            balances: Arc::new(Mutex::new(balances)),
            changes,
            record_ttl,
        });
        store.spawn_pruner();
        Ok(store)
    }

    fn spawn_pruner(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(s) = weak.upgrade() else { return };
                let now = now_ms();
                let cutoff = now - s.record_ttl.as_millis() as i64;
                s.db.write_detached(move |c| {
                    c.execute(
                        "DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?1",
                        params![now],
                    )?;
                    c.execute(
                        "DELETE FROM messages WHERE updated_at < ?1",
                        params![cutoff],
                    )?;
                    c.execute("DELETE FROM leases WHERE expires_at <= ?1", params![now])?;
                    Ok(())
                });
            }
        });
    }

    fn changed(&self, key: String) {
        let _ = self.changes.send(key);
    }
}

fn debit(b: Balance, amount: f64, sms: i64) -> Charge {
    let ok_bal = match b.balance {
        Some(v) => v + 1e-9 >= amount,
        None => true,
    };
    let ok_sms = match b.sms_count {
        Some(v) => v >= sms,
        None => true,
    };
    if !(ok_bal && ok_sms) {
        return Charge::Insufficient(b);
    }
    Charge::Done(Balance {
        balance: b.balance.map(|v| ((v - amount) * 1e6).round() / 1e6),
        sms_count: b.sms_count.map(|v| v - sms),
    })
}

fn read_balance(c: &rusqlite::Connection, user: &str) -> Result<Balance, rusqlite::Error> {
    Ok(
        c.prepare_cached("SELECT balance, sms_count FROM balances WHERE username = ?1")?
            .query_row(params![user], |r| {
                Ok(Balance {
                    balance: r.get(0)?,
                    sms_count: r.get(1)?,
                })
            })
            .optional()?
            .unwrap_or_default(),
    )
}

fn upsert_balance(c: &rusqlite::Connection, user: &str, b: Balance) -> Result<(), rusqlite::Error> {
    c.prepare_cached(
        "INSERT INTO balances (username, balance, sms_count) VALUES (?1, ?2, ?3)
         ON CONFLICT(username) DO UPDATE SET balance = excluded.balance, sms_count = excluded.sms_count",
    )?
    .execute(params![user, b.balance, b.sms_count])?;
    Ok(())
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StoreError> {
        let k = key.to_string();
        let v = value.to_vec();
        let exp = ttl.map(|t| now_ms() + t.as_millis() as i64);
        self.db
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO kv (key, value, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                )?
                .execute(params![k, v, exp])?;
                Ok(())
            })
            .await?;
        self.changed(key.to_string());
        Ok(())
    }

    async fn replace(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let k = key.to_string();
        let v = value.to_vec();
        let now = now_ms();
        let exp = ttl.map(|t| now + t.as_millis() as i64);
        Ok(self
            .db
            .write(move |c| {
                let old: Option<Vec<u8>> = c
                    .prepare_cached(
                        "SELECT value FROM kv WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
                    )?
                    .query_row(params![k, now], |r| r.get(0))
                    .optional()?;
                c.prepare_cached(
                    "INSERT INTO kv (key, value, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                )?
                .execute(params![k, v, exp])?;
                Ok(old)
            })
            .await?)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let k = key.to_string();
        let now = now_ms();
        Ok(self
            .db
            .write(move |c| {
                c.prepare_cached(
                    "SELECT value FROM kv WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
                )?
                .query_row(params![k, now], |r| r.get(0))
                .optional()
            })
            .await?)
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let k = key.to_string();
        let now = now_ms();
        let n = self
            .db
            .write(move |c| {
                c.execute(
                    "DELETE FROM kv WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
                    params![k, now],
                )
            })
            .await?;
        self.changed(key.to_string());
        Ok(n > 0)
    }

    async fn incr(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        let k = key.to_string();
        Ok(self
            .db
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO counters (key, value) VALUES (?1, ?2)
                     ON CONFLICT(key) DO UPDATE SET value = value + excluded.value RETURNING value",
                )?
                .query_row(params![k, delta], |r| r.get(0))
            })
            .await?)
    }

    async fn incr_ttl(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, StoreError> {
        let k = key.to_string();
        let now = now_ms();
        let exp = now + ttl.as_millis() as i64;
        let v = self
            .db
            .write(move |c| {
                let cur: Option<(Vec<u8>, Option<i64>)> = c
                    .prepare_cached(
                        "SELECT value, expires_at FROM kv WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
                    )?
                    .query_row(params![k, now], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let (old, keep_exp) = match cur {
                    Some((v, e)) => (
                        std::str::from_utf8(&v)
                            .ok()
                            .and_then(|t| t.parse::<i64>().ok())
                            .unwrap_or(0),
                        e,
                    ),
                    None => (0, Some(exp)),
                };
                let new = old + delta;
                c.prepare_cached(
                    "INSERT INTO kv (key, value, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                )?
                .execute(params![k, new.to_string().into_bytes(), keep_exp])?;
                Ok(new)
            })
            .await?;
        self.changed(key.to_string());
        Ok(v)
    }

    async fn try_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        let (n, h) = (name.to_string(), holder.to_string());
        let now = now_ms();
        let exp = now + ttl.as_millis() as i64;
        Ok(self
            .db
            .write(move |c| {
                let changed = c.execute(
                    "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                     WHERE leases.holder = excluded.holder OR leases.expires_at <= ?4",
                    params![n, h, exp, now],
                )?;
                Ok(changed > 0)
            })
            .await?)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let (n, h) = (name.to_string(), holder.to_string());
        self.db
            .write(move |c| {
                c.execute(
                    "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
                    params![n, h],
                )?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<String> {
        self.changes.subscribe()
    }

    async fn balance_seed(&self, user: &str, initial: Balance) -> Result<bool, StoreError> {
        if self.balances.lock().contains_key(user) {
            return Ok(false);
        }
        let u = user.to_string();
        let created = self
            .db
            .write(move |c| {
                let n = c.execute(
                    "INSERT OR IGNORE INTO balances (username, balance, sms_count) VALUES (?1, ?2, ?3)",
                    params![u, initial.balance, initial.sms_count],
                )?;
                Ok(n > 0)
            })
            .await?;
        if created {
            self.balances.lock().insert(user.to_string(), initial);
        }
        Ok(created)
    }

    async fn balance_get(&self, user: &str) -> Result<Balance, StoreError> {
        Ok(self.balances.lock().get(user).copied().unwrap_or_default())
    }

    async fn balance_charge(
        &self,
        user: &str,
        amount: f64,
        sms: i64,
    ) -> Result<Charge, StoreError> {
        // Fast path: nothing limited, nothing to write.
        let current = self.balances.lock().get(user).copied().unwrap_or_default();
        if current.unlimited() {
            return Ok(Charge::Done(current));
        }
        let u = user.to_string();
        // Read, check and debit on the single writer thread, from the database itself: atomic,
        // and the in-memory mirror only learns committed values.
        let r = self
            .db
            .write(move |c| {
                let b = read_balance(c, &u)?;
                let r = debit(b, amount, sms);
                if let Charge::Done(nb) = r {
                    c.prepare_cached(
                        "UPDATE balances SET balance = ?2, sms_count = ?3 WHERE username = ?1",
                    )?
                    .execute(params![u, nb.balance, nb.sms_count])?;
                }
                Ok(r)
            })
            .await?;
        if let Charge::Done(nb) = r {
            self.balances.lock().insert(user.to_string(), nb);
            self.changed(format!("balance:{user}"));
        }
        Ok(r)
    }

    async fn balance_credit(
        &self,
        user: &str,
        amount: f64,
        sms: i64,
    ) -> Result<Balance, StoreError> {
        let u = user.to_string();
        let nb = self
            .db
            .write(move |c| {
                let b = read_balance(c, &u)?;
                let nb = Balance {
                    balance: b.balance.map(|v| ((v + amount) * 1e6).round() / 1e6),
                    sms_count: b.sms_count.map(|v| v + sms),
                };
                upsert_balance(c, &u, nb)?;
                Ok(nb)
            })
            .await?;
        self.balances.lock().insert(user.to_string(), nb);
        self.changed(format!("balance:{user}"));
        Ok(nb)
    }

    async fn balance_set(&self, user: &str, value: Balance) -> Result<(), StoreError> {
        let u = user.to_string();
        self.db.write(move |c| upsert_balance(c, &u, value)).await?;
        self.balances.lock().insert(user.to_string(), value);
        self.changed(format!("balance:{user}"));
        Ok(())
    }

    async fn record(&self, rec: MessageRecord) -> Result<(), StoreError> {
        self.db
            .write_statement(move |c| {
                c.prepare_cached(
                    "INSERT INTO messages (id, status, connector, smsc_id, detail, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(id) DO UPDATE SET status = excluded.status, connector = excluded.connector,
                       smsc_id = excluded.smsc_id, detail = excluded.detail, updated_at = excluded.updated_at",
                )?
                .execute(params![rec.id, rec.status, rec.connector, rec.smsc_id, rec.detail, rec.updated_at])?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    async fn record_get(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        let id = id.to_string();
        Ok(self
            .db
            .write(move |c| {
                c.prepare_cached(
                    "SELECT id, status, connector, smsc_id, detail, updated_at FROM messages WHERE id = ?1",
                )?
                .query_row(params![id], |r| {
                    Ok(MessageRecord {
                        id: r.get(0)?,
                        status: r.get(1)?,
                        connector: r.get(2)?,
                        smsc_id: r.get(3)?,
                        detail: r.get(4)?,
                        updated_at: r.get(5)?,
                    })
                })
                .optional()
            })
            .await?)
    }
}
