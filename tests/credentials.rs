//! User credentials (`mt_messaging_cred`: authorizations, value filters, default values,
//! quotas; spec 3.11.1 tables 24-27) and billing (spec 3.12), over real sockets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use rusmpp::CommandStatus;
use smsgate::app::Gateway;

const USERS: &str = r#"
[[users]]
username = "foo"
password = "bar"
gid = "g1"
[[users]]
username = "nosend"
password = "pw"
gid = "g1"
mt_messaging_cred.authorization.http_send = false
[[users]]
username = "nobal"
password = "pw"
gid = "g1"
mt_messaging_cred.authorization.http_balance = "no"
[[users]]
username = "norate"
password = "pw"
gid = "g1"
mt_messaging_cred.authorization.http_rate = false
[[users]]
username = "nolong"
password = "pw"
gid = "g1"
mt_messaging_cred.authorization.http_long_content = false
[[users]]
username = "nodlrl"
password = "pw"
gid = "g1"
mt_messaging_cred.authorization.dlr_level = false
[[users]]
username = "nodlrm"
password = "pw"
gid = "g1"
mt_messaging_cred.authorization.http_dlr_method = false
[[users]]
username = "nosrc"
password = "pw"
gid = "g1"
mt_messaging_cred.authorization.src_addr = false
[[users]]
username = "noprio"
password = "pw"
gid = "g1"
mt_messaging_cred.authorization.priority = false
[[users]]
username = "novp"
password = "pw"
gid = "g1"
mt_messaging_cred.authorization.validity_period = false
[[users]]
username = "nohex"
password = "pw"
gid = "g1"
mt_messaging_cred.authorization.set_hex_content = false
[[users]]
username = "nosdt"
password = "pw"
gid = "g1"
mt_messaging_cred.authorization.schedule_delivery_time = false
[[users]]
username = "nosmpps"
password = "pw"
gid = "g1"
mt_messaging_cred.authorization.smpps_send = false
[[users]]
username = "vf"
password = "pw"
gid = "g1"
mt_messaging_cred.value_filter = { dst_addr = "^33", src_addr = "^JASMIN$", content = "^hello", priority = "^[0-1]$", validity_period = "^[0-9]{1,2}$" }
[[users]]
username = "dflt"
password = "pw"
gid = "g1"
mt_messaging_cred.defaultvalue.src_addr = "GW"
[[users]]
username = "tp"
password = "pw"
gid = "g1"
mt_messaging_cred.quota.http_throughput = 1
[[users]]
username = "r12"
password = "pw"
gid = "g1"
mt_messaging_cred.quota = { balance = 10.0 }
[[users]]
username = "r02"
password = "pw"
gid = "g1"
mt_messaging_cred.quota = { balance = 10.0, sms_count = 100 }
[[users]]
username = "cnt"
password = "pw"
gid = "g1"
mt_messaging_cred.quota = { sms_count = 6 }
[[users]]
username = "early"
password = "pw"
gid = "g1"
mt_messaging_cred.quota = { balance = 10.0, early_percent = 25 }
[[users]]
username = "early5"
password = "pw"
gid = "g1"
mt_messaging_cred.quota = { balance = 10.0, early_percent = 25 }
[[users]]
username = "conc"
password = "pw"
gid = "g1"
mt_messaging_cred.quota = { balance = 37.5 }
"#;

fn config(dir: &std::path::Path, smsc_port: u16) -> String {
    let mut routes = String::new();
    for (i, (user, rate)) in [
        ("r12", 1.2),
        ("r02", 0.2),
        ("early", 1.2),
        ("early5", 0.2),
        ("conc", 1.0),
    ]
    .iter()
    .enumerate()
    {
        routes.push_str(&format!(
            "[[filters]]\nfid = \"f{user}\"\ntype = \"UserFilter\"\nuid = \"{user}\"\n\
             [[mtroutes]]\ntype = \"StaticMTRoute\"\norder = {}\nconnector = \"smppc(sim)\"\n\
             filters = [\"f{user}\"]\nrate = {rate}\n",
            10 + i
        ));
    }
    format!(
        r#"
data_dir = "{}"
log = "warn"
[jcli]
port = 0
[http-api]
bind = "127.0.0.1"
port = 0
[rest-api]
bind = "127.0.0.1"
port = 0
[smpp-server]
bind = "127.0.0.1"
port = 0
[[groups]]
gid = "g1"
{USERS}
[[smppccs]]
cid = "sim"
host = "127.0.0.1"
port = {smsc_port}
con_fail_delay = 1
con_loss_delay = 1
requeue_delay = 1
[[mtroutes]]
type = "DefaultRoute"
order = 0
connector = "smppc(sim)"
{routes}
"#,
        dir.display()
    )
}

async fn setup() -> (
    tempfile::TempDir,
    Arc<Gateway>,
    smsgate::simulator::Simulator,
    SocketAddr,
) {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = simulator().await;
    let cfg = load(&config(dir.path(), sim.addr.port()), dir.path());
    let gw = gateway(cfg).await;
    let addr = gw.http_addr.expect("http");
    (dir, gw, sim, addr)
}

async fn balance(addr: SocketAddr, user: &str) -> (Option<f64>, Option<i64>) {
    let (st, body) = get(addr, &format!("/balance?username={user}&password=pw")).await;
    assert_eq!(st, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    (v["balance"].as_f64(), v["sms_count"].as_i64())
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

async fn wait_balance(addr: SocketAddr, user: &str, want: f64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (b, _) = balance(addr, user).await;
        if close(b, want) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("{user}: balance {b:?}, expected {want}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn denied(user: &str, why: &str) -> String {
    format!("Error \"Authorization failed for user [{user}] ({why}).\"")
}

#[tokio::test]
async fn http_authorizations() {
    let (_d, gw, _sim, addr) = setup().await;
    let long = "a".repeat(200);
    let cases: Vec<(&str, String, &str)> = vec![
        ("nosend", "content=hi".into(), "Cannot send MT messages"),
        (
            "nolong",
            format!("content={long}"),
            "Long content not authorized",
        ),
        (
            "nodlrl",
            "content=hi&dlr=yes&dlr-url=http%3A%2F%2F127.0.0.1%3A9%2F&dlr-level=2".into(),
            "Setting dlr level not authorized",
        ),
        (
            "nodlrm",
            "content=hi&dlr=yes&dlr-url=http%3A%2F%2F127.0.0.1%3A9%2F&dlr-method=POST".into(),
            "Setting dlr method not authorized",
        ),
        (
            "nosrc",
            "content=hi&from=123".into(),
            "Setting source address not authorized",
        ),
        (
            "noprio",
            "content=hi&priority=1".into(),
            "Setting priority not authorized",
        ),
        (
            "novp",
            "content=hi&validity-period=10".into(),
            "Setting validity period not authorized",
        ),
        (
            "nohex",
            "hex-content=6869".into(),
            "Setting hex content not authorized",
        ),
        (
            "nosdt",
            "content=hi&sdt=000000000100000R".into(),
            "Setting schedule delivery time not authorized",
        ),
    ];
    for (user, extra, why) in &cases {
        let (st, body) = get(
            addr,
            &format!("/send?username={user}&password=pw&to=33600000001&{extra}"),
        )
        .await;
        assert_eq!(
            (st, body.as_str()),
            (400, denied(user, why).as_str()),
            "{user}"
        );
        // What the authorization is not about still works for that user.
        if *user != "nosend" {
            let (st, body) = get(
                addr,
                &format!("/send?username={user}&password=pw&to=33600000001&content=hi"),
            )
            .await;
            assert_eq!(st, 200, "{user}: {body}");
        }
    }
    // A user with every default sets everything.
    let (st, body) = get(
        addr,
        &format!(
            "/send?username=foo&password=bar&to=33600000001&from=123&priority=1&validity-period=10\
             &sdt=000000000100000R&dlr=yes&dlr-url=http%3A%2F%2F127.0.0.1%3A9%2F&dlr-level=2\
             &dlr-method=POST&content={long}"
        ),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let (st, body) = get(
        addr,
        "/send?username=foo&password=bar&to=33600000001&hex-content=6869",
    )
    .await;
    assert_eq!(st, 200, "{body}");

    // http_balance, http_rate: JSON bodies.
    let (st, body) = get(addr, "/balance?username=nobal&password=pw").await;
    assert_eq!(st, 400);
    assert_eq!(
        body,
        "\"Authorization failed for user [nobal] (Cannot check balance).\""
    );
    let (st, body) = get(addr, "/rate?username=norate&password=pw&to=33600000001").await;
    assert_eq!(st, 400);
    assert_eq!(
        body,
        "\"Authorization failed for user [norate] (Cannot check rate).\""
    );
    // /rate does not need the send authorizations.
    let (st, body) = get(addr, "/rate?username=nosend&password=pw&to=33600000001").await;
    assert_eq!(st, 200, "{body}");
    let (st, body) = get(addr, "/balance?username=norate&password=pw").await;
    assert_eq!(st, 200, "{body}");
    // Authentication still comes first.
    let (st, body) = get(addr, "/send?username=nosend&password=wrong&to=1&content=hi").await;
    assert_eq!(
        (st, body.as_str()),
        (403, "Error \"Authentication failure for username:nosend\"")
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn value_filters_and_default_source() {
    let (_d, gw, sim, addr) = setup().await;
    let mismatch = |which: &str| {
        format!("Error \"Value filter failed for user [vf] ({which} filter mismatch).\"")
    };
    let cases = [
        ("to=44600000001&content=hello", "destination_address"),
        ("to=33600000001&from=OTHER&content=hello", "source_address"),
        (
            "to=33600000001&from=JASMIN&priority=2&content=hello",
            "priority",
        ),
        (
            "to=33600000001&from=JASMIN&validity-period=100&content=hello",
            "validity_period",
        ),
        ("to=33600000001&from=JASMIN&content=bye", "content"),
    ];
    for (q, which) in cases {
        let (st, body) = get(addr, &format!("/send?username=vf&password=pw&{q}")).await;
        assert_eq!((st, body.as_str()), (400, mismatch(which).as_str()), "{q}");
    }
    let (st, body) = get(
        addr,
        "/send?username=vf&password=pw&to=33600000001&from=JASMIN&priority=1&validity-period=10&content=hello+world",
    )
    .await;
    assert_eq!(st, 200, "{body}");
    // The filter sees `to` as given (Jasmin matches the raw argument): `+33` is not `^33`.
    let (st, body) = get(
        addr,
        "/send?username=vf&password=pw&to=%2B33600000009&content=hello",
    )
    .await;
    assert_eq!(
        (st, body.as_str()),
        (400, mismatch("destination_address").as_str())
    );
    // Without `from` no source filter applies.
    let (st, body) = get(
        addr,
        "/send?username=vf&password=pw&to=33600000002&content=hello",
    )
    .await;
    assert_eq!(st, 200, "{body}");

    // defaultvalue src_addr: applied only when the request has no source.
    let (st, body) = get(
        addr,
        "/send?username=dflt&password=pw&to=33600000003&content=hi",
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let (st, body) = get(
        addr,
        "/send?username=dflt&password=pw&to=33600000004&from=777&content=hi",
    )
    .await;
    assert_eq!(st, 200, "{body}");
    wait_for(10, "4 submits", || sim.submit_count() == 4).await;
    let rx = sim.received();
    let src = |to: &str| {
        rx.iter()
            .find(|r| r.destination_addr == to)
            .map(|r| r.source_addr.clone())
            .expect("received")
    };
    assert_eq!(src("33600000001"), "JASMIN");
    assert_eq!(src("33600000003"), "GW");
    assert_eq!(src("33600000004"), "777");
    gw.shutdown().await;
}

#[tokio::test]
async fn smpps_send_and_filters_over_smpp() {
    let (_d, gw, sim, _http) = setup().await;
    let addr = gw.smpp_addr().expect("smpp");
    let (s, _rx, st) = esme_bind(addr, "trx", "nosmpps", "pw").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    let r = s
        .request(submit_sm("33600000001", b"hi", 0))
        .await
        .expect("resp");
    assert_eq!(r.status(), CommandStatus::EsmeRsyserr);

    let (s, _rx, st) = esme_bind(addr, "trx", "vf", "pw").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    let r = s
        .request(submit_sm("44600000001", b"hello", 0))
        .await
        .expect("resp");
    assert_eq!(r.status(), CommandStatus::EsmeRinvdstadr);
    // submit_sm() sends from "1234": not ^JASMIN$.
    let r = s
        .request(submit_sm("33600000001", b"hello", 0))
        .await
        .expect("resp");
    assert_eq!(r.status(), CommandStatus::EsmeRinvsrcadr);

    // An empty source is filtered too (before the default value), as in Jasmin.
    let no_src = rusmpp::pdus::SubmitSm::builder()
        .destination_addr(smsgate::smpp::c_octet("33600000001"))
        .short_message(smsgate::smpp::octets(b"hello"))
        .build();
    let r = s.request(no_src).await.expect("resp");
    assert_eq!(r.status(), CommandStatus::EsmeRinvsrcadr);

    // set_priority over SMPP: a priority_flag other than 0.
    let (s, _rx, st) = esme_bind(addr, "trx", "noprio", "pw").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    let prio = rusmpp::pdus::SubmitSm::builder()
        .destination_addr(smsgate::smpp::c_octet("33600000001"))
        .priority_flag(rusmpp::values::PriorityFlag::from(1))
        .short_message(smsgate::smpp::octets(b"hi"))
        .build();
    let r = s.request(prio).await.expect("resp");
    assert_eq!(r.status(), CommandStatus::EsmeRsyserr);

    // http_send = false does not stop SMPP.
    let (s, _rx, st) = esme_bind(addr, "trx", "nosend", "pw").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    let r = s
        .request(submit_sm("33600000001", b"hi", 0))
        .await
        .expect("resp");
    assert_eq!(r.status(), CommandStatus::EsmeRok);
    wait_for(10, "submit", || sim.submit_count() == 1).await;
    gw.shutdown().await;
}

#[tokio::test]
async fn http_throughput() {
    let (_d, gw, _sim, addr) = setup().await;
    let q = "/send?username=tp&password=pw&to=33600000001&content=hi";
    let (st, body) = get(addr, q).await;
    assert_eq!(st, 200, "{body}");
    let (st, body) = get(addr, q).await;
    assert_eq!(
        (st, body.as_str()),
        (403, "Error \"User throughput exceeded\"")
    );
    let m = gw.stats.render_prometheus();
    assert!(m.contains("httpapi_throughput_error_count 1"), "{m}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (st, body) = get(addr, q).await;
    assert_eq!(st, 200, "{body}");
    // Other users are not limited.
    for _ in 0..5 {
        let (st, _) = get(addr, "/send?username=foo&password=bar&to=1&content=hi").await;
        assert_eq!(st, 200);
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn billing_spec_examples() {
    let (_d, gw, _sim, addr) = setup().await;
    // One SMS through a route rated 1.2: balance - 1.2.
    let (st, body) = get(
        addr,
        "/send?username=r12&password=pw&to=33600000001&content=hi",
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let (b, c) = balance(addr, "r12").await;
    assert!(close(b, 8.8), "{b:?}");
    assert_eq!(c, None);
    // Five SMS (parts) through a route rated 0.2: balance - 1, sms_count - 5.
    let long = "a".repeat(700);
    let (st, body) = get(
        addr,
        &format!("/rate?username=r02&password=pw&to=33600000001&content={long}"),
    )
    .await;
    assert_eq!(
        (st, body.as_str()),
        (200, "{\"unit_rate\": 0.2, \"submit_sm_count\": 5}")
    );
    let (st, body) = get(
        addr,
        &format!("/send?username=r02&password=pw&to=33600000001&content={long}"),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let (b, c) = balance(addr, "r02").await;
    assert!(close(b, 9.0), "{b:?}");
    assert_eq!(c, Some(95));
    // sms_count is decreased whether the route is rated or not.
    let (st, body) = get(
        addr,
        &format!("/send?username=cnt&password=pw&to=33600000001&content={long}"),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(balance(addr, "cnt").await, (None, Some(1)));
    let (st, body) = get(
        addr,
        "/send?username=cnt&password=pw&to=33600000001&content=hi",
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let (st, body) = get(
        addr,
        "/send?username=cnt&password=pw&to=33600000001&content=hi",
    )
    .await;
    assert_eq!(
        (st, body.as_str()),
        (
            403,
            "Error \"Cannot charge submit_sm, check RouterPB log file for details\""
        )
    );
    assert_eq!(balance(addr, "cnt").await, (None, Some(0)));
    gw.shutdown().await;
}

#[tokio::test]
async fn asynchronous_billing_early_percent() {
    // The SMSC is down at first: only the early part is charged.
    let port = free_port();
    let dir = tempfile::tempdir().expect("tmp");
    let gw = gateway(load(&config(dir.path(), port), dir.path())).await;
    let addr = gw.http_addr.expect("http");
    let (st, body) = get(
        addr,
        "/send?username=early&password=pw&to=33600000001&content=hi",
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let long = "a".repeat(700);
    let (st, body) = get(
        addr,
        &format!("/send?username=early5&password=pw&to=33600000001&content={long}"),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    // 1.2 x 25% = 0.3; 5 x 0.2 x 25% = 0.25.
    assert!(close(balance(addr, "early").await.0, 9.7));
    assert!(close(balance(addr, "early5").await.0, 9.75));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(close(balance(addr, "early").await.0, 9.7));
    // The SMSC comes up and acknowledges: the rest (0.9; 5 x 0.15 = 0.75) is charged.
    let sim = simulator_on(format!("127.0.0.1:{port}").parse().expect("addr")).await;
    wait_balance(addr, "early", 8.8).await;
    wait_balance(addr, "early5", 9.0).await;
    assert_eq!(sim.submit_count(), 6);
    gw.shutdown().await;
}

#[tokio::test]
async fn concurrent_sends_never_overdraw_and_the_balance_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = simulator().await;
    let toml = config(dir.path(), sim.addr.port());
    let gw = gateway(load(&toml, dir.path())).await;
    let addr = gw.http_addr.expect("http");
    // balance 37.5, rate 1.0: room for exactly 37 messages.
    let mut tasks = Vec::new();
    for i in 0..200 {
        tasks.push(tokio::spawn(async move {
            get(
                addr,
                &format!("/send?username=conc&password=pw&to=336{i:08}&content=hi"),
            )
            .await
        }));
    }
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        let (st, body) = t.await.expect("task");
        match st {
            200 => ok += 1,
            403 => {
                assert_eq!(
                    body,
                    "Error \"Cannot charge submit_sm, check RouterPB log file for details\""
                );
                refused += 1
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!((ok, refused), (37, 163));
    assert!(close(balance(addr, "conc").await.0, 0.5));
    wait_for(20, "37 submits", || sim.submit_count() == 37).await;
    gw.shutdown().await;
    drop(gw);

    // Restart on the same data: the ledger is kept (the config's quota does not reseed it).
    let gw = gateway(load(&toml, dir.path())).await;
    let addr = gw.http_addr.expect("http");
    assert!(close(balance(addr, "conc").await.0, 0.5));
    let (st, _) = get(
        addr,
        "/send?username=conc&password=pw&to=33600000001&content=hi",
    )
    .await;
    assert_eq!(st, 403);
    assert!(close(balance(addr, "conc").await.0, 0.5));
    gw.shutdown().await;
}

#[test]
fn bad_regex_is_refused_at_load_with_its_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let toml = format!(
        "data_dir = \"{}\"\n[jcli]\nport = 0\n[rest-api]\nport = 0\n[[groups]]\ngid = \"g1\"\n[[users]]\nusername = \"u\"\npassword = \"p\"\n\
         gid = \"g1\"\nmt_messaging_cred.value_filter.dst_addr = \"^(33\"\n",
        dir.path().display()
    );
    let path = dir.path().join("smsgate.toml");
    std::fs::write(&path, toml).expect("write");
    let e = smsgate::load_config(Some(&path))
        .expect_err("bad regex")
        .to_string();
    assert!(e.contains("dst_addr") && e.contains("invalid regex"), "{e}");
}
