//! Tests of reading, encoding and splitting: golden vectors from the spec, and properties.

use proptest::prelude::*;

use super::*;
use crate::reassembly::{self, Arrival, Reassembler, Status};

const GSM: DefaultAlphabet = DefaultAlphabet::Gsm0338;
const PACKED: DefaultAlphabet = DefaultAlphabet::Gsm0338Packed;
const REFUSE: Unrepresentable = Unrepresentable::Refuse;
const TRANSLIT: Unrepresentable = Unrepresentable::Transliterate;
const REPLACE: Unrepresentable = Unrepresentable::Replace;

fn utf8(text: &str, coding: Option<u8>) -> Payload {
    let r = read_text(text.as_bytes(), ContentEncoding::Utf8, coding, REFUSE).expect("read");
    encode(r, GSM, REFUSE).expect("encode")
}

fn udh_of(p: &Part) -> &[u8] {
    &p.short_message[..UDH_LEN]
}

#[test]
fn spec_arabic_ucs2_example() {
    // `content=\x06\x23\x06\x31\x06\x46\x06\x28&coding=8` (raw) and the same as hex-content.
    let bytes = [0x06, 0x23, 0x06, 0x31, 0x06, 0x46, 0x06, 0x28];
    let r = read_text(&bytes, ContentEncoding::Raw, Some(8), REFUSE).expect("read");
    assert_eq!(r.text(), Some("\u{0623}\u{0631}\u{0646}\u{0628}"));
    let p = encode(r, GSM, REFUSE).expect("encode");
    assert_eq!(p, Payload::Ucs2(bytes.to_vec()));
    let parts = split(&p, SplitMethod::Udh, 5).expect("split");
    assert_eq!(parts.len(), 1);
    assert_eq!(hex::encode(&parts[0].short_message), "0623063106460628");
    let hex = read_binary(hex::decode("0623063106460628").expect("hex"), Some(8)).expect("bin");
    assert_eq!(encode(hex, GSM, REFUSE).expect("encode"), p);
    // The same text from a UTF-8 user, without a coding: UCS2 chosen.
    assert_eq!(utf8("\u{0623}\u{0631}\u{0646}\u{0628}", None), p);
}

#[test]
fn gsm_160_161_boundary() {
    let p = utf8(&"a".repeat(160), None);
    let parts = split(&p, SplitMethod::Udh, 5).expect("split");
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].short_message.len(), 160);
    assert_eq!(parts[0].esm_class, 0);
    let p = utf8(&"a".repeat(161), None);
    let parts = split_with_reference(&p, SplitMethod::Udh, 5, 0x1234).expect("split");
    assert_eq!(parts.len(), 2);
    assert_eq!(udh_of(&parts[0]), [0x05, 0x00, 0x03, 0x34, 2, 1]);
    assert_eq!(udh_of(&parts[1]), [0x05, 0x00, 0x03, 0x34, 2, 2]);
    assert_eq!(parts[0].short_message.len(), 6 + 153);
    assert_eq!(parts[1].short_message.len(), 6 + 8);
    assert!(parts
        .iter()
        .all(|p| p.esm_class == 0x40 && p.tlvs.is_empty()));
    assert_eq!(count_parts(&p), 2);
}

#[test]
fn ucs2_70_71_boundary() {
    let p = utf8(&"ж".repeat(70), None);
    assert_eq!(
        split(&p, SplitMethod::Udh, 5).expect("split")[0]
            .short_message
            .len(),
        140
    );
    let p = utf8(&"ж".repeat(71), None);
    let parts = split(&p, SplitMethod::Udh, 5).expect("split");
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].short_message.len(), 6 + 134);
    assert_eq!(parts[1].short_message.len(), 6 + 8);
}

#[test]
fn extension_table_counts_two_and_is_never_split() {
    // 80 '{' = 160 septets: one part; one more septet: two parts.
    let p = utf8(&"{".repeat(80), None);
    assert_eq!(p.units(), 160);
    assert_eq!(count_parts(&p), 1);
    let p = utf8(&format!("{}a", "{".repeat(80)), None);
    let parts = split(&p, SplitMethod::Udh, 5).expect("split");
    assert_eq!(parts.len(), 2);
    // 76 escapes = 152 septets; the 77th would be cut in half at 153.
    assert_eq!(parts[0].short_message.len(), 6 + 152);
    assert_eq!(
        parts[1].short_message[6..],
        [0x1B, 0x28, 0x1B, 0x28, 0x1B, 0x28, 0x1B, 0x28, 0x61]
    );
    // Every character of the extension table.
    let ext = utf8("\u{0C}^{}\\[~]|€", None);
    assert_eq!(
        hex::encode(ext.data()),
        "1b0a1b141b281b291b2f1b3c1b3d1b3e1b401b65"
    );
    let text = format!("{}{}", "a".repeat(152), "{{{{{{{{{{");
    let parts = split(&utf8(&text, None), SplitMethod::Udh, 5).expect("split");
    assert_eq!(
        parts[0].short_message.len(),
        6 + 152,
        "ESC moved to the next part"
    );
}

#[test]
fn ia5_and_latin1_default_alphabet_count_septets() {
    // Coding 1: one octet per character, 160 septets, extension characters two.
    let r = read_text(&[b'{'; 80], ContentEncoding::Raw, Some(1), REFUSE).expect("read");
    let p = encode(r, GSM, REFUSE).expect("ascii");
    assert_eq!(p, Payload::Text7(vec![b'{'; 80]));
    assert_eq!(count_parts(&p), 1);
    let p = Payload::Text7(vec![b'{'; 81]);
    let parts = split(&p, SplitMethod::Udh, 5).expect("split");
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].short_message.len(), 6 + 76);
    // A connector whose default alphabet is Latin-1 gets Latin-1 octets.
    let r = read_text("café".as_bytes(), ContentEncoding::Utf8, Some(0), REFUSE).expect("read");
    assert_eq!(
        encode(r, DefaultAlphabet::Latin1, REFUSE).expect("latin1"),
        Payload::Text7(b"caf\xE9".to_vec())
    );
}

#[test]
fn packed_gsm_with_udh_fill_bit() {
    let text = "a".repeat(161);
    let r = read_text(text.as_bytes(), ContentEncoding::Raw, None, REFUSE).expect("read");
    let p = encode(r, PACKED, REFUSE).expect("encode");
    let parts = split(&p, SplitMethod::Udh, 5).expect("split");
    assert_eq!(parts.len(), 2);
    // 6 octets of UDH + 1 fill bit + 153 septets = exactly 140 octets.
    assert_eq!(parts[0].short_message.len(), 140);
    assert_eq!(
        gsm::unpack(&parts[0].short_message[6..], 153, 1),
        vec![0x61; 153]
    );
    assert_eq!(parts[0].short_message[6] & 1, 0, "the fill bit is zero");
    // A single packed message of 7 septets leaves 7 spare bits: CR, not '@'.
    let p = encode_default("1234567", PACKED).expect("gsm");
    let sm = &split(&p, SplitMethod::Udh, 5).expect("split")[0].short_message;
    assert_eq!(sm.len(), 7);
    assert_eq!(sm[6] >> 1, 0x0D);
    let mo = reassembly::mo_part(0, 0, sm, &[], PACKED).expect("mo");
    assert_eq!(gsm::decode_unpacked(&mo.units), "1234567");
}

#[test]
fn sar_tlvs_and_references() {
    let p = utf8(&"x".repeat(400), None);
    let parts = split_with_reference(&p, SplitMethod::Sar, 5, 0xBEEF).expect("split");
    assert_eq!(parts.len(), 3);
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(part.esm_class, 0);
        let tlv = |tag| {
            part.tlvs
                .iter()
                .find(|t| t.tag == tag)
                .map(|t| t.value.clone())
                .expect("tlv")
        };
        assert_eq!(tlv(0x020C), vec![0xBE, 0xEF]);
        assert_eq!(tlv(0x020E), vec![3]);
        assert_eq!(tlv(0x020F), vec![i as u8 + 1]);
    }
    assert_eq!(parts[0].short_message.len(), 153);
    assert_eq!(parts[2].short_message.len(), 400 - 306);
    // Consecutive long messages to one destination get distinct 8-bit references.
    let refs: std::collections::HashSet<u8> = (0..256)
        .map(|_| next_reference("33600000001") as u8)
        .collect();
    assert_eq!(refs.len(), 256);
}

#[test]
fn too_many_parts_is_refused() {
    let p = utf8(&"x".repeat(153 * 5), None);
    assert_eq!(split(&p, SplitMethod::Udh, 5).expect("5 parts").len(), 5);
    let p = utf8(&"x".repeat(153 * 5 + 1), None);
    let e = split(&p, SplitMethod::Udh, 5).expect_err("6 parts");
    assert_eq!(e, ContentError::TooManyParts { needed: 6, max: 5 });
    assert_eq!(
        e.to_string(),
        "6 parts needed, more than long_content_max_parts (5)"
    );
    let p = Payload::Octets(vec![0; 134 * 256]);
    assert!(matches!(
        split(&p, SplitMethod::Udh, 1000),
        Err(ContentError::TooManyParts { max: 255, .. })
    ));
}

#[test]
fn unrepresentable_and_transliteration() {
    let r = read_text("hi ☃".as_bytes(), ContentEncoding::Utf8, Some(0), REFUSE).expect("read");
    let e = encode(r.clone(), GSM, REFUSE).expect_err("snowman");
    assert_eq!(
        e.to_string(),
        "character '☃' (U+2603) at position 3 cannot be represented in the GSM 03.38 alphabet"
    );
    assert_eq!(
        encode(r, GSM, TRANSLIT).expect("transliterated"),
        Payload::Septets {
            septets: b"hi ?".to_vec(),
            packed: false
        }
    );
    // A UTF-8 user asking for transliteration without a coding gets GSM, not UCS2.
    let r = read_text("Привет".as_bytes(), ContentEncoding::Utf8, None, TRANSLIT).expect("read");
    assert_eq!(r.coding, 0);
    assert_eq!(
        gsm::decode_unpacked(encode(r, GSM, TRANSLIT).expect("gsm").data()),
        "Privet"
    );
    // Raw Latin-1 'á' for coding 0 (GSM has no 'á'): refused, or 'a' when asked.
    let r = read_text(b"\xE1", ContentEncoding::Raw, None, REFUSE).expect("read");
    assert!(encode(r.clone(), GSM, REFUSE).is_err());
    assert_eq!(encode(r, GSM, TRANSLIT).expect("a").data(), b"a");
    // Raw coding 1 goes byte for byte (Jasmin); UTF-8 text for IA5 refuses Latin-1 letters.
    let r = read_text(b"\xE9t\xE9", ContentEncoding::Raw, Some(1), REFUSE).expect("read");
    assert_eq!(
        encode(r, GSM, REFUSE).expect("raw ia5"),
        Payload::Text7(b"\xE9t\xE9".to_vec())
    );
    let r = read_text("été".as_bytes(), ContentEncoding::Utf8, Some(1), REFUSE).expect("read");
    assert!(matches!(
        encode(r, GSM, REFUSE),
        Err(ContentError::Unrepresentable {
            ch: 'é',
            index: 0,
            alphabet: "IA5/ASCII"
        })
    ));
    // Cyrillic and Hebrew codings from UTF-8 text.
    let r = read_text("Привет".as_bytes(), ContentEncoding::Utf8, Some(6), REFUSE).expect("read");
    assert_eq!(
        encode(r, GSM, REFUSE).expect("cyr"),
        Payload::Octets(vec![0xBF, 0xE0, 0xD8, 0xD2, 0xD5, 0xE2])
    );
    let r = read_text("שלום ☃".as_bytes(), ContentEncoding::Utf8, Some(7), REFUSE).expect("read");
    assert!(matches!(
        encode(r, GSM, REFUSE),
        Err(ContentError::Unrepresentable {
            ch: '☃',
            index: 5,
            ..
        })
    ));
}

/// Jasmin 0.11.1's `/send` with coding 0: UTF-8 content, `gsm0338` with `errors='replace'`
/// (expected septets computed with python-messaging's codec).
#[test]
fn raw_coding_0_is_utf8_replaced_as_jasmin() {
    let septets = |content: &[u8], policy| {
        let r = read_text(content, ContentEncoding::Raw, None, policy).expect("read");
        encode(r, GSM, policy).map(|p| p.data().to_vec())
    };
    // '€' is ESC 0x65, 'é' 0x05, 'ü' 0x7E, '[' ESC 0x3C.
    assert_eq!(
        septets("€é ü[".as_bytes(), REPLACE).expect("gsm"),
        vec![0x1B, 0x65, 0x05, 0x20, 0x7E, 0x1B, 0x3C]
    );
    // Cyrillic and an emoji: one '?' per code point; 'ç' → 'Ç' (0x09), 'Α' (Greek) → 'A'.
    assert_eq!(
        septets("Пр😀çΑ".as_bytes(), REPLACE).expect("gsm"),
        vec![b'?', b'?', b'?', 0x09, b'A']
    );
    assert!(matches!(
        septets("Пр".as_bytes(), REFUSE),
        Err(ContentError::Unrepresentable {
            ch: 'П',
            index: 0,
            ..
        })
    ));
    assert_eq!(
        septets("Пр".as_bytes(), TRANSLIT).expect("t"),
        b"Pr".to_vec()
    );
    // Bytes that are not UTF-8 are read as Latin-1 (Jasmin answers 500).
    assert_eq!(
        septets(b"\xE9t\xE9", REPLACE).expect("latin1"),
        vec![0x05, b't', 0x05]
    );
}

#[test]
fn reading_errors() {
    assert_eq!(
        read_text(b"abc", ContentEncoding::Raw, Some(8), REFUSE),
        Err(ContentError::OddUcs2)
    );
    assert_eq!(
        read_text(
            &[0xD8, 0x3D, 0x00, 0x41],
            ContentEncoding::Raw,
            Some(8),
            REFUSE
        ),
        Err(ContentError::InvalidUtf16 { unit: 0 })
    );
    assert_eq!(
        read_text(b"\xFF", ContentEncoding::Utf8, None, REFUSE),
        Err(ContentError::InvalidUtf8)
    );
    let e = read_text(b"x", ContentEncoding::Utf8, Some(5), REFUSE).expect_err("JIS");
    assert_eq!(
        e.to_string(),
        "coding 5 (JIS (X 0208-1990)) has no text encoder here: send hex-content"
    );
    assert_eq!(read_binary(vec![0; 3], Some(8)), Err(ContentError::OddUcs2));
    // Raw bytes of codings without an encoder go as they are.
    let r = read_text(b"\x1b$B", ContentEncoding::Raw, Some(10), REFUSE).expect("raw");
    assert_eq!(
        encode(r, GSM, REFUSE).expect("octets"),
        Payload::Octets(b"\x1b$B".to_vec())
    );
    // Binary: 140 octets in one part, 141 in two.
    let bin = |n| {
        encode(
            read_binary(vec![0xAB; n], Some(4)).expect("bin"),
            GSM,
            REFUSE,
        )
    };
    assert_eq!(count_parts(&bin(140).expect("140")), 1);
    assert_eq!(count_parts(&bin(141).expect("141")), 2);
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// Characters of a set's repertoire (from its own decoder), for generating text it can carry.
fn repertoire(cs: Charset) -> Vec<char> {
    match cs {
        Charset::Gsm => (0u32..0x2000)
            .chain([0x20AC])
            .filter_map(char::from_u32)
            .filter(|&c| gsm::is_char_representable(c))
            .collect(),
        Charset::Ucs2 => vec![],
        _ => (0u8..=255)
            .map(|b| cs.decode(&[b]))
            .filter_map(|s| s.chars().next())
            .filter(|&c| c != char::REPLACEMENT_CHARACTER)
            .collect(),
    }
}

fn text_in(cs: Charset, max: usize) -> BoxedStrategy<String> {
    if cs == Charset::Ucs2 {
        return proptest::collection::vec(any::<char>(), 0..max)
            .prop_map(|v| v.into_iter().collect())
            .boxed();
    }
    let rep = repertoire(cs);
    proptest::collection::vec(proptest::sample::select(rep), 0..max)
        .prop_map(|v| v.into_iter().collect())
        .boxed()
}

fn charset() -> impl Strategy<Value = Charset> {
    prop_oneof![
        Just(Charset::Gsm),
        Just(Charset::Ascii),
        Just(Charset::Latin1),
        Just(Charset::Cyrillic),
        Just(Charset::Hebrew),
        Just(Charset::Ucs2),
    ]
}

/// A payload of any kind, mostly long, with plenty of escapes and surrogates.
fn payload() -> impl Strategy<Value = Payload> {
    let gsm_text = proptest::collection::vec(
        prop_oneof![
            Just('a'),
            Just('{'),
            Just('€'),
            Just('@'),
            Just('\r'),
            Just('é')
        ],
        0..900,
    );
    let ucs2_text = proptest::collection::vec(
        prop_oneof![Just('a'), Just('😀'), Just('ж'), any::<char>()],
        0..450,
    );
    prop_oneof![
        (gsm_text, any::<bool>()).prop_map(|(t, packed)| {
            // Packed: no CR or '@', which can be fill (see `split_reassemble_round_trip`).
            let t: String = t
                .into_iter()
                .filter(|&c| !packed || (c != '\r' && c != '@'))
                .collect();
            Payload::Septets {
                septets: gsm::encode_unpacked(&t).expect("gsm"),
                packed,
            }
        }),
        proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'{'), Just(b'|')], 0..900)
            .prop_map(Payload::Text7),
        ucs2_text.prop_map(|t| Payload::Ucs2(encode_ucs2(&t.into_iter().collect::<String>()))),
        proptest::collection::vec(any::<u8>(), 0..900).prop_map(Payload::Octets),
    ]
}

/// Units carried by a part (without UDH, unpacked), and their weight in septets or octets.
fn part_units(payload: &Payload, part: &Part, udh: bool) -> Vec<u8> {
    let body = if udh && part.esm_class == 0x40 {
        &part.short_message[UDH_LEN..]
    } else {
        &part.short_message[..]
    };
    match payload {
        Payload::Septets { packed: true, .. } => {
            let alphabet = PACKED;
            let esm = if udh { part.esm_class } else { 0 };
            reassembly::mo_part(0, esm, &part.short_message, &[], alphabet)
                .expect("mo")
                .units
        }
        _ => body.to_vec(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encode_decode_round_trip(
        (cs, text) in charset().prop_flat_map(|cs| (Just(cs), text_in(cs, 300)))
    ) {
        let bytes = cs.encode(&text).expect("encodes its own repertoire");
        prop_assert_eq!(cs.decode(&bytes), text);
    }

    #[test]
    fn encode_refuses_exactly_the_first_unmappable(cs in charset(), text in "\\PC{0,40}") {
        match cs.encode(&text) {
            Ok(bytes) => prop_assert_eq!(cs.decode(&bytes), text),
            Err(e) => {
                let chars: Vec<char> = text.chars().collect();
                prop_assert_eq!(chars[e.index], e.ch);
                prop_assert!(!cs.can_encode(e.ch));
                prop_assert!(chars[..e.index].iter().all(|&c| cs.can_encode(c)));
                let t = translit::transliterate(&text, cs);
                prop_assert!(cs.encode(&t).is_ok());
            }
        }
    }

    #[test]
    fn split_reassemble_round_trip(p in payload(), sar in any::<bool>(), reference in any::<u16>()) {
        if let Payload::Septets { packed: true, septets } = &p {
            // CR and '@' where 7 spare bits may end a packed part are indistinguishable from
            // fill (3GPP TS 23.038); see `reassembly::mo_part`.
            prop_assume!(!septets.iter().any(|&s| s == 0x0D || s == 0x00));
        }
        let method = if sar { SplitMethod::Sar } else { SplitMethod::Udh };
        let parts = split_with_reference(&p, method, 255, reference).expect("split");
        prop_assert_eq!(parts.len(), count_parts(&p));
        let (single, per_part) = limits(&p);
        let mut r = Reassembler::new(60_000);
        let mut order: Vec<usize> = (0..parts.len()).collect();
        order.reverse();
        order.rotate_left(parts.len() / 2);
        let mut done = None;
        let mut joined = vec![];
        for (i, part) in parts.iter().enumerate() {
            let units = part_units(&p, part, !sar);
            // No part over its limit.
            let weight = match &p {
                Payload::Text7(_) => Payload::Text7(units.clone()).units(),
                _ => units.len(),
            };
            let limit = if parts.len() == 1 { single } else { per_part };
            prop_assert!(weight <= limit);
            match &p {
                Payload::Septets { packed: true, .. } => {
                    let max = if parts.len() == 1 { 140 } else if sar { 134 } else { 140 };
                    prop_assert!(part.short_message.len() <= max);
                }
                Payload::Ucs2(_) | Payload::Octets(_) => {
                    prop_assert!(part.short_message.len() <= 140);
                }
                _ => {}
            }
            // An escape sequence or a surrogate pair is never split: each part decodes alone
            // to a piece of the whole text.
            match &p {
                Payload::Septets { .. } if i + 1 < parts.len() => {
                    let run = units.iter().rev().take_while(|&&s| s == 0x1B).count();
                    prop_assert_eq!(run % 2, 0);
                }
                Payload::Ucs2(_) => {
                    prop_assert!(charset::decode_ucs2(&units).is_ok());
                }
                _ => {}
            }
            joined.extend_from_slice(&units);
            let _ = i;
        }
        prop_assert_eq!(&joined[..], p.data());
        if parts.len() > 1 {
            for &i in &order {
                let part = &parts[i];
                let concat = if sar {
                    reassembly::concat_from_sar(&part.tlvs)
                } else {
                    reassembly::parse_udh(&part.short_message).expect("udh").concat
                }.expect("concat");
                let ref_bits = if sar { reference } else { reference & 0xFF };
                prop_assert_eq!(concat.reference, ref_bits);
                let out = r.accept(Arrival {
                    origin: "sim".into(),
                    source: "1".into(),
                    destination: "2".into(),
                    concat,
                    data_coding: 0,
                    units: part_units(&p, part, !sar),
                    at_ms: 0,
                }).expect("accept");
                if let Status::Complete(c) = out.status {
                    done = Some(c.units);
                }
            }
            prop_assert_eq!(done.as_deref(), Some(p.data()));
            prop_assert!(r.is_empty());
        }
    }
}
