//! Long MO messages: concatenation info from a UDH or SAR TLVs, a pure reassembly state, and
//! the text of a received `short_message` per `data_coding`. No I/O: the caller feeds parts
//! and the clock, and persists the (serde) state where it wants.
//!
//! ```text
//! deliver_sm ─▶ mo_part() ─▶ MoPart { concat, units } ─▶ Reassembler::accept()
//!                                                          ├─ Pending / Duplicate
//!                                                          └─ Complete ─▶ decode_units() ─▶ text
//! Reassembler::expire(now) ─▶ Incomplete (what arrived, what is missing)
//! ```

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::charset::Charset;
use crate::gsm;
use smsgate_core::config::DefaultAlphabet;
use smsgate_core::model::Tlv;

/// The esm_class bit saying `short_message` starts with a UDH.
pub const ESM_UDHI: u8 = 0x40;
/// sar_msg_ref_num.
pub const TAG_SAR_MSG_REF_NUM: u16 = 0x020C;
/// sar_total_segments.
pub const TAG_SAR_TOTAL_SEGMENTS: u16 = 0x020E;
/// sar_segment_seqnum.
pub const TAG_SAR_SEGMENT_SEQNUM: u16 = 0x020F;

/// Why a part cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReassemblyError {
    /// The UDH length octet points past the end of the short message.
    #[error("UDH of {udh} octets does not fit in a short message of {len}")]
    UdhOverrun {
        /// Octets the UDH claims (with its length octet).
        udh: usize,
        /// Octets of the short message.
        len: usize,
    },
    /// An information element runs past the end of the UDH.
    #[error("malformed UDH information element at octet {0}")]
    BadElement(usize),
    /// A sequence number of 0 or above the total.
    #[error("part {seq} of {total} is not a valid position")]
    BadSequence {
        /// Sequence number.
        seq: u8,
        /// Total parts.
        total: u8,
    },
}

/// Where a part belongs in a concatenated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Concat {
    /// Reference number shared by the parts (8 or 16 bits).
    pub reference: u16,
    /// Number of parts.
    pub total: u8,
    /// This part's position, from 1.
    pub seq: u8,
}

impl Concat {
    fn valid(total: u8, seq: u8) -> bool {
        total > 0 && seq > 0 && seq <= total
    }
}

/// A short message split into its UDH and its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserData<'a> {
    /// The UDH with its length octet (empty without UDHI).
    pub udh: &'a [u8],
    /// What follows the UDH.
    pub body: &'a [u8],
    /// Concatenation information element, if any (IEI 0x00 or 0x08).
    pub concat: Option<Concat>,
}

/// Split a short message that starts with a UDH (esm_class UDHI set) and find its
/// concatenation element among the others. Per 3GPP TS 23.040, an element with a sequence
/// number of 0 or above the total is ignored.
///
/// # Errors
/// A UDH longer than the message or an element running past the UDH.
pub fn parse_udh(short_message: &[u8]) -> Result<UserData<'_>, ReassemblyError> {
    let Some(&udhl) = short_message.first() else {
        return Ok(UserData {
            udh: &[],
            body: &[],
            concat: None,
        });
    };
    let udh_len = 1 + usize::from(udhl);
    if udh_len > short_message.len() {
        return Err(ReassemblyError::UdhOverrun {
            udh: udh_len,
            len: short_message.len(),
        });
    }
    let (udh, body) = short_message.split_at(udh_len);
    let mut concat = None;
    let mut i = 1;
    while i < udh.len() {
        let (iei, Some(&len)) = (udh[i], udh.get(i + 1)) else {
            return Err(ReassemblyError::BadElement(i));
        };
        let data = udh
            .get(i + 2..i + 2 + usize::from(len))
            .ok_or(ReassemblyError::BadElement(i))?;
        match (iei, data) {
            (0x00, &[r, total, seq]) if Concat::valid(total, seq) => {
                concat = Some(Concat {
                    reference: u16::from(r),
                    total,
                    seq,
                });
            }
            (0x08, &[r1, r2, total, seq]) if Concat::valid(total, seq) => {
                concat = Some(Concat {
                    reference: u16::from_be_bytes([r1, r2]),
                    total,
                    seq,
                });
            }
            _ => {}
        }
        i += 2 + usize::from(len);
    }
    Ok(UserData { udh, body, concat })
}

/// Concatenation from the SAR TLVs (all three needed; an invalid position is ignored).
#[must_use]
pub fn concat_from_sar(tlvs: &[Tlv]) -> Option<Concat> {
    let find = |tag: u16| {
        tlvs.iter()
            .find(|t| t.tag == tag)
            .map(|t| t.value.as_slice())
    };
    let reference = match find(TAG_SAR_MSG_REF_NUM)? {
        [a, b] => u16::from_be_bytes([*a, *b]),
        [a] => u16::from(*a),
        _ => return None,
    };
    let (&[total], &[seq]) = (find(TAG_SAR_TOTAL_SEGMENTS)?, find(TAG_SAR_SEGMENT_SEQNUM)?) else {
        return None;
    };
    Concat::valid(total, seq).then_some(Concat {
        reference,
        total,
        seq,
    })
}

/// How the octets of a `data_coding` are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// GSM 03.38 septets, packed 7-bit or one per octet.
    Gsm {
        /// Packed on the wire.
        packed: bool,
    },
    /// A character set.
    Charset(Charset),
    /// No text meaning (binary, compressed, or a coding without a decoder here).
    Binary,
}

/// What a `data_coding` means: table 16 (with coding 0 per the connector's `alphabet`), and
/// the GSM 03.38 coding groups SMSCs also use (general data coding 0x10-0x3F, message waiting
/// 0xC0-0xEF, data coding/message class 0xF0-0xFF).
#[must_use]
pub fn text_kind(data_coding: u8, alphabet: DefaultAlphabet) -> TextKind {
    let gsm = match alphabet {
        DefaultAlphabet::Gsm0338 => TextKind::Gsm { packed: false },
        DefaultAlphabet::Gsm0338Packed => TextKind::Gsm { packed: true },
        DefaultAlphabet::Latin1 => TextKind::Charset(Charset::Latin1),
        DefaultAlphabet::Ascii => TextKind::Charset(Charset::Ascii),
    };
    match data_coding {
        0 => gsm,
        1 => TextKind::Charset(Charset::Ascii),
        3 => TextKind::Charset(Charset::Latin1),
        6 => TextKind::Charset(Charset::Cyrillic),
        7 => TextKind::Charset(Charset::Hebrew),
        8 => TextKind::Charset(Charset::Ucs2),
        // General data coding: bit 5 compressed, bits 3-2 the alphabet.
        0x10..=0x3F if data_coding & 0x20 == 0 => match (data_coding >> 2) & 0x03 {
            0 => gsm,
            2 => TextKind::Charset(Charset::Ucs2),
            _ => TextKind::Binary,
        },
        0xC0..=0xDF => gsm,
        0xE0..=0xEF => TextKind::Charset(Charset::Ucs2),
        0xF0..=0xFF if data_coding & 0x04 == 0 => gsm,
        _ => TextKind::Binary,
    }
}

/// A received part, ready for reassembly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoPart {
    /// Concatenation, from the UDH or the SAR TLVs; `None` for a single message.
    pub concat: Option<Concat>,
    /// The body without UDH: unpacked septets for GSM, the octets otherwise.
    pub units: Vec<u8>,
}

/// Read a received `short_message` (deliver_sm / data_sm / submit_sm): strip a UDH when
/// `esm_class` says there is one, take concatenation from it or from the SAR TLVs, and unpack
/// packed GSM (with the fill bits after a UDH).
///
/// # Errors
/// A malformed UDH.
pub fn mo_part(
    data_coding: u8,
    esm_class: u8,
    short_message: &[u8],
    tlvs: &[Tlv],
    alphabet: DefaultAlphabet,
) -> Result<MoPart, ReassemblyError> {
    let ud = if esm_class & ESM_UDHI != 0 {
        parse_udh(short_message)?
    } else {
        UserData {
            udh: &[],
            body: short_message,
            concat: None,
        }
    };
    let concat = ud.concat.or_else(|| concat_from_sar(tlvs));
    let units = match text_kind(data_coding, alphabet) {
        TextKind::Gsm { packed: true } => {
            let fill = ((7 - (ud.udh.len() * 8) % 7) % 7) as u8;
            let bits = (ud.body.len() * 8).saturating_sub(usize::from(fill));
            let mut septets = gsm::unpack(ud.body, bits / 7, fill);
            // Seven spare bits at the end decode as one more septet: CR there is 3GPP TS
            // 23.038's padding; '@' is zero fill, taken as such only where a message ends
            // (a full middle part has no spare bits).
            let ends = concat.is_none_or(|c| c.seq == c.total);
            if bits % 7 == 0 {
                match septets.last() {
                    Some(0x0D) => {
                        septets.pop();
                    }
                    Some(0x00) if ends => {
                        septets.pop();
                    }
                    _ => {}
                }
            }
            septets
        }
        _ => ud.body.to_vec(),
    };
    Ok(MoPart { concat, units })
}

/// The text of units (as [`MoPart::units`], or several parts' units concatenated) per
/// `data_coding`; `None` when the coding has no text meaning.
#[must_use]
pub fn decode_units(data_coding: u8, units: &[u8], alphabet: DefaultAlphabet) -> Option<String> {
    match text_kind(data_coding, alphabet) {
        TextKind::Gsm { .. } => Some(gsm::decode_unpacked(units)),
        TextKind::Charset(cs) => Some(cs.decode(units)),
        TextKind::Binary => None,
    }
}

/// The text of one received short message (the MO `content` of a single-part message).
///
/// # Errors
/// A malformed UDH.
pub fn decode_short_message(
    data_coding: u8,
    esm_class: u8,
    short_message: &[u8],
    alphabet: DefaultAlphabet,
) -> Result<Option<String>, ReassemblyError> {
    let part = mo_part(data_coding, esm_class, short_message, &[], alphabet)?;
    Ok(decode_units(data_coding, &part.units, alphabet))
}

/// What identifies one concatenated message: origin (connector or SMPP user), source,
/// destination and reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Key {
    /// Where the parts come from (connector id, SMPP user).
    pub origin: String,
    /// source_addr.
    pub source: String,
    /// destination_addr.
    pub destination: String,
    /// The concatenation reference.
    pub reference: u16,
}

/// One arriving part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// Where it comes from (connector id, SMPP user).
    pub origin: String,
    /// source_addr.
    pub source: String,
    /// destination_addr.
    pub destination: String,
    /// Its concatenation information.
    pub concat: Concat,
    /// Its data_coding.
    pub data_coding: u8,
    /// Its units ([`MoPart::units`]).
    pub units: Vec<u8>,
    /// Arrival time, ms since the epoch.
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Slot {
    seq: u8,
    #[serde(with = "hex_units")]
    units: Vec<u8>,
}

/// A set still waiting for parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    total: u8,
    data_coding: u8,
    first_seen_ms: i64,
    /// Sorted by `seq`, no duplicates.
    slots: Vec<Slot>,
}

/// All parts arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complete {
    /// The message.
    pub key: Key,
    /// data_coding of the first part that arrived.
    pub data_coding: u8,
    /// Number of parts.
    pub total: u8,
    /// The parts' units, concatenated in order.
    pub units: Vec<u8>,
}

/// A set that will not complete (expired, removed or superseded): what arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete {
    /// The message.
    pub key: Key,
    /// data_coding of the first part that arrived.
    pub data_coding: u8,
    /// Number of parts announced.
    pub total: u8,
    /// Parts that arrived: (seq, units), in order.
    pub arrived: Vec<(u8, Vec<u8>)>,
    /// Sequence numbers that never arrived.
    pub missing: Vec<u8>,
    /// When the first part arrived (ms since the epoch).
    pub first_seen_ms: i64,
}

impl Incomplete {
    /// The arrived parts' units, concatenated in order.
    #[must_use]
    pub fn units(&self) -> Vec<u8> {
        self.arrived
            .iter()
            .flat_map(|(_, u)| u.iter().copied())
            .collect()
    }
}

/// What happened to an arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Stored, waiting for the others.
    Pending {
        /// Parts held.
        have: u8,
        /// Parts announced.
        total: u8,
    },
    /// That part was already held: ignored (the first copy is kept).
    Duplicate,
    /// Every part is here; the set is gone from the state.
    Complete(Complete),
}

/// The result of [`Reassembler::accept`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What happened to the part.
    pub status: Status,
    /// A set with the same key that the part replaced: it announced another total, or it was
    /// older than the maximum age (its reference is being reused).
    pub superseded: Option<Incomplete>,
}

/// Reassembly state: pending sets by key. Pure and serialisable; time comes from the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reassembler {
    /// A set older than this (from its first part) is expired.
    pub max_age_ms: i64,
    #[serde(with = "entries")]
    sets: HashMap<Key, Pending>,
}

impl Reassembler {
    /// An empty state; sets expire `max_age_ms` after their first part.
    #[must_use]
    pub fn new(max_age_ms: i64) -> Self {
        Reassembler {
            max_age_ms,
            sets: HashMap::new(),
        }
    }

    /// Number of pending sets.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// True without pending sets.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Take one part, in any order.
    ///
    /// # Errors
    /// A sequence number of 0 or above the total.
    pub fn accept(&mut self, a: Arrival) -> Result<Outcome, ReassemblyError> {
        let Concat {
            reference,
            total,
            seq,
        } = a.concat;
        if !Concat::valid(total, seq) {
            return Err(ReassemblyError::BadSequence { seq, total });
        }
        let key = Key {
            origin: a.origin,
            source: a.source,
            destination: a.destination,
            reference,
        };
        let mut superseded = None;
        if let Some(p) = self.sets.get(&key) {
            if p.total != total || a.at_ms - p.first_seen_ms > self.max_age_ms {
                superseded = self.remove(&key);
            }
        }
        let p = self.sets.entry(key.clone()).or_insert_with(|| Pending {
            total,
            data_coding: a.data_coding,
            first_seen_ms: a.at_ms,
            slots: Vec::with_capacity(usize::from(total)),
        });
        let status = match p.slots.binary_search_by_key(&seq, |s| s.seq) {
            Ok(_) => Status::Duplicate,
            Err(at) => {
                p.slots.insert(
                    at,
                    Slot {
                        seq,
                        units: a.units,
                    },
                );
                if p.slots.len() == usize::from(total) {
                    let p = self.sets.remove(&key).unwrap_or_else(|| Pending {
                        total,
                        data_coding: a.data_coding,
                        first_seen_ms: a.at_ms,
                        slots: vec![],
                    });
                    let len = p.slots.iter().map(|s| s.units.len()).sum();
                    let mut units = Vec::with_capacity(len);
                    for s in &p.slots {
                        units.extend_from_slice(&s.units);
                    }
                    Status::Complete(Complete {
                        key,
                        data_coding: p.data_coding,
                        total,
                        units,
                    })
                } else {
                    Status::Pending {
                        have: p.slots.len() as u8,
                        total,
                    }
                }
            }
        };
        Ok(Outcome { status, superseded })
    }

    /// Drop a pending set, returning what arrived.
    pub fn remove(&mut self, key: &Key) -> Option<Incomplete> {
        let p = self.sets.remove(key)?;
        Some(incomplete(key.clone(), p))
    }

    /// Remove every set whose first part is older than the maximum age at `now_ms`, oldest
    /// first, with what arrived.
    pub fn expire(&mut self, now_ms: i64) -> Vec<Incomplete> {
        let max_age = self.max_age_ms;
        let old: Vec<Key> = self
            .sets
            .iter()
            .filter(|(_, p)| now_ms - p.first_seen_ms > max_age)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out: Vec<Incomplete> = old.iter().filter_map(|k| self.remove(k)).collect();
        out.sort_by_key(|i| i.first_seen_ms);
        out
    }
}

fn incomplete(key: Key, p: Pending) -> Incomplete {
    let missing = (1..=p.total)
        .filter(|s| p.slots.binary_search_by_key(s, |x| x.seq).is_err())
        .collect();
    Incomplete {
        key,
        data_coding: p.data_coding,
        total: p.total,
        arrived: p.slots.into_iter().map(|s| (s.seq, s.units)).collect(),
        missing,
        first_seen_ms: p.first_seen_ms,
    }
}

/// Units as a hex string in JSON.
mod hex_units {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        hex::decode(s.as_bytes()).map_err(serde::de::Error::custom)
    }
}

/// A map with struct keys as a list of `[key, value]` pairs (JSON keys must be strings).
mod entries {
    use std::collections::HashMap;
    use std::hash::Hash;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        m: &HashMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }
    pub fn deserialize<'de, K, V, D>(d: D) -> Result<HashMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Eq + Hash,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        let v: Vec<(K, V)> = Vec::deserialize(d)?;
        Ok(v.into_iter().collect())
    }
}

#[cfg(test)]
#[path = "reassembly_tests.rs"]
mod tests;
