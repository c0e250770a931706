//! SMPP v3.4: the shared session layer, client connectors and TLS.
pub mod client;
pub mod session;
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

/// An octet string field (short_message), truncated to 255 octets.
pub fn octets(b: &[u8]) -> OctetString<0, 255> {
    OctetString::from_slice(&b[..b.len().min(255)]).unwrap_or_default()
}
