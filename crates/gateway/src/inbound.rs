//! What SMSCs send the gateway: `deliver_sm` / `data_sm` from a connector is either a delivery
//! receipt (handed to [`crate::dlr`]) or an MO message (reassembled when long, then routed by
//! the MO routing table to an HTTP client connector or an SMPP server user). The PDU is
//! answered only once what it carries is durably queued.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use rusmpp::CommandStatus;

use crate::dlr::{callback_message, Dlr, MO_HTTP_QUEUE};
use smsgate_core::config::{HttpClientConfig, MoConfig, SmppClientConfig};
use smsgate_core::model::message::now_ms;
use smsgate_core::model::{Address, CallbackKind, Channel, Direction, Message, Part, Tlv};
use smsgate_core::privacy::{masked, Content, Number};
use smsgate_core::stats::Stats;
use smsgate_queue::broker::{smpps_queue, Broker};
use smsgate_queue::store::Store;
use smsgate_routing::{ConnectorRef, Routable, RoutingTable};
use smsgate_smpp::receipt::{self, TAG_RECEIPTED_MESSAGE_ID};
use smsgate_sms::reassembly;

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
    /// MO interception table (shared with the pipeline).
    pub interception: Arc<smsgate_policy::interception::Interception>,
}

impl Inbound {
    /// Install a new MO routing table and HTTP client connectors (the live configuration
    /// changed).
    pub fn install(&self, mo: RoutingTable, httpccs: &[HttpClientConfig]) {
        *self.mo_table.write() = Arc::new(mo);
        *self.httpccs.write() = httpccs.iter().map(|c| (c.cid.clone(), c.clone())).collect();
    }

    /// Handle one PDU from connector `cfg`; the status to answer it with.
    pub async fn handle(&self, cfg: &SmppClientConfig, inc: Incoming) -> CommandStatus {
        let receipt = inc.is_receipt();
        smsgate_queue::broker::events::deliver_sm(
            self.broker.as_ref(),
            &cfg.cid,
            &inc.source.addr,
            &inc.destination.addr,
            inc.esm_class,
            inc.data_coding,
            &inc.short_message,
            receipt,
        );
        if receipt {
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
            tracing::warn!(cid = %cfg.cid, text = %Content(&String::from_utf8_lossy(&inc.short_message), masked(&cfg.cid)), "receipt without a message id");
            return CommandStatus::EsmeRok;
        };
        let group = cfg.dlr_group.as_deref().unwrap_or("");
        if self.dlr.receipt(&cfg.cid, group, cfg.dlr_msgid, &r).await {
            return CommandStatus::EsmeRok;
        }
        // Not tracked (yet): the receipt may have overtaken the processing of its
        // submit_sm_resp, possibly on another connector or node. Keep it durably and look
        // again in the background rather than holding the SMSC's deliver_sm_resp.
        let job = RetryReceipt {
            cid: cfg.cid.clone(),
            group: group.to_string(),
            dlr_msgid: cfg.dlr_msgid,
        }
        .job(inc);
        match self.broker.publish(RECEIPT_RETRY_QUEUE, &job).await {
            Ok(()) => {
                stats.receipt_retried_count.inc();
                CommandStatus::EsmeRok
            }
            Err(e) => {
                // Not kept: the SMSC must send it again.
                tracing::error!(cid = %cfg.cid, error = %e, "cannot keep an untracked receipt for a retry");
                CommandStatus::EsmeRxTAppn
            }
        }
    }

    /// Look up receipts kept by [`Inbound::receipt`] again until `stop`: each after the delays
    /// of [`RECEIPT_RETRY_DELAYS_MS`], then counted unknown.
    pub async fn run_receipt_retries(self: Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        loop {
            tokio::select! {
                _ = self.broker.wait_ready(RECEIPT_RETRY_QUEUE) => {}
                _ = stop.cancelled() => break,
            }
            let jobs = match self.broker.receive(RECEIPT_RETRY_QUEUE, 64).await {
                Ok(j) => j,
                Err(e) => {
                    tracing::warn!(error = %e, "receipt retry queue unavailable");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            for d in jobs {
                self.retry_receipt(d).await;
            }
        }
        let _ = self.broker.release_all(RECEIPT_RETRY_QUEUE).await;
    }

    async fn retry_receipt(&self, d: smsgate_queue::broker::Delivery) {
        let m = d.message;
        let Some((ctx, r)) = RetryReceipt::of(&m) else {
            tracing::warn!(id = %m.id, "unreadable receipt retry job dropped");
            let _ = self.broker.ack(RECEIPT_RETRY_QUEUE, d.tag).await;
            return;
        };
        if self
            .dlr
            .receipt(&ctx.cid, &ctx.group, ctx.dlr_msgid, &r)
            .await
        {
            let _ = self.broker.ack(RECEIPT_RETRY_QUEUE, d.tag).await;
            return;
        }
        if let Some(&delay) = RECEIPT_RETRY_DELAYS_MS.get(m.tries as usize) {
            let mut again = m.clone();
            again.tries += 1;
            let requeued = self
                .broker
                .requeue(
                    RECEIPT_RETRY_QUEUE,
                    d.tag,
                    &again,
                    Duration::from_millis(delay),
                )
                .await;
            if requeued.is_ok() {
                return;
            }
        }
        self.stats.inbound(&ctx.cid).receipt_unknown_count.inc();
        smsgate_queue::broker::events::dlr_deliver_sm(
            self.broker.as_ref(),
            &ctx.cid,
            &r.id,
            &r.stat,
            None,
        );
        tracing::warn!(cid = %ctx.cid, smsc_id = %r.id, stat = %r.stat, "receipt for an unknown or expired message id");
        let _ = self.broker.ack(RECEIPT_RETRY_QUEUE, d.tag).await;
    }

    async fn mo(&self, cfg: &SmppClientConfig, inc: Incoming) -> CommandStatus {
        let stats = self.stats.inbound(&cfg.cid);
        stats.mo_count.inc();
        let now = now_ms();
        let mut short_message = inc.short_message.clone();
        if short_message.is_empty() {
            if let Some(p) = inc.tlvs.iter().find(|t| t.tag == 0x0424) {
                short_message = p.value.clone();
            }
        }
        let alphabet = cfg.default_alphabet;
        let part = match reassembly::mo_part(
            inc.data_coding,
            inc.esm_class,
            &short_message,
            &inc.tlvs,
            alphabet,
        ) {
            Ok(p) => p,
            Err(e) => {
                // Delivered as it came (raw octets) rather than lost.
                stats.mo_malformed_count.inc();
                tracing::warn!(cid = %cfg.cid, error = %e, "MO with a malformed UDH: delivered as is");
                reassembly::MoPart {
                    concat: None,
                    units: short_message.clone(),
                }
            }
        };
        let m = Message {
            connector: cfg.cid.clone(),
            source: inc.source.clone(),
            destination: inc.destination.clone(),
            data_coding: inc.data_coding,
            protocol_id: inc.protocol_id,
            priority: inc.priority.min(3),
            validity_period: inc.validity_period.clone(),
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
            ..Message::new(Direction::Mo, Channel::Smppc, now)
        };
        let result = match part.concat {
            Some(c) if c.total > 1 => {
                stats.mo_parts_count.inc();
                self.long_part(cfg, m, c, part.units).await
            }
            _ => {
                let text = reassembly::decode_units(inc.data_coding, &part.units, alphabet)
                    .unwrap_or_else(|| String::from_utf8_lossy(&part.units).into_owned());
                self.route_mo(m, text, part.units).await
            }
        };
        match result {
            Ok(()) => CommandStatus::EsmeRok,
            Err(status) => status,
        }
    }

    fn reassembly_ttl(&self) -> Duration {
        Duration::from_secs(self.mo.reassembly_timeout.max(1) * 2 + 3600)
    }

    /// Keep one part of a long MO durably; the part that completes the set (or the timeout
    /// job, for a set that never completes) delivers it.
    async fn long_part(
        &self,
        cfg: &SmppClientConfig,
        m: Message,
        c: reassembly::Concat,
        units: Vec<u8>,
    ) -> Result<(), CommandStatus> {
        let set = format!(
            "mo:{}:{}:{}:{}:{}",
            cfg.cid, m.source.addr, m.destination.addr, c.reference, c.total
        );
        let ttl = self.reassembly_ttl();
        let fail = |e: smsgate_queue::store::StoreError| {
            tracing::error!(error = %e, "long MO: store unavailable");
            CommandStatus::EsmeRxTAppn
        };
        let seen = self
            .store
            .incr_ttl(&format!("{set}:seen:{}", c.seq), 1, ttl)
            .await
            .map_err(fail)?;
        if seen > 1 {
            tracing::info!(%set, seq = c.seq, "duplicate long MO part ignored");
            return Ok(());
        }
        let stored = StoredPart {
            seq: c.seq,
            units: hex::encode(&units),
            message: m.clone(),
        };
        let body = serde_json::to_vec(&stored).map_err(|_| CommandStatus::EsmeRxTAppn)?;
        self.store
            .set(&format!("{set}:part:{}", c.seq), &body, Some(ttl))
            .await
            .map_err(fail)?;
        let n = self
            .store
            .incr_ttl(&format!("{set}:n"), 1, ttl)
            .await
            .map_err(fail)?;
        if n == 1 {
            // The timeout job: delivers what arrived if the set never completes.
            let mut job = Message::new(Direction::Mo, Channel::Smppc, now_ms());
            job.connector = cfg.cid.clone();
            job.batch_id = Some(set.clone());
            job.tags = vec![c.total.to_string(), alphabet_tag(cfg)];
            job.not_before = Some(now_ms() + self.mo.reassembly_timeout as i64 * 1000);
            self.broker
                .publish(MO_REASSEMBLY_QUEUE, &job)
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "long MO: cannot queue the timeout job");
                    CommandStatus::EsmeRxTAppn
                })?;
        }
        if n >= i64::from(c.total) {
            self.finish_set(&set, c.total, cfg.default_alphabet, true)
                .await;
        }
        Ok(())
    }

    /// Deliver a long MO set (complete, or what arrived when it timed out). Only the first
    /// caller for a set does it.
    pub async fn finish_set(
        &self,
        set: &str,
        total: u8,
        alphabet: smsgate_core::config::DefaultAlphabet,
        complete: bool,
    ) {
        let ttl = self.reassembly_ttl();
        match self.store.incr_ttl(&format!("{set}:done"), 1, ttl).await {
            Ok(1) => {}
            Ok(_) => return,
            Err(e) => {
                tracing::error!(%set, error = %e, "long MO: store unavailable");
                return;
            }
        }
        let mut parts: Vec<StoredPart> = vec![];
        for seq in 1..=total {
            if let Ok(Some(b)) = self.store.get(&format!("{set}:part:{seq}")).await {
                if let Ok(p) = serde_json::from_slice::<StoredPart>(&b) {
                    parts.push(p);
                }
            }
        }
        let Some(first) = parts.first() else { return };
        let mut m = first.message.clone();
        m.id = smsgate_core::model::message::new_id();
        m.parts = parts
            .iter()
            .flat_map(|p| p.message.parts.iter().cloned())
            .collect();
        let units: Vec<u8> = parts
            .iter()
            .flat_map(|p| hex::decode(&p.units).unwrap_or_default())
            .collect();
        if !complete {
            self.stats.inbound(&m.connector).mo_incomplete_count.inc();
            tracing::warn!(%set, arrived = parts.len(), total, "long MO incomplete after the reassembly timeout: delivering what arrived");
        }
        let text = reassembly::decode_units(m.data_coding, &units, alphabet)
            .unwrap_or_else(|| String::from_utf8_lossy(&units).into_owned());
        if let Err(status) = self.route_mo(m, text, units).await {
            tracing::error!(%set, ?status, "long MO could not be routed");
        }
        for p in &parts {
            let _ = self.store.delete(&format!("{set}:part:{}", p.seq)).await;
        }
    }

    /// Consume the reassembly timeout jobs until `stop`.
    pub async fn run_reassembly_timeouts(
        self: Arc<Self>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        loop {
            tokio::select! {
                _ = self.broker.wait_ready(MO_REASSEMBLY_QUEUE) => {}
                _ = stop.cancelled() => break,
            }
            let jobs = match self.broker.receive(MO_REASSEMBLY_QUEUE, 16).await {
                Ok(j) => j,
                Err(e) => {
                    tracing::warn!(error = %e, "reassembly queue unavailable");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            for d in jobs {
                if let Some(set) = &d.message.batch_id {
                    let total = d
                        .message
                        .tags
                        .first()
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(0);
                    let alphabet = match d.message.tags.get(1).map(String::as_str) {
                        Some("gsm0338-packed") => {
                            smsgate_core::config::DefaultAlphabet::Gsm0338Packed
                        }
                        Some("latin1") => smsgate_core::config::DefaultAlphabet::Latin1,
                        Some("ascii") => smsgate_core::config::DefaultAlphabet::Ascii,
                        _ => smsgate_core::config::DefaultAlphabet::Gsm0338,
                    };
                    self.finish_set(set, total, alphabet, false).await;
                }
                let _ = self.broker.ack(MO_REASSEMBLY_QUEUE, d.tag).await;
            }
        }
        let _ = self.broker.release_all(MO_REASSEMBLY_QUEUE).await;
    }

    /// Route a complete MO message and queue it for its destination. `text` is its content
    /// decoded per its data_coding, `binary` its user data octets (without UDH).
    pub async fn route_mo(
        &self,
        m: Message,
        text: String,
        binary: Vec<u8>,
    ) -> Result<(), CommandStatus> {
        let (mut m, mut text) = (m, text);
        use smsgate_policy::interception::{Outcome, Ran};
        let (outcome, ran) = self
            .interception
            .intercept(
                smsgate_routing::TableKind::Mo,
                &mut m,
                Some(&text),
                None,
                vec![],
            )
            .await;
        // The connector's interceptor counters (Jasmin's deliver_sm interception).
        match ran {
            Ran::No => {}
            Ran::Ok => self.stats.smppc(&m.connector).interceptor_count.inc(),
            Ran::Failed => self.stats.smppc(&m.connector).interceptor_error_count.inc(),
        }
        match outcome {
            Outcome::Continue { text: Some(t) } => text = t,
            Outcome::Continue { text: None } => {}
            // ESME_ROK from a Wasm interceptor: accepted, not routed.
            Outcome::Accept { .. } => return Ok(()),
            Outcome::Answer { smpp, .. } => return Err(CommandStatus::from(smpp)),
            Outcome::ScriptFailed => return Err(CommandStatus::EsmeRsyserr),
        }
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
            let p = masked(&m.connector);
            tracing::warn!(from = %Number(&m.source.addr, p), to = %Number(&m.destination.addr, p), connector = %m.connector, "MO without a route: refused to the SMSC");
            return Err(CommandStatus::EsmeRxRAppn);
        };
        // The message log's copy of the text (taken only when its line is enabled).
        let logged = tracing::enabled!(target: crate::msglog::TARGET, tracing::Level::INFO)
            .then(|| text.clone());
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
                params.push(("binary".to_string(), hex::encode(&binary)));
                let mut job = callback_message(
                    CallbackKind::Mo,
                    &cc.url,
                    &cc.method,
                    params,
                    None,
                    &m.connector,
                );
                // The thrower reports the HTTP connector's health to failover routes.
                if let Some(cb) = job.callback.as_mut() {
                    cb.http_connector = Some(cid.clone());
                }
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
        })?;
        if let Some(text) = logged {
            crate::msglog::mo(&m, &text, &decision.connector.to_string());
        }
        smsgate_core::trace::root(
            &m.id,
            "smsgate.mo",
            smsgate_core::trace::Kind::Server,
            smsgate_core::trace::from_ms(m.created_at),
            std::time::SystemTime::now(),
            |a| {
                let p = masked(&m.connector);
                a.str("smsgate.connector", m.connector.as_str())
                    .fmt("smsgate.routed_to", &decision.connector)
                    .fmt("smsgate.source", Number(&m.source.addr, p))
                    .fmt("smsgate.destination", Number(&m.destination.addr, p))
                    .int("smsgate.parts", m.parts.len() as i64);
            },
        );
        Ok(())
    }
}

/// Queue of long-MO reassembly timeout jobs.
pub const MO_REASSEMBLY_QUEUE: &str = "smsgate.mo.reassembly";

/// Receipts whose SMSC id was not tracked when they came, kept to be looked up again.
pub const RECEIPT_RETRY_QUEUE: &str = "smsgate.dlr.retry";

/// When an untracked receipt is looked up again, after each previous try (ms): about 15 s in
/// all, enough for a `submit_sm_resp` still being processed on any connector or node.
pub const RECEIPT_RETRY_DELAYS_MS: [u64; 6] = [100, 300, 600, 1000, 3000, 10_000];

/// How a kept receipt is matched: the connector it came on, its receipt group and id mode.
/// The job is the receipt `deliver_sm` as received (`parts[0]` and `tlvs`), with these three
/// in `connector` and the tags `dlr_group=<group>` and `dlr_msgid=<mode>`
/// (see `docs/message-schema.md`).
struct RetryReceipt {
    cid: String,
    group: String,
    dlr_msgid: u8,
}

impl RetryReceipt {
    fn job(self, inc: &Incoming) -> Message {
        let now = now_ms();
        Message {
            connector: self.cid,
            source: inc.source.clone(),
            destination: inc.destination.clone(),
            data_coding: inc.data_coding,
            parts: vec![Part {
                short_message: inc.short_message.clone(),
                esm_class: inc.esm_class,
                tlvs: vec![],
            }],
            tlvs: inc.tlvs.clone(),
            tags: vec![
                format!("dlr_group={}", self.group),
                format!("dlr_msgid={}", self.dlr_msgid),
            ],
            not_before: Some(now + RECEIPT_RETRY_DELAYS_MS[0] as i64),
            tries: 1,
            ..Message::new(Direction::Mo, Channel::Smppc, now)
        }
    }

    fn of(m: &Message) -> Option<(RetryReceipt, receipt::Receipt)> {
        let tag = |name: &str| {
            m.tags
                .iter()
                .find_map(|t| t.strip_prefix(name)?.strip_prefix('='))
        };
        let ctx = RetryReceipt {
            cid: m.connector.clone(),
            group: tag("dlr_group")?.to_string(),
            dlr_msgid: tag("dlr_msgid")?.parse().ok()?,
        };
        let r = receipt::parse(&m.parts.first()?.short_message, &m.tlvs)?;
        Some((ctx, r))
    }
}

/// One part of a long MO kept in the store until its set is delivered.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct StoredPart {
    seq: u8,
    /// The part's user data (hex): unpacked septets for GSM, octets otherwise.
    units: String,
    /// The part as a single-part message (addresses, coding, the original PDU part).
    message: Message,
}

fn alphabet_tag(cfg: &SmppClientConfig) -> String {
    match cfg.default_alphabet {
        smsgate_core::config::DefaultAlphabet::Gsm0338 => "gsm0338",
        smsgate_core::config::DefaultAlphabet::Gsm0338Packed => "gsm0338-packed",
        smsgate_core::config::DefaultAlphabet::Latin1 => "latin1",
        smsgate_core::config::DefaultAlphabet::Ascii => "ascii",
    }
    .to_string()
}
