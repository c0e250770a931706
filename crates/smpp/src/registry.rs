//! Who is bound to the SMPP server: sessions per user, with their bind mode. The server
//! checks `max_bindings` here, the deliverer picks receiving sessions here, and jCli
//! (`--smpp-unbind`, `--smpp-ban`) closes sessions from here.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::session::Session;

/// How an ESME is bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindMode {
    Transmitter,
    Receiver,
    Transceiver,
}

impl BindMode {
    /// May submit messages.
    pub fn can_submit(self) -> bool {
        self != BindMode::Receiver
    }
    /// May receive `deliver_sm`.
    pub fn can_receive(self) -> bool {
        self != BindMode::Transmitter
    }
    /// Name as jCli and the logs show it.
    pub fn name(self) -> &'static str {
        match self {
            BindMode::Transmitter => "transmitter",
            BindMode::Receiver => "receiver",
            BindMode::Transceiver => "transceiver",
        }
    }
}

/// One bound session.
#[derive(Clone)]
pub struct Bound {
    pub id: u64,
    pub session: Session,
    pub mode: BindMode,
}

#[derive(Default)]
struct Inner {
    users: HashMap<String, Vec<Bound>>,
    /// Users whose deliverer task is running.
    delivering: HashSet<String>,
}

/// What `add` decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    /// Bound; `start_deliverer` is true when the caller must start the user's deliverer.
    Ok { id: u64, start_deliverer: bool },
    /// `max_bindings` reached.
    TooMany,
}

/// The registry of bound sessions.
#[derive(Default)]
pub struct Bindings {
    inner: Mutex<Inner>,
    next: AtomicU64,
    notify: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Bindings {
    /// Register a bound session unless the user already has `max` of them.
    pub fn add(&self, user: &str, session: Session, mode: BindMode, max: Option<i64>) -> Added {
        let mut g = self.inner.lock();
        let list = g.users.entry(user.to_string()).or_default();
        list.retain(|b| !b.session.is_closed());
        if let Some(max) = max {
            if list.len() as i64 >= max {
                return Added::TooMany;
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        list.push(Bound { id, session, mode });
        let start_deliverer = mode.can_receive() && g.delivering.insert(user.to_string());
        drop(g);
        self.changed(user).notify_one();
        Added::Ok {
            id,
            start_deliverer,
        }
    }

    /// Forget a session.
    pub fn remove(&self, user: &str, id: u64) {
        let mut g = self.inner.lock();
        if let Some(list) = g.users.get_mut(user) {
            list.retain(|b| b.id != id);
            if list.is_empty() {
                g.users.remove(user);
            }
        }
        drop(g);
        self.changed(user).notify_one();
    }

    /// Open sessions of `user` that may receive `deliver_sm`.
    pub fn receivers(&self, user: &str) -> Vec<Session> {
        self.inner
            .lock()
            .users
            .get(user)
            .map(|l| {
                l.iter()
                    .filter(|b| b.mode.can_receive() && !b.session.is_closed())
                    .map(|b| b.session.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every bound session of `user`.
    pub fn sessions(&self, user: &str) -> Vec<Bound> {
        self.inner
            .lock()
            .users
            .get(user)
            .cloned()
            .unwrap_or_default()
    }

    /// Every bound session.
    pub fn all(&self) -> Vec<(String, Bound)> {
        self.inner
            .lock()
            .users
            .iter()
            .flat_map(|(u, l)| l.iter().map(move |b| (u.clone(), b.clone())))
            .collect()
    }

    /// Called by a deliverer that found no receiver: returns true if it must stop (nobody can
    /// receive), false if a receiver bound meanwhile (keep going).
    pub fn deliverer_may_stop(&self, user: &str) -> bool {
        let mut g = self.inner.lock();
        let any = g
            .users
            .get(user)
            .map(|l| {
                l.iter()
                    .any(|b| b.mode.can_receive() && !b.session.is_closed())
            })
            .unwrap_or(false);
        if any {
            return false;
        }
        g.delivering.remove(user);
        true
    }

    /// Signalled whenever `user`'s sessions change.
    pub fn changed(&self, user: &str) -> Arc<Notify> {
        self.notify
            .lock()
            .entry(user.to_string())
            .or_default()
            .clone()
    }
}
