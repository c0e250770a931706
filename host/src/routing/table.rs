//! A routing table: routes by order, highest first; the first route whose filters all match
//! and that can pick a connector wins.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::route::{DefaultRoute, StaticRoute};
use super::{filter, ConnectorRef, Filter, Routable, Route};
use crate::config::{FilterConfig, RouteConfig};

/// MT or MO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    Mt,
    Mo,
}

/// The table.
#[derive(Debug, Default)]
pub struct RoutingTable {
    routes: BTreeMap<u32, Arc<dyn Route>>,
}

/// A routing decision.
#[derive(Debug, Clone)]
pub struct Decision {
    pub order: u32,
    pub connector: ConnectorRef,
    pub rate: f64,
}

impl RoutingTable {
    /// Add or replace the route at `order` (orders are unique). DefaultRoute only at order 0.
    pub fn add(&mut self, order: u32, route: Arc<dyn Route>) -> Result<(), String> {
        if (route.kind() == "DefaultRoute") != (order == 0) {
            return Err("DefaultRoute must be (only) at order 0".into());
        }
        self.routes.insert(order, route);
        Ok(())
    }

    /// Remove the route at `order`.
    pub fn remove(&mut self, order: u32) -> bool {
        self.routes.remove(&order).is_some()
    }

    /// Routes, highest order first.
    pub fn routes(&self) -> impl Iterator<Item = (u32, &Arc<dyn Route>)> {
        self.routes.iter().rev().map(|(o, r)| (*o, r))
    }

    /// Route a routable.
    pub fn route(&self, r: &Routable<'_>) -> Option<Decision> {
        for (order, route) in self.routes() {
            if route.filters().iter().all(|f| f.matches(r)) {
                if let Some(connector) = route.pick(r) {
                    return Some(Decision {
                        order,
                        connector,
                        rate: route.rate(),
                    });
                }
            }
        }
        None
    }

    /// Build a table from configuration.
    pub fn build(
        kind: TableKind,
        routes: &[RouteConfig],
        filters: &[FilterConfig],
    ) -> Result<RoutingTable, String> {
        let mut by_id: HashMap<&str, Arc<dyn Filter>> = HashMap::new();
        for f in filters {
            by_id.insert(
                &f.fid,
                filter::build(f).map_err(|e| format!("filter {}: {e}", f.fid))?,
            );
        }
        let mut t = RoutingTable::default();
        let table = if kind == TableKind::Mt {
            "mtroutes"
        } else {
            "moroutes"
        };
        for (i, rc) in routes.iter().enumerate() {
            let at = format!("{table}[{i}]");
            let one = rc
                .connector
                .clone()
                .or_else(|| rc.connectors.first().cloned())
                .ok_or(format!("{at}: connector is required"))?;
            let connector = ConnectorRef::parse(&one).map_err(|e| format!("{at}: {e}"))?;
            if kind == TableKind::Mt && !matches!(connector, ConnectorRef::Smppc(_)) {
                return Err(format!("{at}: MT routes send to smppc(cid) connectors"));
            }
            let mut fs = vec![];
            for fid in &rc.filters {
                let f = by_id
                    .get(fid.as_str())
                    .ok_or(format!("{at}: unknown filter {fid:?}"))?;
                let ok = if kind == TableKind::Mt {
                    f.for_mt()
                } else {
                    f.for_mo()
                };
                if !ok {
                    return Err(format!(
                        "{at}: filter {fid:?} ({}) cannot be used in this table",
                        f.kind()
                    ));
                }
                fs.push(f.clone());
            }
            let route: Arc<dyn Route> = match (rc.kind.as_str(), kind) {
                ("DefaultRoute", _) => Arc::new(DefaultRoute {
                    connector,
                    rate: rc.rate,
                }),
                ("StaticMTRoute", TableKind::Mt) => Arc::new(StaticRoute {
                    kind: "StaticMTRoute",
                    connector,
                    filters: fs,
                    rate: rc.rate,
                }),
                ("StaticMORoute", TableKind::Mo) => Arc::new(StaticRoute {
                    kind: "StaticMORoute",
                    connector,
                    filters: fs,
                    rate: 0.0,
                }),
                (other, _) => {
                    return Err(format!("{at}: unknown route type {other:?} for {table}"))
                }
            };
            if route.kind() != "DefaultRoute" && route.filters().is_empty() {
                return Err(format!("{at}: {} needs at least one filter", route.kind()));
            }
            t.add(rc.order, route).map_err(|e| format!("{at}: {e}"))?;
        }
        Ok(t)
    }
}
