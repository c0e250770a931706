//! Names Jasmin gives SMPP values (Python `smpp.pdu` enums), shared by the store importer and
//! the side-by-side receipt lookup (Jasmin's Redis keeps enum members as `AddrTon.NATIONAL`).

/// `AddrTon` members in declaration order, with their SMPP codes.
pub const TON: [(&str, u8); 7] = [
    ("UNKNOWN", 0),
    ("INTERNATIONAL", 1),
    ("NATIONAL", 2),
    ("NETWORK_SPECIFIC", 3),
    ("SUBSCRIBER_NUMBER", 4),
    ("ALPHANUMERIC", 5),
    ("ABBREVIATED", 6),
];

/// `AddrNpi` members in declaration order, with their SMPP codes.
pub const NPI: [(&str, u8); 10] = [
    ("UNKNOWN", 0),
    ("ISDN", 1),
    ("DATA", 3),
    ("TELEX", 4),
    ("LAND_MOBILE", 6),
    ("NATIONAL", 8),
    ("PRIVATE", 9),
    ("ERMES", 10),
    ("INTERNET", 14),
    ("WAP_CLIENT_ID", 18),
];

/// `RegisteredDeliveryReceipt` members in declaration order, with their SMPP codes.
pub const RECEIPT: [(&str, u8); 3] = [
    ("NO_SMSC_DELIVERY_RECEIPT_REQUESTED", 0),
    ("SMSC_DELIVERY_RECEIPT_REQUESTED", 1),
    ("SMSC_DELIVERY_RECEIPT_REQUESTED_FOR_FAILURE", 2),
];

/// The code of a member written as `Class.NAME`, `NAME` or a number (what Python's `str()`
/// of the enum, jCli input or an older store hold).
pub fn code_of(text: &str, table: &[(&str, u8)]) -> Option<u8> {
    let name = text.rsplit('.').next().unwrap_or(text).trim();
    table
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, c)| *c)
        .or_else(|| name.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_as_python_prints_them() {
        assert_eq!(code_of("AddrTon.INTERNATIONAL", &TON), Some(1));
        assert_eq!(code_of("AddrNpi.LAND_MOBILE", &NPI), Some(6));
        assert_eq!(code_of("national", &NPI), Some(8));
        assert_eq!(code_of("5", &TON), Some(5));
        assert_eq!(
            code_of(
                "RegisteredDeliveryReceipt.SMSC_DELIVERY_RECEIPT_REQUESTED_FOR_FAILURE",
                &RECEIPT
            ),
            Some(2)
        );
        assert_eq!(code_of("AddrTon.BOGUS", &TON), None);
    }
}
