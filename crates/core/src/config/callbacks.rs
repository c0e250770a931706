//! Calls to clients: `[dlr-thrower]`, `[deliversm-thrower]`, `[callbacks]` (which URLs may be
//! called) and `[mo]`.

use super::*;

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
