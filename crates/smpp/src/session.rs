//! The SMPP session layer shared by the client connectors, the SMPP server and the simulator.
//!
//! It owns framing (length-prefixed PDUs with a size cap and a per-PDU read timeout),
//! sequence numbers, matching responses to requests (with a response timeout), answering
//! `enquire_link` and `unbind`, `generic_nack` for PDUs it cannot decode, periodic
//! `enquire_link`, and the inactivity timer. Requests from the peer that need the
//! application (binds, `submit_sm`, `deliver_sm`, ...) come out of a channel; the application
//! answers them with [`Session::respond`]. PDU encoding/decoding is rusmpp's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use parking_lot::Mutex;
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::{Decoder, Encoder};
use tokio_util::sync::CancellationToken;

use smsgate_core::model::message::now_ms;

/// Timers and limits of a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// How long to wait for the response to a request.
    pub response_timeout: Duration,
    /// Send `enquire_link` this often (None: never).
    pub enquire_link_interval: Option<Duration>,
    /// Close the session when nothing was received for this long (None: never).
    pub inactivity_timeout: Option<Duration>,
    /// Maximum time between a PDU's first and last byte.
    pub pdu_read_timeout: Duration,
    /// Largest PDU accepted.
    pub max_pdu_len: usize,
    /// Where to note PDU times for the console's stats (none: not noted).
    pub clock: Option<std::sync::Arc<smsgate_core::stats::PduClock>>,
    /// Counts `enquire_link` as they go: those this side sends, or those it receives
    /// (Jasmin's `elink_count`: sent by a client connector, received by the server).
    pub elink_count: Option<ElinkCount>,
}

/// Which `enquire_link` requests a session counts, and the counter to add them to.
#[derive(Clone)]
pub enum ElinkCount {
    /// Each one this side sends.
    Sent(std::sync::Arc<dyn Fn() + Send + Sync>),
    /// Each one the peer sends.
    Received(std::sync::Arc<dyn Fn() + Send + Sync>),
}

impl std::fmt::Debug for ElinkCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ElinkCount::Sent(_) => "ElinkCount::Sent",
            ElinkCount::Received(_) => "ElinkCount::Received",
        })
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            response_timeout: Duration::from_secs(60),
            enquire_link_interval: Some(Duration::from_secs(30)),
            inactivity_timeout: Some(Duration::from_secs(300)),
            pdu_read_timeout: Duration::from_secs(10),
            max_pdu_len: 64 * 1024,
            clock: None,
            elink_count: None,
        }
    }
}

/// Why a request got no response.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SessionError {
    #[error("no response within the response timeout")]
    Timeout,
    #[error("the session is closed")]
    Closed,
    /// The session was closed before the request was written: it certainly did not go out.
    #[error("the session closed before the request was sent")]
    NotSent,
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    PeerClosed,
    Unbound,
    Inactivity,
    EnquireLinkFailed,
    ReadTimeout,
    Protocol(String),
    Io(String),
    Local,
}

struct Inner {
    out: mpsc::Sender<Command>,
    pending: Mutex<HashMap<u32, oneshot::Sender<Command>>>,
    seq: AtomicU32,
    closed: CancellationToken,
    reason: Mutex<Option<CloseReason>>,
    last_rx: AtomicI64,
    elinks: AtomicU64,
    cfg: SessionConfig,
}

/// A running SMPP session. Cheap to clone.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

/// Start a session on `stream`. Returns the handle and the peer's requests that the
/// application must answer.
pub fn start<S>(stream: S, cfg: SessionConfig) -> (Session, mpsc::Receiver<Command>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, wr) = tokio::io::split(stream);
    let (out_tx, out_rx) = mpsc::channel::<Command>(1024);
    let (in_tx, in_rx) = mpsc::channel::<Command>(1024);
    let inner = Arc::new(Inner {
        out: out_tx,
        pending: Mutex::new(HashMap::new()),
        seq: AtomicU32::new(0),
        closed: CancellationToken::new(),
        reason: Mutex::new(None),
        last_rx: AtomicI64::new(now_ms()),
        elinks: AtomicU64::new(0),
        cfg,
    });
    let session = Session { inner };
    tokio::spawn(writer(wr, out_rx, session.clone()));
    tokio::spawn(reader(rd, in_tx, session.clone()));
    if session.inner.cfg.enquire_link_interval.is_some()
        || session.inner.cfg.inactivity_timeout.is_some()
    {
        tokio::spawn(timers(session.clone()));
    }
    (session, in_rx)
}

impl Session {
    /// Next sequence number (1..=0x7FFFFFFF, wrapping).
    fn next_seq(&self) -> u32 {
        let s = self.inner.seq.fetch_add(1, Ordering::Relaxed);
        (s % 0x7FFF_FFFF) + 1
    }

    /// Send a request and wait for its response (or `generic_nack`).
    pub async fn request(&self, pdu: impl Into<Pdu>) -> Result<Command, SessionError> {
        self.request_with_timeout(pdu, self.inner.cfg.response_timeout)
            .await
    }

    /// [`Session::request`] with an explicit timeout.
    pub async fn request_with_timeout(
        &self,
        pdu: impl Into<Pdu>,
        timeout: Duration,
    ) -> Result<Command, SessionError> {
        if self.is_closed() {
            return Err(SessionError::NotSent);
        }
        let seq = self.next_seq();
        let (tx, rx) = oneshot::channel();
        self.inner.pending.lock().insert(seq, tx);
        if self.is_closed() {
            // closed between the check and the insert: `close` may have missed our entry
            self.inner.pending.lock().remove(&seq);
            return Err(SessionError::NotSent);
        }
        let cmd = Command::new(CommandStatus::EsmeRok, seq, pdu);
        if self.inner.out.send(cmd).await.is_err() {
            self.inner.pending.lock().remove(&seq);
            return Err(SessionError::NotSent);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(SessionError::Closed),
            Err(_) => {
                self.inner.pending.lock().remove(&seq);
                Err(SessionError::Timeout)
            }
        }
    }

    /// Answer a request of the peer.
    pub async fn respond(
        &self,
        sequence_number: u32,
        status: CommandStatus,
        pdu: impl Into<Pdu>,
    ) -> Result<(), SessionError> {
        let cmd = Command::new(status, sequence_number, pdu);
        self.inner
            .out
            .send(cmd)
            .await
            .map_err(|_| SessionError::Closed)
    }

    /// Send `generic_nack` for `sequence_number`.
    pub async fn nack(&self, sequence_number: u32, status: CommandStatus) {
        let _ = self
            .respond(sequence_number, status, Pdu::GenericNack)
            .await;
    }

    /// `enquire_link` requests received from the peer (answered by the session itself).
    pub fn enquire_links_received(&self) -> u64 {
        self.inner.elinks.load(Ordering::Relaxed)
    }

    /// Requests sent and not yet answered.
    pub fn outstanding(&self) -> usize {
        self.inner.pending.lock().len()
    }

    /// True once the session ended.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.is_cancelled()
    }

    /// Resolves when the session ends.
    pub async fn closed(&self) {
        self.inner.closed.cancelled().await
    }

    /// Why the session ended (None while open).
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.inner.reason.lock().clone()
    }

    /// Close the session now (pending requests fail with `Closed`).
    pub fn close(&self, reason: CloseReason) {
        {
            let mut r = self.inner.reason.lock();
            if r.is_none() {
                *r = Some(reason);
            }
        }
        self.inner.closed.cancel();
        self.inner.pending.lock().clear();
    }

    /// Send `unbind`, wait (briefly) for `unbind_resp`, then close.
    pub async fn unbind(&self) {
        let _ = self
            .request_with_timeout(Pdu::Unbind, Duration::from_secs(5))
            .await;
        // Let the writer flush anything queued before closing.
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.close(CloseReason::Local);
    }
}

async fn writer<W: AsyncWrite + Unpin>(wr: W, mut rx: mpsc::Receiver<Command>, s: Session) {
    let wr = tokio::io::BufWriter::with_capacity(64 * 1024, wr);
    let mut codec = CommandCodec::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut wr = std::pin::pin!(wr);
    loop {
        let first = tokio::select! {
            c = rx.recv() => c,
            _ = s.inner.closed.cancelled() => {
                // Flush what is already queued (e.g. unbind_resp), then stop.
                // Only responses: a request written now would reach a peer we already gave
                // up on (its caller was told `Closed` and requeued it).
                while let Ok(c) = rx.try_recv() {
                    if !is_response(u32::from(c.id())) && c.id() != CommandId::GenericNack {
                        continue;
                    }
                    if codec.encode(&c, &mut buf).is_ok() {
                        if wr.write_all(&buf).await.is_ok() {
                            if let Some(clock) = &s.inner.cfg.clock {
                                clock.last_sent.touch();
                            }
                        }
                        buf.clear();
                    }
                }
                let _ = wr.flush().await;
                let _ = wr.shutdown().await;
                return;
            }
        };
        let Some(cmd) = first else { return };
        // Let the tasks that are ready run first: under load they queue more PDUs, written
        // below with this one in a single syscall. Without it the writer, woken by the first
        // PDU, ran at once and wrote about one PDU per `send` (1.2 per syscall measured).
        tokio::task::yield_now().await;
        let mut batch = vec![cmd];
        while batch.len() < 256 {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        for c in &batch {
            if let Err(e) = codec.encode(c, &mut buf) {
                tracing::error!(error = %e, "PDU encode failed");
            }
        }
        let r = async {
            wr.write_all(&buf).await?;
            wr.flush().await
        }
        .await;
        buf.clear();
        if let Err(e) = r {
            s.close(CloseReason::Io(e.to_string()));
            return;
        }
        if let Some(clock) = &s.inner.cfg.clock {
            clock.last_sent.touch();
            for c in &batch {
                if c.id() == CommandId::EnquireLink {
                    clock.last_sent_elink.touch();
                }
                if !is_response(u32::from(c.id())) {
                    clock
                        .last_seq
                        .store(u64::from(c.sequence_number), Ordering::Relaxed);
                }
            }
        }
    }
}

/// Read one raw frame. Ok(None) on a clean end of stream between PDUs.
async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    cfg: &SessionConfig,
) -> Result<Option<BytesMut>, CloseReason> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(CloseReason::Io(e.to_string())),
    }
    let n = u32::from_be_bytes(len) as usize;
    if n < 16 || n > cfg.max_pdu_len {
        return Err(CloseReason::Protocol(format!("invalid command_length {n}")));
    }
    let mut frame = BytesMut::zeroed(n);
    frame[..4].copy_from_slice(&len);
    match tokio::time::timeout(cfg.pdu_read_timeout, r.read_exact(&mut frame[4..])).await {
        Ok(Ok(_)) => Ok(Some(frame)),
        Ok(Err(e)) => Err(CloseReason::Io(e.to_string())),
        Err(_) => Err(CloseReason::ReadTimeout),
    }
}

fn is_response(id: u32) -> bool {
    id & 0x8000_0000 != 0
}

async fn reader<R: AsyncRead + Unpin + Send + 'static>(
    rd: R,
    app: mpsc::Sender<Command>,
    s: Session,
) {
    let mut rd = BufReader::with_capacity(64 * 1024, rd);
    let cfg = s.inner.cfg.clone();
    loop {
        let frame = tokio::select! {
            f = read_frame(&mut rd, &cfg) => f,
            _ = s.inner.closed.cancelled() => return,
        };
        let mut frame = match frame {
            Ok(Some(f)) => f,
            Ok(None) => {
                s.close(CloseReason::PeerClosed);
                return;
            }
            Err(reason) => {
                if let CloseReason::Protocol(_) = reason {
                    s.nack(0, CommandStatus::EsmeRinvcmdlen).await;
                }
                tracing::debug!(?reason, "SMPP session read ended");
                s.close(reason);
                return;
            }
        };
        s.inner.last_rx.store(now_ms(), Ordering::Relaxed);
        let raw_id = u32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        if let Some(c) = &cfg.clock {
            c.last_received.touch();
            if raw_id == 0x0000_0015 {
                c.last_received_elink.touch();
            }
        }
        let raw_seq = u32::from_be_bytes([frame[12], frame[13], frame[14], frame[15]]);
        let mut codec = CommandCodec::new().with_max_length(cfg.max_pdu_len);
        let cmd = match codec.decode(&mut frame) {
            Ok(Some(c)) => c,
            Ok(None) | Err(_) => {
                if is_response(raw_id) {
                    // A response we cannot read: fail the request it answers.
                    tracing::warn!(
                        command_id = raw_id,
                        seq = raw_seq,
                        "undecodable SMPP response"
                    );
                    s.inner.pending.lock().remove(&raw_seq);
                } else {
                    tracing::warn!(
                        command_id = raw_id,
                        seq = raw_seq,
                        "undecodable SMPP PDU: generic_nack"
                    );
                    s.nack(raw_seq, CommandStatus::EsmeRinvcmdlen).await;
                }
                continue;
            }
        };
        let id = cmd.id();
        if is_response(u32::from(id)) || id == CommandId::GenericNack {
            let waiter = s.inner.pending.lock().remove(&cmd.sequence_number);
            match waiter {
                Some(w) => {
                    let _ = w.send(cmd);
                }
                None => tracing::debug!(?id, seq = cmd.sequence_number, "unexpected response"),
            }
            continue;
        }
        match cmd.pdu() {
            Some(Pdu::EnquireLink) => {
                s.inner.elinks.fetch_add(1, Ordering::Relaxed);
                if let Some(ElinkCount::Received(count)) = &s.inner.cfg.elink_count {
                    count();
                }
                let _ = s
                    .respond(
                        cmd.sequence_number,
                        CommandStatus::EsmeRok,
                        Pdu::EnquireLinkResp,
                    )
                    .await;
            }
            Some(Pdu::Unbind) => {
                let _ = s
                    .respond(cmd.sequence_number, CommandStatus::EsmeRok, Pdu::UnbindResp)
                    .await;
                s.close(CloseReason::Unbound);
                return;
            }
            Some(Pdu::Other { .. }) | None => {
                s.nack(cmd.sequence_number, CommandStatus::EsmeRinvcmdid)
                    .await;
            }
            Some(_) => {
                if app.send(cmd).await.is_err() {
                    // Nobody handles requests any more.
                    s.close(CloseReason::Local);
                    return;
                }
            }
        }
    }
}

async fn timers(s: Session) {
    let cfg = s.inner.cfg.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_elink = now_ms();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = s.inner.closed.cancelled() => return,
        }
        let now = now_ms();
        if let Some(limit) = cfg.inactivity_timeout {
            if now - s.inner.last_rx.load(Ordering::Relaxed) > limit.as_millis() as i64 {
                tracing::info!("SMPP session inactive: closing");
                s.close(CloseReason::Inactivity);
                return;
            }
        }
        if let Some(every) = cfg.enquire_link_interval {
            if now - last_elink >= every.as_millis() as i64 {
                last_elink = now;
                if let Some(ElinkCount::Sent(count)) = &cfg.elink_count {
                    count();
                }
                let s2 = s.clone();
                tokio::spawn(async move {
                    if let Err(e) = s2.request(Pdu::EnquireLink).await {
                        if e == SessionError::Timeout {
                            tracing::warn!("enquire_link unanswered: closing session");
                            s2.close(CloseReason::EnquireLinkFailed);
                        }
                    }
                });
            }
        }
    }
}
