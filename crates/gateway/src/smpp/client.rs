//! SMPP client connectors: connect, bind, keep the link up, and send the connector's queue.
//!
//! One task per connector: connect (TCP or TLS) → bind (with `bind_to`) → while bound, take
//! messages from `submit.sm.<cid>` and send them with at most `window` outstanding and at most
//! `submit_throughput` per second → on loss, reconnect after `con_loss_delay` (or after
//! `con_fail_delay` when connecting failed, doubled on each failure in a row up to a minute).
//! A message is acked in the queue only after the SMSC answered; temporary errors (timeouts,
//! link loss, `ESME_RSYSERR`...) requeue it after `requeue_delay` with a retry spent,
//! `ESME_RTHROTTLED` pauses the connector and requeues without spending one (see
//! [`super::backoff`]), permanent errors end it with a failure record. A session whose SMSC
//! answered no submit for a whole response timeout is closed and bound again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rusmpp::pdus::{BindReceiver, BindTransceiver, BindTransmitter, SubmitSm};
use rusmpp::types::COctetString;
use rusmpp::values::{
    DataCoding, EsmClass, InterfaceVersion, Npi, PriorityFlag, RegisteredDelivery,
    ReplaceIfPresentFlag, ServiceType, Ton,
};
use rusmpp::{Command, CommandStatus, Pdu};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use smsgate_core::config::{BindType, SmppClientConfig};
use smsgate_core::model::{Address, Message};
use smsgate_core::stats::{LinkStats, SmppcStats, Stats};
use smsgate_core::trace;
use smsgate_queue::broker::{submit_queue, Broker, Delivery};

use super::backoff::{reconnect_delay, StallDetector, ThrottleBackoff};
use crate::consume::Consumer;
use crate::delivery::Attempt;
use smsgate_smpp::session::{self, Session, SessionConfig, SessionError};

pub use smsgate_core::model::ConnectorState;

/// Handle of a running connector.
pub struct ConnectorHandle {
    pub cid: String,
    pub state: watch::Receiver<ConnectorState>,
    stop: CancellationToken,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ConnectorHandle {
    /// Stop: finish the window in flight, unbind, and wait for the task to end.
    pub async fn stop(&self) {
        self.stop.cancel();
        let t = self.task.lock().take();
        if let Some(t) = t {
            let _ = t.await;
        }
    }
}

/// What a connector needs from the rest of the gateway.
#[derive(Clone)]
pub struct ConnectorDeps {
    pub broker: Arc<dyn Broker>,
    pub stats: Arc<Stats>,
    /// What is done with a message before and after it is sent.
    pub deliveries: Arc<crate::delivery::Deliveries>,
    /// Receipts and MO from the SMSC.
    pub inbound: Arc<crate::inbound::Inbound>,
    /// Cluster mode: the connector binds only while this node holds its lease.
    pub lease: Option<Arc<crate::cluster::Leases>>,
}

/// Start connector `cfg`.
pub fn spawn(cfg: Arc<SmppClientConfig>, deps: ConnectorDeps) -> Arc<ConnectorHandle> {
    let (state_tx, state_rx) = watch::channel(ConnectorState::Connecting);
    let stop = CancellationToken::new();
    let handle = Arc::new(ConnectorHandle {
        cid: cfg.cid.clone(),
        state: state_rx,
        stop: stop.clone(),
        task: Mutex::new(None),
    });
    let task = tokio::spawn(run(cfg, deps, state_tx, stop));
    *handle.task.lock() = Some(task);
    handle
}

fn cstr<const MIN: usize, const MAX: usize>(s: &str) -> COctetString<MIN, MAX> {
    smsgate_smpp::c_octet(s)
}

async fn connect(cfg: &SmppClientConfig) -> std::io::Result<Box<dyn AsyncStream>> {
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let tcp = tokio::time::timeout(
        Duration::from_secs(cfg.bind_timeout_s.max(1)),
        TcpStream::connect(&addr),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timeout"))??;
    tcp.set_nodelay(true)?;
    if !cfg.ssl {
        return Ok(Box::new(tcp));
    }
    smsgate_smpp::tls::connect(tcp, &cfg.host, cfg.tls_verify).await
}

pub use smsgate_smpp::tls::AsyncStream;

async fn bind(cfg: &SmppClientConfig, s: &Session) -> Result<(), String> {
    let system_id = cstr::<1, 16>(&cfg.username);
    let password = cstr::<1, 9>(&cfg.password);
    let system_type = cstr::<1, 13>(cfg.systype.as_deref().unwrap_or(""));
    let range = cstr::<1, 41>(cfg.addr_range.as_deref().unwrap_or(""));
    let ton = Ton::from(cfg.bind_ton);
    let npi = Npi::from(cfg.bind_npi);
    let v = InterfaceVersion::Smpp3_4;
    let pdu: Pdu = match cfg.bind {
        BindType::Transceiver => BindTransceiver::builder()
            .system_id(system_id)
            .password(password)
            .system_type(system_type)
            .interface_version(v)
            .addr_ton(ton)
            .addr_npi(npi)
            .address_range(range)
            .build()
            .into(),
        BindType::Transmitter => BindTransmitter::builder()
            .system_id(system_id)
            .password(password)
            .system_type(system_type)
            .interface_version(v)
            .addr_ton(ton)
            .addr_npi(npi)
            .address_range(range)
            .build()
            .into(),
        BindType::Receiver => BindReceiver::builder()
            .system_id(system_id)
            .password(password)
            .system_type(system_type)
            .interface_version(v)
            .addr_ton(ton)
            .addr_npi(npi)
            .address_range(range)
            .build()
            .into(),
    };
    let resp = s
        .request_with_timeout(pdu, Duration::from_secs(cfg.bind_timeout_s.max(1)))
        .await
        .map_err(|e| format!("bind: {e}"))?;
    if resp.status() != CommandStatus::EsmeRok {
        return Err(format!("bind refused: {:?}", resp.status()));
    }
    Ok(())
}

async fn run(
    cfg: Arc<SmppClientConfig>,
    deps: ConnectorDeps,
    state: watch::Sender<ConnectorState>,
    stop: CancellationToken,
) {
    let stats = deps.stats.smppc(&cfg.cid);
    let link = deps.stats.link(&cfg.cid);
    let queue = submit_queue(&cfg.cid);
    let lease = deps.lease.clone().filter(|l| l.required(&cfg.cid));
    // Connections or binds failed in a row: the wait before the next grows with it.
    let mut failures: u32 = 0;
    loop {
        if let Some(l) = &lease {
            // A node that cannot reach the queue broker leaves the connector to one that can.
            tokio::select! {
                _ = broker_reachable(&deps.broker, &cfg.cid) => {}
                _ = stop.cancelled() => break,
            }
            tokio::select! {
                _ = l.acquire(&cfg.cid) => {}
                _ = stop.cancelled() => break,
            }
        }
        let _ = state.send(ConnectorState::Connecting);
        let scfg = SessionConfig {
            response_timeout: Duration::from_secs(cfg.response_timeout_s.max(1)),
            enquire_link_interval: Some(Duration::from_secs(cfg.enquire_link_interval_s.max(1))),
            inactivity_timeout: Some(Duration::from_secs(cfg.inactivity_timeout_s.max(1))),
            pdu_read_timeout: Duration::from_secs(cfg.pdu_read_timeout_s.max(1)),
            max_pdu_len: 64 * 1024,
            clock: Some(deps.stats.smppc_clock(&cfg.cid)),
            elink_count: Some(session::ElinkCount::Sent({
                let stats = stats.clone();
                Arc::new(move || stats.elink_count.inc())
            })),
        };
        let attempt = tokio::select! {
            r = connect(&cfg) => r.map_err(|e| e.to_string()),
            _ = stop.cancelled() => break,
        };
        let delay = match attempt {
            Ok(stream) => {
                stats.connected_count.inc();
                let (session, incoming) = session::start(stream, scfg);
                let bound = tokio::select! {
                    r = bind(&cfg, &session) => r,
                    _ = stop.cancelled() => { session.close(session::CloseReason::Local); break; }
                };
                match bound {
                    Ok(()) => {
                        failures = 0;
                        tracing::info!(cid = %cfg.cid, host = %cfg.host, port = cfg.port, bind = ?cfg.bind, "connector bound");
                        stats.bound_count.set(1);
                        let _ = state.send(ConnectorState::Bound);
                        // Cluster: unbind as soon as the lease is lost (fencing), or once
                        // the broker has been unreachable for a lease period (the lease is
                        // then given up below, for a node that reaches it).
                        let broker_lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
                        let keeper = lease.clone().map(|l| {
                            let (s, cid) = (session.clone(), cfg.cid.clone());
                            let (broker, lost) = (deps.broker.clone(), broker_lost.clone());
                            tokio::spawn(async move {
                                tokio::select! {
                                    _ = l.hold(&cid) => {}
                                    _ = broker_unreachable_for(&broker, l.ttl) => {
                                        tracing::warn!(%cid, "the queue broker is unreachable: connector unbound for a node that reaches it");
                                        lost.store(true, std::sync::atomic::Ordering::SeqCst);
                                    }
                                }
                                s.close(session::CloseReason::Local);
                            })
                        });
                        let inbound = tokio::spawn(handle_incoming(
                            session.clone(),
                            incoming,
                            stats.clone(),
                            cfg.clone(),
                            deps.inbound.clone(),
                        ));
                        if cfg.bind != BindType::Receiver {
                            let sender = Arc::new(Sender {
                                session: session.clone(),
                                deps: deps.clone(),
                                cfg: cfg.clone(),
                                stats: stats.clone(),
                                link: link.clone(),
                                queue: queue.clone(),
                                pause: ThrottleBackoff::default(),
                                stall: StallDetector::default(),
                            });
                            send_loop(&sender, &stop).await;
                        } else {
                            tokio::select! {
                                _ = session.closed() => {}
                                _ = stop.cancelled() => {}
                            }
                        }
                        if stop.is_cancelled() && !session.is_closed() {
                            session.unbind().await;
                        }
                        inbound.abort();
                        if let Some(k) = keeper {
                            k.abort();
                        }
                        stats.bound_count.set(0);
                        stats.disconnected_count.inc();
                        let _ = state.send(ConnectorState::Disconnected);
                        let _ = deps.broker.release_all(&queue).await;
                        if broker_lost.load(std::sync::atomic::Ordering::SeqCst) {
                            if let Some(l) = &lease {
                                l.release(&cfg.cid).await;
                            }
                        }
                        tracing::warn!(cid = %cfg.cid, reason = ?session.close_reason(), "connector session ended");
                        if stop.is_cancelled() || !cfg.con_loss_retry {
                            break;
                        }
                        cfg.con_loss_delay
                    }
                    Err(e) => {
                        session.close(session::CloseReason::Local);
                        stats.disconnected_count.inc();
                        link.bind_failed_count.inc();
                        failures += 1;
                        let delay = reconnect_delay(cfg.con_fail_delay, failures);
                        tracing::warn!(cid = %cfg.cid, error = %e, failures, retry_in_s = delay, "bind failed");
                        if !cfg.con_fail_retry {
                            break;
                        }
                        delay
                    }
                }
            }
            Err(e) => {
                link.connect_failed_count.inc();
                failures += 1;
                let delay = reconnect_delay(cfg.con_fail_delay, failures);
                tracing::warn!(cid = %cfg.cid, error = %e, failures, retry_in_s = delay, "connection failed");
                let _ = state.send(ConnectorState::Disconnected);
                if !cfg.con_fail_retry {
                    break;
                }
                delay
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(delay)) => {}
            _ = stop.cancelled() => break,
        }
    }
    if let Some(l) = &lease {
        l.release(&cfg.cid).await;
    }
    let _ = state.send(ConnectorState::Stopped);
}

/// Resolves once the queue broker answers (at once when it does; else checked every second).
async fn broker_reachable(broker: &Arc<dyn Broker>, cid: &str) {
    let mut logged = false;
    while let Err(e) = broker.health().await {
        if !logged {
            tracing::warn!(cid, error = %e, "the queue broker is unreachable: connector waits before taking its lease");
            logged = true;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Resolves once the queue broker has failed every check (a third of `period` apart) for
/// `period`; never while it answers.
async fn broker_unreachable_for(broker: &Arc<dyn Broker>, period: Duration) {
    let mut failing_since: Option<std::time::Instant> = None;
    loop {
        tokio::time::sleep(period / 3).await;
        match broker.health().await {
            Ok(()) => failing_since = None,
            Err(_) => {
                if failing_since
                    .get_or_insert_with(std::time::Instant::now)
                    .elapsed()
                    >= period
                {
                    return;
                }
            }
        }
    }
}

/// Requests from the SMSC: receipts and MO (`deliver_sm`, `data_sm`), handled concurrently
/// (up to 256 at once) and answered once what they carry is durably queued.
async fn handle_incoming(
    s: Session,
    mut rx: tokio::sync::mpsc::Receiver<Command>,
    stats: Arc<SmppcStats>,
    cfg: Arc<SmppClientConfig>,
    inbound: Arc<crate::inbound::Inbound>,
) {
    let limit = Arc::new(tokio::sync::Semaphore::new(256));
    while let Some(cmd) = rx.recv().await {
        let seq = cmd.sequence_number;
        let inc = match cmd.pdu() {
            Some(Pdu::DeliverSm(d)) => {
                stats.deliver_sm_count.inc();
                crate::inbound::Incoming {
                    source: Address {
                        addr: smsgate_smpp::cstring(d.source_addr.as_ref()),
                        ton: d.source_addr_ton.into(),
                        npi: d.source_addr_npi.into(),
                    },
                    destination: Address {
                        addr: smsgate_smpp::cstring(d.destination_addr.as_ref()),
                        ton: d.dest_addr_ton.into(),
                        npi: d.dest_addr_npi.into(),
                    },
                    esm_class: d.esm_class.into(),
                    data_coding: d.data_coding.into(),
                    protocol_id: d.protocol_id,
                    priority: d.priority_flag.into(),
                    validity_period: smsgate_smpp::cstring(d.validity_period.as_ref()),
                    short_message: d.short_message().as_ref().to_vec(),
                    tlvs: d.tlvs().iter().map(smsgate_smpp::tlv_to_model).collect(),
                }
            }
            Some(Pdu::DataSm(d)) => {
                stats.data_sm_count.inc();
                crate::inbound::Incoming {
                    source: Address {
                        addr: smsgate_smpp::cstring(d.source_addr.as_ref()),
                        ton: d.source_addr_ton.into(),
                        npi: d.source_addr_npi.into(),
                    },
                    destination: Address {
                        addr: smsgate_smpp::cstring(d.destination_addr.as_ref()),
                        ton: d.dest_addr_ton.into(),
                        npi: d.dest_addr_npi.into(),
                    },
                    esm_class: d.esm_class.into(),
                    data_coding: d.data_coding.into(),
                    protocol_id: 0,
                    priority: 0,
                    validity_period: String::new(),
                    short_message: vec![],
                    tlvs: d.tlvs().iter().map(smsgate_smpp::tlv_to_model).collect(),
                }
            }
            _ => {
                s.nack(seq, CommandStatus::EsmeRinvcmdid).await;
                continue;
            }
        };
        let is_data = cmd.id() == rusmpp::CommandId::DataSm;
        let Ok(permit) = limit.clone().acquire_owned().await else {
            break;
        };
        let (s2, cfg2, inbound2) = (s.clone(), cfg.clone(), inbound.clone());
        tokio::spawn(async move {
            let status = inbound2.handle(&cfg2, inc).await;
            let _ = if is_data {
                s2.respond(seq, status, rusmpp::pdus::DataSmResp::builder().build())
                    .await
            } else {
                s2.respond(seq, status, rusmpp::pdus::DeliverSmResp::builder().build())
                    .await
            };
            drop(permit);
        });
    }
}

/// Token-bucket-free pacing: at most `rate` sends per second, evenly spaced.
struct Throttle {
    interval: Option<Duration>,
    next: Instant,
}

impl Throttle {
    fn new(rate: f64) -> Throttle {
        Throttle {
            interval: (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate)),
            next: Instant::now(),
        }
    }
    async fn wait(&mut self) {
        let Some(iv) = self.interval else { return };
        let now = Instant::now();
        if self.next > now {
            tokio::time::sleep_until(self.next.into()).await;
        } else if now - self.next > iv * 10 {
            self.next = now; // do not burst after an idle period
        }
        self.next += iv;
    }
}

/// Deliveries taken from the queue per hand-out.
const HANDOUT_BATCH: usize = 256;

/// How many deliveries one hand-out (one durable commit) takes: at least the window and up to
/// [`HANDOUT_BATCH`], so that the commits do not pace the connector (with a window's worth per
/// commit, a window of 32 delivered 60-63% of the accepted rate during a load: see README
/// "Benchmark"); a throttled connector takes at most about a second's worth, so that what it
/// holds handed out stays small.
fn handout_batch(window: usize, submit_throughput: f64) -> usize {
    let mut n = window.max(HANDOUT_BATCH);
    if submit_throughput > 0.0 {
        n = n.min(submit_throughput.ceil() as usize);
    }
    n.max(window).max(1)
}

/// One bound session's sending side: what each send needs, shared by the sends in flight.
struct Sender {
    session: Session,
    deps: ConnectorDeps,
    cfg: Arc<SmppClientConfig>,
    stats: Arc<SmppcStats>,
    link: Arc<LinkStats>,
    queue: String,
    /// The pause after `ESME_RTHROTTLED`.
    pause: ThrottleBackoff,
    /// When a submit was last answered: tells a stalled SMSC from a slow one.
    stall: StallDetector,
}

async fn send_loop(sender: &Arc<Sender>, stop: &CancellationToken) {
    let (cfg, session, queue) = (&sender.cfg, &sender.session, sender.queue.as_str());
    let consumer = Consumer::new(sender.deps.broker.clone(), queue, cfg.window);
    let batch_size = handout_batch(consumer.size(), cfg.submit_throughput);
    let mut throttle = Throttle::new(cfg.submit_throughput);
    // Ids being sent: a second copy of one (republished after a lost confirm, see
    // `Message::republished`) waits until the first is done.
    let in_flight: Arc<Mutex<std::collections::HashSet<uuid::Uuid>>> = Arc::default();
    'outer: loop {
        tokio::select! {
            _ = consumer.ready() => {}
            _ = session.closed() => break,
            _ = stop.cancelled() => break,
        }
        // Handing out is a durable commit: take several windows' worth at once (see
        // `handout_batch`); what is not sent when the session closes is put back.
        let mut batch = consumer.take(batch_size).await.into_iter();
        while let Some(d) = batch.next() {
            let permit = tokio::select! {
                biased;
                _ = session.closed() => {
                    consumer.put_back(std::iter::once(d).chain(batch.by_ref())).await;
                    break 'outer;
                }
                // Stopping: what was taken and not sent goes back (the sends in flight end).
                _ = stop.cancelled() => {
                    consumer.put_back(std::iter::once(d).chain(batch.by_ref())).await;
                    break 'outer;
                }
                p = consumer.permit() => p,
            };
            let Some(permit) = permit else { break 'outer };
            let id = d.message.id;
            if !in_flight.lock().insert(id) {
                // Another copy of this message is being sent (a redelivery after a lost ack, or
                // a republished copy): look at this one again once that is done, as a possible
                // duplicate (see `Deliveries::before_send`).
                let mut copy = d.message.clone();
                copy.republished = true;
                let _ = sender
                    .deps
                    .broker
                    .requeue(queue, d.tag, &copy, Duration::from_secs(1))
                    .await;
                continue;
            }
            // Throttled by the SMSC: wait out the pause (the session may end meanwhile).
            tokio::select! {
                biased;
                _ = session.closed() => {
                    in_flight.lock().remove(&id);
                    consumer.put_back(std::iter::once(d).chain(batch.by_ref())).await;
                    break 'outer;
                }
                _ = stop.cancelled() => {
                    in_flight.lock().remove(&id);
                    consumer.put_back(std::iter::once(d).chain(batch.by_ref())).await;
                    break 'outer;
                }
                _ = sender.pause.wait() => {}
            }
            throttle.wait().await;
            let (sender, ids) = (sender.clone(), in_flight.clone());
            consumer.spawn(async move {
                // The permit is the SMPP window: it is given back as soon as the SMSC
                // answered, before the (durable) bookkeeping.
                sender.send_one(d, permit).await;
                ids.lock().remove(&id);
            });
        }
    }
    // Drain: wait for every outstanding submit to be answered and recorded. No time limit:
    // every request is bounded by `res_to` (or fails at once when the session closes).
    consumer.finish(None).await;
}

enum Outcome {
    Sent(String),
    /// Never written to the SMSC: put back at once, no retry consumed.
    NotSent,
    /// `ESME_RTHROTTLED`: tried again after this pause, no retry consumed.
    Throttled(Duration),
    Temporary(String),
    Permanent(String),
}

fn build_submit(m: &Message, part: &smsgate_core::model::Part) -> SubmitSm {
    let mut sm = SubmitSm::builder()
        .service_type(ServiceType::new(cstr::<1, 6>(&m.service_type)))
        .source_addr_ton(Ton::from(m.source.ton))
        .source_addr_npi(Npi::from(m.source.npi))
        .source_addr(cstr::<1, 21>(&m.source.addr))
        .dest_addr_ton(Ton::from(m.destination.ton))
        .dest_addr_npi(Npi::from(m.destination.npi))
        .destination_addr(cstr::<1, 21>(&m.destination.addr))
        .esm_class(EsmClass::from(part.esm_class))
        .protocol_id(m.protocol_id)
        .priority_flag(PriorityFlag::from(m.priority))
        .schedule_delivery_time(smsgate_smpp::time_field(&m.schedule_delivery_time))
        .validity_period(smsgate_smpp::time_field(&m.validity_period))
        .registered_delivery(RegisteredDelivery::from(m.registered_delivery))
        .replace_if_present_flag(ReplaceIfPresentFlag::from(m.replace_if_present))
        .data_coding(DataCoding::from(m.data_coding))
        .sm_default_msg_id(m.sm_default_msg_id)
        .short_message(smsgate_smpp::octets(&part.short_message))
        .build();
    for t in part.tlvs.iter().chain(m.tlvs.iter()) {
        sm.push_tlv(smsgate_smpp::submission_tlv(t));
    }
    sm
}

/// What a `submit_sm_resp` status means for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// ESME_ROK.
    Accepted,
    /// ESME_RTHROTTLED: the SMSC wants less traffic; the message is fine.
    Throttled,
    /// Worth retrying later (queue full, system error, submit failed).
    Temporary,
    /// Any other error: retrying would not help.
    Permanent,
}

fn classify(status: CommandStatus) -> Answer {
    match status {
        CommandStatus::EsmeRok => Answer::Accepted,
        CommandStatus::EsmeRthrottled => Answer::Throttled,
        CommandStatus::EsmeRmsgqful
        | CommandStatus::EsmeRsyserr
        | CommandStatus::EsmeRsubmitfail => Answer::Temporary,
        _ => Answer::Permanent,
    }
}

impl Sender {
    async fn send_one(&self, d: Delivery, permit: tokio::sync::OwnedSemaphorePermit) {
        let (deps, cfg, queue) = (&self.deps, &self.cfg, self.queue.as_str());
        let tag = d.tag;
        let started = std::time::SystemTime::now();
        let Some(mut m) = deps.deliveries.before_send(queue, d).await else {
            return;
        };
        // Parts accepted on an earlier attempt are not sent again.
        let mut smsc_ids = std::mem::take(&mut m.sent_parts);
        let already_sent = smsc_ids.len();
        let attempt = self.submit_parts(&m, &mut smsc_ids).await;
        // The permit is the SMPP window: given back as soon as the SMSC answered.
        drop(permit);
        trace::phase(
            &m.id,
            "smsgate.submit",
            trace::Kind::Client,
            started,
            std::time::SystemTime::now(),
            |a| {
                a.str("smsgate.connector", cfg.cid.as_str());
                match &attempt {
                    Attempt::Sent => a.str("smsgate.outcome", "ESME_ROK"),
                    Attempt::NotSent => a.str("smsgate.outcome", "not sent"),
                    Attempt::Throttled(_) => a.str("smsgate.outcome", "ESME_RTHROTTLED"),
                    Attempt::Temporary(why) => {
                        a.fmt("smsgate.outcome", format_args!("temporary: {why}"))
                    }
                    Attempt::Permanent(status) => a.str("smsgate.outcome", status),
                }
                .int("smsgate.tries", i64::from(m.tries))
                .int("smsgate.parts_sent", (smsc_ids.len() - already_sent) as i64);
                if let Some(id) = smsc_ids.first() {
                    a.str("smsgate.smsc_id", id.as_str());
                }
            },
        );
        deps.deliveries
            .after_attempt(cfg, queue, tag, m, smsc_ids, already_sent, attempt)
            .await;
    }

    /// Submit the parts of `m` not yet accepted, in order, until one is not: the SMSC ids of
    /// the accepted ones are appended to `smsc_ids`.
    async fn submit_parts(&self, m: &Message, smsc_ids: &mut Vec<String>) -> Attempt {
        let (s, stats, cfg) = (&self.session, &self.stats, &self.cfg);
        let mut outcome = Outcome::Sent(String::new());
        for part in m.parts.iter().skip(smsc_ids.len()) {
            stats.submit_sm_request_count.inc();
            let pdu = build_submit(m, part);
            outcome = match s.request(pdu).await {
                Ok(resp) => {
                    self.stall.answered();
                    let status = resp.status();
                    if status == CommandStatus::EsmeRthrottled {
                        stats.throttling_error_count.inc();
                    } else {
                        self.pause.answered();
                    }
                    let o = match classify(status) {
                        Answer::Accepted => match resp.pdu() {
                            Some(Pdu::SubmitSmResp(r)) => {
                                stats.submit_sm_count.inc();
                                let id = String::from_utf8_lossy(r.message_id().as_ref())
                                    .trim_end_matches('\0')
                                    .to_string();
                                Outcome::Sent(id)
                            }
                            // generic_nack or a wrong response type: not an acceptance.
                            _ => {
                                stats.other_submit_error_count.inc();
                                Outcome::Temporary(format!("unexpected response {:?}", resp.id()))
                            }
                        },
                        Answer::Throttled => {
                            let pause = self.pause.throttled();
                            self.link.throttled_pause_count.inc();
                            Outcome::Throttled(pause)
                        }
                        Answer::Temporary => {
                            stats.other_submit_error_count.inc();
                            Outcome::Temporary(format!("{status:?}"))
                        }
                        Answer::Permanent => {
                            stats.other_submit_error_count.inc();
                            Outcome::Permanent(format!("{status:?}"))
                        }
                    };
                    smsgate_queue::broker::events::submit_sm_resp(
                        self.deps.broker.as_ref(),
                        m,
                        &cfg.cid,
                        smsc_ids.len() + 1,
                        u32::from(status),
                        match &o {
                            Outcome::Sent(id) => Some(id.as_str()),
                            _ => None,
                        },
                    );
                    o
                }
                Err(SessionError::Timeout) => {
                    self.link.response_timeout_count.inc();
                    let waited = Duration::from_secs(cfg.response_timeout_s.max(1));
                    if self.stall.timed_out(waited) && !s.is_closed() {
                        // The SMSC keeps the link up (enquire_link answered) but answered no
                        // submit for a whole response timeout: bind again rather than feed it
                        // the queue.
                        self.link.stalled_count.inc();
                        tracing::error!(cid = %cfg.cid, res_to = cfg.response_timeout_s, "the SMSC stopped answering submit_sm: closing the session to bind again");
                        s.close(session::CloseReason::Local);
                    }
                    Outcome::Temporary("response timeout".into())
                }
                Err(SessionError::Closed) => Outcome::Temporary("link down".into()),
                Err(SessionError::NotSent) => Outcome::NotSent,
            };
            match &outcome {
                Outcome::Sent(id) => smsc_ids.push(id.clone()),
                _ => break,
            }
        }
        match outcome {
            Outcome::Sent(_) => Attempt::Sent,
            Outcome::NotSent => Attempt::NotSent,
            Outcome::Throttled(pause) => Attempt::Throttled(pause),
            Outcome::Temporary(why) => Attempt::Temporary(why),
            Outcome::Permanent(status) => Attempt::Permanent(status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::handout_batch;

    #[test]
    fn a_hand_out_takes_several_windows_unless_throttled() {
        assert_eq!(handout_batch(32, 0.0), 256);
        assert_eq!(handout_batch(500, 0.0), 500);
        // throttled: about a second's worth, never less than a window
        assert_eq!(handout_batch(32, 100.0), 100);
        assert_eq!(handout_batch(32, 1.0), 32);
        assert_eq!(handout_batch(10, 0.5), 10);
        assert_eq!(handout_batch(0, 0.0), 256);
    }
}
