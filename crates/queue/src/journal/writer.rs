//! The journal's writer thread: it wakes every [`TICK`], takes the buffer of spans packed
//! since (leaving it an empty one of the same size), and writes them as one row (a batch of
//! packed records, see [`super::codec`]) in one transaction.
//!
//! A new message is held [`HOLD`] for its next phases, so accepting and sending it (the
//! common case) make one record. A phase of a message no longer held is a record of its own
//! in the current batch, with a row in `jr_later` pointing the message id to that batch.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::store::{Batch, Limits, Store};
use super::{codec, now_ms, JournalError, Pending, Shared, NO_SUMMARY};

/// How often the writer takes what is waiting (no thread switch per message).
pub const TICK: Duration = Duration::from_millis(100);
/// How long a new message is held for its next phases before it is written.
pub const HOLD: Duration = Duration::from_millis(100);
/// Messages held at most (beyond, the oldest are written at once).
const MAX_HELD: usize = 20_000;
/// The largest buffer kept for the hot path to pack into (beyond, a burst's is freed).
const SPARE_MAX: usize = 4 << 20;
/// How often old batches are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// A new message held for its next phases.
struct Held {
    since: Instant,
    /// Its first span (the packed summary, then its first phase), then its next phases.
    head: Vec<u8>,
    summary: usize,
    /// When it was received (ms), from the summary.
    at: i64,
    count: u8,
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

/// The writer's loop, until the journal is closed: `written` and `lost` count the spans
/// written and those of batches that could not be.
pub fn run(
    mut store: Box<dyn Store>,
    shared: &Shared,
    limits: Limits,
    written: Arc<AtomicU64>,
    lost: Arc<AtomicU64>,
) {
    let mut failing = false;
    let mut w = Writer {
        held: HashMap::new(),
        order: VecDeque::new(),
        buf: Vec::with_capacity(1 << 20),
        later: vec![],
        messages: store.messages().unwrap_or(0),
    };
    let mut last_prune = Instant::now() - PRUNE_EVERY;
    // The buffer the hot path packs into next (the one taken last tick, emptied).
    let mut spare = Vec::new();
    loop {
        std::thread::sleep(TICK);
        let closed = shared.closed.load(Ordering::Acquire);
        let taken = {
            let mut p = shared.pending.lock();
            std::mem::replace(
                &mut *p,
                Pending {
                    buf: spare,
                    spans: 0,
                },
            )
        };
        let n = taken.spans;
        for (id, summary, bytes) in entries(&taken.buf) {
            w.take(id, summary, bytes);
        }
        spare = taken.buf;
        spare.clear();
        if spare.capacity() > SPARE_MAX {
            // After a burst, the next tick's buffer starts small again.
            spare = Vec::new();
        }
        match w.flush(store.as_mut(), closed) {
            Ok(()) => {
                written.fetch_add(n, Ordering::Relaxed);
                if std::mem::take(&mut failing) {
                    tracing::info!("journal: writing again");
                }
            }
            Err(e) => {
                lost.fetch_add(n, Ordering::Relaxed);
                // Told once, not every tick, while it lasts.
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(error = %e, spans = n, "journal: write failed; phases are dropped until it works again");
                }
            }
        }
        // Every minute, and at once when far beyond the size limit (a burst).
        if last_prune.elapsed() >= PRUNE_EVERY
            || w.messages > limits.max_messages.saturating_add(limits.max_messages / 8)
        {
            last_prune = Instant::now();
            match store.prune(&limits) {
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
    fn take(&mut self, id: [u8; 16], summary: Option<usize>, bytes: &[u8]) {
        if let Some(summary) = summary {
            // The summary starts with the direction byte, then the time.
            let at = bytes
                .get(1..9)
                .and_then(|b| b.try_into().ok())
                .map(i64::from_le_bytes)
                .unwrap_or_default();
            let mut head = Vec::with_capacity(bytes.len() * 2);
            head.extend_from_slice(bytes);
            let h = Held {
                since: Instant::now(),
                head,
                summary,
                at,
                count: 1,
            };
            if self.held.insert(id, h).is_none() {
                self.order.push_back(id);
            }
        } else if let Some(h) = self.held.get_mut(&id).filter(|h| h.count < u8::MAX) {
            // Its phases follow its first, packed as they are.
            h.head.extend_from_slice(bytes);
            h.count += 1;
        } else {
            codec::put_later(&mut self.buf, &id, bytes);
            self.later.push(id);
        }
    }

    /// Pack the messages held long enough (every one when `all`) and write the batch.
    fn flush(&mut self, store: &mut dyn Store, all: bool) -> Result<(), JournalError> {
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
                codec::put_message(&mut self.buf, &id, summary, h.count, first_phase, &[]);
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
        let written = store.write(&Batch {
            first_at: first,
            last_at: last,
            n,
            data: &self.buf,
            later: &self.later,
        });
        // A batch that could not be written is dropped (the journal is never a backlog).
        self.buf.clear();
        self.later.clear();
        written?;
        self.messages += n as u64;
        Ok(())
    }
}

/// The spans of a taken buffer ([`Pending`]): id, summary length, packed bytes. A damaged
/// entry ends the reading.
fn entries(buf: &[u8]) -> impl Iterator<Item = ([u8; 16], Option<usize>, &[u8])> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let entry = rest.get(4..4 + len)?;
        rest = &rest[4 + len..];
        let id: [u8; 16] = entry.get(..16)?.try_into().ok()?;
        let summary = u32::from_le_bytes(entry.get(16..20)?.try_into().ok()?);
        let bytes = entry.get(20..)?;
        let summary = (summary != NO_SUMMARY).then_some(summary as usize);
        Some((id, summary, bytes))
    })
}
