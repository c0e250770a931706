//! The fault suite: SMSCs that push back or break, under load. Each case sends messages over the
//! HTTP API while the fault is on, lifts it, and reports what was acknowledged, delivered,
//! failed for good, lost (acknowledged, yet neither delivered nor ended with a failure record:
//! must be 0), delivered twice, and how long the backlog took to drain once the fault was
//! lifted. The report is printed as one `FAULT {json}` line per case.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use smsgate::app::Gateway;
use smsgate::simulator::{Simulator, SmscFaults};

/// What a load left acknowledged: (message id, content).
struct Sent {
    acked: Vec<(String, String)>,
    refused: usize,
}

/// Send `n` messages (content `<tag>-<i>`, to `to`) over the HTTP API, `per_s` a second.
async fn send(http: SocketAddr, tag: &str, to: &str, n: usize, per_s: u64) -> Sent {
    send_with(http, tag, to, n, per_s, "").await
}

/// [`send`] with `extra` appended to each query (`&dlr-level=2...`).
async fn send_with(
    http: SocketAddr,
    tag: &str,
    to: &str,
    n: usize,
    per_s: u64,
    extra: &str,
) -> Sent {
    let mut sent = Sent {
        acked: vec![],
        refused: 0,
    };
    let gap = Duration::from_micros(1_000_000 / per_s.max(1));
    let mut next = tokio::time::Instant::now();
    for i in 0..n {
        tokio::time::sleep_until(next).await;
        next += gap;
        let content = format!("{tag}-{i}");
        let (status, body) = get(
            http,
            &format!("/send?username=foo&password=bar&to={to}&content={content}{extra}"),
        )
        .await;
        match (status, body.strip_prefix("Success \"")) {
            (200, Some(rest)) => sent
                .acked
                .push((rest.trim_end_matches('"').to_string(), content)),
            _ => sent.refused += 1,
        }
    }
    sent
}

/// The outcome of one case.
#[derive(Debug, serde::Serialize)]
struct Report {
    case: &'static str,
    acknowledged: usize,
    refused: usize,
    delivered: usize,
    failed: usize,
    lost: usize,
    duplicates: usize,
    /// Seconds from lifting the fault until every acknowledged message was settled.
    recovery_s: f64,
}

/// Wait (up to `secs`) until every acknowledged message reached one of `smscs` or ended with
/// a failure record, then count.
async fn settle(
    case: &'static str,
    gw: &Arc<Gateway>,
    smscs: &[&Simulator],
    sent: &Sent,
    lifted: Instant,
    secs: u64,
) -> Report {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let seen = seen(smscs);
        let mut delivered = 0;
        let mut failed = 0;
        for (id, content) in &sent.acked {
            if seen.contains_key(content.as_str()) {
                delivered += 1;
            } else if let Ok(Some(rec)) = gw.runtime.store.record_get(id).await {
                if rec.status != "ESME_ROK" {
                    failed += 1;
                }
            }
        }
        let settled = delivered + failed == sent.acked.len();
        if settled || Instant::now() > deadline {
            let duplicates = sent
                .acked
                .iter()
                .map(|(_, c)| seen.get(c.as_str()).copied().unwrap_or(0).saturating_sub(1))
                .sum();
            let r = Report {
                case,
                acknowledged: sent.acked.len(),
                refused: sent.refused,
                delivered,
                failed,
                lost: sent.acked.len() - delivered - failed,
                duplicates,
                recovery_s: lifted.elapsed().as_secs_f64(),
            };
            println!("FAULT {}", serde_json::to_string(&r).unwrap_or_default());
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Content -> times received, over every SMSC.
fn seen(smscs: &[&Simulator]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for s in smscs {
        for r in s.received() {
            *m.entry(String::from_utf8_lossy(&r.short_message).into_owned())
                .or_default() += 1;
        }
    }
    m
}

/// A gateway with user foo/bar, HTTP on an ephemeral port, and `rest` (connectors, routes,
/// `[queue]`) appended.
async fn start(dir: &std::path::Path, rest: &str) -> Arc<Gateway> {
    let toml = format!(
        r#"
data_dir = "{}"
log = "warn"
[jcli]
port = 0
[http-api]
bind = "127.0.0.1"
port = 0
[smpp-server]
bind = "127.0.0.1"
port = 0
[rest-api]
bind = "127.0.0.1"
port = 0
[[groups]]
gid = "g1"
[[users]]
username = "foo"
password = "bar"
gid = "g1"
{rest}
"#,
        dir.display()
    );
    gateway(load(&toml, dir)).await
}

fn connector(cid: &str, sim: &Simulator, extra: &str) -> String {
    format!(
        "[[smppccs]]\ncid = \"{cid}\"\nhost = \"127.0.0.1\"\nport = {}\ncon_fail_delay = 1\ncon_loss_delay = 1\nrequeue_delay = 1\n{extra}\n",
        sim.addr.port()
    )
}

fn bound(gw: &Gateway, cid: &str) -> bool {
    gw.runtime.stats.smppc(cid).bound_count.get() == 1
}

/// A load of `n` messages (`tag-<i>`, `per_s` a second) while `fault` is on at `sim`, kept on
/// for `then` after the load; then the fault is lifted and the outcome settled (60 s at most).
#[allow(clippy::too_many_arguments)]
async fn under_fault(
    case: &'static str,
    gw: &Arc<Gateway>,
    sim: &Simulator,
    fault: SmscFaults,
    tag: &str,
    n: usize,
    per_s: u64,
    then: Duration,
) -> Report {
    sim.set_faults(fault);
    let sent = send(gw.http_addr.expect("http"), tag, "33600000001", n, per_s).await;
    tokio::time::sleep(then).await;
    sim.set_faults(SmscFaults::default());
    settle(case, gw, &[sim], &sent, Instant::now(), 60).await
}

/// A gateway whose every MT goes to `sim` (connector `sim`, with `connector_extra`), started
/// with `before` (e.g. a `[queue]` section) and returned once bound.
async fn behind(
    dir: &std::path::Path,
    sim: &Simulator,
    before: &str,
    connector_extra: &str,
) -> Arc<Gateway> {
    let gw = start(
        dir,
        &format!(
            "{before}\n{}[[mtroutes]]\ntype = \"DefaultRoute\"\norder = 0\nconnector = \"smppc(sim)\"\n",
            connector("sim", sim, connector_extra)
        ),
    )
    .await;
    wait_for(10, "bound", || bound(&gw, "sim")).await;
    gw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smsc_throttling_everything_for_seconds_costs_no_retry_and_is_probed_not_hammered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    // Two attempts only: with throttling spending retries, every message would fail.
    let gw = behind(dir.path(), &sim, "[queue]\nmax_retries = 2\n", "").await;
    let http = gw.http_addr.expect("http");
    let throttle = SmscFaults {
        throttle_all: true,
        ..Default::default()
    };
    let case = "smsc throttles everything for 8 s";
    let r = under_fault(
        case,
        &gw,
        &sim,
        throttle,
        "thr",
        200,
        100,
        Duration::from_secs(6),
    )
    .await;
    let throttled = sim.stats().throttled.load(Ordering::Relaxed);
    assert_eq!(r.refused, 0, "accepting does not depend on the SMSC");
    assert_eq!(r.lost, 0, "{r:?}");
    assert_eq!(r.failed, 0, "throttling spent the retry budget: {r:?}");
    assert_eq!(r.duplicates, 0, "{r:?}");
    assert_eq!(r.delivered, 200);
    // Probed, not hammered: the first window is throttled, then one probe per pause (100 ms
    // doubling to 5 s). Requeuing each message after requeue_delay (1 s) instead would have
    // drawn well over a thousand throttled answers in those 8 s.
    assert!(
        (1..150).contains(&throttled),
        "{throttled} throttled answers during the fault"
    );
    let link = gw.runtime.stats.link("sim");
    assert!(link.throttled_pause_count.get() >= 1);
    assert!(gw.runtime.stats.queue.throttled_requeued_count.get() >= 1);
    assert_eq!(gw.runtime.stats.queue.retries_exhausted_count.get(), 0);
    // Sending resumed at full pace once the SMSC took messages again.
    assert!(r.recovery_s < 15.0, "{r:?}");
    let metrics = get(http, "/metrics").await.1;
    assert!(
        metrics.contains("smppc_link_throttled_pause_count{cid=\"sim\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("queue_throttled_requeued_count "));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smsc_refusing_binds_is_retried_with_backoff_and_failover_routes_go_around_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (simulator().await, simulator().await);
    a.set_faults(SmscFaults {
        refuse_binds: 0x0D, // ESME_RBINDFAIL
        ..Default::default()
    });
    let gw = start(
        dir.path(),
        &format!(
            r#"{}{}
[[filters]]
fid = "only_a"
type = "DestinationAddrFilter"
destination_addr = "^44"
[[mtroutes]]
type = "StaticMTRoute"
order = 20
connector = "smppc(a)"
filters = ["only_a"]
[[mtroutes]]
type = "DefaultRoute"
order = 0
connector = "smppc(a)"
[[mtroutes]]
type = "FailoverMTRoute"
order = 10
connectors = ["smppc(a)", "smppc(b)"]
filters = ["all"]
[[filters]]
fid = "all"
type = "TransparentFilter"
"#,
            connector("a", &a, ""),
            connector("b", &b, "")
        ),
    )
    .await;
    wait_for(10, "b bound", || bound(&gw, "b")).await;
    let http = gw.http_addr.expect("http");
    let started = Instant::now();
    // Messages only `a` may carry wait in its queue; the others fail over to `b`.
    let only_a = send(http, "onlya", "44700000001", 50, 50).await;
    let any = send(http, "any", "33600000001", 50, 50).await;
    tokio::time::sleep(Duration::from_secs(7).saturating_sub(started.elapsed())).await;
    let refused = a.stats().binds_refused.load(Ordering::Relaxed);
    let link = gw.runtime.stats.link("a");
    assert_eq!(link.bind_failed_count.get(), refused);
    // con_fail_delay = 1, doubled: attempts at 0, 1, 3, 7 s, not every second.
    assert!((2..=5).contains(&refused), "{refused} binds refused in 7 s");
    assert!(!bound(&gw, "a"));
    let r_any = settle(
        "failover around an SMSC refusing binds",
        &gw,
        &[&a, &b],
        &any,
        Instant::now(),
        30,
    )
    .await;
    assert_eq!(
        (r_any.lost, r_any.failed, r_any.duplicates),
        (0, 0, 0),
        "{r_any:?}"
    );
    assert_eq!(b.received().len(), 50, "the failover route used b");
    a.set_faults(SmscFaults::default());
    let lifted = Instant::now();
    let r_a = settle(
        "smsc refusing binds, then accepting",
        &gw,
        &[&a, &b],
        &only_a,
        lifted,
        90,
    )
    .await;
    assert_eq!((r_a.lost, r_a.failed, r_a.duplicates), (0, 0, 0), "{r_a:?}");
    assert_eq!(
        a.received().len(),
        50,
        "the backlog went to a once it bound"
    );
    // The next attempt came within the longest backoff reached (8 s after 4 failures).
    assert!(r_a.recovery_s < 20.0, "{r_a:?}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smsc_dropping_every_session_after_a_moment_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    let gw = behind(dir.path(), &sim, "", "submit_throughput = 100").await;
    let flap = SmscFaults {
        flap_ms: 800,
        ..Default::default()
    };
    let case = "smsc drops every session after 0.8 s";
    let r = under_fault(case, &gw, &sim, flap, "flap", 400, 80, Duration::ZERO).await;
    let flaps = sim.stats().flaps.load(Ordering::Relaxed);
    assert!(flaps >= 2, "{flaps} sessions dropped");
    assert_eq!(r.lost, 0, "{r:?}");
    assert_eq!(r.failed, 0, "{r:?}");
    assert_eq!(r.delivered, 400);
    // A submit taken by the SMSC whose response was cut off by the drop is sent again (SMPP
    // cannot tell): the report says how many; there are at most a window's worth per drop.
    assert!(r.duplicates as u64 <= flaps * 32, "{r:?}");
    assert!(gw.runtime.stats.smppc("sim").disconnected_count.get() >= flaps);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smsc_that_stops_answering_submits_is_left_and_bound_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    let gw = behind(
        dir.path(),
        &sim,
        "[queue]\nmax_retries = 10\n",
        "res_to = 1\nwindow = 8",
    )
    .await;
    let stall = SmscFaults {
        stall: true,
        ..Default::default()
    };
    let case = "smsc stops answering submit_sm for 5 s";
    let r = under_fault(
        case,
        &gw,
        &sim,
        stall,
        "stall",
        100,
        50,
        Duration::from_secs(3),
    )
    .await;
    let link = gw.runtime.stats.link("sim");
    assert!(link.response_timeout_count.get() >= 3, "timeouts counted");
    assert!(
        link.stalled_count.get() >= 1,
        "the stalled session was closed"
    );
    assert!(
        sim.stats().binds.load(Ordering::Relaxed) >= 2,
        "and bound again"
    );
    assert!(sim.stats().stalled.load(Ordering::Relaxed) >= 3);
    assert_eq!(r.lost, 0, "{r:?}");
    assert_eq!(r.failed, 0, "{r:?}");
    assert_eq!(r.duplicates, 0, "unanswered submits were not taken: {r:?}");
    assert_eq!(r.delivered, 100);
    gw.shutdown().await;
}

/// A tmpfs of `mb` megabytes mounted on `at` (root only), unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(at: &std::path::Path, mb: u32) -> SmallDisk {
        std::fs::create_dir_all(at).expect("mount point");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(at)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs to fill it (it needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk(at.to_path_buf())
    }

    /// Write a filler file until the disk is full.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut f = std::fs::File::create(&path).expect("filler");
        for chunk in [1 << 20, 4096, 512] {
            let buf = vec![0u8; chunk];
            while f.write_all(&buf).is_ok() {}
        }
        let _ = f.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_new_messages_in_each_protocol_keeps_the_accepted_and_recovers() {
    let root = tempfile::tempdir().expect("tempdir");
    let disk = SmallDisk::mount(&root.path().join("data"), 48);
    let data = root.path().join("data");
    let sim = simulator().await;
    // The SMSC refuses binds at first: what is accepted waits in the queue, on the full disk.
    sim.set_faults(SmscFaults {
        refuse_binds: 0x0D,
        ..Default::default()
    });
    let gw = start(
        &data,
        &format!(
            "{}[[mtroutes]]\ntype = \"DefaultRoute\"\norder = 0\nconnector = \"smppc(sim)\"\n",
            connector("sim", &sim, "")
        ),
    )
    .await;
    let http = gw.http_addr.expect("http");
    let smpp = gw.smpp_addr().expect("smpp");
    let before = send(http, "before", "33600000001", 100, 200).await;
    assert_eq!(before.refused, 0);

    let filler = disk.fill();
    // Until the disk is full for the database too (pages it had in hand may take a few
    // more), keep sending: each request is either accepted or refused in HTTP's terms.
    let mut during = Sent {
        acked: vec![],
        refused: 0,
    };
    let mut last_error = (0, String::new());
    for i in 0..400 {
        let content = format!("during-{i}");
        let (status, body) = get(
            http,
            &format!("/send?username=foo&password=bar&to=33600000001&content={content}"),
        )
        .await;
        match body.strip_prefix("Success \"") {
            Some(rest) if status == 200 => during
                .acked
                .push((rest.trim_end_matches('"').to_string(), content)),
            _ => {
                during.refused += 1;
                last_error = (status, body);
            }
        }
        if during.refused >= 20 {
            break;
        }
    }
    assert!(during.refused >= 20, "a full disk refused nothing");
    // Jasmin's style: a 5xx with `Error "..."`.
    assert_eq!(last_error.0, 500, "{last_error:?}");
    assert!(last_error.1.starts_with("Error \""), "{last_error:?}");
    // SMPP: a temporary error the ESME retries on.
    let (esme, _rx, st) = esme_bind(smpp, "trx", "foo", "bar").await;
    assert_eq!(st, rusmpp::CommandStatus::EsmeRok);
    let resp = esme
        .request(submit_sm("33600000001", b"smpp-during", 0))
        .await
        .expect("answer");
    assert!(
        matches!(
            resp.status(),
            rusmpp::CommandStatus::EsmeRsyserr | rusmpp::CommandStatus::EsmeRmsgqful
        ),
        "{:?}",
        resp.status()
    );
    // Readiness says so, naming the cause.
    let (code, ready) = get(http, "/ready").await;
    assert_eq!(code, 503, "{ready}");
    assert!(ready.contains("full"), "{ready}");

    // Space returns: ready again, new messages accepted, and everything accepted delivered.
    std::fs::remove_file(&filler).expect("free the disk");
    let recovered = Instant::now();
    let mut ready_again = false;
    for _ in 0..200 {
        if get(http, "/ready").await.0 == 200 {
            ready_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready_again, "ready once space returned");
    let after = send(http, "after", "33600000001", 100, 200).await;
    assert_eq!(after.refused, 0);
    sim.set_faults(SmscFaults::default());
    let mut all = Sent {
        acked: vec![],
        refused: during.refused,
    };
    for s in [before, during, after] {
        all.acked.extend(s.acked);
    }
    let r = settle(
        "disk full, then space again",
        &gw,
        &[&sim],
        &all,
        recovered,
        60,
    )
    .await;
    assert_eq!((r.lost, r.failed, r.duplicates), (0, 0, 0), "{r:?}");
    esme.close(smsgate::smpp::session::CloseReason::Local);
    gw.shutdown().await;
    drop(disk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_write_ahead_log_stops_the_start_naming_the_file_and_nothing_is_dropped() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    // Accepted messages stay queued (in the log) while the SMSC refuses binds.
    sim.set_faults(SmscFaults {
        refuse_binds: 0x0D,
        ..Default::default()
    });
    let http_port = free_port();
    let cfg = dir.path().join("smsgate.toml");
    std::fs::write(&cfg, config_toml(dir.path(), http_port, sim.addr.port())).expect("config");
    let http: SocketAddr = format!("127.0.0.1:{http_port}").parse().expect("addr");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_smsgate"))
            .arg("--config")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn smsgate")
    };
    let mut gw = Guard(run());
    wait_for_http(http).await;
    let sent = send(http, "wal", "33600000001", 50, 500).await;
    assert_eq!(sent.acked.len(), 50);
    gw.kill().expect("kill -9");
    let _ = gw.wait();

    // One bit flipped in the first frame of the log: SQLite would keep nothing after it.
    let wal = dir.path().join("smsgate.db-wal");
    let good = std::fs::read(&wal).expect("the log is there after kill -9");
    assert!(good.len() > 32 + 24 + 4096, "frames in the log");
    let mut bad = good.clone();
    bad[32 + 24 + 100] ^= 0x10;
    std::fs::write(&wal, &bad).expect("damage");
    let out = run().wait_with_output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started on a damaged log");
    assert!(stderr.contains(&wal.display().to_string()), "{stderr}");
    assert!(stderr.contains("damaged"), "{stderr}");
    assert_eq!(
        std::fs::read(&wal).expect("log"),
        bad,
        "the refused start left the file as it was"
    );

    // The operator puts the good copy back: everything acknowledged is delivered once.
    std::fs::write(&wal, &good).expect("restore");
    let gw = Guard(run());
    wait_for_http(http).await;
    sim.set_faults(SmscFaults::default());
    let lifted = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = seen(&[&sim]);
        if sent.acked.iter().all(|(_, c)| seen.contains_key(c)) || Instant::now() > deadline {
            let lost = sent
                .acked
                .iter()
                .filter(|(_, c)| !seen.contains_key(c))
                .count();
            let dups: usize = seen.values().map(|n| n - 1).sum();
            println!(
                "FAULT {{\"case\":\"damaged WAL at start\",\"acknowledged\":50,\"lost\":{lost},\"duplicates\":{dups},\"recovery_s\":{:.1}}}",
                lifted.elapsed().as_secs_f64()
            );
            assert_eq!((lost, dups), (0, 0));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(gw);
}

async fn wait_for_http(addr: SocketAddr) {
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gateway did not start");
}

/// A receiver that takes connections and never answers: (address, connections open now,
/// most open at once).
async fn dead_receiver() -> (
    SocketAddr,
    Arc<std::sync::atomic::AtomicUsize>,
    Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::AtomicUsize;
    use tokio::io::AsyncReadExt;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    let (open, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (o, m) = (open.clone(), most.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = l.accept().await {
            let (o, m) = (o.clone(), m.clone());
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                // Counted once open for 200 ms: the gateway's connections here last its 2 s
                // timeout, and one it closed just before opening the next may not have been
                // read to its end yet on a busy machine (counted twice, it made 4 look like 5).
                let grace = tokio::time::sleep(Duration::from_millis(200));
                tokio::pin!(grace);
                loop {
                    tokio::select! {
                        r = sock.read(&mut buf) => {
                            if !matches!(r, Ok(n) if n > 0) {
                                return;
                            }
                        }
                        _ = &mut grace => break,
                    }
                }
                let now = o.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                while matches!(sock.read(&mut buf).await, Ok(n) if n > 0) {}
                o.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (addr, open, most)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_callback_receiver_with_hundreds_pending_holds_up_no_other_receiver() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    let (dead, _open, most) = dead_receiver().await;
    let alive = receiver().await;
    let throwers = "[dlr-thrower]\nhttp_timeout = 2\nretry_delay = 3\nmax_retries = 2\n\
                    [callbacks]\nper_host_concurrency = 4\nmax_in_flight = 16\n";
    let gw = behind(dir.path(), &sim, throwers, "").await;
    let http = gw.http_addr.expect("http");
    let dlr = |to: &str, url: &str| {
        format!(
            "/send?username=foo&password=bar&to={to}&content=x&dlr=yes&dlr-level=1&dlr-url={}",
            url.replace(':', "%3A").replace('/', "%2F")
        )
    };
    // Level 1: a receipt is thrown as the SMSC answers each submit.
    for i in 0..300 {
        let (st, _) = get(
            http,
            &dlr(&format!("3360000{i:04}"), &format!("http://{dead}/dlr")),
        )
        .await;
        assert_eq!(st, 200);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    for i in 0..30 {
        let (st, _) = get(http, &dlr(&format!("3370000{i:04}"), &alive.url("/dlr"))).await;
        assert_eq!(st, 200);
    }
    // Each call to the dead receiver takes the 2 s timeout, 4 at a time: the 300 would hold a
    // line of 16 global places for minutes if the others queued behind them.
    wait_for(20, "the live receiver's callbacks", || alive.count() >= 30).await;
    let took = started.elapsed().as_secs_f64();
    let stats = gw.runtime.stats.thrower("dlr_thrower", "sim");
    println!(
        "FAULT {{\"case\":\"dead callback receiver, 300 pending\",\"live_receiver_30_callbacks_s\":{took:.1},\"dead_receiver_most_connections\":{},\"deferred\":{}}}",
        most.load(Ordering::SeqCst),
        stats.deferred_count.get()
    );
    assert!(took < 15.0, "{took} s for the live receiver");
    assert!(
        most.load(Ordering::SeqCst) <= 4,
        "per_host_concurrency held: {} connections at once",
        most.load(Ordering::SeqCst)
    );
    assert!(
        stats.deferred_count.get() > 0,
        "the dead receiver's line was bounded"
    );
    assert_eq!(alive.count(), 30, "each live callback once");
    gw.shutdown().await;
}

/// libfaketime, which steps the wall clock of the process it is preloaded into (Debian's
/// `faketime` package; `scripts/test.sh` installs it).
fn libfaketime() -> std::path::PathBuf {
    let found = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
    ]
    .iter()
    .map(std::path::PathBuf::from)
    .find(|p| p.exists());
    found.expect("libfaketime not found: apt-get install faketime")
}

/// The gateway's `smsgate_clock_step_seconds`.
async fn clock_step(http: SocketAddr) -> f64 {
    let (_, text) = get(http, "/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix("smsgate_clock_step_seconds "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

/// Step the faked wall clock of the gateway to `offset` (libfaketime's syntax: `+1h`) and wait
/// until the gateway sees it.
async fn step_clock(file: &std::path::Path, offset: &str, http: SocketAddr, expect_s: f64) {
    std::fs::write(file, format!("{offset}\n")).expect("faketime file");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let step = clock_step(http).await;
        if (step - expect_s).abs() < 30.0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway never saw the clock at {offset}: step {step} s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The system clock stepped an hour forward, then two hours back, under traffic (libfaketime in
/// the gateway's process only; its monotonic clock is left alone). Nothing may stretch or
/// collapse: the SMPP session stays up (its inactivity and enquire_link timers), messages
/// accepted with a 30-minute validity before the forward step are still delivered, receipts
/// for messages sent before it still find their mapping (`dlr_expiry` 30 minutes), and
/// messages waiting out a throttling pause when the clock goes back are sent within seconds,
/// not an hour later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wall_clock_stepped_an_hour_forward_and_back_moves_no_delay_validity_or_expiry() {
    use smsgate::simulator::ReceiptKnobs;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    sim.set_receipts(ReceiptKnobs {
        delay: Some(Duration::ZERO),
        hold: true,
        ..Default::default()
    });
    let dlrs = receiver().await;
    let dlr_url: String = form_urlencoded::byte_serialize(dlrs.url("/dlr").as_bytes()).collect();
    let http_port = free_port();
    let cfg = dir.path().join("smsgate.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
data_dir = "{dir}"
log = "warn"
[jcli]
enabled = false
[smpp-server]
enabled = false
[rest-api]
enabled = false
[http-api]
bind = "127.0.0.1"
port = {http_port}
[callbacks]
allow_loopback = true
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
con_fail_delay = 1
con_loss_delay = 1
requeue_delay = 1
trx_to = 120
elink_interval = 5
dlr_expiry = 1800
[[mtroutes]]
type = "DefaultRoute"
order = 0
connector = "smppc(sim)"
"#,
            dir = dir.path().display(),
            smsc = sim.addr.port()
        ),
    )
    .expect("config");
    let clock = dir.path().join("faketime");
    std::fs::write(&clock, "+0\n").expect("faketime file");
    let log = dir.path().join("stderr.log");
    let _gw = Guard(
        Command::new(env!("CARGO_BIN_EXE_smsgate"))
            .arg("--config")
            .arg(&cfg)
            .env("LD_PRELOAD", libfaketime())
            .env("FAKETIME_TIMESTAMP_FILE", &clock)
            .env("FAKETIME_CACHE_DURATION", "1")
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("spawn smsgate"),
    );
    let http: SocketAddr = format!("127.0.0.1:{http_port}").parse().expect("addr");
    wait_for_http(http).await;
    wait_for(10, "bound", || {
        sim.stats().binds.load(Ordering::Relaxed) == 1
    })
    .await;
    assert!(clock_step(http).await.abs() < 5.0, "no step at start");

    // Before the forward step: 10 messages sent, their receipts held at the SMSC; 20 more with
    // a 30-minute validity, waiting out the SMSC's throttling.
    let receipted = send_with(
        http,
        "rcpt",
        "33600000001",
        10,
        50,
        &format!("&dlr=yes&dlr-level=2&dlr-url={dlr_url}"),
    )
    .await;
    wait_for(10, "the receipts held", || sim.held_receipts() == 10).await;
    sim.set_faults(SmscFaults {
        throttle_all: true,
        ..Default::default()
    });
    let valid = send_with(http, "valid", "33600000002", 20, 50, "&validity-period=30").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    step_clock(&clock, "+1h", http, 3600.0).await;
    // The session timers run on (enquire_link every 5 s, inactivity 120 s).
    tokio::time::sleep(Duration::from_secs(6)).await;
    sim.set_faults(SmscFaults::default());
    let lifted = Instant::now();
    let forward = settle_seen("wall clock +1 h", &sim, &valid, lifted, 30).await;
    assert_eq!(
        sim.release_receipts(10).await,
        10,
        "the session that carried the messages is still up"
    );
    wait_for(20, "a DELIVRD callback per receipt", || {
        dlrs.calls()
            .iter()
            .filter(|c| c.get("message_status") == Some("DELIVRD"))
            .count()
            >= 10
    })
    .await;
    let ids: std::collections::HashSet<&str> =
        receipted.acked.iter().map(|(id, _)| id.as_str()).collect();
    assert!(
        dlrs.calls()
            .iter()
            .all(|c| c.get("id").is_some_and(|i| ids.contains(i))),
        "receipts matched to their messages"
    );

    // Two hours back, while messages wait out a throttling pause.
    sim.set_faults(SmscFaults {
        throttle_all: true,
        ..Default::default()
    });
    let paused = send(http, "back", "33600000003", 20, 50).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    step_clock(&clock, "-1h", http, -3600.0).await;
    sim.set_faults(SmscFaults::default());
    let back = settle_seen("wall clock -2 h", &sim, &paused, Instant::now(), 30).await;

    assert_eq!(
        (forward.lost, forward.failed, forward.delivered),
        (0, 0, 20),
        "validity measured on the gateway's clock: {forward:?}"
    );
    assert_eq!((back.lost, back.delivered), (0, 20), "{back:?}");
    assert!(
        back.recovery_s < 15.0,
        "a pause of seconds took {} s after the clock went back",
        back.recovery_s
    );
    assert_eq!(
        sim.stats().binds.load(Ordering::Relaxed),
        1,
        "one session all along: no timer fired on a step"
    );
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        stderr.contains("system clock was stepped"),
        "each step is logged: {stderr}"
    );
    println!(
        "FAULT {{\"case\":\"wall clock +1 h then -2 h\",\"acknowledged\":{},\"lost\":{},\"after_forward_s\":{:.1},\"after_back_s\":{:.1},\"sessions\":1}}",
        receipted.acked.len() + valid.acked.len() + paused.acked.len(),
        forward.lost + back.lost,
        forward.recovery_s,
        back.recovery_s
    );
}

/// [`settle`] for a gateway in another process: delivered is what reached `sim`; what did not
/// counts as lost (no record to read: the cases using it expect no failure).
async fn settle_seen(
    case: &'static str,
    sim: &Simulator,
    sent: &Sent,
    lifted: Instant,
    secs: u64,
) -> Report {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let seen = seen(&[sim]);
        let delivered = sent
            .acked
            .iter()
            .filter(|(_, c)| seen.contains_key(c.as_str()))
            .count();
        if delivered == sent.acked.len() || Instant::now() > deadline {
            let r = Report {
                case,
                acknowledged: sent.acked.len(),
                refused: sent.refused,
                delivered,
                failed: 0,
                lost: sent.acked.len() - delivered,
                duplicates: sent
                    .acked
                    .iter()
                    .map(|(_, c)| seen.get(c.as_str()).copied().unwrap_or(0).saturating_sub(1))
                    .sum(),
                recovery_s: lifted.elapsed().as_secs_f64(),
            };
            println!("FAULT {}", serde_json::to_string(&r).unwrap_or_default());
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A receiver that answers every call `500` and notes when each message's callback came:
/// message id -> the instants of its calls.
async fn failing_receiver() -> (
    SocketAddr,
    Arc<parking_lot::Mutex<HashMap<String, Vec<Instant>>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    let calls: Arc<parking_lot::Mutex<HashMap<String, Vec<Instant>>>> = Arc::default();
    let c = calls.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = l.accept().await {
            let c = c.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = 0;
                while !buf[..got].windows(4).any(|w| w == b"\r\n\r\n") && got < buf.len() {
                    match sock.read(&mut buf[got..]).await {
                        Ok(n) if n > 0 => got += n,
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..got]).into_owned();
                let target = head.split_whitespace().nth(1).unwrap_or_default();
                let id = target
                    .split(['?', '&'])
                    .find_map(|kv| kv.strip_prefix("id="))
                    .unwrap_or_default()
                    .to_string();
                c.lock().entry(id).or_default().push(Instant::now());
                let _ = sock
                    .write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nfail")
                    .await;
            });
        }
    });
    (addr, calls)
}

/// A receiver failing every DLR callback: each is tried `max_retries` times, `retry_delay`
/// apart (never sooner), then given up; the gateway keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_to_a_failing_receiver_are_retried_spaced_then_given_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = simulator().await;
    let (rx, calls) = failing_receiver().await;
    let throwers = "[dlr-thrower]\nhttp_timeout = 2\nretry_delay = 2\nmax_retries = 3\n";
    let gw = behind(dir.path(), &sim, throwers, "").await;
    let http = gw.http_addr.expect("http");
    let url: String =
        form_urlencoded::byte_serialize(format!("http://{rx}/dlr").as_bytes()).collect();
    let mut ids = vec![];
    for i in 0..20 {
        let (st, body) = get(
            http,
            &format!("/send?username=foo&password=bar&to=3360000{i:04}&content=x&dlr=yes&dlr-level=1&dlr-method=GET&dlr-url={url}"),
        )
        .await;
        assert_eq!(st, 200, "{body}");
        ids.push(
            body.trim_start_matches("Success \"")
                .trim_end_matches('"')
                .to_string(),
        );
    }
    wait_for(30, "three tries of each callback", || {
        let c = calls.lock();
        ids.iter().all(|id| c.get(id).is_some_and(|t| t.len() >= 3))
    })
    .await;
    // No fourth try.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let c = calls.lock().clone();
    let mut shortest = Duration::MAX;
    for id in &ids {
        let t = &c[id];
        assert_eq!(t.len(), 3, "tries of {id}");
        for w in t.windows(2) {
            shortest = shortest.min(w[1] - w[0]);
        }
    }
    println!(
        "FAULT {{\"case\":\"failing callback receiver\",\"callbacks\":20,\"tries_each\":3,\"shortest_gap_s\":{:.2}}}",
        shortest.as_secs_f64()
    );
    assert!(
        shortest >= Duration::from_millis(1900),
        "retries {shortest:?} apart with retry_delay = 2 s"
    );
    let (st, _) = get(
        http,
        "/send?username=foo&password=bar&to=33600009999&content=x",
    )
    .await;
    assert_eq!(st, 200, "still serving");
    gw.shutdown().await;
}
