//! Turning raw measurements into the text report and the JSON summary.

use std::sync::atomic::Ordering;

use serde::Serialize;

use crate::load::{Counters, LoadResult};
use crate::probe::{kb_to_mb, Mem, Sample};
use crate::DrainResult;

/// Benchmark settings echoed in the report.
pub struct Settings {
    /// The gateway under test: "smsgate" or "kannel".
    pub gateway: &'static str,
    /// "http" or "smpp".
    pub mode: &'static str,
    /// HTTP: connections; SMPP: sessions x window.
    pub concurrency: usize,
    pub keep_alive: bool,
    /// Target requests/s; 0 = unlimited.
    pub rate: f64,
    pub smpp_sessions: Option<usize>,
    pub smpp_window: Option<usize>,
}

/// Everything measured during a run.
pub struct Measurements<'a> {
    pub load: &'a LoadResult,
    pub counters: &'a Counters,
    /// submit_sm received while the load ran.
    pub delivered_during: u64,
    pub drain: &'a DrainResult,
    /// Per-second samples taken during the load.
    pub samples: &'a [Sample],
    /// Gateway memory read after the drain.
    pub final_mem: Option<Mem>,
    pub gateway_alive: bool,
    /// CPU seconds used from the start of the load to the end of the drain.
    pub cpu: Cpu,
    /// The data disk's flush latencies (µs, sorted), measured before the load.
    pub disk_flush_us: &'a [u64],
}

/// CPU seconds (user + system) over the load and the drain, per process group.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    /// The gateway's processes (Kannel: bearerbox + smsbox).
    pub gateway_s: f64,
    /// The SMSC simulator.
    pub sim_s: f64,
    /// This benchmark (the load generator).
    pub bench_s: f64,
}

/// The benchmark result; serialized as the one-line JSON summary.
#[derive(Serialize, Debug)]
pub struct Summary {
    /// The gateway under test: "smsgate" or "kannel".
    pub gateway: &'static str,
    /// "http" (`/send`) or "smpp" (`submit_sm` to the SMPP server).
    pub mode: &'static str,
    /// Actual load duration (until the last in-flight response), seconds.
    pub duration_s: f64,
    /// HTTP: connections; SMPP: sessions x window (requests in flight at most).
    pub concurrency: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smpp_sessions: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smpp_window: Option<usize>,
    pub keep_alive: bool,
    /// Target requests/s; 0 = unlimited.
    pub target_rate: f64,
    pub accepted: u64,
    pub accepted_per_s: f64,
    pub errors: u64,
    /// HTTP: non-Success responses; SMPP: submit_sm_resp with an error status.
    pub http_errors: u64,
    pub transport_errors: u64,
    pub timeouts: u64,
    /// Paced mode: requests sent > 1 ms after their slot.
    pub late_starts: u64,
    /// Paced mode: slots not used at all because the window ended.
    pub missed_slots: u64,
    pub delivered_during: u64,
    pub delivered_during_per_s: f64,
    pub delivered_total: u64,
    pub drain_s: f64,
    /// Whether delivered_total reached accepted.
    pub drained: bool,
    pub p50_us: Option<u64>,
    pub p90_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub p999_us: Option<u64>,
    pub max_us: Option<u64>,
    pub mean_us: Option<f64>,
    pub peak_rss_mb: Option<f64>,
    pub end_rss_mb: Option<f64>,
    /// The end RSS's anonymous and file-backed parts (`RssAnon`, `RssFile`).
    pub end_rss_anon_mb: Option<f64>,
    pub end_rss_file_mb: Option<f64>,
    /// Cumulative submit_sm received at each 1 s sample during the load
    /// (null where /stats could not be read).
    pub delivered_timeline: Vec<Option<u64>>,
    pub gateway_alive: bool,
    /// CPU seconds of the gateway's processes from the start of the load to the end of the
    /// drain, and per message delivered (µs).
    pub gateway_cpu_s: f64,
    pub gateway_cpu_us_per_msg: Option<f64>,
    /// The simulator's and the load generator's CPU seconds, shown apart.
    pub sim_cpu_s: f64,
    pub bench_cpu_s: f64,
    /// The data disk's `fdatasync` latency (4 KB overwrites, before the load): the floor of a
    /// durable answer's latency.
    pub disk_flush_p50_us: Option<u64>,
    pub disk_flush_p99_us: Option<u64>,
}

/// Exact nearest-rank percentile of an ascending-sorted slice (`q` in 0..=1).
pub fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Rounds to one decimal place (keeps the JSON readable).
fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Rounds to two decimal places.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// "unlimited" or "<R>/s".
pub fn rate_label(rate: f64) -> String {
    if rate > 0.0 {
        format!("{rate}/s")
    } else {
        "unlimited".to_string()
    }
}

impl Summary {
    pub fn build(settings: Settings, m: Measurements<'_>) -> Summary {
        let secs = m.load.elapsed.as_secs_f64().max(f64::EPSILON);
        let lat = &m.load.latencies_us;
        let accepted = m.counters.accepted.load(Ordering::Relaxed);

        // Peak RSS: the kernel's high-water mark at the last reading is the
        // true peak; the per-second samples only matter if the final read failed.
        let peak_kb = m
            .samples
            .iter()
            .filter_map(|s| s.mem.map(|mem| mem.hwm_kb))
            .chain(m.final_mem.map(|mem| mem.hwm_kb))
            .max();

        let delivered = m.drain.delivered_total;
        Summary {
            gateway: settings.gateway,
            mode: settings.mode,
            duration_s: round1(secs),
            concurrency: settings.concurrency,
            smpp_sessions: settings.smpp_sessions,
            smpp_window: settings.smpp_window,
            keep_alive: settings.keep_alive,
            target_rate: settings.rate,
            accepted,
            accepted_per_s: round1(accepted as f64 / secs),
            errors: m.counters.errors(),
            http_errors: m.counters.http_errors.load(Ordering::Relaxed),
            transport_errors: m.counters.transport_errors.load(Ordering::Relaxed),
            timeouts: m.counters.timeouts.load(Ordering::Relaxed),
            late_starts: m.counters.late_starts.load(Ordering::Relaxed),
            missed_slots: m.counters.missed_slots.load(Ordering::Relaxed),
            delivered_during: m.delivered_during,
            delivered_during_per_s: round1(m.delivered_during as f64 / secs),
            delivered_total: m.drain.delivered_total,
            drain_s: round1(m.drain.elapsed.as_secs_f64()),
            drained: m.drain.complete,
            p50_us: percentile(lat, 0.50),
            p90_us: percentile(lat, 0.90),
            p99_us: percentile(lat, 0.99),
            p999_us: percentile(lat, 0.999),
            max_us: lat.last().copied(),
            mean_us: (!lat.is_empty())
                .then(|| round1(lat.iter().map(|&v| v as f64).sum::<f64>() / lat.len() as f64)),
            peak_rss_mb: peak_kb.map(|kb| round1(kb_to_mb(kb))),
            end_rss_mb: m.final_mem.map(|mem| round1(kb_to_mb(mem.rss_kb))),
            end_rss_anon_mb: m.final_mem.map(|mem| round1(kb_to_mb(mem.anon_kb))),
            end_rss_file_mb: m.final_mem.map(|mem| round1(kb_to_mb(mem.file_kb))),
            delivered_timeline: m.samples.iter().map(|s| s.delivered).collect(),
            gateway_alive: m.gateway_alive,
            gateway_cpu_s: round2(m.cpu.gateway_s),
            gateway_cpu_us_per_msg: (delivered > 0 && settings.gateway != "raw")
                .then(|| round1(m.cpu.gateway_s * 1e6 / delivered as f64)),
            sim_cpu_s: round2(m.cpu.sim_s),
            bench_cpu_s: round2(m.cpu.bench_s),
            disk_flush_p50_us: percentile(m.disk_flush_us, 0.50),
            disk_flush_p99_us: percentile(m.disk_flush_us, 0.99),
        }
    }

    /// Prints the human-readable report to stdout.
    pub fn print_text(&self, error_samples: &[String]) {
        let smpp = self.mode == "smpp";
        if smpp {
            println!(
                "smsgate-bench smpp: duration {:.1}s sessions {} window {} target-rate {}",
                self.duration_s,
                self.smpp_sessions.unwrap_or(0),
                self.smpp_window.unwrap_or(0),
                rate_label(self.target_rate)
            );
        } else {
            println!(
                "smsgate-bench {}: duration {:.1}s concurrency {} keep-alive {} target-rate {}",
                self.gateway,
                self.duration_s,
                self.concurrency,
                if self.keep_alive { "yes" } else { "no" },
                rate_label(self.target_rate)
            );
        }
        println!(
            "accepted           {} ({:.1} msg/s)",
            self.accepted, self.accepted_per_s
        );
        if self.errors == 0 {
            println!("errors             0");
        } else {
            println!(
                "errors             {} ({} {}, transport {}, timeout {})",
                self.errors,
                if smpp { "refused" } else { "http" },
                self.http_errors,
                self.transport_errors,
                self.timeouts
            );
            for e in error_samples {
                println!("  first errors:    {e}");
            }
        }
        if self.target_rate > 0.0 {
            println!(
                "pacing             late-starts {}  missed-slots {}   <- a late start is timed from its scheduled slot",
                self.late_starts, self.missed_slots
            );
        }
        println!(
            "delivered-during   {} ({:.1} msg/s)   <- received by the SMSC while the load ran",
            self.delivered_during, self.delivered_during_per_s
        );
        if self.drained {
            println!(
                "delivered-total    {} after {:.1}s drain",
                self.delivered_total, self.drain_s
            );
        } else {
            println!(
                "delivered-total    {} after {:.1}s drain   <- INCOMPLETE: {} accepted messages not received",
                self.delivered_total,
                self.drain_s,
                self.accepted.saturating_sub(self.delivered_total)
            );
        }
        match (
            self.p50_us,
            self.p90_us,
            self.p99_us,
            self.p999_us,
            self.max_us,
        ) {
            (Some(p50), Some(p90), Some(p99), Some(p999), Some(max)) => println!(
                "latency-us         p50 {p50}  p90 {p90}  p99 {p99}  p999 {p999}  max {max}{}",
                if smpp {
                    "   <- submit_sm -> submit_sm_resp"
                } else {
                    ""
                }
            ),
            _ => println!("latency-us         n/a (no accepted requests)"),
        }
        if let (Some(p50), Some(p99)) = (self.disk_flush_p50_us, self.disk_flush_p99_us) {
            println!(
                "disk-flush-us      p50 {p50}  p99 {p99}   <- fdatasync of the data disk, before the load"
            );
        }
        match self.peak_rss_mb {
            Some(mb) => println!("gateway-peak-rss   {mb:.1} MB"),
            None => println!("gateway-peak-rss   n/a"),
        }
        if let Some(mb) = self.end_rss_mb {
            println!(
                "gateway-end-rss    {mb:.1} MB (anon {:.1}, file {:.1})   <- file: code and read-only data",
                self.end_rss_anon_mb.unwrap_or_default(),
                self.end_rss_file_mb.unwrap_or_default()
            );
        }
        match self.gateway_cpu_us_per_msg {
            _ if self.gateway == "raw" => {
                println!("gateway-cpu        none (--peer raw: the ESMEs talk to the simulator)")
            }
            Some(us) => println!(
                "gateway-cpu        {:.2} s, {us:.1} us per message delivered   <- load + drain",
                self.gateway_cpu_s
            ),
            None => println!("gateway-cpu        {:.2} s", self.gateway_cpu_s),
        }
        println!(
            "other-cpu          simulator {:.2} s, load generator {:.2} s",
            self.sim_cpu_s, self.bench_cpu_s
        );
        if !self.gateway_alive {
            println!("gateway            EXITED during the run (see gateway.log in the work dir)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_nearest_rank() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 0.50), Some(500));
        assert_eq!(percentile(&v, 0.99), Some(990));
        assert_eq!(percentile(&v, 0.999), Some(999));
        assert_eq!(percentile(&v, 1.0), Some(1000));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&[7], 0.999), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
