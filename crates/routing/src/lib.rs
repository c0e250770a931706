//! Routing: filters, routes and routing tables for MT and MO (spec 3.7, 3.11.3-3.11.4, 3.11.8).
//!
//! - [`filter`]: the filter types of spec table 38, one `impl Filter` each, and their MO/MT
//!   compatibility; `EvalPyFilter` delegates to a [`filter::ScriptFilter`] a plugin host provides.
//! - [`route`]: `DefaultRoute`, static, random round-robin, failover and least-cost routes.
//! - [`table`]: the [`RoutingTable`] (descending order, AND of filters, first match), built from
//!   configuration with every check done at build time, never at send time.
//! - [`index`]: the destination-prefix index that keeps a table of thousands of routes fast
//!   while deciding exactly like a linear scan.
//! - [`availability`]: which connectors are usable right now (failover and least-cost routes).
//!
//! Adding a filter or route type means adding one `impl` and one arm in its `build` function;
//! the table never changes.

pub mod availability;
pub mod filter;
pub mod index;
pub mod route;
pub mod table;

pub use availability::{AlwaysAvailable, Availability, LiveAvailability};
pub use filter::{Filter, ScriptFilter, ScriptHost};
pub use route::{Route, ScriptRoute};
pub use table::{BuildOptions, Decision, KnownConnectors, RoutingTable, TableKind};

use smsgate_core::model::Message;

/// What filters and routes look at: the message plus facts that are not in it.
///
/// The date and time filters read `message.created_at` (when the message was received),
/// `ConnectorFilter` reads `message.connector` (the origin connector of an MO message) and
/// `TagFilter` reads `message.tags`.
#[derive(Debug, Clone, Copy)]
pub struct Routable<'a> {
    pub message: &'a Message,
    /// Decoded text of the content (for ShortMessageFilter), lossy for binary.
    pub text: &'a str,
    /// Sending user's uid (MT; empty for MO).
    pub uid: &'a str,
    /// Sending user's group (MT; empty for MO).
    pub gid: &'a str,
}

/// A connector reference as jCli writes it: `smppc(cid)`, `http(cid)`, `smpps(user)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConnectorRef {
    Smppc(String),
    Http(String),
    Smpps(String),
}

impl ConnectorRef {
    /// Parse `smppc(cid)`, `http(cid)`, `smpps(user)`; a bare name is an SMPP client connector.
    pub fn parse(s: &str) -> Result<ConnectorRef, String> {
        let s = s.trim();
        let inner = |p: &str| {
            s.strip_prefix(p)
                .and_then(|r| r.strip_suffix(')'))
                .map(str::to_string)
        };
        for (p, make) in [
            ("smppc(", ConnectorRef::Smppc as fn(String) -> ConnectorRef),
            ("http(", ConnectorRef::Http),
            ("smpps(", ConnectorRef::Smpps),
        ] {
            if let Some(c) = inner(p) {
                if c.is_empty() || c.contains(['(', ')', ' ', ';']) {
                    return Err(format!("invalid connector {s:?}"));
                }
                return Ok(make(c));
            }
        }
        if s.is_empty() || s.contains(['(', ')', ' ', ';']) {
            return Err(format!("invalid connector {s:?}"));
        }
        Ok(ConnectorRef::Smppc(s.to_string()))
    }

    /// The id inside the reference.
    pub fn id(&self) -> &str {
        match self {
            ConnectorRef::Smppc(c) | ConnectorRef::Http(c) | ConnectorRef::Smpps(c) => c,
        }
    }

    /// `smppc`, `http` or `smpps`.
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorRef::Smppc(_) => "smppc",
            ConnectorRef::Http(_) => "http",
            ConnectorRef::Smpps(_) => "smpps",
        }
    }
}

impl std::fmt::Display for ConnectorRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.kind(), self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_refs_parse_and_print() {
        assert_eq!(
            ConnectorRef::parse("smppc(a)").unwrap(),
            ConnectorRef::Smppc("a".into())
        );
        assert_eq!(
            ConnectorRef::parse(" http(h_1) ").unwrap(),
            ConnectorRef::Http("h_1".into())
        );
        assert_eq!(
            ConnectorRef::parse("smpps(user_1)").unwrap(),
            ConnectorRef::Smpps("user_1".into())
        );
        assert_eq!(
            ConnectorRef::parse("bare").unwrap(),
            ConnectorRef::Smppc("bare".into())
        );
        for bad in ["", "smppc()", "http(a b)", "x(y)", "a;b"] {
            assert!(ConnectorRef::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(ConnectorRef::Http("x".into()).to_string(), "http(x)");
    }
}
