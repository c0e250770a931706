//! Message records in PostgreSQL (cluster mode, `store.history_url`): the records `query_sm`,
//! reports and searches read, kept out of Redis' RAM. One table, `smsgate_message_records`,
//! keyed by message id, with a retention policy (`store.message_record_ttl`): a background task deletes older rows.
//!
//! Writes use `synchronous_commit = off`: a record is history, not an accepted message (the
//! message itself is durable in RabbitMQ), so a PostgreSQL crash may lose its last instant of
//! records but never a message. The client reconnects on the next call after a failure.
//!
//! Writes are group-committed: concurrent `record` calls are gathered by one writer task into
//! a single multi-row upsert (`UNNEST` of arrays, up to [`MAX_BATCH`] rows), and each caller
//! still waits for its own row to be written.
//!
//! While PostgreSQL is unreachable (a restart, a failover), records are held in memory (up to
//! [`MAX_HELD`] messages, the latest record of each), answered as taken, read back by
//! [`PgRecords::get`], and written in order once it answers again (tried every
//! [`RETRY_EVERY`]). Delivery never waits for the history. Beyond the bound, new records are
//! dropped (an error line every 5 s says how many); messages never are.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::{Client, NoTls, Statement};

use super::{MessageRecord, StoreError};

const TABLE: &str = "smsgate_message_records";

/// Records written at most by one statement.
pub const MAX_BATCH: usize = 512;

/// Messages whose records are held in memory at most while PostgreSQL is unreachable.
pub const MAX_HELD: usize = 100_000;

/// How often held records are tried again.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);

struct Live {
    client: Client,
    upsert: Statement,
    select: Statement,
}

type Pending = (
    MessageRecord,
    tokio::sync::oneshot::Sender<Result<(), String>>,
);

/// The PostgreSQL message history.
pub struct PgRecords {
    url: String,
    live: tokio::sync::RwLock<Option<Arc<Live>>>,
    connecting: tokio::sync::Mutex<()>,
    writes: tokio::sync::mpsc::UnboundedSender<Pending>,
    /// Records not yet written because PostgreSQL did not answer: the latest of each message.
    held: parking_lot::Mutex<HashMap<String, MessageRecord>>,
}

/// Add `r` to `rows`: a later record of a message replaces the earlier one, except that an
/// unknown SMSC id keeps the one already known (as the upsert does).
fn merge(rows: &mut HashMap<String, MessageRecord>, r: MessageRecord) {
    match rows.get_mut(&r.id) {
        Some(known) => {
            let smsc_id = r.smsc_id.clone().or(known.smsc_id.take());
            *known = MessageRecord { smsc_id, ..r };
        }
        None => {
            rows.insert(r.id.clone(), r);
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("postgres: {e}"))
}

impl PgRecords {
    /// Connect, create the table if needed, and start the retention task (rows older than
    /// `retention` are deleted every minute, or sooner for short retentions).
    pub async fn open(url: &str, retention: Duration) -> Result<Arc<PgRecords>, StoreError> {
        let (writes, rx) = tokio::sync::mpsc::unbounded_channel();
        let h = Arc::new(PgRecords {
            url: url.to_string(),
            live: tokio::sync::RwLock::new(None),
            connecting: tokio::sync::Mutex::new(()),
            writes,
            held: Default::default(),
        });
        h.live().await?;
        tokio::spawn(Self::writer(Arc::downgrade(&h), rx));
        let weak = Arc::downgrade(&h);
        let every = (retention / 2).clamp(Duration::from_secs(1), Duration::from_secs(60));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(h) = weak.upgrade() else { break };
                if let Err(e) = h.expire(retention).await {
                    tracing::warn!(error = %e, "message history retention failed");
                }
            }
        });
        Ok(h)
    }

    async fn live(&self) -> Result<Arc<Live>, StoreError> {
        if let Some(l) = self.live.read().await.as_ref() {
            if !l.client.is_closed() {
                return Ok(l.clone());
            }
        }
        let _g = self.connecting.lock().await;
        if let Some(l) = self.live.read().await.as_ref() {
            if !l.client.is_closed() {
                return Ok(l.clone());
            }
        }
        let (client, connection) = tokio::time::timeout(
            Duration::from_secs(5),
            tokio_postgres::connect(&self.url, NoTls),
        )
        .await
        .map_err(|_| unavailable("connect timeout"))?
        .map_err(unavailable)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "postgres connection ended");
            }
        });
        client
            .batch_execute("SET synchronous_commit = off; SET client_min_messages = warning")
            .await
            .map_err(unavailable)?;
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (
                id TEXT PRIMARY KEY, status TEXT NOT NULL, connector TEXT NOT NULL,
                smsc_id TEXT, detail TEXT, updated_at BIGINT NOT NULL);
             CREATE INDEX IF NOT EXISTS {TABLE}_updated ON {TABLE} (updated_at)"
        );
        if let Err(e) = client.batch_execute(&ddl).await {
            // Two nodes creating the table at once: one loses the race, the table exists.
            tracing::debug!(error = %e, "history table creation");
            client
                .batch_execute(&format!("SELECT 1 FROM {TABLE} LIMIT 1"))
                .await
                .map_err(unavailable)?;
        }
        let upsert = client
            .prepare(&format!(
                "INSERT INTO {TABLE} (id, status, connector, smsc_id, detail, updated_at)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[],
                                      $5::text[], $6::bigint[])
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status,
                   connector = excluded.connector,
                   smsc_id = COALESCE(excluded.smsc_id, {TABLE}.smsc_id),
                   detail = excluded.detail, updated_at = excluded.updated_at"
            ))
            .await
            .map_err(unavailable)?;
        let select = client
            .prepare(&format!(
                "SELECT id, status, connector, smsc_id, detail, updated_at FROM {TABLE} WHERE id = $1"
            ))
            .await
            .map_err(unavailable)?;
        let l = Arc::new(Live {
            client,
            upsert,
            select,
        });
        *self.live.write().await = Some(l.clone());
        Ok(l)
    }

    /// Insert or update a record (written with the other records pending at that moment).
    pub async fn record(&self, r: &MessageRecord) -> Result<(), StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.writes
            .send((r.clone(), tx))
            .map_err(|_| unavailable("history writer stopped"))?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Unavailable(e)),
            Err(_) => Err(unavailable("history writer stopped")),
        }
    }

    /// Gather pending records and write them, one statement per batch, until the history is
    /// dropped; hold them while PostgreSQL does not answer (see the module's documentation).
    async fn writer(
        me: std::sync::Weak<PgRecords>,
        mut rx: tokio::sync::mpsc::UnboundedReceiver<Pending>,
    ) {
        let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
        loop {
            let holding = me.upgrade().is_some_and(|h| !h.held.lock().is_empty());
            if holding {
                tokio::select! {
                    n = rx.recv_many(&mut batch, MAX_BATCH) => if n == 0 { return },
                    _ = tokio::time::sleep(RETRY_EVERY) => {}
                }
            } else if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return;
            }
            let Some(h) = me.upgrade() else { return };
            if holding && h.write_held().await.is_err() {
                // Still unreachable: the new records wait behind the held ones.
                for (r, done) in batch.drain(..) {
                    let _ = done.send(h.hold(r));
                }
                continue;
            }
            if batch.is_empty() {
                continue;
            }
            let mut rows = HashMap::with_capacity(batch.len());
            for (r, _) in &batch {
                merge(&mut rows, r.clone());
            }
            let written = h.write_batch(rows.values()).await;
            for (r, done) in batch.drain(..) {
                let _ = done.send(match &written {
                    Ok(()) => Ok(()),
                    Err(_) => h.hold(r),
                });
            }
            if let Err(e) = written {
                tracing::warn!(error = %e, "message history: PostgreSQL unavailable, records held in memory until it answers");
            }
        }
    }

    /// Keep `r` for later (answered as taken), or refuse it when [`MAX_HELD`] messages are held.
    fn hold(&self, r: MessageRecord) -> Result<(), String> {
        let mut held = self.held.lock();
        if held.len() >= MAX_HELD && !held.contains_key(&r.id) {
            static LOG: smsgate_core::log_limit::LogLimit =
                smsgate_core::log_limit::LogLimit::new(5_000);
            if let Some(more) = LOG.pass() {
                tracing::error!(
                    held = MAX_HELD,
                    also_dropped = more,
                    "message history: PostgreSQL still unavailable and the held records at their bound: new records are dropped (the messages are not)"
                );
            }
            return Err(format!(
                "postgres unavailable and {MAX_HELD} messages' records already held"
            ));
        }
        merge(&mut held, r);
        Ok(())
    }

    /// Write the held records, a batch at a time; stops at the first failure.
    async fn write_held(&self) -> Result<(), StoreError> {
        let mut written = 0usize;
        loop {
            let chunk: Vec<MessageRecord> =
                self.held.lock().values().take(MAX_BATCH).cloned().collect();
            if chunk.is_empty() {
                if written > 0 {
                    tracing::info!(
                        written,
                        "message history: PostgreSQL answers again, held records written"
                    );
                }
                return Ok(());
            }
            self.write_batch(chunk.iter()).await?;
            let mut held = self.held.lock();
            for r in &chunk {
                // Unless a newer record of the message was held meanwhile.
                if held.get(&r.id) == Some(r) {
                    held.remove(&r.id);
                }
            }
            written += chunk.len();
        }
    }

    /// One upsert of `rows` (one per message).
    async fn write_batch<'a>(
        &self,
        rows: impl Iterator<Item = &'a MessageRecord>,
    ) -> Result<(), StoreError> {
        let rows: Vec<&MessageRecord> = rows.collect();
        let col = |f: fn(&MessageRecord) -> Option<String>| -> Vec<Option<String>> {
            rows.iter().map(|r| f(r)).collect()
        };
        let ids = col(|r| Some(r.id.clone()));
        let status = col(|r| Some(r.status.clone()));
        let connector = col(|r| Some(r.connector.clone()));
        let smsc_id = col(|r| r.smsc_id.clone());
        let detail = col(|r| r.detail.clone());
        let updated: Vec<i64> = rows.iter().map(|r| r.updated_at).collect();
        let l = self.live().await?;
        l.client
            .execute(
                &l.upsert,
                &[&ids, &status, &connector, &smsc_id, &detail, &updated],
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Read a record.
    pub async fn get(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        if let Some(r) = self.held.lock().get(id) {
            return Ok(Some(r.clone()));
        }
        let l = self.live().await?;
        let rows = l
            .client
            .query(&l.select, &[&id])
            .await
            .map_err(unavailable)?;
        Ok(rows.first().map(|r| MessageRecord {
            id: r.get(0),
            status: r.get(1),
            connector: r.get(2),
            smsc_id: r.get(3),
            detail: r.get(4),
            updated_at: r.get(5),
        }))
    }

    /// Delete records older than `retention`. Returns how many.
    pub async fn expire(&self, retention: Duration) -> Result<u64, StoreError> {
        let l = self.live().await?;
        let cutoff = smsgate_core::model::message::now_ms() - retention.as_millis() as i64;
        l.client
            .execute(
                format!("DELETE FROM {TABLE} WHERE updated_at < $1").as_str(),
                &[&cutoff],
            )
            .await
            .map_err(unavailable)
    }
}
