//! From what a client sent to the octets of each `submit_sm`: read the content, encode it into
//! the requested data coding, split it into parts. See `docs/content.md`.
//!
//! How `content` is read (HTTP API):
//! - **raw** (default, Jasmin 0.11.1's `send.py`): coding 0 (the default) is UTF-8 text,
//!   encoded into what coding 0 means to the routed connector (its `default_alphabet`, GSM
//!   03.38 unpacked by default); bytes that are not UTF-8 are read as Latin-1 (Jasmin answers
//!   500). Every other coding: the bytes as they are (coding 8: UTF-16BE, as in the spec's
//!   UCS2 example).
//! - **utf8** (per-user option `content_encoding = "utf8"`): UTF-8 text, encoded into the coding.
//!   Without a `coding`, GSM 03.38 is chosen when every character fits, else UCS2.
//! - `hex-content`: the octets exactly, for any coding.
//!
//! Text that the chosen alphabet cannot represent is handled per the user's
//! [`Unrepresentable`] policy: `?` (Jasmin's default), refused, or transliterated.
//!
//! Splitting (per part, UDH or SAR): 160/153 GSM septets, 140/134 octets, 70/67 UCS2 units;
//! an escape sequence or a surrogate pair is never split.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::OnceLock;

use crate::charset::{self, Charset, Utf16Error};
use crate::{gsm, translit};
use smsgate_core::config::{ContentEncoding, DefaultAlphabet, Unrepresentable};
use smsgate_core::model::{Part, Tlv};

/// Why content cannot be sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContentError {
    /// A character the coding's alphabet does not have.
    #[error("character {ch:?} (U+{code:04X}) at position {index} cannot be represented in {alphabet}", code = u32::from(*ch))]
    Unrepresentable {
        /// The character.
        ch: char,
        /// Its position, in characters.
        index: usize,
        /// The alphabet's name.
        alphabet: &'static str,
    },
    /// UCS2 octets in an odd number.
    #[error("UCS2 content must have an even number of bytes")]
    OddUcs2,
    /// UCS2 text with a surrogate missing its other half.
    #[error("UCS2 content is not valid UTF-16 (lone surrogate at unit {unit})")]
    InvalidUtf16 {
        /// Index of the 16-bit unit.
        unit: usize,
    },
    /// A UTF-8 user's content is not UTF-8.
    #[error("UTF-8 content is not valid UTF-8")]
    InvalidUtf8,
    /// Text for a coding the gateway has no encoder for (send `hex-content` instead).
    #[error("coding {coding} ({name}) has no text encoder here: send hex-content", name = charset::coding_name(*coding).unwrap_or("unknown"))]
    NoTextEncoder {
        /// The data coding.
        coding: u8,
    },
    /// More parts than `long_content_max_parts`.
    #[error("{needed} parts needed, more than long_content_max_parts ({max})")]
    TooManyParts {
        /// Parts the content needs.
        needed: usize,
        /// The limit.
        max: usize,
    },
}

impl From<Utf16Error> for ContentError {
    fn from(e: Utf16Error) -> Self {
        match e {
            Utf16Error::OddLength => ContentError::OddUcs2,
            Utf16Error::LoneSurrogate(unit) => ContentError::InvalidUtf16 { unit },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Content read from a request, before the connector (and so coding 0's alphabet) is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// The data coding the message goes with.
    pub coding: u8,
    /// Text to encode, or octets to send as they are.
    pub body: Body,
}

/// What [`Read`] carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Text the gateway encodes into the coding once the connector is known.
    Text(String),
    /// Octets sent as they are; `text` is their meaning, when they have one (for filters).
    Octets {
        /// The octets.
        bytes: Vec<u8>,
        /// Their text, if the coding has a text meaning.
        text: Option<String>,
    },
}

impl Read {
    /// The text, for routing filters (`None` for binary content).
    #[must_use]
    pub fn text(&self) -> Option<&str> {
        match &self.body {
            Body::Text(t) => Some(t),
            Body::Octets { text, .. } => text.as_deref(),
        }
    }
}

/// Read `content` bytes as the user's `content_encoding` says, for `coding` (or the default).
///
/// # Errors
/// Invalid UTF-8 (utf8 users), odd or invalid UTF-16 (coding 8), or a coding without a text
/// encoder given UTF-8 text.
pub fn read_text(
    bytes: &[u8],
    encoding: ContentEncoding,
    coding: Option<u8>,
    policy: Unrepresentable,
) -> Result<Read, ContentError> {
    match encoding {
        ContentEncoding::Raw => {
            let coding = coding.unwrap_or(0);
            let body = match coding {
                0 => Body::Text(match std::str::from_utf8(bytes) {
                    Ok(t) => t.to_string(),
                    Err(_) => charset::decode_latin1(bytes),
                }),
                1 => Body::Octets {
                    bytes: bytes.to_vec(),
                    text: Some(charset::decode_latin1(bytes)),
                },
                8 => {
                    let text = charset::decode_ucs2(bytes)?;
                    Body::Octets {
                        bytes: bytes.to_vec(),
                        text: Some(text),
                    }
                }
                3 | 6 | 7 => {
                    let cs = Charset::for_coding(coding, DefaultAlphabet::Gsm0338);
                    Body::Octets {
                        bytes: bytes.to_vec(),
                        text: cs.map(|cs| cs.decode(bytes)),
                    }
                }
                _ => Body::Octets {
                    bytes: bytes.to_vec(),
                    text: None,
                },
            };
            Ok(Read { coding, body })
        }
        ContentEncoding::Utf8 => {
            let text = std::str::from_utf8(bytes).map_err(|_| ContentError::InvalidUtf8)?;
            let transliterate = policy == Unrepresentable::Transliterate;
            let coding = coding.unwrap_or(if transliterate || gsm::is_representable(text) {
                0
            } else {
                8
            });
            let body = match coding {
                0 | 1 | 3 | 6 | 7 | 8 => Body::Text(text.to_string()),
                2 | 4 => Body::Octets {
                    bytes: bytes.to_vec(),
                    text: Some(text.to_string()),
                },
                _ => return Err(ContentError::NoTextEncoder { coding }),
            };
            Ok(Read { coding, body })
        }
    }
}

/// Read `hex-content` octets (already hex-decoded), sent byte for byte.
///
/// # Errors
/// An odd number of octets for coding 8.
pub fn read_binary(bytes: Vec<u8>, coding: Option<u8>) -> Result<Read, ContentError> {
    let coding = coding.unwrap_or(0);
    if coding == 8 && !bytes.len().is_multiple_of(2) {
        return Err(ContentError::OddUcs2);
    }
    Ok(Read {
        coding,
        body: Body::Octets { bytes, text: None },
    })
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// The payload before splitting: its octets and how they are counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// GSM 03.38 septets (one per octet), sent unpacked or packed. 160/153 septets; an escape
    /// sequence is never split.
    Septets {
        /// Unpacked septets.
        septets: Vec<u8>,
        /// Pack them 7-bit on the wire.
        packed: bool,
    },
    /// One octet per character of a 7-bit alphabet the SMSC converts to GSM 03.38 on the air
    /// (IA5/ASCII, or Latin-1 as a connector's default alphabet): 160/153 septets, where the
    /// characters of the GSM extension table (`^ { } \ [ ~ ] |`, form feed) count two.
    Text7(Vec<u8>),
    /// UCS2 / UTF-16BE octets: 140/134 octets (70/67 units); a surrogate pair is never split.
    Ucs2(Vec<u8>),
    /// Octets of an 8-bit coding (Latin-1, Cyrillic, Hebrew, binary, ...): 140/134.
    Octets(Vec<u8>),
}

/// Encode what was read for a connector whose `data_coding 0` is `alphabet`.
///
/// # Errors
/// [`ContentError::Unrepresentable`] for the first character the coding cannot carry (when
/// `policy` refuses), [`ContentError::NoTextEncoder`] for text in a coding without one.
pub fn encode(
    read: Read,
    alphabet: DefaultAlphabet,
    policy: Unrepresentable,
) -> Result<Payload, ContentError> {
    let coding = read.coding;
    match read.body {
        Body::Text(text) => {
            let cs = Charset::for_coding(coding, alphabet)
                .ok_or(ContentError::NoTextEncoder { coding })?;
            let bytes = encode_with(cs, &text, policy)?;
            Ok(match (coding, cs) {
                (_, Charset::Gsm) => Payload::Septets {
                    septets: bytes,
                    packed: alphabet == DefaultAlphabet::Gsm0338Packed,
                },
                (0 | 1, _) => Payload::Text7(bytes),
                (_, Charset::Ucs2) => Payload::Ucs2(bytes),
                _ => Payload::Octets(bytes),
            })
        }
        Body::Octets { bytes, .. } => Ok(match coding {
            0 => match alphabet {
                DefaultAlphabet::Gsm0338 => Payload::Septets {
                    septets: bytes,
                    packed: false,
                },
                // Already packed by the client: octets are all that can be counted.
                DefaultAlphabet::Gsm0338Packed => Payload::Octets(bytes),
                DefaultAlphabet::Latin1 | DefaultAlphabet::Ascii => Payload::Text7(bytes),
            },
            1 => Payload::Text7(bytes),
            8 => Payload::Ucs2(bytes),
            _ => Payload::Octets(bytes),
        }),
    }
}

/// Encode text into `cs`; what it cannot represent is handled as `policy` says.
///
/// # Errors
/// The first character `cs` cannot represent, when `policy` refuses (or transliteration left
/// one).
pub fn encode_with(
    cs: Charset,
    text: &str,
    policy: Unrepresentable,
) -> Result<Vec<u8>, ContentError> {
    match cs.encode(text) {
        Ok(b) => Ok(b),
        Err(e) => {
            let e = match policy {
                Unrepresentable::Replace => return Ok(cs.encode_replacing(text)),
                Unrepresentable::Transliterate => {
                    match cs.encode(&translit::transliterate(text, cs)) {
                        Ok(b) => return Ok(b),
                        Err(e) => e,
                    }
                }
                Unrepresentable::Refuse => e,
            };
            Err(ContentError::Unrepresentable {
                ch: e.ch,
                index: e.index,
                alphabet: cs.name(),
            })
        }
    }
}

/// Encode text into what `data_coding 0` means on a connector (no transliteration).
///
/// # Errors
/// The first character the alphabet cannot represent.
pub fn encode_default(text: &str, alphabet: DefaultAlphabet) -> Result<Payload, ContentError> {
    encode(
        Read {
            coding: 0,
            body: Body::Text(text.to_string()),
        },
        alphabet,
        Unrepresentable::Refuse,
    )
}

/// Text → ISO-8859-1 octets.
///
/// # Errors
/// The first character above U+00FF.
pub fn encode_latin1(text: &str) -> Result<Vec<u8>, ContentError> {
    encode_with(Charset::Latin1, text, Unrepresentable::Refuse)
}

pub use charset::{decode_latin1, encode_ucs2};

// ---------------------------------------------------------------------------------------------
// Splitting
// ---------------------------------------------------------------------------------------------

pub use smsgate_core::config::SplitMethod;

/// The most parts a concatenated message can have (8-bit counts).
pub const MAX_PARTS: usize = 255;
/// The concatenation UDH: length 5, IEI 0x00 (8-bit reference), IE length 3, then ref, total,
/// sequence number.
pub const UDH_LEN: usize = 6;
/// Fill bits between a 6-octet UDH and packed septets (48 bits → the next septet boundary).
const UDH_FILL_BITS: u8 = 1;

/// (single-message limit, per-part limit) of a payload, in its units (septets or octets).
#[must_use]
pub fn limits(payload: &Payload) -> (usize, usize) {
    match payload {
        Payload::Septets { .. } | Payload::Text7(_) => (160, 153),
        Payload::Ucs2(_) | Payload::Octets(_) => (140, 134),
    }
}

impl Payload {
    /// The octets (unpacked septets for GSM).
    #[must_use]
    pub fn data(&self) -> &[u8] {
        match self {
            Payload::Septets { septets, .. } => septets,
            Payload::Text7(b) | Payload::Ucs2(b) | Payload::Octets(b) => b,
        }
    }

    /// Size in the units of [`limits`]: septets (extension characters of [`Payload::Text7`]
    /// count two) or octets.
    #[must_use]
    pub fn units(&self) -> usize {
        match self {
            Payload::Text7(b) => {
                b.len() + b.iter().filter(|&&c| gsm::is_extension_octet(c)).count()
            }
            other => other.data().len(),
        }
    }

    /// Where the part starting at `start` ends (exclusive): as many units as fit in `max`,
    /// without splitting an escape sequence or a surrogate pair.
    fn part_end(&self, start: usize, max: usize) -> usize {
        let data = self.data();
        let n = data.len();
        match self {
            Payload::Septets { .. } => {
                let end = (start + max).min(n);
                if end < n {
                    // An odd run of ESC at the end means the last one opens an escape sequence.
                    let run = data[start..end]
                        .iter()
                        .rev()
                        .take_while(|&&s| s == 0x1B)
                        .count();
                    if run % 2 == 1 {
                        return end - 1;
                    }
                }
                end
            }
            Payload::Text7(b) => {
                let mut weight = 0;
                let mut i = start;
                while i < n {
                    let w = 1 + usize::from(gsm::is_extension_octet(b[i]));
                    if weight + w > max {
                        break;
                    }
                    weight += w;
                    i += 1;
                }
                i
            }
            Payload::Ucs2(b) => {
                let end = (start + max).min(n);
                if end < n && end >= start + 2 && (0xD8..0xDC).contains(&b[end - 2]) {
                    // The part would end on a high surrogate: keep the pair together.
                    return end - 2;
                }
                end
            }
            Payload::Octets(_) => (start + max).min(n),
        }
    }
}

/// How many `submit_sm` the payload takes (what `/rate` reports as `submit_sm_count`).
#[must_use]
pub fn count_parts(payload: &Payload) -> usize {
    let (single, per_part) = limits(payload);
    if payload.units() <= single {
        return 1;
    }
    let n = payload.data().len();
    let (mut start, mut count) = (0, 0);
    while start < n {
        start = payload.part_end(start, per_part);
        count += 1;
    }
    count
}

/// Split a payload into `submit_sm` parts (one part when it fits), with a reference number from
/// a gateway-wide counter. Prefer [`split_with_reference`] with [`next_reference`].
///
/// # Errors
/// [`ContentError::TooManyParts`] over `max_parts` (or 255).
pub fn split(
    payload: &Payload,
    method: SplitMethod,
    max_parts: usize,
) -> Result<Vec<Part>, ContentError> {
    split_with_reference(payload, method, max_parts, next_reference(""))
}

/// Split a payload into `submit_sm` parts; every part of a long message carries `reference`
/// (its low 8 bits in a UDH).
///
/// # Errors
/// [`ContentError::TooManyParts`] over `max_parts` (or 255).
pub fn split_with_reference(
    payload: &Payload,
    method: SplitMethod,
    max_parts: usize,
    reference: u16,
) -> Result<Vec<Part>, ContentError> {
    let total = count_parts(payload);
    if total == 1 {
        let data = payload.data();
        let short_message = match payload {
            Payload::Septets { packed: true, .. } => {
                let mut sm = Vec::with_capacity((7 * data.len()).div_ceil(8));
                pack_padded(&mut sm, data, 0);
                sm
            }
            _ => data.to_vec(),
        };
        return Ok(vec![Part {
            short_message,
            esm_class: 0,
            tlvs: vec![],
        }]);
    }
    let max = max_parts.min(MAX_PARTS);
    if total > max {
        return Err(ContentError::TooManyParts { needed: total, max });
    }
    let (_, per_part) = limits(payload);
    let data = payload.data();
    let mut parts = Vec::with_capacity(total);
    let mut start = 0;
    for seq in 1..=total {
        let end = payload.part_end(start, per_part);
        let chunk = &data[start..end];
        start = end;
        let udh = method == SplitMethod::Udh;
        let body_len = match payload {
            Payload::Septets { packed: true, .. } => {
                (usize::from(if udh { UDH_FILL_BITS } else { 0 }) + 7 * chunk.len()).div_ceil(8)
            }
            _ => chunk.len(),
        };
        let mut sm = Vec::with_capacity(if udh { UDH_LEN } else { 0 } + body_len);
        // `total` and `seq` are at most 255 (checked above).
        let (total8, seq8) = (total as u8, seq as u8);
        if udh {
            sm.extend_from_slice(&[0x05, 0x00, 0x03, reference as u8, total8, seq8]);
        }
        match payload {
            Payload::Septets { packed: true, .. } => {
                pack_padded(&mut sm, chunk, if udh { UDH_FILL_BITS } else { 0 });
            }
            _ => sm.extend_from_slice(chunk),
        }
        parts.push(if udh {
            Part {
                short_message: sm,
                esm_class: 0x40,
                tlvs: vec![],
            }
        } else {
            Part {
                short_message: sm,
                esm_class: 0,
                tlvs: sar_tlvs(reference, total8, seq8),
            }
        });
    }
    Ok(parts)
}

/// Pack septets; when the last octet has 7 spare bits, they carry CR, as 3GPP TS 23.038
/// requires (a receiver would otherwise read one more septet, '@').
fn pack_padded(out: &mut Vec<u8>, septets: &[u8], fill: u8) {
    gsm::pack_into(out, septets, fill);
    if (usize::from(fill) + 7 * septets.len()) % 8 == 1 {
        if let Some(last) = out.last_mut() {
            *last |= 0x0D << 1;
        }
    }
}

fn sar_tlvs(reference: u16, total: u8, seq: u8) -> Vec<Tlv> {
    vec![
        Tlv {
            tag: 0x020C,
            value: reference.to_be_bytes().to_vec(),
        },
        Tlv {
            tag: 0x020E,
            value: vec![total],
        },
        Tlv {
            tag: 0x020F,
            value: vec![seq],
        },
    ]
}

/// Reference-number counters, one per hash slot of the destination.
const REF_SLOTS: usize = 1024;
static REFS: [AtomicU16; REF_SLOTS] = [const { AtomicU16::new(0) }; REF_SLOTS];
static REF_SEED: OnceLock<u16> = OnceLock::new();

/// The next concatenation reference for a long message to `destination`: consecutive long
/// messages to one destination get consecutive references (distinct for 256 messages in a row,
/// as the 8-bit UDH reference needs), starting from a random point at each start of the
/// gateway.
#[must_use]
pub fn next_reference(destination: &str) -> u16 {
    // FNV-1a: small and good enough to spread destinations over the slots.
    let mut h: u32 = 0x811C_9DC5;
    for b in destination.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    let slot = &REFS[h as usize % REF_SLOTS];
    let seed = *REF_SEED.get_or_init(rand::random::<u16>);
    slot.fetch_add(1, Ordering::Relaxed)
        .wrapping_add(seed)
        .wrapping_add(h as u16)
}

#[cfg(test)]
#[path = "content_tests.rs"]
mod tests;
