//! Arbitrary delivery receipt texts (and receipt TLVs) through the receipt parser the
//! connectors use on every `deliver_sm` from an SMSC, then through the id normalisation that
//! matches a receipt to its message (`dlr_msgid` 0, 1 and 2). Nothing may panic; a parsed
//! receipt has an id and an upper-case `stat`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smsgate::model::Tlv;
use smsgate::smpp::receipt;

fuzz_target!(|data: &[u8]| {
    // The first byte says how many TLVs follow the text; each is tag (2), length (1), value.
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let mut tlvs = Vec::new();
    let mut text = rest;
    for _ in 0..(n % 4) {
        if text.len() < 3 {
            break;
        }
        let tag = u16::from_be_bytes([text[0], text[1]]);
        let len = (text[2] as usize).min(text.len() - 3);
        tlvs.push(Tlv {
            tag,
            value: text[3..3 + len].to_vec(),
        });
        text = &text[3 + len..];
    }
    if let Some(r) = receipt::parse(text, &tlvs) {
        assert!(!r.id.is_empty());
        assert_eq!(r.stat, r.stat.to_ascii_uppercase());
        for mode in 0..3 {
            let _ = receipt::receipt_key(&r.id, mode);
            let _ = receipt::resp_key(&r.id, mode);
        }
        let _ = receipt::state_of_stat(&r.stat);
    }
});
