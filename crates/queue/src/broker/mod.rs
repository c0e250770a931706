//! Message queues: the `Broker` trait and its implementations.
//!
//! The semantics are RabbitMQ's, so that the embedded queue and AMQP are interchangeable:
//! at-least-once delivery; a delivery stays owned by its consumer until it is acked or
//! requeued; requeue may carry a not-before delay; deliveries that were handed out before a
//! crash come back flagged `redelivered`. Queue names follow Jasmin's routing keys
//! (`submit.sm.<cid>`, ...). Within a queue, higher priority (3) goes first and, inside a
//! priority, owners (users) are served round-robin so one bulk sender cannot starve the others.

#[cfg(feature = "cluster")]
pub mod amqp;
pub mod conformance;
pub mod embedded;
pub mod events;

use std::time::Duration;

use async_trait::async_trait;

use smsgate_core::model::Message;

/// Queue name of a connector's submit queue.
pub fn submit_queue(cid: &str) -> String {
    format!("submit.sm.{cid}")
}

/// Queue of what waits for SMPP server user `username` (receipts and MO as `deliver_sm`):
/// it fills while the user is not bound and drains to its receiving sessions.
pub fn smpps_queue(username: &str) -> String {
    format!("deliver_sm_thrower.smpps.{username}")
}

/// Errors from a broker.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("broker storage: {0}")]
    Storage(String),
    #[error("unknown delivery tag {0}")]
    UnknownTag(u64),
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// The message was sent but its confirmation was lost (the connection closed while
    /// confirming): it may or may not be queued.
    #[error("broker confirmation lost: {0}")]
    Unconfirmed(String),
}

/// A message handed to a consumer.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Identifies this delivery for `ack`/`requeue`.
    pub tag: u64,
    pub message: Message,
    /// True when this message was handed out before (possibly sent already: a duplicate risk).
    pub redelivered: bool,
}

/// Counts of a queue's backlog.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Ready to be delivered now.
    pub ready: u64,
    /// Waiting for their not-before time.
    pub delayed: u64,
    /// Handed to a consumer, not yet acked.
    pub unacked: u64,
}

/// A durable message queue service.
#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Enqueue durably; returns only once the message survives a crash.
    async fn publish(&self, queue: &str, msg: &Message) -> Result<(), BrokerError>;
    /// Wait until the queue has something ready (cancel-safe).
    async fn wait_ready(&self, queue: &str);
    /// Take up to `max` ready deliveries (possibly none). Deliveries are marked as handed out
    /// durably before they are returned.
    async fn receive(&self, queue: &str, max: usize) -> Result<Vec<Delivery>, BrokerError>;
    /// The consumer is done with the delivery: remove it.
    async fn ack(&self, queue: &str, tag: u64) -> Result<(), BrokerError>;
    /// Put the delivery back (with `msg` as its new body, e.g. a higher try count), available
    /// again after `delay`.
    async fn requeue(
        &self,
        queue: &str,
        tag: u64,
        msg: &Message,
        delay: Duration,
    ) -> Result<(), BrokerError>;
    /// Give back every delivery this process holds on `queue` (e.g. the connector stopped),
    /// available again at once.
    async fn release_all(&self, queue: &str) -> Result<u64, BrokerError>;
    /// Backlog counts.
    async fn stats(&self, queue: &str) -> Result<QueueStats, BrokerError>;
    /// When the oldest message still in `queue` (waiting or handed out) was accepted, in ms
    /// since the epoch (its `created_at`); `None` for an empty queue, or where the broker
    /// cannot tell without disturbing the queue (RabbitMQ: its AMQP interface has no such
    /// statistic, and peeking would mark messages redelivered).
    async fn oldest(&self, _queue: &str) -> Result<Option<i64>, BrokerError> {
        Ok(None)
    }
    /// Drop every message not handed out. Returns how many.
    async fn purge(&self, queue: &str) -> Result<u64, BrokerError>;
    /// Move every message not handed out to another queue. Returns how many.
    async fn move_all(&self, from: &str, to: &str) -> Result<u64, BrokerError>;
    /// Peek at up to `max` messages not handed out, in delivery order.
    async fn peek(&self, queue: &str, max: usize) -> Result<Vec<Message>, BrokerError>;
    /// Can this broker take messages now? (Readiness: RabbitMQ connected, or reconnected by
    /// this call; the embedded queue's database answering.)
    async fn health(&self) -> Result<(), BrokerError>;
    /// Does this broker publish [`events`] for third-party consumers? (The embedded queue has
    /// no outside consumers: no.) Callers build events only when it does.
    fn emits_events(&self) -> bool {
        false
    }
    /// Publish an informational event, best effort and without waiting (see [`events`]).
    fn emit(&self, event: events::Event) {
        let _ = event;
    }
}

/// Publish, trying again for as long as the broker is unavailable (a reconnecting RabbitMQ, a
/// cluster node failing over: half a minute in the fault suite), with a warning every
/// `warn_every`: for what has no client to answer an error to (DLR and receipt jobs built from
/// an SMSC's answer), an outage must cost latency, not the job. Other errors are returned.
pub async fn publish_until_queued(
    broker: &dyn Broker,
    queue: &str,
    msg: &Message,
    warn_every: Duration,
) -> Result<(), BrokerError> {
    let started = std::time::Instant::now();
    let mut warned = Duration::ZERO;
    let mut delay = Duration::from_millis(100);
    loop {
        match broker.publish(queue, msg).await {
            Err(BrokerError::Unavailable(e)) => {
                let waited = started.elapsed();
                if waited >= warned + warn_every {
                    warned = waited;
                    tracing::warn!(queue, waited_s = waited.as_secs(), error = %e, "cannot be queued yet: trying on");
                } else {
                    tracing::debug!(queue, error = %e, "broker unavailable: publishing again");
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
            r => return r,
        }
    }
}
