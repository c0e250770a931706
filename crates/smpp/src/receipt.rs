//! Reading delivery receipts: the de-facto standard receipt text of SMPP v3.4 appendix B
//! (`id:... sub:... dlvrd:... submit date:... done date:... stat:... err:... text:...`) and
//! the `receipted_message_id` / `message_state` / `network_error_code` TLVs.

use std::sync::OnceLock;

use regex::Regex;

use smsgate_core::model::Tlv;

/// A parsed receipt. Fields the SMSC left out are empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    /// The SMSC's message id (as the receipt writes it).
    pub id: String,
    pub sub: String,
    pub dlvrd: String,
    pub submit_date: String,
    pub done_date: String,
    /// `DELIVRD`, `EXPIRED`, `DELETED`, `UNDELIV`, `ACCEPTD`, `UNKNOWN`, `REJECTD`, `ENROUTE`.
    pub stat: String,
    pub err: String,
    pub text: String,
}

impl Receipt {
    /// A final state: no more receipts will follow for this message.
    pub fn is_final(&self) -> bool {
        !matches!(self.stat.as_str(), "ENROUTE" | "ACCEPTD" | "SCHEDULED" | "")
    }
}

/// Tags of the receipt TLVs.
pub const TAG_RECEIPTED_MESSAGE_ID: u16 = 0x001E;
pub const TAG_MESSAGE_STATE: u16 = 0x0427;
pub const TAG_NETWORK_ERROR_CODE: u16 = 0x0423;

/// SMPP `message_state` → receipt `stat`.
pub fn stat_of_state(state: u8) -> &'static str {
    match state {
        0 => "SCHEDULED",
        1 => "ENROUTE",
        2 => "DELIVRD",
        3 => "EXPIRED",
        4 => "DELETED",
        5 => "UNDELIV",
        6 => "ACCEPTD",
        8 => "REJECTD",
        9 => "SKIPPED",
        _ => "UNKNOWN",
    }
}

/// Receipt `stat` → SMPP `message_state`.
pub fn state_of_stat(stat: &str) -> u8 {
    match stat {
        "SCHEDULED" => 0,
        "ENROUTE" => 1,
        "DELIVRD" => 2,
        "EXPIRED" => 3,
        "DELETED" => 4,
        "UNDELIV" => 5,
        "ACCEPTD" => 6,
        "REJECTD" => 8,
        "SKIPPED" => 9,
        _ => 7,
    }
}

fn field(re: &'static OnceLock<Regex>, pat: &str, text: &str) -> String {
    re.get_or_init(|| Regex::new(pat).unwrap_or_else(|_| Regex::new("$^").expect("empty regex")))
        .captures(text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
        .unwrap_or_default()
}

/// Parse a receipt from its text and TLVs. None when neither carries a message id.
pub fn parse(short_message: &[u8], tlvs: &[Tlv]) -> Option<Receipt> {
    static ID: OnceLock<Regex> = OnceLock::new();
    static SUB: OnceLock<Regex> = OnceLock::new();
    static DLVRD: OnceLock<Regex> = OnceLock::new();
    static SDATE: OnceLock<Regex> = OnceLock::new();
    static DDATE: OnceLock<Regex> = OnceLock::new();
    static STAT: OnceLock<Regex> = OnceLock::new();
    static ERR: OnceLock<Regex> = OnceLock::new();
    static TEXT: OnceLock<Regex> = OnceLock::new();
    let text = String::from_utf8_lossy(short_message);
    let mut r = Receipt {
        id: field(&ID, r"(?i)(?:^|\s)id:(\S+)", &text),
        sub: field(&SUB, r"(?i)\bsub:(\S+)", &text),
        dlvrd: field(&DLVRD, r"(?i)\bdlvrd:(\S+)", &text),
        submit_date: field(&SDATE, r"(?i)\bsubmit date:(\d+)", &text),
        done_date: field(&DDATE, r"(?i)\bdone date:(\d+)", &text),
        stat: field(&STAT, r"(?i)\bstat:(\S+)", &text).to_ascii_uppercase(),
        err: field(&ERR, r"(?i)\berr:(\S+)", &text),
        text: field(&TEXT, r"(?i)\btext:(.*)$", &text),
    };
    for t in tlvs {
        match t.tag {
            TAG_RECEIPTED_MESSAGE_ID => {
                let id = String::from_utf8_lossy(&t.value)
                    .trim_end_matches('\0')
                    .to_string();
                if !id.is_empty() {
                    r.id = id;
                }
            }
            TAG_MESSAGE_STATE => {
                if let Some(s) = t.value.first() {
                    if r.stat.is_empty() {
                        r.stat = stat_of_state(*s).to_string();
                    }
                }
            }
            TAG_NETWORK_ERROR_CODE if t.value.len() == 3 && r.err.is_empty() => {
                r.err = format!("{:03}", u16::from_be_bytes([t.value[1], t.value[2]]));
            }
            _ => {}
        }
    }
    if r.id.is_empty() {
        return None;
    }
    if r.stat.is_empty() {
        r.stat = "UNKNOWN".into();
    }
    Some(r)
}

/// The key under which a submit_sm_resp id is tracked, per the connector's `dlr_msgid` mode
/// (0: same in both; 1: hex in the response, decimal in receipts; 2: the reverse). Ids are
/// normalised to the receipt's form, so `receipt_key` finds them.
pub fn resp_key(id: &str, mode: u8) -> String {
    match mode {
        1 => u128::from_str_radix(id.trim(), 16)
            .map(|n| n.to_string())
            .unwrap_or_else(|_| id.trim().to_string()),
        2 => id
            .trim()
            .parse::<u128>()
            .map(|n| format!("{n:x}"))
            .unwrap_or_else(|_| id.trim().to_ascii_lowercase()),
        _ => normalise(id),
    }
}

/// The key of a receipt's id (see [`resp_key`]).
pub fn receipt_key(id: &str, mode: u8) -> String {
    match mode {
        1 => id
            .trim()
            .parse::<u128>()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| id.trim().to_string()),
        2 => u128::from_str_radix(id.trim(), 16)
            .map(|n| format!("{n:x}"))
            .unwrap_or_else(|_| id.trim().to_ascii_lowercase()),
        _ => normalise(id),
    }
}

fn normalise(id: &str) -> String {
    id.trim().to_string()
}

/// The receipt text the gateway writes for an ESME (Jasmin's layout).
pub fn format_text(id: &str, r: &Receipt) -> String {
    let mut s = format!(
        "id:{id} submit date:{} done date:{} stat:{} err:{}",
        r.submit_date,
        r.done_date,
        r.stat,
        if r.err.is_empty() { "000" } else { &r.err }
    );
    if !r.sub.is_empty() {
        s = format!(
            "id:{id} sub:{} dlvrd:{} submit date:{} done date:{} stat:{} err:{} text:{}",
            r.sub,
            r.dlvrd,
            r.submit_date,
            r.done_date,
            r.stat,
            if r.err.is_empty() { "000" } else { &r.err },
            r.text.chars().take(20).collect::<String>()
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_text() {
        let r = parse(
            b"id:2567 sub:001 dlvrd:001 submit date:1311022338 done date:1311022340 stat:DELIVRD err:000 text:Hello foo bar",
            &[],
        )
        .expect("receipt");
        assert_eq!(r.id, "2567");
        assert_eq!(r.sub, "001");
        assert_eq!(r.dlvrd, "001");
        assert_eq!(r.submit_date, "1311022338");
        assert_eq!(r.done_date, "1311022340");
        assert_eq!(r.stat, "DELIVRD");
        assert_eq!(r.err, "000");
        assert_eq!(r.text, "Hello foo bar");
        assert!(r.is_final());
    }

    #[test]
    fn tlvs_win_for_the_id_and_fill_the_state() {
        let r = parse(
            b"",
            &[
                Tlv {
                    tag: TAG_RECEIPTED_MESSAGE_ID,
                    value: b"abc\0".to_vec(),
                },
                Tlv {
                    tag: TAG_MESSAGE_STATE,
                    value: vec![5],
                },
            ],
        )
        .expect("receipt");
        assert_eq!(r.id, "abc");
        assert_eq!(r.stat, "UNDELIV");
    }

    #[test]
    fn malformed() {
        assert!(parse(b"hello there", &[]).is_none());
        assert!(parse(&[0xff, 0xfe, 0x00], &[]).is_none());
        let r = parse(b"id:1 stat:", &[]).expect("id only");
        assert_eq!(r.stat, "UNKNOWN");
    }

    #[test]
    fn msgid_modes() {
        assert_eq!(resp_key("1f", 1), receipt_key("31", 1));
        assert_eq!(resp_key("31", 2), receipt_key("1F", 2));
        assert_eq!(resp_key("abc", 0), receipt_key("abc", 0));
        assert_ne!(resp_key("1f", 0), receipt_key("31", 0));
    }
}
