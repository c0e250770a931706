//! SMPP v3.4 below the business: the session layer both sides share (binds, windows,
//! enquire_link, timers), TLS, the SMPP server's bind registry, delivery receipts' text
//! and the SMSC simulator the tests and benchmarks run against. The connectors and the SMPP
//! server that carry messages are in `smsgate-gateway`.
pub mod receipt;
pub mod registry;
pub mod session;
pub mod simulator;
pub mod tls;

use rusmpp::types::{COctetString, OctetString};

/// A C-octet string field from text: non-ASCII and NUL bytes are dropped and the value is
/// truncated to fit, so odd input never makes a PDU unencodable.
pub fn c_octet<const MIN: usize, const MAX: usize>(s: &str) -> COctetString<MIN, MAX> {
    let mut b: Vec<u8> = s
        .bytes()
        .filter(|c| *c != 0 && c.is_ascii())
        .take(MAX.saturating_sub(1))
        .collect();
    b.push(0);
    COctetString::from_vec(b).unwrap_or_default()
}

/// An SMPP time field (`validity_period`, `schedule_delivery_time`, `final_date`) from a
/// time string of [`smsgate_sms::time`]: empty unless it has the 16 characters of one.
pub fn time_field(s: &str) -> rusmpp::types::EmptyOrFullCOctetString<17> {
    if s.len() != 16 || !s.is_ascii() {
        return rusmpp::types::EmptyOrFullCOctetString::empty();
    }
    let mut b = s.as_bytes().to_vec();
    b.push(0);
    rusmpp::types::EmptyOrFullCOctetString::from_vec(b).unwrap_or_default()
}

/// An octet string field (short_message), truncated to 255 octets.
pub fn octets(b: &[u8]) -> OctetString<0, 255> {
    OctetString::from_slice(&b[..b.len().min(255)]).unwrap_or_default()
}

/// A received TLV as the message model keeps it (tag and raw value octets).
pub fn tlv_to_model(t: &rusmpp::tlvs::Tlv) -> smsgate_core::model::Tlv {
    use rusmpp::encode::{Encode, Length};
    let value = match t.value() {
        Some(v) => {
            let mut buf = vec![0u8; v.length()];
            let n = v.encode(&mut buf);
            buf.truncate(n);
            buf
        }
        None => vec![],
    };
    smsgate_core::model::Tlv {
        tag: u16::from(t.tag()),
        value,
    }
}

/// A model TLV for a `submit_sm`/`data_sm`, sent with its raw octets.
pub fn submission_tlv(
    t: &smsgate_core::model::Tlv,
) -> rusmpp::tlvs::MessageSubmissionRequestTlvValue {
    rusmpp::tlvs::MessageSubmissionRequestTlvValue::Other {
        tag: rusmpp::tlvs::TlvTag::from(t.tag),
        value: rusmpp::types::AnyOctetString::from_slice(&t.value),
    }
}

/// A model TLV for a `deliver_sm`, sent with its raw octets.
pub fn delivery_tlv(t: &smsgate_core::model::Tlv) -> rusmpp::tlvs::MessageDeliveryRequestTlvValue {
    rusmpp::tlvs::MessageDeliveryRequestTlvValue::Other {
        tag: rusmpp::tlvs::TlvTag::from(t.tag),
        value: rusmpp::types::AnyOctetString::from_slice(&t.value),
    }
}

/// A C-octet string's text (up to its NUL).
pub fn cstring(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .trim_end_matches('\0')
        .to_string()
}
