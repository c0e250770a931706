//! `name.toml`, next to `name.wasm`: the plugin's budgets, grants and configuration.
//!
//! ```toml
//! budget_ms = 5            # CPU budget per call (default: [plugins] budget_ms)
//! memory_mb = 16           # memory cap (default: [plugins] memory_mb)
//! io_timeout_ms = 2000     # deadline for a whole call including host I/O (hlr, charging)
//! on_error = "reject"      # interceptor and charging: "reject" or "pass" when the call fails
//! allow_hosts = ["hlr.example.com:8080"]   # outgoing HTTP (wasi:http) allowed to these
//! [config]                 # what the plugin reads with config(key)
//! numbers = "33600000000,33611111111"
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

/// What happens to an interceptor or charging call that fails (trap, timeout, memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Refuse the message (SMPP ESME_RSYSERR, HTTP 500 for interceptors; the charging
    /// refusal for charging).
    Reject,
    /// Let the message through unchanged.
    Pass,
}

/// A plugin's `name.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default)]
    pub budget_ms: Option<u64>,
    #[serde(default)]
    pub memory_mb: Option<u64>,
    #[serde(default)]
    pub io_timeout_ms: Option<u64>,
    #[serde(default)]
    pub on_error: Option<OnError>,
    /// `host` or `host:port` the plugin may call over HTTP (nothing else).
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Free-form settings, read by the plugin with `config(key)` (values as strings).
    #[serde(default)]
    pub config: BTreeMap<String, toml::Value>,
}

impl Manifest {
    /// Parse a manifest's text.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// `[config]` with every value as a string (strings unquoted, arrays comma-joined).
    pub fn config_strings(&self) -> BTreeMap<String, String> {
        fn s(v: &toml::Value) -> String {
            match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Array(a) => a.iter().map(s).collect::<Vec<_>>().join(","),
                other => other.to_string(),
            }
        }
        self.config.iter().map(|(k, v)| (k.clone(), s(v))).collect()
    }

    /// Is `authority` (`host:port`) granted? A grant without a port allows any port.
    pub fn allows(&self, authority: &str) -> bool {
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        self.allow_hosts
            .iter()
            .any(|g| g.eq_ignore_ascii_case(authority) || g.eq_ignore_ascii_case(host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_parse_and_grant() {
        let m = Manifest::parse(
            "budget_ms = 3\non_error = \"pass\"\nallow_hosts = [\"a.example:80\", \"b\"]\n[config]\nn = [\"1\", \"2\"]\nx = 4\n",
        )
        .unwrap();
        assert_eq!(m.budget_ms, Some(3));
        assert_eq!(m.on_error, Some(OnError::Pass));
        assert!(m.allows("a.example:80"));
        assert!(!m.allows("a.example:81"));
        assert!(m.allows("b:9999"));
        assert!(!m.allows("c:80"));
        let c = m.config_strings();
        assert_eq!(c["n"], "1,2");
        assert_eq!(c["x"], "4");
        assert!(Manifest::parse("nope = 1").is_err());
    }
}
