//! The shared vocabulary of every smsgate crate: the message model ([`model`]), the
//! configuration types ([`config`]) and the statistics counters ([`stats`]). Nothing here
//! does I/O beyond reading the configuration file.

pub mod anchored;
pub mod clock;
pub mod config;
pub mod jasmin;
pub mod latency;
pub mod log_limit;
pub mod memory;
pub mod model;
pub mod privacy;
pub mod stats;
pub mod trace;
