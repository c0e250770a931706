//! `smsgate export-config` (issue 20, configuration as code both ways): the live configuration,
//! jCli's unpersisted changes included, written by the real binary as a TOML file without its
//! secrets plus a secrets file, which a gateway then starts from and shows the same.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;

/// Run `smsgate --config CFG export-config ARGS` (console password from the environment;
/// `jcli_port`: where the running gateway's console listens).
fn export(cfg: &Path, jcli_port: Option<u16>, args: &[&str]) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smsgate"));
    c.arg("--config")
        .arg(cfg)
        .arg("export-config")
        .args(args)
        .env_remove("SMSGATE_CONFIG")
        .env("SMSGATE_JCLI_PASSWORD", "jclipwd")
        .stdin(Stdio::null());
    if let Some(p) = jcli_port {
        c.env("SMSGATE_JCLI__PORT", p.to_string());
    }
    let out = c.output().expect("run smsgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What the console lists, for comparing two gateways.
async fn listings(addr: std::net::SocketAddr) -> Vec<String> {
    jcli_session(
        addr,
        &[
            "group -l",
            "user -l",
            "smppccm -l",
            "httpccm -l",
            "filter -l",
            "mtrouter -l",
            "morouter -l",
            "user -s carol",
            "smppccm -s extra",
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_configuration_round_trips_through_a_file_and_its_secrets() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg_path = dir.path().join("smsgate.toml");
    let gw = gateway(load(
        &config_toml(dir.path(), 0, sim.addr.port()),
        dir.path(),
    ))
    .await;
    let jcli = gw.jcli_addr().expect("jcli");
    wait_for(10, "connector bound", || {
        sim.stats().binds.load(std::sync::atomic::Ordering::SeqCst) >= 1
    })
    .await;
    // Changes made in the console and not persisted.
    let answers = jcli_session(
        jcli,
        &[
            "user -a",
            "username carol",
            "password c4rolpw",
            "gid g1",
            "uid carol",
            "mt_messaging_cred quota balance 12.5",
            "ok",
            "smppccm -a",
            "cid extra",
            "host 127.0.0.1",
            "port 9",
            "username ex",
            "password exsecret",
            "ok",
            "mtrouter -a",
            "type StaticMTRoute",
            "order 20",
            "filters nofr",
            "connector smppc(extra)",
            "rate 0.2",
            "ok",
        ],
    )
    .await;
    assert!(
        answers
            .iter()
            .filter(|a| a.starts_with("Successfully"))
            .count()
            == 3,
        "{answers:#?}"
    );
    let before = listings(jcli).await;

    let out_dir = tempfile::tempdir().expect("tmp");
    let out = out_dir.path().join("smsgate.toml");
    let secrets = out_dir.path().join("secrets.toml");
    let (code, stdout, stderr) = export(
        &cfg_path,
        Some(jcli.port()),
        &[
            "--out",
            &out.display().to_string(),
            "--secrets",
            &secrets.display().to_string(),
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("the live configuration"), "{stderr}");
    let text = std::fs::read_to_string(&out).expect("exported");
    let sec = std::fs::read_to_string(&secrets).expect("secrets");
    // Nothing secret in the file meant for version control; all of it in the other one.
    for s in ["c4rolpw", "exsecret", "argon2"] {
        assert!(!text.contains(s), "{s} in the configuration:\n{text}");
    }
    assert!(text.contains("secrets = \"secrets.toml\""), "{text}");
    assert!(text.contains("username = \"carol\""), "{text}");
    for s in [
        "[users.carol]",
        "$argon2id$",
        "[smppccs.extra]",
        "\"exsecret\"",
    ] {
        assert!(sec.contains(s), "{s} missing from the secrets:\n{sec}");
    }
    assert!(!sec.contains("c4rolpw"), "a plain password in the secrets");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secrets)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "secrets readable by others: {mode:o}");
    }
    // The connector jCli added is stopped: it stays stopped.
    let extra = text
        .split("[[smppccs]]")
        .find(|s| s.contains("cid = \"extra\""))
        .expect("extra exported");
    assert!(extra.contains("start = false"), "{extra}");

    // A gateway started from the exported file shows what the live one showed, and carol logs
    // in with her password (its hash came back from the secrets file).
    gw.shutdown().await;
    let gw2 = gateway(smsgate::load_config(Some(&out)).expect("the exported file loads")).await;
    wait_for(10, "connector bound again", || {
        sim.stats().binds.load(std::sync::atomic::Ordering::SeqCst) >= 2
    })
    .await;
    let after = listings(gw2.jcli_addr().expect("jcli")).await;
    assert_eq!(before, after);
    let (st, body) = get(
        gw2.http_addr.expect("http"),
        "/balance?username=carol&password=c4rolpw",
    )
    .await;
    assert_eq!(
        (st, body.as_str()),
        (200, "{\"balance\": 12.5, \"sms_count\": \"ND\"}")
    );
    gw2.shutdown().await;

    // With the gateway stopped: what it would start with (here: the first file, no profile
    // persisted). Without --secrets they are left out, and such a file does not load.
    let redacted = out_dir.path().join("public.toml");
    let (code, _, stderr) = export(&cfg_path, None, &["--out", &redacted.display().to_string()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("no gateway answered"), "{stderr}");
    assert!(stderr.contains("left out"), "{stderr}");
    let public = std::fs::read_to_string(&redacted).expect("public");
    assert!(
        !public.contains("bobpwd") && !public.contains("argon2"),
        "{public}"
    );
    assert!(
        !public.contains("carol"),
        "the console's change was not persisted: {public}"
    );
    let e = smsgate::load_config(Some(&redacted)).expect_err("loads without its secrets");
    assert!(e.to_string().contains("password"), "{e}");
    // The secrets of another configuration are refused by name.
    std::fs::write(
        out_dir.path().join("wrong.toml"),
        "[users.mallory]\npassword = \"x\"\n",
    )
    .expect("write");
    std::fs::write(&redacted, format!("secrets = \"wrong.toml\"\n{public}")).expect("write");
    let e = smsgate::load_config(Some(&redacted)).expect_err("wrong secrets");
    assert!(e.to_string().contains("users.mallory"), "{e}");
}
