//! Arbitrary JSON bodies through the real REST APIs over a socket to an in-process gateway (see
//! `support`): Jasmin's `/secure/send` and `/secure/sendbatch`, smstools-http-api's
//! `/api/v1.0/sms/outgoing` and retarus' `/rest/v1/jobs`, authenticated as foo:bar. The input's
//! first byte picks the endpoint; the rest is the body, sent as it is.
//!
//! Every request must get a complete HTTP answer that is not a 5xx, and the gateway must keep
//! serving.
#![no_main]

mod support;

use libfuzzer_sys::fuzz_target;
use std::sync::atomic::{AtomicU64, Ordering};

fuzz_target!(|data: &[u8]| {
    let f = support::gateway();
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let path = match pick % 4 {
        0 => "/secure/send",
        1 => "/secure/sendbatch",
        2 => "/api/v1.0/sms/outgoing",
        _ => "/rest/v1/jobs",
    };
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\nAuthorization: Basic Zm9vOmJhcg==\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    let answer = support::exchange(f.rest, &req, support::http_complete);
    let text = String::from_utf8_lossy(&answer);
    let status: u16 = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    assert!(
        (200..500).contains(&status),
        "POST {path}: answered {status}: {text:?}"
    );
    static N: AtomicU64 = AtomicU64::new(0);
    if N.fetch_add(1, Ordering::Relaxed) % 256 == 0 {
        support::still_serving(f.http);
    }
});
