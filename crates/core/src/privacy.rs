//! Log privacy: numbers and message content as they may appear in logs.
//!
//! Every log line that shows an address or a message's content formats it through
//! [`Number`] or [`Content`]. With privacy on (globally with `[log] privacy = true`, or for the
//! messages of one connector with its `logprivacy`, as in Jasmin), a number keeps only its
//! last three digits and content shows only its length.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

static GLOBAL: AtomicBool = AtomicBool::new(false);
static CONNECTORS: RwLock<Option<HashSet<String>>> = RwLock::new(None);

/// Turn global privacy on or off (at start and on reload).
pub fn set_global(on: bool) {
    GLOBAL.store(on, Ordering::Relaxed);
}

/// Is global privacy on?
pub fn global() -> bool {
    GLOBAL.load(Ordering::Relaxed)
}

/// The connectors whose messages are masked (their `logprivacy`), replacing the previous set
/// (at start and whenever the configuration changes).
pub fn set_connectors(cids: impl IntoIterator<Item = String>) {
    let set: HashSet<String> = cids.into_iter().collect();
    if let Ok(mut c) = CONNECTORS.write() {
        *c = (!set.is_empty()).then_some(set);
    }
}

/// Are the messages of connector `cid` masked (globally or by its `logprivacy`)?
pub fn masked(cid: &str) -> bool {
    global()
        || CONNECTORS
            .read()
            .map(|c| c.as_ref().is_some_and(|s| s.contains(cid)))
            .unwrap_or(true)
}

/// An address for a log line: `Number(addr, connector_privacy)`.
pub struct Number<'a>(pub &'a str, pub bool);

impl fmt::Display for Number<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !(self.1 || global()) {
            return f.write_str(self.0);
        }
        let n = self.0.chars().count();
        let keep = if n > 6 { 3 } else { 0 };
        for _ in 0..n - keep {
            f.write_str("*")?;
        }
        let tail: String = self.0.chars().skip(n - keep).collect();
        f.write_str(&tail)
    }
}

/// Message content for a log line: `Content(text, connector_privacy)`, quoted, or
/// `** N characters **` with privacy on.
pub struct Content<'a>(pub &'a str, pub bool);

impl fmt::Display for Content<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.1 || global() {
            write!(f, "** {} characters **", self.0.chars().count())
        } else {
            write!(f, "{:?}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_per_connector_and_globally() {
        assert_eq!(Number("33612345678", false).to_string(), "33612345678");
        assert_eq!(Number("33612345678", true).to_string(), "********678");
        assert_eq!(Number("1234", true).to_string(), "****");
        assert_eq!(Content("hello", false).to_string(), "\"hello\"");
        assert_eq!(Content("héllo", true).to_string(), "** 5 characters **");
    }
}
