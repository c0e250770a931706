//! The running gateway: the doors messages come in by ([`http`], [`smpp::server`]), the
//! connectors they leave by ([`smpp::client`]), what comes back ([`inbound`], [`dlr`]), the
//! callbacks to clients ([`throwers`]), durable [`batch`] jobs, [`cluster`] coordination,
//! the live configuration ([`manage`], its [`audit`] log), operators' [`queues`] operations and what they watch ([`health`],
//! [`process_metrics`], the message log [`msglog`]).

pub mod batch;
pub mod cancel;
pub mod cluster;
pub mod consume;
pub mod delivery;
pub mod dlr;
pub mod health;
pub mod http;
pub mod inbound;
pub mod manage;
/// The audit log of configuration changes (part of [`manage`]).
pub use manage::audit;
pub mod msglog;
pub mod process_metrics;
pub mod queues;
pub mod runtime;
pub mod smpp;
pub mod throwers;
