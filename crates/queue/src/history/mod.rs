//! Message history behind the REST APIs: what smstools-http-api's `GET /sent/<id>` and
//! retarus' job and recipient reports read.
//!
//! A small trait so the embedded SQLite tables (`embedded.rs`) can later be joined by a
//! PostgreSQL implementation; rows are kept for `[rest-api] report_retention_days`.

pub mod embedded;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Errors from a history store.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("history: {0}")]
    Storage(String),
}

/// A job (retarus job or Jasmin batch) as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: String,
    pub user: String,
    /// `retarus` or `jasmin`.
    pub kind: String,
    /// ms since the epoch.
    pub created_at: i64,
    /// Set once every recipient is done.
    pub finished_at: Option<i64>,
    /// Recipients in the job.
    pub total: u64,
    /// The job's options as reported (JSON object).
    pub report: serde_json::Value,
}

/// One message sent to one recipient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmsRecord {
    /// The gateway message id (or the front door's own id for it).
    pub id: String,
    /// The job it belongs to, if any, and its position there.
    pub job_id: Option<String>,
    pub idx: u64,
    pub user: String,
    pub dst: String,
    /// Accepted by the gateway (ms since the epoch).
    pub created_at: i64,
    /// Accepted by the SMSC.
    pub sent_at: Option<i64>,
    /// Final state reached.
    pub finished_at: Option<i64>,
    /// Front-door specific status (e.g. retarus `SUC_ACC`), empty while unknown.
    pub status: String,
    pub reason: String,
    /// True once final.
    pub done: bool,
    /// Front-door specific extras (e.g. `customerRef`), a JSON object.
    pub extra: serde_json::Value,
}

/// Filter of [`History::list_jobs`].
#[derive(Debug, Clone)]
pub struct JobQuery {
    pub user: String,
    pub kind: String,
    pub from: i64,
    pub to: i64,
    /// `Some(true)`: unfinished only; `Some(false)`: finished only.
    pub open: Option<bool>,
    pub limit: u64,
    pub offset: u64,
}

/// Where reports live.
#[async_trait]
pub trait History: Send + Sync + 'static {
    /// Insert or replace a job.
    async fn put_job(&self, job: JobRecord) -> Result<(), HistoryError>;
    /// A job by id.
    async fn get_job(&self, id: &str) -> Result<Option<JobRecord>, HistoryError>;
    /// Mark a job finished at `at`.
    async fn finish_job(&self, id: &str, at: i64) -> Result<(), HistoryError>;
    /// Job ids matching `q`, oldest first.
    async fn list_jobs(&self, q: &JobQuery) -> Result<Vec<String>, HistoryError>;
    /// Insert or replace message rows (one transaction).
    async fn put_sms(&self, rows: Vec<SmsRecord>) -> Result<(), HistoryError>;
    /// A message row by id.
    async fn get_sms(&self, id: &str) -> Result<Option<SmsRecord>, HistoryError>;
    /// The rows of a job, by position.
    async fn job_sms(&self, job_id: &str) -> Result<Vec<SmsRecord>, HistoryError>;
    /// Rows not final yet, of any job, at most `max` (for the status refresher).
    async fn open_sms(&self, max: usize) -> Result<Vec<SmsRecord>, HistoryError>;
    /// Drop jobs and rows created before `before` (ms). Returns rows dropped.
    async fn prune(&self, before: i64) -> Result<u64, HistoryError>;
}
