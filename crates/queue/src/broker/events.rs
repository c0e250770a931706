//! Informational events for third-party consumers of the AMQP topology (cluster mode).
//!
//! Jasmin's components talk over internal routing keys that operators' own consumers also
//! read (spec 3.15.1): `submit.sm.resp.<cid>` and `deliver.sm.<cid>` on `messaging`,
//! `dlr.submit_sm_resp` and `dlr.deliver_sm` (DLR tracking), and
//! `bill_request.submit_sm_resp.<uid>` on the `billing` exchange. smsgate does those steps
//! in-process, and publishes the same routing keys as events so such consumers keep working:
//! non-persistent, unconfirmed, best effort (an event that cannot be published is dropped and
//! counted; no message ever waits for one). Bodies are JSON objects with `"v": 1`, documented
//! in `docs/message-schema.md`. They are published only with `[broker] events = true` (each one costs RabbitMQ a publish).

use serde_json::{json, Value};

use super::Broker;
use smsgate_core::model::Message;

/// The exchange an event goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// `messaging` (topic): the gateway's queues and the message events.
    Messaging,
    /// `billing` (topic): billing requests.
    Billing,
}

/// One event.
#[derive(Debug, Clone)]
pub struct Event {
    pub exchange: Exchange,
    pub routing_key: String,
    pub body: Value,
}

/// Schema version of event bodies.
pub const VERSION: u32 = 1;

/// Publish one event (when the broker emits events at all: the body is built only then),
/// stamped with the schema version `v` and the time `at`.
fn publish(
    broker: &dyn Broker,
    exchange: Exchange,
    routing_key: impl FnOnce() -> String,
    body: impl FnOnce() -> Value,
) {
    if !broker.emits_events() {
        return;
    }
    let mut body = body();
    if let Value::Object(o) = &mut body {
        o.insert("v".into(), VERSION.into());
        o.insert("at".into(), smsgate_core::model::message::now_ms().into());
    }
    broker.emit(Event {
        exchange,
        routing_key: routing_key(),
        body,
    });
}

/// `submit.sm.resp.<cid>`: the SMSC answered part `part` (1-based) of `m`.
pub fn submit_sm_resp(
    broker: &dyn Broker,
    m: &Message,
    cid: &str,
    part: usize,
    status: u32,
    smsc_id: Option<&str>,
) {
    publish(
        broker,
        Exchange::Messaging,
        || format!("submit.sm.resp.{cid}"),
        || {
            json!({
                "id": m.id.to_string(),
                "connector": cid,
                "user": m.user,
                "part": part,
                "parts": m.parts.len(),
                "command_status": status,
                "smsc_message_id": smsc_id,
                "destination_addr": m.destination.addr,
            })
        },
    );
}

/// `dlr.submit_sm_resp`: message `m`, which asked for a receipt, is now tracked under the
/// SMSC's ids.
pub fn dlr_submit_sm_resp(broker: &dyn Broker, m: &Message, cid: &str, smsc_ids: &[String]) {
    publish(
        broker,
        Exchange::Messaging,
        || "dlr.submit_sm_resp".into(),
        || {
            json!({
                "id": m.id.to_string(),
                "connector": cid,
                "user": m.user,
                "smsc_message_ids": smsc_ids,
            })
        },
    );
}

/// `deliver.sm.<cid>`: connector `cid` received a `deliver_sm` (MO or receipt).
#[allow(clippy::too_many_arguments)]
pub fn deliver_sm(
    broker: &dyn Broker,
    cid: &str,
    source_addr: &str,
    destination_addr: &str,
    esm_class: u8,
    data_coding: u8,
    short_message: &[u8],
    receipt: bool,
) {
    publish(
        broker,
        Exchange::Messaging,
        || format!("deliver.sm.{cid}"),
        || {
            json!({
                "connector": cid,
                "source_addr": source_addr,
                "destination_addr": destination_addr,
                "esm_class": esm_class,
                "data_coding": data_coding,
                "short_message_hex": hex::encode(short_message),
                "receipt": receipt,
            })
        },
    );
}

/// `dlr.deliver_sm`: a receipt from connector `cid` for SMSC id `smsc_id` (`id`: the gateway
/// message it resolved to, if any).
pub fn dlr_deliver_sm(
    broker: &dyn Broker,
    cid: &str,
    smsc_id: &str,
    stat: &str,
    id: Option<&dyn std::fmt::Display>,
) {
    publish(
        broker,
        Exchange::Messaging,
        || "dlr.deliver_sm".into(),
        || {
            json!({
                "connector": cid,
                "smsc_message_id": smsc_id,
                "stat": stat,
                "id": id.map(|i| i.to_string()),
            })
        },
    );
}

/// `bill_request.submit_sm_resp.<uid>` on `billing`: `amount` charged to `user` for `parts`
/// parts of `m` the SMSC acknowledged (asynchronous billing, `early_percent`).
pub fn bill_request(broker: &dyn Broker, m: &Message, user: &str, amount: f64, parts: usize) {
    publish(
        broker,
        Exchange::Billing,
        || format!("bill_request.submit_sm_resp.{user}"),
        || {
            json!({
                "id": m.id.to_string(),
                "user": user,
                "amount": amount,
                "parts": parts,
            })
        },
    );
}
