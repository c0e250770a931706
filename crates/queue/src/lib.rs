//! Store-and-forward and shared state, behind three traits: [`broker::Broker`] (durable
//! queues), [`store::Store`] (balances, message records, throughput windows, key/values) and
//! [`history::History`] (batch jobs and the REST APIs' message history). Each has an embedded
//! implementation on one SQLite file ([`db`]) and a cluster one (RabbitMQ, Redis,
//! PostgreSQL), and a conformance suite both must pass.

pub mod backup;
pub mod broker;
pub mod db;
pub mod history;
pub mod jasmin_dlr;
pub mod journal;
pub mod open;
pub mod store;
pub mod wal_check;
