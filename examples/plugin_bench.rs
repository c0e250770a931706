//! Plugin benchmark (run in release):
//!
//! ```text
//! cargo run --release -p smsgate --example plugin_bench -- [seconds-of-load-per-side]
//! ```
//!
//! 1. Added latency per message of one Wasm filter in a routing table and of one modifying
//!    interceptor (p50/p99 of the routing or interception step, with and without the plugin).
//! 2. Cold load of a plugin from the on-disk cache (a fresh host, cached machine code), and
//!    the first compilation for comparison.
//! 3. End-to-end throughput (HTTP /send → SMPP → simulator) without plugins and with a Wasm
//!    filter, a modifying interceptor and a plugin route active: two gateways side by side,
//!    the load alternating between them in 1-second slices.
//! 4. Python scripts (`plugins/python`): cold start from the cache, added latency of an
//!    `EvalPyFilter` and of an interceptor rewriting the sender, and end-to-end throughput
//!    with one Python interceptor against none.
//!
//! `PLUGIN_BENCH_ONLY=micro`, `=throughput`, `=python` or `=python-throughput` runs one part.
//!
//! The plugins come from `plugins/` built for wasm32-wasip2 (built here if needed).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smsgate::app::Gateway;
use smsgate::config::{Config, FilterConfig, InterceptorConfig, PluginsConfig, RouteConfig};
use smsgate::interception::Interception;
use smsgate::model::{Channel, Direction, Message};
use smsgate::plugins::python::ScriptKind;
use smsgate::plugins::PluginHost;
use smsgate::routing::{BuildOptions, Routable, RoutingTable, ScriptHost, TableKind};
use smsgate::simulator::{SimConfig, Simulator};

fn wasm_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("wasm-plugins");
    let ok = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
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
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "building the plugins failed");
    target.join("wasm32-wasip2/release")
}

fn pct(v: &mut [u64], p: f64) -> f64 {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p) as usize] as f64 / 1000.0
}

fn message() -> Message {
    let mut m = Message::new(
        Direction::Mt,
        Channel::Http,
        smsgate::model::message::now_ms(),
    );
    m.destination.addr = "33600000000".into();
    m.user = Some("foo".into());
    m.group = Some("g1".into());
    m
}

/// p50/p99 in µs of `f` over `n` calls.
fn measure(n: usize, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..n / 10 {
        f();
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f();
        v.push(t.elapsed().as_nanos() as u64);
    }
    (pct(&mut v, 0.5), pct(&mut v, 0.99))
}

fn plugins_cfg(dir: &Path, cache: &Path) -> PluginsConfig {
    PluginsConfig {
        enabled: true,
        dir: Some(dir.to_path_buf()),
        cache_dir: Some(cache.to_path_buf()),
        ..Default::default()
    }
}

fn install(wasm: &Path, dir: &Path, krate: &str, name: &str, toml: &str) {
    std::fs::write(dir.join(format!("{name}.toml")), toml).expect("toml");
    std::fs::copy(
        wasm.join(format!("{krate}.wasm")),
        dir.join(format!("{name}.wasm")),
    )
    .expect("copy");
}

/// Two MT tables sending to `black` what filter `bl` matches and the rest to `sim`: one with
/// `filter` (fid `bl`), one with the native filter it stands for (destinations `^3369999`).
fn filter_tables(filter: FilterConfig, opts: &BuildOptions) -> (RoutingTable, RoutingTable) {
    let mut native = FilterConfig::new("bl", "DestinationAddrFilter");
    native.destination_addr = Some("^3369999".into());
    let mut route = RouteConfig::new("StaticMTRoute", 10);
    route.connector = Some("smppc(black)".into());
    route.filters = vec!["bl".into()];
    let mut default = RouteConfig::new("DefaultRoute", 0);
    default.connector = Some("smppc(sim)".into());
    let routes = [route, default];
    let table = |f: FilterConfig| {
        RoutingTable::build_with(TableKind::Mt, &routes, &[f], opts).expect("table")
    };
    (table(filter), table(native))
}

fn micro(wasm: &Path, tmp: &Path) {
    let dir = tmp.join("plugins");
    let cache = tmp.join("cache");
    std::fs::create_dir_all(&dir).expect("dir");
    install(
        wasm,
        &dir,
        "blacklist",
        "bl",
        "[config]\nnumbers = \"33699999999,33688888888\"\n",
    );
    install(
        wasm,
        &dir,
        "sender_override",
        "sender",
        "[config]\nsender = \"BRAND\"\n",
    );
    install(
        wasm,
        &dir,
        "preferred_route",
        "pref",
        "[config]\nprefer = \"smppc(sim2)\"\n",
    );
    let pcfg = plugins_cfg(&dir, &cache);
    let t = Instant::now();
    let host = PluginHost::new(&pcfg, tmp).expect("host");
    host.scan();
    let first = t.elapsed();
    // Cold load from the cache: a new host (new engines), machine code from disk.
    let mut cold = vec![];
    for _ in 0..10 {
        let h2 = PluginHost::new(&pcfg, tmp).expect("host");
        let t = Instant::now();
        h2.load_file(&dir.join("bl.wasm")).expect("load");
        cold.push(t.elapsed().as_micros() as u64 * 1000);
    }
    println!(
        "load: first start (compile 3 plugins + cache) {:.1} ms; cold load of one plugin from cache p50 {:.2} ms",
        first.as_secs_f64() * 1000.0,
        pct(&mut cold, 0.5) / 1000.0
    );

    let scripts: Arc<dyn ScriptHost> = host.clone();
    let opts = BuildOptions {
        scripts: Some(scripts),
        ..Default::default()
    };
    let mut f_plugin = FilterConfig::new("bl", "PluginFilter");
    f_plugin.plugin = Some("bl".into());
    let (with, without) = filter_tables(f_plugin, &opts);
    let m = message();
    let r = Routable {
        message: &m,
        text: "hello world",
        uid: "foo",
        gid: "g1",
    };
    let n = 200_000;
    let (b50, b99) = measure(n, || {
        std::hint::black_box(without.route(&r));
    });
    let (p50, p99) = measure(n, || {
        std::hint::black_box(with.route(&r));
    });
    println!(
        "filter: route() without plugin p50 {b50:.2} µs p99 {b99:.2} µs; with the Wasm filter p50 {p50:.2} µs p99 {p99:.2} µs; added p50 {:.2} µs",
        p50 - b50
    );

    // A plugin route choosing between two connectors vs a static route.
    let mut plugin_route = RouteConfig::new("PluginMTRoute", 10);
    plugin_route.plugin = Some("pref".into());
    plugin_route.connectors = vec!["smppc(sim)".into(), "smppc(sim2)".into()];
    plugin_route.filters = vec!["all".into()];
    let mut static_route = RouteConfig::new("StaticMTRoute", 10);
    static_route.connector = Some("smppc(sim2)".into());
    static_route.filters = vec!["all".into()];
    let all = [FilterConfig::new("all", "TransparentFilter")];
    let with =
        RoutingTable::build_with(TableKind::Mt, &[plugin_route], &all, &opts).expect("table");
    let without =
        RoutingTable::build_with(TableKind::Mt, &[static_route], &all, &opts).expect("table");
    assert_eq!(
        with.route(&r).map(|d| d.connector),
        Some(smsgate::routing::ConnectorRef::Smppc("sim2".into())),
        "the plugin picks its preferred connector"
    );
    let (b50, _) = measure(n, || {
        std::hint::black_box(without.route(&r));
    });
    let (p50, p99) = measure(n, || {
        std::hint::black_box(with.route(&r));
    });
    println!(
        "route: static route p50 {b50:.2} µs; plugin route (2 candidates) p50 {p50:.2} µs p99 {p99:.2} µs; added p50 {:.2} µs",
        p50 - b50
    );

    let cfg = Config {
        mtinterceptors: vec![InterceptorConfig::new(
            "DefaultInterceptor",
            0,
            "plugin(sender)",
        )],
        ..Default::default()
    };
    let inter = Interception::build(&cfg, Some(host.clone()), &opts).expect("interception");
    let rt = tokio::runtime::Handle::current();
    let none = Interception::empty();
    let (b50, _) = measure(n, || {
        let mut m = m.clone();
        std::hint::black_box(rt.block_on(none.intercept(
            TableKind::Mt,
            &mut m,
            Some("hello world"),
            None,
            vec![],
        )));
    });
    let (p50, p99) = measure(n, || {
        let mut m = m.clone();
        std::hint::black_box(rt.block_on(inter.intercept(
            TableKind::Mt,
            &mut m,
            Some("hello world"),
            None,
            vec![],
        )));
    });
    let mut check = m.clone();
    rt.block_on(inter.intercept(TableKind::Mt, &mut check, Some("hello world"), None, vec![]));
    assert_eq!(check.source.addr, "BRAND");
    println!(
        "interceptor (modifies, tags, locks): p50 {p50:.2} µs p99 {p99:.2} µs; without p50 {b50:.2} µs; added p50 {:.2} µs",
        p50 - b50
    );
}

fn gateway_toml(data: &Path, http_port: u16, smsc: u16, extra: &str) -> String {
    let t = format!(
        r#"
data_dir = "{}"
log = "error"
[http-api]
bind = "127.0.0.1"
port = {http_port}
[smpp-server]
enabled = false
[jcli]
port = 0
[rest-api]
bind = "127.0.0.1"
port = 0
[store]
sync = "normal"
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
window = 64
[[smppccs]]
cid = "sim2"
host = "127.0.0.1"
port = {smsc}
window = 64
[[mtroutes]]
type = "DefaultRoute"
order = 0
connector = "smppc(sim)"
"#,
        data.display()
    );
    t + extra
}

/// The Wasm plugins side of the throughput comparison: a filter, a modifying interceptor and
/// a plugin route, loaded from `p`.
fn wasm_plugins_toml(p: &Path, data: &Path) -> String {
    format!(
        r#"
[plugins]
enabled = true
dir = "{}"
cache_dir = "{}"
[[filters]]
fid = "bl"
type = "PluginFilter"
plugin = "bl"
[[filters]]
fid = "all"
type = "TransparentFilter"
[[mtroutes]]
type = "StaticMTRoute"
order = 20
connector = "smppc(sim2)"
filters = ["bl"]
[[mtroutes]]
type = "PluginMTRoute"
order = 10
plugin = "pref"
connectors = ["smppc(sim)", "smppc(sim2)"]
filters = ["all"]
[[mtinterceptors]]
type = "DefaultInterceptor"
order = 0
script = "plugin(sender)"
"#,
        p.display(),
        data.join("cache").display()
    )
}

/// The Python side: one interceptor script rewriting the sender (Jasmin's documented
/// example), on the runtime at `rt` with its machine code cached in `cache`.
fn python_toml(rt: &Path, cache: &Path) -> String {
    format!(
        r#"
[plugins]
cache_dir = "{}"
[plugins.python]
runtime = "{}"
[[mtinterceptors]]
type = "DefaultInterceptor"
order = 0
script = "python3({})"
"#,
        cache.display(),
        rt.display(),
        sender_script().display()
    )
}

/// Jasmin's sender override example (`tests/data/python/jasmin-doc/sender_override.py`).
fn sender_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/python/jasmin-doc/sender_override.py")
}

/// The Python runtime component, built by `plugins/python/build.sh` (skipped when fresh).
fn python_runtime() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    let out = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("wasm-plugins/smsgate-python.wasm");
    let ok = std::process::Command::new("bash")
        .arg(root.join("plugins/python/build.sh"))
        .arg(&out)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "building the Python runtime failed");
    out
}

/// `workers` clients sending `/send` to `gw` for `secs`: (messages accepted, request p50 µs).
/// Destinations are unique across calls (`seq`).
async fn run_load(gw: &Gateway, secs: f64, workers: usize, seq: u64) -> (u64, f64) {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let addr = gw.http_addr.expect("http");
    let client: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let done = Arc::new(AtomicU64::new(0));
    let lat = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = vec![];
    for w in 0..workers {
        let (client, done, lat) = (client.clone(), done.clone(), lat.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            let mut mine = vec![];
            while Instant::now() < end {
                i += 1;
                let uri: hyper::Uri = format!(
                    "http://{addr}/send?username=foo&password=bar&to=33{seq:03}{w:02}{i:05}&content=hello"
                )
                .parse()
                .expect("uri");
                let t = Instant::now();
                let Ok(resp) = client.get(uri).await else {
                    continue;
                };
                let ok = resp.status() == 200;
                let _ = resp.into_body().collect().await;
                if ok {
                    mine.push(t.elapsed().as_nanos() as u64);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            lat.lock().extend(mine);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut v = std::mem::take(&mut *lat.lock());
    (
        done.load(Ordering::Relaxed),
        if v.is_empty() { 0.0 } else { pct(&mut v, 0.5) },
    )
}

async fn start_gateway(data: &Path, smsc: u16, extra: &str) -> Arc<Gateway> {
    std::fs::create_dir_all(data).expect("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let path = data.join("smsgate.toml");
    std::fs::write(&path, gateway_toml(data, port, smsc, extra)).expect("config");
    let cfg = Config::load(Some(&path)).expect("config");
    Gateway::start(cfg).await.expect("gateway")
}

/// End-to-end throughput without and with plugins (Wasm: a filter, a modifying interceptor
/// and a plugin route; Python: one interceptor rewriting the sender), each pair of gateways
/// side by side on one simulator.
async fn throughput(wasm: &Path, tmp: &Path, secs: f64, python: bool) {
    let sim = Simulator::start(SimConfig {
        bind: "127.0.0.1:0".parse().expect("addr"),
        hex_ids: true,
        dlr_delay: None,
        throttle_percent: 0,
        pdu_log: None,
        keep_messages: false,
    })
    .await
    .expect("simulator");
    let port = sim.addr.port();
    let without = start_gateway(&tmp.join("gw-without"), port, "").await;
    if python {
        let rt = python_runtime();
        let data = tmp.join("gw-python");
        let toml = python_toml(&rt, &tmp.join("py-cache"));
        let with = start_gateway(&data, port, &toml).await;
        compare(&sim, &without, &with, secs, "one Python interceptor").await;
        with.shutdown().await;
    } else {
        let pdir = tmp.join("tp-plugins");
        std::fs::create_dir_all(&pdir).expect("dir");
        install(
            wasm,
            &pdir,
            "blacklist",
            "bl",
            "[config]\nnumbers = \"33699999999\"\n",
        );
        install(
            wasm,
            &pdir,
            "sender_override",
            "sender",
            "[config]\nsender = \"BRAND\"\n",
        );
        install(
            wasm,
            &pdir,
            "preferred_route",
            "pref",
            "[config]\nprefer = \"smppc(sim)\"\n",
        );
        let data = tmp.join("gw-with");
        let with = start_gateway(&data, port, &wasm_plugins_toml(&pdir, &data)).await;
        compare(
            &sim,
            &without,
            &with,
            secs,
            "filter + interceptor + plugin route",
        )
        .await;
        with.shutdown().await;
    }
    without.shutdown().await;
}

/// Both gateways run side by side and the load alternates between them in 1-second slices
/// (the order flips every pair), so both sides see the same phases of this noisy machine. A
/// slice's rate is the messages accepted over HTTP divided by the time until the simulator
/// has received all of them.
async fn compare(sim: &Simulator, without: &Gateway, with: &Gateway, secs: f64, label: &str) {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Warm up both (connections, plugin instances, caches).
    let mut seq = 0;
    for gw in [without, with] {
        seq += 1;
        run_load(gw, 1.0, 32, seq).await;
    }
    let slice = 1.0;
    let pairs = (secs / slice).ceil().max(2.0) as usize;
    // (accepted, seconds, p50s) per side.
    let mut sides = [(0u64, 0f64, Vec::new()), (0u64, 0f64, Vec::new())];
    let mut ratios = vec![];
    for pair in 0..pairs {
        let mut rates = [0f64; 2];
        let order = if pair % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            let gw = if side == 0 { without } else { with };
            seq += 1;
            let before = sim.submit_count();
            let t = Instant::now();
            let (n, p50) = run_load(gw, slice, 32, seq).await;
            let drained = Instant::now() + Duration::from_secs(30);
            while sim.submit_count() < before + n && Instant::now() < drained {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let took = t.elapsed().as_secs_f64();
            rates[side] = n as f64 / took;
            sides[side].0 += n;
            sides[side].1 += took;
            sides[side].2.push(p50);
        }
        ratios.push(rates[1] / rates[0]);
        println!(
            "throughput pair {pair}: no plugins {:.0} msg/s, {label} {:.0} msg/s ({:.1}%)",
            rates[0],
            rates[1],
            100.0 * rates[1] / rates[0]
        );
    }
    let rate = |s: &(u64, f64, Vec<f64>)| s.0 as f64 / s.1;
    let p50 = |s: &mut (u64, f64, Vec<f64>)| {
        s.2.sort_by(|a, b| a.total_cmp(b));
        s.2[s.2.len() / 2]
    };
    ratios.sort_by(|a, b| a.total_cmp(b));
    let (r0, r1) = (rate(&sides[0]), rate(&sides[1]));
    let (l0, l1) = (p50(&mut sides[0]), p50(&mut sides[1]));
    println!(
        "throughput: with {label} {r1:.0} msg/s vs without {r0:.0} msg/s = {:.1}% (median of {} pairs {:.1}%); request p50 {l1:.0} vs {l0:.0} µs",
        100.0 * r1 / r0,
        ratios.len(),
        100.0 * ratios[ratios.len() / 2]
    );
}

/// Python scripts: cold start from the cache, added latency of an `EvalPyFilter` in a
/// routing table and of an interceptor rewriting the sender (Jasmin's example).
fn python_micro(tmp: &Path) {
    let rt = python_runtime();
    // The tests' cache (the runtime's machine code): compiled once per runtime build.
    let cache = rt.with_file_name("").join("../python-cache");
    let pcfg = PluginsConfig {
        cache_dir: Some(cache.clone()),
        python: smsgate::config::PythonConfig {
            runtime: Some(rt),
            ..Default::default()
        },
        ..Default::default()
    };
    let t = Instant::now();
    let host = PluginHost::new(&pcfg, tmp).expect("host");
    host.python_script(None, "result = True", ScriptKind::Filter)
        .expect("script");
    let first = t.elapsed();
    // Cold start from the cache: new engines, machine code from disk, a first instance and a
    // first script compiled.
    let mut cold = vec![];
    for i in 0..10 {
        let h2 = PluginHost::new(&pcfg, tmp).expect("host");
        let t = Instant::now();
        h2.python_script(None, &format!("result = {i} > 0"), ScriptKind::Filter)
            .expect("script");
        cold.push(t.elapsed().as_nanos() as u64);
    }
    println!(
        "python: first start {:.0} ms (compiles the runtime when the cache has no copy of this build); cold start from the cache (load, instantiate, compile a script) p50 {:.1} ms",
        first.as_secs_f64() * 1000.0,
        pct(&mut cold, 0.5) / 1000.0
    );

    let scripts: Arc<dyn ScriptHost> = host.clone();
    let opts = BuildOptions {
        scripts: Some(scripts),
        ..Default::default()
    };
    let mut f_py = FilterConfig::new("bl", "EvalPyFilter");
    // PY_FILTER: another filter to measure (it must match 33699999999 and not 33600000000).
    f_py.py_code = Some(std::env::var("PY_FILTER").unwrap_or_else(|_| {
        "result = routable.pdu.params['destination_addr'].startswith(b'3369999')".into()
    }));
    let (with, without) = filter_tables(f_py, &opts);
    let m = message();
    let r = Routable {
        message: &m,
        text: "hello world",
        uid: "foo",
        gid: "g1",
    };
    let mut black = m.clone();
    black.destination.addr = "33699999999".into();
    let rb = Routable {
        message: &black,
        ..r
    };
    assert_eq!(
        with.route(&rb).map(|d| d.connector),
        Some(smsgate::routing::ConnectorRef::Smppc("black".into())),
        "the Python filter matches"
    );
    let n = 20_000;
    let (b50, _) = measure(n, || {
        std::hint::black_box(without.route(&r));
    });
    let (p50, p99) = measure(n, || {
        std::hint::black_box(with.route(&r));
    });
    println!(
        "python filter: route() without p50 {b50:.2} µs; with an EvalPyFilter p50 {p50:.2} µs p99 {p99:.2} µs; added p50 {:.2} µs",
        p50 - b50
    );

    let cfg = Config {
        mtinterceptors: vec![InterceptorConfig::new(
            "DefaultInterceptor",
            0,
            &format!("python3({})", sender_script().display()),
        )],
        ..Default::default()
    };
    let inter = Interception::build(&cfg, Some(host.clone()), &opts).expect("interception");
    let none = Interception::empty();
    let rt = tokio::runtime::Handle::current();
    let run = |i: &Interception| {
        let mut m = m.clone();
        rt.block_on(i.intercept(TableKind::Mt, &mut m, Some("hello world"), None, vec![]));
        m
    };
    assert_eq!(run(&inter).source.addr, "123456789");
    let (b50, _) = measure(n, || {
        std::hint::black_box(run(&none));
    });
    let (p50, p99) = measure(n, || {
        std::hint::black_box(run(&inter));
    });
    println!(
        "python interceptor (rewrites the sender): p50 {p50:.2} µs p99 {p99:.2} µs; without p50 {b50:.2} µs; added p50 {:.2} µs",
        p50 - b50
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let wasm = wasm_dir();
    let tmp = tempfile::tempdir().expect("tmp");
    let (w, t) = (wasm.clone(), tmp.path().to_path_buf());
    let only = std::env::var("PLUGIN_BENCH_ONLY").ok();
    if only.is_none() || only.as_deref() == Some("micro") {
        tokio::task::spawn_blocking(move || micro(&w, &t))
            .await
            .expect("micro");
    }
    if only.is_none() || only.as_deref() == Some("throughput") {
        throughput(&wasm, tmp.path(), secs, false).await;
    }
    let t = tmp.path().to_path_buf();
    if only.is_none() || only.as_deref() == Some("python") {
        tokio::task::spawn_blocking(move || python_micro(&t))
            .await
            .expect("python micro");
    }
    if only.is_none() || only.as_deref() == Some("python-throughput") {
        throughput(&wasm, tmp.path(), secs, true).await;
    }
}
