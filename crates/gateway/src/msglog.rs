//! The message log: one line per MT outcome, MO and receipt (Jasmin's `messages.log`), at
//! `info` under the target `smsgate::messages`, with ids, connector, status and timing.
//! Numbers and content go through [`smsgate_core::privacy`]: masked globally with
//! `[log] privacy = true`, or for one connector with its `logprivacy`.
//!
//! Fields are computed only when the line is enabled (tracing evaluates them lazily), so a
//! filter such as `info,smsgate::messages=off` makes the log cost nothing per message.

use smsgate_core::config::DefaultAlphabet;
use smsgate_core::model::message::{now_ms, Message};
use smsgate_core::privacy::{masked, Content, Number};

/// The log target of message lines.
pub const TARGET: &str = "smsgate::messages";

/// The text of an MT message's parts (hex when its coding is binary).
fn mt_text(m: &Message) -> String {
    let mut text = String::new();
    for p in &m.parts {
        match smsgate_sms::reassembly::decode_short_message(
            m.data_coding,
            p.esm_class,
            &p.short_message,
            DefaultAlphabet::Gsm0338,
        ) {
            Ok(Some(t)) => text.push_str(&t),
            _ => text.push_str(&hex::encode(&p.short_message)),
        }
    }
    text
}

/// An MT message's outcome at its connector: `status` is the SMSC's (or the gateway's final
/// status: `RETRIES_EXHAUSTED`, `EXPIRED`...), `smsc_id` the SMSC's id of its first part.
pub fn mt(m: &Message, status: &str, smsc_id: Option<&str>, detail: Option<&str>) {
    if !tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        return;
    }
    let p = masked(&m.connector);
    tracing::info!(
        target: TARGET,
        kind = %"MT",
        id = %m.id,
        connector = %m.connector,
        user = %m.user.as_deref().unwrap_or(""),
        status = %status,
        smsc_id = %smsc_id.unwrap_or(""),
        from = %Number(&m.source.addr, p),
        to = %Number(&m.destination.addr, p),
        parts = m.parts.len(),
        tries = m.tries,
        latency_ms = now_ms() - m.created_at,
        content = %Content(&mt_text(m), p),
        detail = %detail.unwrap_or(""),
        "SMS-MT"
    );
}

/// An MO message from connector `m.connector`, queued for `to_connector`.
pub fn mo(m: &Message, text: &str, to_connector: &str) {
    let p = masked(&m.connector);
    tracing::info!(
        target: TARGET,
        kind = %"MO",
        id = %m.id,
        connector = %m.connector,
        routed_to = %to_connector,
        from = %Number(&m.source.addr, p),
        to = %Number(&m.destination.addr, p),
        content = %Content(text, p),
        "SMS-MO"
    );
}

/// A receipt from connector `cid` for message `id` (SMSC id `smsc_id`), state `stat`.
pub fn receipt(cid: &str, id: &uuid::Uuid, smsc_id: &str, stat: &str) {
    tracing::info!(
        target: TARGET,
        kind = %"DLR",
        id = %id,
        connector = %cid,
        smsc_id = %smsc_id,
        stat = %stat,
        "DLR"
    );
}
