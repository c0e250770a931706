//! Building and running a gateway from its configuration (building is separate from running,
//! so tests start whole gateways in-process on ephemeral ports).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use smsgate_core::config::{Config, SyncMode};
use smsgate_core::model::CallbackKind;
use smsgate_core::stats::Stats;
use smsgate_gateway::cancel::Cancellations;
use smsgate_gateway::delivery::Deliveries;
use smsgate_gateway::dlr::{Dlr, DLR_HTTP_QUEUE, MO_HTTP_QUEUE};
use smsgate_gateway::health::Health;
use smsgate_gateway::http::{self, api::ApiState, ServerLimits};
use smsgate_gateway::inbound::Inbound;
use smsgate_gateway::manage::{Manager, Profile};
use smsgate_gateway::runtime::Runtime;
use smsgate_gateway::smpp::client::ConnectorDeps;
use smsgate_gateway::smpp::server::{ServerDeps, SmppServer};
use smsgate_gateway::throwers::Thrower;
use smsgate_plugins::PluginHost;
use smsgate_policy::admission::Admission;
use smsgate_policy::auth::Auth;
use smsgate_policy::interception::Interception;
use smsgate_policy::pipeline::Pipeline;
use smsgate_queue::broker::embedded::EmbeddedBroker;
use smsgate_queue::broker::Broker;
use smsgate_queue::db::Db;
use smsgate_queue::store::embedded::EmbeddedStore;
use smsgate_queue::store::{Balance, Store};
use smsgate_routing::table::{RoutingTable, TableKind};
use smsgate_routing::{BuildOptions, KnownConnectors, LiveAvailability, ScriptHost};

/// Errors starting a gateway.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("storage: {0}")]
    Storage(String),
    #[error("cannot listen on {addr}: {err}")]
    Listen { addr: String, err: std::io::Error },
}

impl From<smsgate_queue::open::OpenError> for StartError {
    fn from(e: smsgate_queue::open::OpenError) -> StartError {
        match e {
            smsgate_queue::open::OpenError::Config(m) => StartError::Config(m),
            smsgate_queue::open::OpenError::Unreachable(m) => StartError::Storage(m),
        }
    }
}

/// The message journal (`[journal]`): in PostgreSQL (`journal.url`, or `store.history_url`
/// in cluster mode), shared by the nodes of a cluster, else in a SQLite file of this node's.
async fn open_journal(cfg: &Config) -> Result<Arc<smsgate_queue::journal::Journal>, String> {
    use smsgate_queue::journal::Journal;
    let cluster = cfg.store.url.is_some();
    let url = cfg.journal.url.clone().or_else(|| {
        cluster
            .then(|| cfg.store.history_url.clone())
            .flatten()
            .filter(|_| cfg.journal.path.is_none())
    });
    match url {
        None => Journal::open(&cfg.journal, &cfg.data_dir).map_err(|e| e.to_string()),
        #[cfg(feature = "cluster")]
        Some(url) => {
            // Its calls block (on the runtime, through its handle): not on a runtime thread.
            let (jc, node) = (cfg.journal.clone(), smsgate_gateway::cluster::node_id(cfg));
            let rt = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || Journal::open_postgres(&jc, &url, &node, rt))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        }
        #[cfg(not(feature = "cluster"))]
        Some(_) => {
            Err("journal.url: PostgreSQL needs the cluster build (feature `cluster`)".into())
        }
    }
}

/// A running gateway: its [`Runtime`] (the parts a configuration change reaches) and what
/// only starting and stopping need.
pub struct Gateway {
    pub runtime: Arc<Runtime>,
    pub broker: Arc<dyn Broker>,
    /// Address of the HTTP API, if enabled.
    pub http_addr: Option<SocketAddr>,
    pub cancellations: Arc<Cancellations>,
    /// Background tasks (callback throwers, REST batch runners, reassembly and receipt
    /// timers, configuration followers), awaited on shutdown.
    tasks: parking_lot::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The live configuration (jCli, profiles, other nodes' changes).
    pub manager: Arc<Manager>,
    jcli_addr: parking_lot::Mutex<Option<SocketAddr>>,
    admin_addr: parking_lot::Mutex<Option<SocketAddr>>,
    /// The journal's place among the spans' readers (taken out when the gateway goes).
    _journal_registration: Option<smsgate_core::trace::Registration>,
    /// Address of the REST API (`[rest-api]`), if enabled.
    pub rest_addr: Option<SocketAddr>,
    /// Durable batch jobs (`/secure/sendbatch`, retarus jobs).
    pub batches: Arc<smsgate_gateway::batch::Batches>,
    /// Message history behind the REST APIs' reports.
    pub history: Arc<dyn smsgate_queue::history::History>,
    shutdown: CancellationToken,
    http_task: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Exclusive use of the data dir (embedded mode), released at shutdown.
    data_lock: parking_lot::Mutex<Option<DataDirLock>>,
    /// Readiness (`/ready`), serving once every listener is up.
    pub health: Arc<Health>,
}

/// Exclusive use of a data dir: an advisory lock on `smsgate.lock` in it, held while a
/// gateway (or an import applied to it) uses the embedded queue and store. Two processes on one
/// embedded queue would both hand out its messages. The kernel releases the lock when the
/// process dies, `kill -9` included.
pub struct DataDirLock {
    _file: std::fs::File,
}

impl DataDirLock {
    /// Take the lock of `dir` (created if missing), or say who holds it.
    pub fn take(dir: &std::path::Path) -> Result<DataDirLock, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join("smsgate.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(format!(
                "data dir {} is in use by another smsgate process",
                dir.display()
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(format!("{}: {e}", path.display())),
        }
    }
}

/// The store of `cfg` for a command run beside the gateway (import, export): Redis in cluster
/// mode, else the data dir's database, whose lock is held until the returned guard drops
/// (`Err` names the running gateway when it holds it).
pub async fn open_store_stopped(
    cfg: &Config,
) -> Result<(Arc<dyn Store>, Option<DataDirLock>), String> {
    if let Some(s) = smsgate_queue::open::open_store(cfg)
        .await
        .map_err(|e| e.to_string())?
    {
        return Ok((s, None));
    }
    let lock = DataDirLock::take(&cfg.data_dir)?;
    let db_path = cfg.data_dir.join("smsgate.db");
    let db = Db::open(&db_path, true, cfg.store.group_commit_max)
        .map_err(|e| format!("{}: {e}", db_path.display()))?;
    let s = EmbeddedStore::open(db, Duration::from_secs(cfg.store.message_record_ttl))
        .await
        .map_err(|e| e.to_string())?;
    Ok((s, Some(lock)))
}

/// `gw.pipeline`, `gw.stats`, `gw.connectors`...: the runtime's parts, read through the gateway.
impl std::ops::Deref for Gateway {
    type Target = Runtime;
    fn deref(&self) -> &Runtime {
        &self.runtime
    }
}

impl Gateway {
    /// Build every component from `cfg` and start serving.
    pub async fn start(cfg: Config) -> Result<Arc<Gateway>, StartError> {
        // Embedded mode: this process owns the data dir's queue. (Cluster nodes share their
        // queue through RabbitMQ and may share a data dir.)
        let data_lock = if cfg.broker.url.is_none() && cfg.store.url.is_none() {
            Some(DataDirLock::take(&cfg.data_dir).map_err(StartError::Storage)?)
        } else {
            None
        };
        let db_path = cfg.data_dir.join("smsgate.db");
        let db = Db::open(
            &db_path,
            cfg.store.sync == SyncMode::Full,
            cfg.store.group_commit_max,
        )
        .map_err(|e| StartError::Storage(format!("{}: {e}", db_path.display())))?;
        // Cluster mode (RabbitMQ / Redis) where configured, else the embedded database (which
        // the REST API's batches and history use in both modes).
        let broker: Arc<dyn Broker> = match smsgate_queue::open::open_broker(&cfg).await? {
            Some(b) => b,
            None => EmbeddedBroker::open(db.clone())
                .await
                .map_err(|e| StartError::Storage(e.to_string()))?,
        };
        let store: Arc<dyn Store> = match smsgate_queue::open::open_store(&cfg).await? {
            Some(s) => s,
            None => EmbeddedStore::open(
                db.clone(),
                Duration::from_secs(cfg.store.message_record_ttl),
            )
            .await
            .map_err(|e| StartError::Storage(e.to_string()))?,
        };
        // The persisted jcli-prod profile, if any, replaces the file's managed sections.
        let mut profile = match smsgate_gateway::manage::read_profile(
            &*store,
            smsgate_gateway::manage::DEFAULT_PROFILE,
        )
        .await
        .map_err(StartError::Storage)?
        {
            Some(p) => {
                tracing::info!(
                    profile = smsgate_gateway::manage::DEFAULT_PROFILE,
                    "configuration profile loaded (it replaces the config file's groups, users, connectors, filters, routes and interceptors)"
                );
                p
            }
            None => Profile::from_config(&cfg),
        };
        profile.hash_passwords().map_err(StartError::Config)?;
        let base = cfg.clone();
        let cfg = profile.overlay(&base);
        smsgate_gateway::manage::check(&cfg).map_err(|e| {
            StartError::Config(format!(
                "profile {}: {e}",
                smsgate_gateway::manage::DEFAULT_PROFILE
            ))
        })?;
        smsgate_core::privacy::set_connectors(smsgate_gateway::manage::log_private(&cfg));
        let availability = Arc::new(LiveAvailability::new());
        // The host exists even with Wasm plugins disabled: it runs Jasmin's Python scripts
        // (and costs nothing until a component is loaded).
        let plugins =
            Some(PluginHost::new(&cfg.plugins, &cfg.data_dir).map_err(StartError::Config)?);
        let scripts: Option<Arc<dyn ScriptHost>> =
            plugins.clone().map(|p| p as Arc<dyn ScriptHost>);
        let opts = BuildOptions {
            availability: availability.clone(),
            scripts: scripts.clone(),
            known: Some(KnownConnectors::from_config(&cfg)),
        };
        let interception = Arc::new(
            Interception::build(&cfg, plugins.clone(), &opts).map_err(StartError::Config)?,
        );
        let mt_table = RoutingTable::build_with(TableKind::Mt, &cfg.mtroutes, &cfg.filters, &opts)
            .map_err(StartError::Config)?;
        let mo_table = RoutingTable::build_with(TableKind::Mo, &cfg.moroutes, &cfg.filters, &opts)
            .map_err(StartError::Config)?;
        let httpccs: HashMap<String, smsgate_core::config::HttpClientConfig> = cfg
            .httpccs
            .iter()
            .map(|c| (c.cid.clone(), c.clone()))
            .collect();
        let connectors: HashMap<String, Arc<smsgate_core::config::SmppClientConfig>> = cfg
            .smppccs
            .iter()
            .map(|c| (c.cid.clone(), Arc::new(c.clone())))
            .collect();
        let auth = Arc::new(
            Auth::from_config(&cfg.auth, &cfg.groups, &cfg.users).map_err(StartError::Config)?,
        );

        // Seed the ledger once per user: a config edit never rolls money back.
        for u in &cfg.users {
            let q = &u.mt_messaging_cred.quota;
            store
                .balance_seed(
                    &u.username,
                    Balance {
                        balance: q.balance,
                        sms_count: q.sms_count,
                    },
                )
                .await
                .map_err(|e| StartError::Storage(e.to_string()))?;
        }
        let stats = Arc::new(Stats::default());
        // The message journal (`[journal]`): every message's phases, for message search.
        let journal = if cfg.journal.enabled {
            Some(open_journal(&cfg).await.map_err(StartError::Storage)?)
        } else {
            None
        };
        let journal_registration = journal
            .clone()
            .map(|j| smsgate_core::trace::register(j as Arc<dyn smsgate_core::trace::Sink>));
        let callbacks = smsgate_policy::callbacks::CallbackGuard::new(
            cfg.callbacks.clone(),
            Some(stats.clone()),
        );
        callbacks.set_users(auth.clone());
        for (what, url) in [
            ("broker", &cfg.broker.url),
            ("store", &cfg.store.url),
            ("history", &cfg.store.history_url),
        ] {
            for url in url.iter().flat_map(|u| u.split(',')) {
                callbacks.protect_service(what, url.trim()).await;
            }
        }
        let pipeline = Arc::new(Pipeline {
            auth,
            mt_table: RwLock::new(Arc::new(mt_table)),
            connectors: RwLock::new(connectors.clone()),
            broker: broker.clone(),
            store: store.clone(),
            stats: stats.clone(),
            split: cfg.http_api.long_content_split,
            max_parts: cfg.http_api.long_content_max_parts.max(1) as usize,
            max_age_ms: (cfg.queue.max_age as i64) * 1000,
            admission: Admission::new(store.clone(), cfg.store.url.is_some()),
            interception: interception.clone(),
            callbacks: callbacks.clone(),
        });
        let health = Health::new(store.clone(), broker.clone());
        let shutdown = CancellationToken::new();
        if let Some(p) = &plugins {
            p.watch(shutdown.clone());
        }
        let mut http_addr = None;
        let mut http_task = None;
        if cfg.http_api.enabled {
            let addr = format!("{}:{}", cfg.http_api.bind, cfg.http_api.port);
            let listener = TcpListener::bind(&addr)
                .await
                .map_err(|err| StartError::Listen {
                    addr: addr.clone(),
                    err,
                })?;
            http_addr = listener.local_addr().ok();
            if let Some(a) = http_addr {
                callbacks.protect_listener("http-api", a);
            }
            let state = Arc::new(ApiState {
                pipeline: pipeline.clone(),
                stats: stats.clone(),
                max_body: cfg.http_api.max_body_bytes,
                body_timeout: Duration::from_millis(cfg.http_api.body_read_timeout_ms),
                plugins: plugins.clone(),
                health: Some(health.clone()),
                journal: journal.clone(),
            });
            let limits = ServerLimits {
                max_connections: cfg.http_api.max_connections,
                max_head_bytes: cfg.http_api.max_head_bytes,
                header_read_timeout: Duration::from_millis(cfg.http_api.header_read_timeout_ms),
            };
            tracing::info!(addr = %http_addr.map(|a| a.to_string()).unwrap_or(addr), "HTTP API listening");
            http_task = Some(tokio::spawn(http::serve_api(
                listener,
                state,
                limits,
                shutdown.clone(),
            )));
        }
        let rest = http::rest::start(
            &cfg,
            pipeline.clone(),
            stats.clone(),
            broker.clone(),
            store.clone(),
            db.clone(),
            shutdown.clone(),
        )
        .await
        .map_err(|e| match e {
            http::rest::RestStartError::Listen { addr, err } => StartError::Listen { addr, err },
            other => StartError::Config(other.to_string()),
        })?;
        if let Some(a) = rest.addr {
            callbacks.protect_listener("rest-api", a);
        }
        let cancellations = Arc::new(Cancellations::default());
        let jasmin = match &cfg.migration.jasmin_redis {
            Some(url) => Some(smsgate_queue::jasmin_dlr::open(url).await?),
            None => None,
        };
        let dlr = Arc::new(Dlr {
            store: store.clone(),
            broker: broker.clone(),
            stats: stats.clone(),
            jasmin,
        });
        let inbound = Arc::new(Inbound {
            dlr: dlr.clone(),
            broker: broker.clone(),
            store: store.clone(),
            stats: stats.clone(),
            mo_table: RwLock::new(Arc::new(mo_table)),
            httpccs: RwLock::new(httpccs),
            mo: cfg.mo.clone(),
            interception: interception.clone(),
        });
        let mut throwers = rest.tasks;
        for (queue, kind, tcfg) in [
            (DLR_HTTP_QUEUE, CallbackKind::Dlr, &cfg.dlr_thrower),
            (MO_HTTP_QUEUE, CallbackKind::Mo, &cfg.deliversm_thrower),
        ] {
            let t = Thrower::new(
                queue,
                kind,
                broker.clone(),
                tcfg.clone(),
                callbacks.clone(),
                stats.clone(),
            )
            .with_availability(availability.clone())
            .with_store(store.clone());
            throwers.push(tokio::spawn(t.run(shutdown.clone())));
        }
        throwers.push(tokio::spawn(
            inbound.clone().run_reassembly_timeouts(shutdown.clone()),
        ));
        throwers.push(tokio::spawn(
            inbound.clone().run_receipt_retries(shutdown.clone()),
        ));
        let smpp_server = if cfg.smpp_server.enabled {
            let deps = ServerDeps {
                pipeline: pipeline.clone(),
                broker: broker.clone(),
                store: store.clone(),
                stats: stats.clone(),
                cancellations: cancellations.clone(),
                bind_slots: smsgate_gateway::cluster::BindSlots::from_config(&cfg, store.clone()),
            };
            Some(
                SmppServer::start(cfg.smpp_server.clone(), deps)
                    .await
                    .map_err(|e| match e {
                        smsgate_gateway::smpp::server::ServerError::Listen { addr, err } => {
                            StartError::Listen { addr, err }
                        }
                        other => StartError::Config(other.to_string()),
                    })?,
            )
        } else {
            None
        };
        if let Some(s) = &smpp_server {
            callbacks.protect_listener("smpp-server", s.addr);
            if let Some(t) = s.tls_addr {
                callbacks.protect_listener("smpp-server-tls", t);
            }
        }
        let deliveries = Arc::new(Deliveries {
            broker: broker.clone(),
            store: store.clone(),
            stats: stats.clone(),
            max_retries: cfg.queue.max_retries.max(1),
            cancellations: cancellations.clone(),
            dlr,
            interception: interception.clone(),
        });
        let connector_deps = ConnectorDeps {
            broker: broker.clone(),
            stats: stats.clone(),
            deliveries,
            inbound: inbound.clone(),
            lease: smsgate_gateway::cluster::Leases::from_config(&cfg, store.clone()),
        };
        let runtime = Arc::new(Runtime {
            journal,
            pipeline,
            stats,
            store: store.clone(),
            inbound: inbound.clone(),
            interception,
            smpp_server,
            connectors: RwLock::new(HashMap::new()),
            connector_deps,
            availability,
            scripts,
            plugins,
        });
        let audit_file = base.data_dir.join("audit.jsonl");
        let audit = smsgate_gateway::audit::AuditLog::open(&audit_file)
            .map_err(|e| StartError::Storage(format!("{}: {e}", audit_file.display())))?;
        let gw = Arc::new(Gateway {
            manager: Arc::new(Manager::new(
                Arc::downgrade(&runtime),
                base.clone(),
                store.clone(),
                profile.clone(),
                audit,
            )),
            runtime,
            broker: broker.clone(),
            http_addr,
            cancellations: cancellations.clone(),
            tasks: parking_lot::Mutex::new(throwers),
            jcli_addr: None.into(),
            admin_addr: None.into(),
            _journal_registration: journal_registration,
            rest_addr: rest.addr,
            batches: rest.batches,
            history: rest.history,
            shutdown,
            http_task: parking_lot::Mutex::new(http_task),
            data_lock: parking_lot::Mutex::new(data_lock),
            health,
        });
        // Jasmin MD5 digests replaced by argon2 hashes at first login.
        {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            gw.pipeline.auth.on_upgrade(tx);
            let manager = gw.manager.clone();
            let stop = gw.shutdown.clone();
            gw.tasks.lock().push(tokio::spawn(async move {
                loop {
                    let up = tokio::select! {
                        _ = stop.cancelled() => return,
                        up = rx.recv() => match up { Some(u) => u, None => return },
                    };
                    match manager.upgrade_password(&up).await {
                        Ok(()) => tracing::info!(user = %up.username, "Jasmin MD5 password replaced by an argon2 hash"),
                        Err(e) => tracing::warn!(user = %up.username, error = %e, "cannot replace the MD5 password digest"),
                    }
                }
            }));
        }
        gw.stats
            .retain_smppcs(profile.smppccs.iter().map(|c| c.cid.as_str()));
        for c in &profile.smppccs {
            if profile.started.contains(&c.cid) {
                gw.manager.spawn_connector(&gw.runtime, c, true);
            }
        }
        gw.tasks
            .lock()
            .push(tokio::spawn(gw.manager.clone().follow(gw.shutdown.clone())));
        gw.tasks
            .lock()
            .push(tokio::spawn(watch_clock(gw.shutdown.clone())));
        if let Some(l) = &gw.connector_deps.lease {
            gw.tasks
                .lock()
                .push(tokio::spawn(smsgate_gateway::cluster::follow_bound(
                    l.store.clone(),
                    gw.availability.clone(),
                    l.ttl,
                    gw.shutdown.clone(),
                )));
        }
        if cfg.jcli.enabled {
            let addr = smsgate_jcli::start(&cfg.jcli, gw.manager.clone(), gw.shutdown.clone())
                .await
                .map_err(|(addr, err)| StartError::Listen { addr, err })?;
            *gw.jcli_addr.lock() = Some(addr);
            gw.pipeline.callbacks.protect_listener("jcli", addr);
        }
        if cfg.admin.enabled {
            let addr = smsgate_admin::start(&cfg.admin, gw.manager.clone(), gw.shutdown.clone())
                .await
                .map_err(|e| match e {
                    smsgate_admin::StartError::Listen(addr, err) => {
                        StartError::Listen { addr, err }
                    }
                    smsgate_admin::StartError::Config(e) => StartError::Config(e),
                })?;
            *gw.admin_addr.lock() = Some(addr);
            gw.pipeline.callbacks.protect_listener("admin", addr);
        }
        gw.health
            .serving(Arc::downgrade(&gw.manager), gw.listeners());
        Ok(gw)
    }

    /// Address of the jCli console, if enabled.
    pub fn jcli_addr(&self) -> Option<SocketAddr> {
        *self.jcli_addr.lock()
    }

    /// Address of the management API, if enabled.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        *self.admin_addr.lock()
    }

    /// Address of the SMPP server API, if enabled.
    pub fn smpp_addr(&self) -> Option<SocketAddr> {
        self.smpp_server.as_ref().map(|s| s.addr)
    }

    /// Every bound listener by name (`http-api`, `rest-api`, `smpp-server`,
    /// `smpp-server-tls`, `jcli`).
    pub fn listeners(&self) -> Vec<(String, SocketAddr)> {
        let tls = self.smpp_server.as_ref().and_then(|s| s.tls_addr);
        [
            ("http-api", self.http_addr),
            ("rest-api", self.rest_addr),
            ("smpp-server", self.smpp_addr()),
            ("smpp-server-tls", tls),
            ("jcli", self.jcli_addr()),
            ("admin", self.admin_addr()),
        ]
        .into_iter()
        .filter_map(|(n, a)| Some((n.to_string(), a?)))
        .collect()
    }

    /// Graceful shutdown: stop accepting, drain the windows in flight, unbind.
    pub async fn shutdown(&self) {
        self.health.stopping();
        if let Some(s) = &self.smpp_server {
            s.shutdown().await;
        }
        self.shutdown.cancel();
        let t = self.http_task.lock().take();
        if let Some(t) = t {
            let _ = t.await;
        }
        let handles: Vec<_> = self.connectors.read().values().cloned().collect();
        futures::future::join_all(handles.iter().map(|h| h.stop())).await;
        let throwers: Vec<_> = self.tasks.lock().drain(..).collect();
        for t in throwers {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        self.data_lock.lock().take();
    }
}

/// Log each step of the system clock (the gateway's own clock does not follow it: see
/// `smsgate_core::clock`), checked every 5 s; a step under a second is not reported.
async fn watch_clock(stop: CancellationToken) {
    let mut reported = 0i64;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
        }
        let step = smsgate_core::clock::step_ms();
        if (step - reported).abs() >= 1000 {
            tracing::warn!(
                step_s = step as f64 / 1000.0,
                "the system clock was stepped: the gateway keeps its own time (delays, validity and expiry are unaffected); restart at a quiet moment to follow the system clock"
            );
            reported = step;
        }
    }
}
