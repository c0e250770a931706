//! The SMPP load generator: ESMEs bound as transceivers to the gateway's SMPP server, each
//! keeping up to `window` `submit_sm` outstanding, closed loop or paced.
//!
//! The ESME is the project's own session layer (`smsgate::smpp::session`, PDUs from rusmpp):
//! one task per window slot, each waiting for its `submit_sm_resp` before the next submit, so
//! a session never has more than `window` requests in flight.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rusmpp::pdus::{BindTransceiver, DeliverSmResp, SubmitSm};
use rusmpp::values::DataCoding;
use rusmpp::{CommandStatus, Pdu};
use smsgate::smpp::session::{self, Session, SessionConfig, SessionError};
use smsgate::smpp::{c_octet, octets};
use tokio::time::Instant;

use crate::load::{Counters, LoadResult, Pacer, ERROR_BACKOFF, MSISDN_BASE};

/// How long the gateway's SMPP server may take to listen after `/ping` answers.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Parameters of an SMPP load run.
#[derive(Clone, Debug)]
pub struct SmppLoadConfig {
    /// The gateway's SMPP server.
    pub addr: SocketAddr,
    pub system_id: String,
    pub password: String,
    /// Bound sessions.
    pub sessions: usize,
    /// Outstanding `submit_sm` per session.
    pub window: usize,
    /// How long new submits are started.
    pub duration: Duration,
    /// Target submit_sm/s over all sessions; 0 = as fast as the windows allow.
    pub rate: f64,
    /// Upper bound for one `submit_sm` → `submit_sm_resp`.
    pub request_timeout: Duration,
}

/// Connects and binds `cfg.sessions` transceivers.
pub async fn bind_all(cfg: &SmppLoadConfig) -> Result<Vec<Session>> {
    let mut out = Vec::with_capacity(cfg.sessions);
    for i in 0..cfg.sessions {
        out.push(
            bind(cfg)
                .await
                .with_context(|| format!("binding session {}", i + 1))?,
        );
    }
    Ok(out)
}

/// Connects, retrying for a while: the gateway answers `/ping` before its SMPP server listens.
async fn connect(addr: SocketAddr) -> Result<tokio::net::TcpStream> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() >= deadline => {
                return Err(e).with_context(|| format!("connecting to {addr}"))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn bind(cfg: &SmppLoadConfig) -> Result<Session> {
    let sock = connect(cfg.addr).await?;
    sock.set_nodelay(true).context("setting TCP_NODELAY")?;
    let scfg = SessionConfig {
        response_timeout: cfg.request_timeout,
        enquire_link_interval: Some(Duration::from_secs(30)),
        inactivity_timeout: None,
        ..Default::default()
    };
    let (s, mut requests) = session::start(sock, scfg);
    // The gateway's own requests (deliver_sm: receipts, MO) are acknowledged.
    let s2 = s.clone();
    tokio::spawn(async move {
        while let Some(cmd) = requests.recv().await {
            if let Some(Pdu::DeliverSm(_)) = cmd.pdu() {
                let _ = s2
                    .respond(
                        cmd.sequence_number,
                        CommandStatus::EsmeRok,
                        DeliverSmResp::builder().build(),
                    )
                    .await;
            } else {
                s2.nack(cmd.sequence_number, CommandStatus::EsmeRinvcmdid)
                    .await;
            }
        }
    });
    let resp = s
        .request(
            BindTransceiver::builder()
                .system_id(c_octet(&cfg.system_id))
                .password(c_octet(&cfg.password))
                .build(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("bind_transceiver: {e}"))?;
    if resp.status() != CommandStatus::EsmeRok {
        bail!("bind_transceiver refused: {:?}", resp.status());
    }
    Ok(s)
}

fn submit(n: u64) -> SubmitSm {
    let to = (MSISDN_BASE + n).to_string();
    let text = format!("hello benchmark {n}");
    SubmitSm::builder()
        .source_addr(c_octet("1234"))
        .destination_addr(c_octet(&to))
        .data_coding(DataCoding::from(0))
        .short_message(octets(text.as_bytes()))
        .build()
}

/// Runs the load over `sessions` and returns the merged, sorted latencies.
pub async fn run_load(
    cfg: SmppLoadConfig,
    sessions: &[Session],
    counters: Arc<Counters>,
    t0: Instant,
) -> Result<LoadResult> {
    let cfg = Arc::new(cfg);
    let workers_n = sessions.len() * cfg.window;
    let mut workers = Vec::with_capacity(workers_n);
    for id in 0..workers_n {
        let s = sessions[id % sessions.len()].clone();
        workers.push(tokio::spawn(worker(
            id,
            workers_n,
            s,
            Arc::clone(&cfg),
            Arc::clone(&counters),
            t0,
        )));
    }
    let mut latencies_us = Vec::new();
    for w in workers {
        latencies_us.extend(w.await.context("load worker panicked")?);
    }
    let elapsed = t0.elapsed();
    latencies_us.sort_unstable();
    Ok(LoadResult {
        latencies_us,
        elapsed,
    })
}

/// One window slot of a session: a submit, its response, the next submit.
async fn worker(
    id: usize,
    workers: usize,
    s: Session,
    cfg: Arc<SmppLoadConfig>,
    counters: Arc<Counters>,
    t0: Instant,
) -> Vec<u64> {
    let mut pacer = Pacer::new(id, workers, cfg.duration, cfg.rate, t0);
    let mut latencies = Vec::with_capacity(pacer.expected());
    while let Some(start) = pacer.next(&counters).await {
        if s.is_closed() {
            counters.record_error(&counters.transport_errors, || {
                format!("session closed: {:?}", s.close_reason())
            });
            tokio::time::sleep(ERROR_BACKOFF).await;
            continue;
        }
        let n = counters.next_seq();
        match s.request(submit(n)).await {
            Ok(resp) if resp.status() == CommandStatus::EsmeRok => {
                if matches!(resp.pdu(), Some(Pdu::SubmitSmResp(_))) {
                    latencies.push(start.elapsed().as_micros() as u64);
                    counters.accepted.fetch_add(1, Ordering::Relaxed);
                } else {
                    counters.record_error(&counters.http_errors, || {
                        format!("unexpected response {:?}", resp.id())
                    });
                }
            }
            Ok(resp) => {
                counters.record_error(&counters.http_errors, || {
                    format!("{:?} status {:?}", resp.id(), resp.status())
                });
            }
            Err(SessionError::Timeout) => {
                counters.record_error(&counters.timeouts, || {
                    format!(
                        "timeout: no submit_sm_resp within {:?}",
                        cfg.request_timeout
                    )
                });
            }
            Err(e) => {
                counters.record_error(&counters.transport_errors, || format!("session: {e}"));
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
        }
    }
    latencies
}

/// Unbinds every session (best effort, bounded).
pub async fn unbind_all(sessions: &[Session]) {
    let all = futures_unbind(sessions);
    let _ = tokio::time::timeout(Duration::from_secs(10), all).await;
}

async fn futures_unbind(sessions: &[Session]) {
    let mut tasks = Vec::new();
    for s in sessions {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.unbind().await }));
    }
    for t in tasks {
        let _ = t.await;
    }
}
