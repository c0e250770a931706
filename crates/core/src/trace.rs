//! Message traces (OpenTelemetry): one span per phase of a message's life, all of one
//! message in one trace whose id is the message's id.
//!
//! Built with the `otel` feature; without it every function here is a no-op that costs a
//! branch. With it, nothing is recorded until the binary [`install`]s a tracer (the
//! `[telemetry]` section names an OTLP collector), and then only for the sampled share of
//! messages (decided from the message id, so a message is traced in every phase or in none,
//! on every node of a cluster).
//!
//! The trace id is the message's UUID (128 bits, as a trace id). The first phase of a
//! message (`smsgate.accept` for an MT, `smsgate.mo` for an MO) is the trace's root span and
//! its span id is derived from the message id; every later phase, wherever it runs (another
//! task, another node, after a restart), is a child of that root without anything carried
//! along with the message.
//!
//! | span | when | attributes |
//! | --- | --- | --- |
//! | `smsgate.accept` | MT received → queued for its connector | user, connector, parts, destination |
//! | `smsgate.submit` | one attempt: taken from the queue → the SMSC's answer | connector, outcome, tries, smsc_id |
//! | `smsgate.failed` | the gateway gave the MT up (retries exhausted, expired, purged) | connector, status, reason |
//! | `smsgate.receipt` | the SMSC's receipt arrived | connector, stat, smsc_id |
//! | `smsgate.mo` | MO received → queued for its route | connector, routed_to, source |
//! | `smsgate.callback` | one HTTP callback (DLR or MO): sent → answered | kind, host, outcome |
//!
//! Numbers in attributes go through [`crate::privacy`], as in log lines; content is never
//! recorded.
//!
//! The same spans also go to every registered [`Sink`] (the gateway's message journal, which
//! the management API searches), sampled or not, traced or not: one instrumentation, two
//! readers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;
use uuid::Uuid;

/// A span's kind (OpenTelemetry's `SpanKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The gateway answering a client (accepting an MT or an MO).
    Server,
    /// The gateway calling out (an SMSC, a callback receiver).
    Client,
    /// The gateway handling something it received without answering it (a receipt).
    Consumer,
    /// Internal work.
    Internal,
}

/// An attribute's value, as the journal stores and reads it back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Value {
    Int(i64),
    Str(String),
}

/// An attribute's value as a [`Sink`] sees it (borrowed from the span's [`Attrs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRef<'a> {
    Int(i64),
    Str(&'a str),
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Int(i64),
    /// A range of [`Attrs::text`].
    Str(u32, u32),
}

/// The attributes of a span, filled only when the span is recorded. Strings are appended
/// to one buffer, and the buffers are reused from span to span on each thread: recording a
/// span allocates nothing once a thread has recorded a few.
#[derive(Debug, Default)]
pub struct Attrs {
    text: String,
    kv: Vec<(&'static str, Slot)>,
}

impl Attrs {
    /// Add a string attribute.
    pub fn str(&mut self, key: &'static str, value: impl AsRef<str>) -> &mut Self {
        let start = self.text.len();
        self.text.push_str(value.as_ref());
        self.push_text(key, start)
    }

    /// Add a string attribute written by `value`'s `Display` (no string built for it).
    pub fn fmt(&mut self, key: &'static str, value: impl std::fmt::Display) -> &mut Self {
        use std::fmt::Write as _;
        let start = self.text.len();
        let _ = write!(self.text, "{value}");
        self.push_text(key, start)
    }

    fn push_text(&mut self, key: &'static str, start: usize) -> &mut Self {
        self.kv
            .push((key, Slot::Str(start as u32, self.text.len() as u32)));
        self
    }

    /// Add an integer attribute.
    pub fn int(&mut self, key: &'static str, value: i64) -> &mut Self {
        self.kv.push((key, Slot::Int(value)));
        self
    }

    /// The attributes, in the order they were added.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&'static str, ValueRef<'_>)> + '_ {
        self.kv.iter().map(|(k, v)| {
            (
                *k,
                match *v {
                    Slot::Int(n) => ValueRef::Int(n),
                    Slot::Str(a, b) => {
                        ValueRef::Str(self.text.get(a as usize..b as usize).unwrap_or_default())
                    }
                },
            )
        })
    }

    /// The string attribute `key` ("" when absent or an integer).
    pub fn text(&self, key: &str) -> &str {
        self.iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| match v {
                ValueRef::Str(s) => Some(s),
                ValueRef::Int(_) => None,
            })
            .unwrap_or_default()
    }

    fn clear(&mut self) {
        if self.text.capacity() > 1 << 16 {
            // A huge attribute once (a long reason) is not kept for every later span.
            self.text = String::new();
        }
        self.text.clear();
        self.kv.clear();
    }
}

/// One phase of a message, as a [`Sink`] receives it.
#[derive(Debug)]
pub struct Span<'a> {
    /// The message.
    pub id: &'a Uuid,
    /// The message's first phase (`smsgate.accept`, `smsgate.mo`)?
    pub root: bool,
    pub name: &'static str,
    pub kind: Kind,
    pub start: SystemTime,
    pub end: SystemTime,
    /// The attributes (`smsgate.user`, ..., and OpenTelemetry's `server.address`).
    pub attrs: &'a Attrs,
}

/// A local reader of every message's phases (the message journal). `record` runs on the
/// hot path: it must hand the span over and return (never block, never do I/O).
pub trait Sink: Send + Sync {
    fn record(&self, span: Span<'_>);
}

static SINKS: parking_lot::RwLock<Vec<(u64, Arc<dyn Sink>)>> = parking_lot::RwLock::new(Vec::new());
static ANY_SINK: AtomicBool = AtomicBool::new(false);
static NEXT_SINK: AtomicU64 = AtomicU64::new(0);

/// A registered [`Sink`], unregistered when dropped.
#[derive(Debug)]
pub struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        let mut sinks = SINKS.write();
        sinks.retain(|(n, _)| *n != self.0);
        ANY_SINK.store(!sinks.is_empty(), Ordering::Release);
    }
}

/// Send every later span to `sink` too, until the returned registration is dropped.
pub fn register(sink: Arc<dyn Sink>) -> Registration {
    let n = NEXT_SINK.fetch_add(1, Ordering::Relaxed);
    let mut sinks = SINKS.write();
    sinks.push((n, sink));
    ANY_SINK.store(true, Ordering::Release);
    Registration(n)
}

/// Is a tracer installed or a sink registered (is a span recorded anywhere)?
pub fn enabled() -> bool {
    ANY_SINK.load(Ordering::Acquire) || otel_enabled()
}

fn otel_enabled() -> bool {
    #[cfg(feature = "otel")]
    return otel::TRACER.get().is_some();
    #[cfg(not(feature = "otel"))]
    false
}

/// The root span of message `id` (its first phase): `name` from `start` to `end`.
/// `attrs` runs only when the message is recorded.
pub fn root(
    id: &Uuid,
    name: &'static str,
    kind: Kind,
    start: SystemTime,
    end: SystemTime,
    attrs: impl FnOnce(&mut Attrs),
) {
    record(id, true, name, kind, start, end, attrs);
}

/// A later phase of message `id`: a child of its root span.
pub fn phase(
    id: &Uuid,
    name: &'static str,
    kind: Kind,
    start: SystemTime,
    end: SystemTime,
    attrs: impl FnOnce(&mut Attrs),
) {
    record(id, false, name, kind, start, end, attrs);
}

fn record(
    id: &Uuid,
    root: bool,
    name: &'static str,
    kind: Kind,
    start: SystemTime,
    end: SystemTime,
    attrs: impl FnOnce(&mut Attrs),
) {
    let local = ANY_SINK.load(Ordering::Acquire);
    #[cfg(feature = "otel")]
    let traced = otel::TRACER
        .get()
        .is_some_and(|(_, ratio)| sampled(id, *ratio));
    #[cfg(not(feature = "otel"))]
    let traced = false;
    if !local && !traced {
        return;
    }
    let emit = |a: &Attrs| {
        #[cfg(feature = "otel")]
        if traced {
            otel::record(id, root, name, kind, start, end, a);
        }
        if local {
            for (_, s) in SINKS.read().iter() {
                s.record(Span {
                    id,
                    root,
                    name,
                    kind,
                    start,
                    end,
                    attrs: a,
                });
            }
        }
    };
    // This thread's attribute buffers (a fresh one if a sink records a span of its own).
    ATTRS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut a) => {
            a.clear();
            attrs(&mut a);
            emit(&a);
        }
        Err(_) => {
            let mut a = Attrs::default();
            attrs(&mut a);
            emit(&a);
        }
    });
}

thread_local! {
    static ATTRS: std::cell::RefCell<Attrs> = std::cell::RefCell::new(Attrs::default());
}

/// A time in milliseconds since the epoch (the message model's timestamps) as a `SystemTime`.
pub fn from_ms(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64)
}

/// Is message `id` in the sampled share `ratio` (0 to 1)? Decided from a hash of the whole
/// id, so every phase and every node agrees. (A UUIDv7's low bits are not uniform: ids made
/// in the same millisecond share a counter there.)
pub fn sampled(id: &Uuid, ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 {
        return false;
    }
    let (hi, lo) = id.as_u64_pair();
    // splitmix64's finalizer: every bit of the id moves every bit of the result.
    let mut x = hi ^ lo.rotate_left(32);
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    (x as f64) < ratio * (u64::MAX as f64)
}

#[cfg(feature = "otel")]
pub use otel::{install, MessageIds};

#[cfg(feature = "otel")]
mod otel {
    use super::{Attrs, Kind, ValueRef};
    use opentelemetry::trace::{
        Span as _, SpanBuilder, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags,
        TraceId, TraceState,
    };
    use opentelemetry::Context;
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SdkTracer};
    use std::cell::Cell;
    use std::sync::OnceLock;
    use std::time::SystemTime;
    use uuid::Uuid;

    pub(super) static TRACER: OnceLock<(SdkTracer, f64)> = OnceLock::new();

    thread_local! {
        /// The ids the next span built on this thread gets (a message's root span).
        static NEXT: Cell<Option<(TraceId, SpanId)>> = const { Cell::new(None) };
    }

    /// Record spans with `tracer` (built on a provider using [`MessageIds`]) for the share
    /// `sample_ratio` of messages. Once per process; later calls are ignored.
    pub fn install(tracer: SdkTracer, sample_ratio: f64) {
        let _ = TRACER.set((tracer, sample_ratio.clamp(0.0, 1.0)));
    }

    /// The id generator the tracer provider must use: random ids, except for a message's
    /// root span, which gets the message's own.
    #[derive(Debug, Default)]
    pub struct MessageIds(RandomIdGenerator);

    impl IdGenerator for MessageIds {
        fn new_trace_id(&self) -> TraceId {
            match NEXT.with(|n| n.get()) {
                Some((t, _)) => t,
                None => self.0.new_trace_id(),
            }
        }

        fn new_span_id(&self) -> SpanId {
            match NEXT.with(|n| n.get()) {
                Some((_, s)) => s,
                None => self.0.new_span_id(),
            }
        }
    }

    /// The span id of message `id`'s root span: the id's low 64 bits (never zero).
    fn root_span_id(id: &Uuid) -> SpanId {
        let mut low = [0u8; 8];
        low.copy_from_slice(&id.as_bytes()[8..]);
        if low == [0; 8] {
            low[7] = 1;
        }
        SpanId::from_bytes(low)
    }

    pub(super) fn record(
        id: &Uuid,
        root: bool,
        name: &'static str,
        kind: Kind,
        start: SystemTime,
        end: SystemTime,
        attrs: &Attrs,
    ) {
        let Some((tracer, _)) = TRACER.get() else {
            return;
        };
        let mut kv = Vec::with_capacity(attrs.iter().len() + 1);
        kv.push(KeyValue::new("smsgate.message_id", id.to_string()));
        for (k, v) in attrs.iter() {
            kv.push(match v {
                ValueRef::Int(n) => KeyValue::new(k, n),
                ValueRef::Str(s) => KeyValue::new(k, s.to_string()),
            });
        }
        let builder = SpanBuilder::from_name(name)
            .with_kind(match kind {
                Kind::Server => SpanKind::Server,
                Kind::Client => SpanKind::Client,
                Kind::Consumer => SpanKind::Consumer,
                Kind::Internal => SpanKind::Internal,
            })
            .with_start_time(start.min(end))
            .with_attributes(kv);
        let trace_id = TraceId::from_bytes(*id.as_bytes());
        let mut span = if root {
            NEXT.with(|n| n.set(Some((trace_id, root_span_id(id)))));
            let span = builder.start_with_context(tracer, &Context::new());
            NEXT.with(|n| n.set(None));
            span
        } else {
            let parent = SpanContext::new(
                trace_id,
                root_span_id(id),
                TraceFlags::SAMPLED,
                true,
                TraceState::default(),
            );
            builder.start_with_context(tracer, &Context::new().with_remote_span_context(parent))
        };
        span.end_with_timestamp(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_follows_the_ratio_and_is_stable() {
        let ids: Vec<Uuid> = (0..20_000).map(|_| Uuid::now_v7()).collect();
        let half = ids.iter().filter(|i| sampled(i, 0.5)).count();
        assert!((9_000..11_000).contains(&half), "{half} of 20000 at 0.5");
        let tenth = ids.iter().filter(|i| sampled(i, 0.1)).count();
        assert!((1_500..2_500).contains(&tenth), "{tenth} of 20000 at 0.1");
        assert!(ids.iter().all(|i| sampled(i, 1.0)));
        assert!(!ids.iter().any(|i| sampled(i, 0.0)));
        // The same id gets the same answer every time (every phase, every node).
        assert!(ids.iter().all(|i| sampled(i, 0.5) == sampled(i, 0.5)));
        // A message sampled at 0.1 is sampled at 0.5 too (raising the ratio keeps traces).
        assert!(ids.iter().all(|i| !sampled(i, 0.1) || sampled(i, 0.5)));
    }
}
