//! Route filters (spec table 38), one `impl Filter` per type, with their MO/MT compatibility
//! (table 38, Jasmin's `usedFor`):
//!
//! | filter | MO | MT | parameter (table 39) |
//! | --- | --- | --- | --- |
//! | TransparentFilter | x | x | |
//! | ConnectorFilter | x | | `cid` (origin connector of the MO) |
//! | UserFilter | | x | `uid` |
//! | GroupFilter | | x | `gid` |
//! | SourceAddrFilter | x | x | `source_addr` regex |
//! | DestinationAddrFilter | x | x | `destination_addr` regex |
//! | ShortMessageFilter | x | x | `short_message` regex |
//! | DateIntervalFilter | x | x | `date_interval` = `YYYY-MM-DD;YYYY-MM-DD` |
//! | TimeIntervalFilter | x | x | `time_interval` = `HH:MM:SS;HH:MM:SS` |
//! | TagFilter | x | x | `tag` |
//! | EvalPyFilter | x | x | `py_code` (handed to the plugin host) |
//! | PluginFilter | x | x | `plugin` (a Wasm plugin of the `filter` world; an addition) |
//!
//! Regular expressions match from the start of the field, like Jasmin's Python `re.match`
//! (`^` is implied, `$` is not). Dates and times are those of the message's reception
//! (`created_at`), in UTC unless the filter sets `utc_offset` (`+02:00`). A time interval whose
//! left border is after its right border spans midnight (`22:00:00;06:00:00`).

use std::sync::Arc;

use smsgate_core::anchored::Anchored;

use super::index::{literal_prefix, DestPrefix};
use super::Routable;
use smsgate_core::config::FilterConfig;

/// A predicate on a routable.
pub trait Filter: Send + Sync + std::fmt::Debug {
    /// Jasmin's type name, e.g. `UserFilter`.
    fn kind(&self) -> &'static str;
    /// Does the routable match?
    fn matches(&self, r: &Routable<'_>) -> bool;
    /// Usable in MT routes.
    fn for_mt(&self) -> bool {
        true
    }
    /// Usable in MO routes.
    fn for_mo(&self) -> bool {
        true
    }
    /// Jasmin's description, e.g. `<U (uid=foo)>`.
    fn describe(&self) -> String;
    /// A necessary condition on the destination address that the routing index can look up
    /// (only destination filters whose regex starts with a literal digit prefix have one).
    fn destination_prefix(&self) -> Option<&DestPrefix> {
        None
    }
}

/// The user-defined logic behind an `EvalPyFilter`, provided by a plugin host.
pub trait ScriptFilter: Send + Sync + std::fmt::Debug {
    /// Does the routable match? (A script that fails must answer `false`.)
    fn matches(&self, r: &Routable<'_>) -> bool;
}

/// What loads `EvalPyFilter` scripts (the plugin host). Without one, `EvalPyFilter` is refused.
pub trait ScriptHost: Send + Sync + std::fmt::Debug {
    /// Load the filter script `code` (a path or inline code, as configured; `path`: where
    /// inline code was read from); errors are reported at configuration time.
    fn load_filter(&self, code: &str, path: Option<&str>) -> Result<Arc<dyn ScriptFilter>, String>;
    /// The `filter` plugin `name` (`PluginFilter`); it may be loaded later (hot reload).
    fn plugin_filter(&self, name: &str) -> Result<Arc<dyn ScriptFilter>, String> {
        Err(format!("PluginFilter {name:?}: no plugin host"))
    }
    /// The `route` plugin `name` (`PluginMTRoute`, `PluginMORoute`).
    fn plugin_route(&self, name: &str) -> Result<Arc<dyn super::ScriptRoute>, String> {
        Err(format!("plugin route {name:?}: no plugin host"))
    }
}

/// Stands in for the plugin host when only checking a configuration: accepts any Python
/// script whose file is readable, and Wasm plugins when `[plugins]` is enabled (`plugins`);
/// never matches. The gateway loads the real scripts when it starts.
#[derive(Debug)]
pub(crate) struct DeferredScripts {
    pub plugins: bool,
}

/// The error of a Wasm plugin reference when `[plugins]` is disabled.
pub fn plugins_disabled(what: &str) -> String {
    format!("{what} needs the plugin host, and none is configured (enable [plugins])")
}

#[derive(Debug)]
struct NeverMatches;
impl ScriptFilter for NeverMatches {
    fn matches(&self, _: &Routable<'_>) -> bool {
        false
    }
}
impl super::ScriptRoute for NeverMatches {
    fn pick(&self, _: &Routable<'_>, _: &[(String, bool)]) -> Option<usize> {
        None
    }
}
impl ScriptHost for DeferredScripts {
    fn load_filter(&self, code: &str, _: Option<&str>) -> Result<Arc<dyn ScriptFilter>, String> {
        let t = code.trim();
        if !t.contains('\n') && t.starts_with('/') && t.ends_with(".py") {
            std::fs::metadata(t).map_err(|e| format!("cannot read {t}: {e}"))?;
        }
        Ok(Arc::new(NeverMatches))
    }
    fn plugin_filter(&self, _: &str) -> Result<Arc<dyn ScriptFilter>, String> {
        if !self.plugins {
            return Err(plugins_disabled("PluginFilter"));
        }
        Ok(Arc::new(NeverMatches))
    }
    fn plugin_route(&self, _: &str) -> Result<Arc<dyn super::ScriptRoute>, String> {
        if !self.plugins {
            return Err(plugins_disabled("a plugin route"));
        }
        Ok(Arc::new(NeverMatches))
    }
}

/// Always matches.
#[derive(Debug)]
pub struct TransparentFilter;
impl Filter for TransparentFilter {
    fn kind(&self) -> &'static str {
        "TransparentFilter"
    }
    fn matches(&self, _: &Routable<'_>) -> bool {
        true
    }
    fn describe(&self) -> String {
        "<T>".into()
    }
}

/// Matches the origin connector of an MO message (MO only).
#[derive(Debug)]
pub struct ConnectorFilter(pub String);
impl Filter for ConnectorFilter {
    fn kind(&self) -> &'static str {
        "ConnectorFilter"
    }
    fn matches(&self, r: &Routable<'_>) -> bool {
        r.message.connector == self.0
    }
    fn for_mt(&self) -> bool {
        false
    }
    fn describe(&self) -> String {
        format!("<C (cid={})>", self.0)
    }
}

/// Matches the sending user (MT only).
#[derive(Debug)]
pub struct UserFilter(pub String);
impl Filter for UserFilter {
    fn kind(&self) -> &'static str {
        "UserFilter"
    }
    fn matches(&self, r: &Routable<'_>) -> bool {
        r.uid == self.0
    }
    fn for_mo(&self) -> bool {
        false
    }
    fn describe(&self) -> String {
        format!("<U (uid={})>", self.0)
    }
}

/// Matches the sending user's group (MT only).
#[derive(Debug)]
pub struct GroupFilter(pub String);
impl Filter for GroupFilter {
    fn kind(&self) -> &'static str {
        "GroupFilter"
    }
    fn matches(&self, r: &Routable<'_>) -> bool {
        r.gid == self.0
    }
    fn for_mo(&self) -> bool {
        false
    }
    fn describe(&self) -> String {
        format!("<G (gid={})>", self.0)
    }
}

/// A regex anchored at the start of the field (Python's `re.match`, look-around included).
#[derive(Debug, Clone)]
pub struct Pattern {
    /// As configured.
    pub source: String,
    re: Anchored,
}

impl Pattern {
    /// Compile `source`, anchored at the start.
    pub fn new(source: &str) -> Result<Pattern, String> {
        let re = Anchored::new(source).map_err(|e| format!("invalid regex {source:?}: {e}"))?;
        Ok(Pattern {
            source: source.to_string(),
            re,
        })
    }
    /// Does the field match from its start?
    pub fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }
}

/// Matches the source address.
#[derive(Debug)]
pub struct SourceAddrFilter(pub Pattern);
impl Filter for SourceAddrFilter {
    fn kind(&self) -> &'static str {
        "SourceAddrFilter"
    }
    fn matches(&self, r: &Routable<'_>) -> bool {
        self.0.is_match(&r.message.source.addr)
    }
    fn describe(&self) -> String {
        format!("<SA (src_addr={})>", self.0.source)
    }
}

/// Matches the destination address; indexable when its regex starts with a literal prefix.
#[derive(Debug)]
pub struct DestinationAddrFilter {
    pub pattern: Pattern,
    prefix: Option<DestPrefix>,
}
impl DestinationAddrFilter {
    pub fn new(source: &str) -> Result<Self, String> {
        Ok(DestinationAddrFilter {
            pattern: Pattern::new(source)?,
            prefix: literal_prefix(source),
        })
    }
}
impl Filter for DestinationAddrFilter {
    fn kind(&self) -> &'static str {
        "DestinationAddrFilter"
    }
    fn matches(&self, r: &Routable<'_>) -> bool {
        self.pattern.is_match(&r.message.destination.addr)
    }
    fn describe(&self) -> String {
        format!("<DA (dst_addr={})>", self.pattern.source)
    }
    fn destination_prefix(&self) -> Option<&DestPrefix> {
        self.prefix.as_ref()
    }
}

/// Matches the message text.
#[derive(Debug)]
pub struct ShortMessageFilter(pub Pattern);
impl Filter for ShortMessageFilter {
    fn kind(&self) -> &'static str {
        "ShortMessageFilter"
    }
    fn matches(&self, r: &Routable<'_>) -> bool {
        self.0.is_match(r.text)
    }
    fn describe(&self) -> String {
        format!("<SM (msg={})>", self.0.source)
    }
}

const MS_PER_DAY: i64 = 86_400_000;

/// Milliseconds since the epoch shifted to local time by `offset_s`.
fn local_ms(created_at: i64, offset_s: i32) -> i64 {
    created_at + offset_s as i64 * 1000
}

/// Matches messages received between two dates, both included.
#[derive(Debug)]
pub struct DateIntervalFilter {
    pub from: String,
    pub to: String,
    /// Days since the epoch.
    from_day: i64,
    to_day: i64,
    offset_s: i32,
}
impl DateIntervalFilter {
    /// `from` and `to` as `YYYY-MM-DD`; `from` must not be after `to`.
    pub fn new(from: &str, to: &str, offset_s: i32) -> Result<Self, String> {
        let (from_day, to_day) = (parse_date(from)?, parse_date(to)?);
        if from_day > to_day {
            return Err(format!("dates out of order: {from} is after {to}"));
        }
        Ok(DateIntervalFilter {
            from: from.into(),
            to: to.into(),
            from_day,
            to_day,
            offset_s,
        })
    }
}
impl Filter for DateIntervalFilter {
    fn kind(&self) -> &'static str {
        "DateIntervalFilter"
    }
    fn matches(&self, r: &Routable<'_>) -> bool {
        let day = local_ms(r.message.created_at, self.offset_s).div_euclid(MS_PER_DAY);
        self.from_day <= day && day <= self.to_day
    }
    fn describe(&self) -> String {
        format!("<DI ({},{})>", self.from, self.to)
    }
}

/// Matches messages received between two times of day, both included; spans midnight when
/// the left border is after the right one.
#[derive(Debug)]
pub struct TimeIntervalFilter {
    pub from: String,
    pub to: String,
    /// Milliseconds into the day.
    from_ms: i64,
    to_ms: i64,
    offset_s: i32,
}
impl TimeIntervalFilter {
    /// `from` and `to` as `HH:MM:SS` (or `HH:MM`).
    pub fn new(from: &str, to: &str, offset_s: i32) -> Result<Self, String> {
        Ok(TimeIntervalFilter {
            from: from.into(),
            to: to.into(),
            from_ms: parse_time(from)? * 1000,
            to_ms: parse_time(to)? * 1000,
            offset_s,
        })
    }
}
impl Filter for TimeIntervalFilter {
    fn kind(&self) -> &'static str {
        "TimeIntervalFilter"
    }
    fn matches(&self, r: &Routable<'_>) -> bool {
        let t = local_ms(r.message.created_at, self.offset_s).rem_euclid(MS_PER_DAY);
        if self.from_ms <= self.to_ms {
            self.from_ms <= t && t <= self.to_ms
        } else {
            t >= self.from_ms || t <= self.to_ms
        }
    }
    fn describe(&self) -> String {
        format!("<TI ({},{})>", self.from, self.to)
    }
}

/// Matches messages carrying a tag (set by an interceptor or the `tags` API parameter).
#[derive(Debug)]
pub struct TagFilter(pub String);
impl Filter for TagFilter {
    fn kind(&self) -> &'static str {
        "TagFilter"
    }
    fn matches(&self, r: &Routable<'_>) -> bool {
        r.message.tags.contains(&self.0)
    }
    fn describe(&self) -> String {
        format!("<TG (tag={})>", self.0)
    }
}

/// User-defined filtering by a plugin script.
#[derive(Debug)]
pub struct EvalPyFilter {
    pub code: String,
    pub script: Arc<dyn ScriptFilter>,
}
impl Filter for EvalPyFilter {
    fn kind(&self) -> &'static str {
        "EvalPyFilter"
    }
    fn matches(&self, r: &Routable<'_>) -> bool {
        self.script.matches(r)
    }
    fn describe(&self) -> String {
        let head: String = self.code.chars().take(10).filter(|c| *c != '\n').collect();
        format!("<Ev (pyCode={head} ..)>")
    }
}

/// A Wasm plugin of the `filter` world (`plugin = "name"`); a plugin that fails, times out or
/// is not loaded does not match.
#[derive(Debug)]
pub struct PluginFilter {
    pub plugin: String,
    pub script: Arc<dyn ScriptFilter>,
}
impl Filter for PluginFilter {
    fn kind(&self) -> &'static str {
        "PluginFilter"
    }
    fn matches(&self, r: &Routable<'_>) -> bool {
        self.script.matches(r)
    }
    fn describe(&self) -> String {
        format!("<Pl (plugin={})>", self.plugin)
    }
}

/// Every filter type, as spelled in the configuration (matched case-insensitively, as jCli).
pub const FILTER_TYPES: [&str; 12] = [
    "TransparentFilter",
    "ConnectorFilter",
    "UserFilter",
    "GroupFilter",
    "SourceAddrFilter",
    "DestinationAddrFilter",
    "ShortMessageFilter",
    "DateIntervalFilter",
    "TimeIntervalFilter",
    "TagFilter",
    "EvalPyFilter",
    "PluginFilter",
];

/// `YYYY-MM-DD` to days since the epoch.
fn parse_date(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid date {s:?} (expected YYYY-MM-DD)");
    let p: Vec<&str> = s.trim().split('-').collect();
    if p.len() != 3 || p[0].len() != 4 || p[1].len() != 2 || p[2].len() != 2 {
        return Err(bad());
    }
    let num = |x: &str| -> Result<i64, String> {
        if x.bytes().all(|b| b.is_ascii_digit()) {
            x.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let (y, m, d) = (num(p[0])?, num(p[1])?, num(p[2])?);
    let month = time::Month::try_from(m as u8).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(y as i32, month, d as u8).map_err(|_| bad())?;
    Ok(date.to_julian_day() as i64 - 2_440_588)
}

/// `HH:MM:SS` or `HH:MM` to seconds into the day.
fn parse_time(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid time {s:?} (expected HH:MM:SS)");
    let p: Vec<&str> = s.trim().split(':').collect();
    if !(p.len() == 2 || p.len() == 3) || p.iter().any(|x| x.len() != 2) {
        return Err(bad());
    }
    let mut v = [0i64; 3];
    for (i, x) in p.iter().enumerate() {
        if !x.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        v[i] = x.parse().map_err(|_| bad())?;
    }
    if v[0] > 23 || v[1] > 59 || v[2] > 59 {
        return Err(bad());
    }
    Ok(v[0] * 3600 + v[1] * 60 + v[2])
}

/// `+HH:MM`, `-HH:MM`, `+HH` or `Z` to seconds east of UTC.
pub fn parse_utc_offset(s: &str) -> Result<i32, String> {
    let bad = || format!("invalid utc_offset {s:?} (expected +HH:MM or -HH:MM)");
    let s = s.trim();
    if s == "Z" || s == "UTC" {
        return Ok(0);
    }
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "00"));
    if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 14 || m > 59 {
        return Err(bad());
    }
    Ok(sign * (h * 3600 + m * 60))
}

/// Two values separated by `;` (jCli) or `,` (Jasmin's display).
fn interval<'a>(field: &str, s: &'a str) -> Result<(&'a str, &'a str), String> {
    let (a, b) = s
        .split_once(';')
        .or_else(|| s.split_once(','))
        .ok_or_else(|| format!("{field}: expected two values separated by ';', got {s:?}"))?;
    Ok((a.trim(), b.trim()))
}

/// The canonical spelling of a filter type, matched case-insensitively.
pub fn canonical_type(kind: &str) -> Option<&'static str> {
    FILTER_TYPES
        .iter()
        .copied()
        .find(|t| t.eq_ignore_ascii_case(kind.trim()))
}

/// Build a filter from its configuration (no plugin host: `EvalPyFilter` is refused).
pub fn build(c: &FilterConfig) -> Result<Arc<dyn Filter>, String> {
    build_with(c, None)
}

/// Build a filter from its configuration. Errors name the offending parameter; the caller
/// adds which filter it is.
pub fn build_with(
    c: &FilterConfig,
    scripts: Option<&dyn ScriptHost>,
) -> Result<Arc<dyn Filter>, String> {
    let kind = canonical_type(&c.kind).ok_or_else(|| {
        format!(
            "unknown filter type {:?} (expected one of {})",
            c.kind,
            FILTER_TYPES.join(", ")
        )
    })?;
    // Parameters each type takes; any other parameter set is a mistake worth refusing.
    let takes: &[&str] = match kind {
        "TransparentFilter" => &[],
        "ConnectorFilter" => &["cid"],
        "UserFilter" => &["uid"],
        "GroupFilter" => &["gid"],
        "SourceAddrFilter" => &["source_addr"],
        "DestinationAddrFilter" => &["destination_addr"],
        "ShortMessageFilter" => &["short_message"],
        "DateIntervalFilter" => &["date_interval", "utc_offset"],
        "TimeIntervalFilter" => &["time_interval", "utc_offset"],
        "TagFilter" => &["tag"],
        "PluginFilter" => &["plugin"],
        _ => &["py_code"],
    };
    for (name, set) in c.set_parameters() {
        if set && !takes.contains(&name) {
            return Err(format!("{kind} does not take parameter {name}"));
        }
    }
    let need = |field: &str, v: &Option<String>| -> Result<String, String> {
        match v.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => Ok(s.to_string()),
            _ => Err(format!("{kind} needs parameter {field}")),
        }
    };
    let offset = match &c.utc_offset {
        Some(o) => parse_utc_offset(o)?,
        None => 0,
    };
    Ok(match kind {
        "TransparentFilter" => Arc::new(TransparentFilter),
        "ConnectorFilter" => {
            let cid = need("cid", &c.cid)?;
            match super::ConnectorRef::parse(&cid) {
                Ok(super::ConnectorRef::Smppc(id)) => Arc::new(ConnectorFilter(id)),
                _ => {
                    return Err(format!(
                        "cid: {cid:?} is not an SMPP client connector id (MO arrives through smppc connectors)"
                    ))
                }
            }
        }
        "UserFilter" => Arc::new(UserFilter(need("uid", &c.uid)?)),
        "GroupFilter" => Arc::new(GroupFilter(need("gid", &c.gid)?)),
        "SourceAddrFilter" => Arc::new(SourceAddrFilter(
            Pattern::new(&need("source_addr", &c.source_addr)?)
                .map_err(|e| format!("source_addr: {e}"))?,
        )),
        "DestinationAddrFilter" => Arc::new(
            DestinationAddrFilter::new(&need("destination_addr", &c.destination_addr)?)
                .map_err(|e| format!("destination_addr: {e}"))?,
        ),
        "ShortMessageFilter" => Arc::new(ShortMessageFilter(
            Pattern::new(&need("short_message", &c.short_message)?)
                .map_err(|e| format!("short_message: {e}"))?,
        )),
        "DateIntervalFilter" => {
            let v = need("date_interval", &c.date_interval)?;
            let (a, b) = interval("date_interval", &v)?;
            Arc::new(
                DateIntervalFilter::new(a, b, offset).map_err(|e| format!("date_interval: {e}"))?,
            )
        }
        "TimeIntervalFilter" => {
            let v = need("time_interval", &c.time_interval)?;
            let (a, b) = interval("time_interval", &v)?;
            Arc::new(
                TimeIntervalFilter::new(a, b, offset).map_err(|e| format!("time_interval: {e}"))?,
            )
        }
        "TagFilter" => Arc::new(TagFilter(need("tag", &c.tag)?)),
        "PluginFilter" => {
            let plugin = need("plugin", &c.plugin)?;
            let host = scripts.ok_or_else(|| {
                "PluginFilter needs the plugin host, and none is configured (enable [plugins])"
                    .to_string()
            })?;
            let script = host
                .plugin_filter(&plugin)
                .map_err(|e| format!("plugin {plugin:?}: {e}"))?;
            Arc::new(PluginFilter { plugin, script })
        }
        _ => {
            let code = need("py_code", &c.py_code)?;
            let host = scripts.ok_or_else(|| {
                "EvalPyFilter needs a plugin host to run its script, and none is configured (enable [plugins])"
                    .to_string()
            })?;
            let script = host
                .load_filter(&code, c.py_path.as_deref())
                .map_err(|e| format!("py_code {code:?}: {e}"))?;
            Arc::new(EvalPyFilter { code, script })
        }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use smsgate_core::model::{Address, Channel, Direction, Message};

    pub fn message(dst: &str) -> Message {
        Message {
            v: 1,
            id: uuid::Uuid::nil(),
            direction: Direction::Mt,
            channel: Channel::Http,
            user: None,
            group: None,
            connector: String::new(),
            source: Address::default(),
            destination: Address {
                addr: dst.into(),
                ton: 1,
                npi: 1,
            },
            data_coding: 0,
            protocol_id: 0,
            priority: 0,
            registered_delivery: 0,
            replace_if_present: 0,
            sm_default_msg_id: 0,
            service_type: String::new(),
            validity_period: String::new(),
            schedule_delivery_time: String::new(),
            parts: vec![],
            tlvs: vec![],
            tags: vec![],
            locked_params: vec![],
            dlr: None,
            rate: 0.0,
            created_at: 0,
            expires_at: 0,
            not_before: None,
            batch_id: None,
            tries: 0,
            sent_parts: vec![],
            bill_rest: 0.0,
            callback: None,
            republished: false,
        }
    }

    fn routable<'a>(m: &'a Message, text: &'a str, uid: &'a str, gid: &'a str) -> Routable<'a> {
        Routable {
            message: m,
            text,
            uid,
            gid,
        }
    }

    fn cfg(kind: &str) -> FilterConfig {
        FilterConfig::new("f", kind)
    }

    fn ms(date: &str, time: &str) -> i64 {
        (parse_date(date).unwrap() * 86400 + parse_time(time).unwrap()) * 1000
    }

    #[test]
    fn transparent_matches_everything_both_ways() {
        let f = build(&cfg("transparentfilter")).unwrap();
        let m = message("1");
        assert!(f.matches(&routable(&m, "", "", "")));
        assert!(f.for_mo() && f.for_mt());
        assert_eq!(f.describe(), "<T>");
    }

    #[test]
    fn connector_filter_is_mo_only() {
        let mut c = cfg("ConnectorFilter");
        c.cid = Some("smsc_1".into());
        let f = build(&c).unwrap();
        let mut m = message("1");
        m.connector = "smsc_1".into();
        assert!(f.matches(&routable(&m, "", "", "")));
        m.connector = "smsc_2".into();
        assert!(!f.matches(&routable(&m, "", "", "")));
        assert!(f.for_mo() && !f.for_mt());
        assert_eq!(f.describe(), "<C (cid=smsc_1)>");
        c.cid = Some("http(x)".into());
        assert!(build(&c)
            .unwrap_err()
            .contains("not an SMPP client connector"));
    }

    #[test]
    fn user_and_group_filters_are_mt_only() {
        let mut c = cfg("UserFilter");
        c.uid = Some("bob".into());
        let u = build(&c).unwrap();
        let mut c = cfg("GroupFilter");
        c.gid = Some("G2".into());
        let g = build(&c).unwrap();
        let m = message("1");
        assert!(u.matches(&routable(&m, "", "bob", "G1")));
        assert!(!u.matches(&routable(&m, "", "eve", "G1")));
        assert!(g.matches(&routable(&m, "", "eve", "G2")));
        assert!(!g.matches(&routable(&m, "", "eve", "G1")));
        assert!(!u.for_mo() && u.for_mt() && !g.for_mo() && g.for_mt());
        assert_eq!(u.describe(), "<U (uid=bob)>");
        assert_eq!(g.describe(), "<G (gid=G2)>");
    }

    #[test]
    fn address_filters_match_from_the_start() {
        let mut c = cfg("DestinationAddrFilter");
        c.destination_addr = Some(r"\+33\d+".into());
        let d = build(&c).unwrap();
        let mut c = cfg("SourceAddrFilter");
        c.source_addr = Some(r"^20\d+".into());
        let s = build(&c).unwrap();
        let mut m = message("+33600000001");
        m.source.addr = "2012".into();
        assert!(d.matches(&routable(&m, "", "", "")));
        assert!(s.matches(&routable(&m, "", "", "")));
        // Anchored like Python's re.match: a match later in the field does not count.
        m.destination.addr = "00+336".into();
        m.source.addr = "120".into();
        assert!(!d.matches(&routable(&m, "", "", "")));
        assert!(!s.matches(&routable(&m, "", "", "")));
        assert!(d.for_mo() && d.for_mt() && s.for_mo() && s.for_mt());
        assert_eq!(d.describe(), r"<DA (dst_addr=\+33\d+)>");
        assert_eq!(s.describe(), r"<SA (src_addr=^20\d+)>");
        assert!(d.destination_prefix().is_some());
        assert!(s.destination_prefix().is_none());
    }

    #[test]
    fn short_message_filter() {
        let mut c = cfg("ShortMessageFilter");
        c.short_message = Some("^hello.*$".into());
        let f = build(&c).unwrap();
        let m = message("1");
        assert!(f.matches(&routable(&m, "hello world", "", "")));
        assert!(!f.matches(&routable(&m, "say hello", "", "")));
        assert_eq!(f.describe(), "<SM (msg=^hello.*$)>");
    }

    #[test]
    fn bad_regexes_are_refused_naming_the_parameter() {
        for (kind, set) in [
            ("SourceAddrFilter", 0),
            ("DestinationAddrFilter", 1),
            ("ShortMessageFilter", 2),
        ] {
            let mut c = cfg(kind);
            let v = Some("^(33".to_string());
            match set {
                0 => c.source_addr = v,
                1 => c.destination_addr = v,
                _ => c.short_message = v,
            }
            let e = build(&c).unwrap_err();
            assert!(e.contains("invalid regex") && e.contains("\"^(33\""), "{e}");
        }
    }

    #[test]
    fn date_interval_filter() {
        let mut c = cfg("DateIntervalFilter");
        c.date_interval = Some("2015-06-01;2015-08-31".into());
        let f = build(&c).unwrap();
        let mut m = message("1");
        for (d, t, want) in [
            ("2015-06-01", "00:00:00", true),
            ("2015-08-31", "23:59:59", true),
            ("2015-07-14", "12:00:00", true),
            ("2015-05-31", "23:59:59", false),
            ("2015-09-01", "00:00:00", false),
            ("2016-07-01", "00:00:00", false),
        ] {
            m.created_at = ms(d, t);
            assert_eq!(f.matches(&routable(&m, "", "", "")), want, "{d} {t}");
        }
        assert_eq!(f.describe(), "<DI (2015-06-01,2015-08-31)>");
        // With an offset: 2015-05-31 23:00 UTC is already June 1st at +02:00.
        c.utc_offset = Some("+02:00".into());
        let f = build(&c).unwrap();
        m.created_at = ms("2015-05-31", "23:00:00");
        assert!(f.matches(&routable(&m, "", "", "")));

        for bad in [
            "2015-08-31;2015-06-01",
            "2015-02-30;2015-03-01",
            "2015-6-1;2015-08-31",
            "2015-06-01",
            "2015-06-01;x",
        ] {
            c.date_interval = Some(bad.into());
            let e = build(&c).unwrap_err();
            assert!(e.starts_with("date_interval"), "{bad}: {e}");
        }
        c.date_interval = Some("2015-08-31;2015-06-01".into());
        assert!(build(&c).unwrap_err().contains("out of order"));
    }

    #[test]
    fn time_interval_filter() {
        let mut c = cfg("TimeIntervalFilter");
        c.time_interval = Some("08:00:00;18:00:00".into());
        let f = build(&c).unwrap();
        let mut m = message("1");
        for (t, want) in [
            ("08:00:00", true),
            ("12:30:00", true),
            ("18:00:00", true),
            ("07:59:59", false),
            ("18:00:01", false),
            ("23:00:00", false),
        ] {
            m.created_at = ms("2020-01-01", t);
            assert_eq!(f.matches(&routable(&m, "", "", "")), want, "{t}");
        }
        // Just past the right border, within the second: not matched (as Jasmin's time()).
        m.created_at = ms("2020-01-01", "18:00:00") + 1;
        assert!(!f.matches(&routable(&m, "", "", "")));
        assert_eq!(f.describe(), "<TI (08:00:00,18:00:00)>");

        c.time_interval = Some("22:00;06:00".into());
        let night = build(&c).unwrap();
        for (t, want) in [("23:00:00", true), ("03:00:00", true), ("12:00:00", false)] {
            m.created_at = ms("2020-01-01", t);
            assert_eq!(night.matches(&routable(&m, "", "", "")), want, "{t}");
        }
        c.utc_offset = Some("-05:00".into());
        let ny = build(&c).unwrap();
        m.created_at = ms("2020-01-01", "04:00:00"); // 23:00 the day before in New York
        assert!(ny.matches(&routable(&m, "", "", "")));
        m.created_at = ms("2020-01-01", "12:00:00"); // 07:00
        assert!(!ny.matches(&routable(&m, "", "", "")));

        for bad in [
            "25:00:00;26:00:00",
            "08:00:00",
            "8:00;9:00",
            "08:60:00;09:00:00",
        ] {
            c.time_interval = Some(bad.into());
            assert!(build(&c).unwrap_err().starts_with("time_interval"), "{bad}");
        }
        c.time_interval = Some("08:00:00;18:00:00".into());
        c.utc_offset = Some("2".into());
        assert!(build(&c).unwrap_err().contains("utc_offset"));
    }

    #[test]
    fn tag_filter() {
        let mut c = cfg("TagFilter");
        c.tag = Some("21401".into());
        let f = build(&c).unwrap();
        let mut m = message("1");
        assert!(!f.matches(&routable(&m, "", "", "")));
        m.tags = vec!["1".into(), "21401".into()];
        assert!(f.matches(&routable(&m, "", "", "")));
        assert_eq!(f.describe(), "<TG (tag=21401)>");
    }

    #[derive(Debug)]
    struct ToConnector(String);
    impl ScriptFilter for ToConnector {
        fn matches(&self, r: &Routable<'_>) -> bool {
            r.message.connector == self.0
        }
    }
    #[derive(Debug)]
    struct Host;
    impl ScriptHost for Host {
        fn load_filter(
            &self,
            code: &str,
            _: Option<&str>,
        ) -> Result<Arc<dyn ScriptFilter>, String> {
            match code.strip_prefix("cid=") {
                Some(c) => Ok(Arc::new(ToConnector(c.into()))),
                None => Err("cannot load".into()),
            }
        }
    }

    #[test]
    fn eval_py_filter_needs_a_plugin_host() {
        let mut c = cfg("EvalPyFilter");
        c.py_code = Some("cid=abc".into());
        let e = build(&c).unwrap_err();
        assert!(e.contains("plugin host"), "{e}");
        let f = build_with(&c, Some(&Host)).unwrap();
        let mut m = message("1");
        m.connector = "abc".into();
        assert!(f.matches(&routable(&m, "", "", "")));
        m.connector = "xyz".into();
        assert!(!f.matches(&routable(&m, "", "", "")));
        assert!(f.for_mo() && f.for_mt());
        assert_eq!(f.describe(), "<Ev (pyCode=cid=abc ..)>");
        c.py_code = Some("nope".into());
        assert!(build_with(&c, Some(&Host))
            .unwrap_err()
            .contains("cannot load"));
    }

    #[test]
    fn missing_unknown_and_extra_parameters_are_refused() {
        assert!(build(&cfg("UserFilter"))
            .unwrap_err()
            .contains("needs parameter uid"));
        assert!(build(&cfg("NoSuchFilter"))
            .unwrap_err()
            .contains("unknown filter type"));
        let mut c = cfg("UserFilter");
        c.uid = Some("bob".into());
        c.gid = Some("g".into());
        assert!(build(&c)
            .unwrap_err()
            .contains("does not take parameter gid"));
        let mut c = cfg("TagFilter");
        c.tag = Some("  ".into());
        assert!(build(&c).is_err());
    }
}
