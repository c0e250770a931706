//! The embedded broker: queue rows in the SQLite file (durable), an in-memory index for
//! ordering (priority, per-owner round-robin, not-before times).
//!
//! Bodies of the head of each queue are held in memory (up to [`BODY_CACHE_BYTES`] in all)
//! so that handing them out reads nothing; beyond that they stay on disk and `receive` reads
//! them, so a large backlog costs a few dozen bytes of RAM per message.
//!
//! A hand-out is made durable before it is returned, as one small row per hand-out (the ids
//! it took, in `handouts`), not as a rewrite of every message's row: after a crash, the rows
//! still queued whose ids a hand-out names come back flagged `redelivered` (the `deliveries`
//! column they get then is also what older versions wrote at each hand-out). A hand-out's row
//! is deleted once every message it took is gone from the queue.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use rusqlite::{params, OptionalExtension};
use tokio::sync::Notify;

use super::{Broker, BrokerError, Delivery, QueueStats};
use crate::db::{Db, DbError};
use smsgate_core::model::message::now_ms;
use smsgate_core::model::Message;

impl From<DbError> for BrokerError {
    fn from(e: DbError) -> Self {
        BrokerError::Storage(e.to_string())
    }
}

/// How many bytes of queue bodies the broker keeps in memory by default, over all queues:
/// what is published while the cache is full is read from disk when handed out.
pub const BODY_CACHE_BYTES: usize = 4 << 20;

/// What the broker remembers of a message handed out (until it is acked or comes back).
#[derive(Clone)]
struct Meta {
    priority: u8,
    owner: Arc<str>,
    /// The `handouts` row naming this message.
    handout: Option<i64>,
}

/// What a waiting message carries beyond its place in the index (most carry nothing).
#[derive(Clone, Copy, Default)]
struct Mark {
    /// Handed out before the last stop (a possible duplicate).
    redelivered: bool,
    /// The `handouts` row naming it (it was handed out, then came back).
    handout: Option<i64>,
}

/// Ids in arrival order, as runs of consecutive ids: a backlog published by one user on
/// one queue costs a few bytes in all, whatever its length.
#[derive(Default)]
struct Runs {
    runs: VecDeque<(i64, u32)>,
}

impl Runs {
    fn push(&mut self, id: i64) {
        if let Some((first, n)) = self.runs.back_mut() {
            if *first + i64::from(*n) == id && *n < u32::MAX {
                *n += 1;
                return;
            }
        }
        self.runs.push_back((id, 1));
    }
    fn pop(&mut self) -> Option<i64> {
        let (first, n) = self.runs.front_mut()?;
        let id = *first;
        *first += 1;
        *n -= 1;
        if *n == 0 {
            self.runs.pop_front();
        }
        Some(id)
    }
    fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
    fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.runs
            .iter()
            .flat_map(|(first, n)| *first..*first + i64::from(*n))
    }
}

/// The ready messages of one priority: per owner in arrival order, owners round-robin.
#[derive(Default)]
struct Level {
    rr: VecDeque<Arc<str>>,
    per_owner: HashMap<Arc<str>, Runs>,
    len: usize,
}

impl Level {
    fn push(&mut self, owner: &Arc<str>, id: i64) {
        let q = self.per_owner.entry(owner.clone()).or_default();
        if q.is_empty() {
            self.rr.push_back(owner.clone());
        }
        q.push(id);
        self.len += 1;
    }
    fn pop(&mut self) -> Option<(i64, Arc<str>)> {
        let owner = self.rr.pop_front()?;
        let q = self.per_owner.get_mut(&owner)?;
        let id = q.pop();
        if q.is_empty() {
            self.per_owner.remove(&owner);
        } else {
            self.rr.push_back(owner.clone());
        }
        let id = id?;
        self.len -= 1;
        Some((id, owner))
    }
}

/// A message not before its time.
type Delayed = Reverse<(i64, i64, u8, Arc<str>)>;

#[derive(Default)]
struct QueueState {
    levels: [Level; 4],
    /// (not before, id, priority, owner), soonest first.
    delayed: BinaryHeap<Delayed>,
    /// Handed out, not acked yet.
    unacked: HashMap<i64, Meta>,
    /// Waiting messages that carry a [`Mark`].
    marks: HashMap<i64, Mark>,
    /// Cached bodies of waiting messages.
    bodies: HashMap<i64, Cached>,
    notify: Arc<Notify>,
}

/// The messages of each `handouts` row still in a queue.
#[derive(Default)]
struct Handouts {
    left: HashMap<i64, usize>,
}

impl Handouts {
    /// One message named by hand-out `h` left its queue: whether `h`'s row can go.
    fn gone(&mut self, h: i64) -> bool {
        match self.left.get_mut(&h) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                self.left.remove(&h);
                true
            }
            None => false,
        }
    }
}

/// A waiting message kept in memory: the message itself, handed out as it is instead of
/// being decoded from its JSON body again, and the size of that body, which is what the cache
/// limit counts.
struct Cached {
    message: Box<Message>,
    len: usize,
}

/// A message leaving its queue for good: its cached body and its hand-out, if any.
struct Gone {
    body: Option<Cached>,
    handout: Option<i64>,
}

impl QueueState {
    fn push_ready(&mut self, id: i64, priority: u8, owner: &Arc<str>) {
        let p = priority.min(3) as usize;
        self.levels[3 - p].push(owner, id);
    }
    /// Ready now, or delayed until `not_before`.
    fn push(&mut self, id: i64, priority: u8, owner: &Arc<str>, not_before: i64, now: i64) {
        if not_before > now {
            self.delayed
                .push(Reverse((not_before, id, priority, owner.clone())));
        } else {
            self.push_ready(id, priority, owner);
        }
    }
    fn promote_due(&mut self, now: i64) {
        while let Some(Reverse((nb, _, _, _))) = self.delayed.peek() {
            if *nb > now {
                break;
            }
            if let Some(Reverse((_, id, priority, owner))) = self.delayed.pop() {
                self.push_ready(id, priority, &owner);
            }
        }
    }
    fn ready_len(&self) -> usize {
        self.levels.iter().map(|l| l.len).sum()
    }
    /// The next ready message: (id, priority, owner).
    fn pop_ready(&mut self) -> Option<(i64, u8, Arc<str>)> {
        self.levels
            .iter_mut()
            .enumerate()
            .find_map(|(i, l)| l.pop().map(|(id, owner)| (id, 3 - i as u8, owner)))
    }
    fn next_due(&self) -> Option<i64> {
        self.delayed.peek().map(|Reverse((nb, _, _, _))| *nb)
    }
    /// Ready and delayed messages (not handed out), removed from the index: (id, priority,
    /// owner).
    fn take_waiting(&mut self) -> Vec<(i64, u8, Arc<str>)> {
        let mut out = vec![];
        while let Some(m) = self.pop_ready() {
            out.push(m);
        }
        out.extend(
            self.delayed
                .drain()
                .map(|Reverse((_, id, priority, owner))| (id, priority, owner)),
        );
        out
    }
    /// A waiting message leaves for good (it was taken from the index already).
    fn gone_waiting(&mut self, id: i64) -> Gone {
        Gone {
            body: self.bodies.remove(&id),
            handout: self.marks.remove(&id).and_then(|m| m.handout),
        }
    }
}

/// The embedded broker.
pub struct EmbeddedBroker {
    db: Db,
    queues: Mutex<HashMap<String, QueueState>>,
    handouts: Mutex<Handouts>,
    /// One shared name per owner.
    owners: Mutex<HashSet<Arc<str>>>,
    /// Bytes of bodies in the cache.
    cached: AtomicUsize,
    cache_limit: usize,
}

impl EmbeddedBroker {
    /// Open the broker on `db`, loading the index of every queued message.
    pub async fn open(db: Db) -> Result<Arc<EmbeddedBroker>, BrokerError> {
        Self::open_with_cache(db, BODY_CACHE_BYTES).await
    }

    /// [`EmbeddedBroker::open`] keeping at most `body_cache_bytes` of bodies in memory.
    pub async fn open_with_cache(
        db: Db,
        body_cache_bytes: usize,
    ) -> Result<Arc<EmbeddedBroker>, BrokerError> {
        let broker = Arc::new(EmbeddedBroker {
            db: db.clone(),
            queues: Mutex::new(HashMap::new()),
            handouts: Mutex::new(Handouts::default()),
            owners: Mutex::new(HashSet::new()),
            cached: AtomicUsize::new(0),
            cache_limit: body_cache_bytes,
        });
        let b = broker.clone();
        let redelivered = db
            .write(move |c| {
                c.execute_batch(HANDOUTS_SCHEMA)?;
                // What the hand-outs before the last stop took is counted as a delivery,
                // as older versions counted it, and the hand-outs are forgotten.
                let handed: Vec<Vec<u8>> = c
                    .prepare("SELECT ids FROM handouts")?
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                let mut bump =
                    c.prepare("UPDATE queue SET deliveries = deliveries + 1 WHERE id = ?1")?;
                for id in handed.iter().flat_map(|ids| decode_ids(ids)) {
                    bump.execute(params![id])?;
                }
                c.execute("DELETE FROM handouts", [])?;
                // The index is built row by row (a backlog of millions is never held as
                // rows in memory).
                let mut st = c.prepare(
                    "SELECT id, queue, priority, owner, not_before, deliveries FROM queue ORDER BY id",
                )?;
                let mut rows = st.query([])?;
                let now = now_ms();
                let mut redelivered = 0usize;
                let mut qs = b.queues.lock();
                while let Some(r) = rows.next()? {
                    let id: i64 = r.get(0)?;
                    let queue: &str = r.get_ref(1)?.as_str()?;
                    let priority: u8 = r.get(2)?;
                    let owner = b.owner(r.get_ref(3)?.as_str()?);
                    let not_before: i64 = r.get(4)?;
                    let deliveries: i64 = r.get(5)?;
                    let q = match qs.get_mut(queue) {
                        Some(q) => q,
                        None => qs.entry(queue.to_string()).or_default(),
                    };
                    if deliveries > 0 {
                        redelivered += 1;
                        q.marks.insert(
                            id,
                            Mark {
                                redelivered: true,
                                handout: None,
                            },
                        );
                    }
                    q.push(id, priority, &owner, not_before, now);
                }
                for (name, q) in qs.iter() {
                    tracing::info!(queue = %name, ready = q.ready_len(), delayed = q.delayed.len(), "queue recovered");
                }
                Ok(redelivered)
            })
            .await?;
        if redelivered > 0 {
            tracing::warn!(
                redelivered,
                "messages were handed out before the last stop without an answer: they will be sent again (possible duplicates)"
            );
        }
        Ok(broker)
    }

    /// The shared name of `owner`.
    fn owner(&self, owner: &str) -> Arc<str> {
        let mut owners = self.owners.lock();
        match owners.get(owner) {
            Some(o) => o.clone(),
            None => {
                let o: Arc<str> = Arc::from(owner);
                owners.insert(o.clone());
                o
            }
        }
    }

    /// The row id of a delivery currently handed out on `queue`.
    fn handed_out(&self, queue: &str, tag: u64) -> Result<i64, BrokerError> {
        let id = tag as i64;
        let qs = self.queues.lock();
        match qs.get(queue) {
            Some(q) if q.unacked.contains_key(&id) => Ok(id),
            _ => Err(BrokerError::UnknownTag(tag)),
        }
    }

    fn notify_of(&self, queue: &str) -> Arc<Notify> {
        let mut qs = self.queues.lock();
        qs.entry(queue.to_string()).or_default().notify.clone()
    }

    /// A copy of `msg` (whose body is `len` bytes) for the cache, if the cache has room (the
    /// limit counts encoded bodies; a decoded message takes somewhat more memory).
    fn cache(&self, msg: &Message, len: usize) -> Option<Cached> {
        self.cached
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                (c + len <= self.cache_limit).then_some(c + len)
            })
            .ok()
            .map(|_| Cached {
                message: Box::new(msg.clone()),
                len,
            })
    }

    fn uncache(&self, body: Option<Cached>) {
        if let Some(b) = body {
            self.cached.fetch_sub(b.len, Ordering::Relaxed);
        }
    }

    /// Messages left their queue for good: uncache their bodies and delete the hand-outs
    /// that named only messages gone now (a lost delete only leaves a row the next start
    /// clears).
    fn forget(&self, gone: impl IntoIterator<Item = Gone>) {
        let mut done = vec![];
        {
            let mut h = self.handouts.lock();
            for g in gone {
                self.uncache(g.body);
                if let Some(id) = g.handout {
                    if h.gone(id) {
                        done.push(id);
                    }
                }
            }
        }
        if !done.is_empty() {
            self.db.write_detached(move |c| {
                let mut st = c.prepare_cached("DELETE FROM handouts WHERE id = ?1")?;
                for id in done {
                    st.execute(params![id])?;
                }
                Ok(())
            });
        }
    }
}

const HANDOUTS_SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS handouts (id INTEGER PRIMARY KEY, ids BLOB NOT NULL)";

/// Ids as a `handouts` row holds them: 8 bytes each, little-endian.
fn encode_ids(ids: &[i64]) -> Vec<u8> {
    ids.iter().flat_map(|id| id.to_le_bytes()).collect()
}

fn decode_ids(b: &[u8]) -> impl Iterator<Item = i64> + '_ {
    b.chunks_exact(8).map(|c| {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        i64::from_le_bytes(a)
    })
}

#[async_trait]
impl Broker for EmbeddedBroker {
    async fn publish(&self, queue: &str, msg: &Message) -> Result<(), BrokerError> {
        let body = msg.to_bytes();
        let cached = self.cache(msg, body.len());
        let owner = self.owner(msg.user.as_deref().unwrap_or_default());
        let priority = msg.priority.min(3);
        let not_before = msg.not_before.unwrap_or(0);
        let qname = queue.to_string();
        let o2 = owner.clone();
        let id = self
            .db
            .write_statement(move |c| {
                let mut st = c.prepare_cached(
                    "INSERT INTO queue (queue, priority, owner, not_before, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                st.execute(params![qname, priority, &*o2, not_before, &body[..]])?;
                Ok(c.last_insert_rowid())
            })
            .await;
        let id = match id {
            Ok(id) => id,
            Err(e) => {
                self.uncache(cached);
                return Err(e.into());
            }
        };
        let notify = {
            let mut qs = self.queues.lock();
            let q = qs.entry(queue.to_string()).or_default();
            if let Some(b) = cached {
                q.bodies.insert(id, b);
            }
            q.push(id, priority, &owner, not_before, now_ms());
            q.notify.clone()
        };
        notify.notify_one();
        Ok(())
    }

    async fn wait_ready(&self, queue: &str) {
        loop {
            let notify = self.notify_of(queue);
            let notified = notify.notified();
            let next_due = {
                let mut qs = self.queues.lock();
                let q = qs.entry(queue.to_string()).or_default();
                q.promote_due(now_ms());
                if q.ready_len() > 0 {
                    return;
                }
                q.next_due()
            };
            match next_due {
                Some(due) => {
                    let wait = (due - now_ms()).max(1) as u64;
                    tokio::select! {
                        _ = notified => {}
                        _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    async fn receive(&self, queue: &str, max: usize) -> Result<Vec<Delivery>, BrokerError> {
        // (id, redelivered, body if cached): a body handed out leaves the cache.
        type Picked = (i64, bool, Option<Cached>);
        let picked: Vec<Picked> = {
            let mut qs = self.queues.lock();
            let q = qs.entry(queue.to_string()).or_default();
            q.promote_due(now_ms());
            let mut out = Vec::new();
            while out.len() < max {
                let Some((id, priority, owner)) = q.pop_ready() else {
                    break;
                };
                let mark = q.marks.remove(&id).unwrap_or_default();
                q.unacked.insert(
                    id,
                    Meta {
                        priority,
                        owner,
                        handout: mark.handout,
                    },
                );
                out.push((id, mark.redelivered, q.bodies.remove(&id)));
            }
            out
        };
        if picked.is_empty() {
            return Ok(vec![]);
        }
        let handed_bytes: usize = picked
            .iter()
            .filter_map(|(_, _, b)| b.as_ref())
            .map(|b| b.len)
            .sum();
        self.cached.fetch_sub(handed_bytes, Ordering::Relaxed);
        let ids: Vec<i64> = picked.iter().map(|(id, _, _)| *id).collect();
        let handed = encode_ids(&ids);
        let missing: Vec<i64> = picked
            .iter()
            .filter(|(_, _, b)| b.is_none())
            .map(|(id, _, _)| *id)
            .collect();
        let written = self
            .db
            .write(move |c| {
                c.prepare_cached("INSERT INTO handouts (ids) VALUES (?1)")?
                    .execute(params![handed])?;
                let handout = c.last_insert_rowid();
                let mut bodies = HashMap::with_capacity(missing.len());
                if !missing.is_empty() {
                    let mut st = c.prepare_cached("SELECT body FROM queue WHERE id = ?1")?;
                    for id in missing {
                        if let Some(b) = st
                            .query_row(params![id], |r| r.get::<_, Vec<u8>>(0))
                            .optional()?
                        {
                            bodies.insert(id, b);
                        }
                    }
                }
                Ok((handout, bodies))
            })
            .await;
        let (handout, mut bodies) = match written {
            Ok(w) => w,
            Err(e) => {
                // Put them back as they were: nothing was handed out.
                let mut qs = self.queues.lock();
                if let Some(q) = qs.get_mut(queue) {
                    for (id, redelivered, _) in &picked {
                        if let Some(m) = q.unacked.remove(id) {
                            if *redelivered || m.handout.is_some() {
                                q.marks.insert(
                                    *id,
                                    Mark {
                                        redelivered: *redelivered,
                                        handout: m.handout,
                                    },
                                );
                            }
                            q.push_ready(*id, m.priority, &m.owner);
                        }
                    }
                }
                return Err(e.into());
            }
        };
        // A message handed out again keeps the first hand-out that named it: that row stays
        // until the message is gone, and this one is only counted for the others.
        let mut named = 0;
        {
            let mut qs = self.queues.lock();
            if let Some(q) = qs.get_mut(queue) {
                for id in &ids {
                    if let Some(m) = q.unacked.get_mut(id) {
                        if m.handout.is_none() {
                            m.handout = Some(handout);
                            named += 1;
                        }
                    }
                }
            }
        }
        if named > 0 {
            self.handouts.lock().left.insert(handout, named);
        } else {
            self.db.write_detached(move |c| {
                c.prepare_cached("DELETE FROM handouts WHERE id = ?1")?
                    .execute(params![handout])?;
                Ok(())
            });
        }
        let mut out = Vec::with_capacity(picked.len());
        let mut bad = vec![];
        for (id, redelivered, body) in picked {
            let read = match body {
                Some(b) => Some(Ok(*b.message)),
                None => bodies.remove(&id).map(|b| Message::from_bytes(&b)),
            };
            match read {
                Some(Ok(message)) => out.push(Delivery {
                    tag: id as u64,
                    message,
                    redelivered,
                }),
                Some(Err(e)) => {
                    tracing::error!(queue, id, error = %e, "unreadable queue body: dropped (dead-lettered to log)");
                    bad.push(id);
                }
                None => bad.push(id),
            }
        }
        if !bad.is_empty() {
            let gone: Vec<Gone> = {
                let mut qs = self.queues.lock();
                match qs.get_mut(queue) {
                    Some(q) => bad
                        .iter()
                        .filter_map(|id| q.unacked.remove(id))
                        .map(|m| Gone {
                            body: None,
                            handout: m.handout,
                        })
                        .collect(),
                    None => vec![],
                }
            };
            let r = self
                .db
                .write(move |c| {
                    for id in bad {
                        c.execute("DELETE FROM queue WHERE id = ?1", params![id])?;
                    }
                    Ok(())
                })
                .await;
            self.forget(gone);
            if let Err(e) = r {
                tracing::error!(queue, error = %e, "could not delete unreadable queue rows");
            }
        }
        Ok(out)
    }

    async fn ack(&self, queue: &str, tag: u64) -> Result<(), BrokerError> {
        let id = self.handed_out(queue, tag)?;
        self.db
            .write_statement(move |c| {
                c.prepare_cached("DELETE FROM queue WHERE id = ?1")?
                    .execute(params![id])?;
                Ok(())
            })
            .await?;
        // Only once the row is gone does the index forget it.
        let gone = {
            let mut qs = self.queues.lock();
            qs.get_mut(queue)
                .and_then(|q| q.unacked.remove(&id))
                .map(|m| Gone {
                    body: None,
                    handout: m.handout,
                })
        };
        self.forget(gone);
        Ok(())
    }

    async fn requeue(
        &self,
        queue: &str,
        tag: u64,
        msg: &Message,
        delay: Duration,
    ) -> Result<(), BrokerError> {
        let id = self.handed_out(queue, tag)?;
        let not_before = now_ms() + delay.as_millis() as i64;
        let body = msg.to_bytes();
        let cached = self.cache(msg, body.len());
        let written = self
            .db
            .write_statement(move |c| {
                c.prepare_cached("UPDATE queue SET body = ?2, not_before = ?3 WHERE id = ?1")?
                    .execute(params![id, &body[..], not_before])?;
                Ok(())
            })
            .await;
        if let Err(e) = written {
            self.uncache(cached);
            return Err(e.into());
        }
        let notify = {
            let mut qs = self.queues.lock();
            let q = qs.entry(queue.to_string()).or_default();
            match q.unacked.remove(&id) {
                Some(m) => {
                    // Not a redelivery in this process; still named by its hand-out, so a
                    // restart flags it.
                    if m.handout.is_some() {
                        q.marks.insert(
                            id,
                            Mark {
                                redelivered: false,
                                handout: m.handout,
                            },
                        );
                    }
                    if let Some(b) = cached {
                        self.uncache(q.bodies.insert(id, b));
                    }
                    if delay.is_zero() {
                        q.push_ready(id, m.priority, &m.owner);
                    } else {
                        q.delayed
                            .push(Reverse((not_before, id, m.priority, m.owner)));
                    }
                }
                None => self.uncache(cached),
            }
            q.notify.clone()
        };
        notify.notify_one();
        Ok(())
    }

    async fn release_all(&self, queue: &str) -> Result<u64, BrokerError> {
        let notify = {
            let mut qs = self.queues.lock();
            let Some(q) = qs.get_mut(queue) else {
                return Ok(0);
            };
            let released: Vec<(i64, Meta)> = q.unacked.drain().collect();
            for (id, m) in &released {
                if m.handout.is_some() {
                    q.marks.insert(
                        *id,
                        Mark {
                            redelivered: false,
                            handout: m.handout,
                        },
                    );
                }
                q.push_ready(*id, m.priority, &m.owner);
            }
            if released.is_empty() {
                return Ok(0);
            }
            (q.notify.clone(), released.len() as u64)
        };
        notify.0.notify_one();
        Ok(notify.1)
    }

    async fn health(&self) -> Result<(), BrokerError> {
        // A real write through the writer thread and its group commit: a stuck or failed
        // writer shows, and so does a disk that is full or read-only (a read would pass).
        let probe = self
            .db
            .write_statement(|c| {
                c.prepare_cached(
                    "INSERT OR REPLACE INTO kv (key, value, expires_at) VALUES ('smsgate.health', x'01', NULL)",
                )?
                .execute([])
            })
            .await;
        // The probe is one small row: it may fit where messages no longer do (a full disk
        // still takes writes into the log's existing space). Recent failures count too.
        if let Some(why) = self.db.write_trouble() {
            return Err(BrokerError::Storage(why));
        }
        probe
            .map(|_| ())
            .map_err(|e| BrokerError::Storage(e.to_string()))
    }

    async fn stats(&self, queue: &str) -> Result<QueueStats, BrokerError> {
        let qs = self.queues.lock();
        Ok(match qs.get(queue) {
            Some(q) => QueueStats {
                ready: q.ready_len() as u64,
                delayed: q.delayed.len() as u64,
                unacked: q.unacked.len() as u64,
            },
            None => QueueStats::default(),
        })
    }

    async fn oldest(&self, queue: &str) -> Result<Option<i64>, BrokerError> {
        if self.queues.lock().get(queue).is_none() {
            return Ok(None);
        }
        // The first row in (the index `queue_by_name`): a retry keeps its row.
        let queue = queue.to_string();
        let body = self
            .db
            .write_statement(move |c| {
                c.prepare_cached("SELECT body FROM queue WHERE queue = ?1 ORDER BY id LIMIT 1")?
                    .query_row(params![queue], |r| r.get::<_, Vec<u8>>(0))
                    .optional()
            })
            .await?;
        Ok(body.and_then(|b| Message::from_bytes(&b).ok().map(|m| m.created_at)))
    }

    async fn purge(&self, queue: &str) -> Result<u64, BrokerError> {
        let (ids, gone) = {
            let mut qs = self.queues.lock();
            let Some(q) = qs.get_mut(queue) else {
                return Ok(0);
            };
            let ids: Vec<i64> = q.take_waiting().into_iter().map(|(id, _, _)| id).collect();
            let gone: Vec<Gone> = ids.iter().map(|id| q.gone_waiting(*id)).collect();
            (ids, gone)
        };
        let n = ids.len() as u64;
        let deleted = self
            .db
            .write(move |c| {
                let mut st = c.prepare_cached("DELETE FROM queue WHERE id = ?1")?;
                for id in ids {
                    st.execute(params![id])?;
                }
                Ok(())
            })
            .await;
        self.forget(gone);
        deleted?;
        Ok(n)
    }

    async fn move_all(&self, from: &str, to: &str) -> Result<u64, BrokerError> {
        if from == to {
            return Ok(0);
        }
        // (id, priority, owner, mark): their bodies change (the connector), so they leave
        // the cache and are read again when handed out.
        type Moved = (i64, u8, Arc<str>, Option<Mark>);
        let moved: Vec<Moved> = {
            let mut qs = self.queues.lock();
            let Some(q) = qs.get_mut(from) else {
                return Ok(0);
            };
            let waiting = q.take_waiting();
            let mut out = Vec::with_capacity(waiting.len());
            for (id, priority, owner) in waiting {
                self.uncache(q.bodies.remove(&id));
                out.push((id, priority, owner, q.marks.remove(&id)));
            }
            out
        };
        let n = moved.len() as u64;
        let ids: Vec<i64> = moved.iter().map(|(id, _, _, _)| *id).collect();
        let to_name = to.to_string();
        let cid = to.strip_prefix("submit.sm.").unwrap_or(to).to_string();
        self.db
            .write(move |c| {
                let mut sel = c.prepare_cached("SELECT body FROM queue WHERE id = ?1")?;
                let mut upd = c.prepare_cached(
                    "UPDATE queue SET queue = ?2, body = ?3, not_before = 0 WHERE id = ?1",
                )?;
                for id in ids {
                    let body: Vec<u8> = sel.query_row(params![id], |r| r.get(0))?;
                    let body = match Message::from_bytes(&body) {
                        Ok(mut m) => {
                            m.connector = cid.clone();
                            m.to_bytes()
                        }
                        Err(_) => body,
                    };
                    upd.execute(params![id, to_name, body])?;
                }
                Ok(())
            })
            .await?;
        let notify = {
            let mut qs = self.queues.lock();
            let q = qs.entry(to.to_string()).or_default();
            for (id, priority, owner, mark) in moved {
                if let Some(m) = mark {
                    q.marks.insert(id, m);
                }
                q.push_ready(id, priority, &owner);
            }
            q.notify.clone()
        };
        notify.notify_one();
        Ok(n)
    }

    async fn peek(&self, queue: &str, max: usize) -> Result<Vec<Message>, BrokerError> {
        let ids: Vec<i64> = {
            let qs = self.queues.lock();
            let Some(q) = qs.get(queue) else {
                return Ok(vec![]);
            };
            let mut ids: Vec<i64> = q
                .levels
                .iter()
                .flat_map(|l| l.per_owner.values().flat_map(|r| r.ids()))
                .collect();
            ids.sort_unstable();
            ids.truncate(max);
            ids
        };
        let bodies = self
            .db
            .write(move |c| {
                let mut st = c.prepare_cached("SELECT body FROM queue WHERE id = ?1")?;
                let mut out = vec![];
                for id in ids {
                    if let Ok(b) = st.query_row(params![id], |r| r.get::<_, Vec<u8>>(0)) {
                        out.push(b);
                    }
                }
                Ok(out)
            })
            .await?;
        Ok(bodies
            .iter()
            .filter_map(|b| Message::from_bytes(b).ok())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::Runs;

    #[test]
    fn runs_keep_arrival_order_and_collapse_consecutive_ids() {
        let mut r = Runs::default();
        for id in [1, 2, 3, 7, 8, 4, 9] {
            r.push(id);
        }
        assert_eq!(r.runs.len(), 4, "1-3, 7-8, 4, 9");
        assert_eq!(r.ids().collect::<Vec<_>>(), vec![1, 2, 3, 7, 8, 4, 9]);
        let mut popped = vec![];
        while let Some(id) = r.pop() {
            popped.push(id);
        }
        assert_eq!(popped, vec![1, 2, 3, 7, 8, 4, 9]);
        assert!(r.is_empty());
        // a million consecutive ids are one run
        for id in 0..1_000_000 {
            r.push(id);
        }
        assert_eq!(r.runs.len(), 1);
    }
}
