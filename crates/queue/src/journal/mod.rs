//! The message journal: every phase of every message (accepted, each submit attempt and the
//! SMSC's answer, failure, receipt, each callback, MO), kept for a retention so the
//! management API can find a message and show its timeline.
//!
//! The journal is a [`trace::Sink`]: it reads the same spans the OpenTelemetry traces are
//! made of. On the hot path a span is only packed ([`codec`]) into a buffer shared by every
//! thread, allocating nothing (the buffer is bounded: when the writer falls behind, spans are
//! dropped and counted, messages are never slowed). A thread of its own ([`writer`]) takes
//! the buffer every tick and writes it to a SQLite file of its own (`journal.db`), or to
//! PostgreSQL shared by a cluster's nodes ([`store`]), without fsync: the journal is a
//! diagnostic record, not the messages' durability (which is the queue's); a crash of the
//! machine may lose its last seconds.
//!
//! What is written is batches: one row per tick of the writer holding the records packed in
//! it ([`codec`]: a message with the phases seen in its first moments, or a later phase),
//! indexed by the time of its messages; later phases are also indexed by message id. A
//! message is found from its id (a UUIDv7: its time says which batches to read), a search
//! reads the batches of its time range, newest first. Batches older than the retention, and
//! the oldest beyond `max_messages`, are deleted every minute.

pub mod codec;
#[cfg(feature = "cluster")]
mod pg;
pub mod store;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;
use serde::Serialize;
use smsgate_core::config::JournalConfig;
use smsgate_core::trace::{self, Value};
use uuid::Uuid;

use codec::{Phase, Record};

/// Bytes of packed spans waiting for the writer at most (some 50,000 spans); beyond, spans
/// are dropped (and counted).
const PENDING_MAX: usize = 16 << 20;
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

/// The spans packed since the writer last took them: entries of a `u32` length, the
/// message id, a `u32` summary length ([`NO_SUMMARY`] for a later phase), then the packed
/// summary (a message's first phase only) and phase ([`codec`]).
#[derive(Default)]
pub(crate) struct Pending {
    pub(crate) buf: Vec<u8>,
    pub(crate) spans: u64,
}

/// The summary length of a span that is not a message's first.
pub(crate) const NO_SUMMARY: u32 = u32::MAX;

/// What the hot path and the writer share.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) pending: Mutex<Pending>,
    /// The journal is gone: the writer writes what is left and stops.
    pub(crate) closed: std::sync::atomic::AtomicBool,
}

/// The journal: a sink for spans and a reader of what was written.
pub struct Journal {
    shared: Arc<Shared>,
    dropped: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
    reader: Mutex<Box<dyn store::Store>>,
    /// Where it is kept (its file, or `postgres`).
    place: String,
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
    }
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("place", &self.place)
            .finish()
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
    /// The node that recorded it (a cluster's journal, `cluster.node_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
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
        let writer = store::Sqlite::writer(&path).map_err(|e| err(&e))?;
        let reader = store::Sqlite::reader(&path).map_err(|e| err(&e))?;
        Self::start(
            cfg,
            Box::new(writer),
            Box::new(reader),
            path.display().to_string(),
        )
        .map_err(|e| err(&e))
    }

    /// Open (or create) the journal in PostgreSQL at `url`, shared by the nodes of a
    /// cluster (this one is `node`), and start its writer thread; `rt` runs its calls.
    #[cfg(feature = "cluster")]
    pub fn open_postgres(
        cfg: &JournalConfig,
        url: &str,
        node: &str,
        rt: tokio::runtime::Handle,
    ) -> Result<Arc<Journal>, JournalError> {
        let err = |e: &dyn std::fmt::Display| JournalError::Open("postgres".into(), e.to_string());
        let writer = pg::Pg::connect(rt.clone(), url, node).map_err(|e| err(&e))?;
        let reader = pg::Pg::connect(rt, url, node).map_err(|e| err(&e))?;
        Self::start(cfg, Box::new(writer), Box::new(reader), "postgres".into()).map_err(|e| err(&e))
    }

    fn start(
        cfg: &JournalConfig,
        writer: Box<dyn store::Store>,
        reader: Box<dyn store::Store>,
        place: String,
    ) -> std::io::Result<Arc<Journal>> {
        let shared = Arc::new(Shared::default());
        let written = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let limits = store::Limits {
            retention_ms: (cfg.retention_hours as i64).saturating_mul(3_600_000),
            max_messages: cfg.max_messages,
        };
        let (w, l, from) = (written.clone(), dropped.clone(), shared.clone());
        std::thread::Builder::new()
            .name("smsgate-journal".into())
            .spawn(move || writer::run(writer, &from, limits, w, l))?;
        Ok(Arc::new(Journal {
            shared,
            dropped,
            written,
            reader: Mutex::new(reader),
            place,
        }))
    }

    /// Spans dropped because the writer was behind or could not write.
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
        let mut guard = self.reader.lock();
        let st = guard.as_mut();
        if let Some(id) = &q.id {
            let Ok(id) = Uuid::parse_str(id.trim()) else {
                return Ok(vec![]);
            };
            return Ok(find(st, &id)?.into_iter().collect());
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
        st.scan(from, to, &mut |last, data| {
            if found.len() >= limit {
                // Batches are in time order (within a hold): none older can be in the top.
                found.sort_by_key(|m| std::cmp::Reverse((m.at, m.id)));
                found.truncate(limit);
                if found.last().is_some_and(|m| last < m.at - SEARCH_SLACK_MS) {
                    return false;
                }
            }
            for (_, rec) in codec::records(data) {
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
            true
        })?;
        found.sort_by_key(|m| std::cmp::Reverse((m.at, m.id)));
        found.truncate(limit);
        found
            .into_iter()
            .map(|m| {
                let later = later(st, &m.id)?;
                Ok(summary(m, &later))
            })
            .collect()
    }

    /// Message `id`'s timeline; None if the journal has nothing of it.
    pub fn timeline(&self, id: &str) -> Result<Option<Timeline>, JournalError> {
        let Ok(id) = Uuid::parse_str(id.trim()) else {
            return Ok(None);
        };
        let mut guard = self.reader.lock();
        let first = first_record(guard.as_mut(), &id)?;
        let later = later(guard.as_mut(), id.as_bytes())?;
        if first.is_none() && later.is_empty() {
            return Ok(None);
        }
        let mut events: Vec<Event> = first
            .as_ref()
            .map(|(m, node)| m.phases.iter().map(|p| event(p, node.as_ref())).collect())
            .unwrap_or_default();
        events.extend(later.iter().map(|(p, node)| event(p, node.as_ref())));
        events.sort_by_key(|e| e.start);
        Ok(Some(Timeline {
            message: first.map(|(m, _)| summary(m, &later)),
            events,
        }))
    }
}

impl trace::Sink for Journal {
    fn record(&self, span: trace::Span<'_>) {
        let name = span.name.strip_prefix("smsgate.").unwrap_or(span.name);
        let (start, end) = (ms(span.start), ms(span.end));
        let mut p = self.shared.pending.lock();
        if p.buf.len() >= PENDING_MAX {
            drop(p);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let buf = &mut p.buf;
        let at = buf.len();
        buf.extend_from_slice(&[0; 4]);
        buf.extend_from_slice(span.id.as_bytes());
        buf.extend_from_slice(&NO_SUMMARY.to_le_bytes());
        let body = buf.len();
        if span.root {
            let a = span.attrs;
            let mo = name == "mo";
            codec::put_summary(
                buf,
                mo,
                start,
                if mo { "" } else { a.text("smsgate.user") },
                a.text("smsgate.source"),
                a.text("smsgate.destination"),
                a.text("smsgate.connector"),
            );
            let summary = (buf.len() - body) as u32;
            buf[body - 4..body].copy_from_slice(&summary.to_le_bytes());
        }
        codec::put_phase(buf, name, start, end, span.attrs.iter());
        let len = (buf.len() - at - 4) as u32;
        buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
        p.spans += 1;
    }
}

/// The time in a UUIDv7 (ms since the epoch).
fn id_time(id: &Uuid) -> Option<i64> {
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    Some(secs as i64 * 1000 + i64::from(nanos / 1_000_000))
}

/// The record of message `id` (with its first phases) and the node that wrote it, from the
/// batches of its time.
fn first_record(
    st: &mut dyn store::Store,
    id: &Uuid,
) -> Result<Option<(codec::MessageRec, Option<String>)>, JournalError> {
    let Some(t) = id_time(id) else {
        return Ok(None);
    };
    let mut found = None;
    st.around(t, &mut |node, data| {
        for (rid, rec) in codec::records(data) {
            if rid == *id.as_bytes() {
                if let Some(Record::Message(m)) = codec::decode(rec) {
                    found = Some((m, node.map(str::to_string)));
                    return false;
                }
            }
        }
        true
    })?;
    Ok(found)
}

/// The later phases of message `id`, in the order they were written, with the node that
/// wrote each.
fn later(
    st: &mut dyn store::Store,
    id: &[u8; 16],
) -> Result<Vec<(Phase, Option<String>)>, JournalError> {
    let mut out = vec![];
    st.later(id, &mut |node, data| {
        for (rid, rec) in codec::records(data) {
            if rid == *id {
                if let Some(Record::Later(_, p)) = codec::decode(rec) {
                    out.push((p, node.map(str::to_string)));
                }
            }
        }
    })?;
    Ok(out)
}

fn find(st: &mut dyn store::Store, id: &Uuid) -> Result<Option<Summary>, JournalError> {
    let Some((m, _)) = first_record(st, id)? else {
        return Ok(None);
    };
    let later = later(st, id.as_bytes())?;
    Ok(Some(summary(m, &later)))
}

fn event(p: &Phase, node: Option<&String>) -> Event {
    Event {
        node: node.cloned(),
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

fn summary(m: codec::MessageRec, later: &[(Phase, Option<String>)]) -> Summary {
    let mut phases: Vec<&Phase> = m
        .phases
        .iter()
        .chain(later.iter().map(|(p, _)| p))
        .collect();
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
    use std::time::{Duration, Instant};

    /// Record a span of `attrs` on `j`, as the gateway does.
    fn span(
        j: &Journal,
        id: &Uuid,
        root: bool,
        name: &'static str,
        attrs: &[(&'static str, &str)],
    ) {
        let now = SystemTime::now();
        let mut a = trace::Attrs::default();
        for (k, v) in attrs {
            a.str(k, v);
        }
        j.record(Span {
            id,
            root,
            name,
            kind: Kind::Internal,
            start: now,
            end: now,
            attrs: &a,
        });
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
        span(
            &j,
            &a,
            true,
            "smsgate.accept",
            &[
                ("smsgate.user", "foo"),
                ("smsgate.destination", "33612"),
                ("smsgate.connector", "sim"),
            ],
        );
        span(
            &j,
            &a,
            false,
            "smsgate.submit",
            &[("smsgate.outcome", "ESME_ROK")],
        );
        span(
            &j,
            &a,
            false,
            "smsgate.receipt",
            &[("smsgate.stat", "DELIVRD")],
        );
        std::thread::sleep(Duration::from_millis(3));
        let b = Uuid::now_v7();
        span(
            &j,
            &b,
            true,
            "smsgate.accept",
            &[
                ("smsgate.user", "bar"),
                ("smsgate.destination", "44700"),
                ("smsgate.connector", "sim"),
            ],
        );
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
        span(
            &j,
            &a,
            false,
            "smsgate.callback",
            &[("smsgate.kind", "dlr"), ("smsgate.outcome", "ok")],
        );
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
            span(&j, id, true, "smsgate.accept", &[("smsgate.user", "u")]);
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
        let mut conn = store::Sqlite::writer(&dir.path().join("journal.db")).expect("open");
        // Everything is older than a retention in the future.
        let left = store::Store::prune(
            &mut conn,
            &store::Limits {
                retention_ms: -1000,
                max_messages: 10,
            },
        )
        .expect("prune");
        assert_eq!(left, 0);
        assert!(j.search(&Query::default()).expect("search").is_empty());
    }
}
