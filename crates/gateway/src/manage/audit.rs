//! The audit log: every change to the live configuration, whatever made it (jCli, the
//! management API, SIGHUP, another node), with who made it and each object before and after.
//!
//! [`super::Manager::apply`] is the one door of every change; it diffs the profile
//! before and after, object by object (a user by uid, a connector by cid, a route by order...),
//! and records an [`Entry`]: as a log line at `info` under the target `smsgate::audit`, as a
//! line of JSON appended (and synced) to `data_dir/audit.jsonl` before the change is
//! answered, and in a ring of the latest entries that the management API serves (filled from
//! the file at start, so a restart forgets nothing). The file is rotated at [`ROTATE_AT`]
//! bytes, keeping [`ROTATED`] older files (`audit.jsonl.1` the newest). Passwords are never
//! recorded (their hashes neither).
//!
//! Who: the caller runs its change inside [`as_actor`] (jCli with the console user, the API
//! with the account or token name); a change made outside any actor is the `system`'s.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Profile;
use smsgate_core::model::message::now_ms;

/// How many entries the ring keeps.
pub const KEPT: usize = 1000;
/// The size at which the audit file is rotated.
pub const ROTATE_AT: u64 = 16 << 20;
/// How many rotated audit files are kept.
pub const ROTATED: u32 = 5;

/// Who made a change, and through what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `jcli`, `api`, `sighup`, `system`, or `node` for a change from another node of an
    /// older version (a newer one tells its actor).
    pub source: String,
    /// The console user, the API account or token, the other node's id.
    pub name: String,
}

impl Actor {
    pub fn new(source: &str, name: &str) -> Actor {
        Actor {
            source: source.into(),
            name: name.into(),
        }
    }
}

tokio::task_local! {
    static ACTOR: Actor;
}

/// Run `f` (which changes the configuration) as `actor`.
pub async fn as_actor<F: std::future::Future>(actor: Actor, f: F) -> F::Output {
    ACTOR.scope(actor, f).await
}

/// The actor of the running task (`system` outside [`as_actor`]).
pub fn current() -> Actor {
    ACTOR
        .try_with(Clone::clone)
        .unwrap_or_else(|_| Actor::new("system", "system"))
}

/// One object that changed: `before` is `null` for an addition, `after` for a removal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    /// `group`, `user`, `smppcc`, `httpcc`, `filter`, `mtroute`, `moroute`,
    /// `mtinterceptor`, `mointerceptor`, or `smppcc.started`.
    pub kind: Cow<'static, str>,
    /// Its key: gid, uid, cid, fid or order.
    pub key: String,
    pub before: Value,
    pub after: Value,
}

/// One change to the configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// ms since the epoch.
    pub at: i64,
    pub actor: Actor,
    /// The node the change was made on, when not this one (cluster mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub changes: Vec<Change>,
}

/// The audit log: its file and the latest entries.
#[derive(Default)]
pub struct AuditLog {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    ring: VecDeque<Entry>,
    /// `audit.jsonl` (none: kept in memory only, as in tests).
    file: Option<PathBuf>,
}

impl AuditLog {
    /// The audit log kept in `path` (created when missing), with the latest entries read
    /// back from it. A line that is not an entry (a torn last line after a crash) is skipped
    /// and told.
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut ring = VecDeque::with_capacity(KEPT);
        let mut torn = false;
        match std::fs::read(path) {
            Ok(bytes) => {
                torn = bytes.last().is_some_and(|b| *b != b'\n');
                for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    match serde_json::from_slice::<Entry>(line) {
                        Ok(e) => {
                            if ring.len() == KEPT {
                                ring.pop_front();
                            }
                            ring.push_back(e);
                        }
                        Err(e) => tracing::warn!(
                            file = %path.display(), error = %e,
                            "audit: a line that is not an entry is skipped"
                        ),
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        // Written now: a file that cannot be appended to is told at start, not at a change.
        // A torn last line is ended, so the next entry starts a line of its own.
        append(path, if torn { b"\n" } else { b"" })?;
        Ok(AuditLog {
            inner: Mutex::new(Inner {
                ring,
                file: Some(path.to_path_buf()),
            }),
        })
    }

    /// Record the change from `prev` to `next` made by the current actor (nothing when the
    /// two are the same).
    pub fn record(&self, prev: &Profile, next: &Profile) {
        self.record_from(current(), None, prev, next);
    }

    /// A change `actor` made on another node, `node`, installed here.
    pub fn record_from(&self, actor: Actor, node: Option<String>, prev: &Profile, next: &Profile) {
        let changes = diff(prev, next);
        if changes.is_empty() {
            return;
        }
        let entry = Entry {
            at: now_ms(),
            actor,
            node,
            changes,
        };
        let changes = serde_json::to_string(&entry.changes).unwrap_or_default();
        tracing::info!(
            target: "smsgate::audit",
            source = %entry.actor.source,
            actor = %entry.actor.name,
            node = %entry.node.as_deref().unwrap_or("this"),
            changes = %changes,
            "configuration changed"
        );
        let mut inner = self.inner.lock();
        if let Some(path) = &inner.file {
            let mut line = serde_json::to_vec(&entry).unwrap_or_default();
            line.push(b'\n');
            if let Err(e) = rotate(path).and_then(|()| append(path, &line)) {
                // The change is made (refusing it now would not undo it): the log line above
                // and this error keep it.
                tracing::error!(
                    file = %path.display(), error = %e,
                    "audit: cannot write the audit file"
                );
            }
        }
        if inner.ring.len() == KEPT {
            inner.ring.pop_front();
        }
        inner.ring.push_back(entry);
    }

    /// The latest `max` entries, newest first.
    pub fn latest(&self, max: usize) -> Vec<Entry> {
        self.inner
            .lock()
            .ring
            .iter()
            .rev()
            .take(max)
            .cloned()
            .collect()
    }
}

/// Append `bytes` to `path` and sync them.
fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if !bytes.is_empty() {
        f.write_all(bytes)?;
        f.sync_data()?;
    }
    Ok(())
}

/// Past [`ROTATE_AT`], `path` becomes `path.1` (and `.1` `.2`, ..., the oldest beyond
/// [`ROTATED`] deleted).
fn rotate(path: &Path) -> std::io::Result<()> {
    if std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) < ROTATE_AT {
        return Ok(());
    }
    let numbered = |n: u32| {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    };
    let _ = std::fs::remove_file(numbered(ROTATED));
    for n in (1..ROTATED).rev() {
        let _ = std::fs::rename(numbered(n), numbered(n + 1));
    }
    std::fs::rename(path, numbered(1))
}

/// Objects of a section by key, as JSON (passwords removed).
fn keyed<T: Serialize>(items: &[T], key: impl Fn(&T) -> String) -> BTreeMap<String, Value> {
    items
        .iter()
        .map(|i| {
            let mut v = serde_json::to_value(i).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                if o.contains_key("password") {
                    o.insert("password".into(), Value::String("(hidden)".into()));
                }
            }
            (key(i), v)
        })
        .collect()
}

fn section(
    out: &mut Vec<Change>,
    kind: &'static str,
    before: BTreeMap<String, Value>,
    mut after: BTreeMap<String, Value>,
) {
    for (k, b) in before {
        match after.remove(&k) {
            Some(a) if a == b => {}
            Some(a) => out.push(Change {
                kind: kind.into(),
                key: k,
                before: b,
                after: a,
            }),
            None => out.push(Change {
                kind: kind.into(),
                key: k,
                before: b,
                after: Value::Null,
            }),
        }
    }
    for (k, a) in after {
        out.push(Change {
            kind: kind.into(),
            key: k,
            before: Value::Null,
            after: a,
        });
    }
}

/// The changes of one list of objects, keyed by `key`.
fn objects<T: Serialize>(
    out: &mut Vec<Change>,
    kind: &'static str,
    prev: &[T],
    next: &[T],
    key: impl Fn(&T) -> String,
) {
    section(out, kind, keyed(prev, &key), keyed(next, &key));
}

/// What changed from `prev` to `next`, object by object.
pub fn diff(prev: &Profile, next: &Profile) -> Vec<Change> {
    let mut out = vec![];
    objects(&mut out, "group", &prev.groups, &next.groups, |g| {
        g.gid.clone()
    });
    let uid = |u: &smsgate_core::config::UserConfig| super::uid_of(u).to_string();
    objects(&mut out, "user", &prev.users, &next.users, uid);
    // A password change shows as a change of the user, with nothing of the password in it.
    for u in &next.users {
        if let Some(p) = prev.users.iter().find(|p| p.username == u.username) {
            if p.password != u.password && !out.iter().any(|c| c.kind == "user" && c.key == uid(u))
            {
                out.push(Change {
                    kind: "user".into(),
                    key: uid(u),
                    before: Value::String("password".into()),
                    after: Value::String("password changed".into()),
                });
            }
        }
    }
    objects(&mut out, "smppcc", &prev.smppccs, &next.smppccs, |c| {
        c.cid.clone()
    });
    let started = |p: &Profile| -> BTreeMap<String, Value> {
        p.smppccs
            .iter()
            .map(|c| (c.cid.clone(), Value::Bool(p.started.contains(&c.cid))))
            .collect()
    };
    let (mut b, mut a) = (started(prev), started(next));
    // Only connectors on both sides: an added or removed one is already told.
    b.retain(|k, _| next.smppccs.iter().any(|c| &c.cid == k));
    a.retain(|k, _| prev.smppccs.iter().any(|c| &c.cid == k));
    section(&mut out, "smppcc.started", b, a);
    objects(&mut out, "httpcc", &prev.httpccs, &next.httpccs, |c| {
        c.cid.clone()
    });
    objects(&mut out, "filter", &prev.filters, &next.filters, |f| {
        f.fid.clone()
    });
    let order = |r: &smsgate_core::config::RouteConfig| r.order.to_string();
    objects(&mut out, "mtroute", &prev.mtroutes, &next.mtroutes, order);
    objects(&mut out, "moroute", &prev.moroutes, &next.moroutes, order);
    let order = |r: &smsgate_core::config::InterceptorConfig| r.order.to_string();
    objects(
        &mut out,
        "mtinterceptor",
        &prev.mtinterceptors,
        &next.mtinterceptors,
        order,
    );
    objects(
        &mut out,
        "mointerceptor",
        &prev.mointerceptors,
        &next.mointerceptors,
        order,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsgate_core::config::{GroupConfig, UserConfig};

    fn user(name: &str, pw: &str) -> UserConfig {
        serde_json::from_value(serde_json::json!({"username": name, "password": pw, "gid": "g"}))
            .expect("user")
    }

    #[test]
    fn diff_names_each_object_and_never_a_password() {
        let prev = Profile {
            groups: vec![
                serde_json::from_value::<GroupConfig>(serde_json::json!({"gid": "g"}))
                    .expect("group"),
            ],
            users: vec![user("a", "$argon2id$old"), user("b", "$argon2id$b")],
            ..Default::default()
        };
        let mut next = prev.clone();
        next.users[0].password = "$argon2id$new".into();
        next.users.remove(1);
        next.users.push(user("c", "$argon2id$c"));
        let d = diff(&prev, &next);
        let text = serde_json::to_string(&d).expect("json");
        assert!(!text.contains("argon2"), "{text}");
        let kinds: Vec<(&str, &str)> = d.iter().map(|c| (&*c.kind, c.key.as_str())).collect();
        assert_eq!(
            kinds,
            [("user", "b"), ("user", "c"), ("user", "a")],
            "{text}"
        );
        assert!(d[0].after.is_null() && d[1].before.is_null());
        assert!(diff(&prev, &prev).is_empty());
    }

    #[test]
    fn the_file_keeps_every_entry_across_a_restart_and_rotates() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("audit.jsonl");
        let prev = Profile::default();
        let mut next = prev.clone();
        next.users.push(user("a", "$argon2id$a"));
        let log = AuditLog::open(&path).expect("open");
        log.record_from(Actor::new("jcli", "ops"), None, &prev, &next);
        log.record_from(Actor::new("api", "x"), Some("n2".into()), &next, &prev);
        drop(log);
        // A crash in the middle of a line: the line is skipped, the others read back.
        append(&path, b"{\"at\": 1, \"act").expect("torn");
        let log = AuditLog::open(&path).expect("reopen");
        assert_eq!(log.latest(10).len(), 2);
        log.record_from(Actor::new("sighup", "SIGHUP"), None, &prev, &next);
        drop(log);
        let log = AuditLog::open(&path).expect("reopen");
        let back = log.latest(10);
        assert_eq!(back.len(), 3);
        assert_eq!(back[0].actor, Actor::new("sighup", "SIGHUP"));
        let back = &back[1..];
        assert_eq!(back[0].actor, Actor::new("api", "x"));
        assert_eq!(back[0].node.as_deref(), Some("n2"));
        assert_eq!(back[1].changes[0].kind, "user");
        assert!(back[1].changes[0].before.is_null());
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains("argon2"), "{text}");
        // Past the size, the file is rotated before the next entry.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|f| f.set_len(ROTATE_AT))
            .expect("grow");
        log.record_from(Actor::new("jcli", "ops"), None, &prev, &next);
        let rotated = dir.path().join("audit.jsonl.1");
        assert_eq!(
            std::fs::metadata(&rotated).expect("rotated").len(),
            ROTATE_AT
        );
        let fresh = std::fs::read_to_string(&path).expect("read");
        assert_eq!(fresh.lines().count(), 1, "{fresh}");
        assert_eq!(log.latest(10).len(), 4);
    }

    #[test]
    fn a_file_that_cannot_be_written_is_told_at_open() {
        let dir = tempfile::tempdir().expect("tmp");
        let not_a_dir = dir.path().join("file");
        std::fs::write(&not_a_dir, b"x").expect("write");
        assert!(AuditLog::open(&not_a_dir.join("audit.jsonl")).is_err());
    }

    #[tokio::test]
    async fn the_actor_is_the_scope_s() {
        assert_eq!(current().source, "system");
        let a = as_actor(Actor::new("api", "ops"), async { current() }).await;
        assert_eq!(a, Actor::new("api", "ops"));
    }
}
