//! Rate-limited logging of plugin call failures: a plugin failing on every message writes
//! one line per interval, not one (multi-line, with a wasm backtrace) per message.
//!
//! The first failure of a plugin in an interval is logged at once; the next ones in that
//! interval are only counted, and logged as one summary line (`plugin x: N more failures in
//! the last 10s (last: ...)`) when the interval is over: at the next failure after it, or when
//! the directory watcher calls [`FailLog::flush`]. The counters on `/metrics` count every
//! failure.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The default interval: at most one failure line and one summary line per plugin per 10 s.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// What to log now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lines {
    /// A summary of the failures not logged in the interval that ended: (count, last reason).
    pub summary: Option<(u64, String)>,
    /// Log this failure.
    pub log_this: bool,
}

#[derive(Debug, Default)]
struct Window {
    /// When the interval started (its first failure was logged); none: no interval open.
    start: Option<Instant>,
    /// Failures after the first one in this interval.
    suppressed: u64,
    /// The last of them.
    last: String,
}

/// The failure log of one plugin (all its versions).
#[derive(Debug)]
pub struct FailLog {
    interval_ms: Arc<AtomicU64>,
    w: Mutex<Window>,
}

impl FailLog {
    /// A log whose interval is `interval_ms` (shared, so the host can change it).
    pub fn new(interval_ms: Arc<AtomicU64>) -> FailLog {
        FailLog {
            interval_ms,
            w: Mutex::default(),
        }
    }

    /// The current interval.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms.load(Ordering::Relaxed))
    }

    /// A failure (`reason`, one line) at `now`: what to log.
    pub fn record(&self, now: Instant, reason: &str) -> Lines {
        let interval = self.interval();
        let mut w = self.w.lock();
        match w.start {
            Some(s) if now.saturating_duration_since(s) < interval => {
                w.suppressed += 1;
                w.last.clear();
                w.last.push_str(reason);
                Lines {
                    summary: None,
                    log_this: false,
                }
            }
            _ => {
                let summary = take_summary(&mut w);
                w.start = Some(now);
                Lines {
                    summary,
                    log_this: true,
                }
            }
        }
    }

    /// At `now`: the summary of an interval that is over, if failures were left unlogged.
    pub fn flush(&self, now: Instant) -> Option<(u64, String)> {
        let interval = self.interval();
        let mut w = self.w.lock();
        match w.start {
            Some(s) if now.saturating_duration_since(s) >= interval => {
                let summary = take_summary(&mut w);
                w.start = None;
                summary
            }
            _ => None,
        }
    }
}

fn take_summary(w: &mut Window) -> Option<(u64, String)> {
    let n = std::mem::take(&mut w.suppressed);
    let last = std::mem::take(&mut w.last);
    (n > 0).then_some((n, last))
}

/// A duration as the summary line says it (`10s`, `500ms`).
pub fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The first line of `s` (an error's summary, for a one-line log).
pub fn first_line(s: &str) -> &str {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(ms: u64) -> FailLog {
        FailLog::new(Arc::new(AtomicU64::new(ms)))
    }

    #[test]
    fn first_failure_of_an_interval_is_logged_the_rest_summarised() {
        let l = log(10_000);
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        assert_eq!(
            l.record(at(0), "trap a"),
            Lines {
                summary: None,
                log_this: true
            }
        );
        for i in 1..=99 {
            let r = l.record(at(i * 50), &format!("trap {i}"));
            assert!(!r.log_this && r.summary.is_none(), "{i}: {r:?}");
        }
        assert_eq!(l.flush(at(9_999)), None, "interval not over");
        // The next failure after the interval: the summary, and this one is logged.
        assert_eq!(
            l.record(at(10_000), "trap b"),
            Lines {
                summary: Some((99, "trap 99".into())),
                log_this: true
            }
        );
        l.record(at(10_001), "trap c");
        l.record(at(10_002), "trap d");
        // Or the watcher's flush when the interval is over.
        assert_eq!(l.flush(at(20_000)), Some((2, "trap d".into())));
        assert_eq!(l.flush(at(40_000)), None);
        // A quiet interval: the next failure is logged at once, with no summary.
        assert_eq!(
            l.record(at(50_000), "trap e"),
            Lines {
                summary: None,
                log_this: true
            }
        );
        assert_eq!(l.flush(at(60_000)), None, "nothing suppressed");
    }

    #[test]
    fn a_thousand_failures_make_two_lines_per_interval() {
        let l = log(1_000);
        let t0 = Instant::now();
        let mut lines = 0;
        // 1000 failures, one per 10 ms, over 10 s: 10 intervals.
        for i in 0..1000u64 {
            let r = l.record(t0 + Duration::from_millis(i * 10), "x");
            lines += usize::from(r.log_this) + usize::from(r.summary.is_some());
        }
        lines += usize::from(l.flush(t0 + Duration::from_secs(20)).is_some());
        assert_eq!(lines, 20);
    }

    #[test]
    fn formats() {
        assert_eq!(human(Duration::from_secs(10)), "10s");
        assert_eq!(human(Duration::from_millis(500)), "500ms");
        assert_eq!(
            first_line("\n  error while executing\n  0: 0x12 - f"),
            "error while executing"
        );
    }
}
