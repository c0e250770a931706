//! Bounds on what an outsider can grow, each hit over a real socket: HTTP API connections,
//! SMPP server connections, jCli sessions (the others, with their own modules: request heads
//! and bodies in `http_api`/`rest_api`, batch recipients in `rest_api`, bindings per user in
//! `smpp_server`, pending callbacks per receiver in `faults`). The table of every bound is in
//! docs/operations.md ("Limits").

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

async fn gateway_with(
    extra_listeners: &str,
) -> (tempfile::TempDir, std::sync::Arc<smsgate::app::Gateway>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    let mut toml = config_toml(dir.path(), 0, sim.addr.port());
    toml.push_str(extra_listeners);
    let toml = toml.replace("[http-api]\n", "[http-api]\nmax_connections = 3\n");
    let toml = toml.replace("[smpp-server]\n", "[smpp-server]\nmax_connections = 2\n");
    let toml = toml.replace("[jcli]\n", "[jcli]\nmax_sessions = 2\n");
    let gw = gateway(load(&toml, dir.path())).await;
    (dir, gw)
}

/// One request on an open keep-alive connection; the status, or 0 without an answer in `wait`.
async fn request(s: &mut TcpStream, wait: Duration) -> u16 {
    let _ = s.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let mut buf = [0u8; 1024];
    match tokio::time::timeout(wait, s.read(&mut buf)).await {
        Ok(Ok(n)) if n >= 12 => String::from_utf8_lossy(&buf[9..12]).parse().unwrap_or(0),
        _ => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_api_connections_beyond_max_connections_wait_until_one_closes() {
    let (_dir, gw) = gateway_with("").await;
    let http = gw.http_addr.expect("http");
    let mut open = vec![];
    for _ in 0..3 {
        let mut s = TcpStream::connect(http).await.expect("connect");
        assert_eq!(request(&mut s, Duration::from_secs(5)).await, 200);
        open.push(s);
    }
    // The fourth is not served while three are open (it waits in the listen backlog) ...
    let mut fourth = TcpStream::connect(http).await.expect("connect");
    assert_eq!(
        request(&mut fourth, Duration::from_millis(800)).await,
        0,
        "served beyond max_connections"
    );
    // ... and is, as soon as one of them closes.
    drop(open.pop());
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), fourth.read(&mut buf))
        .await
        .expect("served once a connection closed")
        .expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smpp_connections_beyond_max_connections_are_closed_at_once() {
    let (_dir, gw) = gateway_with("").await;
    let smpp = gw.smpp_addr().expect("smpp");
    let (a, _ra, st) = esme_bind(smpp, "trx", "foo", "bar").await;
    assert_eq!(st, rusmpp::CommandStatus::EsmeRok);
    let (b, _rb, st) = esme_bind(smpp, "trx", "foo", "bar").await;
    assert_eq!(st, rusmpp::CommandStatus::EsmeRok);
    // The third connection is closed without a word.
    let mut third = TcpStream::connect(smpp).await.expect("connect");
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
        .await
        .expect("closed at once")
        .unwrap_or(0);
    assert_eq!(n, 0, "the third connection was served");
    // A place frees when a session ends.
    a.unbind().await;
    let mut freed = false;
    for _ in 0..50 {
        let s = TcpStream::connect(smpp).await.expect("connect");
        let cfg = smsgate::smpp::session::SessionConfig {
            enquire_link_interval: None,
            inactivity_timeout: None,
            response_timeout: Duration::from_secs(2),
            ..Default::default()
        };
        let (s, _rx) = smsgate::smpp::session::start(s, cfg);
        let bind = rusmpp::pdus::BindTransceiver::builder()
            .system_id(smsgate::smpp::c_octet("foo"))
            .password(smsgate::smpp::c_octet("bar"))
            .build();
        if let Ok(r) = s.request(bind).await {
            freed = r.status() == rusmpp::CommandStatus::EsmeRok;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(freed, "a place freed once a session ended");
    drop(b);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jcli_sessions_beyond_max_sessions_are_told_to_come_back() {
    let (_dir, gw) = gateway_with("").await;
    let jcli = gw.jcli_addr().expect("jcli");
    let mut held = vec![];
    for _ in 0..2 {
        let mut s = TcpStream::connect(jcli).await.expect("connect");
        let mut buf = [0u8; 4096];
        // the login prompt comes once the session is up
        let mut got = String::new();
        while !got.contains("Username: ") {
            let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
                .await
                .expect("prompt")
                .expect("read");
            assert!(n > 0, "closed: {got}");
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        held.push(s);
    }
    let mut third = TcpStream::connect(jcli).await.expect("connect");
    let mut out = vec![];
    let _ = tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("Too many jCli sessions"), "{text:?}");
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answer = jcli_run(jcli, "user -l").await;
    assert!(answer.contains("foo"), "{answer}");
    gw.shutdown().await;
}
