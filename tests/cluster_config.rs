//! Configuration shared by cluster nodes: a change made in jCli on node A is installed by
//! node B within a second (through the Redis store's change notifications), and a profile
//! persisted on A is in the shared store for every node; a change made through the
//! management API on one node shows in jCli on the other and the other way round, audited
//! on both with who made it.

use std::time::{Duration, Instant};

use crate::common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn node_config(dir: &std::path::Path, node: &str, prefix: &str, smsc: u16) -> String {
    format!(
        r#"
data_dir = "{}"
log = "warn"
[jcli]
port = 0
[rest-api]
port = 0
[http-api]
bind = "127.0.0.1"
port = 0
[smpp-server]
enabled = false
[broker]
url = "amqp://guest:guest@127.0.0.1:5672/%2f"
prefix = "{prefix}"
[store]
url = "redis://127.0.0.1:6379/"
prefix = "{prefix}"
[cluster]
node_id = "{node}"
[[groups]]
gid = "g1"
[[users]]
username = "foo"
password = "bar"
gid = "g1"
[[smppccs]]
cid = "sim"
host = "127.0.0.1"
port = {smsc}
"#,
        dir.display()
    )
}

async fn jcli(addr: std::net::SocketAddr, lines: &[&str]) -> String {
    let mut s = TcpStream::connect(addr).await.expect("jcli");
    let mut all = String::new();
    let mut script = vec!["jcliadmin", "jclipwd"];
    script.extend_from_slice(lines);
    let prompts = |t: &str| t.matches("jcli : ").count() + t.matches("> ").count();
    // Wait for `want` (login) or for one prompt per command typed so far, then type.
    for (i, l) in script.iter().enumerate() {
        let ready = |all: &str| match i {
            0 => all.ends_with("Username: "),
            1 => all.ends_with("Password: "),
            _ => prompts(all) >= i - 1,
        };
        read_until(&mut s, &mut all, ready).await;
        s.write_all(format!("{l}\r\n").as_bytes())
            .await
            .expect("write");
    }
    let n = script.len();
    read_until(&mut s, &mut all, |all: &str| {
        all.ends_with("jcli : ") && prompts(all) >= n - 1
    })
    .await;
    all
}

async fn read_until(s: &mut TcpStream, all: &mut String, done: impl Fn(&str) -> bool) {
    let mut buf = [0u8; 4096];
    while !done(all) {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no prompt; got {all:?}"))
            .expect("read");
        assert!(n > 0, "closed: {all:?}");
        all.push_str(&String::from_utf8_lossy(
            &buf[..n]
                .iter()
                .copied()
                .filter(|b| *b < 128)
                .collect::<Vec<_>>(),
        ));
    }
}

#[tokio::test]
async fn a_route_added_on_node_a_is_used_by_node_b_within_a_second() {
    let prefix = unique("cfg");
    let sim = simulator().await;
    let (da, db) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let a = gateway(load(
        &node_config(da.path(), "a", &prefix, sim.addr.port()),
        da.path(),
    ))
    .await;
    let b = gateway(load(
        &node_config(db.path(), "b", &prefix, sim.addr.port()),
        db.path(),
    ))
    .await;
    let send = "/send?username=foo&password=bar&to=33600000001&content=hi";
    let (st, body) = get(b.http_addr.expect("http"), send).await;
    assert_eq!(st, 412, "no route yet on node B: {body}");
    let out = jcli(
        a.jcli_addr().expect("jcli"),
        &[
            "mtrouter -a",
            "type DefaultRoute",
            "connector smppc(sim)",
            "rate 0",
            "ok",
        ],
    )
    .await;
    assert!(
        out.contains("Successfully added MTRoute [DefaultRoute] with order:0"),
        "{out}"
    );
    let added = Instant::now();
    let mut used = None;
    while added.elapsed() < Duration::from_secs(3) {
        if b.pipeline.mt_table.read().len() == 1 {
            used = Some(added.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let used = used.expect("node B installed the route");
    eprintln!("node B installed node A's route after {used:?}");
    assert!(used < Duration::from_secs(1), "took {used:?}");
    let (st, body) = get(b.http_addr.expect("http"), send).await;
    assert_eq!(st, 200, "node B routes with A's route: {body}");
    wait_for(15, "the message at the SMSC", || sim.submit_count() >= 1).await;
    // A persisted profile is in the shared store: B reads it.
    let out = jcli(a.jcli_addr().expect("jcli"), &["persist -p shared"]).await;
    assert!(
        out.contains("mtrouter configuration persisted (profile:shared)"),
        "{out}"
    );
    let p = smsgate::manage::read_profile(&*b.store, "shared")
        .await
        .expect("read")
        .expect("profile");
    assert_eq!(p.mtroutes.len(), 1);
    a.shutdown().await;
    b.shutdown().await;
}

/// A failover route on a node that does not hold a connector's lease still sees that
/// connector bound (on the node holding it) and picks it first; once it is stopped
/// cluster-wide, both nodes fail over to the next connector.
#[tokio::test]
async fn failover_routes_see_connectors_bound_on_other_nodes() {
    let prefix = unique("cfg");
    let (s1, s2) = (simulator().await, simulator().await);
    let (da, db) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let config = |dir: &std::path::Path, node: &str| {
        let base = node_config(dir, node, &prefix, s1.addr.port())
            .replace("[cluster]\n", "[cluster]\nlease_ttl_ms = 1000\n");
        format!(
            r#"{base}
[[smppccs]]
cid = "sim2"
host = "127.0.0.1"
port = {}
[[filters]]
fid = "all"
type = "TransparentFilter"
[[mtroutes]]
type = "FailoverMTRoute"
order = 10
connectors = ["smppc(sim)", "smppc(sim2)"]
filters = ["all"]
"#,
            s2.addr.port()
        )
    };
    let a = gateway(load(&config(da.path(), "a"), da.path())).await;
    let b = gateway(load(&config(db.path(), "b"), db.path())).await;
    wait_for(20, "both connectors bound somewhere", || {
        s1.stats().binds.load(std::sync::atomic::Ordering::Relaxed) >= 1
            && s2.stats().binds.load(std::sync::atomic::Ordering::Relaxed) >= 1
    })
    .await;
    let holds = |gw: &smsgate::app::Gateway, cid: &str| {
        gw.connectors
            .read()
            .get(cid)
            .is_some_and(|h| *h.state.borrow() == smsgate::smpp::client::ConnectorState::Bound)
    };
    assert!(
        !(holds(&a, "sim") && holds(&b, "sim")),
        "one node binds `sim`"
    );
    let available = |gw: &smsgate::app::Gateway, cid: &str| {
        use smsgate::routing::Availability;
        gw.availability
            .is_available(&smsgate::routing::ConnectorRef::Smppc(cid.into()))
    };
    // The node without `sim` sees it bound on the other node (notification or poll).
    wait_for(5, "`sim` available on both nodes", || {
        available(&a, "sim") && available(&b, "sim")
    })
    .await;
    let send = "/send?username=foo&password=bar&to=33600000001&content=hi";
    for gw in [&a, &b] {
        let addr = gw.http_addr.expect("http");
        let t = Instant::now();
        loop {
            let (st, body) = get(addr, send).await;
            if st == 200 {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(3),
                "no route on a node without `sim` bound locally: {st} {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let t = Instant::now();
    while s1.submit_count() + s2.submit_count() < 2 && t.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        (s1.submit_count(), s2.submit_count()),
        (2, 0),
        "the failover route picked `sim` on both nodes (a holds sim: {}, b holds sim: {})",
        holds(&a, "sim"),
        holds(&b, "sim")
    );

    // Stop `sim` on every node: both fail over to `sim2`.
    let out = jcli(a.jcli_addr().expect("jcli"), &["smppccm -0 sim"]).await;
    assert!(
        out.contains("Successfully stopped connector id:sim"),
        "{out}"
    );
    wait_for(5, "`sim` unavailable on both nodes", || {
        !available(&a, "sim") && !available(&b, "sim")
    })
    .await;
    for gw in [&a, &b] {
        let (st, body) = get(gw.http_addr.expect("http"), send).await;
        assert_eq!(st, 200, "{body}");
    }
    wait_for(15, "both messages at the second connector's SMSC", || {
        s2.submit_count() >= 2
    })
    .await;
    assert_eq!(s1.submit_count(), 2);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn the_management_api_on_one_node_and_jcli_on_the_other_agree() {
    let prefix = unique("adm");
    let sim = simulator().await;
    let (da, db) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let admin = "[admin]\nenabled = true\nport = 0\n[[admin.accounts]]\nname = \"root\"\npassword = \"rootpw\"\nrole = \"admin\"\n";
    let a = gateway(load(
        &(node_config(da.path(), "a", &prefix, sim.addr.port()) + admin),
        da.path(),
    ))
    .await;
    let b = gateway(load(
        &node_config(db.path(), "b", &prefix, sim.addr.port()),
        db.path(),
    ))
    .await;
    let api = a.admin_addr().expect("admin");
    let request = |method: &'static str, path: &'static str, token: Option<String>, body: &str| {
        let body = body.to_string();
        async move {
            let mut s = TcpStream::connect(api).await.expect("connect");
            let auth = token
                .map(|t| format!("Authorization: Bearer {t}\r\n"))
                .unwrap_or_default();
            let req = format!(
                "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            s.write_all(req.as_bytes()).await.expect("write");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out).await;
            let status: u16 = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
            let json: serde_json::Value = out
                .split_once("\r\n\r\n")
                .and_then(|(_, b)| serde_json::from_str(b).ok())
                .unwrap_or_default();
            (status, json)
        }
    };
    let (st, v) = request(
        "POST",
        "/api/v1/login",
        None,
        r#"{"name":"root","password":"rootpw"}"#,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let token = v["token"].as_str().expect("token").to_string();
    // The API on A adds a user: B's jCli lists it, B authenticates it.
    let (st, v) = request(
        "POST",
        "/api/v1/users",
        Some(token.clone()),
        r#"{"username":"fromapi","password":"pw","gid":"g1"}"#,
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let deadline = Instant::now() + Duration::from_secs(3);
    while b.pipeline.auth.user("fromapi").is_none() {
        assert!(Instant::now() < deadline, "node B never got the user");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let out = jcli(b.jcli_addr().expect("jcli"), &["user -l"]).await;
    assert!(out.contains("fromapi"), "{out}");
    // B's jCli adds a group: A's API shows it.
    let out = jcli(
        b.jcli_addr().expect("jcli"),
        &["group -a", "gid fromjcli", "ok"],
    )
    .await;
    assert!(out.contains("Successfully added"), "{out}");
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let (st, _) = request("GET", "/api/v1/groups/fromjcli", Some(token.clone()), "").await;
        if st == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node A never got the group ({st})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Each node's audit log names who made each change, and where.
    let (_, audit) = request("GET", "/api/v1/audit", Some(token.clone()), "").await;
    let from_b = audit
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|e| e["changes"][0]["key"] == "fromjcli" && e["actor"]["source"] == "jcli")
        })
        .unwrap_or_else(|| panic!("no audit entry of B's change on A: {audit}"));
    assert_eq!(from_b["node"], "b", "{from_b}");
    let on_b = b.manager.audit().latest(100);
    let api_change = on_b
        .iter()
        .find(|e| e.changes.iter().any(|c| c.key == "fromapi"))
        .expect("A's change in B's audit log");
    assert_eq!(
        (
            api_change.actor.source.as_str(),
            api_change.actor.name.as_str()
        ),
        ("api", "root")
    );
    assert_eq!(api_change.node.as_deref(), Some("a"));
    a.shutdown().await;
    b.shutdown().await;
}

/// With `store.history_url`, the message journal of every node is one, in PostgreSQL: a
/// message accepted on node A and sent by node B (a process of its own, which holds the
/// connector) has one timeline, found from node A, each phase naming the node that recorded
/// it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_is_one_for_the_cluster_in_postgres() {
    let prefix = unique("jr");
    let sim = simulator().await;
    sim.set_receipts(smsgate::simulator::ReceiptKnobs {
        delay: Some(Duration::from_millis(200)),
        ..Default::default()
    });
    let (da, db) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let config = |dir: &std::path::Path, node: &str| {
        node_config(dir, node, &prefix, sim.addr.port()).replace(
            "[store]\n",
            "[store]\nhistory_url = \"postgres://postgres@127.0.0.1:5432/test\"\n",
        ) + "[journal]\nenabled = true\n[[mtroutes]]\ntype = \"DefaultRoute\"\norder = 0\nconnector = \"smppc(sim)\"\n"
    };
    // Node b is a process of its own (the spans of a process go to its own journal): it
    // binds `sim` before node a starts, so a sends nothing itself.
    let cfg_b = db.path().join("smsgate.toml");
    std::fs::write(&cfg_b, config(db.path(), "b")).expect("config");
    let _b = std::process::Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .arg("--config")
        .arg(&cfg_b)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(Guard)
        .expect("spawn node b");
    wait_for(20, "node b binds `sim`", || {
        sim.stats().binds.load(std::sync::atomic::Ordering::Relaxed) >= 1
    })
    .await;
    let bound = |gw: &smsgate::app::Gateway| {
        gw.connectors
            .read()
            .get("sim")
            .is_some_and(|h| *h.state.borrow() == smsgate::smpp::client::ConnectorState::Bound)
    };
    let a = gateway(load(&config(da.path(), "a"), da.path())).await;
    let (st, body) = get(
        a.http_addr.expect("http"),
        "/send?username=foo&password=bar&to=33600000042&content=hello&dlr=yes&dlr-url=http://127.0.0.1:9/x&dlr-level=2",
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let id = body
        .strip_prefix("Success \"")
        .and_then(|b| b.strip_suffix('"'))
        .unwrap_or_else(|| panic!("{body}"))
        .to_string();
    assert!(!bound(&a), "node a does not bind `sim` while b holds it");
    let ja = a.runtime.journal.clone().expect("journal");
    // Accepted on a, submitted (and its receipt taken) on b: one timeline on both nodes.
    let deadline = Instant::now() + Duration::from_secs(15);
    let timeline = loop {
        let (ja, id2) = (ja.clone(), id.clone());
        let t = tokio::task::spawn_blocking(move || ja.timeline(&id2))
            .await
            .expect("join")
            .expect("read");
        if let Some(t) = t
            .as_ref()
            .filter(|t| t.events.iter().any(|e| e.phase == "receipt"))
        {
            break t.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no whole timeline of {id} on a: {t:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // (The receipt's callback to a closed port comes after; it is not looked at.)
    let phases: Vec<(&str, Option<&str>)> = timeline
        .events
        .iter()
        .filter(|e| e.phase != "callback")
        .map(|e| (e.phase.as_str(), e.node.as_deref()))
        .collect();
    assert_eq!(
        phases,
        [
            ("accept", Some("a")),
            ("submit", Some("b")),
            ("receipt", Some("b"))
        ],
        "{timeline:?}"
    );
    let summary = timeline.message.expect("the message");
    assert_eq!(
        (summary.user.as_str(), summary.state.as_str()),
        ("foo", "receipt: DELIVRD")
    );
    // Search finds it by user and destination.
    let found = tokio::task::spawn_blocking(move || {
        ja.search(&smsgate_queue::journal::Query {
            user: Some("foo".into()),
            destination: Some("33600000042".into()),
            from: Some(summary.at),
            ..Default::default()
        })
    })
    .await
    .expect("join")
    .expect("search");
    assert!(found.iter().any(|m| m.id == id), "{found:?}");
    a.shutdown().await;
}
