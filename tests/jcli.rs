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
//!    its added keys (`tls_verify`, `window`, `default_alphabet`, `dlr_group`); the simulator's port.
//! 6. smsgate's additions: the `plugin`, `export` and `queue` commands in `help`, `LeastCostMTRoute` and
//!    `PluginMTRoute` in the MT route types.
//! 7. A bad value is refused when typed (Jasmin waits for `ok`): smsgate's extra
//!    `Error: ...` answer on that line is dropped before comparing.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::*;
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
[rest-api]
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
    let added = ["tls_verify", "window", "default_alphabet", "dlr_group"];
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
    // smsgate's own help lines: `stats --scripts` (Python scripts' counters) after Jasmin's
    // options, and the `plugin`, `export` and `queue` commands.
    let without = |text: &str, prefix: &str| {
        text.lines()
            .filter(|l| !l.starts_with(prefix))
            .collect::<Vec<_>>()
            .join("\n")
            + if text.ends_with('\n') { "\n" } else { "" }
    };
    if send == "help stats" {
        actual = without(&actual, "  --scripts ");
    }
    if send == "help" {
        actual = without(&without(&without(&actual, "plugin "), "export "), "queue ");
    }
    actual = actual
        .replace(", LeastCostMTRoute", "")
        .replace(", PluginMTRoute", "");
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

/// Spec 3.3.8 keystroke for keystroke: connector, start, default route, group, user, then
/// `/send` reaches the simulator.
#[tokio::test]
async fn quick_start_ends_in_a_real_send() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = simulator().await;
    let gw = gateway_in(dir.path()).await;
    let mut c = Console::login(gw.jcli_addr().expect("jcli")).await;
    assert_eq!(
        c.cmd("smppccm -a").await,
        "Adding a new connector: (ok: save, ko: exit)\r\n> "
    );
    for l in [
        "cid DEMO_CONNECTOR".to_string(),
        "host 127.0.0.1".into(),
        format!("port {}", sim.addr.port()),
        "username smppclient1".into(),
        "password password".into(),
        "submit_throughput 110".into(),
    ] {
        assert_eq!(c.cmd(&l).await, "> ", "{l}");
    }
    assert_eq!(
        c.cmd("ok").await,
        "Successfully added connector [DEMO_CONNECTOR]\r\njcli : "
    );
    assert_eq!(
        c.cmd("smppccm -1 DEMO_CONNECTOR").await,
        "Successfully started connector id:DEMO_CONNECTOR\r\njcli : "
    );
    let m = gw.manager.clone();
    wait_for(10, "bound", || {
        m.connector_state("DEMO_CONNECTOR") == Some(smsgate::smpp::client::ConnectorState::Bound)
    })
    .await;
    let list = c.cmd("smppccm --list").await;
    assert!(
        list.contains("#DEMO_CONNECTOR                      started BOUND_TRX        1      0    "),
        "{list}"
    );
    c.cmd("mtrouter -a").await;
    assert_eq!(
        c.cmd("type defaultroute").await,
        "<class 'jasmin.routing.Routes.DefaultRoute'> arguments:\r\nconnector, rate\r\n> "
    );
    c.cmd("connector smppc(DEMO_CONNECTOR)").await;
    c.cmd("rate 0.00").await;
    assert_eq!(
        c.cmd("ok").await,
        "Successfully added MTRoute [DefaultRoute] with order:0\r\njcli : "
    );
    c.cmd("group -a").await;
    c.cmd("gid foogroup").await;
    assert_eq!(
        c.cmd("ok").await,
        "Successfully added Group [foogroup]\r\njcli : "
    );
    c.cmd("user -a").await;
    for l in ["username foo", "password bar", "gid foogroup", "uid foo"] {
        assert_eq!(c.cmd(l).await, "> ", "{l}");
    }
    assert_eq!(
        c.cmd("ok").await,
        "Successfully added User [foo] to Group [foogroup]\r\njcli : "
    );
    let (st, body) = get(
        gw.http_addr.expect("http"),
        "/send?username=foo&password=bar&to=06222172&content=hello",
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert!(body.starts_with("Success \""), "{body}");
    wait_for(10, "submit at the SMSC", || sim.submit_count() == 1).await;
    assert_eq!(sim.received()[0].destination_addr, "06222172");
    // Stats follow.
    let s = c.cmd("stats --user foo").await;
    assert!(
        s.contains("#submit_sm_request_count   HTTP Api     1"),
        "{s}"
    );
    let s = c.cmd("stats --smppcs").await;
    assert!(s.contains("1/1"), "{s}");
}

/// Every module's remaining commands, the errors of section 3.11, and `persist` surviving a
/// restart (connectors come back started, users with their balance).
#[tokio::test]
async fn modules_errors_and_persistence_across_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = simulator().await;
    let gw = gateway_in(dir.path()).await;
    let mut c = Console::login(gw.jcli_addr().expect("jcli")).await;
    c.cmd("group -a").await;
    c.cmd("gid g1").await;
    c.cmd("ok").await;
    c.cmd("user -a").await;
    for l in [
        "username ann",
        "password secret",
        "gid g1",
        "uid ann",
        "mt_messaging_cred quota balance 10",
        "mt_messaging_cred quota sms_count none",
        "mt_messaging_cred valuefilter src_addr ^JASMIN$",
        "smpps_cred quota max_bindings 2",
    ] {
        assert_eq!(c.cmd(l).await, "> ", "{l}");
    }
    assert_eq!(
        c.cmd("mt_messaging_cred quota balance abc").await,
        "Error: could not convert string to float: 'abc'\r\n> "
    );
    assert_eq!(
        c.cmd("ok").await,
        "Error: could not convert string to float: 'abc'\r\n> "
    );
    c.cmd("mt_messaging_cred quota balance 10").await;
    assert_eq!(
        c.cmd("ok").await,
        "Successfully added User [ann] to Group [g1]\r\njcli : "
    );
    // Relative quota update moves the live balance.
    assert_eq!(
        c.cmd("user -u ann").await,
        "Updating User id [ann]: (ok: save, ko: exit)\r\n> "
    );
    c.cmd("mt_messaging_cred quota balance +5.5").await;
    assert_eq!(
        c.cmd("ok").await,
        "Successfully updated User [ann]\r\njcli : "
    );
    let show = c.cmd("user -s ann").await;
    assert!(
        show.contains("mt_messaging_cred quota balance 15.5\r\n"),
        "{show}"
    );
    assert!(
        show.contains("mt_messaging_cred valuefilter src_addr ^JASMIN$\r\n"),
        "{show}"
    );
    assert!(
        show.contains("smpps_cred quota max_bindings 2\r\n"),
        "{show}"
    );
    assert_eq!(
        c.cmd("user -d ann").await,
        "Successfully disabled User id:ann\r\njcli : "
    );
    assert!(c.cmd("user -l").await.contains("#!ann "));
    let (st, _) = get(
        gw.http_addr.expect("http"),
        "/balance?username=ann&password=secret",
    )
    .await;
    assert_eq!(st, 403, "a disabled user is refused");
    assert_eq!(
        c.cmd("user -e ann").await,
        "Successfully enabled User id:ann\r\njcli : "
    );
    let (st, body) = get(
        gw.http_addr.expect("http"),
        "/balance?username=ann&password=secret",
    )
    .await;
    assert_eq!(
        (st, body.as_str()),
        (200, "{\"balance\": 15.5, \"sms_count\": \"ND\"}")
    );
    // Connectors, filters, routes, interceptors.
    c.cmd("smppccm -a").await;
    c.cmd("cid sim").await;
    c.cmd(&format!("port {}", sim.addr.port())).await;
    c.cmd("ok").await;
    assert_eq!(
        c.cmd("smppccm -1 sim").await,
        "Successfully started connector id:sim\r\njcli : "
    );
    c.cmd("filter -a").await;
    assert_eq!(
        c.cmd("type destinationaddrfilter").await,
        "<class 'jasmin.routing.Filters.DestinationAddrFilter'> arguments:\r\ndestination_addr\r\n> "
    );
    assert_eq!(
        c.cmd("ok").await,
        "You must set these options before saving: type, fid, destination_addr\r\n> "
    );
    c.cmd("fid to33").await;
    c.cmd("destination_addr ^33").await;
    c.cmd("ok").await;
    c.cmd("mtrouter -a").await;
    c.cmd("type StaticMTRoute").await;
    c.cmd("order 10").await;
    assert_eq!(c.cmd("filters nosuch").await, "Unknown fid: nosuch\r\n> ");
    c.cmd("filters to33").await;
    assert_eq!(
        c.cmd("connector smppc(nosuch)").await,
        "Unknown smppc cid: nosuch\r\n> "
    );
    c.cmd("connector smppc(sim)").await;
    c.cmd("rate 0.5").await;
    assert_eq!(
        c.cmd("ok").await,
        "Successfully added MTRoute [StaticMTRoute] with order:10\r\njcli : "
    );
    assert_eq!(
        c.cmd("mtrouter -s 10").await,
        "StaticMTRoute to smppc(sim) rated 0.50\r\njcli : "
    );
    assert_eq!(
        c.cmd("filter -r to33").await,
        "Error: Filter to33 is used by MT route 10: remove them first\r\njcli : "
    );
    c.cmd("mtinterceptor -a").await;
    c.cmd("type DefaultInterceptor").await;
    // Read when the rule is added, as Jasmin does: a missing file is refused at once.
    let py = c.cmd("script python3(/opt/x.py)").await;
    assert_eq!(
        py, "[IO]: [Errno 2] No such file or directory: '/opt/x.py'\r\n> ",
        "{py}"
    );
    assert_eq!(
        c.cmd("ok").await,
        "You must set these options before saving: type, order, script\r\n> "
    );
    c.cmd("ko").await;
    // Only `persist` survives a restart.
    let p = c.cmd("persist").await;
    assert!(
        p.contains("user configuration persisted (profile:jcli-prod)"),
        "{p}"
    );
    c.cmd("group -a").await;
    c.cmd("gid notpersisted").await;
    c.cmd("ok").await;
    drop(c);
    gw.shutdown().await;
    drop(gw);
    let gw = gateway_in(dir.path()).await;
    let mut c = Console::login(gw.jcli_addr().expect("jcli")).await;
    let groups = c.cmd("group -l").await;
    assert!(
        groups.contains("#g1 ") && !groups.contains("notpersisted"),
        "{groups}"
    );
    assert!(c
        .cmd("user -s ann")
        .await
        .contains("mt_messaging_cred quota balance 15.5"));
    let m = gw.manager.clone();
    wait_for(10, "persisted connector started and bound", || {
        m.connector_state("sim") == Some(smsgate::smpp::client::ConnectorState::Bound)
    })
    .await;
    assert!(c.cmd("mtrouter -l").await.contains("Total MT Routes: 1"));
    // Removing things.
    assert_eq!(
        c.cmd("mtrouter -r 10").await,
        "Successfully removed MT Route with order:10\r\njcli : "
    );
    assert_eq!(
        c.cmd("filter -r to33").await,
        "Successfully removed Filter id:to33\r\njcli : "
    );
    assert_eq!(
        c.cmd("smppccm -0 sim").await,
        "Successfully stopped connector id:sim\r\njcli : "
    );
    assert!(c.cmd("smppccm -l").await.contains("stopped NONE"));
    assert!(gw
        .stats
        .render_prometheus()
        .contains("smppc_submit_sm_count{cid=\"sim\"}"));
    assert_eq!(
        c.cmd("smppccm -r sim").await,
        "Successfully removed connector id:sim\r\njcli : "
    );
    // A removed connector's series disappear from /metrics.
    assert!(!gw.stats.render_prometheus().contains("cid=\"sim\""));
    assert_eq!(
        c.cmd("group -r g1").await,
        "Successfully removed Group id:g1\r\njcli : "
    );
    assert_eq!(c.cmd("user -l").await, "Total Users: 0\r\njcli : ");
    assert_eq!(
        c.cmd("mtrouter -f").await,
        "Successfully flushed MT routing table\r\njcli : "
    );
    // load brings the persisted profile back.
    let l = c.cmd("load").await;
    assert!(
        l.contains("user configuration loaded (profile:jcli-prod)"),
        "{l}"
    );
    assert!(c.cmd("user -l").await.contains("Total Users: 1"));
    assert_eq!(
        c.cmd("user --show").await,
        "--show option requires 1 argument\r\nUsage: user [options] \r\n\r\nOptions:\r\n  -l, --list            List all users or a group users when provided with GID\r\n  -a, --add             Add user\r\n  -e UID, --enable=UID  Enable user\r\n  -d UID, --disable=UID\r\n                        Disable user\r\n  -u UID, --update=UID  Update user using it's UID\r\n  -r UID, --remove=UID  Remove user using it's UID\r\n  -s UID, --show=UID    Show user using it's UID\r\n  --smpp-unbind=UID     Unbind user from smpp server using it's UID\r\n  --smpp-ban=UID        Unbind and ban user from smpp server using it's UID\r\n\r\njcli : "
    );
}

/// Hostile clients: binary garbage, a 1 MB line, an option flood, 100 sessions at once, three
/// wrong passwords. The console answers or closes cleanly and keeps serving.
#[tokio::test]
async fn hostile_clients_do_not_hurt_the_console() {
    let dir = tempfile::tempdir().expect("tmp");
    let gw = gateway_in(dir.path()).await;
    let addr = gw.jcli_addr().expect("jcli");
    // Three wrong passwords, then the connection closes.
    let mut c = Console::connect(addr).await;
    for _ in 0..3 {
        c.until("Username: ").await;
        c.send("jcliadmin").await;
        c.until("Password: ").await;
        c.send("wrong").await;
    }
    let mut rest = vec![];
    tokio::time::timeout(Duration::from_secs(10), c.sock.read_to_end(&mut rest))
        .await
        .expect("closed in time")
        .expect("read");
    let rest = strip_telnet(&rest);
    assert!(rest.contains("Incorrect Username/Password."), "{rest}");
    assert!(rest.contains("Too many failed attempts"), "{rest}");
    // Garbage, an option flood and a 1 MB line in one authenticated session.
    let mut c = Console::login(addr).await;
    let mut junk: Vec<u8> = (0..50_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    junk.retain(|b| *b != b'\r' && *b != b'\n' && *b != 255);
    c.sock.write_all(&junk).await.expect("junk");
    let flood: Vec<u8> = (0..20_000)
        .flat_map(|i| [255u8, 253, (i % 250) as u8])
        .collect();
    c.sock.write_all(&flood).await.expect("flood");
    c.sock.write_all(b"\r\n").await.expect("eol");
    c.until_prompt().await;
    let line = vec![b'a'; 1 << 20];
    c.sock.write_all(&line).await.expect("1 MB");
    c.sock.write_all(b"\r\n").await.expect("eol");
    let t = c.until_prompt().await;
    assert!(
        t.contains("Error: line too long"),
        "{}",
        &t[t.len().saturating_sub(200)..]
    );
    assert_eq!(c.cmd("group -l").await, "Total Groups: 0\r\njcli : ");
    assert_eq!(
        c.cmd("plugin -l").await,
        "Plugins are disabled ([plugins] enabled = false)\r\njcli : "
    );
    // 100 sessions at once all get a working console.
    let mut tasks = vec![];
    for i in 0..100 {
        tasks.push(tokio::spawn(async move {
            let mut c = Console::login(addr).await;
            let out = c.cmd("user -l").await;
            (i, out)
        }));
    }
    for t in tasks {
        let (i, out) = t.await.expect("session");
        assert_eq!(out, "Total Users: 0\r\njcli : ", "session {i}");
    }
    // The gateway still serves HTTP.
    let (st, _) = get(gw.http_addr.expect("http"), "/ping").await;
    assert_eq!(st, 200);
}

/// `--smpp-unbind` and `--smpp-ban` act on real ESME sessions; Tab completes; EvalPyFilter
/// without the Python plugin answers what is missing.
#[tokio::test]
async fn smpp_unbind_ban_completion_and_unreadable_scripts() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = simulator().await;
    let gw = gateway(load(
        &config_toml(dir.path(), 0, sim.addr.port()),
        dir.path(),
    ))
    .await;
    let smpp = gw.smpp_addr().expect("smpp");
    let mut c = Console::login(gw.jcli_addr().expect("jcli")).await;
    let (s, _rx, st) = esme_bind(smpp, "trx", "foo", "bar").await;
    assert_eq!(st, rusmpp::CommandStatus::EsmeRok);
    assert!(c.cmd("stats --users").await.contains("#foo        1 "));
    assert_eq!(
        c.cmd("user --smpp-unbind foo").await,
        "Successfully unbound User id:foo\r\njcli : "
    );
    tokio::time::timeout(Duration::from_secs(5), s.closed())
        .await
        .expect("unbound");
    let (s, _rx, st) = esme_bind(smpp, "trx", "foo", "bar").await;
    assert_eq!(st, rusmpp::CommandStatus::EsmeRok, "unbind is not a ban");
    assert_eq!(
        c.cmd("user --smpp-ban foo").await,
        "Successfully unbound and banned User id:foo\r\njcli : "
    );
    tokio::time::timeout(Duration::from_secs(5), s.closed())
        .await
        .expect("unbound");
    let (_s, _rx, st) = esme_bind(smpp, "trx", "foo", "bar").await;
    assert_ne!(st, rusmpp::CommandStatus::EsmeRok, "banned");
    assert!(c
        .cmd("user -s foo")
        .await
        .contains("smpps_cred authorization bind False\r\n"));
    // Tab completion of a command, then of a key inside a session.
    c.sock.write_all(b"smppc\t").await.expect("tab");
    c.until("smppccm ").await;
    c.sock.write_all(b"-a\r\n").await.expect("eol");
    c.until_prompt().await;
    c.sock.write_all(b"submit_t\t").await.expect("tab");
    c.until("submit_throughput ").await;
    c.sock.write_all(b"\x15ko\r\n").await.expect("ko");
    c.until("jcli : ").await;
    // An EvalPyFilter's script is read when `pyCode` is set: a missing file is refused there
    // (Jasmin's `[IO]` message), and the filter cannot be saved without it.
    c.cmd("filter -a").await;
    c.cmd("type EvalPyFilter").await;
    c.cmd("fid py").await;
    assert_eq!(
        c.cmd("pyCode /opt/x.py").await,
        "[IO]: [Errno 2] No such file or directory: '/opt/x.py'\r\n> "
    );
    let e = c.cmd("ok").await;
    assert!(
        e.starts_with("You must set these options before saving") && e.contains("pyCode"),
        "{e}"
    );
    c.cmd("ko").await;
    assert!(
        c.cmd("filter -l").await.contains("#nofr "),
        "the filters are intact"
    );
}
