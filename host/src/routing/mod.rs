//! Routing: filters, routes and routing tables (MT now; MO and interception tables plug in
//! with the same traits). Adding a filter or route type means adding one `impl` and one arm in
//! its `build` function; the table never changes.

pub mod filter;
pub mod route;
pub mod table;

pub use filter::Filter;
pub use route::Route;
pub use table::RoutingTable;

use crate::model::Message;

/// What filters and routes look at: the message plus facts that are not in it.
#[derive(Debug, Clone, Copy)]
pub struct Routable<'a> {
    pub message: &'a Message,
    /// Decoded text of the content (for ShortMessageFilter), lossy for binary.
    pub text: &'a str,
    /// Sending user's uid (MT) and username.
    pub uid: &'a str,
    pub gid: &'a str,
}

/// A connector reference as jCli writes it: `smppc(cid)`, `http(cid)`, `smpps(user)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
        if let Some(c) = inner("smppc(") {
            return Ok(ConnectorRef::Smppc(c));
        }
        if let Some(c) = inner("http(") {
            return Ok(ConnectorRef::Http(c));
        }
        if let Some(c) = inner("smpps(") {
            return Ok(ConnectorRef::Smpps(c));
        }
        if s.is_empty() || s.contains(['(', ')', ' ']) {
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
}

impl std::fmt::Display for ConnectorRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectorRef::Smppc(c) => write!(f, "smppc({c})"),
            ConnectorRef::Http(c) => write!(f, "http({c})"),
            ConnectorRef::Smpps(c) => write!(f, "smpps({c})"),
        }
    }
}
