//! Out-of-band observation: a small pooled HTTP client for readiness checks
//! and the simulator's `/stats`, `/proc` memory readers, and the
//! once-per-second sampler.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use crate::load::Counters;

/// Pooled HTTP/1 client used for everything except the load itself.
pub type ProbeClient = Client<HttpConnector, Empty<Bytes>>;

/// Builds the probe client (1 s connect timeout, TCP_NODELAY).
pub fn probe_client() -> ProbeClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(1)));
    Client::builder(TokioExecutor::new()).build(connector)
}

/// `GET url`, returning status code and full body; the whole exchange is
/// bounded by `timeout`.
pub async fn get(client: &ProbeClient, url: &str, timeout: Duration) -> Result<(u16, Bytes)> {
    let uri: hyper::Uri = url.parse().with_context(|| format!("invalid URL {url}"))?;
    let exchange = async {
        let resp = client.get(uri).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok::<_, anyhow::Error>((status, body))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .with_context(|| format!("GET {url} timed out after {timeout:?}"))?
        .with_context(|| format!("GET {url}"))
}

/// The part of the simulator's `/stats` document the benchmark relies on.
#[derive(Deserialize)]
struct SimStats {
    /// Total `submit_sm` PDUs received since the simulator started.
    submit_sm: u64,
    /// Binds accepted since the simulator started.
    #[serde(default)]
    binds: u64,
}

/// Reads the simulator's bind counter (a gateway's connector is up once it is > 0).
pub async fn sim_binds(client: &ProbeClient, control_port: u16) -> Result<u64> {
    let url = format!("http://127.0.0.1:{control_port}/stats");
    let (status, body) = get(client, &url, Duration::from_secs(2)).await?;
    if status != 200 {
        bail!("GET {url} returned HTTP {status}");
    }
    let stats: SimStats = serde_json::from_slice(&body).context("simulator /stats")?;
    Ok(stats.binds)
}

/// Reads the simulator's total `submit_sm` counter.
pub async fn sim_submit_sm(client: &ProbeClient, control_port: u16) -> Result<u64> {
    let url = format!("http://127.0.0.1:{control_port}/stats");
    let (status, body) = get(client, &url, Duration::from_secs(2)).await?;
    if status != 200 {
        bail!("GET {url} returned HTTP {status}");
    }
    let stats: SimStats = serde_json::from_slice(&body).with_context(|| {
        format!(
            "GET {url}: expected JSON with a numeric \"submit_sm\" field, got {:?}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        )
    })?;
    Ok(stats.submit_sm)
}

/// Memory figures of a process, in kB.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mem {
    /// Current resident set size (`VmRSS`).
    pub rss_kb: u64,
    /// Peak resident set size (`VmHWM`).
    pub hwm_kb: u64,
    /// The anonymous part of the current RSS (`RssAnon`: heaps, stacks, caches).
    pub anon_kb: u64,
    /// The file-backed part of the current RSS (`RssFile`: mostly the binaries' code and
    /// read-only data, clean pages shared with the page cache).
    pub file_kb: u64,
}

/// Reads `VmRSS` and `VmHWM` from `/proc/<pid>/status`; `None` if the process
/// is gone or the fields are missing.
pub fn read_mem(pid: u32) -> Option<Mem> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some(Mem {
        rss_kb: field("VmRSS:")?,
        hwm_kb: field("VmHWM:")?,
        anon_kb: field("RssAnon:").unwrap_or(0),
        file_kb: field("RssFile:").unwrap_or(0),
    })
}

/// Memory of a gateway made of several processes (Kannel's bearerbox + smsbox): the sums.
pub fn read_mem_all(pids: &[u32]) -> Option<Mem> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().try_fold(Mem::default(), |acc, pid| {
        let m = read_mem(*pid)?;
        Some(Mem {
            rss_kb: acc.rss_kb + m.rss_kb,
            hwm_kb: acc.hwm_kb + m.hwm_kb,
            anon_kb: acc.anon_kb + m.anon_kb,
            file_kb: acc.file_kb + m.file_kb,
        })
    })
}

/// CPU time (user + system) a process has used so far, in seconds, from `/proc/<pid>/stat`
/// (clock ticks of `USER_HZ`, 100 on Linux); `None` if the process is gone.
pub fn read_cpu(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: fields are counted after its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// The summed CPU seconds of `pids` (a process that is gone counts 0).
pub fn read_cpu_all(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|p| read_cpu(*p)).sum()
}

/// One per-second observation taken during the load.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// submit_sm received since the load started (`None` if /stats failed).
    pub delivered: Option<u64>,
    /// Gateway memory (`None` if /proc could not be read).
    pub mem: Option<Mem>,
}

/// Samples the simulator's counter and the gateway's memory once per second
/// until `stop` flips, printing a progress line per sample to stderr.
pub async fn run_sampler(
    client: ProbeClient,
    control_port: u16,
    gateway_pids: Vec<u32>,
    counters: Arc<Counters>,
    baseline: u64,
    t0: Instant,
    mut stop: watch::Receiver<bool>,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut ticker = tokio::time::interval_at(t0 + Duration::from_secs(1), Duration::from_secs(1));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let (mut prev_accepted, mut prev_delivered) = (0u64, 0u64);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => break,
        }
        let accepted = counters.accepted.load(Ordering::Relaxed);
        let delivered = sim_submit_sm(&client, control_port)
            .await
            .ok()
            .map(|v| v.saturating_sub(baseline));
        let mem = read_mem_all(&gateway_pids);
        samples.push(Sample { delivered, mem });

        let delivered_text = match delivered {
            Some(d) => {
                let text = format!("{d} (+{})", d.saturating_sub(prev_delivered));
                prev_delivered = d;
                text
            }
            None => "?".to_string(),
        };
        let mem_text = match mem {
            Some(m) => format!(
                "rss {:.1} MB (peak {:.1} MB)",
                kb_to_mb(m.rss_kb),
                kb_to_mb(m.hwm_kb)
            ),
            None => "rss ?".to_string(),
        };
        eprintln!(
            "[{:>5.1}s] accepted {accepted} (+{}) errors {} delivered {delivered_text} {mem_text}",
            t0.elapsed().as_secs_f64(),
            accepted - prev_accepted,
            counters.errors(),
        );
        prev_accepted = accepted;
    }
    samples
}

/// kB → MB (1 MB = 1024 kB).
pub fn kb_to_mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// The flush latency of the disk under `dir`, in µs, sorted: `n` overwrites of 4 KB in a
/// file there, each made durable with `fdatasync`, as a group commit with `store.sync = full`
/// does. A durable answer waits for at least one flush (for two when it arrives during
/// another group's), so this is the floor of `/send`'s latency with fsync.
pub fn disk_flush_us(dir: &std::path::Path, n: usize) -> std::io::Result<Vec<u64>> {
    use std::os::unix::fs::FileExt;
    let path = dir.join("flush-probe");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    let block = [0x5au8; 4096];
    let slots = 256u64;
    file.set_len(slots * 4096)?;
    file.sync_all()?;
    let mut lat = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let t = std::time::Instant::now();
        file.write_all_at(&block, (i % slots) * 4096)?;
        file.sync_data()?;
        lat.push(t.elapsed().as_micros() as u64);
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    lat.sort_unstable();
    Ok(lat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_memory_of_this_process() {
        let me = std::process::id();
        let before = read_cpu(me).expect("own /proc/<pid>/stat");
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed() < Duration::from_millis(300) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        let after = read_cpu(me).expect("stat");
        assert!(after - before >= 0.1, "{before} -> {after} ({x})");
        let one = read_mem(me).expect("status");
        let two = read_mem_all(&[me, me]).expect("status");
        assert!(one.rss_kb > 0);
        // The split: heap and stacks, and the test binary's own code (RssShmem is the rest).
        assert!(one.anon_kb > 0 && one.file_kb > 0, "{one:?}");
        assert!(one.anon_kb + one.file_kb <= one.rss_kb, "{one:?}");
        assert!(two.hwm_kb >= one.hwm_kb * 2); // the peak only grows
        assert!(read_mem_all(&[]).is_none());
        assert_eq!(read_cpu(u32::MAX), None);
    }
}
