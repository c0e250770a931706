//! Interactive sessions (`> ` prompt): one form per kind of object. Each line sets a key;
//! `ok` saves through the live configuration, `ko` leaves. A value is checked when typed;
//! `ok` checks the whole object (and the configuration it makes) before anything changes.

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use smsgate_core::config::{
    FilterConfig, GroupConfig, HttpClientConfig, InterceptorConfig, RouteConfig, SmppClientConfig,
    UserConfig,
};
use smsgate_gateway::manage::{uid_of, Manager, MO_INTERCEPTOR_TYPES, MT_INTERCEPTOR_TYPES};
use smsgate_queue::store::Balance;
use smsgate_routing::table::TableKind;

/// An interactive session.
#[async_trait]
pub trait Form: Send {
    /// Handle a `key value` line; the answer to print (empty: nothing).
    async fn line(&mut self, line: &str, m: &Manager) -> String;
    /// `ok`: save. `Ok` ends the session with its message; `Err` keeps it open.
    async fn ok(&mut self, m: &Manager) -> Result<String, String>;
    /// Keys for tab completion.
    fn keys(&self) -> Vec<String>;
}

fn key_value(line: &str) -> (&str, &str) {
    match line.split_once(char::is_whitespace) {
        Some((k, v)) => (k, v.trim()),
        None => (line, ""),
    }
}

/// Jasmin's id syntax (jasminApi.py, smpp/configs.py): `^[A-Za-z0-9_-]{min,max}$`.
fn id_syntax(id: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// jCli's `a;b;c` lists.
fn split_list(v: &str) -> Vec<String> {
    v.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Every filter id of `list` exists.
fn check_filters(list: &[String], m: &Manager) -> Result<(), String> {
    let p = m.profile();
    match list
        .iter()
        .find(|f| !p.filters.iter().any(|x| &x.fid == *f))
    {
        Some(f) => Err(format!("Unknown fid: {f}")),
        None => Ok(()),
    }
}

fn is_none(v: &str) -> bool {
    v.is_empty() || v.eq_ignore_ascii_case("none")
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Groups

/// `group -a`.
#[derive(Default)]
pub struct GroupForm {
    gid: Option<String>,
}

#[async_trait]
impl Form for GroupForm {
    async fn line(&mut self, line: &str, _: &Manager) -> String {
        match key_value(line) {
            ("gid", v) if !v.is_empty() => {
                self.gid = Some(v.to_string());
                String::new()
            }
            ("gid", _) => "Error: gid needs a value".into(),
            (k, _) => format!("Unknown Group key: {k}"),
        }
    }
    async fn ok(&mut self, m: &Manager) -> Result<String, String> {
        let gid = self
            .gid
            .clone()
            .ok_or("You must set Group id (gid) before saving !")?;
        if !id_syntax(&gid, 1, 16) {
            // jasminApi.py `Group.__init__`.
            return Err("Error: Group gid syntax is invalid".into());
        }
        let g = gid.clone();
        m.apply(move |p| {
            if p.groups.iter().any(|x| x.gid == g) {
                return Err(format!("Error: Group gid:{g} already exists"));
            }
            p.groups.push(GroupConfig {
                gid: g,
                enabled: true,
            });
            Ok(())
        })
        .await
        .map_err(|e| prefixed(&e))?;
        Ok(format!("Successfully added Group [{gid}]"))
    }
    fn keys(&self) -> Vec<String> {
        vec!["gid".into()]
    }
}

fn prefixed(e: &str) -> String {
    if e.starts_with("Error") || e.starts_with("Unknown") || e.starts_with("Failed") {
        e.to_string()
    } else {
        format!("Error: {e}")
    }
}

// ---------------------------------------------------------------------------------------
// Users

/// The `mt_messaging_cred`/`smpps_cred` keys a user has: (section, key).
pub const MT_KEYS: &[(&str, &str)] = &[
    ("authorization", "http_send"),
    ("authorization", "http_balance"),
    ("authorization", "http_rate"),
    ("authorization", "http_bulk"),
    ("authorization", "smpps_send"),
    ("authorization", "http_long_content"),
    ("authorization", "dlr_level"),
    ("authorization", "http_dlr_method"),
    ("authorization", "src_addr"),
    ("authorization", "priority"),
    ("authorization", "validity_period"),
    ("authorization", "schedule_delivery_time"),
    ("authorization", "hex_content"),
    ("valuefilter", "dst_addr"),
    ("valuefilter", "src_addr"),
    ("valuefilter", "priority"),
    ("valuefilter", "validity_period"),
    ("valuefilter", "content"),
    ("defaultvalue", "src_addr"),
    ("quota", "balance"),
    ("quota", "early_percent"),
    ("quota", "sms_count"),
    ("quota", "http_throughput"),
    ("quota", "smpps_throughput"),
];
/// `smpps_cred` keys.
pub const SMPPS_KEYS: &[(&str, &str)] = &[("authorization", "bind"), ("quota", "max_bindings")];

/// The section's name in the configuration's serialized form.
fn section_field(section: &str) -> &str {
    match section {
        "valuefilter" => "value_filter",
        "defaultvalue" => "default_value",
        s => s,
    }
}

/// A quota change typed as `+N`/`-N`.
#[derive(Debug, Clone, Copy)]
struct Relative {
    cred: &'static str,
    key: &'static str,
    delta: f64,
}

/// `user -a` and `user -u UID`.
pub struct UserForm {
    /// `Some(uid)` when updating.
    updating: Option<String>,
    v: Value,
    relative: Vec<Relative>,
    /// Keys whose last value was refused: `ok` refuses until they are set again.
    bad: Vec<(String, String)>,
}

impl UserForm {
    /// A new user.
    pub fn add() -> Self {
        UserForm {
            updating: None,
            v: json!({}),
            relative: vec![],
            bad: vec![],
        }
    }

    /// Editing `u`.
    pub fn update(u: &UserConfig) -> Self {
        UserForm {
            updating: Some(uid_of(u).to_string()),
            v: serde_json::to_value(u).unwrap_or_else(|_| json!({})),
            relative: vec![],
            bad: vec![],
        }
    }

    fn set_cred(
        &mut self,
        cred: &str,
        section: &str,
        key: &str,
        value: &str,
    ) -> Result<(), String> {
        let keys = if cred == "mt_messaging_cred" {
            MT_KEYS
        } else {
            SMPPS_KEYS
        };
        let Some(&(sec, k)) = keys.iter().find(|(s, k)| *s == section && *k == key) else {
            return Err(format!("Unknown User key: {cred} {section} {key}"));
        };
        let new: Value = match sec {
            "authorization" => Value::Bool(
                parse_bool(value)
                    .ok_or_else(|| format!("Error: {cred} {sec} {k} must be True or False"))?,
            ),
            "valuefilter" => {
                regex::Regex::new(value)
                    .map_err(|e| format!("Error: {cred} {sec} {k}: invalid regex: {e}"))?;
                Value::String(value.into())
            }
            "defaultvalue" => {
                if is_none(value) {
                    Value::Null
                } else {
                    Value::String(value.into())
                }
            }
            _ => {
                if is_none(value) {
                    Value::Null
                } else {
                    let signed = value.starts_with('+') || value.starts_with('-');
                    let integer = matches!(k, "sms_count" | "max_bindings");
                    // usersm.py casts with Python's float()/int(): their ValueError texts.
                    let py_error = || {
                        if integer {
                            format!("Error: invalid literal for int() with base 10: '{value}'")
                        } else {
                            format!("Error: could not convert string to float: '{value}'")
                        }
                    };
                    let n: f64 = value.parse().map_err(|_| py_error())?;
                    if !n.is_finite() || (integer && n.fract() != 0.0) {
                        return Err(py_error());
                    }
                    if signed {
                        self.relative.retain(|r| r.key != k);
                        self.relative.push(Relative {
                            cred: if cred == "mt_messaging_cred" {
                                "mt_messaging_cred"
                            } else {
                                "smpps_cred"
                            },
                            key: k,
                            delta: n,
                        });
                        return Ok(());
                    }
                    if !integer && n < 0.0 {
                        return Err(format!("Error: {cred} {sec} {k} must be >= 0"));
                    }
                    if integer {
                        json!(n as i64)
                    } else {
                        json!(n)
                    }
                }
            }
        };
        self.relative.retain(|r| r.key != k);
        let obj = self.obj();
        let c = obj.entry(cred.to_string()).or_insert_with(|| json!({}));
        if !c.is_object() {
            *c = json!({});
        }
        let s = c.as_object_mut().map(|c| {
            c.entry(section_field(sec).to_string())
                .or_insert_with(|| json!({}))
        });
        if let Some(s) = s {
            if !s.is_object() {
                *s = json!({});
            }
            if let Some(s) = s.as_object_mut() {
                s.insert(k.to_string(), new);
            }
        }
        Ok(())
    }

    fn obj(&mut self) -> &mut Map<String, Value> {
        if !self.v.is_object() {
            self.v = json!({});
        }
        self.v.as_object_mut().expect("an object")
    }
}

#[async_trait]
impl Form for UserForm {
    async fn line(&mut self, line: &str, m: &Manager) -> String {
        let words: Vec<&str> = line.split_whitespace().collect();
        let key = words.first().copied().unwrap_or_default();
        let r = match key {
            "mt_messaging_cred" | "smpps_cred" if words.len() >= 3 => {
                let value = words[3..].join(" ");
                let full = format!("{} {} {}", words[0], words[1], words[2]);
                let r = self.set_cred(words[0], words[1], words[2], &value);
                match &r {
                    Err(e) if !e.starts_with("Unknown") => {
                        self.bad.retain(|(k, _)| k != &full);
                        self.bad.push((full, e.clone()));
                    }
                    Ok(()) => self.bad.retain(|(k, _)| k != &full),
                    _ => {}
                }
                r
            }
            "username" | "password" | "uid" | "gid" => {
                let (_, value) = key_value(line);
                if value.is_empty() {
                    Err(format!("Error: {key} needs a value"))
                } else if key == "uid" && self.updating.is_some() {
                    Err("Error: uid cannot be updated".into())
                } else if key == "gid" && !m.profile().groups.iter().any(|g| g.gid == value) {
                    Err(format!(
                        "Unknown Group gid:{value}, you must first create the Group"
                    ))
                } else {
                    self.obj()
                        .insert(key.to_string(), Value::String(value.into()));
                    Ok(())
                }
            }
            // smsgate extension: the user's own `[callbacks]` policy (`none`: the global one).
            "callback_policy" => {
                let (_, value) = key_value(line);
                if is_none(value) {
                    self.obj().remove("callback_policy");
                    Ok(())
                } else {
                    match value.parse::<smsgate_core::config::CallbackPolicy>() {
                        Ok(p) => {
                            self.obj()
                                .insert("callback_policy".into(), Value::String(p.as_str().into()));
                            Ok(())
                        }
                        Err(e) => Err(format!("Error: callback_policy: {e}")),
                    }
                }
            }
            k => Err(format!("Unknown User key: {k}")),
        };
        r.err().unwrap_or_default()
    }

    async fn ok(&mut self, m: &Manager) -> Result<String, String> {
        if let Some((_, e)) = self.bad.first() {
            return Err(e.clone());
        }
        let o = self.obj().clone();
        if self.updating.is_none()
            && ["uid", "gid", "username", "password"]
                .iter()
                .any(|k| !o.contains_key(*k))
        {
            return Err(
                "You must set User id (uid), group (gid), username and password before saving !"
                    .into(),
            );
        }
        // jasminApi.py `User.__init__`.
        let syntax = |k: &str, max: usize| {
            o.get(k)
                .and_then(Value::as_str)
                .is_none_or(|v| id_syntax(v, 1, max))
        };
        if !syntax("uid", 16) {
            return Err("Error: User uid syntax is invalid".into());
        }
        if !syntax("username", 15) {
            return Err("Error: User username syntax is invalid".into());
        }
        let mut u: UserConfig =
            serde_json::from_value(Value::Object(o)).map_err(|e| format!("Error: {e}"))?;
        let relative = self.relative.clone();
        // Relative quota changes apply to the configured value; balance and sms_count also
        // move the live ledger by the same amount.
        for r in &relative {
            let q = &mut u.mt_messaging_cred.quota;
            let cur: Option<f64> = match (r.cred, r.key) {
                ("smpps_cred", _) => u.smpps_cred.quota.max_bindings.map(|x| x as f64),
                (_, "balance") => q.balance,
                (_, "sms_count") => q.sms_count.map(|x| x as f64),
                (_, "early_percent") => q.early_percent,
                (_, "http_throughput") => q.http_throughput,
                _ => q.smpps_throughput,
            };
            let live = if self.updating.is_some() && matches!(r.key, "balance" | "sms_count") {
                let b = m
                    .store()
                    .balance_get(&u.username)
                    .await
                    .map_err(|e| format!("Error: {e}"))?;
                if r.key == "balance" {
                    b.balance
                } else {
                    b.sms_count.map(|x| x as f64)
                }
            } else {
                cur
            };
            let Some(base) = live else {
                return Err(format!(
                    "Error: {} quota {} is unlimited (ND): set a value before adding to it",
                    r.cred, r.key
                ));
            };
            let next = base + r.delta;
            if next < 0.0 {
                return Err(format!(
                    "Error: {} quota {} would become negative ({next})",
                    r.cred, r.key
                ));
            }
            match (r.cred, r.key) {
                ("smpps_cred", _) => u.smpps_cred.quota.max_bindings = Some(next as i64),
                (_, "balance") => q.balance = Some(next),
                (_, "sms_count") => q.sms_count = Some(next as i64),
                (_, "early_percent") => q.early_percent = Some(next),
                (_, "http_throughput") => q.http_throughput = Some(next),
                _ => q.smpps_throughput = Some(next),
            }
        }
        let updating = self.updating.clone();
        let user = u.clone();
        m.apply(move |p| {
            match &updating {
                None => {
                    if p.user(uid_of(&user)).is_some() {
                        return Err(format!("Error: User uid:{} already exists", uid_of(&user)));
                    }
                    if p.users.iter().any(|x| x.username == user.username) {
                        return Err(format!(
                            "Error: User username:{} already exists",
                            user.username
                        ));
                    }
                    p.users.push(user);
                }
                Some(uid) => {
                    let i = p
                        .users
                        .iter()
                        .position(|x| uid_of(x) == uid)
                        .ok_or_else(|| format!("Unknown User: {uid}"))?;
                    if p.users
                        .iter()
                        .enumerate()
                        .any(|(j, x)| j != i && x.username == user.username)
                    {
                        return Err(format!(
                            "Error: User username:{} already exists",
                            user.username
                        ));
                    }
                    p.users[i] = user;
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| prefixed(&e))?;
        if let Some(uid) = &self.updating {
            // Move the ledger: absolute values replace it, relative ones add to it.
            let q = &u.mt_messaging_cred.quota;
            let touched = |k: &str| {
                relative
                    .iter()
                    .any(|r| r.key == k && r.cred == "mt_messaging_cred")
            };
            let abs_set = |k: &str| {
                self.v
                    .pointer(&format!("/mt_messaging_cred/quota/{k}"))
                    .is_some()
            };
            let store = m.store();
            let (mut bal, mut sms) = (0.0, 0i64);
            for r in relative.iter().filter(|r| r.cred == "mt_messaging_cred") {
                match r.key {
                    "balance" => bal += r.delta,
                    "sms_count" => sms += r.delta as i64,
                    _ => {}
                }
            }
            if touched("balance") || touched("sms_count") {
                let r = if bal >= 0.0 && sms >= 0 {
                    store
                        .balance_credit(&u.username, bal, sms)
                        .await
                        .map(|_| ())
                } else {
                    let cur = store
                        .balance_get(&u.username)
                        .await
                        .map_err(|e| format!("Error: {e}"))?;
                    store
                        .balance_set(
                            &u.username,
                            Balance {
                                balance: cur.balance.map(|b| (b + bal).max(0.0)),
                                sms_count: cur.sms_count.map(|s| (s + sms).max(0)),
                            },
                        )
                        .await
                };
                r.map_err(|e| format!("Error: {e}"))?;
            } else if abs_set("balance") || abs_set("sms_count") {
                store
                    .balance_set(
                        &u.username,
                        Balance {
                            balance: q.balance,
                            sms_count: q.sms_count,
                        },
                    )
                    .await
                    .map_err(|e| format!("Error: {e}"))?;
            }
            return Ok(format!("Successfully updated User [{uid}]"));
        }
        Ok(format!(
            "Successfully added User [{}] to Group [{}]",
            uid_of(&u),
            u.gid
        ))
    }

    fn keys(&self) -> Vec<String> {
        let mut v: Vec<String> = ["username", "password", "uid", "gid", "callback_policy"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(
            MT_KEYS
                .iter()
                .map(|(s, k)| format!("mt_messaging_cred {s} {k}")),
        );
        v.extend(
            SMPPS_KEYS
                .iter()
                .map(|(s, k)| format!("smpps_cred {s} {k}")),
        );
        v
    }
}

// ---------------------------------------------------------------------------------------
// SMPP client connectors

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Int,
    Float,
    YesNo,
    OptInt,
    OptStr,
    Str,
    Bind,
    Alphabet,
}

/// Every connector key in the order `smppccm -s` shows them (spec table 36, then
/// smsgate's additions).
pub const SMPPCC_KEYS: &[&str] = &[
    "cid",
    "host",
    "port",
    "username",
    "logrotate",
    "password",
    "systype",
    "logfile",
    "loglevel",
    "logprivacy",
    "bind_to",
    "elink_interval",
    "res_to",
    "con_loss_retry",
    "bind_npi",
    "con_loss_delay",
    "con_fail_delay",
    "pdu_red_to",
    "bind",
    "bind_ton",
    "src_ton",
    "src_npi",
    "dst_ton",
    "addr_range",
    "src_addr",
    "proto_id",
    "priority",
    "validity",
    "ripf",
    "def_msg_id",
    "coding",
    "requeue_delay",
    "submit_throughput",
    "dlr_expiry",
    "dlr_msgid",
    "con_fail_retry",
    "dst_npi",
    "trx_to",
    "ssl",
    "tls_verify",
    "window",
    "default_alphabet",
    "dlr_group",
];

fn smppcc_kind(key: &str) -> Option<Kind> {
    Some(match key {
        "cid" | "host" | "username" | "password" | "logrotate" => Kind::Str,
        "systype" | "logfile" | "addr_range" | "src_addr" | "dlr_group" => Kind::OptStr,
        "validity" | "proto_id" => Kind::OptInt,
        "logprivacy" | "con_loss_retry" | "con_fail_retry" | "ssl" | "tls_verify" => Kind::YesNo,
        "submit_throughput" => Kind::Float,
        "bind" => Kind::Bind,
        "default_alphabet" => Kind::Alphabet,
        k if SMPPCC_KEYS.contains(&k) => Kind::Int,
        _ => return None,
    })
}

fn smppcc_value(key: &str, v: &str) -> Result<Value, String> {
    let kind = smppcc_kind(key).ok_or_else(|| format!("Unknown SMPPClientConfig key: {key}"))?;
    Ok(match kind {
        Kind::Str => {
            if v.is_empty() {
                return Err(format!("Error: {key} needs a value"));
            }
            Value::String(v.into())
        }
        Kind::OptStr => {
            if is_none(v) {
                Value::Null
            } else {
                Value::String(v.into())
            }
        }
        Kind::Int => json!(v
            .parse::<u64>()
            .map_err(|_| format!("Error: {key} must be an integer"))?),
        Kind::OptInt => {
            if is_none(v) {
                Value::Null
            } else {
                json!(v
                    .parse::<u64>()
                    .map_err(|_| format!("Error: {key} must be an integer"))?)
            }
        }
        Kind::Float => {
            let f: f64 = v
                .parse()
                .map_err(|_| format!("Error: {key} must be a number"))?;
            if !f.is_finite() || f < 0.0 {
                return Err(format!("Error: {key} must be a number >= 0"));
            }
            json!(f)
        }
        Kind::YesNo => match parse_bool(v) {
            Some(b) => json!(b),
            None => return Err(format!("Error: {key} must be yes or no")),
        },
        Kind::Bind => match v.to_ascii_lowercase().as_str() {
            b @ ("transceiver" | "transmitter" | "receiver") => json!(b),
            _ => {
                return Err(format!(
                    "Error: {key} must be transceiver, transmitter or receiver"
                ))
            }
        },
        Kind::Alphabet => match v.to_ascii_lowercase().as_str() {
            a @ ("gsm0338" | "gsm0338-packed" | "latin1" | "ascii") => json!(a),
            _ => {
                return Err(format!(
                    "Error: {key} must be gsm0338, gsm0338-packed, latin1 or ascii"
                ))
            }
        },
    })
}

/// `smppccm -a` and `smppccm -u CID`.
pub struct SmppccForm {
    updating: Option<String>,
    v: Map<String, Value>,
    bad: Vec<(String, String)>,
}

impl SmppccForm {
    pub fn add() -> Self {
        SmppccForm {
            updating: None,
            v: Map::new(),
            bad: vec![],
        }
    }
    pub fn update(c: &SmppClientConfig) -> Self {
        let v = match serde_json::to_value(c) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        SmppccForm {
            updating: Some(c.cid.clone()),
            v,
            bad: vec![],
        }
    }
}

#[async_trait]
impl Form for SmppccForm {
    async fn line(&mut self, line: &str, _: &Manager) -> String {
        let (k, v) = key_value(line);
        if k == "cid" && self.updating.is_some() {
            return "Error: cid cannot be updated".into();
        }
        match smppcc_value(k, v) {
            Ok(val) => {
                self.bad.retain(|(b, _)| b != k);
                self.v.insert(k.to_string(), val);
                String::new()
            }
            Err(e) => {
                if !e.starts_with("Unknown") {
                    self.bad.retain(|(b, _)| b != k);
                    self.bad.push((k.to_string(), e.clone()));
                }
                e
            }
        }
    }

    async fn ok(&mut self, m: &Manager) -> Result<String, String> {
        if let Some((_, e)) = self.bad.first() {
            return Err(e.clone());
        }
        if self.v.is_empty() {
            // smppccm.py `SMPPClientConfigBuild`.
            return Err("You must set at least connector id (cid) before saving !".into());
        }
        if !self.v.contains_key("cid") {
            return Err("You must set these options before saving: cid".into());
        }
        if !self
            .v
            .get("cid")
            .and_then(Value::as_str)
            .is_some_and(|c| id_syntax(c, 3, 25))
        {
            // jasmin/protocols/smpp/configs.py `SMPPClientConfig.__init__`.
            return Err("Error: SMPPConfig id syntax is invalid".into());
        }
        let c: SmppClientConfig = serde_json::from_value(Value::Object(self.v.clone()))
            .map_err(|e| format!("Error: {e}"))?;
        let cid = c.cid.clone();
        let updating = self.updating.is_some();
        m.apply(move |p| {
            match p.smppccs.iter().position(|x| x.cid == c.cid) {
                Some(i) if updating => p.smppccs[i] = c,
                Some(_) => {
                    // smppccm.py `add_session`: the reason goes to the log only.
                    tracing::warn!(cid = %c.cid, "jcli: connector cid already exists");
                    return Err("Failed adding connector, check log for details".into());
                }
                None if updating => return Err(format!("Unknown connector: {}", c.cid)),
                None => p.smppccs.push(c),
            }
            Ok(())
        })
        .await
        .map_err(|e| prefixed(&e))?;
        Ok(if updating {
            format!("Successfully updated connector [{cid}]")
        } else {
            format!("Successfully added connector [{cid}]")
        })
    }

    fn keys(&self) -> Vec<String> {
        SMPPCC_KEYS.iter().map(|s| s.to_string()).collect()
    }
}

// ---------------------------------------------------------------------------------------
// HTTP client connectors

/// `httpccm -a`.
#[derive(Default)]
pub struct HttpccForm {
    cid: Option<String>,
    url: Option<String>,
    method: Option<String>,
}

#[async_trait]
impl Form for HttpccForm {
    async fn line(&mut self, line: &str, _: &Manager) -> String {
        let (k, v) = key_value(line);
        match k {
            "cid" if !v.is_empty() => self.cid = Some(v.into()),
            "url" => match v.parse::<hyper::Uri>() {
                Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => {
                    self.url = Some(v.into())
                }
                _ => return format!("Error: url must be an http:// or https:// URL, got {v:?}"),
            },
            "method" => match v.to_ascii_uppercase().as_str() {
                m @ ("GET" | "POST") => self.method = Some(m.into()),
                _ => return "Error: method must be GET or POST".into(),
            },
            "cid" => return "Error: cid needs a value".into(),
            k => return format!("Unknown Httpcc key: {k}"),
        }
        String::new()
    }

    async fn ok(&mut self, m: &Manager) -> Result<String, String> {
        let (Some(cid), Some(url), Some(method)) =
            (self.cid.clone(), self.url.clone(), self.method.clone())
        else {
            // httpccm.py: every key is listed when any is missing.
            return Err("You must set these options before saving: cid, url, method".into());
        };
        if !id_syntax(&cid, 3, 25) {
            // jasminApi.py `HttpConnector.__init__`.
            return Err("Error: HttpConnector cid syntax is invalid".into());
        }
        let id = cid.clone();
        m.apply(move |p| {
            if p.httpccs.iter().any(|c| c.cid == cid) {
                return Err(format!("Error: Httpcc cid:{cid} already exists"));
            }
            p.httpccs.push(HttpClientConfig { cid, url, method });
            Ok(())
        })
        .await
        .map_err(|e| prefixed(&e))?;
        Ok(format!(
            "Successfully added Httpcc [HttpConnector] with cid:{id}"
        ))
    }

    fn keys(&self) -> Vec<String> {
        ["cid", "url", "method"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// Filters

/// Filter types (spec table 38) with their jCli parameter names.
pub const FILTER_TYPES: &[(&str, &[&str])] = &[
    ("TransparentFilter", &[]),
    ("UserFilter", &["uid"]),
    ("GroupFilter", &["gid"]),
    ("ConnectorFilter", &["cid"]),
    ("SourceAddrFilter", &["source_addr"]),
    ("DestinationAddrFilter", &["destination_addr"]),
    ("ShortMessageFilter", &["short_message"]),
    ("DateIntervalFilter", &["dateInterval"]),
    ("TimeIntervalFilter", &["timeInterval"]),
    ("EvalPyFilter", &["pyCode"]),
    ("TagFilter", &["tag"]),
];

/// Set parameter `key` (a jCli name) of `f`.
fn set_filter_param(f: &mut FilterConfig, key: &str, v: &str) {
    let v = Some(v.to_string());
    match key {
        "uid" => f.uid = v,
        "gid" => f.gid = v,
        "cid" => f.cid = v,
        "source_addr" => f.source_addr = v,
        "destination_addr" => f.destination_addr = v,
        "short_message" => f.short_message = v,
        "dateInterval" => f.date_interval = v,
        "timeInterval" => f.time_interval = v,
        "pyCode" => f.py_code = v,
        "tag" => f.tag = v,
        "utc_offset" => f.utc_offset = v,
        _ => {}
    }
}

/// `filter -a`.
#[derive(Default)]
pub struct FilterForm {
    f: FilterConfig,
    kind: Option<&'static str>,
    set: Vec<&'static str>,
}

#[async_trait]
impl Form for FilterForm {
    async fn line(&mut self, line: &str, m: &Manager) -> String {
        let (k, v) = key_value(line);
        match k {
            "type" => {
                let Some((t, params)) =
                    FILTER_TYPES.iter().find(|(t, _)| t.eq_ignore_ascii_case(v))
                else {
                    return format!(
                        "Unknown Filter type: \"{v}\", available types: {}",
                        FILTER_TYPES
                            .iter()
                            .map(|(t, _)| *t)
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                };
                self.kind = Some(t);
                self.f.kind = t.to_string();
                if params.is_empty() {
                    String::new()
                } else {
                    format!(
                        "<class 'jasmin.routing.Filters.{t}'> arguments:\n{}",
                        params.join(", ")
                    )
                }
            }
            "fid" if !v.is_empty() => {
                self.f.fid = v.into();
                self.set.push("fid");
                String::new()
            }
            "fid" => "Error: fid needs a value".into(),
            k => {
                let all: Vec<&'static str> = FILTER_TYPES
                    .iter()
                    .flat_map(|(_, p)| p.iter().copied())
                    .chain(["utc_offset"])
                    .collect();
                let Some(&p) = all.iter().find(|p| **p == k) else {
                    return format!("Unknown Filter key: {k}");
                };
                if let Some(t) = self.kind {
                    let allowed = FILTER_TYPES
                        .iter()
                        .find(|(n, _)| *n == t)
                        .map(|(_, ps)| {
                            ps.contains(&p) || (p == "utc_offset" && t.contains("Interval"))
                        })
                        .unwrap_or(false);
                    if !allowed {
                        return format!("Error: {t} does not take {p}");
                    }
                }
                if p == "pyCode" {
                    // Jasmin reads the file and keeps its source (compiled now).
                    return match m.load_python(v, smsgate_plugins::python::ScriptKind::Filter) {
                        Ok(source) => {
                            self.f.py_code = Some(source);
                            self.f.py_path = Some(v.to_string());
                            self.set.push(p);
                            String::new()
                        }
                        Err(e) => e.to_string(),
                    };
                }
                set_filter_param(&mut self.f, p, v);
                self.set.push(p);
                String::new()
            }
        }
    }

    async fn ok(&mut self, m: &Manager) -> Result<String, String> {
        let mut missing = vec![];
        if self.kind.is_none() {
            missing.push("type");
        }
        if !self.set.contains(&"fid") {
            missing.push("fid");
        }
        if let Some(t) = self.kind {
            if let Some((_, params)) = FILTER_TYPES.iter().find(|(n, _)| *n == t) {
                missing.extend(params.iter().filter(|p| !self.set.contains(p)));
            }
        }
        if !missing.is_empty() {
            let mut all = vec!["type", "fid"];
            if let Some((_, params)) = self
                .kind
                .and_then(|t| FILTER_TYPES.iter().find(|(n, _)| *n == t))
            {
                all.extend(params.iter());
            }
            return Err(format!(
                "You must set these options before saving: {}",
                all.join(", ")
            ));
        }
        let f = self.f.clone();
        let (fid, kind) = (f.fid.clone(), f.kind.clone());
        m.apply(move |p| {
            if p.filters.iter().any(|x| x.fid == f.fid) {
                return Err(format!("Error: Filter fid:{} already exists", f.fid));
            }
            p.filters.push(f);
            Ok(())
        })
        .await
        .map_err(|e| prefixed(&e))?;
        Ok(format!("Successfully added Filter [{kind}] with fid:{fid}"))
    }

    fn keys(&self) -> Vec<String> {
        let mut v = vec!["type".to_string(), "fid".to_string()];
        match self
            .kind
            .and_then(|t| FILTER_TYPES.iter().find(|(n, _)| *n == t))
        {
            Some((_, ps)) => v.extend(ps.iter().map(|s| s.to_string())),
            None => v.extend(
                FILTER_TYPES
                    .iter()
                    .flat_map(|(_, ps)| ps.iter().map(|s| s.to_string())),
            ),
        }
        v
    }
}

// ---------------------------------------------------------------------------------------
// Routes

/// The arguments jCli announces for a route type.
fn route_arguments(kind: TableKind, t: &str) -> &'static str {
    match (kind, t) {
        (TableKind::Mt, "DefaultRoute") => "connector, rate",
        (TableKind::Mo, "DefaultRoute") => "connector",
        (TableKind::Mt, "StaticMTRoute") => "filters, connector, rate",
        (TableKind::Mo, "StaticMORoute") => "filters, connector",
        (TableKind::Mt, "LeastCostMTRoute") => "filters, connectors, costs, rate",
        (TableKind::Mt, "PluginMTRoute") => "filters, connectors, plugin, rate",
        (TableKind::Mo, "PluginMORoute") => "filters, connectors, plugin",
        (TableKind::Mt, _) => "filters, connectors, rate",
        (TableKind::Mo, _) => "filters, connectors",
    }
}

/// `mtrouter -a` / `morouter -a`.
pub struct RouteForm {
    kind: TableKind,
    r: RouteConfig,
    rtype: Option<&'static str>,
    set: Vec<&'static str>,
    bad: Vec<(String, String)>,
}

impl RouteForm {
    pub fn new(kind: TableKind) -> Self {
        RouteForm {
            kind,
            r: RouteConfig::default(),
            rtype: None,
            set: vec![],
            bad: vec![],
        }
    }

    fn check_connector(&self, c: &str, m: &Manager) -> Result<(), String> {
        let r = smsgate_routing::ConnectorRef::parse(c).map_err(|e| format!("Error: {e}"))?;
        let p = m.profile();
        let known = match &r {
            smsgate_routing::ConnectorRef::Smppc(id) => p.smppccs.iter().any(|x| &x.cid == id),
            smsgate_routing::ConnectorRef::Http(id) => p.httpccs.iter().any(|x| &x.cid == id),
            smsgate_routing::ConnectorRef::Smpps(id) => p.users.iter().any(|x| &x.username == id),
        };
        if !known {
            // mtrouterm.py / morouterm.py: `Unknown smppc cid: X`, `Unknown http cid: X`.
            let t = match &r {
                smsgate_routing::ConnectorRef::Smppc(_) => "smppc ",
                smsgate_routing::ConnectorRef::Http(_) => "http ",
                smsgate_routing::ConnectorRef::Smpps(_) => "",
            };
            return Err(format!("Unknown {t}cid: {}", r.id()));
        }
        Ok(())
    }
}

#[async_trait]
impl Form for RouteForm {
    async fn line(&mut self, line: &str, m: &Manager) -> String {
        let (k, v) = key_value(line);
        let label = self.kind.label();
        let r: Result<Option<String>, String> = (|| match k {
            "type" => {
                let types = self.kind.route_types();
                let Some(t) = types.iter().find(|t| t.eq_ignore_ascii_case(v)) else {
                    return Err(format!(
                        "Unknown {label} Route type:{v}, available types: {}",
                        types.join(", ")
                    ));
                };
                self.rtype = Some(t);
                self.r.kind = t.to_string();
                if *t == "DefaultRoute" {
                    self.r.order = 0;
                    self.set.push("order");
                }
                Ok(Some(format!(
                    "<class 'jasmin.routing.Routes.{t}'> arguments:\n{}",
                    route_arguments(self.kind, t)
                )))
            }
            "order" => {
                self.r.order = v
                    .parse()
                    .map_err(|_| "Route order must be a positive integer".to_string())?;
                self.set.push("order");
                Ok(None)
            }
            "rate" if self.kind == TableKind::Mt => {
                let rate: f64 = v
                    .parse()
                    .map_err(|_| format!("Incorrect rate (must be float): {v}"))?;
                if !rate.is_finite() || rate < 0.0 {
                    return Err("Error: rate must be a number >= 0".into());
                }
                self.r.rate = rate;
                self.set.push("rate");
                Ok(None)
            }
            "connector" => {
                self.check_connector(v, m)?;
                self.r.connector = Some(v.to_string());
                self.set.push("connector");
                Ok(None)
            }
            "connectors" => {
                let list = split_list(v);
                for c in &list {
                    self.check_connector(c, m)?;
                }
                self.r.connectors = list;
                self.set.push("connectors");
                Ok(None)
            }
            "filters" => {
                let list = split_list(v);
                check_filters(&list, m)?;
                self.r.filters = list;
                self.set.push("filters");
                Ok(None)
            }
            "plugin" => {
                if v.is_empty() {
                    return Err("Error: plugin needs the name of a route plugin".into());
                }
                self.r.plugin = Some(v.to_string());
                self.set.push("plugin");
                Ok(None)
            }
            "costs" if self.kind == TableKind::Mt => {
                let mut costs = std::collections::BTreeMap::new();
                for item in split_list(v) {
                    let (c, x) = item.rsplit_once(':').ok_or_else(|| {
                        "Error: costs are connector:cost;connector:cost".to_string()
                    })?;
                    let x: f64 = x
                        .trim()
                        .parse()
                        .map_err(|_| format!("Error: cost of {c} must be a number"))?;
                    costs.insert(c.trim().to_string(), x);
                }
                self.r.costs = costs;
                self.set.push("costs");
                Ok(None)
            }
            k => Err(format!("Unknown {label} Route key: {k}")),
        })();
        match r {
            Ok(msg) => {
                self.bad.retain(|(b, _)| b != k);
                msg.unwrap_or_default()
            }
            Err(e) => {
                // Jasmin checks order, rate, connector(s) and filters when typed and leaves a
                // refused value unset (mtrouterm.py); only smsgate's `costs` waits for `ok`.
                if REFUSED_AT_OK.contains(&k) {
                    self.bad.retain(|(b, _)| b != k);
                    self.bad.push((k.to_string(), e.clone()));
                }
                e
            }
        }
    }

    async fn ok(&mut self, m: &Manager) -> Result<String, String> {
        if let Some((_, e)) = self.bad.first() {
            return Err(e.clone());
        }
        let Some(t) = self.rtype else {
            return Err("You must set these options before saving: type".into());
        };
        let args: Vec<&str> = route_arguments(self.kind, t).split(", ").collect();
        // mtrouterm.py: `list(MTRouteKeyMap) + RouteClassArgs`.
        let mut required = vec!["order", "type"];
        required.extend(args.iter().copied());
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|k| *k != "type" && !self.set.contains(k))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "You must set these options before saving: {}",
                required.join(", ")
            ));
        }
        let r = self.r.clone();
        let kind = self.kind;
        let order = r.order;
        m.apply(move |p| {
            let table = match kind {
                TableKind::Mt => &mut p.mtroutes,
                TableKind::Mo => &mut p.moroutes,
            };
            table.retain(|x| x.order != r.order);
            table.push(r);
            Ok(())
        })
        .await
        .map_err(|e| prefixed(&e))?;
        Ok(format!(
            "Successfully added {}Route [{t}] with order:{order}",
            self.kind.label()
        ))
    }

    fn keys(&self) -> Vec<String> {
        let mut v = vec!["type".to_string(), "order".to_string()];
        if let Some(t) = self.rtype {
            v.extend(route_arguments(self.kind, t).split(", ").map(String::from));
        }
        v
    }
}

const REFUSED_AT_OK: &[&str] = &["costs"];

// ---------------------------------------------------------------------------------------
// Interceptors

/// `mtinterceptor -a` / `mointerceptor -a`.
pub struct InterceptorForm {
    kind: TableKind,
    ic: InterceptorConfig,
    itype: Option<&'static str>,
    set: Vec<&'static str>,
}

impl InterceptorForm {
    pub fn new(kind: TableKind) -> Self {
        InterceptorForm {
            kind,
            ic: InterceptorConfig::default(),
            itype: None,
            set: vec![],
        }
    }
    fn types(&self) -> &'static [&'static str] {
        match self.kind {
            TableKind::Mt => MT_INTERCEPTOR_TYPES,
            TableKind::Mo => MO_INTERCEPTOR_TYPES,
        }
    }
}

#[async_trait]
impl Form for InterceptorForm {
    async fn line(&mut self, line: &str, m: &Manager) -> String {
        let (k, v) = key_value(line);
        let label = self.kind.label();
        match k {
            "type" => {
                let Some(t) = self.types().iter().find(|t| t.eq_ignore_ascii_case(v)) else {
                    return format!(
                        "Unknown {label} Interceptor type:{v}, available types: {}",
                        self.types().join(", ")
                    );
                };
                self.itype = Some(t);
                self.ic.kind = t.to_string();
                if *t == "DefaultInterceptor" {
                    self.ic.order = 0;
                    self.set.push("order");
                }
                format!(
                    "<class 'jasmin.routing.Interceptors.{t}'> arguments:\n{}",
                    if *t == "DefaultInterceptor" {
                        "script"
                    } else {
                        "filters, script"
                    }
                )
            }
            "order" => match v.parse() {
                Ok(o) => {
                    self.ic.order = o;
                    self.set.push("order");
                    String::new()
                }
                Err(_) => "Error: order must be an integer".into(),
            },
            "filters" => {
                let list = split_list(v);
                if let Err(e) = check_filters(&list, m) {
                    return e;
                }
                self.ic.filters = list;
                self.set.push("filters");
                String::new()
            }
            "script" => {
                use smsgate_policy::interception::table::{parse_script, ScriptRef};
                if let Ok(ScriptRef::Python(path)) = parse_script(v) {
                    // Read and compiled now, as Jasmin does; the source is persisted with
                    // the rule (re-adding the rule reloads the file).
                    return match m
                        .load_python(path, smsgate_plugins::python::ScriptKind::Interceptor)
                    {
                        Ok(source) => {
                            self.ic.script = v.trim().to_string();
                            self.ic.source = Some(source);
                            self.set.push("script");
                            String::new()
                        }
                        Err(e) => e.to_string(),
                    };
                }
                match smsgate_gateway::manage::check_script(v, &m.config()) {
                    Ok(()) => {
                        self.ic.script = v.to_string();
                        self.ic.source = None;
                        self.set.push("script");
                        String::new()
                    }
                    Err(e) => format!("Error: {e}"),
                }
            }
            k => format!("Unknown {label} Interceptor key: {k}"),
        }
    }

    async fn ok(&mut self, m: &Manager) -> Result<String, String> {
        let Some(t) = self.itype else {
            return Err("You must set these options before saving: type".into());
        };
        let required: &[&str] = if t == "DefaultInterceptor" {
            &["type", "order", "script"]
        } else {
            &["type", "order", "filters", "script"]
        };
        if required
            .iter()
            .any(|k| *k != "type" && !self.set.contains(k))
        {
            return Err(format!(
                "You must set these options before saving: {}",
                required.join(", ")
            ));
        }
        let ic = self.ic.clone();
        let kind = self.kind;
        let order = ic.order;
        m.apply(move |p| {
            let table = match kind {
                TableKind::Mt => &mut p.mtinterceptors,
                TableKind::Mo => &mut p.mointerceptors,
            };
            table.retain(|x| x.order != ic.order);
            table.push(ic);
            Ok(())
        })
        .await
        .map_err(|e| prefixed(&e))?;
        Ok(format!(
            "Successfully added {}Interceptor [{t}] with order:{order}",
            self.kind.label()
        ))
    }

    fn keys(&self) -> Vec<String> {
        ["type", "order", "filters", "script"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
}
