//! `[admin]`: the management API (JSON over HTTP on a listener of its own, loopback only).
//!
//! ```toml
//! [admin]
//! enabled = true
//! bind = "127.0.0.1"
//! port = 8991
//! [[admin.accounts]]            # people: POST /api/v1/login gives a session token
//! name = "ops"
//! password = "$argon2id$..."    # `smsgate hash-password`; plain text is hashed at start
//! role = "admin"                # read-only, operator or admin
//! [[admin.tokens]]              # automation: `Authorization: Bearer <token>`
//! name = "deploy"
//! sha256 = "9f86d0..."          # `smsgate admin-token` prints a token and this line
//! role = "operator"
//! ```
//!
//! With `tls_cert` and `tls_key` (PEM files) the API and the web console are served over TLS
//! (rustls) only, and may then bind beyond loopback; without them `bind` must be loopback.

use super::*;

/// What an account or a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Read everything (passwords never shown).
    ReadOnly,
    /// Also start and stop connectors, operate queues, send test messages, persist.
    Operator,
    /// Also change the configuration (users, groups, connectors, filters, routes,
    /// interceptors, balances) and load profiles.
    Admin,
}

/// A person's account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminAccount {
    pub name: String,
    /// An argon2 PHC string, or plain text (hashed at start).
    pub password: String,
    pub role: Role,
}

/// A token for automation: only its SHA-256 is configured.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminToken {
    pub name: String,
    /// Hex SHA-256 of the token.
    pub sha256: String,
    pub role: Role,
}

/// The `[admin]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    pub enabled: bool,
    /// A loopback address, unless TLS is on: the API carries credentials and changes the
    /// configuration.
    pub bind: String,
    pub port: u16,
    /// PEM certificate chain: serve the API and the console over TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of `tls_cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<std::path::PathBuf>,
    pub accounts: Vec<AdminAccount>,
    pub tokens: Vec<AdminToken>,
    /// Host header values accepted besides loopback addresses and `localhost` (the names a
    /// proxy in front uses); anything else is refused (DNS rebinding).
    pub hosts: Vec<String>,
    /// Failed logins per client address per minute before it is refused for a minute.
    pub login_failures_per_minute: u32,
    /// A session token lapses after this long without a request.
    pub session_idle_secs: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enabled: false,
            bind: "127.0.0.1".into(),
            port: 8991,
            tls_cert: None,
            tls_key: None,
            accounts: vec![],
            tokens: vec![],
            hosts: vec![],
            login_failures_per_minute: 5,
            session_idle_secs: 3600,
        }
    }
}

impl AdminConfig {
    /// Is the API served over TLS?
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }

    /// The section's own errors.
    pub fn check(&self) -> Result<(), String> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err("key `admin.tls_cert`/`admin.tls_key`: TLS needs both".into());
        }
        if self.enabled && !self.tls() {
            let loopback = self.bind == "localhost"
                || self
                    .bind
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(format!(
                    "key `admin.bind`: {:?} is not a loopback address; without TLS the management API listens on loopback only (set admin.tls_cert and admin.tls_key, or put a TLS proxy in front of it)",
                    self.bind
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, a) in self.accounts.iter().enumerate() {
            if a.name.is_empty() || !names.insert(a.name.as_str()) {
                return Err(format!(
                    "key `admin.accounts[{i}].name`: empty or duplicate {:?}",
                    a.name
                ));
            }
            if a.password.is_empty() {
                return Err(format!("key `admin.accounts[{i}].password`: empty"));
            }
        }
        for (i, t) in self.tokens.iter().enumerate() {
            if t.name.is_empty() || !names.insert(t.name.as_str()) {
                return Err(format!(
                    "key `admin.tokens[{i}].name`: empty or duplicate {:?} (accounts and tokens share names)",
                    t.name
                ));
            }
            if t.sha256.len() != 64 || hex::decode(&t.sha256).is_err() {
                return Err(format!(
                    "key `admin.tokens[{i}].sha256`: not a hex SHA-256 (64 hex digits)"
                ));
            }
        }
        Ok(())
    }
}
