//! The message journal: every phase of every message (accepted, each submit attempt and the
//! SMSC's answer, failure, receipt, each callback, MO), kept for a retention so the
//! management API can find a message and show its timeline.
//!
//! The journal is a [`trace::Sink`]: it reads the same spans the OpenTelemetry traces are
//! made of. On the hot path a span is only handed to a bounded channel (never waited for:
//! when the writer falls behind, spans are dropped and counted, messages never slowed). A
//! thread of its own ([`writer`]) writes them to a SQLite file of its own (`journal.db`)
//! without fsync: the journal is a diagnostic record, not the messages' durability (which is
//! the queue's); a crash of the machine may lose its last seconds.
//!
//! What is written is batches: one row per tick of the writer holding the records packed in
//! it ([`codec`]: a message with the phases seen in its first moments, or a later phase),
//! indexed by the time of its messages; later phases are also indexed by message id. A
//! message is found from its id (a UUIDv7: its time says which batches to read), a search
//! reads the batches of its time range, newest first. Batches older than the retention, and
//! the oldest beyond `max_messages`, are deleted every minute.

pub mod codec;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use rusqlite::{params, Connection, OpenFlags};
use serde::Serialize;
use smsgate_core::config::JournalConfig;
use smsgate_core::trace::{self, Value};
use uuid::Uuid;

use codec::{Phase, Record};

/// Spans waiting for the writer at most; beyond, they are dropped (and counted).
const CHANNEL: usize = 16_384;
/// A message's first record is written within this of its id's time (batches farther are
/// not read when looking it up).
const WRITTEN_WITHIN_MS: i64 = 600_000;
/// Batches hold messages of about the same time (within the writer's hold): a search stops
/// reading once batches are this much older than the last message it keeps.
const SEARCH_SLACK_MS: i64 = 10_000;

/// Errors of the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {0}: {1}")]
    Open(PathBuf, String),
    #[error("journal: {0}")]
    Read(String),
}

impl From<rusqlite::Error> for JournalError {
    fn from(e: rusqlite::Error) -> Self {
        JournalError::Read(e.to_string())
    }
}

/// One span handed to the writer, already packed (on the thread that made it: its
/// attributes are freed where they were allocated).
pub(crate) struct Entry {
    id: [u8; 16],
    /// A message's first phase: the length of the summary before the phase in `bytes`.
    summary: Option<usize>,
    /// The packed summary (first phases only) and phase ([`codec`]).
    bytes: Vec<u8>,
}

/// The journal: a sink for spans and a reader of what was written.
pub struct Journal {
    tx: SyncSender<Entry>,
    dropped: AtomicU64,
    written: Arc<AtomicU64>,
    reader: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

/// What a search asks for; every field is optional.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// One message by id.
    pub id: Option<String>,
    /// Messages of this user (exact).
    pub user: Option<String>,
    /// Messages whose destination contains this.
    pub destination: Option<String>,
    /// `mt` or `mo`.
    pub direction: Option<String>,
    /// From this time (ms since the epoch, inclusive; default: the retention's start).
    pub from: Option<i64>,
    /// Up to this time (ms since the epoch, exclusive; default: now).
    pub to: Option<i64>,
    /// At most this many, newest first (default 50, at most 500).
    pub limit: Option<usize>,
}

/// A message found by a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub id: String,
    /// When it was received (ms since the epoch).
    pub at: i64,
    /// `mt` or `mo`.
    pub direction: String,
    pub user: String,
    pub source: String,
    pub destination: String,
    pub connector: String,
    /// Its latest phase, in words (`queued`, `sent`, `delivered`, `failed: ...`).
    pub state: String,
}

/// One phase of a message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// The span's name without `smsgate.` (`accept`, `submit`, `receipt`, ...).
    pub phase: String,
    pub start: i64,
    pub end: i64,
    pub attrs: serde_json::Map<String, serde_json::Value>,
}

/// A message and every phase the journal has of it, in time order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    /// None when the journal has phases of the message but not its first (it was accepted
    /// on another node, or before the journal was on).
    pub message: Option<Summary>,
    pub events: Vec<Event>,
}

fn ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn now_ms() -> i64 {
    ms(SystemTime::now())
}

/// The smallest UUIDv7 of millisecond `ms` (a time bound as an id bound).
pub(crate) fn id_bound(ms: i64) -> [u8; 16] {
    let ms = ms.clamp(0, (1 << 48) - 1) as u64;
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    b
}

impl Journal {
    /// Open (or create) the journal at `cfg.path` (default `data_dir/journal.db`) and start
    /// its writer thread.
    pub fn open(cfg: &JournalConfig, data_dir: &Path) -> Result<Arc<Journal>, JournalError> {
        let path = cfg
            .path
            .clone()
            .unwrap_or_else(|| data_dir.join("journal.db"));
        let err = |e: &dyn std::fmt::Display| JournalError::Open(path.clone(), e.to_string());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        }
        let conn = Connection::open(&path).map_err(|e| err(&e))?;
        conn.execute_batch(writer::SCHEMA).map_err(|e| err(&e))?;
        let reader = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| err(&e))?;
        let _ = reader.busy_timeout(Duration::from_secs(2));
        let (tx, rx) = sync_channel(CHANNEL);
        let written = Arc::new(AtomicU64::new(0));
        let limits = writer::Limits {
            retention_ms: (cfg.retention_hours as i64).saturating_mul(3_600_000),
            max_messages: cfg.max_messages,
        };
        let count = written.clone();
        std::thread::Builder::new()
            .name("smsgate-journal".into())
            .spawn(move || writer::run(conn, rx, limits, count))
            .map_err(|e| err(&e))?;
        Ok(Arc::new(Journal {
            tx,
            dropped: AtomicU64::new(0),
            written,
            reader: Mutex::new(reader),
            path,
        }))
    }

    /// Spans dropped because the writer was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Spans taken by the writer (a new message's appear in searches a moment later).
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// The journal's counters in Prometheus' text format.
    pub fn render_prometheus(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(
            out,
            "# TYPE smsgate_journal_written_total counter\n# HELP smsgate_journal_written_total Message phases written to the message journal.\nsmsgate_journal_written_total {}\n# TYPE smsgate_journal_dropped_total counter\n# HELP smsgate_journal_dropped_total Message phases dropped because the journal's writer was behind (messages are never slowed).\nsmsgate_journal_dropped_total {}\n",
            self.written(),
            self.dropped()
        );
    }

    /// The messages matching `q`, newest first.
    pub fn search(&self, q: &Query) -> Result<Vec<Summary>, JournalError> {
        let limit = q.limit.unwrap_or(50).clamp(1, 500);
        let conn = self.reader.lock();
        if let Some(id) = &q.id {
            let Ok(id) = Uuid::parse_str(id.trim()) else {
                return Ok(vec![]);
            };
            return Ok(find(&conn, &id)?.into_iter().collect());
        }
        let mo = match q.direction.as_deref() {
            None | Some("") => None,
            Some("mt") => Some(false),
            Some("mo") => Some(true),
            Some(d) => {
                return Err(JournalError::Read(format!(
                    "direction {d:?} is not mt or mo"
                )))
            }
        };
        let from = q.from.unwrap_or(0);
        let to = q.to.unwrap_or(i64::MAX);
        let user = q.user.as_deref().filter(|u| !u.is_empty());
        let dst = q.destination.as_deref().filter(|d| !d.is_empty());
        let mut found: Vec<codec::MessageRec> = vec![];
        let mut st = conn.prepare_cached(
            "SELECT last_at, data FROM jr_batches WHERE last_at >= ?1 AND first_at < ?2 AND n > 0 ORDER BY id DESC",
        )?;
        let mut rows = st.query(params![from, to])?;
        while let Some(r) = rows.next()? {
            let last: i64 = r.get(0)?;
            if found.len() >= limit {
                // Batches are in time order (within a hold): none older can be in the top.
                found.sort_by_key(|m| std::cmp::Reverse((m.at, m.id)));
                found.truncate(limit);
                if found.last().is_some_and(|m| last < m.at - SEARCH_SLACK_MS) {
                    break;
                }
            }
            let data: Vec<u8> = r.get(1)?;
            for (_, rec) in codec::records(&data) {
                let Some(Record::Message(m)) = codec::decode(rec) else {
                    continue;
                };
                if m.at < from
                    || m.at >= to
                    || mo.is_some_and(|mo| mo != m.mo)
                    || user.is_some_and(|u| u != m.user)
                    || dst.is_some_and(|d| !m.dst.contains(d))
                {
                    continue;
                }
                found.push(m);
            }
        }
        drop(rows);
        drop(st);
        found.sort_by_key(|m| std::cmp::Reverse((m.at, m.id)));
        found.truncate(limit);
        found
            .into_iter()
            .map(|m| {
                let later = later(&conn, &m.id)?;
                Ok(summary(m, &later))
            })
            .collect()
    }

    /// Message `id`'s timeline; None if the journal has nothing of it.
    pub fn timeline(&self, id: &str) -> Result<Option<Timeline>, JournalError> {
        let Ok(id) = Uuid::parse_str(id.trim()) else {
            return Ok(None);
        };
        let conn = self.reader.lock();
        let first = first_record(&conn, &id)?;
        let later = later(&conn, id.as_bytes())?;
        if first.is_none() && later.is_empty() {
            return Ok(None);
        }
        let mut events: Vec<Event> = first
            .as_ref()
            .map(|m| m.phases.iter().map(event).collect())
            .unwrap_or_default();
        events.extend(later.iter().map(event));
        events.sort_by_key(|e| e.start);
        Ok(Some(Timeline {
            message: first.map(|m| summary(m, &later)),
            events,
        }))
    }
}

impl trace::Sink for Journal {
    fn record(&self, span: trace::Span<'_>) {
        let name = span.name.strip_prefix("smsgate.").unwrap_or(span.name);
        let (start, end) = (ms(span.start), ms(span.end));
        let mut bytes = Vec::with_capacity(192);
        let summary = span.root.then(|| {
            let text = |key: &str| {
                span.attrs
                    .iter()
                    .find(|(k, _)| *k == key)
                    .and_then(|(_, v)| match v {
                        Value::Str(s) => Some(s.as_str()),
                        Value::Int(_) => None,
                    })
                    .unwrap_or_default()
            };
            let mo = name == "mo";
            let user = if mo { "" } else { text("smsgate.user") };
            codec::put_summary(
                &mut bytes,
                mo,
                start,
                user,
                text("smsgate.source"),
                text("smsgate.destination"),
                text("smsgate.connector"),
            );
            bytes.len()
        });
        codec::put_phase(&mut bytes, name, start, end, &span.attrs);
        let e = Entry {
            id: *span.id.as_bytes(),
            summary,
            bytes,
        };
        if let Err(TrySendError::Full(_)) = self.tx.try_send(e) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The time in a UUIDv7 (ms since the epoch).
fn id_time(id: &Uuid) -> Option<i64> {
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    Some(secs as i64 * 1000 + i64::from(nanos / 1_000_000))
}

/// The record of message `id` (with its first phases), from the batches of its time.
fn first_record(conn: &Connection, id: &Uuid) -> Result<Option<codec::MessageRec>, JournalError> {
    let Some(t) = id_time(id) else {
        return Ok(None);
    };
    let mut st = conn.prepare_cached(
        "SELECT data FROM jr_batches WHERE last_at >= ?1 AND last_at <= ?2 AND first_at <= ?3 AND n > 0",
    )?;
    let mut rows = st.query(params![t - 1000, t + WRITTEN_WITHIN_MS, t + 1000])?;
    while let Some(r) = rows.next()? {
        let data: Vec<u8> = r.get(0)?;
        for (rid, rec) in codec::records(&data) {
            if rid == *id.as_bytes() {
                if let Some(Record::Message(m)) = codec::decode(rec) {
                    return Ok(Some(m));
                }
            }
        }
    }
    Ok(None)
}

/// The later phases of message `id`, in the order they were written.
fn later(conn: &Connection, id: &[u8; 16]) -> Result<Vec<Phase>, JournalError> {
    let mut st = conn.prepare_cached(
        "SELECT b.data FROM jr_later l JOIN jr_batches b ON b.id = l.batch WHERE l.id = ?1 ORDER BY l.batch",
    )?;
    let mut rows = st.query([&id[..]])?;
    let mut out = vec![];
    while let Some(r) = rows.next()? {
        let data: Vec<u8> = r.get(0)?;
        for (rid, rec) in codec::records(&data) {
            if rid == *id {
                if let Some(Record::Later(_, p)) = codec::decode(rec) {
                    out.push(p);
                }
            }
        }
    }
    Ok(out)
}

fn find(conn: &Connection, id: &Uuid) -> Result<Option<Summary>, JournalError> {
    let Some(m) = first_record(conn, id)? else {
        return Ok(None);
    };
    let later = later(conn, id.as_bytes())?;
    Ok(Some(summary(m, &later)))
}

fn event(p: &Phase) -> Event {
    Event {
        phase: p.name.clone(),
        start: p.start,
        end: p.end,
        attrs: p
            .attrs
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    match v {
                        Value::Int(n) => (*n).into(),
                        Value::Str(s) => s.clone().into(),
                    },
                )
            })
            .collect(),
    }
}

fn summary(m: codec::MessageRec, later: &[Phase]) -> Summary {
    let mut phases: Vec<&Phase> = m.phases.iter().chain(later).collect();
    phases.sort_by_key(|p| p.start);
    Summary {
        id: Uuid::from_bytes(m.id).to_string(),
        at: m.at,
        direction: if m.mo { "mo" } else { "mt" }.into(),
        state: state(&phases),
        user: m.user,
        source: m.src,
        destination: m.dst,
        connector: m.connector,
    }
}

/// A message's state in words, from its phases.
fn state(phases: &[&Phase]) -> String {
    let attr = |p: &Phase, k: &str| {
        p.attrs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| match v {
                Value::Str(s) => s.clone(),
                Value::Int(n) => n.to_string(),
            })
            .unwrap_or_default()
    };
    let mut state = String::new();
    for p in phases {
        state = match p.name.as_str() {
            "accept" => "queued".into(),
            "mo" => format!("received, routed to {}", attr(p, "routed_to")),
            "submit" => {
                let o = attr(p, "outcome");
                if o == "ESME_ROK" {
                    "sent".into()
                } else {
                    format!("submit: {o}")
                }
            }
            "failed" => format!("failed: {}", attr(p, "status")),
            "receipt" => format!("receipt: {}", attr(p, "stat")),
            _ => continue,
        };
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsgate_core::trace::{Kind, Sink, Span};
    use std::time::Instant;

    fn span<'a>(
        id: &'a Uuid,
        root: bool,
        name: &'static str,
        attrs: &[(&'static str, &str)],
    ) -> Span<'a> {
        let now = SystemTime::now();
        Span {
            id,
            root,
            name,
            kind: Kind::Internal,
            start: now,
            end: now,
            attrs: attrs
                .iter()
                .map(|(k, v)| (*k, Value::Str(v.to_string())))
                .collect(),
        }
    }

    fn wait_written(j: &Journal, n: u64) {
        let t = Instant::now();
        while j.written() < n {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "written {} of {n}",
                j.written()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn phases_are_found_by_id_user_destination_and_time() {
        let dir = tempfile::tempdir().expect("tmp");
        let cfg = JournalConfig {
            enabled: true,
            ..Default::default()
        };
        let j = Journal::open(&cfg, dir.path()).expect("open");
        // As in the gateway, a message's first phase starts at its id's time.
        let a = Uuid::now_v7();
        j.record(span(
            &a,
            true,
            "smsgate.accept",
            &[
                ("smsgate.user", "foo"),
                ("smsgate.destination", "33612"),
                ("smsgate.connector", "sim"),
            ],
        ));
        j.record(span(
            &a,
            false,
            "smsgate.submit",
            &[("smsgate.outcome", "ESME_ROK")],
        ));
        j.record(span(
            &a,
            false,
            "smsgate.receipt",
            &[("smsgate.stat", "DELIVRD")],
        ));
        std::thread::sleep(Duration::from_millis(3));
        let b = Uuid::now_v7();
        j.record(span(
            &b,
            true,
            "smsgate.accept",
            &[
                ("smsgate.user", "bar"),
                ("smsgate.destination", "44700"),
                ("smsgate.connector", "sim"),
            ],
        ));
        wait_written(&j, 4);
        // New messages are held a moment for their next phases.
        let t = Instant::now();
        let all = loop {
            let all = j.search(&Query::default()).expect("search");
            if all.len() == 2 || t.elapsed() > Duration::from_secs(5) {
                break all;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(
            all.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            vec![b.to_string(), a.to_string()]
        );
        assert_eq!(all[1].state, "receipt: DELIVRD");
        assert_eq!(all[0].state, "queued");
        let foo = j
            .search(&Query {
                user: Some("foo".into()),
                ..Default::default()
            })
            .expect("search");
        assert_eq!(foo.len(), 1);
        let dst = j
            .search(&Query {
                destination: Some("4470".into()),
                ..Default::default()
            })
            .expect("search");
        assert_eq!(dst.len(), 1);
        assert_eq!(dst[0].id, b.to_string());
        let later = j
            .search(&Query {
                from: b
                    .get_timestamp()
                    .map(|t| t.to_unix().0 as i64 * 1000 + i64::from(t.to_unix().1 / 1_000_000)),
                ..Default::default()
            })
            .expect("search");
        assert_eq!(later.len(), 1, "{later:?}");
        // A phase after the row was written is a row of its own, in the same timeline.
        j.record(span(
            &a,
            false,
            "smsgate.callback",
            &[("smsgate.kind", "dlr"), ("smsgate.outcome", "ok")],
        ));
        wait_written(&j, 5);
        let t = j.timeline(&a.to_string()).expect("read").expect("found");
        assert_eq!(t.events.last().map(|e| e.phase.as_str()), Some("callback"));
        assert_eq!(
            t.events.last().map(|e| e.attrs["outcome"].clone()),
            Some("ok".into())
        );
        assert_eq!(
            t.events
                .iter()
                .map(|e| e.phase.as_str())
                .collect::<Vec<_>>(),
            ["accept", "submit", "receipt", "callback"]
        );
        assert_eq!(t.message.expect("row").user, "foo");
        assert!(j
            .timeline(&Uuid::now_v7().to_string())
            .expect("read")
            .is_none());
        assert!(j
            .search(&Query {
                direction: Some("x".into()),
                ..Default::default()
            })
            .is_err());
    }

    #[test]
    fn the_oldest_messages_beyond_the_limit_are_pruned() {
        let dir = tempfile::tempdir().expect("tmp");
        let cfg = JournalConfig {
            max_messages: 10,
            ..Default::default()
        };
        let j = Journal::open(&cfg, dir.path()).expect("open");
        // Three batches of ten (whole batches go: the oldest first).
        let ids: Vec<Uuid> = (0..30).map(|_| Uuid::now_v7()).collect();
        for (i, id) in ids.iter().enumerate() {
            if i % 10 == 0 {
                std::thread::sleep(writer::TICK + writer::HOLD + Duration::from_millis(200));
            }
            j.record(span(id, true, "smsgate.accept", &[("smsgate.user", "u")]));
        }
        wait_written(&j, 30);
        // The writer prunes at once when that far beyond the limit.
        let t = Instant::now();
        let left = loop {
            let left = j
                .search(&Query {
                    limit: Some(100),
                    ..Default::default()
                })
                .expect("search");
            let last_in = left.iter().any(|s| s.id == ids[29].to_string());
            if (left.len() == 10 && last_in) || t.elapsed() > Duration::from_secs(10) {
                break left;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(left.len(), 10);
        let mut kept: Vec<String> = left.iter().map(|s| s.id.clone()).collect();
        let mut newest: Vec<String> = ids[20..].iter().map(|i| i.to_string()).collect();
        kept.sort();
        newest.sort();
        assert_eq!(kept, newest, "the oldest went first");
        let conn = Connection::open(dir.path().join("journal.db")).expect("open");
        // Everything is older than a retention in the future.
        let left = writer::prune(
            &conn,
            &writer::Limits {
                retention_ms: -1000,
                max_messages: 10,
            },
        )
        .expect("prune");
        assert_eq!(left, 0);
        assert!(j.search(&Query::default()).expect("search").is_empty());
    }
}
