//! The journal's records, packed: many to a batch (one SQLite row), read back whole.
//!
//! A record is `u32` length, a kind byte, the message id (16 bytes), then for a message
//! (kind 1): direction, user, source, destination, connector and its phases; for a later
//! phase (kind 2): the phase. A string is a `u16` length and its bytes (cut at 65,535); an
//! integer is 8 bytes little-endian. A phase's name and its attributes' keys are a string
//! or, for the gateway's own ([`WORDS`]), a `u16` of `0xFF00` + the word's index and no
//! bytes (no string is that long). Unknown kinds are skipped by their length, so a later
//! version can add some.

use smsgate_core::trace::{Value, ValueRef};

/// A phase as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub name: String,
    pub start: i64,
    pub end: i64,
    pub attrs: Vec<(String, Value)>,
}

/// A message as written: its summary and the phases seen before its row was written.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRec {
    pub id: [u8; 16],
    pub mo: bool,
    pub at: i64,
    pub user: String,
    pub src: String,
    pub dst: String,
    pub connector: String,
    pub phases: Vec<Phase>,
}

/// A record read back.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Message(MessageRec),
    Later([u8; 16], Phase),
}

const MESSAGE: u8 = 1;
const LATER: u8 = 2;

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_str_max(out, s, u16::MAX as usize);
}

/// A string of at most `max` bytes (cut on a character boundary).
fn put_str_max(out: &mut Vec<u8>, s: &str, max: usize) {
    let mut n = s.len().min(max);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    out.extend_from_slice(&(n as u16).to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..n]);
}

/// The phase names and attribute keys written as a code (never reorder: append).
const WORDS: [&str; 23] = [
    "accept",
    "submit",
    "receipt",
    "failed",
    "mo",
    "callback",
    "channel",
    "user",
    "connector",
    "parts",
    "source",
    "destination",
    "outcome",
    "tries",
    "parts_sent",
    "smsc_id",
    "status",
    "reason",
    "stat",
    "routed_to",
    "kind",
    "server.address",
    "try",
];
const WORD: u16 = 0xFF00;

/// A phase name or key: its code if it is one of [`WORDS`], else the string.
fn put_word(out: &mut Vec<u8>, w: &str) {
    match WORDS.iter().position(|x| *x == w) {
        Some(i) => out.extend_from_slice(&(WORD + i as u16).to_le_bytes()),
        // Shorter than the codes' lengths.
        None => put_str_max(out, w, WORD as usize - 1),
    }
}

fn put_i64(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(&n.to_le_bytes());
}

/// Append phase `name` of `start`..`end` with `attrs`.
pub fn put_phase<'k, 'v>(
    out: &mut Vec<u8>,
    name: &str,
    start: i64,
    end: i64,
    attrs: impl ExactSizeIterator<Item = (&'k str, ValueRef<'v>)>,
) {
    put_word(out, name);
    put_i64(out, start);
    put_i64(out, end);
    out.push(attrs.len().min(255) as u8);
    for (k, v) in attrs.take(255) {
        // smsgate's own attributes without their prefix (`user`, `outcome`).
        put_word(out, k.strip_prefix("smsgate.").unwrap_or(k));
        match v {
            ValueRef::Int(n) => {
                out.push(0);
                put_i64(out, n);
            }
            ValueRef::Str(s) => {
                out.push(1);
                put_str(out, s);
            }
        }
    }
}

/// Start a record of `kind` for `id`; returns where its length goes.
fn begin(out: &mut Vec<u8>, kind: u8, id: &[u8; 16]) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    out.push(kind);
    out.extend_from_slice(id);
    at
}

fn end(out: &mut [u8], at: usize) {
    let n = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&n.to_le_bytes());
}

/// Append a message's summary (what [`put_message`] takes as `summary`).
pub fn put_summary(
    out: &mut Vec<u8>,
    mo: bool,
    at: i64,
    user: &str,
    src: &str,
    dst: &str,
    connector: &str,
) {
    out.push(u8::from(mo));
    put_i64(out, at);
    for s in [user, src, dst, connector] {
        put_str(out, s);
    }
}

/// Append a message record: its packed summary ([`put_summary`]) and `count` packed phases
/// ([`put_phase`]), in `phases` then `more`.
pub fn put_message(
    out: &mut Vec<u8>,
    id: &[u8; 16],
    summary: &[u8],
    count: u8,
    phases: &[u8],
    more: &[u8],
) {
    let mark = begin(out, MESSAGE, id);
    out.extend_from_slice(summary);
    out.push(count);
    out.extend_from_slice(phases);
    out.extend_from_slice(more);
    end(out, mark);
}

/// Append a later phase of message `id`, packed ([`put_phase`]).
pub fn put_later(out: &mut Vec<u8>, id: &[u8; 16], phase: &[u8]) {
    let mark = begin(out, LATER, id);
    out.extend_from_slice(phase);
    end(out, mark);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn i64(&mut self) -> Option<i64> {
        self.take(8)?.try_into().ok().map(i64::from_le_bytes)
    }
    fn str(&mut self) -> Option<String> {
        let n = u16::from_le_bytes(self.take(2)?.try_into().ok()?) as usize;
        Some(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
    /// A phase name or key ([`put_word`]).
    fn word(&mut self) -> Option<String> {
        let n = u16::from_le_bytes(self.take(2)?.try_into().ok()?);
        if n >= WORD {
            return Some(WORDS.get((n - WORD) as usize).unwrap_or(&"?").to_string());
        }
        Some(String::from_utf8_lossy(self.take(n as usize)?).into_owned())
    }
    fn id(&mut self) -> Option<[u8; 16]> {
        self.take(16)?.try_into().ok()
    }
    fn phase(&mut self) -> Option<Phase> {
        let name = self.word()?;
        let start = self.i64()?;
        let end = self.i64()?;
        let n = self.u8()?;
        let mut attrs = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let k = self.word()?;
            let v = match self.u8()? {
                0 => Value::Int(self.i64()?),
                _ => Value::Str(self.str()?),
            };
            attrs.push((k, v));
        }
        Some(Phase {
            name,
            start,
            end,
            attrs,
        })
    }
}

/// The id of each record of `data` and its bytes, without decoding them.
pub fn records(data: &[u8]) -> impl Iterator<Item = ([u8; 16], &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let n = u32::from_le_bytes(rest[..4].try_into().ok()?) as usize;
        if rest.len() < 4 + n || n < 17 {
            return None;
        }
        let rec = &rest[4..4 + n];
        rest = &rest[4 + n..];
        let id: [u8; 16] = rec[1..17].try_into().ok()?;
        Some((id, rec))
    })
}

/// Decode one record (as [`records`] gives it); None if damaged or of an unknown kind.
pub fn decode(rec: &[u8]) -> Option<Record> {
    let mut r = Reader(rec);
    let kind = r.u8()?;
    let id = r.id()?;
    match kind {
        MESSAGE => {
            let mo = r.u8()? != 0;
            let at = r.i64()?;
            let (user, src, dst, connector) = (r.str()?, r.str()?, r.str()?, r.str()?);
            let n = r.u8()?;
            let phases = (0..n).map(|_| r.phase()).collect::<Option<Vec<_>>>()?;
            Some(Record::Message(MessageRec {
                id,
                mo,
                at,
                user,
                src,
                dst,
                connector,
                phases,
            }))
        }
        LATER => Some(Record::Later(id, r.phase()?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_as_written() {
        let id = [7u8; 16];
        let mut summary = vec![];
        put_summary(&mut summary, false, 10, "foo", "", "336\"12", "sim");
        let mut first = vec![];
        put_phase(
            &mut first,
            "accept",
            10,
            12,
            [("user", ValueRef::Str("foo")), ("parts", ValueRef::Int(2))].into_iter(),
        );
        let mut more = vec![];
        put_phase(
            &mut more,
            "submit",
            13,
            20,
            [
                ("outcome", ValueRef::Str("ESME_ROK")),
                ("a.key.of.a.plugin", ValueRef::Int(-1)),
            ]
            .into_iter(),
        );
        let mut out = vec![];
        put_message(&mut out, &id, &summary, 2, &first, &more);
        let mut p = vec![];
        put_phase(
            &mut p,
            "receipt",
            30,
            30,
            [("stat", ValueRef::Str("DELIVRD"))].into_iter(),
        );
        put_later(&mut out, &id, &p);
        let long = "é".repeat(40_000);
        let mut p = vec![];
        put_phase(
            &mut p,
            "callback",
            40,
            41,
            [("host", ValueRef::Str(&long))].into_iter(),
        );
        put_later(&mut out, &[1; 16], &p);
        let recs: Vec<Record> = records(&out).filter_map(|(_, r)| decode(r)).collect();
        assert_eq!(recs.len(), 3);
        let Record::Message(m) = &recs[0] else {
            panic!("{recs:?}")
        };
        assert_eq!((m.dst.as_str(), m.phases.len()), ("336\"12", 2));
        assert_eq!(m.phases[0].attrs[1], ("parts".to_string(), Value::Int(2)));
        assert_eq!(m.phases[1].name, "submit");
        assert_eq!(
            m.phases[1].attrs[1],
            ("a.key.of.a.plugin".to_string(), Value::Int(-1))
        );
        // Words are codes: "outcome" takes 2 bytes, not 9.
        assert!(!more.windows(7).any(|w| w == b"outcome"));
        assert!(matches!(&recs[1], Record::Later(i, p) if *i == id && p.name == "receipt"));
        // A string cut at 65,535 bytes is cut on a character boundary.
        let Record::Later(_, p) = &recs[2] else {
            panic!()
        };
        let Value::Str(h) = &p.attrs[0].1 else {
            panic!()
        };
        assert_eq!(h.len(), 65_534);
        // A damaged tail is where reading stops, not a panic.
        assert_eq!(records(&out[..out.len() - 3]).count(), 2);
    }
}
