//! Jasmin's Python scripts end to end, on the Python-on-Wasm runtime (`plugins/python`):
//! every script example of Jasmin's documentation (3.8.4 and the EvalPyFilter FAQ 3.15) as
//! printed, in `tests/data/python/jasmin-doc/`, with Jasmin's outcome, and the two broken
//! ones corrected in `tests/data/python/fixed/` (`corrections.diff`); the status control table
//! on each door (HTTP API, SMPP server, MO from the simulator); jCli's `pyCode` and
//! `python3(...)`; and the sandbox (a script that loops, allocates 1 GiB, opens a socket,
//! reads a file, raises, sleeps past its deadline or does not compile fails its message only,
//! is counted, and the next message goes through).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::common::*;
use smsgate::app::Gateway;
use smsgate::plugins::python::ScriptKind;
use smsgate::simulator::Simulator;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// A script of `tests/data/python/`, by its path under it.
fn script(rel: &str) -> String {
    root()
        .join("tests/data/python")
        .join(rel)
        .display()
        .to_string()
}

/// The runtime component, built once per test binary (`plugins/python/build.sh` skips the
/// build when it is up to date), and its machine code compiled once into a cache every test
/// gateway shares.
fn runtime() -> &'static (PathBuf, PathBuf) {
    static RT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    RT.get_or_init(|| {
        let out = target().join("wasm-plugins/smsgate-python.wasm");
        let status = std::process::Command::new("bash")
            .arg(root().join("plugins/python/build.sh"))
            .arg(&out)
            .status()
            .expect("run plugins/python/build.sh");
        assert!(status.success(), "building the Python runtime failed");
        let cache = target().join("python-cache");
        let cfg = smsgate::config::PluginsConfig {
            cache_dir: Some(cache.clone()),
            python: smsgate::config::PythonConfig {
                runtime: Some(out.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        let tmp = tempfile::tempdir().expect("tempdir");
        let host = smsgate::plugins::PluginHost::new(&cfg, tmp.path()).expect("host");
        host.python_script(None, "result = True", ScriptKind::Filter)
            .expect("the runtime loads and compiles a script");
        (out, cache)
    })
}

/// The two-SMSC gateway with the Python runtime.
struct Env(TwoSmscs);

impl std::ops::Deref for Env {
    type Target = TwoSmscs;
    fn deref(&self) -> &TwoSmscs {
        &self.0
    }
}

impl std::ops::DerefMut for Env {
    fn deref_mut(&mut self) -> &mut TwoSmscs {
        &mut self.0
    }
}

/// A gateway with two SMSCs, `sim` (the default route) and `black`, the Python runtime, and
/// `extra` configuration appended.
async fn env(extra: &str) -> Env {
    let (rt, cache) = tokio::task::spawn_blocking(runtime)
        .await
        .expect("runtime")
        .clone();
    let base = two_smscs(|_| {
        format!(
            "[plugins]\ncache_dir = \"{}\"\n[plugins.python]\nruntime = \"{}\"\n{extra}",
            cache.display(),
            rt.display(),
        )
    })
    .await;
    Env(base)
}

impl Env {
    /// Stop the gateway and start it again on the same configuration and data.
    async fn restart(&mut self) {
        let binds = self.sim.stats().binds.load(Ordering::Relaxed);
        self.gw.shutdown().await;
        self.gw = gateway(load(&self.toml, self.dir.path())).await;
        wait_for(10, "bound again", || {
            self.sim.stats().binds.load(Ordering::Relaxed) > binds
        })
        .await;
        self.http = self.gw.http_addr.expect("http");
    }
    async fn send(&self, to: &str) -> (u16, String) {
        self.send_as("foo", "bar", to).await
    }
    async fn send_as(&self, user: &str, pw: &str, to: &str) -> (u16, String) {
        get(
            self.http,
            &format!("/send?username={user}&password={pw}&to={to}&content=hello"),
        )
        .await
    }
    /// What `sim` or `black` received for destination `to`.
    async fn received(&self, sim: &Simulator, to: &str) -> smsgate::simulator::Received {
        wait_for(10, &format!("a submit_sm to {to}"), || {
            sim.received().iter().any(|r| r.destination_addr == to)
        })
        .await;
        sim.received()
            .into_iter()
            .find(|r| r.destination_addr == to)
            .expect("received")
    }
    async fn metric(&self, line: &str) -> Option<String> {
        let (st, body) = get(self.http, "/metrics").await;
        assert_eq!(st, 200);
        body.lines()
            .find_map(|l| l.strip_prefix(line)?.strip_prefix(' ').map(str::to_string))
    }
    async fn jcli(&self, lines: &[&str]) -> Vec<String> {
        jcli_session(self.gw.jcli_addr().expect("jcli"), lines).await
    }
}

/// MT interceptors keyed by destination prefix: `(prefix, script path)`, orders from 100 up.
fn mt_interceptors(rules: &[(&str, &str)]) -> String {
    let mut t = String::new();
    for (i, (prefix, path)) in rules.iter().enumerate() {
        t += &format!(
            "[[filters]]\nfid = \"da{i}\"\ntype = \"DestinationAddrFilter\"\ndestination_addr = \"^{prefix}\"\n\
             [[mtinterceptors]]\ntype = \"StaticMTInterceptor\"\norder = {}\nfilters = [\"da{i}\"]\nscript = \"python3({path})\"\n",
            100 + i
        );
    }
    t
}

const TAG_ROUTE: &str = r#"
[[filters]]
fid = "tag21401"
type = "TagFilter"
tag = 21401
[[mtroutes]]
type = "StaticMTRoute"
order = 50
connector = "smppc(black)"
filters = ["tag21401"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_interceptors_through_the_http_api() {
    let rules = [
        ("3310", script("jasmin-doc/sender_override.py")),
        ("3311", script("fixed/ton_npi.py")),
        ("3312", script("own/ton_unlocked.py")),
        ("3313", script("jasmin-doc/enforce_dlr.py")),
        ("3314", script("own/tag.py")),
        ("3315", script("jasmin-doc/logging_example.py")),
        ("3316", script("jasmin-doc/lock_param.py")),
        ("3317", script("own/master_namespace.py")),
        ("3318", script("own/credential.py")),
    ];
    let rules: Vec<(&str, &str)> = rules.iter().map(|(p, s)| (*p, s.as_str())).collect();
    let e = env(&format!("{}{TAG_ROUTE}", mt_interceptors(&rules))).await;

    // Sender override, as printed.
    assert_eq!(e.send("33100000000").await.0, 200);
    assert_eq!(
        e.received(&e.sim, "33100000000").await.source_addr,
        "123456789"
    );

    // TON/NPI (corrected: the printed copy does not compile), locked: the connector's
    // defaults do not overwrite them. Unlocked, they do (FAQ 3.15.6).
    assert_eq!(e.send("33110000000").await.0, 200);
    let r = e.received(&e.sim, "33110000000").await;
    assert_eq!((r.source_addr_ton, r.source_addr_npi), (5, 1));
    assert_eq!((r.dest_addr_ton, r.dest_addr_npi), (1, 1));
    assert_eq!(e.send("33120000000").await.0, 200);
    let r = e.received(&e.sim, "33120000000").await;
    assert_ne!(
        r.source_addr_ton, 5,
        "unlocked: the connector's default applies"
    );

    // Enforced DLR: registered_delivery set although the client asked for none.
    assert_eq!(e.send("33130000000").await.0, 200);
    assert_eq!(
        e.received(&e.sim, "33130000000").await.registered_delivery,
        1
    );
    let (_, body) = e.send("33190000000").await;
    assert!(body.starts_with("Success"), "{body}");
    assert_eq!(
        e.received(&e.sim, "33190000000").await.registered_delivery,
        0
    );

    // A tag that a TagFilter route follows.
    assert_eq!(e.send("33140000000").await.0, 200);
    e.received(&e.black, "33140000000").await;
    assert!(!e
        .sim
        .received()
        .iter()
        .any(|r| r.destination_addr == "33140000000"));

    // Logging to a file: it lands under the data dir's script log area.
    assert_eq!(e.send("33150000000").await.0, 200);
    let log = e
        .dir
        .path()
        .join("script-logs/var/log/jasmin/some_file.log");
    wait_for(5, "the script's log file", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("Got pdu: "))
    })
    .await;
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains("33150000000"), "{text}");
    assert_eq!(
        text.matches("Got pdu: ").count(),
        1,
        "one record per message: {text}"
    );
    assert_eq!(e.send("33150000001").await.0, 200);
    wait_for(5, "a second record, same handler", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.matches("Got pdu: ").count() == 2)
    })
    .await;

    // FAQ 3.15.6 runs as printed.
    assert_eq!(e.send("33160000000").await.0, 200);
    e.received(&e.sim, "33160000000").await;

    // Jasmin master's namespace: injected modules, functions that see module-level names.
    assert_eq!(e.send("33170000000").await.0, 200);
    assert_eq!(e.received(&e.sim, "33170000000").await.source_addr, "2");

    // The sending user's credential, as its configuration says (bob: balance 1.0,
    // sms_count 5; the rest Jasmin's defaults).
    assert_eq!(e.send_as("bob", "bobpwd", "33180000000").await.0, 200);
    assert_eq!(
        e.received(&e.sim, "33180000000").await.source_addr,
        "bob:True:.*:1.0:5"
    );

    assert_eq!(
        e.metric(&format!(
            "python_script_calls{{script=\"{}\"}}",
            script("jasmin-doc/sender_override.py")
        ))
        .await
        .as_deref(),
        Some("1")
    );
    assert_eq!(
        e.metric("httpapi_interceptor_count").await.as_deref(),
        Some("10")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_control_on_the_http_api_and_the_smpp_server() {
    let rules = [
        ("3320", script("own/raises.py")),
        ("3321", script("own/smpp_status_10.py")),
        ("3322", script("own/smpp_status_0.py")),
        ("3323", script("own/http_status_404.py")),
        ("3324", script("own/smpp_status_unknown.py")),
        ("3325", script("own/status_not_int.py")),
        ("3326", script("own/http_status_200.py")),
        ("3327", script("jasmin-doc/sender_override.py")),
        ("3328", script("own/rewrite_mo.py")),
    ];
    let rules: Vec<(&str, &str)> = rules.iter().map(|(p, s)| (*p, s.as_str())).collect();
    let e = env(&mt_interceptors(&rules)).await;

    // HTTP API: Jasmin's answers (send.py).
    let err = |s: &str| format!("Error \"{s}\"");
    let cases = [
        (
            "33200000000",
            400,
            err("Failed running interception script, check log for details"),
        ),
        (
            "33210000000",
            520,
            err("Interception specific error code 520"),
        ),
        (
            "33220000000",
            520,
            err("Interception specific error code 520"),
        ),
        (
            "33230000000",
            404,
            err("Interception specific error code 404"),
        ),
        (
            "33240000000",
            520,
            err("Interception specific error code 520"),
        ),
        (
            "33250000000",
            404,
            err("Interception specific error code 404"),
        ),
    ];
    for (to, status, body) in &cases {
        assert_eq!(e.send(to).await, (*status, body.clone()), "to {to}");
    }
    // http_status = 200: accepted without routing (Jasmin's bug #829 answers 400).
    let (st, body) = e.send("33260000000").await;
    assert_eq!(st, 200, "{body}");
    assert!(body.starts_with("Success \""), "{body}");

    // SMPP server: factory.py's answers.
    let (s, _rx, st) = esme_bind(e.gw.smpp_addr().expect("smpp"), "trx", "foo", "bar").await;
    assert_eq!(st, rusmpp::CommandStatus::EsmeRok);
    let submit = |to: &'static str| {
        let s = s.clone();
        async move { s.request(submit_sm(to, b"hello", 0)).await.expect("resp") }
    };
    assert_eq!(
        submit("33200000000").await.status(),
        rusmpp::CommandStatus::EsmeRsyserr
    );
    assert_eq!(
        submit("33210000000").await.status(),
        rusmpp::CommandStatus::EsmeRinvsrcadr
    );
    let ok = submit("33220000000").await;
    assert_eq!(ok.status(), rusmpp::CommandStatus::EsmeRok);
    assert_eq!(
        resp_id(&ok),
        "intercepted-33220000000",
        "extra['message_id']"
    );
    assert_eq!(
        submit("33230000000").await.status(),
        rusmpp::CommandStatus::EsmeRunknownerr
    );
    assert_eq!(
        submit("33240000000").await.status(),
        rusmpp::CommandStatus::EsmeRsyserr
    );
    assert_eq!(
        submit("33250000000").await.status(),
        rusmpp::CommandStatus::EsmeRunknownerr
    );
    // The ESME's submission, rewritten.
    assert_eq!(
        submit("33270000000").await.status(),
        rusmpp::CommandStatus::EsmeRok
    );
    assert_eq!(
        e.received(&e.sim, "33270000000").await.source_addr,
        "123456789"
    );
    // New content from the script, also for an ESME's octets.
    assert_eq!(
        submit("33280000000").await.status(),
        rusmpp::CommandStatus::EsmeRok
    );
    assert_eq!(
        e.received(&e.sim, "33280000000").await.short_message,
        b"HELLO"
    );
    assert_eq!(e.send("33280000001").await.0, 200);
    assert_eq!(
        e.received(&e.sim, "33280000001").await.short_message,
        b"HELLO"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = [
        "33200000000",
        "33210000000",
        "33220000000",
        "33230000000",
        "33240000000",
    ];
    assert!(
        !e.sim
            .received()
            .iter()
            .any(|r| refused.contains(&r.destination_addr.as_str())),
        "nothing intercepted reaches the SMSC"
    );
    assert_eq!(
        e.metric("smppsapi_interceptor_error_count")
            .await
            .as_deref(),
        Some("5")
    );
    assert_eq!(
        e.metric(&format!(
            "python_script_raised{{script=\"{}\"}}",
            script("own/raises.py")
        ))
        .await
        .as_deref(),
        Some("2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mo_scripts_charge_rewrite_and_refuse() {
    let rx = receiver().await;
    let e = env(&format!(
        r#"
[[httpccs]]
cid = "app"
url = "{}"
method = "POST"
[[moroutes]]
type = "DefaultRoute"
order = 0
connector = "http(app)"
[[filters]]
fid = "charge"
type = "DestinationAddrFilter"
destination_addr = "^1111"
[[filters]]
fid = "raise"
type = "DestinationAddrFilter"
destination_addr = "^2222"
[[filters]]
fid = "zero"
type = "DestinationAddrFilter"
destination_addr = "^3333"
[[filters]]
fid = "http"
type = "DestinationAddrFilter"
destination_addr = "^4444"
[[mointerceptors]]
type = "StaticMOInterceptor"
order = 10
filters = ["charge"]
script = "python3({})"
[[mointerceptors]]
type = "StaticMOInterceptor"
order = 20
filters = ["raise"]
script = "python3({})"
[[mointerceptors]]
type = "StaticMOInterceptor"
order = 30
filters = ["zero"]
script = "python3({})"
[[mointerceptors]]
type = "StaticMOInterceptor"
order = 40
filters = ["http"]
script = "python3({})"
[[mointerceptors]]
type = "DefaultInterceptor"
order = 0
script = "python3({})"
"#,
        rx.url("/mo"),
        script("jasmin-doc/mo_charging.py"),
        script("own/raises.py"),
        script("own/smpp_status_0.py"),
        script("own/http_status_404.py"),
        script("own/rewrite_mo.py"),
    ))
    .await;
    use rusmpp::CommandStatus as S;
    // MO charging whose service is unreachable (no socket leaves the sandbox): the script's
    // own `except` answers ESME_RDELIVERYFAILURE.
    assert_eq!(
        e.sim.inject_mo_statuses("33600000000", "1111", b"hi").await,
        vec![S::EsmeRdeliveryfailure]
    );
    assert_eq!(
        e.sim.inject_mo_statuses("33600000000", "2222", b"hi").await,
        vec![S::EsmeRsyserr]
    );
    assert_eq!(
        e.sim.inject_mo_statuses("33600000000", "3333", b"hi").await,
        vec![S::EsmeRsyserr],
        "smpp_status = 0 on MO is an error in Jasmin's listener"
    );
    assert_eq!(
        e.sim.inject_mo_statuses("33600000000", "4444", b"hi").await,
        vec![S::EsmeRunknownerr]
    );
    assert_eq!(rx.count(), 0, "nothing refused is delivered");
    assert_eq!(
        e.sim
            .inject_mo_statuses("33600000000", "5555", b"original")
            .await,
        vec![S::EsmeRok]
    );
    wait_for(10, "the MO at the application", || rx.count() == 1).await;
    assert_eq!(rx.calls()[0].get("content"), Some("ORIGINAL"));
    assert_eq!(
        e.metric("smppc_interceptor_error_count{cid=\"sim\"}")
            .await
            .as_deref(),
        Some("4")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_py_filters_route_by_user_and_connector() {
    let rx = receiver().await;
    let e = env(&format!(
        r#"
[[filters]]
fid = "notfoo"
type = "EvalPyFilter"
py_code = "{}"
[[filters]]
fid = "logs"
type = "EvalPyFilter"
py_code = "{}"
[[filters]]
fid = "db"
type = "EvalPyFilter"
py_code = "{}"
[[filters]]
fid = "yes"
type = "EvalPyFilter"
py_code = "{}"
[[filters]]
fid = "da3399"
type = "DestinationAddrFilter"
destination_addr = "^3399"
[[filters]]
fid = "da3398"
type = "DestinationAddrFilter"
destination_addr = "^3398"
[[filters]]
fid = "fromsim"
type = "EvalPyFilter"
py_code = "{}"
[[mtroutes]]
type = "StaticMTRoute"
order = 60
connector = "smppc(black)"
filters = ["notfoo"]
[[mtroutes]]
type = "StaticMTRoute"
order = 70
connector = "smppc(black)"
filters = ["db"]
[[mtroutes]]
type = "StaticMTRoute"
order = 80
connector = "smppc(black)"
filters = ["yes", "da3398"]
[[mtroutes]]
type = "StaticMTRoute"
order = 90
connector = "smppc(black)"
filters = ["logs", "da3399"]
[[httpccs]]
cid = "app"
url = "{}"
method = "POST"
[[httpccs]]
cid = "other"
url = "{}"
method = "POST"
[[moroutes]]
type = "DefaultRoute"
order = 0
connector = "http(other)"
[[moroutes]]
type = "StaticMORoute"
order = 10
connector = "http(app)"
filters = ["fromsim"]
"#,
        script("jasmin-doc/evalpy_user.py"),
        script("jasmin-doc/evalpy_logging.py"),
        script("jasmin-doc/evalpy_blacklist_db.py"),
        script("own/evalpy_not_bool.py"),
        script("own/evalpy_connector.py"),
        rx.url("/app"),
        rx.url("/other"),
    ))
    .await;
    // FAQ 3.15.3: users other than foo pass.
    assert_eq!(e.send("33600000001").await.0, 200);
    e.received(&e.sim, "33600000001").await;
    assert_eq!(e.send_as("bob", "bobpwd", "33600000002").await.0, 200);
    e.received(&e.black, "33600000002").await;
    // FAQ 3.15.4 (logging, result True for foo).
    assert_eq!(e.send("33990000000").await.0, 200);
    e.received(&e.black, "33990000000").await;
    // `result = 'yes'` is not True: no match.
    assert_eq!(e.send("33980000000").await.0, 200);
    e.received(&e.sim, "33980000000").await;
    // The database example: MySQLdb is not importable, the filter fails (counted), never
    // matches, and routing goes on.
    assert_eq!(
        e.metric(&format!(
            "python_script_raised{{script=\"{}\"}}",
            script("jasmin-doc/evalpy_blacklist_db.py")
        ))
        .await
        .as_deref()
        .map(|v| v.parse::<u64>().unwrap_or(0) >= 3),
        Some(true)
    );
    // MO: routable.connector.cid.
    assert_eq!(e.sim.inject_mo("33600000000", "1234", b"hi").await, 1);
    wait_for(10, "the MO at app", || rx.count() == 1).await;
    assert!(
        rx.calls()[0].path.starts_with("/app"),
        "{:?}",
        rx.calls()[0].path
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hlr_lookup_against_a_local_service() {
    // The service: {"mnc": "214", "mcc": "03"} for every lookup.
    let hlr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = hlr.local_addr().expect("addr").port();
    let bodies = Arc::new(parking_lot::Mutex::new(Vec::<String>::new()));
    let seen = bodies.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = hlr.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = vec![];
                loop {
                    let n = sock.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            seen.lock().push(format!("{head}\n\n{body}"));
                            let answer = r#"{"mnc": "214", "mcc": "03"}"#;
                            let _ = sock
                                .write_all(
                                    format!(
                                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                                        answer.len()
                                    )
                                    .as_bytes(),
                                )
                                .await;
                            return;
                        }
                    }
                }
            });
        }
    });
    // The corrected copy, pointed at the service; granted to it. The same script at another
    // path is not granted.
    let tmp = tempfile::tempdir().expect("tempdir");
    let fixed = std::fs::read_to_string(script("fixed/hlr_lookup.py"))
        .expect("script")
        .replace("HLR_PORT", &port.to_string());
    let granted = tmp.path().join("hlr.py");
    let denied = tmp.path().join("hlr_denied.py");
    std::fs::write(&granted, &fixed).expect("write");
    std::fs::write(&denied, &fixed).expect("write");
    let rules = [
        ("3330", script("jasmin-doc/hlr_lookup.py")),
        ("3331", granted.display().to_string()),
        ("3332", denied.display().to_string()),
    ];
    let rules: Vec<(&str, &str)> = rules.iter().map(|(p, s)| (*p, s.as_str())).collect();
    let e = env(&format!(
        "{}\n[[filters]]\nfid = \"orange\"\ntype = \"TagFilter\"\ntag = 21403\n[[mtroutes]]\ntype = \"StaticMTRoute\"\norder = 50\nconnector = \"smppc(black)\"\nfilters = [\"orange\"]\n[plugins.python.scripts.\"{}\"]\nallow_hosts = [\"127.0.0.1:{port}\"]\n",
        mt_interceptors(&rules),
        granted.display()
    ))
    .await;
    // As printed: bytes to json.dumps is a TypeError, the message fails as on Jasmin.
    assert_eq!(
        e.send("33300000000").await,
        (
            400,
            "Error \"Failed running interception script, check log for details\"".into()
        )
    );
    // Corrected: looked up, tagged, routed by the tag.
    assert_eq!(e.send("33310000000").await.0, 200);
    e.received(&e.black, "33310000000").await;
    let seen = bodies.lock().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].starts_with("POST /hlr/lookup"), "{}", seen[0]);
    assert!(
        seen[0].contains(r#"{"number": "33310000000"}"#),
        "{}",
        seen[0]
    );
    assert!(
        seen[0]
            .to_ascii_lowercase()
            .contains("authorization: basic dxnlcjoqkioqkg=="),
        "basic auth: {}",
        seen[0]
    );
    // Not granted: requests raises, the script does not catch it, the message fails.
    assert_eq!(e.send("33320000000").await.0, 400);
    assert_eq!(bodies.lock().len(), 1, "nothing reached the service");
    assert_eq!(
        e.metric(&format!(
            "python_script_denied{{script=\"{}\"}}",
            denied.display()
        ))
        .await
        .as_deref(),
        Some("1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_scripts_fail_their_message_only() {
    let rules = [
        ("3340", script("own/loops.py")),
        ("3341", script("own/allocates.py")),
        ("3342", script("own/socket_open.py")),
        ("3343", script("own/reads_file.py")),
        ("3344", script("own/raises.py")),
        ("3345", script("own/sleeps.py")),
    ];
    let rules: Vec<(&str, &str)> = rules.iter().map(|(p, s)| (*p, s.as_str())).collect();
    let sleeps = script("own/sleeps.py");
    let e = env(&format!(
        "{}\n[plugins.python.scripts.\"{sleeps}\"]\ntimeout_ms = 500\n",
        mt_interceptors(&rules)
    ))
    .await;
    let counter =
        |kind: &str, rel: &str| format!("python_script_{kind}{{script=\"{}\"}}", script(rel));
    for (i, (to, kind, rel)) in [
        ("33400000000", "timeouts", "own/loops.py"),
        ("33410000000", "memory", "own/allocates.py"),
        ("33420000000", "raised", "own/socket_open.py"),
        ("33430000000", "raised", "own/reads_file.py"),
        ("33440000000", "raised", "own/raises.py"),
        ("33450000000", "timeouts", "own/sleeps.py"),
    ]
    .into_iter()
    .enumerate()
    {
        let t = std::time::Instant::now();
        let (st, body) = e.send(to).await;
        assert_eq!(st, 400, "{to}: {body}");
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "{to} took {:?}",
            t.elapsed()
        );
        assert_eq!(
            e.metric(&counter(kind, rel)).await.as_deref(),
            Some("1"),
            "{to}"
        );
        // The next message goes through.
        let ok = format!("3360000000{i}");
        assert_eq!(e.send(&ok).await.0, 200, "after {to}");
        e.received(&e.sim, &ok).await;
    }
    // A syntax error is refused when the rule is added, with Python's message.
    let answers = e
        .jcli(&[
            "mtinterceptor -a",
            "type DefaultInterceptor",
            &format!("script python3({})", script("own/syntax_error.py")),
            "ko",
        ])
        .await;
    assert!(answers[2].starts_with("[Syntax]: "), "{answers:?}");
    assert!(answers[2].contains("line 1"), "{answers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_whose_heap_grew_is_replaced_by_a_fresh_one() {
    let grows = script("own/grows.py");
    let e = env(&mt_interceptors(&[("3347", &grows)])).await;
    let started = format!("python_script_instantiations{{script=\"{grows}\"}}");
    let count = || async {
        e.metric(&started)
            .await
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let send = |to: &'static str| {
        let e = &e;
        async move {
            let (st, body) = e.send(to).await;
            assert_eq!(st, 200, "{to}: {body}");
            e.received(&e.sim, to).await;
        }
    };
    send("33470000001").await;
    let first = count().await;
    assert!(first >= 1, "no instance counted");
    // A warm instance is reused...
    send("33470000002").await;
    assert_eq!(count().await, first, "the warm instance was not reused");
    // ...until a run grows its heap by 24 MB: it is retired after that run (CPython's heap
    // never shrinks inside an instance), and the next message gets a fresh one.
    send("33470000009").await;
    assert_eq!(count().await, first, "the growing run had its instance");
    send("33470000003").await;
    assert_eq!(count().await, first + 1, "the grown instance was kept");
    send("33470000004").await;
    assert_eq!(
        count().await,
        first + 1,
        "the fresh instance was not reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jcli_reads_and_compiles_scripts_when_rules_are_added() {
    let mut e = env("").await;
    let tmp = tempfile::tempdir().expect("tempdir");
    // The TON/NPI example as printed does not compile: refused with Python's message.
    let a = e
        .jcli(&[
            "mtinterceptor -a",
            "type DefaultInterceptor",
            &format!("script python3({})", script("jasmin-doc/ton_npi.py")),
            "ko",
        ])
        .await;
    assert!(a[2].starts_with("[Syntax]: invalid syntax"), "{a:?}");
    let a = e
        .jcli(&[
            "filter -a",
            "type EvalPyFilter",
            "pyCode /nonexistent/f.py",
            "ko",
        ])
        .await;
    assert_eq!(
        a[2],
        "[IO]: [Errno 2] No such file or directory: '/nonexistent/f.py'"
    );
    // Added from a file that then changes: the source read when the rule was added serves,
    // and is persisted with the profile; re-adding the rule reloads the file.
    let path = tmp.path().join("sender.py");
    std::fs::write(&path, "routable.pdu.params['source_addr'] = 'FIRST'\n").expect("write");
    let a = e
        .jcli(&[
            "mtinterceptor -a",
            "type DefaultInterceptor",
            &format!("script python3({})", path.display()),
            "ok",
        ])
        .await;
    assert!(a[3].contains("Successfully added MTInterceptor"), "{a:?}");
    std::fs::write(&path, "routable.pdu.params['source_addr'] = 'SECOND'\n").expect("write");
    assert_eq!(e.send("33500000000").await.0, 200);
    assert_eq!(e.received(&e.sim, "33500000000").await.source_addr, "FIRST");
    let persisted = e.jcli(&["persist"]).await;
    assert!(
        persisted[0].contains("mtinterceptor configuration persisted"),
        "{persisted:?}"
    );
    // After a restart, the persisted source serves, not the file's.
    e.restart().await;
    assert_eq!(e.send("33500000002").await.0, 200);
    assert_eq!(e.received(&e.sim, "33500000002").await.source_addr, "FIRST");
    e.jcli(&[
        "mtinterceptor -a",
        "type DefaultInterceptor",
        &format!("script python3({})", path.display()),
        "ok",
    ])
    .await;
    assert_eq!(e.send("33500000001").await.0, 200);
    assert_eq!(
        e.received(&e.sim, "33500000001").await.source_addr,
        "SECOND"
    );
    // jCli stats of the scripts.
    let stats = e.jcli(&["stats --scripts"]).await;
    assert!(stats[0].contains(&path.display().to_string()), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_runtime_is_a_clear_error_naming_the_build_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = format!(
        "{}\n[[mtinterceptors]]\ntype = \"DefaultInterceptor\"\norder = 0\nscript = \"python3({})\"\n[plugins.python]\nruntime = \"{}\"\n",
        config_toml(dir.path(), 0, free_port()),
        script("jasmin-doc/sender_override.py"),
        dir.path().join("nope.wasm").display()
    );
    let err = Gateway::start(load(&toml, dir.path()))
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("plugins/python/build.sh"), "{err}");
    assert!(err.contains("mtinterceptors[0]"), "{err}");
}

/// The management API's route tester runs the MT interceptors before routing, as the gateway
/// does (nothing is sent): a script that rewrites the destination moves the route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_tester_runs_the_interceptors() {
    use sha2::Digest;
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("to44.py");
    std::fs::write(
        &path,
        "routable.pdu.params['destination_addr'] = '4477000000'\n",
    )
    .expect("write");
    let token = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";
    let extra = format!(
        "{}[[filters]]\nfid = \"to44\"\ntype = \"DestinationAddrFilter\"\ndestination_addr = \"^44\"\n\
         [[mtroutes]]\ntype = \"StaticMTRoute\"\norder = 60\nconnector = \"smppc(black)\"\nfilters = [\"to44\"]\n\
         [admin]\nenabled = true\nport = 0\n[[admin.tokens]]\nname = \"t\"\nsha256 = \"{}\"\nrole = \"read-only\"\n",
        mt_interceptors(&[("3377", &path.display().to_string())]),
        hex::encode(sha2::Sha256::digest(token.as_bytes()))
    );
    let e = env(&extra).await;
    let api = e.gw.admin_addr().expect("admin");
    let route = |to: &'static str| async move {
        let body = serde_json::json!({"username": "foo", "to": to}).to_string();
        let req = format!(
            "POST /api/v1/route-test HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(api).await.expect("connect");
        s.write_all(req.as_bytes()).await.expect("write");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out).await;
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        serde_json::from_str::<serde_json::Value>(body).unwrap_or_else(|_| panic!("{out}"))
    };
    // Without the interceptor's prefix: the default route.
    let v = route("3366000000").await;
    assert_eq!(v["route"]["connector"], "smppc(sim)", "{v}");
    // With it: the script rewrites the destination, and the route follows.
    let v = route("3377000000").await;
    assert_eq!(v["route"]["connector"], "smppc(black)", "{v}");
    assert_eq!(v["destination"], "4477000000", "{v}");
    assert_eq!(v["intercepted"], false, "{v}");
    // Nothing was sent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(e.sim.submit_count() + e.black.submit_count(), 0);
}
