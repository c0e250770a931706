//! Durable batch jobs: Jasmin's `/secure/sendbatch` and retarus' `POST /rest/v1/jobs`.
//!
//! A job is stored once as accepted (the store key `batch:<id>`, one JSON document however
//! many recipients it has) and a small envelope is published on the broker queue
//! [`BATCH_QUEUE`] (its `not_before` is the job's schedule). A worker takes the envelope and
//! expands the recipients one by one through the MT pipeline (credentials, routing, billing,
//! DLR tracking exactly as `/send`), a window at a time, saving its cursor in
//! `batch:<id>:progress`. The envelope is acknowledged only when every recipient is handled,
//! so a job interrupted by a stop or a crash comes back and resumes at its cursor (the last
//! window before a crash may be sent twice, like any redelivered message). The expansion
//! follows the connector: it pauses while the connector's queue holds more than
//! `batch_max_backlog` ready messages, and `batch_throughput` caps it if set.

pub mod callbacks;
pub mod job;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesOrdered, StreamExt};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::http::api::{self, ApiState, Args};
pub use job::{BatchJob, JobGroup, JobKind, Progress, Recipient, RetarusOptions};
use smsgate_core::config::{ContentEncoding, RestApiConfig, ThrowerConfig, Unrepresentable};
use smsgate_core::model::message::now_ms;
use smsgate_core::model::{Channel, Direction, Message, User};
use smsgate_policy::admission::{Door, OverRate};
use smsgate_policy::pipeline::{Asked, Content, MtError, MtRequest, Pipeline};
use smsgate_queue::broker::{submit_queue, Broker, Delivery};
use smsgate_queue::history::{History, SmsRecord};
use smsgate_queue::store::{Store, StoreError};

/// Queue of batch job envelopes.
pub const BATCH_QUEUE: &str = "rest.batch";
/// Queue of batch callbacks (`callback_url` / `errback_url`).
pub const CALLBACK_QUEUE: &str = "rest.batch.callback";

/// Errors of the batch service.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Broker(#[from] smsgate_queue::broker::BrokerError),
    #[error("unreadable job: {0}")]
    Json(#[from] serde_json::Error),
}

fn spec_key(id: &str) -> String {
    format!("batch:{id}")
}
fn progress_key(id: &str) -> String {
    format!("batch:{id}:progress")
}

/// What one recipient came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Accepted by the pipeline with this message id.
    Sent(uuid::Uuid),
    /// Refused: the refusal as the front door reports it.
    Failed(String),
}

/// What the batch service needs.
pub struct BatchDeps {
    pub pipeline: Arc<Pipeline>,
    /// For Jasmin's refusal texts and the HTTP API counters.
    pub api: Arc<ApiState>,
    pub broker: Arc<dyn Broker>,
    pub store: Arc<dyn Store>,
    pub history: Arc<dyn History>,
    pub cfg: RestApiConfig,
    pub thrower: ThrowerConfig,
}

/// The batch service.
pub struct Batches {
    pub deps: BatchDeps,
}

impl Batches {
    /// A batch service on `deps`.
    pub fn new(deps: BatchDeps) -> Arc<Batches> {
        Arc::new(Batches { deps })
    }

    fn retention(&self) -> Duration {
        Duration::from_secs(self.deps.cfg.report_retention_days.max(1) * 86_400)
    }

    /// Store `job` durably and queue it. Returns once both are durable.
    pub async fn submit(&self, job: &BatchJob) -> Result<(), BatchError> {
        let body = serde_json::to_vec(job)?;
        let d = &self.deps;
        d.store
            .set(&spec_key(&job.id), &body, Some(self.retention()))
            .await?;
        let p = serde_json::to_vec(&Progress {
            user: job.user.clone(),
            total: job.total,
            not_before: job.not_before,
            ..Progress::default()
        })?;
        d.store
            .set(&progress_key(&job.id), &p, Some(self.retention()))
            .await?;
        let now = now_ms();
        let env = Message {
            user: Some(job.user.clone()),
            batch_id: Some(job.id.clone()),
            not_before: job.not_before.filter(|t| *t > now),
            expires_at: i64::MAX / 2,
            ..Message::new(Direction::Mt, Channel::Rest, now)
        };
        d.broker.publish(BATCH_QUEUE, &env).await?;
        Ok(())
    }

    /// A stored job.
    pub async fn job(&self, id: &str) -> Result<Option<BatchJob>, BatchError> {
        match self.deps.store.get(&spec_key(id)).await? {
            Some(b) => Ok(Some(serde_json::from_slice(&b)?)),
            None => Ok(None),
        }
    }

    /// A job's progress.
    pub async fn progress(&self, id: &str) -> Result<Option<Progress>, BatchError> {
        match self.deps.store.get(&progress_key(id)).await? {
            Some(b) => Ok(Some(serde_json::from_slice(&b)?)),
            None => Ok(None),
        }
    }

    /// Start the job workers and the callback sender; they stop with `stop`.
    pub fn spawn(self: &Arc<Self>, stop: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
        let cb = callbacks::CallbackSender::new(
            self.deps.broker.clone(),
            self.deps.thrower.clone(),
            self.deps.pipeline.callbacks.clone(),
        );
        vec![
            tokio::spawn(self.clone().run(stop.clone())),
            tokio::spawn(cb.run(stop)),
        ]
    }

    async fn run(self: Arc<Self>, stop: CancellationToken) {
        let workers = Arc::new(Semaphore::new(self.deps.cfg.batch_workers.max(1)));
        let tracker = tokio_util::task::TaskTracker::new();
        loop {
            let permit = tokio::select! {
                p = workers.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                _ = stop.cancelled() => break,
            };
            tokio::select! {
                _ = self.deps.broker.wait_ready(BATCH_QUEUE) => {}
                _ = stop.cancelled() => break,
            }
            let ds = match self.deps.broker.receive(BATCH_QUEUE, 1).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "batch queue unavailable");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Some(d) = ds.into_iter().next() {
                let me = self.clone();
                let stop = stop.clone();
                tracker.spawn(async move {
                    me.run_job(d, stop).await;
                    drop(permit);
                });
            }
        }
        tracker.close();
        tracker.wait().await;
        let _ = self.deps.broker.release_all(BATCH_QUEUE).await;
    }

    async fn run_job(&self, d: Delivery, stop: CancellationToken) {
        let Some(id) = d.message.batch_id.clone() else {
            let _ = self.deps.broker.ack(BATCH_QUEUE, d.tag).await;
            return;
        };
        let job = match self.job(&id).await {
            Ok(Some(j)) => j,
            Ok(None) => {
                tracing::warn!(batch = %id, "batch job expired or missing: dropped");
                let _ = self.deps.broker.ack(BATCH_QUEUE, d.tag).await;
                return;
            }
            Err(e) => {
                tracing::error!(batch = %id, error = %e, "batch job unreadable: retrying later");
                let _ = self
                    .deps
                    .broker
                    .requeue(BATCH_QUEUE, d.tag, &d.message, Duration::from_secs(5))
                    .await;
                return;
            }
        };
        let mut progress = self.progress(&id).await.ok().flatten().unwrap_or_default();
        if progress.started_at.is_none() {
            progress.started_at = Some(now_ms());
        }
        if d.redelivered {
            tracing::info!(batch = %id, cursor = progress.cursor, "resuming batch");
        }
        let finished = self.expand(&job, &mut progress, &stop).await;
        if finished {
            progress.done = true;
            progress.finished_at = Some(now_ms());
        }
        if let Err(e) = self.save_progress(&id, &progress).await {
            tracing::error!(batch = %id, error = %e, "cannot save batch progress");
        }
        if finished {
            tracing::info!(batch = %id, sent = progress.sent, failed = progress.failed, "batch done");
            if job.kind == JobKind::Retarus {
                crate::http::retarus::check_finished(self.deps.history.as_ref(), &job.id).await;
            }
            if let Err(e) = self.deps.broker.ack(BATCH_QUEUE, d.tag).await {
                tracing::error!(batch = %id, error = %e, "batch ack failed");
            }
        }
    }

    async fn save_progress(&self, id: &str, p: &Progress) -> Result<(), BatchError> {
        let b = serde_json::to_vec(p)?;
        self.deps
            .store
            .set(&progress_key(id), &b, Some(self.retention()))
            .await?;
        Ok(())
    }

    /// Send the recipients from the cursor on; true when all are handled.
    async fn expand(
        &self,
        job: &BatchJob,
        progress: &mut Progress,
        stop: &CancellationToken,
    ) -> bool {
        let d = &self.deps;
        let window = d.cfg.batch_window.max(1);
        let user = d.pipeline.auth.user(&job.user);
        let rate = d.cfg.batch_throughput;
        let step = (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
        let mut next_slot = tokio::time::Instant::now();
        let mut inflight = FuturesOrdered::new();
        let mut rows: Vec<SmsRecord> = vec![];
        let mut last_save = tokio::time::Instant::now();
        let mut since_save = 0usize;
        let mut cid: Option<String> = None;
        let mut n = 0u64;
        let mut iter = job.recipients_from(progress.cursor).peekable();
        let mut interrupted = false;
        loop {
            if stop.is_cancelled() {
                interrupted = true;
            }
            let more = !interrupted && iter.peek().is_some();
            // Start the next recipient when the window, the pace and the connector allow it;
            // meanwhile keep the recipients in flight moving.
            let mut may_start = more && inflight.len() < window;
            let mut waiting = false;
            if may_start {
                let now = tokio::time::Instant::now();
                let mut wait = None;
                if step.is_some() && next_slot > now {
                    wait = Some(next_slot);
                } else if n > 0 && n.is_multiple_of(32) {
                    if let Some(c) = &cid {
                        if let Ok(s) = d.broker.stats(&submit_queue(c)).await {
                            if s.ready > d.cfg.batch_max_backlog {
                                wait = Some(now + Duration::from_millis(20));
                            }
                        }
                    }
                }
                if let Some(until) = wait {
                    may_start = false;
                    waiting = true;
                    if inflight.is_empty() {
                        tokio::select! {
                            _ = tokio::time::sleep_until(until) => {}
                            _ = stop.cancelled() => {}
                        }
                        if step.is_none() {
                            // Backlog: look again before starting.
                            continue;
                        }
                        may_start = true;
                    }
                }
            }
            if may_start {
                if let Some((idx, g, r)) = iter.next() {
                    if let Some(step) = step {
                        next_slot = next_slot.max(tokio::time::Instant::now() - step * 4) + step;
                    }
                    n += 1;
                    inflight.push_back(self.send_one(job, user.clone(), idx, g, r));
                    continue;
                }
            }
            let next = if waiting && !inflight.is_empty() {
                // Waiting for the pace or the backlog: take a completion or time out.
                let until = if step.is_some() {
                    next_slot
                } else {
                    tokio::time::Instant::now() + Duration::from_millis(20)
                };
                tokio::select! {
                    r = inflight.next() => r,
                    _ = tokio::time::sleep_until(until) => continue,
                }
            } else {
                inflight.next().await
            };
            let Some((idx, outcome, conn, row)) = next else {
                if more {
                    continue;
                }
                break;
            };
            if conn.is_some() {
                cid = conn;
            }
            match outcome {
                Outcome::Sent(_) => progress.sent += 1,
                Outcome::Failed(_) => progress.failed += 1,
            }
            progress.cursor = idx + 1;
            rows.extend(row);
            since_save += 1;
            if since_save >= 256 || last_save.elapsed() > Duration::from_millis(500) {
                self.flush(&job.id, progress, &mut rows).await;
                since_save = 0;
                last_save = tokio::time::Instant::now();
            }
        }
        self.flush(&job.id, progress, &mut rows).await;
        !interrupted && progress.cursor >= job.total
    }

    async fn flush(&self, id: &str, progress: &Progress, rows: &mut Vec<SmsRecord>) {
        if !rows.is_empty() {
            if let Err(e) = self.deps.history.put_sms(std::mem::take(rows)).await {
                tracing::error!(batch = %id, error = %e, "cannot write batch history");
            }
        }
        if let Err(e) = self.save_progress(id, progress).await {
            tracing::error!(batch = %id, error = %e, "cannot save batch progress");
        }
    }

    /// Send one recipient: (index, outcome, connector, history row).
    async fn send_one(
        &self,
        job: &BatchJob,
        user: Option<Arc<User>>,
        idx: u64,
        g: &JobGroup,
        r: &Recipient,
    ) -> (u64, Outcome, Option<String>, Option<SmsRecord>) {
        let d = &self.deps;
        let result = match user {
            None => Err(MtError::Authentication(job.user.clone())),
            Some(user) => match job.kind {
                JobKind::Jasmin => self.prepare_jasmin(&user, g, r).await,
                JobKind::Retarus => self.prepare_retarus(job, &user, g, r).await,
            },
        };
        let result = match result {
            Ok(mut p) => {
                // The user's http_throughput paces the batch instead of failing it.
                d.pipeline
                    .admission
                    .admit(&p.user, Door::Http, OverRate::Pace)
                    .await;
                p.message.batch_id = Some(job.id.clone());
                let cid = p.message.connector.clone();
                d.pipeline.commit(p).await.map(|id| (id, cid))
            }
            Err(e) => Err(e),
        };
        let (outcome, cid) = match result {
            Ok((id, cid)) => (Outcome::Sent(id), Some(cid)),
            Err(e) => {
                let (_, msg) = api::mt_error(&d.api, &e);
                (Outcome::Failed(msg), None)
            }
        };
        let row = match job.kind {
            JobKind::Jasmin => {
                self.callback(job, &r.to, &outcome).await;
                None
            }
            JobKind::Retarus => Some(crate::http::retarus::new_row(job, idx, r, &outcome)),
        };
        (idx, outcome, cid, row)
    }

    async fn prepare_jasmin(
        &self,
        user: &Arc<User>,
        g: &JobGroup,
        r: &Recipient,
    ) -> Result<smsgate_policy::pipeline::Prepared, MtError> {
        let mut args = jasmin_args(&r.to, &g.args, &user.username, user.content_encoding);
        let (asked_level, asked_method) = (args.has("dlr-level"), args.has("dlr-method"));
        // Jasmin's batches go through /send, which applies its DLR defaults.
        api::apply_dlr_defaults(&mut args);
        let req = api::mt_request(&args, IpAddr::V4(Ipv4Addr::LOCALHOST), true);
        let mut asked = Asked::of(&req);
        asked.dlr_level = asked_level;
        asked.dlr_method = asked_method;
        let mut req = req;
        req.channel = Channel::Rest;
        self.deps
            .pipeline
            .prepare_with(user.clone(), &req, Some(&asked))
            .await
    }

    async fn prepare_retarus(
        &self,
        job: &BatchJob,
        user: &Arc<User>,
        g: &JobGroup,
        r: &Recipient,
    ) -> Result<smsgate_policy::pipeline::Prepared, MtError> {
        let o = job.retarus.clone().unwrap_or_default();
        // Retarus text is Unicode: read it as UTF-8 whatever the user's content encoding.
        let mut u = (**user).clone();
        u.content_encoding = ContentEncoding::Utf8;
        let req = MtRequest {
            channel: Channel::Rest,
            username: user.username.clone(),
            password: vec![],
            source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            to: r.to.clone(),
            from: o.src.clone(),
            // `standard` is GSM 03.38 (transliterated if asked), never UCS2 by itself.
            coding: o.coding.or(Some(0)),
            priority: Some(o.priority),
            sdt: None,
            validity_minutes: o.validity_min,
            dlr: None,
            tags: vec![],
            content: Content::Text(g.text.clone().unwrap_or_default().into_bytes()),
            unrepresentable: Some(Unrepresentable::transliterate_or_refuse(o.transliterate)),
        };
        let asked = Asked {
            from: o.src.is_some(),
            validity: o.validity_min.is_some(),
            ..Asked::default()
        };
        let mut p = self
            .deps
            .pipeline
            .prepare_with(Arc::new(u), &req, Some(&asked))
            .await?;
        if let Some(max) = o.max_parts {
            if p.message.parts.len() > max {
                return Err(MtError::InvalidArgument(
                    "maxParts",
                    p.message.parts.len().to_string(),
                ));
            }
        }
        if o.flash && (p.message.data_coding == 0 || p.message.data_coding == 8) {
            // Message class 0 (flash): 0x10 GSM 7-bit, 0x18 UCS2.
            p.message.data_coding |= 0x10;
        }
        if o.status_requested {
            p.message.registered_delivery = 1;
        }
        let now = now_ms();
        let mut periods = o.blackouts.clone();
        periods.extend(r.blackouts.iter().copied());
        let start = job::after_blackouts(now, &periods);
        if start > now {
            p.message.not_before = Some(start);
            p.message.expires_at = p.message.expires_at.saturating_add(start - now);
        }
        Ok(p)
    }

    async fn callback(&self, job: &BatchJob, to: &str, outcome: &Outcome) {
        let (url, status, text) = match outcome {
            Outcome::Sent(id) => (&job.callback_url, "1", format!("Success \"{id}\"")),
            // Jasmin's errback text: `'HTTPAPI error: %s' % r.text.strip('"')` of the `/send`
            // answer, whose closing quote goes with the strip (jasmin/protocols/rest/tasks.py).
            Outcome::Failed(m) => (&job.errback_url, "0", format!("HTTPAPI error: Error \"{m}")),
        };
        let Some(url) = url else { return };
        let params = vec![
            ("batchId".to_string(), job.id.clone()),
            ("to".to_string(), to.to_string()),
            ("status".to_string(), status.to_string()),
            ("statusText".to_string(), text),
        ];
        let m = crate::dlr::callback_message(
            smsgate_core::model::CallbackKind::Dlr,
            url,
            "GET",
            params,
            Some(job.user.clone()),
            "",
        );
        if let Err(e) = self.deps.broker.publish(CALLBACK_QUEUE, &m).await {
            tracing::error!(batch = %job.id, error = %e, "cannot queue batch callback");
        }
    }
}

/// `/send` arguments of one recipient of a Jasmin batch group. `content` (a JSON string) is
/// given to the pipeline as `/send` reads it (see [`content_bytes`]).
pub fn jasmin_args(
    to: &str,
    group: &[(String, String)],
    username: &str,
    enc: ContentEncoding,
) -> Args {
    let mut a = Args::default();
    a.push("to", to.as_bytes().to_vec());
    let coding = group
        .iter()
        .find(|(k, _)| k == "coding")
        .map(|(_, v)| v.as_str());
    for (k, v) in group {
        let bytes = if k == "content" {
            content_bytes(v, enc, coding)
        } else {
            v.as_bytes().to_vec()
        };
        a.push(k, bytes);
    }
    a.push("username", username.as_bytes().to_vec());
    a
}

/// `content` text (a JSON string) as `/send` bytes for a user's `content_encoding` and the
/// request's `coding`: UTF-8 for `utf8` users and for coding 0 (what Jasmin's REST API posts
/// to `/send`, which reads coding 0 as UTF-8); for the other codings of `raw` users, Latin-1
/// when every character fits (else its UTF-8 bytes, as Jasmin would pass them).
pub fn content_bytes(v: &str, enc: ContentEncoding, coding: Option<&str>) -> Vec<u8> {
    match enc {
        ContentEncoding::Utf8 => v.as_bytes().to_vec(),
        ContentEncoding::Raw if matches!(coding, None | Some("0")) => v.as_bytes().to_vec(),
        ContentEncoding::Raw => {
            if v.chars().all(|c| (c as u32) < 256) {
                v.chars().map(|c| c as u32 as u8).collect()
            } else {
                v.as_bytes().to_vec()
            }
        }
    }
}

/// JSON parameters of a REST message as `/send` arguments (`_` in names becomes `-`, as
/// Jasmin's REST API does; numbers as their text; booleans as Python prints them; `null`
/// left out). `Err` names a parameter whose value is a list or an object.
pub fn json_args(
    params: &serde_json::Map<String, serde_json::Value>,
    skip: &[&str],
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (k, v) in params {
        if skip.contains(&k.as_str()) {
            continue;
        }
        let key = if k == "custom_tlvs" {
            k.clone()
        } else {
            k.replace('_', "-")
        };
        let val = match v {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(true) => "True".into(),
            serde_json::Value::Bool(false) => "False".into(),
            _ => return Err(key),
        };
        out.insert(key, val);
    }
    Ok(out)
}
