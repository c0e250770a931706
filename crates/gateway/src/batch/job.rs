//! What a batch job is: stored once, as accepted, and expanded recipient by recipient as it
//! sends.

use serde::{Deserialize, Serialize};

/// Schema version of [`BatchJob`].
pub const JOB_VERSION: u16 = 1;

/// Which front door the job came through (decides how a recipient becomes an MT request and
/// how results are reported).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Jasmin's `/secure/sendbatch`: `/send` arguments per group, callbacks per message.
    Jasmin,
    /// Retarus' `POST /rest/v1/jobs`: per-recipient reports.
    Retarus,
}

/// A recipient.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Recipient {
    pub to: String,
    /// Retarus `customerRef`.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "r")]
    pub customer_ref: Option<String>,
    /// Retarus per-recipient blackout periods (ms since the epoch, start..end).
    #[serde(default, skip_serializing_if = "Vec::is_empty", rename = "b")]
    pub blackouts: Vec<(i64, i64)>,
}

/// Messages sharing their parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobGroup {
    /// Jasmin: the `/send` arguments (globals merged, without `to` and credentials).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<(String, String)>,
    /// Retarus: the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub recipients: Vec<Recipient>,
}

/// Retarus job options, as they apply to every recipient.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RetarusOptions {
    pub src: Option<String>,
    /// `None` (standard: GSM 03.38) or `Some(8)` (utf-16).
    pub coding: Option<u8>,
    pub flash: bool,
    pub status_requested: bool,
    pub validity_min: Option<u64>,
    pub max_parts: Option<usize>,
    pub transliterate: bool,
    pub priority: u8,
    /// Job-wide blackout periods (ms since the epoch).
    pub blackouts: Vec<(i64, i64)>,
    /// The options as the client gave them (for the job report).
    pub report: serde_json::Value,
}

/// A durable batch job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BatchJob {
    pub v: u16,
    pub id: String,
    pub kind: JobKind,
    /// The user it sends as (authenticated when the job was accepted).
    pub user: String,
    /// ms since the epoch.
    pub created_at: i64,
    /// Not started before (ms since the epoch).
    pub not_before: Option<i64>,
    pub callback_url: Option<String>,
    pub errback_url: Option<String>,
    pub groups: Vec<JobGroup>,
    /// Recipients in all groups.
    pub total: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retarus: Option<RetarusOptions>,
}

impl BatchJob {
    /// The `idx`-th recipient (0-based, across groups) and its group.
    pub fn recipient(&self, idx: u64) -> Option<(&JobGroup, &Recipient)> {
        let mut i = idx as usize;
        for g in &self.groups {
            if i < g.recipients.len() {
                return Some((g, &g.recipients[i]));
            }
            i -= g.recipients.len();
        }
        None
    }

    /// Recipients from `from` on, in order, with their index.
    pub fn recipients_from(
        &self,
        from: u64,
    ) -> impl Iterator<Item = (u64, &JobGroup, &Recipient)> + '_ {
        self.groups
            .iter()
            .flat_map(|g| g.recipients.iter().map(move |r| (g, r)))
            .enumerate()
            .skip(from as usize)
            .map(|(i, (g, r))| (i as u64, g, r))
    }
}

/// How far a job got (kept beside the job in the store).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Progress {
    /// Owner of the job.
    #[serde(default)]
    pub user: String,
    /// Recipients in the job.
    #[serde(default)]
    pub total: u64,
    /// Scheduled start (ms since the epoch).
    #[serde(default)]
    pub not_before: Option<i64>,
    /// Recipients handled (sent or failed), in order.
    pub cursor: u64,
    pub sent: u64,
    pub failed: u64,
    pub started_at: Option<i64>,
    /// Every recipient handled.
    pub done: bool,
    pub finished_at: Option<i64>,
}

/// The first instant at or after `t` outside every period of `periods` (start inclusive,
/// end exclusive). Periods may overlap and come in any order.
pub fn after_blackouts(mut t: i64, periods: &[(i64, i64)]) -> i64 {
    // Each pass moves t to the end of a period containing it; at most one pass per period.
    for _ in 0..=periods.len() {
        match periods.iter().find(|(s, e)| *s <= t && t < *e) {
            Some((_, e)) => t = *e,
            None => break,
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blackouts_chain_and_overlap() {
        let p = [(10, 20), (15, 30), (30, 40), (50, 60)];
        assert_eq!(after_blackouts(5, &p), 5);
        assert_eq!(after_blackouts(10, &p), 40);
        assert_eq!(after_blackouts(45, &p), 45);
        assert_eq!(after_blackouts(55, &p), 60);
        assert_eq!(after_blackouts(60, &p), 60);
    }

    #[test]
    fn recipients_across_groups() {
        let r = |to: &str| Recipient {
            to: to.into(),
            customer_ref: None,
            blackouts: vec![],
        };
        let job = BatchJob {
            v: JOB_VERSION,
            id: "b".into(),
            kind: JobKind::Jasmin,
            user: "u".into(),
            created_at: 0,
            not_before: None,
            callback_url: None,
            errback_url: None,
            groups: vec![
                JobGroup {
                    args: vec![],
                    text: None,
                    recipients: vec![r("1"), r("2")],
                },
                JobGroup {
                    args: vec![],
                    text: None,
                    recipients: vec![r("3")],
                },
            ],
            total: 3,
            retarus: None,
        };
        assert_eq!(job.recipient(2).map(|(_, r)| r.to.as_str()), Some("3"));
        assert!(job.recipient(3).is_none());
        let tos: Vec<_> = job
            .recipients_from(1)
            .map(|(i, _, r)| (i, r.to.clone()))
            .collect();
        assert_eq!(tos, vec![(1, "2".to_string()), (2, "3".to_string())]);
    }
}
