//! GSM 03.38 (3GPP TS 23.038) default alphabet support.
//!
//! This module converts between UTF-8 text and the 7-bit GSM default alphabet
//! (including the default extension table reached through the escape code
//! `0x1B`), packs and unpacks septets into octets as used in SMS user data,
//! and offers a best-effort transliteration for text that is not directly
//! representable.
//!
//! Everything here is allocation-light and table driven: ASCII characters are
//! resolved through a 128-entry lookup table computed at compile time, and the
//! remaining characters through a `match`.

use std::fmt;

/// The escape code that introduces a character of the extension table.
const ESC: u8 = 0x1B;

/// Marker in [`ASCII_LUT`] for characters that cannot be encoded.
const NO_CODE: u8 = 0xFF;

/// Flag bit marking a code as belonging to the extension table.
const EXT_FLAG: u8 = 0x80;

/// The 3GPP TS 23.038 default alphabet, indexed by septet value.
///
/// Index `0x1B` is the escape code; it is never produced by the encoder and is
/// handled specially by the decoder. The placeholder stored there is a space,
/// which is also what receivers display for an unusable escape.
const BASIC: [char; 128] = [
    // 0x00
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
    // 0x10
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É',
    // 0x20
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
    // 0x30
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
    // 0x40
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    // 0x50
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
    // 0x60
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    // 0x70
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
];

/// The default extension table: `(code after ESC, character)`.
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'), // form feed
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// Lookup table from ASCII code point to GSM code (`EXT_FLAG` set for
/// extension-table characters, `NO_CODE` for unrepresentable characters).
const ASCII_LUT: [u8; 128] = build_ascii_lut();

/// Builds [`ASCII_LUT`] from [`BASIC`] and [`EXTENSION`] at compile time.
const fn build_ascii_lut() -> [u8; 128] {
    let mut lut = [NO_CODE; 128];
    let mut i: u8 = 0;
    while (i as usize) < BASIC.len() {
        let c = BASIC[i as usize] as u32;
        if i != ESC && c < 128 {
            lut[c as usize] = i;
        }
        i += 1;
    }
    let mut j = 0;
    while j < EXTENSION.len() {
        let (code, ch) = EXTENSION[j];
        let c = ch as u32;
        if c < 128 {
            lut[c as usize] = code | EXT_FLAG;
        }
        j += 1;
    }
    lut
}

/// Returns the GSM code of `c`: the septet value, with `EXT_FLAG` set when the
/// character lives in the extension table. `None` if not representable.
#[inline]
fn gsm_code(c: char) -> Option<u8> {
    let cp = u32::from(c);
    if cp < 128 {
        // `cp < 128`, so the index is in bounds.
        let code = ASCII_LUT[cp as usize];
        return if code == NO_CODE { None } else { Some(code) };
    }
    let code = match c {
        '£' => 0x01,
        '¥' => 0x03,
        'è' => 0x04,
        'é' => 0x05,
        'ù' => 0x06,
        'ì' => 0x07,
        'ò' => 0x08,
        'Ç' => 0x09,
        'Ø' => 0x0B,
        'ø' => 0x0C,
        'Å' => 0x0E,
        'å' => 0x0F,
        'Δ' => 0x10,
        'Φ' => 0x12,
        'Γ' => 0x13,
        'Λ' => 0x14,
        'Ω' => 0x15,
        'Π' => 0x16,
        'Ψ' => 0x17,
        'Σ' => 0x18,
        'Θ' => 0x19,
        'Ξ' => 0x1A,
        'Æ' => 0x1C,
        'æ' => 0x1D,
        'ß' => 0x1E,
        'É' => 0x1F,
        '¤' => 0x24,
        '¡' => 0x40,
        'Ä' => 0x5B,
        'Ö' => 0x5C,
        'Ñ' => 0x5D,
        'Ü' => 0x5E,
        '§' => 0x5F,
        '¿' => 0x60,
        'ä' => 0x7B,
        'ö' => 0x7C,
        'ñ' => 0x7D,
        'ü' => 0x7E,
        'à' => 0x7F,
        '€' => 0x65 | EXT_FLAG,
        _ => return None,
    };
    Some(code)
}

/// Returns the character of the extension table at `code`, if defined.
#[inline]
fn extension_char(code: u8) -> Option<char> {
    match code {
        0x0A => Some('\u{0C}'),
        0x14 => Some('^'),
        0x28 => Some('{'),
        0x29 => Some('}'),
        0x2F => Some('\\'),
        0x3C => Some('['),
        0x3D => Some('~'),
        0x3E => Some(']'),
        0x40 => Some('|'),
        0x65 => Some('€'),
        _ => None,
    }
}

/// Returns the character of the basic table at `septet` (masked to 7 bits).
#[inline]
fn basic_char(septet: u8) -> char {
    BASIC[usize::from(septet & 0x7F)]
}

/// Error for text that the GSM 03.38 default alphabet (with its extension table) cannot represent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrepresentable {
    /// The first character that cannot be represented.
    pub ch: char,
    /// Index of that character in the input, counted in `char`s (not bytes).
    pub index: usize,
}

impl fmt::Display for Unrepresentable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "character {:?} (U+{:04X}) at index {} is not representable in the GSM 03.38 alphabet",
            self.ch,
            u32::from(self.ch),
            self.index
        )
    }
}

impl std::error::Error for Unrepresentable {}

/// Encode UTF-8 text into unpacked GSM 03.38 septets (one septet per octet, values 0..=0x7F);
/// characters of the extension table (e.g. `{ } [ ] ~ \ ^ | €` and form feed) become ESC (0x1B) + code.
///
/// # Errors
///
/// Returns [`Unrepresentable`] describing the first character (and its char
/// index) that neither the basic nor the extension table contains. The escape
/// control character U+001B itself is not representable.
pub fn encode_unpacked(text: &str) -> Result<Vec<u8>, Unrepresentable> {
    let bytes = text.as_bytes();
    // Room for a few extension characters without growing.
    let mut out = Vec::with_capacity(text.len() + 16);
    let (mut at, mut index) = (0, 0);
    while let Some(&b) = bytes.get(at) {
        // ASCII straight from the table; other characters decoded from UTF-8.
        let (code, ch, len) = if b < 0x80 {
            (ASCII_LUT[usize::from(b)], char::from(b), 1)
        } else {
            let ch = text[at..]
                .chars()
                .next()
                .unwrap_or(char::REPLACEMENT_CHARACTER);
            (gsm_code(ch).unwrap_or(NO_CODE), ch, ch.len_utf8())
        };
        if code == NO_CODE {
            return Err(Unrepresentable { ch, index });
        }
        if code & EXT_FLAG != 0 {
            out.extend_from_slice(&[ESC, code & 0x7F]);
        } else {
            out.push(code);
        }
        at += len;
        index += 1;
    }
    Ok(out)
}

/// The replacement Jasmin's `gsm0338` codec (python-messaging's `GSM_REPLACE_CHARSET`) uses
/// for a character outside GSM 03.38 in `errors='replace'` mode, when it has one (`ç` and the
/// Greek capitals that look like Latin letters); `?` is used otherwise.
#[must_use]
pub fn jasmin_replacement(c: char) -> Option<char> {
    Some(match c {
        'ç' => 'Ç',
        'Α' => 'A',
        'Β' => 'B',
        'Ε' => 'E',
        'Η' => 'H',
        'Ι' => 'I',
        'Κ' => 'K',
        'Μ' => 'M',
        'Ν' => 'N',
        'Ο' => 'O',
        'Ρ' => 'P',
        'Τ' => 'T',
        'Χ' => 'X',
        'Υ' => 'Y',
        'Ζ' => 'Z',
        _ => return None,
    })
}

/// True if every char is representable.
#[must_use]
pub fn is_representable(text: &str) -> bool {
    text.chars().all(|c| gsm_code(c).is_some())
}

/// True if the single character `c` is representable (basic or extension table).
#[must_use]
#[inline]
pub fn is_char_representable(c: char) -> bool {
    gsm_code(c).is_some()
}

/// True if the ASCII/Latin-1 octet `b` is a character of the extension table (form feed,
/// `^ { } \ [ ~ ] |`): such a character takes two septets over the air.
#[must_use]
#[inline]
pub fn is_extension_octet(b: u8) -> bool {
    b < 0x80 && ASCII_LUT[usize::from(b)] != NO_CODE && ASCII_LUT[usize::from(b)] & EXT_FLAG != 0
}

/// Number of septets `text` takes (extension chars count 2); None if unrepresentable.
#[must_use]
pub fn septet_len(text: &str) -> Option<usize> {
    text.chars().try_fold(0usize, |acc, c| {
        let code = gsm_code(c)?;
        Some(acc + if code & EXT_FLAG != 0 { 2 } else { 1 })
    })
}

/// Decode unpacked septets to a String. Unknown escape sequences decode as the base table char of the
/// following septet per 3GPP 23.038 (an ESC followed by an undefined code yields the character from the
/// basic table for that code); a trailing lone ESC decodes to a space; bytes > 0x7F are masked with 0x7F.
///
/// The sequence ESC ESC (reserved for a further extension table) decodes to a
/// single space, as the specification requires of receivers.
#[must_use]
pub fn decode_unpacked(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut iter = septets.iter().map(|b| b & 0x7F);
    while let Some(s) = iter.next() {
        if s != ESC {
            out.push(basic_char(s));
            continue;
        }
        match iter.next() {
            None | Some(ESC) => out.push(' '),
            Some(next) => out.push(extension_char(next).unwrap_or_else(|| basic_char(next))),
        }
    }
    out
}

/// Pack septets 7-bit into octets (3GPP 23.038 packing, LSB first), given `padding_bits` (0..=6) leading fill bits
/// (used after a UDH). Returns the packed octets.
///
/// Each septet is masked to 7 bits. The result has
/// `ceil((padding_bits + 7 * septets.len()) / 8)` octets; fill bits are zero.
/// Larger `padding_bits` values do not panic and are simply treated as that
/// many leading zero bits.
#[must_use]
pub fn pack(septets: &[u8], padding_bits: u8) -> Vec<u8> {
    let mut out = Vec::new();
    pack_into(&mut out, septets, padding_bits);
    out
}

/// [`pack`], appending the packed octets to `out` (no allocation beyond `out`'s growth).
pub fn pack_into(out: &mut Vec<u8>, septets: &[u8], padding_bits: u8) {
    let pad = usize::from(padding_bits);
    let base = out.len();
    let total_bits = pad + 7 * septets.len();
    out.resize(base + total_bits.div_ceil(8), 0);
    let out = &mut out[base..];
    // Accumulate bits LSB first; flush whole octets.
    let mut acc: u32 = 0;
    let mut bits = pad % 8;
    let mut at = pad / 8;
    for &s in septets {
        acc |= u32::from(s & 0x7F) << bits;
        bits += 7;
        if bits >= 8 {
            if let Some(o) = out.get_mut(at) {
                *o = acc as u8;
            }
            at += 1;
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        if let Some(o) = out.get_mut(at) {
            *o = acc as u8;
        }
    }
}

/// Inverse of pack: `septet_count` septets from packed octets with `padding_bits` leading fill bits.
///
/// If `octets` holds fewer than `septet_count` complete septets, only the
/// complete ones are returned (the function never panics on short input).
#[must_use]
pub fn unpack(octets: &[u8], septet_count: usize, padding_bits: u8) -> Vec<u8> {
    let pad = usize::from(padding_bits);
    let available = (octets.len() * 8).saturating_sub(pad) / 7;
    let count = septet_count.min(available);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let bit = pad + 7 * i;
        let byte = bit / 8;
        let shift = bit % 8;
        let lo = octets.get(byte).copied().unwrap_or(0);
        let hi = octets.get(byte + 1).copied().unwrap_or(0);
        let word = u16::from(lo) | (u16::from(hi) << 8);
        out.push(((word >> shift) & 0x7F) as u8);
    }
    out
}

/// Replacement for a character that is not directly representable, or `None`
/// if no transliteration is known.
pub(crate) fn transliteration_of(c: char) -> Option<&'static str> {
    let s = match c {
        // Latin letters with diacritics lose them; Greek capitals that look
        // like Latin letters become those letters.
        'á' | 'â' | 'ã' | 'ā' | 'ă' | 'ą' | 'ǎ' => "a",
        'Á' | 'À' | 'Â' | 'Ã' | 'Ā' | 'Ă' | 'Ą' | 'Ǎ' | 'Α' => "A",
        'Β' => "B",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' | '\u{A2}' => "c",
        'Ć' | 'Ĉ' | 'Ċ' | 'Č' => "C",
        'ď' | 'đ' | 'ð' => "d",
        'Ď' | 'Đ' | 'Ð' => "D",
        'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'È' | 'Ê' | 'Ë' | 'Ē' | 'Ĕ' | 'Ė' | 'Ę' | 'Ě' | 'Ε' => "E",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'Ĝ' | 'Ğ' | 'Ġ' | 'Ģ' => "G",
        'ĥ' | 'ħ' => "h",
        'Ĥ' | 'Ħ' | 'Η' => "H",
        'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' | 'ǐ' => "i",
        'Í' | 'Ì' | 'Î' | 'Ï' | 'Ĩ' | 'Ī' | 'Ĭ' | 'Į' | 'İ' | 'Ǐ' | 'Ι' => "I",
        'ĵ' => "j",
        'Ĵ' => "J",
        'ķ' => "k",
        'Ķ' | 'Κ' => "K",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'Ĺ' | 'Ļ' | 'Ľ' | 'Ŀ' | 'Ł' => "L",
        'Μ' => "M",
        'ń' | 'ņ' | 'ň' => "n",
        'Ń' | 'Ņ' | 'Ň' | 'Ν' => "N",
        'ó' | 'ô' | 'õ' | 'ō' | 'ŏ' | 'ő' | 'ǒ' => "o",
        'Ó' | 'Ò' | 'Ô' | 'Õ' | 'Ō' | 'Ŏ' | 'Ő' | 'Ǒ' | 'Ο' => "O",
        'Ρ' => "P",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'Ŕ' | 'Ŗ' | 'Ř' => "R",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
        'Ś' | 'Ŝ' | 'Ş' | 'Š' | 'Ș' => "S",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'Ţ' | 'Ť' | 'Ŧ' | 'Ț' | 'Τ' => "T",
        'ú' | 'û' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' | 'ǔ' => "u",
        'Ú' | 'Ù' | 'Û' | 'Ũ' | 'Ū' | 'Ŭ' | 'Ů' | 'Ű' | 'Ų' | 'Ǔ' => "U",
        'ŵ' => "w",
        'Ŵ' => "W",
        'Χ' | '\u{D7}' => "x",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'Ý' | 'Ÿ' | 'Ŷ' | 'Υ' => "Y",
        'ź' | 'ż' | 'ž' => "z",
        'Ź' | 'Ż' | 'Ž' | 'Ζ' => "Z",
        'œ' => "oe",
        'Œ' => "OE",
        'ĳ' => "ij",
        'Ĳ' => "IJ",
        'þ' => "th",
        'Þ' => "Th",
        'ẞ' => "SS",
        '\u{2126}' => "Ω", // OHM SIGN
        '\u{2206}' => "Δ", // INCREMENT
        // Quotes, apostrophes, primes and accents.
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{2039}'
        | '\u{203A}' | '`' | '\u{B4}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{AB}' | '\u{BB}' => {
            "\""
        }
        // Dashes and hyphens.
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}'
        | '\u{2212}' | '\u{AD}' => "-",
        '\u{2026}' => "...",
        // Spaces.
        '\t' | '\u{A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => " ",
        // Invisible characters and combining diacritical marks are dropped.
        '\u{200B}'
        | '\u{200C}'
        | '\u{200D}'
        | '\u{2060}'
        | '\u{FEFF}'
        | '\u{0300}'..='\u{036F}' => "",
        // Miscellaneous symbols.
        '\u{2022}' | '\u{B7}' => "*",
        '\u{A9}' => "(c)",
        '\u{AE}' => "(R)",
        '\u{2122}' => "TM",
        '\u{F7}' | '\u{2044}' => "/",
        _ => return None,
    };
    Some(s)
}

/// Transliterate text to something the GSM alphabet can represent (e.g. accented letters not in the table to
/// their base letter: 'á'->'a', 'ê'->'e', 'ç'->'c' (note: Ç IS in the table), typographic quotes to ASCII quotes,
/// en/em dash to '-', ellipsis to "...", non-breaking space to ' ', Cyrillic to Latin letters); anything still
/// unrepresentable becomes '?'.
///
/// Characters that are already representable are kept unchanged. Zero-width
/// characters and combining diacritical marks are removed. The result always
/// satisfies [`is_representable`]. The same as
/// [`translit::transliterate`](crate::translit::transliterate) with [`Charset::Gsm`](crate::charset::Charset::Gsm).
#[must_use]
pub fn transliterate(text: &str) -> String {
    crate::translit::transliterate(text, crate::charset::Charset::Gsm)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic xorshift64 pseudo-random generator for tests.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
    }

    fn hex(bytes: &[u8]) -> String {
        use std::fmt::Write as _;
        bytes.iter().fold(String::new(), |mut acc, b| {
            let _ = write!(acc, "{b:02x}");
            acc
        })
    }

    #[test]
    fn basic_table_round_trip() {
        for (code, &ch) in BASIC.iter().enumerate() {
            if code == usize::from(ESC) {
                continue;
            }
            let s = ch.to_string();
            let enc = encode_unpacked(&s).expect("basic char must encode");
            let code = u8::try_from(code).expect("table index fits in u8");
            assert_eq!(enc, vec![code], "encoding of {ch:?}");
            assert_eq!(decode_unpacked(&enc), s, "decoding of 0x{code:02X}");
        }
        // Whole table as one string.
        let all: String = BASIC
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != usize::from(ESC))
            .map(|(_, &c)| c)
            .collect();
        let enc = encode_unpacked(&all).expect("table encodes");
        assert_eq!(enc.len(), 127);
        assert_eq!(septet_len(&all), Some(127));
        assert_eq!(decode_unpacked(&enc), all);
    }

    #[test]
    fn basic_table_is_a_bijection() {
        let mut seen = std::collections::HashSet::new();
        for (i, &c) in BASIC.iter().enumerate() {
            if i != usize::from(ESC) {
                assert!(seen.insert(c), "duplicate {c:?}");
            }
        }
        assert_eq!(seen.len(), 127);
    }

    #[test]
    fn extension_table_round_trip() {
        for &(code, ch) in &EXTENSION {
            let s = ch.to_string();
            let enc = encode_unpacked(&s).expect("extension char must encode");
            assert_eq!(enc, vec![ESC, code], "encoding of {ch:?}");
            assert_eq!(decode_unpacked(&enc), s);
            assert_eq!(septet_len(&s), Some(2));
            assert_eq!(extension_char(code), Some(ch));
        }
        let all: String = EXTENSION.iter().map(|&(_, c)| c).collect();
        assert_eq!(all, "\u{0C}^{}\\[~]|€");
        let enc = encode_unpacked(&all).expect("extension table encodes");
        assert_eq!(enc.len(), 20);
        assert_eq!(decode_unpacked(&enc), all);
    }

    #[test]
    fn septet_lengths() {
        assert_eq!(septet_len("{}"), Some(4));
        assert_eq!(septet_len(""), Some(0));
        assert_eq!(septet_len("hello"), Some(5));
        assert_eq!(septet_len("5€"), Some(3));
        assert_eq!(septet_len("日本"), None);
        assert!(is_representable("Hello @ £5 {ok} ÄÖÜ äöü"));
        assert!(!is_representable("caf\u{E7}")); // ç lowercase is not in the table
        assert!(!is_representable("`"));
        assert!(!is_representable("\u{1B}"));
        assert!(is_representable(""));
    }

    #[test]
    fn ascii_coverage() {
        // All printable ASCII except the backtick is representable.
        for b in 0x20u8..0x7F {
            let c = char::from(b);
            assert_eq!(is_representable(&c.to_string()), c != '`', "{c:?}");
        }
        assert_eq!(encode_unpacked("@$_").expect("ok"), vec![0x00, 0x02, 0x11]);
        assert_eq!(
            encode_unpacked("\n\r\u{0C}").expect("ok"),
            vec![0x0A, 0x0D, ESC, 0x0A]
        );
    }

    #[test]
    fn unrepresentable_index() {
        let err = encode_unpacked("héllo 日本").expect_err("must fail");
        assert_eq!(
            err,
            Unrepresentable {
                ch: '日', index: 6
            }
        );
        let err = encode_unpacked("`").expect_err("must fail");
        assert_eq!(err.index, 0);
        assert_eq!(err.ch, '`');
        // Index counts chars, not bytes, and extension chars count once.
        let err = encode_unpacked("€€ç").expect_err("must fail");
        assert_eq!(err, Unrepresentable { ch: 'ç', index: 2 });
        let msg = err.to_string();
        assert!(msg.contains("index 2"), "{msg}");
        assert!(msg.contains("U+00E7"), "{msg}");
        let _: &dyn std::error::Error = &err;
    }

    #[test]
    fn decode_special_cases() {
        // Trailing lone ESC -> space.
        assert_eq!(decode_unpacked(&[0x41, ESC]), "A ");
        // ESC + undefined code -> basic char of that code.
        assert_eq!(decode_unpacked(&[ESC, 0x41]), "A");
        assert_eq!(decode_unpacked(&[ESC, 0x00]), "@");
        // ESC ESC -> space.
        assert_eq!(decode_unpacked(&[ESC, ESC, 0x41]), " A");
        // High bit masked.
        assert_eq!(decode_unpacked(&[0xC1, 0x80]), "A@");
        assert_eq!(decode_unpacked(&[0x9B, 0x65]), "€");
        assert_eq!(decode_unpacked(&[]), "");
    }

    #[test]
    fn pack_known_vectors() {
        let s = encode_unpacked("hellohello").expect("ok");
        assert_eq!(hex(&pack(&s, 0)), "e8329bfd4697d9ec37");
        let s = encode_unpacked("hello").expect("ok");
        assert_eq!(hex(&pack(&s, 0)), "e8329bfd06");
        // Eight septets fill exactly seven octets.
        let s = encode_unpacked("12345678").expect("ok");
        assert_eq!(hex(&pack(&s, 0)), "31d98c56b3dd70");
        assert!(pack(&[], 0).is_empty());
        // Padding: one fill bit, then the septet.
        assert_eq!(pack(&[0x7F], 1), vec![0xFE]);
        assert_eq!(pack(&[0x41], 1), vec![0x82]);
        assert_eq!(pack(&[0x7F], 2), vec![0xFC, 0x01]);
        assert_eq!(pack(&[0x7F], 6), vec![0xC0, 0x1F]);
        // Input bytes are masked to 7 bits.
        assert_eq!(pack(&[0xFF], 0), vec![0x7F]);
        // Unpack the known vector back.
        assert_eq!(
            decode_unpacked(&unpack(
                &[0xe8, 0x32, 0x9b, 0xfd, 0x46, 0x97, 0xd9, 0xec, 0x37],
                10,
                0
            )),
            "hellohello"
        );
    }

    #[test]
    fn pack_unpack_round_trip_random() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut cases = 0usize;
        for len in 0..=200usize {
            for pad in 0..=6u8 {
                let septets: Vec<u8> = (0..len).map(|_| (rng.next() & 0x7F) as u8).collect();
                let packed = pack(&septets, pad);
                let bits = usize::from(pad) + 7 * len;
                assert_eq!(packed.len(), bits.div_ceil(8), "len {len} pad {pad}");
                // Fill bits are zero.
                if let Some(first) = packed.first() {
                    assert_eq!(first & ((1u8 << pad) - 1), 0);
                }
                assert_eq!(unpack(&packed, len, pad), septets, "len {len} pad {pad}");
                cases += 1;
            }
        }
        assert_eq!(cases, 201 * 7);
    }

    #[test]
    fn unpack_short_input_does_not_panic() {
        assert!(unpack(&[], 10, 0).is_empty());
        assert_eq!(unpack(&[0xE8], 5, 0), vec![0x68]);
        assert!(unpack(&[0xFF], 1, 6).is_empty());
        assert_eq!(unpack(&[0xE8, 0x32], usize::MAX, 0).len(), 2);
        // Large padding does not panic either.
        assert_eq!(unpack(&pack(&[0x55], 200), 1, 200), vec![0x55]);
    }

    #[test]
    fn transliteration_examples() {
        assert_eq!(transliterate("á ê ç Ç"), "a e c Ç");
        assert_eq!(transliterate("São Paulo"), "Sao Paulo");
        assert_eq!(
            transliterate("\u{201C}quoted\u{201D} it\u{2019}s"),
            "\"quoted\" it's"
        );
        assert_eq!(transliterate("a\u{2013}b\u{2014}c"), "a-b-c");
        assert_eq!(transliterate("wait\u{2026}"), "wait...");
        assert_eq!(transliterate("10\u{A0}km"), "10 km");
        assert_eq!(transliterate("Łódź"), "Lodz");
        assert_eq!(transliterate("e\u{0301}"), "e");
        assert_eq!(transliterate("œuvre"), "oeuvre");
        assert_eq!(transliterate("日本 ok"), "?? ok");
        assert_eq!(transliterate("😀"), "?");
        // Representable text is unchanged, including extension characters.
        let keep = "Hello {world} €5 ÄÖÜäöüß à è é";
        assert_eq!(transliterate(keep), keep);
        assert_eq!(transliterate(""), "");
    }

    #[test]
    fn transliteration_is_always_representable() {
        let mut rng = XorShift(0x0123_4567_89AB_CDEF);
        for _ in 0..2000 {
            let s: String = (0..16)
                .filter_map(|_| char::from_u32((rng.next() % 0x3100) as u32))
                .collect();
            let t = transliterate(&s);
            assert!(is_representable(&t), "{s:?} -> {t:?}");
        }
        // Every mapping target is itself representable.
        for cp in 0..0x3100u32 {
            if let Some(c) = char::from_u32(cp) {
                if let Some(rep) = transliteration_of(c) {
                    assert!(is_representable(rep), "{c:?} -> {rep:?}");
                    assert!(gsm_code(c).is_none(), "{c:?} is representable yet mapped");
                }
            }
        }
    }
}
