//! Giving memory back to the operating system after rare, large allocations.
//!
//! An argon2 hash or verification works in one block of 7 MiB (19 MiB with the crate's default
//! parameters, which older hashes carry). The allocator keeps a freed block resident until its
//! delayed purge runs, and nothing triggers that purge in a thread that goes idle afterwards:
//! the start-up hashes and the first logins left ~15 MB of the gateway's RSS as freed memory.
//! The binary, which picks the allocator, registers how to release such memory
//! ([`set_release`]); code that has just freed a large block calls [`release_unused`].

use std::sync::OnceLock;

static RELEASE: OnceLock<fn()> = OnceLock::new();

/// Register how the process's allocator returns its freed memory to the system (once; later
/// calls are ignored). Without it [`release_unused`] does nothing.
pub fn set_release(release: fn()) {
    let _ = RELEASE.set(release);
}

/// Return freed memory to the system now. It costs a walk of the allocator's free lists:
/// call it after rare work that freed megabytes, never on the hot path.
pub fn release_unused() {
    if let Some(release) = RELEASE.get() {
        release();
    }
}
