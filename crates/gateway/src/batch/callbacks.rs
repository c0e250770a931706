//! Batch callbacks (`callback_url` / `errback_url`): durable jobs on
//! [`CALLBACK_QUEUE`](super::CALLBACK_QUEUE), one `GET` per message with `batchId`, `to`,
//! `status` and `statusText`. Unlike DLRs, any 2xx answer counts (Jasmin's batch runner does
//! not look at the answer); failures are tried again after `[dlr-thrower] retry_delay`,
//! `max_retries` attempts in all. Targets are checked against the `[callbacks]` policy (the
//! batch owner's) before each call and on the addresses connected to; a refusal gives the
//! callback up at once. Redirects are not followed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::CALLBACK_QUEUE;
use crate::throwers::PinnedClients;
use smsgate_core::config::ThrowerConfig;
use smsgate_core::model::Callback;
use smsgate_policy::callbacks as policy;
use smsgate_queue::broker::{Broker, Delivery};

/// Consumer of the batch callback queue.
pub struct CallbackSender {
    broker: Arc<dyn Broker>,
    cfg: ThrowerConfig,
    clients: PinnedClients,
}

impl CallbackSender {
    /// A sender.
    pub fn new(
        broker: Arc<dyn Broker>,
        cfg: ThrowerConfig,
        guard: Arc<policy::CallbackGuard>,
    ) -> Arc<Self> {
        Arc::new(CallbackSender {
            broker,
            cfg,
            clients: PinnedClients::new(guard),
        })
    }

    /// Consume until `stop`.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let inflight = Arc::new(Semaphore::new(
            self.clients.guard().config().max_in_flight.max(1),
        ));
        loop {
            tokio::select! {
                _ = self.broker.wait_ready(CALLBACK_QUEUE) => {}
                _ = stop.cancelled() => break,
            }
            let max = inflight.available_permits().clamp(1, 256);
            let ds = match self.broker.receive(CALLBACK_QUEUE, max).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "batch callbacks: queue unavailable");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            for d in ds {
                let permit = tokio::select! {
                    p = inflight.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                    _ = stop.cancelled() => break,
                };
                let me = self.clone();
                tokio::spawn(async move {
                    me.handle(d).await;
                    drop(permit);
                });
            }
        }
        let _ = self.broker.release_all(CALLBACK_QUEUE).await;
    }

    async fn handle(&self, d: Delivery) {
        let mut m = d.message;
        let Some(cb) = m.callback.clone() else {
            let _ = self.broker.ack(CALLBACK_QUEUE, d.tag).await;
            return;
        };
        m.tries += 1;
        match self.call(&cb, m.user.as_deref()).await {
            Ok(()) => {
                let _ = self.broker.ack(CALLBACK_QUEUE, d.tag).await;
            }
            Err((why, retry)) if retry && m.tries < self.cfg.max_retries.max(1) => {
                tracing::info!(url = %cb.url, tries = m.tries, reason = %why, "batch callback failed: will retry");
                let delay = Duration::from_secs(self.cfg.retry_delay);
                let _ = self.broker.requeue(CALLBACK_QUEUE, d.tag, &m, delay).await;
            }
            Err((why, _)) => {
                tracing::warn!(url = %cb.url, reason = %why, "batch callback given up");
                let _ = self.broker.ack(CALLBACK_QUEUE, d.tag).await;
            }
        }
    }

    /// One call; `Err((why, worth retrying))`.
    async fn call(&self, cb: &Callback, user: Option<&str>) -> Result<(), (String, bool)> {
        let guard = self.clients.guard();
        let rules = guard.rules_for(user);
        let target = match guard.check_url(&cb.url, rules) {
            Ok(t) => t,
            Err(e) => {
                if let Some(r) = e.reason() {
                    guard.count("send", r);
                }
                return Err((format!("refused by the [callbacks] policy: {e}"), false));
            }
        };
        let client = self.clients.get(rules);
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(cb.params.iter())
            .finish();
        let url = &target.url;
        let uri = if url.contains('?') {
            format!("{url}&{query}")
        } else {
            format!("{url}?{query}")
        };
        let req = hyper::Request::builder()
            .method("GET")
            .uri(uri)
            .header("user-agent", "smsgate batch")
            .body(Full::new(Bytes::new()))
            .map_err(|e| (format!("cannot build request: {e}"), false))?;
        let timeout = Duration::from_secs(self.cfg.http_timeout.max(1));
        let r = tokio::time::timeout(timeout, async {
            let resp =
                client
                    .request(req)
                    .await
                    .map_err(|e| match policy::connect_refusal(&e) {
                        Some(r) => (format!("refused by the [callbacks] policy: {r}"), false),
                        None => (e.to_string(), true),
                    })?;
            let status = resp.status();
            let _ = http_body_util::Limited::new(resp.into_body(), 64 * 1024)
                .collect()
                .await;
            Ok::<_, (String, bool)>(status)
        })
        .await;
        match r {
            Err(_) => Err((format!("no answer within {}s", timeout.as_secs()), true)),
            Ok(Err(e)) => Err(e),
            Ok(Ok(s)) if s.is_success() => Ok(()),
            Ok(Ok(s)) => Err((format!("status {s}"), true)),
        }
    }
}
