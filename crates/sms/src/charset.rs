//! The data codings of SMPP (spec table 16) and the character sets behind those that carry text.
//!
//! | data_coding | meaning | here |
//! | --- | --- | --- |
//! | 0 | SMSC default alphabet | what the connector's `default_alphabet` says (GSM 03.38 by default) |
//! | 1 | IA5 / ASCII | [`Charset::Ascii`] |
//! | 2, 4 | octet unspecified (binary) | passed through |
//! | 3 | Latin-1 (ISO-8859-1) | [`Charset::Latin1`] |
//! | 5, 9, 10, 13, 14 | JIS, pictogram, ISO-2022-JP, JIS X 0212, KS C 5601 | passed through (no encoder) |
//! | 6 | Cyrillic (ISO-8859-5) | [`Charset::Cyrillic`] (tables from `encoding_rs`) |
//! | 7 | Latin/Hebrew (ISO-8859-8) | [`Charset::Hebrew`] (tables from `encoding_rs`) |
//! | 8 | UCS2 (UTF-16BE here) | [`Charset::Ucs2`] |

use crate::gsm;
use smsgate_core::config::DefaultAlphabet;

/// Every `data_coding` value of spec table 16, in order.
pub const TABLE_16: [u8; 13] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14];

/// Name of a table 16 data coding, `None` for values outside the table.
#[must_use]
pub fn coding_name(coding: u8) -> Option<&'static str> {
    Some(match coding {
        0 => "SMSC default alphabet",
        1 => "IA5/ASCII",
        2 | 4 => "octet unspecified (binary)",
        3 => "Latin-1 (ISO-8859-1)",
        5 => "JIS (X 0208-1990)",
        6 => "Cyrillic (ISO-8859-5)",
        7 => "Latin/Hebrew (ISO-8859-8)",
        8 => "UCS2",
        9 => "pictogram encoding",
        10 => "ISO-2022-JP (music codes)",
        13 => "extended Kanji JIS (X 0212-1990)",
        14 => "KS C 5601",
        _ => return None,
    })
}

/// A character set the gateway can encode text into and decode text from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    /// GSM 03.38 default alphabet with its extension table; bytes are unpacked septets.
    Gsm,
    /// IA5 / ASCII: 0x00..=0x7F.
    Ascii,
    /// ISO-8859-1: U+0000..=U+00FF, byte = code point.
    Latin1,
    /// ISO-8859-5.
    Cyrillic,
    /// ISO-8859-8.
    Hebrew,
    /// UCS2 as UTF-16BE (characters outside the BMP as surrogate pairs).
    Ucs2,
}

/// The first character that a character set cannot represent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unmappable {
    /// The character.
    pub ch: char,
    /// Its position in the text, in characters.
    pub index: usize,
}

impl Charset {
    /// The character set of a table 16 data coding, for a connector whose `data_coding 0` is
    /// `alphabet`. `None` for codings without a text meaning here (binary, JIS, ...).
    #[must_use]
    pub fn for_coding(coding: u8, alphabet: DefaultAlphabet) -> Option<Charset> {
        match coding {
            0 => Some(match alphabet {
                DefaultAlphabet::Gsm0338 | DefaultAlphabet::Gsm0338Packed => Charset::Gsm,
                DefaultAlphabet::Latin1 => Charset::Latin1,
                DefaultAlphabet::Ascii => Charset::Ascii,
            }),
            1 => Some(Charset::Ascii),
            3 => Some(Charset::Latin1),
            6 => Some(Charset::Cyrillic),
            7 => Some(Charset::Hebrew),
            8 => Some(Charset::Ucs2),
            _ => None,
        }
    }

    /// Human-readable name, used in error messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Charset::Gsm => "the GSM 03.38 alphabet",
            Charset::Ascii => "IA5/ASCII",
            Charset::Latin1 => "Latin-1 (ISO-8859-1)",
            Charset::Cyrillic => "Cyrillic (ISO-8859-5)",
            Charset::Hebrew => "Hebrew (ISO-8859-8)",
            Charset::Ucs2 => "UCS2",
        }
    }

    /// True if `c` can be represented.
    #[must_use]
    pub fn can_encode(self, c: char) -> bool {
        match self {
            Charset::Gsm => gsm::is_char_representable(c),
            Charset::Ascii => c.is_ascii(),
            Charset::Latin1 => u32::from(c) <= 0xFF,
            Charset::Cyrillic | Charset::Hebrew => {
                if c.is_ascii() {
                    return true;
                }
                let mut buf = [0u8; 4];
                let s = c.encode_utf8(&mut buf);
                let mut out = [0u8; 4];
                let mut encoder = self.encoding().new_encoder();
                let (r, _, _) = encoder.encode_from_utf8_without_replacement(s, &mut out, true);
                r == encoding_rs::EncoderResult::InputEmpty
            }
            Charset::Ucs2 => true,
        }
    }

    fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            Charset::Hebrew => encoding_rs::ISO_8859_8,
            _ => encoding_rs::ISO_8859_5,
        }
    }

    /// Encode `text`: unpacked septets for GSM, UTF-16BE for UCS2, one octet per character
    /// otherwise.
    ///
    /// # Errors
    /// The first character the set cannot represent.
    pub fn encode(self, text: &str) -> Result<Vec<u8>, Unmappable> {
        match self {
            Charset::Gsm => gsm::encode_unpacked(text).map_err(|e| Unmappable {
                ch: e.ch,
                index: e.index,
            }),
            Charset::Ascii => match text.bytes().position(|b| !b.is_ascii()) {
                None => Ok(text.as_bytes().to_vec()),
                Some(at) => Err(unmappable_at(text, at)),
            },
            Charset::Latin1 => {
                if text.is_ascii() {
                    return Ok(text.as_bytes().to_vec());
                }
                let mut out = Vec::with_capacity(text.len());
                for (index, ch) in text.chars().enumerate() {
                    match u8::try_from(u32::from(ch)) {
                        Ok(b) => out.push(b),
                        Err(_) => return Err(Unmappable { ch, index }),
                    }
                }
                Ok(out)
            }
            Charset::Cyrillic | Charset::Hebrew => {
                if text.is_ascii() {
                    return Ok(text.as_bytes().to_vec());
                }
                // Single-byte sets: never more octets than UTF-8 bytes.
                let mut out = Vec::with_capacity(text.len());
                let mut encoder = self.encoding().new_encoder();
                let (r, read) =
                    encoder.encode_from_utf8_to_vec_without_replacement(text, &mut out, true);
                match r {
                    encoding_rs::EncoderResult::Unmappable(ch) => {
                        let index = text[..read].chars().count().saturating_sub(1);
                        Err(Unmappable { ch, index })
                    }
                    _ => Ok(out),
                }
            }
            Charset::Ucs2 => Ok(encode_ucs2(text)),
        }
    }

    /// Encode `text`, replacing what the set cannot represent: for GSM 03.38 as Jasmin's
    /// `gsm0338` codec with `errors='replace'` does (its look-alikes, else `?`), for the other
    /// sets with `?`.
    #[must_use]
    pub fn encode_replacing(self, text: &str) -> Vec<u8> {
        if let Ok(b) = self.encode(text) {
            return b;
        }
        let replaced: String = text
            .chars()
            .map(|c| {
                if self.can_encode(c) {
                    c
                } else if self == Charset::Gsm {
                    gsm::jasmin_replacement(c).unwrap_or('?')
                } else {
                    '?'
                }
            })
            .collect();
        self.encode(&replaced).unwrap_or_default()
    }

    /// Decode octets of this set to text. Never fails: octets without a meaning become
    /// U+FFFD (ISO-8859-8 holes, a lone surrogate or odd trailing octet in UCS2); GSM decodes
    /// as [`gsm::decode_unpacked`] does.
    #[must_use]
    pub fn decode(self, bytes: &[u8]) -> String {
        match self {
            Charset::Gsm => gsm::decode_unpacked(bytes),
            Charset::Ascii => bytes
                .iter()
                .map(|&b| {
                    if b.is_ascii() {
                        char::from(b)
                    } else {
                        char::REPLACEMENT_CHARACTER
                    }
                })
                .collect(),
            Charset::Latin1 => decode_latin1(bytes),
            Charset::Cyrillic | Charset::Hebrew => self
                .encoding()
                .decode_without_bom_handling(bytes)
                .0
                .into_owned(),
            Charset::Ucs2 => decode_ucs2_lossy(bytes),
        }
    }
}

fn unmappable_at(text: &str, byte_at: usize) -> Unmappable {
    let index = text[..byte_at].chars().count();
    let ch = text[byte_at..]
        .chars()
        .next()
        .unwrap_or(char::REPLACEMENT_CHARACTER);
    Unmappable { ch, index }
}

/// ISO-8859-1 octets → text (every octet is the code point of the same value).
#[must_use]
pub fn decode_latin1(bytes: &[u8]) -> String {
    if bytes.is_ascii() {
        // ASCII is valid UTF-8 as is.
        return String::from_utf8_lossy(bytes).into_owned();
    }
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Text → UTF-16BE (surrogate pairs for characters outside the BMP).
#[must_use]
pub fn encode_ucs2(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    for u in text.encode_utf16() {
        out.extend_from_slice(&u.to_be_bytes());
    }
    out
}

/// Why UTF-16BE octets are not text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utf16Error {
    /// An odd number of octets.
    OddLength,
    /// A surrogate without its other half, at this 16-bit unit.
    LoneSurrogate(usize),
}

/// UTF-16BE → text, refusing odd lengths and lone surrogates.
///
/// # Errors
/// [`Utf16Error`] says what is wrong.
pub fn decode_ucs2(bytes: &[u8]) -> Result<String, Utf16Error> {
    if !bytes.len().is_multiple_of(2) {
        return Err(Utf16Error::OddLength);
    }
    let units = bytes
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]));
    let mut out = String::with_capacity(bytes.len());
    let mut unit = 0;
    for r in char::decode_utf16(units) {
        match r {
            Ok(c) => {
                out.push(c);
                unit += c.len_utf16();
            }
            Err(_) => return Err(Utf16Error::LoneSurrogate(unit)),
        }
    }
    Ok(out)
}

/// UTF-16BE → text; lone surrogates and an odd trailing octet become U+FFFD.
#[must_use]
pub fn decode_ucs2_lossy(bytes: &[u8]) -> String {
    let units = bytes
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]));
    let mut out: String = char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    if !bytes.len().is_multiple_of(2) {
        out.push(char::REPLACEMENT_CHARACTER);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codings_of_table_16() {
        for c in TABLE_16 {
            assert!(coding_name(c).is_some(), "{c}");
        }
        assert_eq!(coding_name(11), None);
        assert_eq!(coding_name(99), None);
        let a = DefaultAlphabet::Gsm0338;
        assert_eq!(Charset::for_coding(0, a), Some(Charset::Gsm));
        assert_eq!(
            Charset::for_coding(0, DefaultAlphabet::Latin1),
            Some(Charset::Latin1)
        );
        assert_eq!(Charset::for_coding(1, a), Some(Charset::Ascii));
        assert_eq!(Charset::for_coding(2, a), None);
        assert_eq!(Charset::for_coding(6, a), Some(Charset::Cyrillic));
        assert_eq!(Charset::for_coding(7, a), Some(Charset::Hebrew));
        assert_eq!(Charset::for_coding(8, a), Some(Charset::Ucs2));
        assert_eq!(Charset::for_coding(14, a), None);
    }

    #[test]
    fn spec_arabic_ucs2_vector() {
        let bytes = [0x06, 0x23, 0x06, 0x31, 0x06, 0x46, 0x06, 0x28];
        let text = decode_ucs2(&bytes).expect("valid");
        assert_eq!(text, "\u{0623}\u{0631}\u{0646}\u{0628}");
        assert_eq!(hex::encode(encode_ucs2(&text)), "0623063106460628");
        assert_eq!(Charset::Ucs2.encode(&text).expect("ucs2"), bytes);
    }

    #[test]
    fn ucs2_surrogates_and_errors() {
        assert_eq!(encode_ucs2("😀"), [0xD8, 0x3D, 0xDE, 0x00]);
        assert_eq!(decode_ucs2(&[0xD8, 0x3D, 0xDE, 0x00]).expect("pair"), "😀");
        assert_eq!(decode_ucs2(&[0, 0x41, 0]), Err(Utf16Error::OddLength));
        assert_eq!(
            decode_ucs2(&[0, 0x41, 0xD8, 0x3D, 0, 0x41]),
            Err(Utf16Error::LoneSurrogate(1))
        );
        assert_eq!(
            decode_ucs2_lossy(&[0xDE, 0x00, 0, 0x41, 0]),
            "\u{FFFD}A\u{FFFD}"
        );
    }

    #[test]
    fn single_byte_sets() {
        assert_eq!(Charset::Latin1.encode("café").expect("latin1"), b"caf\xE9");
        assert_eq!(
            Charset::Latin1.encode("ok €"),
            Err(Unmappable {
                ch: '€', index: 3
            })
        );
        assert_eq!(Charset::Latin1.decode(b"caf\xE9"), "café");
        assert_eq!(
            Charset::Ascii.encode("naïve"),
            Err(Unmappable { ch: 'ï', index: 2 })
        );
        // ISO-8859-5: 'П' U+041F is 0xBF, 'р' U+0440 is 0xE0.
        let cyr = Charset::Cyrillic.encode("Привет").expect("cyrillic");
        assert_eq!(cyr, [0xBF, 0xE0, 0xD8, 0xD2, 0xD5, 0xE2]);
        assert_eq!(Charset::Cyrillic.decode(&cyr), "Привет");
        assert_eq!(
            Charset::Cyrillic.encode("Привет é"),
            Err(Unmappable { ch: 'é', index: 7 })
        );
        // ISO-8859-8: 'ש' U+05E9 is 0xF9, 'ל' 0xEC, 'ו' 0xE5, 'ם' 0xED.
        let heb = Charset::Hebrew.encode("שלום").expect("hebrew");
        assert_eq!(heb, [0xF9, 0xEC, 0xE5, 0xED]);
        assert_eq!(Charset::Hebrew.decode(&heb), "שלום");
        assert!(Charset::Hebrew.can_encode('א'));
        assert!(!Charset::Hebrew.can_encode('Ж'));
        assert!(Charset::Cyrillic.can_encode('Ж'));
        assert!(Charset::Cyrillic.can_encode('a'));
        // A hole of ISO-8859-8 decodes to U+FFFD.
        assert_eq!(Charset::Hebrew.decode(&[0xA1]), "\u{FFFD}");
    }
}
