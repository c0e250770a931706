//! `jasmin.cfg`: the daemon's listeners, throwers and console, where smsgate has the same
//! setting. Everything else in the file is named in a [`Note`] (the AMQP broker and Redis
//! matter only in cluster mode, where smsgate has its own sections).

use std::path::Path;

use smsgate_core::config::Config;

use crate::convert::Note;

/// Apply `path`'s settings to `cfg`; what has no equivalent comes back as notes.
pub fn apply(path: &Path, cfg: &mut Config) -> Result<Vec<Note>, String> {
    let ini = ini::Ini::load_from_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut notes = vec![];
    for (section, props) in ini.iter() {
        let Some(section) = section else { continue };
        if section == "redis-client" {
            cfg.migration.jasmin_redis = Some(redis_url(props));
            notes.push(Note {
                what: "jasmin.cfg [redis-client]".into(),
                why: "its address is `[migration] jasmin_redis`: receipts for messages Jasmin sent are looked up there during the switch".into(),
                left_out: false,
            });
            continue;
        }
        for (key, value) in props.iter() {
            let value = value.trim();
            match set(cfg, section, key, value) {
                Ok(true) => {}
                Ok(false) => notes.push(Note {
                    what: format!("jasmin.cfg [{section}] {key}"),
                    why: format!("{value:?}: {}", unmapped(section)),
                    left_out: false,
                }),
                Err(e) => {
                    return Err(format!(
                        "{}: [{section}] {key} = {value:?}: {e}",
                        path.display()
                    ))
                }
            }
        }
    }
    Ok(notes)
}

/// Jasmin's Redis as a URL. jasmind selects `dbid` only when a password is set
/// (`jasmind.py`, `startRedisClient`), so without one its maps are in database 0.
fn redis_url(props: &ini::Properties) -> String {
    let get = |k: &str| props.get(k).map(str::trim).filter(|v| !v.is_empty());
    let host = get("host").unwrap_or("127.0.0.1");
    let port = get("port").unwrap_or("6379");
    match get("password").filter(|p| *p != "None") {
        Some(pw) => {
            let pw: String = url_escape(pw);
            format!("redis://:{pw}@{host}:{port}/{}", get("dbid").unwrap_or("0"))
        }
        None => format!("redis://{host}:{port}/0"),
    }
}

/// Percent-encode what a URL's userinfo cannot hold as is.
fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Why a section's keys are not carried.
fn unmapped(section: &str) -> &'static str {
    match section {
        "amqp-broker" => "smsgate queues in its data dir by default; for cluster mode set `[broker] url` (amqp://user:pass@host:port/vhost)",
        "smpp-server-pb" | "client-management" | "router" | "interceptor" | "deliversm-thrower-pb" => {
            "one of Jasmin's internal Perspective Broker services between its daemons; smsgate is one process and has none"
        }
        _ => "no equivalent setting: not carried",
    }
}

fn num<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.parse().map_err(|_| "not a number".to_string())
}

fn flag(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        _ => Err("not a boolean".into()),
    }
}

/// Set one key; `Ok(false)`: no equivalent.
fn set(cfg: &mut Config, section: &str, key: &str, v: &str) -> Result<bool, String> {
    match (section, key) {
        ("smpp-server", "bind") => cfg.smpp_server.bind = v.into(),
        ("smpp-server", "port") => cfg.smpp_server.port = num(v)?,
        ("smpp-server", "id") => cfg.smpp_server.id = v.into(),
        ("smpp-server", "sessionInitTimerSecs") => {
            cfg.smpp_server.session_init_timer_secs = num(v)?
        }
        ("smpp-server", "enquireLinkTimerSecs") => {
            cfg.smpp_server.enquire_link_timer_secs = num(v)?
        }
        ("smpp-server", "inactivityTimerSecs") => cfg.smpp_server.inactivity_timer_secs = num(v)?,
        ("smpp-server", "responseTimerSecs") => cfg.smpp_server.response_timer_secs = num(v)?,
        ("smpp-server", "pduReadTimerSecs") => cfg.smpp_server.pdu_read_timer_secs = num(v)?,
        ("http-api", "bind") => cfg.http_api.bind = v.into(),
        ("http-api", "port") => cfg.http_api.port = num(v)?,
        ("http-api", "long_content_max_parts") => cfg.http_api.long_content_max_parts = num(v)?,
        ("http-api", "long_content_split") => {
            cfg.http_api.long_content_split =
                serde_json::from_value(serde_json::Value::String(v.to_ascii_lowercase()))
                    .map_err(|e| e.to_string())?
        }
        ("jcli", "bind") => cfg.jcli.bind = v.into(),
        ("jcli", "port") => cfg.jcli.port = num(v)?,
        ("jcli", "authentication") => cfg.jcli.authentication = flag(v)?,
        ("jcli", "admin_username") => cfg.jcli.admin_username = v.into(),
        // Jasmin keeps the MD5 hex digest: smsgate's console accepts it as it is.
        ("jcli", "admin_password") => cfg.jcli.admin_password = v.into(),
        ("dlr-thrower", "http_timeout") => cfg.dlr_thrower.http_timeout = num(v)?,
        ("dlr-thrower", "retry_delay") => cfg.dlr_thrower.retry_delay = num(v)?,
        ("dlr-thrower", "max_retries") => cfg.dlr_thrower.max_retries = num(v)?,
        ("deliversm-thrower", "http_timeout") => cfg.deliversm_thrower.http_timeout = num(v)?,
        ("deliversm-thrower", "retry_delay") => cfg.deliversm_thrower.retry_delay = num(v)?,
        ("deliversm-thrower", "max_retries") => cfg.deliversm_thrower.max_retries = num(v)?,
        _ => return Ok(false),
    }
    Ok(true)
}
