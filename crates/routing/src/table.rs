//! A routing table: routes by order, highest first; the first route whose filters all match
//! and that can pick a connector wins (spec 3.7.1). Lookups go through a destination-prefix
//! [`PrefixIndex`] that returns exactly the routes that can match, in order, so a table of
//! thousands of prefix routes decides in a few hundred nanoseconds, exactly like a linear scan
//! ([`RoutingTable::route_linear`], kept for tests and comparisons).
//!
//! Every check happens when the table is built or a route is added, never at send time:
//! unknown route or filter types, unknown filter ids, filters used in the wrong direction,
//! regexes that do not compile, dates out of order, connectors of the wrong kind or unknown,
//! `DefaultRoute` anywhere but order 0, negative rates.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use super::availability::AlwaysAvailable;
use super::filter::{self, canonical_type as canonical_filter_type};
use super::index::PrefixIndex;
use super::route::{
    DefaultRoute, FailoverRoute, LeastCostRoute, PluginRoute, RoundrobinRoute, StaticRoute,
};
use super::{Availability, ConnectorRef, Filter, Routable, Route, ScriptHost};
use smsgate_core::config::{Config, FilterConfig, RouteConfig};

/// MT or MO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TableKind {
    #[default]
    Mt,
    Mo,
}

impl TableKind {
    /// `MT` or `MO`.
    pub fn label(self) -> &'static str {
        match self {
            TableKind::Mt => "MT",
            TableKind::Mo => "MO",
        }
    }
    /// Route types of this table, as spelled in the configuration.
    pub fn route_types(self) -> &'static [&'static str] {
        match self {
            TableKind::Mt => &[
                "DefaultRoute",
                "StaticMTRoute",
                "RandomRoundrobinMTRoute",
                "FailoverMTRoute",
                "LeastCostMTRoute",
                "PluginMTRoute",
            ],
            TableKind::Mo => &[
                "DefaultRoute",
                "StaticMORoute",
                "RandomRoundrobinMORoute",
                "FailoverMORoute",
                "PluginMORoute",
            ],
        }
    }
    fn section(self) -> &'static str {
        match self {
            TableKind::Mt => "mtroutes",
            TableKind::Mo => "moroutes",
        }
    }
}

/// A routing decision.
#[derive(Debug, Clone)]
pub struct Decision {
    pub order: u32,
    pub connector: ConnectorRef,
    pub rate: f64,
}

/// Connectors that exist: with [`BuildOptions::known`] set, a route to a connector missing
/// here (or a `ConnectorFilter` on one) is refused.
#[derive(Debug, Clone, Default)]
pub struct KnownConnectors {
    /// SMPP client connector ids (`smppc(cid)`, and `ConnectorFilter`).
    pub smppc: HashSet<String>,
    /// HTTP client connector ids (`http(cid)`).
    pub http: HashSet<String>,
    /// Usernames (`smpps(username)`).
    pub smpps: HashSet<String>,
}

impl KnownConnectors {
    /// Every connector and user the configuration provisions.
    pub fn from_config(cfg: &Config) -> Self {
        KnownConnectors {
            smppc: cfg.smppccs.iter().map(|c| c.cid.clone()).collect(),
            http: cfg.httpccs.iter().map(|c| c.cid.clone()).collect(),
            smpps: cfg.users.iter().map(|u| u.username.clone()).collect(),
        }
    }

    fn check(&self, c: &ConnectorRef) -> Result<(), String> {
        let (set, what) = match c {
            ConnectorRef::Smppc(_) => (&self.smppc, "[[smppccs]] with that cid"),
            ConnectorRef::Http(_) => (&self.http, "[[httpccs]] with that cid"),
            ConnectorRef::Smpps(_) => (&self.smpps, "[[users]] with that username"),
        };
        if set.contains(c.id()) {
            Ok(())
        } else {
            Err(format!("unknown connector {c} (no {what})"))
        }
    }
}

/// What building a table needs besides the configuration.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Live connector state for failover and least-cost routes (default: all available).
    pub availability: Arc<dyn Availability>,
    /// The plugin host for `EvalPyFilter` (none: `EvalPyFilter` is refused).
    pub scripts: Option<Arc<dyn ScriptHost>>,
    /// When set, routes to connectors not in it (and `ConnectorFilter`s on them) are refused.
    pub known: Option<KnownConnectors>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            availability: Arc::new(AlwaysAvailable),
            scripts: None,
            known: None,
        }
    }
}

/// The table.
pub struct RoutingTable {
    kind: TableKind,
    routes: BTreeMap<u32, Arc<dyn Route>>,
    /// The routes, highest order first (what the index positions refer to).
    entries: Vec<(u32, Arc<dyn Route>)>,
    index: PrefixIndex,
    availability: Arc<dyn Availability>,
}

impl std::fmt::Debug for RoutingTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutingTable")
            .field("kind", &self.kind)
            .field("routes", &self.routes)
            .field("indexed", &self.index.indexed())
            .finish()
    }
}

impl Default for RoutingTable {
    fn default() -> Self {
        RoutingTable::new(TableKind::Mt)
    }
}

/// Connectors a table of `kind` may send to, and whether a route type may mix kinds.
fn check_connectors(kind: TableKind, route: &dyn Route) -> Result<(), String> {
    let cs = route.connectors();
    if cs.is_empty() {
        return Err(format!("{} needs at least one connector", route.kind()));
    }
    for c in &cs {
        match (kind, c) {
            (TableKind::Mt, ConnectorRef::Smppc(_)) => {}
            (TableKind::Mt, _) => {
                return Err(format!(
                    "MT routes send to SMPP client connectors smppc(cid), not {c}"
                ))
            }
            (TableKind::Mo, ConnectorRef::Http(_) | ConnectorRef::Smpps(_)) => {}
            (TableKind::Mo, _) => {
                return Err(format!(
                    "MO routes send to http(cid) or smpps(username), not {c}"
                ))
            }
        }
    }
    if route.kind() == "FailoverMORoute" && cs.iter().any(|c| c.kind() != cs[0].kind()) {
        return Err(
            "FailoverMORoute cannot mix connector types (all http() or all smpps())".into(),
        );
    }
    Ok(())
}

fn check_filters(kind: TableKind, route: &dyn Route) -> Result<(), String> {
    for f in route.filters() {
        let ok = match kind {
            TableKind::Mt => f.for_mt(),
            TableKind::Mo => f.for_mo(),
        };
        if !ok {
            let only = if f.for_mo() { "MO" } else { "MT" };
            return Err(format!(
                "filter {} ({}) is for {only} routes only and cannot be used in an {} route",
                f.describe(),
                f.kind(),
                kind.label()
            ));
        }
    }
    Ok(())
}

impl RoutingTable {
    /// An empty table.
    pub fn new(kind: TableKind) -> Self {
        RoutingTable {
            kind,
            routes: BTreeMap::new(),
            entries: vec![],
            index: PrefixIndex::default(),
            availability: Arc::new(AlwaysAvailable),
        }
    }

    /// MT or MO.
    pub fn kind(&self) -> TableKind {
        self.kind
    }

    /// Use `availability` for failover and least-cost routes.
    pub fn set_availability(&mut self, availability: Arc<dyn Availability>) {
        self.availability = availability;
    }

    /// The availability failover and least-cost routes consult.
    pub fn availability(&self) -> &Arc<dyn Availability> {
        &self.availability
    }

    fn check(&self, order: u32, route: &dyn Route) -> Result<(), String> {
        if route.kind() == "DefaultRoute" && order != 0 {
            return Err("DefaultRoute must be at order 0".into());
        }
        if route.kind() != "DefaultRoute" && order == 0 {
            return Err(format!(
                "order 0 is reserved for the DefaultRoute; give {} an order above 0",
                route.kind()
            ));
        }
        if !(route.rate().is_finite() && route.rate() >= 0.0) {
            return Err(format!("rate must be a number >= 0, got {}", route.rate()));
        }
        check_connectors(self.kind, route)?;
        check_filters(self.kind, route)
    }

    fn reindex(&mut self) {
        self.entries = self
            .routes
            .iter()
            .rev()
            .map(|(o, r)| (*o, r.clone()))
            .collect();
        self.index = PrefixIndex::build(self.entries.iter().map(|(_, r)| r.filters()));
    }

    /// Add the route at `order`, replacing the route already there (orders are unique).
    /// `DefaultRoute` only at order 0; filters and connectors must suit the table's direction.
    pub fn add(&mut self, order: u32, route: Arc<dyn Route>) -> Result<(), String> {
        self.check(order, &*route)?;
        self.routes.insert(order, route);
        self.reindex();
        Ok(())
    }

    /// Remove the route at `order`.
    pub fn remove(&mut self, order: u32) -> bool {
        let removed = self.routes.remove(&order).is_some();
        if removed {
            self.reindex();
        }
        removed
    }

    /// Remove every route.
    pub fn flush(&mut self) {
        self.routes.clear();
        self.reindex();
    }

    /// The route at `order`.
    pub fn get(&self, order: u32) -> Option<&Arc<dyn Route>> {
        self.routes.get(&order)
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// No routes?
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// How many routes the destination-prefix index serves (the others are tried for every
    /// message).
    pub fn indexed_routes(&self) -> usize {
        self.index.indexed()
    }

    /// Routes, highest order first.
    pub fn routes(&self) -> impl Iterator<Item = (u32, &Arc<dyn Route>)> {
        self.entries.iter().map(|(o, r)| (*o, r))
    }

    #[inline]
    fn try_route(
        &self,
        pos: usize,
        skip: Option<usize>,
        r: &Routable<'_>,
        availability: &dyn Availability,
    ) -> Option<Decision> {
        let (order, route) = &self.entries[pos];
        for (i, f) in route.filters().iter().enumerate() {
            if Some(i) != skip && !f.matches(r) {
                return None;
            }
        }
        route.pick(r, availability).map(|connector| Decision {
            order: *order,
            connector,
            rate: route.rate(),
        })
    }

    /// Route a routable with the table's availability.
    pub fn route(&self, r: &Routable<'_>) -> Option<Decision> {
        self.route_with(r, &*self.availability)
    }

    /// Route a routable, asking `availability` which connectors are usable.
    pub fn route_with(
        &self,
        r: &Routable<'_>,
        availability: &dyn Availability,
    ) -> Option<Decision> {
        self.index
            .for_each_candidate(&r.message.destination.addr, |pos| {
                match self.try_route(pos, self.index.skip(pos), r, availability) {
                    Some(d) => ControlFlow::Break(d),
                    None => ControlFlow::Continue(()),
                }
            })
    }

    /// Route by trying every route in order, without the index (the reference semantics).
    pub fn route_linear(&self, r: &Routable<'_>) -> Option<Decision> {
        self.route_linear_with(r, &*self.availability)
    }

    /// [`RoutingTable::route_linear`] with an explicit availability.
    pub fn route_linear_with(
        &self,
        r: &Routable<'_>,
        availability: &dyn Availability,
    ) -> Option<Decision> {
        (0..self.entries.len()).find_map(|pos| self.try_route(pos, None, r, availability))
    }

    /// Build a table from configuration, every connector available, no plugin host, connector
    /// ids not checked (see [`RoutingTable::build_with`]).
    pub fn build(
        kind: TableKind,
        routes: &[RouteConfig],
        filters: &[FilterConfig],
    ) -> Result<RoutingTable, String> {
        Self::build_with(kind, routes, filters, &BuildOptions::default())
    }

    /// Build a table from configuration. Errors name the configuration key
    /// (`filters[2]`, `mtroutes[5]`), the filter id or route order, and what is wrong.
    pub fn build_with(
        kind: TableKind,
        routes: &[RouteConfig],
        filters: &[FilterConfig],
        opts: &BuildOptions,
    ) -> Result<RoutingTable, String> {
        let by_id = build_filters(filters, opts)?;
        let section = kind.section();
        let mut t = RoutingTable::new(kind);
        t.availability = opts.availability.clone();
        let mut orders: HashMap<u32, usize> = HashMap::new();
        for (i, rc) in routes.iter().enumerate() {
            let at = format!(
                "key `{section}[{i}]` ({} at order {})",
                rc.kind.trim(),
                rc.order
            );
            let route = build_route(kind, rc, &by_id, opts).map_err(|e| format!("{at}: {e}"))?;
            t.check(rc.order, &*route)
                .map_err(|e| format!("{at}: {e}"))?;
            if let Some(j) = orders.insert(rc.order, i) {
                return Err(format!(
                    "{at}: order {} is already used by `{section}[{j}]` (orders are unique)",
                    rc.order
                ));
            }
            t.routes.insert(rc.order, route);
        }
        t.reindex();
        Ok(t)
    }
}

/// Build every filter, keyed by fid.
fn build_filters<'a>(
    filters: &'a [FilterConfig],
    opts: &BuildOptions,
) -> Result<HashMap<&'a str, Arc<dyn Filter>>, String> {
    let mut by_id: HashMap<&str, Arc<dyn Filter>> = HashMap::new();
    for (i, f) in filters.iter().enumerate() {
        let at = format!("key `filters[{i}]` (fid {:?}, {})", f.fid, f.kind.trim());
        if f.fid.trim().is_empty() {
            return Err(format!("{at}: fid is required"));
        }
        let built =
            filter::build_with(f, opts.scripts.as_deref()).map_err(|e| format!("{at}: {e}"))?;
        if let (Some(known), Some("ConnectorFilter")) =
            (&opts.known, canonical_filter_type(&f.kind))
        {
            known
                .check(&ConnectorRef::Smppc(
                    ConnectorRef::parse(f.cid.as_deref().unwrap_or_default())
                        .map(|c| c.id().to_string())
                        .unwrap_or_default(),
                ))
                .map_err(|e| format!("{at}: cid: {e}"))?;
        }
        if by_id.insert(&f.fid, built).is_some() {
            return Err(format!("{at}: duplicate fid {:?}", f.fid));
        }
    }
    Ok(by_id)
}

/// The canonical spelling of a route type, matched case-insensitively.
fn canonical_route_type(kind: &str) -> Option<&'static str> {
    TableKind::Mt
        .route_types()
        .iter()
        .chain(TableKind::Mo.route_types())
        .copied()
        .find(|t| t.eq_ignore_ascii_case(kind.trim()))
}

fn build_route(
    kind: TableKind,
    rc: &RouteConfig,
    by_id: &HashMap<&str, Arc<dyn Filter>>,
    opts: &BuildOptions,
) -> Result<Arc<dyn Route>, String> {
    let types = kind.route_types();
    let rtype = match canonical_route_type(&rc.kind) {
        Some(t) if types.contains(&t) => t,
        Some(t) => {
            return Err(format!(
                "{t} is not an {} route type (expected one of {})",
                kind.label(),
                types.join(", ")
            ))
        }
        None => {
            return Err(format!(
                "unknown route type {:?} (expected one of {})",
                rc.kind,
                types.join(", ")
            ))
        }
    };
    if !(rc.rate.is_finite() && rc.rate >= 0.0) {
        return Err(format!("rate must be a number >= 0, got {}", rc.rate));
    }
    if kind == TableKind::Mo && rc.rate != 0.0 {
        return Err("MO routes are not rated: remove rate".into());
    }
    // Connectors.
    let single = matches!(rtype, "DefaultRoute" | "StaticMTRoute" | "StaticMORoute");
    let raw: Vec<String> = match (&rc.connector, rc.connectors.is_empty()) {
        (Some(_), false) => {
            return Err("set either connector or connectors, not both".into());
        }
        (Some(c), true) => vec![c.clone()],
        (None, false) => rc.connectors.clone(),
        (None, true) => {
            return Err(if single {
                "connector is required".into()
            } else {
                "connectors is required (one or more)".into()
            })
        }
    };
    if single && raw.len() != 1 {
        return Err(format!(
            "{rtype} takes exactly one connector, got {}",
            raw.len()
        ));
    }
    let mut connectors = Vec::with_capacity(raw.len());
    for s in &raw {
        let c = ConnectorRef::parse(s)?;
        if let Some(known) = &opts.known {
            known.check(&c)?;
        }
        connectors.push(c);
    }
    let is_plugin = matches!(rtype, "PluginMTRoute" | "PluginMORoute");
    if rc.plugin.is_some() != is_plugin {
        return Err(if is_plugin {
            format!("{rtype} needs plugin (the name of a route plugin)")
        } else {
            format!("{rtype} does not take plugin (PluginMTRoute and PluginMORoute do)")
        });
    }
    // Costs (least-cost routes only).
    if rtype != "LeastCostMTRoute" && !rc.costs.is_empty() {
        return Err(format!(
            "{rtype} does not take costs (LeastCostMTRoute does)"
        ));
    }
    // Filters.
    if rtype == "DefaultRoute" && !rc.filters.is_empty() {
        return Err("DefaultRoute takes no filters".into());
    }
    if rtype != "DefaultRoute" && rc.filters.is_empty() {
        return Err(format!("{rtype} needs at least one filter"));
    }
    let mut fs = Vec::with_capacity(rc.filters.len());
    for fid in &rc.filters {
        let f = by_id
            .get(fid.trim())
            .ok_or_else(|| format!("unknown filter id {fid:?} (no [[filters]] with that fid)"))?;
        let ok = match kind {
            TableKind::Mt => f.for_mt(),
            TableKind::Mo => f.for_mo(),
        };
        if !ok {
            return Err(format!(
                "filter {fid:?} ({}) is for {} routes only and cannot be used in an {} route",
                f.kind(),
                if f.for_mo() { "MO" } else { "MT" },
                kind.label()
            ));
        }
        fs.push(f.clone());
    }
    let rate = if kind == TableKind::Mt { rc.rate } else { 0.0 };
    let mut connectors = connectors.into_iter();
    Ok(match rtype {
        "DefaultRoute" => Arc::new(DefaultRoute {
            connector: connectors.next().expect("one connector"),
            rate,
        }),
        "StaticMTRoute" | "StaticMORoute" => Arc::new(StaticRoute {
            kind: rtype,
            connector: connectors.next().expect("one connector"),
            filters: fs,
            rate,
        }),
        "RandomRoundrobinMTRoute" | "RandomRoundrobinMORoute" => Arc::new(RoundrobinRoute {
            kind: rtype,
            connectors: connectors.collect(),
            filters: fs,
            rate,
        }),
        "PluginMTRoute" | "PluginMORoute" => {
            let plugin = rc.plugin.clone().unwrap_or_default();
            let host = opts.scripts.as_ref().ok_or_else(|| {
                format!("{rtype} needs the plugin host, and none is configured (enable [plugins])")
            })?;
            let script = host
                .plugin_route(&plugin)
                .map_err(|e| format!("plugin {plugin:?}: {e}"))?;
            Arc::new(PluginRoute {
                kind: rtype,
                plugin,
                connectors: connectors.collect(),
                filters: fs,
                rate,
                script,
            })
        }
        "FailoverMTRoute" | "FailoverMORoute" => Arc::new(FailoverRoute {
            kind: rtype,
            connectors: connectors.collect(),
            filters: fs,
            rate,
        }),
        _ => {
            let connectors: Vec<ConnectorRef> = connectors.collect();
            let mut costs: HashMap<ConnectorRef, f64> = HashMap::new();
            for (k, v) in &rc.costs {
                let c = ConnectorRef::parse(k).map_err(|e| format!("costs: {e}"))?;
                if !connectors.contains(&c) {
                    return Err(format!("costs: {c} is not one of the route's connectors"));
                }
                if !(v.is_finite() && *v >= 0.0) {
                    return Err(format!("costs: {c} must cost a number >= 0, got {v}"));
                }
                costs.insert(c, *v);
            }
            let mut with_costs = Vec::with_capacity(connectors.len());
            for c in connectors {
                let v = *costs
                    .get(&c)
                    .ok_or_else(|| format!("costs: no cost for {c} (every connector needs one)"))?;
                with_costs.push((c, v));
            }
            Arc::new(LeastCostRoute::new(with_costs, fs, rate))
        }
    })
}

/// Check the routing part of a configuration (filters, MT and MO routes) as the gateway will
/// build it: every connector must exist, plugin filters and routes need `[plugins]` enabled.
pub fn validate_config(cfg: &Config) -> Result<(), String> {
    let opts = BuildOptions {
        availability: Arc::new(AlwaysAvailable),
        scripts: Some(Arc::new(filter::DeferredScripts {
            plugins: cfg.plugins.enabled,
        }) as Arc<dyn ScriptHost>),
        known: Some(KnownConnectors::from_config(cfg)),
    };
    RoutingTable::build_with(TableKind::Mt, &cfg.mtroutes, &cfg.filters, &opts)?;
    RoutingTable::build_with(TableKind::Mo, &cfg.moroutes, &cfg.filters, &opts)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::availability::Unavailable;
    use crate::filter::tests::message;
    use crate::route::StaticRoute;
    use proptest::prelude::*;

    fn f(fid: &str, kind: &str, set: impl FnOnce(&mut FilterConfig)) -> FilterConfig {
        let mut c = FilterConfig::new(fid, kind);
        set(&mut c);
        c
    }

    fn r(kind: &str, order: u32, connectors: &str, filters: &str) -> RouteConfig {
        let mut c = RouteConfig::new(kind, order);
        let cs: Vec<String> = connectors.split(';').map(str::to_string).collect();
        if cs.len() == 1 && !kind.contains("Roundrobin") && !kind.contains("Failover") {
            c.connector = Some(cs[0].clone());
        } else {
            c.connectors = cs;
        }
        c.filters = filters
            .split(';')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        c
    }

    fn filters() -> Vec<FilterConfig> {
        vec![
            f("T", "TransparentFilter", |_| {}),
            f("U", "UserFilter", |c| c.uid = Some("bob".into())),
            f("C", "ConnectorFilter", |c| c.cid = Some("smsc".into())),
            f("FR", "DestinationAddrFilter", |c| {
                c.destination_addr = Some(r"^\+?33".into())
            }),
            f("EvalPy", "EvalPyFilter", |c| {
                c.py_code = Some("x.py".into())
            }),
        ]
    }

    fn err(kind: TableKind, routes: Vec<RouteConfig>) -> String {
        RoutingTable::build(kind, &routes, &filters()[..4]).unwrap_err()
    }

    #[test]
    fn bad_routes_are_refused_naming_the_route() {
        use TableKind::*;
        let cases: Vec<(TableKind, RouteConfig, &str)> = vec![
            (
                Mt,
                r("StaticMTRoute", 5, "smppc(a)", "nope"),
                "unknown filter id \"nope\"",
            ),
            (
                Mo,
                r("StaticMORoute", 5, "http(a)", "U"),
                "for MT routes only",
            ),
            (
                Mt,
                r("StaticMTRoute", 5, "smppc(a)", "C"),
                "for MO routes only",
            ),
            (
                Mt,
                r("BestQualityMTRoute", 5, "smppc(a)", "T"),
                "unknown route type",
            ),
            (
                Mt,
                r("StaticMORoute", 5, "smppc(a)", "T"),
                "not an MT route type",
            ),
            (
                Mo,
                r("FailoverMTRoute", 5, "http(a);http(b)", "T"),
                "not an MO route type",
            ),
            (
                Mt,
                r("DefaultRoute", 5, "smppc(a)", ""),
                "DefaultRoute must be at order 0",
            ),
            (
                Mt,
                r("StaticMTRoute", 0, "smppc(a)", "T"),
                "order 0 is reserved",
            ),
            (
                Mt,
                r("DefaultRoute", 0, "smppc(a)", "T"),
                "DefaultRoute takes no filters",
            ),
            (
                Mt,
                r("StaticMTRoute", 5, "smppc(a)", ""),
                "needs at least one filter",
            ),
            (
                Mt,
                r("StaticMTRoute", 5, "http(a)", "T"),
                "MT routes send to SMPP client",
            ),
            (Mo, r("StaticMORoute", 5, "a", "T"), "not smppc(a)"),
            (
                Mt,
                r("StaticMTRoute", 5, "smppc(a b)", "T"),
                "invalid connector",
            ),
            (
                Mo,
                r("FailoverMORoute", 5, "http(a);smpps(u)", "T"),
                "cannot mix connector types",
            ),
            (Mt, r("FailoverMTRoute", 5, "", "T"), "invalid connector"),
        ];
        for (kind, rc, want) in cases {
            let e = err(kind, vec![rc.clone()]);
            assert!(e.contains(want), "{rc:?}: {e}");
            let section = if kind == Mt { "mtroutes" } else { "moroutes" };
            assert!(e.starts_with(&format!("key `{section}[0]`")), "{e}");
        }
        let mut two = r("StaticMTRoute", 5, "smppc(a)", "T");
        two.connectors = vec!["smppc(b)".into()];
        assert!(err(Mt, vec![two]).contains("either connector or connectors"));
        let mut two = RouteConfig::new("StaticMTRoute", 5);
        two.connectors = vec!["smppc(a)".into(), "smppc(b)".into()];
        two.filters = vec!["T".into()];
        assert!(err(Mt, vec![two]).contains("exactly one connector"));
        let mut neg = r("StaticMTRoute", 5, "smppc(a)", "T");
        neg.rate = -1.0;
        assert!(err(Mt, vec![neg]).contains("rate must be a number >= 0"));
        let mut mo_rate = r("StaticMORoute", 5, "http(a)", "T");
        mo_rate.rate = 1.0;
        assert!(err(Mo, vec![mo_rate]).contains("MO routes are not rated"));
        let dup = vec![
            r("StaticMTRoute", 5, "smppc(a)", "T"),
            r("StaticMTRoute", 5, "smppc(b)", "T"),
        ];
        let e = err(Mt, dup);
        assert!(
            e.contains("`mtroutes[1]`") && e.contains("already used by `mtroutes[0]`"),
            "{e}"
        );
        // A filter in the wrong direction is fine as long as no route uses it there.
        assert!(
            RoutingTable::build(Mt, &[r("StaticMTRoute", 5, "a", "U")], &filters()[..4]).is_ok()
        );
    }

    #[test]
    fn roundrobin_mo_may_mix_connector_types() {
        let t = RoutingTable::build(
            TableKind::Mo,
            &[r(
                "RandomRoundrobinMORoute",
                5,
                "smpps(u);http(a);http(b)",
                "T",
            )],
            &filters()[..4],
        )
        .unwrap();
        assert_eq!(t.get(5).unwrap().connectors().len(), 3);
    }

    #[test]
    fn least_cost_routes_need_a_cost_per_connector() {
        let mut lc = r("LeastCostMTRoute", 5, "smppc(a);smppc(b)", "T");
        lc.connector = None;
        lc.connectors = vec!["smppc(a)".into(), "smppc(b)".into()];
        let fs = &filters()[..4];
        let build =
            |lc: &RouteConfig| RoutingTable::build(TableKind::Mt, std::slice::from_ref(lc), fs);
        assert!(build(&lc).unwrap_err().contains("no cost for smppc(a)"));
        lc.costs.insert("a".into(), 0.02);
        lc.costs.insert("smppc(b)".into(), 0.01);
        let t = build(&lc).unwrap();
        let m = message("1");
        let rt = Routable {
            message: &m,
            text: "",
            uid: "",
            gid: "",
        };
        assert_eq!(
            t.route(&rt).unwrap().connector,
            ConnectorRef::Smppc("b".into())
        );
        lc.costs.insert("c".into(), 0.01);
        assert!(build(&lc)
            .unwrap_err()
            .contains("smppc(c) is not one of the route's connectors"));
        lc.costs.remove("c");
        lc.costs.insert("a".into(), -1.0);
        assert!(build(&lc).unwrap_err().contains("must cost a number >= 0"));
        let mut st = r("StaticMTRoute", 5, "smppc(a)", "T");
        st.costs.insert("a".into(), 0.1);
        assert!(build(&st).unwrap_err().contains("does not take costs"));
        assert!(RoutingTable::build(TableKind::Mo, &[lc], fs)
            .unwrap_err()
            .contains("not an MO route type"));
    }

    #[test]
    fn bad_filters_are_refused_naming_the_filter() {
        let fs = vec![
            f("ok", "TransparentFilter", |_| {}),
            f("bad_re", "DestinationAddrFilter", |c| {
                c.destination_addr = Some("^(33".into())
            }),
        ];
        let e = RoutingTable::build(TableKind::Mt, &[], &fs).unwrap_err();
        assert!(
            e.starts_with("key `filters[1]` (fid \"bad_re\", DestinationAddrFilter): destination_addr: invalid regex"),
            "{e}"
        );
        let fs = vec![
            f("x", "TransparentFilter", |_| {}),
            f("x", "TransparentFilter", |_| {}),
        ];
        assert!(RoutingTable::build(TableKind::Mt, &[], &fs)
            .unwrap_err()
            .contains("duplicate fid"));
        let e = RoutingTable::build(TableKind::Mt, &[], &filters()).unwrap_err();
        assert!(e.contains("filters[4]") && e.contains("plugin host"), "{e}");
    }

    #[test]
    fn unknown_connectors_are_refused_when_known_connectors_are_given() {
        let known = KnownConnectors {
            smppc: ["a".to_string(), "smsc".to_string()].into(),
            http: ["h".to_string()].into(),
            smpps: ["u".to_string()].into(),
        };
        let opts = BuildOptions {
            known: Some(known),
            ..Default::default()
        };
        let fs = &filters()[..4];
        let ok = |kind, rc: RouteConfig| RoutingTable::build_with(kind, &[rc], fs, &opts);
        assert!(ok(TableKind::Mt, r("StaticMTRoute", 1, "smppc(a)", "T")).is_ok());
        let e = ok(TableKind::Mt, r("StaticMTRoute", 1, "smppc(b)", "T")).unwrap_err();
        assert!(e.contains("unknown connector smppc(b)"), "{e}");
        assert!(ok(TableKind::Mo, r("StaticMORoute", 1, "smpps(u)", "C")).is_ok());
        assert!(ok(TableKind::Mo, r("StaticMORoute", 1, "smpps(v)", "T"))
            .unwrap_err()
            .contains("unknown connector smpps(v)"));
        assert!(ok(
            TableKind::Mo,
            r("FailoverMORoute", 1, "http(h);http(g)", "T")
        )
        .unwrap_err()
        .contains("unknown connector http(g)"));
        let bad_cf = vec![f("C", "ConnectorFilter", |c| c.cid = Some("zzz".into()))];
        assert!(RoutingTable::build_with(TableKind::Mo, &[], &bad_cf, &opts)
            .unwrap_err()
            .contains("cid: unknown connector smppc(zzz)"));
    }

    #[test]
    fn add_replaces_and_checks() {
        let mut t = RoutingTable::new(TableKind::Mt);
        let st = |c: &str| {
            Arc::new(StaticRoute {
                kind: "StaticMTRoute",
                connector: ConnectorRef::Smppc(c.into()),
                filters: vec![Arc::new(filter::TransparentFilter) as Arc<dyn Filter>],
                rate: 0.0,
            }) as Arc<dyn Route>
        };
        t.add(10, st("a")).unwrap();
        t.add(10, st("b")).unwrap();
        assert_eq!(t.len(), 1);
        let m = message("1");
        let rt = Routable {
            message: &m,
            text: "",
            uid: "",
            gid: "",
        };
        assert_eq!(
            t.route(&rt).unwrap().connector,
            ConnectorRef::Smppc("b".into())
        );
        assert!(t.add(0, st("a")).is_err());
        let user_only = Arc::new(StaticRoute {
            kind: "StaticMORoute",
            connector: ConnectorRef::Http("h".into()),
            filters: vec![Arc::new(filter::UserFilter("bob".into())) as Arc<dyn Filter>],
            rate: 0.0,
        });
        let mut mo = RoutingTable::new(TableKind::Mo);
        assert!(mo.add(3, user_only).unwrap_err().contains("MT routes only"));
        assert!(t.remove(10));
        assert!(!t.remove(10));
        assert!(t.route(&rt).is_none());
        t.add(
            0,
            Arc::new(DefaultRoute {
                connector: ConnectorRef::Smppc("d".into()),
                rate: 0.0,
            }),
        )
        .unwrap();
        t.flush();
        assert!(t.is_empty());
    }

    #[test]
    fn failover_falls_through_when_nothing_is_available() {
        let fs = &filters()[..4];
        let mut fo = RouteConfig::new("FailoverMTRoute", 10);
        fo.connectors = vec!["smppc(a)".into(), "smppc(b)".into()];
        fo.filters = vec!["FR".into()];
        let t = RoutingTable::build(
            TableKind::Mt,
            &[fo, r("DefaultRoute", 0, "smppc(def)", "")],
            fs,
        )
        .unwrap();
        let m = message("33600");
        let rt = Routable {
            message: &m,
            text: "",
            uid: "",
            gid: "",
        };
        let down = |ids: &[&str]| {
            Unavailable(
                ids.iter()
                    .map(|i| ConnectorRef::Smppc(i.to_string()))
                    .collect(),
            )
        };
        let pick = |a: &Unavailable| {
            let d = t.route_with(&rt, a).unwrap();
            (d.order, d.connector.id().to_string())
        };
        assert_eq!(pick(&down(&[])), (10, "a".into()));
        assert_eq!(pick(&down(&["a"])), (10, "b".into()));
        assert_eq!(pick(&down(&["a", "b"])), (0, "def".into()));
    }

    // ---- The index decides exactly like the linear scan. ----

    fn da_pattern() -> impl Strategy<Value = String> {
        let indexable = (
            any::<bool>(),
            0..3u8,
            prop_oneof![
                "[3-6]{1,3}".prop_map(|s| s),
                ("[3-6]{1,2}", "[3-6]{1,2}").prop_map(|(a, b)| format!("(?:{a}|{b})")),
            ],
            prop_oneof![
                Just(""),
                Just(r"\d*"),
                Just(r"\d+"),
                Just(".*"),
                Just("$"),
                Just("?"),
                Just("5"),
                Just(r"\d{2}$"),
            ],
        )
            .prop_map(|(anchor, plus, body, tail)| {
                format!(
                    "{}{}{body}{tail}",
                    if anchor { "^" } else { "" },
                    ["", r"\+?", r"\+"][plus as usize]
                )
            });
        prop_oneof![
            4 => indexable,
            1 => prop_oneof![
                Just(".*5$".to_string()),
                Just("(?i)3".to_string()),
                Just("^3|^4".to_string()),
                Just("^[34]5".to_string()),
                Just(r"\+?\d{3}".to_string()),
                Just(r"^\+".to_string()),
            ],
        ]
    }

    fn filter_cfg(i: usize) -> impl Strategy<Value = FilterConfig> {
        let fid = format!("f{i}");
        prop_oneof![
            6 => da_pattern().prop_map({
                let fid = fid.clone();
                move |p| f(&fid, "DestinationAddrFilter", |c| c.destination_addr = Some(p))
            }),
            1 => prop_oneof![Just("u1"), Just("u2")].prop_map({
                let fid = fid.clone();
                move |u| f(&fid, "UserFilter", |c| c.uid = Some(u.into()))
            }),
            1 => prop_oneof![Just("g1"), Just("g2")].prop_map({
                let fid = fid.clone();
                move |g| f(&fid, "GroupFilter", |c| c.gid = Some(g.into()))
            }),
            1 => Just(f(&fid, "TimeIntervalFilter", |c| {
                c.time_interval = Some("08:00:00;18:00:00".into())
            })),
            1 => Just(f(&fid, "TagFilter", |c| c.tag = Some("t".into()))),
            1 => Just(f(&fid, "SourceAddrFilter", |c| c.source_addr = Some("1".into()))),
            1 => Just(f(&fid, "TransparentFilter", |_| {})),
        ]
    }

    fn table_cfg() -> impl Strategy<Value = (Vec<FilterConfig>, Vec<RouteConfig>)> {
        (1..12usize).prop_flat_map(|nf| {
            let filters: Vec<_> = (0..nf).map(filter_cfg).collect();
            let routes = proptest::collection::vec(
                (1..200u32, proptest::collection::vec(0..nf, 1..3), 0..4u8),
                0..40,
            );
            (filters, routes, any::<bool>()).prop_map(|(filters, routes, default)| {
                let mut seen = HashSet::new();
                let mut rcs = vec![];
                for (order, fs, c) in routes {
                    if !seen.insert(order) {
                        continue;
                    }
                    let mut rc = RouteConfig::new("StaticMTRoute", order);
                    rc.connector = Some(format!("smppc(c{c})"));
                    rc.filters = fs.iter().map(|i| format!("f{i}")).collect();
                    rcs.push(rc);
                }
                if default {
                    let mut d = RouteConfig::new("DefaultRoute", 0);
                    d.connector = Some("smppc(def)".into());
                    rcs.push(d);
                }
                (filters, rcs)
            })
        })
    }

    fn msg() -> impl Strategy<Value = (String, &'static str, &'static str, i64, bool, String)> {
        (
            r"\+{0,2}[0-9]{0,7}|[3-6+]{0,6}",
            prop_oneof![Just("u1"), Just("u2"), Just("")],
            prop_oneof![Just("g1"), Just("g2")],
            0..86_400_000i64,
            any::<bool>(),
            prop_oneof![Just("1".to_string()), Just("2".to_string())],
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn indexed_table_decides_like_the_linear_scan(
            (filters, routes) in table_cfg(),
            msgs in proptest::collection::vec(msg(), 1..30),
        ) {
            let t = RoutingTable::build(TableKind::Mt, &routes, &filters).unwrap();
            for (dst, uid, gid, at, tagged, src) in msgs {
                let mut m = message(&dst);
                m.created_at = at;
                m.source.addr = src;
                if tagged {
                    m.tags = vec!["t".into()];
                }
                let rt = Routable { message: &m, text: "", uid, gid };
                let a = t.route(&rt).map(|d| (d.order, d.connector));
                let b = t.route_linear(&rt).map(|d| (d.order, d.connector));
                prop_assert_eq!(a, b, "dst {:?}", dst);
            }
        }
    }
}
