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

use crate::peer::Peer;

/// Base of the destination numbers: request `n` goes to `33600000000 + n`, so
/// every request has a distinct 11-digit MSISDN.
pub const MSISDN_BASE: u64 = 33_600_000_000;
/// How many distinct error descriptions are kept for the report.
const MAX_ERROR_SAMPLES: usize = 3;
/// A paced request sent later than this after its slot counts as a late start.
const LATE_THRESHOLD: Duration = Duration::from_millis(1);
/// Pause after a transport error, so a dead gateway doesn't turn the workers
/// into a busy loop.
pub const ERROR_BACKOFF: Duration = Duration::from_millis(10);

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
    /// The gateway's HTTP interface (its request and its acceptance).
    pub peer: Peer,
    /// Stop after this many requests over all workers (0: only the duration counts).
    pub max_requests: u64,
}

/// Counters shared by all workers (and read by the sampler for progress).
#[derive(Default)]
pub struct Counters {
    /// Responses that accepted the message (smsgate: `200 Success "<id>"`).
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

    /// The next request number (distinct destination numbers and texts).
    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Counts an error on `counter` and keeps its description if it is among the first few.
    pub fn record_error(&self, counter: &AtomicU64, description: impl FnOnce() -> String) {
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

/// The schedule of one worker: when each of its requests starts.
///
/// Closed loop (`rate` 0): as soon as the previous exchange finished, until the deadline.
/// Paced: worker `id` of `workers` owns the slots `t0 + id/R + k*workers/R` (k = 0, 1, ...),
/// so the workers together produce R evenly spread requests per second. A request sent
/// after its slot is measured from the slot (no coordinated omission); more than 1 ms late
/// counts as a late start, and the slots left when the window ends unsent are "missed".
pub struct Pacer {
    t0: Instant,
    end: Instant,
    duration: Duration,
    /// (offset of the first slot, interval between slots)
    pacing: Option<(Duration, Duration)>,
    slot_index: u64,
}

impl Pacer {
    pub fn new(id: usize, workers: usize, duration: Duration, rate: f64, t0: Instant) -> Pacer {
        let pacing = (rate > 0.0).then(|| {
            (
                Duration::from_secs_f64(id as f64 / rate),
                Duration::from_secs_f64(workers as f64 / rate),
            )
        });
        Pacer {
            t0,
            end: t0 + duration,
            duration,
            pacing,
            slot_index: 0,
        }
    }

    /// A capacity hint for the latency vector.
    pub fn expected(&self) -> usize {
        match self.pacing {
            Some((_, interval)) => {
                (self.duration.as_secs_f64() / interval.as_secs_f64()) as usize + 1
            }
            None => 4096,
        }
    }

    /// Waits for the next slot; returns the instant latency is measured from, or None when
    /// the load window is over.
    pub async fn next(&mut self, counters: &Counters) -> Option<Instant> {
        let Some((offset, interval)) = self.pacing else {
            let now = Instant::now();
            return (now < self.end).then_some(now);
        };
        let slot = self.t0 + offset + interval.mul_f64(self.slot_index as f64);
        if slot >= self.end {
            return None;
        }
        let now = Instant::now();
        if now >= self.end {
            // So far behind that the load window is over: the slots left are reported as
            // missed rather than sent late.
            let total = if offset >= self.duration {
                0
            } else {
                ((self.duration - offset).as_secs_f64() / interval.as_secs_f64()).ceil() as u64
            };
            counters
                .missed_slots
                .fetch_add(total.saturating_sub(self.slot_index), Ordering::Relaxed);
            return None;
        }
        self.slot_index += 1;
        if slot > now {
            // Early: the gateway is not holding this worker back. The timer fires up to a
            // millisecond after the slot (tokio's granularity): that is the load tool's
            // delay, so the request is measured from when it is actually sent.
            tokio::time::sleep_until(slot).await;
            return Some(Instant::now());
        } else if now - slot > LATE_THRESHOLD {
            // Behind schedule: send right away, but still measure from the slot so the
            // delay shows up in the latency.
            counters.late_starts.fetch_add(1, Ordering::Relaxed);
        }
        Some(slot)
    }
}

/// One worker: sends requests until the deadline, returns its latencies (µs)
/// of accepted requests.
async fn worker(id: usize, cfg: Arc<LoadConfig>, counters: Arc<Counters>, t0: Instant) -> Vec<u64> {
    let host = cfg.addr.to_string();
    let mut pacer = Pacer::new(id, cfg.concurrency, cfg.duration, cfg.rate, t0);
    let mut latencies = Vec::with_capacity(pacer.expected());
    let mut conn: Option<Sender> = None;

    while let Some(start) = pacer.next(&counters).await {
        let n = counters.next_seq();
        if cfg.max_requests > 0 && n >= cfg.max_requests {
            break;
        }
        let exchange = send_one(&cfg, &host, &mut conn, n);
        match tokio::time::timeout(cfg.request_timeout, exchange).await {
            Ok(Ok((status, body))) => {
                if cfg.peer.accepted(status, &body) {
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

    let uri = cfg.peer.send_uri(MSISDN_BASE + n, n);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An early worker is timed from when its timer fired (the load tool's delay is not the
    /// gateway's); a late one from its slot, and counted as a late start.
    #[tokio::test]
    async fn an_early_worker_is_timed_from_its_wake_a_late_one_from_its_slot() {
        let counters = Counters::default();
        let t0 = Instant::now() + Duration::from_millis(30);
        let mut early = Pacer::new(0, 1, Duration::from_secs(1), 100.0, t0);
        let start = early.next(&counters).await.expect("a slot");
        assert!(start > t0, "timed from the wake, after the slot");
        assert!(start <= Instant::now());
        assert_eq!(counters.late_starts.load(Ordering::Relaxed), 0);

        let t0 = Instant::now() - Duration::from_millis(30);
        let mut late = Pacer::new(0, 1, Duration::from_secs(1), 100.0, t0);
        let start = late.next(&counters).await.expect("a slot");
        assert_eq!(start, t0, "timed from the slot it missed");
        assert_eq!(counters.late_starts.load(Ordering::Relaxed), 1);
    }
}
