//! `kill -9` of the gateway under load: every acknowledged message reaches the SMSC after a
//! restart, and duplicates are counted. Runs the real `smsgate` binary.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use parking_lot::Mutex;

fn spawn_gateway(cfg: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .arg("--config")
        .arg(cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn smsgate")
}

async fn wait_http(addr: std::net::SocketAddr) {
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gateway did not start");
}

/// A simulator and a config file for a gateway process on a free HTTP port.
async fn setup() -> (
    tempfile::TempDir,
    smsgate::simulator::Simulator,
    std::path::PathBuf,
    std::net::SocketAddr,
) {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = simulator().await;
    let http_port = free_port();
    let cfg_path = dir.path().join("smsgate.toml");
    std::fs::write(
        &cfg_path,
        config_toml(dir.path(), http_port, sim.addr.port()),
    )
    .expect("config");
    let addr = format!("127.0.0.1:{http_port}").parse().expect("addr");
    (dir, sim, cfg_path, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing_acknowledged() {
    let (_dir, sim, cfg_path, addr) = setup().await;

    let mut gw = spawn_gateway(&cfg_path);
    wait_http(addr).await;

    // Load from 8 clients; record every number whose /send answered Success.
    let acked: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(vec![]));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = vec![];
    for c in 0..8u32 {
        let (acked, stop) = (acked.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let to = format!("{}{:06}", 7 + c, n);
                n += 1;
                let (st, body) = get(
                    addr,
                    &format!("/send?username=foo&password=bar&to={to}&content=crash"),
                )
                .await;
                if st == 200 && body.starts_with("Success") {
                    acked.lock().push(to);
                } else if st == 0 {
                    break; // the gateway is gone
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    gw.kill().expect("kill -9");
    let _ = gw.wait();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    let acked = acked.lock().clone();
    assert!(acked.len() > 50, "load was applied ({} acked)", acked.len());
    let before_restart = sim.submit_count();

    let mut gw = spawn_gateway(&cfg_path);
    wait_http(addr).await;
    let want = acked.len();
    wait_for(60, "every acknowledged message at the SMSC", || {
        let got = sim.received();
        let mut seen = std::collections::HashSet::new();
        for r in &got {
            seen.insert(r.destination_addr.clone());
        }
        acked.iter().all(|a| seen.contains(a))
    })
    .await;
    let got = sim.received();
    let mut counts: HashMap<String, u32> = HashMap::new();
    for r in &got {
        *counts.entry(r.destination_addr.clone()).or_default() += 1;
    }
    let lost = acked.iter().filter(|a| !counts.contains_key(*a)).count();
    let duplicates: u32 = counts.values().map(|c| c - 1).sum();
    eprintln!(
        "kill -9: acked {want}, at SMSC before restart {before_restart}, received {} total, lost {lost}, duplicates {duplicates}",
        got.len()
    );
    assert_eq!(lost, 0, "acknowledged messages lost");
    // Duplicates can only come from the window in flight at the kill (at most `window` = 32).
    assert!(
        duplicates <= 32,
        "{duplicates} duplicates: more than one window"
    );
    let _ = gw.kill();
    let _ = gw.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_unbinds() {
    let (_dir, sim, cfg_path, addr) = setup().await;
    let mut gw = spawn_gateway(&cfg_path);
    wait_http(addr).await;
    wait_for(10, "bound", || {
        sim.stats().binds.load(Ordering::Relaxed) == 1
    })
    .await;
    for i in 0..50 {
        let (st, b) = get(
            addr,
            &format!("/send?username=foo&password=bar&to=55{i}&content=bye"),
        )
        .await;
        assert_eq!(st, 200, "{b}");
    }
    wait_for(10, "50 delivered", || sim.submit_count() == 50).await;
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(gw.id().to_string())
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let mut exited = None;
    for _ in 0..200 {
        if let Some(st) = gw.try_wait().expect("wait") {
            exited = Some(st);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let st = exited.expect("the gateway exits within 10 s of SIGTERM");
    assert!(st.success(), "clean exit: {st:?}");
    wait_for(5, "unbind seen by the SMSC", || {
        sim.stats().unbinds.load(Ordering::Relaxed) == 1
    })
    .await;
    // Stopped listening.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
