//! Who may send and what: `[auth]`, `[[groups]]` and `[[users]]` with their credentials, value
//! filters, defaults and quotas (spec tables 24-27).

use super::de::*;
use super::*;

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
#[derive(Clone, Debug)]
pub struct Pattern(crate::anchored::Anchored);

impl Pattern {
    /// Compile `src` (Python's syntax, look-around and back-references included).
    pub fn new(src: &str) -> Result<Pattern, String> {
        crate::anchored::Anchored::new(src).map(Pattern)
    }
    /// True when the value matches (from its start).
    pub fn matches(&self, v: &str) -> bool {
        self.0.is_match(v)
    }
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
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
