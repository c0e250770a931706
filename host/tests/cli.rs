//! The binary's edge: a bad configuration exits non-zero naming the key path and why.

use std::process::Command;

fn run_with(config: &str) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, config).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .arg("--config")
        .arg(&path)
        .env("SMSGATE_DATA_DIR", dir.path())
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_configs_name_the_key() {
    let (code, err) = run_with("[http-api]\nport = \"x\"\n");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("http-api.port"), "{err}");

    let (code, err) = run_with("[[smppccs]]\ncid = \"a\"\nbind = \"sideways\"\n");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("smppccs") && err.contains("bind"), "{err}");

    let (code, err) =
        run_with("[[users]]\nusername = \"u\"\npassword = \"p\"\ngid = \"nogroup\"\n");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("users[0].gid"), "{err}");

    let (code, err) = run_with("[http-api]\nprot = 1\n");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("prot"), "{err}");

    let (code, err) = run_with("[store]\nsync = \"sometimes\"\n");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("store.sync"), "{err}");
}

#[test]
fn env_overrides_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[http-api]\nport = 1\n").expect("write");
    std::env::set_var("SMSGATE_HTTP_API__PORT", "4242");
    let cfg = smsgate::config::Config::load(Some(&path)).expect("config");
    std::env::remove_var("SMSGATE_HTTP_API__PORT");
    assert_eq!(cfg.http_api.port, 4242);
    assert_eq!(cfg.http_api.long_content_max_parts, 5, "defaults kept");
}
