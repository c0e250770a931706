//! smstools-http-api on the REST listener:
//! `POST /api/v1.0/sms/outgoing` (`mobiles`, `text`) → 201 with a `message_id` per number,
//! `parts_count` and `sent_text`; `GET /api/v1.0/sms/sent/<message_id>` → `From`, `To`,
//! `Sent`, `message_id` once the SMSC accepted the message, else 404 `{"error": "Not found"}`
//! (smstools answers from its `sent` spool directory, which a message reaches once sent).
//! Basic auth with the gateway's users; `[rest-api] mobile_perms` is `MOBILE_PERMS`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::header::HeaderValue;
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Map, Value};

use super::api::Resp;
use super::rest::{basic_auth, json_raw, read_body, BodyError, RestState};
use smsgate_core::config::ContentEncoding;
use smsgate_core::model::message::now_ms;
use smsgate_core::model::Channel;
use smsgate_policy::admission::{Door, OverRate};
use smsgate_policy::pipeline::{Content, MtError, MtRequest};
use smsgate_queue::history::SmsRecord;

fn err(status: StatusCode, text: &str) -> Resp {
    json_raw(status, json!({ "error": text }).to_string())
}

fn pretty(status: StatusCode, v: &Value) -> Resp {
    json_raw(
        status,
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string()),
    )
}

/// Format ms since the epoch as smstools' `YY-MM-DD hh:mm:ss` at `offset`.
pub fn sent_time(ms: i64, offset: time::UtcOffset) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    let fmt = time::macros::format_description!(
        "[year repr:last_two]-[month]-[day] [hour]:[minute]:[second]"
    );
    t.format(fmt).unwrap_or_default()
}

/// Does `perms` (a user's `MOBILE_PERMS`) allow `mobile`?
pub fn allowed(perms: &[String], mobile: &str) -> bool {
    let m = mobile.strip_prefix('+').unwrap_or(mobile);
    perms.iter().any(|p| {
        let p = p.strip_prefix('+').unwrap_or(p);
        match p.strip_suffix('*') {
            Some(prefix) => m.starts_with(prefix),
            None => m == p,
        }
    })
}

fn is_mobile(s: &str) -> bool {
    let d = s.strip_prefix('+').unwrap_or(s);
    (1..=20).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit())
}

/// Route an smstools request.
pub async fn handle(state: &RestState, req: Request<hyper::body::Incoming>, ip: IpAddr) -> Resp {
    let path = req.uri().path().to_string();
    let outgoing = path == "/api/v1.0/sms/outgoing";
    let sent = path.strip_prefix("/api/v1.0/sms/sent/").map(str::to_string);
    if !outgoing && sent.as_deref().is_none_or(str::is_empty) {
        return err(StatusCode::NOT_FOUND, "Not found");
    }
    let want = if outgoing { Method::POST } else { Method::GET };
    if req.method() != want {
        let mut r = err(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
        r.headers_mut().insert(
            "allow",
            HeaderValue::from_static(if outgoing { "POST" } else { "GET" }),
        );
        return r;
    }
    let unauthorized = || {
        let mut r = err(StatusCode::UNAUTHORIZED, "Unauthorized access");
        r.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Basic realm=\"Authentication Required\""),
        );
        r
    };
    let Some((username, password)) = basic_auth(req.headers()) else {
        return unauthorized();
    };
    let user = match state.pipeline.authenticate(&username, &password, ip).await {
        Ok(u) => u,
        Err(_) => return unauthorized(),
    };
    match sent {
        Some(id) if !outgoing => get_sent(state, &user.username, &id).await,
        _ => post_outgoing(state, req, ip, user).await,
    }
}

async fn post_outgoing(
    state: &RestState,
    req: Request<hyper::body::Incoming>,
    ip: IpAddr,
    user: Arc<smsgate_core::model::User>,
) -> Resp {
    let body = match read_body(
        req,
        state.cfg.max_body_bytes,
        Duration::from_millis(state.cfg.body_read_timeout_ms),
    )
    .await
    {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return err(StatusCode::PAYLOAD_TOO_LARGE, "Too large"),
        Err(BodyError::Timeout) => return err(StatusCode::REQUEST_TIMEOUT, "Request timeout"),
    };
    let bad = || err(StatusCode::BAD_REQUEST, "Bad request");
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(&body) else {
        return bad();
    };
    if doc.keys().any(|k| k != "mobiles" && k != "text") {
        return bad();
    }
    let Some(Value::String(text)) = doc.get("text") else {
        return bad();
    };
    let Some(Value::Array(list)) = doc.get("mobiles") else {
        return bad();
    };
    let mut mobiles = Vec::with_capacity(list.len());
    for m in list {
        match m {
            Value::String(s) if is_mobile(s) => mobiles.push(s.clone()),
            _ => return bad(),
        }
    }
    if text.is_empty()
        || mobiles.is_empty()
        || mobiles.len() > state.cfg.max_batch_recipients.min(10_000)
    {
        return bad();
    }
    if let Some(perms) = state.cfg.mobile_perms.get(&user.username) {
        if mobiles.iter().any(|m| !allowed(perms, m)) {
            return err(StatusCode::FORBIDDEN, "Forbidden");
        }
    }
    // smstools' text is Unicode: read it as UTF-8 whatever the user's content encoding.
    let mut u = (*user).clone();
    u.content_encoding = ContentEncoding::Utf8;
    let u = Arc::new(u);
    // Prepare every number first: a refusal (route, credentials, content) accepts nothing.
    let mut prepared = Vec::with_capacity(mobiles.len());
    for m in &mobiles {
        let req = MtRequest {
            channel: Channel::Rest,
            username: user.username.clone(),
            password: vec![],
            source_ip: ip,
            to: m.clone(),
            from: None,
            coding: None,
            priority: None,
            sdt: None,
            validity_minutes: None,
            dlr: None,
            tags: vec![],
            content: Content::Text(text.as_bytes().to_vec()),
            unrepresentable: None,
        };
        match state.pipeline.prepare_as(u.clone(), &req).await {
            Ok(p) => prepared.push((m.clone(), p)),
            Err(e) => return refusal(state, &e),
        }
    }
    let parts = prepared
        .first()
        .map(|(_, p)| p.message.parts.len())
        .unwrap_or(1);
    let mut ids = Map::new();
    let mut rows = vec![];
    let now = now_ms();
    let mut failure = None;
    for (m, p) in prepared {
        if !state
            .pipeline
            .admission
            .admit(&p.user, Door::Http, OverRate::Refuse)
            .await
        {
            failure = Some(MtError::Throughput);
            break;
        }
        match state.pipeline.commit(p).await {
            Ok(id) => {
                ids.insert(m.clone(), Value::String(id.to_string()));
                rows.push(SmsRecord {
                    id: id.to_string(),
                    job_id: None,
                    idx: 0,
                    user: user.username.clone(),
                    dst: m,
                    created_at: now,
                    sent_at: None,
                    finished_at: None,
                    status: String::new(),
                    reason: String::new(),
                    done: false,
                    extra: json!({"api": "smstools"}),
                });
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if let Err(e) = state.history.put_sms(rows).await {
        tracing::error!(error = %e, "smstools: cannot write history");
    }
    if let Some(e) = failure {
        // Numbers before the refusal were accepted: say which.
        let (status, text) = super::api::mt_error(&state.api, &e);
        let status = if status.is_server_error() {
            status
        } else {
            StatusCode::BAD_REQUEST
        };
        return pretty(status, &json!({"error": text, "message_id": ids}));
    }
    pretty(
        StatusCode::CREATED,
        &json!({"message_id": ids, "parts_count": parts, "sent_text": text}),
    )
}

fn refusal(state: &RestState, e: &MtError) -> Resp {
    let (status, text) = super::api::mt_error(&state.api, e);
    let status = if status.is_server_error() {
        status
    } else {
        StatusCode::BAD_REQUEST
    };
    err(status, &text)
}

async fn get_sent(state: &RestState, username: &str, id: &str) -> Resp {
    let not_found = || pretty(StatusCode::NOT_FOUND, &json!({"error": "Not found"}));
    let mut row = match state.history.get_sms(id).await {
        Ok(Some(r)) if r.user == username && r.job_id.is_none() => r,
        Ok(_) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "smstools: history unavailable");
            return err(StatusCode::INTERNAL_SERVER_ERROR, "Internal error");
        }
    };
    if row.sent_at.is_none() {
        // Sent once the SMSC accepted it (the message record), kept in the history from then.
        match state.store.record_get(id).await {
            Ok(Some(rec)) if rec.status == "ESME_ROK" || rec.smsc_id.is_some() => {
                row.sent_at = Some(rec.updated_at);
                row.status = rec.status;
                if let Err(e) = state.history.put_sms(vec![row.clone()]).await {
                    tracing::warn!(error = %e, "smstools: cannot update history");
                }
            }
            _ => return not_found(),
        }
    }
    let sent = row.sent_at.unwrap_or(row.created_at);
    pretty(
        StatusCode::OK,
        &json!({
            "From": row.user,
            "Sent": sent_time(sent, state.offset),
            "To": row.dst,
            "message_id": row.id,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perms_exact_and_prefix() {
        let p = vec!["79160000000".to_string(), "7968*".to_string()];
        assert!(allowed(&p, "79160000000"));
        assert!(allowed(&p, "+79680000001"));
        assert!(!allowed(&p, "79160000001"));
        assert!(!allowed(&p, "33600000000"));
    }

    #[test]
    fn sent_time_format() {
        // 2014-10-13 11:37:09 UTC
        assert_eq!(
            sent_time(1_413_200_229_000, time::UtcOffset::UTC),
            "14-10-13 11:37:09"
        );
    }
}
