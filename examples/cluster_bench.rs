//! Cluster vs embedded, end to end, in one run: HTTP `/send` → gateway node(s) → SMPP →
//! simulator, for the embedded mode, cluster mode with one node and cluster mode with two
//! nodes (each holding one of two connectors' lease), on the same machine.
//!
//! ```sh
//! cargo build --release -p smsgate --bin smsgate --example cluster_bench
//! $CARGO_TARGET_DIR/release/examples/cluster_bench [SECONDS] [CONCURRENCY]
//! ```
//!
//! Needs RabbitMQ (127.0.0.1:5672 guest/guest), Redis (127.0.0.1:6379) and PostgreSQL
//! (127.0.0.1:5432, database `test`). For each mode it prints accepted msgs/s, msgs/s reaching
//! the simulators (end to end, until the last one arrived), `/send` latency percentiles, and
//! CPU time per message of the gateway processes and of the services (RabbitMQ, Redis,
//! PostgreSQL) measured from `/proc`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smsgate::simulator::{SimConfig, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// CPU seconds (user + system) of a process from /proc/<pid>/stat.
fn cpu_secs(pid: u32) -> f64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some(rest) = s.rfind(')').map(|i| &s[i + 2..]) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime, stime, cutime, cstime are fields 14-17 (1-based): 11-14 after the state.
    (t(11) + t(12) + t(13) + t(14)) / 100.0
}

/// CPU seconds of every process whose command name is one of `names`.
fn service_cpu(names: &[&str]) -> f64 {
    let mut total = 0.0;
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if names.iter().any(|n| comm.trim() == *n) {
                total += cpu_secs(pid);
            }
        }
    }
    total
}

const SERVICES: &[&str] = &["beam.smp", "redis-server", "postgres"];

fn config(dir: &Path, node: &str, http: u16, sims: &[u16; 2], cluster: Option<&str>) -> PathBuf {
    let cluster_part = match cluster {
        Some(prefix) => format!(
            r#"
[broker]
url = "amqp://guest:guest@127.0.0.1:5672/%2f"
prefix = "{prefix}"
[store]
url = "redis://127.0.0.1:6379/"
prefix = "{prefix}"
history_url = "postgres://postgres@127.0.0.1:5432/test"
[cluster]
node_id = "{node}"
lease_ttl_ms = 3000
"#
        ),
        // The embedded default: fsync per group commit (RabbitMQ fsyncs before confirming too).
        None => String::new(),
    };
    let text = format!(
        r#"
data_dir = "{data}"
log = "warn"
[jcli]
port = 0
[rest-api]
port = 0
[http-api]
bind = "127.0.0.1"
port = {http}
max_connections = 4096
[smpp-server]
enabled = false
{cluster_part}
[[groups]]
gid = "g1"
[[users]]
username = "bench"
password = "benchpwd"
gid = "g1"
[[smppccs]]
cid = "s1"
host = "127.0.0.1"
port = {p1}
window = 128
[[smppccs]]
cid = "s2"
host = "127.0.0.1"
port = {p2}
window = 128
[[mtroutes]]
type = "DefaultRoute"
order = 0
connector = "smppc(s1)"
[[filters]]
fid = "all"
type = "TransparentFilter"
[[mtroutes]]
type = "RandomRoundrobinMTRoute"
order = 10
connectors = ["smppc(s1)", "smppc(s2)"]
filters = ["all"]
"#,
        data = dir.join(format!("data-{node}")).display(),
        p1 = sims[0],
        p2 = sims[1],
    );
    let path = dir.join(format!("{node}.toml"));
    let _ = std::fs::write(&path, text);
    path
}

async fn start(bin: &Path, cfg: &Path, http: u16) -> Option<Child> {
    let child = Command::new(bin)
        .arg("--config")
        .arg(cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .ok()?;
    let addr: SocketAddr = format!("127.0.0.1:{http}").parse().ok()?;
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Some(child);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// One keep-alive connection sending `/send` until `stop`; returns latencies (µs).
async fn client(
    addr: SocketAddr,
    id: usize,
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
) -> Vec<u64> {
    let mut lat = vec![];
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return lat;
    };
    let _ = s.set_nodelay(true);
    let mut buf = vec![0u8; 4096];
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let req = format!(
            "GET /send?username=bench&password=benchpwd&to=3360{id:03}{n:07}&content=bench HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        let t = Instant::now();
        if s.write_all(req.as_bytes()).await.is_err() {
            break;
        }
        // Read one response (headers + Content-Length body).
        let mut got = 0usize;
        loop {
            let Ok(r) = s.read(&mut buf[got..]).await else {
                return lat;
            };
            if r == 0 {
                return lat;
            }
            got += r;
            let text = String::from_utf8_lossy(&buf[..got]);
            if let Some(h) = text.find("\r\n\r\n") {
                let len = text[..h]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .and_then(|v| v.trim().parse::<usize>().ok())
                    })
                    .unwrap_or(0);
                if got >= h + 4 + len {
                    if text[h + 4..].starts_with("Success") {
                        ok.fetch_add(1, Ordering::Relaxed);
                        lat.push(t.elapsed().as_micros() as u64);
                    }
                    break;
                }
            }
            if got == buf.len() {
                return lat;
            }
        }
    }
    lat
}

struct Outcome {
    accepted: u64,
    accept_rate: f64,
    e2e_rate: f64,
    p50: u64,
    p99: u64,
    gw_cpu_us: f64,
    svc_cpu_us: f64,
}

async fn run_mode(
    bin: &Path,
    dir: &Path,
    name: &str,
    nodes: usize,
    cluster: bool,
    secs: u64,
    conc: usize,
) -> Option<Outcome> {
    let mut sims = vec![];
    for _ in 0..2 {
        sims.push(
            Simulator::start(SimConfig {
                bind: "127.0.0.1:0".parse().ok()?,
                hex_ids: true,
                dlr_delay: None,
                throttle_percent: 0,
                pdu_log: None,
                keep_messages: false,
            })
            .await
            .ok()?,
        );
    }
    let ports = [sims[0].addr.port(), sims[1].addr.port()];
    let prefix = format!("bench{}-{name}.", std::process::id());
    let mut children = vec![];
    let mut addrs = vec![];
    for i in 0..nodes {
        let http = free_port();
        let node = format!("{name}-{i}");
        let cfg = config(dir, &node, http, &ports, cluster.then_some(prefix.as_str()));
        children.push(start(bin, &cfg, http).await?);
        addrs.push(format!("127.0.0.1:{http}").parse::<SocketAddr>().ok()?);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Both connectors bound.
    let t = Instant::now();
    while sims
        .iter()
        .any(|s| s.stats().binds.load(Ordering::Relaxed) == 0)
    {
        if t.elapsed() > Duration::from_secs(20) {
            eprintln!("{name}: connectors did not bind");
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    let gw0: f64 = pids.iter().map(|p| cpu_secs(*p)).sum();
    let svc0 = if cluster { service_cpu(SERVICES) } else { 0.0 };
    let split0: Vec<f64> = SERVICES.iter().map(|s| service_cpu(&[s])).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..conc)
        .map(|i| tokio::spawn(client(addrs[i % addrs.len()], i, stop.clone(), ok.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let load_secs = t0.elapsed().as_secs_f64();
    let mut lat = vec![];
    for t in tasks {
        if let Ok(l) = t.await {
            lat.extend(l);
        }
    }
    let accepted = ok.load(Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(120);
    while sims.iter().map(|s| s.submit_count()).sum::<u64>() < accepted && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let e2e = t0.elapsed().as_secs_f64();
    let gw1: f64 = pids.iter().map(|p| cpu_secs(*p)).sum();
    let svc1 = if cluster { service_cpu(SERVICES) } else { 0.0 };
    let split: Vec<String> = SERVICES
        .iter()
        .zip(&split0)
        .map(|(s, c0)| {
            let us = (service_cpu(&[s]) - c0) / accepted.max(1) as f64 * 1e6;
            format!("{s} {us:.0} µs/msg")
        })
        .collect();
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let delivered: u64 = sims.iter().map(|s| s.submit_count()).sum();
    let per_sim: Vec<u64> = sims.iter().map(|s| s.submit_count()).collect();
    eprintln!("{name}: accepted {accepted}, delivered {delivered} {per_sim:?}");
    if cluster {
        eprintln!("{name}: services {}", split.join(", "));
    }
    Some(Outcome {
        accepted,
        accept_rate: accepted as f64 / load_secs,
        e2e_rate: delivered as f64 / e2e,
        p50: pct(0.5),
        p99: pct(0.99),
        gw_cpu_us: (gw1 - gw0) * 1e6 / accepted.max(1) as f64,
        svc_cpu_us: (svc1 - svc0) * 1e6 / accepted.max(1) as f64,
    })
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(15);
    let conc: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let bin = std::env::current_exe()
        .ok()
        .and_then(|p| {
            p.parent()
                .and_then(|d| d.parent())
                .map(|d| d.join("smsgate"))
        })
        .unwrap_or_else(|| PathBuf::from("smsgate"));
    let Ok(dir) = tempfile_dir() else {
        eprintln!("cannot create a work dir");
        return;
    };
    println!("mode              accepted  accept/s  e2e/s   p50 ms  p99 ms  gw CPU µs/msg  services CPU µs/msg");
    let mut embedded_rate = None;
    for (name, nodes, cluster) in [
        ("embedded", 1, false),
        ("cluster-1node", 1, true),
        ("cluster-2nodes", 2, true),
    ] {
        match run_mode(&bin, &dir, name, nodes, cluster, secs, conc).await {
            Some(o) => {
                let ratio = match embedded_rate {
                    None => {
                        embedded_rate = Some(o.e2e_rate);
                        String::new()
                    }
                    Some(e) => format!("  ({:.2}x embedded e2e)", o.e2e_rate / e),
                };
                println!(
                    "{name:<16} {:>9} {:>9.0} {:>7.0} {:>8.2} {:>7.2} {:>14.0} {:>20.0}{ratio}",
                    o.accepted,
                    o.accept_rate,
                    o.e2e_rate,
                    o.p50 as f64 / 1000.0,
                    o.p99 as f64 / 1000.0,
                    o.gw_cpu_us,
                    o.svc_cpu_us
                );
            }
            None => println!("{name:<16} failed"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::io::Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("smsgate-cluster-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
