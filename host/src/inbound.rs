//! What SMSCs send the gateway: `deliver_sm` / `data_sm` from a connector is either a delivery
//! receipt (handed to [`crate::dlr`]) or an MO message (reassembled when long, then routed by
//! the MO routing table to an HTTP client connector or an SMPP server user). The PDU is
//! answered only once what it carries is durably queued.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use rusmpp::CommandStatus;
use uuid::Uuid;

use crate::broker::{smpps_queue, Broker};
use crate::config::{HttpClientConfig, MoConfig, SmppClientConfig};
use crate::dlr::receipt::{self, TAG_RECEIPTED_MESSAGE_ID};
use crate::dlr::{callback_message, Dlr, MO_HTTP_QUEUE};
use crate::model::message::{now_ms, SCHEMA_VERSION};
use crate::model::{Address, CallbackKind, Channel, Direction, Message, Part, Tlv};
use crate::routing::{ConnectorRef, Routable, RoutingTable};
use crate::sms::content;
use crate::sms::gsm;
use crate::stats::Stats;
use crate::store::Store;

/// A `deliver_sm` or `data_sm` as received.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub source: Address,
    pub destination: Address,
    pub esm_class: u8,
    pub data_coding: u8,
    pub protocol_id: u8,
    pub priority: u8,
    pub validity_period: String,
    pub short_message: Vec<u8>,
    pub tlvs: Vec<Tlv>,
}

impl Incoming {
    /// True for delivery receipts and intermediate notifications.
    pub fn is_receipt(&self) -> bool {
        matches!(self.esm_class & 0x3C, 0x04 | 0x20)
            || self.tlvs.iter().any(|t| t.tag == TAG_RECEIPTED_MESSAGE_ID)
    }
}

/// Receipts and MO.
pub struct Inbound {
    pub dlr: Arc<Dlr>,
    pub broker: Arc<dyn Broker>,
    pub store: Arc<dyn Store>,
    pub stats: Arc<Stats>,
    pub mo_table: RwLock<Arc<RoutingTable>>,
    pub httpccs: RwLock<HashMap<String, HttpClientConfig>>,
    pub mo: MoConfig,
}

/// Text of MO octets for routing filters and the `content` callback parameter.
pub fn mo_text(octets: &[u8], coding: u8) -> String {
    match coding {
        0 => gsm::decode_unpacked(octets),
        8 => {
            let units: Vec<u16> = octets
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        1 | 3 => content::decode_latin1(octets),
        _ => String::from_utf8_lossy(octets).into_owned(),
    }
}

impl Inbound {
    /// Handle one PDU from connector `cfg`; the status to answer it with.
    pub async fn handle(&self, cfg: &SmppClientConfig, inc: Incoming) -> CommandStatus {
        if inc.is_receipt() {
            self.receipt(cfg, &inc).await
        } else {
            self.mo(cfg, inc).await
        }
    }

    async fn receipt(&self, cfg: &SmppClientConfig, inc: &Incoming) -> CommandStatus {
        let stats = self.stats.inbound(&cfg.cid);
        stats.receipt_count.inc();
        let Some(r) = receipt::parse(&inc.short_message, &inc.tlvs) else {
            stats.receipt_malformed_count.inc();
            tracing::warn!(cid = %cfg.cid, text = %String::from_utf8_lossy(&inc.short_message), "receipt without a message id");
            return CommandStatus::EsmeRok;
        };
        // The receipt may overtake the processing of its submit_sm_resp: look again briefly
        // before calling the id unknown (the SMSC waits for our answer meanwhile).
        for wait_ms in [0u64, 100, 300, 600, 1000] {
            if wait_ms > 0 {
                tokio::time::sleep(Duration::from_millis(wait_ms)).await;
            }
            if self.dlr.receipt(&cfg.cid, cfg.dlr_msgid, &r).await {
                return CommandStatus::EsmeRok;
            }
        }
        stats.receipt_unknown_count.inc();
        tracing::warn!(cid = %cfg.cid, smsc_id = %r.id, stat = %r.stat, "receipt for an unknown or expired message id");
        CommandStatus::EsmeRok
    }

    async fn mo(&self, cfg: &SmppClientConfig, inc: Incoming) -> CommandStatus {
        self.stats.inbound(&cfg.cid).mo_count.inc();
        let now = now_ms();
        let mut short_message = inc.short_message.clone();
        if short_message.is_empty() {
            if let Some(p) = inc.tlvs.iter().find(|t| t.tag == 0x0424) {
                short_message = p.value.clone();
            }
        }
        let m = Message {
            v: SCHEMA_VERSION,
            id: Uuid::new_v4(),
            direction: Direction::Mo,
            channel: Channel::Smppc,
            user: None,
            group: None,
            connector: cfg.cid.clone(),
            source: inc.source.clone(),
            destination: inc.destination.clone(),
            data_coding: inc.data_coding,
            protocol_id: inc.protocol_id,
            priority: inc.priority.min(3),
            registered_delivery: 0,
            replace_if_present: 0,
            sm_default_msg_id: 0,
            service_type: String::new(),
            validity_period: inc.validity_period.clone(),
            schedule_delivery_time: String::new(),
            parts: vec![Part {
                short_message,
                esm_class: inc.esm_class,
                tlvs: inc
                    .tlvs
                    .iter()
                    .filter(|t| matches!(t.tag, 0x020C | 0x020E | 0x020F))
                    .cloned()
                    .collect(),
            }],
            tlvs: inc
                .tlvs
                .iter()
                .filter(|t| !matches!(t.tag, 0x020C | 0x020E | 0x020F | 0x0424))
                .cloned()
                .collect(),
            tags: vec![],
            locked_params: vec![],
            dlr: None,
            rate: 0.0,
            created_at: now,
            expires_at: now + 7 * 86_400_000,
            not_before: None,
            batch_id: None,
            tries: 0,
            callback: None,
        };
        match self.route_mo(m).await {
            Ok(()) => CommandStatus::EsmeRok,
            Err(status) => status,
        }
    }

    /// Route a complete MO message and queue it for its destination.
    pub async fn route_mo(&self, m: Message) -> Result<(), CommandStatus> {
        let body: Vec<u8> = m
            .parts
            .iter()
            .flat_map(|p| user_data(p).iter().copied())
            .collect();
        let text = mo_text(&body, m.data_coding);
        let decision = {
            let table = self.mo_table.read().clone();
            table.route(&Routable {
                message: &m,
                text: &text,
                uid: "",
                gid: "",
            })
        };
        let Some(decision) = decision else {
            self.stats.inbound(&m.connector).mo_unrouted_count.inc();
            tracing::warn!(from = %m.source.addr, to = %m.destination.addr, connector = %m.connector, "MO without a route: refused to the SMSC");
            return Err(CommandStatus::EsmeRxRAppn);
        };
        let (queue, job) = match &decision.connector {
            ConnectorRef::Http(cid) => {
                let Some(cc) = self.httpccs.read().get(cid).cloned() else {
                    tracing::error!(%cid, "MO route to an unknown HTTP connector");
                    return Err(CommandStatus::EsmeRxTAppn);
                };
                let mut params = vec![
                    ("id".to_string(), m.id.to_string()),
                    ("from".to_string(), m.source.addr.clone()),
                    ("to".to_string(), m.destination.addr.clone()),
                    ("origin-connector".to_string(), m.connector.clone()),
                    ("priority".to_string(), m.priority.to_string()),
                    ("coding".to_string(), m.data_coding.to_string()),
                ];
                if !m.validity_period.is_empty() {
                    params.push(("validity".to_string(), m.validity_period.clone()));
                }
                params.push(("content".to_string(), text));
                params.push(("binary".to_string(), hex::encode(&body)));
                let job = callback_message(
                    CallbackKind::Mo,
                    &cc.url,
                    &cc.method,
                    params,
                    None,
                    &m.connector,
                );
                (MO_HTTP_QUEUE.to_string(), job)
            }
            ConnectorRef::Smpps(user) => {
                let mut job = m.clone();
                job.channel = Channel::Smpps;
                job.user = Some(user.clone());
                (smpps_queue(user), job)
            }
            other => {
                tracing::error!(connector = %other, "MO route to a connector that cannot take MO");
                return Err(CommandStatus::EsmeRxTAppn);
            }
        };
        self.broker.publish(&queue, &job).await.map_err(|e| {
            tracing::error!(error = %e, "cannot queue MO");
            CommandStatus::EsmeRxTAppn
        })
    }
}

/// The user data of a part (without its UDH).
pub fn user_data(p: &Part) -> &[u8] {
    if p.esm_class & 0x40 != 0 {
        let udhl = p.short_message.first().copied().unwrap_or(0) as usize;
        p.short_message.get(udhl + 1..).unwrap_or(&[])
    } else {
        &p.short_message
    }
}
