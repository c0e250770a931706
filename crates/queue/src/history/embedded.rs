//! The embedded history: two tables in the gateway's SQLite file, written (and read) through
//! the group-committing writer.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};

use super::{History, HistoryError, JobQuery, JobRecord, SmsRecord};
use crate::db::{Db, DbError};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS hist_jobs (
    id          TEXT PRIMARY KEY,
    user        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    finished_at INTEGER,
    total       INTEGER NOT NULL,
    report      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS hist_jobs_by_user ON hist_jobs(user, kind, created_at);
CREATE TABLE IF NOT EXISTS hist_sms (
    id          TEXT PRIMARY KEY,
    job_id      TEXT,
    idx         INTEGER NOT NULL,
    user        TEXT NOT NULL,
    dst         TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    finished_at INTEGER,
    status      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    done        INTEGER NOT NULL,
    extra       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS hist_sms_by_job ON hist_sms(job_id, idx);
CREATE INDEX IF NOT EXISTS hist_sms_open ON hist_sms(done, created_at);
CREATE INDEX IF NOT EXISTS hist_sms_by_age ON hist_sms(created_at);
"#;

impl From<DbError> for HistoryError {
    fn from(e: DbError) -> Self {
        HistoryError::Storage(e.to_string())
    }
}

/// History in the embedded database.
pub struct EmbeddedHistory {
    db: Db,
}

impl EmbeddedHistory {
    /// Create the tables if needed.
    pub async fn open(db: Db) -> Result<EmbeddedHistory, HistoryError> {
        db.write(|c| c.execute_batch(SCHEMA)).await?;
        Ok(EmbeddedHistory { db })
    }
}

fn job_row(r: &Row<'_>) -> rusqlite::Result<JobRecord> {
    let report: String = r.get(6)?;
    Ok(JobRecord {
        id: r.get(0)?,
        user: r.get(1)?,
        kind: r.get(2)?,
        created_at: r.get(3)?,
        finished_at: r.get(4)?,
        total: r.get::<_, i64>(5)?.max(0) as u64,
        report: serde_json::from_str(&report).unwrap_or(serde_json::Value::Null),
    })
}

const SMS_COLS: &str =
    "id, job_id, idx, user, dst, created_at, sent_at, finished_at, status, reason, done, extra";

fn sms_row(r: &Row<'_>) -> rusqlite::Result<SmsRecord> {
    let extra: String = r.get(11)?;
    Ok(SmsRecord {
        id: r.get(0)?,
        job_id: r.get(1)?,
        idx: r.get::<_, i64>(2)?.max(0) as u64,
        user: r.get(3)?,
        dst: r.get(4)?,
        created_at: r.get(5)?,
        sent_at: r.get(6)?,
        finished_at: r.get(7)?,
        status: r.get(8)?,
        reason: r.get(9)?,
        done: r.get::<_, i64>(10)? != 0,
        extra: serde_json::from_str(&extra).unwrap_or(serde_json::Value::Null),
    })
}

#[async_trait]
impl History for EmbeddedHistory {
    async fn put_job(&self, j: JobRecord) -> Result<(), HistoryError> {
        let report = j.report.to_string();
        self.db
            .write(move |c| {
                c.prepare_cached(
                    "INSERT OR REPLACE INTO hist_jobs (id, user, kind, created_at, finished_at, total, report) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![j.id, j.user, j.kind, j.created_at, j.finished_at, j.total as i64, report])?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    async fn get_job(&self, id: &str) -> Result<Option<JobRecord>, HistoryError> {
        let id = id.to_string();
        Ok(self
            .db
            .write(move |c| {
                c.prepare_cached(
                    "SELECT id, user, kind, created_at, finished_at, total, report FROM hist_jobs WHERE id = ?1",
                )?
                .query_row(params![id], job_row)
                .optional()
            })
            .await?)
    }

    async fn finish_job(&self, id: &str, at: i64) -> Result<(), HistoryError> {
        let id = id.to_string();
        self.db
            .write(move |c| {
                c.prepare_cached(
                    "UPDATE hist_jobs SET finished_at = ?2 WHERE id = ?1 AND finished_at IS NULL",
                )?
                .execute(params![id, at])?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    async fn list_jobs(&self, q: &JobQuery) -> Result<Vec<String>, HistoryError> {
        let q = q.clone();
        Ok(self
            .db
            .write(move |c| {
                let open = match q.open {
                    None => "",
                    Some(true) => " AND finished_at IS NULL",
                    Some(false) => " AND finished_at IS NOT NULL",
                };
                let sql = format!(
                    "SELECT id FROM hist_jobs WHERE user = ?1 AND kind = ?2 AND created_at >= ?3 AND created_at <= ?4{open} ORDER BY created_at, id LIMIT ?5 OFFSET ?6"
                );
                let mut st = c.prepare_cached(&sql)?;
                let rows = st
                    .query_map(
                        params![q.user, q.kind, q.from, q.to, q.limit as i64, q.offset as i64],
                        |r| r.get::<_, String>(0),
                    )?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await?)
    }

    async fn put_sms(&self, rows: Vec<SmsRecord>) -> Result<(), HistoryError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.db
            .write(move |c| {
                let mut st = c.prepare_cached(&format!(
                    "INSERT OR REPLACE INTO hist_sms ({SMS_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                ))?;
                for r in rows {
                    st.execute(params![
                        r.id,
                        r.job_id,
                        r.idx as i64,
                        r.user,
                        r.dst,
                        r.created_at,
                        r.sent_at,
                        r.finished_at,
                        r.status,
                        r.reason,
                        r.done as i64,
                        r.extra.to_string()
                    ])?;
                }
                Ok(())
            })
            .await?;
        Ok(())
    }

    async fn get_sms(&self, id: &str) -> Result<Option<SmsRecord>, HistoryError> {
        let id = id.to_string();
        Ok(self
            .db
            .write(move |c| {
                c.prepare_cached(&format!("SELECT {SMS_COLS} FROM hist_sms WHERE id = ?1"))?
                    .query_row(params![id], sms_row)
                    .optional()
            })
            .await?)
    }

    async fn job_sms(&self, job_id: &str) -> Result<Vec<SmsRecord>, HistoryError> {
        let id = job_id.to_string();
        Ok(self
            .db
            .write(move |c| {
                let mut st = c.prepare_cached(&format!(
                    "SELECT {SMS_COLS} FROM hist_sms WHERE job_id = ?1 ORDER BY idx"
                ))?;
                let rows = st
                    .query_map(params![id], sms_row)?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await?)
    }

    async fn open_sms(&self, max: usize) -> Result<Vec<SmsRecord>, HistoryError> {
        Ok(self
            .db
            .write(move |c| {
                let mut st = c.prepare_cached(&format!(
                    "SELECT {SMS_COLS} FROM hist_sms WHERE done = 0 ORDER BY created_at LIMIT ?1"
                ))?;
                let rows = st
                    .query_map(params![max as i64], sms_row)?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await?)
    }

    async fn prune(&self, before: i64) -> Result<u64, HistoryError> {
        Ok(self
            .db
            .write(move |c| {
                let n = c.execute(
                    "DELETE FROM hist_sms WHERE created_at < ?1",
                    params![before],
                )?;
                c.execute(
                    "DELETE FROM hist_jobs WHERE created_at < ?1",
                    params![before],
                )?;
                Ok(n as u64)
            })
            .await?)
    }
}
