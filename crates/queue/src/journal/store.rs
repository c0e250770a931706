//! Where the journal's batches are kept: a SQLite file of the node's own (the default), or
//! PostgreSQL shared by every node of a cluster ([`super::pg`]), so that a message accepted
//! on one node and sent by another has one timeline, found from either.
//!
//! A batch is one tick of the writer: packed records ([`super::codec`]) with the time range
//! of the messages whose first record it holds (`first_at`, `last_at`, `n` of them). Later
//! phases are also indexed by message id (`later`).

use rusqlite::{params, Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

use super::{id_bound, now_ms, JournalError};

/// One batch to write.
pub struct Batch<'a> {
    /// The time range of the messages whose first record it holds (ms); the write time when
    /// it holds only later phases.
    pub first_at: i64,
    pub last_at: i64,
    /// How many messages' first records it holds.
    pub n: i64,
    pub data: &'a [u8],
    /// The messages it holds later phases of.
    pub later: &'a [[u8; 16]],
}

/// The retention limits.
pub struct Limits {
    pub retention_ms: i64,
    pub max_messages: u64,
}

/// A connection to where the batches are kept (the writer has one, the readers another).
pub trait Store: Send {
    /// Append a batch.
    fn write(&mut self, batch: &Batch<'_>) -> Result<(), JournalError>;
    /// Delete the batches older than the retention, then the oldest beyond `max_messages`
    /// (of this node's), and the index of the later phases gone with them. Returns how
    /// many messages are left (this node's).
    fn prune(&mut self, limits: &Limits) -> Result<u64, JournalError>;
    /// How many messages are kept (this node's).
    fn messages(&mut self) -> Result<u64, JournalError>;
    /// The batches holding first records of messages in `from..to` (ms), newest first,
    /// with their `last_at`, until `each` says stop (false).
    fn scan(
        &mut self,
        from: i64,
        to: i64,
        each: &mut dyn FnMut(i64, &[u8]) -> bool,
    ) -> Result<(), JournalError>;
    /// The batches that may hold the first record of a message received at `t` (ms), with
    /// the node that wrote each (in a cluster's journal), until `each` says stop.
    fn around(
        &mut self,
        t: i64,
        each: &mut dyn FnMut(Option<&str>, &[u8]) -> bool,
    ) -> Result<(), JournalError>;
    /// The batches holding later phases of message `id`, in the order they were written,
    /// with the node that wrote each (in a cluster's journal).
    fn later(
        &mut self,
        id: &[u8; 16],
        each: &mut dyn FnMut(Option<&str>, &[u8]),
    ) -> Result<(), JournalError>;
}

/// A message's first record is written within this of its id's time (batches farther are
/// not read when looking it up).
pub const WRITTEN_WITHIN_MS: i64 = 600_000;

pub const SCHEMA: &str = r#"
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
CREATE TABLE IF NOT EXISTS jr_batches (
    id        INTEGER PRIMARY KEY,
    first_at  INTEGER NOT NULL,
    last_at   INTEGER NOT NULL,
    n         INTEGER NOT NULL,
    data      BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS jr_batches_by_time ON jr_batches(last_at);
CREATE TABLE IF NOT EXISTS jr_later (
    id     BLOB NOT NULL,
    batch  INTEGER NOT NULL,
    PRIMARY KEY (id, batch)
) WITHOUT ROWID;
"#;

/// The journal in a SQLite file of the node's own (written without fsync: a diagnostic
/// record, not the messages' durability).
pub struct Sqlite(Connection);

impl Sqlite {
    /// The writer's connection (creating the file and its tables).
    pub fn writer(path: &Path) -> rusqlite::Result<Sqlite> {
        let conn = Connection::open(path)?;
        // The writer appends (one row of packed records per tick) and prunes from the head:
        // it re-reads only for the prune once a minute, so 256 KB of page cache instead of
        // SQLite's default 2 MB.
        conn.pragma_update(None, "cache_size", -256)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Sqlite(conn))
    }

    /// A reader's connection.
    pub fn reader(path: &Path) -> rusqlite::Result<Sqlite> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(2))?;
        Ok(Sqlite(conn))
    }
}

impl Store for Sqlite {
    fn write(&mut self, b: &Batch<'_>) -> Result<(), JournalError> {
        let tx = self.0.unchecked_transaction()?;
        tx.prepare_cached(
            "INSERT INTO jr_batches (first_at, last_at, n, data) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![b.first_at, b.last_at, b.n, b.data])?;
        let batch = tx.last_insert_rowid();
        {
            let mut later =
                tx.prepare_cached("INSERT OR IGNORE INTO jr_later (id, batch) VALUES (?1, ?2)")?;
            for id in b.later {
                later.execute(params![&id[..], batch])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn prune(&mut self, limits: &Limits) -> Result<u64, JournalError> {
        let mut cutoff = now_ms().saturating_sub(limits.retention_ms);
        let tx = self.0.unchecked_transaction()?;
        tx.execute("DELETE FROM jr_batches WHERE last_at < ?1", [cutoff])?;
        let mut total: u64 =
            tx.query_row("SELECT coalesce(sum(n), 0) FROM jr_batches", [], |r| {
                r.get::<_, i64>(0)
            })? as u64;
        if total > limits.max_messages {
            let mut excess = total - limits.max_messages;
            let mut upto = None;
            {
                let mut st = tx.prepare("SELECT id, n, last_at FROM jr_batches ORDER BY id")?;
                let mut rows = st.query([])?;
                while let Some(r) = rows.next()? {
                    if excess == 0 {
                        break;
                    }
                    let (id, n, last): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                    excess = excess.saturating_sub(n as u64);
                    total -= n as u64;
                    upto = Some(id);
                    cutoff = cutoff.max(last + 1);
                }
            }
            if let Some(id) = upto {
                tx.execute("DELETE FROM jr_batches WHERE id <= ?1", [id])?;
            }
        }
        tx.execute(
            "DELETE FROM jr_later WHERE id < ?1",
            [&id_bound(cutoff)[..]],
        )?;
        tx.commit()?;
        Ok(total)
    }

    fn messages(&mut self) -> Result<u64, JournalError> {
        Ok(self
            .0
            .query_row("SELECT coalesce(sum(n), 0) FROM jr_batches", [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }

    fn scan(
        &mut self,
        from: i64,
        to: i64,
        each: &mut dyn FnMut(i64, &[u8]) -> bool,
    ) -> Result<(), JournalError> {
        let mut st = self.0.prepare_cached(
            "SELECT last_at, data FROM jr_batches WHERE last_at >= ?1 AND first_at < ?2 AND n > 0 ORDER BY id DESC",
        )?;
        let mut rows = st.query(params![from, to])?;
        while let Some(r) = rows.next()? {
            let data = r.get_ref(1)?.as_blob()?;
            if !each(r.get(0)?, data) {
                break;
            }
        }
        Ok(())
    }

    fn around(
        &mut self,
        t: i64,
        each: &mut dyn FnMut(Option<&str>, &[u8]) -> bool,
    ) -> Result<(), JournalError> {
        let mut st = self.0.prepare_cached(
            "SELECT data FROM jr_batches WHERE last_at >= ?1 AND last_at <= ?2 AND first_at <= ?3 AND n > 0",
        )?;
        let mut rows = st.query(params![t - 1000, t + WRITTEN_WITHIN_MS, t + 1000])?;
        while let Some(r) = rows.next()? {
            if !each(None, r.get_ref(0)?.as_blob()?) {
                break;
            }
        }
        Ok(())
    }

    fn later(
        &mut self,
        id: &[u8; 16],
        each: &mut dyn FnMut(Option<&str>, &[u8]),
    ) -> Result<(), JournalError> {
        let mut st = self.0.prepare_cached(
            "SELECT b.data FROM jr_later l JOIN jr_batches b ON b.id = l.batch WHERE l.id = ?1 ORDER BY l.batch",
        )?;
        let mut rows = st.query([&id[..]])?;
        while let Some(r) = rows.next()? {
            each(None, r.get_ref(0)?.as_blob()?);
        }
        Ok(())
    }
}

impl From<rusqlite::types::FromSqlError> for JournalError {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        JournalError::Read(e.to_string())
    }
}
