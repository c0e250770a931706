//! `smsgate-bench` — end-to-end throughput and latency benchmark for smsgate.
//!
//! The tool measures the whole MT path of the gateway on one machine:
//!
//! ```text
//! smsgate-bench ──HTTP GET /send──▶ smsgate ──SMPP submit_sm──▶ smsgate smsc-sim
//!      │                                                              ▲
//!      └──────────────── GET /stats (submit_sm counter) ──────────────┘
//! ```
//!
//! or, with the `smpp` subcommand, through the gateway's SMPP server:
//!
//! ```text
//! smsgate-bench ──SMPP submit_sm (window)──▶ smsgate ──SMPP submit_sm──▶ smsgate smsc-sim
//! ```
//!
//! There the bench binds `--sessions` transceivers (as the `bench` user) and keeps up to
//! `--window` `submit_sm` outstanding on each; the latency is `submit_sm` → `submit_sm_resp`
//! (the gateway answers once the message is durably queued).
//!
//! It
//!
//! 1. starts the SMSC simulator (`<smsgate> smsc-sim ...`) and waits for its
//!    control endpoint (`GET /stats`) to answer;
//! 2. writes `<work-dir>/smsgate.toml` (one HTTP user, one SMPP client connector
//!    pointing at the simulator, a default MT route) and starts the gateway with
//!    it, waiting for `GET /ping` to return 200;
//! 3. drives `GET /send` from `--concurrency` HTTP/1.1 connections for
//!    `--duration` seconds, either as fast as possible or paced (`--rate`);
//! 4. samples the simulator's `submit_sm` counter and the gateway's RSS once per
//!    second (progress goes to stderr);
//! 5. after the load stops, waits (at most `--drain-secs`) until the simulator
//!    has received every accepted message;
//! 6. prints a human-readable report followed by a one-line JSON summary on
//!    stdout, and always stops both child processes (also on error, Ctrl-C or
//!    SIGTERM).
//!
//! # Usage
//!
//! ```text
//! smsgate-bench [--smsgate PATH] [--duration SECS] [--concurrency N] [--rate R]
//!               [--keep-alive | --no-keep-alive] [--http-port P] [--smpp-port P]
//!               [--sim-control-port P] [--work-dir DIR] [--drain-secs SECS]
//! smsgate-bench smpp [--window N] [--sessions N] [--server-port P] [same options]
//! smsgate-bench content [--duration SECS] [--sar] [--packed]
//! smsgate-bench rest [--duration SECS] [--concurrency N] [--recipients N]
//!                    [--connector-throughput R] [--connector-window N] [--store-sync MODE]
//! ```
//!
//! `rest` runs in process (see `rest.rs`): `/secure/send` against `/send`, and the acceptance
//! time and delivery rate of one `/secure/sendbatch` of 100,000 recipients.
//!
//! `content` is a separate, in-process mode: encoding + splitting throughput of a mixed
//! corpus on one thread (see `content.rs`), no gateway or simulator.
//!
//! By default the gateway binary is the `smsgate` file next to the
//! `smsgate-bench` executable, so after `cargo build --release` in the
//! workspace `target/release/smsgate-bench` just works.
//!
//! # Measurement notes
//!
//! * **Latency** is measured per accepted request, from the moment the request
//!   is sent until the full response body has been received, in microseconds.
//!   Percentiles are exact (all samples are kept and sorted; nearest-rank).
//!   Failed requests are counted as errors but not included in the latency
//!   distribution.
//! * With `--rate R > 0` the load is an open-loop schedule: worker `i` of `N`
//!   sends its `k`-th request at `t0 + i/R + k*N/R`. If a worker falls behind
//!   (previous response still outstanding at its next slot), the request is sent
//!   as soon as possible and its latency is measured **from the scheduled slot**,
//!   so queueing delay is not hidden (no coordinated omission). Such requests are
//!   reported as `late-starts`. A worker that is early sleeps until its slot and
//!   is measured from when it wakes: the timer fires up to a millisecond late
//!   (tokio's granularity), a delay of the load tool, not of the gateway.
//! * Before the measured run, `--warmup` seconds (default 1) of the same load
//!   are sent and delivered, unmeasured: connections, the first password check
//!   and cold caches are paid for there.
//! * With `--no-keep-alive` every request opens a fresh TCP connection (and sends
//!   `Connection: close`); connect + handshake time is part of the latency.
//! * `delivered-during` is the number of `submit_sm` PDUs the simulator received
//!   between the start and the end of the load; `delivered-total` is the number
//!   after the drain phase. Both are relative to the counter value just before
//!   the load started.
//! * Memory figures come from `/proc/<gateway pid>/status` (`VmHWM` for the
//!   peak, `VmRSS` for the current value); "MB" means 1024 kB. Linux only.
//! * The benchmark client shares the machine (CPU) with the gateway and the
//!   simulator; keep that in mind when comparing numbers across machines.

mod backlog;
mod content;
mod load;
mod peer;
mod probe;
mod procs;
mod report;
mod rest;
mod smpp;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args as ClapArgs, Parser, Subcommand};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::load::{Counters, LoadConfig};
use crate::peer::Peer;
use crate::probe::ProbeClient;
use crate::procs::Children;
use crate::report::{Cpu, Measurements, Settings, Summary};

/// How long to wait for the simulator's control endpoint to come up.
const SIM_READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the gateway's `/ping` to return 200.
const GATEWAY_READY_TIMEOUT: Duration = Duration::from_secs(15);
/// Upper bound for a single `/send` exchange; a request exceeding it counts as
/// a timeout error and its connection is discarded.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Poll interval while draining.
const DRAIN_POLL: Duration = Duration::from_millis(100);

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(
    name = "smsgate-bench",
    version,
    about = "End-to-end benchmark: HTTP /send -> smsgate -> SMPP -> SMSC simulator",
    long_about = None
)]
struct Args {
    /// Path to the smsgate binary [default: `smsgate` next to this executable].
    #[arg(long, value_name = "PATH", global = true)]
    smsgate: Option<PathBuf>,

    /// Load duration in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 20.0, global = true)]
    duration: f64,

    /// Number of concurrent HTTP connections (workers).
    #[arg(long, value_name = "N", default_value_t = 64, global = true)]
    concurrency: usize,

    /// Target request rate (requests/s across all connections); 0 = as fast as
    /// possible (closed loop). When > 0 an open-loop paced schedule is used.
    #[arg(long, value_name = "R", default_value_t = 0.0, global = true)]
    rate: f64,

    /// Reuse one HTTP/1.1 connection per worker (the default).
    #[arg(long = "keep-alive", overrides_with = "no_keep_alive", global = true)]
    keep_alive: bool,

    /// Open a new TCP connection for every request.
    #[arg(long = "no-keep-alive", overrides_with = "keep_alive", global = true)]
    no_keep_alive: bool,

    /// Port of the gateway's HTTP API (127.0.0.1).
    #[arg(long, value_name = "PORT", default_value_t = 14010, global = true)]
    http_port: u16,

    /// Port the SMSC simulator listens on for SMPP (127.0.0.1).
    #[arg(long, value_name = "PORT", default_value_t = 27760, global = true)]
    smpp_port: u16,

    /// Port of the SMSC simulator's HTTP control endpoint (127.0.0.1).
    #[arg(long, value_name = "PORT", default_value_t = 27761, global = true)]
    sim_control_port: u16,

    /// Directory for the generated config, gateway data and logs
    /// [default: a fresh directory under the system temp dir].
    #[arg(long, value_name = "DIR", global = true)]
    work_dir: Option<PathBuf>,

    /// Maximum time to wait after the load stops for the SMSC to receive every
    /// accepted message.
    #[arg(long, value_name = "SECS", default_value_t = 30.0, global = true)]
    drain_secs: f64,

    /// Seconds of load before the measured run, at the same rate and concurrency (0 = none).
    /// Not measured: it pays for what only the first requests pay (connections, the first
    /// password check, cold caches), and the simulator has all of it before the measured run.
    #[arg(long, value_name = "SECS", default_value_t = 1.0, global = true)]
    warmup: f64,

    /// `window` of the gateway's SMPP client connector to the simulator (submit_sm
    /// outstanding towards the SMSC; the gateway's default is 32); Kannel's
    /// `max-pending-submits` with --peer kannel.
    #[arg(long, value_name = "N", default_value_t = 32, global = true)]
    connector_window: usize,

    /// The gateway's `store.sync`: `full` (fsync per group commit, the default) or `normal`.
    #[arg(long, value_name = "MODE", default_value = "full", global = true)]
    store_sync: String,

    /// The gateway under test: smsgate, or Kannel (bearerbox + smsbox, HTTP mode only; its
    /// `sendsms` listens on --http-port).
    #[arg(long, value_enum, default_value_t = Peer::Smsgate, global = true)]
    peer: Peer,

    /// Where Kannel's `bearerbox` and `smsbox` are (`apt-get install kannel`).
    #[arg(long, value_name = "DIR", default_value = "/usr/sbin", global = true)]
    kannel_bin_dir: PathBuf,

    /// Kannel's bearerbox ports: smsbox connection, then admin (127.0.0.1).
    #[arg(long, value_name = "PORT", default_value_t = 14013, global = true)]
    kannel_smsbox_port: u16,
    #[arg(long, value_name = "PORT", default_value_t = 14014, global = true)]
    kannel_admin_port: u16,

    /// Cluster mode: the gateway's queues on RabbitMQ at this AMQP URL and its shared state
    /// on Redis (`--redis-url`) instead of the embedded store (names prefixed per run).
    #[arg(long, value_name = "AMQP_URL", global = true)]
    cluster: Option<String>,

    /// Cluster mode: the Redis holding the gateway's shared state.
    #[arg(
        long,
        value_name = "URL",
        default_value = "redis://127.0.0.1:6379/",
        global = true
    )]
    redis_url: String,

    /// Cluster mode: RabbitMQ's data directory, whose growth the backlog mode reports as the
    /// broker's disk per message (skipped when it cannot be read).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/var/lib/rabbitmq/mnesia",
        global = true
    )]
    broker_dir: PathBuf,

    #[command(subcommand)]
    mode: Option<Mode>,
}

/// What drives the load (default: the HTTP API).
#[derive(Subcommand, Debug)]
enum Mode {
    /// Submit through the gateway's SMPP server: ESMEs bound as transceivers, windowed
    /// submit_sm (--concurrency and --keep-alive do not apply).
    Smpp(SmppArgs),
    /// A backlog: the SMSC goes down, `--messages` are accepted over HTTP, the SMSC comes
    /// back; reports the acceptance rate, disk bytes and RSS per message, and the drain rate.
    Backlog(backlog::BacklogArgs),
}

/// Options of the `smpp` mode.
#[derive(ClapArgs, Debug)]
struct SmppArgs {
    /// submit_sm outstanding per session.
    #[arg(long, value_name = "N", default_value_t = 50)]
    window: usize,

    /// Bound transceiver sessions.
    #[arg(long, value_name = "N", default_value_t = 1)]
    sessions: usize,

    /// Port of the gateway's SMPP server (127.0.0.1).
    #[arg(long, value_name = "PORT", default_value_t = 27750)]
    server_port: u16,
}

impl Args {
    /// Effective keep-alive setting: on unless `--no-keep-alive` was given (the
    /// two flags override each other, so the last one on the command line wins).
    fn keep_alive(&self) -> bool {
        self.keep_alive || !self.no_keep_alive
    }

    fn validate(&self) -> Result<()> {
        if !(self.duration.is_finite() && self.duration > 0.0) {
            bail!("--duration must be a positive number of seconds");
        }
        if self.concurrency == 0 {
            bail!("--concurrency must be at least 1");
        }
        if !(self.rate.is_finite() && self.rate >= 0.0) {
            bail!("--rate must be >= 0 (0 = unlimited)");
        }
        if !(self.warmup.is_finite() && self.warmup >= 0.0) {
            bail!("--warmup must be >= 0");
        }
        if !(self.drain_secs.is_finite() && self.drain_secs >= 0.0) {
            bail!("--drain-secs must be >= 0");
        }
        if self.connector_window == 0 {
            bail!("--connector-window must be at least 1");
        }
        if !matches!(self.store_sync.as_str(), "full" | "normal") {
            bail!("--store-sync must be full or normal");
        }
        let mut ports = vec![self.http_port, self.smpp_port, self.sim_control_port];
        match self.peer {
            Peer::Kannel if self.mode.is_some() => {
                bail!("--peer kannel drives Kannel's sendsms over HTTP: it has no SMPP server")
            }
            Peer::Kannel => ports.extend([self.kannel_smsbox_port, self.kannel_admin_port]),
            _ if matches!(self.mode, Some(Mode::Backlog(_))) && self.peer != Peer::Smsgate => {
                bail!("the backlog mode measures smsgate only")
            }
            Peer::Raw if self.mode.is_none() => {
                bail!("--peer raw binds the smpp mode's ESMEs to the simulator: use `smpp`")
            }
            _ => {}
        }
        if self.cluster.is_some() && self.peer != Peer::Smsgate {
            bail!("--cluster configures smsgate: it does not apply to --peer kannel or raw");
        }
        if let Some(Mode::Smpp(m)) = &self.mode {
            if m.window == 0 || m.sessions == 0 {
                bail!("--window and --sessions must be at least 1");
            }
            ports.push(m.server_port);
        }
        if ports.contains(&0) {
            bail!("ports must be non-zero");
        }
        let mut distinct = ports.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != ports.len() {
            bail!(
                "--http-port, --smpp-port, --sim-control-port (and smpp --server-port, Kannel's \
                 ports) must all differ"
            );
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    // `smsgate-bench content [...]`: the in-process encoding + splitting benchmark.
    if std::env::args().nth(1).as_deref() == Some("content") {
        return match content::run(std::env::args().skip(2)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("smsgate-bench content: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    // `smsgate-bench rest [...]`: /secure/send vs /send and a 100,000-recipient sendbatch.
    if std::env::args().nth(1).as_deref() == Some("rest") {
        return match rest::run(std::env::args().skip(2)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("smsgate-bench rest: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let args = Args::parse();

    // Declared before the runtime so that it is dropped *after* it: the load
    // generator tasks are gone before the gateway is asked to shut down. The
    // explicit `shutdown()` below does the same thing; `Drop` is the safety net
    // for panics.
    let mut children = Children::default();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("smsgate-bench: cannot start tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };

    let result = runtime.block_on(async {
        tokio::select! {
            r = run(&args, &mut children) => r,
            sig = shutdown_signal() => Err(anyhow::anyhow!("interrupted by {sig}")),
        }
    });
    // Stop any still-running worker/sampler tasks before stopping the children.
    drop(runtime);
    children.shutdown();

    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(_) => {
            eprintln!("smsgate-bench: the gateway exited during the benchmark (see gateway.log)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("smsgate-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves when the process receives SIGINT (Ctrl-C) or SIGTERM; returns the
/// signal name.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    // If the SIGTERM handler cannot be installed, only Ctrl-C is handled.
    let mut term = signal(SignalKind::terminate()).ok();
    let sigterm = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = sigterm => "SIGTERM",
    }
}

/// The whole benchmark: start children, run the load, drain, report.
/// Whether the gateway was still alive at the end.
async fn run(args: &Args, children: &mut Children) -> Result<bool> {
    args.validate()?;

    let smsgate = match &args.smsgate {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .context("cannot determine the path of the smsgate-bench executable")?
            .with_file_name("smsgate"),
    };
    if !smsgate.is_file() {
        bail!(
            "gateway binary {} not found (build it, or pass --smsgate PATH)",
            smsgate.display()
        );
    }

    // Fail early and clearly if a stale gateway/simulator still holds a port;
    // otherwise the readiness checks could talk to the wrong process.
    ensure_port_free(args.http_port, "--http-port")?;
    ensure_port_free(args.smpp_port, "--smpp-port")?;
    ensure_port_free(args.sim_control_port, "--sim-control-port")?;
    if let Some(Mode::Smpp(m)) = &args.mode {
        ensure_port_free(m.server_port, "--server-port")?;
    }

    let work_dir = match &args.work_dir {
        Some(d) => d.clone(),
        None => default_work_dir(),
    };
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("creating work dir {}", work_dir.display()))?;
    let data_dir = work_dir.join("data");
    if data_dir.exists() {
        eprintln!(
            "warning: {} already exists; messages queued by an earlier run may be delivered \
             during this one and inflate the delivered counts",
            data_dir.display()
        );
    }
    eprintln!("work dir: {}", work_dir.display());

    let probe = probe::probe_client();
    if let Some(Mode::Backlog(b)) = &args.mode {
        return backlog::run(args, b, &smsgate, &work_dir, children, &probe).await;
    }

    // The disk's own flush latency, the floor of a durable answer's (1 s or so).
    let disk_flush = probe::disk_flush_us(&work_dir, 200).unwrap_or_else(|e| {
        eprintln!("warning: the disk flush probe failed: {e}");
        Vec::new()
    });

    // 1. SMSC simulator.
    start_sim(args, &smsgate, &work_dir, children, &probe).await?;

    // 2. Gateway.
    let gw_log = work_dir.join("gateway.log");
    match args.peer {
        Peer::Smsgate => {
            start_smsgate(args, &smsgate, &work_dir, children, &probe).await?;
        }
        Peer::Kannel => {
            ensure_port_free(args.kannel_smsbox_port, "--kannel-smsbox-port")?;
            ensure_port_free(args.kannel_admin_port, "--kannel-admin-port")?;
            let conf = work_dir.join("kannel.conf");
            peer::write_kannel_conf(
                &conf,
                &work_dir,
                &peer::KannelPorts {
                    sendsms: args.http_port,
                    smsbox: args.kannel_smsbox_port,
                    admin: args.kannel_admin_port,
                    smsc: args.smpp_port,
                    window: args.connector_window,
                },
            )?;
            let admin_url = format!("http://127.0.0.1:{}/status", args.kannel_admin_port);
            let bearerbox_log = gw_log.clone();
            start_kannel_box(
                &mut children.gateway,
                args,
                "bearerbox",
                &conf,
                &bearerbox_log,
                &admin_url,
                &probe,
            )
            .await?;
            // smsbox answers sendsms (an unauthenticated request is refused) once it is up.
            let sendsms_url = format!("http://127.0.0.1:{}/cgi-bin/sendsms", args.http_port);
            let smsbox_log = work_dir.join("smsbox.out");
            start_kannel_box(
                &mut children.smsbox,
                args,
                "smsbox",
                &conf,
                &smsbox_log,
                &sendsms_url,
                &probe,
            )
            .await?;
        }
        Peer::Raw => {}
    }
    // Every gateway starts the load with its SMPP connector bound.
    if args.peer != Peer::Raw {
        wait_bound(args, &probe, &gw_log).await?;
    }
    let gw_pids = children.gateway_pids();
    eprintln!(
        "{} ready (pids {gw_pids:?}, http 127.0.0.1:{})",
        args.peer.name(),
        args.http_port
    );

    // 3. Load, with the once-per-second sampler running alongside.
    let smpp_cfg = match &args.mode {
        Some(Mode::Smpp(m)) => {
            let cfg = smpp::SmppLoadConfig {
                // --peer raw: straight to the simulator
                addr: SocketAddr::from((
                    Ipv4Addr::LOCALHOST,
                    if args.peer == Peer::Raw {
                        args.smpp_port
                    } else {
                        m.server_port
                    },
                )),
                system_id: "bench".into(),
                password: "benchpwd".into(),
                sessions: m.sessions,
                window: m.window,
                duration: Duration::from_secs_f64(args.duration),
                rate: args.rate,
                request_timeout: REQUEST_TIMEOUT,
            };
            let sessions = smpp::bind_all(&cfg).await?;
            eprintln!(
                "bound {} transceiver session(s) to {}",
                sessions.len(),
                cfg.addr
            );
            Some((cfg, sessions))
        }
        _ => None,
    };
    let cfg = LoadConfig {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, args.http_port)),
        concurrency: args.concurrency,
        duration: Duration::from_secs_f64(args.duration),
        rate: args.rate,
        keep_alive: args.keep_alive(),
        request_timeout: REQUEST_TIMEOUT,
        peer: args.peer,
        max_requests: 0,
    };
    match &smpp_cfg {
        Some((c, _)) => eprintln!(
            "load: {:.1}s, SMPP, {} session(s) x window {}, target rate {}",
            args.duration,
            c.sessions,
            c.window,
            report::rate_label(args.rate)
        ),
        None => eprintln!(
            "load: {:.1}s, {} connections, keep-alive {}, target rate {}",
            args.duration,
            args.concurrency,
            yes_no(cfg.keep_alive),
            report::rate_label(args.rate)
        ),
    }
    if args.warmup > 0.0 {
        warm_up(args, &probe, &cfg, smpp_cfg.as_ref(), children).await?;
    }
    let baseline = probe::sim_submit_sm(&probe, args.sim_control_port)
        .await
        .context("reading the simulator's submit_sm counter before the load")?;
    let counters = Arc::new(Counters::default());
    let sim_pid = children.sim.as_ref().map(std::process::Child::id);
    let cpu_of = |pids: &[u32]| probe::read_cpu_all(pids);
    let cpu0 = Cpu {
        gateway_s: cpu_of(&gw_pids),
        sim_s: cpu_of(sim_pid.as_slice()),
        bench_s: cpu_of(&[std::process::id()]),
    };
    let t0 = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let sampler = tokio::spawn(probe::run_sampler(
        probe.clone(),
        args.sim_control_port,
        gw_pids.clone(),
        Arc::clone(&counters),
        baseline,
        t0,
        stop_rx,
    ));
    let load = match &smpp_cfg {
        Some((c, sessions)) => {
            smpp::run_load(c.clone(), sessions, Arc::clone(&counters), t0).await?
        }
        None => load::run_load(cfg, Arc::clone(&counters), t0).await?,
    };
    // submit_sm as of the end of the load: "delivered during".
    let delivered_during = probe::sim_submit_sm(&probe, args.sim_control_port)
        .await
        .context("reading the simulator's submit_sm counter after the load")?
        .saturating_sub(baseline);
    let _ = stop_tx.send(true);
    let samples = sampler.await.context("sampler task failed")?;

    // 4. Drain: wait until the SMSC has everything that was accepted.
    let accepted = counters.accepted.load(Ordering::Relaxed);
    let drain = drain(
        &probe,
        args.sim_control_port,
        baseline,
        accepted,
        delivered_during,
        Duration::from_secs_f64(args.drain_secs),
        children,
    )
    .await;

    // 5. Final memory reading (VmHWM is the kernel's own high-water mark, so
    // this is exact even between samples), then the report.
    if let Some((_, sessions)) = &smpp_cfg {
        smpp::unbind_all(sessions).await;
    }
    let cpu = Cpu {
        gateway_s: cpu_of(&gw_pids) - cpu0.gateway_s,
        sim_s: cpu_of(sim_pid.as_slice()) - cpu0.sim_s,
        bench_s: cpu_of(&[std::process::id()]) - cpu0.bench_s,
    };
    let final_mem = probe::read_mem_all(&gw_pids);
    let gateway_alive = children.gateway_running();
    let summary = Summary::build(
        match &smpp_cfg {
            Some((c, _)) => Settings {
                gateway: args.peer.name(),
                mode: "smpp",
                concurrency: c.sessions * c.window,
                keep_alive: true,
                rate: args.rate,
                smpp_sessions: Some(c.sessions),
                smpp_window: Some(c.window),
            },
            None => Settings {
                gateway: args.peer.name(),
                mode: "http",
                concurrency: args.concurrency,
                keep_alive: args.keep_alive(),
                rate: args.rate,
                smpp_sessions: None,
                smpp_window: None,
            },
        },
        Measurements {
            load: &load,
            counters: &counters,
            delivered_during,
            drain: &drain,
            samples: &samples,
            final_mem,
            gateway_alive,
            cpu,
            disk_flush_us: &disk_flush,
        },
    );
    summary.print_text(&counters.error_samples());
    println!("{}", serde_json::to_string(&summary)?);
    Ok(summary.gateway_alive)
}

/// Starts the SMSC simulator (into `children.sim`) and waits until it answers.
async fn start_sim(
    args: &Args,
    smsgate: &Path,
    work_dir: &Path,
    children: &mut Children,
    probe: &ProbeClient,
) -> Result<()> {
    let sim_log = work_dir.join("smsc-sim.log");
    let sim = children.sim.insert(procs::spawn_sim(
        smsgate,
        args.smpp_port,
        args.sim_control_port,
        &sim_log,
    )?);
    procs::wait_ready(
        "SMSC simulator",
        sim,
        &sim_log,
        SIM_READY_TIMEOUT,
        || async {
            probe::sim_submit_sm(probe, args.sim_control_port)
                .await
                .map(|_| ())
        },
    )
    .await?;
    eprintln!("SMSC simulator ready (smpp 127.0.0.1:{})", args.smpp_port);
    Ok(())
}

/// Writes smsgate's configuration, starts it (into `children.gateway`) and waits until
/// `/ping` answers 200.
async fn start_smsgate(
    args: &Args,
    smsgate: &Path,
    work_dir: &Path,
    children: &mut Children,
    probe: &ProbeClient,
) -> Result<()> {
    let gw_log = work_dir.join("gateway.log");
    let config_path = work_dir.join("smsgate.toml");
    write_config(&config_path, &work_dir.join("data"), args)?;
    let gateway = children
        .gateway
        .insert(procs::spawn_gateway(smsgate, &config_path, &gw_log)?);
    let ping_url = format!("http://127.0.0.1:{}/ping", args.http_port);
    procs::wait_ready(
        "gateway",
        gateway,
        &gw_log,
        GATEWAY_READY_TIMEOUT,
        || async {
            let (status, _) = probe::get(probe, &ping_url, Duration::from_secs(1)).await?;
            if status != 200 {
                bail!("/ping returned HTTP {status}");
            }
            Ok(())
        },
    )
    .await
}

/// Waits until the gateway's connector has bound to the simulator.
async fn wait_bound(args: &Args, probe: &ProbeClient, gw_log: &Path) -> Result<()> {
    let deadline = Instant::now() + GATEWAY_READY_TIMEOUT;
    while probe::sim_binds(probe, args.sim_control_port)
        .await
        .unwrap_or(0)
        == 0
    {
        if Instant::now() >= deadline {
            bail!(
                "{} did not bind to the SMSC simulator within {GATEWAY_READY_TIMEOUT:?} (see {})",
                args.peer.name(),
                gw_log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// The warm-up: `--warmup` seconds of the same load, unmeasured, then drained (the simulator
/// has all of it, so none of it counts as delivered by the measured run).
async fn warm_up(
    args: &Args,
    probe: &ProbeClient,
    cfg: &LoadConfig,
    smpp_cfg: Option<&(smpp::SmppLoadConfig, Vec<smsgate::smpp::session::Session>)>,
    children: &mut Children,
) -> Result<()> {
    let duration = Duration::from_secs_f64(args.warmup);
    let before = probe::sim_submit_sm(probe, args.sim_control_port)
        .await
        .context("reading the simulator's submit_sm counter before the warm-up")?;
    let counters = Arc::new(Counters::default());
    match smpp_cfg {
        Some((c, sessions)) => {
            let c = smpp::SmppLoadConfig {
                duration,
                ..c.clone()
            };
            smpp::run_load(c, sessions, Arc::clone(&counters), Instant::now()).await?;
        }
        None => {
            let c = LoadConfig {
                duration,
                ..cfg.clone()
            };
            load::run_load(c, Arc::clone(&counters), Instant::now()).await?;
        }
    }
    let accepted = counters.accepted.load(Ordering::Relaxed);
    let limit = Duration::from_secs_f64(args.drain_secs);
    let d = drain(
        probe,
        args.sim_control_port,
        before,
        accepted,
        0,
        limit,
        children,
    )
    .await;
    if !d.complete {
        bail!(
            "warm-up: the simulator got {} of the {accepted} messages accepted",
            d.delivered_total
        );
    }
    eprintln!(
        "warm-up: {accepted} accepted and delivered in {:.1}s",
        args.warmup
    );
    Ok(())
}

/// Starts Kannel's `which` box into `slot` (so that it is stopped whatever happens next)
/// and waits until `url` answers.
async fn start_kannel_box(
    slot: &mut Option<std::process::Child>,
    args: &Args,
    which: &str,
    conf: &Path,
    log: &Path,
    url: &str,
    probe: &ProbeClient,
) -> Result<()> {
    let child = slot.insert(procs::spawn_kannel(&args.kannel_bin_dir, which, conf, log)?);
    procs::wait_ready(which, child, log, GATEWAY_READY_TIMEOUT, || async {
        probe::get(probe, url, Duration::from_secs(1))
            .await
            .map(drop)
    })
    .await
}

/// Outcome of the drain phase.
pub struct DrainResult {
    /// submit_sm received (relative to the pre-load baseline) when draining ended.
    pub delivered_total: u64,
    /// Time spent draining.
    pub elapsed: Duration,
    /// Whether every accepted message reached the SMSC.
    pub complete: bool,
}

/// Polls the simulator until `delivered >= accepted` or `limit` elapses.
async fn drain(
    probe: &ProbeClient,
    control_port: u16,
    baseline: u64,
    accepted: u64,
    delivered_during: u64,
    limit: Duration,
    children: &mut Children,
) -> DrainResult {
    let start = Instant::now();
    let mut delivered = delivered_during;
    let mut announced = false;
    while delivered < accepted && start.elapsed() < limit {
        if !announced {
            eprintln!(
                "draining: {} of {accepted} accepted messages still to reach the SMSC",
                accepted - delivered
            );
            announced = true;
        }
        if !children.gateway_running() {
            eprintln!("draining aborted: the gateway exited");
            break;
        }
        tokio::time::sleep(DRAIN_POLL).await;
        // A transient /stats failure just means "try again next poll".
        if let Ok(v) = probe::sim_submit_sm(probe, control_port).await {
            delivered = v.saturating_sub(baseline);
        }
    }
    DrainResult {
        delivered_total: delivered,
        elapsed: start.elapsed(),
        complete: delivered >= accepted,
    }
}

/// A fresh, unique directory name under the system temp dir.
fn default_work_dir() -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("smsgate-bench-{secs}-{}", std::process::id()))
}

/// Errors out if something already listens on `127.0.0.1:port`.
fn ensure_port_free(port: u16, flag: &str) -> Result<()> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .map(drop)
        .with_context(|| {
            format!(
                "127.0.0.1:{port} is not available (is an old smsgate or simulator still \
             running?); pick another port with {flag}"
            )
        })
}

/// Quotes `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes the gateway configuration used for the benchmark.
fn write_config(path: &Path, data_dir: &Path, args: &Args) -> Result<()> {
    let data_dir = data_dir
        .to_str()
        .context("the work dir path must be valid UTF-8")?;
    let config = format!(
        r#"# Generated by smsgate-bench; overwritten on every run.
data_dir = {data_dir}

[store]
sync = "{store_sync}"
{cluster}
[http-api]
bind = "127.0.0.1"
port = {http_port}
[rest-api]
enabled = false

[smpp-server]
{smpp_server}

[jcli]
enabled = false

[[users]]
username = "bench"
password = "benchpwd"
gid = "bench"

[[groups]]
gid = "bench"

[[smppccs]]
cid = "sim"
host = "127.0.0.1"
port = {smpp_port}
username = "smppclient"
password = "password"
bind = "transceiver"
submit_throughput = 0
window = {connector_window}
con_loss_delay = 1

[[mtroutes]]
type = "DefaultRoute"
order = 0
connector = "smppc(sim)"
"#,
        data_dir = toml_string(data_dir),
        http_port = args.http_port,
        smpp_port = args.smpp_port,
        store_sync = args.store_sync,
        cluster = cluster_config(args),
        connector_window = args.connector_window,
        smpp_server = match &args.mode {
            Some(Mode::Smpp(m)) => format!(
                "enabled = true\nbind = \"127.0.0.1\"\nport = {}\nwindow = {}",
                m.server_port,
                m.window.max(256)
            ),
            _ => "enabled = false".to_string(),
        },
    );
    std::fs::write(path, config).with_context(|| format!("writing {}", path.display()))
}

/// The `[store]` keys, `[broker]` and `[cluster]` of cluster mode (nothing when embedded):
/// names prefixed with this run's process id, message records kept 10 minutes (a backlog of
/// millions would otherwise stay in the shared Redis for a week).
fn cluster_config(args: &Args) -> String {
    let Some(amqp) = &args.cluster else {
        return String::new();
    };
    let prefix = format!("bench{}", std::process::id());
    format!(
        "url = {redis}\nprefix = {store_prefix}\nmessage_record_ttl = 600\n\n\
         [broker]\nurl = {amqp}\nprefix = {broker_prefix}\n\n\
         [cluster]\nnode_id = \"bench\"\n",
        redis = toml_string(&args.redis_url),
        store_prefix = toml_string(&format!("{prefix}:")),
        amqp = toml_string(amqp),
        broker_prefix = toml_string(&format!("{prefix}.")),
    )
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}
