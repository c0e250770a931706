//! `smsgate import-jasmin` end to end, with the real binary: the reference store (persisted by
//! a live Jasmin 0.11.1) becomes a configuration the gateway loads, its users log in with their
//! Jasmin passwords (upgraded to argon2 at the first login), balances carry over and a
//! re-import posts only what changed; broken stores are refused with nothing written. The
//! comparison with Jasmin itself loaded with the same store is in `jasmin_diff.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use rusmpp::CommandStatus;

fn store() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/jasmin-store")
}

/// `smsgate [--config CFG] import-jasmin ARGS`: (exit code, stdout, stderr).
fn import(cfg: Option<&Path>, args: &[&str]) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smsgate"));
    if let Some(cfg) = cfg {
        c.arg("--config").arg(cfg);
    }
    let out = c
        .arg("import-jasmin")
        .args(args)
        .env_remove("SMSGATE_CONFIG")
        .output()
        .expect("run smsgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A copy of the reference store to break.
fn store_copy() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tmp");
    for e in std::fs::read_dir(store()).expect("store") {
        let p = e.expect("entry").path();
        if p.is_file() {
            std::fs::copy(&p, d.path().join(p.file_name().expect("name"))).expect("copy");
        }
    }
    d
}

fn md5_hex(s: &str) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(s.as_bytes()))
}

/// A gateway configuration for `data_dir` on ephemeral ports.
fn data_dir_config(dir: &Path) -> PathBuf {
    let path = dir.join("base.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\nlog = \"warn\"\n[http-api]\nbind = \"127.0.0.1\"\nport = 0\n\
             [smpp-server]\nbind = \"127.0.0.1\"\nport = 0\n[jcli]\nport = 0\n[rest-api]\nport = 0\n",
            dir.join("data").display()
        ),
    )
    .expect("config");
    path
}

#[tokio::test]
async fn the_reference_store_becomes_a_configuration_the_gateway_loads() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("conf/smsgate.toml");
    let out_s = out.display().to_string();
    let jcfg = store().join("jasmin.cfg").display().to_string();
    let store_s = store().display().to_string();
    let args = [
        store_s.as_str(),
        "--profile",
        "fixture",
        "--jasmin-cfg",
        &jcfg,
        "--out",
        &out_s,
        "--utc-offset",
        "+01:00",
    ];
    let (code, stdout, stderr) = import(None, &args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(!stdout.contains("not imported"), "{stdout}");
    assert!(stdout.contains("(Jasmin 0.11.1)"), "{stdout}");

    // The scripts Jasmin embedded, written beside the configuration, byte for byte.
    let scripts = dir.path().join("conf/scripts");
    for (written, original) in [
        ("filter-py_notfoo.py", "evalpy-not-foo.py"),
        ("mt-interceptor-10.py", "mt-override-sender.py"),
        ("mo-interceptor-0.py", "mo-tag.py"),
    ] {
        assert_eq!(
            std::fs::read_to_string(scripts.join(written)).expect(written),
            std::fs::read_to_string(store().join("scripts").join(original)).expect(original),
            "{written}"
        );
    }

    let cfg = smsgate::load_config(Some(&out)).expect("the written configuration loads");
    // jasmin.cfg's listeners.
    assert_eq!(
        (cfg.http_api.port, cfg.smpp_server.port, cfg.jcli.port),
        (1401, 2775, 8990)
    );
    assert_eq!(cfg.http_api.bind, "127.0.0.1");
    // Jasmin's Redis, where receipts for messages it sent are looked up during the switch.
    assert_eq!(
        cfg.migration.jasmin_redis.as_deref(),
        Some("redis://127.0.0.1:6379/0")
    );
    // Users: MD5 digests, credentials, quotas as Jasmin holds them.
    let user = |n: &str| {
        cfg.users
            .iter()
            .find(|u| u.username == n)
            .unwrap_or_else(|| panic!("user {n}"))
            .clone()
    };
    let acme = user("acme");
    assert_eq!(acme.password, format!("md5:{}", md5_hex("acmepwd")));
    assert_eq!(acme.gid, "retail");
    let q = &acme.mt_messaging_cred.quota;
    assert_eq!(
        (q.balance, q.sms_count, q.early_percent),
        (Some(100.5), Some(1000), Some(10.0))
    );
    assert_eq!(
        acme.mt_messaging_cred.value_filter.dst_addr.as_str(),
        "^33.*"
    );
    assert_eq!(
        acme.mt_messaging_cred.default_value.src_addr.as_deref(),
        Some("ACME")
    );
    assert!(!acme.mt_messaging_cred.authorization.http_long_content);
    assert_eq!(acme.smpps_cred.quota.max_bindings, Some(2));
    let reseller = user("reseller1");
    assert_eq!(reseller.mt_messaging_cred.quota.http_throughput, Some(50.0));
    assert!(!reseller.mt_messaging_cred.authorization.dlr_level);
    assert!(!user("foo").enabled);
    // Connectors with Jasmin's values made explicit.
    let cc = |cid: &str| {
        cfg.smppccs
            .iter()
            .find(|c| c.cid == cid)
            .unwrap_or_else(|| panic!("smppcc {cid}"))
            .clone()
    };
    let tx1 = cc("tx1");
    assert_eq!(
        (
            tx1.host.as_str(),
            tx1.port,
            tx1.username.as_str(),
            tx1.password.as_str()
        ),
        ("10.0.0.10", 2775, "acme_tx", "txpwd")
    );
    assert_eq!(tx1.bind, smsgate::config::BindType::Transmitter);
    assert_eq!(
        (
            tx1.submit_throughput,
            tx1.response_timeout_s,
            tx1.src_ton,
            tx1.src_npi
        ),
        (200.0, 120, 2, 1)
    );
    assert_eq!(cc("rx1").bind, smsgate::config::BindType::Receiver);
    // Stopped in Jasmin (the store's connectors were never started): they stay stopped.
    assert!(
        cfg.smppccs.iter().all(|c| !c.start),
        "{:?}",
        cfg.smppccs
            .iter()
            .map(|c| (&c.cid, c.start))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        cc("rx1").submit_throughput,
        1.0,
        "Jasmin's default, explicit"
    );
    assert_eq!((cc("backup").dlr_msgid, cc("backup").port), (1, 2776));
    assert_eq!(cfg.httpccs[0].url, "http://10.0.0.20/mo");
    assert_eq!(cfg.httpccs[0].method, "POST");
    // Filters and routes, by fid, with the route's filters resolved to the filter table.
    assert_eq!(cfg.filters.len(), 11);
    let f = |fid: &str| {
        cfg.filters
            .iter()
            .find(|f| f.fid == fid)
            .expect(fid)
            .clone()
    };
    assert_eq!(
        f("season").date_interval.as_deref(),
        Some("2026-11-01;2026-12-31")
    );
    assert_eq!(f("season").utc_offset.as_deref(), Some("+01:00"));
    assert_eq!(
        f("office_hours").time_interval.as_deref(),
        Some("08:00:00;18:00:00")
    );
    assert_eq!(f("from_acme").uid.as_deref(), Some("acme"));
    assert_eq!(f("tag_vip").tag.as_deref(), Some("777"));
    assert_eq!(f("dest_fr").destination_addr.as_deref(), Some(r"^33\d+"));
    let routes: Vec<(u32, &str, Vec<String>, f64)> = cfg
        .mtroutes
        .iter()
        .map(|r| {
            let to = match &r.connector {
                Some(c) => vec![c.clone()],
                None => r.connectors.clone(),
            };
            (
                r.order,
                r.kind.as_str(),
                [to, r.filters.clone()].concat(),
                r.rate,
            )
        })
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        routes,
        vec![
            (0, "DefaultRoute", s(&["smppc(backup)"]), 0.1),
            (
                20,
                "StaticMTRoute",
                s(&["smppc(tx1)", "dest_fr", "from_acme"]),
                0.05
            ),
            (
                30,
                "RandomRoundrobinMTRoute",
                s(&["smppc(tx1)", "smppc(backup)", "grp_wholesale", "tag_vip"]),
                0.07
            ),
            (
                40,
                "FailoverMTRoute",
                s(&["smppc(tx1)", "smppc(backup)", "promo", "season"]),
                0.02
            ),
            (
                50,
                "StaticMTRoute",
                s(&["smppc(backup)", "py_notfoo", "src_short"]),
                0.0
            ),
        ]
    );
    assert_eq!(cfg.moroutes[1].connector.as_deref(), Some("smpps(acme)"));
    assert_eq!(cfg.moroutes[1].filters, vec!["conn_rx1".to_string()]);
    assert_eq!(
        cfg.mtinterceptors[0].script,
        format!(
            "python3({})",
            scripts.join("mt-interceptor-10.py").display()
        )
    );
    assert_eq!(cfg.mtinterceptors[0].filters, vec!["from_acme".to_string()]);
}

#[tokio::test]
async fn jasmin_passwords_log_in_everywhere_and_become_argon2() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg_path = data_dir_config(dir.path());
    let store_s = store().display().to_string();
    let (code, stdout, stderr) = import(
        Some(&cfg_path),
        &[&store_s, "--profile", "fixture", "--apply"],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("balance of acme: set to Some(100.5) / Some(1000)"),
        "{stdout}"
    );
    let gw = gateway(smsgate::load_config(Some(&cfg_path)).expect("config")).await;
    let http = gw.http_addr.expect("http");
    let hash_of = |name: &str| {
        gw.manager
            .profile()
            .users
            .iter()
            .find(|u| u.username == name)
            .map(|u| u.password.clone())
            .unwrap_or_default()
    };
    assert!(hash_of("acme").starts_with("md5:"));
    // HTTP: a wrong password is refused, the right one answers the imported balance.
    assert_eq!(
        get(http, "/balance?username=acme&password=nope").await.0,
        403
    );
    assert_eq!(
        get(http, "/balance?username=acme&password=acmepwd").await,
        (200, "{\"balance\": 100.5, \"sms_count\": 1000}".into())
    );
    wait_for(10, "acme's digest replaced by argon2", || {
        hash_of("acme").starts_with("$argon2")
    })
    .await;
    // The persisted profile too: a restart keeps the argon2 hash.
    let persisted = smsgate::manage::read_profile(&**gw.manager.store(), "jcli-prod")
        .await
        .expect("read")
        .expect("profile");
    let acme = persisted
        .users
        .iter()
        .find(|u| u.username == "acme")
        .expect("acme");
    assert!(acme.password.starts_with("$argon2"), "{}", acme.password);
    assert_eq!(
        get(http, "/balance?username=acme&password=acmepwd").await.0,
        200,
        "the same password against the new hash"
    );
    assert_eq!(
        get(http, "/balance?username=acme&password=nope").await.0,
        403
    );
    // SMPP: reseller1 binds with its Jasmin password.
    let smpp = gw.smpp_addr().expect("smpp");
    let (_s, _rx, st) = esme_bind(smpp, "trx", "reseller1", "r3s3ll").await;
    assert_eq!(st, CommandStatus::EsmeRok);
    let (_s2, _rx2, st) = esme_bind(smpp, "trx", "reseller1", "wrong").await;
    assert_eq!(st, CommandStatus::EsmeRinvpaswd);
    // A wrong password never replaces a digest.
    let (_s3, _rx3, st) = esme_bind(smpp, "trx", "foo", "nope").await;
    assert_ne!(st, CommandStatus::EsmeRok);
    wait_for(10, "reseller1's digest replaced", || {
        hash_of("reseller1").starts_with("$argon2")
    })
    .await;
    assert!(
        hash_of("foo").starts_with("md5:"),
        "a wrong password upgrades nothing"
    );
    gw.shutdown().await;
}

/// Write `value` over the first `old` after `key` in `bytes`.
fn patch_after(bytes: &mut [u8], key: &[u8], old: &[u8], value: &[u8]) {
    let k = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("key in the pickle");
    let at = k + bytes[k..]
        .windows(old.len())
        .position(|w| w == old)
        .expect("value after the key");
    bytes[at..at + value.len()].copy_from_slice(value);
}

/// acme's balance and sms_count in the store: BINFLOAT (big-endian) after `balance`, BININT2
/// after `submit_sm_count`.
fn set_acme(store: &Path, balance: f64, sms: u16) {
    let f = store.join("fixture.router-users");
    let mut b = std::fs::read(&f).expect("users");
    let mut cur_b = vec![b'G'];
    cur_b.extend_from_slice(&100.5f64.to_be_bytes());
    let mut cur_s = vec![b'M'];
    cur_s.extend_from_slice(&1000u16.to_le_bytes());
    // Rewrite from the original each time: the store copy keeps the original values.
    let orig = std::fs::read(self::store().join("fixture.router-users")).expect("orig");
    b.copy_from_slice(&orig);
    let mut new_b = vec![b'G'];
    new_b.extend_from_slice(&balance.to_be_bytes());
    let mut new_s = vec![b'M'];
    new_s.extend_from_slice(&sms.to_le_bytes());
    patch_after(&mut b, b"balance", &cur_b, &new_b);
    patch_after(&mut b, b"submit_sm_count", &cur_s, &new_s);
    std::fs::write(&f, b).expect("write");
}

async fn acme_balance(cfg: &Path) -> String {
    let gw = gateway(smsgate::load_config(Some(cfg)).expect("config")).await;
    let (_, b) = get(
        gw.http_addr.expect("http"),
        "/balance?username=acme&password=acmepwd",
    )
    .await;
    gw.shutdown().await;
    b
}

#[tokio::test]
async fn a_reimport_posts_only_what_changed_in_jasmin() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = data_dir_config(dir.path());
    let st = store_copy();
    let store_s = st.path().display().to_string();
    let apply = |extra: &[&str]| {
        let mut args = vec![store_s.as_str(), "--profile", "fixture", "--apply"];
        args.extend_from_slice(extra);
        let (code, out, err) = import(Some(&cfg), &args);
        assert_eq!(code, 0, "{out}\n{err}");
        out
    };
    apply(&[]);
    // smsgate spends 1.5 and 2 messages meanwhile.
    {
        let gw = gateway(smsgate::load_config(Some(&cfg)).expect("config")).await;
        gw.manager
            .store()
            .balance_charge("acme", 1.5, 2)
            .await
            .expect("charge");
        gw.shutdown().await;
    }
    // Jasmin spent 10 and 10 messages since the first import.
    set_acme(st.path(), 90.5, 990);
    let out = apply(&[]);
    assert!(
        out.contains("balance of acme: posted -10 and -10 sms"),
        "{out}"
    );
    assert_eq!(
        acme_balance(&cfg).await,
        "{\"balance\": 89.0, \"sms_count\": 988}"
    );
    // Again, with nothing changed in Jasmin: nothing posted.
    let out = apply(&[]);
    assert!(
        out.contains("balance of acme: unchanged in Jasmin since the last import"),
        "{out}"
    );
    assert_eq!(
        acme_balance(&cfg).await,
        "{\"balance\": 89.0, \"sms_count\": 988}"
    );
    // --balances skip leaves the ledger alone.
    set_acme(st.path(), 50.0, 500);
    let out = apply(&["--balances", "skip"]);
    assert!(out.contains("balances: left alone"), "{out}");
    assert_eq!(
        acme_balance(&cfg).await,
        "{\"balance\": 89.0, \"sms_count\": 988}"
    );
}

/// Breaks a copy of the store.
type Breaker = Box<dyn Fn(&Path)>;

#[tokio::test]
async fn broken_stores_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("out/smsgate.toml");
    let out_s = out.display().to_string();
    let run = |store: &Path, extra: &[&str]| {
        let s = store.display().to_string();
        let mut args = vec![s.as_str(), "--profile", "fixture", "--out", &out_s];
        args.extend_from_slice(extra);
        import(None, &args)
    };
    // A dry run prints everything and writes nothing.
    let (code, stdout, stderr) = run(&store(), &["--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("mtroute 40 FailoverMTRoute")
            && stdout.contains("dry run: nothing written")
    );
    assert!(!dir.path().join("out").exists());

    let cases: Vec<(&str, Breaker, &str)> = vec![
        (
            "truncated",
            Box::new(|d: &Path| {
                let f = d.join("fixture.router-users");
                let b = std::fs::read(&f).expect("read");
                std::fs::write(&f, &b[..b.len() / 2]).expect("write");
            }),
            "fixture.router-users: unreadable pickle: truncated",
        ),
        (
            "an unknown class",
            Box::new(|d: &Path| {
                let f = d.join("fixture.filters");
                let b = std::fs::read(&f).expect("read");
                let from = b"jasmin.routing.Filters\nTagFilter\n";
                let at = b.windows(from.len()).position(|w| w == from);
                let b = match at {
                    Some(at) => [&b[..at], b"posix\nsystem\n", &b[at + from.len()..]].concat(),
                    // Protocol 4+: STACK_GLOBAL with short strings.
                    None => {
                        let from = b"\x8c\x16jasmin.routing.Filters";
                        let at = b
                            .windows(from.len())
                            .position(|w| w == from)
                            .expect("class");
                        [&b[..at], b"\x8c\x05posix", &b[at + from.len()..]].concat()
                    }
                };
                std::fs::write(&f, b).expect("write");
            }),
            "not one of Jasmin's",
        ),
        (
            "no header",
            Box::new(|d: &Path| {
                let f = d.join("fixture.smppccs");
                let b = std::fs::read(&f).expect("read");
                let nl = b.iter().position(|c| *c == b'\n').expect("header");
                std::fs::write(&f, &b[nl + 1..]).expect("write");
            }),
            "fixture.smppccs:",
        ),
        (
            "garbage",
            Box::new(|d: &Path| {
                std::fs::write(
                    d.join("fixture.router-mtroutes"),
                    b"Persisted on Fri Dec  4 17:13:58 2026 [Jasmin 0.11.1]\n\x80\x02\xff\xff",
                )
                .expect("write");
            }),
            "fixture.router-mtroutes: unreadable pickle",
        ),
    ];
    for (what, breakit, want) in cases {
        let st = store_copy();
        breakit(st.path());
        let (code, stdout, stderr) = run(st.path(), &[]);
        assert_eq!(code, 1, "{what}: {stdout}\n{stderr}");
        assert!(stderr.contains(want), "{what}: {stderr}");
        assert!(!dir.path().join("out").exists(), "{what}: nothing written");
    }
    // No such profile.
    let (code, _, stderr) = import(
        None,
        &[
            &store().display().to_string(),
            "--profile",
            "nope",
            "--dry-run",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no Jasmin store profile \"nope\""),
        "{stderr}"
    );
}

#[tokio::test]
async fn applying_to_the_data_dir_of_a_running_gateway_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = data_dir_config(dir.path());
    let gw = gateway(smsgate::load_config(Some(&cfg)).expect("config")).await;
    let store_s = store().display().to_string();
    let (code, _, stderr) = import(Some(&cfg), &[&store_s, "--profile", "fixture", "--apply"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("in use by another smsgate process"),
        "{stderr}"
    );
    // A second gateway on the same data dir is refused too; after a shutdown it may start.
    let second =
        smsgate::app::Gateway::start(smsgate::load_config(Some(&cfg)).expect("config")).await;
    assert!(second.is_err(), "two gateways on one embedded queue");
    gw.shutdown().await;
    let (code, out, err) = import(Some(&cfg), &[&store_s, "--profile", "fixture", "--apply"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let gw = gateway(smsgate::load_config(Some(&cfg)).expect("config")).await;
    assert_eq!(gw.manager.profile().users.len(), 3);
}
