//! The endpoints, under `/api/v1/`. Bodies and answers are JSON; an error is
//! `{"error": "...", "field": "..."}` (`field` when one is to blame) with a 4xx status, and a
//! refused change changes nothing.
//!
//! | method and path | role | what |
//! | --- | --- | --- |
//! | `POST login` | — | `{"name","password"}` → `{"token","csrf","role"}` (a session token) and the console's session cookie |
//! | `POST logout` | any | ends the session |
//! | `GET whoami` | any | `{"name","role","csrf"}` |
//! | `GET status` | read-only | version, start time, each connector's state |
//! | `GET stats` | read-only | the counters of `/metrics` as JSON: `{name: [{labels, value}]}` |
//! | `GET {section}` | read-only | the objects of a section (passwords hidden) |
//! | `GET {section}/{key}` | read-only | one object |
//! | `POST {section}` | admin | add an object (the config file's fields and defaults) |
//! | `PUT {section}/{key}` | admin | replace an object |
//! | `DELETE {section}/{key}` | admin | remove an object |
//! | `POST smppccs/{cid}/start`, `.../stop` | operator | start or stop a connector |
//! | `POST users/{uid}/balance` | admin | `{"amount","sms_count"}`: a top-up, added to the ledger |
//! | `GET queues` | read-only | each connector's backlog |
//! | `GET queues/{cid}?peek=N` | read-only | the backlog and its first N messages |
//! | `POST queues/{cid}/move` | operator | `{"to": cid}`: move the backlog |
//! | `POST queues/{cid}/purge` | operator | end the backlog as `PURGED` |
//! | `POST profiles/{name}/persist` | operator | persist the configuration (jCli `persist`) |
//! | `POST profiles/{name}/load` | admin | load a persisted profile (jCli `load`) |
//! | `GET audit?limit=N` | read-only | the latest configuration changes, newest first |
//! | `POST route-test` | read-only | `{"username","to","from","content"}`: the MT route it would take (interceptors run, nothing sent) |
//! | `GET messages?id=&user=&destination=&direction=&from=&to=&limit=` | read-only | the message journal, newest first |
//! | `GET messages/{id}` | read-only | a message and its timeline |
//! | `POST messages` | operator | `{"username","to","from","content","dlr_url"}`: a test message (a real one) |
//! | `GET plugins` | read-only | the loaded plugins, their state and counters |
//! | `POST plugins/{name}/reload` | admin | load a plugin's file again |
//!
//! A caller is a bearer token (`Authorization: Bearer`: a configured token or a session's)
//! or the console's session cookie; a change made with the cookie must carry the session's
//! CSRF token in `X-CSRF-Token` (403 otherwise). Anything outside `/api/v1/` is the web
//! console ([`crate::console`]).
//!
//! `GET openapi.json` (no token needed) is the OpenAPI document of all of these
//! (`docs/admin-openapi.json`). Sections and their keys: `groups` (gid), `users` (uid), `smppccs` (cid), `httpccs`
//! (cid), `filters` (fid), `mtroutes`, `moroutes`, `mtinterceptors`, `mointerceptors`
//! (order).

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST, SET_COOKIE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::auth::{Authenticator, LoginError, Principal};
use smsgate_core::config::Role;
use smsgate_gateway::audit::{as_actor, Actor};
use smsgate_gateway::manage::{Manager, Profile};
use smsgate_gateway::queues::QueueOps;
use smsgate_queue::journal::{Journal, Query};

/// The OpenAPI document of these endpoints (`GET /api/v1/openapi.json`, no token needed).
pub const OPENAPI: &str = include_str!("../../../docs/admin-openapi.json");

/// Largest request body.
const MAX_BODY: usize = 1024 * 1024;

/// What the handlers share.
pub struct State {
    pub manager: Arc<Manager>,
    pub auth: Authenticator,
    /// Host names accepted besides loopback and IP literals.
    pub hosts: Vec<String>,
    /// Served over TLS (session cookies are then `Secure`).
    pub tls: bool,
}

/// The browser session's cookie.
pub const COOKIE: &str = "smsgate_session";

/// The value of cookie `name` in a request's `Cookie` headers.
fn cookie(headers: &hyper::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name && !v.is_empty()).then(|| v.to_string())
        })
}

type Resp = Response<Full<Bytes>>;

/// An error answer: status, message and the field to blame.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        let message = message.into();
        ApiError {
            status,
            field: blamed_field(&message),
            message,
        }
    }
    /// A 400 blaming `field`.
    fn blaming(field: &str, message: String) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message,
            field: Some(field.to_string()),
        }
    }

    fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    fn not_found(what: &str) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("{what} not found"),
            field: None,
        }
    }
}

/// The field an error message names (serde's and the configuration checks' backquoted
/// names: `` unknown field `x` ``, `` key `smppccs[0].port` ``): its last path element.
fn blamed_field(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    let name = &message[start..start + len];
    let last = name.rsplit('.').next().unwrap_or(name);
    let last = last.split('[').next().unwrap_or(last);
    (!last.is_empty()).then(|| last.to_string())
}

fn answer(status: StatusCode, body: &Value) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    r
}

fn error(e: ApiError) -> Resp {
    let mut body = json!({ "error": e.message });
    if let Some(f) = e.field {
        body["field"] = Value::String(f);
    }
    answer(e.status, &body)
}

/// Is `host` (a Host header, port included) one the API answers to?
fn host_allowed(host: &str, extra: &[String]) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        })
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok()
        || extra.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Handle one request from `ip`.
pub async fn handle(state: &State, req: Request<hyper::body::Incoming>, ip: IpAddr) -> Resp {
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !host_allowed(host, &state.hosts) {
        return error(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            format!("Host {host:?} is not this API's (add it to admin.hosts)"),
        ));
    }
    let path = req.uri().path().to_string();
    let Some(rest) = path.strip_prefix("/api/v1/") else {
        // The web console's pages and assets (no credentials in them: the API calls they
        // make are authenticated).
        return match crate::console::asset(&path) {
            Some(r) if req.method() == Method::GET || req.method() == Method::HEAD => r,
            Some(_) => error(not_allowed()),
            None => error(ApiError::not_found(&format!("resource {path}"))),
        };
    };
    let parts: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let query = req.uri().query().unwrap_or("").to_string();
    let method = req.method().clone();
    let bearer = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_string);
    let json_body = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    let session_cookie = cookie(req.headers(), COOKIE);
    let csrf = req
        .headers()
        .get("x-csrf-token")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return error(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body larger than {MAX_BODY} bytes"),
            ))
        }
    };
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    if method == Method::POST && parts == ["login"] {
        // Only as JSON: another site's page cannot send that without a CORS preflight this
        // API never answers, so it cannot log a browser in to an account of its choosing.
        if !json_body {
            return error(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "login: send the body as Content-Type: application/json",
            ));
        }
        return login(state, ip, &body);
    }
    if method == Method::GET && parts == ["openapi.json"] {
        let mut r = Response::new(Full::new(Bytes::from_static(OPENAPI.as_bytes())));
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return r;
    }
    // A bearer token (automation, scripts) or the console's session cookie; a change made
    // with the cookie must carry the session's CSRF token.
    let (who, token) = match (&bearer, &session_cookie) {
        (Some(t), _) => (state.auth.bearer(t), t.as_str()),
        (None, Some(c)) => (state.auth.session(c), c.as_str()),
        (None, None) => (None, ""),
    };
    let Some(who) = who else {
        let mut r = error(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authentication required: Authorization: Bearer <token>, or log in",
        ));
        r.headers_mut()
            .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        return r;
    };
    let safe = method == Method::GET || method == Method::HEAD;
    if bearer.is_none() && !safe && !state.auth.csrf_ok(token, &csrf) {
        return error(ApiError::new(
            StatusCode::FORBIDDEN,
            "CSRF token missing or wrong: send the session's token in X-CSRF-Token",
        ));
    }
    let logout = method == Method::POST && parts == ["logout"];
    let call = Call {
        state,
        who: &who,
        method: &method,
        parts: &parts,
        query: &query,
        body: &body,
        bearer: token,
    };
    let actor = Actor::new("api", &who.name);
    let mut r = match as_actor(actor, route(&call)).await {
        Ok((status, v)) => answer(status, &v),
        Err(e) => error(e),
    };
    if logout && session_cookie.is_some() {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        )) {
            r.headers_mut().insert(SET_COOKIE, v);
        }
    }
    r
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn login(state: &State, ip: IpAddr, body: &[u8]) -> Resp {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Login {
        name: String,
        password: String,
    }
    let l: Login = match serde_json::from_slice(body) {
        Ok(l) => l,
        Err(e) => return error(ApiError::bad(e.to_string())),
    };
    match state.auth.login(ip, &l.name, &l.password) {
        Ok((token, who)) => {
            tracing::info!(target: "smsgate::audit", source = "api", actor = %who.name, %ip, "logged in");
            let csrf = state.auth.csrf(&token);
            let mut r = answer(
                StatusCode::OK,
                &json!({ "token": token, "csrf": csrf, "name": who.name, "role": who.role }),
            );
            // The console's session: a cookie scripts cannot read, sent only to this origin.
            let secure = if state.tls { "; Secure" } else { "" };
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}"
            )) {
                r.headers_mut().insert(SET_COOKIE, v);
            }
            r
        }
        Err(LoginError::Invalid) => {
            tracing::warn!(target: "smsgate::audit", source = "api", name = %l.name, %ip, "login refused");
            error(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid name or password",
            ))
        }
        Err(LoginError::Limited(wait)) => {
            let mut r = error(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed logins from this address: try again later",
            ));
            if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
                r.headers_mut().insert("retry-after", v);
            }
            r
        }
    }
}

/// One authenticated request.
struct Call<'a> {
    state: &'a State,
    who: &'a Principal,
    method: &'a Method,
    parts: &'a [&'a str],
    query: &'a str,
    body: &'a [u8],
    bearer: &'a str,
}

impl Call<'_> {
    fn need(&self, role: Role) -> Result<(), ApiError> {
        if self.who.role >= role {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "{} may not do this: it needs the {} role",
                    self.who.name,
                    serde_json::to_value(role)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                ),
            ))
        }
    }

    /// The body as a `T`; an error names the field serde blames.
    fn body_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_value(self.json()?).map_err(|e| {
            let m = e.to_string();
            ApiError {
                status: StatusCode::BAD_REQUEST,
                field: blamed_field(&m),
                message: m,
            }
        })
    }

    fn json(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(self.body).map_err(|e| ApiError::bad(format!("body: {e}")))
    }

    fn query(&self, key: &str) -> Option<String> {
        self.query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == key).then(|| percent_decode(v))
        })
    }
}

type Answer = Result<(StatusCode, Value), ApiError>;

fn ok(v: Value) -> Answer {
    Ok((StatusCode::OK, v))
}

/// A section of the profile: its name in paths and its objects' key field.
const SECTIONS: [(&str, &str); 9] = [
    ("groups", "gid"),
    ("users", "uid"),
    ("smppccs", "cid"),
    ("httpccs", "cid"),
    ("filters", "fid"),
    ("mtroutes", "order"),
    ("moroutes", "order"),
    ("mtinterceptors", "order"),
    ("mointerceptors", "order"),
];

async fn route(c: &Call<'_>) -> Answer {
    let m = c.method;
    match c.parts {
        ["logout"] if m == Method::POST => {
            c.state.auth.logout(c.bearer);
            ok(json!({ "logged_out": true }))
        }
        ["whoami"] if m == Method::GET => ok(json!({
            "name": c.who.name,
            "role": c.who.role,
            "csrf": c.state.auth.csrf(c.bearer),
        })),
        ["status"] if m == Method::GET => status(c),
        ["stats"] if m == Method::GET => stats(c),
        ["audit"] if m == Method::GET => {
            let limit = c
                .query("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(100);
            ok(json!(c.state.manager.audit().latest(limit)))
        }
        ["queues"] if m == Method::GET => queues(c).await,
        ["queues", cid] if m == Method::GET => queue(c, cid).await,
        ["queues", cid, "move"] if m == Method::POST => queue_move(c, cid).await,
        ["queues", cid, "purge"] if m == Method::POST => queue_purge(c, cid).await,
        ["profiles", name, "persist"] if m == Method::POST => {
            c.need(Role::Operator)?;
            c.state
                .manager
                .persist(name)
                .await
                .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))?;
            tracing::info!(target: "smsgate::audit", source = "api", actor = %c.who.name, profile = %name, "persisted");
            ok(json!({ "persisted": name }))
        }
        ["profiles", name, "load"] if m == Method::POST => {
            c.need(Role::Admin)?;
            match c.state.manager.load(name).await {
                Ok(true) => ok(json!({ "loaded": name })),
                Ok(false) => Err(ApiError::not_found(&format!("profile {name}"))),
                Err(e) => Err(ApiError::bad(e)),
            }
        }
        ["smppccs", cid, action @ ("start" | "stop")] if m == Method::POST => {
            start_stop(c, cid, action == &"start").await
        }
        ["users", uid, "balance"] if m == Method::POST => top_up(c, uid).await,
        ["route-test"] if m == Method::POST => route_test(c).await,
        ["messages"] if m == Method::GET => search(c).await,
        ["messages"] if m == Method::POST => send_test(c).await,
        ["messages", id] if m == Method::GET => timeline(c, id).await,
        ["plugins"] if m == Method::GET => plugins(c),
        ["plugins", name, "reload"] if m == Method::POST => plugin_reload(c, name).await,
        [section] => {
            let (section, key) = section_key(section)?;
            match *m {
                Method::GET => ok(list(&c.state.manager.profile(), section)),
                Method::POST => add(c, section, key).await,
                _ => Err(not_allowed()),
            }
        }
        [section, id] => {
            let (section, key) = section_key(section)?;
            match *m {
                Method::GET => get_one(&c.state.manager.profile(), section, key, id),
                Method::PUT => replace(c, section, key, id).await,
                Method::DELETE => remove(c, section, key, id).await,
                _ => Err(not_allowed()),
            }
        }
        _ => Err(ApiError::not_found(&format!(
            "resource /api/v1/{}",
            c.parts.join("/")
        ))),
    }
}

fn not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
}

/// The section named `section` and its key field.
fn section_key(section: &str) -> Result<(&'static str, &'static str), ApiError> {
    SECTIONS
        .iter()
        .find(|(s, _)| *s == section)
        .copied()
        .ok_or_else(|| ApiError::not_found(&format!("resource /api/v1/{section}")))
}

fn status(c: &Call<'_>) -> Answer {
    let mgr = &c.state.manager;
    let p = mgr.profile();
    let connectors: Vec<Value> = p
        .smppccs
        .iter()
        .map(|cc| {
            let state = mgr
                .connector_state(&cc.cid)
                .map(|s| format!("{s:?}").to_lowercase())
                .unwrap_or_else(|| "stopped".into());
            json!({ "cid": cc.cid, "started": p.started.contains(&cc.cid), "state": state })
        })
        .collect();
    ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "started_at": mgr.started_at(),
        "connectors": connectors,
    }))
}

/// The gateway's counters (those `/metrics` shows, Jasmin's names) as JSON: each metric's
/// series with their labels.
fn stats(c: &Call<'_>) -> Answer {
    let rt =
        c.state.manager.runtime().ok_or_else(|| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the gateway is stopping")
        })?;
    ok(Value::Object(prometheus_json(
        &rt.stats.render_prometheus(),
    )))
}

/// Prometheus text (`name{a="b"} 1`) as `{name: [{"labels": {a: b}, "value": 1}]}`.
fn prometheus_json(text: &str) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels: serde_json::Map<String, Value> = labels
            .split(',')
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((
                    k.to_string(),
                    Value::String(v.trim_matches('"').to_string()),
                ))
            })
            .collect();
        if let Value::Array(a) = out
            .entry(name.to_string())
            .or_insert_with(|| Value::Array(vec![]))
        {
            a.push(json!({ "labels": labels, "value": value }));
        }
    }
    out
}

/// The profile as JSON, users' passwords hidden and their uid filled in.
fn profile_json(p: &Profile) -> Value {
    let mut v = serde_json::to_value(p).unwrap_or(Value::Null);
    if let Some(users) = v.get_mut("users").and_then(Value::as_array_mut) {
        for u in users {
            if let Some(o) = u.as_object_mut() {
                o.remove("password");
                if o.get("uid").is_none_or(Value::is_null) {
                    let name = o.get("username").cloned().unwrap_or(Value::Null);
                    o.insert("uid".into(), name);
                }
            }
        }
    }
    v
}

fn key_of(o: &Value, key: &str) -> String {
    match o.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ if key == "uid" => o
            .get("username")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    }
}

fn list(p: &Profile, section: &str) -> Value {
    let v = profile_json(p);
    let mut items = v.get(section).cloned().unwrap_or(json!([]));
    if section == "smppccs" {
        if let Some(a) = items.as_array_mut() {
            for c in a {
                let cid = key_of(c, "cid");
                c["start"] = Value::Bool(p.started.contains(&cid));
            }
        }
    }
    items
}

fn get_one(p: &Profile, section: &str, key: &str, id: &str) -> Answer {
    let items = list(p, section);
    items
        .as_array()
        .and_then(|a| a.iter().find(|o| key_of(o, key) == id))
        .cloned()
        .map(|o| (StatusCode::OK, o))
        .ok_or_else(|| ApiError::not_found(&format!("{section} {id}")))
}

/// Apply `edit` to the section's objects as JSON, rebuild the profile from it (serde's checks:
/// unknown fields, types) and install it (the configuration checks). Nothing changes on error.
async fn edit_section<T: Send + 'static>(
    c: &Call<'_>,
    section: &'static str,
    edit: impl FnOnce(&mut Vec<Value>, &mut std::collections::BTreeSet<String>) -> Result<T, ApiError>
        + Send,
) -> Result<T, ApiError> {
    c.need(Role::Admin)?;
    let mut failure: Option<ApiError> = None;
    let out = c
        .state
        .manager
        .apply(|p| {
            let mut v = serde_json::to_value(&*p).map_err(|e| e.to_string())?;
            let mut started = p.started.clone();
            let items = v
                .get_mut(section)
                .and_then(Value::as_array_mut)
                .ok_or_else(|| format!("no section {section}"))?;
            let out = match edit(items, &mut started) {
                Ok(o) => o,
                Err(e) => {
                    let msg = e.message.clone();
                    failure = Some(e);
                    return Err(msg);
                }
            };
            let mut next: Profile = serde_json::from_value(v).map_err(|e| e.to_string())?;
            next.started = started;
            *p = next;
            Ok(out)
        })
        .await;
    match (out, failure) {
        (Ok(o), _) => Ok(o),
        (Err(_), Some(f)) => Err(f),
        (Err(e), None) => Err(ApiError::bad(e)),
    }
}

/// The body as one object of `section`, its key checked. Users: `uid` and `password` are
/// the configuration's (a missing password keeps the current one on replace).
fn object(c: &Call<'_>) -> Result<serde_json::Map<String, Value>, ApiError> {
    match c.json()? {
        Value::Object(o) => Ok(o),
        _ => Err(ApiError::bad("body: expected a JSON object")),
    }
}

async fn add(c: &Call<'_>, section: &'static str, key: &'static str) -> Answer {
    c.need(Role::Admin)?;
    let mut o = object(c)?;
    let start = if section == "smppccs" {
        o.remove("start").and_then(|v| v.as_bool()).unwrap_or(false)
    } else {
        false
    };
    let obj = Value::Object(o);
    let id = key_of(&obj, key);
    if id.is_empty() {
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            message: format!("missing field `{key}`"),
            field: Some(key.to_string()),
        });
    }
    let id2 = id.clone();
    edit_section(c, section, move |items, started| {
        if items.iter().any(|o| key_of(o, key) == id2) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("{section} {id2} already exists"),
            ));
        }
        items.push(obj);
        if start {
            started.insert(id2.clone());
        }
        Ok(())
    })
    .await?;
    let p = c.state.manager.profile();
    get_one(&p, section, key, &id).map(|(_, v)| (StatusCode::CREATED, v))
}

async fn replace(c: &Call<'_>, section: &'static str, key: &'static str, id: &str) -> Answer {
    c.need(Role::Admin)?;
    let mut o = object(c)?;
    let start = if section == "smppccs" {
        o.remove("start").and_then(|v| v.as_bool())
    } else {
        None
    };
    let given = key_of(&Value::Object(o.clone()), key);
    if !given.is_empty() && given != id {
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            message: format!("`{key}` {given:?} in the body is not the {id:?} of the path"),
            field: Some(key.to_string()),
        });
    }
    let id = id.to_string();
    let id2 = id.clone();
    edit_section(c, section, move |items, started| {
        let Some(cur) = items.iter_mut().find(|o| key_of(o, key) == id2) else {
            return Err(ApiError::not_found(&format!("{section} {id2}")));
        };
        // The key (and a user's password, unless given) stay what they are.
        let mut next = o;
        if let Some(k) = cur.get(key) {
            if key != "uid" || next.contains_key("uid") || cur.get("uid").is_some() {
                next.entry(key.to_string()).or_insert(k.clone());
            }
        }
        if section == "users" {
            for keep in ["password", "username"] {
                if let Some(v) = cur.get(keep) {
                    next.entry(keep.to_string()).or_insert(v.clone());
                }
            }
        }
        *cur = Value::Object(next);
        match start {
            Some(true) => {
                started.insert(id2.clone());
            }
            Some(false) => {
                started.remove(&id2);
            }
            None => {}
        }
        Ok(())
    })
    .await?;
    get_one(&c.state.manager.profile(), section, key, &id)
}

async fn remove(c: &Call<'_>, section: &'static str, key: &'static str, id: &str) -> Answer {
    let id = id.to_string();
    let id2 = id.clone();
    edit_section(c, section, move |items, started| {
        let before = items.len();
        items.retain(|o| key_of(o, key) != id2);
        if items.len() == before {
            return Err(ApiError::not_found(&format!("{section} {id2}")));
        }
        if section == "smppccs" {
            started.remove(&id2);
        }
        Ok(())
    })
    .await?;
    ok(json!({ "removed": id }))
}

async fn start_stop(c: &Call<'_>, cid: &str, start: bool) -> Answer {
    c.need(Role::Operator)?;
    let cid = cid.to_string();
    let known = c
        .state
        .manager
        .profile()
        .smppccs
        .iter()
        .any(|x| x.cid == cid);
    if !known {
        return Err(ApiError::not_found(&format!("smppccs {cid}")));
    }
    let cid2 = cid.clone();
    c.state
        .manager
        .apply(move |p| {
            if start {
                p.started.insert(cid2);
            } else {
                p.started.remove(&cid2);
            }
            Ok(())
        })
        .await
        .map_err(ApiError::bad)?;
    ok(json!({ "cid": cid, "started": start }))
}

async fn top_up(c: &Call<'_>, uid: &str) -> Answer {
    c.need(Role::Admin)?;
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct TopUp {
        #[serde(default)]
        amount: f64,
        #[serde(default)]
        sms_count: i64,
    }
    let t: TopUp = serde_json::from_value(c.json()?).map_err(|e| ApiError::bad(e.to_string()))?;
    if !t.amount.is_finite() || t.amount < 0.0 || t.sms_count < 0 {
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            message: "a top-up adds: amount and sms_count must be 0 or more".into(),
            field: Some(
                if t.sms_count < 0 {
                    "sms_count"
                } else {
                    "amount"
                }
                .into(),
            ),
        });
    }
    let p = c.state.manager.profile();
    let Some(u) = p.user(uid) else {
        return Err(ApiError::not_found(&format!("users {uid}")));
    };
    let store = c.state.manager.store();
    store
        .balance_credit(&u.username, t.amount, t.sms_count)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    let b = store
        .balance_get(&u.username)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    tracing::info!(target: "smsgate::audit", source = "api", actor = %c.who.name, user = %u.username, amount = t.amount, sms_count = t.sms_count, "balance topped up");
    ok(json!({ "uid": uid, "balance": b.balance, "sms_count": b.sms_count }))
}

/// Which MT route a message would take, as the gateway would decide it now: the user's
/// credentials checked, the MT interceptors run (they may rewrite the message before it is
/// routed), then the routing table; nothing is billed, queued or sent (as `/rate`).
async fn route_test(c: &Call<'_>) -> Answer {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Probe {
        username: String,
        to: String,
        #[serde(default)]
        from: String,
        #[serde(default)]
        content: String,
    }
    let p: Probe = c.body_as()?;
    let rt = runtime(c)?;
    let Some(user) = rt.pipeline.auth.user(&p.username) else {
        return Err(ApiError::blaming(
            "username",
            format!("unknown user {:?}", p.username),
        ));
    };
    let req = test_request(&user.username, &p.to, Some(p.from), p.content, None);
    use smsgate_policy::pipeline::MtError;
    match rt.pipeline.prepare_with(user, &req, None).await {
        Ok(prepared) => {
            let m = &prepared.message;
            ok(json!({
                "route": if prepared.intercepted { Value::Null } else { json!({
                    "order": prepared.decision.order,
                    "connector": prepared.decision.connector.to_string(),
                    "rate": prepared.decision.rate,
                }) },
                "intercepted": prepared.intercepted,
                "destination": m.destination.addr,
                "source": m.source.addr,
                "parts": m.parts.len(),
            }))
        }
        Err(MtError::NoRoute) => ok(json!({ "route": null, "intercepted": false })),
        Err(MtError::Server(e)) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e)),
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            e.to_string(),
        )),
    }
}

/// The MT request of a route test or a test message as user `username`.
fn test_request(
    username: &str,
    to: &str,
    from: Option<String>,
    content: String,
    dlr_url: Option<String>,
) -> smsgate_policy::pipeline::MtRequest {
    smsgate_policy::pipeline::MtRequest {
        channel: smsgate_core::model::Channel::Http,
        username: username.to_string(),
        password: vec![],
        source_ip: std::net::IpAddr::from([127, 0, 0, 1]),
        to: to.trim().to_string(),
        from: from.filter(|f| !f.is_empty()),
        coding: None,
        priority: None,
        sdt: None,
        validity_minutes: None,
        dlr: dlr_url
            .filter(|u| !u.is_empty())
            .map(|url| smsgate_core::model::DlrRequest {
                url,
                level: 3,
                method: "POST".into(),
            }),
        tags: vec![],
        content: smsgate_policy::pipeline::Content::Utf8(content),
        unrepresentable: None,
    }
}

fn runtime(c: &Call<'_>) -> Result<Arc<smsgate_gateway::runtime::Runtime>, ApiError> {
    c.state
        .manager
        .runtime()
        .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the gateway is stopping"))
}

fn journal(c: &Call<'_>) -> Result<Arc<Journal>, ApiError> {
    runtime(c)?.journal.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the message journal is off ([journal] enabled = false)",
        )
    })
}

/// A time in a query: milliseconds since the epoch or RFC 3339.
fn query_time(c: &Call<'_>, key: &str) -> Result<Option<i64>, ApiError> {
    let Some(v) = c.query(key).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(Some(ms));
    }
    time::OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339)
        .map(|t| Some((t.unix_timestamp_nanos() / 1_000_000) as i64))
        .map_err(|_| {
            ApiError::blaming(
                key,
                format!(
                    "{key}: {v:?} is neither milliseconds since the epoch nor an RFC 3339 time"
                ),
            )
        })
}

/// `GET /messages?id=&user=&destination=&direction=&from=&to=&limit=`: messages in the
/// journal, newest first.
async fn search(c: &Call<'_>) -> Answer {
    let j = journal(c)?;
    let limit = match c.query("limit").filter(|v| !v.is_empty()) {
        None => None,
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| ApiError::blaming("limit", format!("limit: {n:?} is not a count")))?,
        ),
    };
    let direction = c.query("direction").filter(|d| !d.is_empty());
    if let Some(d) = direction.as_deref().filter(|d| !matches!(*d, "mt" | "mo")) {
        return Err(ApiError::blaming(
            "direction",
            format!("direction: {d:?} is not mt or mo"),
        ));
    }
    let q = Query {
        id: c.query("id").filter(|v| !v.is_empty()),
        user: c.query("user").filter(|v| !v.is_empty()),
        destination: c.query("destination").filter(|v| !v.is_empty()),
        direction,
        from: query_time(c, "from")?,
        to: query_time(c, "to")?,
        limit,
    };
    let found = tokio::task::spawn_blocking(move || j.search(&q))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    ok(json!({ "messages": found }))
}

/// `GET /messages/{id}`: the message and every phase of it, in time order.
async fn timeline(c: &Call<'_>, id: &str) -> Answer {
    let j = journal(c)?;
    let id2 = id.to_string();
    let t = tokio::task::spawn_blocking(move || j.timeline(&id2))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    match t {
        Some(t) => ok(serde_json::to_value(t).unwrap_or(Value::Null)),
        None => Err(ApiError::not_found(&format!("message {id}"))),
    }
}

/// `POST /messages`: send a test message as a user, through the whole MT path (checks,
/// interception, routing, billing: it is a real message), asking the SMSC for a receipt.
async fn send_test(c: &Call<'_>) -> Answer {
    c.need(Role::Operator)?;
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Test {
        username: String,
        to: String,
        #[serde(default)]
        from: Option<String>,
        content: String,
        /// A URL to receive the receipt (Jasmin's `dlr-url`), level 3.
        #[serde(default)]
        dlr_url: Option<String>,
    }
    let t: Test = c.body_as()?;
    let field = ApiError::blaming;
    if t.to.trim().is_empty() {
        return Err(field("to", "to: a destination is needed".into()));
    }
    let rt = runtime(c)?;
    let Some(user) = rt.pipeline.auth.user(&t.username) else {
        return Err(field("username", format!("unknown user {:?}", t.username)));
    };
    let req = test_request(&user.username, &t.to, t.from, t.content, t.dlr_url);
    use smsgate_policy::pipeline::MtError;
    let refused = |e: MtError| {
        let status = match &e {
            MtError::Server(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, e.to_string())
    };
    let mut p = rt.pipeline.prepare_as(user, &req).await.map_err(refused)?;
    // A receipt is asked of the SMSC whatever the user's defaults: it is what the timeline
    // of a test message is for.
    p.message.registered_delivery |= 1;
    let connector = p.message.connector.clone();
    let id = rt.pipeline.commit(p).await.map_err(refused)?;
    tracing::info!(target: "smsgate::audit", source = "api", actor = %c.who.name, %id, user = %t.username, %connector, "test message sent");
    Ok((
        StatusCode::CREATED,
        json!({ "id": id.to_string(), "connector": connector }),
    ))
}

/// `GET /plugins`: the loaded plugins, their world, state and counters.
fn plugins(c: &Call<'_>) -> Answer {
    use std::sync::atomic::Ordering::Relaxed;
    let rt = runtime(c)?;
    let Some(host) = rt.plugins.clone().filter(|h| h.enabled()) else {
        return ok(json!({ "enabled": false, "plugins": [] }));
    };
    let list: Vec<Value> = host
        .loaded()
        .into_iter()
        .map(|(name, world)| {
            let slot = host.slot(&name);
            let k = slot.counters().clone();
            let plugin = slot.get();
            json!({
                "name": name,
                "world": world.name(),
                "sha256": plugin.as_ref().map(|p| p.hash.clone()),
                "stale": slot.stale(),
                "calls": k.calls.load(Relaxed),
                "traps": k.traps.load(Relaxed),
                "timeouts": k.timeouts.load(Relaxed),
                "memory_errors": k.memory.load(Relaxed),
                "denied": k.denied.load(Relaxed),
                "instantiations": k.instantiations.load(Relaxed),
            })
        })
        .collect();
    ok(json!({ "enabled": true, "plugins": list }))
}

/// `POST /plugins/{name}/reload`: load the plugin's file again now.
async fn plugin_reload(c: &Call<'_>, name: &str) -> Answer {
    c.need(Role::Admin)?;
    let rt = runtime(c)?;
    let Some(host) = rt.plugins.clone().filter(|h| h.enabled()) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "plugins are disabled ([plugins] enabled = false)",
        ));
    };
    let plain = !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\']);
    let wasm = host
        .dir()
        .filter(|_| plain)
        .map(|d| d.join(format!("{name}.wasm")))
        .filter(|p| p.is_file())
        .ok_or_else(|| ApiError::not_found(&format!("plugin {name}")))?;
    let h = host.clone();
    let loaded = tokio::task::spawn_blocking(move || h.load_file(&wasm))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    match loaded {
        Ok(world) => {
            tracing::info!(target: "smsgate::audit", source = "api", actor = %c.who.name, plugin = %name, "plugin reloaded");
            ok(json!({ "name": name, "world": world.name() }))
        }
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            e.to_string(),
        )),
    }
}

fn ops(c: &Call<'_>) -> Result<QueueOps, ApiError> {
    c.state
        .manager
        .runtime()
        .map(|rt| QueueOps::of(&rt))
        .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the gateway is stopping"))
}

fn known_connector(c: &Call<'_>, cid: &str) -> Result<(), ApiError> {
    if c.state
        .manager
        .profile()
        .smppccs
        .iter()
        .any(|x| x.cid == cid)
    {
        Ok(())
    } else {
        Err(ApiError::not_found(&format!("smppccs {cid}")))
    }
}

fn backlog_json(cid: &str, s: &smsgate_queue::broker::QueueStats) -> Value {
    json!({ "cid": cid, "ready": s.ready, "delayed": s.delayed, "unacked": s.unacked })
}

async fn queues(c: &Call<'_>) -> Answer {
    let ops = ops(c)?;
    let mut out = vec![];
    for cc in &c.state.manager.profile().smppccs {
        let s = ops
            .backlog(&cc.cid)
            .await
            .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
        out.push(backlog_json(&cc.cid, &s));
    }
    ok(Value::Array(out))
}

async fn queue(c: &Call<'_>, cid: &str) -> Answer {
    known_connector(c, cid)?;
    let ops = ops(c)?;
    let unavailable = |e: smsgate_queue::broker::BrokerError| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    };
    let s = ops.backlog(cid).await.map_err(unavailable)?;
    let mut v = backlog_json(cid, &s);
    if let Some(n) = c.query("peek") {
        let n: usize = n.parse().map_err(|_| ApiError {
            status: StatusCode::BAD_REQUEST,
            message: format!("peek: {n:?} is not a count"),
            field: Some("peek".into()),
        })?;
        let masked = smsgate_core::privacy::masked(cid);
        let msgs: Vec<Value> = ops
            .peek(cid, n)
            .await
            .map_err(unavailable)?
            .iter()
            .map(|m| {
                json!({
                    "id": m.id.to_string(),
                    "user": m.user,
                    "from": smsgate_core::privacy::Number(&m.source.addr, masked).to_string(),
                    "to": smsgate_core::privacy::Number(&m.destination.addr, masked).to_string(),
                    "parts": m.parts.len(),
                    "tries": m.tries,
                    "created_at": m.created_at,
                })
            })
            .collect();
        v["messages"] = Value::Array(msgs);
    }
    ok(v)
}

async fn queue_move(c: &Call<'_>, cid: &str) -> Answer {
    c.need(Role::Operator)?;
    known_connector(c, cid)?;
    let to = c
        .json()?
        .get("to")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ApiError {
            status: StatusCode::BAD_REQUEST,
            message: "missing field `to`".into(),
            field: Some("to".into()),
        })?;
    if to == cid {
        return Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            message: "`to` is the queue's own connector".into(),
            field: Some("to".into()),
        });
    }
    known_connector(c, &to).map_err(|mut e| {
        e.status = StatusCode::BAD_REQUEST;
        e.field = Some("to".into());
        e
    })?;
    let n = ops(c)?
        .move_all(cid, &to)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    tracing::info!(target: "smsgate::audit", source = "api", actor = %c.who.name, from = %cid, %to, messages = n, "queue moved");
    ok(json!({ "moved": n, "from": cid, "to": to }))
}

async fn queue_purge(c: &Call<'_>, cid: &str) -> Answer {
    c.need(Role::Operator)?;
    known_connector(c, cid)?;
    let n = ops(c)?
        .purge(cid)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    tracing::info!(target: "smsgate::audit", source = "api", actor = %c.who.name, connector = %cid, messages = n, "queue purged");
    ok(json!({ "purged": n, "cid": cid }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_names_every_section_and_operation() {
        let doc: Value = serde_json::from_str(OPENAPI).expect("JSON");
        let paths = doc["paths"].as_object().expect("paths");
        for (section, key) in SECTIONS {
            assert!(
                paths.contains_key(&format!("/api/v1/{section}")),
                "{section}"
            );
            assert!(
                paths.contains_key(&format!("/api/v1/{section}/{{{key}}}")),
                "{section}/{key}"
            );
        }
        for p in [
            "login",
            "logout",
            "whoami",
            "status",
            "audit",
            "queues",
            "queues/{cid}",
            "queues/{cid}/move",
            "queues/{cid}/purge",
            "route-test",
            "profiles/{name}/persist",
            "profiles/{name}/load",
            "users/{uid}/balance",
            "smppccs/{cid}/start",
            "smppccs/{cid}/stop",
            "messages",
            "messages/{id}",
            "plugins",
            "plugins/{name}/reload",
        ] {
            assert!(paths.contains_key(&format!("/api/v1/{p}")), "{p}");
        }
    }

    #[test]
    fn prometheus_text_as_json() {
        let v = prometheus_json(
            "# TYPE a counter\na 3\nsmppc_bound{cid=\"s1\"} 1\nsmppc_bound{cid=\"s2\"} 0\n",
        );
        assert_eq!(v["a"], json!([{"labels": {}, "value": 3.0}]));
        assert_eq!(
            v["smppc_bound"][1],
            json!({"labels": {"cid": "s2"}, "value": 0.0})
        );
    }

    #[test]
    fn hosts_that_cannot_be_rebound() {
        let extra = vec!["gw.example".to_string()];
        for ok in [
            "127.0.0.1:8991",
            "localhost:8991",
            "LOCALHOST",
            "[::1]:8991",
            "10.0.0.5",
            "gw.example:443",
        ] {
            assert!(host_allowed(ok, &extra), "{ok}");
        }
        for bad in [
            "evil.example:8991",
            "",
            "127.0.0.1.evil.example",
            "localhost.evil",
        ] {
            assert!(!host_allowed(bad, &extra), "{bad}");
        }
    }

    #[test]
    fn the_blamed_field_is_the_last_path_element() {
        assert_eq!(
            blamed_field("unknown field `colour`, expected one of ..."),
            Some("colour".into())
        );
        assert_eq!(
            blamed_field("key `smppccs[0].port`: must be 1 to 65535"),
            Some("port".into())
        );
        assert_eq!(blamed_field("nothing to blame"), None);
    }
}
