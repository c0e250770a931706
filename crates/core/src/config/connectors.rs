//! Connectors: `[[smppccs]]` (SMPP client connectors, spec table 36) and `[[httpccs]]` (HTTP client
//! connectors for MO).

use super::de::*;
use super::*;

/// Bind type of an SMPP client connector.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BindType {
    Transceiver,
    Transmitter,
    Receiver,
}

/// What `data_coding 0` means to an SMSC.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DefaultAlphabet {
    /// GSM 03.38, one septet per octet (what Jasmin and most SMSCs use).
    Gsm0338,
    /// GSM 03.38 packed 7-bit.
    Gsm0338Packed,
    /// ISO-8859-1.
    Latin1,
    /// IA5 / ASCII.
    Ascii,
}

/// An SMPP client connector, with jCli's parameter names (spec table 36) and defaults.
///
/// Deviations from Jasmin's defaults: `submit_throughput` is 0 (unlimited; Jasmin's 1 msg/s
/// throttles every new connector to a crawl) and `window` (new) allows 32 `submit_sm` in flight
/// (Jasmin waits for each response). `default_alphabet`, `window` and `tls_verify` are additions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmppClientConfig {
    pub cid: String,
    #[serde(deserialize_with = "de_opt_string")]
    pub logfile: Option<String>,
    pub logrotate: String,
    pub loglevel: u32,
    #[serde(deserialize_with = "de_yes_no")]
    pub logprivacy: bool,
    pub host: String,
    pub port: u16,
    #[serde(deserialize_with = "de_yes_no")]
    pub ssl: bool,
    /// Verify the SMSC's certificate when `ssl` is on.
    #[serde(deserialize_with = "de_yes_no")]
    pub tls_verify: bool,
    pub username: String,
    pub password: String,
    pub bind: BindType,
    /// Seconds to wait for the bind response (`bind_to`).
    #[serde(rename = "bind_to")]
    pub bind_timeout_s: u64,
    /// Seconds without any PDU before the session is dropped (`trx_to`).
    #[serde(rename = "trx_to")]
    pub inactivity_timeout_s: u64,
    /// Seconds to wait for a response to a request (`res_to`). A submit left unanswered this
    /// long while no other was answered either closes the session (a stalled SMSC).
    #[serde(rename = "res_to")]
    pub response_timeout_s: u64,
    /// Seconds to read a whole PDU once it started (`pdu_red_to`).
    #[serde(rename = "pdu_red_to")]
    pub pdu_read_timeout_s: u64,
    #[serde(deserialize_with = "de_yes_no")]
    pub con_loss_retry: bool,
    pub con_loss_delay: u64,
    #[serde(deserialize_with = "de_yes_no")]
    pub con_fail_retry: bool,
    /// Seconds before connecting again after a failed connection or bind, doubled on each
    /// further failure in a row up to a minute (or this, when longer).
    pub con_fail_delay: u64,
    #[serde(deserialize_with = "de_opt_string")]
    pub src_addr: Option<String>,
    pub src_ton: u8,
    pub src_npi: u8,
    pub dst_ton: u8,
    pub dst_npi: u8,
    pub bind_ton: u8,
    pub bind_npi: u8,
    /// Default validity period in seconds.
    pub validity: Option<u64>,
    pub priority: u8,
    pub requeue_delay: u64,
    #[serde(deserialize_with = "de_opt_string")]
    pub addr_range: Option<String>,
    #[serde(deserialize_with = "de_opt_string")]
    pub systype: Option<String>,
    pub dlr_expiry: u64,
    /// Messages per second, 0 = unlimited.
    pub submit_throughput: f64,
    pub proto_id: Option<u8>,
    pub coding: u8,
    /// Seconds between enquire_link requests (`elink_interval`).
    #[serde(rename = "elink_interval")]
    pub enquire_link_interval_s: u64,
    /// `sm_default_msg_id` of submissions (`def_msg_id`).
    #[serde(rename = "def_msg_id")]
    pub default_msg_id: u8,
    /// `replace_if_present_flag` of submissions (`ripf`).
    #[serde(rename = "ripf")]
    pub replace_if_present: u8,
    pub dlr_msgid: u8,
    /// Outstanding `submit_sm` allowed before waiting for responses.
    pub window: usize,
    pub default_alphabet: DefaultAlphabet,
    /// Receipt tracking group: a receipt is matched to a submission by (group, SMSC message
    /// id), so a `receiver` connector gets the receipts of a `transmitter` connector of the
    /// same group. `None` is the global group (Jasmin tracks ids globally); give connectors
    /// to SMSCs that may reuse each other's ids different groups.
    #[serde(deserialize_with = "de_opt_string")]
    pub dlr_group: Option<String>,
    /// Start the connector when the gateway starts from this file (jCli's `smppccm -1` / `-0`
    /// state, as `smsgate export-config` writes it; a persisted profile keeps its own).
    #[serde(deserialize_with = "de_yes_no")]
    pub start: bool,
}

/// Jasmin's defaults (spec table 36), with the deviations noted on [`SmppClientConfig`].
impl Default for SmppClientConfig {
    fn default() -> Self {
        SmppClientConfig {
            cid: String::new(),
            logfile: None,
            logrotate: "midnight".into(),
            loglevel: 20,
            logprivacy: false,
            host: "127.0.0.1".into(),
            port: 2775,
            ssl: false,
            tls_verify: true,
            username: "smppclient".into(),
            password: "password".into(),
            bind: BindType::Transceiver,
            bind_timeout_s: 30,
            inactivity_timeout_s: 300,
            response_timeout_s: 60,
            pdu_read_timeout_s: 10,
            con_loss_retry: true,
            con_loss_delay: 10,
            con_fail_retry: true,
            con_fail_delay: 10,
            src_addr: None,
            src_ton: 2,
            src_npi: 1,
            dst_ton: 1,
            dst_npi: 1,
            bind_ton: 0,
            bind_npi: 1,
            validity: None,
            priority: 0,
            requeue_delay: 120,
            addr_range: None,
            systype: None,
            dlr_expiry: 86400,
            submit_throughput: 0.0,
            proto_id: None,
            coding: 0,
            enquire_link_interval_s: 30,
            default_msg_id: 0,
            replace_if_present: 0,
            dlr_msgid: 0,
            window: 32,
            default_alphabet: DefaultAlphabet::Gsm0338,
            dlr_group: None,
            start: true,
        }
    }
}

impl SmppClientConfig {
    /// A connector with every parameter at its default.
    pub fn new(cid: &str) -> Self {
        // The only mandatory key is `cid`; serde fills in the rest.
        let v = serde_json::json!({ "cid": cid });
        serde_json::from_value(v).expect("defaults are valid")
    }
}

/// An HTTP client connector (jCli `httpccm`) for MO delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpClientConfig {
    pub cid: String,
    pub url: String,
    #[serde(default = "d_method")]
    pub method: String,
}

fn d_method() -> String {
    "GET".into()
}
