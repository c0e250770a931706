//! The `smsgate` binary: the gateway, and the SMSC simulator (`smsgate smsc-sim`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use smsgate::app::Gateway;
use smsgate::simulator::{self, SimConfig, Simulator};

/// mimalloc instead of glibc's allocator: the hot path allocates and frees many small buffers
/// across threads, where glibc's arenas spent ~12% of the gateway's CPU (perf) and kept freed
/// memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        /// HTTP control port (GET /stats, GET /messages, POST /mo?from=&to=&content=).
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
    },
    /// Print the argon2 hash of a password read from stdin (for `[jcli] admin_password` or a
    /// user's `password`).
    HashPassword,
    /// Import a Jasmin store (the files jCli's `persist` writes, e.g. /etc/jasmin/store):
    /// users with their passwords and balances, groups, connectors, filters, routes,
    /// interceptors and their Python scripts. Nothing is written if anything fails.
    ImportJasmin(smsgate::import::Options),
    /// Write the live configuration (jCli's changes included) as TOML, its secrets apart: asks
    /// the running gateway's console (admin password from SMSGATE_JCLI_PASSWORD or stdin),
    /// else reads what it would start with.
    ExportConfig(smsgate::export::Options),
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

/// Logs on stderr; colour codes only when stderr is a terminal and `NO_COLOR` is not set (a
/// log file, journald or a pipe gets plain text).
fn init_tracing(default: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
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
        } => {
            init_tracing("info");
            let ip: std::net::IpAddr = bind.parse().context("--bind")?;
            let sim = Simulator::start(SimConfig {
                bind: SocketAddr::new(ip, port),
                hex_ids: msgid != "dec",
                dlr_delay: dlr_delay_ms.map(Duration::from_millis),
                throttle_percent: throttle_pct.min(100),
                pdu_log: (pdu_log != "off").then_some(pdu_log),
                keep_messages: false,
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
    let cfg = match smsgate::load_config(config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("smsgate: {e}");
            std::process::exit(2);
        }
    };
    init_tracing(&cfg.log);
    tracing::info!(data_dir = %cfg.data_dir.display(), "starting smsgate");
    let gw = Gateway::start(cfg).await.context("starting the gateway")?;
    wait_for_signal().await;
    tracing::info!("shutting down: draining in-flight messages and unbinding");
    gw.shutdown().await;
    tracing::info!("stopped");
    Ok(())
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
