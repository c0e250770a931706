//! `smsgate-bench backlog`: the store-and-forward queue with a backlog.
//!
//! With the gateway bound to the simulator, the simulator is killed (the SMSC is down), then
//! `--messages` are sent to `/send` as fast as the gateway accepts them; they all wait in the
//! connector's queue. The report gives the acceptance rate, the data directory's growth per
//! message and the gateway's RSS with the backlog. Then the simulator is started again: the
//! connector reconnects (`con_loss_delay = 1`) and the backlog drains; the drain rate is
//! counted from the first `submit_sm` the simulator sees to the last. Compare it with the
//! end-to-end rate of a normal run (`scripts/bench-backlog.sh` does both).

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args as ClapArgs;
use serde::Serialize;
use tokio::time::Instant;

use crate::load::{self, Counters, LoadConfig};
use crate::probe::{self, ProbeClient};
use crate::procs::Children;

/// Options of the `backlog` mode.
#[derive(ClapArgs, Debug)]
pub struct BacklogArgs {
    /// Messages accepted while the SMSC is down.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    messages: u64,
}

/// The one-line JSON summary.
#[derive(Serialize)]
struct BacklogSummary {
    gateway: &'static str,
    mode: &'static str,
    /// `embedded`, or `rabbitmq+redis` (`--cluster`).
    store: &'static str,
    messages: u64,
    accepted: u64,
    errors: u64,
    accept_s: f64,
    accepted_per_s: f64,
    disk_bytes: u64,
    disk_bytes_per_msg: f64,
    db_file_bytes_per_msg: f64,
    /// Cluster mode: the growth of RabbitMQ's data directory per message (when readable).
    broker_disk_bytes_per_msg: Option<f64>,
    rss_with_backlog_mb: f64,
    peak_rss_mb: f64,
    delivered: u64,
    lost: u64,
    drain_s: f64,
    drain_per_s: f64,
    gateway_cpu_us_per_msg: f64,
    gateway_alive: bool,
}

/// Run the backlog benchmark; whether the gateway was alive at the end.
pub async fn run(
    args: &super::Args,
    b: &BacklogArgs,
    smsgate: &Path,
    work_dir: &Path,
    children: &mut Children,
    probe: &ProbeClient,
) -> Result<bool> {
    if b.messages == 0 {
        bail!("--messages must be at least 1");
    }
    super::start_sim(args, smsgate, work_dir, children, probe).await?;
    super::start_smsgate(args, smsgate, work_dir, children, probe).await?;
    let gw_log = work_dir.join("gateway.log");
    super::wait_bound(args, probe, &gw_log).await?;
    let gw_pids = children.gateway_pids();
    let data_dir = work_dir.join("data");

    // The SMSC goes down.
    if let Some(mut sim) = children.sim.take() {
        let _ = sim.kill();
        let _ = sim.wait();
    }
    eprintln!("SMSC simulator stopped: accepting {} messages", b.messages);
    let db_file = data_dir.join("smsgate.db");
    let file_bytes = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let disk0 = dir_bytes(&data_dir);
    let db0 = file_bytes(&db_file);
    // Cluster mode: RabbitMQ's data directory and its size now, when readable.
    let broker0 = args
        .cluster
        .as_ref()
        .map(|_| args.broker_dir.as_path())
        .filter(|d| std::fs::read_dir(d).is_ok())
        .map(|d| (d, dir_bytes(d)));
    let cpu0 = probe::read_cpu_all(&gw_pids);
    let counters = Arc::new(Counters::default());
    let t0 = Instant::now();
    let cfg = LoadConfig {
        addr: std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, args.http_port)),
        concurrency: args.concurrency,
        // The count ends the load; the duration only bounds it.
        duration: Duration::from_secs(24 * 3600),
        rate: args.rate,
        keep_alive: args.keep_alive(),
        request_timeout: super::REQUEST_TIMEOUT,
        peer: args.peer,
        max_requests: b.messages,
    };
    load::run_load(cfg, Arc::clone(&counters), t0).await?;
    let accept_s = t0.elapsed().as_secs_f64();
    let accepted = counters.accepted.load(Ordering::Relaxed);
    let errors = counters.errors();
    // Let the WAL checkpoint catch up before the disk is measured.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let disk = dir_bytes(&data_dir).saturating_sub(disk0);
    let db = file_bytes(&db_file).saturating_sub(db0);
    let broker = broker0.map(|(d, b0)| dir_bytes(d).saturating_sub(b0));
    let mem = probe::read_mem_all(&gw_pids).unwrap_or_default();
    eprintln!(
        "accepted {accepted} in {accept_s:.1} s; data dir +{:.1} MB; RSS {:.1} MB",
        disk as f64 / 1e6,
        mem.rss_kb as f64 / 1024.0
    );

    // The SMSC comes back: the backlog drains.
    super::start_sim(args, smsgate, work_dir, children, probe).await?;
    let limit = Duration::from_secs_f64(args.drain_secs.max(accepted as f64 / 1000.0));
    let waited = Instant::now();
    let mut first: Option<Instant> = None;
    let mut delivered = 0;
    while delivered < accepted && waited.elapsed() < limit && children.gateway_running() {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Ok(v) = probe::sim_submit_sm(probe, args.sim_control_port).await {
            delivered = v;
            if v > 0 && first.is_none() {
                first = Some(Instant::now());
            }
        }
    }
    let drain_s = first.map(|f| f.elapsed().as_secs_f64()).unwrap_or(0.0);
    let cpu = probe::read_cpu_all(&gw_pids) - cpu0;
    let end = probe::read_mem_all(&gw_pids).unwrap_or_default();
    let summary = BacklogSummary {
        gateway: "smsgate",
        mode: "backlog",
        store: if args.cluster.is_some() {
            "rabbitmq+redis"
        } else {
            "embedded"
        },
        messages: b.messages,
        accepted,
        errors,
        accept_s,
        accepted_per_s: accepted as f64 / accept_s,
        disk_bytes: disk,
        disk_bytes_per_msg: disk as f64 / accepted.max(1) as f64,
        db_file_bytes_per_msg: db as f64 / accepted.max(1) as f64,
        broker_disk_bytes_per_msg: broker.map(|b| b as f64 / accepted.max(1) as f64),
        rss_with_backlog_mb: mem.rss_kb as f64 / 1024.0,
        peak_rss_mb: end.hwm_kb as f64 / 1024.0,
        delivered,
        lost: accepted.saturating_sub(delivered),
        drain_s,
        drain_per_s: if drain_s > 0.0 {
            delivered as f64 / drain_s
        } else {
            0.0
        },
        gateway_cpu_us_per_msg: cpu * 1e6 / delivered.max(1) as f64,
        gateway_alive: children.gateway_running(),
    };
    println!(
        "backlog            {} messages accepted while the SMSC was down ({} errors)",
        summary.accepted, summary.errors
    );
    println!(
        "accepted           {:.1} s ({:.1} msg/s)",
        summary.accept_s, summary.accepted_per_s
    );
    println!(
        "disk               {:.1} MB ({:.0} bytes per message; the database file alone {:.0}, the rest is WAL)",
        summary.disk_bytes as f64 / 1e6,
        summary.disk_bytes_per_msg,
        summary.db_file_bytes_per_msg
    );
    if let Some(b) = summary.broker_disk_bytes_per_msg {
        println!("broker-disk        {b:.0} bytes per message (RabbitMQ's data directory)");
    }
    println!(
        "rss                {:.1} MB with the backlog, peak {:.1} MB",
        summary.rss_with_backlog_mb, summary.peak_rss_mb
    );
    println!(
        "drained            {} in {:.1} s ({:.1} msg/s), lost {}",
        summary.delivered, summary.drain_s, summary.drain_per_s, summary.lost
    );
    println!(
        "gateway-cpu        {:.1} us per message (accept + drain)",
        summary.gateway_cpu_us_per_msg
    );
    println!(
        "{}",
        serde_json::to_string(&summary).context("summary as JSON")?
    );
    Ok(summary.gateway_alive)
}

/// Bytes of the files under `dir` (recursively; 0 if it cannot be read).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
