//! Message helpers (Jasmin's `routable.addTag`, `hasTag`, `lockPduParam`, ...).

use crate::{Address, Routable};

/// Helpers on [`Routable`].
pub trait RoutableExt {
    /// Add a routing tag (no duplicate).
    fn add_tag(&mut self, tag: &str);
    /// Is the tag set?
    fn has_tag(&self, tag: &str) -> bool;
    /// Remove a tag.
    fn remove_tag(&mut self, tag: &str);
    /// Lock a PDU parameter (`source_addr`, `destination_addr`, `priority`, ...) so connector
    /// defaults do not overwrite it.
    fn lock(&mut self, param: &str);
    /// Set the sender and lock it.
    fn set_source(&mut self, addr: &str);
    /// The content as text ("" for binary content).
    fn text(&self) -> &str;
}

impl RoutableExt for Routable {
    fn add_tag(&mut self, tag: &str) {
        if !self.has_tag(tag) {
            self.tags.push(tag.to_string());
        }
    }
    fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
    fn remove_tag(&mut self, tag: &str) {
        self.tags.retain(|t| t != tag);
    }
    fn lock(&mut self, param: &str) {
        if !self.locked.iter().any(|p| p == param) {
            self.locked.push(param.to_string());
        }
    }
    fn set_source(&mut self, addr: &str) {
        let alnum = addr.chars().any(|c| !c.is_ascii_digit() && c != '+');
        self.source = Address {
            addr: addr.to_string(),
            ton: if alnum { 5 } else { self.source.ton },
            npi: if alnum { 0 } else { self.source.npi },
        };
        self.lock("source_addr");
        self.lock("source_addr_ton");
        self.lock("source_addr_npi");
    }
    fn text(&self) -> &str {
        self.text.as_deref().unwrap_or("")
    }
}
