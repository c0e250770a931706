//! Routing and interception: `[[filters]]`, `[[mtroutes]]`, `[[moroutes]]`, `[[mtinterceptors]]`
//! and `[[mointerceptors]]`.

use super::de::*;
use super::*;

/// A filter (jCli `filter`), referenced by routes through its `fid`. `type` is one of spec
/// table 38 (case-insensitive); each type takes only its own parameters (table 39).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    pub fid: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// UserFilter.
    #[serde(default)]
    pub uid: Option<String>,
    /// GroupFilter.
    #[serde(default)]
    pub gid: Option<String>,
    /// ConnectorFilter: the SMPP client connector an MO came through.
    #[serde(default)]
    pub cid: Option<String>,
    /// SourceAddrFilter regex (matched from the start, like Python's `re.match`).
    #[serde(default)]
    pub source_addr: Option<String>,
    /// DestinationAddrFilter regex (matched from the start).
    #[serde(default)]
    pub destination_addr: Option<String>,
    /// ShortMessageFilter regex (matched from the start).
    #[serde(default)]
    pub short_message: Option<String>,
    /// TagFilter: the tag to look for (a number or a string).
    #[serde(default, deserialize_with = "de_opt_string_or_int")]
    pub tag: Option<String>,
    /// DateIntervalFilter: `YYYY-MM-DD;YYYY-MM-DD`, both included.
    #[serde(default, alias = "dateInterval")]
    pub date_interval: Option<String>,
    /// TimeIntervalFilter: `HH:MM:SS;HH:MM:SS`, both included (spans midnight when the left
    /// border is later than the right one).
    #[serde(default, alias = "timeInterval")]
    pub time_interval: Option<String>,
    /// Date and time filters: the UTC offset their borders are in (`+02:00`); default UTC.
    #[serde(default)]
    pub utc_offset: Option<String>,
    /// EvalPyFilter: the script's source, or the path of a `.py` file to read.
    #[serde(default, alias = "pyCode")]
    pub py_code: Option<String>,
    /// EvalPyFilter: the path the source was read from (jCli's `pyCode /path.py`): the key of
    /// the script's `[plugins.python.scripts]` limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub py_path: Option<String>,
    /// PluginFilter: the `filter` plugin's name (its file name without `.wasm`).
    #[serde(default)]
    pub plugin: Option<String>,
}

impl FilterConfig {
    /// A filter `fid` of type `kind` with no parameters set.
    pub fn new(fid: &str, kind: &str) -> Self {
        FilterConfig {
            fid: fid.into(),
            kind: kind.into(),
            ..Default::default()
        }
    }

    /// Every type parameter with whether it is set.
    pub fn set_parameters(&self) -> [(&'static str, bool); 12] {
        [
            ("uid", self.uid.is_some()),
            ("gid", self.gid.is_some()),
            ("cid", self.cid.is_some()),
            ("source_addr", self.source_addr.is_some()),
            ("destination_addr", self.destination_addr.is_some()),
            ("short_message", self.short_message.is_some()),
            ("tag", self.tag.is_some()),
            ("date_interval", self.date_interval.is_some()),
            ("time_interval", self.time_interval.is_some()),
            ("utc_offset", self.utc_offset.is_some()),
            ("py_code", self.py_code.is_some()),
            ("plugin", self.plugin.is_some()),
        ]
    }
}

/// A route (jCli `mtrouter`/`morouter`). `type` (case-insensitive): `DefaultRoute` (order 0),
/// `StaticMTRoute`, `RandomRoundrobinMTRoute`, `FailoverMTRoute`, `LeastCostMTRoute`;
/// `StaticMORoute`, `RandomRoundrobinMORoute`, `FailoverMORoute`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    #[serde(rename = "type")]
    pub kind: String,
    /// Unique within its table; 0 only for the DefaultRoute.
    #[serde(default)]
    pub order: u32,
    /// One connector, as `smppc(cid)` / `http(cid)` / `smpps(user)` or a bare cid.
    #[serde(default)]
    pub connector: Option<String>,
    /// Several connectors (round-robin, failover, least-cost routes): a list, or jCli's
    /// `smppc(a);smppc(b)`.
    #[serde(default, deserialize_with = "de_list")]
    pub connectors: Vec<String>,
    /// Filter ids, all of which must match: a list, or jCli's `f1;f2`.
    #[serde(default, deserialize_with = "de_list")]
    pub filters: Vec<String>,
    /// What a message part costs the user (MT only; 0 = not rated).
    #[serde(default)]
    pub rate: f64,
    /// LeastCostMTRoute: what each connector costs, keyed by connector (`smpp_1` or
    /// `smppc(smpp_1)`); the cheapest available one is used.
    #[serde(default)]
    pub costs: std::collections::BTreeMap<String, f64>,
    /// PluginMTRoute / PluginMORoute: the `route` plugin choosing among `connectors`.
    #[serde(default)]
    pub plugin: Option<String>,
}

impl RouteConfig {
    /// A route of type `kind` at `order` with nothing else set.
    pub fn new(kind: &str, order: u32) -> Self {
        RouteConfig {
            kind: kind.into(),
            order,
            ..Default::default()
        }
    }
}

/// An interceptor (jCli `mtinterceptor`/`mointerceptor`). `type` (case-insensitive):
/// `DefaultInterceptor` (order 0), `StaticMTInterceptor`, `StaticMOInterceptor`. Interceptors
/// run before routing, highest order first; the first whose filters all match runs its script.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct InterceptorConfig {
    #[serde(rename = "type")]
    pub kind: String,
    /// Unique within its table; 0 only for the DefaultInterceptor.
    #[serde(default)]
    pub order: u32,
    /// Filter ids, all of which must match: a list, or jCli's `f1;f2`.
    #[serde(default, deserialize_with = "de_list")]
    pub filters: Vec<String>,
    /// What runs: `python3(/path/to/script.py)` (a Jasmin interceptor script, run by the
    /// Python-on-Wasm plugin) or `plugin(name)` (a Wasm plugin of the `interceptor` world).
    pub script: String,
    /// The Python script's source, read when the rule was added (jCli) and persisted with
    /// the profile; none: the file is read when the configuration is built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl InterceptorConfig {
    /// An interceptor of type `kind` at `order` running `script`, with no filters.
    pub fn new(kind: &str, order: u32, script: &str) -> Self {
        InterceptorConfig {
            kind: kind.into(),
            order,
            filters: vec![],
            script: script.into(),
            source: None,
        }
    }
}
