//! A real gateway inside the fuzz process, for the targets that go through its sockets: started
//! once (embedded store in a temporary data dir, HTTP API, REST API, jCli without login, one
//! connector to a port nobody listens on, so accepted messages stay queued), on its own runtime
//! threads. Each input is one exchange over a fresh connection; an exchange that gets no answer
//! within [`ANSWER_WITHIN`] is a hang and panics (libFuzzer keeps the input).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use smsgate::app::Gateway;

/// How long an exchange may take before it counts as a hang.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

pub struct Fuzzed {
    pub gw: Arc<Gateway>,
    pub http: SocketAddr,
    pub rest: SocketAddr,
    pub jcli: SocketAddr,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

/// The gateway (started on first use).
pub fn gateway() -> &'static Fuzzed {
    static GW: OnceLock<Fuzzed> = OnceLock::new();
    GW.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = format!(
            r#"
data_dir = "{}"
[journal]
enabled = false
[http-api]
bind = "127.0.0.1"
port = 0
[rest-api]
bind = "127.0.0.1"
port = 0
[smpp-server]
enabled = false
[jcli]
bind = "127.0.0.1"
port = 0
authentication = false
[[groups]]
gid = "g1"
[[users]]
username = "foo"
password = "bar"
gid = "g1"
[[smppccs]]
cid = "nowhere"
host = "127.0.0.1"
port = 9
con_fail_delay = 60
[[mtroutes]]
type = "DefaultRoute"
order = 0
connector = "smppc(nowhere)"
"#,
            dir.path().display()
        );
        let path = dir.path().join("smsgate.toml");
        std::fs::write(&path, cfg).expect("config");
        let cfg = smsgate::config::Config::load(Some(&path)).expect("config loads");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let gw = rt.block_on(Gateway::start(cfg)).expect("gateway starts");
        let (http, rest, jcli) = (
            gw.http_addr.expect("http"),
            gw.rest_addr.expect("rest"),
            gw.jcli_addr().expect("jcli"),
        );
        Fuzzed {
            gw,
            http,
            rest,
            jcli,
            _rt: rt,
            _dir: dir,
        }
    })
}

/// Write `request` on a fresh connection and read until `done(answer so far)` says the answer
/// is complete or the gateway closes; panics when nothing complete came in time.
pub fn exchange(addr: SocketAddr, request: &[u8], done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("the gateway accepts connections");
    s.set_read_timeout(Some(ANSWER_WITHIN)).expect("timeout");
    let _ = s.set_nodelay(true);
    // The gateway may answer (and close) before it read everything: not an error.
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if done(&out) {
                    return out;
                }
            }
            // libFuzzer's timers interrupt reads: not the gateway's doing.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
            Err(e) => panic!(
                "no complete answer within {ANSWER_WITHIN:?} ({e}); got {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
}

/// An HTTP/1.1 response is complete: its head and `Content-Length` bytes of body (or the
/// head alone when it has no length: the server closes after it).
pub fn http_complete(b: &[u8]) -> bool {
    let Some(end) = b.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&b[..end]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    match len {
        Some(n) => b.len() >= end + 4 + n,
        None => false,
    }
}

/// The gateway still serves: `/ping` answers.
pub fn still_serving(http: SocketAddr) {
    let r = exchange(
        http,
        b"GET /ping HTTP/1.1\r\nHost: f\r\nConnection: close\r\n\r\n",
        http_complete,
    );
    assert!(
        r.starts_with(b"HTTP/1.1 200"),
        "the gateway stopped serving: {:?}",
        String::from_utf8_lossy(&r)
    );
}
