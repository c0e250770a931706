//! The SMPP v3.4 server API for ESMEs (Jasmin's `smppsapi`).
//!
//! Each connection runs the shared session layer ([`smsgate_smpp::session`]) and this module's
//! handler: the bind state machine (authentication against gateway users, `smpps_cred`),
//! `submit_sm`/`data_sm` through the same MT pipeline as the HTTP API (answered only once the
//! message is durably queued, many in flight per session), `query_sm` and `cancel_sm` from the
//! gateway's message records, and the per-user deliverer that drains the user's queue of
//! receipts and MO to its receiving sessions as `deliver_sm`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rusmpp::pdus::{
    BindReceiverResp, BindTransceiverResp, BindTransmitterResp, DataSmResp, DeliverSm, QuerySmResp,
    SubmitSmResp,
};
use rusmpp::values::{
    DataCoding, EsmClass, MessageState, Npi, PriorityFlag, RegisteredDelivery,
    ReplaceIfPresentFlag, ServiceType, Ton,
};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use smsgate_core::config::SmppServerConfig;
use smsgate_core::model::message::now_ms;
use smsgate_core::model::{Channel, Message, User};
use smsgate_core::stats::{Stats, UserSmppsStats};
use smsgate_policy::admission::{Door, OverRate};
use smsgate_policy::pipeline::{Content, MtError, MtRequest, Pipeline, SmppContent};
use smsgate_queue::broker::{smpps_queue, Broker, Delivery};
use smsgate_queue::store::Store;
use smsgate_smpp::registry::{Added, BindMode, Bindings};
use smsgate_smpp::session::{self, CloseReason, Session, SessionConfig, SessionError};
use smsgate_smpp::{c_octet, delivery_tlv, octets, tlv_to_model};

use crate::consume::Consumer;

/// Store key prefix marking a queued message as cancelled (`cancel_sm`).
pub const CANCEL_PREFIX: &str = "cancel:";

/// What the server needs from the rest of the gateway.
#[derive(Clone)]
pub struct ServerDeps {
    pub pipeline: Arc<Pipeline>,
    pub broker: Arc<dyn Broker>,
    pub store: Arc<dyn Store>,
    pub stats: Arc<Stats>,
    pub cancellations: Arc<crate::cancel::Cancellations>,
    /// Cluster mode: `max_bindings` counted over every node.
    pub bind_slots: Option<Arc<crate::cluster::BindSlots>>,
}

struct Shared {
    cfg: SmppServerConfig,
    deps: ServerDeps,
    bindings: Arc<Bindings>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    conns: Semaphore,
}

/// A running SMPP server.
pub struct SmppServer {
    shared: Arc<Shared>,
    /// Address of the plain listener.
    pub addr: SocketAddr,
    /// Address of the TLS listener, if configured.
    pub tls_addr: Option<SocketAddr>,
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {err}")]
    Listen { addr: String, err: std::io::Error },
    #[error("TLS: {0}")]
    Tls(String),
}

impl SmppServer {
    /// Bind the listeners and start accepting.
    pub async fn start(cfg: SmppServerConfig, deps: ServerDeps) -> Result<SmppServer, ServerError> {
        let addr = format!("{}:{}", cfg.bind, cfg.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|err| ServerError::Listen {
                addr: addr.clone(),
                err,
            })?;
        let local = listener.local_addr().map_err(|err| ServerError::Listen {
            addr: addr.clone(),
            err,
        })?;
        let tls = match cfg.tls_port {
            Some(port) => {
                let (Some(cert), Some(key)) = (&cfg.tls_cert, &cfg.tls_key) else {
                    return Err(ServerError::Tls(
                        "smpp-server.tls_port needs tls_cert and tls_key".into(),
                    ));
                };
                let acceptor =
                    smsgate_smpp::tls::server_acceptor(cert, key).map_err(ServerError::Tls)?;
                let taddr = format!("{}:{}", cfg.bind, port);
                let l = TcpListener::bind(&taddr)
                    .await
                    .map_err(|err| ServerError::Listen {
                        addr: taddr.clone(),
                        err,
                    })?;
                Some((l, acceptor))
            }
            None => None,
        };
        let shared = Arc::new(Shared {
            conns: Semaphore::new(cfg.max_connections.max(1)),
            cfg,
            deps,
            bindings: Arc::new(Bindings::default()),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
        });
        tracing::info!(%local, "SMPP server listening");
        shared
            .tracker
            .spawn(accept_loop(shared.clone(), listener, None));
        let mut tls_addr = None;
        if let Some((l, acceptor)) = tls {
            tls_addr = l.local_addr().ok();
            tracing::info!(addr = ?tls_addr, "SMPP server TLS listening");
            shared
                .tracker
                .spawn(accept_loop(shared.clone(), l, Some(acceptor)));
        }
        Ok(SmppServer {
            shared,
            addr: local,
            tls_addr,
        })
    }

    /// The registry of bound sessions (jCli unbind/ban, stats).
    pub fn bindings(&self) -> Arc<Bindings> {
        self.shared.bindings.clone()
    }

    /// Stop accepting, unbind every session (answers in flight still go out), wait for the
    /// connection tasks.
    pub async fn shutdown(&self) {
        self.shared.shutdown.cancel();
        self.shared.tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.shared.tracker.wait()).await;
    }
}

async fn accept_loop(
    sh: Arc<Shared>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = sh.shutdown.cancelled() => return,
        };
        let (sock, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "SMPP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = sh.conns.try_acquire() else {
            tracing::warn!(%peer, "SMPP server: too many connections, closing");
            drop(sock);
            continue;
        };
        permit.forget();
        let _ = sock.set_nodelay(true);
        let sh2 = sh.clone();
        match &tls {
            None => {
                sh.tracker.spawn(async move {
                    connection(sh2.clone(), sock, peer).await;
                    sh2.conns.add_permits(1);
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                sh.tracker.spawn(async move {
                    let timeout = Duration::from_secs(sh2.cfg.pdu_read_timer_secs.max(1));
                    match tokio::time::timeout(timeout, acceptor.accept(sock)).await {
                        Ok(Ok(stream)) => connection(sh2.clone(), stream, peer).await,
                        Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
                    }
                    sh2.conns.add_permits(1);
                });
            }
        }
    }
}

fn secs(n: u64) -> Option<Duration> {
    (n > 0).then(|| Duration::from_secs(n))
}

fn cstring(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .trim_end_matches('\0')
        .to_string()
}

/// The bound state of a connection.
struct BoundUser {
    user: Arc<User>,
    mode: BindMode,
    id: u64,
    stats: Arc<UserSmppsStats>,
}

async fn connection<S>(sh: Arc<Shared>, stream: S, peer: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let stats = &sh.deps.stats.smppsapi;
    stats.connect_count.inc();
    stats.connected_count.inc();
    let scfg = SessionConfig {
        response_timeout: Duration::from_secs(sh.cfg.response_timer_secs.max(1)),
        enquire_link_interval: secs(sh.cfg.enquire_link_timer_secs),
        inactivity_timeout: secs(sh.cfg.inactivity_timer_secs),
        pdu_read_timeout: Duration::from_secs(sh.cfg.pdu_read_timer_secs.max(1)),
        max_pdu_len: 64 * 1024,
        clock: Some(sh.deps.stats.smppsapi_clock.clone()),
        elink_count: Some(session::ElinkCount::Received({
            let stats = sh.deps.stats.clone();
            Arc::new(move || stats.smppsapi.elink_count.inc())
        })),
    };
    let (s, mut rx) = session::start(stream, scfg);
    let mut bound: Option<BoundUser> = None;
    let init = tokio::time::sleep(Duration::from_secs(sh.cfg.session_init_timer_secs.max(1)));
    tokio::pin!(init);
    let window = Arc::new(Semaphore::new(sh.cfg.window.max(1)));
    loop {
        let cmd = tokio::select! {
            c = rx.recv() => c,
            _ = &mut init, if bound.is_none() => {
                tracing::info!(%peer, "SMPP session not bound in time: closing");
                s.close(CloseReason::Protocol("session init timer".into()));
                break;
            }
            _ = sh.shutdown.cancelled() => {
                // Let submissions in flight be answered, then unbind.
                let _ = tokio::time::timeout(
                    Duration::from_secs(5),
                    window.acquire_many(sh.cfg.window.max(1) as u32),
                )
                .await;
                s.unbind().await;
                break;
            }
        };
        let Some(cmd) = cmd else { break };
        if let Some(b) = &bound {
            b.stats.last_activity_at.set((now_ms() / 1000) as u64);
        }
        let seq = cmd.sequence_number;
        match cmd.pdu() {
            Some(Pdu::BindTransmitter(_) | Pdu::BindReceiver(_) | Pdu::BindTransceiver(_)) => {
                if bound.is_some() {
                    respond_bind(&s, &cmd, CommandStatus::EsmeRalybnd, "").await;
                    continue;
                }
                match bind(&sh, &s, &cmd, peer.ip()).await {
                    Ok(b) => bound = Some(b),
                    Err(status) => {
                        respond_bind(&s, &cmd, status, "").await;
                        // Jasmin closes the connection after a failed bind.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        s.close(CloseReason::Protocol(format!("bind refused: {status:?}")));
                        break;
                    }
                }
            }
            Some(Pdu::SubmitSm(_) | Pdu::DataSm(_)) => {
                let is_data = cmd.id() == CommandId::DataSm;
                let Some(b) = bound.as_ref().filter(|b| b.mode.can_submit()) else {
                    respond_status(&s, seq, is_data, CommandStatus::EsmeRinvbndsts).await;
                    continue;
                };
                if is_data {
                    stats.data_sm_count.inc();
                    b.stats.data_sm_count.inc();
                } else {
                    stats.submit_sm_request_count.inc();
                    b.stats.submit_sm_request_count.inc();
                }
                let within = sh
                    .deps
                    .pipeline
                    .admission
                    .admit(&b.user, Door::Smpps, OverRate::Refuse)
                    .await;
                if !within {
                    stats.throttling_error_count.inc();
                    b.stats.throttling_error_count.inc();
                    respond_status(&s, seq, is_data, CommandStatus::EsmeRthrottled).await;
                    continue;
                }
                // Back-pressure: at most `window` submissions of this session in flight.
                let Ok(permit) = window.clone().acquire_owned().await else {
                    break;
                };
                let sh2 = sh.clone();
                let s2 = s.clone();
                let user = b.user.clone();
                let ustats = b.stats.clone();
                // Boxed: moved through the spawn path as a pointer, not as a copy.
                tokio::spawn(Box::pin(async move {
                    submit(&sh2, &s2, cmd, user, ustats, peer.ip()).await;
                    drop(permit);
                }));
            }
            Some(Pdu::QuerySm(q)) => {
                if bound.is_none() {
                    s.nack(seq, CommandStatus::EsmeRinvbndsts).await;
                    continue;
                }
                let id = cstring(q.message_id.as_ref());
                let (status, pdu) = query(&sh, &id).await;
                let _ = s.respond(seq, status, pdu).await;
            }
            Some(Pdu::CancelSm(c)) => {
                if bound.is_none() {
                    s.nack(seq, CommandStatus::EsmeRinvbndsts).await;
                    continue;
                }
                let id = cstring(c.message_id.as_ref());
                let status = cancel(&sh, &id).await;
                let _ = s.respond(seq, status, Pdu::CancelSmResp).await;
            }
            Some(_) => {
                let status = if bound.is_none() {
                    CommandStatus::EsmeRinvbndsts
                } else {
                    CommandStatus::EsmeRinvcmdid
                };
                s.nack(seq, status).await;
            }
            None => s.nack(seq, CommandStatus::EsmeRinvcmdid).await,
        }
    }
    // Answers of submissions still in flight go out before the session is dropped.
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        window.acquire_many(sh.cfg.window.max(1) as u32),
    )
    .await;
    if let Some(b) = bound {
        sh.bindings.remove(&b.user.username, b.id);
        let (total, user_gauge) = match b.mode {
            BindMode::Transmitter => (&stats.bound_tx_count, &b.stats.bound_tx_count),
            BindMode::Receiver => (&stats.bound_rx_count, &b.stats.bound_rx_count),
            BindMode::Transceiver => (&stats.bound_trx_count, &b.stats.bound_trx_count),
        };
        total.dec();
        user_gauge.dec();
        // The API's elink_count counts as they come (the session's hook); the user's here.
        b.stats.elink_count.add(s.enquire_links_received());
        if s.close_reason() == Some(CloseReason::Unbound) {
            stats.unbind_count.inc();
            b.stats.unbind_count.inc();
        }
    }
    if !s.is_closed() {
        s.close(CloseReason::Local);
    }
    stats.disconnect_count.inc();
    stats.connected_count.dec();
}

async fn respond_bind(s: &Session, cmd: &Command, status: CommandStatus, system_id: &str) {
    let seq = cmd.sequence_number;
    let _ = match cmd.pdu() {
        Some(Pdu::BindTransmitter(_)) => {
            let r = BindTransmitterResp::builder()
                .system_id(c_octet(system_id))
                .build();
            s.respond(seq, status, r).await
        }
        Some(Pdu::BindReceiver(_)) => {
            let r = BindReceiverResp::builder()
                .system_id(c_octet(system_id))
                .build();
            s.respond(seq, status, r).await
        }
        _ => {
            let r = BindTransceiverResp::builder()
                .system_id(c_octet(system_id))
                .build();
            s.respond(seq, status, r).await
        }
    };
}

async fn respond_status(s: &Session, seq: u32, is_data: bool, status: CommandStatus) {
    let _ = if is_data {
        s.respond(seq, status, DataSmResp::default()).await
    } else {
        s.respond(seq, status, SubmitSmResp::default()).await
    };
}

/// The bind state machine's one transition: authenticate and register.
async fn bind(
    sh: &Arc<Shared>,
    s: &Session,
    cmd: &Command,
    ip: IpAddr,
) -> Result<BoundUser, CommandStatus> {
    let stats = &sh.deps.stats.smppsapi;
    let (system_id, password, mode) = match cmd.pdu() {
        Some(Pdu::BindTransmitter(b)) => {
            stats.bind_tx_count.inc();
            (&b.system_id, &b.password, BindMode::Transmitter)
        }
        Some(Pdu::BindReceiver(b)) => {
            stats.bind_rx_count.inc();
            (&b.system_id, &b.password, BindMode::Receiver)
        }
        Some(Pdu::BindTransceiver(b)) => {
            stats.bind_trx_count.inc();
            (&b.system_id, &b.password, BindMode::Transceiver)
        }
        _ => return Err(CommandStatus::EsmeRbindfail),
    };
    let username = cstring(system_id.as_ref());
    let password = cstring(password.as_ref());
    let auth = &sh.deps.pipeline.auth;
    if auth.user(&username).is_none() {
        tracing::info!(%username, %ip, "SMPP bind: unknown system_id");
        return Err(CommandStatus::EsmeRinvsysid);
    }
    let user = match auth.authenticate(&username, password.as_bytes(), ip).await {
        Ok(u) => u,
        Err(e) => {
            tracing::info!(%username, %ip, error = %e, "SMPP bind: authentication failed");
            return Err(CommandStatus::EsmeRinvpaswd);
        }
    };
    let ustats = sh.deps.stats.user_smpps(&username);
    ustats.bind_count.inc();
    if sh.deps.pipeline.check_credentials(&user).is_err() || !user.smpps_cred.authorization.bind {
        tracing::info!(%username, "SMPP bind: not authorized (disabled or smpps_cred bind false)");
        return Err(CommandStatus::EsmeRbindfail);
    }
    let id = match sh.bindings.add(
        &username,
        s.clone(),
        mode,
        user.smpps_cred.quota.max_bindings,
    ) {
        Added::Ok {
            id,
            start_deliverer,
        } => {
            if start_deliverer {
                tokio::spawn(deliverer(sh.clone(), username.clone()));
            }
            if let (Some(slots), Some(max)) =
                (&sh.deps.bind_slots, user.smpps_cred.quota.max_bindings)
            {
                match slots.take(&username, max, id).await {
                    Some((slot, holder)) => slots.keep(slot, holder, s.clone()),
                    None => {
                        // (a deliverer started above stops by itself: no receiver)
                        sh.bindings.remove(&username, id);
                        tracing::info!(%username, "SMPP bind: max_bindings reached in the cluster");
                        return Err(CommandStatus::EsmeRbindfail);
                    }
                }
            }
            id
        }
        Added::TooMany => {
            tracing::info!(%username, "SMPP bind: max_bindings reached");
            return Err(CommandStatus::EsmeRbindfail);
        }
    };
    let (total, gauge) = match mode {
        BindMode::Transmitter => (&stats.bound_tx_count, &ustats.bound_tx_count),
        BindMode::Receiver => (&stats.bound_rx_count, &ustats.bound_rx_count),
        BindMode::Transceiver => (&stats.bound_trx_count, &ustats.bound_trx_count),
    };
    total.inc();
    gauge.inc();
    respond_bind(s, cmd, CommandStatus::EsmeRok, &username).await;
    tracing::info!(%username, %ip, mode = mode.name(), "SMPP bound");
    Ok(BoundUser {
        user,
        mode,
        id,
        stats: ustats,
    })
}

/// Map a pipeline refusal to the SMPP status Jasmin answers.
fn status_of(e: &MtError) -> CommandStatus {
    match e {
        MtError::NoRoute => CommandStatus::EsmeRinvdstadr,
        MtError::Charging => CommandStatus::EsmeRsyserr,
        // Cluster mode: RabbitMQ unreachable (queue full, try later) or Redis unreachable;
        // embedded: the queue cannot write (disk full or read-only), try later too.
        MtError::Server(d)
            if d.starts_with("broker unavailable") || d.starts_with("broker storage") =>
        {
            CommandStatus::EsmeRmsgqful
        }
        MtError::Server(d) if d.starts_with("store unavailable") => CommandStatus::EsmeRsyserr,
        MtError::Server(_) => CommandStatus::EsmeRsubmitfail,
        MtError::Authentication(_) => CommandStatus::EsmeRinvsysid,
        MtError::Content(_) => CommandStatus::EsmeRinvmsglen,
        MtError::InvalidArgument("to", _) => CommandStatus::EsmeRinvdstadr,
        MtError::InvalidArgument("from", _) => CommandStatus::EsmeRinvsrcadr,
        MtError::InvalidArgument("coding", _) => CommandStatus::EsmeRinvdcs,
        MtError::InvalidArgument("priority", _) => CommandStatus::EsmeRinvprtflg,
        MtError::InvalidArgument("validity-period", _) => CommandStatus::EsmeRinvexpiry,
        MtError::InvalidArgument("sdt", _) => CommandStatus::EsmeRinvsched,
        // Credential failures are ESME_RSYSERR in Jasmin, except these value filters.
        MtError::ValueFilter(_, "destination_address") => CommandStatus::EsmeRinvdstadr,
        MtError::ValueFilter(_, "source_address") => CommandStatus::EsmeRinvsrcadr,
        MtError::ValueFilter(_, "priority") => CommandStatus::EsmeRinvprtflg,
        MtError::Throughput => CommandStatus::EsmeRthrottled,
        MtError::Intercepted { smpp, .. } => CommandStatus::from(*smpp),
        _ => CommandStatus::EsmeRsyserr,
    }
}

/// Turn an ESME's `submit_sm`/`data_sm` into a pipeline request.
fn request_of(cmd: &Command, user: &User, ip: IpAddr) -> Result<MtRequest, MtError> {
    let now = now_ms();
    let time = |field: &'static str, v: &[u8]| -> Result<(String, Option<i64>), MtError> {
        let s = cstring(v);
        smsgate_sms::time::parse(&s, now)
            .map(|t| (s.clone(), t))
            .map_err(|_| MtError::InvalidArgument(field, s))
    };
    let mut c = SmppContent::default();
    let (to, from, coding, priority, sdt) = match cmd.pdu() {
        Some(Pdu::SubmitSm(sm)) => {
            let (vp, exp) = time("validity-period", sm.validity_period.as_ref())?;
            let (sdt, nb) = time("sdt", sm.schedule_delivery_time.as_ref())?;
            c.validity_period = vp;
            c.expires_at = exp;
            c.not_before = nb;
            c.short_message = sm.short_message().as_ref().to_vec();
            c.esm_class = sm.esm_class.into();
            c.source_ton = sm.source_addr_ton.into();
            c.source_npi = sm.source_addr_npi.into();
            c.dest_ton = sm.dest_addr_ton.into();
            c.dest_npi = sm.dest_addr_npi.into();
            c.protocol_id = sm.protocol_id;
            c.registered_delivery = sm.registered_delivery.into();
            c.replace_if_present = sm.replace_if_present_flag.into();
            c.service_type = cstring(sm.service_type.value().as_ref());
            c.tlvs = sm.tlvs().iter().map(tlv_to_model).collect();
            let prio: u8 = sm.priority_flag.into();
            (
                cstring(sm.destination_addr.as_ref()),
                cstring(sm.source_addr.as_ref()),
                u8::from(sm.data_coding),
                prio,
                sdt,
            )
        }
        Some(Pdu::DataSm(d)) => {
            c.esm_class = d.esm_class.into();
            c.source_ton = d.source_addr_ton.into();
            c.source_npi = d.source_addr_npi.into();
            c.dest_ton = d.dest_addr_ton.into();
            c.dest_npi = d.dest_addr_npi.into();
            c.registered_delivery = d.registered_delivery.into();
            c.service_type = cstring(d.service_type.value().as_ref());
            c.tlvs = d.tlvs().iter().map(tlv_to_model).collect();
            (
                cstring(d.destination_addr.as_ref()),
                cstring(d.source_addr.as_ref()),
                u8::from(d.data_coding),
                0,
                String::new(),
            )
        }
        _ => return Err(MtError::Server("not a submission".into())),
    };
    if c.short_message.is_empty() {
        if let Some(p) = c.tlvs.iter().find(|t| t.tag == 0x0424) {
            c.short_message = p.value.clone();
            c.from_payload = true;
        }
    }
    if to.is_empty() {
        return Err(MtError::InvalidArgument("to", to));
    }
    if priority > 3 {
        return Err(MtError::InvalidArgument("priority", priority.to_string()));
    }
    Ok(MtRequest {
        channel: Channel::Smpps,
        username: user.username.clone(),
        password: vec![],
        source_ip: ip,
        to,
        from: (!from.is_empty()).then_some(from),
        coding: Some(coding),
        priority: Some(priority),
        sdt: (!sdt.is_empty()).then_some(sdt),
        validity_minutes: None,
        dlr: None,
        tags: vec![],
        content: Content::Smpp(Box::new(c)),
        unrepresentable: None,
    })
}

async fn submit(
    sh: &Arc<Shared>,
    s: &Session,
    cmd: Command,
    user: Arc<User>,
    ustats: Arc<UserSmppsStats>,
    ip: IpAddr,
) {
    let started = std::time::Instant::now();
    let seq = cmd.sequence_number;
    let is_data = cmd.id() == CommandId::DataSm;
    let stats = &sh.deps.stats.smppsapi;
    let result = match request_of(&cmd, &user, ip) {
        Ok(req) => match sh.deps.pipeline.prepare_as(user.clone(), &req).await {
            Ok(p) => {
                let answer_id = p.answer_id.clone();
                let committed = sh.deps.pipeline.commit(p).await;
                committed.map(|id| answer_id.unwrap_or_else(|| id.to_string()))
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(id) => {
            if !is_data {
                stats.submit_sm_count.inc();
                ustats.submit_sm_count.inc();
            }
            let id = c_octet::<1, 65>(&id);
            let _ = if is_data {
                s.respond(
                    seq,
                    CommandStatus::EsmeRok,
                    DataSmResp::builder().message_id(id).build(),
                )
                .await
            } else {
                s.respond(
                    seq,
                    CommandStatus::EsmeRok,
                    SubmitSmResp::builder().message_id(id).build(),
                )
                .await
            };
        }
        Err(e) => {
            let status = status_of(&e);
            tracing::debug!(user = %user.username, error = %e, ?status, "SMPP submission refused");
            stats.other_submit_error_count.inc();
            ustats.other_submit_error_count.inc();
            respond_status(s, seq, is_data, status).await;
        }
    }
    sh.deps.stats.latency.smpp.observe(started.elapsed());
}

/// `query_sm`: the message's state from the gateway's records.
async fn query(sh: &Shared, id: &str) -> (CommandStatus, QuerySmResp) {
    let rec = sh.deps.store.record_get(id).await.ok().flatten();
    let cancelled = sh
        .deps
        .store
        .get(&format!("{CANCEL_PREFIX}{id}"))
        .await
        .ok()
        .flatten()
        .is_some();
    let state = match (&rec, cancelled) {
        (_, true) => MessageState::Deleted,
        (None, false) => {
            return (
                CommandStatus::EsmeRqueryfail,
                QuerySmResp::builder().message_id(c_octet(id)).build(),
            )
        }
        (Some(r), false) => state_of(&r.status),
    };
    let final_date = match state {
        MessageState::Enroute | MessageState::Accepted | MessageState::Scheduled => String::new(),
        _ => rec
            .as_ref()
            .map(|r| smsgate_sms::time::absolute(r.updated_at))
            .unwrap_or_default(),
    };
    (
        CommandStatus::EsmeRok,
        QuerySmResp::builder()
            .message_id(c_octet(id))
            .final_date(smsgate_smpp::time_field(&final_date))
            .message_state(state)
            .error_code(0)
            .build(),
    )
}

/// A message record's status as an SMPP message_state.
fn state_of(status: &str) -> MessageState {
    match status {
        "ESME_ROK" | "ENROUTE" => MessageState::Enroute,
        "DELIVRD" => MessageState::Delivered,
        "EXPIRED" => MessageState::Expired,
        "DELETED" | "PURGED" | "CANCELLED" => MessageState::Deleted,
        "ACCEPTD" => MessageState::Accepted,
        "UNKNOWN" => MessageState::Unknown,
        "REJECTD" => MessageState::Rejected,
        _ => MessageState::Undeliverable,
    }
}

/// `cancel_sm`: only messages not yet sent to an SMSC can be cancelled; the connector drops a
/// cancelled message when it comes out of the queue.
async fn cancel(sh: &Shared, id: &str) -> CommandStatus {
    if uuid::Uuid::parse_str(id).is_err() {
        return CommandStatus::EsmeRinvmsgid;
    }
    match sh.deps.store.record_get(id).await {
        Ok(Some(_)) => return CommandStatus::EsmeRcancelfail,
        Ok(None) => {}
        Err(_) => return CommandStatus::EsmeRsyserr,
    }
    let ttl = Duration::from_secs(sh.deps.pipeline.max_age_ms.max(0) as u64 / 1000 + 3600);
    if let Ok(uuid) = uuid::Uuid::parse_str(id) {
        sh.deps
            .cancellations
            .insert(uuid, now_ms() + ttl.as_millis() as i64);
    }
    match sh
        .deps
        .store
        .set(&format!("{CANCEL_PREFIX}{id}"), b"1", Some(ttl))
        .await
    {
        Ok(()) => CommandStatus::EsmeRok,
        Err(_) => CommandStatus::EsmeRsyserr,
    }
}

/// Drain `user`'s queue to its receiving sessions while it has any.
async fn deliverer(sh: Arc<Shared>, user: String) {
    let q = smpps_queue(&user);
    let consumer = Consumer::new(sh.deps.broker.clone(), &q, sh.cfg.deliver_window);
    let changed = sh.bindings.changed(&user);
    let mut rr = 0usize;
    tracing::debug!(%user, "SMPP deliverer started");
    loop {
        let sessions = sh.bindings.receivers(&user);
        if sessions.is_empty() {
            if sh.bindings.deliverer_may_stop(&user) {
                break;
            }
            continue;
        }
        // Wait for room in the window, something to deliver, or a change of sessions.
        let room = tokio::select! {
            p = consumer.permit() => p,
            _ = changed.notified() => continue,
            _ = sh.shutdown.cancelled() => break,
        };
        let Some(first) = room else { break };
        tokio::select! {
            _ = consumer.ready() => {}
            _ = changed.notified() => continue,
            _ = sh.shutdown.cancelled() => break,
        }
        let deliveries = consumer.take(consumer.room() + 1).await;
        let mut first = Some(first);
        for d in deliveries {
            let permit = match first.take() {
                Some(p) => p,
                None => match consumer.permit().await {
                    Some(p) => p,
                    None => break,
                },
            };
            let s = sessions[rr % sessions.len()].clone();
            rr = rr.wrapping_add(1);
            let sh2 = sh.clone();
            let q2 = q.clone();
            let user2 = user.clone();
            consumer.spawn(async move {
                deliver_one(&sh2, &q2, &user2, &s, d).await;
                drop(permit);
            });
        }
    }
    // Give back what this node's consumer holds once the deliveries in flight are done, so
    // that (cluster mode) a node where the user is bound gets them.
    consumer.finish(Some(Duration::from_secs(30))).await;
    let _ = sh.deps.broker.release_all(&q).await;
    tracing::debug!(%user, "SMPP deliverer stopped");
}

/// Build the `deliver_sm` of one part of `m`.
pub fn build_deliver_sm(m: &Message, part: &smsgate_core::model::Part) -> DeliverSm {
    let mut d = DeliverSm::builder()
        .service_type(ServiceType::new(c_octet::<1, 6>(&m.service_type)))
        .source_addr_ton(Ton::from(m.source.ton))
        .source_addr_npi(Npi::from(m.source.npi))
        .source_addr(c_octet(&m.source.addr))
        .dest_addr_ton(Ton::from(m.destination.ton))
        .dest_addr_npi(Npi::from(m.destination.npi))
        .destination_addr(c_octet(&m.destination.addr))
        .esm_class(EsmClass::from(part.esm_class))
        .protocol_id(m.protocol_id)
        .priority_flag(PriorityFlag::from(m.priority))
        .registered_delivery(RegisteredDelivery::from(0))
        .replace_if_present_flag(ReplaceIfPresentFlag::from(0))
        .data_coding(DataCoding::from(m.data_coding))
        .short_message(octets(&part.short_message))
        .build();
    for t in part.tlvs.iter().chain(m.tlvs.iter()) {
        d.push_tlv(delivery_tlv(t));
    }
    d
}

async fn deliver_one(sh: &Shared, q: &str, user: &str, s: &Session, d: Delivery) {
    let mut outcome: Result<(), (SessionError, Option<CommandStatus>)> = Ok(());
    for part in &d.message.parts {
        match s.request(build_deliver_sm(&d.message, part)).await {
            Ok(resp) if resp.status() == CommandStatus::EsmeRok => {}
            Ok(resp) => {
                outcome = Err((SessionError::Closed, Some(resp.status())));
                break;
            }
            Err(e) => {
                outcome = Err((e, None));
                break;
            }
        }
    }
    let broker = &sh.deps.broker;
    match outcome {
        Ok(()) => {
            sh.deps.stats.smppsapi.deliver_sm_count.inc();
            sh.deps.stats.user_smpps(user).deliver_sm_count.inc();
            if let Err(e) = broker.ack(q, d.tag).await {
                tracing::warn!(error = %e, "SMPP deliverer: ack failed");
            }
        }
        Err((e, status)) => {
            if now_ms() > d.message.expires_at {
                tracing::warn!(%user, id = %d.message.id, "deliver_sm expired undelivered: dropped");
                let _ = broker.ack(q, d.tag).await;
                return;
            }
            let delay = match e {
                SessionError::NotSent => Duration::ZERO,
                _ => Duration::from_secs(sh.cfg.deliver_retry_delay),
            };
            tracing::info!(%user, id = %d.message.id, ?status, error = %e, "deliver_sm not acknowledged: retrying");
            let mut m = d.message.clone();
            m.tries += 1;
            if let Err(e) = broker.requeue(q, d.tag, &m, delay).await {
                tracing::warn!(error = %e, "SMPP deliverer: requeue failed");
            }
        }
    }
}

#[cfg(test)]
mod unavailable_tests {
    use super::*;

    /// Cluster mode: RabbitMQ away is `ESME_RMSGQFUL` (try later), Redis away `ESME_RSYSERR`;
    /// the embedded queue unable to write (disk full) is `ESME_RMSGQFUL` too.
    #[test]
    fn unavailable_services_map_to_retryable_statuses() {
        let full =
            smsgate_queue::broker::BrokerError::Storage("sqlite: database or disk is full".into());
        assert_eq!(
            status_of(&MtError::Server(full.to_string())),
            CommandStatus::EsmeRmsgqful
        );
        let broker = smsgate_queue::broker::BrokerError::Unavailable("connection refused".into());
        let store = smsgate_queue::store::StoreError::Unavailable("redis: broken pipe".into());
        assert_eq!(
            status_of(&MtError::Server(broker.to_string())),
            CommandStatus::EsmeRmsgqful
        );
        assert_eq!(
            status_of(&MtError::Server(store.to_string())),
            CommandStatus::EsmeRsyserr
        );
        assert_eq!(
            status_of(&MtError::Server("commit task failed".into())),
            CommandStatus::EsmeRsubmitfail
        );
    }
}
