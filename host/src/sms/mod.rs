//! Message content: character sets and splitting into `submit_sm` parts.
pub mod content;
pub mod gsm;
