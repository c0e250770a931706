//! What the runtime imports (`wit/python/runtime.wit`, interface `host`), on behalf of the
//! script being run: its log lines, its log files and (interceptors only) HTTP to the hosts
//! granted to it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

use crate::bindings::python::{asynk, sync};
use crate::state::State;

use asynk::smsgate::python::host as ahost;
use sync::smsgate::python::host as shost;

fn log(s: &State, level: u8, message: &str) {
    let script = &s.info.name;
    let message = message.trim_end();
    match level {
        0 => tracing::debug!(target: "python", %script, "{message}"),
        1 => tracing::info!(target: "python", %script, "{message}"),
        2 => tracing::warn!(target: "python", %script, "{message}"),
        _ => tracing::error!(target: "python", %script, "{message}"),
    }
}

fn append(s: &State, path: &str, data: &[u8]) -> Result<(), String> {
    let Some(files) = s.python_files.as_ref() else {
        return Err(format!("[Errno 13] Permission denied: '{path}'"));
    };
    let r = files.append(path, data);
    // The lines also reach the gateway's log.
    let text = String::from_utf8_lossy(data);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        tracing::info!(target: "python", script = %s.info.name, file = %path, "{line}");
    }
    r
}

impl shost::Host for State {
    fn log(&mut self, level: shost::Level, message: String) {
        log(self, level as u8, &message)
    }

    fn append_file(&mut self, path: String, data: Vec<u8>) -> Result<(), String> {
        append(self, &path, &data)
    }

    fn http(&mut self, req: shost::HttpRequest) -> Result<shost::HttpResponse, String> {
        self.info.counters.denied.fetch_add(1, Ordering::Relaxed);
        Err(format!(
            "denied: {} {}: EvalPyFilter scripts run on the routing path and may not call out (interceptor scripts may, to granted hosts)",
            req.method, req.url
        ))
    }
}

impl ahost::Host for State {
    fn log(&mut self, level: ahost::Level, message: String) {
        log(self, level as u8, &message)
    }

    fn append_file(&mut self, path: String, data: Vec<u8>) -> Result<(), String> {
        append(self, &path, &data)
    }

    async fn http(&mut self, req: ahost::HttpRequest) -> Result<ahost::HttpResponse, String> {
        let info = self.info.clone();
        let uri: hyper::Uri = req
            .url
            .parse()
            .map_err(|e| format!("connection: invalid URL {:?}: {e}", req.url))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("connection: unsupported URL {:?}", req.url)),
        };
        let Some(auth) = uri.authority().cloned() else {
            return Err(format!("connection: no host in URL {:?}", req.url));
        };
        let authority = match auth.port() {
            Some(_) => auth.to_string(),
            None => format!("{}:{}", auth.host(), if https { 443 } else { 80 }),
        };
        if !info.manifest.allows(&authority) {
            info.counters.denied.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(target: "python", script = %info.name, %authority, "script HTTP request refused: host not granted (allow_hosts)");
            return Err(format!(
                "denied: {authority} is not granted to script {} ([plugins.python.scripts] allow_hosts)",
                info.name
            ));
        }
        let mut b = hyper::Request::builder()
            .method(req.method.to_ascii_uppercase().as_str())
            .uri(uri);
        let mut has_host = false;
        for (k, v) in &req.headers {
            has_host |= k.eq_ignore_ascii_case("host");
            b = b.header(k.as_str(), v.as_str());
        }
        if !has_host {
            b = b.header("host", auth.as_str());
        }
        let body = Full::new(Bytes::from(req.body)).map_err(|e| match e {});
        let request = b
            .body(body)
            .map_err(|e| format!("connection: bad request: {e}"))?;
        let timeout = Duration::from_millis(req.timeout_ms.unwrap_or(info.io_timeout_ms).max(1));
        let options = wasmtime_wasi_http::RequestOptions {
            connect_timeout: Some(timeout),
            first_byte_timeout: Some(timeout),
            between_bytes_timeout: Some(timeout),
        };
        let call = async move {
            let (res, io) = wasmtime_wasi_http::default_send_request(request, Some(options))
                .await
                .map_err(|e| format!("{e:?}"))?;
            tokio::spawn(io);
            let (parts, body) = res.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| format!("{e:?}"))?
                .to_bytes();
            Ok::<_, String>((parts, body))
        };
        let (parts, body) = match tokio::time::timeout(timeout, call).await {
            Err(_) => {
                return Err(format!(
                    "timeout: no answer from {authority} within {timeout:?}"
                ))
            }
            Ok(Err(e)) if e.contains("Timeout") => {
                return Err(format!("timeout: {authority}: {e}"))
            }
            Ok(Err(e)) => return Err(format!("connection: {authority}: {e}")),
            Ok(Ok(r)) => r,
        };
        Ok(ahost::HttpResponse {
            status: parts.status.as_u16(),
            reason: parts
                .status
                .canonical_reason()
                .unwrap_or_default()
                .to_string(),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                .collect(),
            body: body.to_vec(),
        })
    }
}
