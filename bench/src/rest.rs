//! `smsgate-bench rest`: the REST listener, in process (gateway, simulator SMSC and clients
//! share one runtime, so compare the numbers as ratios).
//!
//! 1. `GET /send` (HTTP API) and then `POST /secure/send` (REST API) from `--concurrency`
//!    keep-alive connections for `--duration` seconds each: accepted msgs/s and latency
//!    percentiles, and the ratio of the two.
//! 2. One `POST /secure/sendbatch` of `--recipients` (100,000) recipients: the time until it
//!    is accepted, then how fast it reaches the SMSC compared with the connector's
//!    `submit_throughput` (`--connector-throughput`, 0 = unlimited).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

use crate::report::percentile;

/// Options of `smsgate-bench rest`.
#[derive(clap::Parser, Debug)]
#[command(name = "smsgate-bench rest")]
pub struct RestArgs {
    /// Seconds of load for each of /send and /secure/send.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Keep-alive connections.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Recipients of the batch.
    #[arg(long, default_value_t = 100_000)]
    pub recipients: usize,
    /// The connector's submit_throughput (msgs/s; 0 = unlimited).
    #[arg(long, default_value_t = 5000.0)]
    pub connector_throughput: f64,
    /// The connector's window.
    #[arg(long, default_value_t = 64)]
    pub connector_window: usize,
    /// Seconds to wait for the batch to reach the SMSC.
    #[arg(long, default_value_t = 120.0)]
    pub drain_secs: f64,
    /// Rounds of the /send and /secure/send loads, alternating which goes first (the best
    /// round of each is reported).
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// The gateway's store.sync (full or normal).
    #[arg(long, default_value = "full")]
    pub store_sync: String,
}

/// Run the REST benchmark.
pub fn run(args: impl Iterator<Item = String>) -> Result<()> {
    let a = <RestArgs as clap::Parser>::try_parse_from(
        std::iter::once("smsgate-bench rest".to_string()).chain(args),
    )?;
    if a.concurrency == 0 || a.recipients == 0 || a.duration <= 0.0 {
        bail!("--concurrency, --recipients and --duration must be positive");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(bench(a))
}

struct Load {
    accepted: u64,
    errors: u64,
    secs: f64,
    lat_us: Vec<u64>,
}

impl Load {
    fn rate(&self) -> f64 {
        self.accepted as f64 / self.secs
    }
    fn print(&self, what: &str) {
        let mut l = self.lat_us.clone();
        l.sort_unstable();
        let p = |q| percentile(&l, q).map(|v| v as f64 / 1000.0).unwrap_or(0.0);
        println!(
            "{what:<14} accepted {:>8.0} msgs/s ({} in {:.1}s, {} errors)  latency ms p50 {:.2} p90 {:.2} p99 {:.2} p999 {:.2}",
            self.rate(),
            self.accepted,
            self.secs,
            self.errors,
            p(0.5),
            p(0.9),
            p(0.99),
            p(0.999)
        );
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender> {
    let s = tokio::net::TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s)).await?;
    tokio::spawn(conn);
    Ok(send)
}

async fn exchange(s: &mut Sender, req: Request<Full<Bytes>>) -> Result<(u16, Bytes)> {
    s.ready().await?;
    let r = s.send_request(req).await?;
    let status = r.status().as_u16();
    let b = r.into_body().collect().await?.to_bytes();
    Ok((status, b))
}

const AUTH: &str = "Basic YmVuY2g6YmVuY2hwd2Q="; // bench:benchpwd

async fn load(addr: SocketAddr, rest: bool, a: &RestArgs, base: u64) -> Result<Load> {
    let stop = Arc::new(AtomicBool::new(false));
    let seq = Arc::new(AtomicU64::new(base));
    let mut tasks = vec![];
    let t0 = Instant::now();
    for _ in 0..a.concurrency {
        let (stop, seq) = (stop.clone(), seq.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = connect(addr).await?;
            let (mut ok, mut err, mut lat) = (0u64, 0u64, vec![]);
            while !stop.load(Ordering::Relaxed) {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let req = if rest {
                    Request::post("/secure/send")
                        .header("host", "bench")
                        .header("authorization", AUTH)
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(format!(
                            "{{\"to\": \"{n}\", \"content\": \"bench\"}}"
                        ))))?
                } else {
                    Request::get(format!(
                        "/send?username=bench&password=benchpwd&to={n}&content=bench"
                    ))
                    .header("host", "bench")
                    .body(Full::new(Bytes::new()))?
                };
                let t = Instant::now();
                match exchange(&mut s, req).await {
                    Ok((200, _)) => {
                        ok += 1;
                        lat.push(t.elapsed().as_micros() as u64);
                    }
                    Ok(_) => err += 1,
                    Err(_) => {
                        err += 1;
                        s = connect(addr).await?;
                    }
                }
            }
            Ok::<_, anyhow::Error>((ok, err, lat))
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(a.duration)).await;
    stop.store(true, Ordering::Relaxed);
    let mut out = Load {
        accepted: 0,
        errors: 0,
        secs: 0.0,
        lat_us: vec![],
    };
    for t in tasks {
        let (ok, err, lat) = t.await??;
        out.accepted += ok;
        out.errors += err;
        out.lat_us.extend(lat);
    }
    out.secs = t0.elapsed().as_secs_f64();
    Ok(out)
}

async fn wait_delivered(sim: &smsgate::simulator::Simulator, n: u64, secs: f64) -> bool {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    while sim.submit_count() < n {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

async fn bench(a: RestArgs) -> Result<()> {
    let sim = smsgate::simulator::Simulator::start(smsgate::simulator::SimConfig {
        bind: "127.0.0.1:0".parse()?,
        hex_ids: true,
        dlr_delay: None,
        throttle_percent: 0,
        pdu_log: None,
        keep_messages: false,
    })
    .await?;
    let dir = std::env::temp_dir().join(format!("smsgate-bench-rest-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let toml = format!(
        r#"
data_dir = "{dir}"
log = "warn"
[http-api]
bind = "127.0.0.1"
port = 0
[smpp-server]
enabled = false
[jcli]
enabled = false
[rest-api]
bind = "127.0.0.1"
port = 0
max_batch_recipients = {max}
[store]
sync = "{sync}"
[[groups]]
gid = "g1"
[[users]]
username = "bench"
password = "benchpwd"
gid = "g1"
mt_messaging_cred.authorization.http_bulk = true
[[smppccs]]
cid = "sim"
host = "127.0.0.1"
port = {port}
window = {window}
submit_throughput = {tp}
[[mtroutes]]
type = "DefaultRoute"
order = 0
connector = "smppc(sim)"
"#,
        dir = dir.display(),
        max = a.recipients.max(200_000),
        sync = a.store_sync,
        port = sim.addr.port(),
        window = a.connector_window,
        tp = a.connector_throughput,
    );
    let path = dir.join("smsgate.toml");
    std::fs::write(&path, toml)?;
    let cfg = smsgate::config::Config::load(Some(&path)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let gw = smsgate::app::Gateway::start(cfg).await?;
    let http = gw.http_addr.context("no HTTP listener")?;
    let rest = gw.rest_addr.context("no REST listener")?;
    // Let the connector bind.
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "smsgate-bench rest: {} connections x {:.0}s each, connector throughput {}, window {}, store.sync {}",
        a.concurrency,
        a.duration,
        if a.connector_throughput > 0.0 {
            format!("{}/s", a.connector_throughput)
        } else {
            "unlimited".into()
        },
        a.connector_window,
        a.store_sync
    );

    let mut best: [Option<Load>; 2] = [None, None];
    let mut base_msisdn = 33_600_000_000u64;
    for round in 0..a.rounds.max(1) {
        for k in 0..2 {
            let secure = (round + k) % 2 == 1;
            let before = sim.submit_count();
            let l = load(if secure { rest } else { http }, secure, &a, base_msisdn).await?;
            base_msisdn += 10_000_000;
            l.print(if secure { "/secure/send" } else { "GET /send" });
            // Drain so that each load starts on an idle connector.
            wait_delivered(&sim, before + l.accepted, a.drain_secs).await;
            let slot = &mut best[usize::from(secure)];
            if slot.as_ref().is_none_or(|b| l.rate() > b.rate()) {
                *slot = Some(l);
            }
        }
    }
    let (Some(send), Some(secure)) = (best[0].take(), best[1].take()) else {
        bail!("no load ran");
    };
    println!("best of {} rounds:", a.rounds.max(1));
    send.print("GET /send");
    secure.print("/secure/send");
    println!(
        "/secure/send ÷ /send: {:.2}",
        secure.rate() / send.rate().max(1.0)
    );
    let base = sim.submit_count();

    // The batch.
    let mut body = String::with_capacity(a.recipients * 16 + 64);
    body.push_str("{\"messages\": [{\"content\": \"batch bench\", \"to\": [");
    for i in 0..a.recipients {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!("\"{}\"", 34_600_000_000u64 + i as u64));
    }
    body.push_str("]}]}");
    let bytes = body.len();
    let mut s = connect(rest).await?;
    let req = Request::post("/secure/sendbatch")
        .header("host", "bench")
        .header("authorization", AUTH)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let t0 = Instant::now();
    let (status, answer) = exchange(&mut s, req).await?;
    let accept = t0.elapsed();
    if status != 200 {
        bail!(
            "sendbatch answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    println!(
        "sendbatch      {} recipients ({:.1} MB body) accepted in {:.0} ms",
        a.recipients,
        bytes as f64 / 1e6,
        accept.as_secs_f64() * 1000.0
    );
    let target = base + a.recipients as u64;
    let mut first: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs_f64(a.drain_secs);
    while sim.submit_count() < target && Instant::now() < deadline {
        if first.is_none() && sim.submit_count() > base {
            first = Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let done = sim.submit_count() - base;
    let secs = first.map(|f| f.elapsed().as_secs_f64()).unwrap_or(0.0);
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    println!(
        "batch delivery {done} of {} reached the SMSC in {secs:.1}s after the first: {rate:.0} msgs/s{}",
        a.recipients,
        if a.connector_throughput > 0.0 {
            format!(
                " ({:.0}% of the connector's {}/s)",
                100.0 * rate / a.connector_throughput,
                a.connector_throughput
            )
        } else {
            String::new()
        }
    );
    println!(
        "{{\"send_per_s\": {:.0}, \"secure_send_per_s\": {:.0}, \"ratio\": {:.3}, \"batch_recipients\": {}, \"batch_accept_ms\": {:.1}, \"batch_delivered\": {done}, \"batch_delivery_per_s\": {rate:.0}}}",
        send.rate(),
        secure.rate(),
        secure.rate() / send.rate().max(1.0),
        a.recipients,
        accept.as_secs_f64() * 1000.0
    );
    gw.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
