//! The [`Store`] on Redis (cluster mode): state every node shares.
//!
//! Keys live under `store.prefix` (default `smsgate:`): plain keys `kv:<key>` (TTL with `PX`),
//! balances `bal:<user>` (a hash: `b` balance, `s` sms count; an absent field is unlimited),
//! leases `lease:<name>` (holder, `PX` ttl) with a fencing counter `fence:<name>` bumped at
//! every new holder. Balance operations and leases are Lua scripts, so checks and debits are
//! atomic across nodes (no overspend). Charges and credits carry an operation id (`op:<uuid>`,
//! kept a minute) so they are retried safely when the connection drops mid-call.
//!
//! Change notifications go through pub/sub on `<prefix>changes`: every `set`, `delete` and
//! balance change publishes the key's name in the same round trip, and every node (this one
//! included) forwards what it hears to [`Store::subscribe`] receivers. When the subscription
//! is re-established after a lost connection, `*` is sent: anything may have changed meanwhile.
//!
//! Message history goes to PostgreSQL when `store.history_url` is set (see
//! [`super::history`]); otherwise records are Redis keys expiring after `message_record_ttl`.
//! Connections are re-established with backoff (redis' `ConnectionManager`); meanwhile calls
//! fail with [`StoreError::Unavailable`].

use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{AsyncCommands, Script};
use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::pg_records::PgRecords;
use super::{Balance, Charge, MessageRecord, Store, StoreError};

/// Settings of a [`RedisStore`].
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://host:port/db`.
    pub url: String,
    /// Put in front of every key and of the change channel.
    pub prefix: String,
    /// `postgres://...` for the message history.
    pub history_url: Option<String>,
    /// How long message records are kept.
    pub record_ttl: Duration,
}

/// Redis-backed store.
pub struct RedisStore {
    prefix: String,
    con: ConnectionManager,
    changes: broadcast::Sender<String>,
    history: Option<Arc<PgRecords>>,
    record_ttl: Duration,
    stop: CancellationToken,
    unlimited: Arc<Unlimited>,
    scripts: Scripts,
}

/// Users known to have an unlimited balance: their charges need no round trip. Any
/// `balance:<user>` notification (from any node) forgets the user; `gen` detects a change
/// that raced with the charge that would have cached the user.
#[derive(Default)]
struct Unlimited {
    users: parking_lot::Mutex<std::collections::HashSet<String>>,
    gen: std::sync::atomic::AtomicU64,
}

impl Unlimited {
    fn forget(&self, key: &str) {
        self.gen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match key.strip_prefix("balance:") {
            Some(u) => {
                self.users.lock().remove(u);
            }
            None if key == "*" => self.users.lock().clear(),
            None => {}
        }
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

struct Scripts {
    incr_ttl: Script,
    lease: Script,
    release: Script,
    seed: Script,
    charge: Script,
    credit: Script,
    set_balance: Script,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("redis: {e}"))
}

// Balances are stored as text of a double ('%.17g': round trips exactly).
const FMT: &str = "local function fmt(x) return string.format('%.17g', x) end\n";

/// A connection that reconnects with backoff (fails calls meanwhile), made within 10 s.
pub(crate) async fn connection_manager(
    client: &::redis::Client,
) -> Result<ConnectionManager, StoreError> {
    let mcfg = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(3)))
        .set_response_timeout(Some(Duration::from_secs(5)))
        .set_max_delay(Duration::from_secs(2))
        .set_number_of_retries(3);
    tokio::time::timeout(
        Duration::from_secs(10),
        client.get_connection_manager_with_config(mcfg),
    )
    .await
    .map_err(|_| unavailable("connect timeout"))?
    .map_err(unavailable)
}

impl RedisStore {
    /// Connect, subscribe to the change channel, and (if configured) open the history.
    pub async fn connect(cfg: RedisConfig) -> Result<Arc<RedisStore>, StoreError> {
        let client = ::redis::Client::open(cfg.url.as_str()).map_err(unavailable)?;
        let con = connection_manager(&client).await?;
        let (changes, _) = broadcast::channel(4096);
        let channel = format!("{}changes", cfg.prefix);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let stop = CancellationToken::new();
        let unlimited = Arc::new(Unlimited::default());
        tokio::spawn(listen(
            client,
            channel,
            changes.clone(),
            Some(ready_tx),
            stop.clone(),
            unlimited.clone(),
        ));
        tokio::time::timeout(Duration::from_secs(10), ready_rx)
            .await
            .map_err(|_| unavailable("subscribe timeout"))?
            .map_err(|_| unavailable("subscriber ended"))?;
        let history = match &cfg.history_url {
            Some(u) => Some(PgRecords::open(u, cfg.record_ttl).await?),
            None => None,
        };
        Ok(Arc::new(RedisStore {
            prefix: cfg.prefix,
            con,
            changes,
            history,
            record_ttl: cfg.record_ttl,
            stop,
            unlimited,
            scripts: Scripts {
                incr_ttl: Script::new(
                    "local v = redis.call('INCRBY', KEYS[1], ARGV[1])
                     if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
                     return v",
                ),
                lease: Script::new(
                    "local h = redis.call('GET', KEYS[1])
                     if h == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
                     if h then return 0 end
                     redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
                     redis.call('INCR', KEYS[2])
                     return 1",
                ),
                release: Script::new(
                    "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
                     return 1",
                ),
                seed: Script::new(&format!(
                    "{FMT}if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
                     redis.call('HSET', KEYS[1], 'x', '1')
                     if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'b', ARGV[1]) end
                     if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 's', ARGV[2]) end
                     redis.call('PUBLISH', KEYS[2], ARGV[3])
                     return 1"
                )),
                charge: Script::new(&format!(
                    "{FMT}local done = redis.call('GET', KEYS[3])
                     if done then return cjson.decode(done) end
                     local b = redis.call('HGET', KEYS[1], 'b')
                     local s = redis.call('HGET', KEYS[1], 's')
                     local amt = tonumber(ARGV[1])
                     local n = tonumber(ARGV[2])
                     local ok = 1
                     if b and tonumber(b) + 1e-9 < amt then ok = 0 end
                     if s and tonumber(s) < n then ok = 0 end
                     if ok == 1 then
                       if b then b = fmt(math.floor((tonumber(b) - amt) * 1e6 + 0.5) / 1e6); redis.call('HSET', KEYS[1], 'b', b) end
                       if s then s = tostring(tonumber(s) - n); redis.call('HSET', KEYS[1], 's', s) end
                       if b or s then redis.call('PUBLISH', KEYS[2], ARGV[3]) end
                     end
                     local res = {{ok, b or '', s or ''}}
                     redis.call('SET', KEYS[3], cjson.encode(res), 'PX', 60000)
                     return res"
                )),
                credit: Script::new(&format!(
                    "{FMT}local done = redis.call('GET', KEYS[3])
                     if done then return cjson.decode(done) end
                     local b = redis.call('HGET', KEYS[1], 'b')
                     local s = redis.call('HGET', KEYS[1], 's')
                     if b then b = fmt(math.floor((tonumber(b) + tonumber(ARGV[1])) * 1e6 + 0.5) / 1e6); redis.call('HSET', KEYS[1], 'b', b) end
                     if s then s = tostring(tonumber(s) + tonumber(ARGV[2])); redis.call('HSET', KEYS[1], 's', s) end
                     redis.call('PUBLISH', KEYS[2], ARGV[3])
                     local res = {{b or '', s or ''}}
                     redis.call('SET', KEYS[3], cjson.encode(res), 'PX', 60000)
                     return res"
                )),
                set_balance: Script::new(
                    "redis.call('DEL', KEYS[1])
                     redis.call('HSET', KEYS[1], 'x', '1')
                     if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'b', ARGV[1]) end
                     if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 's', ARGV[2]) end
                     redis.call('PUBLISH', KEYS[2], ARGV[3])
                     return 1",
                ),
            },
        }))
    }

    fn kv(&self, key: &str) -> String {
        format!("{}kv:{key}", self.prefix)
    }
    fn bal(&self, user: &str) -> String {
        format!("{}bal:{user}", self.prefix)
    }
    fn chan(&self) -> String {
        format!("{}changes", self.prefix)
    }
    /// A fresh operation id key: makes a money operation safe to retry.
    fn op_key(&self) -> String {
        format!("{}op:{}", self.prefix, uuid::Uuid::new_v4())
    }

    /// The fencing token of lease `name`: bumped every time the lease changes holder.
    pub async fn fencing_token(&self, name: &str) -> Result<i64, StoreError> {
        let mut c = self.con.clone();
        let v: Option<i64> = c
            .get(format!("{}fence:{name}", self.prefix))
            .await
            .map_err(unavailable)?;
        Ok(v.unwrap_or(0))
    }
}

fn retryable(e: &::redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

/// Run an idempotent operation, again on a lost connection (Redis restarting) for up to 3 s,
/// so that a brief outage costs latency instead of lost DLR maps or configuration writes.
/// Operations that are not idempotent (counters, charges, credits) are never retried.
async fn idempotent<T, F, Fut>(con: &ConnectionManager, f: F) -> Result<T, StoreError>
where
    F: Fn(ConnectionManager) -> Fut,
    Fut: std::future::Future<Output = ::redis::RedisResult<T>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let mut delay = Duration::from_millis(50);
    loop {
        match f(con.clone()).await {
            Ok(v) => return Ok(v),
            Err(e) if retryable(&e) && std::time::Instant::now() + delay < deadline => {
                tracing::debug!(error = %e, "redis: retrying an idempotent operation");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_millis(500));
            }
            Err(e) => return Err(unavailable(e)),
        }
    }
}

/// Forward the change channel to `tx`, resubscribing after a lost connection.
async fn listen(
    client: ::redis::Client,
    channel: String,
    tx: broadcast::Sender<String>,
    mut ready: Option<tokio::sync::oneshot::Sender<()>>,
    stop: CancellationToken,
    unlimited: Arc<Unlimited>,
) {
    let mut delay = Duration::from_millis(100);
    loop {
        let sub = async {
            let mut ps = client.get_async_pubsub().await?;
            ps.subscribe(&channel).await?;
            Ok::<_, ::redis::RedisError>(ps)
        };
        match tokio::time::timeout(Duration::from_secs(5), sub).await {
            Ok(Ok(ps)) => {
                delay = Duration::from_millis(100);
                match ready.take() {
                    Some(r) => {
                        let _ = r.send(());
                    }
                    None => {
                        tracing::info!("redis change channel subscribed again");
                        unlimited.forget("*");
                        let _ = tx.send("*".into());
                    }
                }
                let mut stream = ps.into_on_message();
                loop {
                    let m = tokio::select! {
                        m = stream.next() => m,
                        _ = stop.cancelled() => return,
                    };
                    let Some(m) = m else { break };
                    if let Ok(k) = m.get_payload::<String>() {
                        if k.starts_with("balance:") {
                            unlimited.forget(&k);
                        }
                        let _ = tx.send(k);
                    }
                }
                tracing::warn!("redis change channel lost");
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "redis subscribe failed"),
            Err(_) => tracing::warn!("redis subscribe timed out"),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.cancelled() => return,
        }
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

fn opt_f(s: &str) -> Option<f64> {
    if s.is_empty() {
        None
    } else {
        s.parse().ok()
    }
}
fn opt_i(s: &str) -> Option<i64> {
    if s.is_empty() {
        None
    } else {
        s.parse().ok()
    }
}
fn fmt_f(v: Option<f64>) -> String {
    v.map(|x| format!("{x:?}")).unwrap_or_default()
}
fn fmt_i(v: Option<i64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

#[async_trait]
impl Store for RedisStore {
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StoreError> {
        let (k, chan) = (self.kv(key), self.chan());
        let (k, chan) = (&k, &chan);
        idempotent(&self.con, |mut c| async move {
            let mut p = ::redis::pipe();
            p.atomic();
            match ttl {
                Some(t) => p
                    .cmd("SET")
                    .arg(k)
                    .arg(value)
                    .arg("PX")
                    .arg(t.as_millis().max(1) as u64)
                    .ignore(),
                None => p.cmd("SET").arg(k).arg(value).ignore(),
            };
            p.cmd("PUBLISH").arg(chan).arg(key).ignore();
            p.query_async::<()>(&mut c).await
        })
        .await
    }

    async fn replace(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let k = self.kv(key);
        let k = &k;
        // SET ... GET (Redis 6.2): one round trip, atomic.
        idempotent(&self.con, |mut c| async move {
            let mut cmd = ::redis::cmd("SET");
            cmd.arg(k).arg(value);
            if let Some(t) = ttl {
                cmd.arg("PX").arg(t.as_millis().max(1) as u64);
            }
            cmd.arg("GET");
            cmd.query_async::<Option<Vec<u8>>>(&mut c).await
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let k = self.kv(key);
        let k = &k;
        idempotent(&self.con, |mut c| async move { c.get(k).await }).await
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let (k, chan) = (self.kv(key), self.chan());
        let (k, chan) = (&k, &chan);
        let (n,): (i64,) = idempotent(&self.con, |mut c| async move {
            ::redis::pipe()
                .atomic()
                .cmd("DEL")
                .arg(k)
                .cmd("PUBLISH")
                .arg(chan)
                .arg(key)
                .ignore()
                .query_async(&mut c)
                .await
        })
        .await?;
        Ok(n > 0)
    }

    async fn incr(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        let mut c = self.con.clone();
        c.incr(self.kv(key), delta).await.map_err(unavailable)
    }

    async fn incr_ttl(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, StoreError> {
        let mut c = self.con.clone();
        self.scripts
            .incr_ttl
            .key(self.kv(key))
            .arg(delta)
            .arg(ttl.as_millis().max(1) as u64)
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)
    }

    async fn try_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        let (l, f) = (
            format!("{}lease:{name}", self.prefix),
            format!("{}fence:{name}", self.prefix),
        );
        let (l, f, script) = (&l, &f, &self.scripts.lease);
        let r: i64 = idempotent(&self.con, |mut c| async move {
            script
                .key(l)
                .key(f)
                .arg(holder)
                .arg(ttl.as_millis().max(1) as u64)
                .invoke_async(&mut c)
                .await
        })
        .await?;
        Ok(r == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let l = format!("{}lease:{name}", self.prefix);
        let (l, script) = (&l, &self.scripts.release);
        let _: i64 = idempotent(&self.con, |mut c| async move {
            script.key(l).arg(holder).invoke_async(&mut c).await
        })
        .await?;
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<String> {
        self.changes.subscribe()
    }

    async fn balance_seed(&self, user: &str, initial: Balance) -> Result<bool, StoreError> {
        let mut c = self.con.clone();
        let r: i64 = self
            .scripts
            .seed
            .key(self.bal(user))
            .key(self.chan())
            .arg(fmt_f(initial.balance))
            .arg(fmt_i(initial.sms_count))
            .arg(format!("balance:{user}"))
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(r == 1)
    }

    async fn balance_get(&self, user: &str) -> Result<Balance, StoreError> {
        let k = self.bal(user);
        let k = &k;
        let (b, s): (Option<String>, Option<String>) = idempotent(&self.con, |mut c| async move {
            ::redis::pipe()
                .hget(k, "b")
                .hget(k, "s")
                .query_async(&mut c)
                .await
        })
        .await?;
        Ok(Balance {
            balance: b.as_deref().and_then(opt_f),
            sms_count: s.as_deref().and_then(opt_i),
        })
    }

    async fn balance_charge(
        &self,
        user: &str,
        amount: f64,
        sms: i64,
    ) -> Result<Charge, StoreError> {
        use std::sync::atomic::Ordering;
        if self.unlimited.users.lock().contains(user) {
            return Ok(Charge::Done(Balance::default()));
        }
        let gen = self.unlimited.gen.load(Ordering::SeqCst);
        // Retried on a lost connection with the same operation id: the script answers a
        // repeated id with the first result, so a retry never charges twice.
        let (k, chan, op) = (self.bal(user), self.chan(), self.op_key());
        let (k, chan, op, script) = (&k, &chan, &op, &self.scripts.charge);
        let (ok, b, s): (i64, String, String) = idempotent(&self.con, |mut c| async move {
            script
                .key(k)
                .key(chan)
                .key(op)
                .arg(format!("{amount:?}"))
                .arg(sms)
                .arg(format!("balance:{user}"))
                .invoke_async(&mut c)
                .await
        })
        .await?;
        let bal = Balance {
            balance: opt_f(&b),
            sms_count: opt_i(&s),
        };
        if bal.unlimited() && self.unlimited.gen.load(Ordering::SeqCst) == gen {
            self.unlimited.users.lock().insert(user.to_string());
        }
        Ok(if ok == 1 {
            Charge::Done(bal)
        } else {
            Charge::Insufficient(bal)
        })
    }

    async fn balance_credit(
        &self,
        user: &str,
        amount: f64,
        sms: i64,
    ) -> Result<Balance, StoreError> {
        let (k, chan, op) = (self.bal(user), self.chan(), self.op_key());
        let (k, chan, op, script) = (&k, &chan, &op, &self.scripts.credit);
        let (b, s): (String, String) = idempotent(&self.con, |mut c| async move {
            script
                .key(k)
                .key(chan)
                .key(op)
                .arg(format!("{amount:?}"))
                .arg(sms)
                .arg(format!("balance:{user}"))
                .invoke_async(&mut c)
                .await
        })
        .await?;
        Ok(Balance {
            balance: opt_f(&b),
            sms_count: opt_i(&s),
        })
    }

    async fn balance_set(&self, user: &str, value: Balance) -> Result<(), StoreError> {
        let mut c = self.con.clone();
        let _: i64 = self
            .scripts
            .set_balance
            .key(self.bal(user))
            .key(self.chan())
            .arg(fmt_f(value.balance))
            .arg(fmt_i(value.sms_count))
            .arg(format!("balance:{user}"))
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn record(&self, rec: MessageRecord) -> Result<(), StoreError> {
        if let Some(h) = &self.history {
            return h.record(&rec).await;
        }
        let body = serde_json::to_vec(&rec).map_err(|e| StoreError::Storage(e.to_string()))?;
        let mut c = self.con.clone();
        c.pset_ex::<_, _, ()>(
            format!("{}rec:{}", self.prefix, rec.id),
            body,
            self.record_ttl.as_millis().max(1) as u64,
        )
        .await
        .map_err(unavailable)
    }

    async fn record_get(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        if let Some(h) = &self.history {
            return h.get(id).await;
        }
        let k = format!("{}rec:{id}", self.prefix);
        let k = &k;
        let v: Option<Vec<u8>> =
            idempotent(&self.con, |mut c| async move { c.get(k).await }).await?;
        match v {
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| StoreError::Storage(e.to_string())),
            None => Ok(None),
        }
    }
}
