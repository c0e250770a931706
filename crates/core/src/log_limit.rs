//! Keeping a failure that repeats on every request (a full disk, a broker away) from flooding
//! the log: one line per period, saying how many were held back since the last one. The
//! failures themselves stay counted in full by their metrics.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// One log line per `period_ms` at most, for a `static` next to the line it limits.
pub struct LogLimit {
    period_ms: i64,
    /// When a line last went through (the gateway's clock, ms); `i64::MIN`: never.
    last: AtomicI64,
    held: AtomicU64,
}

impl LogLimit {
    /// A limit of one line per `period_ms`.
    pub const fn new(period_ms: i64) -> LogLimit {
        LogLimit {
            period_ms,
            last: AtomicI64::new(i64::MIN),
            held: AtomicU64::new(0),
        }
    }

    /// `Some(lines held back since the last one)` when this line may be logged, else `None`
    /// (and it is counted).
    pub fn pass(&self) -> Option<u64> {
        let now = crate::clock::now_ms();
        let last = self.last.load(Ordering::Relaxed);
        if last != i64::MIN && now - last < self.period_ms
            || self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            self.held.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.held.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_period_with_the_count_held_back() {
        let l = LogLimit::new(50);
        assert_eq!(l.pass(), Some(0));
        assert_eq!(l.pass(), None);
        assert_eq!(l.pass(), None);
        std::thread::sleep(std::time::Duration::from_millis(60));
        assert_eq!(l.pass(), Some(2));
        assert_eq!(l.pass(), None);
    }
}
