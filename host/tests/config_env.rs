//! Environment variables override the file (its own test binary: it changes the process
//! environment, which must not leak into tests running in parallel).

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
