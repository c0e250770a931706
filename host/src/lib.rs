//! smsgate: an SMS gateway with Jasmin's APIs, SMPP on both sides, durable queues and
//! sandboxed WebAssembly plugins.
//!
//! A message's path, module by module: [`http`] (front door) → [`pipeline`] (authenticate,
//! credentials, intercept, [`routing`], [`sms`] encoding, billing) → [`broker`] (durable queue)
//! → [`smpp::client`] (connector, over the [`smpp::session`] layer) → the SMSC. Shared state
//! (balances, message records) lives in [`store`]; counters in [`stats`].

pub mod app;
pub mod auth;
pub mod batch;
pub mod billing;
pub mod broker;
pub mod cancel;
pub mod cluster;
pub mod config;
pub mod db;
pub mod dlr;
pub mod history;
pub mod http;
pub mod inbound;
pub mod interception;
pub mod jcli;
pub mod manage;
pub mod model;
pub mod pipeline;
pub mod plugins;
pub mod routing;
pub mod simulator;
pub mod smpp;
pub mod sms;
pub mod stats;
pub mod store;
pub mod throwers;
