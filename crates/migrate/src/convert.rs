//! Jasmin's objects as smsgate's configuration.
//!
//! Every item becomes the smsgate section jCli would have made from the same commands, with
//! Jasmin's values made explicit (a connector's `submit_throughput` of 1, `res_to` of 120:
//! Jasmin's defaults, not smsgate's). What has no equivalent becomes a [`Note`]: an item that
//! cannot be carried is left out and named, a setting that is only Jasmin's business (its
//! log format) is named and dropped. [`Import::complete`] says whether nothing was left out.
//!
//! Routes and interceptors embed copies of their filters (and `UserFilter`s embed stale
//! copies of whole users): a route's filter is matched to the `filters` entry it was made
//! from by content, users by uid only, and a filter no longer in the filter table is added
//! back under a made-up id (and said so).

use std::path::{Path, PathBuf};

use smsgate_core::config::{
    BindType, FilterConfig, GroupConfig, HttpClientConfig, InterceptorConfig, Pattern, RouteConfig,
    SmppClientConfig, UserConfig,
};

use crate::pickle::Value;
use crate::store::{self, JasminStore};
use smsgate_core::jasmin::{NPI, TON};

/// Something the import did not carry as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// `user acme`, `smppccm tx1`, `mtroute 40`...
    pub what: String,
    pub why: String,
    /// True when the item itself was left out (the import is then incomplete); false when
    /// only a setting without an equivalent was dropped.
    pub left_out: bool,
}

/// A Python script found in the store, to be written next to the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Where the configuration refers to it.
    pub path: PathBuf,
    pub source: String,
}

/// What a store converts to.
#[derive(Debug, Default)]
pub struct Import {
    pub groups: Vec<GroupConfig>,
    /// Passwords are `md5:<hex>`: Jasmin's digests, replaced by argon2 at first login.
    pub users: Vec<UserConfig>,
    pub smppccs: Vec<SmppClientConfig>,
    /// Connectors Jasmin had started (`service_status` 1).
    pub started: Vec<String>,
    pub httpccs: Vec<HttpClientConfig>,
    /// EvalPyFilters hold their source in `py_code` and its file in `py_path` (as jCli's
    /// `pyCode /path.py` does).
    pub filters: Vec<FilterConfig>,
    pub mtroutes: Vec<RouteConfig>,
    pub moroutes: Vec<RouteConfig>,
    /// Interceptors hold their source in `source`.
    pub mtinterceptors: Vec<InterceptorConfig>,
    pub mointerceptors: Vec<InterceptorConfig>,
    pub scripts: Vec<Script>,
    pub notes: Vec<Note>,
    /// Jasmin versions named by the files.
    pub versions: Vec<String>,
}

impl Import {
    /// True when every item was carried.
    pub fn complete(&self) -> bool {
        self.notes.iter().all(|n| !n.left_out)
    }
    fn note(&mut self, what: impl Into<String>, why: impl Into<String>) {
        self.notes.push(Note {
            what: what.into(),
            why: why.into(),
            left_out: false,
        });
    }
    fn leave_out(&mut self, what: impl Into<String>, why: impl Into<String>) {
        self.notes.push(Note {
            what: what.into(),
            why: why.into(),
            left_out: true,
        });
    }
}

/// Convert `store`; scripts are given paths under `scripts_dir` (absolute paths are best: the
/// configuration names them as they are). `utc_offset` is the Jasmin server's (its date and
/// time filters use local time); none: UTC, said in a note.
pub fn convert(store: &JasminStore, scripts_dir: &Path, utc_offset: Option<&str>) -> Import {
    let mut out = Import {
        versions: store.versions(),
        ..Default::default()
    };
    for (suffix, what) in store::FILES {
        if store.file(suffix).is_none() {
            out.note(
                format!("{}.{suffix}", store.profile),
                format!("absent: no {what} imported"),
            );
        }
    }
    let mut cx = Cx {
        out: &mut out,
        scripts_dir,
        synthesized: 0,
        by_content: Default::default(),
        utc_offset,
        local_time_told: false,
    };
    if let Some(f) = store.file("router-groups") {
        cx.groups(&f.value);
    }
    if let Some(f) = store.file("router-users") {
        cx.users(&f.value);
    }
    if let Some(f) = store.file("smppccs") {
        cx.smppccs(&f.value);
    }
    if let Some(f) = store.file("httpccs") {
        cx.httpccs(&f.value);
    }
    if let Some(f) = store.file("filters") {
        cx.filters(&f.value);
    }
    if let Some(f) = store.file("router-mtroutes") {
        cx.routes(&f.value, "mt");
    }
    if let Some(f) = store.file("router-moroutes") {
        cx.routes(&f.value, "mo");
    }
    if let Some(f) = store.file("router-mtinterceptors") {
        cx.interceptors(&f.value, "mt");
    }
    if let Some(f) = store.file("router-mointerceptors") {
        cx.interceptors(&f.value, "mo");
    }
    out
}

struct Cx<'a> {
    out: &'a mut Import,
    scripts_dir: &'a Path,
    synthesized: usize,
    /// The filter table by content (fid and script file aside): a route's embedded filter
    /// finds its entry in one lookup.
    by_content: std::collections::HashMap<String, String>,
    utc_offset: Option<&'a str>,
    /// The note about local time was made.
    local_time_told: bool,
}

/// A filter's content without its id and script file, as a lookup key.
fn content_key(f: &FilterConfig) -> String {
    let mut f = f.clone();
    f.fid.clear();
    f.py_path = None;
    serde_json::to_string(&f).unwrap_or_default()
}

/// A key of an instance's state.
fn field(state: &Value, key: &str) -> Value {
    state.get(key).unwrap_or(Value::None)
}

fn opt_text(v: &Value) -> Option<String> {
    if v.is_none() {
        None
    } else {
        store::text_of(v)
    }
}

/// `smpp.pdu` enums: member names in declaration order (an enum member pickles as its 1-based
/// number, a value typed in jCli as its name) with their SMPP codes; TON and NPI are core's.
const PRIORITY: [(&str, u8); 4] = [
    ("LEVEL_0", 0),
    ("LEVEL_1", 1),
    ("LEVEL_2", 2),
    ("LEVEL_3", 3),
];
const REPLACE: [(&str, u8); 2] = [("DO_NOT_REPLACE", 0), ("REPLACE", 1)];

fn pdu_code(v: &Value, class: &str, table: &[(&str, u8)]) -> Result<u8, String> {
    if let Some((c, n)) = store::pdu_enum(v) {
        if c != class {
            return Err(format!("expected a {class}, found a {c}"));
        }
        return usize::try_from(n - 1)
            .ok()
            .and_then(|i| table.get(i))
            .map(|(_, code)| *code)
            .ok_or_else(|| format!("{class} member {n} is unknown"));
    }
    if let Some(name) = v.as_str() {
        return table
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, code)| *code)
            .ok_or_else(|| format!("{name:?} is not a {class}"));
    }
    // Older stores keep plain integers.
    v.as_int()
        .and_then(|i| u8::try_from(i).ok())
        .ok_or_else(|| format!("expected a {class}, found {}", v.describe()))
}

impl Cx<'_> {
    fn groups(&mut self, v: &Value) {
        for g in v.items().unwrap_or_default() {
            match group_of(&g) {
                Some(g) => self.out.groups.push(g),
                None => self.out.leave_out(
                    "group",
                    format!("{} is not a jasminApi.Group", g.describe()),
                ),
            }
        }
    }

    fn users(&mut self, v: &Value) {
        for u in v.items().unwrap_or_default() {
            match self.user(&u) {
                Ok(user) => self.out.users.push(user),
                Err((who, why)) => self.out.leave_out(format!("user {who}"), why),
            }
        }
    }

    fn user(&mut self, v: &Value) -> Result<UserConfig, (String, String)> {
        let Some((class, st)) = store::instance(v).filter(|(c, _)| c == "User") else {
            return Err((
                "?".into(),
                format!("{} is not a jasminApi.User", v.describe()),
            ));
        };
        let _ = class;
        let uid = opt_text(&field(&st, "uid")).unwrap_or_default();
        let who = uid.clone();
        let fail = |why: String| (who.clone(), why);
        let username =
            opt_text(&field(&st, "username")).ok_or_else(|| fail("no username".into()))?;
        let digest = store::bytes_of(&field(&st, "password"))
            .ok_or_else(|| fail("no password digest".into()))?;
        let password = match digest.len() {
            16 => format!("md5:{}", hex::encode(&digest)),
            // Some stores keep the digest as its hex text.
            32 if digest.iter().all(|b| b.is_ascii_hexdigit()) => {
                format!(
                    "md5:{}",
                    String::from_utf8_lossy(&digest).to_ascii_lowercase()
                )
            }
            n => return Err(fail(format!("password digest of {n} bytes is not MD5"))),
        };
        let group = field(&st, "group");
        let gid = group_of(&group)
            .map(|g| {
                if !self.out.groups.iter().any(|x| x.gid == g.gid) {
                    self.out.note(
                        format!("group {}", g.gid),
                        format!("not in the group table but user {uid} is in it: added"),
                    );
                    self.out.groups.push(g.clone());
                }
                g.gid
            })
            .ok_or_else(|| fail("no group".into()))?;
        let mut u: UserConfig = serde_json::from_value(serde_json::json!({
            "username": username,
            "password": password,
            "gid": gid,
        }))
        .map_err(|e| fail(e.to_string()))?;
        u.uid = (uid != username).then_some(uid.clone());
        u.enabled = field(&st, "enabled").as_bool().unwrap_or(true);
        self.mt_credential(&field(&st, "mt_credential"), &mut u)
            .map_err(fail)?;
        let smpps = field(&st, "smpps_credential");
        if let Some((_, sc)) = store::instance(&smpps) {
            let auth = field(&sc, "authorizations");
            if let Some(b) = field(&auth, "bind").as_bool() {
                u.smpps_cred.authorization.bind = b;
            }
            u.smpps_cred.quota.max_bindings = field(&field(&sc, "quotas"), "max_bindings").as_int();
        }
        Ok(u)
    }

    fn mt_credential(&mut self, v: &Value, u: &mut UserConfig) -> Result<(), String> {
        let Some((_, st)) = store::instance(v) else {
            return Ok(());
        };
        let who = format!("user {}", u.uid.as_deref().unwrap_or(&u.username));
        let a = &mut u.mt_messaging_cred.authorization;
        for (k, val) in field(&st, "authorizations").entries().unwrap_or_default() {
            let Some(k) = store::text_of(&k) else {
                continue;
            };
            let k = k.as_str();
            let Some(b) = val.as_bool() else { continue };
            let slot = match k {
                "http_send" => &mut a.http_send,
                "http_bulk" => &mut a.http_bulk,
                "http_balance" => &mut a.http_balance,
                "http_rate" => &mut a.http_rate,
                "smpps_send" => &mut a.smpps_send,
                "http_long_content" => &mut a.http_long_content,
                "set_dlr_level" => &mut a.dlr_level,
                "http_set_dlr_method" => &mut a.http_dlr_method,
                "set_source_address" => &mut a.src_addr,
                "set_priority" => &mut a.priority,
                "set_validity_period" => &mut a.validity_period,
                "set_hex_content" => &mut a.hex_content,
                "set_schedule_delivery_time" => &mut a.schedule_delivery_time,
                other => {
                    self.out.note(
                        who.clone(),
                        format!("authorization {other} has no equivalent: dropped"),
                    );
                    continue;
                }
            };
            *slot = b;
        }
        let vf = &mut u.mt_messaging_cred.value_filter;
        for (k, val) in field(&st, "value_filters").entries().unwrap_or_default() {
            let Some(k) = store::text_of(&k) else {
                continue;
            };
            let k = k.as_str();
            if val.is_none() {
                continue;
            }
            let src = store::regex_of(&val).map_err(|e| format!("value filter {k}: {e}"))?;
            let p = Pattern::new(&src)
                .map_err(|e| format!("value filter {k}: regex {src:?} is not valid here: {e}"))?;
            match k {
                "destination_address" => vf.dst_addr = p,
                "source_address" => vf.src_addr = p,
                "priority" => vf.priority = p,
                "validity_period" => vf.validity_period = p,
                "content" => vf.content = p,
                other => self.out.note(
                    who.clone(),
                    format!("value filter {other} has no equivalent: dropped"),
                ),
            }
        }
        for (k, val) in field(&st, "defaults").entries().unwrap_or_default() {
            match store::text_of(&k).as_deref() {
                Some("source_address") => {
                    u.mt_messaging_cred.default_value.src_addr = opt_text(&val)
                }
                Some(other) if !val.is_none() => self.out.note(
                    who.clone(),
                    format!("default value {other} has no equivalent: dropped"),
                ),
                _ => {}
            }
        }
        let q = field(&st, "quotas");
        let quota = &mut u.mt_messaging_cred.quota;
        quota.balance = field(&q, "balance").as_float();
        quota.sms_count = field(&q, "submit_sm_count").as_int();
        quota.early_percent = field(&q, "early_decrement_balance_percent").as_float();
        quota.http_throughput = field(&q, "http_throughput").as_float();
        quota.smpps_throughput = field(&q, "smpps_throughput").as_float();
        Ok(())
    }

    fn smppccs(&mut self, v: &Value) {
        for entry in v.items().unwrap_or_default() {
            let id = opt_text(&field(&entry, "id")).unwrap_or_else(|| "?".into());
            match self.smppcc(&field(&entry, "config")) {
                Ok(c) => {
                    if field(&entry, "service_status").as_int() == Some(1) {
                        self.out.started.push(c.cid.clone());
                    }
                    self.out.smppccs.push(c);
                }
                Err(why) => self.out.leave_out(format!("smppccm {id}"), why),
            }
        }
    }

    fn smppcc(&mut self, v: &Value) -> Result<SmppClientConfig, String> {
        let Some((_, st)) = store::instance(v) else {
            return Err(format!(
                "{} is not an SMPP client configuration",
                v.describe()
            ));
        };
        let text = |k: &str| opt_text(&field(&st, k));
        let int = |k: &str| field(&st, k).as_int();
        let cid = text("id").ok_or("no id")?;
        let who = format!("smppccm {cid}");
        let mut c = SmppClientConfig::new(&cid);
        macro_rules! set {
            ($slot:expr, $key:expr, $conv:expr) => {
                if let Some(x) = $conv(&field(&st, $key)) {
                    $slot = x;
                }
            };
        }
        let secs = |v: &Value| v.as_int().and_then(|i| u64::try_from(i).ok());
        c.host = text("host").unwrap_or(c.host);
        if let Some(p) = int("port") {
            c.port = u16::try_from(p).map_err(|_| format!("port {p}"))?;
        }
        c.username = text("username").unwrap_or_default();
        c.password = text("password").unwrap_or_default();
        c.systype = text("systemType").filter(|s| !s.is_empty());
        c.bind = match text("bindOperation").as_deref() {
            Some("transmitter") => BindType::Transmitter,
            Some("receiver") => BindType::Receiver,
            Some("transceiver") | None => BindType::Transceiver,
            Some(other) => return Err(format!("bind {other:?} is not an SMPP bind")),
        };
        c.logfile = text("log_file");
        c.logrotate = text("log_rotate").unwrap_or(c.logrotate);
        set!(c.loglevel, "log_level", |v: &Value| v
            .as_int()
            .and_then(|i| u32::try_from(i).ok()));
        set!(c.logprivacy, "log_privacy", |v: &Value| v.as_bool());
        set!(c.bind_timeout_s, "sessionInitTimerSecs", secs);
        set!(c.enquire_link_interval_s, "enquireLinkTimerSecs", secs);
        set!(c.inactivity_timeout_s, "inactivityTimerSecs", secs);
        set!(c.response_timeout_s, "responseTimerSecs", secs);
        set!(c.pdu_read_timeout_s, "pduReadTimerSecs", secs);
        set!(c.dlr_expiry, "dlr_expiry", secs);
        set!(
            c.con_loss_retry,
            "reconnectOnConnectionLoss",
            |v: &Value| v.as_bool()
        );
        set!(
            c.con_fail_retry,
            "reconnectOnConnectionFailure",
            |v: &Value| v.as_bool()
        );
        set!(c.con_loss_delay, "reconnectOnConnectionLossDelay", secs);
        set!(c.con_fail_delay, "reconnectOnConnectionFailureDelay", secs);
        set!(c.ssl, "useSSL", |v: &Value| v.as_bool());
        set!(c.requeue_delay, "requeue_delay", secs);
        set!(c.submit_throughput, "submit_sm_throughput", |v: &Value| v
            .as_float());
        set!(c.default_msg_id, "sm_default_msg_id", |v: &Value| v
            .as_int()
            .and_then(|i| u8::try_from(i).ok()));
        set!(c.coding, "data_coding", |v: &Value| v
            .as_int()
            .and_then(|i| u8::try_from(i).ok()));
        set!(c.dlr_msgid, "dlr_msg_id_bases", |v: &Value| v
            .as_int()
            .and_then(|i| u8::try_from(i).ok()));
        c.addr_range = text("addressRange");
        c.src_addr = text("source_addr");
        c.proto_id = int("protocol_id").and_then(|i| u8::try_from(i).ok());
        c.validity = int("validity_period").and_then(|i| u64::try_from(i).ok());
        for (key, slot, class, table) in [
            ("addressTon", &mut c.bind_ton, "AddrTon", &TON[..]),
            ("addressNpi", &mut c.bind_npi, "AddrNpi", &NPI[..]),
            ("source_addr_ton", &mut c.src_ton, "AddrTon", &TON[..]),
            ("source_addr_npi", &mut c.src_npi, "AddrNpi", &NPI[..]),
            ("dest_addr_ton", &mut c.dst_ton, "AddrTon", &TON[..]),
            ("dest_addr_npi", &mut c.dst_npi, "AddrNpi", &NPI[..]),
            (
                "priority_flag",
                &mut c.priority,
                "PriorityFlag",
                &PRIORITY[..],
            ),
            (
                "replace_if_present_flag",
                &mut c.replace_if_present,
                "ReplaceIfPresentFlag",
                &REPLACE[..],
            ),
        ] {
            let v = field(&st, key);
            if !v.is_none() {
                *slot = pdu_code(&v, class, table).map_err(|e| format!("{key}: {e}"))?;
            }
        }
        // Settings with no equivalent: named when they differ from Jasmin's defaults.
        if let Some(f) = text("SSLCertificateFile") {
            self.out.note(
                who.clone(),
                format!("SSLCertificateFile {f:?}: client certificates are not supported; dropped"),
            );
        }
        if let Some(s) = text("service_type") {
            self.out.note(
                who.clone(),
                format!("service_type {s:?} has no equivalent: dropped"),
            );
        }
        if !field(&st, "schedule_delivery_time").is_none() {
            self.out.note(
                who.clone(),
                "a connector-wide schedule_delivery_time has no equivalent: dropped",
            );
        }
        if let Some((_, args)) = store::pdu_args(&field(&st, "esm_class")) {
            let mode = args.first().and_then(store::pdu_enum).map(|e| e.1);
            let kind = args.get(1).and_then(store::pdu_enum).map(|e| e.1);
            let features = args.get(2).and_then(|f| f.items()).map(|f| f.len());
            if (mode, kind, features) != (Some(4), Some(1), Some(0)) {
                self.out.note(
                    who.clone(),
                    "esm_class other than store-and-forward/default: smsgate sets esm_class per message; dropped",
                );
            }
        }
        if let Some((_, args)) = store::pdu_args(&field(&st, "registered_delivery")) {
            let receipt = args.first().and_then(store::pdu_enum).map(|e| e.1);
            if receipt != Some(1) {
                self.out.note(
                    who.clone(),
                    "a connector-wide registered_delivery: smsgate asks for receipts per message (dlr-level); dropped",
                );
            }
        }
        for (key, default) in [
            (
                "log_format",
                "%(asctime)s %(levelname)-8s %(process)d %(message)s",
            ),
            ("log_date_format", "%Y-%m-%d %H:%M:%S"),
        ] {
            if let Some(v) = text(key).filter(|v| v != default) {
                self.out.note(
                    who.clone(),
                    format!("{key} {v:?}: smsgate's logs have one format; dropped"),
                );
            }
        }
        Ok(c)
    }

    fn httpccs(&mut self, v: &Value) {
        let items: Vec<Value> = match v.entries() {
            Some(e) => e.into_iter().map(|(_, c)| c).collect(),
            None => v.items().unwrap_or_default(),
        };
        for c in items {
            let st = store::instance(&c).map(|(_, s)| s).unwrap_or(c.clone());
            let cid = opt_text(&field(&st, "cid"));
            let url = opt_text(&field(&st, "baseurl"));
            match (cid, url) {
                (Some(cid), Some(url)) => self.out.httpccs.push(HttpClientConfig {
                    cid,
                    url,
                    method: opt_text(&field(&st, "method"))
                        .unwrap_or_else(|| "GET".into())
                        .to_ascii_uppercase(),
                }),
                _ => self
                    .out
                    .leave_out("httpccm", format!("{} has no cid or baseurl", c.describe())),
            }
        }
    }

    fn filters(&mut self, v: &Value) {
        for (fid, f) in v.entries().unwrap_or_default() {
            let fid = store::text_of(&fid).unwrap_or_default();
            match self.filter(&fid, &f) {
                Ok(fc) => self.keep_filter(fc),
                Err(why) => self.out.leave_out(format!("filter {fid}"), why),
            }
        }
    }

    /// One filter (an EvalPyFilter's script is not placed yet: see [`Cx::keep_filter`]).
    fn filter(&mut self, fid: &str, v: &Value) -> Result<FilterConfig, String> {
        let Some((class, st)) = store::instance(v) else {
            return Err(format!("{} is not a filter", v.describe()));
        };
        let mut f = FilterConfig::new(fid, &class);
        match class.as_str() {
            "TransparentFilter" => {}
            "ConnectorFilter" => {
                let c = field(&st, "connector");
                let st = store::instance(&c).map(|x| x.1).ok_or("no connector")?;
                f.cid = Some(opt_text(&field(&st, "cid")).ok_or("connector without cid")?);
            }
            "UserFilter" => {
                // The embedded user is a stale copy: only its uid counts.
                let u = field(&st, "user");
                let st = store::instance(&u).map(|x| x.1).ok_or("no user")?;
                f.uid = Some(opt_text(&field(&st, "uid")).ok_or("user without uid")?);
            }
            "GroupFilter" => {
                f.gid = Some(group_of(&field(&st, "group")).ok_or("no group")?.gid);
            }
            "SourceAddrFilter" => {
                f.source_addr = Some(store::regex_of(&field(&st, "source_addr"))?);
            }
            "DestinationAddrFilter" => {
                f.destination_addr = Some(store::regex_of(&field(&st, "destination_addr"))?);
            }
            "ShortMessageFilter" => {
                f.short_message = Some(store::regex_of(&field(&st, "short_message"))?);
            }
            "TagFilter" => {
                let t = field(&st, "tag");
                f.tag = Some(match t.as_int() {
                    Some(i) => i.to_string(),
                    None => opt_text(&t).ok_or("no tag")?,
                });
            }
            "DateIntervalFilter" => {
                let d = field(&st, "dateInterval").items().unwrap_or_default();
                let (Some(a), Some(b)) = (
                    d.first().and_then(store::date_of),
                    d.get(1).and_then(store::date_of),
                ) else {
                    return Err("dateInterval is not two dates".into());
                };
                f.date_interval = Some(format!("{a};{b}"));
                self.local_time(&mut f);
            }
            "TimeIntervalFilter" => {
                let d = field(&st, "timeInterval").items().unwrap_or_default();
                let (Some(a), Some(b)) = (
                    d.first().and_then(store::time_of),
                    d.get(1).and_then(store::time_of),
                ) else {
                    return Err("timeInterval is not two times".into());
                };
                f.time_interval = Some(format!("{a};{b}"));
                self.local_time(&mut f);
            }
            "EvalPyFilter" => {
                f.py_code = Some(opt_text(&field(&st, "pyCode")).ok_or("no pyCode")?);
            }
            other => return Err(format!("{other} is not one of Jasmin's filter types")),
        }
        Ok(f)
    }

    /// Add a filter to the table; an EvalPyFilter's script goes to `filter-<fid>.py`.
    fn keep_filter(&mut self, mut f: FilterConfig) {
        if let Some(code) = f.py_code.clone().filter(|_| f.kind == "EvalPyFilter") {
            let path = self.script(&format!("filter-{}.py", f.fid), &code);
            f.py_path = Some(path.display().to_string());
        }
        // The first of equal filters wins, as a search of the table would find it.
        self.by_content
            .entry(content_key(&f))
            .or_insert_with(|| f.fid.clone());
        self.out.filters.push(f);
    }

    /// A date or time filter's borders are in the Jasmin server's local time.
    fn local_time(&mut self, f: &mut FilterConfig) {
        match self.utc_offset {
            Some(off) => f.utc_offset = Some(off.to_string()),
            None if !self.local_time_told => {
                self.local_time_told = true;
                self.out.note(
                    format!("filter {}", f.fid),
                    "Jasmin compares date and time filters with the server's local time; smsgate with `utc_offset` (UTC unless `--utc-offset` is given)",
                );
            }
            None => {}
        }
    }

    /// A script's path under the scripts directory (unique), remembered for writing.
    fn script(&mut self, name: &str, source: &str) -> PathBuf {
        let mut path = self.scripts_dir.join(name);
        let mut n = 1;
        while self
            .out
            .scripts
            .iter()
            .any(|s| s.path == path && s.source != source)
        {
            n += 1;
            path = self
                .scripts_dir
                .join(format!("{}-{n}.py", name.trim_end_matches(".py")));
        }
        if !self.out.scripts.iter().any(|s| s.path == path) {
            self.out.scripts.push(Script {
                path: path.clone(),
                source: source.to_string(),
            });
        }
        path
    }

    /// The fid of the filter table entry equal to this embedded filter; one is added (and
    /// said so) when none is.
    fn filter_ref(&mut self, table: &str, order: i64, v: &Value) -> Result<String, String> {
        let probe = self.filter("", v)?;
        if let Some(fid) = self.by_content.get(&content_key(&probe)) {
            return Ok(fid.clone());
        }
        self.synthesized += 1;
        let fid = format!("{table}{order}-{}", self.synthesized);
        self.out.note(
            format!("filter {fid}"),
            format!(
                "{table} rule {order} uses a {} that is no longer in the filter table: added under this id",
                probe.kind
            ),
        );
        self.keep_filter(FilterConfig {
            fid: fid.clone(),
            ..probe
        });
        Ok(fid)
    }

    fn connector_ref(v: &Value) -> Result<String, String> {
        let (class, st) = store::instance(v).ok_or("no connector")?;
        let cid = || opt_text(&field(&st, "cid")).ok_or_else(|| format!("{class} without cid"));
        Ok(match class.as_str() {
            "SmppClientConnector" => format!("smppc({})", cid()?),
            "HttpConnector" => format!("http({})", cid()?),
            "SmppServerSystemIdConnector" => format!(
                "smpps({})",
                opt_text(&field(&st, "system_id")).map_or_else(cid, Ok)?
            ),
            other => return Err(format!("connector class {other} has no equivalent")),
        })
    }

    /// `(order, object)` pairs of a routing or interception table.
    fn table_entries(v: &Value) -> Vec<(i64, Value)> {
        let st = store::instance(v).map(|x| x.1).unwrap_or(Value::None);
        let mut rows = vec![];
        for row in field(&st, "table").items().unwrap_or_default() {
            for (k, r) in row.entries().unwrap_or_default() {
                rows.push((k.as_int().unwrap_or(-1), r));
            }
        }
        rows.sort_by_key(|(o, _)| *o);
        rows
    }

    fn routes(&mut self, v: &Value, table: &str) {
        for (order, r) in Self::table_entries(v) {
            match self.route(table, order, &r) {
                Ok(rc) => {
                    if table == "mt" {
                        self.out.mtroutes.push(rc)
                    } else {
                        self.out.moroutes.push(rc)
                    }
                }
                Err(why) => self.out.leave_out(format!("{table}route {order}"), why),
            }
        }
    }

    fn route(&mut self, table: &str, order: i64, v: &Value) -> Result<RouteConfig, String> {
        let (class, st) = store::instance(v).ok_or("not a route")?;
        let order32 = u32::try_from(order).map_err(|_| format!("order {order}"))?;
        let mut r = RouteConfig::new(&class, order32);
        let known = [
            "DefaultRoute",
            "StaticMTRoute",
            "StaticMORoute",
            "RandomRoundrobinMTRoute",
            "RandomRoundrobinMORoute",
            "FailoverMTRoute",
            "FailoverMORoute",
        ];
        if !known.contains(&class.as_str()) {
            return Err(format!("{class} is not one of Jasmin's route types"));
        }
        // One connector, or a list of them (round robin and failover routes).
        let conn = field(&st, "connector");
        match conn.items() {
            Some(list) => {
                for c in list {
                    r.connectors.push(Self::connector_ref(&c)?);
                }
            }
            None if !conn.is_none() => r.connector = Some(Self::connector_ref(&conn)?),
            None => {}
        }
        for c in field(&st, "connectors").items().unwrap_or_default() {
            r.connectors.push(Self::connector_ref(&c)?);
        }
        if r.connector.is_none() && r.connectors.is_empty() {
            return Err("no connector".into());
        }
        for f in field(&st, "filters").items().unwrap_or_default() {
            let fid = self.filter_ref(table, order, &f)?;
            r.filters.push(fid);
        }
        r.rate = field(&st, "rate").as_float().unwrap_or(0.0);
        Ok(r)
    }

    fn interceptors(&mut self, v: &Value, table: &str) {
        for (order, i) in Self::table_entries(v) {
            match self.interceptor(table, order, &i) {
                Ok(ic) => {
                    if table == "mt" {
                        self.out.mtinterceptors.push(ic)
                    } else {
                        self.out.mointerceptors.push(ic)
                    }
                }
                Err(why) => self
                    .out
                    .leave_out(format!("{table}interceptor {order}"), why),
            }
        }
    }

    fn interceptor(
        &mut self,
        table: &str,
        order: i64,
        v: &Value,
    ) -> Result<InterceptorConfig, String> {
        let (class, st) = store::instance(v).ok_or("not an interceptor")?;
        if ![
            "DefaultInterceptor",
            "StaticMTInterceptor",
            "StaticMOInterceptor",
        ]
        .contains(&class.as_str())
        {
            return Err(format!("{class} is not one of Jasmin's interceptor types"));
        }
        let order32 = u32::try_from(order).map_err(|_| format!("order {order}"))?;
        let script = field(&st, "script");
        let (_, sst) = store::instance(&script).ok_or("no script")?;
        let code = opt_text(&field(&sst, "pyCode")).ok_or("script without pyCode")?;
        let path = self.script(&format!("{table}-interceptor-{order}.py"), &code);
        let mut i =
            InterceptorConfig::new(&class, order32, &format!("python3({})", path.display()));
        i.source = Some(code);
        for f in field(&st, "filters").items().unwrap_or_default() {
            let fid = self.filter_ref(&format!("{table}i"), order, &f)?;
            i.filters.push(fid);
        }
        Ok(i)
    }
}

fn group_of(v: &Value) -> Option<GroupConfig> {
    let (class, st) = store::instance(v)?;
    if class != "Group" {
        return None;
    }
    Some(GroupConfig {
        gid: opt_text(&field(&st, "gid"))?,
        enabled: field(&st, "enabled").as_bool().unwrap_or(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::read_file;

    /// A Python 2 era store: protocol 2, byte strings (`U`) for every key and text, a user
    /// without `enabled` (before 0.8.8) and an integer tag (before 0.9.16).
    #[test]
    fn python_2_stores_read_like_python_3_ones() {
        let mut users = b"Persisted on Mon Jan  1 00:00:00 2018 [Jasmin 0.8.0]\n".to_vec();
        users.extend_from_slice(b"\x80\x02]q\x00(cjasmin.routing.jasminApi\nUser\nq\x01)\x81q\x02}q\x03(U\x03uidU\x02u1U\x08usernameU\x02u1U\x08passwordU\x10");
        users.extend_from_slice(&[0xaa; 16]);
        users.extend_from_slice(
            b"U\x05groupcjasmin.routing.jasminApi\nGroup\n)\x81}(U\x03gidU\x02g1ubube.",
        );
        let tag = b"Persisted on Mon Jan  1 00:00:00 2018 [Jasmin 0.8.0]\n\x80\x02}(U\x02t1cjasmin.routing.Filters\nTagFilter\n)\x81}U\x03tagK\x2asbu.";
        let dir = std::path::Path::new("/store");
        let u = read_file(&dir.join("p.router-users"), &users).expect("users");
        let f = read_file(&dir.join("p.filters"), tag).expect("filters");
        assert_eq!(u.version.as_deref(), Some("0.8.0"));
        let mut out = Import::default();
        let mut cx = Cx {
            out: &mut out,
            scripts_dir: dir,
            synthesized: 0,
            by_content: Default::default(),
            utc_offset: None,
            local_time_told: false,
        };
        cx.users(&u.value);
        cx.filters(&f.value);
        assert!(out.complete(), "{:?}", out.notes);
        let user = &out.users[0];
        assert_eq!((user.username.as_str(), user.gid.as_str()), ("u1", "g1"));
        assert_eq!(user.password, format!("md5:{}", "aa".repeat(16)));
        assert!(user.enabled, "no `enabled` before 0.8.8: enabled");
        assert_eq!(out.groups[0].gid, "g1", "the user's group is added");
        assert_eq!(out.filters[0].tag.as_deref(), Some("42"));
    }
}
