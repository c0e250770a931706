//! How a connector holds back when its SMSC pushes back: the reconnect backoff after failed
//! connections or binds, the pause after `ESME_RTHROTTLED`, and the watch on answers that
//! tells a stalled SMSC from a slow one.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The longest wait between two connection attempts, unless `con_fail_delay` is longer.
pub const MAX_RECONNECT_DELAY_S: u64 = 60;

/// Seconds to wait after the `failures`-th failed connection or bind in a row: `base`
/// (`con_fail_delay`) doubled on each further failure, up to [`MAX_RECONNECT_DELAY_S`] (or
/// `base` when that is longer).
pub fn reconnect_delay(base: u64, failures: u32) -> u64 {
    let doublings = failures.saturating_sub(1).min(16);
    base.saturating_mul(1u64 << doublings)
        .min(base.max(MAX_RECONNECT_DELAY_S))
}

/// The first pause after a throttled answer.
pub const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause: while the SMSC keeps throttling, one message probes it this often.
pub const MAX_PAUSE: Duration = Duration::from_secs(5);

/// The pause after `ESME_RTHROTTLED`. The first throttled answer pauses sending for
/// [`FIRST_PAUSE`]; each further one doubles the pause up to [`MAX_PAUSE`]. When a pause ends,
/// one message goes out alone (a probe) and the others wait for its answer: any other answer
/// than throttled ends the backoff, another throttled one starts a longer pause.
#[derive(Debug, Default)]
pub struct ThrottleBackoff {
    /// Fast path: false while the SMSC takes what it is sent.
    active: AtomicBool,
    state: Mutex<PauseState>,
}

#[derive(Debug)]
struct PauseState {
    step: Duration,
    until: Instant,
    /// A probe is out: the others wait for its answer.
    probing: bool,
}

impl Default for PauseState {
    fn default() -> Self {
        PauseState {
            step: Duration::ZERO,
            until: Instant::now(),
            probing: false,
        }
    }
}

impl ThrottleBackoff {
    /// Wait until a message may be sent.
    pub async fn wait(&self) {
        while self.active.load(Ordering::Acquire) {
            let until = {
                let mut st = self.state.lock();
                let now = Instant::now();
                if st.until > now {
                    Some(st.until)
                } else if !st.probing {
                    st.probing = true;
                    return;
                } else {
                    None
                }
            };
            match until {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                // The probe's answer ends or extends the pause.
                None => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    /// The SMSC answered `ESME_RTHROTTLED`: pause (longer than last time). Returns the pause,
    /// which is also how long the throttled message waits before it is tried again.
    pub fn throttled(&self) -> Duration {
        let mut st = self.state.lock();
        let now = Instant::now();
        // Answers to submits sent before the pause began do not lengthen it.
        if self.active.load(Ordering::Acquire) && !st.probing && st.until > now {
            return st.until - now;
        }
        st.step = (st.step * 2).clamp(FIRST_PAUSE, MAX_PAUSE);
        st.until = now + st.step;
        st.probing = false;
        self.active.store(true, Ordering::Release);
        st.step
    }

    /// The SMSC answered something else than throttled: sending resumes at full pace.
    pub fn answered(&self) {
        if self.active.load(Ordering::Acquire) {
            let mut st = self.state.lock();
            *st = PauseState::default();
            self.active.store(false, Ordering::Release);
        }
    }
}

/// Tells a stalled SMSC from a slow one: a submit that timed out while no other submit was
/// answered during its whole wait means the SMSC stopped answering (the link may still look
/// alive: a stalled SMSC often still answers `enquire_link`). The session is then closed and
/// bound again, before anything else is written to it.
#[derive(Debug)]
pub struct StallDetector {
    started: Instant,
    /// When a submit was last answered, in milliseconds since `started`.
    last_answer_ms: AtomicU64,
}

impl Default for StallDetector {
    fn default() -> Self {
        StallDetector {
            started: Instant::now(),
            last_answer_ms: AtomicU64::new(0),
        }
    }
}

impl StallDetector {
    /// The SMSC answered a submit.
    pub fn answered(&self) {
        self.last_answer_ms
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// A submit went unanswered for `timeout`: true when nothing was answered during that
    /// time either (the SMSC stopped answering).
    pub fn timed_out(&self, timeout: Duration) -> bool {
        let now = self.started.elapsed().as_millis() as u64;
        now.saturating_sub(self.last_answer_ms.load(Ordering::Relaxed))
            >= timeout.as_millis() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delay_doubles_up_to_a_minute_or_the_base() {
        let d: Vec<u64> = (1..=8).map(|n| reconnect_delay(10, n)).collect();
        assert_eq!(d, [10, 20, 40, 60, 60, 60, 60, 60]);
        assert_eq!(reconnect_delay(1, 1), 1);
        assert_eq!(reconnect_delay(1, 4), 8);
        assert_eq!(reconnect_delay(1, 40), 60);
        assert_eq!(reconnect_delay(120, 3), 120);
        assert_eq!(reconnect_delay(0, 5), 0);
    }

    #[tokio::test]
    async fn throttling_pauses_then_probes_with_one_message() {
        let b = ThrottleBackoff::default();
        let t0 = std::time::Instant::now();
        b.wait().await;
        assert!(t0.elapsed() < FIRST_PAUSE);
        assert_eq!(b.throttled(), FIRST_PAUSE);
        // answers to submits already out do not lengthen the pause
        assert!(b.throttled() <= FIRST_PAUSE);
        b.wait().await; // the probe, after the pause
        assert!(t0.elapsed() >= FIRST_PAUSE);
        // a second sender waits for the probe's answer
        let second = tokio::time::timeout(Duration::from_millis(300), b.wait()).await;
        assert!(second.is_err(), "only one probe at a time");
        let t1 = std::time::Instant::now();
        assert_eq!(b.throttled(), FIRST_PAUSE * 2);
        b.wait().await;
        assert!(t1.elapsed() >= FIRST_PAUSE * 2);
        b.answered();
        let t2 = std::time::Instant::now();
        b.wait().await;
        assert!(t2.elapsed() < FIRST_PAUSE);
        // a new run of throttling starts from the first pause again
        assert_eq!(b.throttled(), FIRST_PAUSE);
    }

    #[test]
    fn the_pause_stops_growing_at_its_maximum() {
        let b = ThrottleBackoff::default();
        let mut last = Duration::ZERO;
        for _ in 0..20 {
            b.state.lock().probing = true; // each answer is a probe's
            last = b.throttled();
        }
        assert_eq!(last, MAX_PAUSE);
    }

    #[test]
    fn a_timeout_with_no_answer_during_it_is_a_stall() {
        let s = StallDetector::default();
        std::thread::sleep(Duration::from_millis(30));
        s.answered();
        // answered 0 ms ago: a slow SMSC, not a stalled one
        assert!(!s.timed_out(Duration::from_millis(20)));
        std::thread::sleep(Duration::from_millis(30));
        // nothing answered during the last 20 ms
        assert!(s.timed_out(Duration::from_millis(20)));
        assert!(!s.timed_out(Duration::from_secs(60)));
    }
}
