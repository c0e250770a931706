//! The load generator: `concurrency` workers, each owning one HTTP/1.1
//! connection (or a fresh one per request without keep-alive), sending
//! `GET /send` either back-to-back or on a paced open-loop schedule.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONNECTION, HOST, USER_AGENT};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Body that every accepted `/send` response starts with (Jasmin-compatible
/// `Success "<message id>"`).
const SUCCESS_PREFIX: &[u8] = b"Success \"";
/// Base of the destination numbers: request `n` goes to `33600000000 + n`, so
/// every request has a distinct 11-digit MSISDN.
const MSISDN_BASE: u64 = 33_600_000_000;
/// How many distinct error descriptions are kept for the report.
const MAX_ERROR_SAMPLES: usize = 3;
/// A paced request sent later than this after its slot counts as a late start.
const LATE_THRESHOLD: Duration = Duration::from_millis(1);
/// Pause after a transport error, so a dead gateway doesn't turn the workers
/// into a busy loop.
const ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// Parameters of a load run.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Gateway HTTP API address.
    pub addr: SocketAddr,
    /// Number of workers (= connections).
    pub concurrency: usize,
    /// How long new requests are started.
    pub duration: Duration,
    /// Target requests/s over all workers; 0 = unlimited (closed loop).
    pub rate: f64,
    /// One persistent connection per worker if true, else one per request.
    pub keep_alive: bool,
    /// Upper bound for a single exchange.
    pub request_timeout: Duration,
}

/// Counters shared by all workers (and read by the sampler for progress).
#[derive(Default)]
pub struct Counters {
    /// 200 responses whose body starts with `Success "`.
    pub accepted: AtomicU64,
    /// Complete responses that were not an acceptance (other status or body).
    pub http_errors: AtomicU64,
    /// Connect / handshake / I/O failures.
    pub transport_errors: AtomicU64,
    /// Exchanges that exceeded the request timeout.
    pub timeouts: AtomicU64,
    /// Paced requests that started more than 1 ms after their slot.
    pub late_starts: AtomicU64,
    /// Paced slots never used because the worker was still behind schedule
    /// when the load window ended.
    pub missed_slots: AtomicU64,
    /// Source of the per-request sequence number.
    seq: AtomicU64,
    /// First few distinct error descriptions.
    error_samples: Mutex<Vec<String>>,
}

impl Counters {
    /// All errors.
    pub fn errors(&self) -> u64 {
        self.http_errors.load(Ordering::Relaxed)
            + self.transport_errors.load(Ordering::Relaxed)
            + self.timeouts.load(Ordering::Relaxed)
    }

    /// The first (up to 3) distinct error descriptions.
    pub fn error_samples(&self) -> Vec<String> {
        self.error_samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn record_error(&self, counter: &AtomicU64, description: impl FnOnce() -> String) {
        counter.fetch_add(1, Ordering::Relaxed);
        let mut samples = self.error_samples.lock().unwrap_or_else(|e| e.into_inner());
        if samples.len() < MAX_ERROR_SAMPLES {
            let d = description();
            if !samples.contains(&d) {
                samples.push(d);
            }
        }
    }
}

/// Result of a load run.
pub struct LoadResult {
    /// Latencies of all accepted requests in microseconds, sorted ascending.
    pub latencies_us: Vec<u64>,
    /// From the start of the load until the last worker finished (the last
    /// in-flight responses included).
    pub elapsed: Duration,
}

/// Runs the load and returns the merged, sorted latencies.
pub async fn run_load(cfg: LoadConfig, counters: Arc<Counters>, t0: Instant) -> Result<LoadResult> {
    let cfg = Arc::new(cfg);
    let mut workers = Vec::with_capacity(cfg.concurrency);
    for id in 0..cfg.concurrency {
        workers.push(tokio::spawn(worker(
            id,
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

/// The request sender of one HTTP/1.1 client connection.
type Sender = SendRequest<Empty<Bytes>>;

/// One worker: sends requests until the deadline, returns its latencies (µs)
/// of accepted requests.
async fn worker(id: usize, cfg: Arc<LoadConfig>, counters: Arc<Counters>, t0: Instant) -> Vec<u64> {
    let end = t0 + cfg.duration;
    let host = cfg.addr.to_string();
    // Paced mode: worker `id` owns the slots t0 + id/R + k*N/R (k = 0, 1, ...),
    // so the N workers together produce R evenly spread requests per second.
    let pacing = (cfg.rate > 0.0).then(|| {
        (
            Duration::from_secs_f64(id as f64 / cfg.rate),
            Duration::from_secs_f64(cfg.concurrency as f64 / cfg.rate),
        )
    });
    let expected = match pacing {
        Some((_, interval)) => (cfg.duration.as_secs_f64() / interval.as_secs_f64()) as usize + 1,
        None => 4096,
    };
    let mut latencies = Vec::with_capacity(expected);
    let mut conn: Option<Sender> = None;
    let mut slot_index: u64 = 0;

    loop {
        // When does this request "start" (the reference point for latency)?
        let start = match pacing {
            Some((offset, interval)) => {
                let slot = t0 + offset + interval.mul_f64(slot_index as f64);
                if slot >= end {
                    break;
                }
                let now = Instant::now();
                if now >= end {
                    // So far behind that the load window is over: the slots
                    // left are reported as missed rather than sent late.
                    let total = if offset >= cfg.duration {
                        0
                    } else {
                        ((cfg.duration - offset).as_secs_f64() / interval.as_secs_f64()).ceil()
                            as u64
                    };
                    counters
                        .missed_slots
                        .fetch_add(total.saturating_sub(slot_index), Ordering::Relaxed);
                    break;
                }
                slot_index += 1;
                if slot > now {
                    tokio::time::sleep_until(slot).await;
                } else if now - slot > LATE_THRESHOLD {
                    // Behind schedule: send right away, but still measure from
                    // the slot so the delay shows up in the latency.
                    counters.late_starts.fetch_add(1, Ordering::Relaxed);
                }
                slot
            }
            None => {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                now
            }
        };

        let n = counters.seq.fetch_add(1, Ordering::Relaxed);
        let exchange = send_one(&cfg, &host, &mut conn, n);
        match tokio::time::timeout(cfg.request_timeout, exchange).await {
            Ok(Ok((status, body))) => {
                if status == StatusCode::OK && body.starts_with(SUCCESS_PREFIX) {
                    latencies.push(start.elapsed().as_micros() as u64);
                    counters.accepted.fetch_add(1, Ordering::Relaxed);
                } else {
                    counters.record_error(&counters.http_errors, || {
                        let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
                        format!("HTTP {}: {}", status.as_u16(), text.trim_end())
                    });
                }
            }
            Ok(Err(e)) => {
                counters.record_error(&counters.transport_errors, || format!("transport: {e:#}"));
                conn = None;
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
            Err(_) => {
                counters.record_error(&counters.timeouts, || {
                    format!(
                        "timeout: no complete response within {:?}",
                        cfg.request_timeout
                    )
                });
                // The connection may still carry the late response; don't reuse it.
                conn = None;
            }
        }
        if !cfg.keep_alive {
            conn = None;
        }
    }
    latencies
}

/// Sends one `/send` request (connecting first if needed) and reads the full
/// response.
async fn send_one(
    cfg: &LoadConfig,
    host: &str,
    conn: &mut Option<Sender>,
    n: u64,
) -> Result<(StatusCode, Bytes)> {
    // Reuse the connection if it is still usable (the server may have closed
    // an idle keep-alive connection); otherwise open a new one.
    let reusable = match conn.as_mut() {
        Some(sender) => !sender.is_closed() && sender.ready().await.is_ok(),
        None => false,
    };
    if !reusable {
        *conn = Some(connect(cfg.addr).await?);
    }
    let sender = conn.as_mut().expect("connection established above");

    let uri = format!(
        "/send?username=bench&password=benchpwd&to={}&content=hello+benchmark+{n}",
        MSISDN_BASE + n
    );
    let mut request = Request::get(uri)
        .header(HOST, host)
        .header(USER_AGENT, "smsgate-bench");
    if !cfg.keep_alive {
        request = request.header(CONNECTION, "close");
    }
    let request = request.body(Empty::new()).context("building request")?;

    let response = sender
        .send_request(request)
        .await
        .context("sending request")?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .context("reading response body")?
        .to_bytes();
    Ok((status, body))
}

/// Opens a TCP connection and performs the HTTP/1 client handshake; the
/// connection driver runs in its own task until the connection closes.
async fn connect(addr: SocketAddr) -> Result<Sender> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true).context("setting TCP_NODELAY")?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP/1 handshake")?;
    tokio::spawn(async move {
        // Errors surface on the sender side; nothing to do here.
        let _ = connection.await;
    });
    Ok(sender)
}
