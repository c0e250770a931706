//! SMPP v3.4: the shared session layer, client connectors and TLS.
pub mod client;
pub mod session;
pub mod tls;
