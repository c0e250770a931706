//! The `smsgate` binary: the gateway, and the SMSC simulator (`smsgate smsc-sim`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use smsgate::app::Gateway;
use smsgate::simulator::{self, SimConfig, Simulator};
use smsgate::telemetry::Telemetry;

/// mimalloc instead of glibc's allocator: the hot path allocates and frees many small buffers
/// across threads, where glibc's arenas spent ~12% of the gateway's CPU (perf) and kept freed
/// memory. Built without transparent huge pages (`no_thp`): with them its arena became
/// resident 2 MiB at a time (idle RSS 47 -> 35 MB, under load 75-79 -> 53-54 MB without them,
/// CPU per message unchanged).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Return mimalloc's freed memory to the system now (`smsgate_core::memory`): called after
/// an argon2 hash or verification, whose 7 MiB block mimalloc otherwise kept resident
/// (idle anonymous RSS after start 13 -> 4 MB, after a first login 19 -> 5 MB).
fn release_freed_memory() {
    // SAFETY: mi_collect has no preconditions; it only walks mimalloc's own structures.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

#[derive(Parser)]
#[command(
    name = "smsgate",
    version,
    about = "SMS gateway: Jasmin-compatible APIs, SMPP, durable queues"
)]
struct Cli {
    /// Configuration file (TOML). Also `SMSGATE_CONFIG`.
    #[arg(long, env = "SMSGATE_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the gateway (the default).
    Run,
    /// Run the SMSC simulator.
    SmscSim {
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        #[arg(long, default_value_t = 2776)]
        port: u16,
        /// HTTP control port (GET /stats, GET /messages, POST /mo?from=&to=&content=,
        /// GET/POST /faults?refuse_binds=&stall=&throttle_all=&flap_ms=).
        #[arg(long)]
        control_port: Option<u16>,
        /// Message id format: hex or dec.
        #[arg(long, default_value = "hex")]
        msgid: String,
        /// Send delivery receipts this many ms after submits that ask for one.
        #[arg(long)]
        dlr_delay_ms: Option<u64>,
        /// Answer ESME_RTHROTTLED to this percentage of submits.
        #[arg(long, default_value_t = 0)]
        throttle_pct: u8,
        /// PDU log: a file path, "-" for stdout, or "off".
        #[arg(long, default_value = "-")]
        pdu_log: String,
        /// Keep every submit received, for GET /messages (the fault drill reads them); off by
        /// default: it grows with every message.
        #[arg(long)]
        keep_messages: bool,
    },
    /// Print the argon2 hash of a password read from stdin (for `[jcli] admin_password` or a
    /// user's `password`).
    HashPassword,
    /// Print a new random token for the management API, and the `[[admin.tokens]]` lines
    /// that configure it (only its SHA-256 goes into the configuration).
    AdminToken {
        /// The token's name (audit log, `whoami`).
        #[arg(long, default_value = "automation")]
        name: String,
        /// read-only, operator or admin.
        #[arg(long, default_value = "read-only")]
        role: String,
    },
    /// Import a Jasmin store (the files jCli's `persist` writes, e.g. /etc/jasmin/store):
    /// users with their passwords and balances, groups, connectors, filters, routes,
    /// interceptors and their Python scripts. Nothing is written if anything fails.
    ImportJasmin(smsgate::import::Options),
    /// Write the live configuration (jCli's changes included) as TOML, its secrets apart: asks
    /// the running gateway's console (admin password from SMSGATE_JCLI_PASSWORD or stdin),
    /// else reads what it would start with.
    ExportConfig(smsgate::export::Options),
    /// Copy the embedded database (queued messages, records, balances, profiles) to OUT while
    /// the gateway runs: a consistent snapshot, written whole or not at all.
    Backup {
        #[arg(long)]
        out: PathBuf,
    },
    /// Put a backup back into the data dir of a stopped gateway (the replaced database is
    /// kept beside it); its queued messages are delivered at the next start.
    Restore {
        #[arg(long)]
        from: PathBuf,
    },
    /// Load and check the configuration (file, secrets, SMSGATE_* variables, routing) as `run`
    /// would, without starting anything: exit 0 and "configuration OK", or 2 and the error.
    CheckConfig,
    /// GET a URL (default: this node's /ready) and exit 0 on a 2xx answer, 1 otherwise: a
    /// container HEALTHCHECK without curl.
    Probe(smsgate::probe::Options),
    /// Plugin authors' tools.
    Plugin {
        #[command(subcommand)]
        cmd: PluginCmd,
    },
}

#[derive(Subcommand)]
enum PluginCmd {
    /// Write a ready-to-build Rust plugin project (SDK and WIT included) in DIR/NAME.
    New {
        name: String,
        /// filter, route, interceptor, hlr-lookup or charging.
        #[arg(long)]
        world: String,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Say which world a component implements, or why the gateway would refuse it.
    Check { file: PathBuf },
}

/// Replaces the log filter of a running process (`log` reloaded on SIGHUP).
type SetLogFilter = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// The logging set up by [`init_tracing`]: how to change its filter (unless `RUST_LOG` fixes
/// it), and the writer thread's guard, which flushes what is buffered when dropped.
struct Logging {
    set_filter: Option<SetLogFilter>,
    _flush: tracing_appender::non_blocking::WorkerGuard,
}

/// Logs on stderr, as text or JSON lines (`log.format`); colour codes only when stderr is a
/// terminal and `NO_COLOR` is not set (a log file, journald or a pipe gets plain text).
///
/// Lines are formatted where they happen and written by a thread of their own, in batches
/// (one write per batch instead of one per line: with the message log on, a write per message
/// cost ~14 µs of CPU per HTTP message). Nothing is dropped: a full buffer makes the logger
/// wait. What is still buffered when the process is killed is lost (logs only, never data).
fn init_tracing(log: &smsgate::config::LogConfig) -> Logging {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    smsgate::privacy::set_global(log.privacy);
    let from_env = EnvFilter::try_from_default_env().ok();
    let fixed = from_env.is_some();
    let filter = from_env.unwrap_or_else(|| {
        EnvFilter::try_new(&log.filter).unwrap_or_else(|e| {
            eprintln!("smsgate: log filter {:?}: {e}; using \"info\"", log.filter);
            EnvFilter::new("info")
        })
    });
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (writer, flush) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        // ~8k lines (a few MB) at most: beyond that the logger waits rather than grows.
        .buffered_lines_limit(8192)
        .thread_name("smsgate-log")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let setter = |reload: Box<dyn Fn(EnvFilter) -> Result<(), String> + Send + Sync>| {
        (!fixed).then(|| -> SetLogFilter {
            Box::new(move |f: &str| {
                let filter = EnvFilter::try_new(f).map_err(|e| format!("log filter {f:?}: {e}"))?;
                reload(filter)
            })
        })
    };
    let set_filter = match log.format {
        smsgate::config::LogFormat::Text => {
            let builder = builder.with_ansi(ansi).with_filter_reloading();
            let handle = builder.reload_handle();
            builder.init();
            setter(Box::new(move |f| {
                handle.reload(f).map_err(|e| e.to_string())
            }))
        }
        smsgate::config::LogFormat::Json => {
            let builder = builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .with_filter_reloading();
            let handle = builder.reload_handle();
            builder.init();
            setter(Box::new(move |f| {
                handle.reload(f).map_err(|e| e.to_string())
            }))
        }
    };
    Logging {
        set_filter,
        _flush: flush,
    }
}

/// A command's one-line result on stdout, or its error on stderr and exit status 1.
fn outcome(cmd: &str, r: Result<String, String>) -> anyhow::Result<()> {
    match r {
        Ok(line) => {
            println!("{line}");
            Ok(())
        }
        Err(e) => {
            eprintln!("smsgate {cmd}: {e}");
            std::process::exit(1);
        }
    }
}

/// The configuration a command runs with; a bad one ends the process (status 2).
fn config_or_exit(file: Option<&std::path::Path>) -> smsgate::config::Config {
    smsgate::load_config(file).unwrap_or_else(|e| {
        eprintln!("smsgate: {e}");
        std::process::exit(2)
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    smsgate_core::memory::set_release(release_freed_memory);
    let cli = Cli::parse();
    match cli.cmd.unwrap_or(Cmd::Run) {
        Cmd::Run => run(cli.config).await,
        Cmd::ExportConfig(opts) => {
            let base = config_or_exit(cli.config.as_deref());
            let password = || {
                std::env::var("SMSGATE_JCLI_PASSWORD").ok().or_else(|| {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line).ok()?;
                    let pw = line.trim_end_matches(['\r', '\n']).to_string();
                    (!pw.is_empty()).then_some(pw)
                })
            };
            let mut stderr = std::io::stderr();
            if let Err(e) = smsgate::export::run(&opts, base, password, &mut stderr).await {
                eprintln!("smsgate export-config: {e}");
                std::process::exit(1);
            }
            Ok(())
        }
        Cmd::Backup { out } => {
            let cfg = config_or_exit(cli.config.as_deref());
            outcome("backup", smsgate::backup::backup(&cfg, &out))
        }
        Cmd::Restore { from } => {
            let cfg = config_or_exit(cli.config.as_deref());
            outcome("restore", smsgate::backup::restore(&cfg, &from))
        }
        Cmd::CheckConfig => {
            let cfg = config_or_exit(cli.config.as_deref());
            println!(
                "configuration OK: {} users, {} SMPP connectors, {} MT routes, {} MO routes",
                cfg.users.len(),
                cfg.smppccs.len(),
                cfg.mtroutes.len(),
                cfg.moroutes.len()
            );
            Ok(())
        }
        Cmd::Probe(opts) => {
            let url = match &opts.url {
                Some(u) => u.clone(),
                None => smsgate::probe::ready_url(&config_or_exit(cli.config.as_deref())),
            };
            outcome("probe", smsgate::probe::run(&opts, &url).await)
        }
        Cmd::ImportJasmin(opts) => {
            let base = config_or_exit(cli.config.as_deref());
            let mut stdout = std::io::stdout();
            if let Err(e) = smsgate::import::run(&opts, base, &mut stdout).await {
                eprintln!("smsgate import-jasmin: {e}");
                std::process::exit(1);
            }
            Ok(())
        }
        Cmd::Plugin { cmd } => match cmd {
            PluginCmd::New { name, world, dir } => {
                let path = smsgate::plugin_tool::new_project(&dir, &name, &world)
                    .map_err(anyhow::Error::msg)?;
                println!(
                    "wrote {}: `cargo test` runs its native tests, `cargo build --release --target wasm32-wasip2` builds it",
                    path.display()
                );
                Ok(())
            }
            PluginCmd::Check { file } => match smsgate::plugin_tool::check(&file) {
                Ok(line) => {
                    println!("{line}");
                    Ok(())
                }
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(1);
                }
            },
        },
        Cmd::AdminToken { name, role } => {
            anyhow::ensure!(
                matches!(role.as_str(), "read-only" | "operator" | "admin"),
                "--role: read-only, operator or admin"
            );
            let (token, hash) = smsgate::admin::auth::new_token();
            println!("token: {token}\n\n[[admin.tokens]]\nname = {name:?}\nsha256 = \"{hash}\"\nrole = \"{role}\"");
            Ok(())
        }
        Cmd::HashPassword => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            let pw = line.trim_end_matches(['\r', '\n']);
            anyhow::ensure!(!pw.is_empty(), "empty password");
            let hash = smsgate::auth::hash_password(pw).map_err(anyhow::Error::msg)?;
            println!("{hash}");
            Ok(())
        }
        Cmd::SmscSim {
            bind,
            port,
            control_port,
            msgid,
            dlr_delay_ms,
            throttle_pct,
            pdu_log,
            keep_messages,
        } => {
            let _logging = init_tracing(&Default::default());
            let ip: std::net::IpAddr = bind.parse().context("--bind")?;
            let sim = Simulator::start(SimConfig {
                bind: SocketAddr::new(ip, port),
                hex_ids: msgid != "dec",
                dlr_delay: dlr_delay_ms.map(Duration::from_millis),
                throttle_percent: throttle_pct.min(100),
                pdu_log: (pdu_log != "off").then_some(pdu_log),
                keep_messages,
            })
            .await
            .context("starting the simulator")?;
            tracing::info!(addr = %sim.addr, "SMSC simulator listening");
            if let Some(cp) = control_port {
                let s = sim.clone();
                tokio::spawn(async move {
                    if let Err(e) = simulator::serve_control(s, SocketAddr::new(ip, cp)).await {
                        tracing::error!(error = %e, "control port failed");
                    }
                });
            }
            wait_for_signal().await;
            Ok(())
        }
    }
}

async fn run(config: Option<PathBuf>) -> anyhow::Result<()> {
    let cfg = config_or_exit(config.as_deref());
    let logging = init_tracing(&cfg.log);
    tracing::info!(data_dir = %cfg.data_dir.display(), "starting smsgate");
    // Message traces (`[telemetry]`); the exporter's HTTP client is blocking: built off the
    // runtime's threads.
    let (tcfg, node) = (cfg.telemetry.clone(), smsgate::cluster::node_id(&cfg));
    let telemetry = tokio::task::spawn_blocking(move || Telemetry::start(&tcfg, &node))
        .await
        .context("starting telemetry")?
        .map_err(anyhow::Error::msg)?;
    if let Some(endpoint) = telemetry.as_ref().and(cfg.telemetry.otlp_endpoint.as_ref()) {
        tracing::info!(%endpoint, sample_ratio = cfg.telemetry.sample_ratio, "exporting message traces");
    }
    let gw = Gateway::start(cfg).await.context("starting the gateway")?;
    // systemd (`Type=notify`): ready once every listener is bound and the store is open.
    notify(&[sd_notify::NotifyState::Ready]);
    let watchdog = spawn_watchdog();
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("installing the SIGHUP handler")?;
    let stop = wait_for_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = hup.recv() => reload(&gw, config.as_deref(), logging.set_filter.as_ref()).await,
        }
    }
    notify(&[sd_notify::NotifyState::Stopping]);
    if let Some(w) = watchdog {
        w.abort();
    }
    tracing::info!("shutting down: draining in-flight messages and unbinding");
    gw.shutdown().await;
    if let Some(t) = telemetry {
        let _ = tokio::task::spawn_blocking(move || t.shutdown()).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// SIGHUP: read the configuration file again and apply it as the gateway starts with it (see
/// `Manager::reload`); a file that does not load is refused and the running configuration
/// kept.
async fn reload(gw: &Gateway, file: Option<&std::path::Path>, set_log: Option<&SetLogFilter>) {
    let mut states = vec![sd_notify::NotifyState::Reloading];
    if let Ok(now) = sd_notify::NotifyState::monotonic_usec_now() {
        states.push(now);
    }
    notify(&states);
    match smsgate::load_config(file) {
        Err(e) => {
            tracing::error!(error = %e, "configuration reload refused: the running configuration is kept")
        }
        Ok(cfg) => {
            if let Some(set) = set_log {
                if let Err(e) = set(&cfg.log.filter) {
                    tracing::error!(error = %e, "log filter not changed");
                }
            }
            smsgate::privacy::set_global(cfg.log.privacy);
            if cfg.log.format != gw.manager.base().log.format {
                tracing::warn!("log.format takes effect at the next start");
            }
            match gw.manager.reload(&cfg).await {
                Ok(r) => {
                    let from = match r.from {
                        smsgate::manage::ReloadSource::Profile => {
                            "the persisted profile jcli-prod (it wins over the file)"
                        }
                        smsgate::manage::ReloadSource::File => "the configuration file",
                    };
                    tracing::info!(from, "configuration reloaded");
                    if !r.restart_needed.is_empty() {
                        tracing::warn!(
                            sections = %r.restart_needed.join(", "),
                            "these sections changed and take effect at the next start"
                        );
                    }
                }
                Err(e) => tracing::error!(
                    error = %e,
                    "configuration reload refused: the running configuration is kept"
                ),
            }
        }
    }
    notify(&[sd_notify::NotifyState::Ready]);
}

/// Tell systemd, when it started us with `NOTIFY_SOCKET` (a no-op otherwise).
fn notify(states: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// With `WatchdogSec=` in the unit, ping systemd at half the interval from the runtime: a
/// wedged runtime stops the pings and systemd restarts the service.
fn spawn_watchdog() -> Option<tokio::task::JoinHandle<()>> {
    let mut usec = 0;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return None;
    }
    let every = Duration::from_micros(usec / 2);
    Some(tokio::spawn(async move {
        loop {
            notify(&[sd_notify::NotifyState::Watchdog]);
            tokio::time::sleep(every).await;
        }
    }))
}

async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
