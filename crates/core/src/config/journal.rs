//! `[journal]`: every phase of every message kept for a while, for the management API's
//! message search and timelines (see `smsgate_queue::journal`).
//!
//! ```toml
//! [journal]
//! enabled = true           # the default (about 5% of the CPU per message, see the README)
//! retention_hours = 24     # phases older than this are deleted
//! max_messages = 2000000   # and the oldest beyond this many messages
//! # path = "/var/lib/smsgate/journal.db"   # default: data_dir/journal.db
//! # url = "postgres://smsgate@db/smsgate"  # one journal for every node of a cluster
//! #                                         # (default in cluster mode: store.history_url)
//! ```

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The `[journal]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalConfig {
    /// Keep the journal (on by default; off, the management API's message search answers
    /// 503).
    pub enabled: bool,
    /// How long a message's phases are kept, in hours.
    pub retention_hours: u64,
    /// Messages kept at most (the oldest go first), bounding the file's size (about 300
    /// bytes per message).
    pub max_messages: u64,
    /// The journal's SQLite file; default `data_dir/journal.db`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// A PostgreSQL URL: the journal of every node of a cluster in one database, so a
    /// message accepted on one node and sent by another has one timeline. Default in
    /// cluster mode: `store.history_url` (when set); otherwise the SQLite file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            enabled: true,
            retention_hours: 24,
            max_messages: 2_000_000,
            path: None,
            url: None,
        }
    }
}

impl JournalConfig {
    /// The section's own errors.
    pub fn check(&self) -> Result<(), String> {
        if self.enabled && (self.retention_hours == 0 || self.max_messages == 0) {
            return Err(
                "key `journal.retention_hours`/`journal.max_messages`: 0 keeps nothing; set `journal.enabled = false` instead"
                    .into(),
            );
        }
        if self.url.is_some() && self.path.is_some() {
            return Err(
                "key `journal.url`/`journal.path`: the journal is either in PostgreSQL or in a file; set one"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_is_in_a_file_or_in_postgres_not_both() {
        assert!(JournalConfig::default().check().is_ok());
        let both = JournalConfig {
            path: Some("/var/lib/smsgate/journal.db".into()),
            url: Some("postgres://db/smsgate".into()),
            ..Default::default()
        };
        let err = both.check().expect_err("both");
        assert!(err.contains("journal.url"), "{err}");
    }
}
