//! Latency histograms for `/metrics`: fixed buckets, lock-free (a few relaxed atomic adds per
//! observation), written in Prometheus' histogram format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in microseconds (1 ms to 30 s), then `+Inf`.
const BOUNDS_US: [u64; 14] = [
    1_000, 2_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000, 30_000_000,
];

/// One histogram of durations.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative; the last is `+Inf`).
    buckets: [AtomicU64; BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    /// Count one duration.
    pub fn observe(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = BOUNDS_US.partition_point(|b| *b < us);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Count a duration given in milliseconds (negative: clock skew, counted as 0).
    pub fn observe_ms(&self, ms: i64) {
        self.observe(Duration::from_millis(ms.max(0) as u64));
    }

    /// How many durations were counted.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Append `name` in Prometheus' text format (seconds).
    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = write!(out, "# TYPE {name} histogram\n# HELP {name} {help}\n");
        let mut cumulative = 0u64;
        for (i, b) in self.buckets.iter().enumerate() {
            cumulative += b.load(Ordering::Relaxed);
            match BOUNDS_US.get(i) {
                Some(us) => {
                    let _ = writeln!(
                        out,
                        "{name}_bucket{{le=\"{}\"}} {cumulative}",
                        *us as f64 / 1e6
                    );
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let _ = writeln!(
            out,
            "{name}_sum {}\n{name}_count {}",
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
            self.count.load(Ordering::Relaxed)
        );
    }
}

/// The gateway's latency histograms.
#[derive(Debug, Default)]
pub struct Latencies {
    /// HTTP API `/send` (and `/rate`, `/balance`): request read to answer.
    pub http: Histogram,
    /// SMPP server `submit_sm` to its `submit_sm_resp`.
    pub smpp: Histogram,
    /// Accepted by the gateway to acknowledged by the SMSC (`ESME_ROK`).
    pub to_smsc: Histogram,
    /// Accepted by the gateway to the SMSC's delivery receipt.
    pub to_receipt: Histogram,
    /// One HTTP callback (DLR or MO) to the client's receiver, sent to answered.
    pub callback: Histogram,
}

impl Latencies {
    /// Append every histogram to `out`.
    pub fn render(&self, out: &mut String) {
        self.http.render(
            out,
            "smsgate_http_response_seconds",
            "HTTP API answer time (request read to answer sent).",
        );
        self.smpp.render(
            out,
            "smsgate_smpp_response_seconds",
            "SMPP server submit_sm to submit_sm_resp.",
        );
        self.to_smsc.render(
            out,
            "smsgate_mt_to_smsc_seconds",
            "Accepted by the gateway to acknowledged by the SMSC.",
        );
        self.to_receipt.render(
            out,
            "smsgate_mt_to_receipt_seconds",
            "Accepted by the gateway to the SMSC's delivery receipt.",
        );
        self.callback.render(
            out,
            "smsgate_callback_seconds",
            "One HTTP callback (DLR or MO) to the client's receiver, sent to answered.",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_in_seconds() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60));
        let mut out = String::new();
        h.render(&mut out, "t", "help");
        assert!(out.contains("t_bucket{le=\"0.001\"} 1\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"0.005\"} 2\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"30\"} 2\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("t_count 3\n"), "{out}");
        assert!(out.contains("t_sum 60.0035\n"), "{out}");
    }
}
