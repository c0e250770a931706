//! Configuration: built-in defaults → TOML file → `SMSGATE_*` environment variables (figment).
//!
//! Section names follow Jasmin's `jasmin.cfg` (`http-api`, `smpp-server`, `jcli`, `dlr-thrower`,
//! `deliversm-thrower`), plus `store`, `broker`, `queue`, `auth` and `plugins`. The file may also
//! provision groups, users, SMPP client connectors, HTTP client connectors, filters and MT/MO
//! routes with jCli's parameter names and defaults.
//!
//! Environment variables use `__` between nesting levels and `_` inside names, e.g.
//! `SMSGATE_HTTP_API__PORT=1402` or `SMSGATE_DATA_DIR=/var/lib/smsgate`.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the embedded store keeps its database file.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Log filter (tracing `EnvFilter` syntax); `RUST_LOG` overrides it.
    #[serde(default = "default_log")]
    pub log: String,
    #[serde(rename = "http-api", alias = "http_api", default)]
    pub http_api: HttpApiConfig,
    #[serde(rename = "smpp-server", alias = "smpp_server", default)]
    pub smpp_server: SmppServerConfig,
    #[serde(default)]
    pub jcli: JcliConfig,
    #[serde(rename = "dlr-thrower", alias = "dlr_thrower", default)]
    pub dlr_thrower: ThrowerConfig,
    #[serde(rename = "deliversm-thrower", alias = "deliversm_thrower", default)]
    pub deliversm_thrower: ThrowerConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub broker: BrokerConfig,
    /// Cluster mode (several nodes on RabbitMQ and Redis).
    #[serde(default)]
    pub cluster: ClusterConfig,
    #[serde(default)]
    pub queue: QueueConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub callbacks: CallbacksConfig,
    #[serde(default)]
    pub mo: MoConfig,
    #[serde(default)]
    pub plugins: PluginsConfig,
    /// Provisioned groups.
    #[serde(default)]
    pub groups: Vec<GroupConfig>,
    /// Provisioned users.
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// Provisioned SMPP client connectors (jCli `smppccm`).
    #[serde(default)]
    pub smppccs: Vec<SmppClientConfig>,
    /// Provisioned HTTP client connectors (jCli `httpccm`).
    #[serde(default)]
    pub httpccs: Vec<HttpClientConfig>,
    /// Provisioned filters (jCli `filter`).
    #[serde(default)]
    pub filters: Vec<FilterConfig>,
    /// Provisioned MT routes (jCli `mtrouter`).
    #[serde(default)]
    pub mtroutes: Vec<RouteConfig>,
    /// Provisioned MO routes (jCli `morouter`).
    #[serde(default)]
    pub moroutes: Vec<RouteConfig>,
    /// Provisioned MT interceptors (jCli `mtinterceptor`).
    #[serde(default)]
    pub mtinterceptors: Vec<InterceptorConfig>,
    /// Provisioned MO interceptors (jCli `mointerceptor`).
    #[serde(default)]
    pub mointerceptors: Vec<InterceptorConfig>,
    /// `[rest-api]`: Jasmin's REST API, smstools-http-api and retarus' SMS jobs API.
    #[serde(rename = "rest-api", alias = "rest_api", default)]
    pub rest_api: RestApiConfig,
}

fn default_data_dir() -> PathBuf {
    match std::env::var_os("HOME") {
        Some(home) => Path::new(&home).join(".local/share/smsgate"),
        None => PathBuf::from("smsgate-data"),
    }
}
fn default_log() -> String {
    "info".into()
}
fn yes() -> bool {
    true
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: default_data_dir(),
            log: default_log(),
            http_api: Default::default(),
            smpp_server: Default::default(),
            jcli: Default::default(),
            dlr_thrower: Default::default(),
            deliversm_thrower: Default::default(),
            store: Default::default(),
            broker: Default::default(),
            cluster: Default::default(),
            queue: Default::default(),
            auth: Default::default(),
            callbacks: Default::default(),
            mo: Default::default(),
            plugins: Default::default(),
            groups: vec![],
            users: vec![],
            smppccs: vec![],
            httpccs: vec![],
            filters: vec![],
            mtroutes: vec![],
            moroutes: vec![],
            mtinterceptors: vec![],
            mointerceptors: vec![],
            rest_api: Default::default(),
        }
    }
}

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

/// `[dlr-thrower]` and `[deliversm-thrower]`: HTTP callbacks with retries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrowerConfig {
    pub http_timeout: u64,
    pub retry_delay: u64,
    pub max_retries: u32,
}

impl Default for ThrowerConfig {
    fn default() -> Self {
        ThrowerConfig {
            http_timeout: 30,
            retry_delay: 30,
            max_retries: 3,
        }
    }
}

/// Which client-supplied callback URLs (`dlr-url`, batch `callback_url`/`errback_url`) the
/// gateway calls. Operator-configured targets (HTTP client connectors) are never checked.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CallbackPolicy {
    /// Public, private and loopback addresses (Jasmin's own examples call
    /// `http://192.168.202.54/...` and `http://127.0.0.1:7877/...`). Link-local and cloud
    /// metadata addresses, the gateway's own listeners and its RabbitMQ / Redis / PostgreSQL are
    /// refused whatever the policy.
    #[default]
    Default,
    /// Public addresses only: for multi-tenant gateways and untrusted clients.
    PublicOnly,
}

impl CallbackPolicy {
    /// The name used in configuration files and jCli.
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackPolicy::Default => "default",
            CallbackPolicy::PublicOnly => "public-only",
        }
    }
}

impl std::str::FromStr for CallbackPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "default" => Ok(CallbackPolicy::Default),
            "public-only" | "public_only" => Ok(CallbackPolicy::PublicOnly),
            _ => Err(format!(
                "unknown callback policy {s:?} (expected default or public-only)"
            )),
        }
    }
}

/// `[callbacks]`: where client-supplied callbacks (DLRs, batch callbacks) may go, and how hard
/// callbacks may be hit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbacksConfig {
    /// `default` (loopback and private networks allowed) or `public-only`; a user's
    /// `callback_policy` overrides it.
    pub policy: CallbackPolicy,
    /// Deprecated refinement of the global policy: loopback targets (127.0.0.0/8, ::1)
    /// allowed or not (unset: as the policy says).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_loopback: Option<bool>,
    /// Deprecated refinement of the global policy: private targets (RFC 1918, CGNAT, unique
    /// local IPv6) allowed or not (unset: as the policy says).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_private: Option<bool>,
    /// Hosts (`name`, `address` or `host:port`) exempt from the loopback and private checks
    /// (what `public-only` lets through). Never exempt from the addresses always refused.
    pub allowed_hosts: Vec<String>,
    /// Concurrent callbacks per target host:port.
    pub per_host_concurrency: usize,
    /// Concurrent callbacks in all.
    pub max_in_flight: usize,
}

impl Default for CallbacksConfig {
    fn default() -> Self {
        CallbacksConfig {
            policy: CallbackPolicy::Default,
            allow_loopback: None,
            allow_private: None,
            allowed_hosts: vec![],
            per_host_concurrency: 16,
            max_in_flight: 512,
        }
    }
}

/// `[mo]`: mobile-originated messages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MoConfig {
    /// Seconds to wait for the missing parts of a long MO; then what arrived is delivered.
    pub reassembly_timeout: u64,
}

impl Default for MoConfig {
    fn default() -> Self {
        MoConfig {
            reassembly_timeout: 60,
        }
    }
}

/// `[store]`: shared state (balances, DLR maps, message records). No URL = embedded SQLite.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `redis://...` for cluster mode; unset for the embedded store.
    pub url: Option<String>,
    /// SQLite durability: `full` (fsync every group commit: survives power loss) or `normal`
    /// (survives a crash of the gateway process, not of the machine).
    pub sync: SyncMode,
    /// Maximum operations folded into one group commit.
    pub group_commit_max: usize,
    /// How long message status records are kept, in seconds.
    pub message_record_ttl: u64,
    /// Cluster mode: prefix of every Redis key and of the change channel (per deployment or
    /// per test).
    pub prefix: String,
    /// Cluster mode: `postgres://...` for the message history (`query_sm`, reports); unset
    /// keeps the records in Redis with `message_record_ttl`.
    pub history_url: Option<String>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: None,
            sync: SyncMode::Full,
            group_commit_max: 4096,
            message_record_ttl: 7 * 86400,
            prefix: "smsgate:".into(),
            history_url: None,
        }
    }
}

/// `[broker]`: message queues. No URL = embedded queues in the store's database file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerConfig {
    /// `amqp://...` for cluster mode; unset for the embedded queue.
    pub url: Option<String>,
    /// Prefix of the exchange and queue names (empty: Jasmin's names exactly).
    pub prefix: String,
    /// Deliveries a consumer holds at most (AMQP prefetch) per queue.
    pub prefetch: u16,
    /// `classic` or `quorum` queues.
    pub queue_type: QueueType,
    /// Channels publishing in parallel (each with publisher confirms).
    pub publish_channels: usize,
    /// Publish Jasmin's informational routing keys for third-party consumers
    /// (`submit.sm.resp.<cid>`, `deliver.sm.<cid>`, `dlr.*`, `billing`). Off by default: each
    /// event is one more publish RabbitMQ routes.
    pub events: bool,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            url: None,
            prefix: String::new(),
            prefetch: 256,
            queue_type: QueueType::Classic,
            publish_channels: 4,
            events: false,
        }
    }
}

/// `[cluster]`: how nodes share SMPP client connectors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// This node's name in leases (default: host name and process id).
    pub node_id: Option<String>,
    /// A connector's lease lasts this long (ms) unless renewed; a dead node's connectors
    /// move to another node after it.
    pub lease_ttl_ms: u64,
    /// Connectors that bind from every node (SMSCs that accept several binds); `"*"` = all.
    pub bind_everywhere: Vec<String>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            node_id: None,
            lease_ttl_ms: 5000,
            bind_everywhere: vec![],
        }
    }
}

/// `[queue]`: message lifecycle.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// A message without a validity period expires after this many seconds in the queue.
    pub max_age: u64,
    /// Attempts before a message that keeps failing temporarily is given up.
    pub max_retries: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_age: 86400,
            max_retries: 5,
        }
    }
}

/// `[auth]`: password checking.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Failed password checks allowed per user and source address per minute; more are
    /// refused without running the password hash.
    pub max_failures_per_minute: u32,
    /// Concurrent argon2 verifications (bounded pool).
    pub verify_workers: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            max_failures_per_minute: 10,
            verify_workers: 2,
        }
    }
}

/// `[plugins]`: WebAssembly plugins (see the README's plugin section and `wit/`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    pub enabled: bool,
    /// Where operators drop `name.wasm` (+ `name.toml`); watched for changes.
    pub dir: Option<PathBuf>,
    /// Precompiled components (default `data_dir/plugin-cache`).
    pub cache_dir: Option<PathBuf>,
    /// Default CPU budget per call, milliseconds (a plugin's `budget_ms` overrides it).
    pub budget_ms: u64,
    /// Default memory cap per instance, MiB (a plugin's `memory_mb` overrides it, up to
    /// `max_memory_mb`).
    pub memory_mb: u64,
    /// Largest memory cap any plugin may get, MiB (sizes the instance pool).
    pub max_memory_mb: u64,
    /// Default deadline of an HLR-lookup or charging call including its HTTP calls, ms.
    pub io_timeout_ms: u64,
    /// How often the plugins directory is checked for changes, ms.
    pub watch_ms: u64,
    /// HLR-lookup plugin run before MT routing (its answer becomes tags).
    pub hlr: Option<String>,
    /// How long an HLR answer is reused, seconds.
    pub hlr_ttl_s: u64,
    /// Charging plugin asked before billing.
    pub charging: Option<String>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            enabled: false,
            dir: None,
            cache_dir: None,
            budget_ms: 5,
            memory_mb: 32,
            max_memory_mb: 64,
            io_timeout_ms: 2000,
            watch_ms: 1000,
            hlr: None,
            hlr_ttl_s: 3600,
            charging: None,
        }
    }
}

/// A provisioned group.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    pub gid: String,
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// How `content` bytes of an HTTP request are read.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ContentEncoding {
    /// Jasmin's behaviour: bytes in the requested coding (Latin-1/ASCII text for coding 0,
    /// UTF-16BE for coding 8, as-is for the others).
    #[default]
    Raw,
    /// UTF-8 text; the gateway encodes it (and picks GSM 03.38 or UCS2 when no coding is given).
    Utf8,
}

/// What the HTTP and REST APIs do with characters the message's coding cannot carry.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Unrepresentable {
    /// Jasmin's behaviour (`gsm0338` with `errors='replace'`): `?` instead, except Jasmin's
    /// look-alikes for GSM 03.38 (`ç` → `Ç`, Greek capitals that look Latin → the Latin letter).
    #[default]
    Replace,
    /// Refuse the message (400, naming the first such character).
    Refuse,
    /// Replace with look-alikes (`é` → `e`, `“` → `"`, ...), `?` for the rest.
    Transliterate,
}

impl Unrepresentable {
    /// `Transliterate` when asked, else `Refuse` (retarus' `invalidCharacters`).
    #[must_use]
    pub fn transliterate_or_refuse(transliterate: bool) -> Self {
        if transliterate {
            Unrepresentable::Transliterate
        } else {
            Unrepresentable::Refuse
        }
    }
}

/// A provisioned user (jCli `user`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub username: String,
    /// Plain text (hashed with argon2 at load) or an argon2 PHC string.
    pub password: String,
    pub gid: String,
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub content_encoding: ContentEncoding,
    /// Characters the coding cannot carry: `replace` (`?`, Jasmin's default), `refuse` or
    /// `transliterate`.
    #[serde(default)]
    pub unrepresentable: Unrepresentable,
    /// Overrides `[callbacks] policy` for this user's callback URLs (smsgate extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_policy: Option<CallbackPolicy>,
    #[serde(default)]
    pub mt_messaging_cred: MtMessagingCred,
    #[serde(default)]
    pub smpps_cred: SmppsCred,
}

/// `smpps_cred` (spec tables 28-29): the SMPP server API credentials.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SmppsCred {
    pub authorization: SmppsAuthorization,
    pub quota: SmppsQuota,
}

/// `smpps_cred authorization`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmppsAuthorization {
    /// Privilege to bind to the SMPP server API (default true).
    #[serde(deserialize_with = "de_yes_no")]
    pub bind: bool,
}

impl Default for SmppsAuthorization {
    fn default() -> Self {
        SmppsAuthorization { bind: true }
    }
}

/// `smpps_cred quota`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SmppsQuota {
    /// Bound connections at a time; `None` = unlimited (`ND`).
    #[serde(deserialize_with = "de_opt_i64")]
    pub max_bindings: Option<i64>,
}

/// `mt_messaging_cred` (spec tables 24-27): authorizations, value filters, default values
/// and quotas. Keys are jCli's (`authorization`, `valuefilter`, `defaultvalue`, `quota`);
/// `value_filter`/`default_value` and Jasmin's internal names (`set_source_address`, ...)
/// are accepted too.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MtMessagingCred {
    pub authorization: MtAuthorization,
    #[serde(alias = "valuefilter")]
    pub value_filter: ValueFilters,
    #[serde(alias = "defaultvalue")]
    pub default_value: DefaultValues,
    pub quota: Quota,
}

/// `mt_messaging_cred authorization` (spec table 24). All true by default except `http_bulk`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MtAuthorization {
    #[serde(deserialize_with = "de_yes_no")]
    pub http_send: bool,
    #[serde(deserialize_with = "de_yes_no")]
    pub http_balance: bool,
    #[serde(deserialize_with = "de_yes_no")]
    pub http_rate: bool,
    /// Deprecated in Jasmin (bulks go through REST).
    #[serde(deserialize_with = "de_yes_no")]
    pub http_bulk: bool,
    #[serde(deserialize_with = "de_yes_no")]
    pub smpps_send: bool,
    /// Content needing more than one `submit_sm`.
    #[serde(deserialize_with = "de_yes_no")]
    pub http_long_content: bool,
    #[serde(deserialize_with = "de_yes_no", alias = "set_dlr_level")]
    pub dlr_level: bool,
    #[serde(deserialize_with = "de_yes_no", alias = "http_set_dlr_method")]
    pub http_dlr_method: bool,
    #[serde(deserialize_with = "de_yes_no", alias = "set_source_address")]
    pub src_addr: bool,
    #[serde(deserialize_with = "de_yes_no", alias = "set_priority")]
    pub priority: bool,
    #[serde(deserialize_with = "de_yes_no", alias = "set_validity_period")]
    pub validity_period: bool,
    #[serde(deserialize_with = "de_yes_no", alias = "set_hex_content")]
    pub hex_content: bool,
    #[serde(deserialize_with = "de_yes_no", alias = "set_schedule_delivery_time")]
    pub schedule_delivery_time: bool,
}

impl Default for MtAuthorization {
    fn default() -> Self {
        MtAuthorization {
            http_send: true,
            http_balance: true,
            http_rate: true,
            http_bulk: false,
            smpps_send: true,
            http_long_content: true,
            dlr_level: true,
            http_dlr_method: true,
            src_addr: true,
            priority: true,
            validity_period: true,
            hex_content: true,
            schedule_delivery_time: true,
        }
    }
}

/// A value filter: a regular expression matched from the start of the value, as Python's
/// `re.match` does (so `^33` and `33` are the same filter). Compiled when the configuration
/// is read: a bad pattern is refused at load.
#[derive(Clone)]
pub struct Pattern {
    src: String,
    re: regex::Regex,
}

impl Pattern {
    pub fn new(src: &str) -> Result<Pattern, regex::Error> {
        // Checked alone first so that an error shows the pattern as written.
        regex::Regex::new(src)?;
        let re = regex::Regex::new(&format!("^(?:{src})"))?;
        Ok(Pattern {
            src: src.to_string(),
            re,
        })
    }
    /// True when the value matches (from its start).
    pub fn matches(&self, v: &str) -> bool {
        self.re.is_match(v)
    }
    pub fn as_str(&self) -> &str {
        &self.src
    }
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.src)
    }
}

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.src)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Pattern, D::Error> {
        let s = String::deserialize(d)?;
        Pattern::new(&s).map_err(|e| serde::de::Error::custom(format!("invalid regex {s:?}: {e}")))
    }
}

fn pattern(s: &str) -> Pattern {
    Pattern::new(s).expect("built-in pattern")
}

/// `mt_messaging_cred valuefilter` (spec table 25).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValueFilters {
    #[serde(alias = "source_address")]
    pub src_addr: Pattern,
    #[serde(alias = "destination_address")]
    pub dst_addr: Pattern,
    pub content: Pattern,
    pub priority: Pattern,
    pub validity_period: Pattern,
}

impl Default for ValueFilters {
    fn default() -> Self {
        ValueFilters {
            src_addr: pattern(".*"),
            dst_addr: pattern(".*"),
            content: pattern(".*"),
            priority: pattern(r"^[0-3]$"),
            validity_period: pattern(r"^\d+$"),
        }
    }
}

/// `mt_messaging_cred defaultvalue` (spec table 26).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DefaultValues {
    /// Source address set when the request has none.
    #[serde(deserialize_with = "de_opt_string", alias = "source_address")]
    pub src_addr: Option<String>,
}

/// Initial quotas. They seed the ledger once, when the user is first seen: editing the
/// configuration later never rolls money back (use jCli `user -u` for top-ups).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Quota {
    /// `None`/absent = unlimited (`ND`).
    #[serde(deserialize_with = "de_opt_f64")]
    pub balance: Option<f64>,
    #[serde(deserialize_with = "de_opt_i64")]
    pub sms_count: Option<i64>,
    /// Messages per second accepted through the HTTP API; `None` = unlimited.
    #[serde(deserialize_with = "de_opt_f64")]
    pub http_throughput: Option<f64>,
    /// Messages per second accepted through the SMPP server; `None` = unlimited.
    #[serde(deserialize_with = "de_opt_f64")]
    pub smpps_throughput: Option<f64>,
    /// Asynchronous billing: percentage of the rate charged at submission, the rest when the
    /// SMSC acknowledges each part (`submit_sm_resp` ESME_ROK); `None` = all at submission.
    #[serde(
        deserialize_with = "de_opt_f64",
        alias = "early_decrement_balance_percent"
    )]
    pub early_percent: Option<f64>,
}

fn de_opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        F(f64),
        S(String),
    }
    match Option::<V>::deserialize(d)? {
        None => Ok(None),
        Some(V::F(f)) => Ok(Some(f)),
        Some(V::S(s)) if s.eq_ignore_ascii_case("none") || s == "ND" => Ok(None),
        Some(V::S(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("invalid number {s:?}"))),
    }
}

fn de_opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        I(i64),
        S(String),
    }
    match Option::<V>::deserialize(d)? {
        None => Ok(None),
        Some(V::I(i)) => Ok(Some(i)),
        Some(V::S(s)) if s.eq_ignore_ascii_case("none") || s == "ND" => Ok(None),
        Some(V::S(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("invalid integer {s:?}"))),
    }
}

/// `yes`/`no` as jCli writes them, or a TOML boolean.
fn de_yes_no<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        B(bool),
        S(String),
    }
    match V::deserialize(d)? {
        V::B(b) => Ok(b),
        V::S(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "true" | "1" => Ok(true),
            "no" | "false" | "0" => Ok(false),
            other => Err(serde::de::Error::custom(format!(
                "expected yes or no, got {other:?}"
            ))),
        },
    }
}

/// `None` as jCli writes it means unset.
fn de_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    Ok(s.filter(|s| !s.is_empty() && s != "None"))
}

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
    /// Seconds to wait for a response to a request (`res_to`).
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

/// A filter (jCli `filter`), referenced by routes through its `fid`. `type` is one of spec
/// table 38 (case-insensitive); each type takes only its own parameters (table 39).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    pub fid: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// UserFilter.
    #[serde(default)]
    pub uid: Option<String>,
    /// GroupFilter.
    #[serde(default)]
    pub gid: Option<String>,
    /// ConnectorFilter: the SMPP client connector an MO came through.
    #[serde(default)]
    pub cid: Option<String>,
    /// SourceAddrFilter regex (matched from the start, like Python's `re.match`).
    #[serde(default)]
    pub source_addr: Option<String>,
    /// DestinationAddrFilter regex (matched from the start).
    #[serde(default)]
    pub destination_addr: Option<String>,
    /// ShortMessageFilter regex (matched from the start).
    #[serde(default)]
    pub short_message: Option<String>,
    /// TagFilter: the tag to look for (a number or a string).
    #[serde(default, deserialize_with = "de_opt_string_or_int")]
    pub tag: Option<String>,
    /// DateIntervalFilter: `YYYY-MM-DD;YYYY-MM-DD`, both included.
    #[serde(default, alias = "dateInterval")]
    pub date_interval: Option<String>,
    /// TimeIntervalFilter: `HH:MM:SS;HH:MM:SS`, both included (spans midnight when the left
    /// border is later than the right one).
    #[serde(default, alias = "timeInterval")]
    pub time_interval: Option<String>,
    /// Date and time filters: the UTC offset their borders are in (`+02:00`); default UTC.
    #[serde(default)]
    pub utc_offset: Option<String>,
    /// EvalPyFilter: the script handed to the plugin host.
    #[serde(default, alias = "pyCode")]
    pub py_code: Option<String>,
    /// PluginFilter: the `filter` plugin's name (its file name without `.wasm`).
    #[serde(default)]
    pub plugin: Option<String>,
}

impl FilterConfig {
    /// A filter `fid` of type `kind` with no parameters set.
    pub fn new(fid: &str, kind: &str) -> Self {
        FilterConfig {
            fid: fid.into(),
            kind: kind.into(),
            ..Default::default()
        }
    }

    /// Every type parameter with whether it is set.
    pub fn set_parameters(&self) -> [(&'static str, bool); 12] {
        [
            ("uid", self.uid.is_some()),
            ("gid", self.gid.is_some()),
            ("cid", self.cid.is_some()),
            ("source_addr", self.source_addr.is_some()),
            ("destination_addr", self.destination_addr.is_some()),
            ("short_message", self.short_message.is_some()),
            ("tag", self.tag.is_some()),
            ("date_interval", self.date_interval.is_some()),
            ("time_interval", self.time_interval.is_some()),
            ("utc_offset", self.utc_offset.is_some()),
            ("py_code", self.py_code.is_some()),
            ("plugin", self.plugin.is_some()),
        ]
    }
}

/// A route (jCli `mtrouter`/`morouter`). `type` (case-insensitive): `DefaultRoute` (order 0),
/// `StaticMTRoute`, `RandomRoundrobinMTRoute`, `FailoverMTRoute`, `LeastCostMTRoute`;
/// `StaticMORoute`, `RandomRoundrobinMORoute`, `FailoverMORoute`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    #[serde(rename = "type")]
    pub kind: String,
    /// Unique within its table; 0 only for the DefaultRoute.
    #[serde(default)]
    pub order: u32,
    /// One connector, as `smppc(cid)` / `http(cid)` / `smpps(user)` or a bare cid.
    #[serde(default)]
    pub connector: Option<String>,
    /// Several connectors (round-robin, failover, least-cost routes): a list, or jCli's
    /// `smppc(a);smppc(b)`.
    #[serde(default, deserialize_with = "de_list")]
    pub connectors: Vec<String>,
    /// Filter ids, all of which must match: a list, or jCli's `f1;f2`.
    #[serde(default, deserialize_with = "de_list")]
    pub filters: Vec<String>,
    /// What a message part costs the user (MT only; 0 = not rated).
    #[serde(default)]
    pub rate: f64,
    /// LeastCostMTRoute: what each connector costs, keyed by connector (`smpp_1` or
    /// `smppc(smpp_1)`); the cheapest available one is used.
    #[serde(default)]
    pub costs: std::collections::BTreeMap<String, f64>,
    /// PluginMTRoute / PluginMORoute: the `route` plugin choosing among `connectors`.
    #[serde(default)]
    pub plugin: Option<String>,
}

impl RouteConfig {
    /// A route of type `kind` at `order` with nothing else set.
    pub fn new(kind: &str, order: u32) -> Self {
        RouteConfig {
            kind: kind.into(),
            order,
            ..Default::default()
        }
    }
}

/// An interceptor (jCli `mtinterceptor`/`mointerceptor`). `type` (case-insensitive):
/// `DefaultInterceptor` (order 0), `StaticMTInterceptor`, `StaticMOInterceptor`. Interceptors
/// run before routing, highest order first; the first whose filters all match runs its script.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct InterceptorConfig {
    #[serde(rename = "type")]
    pub kind: String,
    /// Unique within its table; 0 only for the DefaultInterceptor.
    #[serde(default)]
    pub order: u32,
    /// Filter ids, all of which must match: a list, or jCli's `f1;f2`.
    #[serde(default, deserialize_with = "de_list")]
    pub filters: Vec<String>,
    /// What runs: `python3(/path/to/script.py)` (a Jasmin interceptor script, run by the
    /// Python-on-Wasm plugin) or `plugin(name)` (a Wasm plugin of the `interceptor` world).
    pub script: String,
}

impl InterceptorConfig {
    /// An interceptor of type `kind` at `order` running `script`, with no filters.
    pub fn new(kind: &str, order: u32, script: &str) -> Self {
        InterceptorConfig {
            kind: kind.into(),
            order,
            filters: vec![],
            script: script.into(),
        }
    }
}

/// A list of strings, or one string of `;`-separated items (as jCli writes them).
fn de_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        L(Vec<String>),
        S(String),
    }
    Ok(match V::deserialize(d)? {
        V::L(l) => l,
        V::S(s) => s
            .split(';')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

/// A string or an integer, as a string.
fn de_opt_string_or_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        I(i64),
        S(String),
    }
    Ok(Option::<V>::deserialize(d)?.map(|v| match v {
        V::I(i) => i.to_string(),
        V::S(s) => s,
    }))
}

/// Error loading the configuration: names the key path and why.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    /// An error saying `message` (which names the key path), for checks made by the layers
    /// that build from the configuration (routing tables, interceptors).
    pub fn new(message: impl Into<String>) -> ConfigError {
        ConfigError(message.into())
    }
}

impl Config {
    /// Load defaults, then `file` (if any), then `SMSGATE_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(ConfigError(format!("file {} not found", f.display())));
            }
            fig = fig.merge(Toml::file(f));
        }
        fig = fig.merge(Env::prefixed("SMSGATE_").ignore(&["CONFIG"]).map(|k| {
            // SMSGATE_HTTP_API__PORT -> http-api.port (section names use '-')
            let s = k.as_str().to_ascii_lowercase();
            let mut parts = s.split("__");
            let first = parts.next().unwrap_or_default();
            let first = match first {
                "http_api" | "smpp_server" | "dlr_thrower" | "deliversm_thrower" | "rest_api" => {
                    first.replace('_', "-")
                }
                other => other.to_string(),
            };
            let rest: Vec<&str> = parts.collect();
            if rest.is_empty() {
                first.into()
            } else {
                format!("{first}.{}", rest.join(".")).into()
            }
        }));
        let cfg: Config = fig.extract().map_err(|e| {
            let mut msgs = vec![];
            for err in e {
                let path = err.path.join(".");
                let src = err
                    .metadata
                    .as_ref()
                    .map(|m| m.name.to_string())
                    .unwrap_or_default();
                let key = if path.is_empty() {
                    String::new()
                } else {
                    format!("key `{path}`: ")
                };
                msgs.push(format!("{key}{} ({src})", err.kind));
            }
            ConfigError(msgs.join("; "))
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Cross-field checks that serde cannot express. The routing tables' own checks (regexes,
    /// filter ids, connectors) are the routing crate's: `smsgate::load_config` runs both.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |m: String| Err(ConfigError(m));
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.smppccs.iter().enumerate() {
            if c.cid.is_empty() || !seen.insert(c.cid.clone()) {
                return err(format!(
                    "key `smppccs[{i}].cid`: empty or duplicate cid {:?}",
                    c.cid
                ));
            }
            if c.priority > 3 {
                return err(format!("key `smppccs[{i}].priority`: must be 0..=3"));
            }
            if c.window == 0 {
                return err(format!("key `smppccs[{i}].window`: must be at least 1"));
            }
            if c.dlr_msgid > 2 {
                return err(format!("key `smppccs[{i}].dlr_msgid`: must be 0, 1 or 2"));
            }
            if c.submit_throughput < 0.0 {
                return err(format!(
                    "key `smppccs[{i}].submit_throughput`: must be >= 0"
                ));
            }
        }
        let gids: std::collections::HashSet<_> = self.groups.iter().map(|g| &g.gid).collect();
        let mut users = std::collections::HashSet::new();
        for (i, u) in self.users.iter().enumerate() {
            if !gids.contains(&u.gid) {
                return err(format!("key `users[{i}].gid`: unknown group {:?}", u.gid));
            }
            if !users.insert(&u.username) {
                return err(format!(
                    "key `users[{i}].username`: duplicate {:?}",
                    u.username
                ));
            }
            if u.username.is_empty() || u.username.len() > 16 {
                return err(format!("key `users[{i}].username`: 1 to 16 characters"));
            }
            if let Some(p) = u.mt_messaging_cred.quota.early_percent {
                if !(0.0..=100.0).contains(&p) {
                    return err(format!(
                        "key `users[{i}].mt_messaging_cred.quota.early_percent`: must be 0..=100"
                    ));
                }
            }
        }
        Ok(())
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

/// A closed set of names in the configuration: read from its name, written as its name, and
/// refused with the names it accepts.
macro_rules! names {
    ($(#[$doc:meta])* $ty:ident { $($(#[$vdoc:meta])* $var:ident = $name:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $ty {
            $($(#[$vdoc])* $var,)+
        }

        impl $ty {
            /// The name the configuration uses.
            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$var => $name,)+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl From<$ty> for &'static str {
            fn from(v: $ty) -> &'static str {
                v.name()
            }
        }

        impl TryFrom<String> for $ty {
            type Error = String;
            fn try_from(s: String) -> Result<$ty, String> {
                match s.as_str() {
                    $($name => Ok($ty::$var),)+
                    other => Err(format!(
                        "expected {}, got {other:?}",
                        [$($name),+].join(" or ")
                    )),
                }
            }
        }
    };
}

names! {
    /// `store.sync`: when the embedded database's writes reach the disk.
    SyncMode {
        /// Every accepted message is on disk before it is acknowledged (fsync).
        Full = "full",
        /// Written at once, synced by the OS (a power cut may lose the last instant).
        Normal = "normal",
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

names! {
    /// `broker.queue_type`: the RabbitMQ queue type.
    QueueType {
        /// Classic queues (durable, one node).
        Classic = "classic",
        /// Quorum queues (replicated over the RabbitMQ cluster).
        Quorum = "quorum",
    }
}
