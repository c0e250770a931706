//! Retarus' SMS jobs API on the REST listener: `POST /rest/v1/jobs`, `GET /rest/v1/jobs`,
//! `GET /rest/v1/jobs/{jobId}`, `GET /rest/v1/sms?jobId=`, `GET /rest/v1/version`.
//!
//! A job is a durable batch ([`crate::batch`]); each recipient becomes a history row
//! ([`smsgate_queue::history`]) when it is sent, whose status follows the gateway's message record:
//! `SUC_ACC` once the SMSC accepted it, `SUC_FIN` on a `DELIVRD` receipt, `FAI_*` on a
//! failure. Errors have no body, as the API specifies.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::{Method, Request, StatusCode};
use parking_lot::Mutex;
use rand::Rng;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::api::Resp;
use super::rest::{basic_auth, empty, json_raw, read_body, BodyError, RestState};
use crate::batch::{self, BatchJob, JobGroup, JobKind, Outcome, Recipient, RetarusOptions};
use smsgate_core::config::{ContentEncoding, DefaultAlphabet, Unrepresentable};
use smsgate_core::model::message::now_ms;
use smsgate_queue::history::{History, JobQuery, JobRecord, SmsRecord};
use smsgate_queue::store::Store;
use smsgate_sms::content;

const KIND: &str = "retarus";
const DAY_MS: i64 = 86_400_000;

/// Requests per user in a sliding 10 s window (429 beyond `max`).
#[derive(Default)]
pub struct RateLimiter {
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// Count a request of `user`; false when it is over `max` in the last 10 s.
    pub fn allow(&self, user: &str, max: u32) -> bool {
        let now = Instant::now();
        let mut m = self.seen.lock();
        if m.len() > 10_000 {
            m.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t).as_secs() < 10)
            });
        }
        let q = m.entry(user.to_string()).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(10))
        {
            q.pop_front();
        }
        if q.len() >= max as usize {
            return false;
        }
        q.push_back(now);
        true
    }
}

/// ISO-8601 with milliseconds and offset, as retarus writes timestamps.
pub fn iso(ms: i64, offset: time::UtcOffset) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory]:[offset_minute]"
    );
    t.format(fmt).unwrap_or_default()
}

/// Parse an ISO-8601 (RFC 3339) timestamp to ms since the epoch.
pub fn parse_iso(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn parse_period(v: &Value) -> Option<(i64, i64)> {
    let s = v.as_str()?;
    let (a, b) = s.split_once('/')?;
    let (a, b) = (parse_iso(a)?, parse_iso(b)?);
    (a < b).then_some((a, b))
}

fn new_job_id(now: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(now) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!(
        "[year][month][day]-[hour][minute][second].[subsecond digits:3]"
    );
    let tail: String = rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(18)
        .map(char::from)
        .collect();
    format!("J.{}-{tail}", t.format(fmt).unwrap_or_default())
}

/// The smsId of recipient `idx` of job `job_id`.
pub fn sms_id(job_id: &str, idx: u64) -> String {
    format!(
        "S.{}-{:05}",
        job_id.strip_prefix("J.").unwrap_or(job_id),
        idx + 1
    )
}

/// The history row of a recipient just handled.
pub fn new_row(job: &BatchJob, idx: u64, r: &Recipient, outcome: &Outcome) -> SmsRecord {
    let now = now_ms();
    let mut extra = json!({ "smsId": sms_id(&job.id, idx) });
    if let Some(c) = &r.customer_ref {
        extra["customerRef"] = Value::String(c.clone());
    }
    let (id, status, reason, done) = match outcome {
        Outcome::Sent(id) => (id.to_string(), String::new(), String::new(), false),
        Outcome::Failed(why) => (
            format!("{}:{idx}", job.id),
            "FAI_REJ".to_string(),
            why.clone(),
            true,
        ),
    };
    SmsRecord {
        id,
        job_id: Some(job.id.clone()),
        idx,
        user: job.user.clone(),
        dst: r.to.clone(),
        created_at: now,
        sent_at: None,
        finished_at: done.then_some(now),
        status,
        reason,
        done,
        extra,
    }
}

/// Retarus status of a gateway message record status: (status, reason, final).
fn status_of(rec: &str, status_requested: bool) -> (&'static str, String, bool) {
    match rec {
        "ESME_ROK" | "ACCEPTD" | "ENROUTE" => ("SUC_ACC", "Accepted.".into(), !status_requested),
        "DELIVRD" => ("SUC_FIN", "Delivered to destination.".into(), true),
        "EXPIRED" => ("FAI_EXP", "Expired.".into(), true),
        "UNDELIV" | "REJECTD" | "DELETED" | "UNKNOWN" => {
            ("FAI_UND", format!("Not delivered ({rec})."), true)
        }
        other => ("FAI_REJ", format!("Refused ({other})."), true),
    }
}

/// Bring rows that are not final up to date with their message records; returns the rows
/// (updated) and persists the changes.
pub async fn refresh(
    history: &dyn History,
    store: &dyn Store,
    rows: Vec<SmsRecord>,
    requested: &(dyn Fn(&str) -> bool + Sync),
) -> Vec<SmsRecord> {
    let mut changed = vec![];
    let mut out = Vec::with_capacity(rows.len());
    for mut r in rows {
        if !r.done && !r.id.contains(':') {
            if let Ok(Some(rec)) = store.record_get(&r.id).await {
                let job = r.job_id.clone().unwrap_or_default();
                let (status, reason, done) = status_of(&rec.status, requested(&job));
                if r.status != status || r.done != done {
                    if r.sent_at.is_none() && rec.smsc_id.is_some() {
                        r.sent_at = Some(rec.updated_at);
                    }
                    r.status = status.to_string();
                    r.reason = reason;
                    r.done = done;
                    if done {
                        r.finished_at = Some(rec.updated_at);
                        if r.sent_at.is_none() && status.starts_with("SUC") {
                            r.sent_at = Some(rec.updated_at);
                        }
                    }
                    changed.push(r.clone());
                }
            }
        }
        out.push(r);
    }
    if !changed.is_empty() {
        let jobs: Vec<String> = changed
            .iter()
            .filter(|r| r.done)
            .filter_map(|r| r.job_id.clone())
            .collect();
        if let Err(e) = history.put_sms(changed).await {
            tracing::warn!(error = %e, "retarus: cannot update reports");
        }
        let mut jobs = jobs;
        jobs.sort();
        jobs.dedup();
        for j in jobs {
            check_finished(history, &j).await;
        }
    }
    out
}

/// Mark the job finished once every recipient has a final row.
pub async fn check_finished(history: &dyn History, job_id: &str) {
    let Ok(Some(job)) = history.get_job(job_id).await else {
        return;
    };
    if job.finished_at.is_some() {
        return;
    }
    let Ok(rows) = history.job_sms(job_id).await else {
        return;
    };
    let mut last: HashMap<u64, &SmsRecord> = HashMap::new();
    for r in &rows {
        last.insert(r.idx, r);
    }
    if last.len() as u64 >= job.total && last.values().all(|r| r.done) {
        let at = last
            .values()
            .filter_map(|r| r.finished_at)
            .max()
            .unwrap_or_else(now_ms);
        let _ = history.finish_job(job_id, at).await;
    }
}

fn status_requested(job: &JobRecord) -> bool {
    job.report
        .get("statusRequested")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Keep reports moving without readers: refresh open rows every second; prune old ones.
pub async fn refresher(
    history: Arc<dyn History>,
    store: Arc<dyn Store>,
    retention_days: u64,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_prune: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        let rows = match history.open_sms(2_000).await {
            Ok(r) => r,
            Err(_) => continue,
        };
        if !rows.is_empty() {
            let mut req: HashMap<String, bool> = HashMap::new();
            for r in &rows {
                if let Some(j) = &r.job_id {
                    if !req.contains_key(j) {
                        let v = matches!(history.get_job(j).await, Ok(Some(ref jr)) if status_requested(jr));
                        req.insert(j.clone(), v);
                    }
                }
            }
            let f = |j: &str| req.get(j).copied().unwrap_or(false);
            refresh(history.as_ref(), store.as_ref(), rows, &f).await;
        }
        if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
            last_prune = Some(Instant::now());
            let before = now_ms() - (retention_days.max(1) as i64) * DAY_MS;
            if let Ok(n) = history.prune(before).await {
                if n > 0 {
                    tracing::info!(rows = n, "pruned old reports");
                }
            }
        }
    }
}

/// Route a retarus request.
pub async fn handle(state: &RestState, req: Request<hyper::body::Incoming>, ip: IpAddr) -> Resp {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let route = match (method.clone(), path.as_str()) {
        (Method::GET, "/rest/v1/version") => {
            return json_raw(
                StatusCode::OK,
                json!({
                    "buildNumber": 1,
                    "buildTimestamp": "2026-11-23 00:00:00 +0000",
                    "majorVersion": 2015,
                    "minorVersion": 10,
                    "versionInfo": "REST Interface",
                    "message": format!("smsgate {}", env!("CARGO_PKG_VERSION")),
                })
                .to_string(),
            )
        }
        (Method::POST, "/rest/v1/jobs") => 1,
        (Method::GET, "/rest/v1/jobs") => 2,
        (Method::GET, p) if p.starts_with("/rest/v1/jobs/") => 3,
        (Method::GET, "/rest/v1/sms") => 4,
        (_, "/rest/v1/version" | "/rest/v1/jobs" | "/rest/v1/sms") => {
            return empty(StatusCode::METHOD_NOT_ALLOWED)
        }
        (_, p) if p.starts_with("/rest/v1/jobs/") => return empty(StatusCode::METHOD_NOT_ALLOWED),
        _ => return empty(StatusCode::NOT_FOUND),
    };
    let Some((username, password)) = basic_auth(req.headers()) else {
        return empty(StatusCode::UNAUTHORIZED);
    };
    let user = match state.pipeline.authenticate(&username, &password, ip).await {
        Ok(u) => u,
        Err(_) => return empty(StatusCode::UNAUTHORIZED),
    };
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    match route {
        1 => {
            if !state
                .retarus
                .allow(&user.username, state.cfg.retarus_max_requests_per_10s)
            {
                return empty(StatusCode::TOO_MANY_REQUESTS);
            }
            post_job(state, req, &user.username).await
        }
        2 => list_jobs(state, &user.username, &query).await,
        3 => {
            let id = path.trim_start_matches("/rest/v1/jobs/");
            job_report(state, &user.username, id).await
        }
        _ => {
            let Some(id) = query.iter().find(|(k, _)| k == "jobId").map(|(_, v)| v) else {
                return empty(StatusCode::BAD_REQUEST);
            };
            sms_report(state, &user.username, id).await
        }
    }
}

/// Why a job request is refused: 400 (bad options) or 422 (bad content).
enum Invalid {
    Bad,
    Unprocessable,
}

fn opt_str(o: &Map<String, Value>, k: &str) -> Result<Option<String>, Invalid> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        _ => Err(Invalid::Bad),
    }
}
fn opt_bool(o: &Map<String, Value>, k: &str) -> Result<Option<bool>, Invalid> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        _ => Err(Invalid::Bad),
    }
}
fn opt_u64(o: &Map<String, Value>, k: &str) -> Result<Option<u64>, Invalid> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or(Invalid::Bad),
        _ => Err(Invalid::Bad),
    }
}
fn periods(o: &Map<String, Value>, k: &str) -> Result<Vec<(i64, i64)>, Invalid> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| parse_period(v).ok_or(Invalid::Bad))
            .collect(),
        _ => Err(Invalid::Bad),
    }
}

const OPTION_KEYS: &[&str] = &[
    "src",
    "encoding",
    "billcode",
    "statusRequested",
    "flash",
    "customerRef",
    "validityMin",
    "maxParts",
    "invalidCharacters",
    "qos",
    "jobPeriod",
    "duplicateDetection",
    "blackoutPeriods",
];

struct Parsed {
    options: RetarusOptions,
    not_before: Option<i64>,
    duplicate_detection: bool,
    groups: Vec<JobGroup>,
    total: u64,
}

fn parse_job(state: &RestState, doc: &Map<String, Value>) -> Result<Parsed, Invalid> {
    if doc.keys().any(|k| k != "options" && k != "messages") {
        return Err(Invalid::Bad);
    }
    let empty_map = Map::new();
    let o = match doc.get("options") {
        None | Some(Value::Null) => &empty_map,
        Some(Value::Object(o)) => o,
        _ => return Err(Invalid::Bad),
    };
    if o.keys().any(|k| !OPTION_KEYS.contains(&k.as_str())) {
        return Err(Invalid::Bad);
    }
    let src = opt_str(o, "src")?;
    if src
        .as_ref()
        .is_some_and(|s| s.is_empty() || s.chars().count() > 20)
    {
        return Err(Invalid::Bad);
    }
    let encoding = opt_str(o, "encoding")?.unwrap_or_else(|| "standard".into());
    let coding = match encoding.to_ascii_lowercase().as_str() {
        "standard" => None,
        "utf-16" | "utf16" => Some(8u8),
        _ => return Err(Invalid::Bad),
    };
    let billcode = opt_str(o, "billcode")?;
    let status_requested = opt_bool(o, "statusRequested")?.unwrap_or(false);
    let flash = opt_bool(o, "flash")?.unwrap_or(false);
    let customer_ref = opt_str(o, "customerRef")?;
    let validity_min = opt_u64(o, "validityMin")?;
    if validity_min.is_some_and(|v| !(1..=7 * 24 * 60).contains(&v)) {
        return Err(Invalid::Bad);
    }
    let max_parts = opt_u64(o, "maxParts")?;
    if max_parts.is_some_and(|v| !(1..=255).contains(&v)) {
        return Err(Invalid::Bad);
    }
    let transliterate = match opt_str(o, "invalidCharacters")?.as_deref() {
        None | Some("REFUSE") => false,
        Some("TRANSLITERATE") | Some("REPLACE") => true,
        Some(_) => return Err(Invalid::Bad),
    };
    let qos = opt_str(o, "qos")?.unwrap_or_else(|| "EXPRESS".into());
    let priority = match qos.as_str() {
        "EXPRESS" => 1,
        "NORMAL" => 0,
        _ => return Err(Invalid::Bad),
    };
    let not_before = match opt_str(o, "jobPeriod")? {
        Some(s) => Some(parse_iso(&s).ok_or(Invalid::Bad)?),
        None => None,
    };
    let duplicate_detection = opt_bool(o, "duplicateDetection")?.unwrap_or(false);
    let blackouts = periods(o, "blackoutPeriods")?;

    let Some(Value::Array(messages)) = doc.get("messages") else {
        return Err(Invalid::Unprocessable);
    };
    if messages.is_empty() {
        return Err(Invalid::Unprocessable);
    }
    let max = state.cfg.max_batch_recipients as u64;
    let mut groups = Vec::with_capacity(messages.len());
    let mut total = 0u64;
    let parts_limit = max_parts
        .map(|m| m as usize)
        .unwrap_or(state.pipeline.max_parts)
        .min(state.pipeline.max_parts);
    for m in messages {
        let Value::Object(m) = m else {
            return Err(Invalid::Bad);
        };
        if m.keys().any(|k| k != "text" && k != "recipients") {
            return Err(Invalid::Bad);
        }
        let text = match m.get("text") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::String(_)) | None => return Err(Invalid::Unprocessable),
            _ => return Err(Invalid::Bad),
        };
        // The text must fit the encoding (unless transliterated) and maxParts.
        let policy = Unrepresentable::transliterate_or_refuse(transliterate);
        let read = content::read_text(
            text.as_bytes(),
            ContentEncoding::Utf8,
            Some(coding.unwrap_or(0)),
            policy,
        )
        .map_err(|_| Invalid::Unprocessable)?;
        let payload = content::encode(read, DefaultAlphabet::Gsm0338, policy)
            .map_err(|_| Invalid::Unprocessable)?;
        content::split(&payload, state.pipeline.split, parts_limit)
            .map_err(|_| Invalid::Unprocessable)?;
        let recipients = match m.get("recipients") {
            Some(Value::Array(a)) if !a.is_empty() => a,
            Some(Value::Array(_)) | None => return Err(Invalid::Unprocessable),
            _ => return Err(Invalid::Bad),
        };
        total += recipients.len() as u64;
        if total > max {
            return Err(Invalid::Bad);
        }
        let mut rs = Vec::with_capacity(recipients.len());
        for r in recipients {
            let Value::Object(r) = r else {
                return Err(Invalid::Bad);
            };
            if r.keys()
                .any(|k| !matches!(k.as_str(), "dst" | "customerRef" | "blackoutPeriods"))
            {
                return Err(Invalid::Bad);
            }
            let dst = match r.get("dst") {
                Some(Value::String(s)) => s.clone(),
                None => return Err(Invalid::Unprocessable),
                _ => return Err(Invalid::Bad),
            };
            let digits = dst.strip_prefix('+').unwrap_or(&dst);
            if !(3..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Invalid::Unprocessable);
            }
            rs.push(Recipient {
                to: dst,
                customer_ref: opt_str(r, "customerRef")?,
                blackouts: periods(r, "blackoutPeriods")?,
            });
        }
        groups.push(JobGroup {
            args: vec![],
            text: Some(text),
            recipients: rs,
        });
    }
    let mut report = Map::new();
    if let Some(s) = &src {
        report.insert("src".into(), json!(s));
    }
    report.insert(
        "encoding".into(),
        json!(if coding.is_some() {
            "utf-16"
        } else {
            "standard"
        }),
    );
    if let Some(b) = &billcode {
        report.insert("billcode".into(), json!(b));
    }
    report.insert("statusRequested".into(), json!(status_requested));
    report.insert("flash".into(), json!(flash));
    if let Some(v) = validity_min {
        report.insert("validityMin".into(), json!(v));
    }
    if let Some(c) = &customer_ref {
        report.insert("customerRef".into(), json!(c));
    }
    report.insert("qos".into(), json!(qos));
    Ok(Parsed {
        options: RetarusOptions {
            src,
            coding,
            flash,
            status_requested,
            validity_min,
            max_parts: max_parts.map(|m| m as usize),
            transliterate,
            priority,
            blackouts,
            report: Value::Object(report),
        },
        not_before,
        duplicate_detection,
        groups,
        total,
    })
}

async fn post_job(state: &RestState, req: Request<hyper::body::Incoming>, user: &str) -> Resp {
    let body = match read_body(
        req,
        state.cfg.max_body_bytes,
        Duration::from_millis(state.cfg.body_read_timeout_ms),
    )
    .await
    {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return empty(StatusCode::PAYLOAD_TOO_LARGE),
        Err(BodyError::Timeout) => return empty(StatusCode::REQUEST_TIMEOUT),
    };
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(&body) else {
        return empty(StatusCode::BAD_REQUEST);
    };
    let parsed = match parse_job(state, &doc) {
        Ok(p) => p,
        Err(Invalid::Bad) => return empty(StatusCode::BAD_REQUEST),
        Err(Invalid::Unprocessable) => return empty(StatusCode::UNPROCESSABLE_ENTITY),
    };
    let mut dup_key = None;
    if parsed.duplicate_detection {
        // Same user, same messages and options (serde_json maps are ordered: canonical).
        let mut h = Sha256::new();
        h.update(user.as_bytes());
        h.update([0]);
        h.update(Value::Object(doc.clone()).to_string().as_bytes());
        let key = format!("retarus:dup:{}", hex::encode(h.finalize()));
        let window = Duration::from_secs(state.cfg.retarus_duplicate_window.max(1));
        match state.store.incr_ttl(&key, 1, window).await {
            Ok(1) => dup_key = Some(key),
            Ok(_) => return empty(StatusCode::CONFLICT),
            Err(e) => {
                tracing::error!(error = %e, "retarus: duplicate detection unavailable");
                return empty(StatusCode::INTERNAL_SERVER_ERROR);
            }
        }
    }
    let now = now_ms();
    let id = new_job_id(now);
    let job = BatchJob {
        v: batch::job::JOB_VERSION,
        id: id.clone(),
        kind: JobKind::Retarus,
        user: user.to_string(),
        created_at: now,
        not_before: parsed.not_before,
        callback_url: None,
        errback_url: None,
        groups: parsed.groups,
        total: parsed.total,
        retarus: Some(parsed.options.clone()),
    };
    let record = JobRecord {
        id: id.clone(),
        user: user.to_string(),
        kind: KIND.into(),
        created_at: now,
        finished_at: None,
        total: parsed.total,
        report: parsed.options.report.clone(),
    };
    let stored = async {
        state
            .history
            .put_job(record)
            .await
            .map_err(|e| e.to_string())?;
        state.batches.submit(&job).await.map_err(|e| e.to_string())
    }
    .await;
    if let Err(e) = stored {
        tracing::error!(error = %e, "retarus: cannot store job");
        if let Some(k) = dup_key {
            let _ = state.store.delete(&k).await;
        }
        return empty(StatusCode::INTERNAL_SERVER_ERROR);
    }
    json_raw(StatusCode::CREATED, json!({ "jobId": id }).to_string())
}

async fn list_jobs(state: &RestState, user: &str, q: &[(String, String)]) -> Resp {
    let bad = || empty(StatusCode::BAD_REQUEST);
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    for (k, _) in q {
        if !matches!(
            k.as_str(),
            "fromTs" | "toTs" | "jobIdsOnly" | "limit" | "offset" | "open"
        ) {
            return bad();
        }
    }
    let now = now_ms();
    let to = match get("toTs") {
        Some(s) => match parse_iso(s) {
            Some(t) => t,
            None => return bad(),
        },
        None => now,
    };
    let from = match get("fromTs") {
        Some(s) => match parse_iso(s) {
            Some(t) => t,
            None => return bad(),
        },
        None => to - 30 * DAY_MS,
    };
    if from > to || to - from > 30 * DAY_MS {
        return bad();
    }
    let limit = match get("limit").map(str::parse::<u64>) {
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        _ => return bad(),
    };
    let offset = match get("offset").map(str::parse::<u64>) {
        None => 0,
        Some(Ok(n)) if n <= i64::MAX as u64 => n,
        _ => return bad(),
    };
    match get("jobIdsOnly") {
        None | Some("true") => {}
        _ => return bad(),
    }
    let open = match get("open") {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => return bad(),
    };
    let query = JobQuery {
        user: user.to_string(),
        kind: KIND.into(),
        from,
        to,
        open,
        limit,
        offset,
    };
    match state.history.list_jobs(&query).await {
        Ok(ids) => {
            let list: Vec<Value> = ids.into_iter().map(|id| json!({ "jobId": id })).collect();
            json_raw(StatusCode::OK, Value::Array(list).to_string())
        }
        Err(e) => {
            tracing::error!(error = %e, "retarus: cannot list jobs");
            empty(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

async fn owned_job(state: &RestState, user: &str, id: &str) -> Result<JobRecord, Resp> {
    if id.is_empty() {
        return Err(empty(StatusCode::BAD_REQUEST));
    }
    match state.history.get_job(id).await {
        Ok(Some(j)) if j.user == user && j.kind == KIND => Ok(j),
        Ok(_) => Err(empty(StatusCode::NOT_FOUND)),
        Err(e) => {
            tracing::error!(error = %e, "retarus: cannot read job");
            Err(empty(StatusCode::INTERNAL_SERVER_ERROR))
        }
    }
}

/// The job's rows, latest per recipient, refreshed from the message records.
async fn current_rows(state: &RestState, job: &JobRecord) -> Result<Vec<SmsRecord>, Resp> {
    let rows = state.history.job_sms(&job.id).await.map_err(|e| {
        tracing::error!(error = %e, "retarus: cannot read reports");
        empty(StatusCode::INTERNAL_SERVER_ERROR)
    })?;
    let requested = status_requested(job);
    let f = move |_: &str| requested;
    let rows = refresh(state.history.as_ref(), state.store.as_ref(), rows, &f).await;
    let mut by_idx: std::collections::BTreeMap<u64, SmsRecord> = Default::default();
    for r in rows {
        by_idx.insert(r.idx, r);
    }
    Ok(by_idx.into_values().collect())
}

async fn job_report(state: &RestState, user: &str, id: &str) -> Resp {
    let job = match owned_job(state, user, id).await {
        Ok(j) => j,
        Err(r) => return r,
    };
    if job.finished_at.is_none() {
        let _ = current_rows(state, &job).await;
    }
    let job = match owned_job(state, user, id).await {
        Ok(j) => j,
        Err(r) => return r,
    };
    let mut report = Map::new();
    report.insert("jobId".into(), json!(job.id));
    if let Value::Object(o) = &job.report {
        for (k, v) in o {
            report.insert(k.clone(), v.clone());
        }
    }
    report.insert("receiptTs".into(), json!(iso(job.created_at, state.offset)));
    if let Some(f) = job.finished_at {
        report.insert("finishedTs".into(), json!(iso(f, state.offset)));
    }
    let ids: Vec<Value> = (0..job.total).map(|i| json!(sms_id(&job.id, i))).collect();
    report.insert("recipientIds".into(), Value::Array(ids));
    json_raw(StatusCode::OK, Value::Object(report).to_string())
}

async fn sms_report(state: &RestState, user: &str, id: &str) -> Resp {
    let job = match owned_job(state, user, id).await {
        Ok(j) => j,
        Err(r) => return r,
    };
    let rows = match current_rows(state, &job).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut by_idx: HashMap<u64, SmsRecord> = rows.into_iter().map(|r| (r.idx, r)).collect();
    // Recipients not sent yet come from the stored job.
    let spec = if (by_idx.len() as u64) < job.total {
        state.batches.job(&job.id).await.ok().flatten()
    } else {
        None
    };
    let mut out = Vec::with_capacity(job.total as usize);
    for i in 0..job.total {
        let mut o = Map::new();
        o.insert("smsId".into(), json!(sms_id(&job.id, i)));
        match by_idx.remove(&i) {
            Some(r) => {
                o.insert("dst".into(), json!(r.dst));
                o.insert(
                    "processStatus".into(),
                    json!(if r.done { "DONE" } else { "OPEN" }),
                );
                if !r.status.is_empty() {
                    o.insert("status".into(), json!(r.status));
                }
                if let Some(c) = r.extra.get("customerRef") {
                    o.insert("customerRef".into(), c.clone());
                }
                if !r.reason.is_empty() {
                    o.insert("reason".into(), json!(r.reason));
                }
                if let Some(t) = r.sent_at {
                    o.insert("sentTs".into(), json!(iso(t, state.offset)));
                }
                if let Some(t) = r.finished_at {
                    o.insert("finishedTs".into(), json!(iso(t, state.offset)));
                }
            }
            None => {
                let rcpt = spec.as_ref().and_then(|s| s.recipient(i)).map(|(_, r)| r);
                o.insert(
                    "dst".into(),
                    json!(rcpt.map(|r| r.to.clone()).unwrap_or_default()),
                );
                o.insert("processStatus".into(), json!("OPEN"));
                if let Some(c) = rcpt.and_then(|r| r.customer_ref.clone()) {
                    o.insert("customerRef".into(), json!(c));
                }
            }
        }
        out.push(Value::Object(o));
    }
    json_raw(StatusCode::OK, Value::Array(out).to_string())
}
