//! Tests of concatenation parsing, MO decoding and the reassembly state.

use proptest::prelude::*;

use super::*;

const GSM: DefaultAlphabet = DefaultAlphabet::Gsm0338;

fn arrival(reference: u16, total: u8, seq: u8, units: &[u8], at_ms: i64) -> Arrival {
    Arrival {
        origin: "smppc(sim)".into(),
        source: "33600000001".into(),
        destination: "1234".into(),
        concat: Concat {
            reference,
            total,
            seq,
        },
        data_coding: 0,
        units: units.to_vec(),
        at_ms,
    }
}

#[test]
fn udh_8_and_16_bit_references_among_other_elements() {
    // IEI 0x00: ref 0x42, 3 parts, part 2.
    let sm = [0x05, 0x00, 0x03, 0x42, 0x03, 0x02, b'h', b'i'];
    let ud = parse_udh(&sm).expect("udh");
    assert_eq!(
        ud.concat,
        Some(Concat {
            reference: 0x42,
            total: 3,
            seq: 2
        })
    );
    assert_eq!(ud.body, b"hi");
    assert_eq!(ud.udh.len(), 6);
    // Port addressing (IEI 0x05) first, then IEI 0x08 with a 16-bit reference.
    let sm = [
        0x0C, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x08, 0x04, 0xBE, 0xEF, 0x02, 0x01, 0xAA,
    ];
    let ud = parse_udh(&sm).expect("udh");
    assert_eq!(
        ud.concat,
        Some(Concat {
            reference: 0xBEEF,
            total: 2,
            seq: 1
        })
    );
    assert_eq!(ud.body, [0xAA]);
    // No concatenation element.
    assert_eq!(
        parse_udh(&[0x04, 0x05, 0x02, 0x0B, 0x84, 1])
            .expect("udh")
            .concat,
        None
    );
    // Seq 0 or above the total: the element is ignored (3GPP TS 23.040).
    assert_eq!(
        parse_udh(&[0x05, 0x00, 0x03, 1, 2, 3]).expect("udh").concat,
        None
    );
    assert_eq!(
        parse_udh(&[0x05, 0x00, 0x03, 1, 2, 0]).expect("udh").concat,
        None
    );
    // Malformed.
    assert_eq!(
        parse_udh(&[0x09, 0x00, 0x03]),
        Err(ReassemblyError::UdhOverrun { udh: 10, len: 3 })
    );
    assert_eq!(
        parse_udh(&[0x03, 0x00, 0x03, 0x01]),
        Err(ReassemblyError::BadElement(1))
    );
    assert_eq!(
        parse_udh(&[0x01, 0x00]),
        Err(ReassemblyError::BadElement(1))
    );
}

#[test]
fn sar_tlvs() {
    let tlv = |tag, value: &[u8]| Tlv {
        tag,
        value: value.to_vec(),
    };
    let tlvs = [
        tlv(0x020C, &[0x01, 0x02]),
        tlv(0x020E, &[3]),
        tlv(0x020F, &[3]),
    ];
    assert_eq!(
        concat_from_sar(&tlvs),
        Some(Concat {
            reference: 0x0102,
            total: 3,
            seq: 3
        })
    );
    assert_eq!(concat_from_sar(&tlvs[..2]), None);
    assert_eq!(
        concat_from_sar(&[tlv(0x020C, &[1, 2]), tlv(0x020E, &[3]), tlv(0x020F, &[4])]),
        None
    );
}

#[test]
fn mo_parts_per_data_coding() {
    // GSM unpacked with a UDH.
    let p = mo_part(0, 0x40, &[0x05, 0x00, 0x03, 7, 2, 1, 0x48, 0x00], &[], GSM).expect("mo");
    assert_eq!(
        p.concat.map(|c| (c.reference, c.total, c.seq)),
        Some((7, 2, 1))
    );
    assert_eq!(decode_units(0, &p.units, GSM).as_deref(), Some("H@"));
    // UDHI clear: the bytes are all text.
    assert_eq!(
        decode_short_message(0, 0, &[0x05, 0x00], GSM)
            .expect("mo")
            .as_deref(),
        Some("é@")
    );
    // Packed GSM after a UDH: one fill bit.
    let mut sm = vec![0x05, 0x00, 0x03, 1, 1, 1];
    sm.extend(gsm::pack(&gsm::encode_unpacked("hello").expect("gsm"), 1));
    assert_eq!(
        decode_short_message(0, 0x40, &sm, DefaultAlphabet::Gsm0338Packed)
            .expect("mo")
            .as_deref(),
        Some("hello")
    );
    // UCS2, Latin-1, Cyrillic, Hebrew, IA5; binary has no text.
    let ucs2 = [0x06, 0x23, 0x06, 0x31, 0x06, 0x46, 0x06, 0x28];
    assert_eq!(
        decode_short_message(8, 0, &ucs2, GSM)
            .expect("ucs2")
            .as_deref(),
        Some("\u{0623}\u{0631}\u{0646}\u{0628}")
    );
    assert_eq!(
        decode_short_message(3, 0, b"caf\xE9", GSM)
            .expect("l1")
            .as_deref(),
        Some("café")
    );
    assert_eq!(
        decode_short_message(6, 0, &[0xBF], GSM)
            .expect("c")
            .as_deref(),
        Some("П")
    );
    assert_eq!(
        decode_short_message(7, 0, &[0xF9], GSM)
            .expect("h")
            .as_deref(),
        Some("ש")
    );
    assert_eq!(
        decode_short_message(1, 0, b"ok", GSM)
            .expect("ia5")
            .as_deref(),
        Some("ok")
    );
    assert_eq!(decode_short_message(4, 0, &[1, 2], GSM).expect("bin"), None);
    // GSM 03.38 coding groups: 0xF0 (GSM, class 0), 0x18 (UCS2), 0xF4 (8-bit).
    assert_eq!(
        decode_short_message(0xF0, 0, b"Hi", GSM)
            .expect("f0")
            .as_deref(),
        Some("Hi")
    );
    assert_eq!(
        decode_short_message(0x18, 0, &[0, 0x41], GSM)
            .expect("18")
            .as_deref(),
        Some("A")
    );
    assert_eq!(decode_short_message(0xF4, 0, b"x", GSM).expect("f4"), None);
    // A coding 0 on a Latin-1 connector.
    assert_eq!(
        decode_short_message(0, 0, b"\xE9", DefaultAlphabet::Latin1)
            .expect("l1")
            .as_deref(),
        Some("é")
    );
}

#[test]
fn any_order_duplicates_and_completion() {
    let mut r = Reassembler::new(60_000);
    let out = r.accept(arrival(9, 3, 3, b"c", 0)).expect("3");
    assert_eq!(out.status, Status::Pending { have: 1, total: 3 });
    assert_eq!(out.superseded, None);
    let out = r.accept(arrival(9, 3, 1, b"a", 1)).expect("1");
    assert_eq!(out.status, Status::Pending { have: 2, total: 3 });
    assert_eq!(
        r.accept(arrival(9, 3, 1, b"X", 2)).expect("dup").status,
        Status::Duplicate
    );
    // Another reference from the same source is another message.
    let out = r.accept(arrival(10, 2, 1, b"z", 2)).expect("other");
    assert_eq!(out.status, Status::Pending { have: 1, total: 2 });
    assert_eq!(r.len(), 2);
    let Status::Complete(c) = r.accept(arrival(9, 3, 2, b"b", 3)).expect("2").status else {
        panic!("complete expected");
    };
    assert_eq!(c.units, b"abc", "the first copy of a duplicate is kept");
    assert_eq!((c.total, c.key.reference), (3, 9));
    assert_eq!(r.len(), 1);
    assert_eq!(
        r.accept(arrival(1, 0, 1, b"", 0)),
        Err(ReassemblyError::BadSequence { seq: 1, total: 0 })
    );
    assert_eq!(
        r.accept(arrival(1, 2, 3, b"", 0)),
        Err(ReassemblyError::BadSequence { seq: 3, total: 2 })
    );
    // A single-part "concatenated" message completes at once.
    assert!(matches!(
        r.accept(arrival(5, 1, 1, b"s", 0)).expect("1/1").status,
        Status::Complete(_)
    ));
}

#[test]
fn expiry_and_superseding_report_what_arrived() {
    let mut r = Reassembler::new(1000);
    r.accept(arrival(1, 4, 2, b"bb", 0)).expect("a");
    r.accept(arrival(1, 4, 4, b"dd", 10)).expect("b");
    r.accept(arrival(2, 2, 1, b"x", 500)).expect("c");
    assert!(r.expire(1000).is_empty());
    let gone = r.expire(1001);
    assert_eq!(gone.len(), 1);
    let g = &gone[0];
    assert_eq!(g.key.reference, 1);
    assert_eq!(g.arrived, vec![(2, b"bb".to_vec()), (4, b"dd".to_vec())]);
    assert_eq!(g.missing, vec![1, 3]);
    assert_eq!(g.units(), b"bbdd");
    assert_eq!(r.len(), 1);
    // Same key, another total: the old set is superseded by the new one.
    let out = r.accept(arrival(2, 3, 1, b"n", 600)).expect("new");
    assert_eq!(out.status, Status::Pending { have: 1, total: 3 });
    let old = out.superseded.expect("superseded");
    assert_eq!((old.total, old.missing.clone()), (2, vec![2]));
    // Same key after the maximum age: a reused reference starts afresh.
    let out = r.accept(arrival(2, 3, 1, b"m", 5000)).expect("reuse");
    assert_eq!(out.status, Status::Pending { have: 1, total: 3 });
    assert_eq!(
        out.superseded.map(|i| i.arrived),
        Some(vec![(1, b"n".to_vec())])
    );
    let key = Key {
        origin: "smppc(sim)".into(),
        source: "33600000001".into(),
        destination: "1234".into(),
        reference: 2,
    };
    assert_eq!(r.remove(&key).map(|i| i.missing), Some(vec![2, 3]));
    assert!(r.is_empty());
}

#[test]
fn state_serializes() {
    let mut r = Reassembler::new(60_000);
    r.accept(arrival(1, 3, 2, &[0xAB, 0xCD], 7)).expect("a");
    r.accept(arrival(2, 2, 1, b"x", 8)).expect("b");
    let json = serde_json::to_string(&r).expect("json");
    assert!(json.contains("\"abcd\""), "{json}");
    let back: Reassembler = serde_json::from_str(&json).expect("parse");
    assert_eq!(back, r);
}

proptest! {
    #[test]
    fn any_order_with_duplicates_completes_once(
        total in 1u8..=12,
        seed in any::<u64>(),
        dups in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let mut order: Vec<u8> = (1..=total).collect();
        // Deterministic shuffle from the seed.
        let mut s = seed | 1;
        for i in (1..order.len()).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            order.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let mut feed: Vec<u8> = order;
        for d in &dups {
            // A copy of a part already fed, before the last new part arrives.
            let last = feed.len() - 1;
            if last > 0 {
                let pick = feed[d.index(last)];
                feed.insert(last, pick);
            }
        }
        let mut r = Reassembler::new(60_000);
        let mut completes = 0;
        for seq in feed {
            let out = r.accept(arrival(77, total, seq, &[seq], 0)).expect("accept");
            if let Status::Complete(c) = out.status {
                completes += 1;
                prop_assert_eq!(c.units, (1..=total).collect::<Vec<u8>>());
            }
        }
        prop_assert_eq!(completes, 1);
        prop_assert!(r.is_empty());
    }
}
