//! Client-supplied callback URLs and the `[callbacks]` policy, end to end over real sockets:
//! what Jasmin's own examples use (loopback, private networks) works by default; link-local,
//! metadata, the gateway's own listeners and its RabbitMQ / Redis are refused with a 400 at
//! submission, whatever the spelling; `public-only` (global, per user, set over jCli) refuses
//! loopback; operator-configured HTTP client connectors are trusted; redirects are not followed.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use rusmpp::pdus::DeliverSm;
use rusmpp::values::DataCoding;
use smsgate::app::Gateway;
use smsgate::simulator::{ReceiptKnobs, Simulator};
use smsgate::smpp::{c_octet, octets};

const THROWERS: &str = "
[dlr-thrower]
retry_delay = 1
max_retries = 2
http_timeout = 2
[deliversm-thrower]
retry_delay = 1
max_retries = 2
http_timeout = 2
";

const USERS: &str = r#"
[[users]]
username = "strict"
password = "strictpw"
gid = "g1"
callback_policy = "public-only"
[[users]]
username = "open"
password = "openpw"
gid = "g1"
callback_policy = "default"
"#;

struct Env {
    _dir: tempfile::TempDir,
    sim: Simulator,
    gw: Arc<Gateway>,
    rx: Receiver,
}

async fn env_with(edit: impl Fn(String) -> String, extra: &str) -> Env {
    let sim = simulator().await;
    let rx = receiver().await;
    let dir = tempfile::tempdir().expect("tmp");
    let mut text = edit(config_toml(dir.path(), 0, sim.addr.port()));
    text.push_str(THROWERS);
    text.push_str(USERS);
    text.push_str(extra);
    let gw = gateway(load(&text, dir.path())).await;
    sim.set_receipts(ReceiptKnobs {
        delay: Some(Duration::from_millis(50)),
        ..Default::default()
    });
    Env {
        _dir: dir,
        sim,
        gw,
        rx,
    }
}

fn public_only(t: String) -> String {
    t.replace("policy = \"default\"", "policy = \"public-only\"")
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `/send` with a DLR to `url` as `user`: (status, body).
async fn send_dlr_as(gw: &Gateway, user: (&str, &str), url: &str, level: u8) -> (u16, String) {
    let addr = gw.http_addr.expect("http");
    get(
        addr,
        &format!(
            "/send?username={}&password={}&to=33600000001&content=hello&dlr=yes&dlr-url={}&dlr-level={level}",
            user.0,
            user.1,
            enc(url)
        ),
    )
    .await
}

async fn send_dlr(gw: &Gateway, url: &str) -> (u16, String) {
    send_dlr_as(gw, ("foo", "bar"), url, 1).await
}

fn refused_body(url: &str) -> String {
    format!("Error \"Argument [dlr-url] has an invalid value: [{url}]. Callback target refused: ")
}

fn metric(gw: &Gateway, line: &str) -> bool {
    gw.stats.render_prometheus().lines().any(|l| l == line)
}

fn refused_count(gw: &Gateway, stage: &str, reason: &str) -> u64 {
    gw.stats.callback_refused_get(stage, reason)
}

#[tokio::test]
async fn a_dlr_to_a_loopback_receiver_works_by_default() {
    let e = env_with(|t| t, "").await;
    // Jasmin's examples: loopback (batch callbacks) and private networks (dlr-url) are fine.
    let (st, body) = send_dlr(&e.gw, &e.rx.url("/dlr")).await;
    assert_eq!(st, 200, "{body}");
    let id = body
        .trim()
        .trim_start_matches("Success \"")
        .trim_end_matches('"');
    wait_for(10, "DLR call", || e.rx.count() >= 1).await;
    let c = &e.rx.calls()[0];
    assert_eq!(c.path, "/dlr");
    assert_eq!(c.get("id"), Some(id));
    let (st, body) = send_dlr(&e.gw, "http://192.168.202.54/dlr_receiver.php").await;
    assert_eq!(st, 200, "{body}");
    assert!(
        !e.gw
            .stats
            .render_prometheus()
            .contains("callback_refused_count{"),
        "nothing refused"
    );
}

#[tokio::test]
async fn internal_targets_are_refused_at_submission_in_every_spelling() {
    let e = env_with(|t| t, "").await;
    let http = e.gw.http_addr.expect("http").port();
    let rest = e.gw.rest_addr.expect("rest").port();
    let smpp = e.gw.smpp_addr().expect("smpp").port();
    let jcli = e.gw.jcli_addr().expect("jcli").port();
    let cases = [
        (
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "metadata",
        ),
        ("http://[fd00:ec2::254]/".to_string(), "metadata"),
        (
            "http://metadata.google.internal/computeMetadata/v1/".to_string(),
            "metadata",
        ),
        ("http://169.254.10.1/".to_string(), "link_local"),
        ("http://[fe80::1]/".to_string(), "link_local"),
        (
            format!("http://0.0.0.0:{}/", e.rx.addr.port()),
            "unspecified",
        ),
        (format!("http://127.0.0.1:{http}/send"), "gateway_listener"),
        (format!("http://2130706433:{http}/"), "gateway_listener"),
        (
            format!("http://[::ffff:127.0.0.1]:{http}/"),
            "gateway_listener",
        ),
        (format!("http://0x7f.1:{http}/"), "gateway_listener"),
        (format!("http://localhost:{http}/"), "gateway_listener"),
        (format!("http://[::1]:{http}/"), "gateway_listener"),
        (
            format!("http://0177.0.0.1:{rest}/secure/send"),
            "gateway_listener",
        ),
        (format!("http://127.1:{smpp}/"), "gateway_listener"),
        (format!("http://127.0.0.1.:{jcli}/"), "gateway_listener"),
    ];
    for (url, reason) in &cases {
        let before = refused_count(&e.gw, "submit", reason);
        let (st, body) = send_dlr(&e.gw, url).await;
        assert_eq!(st, 400, "{url}: {body}");
        assert!(body.starts_with(&refused_body(url)), "{url}: {body}");
        assert_eq!(
            refused_count(&e.gw, "submit", reason),
            before + 1,
            "{url} counted as {reason}"
        );
    }
    assert!(metric(
        &e.gw,
        "callback_refused_count{stage=\"submit\",reason=\"gateway_listener\"} 9"
    ));
    // Nothing was accepted: no message went to the SMSC, no callback was made.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(e.sim.received().is_empty());
    assert_eq!(e.rx.count(), 0);
    assert!(metric(&e.gw, "httpapi_success_count 0"));
}

/// The gateway's RabbitMQ and Redis (cluster mode, when they run here).
#[cfg(feature = "cluster")]
#[tokio::test]
async fn broker_and_store_ports_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let prefix = unique("cb");
    let text = format!(
        r#"
data_dir = "{}"
log = "warn"
[jcli]
enabled = false
[rest-api]
enabled = false
[smpp-server]
enabled = false
[http-api]
bind = "127.0.0.1"
port = 0
[broker]
url = "amqp://guest:guest@127.0.0.1:5672/%2f"
prefix = "{prefix}"
[store]
url = "redis://127.0.0.1:6379/"
prefix = "{prefix}"
[cluster]
node_id = "cb1"
[[groups]]
gid = "g1"
[[users]]
username = "foo"
password = "bar"
gid = "g1"
"#,
        dir.path().display()
    );
    // scripts/test.sh starts RabbitMQ and Redis: their absence is a failure, not a skip.
    let gw = Gateway::start(load(&text, dir.path()))
        .await
        .expect("gateway on the local RabbitMQ and Redis");
    for url in [
        "http://127.0.0.1:5672/",
        "http://localhost:5672/api",
        "http://2130706433:6379/",
        "http://[::1]:6379/",
        "http://[::ffff:7f00:1]:6379/",
    ] {
        let (st, body) = send_dlr(&gw, url).await;
        assert_eq!(st, 400, "{url}: {body}");
        assert!(body.starts_with(&refused_body(url)), "{url}: {body}");
        assert!(body.contains("broker, store or history"), "{body}");
    }
    assert_eq!(refused_count(&gw, "submit", "backend_service"), 5);
    // Another loopback port passes the check (and then finds no route: no connector here).
    let (st, body) = send_dlr(&gw, "http://127.0.0.1:5673/").await;
    assert_eq!(st, 412, "{body}");
    gw.shutdown().await;
}

#[tokio::test]
async fn public_only_refuses_loopback_and_private_at_submission() {
    let e = env_with(public_only, "").await;
    for (url, reason) in [
        (e.rx.url("/dlr"), "loopback"),
        (
            "http://127.0.0.1:7877/successful_batch".to_string(),
            "loopback",
        ),
        (
            "http://192.168.202.54/dlr_receiver.php".to_string(),
            "private",
        ),
        ("http://[::ffff:10.1.2.3]/".to_string(), "private"),
    ] {
        let (st, body) = send_dlr(&e.gw, &url).await;
        assert_eq!(st, 400, "{url}: {body}");
        assert!(body.starts_with(&refused_body(&url)), "{body}");
        assert!(body.contains("public-only"), "{body}");
        assert!(refused_count(&e.gw, "submit", reason) >= 1);
    }
    // A user whose own policy is `default` may still use the loopback receiver.
    let (st, body) = send_dlr_as(&e.gw, ("open", "openpw"), &e.rx.url("/open"), 1).await;
    assert_eq!(st, 200, "{body}");
    wait_for(10, "DLR to the open user's receiver", || e.rx.count() >= 1).await;
    assert_eq!(e.rx.calls()[0].path, "/open");
}

#[tokio::test]
async fn public_only_per_user_from_the_config_and_over_jcli() {
    let e = env_with(|t| t, "").await;
    let (st, body) = send_dlr_as(&e.gw, ("strict", "strictpw"), &e.rx.url("/dlr"), 1).await;
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("public-only"), "{body}");
    let (st, body) = send_dlr(&e.gw, &e.rx.url("/dlr")).await;
    assert_eq!(st, 200, "{body}");
    // jCli: `callback_policy` is a user key (smsgate extension).
    let mut c = Console::login(e.gw.jcli_addr().expect("jcli")).await;
    c.cmd("user -u foo").await;
    let out = c.cmd("callback_policy sometimes").await;
    assert!(out.contains("unknown callback policy"), "{out}");
    c.cmd("callback_policy public-only").await;
    let out = c.cmd("ok").await;
    assert!(out.contains("Successfully updated User [foo]"), "{out}");
    let out = c.cmd("user -s foo").await;
    assert!(out.contains("callback_policy public-only"), "{out}");
    let (st, body) = send_dlr(&e.gw, &e.rx.url("/dlr")).await;
    assert_eq!(st, 400, "{body}");
    c.cmd("user -u foo").await;
    c.cmd("callback_policy none").await;
    let out = c.cmd("ok").await;
    assert!(out.contains("Successfully updated User [foo]"), "{out}");
    let (st, body) = send_dlr(&e.gw, &e.rx.url("/dlr")).await;
    assert_eq!(st, 200, "{body}");
}

#[tokio::test]
async fn mo_to_a_loopback_http_connector_is_trusted_even_under_public_only() {
    let rx = receiver().await;
    let extra = format!(
        "
[[httpccs]]
cid = \"web\"
url = \"{}\"
method = \"GET\"
[[moroutes]]
type = \"DefaultRoute\"
order = 0
connector = \"http(web)\"
",
        rx.url("/mo")
    );
    let e = env_with(public_only, &extra).await;
    wait_for(10, "connector bound", || {
        e.sim.stats().binds.load(Ordering::Relaxed) > 0
    })
    .await;
    let pdu = DeliverSm::builder()
        .source_addr(c_octet("33699999999"))
        .destination_addr(c_octet("1234"))
        .data_coding(DataCoding::from(0))
        .short_message(octets(b"hello MO"))
        .build();
    assert_eq!(e.sim.inject(pdu).await, 1);
    wait_for(10, "MO call", || rx.count() >= 1).await;
    assert_eq!(rx.calls()[0].get("content"), Some("hello MO"));
    assert_eq!(refused_count(&e.gw, "send", "loopback"), 0);
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let e = env_with(|t| t, "").await;
    let elsewhere = receiver().await;
    *e.rx.redirect.lock() = Some(elsewhere.url("/moved"));
    let (st, body) = send_dlr(&e.gw, &e.rx.url("/dlr")).await;
    assert_eq!(st, 200, "{body}");
    wait_for(15, "DLR given up after its attempts", || {
        metric(&e.gw, "dlr_thrower_given_up_count{cid=\"sim\"} 1")
    })
    .await;
    assert_eq!(e.rx.count(), 2, "two attempts, each answered 302");
    assert_eq!(elsewhere.count(), 0, "the redirect was not followed");
}

/// A listener added after a message was accepted (a management listener, say) is protected
/// from then on: the DLR is refused when it is sent, counted, given up, and the message's
/// record says so.
#[tokio::test]
async fn a_listener_added_later_is_refused_when_sending() {
    let e = env_with(|t| t, "").await;
    e.sim.set_receipts(ReceiptKnobs {
        delay: Some(Duration::from_millis(1500)),
        ..Default::default()
    });
    let (st, body) = send_dlr_as(&e.gw, ("foo", "bar"), &e.rx.url("/dlr"), 2).await;
    assert_eq!(st, 200, "{body}");
    let id = body
        .trim()
        .trim_start_matches("Success \"")
        .trim_end_matches('"')
        .to_string();
    e.gw.pipeline
        .callbacks
        .protect_listener("management", e.rx.addr);
    wait_for(15, "refused at send", || {
        refused_count(&e.gw, "send", "gateway_listener") == 1
    })
    .await;
    wait_for(5, "given up", || {
        metric(&e.gw, "dlr_thrower_given_up_count{cid=\"sim\"} 1")
    })
    .await;
    assert_eq!(e.rx.count(), 0);
    let mut detail = None;
    for _ in 0..50 {
        detail =
            e.gw.store
                .record_get(&id)
                .await
                .ok()
                .flatten()
                .and_then(|r| r.detail);
        // The receipt's own detail (`err:000`) comes first; the thrower notes the refusal
        // on the record just after it counts the give-up.
        if detail
            .as_deref()
            .is_some_and(|d| d.contains("DLR callback refused"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let detail = detail.expect("record detail");
    assert!(detail.contains("DLR callback refused"), "{detail}");
    // Its own stage in the counters.
    assert!(metric(
        &e.gw,
        "callback_refused_count{stage=\"send\",reason=\"gateway_listener\"} 1"
    ));
}

/// REST `/secure/sendbatch`: a callback to a loopback receiver is called; internal ones are
/// refused at submission.
#[tokio::test]
async fn rest_batch_callbacks() {
    let e = env_with(|t| t, "").await;
    let rest = e.gw.rest_addr.expect("rest");
    let ok = serde_json::json!({
        "batch_config": {"callback_url": e.rx.url("/successful_batch")},
        "messages": [{"to": "33600000002", "content": "hi"}]
    });
    let (st, body) = rest_post(rest, "/secure/sendbatch", &ok).await;
    assert_eq!(st, 200, "{body}");
    wait_for(15, "batch callback", || {
        e.rx.calls().iter().any(|c| c.path == "/successful_batch")
    })
    .await;
    let c =
        e.rx.calls()
            .into_iter()
            .find(|c| c.path == "/successful_batch")
            .expect("call");
    assert_eq!(c.get("status"), Some("1"));
    let own = format!("http://127.0.0.1:{}/", rest.port());
    let bad_cb = serde_json::json!({
        "batch_config": {"errback_url": own},
        "messages": [{"to": "33600000002", "content": "hi"}]
    });
    let (st, body) = rest_post(rest, "/secure/sendbatch", &bad_cb).await;
    assert_eq!(st, 400, "{body}");
    assert!(
        body.contains(&format!(
            "batch_config [errback_url] has an invalid value: [{own}]. Callback target refused"
        )),
        "{body}"
    );
    let bad_dlr = serde_json::json!({
        "messages": [{"to": "33600000002", "content": "hi", "dlr": "yes", "dlr-url": "http://169.254.169.254/"}]
    });
    let (st, body) = rest_post(rest, "/secure/sendbatch", &bad_dlr).await;
    assert_eq!(st, 400, "{body}");
    assert!(
        body.contains("Argument [dlr-url] has an invalid value: [http://169.254.169.254/]. Callback target refused: cloud metadata address."),
        "{body}"
    );
    let send = serde_json::json!({
        "to": "33600000002", "content": "hi", "dlr": "yes", "dlr-url": "http://[fe80::1]/x"
    });
    let (st, body) = rest_post(rest, "/secure/send", &send).await;
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("link-local address"), "{body}");
    assert_eq!(refused_count(&e.gw, "submit", "gateway_listener"), 1);
    assert_eq!(refused_count(&e.gw, "submit", "metadata"), 1);
    assert_eq!(refused_count(&e.gw, "submit", "link_local"), 1);
}

async fn rest_post(addr: SocketAddr, path: &str, body: &serde_json::Value) -> (u16, String) {
    use base64::Engine;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = body.to_string();
    let auth = base64::engine::general_purpose::STANDARD.encode("foo:bar");
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Basic {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = vec![];
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let at = text.find("\r\n\r\n").map(|i| i + 4).unwrap_or(text.len());
    (status, text[at..].to_string())
}

/// A minimal jCli console (telnet commands dropped).
struct Console {
    sock: tokio::net::TcpStream,
    buf: Vec<u8>,
}

impl Console {
    async fn login(addr: SocketAddr) -> Console {
        let sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut c = Console { sock, buf: vec![] };
        c.until(&["Username: "]).await;
        c.send("jcliadmin").await;
        c.until(&["Password: "]).await;
        c.send("jclipwd").await;
        c.until(&["jcli : "]).await;
        c
    }

    async fn send(&mut self, line: &str) {
        use tokio::io::AsyncWriteExt;
        self.sock
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write");
    }

    async fn until(&mut self, ends: &[&str]) -> String {
        use tokio::io::AsyncReadExt;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let text = text_of(&self.buf);
            if ends.iter().any(|e| text.ends_with(e)) {
                self.buf.clear();
                return text;
            }
            let mut chunk = [0u8; 8192];
            let n = tokio::time::timeout_at(deadline, self.sock.read(&mut chunk))
                .await
                .unwrap_or_else(|_| panic!("timed out; got {text:?}"))
                .expect("read");
            assert!(n > 0, "closed; got {text:?}");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn cmd(&mut self, line: &str) -> String {
        self.send(line).await;
        self.until(&["jcli : ", "> "]).await
    }
}

fn text_of(b: &[u8]) -> String {
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0xff {
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
