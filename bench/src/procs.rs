//! Child process management: spawning the simulator and the gateway, waiting
//! for them to become ready, and always stopping them again.

use std::fs::File;
use std::future::Future;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Grace period between SIGTERM and SIGKILL for the gateway.
const GATEWAY_GRACE: Duration = Duration::from_secs(5);
/// Grace period between SIGTERM and SIGKILL for the simulator.
const SIM_GRACE: Duration = Duration::from_secs(2);
/// Poll interval while waiting for readiness.
const READY_POLL: Duration = Duration::from_millis(100);
/// Number of log lines shown when a child fails to start.
const LOG_TAIL_LINES: usize = 20;

/// Owns the child processes. Dropping it (normal exit, error, panic unwind)
/// stops them: the gateway first, with SIGTERM and a grace period, then the
/// simulator.
#[derive(Default)]
pub struct Children {
    /// smsgate, or Kannel's bearerbox.
    pub gateway: Option<Child>,
    /// Kannel's smsbox (the HTTP side of a Kannel gateway).
    pub smsbox: Option<Child>,
    pub sim: Option<Child>,
}

impl Children {
    /// Stops both children (idempotent).
    pub fn shutdown(&mut self) {
        // Gateway first, so it does not spend its shutdown reconnecting to a
        // simulator that has already gone away (Kannel: smsbox before bearerbox).
        if let Some(child) = self.smsbox.take() {
            terminate("smsbox", child, GATEWAY_GRACE);
        }
        if let Some(child) = self.gateway.take() {
            terminate("gateway", child, GATEWAY_GRACE);
        }
        if let Some(child) = self.sim.take() {
            terminate("SMSC simulator", child, SIM_GRACE);
        }
    }

    /// Whether the gateway's processes are (still) running (true when the run has none:
    /// `--peer raw`).
    pub fn gateway_running(&mut self) -> bool {
        if self.gateway.is_none() && self.smsbox.is_none() {
            return true;
        }
        let smsbox_ok = match self.smsbox.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => true,
        };
        smsbox_ok
            && match self.gateway.as_mut() {
                Some(child) => matches!(child.try_wait(), Ok(None)),
                None => false,
            }
    }

    /// The pids of the gateway's processes.
    pub fn gateway_pids(&self) -> Vec<u32> {
        [self.gateway.as_ref(), self.smsbox.as_ref()]
            .into_iter()
            .flatten()
            .map(Child::id)
            .collect()
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Sends SIGTERM (via the `kill` utility, to stay free of `libc`), waits up to
/// `grace` for the process to exit, then SIGKILLs it. Always reaps the child.
fn terminate(what: &str, mut child: Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return; // already exited (and now reaped)
    }
    let sent = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if sent {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(_) => break,
            }
        }
        eprintln!(
            "{what} (pid {}) did not exit within {grace:?} of SIGTERM; killing it",
            child.id()
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Opens `log` for writing and returns (stdout, stderr) handles sharing it.
fn log_stdio(log: &Path) -> Result<(Stdio, Stdio)> {
    let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone().context("duplicating log file handle")?;
    Ok((out.into(), err.into()))
}

/// Starts `cmd` with stdin closed and stdout/stderr to `log`; `what` names it in errors.
fn spawn_logged(mut cmd: Command, log: &Path, what: impl FnOnce() -> String) -> Result<Child> {
    let (out, err) = log_stdio(log)?;
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(what)
}

/// Starts `<smsgate> smsc-sim ...`, output to `log`.
pub fn spawn_sim(smsgate: &Path, smpp_port: u16, control_port: u16, log: &Path) -> Result<Child> {
    let mut cmd = Command::new(smsgate);
    cmd.arg("smsc-sim")
        .args(["--bind", "127.0.0.1"])
        .args(["--port", &smpp_port.to_string()])
        .args(["--control-port", &control_port.to_string()])
        .args(["--pdu-log", "off"])
        .env("RUST_LOG", "warn");
    spawn_logged(cmd, log, || {
        format!("starting {} smsc-sim", smsgate.display())
    })
}

/// Starts `<smsgate> --config <config>` with `RUST_LOG=warn`, output to `log`.
pub fn spawn_gateway(smsgate: &Path, config: &Path, log: &Path) -> Result<Child> {
    let mut cmd = Command::new(smsgate);
    cmd.arg("--config").arg(config).env("RUST_LOG", "warn");
    spawn_logged(cmd, log, || {
        format!(
            "starting {} --config {}",
            smsgate.display(),
            config.display()
        )
    })
}

/// Starts Kannel's `box` (`bearerbox` or `smsbox`, from `bin_dir`) on `conf`, output to
/// `log` (its own log files are set in `conf`).
pub fn spawn_kannel(bin_dir: &Path, which: &str, conf: &Path, log: &Path) -> Result<Child> {
    let bin = bin_dir.join(which);
    let mut cmd = Command::new(&bin);
    // -v 2: warnings on the console too (its default is debug, megabytes a second).
    cmd.args(["-v", "2"]).arg(conf);
    spawn_logged(cmd, log, || {
        format!(
            "starting {} {} (Kannel: apt-get install kannel)",
            bin.display(),
            conf.display()
        )
    })
}

/// Polls `check` every 100 ms until it succeeds, the child exits, or `timeout`
/// elapses. On failure the error includes the tail of the child's log.
pub async fn wait_ready<F, Fut>(
    what: &str,
    child: &mut Child,
    log: &Path,
    timeout: Duration,
    mut check: F,
) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().context("checking child status")? {
            bail!(
                "{what} exited ({status}) before becoming ready; last lines of {}:\n{}",
                log.display(),
                log_tail(log)
            );
        }
        let err = match check().await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            bail!(
                "{what} not ready after {timeout:?} (last error: {err:#}); last lines of {}:\n{}",
                log.display(),
                log_tail(log)
            );
        }
        tokio::time::sleep(READY_POLL).await;
    }
}

/// The last few lines of a log file (best effort).
fn log_tail(log: &Path) -> String {
    match std::fs::read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(LOG_TAIL_LINES);
            if lines.is_empty() {
                "  (empty)".to_string()
            } else {
                lines[start..]
                    .iter()
                    .map(|l| format!("  {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
        Err(e) => format!("  (cannot read log: {e})"),
    }
}
