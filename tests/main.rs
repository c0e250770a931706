//! The end-to-end tests, one module per area, in one test binary (one link instead of one per
//! file). Black box where it can be: the built `smsgate` binary or an in-process gateway,
//! driven over real sockets (HTTP, SMPP, telnet) against the SMSC simulator, real RabbitMQ,
//! Redis and PostgreSQL (the `cluster_*` modules, in builds with the `cluster` feature), the
//! real Jasmin (`jasmin_diff`) and third-party clients. Unit tests live next to their code in
//! `crates/`.

mod common;

mod admin_api;
mod callbacks;
mod cli;
#[cfg(feature = "cluster")]
mod cluster_chaos;
#[cfg(feature = "cluster")]
mod cluster_config;
#[cfg(feature = "cluster")]
mod cluster_conformance;
#[cfg(feature = "cluster")]
mod cluster_smpp;
mod config_env;
mod conformance;
mod console;
mod content;
mod crash;
mod credentials;
mod dlr_mo;
mod export_config;
mod faults;
mod http_api;
mod jasmin_diff;
mod jasmin_import;
mod jcli;
mod limits;
mod operations;
mod plugins;
mod python_scripts;
mod rest_api;
mod routing;
mod smpp_server;
mod smpp_thirdparty;
#[cfg(feature = "otel")]
mod telemetry;
