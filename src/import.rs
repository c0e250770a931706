//! `smsgate import-jasmin`: a Jasmin store turned into a smsgate configuration file and/or a
//! data dir's persisted profile and ledger.
//!
//! Nothing is written until everything has been read, converted and checked as the gateway
//! will check it; a store with anything that cannot be carried is refused unless `--partial`.
//! Writing the TOML and scripts goes through temporary files renamed into place. Applying to a
//! data dir writes the profile jCli would have persisted (`jcli-prod` unless `--to-profile`) and
//! posts balances to the ledger: the first import sets them, a re-import posts only what changed
//! in Jasmin since the last one (the last imported values are kept under
//! `import:jasmin:<username>`), so running it again changes nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use smsgate_core::config::{
    Config, FilterConfig, GroupConfig, HttpApiConfig, HttpClientConfig, InterceptorConfig,
    JcliConfig, MigrationConfig, RouteConfig, SmppClientConfig, SmppServerConfig, ThrowerConfig,
    UserConfig,
};
use smsgate_gateway::manage::{self, Profile};
use smsgate_migrate::{convert, daemon_cfg, Import, JasminStore};
use smsgate_queue::store::Balance;

/// What to do with balances when applying to a data dir.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Balances {
    /// Set them (first import) or post what changed in Jasmin since the last import.
    Carry,
    /// Leave the ledger alone.
    Skip,
}

/// `smsgate import-jasmin`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// The directory holding `<profile>.router-users`, `<profile>.smppccs`, ...
    pub store_dir: PathBuf,
    #[arg(long, default_value = "jcli-prod")]
    pub profile: String,
    /// Jasmin's daemon configuration: listener, thrower and console settings.
    #[arg(long)]
    pub jasmin_cfg: Option<PathBuf>,
    /// Write the configuration to this TOML file (scripts go to `scripts/` beside it).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Apply it to the data dir of `--config` as the persisted profile and the ledger
    /// (the gateway must be stopped; it loads the profile at start).
    #[arg(long)]
    pub apply: bool,
    /// The profile name written by `--apply`.
    #[arg(long, default_value = "jcli-prod")]
    pub to_profile: String,
    /// carry: set balances (first import) or post Jasmin's change since the last import;
    /// skip: leave the ledger alone.
    #[arg(long, value_enum, default_value = "carry")]
    pub balances: Balances,
    /// Print what would be created and what cannot be carried; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Import what can be carried even if some items cannot.
    #[arg(long)]
    pub partial: bool,
    /// UTC offset of the Jasmin server's local time (`+01:00`), for date and time filters.
    #[arg(long)]
    pub utc_offset: Option<String>,
}

impl Options {
    /// Apply the store `profile` in `store_dir` to the data dir, balances carried: what the
    /// tests and a scripted cut-over run.
    pub fn apply_to_data_dir(store_dir: &Path, profile: &str, utc_offset: Option<&str>) -> Options {
        Options {
            store_dir: store_dir.to_path_buf(),
            profile: profile.into(),
            jasmin_cfg: None,
            out: None,
            apply: true,
            to_profile: "jcli-prod".into(),
            balances: Balances::Carry,
            dry_run: false,
            partial: false,
            utc_offset: utc_offset.map(str::to_string),
        }
    }
}

/// Why the import stopped. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Store(#[from] smsgate_migrate::StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("{count} item(s) could not be carried (listed above); nothing written. --partial imports the rest")]
    Incomplete { count: usize },
    #[error("{0}")]
    Io(String),
}

/// The configuration file written by an import: the managed sections, plus the listener
/// sections when `jasmin.cfg` was read.
#[derive(Serialize, Deserialize)]
struct ImportedToml {
    #[serde(rename = "http-api", skip_serializing_if = "Option::is_none")]
    http_api: Option<HttpApiConfig>,
    #[serde(rename = "smpp-server", skip_serializing_if = "Option::is_none")]
    smpp_server: Option<SmppServerConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jcli: Option<JcliConfig>,
    #[serde(rename = "dlr-thrower", skip_serializing_if = "Option::is_none")]
    dlr_thrower: Option<ThrowerConfig>,
    #[serde(rename = "deliversm-thrower", skip_serializing_if = "Option::is_none")]
    deliversm_thrower: Option<ThrowerConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    migration: Option<MigrationConfig>,
    groups: Vec<GroupConfig>,
    users: Vec<UserConfig>,
    smppccs: Vec<SmppClientConfig>,
    httpccs: Vec<HttpClientConfig>,
    filters: Vec<FilterConfig>,
    mtroutes: Vec<RouteConfig>,
    moroutes: Vec<RouteConfig>,
    mtinterceptors: Vec<InterceptorConfig>,
    mointerceptors: Vec<InterceptorConfig>,
}

/// The last balances imported for a user.
#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct LastImport {
    balance: Option<f64>,
    sms_count: Option<i64>,
}

fn ledger_key(username: &str) -> String {
    format!("import:jasmin:{username}")
}

/// Run an import, printing what it creates and what it cannot carry to `out`.
pub async fn run(opts: &Options, base: Config, out: &mut dyn Write) -> Result<(), ImportError> {
    let io = |e: std::io::Error| ImportError::Io(e.to_string());
    let store = JasminStore::read(&opts.store_dir, &opts.profile)?;
    let scripts_dir = absolute(&match &opts.out {
        Some(f) => f.parent().unwrap_or(Path::new(".")).join("scripts"),
        None => base.data_dir.join("jasmin-scripts"),
    });
    let mut imp = convert(&store, &scripts_dir, opts.utc_offset.as_deref());
    let mut cfg = base.clone();
    if let Some(path) = &opts.jasmin_cfg {
        let notes = daemon_cfg::apply(path, &mut cfg).map_err(ImportError::Invalid)?;
        imp.notes.extend(notes);
    }
    report(&store, &imp, out).map_err(io)?;
    let profile = profile_of(&imp);
    let merged = profile.overlay(&cfg);
    merged
        .validate()
        .map_err(|e| ImportError::Invalid(format!("the imported configuration: {e}")))?;
    manage::check(&merged)
        .map_err(|e| ImportError::Invalid(format!("the imported configuration: {e}")))?;
    if !imp.complete() && !opts.partial {
        let count = imp.notes.iter().filter(|n| n.left_out).count();
        return Err(ImportError::Incomplete { count });
    }
    if opts.dry_run {
        writeln!(out, "dry run: nothing written").map_err(io)?;
        return Ok(());
    }
    if opts.out.is_none() && !opts.apply {
        return Err(ImportError::Invalid(
            "nothing to do: give --out FILE (a configuration file), --apply (the data dir), or --dry-run".into(),
        ));
    }
    write_scripts(&imp).map_err(io)?;
    if let Some(file) = &opts.out {
        let text = toml_of(&imp, opts.jasmin_cfg.as_ref().map(|_| &cfg))?;
        write_atomically(file, text.as_bytes()).map_err(io)?;
        writeln!(
            out,
            "wrote {} and {} script(s) in {}",
            file.display(),
            imp.scripts.len(),
            scripts_dir.display()
        )
        .map_err(io)?;
    }
    if opts.apply {
        apply(opts, &base, profile, &imp, out).await?;
    }
    Ok(())
}

/// The profile jCli would have persisted for this import.
fn profile_of(imp: &Import) -> Profile {
    Profile {
        groups: imp.groups.clone(),
        users: imp.users.clone(),
        smppccs: imp.smppccs.clone(),
        started: imp.started.iter().cloned().collect(),
        httpccs: imp.httpccs.clone(),
        filters: imp.filters.clone(),
        mtroutes: imp.mtroutes.clone(),
        moroutes: imp.moroutes.clone(),
        mtinterceptors: imp.mtinterceptors.clone(),
        mointerceptors: imp.mointerceptors.clone(),
    }
}

fn report(store: &JasminStore, imp: &Import, out: &mut dyn Write) -> std::io::Result<()> {
    let versions = match store.versions().as_slice() {
        [] => "an unnamed Jasmin version".to_string(),
        v => format!("Jasmin {}", v.join(", ")),
    };
    writeln!(
        out,
        "store {} profile {} ({versions})",
        store.dir.display(),
        store.profile
    )?;
    for g in &imp.groups {
        writeln!(
            out,
            "group {}{}",
            g.gid,
            if g.enabled { "" } else { " (disabled)" }
        )?;
    }
    for u in &imp.users {
        let q = &u.mt_messaging_cred.quota;
        let nd = |v: Option<String>| v.unwrap_or_else(|| "ND".into());
        writeln!(
            out,
            "user {} (uid {}, group {}{}): MD5 password kept until the first login; balance {}, sms_count {}",
            u.username,
            manage::uid_of(u),
            u.gid,
            if u.enabled { "" } else { ", disabled" },
            nd(q.balance.map(|b| b.to_string())),
            nd(q.sms_count.map(|c| c.to_string())),
        )?;
    }
    for c in &imp.smppccs {
        writeln!(
            out,
            "smppccm {} ({:?} to {}:{} as {}){}",
            c.cid,
            c.bind,
            c.host,
            c.port,
            c.username,
            if imp.started.contains(&c.cid) {
                ", started"
            } else {
                ", stopped"
            }
        )?;
    }
    for c in &imp.httpccs {
        writeln!(out, "httpccm {} ({} {})", c.cid, c.method, c.url)?;
    }
    for f in &imp.filters {
        writeln!(out, "filter {} ({})", f.fid, f.kind)?;
    }
    for (t, routes) in [("mtroute", &imp.mtroutes), ("moroute", &imp.moroutes)] {
        for r in routes {
            let to = r
                .connector
                .clone()
                .unwrap_or_else(|| r.connectors.join(";"));
            writeln!(
                out,
                "{t} {} {} to {to}{}{}",
                r.order,
                r.kind,
                if r.filters.is_empty() {
                    String::new()
                } else {
                    format!(" if {}", r.filters.join(";"))
                },
                if r.rate > 0.0 {
                    format!(", rate {}", r.rate)
                } else {
                    String::new()
                }
            )?;
        }
    }
    for (t, list) in [
        ("mtinterceptor", &imp.mtinterceptors),
        ("mointerceptor", &imp.mointerceptors),
    ] {
        for i in list {
            writeln!(out, "{t} {} {} runs {}", i.order, i.kind, i.script)?;
        }
    }
    for n in &imp.notes {
        let tag = if n.left_out { "not imported" } else { "note" };
        writeln!(out, "{tag}: {}: {}", n.what, n.why)?;
    }
    Ok(())
}

fn toml_of(imp: &Import, daemon: Option<&Config>) -> Result<String, ImportError> {
    // In a file, an EvalPyFilter names its script's path (read when the file is loaded).
    let filters = imp
        .filters
        .iter()
        .map(|f| {
            let mut f = f.clone();
            if let Some(p) = f.py_path.take() {
                f.py_code = Some(p);
            }
            f
        })
        .collect();
    let interceptors = |l: &Vec<InterceptorConfig>| {
        l.iter()
            .map(|i| InterceptorConfig {
                source: None,
                ..i.clone()
            })
            .collect()
    };
    let doc = ImportedToml {
        http_api: daemon.map(|c| c.http_api.clone()),
        smpp_server: daemon.map(|c| c.smpp_server.clone()),
        jcli: daemon.map(|c| c.jcli.clone()),
        dlr_thrower: daemon.map(|c| c.dlr_thrower.clone()),
        deliversm_thrower: daemon.map(|c| c.deliversm_thrower.clone()),
        migration: daemon
            .filter(|c| c.migration.jasmin_redis.is_some())
            .map(|c| c.migration.clone()),
        groups: imp.groups.clone(),
        users: imp.users.clone(),
        smppccs: imp
            .smppccs
            .iter()
            .map(|c| SmppClientConfig {
                start: imp.started.contains(&c.cid),
                ..c.clone()
            })
            .collect(),
        httpccs: imp.httpccs.clone(),
        filters,
        mtroutes: imp.mtroutes.clone(),
        moroutes: imp.moroutes.clone(),
        mtinterceptors: interceptors(&imp.mtinterceptors),
        mointerceptors: interceptors(&imp.mointerceptors),
    };
    let body = toml::to_string(&doc).map_err(|e| ImportError::Invalid(e.to_string()))?;
    let head = String::from(
        "# Imported from Jasmin by `smsgate import-jasmin`.\n\
         # Passwords are Jasmin's MD5 digests (`md5:`); each becomes an argon2 hash at the user's first login.\n\
         # Quotas seed the ledger when a user is first seen (a later edit here never rolls money back).\n\
         # Connectors stopped in Jasmin have `start = false`.\n",
    );
    Ok(format!("{head}\n{body}"))
}

fn write_scripts(imp: &Import) -> std::io::Result<()> {
    for s in &imp.scripts {
        if let Some(dir) = s.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        write_atomically(&s.path, s.source.as_bytes())?;
    }
    Ok(())
}

/// Write `bytes` to `path` through a temporary file (mode 0600) renamed into place.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

pub(crate) fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// Write the profile and the ledger into the data dir (or the cluster store).
async fn apply(
    opts: &Options,
    base: &Config,
    mut profile: Profile,
    imp: &Import,
    out: &mut dyn Write,
) -> Result<(), ImportError> {
    let io = |e: std::io::Error| ImportError::Io(e.to_string());
    let fail = |e: String| ImportError::Io(e);
    profile.hash_passwords().map_err(fail)?;
    let (store, _lock) = crate::app::open_store_stopped(base).await.map_err(|e| {
        fail(format!(
            "{e}: stop the gateway before applying an import to its data dir (or write --out and load it from jCli)"
        ))
    })?;
    let json = serde_json::to_vec(&profile).map_err(|e| fail(e.to_string()))?;
    store
        .set(&format!("jcli:profile:{}", opts.to_profile), &json, None)
        .await
        .map_err(|e| fail(e.to_string()))?;
    writeln!(
        out,
        "applied to {} as profile {}",
        base.data_dir.display(),
        opts.to_profile
    )
    .map_err(io)?;
    if opts.balances == Balances::Skip {
        writeln!(out, "balances: left alone (--balances skip)").map_err(io)?;
        return Ok(());
    }
    for u in &imp.users {
        let q = &u.mt_messaging_cred.quota;
        let now = LastImport {
            balance: q.balance,
            sms_count: q.sms_count,
        };
        let key = ledger_key(&u.username);
        let last: Option<LastImport> = store
            .get(&key)
            .await
            .map_err(|e| fail(e.to_string()))?
            .and_then(|raw| serde_json::from_slice(&raw).ok());
        let line = match last {
            Some(last) if last == now => format!(
                "balance of {}: unchanged in Jasmin since the last import",
                u.username
            ),
            Some(last)
                if last.balance.is_some() == now.balance.is_some()
                    && last.sms_count.is_some() == now.sms_count.is_some() =>
            {
                let db = now.balance.unwrap_or(0.0) - last.balance.unwrap_or(0.0);
                let ds = now.sms_count.unwrap_or(0) - last.sms_count.unwrap_or(0);
                let after = store
                    .balance_credit(&u.username, db, ds)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                format!(
                    "balance of {}: posted {db:+} and {ds:+} sms (Jasmin's change since the last import): now {:?} / {:?}",
                    u.username, after.balance, after.sms_count
                )
            }
            _ => {
                store
                    .balance_set(
                        &u.username,
                        Balance {
                            balance: now.balance,
                            sms_count: now.sms_count,
                        },
                    )
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                format!(
                    "balance of {}: set to {:?} / {:?} sms",
                    u.username, now.balance, now.sms_count
                )
            }
        };
        let raw = serde_json::to_vec(&now).map_err(|e| fail(e.to_string()))?;
        store
            .set(&key, &raw, None)
            .await
            .map_err(|e| fail(e.to_string()))?;
        writeln!(out, "{line}").map_err(io)?;
    }
    Ok(())
}
