//! The journal in PostgreSQL (`journal.url`, by default `store.history_url` in cluster
//! mode): one journal for every node of a cluster. A message accepted on one node and sent
//! by another then has one timeline, found from either node's management API.
//!
//! The batches are those of the SQLite journal (one row per node per tick, with the node's
//! id), written with `synchronous_commit = off` (a diagnostic record). Retention deletes
//! every node's old batches; `max_messages` bounds each node's own.
//!
//! The calls are blocking (the writer's thread, or a reader on a blocking thread): they run
//! on the gateway's runtime through its handle. A lost connection is made again at the
//! next call.

use tokio::runtime::Handle;
use tokio_postgres::{Client, NoTls};

use super::store::{Batch, Limits, Store, WRITTEN_WITHIN_MS};
use super::{id_bound, now_ms, JournalError};

/// The tables, created once under an advisory lock (nodes starting together).
const SCHEMA: &str = r#"
BEGIN;
SELECT pg_advisory_xact_lock(72150722);
CREATE TABLE IF NOT EXISTS smsgate_journal_batches (
    id        BIGSERIAL PRIMARY KEY,
    node      TEXT NOT NULL,
    first_at  BIGINT NOT NULL,
    last_at   BIGINT NOT NULL,
    n         BIGINT NOT NULL,
    data      BYTEA NOT NULL
);
ALTER TABLE smsgate_journal_batches ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE INDEX IF NOT EXISTS smsgate_journal_batches_by_time ON smsgate_journal_batches(last_at);
CREATE TABLE IF NOT EXISTS smsgate_journal_later (
    id     BYTEA NOT NULL,
    batch  BIGINT NOT NULL,
    PRIMARY KEY (id, batch)
);
COMMIT;
SET synchronous_commit = off;
"#;

/// Rows read at a time by a scan (a batch is up to a few MB).
const PAGE: i64 = 8;

/// A connection to the journal in PostgreSQL.
pub struct Pg {
    rt: Handle,
    url: String,
    /// This node (`cluster.node_id`).
    node: String,
    client: Option<Client>,
}

fn pg_err(e: tokio_postgres::Error) -> JournalError {
    JournalError::Read(format!("postgres: {e}"))
}

impl Pg {
    /// Connect (creating the tables if needed).
    pub fn connect(rt: Handle, url: &str, node: &str) -> Result<Pg, JournalError> {
        let mut pg = Pg {
            rt,
            url: url.to_string(),
            node: node.to_string(),
            client: None,
        };
        pg.client()?;
        Ok(pg)
    }

    /// The connection, made again if it was lost.
    fn client(&mut self) -> Result<&Client, JournalError> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        let client = match self.client.take() {
            Some(c) => c,
            None => {
                let (client, conn) = self
                    .rt
                    .block_on(tokio_postgres::connect(&self.url, NoTls))
                    .map_err(pg_err)?;
                self.rt.spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::warn!(error = %e, "journal: postgres connection lost");
                    }
                });
                self.rt
                    .block_on(client.batch_execute(SCHEMA))
                    .map_err(pg_err)?;
                client
            }
        };
        Ok(self.client.insert(client))
    }

    /// Run `f` with the connection on the runtime; a failed call drops the connection (the
    /// next makes it again).
    fn run<T>(
        &mut self,
        f: impl AsyncFnOnce(&Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, JournalError> {
        let rt = self.rt.clone();
        let client = self.client()?;
        let out = rt.block_on(f(client));
        if out.is_err() {
            self.client = None;
        }
        out.map_err(pg_err)
    }
}

impl Store for Pg {
    fn write(&mut self, b: &Batch<'_>) -> Result<(), JournalError> {
        let node = self.node.clone();
        let later: Vec<&[u8]> = b.later.iter().map(|id| &id[..]).collect();
        self.run(async |c| {
            // One statement: the batch and its index of later phases, or neither.
            c.execute(
                "WITH b AS (INSERT INTO smsgate_journal_batches (node, first_at, last_at, n, data) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id) \
                 INSERT INTO smsgate_journal_later (id, batch) \
                 SELECT DISTINCT u, b.id FROM b, unnest($6::bytea[]) AS u ON CONFLICT DO NOTHING",
                &[&node, &b.first_at, &b.last_at, &b.n, &b.data, &later],
            )
            .await
            .map(drop)
        })
    }

    fn prune(&mut self, limits: &Limits) -> Result<u64, JournalError> {
        let node = self.node.clone();
        let max = limits.max_messages;
        let retention = limits.retention_ms;
        self.run(async |c| {
            let mut cutoff = now_ms().saturating_sub(retention);
            c.execute(
                "DELETE FROM smsgate_journal_batches WHERE last_at < $1",
                &[&cutoff],
            )
            .await?;
            let mut total = mine(c, &node).await?;
            if total > max {
                let mut excess = total - max;
                let mut upto = None;
                for r in c
                    .query(
                        "SELECT id, n, last_at FROM smsgate_journal_batches WHERE node = $1 ORDER BY id",
                        &[&node],
                    )
                    .await?
                {
                    if excess == 0 {
                        break;
                    }
                    let (id, n, last): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
                    excess = excess.saturating_sub(n as u64);
                    total -= n as u64;
                    upto = Some(id);
                    cutoff = cutoff.max(last + 1);
                }
                if let Some(id) = upto {
                    c.execute(
                        "DELETE FROM smsgate_journal_batches WHERE node = $1 AND id <= $2",
                        &[&node, &id],
                    )
                    .await?;
                }
            }
            // The index of later phases whose batch is gone (another node's may remain).
            c.execute(
                "DELETE FROM smsgate_journal_later l WHERE l.id < $1 \
                 AND NOT EXISTS (SELECT 1 FROM smsgate_journal_batches b WHERE b.id = l.batch)",
                &[&&id_bound(cutoff)[..]],
            )
            .await?;
            Ok(total)
        })
    }

    fn messages(&mut self) -> Result<u64, JournalError> {
        let node = self.node.clone();
        self.run(async |c| mine(c, &node).await)
    }

    fn scan(
        &mut self,
        from: i64,
        to: i64,
        each: &mut dyn FnMut(i64, &[u8]) -> bool,
    ) -> Result<(), JournalError> {
        let mut before = i64::MAX;
        loop {
            let rows = self.run(async |c| {
                c.query(
                    "SELECT id, last_at, data FROM smsgate_journal_batches \
                     WHERE last_at >= $1 AND first_at < $2 AND n > 0 AND id < $3 \
                     ORDER BY id DESC LIMIT $4",
                    &[&from, &to, &before, &PAGE],
                )
                .await
            })?;
            for r in &rows {
                before = r.get(0);
                if !each(r.get(1), r.get(2)) {
                    return Ok(());
                }
            }
            if (rows.len() as i64) < PAGE {
                return Ok(());
            }
        }
    }

    fn around(
        &mut self,
        t: i64,
        each: &mut dyn FnMut(Option<&str>, &[u8]) -> bool,
    ) -> Result<(), JournalError> {
        let mut after = 0i64;
        loop {
            let rows = self.run(async |c| {
                c.query(
                    "SELECT id, node, data FROM smsgate_journal_batches \
                     WHERE last_at >= $1 AND last_at <= $2 AND first_at <= $3 AND n > 0 AND id > $4 \
                     ORDER BY id LIMIT $5",
                    &[&(t - 1000), &(t + WRITTEN_WITHIN_MS), &(t + 1000), &after, &PAGE],
                )
                .await
            })?;
            for r in &rows {
                after = r.get(0);
                if !each(Some(r.get(1)), r.get(2)) {
                    return Ok(());
                }
            }
            if (rows.len() as i64) < PAGE {
                return Ok(());
            }
        }
    }

    fn later(
        &mut self,
        id: &[u8; 16],
        each: &mut dyn FnMut(Option<&str>, &[u8]),
    ) -> Result<(), JournalError> {
        let rows = self.run(async |c| {
            c.query(
                "SELECT b.node, b.data FROM smsgate_journal_later l JOIN smsgate_journal_batches b \
                 ON b.id = l.batch WHERE l.id = $1 ORDER BY l.batch",
                &[&&id[..]],
            )
            .await
        })?;
        for r in &rows {
            each(Some(r.get(0)), r.get(1));
        }
        Ok(())
    }
}

/// This node's messages kept.
async fn mine(c: &Client, node: &str) -> Result<u64, tokio_postgres::Error> {
    let r = c
        .query_one(
            "SELECT coalesce(sum(n), 0)::BIGINT FROM smsgate_journal_batches WHERE node = $1",
            &[&node],
        )
        .await?;
    Ok(r.get::<_, i64>(0).max(0) as u64)
}
