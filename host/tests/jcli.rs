//! jCli over a real TCP socket: the recorded Jasmin console transcript replayed keystroke for
//! keystroke and compared line by line, the spec's quick start ending in a real `/send`,
//! persistence across a restart, and hostile clients.
//!
//! Normalisation rules (docs/jcli.md lists them with the reasons):
//! 1. Line endings: Jasmin's `\r\r\r\n` is `\r\n`.
//! 2. Jasmin never prints `Username: `; smsgate does.
//! 3. Output Jasmin prints after the prompt is compared as if printed before it.
//! 4. The banner's product name and version; `Session ref` numbers; dates.
//! 5. Connector defaults smsgate changed on purpose (`res_to`, `bind_npi`, `logfile`) and
//!    its added keys (`tls_verify`, `window`, `default_alphabet`); the simulator's port.
//! 6. smsgate's additions: the `plugin` command in `help`, `LeastCostMTRoute` in the MT
//!    route types.
//! 7. A bad value is refused when typed (Jasmin waits for `ok`): smsgate's extra
//!    `Error: ...` answer on that line is dropped before comparing.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const EMPTY_CONFIG: &str = r#"
data_dir = "{dir}"
log = "warn"
[http-api]
bind = "127.0.0.1"
port = 0
[smpp-server]
bind = "127.0.0.1"
port = 0
[jcli]
port = 0
[callbacks]
allow_loopback = true
"#;

async fn gateway_in(dir: &std::path::Path) -> std::sync::Arc<smsgate::app::Gateway> {
    let toml = EMPTY_CONFIG.replace("{dir}", &dir.display().to_string());
    gateway(load(&toml, dir)).await
}

/// A console client.
struct Console {
    sock: TcpStream,
    buf: Vec<u8>,
}

impl Console {
    async fn connect(addr: SocketAddr) -> Console {
        let sock = TcpStream::connect(addr).await.expect("connect");
        Console { sock, buf: vec![] }
    }

    /// Read until the text received ends with `end` (telnet commands removed).
    async fn until(&mut self, end: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let text = strip_telnet(&self.buf);
            if text.ends_with(end) {
                self.buf.clear();
                return text;
            }
            let mut chunk = [0u8; 8192];
            let n = tokio::time::timeout_at(deadline, self.sock.read(&mut chunk))
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {end:?}; got {text:?}"))
                .expect("read");
            if n == 0 {
                panic!("connection closed waiting for {end:?}; got {text:?}");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn send(&mut self, line: &str) {
        self.sock
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write");
    }

    /// Send `line` and read the answer up to the next prompt.
    async fn cmd(&mut self, line: &str) -> String {
        self.send(line).await;
        let text = self.until_prompt().await;
        text.strip_prefix(&format!("{line}\r\n"))
            .unwrap_or(&text)
            .to_string()
    }

    async fn until_prompt(&mut self) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let text = strip_telnet(&self.buf);
            if text.ends_with("jcli : ") || text.ends_with("> ") {
                self.buf.clear();
                return text;
            }
            let mut chunk = [0u8; 8192];
            let n = tokio::time::timeout_at(deadline, self.sock.read(&mut chunk))
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for a prompt; got {text:?}"))
                .expect("read");
            assert!(n > 0, "connection closed; got {text:?}");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn login(addr: SocketAddr) -> Console {
        let mut c = Console::connect(addr).await;
        c.until("Username: ").await;
        c.send("jcliadmin").await;
        c.until("Password: ").await;
        c.send("jclipwd").await;
        c.until("jcli : ").await;
        c
    }
}

/// Remove telnet commands (IAC sequences) and terminal resets.
fn strip_telnet(b: &[u8]) -> String {
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        if b[i] == 255 && i + 2 < b.len() + 1 {
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
    String::from_utf8_lossy(&out)
        .replace("\x1bc\x1b[4h", "")
        .replace("\x1bc", "")
}

fn normalise(s: &str) -> String {
    let s = s.replace("\r\r\r\n", "\n").replace("\r\n", "\n");
    // The recorded bytes are stored one char per byte: drop IAC sequences char-wise.
    let iac = regex::Regex::new("\u{ff}[\u{fb}-\u{fe}].|\u{ff}.").expect("re");
    let s = iac.replace_all(&s, "").into_owned();
    let s = strip_telnet(s.as_bytes());
    let date = regex::Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").expect("re");
    let s = date.replace_all(&s, "YYYY-MM-DD HH:MM:SS").into_owned();
    let sref = regex::Regex::new(r"Session ref: \d+").expect("re");
    let s = sref.replace_all(&s, "Session ref: N").into_owned();
    let banner = regex::Regex::new(r"Welcome to \S+ [0-9.]+ console").expect("re");
    let s = banner
        .replace_all(&s, "Welcome to PRODUCT console")
        .into_owned();
    // Rule 3: output after the prompt.
    let mut body = s.clone();
    let ends_with_prompt = body.ends_with("jcli : ");
    if ends_with_prompt {
        body.truncate(body.len() - "jcli : ".len());
    }
    let moved = body.contains("jcli : ");
    let body = body.replace("jcli : ", "");
    if ends_with_prompt || moved {
        format!("{body}jcli : ")
    } else {
        body
    }
}

/// Rules 5-7 applied to one step's expected and actual text.
fn adjust(send: &str, expected: String, actual: String, sim_port: u16) -> (String, String) {
    let mut expected = expected.replace("port 2776", &format!("port {sim_port}"));
    let mut actual = actual;
    let changed_defaults = ["res_to", "bind_npi", "logfile"];
    let added = ["tls_verify", "window", "default_alphabet"];
    let fix = |s: &str| -> String {
        s.lines()
            .filter(|l| !added.iter().any(|k| l.starts_with(&format!("{k} "))))
            .map(|l| {
                match changed_defaults
                    .iter()
                    .find(|k| l.starts_with(&format!("{k} ")))
                {
                    Some(k) => format!("{k} DEFAULT"),
                    None => l.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    if send.starts_with("smppccm -s") {
        expected = fix(&expected);
        actual = fix(&actual);
    }
    if send == "help" {
        actual = actual
            .lines()
            .filter(|l| !l.starts_with("plugin "))
            .collect::<Vec<_>>()
            .join("\n")
            + if actual.ends_with('\n') { "\n" } else { "" };
    }
    actual = actual.replace(", LeastCostMTRoute", "");
    // Rule 7: the error is printed on the line that set the bad value.
    if let Some((key, _)) = send.split_once(' ') {
        let err = format!("Error: {key} ");
        if !expected.contains(&err) {
            actual = actual
                .lines()
                .filter(|l| !l.starts_with(&err))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
                .trim_end_matches('\n')
                .to_string()
                + if actual.ends_with('\n') { "\n" } else { "" };
            if actual.ends_with(">\n") {
                actual.pop();
                actual.push(' ');
            }
        }
    }
    (expected, actual)
}

#[tokio::test]
async fn recorded_transcript_replays_line_by_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = simulator().await;
    let gw = gateway_in(dir.path()).await;
    let addr = gw.jcli_addr().expect("jcli");
    // The recording's SMPP server had seen one probe connection that got one PDU back (its
    // readiness check): do the same, a header with an impossible length, answered with
    // generic_nack before the server closes.
    let mut probe = TcpStream::connect(gw.smpp_addr().expect("smpp"))
        .await
        .expect("probe");
    probe
        .write_all(&[0, 0, 0, 8, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1])
        .await
        .expect("probe write");
    let mut nack = vec![];
    let _ = tokio::time::timeout(Duration::from_secs(5), probe.read_to_end(&mut nack)).await;
    assert_eq!(
        nack.get(4..8),
        Some(&[0x80, 0, 0, 0][..]),
        "generic_nack: {nack:?}"
    );
    let api = gw.stats.clone();
    wait_for(5, "probe disconnect", || {
        api.smppsapi.disconnect_count.get() == 1
    })
    .await;
    let steps: serde_json::Value =
        serde_json::from_str(include_str!("data/jcli-transcript-steps.json")).expect("transcript");
    let steps = steps.as_array().expect("steps");
    let mut c = Console::connect(addr).await;
    // Step 0: the greeting (rule 2: Jasmin forgets `Username: `).
    let first = c.until("Username: ").await;
    let expected0 = normalise(steps[0]["recv"].as_str().expect("recv")) + "Username: ";
    assert_eq!(normalise(&first), expected0);
    let mut compared = 1;
    for (i, step) in steps.iter().enumerate().skip(1) {
        let Some(send) = step["send"].as_str() else {
            continue;
        };
        if send == "quit" {
            c.send("quit").await;
            let mut rest = vec![];
            let _ =
                tokio::time::timeout(Duration::from_secs(5), c.sock.read_to_end(&mut rest)).await;
            assert!(
                strip_telnet(&rest).starts_with("quit\r\n"),
                "quit: {:?}",
                strip_telnet(&rest)
            );
            compared += 1;
            continue;
        }
        let send_now = send.replace("port 2776", &format!("port {}", sim.addr.port()));
        let expected = normalise(step["recv"].as_str().expect("recv"));
        let end = ["jcli : ", "> ", "Password: "]
            .into_iter()
            .find(|e| expected.ends_with(e))
            .unwrap_or("jcli : ");
        c.send(&send_now).await;
        let got = normalise(&c.until(end).await);
        let (expected, got) = adjust(send, expected, got, sim.addr.port());
        assert_eq!(got, expected, "step {i}: {send:?}");
        compared += 1;
        if send == "smppccm -1 sim" {
            // The transcript lists the connector bound right after starting it.
            let state = gw.manager.clone();
            wait_for(10, "connector bound", || {
                state.connector_state("sim") == Some(smsgate::smpp::client::ConnectorState::Bound)
            })
            .await;
        }
    }
    assert!(compared > 130, "compared {compared} steps");
}
