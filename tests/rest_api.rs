//! The REST listener end to end over real sockets: Jasmin's REST API (`/secure/*`, `/ping`)
//! with durable batches, smstools-http-api and retarus' jobs API, against the simulator SMSC
//! and a local HTTP receiver for callbacks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use base64::Engine;
use serde_json::{json, Value};
use smsgate::app::Gateway;
use smsgate::simulator::{ReceiptKnobs, Simulator};

/// A response: status, lower-cased head, body.
struct Resp {
    status: u16,
    head: String,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    auth: Option<(&str, &str)>,
    body: Option<&[u8]>,
) -> Resp {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req =
        format!("{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n").into_bytes();
    if let Some((u, p)) = auth {
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        req.extend(format!("Authorization: Basic {b64}\r\n").bytes());
    }
    match body {
        Some(b) => {
            req.extend(
                format!(
                    "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    b.len()
                )
                .bytes(),
            );
            req.extend(b);
        }
        None => req.extend(b"\r\n"),
    }
    // Write while reading: a refused oversized body is answered before it is all sent.
    let (mut rd, mut wr) = s.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&req).await;
        wr
    });
    let mut out = vec![];
    let _ = tokio::time::timeout(Duration::from_secs(20), rd.read_to_end(&mut out)).await;
    let _ = writer.await;
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let at = text.find("\r\n\r\n").map(|i| i + 4).unwrap_or(text.len());
    Resp {
        status,
        head: text[..at].to_ascii_lowercase(),
        body: text[at..].to_string(),
    }
}

const FOO: Option<(&str, &str)> = Some(("foo", "bar"));
const BULK: Option<(&str, &str)> = Some(("bulk", "bulkpwd"));

struct Env {
    dir: tempfile::TempDir,
    sim: Simulator,
    gw: Arc<Gateway>,
    rx: Receiver,
    toml: String,
}

impl Env {
    fn rest(&self) -> SocketAddr {
        self.gw.rest_addr.expect("rest listener")
    }
    async fn post(&self, path: &str, auth: Option<(&str, &str)>, body: &Value) -> Resp {
        let b = body.to_string();
        request(self.rest(), "POST", path, auth, Some(b.as_bytes())).await
    }
    async fn get(&self, path: &str, auth: Option<(&str, &str)>) -> Resp {
        request(self.rest(), "GET", path, auth, None).await
    }
    fn received_to(&self, to: &str) -> usize {
        self.sim
            .received()
            .iter()
            .filter(|r| r.destination_addr == to)
            .count()
    }
    async fn restart(&mut self) {
        self.gw.shutdown().await;
        self.gw = gateway(load(&self.toml, self.dir.path())).await;
    }
}

async fn env_with(extra: &str) -> Env {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = simulator().await;
    let rx = receiver().await;
    let toml = format!(
        "{}\n{}\n",
        config_toml(dir.path(), 0, sim.addr.port())
            .replace("[rest-api]\nbind = \"127.0.0.1\"\nport = 0\n", extra),
        r#"
[[users]]
username = "bulk"
password = "bulkpwd"
gid = "g1"
mt_messaging_cred.authorization.http_bulk = true
[[users]]
username = "poor"
password = "poorpwd"
gid = "g1"
mt_messaging_cred.authorization.http_bulk = true
mt_messaging_cred.quota = { balance = 1.0 }
[[users]]
username = "rl"
password = "rlpwd"
gid = "g1"
[[users]]
username = "lvv"
password = "SecretPAss"
gid = "g1"
[[filters]]
fid = "poorf"
type = "UserFilter"
uid = "poor"
[[mtroutes]]
type = "StaticMTRoute"
order = 20
connector = "smppc(sim)"
filters = ["poorf"]
rate = 0.4
"#
    );
    let toml = toml.replace(
        "[callbacks]\npolicy = \"default\"",
        "[callbacks]\npolicy = \"default\"\n[dlr-thrower]\nretry_delay = 1\nmax_retries = 3\nhttp_timeout = 2",
    );
    let gw = gateway(load(&toml, dir.path())).await;
    Env {
        dir,
        sim,
        gw,
        rx,
        toml,
    }
}

const REST: &str = r#"
[rest-api]
bind = "127.0.0.1"
port = 0
schedule_utc_offset = "+00:00"
max_batch_recipients = 200000
mobile_perms = { lvv = ["79680000000", "7916*"] }
"#;

async fn env() -> Env {
    env_with(REST).await
}

async fn wait_received(e: &Env, n: u64, what: &str) {
    let sim = e.sim.clone();
    wait_for(15, what, move || sim.submit_count() >= n).await;
}

#[tokio::test]
async fn jasmin_rest_transcript() {
    let e = env().await;
    // Exactly as recorded (Python's JSON separators).
    let r = e.get("/ping", None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, r#"{"data": "Jasmin/PONG"}"#)
    );
    assert!(r.head.contains("content-type: application/json"));
    let r = e.get("/secure/balance", FOO).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, r#"{"data": {"balance": "ND", "sms_count": "ND"}}"#)
    );
    let r = e.get("/secure/balance", Some(("foo", "wrong"))).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            403,
            r#"{"message": "Authentication failure for username:foo"}"#
        )
    );
    let r = e.get("/secure/balance", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        r#"{"title": "Authentication required", "description": "Please provide a valid Basic auth token", "link": {"text": "Documentation related to this error", "href": "http://docs.jasminsms.com/en/latest/apis/rest/index.html", "rel": "help"}}"#
    );
    let r = e.get("/secure/rate?to=33600000001", FOO).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, r#"{"data": {"unit_rate": 0.0, "submit_sm_count": 1}}"#)
    );
    let r = e
        .post(
            "/secure/send",
            FOO,
            &json!({"to": "33600000011", "content": "rest hello"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let data = r.json()["data"].as_str().expect("data").to_string();
    let id = data.strip_prefix("Success \"").expect("Success \"<id>");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{data}");
    wait_received(&e, 1, "the REST message").await;
    let got = e.sim.received();
    assert_eq!(got[0].destination_addr, "33600000011");
    assert_eq!(got[0].short_message, b"rest hello");

    let r = e
        .post("/secure/send", FOO, &json!({"to": "33600000011"}))
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"message": "Error \"content or hex-content not present."}"#
        )
    );
    let r = request(e.rest(), "POST", "/secure/send", FOO, Some(b"not json")).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            412,
            r#"{"title": "Cannot parse JSON data", "description": "Got unparseable json data: b'not json'"}"#
        )
    );
    let r = e
        .post(
            "/secure/sendbatch",
            BULK,
            &json!({"globals": {"from": "Jookies"}, "messages": [{"to": ["33600000021", "33600000022"], "content": "batch 1"}, {"to": "33600000023", "content": "batch 2"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let d = &r.json()["data"];
    assert_eq!(d["messageCount"], 3);
    assert!(uuid::Uuid::parse_str(d["batchId"].as_str().expect("id")).is_ok());
    wait_received(&e, 4, "the batch").await;
    for to in ["33600000021", "33600000022", "33600000023"] {
        let m: Vec<_> = e
            .sim
            .received()
            .into_iter()
            .filter(|r| r.destination_addr == to)
            .collect();
        assert_eq!(m.len(), 1, "{to}");
        assert_eq!(m[0].source_addr, "Jookies");
    }
    let r = e
        .post("/secure/sendbatch", BULK, &json!({"messages": []}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["messageCount"], 0);
    // The spec's binary batch, and Example 3's "Holà !" (a raw user: Latin-1 text, sent in
    // GSM 03.38 where à is 0x7F).
    let r = e
        .post(
            "/secure/sendbatch",
            BULK,
            &json!({"messages": [
                {"to": ["33333331", "33333332", "33333333"], "hex_content": "0623063106460628"},
                {"to": "7777771", "content": "Holà !"}
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["messageCount"], 4);
    wait_received(&e, 8, "the binary batch").await;
    let got = e.sim.received();
    for to in ["33333331", "33333332", "33333333"] {
        let m = got.iter().find(|m| m.destination_addr == to).expect(to);
        assert_eq!(
            m.short_message,
            hex::decode("0623063106460628").expect("hex")
        );
    }
    let m = got
        .iter()
        .find(|m| m.destination_addr == "7777771")
        .expect("Holà");
    assert_eq!(m.short_message, b"Hol\x7f !");
    e.gw.shutdown().await;
}

#[tokio::test]
async fn secure_send_parameters() {
    let e = env().await;
    e.sim.set_receipts(ReceiptKnobs {
        delay: Some(Duration::from_millis(10)),
        ..Default::default()
    });
    // hex_content with coding 8 (the spec's Arabic example), numeric `to`.
    let r = e
        .post(
            "/secure/send",
            FOO,
            &json!({"to": 19012233451u64, "from": "Jookies", "coding": 8, "hex_content": "0623063106460628"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // dlr-* (level 3: both levels reach the receiver).
    let r = e
        .post(
            "/secure/send",
            FOO,
            &json!({"to": 19012233452u64, "content": "Hello", "dlr": "yes", "dlr-url": e.rx.url("/dlr"), "dlr-level": 3}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    wait_received(&e, 2, "two messages").await;
    let got = e.sim.received();
    let bin = got
        .iter()
        .find(|m| m.destination_addr == "19012233451")
        .expect("binary");
    assert_eq!(bin.data_coding, 8);
    assert_eq!(
        bin.short_message,
        hex::decode("0623063106460628").expect("hex")
    );
    assert_eq!(bin.source_addr, "Jookies");
    let rx = e.rx.clone();
    wait_for(15, "DLR levels 1 and 2", move || {
        let c = rx.calls();
        c.iter().any(|c| c.get("level") == Some("1"))
            && c.iter().any(|c| c.get("level") == Some("2"))
    })
    .await;
    // Refusals in Jasmin's words.
    let r = e
        .post(
            "/secure/send",
            FOO,
            &json!({"to": "336", "content": "x", "foo": "bar"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, r#"{"message": "Error \"Argument [foo] is unknown."}"#)
    );
    let r = e
        .post(
            "/secure/send",
            FOO,
            &json!({"to": "336", "content": "x", "priority": 9}),
        )
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"message": "Error \"Argument [priority] has an invalid value: [9]."}"#
        )
    );
    let r = e
        .post(
            "/secure/send",
            FOO,
            &json!({"to": ["1", "2"], "content": "x"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = e.post("/secure/send", FOO, &json!(["to"])).await;
    assert_eq!(r.status, 400);
    let r = e
        .post(
            "/secure/send",
            Some(("eve", "evepwd")),
            &json!({"to": "336", "content": "x"}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = e.get("/secure/nothing", FOO).await;
    assert_eq!(r.status, 404);
    let r = e.get("/secure/send", FOO).await;
    assert_eq!(r.status, 405);
    assert_eq!(e.sim.submit_count(), 2, "refusals sent nothing");
    e.gw.shutdown().await;
}

#[tokio::test]
async fn batch_globals_callbacks_and_errbacks() {
    let e = env_with(&format!("{REST}enforce_http_bulk = true\n")).await;
    // Example 2: globals inherited, overridden locally.
    let r = e
        .post(
            "/secure/sendbatch",
            BULK,
            &json!({
                "globals": {"from": "Brand2", "dlr-level": 3, "dlr": "yes", "dlr-url": e.rx.url("/dlr")},
                "messages": [
                    {"from": "Brand1", "to": ["55555551", "55555552", "55555553"], "content": "Message 1 goes to 3 numbers"},
                    {"to": ["33333331", "33333332", "33333333"], "content": "Message 2 goes to 3 numbers"},
                    {"to": "7777771", "content": "Message 3 goes to 1 number"}
                ]
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["messageCount"], 7);
    wait_received(&e, 7, "example 2").await;
    let got = e.sim.received();
    for m in &got {
        let want = if m.destination_addr.starts_with("5555") {
            "Brand1"
        } else {
            "Brand2"
        };
        assert_eq!(m.source_addr, want, "{}", m.destination_addr);
        assert_eq!(m.registered_delivery, 1, "dlr-level 3 from globals");
    }
    // Callbacks: `poor` can pay two messages (0.4 each of 1.0): the third goes to errback.
    let r = e
        .post(
            "/secure/sendbatch",
            Some(("poor", "poorpwd")),
            &json!({
                "batch_config": {"callback_url": e.rx.url("/ok"), "errback_url": e.rx.url("/err")},
                "messages": [{"to": ["10001", "10002", "10003"], "content": "Hello world !"}]
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let batch = r.json()["data"]["batchId"]
        .as_str()
        .expect("id")
        .to_string();
    let rx = e.rx.clone();
    wait_for(15, "three batch callbacks", move || {
        rx.calls()
            .iter()
            .filter(|c| c.path == "/ok" || c.path == "/err")
            .count()
            >= 3
    })
    .await;
    let calls = e.rx.calls();
    let ok: Vec<_> = calls.iter().filter(|c| c.path == "/ok").collect();
    let err: Vec<_> = calls.iter().filter(|c| c.path == "/err").collect();
    assert_eq!((ok.len(), err.len()), (2, 1));
    for c in &ok {
        assert_eq!(c.keys(), vec!["batchId", "to", "status", "statusText"]);
        assert_eq!(c.get("batchId"), Some(batch.as_str()));
        assert_eq!(c.get("status"), Some("1"));
        assert!(c.get("statusText").unwrap_or("").starts_with("Success \""));
        assert_eq!(c.method, "GET");
    }
    assert_eq!(err[0].get("to"), Some("10003"));
    assert_eq!(err[0].get("status"), Some("0"));
    assert_eq!(
        err[0].get("statusText"),
        Some("HTTPAPI error: Error \"Cannot charge submit_sm, check RouterPB log file for details")
    );
    // The batch reports its progress (smsgate extension).
    let r = e
        .get(&format!("/secure/batch/{batch}"), Some(("poor", "poorpwd")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let d = &r.json()["data"];
    assert_eq!(
        (
            d["status"].as_str(),
            d["sent"].as_u64(),
            d["failed"].as_u64()
        ),
        (Some("done"), Some(2), Some(1))
    );
    let r = e.get(&format!("/secure/batch/{batch}"), BULK).await;
    assert_eq!(r.status, 404, "another user's batch");
    // http_bulk is enforced when the operator asks for it.
    let r = e
        .post(
            "/secure/sendbatch",
            FOO,
            &json!({"messages": [{"to": "1", "content": "x"}]}),
        )
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            403,
            r#"{"message": "Authorization failed for user [foo] (Bulk send not authorized)."}"#
        )
    );
    e.gw.shutdown().await;
}

#[tokio::test]
async fn batch_scheduling_relative_and_absolute() {
    let e = env().await;
    let r = e
        .post(
            "/secure/sendbatch",
            BULK,
            &json!({"batch_config": {"schedule_at": "3s"}, "messages": [{"to": "7777771", "content": "Good morning !"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rel = r.json()["data"]["batchId"]
        .as_str()
        .expect("id")
        .to_string();
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(3);
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let r = e
        .post(
            "/secure/sendbatch",
            BULK,
            &json!({"batch_config": {"schedule_at": at.format(fmt).expect("fmt")}, "messages": [{"to": "7777772", "content": "Good morning !"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let abs = r.json()["data"]["batchId"]
        .as_str()
        .expect("id")
        .to_string();
    // A past time sends at once.
    let r = e
        .post(
            "/secure/sendbatch",
            BULK,
            &json!({"batch_config": {"schedule_at": "2017-11-15 09:00:00"}, "messages": [{"to": "7777773", "content": "late"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    wait_received(&e, 1, "the past-scheduled batch").await;
    for id in [&rel, &abs] {
        let r = e.get(&format!("/secure/batch/{id}"), BULK).await;
        assert_eq!(r.json()["data"]["status"], "scheduled", "{}", r.body);
    }
    assert_eq!(e.received_to("7777771") + e.received_to("7777772"), 0);
    wait_received(&e, 3, "the scheduled batches").await;
    assert_eq!(e.received_to("7777771"), 1);
    assert_eq!(e.received_to("7777772"), 1);
    // Bad schedules are refused.
    for bad in ["tomorrow", "2017-11-15", "-5s", "s"] {
        let r = e
            .post(
                "/secure/sendbatch",
                BULK,
                &json!({"batch_config": {"schedule_at": bad}, "messages": [{"to": "1", "content": "x"}]}),
            )
            .await;
        assert_eq!(r.status, 412, "{bad}: {}", r.body);
    }
    e.gw.shutdown().await;
}

#[tokio::test]
async fn batch_bad_input_accepts_nothing() {
    let e = env().await;
    let cases: Vec<(Value, u16)> = vec![
        (json!({"messages": "x"}), 400),
        (json!({"globals": {"from": "a"}}), 400),
        (
            json!({"messages": [{"to": "1", "content": "x"}], "foo": 1}),
            400,
        ),
        (
            json!({"messages": [{"to": "1", "content": "x", "foo": "bar"}]}),
            400,
        ),
        (json!({"messages": [{"to": {"a": 1}, "content": "x"}]}), 400),
        (
            json!({"messages": [{"to": ["1", "abc"], "content": "x"}]}),
            400,
        ),
        (json!({"messages": [{"to": "1"}]}), 400),
        (json!({"messages": [{"to": "1", "content": "x"}, 5]}), 400),
        (
            json!({"messages": [{"to": "1", "content": "x"}], "batch_config": {"callback_url": "ftp://x"}}),
            400,
        ),
        (
            json!({"messages": [{"to": "1", "content": "x"}], "batch_config": {"retry": 1}}),
            400,
        ),
        (json!({"messages": [{"to": "1", "content": ["x"]}]}), 400),
    ];
    for (body, status) in cases {
        let r = e.post("/secure/sendbatch", BULK, &body).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert!(r.json().get("message").is_some(), "{}", r.body);
    }
    let r = request(
        e.rest(),
        "POST",
        "/secure/sendbatch",
        BULK,
        Some(b"{\"messages\": ["),
    )
    .await;
    assert_eq!(r.status, 412);
    let r = e
        .post("/secure/sendbatch", None, &json!({"messages": []}))
        .await;
    assert_eq!(r.status, 401);
    // 1,000,000 recipients (under the body limit): over max_batch_recipients.
    let mut big = String::from("{\"messages\": [{\"content\": \"x\", \"to\": [");
    for i in 0..1_000_000 {
        if i > 0 {
            big.push(',');
        }
        big.push_str(&(i % 10).to_string());
    }
    big.push_str("]}]}");
    let r = request(
        e.rest(),
        "POST",
        "/secure/sendbatch",
        BULK,
        Some(big.as_bytes()),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("max_batch_recipients"), "{}", r.body);
    // 10 MB: over max_body_bytes.
    let huge = format!(
        "{{\"messages\": [], \"pad\": \"{}\"}}",
        "x".repeat(10 * 1024 * 1024)
    );
    let r = request(
        e.rest(),
        "POST",
        "/secure/sendbatch",
        BULK,
        Some(huge.as_bytes()),
    )
    .await;
    assert_eq!(r.status, 413);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(e.sim.submit_count(), 0, "nothing half-accepted");
    let q =
        e.gw.broker
            .stats(smsgate::batch::BATCH_QUEUE)
            .await
            .expect("stats");
    assert_eq!((q.ready, q.delayed, q.unacked), (0, 0, 0), "no job stored");
    e.gw.shutdown().await;
}

#[tokio::test]
async fn batch_survives_restart() {
    // 5 msg/s: the batch is still running when the gateway stops.
    let mut e = env_with(&format!("{REST}batch_throughput = 5.0\n")).await;
    let tos: Vec<String> = (0..60).map(|i| format!("4400000{i:04}")).collect();
    let r = e
        .post(
            "/secure/sendbatch",
            BULK,
            &json!({"messages": [{"to": tos, "content": "durable"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["data"]["batchId"]
        .as_str()
        .expect("id")
        .to_string();
    wait_received(&e, 3, "the first recipients").await;
    e.restart().await;
    let before = e.sim.submit_count();
    assert!(before < 60, "stopped before the end ({before})");
    let r = e.get(&format!("/secure/batch/{id}"), BULK).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sim = e.sim.clone();
    let want = tos.clone();
    wait_for(20, "every recipient after the restart", move || {
        let got = sim.received();
        want.iter()
            .all(|t| got.iter().any(|r| &r.destination_addr == t))
    })
    .await;
    let dist = e.sim.received().len();
    assert!(dist <= 60 + 64, "at most a window resent ({dist})");
    let mut d = Value::Null;
    for _ in 0..100 {
        d = e.get(&format!("/secure/batch/{id}"), BULK).await.json()["data"].clone();
        if d["status"] == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(d["status"], "done", "{d}");
    assert_eq!(d["messageCount"], 60);
    assert_eq!(d["sent"], 60);
    e.gw.shutdown().await;
}

#[tokio::test]
async fn smstools_api() {
    let e = env().await;
    let lvv = Some(("lvv", "SecretPAss"));
    let r = e
        .post(
            "/api/v1.0/sms/outgoing",
            lvv,
            &json!({"text": "Hi, Jack!", "mobiles": ["79680000000", "79160000000"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let j = r.json();
    assert_eq!(j["parts_count"], 1);
    assert_eq!(j["sent_text"], "Hi, Jack!");
    let id = j["message_id"]["79160000000"]
        .as_str()
        .expect("id")
        .to_string();
    assert!(j["message_id"]["79680000000"].is_string());
    wait_received(&e, 2, "both numbers").await;
    let rest = e.rest();
    let target = format!("/api/v1.0/sms/sent/{id}");
    let mut r = request(rest, "GET", &target, lvv, None).await;
    for _ in 0..100 {
        if r.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        r = request(rest, "GET", &target, lvv, None).await;
    }
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["From"], "lvv");
    assert_eq!(j["To"], "79160000000");
    assert_eq!(j["message_id"], id.as_str());
    let sent = j["Sent"].as_str().expect("Sent");
    assert_eq!(sent.len(), 17, "YY-MM-DD hh:mm:ss: {sent}");
    let r = e.get("/api/v1.0/sms/sent/smsgw.http.TqvEdt", lvv).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), json!({"error": "Not found"}));
    // Another user's message is not theirs to read.
    let r = e.get(&target, FOO).await;
    assert_eq!(r.status, 404);
    // Long text: two parts.
    let r = e
        .post(
            "/api/v1.0/sms/outgoing",
            FOO,
            &json!({"text": "x".repeat(200), "mobiles": ["33600000001"]}),
        )
        .await;
    assert_eq!((r.status, r.json()["parts_count"].as_u64()), (201, Some(2)));
    // MOBILE_PERMS: lvv may send to 79680000000 and 7916* only.
    let r = e
        .post(
            "/api/v1.0/sms/outgoing",
            lvv,
            &json!({"text": "no", "mobiles": ["79160000001", "33600000000"]}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    for bad in [
        json!({"text": "x"}),
        json!({"mobiles": ["1"]}),
        json!({"text": "x", "mobiles": "1"}),
        json!({"text": "x", "mobiles": []}),
        json!({"text": 5, "mobiles": ["1"]}),
        json!({"text": "x", "mobiles": ["abc"]}),
        json!({"text": "x", "mobiles": ["1"], "extra": 1}),
    ] {
        let r = e.post("/api/v1.0/sms/outgoing", lvv, &bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    let r = request(rest, "POST", "/api/v1.0/sms/outgoing", lvv, Some(b"{oops")).await;
    assert_eq!(r.status, 400);
    let r = e
        .post(
            "/api/v1.0/sms/outgoing",
            None,
            &json!({"text": "x", "mobiles": ["1"]}),
        )
        .await;
    assert_eq!(r.status, 401);
    let r = e
        .post(
            "/api/v1.0/sms/outgoing",
            Some(("lvv", "wrong")),
            &json!({"text": "x", "mobiles": ["1"]}),
        )
        .await;
    assert_eq!(r.status, 401);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(e.sim.submit_count(), 4, "refused requests sent nothing");
    e.gw.shutdown().await;
}

fn spec_job() -> Value {
    json!({
        "options": {
            "src": "retarusREST",
            "encoding": "utf-16",
            "billcode": "Billingcode",
            "statusRequested": true,
            "flash": false,
            "customerRef": "JOBREF.000001",
            "validityMin": 5,
            "maxParts": 2,
            "invalidCharacters": "TRANSLITERATE",
            "qos": "EXPRESS",
            "jobPeriod": "2018-09-24T11:00:00.000+02:00",
            "duplicateDetection": false,
            "blackoutPeriods": [
                "2018-09-24T12:00:00.000+02:00/2018-09-24T13:00:00.000+02:00",
                "2018-09-24T18:00:00.000+02:00/2018-09-25T08:00:00.000+02:00"
            ]
        },
        "messages": [
            {"text": "Hello Germany...", "recipients": [
                {"dst": "+4917615500001", "customerRef": "RECIREF.001"},
                {"dst": "+4917500001", "customerRef": "RECIREF.002", "blackoutPeriods": [
                    "2018-09-24T12:15:00.000+02:00/2018-09-24T13:00:00.000+02:00",
                    "2018-09-24T20:00:00.000+02:00/2018-09-25T10:00:00.000+02:00"]}
            ]},
            {"text": "Hello USA...", "recipients": [
                {"dst": "+17615500002", "customerRef": "RECIREF.003"},
                {"dst": "+17500002", "customerRef": "RECIREF.004"},
                {"dst": "+17500003", "customerRef": "RECIREF.005"}
            ]}
        ]
    })
}

async fn sms_report(e: &Env, job: &str) -> Vec<Value> {
    let r = e.get(&format!("/rest/v1/sms?jobId={job}"), FOO).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json().as_array().expect("array").clone()
}

#[tokio::test]
async fn retarus_job_reports_follow_receipts() {
    let e = env().await;
    e.sim.set_receipts(ReceiptKnobs {
        delay: Some(Duration::from_millis(10)),
        hold: true,
        ..Default::default()
    });
    let r = e.post("/rest/v1/jobs", FOO, &spec_job()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let job = r.json()["jobId"].as_str().expect("jobId").to_string();
    assert!(job.starts_with("J."), "{job}");
    wait_received(&e, 5, "five recipients").await;
    let got = e.sim.received();
    let de = got
        .iter()
        .find(|m| m.destination_addr == "4917615500001")
        .expect("de");
    assert_eq!(de.data_coding, 8, "utf-16");
    assert_eq!(de.source_addr, "retarusREST");
    assert_eq!(de.registered_delivery, 1, "statusRequested");
    assert_eq!(de.priority_flag, 1, "EXPRESS");
    assert!(!de.validity_period.is_empty(), "validityMin");
    let mut text = vec![];
    for c in "Hello Germany...".encode_utf16() {
        text.extend(c.to_be_bytes());
    }
    assert_eq!(de.short_message, text);
    // Accepted, receipts held: OPEN / SUC_ACC.
    let mut rows = sms_report(&e, &job).await;
    for _ in 0..100 {
        if rows.iter().all(|r| r["status"] == "SUC_ACC") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        rows = sms_report(&e, &job).await;
    }
    assert_eq!(rows.len(), 5);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["processStatus"], "OPEN", "{r}");
        assert_eq!(r["status"], "SUC_ACC", "{r}");
        assert_eq!(r["reason"], "Accepted.");
        assert!(r["sentTs"].is_string());
        assert!(r.get("finishedTs").is_none());
        assert_eq!(r["customerRef"], format!("RECIREF.{:03}", i + 1));
    }
    assert_eq!(rows[0]["dst"], "+4917615500001");
    let r = e.get(&format!("/rest/v1/jobs/{job}"), FOO).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rep = r.json();
    assert_eq!(rep["jobId"], job.as_str());
    assert_eq!(rep["src"], "retarusREST");
    assert_eq!(rep["encoding"], "utf-16");
    assert_eq!(rep["billcode"], "Billingcode");
    assert_eq!(rep["statusRequested"], true);
    assert_eq!(rep["flash"], false);
    assert_eq!(rep["validityMin"], 5);
    assert_eq!(rep["customerRef"], "JOBREF.000001");
    assert_eq!(rep["qos"], "EXPRESS");
    assert!(rep["receiptTs"].is_string());
    assert!(rep.get("finishedTs").is_none(), "still open");
    let ids: Vec<&str> = rep["recipientIds"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(ids.len(), 5);
    assert_eq!(ids[0], rows[0]["smsId"].as_str().expect("smsId"));
    // The simulator's receipts arrive: DONE / SUC_FIN.
    assert_eq!(e.sim.release_receipts(16).await, 5);
    let mut rows = sms_report(&e, &job).await;
    for _ in 0..100 {
        if rows.iter().all(|r| r["processStatus"] == "DONE") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        rows = sms_report(&e, &job).await;
    }
    for r in &rows {
        assert_eq!(r["processStatus"], "DONE", "{r}");
        assert_eq!(r["status"], "SUC_FIN", "{r}");
        assert_eq!(r["reason"], "Delivered to destination.");
        assert!(r["finishedTs"].is_string());
    }
    let rep = e.get(&format!("/rest/v1/jobs/{job}"), FOO).await.json();
    assert!(rep["finishedTs"].is_string(), "{rep}");
    // Listing: open / finished, limits.
    let r = e.get("/rest/v1/jobs?jobIdsOnly=true&open=false", FOO).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!([{ "jobId": job }]));
    let r = e.get("/rest/v1/jobs?open=true", FOO).await;
    assert_eq!(r.json(), json!([]));
    let r = e.get("/rest/v1/jobs?limit=1&offset=1", FOO).await;
    assert_eq!(r.json(), json!([]));
    let r = e
        .get("/rest/v1/jobs?fromTs=2018-09-01T00:00:00.000%2B02:00&toTs=2018-09-30T00:00:00.000%2B02:00", FOO)
        .await;
    assert_eq!((r.status, r.json()), (200, json!([])));
    for bad in [
        "fromTs=2018-01-01T00:00:00Z&toTs=2018-03-01T00:00:00Z",
        "fromTs=2018-03-01T00:00:00Z&toTs=2018-01-01T00:00:00Z",
        "limit=0",
        "limit=1001",
        "jobIdsOnly=false",
        "fromTs=yesterday",
    ] {
        let r = e.get(&format!("/rest/v1/jobs?{bad}"), FOO).await;
        assert_eq!(r.status, 400, "{bad}");
    }
    let r = e.get(&format!("/rest/v1/jobs/{job}"), BULK).await;
    assert_eq!(r.status, 404, "another user's job");
    let r = e.get("/rest/v1/sms", FOO).await;
    assert_eq!(r.status, 400);
    let r = e.get("/rest/v1/version", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["versionInfo"], "REST Interface");
    e.gw.shutdown().await;
}

#[tokio::test]
async fn retarus_options_and_errors() {
    let e = env().await;
    let job = |text: &str, options: Value| json!({"options": options, "messages": [{"text": text, "recipients": [{"dst": "+4917600000001"}]}]});
    // Duplicate detection: the same job twice → 409.
    let d = job("dup", json!({"duplicateDetection": true}));
    let r = e.post("/rest/v1/jobs", BULK, &d).await;
    assert_eq!(r.status, 201);
    let r = e.post("/rest/v1/jobs", BULK, &d).await;
    assert_eq!((r.status, r.body.as_str()), (409, ""));
    // Without duplicate detection the same job is accepted again.
    let n = job("dup", json!({}));
    assert_eq!(e.post("/rest/v1/jobs", BULK, &n).await.status, 201);
    assert_eq!(e.post("/rest/v1/jobs", BULK, &n).await.status, 201);
    // 400: bad options; 422: bad content.
    for (body, status) in [
        (job("x", json!({"qos": "FAST"})), 400),
        (job("x", json!({"encoding": "latin9"})), 400),
        (job("x", json!({"validityMin": "5"})), 400),
        (job("x", json!({"jobPeriod": "tomorrow"})), 400),
        (
            job("x", json!({"blackoutPeriods": ["2018-09-24T12:00:00Z"]})),
            400,
        ),
        (job("x", json!({"unknown": 1})), 400),
        (json!({"options": {}, "messages": []}), 422),
        (json!({"options": {}}), 422),
        (job("", json!({})), 422),
        (
            job("emoji \u{1F600}", json!({"invalidCharacters": "REFUSE"})),
            422,
        ),
        (job(&"x".repeat(400), json!({"maxParts": 2})), 422),
        (
            json!({"messages": [{"text": "x", "recipients": [{"dst": "abc"}]}]}),
            422,
        ),
        (json!({"messages": [{"text": "x", "recipients": []}]}), 422),
        (json!([1]), 400),
    ] {
        let r = e.post("/rest/v1/jobs", BULK, &body).await;
        assert_eq!(r.status, status, "{body}");
    }
    let r = request(e.rest(), "POST", "/rest/v1/jobs", BULK, Some(b"{")).await;
    assert_eq!(r.status, 400);
    let r = e.post("/rest/v1/jobs", None, &n).await;
    assert_eq!((r.status, r.body.as_str()), (401, ""));
    // TRANSLITERATE sends what REFUSE refuses; flash sets message class 0.
    let r = e
        .post(
            "/rest/v1/jobs",
            BULK,
            &json!({"options": {"invalidCharacters": "TRANSLITERATE", "flash": true}, "messages": [{"text": "Grüße – ok", "recipients": [{"dst": "+4917600000009"}]}]}),
        )
        .await;
    assert_eq!(r.status, 201);
    let sim = e.sim.clone();
    wait_for(15, "the transliterated message", move || {
        sim.received()
            .iter()
            .any(|m| m.destination_addr == "4917600000009")
    })
    .await;
    let m = e
        .sim
        .received()
        .into_iter()
        .find(|m| m.destination_addr == "4917600000009")
        .expect("msg");
    assert_eq!(m.data_coding, 0x10, "GSM, class 0");
    e.gw.shutdown().await;
}

#[tokio::test]
async fn retarus_rate_limit_429() {
    let e = env_with(&format!("{REST}retarus_max_requests_per_10s = 3\n")).await;
    let ok = json!({"messages": [{"text": "rate", "recipients": [{"dst": "+4917600000201"}]}]});
    let rl = Some(("rl", "rlpwd"));
    for _ in 0..3 {
        assert_eq!(e.post("/rest/v1/jobs", rl, &ok).await.status, 201);
    }
    let r = e.post("/rest/v1/jobs", rl, &ok).await;
    assert_eq!((r.status, r.body.as_str()), (429, ""));
    // Another user has its own budget; reports are not rate limited.
    assert_eq!(e.post("/rest/v1/jobs", FOO, &ok).await.status, 201);
    assert_eq!(e.get("/rest/v1/jobs", rl).await.status, 200);
    e.gw.shutdown().await;
}

#[tokio::test]
async fn retarus_blackout_delays_a_recipient() {
    let e = env().await;
    let now = time::OffsetDateTime::now_utc();
    let fmt = &time::format_description::well_known::Rfc3339;
    let from = (now - time::Duration::seconds(60))
        .format(fmt)
        .expect("fmt");
    let until = (now + time::Duration::seconds(3)).format(fmt).expect("fmt");
    let r = e
        .post(
            "/rest/v1/jobs",
            FOO,
            &json!({"messages": [{"text": "hi", "recipients": [
                {"dst": "+4917600000101"},
                {"dst": "+4917600000102", "blackoutPeriods": [format!("{from}/{until}")]}
            ]}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let job = r.json()["jobId"].as_str().expect("id").to_string();
    let sim = e.sim.clone();
    wait_for(15, "the first recipient", move || {
        sim.received()
            .iter()
            .any(|m| m.destination_addr == "4917600000101")
    })
    .await;
    assert_eq!(e.received_to("4917600000102"), 0, "in its blackout");
    let rows = sms_report(&e, &job).await;
    assert_eq!(rows[1]["processStatus"], "OPEN");
    let sim = e.sim.clone();
    wait_for(15, "the delayed recipient", move || {
        sim.received()
            .iter()
            .any(|m| m.destination_addr == "4917600000102")
    })
    .await;
    // A job-wide blackout holds every recipient; jobPeriod in the future holds the job.
    let now = time::OffsetDateTime::now_utc();
    let until = (now + time::Duration::seconds(3)).format(fmt).expect("fmt");
    let later = (now + time::Duration::seconds(3)).format(fmt).expect("fmt");
    let r = e
        .post(
            "/rest/v1/jobs",
            FOO,
            &json!({"options": {"jobPeriod": later}, "messages": [{"text": "hi", "recipients": [{"dst": "+4917600000103"}]}]}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = e
        .post(
            "/rest/v1/jobs",
            FOO,
            &json!({"options": {"blackoutPeriods": [format!("{from}/{until}")]}, "messages": [{"text": "hi", "recipients": [{"dst": "+4917600000104"}]}]}),
        )
        .await;
    assert_eq!(r.status, 201);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        e.received_to("4917600000103") + e.received_to("4917600000104"),
        0
    );
    let sim = e.sim.clone();
    wait_for(15, "the held jobs", move || {
        let g = sim.received();
        ["4917600000103", "4917600000104"]
            .iter()
            .all(|t| g.iter().any(|m| m.destination_addr == *t))
    })
    .await;
    e.gw.shutdown().await;
}

#[tokio::test]
async fn openapi_document_is_served() {
    let e = env().await;
    let r = e.get("/openapi.json", None).await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap_or("").starts_with("3."));
    let on_disk: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json"))
            .expect("docs/openapi.json"),
    )
    .expect("json");
    assert_eq!(doc, on_disk);
    for p in [
        "/ping",
        "/secure/send",
        "/secure/sendbatch",
        "/secure/balance",
        "/secure/rate",
        "/api/v1.0/sms/outgoing",
        "/api/v1.0/sms/sent/{message_id}",
        "/rest/v1/jobs",
        "/rest/v1/jobs/{jobId}",
        "/rest/v1/sms",
        "/rest/v1/version",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} documented");
    }
    e.gw.shutdown().await;
}

/// `batch_max_backlog`: while the connector cannot send, a large batch stops expanding once
/// its connector's queue holds that many ready messages (plus the batch's window and one
/// check interval); the rest stays in the durable batch and is sent once the SMSC is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_pauses_at_batch_max_backlog_while_its_connector_cannot_send() {
    use smsgate::simulator::SmscFaults;
    let e = env_with(&REST.replace(
        "max_batch_recipients = 200000",
        "max_batch_recipients = 200000\nbatch_max_backlog = 50\nbatch_window = 16",
    ))
    .await;
    // The SMSC drops the session and refuses new binds: nothing leaves the queue.
    e.sim.set_faults(SmscFaults {
        refuse_binds: 0x0D,
        flap_ms: 1,
        ..Default::default()
    });
    let gw = e.gw.clone();
    wait_for(10, "the connector unbound", move || {
        gw.runtime.stats.smppc("sim").bound_count.get() == 0
    })
    .await;
    let to: Vec<String> = (0..600).map(|i| format!("3361{i:07}")).collect();
    let r = e
        .post(
            "/secure/sendbatch",
            BULK,
            &json!({"messages": [{"to": to, "content": "backlog"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut most = 0;
    for _ in 0..10 {
        let s =
            e.gw.broker
                .stats(&smsgate::broker::submit_queue("sim"))
                .await
                .expect("queue stats");
        most = most.max(s.ready);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // 50 ready, then at most one check interval (32) and the window (16) more.
    assert!(
        (50..=50 + 32 + 16).contains(&most),
        "{most} ready with batch_max_backlog = 50"
    );
    e.sim.set_faults(SmscFaults::default());
    let sim = e.sim.clone();
    wait_for(60, "all 600 at the SMSC once it is back", move || {
        sim.received()
            .iter()
            .filter(|r| r.destination_addr.starts_with("3361"))
            .count()
            >= 600
    })
    .await;
    let sent = e
        .sim
        .received()
        .iter()
        .filter(|r| r.destination_addr.starts_with("3361"))
        .count();
    assert_eq!(sent, 600, "each recipient once");
}
