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

/// One raw request; (status, head, JSON body or `null`).
async fn exchange<S>(mut s: S, req: String) -> (u16, String, Value)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = vec![];
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        status,
        head.to_string(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

/// A request with these extra header lines (`Cookie: ...`, `X-CSRF-Token: ...`).
fn request(method: &str, path: &str, headers: &[String], body: Option<&Value>) -> String {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.push_str(&body);
    req
}

async fn with_headers(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[String],
    body: Option<Value>,
) -> (u16, String, Value) {
    let s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    exchange(s, request(method, path, headers, body.as_ref())).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_session_needs_its_csrf_token_and_messages_are_searchable() {
    use smsgate::simulator::ReceiptKnobs;
    let sim = simulator().await;
    sim.set_receipts(ReceiptKnobs {
        delay: Some(Duration::from_millis(100)),
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("tmp");
    let toml = format!(
        "{}\n[journal]\nenabled = true\n{}",
        config_toml(dir.path(), free_port(), sim.addr.port()),
        admin_section()
    );
    let gw = gateway(load(&toml, dir.path())).await;
    let api = gw.admin_addr().expect("admin");

    // A login sent as a form or plain text (what another site's page can send without a
    // preflight) is refused.
    let body = json!({"name": "ops", "password": "opspw"}).to_string();
    let s = tokio::net::TcpStream::connect(api).await.expect("connect");
    let (st, head, v) = exchange(
        s,
        format!(
            "POST /api/v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert_eq!(st, 415, "{v}");
    assert!(!head.to_ascii_lowercase().contains("set-cookie"), "{head}");

    // Log in: a session cookie (HttpOnly, SameSite=Strict; not Secure without TLS) and the
    // session's CSRF token.
    let (st, head, v) = with_headers(
        api,
        "POST",
        "/api/v1/login",
        &[],
        Some(json!({"name": "ops", "password": "opspw"})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let set = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a session cookie")
        .to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && !set.contains("Secure"),
        "{set}"
    );
    let token = v["token"].as_str().expect("token").to_string();
    assert!(set.contains(&format!("smsgate_session={token}")), "{set}");
    let csrf = v["csrf"].as_str().expect("csrf").to_string();
    let cookie = format!("Cookie: theme=dark; smsgate_session={token}");
    let (st, _, who) = with_headers(
        api,
        "GET",
        "/api/v1/whoami",
        std::slice::from_ref(&cookie),
        None,
    )
    .await;
    assert_eq!(
        (st, who["name"].as_str(), who["csrf"].as_str()),
        (200, Some("ops"), Some(csrf.as_str()))
    );

    // A change with the cookie but without (or with another) CSRF token is refused, and
    // nothing is sent.
    // Typed in a form: UTF-8 whatever the user's content_encoding (foo's is `raw`).
    let test_msg = json!({"username": "foo", "to": "33612345678", "content": "console test ☺"});
    for extra in [vec![], vec!["X-CSRF-Token: 00".to_string()]] {
        let mut h = vec![cookie.clone()];
        h.extend(extra);
        let (st, _, v) =
            with_headers(api, "POST", "/api/v1/messages", &h, Some(test_msg.clone())).await;
        assert_eq!(st, 403, "{v}");
        assert!(v["error"].as_str().unwrap_or("").contains("CSRF"), "{v}");
    }
    // A configured token is never a cookie.
    let (st, _, _) = with_headers(
        api,
        "GET",
        "/api/v1/whoami",
        &[format!("Cookie: smsgate_session={TOKEN}")],
        None,
    )
    .await;
    assert_eq!(st, 401);
    assert_eq!(sim.submit_count(), 0);

    // Bad test messages: the field to blame, nothing sent.
    let h = vec![cookie.clone(), format!("X-CSRF-Token: {csrf}")];
    for (body, field) in [
        (
            json!({"username": "nobody", "to": "336", "content": "x"}),
            "username",
        ),
        (json!({"username": "foo", "content": "x"}), "to"),
        (
            json!({"username": "foo", "to": "336", "content": "x", "colour": 1}),
            "colour",
        ),
    ] {
        let (st, _, v) = with_headers(api, "POST", "/api/v1/messages", &h, Some(body)).await;
        assert_eq!((st, v["field"].as_str()), (400, Some(field)), "{v}");
    }
    // A user the pipeline refuses (its group is disabled): the pipeline's own answer.
    let (st, _, v) = with_headers(
        api,
        "POST",
        "/api/v1/messages",
        &h,
        Some(json!({"username": "eve", "to": "33612", "content": "x"})),
    )
    .await;
    assert_eq!(st, 422, "{v}");
    // With the token: sent, as a real message, with a receipt asked of the SMSC.
    let (st, _, v) =
        with_headers(api, "POST", "/api/v1/messages", &h, Some(test_msg.clone())).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["connector"], "sim");
    let id = v["id"].as_str().expect("id").to_string();
    wait_for(10, "the test message at the SMSC", || {
        sim.submit_count() == 1
    })
    .await;
    let sent = sim
        .received()
        .into_iter()
        .find(|r| r.destination_addr == "33612345678")
        .expect("sent");
    assert_eq!(sent.registered_delivery & 1, 1, "a receipt was asked for");
    let ucs2: Vec<u8> = "console test ☺"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    assert_eq!(
        (sent.data_coding, sent.short_message.clone()),
        (8, ucs2),
        "the form's text, in UCS2 for its ☺"
    );

    // A read-only token searches, but may not send.
    let (st, v) = call(api, "POST", "/api/v1/messages", Some(TOKEN), Some(test_msg)).await;
    assert_eq!(st, 403, "{v}");

    // Search: by id, user, destination and time; the timeline has every phase.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let timeline = loop {
        let (st, v) = call(
            api,
            "GET",
            &format!("/api/v1/messages/{id}"),
            Some(TOKEN),
            None,
        )
        .await;
        let phases: Vec<String> = v["events"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["phase"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if st == 200 && phases.iter().any(|p| p == "receipt") {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "{st} {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let phases: Vec<&str> = timeline["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["phase"].as_str())
        .collect();
    assert_eq!(phases, ["accept", "submit", "receipt"], "{timeline}");
    assert_eq!(timeline["message"]["user"], "foo");
    assert_eq!(timeline["message"]["destination"], "33612345678");
    assert_eq!(timeline["message"]["state"], "receipt: DELIVRD");
    assert_eq!(timeline["events"][1]["attrs"]["outcome"], "ESME_ROK");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    for (q, found) in [
        (format!("id={id}"), true),
        ("user=foo&destination=612345".to_string(), true),
        ("user=bob".to_string(), false),
        ("direction=mo".to_string(), false),
        (format!("from={}&to={}", now - 60_000, now + 1000), true),
        (
            "from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z".to_string(),
            false,
        ),
    ] {
        let (st, v) = call(
            api,
            "GET",
            &format!("/api/v1/messages?{q}"),
            Some(TOKEN),
            None,
        )
        .await;
        assert_eq!(st, 200, "{q}: {v}");
        let ids: Vec<&str> = v["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter_map(|m| m["id"].as_str())
            .collect();
        assert_eq!(ids.contains(&id.as_str()), found, "{q}: {v}");
    }
    for (q, field) in [
        ("from=yesterday", "from"),
        ("direction=sideways", "direction"),
        ("limit=-1", "limit"),
    ] {
        let (st, v) = call(
            api,
            "GET",
            &format!("/api/v1/messages?{q}"),
            Some(TOKEN),
            None,
        )
        .await;
        assert_eq!((st, v["field"].as_str()), (400, Some(field)), "{q}: {v}");
    }
    let (st, _) = call(
        api,
        "GET",
        &format!("/api/v1/messages/{}", uuid::Uuid::now_v7()),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(st, 404);

    // Plugins are off here: listed as such; a reload is a conflict, and an admin's.
    let (st, v) = call(api, "GET", "/api/v1/plugins", Some(TOKEN), None).await;
    assert_eq!((st, &v["enabled"]), (200, &json!(false)), "{v}");
    let (st, _) = call(api, "POST", "/api/v1/plugins/x/reload", Some(TOKEN), None).await;
    assert_eq!(st, 403);
    let root = login(api, "root", "rootpw").await;
    let (st, v) = call(api, "POST", "/api/v1/plugins/x/reload", Some(&root), None).await;
    assert_eq!(st, 409, "{v}");

    // The journal's counters are on /metrics; the dashboard's accepted count too.
    let (st, metrics) = get(gw.http_addr.expect("http"), "/metrics").await;
    assert_eq!(st, 200);
    let written = metrics
        .lines()
        .find_map(|l| l.strip_prefix("smsgate_journal_written_total "))
        .and_then(|n| n.parse::<u64>().ok())
        .expect("journal counter");
    assert!(written >= 3, "accept, submit, receipt: {written}");
    assert!(
        metrics.lines().any(|l| l == "queue_accepted_count 1"),
        "{metrics}"
    );

    // Logging out clears the cookie; the session is over.
    let (st, head, _) = with_headers(api, "POST", "/api/v1/logout", &h, None).await;
    assert_eq!(st, 200);
    assert!(head.contains("Max-Age=0"), "{head}");
    let (st, _, _) = with_headers(api, "GET", "/api/v1/whoami", &[cookie], None).await;
    assert_eq!(st, 401);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tls_the_api_serves_tls_only_and_may_bind_beyond_loopback() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("tmp");
    let (cert, key) = test_cert(dir.path());
    let tls = format!(
        "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let base = config_toml(dir.path(), free_port(), sim.addr.port());
    // Beyond loopback: refused without TLS, accepted with it (checked, not bound here).
    let open = format!("{base}{}", admin_section()).replace(
        "bind = \"127.0.0.1\"\nport = 0\nlogin",
        "bind = \"0.0.0.0\"\nport = 0\nlogin",
    );
    let err = smsgate::config::Config::load(Some(&{
        let p = dir.path().join("open.toml");
        std::fs::write(&p, &open).expect("write");
        p
    }))
    .and_then(|c| c.validate().map(|_| c))
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.contains("admin.bind"), "{err}");
    let open_tls = open.replace(
        "bind = \"0.0.0.0\"\n",
        &format!("bind = \"0.0.0.0\"\n{tls}"),
    );
    let p = dir.path().join("open_tls.toml");
    std::fs::write(&p, &open_tls).expect("write");
    smsgate::config::Config::load(Some(&p))
        .and_then(|c| c.validate().map(|_| c))
        .expect("a TLS API may bind beyond loopback");

    let toml = format!("{base}\n[journal]\nenabled = false\n{}", admin_section()).replace(
        "bind = \"127.0.0.1\"\nport = 0\nlogin",
        &format!("bind = \"127.0.0.1\"\nport = 0\n{tls}login"),
    );
    let gw = gateway(load(&toml, dir.path())).await;
    let api = gw.admin_addr().expect("admin");
    let tls_call = |req: String| async move {
        let tcp = tokio::net::TcpStream::connect(api).await.expect("connect");
        let s = smsgate::smpp::tls::connect(tcp, "localhost", false)
            .await
            .expect("TLS handshake");
        exchange(s, req).await
    };
    let (st, head, v) = tls_call(request(
        "POST",
        "/api/v1/login",
        &[],
        Some(&json!({"name": "root", "password": "rootpw"})),
    ))
    .await;
    assert_eq!(st, 200, "{v}");
    assert!(
        head.contains("; Secure"),
        "a Secure cookie over TLS: {head}"
    );
    let (st, _, v) = tls_call(request(
        "GET",
        "/api/v1/whoami",
        &[format!("Authorization: Bearer {TOKEN}")],
        None,
    ))
    .await;
    assert_eq!((st, v["name"].as_str()), (200, Some("deploy")), "{v}");
    // The journal is turned off here: message search says so.
    let (st, _, v) = tls_call(request(
        "GET",
        "/api/v1/messages",
        &[format!("Authorization: Bearer {TOKEN}")],
        None,
    ))
    .await;
    assert_eq!(st, 503, "{v}");
    assert!(
        v["error"].as_str().unwrap_or("").contains("[journal]"),
        "{v}"
    );
    let (st, head, _) = tls_call(request("GET", "/", &[], None)).await;
    assert_eq!(st, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-security-policy"),
        "{head}"
    );
    // Plain HTTP on the TLS listener gets no answer, and the listener keeps serving.
    let (st, _) = call(api, "GET", "/api/v1/whoami", Some(TOKEN), None).await;
    assert_eq!(st, 0);
    let (st, _, _) = tls_call(request(
        "GET",
        "/api/v1/whoami",
        &[format!("Authorization: Bearer {TOKEN}")],
        None,
    ))
    .await;
    assert_eq!(st, 200);
    gw.shutdown().await;
}
