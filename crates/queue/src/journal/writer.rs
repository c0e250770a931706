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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// A store whose writes fail while `down` is set.
    struct Flaky {
        down: Arc<AtomicBool>,
        batches: Arc<AtomicU64>,
    }

    impl Store for Flaky {
        fn write(&mut self, _: &Batch<'_>) -> Result<(), JournalError> {
            if self.down.load(Ordering::Relaxed) {
                return Err(JournalError::Read("down".into()));
            }
            self.batches.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        fn prune(&mut self, _: &Limits) -> Result<u64, JournalError> {
            Ok(0)
        }
        fn messages(&mut self) -> Result<u64, JournalError> {
            Ok(0)
        }
        fn scan(
            &mut self,
            _: i64,
            _: i64,
            _: &mut dyn FnMut(i64, &[u8]) -> bool,
        ) -> Result<(), JournalError> {
            Ok(())
        }
        fn around(
            &mut self,
            _: i64,
            _: &mut dyn FnMut(Option<&str>, &[u8]) -> bool,
        ) -> Result<(), JournalError> {
            Ok(())
        }
        fn later(
            &mut self,
            _: &[u8; 16],
            _: &mut dyn FnMut(Option<&str>, &[u8]),
        ) -> Result<(), JournalError> {
            Ok(())
        }
    }

    /// Pack one later phase of message `id` into the shared buffer, as the hot path does.
    fn push(shared: &Shared, id: u8) {
        let mut p = shared.pending.lock();
        let mut phase = vec![];
        codec::put_phase(&mut phase, "receipt", 1, 1, std::iter::empty());
        p.buf
            .extend_from_slice(&(20 + phase.len() as u32).to_le_bytes());
        p.buf.extend_from_slice(&[id; 16]);
        p.buf.extend_from_slice(&NO_SUMMARY.to_le_bytes());
        p.buf.extend_from_slice(&phase);
        p.spans += 1;
    }

    fn wait(what: &str, cond: impl Fn() -> bool) {
        let t = Instant::now();
        while !cond() {
            assert!(t.elapsed() < Duration::from_secs(5), "{what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_store_that_cannot_write_costs_phases_counted_and_writing_resumes() {
        let shared = Arc::new(Shared::default());
        let (down, batches) = (Arc::new(AtomicBool::new(true)), Arc::new(AtomicU64::new(0)));
        let (written, lost) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let store = Flaky {
            down: down.clone(),
            batches: batches.clone(),
        };
        let limits = Limits {
            retention_ms: 3_600_000,
            max_messages: 100,
        };
        let (s, w, l) = (shared.clone(), written.clone(), lost.clone());
        let t = std::thread::spawn(move || run(Box::new(store), &s, limits, w, l));
        push(&shared, 1);
        push(&shared, 2);
        wait("the failed batch's phases counted as lost", || {
            lost.load(Ordering::Relaxed) == 2
        });
        assert_eq!(written.load(Ordering::Relaxed), 0);
        // The failed batch is not kept (the journal never becomes a backlog).
        down.store(false, Ordering::Relaxed);
        push(&shared, 3);
        wait("written again", || written.load(Ordering::Relaxed) == 1);
        assert_eq!(lost.load(Ordering::Relaxed), 2);
        assert_eq!(batches.load(Ordering::Relaxed), 1);
        shared.closed.store(true, Ordering::Release);
        t.join().expect("writer");
    }
}
