//! The gateway's clock: the system's wall clock read once, at the first call, then advanced by
//! the monotonic clock.
//!
//! Every time the gateway stores or compares (a message's creation and validity, a retry's
//! delay, a receipt mapping's expiry, a key's TTL, an SMPP session's timers) comes from
//! [`now_ms`]. When the system clock is stepped (an NTP correction, an operator's `date -s`), the
//! gateway's clock does not follow it: no delay stretches by the step, no validity or expiry
//! collapses, no session is closed as inactive. A restart re-reads the wall clock.
//! [`step_ms`] is how far the system clock has moved away since; the runtime logs it and
//! exports it (`smsgate_clock_step_seconds`) so an operator knows to restart at a quiet moment.
//!
//! NTP's gradual corrections (slewing) change both clocks alike, so without steps the two stay
//! equal. Log lines and exported traces keep the system's wall clock.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The wall clock (ms since the epoch) and the instant it was read.
static ANCHOR: OnceLock<(i64, Instant)> = OnceLock::new();

/// The system's wall clock, in milliseconds since the epoch (0 before 1970).
pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn anchor() -> &'static (i64, Instant) {
    ANCHOR.get_or_init(|| (wall_ms(), Instant::now()))
}

/// The gateway's time, in milliseconds since the epoch: never steps, never goes back.
pub fn now_ms() -> i64 {
    let (wall, at) = anchor();
    wall + at.elapsed().as_millis() as i64
}

/// The gateway's time as a [`SystemTime`].
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(now_ms().max(0) as u64)
}

/// How far the system clock has been stepped since the gateway read it, in milliseconds
/// (positive: it is ahead of the gateway's clock).
pub fn step_ms() -> i64 {
    let gateway = now_ms();
    wall_ms() - gateway
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_wall_clock_without_steps_and_never_goes_back() {
        let a = now_ms();
        assert!(step_ms().abs() < 50, "step {} ms without a step", step_ms());
        std::thread::sleep(Duration::from_millis(20));
        let b = now_ms();
        assert!((20..1000).contains(&(b - a)), "{a} then {b}");
        let t = now().duration_since(UNIX_EPOCH).expect("after 1970");
        assert!((t.as_millis() as i64 - now_ms()).abs() < 50);
    }
}
