//! The [`Broker`] on RabbitMQ (AMQP 0.9.1, lapin): cluster mode.
//!
//! Topology (Jasmin's names, so an operator's consumers find the same routing keys): a durable
//! topic exchange `messaging`; one durable queue per logical queue, named and bound with the
//! logical name as routing key (`submit.sm.<cid>`, `dlr_thrower.http`,
//! `deliver_sm_thrower.smpps.<user>`, ...). `broker.prefix` is put in front of the exchange and
//! queue names (not of the routing keys) so that deployments or tests can share a RabbitMQ.
//!
//! - Messages are persistent, published with `mandatory` and publisher confirms; `publish`
//!   returns only once RabbitMQ confirmed (so `Success`/`ESME_ROK` means stored).
//! - Each consumed queue has its own channel with a bounded prefetch (`broker.prefetch`).
//!   Deliveries wait in a local buffer until the application `receive`s them; `receive` hands
//!   them out by priority (3 first) and, within a priority, round-robin over users. A delivery
//!   is acked only when the application acks it; if this process or its connection dies,
//!   RabbitMQ requeues every unacked delivery (flagged `redelivered`) for another consumer.
//! - A delayed requeue is a republish to `smsgate.delay.<ms>.<queue>` (message TTL, dead-lettered
//!   back to the exchange with the queue's routing key), acked only after that publish is
//!   confirmed: no nack-requeue (which counts against quorum queues' delivery limit) and no
//!   delayed-message plugin needed.
//! - `release_all` closes the queue's consumer channel: RabbitMQ requeues what it held and
//!   other nodes can take it.
//! - The connection is re-established with exponential backoff (up to 5 s); meanwhile
//!   operations fail with [`BrokerError::Unavailable`].

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions,
    BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use tokio::sync::Notify;

use super::{Broker, BrokerError, Delivery, QueueStats};
use smsgate_core::model::Message;

/// Settings of an [`AmqpBroker`].
#[derive(Debug, Clone)]
pub struct AmqpConfig {
    /// `amqp://user:pass@host:port/vhost`.
    pub url: String,
    /// Put in front of the exchange and queue names.
    pub prefix: String,
    /// Deliveries held at most per consumed queue.
    pub prefetch: u16,
    /// Quorum queues instead of classic ones.
    pub quorum: bool,
    /// Publishing channels.
    pub publish_channels: usize,
    /// Publish Jasmin's informational routing keys ([`super::events`]).
    pub events: bool,
}

impl AmqpConfig {
    /// From the `[broker]` section (`url` must be set).
    pub fn from_config(c: &smsgate_core::config::BrokerConfig) -> Option<AmqpConfig> {
        Some(AmqpConfig {
            url: c.url.clone()?,
            prefix: c.prefix.clone(),
            prefetch: c.prefetch.max(1),
            quorum: c.queue_type == smsgate_core::config::QueueType::Quorum,
            publish_channels: c.publish_channels.clamp(1, 64),
            events: c.events,
        })
    }
}

/// The exchange the gateway's queues are bound to (Jasmin's).
pub const EXCHANGE: &str = "messaging";
/// The exchange of billing events (Jasmin's).
pub const BILLING_EXCHANGE: &str = "billing";

/// Events waiting to be published at most; more are dropped (and counted).
const EVENT_BACKLOG: usize = 65_536;

/// How long a publish whose confirmation was lost is tried again on new connections.
pub const REPUBLISH_WITHIN: Duration = Duration::from_secs(10);

struct Conn {
    connection: Connection,
    publish: Vec<Channel>,
    /// Events: no publisher confirms.
    events: Channel,
    rr: AtomicUsize,
    ops: tokio::sync::Mutex<Channel>,
    declared: parking_lot::Mutex<HashSet<String>>,
    /// Routing keys whose publishes are being nacked, since when (see [`NACKED_RECONNECT`]).
    nacked: parking_lot::Mutex<HashMap<String, Instant>>,
    /// Whether `nacked` has entries: an acked publish looks at it without the lock.
    nacking: std::sync::atomic::AtomicBool,
}

/// Publishes to one queue nacked for this long on one connection (and none acked meanwhile)
/// make the broker reconnect. After a RabbitMQ node of a cluster died, a quorum queue kept
/// nacking the channels that had published to it during the failover, although it had a new
/// leader and took publishes on fresh channels (RabbitMQ 3.10, in the fault suite).
const NACKED_RECONNECT: Duration = Duration::from_secs(5);

impl Conn {
    fn alive(&self) -> bool {
        self.connection.status().connected()
    }
}

struct Buffered {
    amqp_tag: u64,
    redelivered: bool,
    msg: Message,
}

struct Held {
    amqp_tag: u64,
    channel: Channel,
}

#[derive(Default)]
struct QState {
    consumer: Option<(Channel, u64, tokio::task::JoinHandle<()>)>,
    gen: u64,
    buffer: VecDeque<Buffered>,
    held: HashMap<u64, Held>,
    delays: BTreeSet<u64>,
}

struct Q {
    state: parking_lot::Mutex<QState>,
    notify: Notify,
    starting: tokio::sync::Mutex<()>,
}

struct Backoff {
    next_try: Option<Instant>,
    delay: Duration,
}

/// RabbitMQ-backed broker.
pub struct AmqpBroker {
    me: std::sync::Weak<AmqpBroker>,
    cfg: AmqpConfig,
    exchange: String,
    current: parking_lot::RwLock<Option<Arc<Conn>>>,
    connecting: tokio::sync::Mutex<()>,
    backoff: parking_lot::Mutex<Backoff>,
    /// The index in `broker.url` of the node connected last.
    preferred: AtomicUsize,
    queues: parking_lot::Mutex<HashMap<String, Arc<Q>>>,
    next_tag: AtomicU64,
    events: Option<tokio::sync::mpsc::Sender<super::events::Event>>,
    /// Events dropped (backlog full or RabbitMQ unreachable).
    pub events_dropped: AtomicU64,
}

/// The node URLs of `broker.url`: one, or several separated by commas or spaces.
pub fn broker_urls(url: &str) -> Vec<&str> {
    url.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect()
}

fn unavailable(e: impl std::fmt::Display) -> BrokerError {
    BrokerError::Unavailable(e.to_string())
}

impl AmqpBroker {
    /// Connect (the first connection must succeed, so a wrong URL fails at start).
    pub async fn connect(cfg: AmqpConfig) -> Result<Arc<AmqpBroker>, BrokerError> {
        let (events, events_rx) = if cfg.events {
            let (tx, rx) = tokio::sync::mpsc::channel(EVENT_BACKLOG);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let b = Arc::new_cyclic(|me| AmqpBroker {
            me: me.clone(),
            exchange: format!("{}{EXCHANGE}", cfg.prefix),
            cfg,
            current: parking_lot::RwLock::new(None),
            connecting: tokio::sync::Mutex::new(()),
            backoff: parking_lot::Mutex::new(Backoff {
                next_try: None,
                delay: Duration::from_millis(100),
            }),
            preferred: AtomicUsize::new(0),
            queues: parking_lot::Mutex::new(HashMap::new()),
            next_tag: AtomicU64::new(1),
            events,
            events_dropped: AtomicU64::new(0),
        });
        b.conn().await?;
        if let Some(rx) = events_rx {
            tokio::spawn(Self::publish_events(Arc::downgrade(&b), rx));
        }
        Ok(b)
    }

    /// Publish events until the broker is dropped: unconfirmed, non-persistent, not
    /// `mandatory` (an event nobody binds is discarded by RabbitMQ).
    async fn publish_events(
        me: std::sync::Weak<AmqpBroker>,
        mut rx: tokio::sync::mpsc::Receiver<super::events::Event>,
    ) {
        use super::events::Exchange;
        while let Some(ev) = rx.recv().await {
            let Some(b) = me.upgrade() else { return };
            let Ok(body) = serde_json::to_vec(&ev.body) else {
                continue;
            };
            let exchange = match ev.exchange {
                Exchange::Messaging => b.exchange.clone(),
                Exchange::Billing => format!("{}{BILLING_EXCHANGE}", b.cfg.prefix),
            };
            let sent = match b.conn().await {
                Ok(c) => c
                    .events
                    .basic_publish(
                        exchange.as_str().into(),
                        ev.routing_key.as_str().into(),
                        BasicPublishOptions::default(),
                        &body,
                        BasicProperties::default()
                            .with_content_type("application/json".into())
                            .with_delivery_mode(1),
                    )
                    .await
                    .is_ok(),
                Err(_) => false,
            };
            if !sent {
                b.events_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Close the connection now, without acking anything (tests: a consumer that dies).
    /// RabbitMQ requeues every unacked delivery; the next operation reconnects.
    pub async fn disconnect(&self) {
        let c = self.current.write().take();
        if let Some(c) = c {
            let _ = c.connection.close(320, "disconnect".into()).await;
        }
        let qs: Vec<Arc<Q>> = self.queues.lock().values().cloned().collect();
        for q in qs {
            let mut st = q.state.lock();
            if let Some((_, _, task)) = st.consumer.take() {
                task.abort();
            }
            st.buffer.clear();
            st.held.clear();
            drop(st);
            q.notify.notify_waiters();
        }
    }

    /// Delete queues (and their delay queues of `delays_ms`) with everything in them:
    /// operators' and tests' cleanup. Returns how many messages went with them.
    pub async fn delete_queues(
        &self,
        queues: &[&str],
        delays_ms: &[u64],
    ) -> Result<u64, BrokerError> {
        let c = self.conn().await?;
        let ops = c.ops.lock().await;
        let mut n = 0;
        for q in queues {
            let mut names = vec![self.amqp_name(q)];
            names.extend(delays_ms.iter().map(|ms| self.delay_name(q, *ms)));
            for name in names {
                n += ops
                    .queue_delete(
                        name.as_str().into(),
                        lapin::options::QueueDeleteOptions::default(),
                    )
                    .await
                    .map_err(unavailable)? as u64;
                c.declared.lock().remove(&name);
            }
        }
        Ok(n)
    }

    fn amqp_name(&self, queue: &str) -> String {
        format!("{}{queue}", self.cfg.prefix)
    }

    fn delay_name(&self, queue: &str, ms: u64) -> String {
        format!("{}smsgate.delay.{ms}.{queue}", self.cfg.prefix)
    }

    fn q(&self, queue: &str) -> Arc<Q> {
        self.queues
            .lock()
            .entry(queue.to_string())
            .or_insert_with(|| {
                Arc::new(Q {
                    state: parking_lot::Mutex::new(QState::default()),
                    notify: Notify::new(),
                    starting: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }

    /// The live connection, reconnecting (with backoff) when it is gone.
    async fn conn(&self) -> Result<Arc<Conn>, BrokerError> {
        if let Some(c) = self.current.read().as_ref() {
            if c.alive() {
                return Ok(c.clone());
            }
        }
        let _g = self.connecting.lock().await;
        if let Some(c) = self.current.read().as_ref() {
            if c.alive() {
                return Ok(c.clone());
            }
        }
        {
            let b = self.backoff.lock();
            if let Some(t) = b.next_try {
                if Instant::now() < t {
                    return Err(BrokerError::Unavailable(
                        "RabbitMQ unreachable (reconnecting)".into(),
                    ));
                }
            }
        }
        match self.open().await {
            Ok(c) => {
                let c = Arc::new(c);
                *self.current.write() = Some(c.clone());
                *self.backoff.lock() = Backoff {
                    next_try: None,
                    delay: Duration::from_millis(100),
                };
                tracing::info!("connected to RabbitMQ");
                Ok(c)
            }
            Err(e) => {
                let mut b = self.backoff.lock();
                b.next_try = Some(Instant::now() + b.delay);
                b.delay = (b.delay * 2).min(Duration::from_secs(5));
                tracing::warn!(error = %e, retry_in = ?b.delay, "RabbitMQ connection failed");
                Err(e)
            }
        }
    }

    /// Connect to the first node of `broker.url` that answers, starting with the one that
    /// answered last (a cluster's nodes, when several are listed).
    async fn open(&self) -> Result<Conn, BrokerError> {
        let urls = broker_urls(&self.cfg.url);
        let start = self.preferred.load(Ordering::Relaxed);
        let mut last = unavailable("no broker.url");
        for k in 0..urls.len() {
            let i = (start + k) % urls.len();
            match self.open_at(urls[i]).await {
                Ok(c) => {
                    if i != start {
                        tracing::info!(
                            node = i + 1,
                            of = urls.len(),
                            "RabbitMQ: connected to another node of broker.url"
                        );
                    }
                    self.preferred.store(i, Ordering::Relaxed);
                    return Ok(c);
                }
                Err(e) => {
                    if urls.len() > 1 {
                        tracing::warn!(node = i + 1, of = urls.len(), error = %e, "RabbitMQ node unreachable, trying the next");
                    }
                    last = e;
                }
            }
        }
        Err(last)
    }

    async fn open_at(&self, url: &str) -> Result<Conn, BrokerError> {
        let connection = tokio::time::timeout(
            Duration::from_secs(5),
            Connection::connect(
                url,
                ConnectionProperties::default().with_connection_name("smsgate".into()),
            ),
        )
        .await
        .map_err(|_| unavailable("connect timeout"))?
        .map_err(unavailable)?;
        let ops = connection.create_channel().await.map_err(unavailable)?;
        ops.confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(unavailable)?;
        ops.exchange_declare(
            self.exchange.as_str().into(),
            lapin::ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(unavailable)?;
        ops.exchange_declare(
            format!("{}{BILLING_EXCHANGE}", self.cfg.prefix)
                .as_str()
                .into(),
            lapin::ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(unavailable)?;
        let events = connection.create_channel().await.map_err(unavailable)?;
        let mut publish = vec![];
        for _ in 0..self.cfg.publish_channels {
            let ch = connection.create_channel().await.map_err(unavailable)?;
            ch.confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(unavailable)?;
            publish.push(ch);
        }
        Ok(Conn {
            connection,
            publish,
            events,
            rr: AtomicUsize::new(0),
            ops: tokio::sync::Mutex::new(ops),
            declared: parking_lot::Mutex::new(HashSet::new()),
            nacked: parking_lot::Mutex::new(HashMap::new()),
            nacking: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn queue_args(&self) -> FieldTable {
        let mut a = FieldTable::default();
        if self.cfg.quorum {
            a.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
        } else {
            a.insert("x-max-priority".into(), AMQPValue::LongInt(3));
        }
        a
    }

    fn delay_args(&self, queue: &str, ms: u64) -> FieldTable {
        let mut a = FieldTable::default();
        a.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ms as i64));
        a.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(self.exchange.as_str().into()),
        );
        a.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(queue.into()),
        );
        if self.cfg.quorum {
            a.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
            a.insert(
                "x-dead-letter-strategy".into(),
                AMQPValue::LongString("at-least-once".into()),
            );
            a.insert(
                "x-overflow".into(),
                AMQPValue::LongString("reject-publish".into()),
            );
        }
        a
    }

    /// Declare (durably) and bind `queue`; returns its ready count.
    async fn declare(&self, c: &Conn, queue: &str) -> Result<u64, BrokerError> {
        let name = self.amqp_name(queue);
        let ops = c.ops.lock().await;
        let q = ops
            .queue_declare(
                name.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                self.queue_args(),
            )
            .await
            .map_err(unavailable)?;
        if !c.declared.lock().contains(&name) {
            ops.queue_bind(
                name.as_str().into(),
                self.exchange.as_str().into(),
                queue.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
            c.declared.lock().insert(name);
        }
        Ok(q.message_count() as u64)
    }

    async fn ensure_declared(&self, c: &Conn, queue: &str) -> Result<(), BrokerError> {
        if c.declared.lock().contains(&self.amqp_name(queue)) {
            return Ok(());
        }
        self.declare(c, queue).await.map(|_| ())
    }

    async fn declare_delay(&self, c: &Conn, queue: &str, ms: u64) -> Result<u64, BrokerError> {
        let name = self.delay_name(queue, ms);
        let ops = c.ops.lock().await;
        let q = ops
            .queue_declare(
                name.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                self.delay_args(queue, ms),
            )
            .await
            .map_err(unavailable)?;
        c.declared.lock().insert(name);
        Ok(q.message_count() as u64)
    }

    fn properties(msg: &Message) -> BasicProperties {
        let mut h = FieldTable::default();
        h.insert("v".into(), AMQPValue::LongInt(msg.v as i32));
        h.insert("created_at".into(), AMQPValue::LongLongInt(msg.created_at));
        h.insert(
            "connector".into(),
            AMQPValue::LongString(msg.connector.as_str().into()),
        );
        h.insert("tries".into(), AMQPValue::LongLongInt(msg.tries as i64));
        if let Some(u) = &msg.user {
            h.insert("user".into(), AMQPValue::LongString(u.as_str().into()));
        }
        BasicProperties::default()
            .with_message_id(msg.id.to_string().into())
            .with_priority(msg.priority.min(3))
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_headers(h)
    }

    /// Publish with `mandatory` and wait for the confirm.
    async fn publish_raw(
        &self,
        c: &Conn,
        exchange: &str,
        routing_key: &str,
        msg: &Message,
    ) -> Result<(), BrokerError> {
        let body = serde_json::to_vec(msg).map_err(|e| BrokerError::Storage(e.to_string()))?;
        let i = c.rr.fetch_add(1, Ordering::Relaxed) % c.publish.len();
        let confirm = c.publish[i]
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &body,
                Self::properties(msg),
            )
            .await
            .map_err(unavailable)?;
        // Sent: from here a failure leaves the message possibly queued.
        let unconfirmed = |e: String| BrokerError::Unconfirmed(e);
        match tokio::time::timeout(Duration::from_secs(10), confirm).await {
            Err(_) => Err(unconfirmed("publisher confirm timeout".into())),
            Ok(Err(e)) => Err(unconfirmed(e.to_string())),
            Ok(Ok(Confirmation::Ack(None))) => {
                if c.nacking.load(Ordering::Relaxed) {
                    let mut nacked = c.nacked.lock();
                    nacked.remove(routing_key);
                    c.nacking.store(!nacked.is_empty(), Ordering::Relaxed);
                }
                Ok(())
            }
            Ok(Ok(Confirmation::Ack(Some(r)))) => Err(BrokerError::Storage(format!(
                "unroutable: {}",
                r.reply_text
            ))),
            Ok(Ok(Confirmation::Nack(_))) => {
                let stuck = {
                    let mut nacked = c.nacked.lock();
                    c.nacking.store(true, Ordering::Relaxed);
                    nacked
                        .entry(routing_key.to_string())
                        .or_insert_with(Instant::now)
                        .elapsed()
                        >= NACKED_RECONNECT
                };
                let current = self
                    .current
                    .read()
                    .as_ref()
                    .is_some_and(|cur| std::ptr::eq(&**cur, c));
                if stuck && current {
                    tracing::warn!(
                        queue = routing_key,
                        "RabbitMQ keeps nacking publishes to this queue: reconnecting"
                    );
                    self.disconnect().await;
                }
                Err(unavailable("publish nacked by RabbitMQ"))
            }
            Ok(Ok(Confirmation::NotRequested)) => Ok(()),
        }
    }

    /// Start the queue's consumer unless it runs. Cancel-safe: the start runs in its own task,
    /// so a caller that gives up (a `select!`) never leaves a half-registered consumer holding
    /// deliveries.
    async fn ensure_consumer(&self, queue: &str, q: &Arc<Q>) -> Result<(), BrokerError> {
        {
            let st = q.state.lock();
            if let Some((ch, _, _)) = &st.consumer {
                if ch.status().connected() {
                    return Ok(());
                }
            }
        }
        let Some(me) = self.me.upgrade() else {
            return Err(unavailable("broker dropped"));
        };
        let (queue, q) = (queue.to_string(), q.clone());
        tokio::spawn(async move { me.start_consumer(&queue, &q).await })
            .await
            .map_err(unavailable)?
    }

    async fn start_consumer(&self, queue: &str, q: &Arc<Q>) -> Result<(), BrokerError> {
        {
            let st = q.state.lock();
            if let Some((ch, _, _)) = &st.consumer {
                if ch.status().connected() {
                    return Ok(());
                }
            }
        }
        let _g = q.starting.lock().await;
        {
            let mut st = q.state.lock();
            match &st.consumer {
                Some((ch, _, _)) if ch.status().connected() => return Ok(()),
                Some(_) => {
                    if let Some((_, _, t)) = st.consumer.take() {
                        t.abort();
                    }
                    st.buffer.clear();
                }
                None => {}
            }
        }
        let c = self.conn().await?;
        self.ensure_declared(&c, queue).await?;
        let ch = c.connection.create_channel().await.map_err(unavailable)?;
        ch.basic_qos(self.cfg.prefetch, BasicQosOptions::default())
            .await
            .map_err(unavailable)?;
        let mut consumer = ch
            .basic_consume(
                self.amqp_name(queue).as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
        let gen = {
            let mut st = q.state.lock();
            st.gen += 1;
            st.gen
        };
        let qq = q.clone();
        let ch2 = ch.clone();
        let name = queue.to_string();
        let task = tokio::spawn(async move {
            while let Some(d) = consumer.next().await {
                let d = match d {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::warn!(queue = %name, error = %e, "AMQP consumer ended");
                        break;
                    }
                };
                match serde_json::from_slice::<Message>(&d.data) {
                    Ok(msg) => {
                        let mut st = qq.state.lock();
                        if st.gen != gen {
                            break;
                        }
                        st.buffer.push_back(Buffered {
                            amqp_tag: d.delivery_tag,
                            redelivered: d.redelivered,
                            msg,
                        });
                    }
                    Err(e) => {
                        tracing::error!(queue = %name, error = %e, "undecodable message body rejected");
                        let _ = ch2
                            .basic_nack(
                                d.delivery_tag,
                                BasicNackOptions {
                                    requeue: false,
                                    multiple: false,
                                },
                            )
                            .await;
                    }
                }
                qq.notify.notify_waiters();
            }
            let mut st = qq.state.lock();
            if st.gen == gen {
                st.consumer = None;
                st.buffer.clear();
            }
            drop(st);
            qq.notify.notify_waiters();
        });
        q.state.lock().consumer = Some((ch, gen, task));
        Ok(())
    }

    fn consumer_channel(q: &Q) -> Option<Channel> {
        q.state.lock().consumer.as_ref().map(|(c, _, _)| c.clone())
    }
}

/// Order of hand-out: priority 3 first; inside a priority, users round-robin; otherwise in
/// arrival order.
fn fair_order(items: &VecDeque<Buffered>) -> Vec<usize> {
    let mut out = Vec::with_capacity(items.len());
    for prio in (0..=3u8).rev() {
        let mut owners: Vec<(&str, VecDeque<usize>)> = vec![];
        for (i, b) in items.iter().enumerate() {
            if b.msg.priority.min(3) != prio {
                continue;
            }
            let o = b.msg.user.as_deref().unwrap_or("");
            match owners.iter_mut().find(|(n, _)| *n == o) {
                Some((_, v)) => v.push_back(i),
                None => owners.push((o, VecDeque::from([i]))),
            }
        }
        loop {
            let mut any = false;
            for (_, v) in owners.iter_mut() {
                if let Some(i) = v.pop_front() {
                    out.push(i);
                    any = true;
                }
            }
            if !any {
                break;
            }
        }
    }
    out
}

#[async_trait]
impl Broker for AmqpBroker {
    /// A publish whose confirmation is lost (the connection closed under it) is published
    /// again, marked [`Message::republished`], on the next connection within
    /// [`REPUBLISH_WITHIN`]: the caller's answer is then true (queued once it returns `Ok`),
    /// and the consumer drops the second copy if the first one was queued too.
    async fn publish(&self, queue: &str, msg: &Message) -> Result<(), BrokerError> {
        let deadline = Instant::now() + REPUBLISH_WITHIN;
        let mut copy: Option<Message> = None;
        let mut delay = Duration::from_millis(20);
        loop {
            let m = copy.as_ref().unwrap_or(msg);
            let attempt = async {
                let c = self.conn().await?;
                self.ensure_declared(&c, queue).await?;
                self.publish_raw(&c, &self.exchange, queue, m).await
            };
            let err = match attempt.await {
                Ok(()) => return Ok(()),
                Err(e @ BrokerError::Unconfirmed(_)) => e,
                // Once a copy may be queued, keep trying until one certainly is.
                Err(e @ BrokerError::Unavailable(_)) if copy.is_some() => e,
                Err(e) => return Err(e),
            };
            if Instant::now() + delay >= deadline {
                return Err(err);
            }
            if copy.is_none() {
                tracing::warn!(id = %msg.id, queue, error = %err, "publish confirmation lost: publishing again");
                let mut again = msg.clone();
                again.republished = true;
                copy = Some(again);
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }

    async fn wait_ready(&self, queue: &str) {
        let q = self.q(queue);
        loop {
            let notified = q.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !q.state.lock().buffer.is_empty() {
                return;
            }
            if let Err(e) = self.ensure_consumer(queue, &q).await {
                tracing::debug!(queue, error = %e, "consumer not running");
                tokio::time::sleep(Duration::from_millis(500)).await;
                return;
            }
            if !q.state.lock().buffer.is_empty() {
                return;
            }
            notified.await;
        }
    }

    async fn receive(&self, queue: &str, max: usize) -> Result<Vec<Delivery>, BrokerError> {
        let q = self.q(queue);
        self.ensure_consumer(queue, &q).await?;
        let mut st = q.state.lock();
        if st.buffer.is_empty() || max == 0 {
            return Ok(vec![]);
        }
        let Some(channel) = st.consumer.as_ref().map(|(c, _, _)| c.clone()) else {
            return Ok(vec![]);
        };
        let order = fair_order(&st.buffer);
        let chosen: HashSet<usize> = order.iter().take(max).copied().collect();
        let mut items: Vec<Option<Buffered>> = st.buffer.drain(..).map(Some).collect();
        let mut out = Vec::with_capacity(chosen.len());
        for &i in order.iter().take(max) {
            let Some(b) = items[i].take() else { continue };
            let tag = self.next_tag.fetch_add(1, Ordering::Relaxed);
            st.held.insert(
                tag,
                Held {
                    amqp_tag: b.amqp_tag,
                    channel: channel.clone(),
                },
            );
            out.push(Delivery {
                tag,
                message: b.msg,
                redelivered: b.redelivered,
            });
        }
        st.buffer = items.into_iter().flatten().collect();
        Ok(out)
    }

    async fn ack(&self, queue: &str, tag: u64) -> Result<(), BrokerError> {
        let q = self.q(queue);
        let h = q
            .state
            .lock()
            .held
            .remove(&tag)
            .ok_or(BrokerError::UnknownTag(tag))?;
        h.channel
            .basic_ack(h.amqp_tag, BasicAckOptions::default())
            .await
            .map_err(unavailable)
    }

    async fn requeue(
        &self,
        queue: &str,
        tag: u64,
        msg: &Message,
        delay: Duration,
    ) -> Result<(), BrokerError> {
        let q = self.q(queue);
        let h = q
            .state
            .lock()
            .held
            .remove(&tag)
            .ok_or(BrokerError::UnknownTag(tag))?;
        let published = async {
            let c = self.conn().await?;
            let ms = delay.as_millis() as u64;
            if ms == 0 {
                self.ensure_declared(&c, queue).await?;
                self.publish_raw(&c, &self.exchange, queue, msg).await
            } else {
                let name = self.delay_name(queue, ms);
                if !c.declared.lock().contains(&name) {
                    self.ensure_declared(&c, queue).await?;
                    self.declare_delay(&c, queue, ms).await?;
                }
                q.state.lock().delays.insert(ms);
                self.publish_raw(&c, "", &name, msg).await
            }
        }
        .await;
        match published {
            Ok(()) => h
                .channel
                .basic_ack(h.amqp_tag, BasicAckOptions::default())
                .await
                .map_err(unavailable),
            Err(e) => {
                // Still held: the caller may try again; if the channel died RabbitMQ has
                // requeued it anyway.
                q.state.lock().held.insert(tag, h);
                Err(e)
            }
        }
    }

    async fn release_all(&self, queue: &str) -> Result<u64, BrokerError> {
        let q = self.q(queue);
        let (consumer, n) = {
            let mut st = q.state.lock();
            let n = st.held.len() as u64;
            st.held.clear();
            st.buffer.clear();
            st.gen += 1;
            (st.consumer.take(), n)
        };
        if let Some((ch, _, task)) = consumer {
            task.abort();
            // Closing the channel makes RabbitMQ requeue everything it held, in order.
            let _ = ch.close(200, "release".into()).await;
        }
        q.notify.notify_waiters();
        Ok(n)
    }

    async fn health(&self) -> Result<(), BrokerError> {
        self.conn().await.map(|_| ())
    }

    async fn stats(&self, queue: &str) -> Result<QueueStats, BrokerError> {
        let q = self.q(queue);
        let c = self.conn().await?;
        let mut ready = self.declare(&c, queue).await?;
        // While our consumer has room, what RabbitMQ counts as ready is on its way to us:
        // give it a moment to land, so that `ready` tells what `receive` can take.
        let deadline = Instant::now() + Duration::from_millis(300);
        loop {
            let (room, active) = {
                let st = q.state.lock();
                (
                    st.buffer.len() + st.held.len() < self.cfg.prefetch as usize,
                    st.consumer.is_some(),
                )
            };
            if ready == 0 || !room || !active || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            ready = self.declare(&c, queue).await?;
        }
        let delays: Vec<u64> = q.state.lock().delays.iter().copied().collect();
        let mut delayed = 0;
        for ms in delays {
            delayed += self.declare_delay(&c, queue, ms).await?;
        }
        let st = q.state.lock();
        Ok(QueueStats {
            ready: ready + st.buffer.len() as u64,
            delayed,
            unacked: st.held.len() as u64,
        })
    }

    async fn purge(&self, queue: &str) -> Result<u64, BrokerError> {
        let q = self.q(queue);
        let c = self.conn().await?;
        self.ensure_declared(&c, queue).await?;
        let buffered: Vec<u64> = q
            .state
            .lock()
            .buffer
            .drain(..)
            .map(|b| b.amqp_tag)
            .collect();
        let mut n = 0;
        if let Some(ch) = Self::consumer_channel(&q) {
            for t in buffered {
                ch.basic_ack(t, BasicAckOptions::default())
                    .await
                    .map_err(unavailable)?;
                n += 1;
            }
        }
        let ops = c.ops.lock().await;
        n += ops
            .queue_purge(
                self.amqp_name(queue).as_str().into(),
                QueuePurgeOptions::default(),
            )
            .await
            .map_err(unavailable)? as u64;
        Ok(n)
    }

    async fn move_all(&self, from: &str, to: &str) -> Result<u64, BrokerError> {
        let q = self.q(from);
        let c = self.conn().await?;
        self.ensure_declared(&c, from).await?;
        self.ensure_declared(&c, to).await?;
        let mut n = 0;
        let buffered: Vec<Buffered> = q.state.lock().buffer.drain(..).collect();
        if let Some(ch) = Self::consumer_channel(&q) {
            for b in buffered {
                self.publish_raw(&c, &self.exchange, to, &b.msg).await?;
                ch.basic_ack(b.amqp_tag, BasicAckOptions::default())
                    .await
                    .map_err(unavailable)?;
                n += 1;
            }
        }
        let ops = c.ops.lock().await;
        loop {
            let got = ops
                .basic_get(
                    self.amqp_name(from).as_str().into(),
                    BasicGetOptions::default(),
                )
                .await
                .map_err(unavailable)?;
            let Some(g) = got else { break };
            let tag = g.delivery.delivery_tag;
            match serde_json::from_slice::<Message>(&g.delivery.data) {
                Ok(m) => self.publish_raw(&c, &self.exchange, to, &m).await?,
                Err(e) => tracing::error!(error = %e, "undecodable message dropped while moving"),
            }
            ops.basic_ack(tag, BasicAckOptions::default())
                .await
                .map_err(unavailable)?;
            n += 1;
        }
        Ok(n)
    }

    async fn peek(&self, queue: &str, max: usize) -> Result<Vec<Message>, BrokerError> {
        let q = self.q(queue);
        let mut out: Vec<Message> = {
            let st = q.state.lock();
            fair_order(&st.buffer)
                .into_iter()
                .take(max)
                .map(|i| st.buffer[i].msg.clone())
                .collect()
        };
        if out.len() >= max {
            return Ok(out);
        }
        let c = self.conn().await?;
        self.ensure_declared(&c, queue).await?;
        let ops = c.ops.lock().await;
        let mut last = None;
        while out.len() < max {
            let got = ops
                .basic_get(
                    self.amqp_name(queue).as_str().into(),
                    BasicGetOptions::default(),
                )
                .await
                .map_err(unavailable)?;
            let Some(g) = got else { break };
            last = Some(g.delivery.delivery_tag);
            if let Ok(m) = serde_json::from_slice::<Message>(&g.delivery.data) {
                out.push(m);
            }
        }
        if let Some(t) = last {
            ops.basic_nack(
                t,
                BasicNackOptions {
                    multiple: true,
                    requeue: true,
                },
            )
            .await
            .map_err(unavailable)?;
        }
        Ok(out)
    }

    fn emits_events(&self) -> bool {
        self.events.is_some()
    }

    fn emit(&self, event: super::events::Event) {
        if let Some(tx) = &self.events {
            if tx.try_send(event).is_err() {
                self.events_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
