//! SMSC simulator (`smsgate smsc-sim`): a real SMPP server for tests, the quick start and
//! benchmarks. It accepts any bind, answers `submit_sm` with message ids (hex or decimal),
//! sends delivery receipts after a delay when asked, answers `ESME_RTHROTTLED` for a share of
//! submits, can inject MO `deliver_sm`, and logs every received PDU as a JSON line.
//!
//! Faults can be turned on at runtime ([`SmscFaults`]): refuse binds, stop answering submits,
//! throttle everything, drop every session a while after its bind.
//!
//! A small HTTP control port offers `GET /stats`, `GET /messages`, `POST /mo?from=&to=&content=`
//! and `GET`/`POST /faults?refuse_binds=&stall=&throttle_all=&flap_ms=` (a POST sets every
//! fault: those not named are turned off).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use parking_lot::Mutex;
use rusmpp::pdus::{
    BindReceiverResp, BindTransceiverResp, BindTransmitterResp, DeliverSm, SubmitSmResp,
};
use rusmpp::values::{DataCoding, EsmClass, Npi, Ton};
use rusmpp::{Command, CommandStatus, Pdu};
use serde::Serialize;
use std::io::Write as _;
use tokio::net::TcpListener;

use crate::session::{self, Session, SessionConfig};
use crate::{c_octet, octets};

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub bind: SocketAddr,
    /// Message ids in hexadecimal (else decimal).
    pub hex_ids: bool,
    /// Send a receipt this long after each submit whose registered_delivery asks for one.
    pub dlr_delay: Option<Duration>,
    /// Percentage (0-100) of submits answered with ESME_RTHROTTLED.
    pub throttle_percent: u8,
    /// Where to write the JSON-lines PDU log ("-" = stdout), None = off.
    pub pdu_log: Option<String>,
    /// Keep received submits in memory for `/messages` and tests.
    pub keep_messages: bool,
}

/// Misbehaviours of an SMSC, switched at runtime ([`Simulator::set_faults`], `POST /faults`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SmscFaults {
    /// Answer binds with this command_status (e.g. 0x0D `ESME_RBINDFAIL`); 0 accepts them.
    pub refuse_binds: u32,
    /// Leave every submit_sm unanswered (it is not taken either); `enquire_link` is still
    /// answered, so the link looks alive.
    pub stall: bool,
    /// Answer every submit_sm with `ESME_RTHROTTLED`.
    pub throttle_all: bool,
    /// Close every bound session this many milliseconds after its bind (0: never).
    pub flap_ms: u64,
}

/// A submit_sm as received.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Received {
    pub system_id: String,
    pub message_id: String,
    pub source_addr: String,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub destination_addr: String,
    pub dest_addr_ton: u8,
    pub dest_addr_npi: u8,
    pub esm_class: u8,
    pub data_coding: u8,
    pub priority_flag: u8,
    pub registered_delivery: u8,
    pub validity_period: String,
    #[serde(serialize_with = "hex_ser")]
    pub short_message: Vec<u8>,
    /// SAR options (sar_msg_ref_num, sar_total_segments, sar_segment_seqnum), when all three
    /// were sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sar: Option<(u16, u8, u8)>,
}

/// The SAR options of a submit_sm, when all three are present.
fn sar_of(sm: &rusmpp::pdus::SubmitSm) -> Option<(u16, u8, u8)> {
    use rusmpp::tlvs::TlvValue;
    let (mut r, mut t, mut q) = (None, None, None);
    for tlv in sm.tlvs() {
        match tlv.value() {
            Some(TlvValue::SarMsgRefNum(v)) => r = Some(*v),
            Some(TlvValue::SarTotalSegments(v)) => t = Some(*v),
            Some(TlvValue::SarSegmentSeqnum(v)) => q = Some(*v),
            _ => {}
        }
    }
    Some((r?, t?, q?))
}

fn hex_ser<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

/// Counters of the simulator.
#[derive(Debug, Default, Serialize)]
pub struct SimStats {
    pub binds: AtomicU64,
    pub submit_sm: AtomicU64,
    pub throttled: AtomicU64,
    pub deliver_sm_sent: AtomicU64,
    pub connections: AtomicU64,
    /// Sessions the ESME ended with `unbind`.
    pub unbinds: AtomicU64,
    /// Binds refused ([`SmscFaults::refuse_binds`]).
    pub binds_refused: AtomicU64,
    /// submit_sm left unanswered ([`SmscFaults::stall`]).
    pub stalled: AtomicU64,
    /// Sessions closed by [`SmscFaults::flap_ms`].
    pub flaps: AtomicU64,
    /// Sessions bound now.
    pub bound_now: AtomicU64,
    /// The most sessions bound at once.
    pub bound_max: AtomicU64,
}

/// Receipt behaviour that tests change at runtime.
#[derive(Debug, Clone)]
pub struct ReceiptKnobs {
    /// Send receipts (when registered_delivery asks) this long after the response.
    pub delay: Option<Duration>,
    /// Write the receipt's id in decimal (the response id being hex): `dlr_msgid` 1.
    pub decimal_in_receipt: bool,
    /// Answer with decimal ids and write receipts in hex: `dlr_msgid` 2.
    pub decimal_in_resp: bool,
    /// Also carry `receipted_message_id` / `message_state` TLVs.
    pub tlvs: bool,
    /// The receipt's `stat`.
    pub stat: String,
    /// Send the receipt before the `submit_sm_resp` (race).
    pub before_resp: bool,
    /// Hold receipts until [`Simulator::release_receipts`] (benchmarks).
    pub hold: bool,
}

impl Default for ReceiptKnobs {
    fn default() -> Self {
        ReceiptKnobs {
            delay: None,
            decimal_in_receipt: false,
            decimal_in_resp: false,
            tlvs: false,
            stat: "DELIVRD".into(),
            before_resp: false,
            hold: false,
        }
    }
}

impl Shared {
    /// Deliver a receipt as an SMSC does: on `first`, and while no session acknowledged it
    /// (the session died with the ESME), again on a receiver session of `system_id` bound
    /// since, every 200 ms for up to a minute.
    async fn deliver_receipt(&self, system_id: &str, first: Session, pdu: DeliverSm, n: u64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut session = Some(first);
        loop {
            if let Some(s) = session.take() {
                if s.request(pdu.clone()).await.is_ok() {
                    self.stats.deliver_sm_sent.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
            if std::time::Instant::now() > deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            session = self.receiver_for(system_id, n);
        }
    }

    /// A bound receiver (or transceiver) session of `system_id` for a transmitter's receipt,
    /// spread by `n`; `None` when none is bound (the receipt is not sent).
    fn receiver_for(&self, system_id: &str, n: u64) -> Option<Session> {
        let all = self.receivers.lock();
        let open: Vec<&(String, Session)> = all
            .iter()
            .filter(|(id, s)| id == system_id && !s.is_closed())
            .collect();
        if open.is_empty() {
            return None;
        }
        Some(open[(n as usize) % open.len()].1.clone())
    }
}

struct Shared {
    cfg: SimConfig,
    knobs: Mutex<ReceiptKnobs>,
    faults: Mutex<SmscFaults>,
    held: Mutex<Vec<(Session, DeliverSm)>>,
    stats: SimStats,
    next_id: AtomicU64,
    received: Mutex<Vec<Received>>,
    /// Bound receiver and transceiver sessions, with their system_id.
    receivers: Mutex<Vec<(String, Session)>>,
    log: Option<Mutex<Box<dyn std::io::Write + Send>>>,
}

/// A running simulator.
#[derive(Clone)]
pub struct Simulator {
    shared: Arc<Shared>,
    pub addr: SocketAddr,
}

impl Simulator {
    /// Bind and serve in the background.
    pub async fn start(cfg: SimConfig) -> std::io::Result<Simulator> {
        let listener = TcpListener::bind(cfg.bind).await?;
        let addr = listener.local_addr()?;
        let log: Option<Mutex<Box<dyn std::io::Write + Send>>> = match cfg.pdu_log.as_deref() {
            None => None,
            Some("-") => Some(Mutex::new(Box::new(std::io::stdout()))),
            Some(path) => Some(Mutex::new(Box::new(std::io::BufWriter::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            )))),
        };
        let knobs = ReceiptKnobs {
            delay: cfg.dlr_delay,
            ..Default::default()
        };
        let shared = Arc::new(Shared {
            knobs: Mutex::new(knobs),
            faults: Mutex::new(SmscFaults::default()),
            held: Mutex::new(vec![]),
            cfg,
            stats: SimStats::default(),
            next_id: AtomicU64::new(1),
            received: Mutex::new(vec![]),
            receivers: Mutex::new(vec![]),
            log,
        });
        let sh = shared.clone();
        tokio::spawn(async move {
            loop {
                let (sock, _) = match listener.accept().await {
                    Ok(x) => x,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = sock.set_nodelay(true);
                sh.stats.connections.fetch_add(1, Ordering::Relaxed);
                let cfg = SessionConfig {
                    enquire_link_interval: None,
                    inactivity_timeout: None,
                    ..SessionConfig::default()
                };
                let (s, rx) = session::start(sock, cfg);
                tokio::spawn(serve(sh.clone(), s, rx));
            }
        });
        Ok(Simulator { shared, addr })
    }

    /// Submits received so far (when `keep_messages`).
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().clone()
    }

    /// Number of submit_sm received.
    pub fn submit_count(&self) -> u64 {
        self.shared.stats.submit_sm.load(Ordering::Relaxed)
    }

    /// Counters.
    pub fn stats(&self) -> &SimStats {
        &self.shared.stats
    }

    /// Turn faults on or off (every one at once).
    pub fn set_faults(&self, f: SmscFaults) {
        *self.shared.faults.lock() = f;
    }

    /// The faults on now.
    pub fn faults(&self) -> SmscFaults {
        self.shared.faults.lock().clone()
    }

    /// Change how receipts are sent.
    pub fn set_receipts(&self, k: ReceiptKnobs) {
        *self.shared.knobs.lock() = k;
    }

    /// Receipts held so far (`ReceiptKnobs::hold`).
    pub fn held_receipts(&self) -> usize {
        self.shared.held.lock().len()
    }

    /// Send every held receipt now, `window` at a time per session; returns how many were
    /// acknowledged.
    pub async fn release_receipts(&self, window: usize) -> usize {
        let held: Vec<(Session, DeliverSm)> = std::mem::take(&mut *self.shared.held.lock());
        let sem = Arc::new(tokio::sync::Semaphore::new(window.max(1)));
        let mut tasks = Vec::with_capacity(held.len());
        for (s, pdu) in held {
            let Ok(permit) = sem.clone().acquire_owned().await else {
                break;
            };
            let sh = self.shared.clone();
            tasks.push(tokio::spawn(async move {
                let ok =
                    matches!(s.request(pdu).await, Ok(r) if r.status() == CommandStatus::EsmeRok);
                sh.stats.deliver_sm_sent.fetch_add(1, Ordering::Relaxed);
                drop(permit);
                ok
            }));
        }
        let mut n = 0;
        for t in tasks {
            if matches!(t.await, Ok(true)) {
                n += 1;
            }
        }
        n
    }

    /// Send a `deliver_sm` to every bound receiver; returns how many acknowledged it with
    /// ESME_ROK.
    pub async fn inject(&self, pdu: DeliverSm) -> usize {
        let sessions: Vec<Session> = self
            .shared
            .receivers
            .lock()
            .iter()
            .map(|(_, s)| s)
            .filter(|s| !s.is_closed())
            .cloned()
            .collect();
        let mut n = 0;
        for s in sessions {
            if let Ok(r) = s.request(pdu.clone()).await {
                self.shared
                    .stats
                    .deliver_sm_sent
                    .fetch_add(1, Ordering::Relaxed);
                if r.status() == CommandStatus::EsmeRok {
                    n += 1;
                }
            }
        }
        n
    }

    /// Send a receipt for SMSC id `id` now (the current knobs' `stat` and TLVs) to every bound
    /// receiver, e.g. for a message another ESME submitted before a switch; returns how many
    /// acknowledged it with ESME_ROK.
    pub async fn inject_receipt(&self, id: &str, from: &str, to: &str) -> usize {
        let k = self.shared.knobs.lock().clone();
        self.inject(receipt_pdu(&k, id, from, to)).await
    }

    /// Send an MO `deliver_sm` to every bound receiver; returns how many answered (whatever
    /// the status).
    pub async fn inject_mo(&self, from: &str, to: &str, content: &[u8]) -> usize {
        self.inject_mo_statuses(from, to, content).await.len()
    }

    /// Send an MO `deliver_sm` to every bound receiver; returns each `deliver_sm_resp`
    /// status.
    pub async fn inject_mo_statuses(
        &self,
        from: &str,
        to: &str,
        content: &[u8],
    ) -> Vec<CommandStatus> {
        let sessions: Vec<Session> = self
            .shared
            .receivers
            .lock()
            .iter()
            .map(|(_, s)| s)
            .filter(|s| !s.is_closed())
            .cloned()
            .collect();
        let mut statuses = vec![];
        for s in sessions {
            let pdu = DeliverSm::builder()
                .source_addr_ton(Ton::International)
                .source_addr_npi(Npi::Isdn)
                .source_addr(c_octet(from))
                .dest_addr_ton(Ton::International)
                .dest_addr_npi(Npi::Isdn)
                .destination_addr(c_octet(to))
                .data_coding(DataCoding::McSpecific)
                .short_message(octets(content))
                .build();
            if let Ok(r) = s.request(pdu).await {
                statuses.push(r.status());
                self.shared
                    .stats
                    .deliver_sm_sent
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        statuses
    }
}

fn cs(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .trim_end_matches('\0')
        .to_string()
}

async fn serve(sh: Arc<Shared>, s: Session, mut rx: tokio::sync::mpsc::Receiver<Command>) {
    let mut system_id = String::new();
    // A transmitter session cannot take deliver_sm: its receipts go to a receiver session.
    let mut can_receive = false;
    let mut rng_state: u64 = 0x9E37_79B9_7F4A_7C15 ^ (sh.stats.connections.load(Ordering::Relaxed));
    while let Some(cmd) = rx.recv().await {
        let seq = cmd.sequence_number;
        if let Some(log) = &sh.log {
            let line = serde_json::json!({
                "ts": smsgate_core::model::message::now_ms(),
                "command_id": format!("{:?}", cmd.id()),
                "sequence_number": seq,
                "pdu": format!("{:?}", cmd.pdu()),
            });
            let mut w = log.lock();
            let _ = writeln!(w, "{line}");
            let _ = w.flush();
        }
        match cmd.pdu() {
            Some(Pdu::BindTransceiver(b)) => {
                system_id = cs(b.system_id.as_ref());
                let r = BindTransceiverResp::builder()
                    .system_id(c_octet("smsc-sim"))
                    .build();
                if accept_bind(&sh, &s, seq, r).await {
                    can_receive = true;
                    sh.receivers.lock().push((system_id.clone(), s.clone()));
                }
            }
            Some(Pdu::BindTransmitter(b)) => {
                system_id = cs(b.system_id.as_ref());
                let r = BindTransmitterResp::builder()
                    .system_id(c_octet("smsc-sim"))
                    .build();
                accept_bind(&sh, &s, seq, r).await;
            }
            Some(Pdu::BindReceiver(b)) => {
                system_id = cs(b.system_id.as_ref());
                let r = BindReceiverResp::builder()
                    .system_id(c_octet("smsc-sim"))
                    .build();
                if accept_bind(&sh, &s, seq, r).await {
                    can_receive = true;
                    sh.receivers.lock().push((system_id.clone(), s.clone()));
                }
            }
            Some(Pdu::SubmitSm(sm)) => {
                let (stall, throttle_all) = {
                    let f = sh.faults.lock();
                    (f.stall, f.throttle_all)
                };
                if stall {
                    sh.stats.stalled.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                // xorshift for the throttled share
                rng_state ^= rng_state << 13;
                rng_state ^= rng_state >> 7;
                rng_state ^= rng_state << 17;
                if throttle_all
                    || (sh.cfg.throttle_percent > 0
                        && (rng_state % 100) < sh.cfg.throttle_percent as u64)
                {
                    sh.stats.throttled.fetch_add(1, Ordering::Relaxed);
                    let _ = s
                        .respond(
                            seq,
                            CommandStatus::EsmeRthrottled,
                            SubmitSmResp::builder().build(),
                        )
                        .await;
                    continue;
                }
                let n = sh.next_id.fetch_add(1, Ordering::Relaxed);
                let knobs = sh.knobs.lock().clone();
                let id = if sh.cfg.hex_ids && !knobs.decimal_in_resp {
                    format!("{n:x}")
                } else {
                    n.to_string()
                };
                let receipt_id = if knobs.decimal_in_receipt {
                    n.to_string()
                } else if knobs.decimal_in_resp {
                    format!("{n:X}")
                } else {
                    id.clone()
                };
                let rd: u8 = sm.registered_delivery.into();
                if sh.cfg.keep_messages {
                    sh.received.lock().push(Received {
                        system_id: system_id.clone(),
                        message_id: id.clone(),
                        source_addr: cs(sm.source_addr.as_ref()),
                        source_addr_ton: sm.source_addr_ton.into(),
                        source_addr_npi: sm.source_addr_npi.into(),
                        destination_addr: cs(sm.destination_addr.as_ref()),
                        dest_addr_ton: sm.dest_addr_ton.into(),
                        dest_addr_npi: sm.dest_addr_npi.into(),
                        esm_class: sm.esm_class.into(),
                        data_coding: sm.data_coding.into(),
                        priority_flag: sm.priority_flag.into(),
                        registered_delivery: rd,
                        validity_period: cs(sm.validity_period.as_ref()),
                        short_message: sm.short_message().as_ref().to_vec(),
                        sar: sar_of(sm),
                    });
                }
                sh.stats.submit_sm.fetch_add(1, Ordering::Relaxed);
                let receipt = match (knobs.delay, rd & 0x03 != 0) {
                    (Some(delay), true) => Some((
                        delay,
                        receipt_pdu(
                            &knobs,
                            &receipt_id,
                            &cs(sm.destination_addr.as_ref()),
                            &cs(sm.source_addr.as_ref()),
                        ),
                    )),
                    _ => None,
                };
                let r = SubmitSmResp::builder().message_id(c_octet(&id)).build();
                // Receipts of a transmitter go to a receiver session, as an SMSC does.
                let rs = if can_receive {
                    Some(s.clone())
                } else {
                    sh.receiver_for(&system_id, n)
                };
                let receipt = receipt.and_then(|r| Some((r, rs?)));
                match receipt {
                    Some(((_, pdu), rs)) if knobs.before_resp => {
                        let (s2, sh2) = (rs, sh.clone());
                        tokio::spawn(async move {
                            if s2.request(pdu).await.is_ok() {
                                sh2.stats.deliver_sm_sent.fetch_add(1, Ordering::Relaxed);
                            }
                        });
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        let _ = s.respond(seq, CommandStatus::EsmeRok, r).await;
                    }
                    Some(((_, pdu), rs)) if knobs.hold => {
                        let _ = s.respond(seq, CommandStatus::EsmeRok, r).await;
                        sh.held.lock().push((rs, pdu));
                    }
                    Some(((delay, pdu), rs)) => {
                        let _ = s.respond(seq, CommandStatus::EsmeRok, r).await;
                        let (s2, sh2, sid) = (rs, sh.clone(), system_id.clone());
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            sh2.deliver_receipt(&sid, s2, pdu, n).await;
                        });
                    }
                    None => {
                        let _ = s.respond(seq, CommandStatus::EsmeRok, r).await;
                    }
                }
            }
            _ => s.nack(seq, CommandStatus::EsmeRinvcmdid).await,
        }
    }
    if s.close_reason() == Some(session::CloseReason::Unbound) {
        sh.stats.unbinds.fetch_add(1, Ordering::Relaxed);
    }
}

/// Answer a bind with `resp`: accepted (true) unless [`SmscFaults::refuse_binds`] says
/// otherwise. An accepted session is closed after [`SmscFaults::flap_ms`] when set.
async fn accept_bind(sh: &Arc<Shared>, s: &Session, seq: u32, resp: impl Into<Pdu>) -> bool {
    let refuse = sh.faults.lock().refuse_binds;
    if refuse != 0 {
        sh.stats.binds_refused.fetch_add(1, Ordering::Relaxed);
        let _ = s.respond(seq, CommandStatus::from(refuse), resp).await;
        return false;
    }
    sh.stats.binds.fetch_add(1, Ordering::Relaxed);
    let now = sh.stats.bound_now.fetch_add(1, Ordering::SeqCst) + 1;
    sh.stats.bound_max.fetch_max(now, Ordering::SeqCst);
    let _ = s.respond(seq, CommandStatus::EsmeRok, resp).await;
    let (sh, s) = (sh.clone(), s.clone());
    tokio::spawn(async move {
        let bound_at = tokio::time::Instant::now();
        while !s.is_closed() {
            tokio::select! {
                _ = s.closed() => break,
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            let flap = sh.faults.lock().flap_ms;
            if flap > 0 && bound_at.elapsed() >= Duration::from_millis(flap) {
                sh.stats.flaps.fetch_add(1, Ordering::Relaxed);
                s.close(session::CloseReason::Local);
                break;
            }
        }
        sh.stats.bound_now.fetch_sub(1, Ordering::SeqCst);
    });
    true
}

/// The receipt `deliver_sm` for SMSC id `id`.
fn receipt_pdu(k: &ReceiptKnobs, id: &str, from: &str, to: &str) -> DeliverSm {
    let now = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:02}{:02}{:02}{:02}{:02}",
        now.year() % 100,
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute()
    );
    let text = format!(
        "id:{id} sub:001 dlvrd:{} submit date:{stamp} done date:{stamp} stat:{} err:000 text:",
        if k.stat == "DELIVRD" { "001" } else { "000" },
        k.stat
    );
    let mut pdu = DeliverSm::builder()
        .source_addr(c_octet(from))
        .destination_addr(c_octet(to))
        .esm_class(EsmClass::from(0x04))
        .short_message(octets(text.as_bytes()))
        .build();
    if k.tlvs {
        let mut rid = id.as_bytes().to_vec();
        rid.push(0);
        pdu.push_tlv(crate::delivery_tlv(&smsgate_core::model::Tlv {
            tag: 0x001E,
            value: rid,
        }));
        pdu.push_tlv(crate::delivery_tlv(&smsgate_core::model::Tlv {
            tag: 0x0427,
            value: vec![crate::receipt::state_of_stat(&k.stat)],
        }));
    }
    pdu
}

/// A command_status in decimal or `0x` hexadecimal.
fn parse_status(v: &str) -> Option<u32> {
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// Serve the control HTTP port.
pub async fn serve_control(sim: Simulator, addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    loop {
        let (sock, _) = listener.accept().await?;
        let sim = sim.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let sim = sim.clone();
                async move { Ok::<_, std::convert::Infallible>(control(sim, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(sock), svc)
                .await;
        });
    }
}

async fn control(sim: Simulator, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let json = |v: serde_json::Value| {
        let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
        r.headers_mut().insert(
            "content-type",
            hyper::header::HeaderValue::from_static("application/json"),
        );
        r
    };
    match req.uri().path() {
        "/stats" => json(serde_json::to_value(sim.stats()).unwrap_or_default()),
        "/messages" => json(serde_json::to_value(sim.received()).unwrap_or_default()),
        "/faults" => {
            if req.method() == hyper::Method::POST {
                let q = req.uri().query().unwrap_or("");
                let mut f = SmscFaults::default();
                for (k, v) in form_urlencoded::parse(q.as_bytes()) {
                    let on = matches!(&*v, "1" | "true" | "yes" | "on");
                    match &*k {
                        "refuse_binds" => f.refuse_binds = parse_status(&v).unwrap_or(0),
                        "stall" => f.stall = on,
                        "throttle_all" => f.throttle_all = on,
                        "flap_ms" => f.flap_ms = v.parse().unwrap_or(0),
                        _ => {}
                    }
                }
                sim.set_faults(f);
            }
            json(serde_json::to_value(sim.faults()).unwrap_or_default())
        }
        "/mo" => {
            let q = req.uri().query().unwrap_or("");
            let mut from = String::new();
            let mut to = String::new();
            let mut content = String::new();
            for (k, v) in form_urlencoded::parse(q.as_bytes()) {
                match &*k {
                    "from" => from = v.into_owned(),
                    "to" => to = v.into_owned(),
                    "content" => content = v.into_owned(),
                    _ => {}
                }
            }
            let n = sim.inject_mo(&from, &to, content.as_bytes()).await;
            json(serde_json::json!({ "delivered_to_sessions": n }))
        }
        _ => {
            let mut r = Response::new(Full::new(Bytes::from_static(b"not found")));
            *r.status_mut() = hyper::StatusCode::NOT_FOUND;
            r
        }
    }
}
