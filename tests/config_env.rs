//! Environment variables override the file. The variable is set in a child process (this
//! test binary run again for this one test): tests in this process run in parallel, and a
//! `SMSGATE_*` variable set here would reach their gateways.

use std::path::Path;
use std::process::Command;

/// The child's marker (not `SMSGATE_*`: the configuration would read it as a key).
const CHILD: &str = "CONFIG_ENV_TEST_FILE";

#[test]
fn env_overrides_file() {
    if let Some(path) = std::env::var_os(CHILD) {
        let cfg = smsgate::config::Config::load(Some(Path::new(&path))).expect("config");
        assert_eq!(cfg.http_api.port, 4242);
        assert_eq!(cfg.http_api.long_content_max_parts, 5, "defaults kept");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[http-api]\nport = 1\n").expect("write");
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "config_env::env_overrides_file",
            "--test-threads=1",
        ])
        .env("SMSGATE_HTTP_API__PORT", "4242")
        .env(CHILD, &path)
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An embedded-only build (`--no-default-features --features embedded`) has no cluster
/// clients: a configuration asking for RabbitMQ or Redis is refused at start, naming the key,
/// instead of silently running embedded.
#[cfg(not(feature = "cluster"))]
#[tokio::test]
async fn an_embedded_only_build_refuses_cluster_urls() {
    for (section, url, key) in [
        (
            "broker",
            "url = \"amqp://guest:guest@127.0.0.1:5672/%2f\"",
            "broker.url",
        ),
        ("store", "url = \"redis://127.0.0.1:6379/\"", "store.url"),
        (
            "migration",
            "jasmin_redis = \"redis://127.0.0.1:6379/0\"",
            "migration.jasmin_redis",
        ),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("c.toml");
        let text = format!(
            "data_dir = \"{}\"\n[http-api]\nport = 0\n[jcli]\nenabled = false\n[rest-api]\nenabled = false\n[smpp-server]\nenabled = false\n[{section}]\n{url}\n",
            dir.path().display()
        );
        std::fs::write(&path, text).expect("write");
        let cfg = smsgate::load_config(Some(&path)).expect("config");
        let e = match smsgate::app::Gateway::start(cfg).await {
            Ok(_) => panic!("an embedded-only build started with {key} set"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains(key) && e.contains("embedded-only"), "{e}");
    }
}
