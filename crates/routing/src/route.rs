//! Route types (spec 3.7, 3.11.3-3.11.4). Each type is one `impl Route`:
//!
//! - `DefaultRoute`: no filters, one connector, only at order 0.
//! - `StaticMTRoute` / `StaticMORoute`: filters and one connector.
//! - `RandomRoundrobinMTRoute` / `RandomRoundrobinMORoute`: a connector drawn at random for
//!   every message (Jasmin's `random.choice`); MO routes may mix `http()` and `smpps()`.
//! - `FailoverMTRoute` / `FailoverMORoute`: the first connector, in configured order, that is
//!   available now; MO failover routes may not mix connector types.
//! - `LeastCostMTRoute` (an addition): the cheapest available connector by the per-connector
//!   cost given in the route; ties go to the first configured.
//!
//! When no connector of a failover or least-cost route is available, the route does not pick
//! one and the table goes on with the next route (a lower one, e.g. the `DefaultRoute`).

use std::sync::Arc;

use rand::Rng;

use super::{Availability, ConnectorRef, Filter, Routable};

/// A route: filters that must all match, and how to pick the connector.
pub trait Route: Send + Sync + std::fmt::Debug {
    /// Jasmin's type name, e.g. `StaticMTRoute`.
    fn kind(&self) -> &'static str;
    /// Filters, all of which must match (none: always matches).
    fn filters(&self) -> &[Arc<dyn Filter>];
    /// The connector for this routable, if any is usable.
    fn pick(&self, r: &Routable<'_>, availability: &dyn Availability) -> Option<ConnectorRef>;
    /// Unit rate charged per part (0 = not rated).
    fn rate(&self) -> f64;
    /// Every connector the route may pick, in configured order.
    fn connectors(&self) -> Vec<ConnectorRef>;
    /// jCli's `-s` text, e.g. `StaticMTRoute to smppc(smppcc_1) NOT RATED`.
    fn describe(&self) -> String {
        let cs = self.connectors();
        let rated = if self.rate() > 0.0 {
            format!("rated {:.2}", self.rate())
        } else {
            "NOT RATED".into()
        };
        let mt = self.kind().contains("MT") || self.kind() == "DefaultRoute";
        if cs.len() == 1 && !self.kind().contains("Roundrobin") && !self.kind().contains("over") {
            // Routes.py `Route.__init__`: every single-connector route, MO ones too (rate 0.0).
            format!("{} to {} {rated}", self.kind(), cs[0])
        } else {
            let list: Vec<String> = cs.iter().map(|c| format!("\t- {c}")).collect();
            format!(
                "{} to {} connectors:\n{}{}",
                self.kind(),
                cs.len(),
                list.join("\n"),
                // Routes.py `RandomRoundrobinMTRoute`: `"%s %s" % (str, "\nrated ..")`.
                if mt {
                    format!(" \n{rated}")
                } else {
                    String::new()
                }
            )
        }
    }
}

/// The catch-all route at order 0.
#[derive(Debug)]
pub struct DefaultRoute {
    pub connector: ConnectorRef,
    pub rate: f64,
}

impl Route for DefaultRoute {
    fn kind(&self) -> &'static str {
        "DefaultRoute"
    }
    fn filters(&self) -> &[Arc<dyn Filter>] {
        &[]
    }
    fn pick(&self, _: &Routable<'_>, _: &dyn Availability) -> Option<ConnectorRef> {
        Some(self.connector.clone())
    }
    fn rate(&self) -> f64 {
        self.rate
    }
    fn connectors(&self) -> Vec<ConnectorRef> {
        vec![self.connector.clone()]
    }
}

/// One connector when every filter matches (`StaticMTRoute`, `StaticMORoute`).
#[derive(Debug)]
pub struct StaticRoute {
    pub kind: &'static str,
    pub connector: ConnectorRef,
    pub filters: Vec<Arc<dyn Filter>>,
    pub rate: f64,
}

impl Route for StaticRoute {
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn filters(&self) -> &[Arc<dyn Filter>] {
        &self.filters
    }
    fn pick(&self, _: &Routable<'_>, _: &dyn Availability) -> Option<ConnectorRef> {
        Some(self.connector.clone())
    }
    fn rate(&self) -> f64 {
        self.rate
    }
    fn connectors(&self) -> Vec<ConnectorRef> {
        vec![self.connector.clone()]
    }
}

/// A connector drawn at random (`RandomRoundrobinMTRoute`, `RandomRoundrobinMORoute`).
#[derive(Debug)]
pub struct RoundrobinRoute {
    pub kind: &'static str,
    pub connectors: Vec<ConnectorRef>,
    pub filters: Vec<Arc<dyn Filter>>,
    pub rate: f64,
}

impl Route for RoundrobinRoute {
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn filters(&self) -> &[Arc<dyn Filter>] {
        &self.filters
    }
    fn pick(&self, _: &Routable<'_>, _: &dyn Availability) -> Option<ConnectorRef> {
        match self.connectors.len() {
            0 => None,
            1 => Some(self.connectors[0].clone()),
            n => Some(self.connectors[rand::thread_rng().gen_range(0..n)].clone()),
        }
    }
    fn rate(&self) -> f64 {
        self.rate
    }
    fn connectors(&self) -> Vec<ConnectorRef> {
        self.connectors.clone()
    }
}

/// The first available connector in configured order (`FailoverMTRoute`, `FailoverMORoute`).
#[derive(Debug)]
pub struct FailoverRoute {
    pub kind: &'static str,
    pub connectors: Vec<ConnectorRef>,
    pub filters: Vec<Arc<dyn Filter>>,
    pub rate: f64,
}

impl Route for FailoverRoute {
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn filters(&self) -> &[Arc<dyn Filter>] {
        &self.filters
    }
    fn pick(&self, _: &Routable<'_>, availability: &dyn Availability) -> Option<ConnectorRef> {
        self.connectors
            .iter()
            .find(|c| availability.is_available(c))
            .cloned()
    }
    fn rate(&self) -> f64 {
        self.rate
    }
    fn connectors(&self) -> Vec<ConnectorRef> {
        self.connectors.clone()
    }
}

/// The cheapest available connector (`LeastCostMTRoute`).
#[derive(Debug)]
pub struct LeastCostRoute {
    /// Connectors with their cost, in configured order.
    pub connectors: Vec<(ConnectorRef, f64)>,
    /// Indices into `connectors`, cheapest first (stable: ties keep configured order).
    by_cost: Vec<usize>,
    pub filters: Vec<Arc<dyn Filter>>,
    pub rate: f64,
}

impl LeastCostRoute {
    pub fn new(
        connectors: Vec<(ConnectorRef, f64)>,
        filters: Vec<Arc<dyn Filter>>,
        rate: f64,
    ) -> Self {
        let mut by_cost: Vec<usize> = (0..connectors.len()).collect();
        by_cost.sort_by(|&a, &b| connectors[a].1.total_cmp(&connectors[b].1));
        LeastCostRoute {
            connectors,
            by_cost,
            filters,
            rate,
        }
    }

    /// The cost of a connector of this route.
    pub fn cost(&self, c: &ConnectorRef) -> Option<f64> {
        self.connectors
            .iter()
            .find(|(x, _)| x == c)
            .map(|(_, v)| *v)
    }
}

impl Route for LeastCostRoute {
    fn kind(&self) -> &'static str {
        "LeastCostMTRoute"
    }
    fn filters(&self) -> &[Arc<dyn Filter>] {
        &self.filters
    }
    fn pick(&self, _: &Routable<'_>, availability: &dyn Availability) -> Option<ConnectorRef> {
        self.by_cost
            .iter()
            .map(|&i| &self.connectors[i].0)
            .find(|c| availability.is_available(c))
            .cloned()
    }
    fn rate(&self) -> f64 {
        self.rate
    }
    fn connectors(&self) -> Vec<ConnectorRef> {
        self.connectors.iter().map(|(c, _)| c.clone()).collect()
    }
    fn describe(&self) -> String {
        let list: Vec<String> = self
            .by_cost
            .iter()
            .map(|&i| format!("\t- {} cost {}", self.connectors[i].0, self.connectors[i].1))
            .collect();
        let rated = if self.rate > 0.0 {
            format!("rated {:.2}", self.rate)
        } else {
            "NOT RATED".into()
        };
        format!(
            "LeastCostMTRoute to {} connectors:\n{} \n{rated}",
            self.connectors.len(),
            list.join("\n")
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::availability::{AlwaysAvailable, Unavailable};
    use crate::filter::tests::message;

    fn c(id: &str) -> ConnectorRef {
        ConnectorRef::Smppc(id.into())
    }
    fn down(ids: &[&str]) -> Unavailable {
        Unavailable(ids.iter().map(|i| c(i)).collect::<HashSet<_>>())
    }

    #[test]
    fn default_and_static_always_pick_their_connector() {
        let m = message("1");
        let r = Routable {
            message: &m,
            text: "",
            uid: "",
            gid: "",
        };
        let d = DefaultRoute {
            connector: c("a"),
            rate: 0.0,
        };
        assert_eq!(d.pick(&r, &down(&["a"])), Some(c("a")));
        assert_eq!(d.describe(), "DefaultRoute to smppc(a) NOT RATED");
        let s = StaticRoute {
            kind: "StaticMTRoute",
            connector: c("b"),
            filters: vec![],
            rate: 1.5,
        };
        assert_eq!(s.pick(&r, &AlwaysAvailable), Some(c("b")));
        assert_eq!(s.describe(), "StaticMTRoute to smppc(b) rated 1.50");
        let mo = StaticRoute {
            kind: "StaticMORoute",
            connector: ConnectorRef::Http("h".into()),
            filters: vec![],
            rate: 0.0,
        };
        assert_eq!(mo.describe(), "StaticMORoute to http(h) NOT RATED");
    }

    #[test]
    fn roundrobin_spreads_over_every_connector() {
        let m = message("1");
        let r = Routable {
            message: &m,
            text: "",
            uid: "",
            gid: "",
        };
        let rr = RoundrobinRoute {
            kind: "RandomRoundrobinMTRoute",
            connectors: vec![c("a"), c("b"), c("c")],
            filters: vec![],
            rate: 0.0,
        };
        let mut seen: HashMap<ConnectorRef, u32> = HashMap::new();
        for _ in 0..3000 {
            *seen
                .entry(rr.pick(&r, &AlwaysAvailable).unwrap())
                .or_default() += 1;
        }
        assert_eq!(seen.len(), 3);
        for (k, n) in seen {
            assert!((700..1300).contains(&n), "{k}: {n}");
        }
        assert!(rr
            .describe()
            .starts_with("RandomRoundrobinMTRoute to 3 connectors:\n\t- smppc(a)"));
    }

    #[test]
    fn failover_takes_the_first_available() {
        let m = message("1");
        let r = Routable {
            message: &m,
            text: "",
            uid: "",
            gid: "",
        };
        let f = FailoverRoute {
            kind: "FailoverMTRoute",
            connectors: vec![c("a"), c("b"), c("c")],
            filters: vec![],
            rate: 0.0,
        };
        assert_eq!(f.pick(&r, &AlwaysAvailable), Some(c("a")));
        assert_eq!(f.pick(&r, &down(&["a"])), Some(c("b")));
        assert_eq!(f.pick(&r, &down(&["a", "b"])), Some(c("c")));
        assert_eq!(f.pick(&r, &down(&["a", "b", "c"])), None);
    }

    #[test]
    fn least_cost_takes_the_cheapest_available() {
        let m = message("1");
        let r = Routable {
            message: &m,
            text: "",
            uid: "",
            gid: "",
        };
        let lc = LeastCostRoute::new(
            vec![
                (c("dear"), 0.05),
                (c("cheap"), 0.01),
                (c("mid"), 0.03),
                (c("mid2"), 0.03),
            ],
            vec![],
            0.1,
        );
        assert_eq!(lc.pick(&r, &AlwaysAvailable), Some(c("cheap")));
        assert_eq!(lc.pick(&r, &down(&["cheap"])), Some(c("mid")));
        assert_eq!(lc.pick(&r, &down(&["cheap", "mid"])), Some(c("mid2")));
        assert_eq!(
            lc.pick(&r, &down(&["cheap", "mid", "mid2"])),
            Some(c("dear"))
        );
        assert_eq!(lc.pick(&r, &down(&["cheap", "mid", "mid2", "dear"])), None);
        assert_eq!(lc.cost(&c("mid")), Some(0.03));
        assert_eq!(lc.rate(), 0.1);
        assert_eq!(lc.connectors()[0], c("dear"));
    }
}

/// The connector choice behind a plugin route, provided by the plugin host.
pub trait ScriptRoute: Send + Sync + std::fmt::Debug {
    /// Index into `candidates` (connector as `smppc(id)`, available now) or `None` (the table
    /// goes on with the next route; also the outcome of a failed plugin call).
    fn pick(&self, r: &Routable<'_>, candidates: &[(String, bool)]) -> Option<usize>;
}

/// A route whose connector a Wasm plugin of the `route` world chooses among the configured
/// ones (`PluginMTRoute`, `PluginMORoute`; an addition).
#[derive(Debug)]
pub struct PluginRoute {
    pub kind: &'static str,
    pub plugin: String,
    pub connectors: Vec<ConnectorRef>,
    pub filters: Vec<Arc<dyn Filter>>,
    pub rate: f64,
    pub script: Arc<dyn ScriptRoute>,
}

impl Route for PluginRoute {
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn filters(&self) -> &[Arc<dyn Filter>] {
        &self.filters
    }
    fn pick(&self, r: &Routable<'_>, availability: &dyn Availability) -> Option<ConnectorRef> {
        let candidates: Vec<(String, bool)> = self
            .connectors
            .iter()
            .map(|c| (c.to_string(), availability.is_available(c)))
            .collect();
        let i = self.script.pick(r, &candidates)?;
        self.connectors.get(i).cloned()
    }
    fn rate(&self) -> f64 {
        self.rate
    }
    fn connectors(&self) -> Vec<ConnectorRef> {
        self.connectors.clone()
    }
}
