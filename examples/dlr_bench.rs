//! Receipts per second, end to end: SMSC simulator → gateway (receipt parsing, SMSC id lookup,
//! DLR job queued durably) → HTTP thrower → a local HTTP receiver answering `ACK/Jasmin`.
//!
//! `cargo run --release -p smsgate --example dlr_bench -- [MESSAGES]` (default 20000).
//! Phase 1 submits MESSAGES messages with `dlr-level=2` while the simulator holds their
//! receipts; phase 2 releases every receipt at once (window 256) and times until the receiver
//! has acknowledged them all. Printed: receipts/s, and the MT submission rate of phase 1.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smsgate::app::Gateway;
use smsgate::config::Config;
use smsgate::simulator::{ReceiptKnobs, SimConfig, Simulator};

async fn receiver(count: Arc<AtomicU64>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let count = count.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    count.fetch_add(1, Ordering::Relaxed);
                    async move {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(
                            http_body_util::Full::new(bytes::Bytes::from_static(b"ACK/Jasmin")),
                        ))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(sock), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let sim = Simulator::start(SimConfig {
        bind: "127.0.0.1:0".parse()?,
        hex_ids: true,
        dlr_delay: None,
        throttle_percent: 0,
        pdu_log: None,
        keep_messages: false,
    })
    .await?;
    sim.set_receipts(ReceiptKnobs {
        delay: Some(Duration::ZERO),
        hold: true,
        ..Default::default()
    });
    let acked = Arc::new(AtomicU64::new(0));
    let rx = receiver(acked.clone()).await;
    let dir = tempfile::tempdir()?;
    let toml = format!(
        r#"
data_dir = "{}"
log = "error"
[jcli]
port = 0
[http-api]
bind = "127.0.0.1"
port = 0
[rest-api]
bind = "127.0.0.1"
port = 0
[smpp-server]
enabled = false
[callbacks]
allow_loopback = true
per_host_concurrency = 64
[[groups]]
gid = "g1"
[[users]]
username = "foo"
password = "bar"
gid = "g1"
[[smppccs]]
cid = "sim"
host = "127.0.0.1"
port = {}
window = 128
[[mtroutes]]
type = "DefaultRoute"
order = 0
connector = "smppc(sim)"
"#,
        dir.path().display(),
        sim.addr.port()
    );
    let path = dir.path().join("smsgate.toml");
    std::fs::write(&path, toml)?;
    let cfg = Config::load(Some(&path)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let gw = Gateway::start(cfg).await?;
    let url = format!("http://{rx}/dlr");

    // Phase 1: submit through the pipeline (what /send does after parsing).
    let t0 = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(256));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let p = sem.clone().acquire_owned().await?;
        let pl = gw.pipeline.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let req = smsgate::pipeline::MtRequest {
                channel: smsgate::model::Channel::Http,
                username: "foo".into(),
                password: b"bar".to_vec(),
                source_ip: "127.0.0.1".parse().expect("ip"),
                to: format!("336{i:08}"),
                from: None,
                coding: None,
                priority: None,
                sdt: None,
                validity_minutes: None,
                dlr: Some(smsgate::model::DlrRequest {
                    url,
                    level: 2,
                    method: "POST".into(),
                }),
                tags: vec![],
                content: smsgate::pipeline::Content::Text(b"receipt bench".to_vec()),
                unrepresentable: None,
            };
            let r = pl.submit(&req).await;
            drop(p);
            r.is_ok()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap_or(false) {
            ok += 1;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while sim.held_receipts() < ok && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mt = t0.elapsed();
    // Let the DLR tracking writes settle before the receipts arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Phase 2: every receipt at once.
    let t1 = Instant::now();
    let released = tokio::spawn({
        let sim = sim.clone();
        async move { sim.release_receipts(256).await }
    });
    while (acked.load(Ordering::Relaxed) as usize) < ok && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let dlr = t1.elapsed();
    let released = released.await.unwrap_or(0);
    let got = acked.load(Ordering::Relaxed);
    println!(
        "messages {ok}: submitted+sent in {:.2}s ({:.0} msg/s)",
        mt.as_secs_f64(),
        ok as f64 / mt.as_secs_f64()
    );
    println!(
        "receipts {released} acknowledged by the gateway, {got} DLR callbacks acknowledged in {:.2}s: {:.0} receipts/s end to end",
        dlr.as_secs_f64(),
        got as f64 / dlr.as_secs_f64()
    );
    println!(
        "{{\"messages\":{ok},\"receipts_per_s\":{:.0},\"mt_per_s\":{:.0}}}",
        got as f64 / dlr.as_secs_f64(),
        ok as f64 / mt.as_secs_f64()
    );
    gw.shutdown().await;
    Ok(())
}
