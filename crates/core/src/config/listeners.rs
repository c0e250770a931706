//! The listeners: `[http-api]`, `[smpp-server]`, `[jcli]` and `[rest-api]`.

use super::de::*;
use super::*;

/// `[http-api]`: Jasmin's HTTP API (`/send`, `/balance`, `/rate`, `/ping`, `/metrics`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpApiConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub bind: String,
    pub port: u16,
    pub long_content_max_parts: u32,
    /// `udh` or `sar`.
    pub long_content_split: SplitMethod,
    /// Largest request body accepted, in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// Largest request head (request line + headers), in bytes (larger: 431).
    pub max_head_bytes: usize,
    /// A client must send its whole request head within this time (slow clients are cut).
    pub header_read_timeout_ms: u64,
    /// A client must send its whole body within this time.
    pub body_read_timeout_ms: u64,
    /// Maximum concurrent connections.
    pub max_connections: usize,
}

impl Default for HttpApiConfig {
    fn default() -> Self {
        HttpApiConfig {
            enabled: true,
            bind: "0.0.0.0".into(),
            port: 1401,
            long_content_max_parts: 5,
            long_content_split: SplitMethod::Udh,
            max_body_bytes: 64 * 1024,
            max_head_bytes: 16 * 1024,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 10_000,
            max_connections: 10_000,
        }
    }
}

/// `[smpp-server]`: the SMPP server API for ESMEs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmppServerConfig {
    pub enabled: bool,
    pub id: String,
    pub bind: String,
    pub port: u16,
    #[serde(rename = "sessionInitTimerSecs", alias = "session_init_timer_secs")]
    pub session_init_timer_secs: u64,
    #[serde(rename = "enquireLinkTimerSecs", alias = "enquire_link_timer_secs")]
    pub enquire_link_timer_secs: u64,
    #[serde(rename = "inactivityTimerSecs", alias = "inactivity_timer_secs")]
    pub inactivity_timer_secs: u64,
    #[serde(rename = "responseTimerSecs", alias = "response_timer_secs")]
    pub response_timer_secs: u64,
    #[serde(rename = "pduReadTimerSecs", alias = "pdu_read_timer_secs")]
    pub pdu_read_timer_secs: u64,
    /// Open connections accepted at once; more are closed on accept.
    pub max_connections: usize,
    /// Requests of one session processed concurrently (the ESME's window); a session that
    /// sends more waits (TCP back-pressure) until answers go out.
    pub window: usize,
    /// `deliver_sm` outstanding per bound session (receipts and MO towards the ESME).
    pub deliver_window: usize,
    /// Seconds before a refused or unanswered `deliver_sm` is tried again.
    pub deliver_retry_delay: u64,
    /// Optional TLS listener port (same bind address); needs `tls_cert` and `tls_key`.
    pub tls_port: Option<u16>,
    /// PEM certificate chain for the TLS listener.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for the TLS listener.
    pub tls_key: Option<PathBuf>,
}

impl Default for SmppServerConfig {
    fn default() -> Self {
        SmppServerConfig {
            enabled: true,
            id: "smppsapi".into(),
            bind: "0.0.0.0".into(),
            port: 2775,
            session_init_timer_secs: 30,
            enquire_link_timer_secs: 30,
            inactivity_timer_secs: 300,
            response_timer_secs: 60,
            pdu_read_timer_secs: 10,
            max_connections: 10_000,
            window: 256,
            deliver_window: 32,
            deliver_retry_delay: 10,
            tls_port: None,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// `[jcli]`: the telnet management console.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JcliConfig {
    pub enabled: bool,
    pub bind: String,
    pub port: u16,
    pub authentication: bool,
    pub admin_username: String,
    /// Plain text, an argon2 PHC string, or Jasmin's MD5 hex digest.
    pub admin_password: String,
    /// Concurrent console sessions; more are told to come back later.
    pub max_sessions: usize,
}

impl Default for JcliConfig {
    fn default() -> Self {
        JcliConfig {
            enabled: true,
            bind: "127.0.0.1".into(),
            port: 8990,
            authentication: true,
            admin_username: "jcliadmin".into(),
            admin_password: "jclipwd".into(),
            max_sessions: 128,
        }
    }
}

/// `[rest-api]`: the REST listener (Jasmin's and Direct7's `/secure/*`, smstools-http-api's
/// `/api/v1.0/sms/*`, retarus' `/rest/v1/*`, `/openapi.json`) and its durable batch jobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestApiConfig {
    pub enabled: bool,
    pub bind: String,
    pub port: u16,
    /// Largest request body, in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// Most recipients in one batch or job (more: 400).
    pub max_batch_recipients: usize,
    /// Largest request head, in bytes (larger: 431).
    pub max_head_bytes: usize,
    pub header_read_timeout_ms: u64,
    pub body_read_timeout_ms: u64,
    pub max_connections: usize,
    /// Messages per second one batch sends at most (0: no limit of its own; the batch then
    /// follows its connector through `batch_max_backlog`).
    pub batch_throughput: f64,
    /// A batch pauses while its connector's queue holds more ready messages than this, so a
    /// large batch is expanded as the connector sends instead of all at once.
    pub batch_max_backlog: u64,
    /// Batches sent at the same time (more wait in the queue).
    pub batch_workers: usize,
    /// Recipients of one batch in flight through the MT pipeline at once.
    pub batch_window: usize,
    /// UTC offset (`+02:00`) of `schedule_at` local times; unset: the host's offset at start.
    pub schedule_utc_offset: Option<String>,
    /// Days batch reports and message history are kept (retarus: 3 months).
    pub report_retention_days: u64,
    /// Retarus: requests per user within 10 s before 429.
    pub retarus_max_requests_per_10s: u32,
    /// Retarus: how long (s) an identical job counts as a duplicate (`duplicateDetection`).
    pub retarus_duplicate_window: u64,
    /// smstools-http-api `MOBILE_PERMS`: username → numbers it may send to (an entry ending
    /// in `*` is a prefix). Users not listed may send to any number.
    pub mobile_perms: std::collections::BTreeMap<String, Vec<String>>,
    /// When true, `/secure/sendbatch` needs the user's `mt_messaging_cred authorization
    /// http_bulk`. Off by default: Jasmin defines the privilege (false for every user) but its
    /// REST API never enforced it, and its batch clients must keep working.
    pub enforce_http_bulk: bool,
}

impl Default for RestApiConfig {
    fn default() -> Self {
        RestApiConfig {
            enabled: true,
            bind: "127.0.0.1".into(),
            port: 8080,
            max_body_bytes: 8 * 1024 * 1024,
            max_batch_recipients: 200_000,
            max_head_bytes: 16 * 1024,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            max_connections: 10_000,
            batch_throughput: 0.0,
            batch_max_backlog: 2_000,
            batch_workers: 16,
            batch_window: 64,
            schedule_utc_offset: None,
            report_retention_days: 92,
            retarus_max_requests_per_10s: 100,
            retarus_duplicate_window: 86_400,
            mobile_perms: Default::default(),
            enforce_http_bulk: false,
        }
    }
}

names! {
    /// `http-api.long_content_split`: how long content is split into parts.
    SplitMethod {
        /// 6-byte User Data Header with an 8-bit reference (IEI 0x00), esm_class UDHI (0x40).
        Udh = "udh",
        /// sar_msg_ref_num (0x020C) / sar_total_segments (0x020E) / sar_segment_seqnum (0x020F).
        Sar = "sar",
    }
}
