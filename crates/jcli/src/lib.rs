//! jCli, the telnet management console, command for command with Jasmin's.
//!
//! [`telnet`] handles the wire (negotiation, echo, line editing, history); [`options`] parses
//! commands like Jasmin's optparse; [`commands`] runs the modules against the live
//! configuration ([`smsgate_gateway::manage::Manager`]); [`forms`] are the interactive `> ` sessions
//! (`user -a`, `smppccm -u`, ...); [`views`] renders lists, shows and stats.
//!
//! Differences from Jasmin on purpose: lines end with `\r\n` (Jasmin sends `\r\r\r\n`), the
//! `Username: ` prompt is printed, output never comes after the prompt, a bad value is
//! refused when typed (and `ok` keeps refusing until it is fixed), the banner names smsgate,
//! and a `plugin` module lists the Wasm plugins.

pub mod commands;
pub mod forms;
pub mod options;
pub mod telnet;
pub mod views;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use subtle::ConstantTimeEq;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use forms::Form;
use smsgate_core::config::JcliConfig;
use smsgate_gateway::audit::{as_actor, Actor};
use smsgate_gateway::manage::Manager;
use telnet::{Editor, Event};

const PROMPT: &str = "jcli : ";
const FORM_PROMPT: &str = "> ";
const MAX_LOGIN_ATTEMPTS: u32 = 3;
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Sessions idle this long are closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// Start the console on `[jcli]` bind/port. Returns the bound address.
pub async fn start(
    cfg: &JcliConfig,
    manager: Arc<Manager>,
    shutdown: CancellationToken,
) -> Result<SocketAddr, (String, std::io::Error)> {
    let addr = format!("{}:{}", cfg.bind, cfg.port);
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|e| (addr.clone(), e))?;
    let local = listener.local_addr().map_err(|e| (addr.clone(), e))?;
    if cfg.authentication && cfg.admin_username == "jcliadmin" && admin_password_is(cfg, "jclipwd")
    {
        tracing::warn!(
            "jCli uses the default admin credentials (jcliadmin/jclipwd): change [jcli] admin_password"
        );
    }
    if !cfg.authentication {
        tracing::warn!(%local, "jCli accepts anyone without authentication ([jcli] authentication = false)");
    }
    tracing::info!(%local, "jCli console listening");
    let server = Arc::new(Server {
        cfg: cfg.clone(),
        manager,
        sessions: Semaphore::new(cfg.max_sessions.max(1)),
        refs: AtomicU64::new(0),
    });
    tokio::spawn(async move {
        loop {
            let (sock, peer) = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "jCli accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let server = server.clone();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let Ok(_permit) = server.sessions.try_acquire() else {
                    let mut sock = sock;
                    let _ = tokio::time::timeout(
                        WRITE_TIMEOUT,
                        sock.write_all(b"Too many jCli sessions, try again later.\r\n"),
                    )
                    .await;
                    return;
                };
                tokio::select! {
                    _ = stop.cancelled() => {}
                    r = server.session(sock) => {
                        if let Err(e) = r {
                            tracing::debug!(%peer, error = %e, "jCli session ended");
                        }
                    }
                }
            });
        }
    });
    Ok(local)
}

/// True when the configured admin password is `plain` (in any of its stored forms).
fn admin_password_is(cfg: &JcliConfig, plain: &str) -> bool {
    check_admin_password(&cfg.admin_password, plain)
}

/// Compare a typed password with the configured one: an argon2 PHC string, Jasmin's MD5
/// hex digest (accepted for migration), or plain text. Constant time.
pub fn check_admin_password(configured: &str, typed: &str) -> bool {
    if configured.starts_with("$argon2") {
        return smsgate_policy::auth::argon2_verify(configured, typed.as_bytes());
    }
    if configured.len() == 32 && configured.bytes().all(|b| b.is_ascii_hexdigit()) {
        use md5::Digest;
        let digest = hex::encode(md5::Md5::digest(typed.as_bytes()));
        return bool::from(
            digest
                .as_bytes()
                .ct_eq(configured.to_ascii_lowercase().as_bytes()),
        );
    }
    bool::from(typed.as_bytes().ct_eq(configured.as_bytes()))
}

struct Server {
    cfg: JcliConfig,
    manager: Arc<Manager>,
    sessions: Semaphore,
    refs: AtomicU64,
}

/// A connection: the socket and its line editor.
struct Conn {
    sock: TcpStream,
    ed: Editor,
    out: Vec<u8>,
    events: std::collections::VecDeque<Event>,
}

impl Conn {
    /// Queue text, turning `\n` into `\r\n`.
    fn say(&mut self, text: &str) {
        for (i, part) in text.split('\n').enumerate() {
            if i > 0 {
                self.out.extend_from_slice(b"\r\n");
            }
            self.out.extend_from_slice(part.as_bytes());
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.out);
        match tokio::time::timeout(WRITE_TIMEOUT, self.sock.write_all(&buf)).await {
            Ok(r) => r,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "client not reading",
            )),
        }
    }

    /// The next editor event (flushing echo and answers as they come).
    async fn next(&mut self) -> std::io::Result<Event> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(e) = self.events.pop_front() {
                return Ok(e);
            }
            self.flush().await?;
            let n = match tokio::time::timeout(IDLE_TIMEOUT, self.sock.read(&mut buf)).await {
                Ok(r) => r?,
                Err(_) => {
                    self.say("\nSession idle for too long, bye.\n");
                    let _ = self.flush().await;
                    return Ok(Event::Eof);
                }
            };
            if n == 0 {
                return Ok(Event::Eof);
            }
            let mut events = vec![];
            self.ed.feed(&buf[..n], &mut self.out, &mut events);
            self.events.extend(events);
        }
    }

    /// Read one line (Tab is ignored here).
    async fn line(&mut self) -> std::io::Result<Option<String>> {
        loop {
            match self.next().await? {
                Event::Line(l) => return Ok(Some(l)),
                Event::Eof => return Ok(None),
                Event::TooLong => {
                    self.say(&format!(
                        "Error: line too long (max {} bytes)\n",
                        telnet::MAX_LINE
                    ));
                    return Ok(Some(String::new()));
                }
                Event::Complete(_) => {}
            }
        }
    }
}

impl Server {
    async fn session(&self, sock: TcpStream) -> std::io::Result<()> {
        let _ = sock.set_nodelay(true);
        let mut c = Conn {
            sock,
            ed: Editor::default(),
            out: telnet::GREETING.to_vec(),
            events: Default::default(),
        };
        c.out.extend_from_slice(b"\x1bc\x1b[4h");
        if self.cfg.authentication && !self.login(&mut c).await? {
            return c.flush().await;
        }
        let sref = self.refs.fetch_add(1, Ordering::Relaxed) + 1;
        c.say(&format!(
            "Welcome to smsgate {} console\nType help or ? to list commands.\n\nSession ref: {sref}\n{PROMPT}",
            env!("CARGO_PKG_VERSION")
        ));
        let mut form: Option<Box<dyn Form>> = None;
        // Changes made in this session are audited as the console user's.
        let actor = Actor::new(
            "jcli",
            if self.cfg.authentication {
                &self.cfg.admin_username
            } else {
                "anonymous"
            },
        );
        loop {
            let ev = c.next().await?;
            match ev {
                Event::Eof => break,
                Event::TooLong => {
                    c.say(&format!(
                        "Error: line too long (max {} bytes)\n",
                        telnet::MAX_LINE
                    ));
                }
                Event::Complete(text) => {
                    let candidates = match &form {
                        Some(f) => complete(&text, &f.keys()),
                        None => complete(
                            &text,
                            &options::COMMANDS
                                .iter()
                                .map(|c| c.name.to_string())
                                .chain(["quit".to_string(), "help".to_string()])
                                .collect::<Vec<_>>(),
                        ),
                    };
                    match candidates.as_slice() {
                        [] => {}
                        [one] => {
                            let mut line = one.clone();
                            line.push(' ');
                            c.ed.set_line(&line, &mut c.out);
                        }
                        many => {
                            let prompt = if form.is_some() { FORM_PROMPT } else { PROMPT };
                            c.say(&format!("\n{}\n{prompt}", many.join(" ")));
                            let cur = c.ed.current();
                            c.ed.set_line(&cur, &mut c.out);
                        }
                    }
                    continue;
                }
                Event::Line(line) => {
                    c.ed.remember(&line);
                    if let Some(f) = form.as_mut() {
                        match line.trim() {
                            "" => {}
                            "ko" => form = None,
                            "ok" => match as_actor(actor.clone(), f.ok(&self.manager)).await {
                                Ok(msg) => {
                                    c.say(&format!("{msg}\n"));
                                    form = None;
                                }
                                Err(msg) => c.say(&format!("{msg}\n")),
                            },
                            l => {
                                let msg = as_actor(actor.clone(), f.line(l, &self.manager)).await;
                                if !msg.is_empty() {
                                    c.say(&format!("{msg}\n"));
                                }
                            }
                        }
                    } else {
                        match as_actor(actor.clone(), commands::run(line.trim(), &self.manager))
                            .await
                        {
                            commands::Reply::Text(t) => c.say(&t),
                            commands::Reply::Form(intro, f) => {
                                c.say(&format!("{intro}\n"));
                                form = Some(f);
                            }
                            commands::Reply::Quit => {
                                c.out.extend_from_slice(b"\x1bc");
                                return c.flush().await;
                            }
                        }
                    }
                }
            }
            c.say(if form.is_some() { FORM_PROMPT } else { PROMPT });
        }
        c.flush().await
    }

    /// The `Username:`/`Password:` exchange; false when the client failed or left.
    async fn login(&self, c: &mut Conn) -> std::io::Result<bool> {
        c.say("Authentication required.\n\n");
        for attempt in 1..=MAX_LOGIN_ATTEMPTS {
            c.say("Username: ");
            let Some(user) = c.line().await? else {
                return Ok(false);
            };
            c.say("Password: ");
            c.ed.echo = false;
            let pass = c.line().await?;
            c.ed.echo = true;
            let Some(pass) = pass else {
                return Ok(false);
            };
            c.say("\n");
            let user_ok = bool::from(
                user.trim()
                    .as_bytes()
                    .ct_eq(self.cfg.admin_username.as_bytes()),
            );
            let configured = self.cfg.admin_password.clone();
            let pass_ok =
                tokio::task::spawn_blocking(move || check_admin_password(&configured, &pass))
                    .await
                    .unwrap_or(false);
            if user_ok && pass_ok {
                return Ok(true);
            }
            tracing::warn!(attempt, "jCli authentication failed");
            tokio::time::sleep(Duration::from_millis(300)).await;
            c.say("Incorrect Username/Password.\n");
            if attempt == MAX_LOGIN_ATTEMPTS {
                c.say("Too many failed attempts, bye.\n");
            }
        }
        Ok(false)
    }
}

/// Candidates among `words` for the last word of `text`.
fn complete(text: &str, words: &[String]) -> Vec<String> {
    let prefix = text.trim_start();
    let mut v: Vec<String> = words
        .iter()
        .filter(|w| w.starts_with(prefix))
        .cloned()
        .collect();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_password_forms() {
        // Jasmin's default: MD5 of "jclipwd".
        assert!(check_admin_password(
            "79e9b0aa3f3e7c53e916f7ac47439bcb",
            "jclipwd"
        ));
        assert!(!check_admin_password(
            "79e9b0aa3f3e7c53e916f7ac47439bcb",
            "jclipwe"
        ));
        let h = smsgate_policy::auth::hash_password("s3cret").expect("hash");
        assert!(check_admin_password(&h, "s3cret"));
        assert!(!check_admin_password(&h, "s3cre"));
        assert!(check_admin_password("plain", "plain"));
        assert!(!check_admin_password("plain", "plai"));
    }
}
