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

#[derive(Clone)]
struct Meta {
    priority: u8,
    owner: Arc<str>,
    redelivered: bool,
    /// The body, while it is in the cache.
    body: Option<Arc<[u8]>>,
    /// The `handouts` row naming this message, once it was handed out.
    handout: Option<i64>,
}

#[derive(Default)]
struct Level {
    rr: VecDeque<Arc<str>>,
    per_owner: HashMap<Arc<str>, VecDeque<i64>>,
    len: usize,
}

impl Level {
    fn push(&mut self, owner: &Arc<str>, id: i64) {
        let q = self.per_owner.entry(owner.clone()).or_default();
        if q.is_empty() {
            self.rr.push_back(owner.clone());
        }
        q.push_back(id);
        self.len += 1;
    }
    fn pop(&mut self) -> Option<i64> {
        let owner = self.rr.pop_front()?;
        let q = self.per_owner.get_mut(&owner)?;
        let id = q.pop_front();
        if q.is_empty() {
            self.per_owner.remove(&owner);
        } else {
            self.rr.push_back(owner);
        }
        if id.is_some() {
            self.len -= 1;
        }
        id
    }
    fn drain_ids(&mut self) -> Vec<i64> {
        let mut out = Vec::with_capacity(self.len);
        while let Some(id) = self.pop() {
            out.push(id);
        }
        out
    }
}

#[derive(Default)]
struct QueueState {
    levels: [Level; 4],
    delayed: BinaryHeap<Reverse<(i64, i64)>>,
    meta: HashMap<i64, Meta>,
    unacked: HashSet<i64>,
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

impl QueueState {
    fn push_ready(&mut self, id: i64) {
        if let Some(m) = self.meta.get(&id) {
            let p = (m.priority.min(3)) as usize;
            let owner = m.owner.clone();
            self.levels[3 - p].push(&owner, id);
        }
    }
    fn promote_due(&mut self, now: i64) {
        while let Some(Reverse((nb, id))) = self.delayed.peek().copied() {
            if nb > now {
                break;
            }
            self.delayed.pop();
            self.push_ready(id);
        }
    }
    fn ready_len(&self) -> usize {
        self.levels.iter().map(|l| l.len).sum()
    }
    fn pop_ready(&mut self) -> Option<i64> {
        self.levels.iter_mut().find_map(|l| l.pop())
    }
    fn next_due(&self) -> Option<i64> {
        self.delayed.peek().map(|Reverse((nb, _))| *nb)
    }
    /// Ready and delayed ids (not handed out), removed from the index.
    fn take_waiting(&mut self) -> Vec<i64> {
        let mut ids = vec![];
        for l in self.levels.iter_mut() {
            ids.extend(l.drain_ids());
        }
        ids.extend(self.delayed.drain().map(|Reverse((_, id))| id));
        ids
    }
}

/// The embedded broker.
pub struct EmbeddedBroker {
    db: Db,
    queues: Mutex<HashMap<String, QueueState>>,
    handouts: Mutex<Handouts>,
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
        type Row = (i64, String, u8, String, i64, i64);
        let rows: Vec<Row> = db
            .write(|c| {
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
                let mut st = c.prepare(
                    "SELECT id, queue, priority, owner, not_before, deliveries FROM queue ORDER BY id",
                )?;
                let rows = st
                    .query_map([], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await?;
        let broker = EmbeddedBroker {
            db,
            queues: Mutex::new(HashMap::new()),
            handouts: Mutex::new(Handouts::default()),
            cached: AtomicUsize::new(0),
            cache_limit: body_cache_bytes,
        };
        let now = now_ms();
        let mut redelivered = 0usize;
        {
            let mut qs = broker.queues.lock();
            let mut owners: HashMap<String, Arc<str>> = HashMap::new();
            for (id, queue, priority, owner, not_before, deliveries) in rows {
                let owner = owners
                    .entry(owner.clone())
                    .or_insert_with(|| Arc::from(owner.as_str()))
                    .clone();
                let q = qs.entry(queue).or_default();
                if deliveries > 0 {
                    redelivered += 1;
                }
                q.meta.insert(
                    id,
                    Meta {
                        priority,
                        owner,
                        redelivered: deliveries > 0,
                        body: None,
                        handout: None,
                    },
                );
                if not_before > now {
                    q.delayed.push(Reverse((not_before, id)));
                } else {
                    q.push_ready(id);
                }
            }
            for (name, q) in qs.iter() {
                tracing::info!(queue = %name, ready = q.ready_len(), delayed = q.delayed.len(), "queue recovered");
            }
        }
        if redelivered > 0 {
            tracing::warn!(
                redelivered,
                "messages were handed out before the last stop without an answer: they will be sent again (possible duplicates)"
            );
        }
        Ok(Arc::new(broker))
    }

    /// The row id of a delivery currently handed out on `queue`.
    fn handed_out(&self, queue: &str, tag: u64) -> Result<i64, BrokerError> {
        let id = tag as i64;
        let qs = self.queues.lock();
        match qs.get(queue) {
            Some(q) if q.unacked.contains(&id) => Ok(id),
            _ => Err(BrokerError::UnknownTag(tag)),
        }
    }

    fn notify_of(&self, queue: &str) -> Arc<Notify> {
        let mut qs = self.queues.lock();
        qs.entry(queue.to_string()).or_default().notify.clone()
    }

    /// `body`, shared, if the cache has room for it (counted as cached then).
    fn cache(&self, body: &Arc<[u8]>) -> Option<Arc<[u8]>> {
        let n = body.len();
        self.cached
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                (c + n <= self.cache_limit).then_some(c + n)
            })
            .ok()
            .map(|_| body.clone())
    }

    fn uncache(&self, body: Option<Arc<[u8]>>) {
        if let Some(b) = body {
            self.cached.fetch_sub(b.len(), Ordering::Relaxed);
        }
    }

    /// The messages `metas` left their queue for good: uncache their bodies and delete the
    /// hand-outs that named only messages gone now (a lost delete only leaves a row the next
    /// start clears).
    fn forget(&self, metas: impl IntoIterator<Item = Meta>) {
        let mut done = vec![];
        {
            let mut h = self.handouts.lock();
            for m in metas {
                self.uncache(m.body);
                if let Some(id) = m.handout {
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
        let body: Arc<[u8]> = msg.to_bytes().into();
        let cached = self.cache(&body);
        let owner = msg.user.clone().unwrap_or_default();
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
                st.execute(params![qname, priority, o2, not_before, &body[..]])?;
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
            q.meta.insert(
                id,
                Meta {
                    priority,
                    owner: Arc::from(owner.as_str()),
                    redelivered: false,
                    body: cached,
                    handout: None,
                },
            );
            if not_before > now_ms() {
                q.delayed.push(Reverse((not_before, id)));
            } else {
                q.push_ready(id);
            }
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
        type Picked = (i64, bool, Option<Arc<[u8]>>);
        let picked: Vec<Picked> = {
            let mut qs = self.queues.lock();
            let q = qs.entry(queue.to_string()).or_default();
            q.promote_due(now_ms());
            let mut out = Vec::new();
            while out.len() < max {
                match q.pop_ready() {
                    Some(id) => {
                        q.unacked.insert(id);
                        let (redelivered, body) = match q.meta.get_mut(&id) {
                            Some(m) => (m.redelivered, m.body.take()),
                            None => (false, None),
                        };
                        out.push((id, redelivered, body));
                    }
                    None => break,
                }
            }
            out
        };
        if picked.is_empty() {
            return Ok(vec![]);
        }
        for (_, _, body) in &picked {
            self.uncache(body.clone());
        }
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
                // Put them back: nothing was handed out.
                let mut qs = self.queues.lock();
                if let Some(q) = qs.get_mut(queue) {
                    for id in &ids {
                        q.unacked.remove(id);
                        q.push_ready(*id);
                    }
                }
                return Err(e.into());
            }
        };
        {
            let mut qs = self.queues.lock();
            if let Some(q) = qs.get_mut(queue) {
                for id in &ids {
                    if let Some(m) = q.meta.get_mut(id) {
                        m.handout = Some(handout);
                    }
                }
            }
            self.handouts.lock().left.insert(handout, ids.len());
        }
        let mut out = Vec::with_capacity(picked.len());
        let mut bad = vec![];
        for (id, redelivered, body) in picked {
            let read = match &body {
                Some(b) => Some(Message::from_bytes(b)),
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
            let gone: Vec<Meta> = {
                let mut qs = self.queues.lock();
                match qs.get_mut(queue) {
                    Some(q) => bad
                        .iter()
                        .filter_map(|id| {
                            q.unacked.remove(id);
                            q.meta.remove(id)
                        })
                        .collect(),
                    None => vec![],
                }
            };
            self.forget(gone);
            let r = self
                .db
                .write(move |c| {
                    for id in bad {
                        c.execute("DELETE FROM queue WHERE id = ?1", params![id])?;
                    }
                    Ok(())
                })
                .await;
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
            qs.get_mut(queue).and_then(|q| {
                q.unacked.remove(&id);
                q.meta.remove(&id)
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
        let body: Arc<[u8]> = msg.to_bytes().into();
        let cached = self.cache(&body);
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
            q.unacked.remove(&id);
            match q.meta.get_mut(&id) {
                Some(m) => {
                    m.redelivered = false;
                    self.uncache(std::mem::replace(&mut m.body, cached));
                }
                None => self.uncache(cached),
            }
            if delay.is_zero() {
                q.push_ready(id);
            } else {
                q.delayed.push(Reverse((not_before, id)));
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
            let ids: Vec<i64> = q.unacked.drain().collect();
            for id in &ids {
                q.push_ready(*id);
            }
            if ids.is_empty() {
                return Ok(0);
            }
            (q.notify.clone(), ids.len() as u64)
        };
        notify.0.notify_one();
        Ok(notify.1)
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

    async fn purge(&self, queue: &str) -> Result<u64, BrokerError> {
        let (ids, gone) = {
            let mut qs = self.queues.lock();
            let Some(q) = qs.get_mut(queue) else {
                return Ok(0);
            };
            let ids = q.take_waiting();
            let gone: Vec<Meta> = ids.iter().filter_map(|id| q.meta.remove(id)).collect();
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
        let moved: Vec<(i64, Meta)> = {
            let mut qs = self.queues.lock();
            let Some(q) = qs.get_mut(from) else {
                return Ok(0);
            };
            let ids = q.take_waiting();
            ids.into_iter()
                .filter_map(|id| q.meta.remove(&id).map(|m| (id, m)))
                .collect()
        };
        // Their bodies change (the connector): read again from disk when handed out.
        let moved: Vec<(i64, Meta)> = moved
            .into_iter()
            .map(|(id, mut m)| {
                self.uncache(m.body.take());
                (id, m)
            })
            .collect();
        let n = moved.len() as u64;
        let ids: Vec<i64> = moved.iter().map(|(id, _)| *id).collect();
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
            for (id, m) in moved {
                q.meta.insert(id, m);
                q.push_ready(id);
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
                .flat_map(|l| l.per_owner.values().flat_map(|v| v.iter().copied()))
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
