//! The binary's edge: a bad configuration exits non-zero naming the key path and why; the
//! plugin authors' tools (`smsgate plugin new`, `smsgate plugin check`).

use std::process::{Command, Stdio};

fn run_with(config: &str) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, config).expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .arg("--config")
        .arg(&path)
        .env("SMSGATE_DATA_DIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    // A config that is wrongly accepted would start a gateway that never exits: bound the wait.
    for _ in 0..200 {
        if child.try_wait().expect("wait").is_some() {
            let out = child.wait_with_output().expect("output");
            return (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("smsgate accepted a bad configuration and kept running: {config}");
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

/// Logs written to a pipe (a file, journald) carry no ANSI colour codes.
#[test]
fn logs_to_a_pipe_are_plain_text() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("smsgate.toml");
    let config = format!(
        "data_dir = \"{}\"\nlog = \"info\"\n[jcli]\nport = 0\n[http-api]\nport = 0\n\
         [smpp-server]\nport = 0\n[rest-api]\nport = 0\n",
        dir.path().display()
    );
    std::fs::write(&path, config).expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .arg("--config")
        .arg(&path)
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = vec![];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while lines.len() < 3 && std::time::Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            lines.push(l);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(!lines.is_empty(), "the gateway logged nothing at info");
    for l in &lines {
        assert!(
            !l.contains('\u{1b}'),
            "ANSI escape in a piped log line: {l:?}"
        );
        assert!(l.contains("INFO") || l.contains("WARN"), "{l:?}");
    }
}

/// `smsgate plugin new` writes a project that builds and passes its native test with nothing
/// but crates.io, for every world; its component passes `smsgate plugin check`, which names
/// the world, and a file that is not a component is refused with the reason.
#[test]
fn plugin_new_writes_a_project_that_builds_and_check_names_its_world() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("plugin-new");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let smsgate = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_smsgate"))
            .args(args)
            .output()
            .expect("run smsgate");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let parent = dir.path().display().to_string();
    for world in ["filter", "route", "interceptor", "hlr-lookup", "charging"] {
        let name = format!("my-{world}");
        let (code, out) = smsgate(&["plugin", "new", &name, "--world", world, "--dir", &parent]);
        assert_eq!(code, 0, "{out}");
        let project = dir.path().join(&name);
        let test = Command::new(&cargo)
            .args(["test", "--quiet"])
            .current_dir(&project)
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .expect("cargo test");
        assert!(
            test.status.success(),
            "{world}: {}",
            String::from_utf8_lossy(&test.stderr)
        );
        let build = Command::new(&cargo)
            .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"])
            .current_dir(&project)
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .expect("cargo build");
        assert!(
            build.status.success(),
            "{world}: {}",
            String::from_utf8_lossy(&build.stderr)
        );
        let wasm = target.join(format!(
            "wasm32-wasip2/release/{}.wasm",
            name.replace('-', "_")
        ));
        let (code, out) = smsgate(&["plugin", "check", &wasm.display().to_string()]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains(&format!("world {world} ")), "{out}");
    }
    // An existing directory is not overwritten; an unknown world is named.
    let (code, out) = smsgate(&[
        "plugin",
        "new",
        "my-filter",
        "--world",
        "filter",
        "--dir",
        &parent,
    ]);
    assert_ne!(code, 0);
    assert!(out.contains("already exists"), "{out}");
    let (code, out) = smsgate(&["plugin", "new", "x", "--world", "sms", "--dir", &parent]);
    assert_ne!(code, 0);
    assert!(out.contains("unknown world \"sms\""), "{out}");
    // Not a component.
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm junk").expect("write");
    let (code, out) = smsgate(&["plugin", "check", &junk.display().to_string()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("refused"), "{out}");
}
