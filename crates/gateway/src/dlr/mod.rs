//! Delivery receipts: tracking what was submitted, reading receipts, and deciding what to throw
//! (an HTTP callback to `dlr-url`, or a `deliver_sm` to the SMPP server user who submitted).
//!
//! Tracking lives in the store (`dlrg:<group>:<smsc id>` keys with the connector's
//! `dlr_expiry`), so any node can resolve a receipt, and any connector of the receipt group
//! (by default one global group, as Jasmin's `queue-msgid:<id>`): a `receiver` connector gets
//! the receipts of the `transmitter` that submitted. The SMSC id is normalised per connector
//! `dlr_msgid` before it is used as a key. Long messages follow one rule (see `docs/content.md`):
//! level 1 is thrown once when the last part's response arrives; level 2 once, when every part
//! is delivered or at the first part that is not.

mod jasmin;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use smsgate_core::model::message::now_ms;
use smsgate_core::model::{
    Address, Callback, CallbackKind, Channel, Direction, Message, Part, Tlv,
};
use smsgate_core::stats::Stats;
use smsgate_queue::broker::{smpps_queue, Broker};
use smsgate_queue::jasmin_dlr::JasminMaps;
use smsgate_queue::store::{MessageRecord, Store};
use smsgate_smpp::receipt::{self, Receipt};

/// Queue of DLR HTTP callbacks (Jasmin's routing key).
pub const DLR_HTTP_QUEUE: &str = "dlr_thrower.http";
/// Queue of MO HTTP callbacks (Jasmin's routing key).
pub const MO_HTTP_QUEUE: &str = "deliver_sm_thrower.http";

/// What is remembered about a submitted part until its receipt arrives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Track {
    pub id: Uuid,
    pub cid: String,
    /// 1-based part number and part count.
    pub part: u8,
    pub parts: u8,
    /// The first part's SMSC id (`id_smsc` of the message).
    pub first_smsc_id: String,
    /// Requested level (0 when only an SMPP receipt is wanted).
    pub level: u8,
    pub url: String,
    pub method: String,
    /// SMPP server user to send the receipt to as `deliver_sm`.
    pub smpps_user: Option<String>,
    /// The submitting user (whose `[callbacks]` policy applies to `url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `registered_delivery` of the submission (bit 0: on success and failure, bit 1: on
    /// failure only).
    pub registered_delivery: u8,
    pub source: Address,
    pub destination: Address,
}

/// The DLR service.
pub struct Dlr {
    pub store: Arc<dyn Store>,
    pub broker: Arc<dyn Broker>,
    pub stats: Arc<Stats>,
    /// Jasmin's receipt maps during a switch (`[migration] jasmin_redis`): receipts this
    /// gateway does not track are looked up there.
    pub jasmin: Option<Arc<dyn JasminMaps>>,
}

/// The tracking key of an SMSC id (already normalised) in receipt group `group` (`""`: the
/// global group).
fn track_key(group: &str, key: &str) -> String {
    format!("dlrg:{group}:{key}")
}

/// Where tracking entries written before receipt groups existed live (per connector).
fn legacy_track_key(cid: &str, key: &str) -> String {
    format!("dlr:{cid}:{key}")
}

/// A callback job to `url` (see [`Message::callback_job`]).
pub fn callback_message(
    kind: CallbackKind,
    url: &str,
    method: &str,
    params: Vec<(String, String)>,
    owner: Option<String>,
    connector: &str,
) -> Message {
    let callback = Callback {
        kind,
        url: url.to_string(),
        method: method.to_string(),
        params,
        http_connector: None,
    };
    Message::callback_job(callback, owner, connector, now_ms())
}

fn p(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

/// The parameters of a level-2 (receipt) callback, as Jasmin's `DLRContentForHttpapi`.
fn level2_params(id: &str, connector: &str, id_smsc: &str, r: &Receipt) -> Vec<(String, String)> {
    vec![
        p("id", id),
        p("level", "2"),
        p("message_status", r.stat.clone()),
        p("connector", connector),
        p("id_smsc", id_smsc),
        p("sub", r.sub.clone()),
        p("dlvrd", r.dlvrd.clone()),
        p("subdate", r.submit_date.clone()),
        p("donedate", r.done_date.clone()),
        p("err", r.err.clone()),
        p("text", r.text.clone()),
    ]
}

impl Dlr {
    /// Queue a callback job or a receipt for an SMPP user (these come from an SMSC's answer:
    /// there is no client to answer an error to), trying for as long as the broker refuses it
    /// for want of availability (a RabbitMQ node failing over took half a minute in the fault
    /// suite): nothing is dropped for a broker that is only away. What threw it (a delivery,
    /// an SMSC's `deliver_sm`) waits meanwhile, holding its connector back.
    async fn queue(
        &self,
        queue: &str,
        job: &Message,
    ) -> Result<(), smsgate_queue::broker::BrokerError> {
        smsgate_queue::broker::publish_until_queued(
            self.broker.as_ref(),
            queue,
            job,
            Duration::from_secs(15),
        )
        .await
    }

    fn wants(m: &Message) -> (u8, Option<String>) {
        let level = m
            .dlr
            .as_ref()
            .filter(|d| !d.url.is_empty())
            .map(|d| d.level)
            .unwrap_or(0);
        let smpps = (m.channel == Channel::Smpps && m.registered_delivery & 0x03 != 0)
            .then(|| m.user.clone())
            .flatten();
        (level, smpps)
    }

    async fn throw_level1(&self, m: &Message, status: &str) {
        let Some(d) = &m.dlr else { return };
        let params = vec![
            p("id", m.id.to_string()),
            p("level", "1"),
            p("message_status", status),
            p("connector", m.connector.clone()),
        ];
        let job = callback_message(
            CallbackKind::Dlr,
            &d.url,
            &d.method,
            params,
            m.user.clone(),
            &m.connector,
        );
        if let Err(e) = self.queue(DLR_HTTP_QUEUE, &job).await {
            tracing::error!(id = %m.id, error = %e, "cannot queue level 1 DLR");
        }
    }

    /// Every part of `m` was accepted by its connector (receipt group `group`, ids in
    /// `dlr_msgid` `mode`) with these SMSC ids.
    pub async fn submitted(
        &self,
        m: &Message,
        group: &str,
        mode: u8,
        expiry: Duration,
        smsc_ids: &[String],
    ) {
        let (level, smpps) = Self::wants(m);
        if level == 1 || level == 3 {
            self.throw_level1(m, "ESME_ROK").await;
        }
        // Batch messages asking for a receipt (retarus `statusRequested`) are tracked so the
        // receipt updates their record (their reports read it), without any callback.
        // Every submission that asked the SMSC for a receipt is tracked (level 1 too: its
        // receipt then updates the record instead of being an unknown id).
        let wants_receipt = level >= 2 || smpps.is_some() || m.registered_delivery & 0x03 != 0;
        if !wants_receipt {
            return;
        }
        smsgate_queue::broker::events::dlr_submit_sm_resp(
            self.broker.as_ref(),
            m,
            &m.connector,
            smsc_ids,
        );
        let first = smsc_ids.first().cloned().unwrap_or_default();
        let parts = smsc_ids.len().min(255) as u8;
        let d = m.dlr.as_ref();
        for (i, sid) in smsc_ids.iter().enumerate() {
            let t = Track {
                id: m.id,
                cid: m.connector.clone(),
                part: (i + 1) as u8,
                parts,
                first_smsc_id: first.clone(),
                level,
                url: d.map(|d| d.url.clone()).unwrap_or_default(),
                method: d.map(|d| d.method.clone()).unwrap_or_default(),
                smpps_user: smpps.clone(),
                user: m.user.clone(),
                registered_delivery: m.registered_delivery,
                source: m.source.clone(),
                destination: m.destination.clone(),
            };
            let key = track_key(group, &receipt::resp_key(sid, mode));
            let body = serde_json::to_vec(&t).unwrap_or_default();
            match self.store.replace(&key, &body, Some(expiry)).await {
                Ok(Some(old)) => {
                    // The same id tracked for another message: the SMSC reuses ids, or two
                    // SMSCs share one receipt group. The newer submission wins.
                    let other = serde_json::from_slice::<Track>(&old).map(|o| o.id).ok();
                    if other != Some(m.id) {
                        self.stats
                            .inbound(&m.connector)
                            .receipt_collision_count
                            .inc();
                        tracing::warn!(id = %m.id, ?other, smsc_id = %sid, group, "SMSC message id already tracked for another message: receipts may go to the wrong message (give the connectors different dlr_group)");
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::error!(id = %m.id, error = %e, "cannot store DLR tracking"),
            }
        }
    }

    /// `m` ended without being accepted (`status`: the SMPP error, `EXPIRED`, ...).
    pub async fn failed(&self, m: &Message, status: &str) {
        let (level, smpps) = Self::wants(m);
        if level == 1 || level == 3 {
            self.throw_level1(m, status).await;
        }
        if let Some(user) = smpps {
            let stat = match status {
                "EXPIRED" => "EXPIRED",
                "CANCELLED" => "DELETED",
                _ => "REJECTD",
            };
            let stamp = yymmddhhmm(now_ms());
            let r = Receipt {
                id: String::new(),
                stat: stat.into(),
                err: "000".into(),
                submit_date: yymmddhhmm(m.created_at),
                done_date: stamp,
                ..Default::default()
            };
            self.deliver_receipt(&user, &m.id.to_string(), &m.source, &m.destination, &r)
                .await;
        }
    }

    /// A receipt from connector `cid` (receipt group `group`, ids in `dlr_msgid` `mode`).
    /// Returns false when its id is not tracked (unknown or expired, or its `submit_sm_resp`
    /// has not been processed yet).
    pub async fn receipt(&self, cid: &str, group: &str, mode: u8, r: &Receipt) -> bool {
        let id = receipt::receipt_key(&r.id, mode);
        let key = track_key(group, &id);
        let found = match self.store.get(&key).await {
            Ok(None) => self.store.get(&legacy_track_key(cid, &id)).await,
            other => other,
        };
        let t: Track = match found {
            Ok(Some(b)) => match serde_json::from_slice(&b) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(%key, error = %e, "unreadable DLR tracking entry");
                    return false;
                }
            },
            Ok(None) => return self.jasmin_receipt(cid, mode, r).await,
            Err(e) => {
                tracing::warn!(%key, error = %e, "DLR lookup failed");
                return false;
            }
        };
        smsgate_queue::broker::events::dlr_deliver_sm(
            self.broker.as_ref(),
            cid,
            &r.id,
            &r.stat,
            Some(&t.id),
        );
        crate::msglog::receipt(cid, &t.id, &r.id, &r.stat);
        let now = std::time::SystemTime::now();
        smsgate_core::trace::phase(
            &t.id,
            "smsgate.receipt",
            smsgate_core::trace::Kind::Consumer,
            now,
            now,
            |a| {
                a.str("smsgate.connector", cid)
                    .str("smsgate.stat", r.stat.as_str())
                    .str("smsgate.smsc_id", r.id.as_str());
            },
        );
        // Message ids are UUIDv7: their timestamp is the acceptance time.
        if let Some(ts) = t.id.get_timestamp() {
            let (secs, nanos) = ts.to_unix();
            let accepted = secs as i64 * 1000 + i64::from(nanos / 1_000_000);
            self.stats
                .latency
                .to_receipt
                .observe_ms(now_ms() - accepted);
        }
        // The tracking entry is left to its TTL (`dlr_expiry`) rather than deleted: one store
        // write less per receipt, and a duplicate receipt still resolves.
        // Long messages: one terminal DLR per message.
        if t.parts > 1 {
            if !r.is_final() {
                return true;
            }
            let agg = format!("dlrm:{}", t.id);
            let ttl = Duration::from_secs(7 * 86_400);
            // A repeated final receipt for a part counts once.
            match self
                .store
                .incr_ttl(&format!("{agg}:final:{}", t.part), 1, ttl)
                .await
            {
                Ok(1) => {}
                _ => return true,
            }
            if r.stat != "DELIVRD" {
                match self.store.incr_ttl(&format!("{agg}:fail"), 1, ttl).await {
                    Ok(1) => {}
                    _ => return true,
                }
            } else {
                match self.store.incr_ttl(&format!("{agg}:ok"), 1, ttl).await {
                    Ok(n) if n == i64::from(t.parts) => {
                        if let Ok(f) = self.store.incr_ttl(&format!("{agg}:fail"), 0, ttl).await {
                            if f > 0 {
                                return true;
                            }
                        }
                    }
                    _ => return true,
                }
            }
        }
        let _ = self
            .store
            .record(MessageRecord {
                id: t.id.to_string(),
                status: r.stat.clone(),
                // The connector that sent the message (the receipt may come on another).
                connector: t.cid.clone(),
                smsc_id: Some(t.first_smsc_id.clone()),
                detail: (!r.err.is_empty()).then(|| format!("err:{}", r.err)),
                updated_at: now_ms(),
            })
            .await;
        if t.level >= 2 {
            let params = level2_params(&t.id.to_string(), &t.cid, &t.first_smsc_id, r);
            let job = callback_message(
                CallbackKind::Dlr,
                &t.url,
                &t.method,
                params,
                t.user.clone(),
                &t.cid,
            );
            if let Err(e) = self.queue(DLR_HTTP_QUEUE, &job).await {
                tracing::error!(id = %t.id, error = %e, "cannot queue DLR");
            }
        }
        if let Some(user) = &t.smpps_user {
            // registered_delivery 2 = receipt on failure only.
            let wanted = t.registered_delivery & 0x03 == 1 || r.stat != "DELIVRD";
            if wanted {
                self.deliver_receipt(user, &t.id.to_string(), &t.source, &t.destination, r)
                    .await;
            }
        }
        true
    }

    /// Queue a receipt for SMPP server user `user` as a `deliver_sm` (source and destination
    /// swapped, as the handset "answers").
    async fn deliver_receipt(
        &self,
        user: &str,
        id: &str,
        source: &Address,
        destination: &Address,
        r: &Receipt,
    ) {
        let text = receipt::format_text(id, r);
        let mut rid = id.as_bytes().to_vec();
        rid.push(0);
        let mut m = Message::new(Direction::Mo, Channel::Smpps, now_ms());
        m.user = Some(user.into());
        m.source = destination.clone();
        m.destination = source.clone();
        m.parts = vec![Part {
            short_message: text.into_bytes(),
            esm_class: 0x04,
            tlvs: vec![],
        }];
        m.tlvs = vec![
            Tlv {
                tag: receipt::TAG_RECEIPTED_MESSAGE_ID,
                value: rid,
            },
            Tlv {
                tag: receipt::TAG_MESSAGE_STATE,
                value: vec![receipt::state_of_stat(&r.stat)],
            },
        ];
        if let Err(e) = self.queue(&smpps_queue(user), &m).await {
            tracing::error!(%id, error = %e, "cannot queue receipt for SMPP user");
        }
    }
}

/// `YYMMDDhhmm` in UTC.
pub fn yymmddhhmm(ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(ms / 1000) {
        Ok(t) => format!(
            "{:02}{:02}{:02}{:02}{:02}",
            t.year() % 100,
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => String::new(),
    }
}
