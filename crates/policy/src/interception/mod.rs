//! Interception (spec 3.8): MT and MO interception tables run before routing, plus the
//! HLR-lookup and charging plugins of the MT path.
//!
//! - [`table`]: an [`InterceptionTable`] (`DefaultInterceptor`, `StaticMTInterceptor`,
//!   `StaticMOInterceptor`), built from `[[mtinterceptors]]` / `[[mointerceptors]]` with the
//!   routing filters; descending order, first interceptor whose filters all match runs.
//! - [`hlr`]: the HLR-lookup plugin with its TTL cache; its answer becomes tags.
//! - [`Interception`]: what the pipeline and the inbound path hold; tables are swappable
//!   (`RwLock<Arc<_>>`) for the console.
//!
//! Jasmin's status semantics: an interceptor that sets an HTTP status makes the SMPP status
//! 255 (ESME_RUNKNOWNERR); one that sets a non-zero SMPP status makes the HTTP status 520; SMPP
//! status 0 accepts the message without routing or sending it. Locked parameters survive
//! the connector's defaults. Python scripts (`python3(/path.py)`) follow Jasmin's outcomes
//! door by door, bugs aside (see `python_intercept`); Wasm plugins the `interceptor` world's.

pub mod hlr;
pub mod table;

use std::sync::Arc;

use parking_lot::RwLock;

use smsgate_core::config::Config;
use smsgate_core::model::{Message, Part, User};
use smsgate_plugins::bindings::python::Door;
use smsgate_plugins::python::{self, Script};
use smsgate_plugins::{convert, FailKind, OnError, PluginHost, Slot, World};
use smsgate_routing::{BuildOptions, Routable, TableKind};
pub use table::{InterceptionTable, Run};

/// What interception decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Go on to routing; `text` is the new content when the interceptor changed it.
    Continue { text: Option<String> },
    /// Accepted without routing or sending it (SMPP status 0); `message_id`: the id to
    /// answer with instead of the message's (a Python script's `extra['message_id']`).
    Accept { message_id: Option<String> },
    /// Refuse it: SMPP status `smpp` for SMPP clients, HTTP status `http` for HTTP ones.
    Answer { smpp: u32, http: u16 },
    /// A Python script raised: Jasmin's HTTP 400 `Failed running interception script, check
    /// log for details`, ESME_RSYSERR to SMPP clients.
    ScriptFailed,
}

/// Whether an interceptor ran and how, for the `interceptor_count` and
/// `interceptor_error_count` statistics (Jasmin counts a returned routable or an accepted
/// answer as a call, an error status or a failure as an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    /// No interceptor matched.
    No,
    /// It ran and let the message go on (or accepted it).
    Ok,
    /// It answered an error, or failed.
    Failed,
}

/// SMPP status of a failed interceptor or charging call with `on_error = "reject"`.
pub const ESME_RSYSERR: u32 = 0x08;
/// ESME_RDELIVERYFAILURE: a charging plugin's default refusal.
pub const ESME_RDELIVERYFAILURE: u32 = 0xFE;

/// Interception state shared by the MT pipeline and the inbound (MO) path.
#[derive(Debug)]
pub struct Interception {
    pub mt: RwLock<Arc<InterceptionTable>>,
    pub mo: RwLock<Arc<InterceptionTable>>,
    pub plugins: Option<Arc<PluginHost>>,
    pub hlr: Option<hlr::Hlr>,
    pub charging: Option<Arc<Slot>>,
}

impl Interception {
    /// Install new MT and MO interception tables (the live configuration changed).
    pub fn install(&self, mt: InterceptionTable, mo: InterceptionTable) {
        *self.mt.write() = Arc::new(mt);
        *self.mo.write() = Arc::new(mo);
    }

    /// No interceptors, no HLR lookup, no charging.
    pub fn empty() -> Interception {
        Interception {
            mt: RwLock::new(Arc::new(InterceptionTable::new(TableKind::Mt))),
            mo: RwLock::new(Arc::new(InterceptionTable::new(TableKind::Mo))),
            plugins: None,
            hlr: None,
            charging: None,
        }
    }

    /// Build both tables and the HLR/charging hooks from the configuration.
    pub fn build(
        cfg: &Config,
        plugins: Option<Arc<PluginHost>>,
        opts: &BuildOptions,
    ) -> Result<Interception, String> {
        let mt = InterceptionTable::build(
            TableKind::Mt,
            &cfg.mtinterceptors,
            &cfg.filters,
            opts,
            plugins.as_deref(),
        )?;
        let mo = InterceptionTable::build(
            TableKind::Mo,
            &cfg.mointerceptors,
            &cfg.filters,
            opts,
            plugins.as_deref(),
        )?;
        let need = |what: &str, name: &Option<String>| -> Result<Option<Arc<Slot>>, String> {
            match (name, &plugins) {
                (None, _) => Ok(None),
                (Some(n), Some(p)) if p.enabled() => Ok(Some(p.slot(n))),
                (Some(_), _) => Err(format!("key `plugins.{what}`: needs [plugins] enabled")),
            }
        };
        let hlr = need("hlr", &cfg.plugins.hlr)?
            .map(|slot| hlr::Hlr::new(slot, std::time::Duration::from_secs(cfg.plugins.hlr_ttl_s)));
        let charging = need("charging", &cfg.plugins.charging)?;
        Ok(Interception {
            mt: RwLock::new(Arc::new(mt)),
            mo: RwLock::new(Arc::new(mo)),
            plugins,
            hlr,
            charging,
        })
    }

    /// Run the MT or MO interception table on `m` (content `text`, sending `user` for MT).
    /// `parts`: the PDUs a Python script sees (none: the message's own parts, or one part
    /// carrying `text`).
    pub async fn intercept(
        &self,
        kind: TableKind,
        m: &mut Message,
        text: Option<&str>,
        user: Option<&User>,
        parts: Vec<Part>,
    ) -> (Outcome, Ran) {
        let table = match kind {
            TableKind::Mt => self.mt.read().clone(),
            TableKind::Mo => self.mo.read().clone(),
        };
        let (uid, gid) = user.map_or(("", ""), |u| (u.uid.as_str(), u.gid.as_str()));
        let Some(entry) = table.find(&Routable {
            message: m,
            text: text.unwrap_or(""),
            uid,
            gid,
        }) else {
            return (Outcome::Continue { text: None }, Ran::No);
        };
        match &entry.run {
            Run::Plugin(slot) => plugin_intercept(entry.order, slot, m, text),
            Run::Python(script) => {
                let Some(host) = &self.plugins else {
                    return (Outcome::ScriptFailed, Ran::Failed);
                };
                python_intercept(host, script, m, text, user, parts).await
            }
        }
    }

    /// Tag an MT message with its destination's network (HLR-lookup plugin, cached).
    pub async fn hlr_tag(&self, m: &mut Message) {
        if let Some(h) = &self.hlr {
            h.tag(m).await;
        }
    }

    /// Ask the charging plugin whether `m` (of `parts` parts) may be sent: `Err(status)` when
    /// it refuses (or fails with `on_error = "reject"`, the default for charging).
    pub async fn authorize(&self, m: &Message, parts: u32) -> Result<(), u32> {
        let Some(slot) = &self.charging else {
            return Ok(());
        };
        let p = match slot.plugin(World::Charging) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(plugin = %slot.name, error = %e, "charging plugin unavailable: refusing");
                return Err(ESME_RDELIVERYFAILURE);
            }
        };
        match p.authorize(&convert::routable(m, None), parts).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(status)) => Err(status),
            Err(_) => match p.info.manifest.on_error.unwrap_or(OnError::Reject) {
                OnError::Reject => Err(ESME_RDELIVERYFAILURE),
                OnError::Pass => Ok(()),
            },
        }
    }
}

impl Interception {
    /// Tell the charging plugin (if any) how the SMSC answered message `id`: `accepted` when
    /// every part got ESME_ROK, false when it ended refused or undelivered. Runs in its own
    /// task: a slow charging service never holds a connector's window.
    pub fn settle(self: &Arc<Self>, id: &str, accepted: bool) {
        let Some(slot) = self.charging.clone() else {
            return;
        };
        let id = id.to_string();
        tokio::spawn(async move {
            match slot.plugin(World::Charging) {
                Ok(p) => {
                    if let Err(e) = p.settle(&id, accepted).await {
                        // Logged by the plugin host (rate-limited).
                        tracing::debug!(plugin = %slot.name, id, accepted, error = %e, "charging settle failed");
                    }
                }
                Err(e) => {
                    tracing::warn!(plugin = %slot.name, id, error = %e, "charging plugin unavailable: not settled")
                }
            }
        });
    }
}

/// A Wasm `interceptor` plugin, with the world's documented semantics.
fn plugin_intercept(
    order: u32,
    slot: &Slot,
    m: &mut Message,
    text: Option<&str>,
) -> (Outcome, Ran) {
    let result = slot
        .plugin(World::Interceptor)
        .and_then(|p| p.intercept(&convert::routable(m, text)));
    match result {
        Ok(v) => {
            let new_text = match v.routable {
                Some(r) => convert::apply(m, r, text),
                None => None,
            };
            match (v.smpp_status, v.http_status) {
                (_, Some(h)) if h != 0 => (
                    Outcome::Answer {
                        smpp: v.smpp_status.filter(|s| *s != 0).unwrap_or(0xFF),
                        http: h,
                    },
                    Ran::Failed,
                ),
                (Some(0), _) => (Outcome::Accept { message_id: None }, Ran::Ok),
                (Some(s), _) => (Outcome::Answer { smpp: s, http: 520 }, Ran::Failed),
                (None, _) => (Outcome::Continue { text: new_text }, Ran::Ok),
            }
        }
        Err(e) => {
            let on_error = slot
                .get()
                .and_then(|p| p.info.manifest.on_error)
                .unwrap_or(OnError::Pass);
            // A failed call is logged by the plugin host, rate-limited: here only a
            // missing plugin is worth a warning.
            if e.kind == FailKind::Missing {
                tracing::warn!(interceptor = order, plugin = %slot.name, error = %e, ?on_error, "interceptor failed");
            } else {
                tracing::debug!(interceptor = order, plugin = %slot.name, error = %e, ?on_error, "interceptor failed");
            }
            let outcome = if e.kind == FailKind::Missing || on_error == OnError::Reject {
                Outcome::Answer {
                    smpp: ESME_RSYSERR,
                    http: 500,
                }
            } else {
                Outcome::Continue { text: None }
            };
            (outcome, Ran::Failed)
        }
    }
}

/// A Jasmin Python script, with the outcomes Jasmin 0.11.1's callers give its answers
/// (`protocols/http/endpoints/send.py`, `protocols/smpp/factory.py`,
/// `managers/listeners.py`), per door:
///
/// | door | raises | `smpp_status` > 0 | `smpp_status` = 0 | `http_status` set |
/// | --- | --- | --- | --- | --- |
/// | SMPP server | ESME_RSYSERR | that status (unknown: 0x08) | ESME_ROK, not routed, id `extra['message_id']` | 255 |
/// | HTTP API | 400 `Failed running interception script, check log for details` | 520 | 520 | that code |
/// | MO | 0x08 | that status | 0x08 | 255 |
///
/// One deliberate difference: `http_status = 200` on the HTTP API accepts the message
/// without routing it (Jasmin answers 400 there, its bug #829), as `smpp_status = 0` does on
/// the SMPP server.
async fn python_intercept(
    host: &PluginHost,
    script: &Script,
    m: &mut Message,
    text: Option<&str>,
    user: Option<&User>,
    parts: Vec<Part>,
) -> (Outcome, Ran) {
    let door = python::door(m.channel);
    let parts = if parts.is_empty() {
        python::presentation_parts(m, text.unwrap_or(""))
    } else {
        parts
    };
    let before = python::convert::routable(m, door, &parts, user.map(python::convert::user));
    let verdict = match host.python().intercept(script, &before).await {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(target: "python", script = %script.name, error = %e, "interceptor script failed");
            return (Outcome::ScriptFailed, Ran::Failed);
        }
    };
    let known = |s: i64| match u32::try_from(s) {
        Ok(s) if verdict.smpp_status_known => s,
        _ => ESME_RSYSERR,
    };
    let http_code = |h: i64| u16::try_from(h).ok().filter(|h| (100..1000).contains(h));
    match (verdict.smpp_status, verdict.http_status) {
        (Some(smpp), http) => {
            let http = http.unwrap_or(520);
            match door {
                Door::Http if http == 200 => (Outcome::Accept { message_id: None }, Ran::Ok),
                Door::Http => (
                    Outcome::Answer {
                        smpp: known(smpp).max(1),
                        http: http_code(http).unwrap_or(520),
                    },
                    Ran::Failed,
                ),
                Door::Smpps if smpp == 0 => {
                    let id = verdict
                        .extra
                        .iter()
                        .find(|(k, _)| k == "message_id")
                        .map(|(_, v)| v.clone());
                    (Outcome::Accept { message_id: id }, Ran::Ok)
                }
                Door::Smpps if smpp > 0 => (
                    Outcome::Answer {
                        smpp: known(smpp),
                        http: 520,
                    },
                    Ran::Failed,
                ),
                Door::Smpps => (Outcome::ScriptFailed, Ran::Failed),
                Door::Smppc => (
                    Outcome::Answer {
                        smpp: if smpp > 0 { known(smpp) } else { ESME_RSYSERR },
                        http: 520,
                    },
                    Ran::Failed,
                ),
            }
        }
        (None, _) => {
            let new_text = match python::convert::apply(m, &verdict, &before) {
                python::convert::Content::Unchanged => None,
                python::convert::Content::Text(t) => Some(t),
                python::convert::Content::Parts(parts) => Some(parts_text(m.data_coding, &parts)),
            };
            (Outcome::Continue { text: new_text }, Ran::Ok)
        }
    }
}

/// The text of parts a script rewrote (their user data without UDH, UCS2 or UTF-8).
fn parts_text(coding: u8, parts: &[Part]) -> String {
    let mut data = vec![];
    for p in parts {
        let sm = &p.short_message;
        let body = if p.esm_class & 0x40 != 0 {
            let udhl = sm.first().map_or(0, |l| *l as usize + 1);
            sm.get(udhl..).unwrap_or_default()
        } else {
            sm
        };
        data.extend_from_slice(body);
    }
    if coding == 8 {
        let units: Vec<u16> = data
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(&data).into_owned()
    }
}

/// Run `f` (e.g. applying a connector's defaults) on `m`, then put back every PDU parameter
/// an interceptor locked (`locked_params`, Jasmin's `lockPduParam`).
pub fn keep_locked(m: &mut Message, f: impl FnOnce(&mut Message)) {
    if m.locked_params.is_empty() {
        return f(m);
    }
    // Only the lockable parameters are kept aside, not the whole message.
    let before = Lockable {
        source: m.source.clone(),
        destination: m.destination.clone(),
        priority: m.priority,
        protocol_id: m.protocol_id,
        validity_period: m.validity_period.clone(),
        expires_at: m.expires_at,
        schedule_delivery_time: m.schedule_delivery_time.clone(),
        registered_delivery: m.registered_delivery,
        service_type: m.service_type.clone(),
        replace_if_present: m.replace_if_present,
        sm_default_msg_id: m.sm_default_msg_id,
        data_coding: m.data_coding,
    };
    f(m);
    let locked = std::mem::take(&mut m.locked_params);
    for p in &locked {
        match p.as_str() {
            "source_addr" => m.source.addr = before.source.addr.clone(),
            "source_addr_ton" => m.source.ton = before.source.ton,
            "source_addr_npi" => m.source.npi = before.source.npi,
            "destination_addr" => m.destination.addr = before.destination.addr.clone(),
            "dest_addr_ton" => m.destination.ton = before.destination.ton,
            "dest_addr_npi" => m.destination.npi = before.destination.npi,
            "priority_flag" | "priority" => m.priority = before.priority,
            "protocol_id" => m.protocol_id = before.protocol_id,
            "validity_period" => {
                m.validity_period = before.validity_period.clone();
                m.expires_at = before.expires_at;
            }
            "schedule_delivery_time" => {
                m.schedule_delivery_time = before.schedule_delivery_time.clone()
            }
            "registered_delivery" => m.registered_delivery = before.registered_delivery,
            "service_type" => m.service_type = before.service_type.clone(),
            "replace_if_present_flag" => m.replace_if_present = before.replace_if_present,
            "sm_default_msg_id" => m.sm_default_msg_id = before.sm_default_msg_id,
            "data_coding" => m.data_coding = before.data_coding,
            other => tracing::debug!(param = other, "locked parameter not known: ignored"),
        }
    }
    m.locked_params = locked;
}

/// The PDU parameters an interceptor can lock.
struct Lockable {
    source: smsgate_core::model::Address,
    destination: smsgate_core::model::Address,
    priority: u8,
    protocol_id: u8,
    validity_period: String,
    expires_at: i64,
    schedule_delivery_time: String,
    registered_delivery: u8,
    service_type: String,
    replace_if_present: u8,
    sm_default_msg_id: u8,
    data_coding: u8,
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsgate_core::model::{Channel, Direction};

    #[test]
    fn locked_params_survive_defaults() {
        let mut m = Message::new(Direction::Mt, Channel::Http, 0);
        m.source.addr = "BRAND".into();
        m.source.ton = 5;
        m.priority = 2;
        m.locked_params = vec!["source_addr".into(), "source_addr_ton".into()];
        keep_locked(&mut m, |m| {
            m.source.addr = "default".into();
            m.source.ton = 1;
            m.priority = 0;
        });
        assert_eq!(m.source.addr, "BRAND");
        assert_eq!(m.source.ton, 5);
        assert_eq!(m.priority, 0, "not locked: the default applies");
    }
}
