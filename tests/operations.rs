//! Running it in production: readiness (`/ready`), process metrics, systemd notifications
//! (`NOTIFY_SOCKET`) and the configuration reloaded on SIGHUP under load. The SIGHUP test runs
//! the real `smsgate` binary, as systemd's `ExecReload` would signal it.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use parking_lot::Mutex;
use rusmpp::CommandStatus;
use smsgate::config::Config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_reports_store_broker_listeners_and_connectors_and_not_ready_when_stopping() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("tmp");
    let http_port = free_port();
    // A second connector towards an SMSC that is down (nothing listens on its port).
    let dead = format!(
        "{}[[smppccs]]\ncid = \"dead\"\nhost = \"127.0.0.1\"\nport = {}\ncon_fail_delay = 1\n",
        config_toml(dir.path(), http_port, sim.addr.port()),
        free_port()
    );
    let gw = gateway(load(&dead, dir.path())).await;
    let addr: std::net::SocketAddr = format!("127.0.0.1:{http_port}").parse().expect("addr");
    wait_for(10, "connector sim bound", || {
        sim.stats().binds.load(Ordering::Relaxed) > 0
    })
    .await;
    let mut report = serde_json::Value::Null;
    for _ in 0..100 {
        let (status, body) = get(addr, "/ready").await;
        assert_eq!(status, 200, "{body}");
        report = serde_json::from_str(&body).expect("json");
        if report["connectors"]["sim"] == "bound" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(report["ready"], true, "{report}");
    assert_eq!(report["phase"], "serving", "{report}");
    assert_eq!(report["store"], "ok", "{report}");
    assert_eq!(report["broker"], "ok", "{report}");
    assert_eq!(report["connectors"]["sim"], "bound", "{report}");
    assert_eq!(
        report["listeners"]["http-api"],
        addr.to_string(),
        "{report}"
    );
    let smpp = gw.smpp_addr().expect("smpp server").to_string();
    assert_eq!(report["listeners"]["smpp-server"], smpp, "{report}");
    let jcli = gw.jcli_addr().expect("jcli").to_string();
    assert_eq!(report["listeners"]["jcli"], jcli, "{report}");

    // An SMSC that is down does not take the node out of the load balancer.
    assert!(
        matches!(
            report["connectors"]["dead"].as_str(),
            Some("connecting" | "disconnected")
        ),
        "{report}"
    );

    // Process metrics beside the gateway's own.
    let (_, metrics) = get(addr, "/metrics").await;
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics"))
    };
    assert!(
        metrics.contains(&format!(
            "smsgate_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{metrics}"
    );
    assert!(value("process_resident_memory_bytes") > 1e6);
    assert!(value("process_open_fds") >= 4.0);
    assert!(value("process_max_fds") >= value("process_open_fds"));
    assert!(value("process_cpu_seconds_total") > 0.0);
    assert!(value("process_threads") >= 2.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs_f64();
    let start = value("process_start_time_seconds");
    assert!(
        start <= now + 1.0 && start > now - 3600.0,
        "{start} vs {now}"
    );

    // Shutting down: not ready at once, before the listeners close.
    gw.health.stopping();
    let (status, body) = get(addr, "/ready").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(r#""phase":"stopping""#), "{body}");
    gw.shutdown().await;
}

/// The states systemd would read on `NOTIFY_SOCKET`.
struct Notifications {
    sock: tokio::net::UnixDatagram,
}

impl Notifications {
    /// Wait for each of `want` in order (other states in between are returned too).
    async fn expect(&self, want: &[&str]) -> Vec<String> {
        let mut seen = vec![];
        let mut want: Vec<&str> = want.to_vec();
        let mut buf = [0u8; 4096];
        while !want.is_empty() {
            let n = tokio::time::timeout(Duration::from_secs(60), self.sock.recv(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("no {want:?} on NOTIFY_SOCKET; got {seen:?}"))
                .expect("recv");
            for state in String::from_utf8_lossy(&buf[..n]).lines() {
                if want.first() == Some(&state) {
                    want.remove(0);
                }
                seen.push(state.to_string());
            }
        }
        seen
    }
}

fn signal(child: &Child, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
}

fn extra_toml(sim2_port: u16) -> String {
    format!(
        r#"
[[users]]
username = "newbie"
password = "newpw"
gid = "g1"
[[smppccs]]
cid = "sim2"
host = "127.0.0.1"
port = {sim2_port}
con_fail_delay = 1
con_loss_delay = 1
requeue_delay = 1
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_the_file_under_load_without_losing_messages_or_sessions() {
    let sim1 = simulator().await;
    let sim2 = simulator().await;
    let dir = tempfile::tempdir().expect("tmp");
    let http_port = free_port();
    let base = config_toml(dir.path(), http_port, sim1.addr.port()).replace(
        "log = \"warn\"",
        "log = \"info,smsgate_gateway=warn,smsgate_smpp=warn\"",
    );
    let cfg_path = dir.path().join("smsgate.toml");
    std::fs::write(&cfg_path, &base).expect("config");
    let notify_path = dir.path().join("notify");
    let notes = Notifications {
        sock: tokio::net::UnixDatagram::bind(&notify_path).expect("notify socket"),
    };
    let log_path = dir.path().join("gateway.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .arg("--config")
        .arg(&cfg_path)
        .env("NOTIFY_SOCKET", &notify_path)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).expect("log"))
        .spawn()
        .map(Guard)
        .expect("spawn smsgate");
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    // READY=1 only once everything listens: /ready answers at once, no retry.
    notes.expect(&["READY=1"]).await;
    let http: std::net::SocketAddr = format!("127.0.0.1:{http_port}").parse().expect("addr");
    let (status, body) = get(http, "/ready").await;
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).expect("json");
    let listener = |name: &str| -> std::net::SocketAddr {
        report["listeners"][name]
            .as_str()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {report}"))
    };
    let (smpp, jcli) = (listener("smpp-server"), listener("jcli"));
    wait_for(10, "connector sim bound", || {
        sim1.stats().binds.load(Ordering::Relaxed) > 0
    })
    .await;

    // Load through both doors while the file changes under it.
    let (esme, _esme_rx, st) = esme_bind(smpp, "trx", "foo", "bar").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    let esme = Arc::new(esme);
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(vec![]));
    let mut load = vec![];
    for door in 0..2u32 {
        let (stop, acked, esme) = (stop.clone(), acked.clone(), esme.clone());
        load.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let to = format!("3{door}{n:07}");
                n += 1;
                let ok = if door == 0 {
                    let (st, body) = get(
                        http,
                        &format!("/send?username=foo&password=bar&to={to}&content=hup"),
                    )
                    .await;
                    st == 200 && body.starts_with("Success")
                } else {
                    let r = esme.request(submit_sm(&to, b"hup", 0)).await.expect("resp");
                    r.status() == CommandStatus::EsmeRok
                };
                assert!(ok, "message to {to} refused during the reload");
                acked.lock().push(to);
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The file gains a user and a connector, and the default route moves to it.
    let moved = format!("{base}{}", extra_toml(sim2.addr.port())).replace(
        "order = 0\nconnector = \"smppc(sim)\"",
        "order = 0\nconnector = \"smppc(sim2)\"",
    );
    assert_ne!(moved, base);
    std::fs::write(&cfg_path, &moved).expect("config");
    signal(&child, "-HUP");
    let seen = notes.expect(&["RELOADING=1", "READY=1"]).await;
    assert!(
        seen.iter().any(|s| s.starts_with("MONOTONIC_USEC=")),
        "{seen:?}"
    );
    wait_for(20, "the reload", || {
        log().contains("configuration reloaded")
    })
    .await;
    let (st, body) = get(
        http,
        "/send?username=newbie&password=newpw&to=3399&content=new",
    )
    .await;
    assert!(st == 200 && body.starts_with("Success"), "{st} {body}");
    acked.lock().push("3399".into());
    wait_for(20, "messages routed to sim2", || sim2.submit_count() > 0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.await.expect("load task");
    }

    // Nothing acknowledged is lost: every destination reached one of the SMSCs.
    let acked: Vec<String> = acked.lock().clone();
    assert!(acked.len() > 50, "too little load: {}", acked.len());
    let reached = || -> HashSet<String> {
        sim1.received()
            .into_iter()
            .chain(sim2.received())
            .map(|r| r.destination_addr)
            .collect()
    };
    wait_for(30, "every acknowledged message at an SMSC", || {
        acked.iter().all(|to| reached().contains(to))
    })
    .await;
    assert!(sim1.submit_count() > 0 && sim2.submit_count() > 0);
    // The unchanged connector was never restarted; the ESME's session never dropped.
    assert_eq!(sim1.stats().binds.load(Ordering::Relaxed), 1);
    let r = esme
        .request(submit_sm("3400", b"still bound", 0))
        .await
        .expect("the ESME session survived the reload");
    assert_eq!(r.status(), CommandStatus::EsmeRok);
    // Log lines are written by the gateway's logging thread: give a warning that would follow
    // the reload's line time to land before saying there is none.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !log().contains("take effect at the next start"),
        "only managed sections changed: {}",
        log()
    );

    // A persisted profile wins over the file, as at start: removing newbie from the file
    // changes nothing once the console persisted it.
    let out = jcli_session(jcli, &["persist"]).await;
    assert!(out[0].contains("persisted (profile:jcli-prod)"), "{out:?}");
    std::fs::write(
        &cfg_path,
        base.replace(
            "port = 0\n[rest-api]",
            "port = 0\n[rest-api]\nmax_body_bytes = 4096",
        ),
    )
    .expect("config");
    signal(&child, "-HUP");
    notes.expect(&["RELOADING=1", "READY=1"]).await;
    wait_for(20, "the second reload", || {
        log().contains("persisted profile jcli-prod")
    })
    .await;
    let (st, body) = get(
        http,
        "/send?username=newbie&password=newpw&to=3401&content=kept",
    )
    .await;
    assert!(st == 200 && body.starts_with("Success"), "{st} {body}");
    wait_for(10, "a changed listener section named in the log", || {
        log().contains("take effect at the next start") && log().contains("rest-api")
    })
    .await;

    // A broken file is refused; the gateway keeps serving with what it had.
    std::fs::write(&cfg_path, "this is [not toml").expect("config");
    signal(&child, "-HUP");
    notes.expect(&["RELOADING=1", "READY=1"]).await;
    wait_for(10, "the broken file refused in the log", || {
        log().contains("configuration reload refused")
    })
    .await;
    let (st, body) = get(
        http,
        "/send?username=newbie&password=newpw&to=3402&content=kept",
    )
    .await;
    assert!(st == 200 && body.starts_with("Success"), "{st} {body}");

    signal(&child, "-TERM");
    notes.expect(&["STOPPING=1"]).await;
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success(), "{status:?}\n{}", log());
}

/// A gateway process with `log_section` and two connectors: `sim` (`logprivacy = yes`) and
/// `open`; MO from either goes to an HTTP receiver. Returns what it logged after an MT to
/// each connector (one with a receipt) and an MO from each.
async fn traffic_log(log_section: &str, tag: &str) -> (String, [String; 8]) {
    let sim = simulator().await;
    let open = simulator().await;
    let rcv = receiver().await;
    let dir = tempfile::tempdir().expect("tmp");
    let http_port = free_port();
    let cfg = config_toml(dir.path(), http_port, sim.addr.port())
        .replace("log = \"warn\"\n", log_section)
        .replace(
            "requeue_delay = 1\n",
            "requeue_delay = 1\nlogprivacy = true\n",
        )
        .replace(
            "[[filters]]\nfid = \"bobf\"",
            &format!(
                "[[smppccs]]\ncid = \"open\"\nhost = \"127.0.0.1\"\nport = {}\ncon_fail_delay = 1\n[[httpccs]]\ncid = \"rcv\"\nurl = \"{}\"\nmethod = \"GET\"\n[[moroutes]]\ntype = \"DefaultRoute\"\norder = 0\nconnector = \"http(rcv)\"\n[[filters]]\nfid = \"openf\"\ntype = \"DestinationAddrFilter\"\ndestination_addr = \"^44\"\n[[mtroutes]]\ntype = \"StaticMTRoute\"\norder = 20\nconnector = \"smppc(open)\"\nfilters = [\"openf\"]\n[[filters]]\nfid = \"bobf\"",
                open.addr.port(),
                rcv.url("/mo")
            ),
        );
    let cfg_path = dir.path().join("smsgate.toml");
    std::fs::write(&cfg_path, cfg).expect("config");
    let log_path = dir.path().join("gateway.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .arg("--config")
        .arg(&cfg_path)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).expect("log"))
        .spawn()
        .map(Guard)
        .expect("spawn smsgate");
    let http: std::net::SocketAddr = format!("127.0.0.1:{http_port}").parse().expect("addr");
    wait_for(30, "both connectors bound", || {
        sim.stats().binds.load(Ordering::Relaxed) > 0
            && open.stats().binds.load(Ordering::Relaxed) > 0
    })
    .await;
    // Secrets of this run: numbers and texts that must not show where masked.
    let secrets = [
        format!("33612{tag}0001"),
        format!("mt-private-{tag}"),
        format!("44702{tag}0002"),
        format!("mt-open-{tag}"),
        format!("33792{tag}0003"),
        format!("mo-private-{tag}"),
        format!("44792{tag}0004"),
        format!("mo-open-{tag}"),
    ];
    for (to, content) in [(&secrets[0], &secrets[1]), (&secrets[2], &secrets[3])] {
        let (st, body) = get(
            http,
            &format!("/send?username=foo&password=bar&to={to}&content={content}&dlr=yes&dlr-url=http://127.0.0.1:1/&dlr-level=2"),
        )
        .await;
        assert!(st == 200 && body.starts_with("Success"), "{st} {body}");
    }
    wait_for(20, "both MT at their SMSC", || {
        sim.submit_count() == 1 && open.submit_count() == 1
    })
    .await;
    let r = sim.received()[0].clone();
    assert_eq!(r.destination_addr, secrets[0]);
    assert_eq!(
        sim.inject_receipt(&r.message_id, &secrets[0], "1234").await,
        1
    );
    assert_eq!(
        sim.inject_mo(&secrets[4], "1234", secrets[5].as_bytes())
            .await,
        1
    );
    assert_eq!(
        open.inject_mo(&secrets[6], "1234", secrets[7].as_bytes())
            .await,
        1
    );
    wait_for(20, "both MO at the receiver", || rcv.count() == 2).await;
    wait_for(10, "the receipt's line", || {
        std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .contains("DLR")
    })
    .await;
    signal(&child, "-TERM");
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    (
        std::fs::read_to_string(&log_path).unwrap_or_default(),
        secrets,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_log_masks_numbers_and_content_per_connector_and_globally() {
    // Text lines; the `sim` connector has logprivacy, `open` has not.
    let (log, s) = traffic_log("log = \"info\"\n", "11").await;
    let lines: Vec<&str> = log.lines().collect();
    let line = |kind: &str, needle: &str| -> &str {
        lines
            .iter()
            .find(|l| l.contains("smsgate::messages") && l.contains(kind) && l.contains(needle))
            .unwrap_or_else(|| panic!("no {kind} line with {needle}:\n{log}"))
    };
    // What goes through `open` is logged in full, so a leak would be seen.
    let mt_open = line("SMS-MT", &s[2]);
    assert!(
        mt_open.contains(&s[3])
            && mt_open.contains("ESME_ROK")
            && mt_open.contains("connector=open"),
        "{mt_open}"
    );
    assert!(line("SMS-MO", &s[6]).contains(&s[7]));
    // What goes through `sim` shows only the last digits and the length, in every line.
    for secret in &s[0..2].iter().chain(&s[4..6]).collect::<Vec<_>>() {
        assert!(!log.contains(secret.as_str()), "{secret} leaked:\n{log}");
    }
    let mt_private = line("SMS-MT", "connector=sim");
    assert!(
        mt_private.contains(&format!("********{}", &s[0][8..])),
        "{mt_private}"
    );
    assert!(
        mt_private.contains(&format!("** {} characters **", s[1].len())),
        "{mt_private}"
    );
    assert!(
        line("DLR", "connector=sim").contains("stat=DELIVRD"),
        "{log}"
    );

    // JSON lines with privacy on for everything: nothing sent shows anywhere.
    let (log, s) = traffic_log(
        "[log]\nfilter = \"info\"\nformat = \"json\"\nprivacy = true\n",
        "22",
    )
    .await;
    let mut kinds = HashSet::new();
    for l in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"));
        if v["target"] == "smsgate::messages" {
            kinds.insert(v["kind"].as_str().unwrap_or_default().to_string());
            if v["kind"] == "MT" {
                assert_eq!(v["status"], "ESME_ROK", "{l}");
                assert!(v["latency_ms"].as_i64().is_some(), "{l}");
            }
        }
    }
    assert_eq!(
        kinds,
        ["MT", "MO", "DLR"].iter().map(|k| k.to_string()).collect(),
        "{log}"
    );
    for secret in &s {
        assert!(!log.contains(secret.as_str()), "{secret} leaked:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jcli_lists_peeks_moves_and_purges_a_connector_backlog() {
    let sim = simulator().await;
    let rcv = receiver().await;
    let dir = tempfile::tempdir().expect("tmp");
    let http_port = free_port();
    // `down` points at an SMSC that never answers; the default route goes to it.
    let cfg = config_toml(dir.path(), http_port, sim.addr.port()).replace(
        "order = 0\nconnector = \"smppc(sim)\"",
        "order = 0\nconnector = \"smppc(down)\"",
    ) + &format!(
        "[[smppccs]]\ncid = \"down\"\nhost = \"127.0.0.1\"\nport = {}\ncon_fail_delay = 1\n",
        free_port()
    );
    let gw = gateway(load(&cfg, dir.path())).await;
    let http: std::net::SocketAddr = format!("127.0.0.1:{http_port}").parse().expect("addr");
    let jcli = gw.jcli_addr().expect("jcli");
    let dlr_url = rcv.url("/dlr");
    let send = |to: String| {
        let target = format!(
            "/send?username=foo&password=bar&to={to}&content=queued&dlr=yes&dlr-level=1&dlr-method=GET&dlr-url={dlr_url}"
        );
        async move {
            let (st, body) = get(http, &target).await;
            assert!(st == 200 && body.starts_with("Success"), "{st} {body}");
        }
    };
    for i in 0..4 {
        send(format!("3360000000{i}")).await;
    }
    let (_, metrics) = get(http, "/metrics").await;
    for gauge in [
        "smsgate_queue_ready{cid=\"down\"} 4",
        "smsgate_queue_delayed{cid=\"down\"} 0",
        "smsgate_queue_unacked{cid=\"down\"} 0",
        "smsgate_queue_ready{cid=\"sim\"} 0",
    ] {
        assert!(metrics.contains(gauge), "{gauge} missing:\n{metrics}");
    }
    let out = jcli_session(
        jcli,
        &[
            "queue -l",
            "queue -p down --count 2",
            "queue -p nosuch",
            "queue --move down",
            "queue --move down --to down",
            "queue --move down --to sim",
        ],
    )
    .await;
    let down_row = out[0]
        .lines()
        .find(|l| l.starts_with("#down "))
        .unwrap_or_else(|| panic!("{out:?}"));
    assert_eq!(
        down_row.split_whitespace().collect::<Vec<_>>(),
        ["#down", "4", "0", "0"],
        "{out:?}"
    );
    assert!(out[0].ends_with("Total queues: 2"), "{out:?}");
    assert_eq!(out[1].lines().count(), 4, "{out:?}");
    assert!(
        out[1].contains("33600000000") && out[1].contains("33600000001"),
        "{out:?}"
    );
    assert!(!out[1].contains("33600000002"), "{out:?}");
    assert!(out[1].ends_with("Total messages shown: 2"), "{out:?}");
    assert_eq!(out[2], "Unknown connector: nosuch");
    assert_eq!(out[3], "--move needs --to CID");
    assert_eq!(out[4], "--move and --to name the same connector");
    assert_eq!(out[5], "Moved 4 messages from down to sim");
    wait_for(20, "the moved messages at sim", || sim.submit_count() == 4).await;

    // Purged messages end like failed ones: recorded, their failure receipts thrown.
    for i in 4..7 {
        send(format!("3360000000{i}")).await;
    }
    let out = jcli_session(jcli, &["queue --purge down", "queue -l"]).await;
    assert_eq!(out[0], "Purged 3 messages of down", "{out:?}");
    let down_row = out[1]
        .lines()
        .find(|l| l.starts_with("#down "))
        .unwrap_or_else(|| panic!("{out:?}"));
    assert_eq!(
        down_row.split_whitespace().collect::<Vec<_>>(),
        ["#down", "0", "0", "0"],
        "{out:?}"
    );
    wait_for(20, "three PURGED receipts", || {
        rcv.calls()
            .iter()
            .filter(|c| c.get("message_status") == Some("PURGED"))
            .count()
            == 3
    })
    .await;
    // The moved ones got their SMSC's ESME_ROK receipts.
    wait_for(20, "four ESME_ROK receipts", || {
        rcv.calls()
            .iter()
            .filter(|c| c.get("message_status") == Some("ESME_ROK"))
            .count()
            == 4
    })
    .await;
    assert_eq!(sim.submit_count(), 4, "nothing purged was sent");
    let (_, metrics) = get(http, "/metrics").await;
    assert!(metrics.contains("\nqueue_moved_count 4\n"), "{metrics}");
    assert!(metrics.contains("\nqueue_purged_count 3\n"), "{metrics}");
    gw.shutdown().await;
}

/// The metric names a PromQL expression reads (smsgate's and Jasmin's families).
fn metric_names(expr: &str) -> Vec<String> {
    let re = regex::Regex::new(
        r"\b(?:smsgate|httpapi|smppc|smppsapi|queue|process|dlr_thrower|deliversm_thrower|inbound|callback)_[a-z_]+\b",
    )
    .expect("regex");
    re.find_iter(expr).map(|m| m.as_str().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_under_traffic_and_every_dashboard_query_has_data() {
    let sim = smsgate::simulator::Simulator::start(smsgate::simulator::SimConfig {
        bind: "127.0.0.1:0".parse().expect("addr"),
        hex_ids: true,
        dlr_delay: Some(Duration::from_millis(20)),
        throttle_percent: 0,
        pdu_log: None,
        keep_messages: true,
    })
    .await
    .expect("simulator");
    let rcv = receiver().await;
    let dir = tempfile::tempdir().expect("tmp");
    let http_port = free_port();
    // A connector to an SMSC that is down, for a backlog that ages (route: `^99`).
    let cfg = config_toml(dir.path(), http_port, sim.addr.port())
        + &format!(
            "[[httpccs]]\ncid = \"rcv\"\nurl = \"{}\"\nmethod = \"GET\"\n[[moroutes]]\ntype = \"DefaultRoute\"\norder = 0\nconnector = \"http(rcv)\"\n[[smppccs]]\ncid = \"down\"\nhost = \"127.0.0.1\"\nport = {}\ncon_fail_delay = 1\n[[mtroutes]]\ntype = \"StaticMTRoute\"\norder = 20\nconnector = \"smppc(down)\"\nfilters = [\"nofr\"]\n",
            rcv.url("/mo"),
            free_port()
        );
    let gw = gateway(load(&cfg, dir.path())).await;
    let http: std::net::SocketAddr = format!("127.0.0.1:{http_port}").parse().expect("addr");
    wait_for(10, "connector bound", || {
        sim.stats().binds.load(Ordering::Relaxed) > 0
    })
    .await;
    let before = get(http, "/metrics").await.1;

    // Traffic through every door and back: HTTP with receipts, the SMPP server, MO; and one
    // message that waits.
    let (st, body) = get(http, "/send?username=foo&password=bar&to=9912345&content=w").await;
    assert!(st == 200 && body.starts_with("Success"), "{st} {body}");
    let waiting_since = std::time::Instant::now();
    for i in 0..5 {
        let (st, body) = get(
            http,
            &format!(
                "/send?username=foo&password=bar&to=3361000000{i}&content=m&dlr=yes&dlr-level=3&dlr-method=GET&dlr-url={}",
                rcv.url("/dlr")
            ),
        )
        .await;
        assert!(st == 200 && body.starts_with("Success"), "{st} {body}");
    }
    let (esme, _rx, st) = esme_bind(gw.smpp_addr().expect("smpp"), "trx", "foo", "bar").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    let r = esme
        .request(submit_sm("33620000000", b"m", 0))
        .await
        .expect("resp");
    assert_eq!(r.status(), CommandStatus::EsmeRok);
    assert_eq!(sim.inject_mo("33630000000", "1234", b"mo").await, 1);
    wait_for(
        20,
        "receipts (levels 1 and 2) and the MO at the receiver",
        || rcv.count() >= 11,
    )
    .await;
    let metrics = get(http, "/metrics").await.1;
    let value = |text: &str, series: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(series) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum()
    };
    for h in [
        "smsgate_http_response_seconds",
        "smsgate_smpp_response_seconds",
        "smsgate_mt_to_smsc_seconds",
        "smsgate_mt_to_receipt_seconds",
        "smsgate_callback_seconds",
    ] {
        let count = value(&metrics, &format!("{h}_count"));
        assert!(
            count > value(&before, &format!("{h}_count")),
            "{h} did not move: {count}"
        );
        assert!(metrics.contains(&format!("# TYPE {h} histogram")), "{h}");
        assert_eq!(
            value(&metrics, &format!("{h}_bucket{{le=\"+Inf\"}}")),
            count,
            "{h}: +Inf bucket = count"
        );
    }
    assert!(
        value(&metrics, "process_cpu_seconds_total") > value(&before, "process_cpu_seconds_total")
    );
    assert_eq!(value(&metrics, "smsgate_queue_ready{cid=\"sim\"}"), 0.0);
    // The oldest message's age: 0 for an empty queue, the waiting one's age for `down`.
    assert_eq!(
        value(&metrics, "smsgate_queue_oldest_age_seconds{cid=\"sim\"}"),
        0.0
    );
    let age = value(&metrics, "smsgate_queue_oldest_age_seconds{cid=\"down\"}");
    let waited = waiting_since.elapsed().as_secs_f64();
    assert!(
        age > 0.0 && age <= waited + 1.0,
        "oldest age {age} s for a message waiting {waited} s"
    );
    assert_eq!(value(&metrics, "smsgate_queue_ready{cid=\"down\"}"), 1.0);
    assert!(metrics.contains("smsgate_queue_unacked{cid=\"sim\"}"));
    for q in [
        "dlr_thrower.http",
        "deliver_sm_thrower.http",
        "smsgate.dlr.retry",
        "rest.batch",
    ] {
        assert!(
            metrics.contains(&format!("smsgate_queue_ready{{queue=\"{q}\"}} ")),
            "{q} missing:\n{metrics}"
        );
    }

    // Every query of the shipped dashboard reads series that exist now.
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("deploy/grafana/dashboards/smsgate.json"),
        )
        .expect("dashboard"),
    )
    .expect("dashboard JSON");
    let panels = dash["panels"].as_array().expect("panels");
    assert!(panels.len() >= 10);
    let mut checked = HashSet::new();
    for p in panels {
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {} has no query", p["title"]);
        for t in targets {
            let expr = t["expr"].as_str().expect("expr");
            let names = metric_names(expr);
            assert!(!names.is_empty(), "no metric in {expr}");
            for name in names {
                let has_data = metrics.lines().any(|l| {
                    !l.starts_with('#')
                        && (l.starts_with(&format!("{name} "))
                            || l.starts_with(&format!("{name}{{")))
                });
                assert!(
                    has_data,
                    "panel {}: {name} has no series in /metrics",
                    p["title"]
                );
                checked.insert(name);
            }
        }
    }
    assert!(checked.len() >= 25, "{checked:?}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_everything_acknowledged_before_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let http_port = free_port();
    // The SMSC is down while the messages are accepted: they all wait in the queue.
    let smsc_port = free_port();
    let cfg_path = dir.path().join("smsgate.toml");
    std::fs::write(&cfg_path, config_toml(dir.path(), http_port, smsc_port)).expect("config");
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_smsgate"))
            .arg("--config")
            .arg(&cfg_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(Guard)
            .expect("spawn smsgate")
    };
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_smsgate"))
            .arg("--config")
            .arg(&cfg_path)
            .args(args)
            .output()
            .expect("run smsgate")
    };
    let http: std::net::SocketAddr = format!("127.0.0.1:{http_port}").parse().expect("addr");
    let mut gw = spawn();
    wait_for_ready(http).await;

    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(vec![]));
    let mut load = vec![];
    for c in 0..4u32 {
        let (stop, acked) = (stop.clone(), acked.clone());
        load.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let to = format!("35{c}{n:06}");
                n += 1;
                let (st, body) = get(
                    http,
                    &format!("/send?username=foo&password=bar&to={to}&content=b"),
                )
                .await;
                assert!(st == 200 && body.starts_with("Success"), "{st} {body}");
                acked.lock().push(to);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Everything acknowledged before the backup starts must come back.
    let before: Vec<String> = acked.lock().clone();
    let backup = dir.path().join("backup.db");
    let backup_arg = backup.to_string_lossy().into_owned();
    let out = tokio::task::spawn_blocking({
        let cli_path = cfg_path.clone();
        let b = backup_arg.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_smsgate"))
                .arg("--config")
                .arg(&cli_path)
                .args(["backup", "--out", &b])
                .output()
                .expect("backup")
        }
    })
    .await
    .expect("join");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let queued: usize = text
        .trim_end()
        .split(", ")
        .find_map(|p| p.strip_suffix(" queued messages")?.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.await.expect("load");
    }
    let total = acked.lock().len();
    assert!(
        before.len() >= 20 && total > before.len(),
        "{} then {total}",
        before.len()
    );
    assert!(
        queued >= before.len() && queued <= total,
        "{queued} queued, {} before, {total} in all",
        before.len()
    );
    // The same name twice is refused; a restore while the gateway runs too.
    assert!(!cli(&["backup", "--out", &backup_arg]).status.success());
    let refused = cli(&["restore", "--from", &backup_arg]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("stop the gateway"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    signal(&gw, "-TERM");
    let _ = tokio::task::spawn_blocking(move || gw.wait()).await;
    let restored = cli(&["restore", "--from", &backup_arg]);
    let text = String::from_utf8_lossy(&restored.stdout).into_owned();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert!(
        text.contains(&format!("{queued} queued messages")) && text.contains("before-restore-"),
        "{text}"
    );

    // The SMSC comes back; the restored gateway delivers all that the backup held.
    let sim = simulator_on(format!("127.0.0.1:{smsc_port}").parse().expect("addr")).await;
    let mut gw = spawn();
    wait_for(
        60,
        "every message acknowledged before the backup at the SMSC",
        || {
            let got: HashSet<String> = sim
                .received()
                .into_iter()
                .map(|r| r.destination_addr)
                .collect();
            before.iter().all(|to| got.contains(to))
        },
    )
    .await;
    wait_for(30, "everything the backup held", || {
        sim.submit_count() as usize >= queued
    })
    .await;
    let _ = gw.kill();
    let _ = gw.wait();
}

async fn wait_for_ready(http: std::net::SocketAddr) {
    for _ in 0..300 {
        if get_maybe(http, "/ready").await == Some(200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the gateway did not become ready");
}

/// The status of GET `target`, or None when nothing answers.
async fn get_maybe(addr: std::net::SocketAddr, target: &str) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    s.write_all(format!("GET {target} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut buf = vec![];
    s.read_to_end(&mut buf).await.ok()?;
    std::str::from_utf8(buf.get(9..12)?).ok()?.parse().ok()
}

/// A copy of upgrade fixture `db` (in `dir`) whose queued messages were accepted just now: the
/// times in their bodies (`created_at`, `expires_at`: a day's validity) are moved by the
/// fixture's age, byte for byte otherwise, so the messages have not expired by the time the
/// test runs (they had, a day after the fixture was written).
fn shifted_to_now(db: &std::path::Path, dir: &std::path::Path) -> std::path::PathBuf {
    let copy = dir.join(db.file_name().expect("file name"));
    std::fs::copy(db, &copy).expect("copy the fixture");
    let c = rusqlite::Connection::open(&copy).expect("open the copy");
    let rows: Vec<(i64, Vec<u8>)> = c
        .prepare("SELECT id, body FROM queue")
        .expect("select")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    let times = regex::bytes::Regex::new(r#""(created_at|expires_at)":(\d+)"#).expect("regex");
    let created = rows
        .iter()
        .filter_map(|(_, body)| {
            times
                .captures_iter(body)
                .filter(|t| &t[1] == b"created_at")
                .find_map(|t| std::str::from_utf8(&t[2]).ok()?.parse::<i64>().ok())
        })
        .min()
        .expect("the fixture has queued messages");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let age = (now - created).max(0);
    for (id, body) in rows {
        let moved = times.replace_all(&body, |t: &regex::bytes::Captures| {
            let at: i64 = std::str::from_utf8(&t[2])
                .expect("digits")
                .parse()
                .expect("a time in ms");
            let key = std::str::from_utf8(&t[1]).expect("key");
            format!("\"{key}\":{}", at + age).into_bytes()
        });
        c.execute(
            "UPDATE queue SET body = ?2 WHERE id = ?1",
            rusqlite::params![id, moved.as_ref()],
        )
        .expect("update");
    }
    copy
}

/// Databases left by earlier releases with messages queued (`scripts/make-upgrade-fixture.sh`
/// writes one per release into tests/data/upgrade): this build opens each and delivers
/// everything in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_written_by_an_earlier_release_opens_and_drains() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/upgrade");
    let mut seen = 0;
    for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
        let fixture = entry.expect("entry").path();
        if fixture.extension().and_then(|e| e.to_str()) != Some("db") {
            continue;
        }
        seen += 1;
        let sim = simulator().await;
        let dir = tempfile::tempdir().expect("tmp");
        let fixture = shifted_to_now(&fixture, dir.path());
        let http_port = free_port();
        let cfg_path = dir.path().join("smsgate.toml");
        std::fs::write(
            &cfg_path,
            config_toml(dir.path(), http_port, sim.addr.port()),
        )
        .expect("config");
        let restored = Command::new(env!("CARGO_BIN_EXE_smsgate"))
            .arg("--config")
            .arg(&cfg_path)
            .arg("restore")
            .arg("--from")
            .arg(&fixture)
            .output()
            .expect("restore");
        assert!(
            restored.status.success(),
            "{}: {}",
            fixture.display(),
            String::from_utf8_lossy(&restored.stderr)
        );
        let gw = gateway(Config::load(Some(&cfg_path)).expect("config")).await;
        wait_for(
            30,
            "every queued message of the earlier release at the SMSC",
            || sim.submit_count() >= 10,
        )
        .await;
        let got = sim.received();
        let to = |n: &str| got.iter().filter(|r| r.destination_addr == n).count();
        for i in 1..=5 {
            assert_eq!(to(&format!("3361000000{i}")), 1, "{}", fixture.display());
        }
        assert_eq!(to("33620000001"), 2, "long message, two parts");
        assert_eq!(to("33620000002"), 2, "long message, two parts");
        let ucs2 = got
            .iter()
            .find(|r| r.destination_addr == "33630000001")
            .expect("the UCS-2 message");
        assert_eq!(ucs2.data_coding, 8);
        let units: Vec<u16> = ucs2
            .short_message
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]))
            .collect();
        assert_eq!(String::from_utf16_lossy(&units), "привет");
        assert_eq!(sim.submit_count(), 10, "nothing sent twice");
        gw.shutdown().await;
    }
    assert!(seen >= 1, "no fixture in {}", fixtures.display());
}
