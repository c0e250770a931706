//! The management API (`[admin]`): accounts, tokens and roles, the Host check and the login
//! limit, every section's objects added, replaced and removed with the same checks as the
//! configuration file, connectors started and stopped, queues, profiles, the audit log; and a
//! change made through the API seen in jCli and the other way round.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::common::*;
use serde_json::{json, Value};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn admin_section() -> String {
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(TOKEN.as_bytes()));
    format!(
        r#"
[admin]
enabled = true
bind = "127.0.0.1"
port = 0
login_failures_per_minute = 3
[[admin.accounts]]
name = "root"
password = "rootpw"
role = "admin"
[[admin.accounts]]
name = "ops"
password = "opspw"
role = "operator"
[[admin.accounts]]
name = "viewer"
password = "viewerpw"
role = "read-only"
[[admin.tokens]]
name = "deploy"
sha256 = "{hash}"
role = "read-only"
"#
    )
}

/// One request with `Host: host`; (status, JSON body or `null`).
async fn call_host(
    addr: SocketAddr,
    host: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = vec![];
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    call_host(addr, "127.0.0.1", method, path, token, body.as_ref()).await
}

async fn login(addr: SocketAddr, name: &str, password: &str) -> String {
    let (st, v) = call(
        addr,
        "POST",
        "/api/v1/login",
        None,
        Some(json!({"name": name, "password": password})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    v["token"].as_str().expect("token").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_tokens_roles_the_host_check_and_the_login_limit() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = config_toml(dir.path(), 0, sim.addr.port()) + &admin_section();
    let gw = gateway(load(&cfg, dir.path())).await;
    let api = gw.admin_addr().expect("admin listener");
    assert!(api.ip().is_loopback());

    // No credentials, a wrong token, a foreign Host.
    let (st, v) = call(api, "GET", "/api/v1/users", None, None).await;
    assert_eq!(st, 401, "{v}");
    assert!(v["error"].as_str().unwrap_or("").contains("Bearer"));
    assert_eq!(
        call(api, "GET", "/api/v1/users", Some("nope"), None)
            .await
            .0,
        401
    );
    let (st, v) = call_host(
        api,
        "rebound.example:8991",
        "GET",
        "/api/v1/whoami",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(st, 421, "{v}");

    // The configured token: read-only.
    let (st, v) = call(api, "GET", "/api/v1/whoami", Some(TOKEN), None).await;
    assert_eq!(
        (st, v["name"].as_str(), v["role"].as_str()),
        (200, Some("deploy"), Some("read-only"))
    );
    let (st, users) = call(api, "GET", "/api/v1/users", Some(TOKEN), None).await;
    assert_eq!(st, 200);
    let foo = users
        .as_array()
        .and_then(|a| a.iter().find(|u| u["username"] == "foo"))
        .expect("foo");
    assert!(foo.get("password").is_none(), "no password shown: {foo}");
    assert_eq!(foo["uid"], "foo");
    let (st, v) = call(
        api,
        "POST",
        "/api/v1/groups",
        Some(TOKEN),
        Some(json!({"gid": "g9"})),
    )
    .await;
    assert_eq!(st, 403, "{v}");

    // Operator: starts and stops connectors, may not change users.
    let ops = login(api, "ops", "opspw").await;
    let (st, v) = call(api, "POST", "/api/v1/smppccs/sim/stop", Some(&ops), None).await;
    assert_eq!(st, 200, "{v}");
    let (_, status) = call(api, "GET", "/api/v1/status", Some(&ops), None).await;
    let sim_state = status["connectors"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["cid"] == "sim"))
        .expect("sim")
        .clone();
    assert_eq!(sim_state["started"], false, "{status}");
    assert_eq!(sim_state["state"], "stopped", "{status}");
    let binds = sim.stats().binds.load(Ordering::Relaxed);
    let (st, _) = call(api, "POST", "/api/v1/smppccs/sim/start", Some(&ops), None).await;
    assert_eq!(st, 200);
    wait_for(10, "sim bound again", || {
        sim.stats().binds.load(Ordering::Relaxed) > binds
    })
    .await;
    let (st, _) = call(api, "DELETE", "/api/v1/users/foo", Some(&ops), None).await;
    assert_eq!(st, 403);
    let (st, v) = call(
        api,
        "POST",
        "/api/v1/smppccs/nosuch/start",
        Some(&ops),
        None,
    )
    .await;
    assert_eq!(st, 404, "{v}");

    // Logout ends the session.
    assert_eq!(
        call(api, "POST", "/api/v1/logout", Some(&ops), None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(api, "GET", "/api/v1/whoami", Some(&ops), None).await.0,
        401
    );

    // Three failed logins from an address: the right password waits too.
    for _ in 0..3 {
        let (st, _) = call(
            api,
            "POST",
            "/api/v1/login",
            None,
            Some(json!({"name": "root", "password": "guess"})),
        )
        .await;
        assert_eq!(st, 401);
    }
    let (st, v) = call(
        api,
        "POST",
        "/api/v1/login",
        None,
        Some(json!({"name": "root", "password": "rootpw"})),
    )
    .await;
    assert_eq!(st, 429, "{v}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_go_through_the_config_checks_and_show_in_jcli_both_ways() {
    let sim = simulator().await;
    let other = simulator().await;
    let dir = tempfile::tempdir().expect("tmp");
    let http_port = free_port();
    let cfg = config_toml(dir.path(), http_port, sim.addr.port()) + &admin_section();
    let gw = gateway(load(&cfg, dir.path())).await;
    let api = gw.admin_addr().expect("admin listener");
    let jcli = gw.jcli_addr().expect("jcli");
    let http: SocketAddr = format!("127.0.0.1:{http_port}").parse().expect("addr");
    let root = login(api, "root", "rootpw").await;
    let (_, users_before) = call(api, "GET", "/api/v1/users", Some(&root), None).await;

    // Bad input: the field to blame, and nothing half-applied.
    let (st, v) = call(
        api,
        "POST",
        "/api/v1/users",
        Some(&root),
        Some(json!({"username": "new1", "password": "pw", "gid": "g1", "colour": "blue"})),
    )
    .await;
    assert_eq!((st, v["field"].as_str()), (400, Some("colour")), "{v}");
    let (st, v) = call(
        api,
        "POST",
        "/api/v1/users",
        Some(&root),
        Some(json!({"username": "new1", "password": "pw", "gid": "nosuchgroup"})),
    )
    .await;
    assert_eq!(st, 400, "{v}");
    assert!(
        v["error"].as_str().unwrap_or("").contains("nosuchgroup"),
        "{v}"
    );
    let (st, v) = call(
        api,
        "POST",
        "/api/v1/users",
        Some(&root),
        Some(json!({"username": "foo", "password": "pw", "gid": "g1"})),
    )
    .await;
    assert_eq!(st, 409, "{v}");
    let (st, v) = call(
        api,
        "POST",
        "/api/v1/smppccs",
        Some(&root),
        Some(json!({"cid": "bad", "host": "127.0.0.1", "port": 1, "window": 0})),
    )
    .await;
    assert_eq!((st, v["field"].as_str()), (400, Some("window")), "{v}");
    let (_, users_after) = call(api, "GET", "/api/v1/users", Some(&root), None).await;
    assert_eq!(
        users_before, users_after,
        "a refused change changed nothing"
    );

    // A group, a user, a connector and a route added through the API; the user sends through
    // the HTTP API with the password given, and the message leaves by the new connector.
    for (path, body) in [
        ("/api/v1/groups", json!({"gid": "g9"})),
        (
            "/api/v1/users",
            json!({"username": "apiuser", "password": "apipw", "gid": "g9"}),
        ),
        (
            "/api/v1/smppccs",
            json!({"cid": "other", "host": "127.0.0.1", "port": other.addr.port(), "con_fail_delay": 1, "start": true}),
        ),
        (
            "/api/v1/filters",
            json!({"fid": "to77", "type": "DestinationAddrFilter", "destination_addr": "^77"}),
        ),
        (
            "/api/v1/mtroutes",
            json!({"type": "StaticMTRoute", "order": 30, "connector": "smppc(other)", "filters": ["to77"]}),
        ),
    ] {
        let (st, v) = call(api, "POST", path, Some(&root), Some(body)).await;
        assert_eq!(st, 201, "{path}: {v}");
    }
    wait_for(10, "the new connector bound", || {
        other.stats().binds.load(Ordering::Relaxed) > 0
    })
    .await;
    let (st, body) = get(
        http,
        "/send?username=apiuser&password=apipw&to=7712345&content=via-api",
    )
    .await;
    assert_eq!(st, 200, "{body}");
    wait_for(10, "the message at the new connector", || {
        other.submit_count() == 1
    })
    .await;
    let (st, v) = call(api, "GET", "/api/v1/smppccs/other", Some(&root), None).await;
    assert_eq!((st, v["start"].as_bool()), (200, Some(true)), "{v}");
    // The counters: the send above is counted.
    let (st, stats) = call(api, "GET", "/api/v1/stats", Some(TOKEN), None).await;
    assert_eq!(st, 200, "{stats}");
    assert!(
        stats["httpapi_success_count"][0]["value"].as_f64() >= Some(1.0),
        "{}",
        stats["httpapi_success_count"]
    );
    // The route tester agrees with what happened, and names the default route otherwise.
    for (to, want) in [
        (
            "7712345",
            json!({"order": 30, "connector": "smppc(other)", "rate": 0.0}),
        ),
        (
            "33600000000",
            json!({"order": 0, "connector": "smppc(sim)", "rate": 0.0}),
        ),
    ] {
        let (st, v) = call(
            api,
            "POST",
            "/api/v1/route-test",
            Some(TOKEN),
            Some(json!({"username": "apiuser", "to": to})),
        )
        .await;
        assert_eq!((st, &v["route"]), (200, &want), "{to}: {v}");
    }
    let (st, v) = call(
        api,
        "POST",
        "/api/v1/route-test",
        Some(TOKEN),
        Some(json!({"username": "nobody", "to": "1"})),
    )
    .await;
    assert_eq!((st, v["field"].as_str()), (400, Some("username")), "{v}");

    // jCli sees what the API did...
    let out = jcli_run(jcli, "user -l").await;
    assert!(out.contains("apiuser"), "{out}");
    let out = jcli_run(jcli, "mtrouter -l").await;
    assert!(out.contains("smppc(other)"), "{out}");
    // ... and the API what jCli does.
    let answers = jcli_session(jcli, &["group -a", "gid g42", "ok", "smppccm -0 other"]).await;
    assert!(answers[2].contains("Successfully added"), "{answers:?}");
    let (st, v) = call(api, "GET", "/api/v1/groups/g42", Some(&root), None).await;
    assert_eq!(st, 200, "{v}");
    let (_, v) = call(api, "GET", "/api/v1/smppccs/other", Some(&root), None).await;
    assert_eq!(v["start"], false, "stopped in jCli: {v}");

    // Replace and remove; a replaced user keeps its password unless one is given.
    let (st, v) = call(
        api,
        "PUT",
        "/api/v1/users/apiuser",
        Some(&root),
        Some(json!({"gid": "g1"})),
    )
    .await;
    assert_eq!((st, v["gid"].as_str()), (200, Some("g1")), "{v}");
    let (st, _) = get(
        http,
        "/send?username=apiuser&password=apipw&to=33600000001&content=still",
    )
    .await;
    assert_eq!(st, 200);
    let (st, v) = call(
        api,
        "PUT",
        "/api/v1/users/apiuser",
        Some(&root),
        Some(json!({"uid": "someoneelse", "gid": "g1"})),
    )
    .await;
    assert_eq!((st, v["field"].as_str()), (400, Some("uid")), "{v}");
    let (st, _) = call(api, "DELETE", "/api/v1/mtroutes/30", Some(&root), None).await;
    assert_eq!(st, 200);
    let (st, _) = call(api, "DELETE", "/api/v1/mtroutes/30", Some(&root), None).await;
    assert_eq!(st, 404);
    // A filter still used by a route cannot go (the configuration's own check).
    let (st, v) = call(
        api,
        "POST",
        "/api/v1/mtroutes",
        Some(&root),
        Some(json!({"type": "StaticMTRoute", "order": 31, "connector": "smppc(other)", "filters": ["to77"]})),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = call(api, "DELETE", "/api/v1/filters/to77", Some(&root), None).await;
    assert_eq!(st, 400, "{v}");

    // A top-up is added to the ledger.
    let (st, v) = call(
        api,
        "POST",
        "/api/v1/users/bob/balance",
        Some(&root),
        Some(json!({"amount": 2.5, "sms_count": 10})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["balance"], 3.5, "{v}");
    assert_eq!(v["sms_count"], 15, "{v}");
    let (st, v) = call(
        api,
        "POST",
        "/api/v1/users/bob/balance",
        Some(&root),
        Some(json!({"amount": -1})),
    )
    .await;
    assert_eq!((st, v["field"].as_str()), (400, Some("amount")), "{v}");

    // Queues: a backlog on the stopped connector, peeked, moved, purged.
    let (st, body) = get(
        http,
        "/send?username=apiuser&password=apipw&to=7700001&content=waits",
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let (st, v) = call(api, "GET", "/api/v1/queues/other?peek=5", Some(&root), None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["ready"], 1, "{v}");
    assert_eq!(v["messages"][0]["to"], "7700001", "{v}");
    let (st, v) = call(
        api,
        "POST",
        "/api/v1/queues/other/move",
        Some(&root),
        Some(json!({"to": "nosuch"})),
    )
    .await;
    assert_eq!((st, v["field"].as_str()), (400, Some("to")), "{v}");
    let (st, v) = call(api, "POST", "/api/v1/queues/other/purge", Some(&root), None).await;
    assert_eq!((st, v["purged"].as_u64()), (200, Some(1)), "{v}");

    // Profiles: persist, change, load back.
    let (st, _) = call(
        api,
        "POST",
        "/api/v1/profiles/snap/persist",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(st, 200);
    let (st, _) = call(api, "DELETE", "/api/v1/groups/g42", Some(&root), None).await;
    assert_eq!(st, 200);
    let (st, _) = call(api, "POST", "/api/v1/profiles/snap/load", Some(&root), None).await;
    assert_eq!(st, 200);
    assert_eq!(
        call(api, "GET", "/api/v1/groups/g42", Some(&root), None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(
            api,
            "POST",
            "/api/v1/profiles/nosuch/load",
            Some(&root),
            None
        )
        .await
        .0,
        404
    );

    // The audit log: who did what, from where, passwords never.
    let (st, audit) = call(api, "GET", "/api/v1/audit?limit=1000", Some(&root), None).await;
    assert_eq!(st, 200);
    let entries = audit.as_array().expect("entries");
    let by = |source: &str, kind: &str, key: &str| {
        entries.iter().find(|e| {
            e["actor"]["source"] == source
                && e["changes"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["kind"] == kind && c["key"] == key))
        })
    };
    let added = by("api", "user", "apiuser").expect("the API's user addition");
    assert_eq!(added["actor"]["name"], "root");
    let jcli_group = by("jcli", "group", "g42").expect("jCli's group addition");
    assert_eq!(jcli_group["actor"]["name"], "jcliadmin");
    assert!(by("jcli", "smppcc.started", "other").is_some(), "{audit}");
    let text = audit.to_string();
    assert!(
        !text.contains("apipw") && !text.contains("argon2"),
        "{text}"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_refuses_to_listen_beyond_loopback() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = config_toml(dir.path(), 0, 1)
        + &admin_section().replace("bind = \"127.0.0.1\"", "bind = \"0.0.0.0\"");
    let path = dir.path().join("smsgate.toml");
    std::fs::write(&path, cfg).expect("config");
    let e = smsgate::load_config(Some(&path)).expect_err("refused");
    assert!(
        e.to_string().contains("admin.bind") && e.to_string().contains("loopback"),
        "{e}"
    );
}
