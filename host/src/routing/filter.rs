//! Route filters (spec table 38). Each type is one `impl Filter`.

use std::sync::Arc;

use regex::Regex;

use super::Routable;
use crate::config::FilterConfig;

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

/// Matches the source address against a regex.
#[derive(Debug)]
pub struct SourceAddrFilter(pub Regex);
impl Filter for SourceAddrFilter {
    fn kind(&self) -> &'static str {
        "SourceAddrFilter"
    }
    fn matches(&self, r: &Routable<'_>) -> bool {
        self.0.is_match(&r.message.source.addr)
    }
    fn describe(&self) -> String {
        format!("<SA (src_addr={})>", self.0.as_str())
    }
}

/// Matches the destination address against a regex.
#[derive(Debug)]
pub struct DestinationAddrFilter(pub Regex);
impl Filter for DestinationAddrFilter {
    fn kind(&self) -> &'static str {
        "DestinationAddrFilter"
    }
    fn matches(&self, r: &Routable<'_>) -> bool {
        self.0.is_match(&r.message.destination.addr)
    }
    fn describe(&self) -> String {
        format!("<DA (dst_addr={})>", self.0.as_str())
    }
}

/// Matches the message text against a regex.
#[derive(Debug)]
pub struct ShortMessageFilter(pub Regex);
impl Filter for ShortMessageFilter {
    fn kind(&self) -> &'static str {
        "ShortMessageFilter"
    }
    fn matches(&self, r: &Routable<'_>) -> bool {
        self.0.is_match(r.text)
    }
    fn describe(&self) -> String {
        format!("<SM (msg={})>", self.0.as_str())
    }
}

fn regex(field: &str, v: &Option<String>) -> Result<Regex, String> {
    let s = v.as_deref().ok_or(format!("{field} is required"))?;
    Regex::new(s).map_err(|e| format!("{field}: invalid regex: {e}"))
}

/// Build a filter from its configuration.
pub fn build(c: &FilterConfig) -> Result<Arc<dyn Filter>, String> {
    let need = |field: &str, v: &Option<String>| v.clone().ok_or(format!("{field} is required"));
    Ok(match c.kind.as_str() {
        "TransparentFilter" => Arc::new(TransparentFilter),
        "UserFilter" => Arc::new(UserFilter(need("uid", &c.uid)?)),
        "GroupFilter" => Arc::new(GroupFilter(need("gid", &c.gid)?)),
        "SourceAddrFilter" => Arc::new(SourceAddrFilter(regex("source_addr", &c.source_addr)?)),
        "DestinationAddrFilter" => Arc::new(DestinationAddrFilter(regex(
            "destination_addr",
            &c.destination_addr,
        )?)),
        "ShortMessageFilter" => Arc::new(ShortMessageFilter(regex(
            "short_message",
            &c.short_message,
        )?)),
        other => return Err(format!("unknown filter type {other:?}")),
    })
}
