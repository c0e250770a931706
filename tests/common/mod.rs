//! Helpers shared by the end-to-end tests: a simulator and a gateway on ephemeral ports.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use smsgate::app::Gateway;
use smsgate::config::Config;
use smsgate::simulator::{SimConfig, Simulator};

pub async fn simulator() -> Simulator {
    simulator_on("127.0.0.1:0".parse().expect("addr")).await
}

pub async fn simulator_on(bind: SocketAddr) -> Simulator {
    simulator_throttling(bind, 0).await
}

pub async fn simulator_throttling(bind: SocketAddr, throttle_percent: u8) -> Simulator {
    Simulator::start(SimConfig {
        bind,
        hex_ids: true,
        dlr_delay: None,
        throttle_percent,
        pdu_log: None,
        keep_messages: true,
    })
    .await
    .expect("simulator")
}

/// A name prefix no other test run uses (RabbitMQ exchanges/queues, Redis keys):
/// `t<pid><ns>-<tag>.`.
pub fn unique(tag: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("t{}{}-{tag}.", std::process::id(), n % 1_000_000_000)
}

/// A free TCP port on 127.0.0.1 for a listener that binds it later (a gateway process, an
/// SMSC that comes up during the test, a restart on the same port).
///
/// Taken outside the kernel's ephemeral range (`ip_local_port_range`, 32768-60999 by default):
/// a port from there could be handed to another test's `bind(":0")` or outgoing connection
/// between the check and the bind. Each port is handed out once per test process. Where the
/// listener can report its own address, bind port 0 instead.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (low, high) = ephemeral_range();
    // Below the ephemeral range, above the well-known and the common service ports.
    let (first, last) = if low > 21_000 {
        (20_000u32, low - 1)
    } else {
        (high + 1, 65_535)
    };
    let span = last - first + 1;
    // Start somewhere different in each test process (the two test passes, a rerun).
    let seed = std::process::id().wrapping_mul(7919) % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (first + (seed + n) % span) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {first}-{last}");
}

/// The kernel's ephemeral port range (defaults to Linux's when unreadable).
fn ephemeral_range() -> (u32, u32) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| {
            let mut it = t.split_whitespace().map(|v| v.parse::<u32>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32_768, 60_999))
}

/// Gateway config text for a simulator on `smsc_port`, HTTP on `http_port`.
pub fn config_toml(data_dir: &std::path::Path, http_port: u16, smsc_port: u16) -> String {
    format!(
        r#"
data_dir = "{}"
log = "warn"
[jcli]
port = 0
[http-api]
bind = "127.0.0.1"
port = {http_port}
[smpp-server]
bind = "127.0.0.1"
port = 0
[rest-api]
bind = "127.0.0.1"
port = 0
[callbacks]
policy = "default"
[[groups]]
gid = "g1"
[[groups]]
gid = "g2"
enabled = false
[[users]]
username = "foo"
password = "bar"
gid = "g1"
[[users]]
username = "bob"
password = "bobpwd"
gid = "g1"
mt_messaging_cred.quota = {{ balance = 1.0, sms_count = 5 }}
[[users]]
username = "eve"
password = "evepwd"
gid = "g2"
[[users]]
username = "nobind"
password = "pw"
gid = "g1"
smpps_cred.authorization.bind = false
[[users]]
username = "single"
password = "pw"
gid = "g1"
smpps_cred.quota.max_bindings = 1
[[users]]
username = "slow"
password = "pw"
gid = "g1"
mt_messaging_cred.quota.smpps_throughput = 2
[[users]]
username = "utf"
password = "utfpwd"
gid = "g1"
content_encoding = "utf8"
[[smppccs]]
cid = "sim"
host = "127.0.0.1"
port = {smsc_port}
con_fail_delay = 1
con_loss_delay = 1
requeue_delay = 1
[[filters]]
fid = "bobf"
type = "UserFilter"
uid = "bob"
[[filters]]
fid = "nofr"
type = "DestinationAddrFilter"
destination_addr = "^99"
[[mtroutes]]
type = "DefaultRoute"
order = 0
connector = "smppc(sim)"
[[mtroutes]]
type = "StaticMTRoute"
order = 10
connector = "smppc(sim)"
filters = ["bobf"]
rate = 0.4
"#,
        data_dir.display()
    )
}

pub fn load(toml: &str, dir: &std::path::Path) -> Config {
    let path = dir.join("smsgate.toml");
    std::fs::write(&path, toml).expect("write config");
    Config::load(Some(&path)).expect("config")
}

pub async fn gateway(cfg: Config) -> Arc<Gateway> {
    Gateway::start(cfg).await.expect("gateway")
}

/// Wait until `cond` holds (polling), or panic after `secs`.
pub async fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Raw HTTP/1.1 request over a fresh socket; returns (status, body).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    body: Option<(&str, &[u8])>,
) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req =
        format!("{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n").into_bytes();
    if let Some((ct, b)) = body {
        req.extend(format!("Content-Type: {ct}\r\nContent-Length: {}\r\n", b.len()).bytes());
        req.extend(b"\r\n");
        req.extend(b);
    } else {
        req.extend(b"\r\n");
    }
    s.write_all(&req).await.expect("write");
    let mut out = vec![];
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body_at = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .unwrap_or(out.len());
    let mut body = out[body_at..].to_vec();
    if text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(b: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        let Some(end) = b[i..].windows(2).position(|w| w == b"\r\n") else {
            break;
        };
        let n = usize::from_str_radix(
            std::str::from_utf8(&b[i..i + end]).unwrap_or("0").trim(),
            16,
        )
        .unwrap_or(0);
        if n == 0 {
            break;
        }
        let start = i + end + 2;
        out.extend_from_slice(&b[start..(start + n).min(b.len())]);
        i = start + n + 2;
    }
    out
}

pub async fn get(addr: SocketAddr, target: &str) -> (u16, String) {
    let (s, b) = http(addr, "GET", target, None).await;
    (s, String::from_utf8_lossy(&b).into_owned())
}

/// An ESME built on the project's own session layer: connect and bind.
pub async fn esme_bind(
    addr: SocketAddr,
    mode: &str,
    system_id: &str,
    password: &str,
) -> (
    smsgate::smpp::session::Session,
    tokio::sync::mpsc::Receiver<rusmpp::Command>,
    rusmpp::CommandStatus,
) {
    use rusmpp::pdus::{BindReceiver, BindTransceiver, BindTransmitter};
    use smsgate::smpp::c_octet;
    let sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let cfg = smsgate::smpp::session::SessionConfig {
        enquire_link_interval: None,
        inactivity_timeout: None,
        response_timeout: Duration::from_secs(10),
        ..Default::default()
    };
    let (s, rx) = smsgate::smpp::session::start(sock, cfg);
    let resp = match mode {
        "tx" => {
            s.request(
                BindTransmitter::builder()
                    .system_id(c_octet(system_id))
                    .password(c_octet(password))
                    .build(),
            )
            .await
        }
        "rx" => {
            s.request(
                BindReceiver::builder()
                    .system_id(c_octet(system_id))
                    .password(c_octet(password))
                    .build(),
            )
            .await
        }
        _ => {
            s.request(
                BindTransceiver::builder()
                    .system_id(c_octet(system_id))
                    .password(c_octet(password))
                    .build(),
            )
            .await
        }
    }
    .expect("bind response");
    (s, rx, resp.status())
}

/// A `submit_sm` from an ESME.
pub fn submit_sm(to: &str, text: &[u8], registered_delivery: u8) -> rusmpp::pdus::SubmitSm {
    use rusmpp::values::{DataCoding, RegisteredDelivery};
    use smsgate::smpp::{c_octet, octets};
    rusmpp::pdus::SubmitSm::builder()
        .source_addr(c_octet("1234"))
        .destination_addr(c_octet(to))
        .registered_delivery(RegisteredDelivery::from(registered_delivery))
        .data_coding(DataCoding::from(0))
        .short_message(octets(text))
        .build()
}

/// The message id of a `submit_sm_resp`.
pub fn resp_id(c: &rusmpp::Command) -> String {
    match c.pdu() {
        Some(rusmpp::Pdu::SubmitSmResp(r)) => String::from_utf8_lossy(r.message_id().as_ref())
            .trim_end_matches('\0')
            .to_string(),
        _ => String::new(),
    }
}

/// A request the test HTTP receiver got.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    /// Query string (GET) or form body (POST) as ordered pairs.
    pub params: Vec<(String, String)>,
}

impl Call {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }
    pub fn keys(&self) -> Vec<&str> {
        self.params.iter().map(|(k, _)| k.as_str()).collect()
    }
}

/// A local HTTP receiver for DLR and MO callbacks. It answers `ACK/Jasmin`, except for the
/// first `fail_first` calls (status 500) and while `hang` is set (never answers).
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    pub calls: Arc<parking_lot::Mutex<Vec<Call>>>,
    pub fail_first: Arc<std::sync::atomic::AtomicUsize>,
    pub wrong_body: Arc<std::sync::atomic::AtomicBool>,
    pub hang: Arc<std::sync::atomic::AtomicBool>,
    /// When set, every call is answered `302 Found` with this `Location`.
    pub redirect: Arc<parking_lot::Mutex<Option<String>>>,
}

impl Receiver {
    pub fn count(&self) -> usize {
        self.calls.lock().len()
    }
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().clone()
    }
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

pub async fn receiver() -> Receiver {
    receiver_on("127.0.0.1:0".parse().expect("addr")).await
}

pub async fn receiver_on(bind: SocketAddr) -> Receiver {
    use http_body_util::BodyExt;
    use std::sync::atomic::Ordering;
    let listener = tokio::net::TcpListener::bind(bind).await.expect("bind");
    let r = Receiver {
        addr: listener.local_addr().expect("addr"),
        calls: Default::default(),
        fail_first: Default::default(),
        wrong_body: Default::default(),
        hang: Default::default(),
        redirect: Default::default(),
    };
    let r2 = r.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let r = r2.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let r = r.clone();
                        async move {
                            let method = req.method().to_string();
                            let path = req.uri().path().to_string();
                            let query = req.uri().query().unwrap_or("").to_string();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let raw = if method == "POST" {
                                body.to_vec()
                            } else {
                                query.into_bytes()
                            };
                            let params = form_urlencoded::parse(&raw)
                                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                                .collect();
                            r.calls.lock().push(Call {
                                method,
                                path,
                                params,
                            });
                            if r.hang.load(Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                            }
                            let fail = r
                                .fail_first
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                                    n.checked_sub(1)
                                })
                                .is_ok();
                            let location = r.redirect.lock().clone();
                            if let Some(location) = location {
                                let mut resp = hyper::Response::new(http_body_util::Full::new(
                                    bytes::Bytes::from_static(b"moved"),
                                ));
                                *resp.status_mut() = hyper::StatusCode::FOUND;
                                if let Ok(v) = hyper::header::HeaderValue::from_str(&location) {
                                    resp.headers_mut().insert(hyper::header::LOCATION, v);
                                }
                                return Ok::<_, std::convert::Infallible>(resp);
                            }
                            let (status, text) = if fail {
                                (500, "oops")
                            } else if r.wrong_body.load(Ordering::SeqCst) {
                                (200, "OK")
                            } else {
                                (200, "ACK/Jasmin")
                            };
                            let mut resp = hyper::Response::new(http_body_util::Full::new(
                                bytes::Bytes::from_static(text.as_bytes()),
                            ));
                            *resp.status_mut() =
                                hyper::StatusCode::from_u16(status).expect("status");
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(sock), svc)
                    .await;
            });
        }
    });
    r
}

/// The console's text without telnet commands (IAC sequences) and terminal resets.
pub fn strip_telnet(b: &[u8]) -> String {
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        if b[i] == 255 {
            i += if b.get(i + 1).is_some_and(|v| (251..=254).contains(v)) {
                3
            } else {
                2
            };
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out)
        .replace("\x1bc\x1b[4h", "")
        .replace("\x1bc", "")
}

async fn read_until(sock: &mut tokio::net::TcpStream, buf: &mut Vec<u8>, end: &str) {
    use tokio::io::AsyncReadExt;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !strip_telnet(buf).ends_with(end) {
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout_at(deadline, sock.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("jcli: timed out waiting for {end:?}"))
            .expect("read");
        assert!(n > 0, "jcli closed waiting for {end:?}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Run `cmd` on the jCli console at `addr` (logged in as the default admin); its answer up
/// to the next prompt.
pub async fn jcli_run(addr: SocketAddr, cmd: &str) -> String {
    jcli_session(addr, &[cmd]).await.pop().unwrap_or_default()
}

/// Run `lines` in one jCli session; each line's answer up to the next prompt (`> ` inside
/// an add form, `jcli : ` otherwise).
pub async fn jcli_session(addr: SocketAddr, lines: &[&str]) -> Vec<String> {
    use tokio::io::AsyncWriteExt;
    let mut sock = tokio::net::TcpStream::connect(addr).await.expect("jcli");
    let mut buf = vec![];
    for (wait, send) in [("Username: ", "jcliadmin"), ("Password: ", "jclipwd")] {
        read_until(&mut sock, &mut buf, wait).await;
        buf.clear();
        sock.write_all(format!("{send}\r\n").as_bytes())
            .await
            .expect("write");
    }
    read_until(&mut sock, &mut buf, "jcli : ").await;
    let mut answers = vec![];
    for line in lines {
        buf.clear();
        sock.write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write");
        // The prompt that follows: a form's `> ` or the console's.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let text = strip_telnet(&buf);
            if text.ends_with("jcli : ") || text.ends_with("> ") {
                break;
            }
            let mut chunk = [0u8; 8192];
            use tokio::io::AsyncReadExt;
            let n = tokio::time::timeout_at(deadline, sock.read(&mut chunk))
                .await
                .unwrap_or_else(|_| panic!("jcli: no prompt after {line:?}"))
                .expect("read");
            assert!(n > 0, "jcli closed after {line:?}");
            buf.extend_from_slice(&chunk[..n]);
        }
        let text = strip_telnet(&buf);
        let text = text.strip_prefix(&format!("{line}\r\n")).unwrap_or(&text);
        let text = text
            .strip_suffix("jcli : ")
            .or_else(|| text.strip_suffix("> "))
            .unwrap_or(text);
        answers.push(text.trim_end().to_string());
    }
    answers
}

/// A gateway on two simulated SMSCs: `sim` (the default route of [`config_toml`]) and `black`
/// (connector `black`, for what filters and routes send elsewhere).
pub struct TwoSmscs {
    pub gw: Arc<Gateway>,
    pub sim: Simulator,
    pub black: Simulator,
    pub http: SocketAddr,
    /// The configuration it was started with (to restart it).
    pub toml: String,
    pub dir: tempfile::TempDir,
}

/// Start a [`TwoSmscs`] gateway with `extra(data_dir)` appended to its configuration, once
/// both connectors are bound.
pub async fn two_smscs(extra: impl FnOnce(&std::path::Path) -> String) -> TwoSmscs {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    let black = simulator().await;
    let toml = format!(
        "{}\n[[smppccs]]\ncid = \"black\"\nhost = \"127.0.0.1\"\nport = {}\ncon_fail_delay = 1\n\n{}",
        config_toml(dir.path(), 0, sim.addr.port()),
        black.addr.port(),
        extra(dir.path()),
    );
    let gw = gateway(load(&toml, dir.path())).await;
    wait_for(10, "both SMSCs bound", || {
        sim.stats().binds.load(Ordering::Relaxed) >= 1
            && black.stats().binds.load(Ordering::Relaxed) >= 1
    })
    .await;
    let http = gw.http_addr.expect("http");
    TwoSmscs {
        gw,
        sim,
        black,
        http,
        toml,
        dir,
    }
}

/// A self-signed certificate for `localhost` (and its key) in `dir`, made with openssl:
/// (cert.pem, key.pem).
pub fn test_cert(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
        ])
        .arg("/CN=localhost")
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl must be installed to make a test certificate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// A gateway process, killed (and waited for) when dropped while still running: also when a
/// test fails half-way, so no gateway outlives its test.
pub struct Guard(pub std::process::Child);

impl std::ops::Deref for Guard {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Guard {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
