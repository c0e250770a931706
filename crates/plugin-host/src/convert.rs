//! The gateway's [`Message`] to and from the WIT `routable`.

use super::bindings as wit;
use smsgate_core::model::{Address, Channel, Direction, Message, Tlv};

fn addr(a: &Address) -> wit::Address {
    wit::Address {
        addr: a.addr.clone(),
        ton: a.ton,
        npi: a.npi,
    }
}

/// The routable plugins see for `m`, whose content reads as `text`.
pub fn routable(m: &Message, text: Option<&str>) -> wit::Routable {
    let first = m.parts.first();
    wit::Routable {
        id: m.id.to_string(),
        direction: match m.direction {
            Direction::Mt => wit::Direction::Mt,
            Direction::Mo => wit::Direction::Mo,
        },
        channel: match m.channel {
            Channel::Http => wit::Channel::Http,
            Channel::Rest => wit::Channel::Rest,
            Channel::Smpps => wit::Channel::Smpps,
            Channel::Smppc => wit::Channel::Smppc,
        },
        source: addr(&m.source),
        destination: addr(&m.destination),
        data_coding: m.data_coding,
        esm_class: first.map_or(0, |p| p.esm_class),
        registered_delivery: m.registered_delivery,
        priority: m.priority,
        protocol_id: m.protocol_id,
        validity_period: m.validity_period.clone(),
        schedule_delivery_time: m.schedule_delivery_time.clone(),
        short_message: first.map(|p| p.short_message.clone()).unwrap_or_default(),
        text: text.map(str::to_string),
        tlvs: m
            .tlvs
            .iter()
            .map(|t| wit::Tlv {
                tag: t.tag,
                value: t.value.clone(),
            })
            .collect(),
        tags: m.tags.clone(),
        locked: m.locked_params.clone(),
        user: m.user.clone(),
        group: m.group.clone(),
        origin_connector: (m.direction == Direction::Mo).then(|| m.connector.clone()),
        created_at_ms: m.created_at,
    }
}

/// Apply what an interceptor changed. Returns the new text when the plugin changed it (the
/// caller re-encodes the content).
pub fn apply(m: &mut Message, r: wit::Routable, old_text: Option<&str>) -> Option<String> {
    m.source = Address {
        addr: r.source.addr,
        ton: r.source.ton,
        npi: r.source.npi,
    };
    m.destination = Address {
        addr: r.destination.addr,
        ton: r.destination.ton,
        npi: r.destination.npi,
    };
    m.data_coding = r.data_coding;
    m.registered_delivery = r.registered_delivery;
    m.priority = r.priority.min(3);
    m.protocol_id = r.protocol_id;
    m.validity_period = r.validity_period;
    m.schedule_delivery_time = r.schedule_delivery_time;
    m.tlvs = r
        .tlvs
        .into_iter()
        .map(|t| Tlv {
            tag: t.tag,
            value: t.value,
        })
        .collect();
    m.tags = r.tags;
    m.locked_params = r.locked;
    let single = m.parts.len() == 1;
    if let Some(p) = m.parts.first_mut() {
        p.esm_class = r.esm_class;
        if single && p.short_message != r.short_message && !r.short_message.is_empty() {
            p.short_message = r.short_message;
        }
    }
    match r.text {
        Some(t) if Some(t.as_str()) != old_text => Some(t),
        _ => None,
    }
}
