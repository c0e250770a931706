//! WebAssembly plugins end to end: the first-party plugins of `plugins/` built to
//! `wasm32-wasip2` and run inside the gateway, over the real APIs (HTTP /send and SMPP
//! submit_sm in, simulator SMSC out): filter, route, interceptor (MT and MO), HLR lookup and
//! charging worlds, Jasmin's interception status semantics, hot reload, the last good
//! version of a plugin serving while its file is broken (also across a restart), the
//! rate-limited failure log, and the sandbox against hostile plugins.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Build the plugins once per test binary (cargo's own freshness check makes it cheap when
/// nothing changed) and return the directory holding the `.wasm` files.
fn built() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
        let target = std::env::var_os("SMSGATE_PLUGINS_TARGET")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| root.join("target"))
                    .join("wasm-plugins")
            });
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(root.join("plugins/Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("run cargo to build the plugins");
        assert!(
            status.success(),
            "building the plugins failed (needs `rustup target add wasm32-wasip2`)"
        );
        target.join("wasm32-wasip2/release")
    })
}

/// Install plugin `crate_name` as `dir/name.wasm` with manifest `toml`.
fn install(dir: &Path, crate_name: &str, name: &str, toml: &str) {
    std::fs::create_dir_all(dir).expect("plugins dir");
    std::fs::write(dir.join(format!("{name}.toml")), toml).expect("manifest");
    std::fs::copy(
        built().join(format!("{crate_name}.wasm")),
        dir.join(format!("{name}.wasm")),
    )
    .expect("copy plugin");
}

/// The two-SMSC gateway, and where its plugins are.
struct Env {
    base: TwoSmscs,
    plugins_dir: PathBuf,
}

impl std::ops::Deref for Env {
    type Target = TwoSmscs;
    fn deref(&self) -> &TwoSmscs {
        &self.base
    }
}

impl std::ops::DerefMut for Env {
    fn deref_mut(&mut self) -> &mut TwoSmscs {
        &mut self.base
    }
}

/// Everything the gateways of this test binary log (the tests' plugin names are unique, so
/// each test finds its own lines), also printed as the test writer would.
fn logs() -> &'static parking_lot::Mutex<Vec<u8>> {
    static LOGS: OnceLock<parking_lot::Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(Default::default)
}

struct Tee;

impl std::io::Write for Tee {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        logs().lock().extend_from_slice(b);
        print!("{}", String::from_utf8_lossy(b));
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log lines mentioning `what`.
fn log_lines(what: &str) -> Vec<String> {
    String::from_utf8_lossy(&logs().lock())
        .lines()
        .filter(|l| l.contains(what))
        .map(str::to_string)
        .collect()
}

/// A gateway with two SMSCs: `sim` (the default route) and `black` (what plugin filters and
/// routes send to), plugins loaded from a directory prepared by `prepare`, and `extra`
/// configuration appended.
async fn env(prepare: impl FnOnce(&Path), extra: &str) -> Env {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn,plugin=info")
        .with_ansi(false)
        .with_writer(|| Tee)
        .try_init();
    let mut plugins_dir = PathBuf::new();
    let base = two_smscs(|data| {
        plugins_dir = data.join("plugins");
        std::fs::create_dir_all(&plugins_dir).expect("plugins dir");
        prepare(&plugins_dir);
        format!(
            "[plugins]\nenabled = true\ndir = \"{}\"\ncache_dir = \"{}\"\nwatch_ms = 50\n{extra}",
            plugins_dir.display(),
            data.join("cache").display(),
        )
    })
    .await;
    Env { base, plugins_dir }
}

impl Env {
    /// Stop the gateway and start it again on the same configuration and directories (the
    /// HTTP API on a new ephemeral port).
    async fn restart(&mut self) {
        let binds = (
            self.sim.stats().binds.load(Ordering::Relaxed),
            self.black.stats().binds.load(Ordering::Relaxed),
        );
        self.gw.shutdown().await;
        self.gw = gateway(load(&self.toml, self.dir.path())).await;
        wait_for(10, "both SMSCs bound again", || {
            self.sim.stats().binds.load(Ordering::Relaxed) > binds.0
                && self.black.stats().binds.load(Ordering::Relaxed) > binds.1
        })
        .await;
        self.http = self.gw.http_addr.expect("http");
    }
    fn host(&self) -> &Arc<smsgate::plugins::PluginHost> {
        self.gw.plugins.as_ref().expect("plugin host")
    }
    /// The value of metric `line` (`name{labels}`) on `/metrics`.
    async fn metric(&self, line: &str) -> Option<String> {
        let (st, body) = get(self.http, "/metrics").await;
        assert_eq!(st, 200);
        body.lines()
            .find_map(|l| l.strip_prefix(line)?.strip_prefix(' ').map(str::to_string))
    }
    /// Poll `/metrics` until metric `line` has `value`.
    async fn wait_metric(&self, line: &str, value: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = self.metric(line).await;
            if v.as_deref() == Some(value) {
                return;
            }
            assert!(Instant::now() < deadline, "{line} is {v:?}, not {value}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    /// Run `cmd` on the jCli console (logged in); its answer up to the next prompt.
    async fn jcli(&self, cmd: &str) -> String {
        jcli_run(self.gw.jcli_addr().expect("jcli"), cmd).await
    }
    async fn send(&self, user: &str, pw: &str, to: &str, extra: &str) -> (u16, String) {
        get(
            self.http,
            &format!("/send?username={user}&password={pw}&to={to}&content=hello{extra}"),
        )
        .await
    }
    fn counters(&self, name: &str) -> Arc<smsgate::plugins::PluginCounters> {
        self.gw
            .plugins
            .as_ref()
            .expect("plugin host")
            .slot(name)
            .counters()
            .clone()
    }
    fn loaded(&self) -> Vec<String> {
        self.gw
            .plugins
            .as_ref()
            .expect("plugin host")
            .loaded()
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }
    async fn submit(&self, to: &str) -> rusmpp::CommandStatus {
        let (s, _rx, st) = esme_bind(self.gw.smpp_addr().expect("smpp"), "trx", "foo", "bar").await;
        assert_eq!(st, rusmpp::CommandStatus::EsmeRok);
        let resp = s
            .request(submit_sm(to, b"hello", 0))
            .await
            .expect("submit_sm_resp");
        resp.status()
    }
}

const BLACKLIST_ROUTE: &str = r#"
[[filters]]
fid = "bl"
type = "PluginFilter"
plugin = "blacklist"
[[mtroutes]]
type = "StaticMTRoute"
order = 50
connector = "smppc(black)"
filters = ["bl"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_plugin_routes_http_and_smpp_submissions() {
    let e = env(
        |d| {
            install(
                d,
                "blacklist",
                "blacklist",
                "[config]\nnumbers = \"33699999999\"\n",
            )
        },
        BLACKLIST_ROUTE,
    )
    .await;
    let (st, body) = e.send("foo", "bar", "33699999999", "").await;
    assert_eq!((st, body.starts_with("Success")), (200, true), "{body}");
    let (st, _) = e.send("foo", "bar", "33611111111", "").await;
    assert_eq!(st, 200);
    assert_eq!(
        e.submit("33699999999").await,
        rusmpp::CommandStatus::EsmeRok
    );
    wait_for(10, "3 submits", || {
        e.black.submit_count() + e.sim.submit_count() == 3
    })
    .await;
    let black: Vec<String> = e
        .black
        .received()
        .into_iter()
        .map(|r| r.destination_addr)
        .collect();
    assert_eq!(black, vec!["33699999999", "33699999999"]);
    assert_eq!(e.sim.received()[0].destination_addr, "33611111111");
    let c = e.counters("blacklist");
    assert!(c.calls.load(Ordering::Relaxed) >= 3);
    assert_eq!(c.failures(), 0);
    assert!(
        c.instantiations.load(Ordering::Relaxed) < c.calls.load(Ordering::Relaxed),
        "warm instances are reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_plugin_picks_among_candidates() {
    let e = env(
        |d| {
            install(
                d,
                "preferred_route",
                "pref",
                "[config]\nprefer = \"smppc(black)\"\n",
            )
        },
        r#"
[[filters]]
fid = "to336"
type = "DestinationAddrFilter"
destination_addr = "336"
[[mtroutes]]
type = "PluginMTRoute"
order = 40
plugin = "pref"
connectors = ["smppc(sim)", "smppc(black)"]
filters = ["to336"]
"#,
    )
    .await;
    assert_eq!(e.send("foo", "bar", "33600000001", "").await.0, 200);
    assert_eq!(
        e.submit("33600000002").await,
        rusmpp::CommandStatus::EsmeRok
    );
    wait_for(10, "2 submits at black", || e.black.submit_count() == 2).await;
    assert_eq!(e.sim.submit_count(), 0);
    // The preferred connector goes away: the plugin sees it unavailable and picks the other.
    e.gw.availability
        .set_failing(&smsgate::routing::ConnectorRef::Smppc("black".into()), true);
    assert_eq!(e.send("foo", "bar", "33600000003", "").await.0, 200);
    wait_for(10, "1 submit at sim", || e.sim.submit_count() == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interceptor_overrides_the_sender_and_locked_params_survive_connector_defaults() {
    let e = env(
        |d| {
            install(
                d,
                "sender_override",
                "brand",
                "[config]\nsender = \"BRAND\"\n",
            );
            install(
                d,
                "sender_override",
                "numeric",
                "[config]\nsender = \"12345\"\n",
            );
        },
        r#"
[[filters]]
fid = "to337"
type = "DestinationAddrFilter"
destination_addr = "337"
[[mtinterceptors]]
type = "StaticMTInterceptor"
order = 10
filters = ["to337"]
script = "plugin(numeric)"
[[mtinterceptors]]
type = "DefaultInterceptor"
order = 0
script = "plugin(brand)"
"#,
    )
    .await;
    // The default connector sets source TON 1 (src_ton): the numeric sender's TON, locked by
    // the plugin, survives it.
    assert_eq!(
        e.send("foo", "bar", "33600000001", "&from=777").await.0,
        200
    );
    assert_eq!(e.send("foo", "bar", "33700000001", "").await.0, 200);
    assert_eq!(
        e.submit("33600000002").await,
        rusmpp::CommandStatus::EsmeRok
    );
    wait_for(10, "3 submits", || e.sim.submit_count() == 3).await;
    let mut got: Vec<(String, String, u8)> = e
        .sim
        .received()
        .into_iter()
        .map(|r| (r.destination_addr, r.source_addr, r.source_addr_ton))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("33600000001".into(), "BRAND".into(), 5),
            ("33600000002".into(), "BRAND".into(), 5),
            ("33700000001".into(), "12345".into(), 0),
        ]
    );
}

const VERDICTS: &str = r#"
[[filters]]
fid = "h"
type = "DestinationAddrFilter"
destination_addr = "111"
[[filters]]
fid = "s"
type = "DestinationAddrFilter"
destination_addr = "222"
[[filters]]
fid = "ok"
type = "DestinationAddrFilter"
destination_addr = "333"
[[mtinterceptors]]
type = "StaticMTInterceptor"
order = 30
filters = ["h"]
script = "plugin(v_http)"
[[mtinterceptors]]
type = "StaticMTInterceptor"
order = 20
filters = ["s"]
script = "plugin(v_smpp)"
[[mtinterceptors]]
type = "StaticMTInterceptor"
order = 10
filters = ["ok"]
script = "plugin(v_ok)"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interceptor_statuses_follow_jasmin() {
    let e = env(
        |d| {
            install(d, "verdict", "v_http", "[config]\nhttp_status = 403\n");
            install(d, "verdict", "v_smpp", "[config]\nsmpp_status = 10\n");
            install(d, "verdict", "v_ok", "[config]\nsmpp_status = 0\n");
        },
        VERDICTS,
    )
    .await;
    // HTTP status set: that HTTP status; SMPP clients get 255.
    let (st, body) = e.send("foo", "bar", "1110", "").await;
    assert_eq!(st, 403, "{body}");
    assert!(
        body.contains("Interception specific error code 403"),
        "{body}"
    );
    assert_eq!(e.submit("1110").await, rusmpp::CommandStatus::from(255u32));
    // SMPP status set: that SMPP status; HTTP clients get 520.
    assert_eq!(e.send("foo", "bar", "2220", "").await.0, 520);
    assert_eq!(
        e.submit("2220").await,
        rusmpp::CommandStatus::EsmeRinvsrcadr
    );
    // SMPP status 0: accepted without routing.
    let (st, body) = e.send("foo", "bar", "3330", "").await;
    assert_eq!((st, body.starts_with("Success")), (200, true), "{body}");
    assert_eq!(e.submit("3330").await, rusmpp::CommandStatus::EsmeRok);
    // Not intercepted: routed and sent as usual.
    assert_eq!(e.send("foo", "bar", "4440", "").await.0, 200);
    wait_for(10, "the one routed message", || e.sim.submit_count() >= 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent: Vec<String> = e
        .sim
        .received()
        .into_iter()
        .map(|r| r.destination_addr)
        .collect();
    assert_eq!(sent, vec!["4440"]);
    assert_eq!(e.black.submit_count(), 0);
    // Jasmin's counters: an answered error counts as an interceptor error, an accepted or
    // passed message as an interceptor call; per front door.
    for api in ["httpapi", "smppsapi"] {
        e.wait_metric(&format!("{api}_interceptor_error_count"), "2")
            .await;
        e.wait_metric(&format!("{api}_interceptor_count"), "1")
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mo_interceptor_changes_what_is_delivered() {
    let rx = receiver().await;
    let e = env(
        |d| {
            install(
                d,
                "verdict",
                "mo_edit",
                "[config]\ntext = \"rewritten\"\ntag = \"seen\"\n",
            )
        },
        &format!(
            r#"
[[httpccs]]
cid = "app"
url = "{}"
method = "POST"
[[moroutes]]
type = "DefaultRoute"
order = 0
connector = "http(app)"
[[mointerceptors]]
type = "DefaultInterceptor"
order = 0
script = "plugin(mo_edit)"
"#,
            rx.url("/mo")
        ),
    )
    .await;
    assert_eq!(e.sim.inject_mo("33600000000", "1234", b"original").await, 1);
    wait_for(10, "the MO at the application", || rx.count() == 1).await;
    let c = &rx.calls()[0];
    assert_eq!(c.get("content"), Some("rewritten"));
    assert_eq!(c.get("from"), Some("33600000000"));
    e.wait_metric("smppc_interceptor_count{cid=\"sim\"}", "1")
        .await;
}

/// A tiny HTTP service answering every POST with `answer(body)`, counting requests.
async fn json_service(
    answer: impl Fn(&str) -> String + Send + Sync + 'static,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let (h, answer) = (hits.clone(), Arc::new(answer));
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let (h, answer) = (h.clone(), answer.clone());
            tokio::spawn(async move {
                let mut buf = vec![];
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = s.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some(head_end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let len = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0usize);
                    if buf.len() < head_end + 4 + len {
                        continue;
                    }
                    h.fetch_add(1, Ordering::SeqCst);
                    let body = answer(&text[head_end + 4..]);
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                    return;
                }
            });
        }
    });
    (addr, hits)
}

const HLR_ROUTE: &str = r#"
[[filters]]
fid = "orange"
type = "TagFilter"
tag = "hlr:mccmnc=20801"
[[mtroutes]]
type = "StaticMTRoute"
order = 60
connector = "smppc(black)"
filters = ["orange"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hlr_lookup_tags_messages_for_routing_and_caches_answers() {
    let (svc, hits) = json_service(|body| {
        if body.contains("33611") {
            r#"{"mcc":"208","mnc":"01","ported":false,"network":"Orange"}"#.into()
        } else {
            r#"{"mcc":"208","mnc":"10","ported":true}"#.into()
        }
    })
    .await;
    let toml = format!("allow_hosts = [\"{svc}\"]\n[config]\nurl = \"http://{svc}/hlr\"\n");
    let e = env(
        |d| install(d, "hlr_http", "hlr", &toml),
        &format!("hlr = \"hlr\"\n{HLR_ROUTE}"),
    )
    .await;
    assert_eq!(e.send("foo", "bar", "33611000000", "").await.0, 200);
    assert_eq!(
        e.submit("33611000000").await,
        rusmpp::CommandStatus::EsmeRok
    );
    assert_eq!(e.send("foo", "bar", "33622000000", "").await.0, 200);
    wait_for(10, "3 submits", || {
        e.black.submit_count() + e.sim.submit_count() == 3
    })
    .await;
    assert_eq!(
        e.black.submit_count(),
        2,
        "Orange numbers take the tagged route"
    );
    assert_eq!(e.sim.received()[0].destination_addr, "33622000000");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "the second lookup of a number is cached"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_to_a_host_not_granted_is_refused_and_counted() {
    let (svc, hits) = json_service(|_| r#"{"mcc":"208","mnc":"01"}"#.into()).await;
    // No allow_hosts: the plugin may not call anything.
    let toml = format!("[config]\nurl = \"http://{svc}/hlr\"\n");
    let e = env(
        |d| install(d, "hlr_http", "hlr", &toml),
        &format!("hlr = \"hlr\"\n{HLR_ROUTE}"),
    )
    .await;
    assert_eq!(e.send("foo", "bar", "33611000000", "").await.0, 200);
    wait_for(10, "the untagged message at the default SMSC", || {
        e.sim.submit_count() == 1
    })
    .await;
    assert_eq!(e.black.submit_count(), 0);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing reached the service"
    );
    assert!(e.counters("hlr").denied.load(Ordering::Relaxed) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charging_plugin_authorizes_or_refuses_with_delivery_failure() {
    let settled = Arc::new(parking_lot::Mutex::new(Vec::<String>::new()));
    let seen = settled.clone();
    let (svc, hits) = json_service(move |body| {
        if body.contains("SmsGate.Settle") {
            seen.lock().push(body.to_string());
        }
        let ok = body.contains("\"Account\":\"foo\"");
        format!(
            r#"{{"id":1,"result":{},"error":null}}"#,
            if ok { 10 } else { 0 }
        )
    })
    .await;
    let toml = format!("allow_hosts = [\"{svc}\"]\n[config]\nurl = \"http://{svc}/jsonrpc\"\n");
    let e = env(
        |d| install(d, "charging_http", "cgr", &toml),
        "charging = \"cgr\"\n",
    )
    .await;
    assert_eq!(e.send("foo", "bar", "33600000001", "").await.0, 200);
    assert_eq!(
        e.submit("33600000002").await,
        rusmpp::CommandStatus::EsmeRok
    );
    let (st, body) = e.send("bob", "bobpwd", "33600000003", "").await;
    assert_eq!(st, 520, "{body}");
    let (s, _rx, _) = esme_bind(e.gw.smpp_addr().expect("smpp"), "trx", "bob", "bobpwd").await;
    let resp = s
        .request(submit_sm("33600000004", b"x", 0))
        .await
        .expect("resp");
    assert_eq!(resp.status(), rusmpp::CommandStatus::EsmeRdeliveryfailure);
    wait_for(10, "2 charged submits", || e.sim.submit_count() == 2).await;
    // 4 authorizations, then a settlement for each message the SMSC accepted.
    wait_for(10, "2 settlements", || settled.lock().len() == 2).await;
    assert_eq!(hits.load(Ordering::SeqCst), 6);
    for b in settled.lock().iter() {
        assert!(b.contains("\"Accepted\":true"), "{b}");
    }
    // bob was not billed for the refused messages.
    let b = e.gw.store.balance_get("bob").await.expect("balance");
    assert_eq!(b.sms_count, Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_are_added_replaced_and_removed_without_restart() {
    let e = env(|_| {}, BLACKLIST_ROUTE).await;
    std::fs::write(e.plugins_dir.join("junk.wasm"), b"\0asm not really").expect("junk");
    assert_eq!(e.send("foo", "bar", "33699999999", "").await.0, 200);
    wait_for(10, "sent by default", || e.sim.submit_count() == 1).await;

    install(
        &e.plugins_dir,
        "blacklist",
        "blacklist",
        "[config]\nnumbers = \"33699999999\"\n",
    );
    wait_for(10, "blacklist loaded", || {
        e.loaded() == vec!["blacklist".to_string()]
    })
    .await;
    assert_eq!(e.send("foo", "bar", "33699999999", "").await.0, 200);
    wait_for(10, "blacklisted", || e.black.submit_count() == 1).await;

    // Replace the configuration: another number is blacklisted now.
    std::fs::write(
        e.plugins_dir.join("blacklist.toml"),
        "[config]\nnumbers = \"33688888888,33600000000\"\n",
    )
    .expect("toml");
    let c = e.counters("blacklist");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let before = e.black.submit_count();
        assert_eq!(e.send("foo", "bar", "33688888888", "").await.0, 200);
        tokio::time::sleep(Duration::from_millis(200)).await;
        if e.black.submit_count() > before {
            break;
        }
        assert!(Instant::now() < deadline, "new config not picked up");
    }
    assert!(c.calls.load(Ordering::Relaxed) >= 2);

    // Remove it: the filter no longer matches (the plugin is missing).
    std::fs::remove_file(e.plugins_dir.join("blacklist.wasm")).expect("rm");
    wait_for(10, "blacklist unloaded", || e.loaded().is_empty()).await;
    let before = e.sim.submit_count();
    assert_eq!(e.send("foo", "bar", "33688888888", "").await.0, 200);
    wait_for(10, "sent by default again", || {
        e.sim.submit_count() == before + 1
    })
    .await;
    assert!(!e.loaded().contains(&"junk".to_string()), "junk is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_are_denied_or_stopped_within_budget_and_the_gateway_keeps_serving() {
    let (svc, hits) = json_service(|_| "{}".into()).await;
    let hostile = [
        (
            "h_file",
            "[config]\nmode = \"read-file\"\npath = \"/etc/passwd\"\n".to_string(),
        ),
        (
            "h_socket",
            format!("[config]\nmode = \"socket\"\naddr = \"{svc}\"\n"),
        ),
        (
            "h_loop",
            "budget_ms = 20\n[config]\nmode = \"loop\"\n".to_string(),
        ),
        (
            "h_alloc",
            "memory_mb = 16\n[config]\nmode = \"alloc\"\n".to_string(),
        ),
        ("h_panic", "[config]\nmode = \"panic\"\n".to_string()),
        ("h_sleep", "[config]\nmode = \"sleep\"\n".to_string()),
    ];
    let mut routes = String::new();
    for (i, (name, _)) in hostile.iter().enumerate() {
        routes += &format!(
            "[[filters]]\nfid = \"{name}\"\ntype = \"PluginFilter\"\nplugin = \"{name}\"\n[[mtroutes]]\ntype = \"StaticMTRoute\"\norder = {}\nconnector = \"smppc(black)\"\nfilters = [\"{name}\"]\n",
            100 + i
        );
    }
    let e = env(
        |d| {
            for (name, toml) in &hostile {
                install(d, "hostile", name, toml);
            }
        },
        &routes,
    )
    .await;
    for round in 0..2 {
        let t = Instant::now();
        let (st, body) = e.send("foo", "bar", "33600000000", "").await;
        assert_eq!(st, 200, "round {round}: {body}");
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "round {round} took {:?}",
            t.elapsed()
        );
        assert_eq!(
            e.submit("33600000001").await,
            rusmpp::CommandStatus::EsmeRok
        );
    }
    wait_for(10, "4 submits", || e.sim.submit_count() == 4).await;
    assert_eq!(e.black.submit_count(), 0, "no hostile action succeeded");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "no connection reached the service"
    );
    let n = |name: &str, f: fn(&smsgate::plugins::PluginCounters) -> u64| f(&e.counters(name));
    assert_eq!(n("h_loop", |c| c.timeouts.load(Ordering::Relaxed)), 4);
    // Each call fails the way its plugin misbehaves. The budget is wall time (epoch ticks): on
    // a busy machine a call the OS held off the CPU past it is stopped as a timeout instead,
    // so each count allows for that, and at least one call of each shows its own kind.
    let own_kind_or_timeout = |name: &str, own: fn(&smsgate::plugins::PluginCounters) -> u64| {
        let c = e.counters(name);
        let (kind, timeouts) = (own(&c), c.timeouts.load(Ordering::Relaxed));
        assert_eq!(kind + timeouts, 4, "{name}: {kind} + {timeouts} timeouts");
        assert!(kind >= 1, "{name}: no call failed its own way");
    };
    own_kind_or_timeout("h_alloc", |c| c.memory.load(Ordering::Relaxed));
    own_kind_or_timeout("h_panic", |c| c.traps.load(Ordering::Relaxed));
    // A filter that sleeps traps at once (a filter may not wait): it neither blocks the
    // thread routing the message nor waits out its budget.
    own_kind_or_timeout("h_sleep", |c| c.traps.load(Ordering::Relaxed));
    assert!(n("h_socket", |c| c.denied.load(Ordering::Relaxed)) >= 4);
    assert_eq!(
        n("h_socket", |c| c.failures()),
        0,
        "the connect was refused, not a crash"
    );
    assert_eq!(n("h_file", |c| c.calls.load(Ordering::Relaxed)), 4);
    assert_eq!(
        n("h_file", |c| c.failures()),
        0,
        "the read was denied, not a crash"
    );
    // The same counters on /metrics.
    let (st, metrics) = get(e.gw.http_addr.expect("http"), "/metrics").await;
    assert_eq!(st, 200);
    let counted = |metric: &str, name: &str, f: fn(&smsgate::plugins::PluginCounters) -> u64| {
        format!("{metric}{{plugin=\"{name}\"}} {}", n(name, f))
    };
    for line in [
        "plugin_timeouts{plugin=\"h_loop\"} 4".to_string(),
        counted("plugin_memory", "h_alloc", |c| {
            c.memory.load(Ordering::Relaxed)
        }),
        counted("plugin_traps", "h_panic", |c| {
            c.traps.load(Ordering::Relaxed)
        }),
        "plugin_calls{plugin=\"h_file\"} 4".to_string(),
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_file_keeps_the_last_good_version_serving_also_across_a_restart() {
    const NAME: &str = "bl_lastgood";
    let manifest = "[config]\nnumbers = \"33699999999\"\n";
    let route = BLACKLIST_ROUTE.replace("plugin = \"blacklist\"", &format!("plugin = \"{NAME}\""));
    let mut e = env(|d| install(d, "blacklist", NAME, manifest), &route).await;
    let good = std::fs::read(built().join("blacklist.wasm")).expect("plugin");
    let hash8 = smsgate::plugins::engine::content_hash(&good)[..8].to_string();
    let stale = format!("plugin_stale{{plugin=\"{NAME}\"}}");
    // The filter plugin sends the blacklisted number to `black`: how its work shows.
    let through_plugin = async |e: &Env, n: u64| {
        assert_eq!(e.send("foo", "bar", "33699999999", "").await.0, 200);
        wait_for(10, "the blacklisted number at black", || {
            e.black.submit_count() == n
        })
        .await;
    };
    through_plugin(&e, 1).await;
    e.wait_metric(&stale, "0").await;
    let list = e.jcli("plugin -l").await;
    assert!(list.contains(&format!("#{NAME:<16} filter")), "{list}");
    assert!(list.contains(" ok\r\n"), "{list}");

    // A broken file replaces it: the version loaded keeps serving, and says so.
    std::fs::write(
        e.plugins_dir.join(format!("{NAME}.wasm")),
        b"\0asm broken plugin",
    )
    .expect("junk");
    e.wait_metric(&stale, "1").await;
    through_plugin(&e, 2).await;
    let list = e.jcli("plugin -l").await;
    let marker = format!("stale: serving last good {hash8}, file refused: ");
    assert!(list.contains(&marker), "{list}");
    let show = e.jcli(&format!("plugin -s {NAME}")).await;
    assert!(show.contains(&format!("state {marker}")), "{show}");
    let refused = format!("plugin {NAME}: file refused, the last good version {hash8}");
    wait_for(5, "the refusal logged", || log_lines(&refused).len() == 1).await;
    assert!(log_lines(&refused)[0].contains("error=not a valid component"));
    assert!(
        log_lines(&refused)[0].contains("ERROR"),
        "{:?}",
        log_lines(&refused)
    );
    // `plugin -r` says the same.
    let reload = e.jcli(&format!("plugin -r {NAME}")).await;
    assert!(
        reload.starts_with("Error: ")
            && reload.contains(&format!("the last good version ({hash8}) keeps serving")),
        "{reload}"
    );

    // A component of another world is refused the same way.
    std::fs::copy(
        built().join("preferred_route.wasm"),
        e.plugins_dir.join(format!("{NAME}.wasm")),
    )
    .expect("copy");
    let reason = || e.host().slot(NAME).stale().unwrap_or_default();
    wait_for(10, "another world refused", || {
        reason().starts_with("implements world route, not filter")
    })
    .await;
    through_plugin(&e, 3).await;
    std::fs::write(
        e.plugins_dir.join(format!("{NAME}.wasm")),
        b"\0asm broken again",
    )
    .expect("junk");
    wait_for(10, "junk refused", || {
        reason().starts_with("not a valid component")
    })
    .await;

    // Restart with the broken file still there: the last good version, from the cache.
    e.restart().await;
    assert_eq!(e.metric(&stale).await.as_deref(), Some("1"));
    through_plugin(&e, 4).await;
    let list = e.jcli("plugin -l").await;
    assert!(list.contains(&marker), "{list}");
    let from_cache = format!("{refused} (from the cache) keeps serving");
    assert_eq!(log_lines(&from_cache).len(), 1, "{:?}", log_lines(NAME));
    assert_eq!(
        log_lines(&refused).len(),
        4,
        "one line per refusal: {:?}",
        log_lines(NAME)
    );

    // A good file again: it serves, the plugin is no longer stale.
    install(&e.plugins_dir, "blacklist", NAME, manifest);
    e.wait_metric(&stale, "0").await;
    through_plugin(&e, 5).await;
    let list = e.jcli("plugin -l").await;
    assert!(
        list.contains(" ok\r\n") && !list.contains("stale"),
        "{list}"
    );
    assert_eq!(
        e.sim.submit_count(),
        0,
        "every message went through the plugin"
    );

    // Removed, it is forgotten: a broken file by that name later is refused outright.
    std::fs::remove_file(e.plugins_dir.join(format!("{NAME}.wasm"))).expect("rm");
    wait_for(10, "unloaded", || !e.loaded().contains(&NAME.to_string())).await;
    std::fs::write(e.plugins_dir.join(format!("{NAME}.wasm")), b"junk").expect("junk");
    e.restart().await;
    assert!(!e.loaded().contains(&NAME.to_string()));
    assert_eq!(e.metric(&stale).await.as_deref(), Some("0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_failing_on_every_message_logs_a_bounded_number_of_lines() {
    const NAME: &str = "h_panic_log";
    let e = env(
        |d| install(d, "hostile", NAME, "[config]\nmode = \"panic\"\n"),
        &format!(
            "[[filters]]\nfid = \"p\"\ntype = \"PluginFilter\"\nplugin = \"{NAME}\"\n[[mtroutes]]\ntype = \"StaticMTRoute\"\norder = 100\nconnector = \"smppc(black)\"\nfilters = [\"p\"]\n"
        ),
    )
    .await;
    e.host().set_fail_log_interval(Duration::from_secs(2));
    const N: u64 = 30;
    let t = Instant::now();
    for _ in 0..N {
        assert_eq!(e.send("foo", "bar", "33600000000", "").await.0, 200);
    }
    let c = e.counters(NAME);
    // Every call panics; on a busy machine a call the OS held off the CPU past the plugin's
    // budget (wall-clock epoch ticks) is stopped and counted as a timeout instead.
    let (traps, timeouts) = (
        c.traps.load(Ordering::Relaxed),
        c.timeouts.load(Ordering::Relaxed),
    );
    assert_eq!(traps + timeouts, N, "every failure is counted");
    assert!(traps > N / 2, "{traps} traps, {timeouts} timeouts");
    e.wait_metric(
        &format!("plugin_traps{{plugin=\"{NAME}\"}}"),
        &traps.to_string(),
    )
    .await;
    // The watcher writes the summary once the interval is over.
    let summary = format!("plugin {NAME}: ");
    wait_for(10, "the summary line", || {
        log_lines(&summary)
            .iter()
            .any(|l| l.contains("more failures in the last 2s (last: "))
    })
    .await;
    let elapsed = t.elapsed().as_secs();
    let lines = log_lines(NAME);
    let first: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("plugin call failed"))
        .collect();
    let summaries: Vec<u64> = lines
        .iter()
        .filter_map(|l| {
            let rest = l.split(&summary).nth(1)?;
            rest.split(' ').next()?.parse().ok()
        })
        .collect();
    // Each failure is in exactly one line: logged alone or counted in a summary.
    assert_eq!(
        first.len() as u64 + summaries.iter().sum::<u64>(),
        N,
        "{lines:#?}"
    );
    // At most two lines per 2 s interval.
    assert!(
        (first.len() + summaries.len()) as u64 <= 2 * (elapsed / 2 + 1),
        "{elapsed}s: {lines:#?}"
    );
    assert!(
        first[0].contains("wasm trap") && !first[0].contains("backtrace"),
        "one line, the error's first line: {}",
        first[0]
    );
    let all = String::from_utf8_lossy(&logs().lock()).to_string();
    assert!(!all.contains("wasm backtrace"), "no backtrace in the log");
    wait_for(10, "all sent by default", || e.sim.submit_count() == N).await;
    assert_eq!(e.black.submit_count(), 0);
}
