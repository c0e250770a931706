//! The gateway's [`Message`] to and from the routable the Python runtime builds Jasmin's
//! objects from: PDU parameters by smpp.pdu's names, optional parameters by name when SMPP
//! 3.4 names them (`pdu.custom_tlvs` otherwise).

use smsgate_core::model::{Message, Part, Tlv};

use crate::bindings::python::{CustomTlv, Door, Pdu, Routable, User, Verdict};

/// A PDU parameter's value, as the runtime's JSON carries it (`wit/python/runtime.wit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An integer (JSON number).
    Int(i64),
    /// Octets (`{"b": "..."}`, one character per octet).
    Octets(Vec<u8>),
    /// Text (`{"t": "..."}`).
    Text(String),
}

/// A named PDU parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: Value,
}

/// `params` as JSON: `[[name, value], ...]` (the runtime's format, `wit/python/runtime.wit`).
pub fn params_json(params: &[Param]) -> String {
    let mut w = ParamsJson::new();
    for p in params {
        match &p.value {
            Value::Int(v) => w.int(&p.name, *v),
            Value::Octets(b) => w.octets(&p.name, b),
            Value::Text(t) => w.text(&p.name, t),
        }
    }
    w.finish()
}

/// Writes a PDU's `params` JSON straight from the values (this runs for every message a
/// script sees: no intermediate [`Param`]s, no string per value).
struct ParamsJson {
    out: Vec<u8>,
}

impl ParamsJson {
    fn new() -> ParamsJson {
        let mut out = Vec::with_capacity(640);
        out.push(b'[');
        ParamsJson { out }
    }

    fn name(&mut self, name: &str) {
        if self.out.len() > 1 {
            self.out.push(b',');
        }
        self.out.push(b'[');
        json_str(&mut self.out, name);
        self.out.push(b',');
    }

    fn int(&mut self, name: &str, v: i64) {
        use std::io::Write;
        self.name(name);
        // Writing to a Vec cannot fail.
        let _ = write!(self.out, "{v}]");
    }

    /// Octets: a JSON string of the characters U+0000-U+00FF, one per octet.
    fn octets(&mut self, name: &str, b: &[u8]) {
        self.name(name);
        self.out.extend_from_slice(b"{\"b\":\"");
        for &c in b {
            match c {
                b'"' => self.out.extend_from_slice(b"\\\""),
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                0..=0x1f => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.out.extend_from_slice(b"\\u00");
                    self.out.push(HEX[usize::from(c >> 4)]);
                    self.out.push(HEX[usize::from(c & 0xf)]);
                }
                0x20..=0x7f => self.out.push(c),
                // U+0080-U+00FF in UTF-8
                _ => self
                    .out
                    .extend_from_slice(&[0xc0 | (c >> 6), 0x80 | (c & 0x3f)]),
            }
        }
        self.out.extend_from_slice(b"\"}]");
    }

    fn text(&mut self, name: &str, t: &str) {
        self.name(name);
        self.out.extend_from_slice(b"{\"t\":");
        json_str(&mut self.out, t);
        self.out.extend_from_slice(b"}]");
    }

    fn finish(mut self) -> String {
        self.out.push(b']');
        // Only valid UTF-8 was written (escaped names and texts, octets as two-byte
        // characters at most).
        String::from_utf8(self.out).unwrap_or_default()
    }
}

/// `s` as a JSON string (quoted, escaped).
fn json_str(out: &mut Vec<u8>, s: &str) {
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

/// The parameters of a runtime's `params` JSON (unreadable entries are skipped).
pub fn parse_params(json: &str) -> Vec<Param> {
    use serde_json::Value as J;
    let Ok(J::Array(list)) = serde_json::from_str::<J>(json) else {
        return vec![];
    };
    list.into_iter()
        .filter_map(|pair| {
            let J::Array(mut pair) = pair else {
                return None;
            };
            if pair.len() != 2 {
                return None;
            }
            let v = pair.pop()?;
            let J::String(name) = pair.pop()? else {
                return None;
            };
            let value = match v {
                J::Number(n) => Value::Int(n.as_i64()?),
                J::Object(mut o) => match (o.remove("b"), o.remove("t")) {
                    (Some(J::String(b)), _) => Value::Octets(
                        b.chars()
                            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                            .collect(),
                    ),
                    (_, Some(J::String(t))) => Value::Text(t),
                    _ => return None,
                },
                _ => return None,
            };
            Some(Param { name, value })
        })
        .collect()
}

/// How an optional parameter's value is represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An integer of 1, 2 or 4 octets.
    Int(usize),
    /// Octets (C strings keep their terminating NUL out).
    Octets,
    CString,
}

/// SMPP 3.4's optional parameters (smpp.pdu's names).
const TLVS: &[(u16, &str, Kind)] = &[
    (0x0005, "dest_addr_subunit", Kind::Int(1)),
    (0x0006, "dest_network_type", Kind::Int(1)),
    (0x0007, "dest_bearer_type", Kind::Int(1)),
    (0x0008, "dest_telematics_id", Kind::Int(2)),
    (0x000D, "source_addr_subunit", Kind::Int(1)),
    (0x000E, "source_network_type", Kind::Int(1)),
    (0x000F, "source_bearer_type", Kind::Int(1)),
    (0x0010, "source_telematics_id", Kind::Int(1)),
    (0x0017, "qos_time_to_live", Kind::Int(4)),
    (0x0019, "payload_type", Kind::Int(1)),
    (0x001D, "additional_status_info_text", Kind::CString),
    (0x001E, "receipted_message_id", Kind::CString),
    (0x0030, "ms_msg_wait_facilities", Kind::Int(1)),
    (0x0201, "privacy_indicator", Kind::Int(1)),
    (0x0202, "source_subaddress", Kind::Octets),
    (0x0203, "dest_subaddress", Kind::Octets),
    (0x0204, "user_message_reference", Kind::Int(2)),
    (0x0205, "user_response_code", Kind::Int(1)),
    (0x020A, "source_port", Kind::Int(2)),
    (0x020B, "destination_port", Kind::Int(2)),
    (0x020C, "sar_msg_ref_num", Kind::Int(2)),
    (0x020D, "language_indicator", Kind::Int(1)),
    (0x020E, "sar_total_segments", Kind::Int(1)),
    (0x020F, "sar_segment_seqnum", Kind::Int(1)),
    (0x0210, "sc_interface_version", Kind::Int(1)),
    (0x0302, "callback_num_pres_ind", Kind::Int(1)),
    (0x0303, "callback_num_atag", Kind::Octets),
    (0x0304, "number_of_messages", Kind::Int(1)),
    (0x0381, "callback_num", Kind::Octets),
    (0x0420, "dpf_result", Kind::Int(1)),
    (0x0421, "set_dpf", Kind::Int(1)),
    (0x0422, "ms_availability_status", Kind::Int(1)),
    (0x0423, "network_error_code", Kind::Octets),
    (0x0424, "message_payload", Kind::Octets),
    (0x0425, "delivery_failure_reason", Kind::Int(1)),
    (0x0426, "more_messages_to_send", Kind::Int(1)),
    (0x0427, "message_state", Kind::Int(1)),
    (0x0501, "ussd_service_op", Kind::Int(1)),
    (0x1201, "display_time", Kind::Int(1)),
    (0x1203, "sms_signal", Kind::Int(2)),
    (0x1204, "ms_validity", Kind::Int(1)),
    (0x130C, "alert_on_message_delivery", Kind::Octets),
    (0x1380, "its_reply_type", Kind::Int(1)),
    (0x1383, "its_session_info", Kind::Octets),
];

/// Per-part optional parameters (the SAR options a split message carries on each part).
const PER_PART: [u16; 3] = [0x020C, 0x020E, 0x020F];

fn tlv_by_tag(tag: u16) -> Option<(&'static str, Kind)> {
    TLVS.iter()
        .find(|(t, _, _)| *t == tag)
        .map(|(_, n, k)| (*n, *k))
}

fn tlv_by_name(name: &str) -> Option<(u16, Kind)> {
    TLVS.iter()
        .find(|(_, n, _)| *n == name)
        .map(|(t, _, k)| (*t, *k))
}

/// The PDUs of `m` as a script sees them: one per part (`parts`: the message's own, or the
/// parts its content would be split into), each with the message's parameters and its own
/// payload.
pub fn routable(m: &Message, door: Door, parts: &[Part], user: Option<User>) -> Routable {
    let command = match door {
        Door::Smppc => "deliver_sm",
        _ => "submit_sm",
    };
    let empty = [Part {
        short_message: vec![],
        esm_class: 0,
        tlvs: vec![],
    }];
    let parts = if parts.is_empty() { &empty[..] } else { parts };
    let pdus = parts
        .iter()
        .map(|p| {
            let mut w = ParamsJson::new();
            if !m.service_type.is_empty() {
                w.octets("service_type", m.service_type.as_bytes());
            }
            w.int("source_addr_ton", m.source.ton.into());
            w.int("source_addr_npi", m.source.npi.into());
            if !m.source.addr.is_empty() {
                w.octets("source_addr", m.source.addr.as_bytes());
            }
            w.int("dest_addr_ton", m.destination.ton.into());
            w.int("dest_addr_npi", m.destination.npi.into());
            w.octets("destination_addr", m.destination.addr.as_bytes());
            w.int("esm_class", p.esm_class.into());
            w.int("protocol_id", m.protocol_id.into());
            w.int("priority_flag", m.priority.into());
            if !m.schedule_delivery_time.is_empty() {
                w.octets(
                    "schedule_delivery_time",
                    m.schedule_delivery_time.as_bytes(),
                );
            }
            if !m.validity_period.is_empty() {
                w.octets("validity_period", m.validity_period.as_bytes());
            }
            w.int("registered_delivery", m.registered_delivery.into());
            w.int("replace_if_present_flag", m.replace_if_present.into());
            w.int("data_coding", m.data_coding.into());
            w.int("sm_default_msg_id", m.sm_default_msg_id.into());
            w.octets("short_message", &p.short_message);
            let mut custom = vec![];
            for t in m.tlvs.iter().chain(p.tlvs.iter()) {
                match tlv_by_tag(t.tag) {
                    Some((name, Kind::Int(_))) => {
                        let v = t
                            .value
                            .iter()
                            .fold(0i64, |acc, b| (acc << 8) | i64::from(*b));
                        w.int(name, v);
                    }
                    Some((name, Kind::CString)) => {
                        let v = t.value.strip_suffix(&[0]).unwrap_or(&t.value);
                        w.octets(name, v);
                    }
                    Some((name, Kind::Octets)) => w.octets(name, &t.value),
                    None => custom.push(CustomTlv {
                        tag: t.tag,
                        value: t.value.clone(),
                    }),
                }
            }
            Pdu {
                command: command.to_string(),
                seq_num: None,
                params: w.finish(),
                custom_tlvs: custom,
            }
        })
        .collect();
    Routable {
        door,
        pdus,
        user,
        connector: (door == Door::Smppc).then(|| m.connector.clone()),
        datetime_us: m.created_at.saturating_mul(1000),
        tags: m.tags.clone(),
        locked: m.locked_params.clone(),
    }
}

fn as_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Octets(b) => b.clone(),
        Value::Text(s) => s.as_bytes().to_vec(),
        Value::Int(i) => i.to_string().into_bytes(),
    }
}

fn as_string(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        other => String::from_utf8_lossy(&as_bytes(other)).into_owned(),
    }
}

fn as_u8(v: &Value) -> Option<u8> {
    match v {
        Value::Int(i) => u8::try_from(*i).ok(),
        Value::Text(s) => s.trim().parse().ok(),
        Value::Octets(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
    }
}

fn tlv_value(kind: Kind, v: &Value) -> Vec<u8> {
    match (kind, v) {
        (Kind::Int(n), Value::Int(i)) => i.to_be_bytes()[8 - n..].to_vec(),
        (Kind::CString, v) => {
            let mut b = as_bytes(v);
            b.push(0);
            b
        }
        (_, v) => as_bytes(v),
    }
}

/// What a script changed in the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Nothing.
    Unchanged,
    /// New parts (the PDUs' `short_message` octets, `esm_class` and per-part options).
    Parts(Vec<Part>),
    /// A single PDU's `short_message` assigned a `str`: text to encode anew.
    Text(String),
}

/// Apply what an interceptor script changed (`v`, a verdict without an answer) to `m`: tags
/// and locks when it changed them; when it changed a PDU, the first PDU's parameters become
/// the message's. `before` is what the script was given: the content counts as changed only
/// when a `short_message` did.
pub fn apply(m: &mut Message, v: &Verdict, before: &Routable) -> Content {
    if let Some(tags) = &v.tags {
        m.tags = tags.clone();
    }
    if let Some(locked) = &v.locked {
        m.locked_params = locked.clone();
    }
    // None: the script changed no PDU (the runtime sends back only what changed).
    let Some(after) = v.pdus.as_deref() else {
        return Content::Unchanged;
    };
    let Some(first) = after.first() else {
        return Content::Unchanged;
    };
    let Some(given) = before.pdus.first() else {
        return Content::Unchanged;
    };
    if after.len() == before.pdus.len()
        && after
            .iter()
            .zip(&before.pdus)
            .all(|(a, b)| a.params == b.params && a.custom_tlvs == b.custom_tlvs)
    {
        // Only a PDU's sequence number or command changed: nothing the message carries.
        return Content::Unchanged;
    }
    let first_params = parse_params(&first.params);
    let mut tlvs = vec![];
    for p in &first_params {
        let v = &p.value;
        match p.name.as_str() {
            "service_type" => m.service_type = as_string(v),
            "source_addr_ton" => m.source.ton = as_u8(v).unwrap_or(m.source.ton),
            "source_addr_npi" => m.source.npi = as_u8(v).unwrap_or(m.source.npi),
            "source_addr" => m.source.addr = as_string(v),
            "dest_addr_ton" => m.destination.ton = as_u8(v).unwrap_or(m.destination.ton),
            "dest_addr_npi" => m.destination.npi = as_u8(v).unwrap_or(m.destination.npi),
            "destination_addr" => m.destination.addr = as_string(v),
            "protocol_id" => m.protocol_id = as_u8(v).unwrap_or(m.protocol_id),
            "priority_flag" => m.priority = as_u8(v).unwrap_or(m.priority).min(3),
            "schedule_delivery_time" => m.schedule_delivery_time = as_string(v),
            "validity_period" => m.validity_period = as_string(v),
            "registered_delivery" => {
                m.registered_delivery = as_u8(v).unwrap_or(m.registered_delivery)
            }
            "replace_if_present_flag" => {
                m.replace_if_present = as_u8(v).unwrap_or(m.replace_if_present)
            }
            "data_coding" => m.data_coding = as_u8(v).unwrap_or(m.data_coding),
            "sm_default_msg_id" => m.sm_default_msg_id = as_u8(v).unwrap_or(m.sm_default_msg_id),
            name => {
                if let Some((tag, kind)) = tlv_by_name(name) {
                    if !PER_PART.contains(&tag) {
                        tlvs.push(Tlv {
                            tag,
                            value: tlv_value(kind, v),
                        });
                    }
                }
            }
        }
    }
    for c in &first.custom_tlvs {
        tlvs.push(Tlv {
            tag: c.tag,
            value: c.value.clone(),
        });
    }
    m.tlvs = tlvs;
    let short_of = |params: Vec<Param>| {
        params
            .into_iter()
            .find(|x| x.name == "short_message")
            .map(|x| x.value)
    };
    let short = |p: &Pdu| short_of(parse_params(&p.params));
    let first_short = first_params
        .iter()
        .find(|x| x.name == "short_message")
        .map(|x| x.value.clone());
    let changed = after.len() != before.pdus.len()
        || (first.params != given.params && first_short != short(given))
        || after
            .iter()
            .zip(&before.pdus)
            .skip(1)
            .any(|(a, b)| a.params != b.params && short(a) != short(b));
    if !changed {
        return Content::Unchanged;
    }
    if let ([_], Some(Value::Text(t))) = (after, &first_short) {
        return Content::Text(t.clone());
    }
    Content::Parts(
        after
            .iter()
            .map(|p| {
                let params = parse_params(&p.params);
                let get = |n: &str| params.iter().find(|x| x.name == n).map(|x| &x.value);
                Part {
                    short_message: get("short_message").map(as_bytes).unwrap_or_default(),
                    esm_class: get("esm_class").and_then(as_u8).unwrap_or(0),
                    tlvs: params
                        .iter()
                        .filter_map(|x| {
                            let (tag, kind) = tlv_by_name(&x.name)?;
                            PER_PART.contains(&tag).then(|| Tlv {
                                tag,
                                value: tlv_value(kind, &x.value),
                            })
                        })
                        .collect(),
                }
            })
            .collect(),
    )
}

/// `routable.user` for `u`: the MT credential as its configuration's JSON (sections of
/// keys, as the config file spells them); the runtime turns it into Jasmin's credential
/// object only when a script reads it.
pub fn user(u: &smsgate_core::model::User) -> User {
    User {
        uid: u.uid.clone(),
        username: u.username.clone(),
        gid: u.gid.clone(),
        enabled: u.enabled,
        mt_credential: serde_json::to_string(&u.mt_cred).unwrap_or_else(|_| "{}".into()),
    }
}

/// `routable.user` when only the ids are known (routing filters).
pub fn user_ids(uid: &str, username: Option<&str>, gid: &str) -> User {
    User {
        uid: uid.to_string(),
        username: username.unwrap_or(uid).to_string(),
        gid: gid.to_string(),
        enabled: true,
        mt_credential: "{}".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsgate_core::model::{Channel, Direction};

    #[test]
    fn params_json_carries_every_octet_and_text() {
        let every: Vec<u8> = (0..=255).collect();
        let params = vec![
            Param {
                name: "short_message".into(),
                value: Value::Octets(every.clone()),
            },
            Param {
                name: "sm_default_msg_id".into(),
                value: Value::Int(-7),
            },
            Param {
                name: "message_payload".into(),
                value: Value::Text("é😀\"\\\n".into()),
            },
        ];
        let json = params_json(&params);
        // valid JSON, as a JSON parser reads it
        let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(v[1], serde_json::json!(["sm_default_msg_id", -7]));
        let chars: Vec<u32> = v[0][1]["b"]
            .as_str()
            .expect("b")
            .chars()
            .map(u32::from)
            .collect();
        assert_eq!(chars, (0..=255).collect::<Vec<u32>>());
        assert_eq!(parse_params(&json), params);
        assert_eq!(params_json(&[]), "[]");
    }

    #[test]
    fn round_trip_keeps_the_message_and_sees_changes() {
        let mut m = Message::new(Direction::Mt, Channel::Http, 1_000);
        m.source.addr = "JASMIN".into();
        m.destination.addr = "33600000000".into();
        m.tlvs = vec![
            Tlv {
                tag: 0x0204,
                value: vec![0, 7],
            },
            Tlv {
                tag: 0x1400,
                value: b"x".to_vec(),
            },
        ];
        let parts = vec![Part {
            short_message: b"hello".to_vec(),
            esm_class: 3,
            tlvs: vec![],
        }];
        let before = routable(&m, Door::Http, &parts, None);
        assert_eq!(before.datetime_us, 1_000_000);
        let p = &before.pdus[0];
        let params = parse_params(&p.params);
        assert!(params
            .iter()
            .any(|x| x.name == "user_message_reference" && x.value == Value::Int(7)));
        assert!(params
            .iter()
            .any(|x| x.name == "source_addr" && x.value == Value::Octets(b"JASMIN".to_vec())));
        assert_eq!(p.custom_tlvs.len(), 1);
        let nothing = Verdict {
            pdus: None,
            tags: None,
            locked: None,
            smpp_status: None,
            smpp_status_known: false,
            http_status: None,
            extra: vec![],
        };
        let mut same = m.clone();
        assert_eq!(apply(&mut same, &nothing, &before), Content::Unchanged);
        assert_eq!(same, m);
        // the PDUs sent back as they were: still unchanged
        let echoed = Verdict {
            pdus: Some(before.pdus.clone()),
            ..nothing.clone()
        };
        assert_eq!(apply(&mut same, &echoed, &before), Content::Unchanged);
        assert_eq!(same, m);

        let mut after = before.clone();
        let mut params = parse_params(&after.pdus[0].params);
        for x in &mut params {
            if x.name == "source_addr" {
                x.value = Value::Text("NEWSRC".into());
            }
            if x.name == "short_message" {
                x.value = Value::Text("bye".into());
            }
        }
        after.pdus[0].params = params_json(&params);
        let verdict = Verdict {
            pdus: Some(after.pdus),
            tags: Some(vec!["42".into()]),
            ..nothing
        };
        let mut changed = m.clone();
        assert_eq!(
            apply(&mut changed, &verdict, &before),
            Content::Text("bye".into())
        );
        assert_eq!(changed.source.addr, "NEWSRC");
        assert_eq!(changed.tags, vec!["42".to_string()]);
        assert_eq!(changed.tlvs, m.tlvs);
    }
}
