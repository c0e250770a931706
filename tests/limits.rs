//! Bounds on what an outsider can grow, each hit over a real socket: HTTP API connections,
//! SMPP server connections, jCli sessions, failed logins (the others, with their own modules:
//! request heads and bodies in `http_api`/`rest_api`, batch recipients and backlog in
//! `rest_api`, bindings per user in `smpp_server`, pending callbacks per receiver in `faults`).
//! The table of every bound is in docs/operations.md ("Limits").

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

/// `GET target` from source address `from` (any of 127/8), on a connection of its own.
async fn get_from(
    from: std::net::Ipv4Addr,
    to: std::net::SocketAddr,
    target: &str,
) -> (u16, String) {
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.bind((from, 0).into())
        .expect("bind the source address");
    let mut s = sock.connect(to).await.expect("connect");
    let req = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

/// `[auth] max_failures_per_minute` (10) on the APIs: after ten wrong passwords for a user from
/// one address, even the right one is refused from that address (over HTTP and SMPP, with each
/// protocol's answer to a wrong password, and no hashing), while the same user from another
/// address logs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_beyond_the_limit_lock_the_user_out_from_that_address_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    let gw = gateway(load(
        &config_toml(dir.path(), 0, sim.addr.port()),
        dir.path(),
    ))
    .await;
    let http = gw.http_addr.expect("http");
    let smpp = gw.smpp_addr().expect("smpp");
    let here = std::net::Ipv4Addr::new(127, 0, 0, 1);
    let send = |pw: &str| format!("/send?username=foo&password={pw}&to=33600000001&content=x");
    let refused = (
        403,
        "Error \"Authentication failure for username:foo\"".to_string(),
    );
    for i in 0..10 {
        assert_eq!(
            get_from(here, http, &send(&format!("wrong{i}"))).await,
            refused
        );
    }
    assert_eq!(
        get_from(here, http, &send("bar")).await,
        refused,
        "the right password, from the address that failed ten times"
    );
    let (_s, _rx, status) = esme_bind(smpp, "trx", "foo", "bar").await;
    assert_eq!(
        status,
        rusmpp::CommandStatus::EsmeRinvpaswd,
        "SMPP from that address: the answer to a wrong password"
    );
    let (status, body) = get_from(std::net::Ipv4Addr::new(127, 0, 0, 2), http, &send("bar")).await;
    assert_eq!(status, 200, "from another address: {body}");
    assert!(body.starts_with("Success"), "{body}");
    gw.shutdown().await;
}
