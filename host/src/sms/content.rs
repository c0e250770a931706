//! From what a client sent to the octets of each `submit_sm`.
//!
//! How `content` is read (HTTP API):
//! - **raw** (default, Jasmin's behaviour): the percent-decoded bytes are the text in the
//!   requested coding. Coding 0: Latin-1/ASCII text, re-encoded into what `data_coding 0`
//!   means to the routed connector (`default_alphabet`: GSM 03.38 unpacked by default). Coding 8:
//!   UTF-16BE bytes, as in the spec's UCS2 example. Other codings: bytes as they are.
//! - **utf8** (per-user option `content_encoding = "utf8"`): UTF-8 text. Without a `coding`, GSM
//!   03.38 is chosen when every character fits, else UCS2.
//! - `hex-content`: the octets exactly, for any coding.
//!
//! Text that the chosen alphabet cannot represent is refused (never silently turned into `?`).

use std::sync::atomic::{AtomicU16, Ordering};

use crate::config::DefaultAlphabet;
use crate::model::{Part, Tlv};
use crate::sms::gsm;

/// Why content cannot be sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContentError {
    #[error("character {ch:?} at position {index} cannot be represented in {alphabet}")]
    Unrepresentable {
        ch: char,
        index: usize,
        alphabet: &'static str,
    },
    #[error("UCS2 content must have an even number of bytes")]
    OddUcs2,
    #[error("UTF-8 content is not valid UTF-8")]
    InvalidUtf8,
    #[error("content needs {needed} parts, more than the {max} allowed")]
    TooManyParts { needed: usize, max: usize },
}

/// The payload before splitting: what data_coding it goes with and its units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// GSM 03.38 septets (one per octet), to be sent unpacked or packed.
    Septets { septets: Vec<u8>, packed: bool },
    /// UCS2 / UTF-16BE octets.
    Ucs2(Vec<u8>),
    /// Octets of an 8-bit coding (Latin-1, ASCII, binary, ...).
    Octets(Vec<u8>),
}

/// Encode text into what `data_coding 0` means on a connector.
pub fn encode_default(text: &str, alphabet: DefaultAlphabet) -> Result<Payload, ContentError> {
    match alphabet {
        DefaultAlphabet::Gsm0338 | DefaultAlphabet::Gsm0338Packed => {
            let septets =
                gsm::encode_unpacked(text).map_err(|e| ContentError::Unrepresentable {
                    ch: e.ch,
                    index: e.index,
                    alphabet: "the GSM 03.38 alphabet",
                })?;
            Ok(Payload::Septets {
                septets,
                packed: alphabet == DefaultAlphabet::Gsm0338Packed,
            })
        }
        DefaultAlphabet::Latin1 => encode_latin1(text).map(Payload::Octets),
        DefaultAlphabet::Ascii => {
            for (index, ch) in text.chars().enumerate() {
                if !ch.is_ascii() {
                    return Err(ContentError::Unrepresentable {
                        ch,
                        index,
                        alphabet: "ASCII",
                    });
                }
            }
            Ok(Payload::Octets(text.as_bytes().to_vec()))
        }
    }
}

/// Text → ISO-8859-1 octets.
pub fn encode_latin1(text: &str) -> Result<Vec<u8>, ContentError> {
    text.chars()
        .enumerate()
        .map(|(index, ch)| {
            u8::try_from(u32::from(ch)).map_err(|_| ContentError::Unrepresentable {
                ch,
                index,
                alphabet: "Latin-1",
            })
        })
        .collect()
}

/// ISO-8859-1 octets → text (every byte is a character).
pub fn decode_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Text → UTF-16BE.
pub fn encode_ucs2(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect()
}

static REF: AtomicU16 = AtomicU16::new(0);

/// How long content is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitMethod {
    /// 6-byte User Data Header with an 8-bit reference.
    Udh,
    /// sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs.
    Sar,
}

/// Split a payload into `submit_sm` parts (one part when it fits).
pub fn split(
    payload: &Payload,
    method: SplitMethod,
    max_parts: usize,
) -> Result<Vec<Part>, ContentError> {
    // (single-part limit, per-part limit) in units: septets, or octets.
    let (units, single, multi, unit_len): (usize, usize, usize, usize) = match payload {
        Payload::Septets { septets, .. } => (septets.len(), 160, 153, 1),
        Payload::Ucs2(b) => (b.len(), 140, 134, 2),
        Payload::Octets(b) => (b.len(), 140, 134, 1),
    };
    if units <= single {
        return Ok(vec![Part {
            short_message: finish(payload, 0, units, None),
            esm_class: 0,
            tlvs: vec![],
        }]);
    }
    // Chunk boundaries that never split an escape sequence or a surrogate pair.
    let mut bounds = vec![];
    let mut start = 0;
    while start < units {
        let mut end = (start + multi).min(units);
        match payload {
            Payload::Septets { septets, .. } if end < units && septets[end - 1] == 0x1B => end -= 1,
            Payload::Ucs2(b) if end < units && end >= 2 => {
                let hi = u16::from_be_bytes([b[end - 2], b[end - 1]]);
                if (0xD800..0xDC00).contains(&hi) {
                    end -= 2;
                }
            }
            _ => {}
        }
        if unit_len == 2 && end % 2 == 1 {
            end -= 1;
        }
        bounds.push((start, end));
        start = end;
    }
    if bounds.len() > max_parts || bounds.len() > 255 {
        return Err(ContentError::TooManyParts {
            needed: bounds.len(),
            max: max_parts.min(255),
        });
    }
    let total = bounds.len() as u8;
    let reference = REF.fetch_add(1, Ordering::Relaxed);
    Ok(bounds
        .into_iter()
        .enumerate()
        .map(|(i, (s, e))| {
            let seq = (i + 1) as u8;
            match method {
                SplitMethod::Udh => {
                    let udh = [0x05, 0x00, 0x03, reference as u8, total, seq];
                    Part {
                        short_message: finish(payload, s, e, Some(&udh)),
                        esm_class: 0x40,
                        tlvs: vec![],
                    }
                }
                SplitMethod::Sar => Part {
                    short_message: finish(payload, s, e, None),
                    esm_class: 0,
                    tlvs: vec![
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
                    ],
                },
            }
        })
        .collect())
}

fn finish(payload: &Payload, s: usize, e: usize, udh: Option<&[u8]>) -> Vec<u8> {
    let mut out = udh.map(|u| u.to_vec()).unwrap_or_default();
    match payload {
        Payload::Septets {
            septets,
            packed: false,
        } => out.extend_from_slice(&septets[s..e]),
        Payload::Septets {
            septets,
            packed: true,
        } => {
            // Septets after a UDH start on a septet boundary: fill bits pad the header.
            let pad = udh
                .map(|u| ((7 - (u.len() * 8) % 7) % 7) as u8)
                .unwrap_or(0);
            out.extend(gsm::pack(&septets[s..e], pad));
        }
        Payload::Ucs2(b) | Payload::Octets(b) => out.extend_from_slice(&b[s..e]),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_long_gsm() {
        let p = encode_default("hello", DefaultAlphabet::Gsm0338).expect("gsm");
        let parts = split(&p, SplitMethod::Udh, 5).expect("split");
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].short_message, b"hello");
        let long = "x".repeat(200);
        let p = encode_default(&long, DefaultAlphabet::Gsm0338).expect("gsm");
        let parts = split(&p, SplitMethod::Udh, 5).expect("split");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].short_message.len(), 6 + 153);
        assert_eq!(parts[0].esm_class, 0x40);
        assert_eq!(&parts[1].short_message[..3], &[5, 0, 3]);
        assert_eq!(parts[1].short_message[5], 2);
        assert!(split(
            &encode_default(&"x".repeat(1000), DefaultAlphabet::Gsm0338).expect("gsm"),
            SplitMethod::Udh,
            5
        )
        .is_err());
    }

    #[test]
    fn escape_never_split() {
        let text = format!("{}{}", "a".repeat(152), "{{{{{{{{{{");
        let p = encode_default(&text, DefaultAlphabet::Gsm0338).expect("gsm");
        let parts = split(&p, SplitMethod::Udh, 5).expect("split");
        assert_eq!(
            parts[0].short_message.len(),
            6 + 152,
            "ESC moved to the next part"
        );
    }

    #[test]
    fn unrepresentable() {
        let e = encode_default("hi ☃", DefaultAlphabet::Gsm0338).expect_err("snowman");
        assert!(matches!(
            e,
            ContentError::Unrepresentable {
                ch: '☃',
                index: 3,
                ..
            }
        ));
    }

    #[test]
    fn ucs2_surrogates_kept_together() {
        let text = format!("{}{}", "a".repeat(66), "😀".repeat(10));
        let parts = split(&Payload::Ucs2(encode_ucs2(&text)), SplitMethod::Sar, 5).expect("split");
        assert_eq!(parts[0].short_message.len(), 132);
        assert_eq!(parts[0].tlvs.len(), 3);
    }
}
