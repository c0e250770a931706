//! The message record: one versioned, serialisable structure that travels from a front door
//! through routing and the queue to a connector. Its JSON form is the queue body (embedded
//! queue today, AMQP in cluster mode): see `docs/message-schema.md`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Schema version of [`Message`]; bump on incompatible changes, readers accept older ones.
pub const SCHEMA_VERSION: u16 = 1;

/// Which way the message goes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Mobile terminated: from a client to a handset.
    Mt,
    /// Mobile originated: from a handset to a client.
    Mo,
}

/// The front door a message came through.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Http,
    Rest,
    Smpps,
    Smppc,
}

impl Channel {
    /// Its name, as serialized (`http`, `rest`, `smpps`, `smppc`).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Http => "http",
            Channel::Rest => "rest",
            Channel::Smpps => "smpps",
            Channel::Smppc => "smppc",
        }
    }
}

/// An SMPP address with its type of number and numbering plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Address {
    pub addr: String,
    pub ton: u8,
    pub npi: u8,
}

/// An SMPP optional parameter.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tlv {
    pub tag: u16,
    #[serde(with = "hex_bytes")]
    pub value: Vec<u8>,
}

/// One `submit_sm` worth of payload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Part {
    /// The `short_message` octets exactly as they go on the wire (UDH included).
    #[serde(with = "hex_bytes")]
    pub short_message: Vec<u8>,
    /// esm_class of this part (UDHI set when it carries a UDH).
    pub esm_class: u8,
    /// Per-part TLVs (SAR options).
    #[serde(default)]
    pub tlvs: Vec<Tlv>,
}

/// What the client asked to be told about delivery.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DlrRequest {
    pub url: String,
    /// 1 SMSC level, 2 terminal level, 3 both.
    pub level: u8,
    /// `GET` or `POST`.
    pub method: String,
}

/// The message record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub v: u16,
    /// The gateway's message id, returned to the client.
    pub id: Uuid,
    pub direction: Direction,
    pub channel: Channel,
    /// Sending user (MT).
    pub user: Option<String>,
    /// Sending user's group (MT).
    pub group: Option<String>,
    /// The routed connector id (MT), or the origin connector (MO).
    pub connector: String,
    pub source: Address,
    pub destination: Address,
    pub data_coding: u8,
    pub protocol_id: u8,
    /// 0 (lowest) to 3.
    pub priority: u8,
    pub registered_delivery: u8,
    pub replace_if_present: u8,
    pub sm_default_msg_id: u8,
    pub service_type: String,
    /// SMPP time string (absolute or relative), empty = SMSC default.
    pub validity_period: String,
    /// SMPP time string, empty = immediate.
    pub schedule_delivery_time: String,
    pub parts: Vec<Part>,
    /// TLVs sent with every part.
    #[serde(default)]
    pub tlvs: Vec<Tlv>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub locked_params: Vec<String>,
    pub dlr: Option<DlrRequest>,
    /// Unit rate charged per part by the route.
    pub rate: f64,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// The message fails locally if not sent by then (ms since the epoch).
    pub expires_at: i64,
    /// Not sent before this time (ms since the epoch).
    pub not_before: Option<i64>,
    /// Batch or job this message belongs to.
    pub batch_id: Option<String>,
    /// Delivery attempts so far.
    pub tries: u32,
    /// SMSC ids of the parts already accepted (a retry resumes after them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sent_parts: Vec<String>,
    /// Asynchronous billing: amount still owed per part, charged when the SMSC accepts the
    /// part (`submit_sm_resp` ESME_ROK). 0 when everything was charged at submission.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bill_rest: f64,
    /// Set on HTTP callback jobs (DLR and MO throws): what to call. The rest of the message
    /// is the context the callback was built from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<Callback>,
    /// A copy that may duplicate one already handled: published again after the broker lost
    /// the confirmation of a first publish (which may have been queued too), or put back
    /// while another copy was being sent. The consumer drops it if the message has finished.
    #[serde(default, skip_serializing_if = "is_false")]
    pub republished: bool,
}

/// What a callback job is for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CallbackKind {
    /// A delivery receipt to `dlr-url`.
    Dlr,
    /// An MO message to an HTTP client connector.
    Mo,
}

/// An HTTP callback to make (GET with a query string or POST with a form body).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Callback {
    pub kind: CallbackKind,
    pub url: String,
    /// `GET` or `POST`.
    pub method: String,
    /// Parameters in the order they are sent.
    pub params: Vec<(String, String)>,
    /// The HTTP client connector this call delivers an MO for: the thrower reports whether
    /// the call succeeded as that connector's health, which failover routes read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_connector: Option<String>,
}

impl Message {
    /// A callback job: the envelope the DLR and MO throwers consume from their queues. It is
    /// a `Message` (direction `Mo`, channel `Http`, the call in [`Message::callback`]) so that
    /// jobs share the queues' one versioned record; `owner` is the user whose callback
    /// policy applies (none: an operator-configured target), `connector` the connector the
    /// receipt or MO came from.
    pub fn callback_job(
        callback: Callback,
        owner: Option<String>,
        connector: &str,
        now_ms: i64,
    ) -> Message {
        Message {
            user: owner,
            connector: connector.to_string(),
            callback: Some(callback),
            ..Message::new(Direction::Mo, Channel::Http, now_ms)
        }
    }

    /// A message with a fresh id, created at `now_ms`, expiring a week later, and every
    /// other field empty: front doors and inbound paths fill in what they know with
    /// struct-update syntax (`Message { source, ..Message::new(..) }`).
    pub fn new(direction: Direction, channel: Channel, now_ms: i64) -> Message {
        Message {
            v: SCHEMA_VERSION,
            id: new_id(),
            direction,
            channel,
            user: None,
            group: None,
            connector: String::new(),
            source: Address::default(),
            destination: Address::default(),
            data_coding: 0,
            protocol_id: 0,
            priority: 0,
            registered_delivery: 0,
            replace_if_present: 0,
            sm_default_msg_id: 0,
            service_type: String::new(),
            validity_period: String::new(),
            schedule_delivery_time: String::new(),
            parts: vec![],
            tlvs: vec![],
            tags: vec![],
            locked_params: vec![],
            dlr: None,
            rate: 0.0,
            created_at: now_ms,
            expires_at: now_ms + 7 * 86_400_000,
            not_before: None,
            batch_id: None,
            tries: 0,
            sent_parts: vec![],
            bill_rest: 0.0,
            callback: None,
            republished: false,
        }
    }

    /// Serialise to the queue body.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
    /// Parse a queue body.
    pub fn from_bytes(b: &[u8]) -> Result<Message, serde_json::Error> {
        serde_json::from_slice(b)
    }
}

/// A fresh message id: a time-ordered UUID (version 7, RFC 9562). Every table and index keyed
/// by message id then grows at its end instead of at a random page, which is most of what a
/// commit writes when ids are random (version 4). Clients see the same 36-character form.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// The gateway's time in milliseconds since the epoch ([`crate::clock::now_ms`]: the wall
/// clock at start advanced by the monotonic clock, so a stepped system clock moves no delay).
pub fn now_ms() -> i64 {
    crate::clock::now_ms()
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        hex::decode(s.as_bytes()).map_err(serde::de::Error::custom)
    }
}

fn is_false(v: &bool) -> bool {
    !*v
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}
