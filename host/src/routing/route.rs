//! Route types (spec 3.7). Each type is one `impl Route`.

use std::sync::Arc;

use super::{ConnectorRef, Filter, Routable};

/// A route: filters that must all match, and how to pick the connector.
pub trait Route: Send + Sync + std::fmt::Debug {
    /// Jasmin's type name, e.g. `StaticMTRoute`.
    fn kind(&self) -> &'static str;
    /// Filters, all of which must match (none: always matches).
    fn filters(&self) -> &[Arc<dyn Filter>];
    /// The connector for this routable, if any is usable.
    fn pick(&self, r: &Routable<'_>) -> Option<ConnectorRef>;
    /// Unit rate charged per part (0 = not rated).
    fn rate(&self) -> f64;
    /// Every connector the route may pick.
    fn connectors(&self) -> Vec<ConnectorRef>;
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
    fn pick(&self, _: &Routable<'_>) -> Option<ConnectorRef> {
        Some(self.connector.clone())
    }
    fn rate(&self) -> f64 {
        self.rate
    }
    fn connectors(&self) -> Vec<ConnectorRef> {
        vec![self.connector.clone()]
    }
}

/// One connector when every filter matches.
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
    fn pick(&self, _: &Routable<'_>) -> Option<ConnectorRef> {
        Some(self.connector.clone())
    }
    fn rate(&self) -> f64 {
        self.rate
    }
    fn connectors(&self) -> Vec<ConnectorRef> {
        vec![self.connector.clone()]
    }
}
