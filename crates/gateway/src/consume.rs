//! The one consume-window-ack loop's building blocks, shared by the SMPP client connectors
//! (submit_sm), the SMPP server's deliverers (deliver_sm to bound ESMEs) and the HTTP
//! callback throwers: take deliveries from a queue as a window has room, hand each to a task
//! holding its window permit (the task acks, requeues or fails it), and on stop wait for
//! every task in flight before anything is given back to the queue — releasing a delivery
//! whose task still runs would send it twice.
//!
//! The loops differ only in what stops or wakes them (a closed session, a stop token, a
//! change of bound sessions), so each keeps its `select!` and uses a [`Consumer`] for the
//! rest.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use smsgate_queue::broker::{Broker, Delivery};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::task::TaskTracker;

/// How long a consumer waits after the queue failed to hand out deliveries.
const RECEIVE_BACKOFF: Duration = Duration::from_millis(500);

/// A window of deliveries in flight on one queue.
pub struct Consumer {
    broker: Arc<dyn Broker>,
    queue: String,
    window: Arc<Semaphore>,
    size: usize,
    tasks: TaskTracker,
}

impl Consumer {
    /// A consumer of `queue` with at most `window` (at least one) deliveries in flight.
    pub fn new(broker: Arc<dyn Broker>, queue: &str, window: usize) -> Consumer {
        let size = window.max(1);
        Consumer {
            broker,
            queue: queue.to_string(),
            window: Arc::new(Semaphore::new(size)),
            size,
            tasks: TaskTracker::new(),
        }
    }

    /// The queue consumed.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The window's size.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Free places in the window right now.
    pub fn room(&self) -> usize {
        self.window.available_permits()
    }

    /// Resolves when the queue has something ready (select it with the loop's stop signals).
    pub async fn ready(&self) {
        self.broker.wait_ready(&self.queue).await
    }

    /// A place in the window, once one is free (`None`: the window was closed).
    pub async fn permit(&self) -> Option<OwnedSemaphorePermit> {
        self.window.clone().acquire_owned().await.ok()
    }

    /// Up to `max` ready deliveries (none after a queue failure, logged, once the back-off
    /// has passed).
    pub async fn take(&self, max: usize) -> Vec<Delivery> {
        match self.broker.receive(&self.queue, max.max(1)).await {
            Ok(ds) => ds,
            Err(e) => {
                tracing::warn!(queue = %self.queue, error = %e, "queue unavailable");
                tokio::time::sleep(RECEIVE_BACKOFF).await;
                Vec::new()
            }
        }
    }

    /// Handle one delivery in a task the consumer waits for when it finishes. The task owns
    /// its window permit and drops it when its place in the window is free again (at the end,
    /// or as soon as the peer answered).
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Boxed: the task cell then holds a pointer, not the whole future, which tokio would
        // otherwise copy on every move of the spawn path (`memmove` was 6% of the profile).
        self.tasks.spawn(Box::pin(task));
    }

    /// Put deliveries taken but not handed to a task back at the head of the queue, with no
    /// retry spent.
    pub async fn put_back(&self, ds: impl IntoIterator<Item = Delivery>) {
        for d in ds {
            let _ = self
                .broker
                .requeue(&self.queue, d.tag, &d.message, Duration::ZERO)
                .await;
        }
    }

    /// Wait for every task in flight (at most `limit`, when given: each task's own requests
    /// are bounded anyway).
    pub async fn finish(self, limit: Option<Duration>) {
        self.tasks.close();
        match limit {
            Some(l) => {
                if tokio::time::timeout(l, self.tasks.wait()).await.is_err() {
                    tracing::warn!(queue = %self.queue, "consumer stopped with deliveries still in flight");
                }
            }
            None => self.tasks.wait().await,
        }
    }
}
