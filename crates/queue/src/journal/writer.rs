//! The journal's writer thread: it wakes every [`TICK`], takes the spans waiting, and writes
//! them as one row (a batch of packed records, see [`super::codec`]) in one transaction.
//!
//! A new message is held [`HOLD`] for its next phases, so accepting and sending it (the
//! common case) make one record. A phase of a message no longer held is a record of its own
//! in the current batch, with a row in `jr_later` pointing the message id to that batch.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

use super::{codec, id_bound, now_ms, Entry};

/// How often the writer takes what is waiting (no thread switch per message).
pub const TICK: Duration = Duration::from_millis(100);
/// How long a new message is held for its next phases before it is written.
pub const HOLD: Duration = Duration::from_millis(100);
/// Messages held at most (beyond, the oldest are written at once).
const MAX_HELD: usize = 20_000;
/// How often old batches are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

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

/// The retention limits.
pub struct Limits {
    pub retention_ms: i64,
    pub max_messages: u64,
}

/// A new message held for its next phases.
struct Held {
    since: Instant,
    /// Its first span: the packed summary, then its first phase.
    head: Vec<u8>,
    summary: usize,
    /// When it was received (ms), from the summary.
    at: i64,
    count: u8,
    /// Its next phases, packed.
    more: Vec<u8>,
}

/// The state of the writer between ticks.
struct Writer {
    held: HashMap<[u8; 16], Held>,
    order: VecDeque<[u8; 16]>,
    buf: Vec<u8>,
    later: Vec<[u8; 16]>,
    /// Messages in the table (for `max_messages`).
    messages: u64,
}

pub fn run(conn: Connection, rx: Receiver<Entry>, limits: Limits, written: Arc<AtomicU64>) {
    let mut w = Writer {
        held: HashMap::new(),
        order: VecDeque::new(),
        buf: Vec::with_capacity(1 << 20),
        later: vec![],
        messages: conn
            .query_row("SELECT coalesce(sum(n), 0) FROM jr_batches", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_or(0) as u64,
    };
    let mut last_prune = Instant::now() - PRUNE_EVERY;
    loop {
        std::thread::sleep(TICK);
        let mut closed = false;
        let mut n = 0u64;
        loop {
            match rx.try_recv() {
                Ok(e) => {
                    w.take(e);
                    n += 1;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        match w.flush(&conn, closed) {
            Ok(()) => {
                written.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, spans = n, "journal: write failed"),
        }
        // Every minute, and at once when far beyond the size limit (a burst).
        if last_prune.elapsed() >= PRUNE_EVERY
            || w.messages > limits.max_messages.saturating_add(limits.max_messages / 8)
        {
            last_prune = Instant::now();
            match prune(&conn, &limits) {
                Ok(left) => w.messages = left,
                Err(e) => tracing::warn!(error = %e, "journal: pruning failed"),
            }
        }
        if closed {
            return;
        }
    }
}

impl Writer {
    /// Take one span: hold a new message, add a phase to a held one, or pack a later phase.
    fn take(&mut self, e: Entry) {
        if let Some(summary) = e.summary {
            // The summary starts with the direction byte, then the time.
            let at = e
                .bytes
                .get(1..9)
                .and_then(|b| b.try_into().ok())
                .map(i64::from_le_bytes)
                .unwrap_or_default();
            let h = Held {
                since: Instant::now(),
                head: e.bytes,
                summary,
                at,
                count: 1,
                more: Vec::new(),
            };
            if self.held.insert(e.id, h).is_none() {
                self.order.push_back(e.id);
            }
        } else if let Some(h) = self.held.get_mut(&e.id).filter(|h| h.count < u8::MAX) {
            h.more.extend_from_slice(&e.bytes);
            h.count += 1;
        } else {
            codec::put_later(&mut self.buf, &e.id, &e.bytes);
            self.later.push(e.id);
        }
    }

    /// Pack the messages held long enough (every one when `all`) and write the batch.
    fn flush(&mut self, conn: &Connection, all: bool) -> rusqlite::Result<()> {
        let (mut first, mut last, mut n) = (i64::MAX, i64::MIN, 0i64);
        while let Some(id) = self.order.front().copied() {
            let due = all
                || self.held.len() > MAX_HELD
                || self.held.get(&id).is_none_or(|h| h.since.elapsed() >= HOLD);
            if !due {
                break;
            }
            self.order.pop_front();
            if let Some(h) = self.held.remove(&id) {
                let (summary, first_phase) = h.head.split_at(h.summary.min(h.head.len()));
                codec::put_message(&mut self.buf, &id, summary, h.count, first_phase, &h.more);
                first = first.min(h.at);
                last = last.max(h.at);
                n += 1;
            }
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        if n == 0 {
            (first, last) = (now_ms(), now_ms());
        }
        let tx = conn.unchecked_transaction()?;
        tx.prepare_cached(
            "INSERT INTO jr_batches (first_at, last_at, n, data) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![first, last, n, &self.buf])?;
        let batch = tx.last_insert_rowid();
        {
            let mut later =
                tx.prepare_cached("INSERT OR IGNORE INTO jr_later (id, batch) VALUES (?1, ?2)")?;
            for id in &self.later {
                later.execute(params![&id[..], batch])?;
            }
        }
        tx.commit()?;
        self.messages += n as u64;
        self.buf.clear();
        self.later.clear();
        Ok(())
    }
}

/// Delete batches older than the retention, then the oldest beyond `max_messages`, and the
/// later phases of the messages that went. Returns how many messages are left.
pub fn prune(conn: &Connection, limits: &Limits) -> rusqlite::Result<u64> {
    let mut cutoff = now_ms().saturating_sub(limits.retention_ms);
    let tx = conn.unchecked_transaction()?;
    tx.execute("DELETE FROM jr_batches WHERE last_at < ?1", [cutoff])?;
    let mut total: u64 = tx.query_row("SELECT coalesce(sum(n), 0) FROM jr_batches", [], |r| {
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
