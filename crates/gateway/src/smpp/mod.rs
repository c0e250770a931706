//! SMPP with the business on top of `smsgate-smpp`'s session layer: the client connectors
//! towards SMSCs ([`client`]) and the SMPP server for ESMEs ([`server`]).

pub mod backoff;
pub mod client;
pub mod server;
