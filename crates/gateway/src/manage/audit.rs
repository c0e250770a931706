//! The audit log: every change to the live configuration, whatever made it (jCli, the
//! management API, SIGHUP, another node), with who made it and each object before and after.
//!
//! [`super::Manager::apply`] is the one door of every change; it diffs the profile
//! before and after, object by object (a user by uid, a connector by cid, a route by order...),
//! and records an [`Entry`]: as a log line at `info` under the target `smsgate::audit` (kept
//! by the journal or the log shipper) and in a ring of the latest entries that the management
//! API serves. Passwords are never recorded (their hashes neither).
//!
//! Who: the caller runs its change inside [`as_actor`] (jCli with the console user, the API
//! with the account or token name); a change made outside any actor is the `system`'s.

use std::collections::{BTreeMap, VecDeque};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Profile;
use smsgate_core::model::message::now_ms;

/// How many entries the ring keeps.
pub const KEPT: usize = 1000;

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
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// `group`, `user`, `smppcc`, `httpcc`, `filter`, `mtroute`, `moroute`,
    /// `mtinterceptor`, `mointerceptor`, or `smppcc.started`.
    pub kind: &'static str,
    /// Its key: gid, uid, cid, fid or order.
    pub key: String,
    pub before: Value,
    pub after: Value,
}

/// One change to the configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// ms since the epoch.
    pub at: i64,
    pub actor: Actor,
    /// The node the change was made on, when not this one (cluster mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub changes: Vec<Change>,
}

/// The latest entries.
#[derive(Default)]
pub struct AuditLog {
    ring: Mutex<VecDeque<Entry>>,
}

impl AuditLog {
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
        tracing::info!(
            target: "smsgate::audit",
            source = %entry.actor.source,
            actor = %entry.actor.name,
            node = %entry.node.as_deref().unwrap_or("this"),
            changes = %serde_json::to_string(&entry.changes).unwrap_or_default(),
            "configuration changed"
        );
        let mut ring = self.ring.lock();
        if ring.len() == KEPT {
            ring.pop_front();
        }
        ring.push_back(entry);
    }

    /// The latest `max` entries, newest first.
    pub fn latest(&self, max: usize) -> Vec<Entry> {
        self.ring.lock().iter().rev().take(max).cloned().collect()
    }
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
                kind,
                key: k,
                before: b,
                after: a,
            }),
            None => out.push(Change {
                kind,
                key: k,
                before: b,
                after: Value::Null,
            }),
        }
    }
    for (k, a) in after {
        out.push(Change {
            kind,
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
                    kind: "user",
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
        let kinds: Vec<(&str, &str)> = d.iter().map(|c| (c.kind, c.key.as_str())).collect();
        assert_eq!(
            kinds,
            [("user", "b"), ("user", "c"), ("user", "a")],
            "{text}"
        );
        assert!(d[0].after.is_null() && d[1].before.is_null());
        assert!(diff(&prev, &prev).is_empty());
    }

    #[tokio::test]
    async fn the_actor_is_the_scope_s() {
        assert_eq!(current().source, "system");
        let a = as_actor(Actor::new("api", "ops"), async { current() }).await;
        assert_eq!(a, Actor::new("api", "ops"));
    }
}
