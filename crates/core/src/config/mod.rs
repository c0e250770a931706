//! Configuration: built-in defaults → TOML file → `SMSGATE_*` environment variables (figment).
//!
//! Section names follow Jasmin's `jasmin.cfg` (`http-api`, `smpp-server`, `jcli`, `dlr-thrower`,
//! `deliversm-thrower`), plus `store`, `broker`, `queue`, `auth` and `plugins`. The file may also
//! provision groups, users, SMPP client connectors, HTTP client connectors, filters and MT/MO
//! routes with jCli's parameter names and defaults.
//!
//! Environment variables use `__` between nesting levels and `_` inside names (`SMSGATE_CONFIG`
//! and `SMSGATE_JCLI_PASSWORD`, read by the CLI, are not settings), e.g.
//! `SMSGATE_HTTP_API__PORT=1402` or `SMSGATE_DATA_DIR=/var/lib/smsgate`.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer, Serialize};

mod admin;
mod callbacks;
mod connectors;
mod de;
mod journal;
mod listeners;
mod logging;
mod migration;
mod plugins;
mod routing;
pub mod secrets;
mod storage;
mod telemetry;
mod users;

pub use admin::*;
pub use callbacks::*;
pub use connectors::*;
pub use journal::*;
pub use listeners::*;
pub use logging::*;
pub use migration::*;
pub use plugins::*;
pub use routing::*;
pub use storage::*;
pub use telemetry::*;
pub use users::*;

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A file with the secrets this file leaves out (see [`secrets`]), relative to this
    /// file; also `SMSGATE_SECRETS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<PathBuf>,
    /// Where the embedded store keeps its database file.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Log filter, format and privacy (see [`LogConfig`]); `RUST_LOG` overrides the filter.
    #[serde(default)]
    pub log: LogConfig,
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
    /// `[migration]`: receipts for messages Jasmin sent, during a switch.
    #[serde(default)]
    pub migration: MigrationConfig,
    /// `[journal]`: every message's phases, for message search.
    #[serde(default)]
    pub journal: JournalConfig,
    /// `[telemetry]`: message traces to an OpenTelemetry collector.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// `[admin]`: the management API.
    #[serde(default)]
    pub admin: AdminConfig,
}

fn default_data_dir() -> PathBuf {
    match std::env::var_os("HOME") {
        Some(home) => Path::new(&home).join(".local/share/smsgate"),
        None => PathBuf::from("smsgate-data"),
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            secrets: None,
            data_dir: default_data_dir(),
            log: LogConfig::default(),
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
            migration: Default::default(),
            journal: Default::default(),
            telemetry: Default::default(),
            admin: Default::default(),
        }
    }
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

/// The secrets file `file` names (`secrets`, relative to it), or `SMSGATE_SECRETS`.
fn secrets_file(file: &Path) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(s) = std::env::var_os("SMSGATE_SECRETS").filter(|s| !s.is_empty()) {
        return Ok(Some(PathBuf::from(s)));
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| ConfigError(format!("{}: {e}", file.display())))?;
    // A file that does not parse is reported by figment, with the line.
    let Ok(table) = text.parse::<toml::Table>() else {
        return Ok(None);
    };
    Ok(table.get("secrets").and_then(|v| v.as_str()).map(|s| {
        let p = Path::new(s);
        match file.parent() {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_path_buf(),
        }
    }))
}

/// `file`'s text with the secrets of `secrets` put back.
fn with_secrets(file: &Path, secrets: &Path) -> Result<String, ConfigError> {
    let read = |p: &Path| -> Result<toml::Table, ConfigError> {
        std::fs::read_to_string(p)
            .map_err(|e| ConfigError(format!("{}: {e}", p.display())))?
            .parse::<toml::Table>()
            .map_err(|e| ConfigError(format!("{}: {e}", p.display())))
    };
    let mut cfg = read(file)?;
    secrets::merge(&mut cfg, read(secrets)?)
        .map_err(|e| ConfigError(format!("secrets file {}: {e}", secrets.display())))?;
    toml::to_string(&cfg).map_err(|e| ConfigError(e.to_string()))
}

impl Config {
    /// Load defaults, then `file` (if any) with its secrets file, then `SMSGATE_*` environment
    /// variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(ConfigError(format!("file {} not found", f.display())));
            }
            fig = match secrets_file(f)? {
                None => fig.merge(Toml::file(f)),
                Some(s) => fig.merge(Toml::string(&with_secrets(f, &s)?)),
            };
        }
        fig = fig.merge(
            Env::prefixed("SMSGATE_")
                .ignore(&["CONFIG", "JCLI_PASSWORD"])
                .map(|k| {
                    // SMSGATE_HTTP_API__PORT -> http-api.port (section names use '-')
                    let s = k.as_str().to_ascii_lowercase();
                    let mut parts = s.split("__");
                    let first = parts.next().unwrap_or_default();
                    let first = match first {
                        "http_api" | "smpp_server" | "dlr_thrower" | "deliversm_thrower"
                        | "rest_api" => first.replace('_', "-"),
                        other => other.to_string(),
                    };
                    let rest: Vec<&str> = parts.collect();
                    if rest.is_empty() {
                        first.into()
                    } else {
                        format!("{first}.{}", rest.join(".")).into()
                    }
                }),
        );
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
        self.journal.check().map_err(ConfigError)?;
        self.telemetry.check().map_err(ConfigError)?;
        self.admin.check().map_err(ConfigError)?;
        Ok(())
    }
}
