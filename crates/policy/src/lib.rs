//! What happens to a message before it is queued: who sent it ([`auth`]), what they may do
//! (credentials, quotas), [`interception`], routing, encoding, [`billing`], and the client
//! callback URLs they may ask for ([`callbacks`]). The [`pipeline`] strings these phases for
//! every front door.

pub mod admission;
pub mod auth;
pub mod billing;
pub mod callbacks;
pub mod interception;
pub mod pipeline;
