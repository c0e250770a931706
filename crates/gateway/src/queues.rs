//! Queue operations for operators, without RabbitMQ's UI: the backlog of each SMPP connector,
//! a look at what waits, and moving or purging it. jCli's `queue` command uses this service
//! (the management API will too). Moves and purges are counted (`queue_moved_count`,
//! `queue_purged_count` in `/metrics`) and logged.
//!
//! A purged message is not dropped silently: it ends like any failed message, with the status
//! `PURGED` in its record and a failure receipt thrown where one was asked for.

use std::sync::Arc;

use smsgate_core::model::Message;
use smsgate_core::stats::Stats;
use smsgate_queue::broker::{submit_queue, Broker, BrokerError, QueueStats};

use crate::delivery::Deliveries;
use crate::runtime::Runtime;

/// Most messages one peek returns.
pub const MAX_PEEK: usize = 100;
/// Messages taken from the queue at a time while purging.
const PURGE_BATCH: usize = 256;

/// The operations, on one gateway's broker.
pub struct QueueOps {
    broker: Arc<dyn Broker>,
    deliveries: Arc<Deliveries>,
    stats: Arc<Stats>,
}

impl QueueOps {
    /// The operations of a running gateway.
    pub fn of(rt: &Runtime) -> QueueOps {
        QueueOps {
            broker: rt.connector_deps.broker.clone(),
            deliveries: rt.connector_deps.deliveries.clone(),
            stats: rt.stats.clone(),
        }
    }

    /// The backlog of connector `cid`: ready, delayed (requeued or scheduled), handed out.
    pub async fn backlog(&self, cid: &str) -> Result<QueueStats, BrokerError> {
        self.broker.stats(&submit_queue(cid)).await
    }

    /// The first `max` (at most [`MAX_PEEK`]) messages waiting for `cid`, in delivery order.
    pub async fn peek(&self, cid: &str, max: usize) -> Result<Vec<Message>, BrokerError> {
        self.broker
            .peek(&submit_queue(cid), max.clamp(1, MAX_PEEK))
            .await
    }

    /// Move every message waiting for `from` to `to`'s queue; how many.
    pub async fn move_all(&self, from: &str, to: &str) -> Result<u64, BrokerError> {
        let n = self
            .broker
            .move_all(&submit_queue(from), &submit_queue(to))
            .await?;
        self.stats.queue.moved_count.add(n);
        tracing::warn!(from, to, messages = n, "queue moved by the operator");
        Ok(n)
    }

    /// End every message waiting for `cid` with the status `PURGED`; how many.
    ///
    /// Ready messages are taken and failed one by one (recorded, failure receipts thrown).
    /// What is left (delayed by a requeue or a schedule) is dropped; those the broker shows to
    /// a peek are recorded the same way, the others are counted in a warning.
    pub async fn purge(&self, cid: &str) -> Result<u64, BrokerError> {
        let queue = submit_queue(cid);
        let why = "purged by the operator";
        let mut n = 0u64;
        loop {
            let batch = self.broker.receive(&queue, PURGE_BATCH).await?;
            if batch.is_empty() {
                break;
            }
            for d in batch {
                self.deliveries
                    .fail(&queue, d.tag, &d.message, "PURGED", why)
                    .await;
                n += 1;
            }
        }
        let waiting = self.broker.stats(&queue).await?;
        if waiting.ready + waiting.delayed > 0 {
            let seen = self.broker.peek(&queue, usize::MAX).await?;
            let dropped = self.broker.purge(&queue).await?;
            for m in &seen {
                self.deliveries.finish(m, "PURGED", why).await;
            }
            if dropped > seen.len() as u64 {
                tracing::warn!(
                    connector = cid,
                    unrecorded = dropped - seen.len() as u64,
                    "delayed messages (requeued or scheduled) dropped without a final record"
                );
            }
            n += dropped;
        }
        self.stats.queue.purged_count.add(n);
        tracing::warn!(
            connector = cid,
            messages = n,
            "queue purged by the operator"
        );
        Ok(n)
    }
}
