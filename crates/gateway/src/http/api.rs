//! Jasmin's HTTP API on port 1401: `/send`, `/balance`, `/rate`, `/ping`, `/metrics`.
//!
//! Arguments are validated as Jasmin does (same order, same messages, spec table 7) and
//! answered with the same status codes and bodies. Arguments are read as bytes (so `content`
//! can carry raw UCS2 or Latin-1 octets); a repeated argument is refused rather than silently
//! using one of the values.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

use smsgate_core::model::{Channel, DlrRequest};
use smsgate_core::stats::{HttpRequest, Stats};
use smsgate_policy::admission::{Door, OverRate};
use smsgate_policy::pipeline::{Asked, Content, MtError, MtRequest, Pipeline};
use smsgate_queue::store::Balance;

/// What the API handlers share.
pub struct ApiState {
    pub pipeline: Arc<Pipeline>,
    pub stats: Arc<Stats>,
    pub max_body: usize,
    pub body_timeout: std::time::Duration,
    /// Plugin counters for `/metrics`.
    pub plugins: Option<Arc<smsgate_plugins::PluginHost>>,
    /// Readiness for `/ready` (the HTTP API listener only).
    pub health: Option<Arc<crate::health::Health>>,
    /// The message journal's counters for `/metrics`.
    pub journal: Option<Arc<smsgate_queue::journal::Journal>>,
}

/// A response with a full body.
pub type Resp = Response<Full<Bytes>>;

fn text(status: StatusCode, body: String) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn json(status: StatusCode, body: String) -> Resp {
    let mut r = text(status, body);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn error(status: StatusCode, msg: &str) -> Resp {
    text(status, format!("Error \"{msg}\""))
}

/// Percent-decode one `application/x-www-form-urlencoded` component into bytes.
fn decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                let h = |c: u8| (c as char).to_digit(16);
                match (h(s[i + 1]), h(s[i + 2])) {
                    (Some(a), Some(b)) => {
                        out.push((a * 16 + b) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// Arguments in request order, values as bytes.
#[derive(Debug, Default)]
pub struct Args(Vec<(String, Vec<u8>)>);

impl Args {
    /// Append an argument (REST front doors build arguments from JSON).
    pub fn push(&mut self, key: &str, value: Vec<u8>) {
        self.0.push((key.to_string(), value));
    }

    /// Replace the first value of `key`, or append it.
    pub fn set(&mut self, key: &str, value: Vec<u8>) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.push(key, value),
        }
    }
}

/// The DLR defaults Jasmin's `/send` applies before validating (`send.py`, `render_POST`):
/// `dlr-url` or `dlr-level` implies `dlr=yes` (even over an explicit `dlr=no`), no `dlr` is
/// `dlr=no`, a DLR request without `dlr-level` is level 1 and without `dlr-method` is `POST`,
/// and the method is upper-cased.
pub fn apply_dlr_defaults(args: &mut Args) {
    if args.has("dlr-url") || args.has("dlr-level") {
        args.set("dlr", b"yes".to_vec());
    }
    if !args.has("dlr") {
        args.set("dlr", b"no".to_vec());
    }
    if args.get("dlr") == Some(b"yes") {
        if !args.has("dlr-level") {
            args.set("dlr-level", b"1".to_vec());
        }
        if !args.has("dlr-method") {
            args.set("dlr-method", b"POST".to_vec());
        }
    }
    if let Some(m) = args.get("dlr-method") {
        let upper = m.to_ascii_uppercase();
        args.set("dlr-method", upper);
    }
}

impl Args {
    /// Parse a query string or form body, appending to these arguments.
    pub fn parse_into(&mut self, raw: &[u8]) {
        for pair in raw.split(|&b| b == b'&') {
            if pair.is_empty() {
                continue;
            }
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let key = String::from_utf8_lossy(&decode(k)).into_owned();
            self.0.push((key, decode(v)));
        }
    }
    /// The first value of `k`.
    pub fn get(&self, k: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_slice())
    }
    fn get_str(&self, k: &str) -> Option<String> {
        self.get(k).map(|v| String::from_utf8_lossy(v).into_owned())
    }
    /// True when `k` is present.
    pub fn has(&self, k: &str) -> bool {
        self.get(k).is_some()
    }
}

/// A field: name, optional, validity check.
type Check = fn(&[u8]) -> bool;
struct Field(&'static str, bool, Option<Check>);

fn digits(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(u8::is_ascii_digit)
}
/// Jasmin's `to` pattern: digits, optionally after `+`.
pub fn is_to(v: &[u8]) -> bool {
    digits(v.strip_prefix(b"+").unwrap_or(v))
}
fn is_coding(v: &[u8]) -> bool {
    matches!(
        v,
        b"0" | b"1" | b"2" | b"3" | b"4" | b"5" | b"6" | b"7" | b"8" | b"9" | b"10" | b"13" | b"14"
    )
}
fn is_cred(v: &[u8]) -> bool {
    std::str::from_utf8(v)
        .map(|s| (1..=16).contains(&s.chars().count()))
        .unwrap_or(false)
}
fn is_priority(v: &[u8]) -> bool {
    matches!(v, b"0" | b"1" | b"2" | b"3")
}
fn is_sdt(v: &[u8]) -> bool {
    v.len() == 16 && v[..15].iter().all(u8::is_ascii_digit) && matches!(v[15], b'+' | b'-' | b'R')
}
fn is_yes_no(v: &[u8]) -> bool {
    matches!(v, b"yes" | b"no")
}
fn is_url(v: &[u8]) -> bool {
    v.starts_with(b"http://") || v.starts_with(b"https://")
}
fn is_level(v: &[u8]) -> bool {
    matches!(v, b"1" | b"2" | b"3")
}
fn is_method(v: &[u8]) -> bool {
    v.eq_ignore_ascii_case(b"get") || v.eq_ignore_ascii_case(b"post")
}
fn is_tags(v: &[u8]) -> bool {
    v.iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b',' || *c == b'-')
}
fn is_hex(v: &[u8]) -> bool {
    !v.is_empty() && v.len().is_multiple_of(2) && v.iter().all(u8::is_ascii_hexdigit)
}
/// Empty content would bill an empty SMS: refused like any invalid value.
fn is_content(v: &[u8]) -> bool {
    !v.is_empty()
}
fn is_utf8(v: &[u8]) -> bool {
    std::str::from_utf8(v).is_ok()
}

const SEND_FIELDS: &[Field] = &[
    Field("to", false, Some(is_to)),
    Field("from", true, Some(is_utf8)),
    Field("coding", true, Some(is_coding)),
    Field("username", false, Some(is_cred)),
    Field("password", false, Some(is_cred)),
    Field("priority", true, Some(is_priority)),
    Field("sdt", true, Some(is_sdt)),
    Field("validity-period", true, Some(digits)),
    // Mandatory in Jasmin, which defaults it to "no" before validating: never reported missing.
    Field("dlr", true, Some(is_yes_no)),
    Field("dlr-url", true, Some(is_url)),
    Field("dlr-level", true, Some(is_level)),
    Field("dlr-method", true, Some(is_method)),
    Field("tags", true, Some(is_tags)),
    Field("content", true, Some(is_content)),
    // Checked after validation, with Jasmin's own message (see `validate_send`).
    Field("hex-content", true, None),
    Field("custom_tlvs", true, None),
    // smsgate extension: transliterate what the coding cannot carry instead of refusing.
    Field("transliterate", true, Some(is_yes_no)),
];

const RATE_FIELDS: &[Field] = &[
    Field("to", false, Some(is_to)),
    Field("from", true, Some(is_utf8)),
    Field("coding", true, Some(is_coding)),
    Field("username", false, Some(is_cred)),
    Field("password", false, Some(is_cred)),
    Field("content", true, Some(is_content)),
    Field("hex-content", true, Some(is_hex)),
    Field("tags", true, Some(is_tags)),
    Field("transliterate", true, Some(is_yes_no)),
];

const BALANCE_FIELDS: &[Field] = &[
    Field("username", false, Some(is_cred)),
    Field("password", false, Some(is_cred)),
];

/// Jasmin's UrlArgsValidator: the first argument is checked for being known, then every field
/// (pattern, presence) in the field order; the other arguments are checked for being known.
fn validate(args: &Args, fields: &[Field]) -> Result<(), String> {
    if args.0.is_empty() {
        return Err(
            "Mandatory arguments not found, please refer to the HTTPAPI specifications.".into(),
        );
    }
    let mut seen = std::collections::HashSet::new();
    for (i, (k, _)) in args.0.iter().enumerate() {
        if !fields.iter().any(|f| f.0 == k) {
            return Err(format!("Argument [{k}] is unknown."));
        }
        if !seen.insert(k.as_str()) {
            return Err(format!("Argument [{k}] is duplicated."));
        }
        if i == 0 {
            for f in fields {
                match args.get(f.0) {
                    Some(v) => {
                        if let Some(check) = f.2 {
                            if !check(v) {
                                return Err(format!(
                                    "Argument [{}] has an invalid value: [{}].",
                                    f.0,
                                    String::from_utf8_lossy(v)
                                ));
                            }
                        }
                    }
                    None if !f.1 => {
                        return Err(format!("Mandatory argument [{}] is not found.", f.0))
                    }
                    None => {}
                }
            }
        }
    }
    Ok(())
}

/// Backlog gauges (`smsgate_queue_{ready,delayed,unacked}`): each SMPP connector's queue
/// (label `cid`) and the gateway's own queues (label `queue`: callbacks, receipt retries, long
/// MO reassembly, REST batches), read from the broker at each scrape, all at once, within 2 s.
async fn queue_gauges(pipeline: &Pipeline, out: &mut String) {
    use std::fmt::Write;
    let mut cids: Vec<String> = pipeline.connectors.read().keys().cloned().collect();
    cids.sort();
    let mut series: Vec<(&str, String, String)> = cids
        .into_iter()
        .map(|cid| ("cid", smsgate_queue::broker::submit_queue(&cid), cid))
        .collect();
    for q in [
        crate::dlr::DLR_HTTP_QUEUE,
        crate::dlr::MO_HTTP_QUEUE,
        crate::inbound::RECEIPT_RETRY_QUEUE,
        crate::inbound::MO_REASSEMBLY_QUEUE,
        crate::batch::BATCH_QUEUE,
        crate::batch::CALLBACK_QUEUE,
    ] {
        series.push(("queue", q.to_string(), q.to_string()));
    }
    let reads = futures::future::join_all(series.iter().map(|(_, queue, _)| async move {
        tokio::time::timeout(
            std::time::Duration::from_secs(2),
            pipeline.broker.stats(queue),
        )
        .await
    }))
    .await;
    // (label, value, queue, its statistics)
    let rows: Vec<(&str, &String, &String, smsgate_queue::broker::QueueStats)> = series
        .iter()
        .zip(reads)
        .filter_map(|((label, queue, value), r)| Some((*label, value, queue, r.ok()?.ok()?)))
        .collect();
    for (name, help, get) in [
        (
            "ready",
            "Messages waiting, ready to be sent.",
            (|s: &smsgate_queue::broker::QueueStats| s.ready) as fn(&_) -> u64,
        ),
        (
            "delayed",
            "Messages waiting for a retry delay or a scheduled time.",
            |s| s.delayed,
        ),
        (
            "unacked",
            "Messages handed out (to a connector, a thrower...), not yet done.",
            |s| s.unacked,
        ),
    ] {
        let _ = write!(
            out,
            "# TYPE smsgate_queue_{name} gauge\n# HELP smsgate_queue_{name} {help}\n"
        );
        for (label, value, _, st) in &rows {
            let value = value.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(
                out,
                "smsgate_queue_{name}{{{label}=\"{value}\"}} {}",
                get(st)
            );
        }
    }
    // The age of each queue's oldest message: 0 when empty, no series where the broker
    // cannot tell (RabbitMQ).
    let oldest = futures::future::join_all(rows.iter().map(|(_, _, queue, st)| async move {
        if st.ready + st.delayed + st.unacked == 0 {
            return Some(0.0);
        }
        let at = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            pipeline.broker.oldest(queue),
        )
        .await
        .ok()?
        .ok()??;
        Some((smsgate_core::model::message::now_ms() - at).max(0) as f64 / 1000.0)
    }))
    .await;
    let _ = write!(
        out,
        "# TYPE smsgate_queue_oldest_age_seconds gauge\n# HELP smsgate_queue_oldest_age_seconds Age of the oldest message in the queue (0 when empty).\n"
    );
    for ((label, value, _, _), age) in rows.iter().zip(oldest) {
        if let Some(age) = age {
            let value = value.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(
                out,
                "smsgate_queue_oldest_age_seconds{{{label}=\"{value}\"}} {age}"
            );
        }
    }
}

/// Route a request.
pub async fn handle(state: Arc<ApiState>, req: Request<hyper::body::Incoming>, ip: IpAddr) -> Resp {
    let path = req.uri().path().to_string();
    let known = matches!(
        path.as_str(),
        "/send" | "/balance" | "/rate" | "/ping" | "/metrics" | "/ready"
    );
    if !known {
        return error(StatusCode::NOT_FOUND, &format!("Resource {path} not found"));
    }
    if req.method() != Method::GET && req.method() != Method::POST {
        let mut r = error(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("Method {} is not allowed on {path}", req.method()),
        );
        r.headers_mut()
            .insert("allow", HeaderValue::from_static("GET, POST"));
        return r;
    }
    match path.as_str() {
        "/ping" => return text(StatusCode::OK, "Jasmin/PONG".into()),
        "/ready" => {
            let Some(h) = &state.health else {
                return error(StatusCode::NOT_FOUND, "Resource /ready not found");
            };
            let report = h.report().await;
            let status = if report.ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            let body = serde_json::to_string(&report).unwrap_or_default();
            let mut r = text(status, body);
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            return r;
        }
        "/metrics" => {
            let mut body = state.stats.render_prometheus();
            crate::process_metrics::render(&mut body);
            queue_gauges(&state.pipeline, &mut body).await;
            if let Some(j) = &state.journal {
                j.render_prometheus(&mut body);
            }
            if let Some(p) = &state.plugins {
                if p.enabled() {
                    p.render_prometheus(&mut body);
                }
                p.python().render_prometheus(&mut body);
            }
            let mut r = text(StatusCode::OK, body);
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            return r;
        }
        _ => {}
    }
    let started = std::time::Instant::now();
    let mut args = Args::default();
    if let Some(q) = req.uri().query() {
        args.parse_into(q.as_bytes());
    }
    if req.method() == Method::POST {
        let body = Limited::new(req.into_body(), state.max_body);
        match tokio::time::timeout(state.body_timeout, body.collect()).await {
            Ok(Ok(b)) => args.parse_into(&b.to_bytes()),
            Ok(Err(_)) => {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("Request body larger than {} bytes", state.max_body),
                )
            }
            Err(_) => {
                return error(
                    StatusCode::REQUEST_TIMEOUT,
                    "Request body not received in time",
                )
            }
        }
    }
    let answer = match path.as_str() {
        "/send" => send(&state, args, ip).await,
        "/rate" => rate(&state, args, ip).await,
        _ => balance(&state, args, ip).await,
    };
    state.stats.latency.http.observe(started.elapsed());
    answer
}

/// The MT request of validated `/send` (or `/rate`) arguments.
pub fn mt_request(args: &Args, ip: IpAddr, with_dlr: bool) -> MtRequest {
    let num = |k: &str| args.get_str(k).and_then(|v| v.parse::<u64>().ok());
    // Defaults as `apply_dlr_defaults` set them (Jasmin's send.py): a receipt is requested
    // from the SMSC whenever dlr=yes; without a dlr-url there is simply nobody to call.
    let dlr = if with_dlr && args.get("dlr") == Some(b"yes") {
        Some(DlrRequest {
            url: args.get_str("dlr-url").unwrap_or_default(),
            level: num("dlr-level").unwrap_or(1) as u8,
            method: args
                .get_str("dlr-method")
                .map(|m| m.to_ascii_uppercase())
                .unwrap_or_else(|| "POST".into()),
        })
    } else {
        None
    };
    let content = match (args.get("hex-content"), args.get("content")) {
        (Some(h), _) => Content::Binary(hex::decode(h).unwrap_or_default()),
        (None, Some(c)) => Content::Text(c.to_vec()),
        (None, None) => Content::Text(vec![]),
    };
    MtRequest {
        channel: Channel::Http,
        username: args.get_str("username").unwrap_or_default(),
        password: args.get("password").unwrap_or_default().to_vec(),
        source_ip: ip,
        to: args.get_str("to").unwrap_or_default(),
        from: args.get_str("from"),
        coding: num("coding").map(|c| c as u8),
        priority: num("priority").map(|p| p as u8),
        sdt: args.get_str("sdt"),
        validity_minutes: num("validity-period"),
        dlr,
        tags: args
            .get_str("tags")
            .map(|t| {
                t.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        content,
        unrepresentable: (args.get("transliterate") == Some(b"yes"))
            .then_some(smsgate_core::config::Unrepresentable::Transliterate),
    }
}

/// Status and text of a refusal (counted in the HTTP API's counters).
pub fn mt_error(state: &ApiState, e: &MtError) -> (StatusCode, String) {
    let s = &state.stats.httpapi;
    match e {
        MtError::Authentication(_) => {
            s.auth_error_count.inc();
            (StatusCode::FORBIDDEN, e.to_string())
        }
        MtError::InvalidArgument(..) | MtError::CallbackRefused(..) => {
            (StatusCode::BAD_REQUEST, e.to_string())
        }
        // Jasmin's CredentialValidationError: 400.
        MtError::Unauthorized(..) | MtError::ValueFilter(..) => {
            (StatusCode::BAD_REQUEST, e.to_string())
        }
        MtError::Throughput => {
            s.throughput_error_count.inc();
            (StatusCode::FORBIDDEN, e.to_string())
        }
        MtError::Content(c) => (
            StatusCode::BAD_REQUEST,
            format!("Content cannot be sent: {c}"),
        ),
        MtError::NoRoute => {
            s.route_error_count.inc();
            (StatusCode::PRECONDITION_FAILED, e.to_string())
        }
        MtError::Charging => {
            s.charging_error_count.inc();
            (StatusCode::FORBIDDEN, e.to_string())
        }
        // Counted by the pipeline (interceptor_error_count) when the interceptor ran.
        MtError::InterceptorFailed => (StatusCode::BAD_REQUEST, e.to_string()),
        MtError::Intercepted { http, .. } => (
            StatusCode::from_u16(*http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            e.to_string(),
        ),
        MtError::Server(detail) => {
            s.server_error_count.inc();
            static LOG: smsgate_core::log_limit::LogLimit =
                smsgate_core::log_limit::LogLimit::new(5_000);
            if let Some(held) = LOG.pass() {
                tracing::error!(detail = %detail, failures_not_logged = held, "send failed (repeats are logged once per 5 s; server_error_count counts each)");
            }
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
    }
}

/// `/send` with parsed arguments (also behind the REST API's `/secure/send`).
pub async fn send(state: &ApiState, args: Args, ip: IpAddr) -> Resp {
    let (status, body) = send_answer(state, args, ip).await;
    text(status, body)
}

/// A request to `/send`, `/rate` or `/balance` (Jasmin's `request_count` counts only these).
fn count_request(state: &ApiState) {
    state.stats.httpapi.request_count.inc();
    state.stats.httpapi_last_request_at.touch();
}

/// `/send`'s answer (status and text body) for parsed arguments: what the REST API wraps.
pub async fn send_answer(state: &ApiState, args: Args, ip: IpAddr) -> (StatusCode, String) {
    count_request(state);
    let error = |status: StatusCode, msg: &str| (status, format!("Error \"{msg}\""));
    // The authorizations apply to what the client set, not to the defaults (Jasmin also
    // checks its own defaults and so refuses dlr=yes to users without set_dlr_level: see
    // docs/jasmin-differences.md).
    let asked_level = args.has("dlr-level");
    let asked_method = args.has("dlr-method");
    let mut args = args;
    apply_dlr_defaults(&mut args);
    if let Err(m) = validate_send(&args) {
        return error(StatusCode::BAD_REQUEST, &m);
    }
    let req = mt_request(&args, ip, true);
    let mut asked = Asked::of(&req);
    asked.dlr_level = asked_level;
    asked.dlr_method = asked_method;
    let p = &state.pipeline;
    let result = async {
        let user = p
            .authenticate(&req.username, &req.password, req.source_ip)
            .await?;
        state.stats.http_request(&user.username, HttpRequest::Send);
        let prepared = p.prepare_with(user, &req, Some(&asked)).await?;
        // Jasmin checks the user's throughput after routing, before charging.
        if !p
            .admission
            .admit(&prepared.user, Door::Http, OverRate::Refuse)
            .await
        {
            return Err(MtError::Throughput);
        }
        p.commit(prepared).await
    }
    .await;
    match result {
        Ok(id) => {
            state.stats.httpapi.success_count.inc();
            state.stats.httpapi_last_success_at.touch();
            (StatusCode::OK, format!("Success \"{id}\""))
        }
        Err(e) => {
            let (status, msg) = mt_error(state, &e);
            error(status, &msg)
        }
    }
}

/// `/send` argument validation (Jasmin's order and texts).
pub fn validate_send(args: &Args) -> Result<(), String> {
    validate(args, SEND_FIELDS)?;
    if !args.has("content") && !args.has("hex-content") {
        return Err("content or hex-content not present.".into());
    }
    if args.has("content") && args.has("hex-content") {
        return Err("content and hex-content cannot be used both in same request.".into());
    }
    // send.py's route_routable: hex2bin fails on what is not hex (Python prints the bytes).
    if let Some(h) = args.get("hex-content") {
        if !is_hex(h) {
            return Err(format!("Invalid hex-content data: '{}'", py_bytes(h)));
        }
    }
    Ok(())
}

/// Python's `repr` of a bytes value: `b'...'` with `\\`, `\'` and non-printable bytes escaped.
fn py_bytes(v: &[u8]) -> String {
    let mut s = String::from("b'");
    for &c in v {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            0x20..=0x7e => s.push(char::from(c)),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('\'');
    s
}

fn py_float(v: f64) -> String {
    let s = format!("{v:?}");
    s
}

/// `/rate` with parsed arguments.
pub async fn rate(state: &ApiState, args: Args, ip: IpAddr) -> Resp {
    count_request(state);
    if let Err(m) = validate(&args, RATE_FIELDS) {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::Value::String(m).to_string(),
        );
    }
    let req = mt_request(&args, ip, false);
    let p = &state.pipeline;
    let result = async {
        let user = p
            .authenticate(&req.username, &req.password, req.source_ip)
            .await?;
        state.stats.http_request(&user.username, HttpRequest::Rate);
        p.check_rate(&user)?;
        // Jasmin answers what the user would be billed: nothing with an unlimited balance.
        let unlimited = p
            .store
            .balance_get(&user.username)
            .await
            .map(|b| b.balance.is_none())
            .unwrap_or(false);
        p.prepare_with(user, &req, None)
            .await
            .map(|prepared| (prepared, unlimited))
    }
    .await;
    match result {
        Ok((p, unlimited)) => json(
            StatusCode::OK,
            format!(
                "{{\"unit_rate\": {}, \"submit_sm_count\": {}}}",
                py_float(if unlimited { 0.0 } else { p.decision.rate }),
                p.message.parts.len()
            ),
        ),
        Err(e) => {
            let (status, msg) = mt_error(state, &e);
            json(status, serde_json::Value::String(msg).to_string())
        }
    }
}

/// `/balance` with parsed arguments.
pub async fn balance(state: &ApiState, args: Args, ip: IpAddr) -> Resp {
    count_request(state);
    if let Err(m) = validate(&args, BALANCE_FIELDS) {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::Value::String(m).to_string(),
        );
    }
    let user = args.get_str("username").unwrap_or_default();
    let pw = args.get("password").unwrap_or_default().to_vec();
    let p = &state.pipeline;
    let u = match p.authenticate(&user, &pw, ip).await {
        Ok(u) => {
            state.stats.http_request(&u.username, HttpRequest::Balance);
            u
        }
        Err(e) => {
            let (status, msg) = mt_error(state, &e);
            return json(status, serde_json::Value::String(msg).to_string());
        }
    };
    if let Err(e) = p.check_balance(&u) {
        let (status, msg) = mt_error(state, &e);
        return json(status, serde_json::Value::String(msg).to_string());
    }
    let b: Balance = p.store.balance_get(&u.username).await.unwrap_or_default();
    let bal = b.balance.map(py_float).unwrap_or_else(|| "\"ND\"".into());
    let sms = b
        .sms_count
        .map(|v| v.to_string())
        .unwrap_or_else(|| "\"ND\"".into());
    json(
        StatusCode::OK,
        format!("{{\"balance\": {bal}, \"sms_count\": {sms}}}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_is_bytewise() {
        let mut a = Args::default();
        a.parse_into(b"content=%06%23%FF+x&to=%2B336&bad=%zz%");
        assert_eq!(a.get("content"), Some(&[0x06, 0x23, 0xFF, b' ', b'x'][..]));
        assert_eq!(a.get("to"), Some(&b"+336"[..]));
        assert_eq!(a.get("bad"), Some(&b"%zz%"[..]));
    }

    #[test]
    fn validation_order_matches_jasmin() {
        let mut a = Args::default();
        a.parse_into(b"username=foo&password=bar&dlr=no");
        assert_eq!(
            validate(&a, SEND_FIELDS).unwrap_err(),
            "Mandatory argument [to] is not found."
        );
        let mut a = Args::default();
        a.parse_into(b"foo=bar&username=foo");
        assert_eq!(
            validate(&a, SEND_FIELDS).unwrap_err(),
            "Argument [foo] is unknown."
        );
        let mut a = Args::default();
        a.parse_into(b"to=1&to=2&username=u&password=p&dlr=no");
        assert_eq!(
            validate(&a, SEND_FIELDS).unwrap_err(),
            "Argument [to] is duplicated."
        );
    }
}
