//! The REST listener (`[rest-api]`, port 8080): Jasmin's (and Direct7's) REST API —
//! `/secure/send`, `/secure/sendbatch`, `/secure/balance`, `/secure/rate`, `/ping` —, beside
//! smstools-http-api (`/api/v1.0/sms/*`, [`super::smstools`]), retarus' SMS jobs API
//! (`/rest/v1/*`, [`super::retarus`]) and the OpenAPI document (`/openapi.json`).
//!
//! Jasmin's REST API is a wrapper around its HTTP API: `/secure/send`, `/secure/balance` and
//! `/secure/rate` run the HTTP API's own handlers with the Basic auth credentials and wrap
//! the answer as Jasmin does (`{"data": ...}` on 200, `{"message": ...}` otherwise, same
//! status). Batches are durable jobs ([`crate::batch`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{HeaderMap, Request, Response, StatusCode};
use serde_json::{json, Map, Value};
use time::UtcOffset;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::api::{self, ApiState, Args, Resp};
use super::ServerLimits;
use crate::batch::{self, BatchJob, Batches, JobGroup, JobKind, Recipient};
use smsgate_core::config::{ContentEncoding, RestApiConfig};
use smsgate_core::model::message::now_ms;
use smsgate_policy::pipeline::{MtError, Pipeline};
use smsgate_queue::history::History;
use smsgate_queue::store::Store;

/// The OpenAPI document of every HTTP API (checked in as `docs/openapi.json`).
pub const OPENAPI: &str = include_str!("../../../../docs/openapi.json");

/// What the REST handlers share.
pub struct RestState {
    pub api: Arc<ApiState>,
    pub pipeline: Arc<Pipeline>,
    pub batches: Arc<Batches>,
    pub history: Arc<dyn History>,
    pub store: Arc<dyn Store>,
    pub cfg: RestApiConfig,
    /// Offset of local times (`schedule_at`, smstools' `Sent`, retarus timestamps).
    pub offset: UtcOffset,
    pub retarus: super::retarus::RateLimiter,
}

/// The UTC offset of `[rest-api] schedule_utc_offset`, else the host's (UTC if unknown).
pub fn local_offset(cfg: &RestApiConfig) -> Result<UtcOffset, String> {
    match &cfg.schedule_utc_offset {
        Some(s) => UtcOffset::parse(
            s,
            time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]"),
        )
        .map_err(|e| format!("key `rest-api.schedule_utc_offset`: {e} (expected like +02:00)")),
        None => Ok(UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC)),
    }
}

/// Serve the REST listener until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    state: Arc<RestState>,
    limits: ServerLimits,
    shutdown: CancellationToken,
) {
    super::serve(listener, state, handle, limits, shutdown, "REST").await
}

/// A JSON response (body as given).
pub fn json_raw(status: StatusCode, body: String) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert("powered-by", HeaderValue::from_static("smsgate"));
    r
}

/// A JSON response.
pub fn json_value(status: StatusCode, v: &Value) -> Resp {
    json_raw(status, py_json(v))
}

/// An empty response (retarus' "No content" errors).
pub fn empty(status: StatusCode) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// JSON as Python's `json.dumps` writes it (`", "` and `": "` separators), as Jasmin answers.
pub fn py_json(v: &Value) -> String {
    let mut out = String::with_capacity(64);
    write_py_json(&mut out, v);
    out
}

fn write_py_json(out: &mut String, v: &Value) {
    match v {
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_json(out, x);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_json_str(out, k);
                out.push_str(": ");
                write_py_json(out, x);
            }
            out.push('}');
        }
        Value::String(s) => push_json_str(out, s),
        other => out.push_str(&other.to_string()),
    }
}

/// `s` as a JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&Value::String(s.to_string()).to_string());
    }
}

/// Falcon's error body (`title`, `description`).
fn falcon(status: StatusCode, title: &str, description: &str) -> Resp {
    let mut r = json_raw(
        status,
        format!(
            "{{\"title\": {}, \"description\": {}}}",
            Value::String(title.into()),
            Value::String(description.into())
        ),
    );
    r.headers_mut()
        .insert("vary", HeaderValue::from_static("Accept"));
    r
}

fn message(status: StatusCode, text: &str) -> Resp {
    json_value(status, &json!({ "message": text }))
}

/// `Authorization: Basic` credentials.
pub fn basic_auth(h: &HeaderMap) -> Option<(String, Vec<u8>)> {
    let v = h.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = v.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let i = raw.iter().position(|&b| b == b':')?;
    let user = String::from_utf8(raw[..i].to_vec()).ok()?;
    Some((user, raw[i + 1..].to_vec()))
}

/// Why a body could not be read.
pub enum BodyError {
    TooLarge,
    Timeout,
}

/// Read a body of at most `max` bytes within `timeout`.
pub async fn read_body(
    req: Request<hyper::body::Incoming>,
    max: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut collect = std::pin::pin!(Limited::new(req.into_body(), max).collect());
    // A small body usually arrived with the head: take it without arming a timer.
    let r = match futures::FutureExt::now_or_never(&mut collect) {
        Some(r) => r,
        None => match tokio::time::timeout(timeout, collect).await {
            Ok(r) => r,
            Err(_) => return Err(BodyError::Timeout),
        },
    };
    r.map(|b| b.to_bytes()).map_err(|_| BodyError::TooLarge)
}

/// Python's `repr` of bytes (`b'not json'`), cut at 200 bytes.
fn py_bytes(b: &[u8]) -> String {
    let mut s = String::from("b'");
    for &c in b.iter().take(200) {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    if b.len() > 200 {
        s.push_str("...");
    }
    s.push('\'');
    s
}

/// Route a request of the REST listener.
pub async fn handle(
    state: Arc<RestState>,
    req: Request<hyper::body::Incoming>,
    ip: IpAddr,
) -> Resp {
    let path = req.uri().path().to_string();
    if path.starts_with("/api/v1.0/sms/") {
        return super::smstools::handle(&state, req, ip).await;
    }
    if path.starts_with("/rest/v1/") {
        return super::retarus::handle(&state, req, ip).await;
    }
    let allowed: &str = match path.as_str() {
        "/ping" | "/openapi.json" | "/secure/balance" | "/secure/rate" => "GET",
        "/secure/send" | "/secure/sendbatch" => "POST",
        p if p.starts_with("/secure/batch/") => "GET",
        _ => {
            return falcon(
                StatusCode::NOT_FOUND,
                "404 Not Found",
                &format!("Resource {path} not found"),
            )
        }
    };
    if req.method().as_str() != allowed {
        let mut r = falcon(
            StatusCode::METHOD_NOT_ALLOWED,
            "405 Method Not Allowed",
            &format!("Method {} is not allowed on {path}", req.method()),
        );
        r.headers_mut()
            .insert("allow", HeaderValue::from_static(allowed));
        return r;
    }
    match path.as_str() {
        "/ping" => return json_value(StatusCode::OK, &json!({"data": "Jasmin/PONG"})),
        "/openapi.json" => return json_raw(StatusCode::OK, OPENAPI.to_string()),
        _ => {}
    }
    let Some((username, password)) = basic_auth(req.headers()) else {
        let mut r = json_raw(
            StatusCode::UNAUTHORIZED,
            r#"{"title": "Authentication required", "description": "Please provide a valid Basic auth token", "link": {"text": "Documentation related to this error", "href": "http://docs.jasminsms.com/en/latest/apis/rest/index.html", "rel": "help"}}"#.to_string(),
        );
        r.headers_mut()
            .insert("vary", HeaderValue::from_static("Accept"));
        return r;
    };
    match path.as_str() {
        "/secure/send" => send(&state, req, ip, username, password).await,
        "/secure/sendbatch" => sendbatch(&state, req, ip, username, password).await,
        "/secure/balance" | "/secure/rate" => {
            let mut args = Args::default();
            if let Some(q) = req.uri().query() {
                args.parse_into(q.as_bytes());
            }
            args.push("username", username.into_bytes());
            args.push("password", password);
            let resp = if path == "/secure/balance" {
                api::balance(&state.api, args, ip).await
            } else {
                api::rate(&state.api, args, ip).await
            };
            let (status, body) = body_of(resp).await;
            let key = if status == StatusCode::OK {
                "data"
            } else {
                "message"
            };
            // The HTTP API's body is JSON already: embed it as is (Jasmin's key order).
            let inner = if serde_json::from_str::<Value>(&body).is_ok() {
                body
            } else {
                Value::String(body).to_string()
            };
            json_raw(status, format!("{{\"{key}\": {inner}}}"))
        }
        p => match p.strip_prefix("/secure/batch/") {
            Some(id) => batch_status(&state, ip, &username, &password, id).await,
            None => falcon(StatusCode::NOT_FOUND, "404 Not Found", "Not found"),
        },
    }
}

async fn body_of(resp: Resp) -> (StatusCode, String) {
    let status = resp.status();
    let b = resp
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    (status, String::from_utf8_lossy(&b).into_owned())
}

/// Read and parse a JSON object body, or the Jasmin answer for why not.
async fn json_body(
    state: &RestState,
    req: Request<hyper::body::Incoming>,
) -> Result<Map<String, Value>, Resp> {
    let body = match read_body(
        req,
        state.cfg.max_body_bytes,
        Duration::from_millis(state.cfg.body_read_timeout_ms),
    )
    .await
    {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return Err(falcon(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body is too large",
                &format!(
                    "The request body exceeds {} bytes",
                    state.cfg.max_body_bytes
                ),
            ))
        }
        Err(BodyError::Timeout) => {
            return Err(falcon(
                StatusCode::REQUEST_TIMEOUT,
                "Request timeout",
                "The request body was not received in time",
            ))
        }
    };
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(falcon(
            StatusCode::BAD_REQUEST,
            "Invalid JSON data",
            "The request body must be a JSON object",
        )),
        Err(_) => Err(falcon(
            StatusCode::PRECONDITION_FAILED,
            "Cannot parse JSON data",
            &format!("Got unparseable json data: {}", py_bytes(&body)),
        )),
    }
}

/// `/secure/send`: the JSON parameters become `/send` arguments.
async fn send(
    state: &RestState,
    req: Request<hyper::body::Incoming>,
    ip: IpAddr,
    username: String,
    password: Vec<u8>,
) -> Resp {
    let doc = match json_body(state, req).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let params = match batch::json_args(&doc, &["username", "password"]) {
        Ok(p) => p,
        Err(k) => {
            let v = doc
                .get(&k)
                .or_else(|| doc.get(&k.replace('-', "_")))
                .map(|v| v.to_string())
                .unwrap_or_default();
            return message(
                StatusCode::BAD_REQUEST,
                &format!("Error \"Argument [{k}] has an invalid value: [{v}]."),
            );
        }
    };
    let enc = state
        .pipeline
        .auth
        .user(&username)
        .map(|u| u.content_encoding)
        .unwrap_or(ContentEncoding::Raw);
    let mut args = Args::default();
    let coding = params.get("coding").map(String::as_str);
    for (k, v) in &params {
        let bytes = if k == "content" {
            batch::content_bytes(v, enc, coding)
        } else {
            v.as_bytes().to_vec()
        };
        args.push(k, bytes);
    }
    args.push("username", username.into_bytes());
    args.push("password", password);
    let (status, mut text) = api::send_answer(&state.api, args, ip).await;
    // Jasmin drops the last character (the closing quote) of the HTTP API's answer.
    text.pop();
    let mut body = String::with_capacity(text.len() + 16);
    body.push_str(if status == StatusCode::OK {
        "{\"data\": "
    } else {
        "{\"message\": "
    });
    push_json_str(&mut body, &text);
    body.push('}');
    json_raw(status, body)
}

/// Parse `schedule_at`: `YYYY-MM-DD HH:MM:SS` local time or `<N>s` from now (ms since the
/// epoch).
pub fn parse_schedule(s: &str, offset: UtcOffset, now: i64) -> Option<i64> {
    if let Some(n) = s.strip_suffix('s') {
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            let secs: i64 = n.parse().ok()?;
            return now.checked_add(secs.checked_mul(1000)?);
        }
        return None;
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let t = time::PrimitiveDateTime::parse(s, fmt).ok()?;
    Some((t.assume_offset(offset).unix_timestamp_nanos() / 1_000_000) as i64)
}

fn is_url(s: &str) -> bool {
    (s.starts_with("http://") || s.starts_with("https://")) && s.len() > 8
}

/// `/secure/sendbatch`: validate everything, store one durable job, answer its id.
async fn sendbatch(
    state: &RestState,
    req: Request<hyper::body::Incoming>,
    ip: IpAddr,
    username: String,
    password: Vec<u8>,
) -> Resp {
    let p = &state.pipeline;
    // Jasmin authenticates a batch with a `/balance` call; any failure is this 412
    // (jasmin/protocols/rest/api.py, SendBatchResource.on_post).
    let auth_failed = || {
        falcon(
            StatusCode::PRECONDITION_FAILED,
            "Authentication failed",
            &format!("Authentication failed for user: {username}"),
        )
    };
    let user = match p.authenticate(&username, &password, ip).await {
        Ok(u) => u,
        Err(_) => return auth_failed(),
    };
    if p.check_credentials(&user).is_err() {
        return auth_failed();
    }
    if state.cfg.enforce_http_bulk && !user.mt_cred.authorization.http_bulk {
        let e = MtError::Unauthorized(user.username.clone(), "Bulk send not authorized");
        return message(StatusCode::FORBIDDEN, &e.to_string());
    }
    let doc = match json_body(state, req).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let bad = |m: String| message(StatusCode::BAD_REQUEST, &m);
    for k in doc.keys() {
        if !matches!(k.as_str(), "messages" | "globals" | "batch_config") {
            return bad(format!("Argument [{k}] is unknown."));
        }
    }
    let Some(Value::Array(messages)) = doc.get("messages") else {
        return bad("Mandatory argument [messages] is not found or is not a list.".into());
    };
    let empty_map = Map::new();
    let globals = match doc.get("globals") {
        None | Some(Value::Null) => &empty_map,
        Some(Value::Object(o)) => o,
        Some(_) => return bad("Argument [globals] must be an object.".into()),
    };
    let cfg = match doc.get("batch_config") {
        None | Some(Value::Null) => &empty_map,
        Some(Value::Object(o)) => o,
        Some(_) => return bad("Argument [batch_config] must be an object.".into()),
    };
    let mut callback_url = None;
    let mut errback_url = None;
    let mut not_before = None;
    let now = now_ms();
    for (k, v) in cfg {
        let s = match v {
            Value::String(s) => s.clone(),
            _ => return bad(format!("batch_config [{k}] must be a string.")),
        };
        match k.as_str() {
            "callback_url" | "errback_url" if !is_url(&s) => {
                return bad(format!("batch_config [{k}] has an invalid value: [{s}]."))
            }
            "callback_url" | "errback_url" => {
                if let Err(MtError::CallbackRefused(_, _, why)) =
                    p.check_callback("dlr-url", Some(&s), &user)
                {
                    return bad(format!(
                        "batch_config [{k}] has an invalid value: [{s}]. Callback target refused: {why}."
                    ));
                }
                if k == "callback_url" {
                    callback_url = Some(s)
                } else {
                    errback_url = Some(s)
                }
            }
            "schedule_at" => match parse_schedule(&s, state.offset, now) {
                Some(t) => not_before = Some(t),
                // Jasmin's answer (api.py, SendBatchResource.parse_schedule_at).
                None => {
                    return falcon(
                        StatusCode::PRECONDITION_FAILED,
                        "Cannot parse scheduled_at value",
                        &format!(
                            "Got unknown format: {s}, correct formats are 'YYYY-MM-DD mm:hh:ss' or number of seconds, c.f. http://docs.jasminsms.com/en/latest/apis/rest"
                        ),
                    )
                }
            },
            _ => return bad(format!("batch_config [{k}] is unknown.")),
        }
    }
    let max = state.cfg.max_batch_recipients;
    let mut groups = Vec::with_capacity(messages.len());
    let mut total = 0u64;
    for (i, m) in messages.iter().enumerate() {
        let Value::Object(m) = m else {
            return bad(format!("messages[{i}] must be an object."));
        };
        let mut merged = globals.clone();
        for (k, v) in m {
            merged.insert(k.clone(), v.clone());
        }
        let tos: Vec<String> = match merged.get("to") {
            Some(Value::Array(a)) => {
                let mut out = Vec::with_capacity(a.len());
                for v in a {
                    match v {
                        Value::String(s) => out.push(s.clone()),
                        Value::Number(n) => out.push(n.to_string()),
                        other => {
                            return bad(format!(
                                "Error \"Argument [to] has an invalid value: [{other}].\" (messages[{i}])"
                            ))
                        }
                    }
                }
                out
            }
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Number(n)) => vec![n.to_string()],
            None | Some(Value::Null) => {
                return bad(format!(
                    "Error \"Mandatory argument [to] is not found.\" (messages[{i}])"
                ))
            }
            Some(other) => {
                return bad(format!(
                    "Error \"Argument [to] has an invalid value: [{other}].\" (messages[{i}])"
                ))
            }
        };
        if tos.is_empty() {
            return bad(format!(
                "Error \"Mandatory argument [to] is not found.\" (messages[{i}])"
            ));
        }
        total += tos.len() as u64;
        if total > max as u64 {
            return bad(format!(
                "Batch exceeds the limit of {max} recipients ([rest-api] max_batch_recipients)."
            ));
        }
        let params = match batch::json_args(&merged, &["to", "username", "password"]) {
            Ok(p) => p,
            Err(k) => {
                return bad(format!(
                    "Error \"Argument [{k}] has an invalid value.\" (messages[{i}])"
                ))
            }
        };
        let args: Vec<(String, String)> = params.into_iter().collect();
        // Validate as /send would, with the first recipient; every other `to` by its pattern.
        let mut check = batch::jasmin_args(&tos[0], &args, &username, user.content_encoding);
        check.push("password", password.clone());
        api::apply_dlr_defaults(&mut check);
        if let Err(e) = api::validate_send(&check) {
            return bad(format!("Error \"{e}\" (messages[{i}])"));
        }
        if check.get("dlr") == Some(b"yes") {
            let url = check.get("dlr-url").map(String::from_utf8_lossy);
            if let Err(e) = p.check_callback("dlr-url", url.as_deref(), &user) {
                return bad(format!("Error \"{e}\" (messages[{i}])"));
            }
        }
        if let Some(t) = tos.iter().find(|t| !api::is_to(t.as_bytes())) {
            return bad(format!(
                "Error \"Argument [to] has an invalid value: [{t}].\" (messages[{i}])"
            ));
        }
        groups.push(JobGroup {
            args,
            text: None,
            recipients: tos
                .into_iter()
                .map(|to| Recipient {
                    to,
                    customer_ref: None,
                    blackouts: vec![],
                })
                .collect(),
        });
    }
    let job = BatchJob {
        v: batch::job::JOB_VERSION,
        id: smsgate_core::model::message::new_id().to_string(),
        kind: JobKind::Jasmin,
        user: user.username.clone(),
        created_at: now,
        not_before,
        callback_url,
        errback_url,
        groups,
        total,
        retarus: None,
    };
    if let Err(e) = state.batches.submit(&job).await {
        tracing::error!(error = %e, "cannot store batch");
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Cannot queue the batch");
    }
    let mut data = json!({"batchId": job.id, "messageCount": total});
    // Jasmin adds the countdown of a future batch (api.py, SendBatchResource.on_post): `<N>s`
    // as given, or the seconds until the date.
    if let Some(t) = not_before.filter(|t| *t > now) {
        let given = cfg
            .get("schedule_at")
            .and_then(Value::as_str)
            .filter(|s| s.ends_with('s'));
        data["scheduled"] = Value::String(match given {
            Some(s) => s.to_string(),
            None => format!("{}s", (t - now) as f64 / 1000.0),
        });
    }
    json_value(StatusCode::OK, &json!({ "data": data }))
}

/// `GET /secure/batch/<batchId>` (smsgate extension): a batch's progress.
async fn batch_status(
    state: &RestState,
    ip: IpAddr,
    username: &str,
    password: &[u8],
    id: &str,
) -> Resp {
    let user = match state.pipeline.authenticate(username, password, ip).await {
        Ok(u) => u,
        Err(e) => return message(StatusCode::FORBIDDEN, &e.to_string()),
    };
    let p = match state.batches.progress(id).await {
        Ok(Some(p)) if p.user == user.username => p,
        Ok(_) => return message(StatusCode::NOT_FOUND, &format!("Batch {id} not found")),
        Err(e) => {
            tracing::error!(error = %e, "cannot read batch progress");
            return message(StatusCode::INTERNAL_SERVER_ERROR, "Cannot read the batch");
        }
    };
    let status = if p.done {
        "done"
    } else if p.not_before.is_some_and(|t| t > now_ms()) {
        "scheduled"
    } else if p.started_at.is_some() {
        "running"
    } else {
        "queued"
    };
    json_value(
        StatusCode::OK,
        &json!({"data": {
            "batchId": id,
            "status": status,
            "messageCount": p.total,
            "sent": p.sent,
            "failed": p.failed,
        }}),
    )
}

/// The REST listener and the batch service, started.
pub struct RestRunning {
    /// Address of the REST listener, if enabled.
    pub addr: Option<SocketAddr>,
    pub batches: Arc<Batches>,
    pub history: Arc<dyn History>,
    /// Listener, batch workers, callback sender, report refresher.
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Why the REST side could not start.
#[derive(Debug, thiserror::Error)]
pub enum RestStartError {
    #[error("cannot listen on {addr}: {err}")]
    Listen { addr: String, err: std::io::Error },
    #[error("{0}")]
    Other(String),
}

/// Start the batch service (always: queued jobs resume even with the listener disabled) and,
/// if enabled, the REST listener.
pub async fn start(
    cfg: &smsgate_core::config::Config,
    pipeline: Arc<Pipeline>,
    stats: Arc<smsgate_core::stats::Stats>,
    broker: Arc<dyn smsgate_queue::broker::Broker>,
    store: Arc<dyn Store>,
    db: smsgate_queue::db::Db,
    shutdown: CancellationToken,
) -> Result<RestRunning, RestStartError> {
    let rc = cfg.rest_api.clone();
    let offset = local_offset(&rc).map_err(RestStartError::Other)?;
    let history: Arc<dyn History> = Arc::new(
        smsgate_queue::history::embedded::EmbeddedHistory::open(db)
            .await
            .map_err(|e| RestStartError::Other(e.to_string()))?,
    );
    let api = Arc::new(ApiState {
        pipeline: pipeline.clone(),
        stats,
        max_body: rc.max_body_bytes,
        body_timeout: Duration::from_millis(rc.body_read_timeout_ms),
        plugins: None,
        health: None,
        journal: None,
    });
    let batches = Batches::new(batch::BatchDeps {
        pipeline: pipeline.clone(),
        api: api.clone(),
        broker,
        store: store.clone(),
        history: history.clone(),
        cfg: rc.clone(),
        thrower: cfg.dlr_thrower.clone(),
    });
    let mut tasks = batches.spawn(shutdown.clone());
    tasks.push(tokio::spawn(super::retarus::refresher(
        history.clone(),
        store.clone(),
        rc.report_retention_days,
        shutdown.clone(),
    )));
    let mut addr = None;
    if rc.enabled {
        let a = format!("{}:{}", rc.bind, rc.port);
        let listener = TcpListener::bind(&a)
            .await
            .map_err(|err| RestStartError::Listen {
                addr: a.clone(),
                err,
            })?;
        addr = listener.local_addr().ok();
        tracing::info!(addr = %addr.map(|l| l.to_string()).unwrap_or(a), "REST API listening");
        let limits = ServerLimits {
            max_connections: rc.max_connections,
            max_head_bytes: rc.max_head_bytes,
            header_read_timeout: Duration::from_millis(rc.header_read_timeout_ms),
        };
        let state = Arc::new(RestState {
            api,
            pipeline,
            batches: batches.clone(),
            history: history.clone(),
            store,
            cfg: rc,
            offset,
            retarus: Default::default(),
        });
        tasks.push(tokio::spawn(serve(listener, state, limits, shutdown)));
    }
    Ok(RestRunning {
        addr,
        batches,
        history,
        tasks,
    })
}
