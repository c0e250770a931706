//! What happens to an MT message around its connector's attempt, in one place: the checks
//! before it is sent (a copy already handled, expired, cancelled) and, once the connector
//! reports what the SMSC answered ([`Attempt`]), the consequences: billing the parts just
//! accepted, settling the charging plugin, the message record, receipt tracking, and the
//! queue (ack; requeue at once, after a throttling pause, or after the connector's delay with
//! a retry spent; or end it with a failure record). The connector (`smpp::client`) only speaks SMPP.

use std::sync::Arc;
use std::time::Duration;

use smsgate_core::config::SmppClientConfig;
use smsgate_core::model::message::now_ms;
use smsgate_core::model::Message;
use smsgate_core::stats::Stats;
use smsgate_core::trace;
use smsgate_policy::interception::Interception;
use smsgate_queue::broker::{Broker, Delivery};
use smsgate_queue::store::{MessageRecord, Store};

use crate::cancel::Cancellations;
use crate::dlr::Dlr;

/// What a connector's attempt at a message came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Every remaining part was accepted (`ESME_ROK`).
    Sent,
    /// Never written to the SMSC (the link went down first): put back at once, no retry spent.
    NotSent,
    /// `ESME_RTHROTTLED`: put back for this long, no retry spent (the connector pauses; the
    /// message's validity still ends it).
    Throttled(Duration),
    /// Worth retrying later (throttled, queue full, response timeout, link lost...): why.
    Temporary(String),
    /// Refused for good: the SMPP status.
    Permanent(String),
}

/// The MT deliveries of one gateway: what acting on a connector's answer needs.
pub struct Deliveries {
    pub broker: Arc<dyn Broker>,
    pub store: Arc<dyn Store>,
    pub stats: Arc<Stats>,
    /// Attempts a message gets (`queue.max_retries`, at least one).
    pub max_retries: u32,
    /// Messages cancelled by `cancel_sm` while queued: dropped instead of sent.
    pub cancellations: Arc<Cancellations>,
    /// Receipt tracking and DLR throws.
    pub dlr: Arc<Dlr>,
    /// The charging plugin is settled from here.
    pub interception: Arc<Interception>,
}

impl Deliveries {
    /// Before `d` is sent from `queue`: the message to send, or `None` when it was handled
    /// here (a copy of a finished message dropped, an expired or cancelled one ended).
    pub async fn before_send(&self, queue: &str, d: Delivery) -> Option<Message> {
        let m = d.message;
        if d.redelivered || m.republished {
            // A copy that may have been handled already: a message redelivered because its
            // ack was lost, or republished because its publish confirmation was. Only a
            // finished message has a record: then this copy is dropped, not sent twice.
            if let Ok(Some(rec)) = self.store.record_get(&m.id.to_string()).await {
                self.stats.queue.duplicate_dropped_count.inc();
                tracing::info!(id = %m.id, status = %rec.status, "copy of a message already handled: dropped");
                let _ = self.broker.ack(queue, d.tag).await;
                return None;
            }
        }
        if d.redelivered {
            self.stats.queue.redelivered_count.inc();
            tracing::warn!(id = %m.id, "sending a message again after a restart: possible duplicate");
        }
        if now_ms() > m.expires_at {
            self.fail(
                queue,
                d.tag,
                &m,
                "EXPIRED",
                "validity or queue max age reached",
            )
            .await;
            self.stats.queue.expired_count.inc();
            return None;
        }
        if self.cancellations.contains(&m.id) {
            self.fail(queue, d.tag, &m, "CANCELLED", "cancelled by cancel_sm")
                .await;
            return None;
        }
        Some(m)
    }

    /// After connector `cfg` tried `m` (delivery `tag` of `queue`): `smsc_ids` are the SMSC
    /// ids of every part accepted so far, the first `already_sent` of them on earlier
    /// attempts.
    #[allow(clippy::too_many_arguments)]
    pub async fn after_attempt(
        &self,
        cfg: &SmppClientConfig,
        queue: &str,
        tag: u64,
        mut m: Message,
        smsc_ids: Vec<String>,
        already_sent: usize,
        attempt: Attempt,
    ) {
        // Asynchronous billing: the rest of each part the SMSC just accepted (ESME_ROK).
        smsgate_policy::billing::charge_acknowledged(
            self.store.as_ref(),
            self.broker.as_ref(),
            &m,
            smsc_ids.len() - already_sent,
        )
        .await;
        // A retry resumes after the parts already accepted.
        m.sent_parts = smsc_ids.clone();
        match attempt {
            Attempt::Sent => {
                self.interception.settle(&m.id.to_string(), true);
                let rec = MessageRecord {
                    id: m.id.to_string(),
                    status: "ESME_ROK".into(),
                    connector: cfg.cid.clone(),
                    smsc_id: smsc_ids.first().cloned(),
                    detail: None,
                    updated_at: now_ms(),
                };
                let expiry = Duration::from_secs(cfg.dlr_expiry.max(1));
                // Receipt tracking first: once the message is acked (no redelivery) or
                // recorded (a redelivered copy is dropped), its receipt must be resolvable,
                // even if this process dies right after.
                self.dlr
                    .submitted(
                        &m,
                        cfg.dlr_group.as_deref().unwrap_or(""),
                        cfg.dlr_msgid,
                        expiry,
                        &smsc_ids,
                    )
                    .await;
                crate::msglog::mt(&m, "ESME_ROK", smsc_ids.first().map(String::as_str), None);
                self.stats
                    .latency
                    .to_smsc
                    .observe_ms(now_ms() - m.created_at);
                let (_, acked) = tokio::join!(self.store.record(rec), self.broker.ack(queue, tag));
                if let Err(e) = acked {
                    tracing::error!(id = %m.id, error = %e, "ack failed");
                }
            }
            Attempt::NotSent => {
                if let Err(e) = self.broker.requeue(queue, tag, &m, Duration::ZERO).await {
                    tracing::error!(id = %m.id, error = %e, "requeue failed");
                }
            }
            Attempt::Throttled(pause) => {
                self.stats.queue.throttled_requeued_count.inc();
                tracing::debug!(id = %m.id, pause_ms = pause.as_millis() as u64, "throttled by the SMSC: requeued");
                if let Err(e) = self.broker.requeue(queue, tag, &m, pause).await {
                    tracing::error!(id = %m.id, error = %e, "requeue failed");
                }
            }
            Attempt::Temporary(why) => {
                m.tries += 1;
                if m.tries >= self.max_retries {
                    self.stats.queue.retries_exhausted_count.inc();
                    self.fail(queue, tag, &m, "RETRIES_EXHAUSTED", &why).await;
                } else {
                    self.stats.queue.requeued_count.inc();
                    tracing::info!(id = %m.id, tries = m.tries, reason = %why, delay = cfg.requeue_delay, "requeued");
                    let delay = Duration::from_secs(cfg.requeue_delay);
                    if let Err(e) = self.broker.requeue(queue, tag, &m, delay).await {
                        tracing::error!(id = %m.id, error = %e, "requeue failed");
                    }
                }
            }
            Attempt::Permanent(status) => {
                self.stats.queue.rejected_count.inc();
                self.fail(queue, tag, &m, &status, "refused by the SMSC")
                    .await;
            }
        }
    }

    /// End `m` with a local failure status (a failure DLR, where requested, is thrown by the
    /// DLR module from this record).
    pub async fn fail(&self, queue: &str, tag: u64, m: &Message, status: &str, why: &str) {
        self.finish(m, status, why).await;
        if let Err(e) = self.broker.ack(queue, tag).await {
            tracing::error!(id = %m.id, error = %e, "ack of failed message failed");
        }
    }

    /// [`Deliveries::fail`] for a message no longer in a queue (nothing to ack).
    pub async fn finish(&self, m: &Message, status: &str, why: &str) {
        tracing::warn!(id = %m.id, status, reason = why, connector = %m.connector, "message failed");
        crate::msglog::mt(m, status, None, Some(why));
        let now = std::time::SystemTime::now();
        trace::phase(
            &m.id,
            "smsgate.failed",
            trace::Kind::Internal,
            now,
            now,
            |a| {
                a.str("smsgate.connector", m.connector.as_str())
                    .str("smsgate.status", status)
                    .str("smsgate.reason", why)
                    .int("smsgate.tries", i64::from(m.tries));
            },
        );
        self.interception.settle(&m.id.to_string(), false);
        let rec = MessageRecord {
            id: m.id.to_string(),
            status: status.to_string(),
            connector: m.connector.clone(),
            smsc_id: None,
            detail: Some(why.to_string()),
            updated_at: now_ms(),
        };
        let _ = self.store.record(rec).await;
        self.dlr.failed(m, status).await;
    }
}
