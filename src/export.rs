//! `smsgate export-config`: the live configuration as a TOML file an operator can diff and keep
//! in version control, with the secrets in a file of their own (or left out).
//!
//! The running gateway is asked through its console (jCli `export --json`, the admin password
//! from `SMSGATE_JCLI_PASSWORD` or standard input), so what jCli changed and did not persist is
//! included. When no gateway answers there (or with `--offline`), the configuration it would
//! start with is written: the configuration file with the persisted `jcli-prod` profile over
//! it, read from the data dir (or the cluster store).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use smsgate_core::config::{secrets, Config, JcliConfig};
use smsgate_gateway::manage::{self, DEFAULT_PROFILE};

/// `smsgate export-config`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Write the configuration to this file (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the secrets (password hashes, SMPP passwords, URLs with credentials) to this file,
    /// readable by its owner only, and name it in the configuration. Without it they are left
    /// out, and the configuration loads only once they are given back.
    #[arg(long)]
    pub secrets: Option<PathBuf>,
    /// Do not ask the running gateway: write the configuration it would start with (the file
    /// and the persisted jcli-prod profile). The gateway must be stopped in embedded mode.
    #[arg(long)]
    pub offline: bool,
}

/// Why nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the console at {addr}: {why}")]
    Console { addr: String, why: String },
    #[error("{0}")]
    Store(String),
    #[error("{0}")]
    Io(String),
}

/// Where the console of `cfg` answers (a wildcard bind is reached on loopback).
fn console_addr(cfg: &JcliConfig) -> String {
    let host = match cfg.bind.as_str() {
        "0.0.0.0" | "" => "127.0.0.1",
        "::" | "[::]" => "[::1]",
        h => h,
    };
    format!("{host}:{}", cfg.port)
}

/// Export the configuration of the gateway `base` describes; `note` gets what the operator
/// should know (where it came from, what was left out).
pub async fn run(
    opts: &Options,
    base: Config,
    password: impl FnOnce() -> Option<String>,
    note: &mut dyn Write,
) -> Result<(), ExportError> {
    let io = |e: std::io::Error| ExportError::Io(e.to_string());
    // Port 0: the console's port was picked at start and cannot be known from here.
    let live = if opts.offline || !base.jcli.enabled || base.jcli.port == 0 {
        None
    } else {
        ask_console(&base.jcli, password).await?
    };
    let cfg = match live {
        Some(cfg) => {
            writeln!(
                note,
                "the live configuration of the gateway at {}",
                console_addr(&base.jcli)
            )
            .map_err(io)?;
            cfg
        }
        None => {
            let (store, _lock) = crate::app::open_store_stopped(&base).await.map_err(|e| {
                ExportError::Store(format!(
                    "{e}: the gateway runs but its console did not answer at {} (is [jcli] enabled?)",
                    console_addr(&base.jcli)
                ))
            })?;
            match manage::read_profile(&*store, DEFAULT_PROFILE)
                .await
                .map_err(ExportError::Store)?
            {
                Some(p) => {
                    writeln!(note, "no gateway answered: the configuration file with the persisted profile {DEFAULT_PROFILE} over it").map_err(io)?;
                    p.overlay(&base)
                }
                None => {
                    writeln!(note, "no gateway answered and no profile was persisted: the configuration file as it loads").map_err(io)?;
                    base
                }
            }
        }
    };
    let at = opts
        .secrets
        .as_deref()
        .map(|s| secrets_ref(s, opts.out.as_deref()));
    let exported = secrets::export(&cfg, at.as_deref()).map_err(ExportError::Io)?;
    if let Some(s) = &opts.secrets {
        crate::import::write_atomically(s, exported.secrets.as_bytes()).map_err(io)?;
        writeln!(
            note,
            "wrote {} secret(s) to {}",
            exported.moved.len(),
            s.display()
        )
        .map_err(io)?;
    } else if !exported.moved.is_empty() {
        writeln!(
            note,
            "left out {} secret(s) (--secrets FILE keeps them): {}",
            exported.moved.len(),
            exported.moved.join(", ")
        )
        .map_err(io)?;
    }
    match &opts.out {
        Some(f) => {
            crate::import::write_atomically(f, exported.config.as_bytes()).map_err(io)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).map_err(io)?;
            }
            writeln!(note, "wrote {}", f.display()).map_err(io)?;
        }
        None => std::io::stdout()
            .write_all(exported.config.as_bytes())
            .map_err(io)?,
    }
    Ok(())
}

/// How the configuration names its secrets file: by file name when both are in one
/// directory, else by absolute path.
fn secrets_ref(secrets: &Path, out: Option<&Path>) -> String {
    let dir = |p: &Path| {
        p.parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    };
    if let (Some(out), Some(name)) = (out, secrets.file_name()) {
        if std::fs::canonicalize(dir(out)).ok() == std::fs::canonicalize(dir(secrets)).ok() {
            return name.to_string_lossy().into_owned();
        }
    }
    crate::import::absolute(secrets).display().to_string()
}

/// Telnet bytes without their negotiation (`IAC ...`).
fn strip_telnet(b: &[u8]) -> String {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == 255 {
            i += if b.get(i + 1).is_some_and(|v| (251..=254).contains(v)) {
                3
            } else {
                2
            };
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A console session: read until the text ends with one of `ends`.
struct Session {
    sock: TcpStream,
    buf: Vec<u8>,
}

impl Session {
    async fn until(&mut self, ends: &[&str]) -> Result<String, String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let text = strip_telnet(&self.buf);
            let trimmed = text.trim_end_matches([' ', '\r', '\n']);
            if ends
                .iter()
                .any(|e| text.ends_with(e) || trimmed.ends_with(e.trim_end()))
            {
                self.buf.clear();
                return Ok(text);
            }
            let mut chunk = [0u8; 65536];
            let n = tokio::time::timeout_at(deadline, self.sock.read(&mut chunk))
                .await
                .map_err(|_| format!("no answer (waiting for {:?})", ends[0]))?
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err(format!("closed: {}", text.trim()));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn send(&mut self, line: &str) -> Result<(), String> {
        self.sock
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .map_err(|e| e.to_string())
    }
}

/// The live configuration from the console; `None` when nothing listens there.
async fn ask_console(
    cfg: &JcliConfig,
    password: impl FnOnce() -> Option<String>,
) -> Result<Option<Config>, ExportError> {
    let addr = console_addr(cfg);
    let fail = |why: String| ExportError::Console {
        addr: addr.clone(),
        why,
    };
    let sock = match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(&addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Ok(None),
        Ok(Err(e)) => return Err(fail(e.to_string())),
        Err(_) => return Err(fail("connect timeout".into())),
    };
    let mut s = Session { sock, buf: vec![] };
    const PROMPT: &str = "jcli : ";
    if cfg.authentication {
        let pw = password().ok_or_else(|| {
            fail("the admin password is needed: set SMSGATE_JCLI_PASSWORD or give it on standard input (or use --offline with the gateway stopped)".into())
        })?;
        s.until(&["Username: "]).await.map_err(fail)?;
        s.send(&cfg.admin_username).await.map_err(fail)?;
        s.until(&["Password: "]).await.map_err(fail)?;
        s.send(&pw).await.map_err(fail)?;
        let answer = s
            .until(&[PROMPT, "Username: "])
            .await
            .map_err(|e| fail(format!("login: {e}")))?;
        if !answer.ends_with(PROMPT) {
            return Err(fail(format!(
                "login refused for {}: {}",
                cfg.admin_username,
                answer.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
            )));
        }
    } else {
        s.until(&[PROMPT]).await.map_err(fail)?;
    }
    s.send("export --json").await.map_err(fail)?;
    let answer = s.until(&[PROMPT]).await.map_err(fail)?;
    let _ = s.send("quit").await;
    let json = answer
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| {
            fail(format!(
                "no configuration in the answer (an older gateway?): {}",
                answer.trim()
            ))
        })?;
    let cfg: Config =
        serde_json::from_str(json).map_err(|e| fail(format!("unreadable configuration: {e}")))?;
    Ok(Some(cfg))
}
