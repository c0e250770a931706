//! What the console prints: lists, shows and stats, laid out column for column as Jasmin's.

use std::fmt::Write as _;
use std::sync::Arc;

use super::forms::{MT_KEYS, SMPPCC_KEYS, SMPPS_KEYS};
use super::options::Parsed;
use smsgate_core::config::{InterceptorConfig, SmppClientConfig, UserConfig};
use smsgate_gateway::manage::{uid_of, Manager};
use smsgate_gateway::queues::QueueOps;
use smsgate_gateway::smpp::client::ConnectorState;
use smsgate_routing::table::TableKind;

/// `#` then each column left-justified to its width and followed by a space; a width of 0
/// means "as is, nothing after" (the last column).
fn row(cols: &[(&str, usize)]) -> String {
    let mut s = String::from("#");
    for (i, (v, w)) in cols.iter().enumerate() {
        if *w == 0 {
            s.push_str(v);
        } else {
            let _ = write!(s, "{v:<w$}", w = *w);
            if i + 1 < cols.len() {
                s.push(' ');
            }
        }
    }
    s.push('\n');
    s
}

/// A number as Python prints a float (`10.0`, `0.5`).
pub fn py_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// A number as typed: integers without a decimal part.
fn plain_num(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) or `ND`.
pub fn date(ms: Option<i64>) -> String {
    let Some(ms) = ms.filter(|m| *m > 0) else {
        return "ND".into();
    };
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "ND".into())
}

fn tf(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

fn nd<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "ND".into())
}

/// `user -l [GID]`.
pub async fn users(m: &Manager, gid: Option<&str>) -> String {
    let p = m.profile();
    let list: Vec<&UserConfig> = p
        .users
        .iter()
        .filter(|u| gid.is_none_or(|g| u.gid == g))
        .collect();
    // Jasmin's usersm.py `list`: the total names the group when one was asked for.
    let total = |n: usize| match gid {
        Some(g) => format!("Total Users in group [{g}]: {n}"),
        None => format!("Total Users: {n}"),
    };
    if list.is_empty() {
        return total(0);
    }
    let mut out = row(&[
        ("User id", 16),
        ("Group id", 16),
        ("Username", 16),
        ("Balance", 7),
        ("MT SMS", 6),
        ("Throughput", 8),
    ]);
    for u in &list {
        let b = m.store().balance_get(&u.username).await.unwrap_or_default();
        let q = &u.mt_messaging_cred.quota;
        let uid = if u.enabled {
            uid_of(u).to_string()
        } else {
            format!("!{}", uid_of(u))
        };
        let group_enabled = p.groups.iter().any(|g| g.gid == u.gid && g.enabled);
        let gid = if group_enabled {
            u.gid.clone()
        } else {
            format!("!{}", u.gid)
        };
        // `ND (!)` marks a user without any quota: both columns, only when both are unset.
        let unlimited = b.balance.is_none() && b.sms_count.is_none();
        let mark = if unlimited { "ND (!)" } else { "ND" };
        let balance = b.balance.map(py_float).unwrap_or_else(|| mark.into());
        let sms = b
            .sms_count
            .map(|s| s.to_string())
            .unwrap_or_else(|| mark.into());
        // Jasmin keeps these quotas as floats (usersm.py `castOutputToBuiltInType`).
        let tp = format!(
            "{}/{}",
            nd(q.http_throughput.map(py_float)),
            nd(q.smpps_throughput.map(py_float))
        );
        out.push_str(&row(&[
            (&uid, 16),
            (&gid, 16),
            (&u.username, 16),
            (&balance, 7),
            (&sms, 6),
            (&tp, 8),
        ]));
    }
    out.push_str(&total(list.len()));
    out
}

/// `user -s UID`.
pub async fn user(m: &Manager, u: &UserConfig) -> String {
    let b = m.store().balance_get(&u.username).await.unwrap_or_default();
    let v = serde_json::to_value(u).unwrap_or_default();
    let mut out = format!(
        "uid {}\ngid {}\nusername {}\n",
        uid_of(u),
        u.gid,
        u.username
    );
    let q = &u.mt_messaging_cred.quota;
    for (section, key) in MT_KEYS {
        let value = match (*section, *key) {
            ("quota", "balance") => b.balance.map(py_float).unwrap_or_else(|| "ND".into()),
            ("quota", "sms_count") => nd(b.sms_count),
            // Floats in Jasmin (usersm.py `castOutputToBuiltInType`): `25.0`.
            ("quota", "early_percent") => nd(q.early_percent.map(py_float)),
            ("quota", "http_throughput") => nd(q.http_throughput.map(py_float)),
            ("quota", "smpps_throughput") => nd(q.smpps_throughput.map(py_float)),
            (s, k) => {
                let field = match s {
                    "valuefilter" => "value_filter",
                    "defaultvalue" => "default_value",
                    s => s,
                };
                match v.pointer(&format!("/mt_messaging_cred/{field}/{k}")) {
                    Some(serde_json::Value::Bool(b)) => tf(*b).to_string(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    _ => "None".into(),
                }
            }
        };
        let _ = writeln!(out, "mt_messaging_cred {section} {key} {value}");
    }
    for (section, key) in SMPPS_KEYS {
        let value = match *key {
            "bind" => tf(u.smpps_cred.authorization.bind).to_string(),
            _ => nd(u.smpps_cred.quota.max_bindings),
        };
        let _ = writeln!(out, "smpps_cred {section} {key} {value}");
    }
    if let Some(p) = u.callback_policy {
        let _ = writeln!(out, "callback_policy {}", p.as_str());
    }
    out
}

/// `group -l`.
pub fn groups(m: &Manager) -> String {
    let p = m.profile();
    if p.groups.is_empty() {
        return "Total Groups: 0".into();
    }
    let mut out = row(&[("Group id", 16)]);
    for g in &p.groups {
        let gid = if g.enabled {
            g.gid.clone()
        } else {
            format!("!{}", g.gid)
        };
        out.push_str(&row(&[(&gid, 16)]));
    }
    let _ = write!(out, "Total Groups: {}", p.groups.len());
    out
}

/// `filter -l`.
pub fn filters(m: &Manager) -> String {
    let p = m.profile();
    if p.filters.is_empty() {
        return "Total Filters: 0".into();
    }
    let mut out = row(&[
        ("Filter id", 16),
        ("Type", 22),
        ("Routes", 6),
        ("Description", 32),
    ]);
    for f in &p.filters {
        let (routes, desc) = match smsgate_routing::filter::build(f) {
            Ok(b) => {
                let routes = match (b.for_mo(), b.for_mt()) {
                    (true, true) => "MO MT",
                    (true, false) => "MO",
                    _ => "MT",
                };
                (routes, b.describe())
            }
            Err(_) if f.kind.eq_ignore_ascii_case("EvalPyFilter") => (
                "MO MT",
                format!(
                    "<Ev (pyCode={} ..)>",
                    head(&py_source(f.py_code.as_deref().unwrap_or("")), 10)
                ),
            ),
            Err(_) => ("MO MT", format!("<{}>", f.kind)),
        };
        out.push_str(&row(&[
            (&f.fid, 16),
            (&f.kind, 22),
            (routes, 6),
            (&desc, 32),
        ]));
    }
    let _ = write!(out, "Total Filters: {}", p.filters.len());
    out
}

/// `filter -s FID`.
pub fn filter(m: &Manager, fid: &str) -> String {
    let p = m.profile();
    let Some(f) = p.filters.iter().find(|f| f.fid == fid) else {
        return format!("Unknown Filter: {fid}");
    };
    let interval = |v: &Option<String>| {
        let v = v.clone().unwrap_or_default();
        let (a, b) = v.split_once(';').unwrap_or((&v, ""));
        format!(
            "{}:\nLeft border = {}\nRight border = {}",
            f.kind,
            a.trim(),
            b.trim()
        )
    };
    match f.kind.as_str() {
        "TransparentFilter" => "TransparentFilter".into(),
        // Jasmin shows the script itself, and a tag as `has tag`.
        // (Jasmin's line ends after the script's own last line break.)
        "EvalPyFilter" => format!(
            "EvalPyFilter:\n{}\n",
            py_source(f.py_code.as_deref().unwrap_or(""))
        ),
        "TagFilter" => format!(
            "TagFilter:\nhas tag = {}",
            f.tag.clone().unwrap_or_default()
        ),
        "TimeIntervalFilter" => interval(&f.time_interval),
        "DateIntervalFilter" => interval(&f.date_interval),
        k => {
            let (name, value) = [
                ("uid", &f.uid),
                ("gid", &f.gid),
                ("cid", &f.cid),
                ("source_addr", &f.source_addr),
                ("destination_addr", &f.destination_addr),
                ("short_message", &f.short_message),
                ("tag", &f.tag),
                ("pyCode", &f.py_code),
            ]
            .into_iter()
            .find(|(_, v)| v.is_some())
            .map(|(n, v)| (n, v.clone().unwrap_or_default()))
            .unwrap_or(("", String::new()));
            format!("{k}:\n{name} = {value}")
        }
    }
}

/// `mtrouter -l` / `morouter -l`.
pub fn routes(m: &Manager, kind: TableKind) -> String {
    let Some(gw) = m.runtime() else {
        return String::new();
    };
    let table = match kind {
        TableKind::Mt => gw.pipeline.mt_table.read().clone(),
        TableKind::Mo => gw.inbound.mo_table.read().clone(),
    };
    let label = kind.label();
    if table.is_empty() {
        return format!("Total {label} Routes: 0");
    }
    let mut out = match kind {
        TableKind::Mt => row(&[
            ("Order", 5),
            ("Type", 23),
            ("Rate", 10),
            ("Connector ID(s)", 48),
            ("Filter(s)", 64),
        ]),
        TableKind::Mo => row(&[
            ("Order", 5),
            ("Type", 23),
            ("Connector ID(s)", 48),
            ("Filter(s)", 64),
        ]),
    };
    for (order, r) in table.routes() {
        let order = order.to_string();
        let conns: Vec<String> = r.connectors().iter().map(|c| c.to_string()).collect();
        let filters: Vec<String> = r.filters().iter().map(|f| f.describe()).collect();
        let (conns, filters) = (conns.join(", "), filters.join(", "));
        // mtrouterm.py `list`: `'%.5f' % rate`, `0 (!)` marks an unrated route.
        let rate = if r.rate() > 0.0 {
            format!("{:.5}", r.rate())
        } else {
            "0 (!)".into()
        };
        out.push_str(&match kind {
            TableKind::Mt => row(&[
                (&order, 5),
                (r.kind(), 23),
                (&rate, 10),
                (&conns, 48),
                (&filters, 64),
            ]),
            TableKind::Mo => row(&[(&order, 5), (r.kind(), 23), (&conns, 48), (&filters, 64)]),
        });
    }
    let _ = write!(out, "Total {label} Routes: {}", table.len());
    out
}

/// `mtrouter -s ORDER`.
pub fn route(m: &Manager, kind: TableKind, order: u32) -> String {
    let Some(gw) = m.runtime() else {
        return String::new();
    };
    let table = match kind {
        TableKind::Mt => gw.pipeline.mt_table.read().clone(),
        TableKind::Mo => gw.inbound.mo_table.read().clone(),
    };
    table
        .get(order)
        .map(|r| r.describe())
        .unwrap_or_else(|| format!("Unknown {} Route: {order}", kind.label()))
}

/// A Python script's source: `code` itself, or the file it names (a path as jCli's `pyCode
/// /path.py` takes it).
pub fn py_source(code: &str) -> String {
    let t = code.trim();
    if !t.contains('\n') && t.starts_with('/') && t.ends_with(".py") {
        if let Ok(src) = std::fs::read_to_string(t) {
            return src;
        }
    }
    code.to_string()
}

/// The first `n` characters of a script without its line breaks (Jasmin's short form).
fn head(code: &str, n: usize) -> String {
    code.chars().take(n).filter(|c| *c != '\n').collect()
}

/// An interceptor's script as jCli shows it: Jasmin's `<MTIS (pyCode=<30 characters> ..)>`,
/// from the source persisted with the rule or the script's file.
pub fn script(kind: TableKind, ic: &InterceptorConfig) -> String {
    let tag = match kind {
        TableKind::Mt => "MTIS",
        TableKind::Mo => "MOIS",
    };
    let s = ic.script.trim();
    if let Some(name) = s.strip_prefix("plugin(").and_then(|r| r.strip_suffix(')')) {
        return format!("<{tag} (plugin={name})>");
    }
    let source = match &ic.source {
        Some(src) => src.clone(),
        None => s
            .strip_prefix("python3(")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|path| std::fs::read_to_string(path.trim()).ok())
            .unwrap_or_default(),
    };
    format!("<{tag} (pyCode={} ..)>", head(&source, 30))
}

/// `mtinterceptor -l` / `mointerceptor -l`.
pub fn interceptors(m: &Manager, kind: TableKind) -> String {
    let p = m.profile();
    let mut list = match kind {
        TableKind::Mt => p.mtinterceptors.clone(),
        TableKind::Mo => p.mointerceptors.clone(),
    };
    let label = kind.label();
    if list.is_empty() {
        return format!("Total {label} Interceptors: 0");
    }
    list.sort_by_key(|ic| std::cmp::Reverse(ic.order));
    let mut out = row(&[
        ("Order", 5),
        ("Type", 20),
        ("Script", 47),
        ("Filter(s)", 64),
    ]);
    for ic in &list {
        let filters: Vec<String> = ic
            .filters
            .iter()
            .map(|fid| {
                p.filters
                    .iter()
                    .find(|f| &f.fid == fid)
                    .and_then(|f| smsgate_routing::filter::build(f).ok())
                    .map(|f| f.describe())
                    .unwrap_or_else(|| fid.clone())
            })
            .collect();
        out.push_str(&row(&[
            (&ic.order.to_string(), 5),
            (&ic.kind, 20),
            (&script(kind, ic), 47),
            (&filters.join(", "), 64),
        ]));
    }
    let _ = write!(out, "Total {label} Interceptors: {}", list.len());
    out
}

/// A connector's session state as Jasmin names it.
fn session_state(m: &Manager, c: &SmppClientConfig) -> &'static str {
    match m.connector_state(&c.cid) {
        Some(ConnectorState::Bound) => match c.bind {
            smsgate_core::config::BindType::Transceiver => "BOUND_TRX",
            smsgate_core::config::BindType::Transmitter => "BOUND_TX",
            smsgate_core::config::BindType::Receiver => "BOUND_RX",
        },
        Some(ConnectorState::Disconnected) => "UNBOUND",
        _ => "NONE",
    }
}

/// `smppccm -l`.
pub fn smppccs(m: &Manager) -> String {
    let p = m.profile();
    if p.smppccs.is_empty() {
        return "Total connectors: 0".into();
    }
    let mut out = row(&[
        ("Connector id", 35),
        ("Service", 7),
        ("Session", 16),
        ("Starts", 6),
        ("Stops", 5),
    ]);
    for c in &p.smppccs {
        let svc = m.service(&c.cid).unwrap_or_default();
        let service = if m.connector_state(&c.cid).is_some() {
            "started"
        } else {
            "stopped"
        };
        out.push_str(&row(&[
            (&c.cid, 35),
            (service, 7),
            (session_state(m, c), 16),
            (&svc.starts.to_string(), 6),
            (&svc.stops.to_string(), 5),
        ]));
    }
    let _ = write!(out, "Total connectors: {}", p.smppccs.len());
    out
}

/// `smppccm -s CID`.
pub fn smppcc(c: &SmppClientConfig) -> String {
    let v = serde_json::to_value(c).unwrap_or_default();
    let mut out = String::new();
    for k in SMPPCC_KEYS {
        let shown = match v.get(*k) {
            Some(serde_json::Value::Bool(b)) => if *b { "yes" } else { "no" }.to_string(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => {
                n.as_f64().map(plain_num).unwrap_or_else(|| n.to_string())
            }
            _ if *k == "systype" => String::new(),
            _ => "None".into(),
        };
        let _ = writeln!(out, "{k} {shown}");
    }
    out
}

/// `httpccm -l`.
pub fn httpccs(m: &Manager) -> String {
    let p = m.profile();
    if p.httpccs.is_empty() {
        return "Total Httpccs: 0".into();
    }
    let mut out = row(&[("Httpcc id", 16), ("Type", 22), ("Method", 6), ("URL", 64)]);
    for c in &p.httpccs {
        out.push_str(&row(&[
            (&c.cid, 16),
            ("HttpConnector", 22),
            (&c.method, 6),
            (&c.url, 64),
        ]));
    }
    let _ = write!(out, "Total Httpccs: {}", p.httpccs.len());
    out
}

/// `stats ...`.
pub async fn stats(p: &Parsed, m: &Arc<Manager>) -> String {
    let Some(gw) = m.runtime() else {
        return String::new();
    };
    let prof = m.profile();
    if p.has("scripts") {
        return script_stats(&gw);
    }
    if let Some(uid) = p.get("user") {
        let Some(u) = prof.user(uid) else {
            return format!("Unknown User: {uid}");
        };
        let s = gw.stats.user_smpps(&u.username);
        let h = gw.stats.user_http(&u.username);
        let (mut rx, mut trx, mut tx) = (0, 0, 0);
        if let Some(server) = &gw.smpp_server {
            for b in server.bindings().sessions(&u.username) {
                match b.mode.name() {
                    "bind_receiver" => rx += 1,
                    "bind_transmitter" => tx += 1,
                    _ => trx += 1,
                }
            }
        }
        let bound = format!(
            "{{\"bind_receiver\": {rx}, \"bind_transceiver\": {trx}, \"bind_transmitter\": {tx}}}"
        );
        let secs = |v: u64| date((v > 0).then_some(v as i64 * 1000));
        let items: Vec<(&str, &str, String)> = vec![
            ("bind_count", "SMPP Server", s.bind_count.get().to_string()),
            (
                "unbind_count",
                "SMPP Server",
                s.unbind_count.get().to_string(),
            ),
            ("bound_connections_count", "SMPP Server", bound),
            (
                "submit_sm_request_count",
                "SMPP Server",
                s.submit_sm_request_count.get().to_string(),
            ),
            (
                "last_activity_at",
                "SMPP Server",
                secs(s.last_activity_at.get()),
            ),
            (
                "qos_last_submit_sm_at",
                "SMPP Server",
                secs(s.qos_last_submit_sm_at.get()),
            ),
            (
                "submit_sm_count",
                "SMPP Server",
                s.submit_sm_count.get().to_string(),
            ),
            (
                "deliver_sm_count",
                "SMPP Server",
                s.deliver_sm_count.get().to_string(),
            ),
            (
                "data_sm_count",
                "SMPP Server",
                s.data_sm_count.get().to_string(),
            ),
            (
                "elink_count",
                "SMPP Server",
                s.elink_count.get().to_string(),
            ),
            (
                "throttling_error_count",
                "SMPP Server",
                s.throttling_error_count.get().to_string(),
            ),
            (
                "other_submit_error_count",
                "SMPP Server",
                s.other_submit_error_count.get().to_string(),
            ),
            (
                "connects_count",
                "HTTP Api",
                h.connects_count.get().to_string(),
            ),
            (
                "last_activity_at",
                "HTTP Api",
                secs(h.last_activity_at.get()),
            ),
            (
                "submit_sm_request_count",
                "HTTP Api",
                h.submit_sm_request_count.get().to_string(),
            ),
            (
                "balance_request_count",
                "HTTP Api",
                h.balance_request_count.get().to_string(),
            ),
            (
                "rate_request_count",
                "HTTP Api",
                h.rate_request_count.get().to_string(),
            ),
            (
                "qos_last_submit_sm_at",
                "HTTP Api",
                secs(h.qos_last_submit_sm_at.get()),
            ),
        ];
        let mut out = row(&[("Item", 25), ("Type", 12), ("Value", 0)]);
        for (k, t, v) in &items {
            out.push_str(&row(&[(k, 25), (t, 12), (v, 0)]));
        }
        return out;
    }
    if p.has("users") {
        if prof.users.is_empty() {
            return "Total users: 0".into();
        }
        let mut out = row(&[
            ("User id", 10),
            ("SMPP Bound connections", 25),
            ("SMPP L.A.", 12),
            ("HTTP requests counter", 24),
            ("HTTP L.A.", 0),
        ]);
        for u in &prof.users {
            let s = gw.stats.user_smpps(&u.username);
            let h = gw.stats.user_http(&u.username);
            let bound = gw
                .smpp_server
                .as_ref()
                .map(|srv| srv.bindings().sessions(&u.username).len())
                .unwrap_or(0);
            let secs = |v: u64| date((v > 0).then_some(v as i64 * 1000));
            out.push_str(&row(&[
                (uid_of(u), 10),
                (&bound.to_string(), 25),
                (&secs(s.last_activity_at.get()), 12),
                (&h.connects_count.get().to_string(), 24),
                (&secs(h.last_activity_at.get()), 0),
            ]));
        }
        let _ = write!(out, "Total users: {}", prof.users.len());
        return out;
    }
    if p.has("smppcs") {
        if prof.smppccs.is_empty() {
            return "Total connectors: 0".into();
        }
        let mut out = row(&[
            ("Connector id", 15),
            ("Connected at", 20),
            ("Bound at", 20),
            ("Disconnected at", 18),
            ("Submits", 10),
            ("Delivers", 11),
            ("QoS errs", 11),
            ("Other errs", 0),
        ]);
        for c in &prof.smppccs {
            let s = gw.stats.smppc(&c.cid);
            let i = m.service(&c.cid).unwrap_or_default();
            out.push_str(&row(&[
                (&c.cid, 15),
                (&date(i.connected_at), 20),
                (&date(i.bound_at), 20),
                (&date(i.disconnected_at), 18),
                (
                    &format!(
                        "{}/{}",
                        s.submit_sm_request_count.get(),
                        s.submit_sm_count.get()
                    ),
                    10,
                ),
                (
                    &format!("{}/{}", s.deliver_sm_count.get(), s.data_sm_count.get()),
                    11,
                ),
                (&s.throttling_error_count.get().to_string(), 11),
                (&s.other_submit_error_count.get().to_string(), 0),
            ]));
        }
        let _ = write!(out, "Total connectors: {}", prof.smppccs.len());
        return out;
    }
    if let Some(cid) = p.get("smppc") {
        if !prof.smppccs.iter().any(|c| c.cid == cid) {
            return format!("Unknown connector: {cid}");
        }
        let s = gw.stats.smppc(cid);
        let i = m.service(cid).unwrap_or_default();
        let clock = gw.stats.smppc_clock(cid);
        let seq = clock.last_seq.load(std::sync::atomic::Ordering::Relaxed);
        let mut items: Vec<(&str, String)> = vec![
            ("created_at", date(Some(i.created_at))),
            ("last_received_pdu_at", date(clock.last_received.get())),
            ("last_sent_pdu_at", date(clock.last_sent.get())),
            (
                "last_received_elink_at",
                date(clock.last_received_elink.get()),
            ),
            ("last_sent_elink_at", date(clock.last_sent_elink.get())),
            (
                "last_seqNum_at",
                date(clock.last_sent.get().filter(|_| seq > 0)),
            ),
            (
                "last_seqNum",
                if seq > 0 {
                    seq.to_string()
                } else {
                    "ND".into()
                },
            ),
            ("connected_at", date(i.connected_at)),
            ("bound_at", date(i.bound_at)),
            ("disconnected_at", date(i.disconnected_at)),
        ];
        for (k, _, v) in s.items() {
            items.push((k, v.to_string()));
        }
        let order = [
            "created_at",
            "last_received_pdu_at",
            "last_sent_pdu_at",
            "last_received_elink_at",
            "last_sent_elink_at",
            "last_seqNum_at",
            "last_seqNum",
            "connected_at",
            "bound_at",
            "disconnected_at",
            "connected_count",
            "bound_count",
            "disconnected_count",
            "submit_sm_request_count",
            "submit_sm_count",
            "deliver_sm_count",
            "data_sm_count",
            "elink_count",
            "throttling_error_count",
            "other_submit_error_count",
            "interceptor_error_count",
            "interceptor_count",
        ];
        return item_table(&order, &items, 25);
    }
    if p.has("smppsapi") {
        let clock = &gw.stats.smppsapi_clock;
        let mut items: Vec<(&str, String)> = vec![
            ("created_at", date(Some(m.started_at()))),
            ("last_received_pdu_at", date(clock.last_received.get())),
            ("last_sent_pdu_at", date(clock.last_sent.get())),
            (
                "last_received_elink_at",
                date(clock.last_received_elink.get()),
            ),
        ];
        for (k, _, v) in gw.stats.smppsapi.items() {
            items.push((k, v.to_string()));
        }
        let order = [
            "created_at",
            "last_received_pdu_at",
            "last_sent_pdu_at",
            "last_received_elink_at",
            "connected_count",
            "connect_count",
            "disconnect_count",
            "bound_trx_count",
            "bound_rx_count",
            "bound_tx_count",
            "bind_trx_count",
            "bind_rx_count",
            "bind_tx_count",
            "unbind_count",
            "submit_sm_request_count",
            "submit_sm_count",
            "deliver_sm_count",
            "data_sm_count",
            "elink_count",
            "throttling_error_count",
            "other_submit_error_count",
            "interceptor_error_count",
            "interceptor_count",
        ];
        return item_table(&order, &items, 25);
    }
    if p.has("httpapi") {
        let h = &gw.stats.httpapi;
        let mut items: Vec<(&str, String)> = vec![
            ("created_at", date(Some(m.started_at()))),
            (
                "last_request_at",
                date(gw.stats.httpapi_last_request_at.get()),
            ),
            (
                "last_success_at",
                date(gw.stats.httpapi_last_success_at.get()),
            ),
        ];
        for (k, _, v) in h.items() {
            items.push((k, v.to_string()));
        }
        let order = [
            "created_at",
            "request_count",
            "last_request_at",
            "auth_error_count",
            "route_error_count",
            "interceptor_error_count",
            "interceptor_count",
            "throughput_error_count",
            "charging_error_count",
            "server_error_count",
            "success_count",
            "last_success_at",
        ];
        return item_table(&order, &items, 24);
    }
    "Missing required option".into()
}

fn item_table(order: &[&str], items: &[(&str, String)], w: usize) -> String {
    let mut out = row(&[("Item", w), ("Value", 0)]);
    for k in order {
        let v = items
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("0");
        out.push_str(&row(&[(k, w), (v, 0)]));
    }
    out
}

/// `stats --scripts`: the Python scripts' counters.
fn script_stats(gw: &smsgate_gateway::runtime::Runtime) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let stats = gw
        .plugins
        .as_ref()
        .map(|h| h.python().stats())
        .unwrap_or_default();
    if stats.is_empty() {
        return "Total scripts: 0".into();
    }
    let mut out = row(&[
        ("Script", 40),
        ("Calls", 10),
        ("Raised", 10),
        ("Timeouts", 10),
        ("Memory", 10),
        ("Traps", 10),
        ("Denied", 0),
    ]);
    for (name, s) in &stats {
        let c = &s.counters;
        out.push_str(&row(&[
            (name, 40),
            (&c.calls.load(Relaxed).to_string(), 10),
            (&s.raised.load(Relaxed).to_string(), 10),
            (&c.timeouts.load(Relaxed).to_string(), 10),
            (&c.memory.load(Relaxed).to_string(), 10),
            (&c.traps.load(Relaxed).to_string(), 10),
            (&c.denied.load(Relaxed).to_string(), 0),
        ]));
    }
    let _ = write!(out, "Total scripts: {}", stats.len());
    out
}

/// `plugin -l` / `-s NAME` / `-r NAME`.
pub fn plugins(p: &Parsed, m: &Manager) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let Some(gw) = m.runtime() else {
        return String::new();
    };
    let Some(host) = gw.plugins.clone().filter(|h| h.enabled()) else {
        return "Plugins are disabled ([plugins] enabled = false)".into();
    };
    let loaded = host.loaded();
    if p.has("list") {
        if loaded.is_empty() {
            return "Total plugins: 0".into();
        }
        let mut out = row(&[
            ("Plugin id", 16),
            ("World", 12),
            ("Contract", 8),
            ("Calls", 10),
            ("Errors", 10),
            ("State", 0),
        ]);
        for (name, world) in &loaded {
            let slot = host.slot(name);
            let c = slot.counters().clone();
            let errors = c.traps.load(Relaxed) + c.timeouts.load(Relaxed) + c.memory.load(Relaxed);
            out.push_str(&row(&[
                (name, 16),
                (world.name(), 12),
                (PLUGIN_CONTRACT, 8),
                (&c.calls.load(Relaxed).to_string(), 10),
                (&errors.to_string(), 10),
                (&plugin_state(&slot), 0),
            ]));
        }
        let _ = write!(out, "Total plugins: {}", loaded.len());
        return out;
    }
    if let Some(name) = p.get("show") {
        let Some((_, world)) = loaded.iter().find(|(n, _)| n == name) else {
            return format!("Unknown plugin: {name}");
        };
        let slot = host.slot(name);
        let c = slot.counters().clone();
        let mut out = format!(
            "name {name}\nworld {}\ncontract smsgate:plugin@{PLUGIN_CONTRACT}\n",
            world.name()
        );
        let _ = writeln!(out, "state {}", plugin_state(&slot));
        if let Some(plugin) = slot.get() {
            let _ = writeln!(out, "sha256 {}", plugin.hash);
            let i = &plugin.info;
            let _ = writeln!(out, "memory_mb {}", i.memory_bytes / (1024 * 1024));
            let _ = writeln!(out, "budget_ms {}", i.budget_ticks);
            let _ = writeln!(out, "io_timeout_ms {}", i.io_timeout_ms);
            let _ = writeln!(out, "allow_hosts {}", i.manifest.allow_hosts.join(";"));
        }
        for (k, v) in [
            ("calls", &c.calls),
            ("traps", &c.traps),
            ("timeouts", &c.timeouts),
            ("memory_errors", &c.memory),
            ("denied", &c.denied),
            ("instantiations", &c.instantiations),
        ] {
            let _ = writeln!(out, "{k} {}", v.load(Relaxed));
        }
        return out;
    }
    if let Some(name) = p.get("reload") {
        let Some(dir) = host.dir() else {
            return "Error: [plugins] dir is not set".into();
        };
        let wasm = dir.join(format!("{name}.wasm"));
        if !wasm.is_file() {
            return format!("Unknown plugin: {name}");
        }
        return match host.load_file(&wasm) {
            Ok(world) => format!("Successfully reloaded plugin {name} ({})", world.name()),
            Err(e) => format!("Error: {e}"),
        };
    }
    "Missing required option".into()
}

/// A plugin's state: `ok` when its file is what serves, else that the last good version
/// serves and why the file was refused.
fn plugin_state(slot: &smsgate_plugins::Slot) -> String {
    match (slot.get(), slot.stale()) {
        (Some(p), Some(why)) => format!(
            "stale: serving last good {}, file refused: {why}",
            smsgate_plugins::short(&p.hash)
        ),
        (Some(_), None) => "ok".into(),
        (None, _) => "not loaded".into(),
    }
}

/// The WIT package version plugins are checked against.
const PLUGIN_CONTRACT: &str = "0.1.0";

/// `queue`: backlogs, peek, move and purge (the gateway's [`QueueOps`]).
pub async fn queue(p: &Parsed, m: &Manager) -> String {
    let Some(gw) = m.runtime() else {
        return "The gateway is stopping".into();
    };
    let ops = QueueOps::of(&gw);
    let prof = m.profile();
    let known = |cid: &str| prof.smppccs.iter().any(|c| c.cid == cid);
    if p.has("list") {
        let mut out = row(&[
            ("Connector id", 35),
            ("Ready", 9),
            ("Delayed", 9),
            ("Unacked", 0),
        ]);
        for c in &prof.smppccs {
            match ops.backlog(&c.cid).await {
                Ok(s) => out.push_str(&row(&[
                    (&c.cid, 35),
                    (&s.ready.to_string(), 9),
                    (&s.delayed.to_string(), 9),
                    (&s.unacked.to_string(), 0),
                ])),
                Err(e) => return format!("Cannot read the queue of {}: {e}", c.cid),
            }
        }
        let _ = write!(out, "Total queues: {}", prof.smppccs.len());
        return out;
    }
    if let Some(cid) = p.get("peek") {
        if !known(cid) {
            return format!("Unknown connector: {cid}");
        }
        let count = match p.get("count").map(str::parse::<usize>) {
            None => 10,
            Some(Ok(n)) if n > 0 => n,
            Some(_) => return "--count takes a number of messages (1 to 100)".into(),
        };
        let msgs = match ops.peek(cid, count).await {
            Ok(v) => v,
            Err(e) => return format!("Cannot read the queue of {cid}: {e}"),
        };
        let private = smsgate_core::privacy::masked(cid);
        let mut out = row(&[
            ("Message id", 37),
            ("From", 16),
            ("To", 16),
            ("Tries", 5),
            ("Queued at", 20),
            ("Parts", 0),
        ]);
        for msg in &msgs {
            out.push_str(&row(&[
                (&msg.id.to_string(), 37),
                (
                    &smsgate_core::privacy::Number(&msg.source.addr, private).to_string(),
                    16,
                ),
                (
                    &smsgate_core::privacy::Number(&msg.destination.addr, private).to_string(),
                    16,
                ),
                (&msg.tries.to_string(), 5),
                (&date(Some(msg.created_at)), 20),
                (&msg.parts.len().to_string(), 0),
            ]));
        }
        let _ = write!(out, "Total messages shown: {}", msgs.len());
        return out;
    }
    if let Some(from) = p.get("move") {
        let Some(to) = p.get("to") else {
            return "--move needs --to CID".into();
        };
        for cid in [from, to] {
            if !known(cid) {
                return format!("Unknown connector: {cid}");
            }
        }
        if from == to {
            return "--move and --to name the same connector".into();
        }
        return match ops.move_all(from, to).await {
            Ok(n) => format!("Moved {n} messages from {from} to {to}"),
            Err(e) => format!("Cannot move the queue of {from}: {e}"),
        };
    }
    if let Some(cid) = p.get("purge") {
        if !known(cid) {
            return format!("Unknown connector: {cid}");
        }
        return match ops.purge(cid).await {
            Ok(n) => format!("Purged {n} messages of {cid}"),
            Err(e) => format!("Cannot purge the queue of {cid}: {e}"),
        };
    }
    "Missing required option".into()
}
