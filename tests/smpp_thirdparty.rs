//! The SMPP server against a third-party SMPP implementation: python-smpplib
//! (`tests/esme/smpplib_esme.py`) binds, submits (one, then a window of 200 written
//! without waiting), enquires and unbinds over a real socket; the test checks the script's JSON
//! lines and what the SMSC simulator received.
//!
//! Needs `python3` with `smpplib` (`scripts/test.sh` installs it). Without them the test
//! fails, naming the fix: a missing interpreter must not turn into a silent pass.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use crate::common::*;
use serde_json::Value;

const BURST: usize = 200;
const PREFIX: &str = "3361";

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/esme/smpplib_esme.py")
}

/// Panics with the fix when python3 or smpplib is missing.
async fn require_smpplib() {
    let out = tokio::process::Command::new("python3")
        .args(["-c", "import smpplib"])
        .output()
        .await;
    match out {
        Err(e) => panic!(
            "python3 is required for this test ({e}); install Python 3 and run \
             `python3 -m pip install smpplib` (scripts/test.sh does)"
        ),
        Ok(o) if !o.status.success() => panic!(
            "the Python package smpplib is required for this test: run \
             `python3 -m pip install smpplib` (scripts/test.sh does); python3 said: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Ok(_) => {}
    }
}

/// The script's JSON lines, by step.
fn steps(stdout: &str) -> HashMap<String, Value> {
    stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .map(|v| (v["step"].as_str().unwrap_or_default().to_string(), v))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smpplib_esme_binds_submits_and_unbinds() {
    require_smpplib().await;
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = load(&config_toml(dir.path(), 0, sim.addr.port()), dir.path());
    let gw = gateway(cfg).await;
    let addr = gw.smpp_addr().expect("smpp server enabled");

    let child = tokio::process::Command::new("python3")
        .arg(script())
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .args(["--user", "foo", "--password", "bar"])
        .args(["--burst", &BURST.to_string(), "--prefix", PREFIX])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), child)
        .await
        .expect("smpplib ESME finished within 120 s")
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let ctx = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    eprintln!("smpplib ESME:\n{stdout}");
    assert!(out.status.success(), "smpplib ESME failed\n{ctx}");
    let st = steps(&stdout);
    let step = |name: &str| -> &Value {
        st.get(name)
            .unwrap_or_else(|| panic!("no {name:?} line\n{ctx}"))
    };

    // Refused binds: the status smpplib saw, and the connection closed afterwards.
    assert_eq!(
        step("bad_password")["status"],
        0x0E,
        "ESME_RINVPASWD\n{ctx}"
    );
    assert_eq!(step("bad_password")["closed"], true, "{ctx}");
    assert_eq!(
        step("unknown_sysid")["status"],
        0x0F,
        "ESME_RINVSYSID\n{ctx}"
    );
    assert_eq!(step("unknown_sysid")["closed"], true, "{ctx}");

    let bind = step("bind");
    assert_eq!(bind["status"], 0, "{ctx}");
    assert_eq!(bind["command"], "bind_transceiver_resp", "{ctx}");
    assert_eq!(bind["bound_trx"], true, "{ctx}");

    let el = step("enquire_link");
    assert_eq!(el["status"], 0, "{ctx}");
    assert_eq!(el["command"], "enquire_link_resp", "{ctx}");
    assert_eq!(el["seq_match"], true, "{ctx}");

    let submit = step("submit");
    assert_eq!(submit["status"], 0, "{ctx}");
    assert_eq!(submit["command"], "submit_sm_resp", "{ctx}");
    assert_eq!(submit["seq_match"], true, "{ctx}");
    let id = submit["message_id"].as_str().unwrap_or_default();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "UUID message_id {id:?}");

    let burst = step("burst");
    assert_eq!(burst["sent"], BURST, "{ctx}");
    assert_eq!(
        burst["answered"], BURST,
        "every sequence number answered\n{ctx}"
    );
    assert_eq!(burst["answered_twice"], 0, "answered once each\n{ctx}");
    assert_eq!(burst["unknown_seq"], 0, "{ctx}");
    assert_eq!(burst["missing"], 0, "{ctx}");
    assert_eq!(burst["statuses"]["0"], BURST, "all ESME_ROK\n{ctx}");
    assert_eq!(burst["distinct_ids"], BURST, "distinct message ids\n{ctx}");

    let unbind = step("unbind");
    assert_eq!(unbind["status"], 0, "{ctx}");
    assert_eq!(unbind["command"], "unbind_resp", "{ctx}");
    assert_eq!(unbind["seq_match"], true, "{ctx}");
    assert_eq!(unbind["closed"], true, "server closes after unbind\n{ctx}");
    assert_eq!(step("done")["ok"], true, "{ctx}");

    // The SMSC got the single message and every message of the burst, once each.
    wait_for(30, "all smpplib submits at the SMSC", || {
        sim.submit_count() as usize > BURST
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = sim.received();
    assert_eq!(got.len(), BURST + 1, "no duplicates at the SMSC");
    let single = got
        .iter()
        .find(|r| r.destination_addr == format!("{PREFIX}0000000"))
        .expect("the single submit at the SMSC");
    assert_eq!(single.short_message, b"hello from smpplib");
    assert_eq!(single.source_addr, "1234");
    let burst_dests: HashSet<&str> = got
        .iter()
        .filter(|r| r.short_message.starts_with(b"burst "))
        .map(|r| r.destination_addr.as_str())
        .collect();
    for i in 1..=BURST {
        let want = format!("{PREFIX}{i:07}");
        assert!(burst_dests.contains(want.as_str()), "{want} at the SMSC");
    }
    for r in got
        .iter()
        .filter(|r| r.short_message.starts_with(b"burst "))
    {
        let n: usize = String::from_utf8_lossy(&r.short_message[6..])
            .parse()
            .expect("burst number");
        assert_eq!(
            r.destination_addr,
            format!("{PREFIX}{n:07}"),
            "content matches"
        );
    }

    wait_for(10, "the unbind counted", || {
        gw.stats
            .render_prometheus()
            .contains("smppsapi_unbind_count 1")
    })
    .await;
    let m = gw.stats.render_prometheus();
    assert!(
        m.contains(&format!("smppsapi_submit_sm_count {}", BURST + 1)),
        "{m}"
    );
}
