//! `log`: the log filter, format and privacy.
//!
//! Either a filter string, as before (`log = "info"`), or a table:
//!
//! ```toml
//! [log]
//! filter = "info"     # tracing EnvFilter syntax; RUST_LOG overrides it
//! format = "json"     # "text" (default) or "json": one JSON object per line
//! privacy = true      # numbers and content masked in every log line
//! ```
//!
//! One line per MT outcome, MO and receipt is logged at `info` under the target
//! `smsgate::messages` (Jasmin's `messages.log`): `filter = "info,smsgate::messages=off"`
//! silences them.

use serde::{Deserialize, Deserializer, Serialize};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable text (colours only on a terminal).
    #[default]
    Text,
    /// One JSON object per line (fields as keys), for log shippers.
    Json,
}

/// The `log` setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogConfig {
    /// Filter in tracing's `EnvFilter` syntax (`info`, `warn,smsgate::messages=info`).
    pub filter: String,
    pub format: LogFormat,
    /// Mask numbers (all but the last three digits) and content (its length only) in every
    /// log line; connectors' `logprivacy` does it for their own messages.
    pub privacy: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            filter: "info".into(),
            format: LogFormat::Text,
            privacy: false,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Table {
    filter: String,
    format: LogFormat,
    privacy: bool,
}

impl Default for Table {
    fn default() -> Self {
        let d = LogConfig::default();
        Table {
            filter: d.filter,
            format: d.format,
            privacy: d.privacy,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Either {
    Filter(String),
    Table(Table),
}

impl<'de> Deserialize<'de> for LogConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Either::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "expected a filter string (log = \"info\") or a table with filter, format (\"text\" or \"json\") and privacy",
            )
        })? {
            Either::Filter(filter) => LogConfig {
                filter,
                ..Default::default()
            },
            Either::Table(t) => LogConfig {
                filter: t.filter,
                format: t.format,
                privacy: t.privacy,
            },
        })
    }
}
