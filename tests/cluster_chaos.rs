//! Cluster mode under failures, over real sockets: gateway nodes are separate `smsgate`
//! processes on the local RabbitMQ / Redis / PostgreSQL, two SMSC simulators, load over HTTP.
//! Every `/send` answered `Success` must reach an SMSC at least once (counted at the
//! simulators by destination number), duplicates are counted and reported, and the level-1
//! DLR of every accepted message reaches its callback.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use parking_lot::Mutex;

const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// One chaos at a time: closing every RabbitMQ connection would hit the other tests' nodes.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Node {
    child: Child,
    http: SocketAddr,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Config of one node: two connectors (one per simulator) behind a round-robin route.
fn node_config(
    dir: &std::path::Path,
    node: &str,
    http_port: u16,
    prefix: &str,
    redis_url: &str,
    sims: &[u16; 2],
) -> std::path::PathBuf {
    let text = format!(
        r#"
data_dir = "{dir}"
log = "warn"
[jcli]
port = 0
[rest-api]
port = 0
[http-api]
bind = "127.0.0.1"
port = {http_port}
[smpp-server]
enabled = false
[callbacks]
allow_loopback = true
[dlr-thrower]
retry_delay = 1
[broker]
url = "{AMQP}"
prefix = "{prefix}"
[store]
url = "{redis_url}"
prefix = "{prefix}"
history_url = "postgres://postgres@127.0.0.1:5432/test"
[cluster]
node_id = "{node}"
lease_ttl_ms = 2000
[[groups]]
gid = "g1"
[[users]]
username = "foo"
password = "bar"
gid = "g1"
mt_messaging_cred.quota = {{ balance = 100000.0 }}
[[smppccs]]
cid = "s1"
host = "127.0.0.1"
port = {p1}
# Two SMSCs numbering their ids alike: separate receipt groups.
dlr_group = "s1"
con_fail_delay = 1
con_loss_delay = 1
requeue_delay = 1
[[smppccs]]
cid = "s2"
host = "127.0.0.1"
port = {p2}
dlr_group = "s2"
con_fail_delay = 1
con_loss_delay = 1
requeue_delay = 1
[[mtroutes]]
type = "DefaultRoute"
order = 0
connector = "smppc(s1)"
[[filters]]
fid = "all"
type = "TransparentFilter"
[[mtroutes]]
type = "RandomRoundrobinMTRoute"
order = 10
connectors = ["smppc(s1)", "smppc(s2)"]
filters = ["all"]
rate = 1.0
"#,
        dir = dir.display(),
        p1 = sims[0],
        p2 = sims[1],
    );
    let path = dir.join(format!("{node}.toml"));
    std::fs::write(&path, text).expect("config");
    path
}

async fn start_node(cfg: &std::path::Path, http_port: u16) -> Node {
    let child = Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .arg("--config")
        .arg(cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn smsgate");
    let http: SocketAddr = format!("127.0.0.1:{http_port}").parse().expect("addr");
    let node = Node { child, http };
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(http).await.is_ok() {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("node did not start");
}

/// One node on the local Redis with both simulators' connectors, its configuration edited by
/// `edit` (another PostgreSQL, other RabbitMQ nodes); returned once both connectors are bound.
async fn one_node_edited(
    dir: &std::path::Path,
    prefix: &str,
    sims: [&smsgate::simulator::Simulator; 2],
    edit: impl FnOnce(String) -> String,
) -> Node {
    let ha = free_port();
    let cfg = node_config(
        dir,
        "A",
        ha,
        prefix,
        "redis://127.0.0.1:6379/",
        &[sims[0].addr.port(), sims[1].addr.port()],
    );
    let text = edit(std::fs::read_to_string(&cfg).expect("config"));
    std::fs::write(&cfg, text).expect("config");
    let a = start_node(&cfg, ha).await;
    wait_for(30, "both simulators bound", || {
        sims.iter()
            .all(|s| s.stats().binds.load(Ordering::Relaxed) >= 1)
    })
    .await;
    a
}

/// Accepted messages: destination number → gateway message id.
type Acked = Arc<Mutex<HashMap<String, String>>>;

/// Clients sending to `addr` until `stop`, recording what was accepted.
fn load(
    addr: SocketAddr,
    clients: u32,
    tag: u32,
    dlr_url: String,
    acked: Acked,
    refused: Arc<Mutex<Vec<(String, String)>>>,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..clients)
        .map(|c| {
            let (acked, refused, stop) = (acked.clone(), refused.clone(), stop.clone());
            let dlr_url: String = form_urlencoded::byte_serialize(dlr_url.as_bytes()).collect();
            tokio::spawn(async move {
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let to = format!("{tag}{c}{n:06}");
                    n += 1;
                    let (st, body) = get(
                        addr,
                        &format!(
                            "/send?username=foo&password=bar&to={to}&content=chaos&dlr=yes&dlr-level=1&dlr-url={dlr_url}"
                        ),
                    )
                    .await;
                    if st == 200 && body.starts_with("Success") {
                        let id = body.trim_start_matches("Success \"").trim_end_matches('"');
                        acked.lock().insert(to, id.to_string());
                    } else if st == 0 {
                        break; // node gone
                    } else {
                        refused.lock().push((to, format!("{st} {body}")));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            })
        })
        .collect()
}

/// Delete the queues a test's nodes used (they are empty once everything was delivered).
async fn cleanup(prefix: &str) {
    let b = smsgate::broker::amqp::AmqpBroker::connect(smsgate::broker::amqp::AmqpConfig {
        url: AMQP.into(),
        prefix: prefix.into(),
        prefetch: 1,
        quorum: false,
        publish_channels: 1,
        events: false,
    })
    .await
    .expect("RabbitMQ");
    let _ = b
        .delete_queues(
            &[
                "submit.sm.s1",
                "submit.sm.s2",
                "dlr_thrower.http",
                "deliver_sm_thrower.http",
                "smsgate.mo.reassembly",
                "smsgate.dlr.retry",
            ],
            &[1000],
        )
        .await;
}

/// Wait for every accepted message at the simulators and its DLR; returns duplicates.
async fn verify(
    what: &str,
    acked: &HashMap<String, String>,
    sims: &[&smsgate::simulator::Simulator],
    dlrs: &Receiver,
) -> u32 {
    wait_for(
        90,
        &format!("{what}: every accepted message at an SMSC"),
        || {
            let seen: HashSet<String> = sims
                .iter()
                .flat_map(|s| s.received().into_iter().map(|r| r.destination_addr))
                .collect();
            acked.keys().all(|a| seen.contains(a))
        },
    )
    .await;
    let ids: HashSet<&String> = acked.values().collect();
    let missing = || -> Vec<String> {
        let got: HashSet<String> = dlrs
            .calls()
            .iter()
            .filter_map(|c| c.get("id").map(str::to_string))
            .collect();
        ids.iter()
            .filter(|i| !got.contains(**i))
            .map(|i| i.to_string())
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !missing().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let left = missing();
    assert!(
        left.is_empty(),
        "{what}: {} accepted messages without a DLR, e.g. {:?}",
        left.len(),
        &left[..left.len().min(5)]
    );
    let mut counts: HashMap<String, u32> = HashMap::new();
    for s in sims {
        for r in s.received() {
            *counts.entry(r.destination_addr).or_default() += 1;
        }
    }
    let duplicates: u32 = acked
        .keys()
        .map(|a| counts.get(a).copied().unwrap_or(0).saturating_sub(1))
        .sum();
    let per_sim: Vec<u64> = sims.iter().map(|s| s.submit_count()).collect();
    eprintln!(
        "{what}: accepted {}, at the SMSCs {per_sim:?}, duplicates {duplicates}, DLR callbacks {}",
        acked.len(),
        dlrs.count()
    );
    duplicates
}

/// Two nodes, each holding one connector's lease, share the load; `kill -9` one of them under
/// load: the other takes its connector over and nothing accepted is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_one_of_two_nodes_under_load() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("tmp");
    let (s1, s2) = (simulator().await, simulator().await);
    let dlrs = receiver().await;
    let prefix = unique("kill");
    let ports = [s1.addr.port(), s2.addr.port()];
    let (ha, hb) = (free_port(), free_port());
    let redis = "redis://127.0.0.1:6379/";
    let ca = node_config(dir.path(), "A", ha, &prefix, redis, &ports);
    let cb = node_config(dir.path(), "B", hb, &prefix, redis, &ports);
    let mut a = start_node(&ca, ha).await;
    let b = start_node(&cb, hb).await;
    wait_for(20, "each simulator bound once", || {
        s1.stats().binds.load(Ordering::Relaxed) == 1
            && s2.stats().binds.load(Ordering::Relaxed) == 1
    })
    .await;

    let acked: Acked = Default::default();
    let refused: Arc<Mutex<Vec<(String, String)>>> = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = load(
        a.http,
        4,
        1,
        dlrs.url("/dlr"),
        acked.clone(),
        refused.clone(),
        stop.clone(),
    );
    tasks.extend(load(
        b.http,
        4,
        2,
        dlrs.url("/dlr"),
        acked.clone(),
        refused.clone(),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let before = (s1.submit_count(), s2.submit_count());
    assert!(
        before.0 > 0 && before.1 > 0,
        "both connectors carry load: {before:?}"
    );
    a.child.kill().expect("kill -9");
    let _ = a.child.wait();
    tokio::time::sleep(Duration::from_millis(3000)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().clone();
    assert!(
        acked.len() > 100,
        "load was applied ({} accepted)",
        acked.len()
    );
    let dups = verify("kill -9 node A", &acked, &[&s1, &s2], &dlrs).await;
    // Only what node A had sent but not yet acked can come twice: at most its windows.
    assert!(dups <= 64, "{dups} duplicates: more than node A's windows");
    // Node B now binds both connectors.
    assert!(
        s1.stats().binds.load(Ordering::Relaxed) >= 2
            || s2.stats().binds.load(Ordering::Relaxed) >= 2,
        "node B took over node A's connector"
    );
    drop(b);
    cleanup(&prefix).await;
}

/// RabbitMQ drops every connection under load (`rabbitmqctl close_all_connections`): nodes
/// reconnect, requests in between get a clear error, nothing accepted is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_connections_closed_under_load() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("tmp");
    let (s1, s2) = (simulator().await, simulator().await);
    let dlrs = receiver().await;
    let prefix = unique("amqp");
    let ports = [s1.addr.port(), s2.addr.port()];
    let (ha, hb) = (free_port(), free_port());
    let redis = "redis://127.0.0.1:6379/";
    let a = start_node(
        &node_config(dir.path(), "A", ha, &prefix, redis, &ports),
        ha,
    )
    .await;
    let b = start_node(
        &node_config(dir.path(), "B", hb, &prefix, redis, &ports),
        hb,
    )
    .await;
    wait_for(20, "both simulators bound", || {
        s1.stats().binds.load(Ordering::Relaxed) >= 1
            && s2.stats().binds.load(Ordering::Relaxed) >= 1
    })
    .await;
    let acked: Acked = Default::default();
    let refused: Arc<Mutex<Vec<(String, String)>>> = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = load(
        a.http,
        4,
        3,
        dlrs.url("/dlr"),
        acked.clone(),
        refused.clone(),
        stop.clone(),
    );
    tasks.extend(load(
        b.http,
        4,
        4,
        dlrs.url("/dlr"),
        acked.clone(),
        refused.clone(),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let out = Command::new("rabbitmqctl")
        .args(["close_all_connections", "chaos test"])
        .output()
        .expect("rabbitmqctl");
    assert!(out.status.success(), "rabbitmqctl: {out:?}");
    tokio::time::sleep(Duration::from_millis(3000)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().clone();
    assert!(
        acked.len() > 100,
        "load was applied ({} accepted)",
        acked.len()
    );
    let refused = refused.lock().clone();
    assert!(
        refused
            .iter()
            .all(|(_, r)| r.starts_with("500 Error \"Cannot send submit_sm")),
        "refusals while RabbitMQ is away are the clear error: {:?}",
        refused.iter().take(3).collect::<Vec<_>>()
    );
    let dups = verify("RabbitMQ connections closed", &acked, &[&s1, &s2], &dlrs).await;
    // A publish whose confirmation was lost is published again and its second copy dropped;
    // a delivery whose ack was lost is dropped once its record says it was sent: once each.
    assert_eq!(dups, 0, "every accepted message reached an SMSC once");
    // A refusal is true: what was answered 500 never reaches an SMSC (and was refunded).
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let seen: HashSet<String> = [&s1, &s2]
        .iter()
        .flat_map(|s| s.received().into_iter().map(|r| r.destination_addr))
        .collect();
    let sent_anyway: Vec<&String> = refused
        .iter()
        .map(|(to, _)| to)
        .filter(|to| seen.contains(*to))
        .collect();
    assert!(
        sent_anyway.is_empty(),
        "answered 500 but sent: {sent_anyway:?}"
    );
    // Charged once per accepted message (rate 1.0, one part each).
    let (_, balance) = get(a.http, "/balance?username=foo&password=bar").await;
    let want = 100_000.0 - acked.len() as f64;
    assert!(
        balance.contains(&format!("\"balance\": {want:?}")),
        "balance {balance}, want {want} after {} accepted",
        acked.len()
    );
    // Accepted again after the reconnect.
    let (st, body) = get(
        a.http,
        "/send?username=foo&password=bar&to=999&content=after",
    )
    .await;
    assert_eq!((st, body.starts_with("Success")), (200, true), "{body}");
    drop((a, b));
    cleanup(&prefix).await;
}

struct Redis {
    child: Child,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A redis-server of the test's own, with AOF (`appendfsync always`) in `dir`.
async fn start_redis(port: u16, dir: &std::path::Path) -> Redis {
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args([
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server (scripts/test.sh installs it)");
    let redis = Redis { child };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return redis;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("redis-server did not start");
}

/// Redis (AOF) killed with `kill -9` and restarted under load: no balance, configuration key
/// or pending DLR map is lost, and every accepted message reaches an SMSC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_with_aof_under_load() {
    let _serial = SERIAL.lock().await;
    use smsgate::simulator::ReceiptKnobs;
    use smsgate::store::Store;
    let dir = tempfile::tempdir().expect("tmp");
    let rdir = dir.path().join("redis");
    std::fs::create_dir_all(&rdir).expect("redis dir");
    let rport = free_port();
    let mut redis = start_redis(rport, &rdir).await;
    let redis_url = format!("redis://127.0.0.1:{rport}/");
    let (s1, s2) = (simulator().await, simulator().await);
    for s in [&s1, &s2] {
        s.set_receipts(ReceiptKnobs {
            delay: Some(Duration::ZERO),
            hold: true,
            ..Default::default()
        });
    }
    let dlrs = receiver().await;
    let prefix = unique("redis");
    let ports = [s1.addr.port(), s2.addr.port()];
    let ha = free_port();
    let a = start_node(
        &node_config(dir.path(), "A", ha, &prefix, &redis_url, &ports),
        ha,
    )
    .await;
    wait_for(20, "both simulators bound", || {
        s1.stats().binds.load(Ordering::Relaxed) >= 1
            && s2.stats().binds.load(Ordering::Relaxed) >= 1
    })
    .await;
    // A configuration key, as the management model writes them.
    let store = smsgate::store::redis::RedisStore::connect(smsgate::store::redis::RedisConfig {
        url: redis_url.clone(),
        prefix: prefix.clone(),
        history_url: None,
        record_ttl: Duration::from_secs(60),
    })
    .await
    .expect("store");
    store
        .set("config:mtroute:20", b"route", None)
        .await
        .expect("set");

    let acked: Acked = Default::default();
    let refused: Arc<Mutex<Vec<(String, String)>>> = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let dlr_url: String = form_urlencoded::byte_serialize(dlrs.url("/dlr").as_bytes()).collect();
    let tasks = load2(
        a.http,
        4,
        5,
        &dlr_url,
        acked.clone(),
        refused.clone(),
        stop.clone(),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Every message at an SMSC by now had its DLR map written long before the kill.
    let tracked: HashSet<String> = [&s1, &s2]
        .iter()
        .flat_map(|s| s.received().into_iter().map(|r| r.destination_addr))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.child.kill().expect("kill -9 redis");
    let _ = redis.child.wait();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _redis2 = start_redis(rport, &rdir).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().clone();
    assert!(
        acked.len() > 50,
        "load was applied ({} accepted)",
        acked.len()
    );
    wait_for(60, "every accepted message at an SMSC", || {
        let seen: HashSet<String> = [&s1, &s2]
            .iter()
            .flat_map(|s| s.received().into_iter().map(|r| r.destination_addr))
            .collect();
        acked.keys().all(|a| seen.contains(a))
    })
    .await;
    // Balance: every accepted message is charged (1.0 each) exactly once: none is free, and a
    // charge interrupted by the restart is retried with its operation id, never doubled.
    let (_, body) = get(a.http, "/balance?username=foo&password=bar").await;
    let v: serde_json::Value = serde_json::from_str(&body).expect("balance json");
    let balance = v["balance"].as_f64().expect("limited balance");
    let expected = 100000.0 - acked.len() as f64;
    eprintln!(
        "redis restart: accepted {}, refused {}, balance {balance} (expected {expected})",
        acked.len(),
        refused.lock().len()
    );
    assert!(
        (balance - expected).abs() < 1e-6,
        "balance {balance}, expected {expected}: charges lost or doubled by the restart"
    );
    assert_eq!(
        store.get("config:mtroute:20").await.expect("get"),
        Some(b"route".to_vec()),
        "configuration survives"
    );
    // Pending DLR maps: release the receipts, every tracked message gets its level-2 DLR.
    let held: usize = s1.held_receipts() + s2.held_receipts();
    let released = s1.release_receipts(64).await + s2.release_receipts(64).await;
    eprintln!("receipts held {held}, released {released}");
    let ids: HashSet<String> = tracked
        .iter()
        .filter_map(|to| acked.get(to).cloned())
        .collect();
    assert!(!ids.is_empty(), "messages were tracked before the restart");
    wait_for(
        60,
        "a level-2 DLR for every message tracked before the restart",
        || {
            let got: HashSet<String> = dlrs
                .calls()
                .iter()
                .filter(|c| c.get("level") == Some("2"))
                .filter_map(|c| c.get("id").map(str::to_string))
                .collect();
            ids.iter().all(|i| got.contains(i))
        },
    )
    .await;
    drop(a);
    cleanup(&prefix).await;
}

/// Like [`load`] with level-2 DLRs and an already encoded callback URL.
fn load2(
    addr: SocketAddr,
    clients: u32,
    tag: u32,
    dlr_url: &str,
    acked: Acked,
    refused: Arc<Mutex<Vec<(String, String)>>>,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..clients)
        .map(|c| {
            let (acked, refused, stop) = (acked.clone(), refused.clone(), stop.clone());
            let dlr_url = dlr_url.to_string();
            tokio::spawn(async move {
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let to = format!("{tag}{c}{n:06}");
                    n += 1;
                    let (st, body) = get(
                        addr,
                        &format!(
                            "/send?username=foo&password=bar&to={to}&content=chaos&dlr=yes&dlr-level=2&dlr-url={dlr_url}"
                        ),
                    )
                    .await;
                    if st == 200 && body.starts_with("Success") {
                        let id = body.trim_start_matches("Success \"").trim_end_matches('"');
                        acked.lock().insert(to, id.to_string());
                    } else if st == 0 {
                        break;
                    } else {
                        refused.lock().push((to, format!("{st} {body}")));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            })
        })
        .collect()
}

/// A PostgreSQL server of the test's own (the message history of one test's nodes), run as the
/// `postgres` user when the tests run as root; stopped and started under load.
struct Postgres {
    data: std::path::PathBuf,
    port: u16,
}

/// A PostgreSQL program (`/usr/lib/postgresql/<version>/bin`, the newest; else from `PATH`).
fn pg_bin(name: &str) -> std::path::PathBuf {
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|v| v.path().join("bin").join(name))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| name.into())
}

impl Postgres {
    /// `program` run as `postgres` when this process is root (PostgreSQL refuses root).
    fn command(program: &str) -> Command {
        use std::os::unix::fs::MetadataExt;
        let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        let mut c = if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(pg_bin(program));
            c
        } else {
            Command::new(pg_bin(program))
        };
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    }

    fn ctl(&self, args: &[&str]) -> bool {
        Self::command("pg_ctl")
            .args(args)
            .arg("-D")
            .arg(&self.data)
            .status()
            .is_ok_and(|s| s.success())
    }

    fn init(parent: &std::path::Path) -> Postgres {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755));
        let data = parent.join("pg");
        std::fs::create_dir_all(&data).expect("pg dir");
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&data)
            .status();
        let ok = Self::command("initdb")
            .args(["-U", "postgres", "-A", "trust", "--no-sync", "-D"])
            .arg(&data)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "initdb (PostgreSQL's server programs) in {}",
            data.display()
        );
        Postgres {
            data,
            port: free_port(),
        }
    }

    fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.data.display()
        );
        let log = self.data.join("server.log");
        let log = log.to_string_lossy();
        assert!(
            self.ctl(&["start", "-w", "-t", "30", "-l", &log, "-o", &opts]),
            "pg_ctl start"
        );
    }

    fn stop(&self) {
        assert!(self.ctl(&["stop", "-w", "-m", "fast"]), "pg_ctl stop");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.ctl(&["stop", "-m", "immediate"]);
    }
}

/// PostgreSQL (the message history) stopped for 4 s and started again under load: accepting
/// and delivering never wait for it, every accepted message reaches an SMSC with its DLR, and
/// every message's record is in PostgreSQL once it is back (held in memory meanwhile).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_under_load_loses_no_message_and_no_record() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("tmp");
    let pg = Postgres::init(dir.path());
    pg.start();
    let (s1, s2) = (simulator().await, simulator().await);
    let dlrs = receiver().await;
    let prefix = unique("pgrestart");
    let a = one_node_edited(dir.path(), &prefix, [&s1, &s2], |c| {
        c.replace("postgres://postgres@127.0.0.1:5432/test", &pg.url())
    })
    .await;
    let acked: Acked = Default::default();
    let refused: Arc<Mutex<Vec<(String, String)>>> = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(
        a.http,
        4,
        6,
        dlrs.url("/dlr"),
        acked.clone(),
        refused.clone(),
        stop.clone(),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.stop();
    let down = std::time::Instant::now();
    let at_smsc = || s1.submit_count() + s2.submit_count();
    let before = at_smsc();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let during = at_smsc() - before;
    pg.start();
    let restarted = down.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().clone();
    let refused = refused.lock().clone();
    assert!(
        acked.len() > 50,
        "load was applied ({} accepted)",
        acked.len()
    );
    let duplicates = verify("postgres restart", &acked, &[&s1, &s2], &dlrs).await;
    // Every record written, read back from PostgreSQL itself.
    let history = smsgate::store::pg_records::PgRecords::open(&pg.url(), Duration::from_secs(3600))
        .await
        .expect("history");
    let started = std::time::Instant::now();
    let mut missing = acked.len();
    while started.elapsed() < Duration::from_secs(30) {
        missing = 0;
        for id in acked.values() {
            match history.get(id).await {
                Ok(Some(r)) if r.status == "ESME_ROK" => {}
                _ => missing += 1,
            }
        }
        if missing == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "FAULT {{\"case\":\"postgres stopped 4 s under load\",\"acknowledged\":{},\"refused\":{},\"lost\":0,\"duplicates\":{duplicates},\"at_smsc_while_down\":{during},\"records_missing\":{missing},\"down_s\":{:.1}}}",
        acked.len(),
        refused.len(),
        restarted.as_secs_f64()
    );
    assert!(
        refused.is_empty(),
        "accepting needs no history: {refused:?}"
    );
    assert!(during > 0, "delivery went on while PostgreSQL was down");
    assert_eq!(missing, 0, "records lost with PostgreSQL's restart");
    drop(a);
    cleanup(&prefix).await;
}

/// A TCP relay to `to` that can be cut: every connection through it is dropped and new ones
/// are closed at once until it is healed (a node partitioned from one service).
struct Relay {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(to: SocketAddr) -> Relay {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("relay");
        let addr = l.local_addr().expect("relay addr");
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Default::default();
        let (c2, o2) = (cut.clone(), open.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut down, _)) = l.accept().await {
                if c2.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let Ok(mut up) = tokio::net::TcpStream::connect(to).await else {
                    continue;
                };
                let h = tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                });
                o2.lock().push(h.abort_handle());
            }
        });
        Relay {
            addr,
            cut,
            open,
            task,
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for h in self.open.lock().drain(..) {
            h.abort();
        }
    }

    fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

/// Node A cut from RabbitMQ (not from Redis) under load, for 12 s: its connector lease stays
/// renewable, yet A gives the connector up after a lease period and node B binds it, so the
/// SMSCs keep receiving what B accepts; no SMSC ever sees two sessions of one connector, and
/// once A is back nothing accepted is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_from_rabbitmq_but_not_redis_hands_its_connector_over() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("tmp");
    let (s1, s2) = (simulator().await, simulator().await);
    let dlrs = receiver().await;
    let prefix = unique("cut");
    let ports = [s1.addr.port(), s2.addr.port()];
    let (ha, hb) = (free_port(), free_port());
    let redis = "redis://127.0.0.1:6379/";
    let relay = Relay::start("127.0.0.1:5672".parse().expect("addr")).await;
    let ca = node_config(dir.path(), "A", ha, &prefix, redis, &ports);
    let text = std::fs::read_to_string(&ca)
        .expect("config")
        .replace("127.0.0.1:5672", &relay.addr.to_string());
    std::fs::write(&ca, text).expect("config");
    let cb = node_config(dir.path(), "B", hb, &prefix, redis, &ports);
    let a = start_node(&ca, ha).await;
    let b = start_node(&cb, hb).await;
    wait_for(20, "each simulator bound once", || {
        s1.stats().binds.load(Ordering::Relaxed) == 1
            && s2.stats().binds.load(Ordering::Relaxed) == 1
    })
    .await;

    let acked: Acked = Default::default();
    let refused: Arc<Mutex<Vec<(String, String)>>> = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = load(
        a.http,
        2,
        1,
        dlrs.url("/dlr"),
        acked.clone(),
        refused.clone(),
        stop.clone(),
    );
    let acked_b: Acked = Default::default();
    tasks.extend(load(
        b.http,
        4,
        2,
        dlrs.url("/dlr"),
        acked_b.clone(),
        refused.clone(),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    relay.cut();
    let cut_at = std::time::Instant::now();
    // A lease period (2 s) to notice, then B takes the connector over.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let b_before: HashSet<String> = acked_b.lock().keys().cloned().collect();
    let at_smscs = || -> HashSet<String> {
        [&s1, &s2]
            .iter()
            .flat_map(|s| s.received().into_iter().map(|r| r.destination_addr))
            .collect()
    };
    // What B accepts while A is still cut reaches the SMSCs (both connectors are B's now).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during: Vec<String> = acked_b
        .lock()
        .keys()
        .filter(|k| !b_before.contains(*k))
        .cloned()
        .collect();
    wait_for(
        10,
        "what node B accepted during the cut at an SMSC, before the cut ends",
        || {
            let seen = at_smscs();
            during.iter().all(|d| seen.contains(d))
        },
    )
    .await;
    let cut_for = cut_at.elapsed();
    relay.heal();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let mut all = acked.lock().clone();
    all.extend(acked_b.lock().clone());
    let dups = verify("node A cut from RabbitMQ", &all, &[&s1, &s2], &dlrs).await;
    let most = [&s1, &s2].map(|s| s.stats().bound_max.load(Ordering::SeqCst));
    println!(
        "FAULT {{\"case\":\"node cut from RabbitMQ, not Redis, {:.0} s\",\"acknowledged\":{},\"refused\":{},\"lost\":0,\"duplicates\":{dups},\"accepted_by_b_during_cut\":{},\"most_sessions_per_smsc\":{most:?}}}",
        cut_for.as_secs_f64(),
        all.len(),
        refused.lock().len(),
        during.len()
    );
    assert!(!during.is_empty(), "node B accepted during the cut");
    assert_eq!(most, [1, 1], "two nodes bound one connector at once");
    assert!(dups <= 64, "{dups} duplicates: more than node A's windows");
    drop((a, b));
    cleanup(&prefix).await;
}

/// A RabbitMQ cluster of three nodes of the test's own (`<name>{a,b,c}@localhost`, run as the
/// `rabbitmq` user from Debian's scripts, each with its own port, data and no plugins).
struct RabbitCluster {
    dir: std::path::PathBuf,
    nodes: Vec<(String, u16)>,
}

impl RabbitCluster {
    /// `rabbitmqctl`/`rabbitmq-server` as the `rabbitmq` user with `env`.
    fn run(program: &str, env: &str, args: &str) -> std::process::Output {
        Command::new("su")
            .args(["rabbitmq", "-s", "/bin/sh", "-c"])
            .arg(format!(
                "cd /var/lib/rabbitmq && HOME=/var/lib/rabbitmq {env} /usr/lib/rabbitmq/bin/{program} {args}"
            ))
            .output()
            .expect("su rabbitmq (tests run as root)")
    }

    fn ctl(&self, node: usize, args: &str) -> bool {
        let out = Self::run(
            "rabbitmqctl",
            "",
            &format!("-n {} {args}", self.nodes[node].0),
        );
        if !out.status.success() {
            eprintln!(
                "rabbitmqctl -n {} {args}: {}{}",
                self.nodes[node].0,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        out.status.success()
    }

    fn start(parent: &std::path::Path) -> RabbitCluster {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755));
        let dir = parent.join("rabbitmq");
        let name = format!("sgt{}", std::process::id());
        let nodes: Vec<(String, u16)> = ["a", "b", "c"]
            .iter()
            .map(|n| (format!("{name}{n}@localhost"), free_port()))
            .collect();
        for (node, port) in &nodes {
            let d = dir.join(node.split('@').next().unwrap_or("n"));
            std::fs::create_dir_all(&d).expect("node dir");
            std::fs::write(
                d.join("rabbitmq.conf"),
                format!("listeners.tcp.local = 127.0.0.1:{port}\nloopback_users = none\n"),
            )
            .expect("conf");
            std::fs::write(d.join("enabled_plugins"), "[].\n").expect("plugins");
        }
        let _ = Command::new("chown")
            .args(["-R", "rabbitmq:rabbitmq"])
            .arg(&dir)
            .status();
        let cluster = RabbitCluster { dir, nodes };
        for (node, _) in &cluster.nodes {
            let d = cluster.node_dir(node);
            let env = format!(
                "RABBITMQ_NODENAME={node} RABBITMQ_DIST_PORT={dist} RABBITMQ_CONFIG_FILE={d}/rabbitmq \
                 RABBITMQ_ENABLED_PLUGINS_FILE={d}/enabled_plugins RABBITMQ_MNESIA_BASE={d}/mnesia \
                 RABBITMQ_LOG_BASE={d}/log RABBITMQ_PID_FILE={d}/pid",
                dist = free_port(),
                d = d.display()
            );
            let out = Self::run("rabbitmq-server", &env, "-detached");
            assert!(out.status.success(), "rabbitmq-server {node}: {out:?}");
        }
        for i in 0..3 {
            // Reachable first (the VM starting), then booted.
            let ping = format!("-n {} -q ping", cluster.nodes[i].0);
            let up = (0..120).any(|_| {
                let ok = Self::run("rabbitmqctl", "", &ping).status.success();
                if !ok {
                    std::thread::sleep(Duration::from_millis(500));
                }
                ok
            });
            assert!(up, "node {i} reachable");
            assert!(
                cluster.ctl(i, "await_startup --timeout 120"),
                "node {i} started"
            );
        }
        for i in 1..3 {
            let first = cluster.nodes[0].0.clone();
            assert!(cluster.ctl(i, "stop_app"));
            assert!(cluster.ctl(i, &format!("join_cluster {first}")), "joined");
            assert!(cluster.ctl(i, "start_app"));
        }
        cluster
    }

    fn node_dir(&self, node: &str) -> std::path::PathBuf {
        self.dir.join(node.split('@').next().unwrap_or("n"))
    }

    /// `broker.url` listing the three nodes.
    fn url(&self) -> String {
        self.nodes
            .iter()
            .map(|(_, p)| format!("amqp://guest:guest@127.0.0.1:{p}/%2f"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `kill -9` of node `i`'s Erlang VM.
    fn kill(&self, i: usize) {
        let pid =
            std::fs::read_to_string(self.node_dir(&self.nodes[i].0).join("pid")).expect("pid file");
        let ok = Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -9 {}", self.nodes[i].0);
    }
}

impl Drop for RabbitCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            if let Ok(pid) = std::fs::read_to_string(self.node_dir(&self.nodes[i].0).join("pid")) {
                let _ = Command::new("kill")
                    .args(["-9", pid.trim()])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// One node of a three-node RabbitMQ cluster (quorum queues) killed under load: it is the
/// node the gateway is connected to, so the gateway moves to another node of `broker.url`;
/// every message accepted reaches an SMSC, and accepting resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_of_a_three_node_rabbitmq_cluster_killed_under_load() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("tmp");
    let rabbit = tokio::task::spawn_blocking({
        let d = dir.path().to_path_buf();
        move || RabbitCluster::start(&d)
    })
    .await
    .expect("cluster");
    let (s1, s2) = (simulator().await, simulator().await);
    let dlrs = receiver().await;
    let prefix = unique("rmq3");
    let a = one_node_edited(dir.path(), &prefix, [&s1, &s2], |c| {
        c.replace(
            &format!("url = \"{AMQP}\""),
            &format!("url = \"{}\"\nqueue_type = \"quorum\"", rabbit.url()),
        )
    })
    .await;
    let acked: Acked = Default::default();
    let refused: Arc<Mutex<Vec<(String, String)>>> = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(
        a.http,
        4,
        7,
        dlrs.url("/dlr"),
        acked.clone(),
        refused.clone(),
        stop.clone(),
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = acked.lock().len();
    rabbit.kill(0);
    let killed = std::time::Instant::now();
    // Accepting resumes on another node.
    wait_for(60, "messages accepted again after the kill", || {
        acked.lock().len() > before + 100
    })
    .await;
    let resumed = killed.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().clone();
    let dups = verify("RabbitMQ node killed", &acked, &[&s1, &s2], &dlrs).await;
    println!(
        "FAULT {{\"case\":\"one of three RabbitMQ nodes killed (quorum queues)\",\"acknowledged\":{},\"refused\":{},\"lost\":0,\"duplicates\":{dups},\"accepting_again_after_s\":{:.1}}}",
        acked.len(),
        refused.lock().len(),
        resumed.as_secs_f64()
    );
    drop(a);
}
